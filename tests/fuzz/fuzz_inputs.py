"""Hostile inputs of every kind bnlint reads, written to disk: the building blocks of the fuzz suite.

Each builder writes one input and returns its name. Payloads are real: if bnlint ever ran them
(unmarshalled a lambda, imported a planted module, executed a scanned script or a YAML tag),
they would write the marker file, which every test checks for.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import shutil
import struct
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "models"
CANARY = "canary.h5"  # a tf_keras model with a frozen base called without training=False


def payload_code(marker: Path) -> str:
    """Python that writes the marker: what every payload would run."""
    return f"open({str(marker)!r}, 'w').write('ran')"


def lambda_bytecode(marker: Path) -> str:
    """A lambda's code object as Keras serialises it (base64 of marshal): runs the payload when called."""
    code = compile(f"lambda x: ({payload_code(marker)}, x)[1]", "<payload>", "eval")
    lambda_code = next(c for c in code.co_consts if hasattr(c, "co_code"))
    return base64.b64encode(marshal.dumps(lambda_code)).decode("ascii")


# Modules bnlint or its dependencies import; planted in the current folder and the scanned tree.
HIJACKED_MODULES = ("json", "numpy", "yaml", "click", "h5py", "zipfile", "sitecustomize", "usercustomize",
                    "keras", "tensorflow", "tf_keras", "packaging", "hashlib", "bnlint")


def plant_modules(folder: Path, marker: Path) -> None:
    for name in HIJACKED_MODULES:
        (folder / f"{name}.py").write_text(f"{payload_code(marker)}\n", encoding="utf-8")


def canary(folder: Path) -> str:
    shutil.copyfile(FIXTURES / "tfk_frozen_call.h5", folder / CANARY)
    return CANARY


# --- model configs ------------------------------------------------------------------------------------


def fixture_config(name: str) -> dict:
    with zipfile.ZipFile(FIXTURES / name) as archive:
        return json.loads(archive.read("config.json"))


def keras3_layer(name: str, class_name: str = "Dense", module: str = "keras.layers", **config) -> dict:
    return {"module": module, "class_name": class_name, "registered_name": None, "name": name,
            "config": {"name": name, "trainable": True, **config},
            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["image", 0, 0]}}], "kwargs": {}}]}


def keras3_model(layers: list[dict], name: str = "classifier", trainable: bool = True) -> dict:
    inputs = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "image",
              "config": {"name": "image", "batch_shape": [None, 8, 8, 3]}, "inbound_nodes": []}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional", "name": name,
            "config": {"name": name, "trainable": trainable, "layers": [inputs, *layers],
                       "input_layers": [["image", 0, 0]], "output_layers": [[layers[-1]["name"] if layers else "image", 0, 0]]}}


def frozen_base(name: str = "backbone") -> dict:
    """A frozen functional model holding a BatchNormalization layer, as a layer of another model."""
    base = keras3_model([keras3_layer("bn", "BatchNormalization", trainable=False)], name=name, trainable=False)
    base["inbound_nodes"] = keras3_layer("x")["inbound_nodes"]
    return base


def lambda_model(marker: Path) -> dict:
    function = {"class_name": "__lambda__", "config": {"code": lambda_bytecode(marker), "defaults": None, "closure": None}}
    return keras3_model([frozen_base(), keras3_layer("double", "Lambda", function=function, arguments={})])


# --- .keras archives ------------------------------------------------------------------------------------

METADATA = json.dumps({"keras_version": "3.15.1", "date_saved": "2025-01-01@00:00:00"}).encode()


