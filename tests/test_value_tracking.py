"""Values the script interpreter follows to see real code's models: each pattern from real repositories.

Every case is judged on tf.keras (keras2), where a frozen base called without `training=False` and
trained is a latent finding: a finding proves the value was followed all the way to the base.
"""

from __future__ import annotations

import pytest

from bnlint import api
from bnlint.ir import Runtime

KERAS2 = Runtime("keras2", "test")
TRAIN = "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y)\n"


def found(code: str) -> list[tuple[str, int, str]]:
    return [(f.rule, f.line, f.verdict) for f in api.lint_source(code, "script", KERAS2)]


def test_a_list_comprehension_of_a_base_layers_outputs():
    code = """\
import tf_keras as keras
base = keras.applications.ResNet50(include_top=False)
base.trainable = False
names = ["conv4_block6_out", "conv5_block3_out"]
outputs = [base.get_layer(n).output for n in names]
model = keras.Model(base.input, [keras.layers.Dense(1)(o) for o in outputs])
""" + TRAIN
    assert found(code) == [("BN001", 5, "latent")]


def test_comprehension_variables_do_not_leak():
    code = "import tf_keras as keras\nn = keras.applications.ResNet50()\nlayers = [n for n in range(3)]\nn.trainable = False\n"
    unit = api.lint_source(code + "model = keras.Sequential([n])\n" + TRAIN, "script", KERAS2)
    assert [(f.rule, f.line) for f in unit] == [("BN002", 5)]


@pytest.mark.parametrize("handle", [
    'f"https://tfhub.dev/google/imagenet/{family}/feature_vector/5"',
    '"https://tfhub.dev/google/imagenet/{}/feature_vector/5".format(family)',
    'HANDLES.get("mobilenet")',
    'HANDLES["mobilenet"]',
])
def test_hub_handles_built_from_strings(handle):
    code = f"""\
import tensorflow as tf
import tensorflow_hub as hub
family = "mobilenet_v2_100_224"
HANDLES = {{"mobilenet": "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"}}
extractor = hub.KerasLayer({handle})
model = tf.keras.Sequential([extractor, tf.keras.layers.Dense(5)])
""" + TRAIN
    assert found(code) == [("BN002", 6, "latent")]


def test_a_hub_handle_we_cannot_read_is_not_claimed_to_hold_batchnorm():
    code = "import tensorflow as tf\nimport tensorflow_hub as hub\nextractor = hub.KerasLayer(args.handle)\n"
    assert found(code + "model = tf.keras.Sequential([extractor])\n" + TRAIN) == []


def test_a_table_of_constructors_stored_on_self():
    code = """\
import tf_keras as keras
class Net(keras.Model):
    def __init__(self, name):
        super().__init__()
        self.table = {"resnet": keras.applications.ResNet50, "mobilenet": keras.applications.MobileNetV2}
        self.backbone = self.table[name](include_top=False, pooling="avg")
        self.backbone.trainable = False
        self.head = keras.layers.Dense(2)
    def call(self, x):
        return self.head(self.backbone(x))
model = Net(arch)
""" + TRAIN
    assert found(code) == [("BN001", 10, "latent")]


def test_a_table_mixing_batchnorm_and_plain_backbones_is_not_guessed():
    code = """\
import tf_keras as keras
table = {"resnet": keras.applications.ResNet50, "vgg": keras.applications.VGG16}
base = table[arch](include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base])
""" + TRAIN
    assert found(code) == []


def test_a_loop_over_an_outer_model_built_from_the_base_output_reaches_the_base_layers():
    code = """\
import tf_keras as keras
base = keras.applications.InceptionV3(include_top=False)
for layer in base.layers:
    layer.trainable = False
x = keras.layers.GlobalAveragePooling2D()(base.output)
model = keras.Model(base.input, keras.layers.Dense(5)(x))
""" + TRAIN + """\
for layer in model.layers[249:]:
    layer.trainable = True
""" + TRAIN
    assert found(code) == [("BN001", 5, "exposed")]


def test_a_freeze_that_skips_batchnorm_in_a_helper_leaves_them_exposed():
    code = """\
import tf_keras as keras
def freeze_all_but_bn(model):
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((224, 224, 3))
model = keras.Model(inputs, keras.layers.Dense(2)(base(inputs)))
""" + TRAIN + """\
base.trainable = True
freeze_all_but_bn(base)
""" + TRAIN
    assert found(code) == [("BN001", 9, "exposed")]


def test_compose_helpers_built_with_reduce_keep_the_batchnorm_calls():
    code = """\
from functools import reduce
import tf_keras as keras
def compose(*funcs):
    return reduce(lambda f, g: lambda *a, **kw: g(f(*a, **kw)), funcs)
def conv_bn(filters):
    return compose(keras.layers.Conv2D(filters, 3), keras.layers.BatchNormalization(), keras.layers.ReLU())
inputs = keras.Input((32, 32, 3))
body = keras.Model(inputs, conv_bn(16)(conv_bn(8)(inputs)))
body.trainable = False
outputs = keras.layers.Dense(1)(keras.layers.Flatten()(body.output))
model = keras.Model(body.input, outputs)
""" + TRAIN
    assert found(code) == [("BN001", 10, "latent")]


def test_super_init_runs_the_base_class_constructor():
    code = """\
import tf_keras as keras
class Base(keras.Model):
    def __init__(self):
        super().__init__()
        self.backbone = keras.applications.DenseNet121(include_top=False, pooling="avg")
        self.backbone.trainable = False
class Net(Base):
    def __init__(self):
        super().__init__()
        self.head = keras.layers.Dense(3)
    def call(self, x):
        return self.head(self.backbone(x))
model = Net()
""" + TRAIN
    assert found(code) == [("BN001", 12, "latent")]


def test_an_early_return_on_a_constant_ends_the_function():
    code = """\
import tf_keras as keras
def build(name="resnet"):
    if name == "resnet":
        return keras.applications.ResNet50(include_top=False, pooling="avg")
    return keras.applications.MobileNetV2(include_top=False, pooling="avg")
base = build()
base.trainable = False
model = keras.Sequential([base])
""" + TRAIN
    (finding,) = api.lint_source(code, "script", KERAS2)
    assert (finding.rule, finding.subject.cls) == ("BN002", "ResNet50")
