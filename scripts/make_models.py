"""Build the saved-model fixtures and examples with the installed Keras 3 and tf_keras.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/make_models.py            # everything
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/make_models.py k3_nested  # some of them

Every model is tiny (8x8x3 inputs, a Conv2D+BatchNormalization base named `backbone`), seeded,
and every layer is named, so the readers' output does not depend on Keras' global name counters.
A full run is byte-for-byte reproducible (archive dates and object ids are normalised); building
only some models renumbers the traced functions inside SavedModel graphs, nothing a reader sees.
The tests import `build(name, folder)` to regenerate a fixture with the current writers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "models"
EXAMPLES = ROOT / "examples"
SHAPE = (8, 8, 3)
# A fixed date inside .keras archives, so rebuilding an unchanged model gives the same bytes.
ZIP_DATE = (2025, 1, 1, 0, 0, 0)
SIZE_LIMIT = 1 << 20

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# --- the libraries, imported only when a model is built --------------------------------------


def keras3():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def tf_keras():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    return keras


# --- model parts (the same code builds with either library) ----------------------------------


def backbone(k, name: str = "backbone", input_shape: tuple = SHAPE):
    """A tiny pretrained-base stand-in: two Conv2D + BatchNormalization + ReLU blocks."""
    inputs = k.Input(input_shape, name=f"{name}_input")
    x = inputs
    for block in (1, 2):
        x = k.layers.Conv2D(4, 3, padding="same", name=f"{name}_conv{block}")(x)
        x = k.layers.BatchNormalization(name=f"{name}_bn{block}")(x)
        x = k.layers.ReLU(name=f"{name}_relu{block}")(x)
    return k.Model(inputs, x, name=name)


def head(k) -> list:
    return [k.layers.GlobalAveragePooling2D(name="pool"), k.layers.Dense(2, name="head")]


def classifier(k, base, **call_kwargs):
    """The transfer-learning shape: image -> base -> pooling -> dense head."""
    inputs = k.Input(SHAPE, name="image")
    pool, dense = head(k)
    return k.Model(inputs, dense(pool(base(inputs, **call_kwargs))), name="classifier")


def frozen_backbone(k):
    base = backbone(k)
    base.trainable = False
    return base


def encoder_model(k, base, **call_kwargs):
    """image -> encoder(backbone -> pool -> projection): the backbone two levels down."""
    enc_in = k.Input(SHAPE, name="encoder_input")
    x = base(enc_in)
    x = k.layers.GlobalAveragePooling2D(name="encoder_pool")(x)
    x = k.layers.Dense(4, name="projection")(x)
    encoder = k.Model(enc_in, x, name="encoder")
    inputs = k.Input(SHAPE, name="image")
    outputs = k.layers.Dense(2, name="head")(encoder(inputs, **call_kwargs))
    return k.Model(inputs, outputs, name="classifier")


def frozen_inside_encoder(k):
    """image -> encoder(frozen backbone) -> head: the encoder's own `trainable` is True, but every
    layer in it is frozen because its only layer is the frozen backbone."""
    enc_in = k.Input(SHAPE, name="encoder_input")
    encoder = k.Model(enc_in, frozen_backbone(k)(enc_in), name="encoder")
    inputs = k.Input(SHAPE, name="image")
    features = k.layers.GlobalAveragePooling2D(name="pool")(encoder(inputs))
    return k.Model(inputs, k.layers.Dense(2, name="head")(features), name="classifier")


def fine_tuning(k, keep_bn_frozen: bool):
    """A base unfrozen for fine-tuning: its first conv stays frozen; the BN layers stay frozen or not."""
    base = backbone(k)
    base.trainable = True
    base.get_layer("backbone_conv1").trainable = False
    if keep_bn_frozen:
        for layer in base.layers:
            if isinstance(layer, k.layers.BatchNormalization):
                layer.trainable = False
    return classifier(k, base, training=False)


def subclassed(k):
    """A subclassed model: its config says nothing about the backbone inside."""

    class TinyNet(k.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.backbone = frozen_backbone(k)
            self.pool = k.layers.GlobalAveragePooling2D(name="pool")
            self.head = k.layers.Dense(2, name="head")

        def call(self, x, training=None):
            return self.head(self.pool(self.backbone(x, training=False)))

    model = TinyNet(name="tiny_net")
    model(k.ops.zeros((1, *SHAPE)))
    return model


# --- writers ---------------------------------------------------------------------------------


def _renumber_shared_objects(config: bytes) -> bytes:
    """Keras 3 writes Python object ids as `shared_object_id`; number them 1, 2, ... instead."""
    numbers: dict[bytes, bytes] = {}

    def renumber(m: re.Match) -> bytes:
        number = numbers.setdefault(m.group(2), str(len(numbers) + 1).encode())
        return m.group(1) + number

    return re.sub(rb'("shared_object_id": )(\d+)', renumber, config)


def normalise_keras_archive(path: Path) -> None:
    """Rewrite a .keras zip with fixed dates and object ids: same model, same bytes."""
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata["date_saved"] = "2025-01-01@00:00:00"
                data = json.dumps(metadata).encode()
            elif name == "config.json":
                data = _renumber_shared_objects(data)
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), data, zipfile.ZIP_DEFLATED)


def save_keras(model, path: Path) -> None:
    model.save(path)
    normalise_keras_archive(path)


def strip_weights(path: Path) -> None:
    """Keep only config.json and metadata.json: what bnlint reads, at a fraction of the size."""
    with zipfile.ZipFile(path) as archive:
        members = [(n, archive.read(n)) for n in ("config.json", "metadata.json")]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), data, zipfile.ZIP_DEFLATED)


def tidy_savedmodel(folder: Path) -> None:
    """Drop what git cannot keep or would churn on: the random fingerprint and an empty assets/."""
    (folder / "fingerprint.pb").unlink(missing_ok=True)  # SavedModels load without it
    assets = folder / "assets"
    if assets.is_dir() and not any(assets.iterdir()):
        assets.rmdir()


def save_tf_keras(model, path: Path, save_format: str | None = None) -> None:
    if save_format == "tf":
        model.save(str(path), save_format="tf")
        tidy_savedmodel(path)
    else:
        model.save(str(path))
        if path.suffix == ".keras":
            normalise_keras_archive(path)


def strip_keras_metadata(folder: Path) -> None:
    """Rebuild the TF 2.0-2.4 layout: no keras_metadata.pb, the root's metadata in saved_model.pb."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tf_keras.protobuf import saved_metadata_pb2

    metadata = saved_metadata_pb2.SavedMetadata()
    metadata.ParseFromString((folder / "keras_metadata.pb").read_bytes())
    root = next(node for node in metadata.nodes if node.node_path == "root")
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((folder / "saved_model.pb").read_bytes())
    saved_model.meta_graphs[0].object_graph_def.nodes[0].user_object.metadata = root.metadata
    (folder / "saved_model.pb").write_bytes(saved_model.SerializeToString(deterministic=True))
    (folder / "keras_metadata.pb").unlink()


