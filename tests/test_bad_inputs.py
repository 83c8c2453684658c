"""Bad inputs get one clear line, never a traceback, and are never modified.

Saved models: truncated, mislabelled, malicious (zip bombs, JSON that parses to gigabytes, absurd
nesting, special files) and incomplete files; scripts that cannot be decoded or parsed; YAML that
expands without bound. The same inputs run through the command line in tests/fuzz.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import random
import shutil
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from bnlint import safe_io
from bnlint.frontends import FrontendError
from bnlint.frontends.models import keras_archive
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.models.reader import analyze_file, read_model_config
from bnlint.ir import Runtime

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"


def _snapshot(path: Path) -> dict:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    # lstat and is_file(): a FIFO or device under test is recorded, never read
    return {p: (p.read_bytes() if p.is_file() else None, p.lstat().st_mtime_ns) for p in files}


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


# --- issue 12: what a hostile archive, HDF5 file or SavedModel can do ---------------------------------------


def _archive_with(path: Path, compression: int, config: bytes = b'{"class_name": "Functional", "config": {}}' * 40) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", METADATA)
    return path


def _corrupt_member(path: Path, member: str = "config.json") -> Path:
    data = bytearray(path.read_bytes())
    start = data.index(member.encode()) + len(member)
    for i in range(start + 8, start + 24):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("compression", "reason"), [(zipfile.ZIP_LZMA, "Corrupt input data"), (zipfile.ZIP_BZIP2, "Invalid data stream")])
def test_corrupt_lzma_and_bzip2_members(tmp_path, compression, reason):
    path = _corrupt_member(_archive_with(tmp_path / "model.keras", compression))
    assert refused(path) == f"corrupt .keras archive (config.json: {reason})"


def test_a_member_name_flagged_utf8_that_is_not(tmp_path):
    path = _archive_with(tmp_path / "model.keras", zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes().replace(b"metadata.json", b"\xff\xfe\xfd\xfcdata.json"))
    for signature, flag in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        for start in [i for i in range(len(data)) if data.startswith(signature, i)]:
            data[start + flag + 1] |= 0x08  # general purpose bit 11: the name is UTF-8
    path.write_bytes(bytes(data))
    assert refused(path) == "not a readable .keras archive (a member name is not valid UTF-8)"


def test_json_that_would_parse_to_gigabytes_is_refused_before_parsing(tmp_path, monkeypatch):
    """`[]` is 2 bytes of JSON and 64 of Python: 60 MiB of it is a 60 KiB archive and 2 GiB of lists."""
    config = b'{"class_name": "Functional", "config": {"x": [' + b"[]," * 1000 + b"[]]}}"
    path = _zip(tmp_path / "bomb.keras", {"config.json": config, "metadata.json": METADATA})
    monkeypatch.setattr(safe_io, "MAX_JSON_VALUES", 500)
    monkeypatch.setattr(safe_io.parse_json, "__defaults__", (500,))
    assert refused(path) == "config.json is too complex to analyse (up to 2,009 JSON values, limit 500)"


def test_a_zip_directory_larger_than_any_keras_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_archive, "DIRECTORY_LIMIT", 500)
    path = _zip(tmp_path / "many.keras", {f"member_{i}": b"" for i in range(20)})
    assert refused(path).startswith("too large to analyse (a zip directory of ")


def test_keras_version_that_is_not_a_version(tmp_path):
    config = (MODELS / "k3_nested.keras")
    with zipfile.ZipFile(config) as archive:
        members = {"config.json": archive.read("config.json"), "metadata.json": json.dumps({"keras_version": "3" * 5000}).encode()}
    assert refused(_zip(tmp_path / "model.keras", members)) == "its keras_version is not a version (5000 characters long)"


def test_special_files_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    assert refused(fifo) == "a named pipe (FIFO), not a regular file"
    zero = tmp_path / "zero.h5"
    zero.symlink_to("/dev/zero")
    assert refused(zero) == "a device, not a regular file"


def test_a_variable_length_hdf5_config_is_checked_once_read(tmp_path, monkeypatch):
    from bnlint.frontends.models import hdf5

    monkeypatch.setattr(hdf5, "CONFIG_LIMIT", 1000)
    path = _h5_with_attrs(tmp_path / "big.h5", model_config=" " * 2000 + '{"class_name": "Functional"}')
    assert refused(path) == "HDF5 model_config is too large (2028 characters, limit 1000)"


def test_an_hdf5_config_that_is_an_array_of_strings(tmp_path):
    import h5py
    import numpy as np

    path = _h5_with_attrs(tmp_path / "array.h5", model_config=np.array(["{}"] * 1000, dtype=h5py.string_dtype()))
    assert refused(path) == "HDF5 attribute model_config is not one string (shape (1000,))"


def test_savedmodel_metadata_is_read_not_mapped(tmp_path, monkeypatch):
    """A memory-mapped file truncated while it is read kills the process (SIGBUS): nothing is mapped."""
    import mmap

    def no_mapping(*args, **kwargs):
        raise AssertionError("a SavedModel file was memory-mapped")

    monkeypatch.setattr(mmap, "mmap", no_mapping)
    assert analyze_file(MODELS / "tfk_savedmodel", "saved").models
    assert analyze_file(MODELS / "tfk_savedmodel_tf24_layout", "old").models


def test_savedmodel_metadata_that_is_a_fifo_or_too_large(tmp_path, monkeypatch):
    from bnlint.frontends.models import tf_savedmodel

    folder = tmp_path / "saved"
    shutil.copytree(MODELS / "tfk_savedmodel", folder)
    monkeypatch.setattr(tf_savedmodel, "KERAS_METADATA_LIMIT", 100)
    assert refused(folder).startswith("keras_metadata.pb: too large to analyse (")
    (folder / "keras_metadata.pb").unlink()
    os.mkfifo(folder / "keras_metadata.pb")
    assert refused(folder) == "keras_metadata.pb: a named pipe (FIFO), not a regular file"


def test_repeated_layer_names_are_numbered_in_linear_time():
    from bnlint.frontends.models import config_tree

    layers = [{"class_name": "Dense", "name": "dense", "config": {"name": "dense"}} for _ in range(50_000)]
    paths = [layer.path for layer in config_tree.walk({"class_name": "Sequential", "config": {"layers": layers}})]
    assert paths[1:4] == ["dense", "dense#2", "dense#3"] and paths[-1] == "dense#50000"
    assert len(set(paths)) == len(paths)


def test_more_layers_than_the_walker_takes(monkeypatch):
    from bnlint.frontends.models import config_tree

    monkeypatch.setattr(config_tree, "MAX_LAYERS", 10)
    layers = [{"class_name": "Dense", "name": f"d{i}", "config": {"name": f"d{i}"}} for i in range(20)]
    with pytest.raises(FrontendError, match=r"^model config is too large to analyse \(more than 10 layers\)$"):
        lower_config({"class_name": "Sequential", "config": {"layers": layers}}, "m.keras", Runtime("keras3", "test"))


# --- scripts: reading, decoding, parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"# coding: punycode\nimport keras\n", "unsupported source encoding 'punycode' (not a character set Python source may use)"),
        (b"# coding: utf-16\nimport keras\n", "unsupported source encoding 'utf-16' (not a character set Python source may use)"),
        (b"# coding: unicode_escape\nx = 1\n", "unsupported source encoding 'unicode_escape' (not a character set Python source may use)"),
        (b"# coding: nope\nx = 1\n", "not valid source: unknown encoding: nope"),
        (b"x = '\xff'\n", "not valid UTF-8 (byte 5)"),
        (b"# coding: latin-1\nx = '\xff'\n", None),
    ],
)
def test_source_decoding(data, reason):
    from bnlint.frontends.python.source import decode

    if reason is None:
        assert decode(data) == "# coding: latin-1\nx = 'ÿ'\n"
        return
    with pytest.raises(FrontendError) as caught:
        decode(data)
    assert str(caught.value) == reason


def test_old_mac_line_breaks_are_read_as_python_reads_them():
    from bnlint.frontends.python.source import decode

    assert decode(b"# a\rimport keras\r\nx = 1\r") == "# a\nimport keras\nx = 1\n"


def test_parse_errors_are_one_line_and_never_at_line_none(monkeypatch):
    import ast

    from bnlint.frontends.python import source

    def fails(error):
        def parse(text):
            raise error
        return parse

    for error, reason in ((SyntaxError("too many statically nested blocks"), "syntax error: too many statically nested blocks"),
                          (MemoryError(), "too large to parse (out of memory)"),
                          (RecursionError(), "too deeply nested to parse"),
                          (SyntaxError("line one\nline two", ("x", 3, 1, "")), "syntax error at line 3: line one")):
        monkeypatch.setattr(ast, "parse", fails(error))
        with pytest.raises(FrontendError) as caught:
            source.parse("x")
        assert str(caught.value) == reason


def test_scripts_are_read_only_as_regular_files_within_a_size(tmp_path, monkeypatch):
    from bnlint.frontends.python import script, source

    fifo = tmp_path / "train.py"
    os.mkfifo(fifo)
    with pytest.raises(FrontendError, match=r"^a named pipe \(FIFO\), not a regular file$"):
        script.analyze_file(fifo, "train.py")
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 100)
    monkeypatch.setattr(source.read_bytes, "__defaults__", (100,))
    with pytest.raises(FrontendError, match=r"^too large to analyse \(600 bytes, limit 100\)$"):
        script.analyze_file(big, "big.py")


# --- YAML: rules, knowledge, configuration --------------------------------------------------------------------


def test_billion_laughs_are_refused_before_they_expand():
    from bnlint import yaml_data

    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{chr(c)}: &{chr(c)} [{','.join([f'*{chr(c - 1)}'] * 9)}]\n" for c in range(ord("b"), ord("j")))
    tracemalloc.start()
    try:
        with pytest.raises(yaml_data.YAMLError, match=r"^too large to load: its aliases expand to more than 100,000 values$"):
            yaml_data.load(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    # Aliases within the bound are YAML like any other.
    assert yaml_data.load("base: &b [1, 2]\nmore: *b\nmerged: {<<: {x: 1}, y: 2}\n") == {"base": [1, 2], "more": [1, 2], "merged": {"x": 1, "y": 2}}


def test_yaml_errors_are_one_line():
    from bnlint import yaml_data

    for text, reason in (("select: !!python/object/apply:os.system ['touch x']\n",
                          "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system' (line 1, column 9)"),
                         ("a: [1,\n", "did not find expected node content (line 2, column 1)"),
                         ("a: *nowhere\n", "found undefined alias (line 1, column 4)")):
        with pytest.raises(yaml_data.YAMLError) as caught:
            yaml_data.load(text)
        assert str(caught.value) == reason


# --- the cache: where it writes, and what it reads back ---------------------------------------------------------


def test_the_cache_writes_only_into_a_folder_it_created(tmp_path):
    from bnlint import cache

    created = tmp_path / "fresh" / ".bnlint_cache"
    cache.store(created, "ab" * 32, [], [])
    assert (created / ".gitignore").read_text() == cache.GITIGNORE
    assert (created / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert cache.load(created, "ab" * 32) == ([], [], None)

    project = tmp_path / "project"  # `cache-dir: .`: a folder that already holds the user's files
    project.mkdir()
    (project / "train.py").write_text("x = 1\n")
    cache.store(project, "cd" * 32, [], [])
    assert sorted(p.name for p in project.iterdir()) == ["train.py"]  # no .gitignore, no entries

    empty = tmp_path / "empty"
    empty.mkdir()
    cache.store(empty, "ef" * 32, [], [])  # an empty folder is claimed, and tagged
    assert (empty / "CACHEDIR.TAG").exists() and cache.load(empty, "ef" * 32) == ([], [], None)


def test_a_cache_folder_of_an_earlier_version_is_adopted(tmp_path):
    from bnlint import cache

    old = tmp_path / ".bnlint_cache"
    old.mkdir()
    (old / ".gitignore").write_text(cache.GITIGNORE)
    (old / "12").mkdir()
    cache.store(old, "12" * 32, [], [])
    assert (old / "CACHEDIR.TAG").exists() and cache.load(old, "12" * 32) == ([], [], None)


@pytest.mark.parametrize(
    "entry",
    [
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"findings": [{"rule": "\ud800"}], "errors": []}),
        json.dumps({"findings": [], "errors": [{"path": 5, "message": None}]}),
        json.dumps({"findings": "x", "errors": {}}),
        '{"findings": [' + "[]," * 3_000_000 + '[]], "errors": []}',
        "{not json",
    ],
    ids=["deep", "surrogate", "wrong-types", "not-lists", "values-bomb", "not-json"],
)
def test_a_hostile_cache_entry_is_a_miss(tmp_path, entry, sample_report):
    from bnlint import cache

    folder = tmp_path / ".bnlint_cache"
    finding = sample_report.findings[2]
    cache.store(folder, "aa" * 32, [finding], [])
    assert cache.load(folder, "aa" * 32) == ([finding], [], None)
    (folder / "aa" / f"{'aa' * 32}.json").write_text(entry)
    assert cache.load(folder, "aa" * 32) is None


def test_a_cache_entry_that_is_a_fifo_is_a_miss(tmp_path):
    from bnlint import cache

    folder = tmp_path / ".bnlint_cache"
    cache.store(folder, "bb" * 32, [], [])
    entry = folder / "bb" / f"{'bb' * 32}.json"
    entry.unlink()
    os.mkfifo(entry)
    assert cache.load(folder, "bb" * 32) is None
