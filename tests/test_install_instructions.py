"""What the README and the shipped manifests tell a user to run must work as written: every tag
they pin exists in this repository, and every install hint bnlint prints names a package that a
package index has (bnlint itself is on none)."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where a user copies a ref of bnlint from.
INSTRUCTIONS = ("README.md", "action.yml", ".pre-commit-hooks.yaml")
REF = re.compile(
    r"git\+https://github\.com/bnlint/bnlint@(?P<pip>[^\"'\s]+)"
    r"|bnlint/bnlint@(?P<action>[^\s\"'`]+)"
    r"|^\s*#?\s*rev:\s*(?P<rev>\S+)",
    re.MULTILINE,
)
# The packages bnlint's hints may tell a user to install.
INSTALLABLE = {"tensorflow", "tf-keras", "pygls"}


def named_refs(text: str) -> list[str]:
    """The refs named, without placeholders (`<full commit SHA>`, `${BNLINT_VERSION}`)."""
    refs = [next(v for v in m.groupdict().values() if v) for m in REF.finditer(text)]
    return [ref for ref in refs if not ref.startswith(("<", "$"))]


def is_tag(ref: str) -> bool:
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"refs/tags/{ref}"],
                           capture_output=True, text=True)
    return found.returncode == 0


def test_the_ref_finder_reads_each_kind_of_instruction():
    text = ('pip install "bnlint[tf] @ git+https://github.com/bnlint/bnlint@v9.9.9"\n'
            "    rev: v9.9.9\n#     rev: main    # a comment\n      - uses: bnlint/bnlint@v9.9.9\n"
            "bnlint/bnlint@<full commit SHA>\n")
    assert named_refs(text) == ["v9.9.9", "v9.9.9", "main", "v9.9.9"]
    assert not is_tag("v9.9.9")


@pytest.mark.parametrize("name", INSTRUCTIONS)
def test_every_ref_an_instruction_pins_exists(name):
    """A tag only once it is cut (RELEASING.md); until then the default branch, which
    `pre-commit autoupdate --freeze` and a commit SHA pin."""
    refs = named_refs((ROOT / name).read_text(encoding="utf-8"))
    assert refs or name == "README.md", name
    for ref in refs:
        assert ref == "main" or is_tag(ref), f"{name} pins {ref!r}, which is no tag of this repository"


def test_the_readme_installs_from_the_repository_and_says_how_to_pin_a_commit():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install "bnlint[tf] @ git+https://github.com/bnlint/bnlint"\n' in readme
    assert "full commit SHA" in readme and "pre-commit autoupdate --bleeding-edge --freeze" in readme
    assert "[RELEASING.md](RELEASING.md)" in readme and (ROOT / "RELEASING.md").is_file()


def _hints() -> list[tuple[str, str]]:
    """Every `pip install ...` in a string of bnlint's code: (file, the packages it names)."""
    found = []
    for path in sorted((ROOT / "bnlint").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _docstring(node):
                for m in re.finditer(r"pip install ([^;)\"]+)", node.value):
                    found.append((path.name, m.group(1).strip().strip("'")))
    return found


def _docstring(node: ast.Constant) -> bool:
    return "\n" in node.value  # docstrings and comments describe, they are not printed as hints


def test_every_install_hint_names_a_package_an_index_has():
    hints = _hints()
    assert {name for _, name in hints} >= {"tensorflow"}  # the hints were found
    for file, packages in hints:
        named = {word for word in packages.split() if not word.startswith("-")}  # options such as --upgrade
        assert named <= INSTALLABLE, f"{file}: pip install {packages}"


def test_the_readme_sizes_are_the_table_the_size_script_prints():
    """Every number in the README comes from a command in the repository: this table is
    `scripts/install_sizes.sh`'s output, row for row (rerun it and paste when TensorFlow moves)."""
    script = (ROOT / "scripts" / "install_sizes.sh").read_text(encoding="utf-8")
    measured = re.findall(r'^measure "([^"]+)"', script, re.MULTILINE)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- install-sizes:start -->\n", 1)[1].split("<!-- install-sizes:end -->", 1)[0]
    lines = table.splitlines()
    assert lines[:2] == ["| environment | TensorFlow | site-packages |", "| --- | --- | --- |"]
    assert [line.split("|")[1].strip() for line in lines[2:]] == measured
    assert all(re.fullmatch(r"\| .+ \| .+ \| \d+ MB \|", line) for line in lines[2:]), lines
    sizes = {line.split("|")[1].strip(): int(line.split("|")[3].split()[0]) for line in lines[2:]}
    prose = readme.split("<!-- install-sizes:end -->", 1)[1].split("GPU users", 1)[0]
    for number in re.findall(r"(\d[\d,]*) MB", prose):  # the prose quotes the table or differences of it
        value = int(number.replace(",", ""))
        differences = {a - b for a in sizes.values() for b in sizes.values()}
        assert value in set(sizes.values()) | differences, number
