"""Turn a Unit into the flat records that rule `match` clauses are written against.

Each record is a dict; references between facts (a call's callee, a change's target) are resolved
into nested records so a rule can say `callee.frozen: true`. Record types (a rule's `fact`):

- `base`: one finding-worthy problem of a frozen BN-holding model, with its `verdict` (active,
  exposed, latent, note), the `site` where it is reported (`composition` or `unfreeze`) and its
  `related` places. Scripts and notebooks are judged over their training timeline
  (`bnlint.timeline`); saved models by what the file records and the runtime that wrote it.
- `fit`: each fit-like training event, with the `trainable` change its compiled state ignores.
- `call`, `model`, `trainable_change`: the plain facts, for rules that need nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property

from bnlint import timeline
from bnlint.ir import Call, Location, TrainableChange, TrainingEvent, Unit

SEQUENTIAL = ("sequential", "add", "time_distributed")


def _plain(fact) -> dict:
    """A fact as a dict, its Location as a dict too. Shallow on purpose: records are read-only,
    and `dataclasses.asdict` (a deep copy) was most of the engine's time on large models."""
    record = dict(vars(fact))
    for key, value in record.items():
        if isinstance(value, Location):
            record[key] = dict(vars(value))
    return record


def _place(location: Location) -> dict:
    return {"line": location.line, "column": location.column, "cell": location.cell, "path": location.path}


def _where(location: Location) -> str:
    """`line 12` or `cell 3, line 4` (and the file, for a helper in another module)."""
    where = f"cell {location.cell}, line {location.line}" if location.cell is not None else f"line {location.line}"
    return f"{location.path}, {where}" if location.path else where


class Records:
    """The records of one unit, built lazily and once per fact type."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit

    @cached_property
    def _calls_by_callee(self) -> dict[str, list[Call]]:
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

    # -- plain facts ----------------------------------------------------------------------------

    def call(self) -> list[dict]:
        return [
            self._base(call.location) | _plain(call) | {"callee": self.model(call.callee), "container": self.model(call.container)}
            for call in self.unit.calls
        ]

    def model_facts(self) -> list[dict]:
        return [self._base(m.location) | self._models[m.key] for m in self.unit.models.values()]

    def trainable_change(self) -> list[dict]:
        return [self._base(c.location) | _plain(c) | {"target": self.model(c.target)} for c in self.unit.trainable_changes]

    # -- fit: stale compiled state (BN003) ------------------------------------------------------

    def fit(self) -> list[dict]:
        """Each fit-like event, with the first `trainable` change its compiled state ignores:
        keras2/legacy, any change since the model's last compile(); keras3, a change since the
        model's first fit() after that compile (Keras 3 caches the train function there)."""
        if self.unit.kind == "model":
            return []
        line = timeline.Timeline(self.unit)
        keras3 = self.unit.runtime.target == "keras3"
        records = []
        for event in self.unit.trainings:
            if event.kind != "fit":
                continue
            model = event.models[0] if event.models else None
            compiled = line.last_compile(model, event.order)
            stale = None
            if compiled is not None:
                since = compiled.order
                if keras3:
                    earlier = line.first_fit_between(model, compiled.order, event.order)
                    since = earlier if earlier is not None else event.order
                reach = line.closure(model) if model is not None else None
                stale = next((c for c in line.changes_between(since, event.order)
                              if (reach is None or c.target in reach) and not _compiled_for(line, c, event)
                              and not _restored(line, c.target, since, event.order)), None)
            related = []
            if stale is not None:
                related.append(_related("freeze", f"`{self.model(stale.target).get('name', '?')}.trainable` changed here", stale.location))
            if compiled is not None:
                related.append(_related("compile", "the last compile() before it", compiled.location))
            if stale is not None and compiled is not None:
                # The first fit between that compile() and the change: the sequence the confirmation replays.
                trained = line.first_fit_between(model, compiled.order, stale.order)
                if trained is not None:
                    related.append(_related("training", f"trained here ({line.event_at[trained].api})",
                                            line.event_at[trained].location))
            records.append(self._base(event.location) | {
                "api": event.api,
                "model": self.model(model),
                "compiled": compiled is not None,
                "changed_since_compile": stale is not None,
                "change": {} if stale is None else _plain(stale) | {"target": self.model(stale.target)},
                "related": related,
            })
        return records

    # -- base: one record per problem -----------------------------------------------------------

    def base(self) -> list[dict]:
        if self.unit.kind == "model":
            return self._saved_bases()
        return self._script_bases()

    def _script_bases(self) -> list[dict]:
        records: list[dict] = []
        unfreezes_reported: set[tuple] = set()
        for judgement in timeline.judge(self.unit):
            if judgement.verdict is None:
                continue
            keras3 = judgement.runtime == "keras3"
            call = judgement.call
            # Active: wrong from its first frozen training on, whatever unfreeze comes later.
            exposed = judgement.exposed_at if judgement.verdict == "exposed" else None
            event = (exposed or judgement.first_event).event
            unfreeze = exposed.state.unfreeze if exposed else None
            if keras3 and judgement.verdict == "exposed" and unfreeze is not None:
                # Keras 3: the problem is the unfreeze (whatever the call passes); report it once there.
                key = (unfreeze.location, unfreeze.target)
                if key in unfreezes_reported:
                    continue
                unfreezes_reported.add(key)
                site, location = "unfreeze", unfreeze.location
                related = [_composition(call, self.model(call.callee)), _event(event)]
            else:
                site, location = "composition", call.location
                related = ([_unfreeze(unfreeze, self.model(unfreeze.target))] if unfreeze else []) + [_event(event)]
            record = self._problem(call, judgement.verdict, site, location, related, event, unfreeze)
            if judgement.runtime != self.unit.runtime.target:
                record["runtime"] = judgement.runtime
                record["runtime_source"] = "hub.KerasLayer is a tf_keras (Keras 2) layer"
            records.append(record)
        return records

    def _problem(self, call: Call, verdict: str, site: str, location: Location, related: list[dict],
                 event: TrainingEvent | None, unfreeze: TrainableChange | None) -> dict:
        callee = self.model(call.callee)
        return self._base(location) | {
            "verdict": verdict,
            "site": site,
            "composition": call.composition,
            # How the message says the base enters the graph.
            "how": _HOW.get(call.composition, "composed without `training=False`"),
            "training": call.training,
            "callee": callee,
            "container": self.model(call.container),
            "target": self.model(unfreeze.target) if unfreeze else callee,
            # How a message names what is unfrozen: the base itself, or a model holding it.
            "unfrozen": f"`{callee.get('name')}` ({callee.get('cls')})" if unfreeze is None or unfreeze.target == call.callee
            else f"`{self.model(unfreeze.target).get('name')}`, and with it `{callee.get('name')}` ({callee.get('cls')}),",
            "unfreeze": {} if unfreeze is None else {**_place(unfreeze.location), "where": _where(unfreeze.location),
                                                     "target": self.model(unfreeze.target)},
            "event": {} if event is None else {**_place(event.location), "where": _where(event.location), "api": event.api},
            "related": related,
        }

    def _saved_bases(self) -> list[dict]:
        """A saved model has no timeline: each frozen BN-holding model it composes is judged by the
        runtime that wrote it: legacy active, keras2 latent (without training=False), keras3 a note
        (whoever fine-tunes it must keep its BN layers frozen; training=False would not help)."""
        runtime = self.unit.runtime.target
        records = []
        for call in self.unit.calls:
            callee = self.model(call.callee)
            if not (callee.get("frozen") and callee.get("contains_bn") and callee.get("kind") == "model"):
                continue
            container = self.model(call.container)
            if container.get("frozen") and container.get("composed"):
                continue  # inside a frozen model that is itself composed: one finding on the outer one
            if runtime in ("keras2", "keras3") and callee.get("bn_kept_frozen"):
                continue  # BN layers frozen by their own flag stay in inference mode
            guarded = call.training == "false" or call.enclosing_training_false
            verdict = "note" if runtime == "keras3" else None if guarded else "active" if runtime == "legacy" else "latent"
            if verdict is not None:
                records.append(self._problem(call, verdict, "composition", call.location, [], None, None))
        return records


