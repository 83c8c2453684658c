"""Read a `.keras` archive (a zip): the model config and the Keras version, never the weights."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from bnlint.frontends import FrontendError
from bnlint.frontends.models.lowering import parse_json

# Far above any real config (ResNet50's config.json is 176 KB): the limits stop zip bombs, not models.
CONFIG_LIMIT = 64 * 2**20
METADATA_LIMIT = 2**20
CHUNK = 1 << 16


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    """A member's bytes, None if absent; refused if it is, or inflates to, more than `limit` bytes."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise FrontendError(f"{name} in the archive is too large ({info.file_size} bytes, limit {limit})")
    # The declared size can lie, so inflate in small steps and stop past the limit; one big
    # read(limit) would inflate up to `limit` bytes at once before zipfile trims it.
    chunks, size = [], 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise FrontendError(f"{name} in the archive inflates to more than {limit} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def read_keras_archive(path: Path) -> tuple[dict, str | None]:
    """(the model config as stored in config.json, metadata.json's keras_version or None)."""
    try:
        with zipfile.ZipFile(path) as archive:
            config_bytes = _read_member(archive, "config.json", CONFIG_LIMIT)
            if config_bytes is None:
                raise FrontendError("no config.json in the .keras archive: not a saved Keras model")
            metadata_bytes = _read_member(archive, "metadata.json", METADATA_LIMIT)
    except zipfile.BadZipFile as exc:
        raise FrontendError(f"not a readable .keras archive ({exc})") from None
    except (zlib.error, EOFError) as exc:
        raise FrontendError(f"corrupt .keras archive ({exc})") from None
    except NotImplementedError:
        raise FrontendError("the .keras archive uses a compression method Python cannot read") from None
    except RuntimeError:  # zipfile's way of saying a member is encrypted
        raise FrontendError("the .keras archive is encrypted") from None
    except OSError as exc:
        raise FrontendError(f"cannot read: {exc.strerror or type(exc).__name__}") from None

    config = parse_json(config_bytes, "config.json")
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("config.json does not hold a Keras model config (no class_name)")
    version = None
    if metadata_bytes is not None:
        metadata = parse_json(metadata_bytes, "metadata.json")
        if isinstance(metadata, dict) and isinstance(metadata.get("keras_version"), str):
            version = metadata["keras_version"]
    return config, version
