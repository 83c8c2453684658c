"""The safety screen: which saved models the confirmer refuses to load, read without TensorFlow."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bnlint.confirm.safety import screen_config, screen_model
from bnlint.frontends import FrontendError
from bnlint.frontends.models.reader import read_model_config

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"


def keras3_layer(name: str, class_name: str = "Dense", module: str | None = "keras.layers", **config) -> dict:
    return {"module": module, "class_name": class_name, "registered_name": None, "name": name,
            "config": {"name": name, **config}, "inbound_nodes": []}


def keras3_model(*layers: dict, name: str = "classifier") -> dict:
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": name, "layers": [keras3_layer("image", "InputLayer"), *layers]}}


BYTECODE_LAMBDA = keras3_layer(
    "double", "Lambda", function={"class_name": "__lambda__", "config": {"code": "4wEAAAAA", "defaults": None, "closure": None}}
)


def test_a_plain_keras_model_passes():
    screen = screen_config(keras3_model(keras3_layer("dense", kernel_initializer={
        "module": "keras.initializers", "class_name": "GlorotUniform", "config": {}, "registered_name": None})), "3.15.1", "keras")
    assert screen.bytecode == () and screen.custom == ()
    assert screen.refusal(allow_unsafe=False) is None


def test_keras3_lambda_bytecode_is_refused_even_when_unsafe_is_allowed():
    screen = screen_config(keras3_model(BYTECODE_LAMBDA), "3.15.1", "keras")
    assert screen.bytecode == ("double",)
    for allow_unsafe in (False, True):
        assert screen.refusal(allow_unsafe) == "layer 'double' holds Python bytecode (a lambda), which bnlint never deserialises"


def test_bytecode_is_found_inside_nested_models():
    backbone = keras3_model(BYTECODE_LAMBDA, name="backbone")
    backbone["name"] = "backbone"
    encoder = keras3_model(backbone, name="encoder")
    encoder["name"] = "encoder"
    screen = screen_config(keras3_model(encoder), "3.15.1", "keras")
    assert screen.bytecode == ("encoder/backbone/double",)


@pytest.mark.parametrize("field", ["function_type", "output_shape_type"])
def test_keras2_marshalled_lambda_is_refused(field):
    config = {"name": "lam", "function": ["4wEAAAAA", None, None], "function_type": "function", "output_shape_type": "raw"}
    config[field] = "lambda"
    model = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x"}, "inbound_nodes": []},
        {"class_name": "Lambda", "name": "lam", "config": config, "inbound_nodes": [[["x", 0, 0, {}]]]},
    ]}}
    screen = screen_config(model, "2.15.0", "h5")
    assert screen.bytecode == ("lam",)
    assert "bytecode" in screen.refusal(allow_unsafe=True)


def test_a_custom_class_needs_allow_unsafe_and_is_named():
    custom = keras3_layer("pinned_bn", "PinnedBN", module="my_project.layers")
    custom["registered_name"] = "my_project>PinnedBN"
    screen = screen_config(keras3_model(custom), "3.15.1", "keras")
    assert [(c.layer_path, c.name, c.module, c.registered_name) for c in screen.custom] == [
        ("pinned_bn", "PinnedBN", "my_project.layers", "my_project>PinnedBN")
    ]
    assert screen.refusal(allow_unsafe=False) == (
        "layer 'pinned_bn' uses custom code (PinnedBN, module my_project.layers): loading it runs that code; "
        "pass --unsafe-load-custom-code if you trust it"
    )
    assert screen.refusal(allow_unsafe=True) is None


def test_classes_from_the_saving_scripts_main_and_plain_functions_are_custom():
    main_class = keras3_layer("scale", "Scale", module=None)
    activation = keras3_layer("dense", activation={"module": "builtins", "class_name": "function", "config": "swishy",
                                                   "registered_name": "function"})
    screen = screen_config(keras3_model(main_class, activation), "3.15.1", "keras")
    assert [(c.layer_path, c.name, c.module) for c in screen.custom] == [("scale", "Scale", None), ("dense", "swishy", None)]


def test_keras_family_libraries_and_plain_data_are_not_custom():
    hub = keras3_layer("backbone", "ResNetBackbone", module="keras_hub.src.models.resnet.resnet_backbone")
    data = keras3_layer("dense", bias_initializer={"class_name": "__tuple__", "config": {"value": [1, 2]}})
    screen = screen_config(keras3_model(hub, data), "3.15.1", "keras")
    assert screen.custom == ()


def test_keras2_configs_name_custom_classes_without_a_module():
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "dense"}},
        {"class_name": "MyBlock", "config": {"name": "block"}},
        {"class_name": "Addons>GroupNorm", "config": {"name": "gn"}},
    ]}}
    screen = screen_config(model, "2.11.0", "h5")
    assert screen.keras2
    assert [(c.layer_path, c.name, c.module) for c in screen.custom] == [("block", "MyBlock", None), ("gn", "Addons>GroupNorm", None)]


def test_keras_version_decides_the_loader():
    assert screen_config({}, "2.15.0", "h5").keras2
    assert not screen_config({}, "3.15.1", "keras").keras2
    assert not screen_config({}, None, "keras").keras2


def test_screen_model_reads_a_keras_archive_without_loading_it(tmp_path):
    path = tmp_path / "lambda.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(keras3_model(BYTECODE_LAMBDA)))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    screen = screen_model(path)
    assert (screen.keras_version, screen.format, screen.bytecode) == ("3.15.1", "keras", ("double",))


def test_an_unreadable_model_raises_frontend_error(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(FrontendError):
        screen_model(path)


# --- a screen that stands on its own ---------------------------------------------------------------------

KERAS2_CUSTOM = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "Dense", "config": {"name": "dense"}}, {"class_name": "MyBlock", "config": {"name": "block"}}]}}


@pytest.mark.parametrize("version", [None, "", "abc", "3.15.1", "x.y"])
def test_a_keras2_custom_class_is_custom_whatever_version_the_file_claims(version):
    # A layer entry without `module` is the Keras 2 dialect: only Keras' own classes load from it.
    screen = screen_config(KERAS2_CUSTOM, version, "h5")
    assert [(c.layer_path, c.name) for c in screen.custom] == [("block", "MyBlock")]
    assert screen.refusal(allow_unsafe=False).startswith("layer 'block' uses custom code (MyBlock, module not recorded)")


def test_an_unreadable_version_is_judged_by_the_dialect():
    assert screen_config(KERAS2_CUSTOM, "abc", "h5").keras2
    assert not screen_config(keras3_model(), "abc", "keras").keras2
    assert screen_config(KERAS2_CUSTOM, "2.15.0", "h5").keras2 and not screen_config(KERAS2_CUSTOM, "3.1", "h5").keras2


def _savedmodel_with_layer_metadata(folder, layer_metadata: dict):
    """A copy of the tf_keras SavedModel fixture with one more object, whose own metadata is `layer_metadata`."""
    import shutil

    def field(number: int, payload: bytes) -> bytes:
        length, out = len(payload), bytearray()
        while True:
            out.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
            length >>= 7
            if not length:
                break
        return bytes([number << 3 | 2]) + bytes(out) + payload

    shutil.copytree(MODELS / "tfk_savedmodel", folder)
    node = field(3, b"root.layer_with_weights-9") + field(4, b"_tf_keras_layer") + field(5, json.dumps(layer_metadata).encode())
    with open(folder / "keras_metadata.pb", "ab") as metadata:
        metadata.write(field(1, node))
    return folder


def test_bytecode_hidden_in_a_savedmodel_layers_own_metadata(tmp_path):
    """The root's model config is clean; tf_keras would still revive the layer from its own metadata."""
    hidden = {"class_name": "Lambda", "name": "head", "config": {"name": "head", "function": ["4wEAAAAA", None, None],
                                                                  "function_type": "lambda", "output_shape_type": "raw"}}
    folder = _savedmodel_with_layer_metadata(tmp_path / "saved", hidden)
    assert screen_config(read_model_config(folder)[0], "2.21.0", "savedmodel").bytecode == ()
    screen = screen_model(folder)
    assert screen.bytecode == ("head",)
    assert screen.refusal(allow_unsafe=True) == "layer 'head' holds Python bytecode (a lambda), which bnlint never deserialises"


