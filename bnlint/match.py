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

from collections.abc import Callable
from typing import Any

MISSING = object()


class MatchError(ValueError):
    """A malformed condition in a rule file."""


def lookup(record: dict, path: tuple[str, ...]) -> Any:
    """The value at a split dotted path (`("callee", "frozen")`), or MISSING."""
    value: Any = record
    for part in path:
        if type(value) is not dict:
            return MISSING
        value = value.get(part, MISSING)
    return value


def _equals(path: tuple[str, ...], expected: Any, where: str) -> Callable[[dict], bool]:
    # Compare (type, value) pairs: `True == 1` in Python, but a rule saying `true` must not
    # match a count of 1, nor `"true"` a boolean. A missing field never matches, not even None.
    values = expected if isinstance(expected, list) else [expected]
    if not all(v is None or isinstance(v, (bool, int, float, str)) for v in values):
        raise MatchError(f"{where}: `{'.'.join(path)}` is compared with a value or a list of values, not {str(expected)[:60]}")
    accepted = frozenset((type(a), a) for a in values)

    def test(record: dict) -> bool:
        value = lookup(record, path)
        try:
            return (type(value), value) in accepted
        except TypeError:  # an unhashable value (a list, a mapping) equals no scalar
            return False

    return test


def compile_condition(condition: Any, where: str = "rule") -> Callable[[dict], bool]:
    """Validate a condition once, at rule load time, and turn it into a fast predicate."""
    if isinstance(condition, list):
        parts = [compile_condition(c, where) for c in condition]
        return lambda record: all(p(record) for p in parts)
    if not isinstance(condition, dict) or not condition:
        raise MatchError(f"{where}: a condition must be a non-empty mapping, not {str(condition)[:60]}")
    parts = []
    for key, expected in condition.items():
        if key in ("all", "any"):
            if not isinstance(expected, list):
                raise MatchError(f"{where}: `{key}` takes a list of conditions")
            subs = [compile_condition(c, where) for c in expected]
            combine = all if key == "all" else any
            parts.append(lambda record, subs=subs, combine=combine: combine(p(record) for p in subs))
        elif key == "not":
            sub = compile_condition(expected, where)
            parts.append(lambda record, sub=sub: not sub(record))
        else:
            parts.append(_equals(tuple(str(key).split(".")), expected, where))
    if len(parts) == 1:
        return parts[0]
    return lambda record: all(p(record) for p in parts)


def matches(condition: Any, record: dict) -> bool:
    return compile_condition(condition)(record)
