"""Measure what a callee's BatchNormalization layers do in a real model (worker side: runs TF).

Every pass starts from the same state: trainable flags, BN weights and moving statistics and
random-number state are restored after each pass, so the model ends exactly as loaded.

A pass's divergence is measured against a reference pass in the *same* call mode, on the *same*
model, with the callee's BN layers held in inference mode (`trainable = False` pins a BN layer to
its moving statistics in Keras 3 and in tf.keras 2), from the same random state. Dropout, noise
and augmentation then draw the same values in both passes and cancel out: what is left is
exactly what the callee's BN layers add. A model whose random layers draw differently from the
same state (a custom layer with its own generator) is reported as not measurable rather than
as a divergence. BN layers outside the callee are held in inference mode throughout, so each
finding measures its own callee.

Check kinds:

- `frozen-batchnorm` (BN001, BN002, BN004): the training-mode pass as loaded (`active`; when every BN
  layer of the callee is frozen as loaded, that pass is the reference pass itself), then with the
  callee unfrozen the way a fine-tuner does it, `callee.trainable = True` (`latent_*`).
- `training-true-batchnorm` (BN005): inference-style passes, `model(x, training=False)` as predict() and
  evaluate() call it (`predict_*`) and `model(x)` as a direct call or an exported serving
  function does (`call_*`).
- `trainable-without-recompile` (BN003): `bnlint.confirm.recompile`.

Remedies re-run the check: `training-false` on a model rebuilt with `training=False` at the
flagged call site (compared with that rebuilt model's own reference pass whenever the argument
can change more than BN: random layers inside the callee run in another mode there),
`freeze-batchnorm` with the callee unfrozen but its BN layers kept frozen.

Metrics (each with the prefix of its pass): `rel_diff` (output difference relative to the larger
output), `max_abs_diff`, `moving_mean_max_abs_delta` and `moving_variance_max_rel_delta` (what one
pass wrote into the moving statistics) and `batch_mean_max_shift` (measured at the BN layers, so
it means the same whatever the output's scale: how far the batch means a layer normalised with
lie from its moving means, in moving standard deviations; a base applied to T frames per pass,
as in TimeDistributed, updates T times and adds them up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnlint.confirm.layers import find_layer, is_batchnorm, momentum_of, to_numpy, walk_layers
from bnlint.confirm.outcome import Outcome, Subject
from bnlint.confirm.randomness import Randomness, random_kind, unknown_randomness
from bnlint.confirm.recompile import replay_sequence

# A divergence: outputs differ by more than 0.1% of their norm, or any moving statistic moved.
# Float noise between two identical passes is orders of magnitude below both.
REL_DIFF_TOLERANCE = 1e-3
STATS_TOLERANCE = 1e-6


class Unmeasurable(Exception):
    """The check ran but cannot tell BN from something else on this model. One line."""


def _flat_output(output) -> np.ndarray:
    import tensorflow as tf

    parts = [to_numpy(o).astype(np.float64).ravel() for o in tf.nest.flatten(output)]
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class Pass:
    output: np.ndarray
    stats: list[tuple[np.ndarray, np.ndarray]]  # each callee BN layer's (moving mean, moving variance) after it


class Probe:
    """Runs passes over one subject, each from the state the model was loaded in."""

    def __init__(self, keras_module, subject: Subject, inputs) -> None:
        self.keras = keras_module
        self.model, self.callee = subject.model, subject.callee
        self.inputs = inputs  # what the model is called on: an array, a list or a dict of arrays
        layers = walk_layers(self.model)
        known = {id(layer) for layer in layers}
        # An `output` composition reuses the callee's graph in place: its layers are the model's.
        layers += [layer for layer in walk_layers(self.callee) if id(layer) not in known]
        self.layers = layers
        self.callee_bns = [layer for layer in walk_layers(self.callee) if is_batchnorm(layer)]
        inside = {id(layer) for layer in self.callee_bns}
        self.outside_bns = [layer for layer in layers if is_batchnorm(layer) and id(layer) not in inside]
        # Random layers whose generator restore() cannot put back: the reference pass is repeated to see.
        self.unknown_random = unknown_randomness(layers)
        self.flags = [(layer, layer.trainable) for layer in layers]
        self.weights = [(w, to_numpy(w).copy()) for bn in self.callee_bns + self.outside_bns for w in bn.weights]
        self.randomness = Randomness(keras_module, layers)
        self.loaded_stats = self._callee_stats()  # every pass starts from these (restore())

    def restore(self) -> None:
        # Parents first: setting a model's `trainable` also sets every layer inside it.
        for layer, trainable in self.flags:
            if layer.trainable != trainable:
                layer.trainable = trainable
        for variable, value in self.weights:
            variable.assign(value)
        self.randomness.reset()

    def _callee_stats(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(to_numpy(bn.moving_mean), to_numpy(bn.moving_variance)) for bn in self.callee_bns]

    def run(self, training: bool | None, *, pin_callee_bn: bool = False, unfreeze: bool = False) -> Pass:
        """One pass; returns the flat output and the callee's moving statistics after it."""
        try:
            if unfreeze:
                self.callee.trainable = True
            for bn in self.outside_bns + (self.callee_bns if pin_callee_bn else []):
                bn.trainable = False
            self.randomness.reset()
            output = self.model(self.inputs) if training is None else self.model(self.inputs, training=training)
            return Pass(_flat_output(output), self._callee_stats())
        finally:
            self.restore()

    def reference(self, training: bool | None) -> Pass:
        """The pass with the callee's BN layers pinned; checked to repeat when some random layer's
        generator is not one restore() puts back."""
        reference = self.run(training, pin_callee_bn=True)
        if self.unknown_random:
            again = self.run(training, pin_callee_bn=True)
            if not np.array_equal(reference.output, again.output):
                names = ", ".join(sorted({type(layer).__name__ for layer in self.unknown_random}))
                raise Unmeasurable(
                    f"the model's random layers ({names}) draw differently on every pass from the same seeds, "
                    "so a BatchNormalization effect cannot be told apart from them"
                )
        return reference

    def compare(self, measured: Pass, reference: Pass, prefix: str) -> dict:
        if measured.output.shape != reference.output.shape:
            raise ValueError("the two passes returned outputs of different shapes")
        diff = measured.output - reference.output
        larger = max(float(np.linalg.norm(reference.output)), float(np.linalg.norm(measured.output)), 1e-12)
        metrics = {
            "max_abs_diff": float(np.max(np.abs(diff))) if diff.size else 0.0,
            # Relative to the larger of the two outputs: bounded by 2 (200%).
            "rel_diff": float(np.linalg.norm(diff) / larger),
            **self._stats_delta(measured.stats),
        }
        if not all(np.isfinite(v) for v in metrics.values()):
            raise ValueError("the model produced non-finite outputs on this batch")
        return {f"{prefix}{k}": v for k, v in metrics.items()}

    def _stats_delta(self, after: list) -> dict:
        mean_delta, variance_delta, shift = 0.0, 0.0, 0.0
        for bn, (mean0, var0), (mean1, var1) in zip(self.callee_bns, self.loaded_stats, after):
            if not mean0.size:
                continue
            moved = np.abs(mean1 - mean0)
            mean_delta = max(mean_delta, float(np.max(moved)))
            variance_delta = max(variance_delta, float(np.max(np.abs(var1 - var0) / np.maximum(np.abs(var0), 1e-12))))
            momentum = momentum_of(bn)
            if momentum is not None:
                # new = momentum * old + (1 - momentum) * batch: the batch mean the layer used.
                epsilon = float(getattr(bn, "epsilon", 1e-3) or 1e-3)
                distance = moved / (1 - momentum) / np.sqrt(np.maximum(var0, 0) + epsilon)
                shift = max(shift, float(np.max(distance)))
        return {"moving_mean_max_abs_delta": mean_delta, "moving_variance_max_rel_delta": variance_delta,
                "batch_mean_max_shift": shift}


