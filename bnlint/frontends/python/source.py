"""Python source as bnlint reads it: bytes to text (PEP 263), lines as Python numbers them, a parse
whose every failure is one line, and the cheap text test that decides whether a file is worth it."""

from __future__ import annotations

import ast
import io
import pathlib
import re
import tokenize
from collections.abc import Iterable, Iterator

from bnlint.frontends import FrontendError
from bnlint.frontends.python.imports import IMPORTS_KERAS
from bnlint.safe_io import UnreadableFile
from bnlint.safe_io import read_bytes as read_regular

SCRIPT_LIMIT = 64 * 2**20  # bytes; beyond this a .py file is data, not a training script


def parse(source: str, what: str = "") -> ast.Module:
    """`ast.parse`, with every way it can fail turned into a one-line FrontendError."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise FrontendError(f"{what}syntax error at line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # null bytes
        raise FrontendError(f"{what}cannot parse: {exc}") from None
    except (RecursionError, MemoryError):
        raise FrontendError(f"{what}too deeply nested to parse") from None


_PYTHON_NEWLINE = re.compile(r"\r\n|\r|\n")
# str.splitlines() also breaks at these, Python's tokenizer does not (form feed is whitespace).
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def source_lines(text: str) -> list[str]:
    """The lines Python numbers: like `text.splitlines()`, but only at \\n, \\r\\n and \\r."""
    if not any(c in text for c in _OTHER_BREAKS):
        return text.splitlines()  # the common case, and the fastest
    lines = _PYTHON_NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# What a file must mention to hold a finding: a Keras-family import, or (through the project's
# own modules) a `trainable` change or a training call.
_TRAINING_WORDS = ("trainable", ".fit", "train_on_batch", "apply_gradients")
# The word groups a rule's `prefilter` names: a scan interprets code (with the project modules it
# imports) only when, for some selected rule, it mentions a word of each group the rule lists.
# BN001-BN004 need a freeze and a training event, BN005 `training=True`; a rule without a
# prefilter has every Keras file read for it.
PREFILTER_WORDS: dict[str, tuple[str, ...]] = {
    "freeze": ("trainable", "freeze", "Freeze", "KerasLayer"),
    "training": ("fit(", "fit_generator(", "train_on_batch(", "apply_gradients(", "minimize(", "train_step",
                 "model_to_estimator", "train(", ".apply("),
    "training-true": ("training=True", "training = True"),
    "suppression": ("noqa", "bnlint:"),
}
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))", re.MULTILINE)


def mentions_keras(texts: Iterable[str]) -> bool:
    """Cheap early exit, before parsing: does anything import keras, tensorflow, tf_keras,
    keras_hub, ..., or change `trainable` / train a model (built in another module)?"""
    for text in texts:
        if ("keras" in text or "tensorflow" in text) and IMPORTS_KERAS.search(text if "\r" not in text else text.replace("\r", "\n")):
            return True
        if any(word in text for word in _TRAINING_WORDS):
            return True
    return False


def word_groups(text: str) -> frozenset[str]:
    """The PREFILTER_WORDS groups that `text` mentions a word of."""
    return frozenset(group for group, words in PREFILTER_WORDS.items() if any(word in text for word in words))


def imported_modules(text: str) -> Iterator[tuple[str, int]]:
    """(module, leading dots) of each import statement, read from the text without parsing."""
    for match in _IMPORT.finditer(text.replace("\r", "\n")):
        name = match.group(1) if match.group(1) is not None else match.group(2)
        dots = len(name) - len(name.lstrip("."))
        yield name[dots:], dots


def decode(data: bytes) -> str:
    """Source bytes to text, honouring a PEP 263 coding cookie and a UTF-8 BOM."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown or inconsistent coding cookie
        raise FrontendError(f"not valid source: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise FrontendError(f"not valid {label} (byte {exc.start})") from None
    except LookupError:
        raise FrontendError(f"unknown encoding {encoding!r}") from None


def read_bytes(path: pathlib.Path, limit: int = SCRIPT_LIMIT) -> bytes:
    """A source file's bytes: regular files only, at most `limit` bytes (FrontendError otherwise)."""
    try:
        return read_regular(path, limit)
    except UnreadableFile as exc:
        raise FrontendError(str(exc)) from None
