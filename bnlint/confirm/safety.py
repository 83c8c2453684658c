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

The screen stands on its own rather than trusting what the file says about itself: a layer entry
without a `module` is the Keras 2 dialect whatever `keras_version` claims (`""`, `"abc"`), so its
class must be a Keras class; and a SavedModel is screened object by object as well, because
tf_keras revives each layer from that layer's own metadata, not only from the root's config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bnlint.frontends import FrontendError
from bnlint.frontends.models import config_tree
from bnlint.knowledge import layer_classes

_MAJOR = re.compile(r"\s*(\d{1,6})(?!\d)")
# SavedModel objects that tf_keras revives as layers (their class must be a Keras class).
_LAYER_IDENTIFIERS = ("_tf_keras_layer", "_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential",
                      "_tf_keras_input_layer", "_tf_keras_rnn_layer")


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
    keras2_dialect: bool = False  # the config is written the Keras 2 way (no `module` on its entries)

    @property
    def keras2(self) -> bool:
        """Written by Keras 2 (tf.keras / tf_keras / standalone Keras 2): tf_keras loads it.
        From the recorded version; from how the config is written when the version is unreadable."""
        major = _MAJOR.match(str(self.keras_version or ""))
        return int(major.group(1)) < 3 if major else self.keras2_dialect

    def refusal(self, allow_unsafe: bool) -> str | None:
        """Why this model must not be loaded, naming the offending layer; None if it may be."""
        if self.bytecode:
            where = f"layer {self.bytecode[0]!r}" if self.bytecode[0] else "the model"
            return f"{where} holds Python bytecode (a lambda), which bnlint never deserialises"
        if self.custom and not allow_unsafe:
            return f"{self.custom[0].describe()}: loading it runs that code; pass --unsafe-load-custom-code if you trust it"
        return None


class _Findings:
    """Bytecode and custom code found so far, each place once, in the order found."""

    def __init__(self) -> None:
        classes = layer_classes()
        self.keras2_classes = classes.builtin | classes.models | classes.batchnorm
        self.libraries = classes.library_packages
        self.bytecode: dict[str, None] = {}
        self.custom: dict[CustomCode, None] = {}

    def scan(self, value: object, path: str, layer: dict | None, skip: frozenset[int] = frozenset()) -> None:
        """Every mapping inside `value` (iteratively: any depth), `layer` being the layer entry
        itself when `value` is one; `skip` holds the ids of sub-layer entries, screened on their own."""
        pending = [value]
        while pending:
            node = pending.pop()
            if id(node) in skip:
                continue
            if isinstance(node, dict):
                class_name = node.get("class_name")
                if isinstance(class_name, str) and self._classify(node, class_name, path, is_layer=node is layer):
                    continue
                pending.extend(v for k, v in node.items() if k != "class_name")
            elif isinstance(node, list):
                pending.extend(node)

    def _classify(self, node: dict, class_name: str, path: str, is_layer: bool) -> bool:
        """Record what `node` holds; True when there is no point looking inside it."""
        inner = node.get("config")
        if class_name == "__lambda__":
            self.bytecode[path] = None
            return True
        if class_name == "Lambda" and isinstance(inner, dict):
            # Keras 2: function_type / output_shape_type "lambda" means marshalled bytecode.
            if any(isinstance(k, str) and k.endswith("_type") and v == "lambda" for k, v in inner.items()):
                self.bytecode[path] = None
                return True
            if inner.get("function_type") == "function":
                self.custom[CustomCode(path, str(inner.get("function")), _text(inner.get("module")))] = None
                return False
        if "module" in node:  # Keras 3 dialect names the defining module
            module = node.get("module")
            if class_name.startswith("__") and class_name.endswith("__"):
                return False  # tuples, tensors, keras tensors: plain data
            registered = _text(node.get("registered_name"))
            if module is None:
                self.custom[CustomCode(path, class_name, None, registered)] = None
            elif module == "builtins":
                if class_name == "function":  # a plain Python function, e.g. a custom activation
                    self.custom[CustomCode(path, str(inner), None, registered)] = None
            elif str(module).split(".")[0] not in self.libraries:
                self.custom[CustomCode(path, class_name, str(module), registered)] = None
        elif is_layer and (">" in class_name or class_name not in self.keras2_classes):
            # Keras 2 dialect, whatever version the file claims: only Keras' own classes load.
            self.custom[CustomCode(path, class_name, None)] = None
        return False


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def screen_config(config: object, keras_version: str | None, format: str) -> Screen:
    """Walk a model config (either dialect) for bytecode and custom code. Raises FrontendError
    for a config the walker refuses (malformed, too large, nested too deeply)."""
    found = _Findings()
    is_model = isinstance(config, dict) and isinstance(config.get("class_name"), str)
    keras2_dialect = is_model and "module" not in config
    if is_model:
        for layer in config_tree.walk(config):
            children = layer.layers if layer.layers is not None else layer.wrapped_entries
            skip = frozenset(id(child) for child in children if isinstance(child, dict))
            found.scan(layer.entry, layer.path, layer.entry, skip)
    elif isinstance(config, (dict, list)):
        found.scan(config, "", config)
    return Screen(keras_version, format, tuple(found.bytecode), tuple(found.custom), keras2_dialect)


def _screen_savedmodel_objects(path: Path, screen: Screen) -> Screen:
    """A SavedModel's objects, each with its own metadata: what tf_keras revives them from."""
    from bnlint.frontends.models.tf_savedmodel import read_savedmodel_objects

    found = _Findings()
    found.bytecode = dict.fromkeys(screen.bytecode)
    found.custom = dict.fromkeys(screen.custom)
    for node_path, identifier, metadata in read_savedmodel_objects(path):
        name = metadata.get("name") if isinstance(metadata, dict) else None
        where = "" if node_path == "root" else str(name or node_path)
        found.scan(metadata, where, metadata if identifier in _LAYER_IDENTIFIERS else None)
    return Screen(screen.keras_version, screen.format, tuple(found.bytecode), tuple(found.custom), screen.keras2_dialect)


def screen_model(path: Path) -> Screen:
    """Read the config of a saved model without loading it (raises FrontendError) and screen it."""
    from bnlint import safe_io
    from bnlint.frontends.models.reader import read_model_config

    config, keras_version, format = read_model_config(path)
    screen = screen_config(config, keras_version, format)
    if format == "savedmodel":
        try:
            screen = _screen_savedmodel_objects(Path(path), screen)
        except safe_io.UnreadableFile as exc:
            raise FrontendError(str(exc)) from None
    return screen
