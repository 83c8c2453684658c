"""Hypothesis strategies: the generators of hostile inputs, one family per kind of input.

Structured inputs (model configs, notebooks, configuration, rules, baselines, cache entries) are
real ones with parts replaced by junk of every JSON type; binary inputs (archives, HDF5 files,
protobuf metadata) are real files with bytes flipped, dropped, inserted and cut off.
"""

from __future__ import annotations

import copy

from hypothesis import strategies as st

# Values of every type a JSON or YAML document can hold, nested a little.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["", "\ud800", "../../etc/passwd", "a/b", "\x1b[31m", "BatchNormalization",
                                           "Functional", "Sequential", "InputLayer", "__lambda__", "lambda", "keras.layers"]),
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
# Node-shaped junk: what a config walker must survive in place of a layer, a node or a kwarg.
NODE_JUNK = st.sampled_from([None, 1, "x", [], {}, [1, 2], {"a": 1}, True, [[["a", 0, 0, 5]]], [None], {"kwargs": 3},
                             {"class_name": 3}, {"class_name": "Functional", "config": {"layers": 5}}, [[[]]],
                             {"class_name": "TimeDistributed", "config": {"layer": {"class_name": "Functional", "config": {"layers": [None]}}}}])

CONFIG_FIXTURES = ("k3_nested.keras", "k3_time_distributed.keras", "tfk_frozen_call.keras", "k3_partial.keras", "k3_sequential.keras")


def containers(value) -> list:
    """Every list and dict inside `value`, in a stable order."""
    found, pending = [], [value]
    while pending:
        node = pending.pop()
        if isinstance(node, (dict, list)):
            found.append(node)
            pending.extend(node.values() if isinstance(node, dict) else node)
    return found


@st.composite
def config_mutations(draw):
    """(fixture, edits): which real config to start from and the replacements to make in it."""
    fixture = draw(st.sampled_from(CONFIG_FIXTURES))
    edits = draw(st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0), st.one_of(NODE_JUNK, JSON_VALUES)),
                          min_size=1, max_size=6))
    return fixture, edits


def mutate_config(config, edits):
    """Apply (container index, slot index, value) replacements, each index taken modulo what exists."""
    config = copy.deepcopy(config)
    for container_index, slot_index, value in edits:
        targets = [c for c in containers(config) if c]
        if not targets:
            break
        target = targets[container_index % len(targets)]
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        target[keys[slot_index % len(keys)]] = copy.deepcopy(value)
    return config


BYTE_EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("cut"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("drop"), st.integers(min_value=0), st.integers(min_value=1, max_value=64)),
)


def byte_mutations():
    return st.lists(BYTE_EDIT, min_size=1, max_size=8)


@st.composite
def archive_mutations(draw):
    fixture = draw(st.sampled_from(("k3_nested.keras", "tfk_frozen_call.keras", "k3_mobilenetv3small_config_only.keras")))
    return fixture, draw(byte_mutations())


def mutate_bytes(data: bytes, edits) -> bytes:
    """Flip, insert, drop bytes and cut the file, at offsets taken modulo its length."""
    data = bytearray(data)
    for kind, offset, argument in edits:
        if not data:
            break
        at = offset % len(data)
        if kind == "flip":
            data[at] ^= argument
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = argument
        else:
            del data[at : at + argument]
    return bytes(data)


@st.composite
def h5_attributes(draw):
    """Root attributes of an HDF5 file: a model_config and a keras_version of any storable type."""
    import h5py
    import numpy as np

    def value(strategy):
        kind = draw(st.sampled_from(["str", "bytes", "int", "array", "fixed"]))
        text = draw(strategy)
        if kind == "str":
            return text.encode("utf-8", "replace").decode()  # h5py stores UTF-8: no lone surrogates
        if kind == "bytes":
            return np.bytes_(text.encode("utf-8", "surrogatepass")[:1000] or b"x")
        if kind == "int":
            return draw(st.integers(min_value=-(2**31), max_value=2**31))
        if kind == "array":
            return np.array([text.encode("utf-8", "replace").decode()] * draw(st.integers(min_value=1, max_value=3)),
                            dtype=h5py.string_dtype())
        return np.array(text.encode("utf-8", "surrogatepass")[:200] or b"x")

    import json as json_module

    configs = st.one_of(st.text(max_size=30), JSON_VALUES.map(lambda v: json_module.dumps(v)),
                        st.builds(lambda c: json_module.dumps({"class_name": "Functional", "config": c}), JSON_VALUES))
    attributes = {"model_config": value(configs)}
    if draw(st.booleans()):
        attributes["keras_version"] = value(st.one_of(st.text(max_size=10), st.sampled_from(["", "abc", "2.15.0", "9" * 5000])))
    return attributes


