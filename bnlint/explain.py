"""`bnlint explain MODEL`: why the loss fit() reports differs from what evaluate() reports after it.

fit() is reproduced step by step on the sample (`--batch-size`, `--epochs`, in order or with
`--shuffle-seed`), and the difference between its last epoch's loss and evaluate()'s loss after
training is split into a telescoping sum (see `bnlint.confirm.gap`):

    fit_loss (L0) - La = augmentation      (random augmentation layers)
    La - L1            = dropout           (Dropout, noise, `dropout=` arguments)
    L1 - L2            = batchnorm         (batch statistics instead of moving statistics)
    L2 - L3            = weight_update     (the weights changing during the epoch)
    L3                 = evaluate_loss

A training script is explained on a replica of the base a finding is about (the confirmation's
own replica: its constructor with `weights=None`, frozen or unfrozen as the script trains it),
since the script itself is never run; the report says so and how to measure the real model.

This module is the command and imports no TensorFlow; the measurement runs in the confirmation
worker, like every other dynamic check.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from bnlint.confirm import INSTALL_TENSORFLOW
from bnlint.errors import UsageProblem

# Loss names `--loss` accepts (Keras' own identifiers, default from_logits=False).
LOSSES = (
    "mse", "mae", "mape", "msle", "huber", "log_cosh", "poisson", "kl_divergence", "hinge",
    "squared_hinge", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
)
DEFAULT_TIMEOUT = 300.0
MAX_EPOCHS = 100  # a diagnosis, not a training run
SCRIPT_SUFFIXES = (".py", ".ipynb")
# A gap within this share of the larger loss needs no explaining.
NEGLIGIBLE = 0.01
SAVE_HINT = "save it after compile() (model.save(\"model.keras\")) and run `bnlint explain model.keras --sample data.npz`"


# --- command side (no TensorFlow) ------------------------------------------------------------

def gap_report(model: str, runtime: str, measured: dict, replica: dict | None = None) -> dict:
    """The contract JSON (`fit_loss`, `evaluate_loss`, `gap`, `contributions`) plus what was
    reproduced (`fit`, `history`, `draws`, `losses`), from the worker's measurement, and the
    conclusion in words. `replica`: what a script was explained on."""
    losses = measured["losses"]
    l0, la, l1, l2, l3 = (losses[k] for k in ("L0", "La", "L1", "L2", "L3"))
    report = {
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
        "batchnorm_layers": dict(measured.get("batchnorm") or {}),  # {"layers": n, "trainable": m}
    }
    if replica is not None:
        report["replica"] = replica | {"measured": measured.get("replica") or {}}
    report["conclusion"] = conclusion(report)
    return report


# What each term is, and what it means when it is most of the gap.
_TERMS = {
    "weight_update": ("the weights changing during the epoch",
                      "That is training at work: fit() averages the loss while the weights change, evaluate() measures "
                      "them at the end of the epoch. Nothing is wrong; the gap shrinks as training converges."),
    "dropout": ("Dropout and noise layers, which are active in fit() only",
                "That is what they are for; nothing is wrong."),
    "augmentation": ("random augmentation, which runs in fit() only",
                     "That is what it is for; nothing is wrong."),
    "batchnorm": ("BatchNormalization normalising each batch with that batch's statistics in fit(), and with its moving "
                  "statistics in evaluate()",
                  "The batches differ from the statistics the BN layers hold: small or unrepresentative batches, or a "
                  "pretrained base whose BN layers were unfrozen for fine-tuning, where fit() also overwrites the "
                  "pretrained moving statistics. If this model fine-tunes a pretrained base, keep its BatchNormalization "
                  "layers frozen (`layer.trainable = False` on each; on tf.keras, also call the base with "
                  "`training=False`); `bnlint check` on the training script finds where they are unfrozen."),
}


def _bn_state(report: dict) -> str | None:
    """`none`, `frozen` (every BN layer), `trainable`, or None when the worker did not say."""
    state = report.get("batchnorm_layers") or {}
    if "layers" not in state:
        return None
    if not state["layers"]:
        return "none"
    return "frozen" if not state.get("trainable") else "trainable"


def conclusion(report: dict) -> str:
    """One paragraph in plain words: which term dominates, whether anything is wrong, what to do."""
    c, gap = report["contributions"], report["gap"]
    fit_loss, evaluate_loss = report["fit_loss"], report["evaluate_loss"]
    scale = max(abs(fit_loss), abs(evaluate_loss), 1e-12)
    sentences = []
    bn = _bn_state(report)
    if abs(gap) <= NEGLIGIBLE * scale:
        sentences.append(f"fit() and evaluate() agree to within {NEGLIGIBLE:.0%} of the loss ({fit_loss:.4g} and "
                         f"{evaluate_loss:.4g}): nothing here needs explaining.")
    else:
        total = sum(abs(v) for v in c.values()) or 1.0
        dominant = max(c, key=lambda term: abs(c[term]))
        what, meaning = _TERMS[dominant]
        direction = "higher" if gap > 0 else "lower"
        sentences.append(f"fit() reports a {direction} loss than evaluate() ({fit_loss:.4g} against {evaluate_loss:.4g}); "
                         f"{abs(c[dominant]) / total:.0%} of the difference is {what}.")
        sentences.append(meaning)
        if dominant != "batchnorm" and abs(c["batchnorm"]) / total >= 0.1:
            sentences.append(f"BatchNormalization adds {abs(c['batchnorm']) / total:.0%}: see the batchnorm term "
                             "if the model fine-tunes a pretrained base.")
    if bn == "frozen":
        sentences.append("Every BatchNormalization layer is frozen, so it uses its moving statistics in fit() too "
                         "(the batchnorm term is 0): the frozen-BatchNormalization problem is not at work here.")
    elif bn == "none":
        sentences.append("The model has no BatchNormalization layer.")
    draws = report.get("draws") or {}
    if draws.get("count", 1) > 1 and draws["max"] - draws["min"] > abs(gap):
        sentences.append(f"One fit() run lands anywhere from {draws['min']:.4g} to {draws['max']:.4g}, "
                         "a wider spread than the gap itself: the gap is within the noise of one run.")
    return " ".join(sentences)


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
        ("", "L1", losses["L1"], _l1_label(report)),
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
    lines += ["", *textwrap.wrap(report["conclusion"], width=100, initial_indent="  ", subsequent_indent="  ")]
    if "replica" in report:
        lines += ["", *textwrap.wrap(_replica_text(report["replica"]), width=100, initial_indent="  ", subsequent_indent="  ")]
    return "\n".join(lines)


def _l1_label(report: dict) -> str:
    state, bn = report.get("batchnorm_layers") or {}, _bn_state(report)
    if bn == "none":
        return "random layers off (no BatchNormalization layer)"
    if bn == "frozen":
        return "random layers off; BatchNormalization frozen, on moving statistics"
    if bn == "trainable" and state["trainable"] < state["layers"]:
        return f"random layers off, {state['trainable']} of {state['layers']} BatchNormalization layers on batch statistics"
    return "random layers off, BatchNormalization on batch statistics"


def _replica_text(replica: dict) -> str:
    finding = replica["finding"]
    state = "unfrozen, as the script trains it after the unfreeze" if replica["unfrozen"] else "frozen, as the script trains it"
    where = f"cell {finding['cell']}, line {finding['line']}" if finding.get("cell") else f"line {finding['line']}"
    return (f"Measured on a replica of `{replica['base']}` ({replica['architecture']} with weights=None, random "
            f"weights and synthetic data), {state} ({finding['rule']}, {where}); the script was not run. "
            f"Its numbers are the replica's; what carries over is whether BatchNormalization adds to the gap at all "
            f"(a non-zero batchnorm term: its layers run on batch statistics in fit()). For your model's own numbers, "
            f"{SAVE_HINT}.")



def script_job(script: Path) -> tuple[dict, dict]:
    """The worker job that explains a training script on a replica of its base, and what that
    replica is; UsageProblem (one line, saying what to run instead) when it has no base to rebuild.

    The base is the one a finding is about (BN001, BN002, BN004), judged as the script trains it:
    unfrozen when the finding is the unfreeze (`exposed`), else frozen."""
    from bnlint import api
    from bnlint.confirm.runner import replica_job
    from bnlint.errors import UsageError
    from bnlint.rules import load_rules

    shown = str(script)
    try:
        settings = api.settings_for([shown])
        report = api.scan([shown], settings)
    except UsageError as exc:
        raise UsageProblem(f"{shown}: {exc}") from None
    checks = {rule.id: rule.check for rule in load_rules(settings.rules_dirs)}
    findings = [f for f in report.findings if checks.get(f.rule) == "frozen-batchnorm" and f.path == shown]
    findings.sort(key=lambda f: (f.verdict != "exposed", f.sort_key()))
    reasons = []
    for finding in findings:
        try:
            job = replica_job(finding, "frozen-batchnorm")
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        subject = finding.subject
        unfrozen = finding.verdict == "exposed"
        replica = {"base": subject.name if subject else "", "architecture": job["replica"]["architecture"], "unfrozen": unfrozen,
                   "finding": {"rule": finding.rule, "line": finding.line, "cell": finding.cell, "verdict": finding.verdict}}
        return job | {"unfreeze": unfrozen}, replica
    why = reasons[0] if reasons else "no BN001, BN002 or BN004 finding names a base bnlint can rebuild without running it"
    raise UsageProblem(f"{shown}: a training script is explained on a replica of the base a finding is about, and here "
                       f"{why}; to explain the model it trains, {SAVE_HINT}")


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
    """Why does fit()'s loss differ from evaluate()'s on the same data? fit() reproduced step by step.

    MODEL is a saved model, or a training script (.py, .ipynb): then a replica of the base a
    finding is about, built as the confirmation builds it, since the script is never run.
    """
    from bnlint.confirm.runner import tensorflow_available, tf_keras_available
    from bnlint.confirm.safety import screen_model
    from bnlint.frontends import FrontendError

    shown = str(model)
    if not tensorflow_available():
        raise UsageProblem(f"bnlint explain needs TensorFlow: {INSTALL_TENSORFLOW}")
    options = {"batch_size": batch_size, "epochs": epochs, "shuffle_seed": shuffle_seed}
    if model.is_file() and model.suffix.lower() in SCRIPT_SUFFIXES:
        if sample is not None:
            raise UsageProblem(f"{shown}: --sample is for a saved model: a script is explained on a replica of its base, "
                               "on synthetic data of the replica's size")
        job, replica = script_job(model)
        job |= {"task": "explain", "sample": None, "loss": loss, **options}
        _explain(shown, job, timeout, output_format, replica)
        return
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
        "sample": str(sample.resolve()) if sample else None, "loss": loss, **options,
        "allow_unsafe": unsafe_load_custom_code,
        "custom": [[c.module, c.name, c.registered_name] for c in screen.custom] if unsafe_load_custom_code else [],
        "search_path": [str(model.resolve().parent), str(Path.cwd())],
    }
    _explain(shown, job, timeout, output_format)


def _explain(shown: str, job: dict, timeout: float, output_format: str, replica: dict | None = None) -> None:
    from bnlint.confirm.runner import DEFAULT_MEMORY_LIMIT_MB, WorkerFailure, run_worker

    try:
        result = run_worker(job, timeout, DEFAULT_MEMORY_LIMIT_MB)
    except (WorkerFailure, OSError) as exc:
        raise UsageProblem(f"{shown}: {exc}") from None
    report = gap_report(shown, result["runtime"], result["explain"], replica)
    if output_format == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report))
