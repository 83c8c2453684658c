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
# Ordered: the bnlint spellings first, so `bnlint: noqa` is not read as a bare `noqa`.
_SPELLINGS = (
    ("bnlint-noqa", re.compile(rf"#\s*bnlint:\s*noqa(?::\s*(?P<ids>{_CODES}))?", re.IGNORECASE)),
    ("bnlint-ignore", re.compile(r"#\s*bnlint:\s*ignore(?:\[(?P<ids>[^\]]*)\])?", re.IGNORECASE)),
    ("noqa", re.compile(rf"#\s*noqa(?::\s*(?P<ids>{_CODES}))?", re.IGNORECASE)),
)
_ANY = re.compile(r"#.*(?:noqa|bnlint:)", re.IGNORECASE)
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
    text: str  # the directive as written, e.g. "noqa: BN001" after its hash
    used: set[str] = field(default_factory=set)  # the codes (or "*" for a blanket) that suppressed something
    path: str | None = None  # a project module the unit read (a finding located there); None: the unit itself

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
        # `bnlint: noqa` alone on its line is about the whole file, as ruff's file-level directive is.
        file_level = spelling == "bnlint-noqa" and not text[: m.start()].strip()
        return Directive(spelling, codes, file_level, cell, number, m.start() + 1, m.end() + 1, m.group(0))
    return None


def directives(unit: Unit, with_modules: bool = False) -> list[Directive]:
    """The unit's directives; `with_modules`: those of the project modules it read too."""
    found = []
    sources = [(None, cell, lines) for cell, lines in unit.sources.items()]
    if with_modules:
        sources += [(path, None, lines) for path, lines in unit.extra_sources.items()]
    for path, cell, lines in sources:
        if not _ANY.search("\n".join(lines)):
            continue  # most sources hold no directive: one search instead of a check per line
        for number, text in enumerate(lines, start=1):
            directive = parse_line(text, cell, number)
            if directive is not None:
                directive.path = path
                found.append(directive)
    return found


def suppressed_ids(line: str) -> frozenset[str] | None:
    """Rule ids a source line's directive suppresses; an empty set means all; None means none."""
    directive = parse_line(line, None, 1)
    return None if directive is None else directive.codes


def _suppressor(finding: Finding, path: str | None, by_line: dict[tuple, Directive], file_level: list[Directive],
                explicitly: bool) -> Directive | None:
    if finding.line is not None:
        for number in dict.fromkeys((finding.line, finding.end_line or finding.line)):
            directive = by_line.get((path, finding.cell, number))
            if directive is not None and not directive.file_level and directive.covers(finding.rule, explicitly):
                return directive
    return next((d for d in file_level if d.path == path and d.covers(finding.rule, explicitly)), None)


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
    all_directives = directives(unit, with_modules=bool(unit.extra_sources))
    by_line = {(d.path, d.cell, d.line): d for d in all_directives}
    file_level = [d for d in all_directives if d.file_level]
    outcome = Outcome([], [], [])
    for finding in findings:
        path = None if finding.path == unit.path else finding.path
        directive = _suppressor(finding, path, by_line, file_level, explicitly)
        if directive is None:
            outcome.findings.append(finding)
        else:
            directive.mark(finding.rule)
            finding.suppression = "noqa"
            outcome.suppressed.append(finding)
    if known:
        for directive in all_directives:
            if directive.path is not None:
                continue  # another module's directives: its own scan says whether they are used
            record = _unused_record(unit, directive, known, enabled)
            if record is not None:
                outcome.records.append(record)
    return outcome


def _unused_record(unit: Unit, directive: Directive, known: dict[str, tuple[str, ...]],
                   enabled: Callable[[str], bool]) -> dict | None:
    where = "this file" if directive.file_level else "this line"
    if not directive.codes:
        if directive.spelling == "noqa" or directive.used:
            return None  # a bare `noqa` may serve another linter
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
            "reason": reason, "unused_codes": [] if not directive.codes else unused + unknown}


# --- --add-noqa ----------------------------------------------------------------------------


