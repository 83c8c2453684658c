"""`bnlint server` in real editors, with the set-up files the README shows (`editors/`).

Neovim (Debian's package, headless, its built-in LSP client) opens a buggy script, shows bnlint's
diagnostics, applies the fix the server offers and sees the diagnostics go. The other editors'
files are checked for what can be checked here: that they parse, say what the README says, and
start the server the way the Neovim test does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bnlint.config import tomllib  # tomli before Python 3.11

ROOT = Path(__file__).resolve().parent.parent
EDITORS = ROOT / "editors"
README = (ROOT / "README.md").read_text(encoding="utf-8")

BUGGY = """\
import tf_keras as keras
base = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((64, 64, 3))
x = base(inputs)
model = keras.Model(inputs, keras.layers.Dense(1)(x))
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
base.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(images, labels)
"""


def test_neovim_shows_the_diagnostics_and_applies_the_fix(repository, tmp_path):
    nvim = shutil.which("nvim")
    assert nvim is not None, "Neovim is needed for this test: apt-get install neovim (.ci/run installs it)"
    (repository / "train.py").write_text(BUGGY)
    out = tmp_path / "seen.json"
    home = tmp_path / "home"
    env = {
        **os.environ,
        # `bnlint` on the PATH, as the README's set-up expects; nothing of the user's Neovim set-up.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache"),
        "BNLINT_SMOKE_OUT": str(out),
    }
    result = subprocess.run(
        [nvim, "--headless", "-i", "NONE", "-u", str(EDITORS / "neovim" / "bnlint.lua"),
         "-c", f"luafile {ROOT / 'tests' / 'editors' / 'neovim_smoke.lua'}", "train.py"],
        cwd=repository, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert out.exists(), result.stdout + result.stderr
    seen = json.loads(out.read_text())
    assert seen["filetype"] == "python" and seen["found"], seen
    (diagnostic,) = seen["before"]
    assert (diagnostic["code"], diagnostic["source"], diagnostic["lnum"], diagnostic["col"]) == ("BN001", "bnlint", 4, 4)
    assert diagnostic["severity"] == 1 and "verdict: exposed; runtime: keras2" in diagnostic["message"]
    assert seen["actions"] == ["Fix BN001: Call it as `base(inputs, training=False)`.",
                               "Suppress BN001 on this line (# noqa: BN001)", "Fix all bnlint findings in this file"]
    assert seen["applied"].startswith("Fix BN001") and seen["cleared"], seen
    assert seen["lines"][4] == "x = base(inputs, training=False)"


def _code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("--", "#", "//"))]


def _readme_block(path: Path) -> None:
    """The README shows the file as it is (comments aside), its lines one after another."""
    code, shown = _code_lines(path.read_text()), _code_lines(README)
    assert any(shown[at : at + len(code)] == code for at in range(len(shown))), \
        f"README does not show {path.relative_to(ROOT)} as it is"


def test_the_readme_shows_each_editors_set_up_as_tested():
    for path in (EDITORS / "neovim" / "bnlint.lua", EDITORS / "helix" / "languages.toml",
                 EDITORS / "vscode" / "settings.json", EDITORS / "jupyterlab" / "jupyter_server_config.json",
                 EDITORS / "jupyterlab" / "overrides.json"):
        _readme_block(path)


def test_the_helix_set_up_starts_the_server_as_neovim_does():
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = config["language-server"]["bnlint"]
    assert [server["command"], *server["args"]] == ["bnlint", "server"]
    (python,) = [language for language in config["language"] if language["name"] == "python"]
    assert "bnlint" in python["language-servers"]
    assert set(server["config"]) <= {"select", "ignore", "targetRuntime", "configuration", "debounce"}


def test_the_vscode_and_jupyterlab_set_ups_start_the_server_as_neovim_does():
    vscode = json.loads((EDITORS / "vscode" / "settings.json").read_text())
    assert [vscode["glspc.server.command"], *vscode["glspc.server.commandArguments"]] == ["bnlint", "server"]
    assert vscode["glspc.server.languageId"] == ["python"]
    spec = json.loads((EDITORS / "jupyterlab" / "jupyter_server_config.json").read_text())["LanguageServerManager"]["language_servers"]["bnlint"]
    assert spec["argv"] == ["bnlint", "server"] and spec["languages"] == ["python"] and spec["version"] == 2
    # Not on disk: jupyterlab-lsp then names the notebook's Python by the notebook's own path,
    # so the project modules it imports are found from there.
    assert spec["requires_documents_on_disk"] is False
    # jupyterlab-lsp talks to one server per language, the one of highest priority (default 50).
    settings = json.loads((EDITORS / "jupyterlab" / "overrides.json").read_text())["@jupyter-lsp/jupyterlab-lsp:plugin"]
    assert settings["language_servers"]["bnlint"]["priority"] > 50
