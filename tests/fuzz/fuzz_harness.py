"""Run bnlint the way a user does (its console script, in a fresh process) and check what it promised.

The invariants every hostile input is held to:

1. the exit status is 0, 1 or 2 (2 whenever an input could not be analysed);
2. no traceback, on stdout or stderr;
3. one line per bad input, naming it: every stderr line names an input (`path: reason`) or is a
   usage error (`bnlint: error: ...`), no input is named twice, and an input known to be bad is
   named exactly once; the other inputs are still analysed (a canary's finding is reported);
4. bounded time and memory: the process ends within TIME_LIMIT seconds and its peak resident
   memory stays under MEMORY_LIMIT (measured by the kernel, `wait4`);
5. inputs are byte-identical afterwards, and nothing is written outside the cache folder and the
   files an option names;
6. no payload runs: the marker file a payload would write does not exist.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Generous next to what bnlint needs (well under a second and ~150 MiB per run here), small next
# to the blowups issue 12 measured (19-60 s, 1.2-1.6 GiB).
TIME_LIMIT = float(os.environ.get("BNLINT_FUZZ_TIME_LIMIT", 10))
MEMORY_LIMIT = 768 * 2**20
# The kernel stops a runaway before it takes the machine down (confirmation runs, which load
# TensorFlow, go without: the worker sets its own limit).
ADDRESS_SPACE_LIMIT = 6 * 2**30
MARKER_NAME = "PAYLOAD_RAN"
# Lines bnlint prints on stderr that are not about an input: what it wrote, notes.
NOTES = ("Wrote ", "note: ", "bnlint: note", "bnlint: warning")


def bnlint_command() -> list[str]:
    """The installed console script, as a user runs it; it puts nothing of the current folder on sys.path."""
    script = Path(sys.executable).with_name("bnlint")
    return [str(script)] if script.exists() else [sys.executable, "-P", "-m", "bnlint"]


@dataclass
class Run:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int
    timed_out: bool

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def report(self) -> dict | None:
        """The JSON report on stdout, when the run was asked for one and printed it."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def describe(self) -> str:
        return (f"bnlint {' '.join(self.args)} -> exit {self.exit_code} in {self.seconds:.1f} s, "
                f"{self.peak_bytes / 2**20:.0f} MiB\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-3000:]}")


