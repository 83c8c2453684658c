"""Rebuild a script finding's model from what the static analysis recorded (worker side: runs TF).

The script is not run: the callee's constructor (`keras.applications.ResNet50`, ...) is called
with its literal arguments and `weights=None` (nothing can be downloaded, and the divergence
does not depend on the weights), at the architecture's smallest input size to stay fast,
frozen as the script freezes it and composed the way the script composes it.
"""

from __future__ import annotations

from bnlint.confirm.measure import Subject
from bnlint.confirm.sample import SEED

# Smallest spatial input each application accepts; 32 for the others.
MIN_SIDE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
DEFAULT_SIDE = 32
TIME_STEPS = 2  # frames per sample for a TimeDistributed composition
BATCHNORM_FEATURES = 16  # input width for a lone BatchNormalization layer


class NotReproducible(Exception):
    """What was recorded is not enough to rebuild the model. One line."""


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def _application(keras_module, name: str, arguments: dict) -> tuple[object, tuple, str]:
    constructor = getattr(keras_module.applications, name, None)
    if constructor is None:
        raise NotReproducible(f"{keras_module.__name__}.applications has no {name}")
    kwargs = {k: v for k, v in arguments.items() if k not in ("weights", "input_tensor")}
    side = MIN_SIDE.get(name, DEFAULT_SIDE)
    given = kwargs.get("input_shape")
    if isinstance(given, (list, tuple)) and len(given) == 3:
        channels_first = given[0] in (1, 3) and given[-1] not in (1, 3)
        shape = (given[0], side, side) if channels_first else (side, side, given[-1])
        note = f" at {_shape_text(shape)} instead of {_shape_text(given)}" if tuple(given) != shape else ""
    else:
        shape = (side, side, 3)
        note = f" at {_shape_text(shape)}"
    kwargs["input_shape"] = shape
    try:
        base = constructor(weights=None, **kwargs)
    except (TypeError, ValueError) as exc:
        raise NotReproducible(f"{name}({_kwargs_text(kwargs)}) cannot be built: {str(exc).splitlines()[0]}") from None
    return base, shape, f"{keras_module.__name__}.applications.{name} (weights=None){note}"


def _kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def build_callee(keras_module, architecture: str, arguments: dict) -> tuple[object, tuple, str]:
    """The callee object, its input shape (no batch dim) and how it was built, for the reason."""
    family, _, name = architecture.rpartition(".")
    if family in ("keras.applications", "tf.keras.applications", "tf_keras.applications"):
        return _application(keras_module, name, arguments)
    if family in ("keras.layers", "tf_keras.layers") and name in ("BatchNormalization", "SyncBatchNormalization"):
        layer = getattr(keras_module.layers, name)(**{k: v for k, v in arguments.items() if k != "input_shape"})
        return layer, (BATCHNORM_FEATURES,), f"{keras_module.__name__}.layers.{name}"
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
        return layer, tuple(inputs[0].shape)[1:], f"{family}.{name}"
    raise NotReproducible(f"{architecture} is not an architecture bnlint can rebuild")


def reproduce(keras_module, target: dict) -> tuple[Subject, str]:
    """Build the flagged composition around a freshly built callee; returns it and a description."""
    K = keras_module
    # Seeded weight initialisation: the same finding reports the same numbers on every run.
    K.utils.set_random_seed(SEED)
    callee, shape, built = build_callee(K, target["architecture"], target.get("arguments") or {})
    frozen = target["check"] == "frozen-batchnorm"
    callee.trainable = not frozen
    composition, training = target.get("composition") or "call", target.get("training") or "absent"
    kwargs = {"training": training == "true"} if training in ("true", "false") else {}
    layer = K.layers.TimeDistributed(callee) if composition == "time_distributed" else callee
    layer_shape = (TIME_STEPS, *shape) if composition == "time_distributed" else shape

    def functional(call_kwargs: dict):
        inputs = K.Input(layer_shape)
        return K.Model(inputs, layer(inputs, **call_kwargs))

    if composition == "call":
        model = functional(kwargs)
        how = f"called with training={kwargs['training']}" if kwargs else "called without training=False"
    elif composition in ("sequential", "add", "time_distributed"):
        model = K.Sequential([K.Input(layer_shape), layer])
        how = "in TimeDistributed inside Sequential" if composition == "time_distributed" else "inside Sequential"
    elif composition == "output":
        if not getattr(callee, "inputs", None):
            raise NotReproducible("an `output` composition needs a model with inputs")
        model = K.Model(callee.inputs, callee.outputs)
        how = "reused in place through its .output"
    else:
        raise NotReproducible(f"unknown composition {composition!r}")
    # Remedy (a): the same callee object (same weights, same random state) called with training=False.
    subject = Subject(model, callee, lambda: (functional({"training": False}), callee, True))
    return subject, f"reproduced {built}, {'frozen, ' if frozen else ''}{how}"
