"""What Keras calls mean to the interpreter: models built, called, composed, frozen, compiled, fit."""

from __future__ import annotations

import ast
from functools import lru_cache

from bnlint import knowledge
from bnlint.frontends.python import layer_loops as loops
from bnlint.frontends.python.evidence import (
    call_matters,
    flavour,
    keyword_runtime,
    path_runtime,
    refused_path,
    removed_keyword,
    removed_method,
)
from bnlint.frontends.python.host import Host
from bnlint.frontends.python.imports import canonical, in_keras_family
from bnlint.frontends.python.recorder import FactRecorder
from bnlint.frontends.python.training import FIT_METHODS
from bnlint.frontends.python.values import (
    FOREIGN,
    NOT_LITERAL,
    UNKNOWN,
    Const,
    Enumerated,
    Estimator,
    Instance,
    KerasMethod,
    LayerItem,
    LayerSet,
    Mapping,
    ModelRef,
    Partial,
    Ref,
    Seq,
    Tensor,
    Value,
    Wrapper,
    literal,
)
from bnlint.ir import Location, Runtime
from bnlint.runtime import DEFAULT, Keras3RuledOut

# Methods of a Keras model that matter; any other attribute of a model is opaque.
MODEL_METHODS = frozenset({"compile", *FIT_METHODS, "evaluate_generator", "predict_generator", "add", "get_layer", "call", "__call__",
                           "save", "save_weights"})
# On an object we know nothing about, these still mean Keras (`model = load_model(p); model.fit()`).
RECEIVER_FREE_METHODS = frozenset({"compile", *FIT_METHODS})
ESTIMATOR_TRAIN = "estimator.train"  # an Estimator's `train()`, as a KerasMethod name (never a model's own)
LEGACY_KERAS_VALUES = frozenset({"1", "true", "True"})  # what TF reads TF_USE_LEGACY_KERAS as
REDUCE_LIMIT = 64  # items of a literal sequence `functools.reduce` is followed through


class Args:
    """Evaluated call arguments; `*x` / `**x` we could not read make the call's arguments open."""

    __slots__ = ("pos", "kw", "star_unknown", "kw_unknown")

    def __init__(self, pos: list[Value] | None = None, kw: dict[str, Value] | None = None, star_unknown: bool = False, kw_unknown: bool = False) -> None:
        self.pos = pos if pos is not None else []
        self.kw = kw if kw is not None else {}
        self.star_unknown = star_unknown
        self.kw_unknown = kw_unknown

    def get(self, index: int, name: str) -> Value | None:
        if name in self.kw:
            return self.kw[name]
        return self.pos[index] if index < len(self.pos) else None

    def history(self) -> frozenset[int]:
        return frozenset().union(*(_history(v) for v in (*self.pos, *self.kw.values())))

    def passthrough(self, default: Value) -> Value:
        """An opaque function of tensors returns a tensor carrying their history (`Dense(1)(x)`)."""
        for value in self.pos:
            if isinstance(value, _CARRIERS):
                break
        else:
            if not self.kw or not any(isinstance(v, _CARRIERS) for v in self.kw.values()):
                return default
        history = self.history()
        if history or any(type(v) is Tensor for v in (*self.pos, *self.kw.values())):
            return Tensor(history, self.symbolic())
        return default

    def symbolic(self) -> bool:
        """Whether a graph-building tensor is among the arguments (not concrete data)."""
        return any(_symbolic(v) for v in (*self.pos, *self.kw.values()))


_CARRIERS = (Tensor, Seq, Mapping)  # values a tensor can hide in


MAX_CARRIED = 4096  # values looked at inside one argument's nested lists and dicts


def _tensors(value: Value) -> list[Tensor]:
    """The tensors inside a value's nested lists and dicts. Each shared part is visited once
    (`x = [x, x]` twenty times is 2^20 paths through 20 lists), and at most MAX_CARRIED values
    are looked at: a larger structure counts as carrying the tensors found so far."""
    if type(value) is Tensor:
        return [value]
    found: list[Tensor] = []
    seen: set[int] = set()
    pending = [value]
    while pending and len(seen) < MAX_CARRIED:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Tensor):
            found.append(current)
        elif isinstance(current, Seq):
            pending.extend(current.items)
        elif isinstance(current, Mapping):
            pending.extend(current.items.values())
    return found


