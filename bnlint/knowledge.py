"""What bnlint knows about Keras (rules/knowledge/*.yaml): which constructors build BatchNormalization, which layer classes are built in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from bnlint import yaml_data
from bnlint.shipped import knowledge_dir

HUB_LAYER = "tensorflow_hub.KerasLayer"


@dataclass(frozen=True)
class ConstructorInfo:
    """What calling a known constructor builds."""

    architecture: str  # canonical name, e.g. "keras.applications.ResNet50"
    contains_bn: bool | None  # None: depends on an argument we could not read (a hub handle)
    frozen_by_default: bool = False
    kind: Literal["model", "layer"] = "model"


@dataclass(frozen=True)
class LayerClasses:
    """Layer class names as saved configs spell them (`layer_classes` in the knowledge files)."""

    batchnorm: frozenset[str]  # BatchNormalization and its variants
    models: frozenset[str]  # containers whose config lists their layers
    builtin: frozenset[str]  # built-in layers without sub-layers
    opaque: frozenset[str]  # built-in in name only: base classes and wrappers of unseen code
    builtin_packages: tuple[str, ...]  # Keras itself, as a Keras 3 `module` names it
    library_packages: frozenset[str]  # libraries whose classes are not the user's code


@dataclass(frozen=True)
class _Knowledge:
    constructors: dict[str, ConstructorInfo]
    # Generic `X.from_preset("name")` entry points, read by preset name prefix.
    preset_prefixes: dict[str, tuple[str, ...]]
    hub_frozen_by_default: bool
    hub_markers: tuple[str, ...]
    hub_families: tuple[str, ...]
    layer_classes: LayerClasses
    automagics: frozenset[str]
    package_modules: tuple[str, ...]  # third-party modules that build Keras models (`efficientnet.tfkeras`)
    batchnorm_words: tuple[str, ...]  # what code that builds BatchNormalization must mention
    unimported: dict[str, str]  # names snippets use without importing them, and their module


def _names(section: dict, key: str) -> list[str]:
    return [str(n) for n in section.get(key) or ()]


def _index(data: dict) -> _Knowledge:
    constructors: dict[str, ConstructorInfo] = {}

    def add(name: str, contains_bn: bool | None, frozen: bool = False, kind: str = "model") -> None:
        constructors[name] = ConstructorInfo(name, contains_bn, frozen, kind)  # type: ignore[arg-type]

    keras = data.get("keras") or {}
    for name in _names(keras, "applications_with_batchnorm"):
        add(f"keras.applications.{name}", True)
    for name in _names(keras, "applications_without_batchnorm"):
        add(f"keras.applications.{name}", False)
    for name in _names(keras, "batchnorm_layers"):
        add(f"keras.layers.{name}", True, kind="layer")

    presets: dict[str, tuple[str, ...]] = {}
    hub_models = data.get("keras_hub") or {}
    for family in _names(hub_models, "batchnorm_families"):
        for suffix in _names(hub_models, "class_suffixes"):
            name = f"keras_hub.models.{family}{suffix}"
            add(name, True)
            add(f"{name}.from_preset", True)
    for generic in _names(hub_models, "generic_classes"):
        presets[f"keras_hub.models.{generic}.from_preset"] = tuple(_names(hub_models, "batchnorm_preset_prefixes"))

    cv_models = data.get("keras_cv") or {}
    for name in _names(cv_models, "batchnorm_backbones"):
        add(f"keras_cv.models.{name}", True)
        add(f"keras_cv.models.{name}.from_preset", True)
    for generic in _names(cv_models, "generic_classes"):
        presets[f"keras_cv.models.{generic}.from_preset"] = tuple(_names(cv_models, "batchnorm_preset_prefixes"))

    package_modules: list[str] = []
    for package in (data.get("keras_packages") or {}).values():
        for module in _names(package, "modules"):
            package_modules.append(module)
            for name in _names(package, "batchnorm_models"):
                add(f"{module}.{name}", True)

    hub = data.get("tensorflow_hub") or {}
    hub_frozen = bool(hub.get("frozen_by_default", True))
    add(f"tensorflow_hub.{hub.get('constructor', 'KerasLayer')}", None, frozen=hub_frozen)
    classes = data.get("layer_classes") or {}
    ipython = data.get("ipython") or {}
    return _Knowledge(
        constructors=constructors,
        preset_prefixes=presets,
        hub_frozen_by_default=hub_frozen,
        hub_markers=tuple(m.lower() for m in _names(hub, "image_model_markers")),
        hub_families=tuple(f.lower() for f in _names(hub, "batchnorm_families")),
        layer_classes=LayerClasses(
            batchnorm=frozenset(_names(classes, "batchnorm")),
            models=frozenset(_names(classes, "models")),
            builtin=frozenset(_names(classes, "builtin")),
            opaque=frozenset(_names(classes, "opaque")),
            builtin_packages=tuple(_names(classes, "builtin_packages")),
            library_packages=frozenset(_names(classes, "library_packages")),
        ),
        automagics=frozenset(name for key in ("line_magics", "aliases", "kernel_magics") for name in _names(ipython, key)),
        package_modules=tuple(package_modules),
        batchnorm_words=tuple(_names(data.get("prefilter") or {}, "batchnorm_words")),
        unimported={str(alias): "tensorflow_hub" for alias in _names(hub, "unimported_aliases")},
    )


@lru_cache(maxsize=1)
def _load() -> _Knowledge:
    merged: dict = {}
    for path in sorted(knowledge_dir().glob("*.yaml")):
        data = yaml_data.load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a knowledge file holds one mapping")
        for section, content in data.items():
            merged.setdefault(section, {}).update(content or {})
    return _index(merged)


def constructor_info(qualified_name: str) -> ConstructorInfo | None:
    """The known constructor behind a canonical name (`keras.applications.ResNet50`,
    `keras_hub.models.ResNetBackbone.from_preset`, ...), or None when bnlint knows nothing."""
    return _load().constructors.get(qualified_name)


def preset_info(qualified_name: str, preset: str) -> ConstructorInfo | None:
    """A generic `Backbone.from_preset("resnet_50_imagenet")`: the family comes from the preset name."""
    prefixes = _load().preset_prefixes.get(qualified_name)
    if prefixes is None:
        return None
    contains_bn = preset.lower().startswith(prefixes)
    return ConstructorInfo(qualified_name, contains_bn)


def hub_layer_info(handle: str | None) -> ConstructorInfo:
    """`hub.KerasLayer(handle)`: BatchNormalization when the handle names an image model of a BN
    family; unknown (None) when the handle is not a literal."""
    knowledge = _load()
    if handle is None:
        contains_bn = None
    else:
        lowered = handle.lower()
        contains_bn = any(m in lowered for m in knowledge.hub_markers) and any(
            f in lowered for f in knowledge.hub_families
        )
    return ConstructorInfo(HUB_LAYER, contains_bn, knowledge.hub_frozen_by_default)


def layer_classes() -> LayerClasses:
    """Which layer classes are BatchNormalization, models, built-in or opaque in a saved config."""
    return _load().layer_classes


def ipython_automagics() -> frozenset[str]:
    """Names a notebook line may start with to run an IPython magic or shell alias without `%`."""
    return _load().automagics


def package_modules() -> tuple[str, ...]:
    """The third-party modules whose models are known (`keras_packages`: `efficientnet.tfkeras`, ...)."""
    return _load().package_modules


def batchnorm_words() -> tuple[str, ...]:
    """Words one of which every known way of building BatchNormalization mentions (`prefilter`)."""
    return _load().batchnorm_words


def unimported_modules() -> dict[str, str]:
    """Names a snippet uses without importing them, read as the module they always stand for
    (`hub` for tensorflow_hub): an unbound `hub.KerasLayer` is still a hub layer."""
    return _load().unimported


def known_constructors(prefix: str) -> dict[str, ConstructorInfo]:
    """Every known constructor under a namespace (`keras.applications.`), by canonical name."""
    return {name: info for name, info in _load().constructors.items() if name.startswith(prefix)}
