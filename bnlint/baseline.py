"""The baseline: findings accepted for now, by fingerprint, so that only new ones are reported."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bnlint.errors import UsageError
from bnlint.findings import Report

BASELINE_VERSION = 1


class BaselineError(UsageError):
    """A baseline file that cannot be used: a usage error (exit status 2). `str()` is one line."""


@dataclass
class Baseline:
    # A Counter, not a set: the same fingerprint may be accepted more than once.
    fingerprints: Counter[str] = field(default_factory=Counter)


def write_baseline(report: Report, path: str | Path) -> None:
    """Record every finding of `report`; sorted, so the file only changes when findings do."""
    entries = sorted(
        ({"fingerprint": f.fingerprint(), "rule": f.rule, "path": f.path} for f in report.findings),
        key=lambda e: (e["path"], e["rule"], e["fingerprint"]),
    )
    text = json.dumps({"version": BASELINE_VERSION, "findings": entries}, indent=2) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot write: {exc.strerror or exc}") from None


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
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return _parse(json.loads(text))
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
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
