"""Autofix: `bnlint check --fix/--diff` rewrites scripts, `bnlint fix MODEL -o OUT` writes corrected models.

Every fix is checked by its effect: the fixed finding is gone when the result is linted again,
the result still parses (or loads, for models), and nothing else changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint.cli import cli
from bnlint.engine import run_rules
from bnlint.fix.model import reorder_weight_names
from bnlint.fix.script import fix_source, fix_until_settled
from bnlint.frontends.models.reader import read_model_config
from bnlint.frontends.python.script import analyze_source
from bnlint.ir import Runtime
from bnlint.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
RULES = load_rules()


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def lint(code: str, runtime: str) -> list:
    unit = analyze_source(code, "train.py")
    unit.runtime = Runtime(runtime, "test")
    return run_rules(unit, RULES)


def fixed(code: str, runtime: str) -> str:
    """The code after fixing what can be fixed; asserts that no finding of a fixed rule is left."""
    findings = lint(code, runtime)
    new, done = fix_source(code, findings)
    left = {(f.rule, f.line) for f in lint(new, runtime)}
    assert not {f.rule for f in done} & {rule for rule, _ in left}, left
    return new


def fixed_until_settled(code: str, runtime: str) -> str:
    """What `check --fix` makes of the code: fixed, linted again and fixed again until it settles."""
    outcome = fix_until_settled(code, lint(code, runtime), lambda text: lint(text, runtime))
    assert outcome.remaining == [] and lint(outcome.text, runtime) == []
    return outcome.text


@pytest.fixture
def project(repository):
    return repository


KERAS2_SCRIPT = """\
import tf_keras as keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)  # the features
outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""
# Trains every model the snippets below build (a composition no training reaches is no finding).
TRAIN = """\
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""

KERAS3_SCRIPT = (ROOT / "examples" / "finetune_buggy.py").read_text()


# --- script fixes, per runtime -----------------------------------------------------------------


def test_keras2_call_gets_training_false_and_nothing_else_changes():
    new = fixed(KERAS2_SCRIPT, "keras2")
    assert new == KERAS2_SCRIPT.replace("x = base(inputs)", "x = base(inputs, training=False)")


def test_keras3_gets_the_batchnorm_loop_and_a_recompile_not_training_false():
    assert {f.rule for f in lint(KERAS3_SCRIPT, "keras3")} == {"BN003", "BN004"}
    new = fixed(KERAS3_SCRIPT, "keras3")
    expected = KERAS3_SCRIPT.replace(
        "base.trainable = True\nmodel.fit(",
        "base.trainable = True\n"
        "for _layer in base.layers:\n"
        "    if isinstance(_layer, keras.layers.BatchNormalization):\n"
        "        _layer.trainable = False\n"
        'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
        "model.fit(",
    )
    assert new == expected
    # No training=False was added (the equality above; it does not protect in Keras 3); the BN
    # layers kept frozen do protect, so the call is no longer reported either.
    assert [f.rule for f in lint(new, "keras3")] == []


def test_training_false_in_odd_call_layouts_keeps_comments():
    code = """\
import tensorflow as tf
base = tf.keras.applications.ResNet50(include_top=False)  # café: a non-ASCII comment
base.trainable = False
inputs = tf.keras.Input((224, 224, 3))
a = base(
    inputs,  # one argument per line
)
b = base(inputs,)
c = base(
    inputs  # no trailing comma
)
d = base((inputs))
e = base(  inputs   ,  )
model = tf.keras.Model(inputs, [a, b, c, d, e])
""" + TRAIN
    assert fixed(code, "keras2") == """\
import tensorflow as tf
base = tf.keras.applications.ResNet50(include_top=False)  # café: a non-ASCII comment
base.trainable = False
inputs = tf.keras.Input((224, 224, 3))
a = base(
    inputs,  # one argument per line
    training=False,
)
b = base(inputs, training=False)
c = base(
    inputs, training=False  # no trailing comma
)
d = base((inputs), training=False)
e = base(  inputs   , training=False)
model = tf.keras.Model(inputs, [a, b, c, d, e])
""" + TRAIN


def test_subclassed_model_call_without_training_is_fixed_but_a_passed_flag_is_not():
    code = """\
