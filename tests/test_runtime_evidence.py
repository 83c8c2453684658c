"""What a script can only run on decides the runtime its findings assume (rules/knowledge/runtime_evidence.yaml).

Each case is a script frozen-and-fine-tuned the same way; the runtime decides the finding: keras3
reports the unfreeze (BN004), keras2 the call (BN001 exposed), legacy too (the frozen phase is
already wrong there). `runtime.source` names the evidence.
"""

from __future__ import annotations

import pytest

from bnlint import api

BODY = """\
base = {app}(include_top=False, pooling="avg")
base.trainable = False
inputs = {Input}((224, 224, 3))
model = {Model}(inputs, base(inputs))
model.compile(optimizer="adam", loss="mse")
{fit}
base.trainable = True
model.compile(optimizer="adam", loss="mse")
{fit}
"""


def runtime_of(head: str, fit: str = "model.fit(x, y)"):
    findings = api.lint_source(head + BODY.format(app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit=fit))
    assert len(findings) == 1, findings
    return findings[0].runtime.target, findings[0].runtime.source


@pytest.mark.parametrize(("head", "fit", "expected"), [
    ("import keras\n", "model.fit(x, y)", ("keras3", "default (no pins or imports say otherwise)")),
    ("import tf_keras as keras\n", "model.fit(x, y)", ("keras2", "import tf_keras (line 1)")),
    # TF1 API reached through tensorflow.compat.v1
    ("import tensorflow.compat.v1 as tf\nimport keras\nopt = tf.train.AdamOptimizer(1e-3)\n", "model.fit(x, y)",
     ("legacy", "tf.train.AdamOptimizer (line 3)")),
    ("import tensorflow.compat.v1 as tf\nimport keras\nsess = tf.Session()\n", "model.fit(x, y)", ("legacy", "tf.Session (line 3)")),
    # Keras 1 keywords, Keras 1 modules
    ("import keras\n", "model.fit(x, y, nb_epoch=3)", ("legacy", "fit(nb_epoch=...) (line 7)")),
    ("import keras\nfrom keras import initializations\n", "model.fit(x, y)", ("legacy", "from keras import initializations (line 2)")),
    # fit_generator: tf.keras 2 through tensorflow, Keras <= 2.3 through standalone keras
    ("import tensorflow as tf\nkeras = tf.keras\n", "model.fit_generator(batches)", ("keras2", "fit_generator() (line 8)")),
    ("import keras\n", "model.fit_generator(batches)", ("legacy", "fit_generator() (line 7)")),
    # ... but an API standalone Keras <= 2.3 never had is tf.keras-era Keras 2, however imported
    ("import keras\nfrom keras.layers.experimental import preprocessing\n", "model.fit(x, y)",
     ("keras2", "from keras.layers.experimental import preprocessing (line 2)")),
    ("import keras\n", "model.fit(x, y)\nmodel.save('saved_model')", ("legacy", "save('saved_model') (line 8)")),
    # APIs Keras 3 removed
    ("import tensorflow as tf\nkeras = tf.keras\naugment = tf.keras.layers.experimental.preprocessing.RandomFlip()\n",
     "model.fit(x, y)", ("keras2", "tf.keras.layers.experimental.preprocessing (line 3)")),
    ("import tensorflow as tf\nkeras = tf.keras\nest = tf.keras.estimator.model_to_estimator\n", "model.fit(x, y)",
     ("keras2", "tf.keras.estimator.model_to_estimator (line 3)")),
])
def test_the_evidence_decides_the_runtime(head, fit, expected):
    assert runtime_of(head, fit) == expected


def test_keras1_model_keywords_are_legacy():
    code = (
        "import keras\nfrom keras.models import Model\nbase = keras.applications.ResNet50(include_top=False)\n"
        "base.trainable = False\nx = keras.Input((224, 224, 3))\nmodel = Model(input=x, output=base(x))\n"
        "model.compile('sgd', 'mse')\nmodel.fit(x, y)\n"
    )
    (finding,) = api.lint_source(code)
    assert (finding.runtime.target, finding.runtime.source, finding.verdict) == ("legacy", "Model(input=...) (line 6)", "active")


