"""What this installation of bnlint is, as one digest: part of every cache key.

A cached result is only as current as the code and data that produced it: bnlint's version, its
own source files (an editable install changes without a new version: their sizes and modification
times, a stat each, since no one edits them to fool the cache), and the content (not the
modification time) of every rule file, the knowledge data and the user's rule folders: rules can
come with the code being checked.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import bnlint
from bnlint.shipped import builtin_rules_dir


def _files(folder: str, suffixes: tuple[str, ...], recursive: bool = True) -> list[tuple[str, str]]:
    """(name relative to `folder`, path) of its files with these suffixes, in a stable order."""
    found = []
    for current, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith((".", "__pycache__"))) if recursive else []
        prefix = current[len(folder):].lstrip(os.sep)
        found += [(os.path.join(prefix, name), os.path.join(current, name)) for name in sorted(names) if name.endswith(suffixes)]
    return found


def _update(digest, label: str, files: list[tuple[str, str]], by_content: bool) -> None:
    digest.update(f"\0{label}\0".encode("utf-8", "surrogatepass"))
    for name, path in files:
        try:
            if by_content:
                with open(path, "rb") as handle:
                    data = handle.read()
            else:
                info = os.stat(path)
                data = f"{info.st_size} {info.st_mtime_ns}".encode()
        except OSError as exc:  # an unreadable rule file fails the rule loader already; keep the key honest
            data = f"unreadable: {exc.errno}".encode()
        encoded = name.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big") + encoded + len(data).to_bytes(8, "big") + data)


def installation_digest(rules_dirs: tuple[Path, ...] = ()) -> str:
    """The digest of bnlint's version, its code, its rules and knowledge data, and `rules_dirs`
    (the rule files its loader reads there: `*.yaml`). About a millisecond."""
    digest = hashlib.sha256(bnlint.__version__.encode())
    package = os.path.dirname(bnlint.__file__)
    _update(digest, "code", _files(package, (".py",)), by_content=False)
    builtin = str(builtin_rules_dir())
    _update(digest, "rules", _files(builtin, (".yaml", ".yml", ".json")), by_content=True)
    for folder in rules_dirs:
        _update(digest, f"rules-dir {os.fspath(folder)}", _files(os.fspath(folder), (".yaml",), recursive=False), by_content=True)
    return digest.hexdigest()
