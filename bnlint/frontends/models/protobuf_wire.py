"""A minimal reader of the protobuf wire format: just enough to walk keras_metadata.pb and saved_model.pb.

bnlint does not depend on the `protobuf` package; the two messages it needs are a handful of
length-delimited fields, which this module finds without decoding anything else.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH_DELIMITED, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buffer: memoryview, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buffer):
            raise WireError("truncated varint")
        byte = buffer[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:  # a varint is at most 10 bytes
            raise WireError("varint too long")


def iter_fields(buffer: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) for each field of one message, in order.

    Length-delimited values are zero-copy slices, so skipping a large field costs nothing.
    """
    view = memoryview(buffer)
    pos = 0
    while pos < len(view):
        key, pos = read_varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            value, pos = read_varint(view, pos)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(view, pos)
            if pos + length > len(view):
                raise WireError("truncated length-delimited field")
            value, pos = view[pos : pos + length], pos + length
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > len(view):
                raise WireError("truncated fixed-width field")
            value, pos = int.from_bytes(view[pos : pos + size], "little"), pos + size
        else:
            # Groups are deprecated and never used by the messages bnlint reads.
            raise WireError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value


def submessages(buffer: bytes | memoryview, number: int) -> Iterator[memoryview]:
    """The raw bytes of every length-delimited field `number` (a repeated message or string field)."""
    for field_number, wire_type, value in iter_fields(buffer):
        if field_number == number:
            if wire_type != LENGTH_DELIMITED:
                raise WireError(f"field {number} is not length-delimited")
            yield value  # type: ignore[misc]


def first(buffer: bytes | memoryview, number: int) -> memoryview | None:
    """The first length-delimited field `number`, or None."""
    return next(submessages(buffer, number), None)


def string(buffer: bytes | memoryview, number: int) -> str | None:
    """A string field decoded as UTF-8 (None when absent); protobuf strings are always UTF-8."""
    raw = first(buffer, number)
    if raw is None:
        return None
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(f"field {number} is not UTF-8 text") from None
