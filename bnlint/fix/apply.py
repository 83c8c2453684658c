"""Autofix entry points: `bnlint check --fix/--diff` for scripts, `bnlint fix MODEL -o OUT` for saved models.

Scripts are edited in place (atomically, mode kept) only when a finding in them can be fixed
safely for its target runtime; see `fix_script` for what that is. Notebooks are not fixed by
this version: their findings stay reported. Saved models are never modified: `bnlint fix`
writes a corrected copy (see `fix_model`).
"""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click

from bnlint.findings import Finding, Report

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass
class ScriptFix:
    """The fixed text of one script, and which of its findings the fix removes."""

    path: Path
    display: str
    original: str
    fixed: str
    encoding: str
    findings: list[Finding]

    def diff(self) -> str:
        lines = difflib.unified_diff(
            _lines(self.original),
            _lines(self.fixed),
            fromfile=f"a/{self.display}",
            tofile=f"b/{self.display}",
        )
        # A last line without a line break would run into the next hunk header.
        no_newline = "\n\\ No newline at end of file\n"
        return "".join(line if line.endswith(("\n", "\r")) else line + no_newline for line in lines)


def _lines(text: str) -> list[str]:
    """Lines with their breaks, split where Python splits them (not at form feeds, unlike splitlines)."""
    return _LINE.findall(text)


def _fixable_script(finding: Finding) -> bool:
    record = finding.context.get("record", {})
    return finding.cell is None and "file" in finding.context and record.get("input") == "script"


def fix_script_file(path: Path, display: str, findings: list[Finding]) -> ScriptFix | None:
    """The fix of one script file, or None when none of its findings can be fixed."""
    from bnlint.fix.script import fix_source

    try:
        data = path.read_bytes()
        # The file's own encoding (PEP 263 cookie, BOM); line breaks are kept as they are.
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
        return None
    fixed, fixed_findings = fix_source(text, findings)
    if not fixed_findings or fixed == text:
        return None
    return ScriptFix(path, display, text, fixed, encoding, fixed_findings)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace a file's content in one step: a crash never leaves half a script behind."""
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bnlint", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def apply_fixes(report: Report, write: bool, show_diff: bool) -> int:
    """Fix what can be fixed in the report's scripts; return how many files changed (or would).

    `write` rewrites the files; `show_diff` prints a unified diff of each change to stdout.
    """
    by_file: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if _fixable_script(finding):
            by_file.setdefault(os.path.realpath(finding.context["file"]), []).append(finding)
    changed = fixed = 0
    for file, findings in sorted(by_file.items()):
        result = fix_script_file(Path(file), findings[0].path, findings)
        if result is None:
            continue
        if show_diff:
            click.echo(result.diff(), nl=False)
        if write:
            try:
                _write_atomically(result.path, result.fixed.encode(result.encoding))
            except OSError as exc:
                click.echo(f"{result.display}: cannot write the fix: {exc.strerror or exc}", err=True)
                continue
        changed += 1
        fixed += len(result.findings)
    if write and changed:
        click.echo(f"Fixed {fixed} finding{'s' * (fixed != 1)} in {changed} file{'s' * (changed != 1)}.", err=True)
    return changed


# --- bnlint fix MODEL -o OUT ---------------------------------------------------------------------

def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_ERROR)


_SUFFIXES = {"keras": (".keras",), "h5": (".h5", ".hdf5")}


@click.command("fix")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the corrected copy (never the input).")
@click.option("--target-runtime", type=click.Choice(["legacy", "keras2", "keras3"]),
              help="Assume this runtime instead of the Keras version the file records.")
def fix_model_command(model: Path, out: Path, target_runtime: str | None) -> None:
    """Write a copy of a saved model (.keras, .h5) with its BatchNormalization bugs fixed.

    Sets `training: false` on the calls of a frozen base (BN001, tf.keras and older) and
    `trainable: false` on the BatchNormalization layers of a partially frozen base (BN004).
    Weights are copied unchanged. Exit 0: nothing left to fix; 1: findings remain that this
    cannot fix; 2: error.
    """
    from bnlint.engine import run_rules
    from bnlint.fix.model import ModelFixError, plan_model_fix, write_fixed_copy
    from bnlint.frontends import FrontendError
    from bnlint.frontends.models.lowering import lower_config
    from bnlint.frontends.models.reader import VERSION_SOURCES, read_model_config
    from bnlint.ir import Runtime
    from bnlint.rules import load_rules
    from bnlint.runtime import from_keras_version

    display = str(model)
    if out.resolve() == model.resolve() or (out.exists() and os.path.samefile(out, model)):
        _fail(f"bnlint: error: {out}: the output must not be the input (the input is never modified)")
    if out.is_dir():
        _fail(f"bnlint: error: {out}: is a directory; give the path of the file to write")
    try:
        config, version, kind = read_model_config(model)
    except FrontendError as exc:
        _fail(f"{display}: {exc}")
    if kind not in _SUFFIXES:
        _fail(f"{display}: SavedModel directories cannot be fixed; save the model as .keras and fix that")
    if out.suffix.lower() not in _SUFFIXES[kind]:
        suffixes = " or ".join(_SUFFIXES[kind])
        _fail(f"bnlint: error: {out}: must end in {suffixes} like the input, or Keras will not load it")

    if target_runtime:
        runtime = Runtime(target_runtime, "--target-runtime")  # type: ignore[arg-type]
    else:
        runtime = from_keras_version(version, VERSION_SOURCES[kind])
    rules = [r for r in load_rules() if r.enabled_by_default]
    try:
        findings = run_rules(lower_config(config, display, runtime), rules)
        fix = plan_model_fix(config, findings)
        # Trust the result, not the plan: only what a re-lint no longer reports counts as fixed.
        left = run_rules(lower_config(fix.config, display, runtime), rules)
    except FrontendError as exc:
        _fail(f"{display}: {exc}")
    still = {(f.rule, f.layer_path) for f in left}
    fixed = [f for f in fix.fixed if (f.rule, f.layer_path) not in still]
    try:
        write_fixed_copy(model, out, kind, fix)
    except ModelFixError as exc:
        _fail(f"{display}: {exc}")

    for change in fix.changes:
        click.echo(f"{display}: {change}")
    if any(f.rule == "BN004" for f in fixed):
        # The set of trainable weights changed: a saved optimizer state no longer fits it.
        click.echo(f"{display}: note: its trainable weights changed: compile it again before training "
                   "(a saved optimizer state no longer fits)")
    for finding in left:
        where = finding.layer_path or "(top model)"
        click.echo(f"{display}: {finding.rule} {where}: not fixed: {finding.fix}")
    state = f"{len(fixed)} finding{'s' * (len(fixed) != 1)} fixed, {len(left)} remaining"
    click.echo(f"Wrote {out} ({state}).")
    sys.exit(EXIT_FINDINGS if left else EXIT_CLEAN)
