"""Shared fixtures: an empty repository to scan in, folder trees a thousand levels deep, the real
rules, and one report that every output format is tested on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bnlint.findings import Confirmation, FileRuntime, Finding, InputError, Report
from bnlint.ir import Runtime
from bnlint.rules import load_rules
from bnlint.vocabulary import VERDICT_SEVERITY


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path_factory, monkeypatch) -> Path:
    """bnlint keeps its cache key in the user's cache home ($XDG_CACHE_HOME/bnlint): the tests
    use one of their own (inherited by the processes they start), never the real one."""
    home = tmp_path_factory.mktemp("xdg-cache-home")  # one per test: a test may damage its secret
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def installed(monkeypatch):
    """What bnlint sees installed where it runs: nothing, unless a test says otherwise
    (`installed.set(keras="2.15.0")`), so that no result depends on the test environment's own
    TensorFlow and Keras. Processes a test starts read the real environment."""
    from bnlint import runtime

    class Installed:
        versions: dict[str, str] = {}

        def set(self, **versions: str) -> None:
            self.versions = {name.replace("_", "-"): version for name, version in versions.items()}
            runtime.forget_installed()

    fake = Installed()
    monkeypatch.setattr(runtime, "installed_versions", lambda: dict(fake.versions))
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    runtime.forget_installed()
    yield fake
    runtime.forget_installed()


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """An empty folder with a `.git` (the search for pins and the project root stops there), as
    the current directory."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def deep_folder():
    """`make(top, depth)`: a chain of `depth` folders named `d` below `top`, returning the deepest;
    each chain is removed again afterwards, bottom-up. shutil.rmtree recurses once per level, so
    a chain left behind would crash pytest's cleanup of old temporary folders in a later run."""
    made: list[tuple[Path, Path]] = []

    def make(top: Path, depth: int) -> Path:
        folder = top
        for _ in range(depth):  # one level at a time: pathlib's mkdir(parents=True) recurses too
            folder = folder / "d"
            os.mkdir(folder)
        made.append((top, folder))
        return folder

    yield make
    for top, folder in made:
        while folder != top:
            for entry in folder.iterdir():  # what a test put there; the level below is gone already
                entry.unlink()
            folder.rmdir()
            folder = folder.parent


@pytest.fixture(scope="session")
def rules():
    return load_rules()


def _finding(rules_by_id, rule_id: str, verdict: str, message: str, fix: str, runtime: Runtime, anchor: str, **where) -> Finding:
    rule = rules_by_id[rule_id]
    return Finding(
        rule=rule.id, name=rule.name, severity=VERDICT_SEVERITY[verdict], verdict=verdict, message=message, fix=fix,
        runtime=runtime,
        # What the engine fills in; fingerprints are computed from it.
        anchor=anchor, occurrence=0,
        **where,
    )


@pytest.fixture
def sample_report(rules) -> Report:
    """One finding of each shape (script, notebook, saved model, stale fit) plus an input error.

    Together they cover every confirmation status, every severity, the three runtimes and characters that
    the formats must escape (`%`, `:`, `,`, a newline-free but long message).
    """
    by_id = {rule.id: rule for rule in rules}
    keras3_script = Runtime("keras3", "import keras (line 1)")
    script = _finding(
        by_id, "BN001", "exposed",
        "Frozen `base` (ResNet50) contains BatchNormalization and is called without `training=False`: "
        "once it is unfrozen, fit() trains its BN layers on batch statistics.",
        "Keep the BatchNormalization layers of `base` frozen when you unfreeze it.",
        keras3_script, "x = base(inputs)",
        path="train.py", line=12, column=5, end_line=12, end_column=21,
    )
    script.confirmation = Confirmation(
        status="confirmed", mode="latent",
        metrics={"rel_diff": 0.0, "moving_mean_max_abs_delta": 0.0,
                 "latent_rel_diff": 0.3812, "latent_moving_mean_max_abs_delta": 0.4107},
        reason="reproduced keras.applications.ResNet50 (weights=None) on a 8x32x32x3 synthetic batch",
        runtime="keras 3.15.1 / tensorflow 2.21.0",
        remedies={"training-false": False, "freeze-batchnorm": True},
    )
    notebook = _finding(
        by_id, "BN002", "latent",
        "Frozen `backbone` (MobileNetV2) is composed in Sequential, where no call can pass `training=False`.",
        "Build the model with the functional API and call `backbone(inputs, training=False)`.",
        Runtime("keras2", "import tf_keras (cell 1, line 2)"), "model = tf_keras.Sequential([backbone, head])",
        path="notebooks/fine tune.ipynb", line=5, column=9, end_line=5, end_column=50, cell=3,
    )
    notebook.confirmation = Confirmation(status="unconfirmed", reason="TensorFlow is not installed")
    saved = _finding(
        by_id, "BN001", "note",
        "Frozen `backbone` (Functional) contains BatchNormalization and is called without `training=False`.",
        "Keep the BatchNormalization layers of `backbone` frozen when you unfreeze it.",
        Runtime("keras3", "metadata.json keras_version 3.15.1"), "encoder/backbone",
        path="models/classifier.keras", layer_path="encoder/backbone",
    )
    saved.confirmation = Confirmation(
        status="refuted",
        metrics={"rel_diff": 0.0, "moving_mean_max_abs_delta": 0.0,
                 "latent_rel_diff": 2.1e-07, "latent_moving_mean_max_abs_delta": 0.0},
        reason="its BN layers are kept frozen, so no mode changes their statistics",
        runtime="keras 3.15.1 / tensorflow 2.21.0",
    )
    stale_fit = _finding(
        by_id, "BN003", "active",
        "`fit()` runs after `base.trainable` was changed since the last `compile()`: 100% of the new "
        "weights stay untrained.",
        "Call `compile()` again after changing `trainable` and before `fit()`.",
        keras3_script, "model.fit(x, y, epochs=5)",
        path="train.py", line=40, column=1, end_line=40, end_column=26,
    )
    return Report(
        findings=[saved, notebook, script, stale_fit],
        errors=[InputError("broken.keras", "not a .keras archive (no config.json)")],
        files_scanned=4,
        runtimes=[FileRuntime(saved.path, "model", saved.runtime), FileRuntime(notebook.path, "notebook", notebook.runtime),
                  FileRuntime(script.path, "script", script.runtime)],
        version="0.1.0",  # pinned so that the golden files do not change with every release
    )
