"""The SARIF 2.1.0 format, shaped for GitHub code scanning (one run, every rule, stable fingerprints).

Paths are relative to the repository root (`uriBaseId: %SRCROOT%`, resolved by
`originalUriBaseIds`) whatever folder bnlint ran from. Findings a `# noqa` directive suppresses
are results with `suppressions: [{kind: inSource}]`; findings the baseline accepts have
`baselineState: unchanged` and an `external` suppression (the others `new`), as semgrep does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from bnlint.docs import HOMEPAGE, RUNTIME_TITLES, fixes_by_runtime, rule_doc, rule_url
from bnlint.findings import Finding, InputError, Related, Report
from bnlint.reporters.printable import printable
from bnlint.reporters.wording import file_line, message_lines, related_repository_path, repository_path
from bnlint.rules import Rule

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "bnlint/v1"
SRCROOT = "%SRCROOT%"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _uri_path(path: str) -> str:
    # Percent-encode the file name's bytes: a non-UTF-8 name (lone surrogates) is still a valid URI.
    return quote(os.fsencode(path), safe="/")


def artifact_location(path: str) -> dict:
    """Relative paths stay relative to the checkout (`%SRCROOT%`); absolute ones and paths that
    leave it (`../x.py`) become file URIs."""
    posix = PurePosixPath(Path(path).as_posix())
    if posix.is_absolute() or posix.parts[:1] == ("..",):
        return {"uri": "file://" + _uri_path(os.path.abspath(path))}
    return {"uri": _uri_path(os.path.normpath(posix.as_posix())), "uriBaseId": SRCROOT}


def _help_text(rule: Rule) -> str:
    fixes = "\n".join(f"- {', '.join(runtimes)}: {text}" for runtimes, text in fixes_by_runtime(rule))
    return f"{rule.summary}\n\nFix:\n{fixes}\n\nRun `bnlint rule {rule.id}` for the full documentation."


def _rule_descriptor(rule: Rule) -> dict:
    descriptor = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": _help_text(rule), "markdown": rule_doc(rule)},
        "defaultConfiguration": {"level": _LEVELS[rule.default_severity], "enabled": rule.enabled_by_default},
        "properties": {"tags": ["keras", "batchnorm", *rule.inputs]},
    }
    url = rule_url(rule)
    if url:
        descriptor["helpUri"] = url
    return descriptor


def _region(finding: Finding) -> dict:
    # Code scanning needs a startLine on every result. A notebook cell's line is found in the
    # .ipynb file (columns there are JSON's, so none is given); a saved model points at line 1.
    if finding.cell is not None or finding.layer_path is not None or finding.line is None:
        return {"startLine": file_line(finding)}
    region = {"startLine": finding.line, "startColumn": finding.column,
              "endLine": finding.end_line, "endColumn": finding.end_column}
    return {key: value for key, value in region.items() if value is not None}


def _location(finding: Finding) -> dict:
    location: dict = {
        "physicalLocation": {"artifactLocation": artifact_location(repository_path(finding)), "region": _region(finding)}
    }
    if finding.layer_path is not None:
        location["logicalLocations"] = [
            {"name": finding.layer_path.rsplit("/", 1)[-1], "fullyQualifiedName": finding.layer_path}
        ]
    elif finding.cell is not None:
        location["logicalLocations"] = [{"name": f"cell {finding.cell}", "fullyQualifiedName": f"cell {finding.cell}"}]
    return location


def _related_location(finding: Finding, related: Related, index: int) -> dict:
    in_cell = related.cell is not None
    region = {"startLine": (related.file_line if in_cell else related.line) or 1}
    if related.column is not None and not in_cell:
        region["startColumn"] = related.column
    where = related_repository_path(finding, related) if related.path else repository_path(finding)
    location = {"id": index, "physicalLocation": {"artifactLocation": artifact_location(where), "region": region},
                "message": {"text": printable(related.message)}}
    if related.cell is not None:
        location["logicalLocations"] = [{"name": f"cell {related.cell}", "fullyQualifiedName": f"cell {related.cell}"}]
    return location


def _message(finding: Finding) -> str:
    return "\n".join(message_lines(finding, "Fix: ", "Dynamic check: "))


def _result(finding: Finding, rule_index: dict[str, int], baseline_used: bool) -> dict:
    result = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index.get(finding.rule),
        "level": _LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint()},
        "properties": {
            "verdict": finding.verdict,
            "fix": finding.fix,
            "confirmation": asdict(finding.confirmation),
            "runtime": {
                "target": finding.runtime.target,
                "description": RUNTIME_TITLES[finding.runtime.target],
                "source": finding.runtime.source,
            },
        },
    }
    if finding.related:
        result["relatedLocations"] = [_related_location(finding, r, i) for i, r in enumerate(finding.related, start=1)]
    if finding.suppression == "noqa":
        result["suppressions"] = [{"kind": "inSource"}]
    elif finding.suppression == "baseline":
        result["suppressions"] = [{"kind": "external", "justification": "accepted in the bnlint baseline"}]
    if baseline_used:
        result["baselineState"] = "unchanged" if finding.suppression == "baseline" else "new"
    if result["ruleIndex"] is None:  # a finding of a rule the caller did not pass
        del result["ruleIndex"]
    return result


def _notification(error: InputError, level: str = "error") -> dict:
    return {
        "level": level,
        "message": {"text": printable(str(error))},
        "locations": [{"physicalLocation": {"artifactLocation": artifact_location(error.path)}}],
    }


def to_sarif(report: Report, rules: Sequence[Rule]) -> dict:
    rule_index = {rule.id: index for index, rule in enumerate(rules)}
    driver = {
        "name": "bnlint",
        "version": report.version,
        "semanticVersion": report.version,
        "informationUri": HOMEPAGE,
        "rules": [_rule_descriptor(rule) for rule in rules],
    }
    invocation = {
        "executionSuccessful": not report.errors,
        "toolExecutionNotifications": [_notification(e) for e in report.errors]
        + [_notification(e, "note") for e in report.skipped],
    }
    baseline_used = any(f.suppression == "baseline" for f in report.suppressed)
    findings = sorted(report.findings + report.suppressed, key=Finding.sort_key)
    run = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, rule_index, baseline_used) for f in findings],
    }
    if report.root:
        # What %SRCROOT% stands for: the repository root, as a directory URI (trailing slash).
        run["originalUriBaseIds"] = {SRCROOT: {"uri": "file://" + _uri_path(report.root.rstrip("/") + "/")}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: Report, rules: Sequence[Rule]) -> str:
    return json.dumps(to_sarif(report, rules), indent=2) + "\n"
