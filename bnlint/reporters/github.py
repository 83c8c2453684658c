"""The GitHub Actions format: one `::error`/`::warning`/`::notice` workflow command per finding."""

from __future__ import annotations

from collections.abc import Sequence

from bnlint.findings import Finding, InputError, Report
from bnlint.reporters.printable import printable
from bnlint.reporters.wording import file_line, message_lines, repository_path
from bnlint.rules import Rule

_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message the way the Actions runner unescapes it (`%` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Property values also end at `,` and the message starts after `::`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, object], message: str) -> str:
    props = ",".join(f"{key}={escape_property(printable(str(value)))}" for key, value in properties.items() if value is not None)
    return f"::{name} {props}::{escape_data(message)}"


def _annotation(finding: Finding) -> str:
    # Paths relative to the repository root, as the runner resolves them. A notebook finding
    # points at the cell line's line in the .ipynb file; a saved model at line 1 of its file.
    # Columns only where they are columns of that line (scripts).
    script = finding.cell is None and finding.layer_path is None
    properties = {
        "file": repository_path(finding),
        "line": file_line(finding),
        "col": finding.column if script else None,
        "endLine": finding.end_line if script else None,
        "endColumn": finding.end_column if script else None,
        "title": f"{finding.rule} ({finding.name})",
    }
    return command(_COMMANDS[finding.severity], properties, "\n".join(message_lines(finding, "fix: ")))


def _input_error(error: InputError) -> str:
    return command("error", {"file": error.path, "title": "bnlint (input not analysed)"}, printable(error.message))


def render(report: Report, rules: Sequence[Rule]) -> str:
    lines = [_annotation(f) for f in report.findings] + [_input_error(e) for e in report.errors]
    return "".join(line + "\n" for line in lines)
