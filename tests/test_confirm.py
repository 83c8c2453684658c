"""The dynamic confirmer: real models in a worker subprocess, numbers for every verdict.

Models are built here with Keras, saved to tmp_path and confirmed through the public API
(`confirm_findings`) from findings the real frontend and rules produce. The saved-model cases
share one `confirm_findings` run (two workers at a time) to keep the file fast.
"""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import bnlint.confirm.runner as confirm
from bnlint import api
from bnlint.confirm.runner import ConfirmOptions, WorkerFailure, _sequence, confirm_findings, run_worker
from bnlint.confirm.sample import (
    InputSpec,
    SampleError,
    from_sample,
    load_sample,
    synthetic,
)
from bnlint.engine import run_rules
from bnlint.findings import Finding, Related, Source, Subject
from bnlint.ir import Runtime
from bnlint.rules import load_rules

KERAS3 = Runtime("keras3", "metadata.json keras_version 3.15.1")

PINNED_LAYERS = '''\
import keras


@keras.saving.register_keras_serializable(package="pinned_layers")
class BatchNormalization(keras.layers.BatchNormalization):
    """A user's BatchNormalization that always normalises with its moving statistics."""

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)
'''

MARKER_LAMBDA = '''\
double = lambda t: (open({marker!r}, "w").close(), t * 2)[1]
'''


def scan_model(path: Path) -> list[Finding]:
    """What `bnlint check` finds in a saved model, with the context the pipeline adds."""
    from bnlint.frontends.models.reader import analyze_file

    findings = run_rules(analyze_file(path, path.name), load_rules())
    for finding in findings:
        finding.source = Source(str(path.resolve()), path.name)
    return findings


def by_rule(findings: list[Finding], rule: str, layer_path: str | None = None) -> Finding:
    (found,) = [f for f in findings if f.rule == rule and layer_path in (None, f.layer_path)]
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_finding(rule: str, file: Path, input: str = "script", subject: Subject | None = None, runtime: Runtime = KERAS3,
                 layer_path: str | None = None) -> Finding:
    return Finding(rule=rule, name="test", severity="error", message="", path=file.name, runtime=runtime,
                   layer_path=layer_path, input=input, subject=subject, source=Source(str(file), file.name))


def backbone(keras, batchnorm=None, name: str = "backbone"):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = (batchnorm or keras.layers.BatchNormalization)(name="bn")(x)
    return keras.Model(inputs, keras.layers.ReLU()(x), name=name)


# --- saved models, confirmed together -------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Keras 3 fixture models, each with one known finding."""
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("models")
    (folder / "pinned_layers.py").write_text(PINNED_LAYERS)
    sys.path.insert(0, str(folder))
    try:
        import pinned_layers
    finally:
        sys.path.remove(str(folder))
    paths = {}

    base = backbone(keras)
    base.trainable = False
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Dropout(0.3)(base(inputs))  # dropout must not be mistaken for BN divergence
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x))).save(paths.setdefault("functional", folder / "functional.keras"))

    base = backbone(keras)
    base.trainable = False
    keras.Sequential([keras.Input((8, 8, 3)), base, keras.layers.Flatten(), keras.layers.Dense(2)]).save(
        paths.setdefault("sequential", folder / "sequential.keras"))

    base = backbone(keras)
    base.trainable = False
    inner = keras.Input((8, 8, 3))
    encoder = keras.Model(inner, keras.layers.Conv2D(2, 1)(base(inner)), name="encoder")  # trainable itself
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Flatten()(encoder(inputs))).save(paths.setdefault("nested", folder / "nested.keras"))

    base = backbone(keras, batchnorm=pinned_layers.BatchNormalization)
    base.trainable = False
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Flatten()(base(inputs))).save(paths.setdefault("pinned", folder / "pinned.keras"))

    base = backbone(keras)  # trainable, forced into training mode: BN005
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Flatten()(base(inputs, training=True))).save(paths.setdefault("training_true", folder / "training_true.keras"))
    return paths


