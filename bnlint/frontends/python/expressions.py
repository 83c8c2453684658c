"""Expression evaluation for the script interpreter: names, attributes, calls, literals, folding.

Mixed into the Interpreter (interpreter.py), which supplies statements, functions and classes;
Keras meaning comes from KerasSemantics (keras_semantics.py); host.py declares what each part
expects of the others.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bnlint.frontends.python.host import Host
from bnlint.frontends.python.keras_semantics import Args
from bnlint.frontends.python.values import (
    FOREIGN,
    UNKNOWN,
    Class,
    Const,
    Function,
    Instance,
    LayerSet,
    Mapping,
    ModelRef,
    Module,
    Ref,
    Seq,
    Super,
    Tensor,
    Value,
)
from bnlint.knowledge import unimported_modules

if TYPE_CHECKING:
    from bnlint.frontends.python.lazy_module import LazyModule

MAX_FOLDED = 10_000  # longest string/tuple constant folding may build
MAX_UNROLLED = 16  # a loop or comprehension over a literal list this short runs once per element,
UNROLL_NESTED = 256  # as long as the loops around it do not multiply past this many runs

# Builtins that mean something to the analysis; other unbound names are UNKNOWN.
BUILTINS = frozenset({"enumerate", "setattr", "list", "tuple", "reversed", "iter", "isinstance", "super"})

_FOLD = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
TRUE, FALSE, NONE = Const(True), Const(False), Const(None)


class Scope:
    """A function's (or the module's) variables; closures read their parent's."""

    __slots__ = ("vars", "parent", "module", "global_names", "source", "lazy", "stars")

    def __init__(self, parent: Scope | None, module: Scope | None, source=None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent
        self.module = module or self
        self.global_names: set[str] = set()
        self.source = source  # a module scope: the ModuleSource it was read from
        self.lazy: LazyModule | None = None  # an imported module's scope: its LazyModule, which defines names on demand
        self.stars: list[Scope] = []  # `from m import *` of project modules: names looked up there on demand

    def lookup(self, name: str, _stars_seen: set[int] | None = None) -> Value | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            if scope.lazy is not None:
                scope.lazy.load(name)
                if name in scope.vars:
                    return scope.vars[name]
            if scope.stars and not name.startswith("_"):
                seen = _stars_seen if _stars_seen is not None else set()
                for star in scope.stars:
                    if id(star) not in seen:  # two modules star-importing each other
                        seen.add(id(star))
                        found = star.lookup(name, seen)
                        if found is not None:
                            return found
            scope = scope.parent
        return self.module.vars.get(name)

    def assign(self, name: str, value: Value) -> None:
        (self.module if name in self.global_names else self).vars[name] = value


def fold(op: ast.operator, left: Value, right: Value) -> Value:
    """`left op right`: tensors stay tensors, small literals fold (`(224, 224) + (3,)`), with caps
    so that `"x" * 10**9` in the analysed code costs us nothing."""
    if isinstance(left, Tensor) or isinstance(right, Tensor):
        history = (left.history if isinstance(left, Tensor) else frozenset()) | (right.history if isinstance(right, Tensor) else frozenset())
        return Tensor(history, any(isinstance(v, Tensor) and v.symbolic for v in (left, right)))
    if isinstance(op, ast.Add) and isinstance(left, Seq) and isinstance(right, Seq):
        return Seq(left.items + right.items) if len(left.items) + len(right.items) <= MAX_FOLDED else UNKNOWN
    if isinstance(left, Const) and isinstance(right, Const) and type(op) in _FOLD:
        a, b = left.value, right.value
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        same_text = isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, tuple))
        if numbers and abs(a) < 1e15 and abs(b) < 1e15 or same_text and len(a) + len(b) <= MAX_FOLDED:
            try:
                return Const(_FOLD[type(op)](a, b))
            except (ArithmeticError, TypeError, ValueError):
                return UNKNOWN
    return UNKNOWN


