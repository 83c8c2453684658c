"""Random layers (Dropout, noise, augmentation): find them, and hold their random state fixed
between the passes a check compares (worker side: runs TensorFlow).

Nothing here assigns a layer's configuration (`rate`, `dropout`, ...): a pass starts from a
saved random state, and `bnlint.confirm.replay` switches random layers off through the
`training` argument of their calls.
"""

from __future__ import annotations

import numpy as np

from bnlint.confirm.layers import to_numpy, walk_layers

SEED = 0
# A draw's seeds differ from the loaded ones by a multiple of a large prime: distinct streams.
_DRAW_STRIDE = 1_000_003

# Class names of random layers, by the term `bnlint explain` reports them under. Layers with a
# `dropout=` argument (MultiHeadAttention, LSTM, GRU, Attention, ...) are found by that argument.
_DROPOUT_CLASSES = {
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
    "GaussianNoise", "AlphaDropout",
}
_RATE_ATTRIBUTES = ("dropout", "recurrent_dropout", "attention_dropout")


def seed_generators(layer) -> list:
    """The layer's own random-state variables: Keras 3 SeedGenerators, tf.keras generators."""
    found = [g.state for g in getattr(layer, "_seed_generators", None) or []]  # Keras 3
    generator = getattr(getattr(layer, "_random_generator", None), "_generator", None)  # tf.keras stateful
    if generator is not None:
        found.append(generator.state)
    return found


def _rates(layer) -> list[float]:
    rates = []
    for attribute in _RATE_ATTRIBUTES:
        try:
            value = getattr(layer, attribute, None)
        except Exception:  # a property that cannot be computed on this object
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rates.append(float(value))
    return rates


def random_kind(layer) -> str | None:
    """`dropout` (Dropout and noise layers, or a layer with a non-zero `dropout=` argument),
    `augmentation` (any other layer that draws random numbers: RandomFlip, RandomRotation, ...),
    or None for a layer that draws nothing. Looks at the layer itself, not inside it."""
    if any(cls.__name__ in _DROPOUT_CLASSES for cls in type(layer).__mro__):
        return "dropout"
    rates = _rates(layer)
    if rates:  # an RNN cell or attention layer: random only through its dropout arguments
        return "dropout" if any(rate > 0 for rate in rates) else None
    return "augmentation" if _resettable(layer) or type(layer).__name__.startswith("Random") else None


def _resettable(layer) -> bool:
    """Whether the layer draws from a generator bnlint can put back: its own seed-generator
    state, a tf.keras random generator, or (either way) the global seeds `reset()` sets."""
    return bool(getattr(layer, "_seed_generators", None)) or getattr(layer, "_random_generator", None) is not None


def unknown_randomness(layers: list) -> list:
    """Random layers that neither hold nor contain a generator bnlint can put back (a custom
    layer with a private generator): passes may not repeat on them."""
    return [layer for layer in layers if random_kind(layer) and not any(_resettable(inner) for inner in walk_layers(layer))]


class Randomness:
    """The random state of a set of layers, to start every pass (or draw) from."""

    def __init__(self, keras_module, layers: list) -> None:
        self.keras = keras_module
        self.variables = []
        self.legacy_seeds = []  # tf.keras legacy stateful generators count their seed up per call
        for layer in layers:
            for variable in seed_generators(layer):
                self.variables.append((variable, to_numpy(variable).copy()))
            generator = getattr(layer, "_random_generator", None)
            if generator is not None and isinstance(getattr(generator, "_seed", None), int):
                self.legacy_seeds.append((generator, generator._seed))

    @property
    def has_state(self) -> bool:
        return bool(self.variables or self.legacy_seeds)

    def reset(self, draw: int = 0) -> None:
        """Back to the saved state (draw 0), or to the start of another seeded draw."""
        self.keras.utils.set_random_seed(SEED + draw)
        for variable, value in self.variables:
            if draw and value.shape == (2,):  # Keras 3 SeedGenerator state: [seed, counter]
                value = np.array([(int(value[0]) + draw * _DRAW_STRIDE) % 2**31, 0], dtype=value.dtype)
            elif draw:
                value = value + draw * _DRAW_STRIDE
            variable.assign(value)
        for generator, seed in self.legacy_seeds:
            generator._seed = seed + draw * _DRAW_STRIDE  # the generator's counter, not the layer's config

    def capture(self) -> tuple[list, list]:
        """The current state, mid-run (a side pass must not shift the stream fit() draws from)."""
        return [to_numpy(v).copy() for v, _ in self.variables], [g._seed for g, _ in self.legacy_seeds]

    def restore(self, captured: tuple[list, list]) -> None:
        values, seeds = captured
        for (variable, _), value in zip(self.variables, values):
            variable.assign(value)
        for (generator, _), seed in zip(self.legacy_seeds, seeds):
            generator._seed = seed
