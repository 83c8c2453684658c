"""The library API: the pipeline the command line, `bnlint fix`, the tests and editor integrations call.

    discover -> lower (frontends) -> rules (engine) -> baseline -> fix -> confirm

Nothing here prints or exits; usage problems raise `bnlint.errors.UsageError`, inputs that cannot
be analysed become `Report.errors`.

    >>> from bnlint import api
    >>> report = api.check(["train.py"])
    >>> [f.rule for f in api.lint_source(code)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from bnlint.config import Settings, discover_settings
from bnlint.engine import run_rules
from bnlint.findings import Finding, Report
from bnlint.ir import Runtime, Unit
from bnlint.rules import Rule, load_rules
from bnlint.vocabulary import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, SEVERITY_ORDER, InputKind


def settings_for(paths: Sequence[str], config: Path | None = None, **overrides) -> Settings:
    """The configuration that applies to `paths` (explicit file, else the nearest one), with
    non-None `overrides` (command-line values) on top; codes and rule directories are checked."""
    from bnlint.selection import check_codes

    settings = discover_settings(config, Path(paths[0] if paths else "."))
    extend_select, ignore = overrides.pop("extend_select", None), overrides.pop("ignore", None)
    settings = settings.merged(
        extend_select=settings.extend_select + tuple(extend_select or ()),
        ignore=settings.ignore + tuple(ignore or ()),
        **overrides,
    )
    check_codes(settings, load_rules(settings.rules_dirs))
    return settings


def scan(paths: Sequence[str], settings: Settings | None = None) -> Report:
    """The static findings of every input under `paths` (no baseline, no confirmation)."""
    from bnlint.scan import scan as static_scan

    return static_scan(list(paths) or ["."], settings or Settings())


def check_source(text: str, filename: str | None, settings: Settings | None = None) -> Report:
    """The static report for one script or notebook's text (standard input, an editor's buffer),
    checked as if it were `filename`: its kind, per-file ignores, excludes and pins apply."""
    from bnlint.scan import scan_source

    return scan_source(text, filename, settings or Settings())


class BufferCheck(NamedTuple):
    """The report on an editor's buffer, and the project modules read for it (resolved paths):
    a change to one of them changes the report."""

    report: Report
    modules: frozenset[str]


def check_buffer(text: str, filename: str | None, settings: Settings | None = None, *,
                 buffers: Mapping[str, str] | None = None, kind: InputKind | None = None,
                 file_lines: bool = True) -> BufferCheck:
    """`check_source` for an editor: the other open buffers (`buffers`, text by file path) are
    read instead of the disk where the code imports them. `kind` ("script" or "notebook")
    overrides what the file name's suffix says (a notebook's cells joined as Python);
    `file_lines=False` leaves a notebook's findings placed by cell only (`Finding.file_line` unset:
    the text is an editor's notebook document, not the `.ipynb` file)."""
    from bnlint.discover import real_path
    from bnlint.scan import scan_buffer

    overlay = {real_path(path): buffer for path, buffer in (buffers or {}).items()}
    report, modules = scan_buffer(text, filename, settings or Settings(), overlay, kind, file_lines)
    return BufferCheck(report, modules)


def fixed_source(text: str, findings: Sequence[Finding]) -> str:
    """The script `text` with those of `findings` that can be fixed safely fixed: the edits of
    `check --fix` (the findings were found in this text; those of other files are left alone)."""
    from bnlint.fix.script import fix_source

    return fix_source(text, [f for f in findings if f.input == "script" and f.cell is None])[0]


def noqa_source(text: str, findings: Sequence[Finding], display: str = "-") -> str | None:
    """`text` with a `# noqa: CODE` on the line of each finding, as `check --add-noqa` writes it;
    None when the text could not take them (it would no longer parse)."""
    from bnlint.suppressions import with_noqa

    return with_noqa(text, findings, display)[0]


def rule_help(rule_id: str, runtime: str | None = None, settings: Settings | None = None) -> str | None:
    """A rule's short documentation (Markdown), with its fix for `runtime`; None: no such rule."""
    from bnlint.docs import short_doc

    rule = next((r for r in load_rules((settings or Settings()).rules_dirs) if r.id == rule_id), None)
    return short_doc(rule, runtime) if rule is not None else None


def rule_url(rule_id: str, settings: Settings | None = None) -> str | None:
    """Where a built-in rule's documentation lives online (the same link SARIF gives)."""
    from bnlint.docs import rule_url as url

    rule = next((r for r in load_rules((settings or Settings()).rules_dirs) if r.id == rule_id), None)
    return url(rule) if rule is not None else None


