"""A project module read on demand: a top-level statement runs only when a name it defines is used.

Importing `models/__init__.py` that imports fifty submodules costs nothing until the script uses
one of their names; a script that uses `build_backbone` runs that `def` and what it needs, once.
Statements that define no name (a module-level `fit()` in a script someone imports) never run:
importing a module is not running it as a program.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator


def defined_names(stmt: ast.stmt) -> Iterator[str]:
    """The module-level names a statement binds (for `if`/`try` blocks: anything bound inside)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name != "*":
                yield alias.asname or alias.name.partition(".")[0]
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    yield node.id
    elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For)) or type(stmt).__name__ == "TryStar":
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                yield from defined_names(child)
            elif isinstance(child, ast.ExceptHandler):
                for inner in child.body:
                    yield from defined_names(inner)


class LazyModule:
    """Which statement defines each name of one module, and which have run."""

    def __init__(self, tree: ast.Module, run: Callable[[ast.stmt], None]) -> None:
        self._run = run  # runs one statement in the module's scope
        self._defining: dict[str, list[ast.stmt]] = {}
        self._stars: list[ast.stmt] = []  # `from x import *`: may define any name
        self._done: set[int] = set()
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                self._stars.append(stmt)
            for name in defined_names(stmt):
                self._defining.setdefault(name, []).append(stmt)

    def _once(self, stmt: ast.stmt) -> None:
        if id(stmt) not in self._done:
            self._done.add(id(stmt))  # first: a statement that needs its own name finds it unbound
            self._run(stmt)

    def load(self, name: str) -> None:
        """Run what defines `name` (every binding of it, in order: the last one wins, as in Python)."""
        statements = self._defining.get(name)
        if statements is None:
            for stmt in self._stars:
                self._once(stmt)
            return
        for stmt in statements:
            self._once(stmt)

