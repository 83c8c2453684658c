"""The Python-script frontend: parse a script (never import or run it) and lower it to IR facts."""

from __future__ import annotations

import ast
import gc
import pathlib

from bnlint.frontends import FrontendError
from bnlint.frontends.python.interpreter import Interpreter
from bnlint.frontends.python.project import ModuleSource, Project
from bnlint.frontends.python.recorder import FactRecorder
from bnlint.frontends.python.source import check_parse_size, decode, mentions_keras, parse, read_bytes, source_lines
from bnlint.ir import Unit
from bnlint.runtime import DEFAULT

# A module is one chunk; a notebook is one chunk per code cell: (cell index or None, tree).
Chunk = tuple[int | None, ast.Module]


def lower(unit: Unit, chunks: list[Chunk], evidence: dict[str, str] | None = None,
          file: pathlib.Path | None = None, project: Project | None = None) -> Unit:
    """Interpret the chunks as one program, filling `unit` with facts and its runtime. With a
    `project`, the project's own modules the code imports (from `file`) are read too."""
    recorder = FactRecorder(unit)
    interpreter = Interpreter(recorder, ModuleSource(None, unit.sources, file), project)
    if evidence:
        interpreter.evidence.update(evidence)
    try:
        for cell, tree in chunks:
            interpreter.run_module(tree.body, cell)
        interpreter.run_orphans()
    except RecursionError:
        raise FrontendError("too deeply nested to analyse") from None
    except FrontendError:
        raise  # too complex to analyse: already one line
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not become the user's traceback
        detail = (str(exc).splitlines() or [""])[0]
        raise FrontendError(f"internal error in the script analysis ({type(exc).__name__}: {detail}); please report it") from None
    finally:
        interpreter.release()
    recorder.finish()
    unit.runtime = interpreter.runtime()
    return unit


def worth_interpreting(text: str, file: pathlib.Path | None, project: Project | None, unit: Unit) -> bool:
    """Whether a scan's rules can find anything here, in this code or through the project
    modules it imports (`Project.worth_reading`); outside a scan (no project: an editor's buffer,
    a rule example) every file that mentions Keras is read."""
    if project is None or file is None:
        return mentions_keras((text,))
    return project.worth_reading(file, text, unit.consulted)


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


def analyze_source(source: str, path: str, file: pathlib.Path | None = None, project: Project | None = None) -> Unit:
    """Facts of one script's source text. Raises FrontendError for a syntax error.

    A file that mentions no Keras-family import is not even parsed: nothing in it can be a finding,
    and its syntax is someone else's business. In a scan (with a `project`), neither is one in
    which the selected rules' prefilters find nothing (`worth_interpreting`)."""
    unit = Unit(path=path, kind="script", runtime=DEFAULT)
    if worth_interpreting(source, file, project, unit):
        check_parse_size(len(source))
        unit.sources[None] = source_lines(source)
        with gc_paused():
            lower(unit, [(None, parse(source))], file=file, project=project)  # the tree is freed before GC resumes
    return unit


def analyze_file(path: pathlib.Path, display: str, project: Project | None = None, data: bytes | None = None,
                 resolved: pathlib.Path | None = None) -> Unit:
    """Facts of one `.py` file; `display` is the path as the user gave it; `data` its bytes and
    `resolved` its real path, when the caller has them already."""
    return analyze_source(decode(read_bytes(path) if data is None else data), display, resolved or path.resolve(), project)