def _symbolic(value: Value) -> bool:
    return any(t.symbolic for t in _tensors(value))


def _history(value: Value) -> frozenset[int]:
    return frozenset().union(*(t.history for t in _tensors(value)))


@lru_cache(maxsize=8192)
def _plan(qname: str) -> tuple[str, knowledge.ConstructorInfo | None, Value]:
    """How to call an imported path: its canonical name, the constructor it is (if known), and
    what an unknown call returns (a Keras object we cannot see, or someone else's)."""
    name = canonical(qname)
    return name, knowledge.constructor_info(name), UNKNOWN if in_keras_family(qname) else FOREIGN


def model_key(value: Value | None) -> str | None:
    if isinstance(value, ModelRef):
        return value.key
    if isinstance(value, Instance):
        return value.model_key
    return None


def training_value(args: Args) -> str:
    """The `training` a call passes: keyword, second positional, or hidden in `**kwargs`."""
    value = args.kw.get("training")
    if value is None and len(args.pos) >= 2:
        value = args.pos[1]
    if value is None:
        return "dynamic" if args.kw_unknown or args.star_unknown else "absent"
    if isinstance(value, Const):
        if value.value is None:
            return "absent"
        if value.value is False or (type(value.value) is int and value.value == 0):
            return "false"
        if value.value is True or (type(value.value) is int and value.value == 1):
            return "true"
    return "dynamic"


class Step:
    """What one custom training step calls. When it records gradients with a GradientTape, only
    the models called inside the tape are trained by it: a validation pass later in the same loop
    (`val_logits = model(x_val)`) computes no gradient."""

    def __init__(self, models: list[str]) -> None:
        self.models: list[tuple[str, int | None, bool]] = [(m, None, True) for m in models]
        self.tape = False  # a GradientTape was entered during the step

    def called(self, key: str, index: int, in_tape: bool) -> None:
        self.models.append((key, index, in_tape))

    def _kept(self) -> list[tuple[str, int | None, bool]]:
        return [m for m in self.models if m[2] or not self.tape]

    def trained(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for key, _, _ in self._kept()))

    def trained_calls(self) -> list[int]:
        return [index for _, index, _ in self._kept() if index is not None]


