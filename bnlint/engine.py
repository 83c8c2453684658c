"""The rule engine: match rules against a Unit's facts and turn matches into findings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from bnlint import records, suppressions
from bnlint.findings import Finding, Related, Subject
from bnlint.fix import fixer_for
from bnlint.ir import Runtime, Unit
from bnlint.match import MISSING, lookup
from bnlint.rules import Rule, pick
from bnlint.vocabulary import VERDICT_SEVERITY

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
# The fact that the suppression pass produces (unused directives), matched after every other rule.
SUPPRESSION_FACT = "suppression"
# Lines of a multi-line finding shown in its snippet.
SNIPPET_LINES = 4


def render(template: str, record: dict) -> str:
    """Fill `{callee.name}`-style placeholders from a fact record; unknown ones stay visible."""

    def value(m: re.Match) -> str:
        found = lookup(record, tuple(m.group(1).split(".")))
        return m.group(0) if found is MISSING else str(found)

    return _PLACEHOLDER.sub(value, template)


def lines_of(unit: Unit, path: str, cell: int | None) -> list[str] | None:
    """The source lines a place's line numbers count in: a cell of the unit, or another project
    module (a helper defined there) when `path` is not the unit's own."""
    if path != unit.path:
        return unit.extra_sources.get(path)
    return unit.sources.get(cell)


def _snippet(unit: Unit, path: str, location: dict) -> tuple[str, ...]:
    """The offending source lines (at most SNIPPET_LINES): what the text format shows under a finding."""
    lines, line = lines_of(unit, path, location["cell"]), location["line"]
    if not lines or line is None or not 1 <= line <= len(lines):
        return ()
    last = min(location["end_line"] or line, line + SNIPPET_LINES - 1, len(lines))
    return tuple(lines[line - 1 : last])


def _anchor(unit: Unit, finding: Finding) -> str:
    """What identifies a finding's place regardless of line numbers: the code of its line."""
    lines = lines_of(unit, finding.path, finding.cell)
    if lines and finding.line and 1 <= finding.line <= len(lines):
        return " ".join(lines[finding.line - 1].split())
    return finding.layer_path or ""


def _subject(fact: str, record: dict) -> Subject:
    """The model a record is about, typed: what the confirmer and the fixers act on."""
    extra: dict = {}
    composition = training = None
    if fact == "base":
        model = record.get("callee") or {}
        composition, training = record.get("composition"), record.get("training")
        unfrozen = (record.get("unfreeze") or {}).get("target") or {}
        if record.get("site") == "unfreeze" and unfrozen:
            extra = {"unfrozen": unfrozen.get("name"), "unfrozen_architecture": unfrozen.get("architecture"),
                     "unfrozen_opaque": bool(unfrozen.get("opaque"))}
    elif fact == "call":
        model = record.get("callee") or {}
        composition, training = record.get("composition"), record.get("training")
    elif fact == "trainable_change":
        model = record.get("target") or {}
    elif fact == "fit":
        change = record.get("change") or {}
        model = change.get("target") or record.get("model") or {}
        if change.get("value") is True:  # the stale change is an unfreeze (BN003's usual case)
            extra = {"unfrozen": model.get("name"), "unfrozen_architecture": model.get("architecture"),
                     "unfrozen_opaque": bool(model.get("opaque"))}
    else:
        model = record
        if record.get("unused_codes"):
            extra = {"unused_codes": tuple(record["unused_codes"])}
    return Subject(
        name=str(model.get("name") or ""), cls=str(model.get("cls") or ""), kind=model.get("kind") or "model",
        architecture=model.get("architecture"), arguments=dict(model.get("arguments") or {}),
        opaque=bool(model.get("opaque")), composition=composition, training=training,
        called_with_training_false=bool(model.get("called_with_training_false")), **extra,
    )


def _related(record: dict, finding_path: str, unit_path: str) -> tuple[Related, ...]:
    """The record's related places; a place in another file than the finding's names that file."""
    related = []
    for r in record.get("related") or ():
        path = r.get("path") or unit_path
        related.append(Related(r["role"], r["message"], r.get("line"), r.get("column"), r.get("cell"),
                               path=None if path == finding_path else path))
    return tuple(related)


