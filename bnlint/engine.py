"""The rule engine: match rules against a Unit's facts and turn matches into findings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from bnlint import records, suppressions
from bnlint.findings import Finding, Related, Subject
from bnlint.ir import Unit
from bnlint.match import MISSING, lookup
from bnlint.rules import Rule, pick

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


def _snippet(unit: Unit, location: dict) -> tuple[str, ...]:
    """The offending source lines (at most SNIPPET_LINES): what the text format shows under a finding."""
    lines, line = unit.sources.get(location["cell"]), location["line"]
    if not lines or line is None or not 1 <= line <= len(lines):
        return ()
    last = min(location["end_line"] or line, line + SNIPPET_LINES - 1, len(lines))
    return tuple(lines[line - 1 : last])


def _anchor(unit: Unit, finding: Finding) -> str:
    """What identifies a finding's place regardless of line numbers: the code of its line."""
    lines = unit.sources.get(finding.cell)
    if lines and finding.line and 1 <= finding.line <= len(lines):
        return " ".join(lines[finding.line - 1].split())
    return finding.layer_path or ""


def _subject(fact: str, record: dict) -> Subject:
    """The model a record is about, typed: what the confirmer and the fixers act on."""
    if fact == "trainable_change":
        model = record.get("reached") or record.get("target") or {}
        target = record.get("target") or {}
        extra = {"unfrozen": target.get("name"), "unfrozen_architecture": target.get("architecture"),
                 "unfrozen_opaque": bool(target.get("opaque"))} if record.get("value") is True else {}
        composition, training = None, None
    elif fact == "call":
        model, extra = record.get("callee") or {}, {}
        composition, training = record.get("composition"), record.get("training")
    else:
        model, extra = record if fact == "model" else (record.get("model") or {}), {}
        composition, training = None, None
    return Subject(
        name=str(model.get("name") or ""), cls=str(model.get("cls") or ""), kind=model.get("kind") or "model",
        architecture=model.get("architecture"), arguments=dict(model.get("arguments") or {}),
        opaque=bool(model.get("opaque")), composition=composition, training=training,
        called_with_training_false=bool(model.get("called_with_training_false")), **extra,
    )


def _related(fact: str, record: dict) -> tuple[Related, ...]:
    compile_at = record.get("last_compile") if fact == "fit" else None
    if not compile_at:
        return ()
    return (Related("compile", "the last compile() before it", compile_at.get("line"), compile_at.get("column"), compile_at.get("cell")),)


def _finding(rule: Rule, fact: str, record: dict, unit: Unit) -> Finding:
    location = record["location"]
    runtime = unit.runtime.target
    verdict = record.get("verdict") or _DEFAULT_VERDICT.get(rule.severity_for(None), "latent")
    return Finding(
        rule=rule.id,
        name=rule.name,
        severity=rule.severity_for(verdict),  # type: ignore[arg-type]
        verdict=verdict,
        message=render(pick(rule.message, runtime, verdict), record),
        fix=render(pick(rule.fix, runtime, verdict), record),
        path=unit.path,
        runtime=unit.runtime,
        line=location["line"],
        column=location["column"],
        end_line=location["end_line"],
        end_column=location["end_column"],
        cell=location["cell"],
        layer_path=location["layer_path"],
        input=unit.kind,
        subject=_subject(fact, record),
        related=_related(fact, record),
        fixer=rule.script_fixer if unit.kind == "script" else rule.model_fixer if unit.kind == "model" else None,
        snippet=_snippet(unit, location),
    )


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
    seen: Counter = Counter()
    for finding in sorted(findings + suppressed, key=Finding.sort_key):
        anchor = _anchor(unit, finding)
        finding.anchor = anchor
        finding.occurrence = seen[(finding.rule, finding.cell, anchor)]
        seen[(finding.rule, finding.cell, anchor)] += 1
    return findings, suppressed
