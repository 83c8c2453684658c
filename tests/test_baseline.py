"""The baseline: accepted findings are dropped by fingerprint, new ones are still reported."""

from __future__ import annotations

import copy
import json

import pytest

from bnlint.baseline import BaselineError, apply_baseline, load_baseline, write_baseline
from bnlint.findings import Report


def test_a_baseline_of_a_report_drops_all_its_findings(sample_report, tmp_path):
    path = tmp_path / "bnlint-baseline.json"
    write_baseline(sample_report, path)
    again = copy.deepcopy(sample_report)
    assert apply_baseline(again, load_baseline(path)) == 4
    assert again.findings == []
    assert again.errors == sample_report.errors  # input errors are never baselined


def test_baseline_file_is_sorted_stable_and_minimal(sample_report, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_baseline(sample_report, first)
    shuffled = copy.deepcopy(sample_report)
    shuffled.findings.reverse()
    write_baseline(shuffled, second)
    assert first.read_text() == second.read_text()  # order of findings does not matter

    data = json.loads(first.read_text())
    assert data["version"] == 1
    assert [(e["path"], e["rule"]) for e in data["findings"]] == [
        ("models/classifier.keras", "BN001"), ("notebooks/fine tune.ipynb", "BN002"),
        ("train.py", "BN001"), ("train.py", "BN003"),
    ]
    assert all(set(e) == {"fingerprint", "rule", "path"} for e in data["findings"])  # no line numbers


def test_only_new_findings_remain(sample_report, tmp_path):
    path = tmp_path / "baseline.json"
    old = copy.deepcopy(sample_report)
    new_finding = old.findings.pop(2)  # the script's BN001 appears later
    write_baseline(old, path)
    assert apply_baseline(sample_report, load_baseline(path)) == 3
    assert sample_report.findings == [new_finding]


def test_baseline_counts_multiplicity(sample_report, tmp_path):
    # The same fingerprint accepted once drops one finding, not every finding that shares it.
    finding = sample_report.findings[0]
    twice = Report(findings=[copy.deepcopy(finding), copy.deepcopy(finding)])
    path = tmp_path / "baseline.json"
    write_baseline(Report(findings=[finding]), path)
    assert apply_baseline(twice, load_baseline(path)) == 1
    assert len(twice.findings) == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        ("{not json", "not valid JSON (line 1"),
        ('{"version": 99, "findings": []}', "not a bnlint baseline"),
        ('[1, 2]', "not a bnlint baseline"),
        ('{"version": 1, "findings": {}}', "`findings` must be a list"),
        ('{"version": 1, "findings": [{"rule": "BN001"}]}', "finding 1 has no `fingerprint`"),
        (b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_unusable_baselines_are_one_line_usage_errors(tmp_path, content, reason):
    path = tmp_path / "baseline.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError) as raised:
        load_baseline(path)
    message = str(raised.value)
    assert message.startswith(f"baseline {path}: ") and reason in message
    assert "\n" not in message


def test_a_baseline_matches_wherever_bnlint_runs_from_inside_the_repository(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bnlint.cli import cli

    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(
        "import tf_keras as keras\nbase = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n"
        "inputs = keras.Input((32, 32, 3))\nmodel = keras.Model(inputs, base(inputs))\n"
        "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y)\n"
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["--no-confirm", "--no-cache"]
    assert runner.invoke(cli, ["check", "src", "--write-baseline", "baseline.json", *args]).exit_code == 0
    assert runner.invoke(cli, ["check", "./src/train.py", "--baseline", "baseline.json", *args]).exit_code == 0
    monkeypatch.chdir(tmp_path / "src")
    assert runner.invoke(cli, ["check", "train.py", "--baseline", "../baseline.json", *args]).exit_code == 0
    # A new finding in the same file is still reported.
    with open("train.py", "a") as script:
        script.write("stacked = keras.Sequential([base])\nstacked.compile(optimizer='adam', loss='mse')\nstacked.fit(x, y)\n")
    result = runner.invoke(cli, ["check", "train.py", "--baseline", "../baseline.json", *args])
    assert result.exit_code == 1
    assert "train.py:8:11: BN002" in result.output
    assert "BN001" not in result.output


def test_a_run_the_baseline_quietened_says_how_many_it_accepted(repository):
    import json

    from click.testing import CliRunner

    from bnlint.cli import cli

    (repository / "train.py").write_text(
        "import tf_keras as keras\nbase = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n"
        "inputs = keras.Input((32, 32, 3))\nmodel = keras.Model(inputs, base(inputs))\n"
        "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y)\n"
    )
    runner = CliRunner()
    args = ["check", "train.py", "--no-confirm", "--no-cache"]
    assert runner.invoke(cli, [*args, "--write-baseline", "baseline.json"]).exit_code == 0
    result = runner.invoke(cli, [*args, "--baseline", "baseline.json"])
    assert result.exit_code == 0
    assert result.stdout == "All checks passed (1 file; assumed Keras 2: import tf_keras (line 1)).\n1 finding accepted by the baseline is not shown.\n"
    as_json = json.loads(runner.invoke(cli, [*args, "--baseline", "baseline.json", "--format", "json"]).stdout)
    assert (as_json["findings"], as_json["accepted_by_baseline"]) == ([], 1)
    without = json.loads(runner.invoke(cli, [*args, "--format", "json"]).stdout)
    assert (len(without["findings"]), without["accepted_by_baseline"]) == (1, 0)
    assert "baseline" not in runner.invoke(cli, args).stdout


# --- hostile baselines (issue 12) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
        ('{"version": 1, "findings": [' + "[]," * 3_000_000 + "[]]}", "too complex to read (up to 6,000,007 JSON values, limit 2,000,000)"),
    ],
)
def test_baselines_too_deep_or_too_complex_are_one_line(tmp_path, content, reason):
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(BaselineError) as raised:
        load_baseline(path)
    assert str(raised.value) == f"baseline {path}: {reason}"


def test_a_baseline_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "baseline.json")
    with pytest.raises(BaselineError, match=r": a named pipe \(FIFO\), not a regular file$"):
        load_baseline(tmp_path / "baseline.json")
    with pytest.raises(BaselineError, match=r": cannot write: not a regular file$"):
        write_baseline(Report(), tmp_path / "baseline.json")


def test_writing_into_a_missing_folder_is_one_line(sample_report, tmp_path):
    with pytest.raises(BaselineError) as raised:
        write_baseline(sample_report, tmp_path / "missing" / "baseline.json")
    assert str(raised.value) == f"baseline {tmp_path / 'missing' / 'baseline.json'}: cannot write: folder {tmp_path / 'missing'} does not exist"


def test_writing_replaces_the_file_whole_and_keeps_it_readable(sample_report, tmp_path):
    import os
    import stat

    path = tmp_path / "baseline.json"
    write_baseline(Report(), path)
    write_baseline(sample_report, path)  # an older baseline is replaced
    assert len(json.loads(path.read_text())["findings"]) == 4
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o444  # not mkstemp's 0600 for the owner alone
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]  # no temporary file left behind


