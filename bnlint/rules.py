"""Load rules: one YAML file per rule in `rules/` (and in any user rule directory)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bnlint import match, yaml_data

RULE_ID = re.compile(r"^[A-Z]+[0-9]{3}$")
SEVERITIES = ("error", "warning", "info")
FACTS = ("call", "model", "trainable_change", "fit")
INPUTS = ("script", "notebook", "model")
RUNTIMES = ("legacy", "keras2", "keras3")


class RuleError(ValueError):
    """A rule file that cannot be used: a usage error (exit status 2)."""


def builtin_rules_dir() -> Path:
    """The shipped rules: inside the wheel as `bnlint/_rules`, in a checkout as `rules/`."""
    packaged = Path(__file__).parent / "_rules"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "rules"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    inputs: tuple[str, ...]
    summary: str
    message: dict[str, str]  # by runtime, with "default"
    fix: dict[str, str]  # by runtime, with "default"
    rationale: str
    match: tuple[dict, ...]  # alternatives: {fact, where}
    source: Path
    example: str = ""
    use_instead: dict[str, str] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    confirm: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    enabled_by_default: bool = True

    def for_runtime(self, table: dict[str, str], runtime: str) -> str:
        return table.get(runtime, table.get("default", ""))


def _by_runtime(value, field_name: str, path: Path) -> dict[str, str]:
    if isinstance(value, str):
        return {"default": value}
    if isinstance(value, dict) and value and set(value) <= {"default", *RUNTIMES}:
        if "default" not in value and set(value) != set(RUNTIMES):
            raise RuleError(f"{path}: `{field_name}` needs a `default` or one entry per runtime")
        return {k: str(v) for k, v in value.items()}
    raise RuleError(f"{path}: `{field_name}` must be text or a mapping by runtime ({', '.join(RUNTIMES)}, default)")


def parse_rule(data: dict, path: Path) -> Rule:
    if not isinstance(data, dict):
        raise RuleError(f"{path}: a rule file holds one mapping")
    missing = [k for k in ("id", "name", "severity", "inputs", "summary", "message", "fix", "rationale", "match") if k not in data]
    if missing:
        raise RuleError(f"{path}: missing {', '.join(missing)}")
    if not RULE_ID.match(str(data["id"])):
        raise RuleError(f"{path}: rule id {data['id']!r} is not like BN001")
    if data["severity"] not in SEVERITIES:
        raise RuleError(f"{path}: severity must be one of {', '.join(SEVERITIES)}")
    inputs = tuple(data["inputs"])
    if not inputs or not set(inputs) <= set(INPUTS):
        raise RuleError(f"{path}: inputs must be some of {', '.join(INPUTS)}")
    alternatives = data["match"] if isinstance(data["match"], list) else [data["match"]]
    for alt in alternatives:
        if not isinstance(alt, dict) or alt.get("fact") not in FACTS or "where" not in alt:
            raise RuleError(f"{path}: each match needs `fact` (one of {', '.join(FACTS)}) and `where`")
        try:
            alt["predicate"] = match.compile_condition(alt["where"], str(path))
        except match.MatchError as exc:
            raise RuleError(str(exc)) from None
    return Rule(
        id=data["id"],
        name=data["name"],
        severity=data["severity"],
        inputs=inputs,
        summary=str(data["summary"]).strip(),
        message=_by_runtime(data["message"], "message", path),
        fix=_by_runtime(data["fix"], "fix", path),
        rationale=str(data["rationale"]).strip(),
        match=tuple(alternatives),
        source=path,
        example=str(data.get("example", "")).strip(),
        use_instead=_by_runtime(data["use_instead"], "use_instead", path) if "use_instead" in data else {},
        references=tuple(data.get("references", ())),
        confirm=dict(data.get("confirm", {})),
        examples=dict(data.get("examples", {})),
        enabled_by_default=bool(data.get("enabled_by_default", True)),
    )


def load_dir(directory: Path) -> list[Rule]:
    if not directory.is_dir():
        raise RuleError(f"{directory}: rule directory not found")
    rules = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml_data.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml_data.YAMLError) as exc:
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
