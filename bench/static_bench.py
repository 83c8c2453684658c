"""Benchmark the static path against its floors; prints ratios (no pass/fail: read the numbers).

    python bench/static_bench.py --corpus DIR [--repeat 3]      # real code (the figure that counts)
    python bench/static_bench.py [--files 2000] [--models 200] [--repeat 3]   # generated corpora

- real code (`--corpus DIR`): DIR holds real repositories, one folder each (bench/corpus.tsv lists
  the 33 public repositories and commits the README's figures were measured on, and
  bench/corpus_second.tsv 20 more that bnlint was never tuned on: clone each into DIR at that
  commit). `bnlint check DIR` in one process, single job, no cache, against one process
  that only `ast.parse`s the same `.py` files and notebooks (code cells joined); CPU time of each
  whole process, best of --repeat runs;
- scripts: `bnlint check` on a corpus of Python files (the standard library's own modules plus
  generated Keras training scripts) against one process that only `ast.parse`s the same files;
- saved models: `bnlint check` on real application configs (built with the installed Keras) and
  the test fixtures (.keras, .h5) against one process that only opens each zip / HDF5 file and
  `json.loads` its model config;
- scale: the same script corpus with `--jobs 2` and with a warm cache.

Every measurement is a fresh process, best of --repeat runs, so interpreter start-up is in both
the floor and bnlint's time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "models"

KERAS_SCRIPT = '''\
import {keras_import}
import numpy as np

base = {keras}.applications.{arch}(weights=None, include_top=False, input_shape=(96, 96, 3))
base.trainable = False

def build_head(features, classes={classes}):
    x = {keras}.layers.GlobalAveragePooling2D()(features)
    x = {keras}.layers.Dropout(0.2)(x)
    return {keras}.layers.Dense(classes, activation="softmax")(x)

inputs = {keras}.Input((96, 96, 3))
features = base(inputs{training})
model = {keras}.Model(inputs, build_head(features))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(np.zeros((8, 96, 96, 3)), np.zeros((8,)), epochs={epochs})
base.trainable = True
{recompile}model.fit(np.zeros((8, 96, 96, 3)), np.zeros((8,)), epochs={epochs})
'''

FLOOR_SCRIPTS = "import ast, sys\nfor f in open(sys.argv[1]).read().split('\\n'):\n    ast.parse(open(f, 'rb').read())\n"

# Parse every script and notebook of a real corpus, as bnlint would find them (hidden folders
# skipped); files that do not parse are skipped too, as they cost bnlint nothing more either.
FLOOR_CORPUS = """\
import ast, json, os, sys
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    for name in sorted(files):
        path = os.path.join(folder, name)
        try:
            if name.endswith('.py'):
                source = open(path, 'rb').read()
            elif name.endswith('.ipynb'):
                nb = json.load(open(path, encoding='utf-8'))
                cells = nb.get('cells') or [c for ws in nb.get('worksheets', []) for c in ws.get('cells', [])]
                texts = [c.get('source', c.get('input', '')) for c in cells if c.get('cell_type') == 'code']
                source = '\\n'.join(''.join(t) if isinstance(t, list) else t for t in texts)
            else:
                continue
            ast.parse(source)
        except Exception:
            pass
"""

FLOOR_MODELS = """\
import json, sys, zipfile
for f in open(sys.argv[1]).read().split('\\n'):
    if f.endswith('.keras'):
        with zipfile.ZipFile(f) as z:
            json.loads(z.read('config.json'))
            json.loads(z.read('metadata.json'))
    else:
        import h5py
        with h5py.File(f, 'r') as h:
            json.loads(h.attrs['model_config'])
