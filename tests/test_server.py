"""`bnlint server` end to end: a real LSP client (pytest-lsp) drives the server process over stdio.

Each test starts `python -m bnlint server` in a small repository, opens scripts and notebooks as
an editor does, and reads what the server publishes: the same findings `bnlint check` reports,
on the right URI and range, with their fixes as code actions.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from bnlint import __version__
from bnlint.cli import cli

SERVER = [sys.executable, "-m", "bnlint", "server"]

# tf.keras 2: a frozen ResNet50 called without training=False, trained, unfrozen, trained again.
# One finding: BN001 exposed at line 5 (the call), with the unfreeze and both fits related.
EXPOSED = """\
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
FIXED = EXPOSED.replace("x = base(inputs)", "x = base(inputs, training=False)")

# The same split over a helper module: it builds, freezes and trains the head; the script unfreezes.
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
TRAIN = """\
import tensorflow as tf
from helpers import build, train_head
model, base = build()
train_head(model, "data/")
base.trainable = True
model.compile("sgd", "mse")
model.fit("data/", epochs=5)
"""


def _capabilities() -> types.ClientCapabilities:
    capabilities = client_capabilities("visual-studio-code")
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities(execution_summary_support=False))
    return capabilities


async def _start(root: Path, options: dict | None = None, env: dict | None = None) -> LanguageClient:
    """A server started in `root` and initialised as VS Code (with notebook support) would; the
    server's answer to `initialize` is kept as `client.initialized_with`."""
    client = await ClientServerConfig(server_command=SERVER, server_env=env).start()

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params):  # the server asks to watch files; a test client has nothing to watch
        return None

    client.initialized_with = await client.initialize_session(types.InitializeParams(  # type: ignore[attr-defined]
        capabilities=_capabilities(), root_uri=from_fs_path(str(root)),
        initialization_options={"debounce": 0, **(options or {})}))
    return client


async def _stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


@pytest.fixture
def project(repository):
    (repository / "helpers.py").write_text(HELPERS)
    (repository / "train.py").write_text(TRAIN)
    (repository / "exposed.py").write_text(EXPOSED)
    return repository


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_server():
    """One server for the tests that only open documents: each test's project is a folder of its
    own, so their URIs never meet (a server takes a second or two to start on a loaded machine)."""
    client = await _start(Path.cwd())
    yield client
    await _stop(client)


@pytest.fixture
def client(shared_server, project):
    shared_server.diagnostics.clear()
    shared_server.messages.clear()
    return shared_server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def debounced_server():
    """A server that waits 0.4 s after the last edit before it checks, as an editor's would."""
    client = await _start(Path.cwd(), {"debounce": 400})
    yield client
    await _stop(client)


@pytest.fixture
def debounced(debounced_server, project):
    debounced_server.diagnostics.clear()
    return debounced_server


async def until(condition, timeout: float = 20.0):
    """Wait for `condition()` to hold (the server publishes on its own schedule)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the server")
        await asyncio.sleep(0.02)


def open_script(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = from_fs_path(str(path))
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri, "python", version, path.read_text() if text is None else text)))
    return uri


def replace_text(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version), [types.TextDocumentContentChangeWholeDocument(text)]))


async def diagnostics_of(client: LanguageClient, uri: str, count: int | None = None) -> list[types.Diagnostic]:
    """The diagnostics published for `uri` (once there are `count` of them, if given)."""
    await until(lambda: uri in client.diagnostics and (count is None or len(client.diagnostics[uri]) == count))
    return list(client.diagnostics[uri])


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """What an editor does with a code action's text edits (ASCII text: UTF-16 units are characters)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: types.Position) -> int:
        return starts[position.line] + position.character if position.line < len(lines) else len(text)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


def edits_of(action: types.CodeAction, uri: str) -> list[types.TextEdit]:
    (change,) = action.edit.document_changes
    assert change.text_document.uri == uri
    return list(change.edits)


