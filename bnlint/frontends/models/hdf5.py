"""Read a legacy `.h5`/`.hdf5` Keras model: the `model_config` and `keras_version` root attributes."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bnlint import safe_io
from bnlint.frontends import FrontendError

CONFIG_LIMIT = 64 * 2**20
VERSION_LIMIT = 4096
_TRUNCATED = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")


def _reason(exc: Exception) -> str:
    """h5py's error as one line without the file name it likes to include."""
    text = str(exc)
    if "file signature not found" in text:
        return "not an HDF5 file (no HDF5 signature)"
    truncated = _TRUNCATED.search(text)
    if truncated:
        return f"truncated HDF5 file ({truncated[1]} of {truncated[2]} bytes)"
    if isinstance(exc, OSError) and exc.errno:
        return f"cannot read: {os.strerror(exc.errno)}"
    return "corrupt HDF5 file"


def _read_text_attribute(attrs, name: str, limit: int) -> str:
    """A string attribute of at most `limit` characters.

    A fixed-length string's storage size is its length, checked before it is read. A
    variable-length one (what h5py writes for a `str`) stores a 16-byte reference into the file's
    heap, so only its length once read can be checked; the heap object it refers to is in the
    file, so reading it costs at most the file's size.
    """
    attribute = attrs.get_id(name)
    if attribute.shape not in ((), (1,)):
        # Keras writes one string; an array of references to one heap object would be read once per element.
        raise FrontendError(f"HDF5 attribute {name} is not one string (shape {attribute.shape})")
    size = attribute.get_storage_size()
    if size > limit:
        raise FrontendError(f"HDF5 {name} is too large ({size} bytes, limit {limit})")
    text = _text(attrs[name], name)
    if len(text) > limit:
        raise FrontendError(f"HDF5 {name} is too large ({len(text)} characters, limit {limit})")
    return text


def _text(value: object, what: str) -> str:
    """An attribute as text: h5py gives str, bytes, or a one-element numpy array in old files."""
    if hasattr(value, "shape") and getattr(value, "size", 0) == 1 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise FrontendError(f"HDF5 attribute {what} is not UTF-8 text") from None
    if isinstance(value, str):
        return value
    raise FrontendError(f"HDF5 attribute {what} is not text")


def read_hdf5_model(path: Path) -> tuple[dict, str | None]:
    """(the model config as stored in the model_config attribute, keras_version or None).

    Raises FrontendError, or safe_io.UnreadableFile for a file that cannot be read or parsed safely."""
    import h5py  # lazily: only saved-model inputs need it

    safe_io.check_regular(path)  # HDF5 would block on a FIFO and read a device forever
    try:
        # Read-only and without HDF5 file locking: a file a training job holds open is still readable.
        with h5py.File(path, "r", locking=False) as h5:
            attrs = h5.attrs
            if "model_config" not in attrs:
                raise FrontendError("weights-only HDF5 file: no model config (saved with save_weights()?)")
            config_text = _read_text_attribute(attrs, "model_config", CONFIG_LIMIT)
            version = _read_text_attribute(attrs, "keras_version", VERSION_LIMIT) if "keras_version" in attrs else None
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise FrontendError(_reason(exc)) from None

    config = safe_io.parse_json(config_text, "HDF5 model_config")
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("HDF5 model_config does not hold a Keras model config (no class_name)")
    return config, version
