"""The static scan: discover inputs, lower each through its frontend, run the rules, collect a report."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bnlint import cache, safe_io
from bnlint.config import Settings
from bnlint.discover import DEFAULT_EXCLUDES, Input, discover, project_path
from bnlint.engine import run_rules
from bnlint.findings import Finding, InputError, Report, Source
from bnlint.frontends import FrontendError
from bnlint.ir import Runtime, Unit
from bnlint.rules import load_rules
from bnlint.runtime import DEFAULT, from_pins
from bnlint.selection import enabled_rules, file_filter

# Below this many inputs a process pool costs more than it saves.
PARALLEL_THRESHOLD = 64


def _read_unit(item: Input) -> Unit:
    """Dispatch to the frontend for this kind of input (imported lazily: each pulls its own deps)."""
    if item.kind == "script":
        from bnlint.frontends.python.script import analyze_file
    elif item.kind == "notebook":
        from bnlint.frontends.python.notebook import analyze_file
    else:
        from bnlint.frontends.models.reader import analyze_file
    return analyze_file(item.path, item.display)


def resolve_runtime(unit: Unit, folder: Path, settings: Settings) -> Runtime:
    """Configuration wins; then what the file itself records or imports; then the pins above `folder`."""
    if settings.target_runtime:
        where = f"configuration ({settings.source.name})" if settings.source else "--target-runtime"
        return Runtime(settings.target_runtime, where)  # type: ignore[arg-type]
    if unit.kind == "model" or unit.runtime != DEFAULT:
        return unit.runtime
    return from_pins(folder) or unit.runtime


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to analyse inputs on its own."""

    settings: Settings
    enabled: frozenset[str]
    rules_digest: str  # changes when any rule file changes: part of every cache key


def _cache_key(item: Input, content: bytes, job: _Job, runtime_hint: str) -> str:
    return cache.key(content, item.display, item.kind, job.rules_digest, ",".join(sorted(job.enabled)),
                     repr(sorted(job.settings.per_file_ignores.items())), runtime_hint)


def analyze_input(item: Input, job: _Job) -> tuple[list[Finding], list[InputError]]:
    settings = job.settings
    # Resolved once: where the confirmer and the autofixer find the file, and where pins are looked up.
    resolved = item.path.resolve()
    file = str(resolved)
    use_cache = settings.cache and item.kind in ("script", "notebook")
    if use_cache:
        try:
            content = safe_io.read_bytes(item.path)  # a FIFO or a device is refused, never read
        except safe_io.UnreadableFile as exc:
            return [], [InputError(item.display, str(exc))]
        # The pins near the file can change the runtime without the file changing.
        pinned = settings.target_runtime or repr(from_pins(resolved.parent))
        key = _cache_key(item, content, job, pinned)
        hit = cache.load(settings.cache_dir, key)
        if hit is not None:
            # The cached path may be another checkout's: the autofixer writes to this one.
            for finding in hit[0]:
                finding.source = Source(file, project_path(item.path, resolved))
            return hit
    try:
        unit = _read_unit(item)
    except FrontendError as exc:
        findings, errors = [], [InputError(item.display, str(exc))]
    except (OSError, MemoryError, RecursionError) as exc:
        findings, errors = [], [InputError(item.display, f"cannot read: {exc}")]
    else:
        unit.runtime = resolve_runtime(unit, resolved.parent, settings)
        rules = load_rules(settings.rules_dirs)
        per_file = file_filter(settings, item.display)
        findings = run_rules(unit, rules, lambda rule_id: rule_id in job.enabled and per_file(rule_id))
        errors = [InputError(item.display, problem) for problem in unit.problems]
    source = Source(file, project_path(item.path, resolved))
    for finding in findings:
        finding.source = source
    if use_cache:
        cache.store(settings.cache_dir, key, findings, errors)
    return findings, errors


def _analyze_chunk(items: list[Input], job: _Job) -> list[tuple[list[Finding], list[InputError]]]:
    return [analyze_input(item, job) for item in items]


def _pool_context():
    # fork starts workers in milliseconds and they inherit the loaded rules; elsewhere use the default.
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def scan(paths: list[str], settings: Settings) -> Report:
    rules = load_rules(settings.rules_dirs)
    digest = ",".join(f"{r.id}:{r.source}:{r.source.stat().st_mtime_ns}" for r in rules)
    job = _Job(settings, frozenset(enabled_rules(settings, rules)), digest)
    excludes = (settings.exclude if settings.exclude is not None else DEFAULT_EXCLUDES) + settings.extend_exclude
    inputs, errors = discover(paths, excludes)
    jobs = settings.jobs or os.cpu_count() or 1
    if jobs > 1 and len(inputs) >= PARALLEL_THRESHOLD:
        size = max(1, len(inputs) // (jobs * 4))
        chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
        from concurrent.futures import ProcessPoolExecutor  # only a large scan pays for the import

        with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
            results = [r for chunk in pool.map(_analyze_chunk, chunks, [job] * len(chunks)) for r in chunk]
    else:
        results = _analyze_chunk(inputs, job)
    report = Report(errors=list(errors), files_scanned=len(inputs))
    for findings, input_errors in results:
        report.findings.extend(findings)
        report.errors.extend(input_errors)
    report.findings.sort(key=Finding.sort_key)
    return report

