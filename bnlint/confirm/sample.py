"""The batch a dynamic check runs on: the user's `.npz`/`.npy` sample, or a seeded synthetic one.

Numpy only (imported lazily), so the parent validates `--sample` before a worker starts. A sample
is read with bnlint's own bounded reader, never `np.load`: every array's header (dtype, shape) is
checked before a byte of its data is read, so a header that claims 10^12 elements or a 1.5 MB
`.npz` that inflates to gigabytes is refused in one line instead of exhausting memory, and
object arrays (which would need pickle) are refused outright.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

# A synthetic batch: 8 rows, and 32 for every dimension the model leaves open (`None`).
SYNTHETIC_ROWS = 8
UNKNOWN_DIM = 32
SEED = 0
# Rows the confirmation reads from a user's sample: BN statistics need a batch, not a data set.
MAX_ROWS = 32
# The most array data bnlint reads from one sample (explain reads every row). 256 MiB is ~1,300
# 224x224x3 float32 images; more is a data set, not a sample, and would not fit the worker.
MAX_SAMPLE_BYTES = 256 * 2**20
MAX_ARRAYS = 64  # arrays in one .npz
_NPY_MAGIC = b"\x93NUMPY"


class SampleError(ValueError):
    """The sample cannot be used for this model. One line, no path."""


@dataclass(frozen=True)
class InputSpec:
    """One model input as the loaded model declares it."""

    name: str
    shape: tuple[int | None, ...]  # with the batch dimension first
    dtype: str


@dataclass
class Batch:
    inputs: list  # numpy arrays, in the order of the model's inputs
    labels: object | None  # numpy array or None
    description: str  # for reasons: "8x32x32x3 synthetic batch", "sample.npz (16 rows, 16x6)"


@dataclass(frozen=True)
class ArrayHeader:
    """What a `.npy` header declares, checked: a numeric or boolean dtype and a sane shape."""

    shape: tuple[int, ...]
    dtype: object  # numpy dtype
    fortran_order: bool
    offset: int  # where the data starts in its stream

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize if self.shape else self.dtype.itemsize


def _read_header(stream, what: str) -> ArrayHeader:
    from numpy.lib import format as npy_format

    magic = stream.read(len(_NPY_MAGIC) + 2)
    if len(magic) < len(_NPY_MAGIC) + 2 or not magic.startswith(_NPY_MAGIC):
        raise SampleError(f"{what} is not a .npy array")
    version = (magic[-2], magic[-1])
    readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    if version not in readers:
        raise SampleError(f"{what} has .npy format version {version[0]}.{version[1]}, which bnlint does not read")
    try:
        # numpy parses the header with ast.literal_eval and a size cap: nothing in it runs.
        shape, fortran_order, dtype = readers[version](stream)
    except Exception as exc:  # a hostile header or a corrupt stream under it: one line, whatever broke
        raise SampleError(f"{what} has a broken .npy header ({_first_line(exc)})") from None
    if dtype.hasobject:
        raise SampleError(f"{what} holds Python objects (they would need pickle, which bnlint never loads)")
    if dtype.kind not in "biufcSU" or dtype.fields is not None:
        raise SampleError(f"{what} has dtype {dtype}, not numbers, booleans or strings")
    if any(d < 0 for d in shape):
        raise SampleError(f"{what} declares a negative dimension {shape}")
    return ArrayHeader(tuple(shape), dtype, bool(fortran_order), stream.tell() if hasattr(stream, "tell") else 0)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def _read_data(stream, header: ArrayHeader, rows: int | None, what: str, budget: list[int]):
    """The array (its first `rows` rows when given), reading no more than it needs and the budget allows."""
    import numpy as np

    count = _bytes_read(header, rows)
    kept = None if not header.shape else header.shape[0] if rows is None else min(rows, header.shape[0])
    if count > budget[0]:
        raise SampleError(
            f"{what} is too large to read: {header.shape} {header.dtype} is {count:,} bytes, "
            f"the limit for a sample is {MAX_SAMPLE_BYTES:,} bytes"
        )
    budget[0] -= count
    try:
        data = stream.read(count)
    except Exception as exc:  # corrupt compressed data raises zlib, lzma, bz2 or zipfile errors
        raise SampleError(f"{what} cannot be read: {_first_line(exc)}") from None
    if len(data) < count:
        raise SampleError(f"{what} is truncated: its header declares {header.nbytes:,} bytes of data, the file holds fewer")
    flat = np.frombuffer(data, dtype=header.dtype)
    if not header.shape:
        return flat.reshape(())
    if header.fortran_order:
        array = flat.reshape(header.shape[::-1]).transpose()
        return np.ascontiguousarray(array[:kept])
    return flat.reshape((kept, *header.shape[1:]))


def _open_regular(path: Path):
    """Open a regular file for reading (a FIFO or a device would block or never end)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise SampleError(f"cannot read the sample: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(mode):
        raise SampleError("the sample is not a regular file")
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise SampleError(f"cannot read the sample: {exc.strerror or type(exc).__name__}") from None


def _npz_members(archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > MAX_ARRAYS:
        raise SampleError(f"the sample .npz holds {len(members)} members, more than the {MAX_ARRAYS} bnlint reads")
    named = []
    for info in members:
        if not info.filename.endswith(".npy"):
            raise SampleError(f"the sample .npz member {info.filename!r} is not a .npy array")
        named.append((info.filename[: -len(".npy")], info))
    if not named:
        raise SampleError("the sample .npz holds no arrays")
    return named


def _read_npz(handle, rows: int | None, headers_only: bool) -> dict:
    budget = [MAX_SAMPLE_BYTES]
    arrays = {}
    try:
        with zipfile.ZipFile(handle) as archive:
            for name, info in _npz_members(archive):
                what = f"array {name!r}"
                with archive.open(info) as stream:
                    header = _read_header(stream, what)
                    # The member's declared size bounds what decompression may produce.
                    if header.offset + header.nbytes > info.file_size:
                        raise SampleError(f"{what} is truncated: its header declares {header.nbytes:,} bytes of data, "
                                          f"the .npz member holds {max(info.file_size - header.offset, 0):,}")
                    arrays[name] = header if headers_only else _read_data(stream, header, rows, what, budget)
    except SampleError:
        raise
    except Exception as exc:  # a broken archive: bad directory, names, compression, encryption, CRC
        raise SampleError(f"the sample is not a readable .npz archive ({_first_line(exc)})") from None
    return arrays


def _read_npy(handle, rows: int | None, headers_only: bool) -> dict:
    header = _read_header(handle, "the sample")
    size = os.fstat(handle.fileno()).st_size
    if header.offset + header.nbytes > size:
        raise SampleError(f"the sample is truncated: its header declares {header.nbytes:,} bytes of data, "
                          f"the file holds {max(size - header.offset, 0):,}")
    return {"x": header if headers_only else _read_data(handle, header, rows, "the sample", [MAX_SAMPLE_BYTES])}


def read_sample(path: Path, rows: int | None = None, headers_only: bool = False) -> dict:
    """The arrays of a `.npz` (by name) or `.npy` (as `x`) file, each cut to its first `rows`
    rows when given; with `headers_only`, their checked `ArrayHeader`s and no data. Raises
    SampleError (one line) for anything unreadable, hostile or too large."""
    with _open_regular(path) as handle:
        start = handle.read(len(_NPY_MAGIC))
        handle.seek(0)
        if start == _NPY_MAGIC:
            return _read_npy(handle, rows, headers_only)
        if start[:2] == b"PK":
            return _read_npz(handle, rows, headers_only)
    raise SampleError("the sample is neither a .npy array nor a .npz archive")


def load_sample(path: Path) -> dict:
    """Every array of the sample (explain uses them all), within the size limit."""
    return read_sample(path)


def check_sample(path: Path, rows: int | None = None) -> dict:
    """Validate a sample without reading its data (the parent does this before starting a
    worker): what reading it, cut to `rows` rows when given, would take must fit the limit."""
    headers = read_sample(path, headers_only=True)
    total = sum(_bytes_read(h, rows) for h in headers.values())
    if total > MAX_SAMPLE_BYTES:
        what = "its arrays hold" if rows is None else f"its first {rows} rows hold"
        raise SampleError(f"the sample is too large to read: {what} {total:,} bytes, the limit for a sample is {MAX_SAMPLE_BYTES:,}")
    return headers


def _bytes_read(header: ArrayHeader, rows: int | None) -> int:
    if rows is None or header.fortran_order or not header.shape:
        return header.nbytes
    return min(rows, header.shape[0]) * header.row_bytes()


def _shape(array) -> str:
    return "x".join(str(d) for d in array.shape)


def from_sample(arrays: dict, specs: list[InputSpec], label: str, max_rows: int | None = MAX_ROWS) -> Batch:
    """Pick the model's inputs out of a sample: arrays named after the inputs, or `x` (and `y`)."""
    names = [s.name for s in specs]
    if all(n in arrays for n in names):
        inputs = [arrays[n] for n in names]
    elif len(specs) == 1 and "x" in arrays:
        inputs = [arrays["x"]]
    elif len(specs) == 1 and len([k for k in arrays if k != "y"]) == 1:
        inputs = [next(v for k, v in arrays.items() if k != "y")]
    else:
        raise SampleError(
            f"the sample has arrays {', '.join(sorted(arrays))}; the model needs {', '.join(names)} (or `x`)"
        )
    rows = {len(a) if a.ndim else 0 for a in inputs}
    if len(rows) != 1 or 0 in rows:
        raise SampleError("the sample's input arrays need the same number of rows (at least one)")
    for spec, array in zip(specs, inputs):
        _check_shape(spec, array)
    labels = arrays.get("y")
    if labels is not None and (not labels.ndim or len(labels) < len(inputs[0])):
        raise SampleError(f"the sample's `y` has {len(labels) if labels.ndim else 0} rows, its inputs {len(inputs[0])}")
    if max_rows is not None:
        inputs = [a[:max_rows] for a in inputs]
    if labels is not None:
        labels = labels[: len(inputs[0])]
    kept = len(inputs[0])
    return Batch(inputs, labels, f"{label} ({kept} rows, {' + '.join(_shape(a) for a in inputs)})")


def _check_shape(spec: InputSpec, array) -> None:
    expected = spec.shape
    if len(expected) != array.ndim or any(e is not None and e != a for e, a in zip(expected[1:], array.shape[1:])):
        want = "x".join("?" if d is None else str(d) for d in expected[1:])
        raise SampleError(f"sample array for input {spec.name!r} has shape {array.shape}, the model expects (rows, {want})")


def synthetic(specs: list[InputSpec], rows: int = SYNTHETIC_ROWS, seed: int = SEED) -> Batch:
    """A seeded batch from the input specs: standard normal floats, 0/1 integers and booleans."""
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = []
    for spec in specs:
        shape = (rows, *(UNKNOWN_DIM if d is None else d for d in spec.shape[1:]))
        dtype = np.dtype(spec.dtype) if spec.dtype not in ("string", "str") else None
        if dtype is None or dtype.kind in "OSU":
            raise SampleError(f"input {spec.name!r} takes {spec.dtype} values: pass --sample")
        if dtype.kind == "b":
            inputs.append(rng.integers(0, 2, size=shape).astype(bool))
        elif dtype.kind in "iu":
            # Valid token ids / class indices for any vocabulary: the smallest ones.
            inputs.append(rng.integers(0, 2, size=shape).astype(dtype))
        else:
            inputs.append(rng.standard_normal(shape).astype(dtype))
    return Batch(inputs, None, f"{' + '.join(_shape(a) for a in inputs)} synthetic batch")


def synthetic_labels(prediction, loss: str, seed: int = SEED):
    """Labels shaped like `prediction` (a numpy array) that make sense for `loss`."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, prediction.shape[-1], size=prediction.shape[:-1])
    if loss == "categorical_crossentropy":
        return np.eye(prediction.shape[-1], dtype=prediction.dtype)[rng.integers(0, prediction.shape[-1], size=prediction.shape[:-1])]
    if loss in ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"):
        return rng.integers(0, 2, size=prediction.shape).astype(prediction.dtype)
    return rng.standard_normal(prediction.shape).astype(prediction.dtype)
