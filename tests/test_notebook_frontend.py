"""The notebook frontend: cells analysed as one program, facts located by cell and line."""

from __future__ import annotations

import json

import pytest

from bnlint.frontends import FrontendError
from bnlint.frontends.python.notebook import analyze_file, analyze_notebook_text, blank_magics
from bnlint.ir import Location
from bnlint.runtime import DEFAULT


def code(source, **extra) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source, **extra}


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def notebook(*cells) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)})


def by_name(unit, name):
    return next(m for m in unit.models.values() if m.name == name)


TUTORIAL = notebook(
    markdown("# Transfer learning"),
    code(["%matplotlib inline\n", "!pip install -q tensorflow\n", "import tensorflow as tf\n"]),
    markdown("Build the base"),
    code("base = tf.keras.applications.ResNet50(include_top=False,\n    weights='imagenet')\nbase.trainable = False\n"),
    code(
        [
            "inputs = tf.keras.Input((224, 224, 3))\n",
            "x = base(inputs)\n",
            "outputs = tf.keras.layers.Dense(2)(x)\n",
            "model = tf.keras.Model(inputs, outputs)\n",
            "model.compile('adam', 'mse')\n",
        ]
    ),
    code("history = model.fit(ds)"),
)


class TestCellsAndLines:
    def test_bindings_cross_cells_and_facts_are_located_by_cell_and_line(self):
        unit = analyze_notebook_text(TUTORIAL, "tutorial.ipynb")
        assert unit.kind == "notebook" and unit.problems == []
        base = by_name(unit, "base")
        assert base.location == Location(line=1, column=8, end_line=2, end_column=24, cell=4)
        assert (base.frozen, base.frozen_at) == (True, Location(line=3, column=1, end_line=3, end_column=23, cell=4))
        (call,) = unit.calls
        assert (call.training, call.location) == ("absent", Location(line=2, column=5, end_line=2, end_column=17, cell=5))
        assert [(c.location.cell, c.location.line) for c in unit.compiles] == [(5, 5)]
        assert [(f.location.cell, f.location.line) for f in unit.trainings] == [(6, 1)]
        assert unit.compiles[0].order < unit.trainings[0].order

    def test_sources_hold_every_code_cell_by_its_index_among_all_cells(self):
        unit = analyze_notebook_text(TUTORIAL, "tutorial.ipynb")
        assert sorted(unit.sources) == [2, 4, 5, 6]
        assert unit.sources[2] == ["%matplotlib inline", "!pip install -q tensorflow", "import tensorflow as tf"]
        assert unit.sources[6] == ["history = model.fit(ds)"]

    def test_a_function_defined_in_one_cell_reports_its_own_cell(self):
        unit = analyze_notebook_text(
            notebook(
                code("import keras\n\ndef build():\n    m = keras.applications.ResNet50()\n    m.trainable = False\n    return m\n"),
                code("base = build()\nbase(keras.Input((8, 8, 3)))"),
            ),
            "nb.ipynb",
        )
        base = by_name(unit, "base")
        assert (base.location.cell, base.location.line, base.frozen_at.cell, base.frozen_at.line) == (1, 4, 1, 5)
        assert (unit.calls[0].location.cell, unit.calls[0].location.line) == (2, 2)

    def test_nbformat3_worksheets(self):
        text = json.dumps(
            {
                "nbformat": 3,
                "worksheets": [
                    {"cells": [{"cell_type": "heading", "source": "T"}, {"cell_type": "code", "input": ["import keras\n", "b = keras.applications.Xception()\n"]}]}
                ],
            }
        )
        unit = analyze_notebook_text(text, "old.ipynb")
        assert by_name(unit, "b").location.cell == 2


