"""The command line: `bnlint check`, `bnlint rules`, `bnlint rule ID`, `bnlint explain`, `bnlint fix`.

Exit status: 0 nothing found, 1 findings, 2 usage error or an input that could not be analysed.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from bnlint import __version__, api
from bnlint.config import Settings
from bnlint.errors import UsageError, UsageProblem
from bnlint.rules import load_rules
from bnlint.vocabulary import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, RUNTIMES, SEVERITY_ORDER


def _codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """`--select BN001,BN002 --select BN004` -> ("BN001", "BN002", "BN004")."""
    codes = tuple(c.strip().upper() for v in values for c in v.split(",") if c.strip())
    return codes or None


class LazyGroup(click.Group):
    """A group whose commands in other modules are imported only when used (or listed by --help):
    `bnlint check` in a pre-commit hook does not pay for `explain` or `fix`."""

    lazy = {"explain": "bnlint.explain:explain_command", "fix": "bnlint.fix.command:fix_model_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bnlint")
def cli() -> None:
    """Find frozen BatchNormalization bugs in Keras models and the scripts that train them."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, help="Rules to enable (ids or prefixes, comma-separated); replaces the default set.")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of the selected ones.")
@click.option("--ignore", multiple=True, help="Rules to disable.")
@click.option("--target-runtime", type=click.Choice(RUNTIMES), help="Assume this runtime instead of inferring it.")
@click.option("--confirm/--no-confirm", default=None, help="Run the dynamic check (default: when TensorFlow is importable).")
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Sample batch (.npz or .npy) for the dynamic check.")
@click.option("--confirm-timeout", type=click.FloatRange(min=1), help="Seconds allowed to confirm one model.  [default: 120]")
@click.option("--unsafe-load-custom-code", is_flag=True, help="Let the dynamic check load models with Lambda or custom layers (runs their code).")
@click.option("--exec", "exec_scripts", is_flag=True, help="Let the dynamic check run trusted scripts up to their first fit().")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file (pyproject.toml or .bnlint.yaml).")
@click.option("--rules-dir", "rule_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--fail-on", type=click.Choice(list(SEVERITY_ORDER)), help="Lowest severity that makes the exit status 1.  [default: info]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes for the scan [default: CPU count]; also models confirmed at once [default: 1].")
@click.option("--no-cache", is_flag=True, help="Analyse every file even if it is unchanged.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the cache lives.  [default: .bnlint_cache]")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), help="Report only findings not in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path), help="Record the current findings as the baseline and exit 0.")
@click.option("--fix", is_flag=True, help="Rewrite scripts to fix what can be fixed safely.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and nothing else; change nothing (exit 1 if there is a fix).")
def check(paths, output_format, output, select, extend_select, ignore, target_runtime, confirm, sample,
          confirm_timeout, unsafe_load_custom_code, exec_scripts, config, rule_dirs, exit_zero, fail_on, jobs,
          no_cache, cache_dir, baseline, write_baseline, fix, diff) -> None:
    """Check scripts, notebooks and saved models (default: the current directory)."""
    paths = list(paths) or ["."]
    try:
        settings = api.settings_for(
            paths, config,
            select=_codes(select), extend_select=_codes(extend_select), ignore=_codes(ignore),
            target_runtime=target_runtime, confirm=confirm, sample=sample, confirm_timeout=confirm_timeout,
            jobs=jobs, fail_on=fail_on, cache=False if no_cache else None, cache_dir=cache_dir,
            rules_dirs=tuple(rule_dirs) or None,
        )
        baseline_in = baseline if write_baseline is None else None  # a new baseline records everything
        report = api.check(paths, settings, baseline=baseline_in)
        if fix or diff:
            # Findings the baseline accepts are not fixed either.
            changed = api.fix(report, write=fix and not diff, show_diff=diff)
            if diff:
                # Like ruff: only the diff, nothing written; exit 1 when there is something to fix.
                for error in report.errors:
                    click.echo(str(error), err=True)
                sys.exit(EXIT_ERROR if report.errors else EXIT_FINDINGS if changed else EXIT_CLEAN)
            if changed:
                report = api.check(paths, settings, baseline=baseline_in)  # what is left
        if write_baseline is None:
            options = _confirm_options(settings, unsafe_load_custom_code, exec_scripts)
            if options is not None:
                api.confirm(report, options)
    except UsageError as exc:
        raise UsageProblem(str(exc)) from None

    for error in report.errors:
        click.echo(str(error), err=True)

    if write_baseline is not None:
        from bnlint.baseline import write_baseline as write

        try:
            write(report, write_baseline)
        except UsageError as exc:
            raise UsageProblem(str(exc)) from None
        click.echo(f"Wrote {len(report.findings)} findings to baseline {write_baseline}.", err=True)
        sys.exit(EXIT_ERROR if report.errors else EXIT_CLEAN)

    from bnlint.reporters import FORMATS

    rendered = FORMATS[output_format](report, load_rules(settings.rules_dirs))
    if output is not None:
        output.write_text(rendered, encoding="utf-8")
    else:
        click.echo(rendered, nl=not rendered.endswith("\n"))
    sys.exit(api.exit_status(report, settings, exit_zero))


def _confirm_options(settings: Settings, allow_unsafe: bool, exec_scripts: bool):
    """How to run the dynamic check: when asked, or by default when TensorFlow is importable."""
    if settings.confirm is False:
        return None
    from bnlint.confirm.runner import ConfirmOptions, tensorflow_available

    if not tensorflow_available():
        if settings.confirm:
            raise UsageError("--confirm needs TensorFlow: pip install 'bnlint[tf]'")
        return None
    return ConfirmOptions(
        sample=settings.sample,
        timeout=settings.confirm_timeout,
        jobs=settings.jobs or 1,
        allow_unsafe=allow_unsafe,
        exec_scripts=exec_scripts,
        rules_dirs=settings.rules_dirs,
    )


@cli.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--rules-dir", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
def rules_command(output_format, rules_dir) -> None:
    """List every rule."""
    try:
        rules = load_rules(tuple(rules_dir))
    except UsageError as exc:
        raise UsageProblem(str(exc)) from None
    if output_format == "json":
        click.echo(json.dumps([{"id": r.id, "name": r.name, "severity": r.default_severity, "status": r.status, "inputs": list(r.inputs), "summary": r.summary} for r in rules], indent=2))
        return
    width = max(len(r.name) for r in rules)
    for r in rules:
        click.echo(f"{r.id}  {r.name:<{width}}  {r.default_severity:<7}  {r.summary}")


@cli.command("rule")
@click.argument("rule_id")
@click.option("--rules-dir", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
def rule_command(rule_id, rules_dir) -> None:
    """Show one rule's documentation."""
    from bnlint.docs import rule_doc

    try:
        rules = {r.id: r for r in load_rules(tuple(rules_dir))}
    except UsageError as exc:
        raise UsageProblem(str(exc)) from None
    rule = rules.get(rule_id.upper())
    if rule is None:
        raise UsageProblem(f"unknown rule {rule_id!r}; known: {', '.join(rules)}")
    click.echo(rule_doc(rule))


def main() -> None:
    cli(prog_name="bnlint")
