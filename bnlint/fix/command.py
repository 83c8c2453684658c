"""`bnlint fix MODEL -o OUT`: write a corrected copy of a saved model; the input is never modified."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from bnlint.vocabulary import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, MODEL_SUFFIXES, RUNTIMES


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_ERROR)


@click.command("fix")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the corrected copy (never the input).")
@click.option("--target-runtime", type=click.Choice(RUNTIMES),
              help="Assume this runtime instead of the Keras version the file records.")
def fix_model_command(model: Path, out: Path, target_runtime: str | None) -> None:
    """Write a copy of a saved model (.keras, .h5) with its BatchNormalization bugs fixed.

    Sets `training: false` on the calls of a frozen base (BN001, tf.keras and older) and
    `trainable: false` on the BatchNormalization layers of a partially frozen base (BN004).
    Weights are copied unchanged. Exit 0: nothing left to fix; 1: findings remain that this
    cannot fix; 2: error.
    """
    from bnlint import api
    from bnlint.fix.model import ModelFixError, plan_model_fix, write_fixed_copy
    from bnlint.frontends import FrontendError
    from bnlint.frontends.models.reader import VERSION_SOURCES, read_model_config
    from bnlint.ir import Runtime
    from bnlint.runtime import from_keras_version
    from bnlint.safe_io import is_regular

    display = str(model)
    if out.resolve() == model.resolve() or (out.exists() and os.path.samefile(out, model)):
        _fail(f"bnlint: error: {out}: the output must not be the input (the input is never modified)")
    if out.is_dir():
        _fail(f"bnlint: error: {out}: is a directory; give the path of the file to write")
    if out.exists() and not is_regular(out):
        # The copy replaces the output by a rename: never a device or a FIFO (`-o /dev/null` as root).
        _fail(f"bnlint: error: {out}: not a regular file; give the path of the file to write")
    try:
        config, version, kind = read_model_config(model)
    except FrontendError as exc:
        _fail(f"{display}: {exc}")
    if kind not in MODEL_SUFFIXES:
        _fail(f"{display}: SavedModel directories cannot be fixed; save the model as .keras and fix that")
    if out.suffix.lower() not in MODEL_SUFFIXES[kind]:
        suffixes = " or ".join(MODEL_SUFFIXES[kind])
        _fail(f"bnlint: error: {out}: must end in {suffixes} like the input, or Keras will not load it")

    if target_runtime:
        runtime = Runtime(target_runtime, "--target-runtime")  # type: ignore[arg-type]
    else:
        runtime = from_keras_version(version, VERSION_SOURCES[kind])
    try:
        findings = api.lint_model_config(config, path=display, runtime=runtime)
        fix = plan_model_fix(config, findings)
        # Trust the result, not the plan: only what a re-lint no longer reports counts as fixed.
        left = api.lint_model_config(fix.config, path=display, runtime=runtime)
        still = {(f.rule, f.layer_path) for f in left}
        fixed = [f for f in fix.fixed if (f.rule, f.layer_path) not in still]
        write_fixed_copy(model, out, kind, fix)
    except (FrontendError, ModelFixError) as exc:
        _fail(f"{display}: {exc}")
    except RecursionError:  # JSON nested deeper than copying and writing it back can go
        _fail(f"{display}: model config is nested too deeply to fix")

    for change in fix.changes:
        click.echo(f"{display}: {change}")
    if any(f.fixer == "freeze-batchnorm" for f in fixed):
        # The set of trainable weights changed: a saved optimizer state no longer fits it.
        click.echo(f"{display}: note: its trainable weights changed: compile it again before training "
                   "(a saved optimizer state no longer fits)")
    for finding in left:
        where = finding.layer_path or "(top model)"
        click.echo(f"{display}: {finding.rule} {where}: not fixed: {finding.fix}")
    state = f"{len(fixed)} finding{'s' * (len(fixed) != 1)} fixed, {len(left)} remaining"
    click.echo(f"Wrote {out} ({state}).")
    sys.exit(EXIT_FINDINGS if left else EXIT_CLEAN)