def write_archive(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def keras_archive(path: Path, config: object, metadata: bytes = METADATA, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    data = config if isinstance(config, bytes) else json.dumps(config).encode()
    return write_archive(path, {"config.json": data, "metadata.json": metadata}, compression)


def corrupt_member_data(path: Path, member: str = "config.json", offset: int = 8, length: int = 16) -> Path:
    """Overwrite compressed bytes of one member (its headers stay intact)."""
    data = bytearray(path.read_bytes())
    start = data.index(member.encode()) + len(member)  # the local header's name; its data follows
    for i in range(start + offset, min(start + offset + length, len(data))):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def invalid_utf8_member_name(path: Path) -> Path:
    """An archive whose member name has the UTF-8 flag (bit 11) set but holds bytes that are not UTF-8."""
    write_archive(path, {"config.json": b"{}", "metadata.json": METADATA})
    data = bytearray(path.read_bytes())
    name = b"metadata.json"
    for position in [i for i in range(len(data)) if data.startswith(name, i)]:
        data[position : position + 4] = b"\xff\xfe\xfd\xfc"
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            struct.pack_into("<H", data, start + flag_offset, struct.unpack_from("<H", data, start + flag_offset)[0] | 0x800)
            start += 4
    path.write_bytes(bytes(data))
    return path


def json_bomb_archive(path: Path, mebibytes: int = 60) -> Path:
    """config.json of `[[],[],...]`: ~60 KiB compressed, 60 MiB of JSON, ~2 GiB of Python lists once parsed."""
    body = b'{"class_name": "Functional", "config": {"layers": [], "x": [' + b"[]," * (mebibytes * 2**20 // 3) + b"[]]}}"
    return write_archive(path, {"config.json": body, "metadata.json": METADATA})


def repeated_names_config(count: int) -> dict:
    """`count` Dense layers all named `dense` (a hand-edited file; Keras never writes one)."""
    layers = [keras3_layer("dense") for _ in range(count)]
    return keras3_model([frozen_base(), *layers])


def deep_config(depth: int, leaf_extra: object = None) -> dict:
    """A frozen base nested `depth` models deep; `leaf_extra` goes into its BN layer's config."""
    config = frozen_base("inner")
    if leaf_extra is not None:
        config["config"]["layers"][1]["config"]["extra"] = leaf_extra
    for level in range(depth):
        config = keras3_model([config], name=f"m{level}")
        config["inbound_nodes"] = keras3_layer("x")["inbound_nodes"]
    return config


# --- .h5 --------------------------------------------------------------------------------------------------


def h5_model(path: Path, **attrs) -> Path:
    import h5py

    with h5py.File(path, "w") as h5:
        for name, value in attrs.items():
            h5.attrs[name] = value
    return path


def h5_partially_frozen(path: Path, link: str | None = None, target: Path | None = None) -> Path:
    """A tf_keras-style .h5 whose nested base is partially frozen with a trainable BN layer (so
    `bnlint fix` freezes the BN and reorders the base's weight list), and optionally its
    weights group replaced by a soft or external link."""
    import h5py
    import numpy as np

    def layer(name, class_name, trainable=True):
        return {"class_name": class_name, "name": name, "config": {"name": name, "trainable": trainable},
                "inbound_nodes": [[["x", 0, 0, {}]]]}

    base = {"class_name": "Functional", "name": "backbone", "config": {"name": "backbone", "trainable": True, "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x"}, "inbound_nodes": []},
        layer("conv", "Conv2D", trainable=False), layer("bn", "BatchNormalization")]}, "inbound_nodes": [[["image", 0, 0, {}]]]}
    config = {"class_name": "Functional", "config": {"name": "classifier", "layers": [
        {"class_name": "InputLayer", "name": "image", "config": {"name": "image"}, "inbound_nodes": []}, base]}}
    names = [b"backbone/bn/gamma:0", b"backbone/bn/beta:0", b"backbone/conv/kernel:0",
             b"backbone/bn/moving_mean:0", b"backbone/bn/moving_variance:0"]
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.attrs["keras_version"] = "2.15.0"
        weights = h5.create_group("model_weights")
        if link == "external":
            weights["backbone"] = h5py.ExternalLink(str(target), "/model_weights/backbone")
        elif link == "soft":
            h5.create_group("elsewhere").attrs["weight_names"] = np.array(names)
            weights["backbone"] = h5py.SoftLink("/elsewhere")
        else:
            weights.create_group("backbone").attrs["weight_names"] = np.array(names)
    return path


