"""What this installation of bnlint is, as one digest: part of every cache key.

A cached result is only as current as the code and data that produced it: bnlint's version, its
own source (an editable install changes without a new version), and the content (not the
modification time) of every rule file, the knowledge data and the user's rule folders.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import bnlint
from bnlint.rules import builtin_rules_dir


def _files(folder: Path, suffixes: tuple[str, ...], recursive: bool = True) -> list[Path]:
    found = []
    for current, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith((".", "__pycache__"))) if recursive else []
        found += [Path(current, name) for name in sorted(names) if name.endswith(suffixes)]
    return found


def _update(digest, label: str, files: list[Path], root: Path) -> None:
    digest.update(f"\0{label}\0".encode())
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:  # an unreadable rule file fails the rule loader already; keep the key honest
            data = f"unreadable: {exc.errno}".encode()
        name = os.path.relpath(file, root).encode("utf-8", "surrogatepass")
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)


def installation_digest(rules_dirs: tuple[Path, ...] = ()) -> str:
    """The digest of bnlint's version, its code, its rules and knowledge data, and `rules_dirs`
    (the rule files its loader reads there: `*.yaml`)."""
    digest = hashlib.sha256(bnlint.__version__.encode())
    package = Path(bnlint.__file__).parent
    _update(digest, "code", _files(package, (".py",)), package)
    builtin = builtin_rules_dir()
    _update(digest, "rules", _files(builtin, (".yaml", ".yml", ".json")), builtin)
    for folder in rules_dirs:
        _update(digest, f"rules-dir {os.fspath(folder)}", _files(Path(folder), (".yaml",), recursive=False), Path(folder))
    return digest.hexdigest()
