"""Python source as bnlint reads it: bytes to text the way Python does (PEP 263 decoding, its line
breaks), with size limits; a parse whose every failure is one line; and the cheap text tests that
decide whether a file is worth parsing at all."""

from __future__ import annotations

import ast
import codecs
import io
import pathlib
import re
import tokenize
from collections.abc import Iterable, Iterator

from bnlint import safe_io
from bnlint.frontends import FrontendError
from bnlint.frontends.python.imports import IMPORTS_KERAS
from bnlint.prefilter import PREFILTER_WORDS

# Reading text is cheap (a generated 20 MiB table of constants costs 20 MiB), parsing is not: a
# syntax tree takes about 250 bytes of memory per byte of source (a 3.3 MiB script, 840 MiB).
# So a file is read up to READ_LIMIT and skipped quietly when no rule could find anything in it,
# but parsed only up to PARSE_LIMIT characters of code (a script, or a notebook's code cells);
# the largest real training scripts in a corpus of 3,500 files are under 1 MiB.
READ_LIMIT = 64 * 2**20
PARSE_LIMIT = 2 * 2**20


def check_parse_size(code_size: int) -> None:
    """Refuse, in one line, code too large to parse within bounded memory."""
    if code_size > PARSE_LIMIT:
        raise FrontendError(f"too large to analyse ({code_size / 2**20:.1f} MiB of code; "
                            f"bnlint parses at most {PARSE_LIMIT // 2**20} MiB per file)")


def read_bytes(path: pathlib.Path, limit: int = READ_LIMIT) -> bytes:
    """A regular file's bytes, at most `limit` of them (FIFOs and devices are refused, never read)."""
    try:
        return safe_io.read_bytes(path, limit)
    except safe_io.UnreadableFile as exc:
        raise FrontendError(str(exc)) from None


def _ascii_compatible(encoding: str) -> bool:
    """Whether source in `encoding` reads like ASCII where it is ASCII, as PEP 263 requires of
    the encodings a cookie may name (the cookie line itself must be readable). Rules out
    transformations that happen to be registered as codecs: `punycode` (whose decoder is also
    quadratic in the input), `unicode_escape`, `utf-16`."""
    sample = "# coding\nx = 'a'\r\n"
    try:
        return codecs.lookup(encoding)._is_text_encoding and sample.encode(encoding) == sample.encode("ascii")
    except (LookupError, UnicodeError, TypeError):
        return False


def decode(data: bytes) -> str:
    """Source bytes to text, honouring a PEP 263 coding cookie and a UTF-8 BOM. Line breaks come
    out as `\n`, as Python reads them (`\r\n` and a lone `\r` included): a file with old Mac line
    endings is then the same program to every regex and tokenizer that looks at it."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown or inconsistent coding cookie, or no cookie and not UTF-8
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as undecodable:
            raise FrontendError(f"not valid UTF-8 (byte {undecodable.start})") from None
        raise FrontendError(f"not valid source: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if encoding not in ("utf-8", "utf-8-sig") and not _ascii_compatible(encoding):
        raise FrontendError(f"unsupported source encoding {encoding!r} (not a character set Python source may use)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise FrontendError(f"not valid {label} (byte {exc.start})") from None
    except (UnicodeError, LookupError, ValueError) as exc:
        raise FrontendError(f"cannot decode as {encoding}: {exc}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse(source: str, what: str = "") -> ast.Module:
    """`ast.parse`, with every way it can fail turned into a one-line FrontendError."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        message = next(iter((exc.msg or "").splitlines()), "") or "invalid syntax"
        raise FrontendError(f"{what}syntax error{where}: {message}") from None
    except ValueError as exc:  # null bytes
        raise FrontendError(f"{what}cannot parse: {exc}") from None
    except RecursionError:
        raise FrontendError(f"{what}too deeply nested to parse") from None
    except MemoryError:
        raise FrontendError(f"{what}too large to parse (out of memory)") from None


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
# Words that only start a match: `trainable` counts where it is assigned, passed or named as a
# string (`x.trainable = False`, `trainable=False`, `setattr(layer, "trainable", v)`), not in
# `model.trainable_variables`, which every custom training step reads.
_CONFIRMED_BY = {"trainable": re.compile(r"trainable[ \t]*=|[\"']trainable[\"']")}
_IMPORT_LINE = re.compile(r"[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w.]+))")


def mentions_keras(texts: Iterable[str]) -> bool:
    """Cheap early exit, before parsing: does anything import keras, tensorflow, tf_keras,
    keras_hub, ..., or change `trainable` / train a model (built in another module)?"""
    for text in texts:
        if ("keras" in text or "tensorflow" in text) and IMPORTS_KERAS.search(text if "\r" not in text else text.replace("\r", "\n")):
            return True
        if any(word in text for word in _TRAINING_WORDS):
            return True
    return False


def mentions_group(text: str, group: str) -> bool:
    """Whether `text` mentions a word of this PREFILTER_WORDS group."""
    for word in PREFILTER_WORDS[group]:
        if word in text:
            confirm = _CONFIRMED_BY.get(word)
            if confirm is None or confirm.search(text):
                return True
    return False


def word_groups(text: str) -> frozenset[str]:
    """The PREFILTER_WORDS groups that `text` mentions a word of."""
    return frozenset(group for group in PREFILTER_WORDS if mentions_group(text, group))


class Mentions:
    """Which PREFILTER_WORDS groups a text mentions, each searched for only when a prefilter asks
    (most files are ruled out by the first group searched)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._known: dict[str, bool] = {}

    def __contains__(self, group: str) -> bool:
        found = self._known.get(group)
        if found is None:
            found = self._known[group] = mentions_group(self._text, group)
        return found


def search_order(groups: Iterable[str]) -> tuple[str, ...]:
    """The groups in the order that decides a prefilter soonest (PREFILTER_WORDS' order)."""
    order = list(PREFILTER_WORDS)
    return tuple(sorted(groups, key=order.index))


def imported_modules(text: str) -> Iterator[tuple[str, int]]:
    """(module, leading dots) of each import statement, read from the text without parsing: each
    line that holds the word `import` is matched against the statement's start (searching for the
    word is much faster than trying a pattern at the start of every line)."""
    if "\r" in text:
        text = text.replace("\r", "\n")
    line_start = -1
    at = text.find("import")
    while at != -1:
        start = text.rfind("\n", 0, at) + 1
        if start != line_start:
            line_start = start
            match = _IMPORT_LINE.match(text, start)
            if match is not None:
                name = match.group(1) if match.group(1) is not None else match.group(2)
                dots = len(name) - len(name.lstrip("."))
                yield name[dots:], dots
        at = text.find("import", at + 6)
