"""The human format, ruff's "full" one: the finding's line, the source with a caret under the offending
call, then its fix, verdict, runtime, related places and confirmation; a summary at the end.

    train.py:5:5: BN001 [*] Frozen `base` (ResNet50) contains BatchNormalization ...
      |
    5 | x = base(inputs)
      |     ^^^^^^^^^^^^ BN001
      |
      = fix: Call it as `base(inputs, training=False)`.
      = verdict: latent; runtime: keras2 (requirements.txt: tensorflow==2.15.0)

Everything that came from an input (paths, layer names, source lines, messages) is printed
through `printable()`, so no control character reaches the terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import click

from bnlint.findings import Finding, Related, Report
from bnlint.reporters.printable import printable
from bnlint.reporters.wording import confirmation_line, plural
from bnlint.rules import Rule
from bnlint.vocabulary import RUNTIME_NAMES

TAB_WIDTH = 4


class Style:
    """ANSI colours as ruff uses them, or nothing at all."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _paint(self, text: str, **style) -> str:
        return click.style(text, **style) if self.color else text

    def path(self, text: str) -> str:
        return self._paint(text, bold=True)

    def punctuation(self, text: str) -> str:
        return self._paint(text, fg="cyan")

    def code(self, text: str) -> str:
        return self._paint(text, fg="red", bold=True)

    def fixable(self, text: str) -> str:
        return self._paint(text, fg="cyan")

    def gutter(self, text: str) -> str:
        return self._paint(text, fg="blue", bold=True)

    def label(self, text: str) -> str:
        return self._paint(text, bold=True)


def _where(path: str, cell: int | None, line: int | None, column: int | None, layer_path: str | None) -> list[str]:
    if layer_path is not None:
        return [f"{path}::{layer_path}"]
    parts = [path]
    labels = ("line ", "col ") if cell is not None else ("", "")
    if cell is not None:
        parts.append(f"cell {cell}")
    for label, value in zip(labels, (line, column)):
        if value is None:
            break
        parts.append(f"{label}{value}")
    return parts


def place(finding: Finding) -> str:
    """`train.py:12:5`, `nb.ipynb:cell 3:line 5:col 1`, `model.keras::encoder/backbone` (unescaped)."""
    return ":".join(_where(finding.path, finding.cell, finding.line, finding.column, finding.layer_path))


def _place(finding: Finding, style: Style) -> str:
    parts = _where(finding.path, finding.cell, finding.line, finding.column, finding.layer_path)
    return style.punctuation(":").join([style.path(printable(parts[0])), *(printable(p) for p in parts[1:])])


def _shown(text: str) -> str:
    """A source line as printed: tabs expanded (so carets line up), the rest escaped."""
    return printable(text.expandtabs(TAB_WIDTH))


def _char_offset(line: str, column: int) -> int:
    # Columns count UTF-8 bytes (as Python's ast does); the caret needs characters.
    encoded = line.encode("utf-8", "surrogatepass")
    return len(encoded[: max(column - 1, 0)].decode("utf-8", "ignore"))


def _code_frame(finding: Finding, style: Style) -> list[str]:
    lines = finding.snippet
    if not lines or finding.line is None:
        return []
    width = _gutter_width(finding)
    bar = style.gutter(" " * width + " |")
    frame = [bar]
    for number, text in enumerate(lines, start=finding.line):
        frame.append(style.gutter(f"{number:>{width}} |") + (" " + _shown(text) if text else ""))
    first = lines[0]
    start = _char_offset(first, finding.column or 1)
    one_line = (finding.end_line or finding.line) == finding.line and finding.end_column is not None
    end = _char_offset(first, finding.end_column) if one_line else len(first.rstrip())
    indent = len(_shown(first[:start]))
    carets = max(1, len(_shown(first[:end])) - indent)
    frame.insert(2, f"{bar} {' ' * indent}{style.code('^' * carets + ' ' + finding.rule)}")
    frame.append(bar)
    return frame


def _related(finding: Finding, related: Related) -> str:
    # A place in another file (the script that trains a model a helper module builds) names it.
    where = ":".join(_where(related.path or finding.path, related.cell, related.line, related.column, related.layer_path))
    return f"{printable(where)}: {printable(related.message)}"


def _gutter_width(finding: Finding) -> int:
    return len(str(finding.line + len(finding.snippet) - 1)) if finding.snippet and finding.line else 1


def _notes(finding: Finding, style: Style) -> list[str]:
    notes = []
    if finding.fix:
        notes.append(("fix", finding.fix))
    # The verdict and runtime belong to findings about a model (not, say, an unused suppression).
    if finding.subject is None or finding.subject.name:
        notes.append(("verdict", f"{finding.verdict}; runtime: {finding.runtime.target} ({finding.runtime.source})"))
    notes += [("related", _related(finding, r)) for r in finding.related]
    confirmation = confirmation_line(finding.confirmation)
    if confirmation:
        notes.append(("confirmation", confirmation))
    gutter = style.gutter(" " * (_gutter_width(finding) + 1) + "=")  # under the code frame's `|`
    return [f"{gutter} {style.label(label + ':')} {printable(text) if label != 'related' else text}" for label, text in notes]


