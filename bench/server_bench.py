"""Drive `bnlint server` over stdio as an editor does and print its latency and memory.

    python bench/server_bench.py [--script PATH] [--edits 200] [--cells 200] [--memory-edits 1000]

- script: open a training script where it is (default: examples/finetune_buggy.py), then make
  `--edits` edits (in the editor only: the file is never written), one at a time (a comment added to the end of a line, then removed), each waiting for the
  diagnostics it brings (debounce 0, so each edit is one check);
- notebook: a notebook document of `--cells` code cells (a fine-tuning notebook: imports, data
  cells, the frozen base, compile, fit, the unfreeze, fit again), edited in the cell of its
  finding (a comment line added above the unfreeze, then removed, so that each check moves the
  finding and is published);
- memory: `--memory-edits` more edits to the script; the server's resident memory after the first
  100 of them and after all of them.

For each check it prints the wall time from sending the edit to receiving its diagnostics, and
the CPU time (user + system) the server process spent, read from /proc. On a loaded machine the
wall time includes waiting for a core; the CPU time is what the check costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Bench:
    def __init__(self, client: LanguageClient, pid: int) -> None:
        self.client = client
        self.pid = pid
        self.arrived: dict[str, asyncio.Event] = {}
        self.last: dict[str, list[types.Diagnostic]] = {}

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            self.last[params.uri] = list(params.diagnostics)
            event = self.arrived.get(params.uri)
            if event is not None:
                event.set()

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params) -> None:
            return None

    def expect(self, uri: str) -> asyncio.Event:
        self.arrived[uri] = event = asyncio.Event()
        return event

    async def timed(self, uri: str, send) -> tuple[float, float]:
        """(wall seconds, server CPU seconds) from `send()` to the diagnostics of `uri`."""
        event = self.expect(uri)
        cpu, wall = cpu_seconds(self.pid), time.perf_counter()
        send()
        await asyncio.wait_for(event.wait(), 120)
        return time.perf_counter() - wall, cpu_seconds(self.pid) - cpu


def notebook_cells(count: int) -> list[str]:
    """A fine-tuning notebook: set-up, `count - 7` data cells, then the model and its training."""
    cells = ["import numpy as np\nimport keras\nfrom keras import layers",
             "IMAGE_SHAPE = (96, 96, 3)\nbase = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=IMAGE_SHAPE)\nbase.trainable = False"]
    for n in range(max(count - 7, 0)):
        cells.append(f"# step {n}: look at the data\nbatch_{n} = np.random.rand(8, *IMAGE_SHAPE).astype('float32')\n"
                     f"mean_{n} = batch_{n}.mean(axis=(0, 1, 2))\nprint('batch {n}', mean_{n}, batch_{n}.std())")
    cells += ["inputs = keras.Input(IMAGE_SHAPE)\nx = base(inputs, training=False)\nx = layers.GlobalAveragePooling2D()(x)\n"
              "model = keras.Model(inputs, layers.Dense(5, activation='softmax')(x))",
              "images = np.random.rand(32, *IMAGE_SHAPE).astype('float32')\nlabels = np.random.randint(0, 5, size=(32,))",
              "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\nmodel.fit(images, labels, epochs=2)",
              "base.trainable = True",
              "model.compile(optimizer=keras.optimizers.Adam(1e-5), loss='sparse_categorical_crossentropy')\nmodel.fit(images, labels, epochs=2)"]
    return cells


def edited(text: str, n: int) -> str:
    """The n-th edit of a text: a comment at the end of its first line, on and off."""
    first, _, rest = text.partition("\n")
    return f"{first}  # edit {n}\n{rest}" if n % 2 else text


def summary(name: str, samples: list[tuple[float, float]], findings: int) -> dict:
    walls = [w * 1000 for w, _ in samples]
    # /proc counts CPU time in clock ticks (10 ms): one check's share is only known on average.
    cpu = sum(c for _, c in samples) * 1000 / len(samples)
    row = {"what": name, "checks": len(samples), "findings": findings,
           "wall_median_ms": round(statistics.median(walls), 1), "wall_p90_ms": round(sorted(walls)[int(len(walls) * 0.9)], 1),
           "cpu_mean_ms": round(cpu, 1)}
    print(f"{name}: {len(samples)} checks, {findings} findings each; wall median {row['wall_median_ms']} ms "
          f"(p90 {row['wall_p90_ms']} ms); server CPU {row['cpu_mean_ms']} ms per check (mean)")
    return row


async def run(args: argparse.Namespace) -> list[dict]:
    workspace = Path(args.workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / ".git").mkdir(exist_ok=True)
    client = LanguageClient("bnlint-bench", "1")
    await client.start_io(sys.executable, "-m", "bnlint", "server")
    pid = client._server.pid  # type: ignore[union-attr]
    bench = Bench(client, pid)
    capabilities = types.ClientCapabilities(
        notebook_document=types.NotebookDocumentClientCapabilities(types.NotebookDocumentSyncClientCapabilities()))
    await client.initialize_async(types.InitializeParams(capabilities=capabilities, root_uri=from_fs_path(str(workspace)),
                                                         initialization_options={"debounce": 0}))
    client.initialized(types.InitializedParams())
    rows = []

    # A script.
    # Opened where it is, so that its project (configuration, pins, the modules it imports) is read.
    script = Path(args.script).resolve()
    text = script.read_text(encoding="utf-8")
    uri = from_fs_path(str(script))
    await bench.timed(uri, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text))))
    findings = len(bench.last[uri])
    version = 1
    samples = []
    for n in range(1, args.edits + 1):
        version += 1
        change = types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                                                   [types.TextDocumentContentChangeWholeDocument(edited(text, n))])
        samples.append(await bench.timed(uri, lambda change=change: client.text_document_did_change(change)))
    rows.append(summary(f"script {script.name} ({text.count(chr(10))} lines), re-checked after an edit", samples, findings))

    # A notebook document.
    cells = notebook_cells(args.cells)
    nb_uri = from_fs_path(str(workspace / "finetune.ipynb"))
    cell_uris = [f"{nb_uri}#cell{n}" for n in range(1, len(cells) + 1)]
    opened = types.DidOpenNotebookDocumentParams(
        types.NotebookDocument(nb_uri, "jupyter-notebook", 1, [types.NotebookCell(types.NotebookCellKind.Code, u) for u in cell_uris]),
        [types.TextDocumentItem(u, "python", 1, c) for u, c in zip(cell_uris, cells)])
    # Diagnostics arrive per cell: wait for the cell with the finding (the unfreeze, fourth from last).
    watched = cell_uris[-2]
    await bench.timed(watched, lambda: client.notebook_document_did_open(opened))
    nb_findings = sum(len(v) for k, v in bench.last.items() if k.startswith(nb_uri))
    samples = []
    # The edit moves the finding by a line (a comment added above it, then removed): a cell's
    # diagnostics are sent again only when they change.
    edited_cell = len(cells) - 2
    for n in range(1, args.edits + 1):
        change = types.DidChangeNotebookDocumentParams(
            types.VersionedNotebookDocumentIdentifier(version=n + 1, uri=nb_uri),
            types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[types.NotebookDocumentCellContentChanges(
                types.VersionedTextDocumentIdentifier(version=n + 1, uri=cell_uris[edited_cell]),
                [types.TextDocumentContentChangeWholeDocument(f"# edit {n}\n{cells[edited_cell]}" if n % 2 else cells[edited_cell])])])))
        samples.append(await bench.timed(watched, lambda change=change: client.notebook_document_did_change(change)))
    rows.append(summary(f"notebook document of {len(cells)} code cells, re-checked after an edit to one cell", samples, nb_findings))

    # Memory over many edits.
    before = after = 0.0
    for n in range(1, args.memory_edits + 1):
        version += 1
        change = types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                                                   [types.TextDocumentContentChangeWholeDocument(edited(text, n))])
        await bench.timed(uri, lambda change=change: client.text_document_did_change(change))
        if n == 100:
            before = resident_mib(pid)
    after = resident_mib(pid)
    print(f"memory: resident {before:.1f} MiB after 100 edits, {after:.1f} MiB after {args.memory_edits} "
          f"({after - before:+.1f} MiB)")
    rows.append({"what": "memory", "edits": args.memory_edits, "rss_after_100_mib": round(before, 1), "rss_after_all_mib": round(after, 1)})

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", default=str(ROOT / "examples" / "finetune_buggy.py"))
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--memory-edits", type=int, default=1000)
    parser.add_argument("--workspace", default="/tmp/bnlint-server-bench")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
