"""The declarative condition language of rule `match` clauses."""

from __future__ import annotations

import pytest

from bnlint.match import MatchError, compile_condition, matches

RECORD = {"training": "absent", "runtime": "keras3", "callee": {"frozen": True, "kind": "model", "contains_bn": True}}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"training": "absent"}, True),
        ({"training": ["false", "true"]}, False),
        ({"callee.frozen": True}, True),
        ({"callee.missing": None}, False),  # a missing path never matches, not even None
        ([{"callee.kind": "model"}, {"runtime": "keras2"}], False),
        ({"any": [{"runtime": "keras2"}, {"callee.contains_bn": True}]}, True),
        ({"not": {"all": [{"runtime": ["keras2", "legacy"]}, {"training": "absent"}]}}, True),
        ({"not": {"training": "absent"}}, False),
        ({"callee.frozen": 1}, False),  # True == 1 in Python, not in a rule
    ],
)
def test_conditions(condition, expected):
    assert matches(condition, RECORD) is expected


@pytest.mark.parametrize("bad", [{}, "training", {"any": {"a": 1}}, [{"all": "x"}]])
def test_malformed_conditions_fail_at_load_time(bad):
    with pytest.raises(MatchError):
        compile_condition(bad, "rule.yaml")
