"""Which runtime's semantics apply: legacy (Keras <= 2.3, TF1), keras2 (tf.keras 2.x, tf_keras), keras3."""

from __future__ import annotations

import codecs
import fnmatch
import os
import re
from functools import lru_cache
from pathlib import Path

from packaging.version import Version

from bnlint import safe_io
from bnlint.ir import Runtime

# What a script is assumed to target when its code says nothing (the frontends' mark; a scan then
# asks the pins, what a notebook ran, what is installed): TF >= 2.16 ships Keras 3.
DEFAULT = Runtime("keras3", "default (no pins or imports say otherwise)")
# What a scan assumes when nothing at all says: the latest.
LATEST = Runtime("keras3", "no pins, no Keras installed")


class Keras3RuledOut(Runtime):
    """What code says when it cannot run on Keras 3 (it calls `fit_generator()`, saves to a folder,
    its notebook kernel is Python 3.6) without saying which older Keras it needs: legacy or keras2.
    The project's pins choose between the two (`settle`); `target` is the choice without a pin."""


_LEADING_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def from_keras_version(version: str | None, source: str) -> Runtime:
    """The runtime a saved file was written by, from its recorded Keras version.

    Only the leading release number is read: tf.keras recorded "2.2.4-tf" (TF 1.13-2.1) and
    "2.3.0-tf" (TF 2.2-2.3); the latter already has keras2 semantics, standalone Keras 2.3 does not.
    """
    if version is None:
        return Runtime(DEFAULT.target, f"{source} not recorded, assuming keras3")
    release = _LEADING_RELEASE.match(str(version).strip())
    if release is None:
        return Runtime(DEFAULT.target, f"{source}: unreadable version {version!r}, assuming keras3")
    parsed = Version(release.group())
    if parsed.major >= 3:
        return Runtime("keras3", f"{source} {version}")
    if parsed < Version("2.3" if str(version).strip().endswith("-tf") else "2.4"):
        return Runtime("legacy", f"{source} {version}")
    return Runtime("keras2", f"{source} {version}")


# --- The project's pins -----------------------------------------------------------------

PIN_FILES = ("requirements.txt", "requirements-dev.txt", "requirements*.txt", "pyproject.toml", "setup.cfg", "environment.yml", "environment.yaml")
_PIN_PREFIXES = tuple(pattern.partition("*")[0] for pattern in PIN_FILES)
# Releases a pin is tested against: the newest one it admits decides the runtime.
_KERAS = [f"2.{m}.0" for m in range(0, 16)] + [f"3.{m}.0" for m in range(0, 16)]
_TENSORFLOW = [f"1.{m}.0" for m in range(0, 16)] + [f"2.{m}.0" for m in range(0, 22)]
_TF_NAMES = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel", "tf-nightly"}


def _newest_admitted(requirement, candidates: list[str], below: Version | None = None) -> Version | None:
    # The versions the pin names itself count too: `keras==2.2.4` admits none of the x.y.0 releases.
    named = [spec.version for spec in requirement.specifier if "*" not in spec.version]
    admitted = [Version(v) for v in candidates + named if requirement.specifier.contains(v, prereleases=False)]
    if below is not None:
        admitted = [v for v in admitted if v < below]
    return max(admitted) if admitted else None


_KERAS3 = Version("3")
_TF_KERAS3 = Version("2.16")  # the first TensorFlow whose tf.keras is Keras 3


def runtime_from_requirements(lines: list[str], source: str, keras3: bool = True) -> Runtime | None:
    """The runtime a list of requirement strings pins, if it pins keras or tensorflow. With
    `keras3=False` (the code cannot run on Keras 3) only the releases before Keras 3 count:
    `tensorflow>=2.0` then means 2.15 (keras2), and a pin that admits only Keras 3 says nothing."""
    from packaging.requirements import InvalidRequirement, Requirement

    keras = tensorflow = None
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith(("-", "git+", "http")):
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        name = req.name.lower().replace("_", "-")
        if name == "keras" and req.specifier:
            keras = (req, _newest_admitted(req, _KERAS, None if keras3 else _KERAS3))
        elif name in _TF_NAMES and req.specifier:
            tensorflow = (req, _newest_admitted(req, _TENSORFLOW, None if keras3 else _TF_KERAS3))
    if keras and keras[1]:
        req, version = keras
        target = "keras3" if version >= _KERAS3 else ("legacy" if version < Version("2.4") else "keras2")
        return Runtime(target, f"{source}: {req}")
    if tensorflow and tensorflow[1]:
        req, version = tensorflow
        target = "keras3" if version >= _TF_KERAS3 else ("legacy" if version < Version("2.2") else "keras2")
        return Runtime(target, f"{source}: {req}")
    return None


