"""The shipped data, what bnlint knows about Keras, the prefilter words, the rules and the script
reader are layers, each looking only down (imports anywhere in a module count, inside functions
too): knowledge.py -> rules.py -> frontends/python/source.py -> knowledge.py was once a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bnlint"

# Bottom first; a module may import only modules of the layers listed before its own.
LAYERS = [
    {"bnlint.shipped", "bnlint.yaml_data", "bnlint.safe_io", "bnlint.vocabulary"},
    {"bnlint.knowledge"},
    {"bnlint.prefilter"},
    {"bnlint.rules"},
    {"bnlint.frontends.python.source"},
]


def bnlint_imports(module: str) -> set[str]:
    """The bnlint modules `module` imports, wherever in it the import statement is."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bnlint"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).is_file() else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bnlint")}
    return found


@pytest.mark.parametrize("level", range(len(LAYERS)))
def test_each_layer_only_looks_down(level):
    above = set().union(*LAYERS[level:])  # its own layer and every layer above it
    for module in LAYERS[level]:
        assert not (bnlint_imports(module) & above - {module}), module
