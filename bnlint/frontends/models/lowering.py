"""Lower a Keras model config (Keras 3 and Keras 2 dialects) into IR facts.

The same config shape comes out of `.keras` archives, `.h5` files, SavedModel metadata and
the inline examples of rule files: `{"class_name": ..., "config": {"layers": [...]}}`, with
nested models as layers. Two dialects of call nodes exist:

- Keras 3: `inbound_nodes: [{"args": [...], "kwargs": {"training": false}}]`
- Keras 2: `inbound_nodes: [[[layer_name, node_index, tensor_index, {kwargs}], ...], ...]`

and the dialect is read per node, because tf_keras also writes `.keras` archives.

Facts are recorded for nested models, opaque layers and BN layers called with an explicit
`training`; every other layer, plain BN layers included, is only counted into its model
(frozen, partially frozen, contains BN, BN kept frozen).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bnlint.frontends import FrontendError
from bnlint.ir import Call, Composition, Location, Model, Runtime, Training, Unit

# Matched by exact class name: Normalization, LayerNormalization, GroupNormalization are not BN.
BATCHNORM_CLASSES = frozenset({"BatchNormalization", "SyncBatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2"})
MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})

# Built-in layers without sub-layers, for configs that carry no `module` (Keras 2, legacy .h5,
# rule examples). A test checks this list against the installed keras and tf_keras.
BUILTIN_LAYERS = frozenset(
    """
    Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D
    AdaptiveAveragePooling3D AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add
    AdditiveAttention AlphaDropout Attention AugMix AutoContrast Average AveragePooling1D
    AveragePooling2D AveragePooling3D Bidirectional CategoryCrossing CategoryEncoding CenterCrop
    Concatenate ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D
    Conv2DTranspose Conv3D Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D
    Convolution2D Convolution3D Cropping1D Cropping2D Cropping3D CuDNNGRU CuDNNLSTM CutMix Dense
    DenseFeatures DepthwiseConv1D DepthwiseConv2D Discretization Dot Dropout ELU EinsumDense
    Embedding Equalization Flatten GaussianDropout GaussianNoise GlobalAveragePooling1D
    GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D
    GlobalMaxPooling3D GroupNormalization GroupedQueryAttention GRU GRUCell HashedCrossing Hashing
    Identity InputLayer IntegerLookup Lambda LayerNormalization LeakyReLU LocallyConnected1D
    LocallyConnected2D LSTM LSTMCell Masking MaxNumBoundingBoxes MaxPooling1D MaxPooling2D
    MaxPooling3D Maximum MelSpectrogram Minimum MixUp MultiHeadAttention Multiply Normalization
    Pipeline PReLU Permute RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter
    RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip RandomFourierFeatures
    RandomGaussianBlur RandomGrayscale RandomHeight RandomHue RandomInvert RandomPerspective
    RandomPosterization RandomRotation RandomSaturation RandomSharpness RandomShear
    RandomTranslation RandomWidth RandomZoom ReLU RepeatVector Rescaling Reshape Resizing
    ReversibleEmbedding RMSNormalization RNN SeparableConv1D SeparableConv2D SequenceFeatures
    SimpleRNN SimpleRNNCell SlicingOpLambda Softmax Solarization SpatialDropout1D SpatialDropout2D
    SpatialDropout3D SpectralNormalization StackedRNNCells STFTSpectrogram StringLookup Subtract
    TensorFlowOpLayer TextVectorization TFOpLambda ThresholdedReLU TimeDistributed UnitNormalization
    UpSampling1D UpSampling2D UpSampling3D Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D
    """.split()
)
# Built-in in name only: base classes for user code, and wrappers of code or graphs bnlint cannot
# see into (a SavedModel, a torch module, a TF Hub handle), any of which may hold BatchNormalization.
OPAQUE_BUILTINS = frozenset(
    {"Layer", "AbstractRNNCell", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "KerasLayer"}
)
BUILTIN_PACKAGES = ("keras", "tf_keras")

_TRAINING_VALUES: dict[object, Training] = {None: "absent", False: "false", True: "true"}


def parse_json(data: bytes | str, what: str) -> object:
    """JSON from an input file, or a one-line FrontendError naming `what` was wrong."""
    try:
        return json.loads(data)
    except RecursionError:
        raise FrontendError(f"{what} is nested too deeply to read") from None
    except UnicodeDecodeError:
        raise FrontendError(f"{what} is not UTF-8 text") from None
    except ValueError as exc:  # json.JSONDecodeError: "Expecting value: line 1 column 1 (char 0)"
        raise FrontendError(f"{what} is not valid JSON ({exc})") from None


def lower_config(config: dict, path: str, runtime: Runtime) -> Unit:
    """The facts of one saved model: its nested models, BN layers, and how each is called."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("not a Keras model config (no class_name)")
    unit = Unit(path=path, kind="model", runtime=runtime)
    try:
        _Lowering(unit).top(config)
    except RecursionError:
        raise FrontendError("model config is nested too deeply to read") from None
    return unit


