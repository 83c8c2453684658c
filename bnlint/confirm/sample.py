"""The batch a dynamic check runs on: the user's `.npz`/`.npy` sample, or a seeded synthetic one.

Numpy only (imported lazily), so the parent can validate `--sample` before a worker starts.
Sample files are read with `allow_pickle=False`: a sample can hold arrays, never objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# A synthetic batch: 8 rows, and 32 for every dimension the model leaves open (`None`).
SYNTHETIC_ROWS = 8
UNKNOWN_DIM = 32
SEED = 0
# Rows kept from a user's sample: BN statistics need a batch, not a data set.
MAX_ROWS = 32


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
    description: str  # for reasons: "8x32x32x3 synthetic batch", "sample.npz (16 rows)"


def load_sample(path: Path) -> dict:
    """The arrays of a `.npz` (by name) or `.npy` (as `x`) file."""
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle: refused
        raise SampleError(f"cannot read the sample: {exc}") from None
    except (OSError, EOFError) as exc:
        raise SampleError(f"cannot read the sample: {exc}") from None
    if isinstance(loaded, np.ndarray):
        return {"x": loaded}
    with loaded:
        try:
            arrays = {name: loaded[name] for name in loaded.files}
        except ValueError as exc:
            raise SampleError(f"cannot read the sample: {exc}") from None
    if not arrays:
        raise SampleError("the sample .npz holds no arrays")
    return arrays


def _shape(array) -> str:
    return "x".join(str(d) for d in array.shape)


def from_sample(arrays: dict, specs: list[InputSpec], label: str) -> Batch:
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
    inputs = [a[:MAX_ROWS] for a in inputs]
    labels = arrays.get("y")
    if labels is not None:
        labels = labels[:MAX_ROWS]
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
