"""Judge each frozen base of a script over its training timeline: what happens to it, per runtime.

A **base** is a model or layer that holds BatchNormalization and is frozen at some point. It is
judged only at the **training events** that train it (a `fit`-like call on a model it is composed
into, a custom training step that calls it or such a model, an Estimator's `train()`), in program
order, with its freeze state *as that event sees it*:

- keras2 / legacy: `fit()` trains the weights that were trainable at the model's last `compile()`;
- keras3: at the model's first `fit()` since its last `compile()` (the train function is cached);
- a custom training step: at the step itself.

Verdicts for one composition of a base (a call, a Sequential element, a `.output` reuse):

- **exposed**: its BatchNormalization layers are trainable at an event after it was frozen
  (unfrozen wholly or by a slice), and nothing protects them for the runtime: `training=False`
  at the call or an enclosing call (legacy, keras2), or inside a subclassed model's `call()`
  (keras3); BN layers kept frozen protect everywhere.
- **active** (legacy only): frozen BN layers are trained while composed without `training=False`.
- **latent** (keras2 only): frozen at every event that trains it, composed without `training=False`.
- keras3 gets no latent verdict: `training=False` at a functional call would change nothing.

A base whose first training event trains all of it is trained from scratch (a GAN's generator
frozen in the discriminator's model, for instance) or fine-tuned whole from the start (frozen and
unfrozen again before any training): none of this applies to it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field, replace

from bnlint.ir import Call, Compile, TrainableChange, TrainingEvent, Unit


@dataclass
class State:
    """A base's freeze state at one moment, replayed from the `trainable` changes before it."""

    frozen: bool = False  # every layer frozen
    some_frozen: bool = False  # some of its layers frozen (a slice, an index)
    bn_trainable: bool = True  # some BatchNormalization layer may train
    first_freeze: int | None = None  # order of the first change that froze (some of) it
    unfreeze: TrainableChange | None = None  # the unfreeze, after a freeze, that made BN layers trainable
    # What was frozen by slices of `.layers` with constant bounds, while nothing froze it whole;
    # None once a freeze of unknown extent happened.
    frozen_spans: tuple[tuple[int | None, int | None], ...] | None = ()

    @property
    def not_frozen(self) -> bool:
        """Nothing frozen for an event that sees this state: never frozen (its BN layers frozen on
        their own are the remedy, not a freeze), or every freeze undone."""
        return self.first_freeze is None or (not self.some_frozen and self.bn_trainable)


@dataclass
class Exposure:
    """One training event that trains a base through one composition, and the base's state then."""

    event: TrainingEvent
    seen_at: int  # the order whose freeze state the event trains with
    state: State


@dataclass
class Judgement:
    """What happens to one composition of one base."""

    base: str  # Model key
    call: Call  # the composition
    verdict: str | None  # active / exposed / latent, or None: nothing to report
    protected: bool
    exposures: list[Exposure] = field(default_factory=list)
    runtime: str = "keras3"  # the runtime it is judged by

    @property
    def exposed_at(self) -> Exposure | None:
        """The first event that trains its BN layers after an unfreeze (a partial freeze of a base
        that was never frozen whole is not an unfreeze)."""
        return next((e for e in self.exposures if e.state.bn_trainable and e.state.unfreeze is not None), None)

    @property
    def first_event(self) -> Exposure | None:
        return self.exposures[0] if self.exposures else None


