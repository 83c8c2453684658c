"""Folders and files that only the user running bnlint controls, used without following symlinks.

Everything below a folder is reached through the folder's descriptor (`dir_fd`) with O_NOFOLLOW:
a symlink planted in place of a subfolder or a file, or swapped in between a check and a use,
is refused instead of followed out of the folder. A write goes to a new temporary file that is
renamed into place, and the temporary file is removed on every failure (a full disk included).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO in place of a file must not block the read


class NotOwned(Exception):
    """The folder or file is not one this user alone controls; `str()` says why, in a few words."""


def supported() -> bool:
    """Whether this platform opens files relative to a folder without following symlinks."""
    return bool(_NOFOLLOW and _DIRECTORY) and {os.open, os.mkdir, os.rename, os.unlink, os.link, os.stat} <= os.supports_dir_fd  # os.replace is os.rename's twin


def check_owned(info: os.stat_result, what: str = "folder") -> None:
    """Raise NotOwned unless `info` is this user's, and no one else may write to it."""
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise NotOwned(f"the {what} belongs to another user (uid {info.st_uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise NotOwned(f"other users may write to the {what} (mode {stat.S_IMODE(info.st_mode):o})")


def open_folder(name: str | os.PathLike, dir_fd: int | None = None) -> int:
    """A descriptor of the folder `name` (relative to `dir_fd`), which must be a real folder (not
    a symlink), owned by this user and writable by no one else. The caller closes it."""
    try:
        fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # O_NOFOLLOW met a symlink, or a file is there
            raise NotOwned("it is a symlink" if _is_link(name, dir_fd) else "it is not a folder") from None
        raise
    try:
        check_owned(os.fstat(fd))  # the folder opened, not whatever the path names by now
    except NotOwned:
        os.close(fd)
        raise
    return fd


def _is_link(name: str | os.PathLike, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def make_folder(name: str, dir_fd: int) -> int:
    """`open_folder` of the subfolder `name`, created (private to this user) if missing."""
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        pass
    return open_folder(name, dir_fd)


def read_file(name: str, dir_fd: int, limit: int, private: bool = False) -> bytes:
    """The bytes of the regular file `name` below `dir_fd`, at most `limit` of them; NotOwned when
    it is a symlink, not a regular file, too large, not this user's (or, `private`, readable by
    others). FileNotFoundError passes through."""
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotOwned("it is a symlink") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotOwned("it is not a regular file")
        check_owned(info, "file")
        if private and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise NotOwned(f"other users may read the file (mode {stat.S_IMODE(info.st_mode):o})")
        if info.st_size > limit:
            raise NotOwned(f"it is too large ({info.st_size} bytes)")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotOwned("it is too large")
    return data


def write_file(name: str, dir_fd: int, data: bytes, *, replace: bool = True) -> bool:
    """Write `data` to `name` below `dir_fd` whole or not at all (private to this user). With
    `replace=False` an existing `name` is kept and False returned. OSError on failure; the
    temporary file is gone either way."""
    temporary = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dir_fd)
    placed = False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if not replace:
                os.fsync(fd)  # a file that is never replaced must not be read half-written after a crash
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            placed = True
            return True
        try:
            os.link(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # fails if `name` exists: no race
        except FileExistsError:
            return False
        return True
    finally:
        if not placed:
            try:
                os.unlink(temporary, dir_fd=dir_fd)
            except OSError:
                pass
