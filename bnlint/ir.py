"""The intermediate representation: the facts every frontend produces and every rule matches.

Frontends (scripts, notebooks, saved models) lower their input into one `Unit`.
Rules never see syntax trees or HDF5 groups, only these facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bnlint.vocabulary import InputKind, RuntimeTarget

# The value of the `training` argument at a call site, as far as static analysis can tell.
Training = Literal["absent", "false", "true", "dynamic"]
# How a callee enters a graph:
#   call              `base(x)` / a functional node
#   sequential        an element of `Sequential([...])` (no call site can pass training)
#   add               `model.add(base)`
#   time_distributed  `TimeDistributed(base)` inside a Sequential
#   output            `Model(base.input, f(base.output))`: base's own graph is reused in place
Composition = Literal["call", "sequential", "add", "time_distributed", "output"]


@dataclass(frozen=True)
class Location:
    """Where a fact comes from. Scripts: 1-based line/column; notebooks add the cell;
    saved models use `layer_path` instead of lines."""

    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    cell: int | None = None
    layer_path: str | None = None
    path: str | None = None  # another file of the project (a helper defined there); None: this file


@dataclass
class Model:
    """A layer or model object the code builds, or a layer of a saved model."""

    key: str  # unique within the unit; facts refer to models by key
    name: str  # what the user calls it: a variable, `self.backbone`, or the layer name
    cls: str  # constructor or class name: "ResNet50", "Functional", "BatchNormalization"
    kind: Literal["model", "layer"] = "model"
    contains_bn: bool | None = False  # None: unknown (an opaque subclass, a custom layer)
    frozen: bool = False  # trainable=False anywhere (before or after its call: same graph)
    frozen_at: Location | None = None
    partially_frozen: bool = False  # some of its layers frozen, others trainable
    trainable_bn: bool = False  # saved models: a BN layer inside is trainable
    bn_kept_frozen: bool = False  # its BN layers are explicitly kept frozen (keras3's remedy)
    opaque: bool = False  # a subclassed model whose structure cannot be read
    hub: bool = False  # a `hub.KerasLayer`: a tf_keras layer without `.layers`, frozen by default
    architecture: str | None = None  # canonical constructor, e.g. "keras.applications.ResNet50"
    arguments: dict = field(default_factory=dict)  # statically known literal constructor kwargs
    location: Location = field(default_factory=Location)


@dataclass
class Call:
    """A callee entering a graph: a call, a Sequential element, `model.add`, ..."""

    callee: str  # Model.key
    training: Training
    composition: Composition
    location: Location
    enclosing_training_false: bool = False  # an enclosing call passes training=False
    container: str | None = None  # Model.key of the Sequential/Model it is composed into
    order: int = 0  # position in (abstract) execution order
    # Where it happens: in a graph (symbolic inputs, a Sequential, a layer's `call()`) or on
    # concrete data; inside a custom training step; inside a subclassed model's `call()`.
    in_graph: bool = False
    in_step: bool = False
    in_call_method: bool = False


@dataclass
class TrainableChange:
    """An assignment to `trainable` (on a model, all its layers, some of them, or its BN layers)."""

    target: str  # Model.key
    value: bool | None  # None: not a constant
    scope: Literal["model", "layers", "some_layers", "batchnorm"]
    location: Location
    keeps_bn_frozen: bool = False  # the same statement/loop keeps BatchNormalization frozen
    skips_bn: bool = False  # a freeze of every layer but BatchNormalization (they keep their flag)
    order: int = 0
    # scope some_layers: the slice of `.layers` it sets, when its bounds are constants (`[:-2]`
    # is (None, -2)); an unfreeze of a slice that no frozen slice overlaps unfreezes nothing.
    span: tuple[int | None, int | None] | None = None


@dataclass
class Compile:
    model: str | None  # Model.key, or None when the receiver is unknown
    location: Location
    order: int = 0


@dataclass
class TrainingEvent:
    """Something that trains models: `fit`/`fit_generator`/`train_on_batch` (kind "fit", which
    needs a compiled model), a custom training step that applies gradients ("step"), or an
    Estimator's `train()` ("estimator")."""

    kind: Literal["fit", "step", "estimator"]
    models: tuple[str, ...]  # Model keys it trains directly (their parts too); () when unknown
    location: Location
    order: int = 0
    api: str = ""  # what the code calls: "fit", "train_on_batch", "apply_gradients", ...


@dataclass(frozen=True)
class Runtime:
    """The runtime whose semantics the rules assume, and where that was decided."""

    target: RuntimeTarget
    source: str  # e.g. "metadata.json keras_version 3.15.1", "import tf_keras (line 3)"


@dataclass
class Unit:
    """Everything one input file (or SavedModel directory) says, lowered to facts."""

    path: str
    kind: InputKind
    runtime: Runtime
    # What the file records it ran on, apart from its code: a notebook's stored outputs (progress
    # bars, printed versions, library paths). Weaker than the code and the project's pins.
    recorded: Runtime | None = None
    models: dict[str, Model] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    trainable_changes: list[TrainableChange] = field(default_factory=list)
    compiles: list[Compile] = field(default_factory=list)
    trainings: list[TrainingEvent] = field(default_factory=list)  # in program order
    # Source lines by cell (None for a plain script): suppression comments and stable
    # fingerprints are read from here. Empty for saved models.
    sources: dict[int | None, list[str]] = field(default_factory=dict)
    # Non-fatal notes (e.g. a notebook cell that does not parse), reported as input errors.
    problems: list[str] = field(default_factory=list)
    # The project's own modules the code imports and that were read for it, by the path findings
    # name them with: their lines (suppressions, fingerprints) and resolved files (fixes, cache).
    extra_sources: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    # Resolved project modules read only to decide whether the unit is worth interpreting: a
    # cached result depends on them too.
    consulted: set[str] = field(default_factory=set)
