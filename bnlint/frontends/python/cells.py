"""Turn a notebook code cell into the Python IPython runs, keeping the cell's line and column numbers.

A cell that parses as Python is Python. One that does not is read as IPython reads it:

- cell magics: a Python one (`%%time`, `%%capture`, ...) runs its body; any other (`%%bash`,
  `%%writefile`) is not Python and is skipped;
- a leading indent removed, as IPython 9 does (the indent common to all lines) or as IPython 7-8
  did (the first line's indent, from every line that has it);
- IPython's own input transformer when IPython is installed (never required for the static
  path, and imported only for a cell that needs it): `>>>`/`In [1]:` prompts stripped, `%magic`,
  `!shell`, `x = !cmd`, `obj?` turned into calls; without IPython, those escapes become `pass`;
- then, if the cell still does not parse, automagic lines (`ls`, `cd ..`, `pip install x`: a
  magic's name used without `%`) that are not valid Python are blanked.

Every step keeps the cell's lines where they were (a command continued over several lines leaves
blank lines behind) and the columns it removes are added back to the syntax tree, so findings point
at the cell's own line and column.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bnlint.frontends import FrontendError
from bnlint.frontends.python.source import parse

# Cell magics whose body is Python that IPython runs (timed, captured, profiled).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_ASSIGNED_MAGIC = re.compile(r"^[A-Za-z_][\w.\s,\[\]]*=\s*[!%]")
_ENV_MAGIC = re.compile(r"^%env\s+TF_USE_LEGACY_KERAS(?:\s*=\s*|\s+)(\S+)")
LEGACY_KERAS_VALUES = ("1", "true", "True")
# IPython's transformer retokenises the whole cell once per magic it rewrites: past these, the
# linear fallback does the work instead.
IPYTHON_CELL_LIMIT = 32 * 1024
IPYTHON_MAGIC_LIMIT = 64
# IPython runs a line as Python, not as an automagic, when the first word is followed by one of
# these (its PythonOpsChecker: `cd = 3`, `ls (x)`) or is not a word of its own (`time.sleep(1)`).
_PYTHON_AFTER_NAME = tuple("!=()<>,+*/%^&|")
_FIRST_WORD = re.compile(r"^([A-Za-z_]\w*)(\s.*)?$")


@dataclass
class CellCode:
    """A cell as Python: as many lines as the cell, and the columns removed from each line."""

    lines: list[str]
    shifts: dict[int, int] = field(default_factory=dict)  # 1-based line -> columns removed at its start


def legacy_keras_setting(lines: list[str]) -> tuple[str, int] | None:
    """(value, 1-based line) of a `%env TF_USE_LEGACY_KERAS=1` in the cell, if it sets it."""
    for number, line in enumerate(lines, start=1):
        found = _ENV_MAGIC.match(line.strip())
        if found and found.group(1) in LEGACY_KERAS_VALUES:
            return found.group(1), number
    return None


def parse_cell(lines: list[str]) -> ast.Module | None:
    """The syntax tree of a cell as IPython would run it; None for a cell that is not Python
    (`%%bash`, ...). Raises FrontendError (one line) when it is not valid even so."""
    code = "\n".join(lines)
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        pass  # IPython syntax, or a real error: read it as IPython would
    except (RecursionError, MemoryError):
        return parse(code)  # reports it; no transform makes it smaller
    body = _cell_magic_body(lines)
    if body is None:
        return None
    first_error: FrontendError | None = None
    for cell in as_python(body):
        for attempt in (cell.lines, _without_automagics(cell.lines)):
            if attempt is None:
                continue
            try:
                tree = parse("\n".join(attempt))
            except FrontendError as exc:
                first_error = first_error or exc
                continue
            _restore_columns(tree, cell.shifts)
            return tree
    raise first_error or FrontendError("syntax error")


def _cell_magic_body(lines: list[str]) -> list[str] | None:
    """The lines of a cell without its `%%time`-like first line; None for a cell magic that is not Python."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return lines
    magic = lines[first].lstrip()[2:].split(maxsplit=1)
    if not magic or magic[0] not in PYTHON_CELL_MAGICS:
        return None  # %%bash, %%writefile, ...: not Python
    return [*lines[:first], "", *lines[first + 1 :]]  # the body is Python, as IPython runs it


def as_python(lines: list[str]) -> list[CellCode]:
    """The ways IPython reads the cell, as Python with the same lines: IPython 9 removes the
    indent common to all lines, IPython 7-8 the first line's indent from every line that has it
    (a pasted statement indented on its first line only). Escapes (`%`, `!`, `?`) are turned
    into calls by IPython's transformer when it is installed, into `pass` otherwise."""
    readings = []
    for dedented, shifts in _dedented(lines):
        transformer = _ipython_transformer()
        cell = None
        if transformer is not None and _ipython_can_afford(dedented):
            try:
                cell = _with_ipython(transformer, dedented)
            except Exception:  # noqa: BLE001 - IPython's own limits (RuntimeError, SyntaxError): use ours
                cell = None
        cell = cell or _blank_escapes(dedented)
        for number, shift in shifts.items():
            cell.shifts[number] = cell.shifts.get(number, 0) + shift
        readings.append(cell)
    return readings


