"""A script is read as part of its project: the project's own modules it imports are read too.

`tests/fixtures/project` is laid out like a real repository: a package `mlproj` with a builder
(`models/backbone.py`), a base class in a sibling module reached by a relative import
(`models/base.py`, `models/classifier.py`), freeze helpers applied through a callback
(`freezing.py`, `trainer.py`), scripts at the root and in a subfolder, and an old project
(`legacy/`) whose Keras version only its model module betrays.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint.cli import cli
from bnlint.config import Settings
from bnlint.scan import scan

PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def findings(paths=(".",), settings=None):
    report = scan(list(paths), settings or Settings(cache=False, jobs=1))
    assert report.errors == []
    return {(f.path, f.line, f.rule, f.verdict): f for f in report.findings}


def test_a_builder_and_a_freeze_callback_from_other_modules(project):
    found = findings(["train_callback.py"])
    (finding,) = found.values()
    # The base is built in mlproj/models/backbone.py and frozen by mlproj/freezing.py, through the
    # callback mlproj/trainer.py applies before it fits: latent on tf.keras, at this call.
    assert (finding.path, finding.line, finding.rule, finding.verdict) == ("train_callback.py", 10, "BN001", "latent")
    assert finding.subject.cls == "ResNet50"
    assert [(r.role, r.path, r.line) for r in finding.related] == [("training", "mlproj/trainer.py", 8)]


def test_the_runtime_comes_from_the_project_modules_when_the_script_says_nothing(project):
    (finding,) = findings(["train_callback.py"]).values()
    assert (finding.runtime.target, finding.runtime.source) == ("keras2", "import tf_keras (mlproj/models/backbone.py, line 2)")
    (legacy,) = findings(["legacy/train.py"]).values()
    assert legacy.runtime.target == "legacy" and "legacy/nets.py" in legacy.runtime.source
    assert (legacy.rule, legacy.verdict, legacy.severity) == ("BN001", "active", "error")


def test_the_scripts_own_evidence_wins(project):
    script = project / "train_callback.py"
    script.write_text("import keras\n" + script.read_text())
    # `import keras` says nothing about the version: the project's tf_keras still decides.
    assert {f.runtime.target for f in findings(["train_callback.py"]).values()} == {"keras2"}
    script.write_text("import tf_keras\nfrom keras.layers.normalization import BatchNormalization\n" + script.read_text())
    assert {f.runtime.target for f in findings(["train_callback.py"]).values()} == {"legacy"}


def test_a_base_class_in_a_sibling_module_is_followed_and_its_problem_reported_there_once(project):
    found = findings(["train_classifier.py", "train_classifier_again.py"])
    assert list(found) == [("mlproj/models/base.py", 15, "BN001", "latent")]
    (finding,) = found.values()
    assert finding.source.file == str(project / "mlproj" / "models" / "base.py")
    assert finding.related[0].path == "train_classifier.py"


def test_a_script_in_a_subfolder_imports_the_package_from_the_root(project):
    found = findings(["scripts/finetune.py"])
    assert list(found) == [("scripts/finetune.py", 10, "BN001", "exposed")]
    (finding,) = found.values()
    assert [(r.role, r.path, r.line) for r in finding.related] == [
        ("unfreeze", "mlproj/freezing.py", 9), ("training", None, 15)]


def test_the_whole_project_gives_each_problem_once(project):
    assert sorted(findings()) == [
        ("legacy/train.py", 10, "BN001", "active"),
        ("mlproj/models/base.py", 15, "BN001", "latent"),
        ("scripts/finetune.py", 10, "BN001", "exposed"),
        ("train_callback.py", 10, "BN001", "latent"),
    ]


def test_an_edit_to_an_imported_module_is_not_hidden_by_the_cache(project):
    settings = Settings(cache_dir=project / ".cache", jobs=1)
    assert ("train_callback.py", 10, "BN001", "latent") in findings(["train_callback.py"], settings)
    freezing = project / "mlproj" / "freezing.py"
    freezing.write_text(freezing.read_text().replace("model.trainable = False", "pass"))
    assert findings(["train_callback.py"], settings) == {}


def test_suppressions_in_the_module_where_the_finding_is(project):
    base = project / "mlproj" / "models" / "base.py"
    base.write_text(base.read_text().replace("self.backbone(x))", "self.backbone(x))  # noqa: BN001"))
    assert findings(["train_classifier.py"]) == {}


def test_json_names_the_other_file_of_a_related_place(project):
    result = CliRunner().invoke(cli, ["check", "train_classifier.py", "--no-confirm", "--no-cache", "--format", "json"])
    (finding,) = json.loads(result.output)["findings"]
    assert finding["path"] == "mlproj/models/base.py"
    assert finding["related"] == [{"line": 6, "column": 1, "cell": None, "message": "trained here (fit)", "path": "train_classifier.py"}]


def test_without_a_project_unknown_imports_stay_unknown():
    from bnlint import api

    code = (PROJECT / "train_callback.py").read_text()
    assert api.lint_source(code) == []


def test_a_driver_that_only_calls_its_helpers_is_read_through_them(tmp_path, monkeypatch):
    # train.py neither imports Keras nor freezes nor fits: helpers.py does all of it.
    (tmp_path / ".git").mkdir()
    (tmp_path / "helpers.py").write_text(
        "import tensorflow as tf\n"
        "def build():\n"
        "    base = tf.keras.applications.ResNet50(weights=None, include_top=False, pooling='avg')\n"
        "    base.trainable = False\n"
        "    inputs = tf.keras.Input((64, 64, 3))\n"
        "    return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(base(inputs))), base\n"
        "def train_head(model, data):\n"
        "    model.compile('sgd', 'mse')\n"
        "    model.fit(data, epochs=5)\n"
        "def fine_tune(model, base, data):\n"
        "    base.trainable = True\n"
        "    model.compile('sgd', 'mse')\n"
        "    model.fit(data, epochs=5)\n")
    (tmp_path / "train.py").write_text(
        "import helpers\nmodel, base = helpers.build()\nhelpers.train_head(model, 'data/')\nhelpers.fine_tune(model, base, 'data/')\n")
    (tmp_path / "unrelated.py").write_text("import helpers\nprint(helpers.__name__)\n")
    monkeypatch.chdir(tmp_path)
    report = scan(["train.py", "unrelated.py"], Settings(cache=False, target_runtime="keras2"))
    assert [(f.rule, f.path, f.line, f.verdict) for f in report.findings] == [("BN001", "helpers.py", 6, "exposed")]


@pytest.mark.parametrize(
    ("code", "parsed"),
    [
        # A freeze, a fit and a known BatchNormalization constructor: read (BN001, BN002, BN004).
        ("import keras\nbase = keras.applications.ResNet50()\nbase.trainable = False\nmodel.fit(x)\n", True),
        # The same built through an f-string name: the family word is enough.
        ("import keras\nbase = getattr(keras.applications, f'EfficientNetB{n}')()\nbase.trainable = False\nmodel.fit(x)\n", True),
        # A freeze, a compile and a fit with no BatchNormalization anywhere: read for BN003 only.
        ("import keras\nbase = keras.applications.VGG16()\nbase.trainable = False\nmodel.compile('sgd')\nmodel.fit(x)\n", True),
        # `training=True` on something that may hold BatchNormalization: read (BN005).
        ("import keras\nx = keras.layers.BatchNormalization()(x, training=True)\n", True),
        # A freeze spelled through setattr, or a keyword: read.
        ("import keras\nbase = keras.applications.ResNet50()\nsetattr(base, 'trainable', False)\nmodel.fit(x)\n", True),
        ("import keras\nbase = keras.applications.ResNet50(trainable =False)\nmodel.fit(x)\n", True),
        # `trainable_variables` in a training step is no freeze: skipped.
        ("import keras\nbase = keras.applications.ResNet50()\n"
         "opt.apply_gradients(zip(tape.gradient(loss, base.trainable_variables), base.trainable_variables))\n", False),
        # Frozen and trained, but nothing builds BatchNormalization and nothing compiles: skipped.
        ("import keras\nbase = keras.applications.VGG16()\nbase.trainable = False\nmodel.fit(x)\n", False),
        ("import keras\nx = keras.layers.Dropout(0.5)(x, training=True)\n", False),
    ],
)
def test_a_scan_reads_only_code_in_which_some_rule_can_find_something(repository, code, parsed):
    # A syntax error after the code shows whether the file was parsed at all.
    (repository / "train.py").write_text(code + "def broken(:\n")
    report = scan(["."], Settings(cache=False, jobs=1))
    assert [e.path for e in report.errors] == (["train.py"] if parsed else [])


def test_a_batchnorm_builder_in_an_imported_module_makes_the_script_worth_reading(repository):
    (repository / "blocks.py").write_text("import keras\ndef block(x):\n    return keras.layers.BatchNormalization()(x)\n")
    (repository / "train.py").write_text("import keras\nfrom blocks import block\nbase.trainable = False\nmodel.fit(x)\ndef broken(:\n")
    report = scan(["train.py"], Settings(cache=False, jobs=1))
    assert [e.path for e in report.errors] == ["train.py"]


# A script whose problem spans a helper module: the helper builds, freezes and trains the head, the
# script unfreezes and trains again (issue: standard input used to read the script alone).
HELPERS = (
    "import tensorflow as tf\n"
    "def build():\n"
    "    base = tf.keras.applications.ResNet50(weights=None, include_top=False, pooling='avg')\n"
    "    base.trainable = False\n"
    "    inputs = tf.keras.Input((64, 64, 3))\n"
    "    return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(base(inputs))), base\n"
    "def train_head(model, data):\n"
    "    model.compile('sgd', 'mse')\n"
    "    model.fit(data, epochs=5)\n"
)
TRAIN_HELPER = (
    "from helpers import build, train_head\n"
    "model, base = build()\n"
    "train_head(model, 'data/')\n"
    "base.trainable = True\n"
    "model.compile('sgd', 'mse')\n"
    "model.fit('data/', epochs=5)\n"
)


@pytest.fixture
def helper_project(repository):
    (repository / "scripts").mkdir()
    (repository / "scripts" / "helpers.py").write_text(HELPERS)
    (repository / "scripts" / "train_helper.py").write_text(TRAIN_HELPER)
    return repository


def _check_json(*args, stdin=None):
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--format", "json", *args], input=stdin)
    return result.exit_code, [(f["rule"], f["path"], f["line"], f["verdict"]) for f in json.loads(result.stdout)["findings"]]


def test_standard_input_reads_the_project_as_a_path_does(helper_project):
    by_path = _check_json("scripts/train_helper.py")
    assert by_path == (1, [("BN004", "scripts/train_helper.py", 4, "exposed")])
    assert _check_json("-", "--stdin-filename", "scripts/train_helper.py", stdin=TRAIN_HELPER) == by_path
    # From inside the folder, as an editor or formatter runs it.
    os.chdir(helper_project / "scripts")
    assert _check_json("-", "--stdin-filename", "train_helper.py", stdin=TRAIN_HELPER) == (1, [("BN004", "train_helper.py", 4, "exposed")])


def test_standard_input_sees_the_helper_module_as_it_is_now(helper_project):
    # One process, two checks (an editor, the test suite): the helper is read again once it changed.
    assert _check_json("-", "--stdin-filename", "scripts/train_helper.py", stdin=TRAIN_HELPER)[0] == 1
    (helper_project / "scripts" / "helpers.py").write_text(HELPERS.replace("    base.trainable = False\n", ""))
    assert _check_json("-", "--stdin-filename", "scripts/train_helper.py", stdin=TRAIN_HELPER) == (0, [])


def test_a_notebook_on_standard_input_reads_its_project_modules(helper_project):
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": TRAIN_HELPER}
    text = json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# fine-tune"}, cell],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    status, found = _check_json("-", "--stdin-filename", "scripts/finetune.ipynb", stdin=text)
    assert (status, found) == (1, [("BN004", "scripts/finetune.ipynb", 4, "exposed")])


def test_a_finding_inside_the_helper_is_reported_there_from_standard_input(helper_project):
    # On tf.keras the problem is the helper's call of the base, with the script's unfreeze related.
    by_path = _check_json("--target-runtime", "keras2", "scripts/train_helper.py")
    assert by_path == (1, [("BN001", "scripts/helpers.py", 6, "exposed")])
    assert _check_json("--target-runtime", "keras2", "-", "--stdin-filename", "scripts/train_helper.py", stdin=TRAIN_HELPER) == by_path
