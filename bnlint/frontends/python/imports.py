"""Import paths: canonical Keras names (`tf.keras.X` -> `keras.X`) and the runtime they betray."""

from __future__ import annotations

import re
from functools import lru_cache

# Roots whose import makes a file worth interpreting; everything else is someone else's library.
KERAS_FAMILY = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_cv", "keras_nlp", "tensorflow_hub")
# Third-party modules that build Keras models bnlint knows (rules/knowledge/, `keras_packages`).
# Only these modules, not their package: a project's own `efficientnet.py` is still the project's.
KERAS_PACKAGE_MODULES = ("efficientnet.tfkeras", "efficientnet.keras")
_PACKAGE_PREFIXES = tuple(f"{m}." for m in KERAS_PACKAGE_MODULES)

_IMPORTED = "|".join((*KERAS_FAMILY, *(re.escape(m) for m in KERAS_PACKAGE_MODULES)))
# Matches an import statement of a Keras-family module anywhere in a file (the early exit).
IMPORTS_KERAS = re.compile(
    r"^[ \t]*(?:from[ \t]+(?:" + _IMPORTED + r")\b"
    r"|import[ \t]+[^\n#]*\b(?:" + _IMPORTED + r")\b)",
    re.MULTILINE,
)

# Every spelling of the Keras API, longest first: they all become `keras.`.
_KERAS_PREFIXES = (
    "tensorflow.compat.v1.keras",
    "tensorflow.compat.v2.keras",
    "tensorflow.python.keras",
    "keras._tf_keras.keras",
    "keras.api._v2.keras",
    "tensorflow.keras",
    "tf_keras.src",
    "tf_keras",
    "keras.src",
    "keras.api",
    # TF1's tf.layers.BatchNormalization is a Keras BatchNormalization subclass.
    "tensorflow.compat.v1.layers:keras.layers",
    "tensorflow.layers:keras.layers",
)

_ALIASES = {
    "keras.models.Sequential": "keras.Sequential",
    "keras.models.Model": "keras.Model",
    "keras.models.Functional": "keras.Model",
    "keras.engine.sequential.Sequential": "keras.Sequential",
    "keras.engine.training.Model": "keras.Model",
    "keras.engine.functional.Functional": "keras.Model",
    "keras.layers.Input": "keras.Input",
    "keras.engine.input_layer.Input": "keras.Input",
    "keras.layers.core.input_layer.Input": "keras.Input",
    "keras.layers.Layer": "keras.Layer",
    "keras.engine.base_layer.Layer": "keras.Layer",
    "keras.layers.BatchNormalizationV1": "keras.layers.BatchNormalization",
    "keras.layers.BatchNormalizationV2": "keras.layers.BatchNormalization",
    "tensorflow_hub.keras_layer.KerasLayer": "tensorflow_hub.KerasLayer",
}

def _strip_prefix(qname: str) -> str:
    for entry in _KERAS_PREFIXES:
        prefix, _, replacement = entry.partition(":")
        replacement = replacement or "keras"
        if qname == prefix or qname.startswith(prefix + "."):
            return replacement + qname[len(prefix):]
    return qname


def _collapse_submodules(parts: list[str]) -> list[str]:
    """`keras.applications.resnet50.ResNet50` -> `keras.applications.ResNet50`: the first
    capitalised component is the public name; modules between the namespace and it are noise."""
    first_class = next((i for i, p in enumerate(parts) if p[:1].isupper()), None)
    if first_class is None or first_class < 3:
        return parts
    head, tail = parts[:first_class], parts[first_class:]
    if head[0] == "keras" and head[1] in ("applications", "layers", "models"):
        return head[:2] + tail
    if head[0] in ("keras_hub", "keras_cv", "keras_nlp") and "models" in head:
        return [head[0], "models", *tail]
    if head[0] == "tensorflow_hub":
        return [head[0], *tail]
    return parts


@lru_cache(maxsize=4096)
def canonical(qname: str) -> str:
    """The canonical spelling of an imported path (`tensorflow.keras.applications.resnet.ResNet50`
    -> `keras.applications.ResNet50`); non-Keras paths come back unchanged."""
    name = _strip_prefix(qname)
    if name.startswith(("keras_hub.src.", "keras_cv.src.", "keras_nlp.src.")):
        root, _, rest = name.partition(".src.")
        name = f"{root}.{rest}"
    name = ".".join(_collapse_submodules(name.split(".")))
    if name in _ALIASES:
        return _ALIASES[name]
    # keras.models.Sequential.from_config etc. keep their method suffix
    head, _, method = name.rpartition(".")
    if head in _ALIASES:
        return f"{_ALIASES[head]}.{method}"
    return name


def in_keras_family(qname: str) -> bool:
    """Whether an imported path is Keras's, or one of a known package's Keras modules."""
    return qname.partition(".")[0] in KERAS_FAMILY or qname in KERAS_PACKAGE_MODULES or qname.startswith(_PACKAGE_PREFIXES)
