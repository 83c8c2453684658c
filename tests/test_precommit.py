"""The pre-commit hooks. The slow tests run them for real: pre-commit installs bnlint into its own
environment (without TensorFlow, dependencies from PyPI) from a committed snapshot of this checkout,
and `git commit` in a small repository runs the hook exactly as the README's snippet configures it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
# The pre-commit installed next to this Python (the venv's), else the one on PATH.
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit") or "pre-commit"
# What `pip install .` needs to build bnlint, plus the hook manifest itself.
SHIPPED = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "action.yml", "bnlint", "rules")
MODELS = ROOT / "tests" / "fixtures" / "models"

BUGGY = """\
import tf_keras as keras

base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""
CLEAN = BUGGY.replace("x = base(inputs)", "x = base(inputs, training=False)")
# A model that was never fetched from Git LFS: a text file with a model's name. It is not a
# model, so the hook must not hand it to bnlint (which would fail on it with exit status 2).
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 94371840\n"

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def _commit_all(path: Path) -> Path:
    env = os.environ | GIT_ENV
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


def _git_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return _commit_all(path)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """A committed snapshot of this checkout: pre-commit reads a repository's commits, and the
    working tree under test may not be committed yet."""
    snapshot = tmp_path_factory.mktemp("bnlint-repo")
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, snapshot / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, snapshot / name)
    return _commit_all(snapshot)


def _readme_hook_config() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In pre-commit and CI", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def _readme_rev() -> str:
    return yaml.safe_load(_readme_hook_config())["repos"][0]["rev"]


@pytest.fixture(scope="module")
def without_tensorflow(tmp_path_factory) -> Path:
    """Modules that shadow TensorFlow and Keras and fail to import, as if they were not installed.

    The hook environment has none of them anyway (bnlint does not depend on them); the shadows
    also make the test mean something on a machine where they would leak in."""
    shadows = tmp_path_factory.mktemp("without-tensorflow")
    for module in ("tensorflow", "keras", "tf_keras"):
        (shadows / f"{module}.py").write_text(f"raise ImportError('{module} is not installed (test shadow)')\n")
    return shadows


def _try_repo(hook_repo: Path, project: Path, shadows: Path) -> subprocess.CompletedProcess:
    # try-repo builds the hook environment in a store of its own; PRE_COMMIT_HOME keeps its log out of ~.
    home = project.parent / "pre-commit-home"
    env = os.environ | {"PRE_COMMIT_HOME": str(home), "PYTHONPATH": str(shadows)}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(hook_repo), "bnlint", "--all-files", "--color", "never"],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )


