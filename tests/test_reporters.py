"""Every output format on one shared report (golden files), and what each format promises.

Regenerate the golden files after an intended change with
`BNLINT_UPDATE_GOLDEN=1 pytest tests/test_reporters.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bnlint.findings import Confirmation, Finding, InputError, Related, Report
from bnlint.ir import Runtime
from bnlint.reporters import FORMATS, github, text
from bnlint.reporters.wording import confirmation_line
from bnlint.rules import load_dir

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_FILES = {"text": "sample.txt", "json": "sample.json", "sarif": "sample.sarif", "github": "sample.github.txt"}


def test_the_registry_offers_exactly_the_contract_formats():
    assert sorted(FORMATS) == ["github", "json", "sarif", "text"]


# SARIF embeds every rule passed to it (documentation included): its golden file is rendered with a
# fixed two-rule directory, so it changes only when the format does. BN003's finding has no rule
# there, as when a caller passes a subset.
FIXTURE_RULES = load_dir(Path(__file__).parent / "fixtures" / "rules")


@pytest.mark.parametrize("name", sorted(GOLDEN_FILES))
def test_format_matches_golden_file(name, sample_report, rules):
    rendered = FORMATS[name](sample_report, FIXTURE_RULES if name == "sarif" else rules)
    golden = GOLDEN / GOLDEN_FILES[name]
    if os.environ.get("BNLINT_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run BNLINT_UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{name} output changed; if intended, run BNLINT_UPDATE_GOLDEN=1 pytest tests/test_reporters.py"
    )


def _finding(**overrides) -> Finding:
    values = dict(rule="BN001", name="frozen-batchnorm-called-without-training-false", severity="error",
                  message="m", path="a.py", runtime=Runtime("keras3", "default"), line=3, column=7)
    return Finding(**(values | overrides))


# text ---------------------------------------------------------------------------------------


def test_text_places_scripts_notebooks_and_models_like_ruff(sample_report, rules):
    lines = FORMATS["text"](sample_report, rules).splitlines()
    assert "models/classifier.keras::encoder/backbone: BN001 Frozen `backbone` (Functional) " in lines[0]
    assert any(line.startswith("notebooks/fine tune.ipynb:cell 3:line 5:col 9: BN002 ") for line in lines)
    assert any(line.startswith("train.py:12:5: BN001 ") for line in lines)
    assert "  = fix: Keep the BatchNormalization layers of `base` frozen when you unfreeze it." in lines
    assert "  = verdict: exposed; runtime: keras3 (import keras (line 1))" in lines


def test_text_confirmation_says_what_was_measured_and_which_remedy_worked(sample_report):
    script = sample_report.findings[2]
    assert confirmation_line(script.confirmation) == (
        "confirmed (latent): train/inference output differs by 38% after unfreezing; moving mean moved by 0.41; "
        "fixed here by: keep BN frozen (not by: training=False) [keras 3.15.1 / tensorflow 2.21.0]"
    )


def test_a_confirmation_on_a_replica_or_a_script_run_says_so():
    metrics = {"rel_diff": 0.052}
    replica = Confirmation("confirmed", "active", metrics=metrics,
                           measured={"kind": "replica", "architecture": "keras.applications.ResNet50"})
    assert confirmation_line(replica) == (
        "confirmed (active): measured on a replica (keras.applications.ResNet50, untrained weights); "
        "train/inference output differs by 5.2%")
    run = Confirmation("confirmed", "active", metrics=metrics, measured={"kind": "script run"})
    assert confirmation_line(run).startswith("confirmed (active): measured by running the script up to its first fit(); ")
    own = Confirmation("confirmed", "active", metrics=metrics, measured={"kind": "model file"})
    assert confirmation_line(own) == "confirmed (active): train/inference output differs by 5.2%"


def test_confirmation_wording_for_each_status():
    assert confirmation_line(Confirmation()) is None  # not-run: nothing to say
    assert confirmation_line(Confirmation("unconfirmed", reason="timed out after 120 s")) == "unconfirmed: timed out after 120 s"
    active = Confirmation("confirmed", "active", metrics={"rel_diff": 0.052, "latent_rel_diff": 0.9}, runtime="tf_keras 2.21.0")
    assert confirmation_line(active) == "confirmed (active): train/inference output differs by 5.2% [tf_keras 2.21.0]"
    unknown = Confirmation("refuted", metrics={"max_abs_diff": 1.5e-7}, reason="BN pinned to inference")
    assert confirmation_line(unknown) == "refuted: BN pinned to inference; max_abs_diff 1.5e-07"


def test_text_does_not_print_input_errors_but_counts_them(sample_report, rules):
    rendered = FORMATS["text"](sample_report, rules)
    assert "broken.keras" not in rendered
    # Files *with* findings, of the files checked.
    assert rendered.endswith("Found 4 findings (2 errors, 1 warning, 1 info) in 3 of 4 files; assumed Keras 3 for 2: "
                             "metadata.json keras_version 3.15.1, and 1 other reason; Keras 2 for 1: import tf_keras "
                             "(cell 1, line 2) (--verbose lists each file's). 1 input could not be analysed.\n")


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (Report(files_scanned=4), "All checks passed (4 files)."),
        (Report(files_scanned=1), "All checks passed (1 file)."),
        (Report(errors=[InputError("x.h5", "bad"), InputError("y.h5", "bad")], files_scanned=3),
         "No findings in 3 files. 2 inputs could not be analysed."),
        (Report(findings=[_finding(severity="info")], files_scanned=1), "Found 1 finding (1 info) in 1 file."),
    ],
)
def test_text_summary(report, expected, rules):
    assert text.summary(report) == expected
    assert FORMATS["text"](report, rules).splitlines()[-1] == expected


def test_a_related_place_in_another_file_is_named_by_its_own_path(rules):
    # helpers.py builds and freezes the base; the script that imports it trains it.
    finding = _finding(path="helpers.py", related=(Related("training", "trained here (fit)", 5, 1, path="scripts/train.py"),
                                                   Related("composition", "`base` called here", 8, 61)))
    rendered = FORMATS["text"](Report(findings=[finding], files_scanned=1), rules)
    assert "  = related: scripts/train.py:5:1: trained here (fit)" in rendered
    assert "  = related: helpers.py:8:61: `base` called here" in rendered
    assert rendered.splitlines()[-1] == "Found 1 finding (1 error) in 1 file."
    two = FORMATS["text"](Report(findings=[finding, _finding(path="scripts/train.py")], files_scanned=1), rules)
    assert two.splitlines()[-1] == "Found 2 findings (2 errors) in 2 files."  # never "2 of 1 file"


def test_the_fixable_count_says_which_command_fixes_what(rules):
    script = _finding(fixer="training-false")
    model = _finding(fixer="training-false", path="m.h5", line=None, column=None, layer_path="backbone", input="model")
    rendered = FORMATS["text"](Report(findings=[script, script, model], files_scanned=2), rules)
    assert rendered.splitlines()[-1] == "[*] 2 fixable with `bnlint check --fix`; 1 in saved models fixable with `bnlint fix`."


def test_a_recompile_confirmation_reads_as_the_two_fits_it_compared():
    metrics = {"no_recompile_weights_max_abs_delta": 0.0, "no_recompile_moving_mean_max_abs_delta": 0.0,
               "recompiled_weights_max_abs_delta": 0.045, "recompiled_moving_mean_max_abs_delta": 0.00016}
    line = confirmation_line(Confirmation("confirmed", "active", metrics=metrics, remedies={"recompile": True}))
    assert line == ("confirmed (active): fit() without compile(): weights moved by 0, moving means by 0; "
                    "after compile(): weights moved by 0.045, moving means by 0.00016; fixed here by: recompile")


def test_text_place_without_column_or_line():
    assert text.place(_finding(column=None)) == "a.py:3"
    assert text.place(_finding(line=None, column=None)) == "a.py"
    assert text.place(_finding(cell=2, line=None, column=None)) == "a.py:cell 2"


# json ---------------------------------------------------------------------------------------


def test_json_is_the_report_contract(sample_report, rules):
    data = json.loads(FORMATS["json"](sample_report, rules))
    assert data == sample_report.to_json()
    assert set(data) == {"version", "findings", "errors", "skipped", "notes", "accepted_by_baseline", "files"}
    # Every file analysed says which runtime it was judged by (the input that failed has none).
    assert data["files"] == [
        {"path": "models/classifier.keras", "kind": "model",
         "runtime": {"target": "keras3", "source": "metadata.json keras_version 3.15.1"}},
        {"path": "notebooks/fine tune.ipynb", "kind": "notebook",
         "runtime": {"target": "keras2", "source": "import tf_keras (cell 1, line 2)"}},
        {"path": "train.py", "kind": "script", "runtime": {"target": "keras3", "source": "import keras (line 1)"}},
    ]
    notebook = data["findings"][1]
    assert (notebook["path"], notebook["cell"], notebook["line"], notebook["layer_path"]) == (
        "notebooks/fine tune.ipynb", 3, 5, None)
    assert data["findings"][0]["line"] is None and data["findings"][0]["layer_path"] == "encoder/backbone"
    assert data["findings"][2]["confirmation"]["remedies"] == {"training-false": False, "freeze-batchnorm": True}
    assert data["errors"] == [{"path": "broken.keras", "message": "not a .keras archive (no config.json)"}]


# github -------------------------------------------------------------------------------------


def _unescape(value: str) -> str:
    """What the Actions runner does with an escaped value (the inverse of our escaping)."""
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(escaped, raw)
    return value


_COMMAND = re.compile(r"^::(?P<name>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def _parse(line: str) -> tuple[str, dict[str, str], str]:
    m = _COMMAND.match(line)
    assert m, line
    props = dict(p.split("=", 1) for p in m.group("props").split(","))
    return m.group("name"), {k: _unescape(v) for k, v in props.items()}, _unescape(m.group("message"))


def test_github_annotations_by_severity_and_location(sample_report, rules):
    lines = FORMATS["github"](sample_report, rules).splitlines()
    assert len(lines) == 5  # four findings and the input error
    model, notebook, script, stale_fit, error = (_parse(line) for line in lines)

    assert script[0] == "error"
    assert script[1] == {"file": "train.py", "line": "12", "col": "5", "endLine": "12", "endColumn": "21",
                         "title": "BN001 (frozen-batchnorm-called-without-training-false)"}
    assert script[2].splitlines()[1:] == [
        "fix: Keep the BatchNormalization layers of `base` frozen when you unfreeze it.",
        "confirmed (latent): train/inference output differs by 38% after unfreezing; moving mean moved by 0.41; "
        "fixed here by: keep BN frozen (not by: training=False) [keras 3.15.1 / tensorflow 2.21.0]",
    ]
    # A notebook finding whose file line is unknown, and a saved model, point at line 1 (GitHub
    # needs a line to place an annotation); the message says where inside the file.
    assert notebook[1]["line"] == "1" and "col" not in notebook[1]
    assert notebook[2].startswith("cell 3, line 5: Frozen `backbone`")
    assert model[1]["line"] == "1" and model[2].startswith("layer encoder/backbone: Frozen")
    assert stale_fit[0] == "error" and "100% of the new weights" in stale_fit[2]
    assert (notebook[0], model[0]) == ("warning", "notice")  # latent, note
    assert error == ("error", {"file": "broken.keras", "title": "bnlint (input not analysed)"},
                     "not a .keras archive (no config.json)")


def test_github_escapes_data_and_properties():
    finding = _finding(path="dir,with: odd%chars.py", message="50% off\r\nsecond: line, here", severity="info")
    line = FORMATS["github"](Report(findings=[finding]), [])
    assert line.count("\n") == 1  # one workflow command, however many lines the message has
    name, props, message = _parse(line.rstrip("\n"))
    assert name == "notice"
    assert props["file"] == "dir,with: odd%chars.py"
    # A line break inside a message came from an input: it is escaped, never a second line.
    assert message.startswith("50% off\\r\\nsecond: line, here")
    assert github.escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert github.escape_data("a:b,c%\n") == "a:b,c%25%0A"


def test_github_prints_nothing_for_a_clean_report(rules):
    assert FORMATS["github"](Report(files_scanned=3), rules) == ""


@pytest.mark.parametrize(
    ("remedies", "phrase"),
    [
        ({"training-false": False, "freeze-batchnorm": True}, "fixed here by: keep BN frozen (not by: training=False)"),
        ({"training-false": True, "freeze-batchnorm": True}, "fixed here by: training=False or keep BN frozen"),
        ({"training-false": False, "freeze-batchnorm": False}, "not fixed by: training=False, keep BN frozen"),
    ],
)
def test_the_confirmation_line_recommends_what_worked_under_this_runtime(remedies, phrase):
    from bnlint.findings import Confirmation
    from bnlint.reporters.wording import confirmation_line

    line = confirmation_line(Confirmation("confirmed", "latent", {"latent_rel_diff": 0.5}, "", "keras 3.15.1 / tensorflow 2.21.0", remedies))
    assert line == f"confirmed (latent): train/inference output differs by 50% after unfreezing; {phrase} [keras 3.15.1 / tensorflow 2.21.0]"
