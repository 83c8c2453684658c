"""The editor's settings for bnlint (`initializationOptions`, `workspace/didChangeConfiguration`).

    {"select": ["BN001"], "ignore": ["BN005"], "targetRuntime": "keras2",
     "configuration": "lint/bnlint.yaml", "debounce": 150}

Keys may be spelled as in the configuration file (`target-runtime`) or in camel case
(`targetRuntime`), at the top level or inside a `bnlint` object (what most clients send for
`workspace/didChangeConfiguration`). They apply on top of the configuration found next to each
file, as the same command-line options would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bnlint.vocabulary import RUNTIMES

# Milliseconds between the last keystroke and the check: typing never queues checks.
DEFAULT_DEBOUNCE_MS = 100.0
MAX_DEBOUNCE_MS = 10_000.0


@dataclass(frozen=True)
class ServerSettings:
    """What the editor asked for; None: as the configuration file says."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    target_runtime: str | None = None
    preview: bool | None = None
    configuration: Path | None = None  # a configuration file instead of the one found near each file
    debounce: float = DEFAULT_DEBOUNCE_MS / 1000  # seconds

    def overrides(self) -> dict:
        """Keyword arguments for `bnlint.api.settings_for`, as the command line passes them."""
        return {"select": self.select, "extend_select": self.extend_select, "ignore": self.ignore,
                "target_runtime": self.target_runtime, "preview": self.preview}


def _key(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def _codes(value, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"`{name}` must be a list of rule ids or prefixes")
    return tuple(c.strip().upper() for c in value if c.strip())


def read(options: object, root: Path | None = None) -> tuple[ServerSettings, list[str]]:
    """The settings in `options` (a relative `configuration` path is taken from `root`), and one
    line for each value that was not understood (it is left at its default)."""
    if isinstance(options, dict) and isinstance(options.get("bnlint"), dict):
        options = options["bnlint"]
    if options is None:
        return ServerSettings(), []
    if not isinstance(options, dict):
        return ServerSettings(), ["bnlint settings must be an object"]
    values: dict = {}
    problems: list[str] = []
    for name, value in options.items():
        key = _key(str(name))
        try:
            if value is None:
                continue
            if key in ("select", "extendselect", "ignore"):
                values[{"extendselect": "extend_select"}.get(key, key)] = _codes(value, name)
            elif key == "targetruntime":
                if value not in RUNTIMES:
                    raise ValueError(f"`{name}` must be one of {', '.join(RUNTIMES)}")
                values["target_runtime"] = value
            elif key == "preview":
                if not isinstance(value, bool):
                    raise ValueError(f"`{name}` must be true or false")
                values["preview"] = value
            elif key in ("configuration", "config"):
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"`{name}` must be the path of a configuration file")
                path = Path(value).expanduser()
                values["configuration"] = path if path.is_absolute() or root is None else root / path
            elif key == "debounce":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or not 0 <= value <= MAX_DEBOUNCE_MS:
                    raise ValueError(f"`{name}` must be a number of milliseconds from 0 to {MAX_DEBOUNCE_MS:g}")
                values["debounce"] = value / 1000
            else:
                raise ValueError(f"unknown setting `{name}`")
        except ValueError as exc:
            problems.append(f"bnlint settings: {exc}; ignored")
    return ServerSettings(**values), problems
