"""Severity follows the verdict, in every rule: active and exposed are errors, latent a warning,
note info. `--fail-on error` must never pass a finding whose verdict says it is wrong now."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_rule_examples import RULES, examples, findings_of

from bnlint import rules, yaml_data
from bnlint.cli import cli
from bnlint.vocabulary import VERDICT_SEVERITY, VERDICTS


def test_the_contract_table():
    assert VERDICT_SEVERITY == {"active": "error", "exposed": "error", "latent": "warning", "note": "info"}
    assert set(VERDICT_SEVERITY) == set(VERDICTS)


@pytest.mark.parametrize("path", sorted(rules.builtin_rules_dir().glob("*.yaml")), ids=lambda p: p.stem)
def test_every_rule_file_declares_the_severity_of_its_verdicts(path):
    """Read from the file itself, so a new rule file is checked without touching this test."""
    data = yaml_data.load(path.read_text(encoding="utf-8"))
    severity, verdict = data["severity"], data.get("verdict")
    if isinstance(severity, dict):
        declared = {v: s for v, s in severity.items() if v != "default"}
    else:
        declared = {verdict: severity} if verdict else {}
    assert declared, f"{path.name}: say which verdict its severity is for (`verdict:` or a severity per verdict)"
    assert {v: VERDICT_SEVERITY[v] for v in declared} == declared


@pytest.mark.parametrize(("rule", "kind", "example"), [p for p in examples(RULES) if p.values[1] == "invalid"])
def test_every_finding_of_every_example_has_its_verdicts_severity(rule, kind, example):
    for finding in findings_of(example, RULES):
        declared = next(r for r in RULES if r.id == finding.rule).severity_for(finding.verdict)
        assert (finding.severity, declared) == (VERDICT_SEVERITY[finding.verdict],) * 2, (finding.rule, finding.verdict)


def test_fail_on_error_fails_on_an_active_bn003(repository):
    (repository / "train.py").write_text(
        "import keras\n"
        "base = keras.applications.ResNet50(weights=None, include_top=False, pooling='avg')\n"
        "base.trainable = False\n"
        "model = keras.Sequential([base, keras.layers.Dense(2)])\n"
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, y)\n"
        "base.trainable = True\n"
        "model.fit(x, y)\n"
    )
    result = CliRunner().invoke(cli, ["check", "train.py", "--no-confirm", "--no-cache", "--fail-on", "error", "--format", "json"])
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["verdict"], f["severity"]) for f in findings] == [("BN003", "active", "error")]
    assert result.exit_code == 1
