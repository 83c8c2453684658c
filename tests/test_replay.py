"""Calling a model with `training` chosen per kind of layer, and holding random layers fixed.

The replay must be exactly Keras' own call when every kind gets the same mode, and exactly a
model without its random layers when they are switched off; and a random layer whose generator
bnlint cannot put back must make a check say so instead of reporting its noise as BatchNormalization.
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlint.confirm.measure import Subject, measure
from bnlint.confirm.replay import NotSeparable, call, kinds_inside

OFF = {"batchnorm": True, "dropout": False, "augmentation": False, "other": True}


def nested(keras, with_random: bool):
    """A functional model around a functional base and a Sequential head, random layers optional."""
    keras.utils.set_random_seed(0)
    L = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = L.BatchNormalization()(L.Conv2D(4, 3)(inputs))
    if with_random:
        x = L.Dropout(0.5)(x)
    base = keras.Model(inputs, L.ReLU()(x), name="base")
    image = keras.Input((8, 8, 3))
    y = base(image)
    if with_random:
        y = L.SpatialDropout2D(0.3)(y)
    y = L.Flatten()(y)
    if with_random:
        y = L.GaussianNoise(0.5)(y)
    y = L.BatchNormalization()(L.Dense(3)(y))
    head = keras.Sequential([keras.Input((3,)), L.Dense(2), L.Dropout(0.4) if with_random else L.Activation("linear")])
    return keras.Model(image, head(y))


@pytest.mark.tf
@pytest.mark.parametrize("runtime", ["keras", "tf_keras"])
def test_switching_random_layers_off_is_the_same_model_without_them(runtime):
    keras = pytest.importorskip(runtime)
    noisy, clean = nested(keras, True), nested(keras, False)
    clean.set_weights(noisy.get_weights())
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 3)).astype("float32")
    expected = np.asarray(clean(x, training=True))
    assert np.array_equal(np.asarray(call(keras, noisy, x, OFF)), expected)
    # Through the replay, a model without random layers is its own training-mode call.
    assert np.array_equal(np.asarray(call(keras, clean, x, OFF)), expected)
    assert not np.allclose(np.asarray(noisy(x, training=True)), expected)  # the random layers do matter


@pytest.mark.tf
@pytest.mark.parametrize("runtime", ["keras", "tf_keras"])
def test_attention_recurrent_and_augmentation_layers_are_switched_off_through_training(runtime):
    keras = pytest.importorskip(runtime)
    L = keras.layers
    tokens = keras.Input((5, 4))
    h = L.LSTM(3, dropout=0.5)(L.MultiHeadAttention(2, 4, dropout=0.5)(tokens, tokens))
    attention = keras.Model(tokens, L.Dense(1)(h))
    image = keras.Input((8, 8, 3))
    flipped = L.RandomRotation(0.2)(L.RandomFlip()(image))
    augmenting = keras.Model(image, L.Dense(1)(L.Flatten()(flipped)))
    rng = np.random.default_rng(1)
    for model, x in ((attention, rng.normal(size=(4, 5, 4))), (augmenting, rng.normal(size=(4, 8, 8, 3)))):
        x = x.astype("float32")
        # No BatchNormalization: with the random layers off, training mode is inference mode.
        assert np.array_equal(np.asarray(call(keras, model, x, OFF)), np.asarray(model(x, training=False)))
    # What each layer holds, itself or in the layers it calls (tf.keras keeps attention dropout in a sublayer).
    kinds = {type(layer).__name__: kinds_inside(layer) for model in (attention, augmenting) for layer in model._flatten_layers()}
    assert kinds["MultiHeadAttention"] == kinds["LSTM"] == {"dropout"}
    assert kinds["RandomFlip"] == {"augmentation"} and kinds["Dense"] == set()


@pytest.mark.tf
def test_a_layer_mixing_batchnorm_and_dropout_in_its_call_cannot_be_split():
    keras = pytest.importorskip("keras")

    class Block(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.norm, self.drop = keras.layers.BatchNormalization(), keras.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.drop(self.norm(inputs, training=training), training=training)

    inputs = keras.Input((4,))
    model = keras.Model(inputs, Block(name="block")(inputs))
    with pytest.raises(NotSeparable, match="layer 'block' \\(Block\\) holds batchnorm, dropout inside its own call\\(\\)"):
        call(keras, model, np.ones((2, 4), "float32"), OFF)


@pytest.mark.tf
def test_a_random_layer_with_a_private_generator_makes_the_check_unconfirmed_not_confirmed():
    keras = pytest.importorskip("keras")

    class Jitter(keras.layers.Layer):
        """Noise from its own numpy generator: no seed bnlint sets brings it back."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dropout = 0.1  # looks random to bnlint, draws from a generator bnlint cannot see
            self.rng = np.random.default_rng()

        def call(self, inputs, training=None):
            return inputs + self.rng.normal(size=(1, 4)).astype("float32") if training else inputs

    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inputs))
    base = keras.Model(inputs, x, name="base")
    base.trainable = False
    outer = keras.Input((4,))
    model = keras.Model(outer, keras.layers.Dense(1)(Jitter()(base(outer))))
    outcome = measure(keras, Subject(model, base), np.random.default_rng(0).normal(size=(8, 4)).astype("float32"), "frozen-batchnorm")
    assert outcome.status == "unconfirmed"
    assert outcome.verdict == ("the model's random layers (Jitter) draw differently on every pass from the same seeds, "
                               "so a BatchNormalization effect cannot be told apart from them")
