"""Frontends: lower each kind of input (script, notebook, saved model) into a `Unit`.

Every frontend raises `FrontendError` with a one-line reason for input it cannot
analyse; none imports TensorFlow, Keras or the user's code.
"""

from __future__ import annotations


class FrontendError(Exception):
    """The input cannot be analysed. `str()` is one line, without the path."""
