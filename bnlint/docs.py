"""Rule documentation in ruff's shape, and the README's rules table (`python -m bnlint.docs`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bnlint.rules import Rule, RuleError, builtin_rules_dir, load_rules
from bnlint.vocabulary import RUNTIMES, SEVERITIES, VERDICTS

HOMEPAGE = "https://github.com/bnlint/bnlint"
TABLE_START = "<!-- rules-table:start -->"
TABLE_END = "<!-- rules-table:end -->"

RUNTIME_TITLES = {
    "legacy": "Keras <= 2.3, TF 1.x, v1 BN classes",
    "keras2": "tf.keras in TF 2.x, tf_keras",
    "keras3": "Keras 3",
}
INPUT_TITLES = {"script": "scripts", "notebook": "notebooks", "model": "saved models"}


class DocsError(ValueError):
    """The README cannot take the table (its markers are missing): a usage error."""


def rule_url(rule: Rule) -> str | None:
    """Where a built-in rule's source lives online; user rules have no such place."""
    if rule.source.parent.resolve() != builtin_rules_dir().resolve():
        return None
    return f"{HOMEPAGE}/blob/main/rules/{rule.source.name}"


def by_runtime(rule: Rule, table: dict[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """The text for each runtime, runtimes with the same text grouped, in runtime order."""
    groups: dict[str, list[str]] = {}
    for runtime in RUNTIMES:
        text = rule.for_runtime(table, runtime).strip()
        if text:
            groups.setdefault(text, []).append(runtime)
    return [(tuple(runtimes), text) for text, runtimes in groups.items()]


def _label(runtimes: tuple[str, ...]) -> str:
    return ", ".join(f"{r} ({RUNTIME_TITLES[r]})" for r in runtimes)


def _code(text: str) -> str:
    return f"```python\n{text.strip()}\n```"


def _use_instead(rule: Rule) -> list[str]:
    groups = by_runtime(rule, rule.use_instead)
    if len(groups) == 1:
        return [_code(groups[0][1])]
    return [part for runtimes, text in groups for part in (f"### {_label(runtimes)}", _code(text))]


# What the fix templates' placeholders read as in documentation, where there is no finding.
_DOC_RECORD = {name: {"name": "base", "cls": "ResNet50"} for name in ("callee", "target", "reached", "model", "container")}


def fixes_by_runtime(rule: Rule) -> list[tuple[tuple[str, ...], str]]:
    """The rule's fix per group of runtimes, placeholders filled with an example name."""
    from bnlint.engine import render

    return [(runtimes, render(text, _DOC_RECORD)) for runtimes, text in by_runtime(rule, rule.fix)]


def _fix(rule: Rule) -> list[str]:
    groups = fixes_by_runtime(rule)
    if len(groups) == 1:
        return [groups[0][1]]
    return ["\n".join(f"- **{_label(runtimes)}**: {text}" for runtimes, text in groups)]


def severity_text(rule: Rule) -> str:
    """`error`, or `error (active, exposed), warning (latent)` when it depends on the verdict."""
    named = {v: s for v, s in rule.severity.items() if v != "default"}
    if not named or set(named.values()) == {rule.severity["default"]} and len(named) == len(VERDICTS):
        return rule.severity["default"]
    by_severity: dict[str, list[str]] = {}
    for verdict in VERDICTS:
        by_severity.setdefault(rule.severity_for(verdict), []).append(verdict)
    return ", ".join(f"{s} ({', '.join(v)})" for s, v in sorted(by_severity.items(), key=lambda kv: SEVERITIES.index(kv[0])))


def rule_doc(rule: Rule) -> str:
    """A rule's documentation as Markdown: what it does, why, example, use instead, fix, references."""
    inputs = ", ".join(INPUT_TITLES[i] for i in rule.inputs)
    parts = [f"# {rule.id} ({rule.name})", f"Severity: {severity_text(rule)}. Applies to: {inputs}."]
    parts += ["## What it does", rule.summary, "## Why is this bad?", rule.rationale]
    if rule.example:
        parts += ["## Example", _code(rule.example)]
    if rule.use_instead:
        parts += ["## Use instead", *_use_instead(rule)]
    parts += ["## Fix", *_fix(rule)]
    if rule.references:
        parts += ["## References", "\n".join(f"- <{ref}>" for ref in rule.references)]
    return "\n\n".join(parts) + "\n"


def short_doc(rule: Rule, runtime: str | None = None) -> str:
    """A rule's documentation in brief, as Markdown (an editor's hover): what it does, why in one
    paragraph, and the fix for `runtime` (every runtime's when None), with a link to the rest."""
    from bnlint.engine import render

    parts = [f"**{rule.id}** ({rule.name}): {rule.summary}", rule.rationale.strip().split("\n\n")[0]]
    if runtime is not None:
        parts.append(f"**Fix** ({RUNTIME_TITLES.get(runtime, runtime)}): {render(rule.for_runtime(rule.fix, runtime), _DOC_RECORD).strip()}")
    else:
        parts += ["**Fix**", *_fix(rule)]
    url = rule_url(rule)
    parts.append(f"Severity: {severity_text(rule)}. `bnlint rule {rule.id}` prints the whole documentation"
                 + (f" ([online]({url}))." if url else "."))
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rules_table(rules: Sequence[Rule]) -> str:
    """A Markdown table of the rules for the README (without the markers around it)."""
    rows = ["| id | name | severity | inputs | summary |", "| --- | --- | --- | --- | --- |"]
    for rule in rules:
        inputs = ", ".join(INPUT_TITLES[i] for i in rule.inputs)
        rows.append(f"| {rule.id} | {rule.name} | {severity_text(rule)} | {inputs} | {_cell(rule.summary)} |")
    return "\n".join(rows) + "\n"


def _marked_span(text: str) -> tuple[int, int]:
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise DocsError(f"the README needs the markers {TABLE_START} and {TABLE_END}, in that order")
    return start + len(TABLE_START), end


def readme_table(text: str) -> str:
    """The table currently between the README's markers, without surrounding blank lines."""
    start, end = _marked_span(text)
    return text[start:end].strip("\n") + "\n"


def update_readme(text: str, rules: Sequence[Rule]) -> str:
    """The README text with the table between the markers replaced by the current one."""
    start, end = _marked_span(text)
    # Blank lines around the table so that no Markdown renderer glues it to the markers.
    return f"{text[:start]}\n\n{rules_table(rules)}\n{text[end:]}"


@click.command()
@click.option("--update-readme", "readme", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Markdown file whose rules table (between the markers) is rewritten.")
@click.option("--check", is_flag=True, help="Only report whether the table is up to date (exit 1 if not).")
def main(readme: Path, check: bool) -> None:
    """Keep the README's rules table in sync with rules/*.yaml."""
    try:
        text = readme.read_text(encoding="utf-8")
        updated = update_readme(text, load_rules())
    except OSError as exc:
        raise click.UsageError(f"{readme}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, DocsError, RuleError) as exc:
        raise click.UsageError(f"{readme}: {exc}") from None
    if updated == text:
        click.echo(f"{readme}: rules table is up to date")
        return
    if check:
        click.echo(f"{readme}: rules table is out of date; run python -m bnlint.docs --update-readme {readme}")
        sys.exit(1)
    readme.write_text(updated, encoding="utf-8")
    click.echo(f"{readme}: rules table updated")


if __name__ == "__main__":
    main()
