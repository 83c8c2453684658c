"""What a scan produces: findings, input errors and the finished report that reporters print."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Literal

from bnlint import __version__
from bnlint.ir import Composition, Runtime, Training
from bnlint.vocabulary import InputKind, Severity, Verdict

ConfirmationStatus = Literal["confirmed", "refuted", "unconfirmed", "not-run"]


@dataclass
class Confirmation:
    """The outcome of running the real model: `confirmed` (mode `active` or `latent`), `refuted` (the check
    ran and the behaviour did not change), `unconfirmed` (it could not run: `reason` says why) or `not-run`."""

    status: ConfirmationStatus = "not-run"
    mode: Literal["active", "latent"] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    runtime: str | None = None  # what ran the check: "keras 3.15.1 / tensorflow 2.21.0"
    remedies: dict[str, bool] = field(default_factory=dict)
    # What ran: {"kind": "model file", "path": ...}, {"kind": "replica", "architecture": ...,
    # "input_shape": ..., "weights": None, ...} or {"kind": "script run", ...}; empty when nothing ran.
    measured: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Subject:
    """The model or layer a finding is about, as the confirmer and the fixers need it."""

    name: str  # what the code calls it: `base`, `self.backbone`, a layer name
    cls: str  # constructor or class name: "ResNet50", "Functional"
    kind: Literal["model", "layer"] = "model"
    architecture: str | None = None  # canonical constructor, e.g. "keras.applications.ResNet50"
    arguments: dict = field(default_factory=dict)  # literal constructor arguments
    opaque: bool = False  # a subclassed model whose structure cannot be read
    # How it enters the graph where the finding is, and the `training` argument there.
    composition: Composition | None = None
    training: Training | None = None
    called_with_training_false: bool = False  # every functional call of it passes training=False
    # An unfreeze: the model whose `trainable` the statement sets (the subject or a model around it).
    unfrozen: str | None = None  # its name
    unfrozen_architecture: str | None = None
    unfrozen_opaque: bool = False
    # A suppression directive that suppresses nothing (BN100): the codes in it to remove.
    unused_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Related:
    """Another place of the same problem: the unfreeze, the training event, the last compile."""

    role: Literal["composition", "unfreeze", "training", "compile", "freeze"]
    message: str
    line: int | None = None
    column: int | None = None
    cell: int | None = None
    layer_path: str | None = None
    path: str | None = None  # another file than the finding's (a helper in a project module)
    file_line: int | None = None  # notebooks: the line of the `.ipynb` file itself (set by the scan)

    def to_json(self) -> dict:
        place = {"line": self.line, "column": self.column, "cell": self.cell, "message": self.message}
        return place | ({"path": self.path} if self.path else {})


@dataclass(frozen=True)
class Source:
    """Where the input behind a finding is, beyond the path as the user typed it."""

    file: str  # the resolved path: what the confirmer loads and the fixer rewrites
    project_path: str  # the path inside the repository: the same from any folder (fingerprints)


@dataclass
class Finding:
    rule: str
    name: str
    severity: Severity
    message: str
    path: str
    runtime: Runtime
    verdict: Verdict = "latent"
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    cell: int | None = None
    layer_path: str | None = None
    fix: str = ""  # the fix title for this finding's runtime
    # The fixer its rule names for this kind of input (`bnlint.fix.SCRIPT_FIXERS`, `MODEL_FIXERS`);
    # whether it applies to this finding is the fixer's call.
    fixer: str | None = None
    input: InputKind = "script"
    subject: Subject | None = None
    related: tuple[Related, ...] = ()
    source: Source | None = None  # set by the scan
    # What identifies the finding's place regardless of line numbers (its line's code, or the
    # layer path), and how many findings of the same rule share it before this one.
    anchor: str = ""
    occurrence: int = 0
    confirmation: Confirmation = field(default_factory=Confirmation)
    # The offending source line(s), for reporters that show them (empty for saved models).
    snippet: tuple[str, ...] = ()
    # Notebooks: the line of the `.ipynb` file where `line` of `cell` is (set by the scan).
    file_line: int | None = None
    # Why a finding is not reported: "noqa" (an inline or file-level directive) or "baseline".
    # Suppressed findings are kept for SARIF, which records them as suppressed.
    suppression: str | None = None

    @property
    def fixable(self) -> bool:
        return self.fixer is not None

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line or 0, self.column or 0, self.layer_path or "", self.rule)

    def fingerprint(self) -> str:
        """A location-independent identity: survives unrelated lines moving (SARIF, baseline)."""
        where = self.layer_path if self.layer_path is not None else self.anchor
        # The path inside the repository, when known: the same finding whether bnlint ran from
        # the root (`src/train.py`), a subfolder (`train.py`) or with `./src/train.py`.
        path = self.source.project_path if self.source else self.path
        text = f"{self.rule}\0{path}\0{self.cell or ''}\0{where}\0{self.occurrence}"
        # surrogatepass: a layer or file name may hold lone surrogates (non-UTF-8 bytes).
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def to_json(self) -> dict:
        """The finding as the JSON contract spells it."""
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "verdict": self.verdict,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "cell": self.cell,
            "layer_path": self.layer_path,
            "fix": self.fix,
            "related": [r.to_json() for r in self.related],
            "confirmation": asdict(self.confirmation),
            "runtime": {"target": self.runtime.target, "source": self.runtime.source},
        }

    def to_dict(self) -> dict:
        """Everything, for the cache (`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        data = dict(data)
        data["runtime"] = Runtime(**data["runtime"])
        data["confirmation"] = Confirmation(**data["confirmation"])
        data["subject"] = Subject(**data["subject"]) if data.get("subject") else None
        data["related"] = tuple(Related(**r) for r in data.get("related") or ())
        data["source"] = Source(**data["source"]) if data.get("source") else None
        data["snippet"] = tuple(data.get("snippet") or ())
        return cls(**data)


@dataclass(frozen=True)
class InputError:
    """An input that could not be analysed: one line on stderr, exit status 2."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class FileRuntime:
    """The runtime one scanned file was judged by, and why (every file of a run says it)."""

    path: str  # as displayed
    kind: InputKind
    runtime: Runtime

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind,
                "runtime": {"target": self.runtime.target, "source": self.runtime.source}}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files_scanned: int = 0
    version: str = __version__
    # Inputs that look like models but hold no architecture (weights checkpoints, exports) or
    # are not regular files: skipped, one note each, exit status unaffected.
    skipped: list[InputError] = field(default_factory=list)
    # One-line notes about the run as a whole (confirmation skipped, a preview rule not enabled).
    notes: list[str] = field(default_factory=list)
    # Findings an inline/file-level directive or the baseline suppresses (only SARIF shows them).
    suppressed: list[Finding] = field(default_factory=list)
    # The resolved path of every input, for refusing to write a report over one of them.
    inputs: list[str] = field(default_factory=list)
    # The repository root the paths are relative to, when known (SARIF's %SRCROOT%).
    root: str | None = None
    # The runtime each analysed file was judged by (inputs that could not be analysed have none).
    runtimes: list[FileRuntime] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "findings": [f.to_json() for f in self.findings],
            "errors": [{"path": e.path, "message": e.message} for e in self.errors],
            "skipped": [{"path": e.path, "message": e.message} for e in self.skipped],
            "notes": list(self.notes),
            "accepted_by_baseline": self.accepted_by_baseline,
            "files": [f.to_json() for f in self.runtimes],
        }

    @property
    def accepted_by_baseline(self) -> int:
        """How many findings the baseline accepted (and so are not listed)."""
        return sum(1 for f in self.suppressed if f.suppression == "baseline")