class Timeline:
    """The containment graph, compiles, changes and events of one unit, indexed once."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.inside: dict[str, list[Call]] = defaultdict(list)  # container -> calls composed into it
        self.calls_of: dict[str, list[Call]] = defaultdict(list)  # callee -> its calls
        for call in unit.calls:
            self.calls_of[call.callee].append(call)
            if call.container is not None:
                self.inside[call.container].append(call)
        # Indexed by order so that each question is a binary search, not a scan: a script's facts
        # are few, but a generated one may hold thousands of compile()/fit() pairs.
        self.compiles: dict[str | None, list[Compile]] = defaultdict(list)
        for compile_ in sorted(unit.compiles, key=lambda c: c.order):
            self.compiles[compile_.model].append(compile_)
        self.compiles_in_order = sorted(unit.compiles, key=lambda c: c.order)
        self.event_at = {event.order: event for event in unit.trainings}
        self.fits_of: dict[str, list[int]] = defaultdict(list)  # model -> orders of fit() events training it
        for event in sorted(unit.trainings, key=lambda e: e.order):
            if event.kind == "fit":
                for model in event.models:
                    self.fits_of[model].append(event.order)
        self.changes = sorted(unit.trainable_changes, key=lambda c: c.order)
        self._closure: dict[str, frozenset[str]] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._states: dict[str, tuple[list[int], list[State]]] = {}
        self._reached: dict[str, list[tuple[TrainingEvent, str]]] | None = None

    # -- containment ----------------------------------------------------------------------------

    def closure(self, key: str) -> frozenset[str]:
        """`key` and every model composed into it, transitively."""
        if key not in self._closure:
            seen, pending = {key}, [key]
            while pending:
                for call in self.inside.get(pending.pop(), ()):
                    if call.callee not in seen:
                        seen.add(call.callee)
                        pending.append(call.callee)
            self._closure[key] = frozenset(seen)
        return self._closure[key]

    def ancestors(self, key: str) -> frozenset[str]:
        """`key` and every model it is composed into, transitively."""
        if key not in self._ancestors:
            seen, pending = {key}, [key]
            while pending:
                for call in self.calls_of.get(pending.pop(), ()):
                    if call.container is not None and call.container not in seen:
                        seen.add(call.container)
                        pending.append(call.container)
            self._ancestors[key] = frozenset(seen)
        return self._ancestors[key]

    def inlined_into(self, key: str) -> frozenset[str]:
        """Models whose `.layers` are `key`'s own: `Model(base.input, head(base.output))` reuses the
        base's graph in place, so a loop over the outer model's layers reaches the base's (and so on
        outwards, for a model reused in place again)."""
        seen: set[str] = set()
        pending = [key]
        while pending:
            for call in self.calls_of.get(pending.pop(), ()):
                if call.composition == "output" and call.container is not None and call.container not in seen:
                    seen.add(call.container)
                    pending.append(call.container)
        return frozenset(seen)

    # -- when an event reads the freeze state ---------------------------------------------------

    def last_compile(self, model: str | None, before: int) -> Compile | None:
        """The model's last compile() before `before` (a compile() of an unknown receiver counts)."""
        found = None
        for compiles in (self.compiles.get(model, ()), self.compiles.get(None, ())):
            index = bisect_left(compiles, before, key=lambda c: c.order) - 1
            if index >= 0 and (found is None or compiles[index].order > found.order):
                found = compiles[index]
        return found

    def compiles_between(self, after: int, before: int) -> list[Compile]:
        start = bisect_right(self.compiles_in_order, after, key=lambda c: c.order)
        end = bisect_left(self.compiles_in_order, before, key=lambda c: c.order)
        return self.compiles_in_order[start:end]

    def first_fit_between(self, model: str | None, after: int, before: int) -> int | None:
        """The order of the first fit() training `model` after `after` and before `before`."""
        fits = self.fits_of.get(model, []) if model is not None else []
        index = bisect_right(fits, after)
        return fits[index] if index < len(fits) and fits[index] < before else None

    def changes_between(self, after: int, before: int) -> list[TrainableChange]:
        start = bisect_right(self.changes, after, key=lambda c: c.order)
        end = bisect_left(self.changes, before, key=lambda c: c.order)
        return self.changes[start:end]

    def seen_at(self, event: TrainingEvent, model: str, runtime: str) -> int:
        """The moment whose `trainable` flags the event trains `model` with."""
        if event.kind == "step":
            return event.order
        compiled = self.last_compile(model, event.order)
        if compiled is None:
            return event.order
        if event.kind == "estimator" or runtime != "keras3":
            return compiled.order
        # Keras 3 traces the train function at the first fit() after compile() and reuses it.
        earlier = self.first_fit_between(model, compiled.order, event.order)
        return earlier if earlier is not None else event.order

    # -- freeze state ---------------------------------------------------------------------------

    def state(self, base: str, until: int) -> State:
        """The base's freeze state just before `until`, from the changes that reach it."""
        orders, states = self._history(base)
        index = bisect_left(orders, until) - 1
        return states[index] if index >= 0 else State()

    def _history(self, base: str) -> tuple[list[int], list[State]]:
        """The base's state after each change that reaches it, replayed once per base."""
        if base not in self._states:
            ancestors = self.ancestors(base)
            inlined = self.inlined_into(base)
            orders: list[int] = []
            states: list[State] = []
            state = State()
            for change in self.changes:
                if change.target == base or (change.target in inlined and change.scope != "model"):
                    _apply(state, change, change.scope)
                elif change.target in ancestors and change.scope in ("model", "layers"):
                    _apply(state, change, "model")  # the whole base is one of the layers it sets
                else:
                    continue  # a slice of an outer model's layers may not include the base
                orders.append(change.order)
                states.append(replace(state))
            self._states[base] = (orders, states)
        return self._states[base]

    # -- events ---------------------------------------------------------------------------------

    def exposures(self, call: Call, runtime: str) -> list[Exposure]:
        """Every training event that trains `call`'s callee through this composition."""
        if call.container is None:
            # A direct call trains the callee only inside a custom training step.
            reached = [(e, call.callee) for e in self.unit.trainings
                       if e.kind == "step" and call.in_step and call.callee in e.models] if call.in_step else []
        else:
            reached = self._events_reaching().get(call.container, [])
        found = []
        for event, model in reached:
            seen_at = self.seen_at(event, model, runtime)
            found.append(Exposure(event, seen_at, self.state(call.callee, seen_at)))
        return found

    def trained_from_scratch(self, base: str, runtime: str) -> bool:
        """Whether the first training event of the model itself (`d.train_on_batch(...)`) trains
        all of it: a moment before anything froze it, or after every freeze was undone."""
        seen = [self.seen_at(event, base, runtime) for event in self.unit.trainings if base in event.models]
        return bool(seen) and self.state(base, min(seen)).not_frozen

    def _events_reaching(self) -> dict[str, list[tuple[TrainingEvent, str]]]:
        """For each model, the events that train it and the trained model that holds it (the
        first such model of each event, in program order)."""
        if self._reached is None:
            self._reached = defaultdict(list)
            for event in sorted(self.unit.trainings, key=lambda e: e.order):
                claimed: set[str] = set()
                for model in event.models:
                    for inner in self.closure(model) - claimed:
                        self._reached[inner].append((event, model))
                    claimed |= self.closure(model)
        return self._reached


