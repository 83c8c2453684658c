"""The words every part of bnlint shares: runtimes, severities, verdicts, input kinds, exit statuses.

Each is defined once here; modules import these names instead of spelling the values again.
"""

from __future__ import annotations

from typing import Literal, get_args

# The runtime whose semantics a finding assumes (see README, "The target runtime").
RuntimeTarget = Literal["legacy", "keras2", "keras3"]
RUNTIMES: tuple[RuntimeTarget, ...] = get_args(RuntimeTarget)
RUNTIME_NAMES: dict[str, str] = {"legacy": "legacy Keras", "keras2": "Keras 2", "keras3": "Keras 3"}  # as people say them

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

# What happens to a frozen base that holds BatchNormalization, judged over the training timeline:
#   active   it trains with the wrong statistics now (legacy runtimes)
#   exposed  it is unfrozen and trained while its BN layers are not protected
#   latent   harmless now, harmful once someone unfreezes it, and fixable here
#   note     worth knowing for whoever fine-tunes a saved model; never fails a build by default
Verdict = Literal["active", "exposed", "latent", "note"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
# Severity follows the verdict, for every rule (a contract; `--fail-on` filters by severity).
VERDICT_SEVERITY: dict[Verdict, Severity] = {"active": "error", "exposed": "error", "latent": "warning", "note": "info"}

InputKind = Literal["script", "notebook", "model"]
INPUT_KINDS: tuple[InputKind, ...] = get_args(InputKind)

# File suffixes bnlint reads, and the format each one is (SavedModels are directories).
SUFFIX_FORMATS: dict[str, str] = {".py": "script", ".ipynb": "notebook", ".keras": "keras", ".h5": "h5", ".hdf5": "h5"}
MODEL_SUFFIXES: dict[str, tuple[str, ...]] = {"keras": (".keras",), "h5": (".h5", ".hdf5")}

# Exit statuses (a contract): nothing found, findings, usage error or an input not analysed.
EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
