"""What trains a model, syntactically: fit-like methods, and custom training steps.

A custom training step is a function, a `train_step` method, or a loop body that applies gradients
to weights (`optimizer.apply_gradients(...)`, `optimizer.minimize(...)`, Keras 3's
`self.optimizer.apply(...)`). Taking gradients alone is not training: FGSM and attribution code
differentiate with respect to the input and never update the model. The interpreter asks here, once
per function or loop, whether its body is such a step; models called while it runs are trained.
"""

from __future__ import annotations

import ast
import re

# Keras model methods that train the receiver (each is a training event).
FIT_METHODS = frozenset({"fit", "fit_generator", "train_on_batch"})
# Optimizer methods that change weights; `apply` only counts on something named like an optimizer.
_UPDATES = frozenset({"apply_gradients", "minimize"})
# Text that must appear in a module for any of its code to be a training step (a cheap pre-check).
STEP_WORDS = ("apply_gradients", "minimize", "train_step", ".apply(")
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _is_update(node: ast.Call) -> bool:
    func = node.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in _UPDATES:
        return True
    if func.attr == "apply":
        receiver = func.value
        name = receiver.attr if isinstance(receiver, ast.Attribute) else receiver.id if isinstance(receiver, ast.Name) else ""
        return "opt" in name.lower()
    return False


def _first_update(statements: list[ast.stmt]) -> ast.Call | None:
    """The first weight update in these statements, not looking into nested functions or classes."""
    pending: list[ast.AST] = list(reversed(statements))
    while pending:
        node = pending.pop()
        if isinstance(node, _NESTED):
            continue
        if isinstance(node, ast.Call) and _is_update(node):
            return node
        pending.extend(reversed(list(ast.iter_child_nodes(node))))
    return None


# A line that may hold a weight update: only functions and loops spanning one are searched.
UPDATE_LINE = re.compile(r"\.(?:apply_gradients|minimize)\s*\(|opt\w*\.apply\s*\(", re.IGNORECASE)


class StepFinder:
    """Memoised answers: is this function or loop a training step, and where does it update weights?"""

    def __init__(self) -> None:
        self._seen: dict[int, ast.AST | None] = {}
        self._update_lines: dict[int, list[int]] = {}  # by id of the module's lines: where updates may be

    def marker(self, node: ast.AST, lines: list[str] | None = None) -> ast.AST | None:
        """The node that makes `node` (a def, a lambda or a loop) a training step, or None.
        `lines`, the source it was parsed from, lets most functions be ruled out by line numbers."""
        key = id(node)
        if key not in self._seen:
            if lines is not None and not self._may_hold_update(node, lines):
                self._seen[key] = node if getattr(node, "name", None) == "train_step" else None
            else:
                self._seen[key] = self._marker(node)
        return self._seen[key]

    def _may_hold_update(self, node: ast.AST, lines: list[str]) -> bool:
        updates = self._update_lines.get(id(lines))
        if updates is None:
            updates = self._update_lines[id(lines)] = [n for n, text in enumerate(lines, start=1) if UPDATE_LINE.search(text)]
        start, end = getattr(node, "lineno", 0), getattr(node, "end_lineno", None) or 0
        return any(start <= n <= end for n in updates)

    @staticmethod
    def _marker(node: ast.AST) -> ast.AST | None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            update = _first_update(node.body)
            # Keras calls `train_step` from fit(); its body is a step whatever it calls to update.
            return update or (node if node.name == "train_step" else None)
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return _first_update(node.body)
        return None
