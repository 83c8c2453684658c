"""Autofix: corrected scripts (`check --fix`) and corrected copies of saved models (`bnlint fix`).

A rule names its fixers in its YAML, `fix: {script: NAME, model: NAME}`; these are the names it
may use. `script.SCRIPT_FIXERS` and `model.MODEL_FIXERS` hold the implementations under the same
names (a test keeps them in step), and each fixer decides per finding whether its fix is safe.
"""

SCRIPT_FIXERS: dict[str, str] = {
    "training-false": "add `training=False` to the flagged call (legacy, keras2)",
    "recompile": "copy the model's last `compile(...)` right before the stale `fit()`",
    "freeze-batchnorm": "after the unfreezing statement, keep the base's BatchNormalization layers frozen (keras3)",
}
MODEL_FIXERS: dict[str, str] = {
    "training-false": "`training: false` in the kwargs of the nodes that call the frozen base (legacy, keras2)",
    "freeze-batchnorm": "`trainable: false` on the BatchNormalization layers of a partially frozen base",
}
