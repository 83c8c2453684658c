"""The saving calls rules/knowledge/runtime_evidence.yaml calls "not Keras 3" are refused by the
installed Keras 3 and accepted by tf_keras (Keras 2); the suffixes it lists are accepted by Keras 3."""

from __future__ import annotations

import pytest

from bnlint.frontends.python.evidence import _evidence

pytestmark = pytest.mark.tf

WEIGHTS_ONLY_CHECKPOINT = "keras.callbacks.ModelCheckpoint"


@pytest.fixture(scope="module")
def keras3():
    import keras

    assert keras.__version__.startswith("3.")
    return keras


@pytest.fixture(scope="module")
def keras2():
    import tf_keras

    return tf_keras


def _model(keras):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    return model


def _save(keras, model, callee: str, path: str, **kwargs) -> None:
    """Run the saving call the data names `callee` ("save", "keras.models.save_model", ...)."""
    if callee in ("save", "save_weights"):
        getattr(model, callee)(path, **kwargs)
    elif callee == WEIGHTS_ONLY_CHECKPOINT:
        keras.callbacks.ModelCheckpoint(path, **kwargs)
    else:
        module, _, name = callee.removeprefix("keras.").rpartition(".")
        getattr(getattr(keras, module), name)(model, path, **kwargs)


def test_paths_without_the_suffix_keras3_requires_are_refused_and_the_suffixes_accepted(keras3, tmp_path):
    model = _model(keras3)
    rules = _evidence().saving
    assert {"save", "save_weights", WEIGHTS_ONLY_CHECKPOINT} <= set(rules)
    for callee, rule in rules.items():
        with pytest.raises(ValueError):
            _save(keras3, model, callee, str(tmp_path / "saved_model"))
        for number, suffix in enumerate(rule.suffixes):
            _save(keras3, model, callee, str(tmp_path / f"{callee}{number}{suffix}"))
        if rule.weights_only is not None:
            keyword = rule.weights_only[1]
            for suffix in rule.suffixes:
                if not suffix.endswith(rule.weights_suffixes):
                    with pytest.raises(ValueError):
                        _save(keras3, model, callee, str(tmp_path / f"ckpt{suffix}"), **{keyword: True})
            for suffix in rule.weights_suffixes:
                _save(keras3, model, callee, str(tmp_path / f"ckpt{suffix}"), **{keyword: True})


def test_the_exemptions_are_keras3s_own_ways_to_save_elsewhere(keras3, tmp_path):
    model = _model(keras3)
    exempt = _evidence().saving_exempt_keywords
    assert exempt == {"zipped", "max_shard_size"}
    model.save(str(tmp_path / "folder"), zipped=False)
    model.save_weights(str(tmp_path / "sharded.weights.json"), max_shard_size=1)
    assert (tmp_path / "folder").is_dir() and (tmp_path / "sharded.weights.json").is_file()


def test_removed_keywords_are_refused_by_keras3(keras3, tmp_path):
    model = _model(keras3)
    keywords = _evidence().removed_keywords
    assert keywords
    for callee, words in keywords.items():
        suffix = ".weights.h5" if callee == "save_weights" else ".keras"
        for word in sorted(words):
            with pytest.raises((TypeError, ValueError)):
                _save(keras3, model, callee, str(tmp_path / f"m{suffix}"), **{word: None})


def test_what_keras3_refuses_tf_keras_accepts(keras2, tmp_path):
    model = _model(keras2)
    # The calls of tf.keras 2 code that Keras 3 refuses: a TF checkpoint, a weights-only
    # ModelCheckpoint to a folder, Keras 2's own keywords.
    model.save_weights(str(tmp_path / "ckpt" / "model"))
    model.save_weights(str(tmp_path / "weights.h5"), save_format="h5")
    keras2.callbacks.ModelCheckpoint(str(tmp_path / "ckpt") + "/", save_weights_only=True)
    keras2.callbacks.ModelCheckpoint(str(tmp_path / "best_model.hdf5"), save_best_only=True, period=5, options=None)
    assert (tmp_path / "ckpt" / "model.index").is_file() and (tmp_path / "weights.h5").is_file()
