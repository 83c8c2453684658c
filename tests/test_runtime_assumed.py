"""Which runtime a run assumes where the project does not say, and how every run says it.

Where neither the code nor the project's pins say which Keras a file targets, the Keras installed
where bnlint runs decides (read from distribution metadata, never imported), else the latest,
Keras 3. Every run names what it assumed: the text summary (clean runs included), `--verbose`
per file, JSON per file (`files`). The `installed` fixture (conftest.py) sets what bnlint sees
installed; by default nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bnlint import runtime
from bnlint.cli import cli
from bnlint.ir import Runtime
from bnlint.runtime import DEFAULT, LATEST, Keras3RuledOut, from_installed, resolve

# tf.keras, frozen and trained, never unfrozen: latent on Keras 2 (BN001), nothing to fix on Keras 3.
FROZEN = """\
import tensorflow as tf
base = tf.keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
inputs = tf.keras.Input((224, 224, 3))
model = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(base(inputs)))
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""


def check(*args: str):
    return CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--color", "never", *args])


# --- what is installed ------------------------------------------------------------------------


@pytest.mark.parametrize(("versions", "expected"), [
    ({}, None),
    ({"keras": "3.15.1", "tensorflow": "2.21.0", "tf_keras": "2.21.0"}, ("keras3", "keras 3.15.1 installed")),
    ({"keras": "2.15.0", "tensorflow": "2.15.1"}, ("keras2", "keras 2.15.0 installed")),
    ({"tensorflow": "2.4.1"}, ("keras2", "tensorflow 2.4.1 installed")),  # tf.keras bundled, no keras package
    ({"tensorflow-gpu": "2.1.0"}, ("legacy", "tensorflow-gpu 2.1.0 installed")),
    ({"keras": "2.3.1", "tensorflow": "1.15.0"}, ("legacy", "keras 2.3.1 installed")),
    ({"keras": "3.4.1"}, ("keras3", "keras 3.4.1 installed")),  # Keras 3 on JAX, no TensorFlow
])
def test_the_installed_keras_decides_as_a_pin_of_that_version_would(installed, versions, expected):
    installed.set(**versions)
    found = from_installed()
    assert ((found.target, found.source) if found else None) == expected


def test_tf_keras_with_tf_use_legacy_keras_is_keras2(installed, monkeypatch):
    installed.set(keras="3.15.1", tensorflow="2.21.0", tf_keras="2.21.0")
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert from_installed() == Runtime("keras2", "tf-keras 2.21.0 installed, TF_USE_LEGACY_KERAS=1")


def test_code_that_rules_keras3_out_reads_the_installed_runtime_below_keras3(installed, tmp_path):
    (tmp_path / ".git").mkdir()
    ruled_out = Keras3RuledOut("keras2", "fit_generator() (line 9)")
    installed.set(tensorflow="2.1.0")
    assert resolve(ruled_out, tmp_path) == Runtime("legacy", "fit_generator() (line 9), tensorflow 2.1.0 installed")
    installed.set(keras="3.15.1", tensorflow="2.21.0")  # nothing installed below Keras 3: the code's own default
    assert resolve(ruled_out, tmp_path) == Runtime("keras2", "fit_generator() (line 9)")


def test_the_order_code_pins_outputs_installed_latest(installed, tmp_path):
    (tmp_path / ".git").mkdir()
    pinned, unpinned = tmp_path / "pinned", tmp_path / "unpinned"
    pinned.mkdir()
    unpinned.mkdir()
    (pinned / "requirements.txt").write_text("tensorflow==2.15.0\n")
    runtime.forget_pins()
    installed.set(keras="3.15.1")
    outputs = Runtime("keras2", "Keras 2 progress bar (output of cell 5)")
    code = Runtime("legacy", "tf.Session (line 3)")
    assert resolve(code, pinned, outputs) is code
    assert resolve(DEFAULT, pinned, outputs) == Runtime("keras2", "requirements.txt: tensorflow==2.15.0")
    assert resolve(DEFAULT, unpinned, outputs) == outputs
    assert resolve(DEFAULT, unpinned) == Runtime("keras3", "no pins, keras 3.15.1 installed")
    installed.set()
    assert resolve(DEFAULT, unpinned) == LATEST


def test_the_installed_versions_are_read_from_metadata_never_imported():
    # The real lookup (the fixture replaces it in this process): in a fresh process it finds the
    # test environment's own distributions, and leaves TensorFlow and Keras unimported.
    code = ("import sys, json; from importlib import metadata; from bnlint import runtime\n"
            "found = runtime.installed_versions()\n"
            "print(json.dumps([found, {n: metadata.version(n) for n in found}, "
            "[m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]]))\n")
    found, expected, imported = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                                          text=True, check=True).stdout)
    assert found == expected and "keras" in found and "tensorflow" in found  # the [test] extra holds both
    assert imported == []


# --- every run says what it assumed -------------------------------------------------------------


def test_a_clean_run_names_the_runtime_it_assumed_and_why(repository):
    (repository / "train.py").write_text(FROZEN)
    result = check(".")
    assert result.exit_code == 0
    assert result.output == "All checks passed (1 file; assumed Keras 3: no pins, no Keras installed).\n"


