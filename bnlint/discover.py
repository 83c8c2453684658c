"""Find the inputs under the paths given on the command line and tell what kind each one is.

Excludes follow ruff: a pattern without a slash (`.venv`, `*_old.py`) matches a file or folder
of that name anywhere; a pattern with one (`src/legacy`, `notebooks/*.ipynb`) is relative to the
project root (the configuration's folder). Folders are walked without the files `.gitignore`
ignores; a path named on the command line is always checked unless `force_exclude` is set
(then the exclude patterns apply to it too, as under pre-commit). The pattern semantics are
gitignore's, from `pathspec`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pathspec

from bnlint import safe_io
from bnlint.findings import InputError
from bnlint.frontends.models.tf_savedmodel import is_savedmodel_dir  # the reader's own test, so both agree
from bnlint.vocabulary import SUFFIX_FORMATS

# Directories no one wants linted: VCS data, virtualenvs, caches, build output.
DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "__pycache__", "node_modules",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".bnlint_cache",
    ".ipynb_checkpoints", "site-packages", "build", "dist", ".eggs", "*.egg-info",
)
# Files of a SavedModel folder that stand for the folder when named on their own: pre-commit
# passes changed files, never folders.
SAVEDMODEL_FILES = ("saved_model.pb", "keras_metadata.pb", "saved_model.pbtxt")


@dataclass(frozen=True)
class Input:
    path: Path  # where to read it
    display: str  # how to name it in output: as given on the command line, joined with what was found
    kind: str  # script | notebook | keras | h5 | savedmodel


@lru_cache(maxsize=4096)
def repository_root(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` that holds `.git` (a directory, or a worktree's file)."""
    for directory in (folder, *folder.parents):
        if (directory / ".git").exists():
            return directory
    return None


def real_path(path: str | os.PathLike) -> Path:
    """The absolute path with symlinks resolved; unlike Path.resolve() it never raises (symlink loops)."""
    return Path(os.path.realpath(path))


def project_path(path: Path, resolved: Path) -> str:
    """`path` (already `resolved`) relative to its repository as a POSIX path; outside a
    repository, the normalised path as given."""
    root = repository_root(resolved.parent)
    return (resolved.relative_to(root) if root else Path(os.path.normpath(path))).as_posix()


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


class Excludes:
    """The exclude patterns, resolved against the project root."""

    def __init__(self, patterns: tuple[str, ...], root: Path) -> None:
        self.root = root
        self.spec = pathspec.GitIgnoreSpec.from_lines(patterns)
        # Outside the project only name patterns apply (`.venv` anywhere, never `src/old`).
        self.names = pathspec.GitIgnoreSpec.from_lines(p for p in patterns if "/" not in p.strip("/"))

    def match(self, path: Path, is_dir: bool) -> bool:
        """`path` is absolute (not resolved: a symlink is judged by where it is, not where it points)."""
        relative = _relative(path, self.root)
        suffix = "/" if is_dir else ""
        if relative is None:
            return self.names.match_file(path.name + suffix)
        return relative not in ("", ".") and self.spec.match_file(relative + suffix)

    def match_with_parents(self, path: Path, is_dir: bool) -> bool:
        """The path or any folder above it, up to the project root, is excluded (`--force-exclude`)."""
        if self.match(path, is_dir):
            return True
        return any(self.match(parent, True) for parent in path.parents if parent != self.root and self.root in parent.parents)


class GitIgnores:
    """What the `.gitignore` files (and `.git/info/exclude`) of the repositories being walked ignore."""

    def __init__(self) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        """The patterns of `folder`'s own .gitignore (plus .git/info/exclude at a repository root)."""
        if folder not in self._specs:
            lines: list[str] = []
            sources = [folder / ".gitignore"]
            if (folder / ".git").is_dir():
                sources.insert(0, folder / ".git" / "info" / "exclude")
            for source in sources:
                try:
                    lines += safe_io.read_text(source, limit=2**20).splitlines()
                except safe_io.UnreadableFile:
                    continue  # none there, or unreadable: nothing ignored by it
            self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        return self._specs[folder]

    def above(self, folder: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
        """The specs that apply inside `folder`: its own and its parents', up to the repository root."""
        root = repository_root(folder)
        if root is None:
            return []
        chain = [p for p in reversed((folder, *folder.parents)) if p == root or root in p.parents]
        return [(p, spec) for p in chain if (spec := self.spec(p)) is not None]


def _gitignored(specs: list[tuple[Path, pathspec.GitIgnoreSpec]], path: Path, is_dir: bool) -> bool:
    """Deeper .gitignore files override shallower ones; within one, the last matching pattern decides."""
    decision = None
    for base, spec in specs:
        result = spec.check_file(path.relative_to(base).as_posix() + ("/" if is_dir else ""))
        if result.include is not None:
            decision = result.include
    return bool(decision)


@dataclass
class Discovery:
    inputs: list[Input] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)  # paths that cannot be used (exit status 2)
    skipped: list[InputError] = field(default_factory=list)  # entries passed over on purpose, one note each


