"""Bad inputs get one clear line, never a traceback, and are never modified.

Saved models: truncated, mislabelled, malicious (zip bombs, absurd nesting) and incomplete files.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from bnlint.frontends import FrontendError
from bnlint.frontends.models import keras_archive
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.models.reader import analyze_file, read_model_config
from bnlint.ir import Runtime

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"


def _snapshot(path: Path) -> dict:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def refused(path: Path) -> str:
    """The FrontendError message for `path`, checked to be one line, without the path, input untouched."""
    before = _snapshot(path)
    with pytest.raises(FrontendError) as caught:
        analyze_file(path, "model")
    message = str(caught.value)
    assert message and "\n" not in message
    assert str(path.parent) not in message and "Traceback" not in message
    assert _snapshot(path) == before
    return message


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


METADATA = json.dumps({"keras_version": "3.15.1"}).encode()


# --- .keras archives ------------------------------------------------------------------------------


def test_truncated_keras_archive(tmp_path):
    data = (MODELS / "k3_frozen_call.keras").read_bytes()
    path = tmp_path / "truncated.keras"
    path.write_bytes(data[: len(data) // 2])
    assert refused(path) == "not a readable .keras archive (File is not a zip file)"


def test_keras_archive_that_is_not_a_zip(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("this is not a model\n")
    assert refused(path) == "not a readable .keras archive (File is not a zip file)"


def test_keras_archive_with_corrupt_config_data(tmp_path):
    path = _zip(tmp_path / "model.keras", {"config.json": b'{"class_name": "Functional"}' * 50, "metadata.json": METADATA})
    data = bytearray(path.read_bytes())
    start = data.index(b"config.json") + len("config.json")  # the compressed data follows the local header's name
    data[start + 5 : start + 15] = b"\xff" * 10
    path.write_bytes(bytes(data))
    message = refused(path)
    assert message.startswith(("not a readable .keras archive", "corrupt .keras archive"))


def test_keras_archive_without_config_json(tmp_path):
    path = _zip(tmp_path / "weights.keras", {"model.weights.h5": b"\0" * 100, "metadata.json": METADATA})
    assert refused(path) == "no config.json in the .keras archive: not a saved Keras model"


def test_keras_archive_with_invalid_json(tmp_path):
    path = _zip(tmp_path / "model.keras", {"config.json": b'{"class_name": "Functional", ', "metadata.json": METADATA})
    assert refused(path).startswith("config.json is not valid JSON (Expecting")


def test_keras_archive_with_invalid_metadata_json(tmp_path):
    path = _zip(tmp_path / "model.keras", {"config.json": b'{"class_name": "Functional", "config": {}}', "metadata.json": b"\xff\xfe{"})
    assert refused(path).startswith("metadata.json is not")


def test_keras_archive_whose_config_is_not_a_model(tmp_path):
    path = _zip(tmp_path / "model.keras", {"config.json": b"[1, 2, 3]"})
    assert refused(path) == "config.json does not hold a Keras model config (no class_name)"


def test_absurdly_deep_json(tmp_path):
    path = _zip(tmp_path / "deep.keras", {"config.json": b"[" * 200_000 + b"]" * 200_000})
    assert refused(path) == "config.json is nested too deeply to read"


def test_absurdly_deep_model_nesting():
    config: dict = {"class_name": "BatchNormalization", "config": {"name": "bn"}}
    for depth in range(5000):
        config = {"class_name": "Functional", "config": {"name": f"m{depth}", "layers": [config], "input_layers": []}}
    with pytest.raises(FrontendError, match=r"^model config is nested too deeply to analyse \(more than 100 levels\)$"):
        lower_config(config, "deep.keras", Runtime("keras3", "test"))


def test_malformed_configs_only_ever_raise_frontend_errors():
    """Seeded structural fuzzing: any value of a real config replaced by junk of another type."""
    configs = []
    for name in ("k3_nested.keras", "k3_time_distributed.keras", "tfk_frozen_call.keras"):
        with zipfile.ZipFile(MODELS / name) as archive:
            configs.append(json.loads(archive.read("config.json")))
    junk = [None, 1, "x", [], {}, [1, 2], {"a": 1}, True, [[["a", 0, 0, 5]]], [None], {"kwargs": 3}, {"class_name": 3}]
    rng = random.Random(0)
    for _ in range(200):
        config = copy.deepcopy(rng.choice(configs))
        for _ in range(rng.choice([1, 3, 10])):
            containers = [c for c in _containers(config) if c]
            target = rng.choice(containers)
            slot = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
            target[slot] = copy.deepcopy(rng.choice(junk))
        try:
            lower_config(config, "fuzzed.keras", Runtime("keras3", "test"))
        except FrontendError as exc:
            assert "\n" not in str(exc)


def _containers(value) -> list:
    found = []
    if isinstance(value, (dict, list)):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            found += _containers(child)
    return found


def test_oversized_member_is_refused_by_its_declared_size(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_archive, "CONFIG_LIMIT", 1000)
    path = _zip(tmp_path / "big.keras", {"config.json": b" " * 5000 + b'{"class_name": "Functional"}'})
    assert refused(path) == "config.json in the archive is too large (5028 bytes, limit 1000)"


@functools.cache
def _deflated_spaces(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mebibytes` MiB of spaces (a few hundred KB), and its CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    stream = b"".join(compressor.compress(chunk) for _ in range(mebibytes)) + compressor.flush()
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    return stream, crc


def _zip_bomb(path: Path, inflated_size: int, declared_size: int) -> Path:
    """config.json inflating to `inflated_size` bytes while its headers claim `declared_size`."""
    stream, crc = _deflated_spaces(inflated_size >> 20)
    info = zipfile.ZipInfo("config.json", (2025, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, b"")  # a placeholder entry; its data and sizes are patched below
    data = bytearray(path.read_bytes())
    # Local header: crc at 14, sizes at 18/22; rebuild the archive around the real stream.
    header_end = 30 + len("config.json")
    local = bytearray(data[:header_end])
    struct.pack_into("<III", local, 14, crc, len(stream), declared_size)
    central_start = data.index(b"PK\x01\x02")
    end_start = data.index(b"PK\x05\x06")
    central = bytearray(data[central_start:end_start])
    struct.pack_into("<III", central, 16, crc, len(stream), declared_size)
    end = bytearray(data[end_start:])
    struct.pack_into("<I", end, 16, header_end + len(stream))  # where the central directory now starts
    path.write_bytes(bytes(local) + stream + bytes(central) + bytes(end))
    return path


@pytest.mark.parametrize("declared", [1 << 30, 100], ids=["honest-size", "lying-size"])
def test_zip_bomb_is_never_inflated_into_memory(tmp_path, declared):
    path = _zip_bomb(tmp_path / "bomb.keras", inflated_size=2 * keras_archive.CONFIG_LIMIT, declared_size=declared)
    with zipfile.ZipFile(path) as archive:  # a well-formed archive, as far as its headers go
        assert archive.getinfo("config.json").file_size == declared
    tracemalloc.start()
    try:
        message = refused(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"peak {peak} bytes while refusing a zip bomb"
    if declared > keras_archive.CONFIG_LIMIT:
        assert message == f"config.json in the archive is too large ({declared} bytes, limit {keras_archive.CONFIG_LIMIT})"
    else:
        # zipfile stops at the declared size; the checksum then gives the lie away.
        assert message == "not a readable .keras archive (Bad CRC-32 for file 'config.json')"


def test_encrypted_member(tmp_path):
    path = _zip(tmp_path / "secret.keras", {"config.json": b'{"class_name": "Functional"}'})
    data = bytearray(path.read_bytes())
    data[6] |= 1  # local header: general purpose flag bit 0, "encrypted"
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 1
    path.write_bytes(bytes(data))
    assert refused(path) == "the .keras archive is encrypted"


# --- HDF5 files -----------------------------------------------------------------------------------


def test_random_bytes_h5(tmp_path):
    path = tmp_path / "random.h5"
    path.write_bytes(bytes(range(256)) * 40)
    assert refused(path) == "not an HDF5 file (no HDF5 signature)"


def test_truncated_h5(tmp_path):
    data = (MODELS / "tfk_frozen_call.h5").read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[:1000])
    assert refused(path) == f"truncated HDF5 file (1000 of {len(data)} bytes)"


def test_empty_h5(tmp_path):
    path = tmp_path / "empty.hdf5"
    path.write_bytes(b"")
    assert refused(path) == "not an HDF5 file (no HDF5 signature)"


def test_weights_only_h5():
    assert refused(MODELS / "k3_weights_only.weights.h5") == "weights-only HDF5 file: no model config (saved with save_weights()?)"


def _h5_with_attrs(path: Path, **attrs) -> Path:
    import h5py

    with h5py.File(path, "w") as h5:
        for name, value in attrs.items():
            h5.attrs[name] = value
    return path


def test_h5_with_invalid_model_config_json(tmp_path):
    path = _h5_with_attrs(tmp_path / "bad.h5", model_config="{not json", keras_version="2.15.0")
    assert refused(path).startswith("HDF5 model_config is not valid JSON (")


def test_h5_with_a_model_config_that_is_not_a_model(tmp_path):
    path = _h5_with_attrs(tmp_path / "bad.h5", model_config=b'{"config": {}}')
    assert refused(path) == "HDF5 model_config does not hold a Keras model config (no class_name)"


def test_h5_with_bytes_attributes_as_old_keras_wrote_them(tmp_path):
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
    path = _h5_with_attrs(tmp_path / "old.h5", model_config=json.dumps(config).encode(), keras_version=b"2.1.6")
    assert read_model_config(path) == (config, "2.1.6", "h5")


# --- SavedModel directories and everything else -----------------------------------------------------


def test_savedmodel_without_keras_metadata():
    message = refused(MODELS / "tf_module_savedmodel")
    assert message == (
        "SavedModel without keras_metadata.pb and not saved by Keras "
        "(a plain tf.Module or a Keras 3 export): no Keras model config to read"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xff\xff", "keras_metadata.pb is not a valid protobuf (truncated varint)"),
        (b"\x0a\x80\x01abc", "keras_metadata.pb is not a valid protobuf (truncated length-delimited field)"),
        (b"", "keras_metadata.pb has no root object"),
        (b"\x0a\x06\x1a\x04root", "keras_metadata.pb has no Keras metadata for the root object"),
        (b"\x0a\x0b\x1a\x04root\x2a\x03{x}", "keras_metadata.pb root metadata is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ],
    ids=["garbage", "truncated", "empty", "no-metadata", "bad-json"],
)
def test_broken_keras_metadata(tmp_path, content, expected):
    folder = tmp_path / "saved"
    shutil.copytree(MODELS / "tfk_savedmodel", folder)
    (folder / "keras_metadata.pb").write_bytes(content)
    assert refused(folder) == expected


def test_broken_saved_model_pb_without_keras_metadata(tmp_path):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"\x12\xff\xff\xff\xff\x0f")
    assert refused(folder) == "saved_model.pb is not a valid protobuf (truncated length-delimited field)"


def test_text_format_savedmodel(tmp_path):
    (tmp_path / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")
    assert refused(tmp_path) == "SavedModel without keras_metadata.pb (text-format saved_model.pbtxt): no Keras model config to read"


def test_directory_that_is_not_a_savedmodel(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FrontendError, match="^a directory that is not a SavedModel"):
        read_model_config(tmp_path)


def test_file_that_is_no_model_at_all(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 64)
    assert refused(path) == "not a saved Keras model (.keras, .h5, .hdf5 or a SavedModel directory)"


def test_missing_file(tmp_path):
    with pytest.raises(FrontendError, match="^cannot read: No such file or directory$"):
        read_model_config(tmp_path / "gone.keras")
