"""The scan pipeline: the content-hash cache and parallel jobs give the same report as a plain run."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import replace

import pytest

from bnlint import scan as scan_module
from bnlint.config import Settings
from bnlint.scan import scan

# Keras 3 by default: fine-tuning without keeping the BN layers frozen (BN004); CLEAN never unfreezes.
BUGGY = """\
import keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
model = keras.Model(inputs, base(inputs))
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
base.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""
CLEAN = BUGGY.split("base.trainable = True")[0]


@pytest.fixture
def project(repository):
    for i in range(6):
        (repository / f"train_{i}.py").write_text(BUGGY if i % 2 else CLEAN)
    scan_module.from_pins.cache_clear()
    return repository


def _summary(report):
    return [(f.path, f.rule, f.line, f.runtime.target) for f in report.findings], [str(e) for e in report.errors]


def _count_frontend_calls(monkeypatch) -> list:
    calls = []
    real = scan_module._read_unit

    def counting(item, resolved, job, data=None):
        calls.append(item.display)
        return real(item, resolved, job, data)

    monkeypatch.setattr(scan_module, "_read_unit", counting)
    return calls


def test_an_unchanged_file_is_not_analysed_twice(project, monkeypatch):
    settings = Settings(cache_dir=project / "cache", jobs=1)
    first = scan(["."], settings)
    calls = _count_frontend_calls(monkeypatch)
    second = scan(["."], settings)
    assert calls == []
    assert _summary(second) == _summary(first)
    assert len(first.findings) == 3
    assert (project / "cache" / ".gitignore").is_file()  # the cache folder ignores itself


def test_a_changed_file_or_changed_pins_are_analysed_again(project, monkeypatch):
    settings = Settings(cache_dir=project / "cache", jobs=1)
    scan(["."], settings)
    calls = _count_frontend_calls(monkeypatch)
    (project / "train_1.py").write_text(BUGGY + "\n# edited\n")
    scan(["."], settings)
    assert calls == ["train_1.py"]
    calls.clear()
    (project / "requirements.txt").write_text("tensorflow==2.15.0\n")
    scan_module.from_pins.cache_clear()
    report = scan(["."], settings)
    assert len(calls) == 6  # the runtime of every file changed
    assert {f.runtime.target for f in report.findings} == {"keras2"}


def test_a_file_skipped_for_its_imports_is_read_again_when_one_of_them_changes(tmp_path, monkeypatch):
    # train.py trains; the module it imports did not freeze anything, so train.py was not read.
    # Once the module freezes the base, the cached "nothing here" no longer holds.
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("from builder import build\nmodel = build()\nmodel.fit(images, labels)\n")
    builder = BUGGY.replace("model.fit(images, labels)", "").replace("base.trainable = True\n", "")
    (tmp_path / "builder.py").write_text("def build():\n    pass\n")
    settings = Settings(cache_dir=tmp_path / "cache", jobs=1, target_runtime="keras2")
    assert scan(["train.py"], settings).findings == []
    (tmp_path / "builder.py").write_text("def build():\n" + textwrap.indent(builder, "    ") + "    return model\n")
    report = scan(["train.py"], settings)
    assert [(f.rule, f.path, f.verdict) for f in report.findings] == [("BN001", "builder.py", "latent")]


def test_a_corrupt_or_deleted_cache_is_a_miss(project, monkeypatch):
    settings = Settings(cache_dir=project / "cache", jobs=1)
    expected = _summary(scan(["."], settings))
    for entry in (project / "cache").rglob("scan-*"):
        entry.write_text("{not json")
    calls = _count_frontend_calls(monkeypatch)
    assert _summary(scan(["."], settings)) == expected
    assert len(calls) == 6
    shutil.rmtree(project / "cache")
    assert _summary(scan(["."], settings)) == expected


def test_no_cache_writes_nothing(project):
    scan(["."], Settings(cache=False, cache_dir=project / "cache", jobs=1))
    assert not (project / "cache").exists()


def test_cached_findings_keep_everything_the_json_contract_needs(project):
    settings = Settings(cache_dir=project / "cache", jobs=1)
    fresh = [f.to_json() for f in scan(["."], settings).findings]
    cached = [f.to_json() for f in scan(["."], settings).findings]
    assert json.dumps(cached, sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_parallel_jobs_give_the_same_report(project, monkeypatch):
    (project / "broken.py").write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(:\n")
    serial = scan(["."], Settings(cache=False, jobs=1))
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 1)
    parallel = scan(["."], replace(Settings(cache=False), jobs=2))
    assert _summary(parallel) == _summary(serial)
    assert serial.errors and serial.files_scanned == parallel.files_scanned == 7