"""


def make_script_corpus(target: Path, count: int) -> list[Path]:
    """Half standard-library modules (ordinary code), half generated Keras training scripts."""
    rng = random.Random(0)
    stdlib = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    files = []
    for i in range(count):
        path = target / f"pkg{i % 20}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % 2 and stdlib:
            shutil.copyfile(stdlib[(i // 2) % len(stdlib)], path)
        else:
            keras, keras_import = rng.choice([("keras", "keras"), ("tf.keras", "tensorflow as tf"), ("keras", "tf_keras as keras")])
            path.write_text(KERAS_SCRIPT.format(
                keras=keras, keras_import=keras_import,
                arch=rng.choice(["ResNet50", "MobileNetV2", "EfficientNetB0", "VGG16", "DenseNet121"]),
                classes=rng.randint(2, 100), epochs=rng.randint(1, 5),
                training=rng.choice(["", ", training=False"]),
                recompile=rng.choice(["", 'model.compile(optimizer="adam", loss="mse")\n'])))
        files.append(path)
    return files


BUILD_APPLICATIONS = """\
import sys, zipfile, keras
from pathlib import Path
out = Path(sys.argv[1])
for name in ("ResNet50", "MobileNetV2", "EfficientNetB0", "DenseNet121"):
    base = getattr(keras.applications, name)(weights=None, include_top=False, input_shape=(96, 96, 3))
    base.trainable = False
    inputs = keras.Input((96, 96, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    full = out / f"{name}.full.keras"
    keras.Model(inputs, outputs).save(full)
    # Keep what bnlint (and the floor) read: the weights are never opened by either.
    with zipfile.ZipFile(full) as src, zipfile.ZipFile(out / f"{name}.keras", "w", zipfile.ZIP_DEFLATED) as dst:
        for member in ("config.json", "metadata.json"):
            dst.writestr(member, src.read(member))
    full.unlink()
"""


def make_model_corpus(target: Path, count: int) -> list[Path]:
    """Real application configs (ResNet50, MobileNetV2, EfficientNetB0, DenseNet121 built with the
    installed Keras, weights stripped) and the small test fixtures, copied up to `count` files."""
    target.mkdir(parents=True, exist_ok=True)
    built = target / "built"
    built.mkdir()
    subprocess.run([sys.executable, "-c", BUILD_APPLICATIONS, str(built)], check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True)
    sources = sorted(built.glob("*.keras"))
    sources += sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".keras", ".h5") and p.is_file() and ".weights." not in p.name)
    files = []
    for i in range(count):
        source = sources[i % len(sources)]
        path = target / f"model_{i}{source.suffix}"
        shutil.copyfile(source, path)
        files.append(path)
    shutil.rmtree(built)
    return files


IN_PROCESS = """\
import json, sys, time, zipfile
from bnlint.config import Settings
from bnlint.scan import scan
files = open(sys.argv[1]).read().split("\\n")
def floor():
    import h5py
    for f in files:
        if f.endswith(".keras"):
            with zipfile.ZipFile(f) as z:
                json.loads(z.read("config.json")); json.loads(z.read("metadata.json"))
        else:
            with h5py.File(f, "r") as h:
                json.loads(h.attrs["model_config"])
settings = Settings(cache=False, jobs=1)
floor(); scan(files, settings)  # warm: imports, rule loading, page cache
best = [min(timed() for _ in range(int(sys.argv[2]))) for timed in (
    lambda: -time.perf_counter() + (floor(), time.perf_counter())[1],
    lambda: -time.perf_counter() + (scan(files, settings), time.perf_counter())[1])]
print(*best)
"""


def in_process(repeat: int, listing: Path) -> tuple[float, float]:
    """Floor and bnlint within one warm process: the per-file cost, without start-up."""
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(listing), str(repeat)], capture_output=True, text=True, check=True)
    floor, scanned = map(float, out.stdout.split())
    return floor, scanned


def cpu_of(repeat: int, command: list[str], cwd: Path) -> float:
    """The least user+system CPU time of the command over `repeat` runs (steadier than wall time
    on a machine doing other work)."""
    import resource

    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return min(times)


def real_corpus(corpus: Path, repeat: int) -> None:
    scripts = sum(1 for _ in corpus.rglob("*.py"))
    notebooks = sum(1 for _ in corpus.rglob("*.ipynb"))
    floor = cpu_of(repeat, [sys.executable, "-c", FLOOR_CORPUS, "."], corpus)
    one = cpu_of(repeat, bnlint(".", "--no-cache", "--jobs", "1"), corpus)
    print(f"real code: {corpus} ({scripts} scripts, {notebooks} notebooks)")
    print(f"  ast.parse floor (1 process, CPU)   {floor:7.3f} s")
    print(f"  bnlint --jobs 1 --no-cache (CPU)   {one:7.3f} s   ratio {one / floor:5.2f}x   (target <= 1.3x)")


def best_of(repeat: int, command: list[str], cwd: Path) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return min(times)


def bnlint(*args: str) -> list[str]:
    return [sys.executable, "-m", "bnlint", "check", "--no-confirm", "--exit-zero", "--format", "json", "-o", os.devnull, *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, help="a folder of real repositories: measure on real code only")
    args = parser.parse_args()
    if args.corpus is not None:
        real_corpus(args.corpus.resolve(), args.repeat)
        return

    with tempfile.TemporaryDirectory(prefix="bnlint-bench-") as tmp:
        work = Path(tmp)
        scripts = make_script_corpus(work / "scripts", args.files)
        models = make_model_corpus(work / "models", args.models)
        (work / "scripts.txt").write_text("\n".join(map(str, scripts)))
        (work / "models.txt").write_text("\n".join(map(str, models)))
        cache = work / "cache"

        floor = best_of(args.repeat, [sys.executable, "-c", FLOOR_SCRIPTS, str(work / "scripts.txt")], work)
        one = best_of(args.repeat, bnlint("scripts", "--no-cache", "--jobs", "1"), work)
        two = best_of(args.repeat, bnlint("scripts", "--no-cache", "--jobs", "2"), work)
        subprocess.run(bnlint("scripts", "--cache-dir", str(cache), "--jobs", "1"), cwd=work, check=False)
        warm = best_of(args.repeat, bnlint("scripts", "--cache-dir", str(cache), "--jobs", "1"), work)
        model_floor = best_of(args.repeat, [sys.executable, "-c", FLOOR_MODELS, str(work / "models.txt")], work)
        model_scan = best_of(args.repeat, bnlint("models", "--no-cache", "--jobs", "1"), work)
        warm_floor, warm_scan = in_process(args.repeat, work / "models.txt")
        (work / "empty").mkdir()
        startup = best_of(args.repeat, bnlint("empty", "--no-cache"), work)

    print(f"scripts: {len(scripts)} files ({len(scripts) // 2 + len(scripts) % 2} Keras scripts, the rest stdlib modules)")
    print(f"  ast.parse floor (1 process)      {floor:7.3f} s")
    print(f"  bnlint --jobs 1 --no-cache       {one:7.3f} s   ratio {one / floor:5.2f}x   (target <= 1.3x)")
    print(f"  bnlint --jobs 2 --no-cache       {two:7.3f} s   ratio {two / floor:5.2f}x   ({one / two:4.2f}x faster than --jobs 1)")
    print(f"  bnlint --jobs 1, warm cache      {warm:7.3f} s   ratio {warm / floor:5.2f}x")
    print(f"models: {len(models)} files (4 application configs built with Keras + the test fixtures, copied)")
    print(f"  zip/h5 + json.loads floor        {model_floor:7.3f} s")
    print(f"  bnlint --jobs 1                  {model_scan:7.3f} s   ratio {model_scan / model_floor:5.2f}x   (target <= 1.5x)")
    print(f"  in one warm process: floor {warm_floor:6.3f} s, bnlint {warm_scan:6.3f} s   ratio {warm_scan / warm_floor:5.2f}x   (per-file cost)")
    print(f"  bnlint start-up (empty folder)   {startup:7.3f} s")


if __name__ == "__main__":
    main()
