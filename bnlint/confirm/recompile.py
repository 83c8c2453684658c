"""The BN003 check: replay the script's compile / fit / `trainable` change / fit sequence on the
rebuilt model and see what each fit() really trains (worker side: runs TensorFlow).

A compiled model trains what its train function was traced with: Keras 3 traces it at the first
fit() after compile(), tf.keras as well, but tf.keras also ignores a change made after compile()
before any fit(). The check does what the script does, one step per fit() on the batch, then
compiles again and fits once more, and reports both halves: what the script's own fit() does to
the changed model (its weights and BatchNormalization statistics), and what happens once the
script recompiles (including, after an unfreeze, with the BN layers kept frozen).
"""

from __future__ import annotations

import numpy as np

from bnlint.confirm.layers import is_batchnorm, walk_layers
from bnlint.confirm.outcome import Outcome, Subject

LEARNING_RATE = 0.01  # plain SGD: any trained weight moves in one step


def _numpy(value) -> np.ndarray:
    return np.array(value.numpy() if hasattr(value, "numpy") else value)


class _State:
    """The changed model's weights and its BN layers' moving statistics, to diff after a fit()."""

    def __init__(self, callee) -> None:
        self.bns = [layer for layer in walk_layers(callee) if is_batchnorm(layer)]
        statistics = {id(v) for bn in self.bns for v in (bn.moving_mean, bn.moving_variance)}
        # `weights` lists every weight whatever `trainable` says; random-number state is not one.
        self.weights = [w for w in callee.weights if id(w) not in statistics and "seed_generator" not in str(getattr(w, "path", w.name))]

    def snapshot(self) -> tuple[list, list]:
        return [_numpy(w) for w in self.weights], [_numpy(bn.moving_mean) for bn in self.bns]

    def delta(self, before: tuple[list, list]) -> dict:
        weights, means = self.snapshot()
        return {
            "weights_max_abs_delta": max((float(np.max(np.abs(a - b))) for a, b in zip(weights, before[0]) if a.size), default=0.0),
            "moving_mean_max_abs_delta": max((float(np.max(np.abs(a - b))) for a, b in zip(means, before[1]) if a.size), default=0.0),
        }


def replay_sequence(keras_module, subject: Subject, inputs, target: dict) -> Outcome:
    K = keras_module
    model, callee = subject.model, subject.callee
    unfreeze = target.get("change", "unfreeze") != "freeze"
    fitted_first = target.get("sequence", "fit-change-fit") == "fit-change-fit"
    x = inputs
    rng = np.random.default_rng(0)
    y = rng.standard_normal(np.asarray(model(x, training=False)).shape).astype("float32")
    state = _State(callee)
    if not state.weights and not state.bns:
        return Outcome("refuted", None, {}, {}, "the changed model holds no weights")

    def compile_() -> None:
        # Traced like the script's own train step (that is what goes stale), but without XLA,
        # which only makes the trace slower.
        model.compile(optimizer=K.optimizers.SGD(learning_rate=LEARNING_RATE), loss="mse", jit_compile=False)

    def fit() -> None:
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False)

    callee.trainable = not unfreeze
    compile_()
    steps = ["compile()"]
    if fitted_first:
        fit()
        steps.append("fit()")
    before = state.snapshot()
    callee.trainable = unfreeze
    fit()
    metrics = {f"no_recompile_{k}": v for k, v in state.delta(before).items()}
    after_stale = model.get_weights()

    before = state.snapshot()
    compile_()
    fit()
    metrics |= {f"recompiled_{k}": v for k, v in state.delta(before).items()}
    if unfreeze and state.bns:
        model.set_weights(after_stale)
        before = state.snapshot()
        for bn in state.bns:
            bn.trainable = False
        compile_()
        fit()
        metrics |= {f"recompiled_freeze_batchnorm_{k}": v for k, v in state.delta(before).items()}

    stale_moved = metrics["no_recompile_weights_max_abs_delta"] > 0 or metrics["no_recompile_moving_mean_max_abs_delta"] > 0
    fresh_moved = metrics["recompiled_weights_max_abs_delta"] > 0 or metrics["recompiled_moving_mean_max_abs_delta"] > 0
    name = f"`{target['name']}`" if target.get("name") else "the model"
    sequence = f"{', '.join(steps)}, {name}.trainable = {unfreeze}, fit() without compile()"
    ignored = not stale_moved if unfreeze else stale_moved
    remedies = {"recompile": fresh_moved if unfreeze else not fresh_moved}
    if not ignored:
        verdict = f"replayed {sequence}: that fit() already followed the change ({_moved(metrics, 'no_recompile_')})"
        return Outcome("refuted", None, metrics, remedies, verdict)
    if not unfreeze:
        verdict = (f"replayed {sequence}: that fit() still trained {name} ({_moved(metrics, 'no_recompile_')}); "
                   f"after compile() again it stays frozen ({_moved(metrics, 'recompiled_')})")
        return Outcome("confirmed", "active", metrics, remedies, verdict)
    verdict = (f"replayed {sequence}: that fit() left every weight and BatchNormalization statistic of {name} unchanged "
               f"(the change is ignored); after compile() again, fit() trains it ({_moved(metrics, 'recompiled_')})")
    if metrics["recompiled_moving_mean_max_abs_delta"] > 0:
        verdict += ("; that overwrites its BatchNormalization statistics, which keeping the BN layers frozen before "
                    f"compiling prevents ({_moved(metrics, 'recompiled_freeze_batchnorm_')})")
    elif state.bns:
        verdict += "; its BatchNormalization statistics do not move"
    return Outcome("confirmed", "active", metrics, remedies, verdict)


def _moved(metrics: dict, prefix: str) -> str:
    return (f"weights moved by up to {metrics[prefix + 'weights_max_abs_delta']:.3g}, "
            f"moving means by up to {metrics[prefix + 'moving_mean_max_abs_delta']:.3g}")