def test_a_keras2_user_without_pins_is_judged_by_the_installed_tensorflow(repository, installed):
    (repository / "train.py").write_text(FROZEN)
    installed.set(tensorflow="2.15.1", keras="2.15.0")
    result = check(".")
    assert result.exit_code == 1
    assert "  = verdict: latent; runtime: keras2 (no pins, keras 2.15.0 installed)" in result.output
    assert result.output.splitlines()[-2].endswith("; assumed Keras 2: no pins, keras 2.15.0 installed.")


def test_json_names_the_runtime_of_every_scanned_file(repository, installed):
    (repository / "train.py").write_text(FROZEN)
    (repository / "legacy.py").write_text("import tensorflow as tf\nsession = tf.Session()\n" + FROZEN)
    (repository / "notes.py").write_text("print('nothing to judge here')\n")
    installed.set(keras="3.15.1", tensorflow="2.21.0")
    data = json.loads(check("--format", "json", ".").output)
    assert {f["path"]: (f["kind"], f["runtime"]["target"], f["runtime"]["source"]) for f in data["files"]} == {
        "legacy.py": ("script", "legacy", "tf.Session (line 2)"),
        "notes.py": ("script", "keras3", "no pins, keras 3.15.1 installed"),
        "train.py": ("script", "keras3", "no pins, keras 3.15.1 installed"),
    }
    assert [(f["path"], f["verdict"], f["runtime"]["target"]) for f in data["findings"]] == [("legacy.py", "active", "legacy")]


def test_several_runtimes_are_counted_and_verbose_lists_each_file(repository):
    (repository / "a.py").write_text(FROZEN)
    (repository / "b.py").write_text("import tf_keras\n" + FROZEN.replace("base(inputs)", "base(inputs, training=False)"))
    (repository / "c.py").write_text(FROZEN)
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--verbose", "."])
    assert result.exit_code == 0
    assert result.stdout == ("All checks passed (3 files; assumed Keras 3 for 2: no pins, no Keras installed; "
                             "Keras 2 for 1: import tf_keras (line 1)).\n")
    assert result.stderr.splitlines() == [
        "a.py: judged as keras3 (no pins, no Keras installed)",
        "b.py: judged as keras2 (import tf_keras (line 1))",
        "c.py: judged as keras3 (no pins, no Keras installed)",
    ]


def test_a_cached_result_keeps_its_runtime_and_a_change_of_installed_runtime_is_a_miss(repository, installed):
    (repository / "train.py").write_text(FROZEN)
    first = CliRunner().invoke(cli, ["check", "--no-confirm", "--color", "never", "."])
    again = CliRunner().invoke(cli, ["check", "--no-confirm", "--color", "never", "."])
    assert first.output == again.output == "All checks passed (1 file; assumed Keras 3: no pins, no Keras installed).\n"
    installed.set(tensorflow="2.15.1")
    changed = CliRunner().invoke(cli, ["check", "--no-confirm", "--color", "never", "."])
    assert changed.exit_code == 1 and "runtime: keras2 (no pins, tensorflow 2.15.1 installed)" in changed.output


def test_a_notebook_whose_code_is_not_read_still_names_its_kernel_and_magics(repository):
    def notebook(metadata: dict, source: str) -> str:
        return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": metadata, "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, "source": source}]})

    # Nothing here trains a frozen base, so no cell is parsed; the runtime is still the notebook's.
    (repository / "colab.ipynb").write_text(notebook({}, "%tensorflow_version 1.x\nimport tensorflow as tf\nprint(tf.ones(3))\n"))
    (repository / "old.ipynb").write_text(notebook({"language_info": {"name": "python", "version": "3.6.9"}}, "import os\n"))
    (repository / "new.ipynb").write_text(notebook({"language_info": {"name": "python", "version": "3.11.4"}}, "import os\n"))
    data = json.loads(check("--format", "json", ".").output)
    assert {f["path"]: (f["runtime"]["target"], f["runtime"]["source"]) for f in data["files"]} == {
        "colab.ipynb": ("legacy", "%tensorflow_version 1.x (cell 1, line 1)"),
        "new.ipynb": ("keras3", "no pins, no Keras installed"),
        "old.ipynb": ("keras2", "Python 3.6.9 kernel (notebook metadata)"),
    }


def test_a_project_with_pins_never_looks_at_what_is_installed(repository):
    # Reading distribution metadata costs an import of importlib.metadata: only where it can matter.
    (repository / "requirements.txt").write_text("tensorflow==2.15.0\n")
    (repository / "train.py").write_text(FROZEN)
    code = ("import sys\nfrom bnlint.cli import cli\ntry:\n    cli(['check', '--no-confirm', '.'])\nexcept SystemExit:\n    pass\n"
            "print('importlib.metadata' in sys.modules, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repository)
    assert "runtime: keras2 (requirements.txt: tensorflow==2.15.0)" in result.stdout
    assert result.stderr.strip() == "False"