def _finding(rule: Rule, fact: str, record: dict, unit: Unit) -> Finding:
    location = record["location"]
    runtime = record.get("runtime") or unit.runtime.target
    assumed = unit.runtime if runtime == unit.runtime.target else Runtime(runtime, record.get("runtime_source") or unit.runtime.source)
    verdict = record.get("verdict") or rule.verdict or _DEFAULT_VERDICT.get(rule.severity_for(None), "latent")
    path = location.get("path") or unit.path  # a helper in another module: found there
    return Finding(
        rule=rule.id,
        name=rule.name,
        severity=VERDICT_SEVERITY[verdict],  # type: ignore[index]
        verdict=verdict,
        message=render(pick(rule.message, runtime, verdict, unit.kind), record),
        fix=render(pick(rule.fix, runtime, verdict, unit.kind), record),
        path=path,
        runtime=assumed,
        line=location["line"],
        column=location["column"],
        end_line=location["end_line"],
        end_column=location["end_column"],
        cell=location["cell"],
        layer_path=location["layer_path"],
        input=unit.kind,
        subject=_subject(fact, record),
        related=_related(record, path, unit.path),
        fixer=fixer_for(rule.script_fixer, rule.model_fixer, unit.kind, runtime),
        snippet=_snippet(unit, path, location),
    )


def _keep_fixable(unit: Unit, findings: list[Finding]) -> None:
    """Let each script fixer say whether it will fix its finding: `[*]` marks only those."""
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.fixer is not None:
            by_path.setdefault(finding.path, []).append(finding)
    if not by_path:
        return
    from bnlint.fix.plan import keep_fixable  # `ast` only: the editing library is not loaded

    for path, group in by_path.items():
        lines = lines_of(unit, path, None)
        if lines is None:
            for finding in group:
                finding.fixer = None
        else:
            keep_fixable("\n".join(lines), group)


# Records that do not carry a verdict (user rules over plain facts) get one from the severity.
_DEFAULT_VERDICT = {"error": "active", "warning": "latent", "info": "note"}


def run_rules(unit: Unit, rules: Iterable[Rule], enabled: Callable[[str], bool] = lambda _id: True) -> list[Finding]:
    """All findings of the enabled rules on one unit, sorted, suppressions applied."""
    return check_unit(unit, rules, enabled)[0]


def check_unit(unit: Unit, rules: Iterable[Rule], enabled: Callable[[str], bool] = lambda _id: True) -> tuple[list[Finding], list[Finding]]:
    """(the findings reported, the findings a `# noqa` directive suppresses), each sorted."""
    rules = tuple(rules)
    found: dict[tuple, Finding] = {}
    cache: dict[str, list[dict]] = {}
    shared = records.Records(unit)
    deferred = []
    for rule in rules:
        if unit.kind not in rule.inputs or not enabled(rule.id):
            continue
        for alternative in rule.match:
            fact = alternative["fact"]
            if fact == SUPPRESSION_FACT:
                deferred.append((rule, alternative))  # needs to know what the other rules found
                continue
            if fact not in cache:
                cache[fact] = records.records(unit, fact, shared)
            for record in cache[fact]:
                if alternative["predicate"](record):
                    finding = _finding(rule, fact, record, unit)
                    # One finding per rule and place, however many paths led there.
                    key = (finding.rule, finding.cell, finding.line, finding.column, finding.layer_path)
                    found.setdefault(key, finding)
    known = {rule.id: rule.inputs for rule in rules}
    outcome = suppressions.apply(unit, found.values(), known, enabled)
    unused = [_finding(rule, SUPPRESSION_FACT, record, unit)
              for rule, alternative in deferred for record in outcome.records if alternative["predicate"](record)]
    # An unused-suppression finding can itself be suppressed (`noqa: BN100`), never reported unused.
    extra = suppressions.apply(unit, unused, {}, enabled, explicitly=True)
    findings = sorted(outcome.findings + extra.findings, key=Finding.sort_key)
    suppressed = sorted(outcome.suppressed + extra.suppressed, key=Finding.sort_key)
    if unit.kind == "script":
        _keep_fixable(unit, findings)
    seen: Counter = Counter()
    for finding in sorted(findings + suppressed, key=Finding.sort_key):
        anchor = _anchor(unit, finding)
        finding.anchor = anchor
        finding.occurrence = seen[(finding.rule, finding.cell, anchor)]
        seen[(finding.rule, finding.cell, anchor)] += 1
    return findings, suppressed
