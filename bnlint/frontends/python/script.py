"""The Python-script frontend: parse a script (never import or run it) and lower it to IR facts."""

from __future__ import annotations

import ast
import gc
import pathlib
from collections.abc import Iterable

from bnlint.frontends import FrontendError
from bnlint.frontends.python.imports import IMPORTS_KERAS
from bnlint.frontends.python.interpreter import Interpreter
from bnlint.frontends.python.recorder import FactRecorder
from bnlint.frontends.python.source import decode, parse, read_bytes, source_lines
from bnlint.ir import Unit
from bnlint.runtime import DEFAULT

# A module is one chunk; a notebook is one chunk per code cell: (cell index or None, tree).
Chunk = tuple[int | None, ast.Module]


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


def analyze_file(path: pathlib.Path, display: str) -> Unit:
    """Facts of one `.py` file; `display` is the path as the user gave it."""
    return analyze_source(decode(read_bytes(path)), display)