def _dedented(lines: list[str]) -> list[tuple[list[str], dict[int, int]]]:
    """The cell without its leading indent, each way IPython has removed it, and the columns removed per line."""
    readings = []
    common = textwrap.dedent("\n".join(lines)).split("\n") if lines else []
    readings.append(common)
    first = next((line for line in lines if line.strip()), "")
    prefix = first[: len(first) - len(first.lstrip())]
    if prefix:
        by_first = [line[len(prefix) :] if line.startswith(prefix) else line for line in lines]
        if by_first != common:
            readings.append(by_first)
    return [(reading, {n: len(a) - len(b) for n, (a, b) in enumerate(zip(lines, reading), start=1) if b and len(b) < len(a)})
            for reading in readings]


# --- with IPython -------------------------------------------------------------------------------


@cache
def _ipython_transformer():
    """IPython's input transformer, made to keep line numbers; None when IPython is not installed."""
    try:
        from IPython.core import inputtransformer2 as it2
    except Exception:  # noqa: BLE001 - not installed, or broken: the fallback does the same job
        return None

    def keeping_lines(transformer_class):
        class LineKeeping(transformer_class):
            def transform(self, lines):
                result = super().transform(lines)
                # A command continued over several lines became one: leave blanks in its place.
                missing = len(lines) - len(result)
                if missing > 0:
                    result[self.start_line + 1 : self.start_line + 1] = ["\n"] * missing
                return result

        LineKeeping.__name__ = transformer_class.__name__
        return LineKeeping

    manager = it2.TransformerManager()
    manager.token_transformers = [keeping_lines(t) for t in manager.token_transformers]
    # Leading blank lines stay (dropping them renumbers the cell); the indent and cell magics are
    # handled before (IPython's versions disagree on the indent; its cell magic hides the body in a string).
    cleanup = [it2.classic_prompt, it2.ipython_prompt]
    return manager, cleanup


def _ipython_can_afford(lines: list[str]) -> bool:
    if sum(len(line) for line in lines) > IPYTHON_CELL_LIMIT:
        return False
    magics = sum(1 for line in lines if _is_escaped(line.strip()))
    return magics <= IPYTHON_MAGIC_LIMIT


def _with_ipython(transformer, lines: list[str]) -> CellCode:
    manager, cleanup = transformer
    numbered = [line + "\n" for line in lines]
    cleaned = numbered
    for step in cleanup:
        cleaned = step(cleaned)
    if len(cleaned) != len(numbered):
        raise ValueError("a cleanup step changed the number of lines")
    shifts = {}
    for number, (before, after) in enumerate(zip(numbered, cleaned), start=1):
        before, after = before.rstrip("\n"), after.rstrip("\n")
        if after and len(after) < len(before) and before.endswith(after):
            shifts[number] = len(before) - len(after)
    result = manager.do_token_transforms(cleaned)
    if len(result) != len(numbered):
        raise ValueError("a transform changed the number of lines")
    return CellCode([line.rstrip("\n") for line in result], shifts)


# --- without IPython --------------------------------------------------------------------------------


def _is_escaped(stripped: str) -> bool:
    return stripped[:1] in ("%", "!", "?") or (stripped.endswith("?") and not stripped.startswith("#")) or bool(
        _ASSIGNED_MAGIC.match(stripped)
    )


def _blank_escapes(lines: list[str]) -> CellCode:
    """Without IPython: `%`/`!`/`?` lines and `x = !cmd` become `pass` (a continued command leaves blanks)."""
    out = list(lines)
    continuing = False
    for i, line in enumerate(out):
        stripped = line.strip()
        if continuing or _is_escaped(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            out[i] = "" if continuing else indent + "pass"
            continuing = stripped.endswith("\\")
    return CellCode(out)


# --- automagics -------------------------------------------------------------------------------------


@cache
def _automagics() -> frozenset[str]:
    from bnlint.knowledge import ipython_automagics

    return ipython_automagics()


def _without_automagics(lines: list[str]) -> list[str] | None:
    """The lines with each automagic line (`ls -la`, `cd data`, `pip install x`) blanked to `pass`;
    None when there is none. A line is one when its first word is a magic or an alias, what follows
    is not Python syntax, and the line alone does not parse."""
    names = _automagics()
    out, changed = list(lines), False
    for i, line in enumerate(lines):
        stripped = line.strip()
        match = _FIRST_WORD.match(stripped)
        if not match or match.group(1) not in names:
            continue
        rest = (match.group(2) or "").lstrip()
        if rest.startswith(_PYTHON_AFTER_NAME):
            continue
        try:
            ast.parse(stripped)
            continue  # valid Python (a bare `pwd` is a name): IPython would not call it a magic either way
        except (SyntaxError, ValueError):
            pass
        out[i] = line[: len(line) - len(line.lstrip())] + "pass"
        changed = True
    return out if changed else None


def _restore_columns(tree: ast.Module, shifts: dict[int, int]) -> None:
    """Add back the columns the transforms removed from the start of lines (an indent, a prompt)."""
    if not shifts:
        return
    for node in ast.walk(tree):
        positioned: Any = node  # statements, expressions, arguments: the nodes with positions
        line = getattr(node, "lineno", None)
        if line in shifts:
            positioned.col_offset += shifts[line]
        end = getattr(node, "end_lineno", None)
        if end in shifts and getattr(node, "end_col_offset", None) is not None:
            positioned.end_col_offset += shifts[end]
