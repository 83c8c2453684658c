"""Configuration files, rule selection and input discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnlint.config import ConfigError, Settings, discover_settings, load_file
from bnlint.discover import discover
from bnlint.rules import load_rules
from bnlint.selection import check_codes, enabled_rules, file_filter

RULES = load_rules()


def test_pyproject_tool_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bnlint]\nselect = ["BN00"]\nignore = ["BN003"]\ntarget-runtime = "keras2"\n'
        'per-file-ignores = {"tests/*" = ["BN001"]}\nexclude = ["legacy"]\n'
    )
    settings = discover_settings(None, tmp_path / "sub" / "train.py")
    assert settings.select == ("BN00",)
    assert settings.ignore == ("BN003",)
    assert settings.target_runtime == "keras2"
    assert settings.per_file_ignores == {"tests/*": ("BN001",)}
    assert settings.exclude == ("legacy",)
    assert settings.source == tmp_path / "pyproject.toml"


def test_bnlint_yaml_wins_over_pyproject_in_the_same_folder(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bnlint]\nselect = ["BN001"]\n')
    (tmp_path / ".bnlint.yaml").write_text("select: [BN002]\nrules-dirs: [my_rules]\n")
    settings = discover_settings(None, tmp_path)
    assert settings.select == ("BN002",)
    assert settings.rules_dirs == (tmp_path / "my_rules",)


def test_pyproject_without_a_bnlint_table_is_not_a_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert discover_settings(None, tmp_path) == Settings()


@pytest.mark.parametrize(
    "text",
    ["select: BN001\ntypo-option: 1\n", "target-runtime: keras4\n", "confirm: maybe\n", "jobs: 0\n", "- a list\n", "select: [\n"],
)
def test_bad_configuration_is_a_usage_error(tmp_path, text):
    path = tmp_path / ".bnlint.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_file(path)
    assert str(path) in str(excinfo.value)


def test_selection_prefixes_and_ignores():
    assert enabled_rules(Settings(), RULES) == {"BN001", "BN002", "BN003", "BN004", "BN005"}
    assert enabled_rules(Settings(select=("BN001",), extend_select=("BN005",)), RULES) == {"BN001", "BN005"}
    assert enabled_rules(Settings(select=("BN",), ignore=("BN00",)), RULES) == set()
    assert enabled_rules(Settings(ignore=("BN003", "BN005")), RULES) == {"BN001", "BN002", "BN004"}


def test_a_selector_that_selects_nothing_is_an_error():
    with pytest.raises(ConfigError, match="BN999"):
        check_codes(Settings(select=("BN999",)), RULES)


def test_per_file_ignores():
    keep = file_filter(Settings(per_file_ignores={"tests/*": ("BN001",)}), "tests/test_x.py")
    assert not keep("BN001") and keep("BN002")
    assert file_filter(Settings(per_file_ignores={"tests/*": ("BN001",)}), "src/x.py")("BN001")


def _tree(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def test_discovery_walks_directories_with_excludes(tmp_path, monkeypatch):
    _tree(tmp_path, "a.py", "nb.ipynb", "m.keras", "w.h5", "readme.md", ".venv/lib/x.py", "node_modules/y.py",
          "pkg/.ipynb_checkpoints/nb-checkpoint.ipynb", "pkg/b.py", "legacy/c.py", "export/saved_model.pb",
          "export/variables/v.py")
    monkeypatch.chdir(tmp_path)
    found = discover(["."], (".venv", "node_modules", ".ipynb_checkpoints", "legacy"))
    assert found.errors == []
    assert [(i.display, i.kind) for i in found.inputs] == [
        ("a.py", "script"), ("export", "savedmodel"), ("m.keras", "keras"), ("nb.ipynb", "notebook"),
        ("pkg/b.py", "script"), ("w.h5", "h5"),
    ]


def test_discovery_keeps_given_paths_as_given_and_reports_bad_ones(tmp_path, monkeypatch):
    _tree(tmp_path, "src/train.py", "notes.txt")
    monkeypatch.chdir(tmp_path)
    found = discover(["src/", "notes.txt", "missing.py", "src/train.py"], ())
    assert [i.display for i in found.inputs] == ["src/train.py"]  # listed once, though named twice
    assert [(e.path, e.message.split(" (")[0]) for e in found.errors] == [
        ("notes.txt", "not a Python script, notebook or Keras model"),
        ("missing.py", "no such file or directory"),
    ]


def test_the_readme_configuration_example_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text(example)
    settings = load_file(tmp_path / "pyproject.toml")
    assert settings.target_runtime == "keras2"
    assert settings.per_file_ignores == {"tests/*": ("BN001",)}
    assert settings.fail_on == "warning"
    check_codes(settings, RULES)


def test_discovery_and_the_reader_agree_on_text_format_savedmodels(tmp_path, monkeypatch):
    _tree(tmp_path, "export/saved_model.pbtxt", "export/variables/helper.py")
    monkeypatch.chdir(tmp_path)
    found = discover(["."], ())
    assert [(i.display, i.kind) for i in found.inputs] == [("export", "savedmodel")]
