"""A script's or notebook's static result as a cache entry: pure data about the file it is keyed by.

An entry never says where a file is. Its findings carry no path and no source: the scan that
reads the entry gives them the path it was given and the file it resolved. A finding (or a place
related to it) in a project module the script imports names that module by its number in the
entry's dependency list, and a dependency is a path relative to the script's folder with the
SHA-256 of the content it had. The scan uses an entry only when every dependency is a regular
file inside the script's project that still has that content, and when every field of every
finding has the type and the value the rules allow; anything else is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

from bnlint import safe_io
from bnlint.findings import Confirmation, Finding, InputError, Related, Source
from bnlint.fix import fixer_for
from bnlint.ir import Runtime
from bnlint.typed_data import build
from bnlint.vocabulary import RUNTIMES

KIND = "scan"
# What a finding is rebuilt from. `path`, `source` and `confirmation` are not stored: the first
# two come from the scan, the last from the confirmer.
_NOT_STORED = ("path", "source", "confirmation")
_RELATED_NOT_STORED = ("path",)
DEPENDENCY_LIMIT = 64 * 2**20


def digest(file: str) -> str:
    """The SHA-256 of a project module's content; "" when it is not a readable regular file."""
    try:
        return hashlib.sha256(safe_io.read_bytes(file, DEPENDENCY_LIMIT)).hexdigest()
    except safe_io.UnreadableFile:
        return ""


def unlinked_digest(file: str) -> str | None:
    """`digest(file)` when `file` is reached without a symlink on the way (it is its own real
    path), else None: what a dependency an entry names must be."""
    return digest(file) if os.path.realpath(file) == file else None


@dataclass
class Place:
    """Where the scan found the keyed file: what an entry is read against. The project root and
    the path inside the repository are worked out only when an entry needs them (most hold no
    finding and no dependency)."""

    display: str  # the path as the user gave it
    file: Path  # resolved
    kind: str  # script or notebook
    find_root: Callable[[], Path]  # the resolved project root: dependencies must lie inside it
    find_project_path: Callable[[], str]  # its path inside the repository (fingerprints)

    @cached_property
    def root(self) -> Path:
        return self.find_root()

    @cached_property
    def project_path(self) -> str:
        return self.find_project_path()

    def inside(self, file: str) -> bool:
        return file.startswith(str(self.root) + os.sep)

    def module_display(self, relative: str) -> str:
        """How the scan names a project module `relative` to the script's folder (as `Project.source` does)."""
        return os.path.normpath(os.path.join(os.path.dirname(self.display), relative))


def encode(findings: list[Finding], errors: list[InputError], files: dict[str, str], consulted: Iterable[str],
           place: Place, runtime: Runtime | None, digest_of: Callable[[str], str] = digest) -> bytes | None:
    """The entry for this result, or None when it cannot be stored as pure data (a module outside
    the project, a path the scan could not name again the same way)."""
    own_folder = place.file.parent
    resolved = sorted({*files.values(), *consulted})
    if not all(place.inside(file) for file in resolved):
        return None
    relative = {file: Path(os.path.relpath(file, own_folder)).as_posix() for file in resolved}
    number = {file: index for index, file in enumerate(resolved, start=1)}

    def file_number(display: str) -> int | None:
        if display == place.display:
            return 0
        file = files.get(display)
        if file is None or place.module_display(relative[file]) != display:
            return None
        return number[file]

    stored = []
    for finding in findings:
        own = file_number(finding.path)
        if own is None:
            return None
        data = {k: v for k, v in asdict(finding).items() if k not in _NOT_STORED}
        related = []
        for item, item_data in zip(finding.related, data["related"]):
            where = own if item.path is None else file_number(item.path)  # None: the finding's own file
            if where is None:
                return None
            related.append({**{k: v for k, v in item_data.items() if k not in _RELATED_NOT_STORED}, "file": where})
        stored.append({**data, "related": related, "file": own})
    payload = {"deps": [[relative[file], digest_of(file)] for file in resolved], "findings": stored,
               "errors": [error.message for error in errors],
               "runtime": [runtime.target, runtime.source] if runtime is not None else None}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def decode(payload: bytes, place: Place, rules: dict, enabled: frozenset[str],
           digest_of: Callable[[str], str | None] = unlinked_digest) -> tuple[list[Finding], list[InputError], Runtime | None] | None:
    """The result an entry holds (findings, errors, the runtime the file was judged by), checked
    field by field and against the files it depends on; None: a miss."""
    try:
        data = safe_io.parse_json(payload, "cache entry")
        if not isinstance(data, dict) or data.keys() != {"deps", "findings", "errors", "runtime"}:
            return None
        modules = _dependencies(data["deps"], place, digest_of)
        if modules is None:
            return None
        findings = [_finding(item, place, modules, rules, enabled) for item in _list(data["findings"])]
        errors = [InputError(place.display, message) for message in _list(data["errors"]) if _text(message)]
        if len(errors) != len(data["errors"]) or any(f is None for f in findings):
            return None
        runtime = _runtime(data["runtime"])
    except (safe_io.UnreadableFile, TypeError, ValueError, KeyError, RecursionError):
        return None
    return findings, errors, runtime  # type: ignore[return-value]


