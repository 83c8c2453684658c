"""A notebook records the runtime it ran on in its stored outputs: Keras 2's `[=====]` progress bars
and Keras 3's `━━━━` ones, printed `tf.__version__`, library paths in warnings and tracebacks
(`keras/engine/`, `tensorflow_core/`, `keras/src/backend/`), the Python of those paths.

That evidence counts after the code and the project's pins (outputs may be older than both) and
before what is installed; outputs that disagree say nothing; only a bounded part is read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bnlint import api
from bnlint.cli import cli
from bnlint.frontends.python import outputs
from bnlint.frontends.python.outputs import recorded_runtime
from bnlint.ir import Runtime
from bnlint.runtime import Keras3RuledOut

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"

KERAS2_BAR = "1875/1875 [==============================] - 5s 3ms/step - loss: 0.2974 - accuracy: 0.9137\n"
KERAS3_BAR = "\x1b[1m1875/1875\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m5s\x1b[0m 3ms/step - accuracy: 0.9137\n"


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def cells(*outputs: list, source: str = "model.fit(x, y)") -> list[tuple[int, object, object]]:
    return [(index, source, output) for index, output in enumerate(outputs, start=1)]


def recorded(*outputs: list, source: str = "model.fit(x, y)") -> tuple[str, str] | None:
    found = recorded_runtime(cells(*outputs, source=source))
    return (found.target, found.source) if found else None


# --- what the outputs say ----------------------------------------------------------------------


@pytest.mark.parametrize(("output", "expected"), [
    (stream(KERAS2_BAR), ("keras2", "a Keras 2 progress bar in cell 1's output")),  # legacy or keras2: pins choose
    (stream(KERAS3_BAR), ("keras3", "a Keras 3 progress bar in cell 1's output")),
    # A download through keras.utils.get_file draws Keras's own bar.
    (stream("Downloading data from https://example.com/x.npz\n\x1b[1m11490434/11490434\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━"
            "\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 0us/step\n"), ("keras3", "a Keras 3 progress bar in cell 1's output")),
    # pip's and wget's bars are not Keras's.
    (stream("   ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1.2/1.2 MB 20.5 MB/s eta 0:00:00\n"), None),
    (stream("/tmp/cats_and_dogs_ 100%[===================>]  65.43M  49.7MB/s    in 1.3s\n"), None),
    ({"output_type": "error", "ename": "ValueError", "evalue": "bad",
      "traceback": ["\x1b[0;32m/usr/local/lib/python3.10/dist-packages/keras/src/backend/tensorflow/trainer.py\x1b[0m in fit"]},
     ("keras3", "keras/src/backend/ in cell 1's output")),
    (stream("/opt/conda/lib/python3.11/site-packages/keras/src/engine/training.py:3000: UserWarning: ...\n"),
     ("keras2", "keras/src/engine/ in cell 1's output")),  # Keras 2.13-2.15
    (stream("/usr/local/lib/python3.10/dist-packages/tf_keras/src/engine/training.py:3103: UserWarning: ...\n"),
     ("keras2", "tf_keras/ in cell 1's output")),
    (stream("WARNING:tensorflow:From /usr/local/lib/python3.8/dist-packages/tensorflow/python/keras/engine/training.py:1844\n"),
     ("keras2", "keras/engine/ in cell 1's output")),  # TF <= 2.5 on Python 3.8: Keras 3 ruled out
    (stream("C:\\Users\\me\\Anaconda3\\envs\\dl\\lib\\site-packages\\keras\\engine\\training.py:2325: UserWarning\n"),
     ("keras2", "keras/engine/ in cell 1's output")),
    (stream("/usr/local/lib/python3.6/dist-packages/sklearn/utils/deprecation.py:144: FutureWarning\n"),
     ("keras2", "Python 3.6 in cell 1's output")),
    (stream("/usr/local/lib/python2.7/dist-packages/sklearn/utils/deprecation.py:144: FutureWarning\n"),
     ("legacy", "Python 2.7 in cell 1's output")),  # no TensorFlow after 2.1 runs on Python 2
    (stream("/usr/local/lib/python3.6/dist-packages/tensorflow_core/python/keras/engine/training.py\n"),
     ("legacy", "tensorflow_core/ in cell 1's output")),  # TensorFlow 1.15-2.1 only
])
def test_what_one_output_says(output, expected):
    assert recorded([output]) == expected


def test_keras2_bars_rule_keras3_out_and_leave_legacy_or_keras2_to_the_pins():
    assert isinstance(recorded_runtime(cells([stream(KERAS2_BAR)])), Keras3RuledOut)


@pytest.mark.parametrize(("source", "printed", "expected"), [
    ("import tensorflow as tf\nprint(tf.__version__)", "2.1.0\n", ("legacy", "tf.__version__ 2.1.0 printed in cell 1's output")),
    ("tf.__version__", "'2.3.0'", ("keras2", "tf.__version__ 2.3.0 printed in cell 1's output")),
    ("print(tf.version.VERSION)", "2.16.1\n", ("keras3", "tf.version.VERSION 2.16.1 printed in cell 1's output")),
    ("print(keras.__version__)", "2.2.4-tf\n", ("legacy", "keras.__version__ 2.2.4-tf printed in cell 1's output")),
    ("print(tf.keras.__version__)", "2.4.0\n", ("keras2", "tf.keras.__version__ 2.4.0 printed in cell 1's output")),
    ("print(np.__version__, tf.__version__)", "1.18.5 2.3.0\n", ("keras2", "tf.__version__ 2.3.0 printed in cell 1's output")),
    # As many versions printed as named, or nothing: which one would be TensorFlow's?
    ("print(tf.__version__)\n!pip list | grep numpy", "2.3.0\nnumpy 1.18.5\n", None),
    ("print(np.__version__)", "1.18.5\n", None),
])
def test_printed_versions(source, printed, expected):
    assert recorded([stream(printed) if not printed.startswith("'") else
                     {"output_type": "execute_result", "data": {"text/plain": printed}, "metadata": {}}], source=source) == expected


def test_outputs_of_different_runs_say_nothing():
    assert recorded([stream(KERAS2_BAR)], [stream(KERAS3_BAR)]) is None
    assert recorded([stream("/usr/lib/python3.6/site-packages/keras/engine/x.py\n")],
                    [stream("/usr/lib/python3.11/site-packages/keras/src/trainers/x.py\n")]) is None


def test_agreeing_evidence_names_the_most_precise():
    found = recorded([stream(KERAS2_BAR)], [stream("2.4.1\n")], source="print(tf.__version__)")
    assert found == ("keras2", "tf.__version__ 2.4.1 printed in cell 2's output")


def test_only_the_budget_is_read(monkeypatch):
    budget = outputs._patterns().budget
    log = "x" * budget  # a huge log first: what follows is beyond the budget
    assert recorded([stream(log)], [stream(KERAS3_BAR)]) is None
    assert recorded([stream(log[: budget - 200])], [stream(KERAS3_BAR)]) == ("keras3", "a Keras 3 progress bar in cell 2's output")


def test_images_and_html_are_never_read():
    image = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo" + "A" * 1000, "text/html": KERAS3_BAR},
             "metadata": {}}
    assert recorded([image]) is None


def test_malformed_outputs_are_ignored():
    assert recorded_runtime([(1, None, "not a list"), (2, 3, [None, 1, {"text": 5}, {"data": []}]),
                             (3, ["print(tf.__version__)", 7], [{"text": ["2.3.0", None]}])]) == \
        Runtime("keras2", "tf.__version__ 2.3.0 printed in cell 3's output")


# --- where it ranks: the notebooks in tests/fixtures/notebooks, scanned as a user would ----------


def scan(folder: Path, *names: str) -> dict:
    result = CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--format", "json", *names])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.output)
    findings = {(f["path"], f["rule"], f["verdict"]) for f in data["findings"]}
    return {"files": {f["path"]: (f["runtime"]["target"], f["runtime"]["source"]) for f in data["files"]}, "findings": findings}


@pytest.fixture
def notebooks(repository):
    for fixture in FIXTURES.glob("*.ipynb"):
        shutil.copy(fixture, repository / fixture.name)
    return repository


def test_a_notebook_without_pins_is_judged_by_what_it_ran(notebooks, installed):
    installed.set(keras="3.15.1", tensorflow="2.21.0")  # outputs rank before what is installed
    found = scan(notebooks, ".")
    assert found["files"] == {
        "keras2_progress_bars.ipynb": ("keras2", "a Keras 2 progress bar in cell 3's output"),
        "keras3_progress_bars.ipynb": ("keras3", "a Keras 3 progress bar in cell 3's output"),
        "tensorflow_core_traceback.ipynb": ("legacy", "tensorflow_core/ in cell 3's output"),
        # Its Python 3.7 kernel rules Keras 3 out; the version it printed says which older Keras.
        "tf21_version_printed.ipynb": ("legacy", "Python 3.7.6 kernel (notebook metadata), "
                                                 "tf.__version__ 2.1.0 printed in cell 1's output"),
    }
    # tf.keras 2 latent; Keras 3 nothing to fix until it is unfrozen; legacy active.
    assert found["findings"] == {
        ("keras2_progress_bars.ipynb", "BN001", "latent"),
        ("tensorflow_core_traceback.ipynb", "BN001", "active"),
        ("tf21_version_printed.ipynb", "BN001", "active"),
    }


def test_keras2_bars_with_legacy_pins_are_legacy(notebooks):
    (notebooks / "requirements.txt").write_text("tensorflow==2.1.0\n")  # pins come first, and choose
    found = scan(notebooks, "keras2_progress_bars.ipynb")
    assert found["files"] == {"keras2_progress_bars.ipynb": ("legacy", "requirements.txt: tensorflow==2.1.0")}


def test_the_pins_say_what_the_project_runs_now_whatever_older_outputs_show(notebooks):
    (notebooks / "requirements.txt").write_text("keras>=3.0\ntensorflow>=2.16\n")
    found = scan(notebooks, "keras2_progress_bars.ipynb")
    assert found["files"] == {"keras2_progress_bars.ipynb": ("keras3", "requirements.txt: keras>=3.0")}
    assert found["findings"] == set()


def test_the_code_says_what_it_runs_now_whatever_older_outputs_show(notebooks):
    data = json.loads((notebooks / "keras3_progress_bars.ipynb").read_text(encoding="utf-8"))
    data["cells"][0]["source"] = ["import os\n", "os.environ['TF_USE_LEGACY_KERAS'] = '1'\n", *data["cells"][0]["source"]]
    (notebooks / "keras3_progress_bars.ipynb").write_text(json.dumps(data), encoding="utf-8")
    found = scan(notebooks, "keras3_progress_bars.ipynb")
    assert found["files"]["keras3_progress_bars.ipynb"][0] == "keras2"
    assert found["findings"] == {("keras3_progress_bars.ipynb", "BN001", "latent")}


def test_code_that_only_rules_keras3_out_is_settled_by_a_version_the_outputs_print():
    code = json.loads((FIXTURES / "tf21_version_printed.ipynb").read_text(encoding="utf-8"))
    code["cells"][-1]["source"] = ["history = model.fit_generator(train_batches, epochs=2)"]
    code["metadata"] = {}  # no kernel version: only the code and the outputs speak
    (finding,) = api.lint_source(json.dumps(code), kind="notebook")
    assert finding.runtime == Runtime("legacy", "fit_generator() (cell 3, line 1), tf.__version__ 2.1.0 printed in cell 1's output")
    assert finding.verdict == "active"


def test_a_standalone_keras_notebook_on_an_old_kernel_is_legacy():
    notebook = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"language_info": {"name": "python", "version": "3.6.9"}},
                "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, "source": (
                    "from keras.applications import ResNet50\nfrom keras.layers import Dense, Input\nfrom keras.models import Model\n"
                    "base = ResNet50(include_top=False, pooling='avg')\nbase.trainable = False\ninputs = Input((224, 224, 3))\n"
                    "model = Model(inputs, Dense(5)(base(inputs)))\nmodel.compile('adam', 'mse')\nmodel.fit(x, y)\n")}]}
    (finding,) = api.lint_source(json.dumps(notebook), kind="notebook")
    # Standalone Keras on Python 3.6 is Keras <= 2.3 (legacy), as a call of the Keras 2 API is.
    assert (finding.runtime.target, finding.runtime.source, finding.verdict) == (
        "legacy", "Python 3.6.9 kernel (notebook metadata)", "active")
