"""Every claim a confirmation makes, checked against what Keras then does when the model is
fine-tuned for real: unfreeze, compile, fit() a couple of steps on shifted data, and look at the
BatchNormalization moving statistics.

The confirmations come from the real worker (`confirm_findings`); the fine-tuning runs here, in
this process, on the same architecture and composition built independently.
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlint.confirm.runner import ConfirmOptions, confirm_findings
from bnlint.findings import Finding, Related, Source, Subject
from bnlint.ir import Runtime

SIDE = 32
RUNTIMES = {"keras2": "tf_keras", "keras3": "keras"}


def script_finding(tmp_path, rule: str, target: str, subject: Subject, line: int = 5, related=()) -> Finding:
    script = tmp_path / "train.py"
    script.write_text("# never executed\n")
    return Finding(rule=rule, name="test", severity="error", message="", path="train.py", line=line,
                   runtime=Runtime(target, "given"), input="script", subject=subject, related=tuple(related),
                   source=Source(str(script), "train.py"))


def batchnorm_layers(keras, model) -> list:
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


def shifted_data(rows: int = 16, seed: int = 7):
    rng = np.random.default_rng(seed)
    # Far from the statistics a fresh network holds: what new fine-tuning data looks like to BN.
    return (rng.normal(size=(rows, SIDE, SIDE, 3)) * 2 + 1).astype("float32"), rng.normal(size=(rows, 1)).astype("float32")


def fine_tune(keras, model, base, *, freeze_batchnorm: bool = False, recompile: bool = True, eagerly: bool = True) -> float:
    """Unfreeze `base` the way a fine-tuning script does, fit() two steps; how far any BN moving mean moved.

    Eagerly by default: the same `training` semantics as a traced train step, without seconds of
    tracing per compile(). The recompile test traces, because a traced step is what goes stale."""
    base.trainable = True
    layers = batchnorm_layers(keras, base)
    if freeze_batchnorm:
        for layer in layers:
            layer.trainable = False
    if recompile:
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="mse", run_eagerly=eagerly)
    before = [np.array(layer.moving_mean.numpy()) for layer in layers]
    x, y = shifted_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return max(float(np.max(np.abs(np.array(layer.moving_mean.numpy()) - b))) for layer, b in zip(layers, before))


def fresh_base(keras, name: str):
    keras.utils.set_random_seed(0)
    base = getattr(keras.applications, name)(weights=None, include_top=False, input_shape=(SIDE, SIDE, 3), pooling="avg")
    base.trainable = False
    return base


def composed(keras, base, how: str):
    """The composition a script writes: a call with or without training=False, or Sequential."""
    if how == "sequential":
        return keras.Sequential([keras.Input((SIDE, SIDE, 3)), base, keras.layers.Dense(1)])
    inputs = keras.Input((SIDE, SIDE, 3))
    features = base(inputs, training=False) if how == "training_false" else base(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(features))


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("target", ["keras2", "keras3"])
def test_remedy_verdicts_for_a_base_with_internal_dropout_hold_in_real_fine_tuning(tmp_path, target):
    """EfficientNet holds Dropout layers inside the base: they must not be mistaken for BN."""
    keras = pytest.importorskip(RUNTIMES[target])
    findings = [
        script_finding(tmp_path, "BN001", target, Subject("base", "EfficientNetB0", architecture="keras.applications.EfficientNetB0",
                                                         arguments={"include_top": False}, composition="call", training="absent")),
        script_finding(tmp_path, "BN002", target, Subject("base", "EfficientNetB0", architecture="keras.applications.EfficientNetB0",
                                                         arguments={"include_top": False}, composition="sequential"), line=6),
    ]
    confirm_findings(findings, ConfirmOptions())
    keras2 = target == "keras2"
    for finding in findings:
        confirmation = finding.confirmation
        assert (confirmation.status, confirmation.mode) == ("confirmed", "latent"), confirmation.reason
        # tf.keras: the stored training=False wins over fit()'s training=True; Keras 3: it does not.
        assert confirmation.remedies == {"training-false": keras2, "freeze-batchnorm": True}, confirmation.reason

    base = fresh_base(keras, "EfficientNetB0")
    assert any(isinstance(layer, keras.layers.Dropout) for layer in base.layers)
    state = base.get_weights()

    def moved(how: str, **options) -> float:
        base.set_weights(state)
        base.trainable = False
        return fine_tune(keras, composed(keras, base, how), base, **options)

    assert moved("call") > 1e-6  # latent: unfrozen, fit() overwrites the moving statistics
    assert moved("sequential") > 1e-6
    assert (moved("training_false") == 0.0) is keras2  # the training-false verdict
    assert moved("call", freeze_batchnorm=True) == 0.0  # the freeze-batchnorm verdict


@pytest.mark.tf
@pytest.mark.slow
def test_keras3_graphs_with_and_without_training_false_are_measured_alike_and_fine_tune_alike(tmp_path):
    keras = pytest.importorskip("keras")
    paths = {}
    for how in ("call", "training_false"):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv2D(4, 3)(inputs))
        base = keras.Model(inputs, keras.layers.Dropout(0.3)(keras.layers.ReLU()(x)), name="backbone")
        base.trainable = False
        image = keras.Input((8, 8, 3))
        features = base(image, training=False) if how == "training_false" else base(image)
        paths[how] = tmp_path / f"{how}.keras"
        keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(features))).save(paths[how])
    findings = {how: Finding(rule="BN001", name="test", severity="info", message="", path=path.name, verdict="note",
                             runtime=Runtime("keras3", "metadata.json keras_version 3.15.1"), input="model",
                             layer_path="backbone", source=Source(str(path), path.name))
                for how, path in paths.items()}
    confirm_findings(list(findings.values()), ConfirmOptions())
    plain, protected = findings["call"].confirmation, findings["training_false"].confirmation
    for confirmation in (plain, protected):
        assert (confirmation.status, confirmation.mode) == ("confirmed", "latent"), confirmation.reason
        assert confirmation.remedies == {"training-false": False, "freeze-batchnorm": True}
    assert protected.metrics["latent_moving_mean_max_abs_delta"] == pytest.approx(plain.metrics["latent_moving_mean_max_abs_delta"])

    rng = np.random.default_rng(7)
    x, y = (rng.normal(size=(16, 8, 8, 3)) * 2 + 1).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    for path in paths.values():
        for freeze in (False, True):
            model = keras.saving.load_model(path, safe_mode=True)
            base = model.get_layer("backbone")
            base.trainable = True
            if freeze:
                base.get_layer("bn").trainable = False
            model.compile(optimizer="sgd", loss="mse")
            before = base.get_layer("bn").moving_mean.numpy().copy()
            model.fit(x, y, batch_size=8, verbose=0, shuffle=False)
            delta = float(np.max(np.abs(base.get_layer("bn").moving_mean.numpy() - before)))
            # training=False in the graph changes nothing: fit() overwrites the statistics unless BN stays frozen.
            assert (delta == 0.0) is freeze, (path.name, freeze, delta)


@pytest.mark.tf
@pytest.mark.slow
def test_a_replicas_numbers_are_what_fit_does_to_that_replica(tmp_path):
    keras = pytest.importorskip("keras")
    from bnlint.confirm.reproduce import reproduce

    subject = Subject("base", "MobileNetV3Small", architecture="keras.applications.MobileNetV3Small",
                      arguments={"include_top": False, "input_shape": [224, 224, 3]}, composition="call", training="absent")
    finding = script_finding(tmp_path, "BN001", "keras3", subject)
    confirm_findings([finding], ConfirmOptions())
    confirmation = finding.confirmation
    assert confirmation.measured["kind"] == "replica" and confirmation.measured["input_shape"] == [SIDE, SIDE, 3]
    assert confirmation.measured["script_input_shape"] == [224, 224, 3] and confirmation.measured["weights"] is None

    # The same replica, built here the way the worker builds it, then fine-tuned for one real step.
    target = {"architecture": subject.architecture, "arguments": dict(subject.arguments), "composition": "call",
              "training": "absent", "check": "frozen-batchnorm"}
    replica, batch = reproduce(keras, target)
    model, base = replica.subject.model, replica.subject.callee
    # Warmed statistics: inference output is of normal size, not the ~1e-9 of a fresh deep network.
    assert float(np.linalg.norm(np.asarray(model(batch.inputs[0], training=False)))) > 1e-2
    layers = batchnorm_layers(keras, base)
    before = [layer.moving_mean.numpy().copy() for layer in layers]
    base.trainable = True
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    model.fit(batch.inputs[0], np.zeros(np.asarray(model(batch.inputs[0])).shape), batch_size=8, verbose=0, shuffle=False)
    real = max(float(np.max(np.abs(layer.moving_mean.numpy() - b))) for layer, b in zip(layers, before))
    assert confirmation.metrics["latent_moving_mean_max_abs_delta"] == pytest.approx(real, rel=1e-3)
    assert "one training-mode pass moves the moving means by up to" in confirmation.reason


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("target", ["keras2", "keras3"])
def test_the_no_recompile_sequence_is_what_the_scripts_own_fits_do(tmp_path, target):
    keras = pytest.importorskip(RUNTIMES[target])
    subject = Subject("base", "MobileNetV3Small", architecture="keras.applications.MobileNetV3Small",
                      arguments={"include_top": False}, unfrozen="base")
    # Keras 3 ignores the change only after a fit(); tf.keras ignores it even before the first one.
    related = [Related("compile", "the last compile() before it", 6, 1)]
    if target == "keras3":
        related.append(Related("training", "fit()", 7, 1))
    finding = script_finding(tmp_path, "BN003", target, subject, line=9, related=related)
    confirm_findings([finding], ConfirmOptions())
    confirmation = finding.confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "active"), confirmation.reason
    assert confirmation.metrics["no_recompile_weights_max_abs_delta"] == 0.0
    assert confirmation.metrics["no_recompile_moving_mean_max_abs_delta"] == 0.0
    assert confirmation.metrics["recompiled_weights_max_abs_delta"] > 0
    assert confirmation.metrics["recompiled_moving_mean_max_abs_delta"] > 0  # called without training=False
    assert confirmation.remedies == {"recompile": True}

    # The script's own sequence, written the way a user writes it.
    base = fresh_base(keras, "MobileNetV3Small")
    model = composed(keras, base, "call")
    model.compile(optimizer="adam", loss="mse")
    x, y = shifted_data()
    if target == "keras3":
        model.fit(x, y, batch_size=8, verbose=0)
    kernel = [np.array(w.numpy()) for w in base.weights]
    assert fine_tune(keras, model, base, recompile=False) == 0.0  # the stale fit(): statistics untouched
    assert all(np.array_equal(np.array(w.numpy()), k) for w, k in zip(base.weights, kernel))  # and weights
    assert fine_tune(keras, model, base, recompile=True, eagerly=False) > 0.0  # compile() again: they move


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("target", ["keras2", "keras3"])
def test_an_output_composition_says_what_the_code_does_and_the_restructured_call_is_what_protects(tmp_path, target):
    keras = pytest.importorskip(RUNTIMES[target])
    subject = Subject("base", "MobileNetV3Small", architecture="keras.applications.MobileNetV3Small",
                      arguments={"include_top": False}, composition="output")
    finding = script_finding(tmp_path, "BN001", target, subject)
    confirm_findings([finding], ConfirmOptions())
    confirmation = finding.confirmation
    assert "its graph reused in place through .output" in confirmation.reason
    assert "called without training=False" not in confirmation.reason
    assert "training=False was measured on the model restructured to call it, base(inputs, training=False)" in confirmation.reason
    assert confirmation.remedies == {"training-false": target == "keras2", "freeze-batchnorm": True}

    base = fresh_base(keras, "MobileNetV3Small")
    state = base.get_weights()
    reused = keras.Model(base.inputs, keras.layers.Dense(1)(base.output))  # x = base.output; Dense(...)(x)
    assert fine_tune(keras, reused, base) > 1e-6
    base.set_weights(state)
    base.trainable = False
    assert (fine_tune(keras, composed(keras, base, "training_false"), base) == 0.0) is (target == "keras2")