def diverged(metrics: dict, prefix: str = "") -> bool:
    return (
        metrics[f"{prefix}rel_diff"] > REL_DIFF_TOLERANCE
        or metrics[f"{prefix}moving_mean_max_abs_delta"] > STATS_TOLERANCE
        or metrics[f"{prefix}moving_variance_max_rel_delta"] > STATS_TOLERANCE
    )


NO_BATCHNORM = "it holds no BatchNormalization layer once loaded"
NO_CALL_SITE = "no call site can pass training=False here, so that remedy was not measured"


def effect(metrics: dict, prefix: str) -> str:
    """What a diverging pass did, in words with its numbers: at the BN layers first (their scale
    does not depend on the output's), then at the output."""
    parts = []
    if metrics.get(prefix + "batch_mean_max_shift"):
        parts.append(f"they normalise with batch means up to {metrics[prefix + 'batch_mean_max_shift']:.3g} moving standard "
                     "deviations from their moving means")
    if metrics[prefix + "moving_mean_max_abs_delta"] > STATS_TOLERANCE:
        parts.append(f"one training-mode pass moves the moving means by up to {metrics[prefix + 'moving_mean_max_abs_delta']:.3g}")
    parts.append(f"the outputs differ by {100 * metrics[prefix + 'rel_diff']:.3g}% from moving-statistics mode")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _frozen(keras_module, subject: Subject, inputs, target: dict | None = None) -> Outcome:
    probe = Probe(keras_module, subject, inputs)
    if not probe.callee_bns:
        return Outcome("refuted", None, {}, {}, NO_BATCHNORM)
    notes = []
    try:
        reference = probe.reference(True)
    except Unmeasurable as exc:
        return Outcome("unconfirmed", None, {}, {}, str(exc))
    # Every BN layer of the callee frozen as loaded: the as-loaded pass *is* the reference pass.
    loaded = reference if all(not bn.trainable for bn in probe.callee_bns) else probe.run(True)
    metrics = probe.compare(loaded, reference, "")
    metrics |= probe.compare(probe.run(True, unfreeze=True), reference, "latent_")
    active, latent = diverged(metrics), diverged(metrics, "latent_")
    remedies: dict[str, bool] = {}
    if active or latent:
        # (b) unfrozen like a fine-tuner, but with the BN layers themselves kept frozen.
        metrics |= probe.compare(probe.run(True, unfreeze=True, pin_callee_bn=True), reference, "remedy_freeze_batchnorm_")
        remedies["freeze-batchnorm"] = not diverged(metrics, "remedy_freeze_batchnorm_")
        # (a) training=False at the call site, then unfrozen; against the rebuilt model's own reference.
        rebuilt = _rebuilt_probe(keras_module, subject, inputs, reference)
        if rebuilt is None:
            notes.append(NO_CALL_SITE)
        else:
            other, other_reference = rebuilt
            try:
                metrics |= other.compare(other.run(True, unfreeze=True), other_reference or other.reference(True), "remedy_training_false_")
                remedies["training-false"] = not diverged(metrics, "remedy_training_false_")
            except Unmeasurable as exc:
                notes.append(f"training=False was not measured: {exc}")
            other.restore()
    probe.restore()
    if active:
        verdict = f"its BatchNormalization layers already use batch statistics in training mode as loaded: {effect(metrics, '')}"
        return Outcome("confirmed", "active", metrics, remedies, verdict, notes)
    if latent:
        verdict = ("as loaded, its BatchNormalization layers stay on their moving statistics in training mode; "
                   f"once it is unfrozen they use batch statistics: {effect(metrics, 'latent_')}")
        return Outcome("confirmed", "latent", metrics, remedies, verdict, notes)
    verdict = "its BatchNormalization layers kept their moving statistics and outputs, as loaded and unfrozen"
    return Outcome("refuted", None, metrics, remedies, verdict)


