"""`bnlint explain`: the fit()/evaluate() loss gap as a telescoping sum measured on one batch."""

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


def explain(*args: str):
    return CliRunner().invoke(cli, ["explain", *args])


@pytest.fixture(scope="module")
def seed_model(tmp_path_factory):
    """Dropout + BatchNormalization + a large learning rate: each contribution has a cause."""
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("explain")
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(16, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.5)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.save(folder / "seed.keras")
    rng = np.random.default_rng(3)
    # Shifted, scaled inputs: batch statistics are far from the fresh moving statistics.
    np.savez(folder / "data.npz", x=(rng.normal(size=(16, 6)) * 3 + 1).astype("float32"),
             y=rng.normal(size=(16, 1)).astype("float32"))
    return folder / "seed.keras", folder / "data.npz"


@pytest.mark.tf
def test_each_contribution_is_measured_and_they_add_up_to_the_gap(seed_model):
    model, sample = seed_model
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    result = explain(str(model), "--sample", str(sample), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == CONTRACT_KEYS
    assert (report["model"], report["loss"]) == (str(model), "mse")
    assert report["runtime"].startswith("keras 3.")
    contributions = report["contributions"]
    assert set(contributions) == {"dropout", "batchnorm", "weight_update"}
    assert all(abs(value) > 1e-3 for value in contributions.values()), contributions
    assert report["gap"] == pytest.approx(sum(contributions.values()), abs=1e-9)
    assert report["gap"] == pytest.approx(report["fit_loss"] - report["evaluate_loss"], abs=1e-9)
    assert hashlib.sha256(model.read_bytes()).hexdigest() == before

    # The same numbers again (seeded dropout draws), as a table.
    text = explain(str(model), "--sample", str(sample))
    assert text.exit_code == 0, text.output
    assert f"{report['gap']:>+12.6g}" in text.output
    assert f"{contributions['batchnorm']:>+12.6g}" in text.output
    assert "after one step of the compiled SGD" in text.output


@pytest.mark.tf
def test_a_model_without_dropout_or_batchnorm_has_only_the_weight_update(tmp_path):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(8, activation="tanh")(inputs))).save(tmp_path / "plain.keras")
    result = explain(str(tmp_path / "plain.keras"), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["loss"] == "mse"  # saved without compile(): the default loss
    assert report["contributions"]["dropout"] == 0.0
    assert report["contributions"]["batchnorm"] == 0.0
    assert report["contributions"]["weight_update"] != 0.0  # one Adam(1e-3) step on synthetic labels


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    lambda_model = tmp_path / "lambda.keras"
    with zipfile.ZipFile(lambda_model, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"name": "m", "layers": [
            {"module": "keras.layers", "class_name": "Lambda", "name": "f", "config": {
                "name": "f", "function": {"class_name": "__lambda__", "config": {"code": "AA=="}}}}]}}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    for args, message in [
        ([str(broken)], f"bnlint: error: {broken}: "),
        ([str(lambda_model)], f"bnlint: error: {lambda_model}: not loaded: layer 'f' holds Python bytecode"),
        ([str(tmp_path / "missing.keras")], "does not exist"),
        ([str(broken), "--loss", "made_up"], "Invalid value for '--loss'"),
    ]:
        result = explain(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output


def test_without_tensorflow_explain_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: False)
    (tmp_path / "m.keras").write_bytes(b"")
    result = explain(str(tmp_path / "m.keras"))
    assert result.exit_code == 2
    assert result.output.strip() == "bnlint: error: bnlint explain needs TensorFlow: pip install 'bnlint[tf]'"


def test_the_report_is_the_telescoping_sum_of_the_four_losses():
    report = gap_report("seed.keras", "mse", "keras 3.15.1 / tensorflow 2.21.0", [0.5, 0.25, 1.0, 1.5])
    assert report == {
        "model": "seed.keras", "loss": "mse", "runtime": "keras 3.15.1 / tensorflow 2.21.0",
        "fit_loss": 0.5, "evaluate_loss": 1.5, "gap": -1.0,
        "contributions": {"dropout": 0.25, "batchnorm": -0.75, "weight_update": -0.5},
    }
    text = render_text(report, [0.5, 0.25, 1.0, 1.5], {"batch": "8x6 synthetic batch", "optimizer": "Adam(0.001)"})
    assert text.splitlines()[0] == "seed.keras: loss mse on a 8x6 synthetic batch (keras 3.15.1 / tensorflow 2.21.0)"
    assert "  weight update   L2 - L3          -0.5" in text
