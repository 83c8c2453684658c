"""A rule over existing facts is one YAML file: nothing else changes for it to be checked,
documented, listed, selected, tested by its own examples and reported in every format.

The test copies the shipped rules to a temporary directory, adds BN006 there and points the
loader's built-in directory at the copy, exactly as a new file in rules/ would be seen.
"""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from click.testing import CliRunner
from test_rule_examples import check_example, check_examples_both_ways, examples

from bnlint import docs, rules
from bnlint.cli import cli

BN006 = textwrap.dedent("""\
    id: BN006
    name: trainable-batchnorm-in-inference-mode
    status: preview
    severity: info
    inputs: [script, notebook]
    summary: A trainable model containing BatchNormalization is called with `training=False`.
    message: >-
      `{callee.name}` ({callee.cls}) is trainable and called with `training=False`: its weights
      train while its BN layers keep their moving statistics.
    fix: "Nothing to change when this is the fine-tuning recipe; otherwise drop `training=False`."
    rationale: |
      Keras' fine-tuning guide calls an unfrozen base with training=False on purpose; elsewhere it
      is usually a leftover from the frozen phase.
    match:
      fact: call
      where:
        - training: "false"
        - callee.contains_bn: true
        - callee.frozen: false
        - in_graph: true
    examples:
      invalid:
        - description: an unfrozen base kept in inference mode
          runtime: keras2
          code: |
            import tensorflow as tf
            base = tf.keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg")
            inputs = tf.keras.Input((96, 96, 3))
            features = base(inputs, training=False)  # expect: BN006
            model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(features))
      valid:
        - description: a frozen base called with training=False is the recipe
          runtime: keras2
          code: |
            import tensorflow as tf
            base = tf.keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg")
            base.trainable = False
            inputs = tf.keras.Input((96, 96, 3))
            features = base(inputs, training=False)
            model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(features))
    """)

SCRIPT = textwrap.dedent("""\
    import tensorflow as tf
    base = tf.keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg")
    inputs = tf.keras.Input((96, 96, 3))
    features = base(inputs, training=False)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(features))
    """)


@pytest.fixture
def with_bn006(tmp_path, monkeypatch):
    rules_dir = tmp_path / "rules"
    shutil.copytree(rules.builtin_rules_dir(), rules_dir)
    (rules_dir / "BN006.yaml").write_text(BN006, encoding="utf-8")
    monkeypatch.setattr(rules, "builtin_rules_dir", lambda: rules_dir)
    rules._load.cache_clear()
    yield rules.load_rules()
    rules._load.cache_clear()


def test_the_new_rule_loads_and_its_examples_are_tests(with_bn006):
    bn006 = next(r for r in with_bn006 if r.id == "BN006")
    check_examples_both_ways(bn006)
    params = [p.values for p in examples([bn006])]
    assert len(params) == 2
    for rule, kind, example in params:
        check_example(rule, kind, example, with_bn006)


def test_the_new_rule_is_documented_listed_and_in_the_readme_table(with_bn006):
    runner = CliRunner()
    listed = runner.invoke(cli, ["rules"])
    assert listed.exit_code == 0 and "BN006" in listed.output
    doc = runner.invoke(cli, ["rule", "BN006"])
    assert doc.exit_code == 0 and doc.output.startswith("# BN006 (trainable-batchnorm-in-inference-mode)")
    assert "| BN006 | trainable-batchnorm-in-inference-mode | info |" in docs.rules_table(with_bn006)


def test_the_new_rule_is_selected_and_reported(with_bn006, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    runner = CliRunner()
    # A preview rule is off by default, and on with --preview (or by exact id with --preview).
    off = runner.invoke(cli, ["check", "--no-cache", "--format", "json", str(script)])
    assert off.exit_code == 0 and json.loads(off.output)["findings"] == []
    on = runner.invoke(cli, ["check", "--no-cache", "--preview", "--select", "BN006", "--format", "sarif", str(script)])
    assert on.exit_code == 0, on.output  # info is below the default --fail-on warning
    run = json.loads(on.output)["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["BN006"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert "BN006" in {rule["id"] for rule in run["tool"]["driver"]["rules"]}
