"""The notebook frontend: `.ipynb` code cells, read as IPython runs them, analysed as one program."""

from __future__ import annotations

import ast
import pathlib
import re

from bnlint import safe_io
from bnlint.frontends import FrontendError
from bnlint.frontends.python.cells import legacy_keras_setting, parse_cell
from bnlint.frontends.python.evidence import colab_magic, python_runtime
from bnlint.frontends.python.outputs import recorded_runtime
from bnlint.frontends.python.script import gc_paused, lower, worth_interpreting
from bnlint.frontends.python.source import check_parse_size, read_bytes, source_lines
from bnlint.ir import Runtime, Unit
from bnlint.runtime import DEFAULT, Keras3RuledOut

# Cells that cannot be analysed are summarised in one line per notebook, naming the first few.
PROBLEMS_SHOWN = 3


def _cells(data: dict) -> tuple[list, str]:
    """The cells and the key of their source: nbformat 4 `cells`, or nbformat 3 `worksheets`."""
    if "cells" in data:
        cells = data["cells"]
        if not isinstance(cells, list):
            raise FrontendError("not a notebook: `cells` is not a list")
        return cells, "source"
    worksheets = data.get("worksheets")
    if not isinstance(worksheets, list):
        raise FrontendError("not a notebook: no `cells`")
    cells = []
    for number, sheet in enumerate(worksheets, start=1):
        sheet_cells = sheet.get("cells", []) if isinstance(sheet, dict) else None
        if not isinstance(sheet_cells, list):
            raise FrontendError(f"not a notebook: worksheet {number} has no list of cells")
        cells.extend(sheet_cells)
    return cells, "input"


def code_cells(data: object) -> list[tuple[int, object, object]]:
    """(1-based index among all cells, source, stored outputs) of each code cell; nbformat 4, or
    3's worksheets."""
    if not isinstance(data, dict):
        raise FrontendError("not a notebook: the top level is not a JSON object")
    cells, source_key = _cells(data)
    return [
        (index, cell.get(source_key, cell.get("source", "")), cell.get("outputs"))
        for index, cell in enumerate(cells, start=1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]


def cell_text(source: object) -> str | None:
    """A cell's source as one text (nbformat stores a string or a list of lines); None if it is neither."""
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str):
        return None
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate from a JSON escape ("\ud800") is no character any parser or output can
        # carry: one `?` each, so that columns stay where they were.
        source = source.encode("utf-8", "replace").decode("utf-8")
    return source


def summarise(problems: list[tuple[int, str]]) -> str:
    """One line for all the cells that could not be analysed: the count and the first few."""
    shown = ", ".join(f"cell {index} ({reason})" for index, reason in problems[:PROBLEMS_SHOWN])
    more = f", and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
    if len(problems) == 1:
        return f"1 cell could not be parsed: {shown}"
    return f"{len(problems)} cells could not be parsed: {shown}{more}"


_KERNEL_PYTHON = re.compile(r"\bpython\s*(\d+(?:\.\d+)*)", re.IGNORECASE)


def kernel_evidence(data: object) -> dict[str, str]:
    """Runtime evidence of the kernel the notebook was saved with, when it is older than any Keras 3
    supports (`{"not_keras3": "Python 3.6.9 kernel (notebook metadata)"}`; Python 2 is `legacy`):
    the version it ran (`language_info.version`), else the one its display name gives
    ("Python 3.6", "Python 2"). An old kernel points further back, as a call of the Keras 2 API
    does: with standalone `keras` imports only, it is Keras <= 2.3 (legacy)."""
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(metadata, dict):
        return {}
    language = metadata.get("language_info")
    version = None
    if isinstance(language, dict) and str(language.get("name", "python")).lower() == "python":
        version = language.get("version")
    if not isinstance(version, str):
        kernel = metadata.get("kernelspec")
        name = kernel.get("display_name") if isinstance(kernel, dict) else None
        match = _KERNEL_PYTHON.search(name) if isinstance(name, str) else None
        version = match.group(1) if match else None
    found = python_runtime(version) if isinstance(version, str) else None
    if found is None:
        return {}
    text = f"Python {version} kernel (notebook metadata)"
    return {"legacy": text} if found == "legacy" else {"not_keras3": text, "keras2_call": text}


