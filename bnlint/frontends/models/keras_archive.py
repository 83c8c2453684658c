"""Read a `.keras` archive (a zip): the model config and the Keras version, never the weights."""

from __future__ import annotations

import lzma
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from bnlint import safe_io
from bnlint.frontends import FrontendError

# Far above any real config (ResNet50's config.json is 176 KB): the limits stop zip bombs, not models.
CONFIG_LIMIT = 64 * 2**20
METADATA_LIMIT = 2**20
CHUNK = 1 << 16
# zipfile builds an object (~500 bytes) per entry of the central directory before we can look at
# any; a real .keras has 3. 4 MiB of directory is at least 50,000 entries.
DIRECTORY_LIMIT = 4 * 2**20

_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"


def _directory_size(handle: BinaryIO) -> int | None:
    """The size the archive's end record gives its central directory (None if there is no record)."""
    size = os.fstat(handle.fileno()).st_size
    # The record is the last 22 bytes, unless a comment (up to 64 KiB) follows it.
    for tail_size in (min(size, 22), min(size, 22 + 0xFFFF)):
        handle.seek(size - tail_size)
        tail = handle.read(tail_size)
        end = tail.rfind(_END_OF_DIRECTORY)
        if end >= 0 and end + 22 <= len(tail):
            break
    else:
        return None
    directory = struct.unpack_from("<L", tail, end + 12)[0]
    locator = end - 20
    if directory == 0xFFFFFFFF and locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
        # Zip64: the real size is in the zip64 end record, whose offset the locator gives.
        handle.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
        record = handle.read(56)
        if len(record) == 56 and record[:4] == _ZIP64_END:
            directory = struct.unpack_from("<Q", record, 40)[0]
    return directory


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
    try:
        with archive.open(info) as member:
            while chunk := member.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FrontendError(f"{name} in the archive inflates to more than {limit} bytes")
                chunks.append(chunk)
    except (zlib.error, lzma.LZMAError, EOFError) as exc:
        raise FrontendError(f"corrupt .keras archive ({name}: {exc or type(exc).__name__})") from None
    except OSError as exc:
        if exc.errno is None:  # bz2 reports corrupt data as a plain OSError ("Invalid data stream")
            raise FrontendError(f"corrupt .keras archive ({name}: {exc or 'corrupt compressed data'})") from None
        raise
    return b"".join(chunks)


def _open_archive(handle: BinaryIO) -> zipfile.ZipFile:
    directory = _directory_size(handle)
    if directory is not None and directory > DIRECTORY_LIMIT:
        raise FrontendError(f"too large to analyse (a zip directory of {directory} bytes, limit {DIRECTORY_LIMIT}): not a Keras archive")
    handle.seek(0)
    return zipfile.ZipFile(handle)


def read_keras_archive(path: Path) -> tuple[dict, str | None]:
    """(the model config as stored in config.json, metadata.json's keras_version or None).

    Raises FrontendError, or safe_io.UnreadableFile for a file that cannot be read or parsed safely."""
    try:
        with safe_io.open_regular(path) as handle, _open_archive(handle) as archive:
            config_bytes = _read_member(archive, "config.json", CONFIG_LIMIT)
            if config_bytes is None:
                raise FrontendError("no config.json in the .keras archive: not a saved Keras model")
            metadata_bytes = _read_member(archive, "metadata.json", METADATA_LIMIT)
    except zipfile.BadZipFile as exc:
        raise FrontendError(f"not a readable .keras archive ({exc})") from None
    except UnicodeDecodeError:  # a member name flagged as UTF-8 that is not
        raise FrontendError("not a readable .keras archive (a member name is not valid UTF-8)") from None
    except (zlib.error, lzma.LZMAError, EOFError) as exc:
        raise FrontendError(f"corrupt .keras archive ({exc or type(exc).__name__})") from None
    except NotImplementedError:
        raise FrontendError("the .keras archive uses a compression method Python cannot read") from None
    except RuntimeError:  # zipfile's way of saying a member is encrypted
        raise FrontendError("the .keras archive is encrypted") from None
    except (ValueError, struct.error) as exc:  # negative or impossible offsets in the headers
        raise FrontendError(f"not a readable .keras archive ({exc})") from None
    except OSError as exc:
        raise FrontendError(f"cannot read: {exc.strerror or exc or type(exc).__name__}") from None

    config = safe_io.parse_json(config_bytes, "config.json")
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("config.json does not hold a Keras model config (no class_name)")
    version = None
    if metadata_bytes is not None:
        metadata = safe_io.parse_json(metadata_bytes, "metadata.json")
        if isinstance(metadata, dict) and isinstance(metadata.get("keras_version"), str):
            version = metadata["keras_version"]
    return config, version
