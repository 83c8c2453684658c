"""Suppression directives: which findings `# noqa` comments suppress, and which directives suppress nothing.

    x = base(inputs)  # noqa: BN001          one line, some rules (shared with flake8 and ruff)
    x = base(inputs)  # bnlint: ignore[BN001] one line, bnlint's own spelling
    # bnlint: noqa                           on a line of its own: the whole file
    # bnlint: noqa: BN001, BN004             the whole file, some rules

A finding is suppressed by a line directive on its first or last line. The directives that
suppress nothing become `suppression` records (the facts the unused-suppression rule matches);
a bare `# noqa` is never one of them, since it may be there for another linter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bnlint.findings import Finding
from bnlint.ir import Unit

_CODES = r"[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*"
# Ordered: the bnlint spellings first, so `# bnlint: noqa` is not read as a bare `# noqa`.
_SPELLINGS = (
    ("bnlint-noqa", re.compile(rf"#\s*bnlint:\s*noqa(?::\s*(?P<ids>{_CODES}))?", re.IGNORECASE)),
    ("bnlint-ignore", re.compile(r"#\s*bnlint:\s*ignore(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)),
    ("noqa", re.compile(rf"#\s*noqa(?::\s*(?P<ids>{_CODES}))?", re.IGNORECASE)),
)
# Codes in bnlint's own namespace: an unknown one of these is a typo, not another linter's code.
OWN_PREFIX = "BN"


@dataclass
class Directive:
    """One suppression comment, and which of its codes suppressed a finding."""

    spelling: str  # noqa | bnlint-noqa | bnlint-ignore
    codes: frozenset[str]  # empty: every rule
    file_level: bool
    cell: int | None
    line: int
    column: int  # 1-based, where the comment starts
    end_column: int
    text: str  # the directive as written, e.g. "# noqa: BN001"
    used: set[str] = field(default_factory=set)  # the codes (or "*" for a blanket) that suppressed something

    def covers(self, rule_id: str, explicitly: bool = False) -> bool:
        return rule_id in self.codes or (not self.codes and not explicitly)

    def mark(self, rule_id: str) -> None:
        self.used.add(rule_id if self.codes else "*")


def parse_line(text: str, cell: int | None, number: int) -> Directive | None:
    """The directive in one source line, if any (cheap: most lines hold no `#` at all)."""
    if "#" not in text:
        return None
    lowered = text.lower()
    if "noqa" not in lowered and "bnlint:" not in lowered:
        return None
    for spelling, pattern in _SPELLINGS:
        m = pattern.search(text)
        if m is None:
            continue
        ids = m.group("ids")
        codes = frozenset(i.strip().upper() for i in ids.split(",") if i.strip()) if ids else frozenset()
        # `# bnlint: noqa` alone on its line is about the whole file, as ruff's `# ruff: noqa` is.
        file_level = spelling == "bnlint-noqa" and not text[: m.start()].strip()
        return Directive(spelling, codes, file_level, cell, number, m.start() + 1, m.end() + 1, m.group(0))
    return None


def directives(unit: Unit) -> list[Directive]:
    found = []
    for cell, lines in unit.sources.items():
        for number, text in enumerate(lines, start=1):
            directive = parse_line(text, cell, number)
            if directive is not None:
                found.append(directive)
    return found


def suppressed_ids(line: str) -> frozenset[str] | None:
    """Rule ids a source line's directive suppresses; an empty set means all; None means none."""
    directive = parse_line(line, None, 1)
    return None if directive is None else directive.codes


def _suppressor(finding: Finding, by_line: dict[tuple, Directive], file_level: list[Directive],
                explicitly: bool) -> Directive | None:
    if finding.line is not None:
        for number in dict.fromkeys((finding.line, finding.end_line or finding.line)):
            directive = by_line.get((finding.cell, number))
            if directive is not None and not directive.file_level and directive.covers(finding.rule, explicitly):
                return directive
    return next((d for d in file_level if d.covers(finding.rule, explicitly)), None)


@dataclass
class Outcome:
    findings: list[Finding]  # still reported
    suppressed: list[Finding]  # marked with `suppression = "noqa"`
    records: list[dict]  # one `suppression` record per directive that suppressed nothing


def apply(unit: Unit, findings: Iterable[Finding], known: dict[str, tuple[str, ...]],
          enabled: Callable[[str], bool], explicitly: bool = False) -> Outcome:
    """Split `findings` into reported and suppressed ones, and describe the unused directives.

    `known` maps every loaded rule id to the inputs it applies to; a directive's code only counts
    as unused when its rule is enabled and could have fired on this kind of input. `explicitly`:
    only directives that name the rule suppress (how unused-suppression findings are suppressed:
    a blanket directive cannot hide the finding that says it is unused)."""
    all_directives = directives(unit)
    by_line = {(d.cell, d.line): d for d in all_directives}
    file_level = [d for d in all_directives if d.file_level]
    outcome = Outcome([], [], [])
    for finding in findings:
        directive = _suppressor(finding, by_line, file_level, explicitly)
        if directive is None:
            outcome.findings.append(finding)
        else:
            directive.mark(finding.rule)
            finding.suppression = "noqa"
            outcome.suppressed.append(finding)
    if known:
        for directive in all_directives:
            record = _unused_record(unit, directive, known, enabled)
            if record is not None:
                outcome.records.append(record)
    return outcome


def _unused_record(unit: Unit, directive: Directive, known: dict[str, tuple[str, ...]],
                   enabled: Callable[[str], bool]) -> dict | None:
    where = "this file" if directive.file_level else "this line"
    if not directive.codes:
        if directive.spelling == "noqa" or directive.used:
            return None  # a bare `# noqa` may serve another linter
        reason = f"no finding on {where} to suppress"
    else:
        unknown = sorted(c for c in directive.codes if c.startswith(OWN_PREFIX) and c not in known)
        # A rule that is off, or that never reads this kind of input, could not have fired.
        unused = sorted(c for c in directive.codes if c in known and c not in directive.used
                        and enabled(c) and unit.kind in known[c])
        if not unknown and not unused:
            return None
        parts = [f"no {', '.join(unused)} finding on {where}"] if unused else []
        parts += [f"{', '.join(unknown)} {'is not a rule' if len(unknown) == 1 else 'are not rules'}"] if unknown else []
        reason = "; ".join(parts)
    location = {"line": directive.line, "column": directive.column, "end_line": directive.line,
                "end_column": directive.end_column, "cell": directive.cell, "layer_path": None}
    return {"runtime": unit.runtime.target, "input": unit.kind, "location": location, "verdict": "note",
            "unused": True, "directive": directive.text, "scope": "file" if directive.file_level else "line",
            "reason": reason}