# --- the fixtures ------------------------------------------------------------------------------


def _k3_frozen_call(path: Path) -> None:
    k = keras3()
    save_keras(classifier(k, frozen_backbone(k)), path)


def _k3_training_false(path: Path) -> None:
    k = keras3()
    save_keras(classifier(k, frozen_backbone(k), training=False), path)


def _k3_sequential(path: Path) -> None:
    k = keras3()
    model = k.Sequential([k.Input(SHAPE, name="image"), frozen_backbone(k), *head(k)], name="classifier")
    save_keras(model, path)


def _k3_time_distributed(path: Path) -> None:
    k = keras3()
    model = k.Sequential(
        [k.Input((2, *SHAPE), name="frames"), k.layers.TimeDistributed(frozen_backbone(k), name="per_frame"),
         k.layers.Flatten(name="flatten"), k.layers.Dense(2, name="head")],
        name="video_classifier",
    )
    save_keras(model, path)


def _k3_nested(path: Path) -> None:
    k = keras3()
    save_keras(encoder_model(k, frozen_backbone(k)), path)


def _k3_frozen_inside_encoder(path: Path) -> None:
    k = keras3()
    save_keras(frozen_inside_encoder(k), path)


def _tfk_frozen_inside_encoder(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(frozen_inside_encoder(k), path)


def _tfk_frozen_inside_encoder_savedmodel(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(frozen_inside_encoder(k), path, save_format="tf")


def _k3_partial(path: Path) -> None:
    k = keras3()
    save_keras(fine_tuning(k, keep_bn_frozen=False), path)


def _k3_bn_kept_frozen(path: Path) -> None:
    k = keras3()
    save_keras(fine_tuning(k, keep_bn_frozen=True), path)


def _k3_subclassed(path: Path) -> None:
    k = keras3()
    save_keras(subclassed(k), path)


def _k3_h5(path: Path) -> None:
    k = keras3()
    classifier(k, frozen_backbone(k)).save(path)


def _k3_weights_only(path: Path) -> None:
    k = keras3()
    classifier(k, frozen_backbone(k)).save_weights(path)


def _k3_mobilenet(path: Path) -> None:
    k = keras3()
    base = k.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), include_top=False)
    base.trainable = False
    inputs = k.Input((32, 32, 3), name="image")
    outputs = k.layers.Dense(2, name="head")(k.layers.GlobalAveragePooling2D(name="pool")(base(inputs)))
    save_keras(k.Model(inputs, outputs, name="classifier"), path)
    strip_weights(path)  # ~4 MB of random weights that no reader looks at