def test_a_hub_layer_is_judged_as_keras2_with_fixes_that_apply_to_it():
    code = (
        "import tensorflow as tf\nimport tensorflow_hub as hub\n"
        "extractor = hub.KerasLayer('https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5')\n"
        "inputs = tf.keras.Input((224, 224, 3))\n"
        "model = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(extractor(inputs)))\n"
        "model.compile('adam', 'mse')\nmodel.fit(x, y)\n"
    )
    (finding,) = api.lint_source(code)
    assert finding.runtime.target == "keras2" and "hub.KerasLayer" in finding.runtime.source
    assert finding.fix == "Call it as `extractor(inputs, training=False)`."
    # Even when the rest of the file is forced to Keras 3, a hub layer is a tf_keras layer.
    (forced,) = api.lint_source(code, runtime="keras3")
    assert (forced.runtime.target, forced.rule, forced.verdict) == ("keras2", "BN001", "latent")
    assert "layers" not in forced.fix


# --- "not Keras 3" is legacy or keras2: the pins choose -------------------------------------------

TF_HEAD = "import tensorflow as tf\nkeras = tf.keras\n"  # BODY then starts at line 3


def scan_runtimes(tmp_path, monkeypatch, files: dict[str, str]):
    """(path, target, source) of each finding of a scan of a repository holding `files`."""
    from bnlint.config import Settings
    from bnlint.runtime import forget_pins
    from bnlint.scan import scan

    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    forget_pins()
    report = scan(["."], Settings(cache=False, jobs=1))
    assert not report.errors, report.errors
    return sorted((f.path, f.runtime.target, f.runtime.source) for f in report.findings)


def tf_script(fit: str = "model.fit(x, y)", head: str = TF_HEAD) -> str:
    return head + BODY.format(app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit=fit)


def test_removed_apis_rule_out_keras3_and_the_pins_choose_legacy_or_keras2(tmp_path, monkeypatch):
    augment = TF_HEAD + "augment = tf.keras.layers.experimental.preprocessing.RandomFlip()\n"
    found = scan_runtimes(tmp_path, monkeypatch, {
        "old/requirements.txt": "tensorflow==2.0.0\n",
        "old/train.py": tf_script("model.fit_generator(batches)"),
        "old/augment.py": tf_script(head=augment),
        "loose/requirements.txt": "tensorflow>=2.0\n",  # admits Keras 3, which fit_generator() rules out
        "loose/train.py": tf_script("model.fit_generator(batches)"),
        "unpinned/train.py": tf_script("model.fit_generator(batches)"),
    })
    assert found == [
        ("loose/train.py", "keras2", "fit_generator() (line 8), requirements.txt: tensorflow>=2.0"),
        ("old/augment.py", "legacy", "tf.keras.layers.experimental.preprocessing (line 3), requirements.txt: tensorflow==2.0.0"),
        ("old/train.py", "legacy", "fit_generator() (line 8), requirements.txt: tensorflow==2.0.0"),
        ("unpinned/train.py", "keras2", "fit_generator() (line 8)"),
    ]


def test_explicit_keras2_evidence_is_not_overridden_by_legacy_pins(tmp_path, monkeypatch):
    hub = (
        "import tensorflow as tf\nimport tensorflow_hub as hub\n"
        "extractor = hub.KerasLayer('https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5')\n"
        "inputs = tf.keras.Input((224, 224, 3))\n"
        "model = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(extractor(inputs)))\n"
        "model.compile('adam', 'mse')\nmodel.fit_generator(batches)\n"
    )
    found = scan_runtimes(tmp_path, monkeypatch, {
        "requirements.txt": "tensorflow==2.0.0\n",
        "tf_keras.py": tf_script("model.fit_generator(batches)", head="import tf_keras as keras\n"),
        "env.py": tf_script("model.fit_generator(batches)", head="import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport keras\n"),
        "hub.py": hub,
    })
    assert found == [
        ("env.py", "keras2", "TF_USE_LEGACY_KERAS=1 (line 2)"),
        ("hub.py", "keras2", "hub.KerasLayer (line 3)"),
        ("tf_keras.py", "keras2", "import tf_keras (line 1)"),
    ]


