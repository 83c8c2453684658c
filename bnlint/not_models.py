"""Recognise inputs that look like saved models, scripts or notebooks but hold nothing to check.

A weights checkpoint (`save_weights()`, `*.weights.h5`), a `model.export()` folder, a plain
`tf.Module` SavedModel and a Git LFS pointer (a clone made without git-lfs holds these small text
files in place of the content) are legitimate files in a project; they are skipped with a note
instead of failing the run. Asked only after the model reader refused an input, so a real model is
never read twice (a script or notebook is recognised from the bytes read for it anyway); an input
that claims to be a model and is broken stays an error.
"""

from __future__ import annotations

from pathlib import Path

from bnlint import safe_io
from bnlint.frontends.models import protobuf_wire as wire
from bnlint.frontends.models import tf_savedmodel as savedmodel

# saved_model.pb of an exported serving model is read whole here; larger ones are not probed.
SAVED_MODEL_LIMIT = 256 * 2**20

# The first line of a Git LFS pointer file, in every spelling git-lfs itself still accepts.
LFS_POINTER_STARTS = (
    b"version https://git-lfs.github.com/spec/v1",
    b"version https://hawser.github.com/spec/v1",
    b"version http://git-media.io/v/2",
)
LFS_POINTER_REASON = "skipped: a Git LFS pointer, not the file's content (`git lfs pull` fetches it)"
_LFS_HEAD = max(len(start) for start in LFS_POINTER_STARTS)
# The files of a SavedModel folder the reader opens: either one may be the pointer.
_SAVEDMODEL_FILES = ("keras_metadata.pb", "saved_model.pb")


def lfs_pointer(head: bytes) -> str | None:
    """The skip note when a file's first bytes are those of a Git LFS pointer, else None."""
    return LFS_POINTER_REASON if head.startswith(LFS_POINTER_STARTS) else None


def _lfs_pointer_file(path: Path) -> str | None:
    """`lfs_pointer` of a file, reading only its first bytes; None when it cannot be read."""
    try:
        with safe_io.open_regular(path) as handle:
            return lfs_pointer(handle.read(_LFS_HEAD))
    except (safe_io.UnreadableFile, OSError):
        return None


def _weights_checkpoint(path: Path) -> str | None:
    import h5py  # only saved-model inputs need it

    try:
        with h5py.File(path, "r", locking=False) as h5:
            if "model_config" in h5.attrs:
                return None  # a model whose config is broken: an error, not a checkpoint
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):
        return None  # not readable HDF5: the reader's error stands
    return "skipped: a weights checkpoint (save_weights()), no model architecture to check"


def _root_identifier(saved_model_pb: bytes) -> str | None:
    meta_graph = wire.first(saved_model_pb, savedmodel.SAVED_MODEL_META_GRAPHS)
    graph = wire.first(meta_graph, savedmodel.META_GRAPH_OBJECT_GRAPH) if meta_graph is not None else None
    root = wire.first(graph, savedmodel.OBJECT_GRAPH_NODES) if graph is not None else None
    user = wire.first(root, savedmodel.OBJECT_USER_OBJECT) if root is not None else None
    return (wire.string(user, savedmodel.USER_OBJECT_IDENTIFIER) if user is not None else None) or ""


def _export(path: Path) -> str | None:
    if (path / "keras_metadata.pb").exists():
        return None  # Keras wrote it: if it cannot be read, that is an error
    try:
        identifier = _root_identifier(safe_io.read_bytes(path / "saved_model.pb", SAVED_MODEL_LIMIT))
    except (safe_io.UnreadableFile, wire.WireError):
        return None
    if identifier.startswith("_tf_keras"):
        return None  # a TF 2.0-2.4 Keras SavedModel whose metadata is missing: broken
    return "skipped: a SavedModel without Keras metadata (model.export() or a tf.Module), no model architecture to check"


def skip_reason(path: Path, kind: str) -> str | None:
    """Why a model input the reader refused is not a model at all, or None when it is a broken one."""
    opened = [path / name for name in _SAVEDMODEL_FILES if (path / name).exists()] if kind == "savedmodel" else [path]
    pointer = next(filter(None, map(_lfs_pointer_file, opened)), None)
    if pointer is not None:
        return pointer
    if kind == "h5":
        return _weights_checkpoint(path)
    if kind == "savedmodel":
        return _export(path)
    return None
