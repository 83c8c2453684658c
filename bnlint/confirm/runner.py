"""Confirm static findings by running the real model in a worker subprocess (this side: no TF).

`confirm_findings` groups findings by input file, screens saved models for code
(`bnlint.confirm.safety`), and starts one isolated worker process (`python -I`) per file, with a
timeout and a memory limit, `jobs` at a time. Whatever goes wrong in a worker (a timeout, a
crash, a kill, a garbled reply) makes that file's findings `unconfirmed` with the reason; it
never raises.

What runs, by input:
- saved models: the file itself, loaded with `safe_mode=True` (Keras 3 files with keras,
  Keras 2 files with tf_keras);
- scripts and notebooks: never executed by default. A callee with a known architecture
  (`keras.applications.*`) is rebuilt with `weights=None` in the recorded composition
  (`bnlint.confirm.reproduce`); with `exec_scripts` (`--exec`) a `.py` script is run up to its
  first `fit()` instead (`bnlint.confirm.exec_script`). The recompile check (BN003) is about the
  script's later fit() calls, which `--exec` never reaches: it always replays the sequence on a
  rebuilt architecture.

A `--sample` is validated here, from its array headers only, before any worker starts: a broken
or oversized sample is a usage error (one line naming the file), not a failure per model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from bnlint.confirm import INSTALL_TENSORFLOW, NO_CHECK
from bnlint.errors import UsageError
from bnlint.findings import Confirmation, Finding

RECOMPILE_CHECK = "trainable-without-recompile"

# Seconds for one worker (one model or script). On a 2-core CPU the whole check of a frozen
# ResNet50 at 224x224 (TensorFlow import, load, four passes) takes ~7 s (bench/confirm_bench.py):
# 120 s leaves room for slower machines and much larger models.
DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY_LIMIT_MB = 8192


def tensorflow_available() -> bool:
    """Whether a worker could import TensorFlow (found, not imported: the parent stays light)."""
    return importlib.util.find_spec("tensorflow") is not None


def tf_keras_available() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


@dataclass
class ConfirmOptions:
    sample: Path | None = None  # .npz/.npy batch; default: a seeded synthetic batch per model
    timeout: float = DEFAULT_TIMEOUT  # seconds per worker (per model or script)
    memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB  # per worker (RLIMIT_DATA); None: no limit
    jobs: int = 1  # workers running at once
    allow_unsafe: bool = False  # import the modules that define a model's custom layers
    exec_scripts: bool = False  # run .py scripts up to their first fit()
    rules_dirs: tuple[Path, ...] = ()  # user rule directories: their `confirm:` blocks count too
    cache_dir: Path | None = None  # where confirmations are kept and reused (`bnlint.confirm.reuse`); None: never

    def __post_init__(self) -> None:
        if self.timeout is None:  # "not configured" from a caller's settings
            self.timeout = DEFAULT_TIMEOUT


class WorkerFailure(Exception):
    """The worker gave no usable result. `str()` is the one-line reason."""


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


# The worker runs in isolated mode (`-I`): neither the current folder nor PYTHONPATH nor the user's
# site-packages are on its sys.path, so a `json.py` or `numpy.py` in the folder bnlint runs from (a
# cloned repository under review) is never imported. bnlint itself is then found where the parent
# found it, appended so that nothing in that folder can shadow the standard library.
_BOOTSTRAP = (
    "import sys; root = sys.argv.pop(1); sys.path.append(root) if root not in sys.path else None; "
    "from bnlint.confirm.worker import main; sys.exit(main(sys.argv[1:]))"
)


def worker_command(memory_limit_mb: int | None) -> list[str]:
    command = [sys.executable, "-I", "-c", _BOOTSTRAP, _package_root()]
    if memory_limit_mb:
        command += ["--memory-limit-mb", str(memory_limit_mb)]
    return command


def worker_environment() -> dict[str, str]:
    # `-I` ignores every PYTHON* variable; the rest of the environment (CUDA, TF settings) is kept.
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.setdefault("CUDA_VISIBLE_DEVICES", "")  # a user who set it has a GPU setup: leave it
    env["KERAS_BACKEND"] = "tensorflow"  # the checks use TensorFlow's eager mode
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill(process: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)  # TF starts threads, not processes, but be thorough
        else:
            process.kill()
    except ProcessLookupError:
        pass


def run_worker(job: dict, timeout: float, memory_limit_mb: int | None) -> dict:
    """Run one job in a fresh worker; its result dict, or WorkerFailure with the reason."""
    process = subprocess.Popen(
        worker_command(memory_limit_mb),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=worker_environment(), start_new_session=os.name == "posix",
    )
    try:
        stdout, stderr = process.communicate(json.dumps(job).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.communicate()
        raise WorkerFailure(f"the check timed out after {timeout:g} s") from None
    if process.returncode < 0:
        name = _signal_name(-process.returncode)
        hint = f" (out of memory? the limit is {memory_limit_mb} MB)" if memory_limit_mb and name in ("SIGKILL", "SIGABRT", "SIGSEGV") else ""
        raise WorkerFailure(f"the worker was killed by {name}{hint}")
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {tail[-1][:200]}" if tail else ""
        raise WorkerFailure(f"the worker exited with status {process.returncode} without a result{detail}")
    try:
        result = json.loads(lines[-1])  # only the last line: TF may print before it
    except ValueError:
        raise WorkerFailure("the worker's reply was not valid JSON") from None
    if not isinstance(result, dict) or not isinstance(result.get("ok"), bool):
        raise WorkerFailure("the worker's reply was not a result")
    if not result["ok"]:
        raise WorkerFailure(str(result.get("error") or "the worker failed"))
    return result


class _Skip(Exception):
    """This finding cannot be confirmed; `str()` is the reason."""


@dataclass
class _Job:
    payload: dict
    findings: dict[str, list[Finding]] = field(default_factory=dict)  # by target id
    recalled: dict[str, dict] = field(default_factory=dict)  # results kept from an earlier run, by target id


def _runtime_for_script(finding: Finding) -> str:
    if finding.runtime.target == "keras2":
        if not tf_keras_available():
            raise _Skip("the code targets tf.keras 2 and tf_keras is not installed (pip install tf-keras)")
        return "tf_keras"
    return "keras"


class _Planner:
    """Turns findings into worker jobs: one per model file, script or reproduction runtime."""

    def __init__(self, options: ConfirmOptions) -> None:
        self.options = options
        self.jobs: dict[tuple, _Job] = {}
        self.screens: dict[str, object] = {}

    def _job(self, key: tuple, payload: dict) -> _Job:
        if key not in self.jobs:
            sample = str(self.options.sample) if self.options.sample else None
            self.jobs[key] = _Job({"task": "confirm", "sample": sample, "targets": [], **payload})
        return self.jobs[key]

    def add(self, finding: Finding, check: str) -> None:
        if finding.runtime.target == "legacy":
            raise _Skip("the code targets legacy Keras (<= 2.3), whose BatchNormalization no installed runtime reproduces")
        if finding.source is None:
            raise _Skip("the finding does not say which file it came from")
        file, kind = finding.source.file, finding.input
        if kind == "model":
            job, target = self._saved(file, finding, check)
        elif self.options.exec_scripts and check != RECOMPILE_CHECK:
            job, target = self._executed(file, kind, finding, check)
        else:
            job, target = self._reproduced(file, finding, check)
        if target["id"] not in job.findings:
            job.payload["targets"].append(target)
        job.findings.setdefault(target["id"], []).append(finding)

    def _saved(self, file: str, finding: Finding, check: str) -> tuple[_Job, dict]:
        from bnlint.confirm.safety import screen_model
        from bnlint.frontends import FrontendError

        if file not in self.screens:
            try:
                self.screens[file] = screen_model(Path(file))
            except FrontendError as exc:
                self.screens[file] = f"cannot read the model: {exc}"
        screen = self.screens[file]
        if isinstance(screen, str):
            raise _Skip(screen)
        refusal = screen.refusal(self.options.allow_unsafe)
        if refusal:
            raise _Skip(f"not loaded: {refusal}")
        runtime = "keras"
        if screen.keras2:
            if not tf_keras_available():
                raise _Skip(f"written by Keras {screen.keras_version}; loading it needs tf_keras (pip install tf-keras)")
            runtime = "tf_keras"
        custom = [[c.module, c.name, c.registered_name] for c in screen.custom] if self.options.allow_unsafe else []
        job = self._job(("model", file), {
            "source": "model", "path": file, "runtime": runtime, "allow_unsafe": self.options.allow_unsafe,
            "custom": custom, "search_path": [str(Path(file).parent), os.getcwd()],
        })
        layer_path = finding.layer_path or ""
        return job, {"id": f"{layer_path}|{check}", "layer_path": layer_path, "check": check}

    def _reproduced(self, file: str, finding: Finding, check: str) -> tuple[_Job, dict]:
        callee = finding.subject
        if callee is None or not callee.architecture or not _rebuildable(callee.architecture):
            what = f"`{callee.name}` ({callee.cls})" if callee else "the model"
            if check == RECOMPILE_CHECK:  # --exec would not help: it stops before the fit() in question
                raise _Skip(f"{what} is not a known architecture bnlint can rebuild to replay the script's compile()/fit() sequence")
            raise _Skip(f"{what} is not a known architecture bnlint can rebuild without running the script (--exec runs it)")
        if callee.composition is not None:
            composition, training = callee.composition, callee.training or "absent"
        else:  # a trainable change (BN003, BN004): rebuild the call as the script makes it
            composition, training = "call", "false" if callee.called_with_training_false else "absent"
        runtime = _runtime_for_script(finding)
        job = self._job(("reproduce", file, runtime), {"source": "reproduce", "path": file, "runtime": runtime})
        target = {
            "architecture": callee.architecture, "arguments": dict(callee.arguments),
            "composition": composition, "training": "absent" if training == "dynamic" else training, "check": check,
        }
        if check == RECOMPILE_CHECK:
            target |= {"name": callee.name, "change": "unfreeze" if callee.unfrozen else "freeze", "sequence": _sequence(finding)}
        target["id"] = json.dumps(target, sort_keys=True, default=str)
        return job, target

    def _executed(self, file: str, kind: str, finding: Finding, check: str) -> tuple[_Job, dict]:
        if kind != "script" or not file.endswith(".py"):
            raise _Skip("--exec runs .py scripts only")
        runtime = _runtime_for_script(finding)
        job = self._job(("exec", file), {"source": "exec", "path": file, "runtime": runtime})
        callee = finding.subject
        target = {"name": callee.name if callee else "", "cls": callee.cls if callee else "", "check": check}
        target["id"] = f"{target['name']}|{target['cls']}|{check}"
        return job, target


def _rebuildable(architecture: str) -> bool:
    family = architecture.rpartition(".")[0]
    return family.endswith("applications") or family.endswith("layers") or family.split(".")[0] in ("keras_hub", "keras_cv")


def _sequence(finding: Finding) -> str:
    """What the script does before the stale fit(): `fit-change-fit` when a training event runs
    between the last compile() and the change, else `change-fit`. Keras 3 ignores a change only
    after a fit() (the rule's definition there), tf.keras either way."""
    def place(item) -> tuple[int, int]:
        return (item.cell or 0, item.line or 0)

    compiled = [place(r) for r in finding.related if r.role == "compile"]
    trained = [place(r) for r in finding.related if r.role == "training" and place(r) < place(finding)]
    if any(not compiled or t > max(compiled) for t in trained) or finding.runtime.target == "keras3":
        return "fit-change-fit"
    return "change-fit"


def _checks(rules_dirs: tuple[Path, ...]) -> dict[str, tuple[str, str]]:
    """Each rule's check (`confirm: {check: NAME}` in its YAML) and the reason when it has none."""
    from bnlint.rules import load_rules

    return {rule.id: (rule.check, rule.check_reason) for rule in load_rules(rules_dirs)}


def confirm_findings(findings: list[Finding], options: ConfirmOptions, notes: list[str] | None = None) -> None:
    """Fill `finding.confirmation` for every finding, in place (results kept in the cache are
    reused: a job whose every target is kept starts no worker). Never raises for a model's
    problems; raises UsageError for a `--sample` that cannot be used at all. A note about the
    cache goes to `notes`."""
    if options.sample is not None and tensorflow_available():
        from bnlint.confirm.sample import MAX_ROWS, SampleError, check_sample

        try:
            check_sample(Path(options.sample), rows=MAX_ROWS)
        except SampleError as exc:
            raise UsageError(f"{options.sample}: {exc}") from None
    planner = _Planner(options)
    available = tensorflow_available()
    checks = _checks(options.rules_dirs)
    for finding in findings:
        check, why_not = checks.get(finding.rule, (NO_CHECK, ""))
        if check == NO_CHECK:
            reason = f"{finding.rule}: {why_not}: nothing to run" if why_not else f"no dynamic check is defined for {finding.rule}"
            finding.confirmation = Confirmation("not-run", reason=reason)
            continue
        if not available:
            finding.confirmation = Confirmation("unconfirmed", reason=f"TensorFlow is not installed ({INSTALL_TENSORFLOW})")
            continue
        try:
            planner.add(finding, check)
        except _Skip as exc:
            finding.confirmation = Confirmation("unconfirmed", reason=str(exc))

    jobs = list(planner.jobs.values())
    memory = None
    if options.cache_dir is not None and jobs:
        from bnlint.confirm.reuse import open_memory

        memory, note = open_memory(options.cache_dir, options.rules_dirs, str(options.sample) if options.sample else None)
        if note and notes is not None and note not in notes:
            notes.append(note)
    for job in jobs if memory is not None else ():
        job.recalled = memory.recall(job.payload)

    def run(job: _Job) -> dict | str | None:
        if not job.payload["targets"]:
            return None  # every target's result was kept: no worker
        try:
            return run_worker(job.payload, options.timeout, options.memory_limit_mb)
        except WorkerFailure as exc:
            return str(exc)
        except OSError as exc:  # the worker could not even start
            return f"cannot start the worker: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        outcomes = list(pool.map(run, jobs))
    for job, outcome in zip(jobs, outcomes):
        if memory is not None and isinstance(outcome, dict):
            memory.remember(job.payload, outcome)
        for target_id, targeted in job.findings.items():
            if target_id in job.recalled:
                fields, runtime = job.recalled[target_id], job.recalled[target_id]["runtime"]
            elif isinstance(outcome, str):
                fields, runtime = {"status": "unconfirmed", "reason": outcome}, None
            else:
                fields, runtime = (outcome or {}).get("results", {}).get(target_id) or {}, (outcome or {}).get("runtime")
            confirmation = Confirmation(
                status=fields.get("status", "unconfirmed"), mode=fields.get("mode"),
                metrics=dict(fields.get("metrics") or {}),
                reason=fields.get("reason") or "the worker returned no result for this finding",
                runtime=runtime, remedies=dict(fields.get("remedies") or {}),
                measured=dict(fields.get("measured") or {}),
            )
            for finding in targeted:
                measured = dict(confirmation.measured)
                if "path" in measured:
                    measured["path"] = finding.path  # as the user gave it, like the finding's own path
                finding.confirmation = replace(confirmation, metrics=dict(confirmation.metrics), remedies=dict(confirmation.remedies),
                                               measured=measured)


def replica_job(finding: Finding, check: str) -> dict:
    """What the worker needs to rebuild a script finding's base as a replica (`bnlint explain
    train.py`): `{"runtime", "replica"}`. Raises ValueError with the reason when it cannot."""
    try:
        if finding.runtime.target == "legacy":
            raise _Skip("the code targets legacy Keras (<= 2.3), whose BatchNormalization no installed runtime reproduces")
        job, target = _Planner(ConfirmOptions())._reproduced(finding.source.file if finding.source else "", finding, check)
    except _Skip as exc:
        raise ValueError(str(exc)) from None
    return {"runtime": job.payload["runtime"], "replica": target}