def _runtime(value: object) -> Runtime | None:
    """The runtime the file was judged by: [target, source], or None (it could not be analysed)."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and value[0] in RUNTIMES and _text(value[1])):
        raise TypeError("malformed runtime")
    return Runtime(value[0], value[1])


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _text(value: object) -> bool:
    if not isinstance(value, str):
        raise TypeError("not text")
    return True


def _dependencies(deps: object, place: Place, digest_of: Callable[[str], str | None]) -> list[tuple[str, str]] | None:
    """(display, resolved file) of each dependency, if each is a regular file inside the project
    that still has the content the entry records; else None."""
    modules = []
    for item in _list(deps):
        if not (isinstance(item, list) and len(item) == 2 and _text(item[0]) and _text(item[1])):
            return None
        relative, sha = item
        if not relative or "\0" in relative or os.path.isabs(relative):
            return None
        joined = os.path.normpath(os.path.join(place.file.parent, relative))
        # The path the entry was written for, inside the project, with no symlink on the way.
        if not place.inside(joined) or digest_of(joined) != sha:
            return None
        modules.append((place.module_display(relative), joined))
    return modules


def _where(number: object, place: Place, modules: list[tuple[str, str]]) -> tuple[str, str]:
    """(display, resolved file) of file `number`: 0 is the keyed file, n the n-th dependency."""
    if type(number) is not int or not 0 <= number <= len(modules):
        raise TypeError("not a file of this entry")
    return (place.display, str(place.file)) if number == 0 else modules[number - 1]


def _finding(data: object, place: Place, modules: list[tuple[str, str]], rules: dict,
             enabled: frozenset[str]) -> Finding | None:
    if not isinstance(data, dict) or any(key in data for key in _NOT_STORED) or not isinstance(data.get("related"), list):
        return None
    display, file = _where(data.get("file"), place, modules)
    related = []
    for item in data["related"]:
        if not isinstance(item, dict) or any(key in item for key in _RELATED_NOT_STORED):
            return None
        item_display, _ = _where(item.get("file"), place, modules)
        fields = {k: v for k, v in item.items() if k != "file"}
        # A related place names its file only when it is not the finding's own.
        related.append(replace(build(Related, fields), path=None if item_display == display else item_display))
    fields = {k: v for k, v in data.items() if k not in ("file", "related")}
    finding = build(Finding, {**fields, "path": display})
    finding.related = tuple(related)
    finding.confirmation = Confirmation()
    finding.source = Source(file, _project_path(place, file))
    rule = rules.get(finding.rule)
    if (rule is None or finding.rule not in enabled or finding.name != rule.name or finding.input != place.kind
            or finding.fixer != fixer_for(rule.script_fixer, rule.model_fixer, finding.input, finding.runtime.target)
            or finding.suppression not in (None, "noqa")):
        return None
    finding.fingerprint(), finding.sort_key()  # everything computed from it later works now
    return finding


def _project_path(place: Place, file: str) -> str:
    from bnlint.discover import project_path

    return place.project_path if file == str(place.file) else project_path(Path(file), Path(file))
