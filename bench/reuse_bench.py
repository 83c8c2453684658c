"""Benchmark reusing confirmations: `bnlint check --confirm examples/` twice, against a static run.

    python bench/reuse_bench.py [--repeat 3] [--timeout 600]

Each repetition copies `examples/` into a fresh folder with a fresh cache and a fresh cache key
(`XDG_CACHE_HOME`), then runs, each in a fresh process:

- first:  `bnlint check --confirm --format json examples` (every finding confirmed by a worker);
- second: the same command again, on the unchanged copy (confirmations reused from the cache);
- static: `bnlint check --no-confirm --format json examples` (the scan alone, its cache warm).

It prints wall time and CPU time (user + sys of bnlint and every worker it started: the machine
may be shared, CPU time is the figure that carries over), best of --repeat, and checks that the
second run reports the same confirmations as the first. `--timeout` is `--confirm-timeout`: a
loaded machine must not turn a confirmation into a timeout, which is never reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of the process and its children, the JSON report)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


def _confirmations(report: dict) -> list[tuple]:
    return [(f["path"], f["rule"], json.dumps(f["confirmation"], sort_keys=True)) for f in report["findings"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="--confirm-timeout of the confirmed runs")
    args = parser.parse_args()
    bnlint = [sys.executable, "-m", "bnlint", "check", "--format", "json"]
    confirmed = [*bnlint, "--confirm", "--confirm-timeout", str(args.timeout), "examples"]
    runs: dict[str, list[tuple[float, float]]] = {"first": [], "second": [], "static": []}
    statuses = ""
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            shutil.copytree(ROOT / "examples", folder / "examples")
            env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache-home"), TF_CPP_MIN_LOG_LEVEL="3")
            *first, first_report = _timed(confirmed, folder, env)
            *second, second_report = _timed(confirmed, folder, env)
            *static, _ = _timed([*bnlint, "--no-confirm", "examples"], folder, env)
            if _confirmations(second_report) != _confirmations(first_report):
                sys.exit("the second run did not report the first run's confirmations")
            runs["first"].append(tuple(first))
            runs["second"].append(tuple(second))
            runs["static"].append(tuple(static))
            statuses = ", ".join(f"{f['rule']} {f['confirmation']['status']}" for f in first_report["findings"])
    print(f"examples/: {statuses}")
    print("| run | wall | CPU (user+sys) |")
    print("| --- | --- | --- |")
    for name, label in (("first", "first `check --confirm`"), ("second", "second, unchanged"), ("static", "`--no-confirm`")):
        wall = min(w for w, _ in runs[name])
        cpu = min(c for _, c in runs[name])
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s |")


if __name__ == "__main__":
    main()