def run_bnlint(args: list[str], cwd: Path, *, limit_memory: bool = True, timeout: float = TIME_LIMIT) -> Run:
    """bnlint with `args` in `cwd`, killed after `timeout` seconds; its peak memory from the kernel."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNLINT_", "PYTHON"))}
    env.update({"NO_COLOR": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})

    def limits() -> None:
        if limit_memory:
            resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
        os.setsid()  # its own process group: a timeout kills the worker processes too

    out_path, err_path = cwd.parent / f".{cwd.name}.stdout", cwd.parent / f".{cwd.name}.stderr"
    timed_out = threading.Event()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen([*bnlint_command(), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, preexec_fn=limits)

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        seconds = time.perf_counter() - started
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    out_path.unlink()
    err_path.unlink()
    return Run(args, process.returncode, stdout, stderr, seconds, usage.ru_maxrss * 1024, timed_out.is_set())


# --- what a run may change ------------------------------------------------------------------------


def snapshot(root: Path, skip: tuple[str, ...] = (".bnlint_cache",)) -> dict[str, tuple]:
    """Every entry under `root` (not following symlinks): file bytes and mode, links' targets.
    Iterative, so a tree 1,000 folders deep is no problem."""
    entries: dict[str, tuple] = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name in skip:
                    continue
                relative = os.fsdecode(os.path.relpath(entry.path, root))
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    entries[relative] = ("link", os.readlink(entry.path))
                elif stat.S_ISDIR(info.st_mode):
                    entries[relative] = ("dir",)
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    entries[relative] = ("file", Path(entry.path).read_bytes(), stat.S_IMODE(info.st_mode))
                else:
                    entries[relative] = ("other", stat.S_IFMT(info.st_mode))
    return entries


@dataclass
class Expectation:
    """What a run over one folder of hostile inputs must show."""

    bad: set[str] = field(default_factory=set)  # inputs that must be named exactly once on stderr
    inputs: set[str] = field(default_factory=set)  # every input (a line naming anything else is a stray)
    canary: str | None = None  # an input whose finding must still be reported (the scan went on)
    written: set[str] = field(default_factory=set)  # files the options name as outputs
    usage_error: bool = False  # a usage error (exit 2, `bnlint: error:`) is the expected outcome
    allowed_exits: tuple[int, ...] = (0, 1, 2)


def named(line: str, inputs: set[str]) -> str | None:
    """The input a stderr line is about: the longest input path the line starts with, then ': '."""
    found = [i for i in inputs if line.startswith(f"{i}: ")]
    return max(found, key=len) if found else None


def check(run: Run, root: Path, before: dict, expect: Expectation, marker: Path) -> None:
    """Assert every invariant of the module docstring for one run; the message shows the run."""
    context = run.describe()
    assert not run.timed_out, f"hung or too slow (killed after {TIME_LIMIT} s)\n{context}"
    assert run.exit_code in expect.allowed_exits, f"exit status {run.exit_code}\n{context}"
    assert "Traceback (most recent call last)" not in run.stdout + run.stderr, f"traceback\n{context}"
    assert run.seconds < TIME_LIMIT, f"took {run.seconds:.1f} s\n{context}"
    assert run.peak_bytes < MEMORY_LIMIT, f"peak memory {run.peak_bytes / 2**20:.0f} MiB\n{context}"
    assert not marker.exists(), f"a payload ran: {marker} was written\n{context}"

    lines = [line for line in run.error_lines if not line.startswith(NOTES)]
    usage = [line for line in lines if line.startswith("bnlint: ")]
    about = [named(line, expect.inputs) for line in lines if not line.startswith("bnlint: ")]
    strays = [line for line in lines if not line.startswith("bnlint: ") and named(line, expect.inputs) is None]
    assert not strays, f"stderr lines that name no input: {strays}\n{context}"
    repeated = {i for i in about if about.count(i) > 1}
    assert not repeated, f"more than one line for {sorted(repeated)}\n{context}"
    missing = expect.bad - set(about)
    assert not missing, f"no line for bad input(s) {sorted(missing)}\n{context}"
    if expect.usage_error:
        assert run.exit_code == 2 and usage, f"expected a usage error\n{context}"
    else:
        assert not usage or run.exit_code == 2, f"usage error with exit {run.exit_code}\n{context}"
        assert (run.exit_code == 2) == bool(about or usage), f"exit status {run.exit_code} with {len(about)} input errors\n{context}"
    for line in lines:
        assert "\n" not in line and len(line) < 2000, f"an overlong error line\n{context}"

    if expect.canary is not None and not usage and "json" in run.args and "--write-baseline" not in run.args:
        report = run.report()
        assert report is not None, f"no JSON report\n{context}"
        assert any(f["path"] == expect.canary for f in report["findings"]), f"the canary {expect.canary} lost its finding\n{context}"

    after = snapshot(root)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)} - expect.written
    assert not changed, f"files changed or appeared: {sorted(changed)[:10]}\n{context}"



class Scenario:
    """A fresh folder of inputs (`tree`, also the current folder), a canary, hijacking modules and
    a marker path outside the tree; `run` executes bnlint there and checks every invariant."""

    def __init__(self, base: Path, canary: bool = True, plant: bool = True) -> None:
        import fuzz_inputs as inputs

        self.base = base
        self.tree = base / "tree"
        self.tree.mkdir()
        self.marker = base / MARKER_NAME
        self.expect = Expectation()
        if canary:
            self.expect.canary = inputs.canary(self.tree)
            self.expect.inputs.add(self.expect.canary)
        if plant:
            inputs.plant_modules(self.tree, self.marker)
            self.expect.inputs |= {f"{name}.py" for name in inputs.HIJACKED_MODULES}

    def add(self, name: str, bad: bool = True) -> Path:
        """Register an input (already written, or about to be) under the tree; returns its path."""
        self.expect.inputs.add(name)
        if bad:
            self.expect.bad.add(name)
        return self.tree / name

    def run(self, *args: str, expect_more: dict | None = None, **options) -> Run:
        for key, value in (expect_more or {}).items():
            setattr(self.expect, key, value)
        args = list(args) or ["check", "--no-confirm", "--format", "json", "."]
        before = snapshot(self.tree)
        result = run_bnlint(args, self.tree, **options)
        check(result, self.tree, before, self.expect, self.marker)
        return result
