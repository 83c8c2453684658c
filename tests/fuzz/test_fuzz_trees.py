"""Fuzzing what the walk finds and where bnlint writes: odd trees, special files, odd names, output
paths, and `--sample` files (see fuzz_harness for the invariants)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import fuzz_inputs as inputs
import pytest
from fuzz_harness import Scenario, snapshot
from fuzz_strategies import tree_plans
from hypothesis import given


def all_names(root: Path) -> set[str]:
    """Every path under `root` as bnlint displays it for `.`, and with its control characters escaped."""
    names = set()
    for entry in snapshot(root):
        names |= {entry, entry.encode("unicode_escape").decode("ascii"), repr(entry)[1:-1], os.fsencode(entry).decode("utf-8", "backslashreplace")}
    return names


def test_special_files_and_loops_in_the_tree(tmp_path, deep_folder):
    s = Scenario(tmp_path)
    os.mkfifo(s.tree / "fifo.py")
    (s.tree / "zero.py").symlink_to("/dev/zero")
    (s.tree / "loop").symlink_to(".")
    (s.tree / "a").mkdir()
    (s.tree / "a" / "up").symlink_to("..")
    (deep_folder(s.tree, 1000) / "bottom.py").write_text(inputs.TRAINING_SCRIPT)
    s.expect.inputs |= all_names(s.tree)
    s.run()


def test_odd_file_names(tmp_path):
    s = Scenario(tmp_path)
    for name in ("two\nlines.py", "ctrl\x1b[2J.py", "tab\tbed.py", "-o.py", " spaced .py"):
        (s.tree / name).write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(x)\ndef broken(:\n")
    (s.tree / os.fsdecode(b"bad\xff.py")).write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(x)\ndef broken(:\n")
    s.expect.inputs |= all_names(s.tree)
    run = s.run()
    assert len(run.error_lines) == 6, run.describe()  # one line each, none split by the name it prints
    for output_format in ("text", "sarif", "github"):
        s.run("check", "--no-confirm", "--format", output_format, ".")


def test_output_paths(tmp_path):
    s = Scenario(tmp_path)
    s.add("train.py", bad=False).write_text(inputs.TRAINING_SCRIPT)
    for option, target in (("--output", "train.py"), ("--write-baseline", "train.py"), ("--output", "canary.h5"),
                           ("--output", str(tmp_path / "missing" / "report.json")), ("--output", "/dev/full")):
        s.run("check", "--no-confirm", option, target, ".", expect_more={"usage_error": True})


@pytest.mark.parametrize("sample", ["corrupt.npz", "header_claims_10_12.npy", "inflates_1_5_gib.npz", "pickled.npy"])
def test_hostile_samples(tmp_path, sample):
    import numpy as np

    s = Scenario(tmp_path, canary=False)
    path = tmp_path / sample
    if sample == "corrupt.npz":
        path.write_bytes(b"PK\x03\x04" + os.urandom(300))
    elif sample == "header_claims_10_12.npy":
        path.write_bytes(inputs.npy_header_claiming(10**12))
    elif sample == "inflates_1_5_gib.npz":
        path.write_bytes(inputs.npz_inflating_to(1536))
    else:
        np.save(path, np.array([object()], dtype=object), allow_pickle=True)
    inputs.canary(s.tree)
    s.expect.inputs.add("canary.h5")
    s.run("explain", "canary.h5", "--sample", str(path), expect_more={"usage_error": True}, limit_memory=False)


@given(tree_plans())
def test_generated_trees(plan):
    folder = tempfile.TemporaryDirectory(prefix="bnlint-fuzz-")
    with folder:
        s = Scenario(Path(folder.name))
        inputs.build_tree(s.tree, plan)
        s.expect.inputs |= all_names(s.tree)
        s.run()
