"""The one error type for usage problems: a bad option, configuration, rule file or baseline.

Each is reported as one line and makes the exit status 2 (`bnlint.vocabulary.EXIT_ERROR`). The
library raises `UsageError`; the commands turn it into `UsageProblem`, which click prints.
"""

from __future__ import annotations

import click

from bnlint.vocabulary import EXIT_ERROR


class UsageError(ValueError):
    """Bnlint cannot run as asked. `str()` is one line, naming the file when there is one."""


class UsageProblem(click.ClickException):
    """A usage error as the command line prints it: `bnlint: error: ...`, exit status 2."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:
        click.echo(f"bnlint: error: {self.format_message()}", err=True)
