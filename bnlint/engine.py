"""The rule engine: match rules against a Unit's facts and turn matches into findings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from bnlint import records
from bnlint.findings import Finding
from bnlint.ir import Unit
from bnlint.match import MISSING, lookup
from bnlint.rules import Rule

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<ids>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*bnlint:\s*ignore(?:\[(?P<ids>[^\]]*)\])?")


def render(template: str, record: dict) -> str:
    """Fill `{callee.name}`-style placeholders from a fact record; unknown ones stay visible."""

    def value(m: re.Match) -> str:
        found = lookup(record, tuple(m.group(1).split(".")))
        return m.group(0) if found is MISSING else str(found)

    return _PLACEHOLDER.sub(value, template)


def suppressed_ids(line: str) -> frozenset[str] | None:
    """Rule ids a source line suppresses; an empty set means all; None means none."""
    if "#" not in line:
        return None
    for pattern in (_NOQA, _IGNORE):
        m = pattern.search(line)
        if m:
            ids = m.group("ids")
            return frozenset(i.strip().upper() for i in ids.split(",") if i.strip()) if ids else frozenset()
    return None


def _is_suppressed(unit: Unit, finding: Finding) -> bool:
    lines = unit.sources.get(finding.cell)
    if not lines or finding.line is None:
        return False
    last = finding.end_line or finding.line
    for number in {finding.line, last}:
        if 1 <= number <= len(lines):
            ids = suppressed_ids(lines[number - 1])
            if ids is not None and (not ids or finding.rule in ids):
                return True
    return False


def _anchor(unit: Unit, finding: Finding) -> str:
    """What identifies a finding's place regardless of line numbers: the code of its line."""
    lines = unit.sources.get(finding.cell)
    if lines and finding.line and 1 <= finding.line <= len(lines):
        return " ".join(lines[finding.line - 1].split())
    return finding.layer_path or ""


def _finding(rule: Rule, fact: str, record: dict, unit: Unit) -> Finding:
    location = record["location"]
    runtime = unit.runtime.target
    return Finding(
        rule=rule.id,
        name=rule.name,
        severity=rule.severity,  # type: ignore[arg-type]
        message=render(rule.for_runtime(rule.message, runtime), record),
        fix=render(rule.for_runtime(rule.fix, runtime), record),
        path=unit.path,
        runtime=unit.runtime,
        line=location["line"],
        column=location["column"],
        end_line=location["end_line"],
        end_column=location["end_column"],
        cell=location["cell"],
        layer_path=location["layer_path"],
        context={"fact": fact, "record": record},
    )


def run_rules(unit: Unit, rules: Iterable[Rule], enabled: Callable[[str], bool] = lambda _id: True) -> list[Finding]:
    """All findings of the enabled rules on one unit, sorted, suppressions applied."""
    found: dict[tuple, Finding] = {}
    cache: dict[str, list[dict]] = {}
    shared = records.Records(unit)
    for rule in rules:
        if unit.kind not in rule.inputs or not enabled(rule.id):
            continue
        for alternative in rule.match:
            fact = alternative["fact"]
            if fact not in cache:
                cache[fact] = records.records(unit, fact, shared)
            for record in cache[fact]:
                if alternative["predicate"](record):
                    finding = _finding(rule, fact, record, unit)
                    # One finding per rule and place, however many paths led there.
                    key = (finding.rule, finding.cell, finding.line, finding.column, finding.layer_path)
                    found.setdefault(key, finding)
    findings = sorted((f for f in found.values() if not _is_suppressed(unit, f)), key=Finding.sort_key)
    seen: Counter = Counter()
    for finding in findings:
        anchor = _anchor(unit, finding)
        finding.context["anchor"] = anchor
        finding.context["occurrence"] = seen[(finding.rule, finding.cell, anchor)]
        seen[(finding.rule, finding.cell, anchor)] += 1
    return findings