def test_manifest_is_valid_and_only_the_confirm_hook_needs_tensorflow():
    result = subprocess.run([str(PRE_COMMIT), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    static, confirm = hooks["bnlint"], hooks["bnlint-confirm"]
    assert static["entry"] == "bnlint check --no-confirm --force-exclude" and "additional_dependencies" not in static
    assert "stages" not in static  # every commit
    # `tensorflow`, not `tensorflow-cpu`: the one with wheels for macOS too.
    assert confirm["entry"] == "bnlint check --confirm --force-exclude" and confirm["additional_dependencies"] == ["tensorflow"]
    assert confirm["stages"] == ["manual"]


@pytest.mark.slow
def test_hook_fails_on_a_buggy_script_and_prints_the_finding(hook_repo, without_tensorflow, tmp_path):
    project = _git_repo(tmp_path / "project", {"train.py": BUGGY})
    result = _try_repo(hook_repo, project, without_tensorflow)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Failed" in output and "train.py:6:5: BN001" in output, output


@pytest.mark.slow
def test_hook_passes_a_clean_project(hook_repo, without_tensorflow, tmp_path):
    project = _git_repo(tmp_path / "project", {"train.py": CLEAN, "weights.keras": LFS_POINTER})
    result = _try_repo(hook_repo, project, without_tensorflow)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "bnlint" in output and "Passed" in output, output


def test_the_readme_pins_the_default_branch_for_autoupdate_to_freeze():
    # No release tag exists yet (tests/test_install_instructions.py checks every ref named).
    assert _readme_rev() == "main"
    assert "rev: main" in (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")


def test_the_hooks_select_savedmodel_files_and_force_the_excludes():
    import re

    for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()):
        files = re.compile(hook["files"])
        for name in ("train.py", "nb.ipynb", "m.keras", "w.h5", "export/saved_model.pb", "saved_model.pb", "sm/keras_metadata.pb"):
            assert files.search(name), (hook["id"], name)
        for name in ("fingerprint.pb", "notes.txt", "export/variables/variables.index", "train.pyc"):
            assert not files.search(name), (hook["id"], name)
        assert "--force-exclude" in hook["entry"].split()


# --- git commit, with the README's hook configuration -----------------------------------------


def _git(project: Path, *args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd or project, env=env or (os.environ | GIT_ENV),
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def committing_project(hook_repo, tmp_path_factory):
    """A repository with the README's .pre-commit-config.yaml (its repo pointed at the snapshot)
    and the hooks installed; the first commit holds everything that must pass."""
    project = tmp_path_factory.mktemp("committing") / "project"
    (project / "src" / "legacy").mkdir(parents=True)
    (project / "experiments").mkdir()
    (project / "weights").mkdir()
    # As `pre-commit autoupdate --bleeding-edge --freeze` leaves it: the commit's full SHA.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, capture_output=True, text=True, check=True).stdout.strip()
    config = _readme_hook_config().replace("https://github.com/bnlint/bnlint", str(hook_repo))
    config = config.replace(f"rev: {_readme_rev()}", f"rev: {commit}")
    (project / ".pre-commit-config.yaml").write_text(config)
    (project / "pyproject.toml").write_text('[tool.bnlint]\nextend-exclude = ["experiments", "src/legacy"]\n')
    (project / "clean.py").write_text(CLEAN)
    (project / "src" / "model.py").write_text(CLEAN)
    (project / "experiments" / "old.py").write_text(BUGGY)  # excluded by name
    (project / "src" / "legacy" / "old.py").write_text(BUGGY)  # excluded relative to the config
    shutil.copy(MODELS / "k3_weights_only.weights.h5", project / "weights" / "model.weights.h5")
    shutil.copytree(MODELS / "tf_module_savedmodel", project / "export")  # what model.export() writes
    home = project.parent / "pre-commit-home"
    env = os.environ | GIT_ENV | {"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("VIRTUAL_ENV", None)
    for args in (["init", "-q"], ["config", "commit.gpgsign", "false"]):
        assert _git(project, *args, env=env).returncode == 0
    installed = subprocess.run([str(PRE_COMMIT), "install"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    _git(project, "add", "-A", env=env)
    first = _git(project, "commit", "-m", "everything that must pass", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    return project, env


def _commit(project: Path, env: dict, files: dict[str, object], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Add `files` (text, or a fixture folder to copy), commit from `cwd`, and undo whatever happened."""
    for name, content in files.items():
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copytree(content, target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    _git(project, "add", "-A", env=env)
    result = _git(project, "commit", "-m", "change", cwd=cwd, env=env)
    if result.returncode == 0:
        _git(project, "reset", "-q", "--hard", "HEAD~1", env=env)
    else:
        _git(project, "reset", "-q", "--hard", "HEAD", env=env)
        _git(project, "clean", "-qfd", env=env)
    return result


@pytest.mark.slow
def test_commit_passes_clean_code_checkpoints_exports_and_excluded_files(committing_project):
    project, env = committing_project
    log = _git(project, "log", "--oneline", env=env).stdout
    assert "everything that must pass" in log  # the fixture's commit went through the hook
    result = _commit(project, env, {"src/legacy/newer.py": BUGGY, "experiments/more.py": BUGGY, "src/ok.py": CLEAN},
                     cwd=project / "src")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("where", ["root", "subfolder"])
def test_commit_is_blocked_by_exactly_the_buggy_files(committing_project, where):
    project, env = committing_project
    cwd = project if where == "root" else project / "src"
    result = _commit(project, env, {
        "train.py": BUGGY,
        "src/helper.py": CLEAN,
        "saved": MODELS / "tfk_savedmodel",  # a buggy tf_keras SavedModel folder
        "weights/other.weights.h5": (MODELS / "k3_weights_only.weights.h5").read_bytes(),
    }, cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "train.py:6:5: BN001" in output
    assert "saved::backbone: BN001" in output
    flagged = {line.split(":")[0] for line in output.splitlines() if ": BN0" in line and not line.startswith(" ")}
    assert flagged == {"train.py", "saved"}, output
    assert "could not be analysed" not in output  # the checkpoint is skipped, not an error
