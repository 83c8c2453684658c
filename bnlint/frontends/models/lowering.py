"""Lower a Keras model config (Keras 3 and Keras 2 dialects) into IR facts.

The same config shape comes out of `.keras` archives, `.h5` files, SavedModel metadata and
the inline examples of rule files: `{"class_name": ..., "config": {"layers": [...]}}`, with
nested models as layers (walked by `config_tree`, which also reads both dialects of call nodes).

Facts are recorded for nested models, opaque layers and BN layers called with an explicit
`training`; every other layer, plain BN layers included, is only counted into its model
(frozen, partially frozen, contains BN, BN kept frozen).

A model is frozen by its own `trainable: false`, a frozen model around it, or when every layer
in it is frozen. The last is not claimed for a model whose BatchNormalization all sits inside
frozen models of its own: the finding then belongs to the innermost frozen base, where the
freezing happened (`encoder/backbone`, not an `encoder` whose own flag says trainable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bnlint.frontends import FrontendError
from bnlint.frontends.models import config_tree
from bnlint.frontends.models.config_tree import Layer
from bnlint.ir import Call, Composition, Location, Model, Runtime, Training, Unit
from bnlint.knowledge import layer_classes

_TRAINING_VALUES: dict[object, Training] = {config_tree.ABSENT: "absent", None: "absent", False: "false", True: "true"}


def lower_config(config: dict, path: str, runtime: Runtime) -> Unit:
    """The facts of one saved model: its nested models, BN layers, and how each is called."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("not a Keras model config (no class_name)")
    unit = Unit(path=path, kind="model", runtime=runtime)
    _Lowering(unit).run(config)
    return unit


@dataclass
class _Tally:
    """Layers counted for the model that holds them: all, frozen ones, BN ones, opaque ones."""

    layers: int = 0
    frozen: int = 0
    bn: int = 0
    bn_frozen: int = 0
    bn_kept_frozen: int = 0  # frozen by their own flag, not by a frozen model around them
    opaque: int = 0
    bn_outside_frozen_models: int = 0  # BN not inside a nested model that is itself frozen

    def add(self, other: _Tally, frozen_model: bool) -> None:
        self.layers += other.layers
        self.frozen += other.frozen
        self.bn += other.bn
        self.bn_frozen += other.bn_frozen
        self.bn_kept_frozen += other.bn_kept_frozen
        self.opaque += other.opaque
        self.bn_outside_frozen_models += 0 if frozen_model else other.bn_outside_frozen_models

    def count(self, frozen: bool, bn: bool = False, kept_frozen: bool = False, opaque: bool = False) -> None:
        self.layers += 1
        self.frozen += frozen
        self.bn += bn
        self.bn_outside_frozen_models += bn
        self.bn_frozen += bn and frozen
        self.bn_kept_frozen += bn and kept_frozen
        self.opaque += opaque

    def contains_bn(self) -> bool | None:
        return True if self.bn else (None if self.opaque else False)


@dataclass
class _Scope:
    """What the layers of one model inherit from it, and what they add up to."""

    model: Model
    frozen: bool  # by its own flag or a frozen model around it
    protected: bool  # every call of it passes training=False (there or above): keras2 propagation
    sequential: bool
    owner: _Scope | None
    direct: _Tally = field(default_factory=_Tally)  # its own layers
    total: _Tally = field(default_factory=_Tally)  # everything inside it


def _training(value: object) -> Training:
    if isinstance(value, bool) or value is None or value is config_tree.ABSENT:
        return _TRAINING_VALUES[value]
    return "dynamic"  # a tensor or anything else decided at run time