def test_standalone_keras_without_pins_stays_legacy_and_keras2_pins_make_it_keras2(tmp_path, monkeypatch):
    standalone = "import keras\n" + BODY.format(app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit="model.fit_generator(batches)")
    found = scan_runtimes(tmp_path, monkeypatch, {
        "bare/train.py": standalone,
        "pinned/requirements.txt": "keras==2.6.0\ntensorflow==2.6.0\n",
        "pinned/train.py": standalone,
        "efficientnet/requirements.txt": "",
        "efficientnet/train.py": standalone.replace(
            "import keras\n", "import keras\nimport efficientnet.keras as efn\n").replace("keras.applications.ResNet50", "efn.EfficientNetB0"),
    })
    assert found == [
        ("bare/train.py", "legacy", "fit_generator() (line 7)"),
        ("efficientnet/train.py", "legacy", "fit_generator() (line 8)"),
        ("pinned/train.py", "keras2", "fit_generator() (line 7), requirements.txt: keras==2.6.0"),
    ]


# --- saving calls every Keras 3 refuses ---------------------------------------------------------


def _saving(call: str, setup: str):
    """The runtime of the standard script on tf.keras, `setup` before it and `call` after it
    (at line 13 when `setup` is empty)."""
    code = TF_HEAD + setup + "DIR = 'checkpoints'\n" + BODY.format(
        app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit="model.fit(x, y)") + call + "\n"
    findings = api.lint_source(code)
    assert len(findings) == 1, findings
    return findings[0].runtime.target, findings[0].runtime.source


@pytest.mark.parametrize(("call", "evidence"), [
    # model.save(): Keras 3 writes `.keras` or `.h5` / `.hdf5` files only.
    ("model.save('saved_model/')", "save('saved_model/')"),
    ("model.save(filepath='exported')", "save('exported')"),
    ("model.save(DIR + '/model', save_format='tf')", "save('checkpoints/model')"),  # folded
    ("model.save(f'{DIR}/model')", "save('checkpoints/model')"),
    ("model.save('model.keras', signatures=None)", "save(signatures=...)"),
    ("tf.keras.models.save_model(model, 'export')", "save_model('export')"),
    ("model.save_weights('weights.h5')", "save_weights('weights.h5')"),  # Keras 3: `.weights.h5`
    ("model.save_weights('ckpt/model')", "save_weights('ckpt/model')"),
    ("model.save_weights(path, save_format='tf')", "save_weights(save_format=...)"),
    # ModelCheckpoint(): `.keras` or `.h5`; with save_weights_only=True, `.weights.h5`.
    ("tf.keras.callbacks.ModelCheckpoint('ckpt/', save_weights_only=True)", "ModelCheckpoint('ckpt/', save_weights_only=True)"),
    ("tf.keras.callbacks.ModelCheckpoint('w.h5', 'val_loss', 0, True, True)", "ModelCheckpoint('w.h5', save_weights_only=True)"),
    ("tf.keras.callbacks.ModelCheckpoint('best_model.hdf5', save_best_only=True)", "ModelCheckpoint('best_model.hdf5')"),
    ("tf.keras.callbacks.ModelCheckpoint('ckpt', save_weights_only=flag)", "ModelCheckpoint('ckpt')"),
    ("tf.keras.callbacks.ModelCheckpoint('best.h5', period=5)", "ModelCheckpoint(period=...)"),
])
def test_saving_calls_keras3_refuses_rule_it_out(call, evidence):
    assert _saving(call, "") == ("keras2", f"{evidence} (line 13)")


