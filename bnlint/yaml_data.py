"""Parse YAML data files (rules, knowledge, configuration) safely, with libyaml's C parser when present.

Safe means no Python objects constructed (a safe loader), and bounded: YAML aliases let a 1 KB
file stand for a billion values (nine anchors of nine aliases each), which every consumer that
walks the data then pays for. A document whose aliases expand beyond MAX_NODES nodes is refused
before it is constructed, as is a text over TEXT_LIMIT.
"""

from __future__ import annotations

import yaml

# The C loader is several times faster; loading the rules is part of every run's start-up.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError

# The largest rule file has ~1,500 nodes; a configuration file, a few dozen.
MAX_NODES = 100_000
TEXT_LIMIT = 16 * 2**20


class TooLarge(yaml.YAMLError):
    """A YAML text or document too large to load (its `str()` is one line)."""


class InvalidYAML(yaml.YAMLError):
    """PyYAML's error in one line: what is wrong and where (PyYAML's own spans three)."""


def _one_line(exc: yaml.YAMLError) -> InvalidYAML:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or next(iter(str(exc).splitlines()), "") or "invalid YAML"
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return InvalidYAML(f"{problem}{where}")


def _check_expansion(text: str) -> None:
    """Count the nodes of each document as it would be constructed, aliases expanded, from the
    parser's events (no objects built); raise TooLarge past MAX_NODES."""
    sizes: dict[str, int] = {}  # anchor -> nodes it expands to
    open_collections: list[list] = []  # [nodes so far, anchor] of each collection being read
    total = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_collections.append([1, event.anchor])
            continue
        if isinstance(event, yaml.AliasEvent):
            nodes = sizes.get(event.anchor, 1)  # an undefined alias is the composer's error to report
        elif isinstance(event, yaml.ScalarEvent):
            nodes = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            nodes, anchor = open_collections.pop()
            if anchor:
                sizes[anchor] = nodes
        else:
            continue
        if open_collections:
            open_collections[-1][0] += nodes
            count = open_collections[-1][0]
        else:
            total += nodes
            count = total
        if count > MAX_NODES:
            raise TooLarge(f"too large to load: its aliases expand to more than {MAX_NODES:,} values")


def load(text: str):
    """The data of one YAML document; YAMLError (one line) for invalid or oversized YAML."""
    if len(text) > TEXT_LIMIT:
        raise TooLarge(f"too large to load ({len(text)} characters, limit {TEXT_LIMIT})")
    try:
        if "*" in text:  # only aliases expand; a text without any is loaded directly
            _check_expansion(text)
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
    except TooLarge:
        raise
    except yaml.YAMLError as exc:
        raise _one_line(exc) from None
    except RecursionError:  # the pure-Python loader recurses once per level of nesting
        raise InvalidYAML("nested too deeply to load") from None
