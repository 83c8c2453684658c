"""Fuzzing the script and notebook frontends through the command line (see fuzz_harness for the invariants)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import fuzz_inputs as inputs
import pytest
from fuzz_harness import Scenario
from fuzz_strategies import notebook_documents, script_files
from hypothesis import given
from hypothesis import strategies as st


def scenario() -> tuple[Scenario, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="bnlint-fuzz-")
    return Scenario(Path(folder.name)), folder


# --- the hostile inputs issue 12 lists ----------------------------------------------------------------------

# A scan parses only what the rules could find something in (a freeze, a training call and a
# BatchNormalization constructor, from Keras): the hostile parts come after these lines, so that
# the scan has to read them.
TRAINS = "from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(x)\n"


def test_hostile_scripts(tmp_path):
    s = Scenario(tmp_path)
    body = "import keras\n" + "x = 1\n" * 20_000
    s.add("punycode.py").write_bytes(b"# coding: punycode\n" + body.encode())
    s.add("utf16_cookie.py").write_bytes(b"# coding: utf-16\n" + body.encode())
    s.add("unknown_cookie.py").write_bytes(b"# coding: nope\nimport keras\n")
    s.add("null_bytes.py").write_bytes(TRAINS.encode() + b"x = 1\0\n")
    s.add("not_utf8.py").write_bytes(b"import keras\nname = '\xff\xfe'\n")
    s.add("parentheses.py").write_text(TRAINS + "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n")
    s.add("flat_50_mib.py").write_bytes(TRAINS.encode() + b"x = 1\n" * (50 * 2**20 // 6))
    s.add("flat_70_mib.py").write_bytes(b"x = 1\n" * (70 * 2**20 // 6))  # refused before it is read
    s.add("payload.py", bad=False).write_text(f"import keras\n{inputs.payload_code(s.marker)}\n")
    s.add("cr_only.py", bad=False).write_bytes(inputs.TRAINING_SCRIPT.replace("\n", "\r").encode())
    run = s.run()
    messages = {e["path"]: e["message"] for e in run.report()["errors"]}
    assert messages["punycode.py"] == "unsupported source encoding 'punycode' (not a character set Python source may use)"
    assert messages["flat_50_mib.py"] == "too large to analyse (50.0 MiB of code; bnlint parses at most 2 MiB per file)"
    assert messages["flat_70_mib.py"] == f"too large to analyse ({6 * (70 * 2**20 // 6)} bytes, limit {64 * 2**20})"
    assert "at line None" not in json.dumps(messages)
    assert any(f["path"] == "cr_only.py" for f in run.report()["findings"]), "a script with CR line breaks is analysed"


# Script shapes whose *interpretation* once cost seconds to minutes (issue 12, "cost that explodes").
EXPLOSIONS = {
    "list_doubling": "import keras\nx = keras.Input((1,))\n" + "x = [x, x]\n" * 24,
    "tuple_doubling": "import keras\nx = keras.Input((1,))\n" + "x = (x, x)\n" * 24,
    "nested_loops": "import keras\nbase = keras.applications.ResNet50()\n" + "".join(
        "    " * depth + f"for v{depth} in [{', '.join(str(i) for i in range(16))}]:\n" for depth in range(5)) + "    " * 5 + "base.trainable = v4 > 3\n",
    "diamond_classes": "import keras\nclass C0(keras.Model):\n    pass\n" + "".join(
        f"class L{i}(C{i}):\n    pass\nclass R{i}(C{i}):\n    pass\nclass C{i + 1}(L{i}, R{i}):\n    pass\n" for i in range(36)) + "m = C36()\n",
    "helper_from_20000_sites": "import keras\ndef helper(m):\n    m.trainable = False\n    return m\n"
        + "base = keras.applications.ResNet50()\n" + "base = helper(base)\n" * 20_000,
    "compile_fit_20000": "import keras\nbase = keras.applications.ResNet50()\nmodel = keras.Sequential([base])\n"
        + "model.compile('adam')\nmodel.fit(x)\n" * 20_000,
    "toggles_20000": "import keras\nbase = keras.applications.ResNet50()\nmodel = keras.Sequential([base])\nmodel.compile('adam')\n"
        + "base.trainable = False\nbase.trainable = True\n" * 20_000 + "model.fit(x)\n",
    "script_3_mib": "import keras\n" + "base = keras.applications.ResNet50()\nbase.trainable = False\ny = base(keras.Input((8, 8, 3)))\n" * 36_000,
}


@pytest.mark.parametrize("name", sorted(EXPLOSIONS))
def test_scripts_whose_interpretation_explodes(tmp_path, name):
    s = Scenario(tmp_path, plant=False)
    s.add(f"{name}.py", bad=False).write_text(EXPLOSIONS[name])
    s.run("check", "--no-confirm", "--no-cache", "--format", "json", ".")


def test_hostile_notebooks(tmp_path):
    s = Scenario(tmp_path)
    s.add("malformed_worksheets.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": 5}]}))
    s.add("worksheets_not_dicts.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": [5, None]}))
    s.add("thousand_bad_cells.ipynb").write_text(inputs.notebook(TRAINS, *(["def broken(:\n"] * 1000)))
    s.add("deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    s.add("values_bomb.ipynb").write_text('{"cells": [' + "[]," * 3_000_000 + "[]]}")
    s.add("not_utf8.ipynb").write_bytes(b'{"cells": ["\xff"]}')
    s.add("surrogates.ipynb", bad=False).write_text(inputs.notebook("import keras\nname = '\\ud800'\nb = keras.applications.ResNet50()\n"))
    s.add("payload.ipynb", bad=False).write_text(inputs.notebook("import keras", inputs.payload_code(s.marker)))
    s.add("ipython_syntax.ipynb", bad=False).write_text(inputs.notebook(
        "%matplotlib inline\n!pip install -q tf-keras", "ls ./data", "  " + inputs.TRAINING_SCRIPT.replace("\n", "\n  ")))
    run = s.run()
    messages = {e["path"]: e["message"] for e in run.report()["errors"]}
    assert messages["thousand_bad_cells.ipynb"].startswith("1000 cells could not be parsed: cell 2 (syntax error at line 1: ")
    assert messages["thousand_bad_cells.ipynb"].endswith(", and 997 more")
    assert messages["malformed_worksheets.ipynb"] == "not a notebook: worksheet 1 has no list of cells"
    assert any(f["path"] == "ipython_syntax.ipynb" for f in run.report()["findings"]), "an indented cell is analysed"


# --- generated inputs ----------------------------------------------------------------------------------------


@given(st.lists(script_files(), min_size=4, max_size=4))
def test_generated_scripts(files):
    s, folder = scenario()
    with folder:
        for number, data in enumerate(files):
            s.add(f"script_{number}.py", bad=False).write_bytes(data)
        s.run()


@given(st.lists(notebook_documents(), min_size=4, max_size=4))
def test_generated_notebooks(documents):
    s, folder = scenario()
    with folder:
        for number, text in enumerate(documents):
            s.add(f"notebook_{number}.ipynb", bad=False).write_text(text, encoding="utf-8")
        s.run()


@given(st.lists(script_files(), min_size=2, max_size=2), st.integers(min_value=0, max_value=3))
def test_generated_scripts_with_the_cache(files, runs):
    """A second run reads the cache written by the first: it must report the same, and stay inside the cache folder."""
    s, folder = scenario()
    with folder:
        for number, data in enumerate(files):
            s.add(f"cached_{number}.py", bad=False).write_bytes(data)
        first = s.run()
        for _ in range(min(runs, 1)):
            again = s.run()
            assert (again.report() or {}).get("findings") == (first.report() or {}).get("findings"), again.describe()
        assert os.path.isdir(s.tree / ".bnlint_cache")
