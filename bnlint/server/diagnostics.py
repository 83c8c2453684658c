"""Findings as LSP diagnostics, each on the URI and range where it is (a script, a notebook cell, a project module)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from bnlint.findings import Finding
from bnlint.server.documents import Target

SOURCE = "bnlint"
SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}
# Python's own line breaks (str.splitlines also breaks at form feeds and other separators).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

# The lines of the text a URI shows, or None when it is not at hand (positions are then sent as
# code points, which is what the client counts for ASCII lines).
Lines = Callable[[str], Sequence[str] | None]


def lines_of(text: str) -> list[str]:
    """`text` split into lines where Python splits them, without their line breaks."""
    return [line.rstrip("\r\n") for line in _LINE.findall(text)]


@dataclass(frozen=True)
class Placed:
    """A finding, the diagnostic that shows it, and the URI it is shown on."""

    uri: str
    diagnostic: types.Diagnostic
    finding: Finding


class Placer:
    """Turns the findings of one target into diagnostics, positions counted as the client counts."""

    def __init__(self, target: Target, codec: PositionCodec, lines: Lines, url: Callable[[str], str | None]) -> None:
        self.target = target
        self.codec = codec
        self.lines = lines
        self.url = url  # a rule's documentation link

    def place(self, findings: Sequence[Finding]) -> list[Placed]:
        placed = []
        for finding in findings:
            where = self._where(finding.path, finding.cell, finding.line, finding.column, finding.end_line,
                                finding.end_column, finding.file_line)
            if where is not None:
                placed.append(Placed(where.uri, self._diagnostic(finding, where.range), finding))
        return placed

    def _diagnostic(self, finding: Finding, where: types.Range) -> types.Diagnostic:
        related = []
        for other in finding.related:
            place = self._where(other.path or finding.path, other.cell, other.line, other.column, None, None, other.file_line)
            if place is not None:
                related.append(types.DiagnosticRelatedInformation(place, other.message))
        url = self.url(finding.rule)
        runtime = f"{finding.runtime.target} ({finding.runtime.source})"
        message = f"{finding.message}\nfix: {finding.fix}\nverdict: {finding.verdict}; runtime: {runtime}" if finding.fix \
            else f"{finding.message}\nverdict: {finding.verdict}; runtime: {runtime}"
        return types.Diagnostic(
            range=where,
            message=message,
            severity=SEVERITIES.get(finding.severity, types.DiagnosticSeverity.Information),
            code=finding.rule,
            code_description=types.CodeDescription(href=url) if url else None,
            source=SOURCE,
            related_information=related or None,
            data={"verdict": finding.verdict, "runtime": {"target": finding.runtime.target, "source": finding.runtime.source},
                  "fix": finding.fix, "fixable": finding.fixable, "name": finding.name},
        )

    def _where(self, path: str | None, cell: int | None, line: int | None, column: int | None,
               end_line: int | None, end_column: int | None, file_line: int | None) -> types.Location | None:
        """The location of a place a finding names: in the target itself (a cell of a notebook
        document, a line of an `.ipynb` file), or in a project module it read."""
        target = self.target
        own = path is None or path == (target.path or "-")
        if own:
            if target.notebook_file:
                # The notebook's JSON text: the line of the file that holds the cell's line.
                line, column, end_line, end_column = file_line, None, None, None
            uri = target.cell_uri(cell)
        else:
            uri = from_fs_path(path)  # type: ignore[arg-type]
        if line is None or uri is None:
            return None
        return types.Location(uri, self._range(uri, line, column, end_line, end_column))

    def _range(self, uri: str, line: int, column: int | None, end_line: int | None, end_column: int | None) -> types.Range:
        """1-based line and column (code points) to a 0-based LSP range; without an end, to the
        end of the line."""
        lines = self.lines(uri)
        start = self._position(lines, line - 1, (column or 1) - 1)
        if end_line is not None and end_column is not None:
            end = self._position(lines, end_line - 1, end_column - 1)
        else:
            length = len(lines[line - 1]) if lines is not None and 0 < line <= len(lines) else 0
            end = self._position(lines, line - 1, max(length, (column or 1) - 1))
        return types.Range(start, end)

    def _position(self, lines: Sequence[str] | None, line: int, character: int) -> types.Position:
        if lines is None or not 0 <= line < len(lines):
            return types.Position(max(line, 0), max(character, 0))
        return types.Position(line, self.codec.client_num_units(lines[line][: max(character, 0)]))