def finding_lines(finding: Finding, style: Style | None = None) -> list[str]:
    style = style or Style(False)
    fixable = f"{style.fixable('[*]')} " if finding.fixable else ""
    header = f"{_place(finding, style)}{style.punctuation(':')} {style.code(finding.rule)} {fixable}{printable(finding.message)}"
    return [header, *_code_frame(finding, style), *_notes(finding, style)]


def _files_with_findings(report: Report) -> int:
    return len({f.path for f in report.findings})


def assumed(report: Report) -> str:
    """Which runtime the run judged its files by, and why: `assumed Keras 3: no pins, no Keras
    installed`; with several, how many files each, and the most common reason."""
    by_target: dict[str, Counter[str]] = {}
    for file in report.runtimes:
        by_target.setdefault(file.runtime.target, Counter())[file.runtime.source] += 1
    groups = sorted(by_target.items(), key=lambda group: -sum(group[1].values()))
    parts = []
    for target, sources in groups:
        (source, _), others = sources.most_common(1)[0], len(sources) - 1
        why = f"{source}, and {plural(others, 'other reason')}" if others else source
        files = f" for {sum(sources.values())}" if len(groups) > 1 else ""
        parts.append(f"{RUNTIME_NAMES[target]}{files}: {why}")
    if not parts:
        return ""
    listed = " (--verbose lists each file's)" if any(len(sources) > 1 for _, sources in groups) else ""
    return f"assumed {'; '.join(parts)}{listed}"


def summary(report: Report) -> str:
    assumption = assumed(report)
    if report.findings:
        by_severity = Counter(f.severity for f in report.findings)
        counts = ", ".join(
            f"{by_severity[s]} {s}" if s == "info" else plural(by_severity[s], s)
            for s in ("error", "warning", "info")
            if by_severity[s]
        )
        with_findings = _files_with_findings(report)
        # A finding may be in a project module the checked files import: never "2 of 1 file".
        files = plural(with_findings, "file") if with_findings >= report.files_scanned else f"{with_findings} of {plural(report.files_scanned, 'file')}"
        line = f"Found {plural(len(report.findings), 'finding')} ({counts}) in {files}"
        line += f"; {assumption}." if assumption else "."
    elif report.errors:
        # Not "all passed": some inputs were never checked.
        line = f"No findings in {plural(report.files_scanned, 'file')}" + (f"; {assumption}." if assumption else ".")
    else:
        # A clean run says what it assumed: a Keras 2 user without pins learns why nothing was found.
        line = f"All checks passed ({plural(report.files_scanned, 'file')}{f'; {assumption}' if assumption else ''})."
    if report.errors:
        line += f" {plural(len(report.errors), 'input')} could not be analysed."
    return line


def _tail(report: Report, verbose: bool) -> list[str]:
    """What follows the summary: how many findings --fix can fix, and what was skipped."""
    lines = []
    if report.accepted_by_baseline:  # a run the baseline quietened says so, or it looks clean
        accepted = report.accepted_by_baseline
        lines.append(f"{plural(accepted, 'finding')} accepted by the baseline {'is' if accepted == 1 else 'are'} not shown.")
    # Scripts are fixed in place by `check --fix`; saved models into a copy by `bnlint fix`.
    in_code = sum(1 for f in report.findings if f.fixable and f.input != "model")
    in_models = sum(1 for f in report.findings if f.fixable and f.input == "model")
    fixers = [f"{in_code} fixable with `bnlint check --fix`"] * bool(in_code)
    fixers += [f"{in_models} in saved models fixable with `bnlint fix`"] * bool(in_models)
    if fixers:
        lines.append(f"[*] {'; '.join(fixers)}.")
    if report.skipped and not verbose:
        lines.append(f"Skipped {plural(len(report.skipped), 'input')} that hold nothing to check (weights, exports, Git LFS pointers; --verbose lists them).")
    return lines


def statistics(report: Report) -> str:
    """ruff's `--statistics`: one line per rule, most frequent first: count, id, [*] when fixable, name."""
    counts = Counter(f.rule for f in report.findings)
    names = {f.rule: f.name for f in report.findings}
    fixable = {f.rule for f in report.findings if f.fixable}
    width = len(str(max(counts.values()))) if counts else 1
    lines = [f"{count:>{width}}\t{rule}\t{'[*]' if rule in fixable else '[ ]'} {names[rule]}"
             for rule, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    return "".join(line + "\n" for line in lines)


def render(report: Report, rules: Sequence[Rule], *, color: bool = False, quiet: bool = False,
           verbose: bool = False) -> str:
    # Input errors are not listed here: the command line prints each one on stderr.
    style = Style(color)
    blocks = ["\n".join(finding_lines(finding, style)) for finding in report.findings]
    lines = ["\n\n".join(blocks)] if blocks else []
    if not quiet:
        if lines:
            lines.append("")
        lines += [summary(report), *_tail(report, verbose)]
    return "".join(line + "\n" for line in lines)
