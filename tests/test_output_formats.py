"""The formats on a real scan, run from a subfolder of a repository: golden text (with and without
colour) and SARIF, notebook findings on their real .ipynb lines, suppressed and baselined results.

Regenerate after an intended change with `BNLINT_UPDATE_GOLDEN=1 pytest tests/test_output_formats.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint.cli import cli

GOLDEN = Path(__file__).parent / "golden"

SCRIPT = """\
import keras

base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
y = base(inputs)  # noqa: BN001
model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([x, y]))))
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
base.trainable = True
model.fit(images, labels)
"""

CELLS = [
    ("markdown", "# Fine-tuning\n\nA notebook as Jupyter writes it."),
    ("code", "import tf_keras as keras\n"),
    ("code", "base = keras.applications.MobileNetV2(weights=None, include_top=False)\n"
             "base.trainable = False\n"
             "model = keras.Sequential([base, keras.layers.Dense(2)])\n"
             "model.compile(optimizer='adam', loss='mse')\n"
             "model.fit(images, labels)"),
]


def _notebook() -> str:
    def source(text: str) -> list[str]:
        return text.splitlines(keepends=True)

    cells = [{"cell_type": kind, "metadata": {}, "source": source(text),
              **({"execution_count": None, "outputs": []} if kind == "code" else {})} for kind, text in CELLS]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


@pytest.fixture
def repository(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text(SCRIPT)
    (root / "src" / "fine_tune.ipynb").write_text(_notebook())
    (root / "requirements.txt").write_text("tensorflow==2.15.0\n")  # tf.keras 2: training=False is the fix
    monkeypatch.chdir(root / "src")  # from a subfolder: paths must still be the repository's
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return root


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def _golden(name: str, rendered: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("BNLINT_UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run BNLINT_UPDATE_GOLDEN=1 pytest {__file__}"
    assert rendered == golden.read_text(encoding="utf-8"), f"{name} changed; if intended, regenerate the golden files"


@pytest.mark.parametrize(("color", "name"), [("never", "full.txt"), ("always", "full.color.txt")])
def test_text_format_golden(repository, color, name):
    status, output = _check(".", "--color", color)
    assert status == 1
    _golden(name, output)
    assert ("\x1b[" in output) == (color == "always")


def test_text_format_shape(repository):
    _, output = _check(".", "--color", "never")
    lines = output.splitlines()
    assert lines[0].startswith("fine_tune.ipynb:cell 3:line 3:col 9: BN002 ")
    call = lines.index(next(line for line in lines if line.startswith("train.py:6:5: BN001 [*] ")))
    assert lines[call + 1 : call + 5] == [
        "  |",
        "6 | x = base(inputs)",
        "  |     ^^^^^^^^^^^^ BN001",
        "  |",
    ]
    verdict = lines[call + 6]
    assert verdict.startswith("  = verdict: ") and verdict.endswith("; runtime: keras2 (requirements.txt: tensorflow==2.15.0)")
    assert "   = related: train.py:9:1: the last compile() before it" in lines
    assert not any(line.startswith("train.py:7:") for line in lines)  # suppressed by its noqa
    assert lines[-2] == ("Found 3 findings (1 error, 2 warnings) in 2 files; assumed Keras 2: import tf_keras (cell 2, line 1), "
                         "and 1 other reason (--verbose lists each file's).")
    assert lines[-1] == "[*] 2 fixable with `bnlint check --fix`."


def test_colour_follows_no_color_and_force_color(repository, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in _check(".")[1]
    monkeypatch.setenv("NO_COLOR", "1")  # NO_COLOR wins over FORCE_COLOR
    assert "\x1b[" not in _check(".")[1]
    assert "\x1b[" in _check(".", "--color", "always")[1]  # and --color over both


def _sarif(*args: str) -> dict:
    return json.loads(_check(".", "--format", "sarif", *args)[1])


def _normalised(log: dict, root: Path) -> str:
    text = json.dumps(log, indent=2) + "\n"
    return text.replace(root.as_uri(), "file:///REPOSITORY")


def test_sarif_from_a_subdirectory_golden(repository):
    log = _sarif()
    run = log["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": repository.as_uri() + "/"}}
    for result in run["results"]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("src/")
    for rule in run["tool"]["driver"]["rules"]:
        rule.pop("help")  # the rule documentation has golden tests of its own
    _golden("subdir.sarif", _normalised(log, repository))


def _line_of(path: Path, text: str) -> int:
    """The 1-based line of the .ipynb file that holds `text` (found independently of bnlint)."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_notebook_findings_point_at_their_lines_in_the_ipynb_file(repository):
    notebook = repository / "src" / "fine_tune.ipynb"
    results = [r for r in _sarif()["runs"][0]["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".ipynb")]
    [sequential] = [r for r in results if r["ruleId"] == "BN002"]
    region = sequential["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": _line_of(notebook, "model = keras.Sequential([base")}
    assert sequential["message"]["text"].startswith("cell 3, line 3: ")
    github = _check(".", "--format", "github")[1]
    expected = f"::warning file=src/fine_tune.ipynb,line={_line_of(notebook, 'model = keras.Sequential([base')},"
    assert expected in github


def test_suppressed_and_baselined_findings_stay_in_sarif(repository, tmp_path):
    results = _sarif()["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["suppressions"]) for r in suppressed] == [
        ("BN001", 7, [{"kind": "inSource"}])]
    assert not any("baselineState" in r for r in results)  # no baseline, no baseline states

    baseline = tmp_path / "baseline.json"
    assert CliRunner().invoke(cli, ["check", ".", "--no-confirm", "--no-cache", "--write-baseline", str(baseline)]).exit_code == 0
    (repository / "src" / "new.py").write_text(SCRIPT.replace("y = base(inputs)  # noqa: BN001\n", ""))
    results = _sarif("--baseline", str(baseline))["runs"][0]["results"]
    states = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"], r.get("baselineState"),
               json.dumps(r.get("suppressions"))) for r in results}
    assert ("src/train.py", "BN001", "unchanged", json.dumps([{"kind": "external", "justification": "accepted in the bnlint baseline"}])) in states
    assert ("src/new.py", "BN001", "new", "null") in states
    # Text and JSON report only what is new.
    report = json.loads(_check(".", "--format", "json", "--baseline", str(baseline))[1])
    assert {f["path"] for f in report["findings"]} == {"new.py"}
