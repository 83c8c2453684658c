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
from dataclasses import dataclass
from pathlib import Path

from bnlint.frontends import FrontendError
from bnlint.frontends.python.source import decode, parse, source_lines
from bnlint.safe_io import UnreadableFile, read_bytes

MODULE_LIMIT = 2 * 2**20  # bytes: larger files are data or generated code, not a model builder
MAX_SEARCH_DEPTH = 8  # folders above the importer searched for an absolute import's first part


@dataclass(frozen=True)
class ModuleSource:
    """One module's text as the interpreter reads it."""

    path: str | None  # how findings name it (relative like the importer's path); None: the unit itself
    lines: dict[int | None, list[str]]  # by notebook cell; a module has only None
    file: Path | None  # resolved path, where its own relative imports start; None: no file (stdin)
    tree: ast.Module | None = None


class Project:
    """The modules of one project, below `root`, parsed at most once each."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._parsed: dict[Path, tuple[tuple[int, int], tuple[str, ast.Module] | None]] = {}

    def resolve(self, importer: Path, module: str, level: int) -> Path | None:
        """The file that `import module` (or `from .module`, `level` dots) means in `importer`."""
        parts = [p for p in module.split(".") if p]
        if level:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            return self._module_file(base, parts) if self._inside(base) else None
        if not parts:
            return None
        folder = importer.parent
        for _ in range(MAX_SEARCH_DEPTH):
            if not self._inside(folder):
                break
            found = self._module_file(folder, parts)
            if found is not None:
                return found
            if folder == self.root:
                break
            folder = folder.parent
        return None

    def _inside(self, folder: Path) -> bool:
        return folder == self.root or self.root in folder.parents

    @staticmethod
    def _module_file(base: Path, parts: list[str]) -> Path | None:
        target = base.joinpath(*parts) if parts else base
        for candidate in (target.with_suffix(".py") if parts else None, target / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate.resolve()
        return None

    def load(self, file: Path) -> tuple[str, ast.Module] | None:
        """(text, tree) of a project module, or None when it cannot be read; parsed again only
        when the file changed since (a long-lived process: an editor, the test suite)."""
        try:
            stat = file.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return None
        cached = self._parsed.get(file)
        if cached is None or cached[0] != version:
            cached = self._parsed[file] = (version, self._read(file))
        return cached[1]

    @staticmethod
    def _read(file: Path) -> tuple[str, ast.Module] | None:
        try:
            text = decode(read_bytes(file, MODULE_LIMIT))
        except (UnreadableFile, FrontendError):
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
