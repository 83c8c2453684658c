"""The pre-commit hooks. The slow tests run them for real: `pre-commit try-repo` installs bnlint into
its own environment (without TensorFlow, from PyPI) and runs it on a small git repository.
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
SHIPPED = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "bnlint", "rules")

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
    """A committed snapshot of this checkout: try-repo reads a repository's commits, and the
    working tree under test may not be committed yet."""
    snapshot = tmp_path_factory.mktemp("bnlint-repo")
    for name in SHIPPED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, snapshot / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, snapshot / name)
    return _commit_all(snapshot)


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
    assert static["entry"] == "bnlint check --no-confirm" and "additional_dependencies" not in static
    assert "stages" not in static  # every commit
    assert confirm["entry"] == "bnlint check --confirm" and confirm["additional_dependencies"] == ["tensorflow-cpu"]
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