# --- scripts and notebooks -------------------------------------------------------------------------------

# Lines a training script or notebook is made of, and the IPython syntax notebooks add to them.
SCRIPT_LINES = [
    "import tf_keras as keras", "import keras", "import tensorflow as tf", "from tensorflow import keras",
    "base = keras.applications.MobileNetV2(weights=None, include_top=False)", "base = tf.keras.applications.ResNet50()",
    "base.trainable = False", "base.trainable = True", "inputs = keras.Input((32, 32, 3))", "x = base(inputs)",
    "x = base(inputs, training=False)", "x = base(x, training=True)", "model = keras.Model(inputs, x)",
    "model = keras.Sequential([base, keras.layers.Dense(2)])", "model.add(base)", "model.compile('adam', 'mse')",
    "model.fit(x, y)", "for layer in base.layers[:10]:", "for layer in model.layers:", "    layer.trainable = True",
    "    if isinstance(layer, keras.layers.BatchNormalization):", "        layer.trainable = False",
    "def build(m):", "    return m", "base = build(base)", "class Net(keras.Model):", "    def call(self, x):",
    "        return self.backbone(x)", "with tf.GradientTape() as tape:", "    loss = model(x, training=True)",
    "x = [x, x]", "x = (x, x)", "while True:", "    break", "try:", "except Exception:", "    pass", "lambda: base",
    "global base", "del base", "base, model = model, base", "*a, b = base", "yield base", "return base", "import os",
    "exec('x')", "__import__('os')", "from . import helpers", "from .models import build", "",
]
IPYTHON_LINES = ["%matplotlib inline", "!pip install -q tf-keras", "ls -la", "cd ..", "files = !ls", "model?",
                 "%%time", "%%bash", "%env TF_USE_LEGACY_KERAS=1", "pip install keras-hub", ">>> x = 1", "In [1]: x = 2",
                 "%load_ext tensorboard", "!python train.py \\", "   --epochs 3"]
INDENTS = st.sampled_from(["", "", "", "    ", "  ", "\t", " "])


@st.composite
def script_texts(draw, notebook: bool = False):
    """Source text stitched from training-script lines (and IPython's syntax for a notebook), odd
    indents and junk: valid programs and broken ones, both."""
    vocabulary = SCRIPT_LINES + (IPYTHON_LINES if notebook else [])
    line = st.one_of(st.builds(lambda i, t: i + t, INDENTS, st.sampled_from(vocabulary)), st.text(max_size=20))
    lines = draw(st.lists(line, max_size=25))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    return newline.join(lines)


COOKIES = st.sampled_from(["", "", "# coding: utf-8\n", "# -*- coding: latin-1 -*-\n", "# coding: punycode\n", "# coding: utf-16\n",
                           "# coding: rot13\n", "# coding: unicode_escape\n", "# coding: nope\n", "\ufeff", "# vim: set fileencoding=idna :\n"])


@st.composite
def script_files(draw):
    """The bytes of a `.py` file: stitched source under a coding cookie, or raw bytes."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(st.binary(max_size=400))
    text = draw(COOKIES) + draw(script_texts())
    return text.encode("utf-8", "surrogatepass")


@st.composite
def notebook_documents(draw):
    """A notebook's JSON text: nbformat 4 or 3, cells of every type and shape, stitched sources."""
    source = st.one_of(script_texts(notebook=True), st.lists(script_texts(notebook=True), max_size=3), JSON_VALUES)
    cell = st.one_of(
        st.builds(lambda s: {"cell_type": "code", "source": s, "outputs": [], "metadata": {}}, source),
        st.builds(lambda s: {"cell_type": "markdown", "source": s}, st.text(max_size=20)),
        st.dictionaries(st.sampled_from(["cell_type", "source", "input", "outputs"]), JSON_VALUES, max_size=3),
        JSON_VALUES,
    )
    cells = draw(st.lists(cell, max_size=8))
    form = draw(st.integers(min_value=0, max_value=5))
    if form == 0:
        document = {"nbformat": 3, "worksheets": draw(st.one_of(
            st.lists(st.builds(lambda c: {"cells": c}, st.just([{**c, "input": c.get("source")} if isinstance(c, dict) else c for c in cells])), max_size=2),
            JSON_VALUES))}
    elif form == 1:
        document = draw(JSON_VALUES)
    else:
        document = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    import json as json_module

    return json_module.dumps(document)


# --- configuration, rules, baselines, cache entries ------------------------------------------------------

CONFIG_KEYS = ["select", "extend-select", "ignore", "exclude", "extend-exclude", "per-file-ignores", "target-runtime",
               "rules-dirs", "confirm", "confirm-timeout", "sample", "jobs", "cache", "cache-dir", "fail-on", "unknown-key"]