def test_a_lone_surrogate_in_a_layer_name_round_trips(tmp_path):
    from bnlint import api

    config = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "Functional", "name": "back\ud800bone", "config": {"name": "back\ud800bone", "trainable": False, "layers": [
            {"class_name": "BatchNormalization", "name": "bn", "config": {"name": "bn"}, "inbound_nodes": [[["x", 0, 0, {}]]]}]},
         "inbound_nodes": [[["x", 0, 0, {}]]]}]}}
    findings = api.lint_model_config(config, "2.15.0", path="m.h5")
    assert [f.layer_path for f in findings] == ["back\\ud800bone"]  # escaped: text every output can carry
    path = tmp_path / "baseline.json"
    write_baseline(Report(findings=findings), path)
    again = Report(findings=api.lint_model_config(config, "2.15.0", path="m.h5"))
    assert apply_baseline(again, load_baseline(path)) == 1


def test_write_baseline_never_replaces_a_file_that_is_not_a_baseline(sample_report, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import keras\n")
    with pytest.raises(BaselineError, match=r"the file exists and is not a bnlint baseline \(not replaced\)$"):
        write_baseline(sample_report, script)
    assert script.read_text() == "import keras\n"
    empty = tmp_path / "empty.json"
    empty.write_text("")
    write_baseline(sample_report, empty)  # an empty file (touch baseline.json) is fine
    write_baseline(Report(), empty)  # and so is a baseline
    assert load_baseline(empty).fingerprints == {}
