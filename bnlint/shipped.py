"""Where the data shipped with bnlint is: the built-in rules and what bnlint knows about Keras."""

from __future__ import annotations

from pathlib import Path


def builtin_rules_dir() -> Path:
    """The shipped rules: inside the wheel as `bnlint/_rules`, in a checkout as `rules/`."""
    packaged = Path(__file__).parent / "_rules"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "rules"


def knowledge_dir() -> Path:
    """The knowledge files (`rules/knowledge/*.yaml`): constructors, layer classes, runtime evidence."""
    return builtin_rules_dir() / "knowledge"
