"""The abstract values the script interpreter computes instead of running the code."""

from __future__ import annotations

import ast
from typing import Any


class Value:
    __slots__ = ()


class _Unknown(Value):
    """Anything we cannot tell: a parameter, a loaded model, a builtin's result."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


class _Foreign(Value):
    """A result from a non-Keras library: its `.fit`/`.compile` are not Keras's (`scaler.fit(x)`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FOREIGN"


UNKNOWN = _Unknown()
FOREIGN = _Foreign()


class Const(Value):
    """A literal (or a literal folded from literals)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


class Ref(Value):
    """An imported module or a dotted attribute of one, by its raw path (`tensorflow.keras.layers`)."""

    __slots__ = ("qname", "children")

    def __init__(self, qname: str) -> None:
        self.qname = qname
        self.children: dict[str, Ref] = {}  # attribute name -> Ref, so `tf.keras` is built once

    def __repr__(self) -> str:
        return f"Ref({self.qname})"


class ModelRef(Value):
    """A layer or model the IR tracks (`Unit.models[key]`)."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"ModelRef({self.key})"


class Tensor(Value):
    """A tensor; `history` holds the indices of the Call facts it flowed through. `symbolic`: a
    graph-building tensor (from `keras.Input`, a model's `.input`/`.output`, inside a layer's
    `call()`), as opposed to concrete data run through a model eagerly."""

    __slots__ = ("history", "symbolic")

    def __init__(self, history: frozenset[int] = frozenset(), symbolic: bool = False) -> None:
        self.history = history
        self.symbolic = symbolic


class Seq(Value):
    """A list or tuple literal."""

    __slots__ = ("items",)

    def __init__(self, items: list[Value]) -> None:
        self.items = items


class Mapping(Value):
    """A dict literal with constant string keys."""

    __slots__ = ("items",)

    def __init__(self, items: dict[str, Value]) -> None:
        self.items = items


class Function(Value):
    """A `def` or `lambda`, with the scope it closes over; `owner` is set for bound methods."""

    __slots__ = ("node", "scope", "cell", "defaults", "owner")

    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: Any, cell: int | None,
                 defaults: dict[str, Value], owner: Value | None = None) -> None:
        self.node = node
        self.scope = scope
        self.cell = cell
        self.defaults = defaults
        self.owner = owner

    def bind(self, owner: Value) -> Function:
        return Function(self.node, self.scope, self.cell, self.defaults, owner)


class Class(Value):
    """A user class; `is_keras` when it subclasses keras.Model / keras.layers.Layer."""

    __slots__ = ("node", "cell", "bases", "is_keras", "methods", "instances", "_mro")

    def __init__(self, node: ast.ClassDef, cell: int | None, bases: list[Value], is_keras: bool) -> None:
        self.node = node
        self.cell = cell
        self.bases = bases
        self.is_keras = is_keras
        self.methods: dict[str, Function] = {}
        self.instances: list[Instance] = []
        self._mro: list[Class] | None = None

    def lookup(self, name: str) -> Function | None:
        for cls in self.mro():
            found = cls.methods.get(name)
            if found is not None:
                return found
        return None

    def forget_mro(self) -> None:
        self._mro = None

    def mro(self) -> list[Class]:
        """This class and its user-defined bases, depth first, each once (close to Python's C3
        order for the hierarchies training code has). Computed once: a class's bases are fixed
        when it is defined, and walking a diamond hierarchy path by path is exponential."""
        if self._mro is None:
            order: list[Class] = []
            seen: set[int] = set()
            pending: list[Class] = [self]
            while pending:
                cls = pending.pop()
                if id(cls) not in seen:
                    seen.add(id(cls))
                    order.append(cls)
                    pending.extend(reversed([b for b in cls.bases if isinstance(b, Class)]))
            self._mro = order
        return self._mro

    def all_methods(self) -> dict[str, Function]:
        """Every method an instance has, by name: the first definition in class order wins."""
        merged: dict[str, Function] = {}
        for cls in reversed(self.mro()):
            merged.update(cls.methods)
        return merged


class Instance(Value):
    """An instance of a user class; `model_key` when it is a Keras model the IR tracks."""

    __slots__ = ("cls", "attrs", "model_key", "ran")

    def __init__(self, cls: Class, model_key: str | None) -> None:
        self.cls = cls
        self.attrs: dict[str, Value] = {}
        self.model_key = model_key
        self.ran: set[str] = set()  # methods already interpreted with this instance as self


class Module(Value):
    """A module of the project (`import models.backbone as bb`): its scope once read, and where
    it was imported from, so that `bb.sub` can find a submodule."""

    __slots__ = ("name", "scope", "importer", "level")

    def __init__(self, name: str, scope: Any, importer: Any, level: int = 0) -> None:
        self.name = name  # dotted, as imported
        self.scope = scope  # its module scope
        self.importer = importer  # the Path of the importing file
        self.level = level  # leading dots of a relative import


class Super(Value):
    """`super()` inside a method: attribute lookups start after the class that defines it."""

    __slots__ = ("instance", "method")

    def __init__(self, instance: Instance, method: ast.AST) -> None:
        self.instance = instance
        self.method = method  # the def node of the method `super()` is called in


class Partial(Value):
    """`functools.partial(func, *args, **kwargs)`."""

    __slots__ = ("func", "args", "kwargs")

    def __init__(self, func: Value, args: list[Value], kwargs: dict[str, Value]) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs


class Wrapper(Value):
    """`TimeDistributed(base)`: calling it calls `base`."""

    __slots__ = ("inner",)

    def __init__(self, inner: ModelRef) -> None:
        self.inner = inner


class LayerSet(Value):
    """`base.layers` (some=False) or a slice of it (some=True); `span` holds a slice's constant
    bounds (`[:-2]` is (None, -2)), or None when they are not both known."""

    __slots__ = ("key", "some", "span")

    def __init__(self, key: str, some: bool, span: tuple[int | None, int | None] | None = None) -> None:
        self.key = key
        self.some = some
        self.span = span


class LayerItem(Value):
    """One layer of `base.layers`: the loop variable, `base.layers[-1]`, `base.get_layer(...)`."""

    __slots__ = ("key", "some", "loop")

    def __init__(self, key: str, some: bool, loop: Any = None) -> None:
        self.key = key
        self.some = some
        self.loop = loop  # the LoopContext when this is a loop variable


class Enumerated(Value):
    """`enumerate(x)`: iterating it yields `(index, element of x)`."""

    __slots__ = ("inner",)

    def __init__(self, inner: Value) -> None:
        self.inner = inner


class Estimator(Value):
    """`model_to_estimator(model)`: an Estimator whose `train()` trains `key` (as compiled)."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class KerasMethod(Value):
    """A Keras method on a tracked model (`model.compile`, `model.add`, `model.get_layer`)."""

    __slots__ = ("key", "name")

    def __init__(self, key: str | None, name: str) -> None:
        self.key = key
        self.name = name


def literal(value: Value) -> Any:
    """The Python literal a value stands for, or `NOT_LITERAL`."""
    if isinstance(value, Const):
        return value.value
    if isinstance(value, Seq):
        items = [literal(v) for v in value.items]
        return NOT_LITERAL if any(i is NOT_LITERAL for i in items) else tuple(items)
    return NOT_LITERAL


NOT_LITERAL = object()
