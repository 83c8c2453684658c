"""The project around a script: find the project's own modules it imports, and parse each once.

`from models.backbone import build_backbone` or `from .base import BaseNet` names code in the same
repository: the interpreter reads it there (never imports it) so that builders, freeze helpers and
base classes defined in other modules are seen. Resolution is bounded: only regular files below the
project's root, of a bounded size; a module is parsed once per process and shared by every script
that imports it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from bnlint.frontends import FrontendError
from bnlint.frontends.python.source import decode, parse, search_order, source_lines
from bnlint.frontends.python.training import STEP_WORDS
from bnlint.safe_io import UnreadableFile, read_bytes

MODULE_LIMIT = 2 * 2**20  # bytes: larger files are data or generated code, not a model builder
MAX_SEARCH_DEPTH = 8  # folders above the importer searched for an absolute import's first part
MAX_RELEVANCE_MODULES = 64  # project modules whose text is searched to decide a file's relevance


@dataclass(frozen=True)
class ModuleSource:
    """One module's text as the interpreter reads it."""

    path: str | None  # how findings name it (relative like the importer's path); None: the unit itself
    lines: dict[int | None, list[str]]  # by notebook cell; a module has only None
    file: Path | None  # resolved path, where its own relative imports start; None: no file (stdin)
    tree: ast.Module | None = None

    @cached_property
    def may_train(self) -> bool:
        """Whether any of its code could be a custom training step: without these words, no
        function or loop needs to be searched for one (most of a library's modules)."""
        return any(word in line for lines in self.lines.values() for line in lines for word in STEP_WORDS)


# The word groups a scan's rules need, one set per rule (`Rule.prefilter`); None: read every file.
Prefilters = frozenset[frozenset[str]] | None


@dataclass(frozen=True)
class _TextSummary:
    """What a module's text says before any parsing: whether it imports Keras, the prefilter
    word groups it mentions, and the modules it imports."""

    keras: bool
    groups: frozenset[str]
    imports: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class _Reach:
    """What a module and the project modules it imports say together (`Project._reach_of`)."""

    keras: bool
    groups: frozenset[str]
    modules: frozenset[str]  # resolved paths: a cached verdict depends on them


def _summary(text: str) -> _TextSummary:
    from bnlint.frontends.python.source import imported_modules, mentions_keras, word_groups

    return _TextSummary(mentions_keras((text,)), word_groups(text), tuple(imported_modules(text)))


_T = TypeVar("_T")


def _while_unchanged(table: dict[Path, tuple[object, _T | None]], file: Path, version: object,
                     compute: Callable[[Path], _T | None]) -> _T | None:
    """`compute(file)`, remembered in `table` until the file's `version` (`Project._version`)
    changes (a long-lived process, an editor or the test suite, sees edits); None when it cannot
    be read."""
    if version is None:
        return None
    cached = table.get(file)
    if cached is None or cached[0] != version:
        cached = table[file] = (version, compute(file))
    return cached[1]


