"""`bnlint explain MODEL`: why the loss fit() reports differs from evaluate() on the same batch.

The gap is measured as a telescoping sum of four losses on one batch: `fit_loss` (L0, training
mode as fit() runs it), L1 (dropout off), L2 (inference mode) and `evaluate_loss` (L3, inference
mode after one optimizer step), with `dropout` = L0 - L1, `batchnorm` = L1 - L2 and
`weight_update` = L2 - L3. This module is the command and imports no TensorFlow; the measurement
(`bnlint.confirm.gap`) runs in the confirmation worker, like every other dynamic check.
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
        from bnlint.confirm.sample import SampleError, load_sample

        try:
            load_sample(sample)
        except SampleError as exc:
            raise UsageProblem(f"{sample}: {exc}") from None
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
        raise UsageProblem(f"{shown}: {exc}") from None
    measured = result["explain"]
    report = gap_report(shown, measured["loss"], result["runtime"], measured["losses"])
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report, measured["losses"], measured))