# --- the session ----------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_initialize_announces_what_the_server_does(client: LanguageClient):
    result = client.initialized_with
    assert (result.server_info.name, result.server_info.version) == ("bnlint", __version__)
    capabilities = result.capabilities
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert capabilities.text_document_sync.save is not None and capabilities.text_document_sync.open_close
    assert capabilities.hover_provider
    assert set(capabilities.code_action_provider.code_action_kinds) == {"quickfix", "source.fixAll.bnlint"}
    (selector,) = capabilities.notebook_document_sync.notebook_selector
    assert selector.notebook == "jupyter-notebook" and [c.language for c in selector.cells] == ["python"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_buggy_script_gets_the_finding_bnlint_check_reports_then_the_edit_that_fixes_it_clears_it(client, project):
    uri = open_script(client, project / "exposed.py")
    (diagnostic,) = await diagnostics_of(client, uri, 1)
    assert (diagnostic.code, diagnostic.source, diagnostic.severity) == ("BN001", "bnlint", types.DiagnosticSeverity.Error)
    assert diagnostic.range == types.Range(types.Position(4, 4), types.Position(4, 16))  # `base(inputs)`, line 5
    assert diagnostic.code_description.href == "https://github.com/bnlint/bnlint/blob/main/rules/BN001.yaml"
    assert diagnostic.data["verdict"] == "exposed" and diagnostic.data["runtime"]["target"] == "keras2"
    assert "verdict: exposed; runtime: keras2 (import tf_keras (line 1))" in diagnostic.message
    # The same finding as the command line's, message and all.
    report = json.loads(CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--format", "json", "exposed.py"]).stdout)
    (finding,) = report["findings"]
    assert diagnostic.message.startswith(finding["message"] + "\nfix: " + finding["fix"])
    # The unfreeze and the training events, where they are.
    related = sorted((r.location.uri, r.location.range.start.line, r.message) for r in diagnostic.related_information)
    assert related == sorted((uri, r["line"] - 1, r["message"]) for r in finding["related"])
    assert {r.location.range.start.line for r in diagnostic.related_information} >= {8, 10}  # unfreeze, fine-tuning fit

    replace_text(client, uri, FIXED, 2)
    assert await diagnostics_of(client, uri, 0) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_file_whose_uri_is_percent_encoded_is_checked_and_its_diagnostics_use_the_editors_uri(client, project):
    folder = project / "runs 2024+v2"
    folder.mkdir()
    (folder / "exposed.py").write_text(EXPOSED)
    uri = open_script(client, folder / "exposed.py")
    assert "%20" in uri and "%2B" in uri
    assert [d.code for d in await diagnostics_of(client, uri, 1)] == ["BN001"]
    assert [a for a in await _actions(client, uri, 4) if a.startswith("Fix BN001")]


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_on_a_diagnosed_range_shows_the_rule_documentation(client, project):
    uri = open_script(client, project / "exposed.py")
    await diagnostics_of(client, uri, 1)
    hover = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(4, 6)))
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value.startswith("**BN001** (frozen-batchnorm-called-without-training-false)")
    assert "Call it as `base(inputs, training=False)`" in hover.contents.value  # the tf.keras fix
    assert await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 2))) is None


# --- code actions ---------------------------------------------------------------------------------


async def _actions(client, uri, line: int) -> dict[str, types.CodeAction]:
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), types.Range(types.Position(line, 0), types.Position(line, 1)),
        types.CodeActionContext(diagnostics=[])))
    return {action.title: action for action in actions}


@pytest.mark.asyncio(loop_scope="module")
async def test_the_fix_action_makes_the_edit_check_fix_makes_and_the_finding_goes(client, project):
    uri = open_script(client, project / "exposed.py")
    await diagnostics_of(client, uri, 1)
    actions = await _actions(client, uri, 4)
    fix = next(a for title, a in actions.items() if title.startswith("Fix BN001"))
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    fixed = apply_edits(EXPOSED, edits_of(fix, uri))
    assert fixed == FIXED
    # `check --fix` writes the same text.
    assert CliRunner().invoke(cli, ["check", "--no-confirm", "--no-cache", "--fix", "exposed.py"]).exit_code == 0
    assert (project / "exposed.py").read_text() == fixed
    replace_text(client, uri, fixed, 2)
    assert await diagnostics_of(client, uri, 0) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_the_noqa_action_suppresses_the_finding(client, project):
    uri = open_script(client, project / "exposed.py")
    await diagnostics_of(client, uri, 1)
    actions = await _actions(client, uri, 4)
    noqa = actions["Suppress BN001 on this line (# noqa: BN001)"]
    suppressed = apply_edits(EXPOSED, edits_of(noqa, uri))
    assert suppressed.splitlines()[4] == "x = base(inputs)  # noqa: BN001"
    replace_text(client, uri, suppressed, 2)
    assert await diagnostics_of(client, uri, 0) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_fix_all_fixes_every_fixable_finding_of_the_file(client, project):
    # Keras 3: BN003 (fit after the unfreeze without compiling) and BN004 (the unfreeze), both fixable.
    text = (Path(__file__).resolve().parent.parent / "examples" / "finetune_buggy.py").read_text()
    uri = open_script(client, project / "finetune.py", text)
    assert {d.code for d in await diagnostics_of(client, uri, 2)} == {"BN003", "BN004"}
    actions = await _actions(client, uri, 0)  # anywhere in the file
    fix_all = actions["Fix all bnlint findings in this file"]
    assert fix_all.kind == "source.fixAll.bnlint"
    replace_text(client, uri, apply_edits(text, edits_of(fix_all, uri)), 2)
    assert await diagnostics_of(client, uri, 0) == []
    # A client asking for quick fixes only gets no fix-all; one asking for fix-all only gets nothing else.
    only = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), types.Range(types.Position(0, 0), types.Position(0, 0)),
        types.CodeActionContext(diagnostics=[], only=["source.fixAll"])))
    assert list(only) == []  # nothing left to fix


