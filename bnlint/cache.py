"""A content-hash cache of static results, so an unchanged file is not analysed twice.

Keyed by the file's bytes plus everything else that shapes its findings (bnlint's version, the
rules, the resolved runtime, the enabled rules). The directory only holds derived data: it is
safe to delete at any time, and a corrupt entry is treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bnlint import __version__
from bnlint.findings import Finding, InputError


def key(content: bytes, *parts: str) -> str:
    digest = hashlib.sha256(content)
    for part in (__version__, *parts):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _entry(directory: Path, cache_key: str) -> Path:
    return directory / cache_key[:2] / f"{cache_key}.json"


def load(directory: Path, cache_key: str, digest=None) -> tuple[list[Finding], list[InputError]] | None:
    """The stored result, if there is one and every other file it was derived from (a project
    module the script imports) still has the content it had (`digest(path)` gives it now)."""
    try:
        data = json.loads(_entry(directory, cache_key).read_text(encoding="utf-8"))
        deps = data.get("deps") or {}
        if digest is not None and any(digest(path) != sha for path, sha in deps.items()):
            return None
        findings = [Finding.from_dict(f) for f in data["findings"]]
        errors = [InputError(**e) for e in data["errors"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return findings, errors


def store(directory: Path, cache_key: str, findings: list[Finding], errors: list[InputError], deps: dict[str, str] | None = None) -> None:
    """Write atomically; a cache that cannot be written is silently skipped (it is an optimisation)."""
    import tempfile
    from dataclasses import asdict

    entry = _entry(directory, cache_key)
    payload = {"findings": [f.to_dict() for f in findings], "errors": [asdict(e) for e in errors], "deps": deps or {}}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        if not (directory / ".gitignore").exists():
            (directory / ".gitignore").write_text("# created by bnlint: safe to delete\n*\n")
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out)
        os.replace(tmp, entry)
    except OSError:
        return
