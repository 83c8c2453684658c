"""The dynamic check: run the real model on a small batch in an isolated worker process.

`runner` plans and runs worker jobs (layers: worker-side modules build on `layers` and
`outcome`, checks on them, the worker on the checks) and `safety` screens a saved model's config before a worker
loads it (no TensorFlow on this side; `sample` validates `--sample` with numpy only). `worker` and
the modules it imports run TensorFlow: `loading` (load a model file), `reproduce` (rebuild a
replica of a script's model), `exec_script` (run a script up to its first fit()), `measure` (the
checks), `recompile` (BN003's replayed compile/fit sequence), `randomness` and `replay` (hold
random layers fixed, call a model with `training` chosen per kind of layer) and `gap` (explain's
fit()/evaluate() reproduction).

`CHECKS` names the checks a rule's `confirm: {check: NAME}` may ask for; `measure.CHECKS` holds
their implementations under the same names (a test keeps the two in step). `none` means the rule
has nothing to run (its `reason` says why).
"""

CHECKS: dict[str, str] = {
    "frozen-batchnorm": "train-mode vs inference-mode outputs and BN moving statistics, as loaded and unfrozen",
    "training-true-batchnorm": "inference-style calls (predict, direct calls) of a graph with training=True baked in",
    "trainable-without-recompile": "the script's compile/fit/trainable-change/fit sequence replayed, then once more after compile()",
}
NO_CHECK = "none"

# What to run when TensorFlow is missing: bnlint is installed already, and is not on a package
# index, so the hint names what is (tf-keras too for tf.keras 2 code, which its own hint says).
INSTALL_TENSORFLOW = "pip install tensorflow"
