"""What a scan produces: findings, input errors and the finished report that reporters print."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Literal

from bnlint import __version__
from bnlint.ir import Runtime

ConfirmationStatus = Literal["confirmed", "refuted", "unconfirmed", "not-run"]


@dataclass
class Confirmation:
    """The outcome of running the real model (see DESIGN.md, `confirmation`)."""

    status: ConfirmationStatus = "not-run"
    mode: Literal["active", "latent"] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    runtime: str | None = None  # what ran the check: "keras 3.15.1 / tensorflow 2.21.0"
    remedies: dict[str, bool] = field(default_factory=dict)


@dataclass
class Finding:
    rule: str
    name: str
    severity: Literal["error", "warning", "info"]
    message: str
    path: str
    runtime: Runtime
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    cell: int | None = None
    layer_path: str | None = None
    fix: str = ""  # the fix title for this finding's runtime
    # What the confirmer and the autofixer need to act: the callee's architecture,
    # arguments, composition, etc. Not part of the JSON contract.
    context: dict = field(default_factory=dict)
    confirmation: Confirmation = field(default_factory=Confirmation)

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line or 0, self.column or 0, self.layer_path or "", self.rule)

    def fingerprint(self) -> str:
        """A location-independent identity: survives unrelated lines moving (SARIF, baseline)."""
        anchor = self.context.get("anchor", "")
        where = self.layer_path if self.layer_path is not None else anchor
        # The path inside the repository, when known: the same finding whether bnlint ran from
        # the root (`src/train.py`), a subfolder (`train.py`) or with `./src/train.py`.
        path = self.context.get("project_path", self.path)
        text = f"{self.rule}\0{path}\0{self.cell or ''}\0{where}\0{self.context.get('occurrence', 0)}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_json(self) -> dict:
        """The finding as the JSON contract spells it."""
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "cell": self.cell,
            "layer_path": self.layer_path,
            "fix": self.fix,
            "confirmation": asdict(self.confirmation),
            "runtime": {"target": self.runtime.target, "source": self.runtime.source},
        }


@dataclass(frozen=True)
class InputError:
    """An input that could not be analysed: one line on stderr, exit status 2."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files_scanned: int = 0
    version: str = __version__

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "findings": [f.to_json() for f in self.findings],
            "errors": [{"path": e.path, "message": e.message} for e in self.errors],
        }