def _rebuilt_probe(keras_module, subject: Subject, inputs, reference: Pass | None = None):
    """Remedy (a): a probe of the model rebuilt with training=False at the flagged call, and the
    original's reference pass when it is also the rebuilt model's (None: run its own); None when
    there is no call site to rebuild.

    The reference pins the callee's BN layers, so `training=False` at its call changes nothing
    in it, unless the callee holds random layers, which that argument switches off (EfficientNet's
    internal Dropout): then, or when the rebuild has its own copies of the layers, the rebuilt
    model runs its own reference pass."""
    rebuilt = subject.with_training_false() if subject.with_training_false else None
    if rebuilt is None:
        return None
    model, callee, shared = rebuilt
    probe = Probe(keras_module, Subject(model, callee), inputs)
    random_inside = any(random_kind(layer) for layer in walk_layers(callee))
    return probe, reference if shared and not random_inside and reference is not None else None


def _training_true(keras_module, subject: Subject, inputs, target: dict | None = None) -> Outcome:
    probe = Probe(keras_module, subject, inputs)
    if not probe.callee_bns:
        return Outcome("refuted", None, {}, {}, NO_BATCHNORM)
    notes = []
    modes = ((False, "predict_"), (None, "call_"))
    metrics = {}
    try:
        for mode, prefix in modes:  # each call mode against its own reference (random layers run per mode)
            metrics |= probe.compare(probe.run(mode), probe.reference(mode), prefix)
    except Unmeasurable as exc:
        return Outcome("unconfirmed", None, {}, {}, str(exc))
    in_predict, in_call = diverged(metrics, "predict_"), diverged(metrics, "call_")
    remedies: dict[str, bool] = {}
    if in_predict or in_call:
        rebuilt = _rebuilt_probe(keras_module, subject, inputs)
        if rebuilt is None:
            notes.append(NO_CALL_SITE)
        else:
            other = rebuilt[0]
            try:
                for mode, prefix in modes:
                    metrics |= other.compare(other.run(mode), other.reference(mode), f"remedy_training_false_{prefix}")
                remedies["training-false"] = not (
                    diverged(metrics, "remedy_training_false_predict_") or diverged(metrics, "remedy_training_false_call_")
                )
            except Unmeasurable as exc:
                notes.append(f"training=False was not measured: {exc}")
            other.restore()
    probe.restore()
    where = [(w, p) for w, p, hit in (("predict()/evaluate()", "predict_", in_predict),
                                       ("direct calls and exported models", "call_", in_call)) if hit]
    if where:
        verdict = "; ".join(f"its BatchNormalization layers use batch statistics in {w}: {effect(metrics, p)}" for w, p in where)
        return Outcome("confirmed", "active", metrics, remedies, verdict, notes)
    return Outcome("refuted", None, metrics, remedies, "inference-mode calls use the moving statistics")


