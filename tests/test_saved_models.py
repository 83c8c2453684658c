"""Saved models are read without TensorFlow: real files written by Keras 3 and tf_keras, lowered to facts.

The fixtures in tests/fixtures/models are built by scripts/make_models.py; the tests marked `tf`
rebuild some of them with the installed writers and check the readers still agree.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bnlint.engine import run_rules
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.models.reader import (
    analyze_file,
    is_savedmodel_dir,
    read_model_config,
)
from bnlint.ir import Runtime
from bnlint.knowledge import layer_classes
from bnlint.rules import load_rules
from bnlint.runtime import from_keras_version

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
KERAS3 = Runtime("keras3", "test")


def unit_of(name: str):
    return analyze_file(MODELS / name, name)


def findings_of(unit) -> set[tuple[str, str | None]]:
    return {(f.rule, f.layer_path) for f in run_rules(unit, load_rules())}


def calls_of(unit, callee: str) -> list[tuple]:
    return [(c.training, c.composition, c.container, c.enclosing_training_false) for c in unit.calls if c.callee == callee]


def facts(unit) -> tuple:
    """Everything the rules can see, in a comparable form (the runtime's source aside)."""
    models = {
        key: (m.name, m.cls, m.kind, m.contains_bn, m.frozen, m.partially_frozen, m.trainable_bn, m.bn_kept_frozen, m.opaque)
        for key, m in unit.models.items()
    }
    calls = [(c.callee, c.training, c.composition, c.container, c.enclosing_training_false) for c in unit.calls]
    return unit.runtime.target, models, calls


# --- each format, each dialect ------------------------------------------------------------------


def test_keras3_archive_frozen_base_called_without_training_false():
    unit = unit_of("k3_frozen_call.keras")
    assert unit.kind == "model" and unit.sources == {}
    assert unit.runtime == Runtime("keras3", "metadata.json keras_version 3.15.1")
    base = unit.models["backbone"]
    assert (base.cls, base.kind, base.contains_bn, base.frozen, base.opaque) == ("Functional", "model", True, True, False)
    assert base.location.layer_path == "backbone"
    assert calls_of(unit, "backbone") == [("absent", "call", "", False)]
    # Plain BN layers inside (no explicit `training`) are counted into the model, not recorded.
    assert "backbone/backbone_bn1" not in unit.models
    assert findings_of(unit) == {("BN001", "backbone")}


def test_keras3_archive_with_training_false_at_the_call():
    unit = unit_of("k3_training_false.keras")
    assert calls_of(unit, "backbone") == [("false", "call", "", False)]
    # Keras 3: fit() would override the stored training=False; a note either way.
    assert findings_of(unit) == {("BN001", "backbone")}


def test_keras2_dialect_hdf5_from_tf_keras():
    unit = unit_of("tfk_frozen_call.h5")
    assert unit.runtime == Runtime("keras2", "HDF5 keras_version 2.21.0")
    raw = json.loads(_h5_attr(MODELS / "tfk_frozen_call.h5", "model_config"))
    # The nodes really are the Keras 2 list form: [[name, node_index, tensor_index, kwargs]].
    backbone_entry = next(layer for layer in raw["config"]["layers"] if layer["name"] == "backbone")
    assert backbone_entry["inbound_nodes"] == [[["image", 0, 0, {}]]]
    assert calls_of(unit, "backbone") == [("absent", "call", "", False)]
    assert findings_of(unit) == {("BN001", "backbone")}


def test_tf_keras_also_writes_keras_archives_in_the_keras2_dialect():
    unit = unit_of("tfk_frozen_call.keras")
    assert unit.runtime == Runtime("keras2", "metadata.json keras_version 2.21.0")
    assert facts(unit) == facts(unit_of("tfk_frozen_call.h5"))


def test_keras3_hdf5_reads_like_the_keras3_archive():
    unit = unit_of("k3_frozen_call.h5")
    assert unit.runtime == Runtime("keras3", "HDF5 keras_version 3.15.1")
    assert facts(unit) == facts(unit_of("k3_frozen_call.keras"))


def test_tf_keras_savedmodel_directory():
    folder = MODELS / "tfk_savedmodel"
    assert is_savedmodel_dir(folder) and not (folder / "fingerprint.pb").exists()
    unit = analyze_file(folder, "tfk_savedmodel")
    assert unit.path == "tfk_savedmodel"
    assert unit.runtime == Runtime("keras2", "keras_metadata.pb keras_version 2.21.0")
    assert facts(unit) == facts(unit_of("tfk_frozen_call.h5"))
    assert findings_of(unit) == {("BN001", "backbone")}


def test_tf24_savedmodel_keeps_the_metadata_in_saved_model_pb():
    folder = MODELS / "tfk_savedmodel_tf24_layout"
    assert not (folder / "keras_metadata.pb").exists()
    assert facts(analyze_file(folder, "old")) == facts(unit_of("tfk_savedmodel"))


def test_read_model_config_returns_the_config_exactly_as_stored():
    config, version, kind = read_model_config(MODELS / "k3_frozen_call.keras")
    with zipfile.ZipFile(MODELS / "k3_frozen_call.keras") as archive:
        assert config == json.loads(archive.read("config.json"))
    assert (version, kind) == ("3.15.1", "keras")

    config, version, kind = read_model_config(MODELS / "tfk_frozen_call.h5")
    assert config == json.loads(_h5_attr(MODELS / "tfk_frozen_call.h5", "model_config"))
    assert (version, kind) == ("2.21.0", "h5")

    config, version, kind = read_model_config(MODELS / "tfk_savedmodel")
    assert (config["class_name"], config["config"]["name"], version, kind) == ("Functional", "classifier", "2.21.0", "savedmodel")


def test_a_renamed_file_is_read_by_its_content(tmp_path):
    renamed = tmp_path / "model.h5"
    shutil.copy(MODELS / "k3_frozen_call.keras", renamed)
    assert read_model_config(renamed)[2] == "keras"
    no_suffix = tmp_path / "model"
    shutil.copy(MODELS / "tfk_frozen_call.h5", no_suffix)
    assert read_model_config(no_suffix)[2] == "h5"


# --- structure: nesting, containers, freezing ------------------------------------------------------


def test_nested_models_get_slash_joined_layer_paths():
    unit = unit_of("k3_nested.keras")
    assert {"encoder", "encoder/backbone"} <= set(unit.models)
    assert calls_of(unit, "encoder") == [("absent", "call", "", False)]
    assert calls_of(unit, "encoder/backbone") == [("absent", "call", "encoder", False)]
    # The encoder holds a trainable projection: it is not frozen, its backbone is.
    assert (unit.models["encoder"].frozen, unit.models["encoder/backbone"].frozen) == (False, True)
    assert unit.models["encoder"].contains_bn is True
    assert findings_of(unit) == {("BN001", "encoder/backbone")}


@pytest.mark.parametrize("name", ["k3_frozen_inside_encoder.keras", "tfk_frozen_inside_encoder.h5", "tfk_frozen_inside_encoder_savedmodel"])
def test_the_finding_is_about_the_innermost_frozen_base(name):
    """The encoder's own `trainable` is True; it holds nothing but the frozen backbone, so all its
    layers are frozen. The base is the backbone, where the freezing happened."""
    unit = unit_of(name)
    encoder, backbone = unit.models["encoder"], unit.models["encoder/backbone"]
    assert (encoder.frozen, encoder.contains_bn, backbone.frozen, backbone.contains_bn) == (False, True, True, True)
    findings = run_rules(unit, load_rules())
    assert [(f.rule, f.layer_path, f.subject.name) for f in findings] == [("BN001", "encoder/backbone", "backbone")]
    assert findings[0].message.startswith("Frozen `backbone` (Functional)")


def test_a_model_whose_layers_are_frozen_one_by_one_is_a_frozen_base():
    # No nested model carries the freeze: the encoder is where it happened, so it stays the base.
    def layer(name, cls):
        return {"class_name": cls, "name": name, "config": {"name": name, "trainable": False}, "inbound_nodes": [[["x", 0, 0, {}]]]}

    encoder = {"class_name": "Functional", "name": "encoder", "config": {"name": "encoder", "trainable": True, "layers": [
        layer("conv", "Conv2D"), layer("bn", "BatchNormalization")]}, "inbound_nodes": [[["image", 0, 0, {}]]]}
    unit = lower_config({"class_name": "Functional", "config": {"name": "top", "layers": [encoder]}}, "m.h5", Runtime("keras2", "test"))
    assert unit.models["encoder"].frozen is True
    assert findings_of(unit) == {("BN001", "encoder")}


def test_training_false_on_an_enclosing_call_protects_the_nested_call():
    unit = unit_of("tfk_nested_training_false.h5")
    assert calls_of(unit, "encoder") == [("false", "call", "", False)]
    assert calls_of(unit, "encoder/backbone") == [("absent", "call", "encoder", True)]
    assert findings_of(unit) == set()


def test_one_unprotected_call_of_the_enclosing_model_leaves_the_inner_call_exposed():
    def functional(name, layers, trainable=True):
        return {"class_name": "Functional", "name": name, "config": {"name": name, "trainable": trainable, "layers": layers, "input_layers": []}}

    backbone = functional("backbone", [{"class_name": "BatchNormalization", "config": {"name": "bn", "trainable": False}, "inbound_nodes": [[["x", 0, 0, {}]]]}], False)
    backbone["inbound_nodes"] = [[["x", 0, 0, {}]]]
    encoder = functional("encoder", [backbone])
    encoder["inbound_nodes"] = [[["a", 0, 0, {"training": False}]], [["b", 0, 0, {}]]]
    unit = lower_config(functional("top", [encoder]), "m.h5", Runtime("keras2", "test"))
    assert [c.training for c in unit.calls if c.callee == "encoder"] == ["false", "absent"]
    assert calls_of(unit, "encoder/backbone") == [("absent", "call", "encoder", False)]


def test_every_element_of_a_sequential_is_composed_not_called():
    for name in ("k3_sequential.keras", "tfk_sequential.h5"):
        unit = unit_of(name)
        assert unit.models[""].cls == "Sequential"
        assert calls_of(unit, "backbone") == [("absent", "sequential", "", False)], name
        assert findings_of(unit) == {("BN002", "backbone")}, name


def test_time_distributed_model_inside_a_sequential():
    unit = unit_of("k3_time_distributed.keras")
    # The wrapper is a layer on the path; the wrapped model is the callee.
    assert calls_of(unit, "per_frame/backbone") == [("absent", "time_distributed", "", False)]
    assert "per_frame" not in unit.models
    assert findings_of(unit) == {("BN002", "per_frame/backbone")}


def test_partially_frozen_base_with_trainable_batchnorm():
    unit = unit_of("k3_partial.keras")
    base = unit.models["backbone"]
    assert (base.frozen, base.partially_frozen, base.trainable_bn, base.bn_kept_frozen) == (False, True, True, False)
    # Partial freezing is judged where it happens: the model around the base is not partially frozen.
    assert unit.models[""].partially_frozen is False
    assert findings_of(unit) == {("BN004", "backbone")}


def test_batchnorm_kept_frozen_while_the_base_is_fine_tuned():
    unit = unit_of("k3_bn_kept_frozen.keras")
    base = unit.models["backbone"]
    assert (base.frozen, base.partially_frozen, base.trainable_bn, base.bn_kept_frozen) == (False, True, False, True)
    assert findings_of(unit) == set()


def test_a_frozen_base_is_not_a_base_whose_batchnorm_was_kept_frozen():
    unit = unit_of("k3_frozen_call.keras")
    assert unit.models["backbone"].bn_kept_frozen is False
    assert unit.models[""].bn_kept_frozen is False  # its BN layers are frozen by the frozen base


def test_subclassed_model_is_opaque_and_never_guessed_about():
    unit = unit_of("k3_subclassed.keras")
    assert list(unit.models) == [""]
    top = unit.models[""]
    assert (top.cls, top.kind, top.opaque, top.contains_bn) == ("TinyNet", "model", True, None)
    assert unit.calls == []
    assert findings_of(unit) == set()


def test_a_real_application_config():
    """MobileNetV3Small (weights=None, 32x32) saved by Keras 3, with the weights member dropped."""
    name = "k3_mobilenetv3small_config_only.keras"
    with zipfile.ZipFile(MODELS / name) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json"]
        bn_count = archive.read("config.json").count(b'"class_name": "BatchNormalization"')
    unit = unit_of(name)
    base = unit.models["MobileNetV3Small"]
    assert (base.frozen, base.contains_bn) == (True, True)
    assert bn_count > 10
    # Its BN layers are counted into it, not recorded one by one (none has an explicit `training`).
    assert [m.key for m in unit.models.values()] == ["", "MobileNetV3Small"]
    assert not any(m.opaque for m in unit.models.values())
    assert findings_of(unit) == {("BN001", "MobileNetV3Small")}


# --- configs written by hand: the corners real writers rarely reach -------------------------------


def _node(**kwargs):
    return [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}], "kwargs": kwargs}]