# --- SavedModel directories ---------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def keras_metadata(nodes: list[tuple[str, str, object]]) -> bytes:
    """keras_metadata.pb: SavedMetadata{nodes: [SavedObject{node_path=3, identifier=4, metadata=5}]}."""
    out = b""
    for node_path, identifier, metadata in nodes:
        text = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
        out += field(1, field(3, node_path.encode()) + field(4, identifier.encode()) + field(5, text))
    return out


def savedmodel(folder: Path, nodes: list[tuple[str, str, object]] | bytes) -> Path:
    folder.mkdir()
    shutil.copyfile(FIXTURES / "tfk_savedmodel" / "saved_model.pb", folder / "saved_model.pb")
    (folder / "keras_metadata.pb").write_bytes(nodes if isinstance(nodes, bytes) else keras_metadata(nodes))
    return folder


def savedmodel_hiding_a_lambda(folder: Path, marker: Path) -> Path:
    """The root's config is clean; the layer object's own metadata holds a marshalled lambda."""
    data = (FIXTURES / "tfk_savedmodel" / "keras_metadata.pb").read_bytes()
    hidden = {"class_name": "Lambda", "name": "head", "config": {
        "name": "head", "trainable": True, "function": [lambda_bytecode(marker), None, None],
        "function_type": "lambda", "module": "__main__", "output_shape_type": "raw", "arguments": {}}}
    savedmodel(folder, data + keras_metadata([("root.layer_with_weights-9", "_tf_keras_layer", hidden)]))
    return folder


# --- notebooks and scripts ---------------------------------------------------------------------------------


def notebook(*sources: object, nbformat: int = 4) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in sources]
    if nbformat == 3:
        return json.dumps({"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": s} for s in sources]}]})
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


TRAINING_SCRIPT = """import tf_keras as keras
base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
base.trainable = False
inputs = keras.Input((32, 32, 3))
outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
model = keras.Model(inputs, outputs)
model.compile("adam", "mse")
model.fit(x, y)
"""


def npy_header_claiming(elements: int) -> bytes:
    """A .npy file whose header claims `elements` float64 values and holds none."""
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (elements,)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def npz_inflating_to(mebibytes: int) -> bytes:
    """A .npz of zeros: a few KiB on disk, `mebibytes` MiB once loaded."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.zeros((mebibytes * 2**20 // 4 // (32 * 32 * 3), 32, 32, 3), dtype=np.float32))
    return buffer.getvalue()


# --- directory trees ------------------------------------------------------------------------------------------

SUFFIXES = {"script": ".py", "broken_script": ".py", "notebook": ".ipynb", "model": ".keras", "fifo": ".py", "empty": ".py",
            "link_zero": ".py", "link_missing": ".py", "link_sibling": ".py"}


def build_tree(root: Path, plan: list[tuple[list[str], str]]) -> list[Path]:
    """Create each planned entry (folders on the way as needed); returns what was created."""
    import os

    created = []
    for names, kind in plan:
        folder = root
        for name in names[:-1]:
            folder = folder / name
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                break
            folder.mkdir(exist_ok=True)
        else:
            path = folder / (names[-1] + SUFFIXES.get(kind, ""))
            if os.path.lexists(path):
                continue
            try:
                if kind == "dir":
                    path.mkdir()
                elif kind == "script":
                    path.write_text(TRAINING_SCRIPT)
                elif kind == "broken_script":
                    path.write_text("import keras\ndef broken(:\n")
                elif kind == "notebook":
                    path.write_text(notebook("import keras", "b = keras.applications.ResNet50()", "b.trainable = False"))
                elif kind == "model":
                    shutil.copyfile(FIXTURES / "k3_nested.keras", path)
                elif kind == "fifo":
                    os.mkfifo(path)
                elif kind == "link_parent":
                    path.symlink_to("..")
                elif kind == "link_self":
                    path.symlink_to(path.name)
                elif kind == "link_zero":
                    path.symlink_to("/dev/zero")
                elif kind == "link_missing":
                    path.symlink_to("nowhere.py")
                elif kind == "link_sibling":
                    path.symlink_to(root)
                else:
                    path.write_bytes(b"")
            except OSError:  # a name the file system refuses (too long): not an input then
                continue
            created.append(path)
    return created
