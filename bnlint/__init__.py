"""bnlint: find frozen BatchNormalization bugs in Keras models and training scripts."""

__version__ = "0.2.0"