_HOW = {
    "call": "called without `training=False`",
    "output": "its graph is reused in place through `.output`, where no call can pass `training=False`",
}


def _compiled_for(line: timeline.Timeline, change: TrainableChange, event: TrainingEvent) -> bool:
    """A change that another model's compile() picks up before this event was made for that model:
    the GAN idiom (`discriminator.trainable = False; combined.compile(...)`), where each compiled
    model keeps its own trainable set on purpose."""
    return any(c.model is not None and change.target in line.closure(c.model)
               for c in line.compiles_between(change.order, event.order))


def _restored(line: timeline.Timeline, target: str, since: int, until: int) -> bool:
    """Whether `target`'s freeze state at `until` is again what it was at `since`: the GAN's
    `d.trainable = True` right before `d.train_on_batch()` puts back the value `d` was compiled
    with, so that compiled state trains exactly what the code means."""
    before, now = line.state(target, since), line.state(target, until)
    return (before.frozen, before.some_frozen, before.bn_trainable) == (now.frozen, now.some_frozen, now.bn_trainable)


def _related(role: str, message: str, location: Location) -> dict:
    return {"role": role, "message": message, **_place(location)}


def _composition(call: Call, callee: dict) -> dict:
    how = {"call": "called here", "output": "its graph reused here (.output)"}.get(call.composition, "composed into a Sequential here")
    return _related("composition", f"`{callee.get('name', '?')}` {how}", call.location)


def _unfreeze(change: TrainableChange, target: dict) -> dict:
    return _related("unfreeze", f"`{target.get('name', '?')}` unfrozen here", change.location)


def _event(event: TrainingEvent) -> dict:
    what = {"step": "a custom training step applies gradients here", "estimator": "trained here (Estimator)"}
    return _related("training", what.get(event.kind, f"trained here ({event.api})"), event.location)


FACTS = {
    "base": Records.base,
    "call": Records.call,
    "model": Records.model_facts,
    "trainable_change": Records.trainable_change,
    "fit": Records.fit,
}


def records(unit: Unit, fact: str, cache: Records | None = None) -> list[dict]:
    """The records of one fact type; pass the same `cache` to share model records across types."""
    return FACTS[fact](cache or Records(unit))
