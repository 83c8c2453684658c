"""Read the files a user hands bnlint without hanging or exhausting memory: regular files only, capped.

A FIFO named `train.py` blocks a plain `read()` forever and a symlink to `/dev/zero` never ends;
both are refused before a byte is read. Sizes are checked on the open file (no race with a
rename) and the read stops past the limit even when the size the file reports is wrong.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Far above any real script, notebook, config or rule file; the frontends set their own limits.
DEFAULT_LIMIT = 256 * 2**20


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


def read_bytes(path: str | os.PathLike, limit: int = DEFAULT_LIMIT) -> bytes:
    """The whole file, if it is a regular file of at most `limit` bytes; else UnreadableFile."""
    check_regular(path)  # before open(): opening a FIFO for reading blocks until a writer appears
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the check, open() still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(_refusal(mode))
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


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file (following symlinks), without raising."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False
