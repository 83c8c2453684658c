"""Benchmark the dynamic confirmation against its floor; prints the ratio (read the numbers).

    python bench/confirm_bench.py [--repeat 3] [--batch 8]

The model: a frozen `keras.applications.ResNet50(weights=None)` called without
`training=False` inside a small functional classifier, saved to a temporary `.keras` file
(one BN001 finding, layer_path "resnet50").

- floor: one fresh process that imports Keras, loads the model with `safe_mode=True` and runs
  one training-mode and one inference-mode pass on the same synthetic batch the confirmer uses;
- confirm: `bnlint check --confirm MODEL --format json` in a fresh process (static scan, safety
  screen, worker start, load, the active/latent checks and both remedies).

Best of --repeat runs each, so interpreter and TensorFlow start-up are in both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BUILD = """\
import sys, keras
base = keras.applications.ResNet50(weights=None)
base.trainable = False
inputs = keras.Input((224, 224, 3))
outputs = keras.layers.Dense(2)(base(inputs))
keras.Model(inputs, outputs).save(sys.argv[1])
"""

FLOOR = """\
import sys, keras, numpy as np
model = keras.saving.load_model(sys.argv[1], safe_mode=True, compile=False)
x = np.random.default_rng(0).standard_normal((int(sys.argv[2]), 224, 224, 3)).astype("float32")
model(x, training=True)
model(x, training=False)
"""


def _env() -> dict[str, str]:
    from bnlint.confirm.runner import worker_environment

    return worker_environment()  # the same TF settings for the floor and the worker


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="rows of the floor's batch (the confirmer's synthetic batch has 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "resnet50_frozen.keras"
        subprocess.run([sys.executable, "-c", BUILD, str(model)], check=True, capture_output=True, env=_env())
        floors, confirms, confirmation = [], [], None
        for _ in range(args.repeat):
            floors.append(_timed([sys.executable, "-c", FLOOR, str(model), str(args.batch)])[0])
            elapsed, stdout = _timed([sys.executable, "-m", "bnlint", "check", "--confirm", "--no-cache", "--format", "json", str(model)])
            confirms.append(elapsed)
            confirmation = json.loads(stdout)["findings"][0]["confirmation"]
    floor, confirm = min(floors), min(confirms)
    print(f"model: ResNet50(weights=None) frozen in a functional model, {model.name}")
    print(f"confirmation: {confirmation['status']} {confirmation['mode'] or ''} remedies={confirmation['remedies']}")
    print(f"floor   (import keras, load safe_mode=True, 1 train + 1 inference pass): {floor:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in floors)})")
    print(f"confirm (bnlint check --confirm, fresh process):                        {confirm:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in confirms)})")
    print(f"ratio: {confirm / floor:.2f}x  (target <= 1.3x)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
