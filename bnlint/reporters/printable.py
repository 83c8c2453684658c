"""Make text that came from an input safe for a terminal or a log: every non-printable character escaped.

A layer named with ESC or BEL bytes could rewrite the terminal title (or worse) if printed raw,
and a newline in a file name would split one line of output in two. Lone surrogates (the
undecodable bytes of a non-UTF-8 file name) come out as the byte they stand for.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every character `str.isprintable()` rejects (controls, format characters such as
    bidi overrides, lone surrogates) written as a Python-style escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)