class TestMagics:
    def test_line_magics_shell_and_help_become_pass_with_the_same_indentation(self):
        lines = ["%load_ext autoreload", "if True:", "    !ls \\", "        -la", "    files = !ls", "model?", "x = 1 % 2", "y = a != b"]
        blanked, env = blank_magics(lines)
        assert blanked == ["pass", "if True:", "    pass", "", "    pass", "pass", "x = 1 % 2", "y = a != b"]
        assert env is None

    def test_cell_magics(self):
        assert blank_magics(["%%bash", "ls -la"]) == ([], None)
        assert blank_magics(["%%time", "x = 1"]) == (["", "x = 1"], None)

    def test_magics_keep_line_numbers_of_later_facts(self):
        unit = analyze_notebook_text(
            notebook(code("%matplotlib inline\nimport keras\n!nvidia-smi\nb = keras.applications.ResNet50()\nb.trainable = False\n")),
            "nb.ipynb",
        )
        assert by_name(unit, "b").frozen_at.line == 5

    def test_a_non_python_cell_magic_is_skipped_but_a_timed_cell_is_analysed(self):
        unit = analyze_notebook_text(
            notebook(
                code("import keras"),
                code("%%bash\nbase = keras.applications.ResNet50()\n"),
                code("%%time\nbase = keras.applications.DenseNet121()\nbase.trainable = False\n"),
            ),
            "nb.ipynb",
        )
        assert [m.cls for m in unit.models.values()] == ["DenseNet121"]
        assert by_name(unit, "base").frozen_at == Location(line=3, column=1, end_line=3, end_column=23, cell=3)

    def test_env_magic_selects_legacy_keras(self):
        unit = analyze_notebook_text(
            notebook(code("%env TF_USE_LEGACY_KERAS=1"), code("import tensorflow as tf")), "nb.ipynb"
        )
        assert (unit.runtime.target, unit.runtime.source) == ("keras2", "%env TF_USE_LEGACY_KERAS=1 (cell 1, line 1)")

    def test_a_percent_line_inside_a_string_does_not_break_the_cell(self):
        unit = analyze_notebook_text(
            notebook(code('import keras\ntemplate = """\n%s\n"""\nb = keras.applications.ResNet50()\n')), "nb.ipynb"
        )
        assert unit.problems == [] and by_name(unit, "b").location.line == 5


class TestBadInput:
    def test_a_cell_that_does_not_parse_is_noted_and_skipped(self):
        unit = analyze_notebook_text(
            notebook(
                code("import keras"),
                markdown("x"),
                code("base = keras.applications.ResNet50()"),
                code("def broken(:\n    pass"),
                code("base.trainable = False"),
            ),
            "nb.ipynb",
        )
        assert len(unit.problems) == 1 and unit.problems[0].startswith("cell 4: syntax error at line 1: ")
        assert by_name(unit, "base").frozen

    def test_a_cell_whose_source_is_not_text(self):
        unit = analyze_notebook_text(notebook(code(["import keras\n", 3])), "nb.ipynb")
        assert unit.problems == ["cell 1: source is not text"]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("{not json", r"^not JSON: "),
            ("[1, 2]", r"^not a notebook: the top level is not a JSON object$"),
            ('{"metadata": {}}', r"^not a notebook: no `cells`$"),
            ('{"cells": {}}', r"^not a notebook: `cells` is not a list$"),
            ("[" * 100000 + "]" * 100000, r"^not a notebook: JSON nested too deeply$"),
        ],
    )
    def test_not_a_notebook(self, text, message):
        with pytest.raises(FrontendError, match=message):
            analyze_notebook_text(text, "x.ipynb")

    def test_a_notebook_without_keras_has_no_facts_but_its_sources(self):
        unit = analyze_notebook_text(notebook(code("import numpy as np\nbase.trainable = False")), "np.ipynb")
        assert unit.models == {} and unit.trainable_changes == [] and unit.runtime == DEFAULT
        assert unit.sources == {1: ["import numpy as np", "base.trainable = False"]}

    def test_analyze_file(self, tmp_path):
        path = tmp_path / "t.ipynb"
        path.write_text(TUTORIAL, encoding="utf-8")
        unit = analyze_file(path, "t.ipynb")
        assert unit.path == "t.ipynb" and by_name(unit, "base").frozen
        path.write_bytes(b'{"cells": ["\xff"]}')
        with pytest.raises(FrontendError, match=r"^not valid UTF-8"):
            analyze_file(path, "t.ipynb")


def test_a_subclassed_model_nobody_instantiates_is_located_in_its_own_cell():
    unit = analyze_notebook_text(
        notebook(
            code("import keras"),
            code(
                "class Net(keras.Model):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.backbone = keras.applications.ResNet50()\n"
                "        self.backbone.trainable = False\n"
                "    def call(self, x):\n"
                "        return self.backbone(x)\n"
            ),
            code("x = 1"),
        ),
        "nb.ipynb",
    )
    net = by_name(unit, "Net")
    assert (net.location.cell, net.location.line) == (2, 1)
    (call,) = unit.calls
    assert (call.location.cell, call.location.line, call.container) == (2, 7, net.key)
