"""One check of an open script or notebook, as `bnlint check` checks its file: what to show where."""

from __future__ import annotations

from dataclasses import dataclass, field

from pygls.workspace.position_codec import PositionCodec

from bnlint import api
from bnlint.errors import UsageError
from bnlint.safe_io import UnreadableFile, read_text
from bnlint.server.actions import Shown
from bnlint.server.diagnostics import Placer, lines_of
from bnlint.server.documents import Target, file_path
from bnlint.server.settings import ServerSettings


@dataclass
class Outcome:
    """One finished check of a target: what to show where, and what it read."""

    target: Target
    shown: dict[str, list[Shown]] = field(default_factory=dict)  # by the URI shown on
    modules: frozenset[str] = frozenset()
    problems: list[str] = field(default_factory=list)  # inputs that could not be analysed: logged
    usage: str | None = None  # a configuration or setting that cannot be used: shown once


def check_target(target: Target, options: ServerSettings, buffers: dict[str, str], codec: PositionCodec) -> Outcome:
    """Check one target as `bnlint check` would check its file (runs on the checking thread)."""
    outcome = Outcome(target)
    try:
        settings = api.settings_for([target.path or "."], options.configuration, **options.overrides())
        checked = api.check_buffer(target.text, target.path, settings, buffers=buffers, kind=target.kind,
                                   file_lines=target.notebook_file)
    except UsageError as exc:
        outcome.usage = f"bnlint: {exc}"
        return outcome
    outcome.modules = checked.modules
    outcome.problems = [str(error) for error in checked.report.errors]
    texts: dict[str, str | None] = dict(target.texts())
    if target.notebook_file:
        texts[target.uri] = None  # JSON lines: shown, never edited by line

    def text_at(uri: str) -> str | None:
        if uri not in texts:
            path = file_path(uri)
            texts[uri] = buffers.get(path) if path in buffers else disk_text(path)
        return texts[uri]

    def lines(uri: str):
        text = target.text if uri == target.uri and target.notebook_file else text_at(uri)
        return lines_of(text) if text is not None else None

    placer = Placer(target, codec, lines, lambda rule_id: api.rule_url(rule_id, settings))
    for placed in placer.place(checked.report.findings):
        finding = placed.finding
        script = finding.input == "script" and finding.cell is None
        about = api.rule_help(finding.rule, finding.runtime.target, settings)
        outcome.shown.setdefault(placed.uri, []).append(Shown(placed, text_at(placed.uri), script, about))
    return outcome


def disk_text(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return read_text(path)
    except UnreadableFile:
        return None
