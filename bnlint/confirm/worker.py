"""The confirmation worker: reads one JSON job on stdin and writes one JSON result as the last
line of stdout. It imports TensorFlow; the static path never imports this module. It is started
in isolated mode (`python -I`, see `bnlint.confirm.runner.worker_command`) so that no module from the
folder bnlint runs in can be imported.

Job: {"task": "confirm" | "explain", "runtime": "keras" | "tf_keras", "source": "model" |
"reproduce" | "exec", "path": ..., "sample": ... | null, "allow_unsafe": bool, "custom":
[[module, name, registered_name], ...], "search_path": [...], "targets": [...]} (see
`bnlint.confirm.runner` for the targets). Result: {"ok": true, "runtime": "keras 3.15.1 / tensorflow
2.21.0", "results": {target id: confirmation fields}} or {"ok": false, "error": "one line"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bnlint.confirm.loading import batch_for, load_model, model_inputs


def limit_memory(megabytes: int | None) -> None:
    """Cap the worker's data segment (heap and private writable mappings).

    RLIMIT_DATA rather than RLIMIT_AS: TensorFlow reserves large stretches of address space it
    never touches (thread stacks, allocator arenas), so an address-space cap fails the import
    long before memory is really short; RLIMIT_DATA (Linux >= 4.7) counts what is writable.
    """
    if not megabytes:
        return
    try:
        import resource
    except ImportError:  # not on this platform (Windows): no limit
        return
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _claim_stdout():
    """Keep the real stdout for the result; everything else printed goes to stderr."""
    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return result


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def _runtime(name: str):
    import tensorflow as tf

    if name == "tf_keras":
        import tf_keras as keras_module
    else:
        import keras as keras_module

        if keras_module.backend.backend() != "tensorflow":
            raise RuntimeError(f"Keras runs on {keras_module.backend.backend()}; bnlint's checks need the TensorFlow backend")
    return keras_module, f"{keras_module.__name__} {keras_module.__version__} / tensorflow {tf.__version__}"


def _confirmation(outcome, what: str, measured: dict, notes: list[str] = ()) -> dict:
    return {
        "status": outcome.status,
        "mode": outcome.mode,
        "metrics": {k: round(v, 8) for k, v in outcome.metrics.items()},
        "remedies": outcome.remedies,
        "reason": f"{what}: {outcome.verdict}" + "".join(f"; {note}" for note in [*outcome.notes, *notes]),
        "measured": measured,
    }


def _unconfirmed(reason: str, measured: dict | None = None) -> dict:
    return {"status": "unconfirmed", "mode": None, "metrics": {}, "remedies": {}, "reason": reason, "measured": measured or {}}


def _confirm_saved(keras_module, job: dict) -> dict:
    from bnlint.confirm.layers import find_layer
    from bnlint.confirm.measure import measure, rebuild_with_training_false
    from bnlint.confirm.outcome import Subject

    model = load_model(keras_module, job)
    batch = batch_for(model, job)
    inputs = model_inputs(batch)
    results = {}
    for target in job["targets"]:
        path = target.get("layer_path") or ""
        measured = {"kind": "model file", "path": job["path"], "layer_path": path or None, "batch": batch.description}
        try:
            callee = find_layer(model, path)
            names = [p for p in path.split("/") if p]
            subject = Subject(model, callee, lambda names=names: rebuild_with_training_false(keras_module, model, names))
            outcome = measure(keras_module, subject, inputs, target["check"], target)
        except Exception as exc:  # one target failing must not lose the others
            results[target["id"]] = _unconfirmed(f"the check failed on {path or 'the model'!r}: {one_line(exc)}", measured)
            continue
        what = f"loaded {Path(job['path']).name} with {keras_module.__name__} (safe_mode=True) and ran {path or 'the model'!r} on a {batch.description}"
        results[target["id"]] = _confirmation(outcome, what, measured)
    return results


def _confirm_reproduced(keras_module, job: dict) -> dict:
    from bnlint.confirm.measure import measure
    from bnlint.confirm.reproduce import NotReproducible, reproduce

    results = {}
    for target in job["targets"]:
        measured = {"kind": "replica", "architecture": target.get("architecture")}
        try:
            replica, batch = reproduce(keras_module, target)
            measured = replica.measured
            outcome = measure(keras_module, replica.subject, model_inputs(batch), target["check"], target)
        except NotReproducible as exc:
            results[target["id"]] = _unconfirmed(f"cannot rebuild it without running the script: {exc}", measured)
            continue
        except Exception as exc:
            results[target["id"]] = _unconfirmed(f"the reproduction failed: {one_line(exc)}", measured)
            continue
        results[target["id"]] = _confirmation(outcome, replica.description, measured, replica.notes)
    return results


def _confirm_executed(keras_module, job: dict) -> dict:
    from bnlint.confirm.exec_script import ScriptError, find_callee, run_until_fit
    from bnlint.confirm.layers import path_to
    from bnlint.confirm.measure import measure, rebuild_with_training_false
    from bnlint.confirm.outcome import Subject

    script = Path(job["path"])
    capture = run_until_fit(keras_module, script)
    model = capture.model
    results = {}
    for target in job["targets"]:
        measured = {"kind": "script run", "path": job["path"], "until": "its first fit()", "batch": "fit()'s first batch"}
        try:
            callee, which = find_callee(capture, target.get("name") or "", target.get("cls") or "")
            names = path_to(model, callee)
            subject = Subject(
                model, callee,
                (lambda names=names: rebuild_with_training_false(keras_module, model, names)) if names else None,
            )
            outcome = measure(keras_module, subject, capture.inputs, target["check"], target)
        except ScriptError as exc:
            results[target["id"]] = _unconfirmed(str(exc), measured)
            continue
        except Exception as exc:
            results[target["id"]] = _unconfirmed(f"the check failed: {one_line(exc)}", measured)
            continue
        what = f"ran {script.name} up to its first fit() (--exec) and checked {which} on fit()'s first batch"
        results[target["id"]] = _confirmation(outcome, what, measured)
    return results


def handle(job: dict) -> dict:
    from bnlint.confirm.gap import GapError
    from bnlint.confirm.replay import NotSeparable
    from bnlint.confirm.sample import SampleError

    keras_module, runtime = _runtime(job.get("runtime", "keras"))
    try:
        return {"ok": True, "runtime": runtime, **_run(keras_module, job)}
    except SampleError as exc:  # one line that needs no exception name
        return {"ok": False, "error": f"the sample does not fit this model: {exc}"}
    except NotSeparable as exc:
        return {"ok": False, "error": f"cannot tell the layers' effects apart: {exc}"}
    except GapError as exc:
        return {"ok": False, "error": str(exc)}


def _run(keras_module, job: dict) -> dict:
    if job["task"] == "explain":
        from bnlint.confirm.gap import measure_gap

        return {"explain": measure_gap(keras_module, job)}
    source = job.get("source")
    if source == "model":
        results = _confirm_saved(keras_module, job)
    elif source == "reproduce":
        results = _confirm_reproduced(keras_module, job)
    elif source == "exec":
        try:
            results = _confirm_executed(keras_module, job)
        except Exception as exc:
            from bnlint.confirm.exec_script import ScriptError

            reason = str(exc) if isinstance(exc, ScriptError) else one_line(exc)
            results = {t["id"]: _unconfirmed(reason) for t in job["targets"]}
    else:
        raise ValueError(f"unknown job source {source!r}")
    return {"results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bnlint-confirm-worker")
    parser.add_argument("--memory-limit-mb", type=int, default=None)
    args = parser.parse_args(argv)
    limit_memory(args.memory_limit_mb)
    result_stream = _claim_stdout()
    try:
        result = handle(json.loads(sys.stdin.read()))
    except MemoryError:
        result = {"ok": False, "error": f"the worker ran out of memory (limit {args.memory_limit_mb} MB)"}
    except BaseException as exc:  # everything becomes one line for the parent, never a traceback
        result = {"ok": False, "error": one_line(exc)}
    result_stream.write(json.dumps(result) + "\n")
    result_stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
