"""The baseline: findings accepted for now, by fingerprint, so that only new ones are reported."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bnlint import safe_io
from bnlint.errors import UsageError
from bnlint.findings import Report

BASELINE_VERSION = 1
# A baseline entry is ~150 bytes and 7 JSON values: either limit is over 250,000 accepted findings.
BASELINE_LIMIT = 64 * 2**20


class BaselineError(UsageError):
    """A baseline file that cannot be used: a usage error (exit status 2). `str()` is one line."""


@dataclass
class Baseline:
    # A Counter, not a set: the same fingerprint may be accepted more than once.
    fingerprints: Counter[str] = field(default_factory=Counter)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def write_baseline(report: Report, path: str | Path) -> None:
    """Record every finding of `report`; sorted, so the file only changes when findings do.

    Written whole or not at all (a temporary file next to it, then a rename), and only as a
    regular file: a FIFO or a device at `path` is refused, never opened or replaced."""
    path = Path(path)
    entries = sorted(
        ({"fingerprint": f.fingerprint(), "rule": f.rule, "path": f.path} for f in report.findings),
        key=lambda e: (e["path"], e["rule"], e["fingerprint"]),
    )
    text = json.dumps({"version": BASELINE_VERSION, "findings": entries}, indent=2) + "\n"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot write: {_reason(exc)}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise BaselineError(f"baseline {path}: cannot write: not a regular file")
    if mode is not None and os.path.getsize(path) and not _is_baseline(path):
        # `--write-baseline train.py` would replace a script with JSON: only a baseline is replaced.
        raise BaselineError(f"baseline {path}: cannot write: the file exists and is not a bnlint baseline (not replaced)")
    folder = path.parent
    if not folder.is_dir():
        raise BaselineError(f"baseline {path}: cannot write: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot write: {_reason(exc)}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # what a plain open() would have given it
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise BaselineError(f"baseline {path}: cannot write: {_reason(exc)}") from None


def _is_baseline(path: Path) -> bool:
    try:
        load_baseline(path)
    except BaselineError:
        return False
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _parse(data: object) -> Baseline:
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
        raise ValueError(f"not a bnlint baseline (expected a mapping with version {BASELINE_VERSION})")
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise ValueError("`findings` must be a list")
    fingerprints: Counter[str] = Counter()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise ValueError(f"finding {number} has no `fingerprint` string")
        fingerprints[entry["fingerprint"]] += 1
    return Baseline(fingerprints)


def load_baseline(path: str | Path) -> Baseline:
    try:
        data = safe_io.read_bytes(path, BASELINE_LIMIT)
    except safe_io.UnreadableFile as exc:
        if not os.path.lexists(path):
            raise BaselineError(f"baseline {path}: file not found") from None
        raise BaselineError(f"baseline {path}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"baseline {path}: cannot read: not valid UTF-8 (byte {exc.start})") from None
    values = safe_io.json_values(text)
    if values > safe_io.MAX_JSON_VALUES:
        raise BaselineError(f"baseline {path}: too complex to read (up to {values:,} JSON values, limit {safe_io.MAX_JSON_VALUES:,})")
    try:
        return _parse(json.loads(text))
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise BaselineError(f"baseline {path}: nested too deeply to read") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path}: {exc}") from None


def apply_baseline(report: Report, baseline: Baseline) -> int:
    """Drop the findings the baseline accepts (each fingerprint as often as it is listed); return how many."""
    remaining = Counter(baseline.fingerprints)
    kept = []
    for finding in report.findings:
        fingerprint = finding.fingerprint()
        if remaining[fingerprint] > 0:
            remaining[fingerprint] -= 1
        else:
            kept.append(finding)
    dropped = len(report.findings) - len(kept)
    report.findings = kept
    return dropped