@pytest.fixture(scope="module")
def confirmed(saved):
    """One confirm_findings run over every saved fixture plus one script reproduction."""
    findings = {name: scan_model(path) for name, path in saved.items() if name != "training_true"}
    # Built by hand: the shape of a call record for `base(inputs, training=True)` on a trainable base.
    findings["training_true"] = [make_finding("BN005", saved["training_true"], "model", layer_path="backbone")]
    script = saved["functional"].parent / "train.py"
    script.write_text("# never executed\n")
    findings["script"] = [make_finding("BN001", script, subject=Subject(
        "base", "MobileNetV3Small", architecture="keras.applications.MobileNetV3Small",
        arguments={"include_top": False, "weights": "imagenet", "input_shape": [224, 224, 3]},
        composition="call", training="absent",
    ))]
    hashes = {name: digest(path) for name, path in saved.items()}
    confirm_findings([f for group in findings.values() for f in group], ConfirmOptions(jobs=2, allow_unsafe=True))
    assert hashes == {name: digest(path) for name, path in saved.items()}, "inputs are never modified"
    return findings


@pytest.mark.tf
def test_frozen_base_without_training_false_is_latent_on_keras3_and_only_freezing_bn_fixes_it(confirmed):
    confirmation = by_rule(confirmed["functional"], "BN001").confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "latent")
    assert confirmation.runtime.startswith("keras 3.") and "/ tensorflow 2." in confirmation.runtime
    metrics = confirmation.metrics
    # As loaded: frozen BN layers are in inference mode, even under training=True, and the dropout
    # after the base draws the same mask in both passes.
    assert metrics["rel_diff"] == 0.0 and metrics["moving_mean_max_abs_delta"] == 0.0
    # Unfrozen: batch statistics, and the moving statistics move.
    assert metrics["latent_rel_diff"] > 1e-3
    assert metrics["latent_moving_mean_max_abs_delta"] > 1e-6
    assert metrics["latent_moving_variance_max_rel_delta"] > 1e-6
    # Keras 3: fit()'s training=True overrides a training=False stored at the call site.
    assert confirmation.remedies == {"training-false": False, "freeze-batchnorm": True}
    assert metrics["remedy_training_false_rel_diff"] == pytest.approx(metrics["latent_rel_diff"])
    assert metrics["remedy_freeze_batchnorm_rel_diff"] == 0.0
    assert confirmation.reason.startswith("loaded functional.keras with keras (safe_mode=True) and ran 'backbone' on a 8x8x8x3 synthetic batch")


@pytest.mark.tf
def test_a_sequential_composition_is_confirmed_and_its_functional_twin_does_not_help_on_keras3(confirmed):
    confirmation = by_rule(confirmed["sequential"], "BN002").confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "latent")
    assert confirmation.remedies == {"training-false": False, "freeze-batchnorm": True}


@pytest.mark.tf
def test_a_nested_backbone_is_found_by_its_layer_path(confirmed):
    finding = by_rule(confirmed["nested"], "BN001", layer_path="encoder/backbone")
    assert (finding.confirmation.status, finding.confirmation.mode) == ("confirmed", "latent")
    assert "ran 'encoder/backbone'" in finding.confirmation.reason


@pytest.mark.tf
def test_a_batchnorm_subclass_that_pins_inference_mode_is_refuted(confirmed):
    confirmation = by_rule(confirmed["pinned"], "BN001").confirmation
    assert confirmation.status == "refuted" and confirmation.mode is None
    assert confirmation.metrics["latent_rel_diff"] == 0.0
    assert confirmation.metrics["latent_moving_mean_max_abs_delta"] == 0.0
    assert confirmation.remedies == {}  # nothing diverged, so there is nothing to remedy


def test_a_custom_class_is_not_loaded_without_allow_unsafe(saved, monkeypatch):
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    finding = by_rule(scan_model(saved["pinned"]), "BN001")
    confirm_findings([finding], ConfirmOptions())
    assert finding.confirmation.status == "unconfirmed"
    assert finding.confirmation.reason == (
        "not loaded: layer 'backbone/bn' uses custom code (BatchNormalization, module pinned_layers): "
        "loading it runs that code; pass --unsafe-load-custom-code if you trust it"
    )


@pytest.mark.tf
def test_explicit_training_true_is_active_in_direct_calls_on_keras3(confirmed):
    confirmation = confirmed["training_true"][0].confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "active")
    # predict()/evaluate() pass training=False, which overrides the stored True in Keras 3 ...
    assert confirmation.metrics["predict_rel_diff"] == 0.0
    # ... but a direct call (and an exported serving function) uses batch statistics.
    assert confirmation.metrics["call_rel_diff"] > 1e-3
    assert confirmation.remedies == {"training-false": True}


