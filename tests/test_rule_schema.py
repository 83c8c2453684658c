"""rules/schema.json describes the rule format for editors and for rule authors' own CI.

The loader validates rules itself (it needs no schema library); these tests keep the two in step:
every shipped rule is valid under the schema, the schema's name lists are the code's, and a rule
the loader refuses is one the schema refuses too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from bnlint import fix, rules, vocabulary, yaml_data
from bnlint.prefilter import PREFILTER_WORDS
from bnlint.rules import RuleError, parse_rule

SCHEMA = json.loads((rules.builtin_rules_dir() / "schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(rules.builtin_rules_dir().glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_rule_is_valid_under_the_schema(path):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in VALIDATOR.iter_errors(yaml_data.load(path.read_text(encoding="utf-8")))]
    assert errors == []


def test_the_schemas_name_lists_are_the_codes():
    properties, defs = SCHEMA["properties"], SCHEMA["$defs"]
    assert set(properties) == {*rules._REQUIRED, *rules._OPTIONAL}
    assert set(SCHEMA["required"]) == set(rules._REQUIRED)
    assert defs["severity"]["enum"] == list(vocabulary.SEVERITIES)
    assert defs["verdict"]["enum"] == list(vocabulary.VERDICTS)
    assert properties["inputs"]["items"]["enum"] == list(vocabulary.INPUT_KINDS)
    assert set(defs["alternative"]["properties"]["fact"]["enum"]) == set(rules.FACTS)
    assert set(properties["prefilter"]["items"]["enum"]) == set(PREFILTER_WORDS)
    fixers = properties["fix"]["oneOf"][1]["properties"]
    assert set(fixers["script"]["enum"]) == set(fix.SCRIPT_FIXERS)
    assert set(fixers["model"]["enum"]) == set(fix.MODEL_FIXERS)


def _rule(**overrides) -> dict:
    data = {"id": "XY001", "name": "x", "severity": "warning", "inputs": ["script"], "summary": "s",
            "message": "m", "fix": "f", "rationale": "r", "match": {"fact": "call", "where": {"training": "true"}}}
    return {k: v for k, v in (data | overrides).items() if v is not None}


def test_a_minimal_rule_is_valid_both_ways(tmp_path):
    assert VALIDATOR.is_valid(_rule())
    parse_rule(_rule(), tmp_path / "XY001.yaml")


@pytest.mark.parametrize("overrides", [
    {"id": "bn1"},
    {"severity": "fatal"},
    {"severity": {"sometimes": "error"}},
    {"inputs": ["python"]},
    {"inputs": []},
    {"status": "beta"},
    {"message": {"keras4": "m"}},
    {"match": {"fact": "layer", "where": {"x": 1}}},
    {"match": {"fact": "call"}},
    {"fix": {"title": "t", "script": "typo"}},
    {"summary": None},
    {"unknown_key": 1},
    {"prefilter": ["fitting"]},
    {"prefilter": []},
    # Severity follows the verdict (active and exposed error, latent warning, note info).
    {"severity": "warning", "verdict": "active"},
    {"severity": "error", "verdict": "note"},
    {"severity": {"active": "warning"}},
    {"severity": {"latent": "error", "note": "info"}},
], ids=repr)
def test_a_rule_the_loader_refuses_the_schema_refuses(tmp_path, overrides):
    data = _rule(**overrides)
    with pytest.raises(RuleError):
        parse_rule(data, tmp_path / "XY001.yaml")
    assert not VALIDATOR.is_valid(data)


def test_the_schema_ships_beside_the_rules():
    # Editors find it next to the rule files, in a checkout and in the wheel (bnlint/_rules).
    assert (Path(rules.__file__).parent.parent / "rules" / "schema.json").is_file()
