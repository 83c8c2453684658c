"""Which runtime a file targets: recorded Keras versions, the project's pins, configuration."""

from __future__ import annotations

import pytest

from bnlint.runtime import from_keras_version, from_pins, runtime_from_requirements


@pytest.mark.parametrize(
    ("version", "target"),
    [("3.15.1", "keras3"), ("3.0.0", "keras3"), ("2.15.0", "keras2"), ("2.4.0", "keras2"), ("2.3.1", "legacy"), ("2.2.4-tf", "legacy")],
)
def test_recorded_keras_version(version, target):
    assert from_keras_version(version, "metadata.json keras_version").target == target


@pytest.mark.parametrize(
    ("pins", "target"),
    [
        (["tensorflow==2.12.*"], "keras2"),
        (["tensorflow>=2.16"], "keras3"),
        (["tensorflow-cpu~=2.15.0"], "keras2"),
        (["tensorflow<2"], "legacy"),
        (["keras==2.2.4", "tensorflow==1.15"], "legacy"),
        (["keras<3", "tensorflow>=2.16"], "keras2"),  # an explicit keras pin decides
        (["keras>=3.0"], "keras3"),
    ],
)
def test_pins_decide_the_runtime(pins, target):
    assert runtime_from_requirements(pins, "requirements.txt").target == target


def test_unpinned_or_unrelated_requirements_say_nothing():
    assert runtime_from_requirements(["numpy", "tensorflow", "-r other.txt", "# comment"], "r.txt") is None


def _fresh(tmp_path):
    (tmp_path / ".git").mkdir()
    from_pins.cache_clear()
    return tmp_path


def test_pins_are_found_up_to_the_repository_root(tmp_path):
    root = _fresh(tmp_path)
    (root / "requirements.txt").write_text("tensorflow==2.13.1\n")
    (root / "src" / "train").mkdir(parents=True)
    runtime = from_pins(root / "src" / "train")
    assert runtime.target == "keras2"
    assert "requirements.txt" in runtime.source


def test_pyproject_setup_cfg_and_environment_yml(tmp_path):
    root = _fresh(tmp_path)
    (root / "a").mkdir()
    (root / "a" / "pyproject.toml").write_text('[project]\nname="x"\ndependencies=["keras>=3.2"]\n')
    (root / "b").mkdir()
    (root / "b" / "setup.cfg").write_text("[options]\ninstall_requires =\n    tensorflow==2.10.0\n")
    (root / "c").mkdir()
    (root / "c" / "environment.yml").write_text("dependencies:\n  - python=3.8\n  - tensorflow=1.15\n")
    (root / "d").mkdir()
    (root / "d" / "pyproject.toml").write_text('[tool.poetry.dependencies]\ntensorflow = "~2.11"\n')
    (root / "e").mkdir()
    (root / "e" / "pyproject.toml").write_text('[tool.poetry.dependencies]\ntensorflow = "^2.11"\n')
    assert from_pins(root / "a").target == "keras3"
    assert from_pins(root / "b").target == "keras2"
    assert from_pins(root / "c").target == "legacy"
    assert from_pins(root / "d").target == "keras2"
    assert from_pins(root / "e").target == "keras3"  # ^2.11 admits 2.16+, which ships Keras 3


def test_pins_above_the_repository_do_not_count(tmp_path):
    (tmp_path / "requirements.txt").write_text("tensorflow==2.12\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    from_pins.cache_clear()
    assert from_pins(repo) is None
