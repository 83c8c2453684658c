"""Where each line of a notebook cell is in the `.ipynb` file itself, for formats that point at file lines.

Findings in notebooks say `cell 3, line 5`; code scanning and GitHub annotations need the line of
the JSON file. Jupyter writes a cell's source as a list of strings, one per line, each on a line
of its own, so the file line of a cell line is where its string starts. The JSON is tokenized
once (strings are matched whole by one regex, so large outputs cost little); `json` itself keeps
no positions.
"""

from __future__ import annotations

import bisect
import json
import re

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)
_SOURCE_KEYS = ("source", "input")  # nbformat 4, and nbformat 3's code cells


def _cell_index(path: tuple, numbering: dict[tuple, int]) -> int | None:
    """The 1-based index among all cells of the cell at `path` (nbformat 4 `cells`, or 3's worksheets)."""
    if len(path) == 2 and path[0] == "cells" or len(path) == 4 and path[0] == "worksheets" and path[2] == "cells":
        return numbering.setdefault(path, len(numbering) + 1)
    return None


def cell_line_map(text: str) -> dict[int, list[int]]:
    """cell index -> the file line (1-based) of each of its source lines; {} if the text is not JSON."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    numbering: dict[tuple, int] = {}
    found: dict[int, list[int]] = {}
    stack: list[list] = []  # [kind, path, key or index, expecting a key]
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token in ",:":
            if token == "," and stack:
                frame = stack[-1]
                if frame[0] == "array":
                    frame[2] += 1
                else:
                    frame[3] = True
            continue
        if token in "}]":
            if not stack:
                return {}
            stack.pop()
            continue
        if stack and stack[-1][0] == "object" and stack[-1][3]:
            try:
                stack[-1][2] = json.loads(token)  # a key
            except ValueError:
                return {}
            stack[-1][3] = False
            continue
        path = (*stack[-1][1], stack[-1][2]) if stack else ()
        if token == "{":
            _cell_index(path, numbering)
            stack.append(["object", path, None, True])
        elif token == "[":
            stack.append(["array", path, 0, False])
        elif token.startswith('"'):
            _record(token, m.start(), path, numbering, newlines, found)
    return found


def _record(token: str, offset: int, path: tuple, numbering: dict, newlines: list[int], found: dict) -> None:
    # A string at <cell>/source (the whole source) or <cell>/source/<n> (one of its lines).
    for cut in (1, 2):
        if len(path) > cut and path[-cut] in _SOURCE_KEYS and (cut == 1 or isinstance(path[-1], int)):
            cell = _cell_index(path[:-cut], numbering)
            if cell is None:
                return
            line = bisect.bisect_right(newlines, offset) + 1
            try:
                lines = max(1, json.loads(token).count("\n") + (0 if token.endswith('\\n"') else 1))
            except ValueError:
                return
            found.setdefault(cell, []).extend([line] * lines)
            return


def file_line(lines_of_cell: dict[int, list[int]], cell: int | None, line: int | None) -> int | None:
    """The file line of `line` (1-based) in `cell`, or None when it cannot be told."""
    if cell is None or line is None:
        return None
    lines = lines_of_cell.get(cell)
    if not lines:
        return None
    return lines[min(line, len(lines)) - 1]