def _model_of(*layers, **config):
    return {"class_name": "Functional", "config": {"name": "m", "layers": list(layers), "input_layers": [], **config}}


def test_batchnorm_is_matched_by_exact_class_name():
    layers = [
        {"class_name": cls, "name": cls.lower(), "config": {"name": cls.lower()}, "inbound_nodes": _node(training=True)}
        for cls in ("BatchNormalization", "SyncBatchNormalization", "Normalization", "LayerNormalization", "GroupNormalization")
    ]
    unit = lower_config(_model_of(*layers), "m.keras", KERAS3)
    assert {m.cls for m in unit.models.values() if m.kind == "layer"} == {"BatchNormalization", "SyncBatchNormalization"}
    only_norms = lower_config(_model_of(*layers[2:]), "m.keras", KERAS3)
    assert only_norms.models[""].contains_bn is False
    assert list(only_norms.models) == [""]


def test_custom_layers_are_opaque_in_both_dialects():
    keras3_custom = {"module": "my_project.blocks", "class_name": "ResidualBlock", "name": "block", "config": {"name": "block"}, "inbound_nodes": _node()}
    keras2_custom = {"class_name": "ResidualBlock", "name": "block2", "config": {"name": "block2"}, "inbound_nodes": [[["x", 0, 0, {}]]]}
    hub_layer = {"class_name": "KerasLayer", "name": "hub", "config": {"name": "hub", "handle": "https://tfhub.dev/x"}, "inbound_nodes": [[["x", 0, 0, {}]]]}
    unit = lower_config(_model_of(keras3_custom, keras2_custom, hub_layer), "m.keras", KERAS3)
    for key in ("block", "block2", "hub"):
        assert (unit.models[key].opaque, unit.models[key].contains_bn) == (True, None), key
    assert unit.models[""].contains_bn is None  # nothing visible, something unknown
    builtin = {"module": "keras.layers", "class_name": "Dense", "name": "d", "config": {"name": "d"}, "inbound_nodes": _node()}
    assert list(lower_config(_model_of(builtin), "m.keras", KERAS3).models) == [""]