@pytest.mark.tf
def test_a_script_finding_is_reproduced_from_keras_applications_without_running_the_script(confirmed):
    confirmation = confirmed["script"][0].confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "latent")
    # The reason and the JSON both say that a replica was measured, and which one.
    assert confirmation.reason.startswith(
        "measured on a replica, not on your model: keras.applications.MobileNetV3Small with weights=None at 32x32x3 "
        "(the script uses 224x224x3), frozen, called without training=False, its BN moving statistics set from a "
        "32x32x32x3 synthetic batch, run on a 8x32x32x3 synthetic batch (the sizes of the numbers are the replica's): "
    )
    assert confirmation.measured == {
        "kind": "replica", "architecture": "keras.applications.MobileNetV3Small",
        "arguments": {"include_top": False, "weights": "imagenet", "input_shape": [224, 224, 3]},
        "weights": None, "input_shape": [32, 32, 3], "script_input_shape": [224, 224, 3],
        "composition": "call", "training": "absent",
        "moving_statistics": "set from a 32x32x32x3 synthetic batch", "batch": "8x32x32x3 synthetic batch",
    }
    assert confirmation.remedies == {"training-false": False, "freeze-batchnorm": True}
    # Measured at the BN layers: batch means some moving standard deviations away, whatever the output scale.
    assert confirmation.metrics["latent_batch_mean_max_shift"] > 0.1


@pytest.mark.tf
def test_a_saved_model_confirmation_says_which_file_and_layer_ran(confirmed, saved):
    confirmation = by_rule(confirmed["nested"], "BN001", layer_path="encoder/backbone").confirmation
    assert confirmation.measured == {"kind": "model file", "path": "nested.keras",
                                     "layer_path": "encoder/backbone", "batch": "8x8x8x3 synthetic batch"}


# --- what is never loaded or run -----------------------------------------------------------

def import_marker_lambda(folder: Path):
    """A module whose lambda creates a marker file whenever it runs."""
    marker = folder / "lambda-ran"
    (folder / "marker_lambda.py").write_text(MARKER_LAMBDA.format(marker=str(marker)))
    sys.path.insert(0, str(folder))
    try:
        sys.modules.pop("marker_lambda", None)
        import marker_lambda
    finally:
        sys.path.remove(str(folder))
    return marker_lambda, marker


def bypassing_the_screen(path: Path, runtime: str) -> dict:
    """A worker job as if the safety screen had let the file through."""
    return {"task": "confirm", "source": "model", "path": str(path), "runtime": runtime,
            "targets": [{"id": "t", "layer_path": "backbone", "check": "frozen"}]}


@pytest.mark.tf
def test_lambda_bytecode_is_refused_without_its_code_ever_running(tmp_path):
    keras = pytest.importorskip("keras")
    marker_lambda, marker = import_marker_lambda(tmp_path)
    base = backbone(keras)
    base.trainable = False
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Lambda(marker_lambda.double)(base(inputs))).save(tmp_path / "lambda.keras")
    assert marker.exists(), "building the model ran the lambda: the marker works"
    marker.unlink()

    finding = by_rule(scan_model(tmp_path / "lambda.keras"), "BN001")
    confirm_findings([finding], ConfirmOptions(allow_unsafe=True))
    assert finding.confirmation.status == "unconfirmed"
    assert finding.confirmation.reason == "not loaded: layer 'lambda' holds Python bytecode (a lambda), which bnlint never deserialises"
    # Even past the screen, the worker loads with safe_mode=True and Keras refuses.
    with pytest.raises(WorkerFailure, match="lambda"):
        run_worker(bypassing_the_screen(tmp_path / "lambda.keras", "keras"), timeout=60, memory_limit_mb=None)
    assert not marker.exists()


# --- tf.keras (Keras 2 files) --------------------------------------------------------------

