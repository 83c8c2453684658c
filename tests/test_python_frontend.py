"""The script frontend: what each Keras pattern lowers to, fact by fact (no TensorFlow needed)."""

from __future__ import annotations

import textwrap

import pytest

from bnlint.frontends import FrontendError
from bnlint.frontends.python.imports import canonical
from bnlint.frontends.python.script import analyze_file, analyze_source
from bnlint.ir import Location, Unit
from bnlint.runtime import DEFAULT


def lower(source: str) -> Unit:
    return analyze_source(textwrap.dedent(source).lstrip("\n"), "train.py")


def model(unit: Unit, name: str):
    found = [m for m in unit.models.values() if m.name == name]
    assert len(found) == 1, f"{name}: {[m.name for m in unit.models.values()]}"
    return found[0]


def calls(unit: Unit, name: str, composition: str | None = None):
    key = model(unit, name).key
    return [c for c in unit.calls if c.callee == key and (composition is None or c.composition == composition)]


def only_call(unit: Unit, name: str, composition: str | None = None):
    found = calls(unit, name, composition)
    assert len(found) == 1, found
    return found[0]


def changes(unit: Unit, name: str):
    key = model(unit, name).key
    return [(t.value, t.scope, t.location.line, t.keeps_bn_frozen) for t in unit.trainable_changes if t.target == key]


TUTORIAL = """
import tensorflow as tf

IMG_SIZE = (160, 160)
IMG_SHAPE = IMG_SIZE + (3,)
base_model = tf.keras.applications.MobileNetV2(input_shape=IMG_SHAPE,
                                               include_top=False,
                                               weights='imagenet')
base_model.trainable = False
data_augmentation = tf.keras.Sequential([
    tf.keras.layers.RandomFlip('horizontal'),
])
preprocess_input = tf.keras.applications.mobilenet_v2.preprocess_input
inputs = tf.keras.Input(shape=(160, 160, 3))
x = data_augmentation(inputs)
x = preprocess_input(x)
x = base_model(x, training=False)
x = tf.keras.layers.GlobalAveragePooling2D()(x)
outputs = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(inputs, outputs)
model.compile(optimizer='adam', loss='mse')
history = model.fit(train_dataset, epochs=10)

base_model.trainable = True
fine_tune_at = 100
for layer in base_model.layers[:fine_tune_at]:
    layer.trainable = False
model.compile(optimizer='rmsprop', loss='mse')
history_fine = model.fit(train_dataset, epochs=20)
"""


class TestTransferLearningTutorial:
    """The TensorFlow transfer-learning tutorial, lowered fact by fact."""

    def test_the_base_is_a_frozen_batchnorm_application_with_its_literal_arguments(self):
        base = model(lower(TUTORIAL), "base_model")
        assert (base.cls, base.kind, base.contains_bn, base.frozen) == ("MobileNetV2", "model", True, True)
        assert base.architecture == "keras.applications.MobileNetV2"
        assert base.arguments == {"input_shape": (160, 160, 3), "include_top": False, "weights": "imagenet"}
        assert base.frozen_at == Location(line=8, column=1, end_line=8, end_column=29)
        assert base.location == Location(line=5, column=14, end_line=7, end_column=67)
        assert base.partially_frozen  # base_model.layers[:100] frozen again for fine-tuning

    def test_the_call_passes_training_false_at_its_own_location(self):
        unit = lower(TUTORIAL)
        call = only_call(unit, "base_model")
        assert (call.training, call.composition, call.enclosing_training_false) == ("false", "call", False)
        assert call.location == Location(line=16, column=5, end_line=16, end_column=34)
        assert call.container == model(unit, "model").key

    def test_the_functional_model_contains_what_its_outputs_flowed_through(self):
        unit = lower(TUTORIAL)
        functional = model(unit, "model")
        assert (functional.cls, functional.contains_bn) == ("Functional", True)
        augmentation = model(unit, "data_augmentation")
        assert augmentation.contains_bn is False  # RandomFlip only

    def test_trainable_changes_compiles_and_fits_in_execution_order(self):
        unit = lower(TUTORIAL)
        assert changes(unit, "base_model") == [(False, "model", 8, False), (True, "model", 23, False), (False, "some_layers", 26, False)]
        events = sorted(
            [("compile", c.location.line, c.order) for c in unit.compiles]
            + [("fit", f.location.line, f.order) for f in unit.trainings]
            + [("change", t.location.line, t.order) for t in unit.trainable_changes],
            key=lambda e: e[2],
        )
        assert [(kind, line) for kind, line, _ in events] == [
            ("change", 8), ("compile", 20), ("fit", 21), ("change", 23), ("change", 26), ("compile", 27), ("fit", 28)
        ]
        key = model(unit, "model").key
        assert all(c.model == key for c in unit.compiles) and all(f.models == (key,) for f in unit.trainings)

    def test_runtime_is_the_default_without_evidence(self):
        assert lower(TUTORIAL).runtime == DEFAULT


