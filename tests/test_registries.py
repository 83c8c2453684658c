"""The names a rule's YAML may use for its dynamic check and its fixers exist, under the same names.

Rules name their check (`confirm: {check: NAME}`) and fixers (`fix: {script: NAME, model: NAME}`);
the rule loader validates those names against the lists in `bnlint.confirm` and `bnlint.fix`
without importing the implementations, which live in `measure.CHECKS`, `script.SCRIPT_FIXERS` and
`model.MODEL_FIXERS`.
"""

from __future__ import annotations

import pytest

from bnlint import confirm, fix
from bnlint.rules import RuleError, load_rules, parse_rule


def test_check_names_are_the_implemented_checks():
    from bnlint.confirm.measure import CHECKS

    assert set(CHECKS) == set(confirm.CHECKS)


def test_fixer_names_are_the_implemented_fixers():
    from bnlint.fix.model import MODEL_FIXERS
    from bnlint.fix.plan import SCRIPT_FIXERS

    assert set(SCRIPT_FIXERS) == set(fix.SCRIPT_FIXERS)
    assert set(MODEL_FIXERS) == set(fix.MODEL_FIXERS)


def test_every_builtin_rule_names_known_checks_and_fixers():
    for rule in load_rules():
        assert rule.check in (*confirm.CHECKS, confirm.NO_CHECK), rule.id
        assert rule.script_fixer in (None, *fix.SCRIPT_FIXERS), rule.id
        assert rule.model_fixer in (None, *fix.MODEL_FIXERS), rule.id


def _rule(**overrides) -> dict:
    data = {"id": "XY001", "name": "x", "severity": "warning", "inputs": ["script"], "summary": "s",
            "message": "m", "fix": "f", "rationale": "r", "match": {"fact": "call", "where": {"training": "true"}}}
    return data | overrides


@pytest.mark.parametrize(("overrides", "error"), [
    ({"confirm": {"check": "typo"}}, "unknown check 'typo'"),
    ({"fix": {"title": "t", "script": "typo"}}, "unknown script fixer 'typo'"),
    ({"fix": {"title": "t", "model": "typo"}}, "unknown model fixer 'typo'"),
])
def test_a_name_that_is_not_registered_is_a_rule_error(tmp_path, overrides, error):
    with pytest.raises(RuleError, match=error):
        parse_rule(_rule(**overrides), tmp_path / "XY001.yaml")