def _apply(state: State, change: TrainableChange, scope: str) -> None:
    if change.value is None:
        return  # a value we cannot read: no claim either way
    if change.value is False:
        if scope == "batchnorm":
            state.bn_trainable = False
            return
        if state.first_freeze is None:
            state.first_freeze = change.order
        if scope in ("model", "layers") and not change.skips_bn:
            state.frozen, state.some_frozen, state.bn_trainable = True, True, False
        else:  # a slice, or all but BatchNormalization: the rest (its BN layers perhaps) still trains
            state.some_frozen = True
        known = scope == "some_layers" and change.span is not None and state.frozen_spans is not None and not state.frozen
        state.frozen_spans = (*state.frozen_spans, change.span) if known else None  # type: ignore[misc]
        return
    # value True: an unfreeze only once something was frozen
    was_frozen = state.first_freeze is not None
    if scope == "batchnorm":
        if not state.bn_trainable and was_frozen:
            state.unfreeze = change
        state.bn_trainable = True
        return
    if scope == "some_layers" and change.span is not None and state.frozen_spans and \
            all(_disjoint(change.span, frozen) for frozen in state.frozen_spans):
        return  # `layers[:-2]` frozen, `layers[-2:]` trainable: the head, never frozen, nothing unfrozen
    if scope in ("model", "layers"):
        state.frozen = state.some_frozen = False
        state.frozen_spans = ()
    else:
        state.frozen = False
    if not change.keeps_bn_frozen:
        if was_frozen:
            state.unfreeze = change
        state.bn_trainable = True