def test_training_values_in_both_dialects():
    layers = [
        {"class_name": "BatchNormalization", "name": "k3_true", "config": {"name": "k3_true"}, "inbound_nodes": _node(training=True)},
        {"class_name": "BatchNormalization", "name": "k3_null", "config": {"name": "k3_null"}, "inbound_nodes": _node(training=None)},
        {"class_name": "BatchNormalization", "name": "k2_true", "config": {"name": "k2_true"}, "inbound_nodes": [[["x", 0, 0, {"training": True}]]]},
        {"class_name": "BatchNormalization", "name": "k2_tensor", "config": {"name": "k2_tensor"}, "inbound_nodes": [[["x", 0, 0, {"training": ["flag", 0, 0]}]]]},
        {"class_name": "BatchNormalization", "name": "k2_old", "config": {"name": "k2_old"}, "inbound_nodes": [[["x", 0, 0]]]},
        # Two inputs: Keras 2 loads the kwargs of the last one.
        {"class_name": "BatchNormalization", "name": "k2_two", "config": {"name": "k2_two"},
         "inbound_nodes": [[["x", 0, 0, {"training": True}], ["y", 0, 0, {"training": False}]]]},
    ]
    unit = lower_config(_model_of(*layers), "m.h5", KERAS3)
    # Calls without an explicit `training` (k3_null, k2_old) leave a plain BN layer unrecorded.
    assert [(c.callee, c.training) for c in unit.calls] == [
        ("k3_true", "true"), ("k2_true", "true"), ("k2_tensor", "dynamic"), ("k2_two", "false")]
    assert unit.models[""].contains_bn is True


