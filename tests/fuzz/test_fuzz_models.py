"""Fuzzing the saved-model readers: `.keras` archives, `.h5` files, SavedModel directories, `bnlint fix`
and the confirmation's code screen, through the command line (see fuzz_harness for the invariants)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import fuzz_inputs as inputs
import pytest
from fuzz_harness import Scenario, run_bnlint, snapshot
from fuzz_strategies import archive_mutations, byte_mutations, config_mutations, h5_attributes, mutate_bytes, mutate_config
from hypothesis import given
from hypothesis import strategies as st

MODELS = inputs.FIXTURES


def scenario() -> tuple[Scenario, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="bnlint-fuzz-")
    return Scenario(Path(folder.name)), folder


# --- the hostile inputs issue 12 lists, each named exactly once ------------------------------------------


def test_hostile_keras_archives(tmp_path):
    s = Scenario(tmp_path)
    tree = s.tree
    for compression, name in ((zipfile.ZIP_LZMA, "lzma_corrupt.keras"), (zipfile.ZIP_BZIP2, "bzip2_corrupt.keras"),
                              (zipfile.ZIP_DEFLATED, "deflate_corrupt.keras")):
        inputs.keras_archive(s.add(name), inputs.fixture_config("k3_nested.keras"), compression=compression)
        inputs.corrupt_member_data(tree / name)
    inputs.invalid_utf8_member_name(s.add("utf8_flagged_name.keras"))
    inputs.json_bomb_archive(s.add("json_bomb.keras"))
    inputs.keras_archive(s.add("deep_json.keras"), b"[" * 100_000 + b"]" * 100_000)
    inputs.keras_archive(s.add("deep_models.keras"), inputs.deep_config(150))
    inputs.keras_archive(s.add("long_version.keras"), inputs.fixture_config("k3_nested.keras"),
                         metadata=json.dumps({"keras_version": "3" * 5000}).encode())
    data = (MODELS / "k3_nested.keras").read_bytes()
    s.add("truncated.keras").write_bytes(data[: len(data) // 3])
    s.add("not_a_zip.keras").write_bytes(b"PK\x03\x04" + os.urandom(200))
    # Valid, only unusual: analysed, in linear time.
    inputs.keras_archive(s.add("same_name_60000.keras", bad=False), inputs.repeated_names_config(60_000))
    run = s.run()
    messages = {e["path"]: e["message"] for e in run.report()["errors"]}
    assert messages["lzma_corrupt.keras"].startswith("corrupt .keras archive (config.json: ")
    assert messages["bzip2_corrupt.keras"].startswith("corrupt .keras archive (config.json: ")
    assert "OSError" not in messages["bzip2_corrupt.keras"]
    assert messages["utf8_flagged_name.keras"] == "not a readable .keras archive (a member name is not valid UTF-8)"
    assert messages["json_bomb.keras"].startswith("config.json is too complex to analyse (up to ")
    assert messages["deep_models.keras"] == "model config is nested too deeply to analyse (more than 100 levels)"
    assert messages["long_version.keras"] == "its keras_version is not a version (5000 characters long)"
    assert any(f["path"] == "same_name_60000.keras" and f["layer_path"] == "backbone" for f in run.report()["findings"])


def test_hostile_h5_files(tmp_path):
    import numpy as np

    s = Scenario(tmp_path)
    config = json.dumps({"class_name": "Functional", "config": {"name": "m", "layers": []}})
    # A variable-length string: its storage size (16 bytes) says nothing about its length.
    inputs.h5_model(s.add("huge_vlen_config.h5"), model_config=" " * (65 * 2**20) + config, keras_version="2.15.0")
    inputs.h5_model(s.add("config_array.h5"), model_config=np.array([config] * 3, dtype=object), keras_version="2.15.0")
    inputs.h5_model(s.add("config_number.h5"), model_config=5)
    inputs.h5_model(s.add("long_version.h5"), model_config=config, keras_version="2" * 5000)
    inputs.h5_model(s.add("version_not_utf8.h5"), model_config=config, keras_version=np.bytes_(b"\xff\xfe"))
    data = (MODELS / "tfk_frozen_call.h5").read_bytes()
    s.add("truncated.h5").write_bytes(data[:2000])
    s.add("random.h5").write_bytes(os.urandom(5000))
    messages = {e["path"]: e["message"] for e in s.run().report()["errors"]}
    assert messages["huge_vlen_config.h5"] == f"HDF5 model_config is too large ({65 * 2**20 + len(config)} characters, limit {64 * 2**20})"
    assert messages["config_array.h5"] == "HDF5 attribute model_config is not one string (shape (3,))"
    assert messages["long_version.h5"].startswith("HDF5 keras_version is too large")


def test_hostile_savedmodels(tmp_path):
    s = Scenario(tmp_path)
    fifo = inputs.savedmodel(s.add("fifo_metadata"), b"")
    (fifo / "keras_metadata.pb").unlink()
    os.mkfifo(fifo / "keras_metadata.pb")
    zero = inputs.savedmodel(s.add("zero_metadata"), b"")
    (zero / "keras_metadata.pb").unlink()
    (zero / "keras_metadata.pb").symlink_to("/dev/zero")
    real = (MODELS / "tfk_savedmodel" / "keras_metadata.pb").read_bytes()
    inputs.savedmodel(s.add("truncated_metadata", bad=False), real[: len(real) // 2])  # its root object comes first: readable
    inputs.savedmodel(s.add("deep_metadata"), [("root", "_tf_keras_network", b"[" * 50_000 + b"]" * 50_000)])
    inputs.savedmodel(s.add("long_version"), [("root", "_tf_keras_network", {"class_name": "Functional", "config": {}, "keras_version": "9" * 5000})])
    messages = {e["path"]: e["message"] for e in s.run().report()["errors"]}
    assert messages["fifo_metadata"] == "keras_metadata.pb: a named pipe (FIFO), not a regular file"
    assert messages["zero_metadata"] == "keras_metadata.pb: a device, not a regular file"


def test_fix_never_writes_through_an_hdf5_external_or_soft_link(tmp_path):
    s = Scenario(tmp_path, canary=False)
    target = inputs.h5_partially_frozen(s.add("other.h5", bad=False))
    inputs.h5_partially_frozen(s.add("external.h5"), link="external", target=target)
    inputs.h5_partially_frozen(s.add("self_link.h5"), link="external", target=s.tree / "self_link.h5")
    inputs.h5_partially_frozen(s.add("soft.h5"), link="soft")
    for name in ("external.h5", "self_link.h5", "soft.h5"):
        before = snapshot(s.tree)
        result = run_bnlint(["fix", name, "-o", f"fixed_{name}"], s.tree)
        assert result.exit_code == 2, result.describe()
        assert result.error_lines == [f"{name}: the HDF5 file's 'backbone' is an {'external' if name != 'soft.h5' else 'soft'} link, "
                                      "not stored in the file: not fixed (nothing is written through links)".replace("an soft", "a soft")]
        assert snapshot(s.tree) == before, "the fix wrote into its input or another file"
    # Without a link, the same model is fixed: the link is what was refused.
    fixed = run_bnlint(["fix", "other.h5", "-o", "fixed.h5"], s.tree)
    assert fixed.exit_code == 1 and "BN004 backbone: trainable=False on 1 BatchNormalization layer(s): bn" in fixed.stdout, fixed.describe()


def test_fix_on_hostile_configs(tmp_path):
    s = Scenario(tmp_path, canary=False)
    # 40 models deep, and deep JSON inside a layer: within the walker's budget, beyond copy.deepcopy's.
    inputs.keras_archive(s.add("deep.keras", bad=False), inputs.deep_config(40, leaf_extra=json.loads("[" * 400 + "]" * 400)))
    inputs.keras_archive(s.add("deeper.keras"), inputs.deep_config(150))
    for name in ("deep.keras", "deeper.keras"):
        before = snapshot(s.tree)
        result = run_bnlint(["fix", name, "-o", f"fixed_{name}"], s.tree)
        assert result.exit_code in (0, 1, 2) and "Traceback" not in result.stderr, result.describe()
        assert len(result.error_lines) <= 1, result.describe()
        changed = {p for p in set(before) | set(snapshot(s.tree)) if before.get(p) != snapshot(s.tree).get(p)}
        assert changed <= {f"fixed_{name}"}, changed
    assert run_bnlint(["fix", "deeper.keras", "-o", "x.keras"], s.tree).error_lines == [
        "deeper.keras: model config is nested too deeply to analyse (more than 100 levels)"]


def test_the_code_screen_stands_on_its_own(tmp_path):
    """Confirmation on models whose code Keras' safe mode would have to catch: the screen refuses
    first, so no worker loads them and no payload runs."""
    s = Scenario(tmp_path, canary=False)
    inputs.savedmodel_hiding_a_lambda(s.add("hidden_lambda", bad=False), s.marker)
    for version in ("", "abc"):
        config = {"class_name": "Functional", "config": {"name": "m", "layers": [
            {"class_name": "InputLayer", "name": "x", "config": {"name": "x"}, "inbound_nodes": []},
            _keras2_frozen_base(),
            {"class_name": "MyCustomLayer", "name": "custom", "config": {"name": "custom", "deep": json.loads("[" * 500 + "]" * 500)},
             "inbound_nodes": [[["backbone", 0, 0, {}]]]}]}}
        inputs.keras_archive(s.add(f"custom_version_{version or 'empty'}.keras", bad=False), config,
                             metadata=json.dumps({"keras_version": version}).encode())
    inputs.keras_archive(s.add("keras3_lambda.keras", bad=False), inputs.lambda_model(s.marker))
    run = s.run("check", "--confirm", "--format", "json", ".", timeout=60, limit_memory=False)
    confirmations = {f["path"]: f["confirmation"] for f in run.report()["findings"]}
    assert confirmations["hidden_lambda"]["reason"] == "not loaded: layer 'head' holds Python bytecode (a lambda), which bnlint never deserialises"
    for version in ("empty", "abc"):
        assert confirmations[f"custom_version_{version}.keras"]["reason"].startswith(
            "not loaded: layer 'custom' uses custom code (MyCustomLayer, module not recorded)")
    assert "Python bytecode" in confirmations["keras3_lambda.keras"]["reason"]
    assert all(c["status"] == "unconfirmed" for c in confirmations.values())


def _keras2_frozen_base() -> dict:
    return {"class_name": "Functional", "name": "backbone", "config": {"name": "backbone", "trainable": False, "layers": [
        {"class_name": "InputLayer", "name": "i", "config": {"name": "i"}, "inbound_nodes": []},
        {"class_name": "BatchNormalization", "name": "bn", "config": {"name": "bn", "trainable": False}, "inbound_nodes": [[["i", 0, 0, {}]]]}]},
        "inbound_nodes": [[["x", 0, 0, {}]]]}


# --- generated inputs ----------------------------------------------------------------------------------------


@given(st.lists(config_mutations(), min_size=3, max_size=3))
def test_mutated_configs(mutations):
    s, folder = scenario()
    with folder:
        for number, (fixture, edits) in enumerate(mutations):
            config = mutate_config(inputs.fixture_config(fixture), edits)
            inputs.keras_archive(s.add(f"mutated_{number}.keras", bad=False), config)
            inputs.h5_model(s.add(f"mutated_{number}.h5", bad=False), model_config=json.dumps(config), keras_version="2.15.0")
        s.run()


@given(st.lists(archive_mutations(), min_size=3, max_size=3))
def test_mutated_archive_bytes(mutations):
    s, folder = scenario()
    with folder:
        for number, (fixture, edits) in enumerate(mutations):
            s.add(f"bytes_{number}.keras", bad=False).write_bytes(mutate_bytes((MODELS / fixture).read_bytes(), edits))
        s.run()


@given(byte_mutations(), byte_mutations())
def test_mutated_h5_and_savedmodel_bytes(h5_edits, metadata_edits):
    s, folder = scenario()
    with folder:
        s.add("bytes.h5", bad=False).write_bytes(mutate_bytes((MODELS / "tfk_nested_training_false.h5").read_bytes(), h5_edits))
        real = (MODELS / "tfk_savedmodel" / "keras_metadata.pb").read_bytes()
        inputs.savedmodel(s.add("bytes_savedmodel", bad=False), mutate_bytes(real, metadata_edits))
        s.run()


@given(h5_attributes(), h5_attributes())
def test_random_h5_attributes(first, second):
    s, folder = scenario()
    with folder:
        inputs.h5_model(s.add("attrs_1.h5", bad=False), **first)
        inputs.h5_model(s.add("attrs_2.h5", bad=False), **second)
        s.run()


@pytest.mark.parametrize("fixture", ["k3_partial.keras", "tfk_frozen_call.h5"])
@given(edits=st.lists(config_mutations(), min_size=1, max_size=1))
def test_fix_on_mutated_configs(fixture, edits):
    s, folder = scenario()
    with folder:
        (_, changes), = edits
        name = f"input{Path(fixture).suffix}"
        if fixture.endswith(".keras"):
            inputs.keras_archive(s.add(name, bad=False), mutate_config(inputs.fixture_config(fixture), changes))
        else:
            shutil.copyfile(MODELS / fixture, s.add(name, bad=False))
        before = snapshot(s.tree)
        result = run_bnlint(["fix", name, "-o", f"fixed_{name}"], s.tree)
        assert result.exit_code in (0, 1, 2) and "Traceback" not in result.stdout + result.stderr, result.describe()
        assert len(result.error_lines) <= 1, result.describe()
        after = snapshot(s.tree)
        assert {p for p in set(before) | set(after) if before.get(p) != after.get(p)} <= {f"fixed_{name}"}


def test_fix_output_paths(tmp_path):
    """`bnlint fix -o OUT` writes by renaming a temporary file over OUT: never over the input,
    a device (as root, `-o /dev/null` would replace the device), a FIFO, or into a missing folder."""
    s = Scenario(tmp_path, canary=False)
    shutil.copyfile(MODELS / "k3_partial.keras", s.add("model.keras", bad=False))
    os.mkfifo(s.tree / "fifo.keras")
    (s.tree / "folder.keras").mkdir()
    for target in ("model.keras", "/dev/null", "fifo.keras", str(tmp_path / "missing" / "out.keras"), "folder.keras", "out.h5"):
        before = snapshot(s.tree)
        result = run_bnlint(["fix", "model.keras", "-o", target], s.tree)
        assert result.exit_code == 2 and len(result.error_lines) == 1 and "Traceback" not in result.stderr, result.describe()
        assert snapshot(s.tree) == before, result.describe()
    assert Path("/dev/null").is_char_device()