class TestTrainingArgument:
    @pytest.mark.parametrize(
        ("call", "expected"),
        [
            ("base(x)", "absent"),
            ("base(x, training=False)", "false"),
            ("base(x, False)", "false"),
            ('base(x, **{"training": False})', "false"),
            ("functools.partial(base, training=False)(x)", "false"),
            ("base(x, training=True)", "true"),
            ("base(x, training=None)", "absent"),
            ("base(x, training=FROZEN)", "false"),
            ("base(x, training=flag)", "dynamic"),
            ("base(x, training=mode == 'train')", "dynamic"),
            ("base(x, training=x is None)", "true"),  # folded: x is the constant None
            ("base(x, **options)", "dynamic"),
        ],
    )
    def test_value_at_the_call_site(self, call, expected):
        unit = lower(f"""
            import functools
            from keras.applications import ResNet50
            FROZEN = False
            base = ResNet50(include_top=False)
            x = None
            {call}
        """)
        found = only_call(unit, "base")
        assert found.training == expected
        assert (found.location.line, found.location.column) == (6, 1)

    def test_a_helper_parameter_carries_the_callers_constant(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            def head(x, training):
                return base(x, training=training)
            head(keras.Input((8, 8, 3)), False)
        """)
        assert only_call(unit, "base").training == "false"


class TestImports:
    @pytest.mark.parametrize(
        "imports_and_call",
        [
            "import keras\nb = keras.applications.ResNet50()",
            "import tensorflow as tf\nb = tf.keras.applications.ResNet50()",
            "import tensorflow\nb = tensorflow.keras.applications.ResNet50()",
            "from tensorflow import keras as K\nb = K.applications.ResNet50()",
            "from keras.applications import ResNet50 as R\nb = R()",
            "from keras.applications.resnet50 import ResNet50\nb = ResNet50()",
            "from tensorflow.keras.applications.resnet import ResNet50\nb = ResNet50()",
            "import tf_keras\nb = tf_keras.applications.ResNet50()",
            "from tensorflow.python.keras.applications import ResNet50\nb = ResNet50()",
            "from keras.applications import *\nb = ResNet50()",
            "import keras.applications\nb = keras.applications.resnet.ResNet50()",
        ],
    )
    def test_every_spelling_resolves_to_the_canonical_constructor(self, imports_and_call):
        unit = analyze_source(imports_and_call + "\n", "t.py")
        b = model(unit, "b")
        assert (b.architecture, b.contains_bn) == ("keras.applications.ResNet50", True)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("tensorflow.keras.applications.ResNet50", "keras.applications.ResNet50"),
            ("keras.applications.efficientnet_v2.EfficientNetV2B0", "keras.applications.EfficientNetV2B0"),
            ("tf_keras.layers.BatchNormalization", "keras.layers.BatchNormalization"),
            ("keras.src.layers.normalization.batch_normalization.BatchNormalization", "keras.layers.BatchNormalization"),
            ("tensorflow.keras.models.Sequential", "keras.Sequential"),
            ("keras.models.Model", "keras.Model"),
            ("tensorflow.keras.layers.Input", "keras.Input"),
            ("keras_hub.src.models.resnet.resnet_backbone.ResNetBackbone", "keras_hub.models.ResNetBackbone"),
            ("tensorflow_hub.keras_layer.KerasLayer", "tensorflow_hub.KerasLayer"),
            ("numpy.array", "numpy.array"),
        ],
    )
    def test_canonical(self, raw, expected):
        assert canonical(raw) == expected

    def test_a_local_module_named_like_keras_is_still_not_a_constructor_we_know(self):
        unit = lower("""
            import keras
            from models import ResNet50
            b = ResNet50()
            b(1)
        """)
        assert unit.models == {} and unit.calls == []


class TestBindings:
    def test_aliases_and_tuple_unpacking_follow_the_same_model(self):
        unit = lower("""
            import keras
            base, head = keras.applications.ResNet50(), keras.layers.Dense(1)
            alias = base
            alias.trainable = False
            alias(keras.Input((32, 32, 3)))
        """)
        base = model(unit, "base")
        assert base.frozen and base.frozen_at.line == 4
        assert only_call(unit, "base").location.line == 5

    def test_a_helper_that_builds_and_freezes_returns_the_frozen_model(self):
        unit = lower("""
            from tensorflow.keras.applications import ResNet50
            def make_base():
                b = ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
                b.trainable = False
                return b
            base = make_base()
            y = base(None)
        """)
        base = model(unit, "base")  # the caller's name, not the helper's `b`
        assert base.frozen and base.frozen_at == Location(line=4, column=5, end_line=4, end_column=24)
        assert only_call(unit, "base").training == "absent"

    def test_a_helper_called_twice_builds_two_models(self):
        unit = lower("""
            import keras
            def make():
                return keras.applications.ResNet50()
            a = make()
            b = make()
            a.trainable = False
        """)
        assert model(unit, "a").frozen and not model(unit, "b").frozen

    def test_functions_never_called_are_analysed_once(self):
        unit = lower("""
            import keras
            def main():  # run by a CLI framework: nothing here calls it
                base = make_base()
                base(keras.Input((8, 8, 3)))
                freeze(base)
                base.fit(data)
            def make_base():
                return keras.applications.ResNet50()
            def freeze(model):
                model.trainable = False
            def unrelated():
                pass
        """)
        assert len(unit.models) == 1
        base = model(unit, "base")
        assert base.frozen and base.frozen_at.line == 10
        assert len(unit.calls) == 1 and len(unit.trainable_changes) == 1

    def test_main_under_the_name_guard_runs_in_the_module_pass(self):
        unit = lower("""
            import keras
            def main():
                base = keras.applications.ResNet50()
                base.trainable = False
                base(keras.Input((8, 8, 3)))
            if __name__ == "__main__":
                main()
        """)
        assert model(unit, "base").frozen and len(unit.calls) == 1

    def test_constant_conditions_pick_their_branch(self):
        unit = lower("""
            import keras
            FINE_TUNE = False
            base = keras.applications.ResNet50()
            if FINE_TUNE:
                base.trainable = True
            else:
                base.trainable = False
        """)
        assert changes(unit, "base") == [(False, "model", 7, False)]

    def test_recursion_does_not_hang(self):
        unit = lower("""
            import keras
            def build(n):
                if n:
                    return build(n - 1)
                return keras.applications.ResNet50()
            m = build(3)
            m.trainable = False
        """)
        # A function running inside itself is not followed: its result is unknown, and the
        # analysis ends instead of unrolling the recursion.
        assert unit.models == {} and unit.trainable_changes == []


class TestSubclassedModels:
    SOURCE = """
        import keras
        class Classifier(keras.Model):
            def __init__(self):
                super().__init__()
                self.backbone = keras.applications.EfficientNetB0(include_top=False)
                self.backbone.trainable = False
                self.head = keras.layers.Dense(3)

            def call(self, x, training=None):
                a = self.backbone(x)
                b = self.backbone(x, training=training)
                c = self.backbone(x, training=False)
                return self.head(a)

        net = Classifier()
        net.compile("adam")
        net.fit(data)
    """

    def test_the_backbone_is_a_frozen_attribute_model(self):
        unit = lower(self.SOURCE)
        backbone = model(unit, "self.backbone")
        assert (backbone.frozen, backbone.contains_bn, backbone.frozen_at.line) == (True, True, 6)

    def test_calls_inside_call_carry_their_training_values(self):
        unit = lower(self.SOURCE)
        found = [(c.training, c.location.line, c.location.column) for c in calls(unit, "self.backbone")]
        assert found == [("absent", 10, 13), ("dynamic", 11, 13), ("false", 12, 13)]
        net = model(unit, "net")
        assert all(c.container == net.key for c in calls(unit, "self.backbone"))
        assert (net.cls, net.contains_bn) == ("Classifier", True)
        assert [c.model for c in unit.compiles] == [net.key] and [f.models for f in unit.trainings] == [(net.key,)]

    def test_a_freeze_in_a_method_nobody_calls_still_freezes(self):
        unit = lower("""
            import tensorflow as tf
            class Net(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.encoder = tf.keras.applications.ResNet50(include_top=False)
                def freeze_encoder(self):
                    self.encoder.trainable = False
                def call(self, x):
                    return self.encoder(x)
        """)
        encoder = model(unit, "self.encoder")
        assert encoder.frozen and encoder.frozen_at.line == 7
        assert only_call(unit, "self.encoder").training == "absent"

    def test_calling_the_subclassed_model_with_training_false_protects_its_inner_calls(self):
        unit = lower(textwrap.dedent(self.SOURCE) + "net(keras.Input((32, 32, 3)), training=False)\n")
        assert all(c.enclosing_training_false for c in calls(unit, "self.backbone"))


class TestFreezing:
    def test_freezing_after_the_call_still_counts(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            y = base(keras.Input((8, 8, 3)))
            base.trainable = False
        """)
        assert model(unit, "base").frozen

    def test_trainable_false_constructor_keyword(self):
        unit = lower("""
            import keras
            base = keras.applications.DenseNet121(include_top=False, trainable=False)
        """)
        base = model(unit, "base")
        assert base.frozen and base.frozen_at.line == 2 and base.arguments["trainable"] is False

    def test_loop_over_all_layers(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            for layer in base.layers:
                layer.trainable = False
        """)
        base = model(unit, "base")
        assert changes(unit, "base") == [(False, "layers", 4, False)]
        assert base.frozen and not base.partially_frozen
        change = unit.trainable_changes[0]
        assert (change.location.column, change.location.end_column) == (5, 28)

    def test_sliced_loop_freezes_partially(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            for layer in base.layers[:-20]:
                layer.trainable = False
        """)
        base = model(unit, "base")
        assert changes(unit, "base") == [(False, "some_layers", 4, False)]
        assert base.frozen and base.partially_frozen

    def test_an_index_condition_in_the_loop_reaches_some_layers(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            for i, layer in enumerate(base.layers):
                if i < 100:
                    layer.trainable = False
        """)
        assert changes(unit, "base") == [(False, "some_layers", 5, False)]

    def test_a_single_layer_of_the_base(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            base.layers[-1].trainable = True
            base.get_layer("conv5_block3_out").trainable = False
        """)
        assert changes(unit, "base") == [(True, "some_layers", 3, False), (False, "some_layers", 4, False)]

    def test_the_first_layer_of_a_sequential_is_its_first_member(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            model = keras.Sequential([base, keras.layers.Dense(1)])
            model.layers[0].trainable = False
        """)
        assert changes(unit, "base") == [(False, "model", 4, False)]


class TestUnfreezing:
    @pytest.mark.parametrize(
        "loop",
        [
            """
            for layer in base.layers[-20:]:
                if not isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = True
            """,
            """
            for layer in base.layers[-20:]:
                layer.trainable = not isinstance(layer, BatchNormalization)
            """,
            """
            for layer in base.layers[-20:]:
                layer.trainable = True
                if isinstance(layer, BatchNormalization):
                    layer.trainable = False
            """,
            """
            for layer in base.layers[-20:]:
                if isinstance(layer, (BatchNormalization,)):
                    continue
                layer.trainable = True
            """,
            """
            for layer in base.layers[-20:]:
                if isinstance(layer, BatchNormalization):
                    layer.trainable = False
                else:
                    layer.trainable = True
            """,
        ],
    )
    def test_the_same_loop_keeps_batchnorm_frozen(self, loop):
        unit = lower(
            "import keras\nfrom keras.layers import BatchNormalization\nbase = keras.applications.ResNet50()\n"
            + textwrap.dedent(loop)
        )
        unfreeze = [t for t in unit.trainable_changes if t.value is True]
        assert len(unfreeze) == 1 and unfreeze[0].scope == "some_layers" and unfreeze[0].keeps_bn_frozen
        assert model(unit, "base").bn_kept_frozen

    def test_an_unguarded_unfreeze_does_not_keep_batchnorm_frozen(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            base.trainable = False
            for layer in base.layers[-20:]:
                layer.trainable = True
                if isinstance(layer, keras.layers.Dense):
                    layer.trainable = False
        """)
        assert changes(unit, "base") == [(False, "model", 3, False), (True, "some_layers", 5, False), (False, "some_layers", 7, False)]
        assert not model(unit, "base").bn_kept_frozen

    def test_freezing_batchnorm_before_unfreezing_everything_does_not_protect(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            for layer in base.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
                layer.trainable = True
        """)
        unfreeze = [t for t in unit.trainable_changes if t.value is True]
        assert [(t.scope, t.keeps_bn_frozen) for t in unfreeze] == [("layers", False)]

    def test_a_separate_loop_freezing_only_batchnorm(self):
        unit = lower("""
            import tensorflow as tf
            base = tf.keras.applications.ResNet50()
            base.trainable = True
            for layer in base.layers:
                if "bn" in layer.name:
                    layer.trainable = False
        """)
        assert changes(unit, "base") == [(True, "model", 3, False), (False, "batchnorm", 6, False)]
        base = model(unit, "base")
        assert base.bn_kept_frozen and not base.frozen


class TestCompositions:
    def test_sequential_elements_compose_at_the_sequential_call(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50(include_top=False)
            base.trainable = False
            model = keras.Sequential([
                base,
                keras.layers.Dense(1),
            ])
        """)
        call = only_call(unit, "base")
        assert (call.composition, call.training, call.container) == ("sequential", "absent", model(unit, "model").key)
        assert call.location == Location(line=4, column=9, end_line=7, end_column=3)
        assert model(unit, "model").contains_bn is True

    def test_an_inline_constructor_in_a_sequential_is_a_model_too(self):
        unit = lower("""
            from tensorflow.keras import Sequential, layers
            from tensorflow.keras.applications import InceptionV3
            model = Sequential([InceptionV3(include_top=False, weights="imagenet"), layers.Dense(2)])
        """)
        inline = model(unit, "InceptionV3")
        assert only_call(unit, "InceptionV3").composition == "sequential"
        assert inline.location.column == 21

    def test_model_add(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            model = keras.models.Sequential()
            model.add(base)
            model.add(keras.layers.Dense(1))
        """)
        call = only_call(unit, "base")
        assert (call.composition, call.location.line, call.location.column) == ("add", 4, 1)
        assert call.container == model(unit, "model").key

    def test_time_distributed_in_a_sequential_and_called(self):
        unit = lower("""
            import keras
            base = keras.applications.MobileNetV2(include_top=False)
            clip_model = keras.Sequential([keras.layers.TimeDistributed(base), keras.layers.Dense(1)])
            wrapped = keras.layers.TimeDistributed(base)
            y = wrapped(keras.Input((4, 32, 32, 3)), training=False)
        """)
        found = [(c.composition, c.training, c.location.line) for c in calls(unit, "base")]
        assert found == [("time_distributed", "absent", 3), ("call", "false", 5)]

    def test_keras2_output_style_reuses_the_base_graph(self):
        unit = lower("""
            from keras.applications.vgg16 import VGG16
            from keras.applications.resnet50 import ResNet50
            from keras.layers import Dense, GlobalAveragePooling2D
            from keras.models import Model
            base_model = ResNet50(weights='imagenet', include_top=False)
            x = base_model.output
            x = GlobalAveragePooling2D()(x)
            predictions = Dense(200, activation='softmax')(x)
            model = Model(inputs=base_model.input, outputs=predictions)
            for layer in base_model.layers:
                layer.trainable = False
            model.compile(optimizer='rmsprop', loss='categorical_crossentropy')
        """)
        call = only_call(unit, "base_model")
        assert (call.composition, call.training) == ("output", "absent")
        assert call.location == Location(line=6, column=5, end_line=6, end_column=22)
        assert call.container == model(unit, "model").key
        assert model(unit, "base_model").frozen

    def test_enclosing_training_false_reaches_calls_two_levels_down(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50(include_top=False)
            base.trainable = False
            inp = keras.Input((32, 32, 3))
            encoder = keras.Model(inp, base(inp))
            inp2 = keras.Input((32, 32, 3))
            wrapper = keras.Model(inp2, encoder(inp2))
            inp3 = keras.Input((32, 32, 3))
            out = wrapper(inp3, training=False)
            unrelated = base(inp3)
        """)
        first, second = calls(unit, "base")
        assert (first.location.line, first.enclosing_training_false) == (5, True)
        assert (second.location.line, second.enclosing_training_false) == (10, False)
        assert only_call(unit, "encoder").enclosing_training_false
        assert not only_call(unit, "wrapper").enclosing_training_false

    def test_calls_on_untracked_layers_are_not_facts(self):
        unit = lower("""
            import keras
            x = keras.Input((4,))
            y = keras.layers.Dense(3)(x)
            z = keras.layers.LayerNormalization()(y)
            something_else(z, training=True)
        """)
        assert unit.calls == [] and unit.models == {}


class TestKnowledgeDrivenModels:
    def test_vgg16_frozen_is_not_batchnorm(self):
        unit = lower("""
            import keras
            base = keras.applications.VGG16(include_top=False)
            base.trainable = False
            base(keras.Input((32, 32, 3)))
        """)
        base = model(unit, "base")
        assert (base.frozen, base.contains_bn) == (True, False)

    def test_batchnormalization_is_a_layer_and_layernormalization_is_nothing(self):
        unit = lower("""
            from tensorflow.keras import layers
            bn = layers.BatchNormalization()
            ln = layers.LayerNormalization()
            bn.trainable = False
            y = bn(x, training=True)
        """)
        bn = model(unit, "bn")
        assert (bn.kind, bn.contains_bn, bn.frozen) == ("layer", True, True)
        assert only_call(unit, "bn").training == "true"
        assert len(unit.models) == 1

    def test_tensorflow_hub_layers_are_frozen_by_default(self):
        unit = lower("""
            import tensorflow as tf
            import tensorflow_hub as hub
            feature = hub.KerasLayer("https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
                                     input_shape=(224, 224, 3))
            tuned = hub.KerasLayer("https://tfhub.dev/google/imagenet/resnet_v2_50/classification/5", trainable=True)
            text = hub.KerasLayer("https://tfhub.dev/google/nnlm-en-dim50/2")
            model = tf.keras.Sequential([feature, tf.keras.layers.Dense(5)])
        """)
        feature, tuned, text = model(unit, "feature"), model(unit, "tuned"), model(unit, "text")
        assert (feature.kind, feature.contains_bn, feature.frozen) == ("model", True, True)
        assert (tuned.contains_bn, tuned.frozen) == (True, False)
        assert (text.contains_bn, text.frozen) == (False, True)
        assert only_call(unit, "feature").composition == "sequential"

    def test_keras_hub_and_keras_cv_backbones(self):
        unit = lower("""
            import keras_hub
            import keras_cv
            a = keras_hub.models.ResNetBackbone.from_preset("resnet_50_imagenet")
            b = keras_hub.models.ImageClassifier.from_preset("efficientnet_b0_ra_imagenet")
            c = keras_hub.models.ViTBackbone.from_preset("vit_base_patch16_224_imagenet")
            d = keras_cv.models.ResNet50Backbone()
            e = keras_hub.models.Backbone.from_preset("vit_base_patch16_224_imagenet")
        """)
        a, b, d, e = (model(unit, n) for n in "abde")
        assert (a.architecture, a.contains_bn, a.arguments) == (
            "keras_hub.models.ResNetBackbone.from_preset", True, {"preset": "resnet_50_imagenet"}
        )
        assert (b.cls, b.contains_bn) == ("ImageClassifier", True)
        assert (d.architecture, d.contains_bn) == ("keras_cv.models.ResNet50Backbone", True)
        assert e.contains_bn is False
        assert "c" not in {m.name for m in unit.models.values()}  # ViT: nothing we know


class TestRuntimeEvidence:
    @pytest.mark.parametrize(
        ("source", "target", "text"),
        [
            ("import os\nimport tf_keras\n", "keras2", "import tf_keras (line 2)"),
            ("from tf_keras import layers\n", "keras2", "from tf_keras import layers (line 1)"),
            ('import os\nos.environ["TF_USE_LEGACY_KERAS"] = "1"\nimport tensorflow\n', "keras2", "TF_USE_LEGACY_KERAS=1 (line 2)"),
            ('import os\nos.environ.setdefault("TF_USE_LEGACY_KERAS", "true")\nimport keras\n', "keras2", "TF_USE_LEGACY_KERAS=true (line 2)"),
            ("import tensorflow as tf\nbn = tf.compat.v1.layers.BatchNormalization()\n", "legacy", "tf.compat.v1.layers.BatchNormalization (line 2)"),
            ("import tensorflow as tf\nbn = tf.compat.v1.keras.layers.BatchNormalization()\n", "legacy", "tf.compat.v1.keras.layers.BatchNormalization (line 2)"),
            ("import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n", "legacy", "tf.disable_v2_behavior (line 2)"),
            ("import keras\nimport tensorflow as tf\nsess = tf.Session()\n", "legacy", "tf.Session (line 3)"),
            ("from keras import backend as K\nK.set_session(s)\n", "legacy", "K.set_session (line 2)"),
        ],
    )
    def test_strong_evidence_sets_the_runtime(self, source, target, text):
        runtime = analyze_source(source, "t.py").runtime
        assert (runtime.target, runtime.source) == (target, text)

    @pytest.mark.parametrize(
        "source",
        [
            "import tensorflow as tf\ntf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)\n",
            'import os\nos.environ["TF_USE_LEGACY_KERAS"] = "0"\nimport keras\n',
            "import keras\n# import tf_keras\ns = 'import tf_keras'\n",
        ],
    )
    def test_weak_or_no_evidence_keeps_the_default(self, source):
        assert analyze_source(source, "t.py").runtime == DEFAULT


class TestNegatives:
    def test_code_in_strings_and_comments_is_not_a_fact(self):
        unit = lower('''
            import keras
            # base = keras.applications.ResNet50(); base.trainable = False; base(x)
            doc = """
            base = keras.applications.ResNet50()
            base.trainable = False
            """
        ''')
        assert unit.models == {} and unit.calls == [] and unit.trainable_changes == []

    def test_unknown_objects_are_not_facts(self):
        unit = lower("""
            import keras
            from sklearn.preprocessing import StandardScaler
            from mylib import build
            scaler = StandardScaler()
            scaler.fit(x)
            net = build()
            net.trainable = False
            net(x)
            pattern = __import__("re").compile("x")
        """)
        assert unit.models == {} and unit.calls == [] and unit.trainings == [] and unit.trainable_changes == []

    def test_compile_and_fit_on_an_unknown_keras_model_have_no_model(self):
        unit = lower("""
            import keras
            model = keras.models.load_model("m.keras")
            model.compile("adam")
            model.fit_generator(gen)
        """)
        assert [c.model for c in unit.compiles] == [None] and [f.models for f in unit.trainings] == [()]

    def test_a_file_without_keras_imports_exits_early_with_sources_and_runtime(self):
        unit = analyze_source("import numpy as np\nbase.trainable = False\n", "util.py")
        assert unit.models == {} and unit.trainable_changes == []
        assert unit.sources == {None: ["import numpy as np", "base.trainable = False"]}
        assert (unit.kind, unit.runtime) == ("script", DEFAULT)


class TestLocations:
    def test_columns_count_characters_not_utf8_bytes(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            é = "ü"; y = base(é)
        """)
        assert only_call(unit, "base").location == Location(line=3, column=14, end_line=3, end_column=21)


class TestFiles:
    def test_pep263_coding_cookie(self, tmp_path):
        path = tmp_path / "latin.py"
        path.write_bytes("# -*- coding: latin-1 -*-\nimport keras\nname = 'caf\xe9'\nb = keras.applications.ResNet50()\n".encode("latin-1"))
        unit = analyze_file(path, "latin.py")
        assert unit.path == "latin.py" and unit.sources[None][2] == "name = 'café'"
        assert model(unit, "b").location.line == 4

    def test_invalid_utf8(self, tmp_path):
        path = tmp_path / "bad.py"
        path.write_bytes(b"import keras\nx = '\xff'\n")
        with pytest.raises(FrontendError, match=r"^not valid UTF-8 \(byte 18\)$"):
            analyze_file(path, "bad.py")

    def test_syntax_error(self, tmp_path):
        path = tmp_path / "broken.py"
        path.write_text("import keras\n\ndef f(:\n    pass\n")
        with pytest.raises(FrontendError, match=r"^syntax error at line 3: "):
            analyze_file(path, "broken.py")

    def test_null_bytes_and_missing_files(self, tmp_path):
        path = tmp_path / "nul.py"
        path.write_bytes(b"import keras\x00\n")
        with pytest.raises(FrontendError) as error:
            analyze_file(path, "nul.py")
        assert "\n" not in str(error.value) and str(tmp_path) not in str(error.value)
        with pytest.raises(FrontendError, match="^cannot read"):
            analyze_file(tmp_path / "missing.py", "missing.py")

    def test_pathological_nesting_is_an_error_or_a_result_never_a_crash(self):
        deep = "import keras\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
        with pytest.raises(FrontendError, match="nest|syntax error"):
            analyze_source(deep, "deep.py")
        long_chain = "import keras\nx = " + " + ".join(["keras.Input((2,))"] * 2000) + "\n"
        assert analyze_source(long_chain, "chain.py").models == {}
        nested_calls = "import keras\nx = " + "f(" * 190 + ")" * 190 + "\n"
        assert analyze_source(nested_calls, "calls.py").models == {}


class TestRobustness:
    def test_an_exponential_call_chain_is_too_complex_to_analyse(self):
        # 2^30 calls: stopped by the statement budget and said in one line, not minutes of work.
        helpers = "\n".join(f"def f{i}():\n    f{i + 1}()\n    f{i + 1}()\n" for i in range(30))
        source = "import keras\n" + helpers + "def f30():\n    pass\nf0()\nbase = keras.applications.ResNet50()\nbase.trainable = False\n"
        with pytest.raises(FrontendError, match=r"^too complex to analyse: more than 200,000 statements"):
            analyze_source(source, "deep.py")

    @pytest.mark.parametrize("body", [
        "x = 1\n" + "x = [x, x]\n" * 40,  # a 2^40-leaf list, shared
        "x = 1\n" + "x = (x, x)\n" * 40,
        "".join(f"{'    ' * i}for i{i} in [{', '.join(map(str, range(16)))}]:\n" for i in range(6)) + "    " * 6 + "model.fit(i0)\n",
        "rows = [[[[[model(a) for a in L] for b in L] for c in L] for d in L] for e in L]\n",
    ], ids=["list", "tuple", "nested-loops", "nested-comprehensions"])
    def test_small_inputs_with_exponential_structure_are_analysed_in_bounded_work(self, body):
        source = ("import keras\nL = list(range(16))\nbase = keras.applications.ResNet50()\nbase.trainable = False\n"
                  "model = keras.Sequential([base])\nmodel.compile('adam', 'mse')\n" + body + "model.fit(x)\n")
        from bnlint.frontends.python import interpreter

        statements = []
        real = interpreter.Interpreter.release

        def counting(self):
            statements.append(interpreter.STATEMENT_BUDGET - self.budget)
            real(self)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(interpreter.Interpreter, "release", counting)
            unit = analyze_source(source, "big.py")
        assert model(unit, "base").frozen and statements[0] < 5_000

    def test_a_diamond_class_hierarchy_is_looked_up_once_per_class(self):
        classes = "class C0(keras.Model):\n    def call(self, x):\n        return x\n" + "".join(
            f"class A{i}(C{i - 1}):\n    pass\nclass B{i}(C{i - 1}):\n    pass\nclass C{i}(A{i}, B{i}):\n    pass\n"
            for i in range(1, 41))
        # 2^40 paths through its bases: walked path by path, this never finishes.
        unit = analyze_source("import keras\n" + classes + "m = C40()\nm.trainable = False\nm.fit(x)\n", "diamond.py")
        assert model(unit, "m").frozen and model(unit, "m").cls == "C40"

    def test_a_bug_in_the_interpreter_is_one_line_not_a_traceback(self, monkeypatch):
        from bnlint.frontends.python.interpreter import Interpreter

        def broken(self, node):
            raise ValueError("surprise\nsecond line")

        monkeypatch.setattr(Interpreter, "_s_assign", broken)
        with pytest.raises(FrontendError) as error:
            analyze_source("import keras\nx = 1\n", "t.py")
        assert str(error.value) == "internal error in the script analysis (ValueError: surprise); please report it"


class TestNeverCalledCode:
    def test_a_method_nobody_calls_that_trains_with_train_on_batch_is_interpreted(self):
        unit = lower("""
            import tensorflow as tf
            class Trainer:
                def __init__(self):
                    self.base = tf.keras.applications.ResNet50(weights=None, include_top=False)
                    self.base.trainable = False
                    inputs = tf.keras.Input((64, 64, 3))
                    self.model = tf.keras.Model(inputs, self.base(inputs))
                    self.model.compile("adam", "mse")
                def train(self, batches):
                    for x, y in batches:
                        self.model.train_on_batch(x, y)
        """)
        assert [t.api for t in unit.trainings] == ["train_on_batch"]


class TestCustomTrainingSteps:
    def test_only_what_is_called_inside_the_gradient_tape_is_trained(self):
        unit = lower("""
            import tensorflow as tf
            base = tf.keras.applications.ResNet50(weights=None, include_top=False, pooling="avg")
            base.trainable = False
            head = tf.keras.layers.Dense(2)
            critic = tf.keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg")
            for epoch in range(10):
                for x, y in train_data:
                    with tf.GradientTape() as tape:
                        loss = loss_fn(y, head(base(x)))
                    grads = tape.gradient(loss, head.trainable_variables)
                    optimizer.apply_gradients(zip(grads, head.trainable_variables))
                for x, y in val_data:
                    val_loss = loss_fn(y, critic(x))
        """)
        [step] = unit.trainings
        names = {unit.models[key].name for key in step.models}
        assert "base" in names and "critic" not in names
        assert [c.in_step for c in unit.calls if unit.models[c.callee].name == "critic"] == [False]


class TestRealWorldScripts:
    def test_a_click_command_is_analysed_although_nothing_calls_it(self):
        unit = lower("""
            import click
            import tensorflow as tf
            from tensorflow.keras import layers

            def build_model(num_classes, fine_tune_at=None):
                base = tf.keras.applications.EfficientNetB0(include_top=False, weights="imagenet")
                base.trainable = False
                inputs = layers.Input(shape=(224, 224, 3))
                x = base(inputs)
                x = layers.GlobalAveragePooling2D()(x)
                outputs = layers.Dense(num_classes)(x)
                return tf.keras.Model(inputs, outputs), base

            @click.command()
            @click.option("--epochs", default=5)
            def main(epochs):
                model, base = build_model(10)
                model.compile("adam", "sparse_categorical_crossentropy")
                model.fit(train, epochs=epochs)
                base.trainable = True
                model.fit(train, epochs=epochs)
        """)
        assert len(unit.models) == 2  # the base and the functional model, once each
        base = model(unit, "base")
        assert base.frozen and only_call(unit, "base").training == "absent"
        functional = model(unit, "model")
        assert [f.models for f in unit.trainings] == [(functional.key,), (functional.key,)]
        assert changes(unit, "base") == [(False, "model", 7, False), (True, "model", 20, False)]


class TestSourceLines:
    def test_sources_number_lines_as_python_does(self):
        # A form feed is whitespace to Python; str.splitlines() would count it as a line break.
        source = "import keras\n\x0c\nbase = keras.applications.ResNet50()  # noqa: BN001\r\nbase(1)\n"
        unit = analyze_source(source, "ff.py")
        call = only_call(unit, "base")
        assert unit.sources[None][call.location.line - 1] == "base(1)"
        assert unit.sources[None][2].endswith("# noqa: BN001")

    def test_an_input_layer_in_a_sequential_is_not_one_of_its_layers(self):
        unit = lower("""
            import keras
            base = keras.applications.ResNet50()
            model = keras.Sequential([keras.layers.InputLayer((32, 32, 3)), base])
            model.layers[0].trainable = False
        """)
        assert model(unit, "base").frozen
