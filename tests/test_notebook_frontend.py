"""The notebook frontend: cells read as IPython runs them, analysed as one program, facts located by cell and line."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys

import pytest

from bnlint.frontends import FrontendError
from bnlint.frontends.python import cells
from bnlint.frontends.python.cells import as_python, parse_cell
from bnlint.frontends.python.notebook import analyze_file, analyze_notebook_text
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


@pytest.fixture(params=["ipython", "fallback"])
def reader(request, monkeypatch):
    """Each cell test runs twice: with IPython's own transformer, and with IPython made unimportable."""
    cells._ipython_transformer.cache_clear()
    if request.param == "fallback":
        real_import = builtins.__import__

        def no_ipython(name, *args, **kwargs):
            if name == "IPython" or name.startswith("IPython."):
                raise ImportError(f"No module named {name!r}")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_ipython)
        for name in [m for m in sys.modules if m == "IPython" or m.startswith("IPython.")]:
            monkeypatch.delitem(sys.modules, name)
        assert cells._ipython_transformer() is None
    else:
        assert cells._ipython_transformer() is not None
    yield request.param
    cells._ipython_transformer.cache_clear()


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
    def test_bindings_cross_cells_and_facts_are_located_by_cell_and_line(self, reader):
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
                    {"cells": [{"cell_type": "heading", "source": "T"}, {"cell_type": "code", "input": ["import keras\n", "b = keras.applications.Xception()\n"]}]},
                    {"cells": [{"cell_type": "code", "input": "b.trainable = False\n"}]},
                ],
            }
        )
        unit = analyze_notebook_text(text, "old.ipynb")
        assert by_name(unit, "b").location.cell == 2
        assert by_name(unit, "b").frozen_at.cell == 3  # numbered across worksheets


class TestIPythonSyntax:
    """What IPython accepts and plain Python does not: the cell is analysed, its numbers kept."""

    def test_magics_shell_commands_and_help(self, reader):
        lines = ["%load_ext autoreload", "if True:", "    !ls \\", "        -la", "    files = !ls", "model?", "x = 1 % 2", "y = a != b"]
        (cell,) = as_python(lines)
        assert len(cell.lines) == len(lines)
        assert cell.lines[6:] == ["x = 1 % 2", "y = a != b"]  # Python lines stay as they are
        tree = parse_cell(lines)
        assert [type(node).__name__ for node in tree.body][-2:] == ["Assign", "Assign"]
        assert tree.body[-1].lineno == 8

    def test_cell_magics(self, reader):
        assert parse_cell(["%%bash", "ls -la"]) is None
        assert parse_cell(["%%writefile train.py", "import keras"]) is None
        assert parse_cell(["", "%%time", "x = 1"]).body[0].lineno == 3

    def test_a_uniformly_indented_cell_keeps_its_lines_and_columns(self, reader):
        unit = analyze_notebook_text(
            notebook(
                code("import keras"),
                code("  base = keras.applications.ResNet50()\n  base.trainable = False\n\n  y = base(keras.Input((8, 8, 3)))\n"),
            ),
            "nb.ipynb",
        )
        assert unit.problems == []
        base = by_name(unit, "base")
        assert base.location == Location(line=1, column=10, end_line=1, end_column=39, cell=2)
        assert (base.frozen_at.line, base.frozen_at.column) == (2, 3)
        (call,) = unit.calls
        assert (call.location.cell, call.location.line, call.location.column, call.location.end_column) == (2, 4, 7, 35)

    def test_indent_that_is_only_on_the_first_line_of_a_bracketed_statement(self, reader):
        # A pasted dict: only its first line is indented by one space, the rest by more.
        tree = parse_cell([" params = {", "    'batch_size': 32,", "    'scale': 4,", " }", " import keras"])
        assert [node.lineno for node in tree.body] == [1, 5]
        assert tree.body[1].col_offset == 1

    def test_a_first_line_indent_ipython_8_removed_and_ipython_9_does_not(self, reader):
        # IPython 7-8 removed the first line's indent from every line that has it; the last
        # line here has none, so there is no indent common to all lines (IPython 9's rule).
        tree = parse_cell([" seq = keras.Sequential([keras.layers.Dense(1),", "                        keras.layers.Dense(2)])", "seq(x)"])
        assert [(node.lineno, node.col_offset) for node in tree.body] == [(1, 1), (3, 0)]

    @pytest.mark.parametrize(
        "magic_line",
        ["ls ./data/train/", "cd ..", "pip install -q keras-hub", "pwd", "mkdir -p out/checkpoints", "load_ext tensorboard",
         "tensorflow_version 2.x", "conda install -y numpy"],
    )
    def test_automagic_lines_are_skipped_and_the_rest_of_the_cell_analysed(self, reader, magic_line):
        unit = analyze_notebook_text(
            notebook(code(f"{magic_line}\nimport keras\nbase = keras.applications.ResNet50()\nbase.trainable = False\n")), "nb.ipynb"
        )
        assert unit.problems == []
        assert by_name(unit, "base").frozen_at.line == 4

    def test_python_that_looks_like_an_automagic_is_left_alone(self, reader):
        # Each first word is a magic's name, but the line is Python: it is never blanked.
        lines = ["time = 3", "run(time)", "cd = lambda p: p", "ls[0]", "history.append(1)", "load.x = 2", "cd"]
        cell_tree = parse_cell(lines)
        assert [node.lineno for node in cell_tree.body] == list(range(1, 8))

    def test_a_real_syntax_error_next_to_an_automagic_is_still_reported(self, reader):
        with pytest.raises(FrontendError, match=r"^syntax error at line 3: "):
            parse_cell(["ls -la", "import keras", "def broken(:", "    pass"])

    def test_a_shell_command_continued_over_lines_keeps_the_numbers_of_what_follows(self, reader):
        unit = analyze_notebook_text(
            notebook(code("import keras\n!pip install \\\n  tensorflow \\\n  keras\nbase = keras.applications.ResNet50()\nbase.trainable = False\n")),
            "nb.ipynb",
        )
        assert (by_name(unit, "base").location.line, by_name(unit, "base").frozen_at.line) == (5, 6)

    def test_magics_keep_line_numbers_of_later_facts(self, reader):
        unit = analyze_notebook_text(
            notebook(code("%matplotlib inline\nimport keras\n!nvidia-smi\nb = keras.applications.ResNet50()\nb.trainable = False\n")),
            "nb.ipynb",
        )
        assert by_name(unit, "b").frozen_at.line == 5

    def test_a_non_python_cell_magic_is_skipped_but_a_timed_cell_is_analysed(self, reader):
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

    def test_env_magic_selects_legacy_keras(self, reader):
        unit = analyze_notebook_text(
            notebook(code("%env TF_USE_LEGACY_KERAS=1"), code("import tensorflow as tf")), "nb.ipynb"
        )
        assert (unit.runtime.target, unit.runtime.source) == ("keras2", "%env TF_USE_LEGACY_KERAS=1 (cell 1, line 1)")

    def test_a_percent_line_inside_a_string_does_not_break_the_cell(self, reader):
        unit = analyze_notebook_text(
            notebook(code('import keras\ntemplate = """\n%s\n"""\nb = keras.applications.ResNet50()\n')), "nb.ipynb"
        )
        assert unit.problems == [] and by_name(unit, "b").location.line == 5

    def test_doctest_prompts_with_ipython(self):
        cells._ipython_transformer.cache_clear()
        tree = parse_cell([">>> import keras", ">>> b = keras.applications.ResNet50()"])
        assert [(node.lineno, node.col_offset) for node in tree.body] == [(1, 4), (2, 4)]

    def test_the_static_path_imports_ipython_only_for_a_cell_that_needs_it(self):
        code_ = (
            "import sys, json; from bnlint.frontends.python.notebook import analyze_notebook_text\n"
            "nb = lambda src: json.dumps({'cells': [{'cell_type': 'code', 'source': src}]})\n"
            "analyze_notebook_text(nb('import keras\\nx = 1\\n'), 'a.ipynb')\n"
            "assert 'IPython' not in sys.modules\n"
            "analyze_notebook_text(nb('  import keras\\n  x = 1\\n'), 'b.ipynb')\n"
            "assert 'IPython' in sys.modules\n"
        )
        subprocess.run([sys.executable, "-c", code_], check=True)