@pytest.mark.tf
def test_a_keras2_file_runs_under_tf_keras_where_training_false_does_protect(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    base = backbone(tf_keras)
    base.trainable = False
    inputs = tf_keras.Input((8, 8, 3))
    tf_keras.Model(inputs, tf_keras.layers.Flatten()(base(inputs))).save(tmp_path / "legacy.h5")
    finding = by_rule(scan_model(tmp_path / "legacy.h5"), "BN001")
    confirm_findings([finding], ConfirmOptions())
    confirmation = finding.confirmation
    assert confirmation.runtime.startswith("tf_keras 2.")
    assert (confirmation.status, confirmation.mode) == ("confirmed", "latent")
    # The opposite of Keras 3: the stored training=False wins over fit()'s training=True.
    assert confirmation.remedies == {"training-false": True, "freeze-batchnorm": True}


@pytest.mark.tf
def test_tf_keras_h5_bytecode_stays_unrun_even_past_the_screen(tmp_path):
    """tf_keras ignores safe_mode for .h5: the worker's safe-mode scope is the second line of defence."""
    tf_keras = pytest.importorskip("tf_keras")
    marker_lambda, marker = import_marker_lambda(tmp_path)
    base = backbone(tf_keras)
    base.trainable = False
    inputs = tf_keras.Input((8, 8, 3))
    tf_keras.Model(inputs, tf_keras.layers.Lambda(marker_lambda.double)(base(inputs))).save(tmp_path / "lambda.h5")
    marker.unlink()
    finding = by_rule(scan_model(tmp_path / "lambda.h5"), "BN001")
    confirm_findings([finding], ConfirmOptions(allow_unsafe=True))
    assert "holds Python bytecode" in finding.confirmation.reason
    with pytest.raises(WorkerFailure, match="lambda"):
        run_worker(bypassing_the_screen(tmp_path / "lambda.h5", "tf_keras"), timeout=60, memory_limit_mb=None)
    assert not marker.exists()


# --- --exec ------------------------------------------------------------------------------

@pytest.mark.tf
def test_exec_runs_the_script_up_to_fit_and_never_trains(tmp_path):
    trained = tmp_path / "trained"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""\
        import keras
        import numpy as np

        inputs = keras.Input((8, 8, 3))
        x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(inputs))
        base = keras.Model(inputs, x, name="base")
        base.trainable = False
        image = keras.Input((8, 8, 3))
        model = keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(base(image))))
        model.compile(optimizer="adam", loss="mse")
        try:
            model.fit(np.ones((16, 8, 8, 3)) * np.arange(16).reshape(16, 1, 1, 1), np.zeros((16, 1)), batch_size=4)
        except Exception:
            pass  # the script's own handlers cannot swallow bnlint's stop
        open({str(trained)!r}, "w").close()
        """))
    finding = make_finding("BN001", script, subject=Subject("base", "Functional", composition="call", training="absent"))
    confirm_findings([finding], ConfirmOptions(exec_scripts=True))
    confirmation = finding.confirmation
    assert (confirmation.status, confirmation.mode) == ("confirmed", "latent"), confirmation.reason
    assert confirmation.reason.startswith("ran train.py up to its first fit() (--exec) and checked `base` on fit()'s first batch")
    assert not trained.exists()


# --- a worker that fails ------------------------------------------------------------------

@pytest.fixture
def tiny_model(tmp_path, monkeypatch) -> Finding:
    """A .keras archive written by hand (no TensorFlow needed) and its finding."""
    path = tmp_path / "tiny.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Functional", "config": {"name": "m", "layers": []}}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    return make_finding("BN001", path, "model", layer_path="backbone")


@pytest.mark.parametrize(("code", "reason"), [
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "the worker was killed by SIGKILL (out of memory? the limit is 8192 MB)"),
    ("print('TensorFlow says hello'); print('{not json')", "the worker's reply was not valid JSON"),
    ("import sys; sys.stderr.write('boom\\n'); sys.exit(3)", "the worker exited with status 3 without a result: boom"),
    ("print('[1, 2]')", "the worker's reply was not a result"),
    ("import json; print(json.dumps({'ok': False, 'error': 'cannot load: truncated file'}))", "cannot load: truncated file"),
])
def test_a_broken_worker_leaves_its_findings_unconfirmed(tiny_model, monkeypatch, code, reason):
    monkeypatch.setattr(confirm, "worker_command", lambda limit: [sys.executable, "-c", code])
    confirm_findings([tiny_model], ConfirmOptions())
    assert (tiny_model.confirmation.status, tiny_model.confirmation.reason) == ("unconfirmed", reason)


def test_a_hanging_worker_is_killed_at_the_timeout(tiny_model, monkeypatch):
    monkeypatch.setattr(confirm, "worker_command", lambda limit: [sys.executable, "-c", "import time; time.sleep(60)"])
    confirm_findings([tiny_model], ConfirmOptions(timeout=0.5))
    assert (tiny_model.confirmation.status, tiny_model.confirmation.reason) == ("unconfirmed", "the check timed out after 0.5 s")


@pytest.mark.tf
def test_a_real_worker_past_its_timeout_or_memory_limit_is_unconfirmed(saved):
    timed_out = by_rule(scan_model(saved["functional"]), "BN001")
    starved = by_rule(scan_model(saved["functional"]), "BN001")
    confirm_findings([timed_out], ConfirmOptions(timeout=1))
    confirm_findings([starved], ConfirmOptions(memory_limit_mb=64))
    assert (timed_out.confirmation.status, timed_out.confirmation.reason) == ("unconfirmed", "the check timed out after 1 s")
    assert starved.confirmation.status == "unconfirmed"
    assert "without a result" in starved.confirmation.reason or "killed by" in starved.confirmation.reason


# --- what is not run ----------------------------------------------------------------------

def test_findings_without_a_dynamic_check_are_not_run(tmp_path):
    custom_rule = make_finding("XY001", tmp_path / "train.py")
    confirm_findings([custom_rule], ConfirmOptions())
    assert custom_rule.confirmation.status == "not-run" and "XY001" in custom_rule.confirmation.reason


def test_the_recompile_check_replays_the_scripts_sequence_on_the_architecture_even_with_exec(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "tf_keras_available", lambda: True)
    jobs = []
    monkeypatch.setattr(confirm, "run_worker", lambda job, *a: jobs.append(job) or {"ok": True, "runtime": "r", "results": {}})
    script = tmp_path / "train.py"
    base = Subject("base", "ResNet50", architecture="keras.applications.ResNet50", unfrozen="base", called_with_training_false=True)
    compiled, trained = Related("compile", "compile()", 6, 1), Related("training", "fit()", 7, 1)

    def stale_fit(target: str, *related: Related) -> Finding:
        finding = make_finding("BN003", script, subject=base, runtime=Runtime(target, "given"))
        return replace(finding, line=9, related=related)

    findings = [stale_fit("keras3", compiled), stale_fit("keras2", compiled), stale_fit("keras2", compiled, trained)]
    confirm_findings(findings, ConfirmOptions(exec_scripts=True))
    assert {job["source"] for job in jobs} == {"reproduce"}  # --exec stops at the first fit(): too early for BN003
    targets = sorted((job["runtime"], target["sequence"]) for job in jobs for target in job["targets"])
    # Keras 3 ignores a change only after a fit() (the rule's condition there); tf.keras as the script orders it.
    assert targets == [("keras", "fit-change-fit"), ("tf_keras", "change-fit"), ("tf_keras", "fit-change-fit")]
    assert {target["change"] for job in jobs for target in job["targets"]} == {"unfreeze"}
    assert {target["training"] for job in jobs for target in job["targets"]} == {"false"}


def test_the_static_bn003_finding_hands_the_recompile_check_what_it_replays():
    # The replay needs the changed base (not the fit's model), whether the change is an unfreeze,
    # and the fits between the compile() and the change.
    code = textwrap.dedent("""\
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV3Small(weights=None, include_top=False, pooling="avg")
        base.trainable = False
        inputs = tf.keras.Input((96, 96, 3))
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(base(inputs, training=False)))
        model.compile(optimizer="adam", loss="mse")
        model.fit(images, labels)
        base.trainable = True
        model.fit(images, labels)
        """)
    [finding] = [f for f in api.lint_source(code, "script", Runtime("keras2", "given")) if f.rule == "BN003"]
    assert (finding.subject.name, finding.subject.architecture) == ("base", "keras.applications.MobileNetV3Small")
    assert finding.subject.unfrozen == "base" and finding.subject.called_with_training_false
    assert [(r.role, r.line) for r in finding.related] == [("freeze", 8), ("compile", 6), ("training", 7)]
    assert _sequence(finding) == "fit-change-fit"


def test_what_cannot_be_rebuilt_or_run_is_unconfirmed_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: True)
    monkeypatch.setattr(confirm, "tf_keras_available", lambda: False)
    monkeypatch.setattr(confirm, "run_worker", lambda *a: pytest.fail("no worker may start"))
    script = tmp_path / "train.py"
    opaque = make_finding("BN001", script, subject=Subject("encoder", "Encoder"))
    legacy = make_finding("BN001", script, runtime=Runtime("legacy", "import keras 2.2"))
    keras2 = make_finding("BN001", script, subject=Subject("base", "ResNet50", architecture="keras.applications.ResNet50"),
                          runtime=Runtime("keras2", "import tf_keras"))
    confirm_findings([opaque, legacy, keras2], ConfirmOptions())
    assert opaque.confirmation.reason == (
        "`encoder` (Encoder) is not a known architecture bnlint can rebuild without running the script (--exec runs it)")
    assert "legacy Keras" in legacy.confirmation.reason
    assert "tf_keras is not installed" in keras2.confirmation.reason
    assert {f.confirmation.status for f in (opaque, legacy, keras2)} == {"unconfirmed"}

    notebook = make_finding("BN001", tmp_path / "nb.ipynb", "notebook")
    confirm_findings([notebook], ConfirmOptions(exec_scripts=True))
    assert notebook.confirmation.reason == "--exec runs .py scripts only"


def test_without_tensorflow_every_checkable_finding_is_unconfirmed(tmp_path, monkeypatch):
    monkeypatch.setattr(confirm, "tensorflow_available", lambda: False)
    finding = make_finding("BN002", tmp_path / "m.keras", "model", layer_path="base")
    confirm_findings([finding], ConfirmOptions())
    assert (finding.confirmation.status, finding.confirmation.reason) == (
        "unconfirmed", "TensorFlow is not installed (pip install tensorflow)")


# --- sample batches ---------------------------------------------------------------------

IMAGE = InputSpec("image", (None, 4, 4, 3), "float32")


def test_a_synthetic_batch_is_seeded_and_fills_open_dimensions():
    batch = synthetic([InputSpec("tokens", (None, None), "int32"), IMAGE])
    tokens, image = batch.inputs
    assert tokens.shape == (8, 32) and tokens.dtype == np.int32 and set(np.unique(tokens)) <= {0, 1}
    assert image.shape == (8, 4, 4, 3) and image.dtype == np.float32
    assert np.array_equal(image, synthetic([InputSpec("tokens", (None, None), "int32"), IMAGE]).inputs[1])
    assert batch.description == "8x32 + 8x4x4x3 synthetic batch"


def test_a_sample_is_matched_by_input_name_or_x(tmp_path):
    rows = np.zeros((40, 4, 4, 3), np.float32)
    np.savez(tmp_path / "named.npz", image=rows, y=np.zeros(40))
    np.save(tmp_path / "plain.npy", rows)
    named = from_sample(load_sample(tmp_path / "named.npz"), [IMAGE], "named.npz")
    assert named.inputs[0].shape == (32, 4, 4, 3) and named.labels.shape == (32,)  # capped at 32 rows
    assert from_sample(load_sample(tmp_path / "plain.npy"), [IMAGE], "plain.npy").labels is None
    with pytest.raises(SampleError, match="expects"):
        from_sample({"x": np.zeros((2, 5, 5, 3))}, [IMAGE], "bad")
    with pytest.raises(SampleError, match="the model needs image"):
        from_sample({"a": rows, "b": rows}, [IMAGE], "two")


def test_a_sample_holding_objects_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SampleError, match="holds Python objects"):
        load_sample(tmp_path / "objects.npy")


@pytest.mark.tf
@pytest.mark.parametrize("composition", ["call", "time_distributed"])
def test_a_replicas_moving_statistics_are_those_of_its_warm_up_batch(composition):
    keras = pytest.importorskip("keras")
    from bnlint.confirm.reproduce import WARM_ROWS, WARM_SEED, reproduce

    replica, _ = reproduce(keras, {"architecture": "keras.layers.BatchNormalization", "arguments": {},
                                   "composition": composition, "training": "absent", "check": "frozen-batchnorm"})
    layer = replica.subject.callee
    # The warm-up batch, as reproduce builds it: the callee's own input shape, once per BN layer
    # even when the composition applies it to every frame (TimeDistributed).
    warm = synthetic([InputSpec("x", (None, 16), "float32")], rows=WARM_ROWS, seed=WARM_SEED).inputs[0]
    assert np.allclose(layer.moving_mean.numpy(), warm.mean(axis=0), atol=1e-4)
    assert np.allclose(layer.moving_variance.numpy(), warm.var(axis=0), rtol=1e-3)
    assert replica.measured["moving_statistics"] == "set from a 32x16 synthetic batch"
