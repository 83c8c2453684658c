"""Confirmations kept in the cache: a second run on an unchanged project starts no worker.

What a worker measures for one target is determined by what it is given and what it reads, so
each target's result is kept under a key (`bnlint.cache`) made of:

- the installation: bnlint's version, its code and its rules (`bnlint.installation`);
- the runtime that runs it: the worker's runtime (keras or tf_keras), the versions of the
  distributions it imports (read from their metadata, never imported), the Python version and
  the GPUs it may see;
- what the worker reads: the model file's content (every file of a SavedModel folder), or, for a
  replica, nothing but the target: the worker never opens the script, and the target holds all
  the script decided (architecture, literal arguments, composition, `training`, the compile/fit
  sequence), so an edit elsewhere in the script, or in its modules, reuses the result;
- the sample's content (or the synthetic batch), and `--unsafe-load-custom-code`;
- the target: the check and the layer path or replica it runs on.

Only `confirmed` and `refuted` are kept: they are the outcome of a check that ran. `unconfirmed`
(a timeout, a worker killed or unable to start, a model it could not load) may come out
differently next time, and is run again. Not kept at all: `--exec` runs (the script may read
anything) and models loaded with custom layers (their code lives in other files). An entry holds
no path: the runner fills in the finding's own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from bnlint import cache
from bnlint.typed_data import build

KIND = "confirm"
KEPT = ("confirmed", "refuted")
# What a worker may import, by distribution name: their versions are the runtime's identity.
RUNTIME_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel", "tf-keras", "keras",
                         "keras-hub", "keras-cv", "keras-nlp", "tensorflow-hub", "numpy", "h5py", "ml-dtypes")
_CHUNK = 2**20


@dataclass
class Kept:
    """One target's result as an entry holds it."""

    status: Literal["confirmed", "refuted"]
    runtime: str
    mode: Literal["active", "latent"] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    remedies: dict[str, bool] = field(default_factory=dict)
    measured: dict = field(default_factory=dict)


def _file_digest(path: str, digest) -> None:
    """Feed a regular file's bytes (never a FIFO or a device: they would block or never end)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        digest.update(b"not a regular file")
        return
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def content_digest(path: str) -> str:
    """The SHA-256 of a file, or of every file below a folder (names and contents); "" when unreadable."""
    digest = hashlib.sha256()
    try:
        if os.path.isdir(path):
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                for name in sorted(names):
                    file = os.path.join(folder, name)
                    relative = os.path.relpath(file, path).encode("utf-8", "surrogateescape")
                    digest.update(len(relative).to_bytes(8, "big") + relative)
                    _file_digest(file, digest)
        else:
            _file_digest(path, digest)
    except OSError:
        return ""
    return digest.hexdigest()


def _worker_path() -> list[str]:
    """Where the worker finds distributions: this interpreter's path without what isolated mode
    (`python -I`) leaves out: the current folder, PYTHONPATH and the user's site-packages."""
    import site

    try:
        cwd = os.getcwd()
    except OSError:  # the folder bnlint runs in was removed
        cwd = ""
    left_out = {"", cwd, *os.environ.get("PYTHONPATH", "").split(os.pathsep)}
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    return [p for p in sys.path if p not in left_out and p != user_site]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def runtime_versions() -> dict[str, str | None]:
    """The version of each runtime distribution the worker would import, None where absent: the
    first `*.dist-info` of that name on the worker's path, as the import system finds it, its
    version read from its METADATA (the distributions are never imported)."""
    wanted = {_normalized(name): name for name in RUNTIME_DISTRIBUTIONS}
    versions: dict[str, str | None] = dict.fromkeys(RUNTIME_DISTRIBUTIONS)
    for entry in _worker_path():
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        for folder in names:
            if not folder.endswith(".dist-info"):
                continue
            name = wanted.get(_normalized(folder[: -len(".dist-info")].split("-")[0]))
            if name is not None and versions[name] is None:
                versions[name] = _metadata_version(os.path.join(entry, folder)) or folder.split("-")[1].removesuffix(".dist-info")
    return versions


