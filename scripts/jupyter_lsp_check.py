"""Run `bnlint server` behind jupyter-lsp, with the README's JupyterLab set-up, and talk to it as
jupyterlab-lsp does (its websocket proxy, a notebook sent as one Python document).

    pip install jupyter-lsp jupyter_server && python scripts/jupyter_lsp_check.py

Starts a Jupyter server on a small project (a helper module that freezes and trains, a notebook
that unfreezes and trains again), checks that jupyter-lsp lists bnlint's spec, then opens the
notebook's Python document under both names jupyterlab-lsp gives it (the notebook's own path, and
its copy under `.virtual_documents/`) and prints the diagnostics. Exits 1 unless each gets the
finding. It does not run JupyterLab's browser front end.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "editors" / "jupyterlab" / "jupyter_server_config.json"
HELPERS = """\
import tensorflow as tf
def build():
    base = tf.keras.applications.ResNet50(weights=None, include_top=False, pooling="avg")
    base.trainable = False
    inputs = tf.keras.Input((64, 64, 3))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(base(inputs))), base
def train_head(model, data):
    model.compile("sgd", "mse")
    model.fit(data, epochs=5)
"""
# The notebook's code cells as jupyterlab-lsp joins them: two blank lines between cells.
CELLS = ["from helpers import build, train_head\nmodel, base = build()", "train_head(model, 'data/')",
         "base.trainable = True\nmodel.compile('sgd', 'mse')\nmodel.fit('data/', epochs=5)"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def diagnostics(port: int, token: str, root_uri: str, name: str) -> list[dict]:
    ws = await websocket_connect(f"ws://127.0.0.1:{port}/lsp/ws/bnlint?token={token}")

    async def send(message: dict) -> None:
        await ws.write_message(json.dumps({"jsonrpc": "2.0", **message}))

    await send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": root_uri, "capabilities": {}}})
    while json.loads(await ws.read_message()).get("id") != 1:
        pass
    await send({"method": "initialized", "params": {}})
    uri = f"{root_uri}/{name}"
    text = "\n\n\n".join(CELLS) + "\n"
    await send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}}})
    while True:
        message = json.loads(await asyncio.wait_for(ws.read_message(), 120))
        if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
            await send({"id": 2, "method": "shutdown"})
            ws.close()
            return message["params"]["diagnostics"]


def main() -> int:
    project = Path(tempfile.mkdtemp(prefix="bnlint-jupyter-"))
    (project / ".git").mkdir()
    (project / "notebooks").mkdir()
    (project / "notebooks" / "helpers.py").write_text(HELPERS)
    port, token = free_port(), "bnlint-check"
    bin_folder = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen([str(bin_folder / "jupyter"), "server", "--allow-root", "--no-browser", f"--config={CONFIG}",
                               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={project}"],
                              cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        status = None
        for _ in range(120):
            try:
                status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/lsp/status?token={token}").read())
                break
            except OSError:
                time.sleep(1)
        if status is None or "bnlint" not in status["specs"]:
            print("jupyter-lsp does not list bnlint's spec")
            return 1
        print(f"jupyter-lsp lists bnlint for {status['specs']['bnlint']['languages']}")
        failed = 0
        for name in ("notebooks/finetune.ipynb", ".virtual_documents/notebooks/finetune.ipynb"):
            found = asyncio.run(diagnostics(port, token, project.as_uri(), name))
            print(f"{name}: " + "; ".join(f"{d['code']} at line {d['range']['start']['line'] + 1}" for d in found))
            failed += [(d["code"], d["range"]["start"]["line"]) for d in found] != [("BN004", 7)]
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
