"""The cache folder: bytes kept under a key, read back only if this user's bnlint wrote them here.

A cache is an input like any other file in a tree someone else may have made, so nothing in it is
trusted until it proves where it came from:

- the folder must be one bnlint made (or found empty) on this machine: a real folder, not a
  symlink, owned by the user running bnlint and writable by no one else, holding a `CACHEDIR.TAG`
  (the Cache Directory Tagging convention: backup tools skip it) whose last line is an HMAC under
  this user's secret (`bnlint.cache_secret`, kept outside every scanned tree). Any other folder,
  such as one that came with a repository, tag and all, is neither read nor written: one note;
- every entry carries an HMAC over its kind, its key and its bytes, checked before anything reads
  the bytes: an entry copied from another machine or user, or moved to another key, is a miss;
- below the folder no symlink is followed and every write is whole or absent
  (`bnlint.owned_files`).

What an entry holds is for its caller to keep pure data about what the key names
(`bnlint.scan_cache`, `bnlint.confirm.reuse`). The folder is safe to delete at any time.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import shutil
import tempfile
from pathlib import Path

from bnlint import owned_files
from bnlint.cache_secret import SecretUnavailable, load_secret

ENTRY_LIMIT = 16 * 2**20
TAG_NAME = "CACHEDIR.TAG"
TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55\n"
GITIGNORE = "# created by bnlint: safe to delete\n*\n"
ENTRY_FORMAT = b"bnlint-cache-2"
_KEY = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z]{1,16}")


def key(*parts: bytes | str) -> str:
    """A cache key: the SHA-256 of `parts`, each length-prefixed so that no two lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _mac(secret: bytes, *parts: bytes) -> str:
    return hmac.new(secret, b"\0".join(parts), hashlib.sha256).hexdigest()


def folder_tag(secret: bytes) -> bytes:
    """The `CACHEDIR.TAG` of a folder this user's bnlint made: only the secret's owner can write it."""
    mark = _mac(secret, b"bnlint cache folder")
    return (f"{TAG_SIGNATURE}# This directory is a cache created by bnlint; it is safe to delete.\n"
            f"# bnlint {mark}\n").encode()


class Cache:
    """A verified cache folder. Every failure to read is a miss and every failure to write is
    skipped: the cache is an optimisation."""

    def __init__(self, directory: Path, secret: bytes, folder_fd: int | None = None) -> None:
        self.directory = directory
        self._secret = secret
        self._fd = folder_fd
        self._pid = os.getpid()
        self._subfolders: dict[str, int] = {}  # opened (and checked) once per process

    def __getstate__(self) -> dict:
        # A process of the scan's pool opens (and checks) the folder again for itself.
        return {"directory": self.directory, "secret": self._secret}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["directory"], state["secret"])  # type: ignore[misc]

    def __del__(self) -> None:
        if self._pid == os.getpid():
            for fd in (*self._subfolders.values(), *([self._fd] if self._fd is not None else [])):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _folder(self) -> int | None:
        if self._fd is None or self._pid != os.getpid():
            self._subfolders = {}  # a forked process's copies stay its parent's to close
            try:
                self._fd, self._pid = _verified_folder(self.directory, self._secret, create=False), os.getpid()
            except (owned_files.NotOwned, OSError):
                return None
        return self._fd

    def _subfolder(self, entry_key: str, create: bool) -> int | None:
        """The checked subfolder an entry lives in (the first two characters of its key)."""
        folder = self._folder() if _KEY.fullmatch(entry_key) else None
        if folder is None:
            return None
        name = entry_key[:2]
        if name not in self._subfolders:
            try:
                self._subfolders[name] = (owned_files.make_folder if create else owned_files.open_folder)(name, folder)
            except (owned_files.NotOwned, OSError):
                return None
        return self._subfolders[name]

    def _header(self, kind: str, entry_key: str, payload: bytes) -> bytes:
        return ENTRY_FORMAT + b" " + _mac(self._secret, kind.encode(), entry_key.encode(), payload).encode()

    def load(self, kind: str, entry_key: str) -> bytes | None:
        """The bytes stored under (`kind`, `entry_key`) by this user's bnlint, or None."""
        subfolder = self._subfolder(entry_key, create=False) if _KIND.fullmatch(kind) else None
        if subfolder is None:
            return None
        try:
            data = owned_files.read_file(f"{kind}-{entry_key}", subfolder, ENTRY_LIMIT)
        except (owned_files.NotOwned, OSError):
            return None
        header, _, payload = data.partition(b"\n")
        return payload if hmac.compare_digest(header, self._header(kind, entry_key, payload)) else None

    def store(self, kind: str, entry_key: str, payload: bytes) -> None:
        """Keep `payload` under (`kind`, `entry_key`), replacing what was there, or nothing."""
        subfolder = self._subfolder(entry_key, create=True) if _KIND.fullmatch(kind) else None
        if subfolder is None:
            return
        try:
            owned_files.write_file(f"{kind}-{entry_key}", subfolder, self._header(kind, entry_key, payload) + b"\n" + payload)
        except (owned_files.NotOwned, OSError):
            return


def open_cache(directory: Path) -> tuple[Cache | None, str | None]:
    """The cache in `directory`, made now if it does not exist; or None and a one-line note
    saying why it is not used."""
    if not owned_files.supported():
        return None, "cache not used: this platform cannot open files without following symlinks"
    try:
        secret = load_secret()
    except SecretUnavailable as exc:
        return None, f"cache not used: {exc}"
    try:
        return Cache(directory, secret, _verified_folder(directory, secret, create=True)), None
    except owned_files.NotOwned as exc:
        return None, f"cache folder {directory} not used: {exc}"
    except OSError as exc:
        return None, f"cache folder {directory} not used: {exc.strerror or exc}"


def _verified_folder(directory: Path, secret: bytes, create: bool) -> int:
    """A descriptor of `directory`, checked to be a cache this user's bnlint made (or made now)."""
    try:
        fd = owned_files.open_folder(directory)
    except FileNotFoundError:
        if not create:
            raise
        _make(directory, secret)
        fd = owned_files.open_folder(directory)
    try:
        tag = folder_tag(secret)
        try:
            found = owned_files.read_file(TAG_NAME, fd, len(tag))
        except FileNotFoundError:
            found = None
        except owned_files.NotOwned:
            found = b""
        if found != tag:
            if found is not None or os.listdir(fd):
                raise owned_files.NotOwned("bnlint did not make it on this machine (remove it, and bnlint makes its own)")
            _mark(fd, tag)  # an empty folder holds nothing to trust: claim it
    except BaseException:
        os.close(fd)
        raise
    return fd


def _mark(folder_fd: int, tag: bytes) -> None:
    owned_files.write_file(".gitignore", folder_fd, GITIGNORE.encode())
    owned_files.write_file(TAG_NAME, folder_fd, tag)


def _make(directory: Path, secret: bytes) -> None:
    """Make the folder whole, tag included, under a temporary name, then rename it into place:
    another bnlint process sees either no folder or a tagged one."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent)  # private to this user
    try:
        fd = owned_files.open_folder(staging)
        try:
            _mark(fd, folder_tag(secret))
        finally:
            os.close(fd)
        os.rename(staging, directory)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        # Another bnlint process made it first: that one is checked like any other.
    finally:
        if os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
