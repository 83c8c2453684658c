"""`bnlint explain MODEL`: why the loss fit() reports differs from evaluate() on the same batch.

The gap is measured as a telescoping sum of four losses on one batch (DESIGN.md, `bnlint
explain` JSON). The command side here imports no TensorFlow; `measure_gap` runs in the
confirmation worker (`bnlint.confirm.worker`), like every other dynamic check.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

# Loss names `--loss` accepts (Keras' own identifiers, default from_logits=False).
LOSSES = (
    "mse", "mae", "mape", "msle", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
    "squared_hinge", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
)
DEFAULT_LOSS = "mse"  # when the model was saved without compile() and --loss is not given
# fit() draws a new dropout mask for every batch: L0 averages this many draws.
DROPOUT_DRAWS = 5
# The optimizer step of L3 when the model was saved without an optimizer.
DEFAULT_OPTIMIZER = "Adam"
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_TIMEOUT = 300.0


class ExplainError(click.ClickException):
    """Bad input or a model that cannot be run: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"bnlint: error: {self.format_message()}", err=True)


# --- worker side (TensorFlow) ---------------------------------------------------------------

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
    from bnlint.confirm.checks import walk_layers

    found = []
    for layer in walk_layers(model):
        for attribute in ("rate", "stddev", "dropout", "recurrent_dropout"):
            value = getattr(layer, attribute, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                found.append((layer, attribute))
    return found


def measure_gap(keras_module, job: dict) -> dict:
    """L0..L3 on one batch (see DESIGN.md); every variable is restored afterwards."""
    import numpy as np
    import tensorflow as tf

    from bnlint.confirm.checks import Randomness, walk_layers
    from bnlint.confirm.sample import synthetic_labels
    from bnlint.confirm.worker import batch_for, load_model, model_inputs

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


# --- command side (no TensorFlow) ------------------------------------------------------------

def gap_report(model: str, loss: str, runtime: str, losses: list[float]) -> dict:
    """The contract JSON from the four measured losses."""
    l0, l1, l2, l3 = losses
    return {
        "model": model,
        "loss": loss,
        "runtime": runtime,
        "fit_loss": l0,
        "evaluate_loss": l3,
        "gap": l0 - l3,
        "contributions": {"dropout": l0 - l1, "batchnorm": l1 - l2, "weight_update": l2 - l3},
    }


def render_text(report: dict, losses: list[float], details: dict) -> str:
    l0, l1, l2, l3 = losses
    c = report["contributions"]
    rows = [
        ("fit() loss", "L0", l0, "training mode, dropout on, before the optimizer step"),
        ("", "L1", l1, "training mode, dropout off"),
        ("", "L2", l2, "inference mode"),
        ("evaluate() loss", "L3", l3, f"inference mode, after one step of {details['optimizer']}"),
    ]
    parts = [
        ("dropout", "L0 - L1", c["dropout"]),
        ("batchnorm", "L1 - L2", c["batchnorm"]),
        ("weight update", "L2 - L3", c["weight_update"]),
        ("gap", "L0 - L3", report["gap"]),
    ]
    lines = [f"{report['model']}: loss {report['loss']} on a {details['batch']} ({report['runtime']})", ""]
    lines += [f"  {name:<16}{tag:<4}{value:>12.6g}   {what}" for name, tag, value, what in rows]
    lines.append("")
    lines += [f"  {name:<16}{tag:<9}{value:>+12.6g}" for name, tag, value in parts]
    return "\n".join(lines)


@click.command("explain")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Batch (.npz with x and y, or .npy) to measure on; default: a seeded synthetic batch.")
@click.option("--loss", type=click.Choice(LOSSES), help="Loss to measure.  [default: the compiled loss, else mse]")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True, help="Seconds allowed for the run.")
@click.option("--unsafe-load-custom-code", is_flag=True, help="Load models with custom layers (imports their modules, which runs their code).")
def explain_command(model: Path, sample, loss, output_format, timeout, unsafe_load_custom_code) -> None:
    """Why does fit()'s loss differ from evaluate()'s on the same data? Measured on one batch."""
    from bnlint.confirm import (
        DEFAULT_MEMORY_LIMIT_MB,
        WorkerFailure,
        run_worker,
        tensorflow_available,
        tf_keras_available,
    )
    from bnlint.confirm.safety import screen_model
    from bnlint.frontends import FrontendError

    shown = str(model)
    if not tensorflow_available():
        raise ExplainError("bnlint explain needs TensorFlow: pip install 'bnlint[tf]'")
    try:
        screen = screen_model(model)
    except FrontendError as exc:
        raise ExplainError(f"{shown}: {exc}") from None
    refusal = screen.refusal(unsafe_load_custom_code)
    if refusal:
        raise ExplainError(f"{shown}: not loaded: {refusal}")
    if screen.keras2 and not tf_keras_available():
        raise ExplainError(f"{shown}: written by Keras {screen.keras_version}; loading it needs tf_keras (pip install tf-keras)")
    if sample is not None:
        from bnlint.confirm.sample import SampleError, load_sample

        try:
            load_sample(sample)
        except SampleError as exc:
            raise ExplainError(f"{sample}: {exc}") from None
    job = {
        "task": "explain", "path": str(model.resolve()), "runtime": "tf_keras" if screen.keras2 else "keras",
        "sample": str(sample.resolve()) if sample else None, "loss": loss,
        "allow_unsafe": unsafe_load_custom_code,
        "custom": [[c.module, c.name, c.registered_name] for c in screen.custom] if unsafe_load_custom_code else [],
        "search_path": [str(model.resolve().parent), str(Path.cwd())],
    }
    try:
        result = run_worker(job, timeout, DEFAULT_MEMORY_LIMIT_MB)
    except (WorkerFailure, OSError) as exc:
        raise ExplainError(f"{shown}: {exc}") from None
    measured = result["explain"]
    report = gap_report(shown, measured["loss"], result["runtime"], measured["losses"])
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report, measured["losses"], measured))
