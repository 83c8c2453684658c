"""The constructor knowledge: the YAML says what we expect, and keras.applications agrees."""

from __future__ import annotations

import inspect
import time

import pytest

from bnlint.knowledge import (
    batchnorm_words,
    constructor_info,
    hub_layer_info,
    known_constructors,
    preset_info,
)
from bnlint.prefilter import PREFILTER_WORDS


class TestLookups:
    def test_applications(self):
        resnet = constructor_info("keras.applications.ResNet50")
        assert (resnet.architecture, resnet.contains_bn, resnet.frozen_by_default, resnet.kind) == (
            "keras.applications.ResNet50", True, False, "model"
        )
        assert constructor_info("keras.applications.VGG16").contains_bn is False
        assert constructor_info("keras.applications.ConvNeXtTiny").contains_bn is False

    def test_layers(self):
        assert constructor_info("keras.layers.BatchNormalization").kind == "layer"
        assert constructor_info("keras.layers.SyncBatchNormalization").contains_bn is True
        for not_bn in ("LayerNormalization", "GroupNormalization", "Normalization", "UnitNormalization"):
            assert constructor_info(f"keras.layers.{not_bn}") is None

    def test_unknown_and_non_canonical_names(self):
        assert constructor_info("keras.applications.NotAModel") is None
        assert constructor_info("tf.keras.applications.ResNet50") is None  # callers canonicalise first

    def test_keras_hub_and_keras_cv(self):
        assert constructor_info("keras_hub.models.ResNetBackbone.from_preset").contains_bn is True
        assert constructor_info("keras_hub.models.MobileNetImageClassifier").contains_bn is True
        assert constructor_info("keras_hub.models.ViTBackbone.from_preset") is None
        assert constructor_info("keras_cv.models.YOLOV8Backbone.from_preset").contains_bn is True
        assert preset_info("keras_hub.models.Backbone.from_preset", "resnet_50_imagenet").contains_bn is True
        assert preset_info("keras_hub.models.Backbone.from_preset", "vit_base_patch16_224").contains_bn is False
        assert preset_info("keras_hub.models.Tokenizer.from_preset", "resnet_50") is None

    @pytest.mark.parametrize(
        ("handle", "contains_bn"),
        [
            ("https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5", True),
            ("https://tfhub.dev/tensorflow/efficientnet/b0/classification/1", True),
            ("https://www.kaggle.com/models/google/mobilenet-v2/TensorFlow2/100-224-feature-vector/2", True),
            ("https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5", True),
            ("https://tfhub.dev/google/bit/m-r50x1/1", False),  # GroupNormalization
            ("https://tfhub.dev/google/universal-sentence-encoder/4", False),
            (None, None),
        ],
    )
    def test_hub_handles(self, handle, contains_bn):
        info = hub_layer_info(handle)
        assert (info.contains_bn, info.frozen_by_default, info.architecture) == (contains_bn, True, "tensorflow_hub.KerasLayer")


def test_every_batchnorm_constructor_mentions_a_batchnorm_prefilter_word():
    # Scans skip code that mentions none of these words for the rules about BN-holding models, so
    # a constructor added to the knowledge without a word here would never be found.
    words = batchnorm_words()
    assert PREFILTER_WORDS["batchnorm"] == words and "BatchNorm" in words
    holding = {name: info for name, info in known_constructors("").items() if info.contains_bn is not False}
    assert len(holding) > 100
    missing = [name for name in holding if not any(word in name.removesuffix(".from_preset").rpartition(".")[2] for word in words)]
    assert missing == []
    assert not any(word in "keras.applications.VGG16 keras.layers.LayerNormalization" for word in words)


def _source_mentions_batchnorm(module) -> bool:
    related = {module}
    for value in vars(module).values():
        owner = value if inspect.ismodule(value) else inspect.getmodule(value) if inspect.isfunction(value) else None
        if owner is not None and owner.__name__.startswith(module.__name__.rpartition(".")[0] + "."):
            related.add(owner)
    return any("BatchNormalization" in inspect.getsource(m) for m in related)


# Builds one model per keras.applications module: the cheapest, by these name hints.
_CHEAP = ("Tiny", "Small", "Mobile", "B0", "121", "50", "16", "")
# Inception and Xception refuse inputs smaller than 75x75 / 71x71; the rest build at 32x32.
_MIN_SIDE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}


