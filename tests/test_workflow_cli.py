"""The command line in a user's workflow: excludes, gitignore, skipped inputs, stdin, --add-noqa,
--statistics/--quiet, rule status, and hostile paths (inputs never overwritten, FIFOs, loops,
deep trees, odd file names, control characters), each one clear line and never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint.cli import cli

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"

# A latent BN001 at 5:5 on tf.keras: frozen, called without training=False, trained.
BUGGY = """\
import tf_keras as keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
model = keras.Model(inputs, x)
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", *args], input=input, catch_exceptions=False)


@pytest.fixture
def project(repository):
    (repository / "buggy.py").write_text(BUGGY)
    return repository


def _json(result) -> dict:
    return json.loads(result.stdout)


def _paths(result) -> list[str]:
    return sorted(f["path"] for f in _json(result)["findings"])


# --- excludes, gitignore, force-exclude --------------------------------------------------------


def test_excludes_are_relative_to_the_configuration_from_any_folder(project, monkeypatch):
    (project / "pyproject.toml").write_text('[tool.bnlint]\nextend-exclude = ["src/sub", "*_old.py"]\n')
    for name in ("src/sub/a.py", "src/b.py", "src/c_old.py", "other/sub/d.py"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(BUGGY)
    assert _paths(run(".", "--format", "json")) == ["buggy.py", "other/sub/d.py", "src/b.py"]
    monkeypatch.chdir(project / "src")
    assert _paths(run(".", "--format", "json")) == ["b.py"]
    # Named explicitly, a file is checked ... unless --force-exclude (what the hooks pass).
    assert _paths(run("sub/a.py", "c_old.py", "--format", "json")) == ["c_old.py", "sub/a.py"]
    assert run("sub/a.py", "c_old.py", "--force-exclude").exit_code == 0


def test_gitignore_is_honoured_by_default(project):
    (project / ".gitignore").write_text("generated/\n*.tmp.py\n!keep.tmp.py\n")
    (project / "generated").mkdir()
    (project / "generated" / "a.py").write_text(BUGGY)
    (project / "pkg").mkdir()
    (project / "pkg" / ".gitignore").write_text("local.py\n")
    for name in ("x.tmp.py", "keep.tmp.py", "pkg/local.py", "pkg/kept.py"):
        (project / name).write_text(BUGGY)
    assert _paths(run(".", "--format", "json")) == ["buggy.py", "keep.tmp.py", "pkg/kept.py"]
    assert len(_paths(run(".", "--format", "json", "--no-respect-gitignore"))) == 6


# --- inputs that are not models, and --exit-zero ------------------------------------------------


def test_checkpoints_and_exports_are_skipped_with_a_note(project):
    shutil.copy(MODELS / "k3_weights_only.weights.h5", project / "ckpt.weights.h5")
    shutil.copytree(MODELS / "tf_module_savedmodel", project / "export")
    (project / "buggy.py").unlink()
    result = run(".")
    assert result.exit_code == 0, result.output
    assert "Skipped 2 inputs that hold nothing to check (weights, exports, Git LFS pointers; --verbose lists them)." in result.stdout
    verbose = run(".", "--verbose")
    assert "ckpt.weights.h5: skipped: a weights checkpoint (save_weights()), no model architecture to check" in verbose.stderr
    assert "export: skipped: a SavedModel without Keras metadata" in verbose.stderr
    report = _json(run(".", "--format", "json"))
    assert [s["path"] for s in report["skipped"]] == ["ckpt.weights.h5", "export"] and report["errors"] == []


def test_a_broken_model_is_still_an_error_and_exit_zero_means_zero(project):
    (project / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    (project / "old.py").write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(x)\nprint 'python 2'\n")
    assert run(".").exit_code == 2
    result = run(".", "--exit-zero")
    assert result.exit_code == 0
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["model.keras", "old.py"]


# --- standard input ------------------------------------------------------------------------------


def test_stdin_is_checked_as_the_named_file(project):
    result = run("-", "--stdin-filename", "src/train.py", input=BUGGY)
    assert result.exit_code == 1
    assert result.stdout.startswith("src/train.py:5:5: BN001 ")
    (project / "pyproject.toml").write_text('[tool.bnlint]\nper-file-ignores = { "src/*" = ["BN001"] }\nextend-exclude = ["vendor"]\n')
    assert run("-", "--stdin-filename", "src/train.py", input=BUGGY).exit_code == 0
    excluded = run("-", "--stdin-filename", "vendor/x.py", "--force-exclude", input=BUGGY)
    assert excluded.exit_code == 0 and "BN001" not in excluded.stdout
    assert run("-", input=BUGGY).stdout.startswith("-:5:5: BN001")
    # A syntax error where a finding could be is an input that cannot be analysed; as with a path,
    # a file that cannot hold one (it never freezes or trains) is not even parsed.
    assert run("-", "--stdin-filename", "x.py", input=BUGGY + "def f(:\n").exit_code == 2
    assert run("-", "--stdin-filename", "x.py", input="import keras\ndef f(:\n").exit_code == 0


def test_stdin_notebook(project):
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": BUGGY.splitlines(keepends=True)}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(notebook, indent=1)
    result = run("-", "--stdin-filename", "nb.ipynb", "--format", "github", input=text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "x = base(inputs)" in row)
    assert f"::warning file=nb.ipynb,line={line}," in result.stdout


# --- --add-noqa, suppressions -------------------------------------------------------------------


def test_add_noqa_then_the_check_passes(project):
    (project / "multi.py").write_text(BUGGY.replace("x = base(inputs)", 'x = base(inputs)  # noqa: E501\ny = base(\n    inputs,\n)')
                                      .replace("keras.Model(inputs, x)", "keras.Model(inputs, [x, y])"))
    result = run(".", "--add-noqa")
    assert result.exit_code == 0, result.output
    assert "Added 3 noqa directives." in result.stderr
    assert (project / "buggy.py").read_text().splitlines()[4] == "x = base(inputs)  # noqa: BN001"
    assert (project / "multi.py").read_text().splitlines()[4:6] == ["x = base(inputs)  # noqa: E501, BN001", "y = base(  # noqa: BN001"]
    assert run(".").exit_code == 0
    assert run(".", "--preview").exit_code == 0  # and no directive is unused


def test_file_level_and_unused_suppressions(project):
    (project / "buggy.py").write_text("# bnlint: noqa: BN001\n" + BUGGY)
    assert run("buggy.py").exit_code == 0
    (project / "stale.py").write_text(BUGGY.replace("x = base(inputs)", "x = base(inputs, training=False)  # noqa: BN001"))
    assert run("stale.py").exit_code == 0  # BN100 is a preview rule
    preview = run("stale.py", "--preview")
    assert preview.exit_code == 0  # an info finding never fails the build by default (--fail-on warning)
    assert "stale.py:5:35: BN100 [*] Unused suppression `# noqa: BN001`: no BN001 finding on this line." in preview.stdout
    # Like ruff's RUF100, --fix removes it.
    assert run("stale.py", "--preview", "--fix").exit_code == 0
    assert (project / "stale.py").read_text() == BUGGY.replace("x = base(inputs)", "x = base(inputs, training=False)")
    assert "BN100" not in run("stale.py", "--preview").stdout


def test_preview_and_deprecated_selection(project, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ORG001.yaml").write_text(
        "id: ORG001\nname: old-check\nstatus: deprecated\nseverity: info\ninputs: [script]\n"
        "summary: Old.\nmessage: old\nfix: none\nrationale: Old.\n"
        "match: {fact: call, where: [{callee.frozen: true}]}\n")
    assert "ORG001" not in run("buggy.py", "--rules-dir", str(rules), "--select", "ORG").stdout  # not by prefix
    exact = run("buggy.py", "--rules-dir", str(rules), "--select", "ORG001")
    assert "ORG001 old" in exact.stdout
    assert "note: rule ORG001 (old-check) is deprecated" in exact.stderr
    preview = run("buggy.py", "--select", "BN100")
    assert "note: selection BN100 has no effect because preview is not enabled (--preview)" in preview.stderr


def test_statistics_and_quiet(project):
    (project / "two.py").write_text(BUGGY)
    assert run(".", "--statistics").stdout == "2\tBN001\t[*] frozen-batchnorm-called-without-training-false\n"
    quiet = run(".", "--quiet")
    assert quiet.exit_code == 1 and "Found" not in quiet.stdout and quiet.stdout.startswith("buggy.py:5:5: BN001")


def test_help_summaries_are_not_cut_off():
    listing = CliRunner().invoke(cli, ["--help"]).output.split("Commands:", 1)[1]
    assert "..." not in listing
    assert "Check scripts, notebooks and saved models (default: the current directory)." in " ".join(listing.split())


# --- writes that must not happen -----------------------------------------------------------------


@pytest.mark.parametrize("option", ["--output", "--write-baseline"])
def test_reports_never_overwrite_an_input(project, option):
    before = (project / "buggy.py").read_bytes()
    (project / "link.py").symlink_to("buggy.py")
    os.link(project / "buggy.py", project / "hard.txt")
    for target in ("buggy.py", "./buggy.py", "link.py", "hard.txt"):
        result = run("buggy.py", option, target)
        assert result.exit_code == 2
        assert "refusing to overwrite" in result.stderr and len(result.stderr.splitlines()) == 1
    assert (project / "buggy.py").read_bytes() == before


def test_unwritable_outputs_are_one_line(project):
    missing = run("buggy.py", "-o", "no/such/folder/report.txt")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "bnlint: error: --output no/such/folder/report.txt: cannot write: No such file or directory"
    if os.path.exists("/dev/full"):
        full = run("buggy.py", "-o", "/dev/full")
        assert full.exit_code == 2 and full.stderr.strip().endswith("cannot write: No space left on device")


@pytest.mark.parametrize("cache_dir", ["/tmp/elsewhere-bnlint-cache", "../outside", "."])
def test_a_config_in_the_tree_cannot_direct_the_cache_outside_the_project(project, tmp_path, cache_dir):
    (project / "sub").mkdir()
    (project / "sub" / "x.py").write_text(BUGGY)
    (project / "sub" / ".bnlint.yaml").write_text(f"cache-dir: {cache_dir!r}\n")
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "sub"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"cache-dir {cache_dir!r} ignored: it must be a folder inside" in result.stderr
    assert not (project / "sub" / ".gitignore").exists() and not (project / "outside").exists()
    assert not Path("/tmp/elsewhere-bnlint-cache").exists()


# --- configuration that is not what it should be ---------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("[tool.bnlint]\njobs = inf\n", "`jobs` must be a positive whole number"),
    ("[tool.bnlint]\njobs = nan\n", "`jobs` must be a positive whole number"),
    ("[tool.bnlint]\nconfirm-timeout = nan\n", "`confirm-timeout` must be a positive number"),
    ("[tool.bnlint]\nselect = 1\n", "`select` must be a list of strings"),
    ("[tool.bnlint]\nper-file-ignores = { \"a\" = 3 }\n", "must be a list of strings"),
    ("[tool.bnlint]\nx = " + "[" * 3000 + "]" * 3000 + "\n", ""),
])
def test_configuration_errors_name_the_file(project, text, message):
    (project / "pyproject.toml").write_text(text)
    result = run("buggy.py")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"bnlint: error: {project / 'pyproject.toml'}: ") and message in line


