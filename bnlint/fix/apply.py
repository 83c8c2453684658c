"""`bnlint check --fix/--diff`: rewrite the scripts of a report where a fix is safe.

Scripts are edited in place (atomically, mode kept) only when a finding in them can be fixed
safely for its target runtime; `bnlint.fix.plan` says what that is. Each file is fixed until it
settles (`bnlint.fix.script.fix_until_settled`): its text is linted again after each pass, as that
file in its project. Notebooks are not fixed by this version: their findings stay reported. Saved models are never modified here: `bnlint fix`
(`bnlint.fix.command`) writes a corrected copy.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
import tempfile
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from bnlint.findings import Finding, Report

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass
class ScriptFix:
    """The fixed text of one script, and which of its findings the fix removes."""

    path: Path
    display: str
    original: str
    fixed: str
    encoding: str
    findings: list[Finding]
    remaining: list[Finding] = field(default_factory=list)  # fixable findings the passes left
    passes: int = 1

    def diff(self) -> str:
        lines = difflib.unified_diff(
            _lines(self.original),
            _lines(self.fixed),
            fromfile=f"a/{self.display}",
            tofile=f"b/{self.display}",
        )
        # A last line without a line break would run into the next hunk header.
        no_newline = "\n\\ No newline at end of file\n"
        return "".join(line if line.endswith(("\n", "\r")) else line + no_newline for line in lines)


def _lines(text: str) -> list[str]:
    """Lines with their breaks, split where Python splits them (not at form feeds, unlike splitlines)."""
    return _LINE.findall(text)


def _fixable_script(finding: Finding) -> bool:
    return finding.cell is None and finding.source is not None and finding.input == "script"


# Lints a script's new text as the file it will be: (the path findings name it by, text) -> findings.
Relint = Callable[[str, str], list[Finding]]


def fix_script_file(path: Path, display: str, findings: list[Finding], relint: Relint | None = None) -> ScriptFix | None:
    """The fix of one script file, or None when none of its findings can be fixed."""
    from bnlint.fix.script import fix_until_settled

    try:
        data = path.read_bytes()
        # The file's own encoding (PEP 263 cookie, BOM); line breaks are kept as they are.
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return None
    again = None if relint is None else (lambda new: [f for f in relint(display, new) if f.path == display])
    outcome = fix_until_settled(text, findings, again)
    if not outcome.fixed or outcome.text == text:
        return None
    return ScriptFix(path, display, text, outcome.text, encoding, outcome.fixed, outcome.remaining, outcome.passes)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace a file's content in one step: a crash never leaves half a script behind."""
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bnlint", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def apply_fixes(report: Report, write: bool, show_diff: bool, relint: Relint | None = None) -> int:
    """Fix what can be fixed in the report's scripts; return how many files changed (or would).

    `write` rewrites the files; `show_diff` prints a unified diff of each change to stdout;
    `relint` lints a fixed text again, so that what one fix reveals is fixed too.
    """
    by_file: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if _fixable_script(finding):
            by_file.setdefault(os.path.realpath(finding.source.file), []).append(finding)
    changed = fixed = 0
    for file, findings in sorted(by_file.items()):
        result = fix_script_file(Path(file), findings[0].path, findings, relint)
        if result is None:
            continue
        if result.remaining:
            left = len(result.remaining)
            click.echo(f"{result.display}: {left} fixable finding{'s' * (left != 1)} left after {result.passes} "
                       f"pass{'es' * (result.passes != 1)} of fixes (reported below)", err=True)
        if show_diff:
            click.echo(result.diff(), nl=False)
        if write:
            try:
                _write_atomically(result.path, result.fixed.encode(result.encoding))
            except OSError as exc:
                click.echo(f"{result.display}: cannot write the fix: {exc.strerror or exc}", err=True)
                continue
        changed += 1
        fixed += len(result.findings)
    if write and changed:
        click.echo(f"Fixed {fixed} finding{'s' * (fixed != 1)} in {changed} file{'s' * (changed != 1)}.", err=True)
    return changed
