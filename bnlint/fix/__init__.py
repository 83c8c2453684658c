"""Autofix: corrected scripts (`check --fix`) and corrected copies of saved models (`bnlint fix`).

A rule names its fixers in its YAML, `fix: {script: NAME, model: NAME}`; these are the names it
may use, what each does and the runtimes where that fix protects. `script.SCRIPT_FIXERS` and
`model.MODEL_FIXERS` hold the implementations under the same names (a test keeps them in step).
A script fixer plans its edit from the syntax tree first (`plan`): only a finding it can plan for
is marked fixable, and `script` then makes the edit.
"""

from __future__ import annotations

from typing import NamedTuple

from bnlint.vocabulary import RUNTIMES


class FixerInfo(NamedTuple):
    description: str
    runtimes: tuple[str, ...]  # where the fix protects; elsewhere the finding is not fixable


SCRIPT_FIXERS: dict[str, FixerInfo] = {
    "training-false": FixerInfo("add `training=False` to the flagged call", ("legacy", "keras2")),
    "recompile": FixerInfo("copy the model's last `compile(...)` right before the stale `fit()`", ("legacy", "keras2", "keras3")),
    "freeze-batchnorm": FixerInfo("after the unfreezing statement, keep the base's BatchNormalization layers frozen", ("keras3",)),
    "remove-suppression": FixerInfo("remove the codes of a suppression directive that suppress nothing, or the directive", RUNTIMES),
}
MODEL_FIXERS: dict[str, FixerInfo] = {
    "training-false": FixerInfo("`training: false` in the kwargs of the nodes that call the frozen base", ("legacy", "keras2")),
    "freeze-batchnorm": FixerInfo("`trainable: false` on the BatchNormalization layers of a partially frozen base", ("legacy", "keras2", "keras3")),
}


def fixer_for(script: str | None, model: str | None, input_kind: str, runtime: str) -> str | None:
    """The fixer a finding of this input and runtime may use, or None: not fixable."""
    if input_kind == "script":
        name, table = script, SCRIPT_FIXERS
    elif input_kind == "model":
        name, table = model, MODEL_FIXERS
    else:
        return None  # notebooks are not fixed by this version
    return name if name is not None and runtime in table[name].runtimes else None
