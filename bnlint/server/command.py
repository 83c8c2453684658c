"""`bnlint server`: start the language server on stdio, or say in one line what it needs."""

from __future__ import annotations

import sys

import click

from bnlint.vocabulary import EXIT_ERROR

# pygls 2 moved the server to `pygls.lsp.server`; 1.x cannot run this server.
PYGLS_MAJOR = 2


def _missing() -> str | None:
    """Why the server cannot start here (pygls or lsprotocol missing or too old), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("pygls")
        version("lsprotocol")
    except PackageNotFoundError:
        return "bnlint server needs pygls 2 or newer (bnlint's [server] extra): pip install --upgrade pygls"
    major = installed.split(".")[0]
    if not major.isdigit() or int(major) < PYGLS_MAJOR:
        return f"bnlint server needs pygls 2 or newer, found {installed}: pip install --upgrade pygls"
    return None


@click.command("server", short_help="Run the language server for editors (LSP over standard input and output).")
def server_command() -> None:
    """Run the Language Server Protocol server over standard input and output: an editor starts
    it and shows bnlint's findings as you type, with the fixes as code actions. It reads what the
    command line reads and never imports TensorFlow. Needs pygls (the [server] extra)."""
    problem = _missing()
    if problem is not None:
        click.echo(problem, err=True)
        sys.exit(EXIT_ERROR)
    from bnlint.server.app import serve

    serve()
