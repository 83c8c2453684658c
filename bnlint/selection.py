"""Which rules are on: `select`, `extend-select`, `ignore` and per-file ignores, ruff-style prefixes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatch

from bnlint.config import ConfigError, Settings
from bnlint.rules import Rule


def _matches(rule_id: str, codes: Iterable[str]) -> bool:
    # "BN" selects every BN rule, "BN00" a family, "BN001" one rule, "ALL" everything.
    return any(code == "ALL" or rule_id.startswith(code) for code in codes)


def check_codes(settings: Settings, rules: Iterable[Rule]) -> None:
    """Reject codes that select nothing: a typo in `--select` must not silently disable the linter."""
    ids = [r.id for r in rules]
    codes = [*(settings.select or ()), *settings.extend_select, *settings.ignore]
    codes += [c for ids_ in settings.per_file_ignores.values() for c in ids_]
    for code in codes:
        if code != "ALL" and not any(i.startswith(code.upper()) for i in ids):
            raise ConfigError(f"unknown rule selector {code!r}; rules: {', '.join(ids)}")


def enabled_rules(settings: Settings, rules: Iterable[Rule]) -> set[str]:
    rules = list(rules)
    if settings.select is None:
        chosen = {r.id for r in rules if r.enabled_by_default}
    else:
        chosen = {r.id for r in rules if _matches(r.id, settings.select)}
    chosen |= {r.id for r in rules if _matches(r.id, settings.extend_select)}
    return {i for i in chosen if not _matches(i, settings.ignore)}


def file_filter(settings: Settings, display_path: str) -> Callable[[str], bool]:
    """Rule ids still on for one file once `per-file-ignores` are applied."""
    ignored = [ids for glob, ids in settings.per_file_ignores.items() if fnmatch(display_path, glob) or fnmatch(display_path, f"*/{glob}")]
    return lambda rule_id: not any(_matches(rule_id, ids) for ids in ignored)
