"""The static scan: discover inputs, lower each through its frontend, run the rules, collect a report."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bnlint import cache, safe_io, scan_cache
from bnlint.config import Settings
from bnlint.discover import DEFAULT_EXCLUDES, Input, discover, project_path, real_path, repository_root
from bnlint.engine import check_unit
from bnlint.findings import FileRuntime, Finding, InputError, Report, Source
from bnlint.frontends import FrontendError
from bnlint.frontends.python.source import READ_LIMIT
from bnlint.installation import installation_digest
from bnlint.ir import Runtime, Unit
from bnlint.not_models import lfs_pointer, skip_reason
from bnlint.notebook_lines import cell_line_map, file_line
from bnlint.rules import load_rules
from bnlint.runtime import forget_pins, from_installed, from_pins, resolve
from bnlint.selection import enabled_rules, file_filter, selection_notes
from bnlint.vocabulary import InputKind

# Below this many inputs a process pool costs more than it saves.
PARALLEL_THRESHOLD = 64


def _read_unit(item: Input, resolved: Path, job: _Job, data: bytes | None = None) -> Unit:
    """Dispatch to the frontend for this kind of input (imported lazily: each pulls its own deps)."""
    if item.kind == "script":
        from bnlint.frontends.python.script import analyze_file
    elif item.kind == "notebook":
        from bnlint.frontends.python.notebook import analyze_file
    else:
        from bnlint.frontends.models.reader import analyze_file

        return analyze_file(item.path, item.display)
    return analyze_file(item.path, item.display, _project_for(resolved, job.prefilters), data, resolved)


_PROJECTS: dict[tuple[Path, object], object] = {}
_CWD: list[Path] = []  # the folder bnlint runs in, read once per scan (each `Path.cwd()` is a system call)


def _cwd() -> Path:
    return _CWD[0] if _CWD else Path.cwd()


def _project_for(resolved: Path, prefilters):
    """The project a script belongs to: its repository, else the folder bnlint runs in (when the
    script is inside it), else its own folder. One per process and rule selection, so modules are
    parsed once."""
    from bnlint.frontends.python.project import Project

    root = _project_root(resolved)
    if (root, prefilters) not in _PROJECTS:
        _PROJECTS[root, prefilters] = Project(root, prefilters)
    return _PROJECTS[root, prefilters]


def _project_root(resolved: Path) -> Path:
    cwd = _cwd()
    return repository_root(resolved.parent) or (cwd if str(resolved).startswith(str(cwd) + os.sep) else resolved.parent)


# Project modules' content digests, once per scan (the scripts of a project share modules).
_DIGESTS: dict[str, str] = {}
_UNLINKED_DIGESTS: dict[str, str | None] = {}


def _digest(file: str) -> str:
    if file not in _DIGESTS:
        _DIGESTS[file] = scan_cache.digest(file)
    return _DIGESTS[file]


def _unlinked_digest(file: str) -> str | None:
    if file not in _UNLINKED_DIGESTS:
        _UNLINKED_DIGESTS[file] = _digest(file) if os.path.realpath(file) == file else None
    return _UNLINKED_DIGESTS[file]


def _sources(unit: Unit, item: Input, resolved: Path, findings: list[Finding]) -> None:
    """Where each finding's file is: the input itself, or a project module it imports."""
    own = Source(str(resolved), project_path(item.path, resolved))
    for finding in findings:
        other = unit.files.get(finding.path) if finding.path != item.display else None
        finding.source = own if other is None else Source(other, project_path(Path(other), Path(other)))


