"""Read the files a user hands bnlint without hanging or exhausting memory: regular files only, capped.

A FIFO named `train.py` blocks a plain `read()` forever and a symlink to `/dev/zero` never ends;
both are refused before a byte is read. Sizes are checked on the open file (no race with a
rename) and the read stops past the limit even when the size the file reports is wrong.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import BinaryIO

# Far above any real script, notebook, config or rule file; the frontends set their own limits.
DEFAULT_LIMIT = 256 * 2**20
# JSON values one input may hold. A size limit alone does not bound memory: `[]` is 2 bytes of
# JSON and 64 of Python, so 64 MiB of it parse to 2 GiB. ResNet50's config holds ~20,000 values.
MAX_JSON_VALUES = 2_000_000


class UnreadableFile(Exception):
    """The file cannot be read safely. `str()` is one line, without the path."""


def _refusal(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    return "not a regular file"


def check_regular(path: str | os.PathLike) -> None:
    """Raise UnreadableFile unless `path` (after symlinks) is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(mode):
        raise UnreadableFile(_refusal(mode))


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """The file opened for reading (binary), if it is a regular file; else UnreadableFile."""
    check_regular(path)  # before open(): opening a FIFO for reading blocks until a writer appears
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the check, open() still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    handle = os.fdopen(fd, "rb")
    mode = os.fstat(handle.fileno()).st_mode
    if not stat.S_ISREG(mode):
        handle.close()
        raise UnreadableFile(_refusal(mode))
    return handle


def read_bytes(path: str | os.PathLike, limit: int = DEFAULT_LIMIT) -> bytes:
    """The whole file, if it is a regular file of at most `limit` bytes; else UnreadableFile."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise UnreadableFile(f"too large to analyse ({size} bytes, limit {limit})")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > limit:
        raise UnreadableFile(f"too large to analyse (more than {limit} bytes)")
    return data


def read_text(path: str | os.PathLike, limit: int = DEFAULT_LIMIT, encoding: str = "utf-8") -> str:
    """`read_bytes` decoded; a decoding error is an UnreadableFile too."""
    data = read_bytes(path, limit)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid {encoding.upper()} (byte {exc.start})") from None


def json_values(data: bytes | str) -> int:
    """An upper bound on the number of values a JSON text holds, counted in C: its separators and brackets."""
    marks = (",", ":", "[", "{") if isinstance(data, str) else (b",", b":", b"[", b"{")
    return 1 + sum(data.count(mark) for mark in marks)  # type: ignore[arg-type]


def parse_json(data: bytes | str, what: str, max_values: int = MAX_JSON_VALUES) -> object:
    """JSON from an input file, or UnreadableFile with one line naming `what` was wrong.

    Refused before parsing when it may hold more than `max_values` values (counted from its
    separators and brackets, an upper bound), so memory stays proportional to a sane input.
    """
    # A JSON value takes at least one character, so a text this short cannot hold too many: not counted.
    values = json_values(data) if len(data) > max_values else 0
    if values > max_values:
        raise UnreadableFile(f"{what} is too complex to analyse (up to {values:,} JSON values, limit {max_values:,})")
    try:
        return json.loads(data)
    except RecursionError:
        raise UnreadableFile(f"{what} is nested too deeply to read") from None
    except UnicodeDecodeError:
        raise UnreadableFile(f"{what} is not UTF-8 text") from None
    except ValueError as exc:  # json.JSONDecodeError: "Expecting value: line 1 column 1 (char 0)"
        raise UnreadableFile(f"{what} is not valid JSON ({exc})") from None


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file (following symlinks), without raising."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False