import tf_keras as keras
class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.backbone = keras.applications.DenseNet121(include_top=False, pooling="avg")
        self.backbone.trainable = False
        self.head = keras.layers.Dense(3)
    def call(self, x, training=None):
        return self.head(self.backbone(x))
model = Classifier()
""" + TRAIN
    assert "self.head(self.backbone(x, training=False))" in fixed(code, "keras2")
    passed_on = code.replace("self.backbone(x)", "self.backbone(x, training=training)")
    assert fix_source(passed_on, lint(passed_on, "keras2")) == (passed_on, [])


def test_unfreezing_loop_gets_the_batchnorm_loop_after_it_with_the_files_imports():
    code = """\
from tensorflow import keras as K
from tensorflow.keras.layers import BatchNormalization as BN
base = K.applications.EfficientNetB0(include_top=False)
base.trainable = False
inputs = K.Input((224, 224, 3))
model = K.Model(inputs, K.layers.Dense(2)(base(inputs, training=False)))
model.compile(
    optimizer=K.optimizers.Adam(1e-3),
    loss="mse",
)
def fine_tune():
  for layer in base.layers[-20:]:
    layer.trainable = True
  model.fit(x, y)
"""
    # Keras 3 sees a change made after compile() and before the first fit(): no recompile needed.
    assert fixed(code, "keras3").endswith("""\
def fine_tune():
  for layer in base.layers[-20:]:
    layer.trainable = True
  for _layer in base.layers:
    if isinstance(_layer, BN):
      _layer.trainable = False
  model.fit(x, y)
""")


def test_a_helper_that_unfreezes_its_argument_freezes_the_bn_layers_of_that_argument():
    code = """\
import keras
def unfreeze(m):
    m.trainable = True
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
model = keras.Model(inputs, base(inputs))
""" + TRAIN + "unfreeze(base)\n" + TRAIN
    assert "    m.trainable = True\n    for _layer in m.layers:\n        if isinstance(_layer, keras.layers.BatchNormalization):\n" in fixed(code, "keras3")


def test_tf_keras_unfreezing_is_fixed_at_the_call_not_with_a_loop():
    code = """\
from tensorflow import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((224, 224, 3))
model = keras.Model(inputs, keras.layers.Dense(2)(base(inputs)))
for layer in base.layers[-20:]:
    layer.trainable = True
""" + TRAIN
    # One problem, one finding: on tf.keras it is reported at the call, where the fix goes.
    assert [(f.rule, f.verdict) for f in lint(code, "keras2")] == [("BN001", "exposed")]
    # training=False at the call protects the unfrozen base in tf.keras.
    assert fixed(code, "keras2") == code.replace("base(inputs)", "base(inputs, training=False)")
    assert lint(fixed(code, "keras2"), "keras2") == []


def test_a_reused_optimizer_instance_is_not_recompiled():
    # compile(opt) again after unfreezing raises "Unknown variable" (Keras 3) / KeyError (tf.keras).
    code = """\
