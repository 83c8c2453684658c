"""What a script can only run on decides the runtime its findings assume (rules/knowledge/runtime_evidence.yaml).

Each case is a script frozen-and-fine-tuned the same way; the runtime decides the finding: keras3
reports the unfreeze (BN004), keras2 the call (BN001 exposed), legacy too (the frozen phase is
already wrong there). `runtime.source` names the evidence.
"""

from __future__ import annotations

import pytest

from bnlint import api

BODY = """\
base = {app}(include_top=False, pooling="avg")
base.trainable = False
inputs = {Input}((224, 224, 3))
model = {Model}(inputs, base(inputs))
model.compile(optimizer="adam", loss="mse")
{fit}
base.trainable = True
model.compile(optimizer="adam", loss="mse")
{fit}
"""


def runtime_of(head: str, fit: str = "model.fit(x, y)"):
    findings = api.lint_source(head + BODY.format(app="keras.applications.ResNet50", Input="keras.Input", Model="keras.Model", fit=fit))
    assert len(findings) == 1, findings
    return findings[0].runtime.target, findings[0].runtime.source


@pytest.mark.parametrize(("head", "fit", "expected"), [
    ("import keras\n", "model.fit(x, y)", ("keras3", "default (no pins or imports say otherwise)")),
    ("import tf_keras as keras\n", "model.fit(x, y)", ("keras2", "import tf_keras (line 1)")),
    # TF1 API reached through tensorflow.compat.v1
    ("import tensorflow.compat.v1 as tf\nimport keras\nopt = tf.train.AdamOptimizer(1e-3)\n", "model.fit(x, y)",
     ("legacy", "tf.train.AdamOptimizer (line 3)")),
    ("import tensorflow.compat.v1 as tf\nimport keras\nsess = tf.Session()\n", "model.fit(x, y)", ("legacy", "tf.Session (line 3)")),
    # Keras 1 keywords, Keras 1 modules
    ("import keras\n", "model.fit(x, y, nb_epoch=3)", ("legacy", "fit(nb_epoch=...) (line 7)")),
    ("import keras\nfrom keras import initializations\n", "model.fit(x, y)", ("legacy", "from keras import initializations (line 2)")),
    # fit_generator: tf.keras 2 through tensorflow, Keras <= 2.3 through standalone keras
    ("import tensorflow as tf\nkeras = tf.keras\n", "model.fit_generator(batches)", ("keras2", "fit_generator() (line 8)")),
    ("import keras\n", "model.fit_generator(batches)", ("legacy", "fit_generator() (line 7)")),
    # APIs Keras 3 removed
    ("import tensorflow as tf\nkeras = tf.keras\naugment = tf.keras.layers.experimental.preprocessing.RandomFlip()\n",
     "model.fit(x, y)", ("keras2", "tf.keras.layers.experimental.preprocessing (line 3)")),
    ("import tensorflow as tf\nkeras = tf.keras\nest = tf.keras.estimator.model_to_estimator\n", "model.fit(x, y)",
     ("keras2", "tf.keras.estimator.model_to_estimator (line 3)")),
])
def test_the_evidence_decides_the_runtime(head, fit, expected):
    assert runtime_of(head, fit) == expected


def test_keras1_model_keywords_are_legacy():
    code = (
        "import keras\nfrom keras.models import Model\nbase = keras.applications.ResNet50(include_top=False)\n"
        "base.trainable = False\nx = keras.Input((224, 224, 3))\nmodel = Model(input=x, output=base(x))\n"
        "model.compile('sgd', 'mse')\nmodel.fit(x, y)\n"
    )
    (finding,) = api.lint_source(code)
    assert (finding.runtime.target, finding.runtime.source, finding.verdict) == ("legacy", "Model(input=...) (line 6)", "active")


def test_a_hub_layer_is_judged_as_keras2_with_fixes_that_apply_to_it():
    code = (
        "import tensorflow as tf\nimport tensorflow_hub as hub\n"
        "extractor = hub.KerasLayer('https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5')\n"
        "inputs = tf.keras.Input((224, 224, 3))\n"
        "model = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(extractor(inputs)))\n"
        "model.compile('adam', 'mse')\nmodel.fit(x, y)\n"
    )
    (finding,) = api.lint_source(code)
    assert finding.runtime.target == "keras2" and "hub.KerasLayer" in finding.runtime.source
    assert finding.fix == "Call it as `extractor(inputs, training=False)`."
    # Even when the rest of the file is forced to Keras 3, a hub layer is a tf_keras layer.
    (forced,) = api.lint_source(code, runtime="keras3")
    assert (forced.runtime.target, forced.rule, forced.verdict) == ("keras2", "BN001", "latent")
    assert "layers" not in forced.fix