def test_tool_that_is_not_a_table_above_the_scanned_path(tmp_path, monkeypatch):
    # As ruff and pip: a pyproject.toml whose `tool` is not a table is broken, wherever it is found.
    (tmp_path / "pyproject.toml").write_text("tool = 1\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.py").write_text(BUGGY)
    monkeypatch.chdir(tmp_path / "p")
    result = run("x.py")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"bnlint: error: {tmp_path / 'pyproject.toml'}: `tool` must be a table"


def test_confirm_timeout_must_be_finite(project):
    for value in ("nan", "inf", "0.5"):
        assert run("buggy.py", "--confirm-timeout", value).exit_code == 2


# --- odd trees and names -------------------------------------------------------------------------------


def test_fifos_devices_and_symlink_loops_never_hang(project):
    os.mkfifo(project / "pipe.py")
    (project / "zero.py").symlink_to("/dev/zero")
    (project / "loop.py").symlink_to("loop.py")
    (project / "dirloop").symlink_to(".")
    result = run(".", "--verbose")
    assert result.exit_code == 1  # buggy.py's finding; nothing else fails the run
    lines = result.stderr.splitlines()
    skipped = sorted(line.split(":")[0] for line in lines if ": judged as " not in line)
    assert skipped == ["loop.py", "pipe.py", "zero.py"]
    assert any(line.startswith("buggy.py: judged as ") for line in lines)  # --verbose: each file's runtime
    named = run("pipe.py", "loop.py")
    assert named.exit_code == 2
    assert sorted(named.stderr.splitlines()) == ["loop.py: cannot read: Too many levels of symbolic links",
                                                "pipe.py: a named pipe (FIFO), not a regular file"]


