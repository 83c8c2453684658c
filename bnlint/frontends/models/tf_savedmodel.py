"""Read the Keras model config of a tf.keras / tf_keras SavedModel directory, without TensorFlow.

tf.keras (TF >= 2.5) and tf_keras write `keras_metadata.pb`:

    message SavedMetadata { repeated SavedObject nodes = 1; }
    message SavedObject { int32 node_id = 2; string node_path = 3; string identifier = 4;
                          string metadata = 5; VersionDef version = 6; }

The root object (`node_path == "root"`) holds JSON with `class_name`, `config`, `model_config`
and `keras_version`. TF 2.0-2.4 kept the same JSON in `saved_model.pb` instead, as the root
object's `SavedUserObject.metadata`; that is the fallback.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bnlint.frontends import FrontendError
from bnlint.frontends.models import protobuf_wire as wire
from bnlint.frontends.models.lowering import parse_json

# The JSON of one object; the files themselves are mapped, never read whole.
METADATA_LIMIT = 64 * 2**20

# Field numbers (tf_keras/protobuf/saved_metadata.proto, tensorflow/core/protobuf/*.proto).
METADATA_NODES, NODE_PATH, NODE_METADATA = 1, 3, 5
SAVED_MODEL_META_GRAPHS, META_GRAPH_OBJECT_GRAPH, OBJECT_GRAPH_NODES = 2, 7, 1
OBJECT_USER_OBJECT, USER_OBJECT_IDENTIFIER, USER_OBJECT_METADATA = 4, 1, 3


class _Missing(Exception):
    """A file of the SavedModel directory is not there (which one decides what to read next)."""


def is_savedmodel_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file())


@contextmanager
def _mapped(path: Path) -> Iterator[memoryview]:
    """The file's bytes, mapped read-only: a large saved_model.pb is paged in only where it is read."""
    try:
        with open(path, "rb") as handle:
            empty = os.fstat(handle.fileno()).st_size == 0  # mmap refuses empty files
            mapped = None if empty else mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise _Missing(path.name) from None
    except OSError as exc:
        raise FrontendError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None
    if mapped is None:
        yield memoryview(b"")
        return
    view = memoryview(mapped)
    try:
        yield view
    finally:
        view.release()
        try:
            mapped.close()
        except BufferError:
            pass  # a slice is still referenced (say, by a traceback): unmapped when it is collected


def _metadata_json(raw: memoryview | None, what: str) -> dict:
    if raw is None or len(raw) == 0:
        raise FrontendError(f"{what} has no Keras metadata for the root object")
    if len(raw) > METADATA_LIMIT:
        raise FrontendError(f"{what}: root metadata is too large ({len(raw)} bytes, limit {METADATA_LIMIT})")
    metadata = parse_json(bytes(raw), f"{what} root metadata")
    if not isinstance(metadata, dict):
        raise FrontendError(f"{what}: root metadata is not a JSON object")
    return metadata


def _root_from_keras_metadata(path: Path) -> dict:
    with _mapped(path) as data:
        try:
            for node in wire.submessages(data, METADATA_NODES):
                if wire.string(node, NODE_PATH) == "root":
                    return _metadata_json(wire.first(node, NODE_METADATA), "keras_metadata.pb")
        except wire.WireError as exc:
            raise FrontendError(f"keras_metadata.pb is not a valid protobuf ({exc})") from None
    raise FrontendError("keras_metadata.pb has no root object")


def _root_from_saved_model(path: Path) -> dict:
    """TF 2.0-2.4: the root object's metadata inside saved_model.pb, if Keras wrote one."""
    with _mapped(path) as data:
        try:
            meta_graph = wire.first(data, SAVED_MODEL_META_GRAPHS)
            graph = wire.first(meta_graph, META_GRAPH_OBJECT_GRAPH) if meta_graph is not None else None
            root = wire.first(graph, OBJECT_GRAPH_NODES) if graph is not None else None
            user = wire.first(root, OBJECT_USER_OBJECT) if root is not None else None
            identifier = wire.string(user, USER_OBJECT_IDENTIFIER) if user is not None else None
            raw = wire.first(user, USER_OBJECT_METADATA) if user is not None else None
        except wire.WireError as exc:
            raise FrontendError(f"saved_model.pb is not a valid protobuf ({exc})") from None
        if not (identifier or "").startswith("_tf_keras"):
            raise FrontendError(
                "SavedModel without keras_metadata.pb and not saved by Keras "
                "(a plain tf.Module or a Keras 3 export): no Keras model config to read"
            )
        if raw is None or len(raw) == 0:
            raise FrontendError("Keras SavedModel without keras_metadata.pb: its model config is missing")
        return _metadata_json(raw, "saved_model.pb")


def read_savedmodel(path: Path) -> tuple[dict, str | None]:
    """(the root model config as stored, its keras_version or None) of a SavedModel directory."""
    # Opened straight away rather than checked first: one system call instead of three.
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
