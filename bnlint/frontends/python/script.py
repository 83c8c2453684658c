"""The Python-script frontend: parse a script (never import or run it) and lower it to IR facts."""

from __future__ import annotations

import ast
import gc
import io
import pathlib
import re
import tokenize
from collections.abc import Iterable

from bnlint.frontends import FrontendError
from bnlint.frontends.python.imports import IMPORTS_KERAS
from bnlint.frontends.python.interpreter import Interpreter
from bnlint.frontends.python.recorder import FactRecorder
from bnlint.ir import Unit
from bnlint.runtime import DEFAULT

# A module is one chunk; a notebook is one chunk per code cell: (cell index or None, tree).
Chunk = tuple[int | None, ast.Module]


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


def mentions_keras(texts: Iterable[str]) -> bool:
    """Cheap early exit: does anything import keras, tensorflow, tf_keras, keras_hub, ...?"""
    return any(("keras" in text or "tensorflow" in text) and IMPORTS_KERAS.search(text) for text in texts)


def lower(unit: Unit, chunks: list[Chunk], evidence: dict[str, str] | None = None) -> Unit:
    """Interpret the chunks as one program, filling `unit` with facts and its runtime."""
    recorder = FactRecorder(unit)
    interpreter = Interpreter(recorder, unit.sources)
    if evidence:
        interpreter.evidence.update(evidence)
    try:
        for cell, tree in chunks:
            interpreter.run_module(tree.body, cell)
        interpreter.run_orphans()
    except RecursionError:
        raise FrontendError("too deeply nested to analyse") from None
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not become the user's traceback
        detail = (str(exc).splitlines() or [""])[0]
        raise FrontendError(f"internal error in the script analysis ({type(exc).__name__}: {detail}); please report it") from None
    finally:
        interpreter.release()
    recorder.finish()
    unit.runtime = interpreter.runtime()
    return unit


class gc_paused:
    """Building an AST allocates hundreds of thousands of acyclic objects, and each allocation
    burst triggers the cyclic garbage collector for nothing: pause it while we parse and interpret
    (reference counting still frees everything; the collector resumes afterwards)."""

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info) -> None:
        if self._was_enabled:
            gc.enable()


def analyze_source(source: str, path: str) -> Unit:
    """Facts of one script's source text. Raises FrontendError for a syntax error."""
    unit = Unit(path=path, kind="script", runtime=DEFAULT, sources={None: source_lines(source)})
    with gc_paused():
        _lower_source(unit, source)  # the tree is freed when this returns, before GC resumes
    return unit


def _lower_source(unit: Unit, source: str) -> None:
    tree = parse(source)  # a file that is not Python is reported even when it has no Keras
    if mentions_keras((source,)):
        lower(unit, [(None, tree)])


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


def read_bytes(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FrontendError(f"cannot read: {exc.strerror or exc}") from None


def analyze_file(path: pathlib.Path, display: str) -> Unit:
    """Facts of one `.py` file; `display` is the path as the user gave it."""
    return analyze_source(decode(read_bytes(path)), display)

