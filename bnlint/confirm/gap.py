"""Reproduce what fit() reports and what evaluate() reports after it, and split the difference
(worker side: runs TensorFlow). `bnlint explain` (no TensorFlow) sends the job.

fit() is reproduced step by step, as Keras runs it: the sample in batches of `batch_size` rows
(in order, or shuffled each epoch with a seeded permutation), each step's loss computed in
training mode on the weights *before* that step's update, and the epoch's loss the mean of the
step losses weighted by batch size, as Keras' loss tracker keeps it. At each step, from the same
weights and statistics, three more losses are measured on the same rows (their passes update
nothing): La with augmentation layers off, L1 with every random layer off (BN still on batch
statistics), L2 in inference mode. evaluate() is the inference-mode loss over all rows after the
last step (L3). For the last epoch:

    augmentation = L0 - La, dropout = La - L1, batchnorm = L1 - L2, weight_update = L2 - L3

and their sum is fit_loss - evaluate_loss. Random layers are switched off through the `training`
argument of their calls (`bnlint.confirm.replay`), never by changing them. A model with random
layers is run several times, each from other seeds ("draws"): fit_loss is their mean, and the
spread says how far one fit() run (one draw) can land from it. Every variable of the model and
its optimizer is restored afterwards.

The model is a saved file, or (`bnlint explain train.py`) a replica of the base a script finding
is about (`bnlint.confirm.reproduce`), frozen or unfrozen as the script trains it.
"""

from __future__ import annotations

import numpy as np

from bnlint.confirm.loading import load_model

DEFAULT_LOSS = "mse"  # when the model was saved without compile() and --loss is not given
DEFAULT_BATCH_SIZE = 32  # fit()'s own default
DRAWS = 5  # runs from different seeds when the model has random layers
# The optimizer steps when the model was saved without an optimizer.
DEFAULT_OPTIMIZER = "Adam"
DEFAULT_LEARNING_RATE = 1e-3


class GapError(Exception):
    """The gap cannot be measured on this model and data. One line."""


def _was_compiled(model) -> bool:
    # Keras 3 says `compiled`; tf.keras keeps `_is_compiled`.
    return bool(getattr(model, "compiled", getattr(model, "_is_compiled", False)))


def _loss_function(keras_module, model, requested: str | None):
    """The loss to measure: --loss, else the one the model was compiled with, else mse."""
    compiled = getattr(model, "loss", None) if _was_compiled(model) else None
    chosen = requested or compiled or DEFAULT_LOSS
    if isinstance(chosen, str):
        return chosen, keras_module.losses.get(chosen)
    if callable(chosen):
        return str(getattr(chosen, "name", None) or getattr(chosen, "__name__", type(chosen).__name__)), chosen
    raise ValueError("the model was compiled with several losses; pass --loss")


def _variables(owner) -> list:
    found = getattr(owner, "variables", None)
    found = found() if callable(found) else found
    return [v for v in found or [] if hasattr(v, "assign")]


class _Saved:
    """Values of variables, to put back."""

    def __init__(self, variables: list) -> None:
        self.values = [(v, np.array(v.numpy())) for v in variables]

    def restore(self) -> None:
        for variable, value in self.values:
            variable.assign(value)


