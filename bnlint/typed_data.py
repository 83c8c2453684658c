"""Rebuild dataclasses from JSON data, checking every field against its type annotation.

For data bnlint reads back (cache entries): a value of the wrong type, an unknown field or a
missing one is a `TypeError` here, never an object that fails later, somewhere else.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


@cache
def _fields(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """(annotation by field name, the fields without a default) of a dataclass."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = frozenset(f.name for f in fields
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    return {f.name: hints[f.name] for f in fields}, required


def build(cls: type[T], data: object) -> T:
    """An instance of the dataclass `cls` from a JSON object; TypeError when `data` does not fit."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: not an object")
    annotations, required = _fields(cls)
    unknown = data.keys() - annotations.keys()
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown fields {sorted(map(str, unknown))}")
    if not required <= data.keys():
        raise TypeError(f"{cls.__name__}: missing fields {sorted(required - data.keys())}")
    return cls(**{name: value_of(annotations[name], value) for name, value in data.items()})


def value_of(annotation: Any, value: object) -> Any:
    """`value` as `annotation` types it (lists become tuples where a tuple is declared)."""
    origin = get_origin(annotation)
    if annotation is Any:
        return _json(value)
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value)  # type: ignore[arg-type]
    if origin is Literal:
        # `True == 1`: a literal matches only a value of its own type.
        if any(value == option and type(value) is type(option) for option in get_args(annotation)):
            return value
        raise TypeError(f"{value!r} is not one of {get_args(annotation)}")
    if origin in (Union, types.UnionType):
        for option in get_args(annotation):
            try:
                return value_of(option, value)
            except TypeError:
                continue
        raise TypeError(f"{type(value).__name__} is not {annotation}")
    if origin is tuple or annotation is tuple:
        if not isinstance(value, list):
            raise TypeError("not a list")
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(value_of(args[0], item) for item in value)
        if not args:
            return tuple(_json(item) for item in value)
        if len(args) != len(value):
            raise TypeError(f"{len(value)} items, not {len(args)}")
        return tuple(value_of(arg, item) for arg, item in zip(args, value))
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise TypeError("not an object")
        key_type, value_type = get_args(annotation) or (str, Any)
        return {value_of(key_type, k): value_of(value_type, v) for k, v in value.items()}
    if annotation is type(None):
        if value is None:
            return None
        raise TypeError("not null")
    if annotation is float:
        if type(value) in (int, float):
            return float(value)  # type: ignore[arg-type]
        raise TypeError("not a number")
    if annotation in (str, int, bool):
        if type(value) is annotation:  # exactly: a bool is not an int here
            return value
        raise TypeError(f"not {annotation.__name__}")
    raise TypeError(f"cannot check {annotation}")


def _json(value: object) -> object:
    """Any JSON value, checked to be one (strings as keys)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json(v) for k, v in value.items()}
    raise TypeError(f"not a JSON value: {type(value).__name__}")