def _metadata_version(folder: str) -> str | None:
    try:
        with open(os.path.join(folder, "METADATA"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Version:"):
                    return line.partition(":")[2].strip()
                if not line.strip():
                    break  # the headers end at the first empty line
    except OSError:
        pass
    return None


class Memory:
    """The cache's confirmations, for one run of the confirmer."""

    def __init__(self, store: cache.Cache, installation: str, sample: str | None) -> None:
        self.store = store
        sample_digest = content_digest(sample) if sample else "synthetic"
        self.common = json.dumps({"installation": installation, "runtime": runtime_versions(),
                                  "python": sys.version, "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                  "sample": sample_digest}, sort_keys=True)
        self._contexts: dict[int, str | None] = {}

    def _context(self, payload: dict) -> str | None:
        """What the results of this job depend on besides each target; None: not kept."""
        key = id(payload)
        if key not in self._contexts:
            self._contexts[key] = _context(payload, self.common)
        return self._contexts[key]

    def _key(self, context: str, target: dict) -> str:
        return cache.key(KIND, context, json.dumps(target, sort_keys=True, default=str))

    def recall(self, payload: dict) -> dict[str, dict]:
        """The kept results of this job's targets, by target id; those targets leave `payload["targets"]`."""
        context = self._context(payload)
        if context is None:
            return {}
        recalled, pending = {}, []
        for target in payload["targets"]:
            kept = _read(self.store.load(KIND, self._key(context, target)))
            if kept is None:
                pending.append(target)
            else:
                recalled[target["id"]] = asdict(kept)
        payload["targets"] = pending
        return recalled

    def remember(self, payload: dict, outcome: dict) -> None:
        """Keep each result of `outcome` (a worker's reply to `payload`) that is safe to keep."""
        context = self._context(payload)
        results, runtime = outcome.get("results"), outcome.get("runtime")
        if context is None or not isinstance(results, dict) or not isinstance(runtime, str):
            return
        if payload.get("source") == "model" and _context(payload, self.common) != context:
            return  # the model changed while the worker ran: what it measured is not this key's
        for target in payload["targets"]:
            fields = results.get(target["id"])
            if not isinstance(fields, dict) or fields.get("status") not in KEPT:
                continue
            measured = dict(fields.get("measured") or {})
            if "path" in measured:
                measured["path"] = None  # the runner puts the finding's own path here
            try:
                kept = build(Kept, {**{k: v for k, v in fields.items() if k in Kept.__dataclass_fields__},
                                    "runtime": runtime, "measured": measured})
            except (TypeError, RecursionError):
                continue
            self.store.store(KIND, self._key(context, target), json.dumps(asdict(kept), ensure_ascii=True).encode())


def _context(payload: dict, common: str) -> str | None:
    source = payload.get("source")
    if payload.get("task") != "confirm" or source not in ("model", "reproduce") or payload.get("custom"):
        return None
    what: dict = {"source": source, "runtime": payload.get("runtime"), "allow_unsafe": bool(payload.get("allow_unsafe"))}
    if source == "model":
        path = str(payload["path"])
        digest = content_digest(path)
        if not digest:
            return None
        # Its name appears in the reason ("loaded finetune.keras with keras ...").
        what |= {"model": digest, "name": Path(path).name}
    return json.dumps({"common": common, **what}, sort_keys=True)


def _read(payload: bytes | None) -> Kept | None:
    if payload is None:
        return None
    from bnlint import safe_io

    try:
        kept = build(Kept, safe_io.parse_json(payload, "cache entry"))
    except (safe_io.UnreadableFile, TypeError, ValueError, RecursionError):
        return None
    if kept.measured.get("path") is not None:
        return None  # an entry holds no path
    return kept


def open_memory(cache_dir: Path, rules_dirs: tuple[Path, ...], sample: str | None) -> tuple[Memory | None, str | None]:
    """The confirmations kept in `cache_dir`, or None and a note saying why the cache is not used."""
    from bnlint.installation import installation_digest

    store, note = cache.open_cache(cache_dir)
    if store is None:
        return None, note
    return Memory(store, installation_digest(rules_dirs), sample), None
