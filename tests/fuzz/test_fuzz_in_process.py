"""The same generators, fed straight to the parts that read untrusted structure (no process per
example, so many more examples): each raises its one error type with a one-line message, or succeeds."""

from __future__ import annotations

import json

import fuzz_inputs as inputs
from fuzz_strategies import JSON_VALUES, config_mutations, mutate_config, notebook_documents, script_texts
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlint import safe_io, yaml_data
from bnlint.confirm.safety import screen_config
from bnlint.fix.model import plan_model_fix
from bnlint.frontends import FrontendError
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.python.cells import parse_cell
from bnlint.frontends.python.notebook import analyze_notebook_text
from bnlint.frontends.python.source import source_lines
from bnlint.ir import Runtime

MANY = settings(max_examples=settings.default.max_examples * 10)
KERAS2 = Runtime("keras2", "fuzz")


def one_line(error: Exception) -> None:
    assert str(error) and "\n" not in str(error), repr(error)


@MANY
@given(config_mutations())
def test_mutated_configs_through_the_walker_users(mutation):
    fixture, edits = mutation
    config = mutate_config(inputs.fixture_config(fixture), edits)
    try:
        unit = lower_config(config, "m.keras", KERAS2)
    except FrontendError as error:
        one_line(error)
        return
    from bnlint.engine import run_rules
    from bnlint.rules import load_rules

    findings = run_rules(unit, load_rules())
    try:
        screen_config(config, "2.15.0", "h5").refusal(allow_unsafe=False)
        fix = plan_model_fix(config, findings)
        lower_config(fix.config, "m.keras", KERAS2)  # what the fixer wrote still reads
    except FrontendError as error:
        one_line(error)


@MANY
@given(st.lists(script_texts(notebook=True), min_size=1, max_size=3))
def test_cells_parse_or_say_why_in_one_line(texts):
    for text in texts:
        try:
            parse_cell(source_lines(text))
        except FrontendError as error:
            one_line(error)


@MANY
@given(notebook_documents())
def test_notebooks_lower_or_say_why_in_one_line(text):
    try:
        unit = analyze_notebook_text(text, "nb.ipynb")
    except FrontendError as error:
        one_line(error)
        return
    assert len(unit.problems) <= 1 and all("\n" not in p for p in unit.problems)


@MANY
@given(st.one_of(st.text(max_size=200), JSON_VALUES.map(json.dumps)))
def test_yaml_loads_or_says_why_in_one_line(text):
    try:
        yaml_data.load(text)
    except yaml_data.YAMLError as error:
        one_line(error)


@MANY
@given(st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_json_inputs_parse_or_say_why_in_one_line(data):
    try:
        safe_io.parse_json(data, "input")
    except safe_io.UnreadableFile as error:
        one_line(error)