@pytest.mark.parametrize("call", [
    "model.save('model.keras')",
    "model.save('model.h5')",
    "model.save('model.hdf5', save_format='h5')",  # Keras 3 only warns about save_format here
    "model.save('folder', zipped=False)",  # Keras 3.5+ writes an unzipped folder
    "model.save('hf://user/model')",
    "model.save(path)",  # an unknown path is no evidence
    "model.save(os.path.join(DIR, 'model'))",
    "model.save(DIR + '/' + name)",
    "model.save_weights('model.weights.h5')",
    "model.save_weights('sharded.weights.json', max_shard_size=1)",
    "model.save_weights(path)",
    "tf.keras.callbacks.ModelCheckpoint('best.keras', save_best_only=True)",
    "tf.keras.callbacks.ModelCheckpoint('best.h5')",
    "tf.keras.callbacks.ModelCheckpoint('epoch{epoch:02d}.weights.h5', save_weights_only=True)",
    "tf.keras.callbacks.ModelCheckpoint('best.h5', save_weights_only=flag)",  # fine if flag is false
    "tf.keras.callbacks.ModelCheckpoint('ckpt/', **options)",
    "tf.saved_model.save(model, 'export')",  # TensorFlow's own: fine in both
    "tf.train.Checkpoint(model=model).save('ckpt/model')",
    "loaded = tf.keras.models.load_model('model.h5')\nloaded.save('saved_model/')",  # a receiver we cannot see
])
def test_saving_calls_keras3_accepts_say_nothing(call):
    assert _saving(call, "import os\n") == ("keras3", "default (no pins or imports say otherwise)")


@pytest.mark.parametrize(("call", "evidence"), [
    ("opt = tf.keras.optimizers.Adam(lr=1e-4)", "Adam(lr=...)"),
    ("opt = keras.optimizers.SGD(lr=0.01, momentum=0.9)", "SGD(lr=...)"),
    ("from tensorflow.keras.optimizers import RMSprop\nopt = RMSprop(lr=1e-3)", "RMSprop(lr=...)"),
])
def test_an_optimizer_given_lr_rules_keras3_out(call, evidence):
    # Keras 3 optimizers raise "Argument(s) not recognized: {'lr': ...}"; tf.keras 2 only warns.
    target, source = _saving(call, "")
    assert (target, source.rpartition(" (line")[0]) == ("keras2", evidence)


@pytest.mark.parametrize("call", ["opt = tf.keras.optimizers.Adam(learning_rate=1e-4)", "opt = tf.keras.optimizers.Adam(1e-4)"])
def test_an_optimizer_given_learning_rate_says_nothing(call):
    assert _saving(call, "") == ("keras3", "default (no pins or imports say otherwise)")


def test_input_imported_from_keras_models_rules_keras3_out():
    # Keras 2 re-exported Input from keras.models; Keras 3 has no keras.models.Input.
    target, source = _saving("", "from tensorflow.keras.models import Input\n")
    assert (target, source.rpartition(" (line")[0]) == ("keras2", "from tensorflow.keras.models import Input")


# --- a notebook's kernel ----------------------------------------------------------------------


def _notebook(metadata: dict, *cells: str) -> str:
    import json

    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": metadata, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": c} for c in cells]})


NOTEBOOK_CELLS = ("import tensorflow as tf\nkeras = tf.keras\n", BODY.format(
    app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit="model.fit(x, y)"))


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"language_info": {"name": "python", "version": "3.6.9"}}, ("keras2", "Python 3.6.9 kernel (notebook metadata)")),
    ({"kernelspec": {"name": "python3", "display_name": "Python 3.7 (tensorflow)", "language": "python"}},
     ("keras2", "Python 3.7 kernel (notebook metadata)")),
    # Python 2 runs no TensorFlow after 2.1 and no standalone Keras after 2.3: legacy.
    ({"kernelspec": {"name": "python2", "display_name": "Python 2", "language": "python"}}, ("legacy", "Python 2 kernel (notebook metadata)")),
    ({"language_info": {"name": "python", "version": "2.7.15"}}, ("legacy", "Python 2.7.15 kernel (notebook metadata)")),
    ({"language_info": {"name": "python", "version": "3.5.2"}}, ("keras2", "Python 3.5.2 kernel (notebook metadata)")),
    # The version the kernel ran decides over its display name.
    ({"kernelspec": {"display_name": "Python 3.6"}, "language_info": {"name": "python", "version": "3.10.12"}},
     ("keras3", "default (no pins or imports say otherwise)")),
    ({"kernelspec": {"display_name": "Python 3"}}, ("keras3", "default (no pins or imports say otherwise)")),
    ({"language_info": {"name": "python", "version": "3.9.0"}}, ("keras3", "default (no pins or imports say otherwise)")),
    ({"language_info": "3.6"}, ("keras3", "default (no pins or imports say otherwise)")),  # malformed: ignored
])
def test_a_kernel_older_than_keras3_supports_rules_it_out(metadata, expected):
    (finding,) = api.lint_source(_notebook(metadata, *NOTEBOOK_CELLS), kind="notebook")
    assert (finding.runtime.target, finding.runtime.source) == expected