class TestBadInput:
    def test_a_cell_that_does_not_parse_is_noted_and_skipped(self, reader):
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
        assert len(unit.problems) == 1 and unit.problems[0].startswith("1 cell could not be parsed: cell 4 (syntax error at line 1: ")
        assert by_name(unit, "base").frozen

    def test_a_thousand_bad_cells_make_one_line(self):
        unit = analyze_notebook_text(notebook(code("import keras"), *[code(f"x = (\n{i}") for i in range(1000)]), "nb.ipynb")
        (line,) = unit.problems
        assert line.startswith("1000 cells could not be parsed: cell 2 (syntax error at line 1: '(' was never closed), cell 3 (")
        assert line.endswith(", and 997 more") and "\n" not in line

    def test_a_cell_whose_source_is_not_text(self):
        unit = analyze_notebook_text(notebook(code(["import keras\n", 3]), code("import keras\ndef (")), "nb.ipynb")
        assert unit.problems == ["2 cells could not be parsed: cell 1 (source is not text), cell 2 (syntax error at line 2: invalid syntax)"]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("{not json", r"^the notebook is not valid JSON \(Expecting property name"),
            ("[1, 2]", r"^not a notebook: the top level is not a JSON object$"),
            ('{"metadata": {}}', r"^not a notebook: no `cells`$"),
            ('{"cells": {}}', r"^not a notebook: `cells` is not a list$"),
            ("[" * 100000 + "]" * 100000, r"^the notebook is nested too deeply to read$"),
            ("[" + "[]," * 3_000_000 + "[]]", r"^the notebook is too complex to analyse \(up to 6,000,003 JSON values, limit 2,000,000\)$"),
            # nbformat 3 with malformed worksheets
            ('{"worksheets": [5]}', r"^not a notebook: worksheet 1 has no list of cells$"),
            ('{"worksheets": [{"cells": 5}]}', r"^not a notebook: worksheet 1 has no list of cells$"),
            ('{"worksheets": {"cells": []}}', r"^not a notebook: no `cells`$"),
        ],
    )
    def test_not_a_notebook(self, text, message):
        with pytest.raises(FrontendError, match=message):
            analyze_notebook_text(text, "x.ipynb")

    def test_worksheet_cells_that_are_not_cells_are_ignored(self):
        unit = analyze_notebook_text(json.dumps({"worksheets": [{"cells": [5, None, {"cell_type": "code", "input": "import keras"}]}]}), "x.ipynb")
        assert unit.problems == [] and unit.sources == {3: ["import keras"]}

    def test_code_cells_larger_than_a_script_may_be(self):
        with pytest.raises(FrontendError, match=r"^too large to analyse \(2\.3 MiB of code; bnlint parses at most 2 MiB per file\)$"):
            analyze_notebook_text(notebook(code("import keras"), *[code("x = 1\n" * 100_000)] * 4), "big.ipynb")

    def test_large_code_cells_without_keras_are_not_parsed_and_not_refused(self):
        unit = analyze_notebook_text(notebook(*[code("x = 1\n" * 100_000)] * 4), "big.ipynb")
        assert unit.problems == [] and not unit.models

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
