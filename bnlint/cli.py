"""The command line: `bnlint check`, `bnlint rules`, `bnlint rule ID`, `bnlint explain`, `bnlint fix`.

Exit status: 0 nothing found, 1 findings, 2 usage error or an input that could not be analysed.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from pathlib import Path

import click

from bnlint import __version__, api
from bnlint.config import Settings
from bnlint.confirm import INSTALL_TENSORFLOW
from bnlint.discover import real_path
from bnlint.errors import UsageError, UsageProblem
from bnlint.findings import Report
from bnlint.reporters.printable import printable
from bnlint.rules import load_rules
from bnlint.vocabulary import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, RUNTIMES, SEVERITY_ORDER


def _codes(values: tuple[str, ...]) -> tuple[str, ...] | None:
    """`--select BN001,BN002 --select BN004` -> ("BN001", "BN002", "BN004")."""
    codes = tuple(c.strip().upper() for v in values for c in v.split(",") if c.strip())
    return codes or None


class LazyGroup(click.Group):
    """A group whose commands in other modules are imported only when used (or listed by --help):
    `bnlint check` in a pre-commit hook does not pay for `explain` or `fix`."""

    lazy = {"explain": "bnlint.explain:explain_command", "fix": "bnlint.fix.command:fix_model_command",
            "server": "bnlint.server.command:server_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def main(self, *args, **kwargs):
        """As click's, except that a bad option or argument is one line like every other usage
        error (`bnlint: error: ...`, exit status 2) instead of click's three: a hook or CI log
        shows it whole, and scripts can match it."""
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "bnlint"
            click.echo(f"bnlint: error: {printable(exc.format_message())} (see '{command} --help')", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        # Without standalone mode, click returns the code of ctx.exit() (--help, --version).
        sys.exit(result if isinstance(result, int) else EXIT_CLEAN)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click cuts each summary at 45 characters ("Check scripts, notebooks and saved models
        # (default: the..."); show the whole first sentence and let the formatter wrap it.
        rows = [(name, command.get_short_help_str(limit=200)) for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) is not None and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class FiniteFloat(click.ParamType):
    """A number of seconds: finite and at least `minimum` (click's FloatRange lets nan through)."""

    name = "SECONDS"

    def __init__(self, minimum: float) -> None:
        self.minimum = minimum

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number < self.minimum:
            self.fail(f"{value!r} is not a finite number of seconds >= {self.minimum:g}", param, ctx)
        return number


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="bnlint")
def cli() -> None:
    """Find frozen BatchNormalization bugs in Keras models and the scripts that train them."""


def _usage(exc: Exception) -> UsageProblem:
    return UsageProblem(printable(str(exc)))