def _recompile(keras_module, subject: Subject, inputs, target: dict | None = None) -> Outcome:
    return replay_sequence(keras_module, subject, inputs, target or {})


# The checks by the names rules ask for (`confirm: {check: NAME}`, listed in bnlint.confirm.CHECKS).
CHECKS = {"frozen-batchnorm": _frozen, "training-true-batchnorm": _training_true, "trainable-without-recompile": _recompile}


def measure(keras_module, subject: Subject, inputs, check: str, target: dict | None = None) -> Outcome:
    """Run one check on a subject; the model is left as it was (the recompile check trains a
    rebuilt model it owns)."""
    return CHECKS[check](keras_module, subject, inputs, target)


def input_specs(model) -> list:
    """The model's inputs as InputSpecs (names of the input layers, shapes with the batch dim)."""
    from bnlint.confirm.sample import InputSpec

    tensors = getattr(model, "inputs", None)
    if not tensors:
        raise ValueError("the model has no known input shape (pass --sample)")
    names = list(getattr(model, "input_names", None) or [])
    specs = []
    for index, tensor in enumerate(tensors):
        history = getattr(tensor, "_keras_history", None)
        operation = getattr(history, "operation", None) or getattr(history, "layer", None)
        name = names[index] if index < len(names) else getattr(operation, "name", None) or tensor.name
        shape = tensor.shape.as_list() if hasattr(tensor.shape, "as_list") else list(tensor.shape)
        dtype = getattr(tensor.dtype, "name", tensor.dtype)
        specs.append(InputSpec(str(name), tuple(shape), str(dtype)))
    return specs


