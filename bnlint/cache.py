"""A content-hash cache of static results, so an unchanged file is not analysed twice.

Keyed by the file's bytes plus everything else that shapes its findings (bnlint's version, the
rules, the resolved runtime, the enabled rules). The directory only holds derived data: it is
safe to delete at any time, and an entry that is corrupt, oversized or malformed is a miss.

bnlint writes only into a cache directory it created itself (or found empty), which it marks with
a `CACHEDIR.TAG` (the Cache Directory Tagging convention: backup tools skip it) and a `.gitignore`
of `*`. A directory it did not create, such as the project root given as `cache-dir: .`, is
never written to: no `.gitignore` lands where it would hide the project from git.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bnlint import __version__, safe_io
from bnlint.findings import Finding, InputError
from bnlint.ir import Runtime
from bnlint.vocabulary import RUNTIMES

ENTRY_LIMIT = 16 * 2**20
CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This directory is a cache created by bnlint; it is safe to delete.\n"
GITIGNORE = "# created by bnlint: safe to delete\n*\n"


def key(content: bytes, *parts: str) -> str:
    digest = hashlib.sha256(content)
    for part in (__version__, *parts):
        digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _entry(directory: Path, cache_key: str) -> Path:
    return directory / cache_key[:2] / f"{cache_key}.json"


_OPTIONAL_INT = ("line", "column", "end_line", "end_column", "cell")
_TEXT = ("rule", "name", "severity", "message", "path", "verdict", "fix", "input", "anchor")


def _finding(data: object) -> Finding:
    """A cached finding, checked field by field: a malformed one must be a miss, not a crash later."""
    if not isinstance(data, dict):
        raise TypeError("not a mapping")
    if not all(isinstance(data.get(k), str) for k in _TEXT) or not isinstance(data.get("occurrence"), int):
        raise TypeError("malformed finding")
    if not all(data.get(k) is None or type(data.get(k)) is int for k in _OPTIONAL_INT):
        raise TypeError("malformed location")
    if not (data.get("layer_path") is None or isinstance(data.get("layer_path"), str)):
        raise TypeError("malformed layer path")
    finding = Finding.from_dict(data)
    finding.fingerprint(), finding.sort_key()  # everything later computes from it works now
    return finding


def _runtime(data: object) -> Runtime | None:
    """The cached runtime the file was judged by (None: it could not be analysed)."""
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("target") not in RUNTIMES or not isinstance(data.get("source"), str):
        raise TypeError("malformed runtime")
    return Runtime(data["target"], data["source"])


def load(directory: Path, cache_key: str, digest=None) -> tuple[list[Finding], list[InputError], Runtime | None] | None:
    """The stored result (findings, errors, the runtime the file was judged by), if there is one
    and every other file it was derived from (a project module the script imports) still has the
    content it had (`digest(path)` gives it now)."""
    try:
        text = safe_io.read_bytes(_entry(directory, cache_key), ENTRY_LIMIT)
        data = safe_io.parse_json(text, "cache entry")
        # Everything written is ASCII JSON of real text; a lone surrogate means someone else wrote it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
        deps = data.get("deps") or {}
        if not isinstance(deps, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in deps.items()):
            return None
        if digest is not None and any(digest(path) != sha for path, sha in deps.items()):
            return None
        findings = [_finding(f) for f in data["findings"]]
        errors = [InputError(**e) for e in data["errors"]]
        if not all(isinstance(e.path, str) and isinstance(e.message, str) for e in errors):
            return None
        runtime = _runtime(data["runtime"])
    except (safe_io.UnreadableFile, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    return findings, errors, runtime


def _claim(directory: Path) -> bool:
    """Whether bnlint may write into `directory`: it carries bnlint's tag, or bnlint creates it
    (or finds it empty) now and tags it. Checked at every write (two small reads): the folder
    may have been deleted or replaced since."""
    return _tagged(directory) or _create(directory)


def _holds(path: Path, text: str) -> bool:
    try:
        return safe_io.read_bytes(path, 4096) == text.encode("utf-8")
    except safe_io.UnreadableFile:
        return False


def _tagged(directory: Path) -> bool:
    if _holds(directory / "CACHEDIR.TAG", CACHEDIR_TAG):
        return True
    # Earlier versions marked their folder with the .gitignore alone: tag it now.
    return _holds(directory / ".gitignore", GITIGNORE) and _write(directory / "CACHEDIR.TAG", CACHEDIR_TAG)


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        return False
    return True


def _create(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        try:
            if not directory.is_dir() or any(directory.iterdir()):
                return _tagged(directory)  # another bnlint process may have just created it
        except OSError:
            return False
    except OSError:
        return False
    return _write(directory / ".gitignore", GITIGNORE) and _write(directory / "CACHEDIR.TAG", CACHEDIR_TAG)


def store(directory: Path, cache_key: str, findings: list[Finding], errors: list[InputError],
          deps: dict[str, str] | None = None, runtime: Runtime | None = None) -> None:
    """Write atomically; a cache that cannot be written is silently skipped (it is an optimisation)."""
    import tempfile
    from dataclasses import asdict

    if not _claim(directory):
        return
    entry = _entry(directory, cache_key)
    payload = {"findings": [f.to_dict() for f in findings], "errors": [asdict(e) for e in errors], "deps": deps or {},
               "runtime": asdict(runtime) if runtime is not None else None}
    try:
        entry.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out)
        os.replace(tmp, entry)
    except (OSError, ValueError):
        return
