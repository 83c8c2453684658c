"""Find the inputs under the paths given on the command line and tell what kind each one is."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bnlint.findings import InputError
from bnlint.frontends.models.tf_savedmodel import is_savedmodel_dir  # the reader's own test, so both agree
from bnlint.vocabulary import SUFFIX_FORMATS

# Directories no one wants linted: VCS data, virtualenvs, caches, build output.
DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "__pycache__", "node_modules",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".bnlint_cache",
    ".ipynb_checkpoints", "site-packages", "build", "dist", ".eggs", "*.egg-info",
)



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


def project_path(path: Path, resolved: Path) -> str:
    """`path` (already `resolved`) relative to its repository as a POSIX path; outside a
    repository, the normalised path as given."""
    root = repository_root(resolved.parent)
    return (resolved.relative_to(root) if root else Path(os.path.normpath(path))).as_posix()


def exclusion_matcher(patterns: tuple[str, ...]) -> Callable[[str, str], bool]:
    """One compiled regex for all patterns: a pattern matches a file or folder by its name, its path
    relative to the scanned folder, or as a folder prefix of that path."""
    if not patterns:
        return lambda relative, name: False
    translated = [fnmatch.translate(p) for p in patterns]
    translated += [fnmatch.translate(p.rstrip("/") + "/*") for p in patterns]
    regex = re.compile("|".join(f"(?:{t})" for t in translated))
    return lambda relative, name: bool(regex.match(name) or regex.match(relative))


def _display(display_root: str, relative: str) -> str:
    return relative if os.path.normpath(display_root) == "." else os.path.join(display_root, relative)


def _walk(root: Path, display_root: str, excluded: Callable[[str, str], bool]) -> Iterator[Input]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        rel_here = os.path.relpath(folder, root)
        kept = []
        for d in sorted(dirs):
            rel = os.path.normpath(os.path.join(rel_here, d))
            if excluded(rel, d):
                continue
            if is_savedmodel_dir(here / d):
                yield Input(here / d, _display(display_root, rel), "savedmodel")
                continue
            kept.append(d)
        dirs[:] = kept  # prune in place so os.walk does not descend into excluded folders
        for name in sorted(files):
            kind = SUFFIX_FORMATS.get(os.path.splitext(name)[1].lower())
            rel = os.path.normpath(os.path.join(rel_here, name))
            if kind and not excluded(rel, name):
                yield Input(here / name, _display(display_root, rel), kind)


def discover(paths: list[str], patterns: tuple[str, ...]) -> tuple[list[Input], list[InputError]]:
    """Inputs in a stable order, and one error per path that cannot be used."""
    inputs: list[Input] = []
    errors: list[InputError] = []
    excluded = exclusion_matcher(patterns)
    for given in paths:
        path = Path(given)
        if path.is_dir():
            if is_savedmodel_dir(path):
                inputs.append(Input(path, given, "savedmodel"))
            else:
                inputs.extend(sorted(_walk(path, given, excluded), key=lambda i: i.display))
        elif path.is_file():
            # A file named explicitly is checked even inside an excluded folder, as ruff does.
            kind = SUFFIX_FORMATS.get(path.suffix.lower())
            if kind is None:
                errors.append(InputError(given, "not a Python script, notebook or Keras model (.py, .ipynb, .keras, .h5, .hdf5, SavedModel directory)"))
            else:
                inputs.append(Input(path, given, kind))
        elif path.exists() or path.is_symlink():
            errors.append(InputError(given, "not a regular file or directory"))
        else:
            errors.append(InputError(given, "no such file or directory"))
    unique = list(dict.fromkeys(inputs))
    return unique, errors