def _uncommentable_lines(text: str) -> set[int]:
    """Lines whose end is inside a string or continued by a backslash: a comment there would
    change the code (or break it)."""
    import io
    import tokenize

    blocked: set[int] = set()
    comments: set[int] = set()
    string_start = None
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        name = tokenize.tok_name[token.type]
        if name == "COMMENT":
            comments.add(token.start[0])
        elif name == "STRING" and token.end[0] > token.start[0]:
            blocked.update(range(token.start[0], token.end[0]))
        elif name == "FSTRING_START":  # Python >= 3.12 splits f-strings into tokens
            string_start = token.start[0]
        elif name == "FSTRING_END" and string_start is not None:
            blocked.update(range(string_start, token.end[0]))
            string_start = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.rstrip().endswith("\\") and number not in comments:
            blocked.add(number)
    return blocked


def _with_codes(line: str, codes: list[str]) -> str:
    """`line` with `codes` added to its directive, or a `# noqa: ...` appended."""
    directive = parse_line(line, None, 1)
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    if directive is not None and directive.codes and directive.spelling != "bnlint-ignore":
        merged = ", ".join([*sorted(directive.codes), *(c for c in codes if c not in directive.codes)])
        start, end = directive.column - 1, directive.end_column - 1
        prefix = body[start:end].split(":")[0] if directive.spelling == "noqa" else "# bnlint: noqa"
        return body[:start] + f"{prefix}: {merged}" + body[end:] + ending
    return f"{body.rstrip()}  # noqa: {', '.join(codes)}{ending}"


def with_noqa(text: str, findings: Iterable[Finding], display: str) -> tuple[str | None, int, list[str]]:
    """`text` with a `# noqa: CODE` on the line of each finding (merged into a directive already
    there): (the new text, or None when it would no longer parse; directives added; one line per
    finding or file that could not take one). `--add-noqa` and the editor's code action share it."""
    import ast

    lines = text.splitlines(keepends=True)
    try:
        blocked = _uncommentable_lines(text)
    except (SyntaxError, ValueError):
        return None, 0, [f"{display}: --add-noqa: cannot tokenize the file"]
    problems: list[str] = []
    codes_by_line: dict[int, list[str]] = {}
    for finding in findings:
        candidates = [n for n in (finding.line, finding.end_line or finding.line)
                      if n is not None and n not in blocked and 1 <= n <= len(lines)]
        if not candidates:
            problems.append(f"{display}:{finding.line}: --add-noqa: no line of this finding can take a comment")
            continue
        codes = codes_by_line.setdefault(candidates[0], [])
        if finding.rule not in codes:
            codes.append(finding.rule)
    for number, codes in codes_by_line.items():
        lines[number - 1] = _with_codes(lines[number - 1], codes)
    new_text = "".join(lines)
    try:
        ast.parse(new_text)
    except (SyntaxError, ValueError):
        return None, 0, [*problems, f"{display}: --add-noqa: the file would no longer parse; left unchanged"]
    return new_text, sum(len(codes) for codes in codes_by_line.values()), problems


def add_noqa(findings: Iterable[Finding]) -> tuple[int, list[str]]:
    """ruff's --add-noqa: a `# noqa: CODE` on the line of every script finding (merged into a
    directive already there). Returns (directives added, one line per file left unchanged).

    A file is rewritten only if it still parses afterwards; notebooks and saved models are not
    changed (they have no lines of their own to comment)."""
    import os
    import tempfile

    from bnlint import safe_io

    by_file: dict[str, list[Finding]] = {}
    problems: list[str] = []
    for finding in findings:
        if finding.input == "script" and finding.source is not None and finding.line is not None:
            by_file.setdefault(finding.source.file, []).append(finding)
        elif finding.input == "notebook":
            problems.append(f"{finding.path}: --add-noqa does not change notebooks; add the directive to cell {finding.cell} by hand")
    added = 0
    for file, file_findings in sorted(by_file.items()):
        display = file_findings[0].path
        try:
            text = safe_io.read_text(file)
        except safe_io.UnreadableFile as exc:
            problems.append(f"{display}: --add-noqa: {exc}")
            continue
        new_text, count, trouble = with_noqa(text, file_findings, display)
        problems += trouble
        if new_text is None:
            continue
        # Atomically, keeping the file's mode: a crash never leaves half a script.
        folder = os.path.dirname(file) or "."
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".bnlint-", suffix=".py")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(new_text)
            os.chmod(temporary, os.stat(file).st_mode & 0o7777)
            os.replace(temporary, file)
        except OSError as exc:
            os.unlink(temporary)
            problems.append(f"{display}: --add-noqa: cannot write: {exc.strerror or exc}")
            continue
        added += count
    return added, problems
