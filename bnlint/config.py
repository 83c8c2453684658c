"""Settings: `[tool.bnlint]` in pyproject.toml or `.bnlint.yaml`, merged with command-line options."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bnlint import safe_io, yaml_data
from bnlint.errors import UsageError
from bnlint.vocabulary import RUNTIMES, SEVERITY_ORDER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(UsageError):
    """Unusable configuration: a usage error (exit status 2)."""


# Configuration files are small; a larger one is not a configuration file.
CONFIG_LIMIT = 4 * 2**20
DEFAULT_CACHE_DIR = Path(".bnlint_cache")


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a scan. Field names are the config keys with `-` as `_`."""

    select: tuple[str, ...] | None = None  # None: every rule enabled by default
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] | None = None  # None: the built-in excludes; set: replaces them
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    target_runtime: str | None = None
    rules_dirs: tuple[Path, ...] = ()
    confirm: bool | None = None  # None: confirm when TensorFlow is importable
    confirm_timeout: float = 120.0
    sample: Path | None = None
    jobs: int | None = None  # None: CPU count
    cache: bool = True
    cache_dir: Path = DEFAULT_CACHE_DIR
    fail_on: str = "warning"  # the lowest severity that makes the exit status 1 (info notes never fail a build)
    preview: bool = False  # enable preview rules (see bnlint.selection)
    respect_gitignore: bool = True  # skip what .gitignore files ignore while walking folders
    force_exclude: bool = False  # apply excludes to paths named on the command line too
    source: Path | None = None  # the file these settings came from
    notes: tuple[str, ...] = ()  # options the file sets that were not obeyed, one line each

    def merged(self, **overrides) -> Settings:
        """These settings with the non-None command-line values on top."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def project_root(self) -> Path:
        """What exclude and per-file-ignore patterns are relative to: the configuration's folder,
        else the current directory (ruff's project root)."""
        return Path(os.path.abspath(self.source.parent if self.source else "."))


_NOT_OPTIONS = {"source", "notes"}


def _strings(value, key: str, source: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{source}: `{key}` must be a list of strings")


def _positive(value, key: str, source: Path, integer: bool) -> float | int:
    # TOML and YAML both have inf and nan; neither is a number of seconds or of processes.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source}: `{key}` must be a positive {'whole ' if integer else ''}number")
    if integer:
        if value != int(value):
            raise ConfigError(f"{source}: `{key}` must be a positive whole number")
        return int(value)
    return float(value)


def _cache_dir(value, source: Path) -> tuple[Path | None, str | None]:
    """A configuration file may come with the code being checked, so it must not direct writes
    outside its own folder: only a relative path to a folder inside it is obeyed."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{source}: `cache-dir` must be a path")
    base = Path(os.path.realpath(source.parent))
    target = Path(os.path.realpath(base / value))
    if Path(value).is_absolute() or target == base or base not in target.parents:
        return None, (f"{source}: cache-dir {value!r} ignored: it must be a folder inside {base} "
                      f"(pass --cache-dir to put the cache elsewhere)")
    return base / value, None


def parse(data: dict, source: Path) -> Settings:
    known = {f.name.replace("_", "-") for f in fields(Settings)} - _NOT_OPTIONS
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values: dict = {"source": source}
    notes: list[str] = []
    base = source.parent
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in ("select", "extend_select", "ignore", "exclude", "extend_exclude"):
            values[name] = _strings(value, key, source)
        elif name == "per_file_ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: `per-file-ignores` maps glob patterns to rule ids")
            values[name] = {str(glob): _strings(ids, f"per-file-ignores.{glob}", source) for glob, ids in value.items()}
        elif name == "target_runtime":
            if value not in RUNTIMES:
                raise ConfigError(f"{source}: `target-runtime` must be one of {', '.join(RUNTIMES)}")
            values[name] = value
        elif name == "rules_dirs":
            values[name] = tuple(base / d for d in _strings(value, key, source))
        elif name == "cache_dir":
            cache_dir, note = _cache_dir(value, source)
            if cache_dir is not None:
                values[name] = cache_dir
            notes += [note] if note else []
        elif name == "sample":
            if not isinstance(value, str):
                raise ConfigError(f"{source}: `sample` must be a path")
            values[name] = base / value
        elif name in ("confirm", "cache", "preview", "respect_gitignore", "force_exclude"):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: `{key}` must be true or false")
            values[name] = value
        elif name in ("confirm_timeout", "jobs"):
            values[name] = _positive(value, key, source, integer=name == "jobs")
        elif name == "fail_on":
            if value not in SEVERITY_ORDER:
                raise ConfigError(f"{source}: `fail-on` must be one of {', '.join(SEVERITY_ORDER)}")
            values[name] = value
    return Settings(**values, notes=tuple(notes))


def _read(path: Path) -> str:
    try:
        return safe_io.read_text(path, limit=CONFIG_LIMIT)
    except safe_io.UnreadableFile as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _read_pyproject(path: Path) -> dict | None:
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    tool = data.get("tool")
    if tool is not None and not isinstance(tool, dict):
        # `tool = 1`: no tool can read its section from it (ruff and pip refuse it too).
        raise ConfigError(f"{path}: `tool` must be a table")
    section = (tool or {}).get("bnlint")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.bnlint] must be a table")
    return section


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml_data.load(_read(path))
    except yaml_data.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of options")
    return data


def load_file(path: Path) -> Settings:
    if path.name == "pyproject.toml" or path.suffix == ".toml":
        return parse(_read_pyproject(path) or {}, path)
    return parse(_read_yaml(path), path)


def find_config(start: Path) -> Path | None:
    """The nearest `.bnlint.yaml`, or `pyproject.toml` with a [tool.bnlint] table, from start upward."""
    directory = start if start.is_dir() else start.parent
    for folder in (directory, *directory.parents):
        candidate = folder / ".bnlint.yaml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _read_pyproject(pyproject) is not None:
            return pyproject
    return None


def discover_settings(explicit: Path | None, first_path: Path) -> Settings:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        return load_file(explicit)
    # realpath, not Path.resolve(): it does not raise on a symlink loop.
    found = find_config(Path(os.path.realpath(first_path)))
    return load_file(found) if found else Settings()