def _disjoint(one: tuple[int | None, int | None], other: tuple[int | None, int | None]) -> bool:
    """Whether two slices of the same list share no element, whatever its length: one ends
    where (or before) the other starts, counted from the same end (`[:-2]` and `[-2:]`,
    `[:176]` and `[176:]`)."""
    def before(first, second) -> bool:
        end, start = first[1], second[0]
        return end is not None and start is not None and (end >= 0) == (start >= 0) and end <= start

    return before(one, other) or before(other, one)


def protected(call: Call, runtime: str) -> bool:
    """Whether this composition keeps the callee's BN layers in inference mode once it trains."""
    if runtime == "keras3":
        # fit() overrides the training=False stored at a functional call; passed at run time (inside
        # a subclassed model's call(), or a direct call in a training step) it applies every time.
        return call.training == "false" and (call.in_call_method or call.container is None)
    return call.training == "false" or call.enclosing_training_false


def judge(unit: Unit) -> list[Judgement]:
    """A judgement for every composition of every BN-holding model the script trains."""
    timeline = Timeline(unit)
    runtime = unit.runtime.target
    by_base: dict[str, list[tuple[Call, list[Exposure]]]] = defaultdict(list)
    for call in unit.calls:
        model = unit.models.get(call.callee)
        # Models that hold BN (applications, hub layers, user models), not a lone BatchNormalization
        # layer: freezing single BN layers is the remedy, and BN tests toggle them on purpose.
        if model is None or not model.contains_bn or model.kind != "model":
            continue
        exposures = timeline.exposures(call, "keras2" if model.hub else runtime)
        if exposures:  # else never trained this way: an eager demo, a predict-only model
            by_base[call.callee].append((call, exposures))
    judgements = []
    for base, compositions in by_base.items():
        # A base reused in place inside another base is that base's problem, judged there once,
        # when the freeze reaches that base's judgement too (a loop over the outer model's layers,
        # a freeze of the outer model). A freeze of the inner base alone (`for layer in
        # topless.layers: layer.trainable = False`, then `Model(inputs, head(topless.output))`)
        # leaves the outer model unfrozen in its own judgement: the inner base is judged here.
        outer = timeline.inlined_into(base) & by_base.keys()
        if any(e.state.first_freeze is not None for key in outer for _, exposures in by_base[key] for e in exposures):
            continue
        # A hub.KerasLayer is a tf_keras layer whatever the rest of the file runs on.
        base_runtime = "keras2" if unit.models[base].hub else runtime
        # First trained whole, through any composition or on its own: a model trained from scratch
        # (a GAN's discriminator, trained by its own compile() and frozen only inside the combined
        # model), or fine-tuned whole from the start (frozen and unfrozen again before any
        # training, a hub layer made trainable before its first fit()): a freeze counts only from
        # the training events that see it.
        first = min((e for _, exposures in compositions for e in exposures), key=lambda e: e.seen_at)
        scratch = first.state.not_frozen or timeline.trained_from_scratch(base, base_runtime)
        for call, exposures in compositions:
            judgement = Judgement(base, call, None, protected(call, base_runtime), exposures, base_runtime)
            if not scratch:
                _decide(judgement, base_runtime, kept_frozen=unit.models[base].bn_kept_frozen)
            judgements.append(judgement)
    return judgements


def _decide(judgement: Judgement, runtime: str, kept_frozen: bool) -> None:
    guarded, exposures = judgement.protected, judgement.exposures
    if guarded:
        return
    if runtime == "legacy" and any(e.state.some_frozen or not e.state.bn_trainable for e in exposures):
        # Frozen BN layers still use batch statistics when trained: wrong from the first frozen
        # phase on, the worse verdict even when the base is unfrozen later.
        judgement.verdict = "active"
    elif judgement.exposed_at is not None:
        judgement.verdict = "exposed"
    elif runtime == "keras2" and all(e.state.frozen for e in exposures):
        judgement.verdict = "latent"
        if judgement.verdict == "latent" and kept_frozen:
            judgement.verdict = None  # its BN layers are kept frozen when it is unfrozen: protected