class Expressions(Host):
    """What an expression evaluates to, abstractly; calls may record facts along the way."""

    def __init__(self) -> None:
        self.scope: Scope = Scope(None, None)
        self.star_imports: list[str] = []  # `from keras.applications import *`
        self._expr: dict[type, Callable[[Any], Value]] = {
            ast.Attribute: self._e_attribute,
            ast.Call: self._e_call,
            ast.Subscript: self._e_subscript,
            ast.Tuple: self._e_sequence,
            ast.List: self._e_sequence,
            ast.Dict: self._e_dict,
            ast.BinOp: self._e_binop,
            ast.UnaryOp: self._e_unaryop,
            ast.BoolOp: self._e_boolop,
            ast.Compare: self._e_compare,
            ast.IfExp: self._e_ifexp,
            ast.Lambda: self._e_lambda,
            ast.NamedExpr: self._e_namedexpr,
            ast.Starred: self._e_inner,
            ast.Await: self._e_inner,
            ast.JoinedStr: self._e_fstring,
            ast.ListComp: self._e_comprehension,
            ast.SetComp: self._e_comprehension,
            ast.GeneratorExp: self._e_comprehension,
            ast.DictComp: self._e_comprehension,
        }

    def ev(self, node: ast.expr) -> Value:
        # Names and constants are most of all expressions: no dispatch for them.
        if isinstance(node, ast.Name):
            found = self.scope.lookup(node.id)
            return found if found is not None else self._unbound(node.id)
        if isinstance(node, ast.Constant):
            value = node.value
            if value is True:
                return TRUE
            if value is False:
                return FALSE
            if value is None:
                return NONE
            return Const(value)
        handler = self._expr.get(type(node))
        return handler(node) if handler is not None else UNKNOWN

    def _unbound(self, name: str) -> Value:
        if name in BUILTINS:
            return Ref(f"builtins.{name}")
        module = unimported_modules().get(name)
        if module is not None:
            return Ref(module)  # a snippet's `hub.KerasLayer(...)` whose import was left out
        for module in self.star_imports:
            candidate = f"{module}.{name}"
            if self.is_keras_name(candidate):
                return Ref(candidate)
        return UNKNOWN

    def _e_attribute(self, node: ast.Attribute) -> Value:
        owner = self.ev(node.value)
        name = node.attr
        if type(owner) is Ref:
            child = owner.children.get(name)
            if child is None:
                child = owner.children[name] = Ref(f"{owner.qname}.{name}")
                self.path_evidence(child.qname, node)
            return child
        if isinstance(owner, Instance):
            found = self.attribute_of_instance(owner, name)
            if found is not None:
                return found
            if owner.model_key is None:
                return UNKNOWN
        if isinstance(owner, Class):
            return owner.lookup(name) or UNKNOWN
        if isinstance(owner, Module):
            return self.module_attribute(owner, name)
        if isinstance(owner, Super):
            return self.super_attribute(owner, name)
        return self.keras_attribute(owner, name, node)

    def _e_call(self, node: ast.Call) -> Value:
        folded = self._literal_method(node)
        if folded is not None:
            return folded
        function = self.ev(node.func)
        pos: list[Value] = []
        star_unknown = kw_unknown = False
        for arg in node.args:
            if type(arg) is ast.Starred:
                value = self.ev(arg.value)
                if isinstance(value, Seq):
                    pos.extend(value.items)
                else:
                    star_unknown = True
                    if isinstance(value, Tensor):
                        pos.append(value)  # `f(*outputs)`: the tensors still flow into the call
            else:
                pos.append(self.ev(arg))
        kw: dict[str, Value] = {}
        for keyword in node.keywords:
            value = self.ev(keyword.value)
            if keyword.arg is not None:
                kw[keyword.arg] = value
            elif isinstance(value, Mapping):
                kw.update(value.items)
            else:
                kw_unknown = True
        args = Args(pos, kw, star_unknown, kw_unknown)
        if function is FOREIGN or function is UNKNOWN:  # most calls: someone else's code
            return args.passthrough(function)
        return self.invoke(function, args, node)

    def invoke(self, function: Value, args: Args, node: ast.AST) -> Value:
        if isinstance(function, Function):
            return self.invoke_function(function, args, node)
        if isinstance(function, Class):
            return self.instantiate(function, args, node)
        if isinstance(function, Instance) and function.model_key is None:
            method = function.cls.lookup("__call__")
            return self.invoke_function(method.bind(function), args, node) if method else args.passthrough(UNKNOWN)
        return self.invoke_keras(function, args, node)

    def _e_subscript(self, node: ast.Subscript) -> Value:
        owner = self.ev(node.value)
        index = node.slice
        if isinstance(owner, LayerSet):
            if isinstance(index, ast.Slice):
                whole = index.lower is None and index.upper is None and index.step is None
                span = self._span(index) if not owner.some else None
                return LayerSet(owner.key, owner.some or not whole, span)
            return self.layer_at(owner, self.ev(index))
        key = self.ev(index) if not isinstance(index, ast.Slice) else UNKNOWN
        if isinstance(owner, Tensor):
            return owner
        if isinstance(owner, Seq) and isinstance(key, Const) and isinstance(key.value, int):
            try:
                return owner.items[key.value]
            except IndexError:
                return UNKNOWN
        if isinstance(owner, Mapping) and isinstance(key, Const) and isinstance(key.value, str):
            return owner.items.get(key.value, UNKNOWN)
        if isinstance(owner, (Seq, Mapping)):
            # `self.backbones[name]` with an unknown key: when every entry is the same constructor
            # family, any entry stands for them all.
            entries = list(owner.items if isinstance(owner, Seq) else owner.items.values())
            return entries[0] if entries and self.interchangeable(entries) else UNKNOWN
        return FOREIGN if owner is FOREIGN else UNKNOWN

    def _e_sequence(self, node: ast.Tuple | ast.List) -> Value:
        items: list[Value] = []
        for element in node.elts:
            if type(element) is ast.Starred:
                value = self.ev(element.value)
                if isinstance(value, Seq):
                    items.extend(value.items)
                else:
                    # `[*model.output, *y_true]`: a model's list of outputs stays a tensor
                    items.append(value if isinstance(value, Tensor) else UNKNOWN)
            else:
                items.append(self.ev(element))
        return Seq(items)

    def _e_dict(self, node: ast.Dict) -> Value:
        items: dict[str, Value] = {}
        for key, value in zip(node.keys, node.values):
            evaluated = self.ev(value)
            if key is None:
                if isinstance(evaluated, Mapping):
                    items.update(evaluated.items)
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                items[key.value] = evaluated
            else:
                self.ev(key)
        return Mapping(items)

    def _e_binop(self, node: ast.BinOp) -> Value:
        # Long chains (`a + b + c + ...`) nest to the left: walk them without recursion.
        chain = []
        while isinstance(node, ast.BinOp):
            chain.append(node)
            node = node.left  # type: ignore[assignment]
        value = self.ev(node)
        for step in reversed(chain):
            value = fold(step.op, value, self.ev(step.right))
        return value

    def _e_unaryop(self, node: ast.UnaryOp) -> Value:
        operand = self.ev(node.operand)
        if isinstance(operand, Const):
            try:
                if isinstance(node.op, ast.Not):
                    return Const(not operand.value)
                if isinstance(node.op, ast.USub) and isinstance(operand.value, (int, float)):
                    return Const(-operand.value)
            except Exception:  # noqa: BLE001 - odd constant
                return UNKNOWN
        return operand if isinstance(operand, Tensor) else UNKNOWN

    def _e_boolop(self, node: ast.BoolOp) -> Value:
        values = [self.ev(v) for v in node.values]
        constants = [v for v in values if isinstance(v, Const)]
        if len(constants) == len(values):
            result = constants[0]
            for value in constants[1:]:
                if isinstance(node.op, ast.And) == bool(result.value):
                    result = value
            return result
        tensors = [v for v in values if isinstance(v, Tensor)]
        return Tensor(frozenset().union(*(t.history for t in tensors)), any(t.symbolic for t in tensors)) if tensors else UNKNOWN

    def _e_compare(self, node: ast.Compare) -> Value:
        left = self.ev(node.left)
        comparators = [self.ev(c) for c in node.comparators]
        constants = [c for c in comparators if isinstance(c, Const)]
        if not isinstance(left, Const) or len(constants) != len(comparators):
            return UNKNOWN
        current = left.value
        for op, right in zip(node.ops, constants):
            try:
                if not _COMPARE[type(op)](current, right.value):
                    return FALSE
            except Exception:  # noqa: BLE001 - comparing unrelated constants
                return UNKNOWN
            current = right.value
        return TRUE

    def _e_ifexp(self, node: ast.IfExp) -> Value:
        test = self.ev(node.test)
        if isinstance(test, Const):
            return self.ev(node.body if test.value else node.orelse)
        return merge_returns([self.ev(node.body), self.ev(node.orelse)])

    def _e_lambda(self, node: ast.Lambda) -> Value:
        return self._function(node)

    def _e_namedexpr(self, node: ast.NamedExpr) -> Value:
        value = self.ev(node.value)
        self.scope.assign(node.target.id, value)
        return value

    def _e_inner(self, node: ast.Starred | ast.Await) -> Value:
        return self.ev(node.value)

    def _e_fstring(self, node: ast.JoinedStr) -> Value:
        """An f-string of known parts is a known string (`f"https://tfhub.dev/{family}/5"`)."""
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            if not isinstance(value, ast.FormattedValue) or value.format_spec is not None or value.conversion not in (-1, 115):
                return UNKNOWN
            inner = self.ev(value.value)
            if not isinstance(inner, Const):
                return UNKNOWN
            parts.append(str(inner.value))
        text = "".join(parts)
        return Const(text) if len(text) <= MAX_FOLDED else UNKNOWN

    def _span(self, index: ast.Slice) -> tuple[int | None, int | None] | None:
        """A slice's bounds when both are absent or integer constants, and it has no step."""
        if index.step is not None:
            return None
        bounds: list[int | None] = []
        for bound in (index.lower, index.upper):
            value = self.ev(bound) if bound is not None else NONE
            if value is NONE:
                bounds.append(None)
            elif isinstance(value, Const) and type(value.value) is int:
                bounds.append(value.value)
            else:
                return None
        return bounds[0], bounds[1]

    def _literal_method(self, node: ast.Call) -> Value | None:
        """`"…{}".format(name)` and `table.get(key)` on known values; None when it is not one."""
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("format", "get") or node.keywords:
            return None
        if not isinstance(func.value, (ast.Constant, ast.Name, ast.Attribute)):
            return None  # `f(x).format(...)`: evaluating the receiver twice could record facts twice
        receiver = self.ev(func.value)
        if not isinstance(receiver, (Const, Mapping)):
            return None
        values = [self.ev(a) for a in node.args if not isinstance(a, ast.Starred)]
        args = [a for a in values if isinstance(a, Const)]
        if len(args) != len(node.args):
            return UNKNOWN
        if func.attr == "format" and isinstance(receiver, Const) and isinstance(receiver.value, str):
            try:
                text = receiver.value.format(*(a.value for a in args))
            except (IndexError, KeyError, ValueError, AttributeError):
                return UNKNOWN
            return Const(text) if len(text) <= MAX_FOLDED else UNKNOWN
        if func.attr == "get" and isinstance(receiver, Mapping) and args and isinstance(args[0].value, str):
            return receiver.items.get(args[0].value, args[1] if len(args) > 1 else NONE)
        return None

    def _e_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> Value:
        """The element evaluated once, its targets unknown (each item of a short literal list when
        there is one generator): `[base.get_layer(n).output for n in names]` is a list of base's
        outputs. Comprehension variables live in their own scope, as in Python 3."""
        saved = self.scope
        self.scope = Scope(saved, saved.module)
        factor = 1
        try:
            first, *rest = node.generators
            iterable = self.ev(first.iter)
            unroll = isinstance(iterable, Seq) and not rest and len(iterable.items) <= MAX_UNROLLED \
                and self.unrolling * len(iterable.items) <= UNROLL_NESTED
            items = iterable.items if unroll and isinstance(iterable, Seq) else [UNKNOWN]
            factor = max(len(items), 1)
            self.unrolling *= factor
            for generator in rest:
                self.ev(generator.iter)
                self._bind_unknown(generator.target)
            results = []
            for item in items:
                self._bind_value(first.target, item)
                for condition in (c for g in node.generators for c in g.ifs):
                    self.ev(condition)
                if isinstance(node, ast.DictComp):
                    self.ev(node.key)
                    results.append(self.ev(node.value))
                else:
                    results.append(self.ev(node.elt))
        finally:
            self.scope = saved
            self.unrolling //= factor
        return Seq(results) if not isinstance(node, ast.DictComp) else UNKNOWN

    def _bind_unknown(self, target: ast.expr) -> None:
        for name in ast.walk(target):
            if isinstance(name, ast.Name):
                self.scope.vars[name.id] = UNKNOWN

    def _bind_value(self, target: ast.expr, value: Value) -> None:
        if isinstance(target, ast.Name):
            self.scope.vars[target.id] = value
        else:
            self._bind_unknown(target)


def merge_returns(values: list[Value]) -> Value:
    """What a function returns when its returns disagree: a model only if every path agrees."""
    meaningful = [v for v in values if v is not NONE and v is not UNKNOWN]
    if not meaningful:
        return values[0] if len(values) == 1 else UNKNOWN
    first = meaningful[0]
    if all(v is first or (isinstance(v, ModelRef) and isinstance(first, ModelRef) and v.key == first.key) for v in meaningful):
        return first
    tensors = [v for v in meaningful if isinstance(v, Tensor)]
    if len(tensors) == len(meaningful):
        return Tensor(frozenset().union(*(t.history for t in tensors)), any(t.symbolic for t in tensors))
    return UNKNOWN