@pytest.mark.tf
def test_keras_applications_agree_with_the_installed_keras():
    started = time.perf_counter()
    import keras
    from keras import applications

    public = {
        name: getattr(applications, name)
        for name in dir(applications)
        if name[:1].isupper() and callable(getattr(applications, name))
    }
    listed = {name.rpartition(".")[2]: info for name, info in known_constructors("keras.applications.").items()}
    assert sorted(public) == sorted(listed), "rules/knowledge/batchnorm_constructors.yaml is out of date"

    by_module: dict[str, list[str]] = {}
    for name, constructor in public.items():
        by_module.setdefault(inspect.getmodule(constructor).__name__, []).append(name)
    built = {}
    for module_name, names in sorted(by_module.items()):
        cheapest = next(n for hint in _CHEAP for n in sorted(names) if hint in n)
        side = _MIN_SIDE.get(cheapest, 32)
        model = public[cheapest](weights=None, include_top=False, input_shape=(side, side, 3))
        has_bn = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
        # The other constructors of a module share its builder: its source (and that of the
        # application modules it builds on, as resnet_v2 on resnet) says whether BN is used.
        assert has_bn == _source_mentions_batchnorm(inspect.getmodule(public[cheapest])), module_name
        for name in names:
            assert listed[name].contains_bn is has_bn, f"{name}: the YAML says contains_bn={listed[name].contains_bn}"
        built[cheapest] = has_bn
        keras.backend.clear_session()
    assert built["VGG16"] is False and built["ResNet50"] is True
    for layer_name in ("LayerNormalization", "GroupNormalization", "Normalization", "UnitNormalization"):
        assert not issubclass(getattr(keras.layers, layer_name), keras.layers.BatchNormalization)
    assert time.perf_counter() - started < 60


@pytest.mark.tf
def test_sync_batchnormalization_keeps_moving_statistics_where_it_exists():
    # Keras 3 spells it BatchNormalization(synchronized=True); tf_keras (Keras 2) has the class.
    import tf_keras

    layer = tf_keras.layers.experimental.SyncBatchNormalization()
    layer.build((None, 4))
    assert {"moving_mean", "moving_variance"} <= {w.name.split(":")[0].rpartition("/")[2] for w in layer.weights}
    assert constructor_info("keras.layers.SyncBatchNormalization").contains_bn is True


def test_the_automagic_names_agree_with_the_installed_ipython():
    """rules/knowledge/ipython.yaml lists what IPython runs without `%`: its built-in line magics and
    default aliases, exactly, plus the magics notebook kernels add (disjoint from IPython's core)."""
    import inspect

    from IPython.core import magics
    from IPython.core.alias import default_aliases

    from bnlint import yaml_data
    from bnlint.knowledge import ipython_automagics
    from bnlint.shipped import knowledge_dir

    data = yaml_data.load((knowledge_dir() / "ipython.yaml").read_text(encoding="utf-8"))["ipython"]
    line_magics = set()
    for name in dir(magics):  # IPython 9 loads its magic classes lazily: dir() names them, getattr() loads
        value = getattr(magics, name)
        if inspect.isclass(value) and isinstance(getattr(value, "magics", None), dict):
            line_magics |= set(value.magics.get("line", {}))
    assert set(data["line_magics"]) == line_magics, "rules/knowledge/ipython.yaml: line_magics is out of date"
    assert set(data["aliases"]) == {name for name, _ in default_aliases()}, "rules/knowledge/ipython.yaml: aliases are out of date"
    assert not set(data["kernel_magics"]) & (line_magics | set(data["aliases"]))
    assert ipython_automagics() == line_magics | set(data["aliases"]) | set(data["kernel_magics"])


def test_layer_classes_are_knowledge_data():
    from bnlint.knowledge import layer_classes

    classes = layer_classes()
    assert classes.batchnorm == {"BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2", "SyncBatchNormalization"}
    assert {"Functional", "Sequential"} <= classes.models and "Dense" in classes.builtin and "KerasLayer" in classes.opaque
    assert not classes.batchnorm & classes.builtin  # a BN layer is never a plain one
    assert {"LayerNormalization", "GroupNormalization"} <= classes.builtin
    assert classes.builtin_packages == ("keras", "tf_keras") and "keras_hub" in classes.library_packages