@dataclass
class _Tally:
    """Layers counted for the model that holds them: all, frozen ones, BN ones, opaque ones."""

    layers: int = 0
    frozen: int = 0
    bn: int = 0
    bn_frozen: int = 0
    bn_kept_frozen: int = 0  # frozen by their own flag, not by a frozen model around them
    opaque: int = 0

    def add(self, other: _Tally) -> None:
        self.layers += other.layers
        self.frozen += other.frozen
        self.bn += other.bn
        self.bn_frozen += other.bn_frozen
        self.bn_kept_frozen += other.bn_kept_frozen
        self.opaque += other.opaque

    def contains_bn(self) -> bool | None:
        return True if self.bn else (None if self.opaque else False)


def _layer_list(class_name: str, config: object) -> list | None:
    """The layers of a model config, or None when it is not a graph bnlint can read."""
    if isinstance(config, list) and class_name == "Sequential":
        return config  # Keras <= 2.2.4 stored a Sequential's config as the bare list of layers
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    return None


def _is_sequential(class_name: str, layers: list) -> bool:
    if class_name in ("Functional", "Model"):
        return False
    # A subclass of Sequential has its own class name; its layers without call nodes give it away.
    return class_name == "Sequential" or not any(isinstance(e, dict) and "inbound_nodes" in e for e in layers)


def _is_builtin(entry: dict, class_name: str) -> bool:
    if class_name in OPAQUE_BUILTINS:
        return False
    if "module" in entry:  # Keras 3 serialisation names the defining module
        module = entry["module"]
        return isinstance(module, str) and module.split(".")[0] in BUILTIN_PACKAGES
    return class_name in BUILTIN_LAYERS


def _is_plain(entry: dict, class_name: str, config: dict) -> bool:
    """A built-in layer with nothing inside: no sub-layers, not BN, not a wrapper. Most layers are."""
    return (
        class_name not in BATCHNORM_CLASSES
        and class_name not in MODEL_CLASSES
        and not isinstance(config.get("layers"), list)
        and not isinstance(config.get("layer"), dict)
        and _is_builtin(entry, class_name)
    )


def _looks_like_model(entry: dict, class_name: str) -> bool:
    # Keras 3 serialises a compile_config for models only, subclassed ones included.
    return class_name in MODEL_CLASSES or "compile_config" in entry


def _training(value: object) -> Training:
    if isinstance(value, bool) or value is None:
        return _TRAINING_VALUES[value]
    return "dynamic"  # a tensor or anything else decided at run time