class _Run:
    """One reproduction of fit() and evaluate() from the loaded state, under one draw's seeds."""

    def __init__(self, K, model, x: list, y, loss_function, optimizer, options: dict, kinds: set) -> None:
        self.K, self.model, self.x, self.y = K, model, x, y
        self.loss_function, self.optimizer = loss_function, optimizer
        self.batch_size, self.epochs, self.shuffle_seed = options["batch_size"], options["epochs"], options["shuffle_seed"]
        self.kinds = kinds
        from bnlint.confirm.layers import is_batchnorm, walk_layers

        self.statistics = [v for layer in walk_layers(model) if is_batchnorm(layer) for v in (layer.moving_mean, layer.moving_variance)]

    def _inputs(self, rows):
        parts = [a[rows] for a in self.x]
        return parts[0] if len(parts) == 1 else parts

    def loss(self, prediction, rows) -> object:
        import tensorflow as tf

        value = tf.reduce_mean(tf.cast(self.loss_function(self.y[rows], prediction), tf.float32))
        return value + sum((tf.cast(extra, tf.float32) for extra in self.model.losses), tf.constant(0.0))

    def _side_pass(self, rows, modes: dict, randomness) -> float:
        """A loss from the current state that changes nothing: statistics and seeds are put back."""
        from bnlint.confirm.replay import call

        statistics = _Saved(self.statistics)
        seeds = randomness.capture()
        try:
            return float(self.loss(call(self.K, self.model, self._inputs(rows), modes), rows))
        finally:
            statistics.restore()
            randomness.restore(seeds)

    def epochs_run(self, randomness) -> list[dict]:
        import tensorflow as tf

        rows_total = len(self.x[0])
        history = []
        for epoch in range(self.epochs):
            order = np.arange(rows_total)
            if self.shuffle_seed is not None:
                order = np.random.default_rng(self.shuffle_seed + epoch).permutation(rows_total)
            sums = dict.fromkeys(("L0", "La", "L1", "L2"), 0.0)
            for start in range(0, rows_total, self.batch_size):
                rows = order[start:start + self.batch_size]
                weight = len(rows)
                inputs = self._inputs(rows)
                l2 = float(self.loss(self.model(inputs, training=False), rows))
                la = l1 = None
                if "augmentation" in self.kinds:
                    la = self._side_pass(rows, {"batchnorm": True, "dropout": True, "augmentation": False, "other": True}, randomness)
                if self.kinds & {"augmentation", "dropout"}:
                    l1 = self._side_pass(rows, {"batchnorm": True, "dropout": False, "augmentation": False, "other": True}, randomness)
                with tf.GradientTape() as tape:
                    loss = self.loss(self.model(inputs, training=True), rows)  # as fit() does: BN statistics update too
                variables = self.model.trainable_variables
                gradients = tape.gradient(loss, variables)
                pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
                if pairs:  # a wholly frozen model: fit() updates no weight (Keras refuses an empty update)
                    self.optimizer.apply_gradients(pairs)
                l0 = float(loss)
                if not all(np.isfinite(v) for v in (l0, l2, la or 0.0, l1 or 0.0)):
                    raise GapError(f"the loss is not finite at epoch {epoch + 1}, step {start // self.batch_size + 1}: "
                                   "fit() diverges on this data with this optimizer")
                for key, value in (("L0", l0), ("La", l0 if la is None else la), ("L1", l0 if l1 is None else l1), ("L2", l2)):
                    sums[key] += value * weight
            history.append({key: value / rows_total for key, value in sums.items()})
        history[-1]["L3"] = self.evaluate()
        if not np.isfinite(history[-1]["L3"]):
            raise GapError("evaluate()'s loss is not finite after training: fit() diverges on this data with this optimizer")
        return history

    def evaluate(self) -> float:
        total = 0.0
        rows_total = len(self.x[0])
        for start in range(0, rows_total, self.batch_size):
            rows = np.arange(start, min(start + self.batch_size, rows_total))
            total += float(self.loss(self.model(self._inputs(rows), training=False), rows)) * len(rows)
        return total / rows_total


def model_kinds(model) -> set[str]:
    """The kinds of training-dependent layer the model holds (`bnlint.confirm.replay.KINDS`)."""
    from bnlint.confirm.replay import kinds_inside

    return kinds_inside(model)


def _optimizer(K, model):
    optimizer = getattr(model, "optimizer", None) if _was_compiled(model) else None
    if optimizer is not None:
        return optimizer, f"the compiled {type(optimizer).__name__}"
    return getattr(K.optimizers, DEFAULT_OPTIMIZER)(learning_rate=DEFAULT_LEARNING_RATE), f"{DEFAULT_OPTIMIZER}({DEFAULT_LEARNING_RATE:g})"


