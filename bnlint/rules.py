"""Load rules: one YAML file per rule in `rules/` (and in any user rule directory).

The format is documented by `rules/schema.json`. Texts (`message`, `fix.title`, `use_instead`)
are one string, or a mapping whose keys are a runtime (`keras3`), a verdict (`exposed`), both
(`keras2/exposed`) or `default`, each optionally prefixed with `model:` for findings in saved
models; the most specific key that applies wins. `severity` is one severity or a mapping by verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bnlint import match, safe_io, yaml_data
from bnlint.confirm import CHECKS, NO_CHECK
from bnlint.errors import UsageError
from bnlint.fix import MODEL_FIXERS, SCRIPT_FIXERS
from bnlint.prefilter import PREFILTER_WORDS
from bnlint.shipped import builtin_rules_dir
from bnlint.vocabulary import INPUT_KINDS, RUNTIMES, SEVERITIES, VERDICT_SEVERITY, VERDICTS

RULE_ID = re.compile(r"^[A-Z]+[0-9]{3}$")
FACTS = ("call", "model", "trainable_change", "fit", "base", "suppression")
STATUSES = ("stable", "preview", "deprecated")
_BASE_KEYS = frozenset({"default", *RUNTIMES, *VERDICTS, *(f"{r}/{v}" for r in RUNTIMES for v in VERDICTS)})
_TEXT_KEYS = _BASE_KEYS | {f"model:{k}" for k in _BASE_KEYS} | {"model"}
_REQUIRED = ("id", "name", "severity", "inputs", "summary", "message", "fix", "rationale", "match")
_OPTIONAL = ("status", "enabled_by_default", "verdict", "example", "use_instead", "references", "confirm", "examples",
             "prefilter")


RULE_FILE_LIMIT = 2**20  # bytes; the largest shipped rule is 12 KiB


class RuleError(UsageError):
    """A rule file that cannot be used: a usage error (exit status 2)."""


Texts = dict[str, str]  # by `default`, runtime, verdict or `runtime/verdict`


def pick(table: Texts, runtime: str, verdict: str | None = None, input_kind: str | None = None) -> str:
    """The most specific text of `table` for a runtime, verdict and input ('' when none applies)."""
    keys = (f"{runtime}/{verdict}", runtime, verdict)
    if input_kind == "model":
        for key in (*(f"model:{k}" for k in keys), "model", "model:default"):
            if key in table:
                return table[key]
    for key in (*keys, "default"):
        if key in table:
            return table[key]
    return ""


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: dict[str, str]  # by verdict, with "default"
    inputs: tuple[str, ...]
    summary: str
    message: Texts
    fix: Texts  # the fix title
    rationale: str
    match: tuple[dict, ...]  # alternatives: {fact, where, predicate}
    source: Path
    status: str = "stable"
    example: str = ""
    use_instead: Texts = field(default_factory=dict)
    references: tuple[str, ...] = ()
    check: str = NO_CHECK  # the dynamic check that confirms a finding (bnlint.confirm.CHECKS)
    check_reason: str = ""  # why there is none
    verdict: str | None = None  # for records that carry none (plain facts): what their findings say
    script_fixer: str | None = None  # bnlint.fix.SCRIPT_FIXERS
    model_fixer: str | None = None  # bnlint.fix.MODEL_FIXERS
    examples: dict = field(default_factory=dict)
    # Word groups (prefilter.PREFILTER_WORDS) a script must mention, with the project modules it
    # imports, for this rule to find anything in it; None: every Keras script is read for it.
    prefilter: frozenset[str] | None = None

    def for_runtime(self, table: Texts, runtime: str, verdict: str | None = None, input_kind: str | None = None) -> str:
        return pick(table, runtime, verdict, input_kind)

    def severity_for(self, verdict: str | None) -> str:
        return self.severity.get(verdict or "", self.severity["default"])

    @property
    def default_severity(self) -> str:
        """The severity shown for the rule as a whole: its most severe one."""
        return min(self.severity.values(), key=SEVERITIES.index)

    @property
    def fixable(self) -> bool:
        """Whether bnlint can fix some of its findings: an invalid example shows the fixed code."""
        return any("fixed" in example for example in self.examples.get("invalid", ()))

    @property
    def enabled_by_default(self) -> bool:
        return self.status == "stable"


def _texts(value, field_name: str, path: Path) -> Texts:
    if isinstance(value, str):
        return {"default": value}
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value) and set(value) <= _TEXT_KEYS:
        if not all(isinstance(v, str) for v in value.values()):
            raise RuleError(f"{path}: `{field_name}` texts must be strings")
        if "default" not in value and not set(RUNTIMES) <= {k.removeprefix("model:").partition("/")[0] for k in value}:
            raise RuleError(f"{path}: `{field_name}` needs a `default` or an entry for every runtime")
        return dict(value)
    keys = ", ".join(sorted(("default", *RUNTIMES, *VERDICTS)))
    raise RuleError(f"{path}: `{field_name}` must be text or a mapping by runtime and verdict ({keys}, runtime/verdict)")


def _severity(value, verdict: str | None, path: Path) -> dict[str, str]:
    if isinstance(value, str) and value in SEVERITIES:
        table = {"default": value}
    elif isinstance(value, dict) and value and set(value) <= {"default", *VERDICTS} and all(v in SEVERITIES for v in value.values()):
        table = dict(value)
        table.setdefault("default", min(table.values(), key=SEVERITIES.index))
    else:
        raise RuleError(f"{path}: `severity` must be one of {', '.join(SEVERITIES)}, or a mapping from verdict to one")
    # Severity follows the verdict: a rule that says otherwise would pass `--fail-on error` on an error.
    declared = table | ({verdict: table["default"]} if verdict and verdict not in table else {})
    wrong = [f"{v} is {VERDICT_SEVERITY[v]}, not {s}" for v, s in declared.items() if v in VERDICT_SEVERITY and s != VERDICT_SEVERITY[v]]
    if wrong:
        raise RuleError(f"{path}: `severity` must follow the verdict ({'; '.join(wrong)})")
    return table


def _fix(value, path: Path) -> tuple[Texts, str | None, str | None]:
    """(title, script fixer, model fixer): `fix` is a title, or {title, script, model}."""
    if isinstance(value, dict) and "title" in value:
        unknown = set(value) - {"title", "script", "model"}
        if unknown:
            raise RuleError(f"{path}: `fix` takes title, script and model, not {', '.join(sorted(map(str, unknown)))}")
        script, model = value.get("script"), value.get("model")
        if script is not None and script not in SCRIPT_FIXERS:
            raise RuleError(f"{path}: unknown script fixer {script!r}; known: {', '.join(SCRIPT_FIXERS)}")
        if model is not None and model not in MODEL_FIXERS:
            raise RuleError(f"{path}: unknown model fixer {model!r}; known: {', '.join(MODEL_FIXERS)}")
        return _texts(value["title"], "fix.title", path), script, model
    return _texts(value, "fix", path), None, None


def _confirm(value, path: Path) -> tuple[str, str]:
    if value is None:
        return NO_CHECK, ""
    if not isinstance(value, dict) or not isinstance(value.get("check", NO_CHECK), str):
        raise RuleError(f"{path}: `confirm` must be a mapping with `check` (and `reason` when it is none)")
    check = value.get("check", NO_CHECK)
    if check != NO_CHECK and check not in CHECKS:
        raise RuleError(f"{path}: unknown check {check!r}; known: {', '.join(CHECKS)}, {NO_CHECK}")
    return check, str(value.get("reason") or "")


def _prefilter(value, path: Path) -> frozenset[str] | None:
    if value is None:
        return None
    groups = _strings(value, "prefilter", path)
    unknown = [g for g in groups if g not in PREFILTER_WORDS]
    if not groups or unknown:
        raise RuleError(f"{path}: `prefilter` lists some of {', '.join(PREFILTER_WORDS)}")
    return frozenset(groups)


def _match(value, path: Path) -> tuple[dict, ...]:
    alternatives = value if isinstance(value, list) else [value]
    compiled = []
    for alt in alternatives:
        if not isinstance(alt, dict) or alt.get("fact") not in FACTS or "where" not in alt:
            raise RuleError(f"{path}: each match needs `fact` (one of {', '.join(FACTS)}) and `where`")
        try:
            predicate = match.compile_condition(alt["where"], str(path))
        except match.MatchError as exc:
            raise RuleError(str(exc)) from None
        compiled.append({"fact": alt["fact"], "where": alt["where"], "predicate": predicate})
    return tuple(compiled)


def _strings(value, field_name: str, path: Path) -> tuple[str, ...]:
    items = value if isinstance(value, list) else None
    if items is None or not all(isinstance(v, str) for v in items):
        raise RuleError(f"{path}: `{field_name}` must be a list of strings")
    return tuple(items)


def parse_rule(data: object, path: Path) -> Rule:
    if not isinstance(data, dict):
        raise RuleError(f"{path}: a rule file holds one mapping")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise RuleError(f"{path}: missing {', '.join(missing)}")
    # A misspelt key would otherwise be silently ignored (an `exmaples:` block never tested).
    unknown = sorted(map(str, set(data) - {*_REQUIRED, *_OPTIONAL}))
    if unknown:
        raise RuleError(f"{path}: unknown key {', '.join(unknown)} (see rules/schema.json)")
    if not isinstance(data["id"], str) or not RULE_ID.match(data["id"]):
        raise RuleError(f"{path}: rule id {data['id']!r} is not like BN001")
    if not isinstance(data["name"], str) or not data["name"]:
        raise RuleError(f"{path}: `name` must be text")
    inputs = _strings(data["inputs"], "inputs", path)
    if not inputs or not set(inputs) <= set(INPUT_KINDS):
        raise RuleError(f"{path}: inputs must be some of {', '.join(INPUT_KINDS)}")
    status = data.get("status", "preview" if data.get("enabled_by_default") is False else "stable")
    if status not in STATUSES:
        raise RuleError(f"{path}: status must be one of {', '.join(STATUSES)}")
    for key in ("summary", "rationale"):
        if not isinstance(data[key], str):
            raise RuleError(f"{path}: `{key}` must be text")
    examples = data.get("examples", {})
    if not isinstance(examples, dict) or not all(isinstance(examples.get(k, []), list) for k in ("valid", "invalid")):
        raise RuleError(f"{path}: `examples` maps valid and invalid to lists of examples")
    title, script_fixer, model_fixer = _fix(data["fix"], path)
    verdict = data.get("verdict")
    if verdict is not None and verdict not in VERDICTS:
        raise RuleError(f"{path}: verdict must be one of {', '.join(VERDICTS)}")
    severity = _severity(data["severity"], verdict, path)
    check, check_reason = _confirm(data.get("confirm"), path)
    return Rule(
        id=data["id"],
        name=data["name"],
        severity=severity,
        inputs=inputs,
        summary=data["summary"].strip(),
        message=_texts(data["message"], "message", path),
        fix=title,
        rationale=data["rationale"].strip(),
        match=_match(data["match"], path),
        source=path,
        status=status,
        example=str(data.get("example", "")).strip(),
        use_instead=_texts(data["use_instead"], "use_instead", path) if "use_instead" in data else {},
        references=_strings(data.get("references", []), "references", path),
        check=check,
        check_reason=check_reason,
        verdict=verdict,
        script_fixer=script_fixer,
        model_fixer=model_fixer,
        examples=examples,
        prefilter=_prefilter(data.get("prefilter"), path),
    )


def load_dir(directory: Path) -> list[Rule]:
    if not directory.is_dir():
        raise RuleError(f"{directory}: rule directory not found")
    rules = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            # A regular file only (a FIFO would block the run forever), of a rule file's size.
            data = yaml_data.load(safe_io.read_bytes(path, RULE_FILE_LIMIT).decode("utf-8"))
        except (safe_io.UnreadableFile, UnicodeDecodeError, yaml_data.YAMLError) as exc:
            raise RuleError(f"{path}: cannot read rule: {exc}") from None
        rules.append(parse_rule(data, path))
    return rules


@cache
def _load(dirs: tuple[Path, ...]) -> tuple[Rule, ...]:
    by_id: dict[str, Rule] = {}
    for directory in dirs:
        for rule in load_dir(directory):
            if rule.id in by_id:
                raise RuleError(f"{rule.source}: rule id {rule.id} is already defined in {by_id[rule.id].source}")
            by_id[rule.id] = rule
    return tuple(sorted(by_id.values(), key=lambda r: r.id))


def load_rules(extra_dirs: tuple[Path, ...] = ()) -> tuple[Rule, ...]:
    """The built-in rules plus the user's rule directories, sorted by id."""
    return _load((builtin_rules_dir(), *(Path(d) for d in extra_dirs)))
