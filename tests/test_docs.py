"""Rule documentation (`bnlint rule BN001`) and the README's rules table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint import docs
from bnlint.engine import render
from bnlint.rules import parse_rule

README = Path(__file__).parent.parent / "README.md"
SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix", "## References"]


def test_readme_rules_table_is_current(rules):
    # Fails when a rule is added or its summary changes: run python -m bnlint.docs --update-readme README.md
    assert docs.readme_table(README.read_text(encoding="utf-8")) == docs.rules_table(rules)


def test_every_rule_doc_has_ruffs_sections_in_order(rules):
    for rule in rules:
        doc = docs.rule_doc(rule)
        assert doc.startswith(f"# {rule.id} ({rule.name})\n")
        headings = re.findall(r"^## .*$", doc, flags=re.MULTILINE)
        assert headings == SECTIONS, rule.id
        for runtime in ("legacy", "keras2", "keras3"):
            # Placeholders read as an example name (`base`) in the documentation.
            expected = render(rule.for_runtime(rule.fix, runtime), docs._DOC_RECORD).strip()
            assert expected in doc
            assert "{" not in expected, expected
        for reference in rule.references:
            assert f"<{reference}>" in doc


def test_fix_and_use_instead_are_given_per_runtime(rules):
    bn001 = docs.rule_doc(next(r for r in rules if r.id == "BN001"))
    fix = bn001.split("## Fix\n\n", 1)[1].split("\n\n## ", 1)[0]
    # legacy and keras2 share one fix; keras3's differs and must never be "pass training=False".
    assert fix.splitlines()[0].startswith("- **legacy (Keras <= 2.3, TF 1.x, v1 BN classes), keras2 (")
    assert fix.splitlines()[1].startswith("- **keras3 (Keras 3)**: When you unfreeze `base`, set `trainable = False` again")
    assert "### keras3 (Keras 3)" in bn001
    assert "```python\nbase = keras.applications.ResNet50" in bn001


def _rule(**overrides):
    data = {
        "id": "XX001", "name": "demo", "severity": "info", "inputs": ["script"], "summary": "Has a | pipe.",
        "message": "m", "fix": "Do the one thing.", "rationale": "Because.",
        "match": {"fact": "call", "where": {"training": "true"}},
    } | overrides
    return parse_rule(data, Path("/elsewhere/XX001.yaml"))


def test_a_minimal_user_rule_documents_what_it_has():
    doc = docs.rule_doc(_rule())
    assert re.findall(r"^## .*$", doc, flags=re.MULTILINE) == ["## What it does", "## Why is this bad?", "## Fix"]
    assert "## Fix\n\nDo the one thing.\n" in doc  # one fix for every runtime: no per-runtime list
    assert docs.rule_url(_rule()) is None  # not shipped with bnlint: no online page


def test_rules_table_escapes_pipes_and_lists_inputs(rules):
    table = docs.rules_table([_rule(), *rules])
    lines = table.splitlines()
    assert lines[0] == "| id | name | severity | inputs | summary |"
    assert lines[2] == "| XX001 | demo | info | scripts | Has a \\| pipe. |"
    assert lines[3].startswith("| BN001 | frozen-batchnorm-called-without-training-false | error (active, exposed), "
                               "warning (latent), info (note) | scripts, notebooks, saved models | ")
    assert len(lines) == 2 + 1 + len(rules)


README_TEMPLATE = "# Project\n\nIntro.\n\n<!-- rules-table:start -->\n{table}<!-- rules-table:end -->\n\nMore.\n"


def test_update_readme_rewrites_only_between_the_markers(rules):
    stale = README_TEMPLATE.format(table="| old |\n")
    updated = docs.update_readme(stale, rules)
    assert updated == README_TEMPLATE.format(table=f"\n{docs.rules_table(rules)}\n")
    assert docs.update_readme(updated, rules) == updated  # idempotent
    assert docs.readme_table(updated) == docs.rules_table(rules)


def test_update_readme_needs_the_markers(rules):
    with pytest.raises(docs.DocsError, match="markers"):
        docs.update_readme("# no markers here\n", rules)


def test_module_command_updates_and_checks_a_readme(tmp_path, rules):
    readme = tmp_path / "README.md"
    readme.write_text(README_TEMPLATE.format(table=""), encoding="utf-8")
    runner = CliRunner()

    stale = runner.invoke(docs.main, ["--update-readme", str(readme), "--check"])
    assert stale.exit_code == 1 and "out of date" in stale.output
    assert docs.rules_table(rules) not in readme.read_text(encoding="utf-8")  # --check changes nothing

    assert runner.invoke(docs.main, ["--update-readme", str(readme)]).exit_code == 0
    assert docs.readme_table(readme.read_text(encoding="utf-8")) == docs.rules_table(rules)
    assert runner.invoke(docs.main, ["--update-readme", str(readme), "--check"]).exit_code == 0

    missing = runner.invoke(docs.main, ["--update-readme", str(tmp_path / "nope.md")])
    assert missing.exit_code == 2 and "No such file" in missing.output


def test_the_readme_quick_start_output_is_what_bnlint_prints(monkeypatch):
    # The console example is real output: regenerate it when the wording changes.
    from bnlint.cli import cli

    text = README.read_text(encoding="utf-8")
    command = "$ bnlint check --no-confirm examples/finetune_buggy.py\n"
    shown = text[text.index(command) + len(command):]
    shown = shown[:shown.index("```")]
    monkeypatch.chdir(README.parent)
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--color", "never", "examples/finetune_buggy.py"])
    assert result.exit_code == 1
    assert result.output == shown