def test_a_fifo_inside_a_savedmodel_is_one_line(project):
    shutil.copytree(MODELS / "tfk_savedmodel", project / "sm")
    (project / "sm" / "keras_metadata.pb").unlink()
    os.mkfifo(project / "sm" / "keras_metadata.pb")
    result = run("sm")
    assert result.exit_code == 2
    assert result.stderr.strip() == "sm: keras_metadata.pb: a named pipe (FIFO), not a regular file"


def test_a_tree_a_thousand_folders_deep(project, deep_folder):
    (deep_folder(project, 1000) / "deep.py").write_text(BUGGY)
    report = _json(run(".", "--format", "json"))
    assert len(report["findings"]) == 2 and report["errors"] == []


def test_odd_file_names_are_escaped_everywhere(project):
    weird = os.fsdecode(b"bad\xff name\n.py")
    (project / weird).write_text(BUGGY)
    (project / "broken\x1b[2J.py").write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(:\n")
    result = run(".")
    assert "bad\\xff name\\n.py:5:5: BN001" in result.stdout
    assert "broken\\x1b[2J.py: " in result.stderr and "\x1b" not in result.stderr + result.stdout
    sarif = json.loads(run(".", "--format", "sarif").stdout)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert "bad%FF%20name%0A.py" in uris
    github = run(".", "--format", "github").stdout
    assert "\x1b" not in github and github.count("\n") == 3


def test_control_characters_in_layer_names_never_reach_the_terminal(project):
    with zipfile.ZipFile(MODELS / "k3_frozen_call.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = members["config.json"].decode().replace('"backbone"', json.dumps("back\x1b]0;pwned\x07bone"))
    members["config.json"] = config.encode()
    with zipfile.ZipFile(project / "evil.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    for output_format in ("text", "github", "sarif"):
        output = run("evil.keras", "--format", output_format).stdout
        assert "\x1b" not in output and "\x07" not in output, output_format
        assert "back\\x1b]0;pwned\\x07bone" in output.replace("\\\\", "\\"), output_format
