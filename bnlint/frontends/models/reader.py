"""The saved-model frontend: tell `.keras`, `.h5` and SavedModel inputs apart, read their config, lower it."""

from __future__ import annotations

from pathlib import Path

from bnlint import safe_io
from bnlint.frontends import FrontendError
from bnlint.frontends.models.hdf5 import read_hdf5_model
from bnlint.frontends.models.keras_archive import read_keras_archive
from bnlint.frontends.models.lowering import lower_config
from bnlint.frontends.models.tf_savedmodel import is_savedmodel_dir, read_savedmodel
from bnlint.ir import Unit
from bnlint.runtime import from_keras_version
from bnlint.vocabulary import MODEL_SUFFIXES

__all__ = ["analyze_file", "is_savedmodel_dir", "read_model_config"]

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# Where each format records the Keras version that wrote it (shown as the runtime's source).
VERSION_SOURCES = {
    "keras": "metadata.json keras_version",
    "h5": "HDF5 keras_version",
    "savedmodel": "keras_metadata.pb keras_version",
}
_MODEL_FORMATS = {suffix: kind for kind, suffixes in MODEL_SUFFIXES.items() for suffix in suffixes}
READERS = {"keras": read_keras_archive, "h5": read_hdf5_model, "savedmodel": read_savedmodel}
# "3.15.1", "2.2.4-tf", "2.13.1-dev2023...": a version is short. Longer is not a version, and
# reading it as one (int() of its 4,301st digit) fails or takes quadratic time.
VERSION_LENGTH_LIMIT = 64


def _sniff(path: Path) -> str | None:
    """"keras" or "h5" from the first bytes of a file, None when they say neither."""
    try:
        with safe_io.open_regular(path) as handle:
            head = handle.read(8)
    except safe_io.UnreadableFile as exc:
        raise FrontendError(str(exc)) from None
    except OSError as exc:
        raise FrontendError(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if head.startswith(ZIP_MAGIC):
        return "keras"
    return "h5" if head == HDF5_MAGIC else None


def read_model_config(path: Path) -> tuple[dict, str | None, str]:
    """(the top-level model config exactly as stored, the recorded keras_version or None, the format).

    The format is "keras", "h5" or "savedmodel". Never imports TensorFlow or Keras, never reads
    weights. Raises FrontendError.
    """
    path = Path(path)
    if path.is_dir():
        # tf.keras before 2.12 wrote a SavedModel directory for model.save("model.keras") too.
        kind = "savedmodel"
    else:
        kind = _MODEL_FORMATS.get(path.suffix.lower()) or _sniff(path)
        if kind is None:
            raise FrontendError("not a saved Keras model (.keras, .h5, .hdf5 or a SavedModel directory)")
    try:
        try:
            config, version = READERS[kind](path)
        except FrontendError:
            # The suffix can lie (a renamed file): trust the content when it names another format.
            actual = None if kind == "savedmodel" else _sniff(path)
            if actual is None or actual == kind:
                raise
            kind = actual
            config, version = READERS[kind](path)
    except safe_io.UnreadableFile as exc:
        raise FrontendError(str(exc)) from None
    if version is not None and len(version) > VERSION_LENGTH_LIMIT:
        raise FrontendError(f"its keras_version is not a version ({len(version)} characters long)")
    return config, version, kind


def analyze_file(path: Path, display: str) -> Unit:
    """The IR of one saved model; its runtime comes from the Keras version that wrote it."""
    config, version, kind = read_model_config(path)
    runtime = from_keras_version(version, VERSION_SOURCES[kind])
    return lower_config(config, display, runtime)
