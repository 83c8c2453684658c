"""Settings: `[tool.bnlint]` in pyproject.toml or `.bnlint.yaml`, merged with command-line options."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from bnlint import yaml_data
from bnlint.errors import UsageError
from bnlint.vocabulary import RUNTIMES, SEVERITY_ORDER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

class ConfigError(UsageError):
    """Unusable configuration: a usage error (exit status 2)."""


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
    cache_dir: Path = Path(".bnlint_cache")
    fail_on: str = "info"  # the lowest severity that makes the exit status 1
    source: Path | None = None  # the file these settings came from

    def merged(self, **overrides) -> Settings:
        """These settings with the non-None command-line values on top."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _as_tuple(value, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"`{key}` must be a list of strings")


def parse(data: dict, source: Path) -> Settings:
    known = {f.name.replace("_", "-") for f in fields(Settings)} - {"source"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values: dict = {"source": source}
    base = source.parent
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in ("select", "extend_select", "ignore", "exclude", "extend_exclude"):
            values[name] = _as_tuple(value, key)
        elif name == "per_file_ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: `per-file-ignores` maps glob patterns to rule ids")
            values[name] = {str(glob): _as_tuple(ids, key) for glob, ids in value.items()}
        elif name == "target_runtime":
            if value not in RUNTIMES:
                raise ConfigError(f"{source}: `target-runtime` must be one of {', '.join(RUNTIMES)}")
            values[name] = value
        elif name == "rules_dirs":
            values[name] = tuple(base / d for d in _as_tuple(value, key))
        elif name in ("cache_dir", "sample"):
            values[name] = base / str(value)
        elif name in ("confirm", "cache"):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: `{key}` must be true or false")
            values[name] = value
        elif name in ("confirm_timeout", "jobs"):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{source}: `{key}` must be a positive number")
            values[name] = int(value) if name == "jobs" else float(value)
        elif name == "fail_on":
            if value not in SEVERITY_ORDER:
                raise ConfigError(f"{source}: `fail-on` must be one of {', '.join(SEVERITY_ORDER)}")
            values[name] = value
    return Settings(**values)


def _read_pyproject(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    section = data.get("tool", {}).get("bnlint")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.bnlint] must be a table")
    return section


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml_data.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml_data.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
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
    found = find_config(first_path.resolve())
    return load_file(found) if found else Settings()
