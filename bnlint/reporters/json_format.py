"""The JSON format: `Report.to_json()` as it is, the contract documented in the README ("JSON output")."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bnlint.findings import Report
from bnlint.rules import Rule


def render(report: Report, rules: Sequence[Rule]) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"