@pytest.mark.asyncio(loop_scope="module")
async def test_no_action_is_offered_from_a_diagnostic_the_text_has_moved_on_from(debounced, project):
    client = debounced
    uri = open_script(client, project / "exposed.py")
    await diagnostics_of(client, uri, 1)
    assert await _actions(client, uri, 4)
    # A line added above the finding: until the new text is checked, nothing offers edits at the old place.
    replace_text(client, uri, "# a comment\n" + EXPOSED, 2)
    assert await _actions(client, uri, 4) == {}
    client.diagnostics.clear()
    (diagnostic,) = await diagnostics_of(client, uri, 1)
    assert diagnostic.range.start.line == 5
    fix = next(a for title, a in (await _actions(client, uri, 5)).items() if title.startswith("Fix BN001"))
    assert apply_edits("# a comment\n" + EXPOSED, edits_of(fix, uri)) == "# a comment\n" + FIXED


# --- notebooks ------------------------------------------------------------------------------------

NOTEBOOK_CELLS = [
    ("markdown", "# Fine-tuning"),
    ("code", "import tf_keras as keras\nbase = keras.applications.ResNet50(weights=None, include_top=False, pooling='avg')\nbase.trainable = False"),
    ("code", "inputs = keras.Input((64, 64, 3))\nmodel = keras.Model(inputs, keras.layers.Dense(1)(base(inputs)))"),
    ("code", "model.compile('adam', 'mse')\nmodel.fit(images, labels)"),
]


def _cell(uri: str, index: int) -> str:
    return f"{uri}#cell{index}"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_notebook_document_opened_cell_by_cell_gets_the_finding_on_its_cell(client, project):
    uri = from_fs_path(str(project / "finetune.ipynb"))
    kinds = {"markdown": types.NotebookCellKind.Markup, "code": types.NotebookCellKind.Code}
    first_kind, first_text = NOTEBOOK_CELLS[0]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        types.NotebookDocument(uri, "jupyter-notebook", 1, [types.NotebookCell(kinds[first_kind], _cell(uri, 1))]),
        [types.TextDocumentItem(_cell(uri, 1), "markdown", 1, first_text)]))
    await diagnostics_of(client, _cell(uri, 1), 0)
    for number, (kind, text) in enumerate(NOTEBOOK_CELLS[1:], start=2):
        cell = _cell(uri, number)
        client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
            types.VersionedNotebookDocumentIdentifier(version=number, uri=uri),
            types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(structure=types.NotebookDocumentCellChangeStructure(
                array=types.NotebookCellArrayChange(start=number - 1, delete_count=0, cells=[types.NotebookCell(kinds[kind], cell)]),
                did_open=[types.TextDocumentItem(cell, "python", 1, text)])))))
        if number < len(NOTEBOOK_CELLS):
            await diagnostics_of(client, cell, 0)  # nothing trains yet: nothing to report
    # The base is called in the third cell, on its second line; it is trained in the fourth.
    (diagnostic,) = await diagnostics_of(client, _cell(uri, 3), 1)
    assert diagnostic.code == "BN001" and diagnostic.data["verdict"] == "latent"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range.start == types.Position(1, NOTEBOOK_CELLS[2][1].splitlines()[1].index("base(inputs)"))
    assert [(r.location.uri, r.location.range.start.line) for r in diagnostic.related_information] == [(_cell(uri, 4), 1)]
    assert not client.diagnostics[_cell(uri, 2)] and not client.diagnostics[_cell(uri, 4)]

    # The noqa action edits the cell; the finding goes.
    actions = await _actions(client, _cell(uri, 3), 1)
    assert not any(title.startswith("Fix ") for title in actions)  # notebooks are not fixed, as with --fix
    noqa = actions["Suppress BN001 on this line (# noqa: BN001)"]
    text = apply_edits(NOTEBOOK_CELLS[2][1], edits_of(noqa, _cell(uri, 3)))
    client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
        types.VersionedNotebookDocumentIdentifier(version=10, uri=uri),
        types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[types.NotebookDocumentCellContentChanges(
            types.VersionedTextDocumentIdentifier(uri=_cell(uri, 3), version=2), [types.TextDocumentContentChangeWholeDocument(text)])]))))
    assert await diagnostics_of(client, _cell(uri, 3), 0) == []

    # Closing the notebook takes its diagnostics back.
    client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
        types.NotebookDocumentIdentifier(uri), [types.TextDocumentIdentifier(_cell(uri, n)) for n in range(1, 5)]))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_notebook_file_opened_as_text_gets_the_finding_on_the_line_of_the_file(client, project):
    cells = [{"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
             | ({"outputs": [], "execution_count": None} if kind == "code" else {}) for kind, text in NOTEBOOK_CELLS]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    (project / "finetune.ipynb").write_text(text)
    uri = from_fs_path(str(project / "finetune.ipynb"))
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "json", 1, text)))
    (diagnostic,) = await diagnostics_of(client, uri, 1)
    line = next(n for n, row in enumerate(text.splitlines()) if "base(inputs)" in row)
    assert diagnostic.code == "BN001" and diagnostic.range.start.line == line
    # No line edit of the JSON text: the actions are a notebook editor's business.
    assert await _actions(client, uri, line) == {}


