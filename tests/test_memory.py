"""A scan frees each file's syntax trees and facts by reference counting alone.

The command line runs with the automatic garbage collector off (`cli.main`, `scan._analyze_chunk`):
that is only safe while interpreting a file leaves no reference cycles behind. These tests scan
real-looking code (a multi-module project, classes with bases, closures, recursion, notebooks)
and count what a collection then finds.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

from bnlint.config import Settings
from bnlint.scan import scan

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Every construct the interpreter keeps state for: module and function scopes, closures and
# nested closures, classes with bases and methods, instances, lambdas, comprehensions, loops
# over layers, a recursive helper, a self-referencing list, a custom training step.
STRESS = '''\
import tensorflow as tf
from tensorflow import keras

def make_base(kind="resnet"):
    table = {"resnet": keras.applications.ResNet50, "mobile": keras.applications.MobileNetV2}
    return table[kind](weights=None, include_top=False)

class Head(keras.Model):
    def __init__(self, base):
        super().__init__()
        self.base = base
        self.dense = keras.layers.Dense(3)
    def call(self, x, training=None):
        return self.dense(self.base(x))

class Bigger(Head):
    def call(self, x, training=None):
        return super().call(x, training=training)

def freezer(model):
    def inner(layers):
        for layer in layers:
            layer.trainable = False
    inner(model.layers)
    return lambda: [l for l in model.layers if not isinstance(l, keras.layers.BatchNormalization)]

def walk(n):
    return walk(n - 1) if n > 0 else 0

loop = []
loop.append(loop)
base = make_base()
base.trainable = False
model = Bigger(base)
freezer(base)()
model.compile("adam", "mse")
model.fit(x, y)
base.trainable = True
model.compile("adam", "mse")
model.fit(x, y)

@tf.function
def step(x, y):
    with tf.GradientTape() as tape:
        loss = model(x, training=True)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
'''


def _cyclic_garbage_after(paths: list[str]) -> int:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        report = scan(paths, Settings(cache=False, jobs=1))
        assert report.findings  # the code was really interpreted
        del report
        return gc.collect()
    finally:
        if enabled:
            gc.enable()


def test_interpreting_a_project_leaves_no_reference_cycles(repository):
    shutil.copytree(FIXTURES / "project", repository / "project")
    (repository / "stress.py").write_text(STRESS)
    for name in ("finetune_buggy.py", "finetune_notebook.ipynb"):
        shutil.copy(EXAMPLES / name, repository / name)
    # A few objects may remain (the one list above that contains itself); a file's syntax tree,
    # interpreter and facts would be thousands.
    assert _cyclic_garbage_after(["."]) < 50


def test_cycles_a_file_leaves_are_collected_during_the_scan(repository, monkeypatch):
    import bnlint.scan as scan_module

    analyze = scan_module.analyze_input

    def leaving_cycles(item, job):
        ring = [[] for _ in range(10)]
        for this, following in zip(ring, ring[1:] + ring[:1]):
            this.append(following)  # ten lists in one cycle, unreachable once this returns
        return analyze(item, job)

    monkeypatch.setattr(scan_module, "analyze_input", leaving_cycles)
    monkeypatch.setattr(scan_module, "COLLECT_EVERY", 10)
    for number in range(35):
        (repository / f"train_{number}.py").write_text(STRESS)
    # 35 files, collected after the 10th, 20th and 30th: only the last 5 rings are left.
    assert _cyclic_garbage_after(["."]) < 100