TOML_VALUES = st.sampled_from(['1', '-1', '0', 'inf', 'nan', '-inf', '"x"', '""', '"."', '"/tmp"', '"../.."', 'true', '[]', '["BN001"]',
                               '["BN", 5]', '{a = 1}', '{"tests/*" = ["BN001"]}', '1979-05-27', '1.5e308', '"keras2"',
                               '[' * 400 + ']' * 400, '"\\u0000"', '99999999999999999999999'])


@st.composite
def bnlint_yaml_documents(draw):
    """`.bnlint.yaml` text: known keys with values of any type, or YAML built from anchors and aliases."""
    import yaml

    if draw(st.booleans()):
        data = draw(st.dictionaries(st.sampled_from(CONFIG_KEYS), JSON_VALUES, max_size=4))
        return yaml.safe_dump(data, allow_unicode=True)
    # An alias graph: each level repeats the previous one `fan` times (a billion laughs when large).
    levels, fan = draw(st.integers(min_value=1, max_value=9)), draw(st.integers(min_value=1, max_value=9))
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels)]
    lines.append(f"{draw(st.sampled_from(CONFIG_KEYS))}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


@st.composite
def pyproject_documents(draw):
    entries = draw(st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), TOML_VALUES), max_size=4, unique_by=lambda e: e[0]))
    header = draw(st.sampled_from(["[tool.bnlint]", "[tool.bnlint]", "[tool]\nbnlint = 1", "tool = 1", "[tool.bnlint.x]", "[[tool.bnlint]]"]))
    return header + "\n" + "\n".join(f"{key} = {value}" for key, value in entries) + "\n"


@st.composite
def rule_documents(draw, base: dict):
    """A rule file: the real BN001 rule (renamed) with parts replaced by junk."""
    import yaml

    rule = dict(base, id="XX900", name="fuzzed-rule")
    edits = draw(st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0), st.one_of(NODE_JUNK, JSON_VALUES)),
                          max_size=4))
    return yaml.safe_dump(mutate_config(rule, edits), allow_unicode=True)


def baseline_documents():
    entry = st.fixed_dictionaries({"fingerprint": st.one_of(st.text(max_size=8), JSON_VALUES), "rule": SCALARS, "path": SCALARS})
    return st.one_of(JSON_VALUES, st.fixed_dictionaries({"version": st.sampled_from([1, 1, 2, "1", None]),
                                                         "findings": st.one_of(st.lists(entry, max_size=5), JSON_VALUES)}))


# What a cache entry's finding holds (bnlint.scan_cache: no path, no source; files by number).
CACHE_FINDING_KEYS = ["rule", "name", "severity", "message", "line", "column", "cell", "layer_path", "runtime", "subject",
                      "related", "verdict", "occurrence", "anchor", "fixer", "input", "snippet", "suppression", "file",
                      "path", "source", "confirmation"]
CACHE_DEPENDENCIES = st.lists(st.tuples(st.sampled_from(["helper.py", "../x.py", "/etc/passwd", "", ".", "a/../../b.py",
                                                         "train.py", "\x00", "link.py"]),
                                        st.sampled_from(["", "0" * 64, "x"])).map(list), max_size=3)


def cache_documents():
    """Cache entries: junk, documents of the entry's shape with values of any type, and dependency
    lists that name files outside the project (each signed by the test, as only bnlint can)."""
    finding = st.dictionaries(st.sampled_from(CACHE_FINDING_KEYS), JSON_VALUES, max_size=8)
    return st.one_of(JSON_VALUES, st.fixed_dictionaries({"deps": st.one_of(CACHE_DEPENDENCIES, JSON_VALUES),
                                                         "findings": st.lists(finding, max_size=3),
                                                         "errors": st.one_of(JSON_VALUES, st.just([]))}))


def cache_entry_mutations():
    """(container index, slot index, value) edits of a real entry (`mutate_config`)."""
    return st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0), st.one_of(JSON_VALUES, NODE_JUNK)),
                    min_size=1, max_size=4)


# --- directory trees ----------------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "train", "model", "-o", " spaced ", "ünï", "two\nlines", "tab\tbed", "ctrl\x1b[2J",
                         "bad\udcff", ".hidden", "build", ".git", "__pycache__", "x" * 200])
ENTRY_KINDS = st.sampled_from(["dir", "script", "broken_script", "notebook", "model", "fifo", "link_parent", "link_self",
                               "link_zero", "link_missing", "link_sibling", "empty"])


def tree_plans():
    """A folder tree as a list of (depth-first path of names, kind): built by fuzz_inputs.build_tree."""
    return st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), ENTRY_KINDS), max_size=10)