# --- the project ----------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_a_change_to_a_helper_module_checks_the_scripts_that_import_it_again(client, project):
    train = open_script(client, project / "train.py")
    (diagnostic,) = await diagnostics_of(client, train, 1)
    assert diagnostic.code == "BN004"
    assert [r.location.uri for r in diagnostic.related_information][0] == from_fs_path(str(project / "helpers.py"))
    # The helper is opened and edited, not saved: the open buffer wins over the disk.
    helpers = open_script(client, project / "helpers.py")
    await diagnostics_of(client, helpers, 0)
    client.diagnostics.pop(train)
    replace_text(client, helpers, HELPERS.replace("    base.trainable = False\n", ""), 2)
    assert await diagnostics_of(client, train, 0) == []
    # Closed without saving: the file on disk counts again.
    client.diagnostics.pop(train)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(helpers)))
    assert [d.code for d in await diagnostics_of(client, train, 1)] == ["BN004"]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_helper_module_changed_on_disk_checks_its_importers_again(client, project):
    train = open_script(client, project / "train.py")
    assert [d.code for d in await diagnostics_of(client, train, 1)] == ["BN004"]
    # A `git checkout` changes the helper; the editor reports the file change it watches.
    (project / "helpers.py").write_text(HELPERS.replace("    base.trainable = False\n", ""))
    client.diagnostics.pop(train)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        [types.FileEvent(from_fs_path(str(project / "helpers.py")), types.FileChangeType.Changed)]))
    assert await diagnostics_of(client, train, 0) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_finding_inside_a_helper_module_is_shown_there(client, project):
    (project / "pyproject.toml").write_text('[tool.bnlint]\ntarget-runtime = "keras2"\n')
    open_script(client, project / "train.py")
    # On tf.keras the problem is the helper's call of the base: shown in helpers.py, as the CLI reports it.
    (diagnostic,) = await diagnostics_of(client, from_fs_path(str(project / "helpers.py")), 1)
    assert (diagnostic.code, diagnostic.range.start.line) == ("BN001", 5)
    assert from_fs_path(str(project / "train.py")) in {r.location.uri for r in diagnostic.related_information}