@cli.command(short_help="Check scripts, notebooks and saved models (default: the current directory).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, help="Rules to enable (ids or prefixes, comma-separated); replaces the default set.")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of the selected ones.")
@click.option("--ignore", multiple=True, help="Rules to disable.")
@click.option("--preview/--no-preview", default=None, help="Enable preview rules (see `bnlint rules`).")
@click.option("--target-runtime", type=click.Choice(RUNTIMES), help="Assume this runtime instead of inferring it.")
@click.option("--confirm/--no-confirm", default=None, help="Run the dynamic check (default: when TensorFlow is importable).")
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Sample batch (.npz or .npy) for the dynamic check.")
@click.option("--confirm-timeout", type=FiniteFloat(1), help="Seconds allowed to confirm one model.  [default: 120]")
@click.option("--unsafe-load-custom-code", is_flag=True, help="Let the dynamic check load models with Lambda or custom layers (runs their code).")
@click.option("--exec", "exec_scripts", is_flag=True, help="Let the dynamic check run trusted scripts up to their first fit().")
@click.option("--config", type=click.Path(path_type=Path), help="Configuration file (pyproject.toml or .bnlint.yaml).")
@click.option("--rules-dir", "rule_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
@click.option("--force-exclude/--no-force-exclude", default=None, help="Apply the excludes to paths named on the command line too (pre-commit passes every file by name).")
@click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Skip what .gitignore files ignore while walking folders.  [default: respect]")
@click.option("--stdin-filename", help="Check standard input (`-`) as if it were this file: its kind, per-file ignores, excludes.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported or an input could not be analysed.")
@click.option("--fail-on", type=click.Choice(list(SEVERITY_ORDER)), help="Lowest severity that makes the exit status 1.  [default: warning]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes for the scan [default: CPU count]; also models confirmed at once [default: 1].")
@click.option("--no-cache", is_flag=True, help="Analyse every file even if it is unchanged.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the cache lives.  [default: .bnlint_cache]")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), help="Report only findings not in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path), help="Record the current findings as the baseline and exit 0.")
@click.option("--fix", is_flag=True, help="Rewrite scripts to fix what can be fixed safely.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and nothing else; change nothing (exit 1 if there is a fix).")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` to every script line with a finding, and exit.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of the findings.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True, help="Colour the text output (auto: on a terminal; NO_COLOR and FORCE_COLOR are honoured).")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else (no summary, no notes).")
@click.option("-v", "--verbose", is_flag=True, help="Also list the inputs that were skipped, and why, and the runtime each file was judged by.")
def check(paths, output_format, output, select, extend_select, ignore, preview, target_runtime, confirm, sample,
          confirm_timeout, unsafe_load_custom_code, exec_scripts, config, rule_dirs, force_exclude, respect_gitignore,
          stdin_filename, exit_zero, fail_on, jobs, no_cache, cache_dir, baseline, write_baseline, fix, diff,
          add_noqa, statistics, color, quiet, verbose) -> None:
    """Check scripts, notebooks and saved models (default: the current directory).

    `-` reads one script (or, with --stdin-filename NAME.ipynb, a notebook) from standard input.
    Exit status: 0 nothing found, 1 findings, 2 usage error or an input that could not be analysed.
    """
    paths = list(paths)
    from_stdin = paths == ["-"] or (not paths and stdin_filename is not None)
    if "-" in paths and not from_stdin:
        raise UsageProblem("`-` (standard input) cannot be combined with other paths")
    if from_stdin and (fix or diff or add_noqa or write_baseline is not None):
        raise UsageProblem("--fix, --diff, --add-noqa and --write-baseline need files, not standard input")
    paths = paths or ["."]
    try:
        settings = api.settings_for(
            [stdin_filename] if from_stdin and stdin_filename else paths, config,
            select=_codes(select), extend_select=_codes(extend_select), ignore=_codes(ignore), preview=preview,
            target_runtime=target_runtime, confirm=confirm, sample=sample, confirm_timeout=confirm_timeout,
            jobs=jobs, fail_on=fail_on, cache=False if no_cache else None, cache_dir=cache_dir,
            rules_dirs=tuple(rule_dirs) or None, force_exclude=force_exclude, respect_gitignore=respect_gitignore,
        )
        baseline_in = baseline if write_baseline is None else None  # a new baseline records everything
        if from_stdin:
            report = api.check_source(_read_stdin(stdin_filename), stdin_filename, settings)
        else:
            report = _checked(paths, settings, baseline_in)
        if add_noqa:
            _add_noqa(report)
        if fix or diff:
            # Findings the baseline accepts are not fixed either.
            changed = api.fix(report, write=fix and not diff, show_diff=diff, settings=settings, baseline=baseline_in)
            if diff:
                # Like ruff: only the diff, nothing written; exit 1 when there is something to fix.
                _print_errors(report)
                sys.exit(EXIT_CLEAN if exit_zero else EXIT_ERROR if report.errors else EXIT_FINDINGS if changed else EXIT_CLEAN)
            if changed:
                report = _checked(paths, settings, baseline_in)  # what is left
        if write_baseline is None and not from_stdin:
            options = _confirm_options(settings, unsafe_load_custom_code, exec_scripts)
            if options is not None:
                api.confirm(report, options)
            elif settings.confirm is None and report.findings and not _tensorflow_available():
                report.notes.append(f"confirmation skipped: TensorFlow is not installed ({INSTALL_TENSORFLOW}; --no-confirm silences this)")
    except UsageError as exc:
        raise _usage(exc) from None

    _print_errors(report)
    if not quiet:
        for note in report.notes:
            click.echo(f"note: {printable(note)}", err=True)
    if verbose:
        for skipped in report.skipped:
            click.echo(printable(str(skipped)), err=True)
        for file in report.runtimes:
            click.echo(printable(f"{file.path}: judged as {file.runtime.target} ({file.runtime.source})"), err=True)

    if write_baseline is not None:
        from bnlint.baseline import write_baseline as write

        _refuse_overwriting_inputs(write_baseline, report, settings, "--write-baseline")
        try:
            write(report, write_baseline)
        except UsageError as exc:
            raise _usage(exc) from None
        click.echo(f"Wrote {len(report.findings)} findings to baseline {printable(str(write_baseline))}.", err=True)
        sys.exit(EXIT_ERROR if report.errors and not exit_zero else EXIT_CLEAN)

    rendered = _render(report, settings, output_format, statistics=statistics, quiet=quiet, verbose=verbose,
                       color=_use_color(color, output))
    if output is not None:
        _refuse_overwriting_inputs(output, report, settings, "--output")
        _write_report(output, rendered)
    else:
        click.echo(rendered, nl=False, color=True)
    sys.exit(EXIT_CLEAN if exit_zero else api.exit_status(report, settings))


def _checked(paths: list[str], settings: Settings, baseline: Path | None) -> Report:
    """The static report; findings the baseline accepts move to `suppressed` (SARIF still shows them)."""
    report = api.scan(paths, settings)
    if baseline is not None:
        before = list(report.findings)
        api.apply_baseline(report, baseline)
        kept = {id(f) for f in report.findings}
        for finding in before:
            if id(finding) not in kept:
                finding.suppression = "baseline"
                report.suppressed.append(finding)
    return report


def _read_stdin(filename: str | None) -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{filename or '-'}: standard input is not valid UTF-8 (byte {exc.start})") from None


def _add_noqa(report: Report) -> None:
    from bnlint.suppressions import add_noqa

    added, problems = add_noqa(report.findings)
    for problem in problems:
        click.echo(printable(problem), err=True)
    click.echo(f"Added {added} noqa directive{'' if added == 1 else 's'}.", err=True)
    sys.exit(EXIT_ERROR if problems or report.errors else EXIT_CLEAN)


def _print_errors(report: Report) -> None:
    for error in report.errors:
        click.echo(printable(str(error)), err=True)


def _use_color(choice: str, output: Path | None) -> bool:
    """ruff's rules: --color wins; else NO_COLOR, then FORCE_COLOR; else colour on a terminal."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return output is None and sys.stdout.isatty()


def _render(report: Report, settings: Settings, output_format: str, *, statistics: bool, quiet: bool,
            verbose: bool, color: bool) -> str:
    from bnlint.reporters import FORMATS, text

    if statistics:
        return text.statistics(report)
    if output_format == "text":
        return text.render(report, (), color=color, quiet=quiet, verbose=verbose)
    return FORMATS[output_format](report, load_rules(settings.rules_dirs))


def _refuse_overwriting_inputs(target: Path, report: Report, settings: Settings, option: str) -> None:
    """A report or baseline written over an input (or the configuration), or into an input folder
    (a SavedModel), would destroy it: refuse, having written nothing. Files are compared by
    identity (device and inode), so symlinks and hard links to an input count too, at one `stat`
    per input."""
    protected: dict[tuple[int, int], str] = {}
    for path in (*report.inputs, settings.source, settings.sample):
        if path is None:
            continue
        try:
            stat = os.stat(path)
        except OSError:
            continue  # not there: nothing to destroy
        protected.setdefault((stat.st_dev, stat.st_ino), str(path))
    resolved = real_path(target)
    for place in (resolved, *resolved.parents):
        try:
            stat = os.stat(place)
        except OSError:
            continue
        hit = protected.get((stat.st_dev, stat.st_ino))
        if hit is not None:
            raise UsageProblem(printable(f"{option} {target}: refusing to overwrite {real_path(hit)}, which is being checked"))


def _write_report(target: Path, rendered: str) -> None:
    try:
        with open(target, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(rendered)
    except OSError as exc:
        raise UsageProblem(printable(f"--output {target}: cannot write: {exc.strerror or exc}")) from None


def _tensorflow_available() -> bool:
    from bnlint.confirm.runner import tensorflow_available

    return tensorflow_available()


def _confirm_options(settings: Settings, allow_unsafe: bool, exec_scripts: bool):
    """How to run the dynamic check: when asked, or by default when TensorFlow is importable."""
    if settings.confirm is False:
        return None
    from bnlint.confirm.runner import ConfirmOptions

    if not _tensorflow_available():
        if settings.confirm:
            raise UsageError(f"--confirm needs TensorFlow: {INSTALL_TENSORFLOW}")
        return None
    return ConfirmOptions(
        sample=settings.sample,
        timeout=settings.confirm_timeout,
        jobs=settings.jobs or 1,
        allow_unsafe=allow_unsafe,
        exec_scripts=exec_scripts,
        rules_dirs=settings.rules_dirs,
        cache_dir=settings.cache_dir if settings.cache else None,
    )


@cli.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--rules-dir", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
def rules_command(output_format, rules_dir) -> None:
    """List every rule."""
    try:
        rules = load_rules(tuple(rules_dir))
    except UsageError as exc:
        raise _usage(exc) from None
    if output_format == "json":
        click.echo(json.dumps([{"id": r.id, "name": r.name, "severity": r.default_severity, "status": r.status, "inputs": list(r.inputs), "summary": r.summary} for r in rules], indent=2))
        return
    width = max(len(r.name) for r in rules)
    for r in rules:
        status = "" if r.status == "stable" else f"[{r.status}] "
        click.echo(f"{r.id}  {r.name:<{width}}  {r.default_severity:<7}  {status}{r.summary}")


@cli.command("rule")
@click.argument("rule_id")
@click.option("--rules-dir", multiple=True, type=click.Path(file_okay=False, path_type=Path), help="Extra directory of rule YAML files.")
def rule_command(rule_id, rules_dir) -> None:
    """Show one rule's documentation."""
    from bnlint.docs import rule_doc

    try:
        rules = {r.id: r for r in load_rules(tuple(rules_dir))}
    except UsageError as exc:
        raise _usage(exc) from None
    rule = rules.get(rule_id.upper())
    if rule is None:
        raise UsageProblem(f"unknown rule {rule_id!r}; known: {', '.join(rules)}")
    click.echo(rule_doc(rule))


def main() -> None:
    """The `bnlint` command. Once the command has finished and its output is flushed, the process
    exits without tearing down what the scan left behind: freeing the syntax trees and facts of a
    large checkout costs Python more than a sixth of the run (1.4 s of 8 on 3,900 real files),
    and nothing in them needs finalising (mypy exits the same way). Exit handlers still run.
    For the same reason the automatic garbage collector stays off: a scan collects what cycles it
    leaves itself (`scan._analyze_chunk`), and a last automatic collection over everything the
    scan kept would only delay the exit. TensorFlow never runs in this process (the confirmation
    worker is another)."""
    import gc

    gc.disable()
    try:
        cli(prog_name="bnlint")
    except SystemExit as exc:
        status = _exit_status(exc.code)
    else:
        status = EXIT_CLEAN
    _exit_now(status)


def _exit_status(code) -> int:
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)  # as `sys.exit("message")` would
    return 1


def _exit_now(status: int) -> None:
    import atexit

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`bnlint check | head`): nothing more to say
            pass
    atexit._run_exitfuncs()
    os._exit(status)