def apply_baseline(report: Report, baseline: Path) -> int:
    """Drop the findings the baseline file accepts; return how many. Raises UsageError."""
    from bnlint.baseline import apply_baseline as apply
    from bnlint.baseline import load_baseline

    return apply(report, load_baseline(baseline))


def fix(report: Report, *, write: bool, show_diff: bool = False, settings: Settings | None = None,
        baseline: Path | None = None) -> int:
    """Fix what can be fixed safely in the report's scripts, each until its fixes settle (what a fix
    reveals is fixed too; findings the `baseline` accepts are not); return how many files change."""
    from bnlint.fix.apply import apply_fixes

    def relint(path: str, text: str) -> list[Finding]:
        again = check_source(text, path, settings)
        if baseline is not None:
            apply_baseline(again, baseline)
        return again.findings

    return apply_fixes(report, write=write, show_diff=show_diff, relint=relint)


def confirm(report: Report, options) -> None:
    """Fill every finding's `confirmation` by running the models (`bnlint.confirm.runner.ConfirmOptions`)."""
    from bnlint.confirm.runner import confirm_findings

    if report.findings:
        confirm_findings(report.findings, options, report.notes)


def check(paths: Sequence[str], settings: Settings | None = None, *, baseline: Path | None = None, confirm_options=None) -> Report:
    """The whole check: static findings, minus the baseline's, confirmed when options are given."""
    report = scan(paths, settings)
    if baseline is not None:
        apply_baseline(report, baseline)
    if confirm_options is not None:
        confirm(report, confirm_options)
    return report


def _findings(unit: Unit, settings: Settings, rules: Sequence[Rule] | None) -> list[Finding]:
    from bnlint.selection import enabled_rules

    rules = tuple(rules) if rules is not None else load_rules(settings.rules_dirs)
    enabled = enabled_rules(settings, rules)
    return run_rules(unit, rules, lambda rule_id: rule_id in enabled)


def lint_source(
    text: str,
    kind: InputKind = "script",
    runtime: Runtime | str | None = None,
    *,
    path: str = "<string>",
    settings: Settings | None = None,
    rules: Sequence[Rule] | None = None,
) -> list[Finding]:
    """Findings of one script's source (or a notebook's JSON text), without touching the disk.

    `runtime` overrides what the code's imports say (a target name or a Runtime). Raises
    `bnlint.frontends.FrontendError` for input that cannot be analysed."""
    if kind == "notebook":
        from bnlint.frontends.python.notebook import analyze_notebook_text as analyze
    elif kind == "script":
        from bnlint.frontends.python.script import analyze_source as analyze
    else:
        raise ValueError(f"lint_source reads scripts and notebooks, not {kind!r}")
    unit = analyze(text, path)
    if runtime is not None:
        unit.runtime = runtime if isinstance(runtime, Runtime) else Runtime(runtime, "given")
    else:
        from bnlint.runtime import from_file

        unit.runtime = from_file(unit.runtime, unit.recorded)  # a notebook's outputs, when its code says nothing
    return _findings(unit, settings or Settings(), rules)


def lint_model_config(
    config: dict,
    keras_version: str | None = None,
    *,
    path: str = "<config>",
    runtime: Runtime | str | None = None,
    settings: Settings | None = None,
    rules: Sequence[Rule] | None = None,
) -> list[Finding]:
    """Findings of one saved model's config (`{"class_name": ..., "config": ...}`), as `.keras`,
    `.h5` and SavedModel files store it; the runtime comes from `keras_version` unless given."""
    from bnlint.frontends.models.lowering import lower_config
    from bnlint.runtime import from_keras_version

    if runtime is None:
        resolved = from_keras_version(keras_version, "keras_version")
    else:
        resolved = runtime if isinstance(runtime, Runtime) else Runtime(runtime, "given")
    return _findings(lower_config(config, path, resolved), settings or Settings(), rules)


def exit_status(report: Report, settings: Settings, exit_zero: bool = False) -> int:
    """0 nothing at or above `fail-on`, 1 findings, 2 an input could not be analysed."""
    if report.errors:
        return EXIT_ERROR
    threshold = SEVERITY_ORDER[settings.fail_on]
    failing = [f for f in report.findings if SEVERITY_ORDER[f.severity] >= threshold]
    return EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN
