"""The wheel carries the rules and the knowledge data: `pip install .` (not editable) must work."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_ships_every_rule_and_the_knowledge_data(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("bnlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rule in sorted((ROOT / "rules").glob("*.yaml")):
        assert f"bnlint/_rules/{rule.name}" in names
    for data in sorted((ROOT / "rules" / "knowledge").glob("*.yaml")):
        assert f"bnlint/_rules/knowledge/{data.name}" in names
    assert "bnlint/cli.py" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)


@pytest.mark.slow
def test_an_installed_wheel_lists_the_rules(tmp_path):
    """A non-editable install into a fresh virtualenv (dependencies from the package index)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    # Run from tmp_path so the checkout's own bnlint/ is not on sys.path.
    result = subprocess.run([str(venv / "bin" / "bnlint"), "rules"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["BN001", "BN002", "BN003", "BN004", "BN005", "BN100"]
    where = subprocess.run([str(python), "-c", "import bnlint.rules as r; print(r.builtin_rules_dir())"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert where.stdout.strip().endswith("bnlint/_rules"), where.stdout


@pytest.mark.slow
def test_the_published_package_path_builds_and_passes_twine_check(tmp_path):
    """`python -m build` (sdist and wheel, in an isolated build environment) and `twine check`:
    what publishing to PyPI would run."""
    build = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    from bnlint import __version__

    artifacts = sorted(p.name for p in tmp_path.iterdir())
    assert artifacts == [f"bnlint-{__version__}-py3-none-any.whl", f"bnlint-{__version__}.tar.gz"]
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, tmp_path.iterdir())],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2


def test_ci_runs_the_readme_quick_start_commands_and_its_ruff_check():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("## Rules", 1)[0]
    checkout = quick_start.split("In a checkout of this repository:", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("pip install --quiet ", "pip install ")
    commands = [part.strip() for line in checkout.splitlines() for part in line.split("&&")]
    assert commands == ['pip install -e ".[tf]"', "bnlint check examples/", 'pip install -e ".[test]"', "pytest"]
    for command in commands:
        assert any(line.strip().startswith(command) for line in ci.splitlines()), command
    assert "ruff check ." in readme and "\nruff check .\n" in ci
