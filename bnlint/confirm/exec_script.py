"""`--exec`: run a trusted script in the worker up to its first `fit()` (worker side: runs TF).

`Model.fit` is patched to record the model and its first batch and to stop the script with a
private exception before any training step. Only ever started on the user's explicit request.
"""

from __future__ import annotations

import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bnlint.confirm.layers import walk_layers
from bnlint.confirm.sample import MAX_ROWS


class ScriptError(Exception):
    """The script did not get to `fit()`. One line."""


class _StopBeforeTraining(BaseException):
    # A BaseException, so the script's own `except Exception:` cannot swallow it.
    pass


@dataclass
class Capture:
    model: object
    inputs: object  # the first batch, as fit() would pass it to the model
    namespaces: list[dict] = field(default_factory=list)  # locals/globals at the fit() call, innermost first


def _first_batch(x, batch_size: int | None):
    rows = min(batch_size or MAX_ROWS, MAX_ROWS)
    if x is None:
        raise ScriptError("fit() was called without data")
    if hasattr(x, "take") and hasattr(x, "element_spec"):  # tf.data.Dataset
        batch = next(iter(x))
    elif hasattr(x, "__next__"):  # a generator
        batch = next(x)
    elif hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "shape") and not isinstance(x, (list, tuple, dict)):
        batch = x[0]  # keras.utils.PyDataset / Sequence
    else:
        return _rows(x, rows)
    features = batch[0] if isinstance(batch, tuple) else batch
    return _rows(features, rows)


def _rows(value, rows: int):
    if isinstance(value, dict):
        return {k: _rows(v, rows) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rows(v, rows) for v in value]
    return value[:rows]


def _namespaces(frame) -> list[dict]:
    found = []
    while frame is not None:
        found.append(frame.f_locals)
        if frame.f_globals.get("__name__") == "__main__" and frame.f_code.co_name == "<module>":
            break
        frame = frame.f_back
    return found


def run_until_fit(keras_module, script: Path) -> Capture:
    """Run the script as `__main__` until its first fit(); the model is not trained."""
    captured: list[Capture] = []
    original = keras_module.Model.fit

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        captured.append(Capture(self, _first_batch(x, batch_size), _namespaces(sys._getframe(1))))
        raise _StopBeforeTraining

    saved_argv, saved_path = sys.argv[:], sys.path[:]
    keras_module.Model.fit = fit
    sys.argv = [str(script)]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except _StopBeforeTraining:
        pass
    except SystemExit as exc:
        if not captured:
            raise ScriptError(f"the script exited (status {exc.code}) before fit()") from None
    except Exception as exc:
        if not captured:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ScriptError(f"the script raised {type(exc).__name__} before fit(): {first}"[:300]) from None
    finally:
        keras_module.Model.fit = original
        sys.argv, sys.path[:] = saved_argv, saved_path
    if not captured:
        raise ScriptError("the script finished without calling fit()")
    return captured[0]


def _resolve(name: str, namespaces: list[dict]):
    head, *attributes = name.split(".")
    for namespace in namespaces:
        if head in namespace:
            value = namespace[head]
            try:
                for attribute in attributes:
                    value = getattr(value, attribute)
            except AttributeError:
                continue
            return value
    return None


def find_callee(capture: Capture, name: str, cls: str):
    """The layer object the flagged line calls: by its variable, else by class, else by layer name."""
    layers = walk_layers(capture.model)
    ids = {id(layer) for layer in layers}
    value = _resolve(name, capture.namespaces) if name else None
    if value is not None and (id(value) in ids or any(id(inner) in ids for inner in walk_layers(value)[1:])):
        return value, f"`{name}`"
    by_class = [layer for layer in layers if type(layer).__name__ == cls and layer is not capture.model]
    if len(by_class) == 1:
        return by_class[0], f"the {cls} layer"
    by_name = [layer for layer in layers if layer.name.lower() == (cls or "").lower() or layer.name == name]
    if len(by_name) == 1:
        return by_name[0], f"layer {by_name[0].name!r}"
    raise ScriptError(f"could not find `{name}` ({cls}) in the model passed to fit()")
