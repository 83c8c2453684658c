"""Fuzzing what shapes a run: `.bnlint.yaml`/`pyproject.toml`, rule files, baselines and cache entries
(see fuzz_harness for the invariants). A bad one is a usage error: one `bnlint: error:` line, exit 2."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import fuzz_inputs as inputs
import pytest
import yaml
from fuzz_harness import Scenario
from fuzz_strategies import (
    baseline_documents,
    bnlint_yaml_documents,
    cache_documents,
    cache_entry_mutations,
    mutate_config,
    pyproject_documents,
    rule_documents,
)
from hypothesis import given
from hypothesis import strategies as st

RULES = Path(__file__).resolve().parents[2] / "rules"
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(c)}: &{chr(c)} [{','.join([f'*{chr(c - 1)}'] * 9)}]\n" for c in range(ord("b"), ord("j")))
YAML_PAYLOAD = "select: !!python/object/apply:os.system ['touch {marker}']\n"


def scenario() -> tuple[Scenario, tempfile.TemporaryDirectory]:
    folder = tempfile.TemporaryDirectory(prefix="bnlint-fuzz-")
    return Scenario(Path(folder.name)), folder


def usage_error(s: Scenario, *args: str):
    return s.run(*args, expect_more={"usage_error": True})


# --- configuration ----------------------------------------------------------------------------------------

BAD_CONFIGS = {
    "billion_laughs.yaml": (".bnlint.yaml", BILLION_LAUGHS + "select: *i\n"),
    "python_tag.yaml": (".bnlint.yaml", YAML_PAYLOAD),
    "tool_is_a_number.toml": ("pyproject.toml", "tool = 1\n"),
    "deep.toml": ("pyproject.toml", "[tool.bnlint]\nselect = " + "[" * 5000 + "]" * 5000 + "\n"),
    "jobs_inf.toml": ("pyproject.toml", "[tool.bnlint]\njobs = inf\n"),
    "jobs_nan.toml": ("pyproject.toml", "[tool.bnlint]\njobs = nan\n"),
    "timeout_nan.yaml": (".bnlint.yaml", "confirm-timeout: .nan\n"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_hostile_configuration_files(tmp_path, case):
    s = Scenario(tmp_path)
    name, text = BAD_CONFIGS[case]
    (s.tree / name).write_text(text.replace("{marker}", str(s.marker)))
    run = usage_error(s)
    assert name in run.error_lines[0], f"the usage error does not name the file\n{run.describe()}"


def test_a_config_file_that_is_a_fifo(tmp_path):
    s = Scenario(tmp_path)
    os.mkfifo(s.tree / ".bnlint.yaml")
    s.run()  # not a file: no configuration, and above all no hang


def test_cache_dir_dot_never_drops_a_gitignore_into_the_project(tmp_path):
    s = Scenario(tmp_path)
    (s.tree / ".bnlint.yaml").write_text("cache-dir: .\n")
    s.add("train.py", bad=False).write_text(inputs.TRAINING_SCRIPT)
    s.run()  # the snapshot check fails on any new file in the tree: a .gitignore, a cache entry
    assert not (s.tree / ".gitignore").exists()


def test_cache_dir_from_a_config_inside_the_tree_stays_inside_the_project(tmp_path):
    s = Scenario(tmp_path)
    outside = tmp_path / "outside"
    (s.tree / ".bnlint.yaml").write_text(f"cache-dir: {outside}\n")
    s.add("train.py", bad=False).write_text(inputs.TRAINING_SCRIPT)
    s.run(expect_more={"allowed_exits": (0, 1, 2)})
    assert not outside.exists(), "a config found in the scanned tree directed a write outside the project"


def test_the_confirm_timeout_option_refuses_nan(tmp_path):
    usage_error(Scenario(tmp_path), "check", "--no-confirm", "--confirm-timeout", "nan", "--format", "json", ".")


# --- rule files --------------------------------------------------------------------------------------------

BASE_RULE = yaml.safe_load((RULES / "BN001.yaml").read_text())
BAD_RULES = {
    "billion_laughs": BILLION_LAUGHS + "id: XX901\nname: *i\n",
    "python_tag": YAML_PAYLOAD,
    "inputs_is_a_number": yaml.safe_dump(dict(BASE_RULE, id="XX902", inputs=5)),
    "where_value_is_a_mapping": yaml.safe_dump(dict(BASE_RULE, id="XX903", match=[{"fact": "call", "where": {"callee": {"frozen": True}}}])),
    "match_is_a_string": yaml.safe_dump(dict(BASE_RULE, id="XX904", match="call")),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_hostile_rule_files(tmp_path, case):
    s = Scenario(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "XX900.yaml").write_text(BAD_RULES[case].replace("{marker}", str(s.marker)))
    usage_error(s, "check", "--no-confirm", "--rules-dir", str(rules), "--format", "json", ".")


def test_a_rule_file_that_is_a_fifo(tmp_path):
    s = Scenario(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    os.mkfifo(rules / "XX900.yaml")
    usage_error(s, "check", "--no-confirm", "--rules-dir", str(rules), "--format", "json", ".")


# --- baselines ---------------------------------------------------------------------------------------------


def test_hostile_baselines(tmp_path):
    s = Scenario(tmp_path)
    cases = {"deep.json": "[" * 100_000 + "]" * 100_000, "bomb.json": '{"version": 1, "findings": [' + "[]," * 3_000_000 + "[]]}",
             "surrogates.json": json.dumps({"version": 1, "findings": [{"fingerprint": "\ud800", "rule": "\udcff", "path": "x"}]})}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        s.run("check", "--no-confirm", "--baseline", str(tmp_path / name), "--format", "json", ".",
              expect_more={"usage_error": name != "surrogates.json"})
    os.mkfifo(tmp_path / "fifo.json")
    usage_error(s, "check", "--no-confirm", "--baseline", str(tmp_path / "fifo.json"), "--format", "json", ".")


def test_write_baseline_into_a_missing_folder_or_onto_a_fifo(tmp_path):
    s = Scenario(tmp_path)
    usage_error(s, "check", "--no-confirm", "--write-baseline", str(tmp_path / "missing" / "baseline.json"), ".")
    os.mkfifo(tmp_path / "fifo.json")
    usage_error(s, "check", "--no-confirm", "--write-baseline", str(tmp_path / "fifo.json"), ".")


def test_a_layer_name_with_a_lone_surrogate_in_baselines(tmp_path):
    s = Scenario(tmp_path)
    config = inputs.keras3_model([inputs.frozen_base("back\ud800bone")])
    inputs.keras_archive(s.add("surrogate.keras", bad=False), config)
    baseline = tmp_path / "baseline.json"
    s.run("check", "--no-confirm", "--write-baseline", str(baseline), ".")
    s.expect.canary = None  # the baseline accepts the canary's finding too
    run = s.run("check", "--no-confirm", "--baseline", str(baseline), "--format", "json", ".")
    assert run.report()["findings"] == [], "the baseline it wrote accepts its own findings"
    for output_format in ("text", "sarif", "github"):
        s.run("check", "--no-confirm", "--format", output_format, ".")


# --- cache entries -----------------------------------------------------------------------------------------

HOSTILE_ENTRIES = [
    "[" * 100_000 + "]" * 100_000,
    json.dumps({"deps": [], "findings": [{"rule": "\ud800"}], "errors": []}),
    json.dumps({"deps": [], "findings": [], "errors": [{"path": 5, "message": None}]}),
    json.dumps({"deps": [], "findings": "x", "errors": {}}),
    json.dumps({"deps": [["../../../etc/passwd", ""]], "findings": [], "errors": []}),
    '{"deps": [], "findings": [' + "[]," * 3_000_000 + "[]], \"errors\": []}",
]


def _cache_entries(s: Scenario) -> list[Path]:
    return sorted(p for p in (s.tree / ".bnlint_cache").glob("??/*") if p.is_file())


def _poison_cache(s: Scenario, entries: list[str | bytes], sign: bool = True) -> int:
    """Put `entries` in place of the cache's entries: signed with this user's key (as only bnlint
    can: what is fuzzed is then the field-by-field check), or written raw (a miss unread)."""
    from bnlint import cache

    files = _cache_entries(s)
    store = cache.open_cache(s.tree / ".bnlint_cache")[0] if sign else None
    for number, path in enumerate(files):
        entry = entries[number % len(entries)]
        data = entry.encode("utf-8", "surrogatepass") if isinstance(entry, str) else entry
        if store is not None:
            kind, _, key = path.name.partition("-")
            store.store(kind, key, data)
        else:
            path.write_bytes(data)
    return len(files)


@pytest.mark.parametrize("sign", [True, False], ids=["signed", "unsigned"])
def test_hostile_cache_entries(tmp_path, sign):
    s = Scenario(tmp_path)
    s.add("train.py", bad=False).write_text(inputs.TRAINING_SCRIPT)
    for number in range(len(HOSTILE_ENTRIES)):
        s.add(f"copy_{number}.py", bad=False).write_text(inputs.TRAINING_SCRIPT + f"# {number}\n")
    first = s.run()
    assert _poison_cache(s, HOSTILE_ENTRIES, sign) >= len(HOSTILE_ENTRIES)
    again = s.run()
    assert again.report()["findings"] == first.report()["findings"], "a poisoned entry is a miss, never a result"


# --- generated --------------------------------------------------------------------------------------------


@given(bnlint_yaml_documents())
def test_generated_bnlint_yaml(text):
    s, folder = scenario()
    with folder:
        (s.tree / ".bnlint.yaml").write_text(text, encoding="utf-8")
        s.run(expect_more={"allowed_exits": (0, 1, 2)})


@given(pyproject_documents())
def test_generated_pyproject(text):
    s, folder = scenario()
    with folder:
        (s.tree / "pyproject.toml").write_text(text, encoding="utf-8")
        s.run()


@given(st.data())
def test_generated_rule_files(data):
    s, folder = scenario()
    with folder:
        rules = Path(folder.name) / "rules"
        rules.mkdir()
        (rules / "XX900.yaml").write_text(data.draw(rule_documents(BASE_RULE)), encoding="utf-8")
        s.run("check", "--no-confirm", "--rules-dir", str(rules), "--format", "json", ".")


@given(baseline_documents())
def test_generated_baselines(document):
    s, folder = scenario()
    with folder:
        baseline = Path(folder.name) / "baseline.json"
        baseline.write_text(json.dumps(document), encoding="utf-8")
        s.run("check", "--no-confirm", "--baseline", str(baseline), "--format", "json", ".")


@given(st.lists(cache_documents(), min_size=1, max_size=3))
def test_generated_cache_entries(documents):
    """Whatever a signed entry holds, reading it is safe, and every place it reports is in a file
    the scan found: an entry that does not check out field by field is a miss. (A signed entry
    that does check out is believed: only this user's bnlint can sign one.)"""
    s, folder = scenario()
    with folder:
        s.add("train.py", bad=False).write_text(inputs.TRAINING_SCRIPT)
        s.add("other.py", bad=False).write_text(inputs.TRAINING_SCRIPT.replace("MobileNetV2", "ResNet50"))
        s.run()
        _poison_cache(s, [json.dumps(d) for d in documents])
        _only_scanned_files(s.run(), s.expect.inputs, documents)


@given(cache_entry_mutations())
def test_mutated_cache_entries(edits):
    """A real entry (a finding in a helper module, a related place in the script) with values
    replaced by junk, signed: reading it is safe, and it names no file but the script and its helper."""
    s, folder = scenario()
    with folder:
        (s.tree / "helper.py").write_text(_HELPER, encoding="utf-8")
        s.add("train.py", bad=False).write_text("from helper import build\nmodel = build()\nmodel.fit(x, y)\n")
        args = ("check", "--no-confirm", "--target-runtime", "keras2", "--format", "json", ".")
        first = s.run(*args)
        assert "helper.py" in [f["path"] for f in first.report()["findings"]]
        (entry,) = [p for p in _cache_entries(s) if b"helper.py" in p.read_bytes()]
        document = json.loads(entry.read_bytes().partition(b"\n")[2])
        _poison_cache(s, [json.dumps(mutate_config(document, edits))])
        _only_scanned_files(s.run(*args), s.expect.inputs | {"helper.py"}, edits)


def _only_scanned_files(run, files: set, what) -> None:
    report = run.report()
    assert report is not None, run.describe()
    named = {f["path"] for f in report["findings"]} | {r.get("path") for f in report["findings"] for r in f["related"]}
    assert named - {None} <= files, f"an entry named {sorted(named - files - {None})}: {what!r}"


_HELPER = """\
import tensorflow as tf


def build():
    base = tf.keras.applications.MobileNetV2(weights=None, include_top=False)
    base.trainable = False
    inputs = tf.keras.Input((96, 96, 3))
    model = tf.keras.Model(inputs, base(inputs))
    model.compile(optimizer="adam", loss="mse")
    return model
"""