def _display(display_root: str, relative: str) -> str:
    return relative if os.path.normpath(display_root) == "." else os.path.join(display_root, relative)


def _walk(root: Path, display_root: str, excludes: Excludes, gitignores: GitIgnores | None, found: Discovery) -> list[Input]:
    """Every input under `root`, depth first with an explicit stack (a tree 1,000 folders deep is fine)."""
    inputs: list[Input] = []
    absolute_root = Path(os.path.abspath(root))
    specs = gitignores.above(real_path(root)) if gitignores is not None else []
    # Real paths for gitignore matching (a repository is found through symlinks), absolute ones
    # for the exclude patterns.
    stack = [(root, absolute_root, real_path(root), "", specs)]
    while stack:
        folder, absolute, real, relative, specs = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            found.skipped.append(InputError(_display(display_root, relative or "."), f"skipped: cannot list the folder: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            kind = None if is_dir else SUFFIX_FORMATS.get(os.path.splitext(entry.name)[1].lower())
            if not is_dir and kind is None:
                continue  # most files of a repository: ruled out before any pattern is matched
            rel = f"{relative}/{entry.name}" if relative else entry.name
            here, there = folder / entry.name, absolute / entry.name
            if excludes.match(there, is_dir) or (specs and _gitignored(specs, real / entry.name, is_dir)):
                continue
            if is_dir:
                if is_savedmodel_dir(here):
                    inputs.append(Input(here, _display(display_root, rel), "savedmodel"))
                elif not entry.is_symlink():  # never followed: a link to `..` would loop
                    own = gitignores.spec(real / entry.name) if gitignores is not None else None
                    subfolders.append((here, there, real / entry.name, rel, specs + [(real / entry.name, own)] if own else specs))
                continue
            try:
                if not entry.is_file():  # (the listing already knows: no system call for a plain file)
                    safe_io.check_regular(here)  # a FIFO named x.py would block the read forever
            except (safe_io.UnreadableFile, OSError) as exc:
                found.skipped.append(InputError(_display(display_root, rel), f"skipped: {exc}"))
                continue
            inputs.append(Input(here, _display(display_root, rel), kind))
        stack.extend(reversed(subfolders))
    return inputs


def _given_file(given: str, path: Path, excludes: Excludes | None, found: Discovery) -> None:
    name = path.name
    if name in SAVEDMODEL_FILES and is_savedmodel_dir(path.parent):
        # `export/saved_model.pb` from pre-commit stands for the SavedModel folder `export`.
        folder = os.path.dirname(given) or "."
        if excludes is None or not excludes.match_with_parents(Path(os.path.abspath(folder)), True):
            found.inputs.append(Input(Path(folder), folder, "savedmodel"))
        return
    if excludes is not None and excludes.match_with_parents(Path(os.path.abspath(given)), False):
        return
    kind = SUFFIX_FORMATS.get(path.suffix.lower())
    if kind is None:
        found.errors.append(InputError(given, "not a Python script, notebook or Keras model (.py, .ipynb, .keras, .h5, .hdf5, SavedModel directory)"))
    else:
        found.inputs.append(Input(path, given, kind))


def discover(paths: list[str], patterns: tuple[str, ...] = (), *, root: Path | None = None,
             respect_gitignore: bool = False, force_exclude: bool = False) -> Discovery:
    """Inputs in a stable order, one error per path that cannot be used, one note per entry skipped.

    `root` is what patterns with a slash are relative to (default: the current directory)."""
    found = Discovery()
    excludes = Excludes(patterns, Path(os.path.abspath(root or ".")))
    gitignores = GitIgnores() if respect_gitignore else None
    forced = excludes if force_exclude else None
    for given in paths:
        path = Path(given)
        try:
            is_dir, is_file = path.is_dir(), safe_io.is_regular(path)
        except OSError:  # a name too long, say
            is_dir = is_file = False
        if is_dir:
            if forced is not None and forced.match_with_parents(Path(os.path.abspath(given)), True):
                continue
            if is_savedmodel_dir(path):
                found.inputs.append(Input(path, given, "savedmodel"))
            else:
                found.inputs.extend(sorted(_walk(path, given, excludes, gitignores, found), key=lambda i: i.display))
        elif is_file:
            # A file named explicitly is checked even inside an excluded folder, as ruff does.
            _given_file(given, path, forced, found)
        elif os.path.lexists(given):
            try:
                safe_io.check_regular(given)
                reason = "not a regular file or directory"
            except safe_io.UnreadableFile as exc:
                reason = str(exc)
            found.errors.append(InputError(given, reason))
        else:
            found.errors.append(InputError(given, "no such file or directory"))
    found.inputs = list(dict.fromkeys(found.inputs))
    return found
