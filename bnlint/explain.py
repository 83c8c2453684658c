"""`bnlint explain MODEL`: why the loss fit() reports differs from what evaluate() reports after it.

fit() is reproduced step by step on the sample (`--batch-size`, `--epochs`, in order or with
`--shuffle-seed`), and the difference between its last epoch's loss and evaluate()'s loss after
training is split into a telescoping sum (see `bnlint.confirm.gap`):

    fit_loss (L0) - La = augmentation      (random augmentation layers)
    La - L1            = dropout           (Dropout, noise, `dropout=` arguments)
    L1 - L2            = batchnorm         (batch statistics instead of moving statistics)
    L2 - L3            = weight_update     (the weights changing during the epoch)
    L3                 = evaluate_loss

This module is the command and imports no TensorFlow; the measurement runs in the confirmation
worker, like every other dynamic check.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bnlint.errors import UsageProblem

# Loss names `--loss` accepts (Keras' own identifiers, default from_logits=False).
LOSSES = (
    "mse", "mae", "mape", "msle", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
    "squared_hinge", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
)
DEFAULT_TIMEOUT = 300.0
MAX_EPOCHS = 100  # a diagnosis, not a training run


# --- command side (no TensorFlow) ------------------------------------------------------------

def gap_report(model: str, runtime: str, measured: dict) -> dict:
    """The contract JSON (`fit_loss`, `evaluate_loss`, `gap`, `contributions`) plus what was
    reproduced (`fit`, `history`, `draws`, `losses`), from the worker's measurement."""
    losses = measured["losses"]
    l0, la, l1, l2, l3 = (losses[k] for k in ("L0", "La", "L1", "L2", "L3"))
    return {
        "model": model,
        "loss": measured["loss"],
        "runtime": runtime,
        "fit_loss": l0,
        "evaluate_loss": l3,
        "gap": l0 - l3,
        "contributions": {"dropout": la - l1, "batchnorm": l1 - l2, "weight_update": l2 - l3, "augmentation": l0 - la},
        "losses": dict(losses),
        "batch": measured["batch"],
        "optimizer": measured["optimizer"],
        "fit": dict(measured["fit"]),
        "history": list(measured["history"]),
        "draws": dict(measured["draws"]),
        "layers": list(measured.get("kinds", ())),  # the training-dependent kinds the model holds
    }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _reproduced(report: dict) -> str:
    fit = report["fit"]
    order = "in order, as fit(shuffle=False)" if not fit["shuffle"] else f"shuffled with seed {fit['shuffle']['seed']}"
    return (f"{_plural(fit['epochs'], 'epoch')} of {_plural(fit['steps_per_epoch'], 'step')} "
            f"(batch size {fit['batch_size']}, {order}) with {report['optimizer']}")


def render_text(report: dict) -> str:
    losses, c, draws = report["losses"], report["contributions"], report["draws"]
    random = draws["count"] > 1
    fit_note = "training mode, as fit() reports it"
    if random:
        fit_note += f" (mean of {draws['count']} seeded draws)"
    rows = [("fit() loss", "L0", losses["L0"], fit_note)]
    if "augmentation" in report["layers"]:
        rows.append(("", "La", losses["La"], "augmentation layers off"))
    rows += [
        ("", "L1", losses["L1"], "random layers off, BatchNormalization on batch statistics"),
        ("", "L2", losses["L2"], "inference mode, on each step's weights"),
        ("evaluate() loss", "L3", losses["L3"], "inference mode, after the last step"),
    ]
    parts = [("augmentation", "L0 - La", c["augmentation"])] if len(rows) == 5 else []
    parts += [
        ("dropout", "La - L1" if parts else "L0 - L1", c["dropout"]),
        ("batchnorm", "L1 - L2", c["batchnorm"]),
        ("weight update", "L2 - L3", c["weight_update"]),
        ("gap", "L0 - L3", report["gap"]),
    ]
    lines = [f"{report['model']}: loss {report['loss']} on {report['batch']}, {_reproduced(report)} ({report['runtime']})", ""]
    lines += [f"  {name:<16}{tag:<4}{value:>12.6g}   {what}" for name, tag, value, what in rows]
    lines.append("")
    lines += [f"  {name:<16}{tag:<9}{value:>+12.6g}" for name, tag, value in parts]
    if len(report["history"]) > 1:
        lines += ["", "  fit() loss per epoch: " + ", ".join(f"{v:.6g}" for v in report["history"]) + " (the table is the last epoch)"]
    if random:
        lines += ["", f"  The model draws random numbers in training mode: each fit() run prints one draw. Over {draws['count']} "
                      f"seeded draws fit()'s loss ranged from {draws['min']:.6g} to {draws['max']:.6g} (std {draws['std']:.3g})."]
    return "\n".join(lines)


@click.command("explain")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Data (.npz with x and y, or .npy) to run fit() on, every row; default: a seeded synthetic batch.")
@click.option("--loss", type=click.Choice(LOSSES), help="Loss to measure.  [default: the compiled loss, else mse]")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="fit()'s batch_size.")
@click.option("--epochs", type=click.IntRange(min=1, max=MAX_EPOCHS), default=1, show_default=True, help="fit()'s epochs; the report is about the last one.")
@click.option("--shuffle-seed", type=click.IntRange(min=0), help="Shuffle the rows every epoch with this seed.  [default: in order, as fit(shuffle=False)]")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True, help="Seconds allowed for the run.")
@click.option("--unsafe-load-custom-code", is_flag=True, help="Load models with custom layers (imports their modules, which runs their code).")
def explain_command(model: Path, sample, loss, batch_size, epochs, shuffle_seed, output_format, timeout, unsafe_load_custom_code) -> None:
    """Why does fit()'s loss differ from evaluate()'s on the same data? fit() reproduced step by step."""
    from bnlint.confirm.runner import (
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
        raise UsageProblem("bnlint explain needs TensorFlow: pip install 'bnlint[tf]'")
    try:
        screen = screen_model(model)
    except FrontendError as exc:
        raise UsageProblem(f"{shown}: {exc}") from None
    refusal = screen.refusal(unsafe_load_custom_code)
    if refusal:
        raise UsageProblem(f"{shown}: not loaded: {refusal}")
    if screen.keras2 and not tf_keras_available():
        raise UsageProblem(f"{shown}: written by Keras {screen.keras_version}; loading it needs tf_keras (pip install tf-keras)")
    if sample is not None:
        from bnlint.confirm.sample import SampleError, check_sample

        try:
            check_sample(sample)  # headers only: nothing is decompressed in this process
        except SampleError as exc:
            raise UsageProblem(f"{sample}: {exc}") from None
    job = {
        "task": "explain", "path": str(model.resolve()), "runtime": "tf_keras" if screen.keras2 else "keras",
        "sample": str(sample.resolve()) if sample else None, "loss": loss,
        "batch_size": batch_size, "epochs": epochs, "shuffle_seed": shuffle_seed,
        "allow_unsafe": unsafe_load_custom_code,
        "custom": [[c.module, c.name, c.registered_name] for c in screen.custom] if unsafe_load_custom_code else [],
        "search_path": [str(model.resolve().parent), str(Path.cwd())],
    }
    try:
        result = run_worker(job, timeout, DEFAULT_MEMORY_LIMIT_MB)
    except (WorkerFailure, OSError) as exc:
        raise UsageProblem(f"{shown}: {exc}") from None
    report = gap_report(shown, result["runtime"], result["explain"])
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report))
