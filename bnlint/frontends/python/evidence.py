"""Which runtime an API path, method, keyword, saved path or kernel betrays (data: rules/knowledge/runtime_evidence.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bnlint import yaml_data
from bnlint.frontends.python.imports import canonical
from bnlint.frontends.python.values import NOT_LITERAL, literal
from bnlint.shipped import knowledge_dir

_COMPAT_V1 = "tensorflow.compat.v1."


@dataclass(frozen=True)
class SavingRule:
    """A saving call every Keras 3 release refuses unless its path ends with one of `suffixes`."""

    path: tuple[int, str]  # where the path is: (position, keyword)
    suffixes: tuple[str, ...]
    weights_only: tuple[int, str] | None = None  # an argument that, when true, asks for...
    weights_suffixes: tuple[str, ...] = ()  # ...these suffixes instead


@dataclass(frozen=True)
class _Evidence:
    legacy_paths: frozenset[str]
    legacy_prefixes: tuple[str, ...]
    legacy_keywords: dict[str, frozenset[str]]
    keras2_constructors: frozenset[str]
    # "not Keras 3": legacy or keras2, which the project's pins choose.
    removed_prefixes: tuple[str, ...]
    removed_paths: frozenset[str]
    removed_methods: frozenset[str]
    removed_keywords: dict[str, frozenset[str]]
    saving: dict[str, SavingRule]
    saving_exempt_keywords: frozenset[str]
    saving_exempt_prefixes: tuple[str, ...]
    python_below: tuple[int, ...]
    python_legacy_below: tuple[int, ...]
    colab_magic: dict[str, str]  # `%tensorflow_version N.x`: N -> legacy / not_keras3
    callees: frozenset[str]  # every call some evidence above is about: the rest need no look
    flavours: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]  # (flavour, modules, "module." prefixes)


def _argument(spec) -> tuple[int, str]:
    position, keyword = spec
    return int(position), str(keyword)


def _saving_rule(spec: dict) -> SavingRule:
    weights_only = spec.get("weights_only")
    return SavingRule(
        path=_argument(spec["path"]),
        suffixes=tuple(spec.get("suffixes") or ()),
        weights_only=_argument(weights_only) if weights_only else None,
        weights_suffixes=tuple(spec.get("weights_suffixes") or ()),
    )


@cache
def _evidence() -> _Evidence:
    data = yaml_data.load((knowledge_dir() / "runtime_evidence.yaml").read_text(encoding="utf-8")) or {}
    legacy, keras2, removed = data.get("legacy") or {}, data.get("keras2") or {}, data.get("not_keras3") or {}
    exempt = removed.get("saving_exempt") or {}
    callees = {*(legacy.get("keywords") or {}), *(removed.get("methods") or ()), *(removed.get("keywords") or {}),
               *(removed.get("saving") or {})}
    return _Evidence(
        legacy_paths=frozenset(legacy.get("paths") or ()),
        legacy_prefixes=tuple(legacy.get("prefixes") or ()),
        legacy_keywords={name: frozenset(words) for name, words in (legacy.get("keywords") or {}).items()},
        keras2_constructors=frozenset(keras2.get("constructors") or ()),
        removed_prefixes=tuple(removed.get("canonical_prefixes") or ()),
        removed_paths=frozenset(removed.get("canonical_paths") or ()),
        removed_methods=frozenset(removed.get("methods") or ()),
        removed_keywords={name: frozenset(words) for name, words in (removed.get("keywords") or {}).items()},
        saving={name: _saving_rule(spec) for name, spec in (removed.get("saving") or {}).items()},
        saving_exempt_keywords=frozenset(exempt.get("keywords") or ()),
        saving_exempt_prefixes=tuple(exempt.get("prefixes") or ()),
        python_below=tuple(int(part) for part in str(removed.get("python_below", "0")).split(".")),
        python_legacy_below=tuple(int(part) for part in str(legacy.get("python_below", "0")).split(".")),
        colab_magic={str(major): str(kind) for major, kind in (data.get("colab_tensorflow_version") or {}).items()},
        callees=frozenset(callees),
        flavours=tuple(
            (flavour, frozenset(modules), tuple(f"{m}." for m in modules))
            for flavour, modules in (data.get("flavours") or {}).items()
        ),
    )


def path_runtime(qname: str) -> str | None:
    """"legacy", "keras2" or "not_keras3" when this raw path exists only there, else None."""
    evidence = _evidence()
    # `tf.compat.v1.Session` is TF1's `tf.Session`; `tf.compat.v1.keras` is tf.keras with v1 classes.
    v1_api = qname.startswith(_COMPAT_V1) and not qname.startswith(_COMPAT_V1 + "keras")
    raw = "tensorflow." + qname[len(_COMPAT_V1):] if v1_api else qname
    if raw in evidence.legacy_paths or raw.startswith(evidence.legacy_prefixes):
        return "legacy"
    name = canonical(qname)
    if name in evidence.keras2_constructors:
        return "keras2"
    if name in evidence.removed_paths or name.startswith(evidence.removed_prefixes):
        return "not_keras3"
    return None


def flavour(qname: str) -> str | None:
    """Which Keras an imported path goes through: "standalone" (`keras`), "tf.keras", or None."""
    for name, modules, prefixes in _evidence().flavours:
        if qname in modules or qname.startswith(prefixes):
            return name
    return None


def call_matters(callee: str) -> bool:
    """Whether a call of `callee` (a model method's name or a canonical path) can betray a runtime."""
    return callee in _evidence().callees


def keyword_runtime(callee: str, keywords) -> str | None:
    """"legacy" when a call passes a keyword only Keras 1 accepted (`fit(nb_epoch=...)`)."""
    words = _evidence().legacy_keywords.get(callee)
    return "legacy" if words and any(k in words for k in keywords) else None


def removed_keyword(callee: str, keywords) -> str | None:
    """The first keyword of this call that every Keras 3 release refuses (`save_weights(save_format=...)`)."""
    words = _evidence().removed_keywords.get(callee)
    return next((k for k in keywords if k in words), None) if words else None


def removed_method(name: str) -> bool:
    """A model method Keras 3 removed (`fit_generator`)."""
    return name in _evidence().removed_methods


def refused_path(callee: str, args) -> str | None:
    """How a saving call reads when every Keras 3 release refuses its literal path
    (`ModelCheckpoint('ckpt/', save_weights_only=True)`: Keras 3 asks for `.weights.h5`), else
    None. A path or an argument we cannot read is no evidence."""
    evidence = _evidence()
    rule = evidence.saving.get(callee)
    if rule is None or args.kw_unknown or args.star_unknown or evidence.saving_exempt_keywords & args.kw.keys():
        return None  # `zipped=` / `max_shard_size=` are Keras 3's own: it saves to a folder then
    given = args.get(*rule.path)
    path = literal(given) if given is not None else None
    if not isinstance(path, str) or path.startswith(evidence.saving_exempt_prefixes):
        return None
    accepted, shown = rule.suffixes, ""
    if rule.weights_only is not None:
        flag = args.get(*rule.weights_only)
        weights_only = False if flag is None else literal(flag)
        if weights_only is NOT_LITERAL:
            accepted = rule.suffixes + rule.weights_suffixes  # either may be asked for
        elif weights_only:
            accepted, shown = rule.weights_suffixes, f", {rule.weights_only[1]}=True"
    if path.endswith(accepted):
        return None
    return f"{callee.rpartition('.')[2]}({path!r}{shown})"


_PYTHON_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


def _older(version: str, below: tuple[int, ...]) -> bool:
    match = _PYTHON_VERSION.match(version.strip())
    if match is None:
        return False
    major, minor = int(match.group(1)), match.group(2)
    if minor is None:  # "Python 3": any 3.x, so only an older major counts
        return major < below[0]
    return (major, int(minor)) < below[:2]


def python_rules_out_keras3(version: str) -> bool:
    """Whether a Python version ("3.6.9", "2.7", "3") is older than every Keras 3 release supports."""
    return _older(version, _evidence().python_below)


def python_runtime(version: str) -> str | None:
    """What a Python version that ran the code says: "legacy" when no TensorFlow after 2.1 runs on
    it (Python 2), "not_keras3" when no Keras 3 does (Python 3.6), else None."""
    evidence = _evidence()
    if _older(version, evidence.python_legacy_below):
        return "legacy"
    return "not_keras3" if _older(version, evidence.python_below) else None


_COLAB_MAGIC = re.compile(r"\s*%tensorflow_version\s+(\d+)")


def colab_magic(lines: list[str]) -> tuple[str, str, int] | None:
    """(evidence kind, what it reads, 1-based line) of a Colab `%tensorflow_version 1.x` in a cell."""
    for number, line in enumerate(lines, start=1):
        found = _COLAB_MAGIC.match(line)
        if found is not None:
            kind = _evidence().colab_magic.get(found.group(1))
            if kind is not None:
                return kind, f"%tensorflow_version {found.group(1)}.x", number
    return None
