"""Walk and read the layers of a live Keras model: the helpers every worker-side check shares.

Duck-typed and free of Keras imports, so it works the same on Keras 3 and tf.keras layers.
"""

from __future__ import annotations

import numpy as np


def walk_layers(layer) -> list:
    """The layer and every layer inside it, parents before children, each once."""
    flatten = getattr(layer, "_flatten_layers", None)
    found = list(flatten(include_self=True, recursive=True)) if flatten else [layer]
    seen, ordered = set(), []
    for item in found:
        if id(item) not in seen:
            seen.add(id(item))
            ordered.append(item)
    return ordered


def is_batchnorm(layer) -> bool:
    # Duck-typed: BatchNormalization, SyncBatchNormalization and user subclasses all qualify.
    return hasattr(layer, "moving_mean") and hasattr(layer, "moving_variance") and not getattr(layer, "layers", None)


def find_layer(model, path: str | None):
    """The layer at a `/`-joined path of layer names (through nested models and wrappers)."""
    layer = model
    for name in [p for p in (path or "").split("/") if p]:
        children = list(getattr(layer, "layers", None) or [])
        inner = getattr(layer, "layer", None)  # TimeDistributed, Bidirectional, other wrappers
        if inner is not None:
            children.append(inner)
        match = [child for child in children if child.name == name]
        if not match and inner is not None:
            match = [child for child in getattr(inner, "layers", None) or [] if child.name == name]
        if not match:
            raise LookupError(f"no layer {name!r} in {layer.name!r}")
        layer = match[0]
    return layer


def path_to(model, target) -> list[str] | None:
    """Layer names leading from `model` to the `target` object, or None if it is not inside."""
    if model is target:
        return []
    children = list(getattr(model, "layers", None) or [])
    inner = getattr(model, "layer", None)
    if inner is not None:
        children.append(inner)
    for child in children:
        rest = path_to(child, target)
        if rest is not None:
            return [child.name, *rest]
    return None


def to_numpy(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def momentum_of(bn) -> float | None:
    value = getattr(bn, "momentum", None)
    return float(value) if isinstance(value, (int, float)) and 0 < value < 1 else None
