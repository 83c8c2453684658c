"""Turn a Unit into the flat records that rule `match` clauses are written against.

Each record is a dict; references between facts (a call's callee, a change's target)
are resolved into nested records so a rule can say `callee.frozen: true`. Facts that
depend on order (what happened after the last compile) are derived here once, for
every frontend.
"""

from __future__ import annotations

from dataclasses import asdict

from bnlint.ir import Location, Model, TrainableChange, Unit


def _model_record(model: Model | None, unit: Unit) -> dict:
    if model is None:
        return {}
    record = asdict(model)
    calls = [c for c in unit.calls if c.callee == model.key and c.composition == "call"]
    # Protected for keras2 means every functional call passes training=False (there or above).
    record["called_with_training_false"] = bool(calls) and all(
        c.training == "false" or c.enclosing_training_false for c in calls
    )
    record["composed"] = any(c.callee == model.key for c in unit.calls)
    return record


def _base(unit: Unit, location: Location) -> dict:
    return {"runtime": unit.runtime.target, "input": unit.kind, "location": asdict(location)}


def call_records(unit: Unit) -> list[dict]:
    records = []
    for call in unit.calls:
        record = _base(unit, call.location) | asdict(call)
        record["callee"] = _model_record(unit.models.get(call.callee), unit)
        record["container"] = _model_record(unit.models.get(call.container or ""), unit)
        records.append(record)
    return records


def model_records(unit: Unit) -> list[dict]:
    return [_base(unit, m.location) | _model_record(m, unit) for m in unit.models.values()]


def _bn_frozen_later(unit: Unit, change: TrainableChange) -> bool:
    return any(
        other.target == change.target
        and other.scope == "batchnorm"
        and other.value is False
        and other.order > change.order
        for other in unit.trainable_changes
    )


def trainable_change_records(unit: Unit) -> list[dict]:
    records = []
    for change in unit.trainable_changes:
        record = _base(unit, change.location) | asdict(change)
        record["target"] = _model_record(unit.models.get(change.target), unit)
        record["protects_bn"] = change.keeps_bn_frozen or _bn_frozen_later(unit, change)
        records.append(record)
    return records


def _same_model(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def fit_records(unit: Unit) -> list[dict]:
    """Each fit, with the trainable change (if any) made after the last compile of its model."""
    records = []
    for fit in unit.fits:
        compiles = [c for c in unit.compiles if c.order < fit.order and _same_model(c.model, fit.model)]
        stale = None
        if compiles:
            last_compile = max(c.order for c in compiles)
            changes = [t for t in unit.trainable_changes if last_compile < t.order < fit.order]
            stale = changes[0] if changes else None
        record = _base(unit, fit.location) | asdict(fit)
        record["model"] = _model_record(unit.models.get(fit.model or ""), unit)
        record["compiled"] = bool(compiles)
        record["changed_since_compile"] = stale is not None
        record["change"] = {} if stale is None else (
            asdict(stale) | {"target": _model_record(unit.models.get(stale.target), unit)}
        )
        records.append(record)
    return records


RECORDS = {
    "call": call_records,
    "model": model_records,
    "trainable_change": trainable_change_records,
    "fit": fit_records,
}


def records(unit: Unit, fact: str) -> list[dict]:
    return RECORDS[fact](unit)

