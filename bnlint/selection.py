"""Which rules are on: `select`, `extend-select`, `ignore`, per-file ignores and rule status, as ruff does.

Codes are ids or prefixes (`BN` every rule, `BN00` a family, `ALL` everything). A rule's status
decides what selecting it does:

- stable: on by default, and whenever a code selects it;
- preview: only with `--preview` (`preview = true`): then on by default and by any code that
  selects it; selecting it by its exact id without preview is a warning that it has no effect;
- deprecated: only when selected by its exact id, with a warning; never by a prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatch

from bnlint.config import ConfigError, Settings
from bnlint.rules import Rule


def _matches(rule_id: str, codes: Iterable[str]) -> bool:
    return any(code == "ALL" or rule_id.startswith(code) for code in codes)


def check_codes(settings: Settings, rules: Iterable[Rule]) -> None:
    """Reject codes that select nothing: a typo in `--select` must not silently disable the linter."""
    ids = [r.id for r in rules]
    codes = [*(settings.select or ()), *settings.extend_select, *settings.ignore]
    codes += [c for ids_ in settings.per_file_ignores.values() for c in ids_]
    for code in codes:
        if code != "ALL" and not any(i.startswith(code.upper()) for i in ids):
            raise ConfigError(f"unknown rule selector {code!r}; rules: {', '.join(ids)}")


def _selected(rule: Rule, codes: Iterable[str], preview: bool) -> bool:
    codes = tuple(codes)
    if rule.status == "deprecated":
        return rule.id in codes
    if rule.status == "preview" and not preview:
        return False
    return _matches(rule.id, codes)


def enabled_rules(settings: Settings, rules: Iterable[Rule]) -> set[str]:
    rules = list(rules)
    if settings.select is None:
        chosen = {r.id for r in rules if r.enabled_by_default or (settings.preview and r.status == "preview")}
    else:
        chosen = {r.id for r in rules if _selected(r, settings.select, settings.preview)}
    chosen |= {r.id for r in rules if _selected(r, settings.extend_select, settings.preview)}
    return {i for i in chosen if not _matches(i, settings.ignore)}


def selection_notes(settings: Settings, rules: Iterable[Rule]) -> list[str]:
    """One warning per rule whose status changes what its selection does (ruff's wording)."""
    named = {*(settings.select or ()), *settings.extend_select}
    notes = []
    for rule in rules:
        if rule.id not in named or _matches(rule.id, settings.ignore):
            continue
        if rule.status == "deprecated":
            notes.append(f"rule {rule.id} ({rule.name}) is deprecated and will be removed in a future release")
        elif rule.status == "preview" and not settings.preview:
            notes.append(f"selection {rule.id} has no effect because preview is not enabled (--preview)")
    return notes


def file_filter(settings: Settings, project_path: str) -> Callable[[str], bool]:
    """Rule ids still on for one file once `per-file-ignores` are applied. Patterns are globs over the
    file's path relative to the configuration's folder, or over its name alone (ruff's semantics)."""
    name = project_path.rsplit("/", 1)[-1]
    ignored = [ids for glob, ids in settings.per_file_ignores.items()
               if fnmatch(project_path, glob) or ("/" not in glob.strip("/") and fnmatch(name, glob))]
    return lambda rule_id: not any(_matches(rule_id, ids) for ids in ignored)