def test_a_custom_class_hidden_in_a_savedmodel_layers_own_metadata(tmp_path):
    folder = _savedmodel_with_layer_metadata(tmp_path / "saved", {"class_name": "Sneaky", "name": "sneaky", "config": {"name": "sneaky"}})
    assert [(c.layer_path, c.name) for c in screen_model(folder).custom] == [("sneaky", "Sneaky")]


def test_the_real_savedmodel_fixture_passes():
    screen = screen_model(MODELS / "tfk_savedmodel")
    assert (screen.bytecode, screen.custom, screen.keras2) == ((), (), True)


def test_deeply_nested_values_and_models_never_overflow_the_stack():
    deep_value = keras3_layer("dense", extra=json.loads("[" * 900 + "{}" + "]" * 900))
    assert screen_config(keras3_model(deep_value), "3.15.1", "keras").custom == ()
    config: dict = keras3_model(BYTECODE_LAMBDA)
    for depth in range(5000):
        config = {"class_name": "Functional", "config": {"name": f"m{depth}", "layers": [config]}}
    with pytest.raises(FrontendError, match=r"^model config is nested too deeply to analyse"):
        screen_config(config, "3.15.1", "keras")


def test_layer_paths_are_the_walkers():
    repeated = keras3_model(keras3_layer("block", "Block", module="mine"), keras3_layer("block", "Block", module="mine"))
    assert [c.layer_path for c in screen_config(repeated, "3.15.1", "keras").custom] == ["block", "block#2"]
