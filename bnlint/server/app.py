"""The language server: LSP messages in, `bnlint.api` checks run, diagnostics and code actions out.

Each handler is small: the analysis is the command line's (`bnlint.api.check_buffer`), so the
editor and `bnlint check` never disagree. An open script or notebook is checked on open, on
save, and after each edit once the editor has been quiet for the debounce delay; a check also
runs again when a project module it read changes (in the editor or on disk).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from bnlint import __version__
from bnlint.discover import real_path
from bnlint.server import settings as server_settings
from bnlint.server.actions import Request, Shown, code_actions
from bnlint.server.checking import Outcome, check_target, disk_text
from bnlint.server.documents import Target, file_path, notebook_target, script_target
from bnlint.server.scheduler import Scheduler

NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(cells=[types.NotebookCellLanguage("python")], notebook="jupyter-notebook")],
    save=True,
)
# Files whose change can change any check: configuration and the pins the runtime is read from.
PROJECT_FILES = ("pyproject.toml", ".bnlint.yaml", "setup.cfg", "environment.yml", "environment.yaml")
WATCHED = "**/{*.py,pyproject.toml,.bnlint.yaml,setup.cfg,environment.yml,environment.yaml,requirements*.txt}"
TOLD_LIMIT = 64  # distinct messages remembered so as not to repeat them on every keystroke


def _project_file(path: str) -> bool:
    name = os.path.basename(path)
    return name in PROJECT_FILES or (name.startswith("requirements") and name.endswith(".txt"))


class BnlintServer(LanguageServer):
    """The server and what it remembers between messages."""

    def __init__(self) -> None:
        super().__init__("bnlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         notebook_document_sync=NOTEBOOK_SYNC)
        self.options = server_settings.ServerSettings()
        self.scheduler = Scheduler()
        self.modules: dict[str, frozenset[str]] = {}  # target URI -> project modules its last check read
        self.resolved: dict[str, str] = {}  # open script URI -> its resolved path
        # URI -> the target whose check produced them -> what is shown there.
        self.shown: dict[str, dict[str, list[Shown]]] = {}
        self.owned: dict[str, tuple[str, ...]] = {}  # target URI -> the URIs it always publishes (its cells)
        self.sent: dict[str, list[types.Diagnostic]] = {}  # URI -> the diagnostics last published there, if any
        self.told: dict[str, None] = {}

    # --- what is open -------------------------------------------------------------------------

    def document(self, uri: str) -> TextDocument | None:
        """The open text document at `uri` (pygls keeps them by the URI percent-decoded)."""
        return self.workspace.text_documents.get(unquote(uri))

    def target(self, uri: str) -> Target | None:
        """The script or notebook at `uri` as it is now in the editor; None once it is closed."""
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            return notebook_target(notebook, self.workspace)
        document = self.document(uri)
        if document is None or self.workspace.get_notebook_document(cell_uri=uri) is not None:
            return None
        return script_target(document)

    def targets(self) -> list[str]:
        """Every open script and notebook, by the URI the editor gave."""
        notebooks = self.workspace.notebook_documents.values()
        cells = {unquote(cell.document) for nb in notebooks for cell in nb.cells}
        documents = [d.uri for key, d in self.workspace.text_documents.items() if key not in cells]
        return [*(nb.uri for nb in notebooks), *documents]

    def buffers(self) -> dict[str, str]:
        """The open scripts' texts by file: read instead of the disk when a check imports them."""
        found = {}
        for uri in self.resolved:
            document = self.document(uri)
            path = file_path(uri)
            if document is not None and path is not None:
                found[path] = document.source
        return found

    # --- checking -----------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float | None = None) -> None:
        self.scheduler.schedule(uri, self.options.debounce if delay is None else delay, lambda: self.check(uri))

    def schedule_importers(self, path: str | None, delay: float | None = None, but: str | None = None) -> None:
        """Check again every open target whose last check read the module at `path`."""
        if path is None:
            return
        resolved = str(real_path(path))
        for uri, modules in list(self.modules.items()):
            if uri != but and resolved in modules:
                self.schedule(uri, delay)

    def schedule_all(self) -> None:
        for uri in self.targets():
            self.schedule(uri, 0)

    async def check(self, uri: str) -> None:
        target = self.target(uri)
        if target is None:
            return
        options, buffers, codec = self.options, self.buffers(), self.workspace.position_codec
        try:
            outcome = await self.scheduler.run(lambda: check_target(target, options, buffers, codec))
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the server: say it, keep serving
            detail = (str(exc).splitlines() or [""])[0]
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Error, f"bnlint: internal error checking {uri} ({type(exc).__name__}: {detail}); please report it"))
            return
        now = self.target(uri)
        if now is None or now.version != target.version or now.text != target.text:
            return  # edited meanwhile: that edit scheduled the check that counts
        self.publish(outcome)

    def publish(self, outcome: Outcome) -> None:
        origin = outcome.target.uri
        if outcome.usage is not None:
            self.tell(outcome.usage, types.MessageType.Error)
        for problem in outcome.problems:
            self.window_log_message(types.LogMessageParams(types.MessageType.Warning, problem))
        self.modules[origin] = outcome.modules
        before = {uri for uri, by_origin in self.shown.items() if origin in by_origin}
        for uri in before - outcome.shown.keys():
            self._forget(uri, origin)
        for uri, items in outcome.shown.items():
            self.shown.setdefault(uri, {})[origin] = items
        owned = tuple(outcome.target.texts())
        new = set(owned) - set(self.owned.get(origin, ()))
        self.owned[origin] = owned
        for uri in sorted(before | outcome.shown.keys() | set(owned)):
            # The target's own URI every time (the editor learns it was checked), a cell when it
            # is new or its diagnostics changed: a 200-cell notebook is not 200 messages a keystroke.
            self.send(uri, force=uri == origin or uri in new)

    def _forget(self, uri: str, origin: str) -> None:
        by_origin = self.shown.get(uri)
        if by_origin is not None:
            by_origin.pop(origin, None)
            if not by_origin:
                del self.shown[uri]

    def forget(self, origin: str) -> None:
        """A target was closed: take back what its checks showed."""
        self.scheduler.cancel(origin)
        self.modules.pop(origin, None)
        uris = {uri for uri, by_origin in self.shown.items() if origin in by_origin} | set(self.owned.pop(origin, ()))
        for uri in uris:
            self._forget(uri, origin)
        for uri in sorted(uris):
            self.send(uri)

    def items(self, uri: str) -> list[Shown]:
        """What is shown on `uri`, each finding once (two scripts may import the same module)."""
        seen, items = set(), []
        for shown in self.shown.get(uri, {}).values():
            for item in shown:
                d = item.placed.diagnostic
                key = (d.code, d.range.start.line, d.range.start.character, d.message)
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return items

    def send(self, uri: str, force: bool = True) -> None:
        diagnostics = [item.placed.diagnostic for item in self.items(uri)]
        if not force and diagnostics == self.sent.get(uri, []):
            return
        if diagnostics:
            self.sent[uri] = diagnostics
        else:
            self.sent.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics))

    def tell(self, message: str, kind: types.MessageType) -> None:
        """Show a message once (the same problem is found again at every keystroke)."""
        if message in self.told:
            return
        self.told[message] = None
        while len(self.told) > TOLD_LIMIT:
            del self.told[next(iter(self.told))]
        self.window_show_message(types.ShowMessageParams(kind, message))

    def configure(self, options: object) -> None:
        try:
            root = self.workspace.root_path
        except RuntimeError:  # not initialized yet
            root = None
        self.options, problems = server_settings.read(options, Path(root) if root else None)
        for problem in problems:
            self.tell(problem, types.MessageType.Warning)


