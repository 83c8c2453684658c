"""How reporters phrase a finding's place and its confirmation for people (shared by the formats)."""

from __future__ import annotations

import os

from bnlint.findings import Confirmation, Finding
from bnlint.reporters.printable import printable
from bnlint.vocabulary import MODEL_SUFFIXES

_MODEL_FILE_SUFFIXES = tuple(suffix for suffixes in MODEL_SUFFIXES.values() for suffix in suffixes)
# The file of a SavedModel folder that formats pointing at files name: every SavedModel has it.
SAVEDMODEL_FILE = "saved_model.pb"

_REMEDY_LABELS = {"training-false": "training=False", "freeze-batchnorm": "keep BN frozen"}


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _percent(ratio: float) -> str:
    percent = ratio * 100
    if 0 < percent < 0.01:
        return "<0.01%"  # float noise, not a divergence; the exact value is in JSON/SARIF
    return f"{percent:.0f}%" if percent >= 10 else f"{percent:.2g}%"


def _number(value: float) -> str:
    return f"{value:.2g}"


# The metrics a person needs to judge a confirmation, in the order they are shown. The
# confirmer records more (max_abs_diff, variance deltas); JSON and SARIF carry them all.
_KEY_METRICS = (
    ("rel_diff", "train/inference output differs by {}", _percent),
    ("moving_mean_max_abs_delta", "moving mean moved by {}", _number),
)


def repository_path(finding: Finding) -> str:
    """The finding's file relative to the repository root (what code scanning and annotations
    resolve paths against), whatever folder bnlint ran from; a SavedModel folder names its
    saved_model.pb, since annotations point at files."""
    path = finding.source.project_path if finding.source else finding.path
    if finding.input == "model" and not path.lower().endswith(_MODEL_FILE_SUFFIXES):
        return f"{path.rstrip('/')}/{SAVEDMODEL_FILE}"
    return path


def related_repository_path(finding: Finding, related) -> str:
    """A related place in another file (a project module), relative to the repository root like
    the finding's own path: both paths differ the same way from how they were displayed."""
    own = finding.source.project_path if finding.source else finding.path
    relative = os.path.relpath(related.path, os.path.dirname(finding.path) or ".")
    return os.path.normpath(os.path.join(os.path.dirname(own), relative)).replace(os.sep, "/")


def file_line(finding: Finding) -> int:
    """The line of the file itself: a script's line, a notebook cell's line in the .ipynb file,
    else 1 (a saved model has no lines; code scanning and annotations need one)."""
    if finding.cell is not None:
        return finding.file_line or 1
    if finding.layer_path is not None:
        return 1
    return finding.line or 1


def where_in_file(finding: Finding) -> str:
    """The place inside the file for formats whose location cannot say it: `cell 3, line 5`, `layer a/b`."""
    if finding.layer_path is not None:
        return f"layer {finding.layer_path}"
    if finding.cell is not None:
        return f"cell {finding.cell}, line {finding.line}" if finding.line is not None else f"cell {finding.cell}"
    return ""


# BN003's replay: what the fit() without compile() trained, and what it trains after compile().
_RECOMPILE_STAGES = (("no_recompile_", "fit() without compile(): weights moved by {}, moving means by {}"),
                     ("recompiled_", "after compile(): weights moved by {}, moving means by {}"))


def _recompile_numbers(metrics: dict) -> list[str]:
    return [template.format(_number(metrics[f"{stage}weights_max_abs_delta"]), _number(metrics[f"{stage}moving_mean_max_abs_delta"]))
            for stage, template in _RECOMPILE_STAGES
            if f"{stage}weights_max_abs_delta" in metrics and f"{stage}moving_mean_max_abs_delta" in metrics]


def _key_numbers(confirmation: Confirmation) -> list[str]:
    recompile = _recompile_numbers(confirmation.metrics)
    if recompile:
        return recompile
    # A latent confirmation is about what happens after unfreezing, and so is a refutation
    # when the check got that far: show those measurements.
    has_latent = any(name.startswith("latent_") for name in confirmation.metrics)
    latent = confirmation.mode == "latent" or (confirmation.mode is None and has_latent)
    prefix = "latent_" if latent else ""
    phrases = []
    for key, template, formatted in _KEY_METRICS:
        value = confirmation.metrics.get(prefix + key)
        if value is None:
            continue
        phrase = template.format(formatted(value))
        if latent and not phrases:
            phrase += " after unfreezing"
        phrases.append(phrase)
    if not phrases:
        # Metrics we have no wording for are still numbers worth showing.
        phrases = [f"{name} {_number(value)}" for name, value in sorted(confirmation.metrics.items())]
    return phrases


def _remedies(remedies: dict[str, bool]) -> str:
    """Recommend what removed the divergence under the runtime that ran, and say what did not."""
    worked = [_REMEDY_LABELS.get(name, name) for name, ok in remedies.items() if ok]
    failed = [_REMEDY_LABELS.get(name, name) for name, ok in remedies.items() if not ok]
    if worked and failed:
        return f"fixed here by: {' or '.join(worked)} (not by: {', '.join(failed)})"
    if worked:
        return f"fixed here by: {' or '.join(worked)}"
    return f"not fixed by: {', '.join(failed)}"


def message_lines(finding: Finding, fix_label: str, confirmation_label: str = "") -> list[str]:
    """The message (with its place, for formats whose location cannot say it), the fix and the
    confirmation, for formats that carry one block of text per finding."""
    where = where_in_file(finding)
    lines = [f"{where}: {finding.message}" if where else finding.message]
    if finding.fix:
        lines.append(f"{fix_label}{finding.fix}")
    confirmation = confirmation_line(finding.confirmation)
    if confirmation:
        lines.append(f"{confirmation_label}{confirmation}")
    # Layer names and messages come from the input: nothing non-printable reaches a reader.
    return [printable(line) for line in lines]


def _what_ran(measured: dict) -> list[str]:
    """For a confirmed finding, what the numbers come from when it is not the user's own model:
    a replica's numbers show the mechanism, not the size of the effect on their weights."""
    if measured.get("kind") == "replica":
        return [f"measured on a replica ({measured.get('architecture') or 'the architecture'}, untrained weights)"]
    if measured.get("kind") == "script run":
        return ["measured by running the script up to its first fit()"]
    return []


def confirmation_line(confirmation: Confirmation) -> str | None:
    """One line on what running the model showed, or None when the check did not run."""
    if confirmation.status == "not-run":
        return None
    head = f"{confirmation.status} ({confirmation.mode})" if confirmation.mode else confirmation.status
    # A confirmation speaks through its numbers; otherwise the reason says what happened.
    details = [confirmation.reason] if confirmation.reason and confirmation.status != "confirmed" else []
    if confirmation.status == "confirmed":
        details += _what_ran(confirmation.measured or {})
    if confirmation.status != "unconfirmed":
        details += _key_numbers(confirmation)
    if confirmation.remedies:
        details.append(_remedies(confirmation.remedies))
    line = f"{head}: {'; '.join(details)}" if details else head
    return f"{line} [{confirmation.runtime}]" if confirmation.runtime else line