class _NoCallSite(Exception):
    """The callee is composed where no call can pass `training=False` (a nested Sequential)."""


def _is_target(layer, head: str, rest: list[str]) -> bool:
    """The layer named `head` is the call site: the callee itself, or a wrapper around it."""
    if layer.name != head:
        return False
    inner = getattr(layer, "layer", None)
    return not rest or (len(rest) == 1 and inner is not None and inner.name == rest[0])


def _sequential_as_functional(keras_module, sequential, head: str, rest: list[str]):
    """A Sequential has no call site: its functional twin, built from the same layer objects."""
    if not getattr(sequential, "inputs", None):
        raise _NoCallSite
    source = sequential.inputs[0]
    shape = source.shape.as_list() if hasattr(source.shape, "as_list") else list(source.shape)
    inputs = keras_module.Input(batch_shape=tuple(shape), dtype=getattr(source.dtype, "name", source.dtype))
    x = inputs
    for layer in sequential.layers:
        x = layer(x, training=False) if _is_target(layer, head, rest) else layer(x)
    return keras_module.Model(inputs, x, name=sequential.name)


def _keras3_training_false(keras_module, container, names: list[str]):
    """Replay the graph with the same layer objects, passing training=False at the call site."""
    head, rest = names[0], names[1:]
    if isinstance(container, keras_module.Sequential):
        layer = find_layer(container, head)
        if _is_target(layer, head, rest):
            return _sequential_as_functional(keras_module, container, head, rest)
        return keras_module.models.clone_model(
            container, clone_function=lambda other: _keras3_training_false(keras_module, other, rest) if other is layer else other
        )
    if not hasattr(container, "_run_through_graph"):
        raise _NoCallSite  # a subclassed model or a wrapper: no graph to replay

    def clone(layer):
        if layer.name == head and not _is_target(layer, head, rest):
            return _keras3_training_false(keras_module, layer, rest)
        return layer

    def call(layer, *args, **kwargs):
        if _is_target(layer, head, rest):
            kwargs["training"] = False
        return layer(*args, **kwargs)

    return keras_module.models.clone_model(container, clone_function=clone, call_function=call)


def _keras2_training_false(keras_module, model, names: list[str]):
    """tf.keras: edit the call node in the config, rebuild it and copy the weights over. The
    config is walked by the same code that reads saved models (`config_tree`), so the layer path
    means here what it means in the finding, repeated names and wrappers included."""
    from bnlint.frontends.models.config_tree import layer_at, set_call_training

    config = model.get_config()
    layer = layer_at({"class_name": type(model).__name__, "config": config}, "/".join(names))
    if layer is None or layer.nodes is None:
        raise _NoCallSite  # not found, or an element of a Sequential: no node can carry the argument
    set_call_training(layer, False, overwrite=True)
    rebuilt = model.__class__.from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def rebuild_with_training_false(keras_module, model, names: list[str]) -> tuple[object, object, bool] | None:
    """Remedy (a): `model` with `training=False` passed where the layer at `names` is called.

    Returns (model, callee, shares_layers), or None when no call can pass it. Keras 3 replays the
    graph over the same layer objects (`clone_model` with a `call_function`); tf.keras rebuilds
    from the edited config and copies the weights. A top-level Sequential becomes its functional
    twin (the fix bnlint suggests for it).
    """
    if not names:
        return None
    try:
        if isinstance(model, keras_module.Sequential) and _is_target(find_layer(model, names[0]), names[0], names[1:]):
            return _sequential_as_functional(keras_module, model, names[0], names[1:]), find_layer(model, "/".join(names)), True
        if keras_module.__name__ == "tf_keras":
            rebuilt = _keras2_training_false(keras_module, model, names)
            return rebuilt, find_layer(rebuilt, "/".join(names)), False
        return _keras3_training_false(keras_module, model, names), find_layer(model, "/".join(names)), True
    except _NoCallSite:
        return None
