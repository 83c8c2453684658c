"""`bnlint explain`: fit() reproduced step by step, checked against what Keras' own fit() and
evaluate() report on the same model file, data and random state."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import bnlint.confirm.runner as confirm
from bnlint.cli import cli
from bnlint.explain import gap_report, render_text

CONTRACT_KEYS = {"model", "loss", "runtime", "fit_loss", "evaluate_loss", "gap", "contributions"}
SUBCLASSED_BLOCK = '''\
import keras


@keras.saving.register_keras_serializable(package="blocks")
class Block(keras.layers.Layer):
    """BatchNormalization and Dropout inside one call(): no caller can switch one without the other."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, inputs, training=None):
        return self.drop(self.norm(inputs, training=training), training=training)
'''


def explain(*args: str):
    return CliRunner().invoke(cli, ["explain", *args])


def explained(*args: str) -> dict:
    result = explain(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert CONTRACT_KEYS <= set(report)
    contributions = report["contributions"]
    # The telescoping sum holds whatever the model holds.
    assert report["gap"] == pytest.approx(sum(contributions.values()), abs=1e-9)
    assert report["gap"] == pytest.approx(report["fit_loss"] - report["evaluate_loss"], abs=1e-9)
    return report


def keras_fit(keras, path, x, y, batch_size: int, epochs: int = 1, draw: int = 0):
    """What Keras' own fit() and evaluate() report on the file, from the random state of `draw`
    (loaded the way the worker loads it: seeded, then each draw's seeds)."""
    from bnlint.confirm.measure import walk_layers
    from bnlint.confirm.randomness import Randomness

    keras.utils.set_random_seed(0)
    load = keras.models.load_model if keras.__name__ == "tf_keras" else keras.saving.load_model
    model = load(str(path), safe_mode=True)
    Randomness(keras, walk_layers(model)).reset(draw)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0).history["loss"]
    return history, model.evaluate(x, y, batch_size=batch_size, verbose=0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Keras 3 models, each with one kind of training-dependent layer, and data for them."""
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("explain")
    rng = np.random.default_rng(3)
    # Shifted, scaled inputs: batch statistics are far from the fresh moving statistics.
    data = {"x": (rng.normal(size=(40, 6)) * 3 + 1).astype("float32"), "y": rng.normal(size=(40, 1)).astype("float32")}
    images = {"x": rng.normal(size=(16, 8, 8, 3)).astype("float32"), "y": rng.normal(size=(16, 1)).astype("float32")}
    tokens = {"x": rng.normal(size=(16, 5, 4)).astype("float32"), "y": rng.normal(size=(16, 1)).astype("float32")}
    paths = {}
    for name, values in (("data", data), ("images", images), ("tokens", tokens)):
        np.savez(folder / f"{name}.npz", **values)
        paths[name] = (folder / f"{name}.npz", values)

    def save(name, shape, layers, optimizer):
        keras.utils.set_random_seed(1)
        inputs = keras.Input(shape)
        x = inputs
        for layer in layers:
            x = layer(x, x) if isinstance(layer, keras.layers.MultiHeadAttention) else layer(x)
        model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
        model.compile(optimizer=optimizer, loss="mse")
        model.save(folder / f"{name}.keras")
        paths[name] = folder / f"{name}.keras"

    L = keras.layers
    save("batchnorm", (6,), [L.Dense(16, activation="relu"), L.BatchNormalization()], keras.optimizers.SGD(learning_rate=0.1))
    save("dropout", (6,), [L.Dense(16, activation="relu"), L.BatchNormalization(), L.Dropout(0.5)],
         keras.optimizers.SGD(learning_rate=0.05))
    save("augmentation", (8, 8, 3), [L.RandomFlip(), L.RandomRotation(0.2)], keras.optimizers.SGD(learning_rate=0.01))
    save("attention", (5, 4), [L.MultiHeadAttention(2, 4, dropout=0.3), L.LayerNormalization()], keras.optimizers.Adam(1e-2))
    return paths


@pytest.mark.tf
def test_one_full_batch_step_is_what_fit_and_evaluate_report(models):
    keras = pytest.importorskip("keras")
    sample, data = models["data"]
    before = hashlib.sha256(models["batchnorm"].read_bytes()).hexdigest()
    report = explained(str(models["batchnorm"]), "--sample", str(sample), "--batch-size", "40")
    history, evaluated = keras_fit(keras, models["batchnorm"], data["x"], data["y"], batch_size=40)
    assert report["fit_loss"] == pytest.approx(history[-1], rel=1e-5)
    assert report["evaluate_loss"] == pytest.approx(evaluated, rel=1e-5)
    assert report["fit"] == {"rows": 40, "batch_size": 40, "epochs": 1, "steps_per_epoch": 1, "shuffle": False}
    c = report["contributions"]
    assert c["dropout"] == 0.0 and c["augmentation"] == 0.0  # the model has neither
    assert abs(c["batchnorm"]) > 1e-2 and abs(c["weight_update"]) > 1e-2
    assert report["draws"]["count"] == 1 and report["layers"] == ["batchnorm"]
    assert report["batchnorm_layers"] == {"layers": 1, "trainable": 1}
    assert hashlib.sha256(models["batchnorm"].read_bytes()).hexdigest() == before


@pytest.mark.tf
@pytest.mark.slow
def test_several_steps_and_epochs_follow_fits_history(models):
    keras = pytest.importorskip("keras")
    sample, data = models["data"]
    # 40 rows in batches of 16: two full steps and a last one of 8 rows, three epochs.
    report = explained(str(models["batchnorm"]), "--sample", str(sample), "--batch-size", "16", "--epochs", "3")
    history, evaluated = keras_fit(keras, models["batchnorm"], data["x"], data["y"], batch_size=16, epochs=3)
    assert report["history"] == pytest.approx(history, rel=1e-5)
    assert report["fit_loss"] == pytest.approx(history[-1], rel=1e-5)
    assert report["evaluate_loss"] == pytest.approx(evaluated, rel=1e-5)
    assert report["fit"]["steps_per_epoch"] == 3
    text = explain(str(models["batchnorm"]), "--sample", str(sample), "--batch-size", "16", "--epochs", "3")
    assert "3 epochs of 3 steps (batch size 16, in order, as fit(shuffle=False))" in text.output
    assert "fit() loss per epoch: " in text.output


@pytest.mark.tf
@pytest.mark.slow
def test_a_seeded_shuffle_is_fit_on_the_rows_in_that_order(models):
    keras = pytest.importorskip("keras")
    sample, data = models["data"]
    report = explained(str(models["batchnorm"]), "--sample", str(sample), "--batch-size", "8", "--shuffle-seed", "3")
    order = np.random.default_rng(3).permutation(40)  # the permutation explain documents
    history, _ = keras_fit(keras, models["batchnorm"], data["x"][order], data["y"][order], batch_size=8)
    assert report["fit"]["shuffle"] == {"seed": 3}
    assert report["fit_loss"] == pytest.approx(history[-1], rel=1e-5)


@pytest.mark.tf
@pytest.mark.slow
def test_each_dropout_draw_is_what_one_fit_run_prints_and_the_spread_is_reported(models):
    keras = pytest.importorskip("keras")
    sample, data = models["data"]
    report = explained(str(models["dropout"]), "--sample", str(sample), "--batch-size", "8")
    draws = report["draws"]
    assert draws["count"] == 5
    real = [keras_fit(keras, models["dropout"], data["x"], data["y"], batch_size=8, draw=d)[0][-1] for d in range(5)]
    assert draws["fit_loss"] == pytest.approx(real, rel=1e-5)
    assert report["fit_loss"] == pytest.approx(np.mean(real), rel=1e-5)
    assert (draws["min"], draws["max"]) == (min(draws["fit_loss"]), max(draws["fit_loss"]))
    assert draws["std"] == pytest.approx(np.std(real), rel=1e-4) and draws["std"] > 0
    c = report["contributions"]
    assert abs(c["dropout"]) > 1e-3 and abs(c["batchnorm"]) > 1e-3 and c["augmentation"] == 0.0
    text = explain(str(models["dropout"]), "--sample", str(sample), "--batch-size", "8").output
    assert "(mean of 5 seeded draws)" in text
    assert f"ranged from {draws['min']:.6g} to {draws['max']:.6g}" in text


@pytest.mark.tf
@pytest.mark.slow
def test_augmentation_has_its_own_term_and_no_batchnorm_or_dropout(models):
    keras = pytest.importorskip("keras")
    sample, images = models["images"]
    report = explained(str(models["augmentation"]), "--sample", str(sample), "--batch-size", "8")
    c = report["contributions"]
    # Neither Dropout nor BatchNormalization: their terms are exactly zero.
    assert c["dropout"] == 0.0 and c["batchnorm"] == 0.0
    assert abs(c["augmentation"]) > 1e-3
    assert report["layers"] == ["augmentation"]
    real = keras_fit(keras, models["augmentation"], images["x"], images["y"], batch_size=8, draw=0)[0][-1]
    assert report["draws"]["fit_loss"][0] == pytest.approx(real, rel=1e-5)
    text = explain(str(models["augmentation"]), "--sample", str(sample), "--batch-size", "8").output
    assert "augmentation layers off" in text and "L0 - La" in text


@pytest.mark.tf
@pytest.mark.slow
def test_attention_dropout_is_switched_off_through_training_not_attributes(models):
    keras = pytest.importorskip("keras")
    sample, tokens = models["tokens"]
    report = explained(str(models["attention"]), "--sample", str(sample), "--batch-size", "8")
    assert abs(report["contributions"]["dropout"]) > 1e-3 and report["contributions"]["batchnorm"] == 0.0
    real, evaluated = keras_fit(keras, models["attention"], tokens["x"], tokens["y"], batch_size=8, draw=2)
    assert report["draws"]["fit_loss"][2] == pytest.approx(real[-1], rel=1e-5)


@pytest.mark.tf
def test_a_tf_keras_model_runs_under_tf_keras_and_matches_its_fit(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    rng = np.random.default_rng(5)
    x, y = (rng.normal(size=(24, 6)) * 2 + 1).astype("float32"), rng.normal(size=(24, 1)).astype("float32")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    tf_keras.utils.set_random_seed(1)
    inputs = tf_keras.Input((6,))
    h = tf_keras.layers.BatchNormalization()(tf_keras.layers.Dense(8, activation="relu")(inputs))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(1)(h))
    model.compile(optimizer=tf_keras.optimizers.Adam(0.05), loss="mse")
    model.save(tmp_path / "legacy.h5")
    report = explained(str(tmp_path / "legacy.h5"), "--sample", str(tmp_path / "data.npz"), "--batch-size", "8", "--epochs", "2")
    assert report["runtime"].startswith("tf_keras 2.")
    history, evaluated = keras_fit(tf_keras, tmp_path / "legacy.h5", x, y, batch_size=8, epochs=2)
    assert report["history"] == pytest.approx(history, rel=1e-5)
    assert report["evaluate_loss"] == pytest.approx(evaluated, rel=1e-5)


@pytest.mark.tf
def test_a_model_without_dropout_or_batchnorm_has_only_the_weight_update(tmp_path):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(8, activation="tanh")(inputs))).save(tmp_path / "plain.keras")
    report = explained(str(tmp_path / "plain.keras"))
    assert report["loss"] == "mse"  # saved without compile(): the default loss
    assert report["optimizer"] == "Adam(0.001)"
    assert report["contributions"]["dropout"] == 0.0
    assert report["contributions"]["batchnorm"] == 0.0
    assert report["contributions"]["weight_update"] != 0.0  # one Adam(1e-3) step on synthetic labels
    assert report["fit"]["rows"] == 8 and report["batch"] == "8x4 synthetic batch"
    assert report["batchnorm_layers"] == {"layers": 0, "trainable": 0}
    assert "The model has no BatchNormalization layer." in report["conclusion"]


@pytest.mark.tf
def test_a_layer_holding_batchnorm_and_dropout_in_its_own_call_is_refused_in_one_line(tmp_path):
    keras = pytest.importorskip("keras")
    import importlib
    import sys

    (tmp_path / "blocks.py").write_text(SUBCLASSED_BLOCK)
    sys.path.insert(0, str(tmp_path))
    try:
        blocks = importlib.import_module("blocks")
    finally:
        sys.path.remove(str(tmp_path))
    inputs = keras.Input((6,))
    keras.Model(inputs, keras.layers.Dense(1)(blocks.Block(name="block")(inputs))).save(tmp_path / "block.keras")
    result = explain(str(tmp_path / "block.keras"), "--unsafe-load-custom-code")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"bnlint: error: {tmp_path / 'block.keras'}: cannot tell the layers' effects apart: layer 'block' (Block) "
        "holds batchnorm, dropout inside its own call(), so they cannot be switched separately"
    )


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    fine = tmp_path / "fine.keras"  # passes the screen: the option checks come first
    with zipfile.ZipFile(fine, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"name": "m", "layers": []}}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    lambda_model = tmp_path / "lambda.keras"
    with zipfile.ZipFile(lambda_model, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"name": "m", "layers": [
            {"module": "keras.layers", "class_name": "Lambda", "name": "f", "config": {
                "name": "f", "function": {"class_name": "__lambda__", "config": {"code": "AA=="}}}}]}}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    for args, message in [
        ([str(broken)], f"bnlint: error: {broken}: "),
        ([str(lambda_model)], f"bnlint: error: {lambda_model}: not loaded: layer 'f' holds Python bytecode"),
        ([str(tmp_path / "missing.keras")], "does not exist"),
        ([str(broken), "--loss", "made_up"], "Invalid value for '--loss'"),
        ([str(fine), "--batch-size", "0"], "Invalid value for '--batch-size'"),
        ([str(fine), "--epochs", "1000"], "Invalid value for '--epochs'"),
        ([str(fine), "--sample", str(corrupt)], f"bnlint: error: {corrupt}: the sample is not a readable .npz archive"),
    ]:
        result = explain(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output.strip().splitlines()[-1]  # click's usage lines come first
        assert "Traceback" not in result.output


def test_without_tensorflow_explain_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: False)
    (tmp_path / "m.keras").write_bytes(b"")
    result = explain(str(tmp_path / "m.keras"))
    assert result.exit_code == 2
    assert result.output.strip() == "bnlint: error: bnlint explain needs TensorFlow: pip install tensorflow"


MEASURED = {
    "loss": "mse", "batch": "data.npz (16 rows, 16x6)", "optimizer": "the compiled SGD", "kinds": ["batchnorm", "dropout"],
    "losses": {"L0": 0.5, "La": 0.5, "L1": 0.25, "L2": 1.0, "L3": 1.5}, "history": [0.9, 0.5],
    "fit": {"rows": 16, "batch_size": 8, "epochs": 2, "steps_per_epoch": 2, "shuffle": False},
    "draws": {"count": 5, "fit_loss": [0.4, 0.45, 0.5, 0.55, 0.6], "min": 0.4, "max": 0.6, "std": 0.0707},
}


def test_the_report_is_the_telescoping_sum_of_the_losses_and_says_what_was_reproduced():
    report = gap_report("seed.keras", "keras 3.15.1 / tensorflow 2.21.0", MEASURED)
    assert {k: report[k] for k in CONTRACT_KEYS} == {
        "model": "seed.keras", "loss": "mse", "runtime": "keras 3.15.1 / tensorflow 2.21.0",
        "fit_loss": 0.5, "evaluate_loss": 1.5, "gap": -1.0,
        "contributions": {"dropout": 0.25, "batchnorm": -0.75, "weight_update": -0.5, "augmentation": 0.0},
    }
    assert report["draws"]["fit_loss"] == [0.4, 0.45, 0.5, 0.55, 0.6] and report["history"] == [0.9, 0.5]
    text = render_text(report)
    assert text.splitlines()[0] == (
        "seed.keras: loss mse on data.npz (16 rows, 16x6), 2 epochs of 2 steps (batch size 8, in order, as "
        "fit(shuffle=False)) with the compiled SGD (keras 3.15.1 / tensorflow 2.21.0)"
    )
    assert "  weight update   L2 - L3          -0.5" in text
    assert "  dropout         L0 - L1         +0.25" in text  # no augmentation layer: no La row
    assert "fit() loss per epoch: 0.9, 0.5 (the table is the last epoch)" in text
    assert "Over 5 seeded draws fit()'s loss ranged from 0.4 to 0.6 (std 0.0707)." in text


# --- the conclusion in words, and training scripts ----------------------------------------------


def _report(losses: dict, batchnorm: dict | None = None, draws: dict | None = None) -> dict:
    measured = MEASURED | {"losses": losses, "draws": draws or {"count": 1, "fit_loss": [losses["L0"]], "min": losses["L0"],
                                                                  "max": losses["L0"], "std": 0.0}}
    if batchnorm is not None:
        measured["batchnorm"] = batchnorm
    return gap_report("model.keras", "keras 3.15.1 / tensorflow 2.21.0", measured)


def test_the_conclusion_names_the_dominant_term_says_whether_anything_is_wrong_and_what_to_do():
    weights = _report({"L0": 1.0, "La": 1.0, "L1": 1.0, "L2": 0.95, "L3": 0.5}, {"layers": 3, "trainable": 3})
    assert weights["conclusion"].startswith(
        "fit() reports a higher loss than evaluate() (1 against 0.5); 90% of the difference is the weights changing "
        "during the epoch. That is training at work")
    assert "Nothing is wrong" in weights["conclusion"]
    batchnorm = _report({"L0": 0.2, "La": 0.2, "L1": 0.2, "L2": 1.4, "L3": 1.5}, {"layers": 3, "trainable": 3})
    assert "92% of the difference is BatchNormalization normalising each batch" in batchnorm["conclusion"]
    assert "keep its BatchNormalization layers frozen" in batchnorm["conclusion"]
    assert "`bnlint check` on the training script" in batchnorm["conclusion"]
    same = _report({"L0": 1.0, "La": 1.0, "L1": 1.0, "L2": 1.0, "L3": 0.999}, {"layers": 0, "trainable": 0})
    assert same["conclusion"] == ("fit() and evaluate() agree to within 1% of the loss (1 and 0.999): nothing here needs "
                                  "explaining. The model has no BatchNormalization layer.")
    noisy = _report({"L0": 1.0, "La": 1.0, "L1": 0.9, "L2": 0.9, "L3": 0.8}, {"layers": 0, "trainable": 0},
                    {"count": 5, "fit_loss": [0.6, 0.8, 1.0, 1.2, 1.4], "min": 0.6, "max": 1.4, "std": 0.28})
    assert noisy["conclusion"].endswith("the gap is within the noise of one run.")
    text = render_text(weights)
    assert "  fit() reports a higher loss than evaluate() (1 against 0.5); 90% of the difference is the" in text


def test_batch_statistics_are_not_claimed_when_every_batchnorm_layer_is_frozen_or_there_is_none():
    frozen = _report({"L0": 1.0, "La": 1.0, "L1": 1.0, "L2": 1.0, "L3": 0.5}, {"layers": 4, "trainable": 0})
    text = render_text(frozen)
    assert "  L1             1   random layers off; BatchNormalization frozen, on moving statistics" in text
    assert "on batch statistics" not in text
    assert "Every BatchNormalization layer is frozen" in frozen["conclusion"]
    assert "random layers off (no BatchNormalization layer)" in render_text(_report(MEASURED["losses"], {"layers": 0, "trainable": 0}))
    assert "2 of 4 BatchNormalization layers on batch statistics" in render_text(_report(MEASURED["losses"], {"layers": 4, "trainable": 2}))
    assert frozen["batchnorm_layers"] == {"layers": 4, "trainable": 0}


KERAS3_FINE_TUNING = """\
from keras.applications import MobileNetV2
from keras.layers import Dense, GlobalAveragePooling2D, Input
from keras.models import Model

base = MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights="imagenet")
base.trainable = False
inputs = Input((96, 96, 3))
model = Model(inputs, Dense(2)(GlobalAveragePooling2D()(base(inputs, training=False))))
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""


def test_a_script_without_a_base_to_rebuild_says_which_command_to_run(repository, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    (repository / "train.py").write_text("import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\n")
    result = explain("train.py")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "bnlint: error: train.py: a training script is explained on a replica of the base a finding is about, and here "
        "no BN001, BN002 or BN004 finding names a base bnlint can rebuild without running it; to explain the model it "
        "trains, save it after compile() (model.save(\"model.keras\")) and run `bnlint explain model.keras --sample data.npz`")
    (repository / "tune.py").write_text(KERAS3_FINE_TUNING)
    np.save(repository / "x.npy", np.zeros((2, 96, 96, 3), dtype="float32"))
    with_sample = explain("tune.py", "--sample", "x.npy")
    assert with_sample.exit_code == 2 and "--sample is for a saved model" in with_sample.output


@pytest.mark.tf
def test_a_training_script_is_explained_on_the_replica_of_its_base_as_the_script_trains_it(repository):
    (repository / "tune.py").write_text(KERAS3_FINE_TUNING)
    report = explained("tune.py")
    replica = report["replica"]
    assert (replica["base"], replica["architecture"], replica["unfrozen"]) == ("base", "keras.applications.MobileNetV2", True)
    assert replica["finding"] == {"rule": "BN004", "line": 11, "cell": None, "verdict": "exposed"}
    assert replica["measured"]["kind"] == "replica" and replica["measured"]["weights"] is None
    # Unfrozen, as the fine-tuning phase trains it: its BN layers run on batch statistics.
    assert report["batchnorm_layers"]["trainable"] == report["batchnorm_layers"]["layers"] > 0
    assert abs(report["contributions"]["batchnorm"]) > 1e-3
    text = explain("tune.py").output
    assert "Measured on a replica of `base` (keras.applications.MobileNetV2 with weights=None" in text.replace("\n  ", " ")


@pytest.mark.tf
def test_the_worker_counts_frozen_batchnorm_layers_as_fit_runs_them():
    keras = pytest.importorskip("keras")
    from bnlint.confirm.gap import batchnorm_state

    inputs = keras.Input((4,))
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.BatchNormalization()])
    model = keras.Model(inputs, keras.layers.BatchNormalization()(inner(inputs)))
    assert batchnorm_state(model) == {"layers": 2, "trainable": 2}
    inner.trainable = False  # freezing the model freezes the BN layer inside it
    assert batchnorm_state(model) == {"layers": 2, "trainable": 1}