def _poetry_specifier(spec: str) -> str:
    """Poetry's `^2.12` (<3), `~2.12` (<2.13) and bare `2.12` as a PEP 440 specifier."""
    parts = spec[1:].split(".")
    if spec[0] == "^" and parts[0].isdigit():
        return f">={spec[1:]},<{int(parts[0]) + 1}"
    if spec[0] == "~" and len(parts) > 1 and parts[1].isdigit():
        return f">={spec[1:]},<{parts[0]}.{int(parts[1]) + 1}"
    return spec if spec[0] in "<>=!~" else f"=={spec}"


# A pin file is a few kilobytes; one larger than this is not a list of pins, and is not read.
PIN_FILE_LIMIT = 2**20
# The byte order marks a text file may start with, and the codec that reads it (and drops the
# mark). UTF-32 LE first: its mark starts with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> str:
    """A text file's content, in the encoding its byte order mark names, else UTF-8 (Windows'
    `conda env export > environment.yml` writes UTF-16). Raises UnicodeDecodeError."""
    encoding = next((codec for bom, codec in _BOMS if data.startswith(bom)), "utf-8")
    return data.decode(encoding)


def _pin_text(path: Path) -> str | None:
    """The text of one pin file: a regular file of at most PIN_FILE_LIMIT bytes, decoded by its
    byte order mark; None when it cannot be read or decoded (it then pins nothing, silently: a
    pin file is not an input of the scan)."""
    try:
        return decode_text(safe_io.read_bytes(path, PIN_FILE_LIMIT))
    except (safe_io.UnreadableFile, UnicodeDecodeError):
        return None


def _requirement_lines(path: Path) -> list[str]:
    """Requirement strings from one pin file; unreadable files say nothing."""
    text = _pin_text(path)
    if text is None:
        return []
    if path.suffix == ".txt":
        return text.splitlines()
    if path.name == "pyproject.toml":
        from bnlint.config import tomllib

        try:
            data = tomllib.loads(text)
            project = data.get("project", {})
            lines = list(project.get("dependencies", []))
            for extra in project.get("optional-dependencies", {}).values():
                lines += list(extra)
            poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
            for name, spec in poetry.items():
                spec = spec.get("version", "") if isinstance(spec, dict) else spec
                if isinstance(spec, str) and spec not in ("", "*"):
                    lines.append(name + _poetry_specifier(spec))
        except (tomllib.TOMLDecodeError, RecursionError, AttributeError, TypeError):
            return []  # not TOML, or tables where it has none (`tool = 1`): no pins from it
        return [line for line in lines if isinstance(line, str)]
    if path.name == "setup.cfg":
        import configparser

        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error:
            return []
        return parser.get("options", "install_requires", fallback="").splitlines()
    # environment.yml: conda specs ("tensorflow=2.12") and a nested pip list
    from bnlint import yaml_data

    try:
        data = yaml_data.load(text)
    except yaml_data.YAMLError:
        return []
    lines = []
    for dep in (data or {}).get("dependencies", []) if isinstance(data, dict) else []:
        if isinstance(dep, dict):
            lines += [str(d) for d in dep.get("pip", [])]
        elif isinstance(dep, str):
            name, _, version = dep.partition("=")
            lines.append(f"{name}=={version.lstrip('=')}" if version and version[0] not in "<>" else dep)
    return lines


@lru_cache(maxsize=4096)
def _pin_files(folder: Path) -> list[Path]:
    """The pin files in one folder (one directory listing, not a glob per pattern)."""
    try:
        # Only names a pattern can match are looked at further (a folder may hold thousands).
        names = sorted(entry.name for entry in os.scandir(folder) if entry.name.startswith(_PIN_PREFIXES) and entry.is_file())
    except OSError:
        return []
    found: list[Path] = []
    for pattern in PIN_FILES:
        found += [folder / n for n in names if fnmatch.fnmatch(n, pattern) and folder / n not in found]
    return found


@lru_cache(maxsize=1024)
def _pinned_by(pin_file: Path, keras3: bool) -> Runtime | None:
    """The runtime one pin file pins (read and parsed once, whichever folders below it ask)."""
    return runtime_from_requirements(_requirement_lines(pin_file), pin_file.name, keras3)


@lru_cache(maxsize=1024)
def from_pins(folder: Path, keras3: bool = True) -> Runtime | None:
    """The runtime pinned by the nearest pin files, from folder up to the repository root (with
    `keras3=False`, among the releases before Keras 3: see `runtime_from_requirements`)."""
    for directory in (folder, *folder.parents):
        for pin_file in _pin_files(directory):
            runtime = _pinned_by(pin_file, keras3)
            if runtime:
                return runtime
        if (directory / ".git").exists():
            break  # pins above the repository are not this project's
    return None


