"""Read the Keras model config of a tf.keras / tf_keras SavedModel directory, without TensorFlow.

tf.keras (TF >= 2.5) and tf_keras write `keras_metadata.pb`:

    message SavedMetadata { repeated SavedObject nodes = 1; }
    message SavedObject { int32 node_id = 2; string node_path = 3; string identifier = 4;
                          string metadata = 5; VersionDef version = 6; }

The root object (`node_path == "root"`) holds JSON with `class_name`, `config`, `model_config`
and `keras_version`. TF 2.0-2.4 kept the same JSON in `saved_model.pb` instead, as the root
object's `SavedUserObject.metadata`; that is the fallback. Every other object (each layer) has
metadata of its own, which tf_keras also reads when it loads the model: the code screen reads it
too (`read_savedmodel_objects`).

The files are read, never memory-mapped: a mapped file truncated while it is read kills the
process with SIGBUS. Each is read whole, with a size limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bnlint import safe_io
from bnlint.frontends import FrontendError
from bnlint.frontends.models import protobuf_wire as wire

# keras_metadata.pb holds JSON for every layer (ResNet50's is ~2 MB); saved_model.pb also holds
# the traced graphs, and is only read for the TF 2.0-2.4 layout.
KERAS_METADATA_LIMIT = 64 * 2**20
SAVED_MODEL_LIMIT = 256 * 2**20
METADATA_LIMIT = 64 * 2**20  # the JSON of one object

# Field numbers (tf_keras/protobuf/saved_metadata.proto, tensorflow/core/protobuf/*.proto).
METADATA_NODES, NODE_PATH, NODE_IDENTIFIER, NODE_METADATA = 1, 3, 4, 5
SAVED_MODEL_META_GRAPHS, META_GRAPH_OBJECT_GRAPH, OBJECT_GRAPH_NODES = 2, 7, 1
OBJECT_USER_OBJECT, USER_OBJECT_IDENTIFIER, USER_OBJECT_METADATA = 4, 1, 3


class _Missing(Exception):
    """A file of the SavedModel directory is not there (which one decides what to read next)."""


def is_savedmodel_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file())


def _read(path: Path, limit: int) -> bytes:
    """The file's bytes; _Missing when it is not there (which decides what to read next)."""
    try:
        return safe_io.read_bytes(path, limit)
    except safe_io.UnreadableFile as exc:
        if not path.exists() and not path.is_symlink():
            raise _Missing(path.name) from None
        raise FrontendError(f"{path.name}: {exc}") from None


def _metadata_json(raw: memoryview | None, what: str) -> dict:
    if raw is None or len(raw) == 0:
        raise FrontendError(f"{what} has no Keras metadata for the root object")
    if len(raw) > METADATA_LIMIT:
        raise FrontendError(f"{what}: root metadata is too large ({len(raw)} bytes, limit {METADATA_LIMIT})")
    metadata = safe_io.parse_json(bytes(raw), f"{what} root metadata")
    if not isinstance(metadata, dict):
        raise FrontendError(f"{what}: root metadata is not a JSON object")
    return metadata


def _keras_metadata_nodes(data: bytes) -> Iterator[tuple[str | None, str | None, memoryview | None]]:
    """(node_path, identifier, metadata bytes) of each object keras_metadata.pb describes."""
    try:
        for node in wire.submessages(data, METADATA_NODES):
            yield wire.string(node, NODE_PATH), wire.string(node, NODE_IDENTIFIER), wire.first(node, NODE_METADATA)
    except wire.WireError as exc:
        raise FrontendError(f"keras_metadata.pb is not a valid protobuf ({exc})") from None


def _root_from_keras_metadata(path: Path) -> dict:
    for node_path, _, metadata in _keras_metadata_nodes(_read(path, KERAS_METADATA_LIMIT)):
        if node_path == "root":
            return _metadata_json(metadata, "keras_metadata.pb")
    raise FrontendError("keras_metadata.pb has no root object")