def resolve_runtime(unit: Unit, folder: Path, settings: Settings) -> Runtime:
    """Configuration wins; then the Keras version a saved file records; for scripts and notebooks,
    what their code says, the pins above `folder`, what a notebook's outputs show it ran on and
    what is installed, in that order (`runtime.resolve`)."""
    if settings.target_runtime:
        where = f"configuration ({settings.source.name})" if settings.source else "--target-runtime"
        return Runtime(settings.target_runtime, where)  # type: ignore[arg-type]
    if unit.kind == "model":
        return unit.runtime
    return resolve(unit.runtime, folder, unit.recorded)


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to analyse inputs on its own."""

    settings: Settings
    enabled: frozenset[str]
    installation: str  # bnlint's version, code and rules (`bnlint.installation`): part of every cache key
    # What a script must mention for the enabled rules to find anything (Project.worth_reading).
    prefilters: frozenset[frozenset[str]] | None = None
    cache: cache.Cache | None = None  # None: --no-cache, or a cache folder that is not used


def _cache_key(item: Input, content: bytes, job: _Job, runtime_hint: str) -> str:
    # The rules that apply to this file once per-file ignores are applied (they match its path).
    applied = sorted(job.enabled)
    if job.settings.per_file_ignores:
        applied = list(filter(_rule_filter(item, job), applied))
    return cache.key(scan_cache.KIND, job.installation, content, item.display, item.kind, ",".join(applied), runtime_hint)


# What the reader of each kind opens: each must be a regular file (a FIFO blocks a read forever).
_OPENED = {"savedmodel": ("saved_model.pb", "keras_metadata.pb")}


def _precheck(item: Input) -> None:
    """Raise UnreadableFile unless every file the frontend will open is a regular file."""
    if item.kind in _OPENED:
        for name in _OPENED[item.kind]:
            if os.path.lexists(item.path / name):
                try:
                    safe_io.check_regular(item.path / name)
                except safe_io.UnreadableFile as exc:
                    raise safe_io.UnreadableFile(f"{name}: {exc}") from None
    else:
        safe_io.check_regular(item.path)


def place_notebook_lines(findings: list[Finding], text: str) -> None:
    """Give notebook findings (and their related places) the line of the `.ipynb` file itself."""
    from dataclasses import replace

    lines = cell_line_map(text)
    for finding in findings:
        finding.file_line = file_line(lines, finding.cell, finding.line)
        finding.related = tuple(replace(r, file_line=file_line(lines, r.cell, r.line)) for r in finding.related)


def _rule_filter(item: Input, job: _Job):
    # Per-file ignores are globs over the path relative to the configuration's folder.
    absolute = Path(os.path.abspath(item.path))
    try:
        relative = absolute.relative_to(job.settings.project_root).as_posix()
    except ValueError:
        relative = Path(os.path.normpath(item.display)).as_posix()
    per_file = file_filter(job.settings, relative)
    return lambda rule_id: rule_id in job.enabled and per_file(rule_id)


def analyze_unit(unit: Unit, item: Input, job: _Job, folder: Path) -> tuple[list[Finding], list[InputError]]:
    """Rules on one lowered input: findings (suppressed ones marked) and its non-fatal problems."""
    problems = [InputError(item.display, problem) for problem in unit.problems]
    # Every file says which runtime it was judged by, those that hold nothing to judge too.
    unit.runtime = resolve_runtime(unit, folder, job.settings)
    if not (unit.models or unit.calls or unit.trainings or unit.sources):
        return [], problems  # most files of a repository hold no facts and were not even parsed
    reported, suppressed = check_unit(unit, load_rules(job.settings.rules_dirs), _rule_filter(item, job))
    return reported + suppressed, problems


Result = tuple[list[Finding], list[InputError], list[InputError], Runtime | None]


def analyze_input(item: Input, job: _Job) -> Result:
    """(findings, errors, skipped, the runtime it was judged by) of one input; suppressed findings
    carry `suppression`; the runtime is None for an input that could not be analysed."""
    settings = job.settings
    # Resolved once: where the confirmer and the autofixer find the file, and where pins are looked up.
    resolved = real_path(item.path)
    try:
        _precheck(item)
    except safe_io.UnreadableFile as exc:
        return [], [InputError(item.display, str(exc))], [], None
    text_input = item.kind in ("script", "notebook")
    store = job.cache if text_input else None
    content = None
    if text_input:
        try:
            # A FIFO or a device is refused, never read; a script or notebook above its limit is
            # one line, as its frontend would say.
            content = safe_io.read_bytes(item.path, READ_LIMIT)
        except safe_io.UnreadableFile as exc:
            return [], [InputError(item.display, str(exc))], [], None
        pointer = lfs_pointer(content)
        if pointer is not None:
            return [], [], [InputError(item.display, pointer)], None
    if store is not None:
        # The pins near the file can change the runtime without the file changing (both readings:
        # code that rules Keras 3 out reads them below Keras 3), and where no pin admits a release
        # below Keras 3, what is installed can too.
        pins = (from_pins(resolved.parent), from_pins(resolved.parent, keras3=False))
        installed = (from_installed(), from_installed(keras3=False)) if pins[1] is None else ()
        pinned = settings.target_runtime or repr((*pins, *installed))
        key = _cache_key(item, content, job, pinned)
        place = scan_cache.Place(item.display, resolved, item.kind, lambda: _project_root(resolved),
                                 lambda: project_path(item.path, resolved))
        payload = store.load(scan_cache.KIND, key)
        hit = None if payload is None else scan_cache.decode(payload, place, _rules_by_id(settings), job.enabled, _unlinked_digest)
        if hit is not None:
            return hit[0], hit[1], [], hit[2]
    unit = None
    runtime: Runtime | None = None
    try:
        unit = _read_unit(item, resolved, job, content)
    except FrontendError as exc:
        reason = None if text_input else skip_reason(item.path, item.kind)
        if reason is not None:
            return [], [], [InputError(item.display, reason)], None
        findings, errors = [], [InputError(item.display, str(exc))]
    except (OSError, MemoryError, RecursionError) as exc:
        # Not cached: a file that could not be read now may be readable next time.
        return [], [InputError(item.display, f"cannot read: {exc}")], [], None
    else:
        findings, errors = analyze_unit(unit, item, job, resolved.parent)
        runtime = unit.runtime
        if item.kind == "notebook" and findings:
            place_notebook_lines(findings, content.decode("utf-8-sig", "replace"))
        _sources(unit, item, resolved, findings)
    if store is not None:
        # The findings depend on the project modules read too: a change to one is a miss.
        files, consulted = (unit.files, unit.consulted) if unit is not None else ({}, set())
        entry = scan_cache.encode(findings, errors, files, consulted, place, runtime, _digest)
        if entry is not None:
            store.store(scan_cache.KIND, key, entry)
    return findings, errors, [], runtime


_RULES_BY_ID: dict[tuple[Path, ...], dict] = {}


def _rules_by_id(settings: Settings) -> dict:
    """The loaded rules by id (what a cached finding is checked against), once per process."""
    if settings.rules_dirs not in _RULES_BY_ID:
        _RULES_BY_ID[settings.rules_dirs] = {rule.id: rule for rule in load_rules(settings.rules_dirs)}
    return _RULES_BY_ID[settings.rules_dirs]


# Inputs between two collections of the young garbage generations (`_analyze_chunk`).
COLLECT_EVERY = 256


def _analyze_chunk(items: list[Input], job: _Job) -> list[Result]:
    import gc

    # The automatic collector is off during a scan: a scan allocates millions of short-lived
    # objects (syntax trees, facts) that reference counting frees, and each full collection walks
    # every module tree the project cache keeps, which cost a tenth of a scan of real
    # repositories. The interpreter breaks its own reference cycles when it finishes a file
    # (tests/test_memory.py); what cycles remain are collected here, young generations only, so
    # the cache is walked at most twice.
    enabled = gc.isenabled()
    gc.disable()
    try:
        results = []
        for done, item in enumerate(items, start=1):
            results.append(analyze_input(item, job))
            if done % COLLECT_EVERY == 0:
                gc.collect(1)
        return results
    finally:
        if enabled:
            gc.enable()


def _pool_context():
    # fork starts workers in milliseconds and they inherit the loaded rules; elsewhere use the default.
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _job(settings: Settings, store: cache.Cache | None = None) -> _Job:
    rules = load_rules(settings.rules_dirs)
    enabled = frozenset(enabled_rules(settings, rules))
    installation = installation_digest(settings.rules_dirs) if store is not None else ""
    return _Job(settings, enabled, installation, _prefilters([r for r in rules if r.id in enabled]), store)


def _prefilters(rules) -> frozenset[frozenset[str]] | None:
    """One word-group set per enabled rule for scripts and notebooks; None when one of them has
    no prefilter, so every Keras script must be read."""
    text_rules = [r for r in rules if {"script", "notebook"} & set(r.inputs)]
    if any(r.prefilter is None for r in text_rules):
        return None
    return frozenset(r.prefilter for r in text_rules)


def _excludes(settings: Settings) -> tuple[str, ...]:
    return (settings.exclude if settings.exclude is not None else DEFAULT_EXCLUDES) + settings.extend_exclude


def _new_report(settings: Settings) -> Report:
    notes = list(settings.notes) + selection_notes(settings, load_rules(settings.rules_dirs))
    root = repository_root(real_path("."))
    return Report(notes=notes, root=str(root) if root else None)


def _collect(report: Report, items: list[Input], results: list[Result]) -> Report:
    seen: set[tuple] = set()
    for item, (findings, input_errors, skipped, runtime) in zip(items, results):
        if runtime is not None:
            report.runtimes.append(FileRuntime(item.display, item.kind, runtime))
        for finding in findings:
            # Two scripts that import the same helper find its problem twice: report it once.
            place = (finding.rule, finding.path, finding.cell, finding.line, finding.column, finding.layer_path)
            if place in seen:
                continue
            seen.add(place)
            (report.suppressed if finding.suppression else report.findings).append(finding)
        report.errors.extend(input_errors)
        report.skipped.extend(skipped)
    report.findings.sort(key=Finding.sort_key)
    report.suppressed.sort(key=Finding.sort_key)
    return report


def scan(paths: list[str], settings: Settings) -> Report:
    _CWD[:] = [Path.cwd()]
    forget_pins()
    for project in _PROJECTS.values():
        project.forget_scan()  # type: ignore[attr-defined]
    _DIGESTS.clear()
    _UNLINKED_DIGESTS.clear()
    _RULES_BY_ID.clear()  # the rule files may have changed since the last scan of this process
    found = discover(paths, _excludes(settings), root=settings.project_root,
                     respect_gitignore=settings.respect_gitignore, force_exclude=settings.force_exclude)
    inputs = found.inputs
    store, cache_note = None, None
    if settings.cache and any(item.kind in ("script", "notebook") for item in inputs):
        store, cache_note = cache.open_cache(settings.cache_dir)
    job = _job(settings, store)
    jobs = settings.jobs or os.cpu_count() or 1
    if jobs > 1 and len(inputs) >= PARALLEL_THRESHOLD:
        size = max(1, len(inputs) // (jobs * 4))
        chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
        from concurrent.futures import ProcessPoolExecutor  # only a large scan pays for the import

        with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
            results = [r for chunk in pool.map(_analyze_chunk, chunks, [job] * len(chunks)) for r in chunk]
    else:
        results = _analyze_chunk(inputs, job)
    report = _new_report(settings)
    report.notes += [cache_note] if cache_note else []
    report.errors.extend(found.errors)
    report.skipped.extend(found.skipped)
    _collect(report, inputs, results)
    report.files_scanned = len(inputs) - sum(1 for _, _, skipped, _ in results if skipped)
    report.inputs = [str(item.path) for item in inputs]  # resolved only if an output path needs checking
    return report


def scan_source(text: str, filename: str | None, settings: Settings) -> Report:
    """The report for one script or notebook read from standard input, checked as if it were
    `filename` (its kind, per-file ignores, excludes with force-exclude, the pins near it, the
    project's own modules it imports)."""
    return scan_buffer(text, filename, settings)[0]


def scan_buffer(text: str, filename: str | None, settings: Settings, buffers: Mapping[Path, str] | None = None,
                kind: InputKind | None = None, file_lines: bool = True) -> tuple[Report, frozenset[str]]:
    """`scan_source`, with the text of other open files (`buffers`, by resolved path) read instead
    of the disk when the code imports them, and `kind` instead of what the name's suffix says;
    also returns the project modules read (resolved paths): a change to one of them changes the
    report. `file_lines=False`: a notebook's findings are placed by cell only (the text is not
    the notebook's file, as for an editor's notebook document)."""
    from bnlint.discover import Excludes

    _CWD[:] = [Path.cwd()]
    forget_pins()
    display = filename or "-"
    kind = kind or ("notebook" if display.lower().endswith(".ipynb") else "script")
    item = Input(Path(display), display, kind)
    report = _new_report(settings)
    if filename and settings.force_exclude:
        if Excludes(_excludes(settings), settings.project_root).match_with_parents(Path(os.path.abspath(filename)), False):
            return report, frozenset()  # ruff: an excluded --stdin-filename is not checked
    job = _job(settings)
    # Read as a path is: within its project (the modules it imports), from where it would be.
    resolved = real_path(filename) if filename else None
    project = _project_for(resolved, job.prefilters) if resolved is not None else None
    try:
        if project is not None:
            project.forget_scan()  # type: ignore[attr-defined]
            project.buffers = buffers or {}  # type: ignore[attr-defined]
        if kind == "notebook":
            from bnlint.frontends.python.notebook import analyze_notebook_text as analyze
        else:
            from bnlint.frontends.python.script import analyze_source as analyze
        unit = analyze(text, display, resolved, project)
    except FrontendError as exc:
        report.errors.append(InputError(display, str(exc)))
        report.files_scanned = 1
        return report, frozenset()
    finally:
        if project is not None:
            project.buffers = {}  # type: ignore[attr-defined]
    findings, errors = analyze_unit(unit, item, job, resolved.parent if resolved is not None else real_path("."))
    if kind == "notebook" and file_lines:
        place_notebook_lines(findings, text)
    if resolved is not None:
        _sources(unit, item, resolved, findings)
    report.files_scanned = 1
    return _collect(report, [item], [(findings, errors, [], unit.runtime)]), frozenset((*unit.files.values(), *unit.consulted))