def _node_training(node: object, layer: str) -> Training:
    """The `training` kwarg of one inbound node, in either dialect."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        kwargs = node.get("kwargs")
        return _training(kwargs.get("training")) if isinstance(kwargs, dict) else "absent"
    if isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, {kwargs}], ...]
        # Keras 2 keeps the kwargs of the node's last input (tf_keras functional.process_node).
        tensors = [t for t in node if isinstance(t, list)]
        last = tensors[-1] if tensors else []
        kwargs = last[3] if len(last) > 3 and isinstance(last[3], dict) else {}
        return _training(kwargs.get("training"))
    raise FrontendError(f"malformed model config: inbound node of layer {layer!r} is neither a list nor a mapping")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


# How a layer enters its container: its raw inbound nodes, or None for a Sequential element.
Nodes = list | None
_NO_CONFIG: dict = {}


class _Lowering:
    """One walk over a config, top-down: a container's calls are known before its layers are visited."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.order = 0

    def top(self, config: dict) -> None:
        class_name = config["class_name"]
        inner = config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        model = Model(key="", name=str(name or class_name), cls=class_name, location=Location(layer_path=""))
        self.unit.models[""] = model
        frozen = isinstance(inner, dict) and inner.get("trainable") is False
        layers = _layer_list(class_name, inner)
        if layers is not None:
            self._fill_model(model, class_name, layers, protected=False, frozen=frozen)
            return
        # A subclassed model saved without a functional config, or a lone layer.
        is_bn = class_name in BATCHNORM_CLASSES
        model.opaque = not is_bn and (class_name in MODEL_CLASSES or not _is_builtin(config, class_name))
        model.kind = "model" if model.opaque or class_name in MODEL_CLASSES else "layer"
        model.contains_bn = True if is_bn else (None if model.opaque else False)
        model.frozen = frozen

    def _fill_model(self, model: Model, class_name: str, layers: list, protected: bool, frozen: bool) -> _Tally:
        """Visit a model's layers and set its facts; return the tally of everything inside it."""
        direct, total = _Tally(), _Tally()
        sequential = _is_sequential(class_name, layers)
        for entry in layers:
            layer_class = entry.get("class_name") if isinstance(entry, dict) else None
            if not isinstance(layer_class, str):
                raise FrontendError(f"malformed model config: a layer of {model.name!r} has no class_name")
            if layer_class == "InputLayer":
                continue
            config_dict = entry.get("config")
            if not isinstance(config_dict, dict):
                config_dict = _NO_CONFIG
            if _is_plain(entry, layer_class, config_dict):
                # Counted here rather than in _layer: real models are mostly such layers.
                direct.layers += 1
                direct.frozen += frozen or config_dict.get("trainable") is False
                continue
            nodes = None if sequential else entry.get("inbound_nodes") or []
            self._layer(entry, model.key, model.key, nodes, False, protected, frozen, direct, total)
        total.add(direct)

        # A model is frozen by its own flag, an enclosing model's, or when every layer in it is.
        model.frozen = frozen or (total.layers > 0 and total.frozen == total.layers)
        model.frozen_at = model.location if model.frozen else None
        model.contains_bn = total.contains_bn()
        # Partial freezing is judged on the model's own layers; nested models are judged on
        # theirs, so the finding lands on the innermost model where frozen and trainable meet.
        model.partially_frozen = not model.frozen and 0 < direct.frozen < direct.layers
        model.trainable_bn = not model.frozen and direct.bn > direct.bn_frozen
        model.bn_kept_frozen = not model.frozen and total.bn > 0 and total.bn_kept_frozen == total.bn
        return total

    def _layer(
        self,
        entry: dict,
        container: str,
        prefix: str,
        nodes: Nodes,
        time_distributed: bool,
        container_protected: bool,
        frozen_above: bool,
        direct: _Tally,
        nested: _Tally,
    ) -> None:
        """Count one layer into its model's tallies; record facts for models, BN and opaque layers."""
        class_name = entry["class_name"]
        config = entry.get("config")
        config_dict = config if isinstance(config, dict) else _NO_CONFIG
        frozen = frozen_above or config_dict.get("trainable") is False
        if _is_plain(entry, class_name, config_dict):  # a wrapper's plain layer, e.g. TimeDistributed(Dense)
            direct.layers += 1
            direct.frozen += frozen
            return
        layers = _layer_list(class_name, config)
        is_bn = class_name in BATCHNORM_CLASSES
        wrapped = config_dict.get("layer")
        if not (isinstance(wrapped, dict) and isinstance(wrapped.get("class_name"), str)):
            wrapped = None
        name = str(entry.get("name") or config_dict.get("name") or class_name)
        path = self._unique(_join(prefix, name))

        if layers is None and not is_bn and wrapped is not None:
            # TimeDistributed, Bidirectional, ...: the wrapper passes its calls on to the layer inside.
            td = time_distributed or class_name == "TimeDistributed"
            self._layer(wrapped, container, path, nodes, td, container_protected, frozen, direct, nested)
            return

        calls = _calls_of(nodes, time_distributed, name)
        location = Location(layer_path=path)
        if layers is not None:
            model = Model(key=path, name=name, cls=class_name, location=location)
            self.unit.models[path] = model
            protected = self._record_calls(path, location, calls, container, container_protected)
            nested.add(self._fill_model(model, class_name, layers, protected, frozen))
            return

        # A BN layer, or an opaque one: a custom layer, or a model class without a readable layer list.
        opaque = not is_bn
        direct.layers += 1
        direct.frozen += frozen
        direct.bn += is_bn
        direct.bn_frozen += is_bn and frozen
        direct.bn_kept_frozen += is_bn and frozen and not frozen_above
        direct.opaque += opaque
        if is_bn and all(training == "absent" for training, _ in calls):
            # A plain BN layer in a graph is only counted: the rules care about models around BN
            # and about an explicit `training` on a BN call. Recording every BN layer of a
            # ResNet as facts doubled the time a scan takes on it.
            return
        self.unit.models[path] = Model(
            key=path,
            name=name,
            cls=class_name,
            kind="model" if opaque and _looks_like_model(entry, class_name) else "layer",
            contains_bn=True if is_bn else None,
            frozen=frozen,
            frozen_at=location if frozen else None,
            trainable_bn=is_bn and not frozen,
            opaque=opaque,
            location=location,
        )
        self._record_calls(path, location, calls, container, container_protected)

    def _record_calls(
        self, callee: str, location: Location, calls: list[tuple[Training, Composition]], container: str, container_protected: bool
    ) -> bool:
        """Record the calls of `callee`; return whether every one of them runs it with training=False."""
        for training, composition in calls:
            self.order += 1
            self.unit.calls.append(
                Call(
                    callee=callee,
                    training=training,
                    composition=composition,
                    location=location,
                    enclosing_training_false=container_protected,
                    container=container,
                    order=self.order,
                )
            )
        # keras2 semantics: a stored training=False propagates into everything the callee calls.
        return bool(calls) and all(t == "false" or (t == "absent" and container_protected) for t, _ in calls)

    def _unique(self, path: str) -> str:
        """Layer names are unique per model in anything Keras wrote; a hand-edited file may repeat one."""
        if path not in self.unit.models:
            return path
        n = 2
        while f"{path}#{n}" in self.unit.models:
            n += 1
        return f"{path}#{n}"


def _calls_of(nodes: Nodes, time_distributed: bool, layer: str) -> list[tuple[Training, Composition]]:
    """(training, composition) of each way a layer enters its container."""
    if nodes is None:
        return [("absent", "time_distributed" if time_distributed else "sequential")]
    if not isinstance(nodes, list):
        raise FrontendError(f"malformed model config: inbound_nodes of layer {layer!r} is not a list")
    return [(_node_training(node, layer), "call") for node in nodes]
