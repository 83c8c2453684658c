"""Measure the fit()/evaluate() loss gap of one model on one batch (worker side: runs TensorFlow).

`bnlint explain` (the command, no TensorFlow) sends the job; the worker calls `measure_gap`, which
returns the four losses of the telescoping sum that `bnlint.explain.gap_report` turns into the
report: L0 fit()'s loss, L1 without dropout, L2 in inference mode, L3 after one optimizer step.
"""

from __future__ import annotations

DEFAULT_LOSS = "mse"  # when the model was saved without compile() and --loss is not given
# fit() draws a new dropout mask for every batch: L0 averages this many draws.
DROPOUT_DRAWS = 5
# The optimizer step of L3 when the model was saved without an optimizer.
DEFAULT_OPTIMIZER = "Adam"
DEFAULT_LEARNING_RATE = 1e-3


def _was_compiled(model) -> bool:
    # Keras 3 says `compiled`; tf.keras keeps `_is_compiled`.
    return bool(getattr(model, "compiled", getattr(model, "_is_compiled", False)))


def _loss_function(keras_module, model, requested: str | None):
    """The loss to measure: --loss, else the one the model was compiled with, else mse."""
    compiled = getattr(model, "loss", None) if _was_compiled(model) else None
    chosen = requested or compiled or DEFAULT_LOSS
    if isinstance(chosen, str):
        return chosen, keras_module.losses.get(chosen)
    if callable(chosen):
        return str(getattr(chosen, "name", None) or getattr(chosen, "__name__", type(chosen).__name__)), chosen
    raise ValueError("the model was compiled with several losses; pass --loss")


def _noise_layers(model) -> list[tuple[object, str]]:
    """(layer, attribute) pairs whose value switches dropout-like noise on in training mode."""
    from bnlint.confirm.measure import walk_layers

    found = []
    for layer in walk_layers(model):
        for attribute in ("rate", "stddev", "dropout", "recurrent_dropout"):
            value = getattr(layer, attribute, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                found.append((layer, attribute))
    return found


def measure_gap(keras_module, job: dict) -> dict:
    """L0..L3 on one batch (see the module docstring); every variable is restored afterwards."""
    import numpy as np
    import tensorflow as tf

    from bnlint.confirm.loading import batch_for, load_model, model_inputs
    from bnlint.confirm.measure import Randomness, walk_layers
    from bnlint.confirm.sample import synthetic_labels

    K = keras_module
    K.utils.set_random_seed(0)  # unseeded Dropout layers draw their seed when they are built
    try:
        model = load_model(K, job, compile=True)
    except Exception:  # a compile config that cannot be restored: the weights still can
        model = load_model(K, job, compile=False)
    if len(getattr(model, "outputs", None) or []) != 1:
        raise ValueError("bnlint explain needs a model with one output")
    batch = batch_for(model, job)
    x = model_inputs(batch)
    loss_name, loss_function = _loss_function(K, model, job.get("loss"))
    y = batch.labels
    if y is None:
        y = synthetic_labels(np.asarray(model(x, training=False)), loss_name)

    def loss_of(prediction):
        value = tf.reduce_mean(tf.cast(loss_function(y, prediction), tf.float32))
        return value + sum((tf.cast(extra, tf.float32) for extra in model.losses), tf.constant(0.0))

    weights = [(v, np.array(v.numpy())) for v in model.weights]
    randomness = Randomness(K, walk_layers(model))

    def restore() -> None:
        for variable, value in weights:
            variable.assign(value)

    noise = _noise_layers(model)
    draws = DROPOUT_DRAWS if noise else 1
    l0 = []
    for _ in range(draws):
        l0.append(float(loss_of(model(x, training=True))))
        restore()  # the BN moving statistics a training-mode pass updated
    saved = [(layer, attribute, getattr(layer, attribute)) for layer, attribute in noise]
    try:
        for layer, attribute, _ in saved:
            setattr(layer, attribute, 0.0)
        l1 = float(loss_of(model(x, training=True)))
    finally:
        for layer, attribute, value in saved:
            setattr(layer, attribute, value)
        restore()
    l2 = float(loss_of(model(x, training=False)))

    optimizer = getattr(model, "optimizer", None) if _was_compiled(model) else None
    described = f"the compiled {type(optimizer).__name__}" if optimizer is not None else f"{DEFAULT_OPTIMIZER}({DEFAULT_LEARNING_RATE:g})"
    if optimizer is None:
        optimizer = getattr(K.optimizers, DEFAULT_OPTIMIZER)(learning_rate=DEFAULT_LEARNING_RATE)
    optimizer_state = [(v, np.array(v.numpy())) for v in getattr(optimizer, "variables", []) if hasattr(v, "numpy")]
    try:
        with tf.GradientTape() as tape:
            loss = loss_of(model(x, training=True))  # as fit() does: BN statistics update too
        variables = model.trainable_variables
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])
        l3 = float(loss_of(model(x, training=False)))
    finally:
        restore()
        for variable, value in optimizer_state:
            variable.assign(value)
        randomness.reset()
    return {"loss": loss_name, "losses": [float(np.mean(l0)), l1, l2, l3], "batch": batch.description,
            "optimizer": described, "dropout_draws": draws}
