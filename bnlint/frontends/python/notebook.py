"""The notebook frontend: `.ipynb` code cells, magics blanked out, analysed as one program."""

from __future__ import annotations

import ast
import json
import pathlib
import re

from bnlint.frontends import FrontendError
from bnlint.frontends.python.script import (
    gc_paused,
    lower,
    mentions_keras,
    parse,
    read_bytes,
    source_lines,
)
from bnlint.ir import Unit
from bnlint.runtime import DEFAULT

# Cell magics whose body is Python that IPython runs (timed, captured, profiled).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_ASSIGNED_MAGIC = re.compile(r"^[A-Za-z_][\w.\s,\[\]]*=\s*[!%]")
_ENV_MAGIC = re.compile(r"^%env\s+TF_USE_LEGACY_KERAS(?:\s*=\s*|\s+)(\S+)")
LEGACY_KERAS_VALUES = ("1", "true", "True")


def code_cells(data: object) -> list[tuple[int, object]]:
    """(1-based index among all cells, source) of each code cell; nbformat 4, or 3's worksheets."""
    if not isinstance(data, dict):
        raise FrontendError("not a notebook: the top level is not a JSON object")
    if "cells" in data:
        cells = data["cells"]
        source_key = "source"
    elif isinstance(data.get("worksheets"), list):
        cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in (ws.get("cells") or [])]
        source_key = "input"
    else:
        raise FrontendError("not a notebook: no `cells`")
    if not isinstance(cells, list):
        raise FrontendError("not a notebook: `cells` is not a list")
    return [
        (index, cell.get(source_key, cell.get("source", "")))
        for index, cell in enumerate(cells, start=1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]


def cell_text(source: object) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        return "".join(source)
    return None


def blank_magics(lines: list[str]) -> tuple[list[str], tuple[str, int] | None]:
    """Replace IPython syntax by `pass` (same indentation, same line count) so line numbers hold.
    Returns the Python lines (empty for a non-Python cell magic) and, when the cell sets
    `%env TF_USE_LEGACY_KERAS=1`, that value and its line (for the runtime's source text)."""
    env_setting = None
    out = list(lines)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            return [], None  # %%bash, %%writefile, ...: not Python
        out[first] = ""
    continuing = False
    for i, line in enumerate(out):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        magic = continuing or (
            stripped[:1] in ("%", "!", "?")
            or (stripped.endswith("?") and not stripped.startswith("#"))
            or bool(_ASSIGNED_MAGIC.match(stripped))
        )
        if magic:
            found = _ENV_MAGIC.match(stripped)
            if found and found.group(1) in LEGACY_KERAS_VALUES and env_setting is None:
                env_setting = (found.group(1), i + 1)
            out[i] = indent + "pass" if not continuing else ""
            continuing = stripped.endswith("\\")
    return out, env_setting


def analyze_notebook_text(text: str, path: str, file: pathlib.Path | None = None, project=None) -> Unit:
    """Facts of a notebook's JSON text; a cell that does not parse is skipped and noted."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise FrontendError("not a notebook: JSON nested too deeply") from None
    except ValueError as exc:
        raise FrontendError(f"not JSON: {getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')}") from None
    unit = Unit(path=path, kind="notebook", runtime=DEFAULT)
    cells: list[tuple[int, str]] = []
    for index, source in code_cells(data):
        code = cell_text(source)
        if code is None:
            unit.problems.append(f"cell {index}: source is not text")
            continue
        unit.sources[index] = source_lines(code)
        cells.append((index, code))

    with gc_paused():
        _lower_cells(unit, cells, file, project)  # the trees are freed when this returns, before GC resumes
    return unit


def _lower_cells(unit: Unit, cells: list[tuple[int, str]], file: pathlib.Path | None = None, project=None) -> None:
    from bnlint.frontends.python.script import worth_interpreting

    joined = "\n".join(code for _, code in cells)
    if not (mentions_keras((joined,)) and worth_interpreting(joined, file, project, unit)):
        return  # nothing here can be a finding: its cells are not even parsed
    chunks: list[tuple[int, ast.Module]] = []
    evidence: dict[str, str] = {}
    for index, code in cells:
        lines, env_setting = blank_magics(unit.sources[index])
        if env_setting is not None and "keras2" not in evidence:
            value, line = env_setting
            evidence["keras2"] = f"%env TF_USE_LEGACY_KERAS={value} (cell {index}, line {line})"
        if not lines:
            continue
        try:
            tree = _parse_cell(code, "\n".join(lines))
        except FrontendError as exc:
            unit.problems.append(f"cell {index}: {exc}")
            continue
        chunks.append((index, tree))
    lower(unit, chunks, evidence, file=file, project=project)


def _parse_cell(original: str, blanked: str) -> ast.Module:
    try:
        return parse(blanked)
    except FrontendError:
        # Blanking can only break a cell through a multi-line string holding a `%` line.
        if blanked.strip() != original.strip():
            try:
                return ast.parse(original)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                pass
        raise


def analyze_file(path: pathlib.Path, display: str, project=None, data: bytes | None = None) -> Unit:
    """Facts of one `.ipynb` file; `display` is the path as the user gave it; `data` its bytes, when
    the caller has read them already."""
    data = read_bytes(path) if data is None else data
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrontendError(f"not valid UTF-8 (byte {exc.start})") from None
    return analyze_notebook_text(text, display, path.resolve(), project)
