"""A Git LFS pointer in place of a model, notebook or script (a clone made without git-lfs) is
skipped with a note, like a weights checkpoint: not an error, exit status 0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint.cli import cli
from bnlint.not_models import LFS_POINTER_REASON, lfs_pointer

MODELS = Path(__file__).resolve().parent / "fixtures" / "models"
POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:539fb746ed9e947eb244cfca73f4d1b03f9bf5524d609eeed2cd76ddb1b179be\n"
    b"size 1477712\n"
)


def run(*args: str):
    return CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", *args], catch_exceptions=False)


def test_pointers_of_every_kind_are_skipped_with_a_note(repository):
    for name in ("datasets/train_signs.h5", "model.keras", "weights.hdf5", "Residual_Networks.ipynb", "train.py"):
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_bytes(POINTER)
    (repository / "export").mkdir()
    (repository / "export" / "saved_model.pb").write_bytes(POINTER)  # a SavedModel whose graph is a pointer
    (repository / "export" / "variables").mkdir()
    result = run(".")
    assert result.exit_code == 0, result.output
    assert "Skipped 6 inputs that hold nothing to check (weights, exports, Git LFS pointers;" in result.stdout
    verbose = run(".", "--verbose")
    assert f"datasets/train_signs.h5: {LFS_POINTER_REASON}" in verbose.stderr
    report = json.loads(run(".", "--format", "json").stdout)
    assert report["errors"] == []
    assert sorted(s["path"] for s in report["skipped"]) == [
        "Residual_Networks.ipynb", "datasets/train_signs.h5", "export", "model.keras", "train.py", "weights.hdf5"]
    assert {s["message"] for s in report["skipped"]} == {LFS_POINTER_REASON}
    assert "git lfs pull" in LFS_POINTER_REASON


def test_a_pointer_beside_real_inputs_leaves_them_checked(repository):
    (repository / "train_signs.h5").write_bytes(POINTER)
    shutil.copy(MODELS / "k3_weights_only.weights.h5", repository / "ckpt.weights.h5")
    (repository / "train.py").write_text(
        "import tf_keras as keras\nbase = keras.applications.ResNet50(weights=None, include_top=False)\n"
        "base.trainable = False\ninputs = keras.Input((64, 64, 3))\nmodel = keras.Model(inputs, base(inputs))\n"
        "model.compile(optimizer='adam', loss='mse')\nmodel.fit(images, labels)\n"
    )
    report = json.loads(run(".", "--format", "json").stdout)
    assert [f["rule"] for f in report["findings"]] == ["BN001"] and report["errors"] == []
    assert sorted((s["path"], s["message"].split(",")[0]) for s in report["skipped"]) == [
        ("ckpt.weights.h5", "skipped: a weights checkpoint (save_weights())"), ("train_signs.h5", "skipped: a Git LFS pointer")]


def test_a_broken_file_that_is_not_a_pointer_is_still_an_error(repository):
    (repository / "model.h5").write_bytes(b"version 2 of nothing\n")
    (repository / "notes.ipynb").write_bytes(b"version https://example.com/not-lfs\n")
    result = run(".")
    assert result.exit_code == 2
    assert "model.h5: not an HDF5 file" in result.stderr and "notes.ipynb: the notebook is not valid JSON" in result.stderr


@pytest.mark.parametrize(("head", "pointer"), [
    (POINTER, True),
    (b"version https://hawser.github.com/spec/v1\noid sha256:00\nsize 1\n", True),  # git-lfs's pre-release spelling
    (b"version http://git-media.io/v/2\n", True),
    (b"\x89HDF\r\n\x1a\n", False),
    (b"version https://git-lfs.github.com/spec/v2\n", False),
    (b"# version https://git-lfs.github.com/spec/v1\n", False),
    (b"", False),
])
def test_lfs_pointer_reads_the_first_bytes(head, pointer):
    assert (lfs_pointer(head) is not None) is pointer


def test_only_the_first_bytes_of_a_model_are_read(repository, monkeypatch):
    import bnlint.not_models as not_models

    reads = []
    real = not_models.safe_io.open_regular

    def recording(path):
        handle = real(path)
        original = handle.read
        handle.read = lambda size=-1: reads.append(size) or original(size)
        return handle

    monkeypatch.setattr(not_models.safe_io, "open_regular", recording)
    (repository / "big.h5").write_bytes(POINTER + b"x" * 10_000_000)  # a pointer-like header on a large file
    assert not_models.skip_reason(repository / "big.h5", "h5") == LFS_POINTER_REASON
    assert reads and all(0 < size <= 64 for size in reads)
