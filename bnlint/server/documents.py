"""What the server checks: each open script or notebook, as the text bnlint reads and the file it stands for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path, uri_scheme
from pygls.workspace import TextDocument, Workspace

from bnlint.vocabulary import InputKind

# jupyterlab-lsp gives the language server a shadow copy of each open notebook (its cells joined
# as Python) below this folder of the workspace: it is checked as if it were where the notebook
# is, so that the project's modules it imports are found.
VIRTUAL_DOCUMENTS = ".virtual_documents"
PYTHON_SUFFIXES = (".py", ".pyw", ".ipynb")


@dataclass(frozen=True)
class Target:
    """One open script or notebook: what bnlint reads, and where its findings are shown."""

    uri: str  # the text document's URI, or the notebook document's
    path: str | None  # the file it stands for (configuration, pins and project modules are found from it); None: unsaved
    kind: InputKind
    text: str  # a notebook document: its cells as an nbformat 4 notebook
    version: int | None
    # A notebook document: the URI of each cell, in order (findings count cells from 1, code and
    # markdown alike).
    cells: tuple[str, ...] = ()
    cell_texts: tuple[str, ...] = ()
    # An `.ipynb` file opened as its JSON text: findings are shown on the lines of the file.
    notebook_file: bool = False

    def texts(self) -> dict[str, str]:
        """The text shown at each of this target's URIs (a notebook document: each cell's)."""
        if self.cells:
            return dict(zip(self.cells, self.cell_texts))
        return {self.uri: self.text}

    def cell_uri(self, cell: int | None) -> str:
        """Where a finding of this target's own cell (or of the script itself) is shown."""
        if cell is not None and 1 <= cell <= len(self.cells):
            return self.cells[cell - 1]
        return self.uri


def file_path(uri: str) -> str | None:
    """The file a `file:` URI names (a jupyterlab-lsp shadow copy: the notebook it copies); None
    for other schemes (an unsaved buffer)."""
    if uri_scheme(uri) != "file":
        return None
    path = to_fs_path(uri)
    if path is None:
        return None
    parts = Path(path).parts
    if VIRTUAL_DOCUMENTS in parts:
        at = parts.index(VIRTUAL_DOCUMENTS)
        path = str(Path(*parts[:at], *parts[at + 1 :]))
    return path


def script_target(document: TextDocument) -> Target | None:
    """A Python file, or an `.ipynb` file opened as text; None for documents bnlint does not read."""
    path = file_path(document.uri)
    name = (path or document.uri).lower()
    if document.language_id != "python" and not name.endswith(PYTHON_SUFFIXES):
        return None
    text = document.source
    # jupyterlab-lsp's shadow copy of a notebook keeps the `.ipynb` name but holds Python.
    notebook = name.endswith(".ipynb") and text.lstrip().startswith("{")
    return Target(document.uri, path, "notebook" if notebook else "script", text, document.version, notebook_file=notebook)


def notebook_target(notebook: types.NotebookDocument, workspace: Workspace) -> Target:
    """A notebook document (LSP 3.17), its cells put together as the notebook file they stand for."""
    cells, texts = [], []
    for cell in notebook.cells:
        code = cell.kind == types.NotebookCellKind.Code
        source = workspace.get_text_document(cell.document).source
        entry = {"cell_type": "code" if code else "markdown", "metadata": {}, "source": source}
        cells.append(entry | ({"outputs": [], "execution_count": None} if code else {}))
        texts.append(source)
    data = {"cells": cells, "metadata": notebook.metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    return Target(notebook.uri, file_path(notebook.uri), "notebook", json.dumps(data), notebook.version,
                  tuple(cell.document for cell in notebook.cells), tuple(texts))
