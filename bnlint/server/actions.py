"""Code actions: a finding's fix (the edits of `check --fix`), `# noqa: BNxxx` on its line, and
"fix all" for a file, each as a workspace edit of the lines that change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from bnlint import api
from bnlint.server.diagnostics import Placed
from bnlint.server.edits import text_edits

FIX_ALL = "source.fixAll.bnlint"


@dataclass(frozen=True)
class Shown:
    """A diagnostic on show, and the text of its URI its positions refer to (None: a text that
    cannot be edited by line, an `.ipynb` file's JSON)."""

    placed: Placed
    text: str | None
    script: bool  # a script's finding (a notebook's findings are not fixed, as with `check --fix`)
    about: str | None = None  # the rule's short documentation (hover)


@dataclass(frozen=True)
class Request:
    """What the editor asks actions for: a range of the text it holds now."""

    uri: str
    version: int | None
    text: str
    range: types.Range
    only: Sequence[str] | None
    versioned: bool  # the client takes versioned document changes
    codec: PositionCodec


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    # By line: a cursor anywhere on a flagged line offers that finding's actions.
    return a.start.line <= b.end.line and b.start.line <= a.end.line


def _edit(request: Request, new: str) -> types.WorkspaceEdit:
    edits = text_edits(request.text, new, request.codec)
    if request.versioned:
        document = types.OptionalVersionedTextDocumentIdentifier(request.uri, request.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(document, edits)])  # type: ignore[list-item]
    return types.WorkspaceEdit(changes={request.uri: edits})


def code_actions(request: Request, shown: Sequence[Shown]) -> list[types.CodeAction]:
    """The actions for the findings shown on `request.uri` whose range meets the request's, and
    "fix all"; none from a diagnostic the text has moved on from (the next check replaces it)."""
    current = [s for s in shown if s.text is not None and s.text == request.text]
    actions: list[types.CodeAction] = []
    for item in current:
        diagnostic, finding = item.placed.diagnostic, item.placed.finding
        if not _overlaps(diagnostic.range, request.range):
            continue
        if item.script and finding.fixable and _wanted(types.CodeActionKind.QuickFix, request.only):
            fixed = api.fixed_source(request.text, [finding])
            if fixed != request.text:
                actions.append(types.CodeAction(f"Fix {finding.rule}: {finding.fix}", types.CodeActionKind.QuickFix,
                                                [diagnostic], is_preferred=True, edit=_edit(request, fixed)))
        if _wanted(types.CodeActionKind.QuickFix, request.only):
            suppressed = api.noqa_source(request.text, [finding])
            if suppressed is not None and suppressed != request.text:
                actions.append(types.CodeAction(f"Suppress {finding.rule} on this line (# noqa: {finding.rule})",
                                                types.CodeActionKind.QuickFix, [diagnostic], edit=_edit(request, suppressed)))
    fixable = [s.placed.finding for s in current if s.script and s.placed.finding.fixable]
    if fixable and _wanted(FIX_ALL, request.only):
        fixed = api.fixed_source(request.text, fixable)
        if fixed != request.text:
            actions.append(types.CodeAction("Fix all bnlint findings in this file", FIX_ALL, edit=_edit(request, fixed)))
    return actions