def forget_pins() -> None:
    """Read pin files afresh (a new scan in a long-lived process: an editor, the test suite)."""
    from_pins.cache_clear()
    _pinned_by.cache_clear()
    _pin_files.cache_clear()


def settle(runtime: Runtime, folder: Path, recorded: Runtime | None = None) -> Runtime:
    """A runtime the code decided, completed when the code only ruled Keras 3 out: by the pins
    above `folder` (the newest release they admit below Keras 3), else by the legacy or Keras 2
    run a notebook's outputs record, else by what is installed below Keras 3; both are named."""
    if not isinstance(runtime, Keras3RuledOut):
        return runtime
    chosen = from_pins(folder, keras3=False) or _older_keras(recorded) or from_installed(keras3=False)
    if chosen is None:
        return Runtime(runtime.target, runtime.source)
    return Runtime(chosen.target, f"{runtime.source}, {chosen.source}")


def resolve(code: Runtime, folder: Path, recorded: Runtime | None = None) -> Runtime:
    """The runtime a script or notebook targets, strongest evidence first:

    1. what its code (and the project modules it imports) can only run on (`settle`);
    2. the project's pins above `folder`: what the project installs now;
    3. `recorded`, what a notebook's stored outputs show it ran on (they may be older than the
       pins: a project that moved to Keras 3 still holds outputs of its Keras 2 days);
    4. the Keras installed where bnlint runs;
    5. else the latest, Keras 3.
    """
    if code != DEFAULT:
        return settle(code, folder, recorded)
    pinned = from_pins(folder)
    if pinned is not None:
        return pinned
    if recorded is not None:
        return settle(recorded, folder)  # no pins: what is installed below Keras 3 may still choose
    installed = from_installed()
    return Runtime(installed.target, f"no pins, {installed.source}") if installed else LATEST


def _older_keras(recorded: Runtime | None) -> Runtime | None:
    """`recorded` when it names legacy or keras2 itself: what settles code that rules Keras 3 out."""
    if recorded is None or recorded.target == "keras3" or isinstance(recorded, Keras3RuledOut):
        return None
    return recorded


def from_file(code: Runtime, recorded: Runtime | None) -> Runtime:
    """What a file alone says, without its project or the environment (a snippet checked as text):
    its code, else what its outputs record (which also settle code that only rules Keras 3 out)."""
    if code == DEFAULT:
        return recorded or code
    older = _older_keras(recorded) if isinstance(code, Keras3RuledOut) else None
    return Runtime(older.target, f"{code.source}, {older.source}") if older else code


# --- The environment bnlint runs in -------------------------------------------------------

_KERAS_DISTRIBUTIONS = ("keras",)
_TF_KERAS_DISTRIBUTIONS = ("tf-keras", "tf_keras")


@lru_cache(maxsize=1)
def installed_versions() -> dict[str, str]:
    """The Keras and TensorFlow distributions installed where bnlint runs, by name: read from
    their metadata (`importlib.metadata`, imported only when a file needs it: a project with pins
    never does), never imported themselves."""
    from importlib import metadata

    found = {}
    for name in (*_KERAS_DISTRIBUTIONS, *sorted(_TF_NAMES), *_TF_KERAS_DISTRIBUTIONS):
        try:
            found[name] = metadata.version(name)
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return found


@lru_cache(maxsize=2)
def from_installed(keras3: bool = True) -> Runtime | None:
    """The runtime installed where bnlint runs, when nothing in the project says: the installed
    keras decides, else tensorflow, as a pin of that version would (with `keras3=False`, only a
    release before Keras 3 counts). tf-keras with TF_USE_LEGACY_KERAS set makes tf.keras Keras 2."""
    versions = installed_versions()
    legacy_keras = os.environ.get("TF_USE_LEGACY_KERAS", "")
    tf_keras = next((name for name in _TF_KERAS_DISTRIBUTIONS if name in versions), None)
    if tf_keras is not None and legacy_keras in ("1", "true", "True"):
        return Runtime("keras2", f"tf-keras {versions[tf_keras]} installed, TF_USE_LEGACY_KERAS={legacy_keras}")
    for names in (_KERAS_DISTRIBUTIONS, sorted(_TF_NAMES)):
        for name in names:
            if name in versions:
                found = runtime_from_requirements([f"{name}=={versions[name]}"], "installed", keras3)
                if found is not None:
                    return Runtime(found.target, f"{name} {versions[name]} installed")
    return None


def forget_installed() -> None:
    """Look at the installed distributions afresh (a test that changes what is installed)."""
    from_installed.cache_clear()
    clear = getattr(installed_versions, "cache_clear", None)  # a test may have replaced it
    if clear is not None:
        clear()
