"""Screen a saved model's config for code before any worker loads it (no TensorFlow here).

What loading a model may run, and what bnlint allows:

- **Python bytecode** (a `Lambda` holding a lambda, any `__lambda__` object): refused always, in
  every format, even with `allow_unsafe`. Keras 3 refuses it under `safe_mode=True` anyway, but
  tf_keras ignores `safe_mode` for `.h5` and SavedModel files and would unmarshal and run it.
- **Custom code** (a class or function from a module outside Keras, a `Lambda` naming a
  function): refused unless `allow_unsafe` (the CLI's `--unsafe-load-custom-code`), because making
  the class loadable means importing the user's module, which runs it. With `allow_unsafe` the
  worker imports those modules (from the model's directory or the working directory) and still
  loads with `safe_mode=True`. Keras 2 files do not record the module of a custom class, so such
  a model can only load if the class is importable by other means; otherwise it is unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bnlint.frontends.models.lowering import (
    BATCHNORM_CLASSES,
    BUILTIN_LAYERS,
    MODEL_CLASSES,
)

# Packages whose classes a config may name without that being the user's code.
LIBRARY_PACKAGES = frozenset({"keras", "tf_keras", "keras_hub", "keras_cv", "keras_nlp", "tensorflow"})
_KNOWN_KERAS2_CLASSES = BUILTIN_LAYERS | MODEL_CLASSES | BATCHNORM_CLASSES


@dataclass(frozen=True)
class CustomCode:
    """A class or function the config names from outside Keras."""

    layer_path: str  # the layer it belongs to ("" for the top model)
    name: str  # class or function name
    module: str | None  # None: not recorded (Keras 2, or defined in the saving script's __main__)
    registered_name: str | None = None

    def describe(self) -> str:
        where = f"layer {self.layer_path!r}" if self.layer_path else "the model"
        origin = f"module {self.module}" if self.module else "module not recorded"
        return f"{where} uses custom code ({self.name}, {origin})"


@dataclass(frozen=True)
class Screen:
    """What the config says about code, and which Keras wrote the file."""

    keras_version: str | None
    format: str
    bytecode: tuple[str, ...] = ()  # layer paths holding Python bytecode
    custom: tuple[CustomCode, ...] = field(default_factory=tuple)

    @property
    def keras2(self) -> bool:
        """Written by Keras 2 (tf.keras / tf_keras / standalone Keras 2): tf_keras loads it."""
        try:
            return int(str(self.keras_version).split(".")[0]) < 3
        except ValueError:
            return False

    def refusal(self, allow_unsafe: bool) -> str | None:
        """Why this model must not be loaded, naming the offending layer; None if it may be."""
        if self.bytecode:
            where = f"layer {self.bytecode[0]!r}" if self.bytecode[0] else "the model"
            return f"{where} holds Python bytecode (a lambda), which bnlint never deserialises"
        if self.custom and not allow_unsafe:
            return f"{self.custom[0].describe()}: loading it runs that code; pass --unsafe-load-custom-code if you trust it"
        return None


def _join(prefix: str, name: object) -> str:
    return f"{prefix}/{name}" if prefix else str(name)


class _Walk:
    def __init__(self) -> None:
        self.bytecode: list[str] = []
        self.custom: list[CustomCode] = []

    def value(self, node: object, path: str, keras2: bool) -> None:
        if isinstance(node, dict):
            self.entry(node, path, keras2, is_layer=False)
        elif isinstance(node, list):
            for item in node:
                self.value(item, path, keras2)

    def entry(self, node: dict, path: str, keras2: bool, is_layer: bool) -> None:
        class_name = node.get("class_name")
        inner = node.get("config")
        if isinstance(class_name, str):
            self.classify(node, class_name, inner, path, keras2, is_layer)
        for key, item in node.items():
            if key == "layers" and isinstance(item, list):
                for layer in item:
                    if isinstance(layer, dict):
                        config = layer.get("config")
                        name = layer.get("name") or (config.get("name") if isinstance(config, dict) else None)
                        self.entry(layer, _join(path, name or "?"), keras2, is_layer=True)
            elif key != "class_name":
                self.value(item, path, keras2)

    def classify(self, node: dict, class_name: str, inner: object, path: str, keras2: bool, is_layer: bool) -> None:
        if class_name == "__lambda__":
            self.bytecode.append(path)
            return
        if class_name == "Lambda" and isinstance(inner, dict):
            # Keras 2: function_type / output_shape_type "lambda" means marshalled bytecode.
            if any(k.endswith("_type") and v == "lambda" for k, v in inner.items()):
                self.bytecode.append(path)
                return
            if inner.get("function_type") == "function":
                function = inner.get("function")
                self.custom.append(CustomCode(path, str(function), inner.get("module")))
                return
        if "module" in node:  # Keras 3 dialect names the defining module
            module = node.get("module")
            if class_name.startswith("__") and class_name.endswith("__"):
                return  # tuples, tensors, keras tensors: plain data
            if module is None:
                self.custom.append(CustomCode(path, class_name, None, node.get("registered_name")))
            elif module == "builtins":
                if class_name == "function":  # a plain Python function, e.g. a custom activation
                    self.custom.append(CustomCode(path, str(inner), None, node.get("registered_name")))
            elif str(module).split(".")[0] not in LIBRARY_PACKAGES:
                self.custom.append(CustomCode(path, class_name, str(module), node.get("registered_name")))
        elif keras2 and is_layer and (">" in class_name or class_name not in _KNOWN_KERAS2_CLASSES):
            self.custom.append(CustomCode(path, class_name, None))


def screen_config(config: object, keras_version: str | None, format: str) -> Screen:
    """Walk a model config (either dialect) for bytecode and custom code."""
    screen = Screen(keras_version, format)
    walk = _Walk()
    if isinstance(config, dict):
        walk.entry(config, "", screen.keras2, is_layer=True)
    return Screen(keras_version, format, tuple(walk.bytecode), tuple(walk.custom))


def screen_model(path: Path) -> Screen:
    """Read the config of a saved model without loading it (raises FrontendError) and screen it."""
    from bnlint.frontends.models.reader import read_model_config

    config, keras_version, format = read_model_config(path)
    return screen_config(config, keras_version, format)
