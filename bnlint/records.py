"""Turn a Unit into the flat records that rule `match` clauses are written against.

Each record is a dict; references between facts (a call's callee, a change's target)
are resolved into nested records so a rule can say `callee.frozen: true`. Facts that
depend on order (what happened after the last compile) are derived here once, for
every frontend.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

from bnlint.ir import Location, TrainableChange, Unit


def _plain(fact) -> dict:
    """A fact as a dict, its Location as a dict too. Shallow on purpose: records are read-only,
    and `dataclasses.asdict` (a deep copy) was most of the engine's time on large models."""
    record = dict(vars(fact))
    for key, value in record.items():
        if isinstance(value, Location):
            record[key] = dict(vars(value))
    return record


class Records:
    """The records of one unit, built lazily and once per fact type."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    @cached_property
    def _calls_by_callee(self) -> dict[str, list]:
        index = defaultdict(list)
        for call in self.unit.calls:
            index[call.callee].append(call)
        return index

    @cached_property
    def _models(self) -> dict[str, dict]:
        records = {}
        for key, model in self.unit.models.items():
            record = _plain(model)
            calls = self._calls_by_callee.get(key, [])
            functional = [c for c in calls if c.composition == "call"]
            # Protected for keras2 means every functional call passes training=False (there or above).
            record["called_with_training_false"] = bool(functional) and all(
                c.training == "false" or c.enclosing_training_false for c in functional
            )
            record["composed"] = bool(calls)
            records[key] = record
        return records

    def model(self, key: str | None) -> dict:
        return self._models.get(key or "", {}) if key is not None else {}

    def _base(self, location: Location) -> dict:
        return {"runtime": self.unit.runtime.target, "input": self.unit.kind, "location": dict(vars(location))}

    def call(self) -> list[dict]:
        return [
            self._base(call.location) | _plain(call) | {"callee": self.model(call.callee), "container": self.model(call.container)}
            for call in self.unit.calls
        ]

    def model_facts(self) -> list[dict]:
        # A model fact is its own subject: `target` and `reached` let a rule word its message
        # the same way for a script's trainable change and a saved model's layer.
        return [self._base(m.location) | record | {"target": record, "reached": record}
                for m, record in ((m, self._models[m.key]) for m in self.unit.models.values())]

    def _reached(self, change: TrainableChange) -> str | None:
        """The frozen BN-containing model an unfreeze reaches: its target, or, when the target is
        an outer model (`model.trainable = True`), the first frozen one composed inside it."""
        target = self.unit.models.get(change.target)
        if target is None or target.frozen or change.scope == "some_layers":
            return change.target  # a slice of an outer model's layers may not include the base
        pending, seen = [change.target], set()
        while pending:
            container = pending.pop(0)
            for call in self.unit.calls:
                if call.container == container and call.callee not in seen:
                    seen.add(call.callee)
                    inner = self.unit.models.get(call.callee)
                    if inner is not None and inner.frozen and inner.contains_bn:
                        return call.callee
                    pending.append(call.callee)
        return change.target

    def _bn_frozen_later(self, change: TrainableChange, models: set[str]) -> bool:
        return any(
            other.target in models and other.scope == "batchnorm" and other.value is False and other.order > change.order
            for other in self.unit.trainable_changes
        )

    def trainable_change(self) -> list[dict]:
        records = []
        for change in self.unit.trainable_changes:
            reached = self._reached(change)
            records.append(self._base(change.location) | _plain(change) | {
                "target": self.model(change.target),
                "reached": self.model(reached),
                "protects_bn": change.keeps_bn_frozen or self._bn_frozen_later(change, {change.target, reached}),
            })
        return records

    def fit(self) -> list[dict]:
        """Each fit, with the trainable change (if any) made after the last compile of its model."""
        records = []
        for fit in self.unit.fits:
            compiles = [c for c in self.unit.compiles if c.order < fit.order and _same_model(c.model, fit.model)]
            stale = last = None
            if compiles:
                last = max(compiles, key=lambda c: c.order)
                changes = [t for t in self.unit.trainable_changes if last.order < t.order < fit.order]
                stale = changes[0] if changes else None
            records.append(self._base(fit.location) | _plain(fit) | {
                "model": self.model(fit.model),
                "compiled": bool(compiles),
                "changed_since_compile": stale is not None,
                # Where the last compile() is: the autofix copies it before a stale fit().
                "last_compile": {} if last is None else dict(vars(last.location)),
                "change": {} if stale is None else _plain(stale) | {"target": self.model(stale.target)},
            })
        return records


def _same_model(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


FACTS = {"call": Records.call, "model": Records.model_facts, "trainable_change": Records.trainable_change, "fit": Records.fit}


def records(unit: Unit, fact: str, cache: Records | None = None) -> list[dict]:
    """The records of one fact type; pass the same `cache` to share model records across types."""
    return FACTS[fact](cache or Records(unit))