class Project:
    """The modules of one project, below `root`, parsed at most once each."""

    def __init__(self, root: Path, prefilters: Prefilters = None) -> None:
        self.root = root.resolve()
        # Each prefilter's groups in the order that rules a file out soonest (`search_order`).
        self.prefilters = None if prefilters is None else tuple(search_order(need) for need in prefilters)
        self._root_text = str(self.root)
        self._parsed: dict[Path, tuple[object, tuple[str, ast.Module] | None]] = {}
        self._resolved: dict[tuple[Path, str, int], Path | None] = {}
        self._groups: dict[Path, tuple[object, _TextSummary | None]] = {}
        # An editor's open buffers by resolved path: read instead of the files on disk (`bnlint
        # server`, `api.check_buffer`); set for one check at a time.
        self.buffers: Mapping[Path, str] = {}
        self._reach: dict[Path, _Reach] = {}
        self._listings: dict[str, frozenset[str]] = {}

    def resolve(self, importer: Path, module: str, level: int) -> Path | None:
        """The file that `import module` (or `from .module`, `level` dots) means in `importer`
        (remembered: every script of a project imports the same few modules)."""
        key = (importer.parent, module, level)
        if key not in self._resolved:
            found = self._resolve(os.path.dirname(str(importer)), module, level)
            self._resolved[key] = Path(found) if found is not None else None
        return self._resolved[key]

    # Paths are plain strings below: resolution runs for every import of every script, and most
    # imports (`import numpy`) are ruled out by one directory listing already read.
    def _resolve(self, folder: str, module: str, level: int) -> str | None:
        parts = [p for p in module.split(".") if p]
        if level:
            for _ in range(level - 1):
                folder = os.path.dirname(folder)
            return self._module_file(folder, parts) if self._inside(folder) else None
        if not parts:
            return None
        for _ in range(MAX_SEARCH_DEPTH):
            if not self._inside(folder):
                break
            found = self._module_file(folder, parts)
            if found is not None:
                return found
            if folder == self._root_text:
                break
            folder = os.path.dirname(folder)
        return None

    def _inside(self, folder: str) -> bool:
        return folder == self._root_text or folder.startswith(self._root_text + os.sep)

    def _module_file(self, base: str, parts: list[str]) -> str | None:
        # One directory listing per folder answers every import that starts there: most imports
        # (`import numpy`) name nothing in the project, and are ruled out without a system call.
        if parts:
            entries = self._entries(base)
            if parts[0] + ".py" not in entries and parts[0] not in entries:
                return None
        target = os.path.join(base, *parts)
        for candidate in (target + ".py" if parts else None, os.path.join(target, "__init__.py")):
            if candidate is not None and os.path.isfile(candidate):
                return os.path.realpath(candidate)
        return None

    def _entries(self, folder: str) -> frozenset[str]:
        entries = self._listings.get(folder)
        if entries is None:
            try:
                entries = frozenset(os.listdir(folder))
            except OSError:
                entries = frozenset()
            self._listings[folder] = entries
        return entries

    def worth_reading(self, file: Path, text: str, consulted: set[str] | None = None) -> bool:
        """Whether this code, with the project modules it imports (transitively, bounded), imports
        Keras and mentions a word of each group that some rule's prefilter lists
        (`prefilter.PREFILTER_WORDS`): else no rule can find anything in it and it is not
        interpreted. A driver script that only calls `helpers.train(...)` is read when its
        helpers freeze and train. A library's own package (`keras_hub` inside keras-hub) is read
        as Keras, not followed. The modules looked at are added to `consulted` (resolved paths):
        a cached verdict depends on them."""
        from bnlint.frontends.python.source import Mentions, imported_modules, mentions_keras

        prefilters = self.prefilters
        keras, own, groups = mentions_keras((text,)), Mentions(text), set[str]()

        def satisfied() -> bool:
            return keras and (prefilters is None or any(all(g in groups or g in own for g in need) for need in prefilters))

        if satisfied():
            return True
        # What each imported module reaches is worked out once per scan: the scripts of a
        # project import the same few modules.
        for found in self._imported(file, tuple(imported_modules(text))):
            reach = self._reach_of(found)
            keras, groups = keras or reach.keras, groups | reach.groups
            if consulted is not None:
                consulted.update(reach.modules)
            if satisfied():
                return True
        return False

    def forget_scan(self) -> None:
        """Forget what imported modules reach, and where imports lead: files may have changed,
        appeared or gone since the last scan."""
        self._reach.clear()
        self._resolved.clear()
        self._listings.clear()

    def _imported(self, importer: Path, imports: tuple[tuple[str, int], ...]) -> Iterator[Path]:
        """The project modules these imports name (a library's own package, `keras_hub` inside
        keras-hub, is read as Keras, not followed)."""
        from bnlint.frontends.python.imports import KERAS_FAMILY

        for module, level in imports:
            if not level and module.partition(".")[0] in KERAS_FAMILY:
                continue
            found = self.resolve(importer, module, level) if (module or level) else None
            if found is not None:
                yield found

    def _reach_of(self, module: Path) -> _Reach:
        """Whether `module` and the project modules it imports, transitively (at most
        MAX_RELEVANCE_MODULES of them), import Keras, and the word groups they mention."""
        if module not in self._reach:
            keras, groups, seen = False, set[str](), {module}
            pending = [module]
            while pending and len(seen) <= MAX_RELEVANCE_MODULES:
                importer = pending.pop()
                summary = self._summary(importer)
                if summary is None:
                    continue
                keras, groups = keras or summary.keras, groups | summary.groups
                for found in self._imported(importer, summary.imports):
                    if found not in seen:
                        seen.add(found)
                        pending.append(found)
            self._reach[module] = _Reach(keras, frozenset(groups), frozenset(str(m) for m in seen))
        return self._reach[module]

    def _summary(self, file: Path) -> _TextSummary | None:
        """What a project module's text says (`_summary`), read again when it changed."""
        return _while_unchanged(self._groups, file, self._version(file), self._read_summary)

    def _read_summary(self, file: Path) -> _TextSummary | None:
        text = self._text(file)
        return _summary(text) if text is not None else None

    def _version(self, file: Path) -> object:
        """What says a module changed: an open buffer's text, else the file's modification time
        and size; None when it cannot be read."""
        buffer = self.buffers.get(file)
        if buffer is not None:
            return buffer
        try:
            stat = file.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _text(self, file: Path) -> str | None:
        buffer = self.buffers.get(file)
        if buffer is not None:
            return buffer
        try:
            return decode(read_bytes(file, MODULE_LIMIT))
        except (UnreadableFile, FrontendError):
            return None

    def load(self, file: Path) -> tuple[str, ast.Module] | None:
        """(text, tree) of a project module, or None when it cannot be read; parsed again only
        when the file changed since."""
        return _while_unchanged(self._parsed, file, self._version(file), self._read)

    def _read(self, file: Path) -> tuple[str, ast.Module] | None:
        text = self._text(file)
        if text is None:
            return None  # its own scan reports it, if it is scanned
        try:
            return text, parse(text)
        except FrontendError:
            return None

    def source(self, file: Path, importer: ModuleSource, importer_display: str) -> ModuleSource | None:
        """The module at `file`, named relative to how the importer is named."""
        loaded = self.load(file)
        if loaded is None:
            return None
        text, tree = loaded
        origin = importer.file.parent if importer.file is not None else self.root
        relative = os.path.relpath(file, origin)
        display = os.path.normpath(os.path.join(os.path.dirname(importer_display), relative))
        return ModuleSource(display, {None: source_lines(text)}, file, tree)