import keras
base = keras.applications.VGG16(weights=None, include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((64, 64, 3))
model = keras.Model(inputs, keras.layers.Dense(2)(base(inputs)))
opt = keras.optimizers.Adam()
model.compile(opt, "mse")
model.fit(x, y)
base.trainable = True
model.fit(x, y)
"""
    findings = lint(code, "keras3")
    assert [f.rule for f in findings] == ["BN003"]
    assert fix_source(code, findings) == (code, [])


@pytest.mark.parametrize(
    "code",
    [
        # Which BatchNormalization would the base's layers be: tf_keras's or Keras 3's?
        "import keras\nimport tf_keras\nbase = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n"
        "model = keras.Sequential([base])\n" + TRAIN + "base.trainable = True\n" + TRAIN,
        # A statement sharing its line: no safe place for the loop.
        "import keras\nbase = keras.applications.ResNet50(weights=None)\nbase.trainable = False\n"
        "model = keras.Sequential([base])\n" + TRAIN + "if True: base.trainable = True\n" + TRAIN,
    ],
)
def test_unsafe_places_are_left_alone(code):
    findings = lint(code, "keras3")
    assert [f.rule for f in findings] == ["BN004"]
    assert fix_source(code, findings) == (code, [])


# --- check --fix / --diff through the CLI ------------------------------------------------------


def test_fix_rewrites_the_file_and_reports_what_is_left(project):
    script = project / "train.py"
    script.write_text(KERAS2_SCRIPT)
    result = run("check", "train.py", "--fix", "--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert result.exit_code == 0, result.output
    assert "Fixed 1 finding in 1 file." in result.stderr
    assert script.read_text() == KERAS2_SCRIPT.replace("base(inputs)", "base(inputs, training=False)")


def test_diff_prints_only_the_diff_exits_1_and_changes_nothing(project):
    script = project / "train.py"
    script.write_text(KERAS2_SCRIPT)
    before = script.read_bytes(), script.stat().st_mtime_ns
    result = run("check", "train.py", "--diff", "--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert result.exit_code == 1
    assert result.stdout == (
        "--- a/train.py\n+++ b/train.py\n@@ -2,7 +2,7 @@\n"
        " base = keras.applications.ResNet50(weights=None, include_top=False)\n"
        " base.trainable = False\n"
        " inputs = keras.Input((64, 64, 3))\n"
        "-x = base(inputs)  # the features\n"
        "+x = base(inputs, training=False)  # the features\n"
        " outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))\n"
        " model = keras.Model(inputs, outputs)\n"
        ' model.compile(optimizer="adam", loss="mse")\n'
    )
    assert (script.read_bytes(), script.stat().st_mtime_ns) == before


def test_diff_of_a_last_line_without_a_line_break_says_so(project):
    (project / "train.py").write_text(
        "import tf_keras as keras\n"
        "def train(m):\n    m.compile(optimizer='adam', loss='mse')\n    m.fit(x, y)\n"
        "base = keras.applications.ResNet50(weights=None, include_top=False)\nbase.trainable = False\n"
        "inputs = keras.Input((64, 64, 3))\n"
        "train(keras.Model(inputs, base(inputs)))  # the model"
    )
    result = run("check", "train.py", "--diff", "--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert result.stdout.endswith(
        "-train(keras.Model(inputs, base(inputs)))  # the model\n\\ No newline at end of file\n"
        "+train(keras.Model(inputs, base(inputs, training=False)))  # the model\n\\ No newline at end of file\n"
    )


def test_diff_with_nothing_to_fix_prints_nothing_and_exits_0(project):
    (project / "train.py").write_text(KERAS2_SCRIPT.replace("base(inputs)", "base(inputs, training=False)"))
    result = run("check", "train.py", "--diff", "--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert (result.exit_code, result.stdout) == (0, "")


def test_files_without_a_fixable_finding_are_never_rewritten(project):
    sequential = project / "sequential.py"  # BN002: no call site could take training=False
    sequential.write_text(
        "import tf_keras as keras\n"
        "base = keras.applications.MobileNetV2(include_top=False, pooling='avg')\n"
        "base.trainable = False\n"
        "model = keras.Sequential([base, keras.layers.Dense(10)])\n" + TRAIN
    )
    keras3 = project / "keras3.py"  # BN004 under Keras 3, on a line the BN loop cannot follow
    keras3.write_text(KERAS2_SCRIPT.replace("import tf_keras as keras", "import keras") + "if True: base.trainable = True\n" + TRAIN)
    notebook = project / "nb.ipynb"  # notebooks are not fixed by this version
    notebook.write_text(json.dumps({
        "cells": [{"cell_type": "code", "source": KERAS2_SCRIPT.splitlines(keepends=True), "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }))
    paths = [sequential, keras3, notebook]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]
    result = run("check", *(p.name for p in paths), "--fix", "--no-confirm", "--no-cache")
    assert result.exit_code == 1
    assert {"BN001", "BN002", "BN004"} <= set(re.findall(r": (BN\d{3}) ", result.stdout))
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths] == before


def test_fix_keeps_line_breaks_encoding_and_file_mode(project):
    code = "# -*- coding: latin-1 -*-\n# Légende\n" + KERAS2_SCRIPT
    script = project / "train.py"
    script.write_bytes(code.replace("\n", "\r\n").encode("latin-1"))
    script.chmod(0o640)
    result = run("check", "train.py", "--fix", "--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert result.exit_code == 0, result.output
    expected = code.replace("base(inputs)", "base(inputs, training=False)").replace("\n", "\r\n").encode("latin-1")
    assert script.read_bytes() == expected
    assert script.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in project.iterdir() if p.name.startswith(".train")] == []  # no temporary left


def test_fix_with_a_cache_copied_from_another_checkout_fixes_this_checkout(tmp_path, monkeypatch):
    first = tmp_path / "first"
    first.mkdir()
    (first / ".git").mkdir()
    (first / "train.py").write_text(KERAS2_SCRIPT)
    monkeypatch.chdir(first)
    assert run("check", "train.py", "--target-runtime", "keras2", "--no-confirm").exit_code == 1  # fills the cache
    second = tmp_path / "second"
    shutil.copytree(first, second)
    monkeypatch.chdir(second)
    assert run("check", "train.py", "--fix", "--target-runtime", "keras2", "--no-confirm").exit_code == 0
    assert "training=False" in (second / "train.py").read_text()
    assert (first / "train.py").read_text() == KERAS2_SCRIPT


def test_findings_in_the_baseline_are_not_fixed(project):
    script = project / "train.py"
    script.write_text(KERAS2_SCRIPT)
    args = ("--target-runtime", "keras2", "--no-confirm", "--no-cache")
    assert run("check", "train.py", "--write-baseline", "baseline.json", *args).exit_code == 0
    result = run("check", "train.py", "--fix", "--baseline", "baseline.json", *args)
    assert result.exit_code == 0, result.output
    assert script.read_text() == KERAS2_SCRIPT


# --- bnlint fix MODEL -o OUT: no TensorFlow needed ------------------------------------------------


def _relint(path: Path) -> set[tuple[str, str]]:
    result = run("check", str(path), "--no-confirm", "--no-cache", "--format", "json")
    return {(f["rule"], f["layer_path"]) for f in json.loads(result.stdout)["findings"]}


def test_keras3_partially_frozen_base_gets_its_bn_layers_frozen(tmp_path):
    source, out = MODELS / "k3_partial.keras", tmp_path / "fixed.keras"
    original = source.read_bytes()
    result = run("fix", str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "BN004 backbone: trainable=False on 2 BatchNormalization layer(s): backbone_bn1, backbone_bn2" in result.stdout
    assert source.read_bytes() == original
    assert _relint(source) == {("BN004", "backbone")} and _relint(out) == set()
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(out) as after:
        assert before.namelist() == after.namelist()
        for name in before.namelist():
            if name != "config.json":
                assert before.read(name) == after.read(name), name
    config, _, _ = read_model_config(out)
    backbone = next(layer for layer in config["config"]["layers"] if layer["name"] == "backbone")
    trainable = {layer["config"]["name"]: layer["config"].get("trainable") for layer in backbone["config"]["layers"]}
    # Only the BN layers changed: the trainable convolution stays trainable.
    assert trainable["backbone_bn1"] is trainable["backbone_bn2"] is False
    assert trainable["backbone_conv2"] is True and trainable["backbone_conv1"] is False


@pytest.mark.parametrize("name", ["tfk_frozen_call.h5", "tfk_frozen_call.keras"])
def test_tf_keras_frozen_base_call_gets_training_false(name, tmp_path):
    source, out = MODELS / name, tmp_path / f"fixed{Path(name).suffix}"
    original = source.read_bytes()
    result = run("fix", str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "BN001 backbone: training=False on 1 call" in result.stdout
    assert source.read_bytes() == original
    assert _relint(source) == {("BN001", "backbone")} and _relint(out) == set()
    config, version, _ = read_model_config(out)
    assert version == read_model_config(source)[1]
    backbone = next(layer for layer in config["config"]["layers"] if layer["name"] == "backbone")
    assert backbone["inbound_nodes"] == [[["image", 0, 0, {"training": False}]]]


def test_findings_this_cannot_fix_exit_1_and_the_copy_is_identical(tmp_path):
    # Keras 3 ignores a stored training=False once the base is trainable: not fixed by editing calls.
    source, out = MODELS / "k3_frozen_call.keras", tmp_path / "copy.keras"
    result = run("fix", str(source), "-o", str(out))
    assert result.exit_code == 1
    assert "BN001 backbone: not fixed" in result.stdout and "0 findings fixed, 1 remaining" in result.stdout
    assert out.read_bytes() == source.read_bytes()


def test_the_output_must_not_be_the_input(tmp_path):
    source = tmp_path / "model.keras"
    shutil.copyfile(MODELS / "k3_partial.keras", source)
    original = source.read_bytes()
    for spelling in (str(source), str(tmp_path / "." / "model.keras")):
        result = run("fix", str(source), "-o", spelling)
        assert result.exit_code == 2
        assert "must not be the input" in result.stderr
    assert source.read_bytes() == original


def test_unsupported_inputs_and_outputs_exit_2(tmp_path, monkeypatch):
    result = run("fix", str(MODELS / "k3_partial.keras"), "-o", str(tmp_path / "fixed.h5"))
    assert result.exit_code == 2 and "must end in .keras" in result.stderr
    assert not (tmp_path / "fixed.h5").exists()
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    result = run("fix", str(broken), "-o", str(tmp_path / "out.keras"))
    assert result.exit_code == 2 and result.stderr.startswith(f"{broken}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run("fix", str(MODELS / "tfk_savedmodel"), "-o", str(tmp_path / "out.keras"))
    assert result.exit_code == 2 and "SavedModel directories cannot be fixed" in result.stderr


def test_fixing_never_imports_tensorflow_or_keras(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(KERAS3_SCRIPT)
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom bnlint.cli import cli\n"
        f"CliRunner().invoke(cli, ['check', {str(script)!r}, '--fix', '--no-confirm', '--no-cache'], catch_exceptions=False)\n"
        f"for name in ('k3_partial.keras', 'tfk_frozen_call.h5'):\n"
        f"    CliRunner().invoke(cli, ['fix', {str(MODELS)!r} + '/' + name, '-o', {str(tmp_path)!r} + '/' + name], catch_exceptions=False)\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert "_layer.trainable = False" in script.read_text()
    assert {p.name for p in tmp_path.iterdir()} == {"train.py", "k3_partial.keras", "tfk_frozen_call.h5"}


def test_weight_order_of_a_nested_model_follows_trainability():
    # As tf_keras saved it: trainable weights first, then non-trainable ones, each in layer order.
    saved = ["bn/gamma:0", "bn/beta:0", "d2/kernel:0", "d2/bias:0", "d1/kernel:0", "d1/bias:0", "bn/moving_mean:0", "bn/moving_variance:0"]
    assert reorder_weight_names(saved, {"bn"}) == [
        "d2/kernel:0", "d2/bias:0", "d1/kernel:0", "d1/bias:0", "bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0",
    ]
    keras3 = ["backbone/bn/gamma", "backbone/bn/beta", "backbone/bn/moving_mean", "backbone/bn/moving_variance"]
    assert reorder_weight_names(keras3, {"bn"}) == keras3


# --- real files, loaded by the real Keras ---------------------------------------------------------


@pytest.mark.tf
def test_fixed_keras3_archive_loads_safely_and_keeps_bn_in_inference_mode(tmp_path):
    import keras
    import numpy as np

    source, out = MODELS / "k3_partial.keras", tmp_path / "fixed.keras"
    assert run("fix", str(source), "-o", str(out)).exit_code == 0
    original = keras.saving.load_model(source, safe_mode=True, compile=False)
    repaired = keras.saving.load_model(out, safe_mode=True, compile=False)
    assert {w.path: w.numpy().tobytes() for w in original.weights} == {w.path: w.numpy().tobytes() for w in repaired.weights}
    x = np.random.default_rng(0).random((4, 8, 8, 3), dtype="float32")
    # What fit() does (training=True) now matches inference: the BN statistics are protected.
    assert not np.allclose(original(x, training=True), original(x, training=False))
    np.testing.assert_allclose(repaired(x, training=True), repaired(x, training=False), rtol=1e-5, atol=1e-6)


@pytest.mark.tf
@pytest.mark.parametrize("name", ["tfk_frozen_call.h5", "tfk_frozen_call.keras"])
def test_fixed_tf_keras_model_keeps_training_false_after_unfreezing(name, tmp_path):
    # Keras 3 cannot load tf_keras files at all (fixed or not): tf_keras loads them, safely.
    import numpy as np
    import tf_keras

    source, out = MODELS / name, tmp_path / f"fixed{Path(name).suffix}"
    assert run("fix", str(source), "-o", str(out)).exit_code == 0
    x = np.random.default_rng(0).random((4, 8, 8, 3), dtype="float32")
    gaps = []
    for path in (source, out):
        model = tf_keras.models.load_model(path, compile=False, safe_mode=True)
        model.get_layer("backbone").trainable = True  # the fine-tuning phase
        gaps.append(float(np.max(np.abs(model(x, training=True) - model(x, training=False)))))
    assert gaps[0] > 1e-3 and gaps[1] < 1e-6, gaps


def _save_partially_frozen(library: str, path: Path) -> dict:
    """A nested base with a frozen conv and trainable BN, random weights; returns weights by layer."""
    import numpy as np

    keras = __import__(library)
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(3, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(2, 1, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    base = keras.Model(inputs, x, name="backbone")
    base.get_layer("conv1").trainable = False
    image = keras.Input((4, 4, 3), name="image")
    model = keras.Model(image, keras.layers.Dense(1, name="head")(keras.layers.Flatten()(base(image))))
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign(rng.random(tuple(weight.shape), dtype="float32"))
    model.save(path)
    return {(layer.name, i): w.numpy() for layer in base.layers for i, w in enumerate(layer.weights)}


@pytest.mark.tf
@pytest.mark.parametrize("library", ["tf_keras", "keras"])
def test_fixed_h5_loads_every_weight_into_the_same_layer(library, tmp_path):
    """Freezing BN inside a nested model reorders its legacy weight list: the copy must follow."""
    import numpy as np

    keras = __import__(library)
    source, out = tmp_path / "partial.h5", tmp_path / "fixed.h5"
    weights = _save_partially_frozen(library, source)
    result = run("fix", str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert _relint(out) == set()
    base = keras.models.load_model(out, compile=False).get_layer("backbone")
    assert [layer.trainable for layer in base.layers[1:]] == [False, False, True, False]
    for (layer, i), value in weights.items():
        np.testing.assert_array_equal(base.get_layer(layer).weights[i].numpy(), value, err_msg=f"{layer}[{i}]")


# --- names a fix needs, `[*]` as a promise, fixes that reveal fixes ----------------------------

FROM_IMPORTS = """\
from keras.applications import MobileNetV2
from keras.layers import Input, Dense, GlobalAveragePooling2D
from keras.models import Model
import numpy as np

images, labels = np.zeros((8, 96, 96, 3)), np.zeros((8, 2))
base = MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None)
base.trainable = False
inputs = Input(shape=(96, 96, 3))
x = GlobalAveragePooling2D()(base(inputs, training=False))
model = Model(inputs, Dense(2, activation="softmax")(x))
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(images, labels, epochs=1)