def _user_objects(data: bytes) -> Iterator[tuple[str, str | None, memoryview | None]]:
    """TF 2.0-2.4: (node number, identifier, metadata bytes) of each object in saved_model.pb's object graph."""
    try:
        meta_graph = wire.first(data, SAVED_MODEL_META_GRAPHS)
        graph = wire.first(meta_graph, META_GRAPH_OBJECT_GRAPH) if meta_graph is not None else None
        for number, node in enumerate(wire.submessages(graph, OBJECT_GRAPH_NODES) if graph is not None else ()):
            user = wire.first(node, OBJECT_USER_OBJECT)
            if user is None:
                yield str(number), None, None
            else:
                yield str(number), wire.string(user, USER_OBJECT_IDENTIFIER), wire.first(user, USER_OBJECT_METADATA)
    except wire.WireError as exc:
        raise FrontendError(f"saved_model.pb is not a valid protobuf ({exc})") from None


def _root_from_saved_model(path: Path) -> dict:
    """TF 2.0-2.4: the root object's metadata inside saved_model.pb, if Keras wrote one."""
    _, identifier, raw = next(_user_objects(_read(path, SAVED_MODEL_LIMIT)), (None, None, None))
    if not (identifier or "").startswith("_tf_keras"):
        raise FrontendError(
            "SavedModel without keras_metadata.pb and not saved by Keras "
            "(a plain tf.Module or a Keras 3 export): no Keras model config to read"
        )
    if raw is None or len(raw) == 0:
        raise FrontendError("Keras SavedModel without keras_metadata.pb: its model config is missing")
    return _metadata_json(raw, "saved_model.pb")


def read_savedmodel_objects(path: Path) -> list[tuple[str, str, object]]:
    """(node path, identifier, parsed metadata JSON) of every Keras object of a SavedModel directory:
    what tf_keras reads when it loads the model, layer by layer (identifiers such as
    `_tf_keras_layer`, `_tf_keras_network`). Objects without metadata are left out."""
    try:
        data = _read(path / "keras_metadata.pb", KERAS_METADATA_LIMIT)
        nodes, what = _keras_metadata_nodes(data), "keras_metadata.pb"
    except _Missing:
        try:
            nodes, what = _user_objects(_read(path / "saved_model.pb", SAVED_MODEL_LIMIT)), "saved_model.pb"
        except _Missing:
            raise FrontendError("a directory that is not a SavedModel (no saved_model.pb)") from None
    objects: list[tuple[str, str, object]] = []
    budget = safe_io.MAX_JSON_VALUES  # for all objects together
    for number, (name, identifier, raw) in enumerate(nodes):
        if raw is None or len(raw) == 0:
            continue
        text, where = bytes(raw), str(name or number)
        objects.append((where, identifier or "", safe_io.parse_json(text, f"{what} object {where}", budget)))
        budget -= safe_io.json_values(text)
    return objects


def read_savedmodel(path: Path) -> tuple[dict, str | None]:
    """(the root model config as stored, its keras_version or None) of a SavedModel directory.

    Raises FrontendError, or safe_io.UnreadableFile for metadata that cannot be parsed safely."""
    try:
        metadata = _root_from_keras_metadata(path / "keras_metadata.pb")
    except _Missing:
        try:
            metadata = _root_from_saved_model(path / "saved_model.pb")
        except _Missing:
            if (path / "saved_model.pbtxt").is_file():
                raise FrontendError(
                    "SavedModel without keras_metadata.pb (text-format saved_model.pbtxt): no Keras model config to read"
                ) from None
            raise FrontendError("a directory that is not a SavedModel (no saved_model.pb)") from None

    # `model_config` is exactly what get_config() stored; older writers only have class_name/config.
    config = metadata.get("model_config")
    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)):
        if not isinstance(metadata.get("class_name"), str):
            raise FrontendError("SavedModel root metadata does not describe a Keras model (no class_name)")
        config = {"class_name": metadata["class_name"], "config": metadata.get("config")}
    version = metadata.get("keras_version")
    return config, version if isinstance(version, str) else None
