"""Rebuild a script finding's model from what the static analysis recorded (worker side: runs TF).

The script is not run: the callee's constructor (`keras.applications.ResNet50`, ...) is called
with its literal arguments and `weights=None` (nothing can be downloaded, and whether BN layers
switch to batch statistics does not depend on the weights), at the architecture's smallest input
size to stay fast, frozen as the script freezes it and composed the way the script composes it.

This is a replica, not the user's model, and everything measured on it says so (`Replica.measured`).
Fresh BN layers hold moving statistics of 0 and 1, which no trained model has: a deep replica's
inference output is then nearly zero and any train/inference comparison reads ~100%. So the
replica's moving statistics are first set to the batch statistics of a separate warm-up batch, as
if it had been trained on data like the batch it is measured on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bnlint.confirm.layers import is_batchnorm, momentum_of, to_numpy, walk_layers
from bnlint.confirm.measure import input_specs
from bnlint.confirm.outcome import Subject
from bnlint.confirm.sample import SEED, InputSpec, synthetic

# Smallest spatial input each application accepts; 32 for the others.
MIN_SIDE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
DEFAULT_SIDE = 32
TIME_STEPS = 2  # frames per sample for a TimeDistributed composition
BATCHNORM_FEATURES = 16  # input width for a lone BatchNormalization layer
WARM_ROWS = 32  # the warm-up batch: more rows than the measured batch, another seed
WARM_SEED = SEED + 1


class NotReproducible(Exception):
    """What was recorded is not enough to rebuild the model. One line."""


@dataclass
class Replica:
    subject: Subject
    description: str  # for the reason: what was built and how it is composed
    measured: dict  # for JSON: {"kind": "replica", "architecture": ..., "input_shape": ..., ...}
    notes: list[str] = field(default_factory=list)


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def _application(keras_module, name: str, arguments: dict) -> tuple[object, tuple, str, tuple | None]:
    constructor = getattr(keras_module.applications, name, None)
    if constructor is None:
        raise NotReproducible(f"{keras_module.__name__}.applications has no {name}")
    kwargs = {k: v for k, v in arguments.items() if k not in ("weights", "input_tensor")}
    side = MIN_SIDE.get(name, DEFAULT_SIDE)
    given = kwargs.get("input_shape")
    if isinstance(given, (list, tuple)) and len(given) == 3:
        channels_first = given[0] in (1, 3) and given[-1] not in (1, 3)
        shape = (given[0], side, side) if channels_first else (side, side, given[-1])
        note = f" at {_shape_text(shape)} (the script uses {_shape_text(given)})" if tuple(given) != shape else ""
    else:
        shape = (side, side, 3)
        given = None
        note = f" at {_shape_text(shape)}"
    kwargs["input_shape"] = shape
    try:
        base = constructor(weights=None, **kwargs)
    except (TypeError, ValueError) as exc:
        raise NotReproducible(f"{name}({_kwargs_text(kwargs)}) cannot be built: {str(exc).splitlines()[0]}") from None
    return base, shape, f"{keras_module.__name__}.applications.{name} with weights=None{note}", tuple(given) if given else None


def _kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def build_callee(keras_module, architecture: str, arguments: dict) -> tuple[object, tuple, str, tuple | None]:
    """The callee object, its input shape (no batch dim), how it was built (for the reason) and
    the input shape the script asked for, when it differs."""
    family, _, name = architecture.rpartition(".")
    if family in ("keras.applications", "tf.keras.applications", "tf_keras.applications"):
        return _application(keras_module, name, arguments)
    if family in ("keras.layers", "tf_keras.layers") and name in ("BatchNormalization", "SyncBatchNormalization"):
        layer = getattr(keras_module.layers, name)(**{k: v for k, v in arguments.items() if k != "input_shape"})
        return layer, (BATCHNORM_FEATURES,), f"a {keras_module.__name__}.layers.{name} layer on {BATCHNORM_FEATURES} features", None
    if family.split(".")[0] in ("keras_hub", "keras_cv"):
        import importlib

        try:
            module = importlib.import_module(family)
        except ImportError:
            raise NotReproducible(f"{family.split('.')[0]} is not installed") from None
        constructor = getattr(module, name, None)
        if constructor is None:
            raise NotReproducible(f"{family} has no {name}")
        try:
            layer = constructor(**arguments)
        except Exception as exc:  # any constructor failure means: not rebuildable from literals
            raise NotReproducible(f"{name}({_kwargs_text(arguments)}) cannot be built: {str(exc).splitlines()[0]}") from None
        inputs = getattr(layer, "inputs", None)
        if not inputs or len(inputs) != 1 or any(d is None for d in tuple(inputs[0].shape)[1:]):
            raise NotReproducible(f"{name} has no fixed input shape to build a batch for")
        return layer, tuple(inputs[0].shape)[1:], f"{family}.{name} (randomly initialised)", None
    raise NotReproducible(f"{architecture} is not an architecture bnlint can rebuild")


def warm_moving_statistics(callee, inputs) -> int:
    """Set the callee's BN moving statistics to the batch statistics of `inputs` (one
    training-mode call of the callee alone, unfrozen); returns how many layers were set.

    One call moves each moving statistic by (1 - momentum) of the way to the batch statistic,
    which gives that statistic back exactly: batch = old + (new - old) / (1 - momentum). The
    callee is called on its own, not through the composition, so that each BN layer updates
    exactly once (TimeDistributed would update it once per frame).
    """
    bns = [layer for layer in walk_layers(callee) if is_batchnorm(layer)]
    flags = [(layer, layer.trainable) for layer in walk_layers(callee)]
    before = [(to_numpy(bn.moving_mean).copy(), to_numpy(bn.moving_variance).copy()) for bn in bns]
    try:
        callee.trainable = True
        callee(inputs, training=True)
    finally:
        for layer, trainable in flags:  # parents first, as listed
            if layer.trainable != trainable:
                layer.trainable = trainable
    warmed = []
    for bn, (mean0, var0) in zip(bns, before):
        momentum = momentum_of(bn)
        mean1, var1 = to_numpy(bn.moving_mean), to_numpy(bn.moving_variance)
        if momentum is None:
            warmed.append((bn, mean0, var0))  # an update rule bnlint does not know: left as it was
            continue
        warmed.append((bn, mean0 + (mean1 - mean0) / (1 - momentum), np.maximum(var0 + (var1 - var0) / (1 - momentum), 0)))
    finite = all(np.isfinite(mean).all() and np.isfinite(var).all() for _, mean, var in warmed)
    for (bn, mean, var), (mean0, var0) in zip(warmed, before):
        bn.moving_mean.assign(mean if finite else mean0)
        bn.moving_variance.assign(var if finite else var0)
    return sum(1 for bn in bns if momentum_of(bn) is not None) if finite else 0


def reproduce(keras_module, target: dict) -> tuple[Replica, object]:
    """Build the flagged composition around a freshly built, warmed callee; returns the replica
    and the batch (a seeded synthetic one) to measure it on."""
    K = keras_module
    # Seeded weight initialisation: the same finding reports the same numbers on every run.
    K.utils.set_random_seed(SEED)
    architecture = target["architecture"]
    callee, shape, built, script_shape = build_callee(K, architecture, target.get("arguments") or {})
    frozen = target["check"] != "training-true-batchnorm"
    callee.trainable = not frozen
    composition, training = target.get("composition") or "call", target.get("training") or "absent"
    kwargs = {"training": training == "true"} if training in ("true", "false") else {}
    layer = K.layers.TimeDistributed(callee) if composition == "time_distributed" else callee
    layer_shape = (TIME_STEPS, *shape) if composition == "time_distributed" else shape
    notes = []

    def functional(call_kwargs: dict):
        inputs = K.Input(layer_shape)
        return K.Model(inputs, layer(inputs, **call_kwargs))

    if composition == "call":
        model = functional(kwargs)
        how = f"called with training={kwargs['training']}" if kwargs else "called without training=False"
    elif composition in ("sequential", "add", "time_distributed"):
        model = K.Sequential([K.Input(layer_shape), layer])
        how = "in TimeDistributed inside Sequential" if composition == "time_distributed" else "inside Sequential"
        notes.append("training=False was measured on the functional rewrite, base(inputs, training=False)")
    elif composition == "output":
        if not getattr(callee, "inputs", None):
            raise NotReproducible("a `.output` composition needs a model with inputs")
        model = K.Model(callee.inputs, callee.outputs)
        how = "its graph reused in place through .output (its layers become the model's, so no call can pass training=False)"
        notes.append("training=False was measured on the model restructured to call it, base(inputs, training=False)")
    else:
        raise NotReproducible(f"unknown composition {composition!r}")
    batch = synthetic(input_specs(model))
    callee_specs = input_specs(callee) if getattr(callee, "inputs", None) else [InputSpec("x", (None, *shape), "float32")]
    warm = synthetic(callee_specs, rows=WARM_ROWS, seed=WARM_SEED)
    warmed = warm_moving_statistics(callee, warm.inputs[0])
    # Remedy (a): the same callee object (same weights, same random state) called with training=False.
    subject = Subject(model, callee, lambda: (functional({"training": False}), callee, True))
    statistics = f"its BN moving statistics set from a {warm.description}, " if warmed else ""
    description = (f"measured on a replica, not on your model: {built}, {'frozen, ' if frozen else ''}{how}, "
                   f"{statistics}run on a {batch.description} (the sizes of the numbers are the replica's)")
    measured = {
        "kind": "replica", "architecture": architecture, "arguments": {k: v for k, v in (target.get("arguments") or {}).items()},
        "weights": None, "input_shape": list(shape), "script_input_shape": list(script_shape) if script_shape else None,
        "composition": composition, "training": training,
        "moving_statistics": f"set from a {warm.description}" if warmed else "as initialised",
        "batch": batch.description,
    }
    return Replica(subject, description, measured, notes), batch