def create_server() -> BnlintServer:
    """A server with every feature registered (a new one per process, or per in-process test)."""
    server = BnlintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: BnlintServer, params: types.InitializeParams) -> None:
        ls.configure(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: BnlintServer, params: types.InitializedParams) -> None:
        watched = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watched and watched.dynamic_registration:
            options = types.DidChangeWatchedFilesRegistrationOptions([types.FileSystemWatcher(WATCHED)])
            registration = types.Registration("bnlint-watched-files", types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            ls.client_register_capability(types.RegistrationParams([registration]))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def changed_configuration(ls: BnlintServer, params: types.DidChangeConfigurationParams) -> None:
        if params.settings is not None:
            ls.configure(params.settings)
            ls.schedule_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def changed_files(ls: BnlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        paths = [path for change in params.changes if (path := file_path(change.uri)) is not None]
        if any(_project_file(path) for path in paths):
            ls.schedule_all()
            return
        for path in paths:
            ls.schedule_importers(path, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def opened(ls: BnlintServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = file_path(uri)
        if path is not None:
            ls.resolved[uri] = str(real_path(path))
        ls.schedule(uri, 0)
        ls.schedule_importers(path, but=uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def changed(ls: BnlintServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.schedule(uri)
        ls.schedule_importers(file_path(uri), but=uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def saved(ls: BnlintServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = file_path(uri)
        if path is not None and _project_file(path):
            ls.schedule_all()
            return
        ls.schedule(uri, 0)
        ls.schedule_importers(path, 0, but=uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def closed(ls: BnlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.resolved.pop(uri, None)
        ls.forget(uri)
        ls.schedule_importers(file_path(uri), 0)  # they read the file on disk again

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_opened(ls: BnlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_changed(ls: BnlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_saved(ls: BnlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, 0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_closed(ls: BnlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.forget(params.notebook_document.uri)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, "source.fixAll.bnlint"]))
    def actions(ls: BnlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document = ls.document(uri)
        text = document.source if document is not None else disk_text(file_path(uri))
        if text is None:
            return []
        edit = ls.client_capabilities.workspace and ls.client_capabilities.workspace.workspace_edit
        request = Request(uri, document.version if document is not None else None, text, params.range,
                          params.context.only, bool(edit and edit.document_changes), ls.workspace.position_codec)
        return code_actions(request, ls.items(uri))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: BnlintServer, params: types.HoverParams) -> types.Hover | None:
        at = (params.position.line, params.position.character)
        parts, ranges = [], []
        for item in ls.items(params.text_document.uri):
            d = item.placed.diagnostic
            if (d.range.start.line, d.range.start.character) <= at <= (d.range.end.line, d.range.end.character):
                if item.about is not None and item.about not in parts:
                    parts.append(item.about)
                    ranges.append(d.range)
        if not parts:
            return None
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, "\n---\n\n".join(parts)), ranges[0])

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: BnlintServer, params: None) -> None:
        ls.scheduler.close()

    return server


def serve() -> None:
    """Serve one editor over standard input and output until it says exit."""
    import gc

    gc.enable()  # `bnlint check` exits without collecting; a server runs for hours
    server = create_server()
    server.start_io()
