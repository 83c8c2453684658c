"""Every rule's `valid`/`invalid` examples are tests: the findings must be exactly the marked ones.

A script example marks each expected finding on its line with `# expect: BN001` (several ids
separated by commas), optionally with its verdict, `# expect: BN001[latent]`; a saved-model example
lists `expect: [{rule, layer_path, verdict?}]`. All rules run on every example, so an example also
proves that no other rule fires where none is marked. An invalid example may carry `fixed:`, the
code `bnlint check --fix` must turn it into (fixing every fixable finding, and what those fixes
reveal, as `--fix` does); every finding marked fixable must be fixed, with or without `fixed:`.

The rules come from `load_rules()` (or, for `check_rule_dir`, any directory of rule files), so a
new YAML rule is tested by this file without touching it.
"""

from __future__ import annotations

import re

import pytest

from bnlint import api
from bnlint.config import Settings
from bnlint.fix.script import fix_until_settled
from bnlint.ir import Runtime
from bnlint.rules import Rule, load_rules

RULES = load_rules()
EXPECT = re.compile(r"#\s*expect:\s*(?P<marks>[A-Z]+[0-9]+(?:\[[a-z]+\])?(?:\s*,\s*[A-Z]+[0-9]+(?:\[[a-z]+\])?)*)")
STRIP_MARKS = re.compile(r"[ \t]*#\s*expect:[^\n]*", re.MULTILINE)
MARK = re.compile(r"(?P<rule>[A-Z]+[0-9]+)(?:\[(?P<verdict>[a-z]+)\])?")


def examples(rules):
    for rule in rules:
        for kind in ("invalid", "valid"):
            for index, example in enumerate(rule.examples.get(kind, [])):
                yield pytest.param(rule, kind, example, id=f"{rule.id}-{kind}-{index + 1}")


def expected_script_findings(code: str) -> set[tuple[str, int, str | None]]:
    expected = set()
    for number, line in enumerate(code.splitlines(), start=1):
        found = EXPECT.search(line)
        if found:
            expected |= {(m["rule"], number, m["verdict"]) for m in MARK.finditer(found["marks"])}
    return expected


# Every rule runs on every example, preview rules too (`--preview`).
EVERY_RULE = Settings(preview=True)


def findings_of(example: dict, rules):
    runtime = Runtime(example["runtime"], "example") if "runtime" in example else None
    if "code" in example:
        return api.lint_source(example["code"], "script", runtime, path="example.py", rules=rules, settings=EVERY_RULE)
    return api.lint_model_config(example["model"], example.get("keras_version"), path="example.keras",
                                 runtime=runtime, rules=rules, settings=EVERY_RULE)


def check_example(rule: Rule, kind: str, example: dict, rules) -> None:
    """The whole contract of one example; also used on rules in other directories."""
    findings = findings_of(example, rules)
    if "code" in example:
        expected = expected_script_findings(example["code"])
        with_verdict = {(r, line) for r, line, verdict in expected if verdict}
        actual = {(f.rule, f.line, f.verdict if (f.rule, f.line) in with_verdict else None) for f in findings}
    else:
        expected = {(e["rule"], e["layer_path"], e.get("verdict")) for e in example.get("expect", [])}
        with_verdict = {(r, path) for r, path, verdict in expected if verdict}
        actual = {(f.rule, f.layer_path, f.verdict if (f.rule, f.layer_path) in with_verdict else None) for f in findings}
    assert actual == expected, example.get("description")
    marked_here = {rule_id for rule_id, _, _ in expected}
    if kind == "invalid":
        assert marked_here, f"{rule.id}: an invalid example must mark at least one finding"
    else:
        assert rule.id not in marked_here, f"{rule.id}: a valid example must not expect {rule.id}"
    if "fixed" in example:
        assert kind == "invalid" and "code" in example, f"{rule.id}: only invalid script examples have `fixed`"
        outcome = fixed_example(example, findings, rules)
        assert outcome.text == example["fixed"], f"{rule.id}: {example.get('description')}: the fix differs"
        assert [f for f in outcome.fixed if f.rule == rule.id], f"{rule.id}: the fix claims no finding"
        left = findings_of(example | {"code": outcome.text}, rules)
        assert not [f for f in left if f.rule == rule.id], f"{rule.id}: the fixed code still has the finding"


def fixed_example(example: dict, findings, rules):
    """What `check --fix` makes of an example. The `# expect:` marks are the example's, not the
    fix's: they are taken out first (they end lines, so no position moves)."""
    code = STRIP_MARKS.sub("", example["code"])
    return fix_until_settled(code, findings, lambda text: findings_of(example | {"code": text}, rules))


@pytest.mark.parametrize(("rule", "kind", "example"), [p for p in examples(RULES) if p.values[1] == "invalid" and "code" in p.values[2]])
def test_every_finding_marked_fixable_is_fixed(rule, kind, example):
    """`[*]` is a promise: `check --fix` removes every finding it marks."""
    findings = findings_of(example, RULES)
    marked = [(f.rule, f.line) for f in findings if f.fixable]
    outcome = fixed_example(example, findings, RULES)
    assert outcome.remaining == []
    assert [(f.rule, f.line) for f in outcome.fixed[: len(marked)]] == marked
    left = {(f.rule, f.line) for f in findings_of(example | {"code": outcome.text}, RULES)}
    assert not {rule for rule, _ in marked} & {rule for rule, _ in left}, left


@pytest.mark.parametrize(("rule", "kind", "example"), list(examples(RULES)))
def test_rule_example(rule, kind, example):
    check_example(rule, kind, example, RULES)


def check_examples_both_ways(rule: Rule) -> None:
    assert rule.examples.get("invalid"), rule.id
    assert rule.examples.get("valid"), rule.id
    assert any(
        rule.id in {r for r, _, _ in expected_script_findings(e.get("code", ""))}
        or any(x["rule"] == rule.id for x in e.get("expect", []))
        for e in rule.examples["invalid"]
    ), f"{rule.id} has no invalid example that expects it"


def test_every_rule_has_examples_both_ways():
    for rule in RULES:
        check_examples_both_ways(rule)


def test_fixable_rules_show_their_fix_in_an_example():
    for rule in RULES:
        if rule.script_fixer:
            assert rule.fixable, f"{rule.id} names a script fixer but no invalid example shows `fixed:` code"


def test_rule_ids_are_the_contract():
    """Ids are never renumbered: the built-in rules and their names are pinned here (README: id policy)."""
    names = {rule.id: rule.name for rule in RULES}
    assert names == {
        "BN001": "frozen-batchnorm-called-without-training-false",
        "BN002": "frozen-batchnorm-in-sequential",
        "BN003": "trainable-changed-without-recompile",
        "BN004": "batchnorm-exposed-by-unfreezing",
        "BN005": "training-true-on-batchnorm",
        "BN100": "unused-suppression",
    }
