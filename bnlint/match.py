"""Evaluate a rule's declarative `match` conditions against one fact record.

A condition is a mapping. Keys are dotted paths into the record (`callee.frozen`)
compared with a value, or a list of accepted values; `all`, `any` and `not` combine
conditions. A list of conditions means all of them.

    - callee.frozen: true
    - training: [absent, dynamic, true]
    - any:
        - callee.kind: model
        - training: true
"""

from __future__ import annotations

from typing import Any

MISSING = object()


class MatchError(ValueError):
    """A malformed condition in a rule file."""


def lookup(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _compare(actual: Any, expected: Any) -> bool:
    if actual is MISSING:
        return False
    if isinstance(expected, list):
        return any(_compare(actual, e) for e in expected)
    return actual == expected


def matches(condition: Any, record: dict) -> bool:
    if isinstance(condition, list):
        return all(matches(c, record) for c in condition)
    if not isinstance(condition, dict):
        raise MatchError(f"a condition must be a mapping or a list, not {condition!r}")
    for key, expected in condition.items():
        if key == "all":
            ok = matches(list(expected), record)
        elif key == "any":
            ok = any(matches(c, record) for c in expected)
        elif key == "not":
            ok = not matches(expected, record)
        else:
            ok = _compare(lookup(record, key), expected)
        if not ok:
            return False
    return True


def validate(condition: Any, where: str) -> None:
    """Fail early, at rule load time, on conditions that could never be evaluated."""
    if isinstance(condition, list):
        for c in condition:
            validate(c, where)
        return
    if not isinstance(condition, dict) or not condition:
        raise MatchError(f"{where}: a condition must be a non-empty mapping, not {condition!r}")
    for key, expected in condition.items():
        if key in ("all", "any"):
            if not isinstance(expected, list):
                raise MatchError(f"{where}: `{key}` takes a list of conditions")
            validate(expected, where)
        elif key == "not":
            validate(expected, where)
