"""A change to a text as LSP text edits: the lines that differ between the old text and the new one.

Fixes and suppressions are made by bnlint's own functions, which return the whole new text
(`bnlint.api.fixed_source`, `noqa_source`); the editor receives only the lines that changed,
so its cursor, folds and undo history stay where they were.
"""

from __future__ import annotations

import difflib
import re

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

# Lines with their breaks, split where Python splits them (not at form feeds, unlike splitlines).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def text_edits(old: str, new: str, codec: PositionCodec) -> list[types.TextEdit]:
    """The edits that turn `old` into `new`, one per block of changed lines."""
    before, after = _lines(old), _lines(new)
    edits = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, first, last, new_first, new_last in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(types.TextEdit(types.Range(_start_of(before, first, codec), _start_of(before, last, codec)),
                                    "".join(after[new_first:new_last])))
    return edits


def _start_of(lines: list[str], index: int, codec: PositionCodec) -> types.Position:
    """Where line `index` starts; past the last line, the end of the text (which may have no
    final line break: the position is then at the end of that last line)."""
    if index < len(lines) or not lines:
        return types.Position(index, 0)
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return types.Position(len(lines), 0)
    return types.Position(len(lines) - 1, codec.client_num_units(last))
