"""Every rule's `valid`/`invalid` examples are tests: the findings must be exactly the marked ones.

A script example marks each expected finding on its line with `# expect: BN001` (several ids
separated by commas); a saved-model example lists `expect: [{rule, layer_path}]`. All rules run on
every example, so an example also proves that no other rule fires where none is marked.
"""

from __future__ import annotations

import re

import pytest

from bnlint.engine import run_rules
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.python.script import analyze_source
from bnlint.ir import Runtime
from bnlint.rules import load_rules
from bnlint.runtime import from_keras_version

RULES = load_rules()
EXPECT = re.compile(r"#\s*expect:\s*(?P<ids>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def _examples():
    for rule in RULES:
        for kind in ("invalid", "valid"):
            for index, example in enumerate(rule.examples.get(kind, [])):
                yield pytest.param(rule, kind, example, id=f"{rule.id}-{kind}-{index + 1}")


def _expected_script_findings(code: str) -> set[tuple[str, int]]:
    expected = set()
    for number, line in enumerate(code.splitlines(), start=1):
        m = EXPECT.search(line)
        if m:
            expected |= {(rule_id.strip(), number) for rule_id in m.group("ids").split(",")}
    return expected


def _unit(example: dict):
    if "code" in example:
        unit = analyze_source(example["code"], "example.py")
    else:
        runtime = from_keras_version(example["keras_version"], "example keras_version")
        unit = lower_config(example["model"], "example.keras", runtime)
    if "runtime" in example:
        unit.runtime = Runtime(example["runtime"], "example")
    return unit


@pytest.mark.parametrize(("rule", "kind", "example"), list(_examples()))
def test_rule_example(rule, kind, example):
    findings = run_rules(_unit(example), RULES)
    if "code" in example:
        expected = _expected_script_findings(example["code"])
        actual = {(f.rule, f.line) for f in findings}
    else:
        expected = {(e["rule"], e["layer_path"]) for e in example.get("expect", [])}
        actual = {(f.rule, f.layer_path) for f in findings}
    assert actual == expected, example.get("description")
    marked_here = {rule_id for rule_id, _ in expected}
    if kind == "invalid":
        assert marked_here, f"{rule.id}: an invalid example must mark at least one finding"
    else:
        assert rule.id not in marked_here, f"{rule.id}: a valid example must not expect {rule.id}"


def test_every_rule_has_examples_both_ways():
    for rule in RULES:
        assert rule.examples.get("invalid"), rule.id
        assert rule.examples.get("valid"), rule.id
        assert any(
            rule.id in {r for r, _ in _expected_script_findings(e.get("code", ""))}
            or any(x["rule"] == rule.id for x in e.get("expect", []))
            for e in rule.examples["invalid"]
        ), f"{rule.id} has no invalid example that expects it"


def test_rule_ids_are_the_contract():
    names = {rule.id: rule.name for rule in RULES}
    assert names == {
        "BN001": "frozen-batchnorm-called-without-training-false",
        "BN002": "frozen-batchnorm-in-sequential",
        "BN003": "trainable-changed-without-recompile",
        "BN004": "batchnorm-exposed-by-unfreezing",
        "BN005": "training-true-on-batchnorm",
        "BN100": "unused-suppression",
    }