def analyze_notebook_text(text: str, path: str, file: pathlib.Path | None = None, project=None) -> Unit:
    """Facts of a notebook's JSON text; a cell that does not parse is skipped, and noted. With a
    `project` (a scan), the project's own modules the cells import are read too, and a notebook
    in which the selected rules can find nothing is not parsed (`worth_interpreting`)."""
    try:
        data = safe_io.parse_json(text, "the notebook")
    except safe_io.UnreadableFile as exc:
        raise FrontendError(str(exc)) from None
    stored = code_cells(data)
    # What the outputs show it ran on: weaker than its code and the pins (`runtime.resolve`).
    unit = Unit(path=path, kind="notebook", runtime=DEFAULT, recorded=recorded_runtime(stored))
    cells: list[tuple[int, str]] = []
    problems: list[tuple[int, str]] = []
    for index, source, _ in stored:
        code = cell_text(source)
        if code is None:
            problems.append((index, "source is not text"))
            continue
        unit.sources[index] = source_lines(code)
        cells.append((index, code))

    with gc_paused():  # the trees are freed when this returns, before GC resumes
        _lower_cells(unit, cells, problems, file, project, kernel_evidence(data))
    if problems:
        unit.problems.append(summarise(sorted(problems)))
    return unit


def _magic_evidence(unit: Unit, cells: list[tuple[int, str]], evidence: dict[str, str]) -> None:
    """What the notebook's magics say of its runtime: `%env TF_USE_LEGACY_KERAS=1`, Colab's
    `%tensorflow_version 1.x`."""
    for index, _ in cells:
        lines = unit.sources[index]
        text = "".join(lines)
        setting = legacy_keras_setting(lines) if "%env" in text else None
        if setting is not None and "keras2" not in evidence:
            value, line = setting
            evidence["keras2"] = f"%env TF_USE_LEGACY_KERAS={value} (cell {index}, line {line})"
        magic = colab_magic(lines) if "%tensorflow_version" in text else None
        if magic is not None:
            kind, what, line = magic
            evidence.setdefault(kind, f"{what} (cell {index}, line {line})")


def _unread(evidence: dict[str, str]) -> Runtime:
    """The runtime of a notebook whose code is not read, from its kernel and magics alone (the
    interpreter's own order, `KerasSemantics.runtime`: legacy, keras2, then Keras 3 ruled out)."""
    for target in ("legacy", "keras2"):
        if target in evidence:
            return Runtime(target, evidence[target])  # type: ignore[arg-type]
    return Keras3RuledOut("keras2", evidence["not_keras3"]) if "not_keras3" in evidence else DEFAULT


def _lower_cells(unit: Unit, cells: list[tuple[int, str]], problems: list[tuple[int, str]],
                 file: pathlib.Path | None = None, project=None, kernel: dict[str, str] | None = None) -> None:
    joined = "\n".join(code for _, code in cells)
    evidence: dict[str, str] = dict(kernel or {})
    if "%env" in joined or "%tensorflow_version" in joined:
        _magic_evidence(unit, cells, evidence)
    if not worth_interpreting(joined, file, project, unit):
        # Nothing here can be a finding: its cells are not even parsed. It still says which
        # runtime it was judged by.
        unit.runtime = _unread(evidence)
        return
    check_parse_size(len(joined))
    chunks: list[tuple[int | None, ast.Module]] = []
    for index, _ in cells:
        try:
            tree = parse_cell(unit.sources[index])
        except FrontendError as exc:
            problems.append((index, str(exc)))
            continue
        if tree is not None:
            chunks.append((index, tree))
    lower(unit, chunks, evidence, file=file, project=project)


def analyze_file(path: pathlib.Path, display: str, project=None, data: bytes | None = None,
                 resolved: pathlib.Path | None = None) -> Unit:
    """Facts of one `.ipynb` file; `display` is the path as the user gave it; `data` its bytes and
    `resolved` its real path, when the caller has them already."""
    data = read_bytes(path) if data is None else data
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrontendError(f"not valid UTF-8 (byte {exc.start})") from None
    return analyze_notebook_text(text, display, resolved or path.resolve(), project)
