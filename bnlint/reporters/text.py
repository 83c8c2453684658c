"""The human format: one ruff-like line per finding, its fix and confirmation, then a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bnlint.findings import Finding, Report
from bnlint.reporters.wording import confirmation_line, plural
from bnlint.rules import Rule

_INDENT = "    "


def place(finding: Finding) -> str:
    """`train.py:12:5`, `nb.ipynb:cell 3:line 5:col 1`, `model.keras::encoder/backbone`."""
    if finding.layer_path is not None:
        return f"{finding.path}::{finding.layer_path}"
    parts = [finding.path]
    if finding.cell is not None:
        parts.append(f"cell {finding.cell}")
        labels = ("line ", "col ")
    else:
        labels = ("", "")
    for label, value in zip(labels, (finding.line, finding.column)):
        if value is None:
            break
        parts.append(f"{label}{value}")
    return ":".join(parts)


def _finding_lines(finding: Finding) -> list[str]:
    lines = [f"{place(finding)}: {finding.rule} {finding.message}"]
    if finding.fix:
        lines.append(f"{_INDENT}fix: {finding.fix}")
    confirmation = confirmation_line(finding.confirmation)
    if confirmation:
        lines.append(f"{_INDENT}{confirmation}")
    return lines


def summary(report: Report) -> str:
    files = plural(report.files_scanned, "file")
    if report.findings:
        by_severity = Counter(f.severity for f in report.findings)
        counts = ", ".join(
            f"{by_severity[s]} {s}" if s == "info" else plural(by_severity[s], s)
            for s in ("error", "warning", "info")
            if by_severity[s]
        )
        line = f"Found {plural(len(report.findings), 'finding')} ({counts}) in {files}."
    elif report.errors:
        line = f"No findings in {files}."  # not "all passed": some inputs were never checked
    else:
        line = f"All checks passed ({files})."
    if report.errors:
        count = len(report.errors)
        line += f" {plural(count, 'input')} could not be analysed."
    return line


def render(report: Report, rules: Sequence[Rule]) -> str:
    # Input errors are not listed here: the command line prints each one on stderr.
    lines = [line for finding in report.findings for line in _finding_lines(finding)]
    if lines:
        lines.append("")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"
