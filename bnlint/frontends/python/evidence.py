"""Which runtime an API path, method or keyword betrays (data: rules/knowledge/runtime_evidence.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from bnlint import yaml_data
from bnlint.frontends.python.imports import canonical
from bnlint.knowledge import knowledge_dir

_COMPAT_V1 = "tensorflow.compat.v1."


@dataclass(frozen=True)
class _Evidence:
    legacy_paths: frozenset[str]
    legacy_prefixes: tuple[str, ...]
    legacy_keywords: dict[str, frozenset[str]]
    keras2_prefixes: tuple[str, ...]
    keras2_paths: frozenset[str]
    keras2_constructors: frozenset[str]
    keras2_methods: frozenset[str]


@cache
def _evidence() -> _Evidence:
    data = yaml_data.load((knowledge_dir() / "runtime_evidence.yaml").read_text(encoding="utf-8")) or {}
    legacy, keras2 = data.get("legacy") or {}, data.get("keras2") or {}
    return _Evidence(
        legacy_paths=frozenset(legacy.get("paths") or ()),
        legacy_prefixes=tuple(legacy.get("prefixes") or ()),
        legacy_keywords={name: frozenset(words) for name, words in (legacy.get("keywords") or {}).items()},
        keras2_prefixes=tuple(keras2.get("canonical_prefixes") or ()),
        keras2_paths=frozenset(keras2.get("canonical_paths") or ()),
        keras2_constructors=frozenset(keras2.get("constructors") or ()),
        keras2_methods=frozenset(keras2.get("methods") or ()),
    )


def path_runtime(qname: str) -> str | None:
    """"legacy" or "keras2" when this raw path exists only there, else None."""
    evidence = _evidence()
    # `tf.compat.v1.Session` is TF1's `tf.Session`; `tf.compat.v1.keras` is tf.keras with v1 classes.
    v1_api = qname.startswith(_COMPAT_V1) and not qname.startswith(_COMPAT_V1 + "keras")
    raw = "tensorflow." + qname[len(_COMPAT_V1):] if v1_api else qname
    if raw in evidence.legacy_paths or raw.startswith(evidence.legacy_prefixes):
        return "legacy"
    name = canonical(qname)
    if name in evidence.keras2_paths or name.startswith(evidence.keras2_prefixes) or name in evidence.keras2_constructors:
        return "keras2"
    return None


def keyword_runtime(callee: str, keywords) -> str | None:
    """"legacy" when a call passes a keyword only Keras 1 accepted (`fit(nb_epoch=...)`)."""
    words = _evidence().legacy_keywords.get(callee)
    return "legacy" if words and any(k in words for k in keywords) else None


def removed_method(name: str) -> bool:
    """A model method Keras 3 removed (`fit_generator`)."""
    return name in _evidence().keras2_methods