def _replica(K, job: dict):
    """The replica of a script's base, frozen or unfrozen as the script trains it, and what it is."""
    from bnlint.confirm.reproduce import reproduce

    replica, _ = reproduce(K, job["replica"])
    if job.get("unfreeze"):
        replica.subject.callee.trainable = True  # as the script's fine-tuning phase trains it
    K.utils.set_random_seed(0)
    return replica.subject.model, replica.measured


def _loaded(K, job: dict):
    try:
        return load_model(K, job, compile=True)
    except Exception:  # a compile config that cannot be restored: the weights still can
        return load_model(K, job, compile=False)


def batchnorm_state(model) -> dict:
    """How many BatchNormalization layers the model holds, and how many are trainable: a frozen
    BN layer normalises with its moving statistics in fit() too (Keras 3, tf.keras 2)."""
    from bnlint.confirm.layers import is_batchnorm, walk_layers

    layers = [layer for layer in walk_layers(model) if is_batchnorm(layer)]
    return {"layers": len(layers), "trainable": sum(1 for layer in layers if layer.trainable)}


def measure_gap(keras_module, job: dict) -> dict:
    """fit()'s and evaluate()'s losses and the terms between them (see the module docstring)."""
    from bnlint.confirm.layers import walk_layers
    from bnlint.confirm.loading import batch_for
    from bnlint.confirm.randomness import Randomness
    from bnlint.confirm.sample import synthetic_labels

    K = keras_module
    K.utils.set_random_seed(0)  # unseeded random layers draw their seed when they are built
    replica = None
    if job.get("replica"):
        model, replica = _replica(K, job)
    else:
        model = _loaded(K, job)
    if len(getattr(model, "outputs", None) or []) != 1:
        raise ValueError("bnlint explain needs a model with one output")
    batch = batch_for(model, job, all_rows=True)
    x = list(batch.inputs)
    loss_name, loss_function = _loss_function(K, model, job.get("loss"))
    y = batch.labels
    if y is None:
        y = synthetic_labels(np.asarray(model(x[0] if len(x) == 1 else x, training=False)), loss_name)
    options = {
        "batch_size": int(job.get("batch_size") or DEFAULT_BATCH_SIZE),
        "epochs": int(job.get("epochs") or 1),
        "shuffle_seed": job.get("shuffle_seed"),
    }
    optimizer, described = _optimizer(K, model)
    if hasattr(optimizer, "build") and not getattr(optimizer, "built", getattr(optimizer, "_built", False)):
        optimizer.build(model.trainable_variables)  # its slots exist before the state is saved
    kinds = model_kinds(model)
    random = bool(kinds & {"dropout", "augmentation"})
    randomness = Randomness(K, walk_layers(model))
    saved = _Saved(_variables(model) + _variables(optimizer))
    draws = []
    try:
        for draw in range(DRAWS if random else 1):
            randomness.reset(draw)
            draws.append(_Run(K, model, x, y, loss_function, optimizer, options, kinds).epochs_run(randomness))
            saved.restore()
    finally:
        saved.restore()
        randomness.reset()
    rows = len(x[0])
    last = {key: float(np.mean([d[-1][key] for d in draws])) for key in ("L0", "La", "L1", "L2", "L3")}
    fit_draws = [d[-1]["L0"] for d in draws]
    return {
        "loss": loss_name, "batch": batch.description, "optimizer": described, "kinds": sorted(kinds),
        "batchnorm": batchnorm_state(model), **({"replica": replica} if replica else {}),
        "losses": last,
        "history": [float(np.mean([d[epoch]["L0"] for d in draws])) for epoch in range(options["epochs"])],
        "fit": {"rows": rows, "batch_size": options["batch_size"], "epochs": options["epochs"],
                "steps_per_epoch": -(-rows // options["batch_size"]),
                "shuffle": False if options["shuffle_seed"] is None else {"seed": options["shuffle_seed"]}},
        "draws": {"count": len(draws), "fit_loss": fit_draws, "min": min(fit_draws), "max": max(fit_draws),
                  "std": float(np.std(fit_draws))},
    }
