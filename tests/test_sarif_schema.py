"""SARIF output: valid SARIF 2.1.0, shaped for GitHub code scanning, fingerprints that survive edits."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bnlint import docs
from bnlint.engine import render, run_rules
from bnlint.findings import Report
from bnlint.ir import Call, Compile, Location, Model, Runtime, TrainableChange, TrainingEvent, Unit
from bnlint.reporters import FORMATS
from bnlint.reporters.sarif import FINGERPRINT_KEY, artifact_location

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def _sarif(report, rules) -> dict:
    return json.loads(FORMATS["sarif"](report, rules))


def _validate(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_sample_report_is_valid_sarif(sample_report, rules):
    _validate(_sarif(sample_report, rules))


def test_clean_report_is_valid_sarif(rules):
    log = _sarif(Report(files_scanned=2), rules)
    _validate(log)
    run = log["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0] == {"executionSuccessful": True, "toolExecutionNotifications": []}


def test_the_schema_check_rejects_broken_sarif(sample_report, rules):
    # Guards the guard: a validator that accepted anything would make the tests above vacuous.
    log = _sarif(sample_report, rules)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        _validate(log)


def test_driver_describes_every_rule(sample_report, rules):
    driver = _sarif(sample_report, rules)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("bnlint", "0.1.0")
    assert driver["informationUri"].startswith("https://")
    assert [d["id"] for d in driver["rules"]] == [r.id for r in rules] == ["BN001", "BN002", "BN003", "BN004", "BN005", "BN100"]
    for descriptor, rule in zip(driver["rules"], rules):
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"] == rule.rationale
        assert descriptor["help"]["markdown"].startswith(f"# {rule.id} ({rule.name})")
        for runtime in ("legacy", "keras2", "keras3"):
            fix = render(rule.for_runtime(rule.fix, runtime), docs._DOC_RECORD).strip()
            assert fix in descriptor["help"]["text"]
        assert descriptor["helpUri"].endswith(f"/rules/{rule.id}.yaml")
        level = {"error": "error", "warning": "warning", "info": "note"}[rule.default_severity]
        assert descriptor["defaultConfiguration"]["level"] == level


def test_results_point_at_rules_files_cells_and_layers(sample_report, rules):
    run = _sarif(sample_report, rules)["runs"][0]
    model, notebook, script, stale_fit = run["results"]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"][FINGERPRINT_KEY]) == 32

    location = script["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "train.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 12, "startColumn": 5, "endLine": 12, "endColumn": 21}
    assert script["level"] == stale_fit["level"] == "error"
    assert (notebook["level"], model["level"]) == ("warning", "note")  # latent, note
    assert script["properties"]["confirmation"]["status"] == "confirmed"
    assert script["properties"]["confirmation"]["remedies"] == {"training-false": False, "freeze-batchnorm": True}
    assert script["properties"]["runtime"]["target"] == "keras3"

    # A cell's lines are not lines of the .ipynb file: the cell goes in the message and a logical location.
    nb = notebook["locations"][0]
    assert nb["physicalLocation"]["artifactLocation"]["uri"] == "notebooks/fine%20tune.ipynb"
    assert nb["physicalLocation"]["region"] == {"startLine": 1}
    assert nb["logicalLocations"][0]["fullyQualifiedName"] == "cell 3"
    assert notebook["message"]["text"].startswith("cell 3, line 5: ")

    saved = model["locations"][0]
    assert saved["physicalLocation"]["region"] == {"startLine": 1}  # code scanning requires a startLine
    assert saved["logicalLocations"] == [{"name": "backbone", "fullyQualifiedName": "encoder/backbone"}]


def test_input_errors_become_notifications_and_fail_the_invocation(sample_report, rules):
    invocation = _sarif(sample_report, rules)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["message"]["text"] == "broken.keras: not a .keras archive (no config.json)"
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.keras"


def test_artifact_locations():
    assert artifact_location("./src/a b.py") == {"uri": "src/a%20b.py", "uriBaseId": "%SRCROOT%"}
    assert artifact_location("/abs/m.keras") == {"uri": "file:///abs/m.keras"}


# Fingerprints -------------------------------------------------------------------------------

SCRIPT = """\
import keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
x = base(inputs)
y = base(inputs)
"""


def _unit(source: str) -> Unit:
    """What the script frontend would produce for SCRIPT (built by hand: the test is about the engine)."""
    lines = source.splitlines()
    calls = [
        Call(callee="base", training="absent", composition="call", container="model", in_graph=True,
             location=Location(line=number, column=5, end_line=number, end_column=17), order=number)
        for number, line in enumerate(lines, start=1)
        if "= base(inputs)" in line
    ]
    base = Model(key="base", name="base", cls="ResNet50", contains_bn=True, frozen=True,
                 architecture="keras.applications.ResNet50")
    model = Model(key="model", name="model", cls="Functional")
    end = len(lines) + 1
    # Frozen before the calls, then trained: each call is a latent BN001 on tf.keras.
    return Unit(path="train.py", kind="script", runtime=Runtime("keras2", "import tf_keras (line 1)"),
                models={"base": base, "model": model}, calls=calls, sources={None: lines},
                trainable_changes=[TrainableChange("base", False, "model", Location(line=1, column=1), order=0)],
                compiles=[Compile("model", Location(line=end, column=1), order=end)],
                trainings=[TrainingEvent("fit", ("model",), Location(line=end + 1, column=1), order=end + 1, api="fit")])


def _fingerprints(source: str, rules) -> list[tuple[str, int, str]]:
    report = Report(findings=run_rules(_unit(source), rules), files_scanned=1)
    results = _sarif(report, rules)["runs"][0]["results"]
    return [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["partialFingerprints"][FINGERPRINT_KEY]) for r in results]


def test_fingerprints_survive_unrelated_lines_moving(rules):
    before = _fingerprints(SCRIPT, rules)
    after = _fingerprints("\n# a comment added above\n" + SCRIPT, rules)
    assert [line for rule, line, _ in before if rule == "BN001"] == [5, 6, 7]
    assert [line for rule, line, _ in after if rule == "BN001"] == [7, 8, 9]  # the lines did move
    assert [(rule, fp) for rule, _, fp in before] == [(rule, fp) for rule, _, fp in after]


def test_fingerprints_tell_apart_findings_and_follow_the_code(rules):
    before = [fp for rule, _, fp in _fingerprints(SCRIPT, rules) if rule == "BN001"]
    assert len(set(before)) == 3  # the same code twice is still two findings (by occurrence)
    edited_source = SCRIPT.replace("y = base(inputs)", "y = base(inputs)  # noqa: E501")
    edited = [fp for rule, _, fp in _fingerprints(edited_source, rules) if rule == "BN001"]
    assert edited[:2] == before[:2] and edited[2] != before[2]  # only the edited line's finding changes
