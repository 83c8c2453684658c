"""Fix findings in a Python script: carry out each finding's plan (`bnlint.fix.plan`) with LibCST.

LibCST keeps every comment, blank line and bracket of the file as written: a fix changes the
nodes it names (a call's arguments, an import's names, a comment, statements inserted at the
indentation of their block) and nothing else. The library is imported here only, never on the
static path: a scan decides what is fixable from `ast` alone.

`fix_source` makes one pass over the findings it is given; `fix_until_settled` lints the result
again and repeats, as ruff does, because one fix can reveal another (a recompile added before a
stale `fit()` makes that `fit()` train the unfrozen base, and its unprotected BN layers become a
finding of their own).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from bnlint.findings import Finding
from bnlint.fix.plan import AddImportedName, AddKeyword, Edit, EditComment, InsertStatements, Plan, Script, Span, plan

# ruff stops after 100 passes; a bnlint fix reveals at most one more finding (BN003 -> BN004).
MAX_PASSES = 10


def _start(span: Span) -> tuple[int, int]:
    return span.line, span.column


def _is_multiline(whitespace) -> bool:
    return isinstance(whitespace, cst.ParenthesizedWhitespace)


def _appended(elements: Sequence, new, lead, tail, set_tail: Callable) -> list:
    """`elements` (Args or ImportAliases) with `new` appended in their layout: on a line of its own
    when they are one per line with a trailing comma, else after a comma and a space.

    `lead` is the whitespace before the first element, `tail` the whitespace between the last
    element (or its trailing comma) and the closing bracket; `set_tail(element, whitespace)`
    returns an element followed by that whitespace when it has no comma."""
    if not elements:
        return [new]
    last = elements[-1]
    comma = last.comma if isinstance(last.comma, cst.Comma) else None
    between = elements[-2].comma.whitespace_after if len(elements) > 1 and isinstance(elements[-2].comma, cst.Comma) else lead
    if comma is not None and _is_multiline(comma.whitespace_after) and _is_multiline(between):
        # One per line, trailing comma: the new element on the next line, the closer where it was.
        after = comma.whitespace_after
        separator = between.with_changes(first_line=after.first_line, empty_lines=after.empty_lines)
        return [*elements[:-1], last.with_changes(comma=comma.with_changes(whitespace_after=separator)),
                new.with_changes(comma=cst.Comma(whitespace_after=after.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])))]
    if comma is not None:
        # `f(a,)`, `f(  a   ,  )`: `f(a, training=False)`.
        return [*elements[:-1], last.with_changes(comma=comma.with_changes(whitespace_after=cst.SimpleWhitespace(" "))),
                set_tail(new, cst.SimpleWhitespace(""))]
    if len(elements) > 1 and _is_multiline(between) and _is_multiline(tail):
        # One per line without a trailing comma: the new element on a line of its own too.
        return [*elements[:-1], set_tail(last.with_changes(comma=cst.Comma(whitespace_after=between)), cst.SimpleWhitespace("")),
                set_tail(new, tail)]
    # The whitespace (and comment) that followed the last element now follows the new one.
    return [*elements[:-1], set_tail(last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                                     cst.SimpleWhitespace("")), set_tail(new, tail)]


class _Editor(cst.CSTTransformer):
    """Applies edits located by the position of the node each names."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, edits: set[Edit], config: cst.PartialParserConfig) -> None:
        super().__init__()
        self.config = config
        self.done: set[Edit] = set()
        self.keywords = {e.call: e for e in edits if isinstance(e, AddKeyword)}
        self.comments = {_start(e.comment): e for e in edits if isinstance(e, EditComment)}
        self.names: dict[tuple[int, int], list[AddImportedName]] = {}
        self.inserts: dict[tuple[int, int], list[InsertStatements]] = {}
        for edit in edits:
            if isinstance(edit, AddImportedName):
                self.names.setdefault(_start(edit.statement), []).append(edit)
            elif isinstance(edit, InsertStatements):
                self.inserts.setdefault(_start(edit.anchor), []).append(edit)

    def _span(self, node: cst.CSTNode) -> Span:
        where = self.get_metadata(PositionProvider, node)
        return Span(where.start.line, where.start.column, where.end.line, where.end.column)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        edit = self.keywords.get(self._span(original))
        if edit is None:
            return updated
        new = cst.Arg(keyword=cst.Name(edit.keyword), value=cst.parse_expression(edit.value),
                      equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
        args = list(updated.args)
        tail = args[-1].comma.whitespace_after if args and isinstance(args[-1].comma, cst.Comma) else (
            args[-1].whitespace_after_arg if args else cst.SimpleWhitespace(""))
        self.done.add(edit)
        return updated.with_changes(args=_appended(
            args, new, updated.whitespace_before_args, tail, lambda arg, ws: arg.with_changes(whitespace_after_arg=ws)))

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        edits = self.names.get(_start(self._span(original)))
        if not edits or isinstance(updated.names, cst.ImportStar):
            return updated
        names = list(updated.names)
        for edit in edits:
            lead = updated.lpar.whitespace_after if updated.lpar else cst.SimpleWhitespace(" ")
            tail = updated.rpar.whitespace_before if updated.rpar else cst.SimpleWhitespace("")
            new = cst.ImportAlias(name=cst.Name(edit.name))
            names = _appended(names, new, lead, tail, lambda alias, _ws: alias)
            self.done.add(edit)
        if not updated.lpar and isinstance(names[-1].comma, cst.Comma):
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)  # a bare trailing comma is a syntax error
        return updated.with_changes(names=names)

    def leave_TrailingWhitespace(self, original: cst.TrailingWhitespace, updated: cst.TrailingWhitespace) -> cst.TrailingWhitespace:
        edit = self.comments.get(_start(self._span(original.comment))) if original.comment else None
        if edit is None:
            return updated
        self.done.add(edit)
        if edit.new:
            return updated.with_changes(comment=cst.Comment(edit.new))
        return updated.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))

    def leave_EmptyLine(self, original: cst.EmptyLine, updated: cst.EmptyLine):
        edit = self.comments.get(_start(self._span(original.comment))) if original.comment else None
        if edit is None:
            return updated
        self.done.add(edit)
        if edit.new:
            return updated.with_changes(comment=cst.Comment(edit.new))
        return cst.RemoveFromParent()  # the comment had the line to itself: the line goes too

    def on_leave(self, original, updated):
        updated = super().on_leave(original, updated)
        if not isinstance(original, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return updated
        edits = self.inserts.get(_start(self._span(original)))
        if not edits or not isinstance(updated, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return updated
        before = [s for e in sorted((e for e in edits if not e.after), key=lambda e: e.rank) for s in self._parsed(e)]
        after = [s for e in sorted((e for e in edits if e.after), key=lambda e: e.rank) for s in self._parsed(e)]
        if before:
            # The comments and blank lines above the statement stay above what is inserted.
            before[0] = before[0].with_changes(leading_lines=updated.leading_lines)
            updated = updated.with_changes(leading_lines=())
        self.done.update(edits)
        return cst.FlattenSentinel([*before, updated, *after])

    def _parsed(self, edit: InsertStatements) -> list[cst.BaseStatement]:
        return list(cst.parse_module(edit.code, config=self.config).body)


@dataclass
class _Applied:
    text: str
    done: set[Edit]


def _apply(text: str, edits: set[Edit]) -> _Applied:
    module = cst.parse_module(text)
    editor = _Editor(edits, module.config_for_parsing)
    edited = MetadataWrapper(module, unsafe_skip_copy=True).visit(editor)
    return _Applied(edited.code, editor.done)


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def fix_source(text: str, findings: Sequence[Finding]) -> tuple[str, list[Finding]]:
    """The script with every fixable finding fixed, and the findings that were (one pass).

    A plan whose edits cannot all be made (a node not found where its finding says) is dropped
    whole, and the rest made again without it; the result must still parse."""
    try:
        script = Script(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text, []
    plans: list[tuple[Finding, Plan]] = [(f, p) for f in findings if (p := plan(script, f)) is not None]
    while plans:
        try:
            applied = _apply(text, {edit for _, p in plans for edit in p.edits})
        except (cst.ParserSyntaxError, RecursionError, MemoryError):
            return text, []
        complete = [(f, p) for f, p in plans if set(p.edits) <= applied.done]
        if len(complete) == len(plans):
            if applied.text == text or not _parses(applied.text):
                return text, []
            return applied.text, [f for f, _ in plans]
        plans = complete
    return text, []


@dataclass
class FixOutcome:
    """What `fix_until_settled` made of a script."""

    text: str  # the fixed text (the original when nothing could be fixed)
    fixed: list[Finding] = field(default_factory=list)  # every finding a pass fixed
    remaining: list[Finding] = field(default_factory=list)  # fixable findings still there after the last pass
    passes: int = 0

    @property
    def settled(self) -> bool:
        return not self.remaining


def fix_until_settled(text: str, findings: Sequence[Finding], relint: Callable[[str], Sequence[Finding]] | None = None,
                      max_passes: int | None = None) -> FixOutcome:
    """Fix, lint the result with `relint`, and fix again, until no fixable finding is left or a
    pass changes nothing (at most `max_passes` passes). Without `relint`, one pass.

    This is the one function editors call: the script's text and its findings in, the fixed text out.
    """
    outcome = FixOutcome(text)
    current = [f for f in findings if f.fixable]
    while current and outcome.passes < (max_passes or MAX_PASSES):
        new, fixed = fix_source(outcome.text, current)
        outcome.passes += 1
        if not fixed:
            break
        outcome.text = new
        outcome.fixed += fixed
        if relint is None:
            done = {id(f) for f in fixed}
            current = [f for f in current if id(f) not in done]
            break
        current = [f for f in relint(new) if f.fixable]
    outcome.remaining = current
    return outcome