class TestKerasPackages:
    """qubvel/efficientnet: `efficientnet.tfkeras` (tf.keras) and `efficientnet.keras` (standalone)."""

    @pytest.mark.parametrize("module", ["efficientnet.tfkeras", "efficientnet.keras"])
    def test_every_efficientnet_model_contains_batchnorm(self, module):
        for name in [f"EfficientNetB{i}" for i in range(8)] + ["EfficientNetL2"]:
            info = constructor_info(f"{module}.{name}")
            assert (info.architecture, info.contains_bn, info.kind) == (f"{module}.{name}", True, "model")
        assert constructor_info(f"{module}.preprocess_input") is None
        assert constructor_info("efficientnet.model.EfficientNetB0") is None  # needs Keras injected: not a user's call

    def test_the_modules_are_keras_family_imports(self):
        from bnlint.frontends.python.imports import IMPORTS_KERAS, KERAS_PACKAGE_MODULES, canonical, in_keras_family
        from bnlint.knowledge import package_modules

        assert set(package_modules()) == set(KERAS_PACKAGE_MODULES)
        for module in package_modules():
            assert in_keras_family(module) and in_keras_family(f"{module}.EfficientNetB0")
            assert canonical(f"{module}.EfficientNetB0") == f"{module}.EfficientNetB0"
            assert IMPORTS_KERAS.search(f"import {module} as efn\n") and IMPORTS_KERAS.search(f"from {module} import EfficientNetB0\n")
        # The package itself is not Keras: a project's own `efficientnet.py` stays the project's.
        assert not in_keras_family("efficientnet") and not in_keras_family("efficientnet.model")
        assert not IMPORTS_KERAS.search("import efficientnet_pytorch\nimport efficientnet\n")


FINE_TUNE = """\
import tensorflow as tf
{imports}
base = {constructor}(include_top=False, weights="imagenet", input_shape=(260, 260, 3))
base.trainable = False
inputs = tf.keras.Input((260, 260, 3))
x = tf.keras.layers.GlobalAveragePooling2D()(base(inputs))
model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, activation="sigmoid")(x))
model.compile("adam", "binary_crossentropy")
model.fit(data, epochs=5)
base.trainable = True
model.compile("adam", "binary_crossentropy")
model.fit(data, epochs=5)
"""


@pytest.mark.parametrize(("imports", "constructor"), [
    ("import efficientnet.tfkeras as efn", "efn.EfficientNetB2"),
    ("from efficientnet.tfkeras import EfficientNetB0", "EfficientNetB0"),
    ("from efficientnet import tfkeras", "tfkeras.EfficientNetB7"),
    ("import efficientnet.keras", "efficientnet.keras.EfficientNetL2"),
])
def test_an_efficientnet_package_base_is_a_frozen_batchnorm_base(imports, constructor):
    from bnlint import api

    (keras3,) = api.lint_source(FINE_TUNE.format(imports=imports, constructor=constructor))
    assert (keras3.rule, keras3.verdict, keras3.line) == ("BN004", "exposed", 10)
    (keras2,) = api.lint_source(FINE_TUNE.format(imports=imports, constructor=constructor), runtime="keras2")
    assert (keras2.rule, keras2.verdict, keras2.line) == ("BN001", "exposed", 6)
    assert keras2.subject.architecture.endswith(constructor.rpartition(".")[2])


def test_a_projects_own_efficientnet_module_is_still_read_as_the_projects(tmp_path, monkeypatch):
    # xuannianz/EfficientDet keeps its own efficientnet.py next to its scripts.
    from bnlint.config import Settings
    from bnlint.scan import scan

    (tmp_path / ".git").mkdir()
    (tmp_path / "efficientnet.py").write_text(
        "import tensorflow as tf\n\ndef EfficientNetB0(**kwargs):\n"
        "    return tf.keras.applications.ResNet50(include_top=False, **kwargs)\n"
    )
    (tmp_path / "train.py").write_text(FINE_TUNE.format(imports="import efficientnet", constructor="efficientnet.EfficientNetB0"))
    monkeypatch.chdir(tmp_path)
    (finding,) = scan(["."], Settings(cache=False, jobs=1)).findings
    assert (finding.rule, finding.subject.architecture) == ("BN004", "keras.applications.ResNet50")