def test_keras_2_2_sequential_config_is_a_bare_list():
    base = {"class_name": "Model", "config": {"name": "resnet50", "trainable": False, "layers": [
        {"class_name": "BatchNormalization", "name": "bn_conv1", "config": {"name": "bn_conv1", "trainable": False}, "inbound_nodes": [[["conv1", 0, 0, {}]]]},
    ], "input_layers": [["input_1", 0, 0]]}}
    config = {"class_name": "Sequential", "config": [base, {"class_name": "Dense", "config": {"name": "dense_1"}}]}
    unit = lower_config(config, "old.h5", from_keras_version("2.2.4", "HDF5 keras_version"))
    assert unit.runtime.target == "legacy"
    assert calls_of(unit, "resnet50") == [("absent", "sequential", "", False)]
    assert findings_of(unit) == {("BN002", "resnet50")}


def test_sequential_is_told_by_structure_when_the_class_is_a_subclass():
    inner = {"class_name": "Functional", "config": {"name": "base", "layers": [
        {"class_name": "BatchNormalization", "config": {"name": "bn"}, "inbound_nodes": _node()}]}}
    custom_sequential = {"class_name": "MySequential", "config": {"name": "s", "layers": [dict(inner)]}}
    assert calls_of(lower_config(custom_sequential, "m.keras", KERAS3), "base") == [("absent", "sequential", "", False)]
    # Hand-written functional configs (rule examples) may leave out input_layers: still a graph.
    functional = {"class_name": "Functional", "config": {"name": "f", "layers": [dict(inner, inbound_nodes=_node())]}}
    assert calls_of(lower_config(functional, "m.keras", KERAS3), "base") == [("absent", "call", "", False)]


