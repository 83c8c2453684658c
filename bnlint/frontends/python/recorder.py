"""Record IR facts for the script interpreter: one place for keys, order, dedupe and containment."""

from __future__ import annotations

from typing import Any

from bnlint.ir import Call, Compile, Location, Model, TrainableChange, TrainingEvent, Unit


class FactRecorder:
    """Appends facts to a Unit. The same code may be interpreted more than once (a helper
    called twice, a function re-run by the orphan pass): identical facts are recorded once."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self._order = 0
        self._calls: dict[tuple, int] = {}
        self._changes: dict[tuple, TrainableChange] = {}
        self._seen: set[tuple] = set()
        self._named: dict[str, int] = {}  # model key -> call depth of the binding that named it
        # Models built from other models (Sequential, functional, subclass instances):
        # their BatchNormalization is whatever their parts have.
        self._composite: set[str] = set()
        self.inner: dict[str, list[int]] = {}  # model key -> Call indices inside its graph
        self.parts: dict[str, set[str]] = {}  # model key -> models it holds (subclass attributes)
        self.members: dict[str, list[Any]] = {}  # Sequential key -> its layers, for `model.layers[0]`
        self._enclosed: set[str] = set()  # models called with training=False somewhere
        # Orphan pass: objects allocated at a code site are reused, so re-running a helper that a
        # later orphan also calls does not duplicate its models.
        self.sites: dict[tuple, Any] = {}

    def _next(self) -> int:
        self._order += 1
        return self._order

    # -- models -------------------------------------------------------------------------------

    def new_model(
        self,
        cls: str,
        location: Location,
        *,
        kind: str = "model",
        contains_bn: bool | None = False,
        architecture: str | None = None,
        arguments: dict | None = None,
        composite: bool = False,
    ) -> str:
        where = f"{location.line}:{location.column}" if location.cell is None else f"{location.cell}:{location.line}:{location.column}"
        key = base = f"{cls}@{where}"
        n = 2
        while key in self.unit.models:
            key = f"{base}#{n}"
            n += 1
        self.unit.models[key] = Model(
            key=key,
            name=cls,
            cls=cls,
            kind=kind,  # type: ignore[arg-type]
            contains_bn=contains_bn,
            architecture=architecture,
            arguments=arguments or {},
            location=location,
        )
        if composite:
            self._composite.add(key)
            self.inner[key] = []
        return key

    def name(self, key: str, name: str, depth: int) -> None:
        """What the user calls a model: the first name bound at the shallowest call depth, so
        `base = make_base()` wins over the helper's local `b`."""
        if key in self.unit.models and depth < self._named.get(key, 1 << 30):
            self.unit.models[key].name = name
            self._named[key] = depth

    def forget_local_name(self, key: str, depth: int) -> None:
        """A name bound at `depth` belonged to a function that returned the model: keep it until
        the caller binds one."""
        if self._named.get(key) == depth:
            self._named[key] = 1 << 29

    def freeze(self, key: str, location: Location) -> None:
        model = self.unit.models[key]
        model.frozen = True
        if model.frozen_at is None:
            model.frozen_at = location

    def add_part(self, container: str, part: str) -> None:
        if container != part:
            self.parts.setdefault(container, set()).add(part)

    # -- calls ----------------------------------------------------------------------------------

    def call(
        self, callee: str, training: str, composition: str, location: Location, container: str | None = None,
        *, in_graph: bool = False, in_step: bool = False, in_call_method: bool = False,
    ) -> int:
        dedupe = (callee, training, composition, location)
        index = self._calls.get(dedupe)
        if index is None:
            index = len(self.unit.calls)
            self._calls[dedupe] = index
            self.unit.calls.append(
                Call(callee=callee, training=training, composition=composition, location=location, order=self._next())  # type: ignore[arg-type]
            )
        call = self.unit.calls[index]
        # The same code may run in several contexts (a helper called twice): any of them counts.
        call.in_graph = call.in_graph or in_graph or container is not None
        call.in_step = call.in_step or in_step
        call.in_call_method = call.in_call_method or in_call_method
        if container is not None:
            self.contain(container, (index,))
        return index

    def contain(self, container: str, indices) -> None:
        """These calls are part of `container`'s graph."""
        inner = self.inner.setdefault(container, [])
        for index in indices:
            call = self.unit.calls[index]
            if call.callee == container:
                continue
            if call.container is None:
                call.container = container
            call.in_graph = True
            if index not in inner:
                inner.append(index)
                if container in self._enclosed:
                    self._set_enclosed(index, set())

    def enclose(self, key: str) -> None:
        """`key` is called with training=False: every call inside its graph is protected from above."""
        self._enclosed.add(key)
        visited: set[str] = {key}
        for index in list(self.inner.get(key, ())):
            self._set_enclosed(index, visited)

    def _set_enclosed(self, index: int, visited: set[str]) -> None:
        call = self.unit.calls[index]
        call.enclosing_training_false = True
        if call.callee in visited:
            return
        visited.add(call.callee)
        self._enclosed.add(call.callee)
        for inner in list(self.inner.get(call.callee, ())):
            self._set_enclosed(inner, visited)

    # -- trainable changes, compile, fit --------------------------------------------------------

    def change(
        self,
        target: str,
        value: bool | None,
        scope: str,
        location: Location,
        keeps_bn_frozen: bool = False,
        freezes_bn: bool = True,
        span: tuple[int | None, int | None] | None = None,
    ) -> TrainableChange:
        # The same statement reached again records nothing new, unless training happened since
        # (a helper that sets `trainable` from its argument, called once per phase).
        dedupe = (target, value, scope, location, len(self.unit.trainings), len(self.unit.compiles))
        change = self._changes.get(dedupe)
        if change is None:
            change = TrainableChange(target=target, value=value, scope=scope, location=location, order=self._next(), span=span)  # type: ignore[arg-type]
            self._changes[dedupe] = change
            self.unit.trainable_changes.append(change)
        if keeps_bn_frozen:
            self.keep_bn_frozen(change)
        if value is False and not freezes_bn:
            change.skips_bn = True
        model = self.unit.models[target]
        if value is False:
            if scope == "batchnorm":
                model.bn_kept_frozen = True
            elif scope == "some_layers" or not freezes_bn:
                # A slice (or every layer but BatchNormalization) frozen: the rest still trains.
                model.partially_frozen = True
                if freezes_bn:
                    self.freeze(target, location)
            else:
                self.freeze(target, location)
        return change

    def keep_bn_frozen(self, change: TrainableChange) -> None:
        change.keeps_bn_frozen = True
        self.unit.models[change.target].bn_kept_frozen = True

    def compile(self, model: str | None, location: Location) -> None:
        """A compile(); the same site reached again is one, unless `trainable` changed since."""
        dedupe = ("compile", model, location, len(self.unit.trainable_changes))
        if dedupe not in self._seen:
            self._seen.add(dedupe)
            self.unit.compiles.append(Compile(model=model, location=location, order=self._next()))

    def training(self, kind: str, models: tuple[str, ...], location: Location, api: str) -> None:
        """A training event; the same site reached again (a step called from a loop) is one event,
        unless a `trainable` change or a compile() came in between (a helper that trains, called
        once before and once after the unfreeze: two phases, two events)."""
        dedupe = ("training", kind, models, location, len(self.unit.trainable_changes), len(self.unit.compiles))
        if dedupe not in self._seen:
            self._seen.add(dedupe)
            self.unit.trainings.append(TrainingEvent(kind, models, location, self._next(), api))  # type: ignore[arg-type]

    # -- end of analysis ------------------------------------------------------------------------

    def finish(self) -> None:
        """Derive what composite models contain from their parts (a cycle counts as nothing)."""
        memo: dict[str, bool | None] = {}
        for key in self._composite:
            self._contains_bn(key, set(), memo)

    def _contains_bn(self, key: str, visiting: set[str], memo: dict[str, bool | None]) -> bool | None:
        # A method, not a closure that calls itself: that closure would be a reference cycle
        # holding the whole unit until the garbage collector found it.
        model = self.unit.models.get(key)
        if model is None or key in visiting:
            return False
        if key not in self._composite:
            return model.contains_bn
        if key in memo:
            return memo[key]
        visiting.add(key)
        parts = {self.unit.calls[i].callee for i in self.inner.get(key, ())} | self.parts.get(key, set())
        result: bool | None = False
        for part in sorted(parts):
            found = self._contains_bn(part, visiting, memo)
            if found:
                result = True
                break
            if found is None:
                result = None
        visiting.discard(key)
        memo[key] = result
        model.contains_bn = result
        return result
