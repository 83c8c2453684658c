"""Output formats: each turns a finished Report (and the rules' metadata) into text.

Every reporter module exposes `render(report, rules) -> str`, returning the whole output
ending with a newline (empty when there is nothing to say); `FORMATS` maps the names
`--format` accepts to those functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bnlint.findings import Report
from bnlint.reporters import github, json_format, sarif, text
from bnlint.rules import Rule

Render = Callable[[Report, Sequence[Rule]], str]

FORMATS: dict[str, Render] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}
