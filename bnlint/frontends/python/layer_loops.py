"""Loops over `base.layers`: which layers an assignment to `layer.trainable` reaches.

Inside `for layer in base.layers:` an `if` narrows the layers the body touches. A guard is
"bn" (only BatchNormalization layers), "not_bn" (every layer but those) or "other" (some
layers, chosen by something we do not read: an index, a name).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeGuard

from bnlint.ir import TrainableChange

_INVERSE = {"bn": "not_bn", "not_bn": "bn", "other": "other"}
# Layer names Keras gives BatchNormalization layers ("conv1_bn", "bn_Conv1", "batch_normalization").
_BN_NAME_MARKERS = ("bn", "batch_norm", "batchnorm", "batchnormalization")


@dataclass
class LoopContext:
    """One `for` loop over the layers of a tracked model."""

    key: str
    span: tuple[int | None, int | None] | None = None  # the slice looped over, when its bounds are constants
    guards: list[str] = field(default_factory=list)
    changes: list[TrainableChange] = field(default_factory=list)


def classify(test: ast.expr, is_loop_layer: Callable[[ast.expr], bool], is_bn_class: Callable[[ast.expr], bool]) -> list[str]:
    """The guards an `if` test puts on its body (its `else` gets `invert(...)`)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return invert(classify(test.operand, is_loop_layer, is_bn_class))
    if isinstance(test, ast.BoolOp):
        parts = [classify(v, is_loop_layer, is_bn_class) for v in test.values]
        if isinstance(test.op, ast.And):
            return [g for part in parts for g in part]
        # `a or b` reaches BN layers only when both sides do.
        return ["bn"] if all(part == ["bn"] for part in parts) else ["other"]
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance" and len(test.args) == 2:
        subject, classes = test.args
        if is_loop_layer(subject):
            options = classes.elts if isinstance(classes, ast.Tuple) else [classes]
            if options and all(is_bn_class(c) for c in options):
                return ["bn"]
        return ["other"]
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare(test, is_loop_layer, is_bn_class)
    return ["other"]


def _compare(test: ast.Compare, is_loop_layer, is_bn_class) -> list[str]:
    op, left, right = test.ops[0], test.left, test.comparators[0]
    positive = isinstance(op, (ast.Is, ast.Eq, ast.In))
    negative = isinstance(op, (ast.IsNot, ast.NotEq, ast.NotIn))
    if not (positive or negative):
        return ["other"]
    # type(layer) is BatchNormalization
    if isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "type" and left.args:
        if is_loop_layer(left.args[0]) and is_bn_class(right) and not isinstance(op, (ast.In, ast.NotIn)):
            return ["bn"] if positive else ["not_bn"]
        return ["other"]
    # "bn" in layer.name / layer.__class__.__name__ == "BatchNormalization"
    text, subject = (left, right) if isinstance(op, (ast.In, ast.NotIn)) else (right, left)
    if isinstance(text, ast.Constant) and isinstance(text.value, str) and _names_layer(subject, is_loop_layer):
        if text.value.lower().replace("_", "") in {"bn", "batchnorm", "batchnormalization"} or (
            isinstance(op, (ast.In, ast.NotIn)) and text.value.lower() in _BN_NAME_MARKERS
        ):
            return ["bn"] if positive else ["not_bn"]
    return ["other"]


def _names_layer(node: ast.expr, is_loop_layer) -> bool:
    """`layer.name`, `layer.__class__.__name__`, `type(layer).__name__`."""
    if not isinstance(node, ast.Attribute) or node.attr not in ("name", "__name__"):
        return False
    inner = node.value
    if isinstance(inner, ast.Attribute) and inner.attr == "__class__":
        inner = inner.value
    elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "type" and inner.args:
        inner = inner.args[0]
    return is_loop_layer(inner)


def invert(guards: list[str]) -> list[str]:
    if len(guards) == 1:
        return [_INVERSE[guards[0]]]
    # not (a and b): reaches some layers we cannot name
    return ["other"]


def skips(stmt: ast.stmt) -> TypeGuard[ast.If]:
    """An `if` whose body only skips the rest of the loop: `if isinstance(l, BN): continue`."""
    return isinstance(stmt, ast.If) and not stmt.orelse and all(isinstance(s, (ast.Continue, ast.Pass)) for s in stmt.body) and any(
        isinstance(s, ast.Continue) for s in stmt.body
    )


def is_not_bn_test(node: ast.expr, is_loop_layer, is_bn_class) -> bool:
    """`layer.trainable = not isinstance(layer, BatchNormalization)`: unfreezes all but BN."""
    return classify(node, is_loop_layer, is_bn_class) == ["not_bn"]


def link_bn_freezes(context: LoopContext, keep_bn_frozen: Callable[[TrainableChange], None]) -> None:
    """An unfreeze followed, in the same loop, by `if isinstance(layer, BN): layer.trainable = False`
    keeps BatchNormalization frozen."""
    for change in context.changes:
        if change.value is True and change.scope != "batchnorm" and not change.keeps_bn_frozen:
            if any(o.scope == "batchnorm" and o.value is False and o.order > change.order for o in context.changes):
                keep_bn_frozen(change)