class KerasSemantics(Host):
    """Mixed into the Interpreter: everything that knows what a Keras API does."""

    def __init__(self, recorder: FactRecorder) -> None:
        self.rec = recorder
        self.contexts: list[str] = []  # subclassed models whose call() is being interpreted
        self.loops: list[loops.LoopContext] = []
        self.steps: list[Step] = []  # the custom training steps being run, innermost last
        self.tapes = 0  # `with tf.GradientTape()` blocks being run
        self.evidence: dict[str, str] = {}
        self.project_evidence: dict[str, str] = {}
        self.flavours: set[str] = set()  # "standalone" (import keras) and/or "tf.keras"
        self._specials = {
            "keras.Sequential": self._sequential,
            "keras.Model": self._functional,
            "keras.Input": lambda args, node: Tensor(symbolic=True),
            "keras.layers.InputLayer": lambda args, node: Tensor(symbolic=True),  # not one of `model.layers` either
            "keras.layers.TimeDistributed": self._time_distributed,
            "keras.estimator.model_to_estimator": self._model_to_estimator,
            "tensorflow.estimator.train_and_evaluate": self._train_and_evaluate,
            "functools.partial": self._partial,
            "os.environ.setdefault": self._setenv,
            "os.putenv": self._setenv,
            "os.environ.update": self._updateenv,
            "builtins.enumerate": lambda args, node: Enumerated(args.pos[0]) if args.pos else UNKNOWN,
            "builtins.list": self._same_sequence,
            "builtins.tuple": self._same_sequence,
            "builtins.reversed": self._same_sequence,
            "builtins.iter": self._same_sequence,
            "builtins.setattr": self._setattr,
            "functools.reduce": self._reduce,
            "builtins.super": lambda args, node: self.make_super(),
        }

    # -- runtime evidence -----------------------------------------------------------------------

    def _evidence(self, target: str, text: str, node: ast.AST) -> None:
        # The file's own evidence, or that of a project module it imports (which counts only when
        # the file itself says nothing).
        source = self.source
        evidence = self.evidence if source is self.own else self.project_evidence
        if target not in evidence:
            line = getattr(node, "lineno", 0)  # every node evidence is found at is a statement or expression
            where = f"line {line}" if self.cell is None else f"cell {self.cell}, line {line}"
            evidence[target] = f"{text} ({where})" if source.path is None else f"{text} ({source.path}, {where})"

    def import_evidence(self, qname: str, text: str, node: ast.AST) -> None:
        if qname == "tf_keras" or qname.startswith("tf_keras."):
            self._evidence("keras2", text, node)
        way = flavour(qname)
        if way is not None:
            self.flavours.add(way)
        found = path_runtime(qname)
        if found:
            self._evidence(found, text, node)

    def path_evidence(self, qname: str, node: ast.Attribute) -> None:
        way = flavour(qname)
        if way is not None:
            self.flavours.add(way)
        found = path_runtime(qname)
        if found:
            self._evidence(found, dotted(node), node)

    def call_evidence(self, callee: str, args: Args, node: ast.AST) -> None:
        """Keras 1 keywords (`fit(nb_epoch=...)`, `Model(input=, output=)`), and what every Keras 3
        refuses: methods it removed (`fit_generator`), keywords (`save_weights(save_format=...)`),
        saved paths without the suffix it requires (`model.save("saved_model/")`). `callee` is a
        model method's name or a canonical path."""
        if not call_matters(callee):
            return  # most calls: one set lookup
        if keyword_runtime(callee, args.kw):
            word = next(k for k in args.kw if keyword_runtime(callee, (k,)))
            self._evidence("legacy", f"{callee}({word}=...)", node)
        removed = removed_keyword(callee, args.kw)
        for text in (
            f"{callee}()" if removed_method(callee) else None,
            f"{callee.rpartition('.')[2]}({removed}=...)" if removed is not None else None,
            refused_path(callee, args),
        ):
            if text is not None:
                self._evidence("not_keras3", text, node)
                self._evidence("keras2_call", text, node)  # a call of the Keras 2 API (see _decide)

    def runtime(self) -> Runtime:
        """What the file's own code says, else what the project modules it imports say."""
        return self._decide(self.evidence) or self._decide(self.project_evidence) or DEFAULT

    def _decide(self, evidence: dict[str, str]) -> Runtime | None:
        # A v1 BatchNormalization class or TF1 API decides over tf_keras: it is the stricter semantics.
        if "legacy" in evidence:
            return Runtime("legacy", evidence["legacy"])
        if "keras2" in evidence:
            return Runtime("keras2", evidence["keras2"])
        if "not_keras3" in evidence:
            # Legacy or keras2: the pins choose. Without a pin, tf.keras 2; but calls of the Keras 2
            # API (`fit_generator()`, `ModelCheckpoint(period=...)`) made through standalone `keras`
            # imports only point further back, to Keras <= 2.3.
            standalone = "standalone" in self.flavours and "tf.keras" not in self.flavours
            legacy = standalone and "keras2_call" in evidence
            return Keras3RuledOut("legacy" if legacy else "keras2", evidence["not_keras3"])
        return None

    def assign_item(self, container: Value, key: Value, value: Value, stmt: ast.stmt) -> None:
        if isinstance(container, Ref) and container.qname == "os.environ" and isinstance(key, Const):
            self._legacy_keras_env(key.value, value, stmt)

    def _legacy_keras_env(self, name: object, value: Value | None, node: ast.AST) -> None:
        if name == "TF_USE_LEGACY_KERAS" and value is not None and literal(value) in LEGACY_KERAS_VALUES:
            self._evidence("keras2", f"TF_USE_LEGACY_KERAS={literal(value)}", node)

    def _setenv(self, args: Args, node: ast.AST) -> Value:
        name = args.pos[0] if args.pos else None
        if isinstance(name, Const):
            self._legacy_keras_env(name.value, args.pos[1] if len(args.pos) > 1 else None, node)
        return FOREIGN

    def _updateenv(self, args: Args, node: ast.AST) -> Value:
        items = dict(args.pos[0].items) if args.pos and isinstance(args.pos[0], Mapping) else {}
        items.update(args.kw)
        self._legacy_keras_env("TF_USE_LEGACY_KERAS", items.get("TF_USE_LEGACY_KERAS"), node)
        return FOREIGN

    # -- names ----------------------------------------------------------------------------------

    def interchangeable(self, entries: list[Value]) -> bool:
        """Whether these values are all known constructors that agree on holding BatchNormalization
        (a table of backbones): then one stands for any of them."""
        infos = [knowledge.constructor_info(canonical(e.qname)) if isinstance(e, Ref) else None for e in entries]
        return all(i is not None for i in infos) and len({(i.contains_bn, i.kind) for i in infos}) == 1  # type: ignore[union-attr]

    def is_keras_name(self, qname: str) -> bool:
        name = canonical(qname)
        return knowledge.constructor_info(name) is not None or name in self._specials

    def name_model(self, value: Value, name: str, attribute: bool = False) -> None:
        key = model_key(value)
        if key is not None:
            # `self.backbone = ...` names the model wherever it happens.
            self.rec.name(key, name, -1 if attribute else len(self.stack))

    def add_part(self, owner: Instance, value: Value) -> None:
        part = model_key(value)
        if owner.model_key is not None and part is not None:
            self.rec.add_part(owner.model_key, part)

    # -- calling things -------------------------------------------------------------------------

    def invoke_keras(self, function: Value, args: Args, node: ast.AST) -> Value:
        if type(function) is Ref:
            return self._call_ref(function, args, node)
        key = model_key(function)
        if key is not None:
            return self.call_model(key, args, node)
        if isinstance(function, Wrapper):
            return self.call_model(function.inner.key, args, node)
        if isinstance(function, KerasMethod):
            return self._call_method(function, args, node)
        if isinstance(function, Partial):
            merged = Args([*function.args, *args.pos], {**function.kwargs, **args.kw}, args.star_unknown, args.kw_unknown)
            return self.invoke(function.func, merged, node)
        return args.passthrough(FOREIGN if function is FOREIGN else UNKNOWN)

    def _call_ref(self, function: Ref, args: Args, node: ast.AST) -> Value:
        name, info, otherwise = _plan(function.qname)
        if info is None and name.endswith(".from_preset"):
            preset = literal(args.get(0, "preset") or UNKNOWN)
            if isinstance(preset, str):
                info = knowledge.preset_info(name, preset)
        self.call_evidence(name, args, node)  # `ModelCheckpoint("ckpt/", save_weights_only=True)`
        if info is not None:
            return self._construct(name, info, args, node)
        special = self._specials.get(name)
        if special is not None:
            return special(args, node)
        return args.passthrough(otherwise)

    def _allocated(self, node: ast.AST):
        return self.rec.sites.get(("model", id(node))) if self.orphan else None

    def _remember(self, node: ast.AST, value: Value) -> Value:
        if self.orphan:
            self.rec.sites[("model", id(node))] = value
        return value

    def _construct(self, name: str, info: knowledge.ConstructorInfo, args: Args, node: ast.AST) -> Value:
        known = self._allocated(node)
        if known is not None:
            return known
        location = self.loc(node)
        contains_bn = info.contains_bn
        if name == knowledge.HUB_LAYER:
            handle = literal(args.get(0, "handle") or UNKNOWN)
            contains_bn = knowledge.hub_layer_info(handle if isinstance(handle, str) else None).contains_bn
        frozen = info.frozen_by_default and not args.kw_unknown
        trainable = args.kw.get("trainable")
        if trainable is not None:
            frozen = isinstance(trainable, Const) and trainable.value is False
        arguments = {k: v for k, v in ((k, literal(v)) for k, v in args.kw.items()) if v is not NOT_LITERAL}
        parts = name.split(".")
        if parts[-1] == "from_preset":
            preset = literal(args.get(0, "preset") or UNKNOWN)
            if isinstance(preset, str):
                arguments["preset"] = preset
            parts.pop()
        key = self.rec.new_model(
            parts[-1], location, kind=info.kind, contains_bn=contains_bn, architecture=info.architecture, arguments=arguments
        )
        self.rec.unit.models[key].hub = name == knowledge.HUB_LAYER
        if frozen:  # `trainable=False`, or frozen by default (a hub layer): a change like any other
            self.rec.change(key, False, "model", location)
        return self._remember(node, ModelRef(key))

    def call_model(self, key: str, args: Args, node: ast.AST) -> Value:
        training = training_value(args)
        in_call_method = bool(self.contexts)
        symbolic = in_call_method or args.symbolic()
        index = self.rec.call(key, training, "call", self.loc(node), in_graph=symbolic, in_call_method=in_call_method)
        if self.steps:
            self.steps[-1].called(key, index, in_tape=self.tapes > 0)
        if training == "false":
            self.rec.enclose(key)
        if self.contexts:
            self.rec.contain(self.contexts[-1], (index,))
        return Tensor(args.history() | {index}, symbolic)

    # -- training -------------------------------------------------------------------------------

    def run_step(self, marker: ast.AST, run, owner: str | None = None) -> None:
        """Run a training step's body (`run()`); every model it calls is trained by one event,
        located at its weight update. A step inside a step is part of the outer one."""
        if self.steps:
            run()
            return
        self.steps.append(Step([owner] if owner else []))
        try:
            run()
        finally:
            step = self.steps.pop()
        models = step.trained()
        for index in step.trained_calls():
            self.rec.unit.calls[index].in_step = True
        api = marker.func.attr if isinstance(marker, ast.Call) and isinstance(marker.func, ast.Attribute) else "train_step"
        self.rec.training("step", models, self.loc(marker), api)

    def enter_tape(self) -> None:
        self.tapes += 1
        if self.steps:
            self.steps[-1].tape = True

    def _call_method(self, method: KerasMethod, args: Args, node: ast.AST) -> Value:
        name, key = method.name, method.key
        self.call_evidence(name, args, node)  # `fit_generator()`, `save("saved_model/")`: not Keras 3
        if name == "compile":
            self.rec.compile(key, self.loc(node))
        elif name in FIT_METHODS:
            self.rec.training("fit", (key,) if key is not None else (), self.loc(node), name)
        elif name == ESTIMATOR_TRAIN and key is not None:
            self.rec.training("estimator", (key,), self.loc(node), "train")
        elif key is not None and name == "add":
            layer = args.get(0, "layer")
            if layer is not None:
                self._compose(key, layer, "add", self.loc(node))
        elif key is not None and name == "get_layer":
            return LayerItem(key, True)
        elif key is not None and name in ("call", "__call__"):
            return self.call_model(key, args, node)
        return args.passthrough(UNKNOWN)

    def _compose(self, container: str, layer: Value, composition: str, location: Location) -> None:
        if isinstance(layer, Tensor):  # `keras.Input(...)` in a Sequential is not one of its layers
            return
        self.rec.members.setdefault(container, []).append(layer)
        if isinstance(layer, Wrapper):
            self.rec.call(layer.inner.key, "absent", "time_distributed", location, container=container)
            return
        key = model_key(layer)
        if key is not None:
            self.rec.call(key, "absent", composition, location, container=container)

    def _sequential(self, args: Args, node: ast.AST) -> Value:
        known = self._allocated(node)
        if known is not None:
            return known
        location = self.loc(node)
        key = self.rec.new_model("Sequential", location, architecture="keras.Sequential", composite=True)
        self.rec.members[key] = []
        layers = args.get(0, "layers")
        if isinstance(layers, Seq):
            for layer in layers.items:
                self._compose(key, layer, "sequential", location)
        return self._remember(node, ModelRef(key))

    def _functional(self, args: Args, node: ast.AST) -> Value:
        self.call_evidence("Model", args, node)
        inputs, outputs = args.get(0, "inputs") or args.kw.get("input"), args.get(1, "outputs") or args.kw.get("output")
        if inputs is None and outputs is None:
            return UNKNOWN
        known = self._allocated(node)
        if known is not None:
            return known
        key = self.rec.new_model("Functional", self.loc(node), architecture="keras.Model", composite=True)
        inner = _history(outputs or UNKNOWN) - _history(inputs or UNKNOWN)
        self.rec.contain(key, sorted(inner))
        return self._remember(node, ModelRef(key))

    def _model_to_estimator(self, args: Args, node: ast.AST) -> Value:
        key = model_key(args.get(0, "keras_model"))
        return Estimator(key) if key is not None else UNKNOWN

    def _train_and_evaluate(self, args: Args, node: ast.AST) -> Value:
        estimator = args.get(0, "estimator")
        if isinstance(estimator, Estimator):
            self.rec.training("estimator", (estimator.key,), self.loc(node), "train_and_evaluate")
        return FOREIGN

    def _time_distributed(self, args: Args, node: ast.AST) -> Value:
        key = model_key(args.get(0, "layer"))
        return Wrapper(ModelRef(key)) if key is not None else UNKNOWN

    def _partial(self, args: Args, node: ast.AST) -> Value:
        if not args.pos or args.star_unknown or args.kw_unknown:
            return UNKNOWN
        return Partial(args.pos[0], args.pos[1:], dict(args.kw))

    def _reduce(self, args: Args, node: ast.AST) -> Value:
        """`reduce(f, [a, b, c])` is `f(f(a, b), c)`: how `compose(*layers)` helpers chain layers."""
        if len(args.pos) < 2 or not isinstance(args.pos[1], Seq) or len(args.pos[1].items) > REDUCE_LIMIT:
            return args.passthrough(UNKNOWN)
        items = list(args.pos[1].items)
        if len(args.pos) > 2:
            items.insert(0, args.pos[2])
        if not items:
            return UNKNOWN
        result = items[0]
        for item in items[1:]:
            result = self.invoke(args.pos[0], Args([result, item]), node)
        return result

    def _same_sequence(self, args: Args, node: ast.AST) -> Value:
        if args.pos and isinstance(args.pos[0], (LayerSet, Seq)):
            return args.pos[0]
        return args.passthrough(FOREIGN)

    def _setattr(self, args: Args, node: ast.AST) -> Value:
        if len(args.pos) == 3 and isinstance(args.pos[1], Const) and args.pos[1].value == "trainable":
            rhs = node.args[2] if isinstance(node, ast.Call) and len(node.args) == 3 else None
            self.assign_trainable(args.pos[0], node, args.pos[2], rhs)
        return FOREIGN

    # -- attributes of models -------------------------------------------------------------------

    def keras_attribute(self, owner: Value, name: str, node: ast.Attribute) -> Value:
        key = model_key(owner)
        if key is None and isinstance(owner, LayerItem) and name in ("output", "input"):
            key = owner.key
        if key is not None:
            if name in ("output", "outputs"):
                # `Model(base.input, head(base.output))` reuses base's own graph in place.
                return Tensor(frozenset({self.rec.call(key, "absent", "output", self.loc(node))}), symbolic=True)
            if name in ("input", "inputs"):
                return Tensor(symbolic=True)
            if name == "layers":
                return LayerSet(key, False)
            if name in MODEL_METHODS:
                return KerasMethod(key, name)
            return UNKNOWN
        if isinstance(owner, Estimator):
            return KerasMethod(owner.key, ESTIMATOR_TRAIN) if name == "train" else UNKNOWN
        if owner is UNKNOWN and name in RECEIVER_FREE_METHODS:
            return KerasMethod(None, name)
        return FOREIGN if owner is FOREIGN else UNKNOWN

    def layer_at(self, layers: LayerSet, index: Value) -> Value:
        members = self.rec.members.get(layers.key)
        if members is not None and not layers.some and isinstance(index, Const) and type(index.value) is int:
            try:
                return members[index.value]
            except IndexError:
                return UNKNOWN
        return LayerItem(layers.key, True)

    # -- trainable ------------------------------------------------------------------------------

    def assign_trainable(self, owner: Value, stmt: ast.AST, value: Value, rhs: ast.expr | None = None) -> None:
        if rhs is None and isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            rhs = stmt.value
        location = self.loc(stmt)
        constant = value.value if isinstance(value, Const) and isinstance(value.value, bool) else None
        key = model_key(owner)
        if key is not None:
            self.rec.change(key, constant, "model", location)
        elif isinstance(owner, LayerItem):
            if owner.loop is None:
                self.rec.change(owner.key, constant, "some_layers", location)
            else:
                self._loop_change(owner, rhs, constant, location)

    def _loop_change(self, item: LayerItem, rhs: ast.expr | None, value: bool | None, location: Location) -> None:
        context: loops.LoopContext = item.loop
        guards = context.guards
        keeps = "not_bn" in guards
        if value is None and rhs is not None and loops.is_not_bn_test(rhs, self._is_loop_layer, self._is_bn_class):
            value, keeps = True, True
        if "bn" in guards:
            scope = "batchnorm"
        else:
            scope = "some_layers" if item.some or "other" in guards else "layers"
        change = self.rec.change(context.key, value, scope, location, keeps_bn_frozen=keeps and value is True, freezes_bn=not keeps,
                                 span=context.span if scope == "some_layers" and "other" not in guards else None)
        context.changes.append(change)

    def _is_loop_layer(self, node: ast.expr) -> bool:
        value = self.ev(node)
        return isinstance(value, LayerItem) and value.loop is not None

    def _is_bn_class(self, node: ast.expr) -> bool:
        value = self.ev(node)
        if not isinstance(value, Ref):
            return False
        info = knowledge.constructor_info(canonical(value.qname))
        return info is not None and info.kind == "layer" and bool(info.contains_bn)

    def layer_loop(self, node: ast.For | ast.AsyncFor, iterable: Value) -> bool:
        """`for layer in base.layers[...]:` - run the body once with `layer` standing for them all."""
        layers = iterable.inner if isinstance(iterable, Enumerated) else iterable
        if not isinstance(layers, LayerSet):
            return False
        context = loops.LoopContext(layers.key, layers.span if layers.some else None)
        item = LayerItem(layers.key, layers.some, context)
        self.bind(node.target, Seq([UNKNOWN, item]) if isinstance(iterable, Enumerated) else item, node)
        self.loops.append(context)
        try:
            for stmt in node.body:
                self.run_block((stmt,))
                if loops.skips(stmt):
                    # `if isinstance(layer, BN): continue` - the rest of the body skips BN layers
                    context.guards.extend(loops.invert(loops.classify(stmt.test, self._is_loop_layer, self._is_bn_class)))
        finally:
            self.loops.pop()
        loops.link_bn_freezes(context, self.rec.keep_bn_frozen)
        return True

    def run_guarded(self, node: ast.If) -> bool:
        """Both arms of an `if` run; inside a layer loop, each arm knows which layers it reaches.
        True when both arms certainly return."""
        context = self.loops[-1] if self.loops else None
        if context is None:
            body = self.run_block(node.body)
            orelse = self.run_block(node.orelse)
            return body and orelse and bool(node.orelse)
        guards = loops.classify(node.test, self._is_loop_layer, self._is_bn_class)
        depth = len(context.guards)
        context.guards.extend(guards)
        self.run_block(node.body)
        del context.guards[depth:]
        if node.orelse:
            context.guards.extend(loops.invert(guards))
            self.run_block(node.orelse)
            del context.guards[depth:]
        return False


def dotted(node: ast.expr) -> str:
    """`tf.keras.layers.X` as written (Name/Attribute chains only)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))
