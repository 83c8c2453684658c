"""The secret that binds cache entries to this user on this machine.

32 random bytes in `$XDG_CACHE_HOME/bnlint/secret` (else `~/.cache/bnlint/secret`): outside every
tree bnlint scans, so no repository can ship it, and readable by its owner only. The cache signs
each entry and marks each folder it makes with an HMAC under this key (`bnlint.cache`); an entry
or folder made anywhere else, or before the key was replaced, does not verify.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bnlint import owned_files

SECRET_NAME = "secret"
SECRET_SIZE = 32


class SecretUnavailable(Exception):
    """No usable secret: `str()` says why, in one line."""


def secret_folder() -> Path:
    """Where the secret lives: the XDG cache home (an absolute $XDG_CACHE_HOME, else ~/.cache)."""
    configured = os.environ.get("XDG_CACHE_HOME", "")
    try:
        base = Path(configured) if os.path.isabs(configured) else Path.home() / ".cache"
    except RuntimeError as exc:  # no home folder can be determined
        raise SecretUnavailable(f"no folder to keep its key in ({exc})") from None
    return base / "bnlint"


def load_secret() -> bytes:
    """This user's secret, created on first use; SecretUnavailable when it cannot be read or
    made, or when its file or folder could have been written by someone else."""
    folder = secret_folder()
    try:
        os.makedirs(folder.parent, 0o700, exist_ok=True)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        folder_fd = owned_files.open_folder(folder)
    except owned_files.NotOwned as exc:
        raise SecretUnavailable(f"{folder}: {exc}") from None
    except OSError as exc:
        raise SecretUnavailable(f"cannot use {folder}: {exc.strerror or exc}") from None
    try:
        try:
            return _read(folder_fd, folder)
        except FileNotFoundError:
            _create(folder_fd, folder)
            return _read(folder_fd, folder)
    finally:
        os.close(folder_fd)


def _read(folder_fd: int, folder: Path) -> bytes:
    where = folder / SECRET_NAME
    try:
        data = owned_files.read_file(SECRET_NAME, folder_fd, SECRET_SIZE, private=True)
    except owned_files.NotOwned as exc:
        raise SecretUnavailable(f"{where}: {exc}") from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretUnavailable(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) != SECRET_SIZE:
        raise SecretUnavailable(f"{where}: not a key bnlint made ({len(data)} bytes; remove it to make a new one)")
    return data


def _create(folder_fd: int, folder: Path) -> None:
    """Write a new secret, unless another bnlint process wrote one first (then that one counts)."""
    try:
        owned_files.write_file(SECRET_NAME, folder_fd, secrets.token_bytes(SECRET_SIZE), replace=False)
    except OSError as exc:
        raise SecretUnavailable(f"cannot write {folder / SECRET_NAME}: {exc.strerror or exc}") from None