def test_a_notebook_kernel_with_legacy_pins_is_legacy_and_explicit_keras2_still_wins(tmp_path, monkeypatch):
    old = {"language_info": {"name": "python", "version": "3.6.9"}}
    found = scan_runtimes(tmp_path, monkeypatch, {
        "requirements.txt": "tensorflow==2.1.0\n",
        "old.ipynb": _notebook(old, *NOTEBOOK_CELLS),
        "legacy_keras.ipynb": _notebook(old, "%env TF_USE_LEGACY_KERAS=1\n", *NOTEBOOK_CELLS),
    })
    assert found == [
        ("legacy_keras.ipynb", "keras2", "%env TF_USE_LEGACY_KERAS=1 (cell 1, line 1)"),
        ("old.ipynb", "legacy", "Python 3.6.9 kernel (notebook metadata), requirements.txt: tensorflow==2.1.0"),
    ]


def test_the_python_floor_is_keras3s_own():
    """`python_below` in the data is at or below what Keras 3 asks for (3.0.0 asked for >= 3.9)."""
    from importlib.metadata import metadata

    from packaging.specifiers import SpecifierSet

    from bnlint.frontends.python.evidence import python_rules_out_keras3

    requires = SpecifierSet(metadata("keras")["Requires-Python"])
    assert metadata("keras")["Version"].startswith("3.")
    assert python_rules_out_keras3("3.8.18") and not requires.contains("3.8.18")
    assert not python_rules_out_keras3("3.9.0") and not python_rules_out_keras3("3.12.1")
    assert python_rules_out_keras3("2.7.15") and not python_rules_out_keras3("3")


def test_the_cache_knows_the_pins_below_keras3(tmp_path, monkeypatch):
    # `keras>=3` decides the pins' reading (keras3) both times; only the reading below Keras 3,
    # the one fit_generator() asks for, changes with the tensorflow pin.
    from bnlint.config import Settings
    from bnlint.runtime import forget_pins
    from bnlint.scan import scan

    (tmp_path / ".git").mkdir()
    (tmp_path / "train.py").write_text(tf_script("model.fit_generator(batches)"))
    monkeypatch.chdir(tmp_path)
    settings = Settings(cache_dir=tmp_path / "cache", jobs=1)
    targets = []
    for tensorflow in ("2.0.0", "2.8.0"):
        (tmp_path / "requirements.txt").write_text(f"keras>=3\ntensorflow=={tensorflow}\n")
        forget_pins()
        targets += [f.runtime.target for f in scan(["."], settings).findings]
    assert targets == ["legacy", "keras2"]


@pytest.mark.parametrize(("magic", "expected"), [
    # Colab's TensorFlow 1.15: frozen BN layers train on batch statistics.
    ("%tensorflow_version 1.x\n", ("legacy", "%tensorflow_version 1.x (cell 1, line 1)", "active")),
    # A TensorFlow 2 before 2.16 (Colab removed the magic in 2022): tf.keras 2 without pins.
    ("try:\n  %tensorflow_version 2.x\nexcept Exception:\n  pass\n", ("keras2", "%tensorflow_version 2.x (cell 1, line 2)", "exposed")),
])
def test_colab_tensorflow_version_magic(magic, expected):
    (finding,) = api.lint_source(_notebook({}, magic, *NOTEBOOK_CELLS), kind="notebook")
    assert (finding.runtime.target, finding.runtime.source, finding.verdict) == expected