@pytest.mark.asyncio(loop_scope="module")
async def test_typing_never_queues_checks(debounced, project):
    # The whole burst of edits arrives within the debounce delay: one check, of the last text.
    client = debounced
    uri = open_script(client, project / "exposed.py")
    await diagnostics_of(client, uri, 1)
    published = []
    original = client.diagnostics

    class Recorder(dict):
        def __setitem__(self, key, value):
            published.append((key, len(value)))
            super().__setitem__(key, value)

    client.diagnostics = Recorder(original)
    try:
        for version in range(2, 22):
            replace_text(client, uri, FIXED if version % 2 else EXPOSED, version)
            await asyncio.sleep(0.005)
        await until(lambda: published)
        await asyncio.sleep(1.0)  # time for any check still queued to report
    finally:
        client.diagnostics = original
    assert published == [(uri, 0)]  # the last text (version 21: FIXED); nothing in between


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_settings_from_initialization_options_and_configuration_changes(project):
    client = await _start(project, {"ignore": ["BN001"]})
    try:
        uri = open_script(client, project / "exposed.py")
        assert await diagnostics_of(client, uri, 0) == []
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnlint": {"targetRuntime": "keras3"}}))
        # Keras 3: the same code is an unfreeze that exposes the base (BN004), reported at the unfreeze.
        (diagnostic,) = await diagnostics_of(client, uri, 1)
        assert (diagnostic.code, diagnostic.range.start.line) == ("BN004", 8)
        assert "runtime: keras3 (--target-runtime)" in diagnostic.message
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"bnlint": {"select": ["BN003"]}}))
        assert await diagnostics_of(client, uri, 0) == []
        # A configuration file named in the settings, relative to the workspace.
        (project / "lint").mkdir()
        (project / "lint" / "bnlint.yaml").write_text("ignore: [BN001]\n")
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"configuration": "lint/bnlint.yaml"}))
        await asyncio.sleep(0.5)
        assert await diagnostics_of(client, uri, 0) == []
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"configuration": None}))
        assert [d.code for d in await diagnostics_of(client, uri, 1)] == ["BN001"]
        # Settings it cannot use: one message each, and the rest still applies.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"targetRuntime": "keras9", "colour": "red"}))
        await until(lambda: len(client.messages) >= 2)
        assert sorted(m.message for m in client.messages) == [
            "bnlint settings: `targetRuntime` must be one of legacy, keras2, keras3; ignored",
            "bnlint settings: unknown setting `colour`; ignored",
        ]
    finally:
        await _stop(client)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_configuration_next_to_the_file_applies_and_a_broken_one_is_said_once(client, project):
    (project / "pyproject.toml").write_text('[tool.bnlint]\nper-file-ignores = { "exposed.py" = ["BN001"] }\n')
    uri = open_script(client, project / "exposed.py")
    assert await diagnostics_of(client, uri, 0) == []
    (project / "pyproject.toml").write_text("[tool.bnlint]\nselect = 1\n")
    saved = types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(from_fs_path(str(project / "pyproject.toml"))))
    client.text_document_did_save(saved)
    await until(lambda: client.messages)
    client.text_document_did_save(saved)
    replace_text(client, uri, EXPOSED + "\n", 2)
    await asyncio.sleep(1.0)
    (message,) = client.messages
    assert message.type == types.MessageType.Error and "`select` must be a list of strings" in message.message


# --- the process ----------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_the_server_never_imports_tensorflow_or_keras_and_exits_when_told(project, tmp_path):
    # Modules that leave a marker if anything imports them, first on the server's path.
    planted, marker = tmp_path / "planted", tmp_path / "IMPORTED"
    for name in ("tensorflow", "keras", "tf_keras"):
        (planted / name).mkdir(parents=True)
        (planted / name / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    client = await _start(project, env={**os.environ, "PYTHONPATH": str(planted)})
    try:
        uri = open_script(client, project / "exposed.py")
        assert [d.code for d in await diagnostics_of(client, uri, 1)] == ["BN001"]
        assert await _actions(client, uri, 4)
        assert await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(4, 6)))
        # shutdown, then exit: the process ends with status 0.
        server = client._server
        await client.shutdown_async(None)
        client.exit(None)
        assert await asyncio.wait_for(server.wait(), 20) == 0
    finally:
        await client.stop()
    assert not marker.exists(), marker.read_text()


def test_without_pygls_the_command_says_what_to_install_in_one_line(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.version

    def version(name):
        if name == "pygls":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    result = CliRunner().invoke(cli, ["server"])
    assert result.exit_code == 2
    assert result.stderr == "bnlint server needs pygls 2 or newer (bnlint's [server] extra): pip install --upgrade pygls\n"
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.3.1" if name == "pygls" else real(name))
    assert CliRunner().invoke(cli, ["server"]).stderr == "bnlint server needs pygls 2 or newer, found 1.3.1: pip install --upgrade pygls\n"


def test_import_bnlint_and_check_never_import_pygls(project):
    code = (
        "import sys; import bnlint; from bnlint.cli import cli; sys.argv = ['bnlint', 'check', '.', '--no-confirm', '--no-cache'];\n"
        "try:\n    cli(prog_name='bnlint')\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'cattrs')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=60)
    assert "LOADED []" in result.stdout, result.stdout + result.stderr
