"""Confirmations are reused from the cache (issue 20): a second run on an unchanged project starts
no worker, and anything a result depends on (the model's content, the sample, the runtime's
versions, bnlint's installation, the target) makes it run again. Only confirmed and refuted
results are kept, and an entry holds no path.

Most tests stand a fake worker in for the real one (it counts its launches); the `tf` test runs
the real one, in fresh processes as a user does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bnlint.cli import cli
from bnlint.confirm import reuse, runner

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def project(repository) -> Path:
    shutil.copy(EXAMPLES / "finetune_frozen.keras", repository / "model.keras")
    np.save(repository / "sample.npy", np.linspace(0, 1, 4 * 8 * 8 * 3, dtype="float32").reshape(4, 8, 8, 3))
    return repository


@pytest.fixture
def worker(monkeypatch) -> list[dict]:
    """A stand-in for the worker: each launch is recorded; it confirms every target it is given."""
    launches: list[dict] = []

    def fake(payload: dict, timeout: float, memory_limit_mb) -> dict:
        launches.append(json.loads(json.dumps(payload)))
        results = {target["id"]: {"status": "confirmed", "mode": "latent", "metrics": {"rel_diff": 0.5, "latent_rel_diff": 0.25},
                                  "remedies": {"freeze-batchnorm": True, "training-false": False},
                                  "reason": f"ran {target.get('layer_path') or target.get('architecture')}",
                                  "measured": {"kind": "model file", "path": payload["path"], "batch": "4x8x8x3 sample"}}
                   for target in payload["targets"]}
        return {"ok": True, "runtime": "keras 3.15.1 / tensorflow 2.21.0", "results": results}

    monkeypatch.setattr(runner, "run_worker", fake)
    monkeypatch.setattr(runner, "tensorflow_available", lambda: True)
    monkeypatch.setattr(runner, "tf_keras_available", lambda: True)
    return launches


def check(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["check", "--confirm", "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def confirmations(report: dict) -> list[tuple]:
    return [(f["path"], f["rule"], json.dumps(f["confirmation"], sort_keys=True)) for f in report["findings"]]


def test_a_second_run_on_an_unchanged_project_starts_no_worker(project, worker):
    first = check("model.keras", "--sample", "sample.npy")
    assert len(worker) == 1 and first["findings"]
    assert {f["confirmation"]["status"] for f in first["findings"]} == {"confirmed"}
    second = check("model.keras", "--sample", "sample.npy")
    assert len(worker) == 1
    assert confirmations(second) == confirmations(first)
    assert second["findings"][0]["confirmation"]["measured"]["path"] == "model.keras"  # the finding's own path, not the entry's


def test_a_change_to_anything_the_result_depends_on_confirms_again(project, worker, monkeypatch):
    def launches_after(change) -> int:
        before = len(worker)
        change()
        check("model.keras", "--sample", "sample.npy")
        return len(worker) - before

    assert launches_after(lambda: None) == 1  # the first run
    assert launches_after(lambda: None) == 0
    sample = np.load(project / "sample.npy")
    assert launches_after(lambda: np.save(project / "sample.npy", sample * 2)) == 1
    assert launches_after(lambda: _resave(project / "model.keras", date="2026-02-02@00:00:00")) == 1  # same model, other bytes
    versions = reuse.runtime_versions()
    monkeypatch.setattr(reuse, "runtime_versions", lambda: versions | {"keras": "3.99.0"})
    assert launches_after(lambda: None) == 1
    import bnlint

    monkeypatch.setattr(bnlint, "__version__", bnlint.__version__ + ".post1")
    assert launches_after(lambda: None) == 1
    assert launches_after(lambda: None) == 0
    check("model.keras")  # the synthetic batch is another sample
    assert len(worker) == 6


def _resave(path: Path, date: str) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    members["metadata.json"] = json.dumps(metadata | {"date_saved": date}).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_renamed_model_is_confirmed_again_its_name_is_in_the_reason(project, worker):
    check("model.keras")
    (project / "model.keras").rename(project / "renamed.keras")
    check("renamed.keras")
    assert len(worker) == 2


def test_unconfirmed_results_are_not_kept(project, worker, monkeypatch):
    """A timeout, a worker that could not start, and a target the worker could not check may all
    come out differently next time: each run tries again."""
    failures = iter([runner.WorkerFailure("the check timed out after 120 s"), OSError("fork failed")])

    def failing(payload, timeout, memory_limit_mb):
        worker.append(payload)
        raise next(failures)

    monkeypatch.setattr(runner, "run_worker", failing)
    assert check("model.keras")["findings"][0]["confirmation"]["reason"] == "the check timed out after 120 s"
    assert check("model.keras")["findings"][0]["confirmation"]["reason"] == "cannot start the worker: fork failed"

    def unchecked(payload, timeout, memory_limit_mb):
        worker.append(payload)
        return {"ok": True, "runtime": "keras 3.15.1 / tensorflow 2.21.0",
                "results": {t["id"]: {"status": "unconfirmed", "reason": "the check failed: MemoryError", "measured": {}}
                            for t in payload["targets"]}}

    monkeypatch.setattr(runner, "run_worker", unchecked)
    check("model.keras")
    check("model.keras")
    assert len(worker) == 4
    assert list(project.glob(".bnlint_cache/??/confirm-*")) == []


def test_no_cache_neither_reads_nor_writes_confirmations(project, worker):
    check("model.keras", "--no-cache")
    check("model.keras")
    check("model.keras", "--no-cache")
    assert len(worker) == 3
    check("model.keras")
    assert len(worker) == 3


def test_a_replica_is_reused_across_edits_that_do_not_change_it(repository, worker):
    """The worker never opens the script: the target (architecture, literal arguments,
    composition, sequence) is all it runs, so a comment does not confirm again, and another
    architecture does."""
    script = repository / "train.py"
    script.write_text((EXAMPLES / "finetune_buggy.py").read_text())
    first = check("train.py")
    launched = len(worker)
    assert launched >= 1 and {f["confirmation"]["status"] for f in first["findings"]} == {"confirmed"}
    script.write_text("# a comment\n" + script.read_text())
    check("train.py")
    assert len(worker) == launched
    script.write_text(script.read_text().replace("MobileNetV2", "MobileNetV3Small"))
    check("train.py")
    assert len(worker) > launched


def test_exec_runs_are_not_kept(repository, worker):
    (repository / "train.py").write_text((EXAMPLES / "finetune_buggy.py").read_text())
    check("train.py", "--exec")
    launched = len(worker)
    check("train.py", "--exec")
    assert [job["source"] for job in worker[launched:]].count("exec") == [job["source"] for job in worker[:launched]].count("exec") >= 1


def test_a_kept_confirmation_holds_no_path_and_is_checked_field_by_field(project, worker):
    from bnlint import cache

    check("model.keras")
    (entry,) = project.glob(".bnlint_cache/??/confirm-*")
    kept = json.loads(entry.read_bytes().partition(b"\n")[2])
    assert kept["measured"]["path"] is None and str(project) not in entry.read_text()
    store, _ = cache.open_cache(project / ".bnlint_cache")
    key = entry.name.removeprefix("confirm-")
    for forged in ({**kept, "measured": {**kept["measured"], "path": "/etc/passwd"}}, {**kept, "status": "unconfirmed"},
                   {**kept, "metrics": {"rel_diff": "big"}}, {**kept, "extra": 1}):
        store.store("confirm", key, json.dumps(forged).encode())  # signed: only the field check stands in the way
        before = len(worker)
        check("model.keras")
        assert len(worker) == before + 1, forged


# --- the real worker --------------------------------------------------------------------------------------

COUNTING = textwrap.dedent("""\
    import json, sys
    from click.testing import CliRunner
    from bnlint.cli import cli
    from bnlint.confirm import runner
    launches = []
    real = runner.run_worker
    runner.run_worker = lambda *args, **kwargs: launches.append(1) or real(*args, **kwargs)
    result = CliRunner().invoke(cli, sys.argv[1:])
    print(json.dumps({"launches": len(launches), "report": json.loads(result.output), "exit": result.exit_code,
                      "imported": sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules)}))
    """)


@pytest.mark.tf
def test_the_real_worker_is_not_started_again_and_tensorflow_not_imported(project):
    def bnlint_check() -> dict:
        done = subprocess.run([sys.executable, "-c", COUNTING, "check", "--confirm", "--format", "json", "model.keras",
                               "--sample", "sample.npy"], capture_output=True, text=True, cwd=project, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.splitlines()[-1])

    first = bnlint_check()
    assert first["launches"] == 1 and first["report"]["findings"]
    assert {f["confirmation"]["status"] for f in first["report"]["findings"]} == {"confirmed"}
    second = bnlint_check()
    assert (second["launches"], second["imported"]) == (0, [])
    assert confirmations(second["report"]) == confirmations(first["report"])
    np.save(project / "sample.npy", np.load(project / "sample.npy") + 1)
    assert bnlint_check()["launches"] == 1
    _resave(project / "model.keras", date="2026-02-02@00:00:00")
    changed = bnlint_check()
    assert changed["launches"] == 1
    assert {f["confirmation"]["status"] for f in changed["report"]["findings"]} == {"confirmed"}


def test_a_model_changed_while_the_worker_runs_is_not_kept(project, worker, monkeypatch):
    """The worker measured bytes the key was not made from: keeping its result would answer for
    the wrong model next time."""
    real = runner.run_worker

    def swapping(payload, timeout, memory_limit_mb):
        _resave(project / "model.keras", date="2030-01-01@00:00:00")
        return real(payload, timeout, memory_limit_mb)

    monkeypatch.setattr(runner, "run_worker", swapping)
    check("model.keras")
    assert list(project.glob(".bnlint_cache/??/confirm-*")) == []