base.trainable = True
model.fit(images, labels, epochs=1)
"""
FROM_IMPORTS_FIXED = FROM_IMPORTS.replace(
    "GlobalAveragePooling2D\n", "GlobalAveragePooling2D, BatchNormalization\n"
).replace(
    "base.trainable = True\n",
    "base.trainable = True\n"
    "for _layer in base.layers:\n"
    "    if isinstance(_layer, BatchNormalization):\n"
    "        _layer.trainable = False\n"
    'model.compile(optimizer="adam", loss="categorical_crossentropy")\n',
)


def test_a_fix_marked_fixable_is_applied_with_the_import_it_needs_and_what_it_reveals(project):
    """A new user's script: Keras names imported one by one, a stale fit() after the unfreeze.
    The recompile (pass 1) makes that fit() train the unfrozen base: the BN loop (pass 2) needs
    `BatchNormalization`, which the file has not imported."""
    script = project / "train.py"
    script.write_text(FROM_IMPORTS)
    args = ("train.py", "--no-confirm", "--no-cache")
    before = run("check", *args)
    assert "BN003 [*]" in before.stdout and "[*] 1 fixable with `bnlint check --fix`." in before.stdout
    diff = run("check", *args, "--diff")
    assert diff.exit_code == 1
    assert "+from keras.layers import Input, Dense, GlobalAveragePooling2D, BatchNormalization\n" in diff.stdout
    assert "+    if isinstance(_layer, BatchNormalization):\n" in diff.stdout
    assert script.read_text() == FROM_IMPORTS
    result = run("check", *args, "--fix")
    assert result.exit_code == 0, result.output
    assert "Fixed 2 findings in 1 file." in result.stderr
    assert script.read_text() == FROM_IMPORTS_FIXED
    assert "fixable" not in result.stdout


def test_fixes_that_do_not_settle_say_what_is_left(project, monkeypatch):
    from bnlint.fix import script as script_fixer

    monkeypatch.setattr(script_fixer, "MAX_PASSES", 1)
    (project / "train.py").write_text(FROM_IMPORTS)
    result = run("check", "train.py", "--no-confirm", "--no-cache", "--fix")
    assert result.exit_code == 1
    assert "train.py: 1 fixable finding left after 1 pass of fixes (reported below)" in result.stderr
    assert "BN004 [*]" in result.stdout and "[*] 1 fixable" in result.stdout  # a second --fix fixes it
    assert run("check", "train.py", "--no-confirm", "--no-cache", "--fix").exit_code == 0
    assert (project / "train.py").read_text() == FROM_IMPORTS_FIXED


def test_the_import_is_added_in_the_files_own_spelling_and_layout():
    code = """\