def _tfk_h5(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(classifier(k, frozen_backbone(k)), path)


def _tfk_keras(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(classifier(k, frozen_backbone(k)), path)


def _tfk_sequential(path: Path) -> None:
    k = tf_keras()
    model = k.Sequential([frozen_backbone(k), *head(k)], name="classifier")
    model.build((None, *SHAPE))
    save_tf_keras(model, path)


def _tfk_nested_training_false(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(encoder_model(k, frozen_backbone(k), training=False), path)


def _tfk_savedmodel(path: Path) -> None:
    k = tf_keras()
    save_tf_keras(classifier(k, frozen_backbone(k)), path, save_format="tf")


def _tfk_savedmodel_tf24(path: Path) -> None:
    _tfk_savedmodel(path)
    strip_keras_metadata(path)


def _tf_module(path: Path) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.double = tf.function(lambda x: x * module.scale, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(path))
    tidy_savedmodel(path)


def _finetune_ok(path: Path) -> None:
    # Keras 3: only BatchNormalization layers frozen by their own flag keep their statistics.
    _k3_bn_kept_frozen(path)


# name -> (folder, file name, builder)
BUILDS: dict[str, tuple[Path, str, Callable[[Path], None]]] = {
    "k3_frozen_call": (FIXTURES, "k3_frozen_call.keras", _k3_frozen_call),
    "k3_training_false": (FIXTURES, "k3_training_false.keras", _k3_training_false),
    "k3_sequential": (FIXTURES, "k3_sequential.keras", _k3_sequential),
    "k3_time_distributed": (FIXTURES, "k3_time_distributed.keras", _k3_time_distributed),
    "k3_nested": (FIXTURES, "k3_nested.keras", _k3_nested),
    "k3_frozen_inside_encoder": (FIXTURES, "k3_frozen_inside_encoder.keras", _k3_frozen_inside_encoder),
    "tfk_frozen_inside_encoder": (FIXTURES, "tfk_frozen_inside_encoder.h5", _tfk_frozen_inside_encoder),
    "tfk_frozen_inside_encoder_savedmodel": (FIXTURES, "tfk_frozen_inside_encoder_savedmodel", _tfk_frozen_inside_encoder_savedmodel),
    "k3_partial": (FIXTURES, "k3_partial.keras", _k3_partial),
    "k3_bn_kept_frozen": (FIXTURES, "k3_bn_kept_frozen.keras", _k3_bn_kept_frozen),
    "k3_subclassed": (FIXTURES, "k3_subclassed.keras", _k3_subclassed),
    "k3_frozen_call_h5": (FIXTURES, "k3_frozen_call.h5", _k3_h5),
    "k3_weights_only": (FIXTURES, "k3_weights_only.weights.h5", _k3_weights_only),
    "k3_mobilenetv3small": (FIXTURES, "k3_mobilenetv3small_config_only.keras", _k3_mobilenet),
    "tfk_frozen_call_h5": (FIXTURES, "tfk_frozen_call.h5", _tfk_h5),
    "tfk_frozen_call_keras": (FIXTURES, "tfk_frozen_call.keras", _tfk_keras),
    "tfk_sequential": (FIXTURES, "tfk_sequential.h5", _tfk_sequential),
    "tfk_nested_training_false": (FIXTURES, "tfk_nested_training_false.h5", _tfk_nested_training_false),
    "tfk_savedmodel": (FIXTURES, "tfk_savedmodel", _tfk_savedmodel),
    "tfk_savedmodel_tf24": (FIXTURES, "tfk_savedmodel_tf24_layout", _tfk_savedmodel_tf24),
    "tf_module_savedmodel": (FIXTURES, "tf_module_savedmodel", _tf_module),
    "example_frozen": (EXAMPLES, "finetune_frozen.keras", _k3_frozen_call),
    "example_tf_keras": (EXAMPLES, "tf_keras_frozen.h5", _tfk_h5),
    "example_ok": (EXAMPLES, "finetune_ok.keras", _finetune_ok),
}


def build(name: str, folder: Path | None = None) -> Path:
    """Build one model into `folder` (default: where it belongs in the repository); return its path."""
    default_folder, file_name, builder = BUILDS[name]
    path = Path(folder or default_folder) / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    builder(path)
    return path


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def main(argv: list[str]) -> int:
    names = argv or list(BUILDS)
    unknown = [n for n in names if n not in BUILDS]
    if unknown:
        print(f"unknown: {', '.join(unknown)}; choose from: {', '.join(BUILDS)}", file=sys.stderr)
        return 2
    too_big = []
    for name in names:
        path = build(name)
        size = size_of(path)
        too_big += [path] if size > SIZE_LIMIT else []
        print(f"{size:>9,} bytes  {path.relative_to(ROOT)}")
    for path in too_big:
        print(f"too large for the repository: {path.relative_to(ROOT)}", file=sys.stderr)
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