def test_wrappers_pass_their_calls_to_the_wrapped_layer():
    inner = {"class_name": "Functional", "config": {"name": "cnn", "trainable": False, "layers": [
        {"class_name": "BatchNormalization", "config": {"name": "bn"}, "inbound_nodes": _node(training=True)}]}}
    wrapper = {"class_name": "TimeDistributed", "name": "td", "config": {"name": "td", "layer": inner}, "inbound_nodes": _node(training=False)}
    unit = lower_config(_model_of(wrapper), "m.keras", KERAS3)
    assert calls_of(unit, "td/cnn") == [("false", "call", "", False)]
    # The wrapper's training=False reaches the model inside, and through it the layers it calls.
    assert calls_of(unit, "td/cnn/bn") == [("true", "call", "td/cnn", True)]


def test_an_old_tf_keras_savedmodel_directory_named_like_an_archive(tmp_path):
    folder = tmp_path / "model.keras"  # what model.save("model.keras") wrote before TF 2.12
    shutil.copytree(MODELS / "tfk_savedmodel", folder)
    assert read_model_config(folder)[2] == "savedmodel"


@pytest.mark.parametrize(
    ("version", "target"),
    [("3.15.1", "keras3"), ("3.0.0", "keras3"), ("2.21.0", "keras2"), ("2.15.0", "keras2"), ("2.4.0", "keras2"),
     ("2.3.0-tf", "keras2"), ("2.2.4-tf", "legacy"), ("2.3.1", "legacy"), ("2.1.6", "legacy")],
)
def test_runtime_from_the_recorded_keras_version(version, target):
    runtime = from_keras_version(version, "metadata.json keras_version")
    assert runtime == Runtime(target, f"metadata.json keras_version {version}")


def test_runtime_when_the_version_is_missing_or_unreadable():
    assert from_keras_version(None, "HDF5 keras_version") == Runtime("keras3", "HDF5 keras_version not recorded, assuming keras3")
    assert from_keras_version("unknown", "x").target == "keras3"


def test_examples_show_a_real_finding_and_a_clean_one():
    examples = ROOT / "examples"
    assert findings_of(analyze_file(examples / "finetune_frozen.keras", "finetune_frozen.keras")) == {("BN001", "backbone")}
    tf_keras = analyze_file(examples / "tf_keras_frozen.h5", "tf_keras_frozen.h5")
    assert tf_keras.runtime.target == "keras2" and findings_of(tf_keras) == {("BN001", "backbone")}
    assert findings_of(analyze_file(examples / "finetune_ok.keras", "finetune_ok.keras")) == set()