\"\"\"Fine-tune an EfficientNet.\"\"\"
from tensorflow.keras.applications import EfficientNetB0
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import (
    Dense,
    Dropout,
)

base = EfficientNetB0(weights=None, include_top=False, pooling="avg")
base.trainable = False
model = Sequential([base, Dropout(0.2), Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
for layer in base.layers[-20:]:
    layer.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""
    assert fixed(code, "keras3") == code.replace("    Dropout,\n", "    Dropout,\n    BatchNormalization,\n").replace(
        "    layer.trainable = True\n",
        "    layer.trainable = True\n"
        "for _layer in base.layers:\n"
        "    if isinstance(_layer, BatchNormalization):\n"
        "        _layer.trainable = False\n",
    )


def test_a_name_the_file_uses_for_something_else_is_not_taken():
    code = FROM_IMPORTS.replace("import numpy as np\n", "import numpy as np\nclass BatchNormalization: ...\n")
    code = code.replace("base.trainable = True\n", "base.trainable = True\nmodel.compile(optimizer='adam', loss='mse')\n")
    findings = lint(code, "keras3")
    assert [(f.rule, f.fixable) for f in findings] == [("BN004", False)]  # no `[*]`: nothing would change
    assert fix_source(code, findings) == (code, [])


def test_an_unfixable_finding_is_not_marked_fixable_and_diff_prints_nothing(project):
    # A statement sharing its line with an `if`: no safe place for the BN loop.
    (project / "train.py").write_text(FROM_IMPORTS.replace(
        "\nbase.trainable = True\n", "\nif True: base.trainable = True\nmodel.compile(optimizer='adam', loss='mse')\n"))
    result = run("check", "train.py", "--no-confirm", "--no-cache")
    assert result.exit_code == 1 and "BN004 " in result.stdout
    assert "[*]" not in result.stdout and "fixable" not in result.stdout
    diff = run("check", "train.py", "--no-confirm", "--no-cache", "--diff")
    assert (diff.exit_code, diff.stdout) == (0, "")


def test_a_multi_line_compile_copied_into_a_deeper_block_keeps_its_shape():
    code = """\
import keras
base = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(2)])
model.compile(
    optimizer="adam",
    loss="mse",
)
model.fit(x, y)
def fine_tune():
    for step in range(2):
        base.trainable = True
        model.fit(x, y)
fine_tune()
"""
    assert "        base.trainable = True\n" \
           "        for _layer in base.layers:\n" \
           "            if isinstance(_layer, keras.layers.BatchNormalization):\n" \
           "                _layer.trainable = False\n" \
           "        model.compile(\n" \
           "            optimizer=\"adam\",\n" \
           "            loss=\"mse\",\n" \
           "        )\n" \
           "        model.fit(x, y)\n" in fixed_until_settled(code, "keras3")