class _Lowering:
    """Two passes over the walk: top-down, what each layer inherits (frozen, protected) and its
    calls; then bottom-up, each model's tallies and the facts they decide."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.order = 0
        self.classes = layer_classes()
        self.scopes: dict[str, _Scope] = {}  # by the path of each model
        self.frozen: dict[str, bool] = {}  # by path of a model or wrapper: frozen by its flag or from above

    def run(self, config: dict) -> None:
        scopes: list[_Scope] = []
        for layer in config_tree.walk(config):
            scope = self._visit(layer)
            if scope is not None:
                scopes.append(scope)
        for scope in reversed(scopes):  # inner models before the models around them
            self._finish(scope)

    # --- top-down -------------------------------------------------------------------------

    def _visit(self, layer: Layer) -> _Scope | None:
        container = layer.container
        if container is None:
            return self._top(layer)
        owner = self.scopes.get(layer.owner.path)  # type: ignore[union-attr] - a layer below the top has an owner
        container_frozen = self.frozen.get(container.path)
        if owner is None or container_frozen is None:
            return None  # inside a layer bnlint does not read into (an opaque or plain one, a BN layer's `layer`)
        classes, class_name, config, layers = self.classes, layer.class_name, layer.config, layer.layers
        if class_name == "InputLayer" and not layer.wrapped:
            return None
        frozen = container_frozen or config.get("trainable") is False
        is_bn = class_name in classes.batchnorm
        if layers is None and not is_bn and not layer.wrapped_entries and class_name not in classes.models and self._is_builtin(layer):
            direct = owner.direct  # most layers: counted, nothing recorded (inlined: it is most of the work)
            direct.layers += 1
            direct.frozen += frozen
            return None

        if layers is None and not is_bn and layer.wrapped_entries:
            # TimeDistributed, Bidirectional, ...: the wrapper passes its calls on to the layers inside.
            self.frozen[layer.path] = frozen
            return None

        calls = self._calls_of(layer)
        location = Location(layer_path=layer.path)
        protected_above = owner.protected
        if layers is not None:
            model = Model(key=layer.path, name=layer.name, cls=class_name, location=location)
            self.unit.models[layer.path] = model
            protected = self._record_calls(layer.path, location, calls, owner.model.key, protected_above)
            self.frozen[layer.path] = frozen
            scope = _Scope(model, frozen, protected, config_tree.is_sequential(class_name, layers), owner)
            self.scopes[layer.path] = scope
            return scope

        # A BN layer, or an opaque one: a custom layer, or a model class without a readable layer list.
        opaque = not is_bn
        owner.direct.count(frozen, bn=is_bn, kept_frozen=is_bn and frozen and not container_frozen, opaque=opaque)
        if is_bn and all(training == "absent" for training, _ in calls):
            # A plain BN layer in a graph is only counted: the rules care about models around BN
            # and about an explicit `training` on a BN call. Recording every BN layer of a
            # ResNet as facts doubled the time a scan takes on it.
            return None
        self.unit.models[layer.path] = Model(
            key=layer.path,
            name=layer.name,
            cls=class_name,
            kind="model" if opaque and self._looks_like_model(layer) else "layer",
            contains_bn=True if is_bn else None,
            frozen=frozen,
            frozen_at=location if frozen else None,
            trainable_bn=is_bn and not frozen,
            opaque=opaque,
            location=location,
        )
        self._record_calls(layer.path, location, calls, owner.model.key, protected_above)
        return None

    def _top(self, layer: Layer) -> _Scope | None:
        class_name, config = layer.class_name, layer.config
        name = config.get("name")
        model = Model(key="", name=str(name or class_name), cls=class_name, location=Location(layer_path=""))
        self.unit.models[""] = model
        frozen = config.get("trainable") is False
        layers = layer.layers
        if layers is not None:
            self.frozen[""] = frozen
            scope = _Scope(model, frozen, False, config_tree.is_sequential(class_name, layers), None)
            self.scopes[""] = scope
            return scope
        # A subclassed model saved without a functional config, or a lone layer.
        is_bn = class_name in self.classes.batchnorm
        model.opaque = not is_bn and (class_name in self.classes.models or not self._is_builtin(layer))
        model.kind = "model" if model.opaque or class_name in self.classes.models else "layer"
        model.contains_bn = True if is_bn else (None if model.opaque else False)
        model.frozen = frozen
        return None

    def _calls_of(self, layer: Layer) -> list[tuple[Training, Composition]]:
        """(training, composition) of each way a layer enters the model that holds it."""
        nodes = layer.nodes
        if nodes is None:
            time_distributed = any(w.class_name == "TimeDistributed" for w in self._wrappers(layer))
            return [("absent", "time_distributed" if time_distributed else "sequential")]
        return [(_training(config_tree.node_training(node, layer.name)), "call") for node in nodes]

    @staticmethod
    def _wrappers(layer: Layer) -> list[Layer]:
        found, container = [], layer.container
        while layer.wrapped and container is not None:
            found.append(container)
            layer, container = container, container.container
        return found

    def _record_calls(
        self, callee: str, location: Location, calls: list[tuple[Training, Composition]], container: str, container_protected: bool
    ) -> bool:
        """Record the calls of `callee`; return whether every one of them runs it with training=False."""
        for training, composition in calls:
            self.order += 1
            self.unit.calls.append(
                Call(
                    callee=callee,
                    training=training,
                    composition=composition,
                    location=location,
                    enclosing_training_false=container_protected,
                    container=container,
                    order=self.order,
                )
            )
        # keras2 semantics: a stored training=False propagates into everything the callee calls.
        return bool(calls) and all(t == "false" or (t == "absent" and container_protected) for t, _ in calls)

    def _is_builtin(self, layer: Layer) -> bool:
        classes, class_name, entry = self.classes, layer.class_name, layer.entry
        if class_name in classes.opaque:
            return False
        if "module" in entry:  # Keras 3 serialisation names the defining module
            module = entry["module"]
            return isinstance(module, str) and module.split(".")[0] in classes.builtin_packages
        return class_name in classes.builtin

    def _looks_like_model(self, layer: Layer) -> bool:
        # Keras 3 serialises a compile_config for models only, subclassed ones included.
        return layer.class_name in self.classes.models or "compile_config" in layer.entry

    # --- bottom-up ------------------------------------------------------------------------

    def _finish(self, scope: _Scope) -> None:
        model, direct, total = scope.model, scope.direct, scope.total
        total.add(direct, frozen_model=False)
        every_layer_frozen = total.layers > 0 and total.frozen == total.layers
        # Every layer frozen makes a frozen model, unless all its BN is in frozen models of its own.
        model.frozen = scope.frozen or (every_layer_frozen and not (total.bn and not total.bn_outside_frozen_models))
        model.frozen_at = model.location if model.frozen else None
        model.contains_bn = total.contains_bn()
        # Partial freezing is judged on the model's own layers; nested models are judged on
        # theirs, so the finding lands on the innermost model where frozen and trainable meet.
        model.partially_frozen = not model.frozen and 0 < direct.frozen < direct.layers
        model.trainable_bn = not model.frozen and direct.bn > direct.bn_frozen
        model.bn_kept_frozen = not model.frozen and total.bn > 0 and total.bn_kept_frozen == total.bn
        if scope.owner is not None:
            scope.owner.total.add(total, frozen_model=model.frozen)