def test_reading_saved_models_never_imports_tensorflow_or_keras():
    code = (
        "import sys; from pathlib import Path; from bnlint.frontends.models.reader import analyze_file\n"
        f"for name in {['k3_nested.keras', 'tfk_frozen_call.h5', 'tfk_savedmodel', 'tfk_savedmodel_tf24_layout']!r}:\n"
        f"    analyze_file(Path({str(MODELS)!r}) / name, name)\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'tf_keras', 'google.protobuf') if m in sys.modules]\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- the real writers, now ----------------------------------------------------------------------------


def _h5_attr(path: Path, name: str) -> str:
    import h5py

    with h5py.File(path, "r") as h5:
        value = h5.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def _make_models():
    spec = importlib.util.spec_from_file_location("make_models", ROOT / "scripts" / "make_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.tf
@pytest.mark.parametrize("name", ["k3_nested", "k3_partial", "tfk_nested_training_false", "tfk_savedmodel", "k3_frozen_inside_encoder",
                                  "tfk_frozen_inside_encoder", "tfk_frozen_inside_encoder_savedmodel"])
def test_the_installed_writers_still_produce_what_the_fixtures_hold(name, tmp_path):
    make_models = _make_models()
    fresh = make_models.build(name, tmp_path)
    stored = MODELS / fresh.name
    fresh_unit, stored_unit = analyze_file(fresh, fresh.name), analyze_file(stored, fresh.name)
    assert facts(fresh_unit) == facts(stored_unit)
    assert make_models.size_of(fresh) < make_models.SIZE_LIMIT


@pytest.mark.tf
def test_builtin_layer_names_cover_the_installed_keras():
    """Every layer class keras and tf_keras export is known: built-in, BN, a model, or opaque on purpose."""
    import inspect

    import keras
    import tf_keras

    classes = layer_classes()
    known = classes.builtin | classes.batchnorm | classes.models | classes.opaque
    for module, base in ((keras.layers, keras.layers.Layer), (tf_keras.layers, tf_keras.layers.Layer)):
        names = {obj.__name__ for obj in vars(module).values() if inspect.isclass(obj) and issubclass(obj, base)}
        assert names - known == set(), f"rules/knowledge/keras_layer_classes.yaml misses layers of {module.__name__}"


# --- one walker for every reader and writer of a config ---------------------------------------------------


def _repeated_names_config() -> dict:
    """A hand-edited Keras 2 config: two layers named `backbone`, only the second one frozen, plus
    a custom class after them (what the confirm screen must name by the same path)."""
    def base(trainable):
        return {"class_name": "Functional", "name": "backbone", "config": {"name": "backbone", "trainable": trainable, "layers": [
            {"class_name": "InputLayer", "name": "i", "config": {"name": "i"}, "inbound_nodes": []},
            {"class_name": "BatchNormalization", "name": "bn", "config": {"name": "bn", "trainable": trainable}, "inbound_nodes": [[["i", 0, 0, {}]]]}]},
            "inbound_nodes": [[["image", 0, 0, {}]]]}

    custom = {"class_name": "Mystery", "name": "backbone", "config": {"name": "backbone"}, "inbound_nodes": [[["image", 0, 0, {}]]]}
    return {"class_name": "Functional", "config": {"name": "top", "layers": [
        {"class_name": "InputLayer", "name": "image", "config": {"name": "image"}, "inbound_nodes": []}, base(True), base(False), custom]}}


def test_every_walk_spells_repeated_names_the_same_way():
    from bnlint import api
    from bnlint.confirm.safety import screen_config
    from bnlint.fix.model import index_layers, plan_model_fix
    from bnlint.frontends.models import config_tree

    config = _repeated_names_config()
    paths = [layer.path for layer in config_tree.walk(config)]
    assert paths[:4] == ["", "image", "backbone", "backbone/i"]
    assert "backbone#2" in paths and "backbone#2/bn" in paths and "backbone#3" in paths
    # The lowering, the screen and the fixer agree on which `backbone` is which.
    findings = api.lint_model_config(config, "2.15.0")
    assert [(f.rule, f.layer_path) for f in findings] == [("BN001", "backbone#2")]
    assert [c.layer_path for c in screen_config(config, "2.15.0", "h5").custom] == ["backbone#3"]
    assert set(index_layers(config)) >= {"backbone", "backbone#2", "backbone#3"}
    fix = plan_model_fix(config, findings)
    nodes = [entry["inbound_nodes"] for entry in fix.config["config"]["layers"][1:]]
    assert nodes == [[[["image", 0, 0, {}]]], [[["image", 0, 0, {"training": False}]]], [[["image", 0, 0, {}]]]]
    assert not api.lint_model_config(fix.config, "2.15.0")


def test_names_that_collide_with_the_suffixes_stay_distinct():
    from bnlint.frontends.models import config_tree

    layers = [{"class_name": "Dense", "name": name, "config": {"name": name}} for name in ("d", "d#2", "d", "d", "d#3")]
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": layers}}
    assert [layer.path for layer in config_tree.walk(config)][1:] == ["d", "d#2", "d#3", "d#4", "d#3#2"]


def test_the_walker_reports_wrappers_callers_and_containers():
    from bnlint.frontends.models import config_tree

    unit_config = zipfile.ZipFile(MODELS / "k3_time_distributed.keras").read("config.json")
    config = json.loads(unit_config)
    by_path = {layer.path: layer for layer in config_tree.walk(config)}
    wrapped = by_path["per_frame/backbone"]
    assert (wrapped.container.path, wrapped.owner.path, wrapped.wrapped) == ("per_frame", "", True)
    assert wrapped.caller is by_path["per_frame"].entry  # its calls are the wrapper's
    assert wrapped.nodes is None  # an element of a Sequential: no node can pass `training`
    assert config_tree.layer_at(config, "per_frame/backbone") is not None
    assert config_tree.layer_at(config, "per_frame/nothing") is None


@pytest.mark.parametrize(
    ("node", "value"),
    [
        ({"args": [], "kwargs": {"training": False}}, False),
        ({"args": [], "kwargs": {}}, "absent"),
        ({"args": []}, "absent"),
        ([["x", 0, 0, {"training": True}]], True),
        ([["x", 0, 0]], "absent"),
        ([["x", 0, 0, {"training": True}], ["y", 0, 0, {"training": False}]], False),  # the last input's kwargs
        ([["x", 0, 0, {"training": ["flag", 0, 0]}]], ["flag", 0, 0]),
    ],
)
def test_node_training_is_read_in_both_dialects(node, value):
    from bnlint.frontends.models import config_tree

    found = config_tree.node_training(node)
    assert (found is config_tree.ABSENT) if value == "absent" else found == value


def test_node_training_is_written_in_both_dialects():
    from bnlint.frontends.models import config_tree

    keras3, keras2 = {"args": [], "kwargs": {}}, [["x", 0, 0], ["y", 0, 0, {}]]
    assert config_tree.set_node_training(keras3, False) and keras3["kwargs"] == {"training": False}
    assert config_tree.set_node_training(keras2, False) and keras2 == [["x", 0, 0, {"training": False}], ["y", 0, 0, {"training": False}]]
    explicit = {"args": [], "kwargs": {"training": True}}
    assert not config_tree.set_node_training(explicit, False)  # an explicit value is left alone...
    assert config_tree.set_node_training(explicit, False, overwrite=True) and explicit["kwargs"]["training"] is False  # ...unless asked
    assert not config_tree.set_node_training({"kwargs": {}}, False)  # not a call node: not guessed at
    assert not config_tree.set_node_training([["x", 0, 0, "junk"]], False)


def test_set_call_training_finds_the_nodes_of_a_nested_layer():
    """What the worker's Keras 2 remedy needs: the entry at a path, `training: false` on its calls."""
    from bnlint.frontends.models import config_tree

    config = json.loads(json.dumps(read_model_config(MODELS / "tfk_nested_training_false.h5")[0]))
    backbone = config_tree.layer_at(config, "encoder/backbone")
    assert config_tree.set_call_training(backbone, False, overwrite=True) == 1
    assert config_tree.node_training(backbone.nodes[0]) is False
    assert calls_of(lower_config(config, "m.h5", KERAS3), "encoder/backbone") == [("false", "call", "encoder", True)]
