"""The command line, through click's CliRunner and (for import hygiene) a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint import __version__
from bnlint.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Fine-tuning without keeping the BN layers frozen: BN004 at the unfreeze (line 9) on Keras 3,
# BN001 at the call (line 5) on tf.keras.
BUGGY = """\
import keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
model = keras.Model(inputs, x)
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
base.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""

CLEAN = """\
import keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs, training=False)
model = keras.Model(inputs, x)
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""


def run(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def project(repository):
    (repository / "buggy.py").write_text(BUGGY)
    (repository / "clean.py").write_text(CLEAN)
    return repository


def test_findings_exit_1_with_ruff_style_lines(project):
    result = run("check", "buggy.py", "--no-confirm", "--no-cache")
    assert result.exit_code == 1
    assert result.output.startswith("buggy.py:9:1: BN004 ")
    assert "Found 1 finding" in result.output


def test_clean_input_exits_0(project):
    result = run("check", "clean.py", "--no-confirm", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_default_path_is_the_current_directory(project):
    result = run("check", "--no-confirm", "--no-cache", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [(f["path"], f["rule"], f["line"]) for f in report["findings"]] == [("buggy.py", "BN004", 9)]


def test_json_contract_fields(project):
    report = json.loads(run("check", "buggy.py", "--no-confirm", "--no-cache", "--format", "json").output)
    assert report["version"] == __version__
    assert report["errors"] == []
    finding = report["findings"][0]
    assert {"rule", "name", "severity", "verdict", "message", "path", "line", "column", "cell", "layer_path",
            "related", "confirmation", "runtime"} <= set(finding)
    assert (finding["name"], finding["severity"], finding["verdict"]) == ("batchnorm-exposed-by-unfreezing", "error", "exposed")
    assert (finding["line"], finding["column"], finding["cell"], finding["layer_path"]) == (9, 1, None, None)
    assert [(r["line"], r["column"], r["cell"]) for r in finding["related"]] == [(5, 5, None), (11, 1, None)]
    assert "called here" in finding["related"][0]["message"] and "fit" in finding["related"][1]["message"]
    assert finding["confirmation"]["status"] == "not-run"
    assert finding["runtime"]["target"] == "keras3"


def test_runtime_follows_pins_and_configuration(project):
    (project / "requirements.txt").write_text("tensorflow==2.15.0\n")
    finding = json.loads(run("check", "buggy.py", "--no-confirm", "--no-cache", "--format", "json").output)["findings"][0]
    assert finding["runtime"] == {"target": "keras2", "source": "requirements.txt: tensorflow==2.15.0"}
    assert (finding["rule"], finding["line"], finding["verdict"]) == ("BN001", 5, "exposed")
    assert "Call it as `base(inputs, training=False)`" in finding["fix"]
    (project / ".bnlint.yaml").write_text("target-runtime: keras3\n")
    finding = json.loads(run("check", "buggy.py", "--no-confirm", "--no-cache", "--format", "json").output)["findings"][0]
    assert finding["runtime"]["target"] == "keras3"
    assert finding["rule"] == "BN004" and "`trainable = False` on every BatchNormalization layer" in finding["fix"]


def test_output_file(project):
    result = run("check", "buggy.py", "--no-confirm", "--no-cache", "--format", "json", "--output", "report.json")
    assert result.exit_code == 1
    assert json.loads((project / "report.json").read_text())["findings"][0]["rule"] == "BN004"


def test_select_ignore_and_exit_zero(project):
    assert run("check", "buggy.py", "--no-confirm", "--no-cache", "--ignore", "BN004").exit_code == 0
    assert run("check", "buggy.py", "--no-confirm", "--no-cache", "--select", "BN002,BN003").exit_code == 0
    assert run("check", "buggy.py", "--no-confirm", "--no-cache", "--exit-zero").exit_code == 0
    assert run("check", "buggy.py", "--no-confirm", "--no-cache", "--fail-on", "error").exit_code == 1


def test_unknown_selector_is_a_usage_error(project):
    result = run("check", "buggy.py", "--no-confirm", "--select", "BN999")
    assert result.exit_code == 2
    assert "unknown rule selector 'BN999'" in result.output


def test_inline_suppressions(project):
    (project / "noqa.py").write_text(BUGGY.replace("base.trainable = True", "base.trainable = True  # noqa: BN004"))
    (project / "ignore.py").write_text(BUGGY.replace("base.trainable = True", "base.trainable = True  # bnlint: ignore[BN004]"))
    (project / "other.py").write_text(BUGGY.replace("base.trainable = True", "base.trainable = True  # noqa: BN002"))
    assert run("check", "noqa.py", "ignore.py", "--no-confirm", "--no-cache").exit_code == 0
    assert run("check", "other.py", "--no-confirm", "--no-cache").exit_code == 1


def test_per_file_ignores_from_pyproject(project):
    (project / "pyproject.toml").write_text('[tool.bnlint]\nper-file-ignores = {"buggy.py" = ["BN004"]}\n')
    assert run("check", "buggy.py", "--no-confirm", "--no-cache").exit_code == 0


def test_bad_inputs_get_one_line_each_and_exit_2_while_the_rest_is_scanned(project):
    (project / "broken.py").write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(:\n")
    (project / "notebook.ipynb").write_text("{not json")
    (project / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    result = CliRunner().invoke(cli, ["check", ".", "missing.py", "--no-confirm", "--no-cache"], catch_exceptions=False)
    assert result.exit_code == 2
    stderr_lines = [line for line in result.stderr.splitlines() if line]
    assert [line.split(":")[0] for line in stderr_lines] == ["missing.py", "broken.py", "model.keras", "notebook.ipynb"]
    assert "Traceback" not in result.output
    assert "buggy.py:9:1: BN004" in result.stdout  # the good inputs were still analysed


def test_rules_and_rule_commands():
    listing = run("rules")
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines()] == ["BN001", "BN002", "BN003", "BN004", "BN005", "BN100"]
    doc = run("rule", "bn001")
    assert doc.exit_code == 0
    assert "frozen-batchnorm-called-without-training-false" in doc.output
    assert run("rule", "BN999").exit_code == 2


def test_user_rule_directory(project):
    rules = project / "my_rules"
    rules.mkdir()
    (rules / "ORG001.yaml").write_text(
        "id: ORG001\nname: any-frozen-model-call\nseverity: warning\ninputs: [script]\n"
        "summary: Every call of a frozen model.\nmessage: '`{callee.name}` is frozen'\nfix: none\n"
        "rationale: Our team reviews every frozen call.\n"
        "match: {fact: call, where: [{callee.frozen: true}]}\n"
    )
    result = run("check", "clean.py", "--no-confirm", "--no-cache", "--rules-dir", "my_rules")
    assert result.exit_code == 1
    assert "ORG001 `base` is frozen" in result.output


def test_examples_directory_has_findings_of_every_kind():
    report = json.loads(run("check", str(EXAMPLES), "--no-confirm", "--no-cache", "--format", "json").output)
    assert report["errors"] == []
    found = {(Path(f["path"]).name, f["rule"]) for f in report["findings"]}
    assert {("finetune_buggy.py", "BN003"), ("finetune_buggy.py", "BN004"), ("finetune_tf_keras.py", "BN001"),
            ("finetune_notebook.ipynb", "BN004"), ("finetune_frozen.keras", "BN001"), ("tf_keras_frozen.h5", "BN001")} == found
    assert not any(name == "finetune_correct.py" for name, _ in found)


@pytest.mark.parametrize(("args", "status"), [(["check", ".", "--no-confirm", "--no-cache"], 1),
                                              (["check", "clean.py", "--no-confirm", "--no-cache"], 0),
                                              (["check", "missing.py", "--no-confirm"], 2),
                                              (["--no-such-option"], 2), (["--version"], 0)])
def test_the_command_exits_at_once_with_its_status_and_all_of_its_output(project, args, status):
    # main() skips the interpreter's teardown: the status and every byte written must survive it.
    result = subprocess.run([sys.executable, "-m", "bnlint", *args, "--format", "json", "-o", "report.json"]
                            if args[0] == "check" else [sys.executable, "-m", "bnlint", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == status, result.stderr
    if args[0] == "check":
        report = json.loads((project / "report.json").read_text())
        assert len(report["findings"]) == (1 if status == 1 else 0)
    piped = subprocess.run(f"{sys.executable} -m bnlint {' '.join(args)} | head -c 1", shell=True,
                           capture_output=True, text=True, timeout=60)
    assert "Traceback" not in piped.stderr and "Exception ignored" not in piped.stderr


def test_static_path_never_imports_tensorflow(project):
    # Nor the editing library: which findings are fixable (`[*]`) is decided from `ast` alone.
    code = (
        "import sys; from bnlint.cli import cli; sys.argv = ['bnlint', 'check', '.', '--no-confirm', '--no-cache'];\n"
        "try:\n    cli(prog_name='bnlint')  # main() itself exits at once\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'libcst'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert "BN004 [*]" in result.stdout  # a fixable finding was found, and said so


def test_python_dash_m(project):
    result = subprocess.run([sys.executable, "-m", "bnlint", "check", "buggy.py", "--no-confirm", "--no-cache"],
                            cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "BN004" in result.stdout


def test_confirm_without_tensorflow_is_a_clear_usage_error_and_the_default_skips_it(project, monkeypatch):
    from bnlint.confirm import runner as confirm

    monkeypatch.setattr(confirm, "tensorflow_available", lambda: False)
    forced = run("check", "buggy.py", "--confirm", "--no-cache")
    assert forced.exit_code == 2
    assert "bnlint: error: --confirm needs TensorFlow: pip install tensorflow" in forced.output
    default = run("check", "buggy.py", "--no-cache", "--format", "json")
    assert default.exit_code == 1
    assert json.loads(default.stdout)["findings"][0]["confirmation"]["status"] == "not-run"
    # ... and says so, once, on stderr (stdout stays valid JSON).
    assert default.stderr.splitlines() == [
        "note: confirmation skipped: TensorFlow is not installed (pip install tensorflow; --no-confirm silences this)"]
    assert "note:" not in run("check", "buggy.py", "--no-cache", "--no-confirm").stderr
