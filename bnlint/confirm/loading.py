"""Load a saved model and build the batch to run it on (worker side: runs TensorFlow)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _custom_objects(job: dict) -> dict:
    """With allow_unsafe only: import the user's modules that define the model's custom classes."""
    if not job.get("allow_unsafe"):
        return {}
    for directory in reversed(job.get("search_path") or []):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    objects = {}
    for module_name, name, registered in job.get("custom") or []:
        if not module_name:
            continue
        module = importlib.import_module(module_name)
        value = getattr(module, name, None)
        if value is not None:
            objects[name] = value
            if registered:
                objects[registered] = value
    return objects


def load_model(keras_module, job: dict, compile: bool = False):
    """Load with safe_mode=True; tf.keras legacy loaders also run inside a safe-mode scope."""
    path = job["path"]
    custom = _custom_objects(job) or None
    if keras_module.__name__ == "tf_keras":
        from tf_keras.src.saving.serialization_lib import SafeModeScope

        # tf_keras ignores `safe_mode` for .h5/SavedModel; the scope still stops Lambda bytecode.
        with SafeModeScope(True):
            return keras_module.models.load_model(path, custom_objects=custom, compile=compile, safe_mode=True)
    return keras_module.saving.load_model(path, custom_objects=custom, compile=compile, safe_mode=True)


def batch_for(model, job: dict, all_rows: bool = False):
    """The batch to run `model` on: the job's sample (its first `MAX_ROWS` rows, or every row
    with `all_rows`), else a seeded synthetic batch."""
    from bnlint.confirm.measure import input_specs
    from bnlint.confirm.sample import MAX_ROWS, from_sample, read_sample, synthetic

    specs = input_specs(model)
    if job.get("sample"):
        sample = Path(job["sample"])
        rows = None if all_rows else MAX_ROWS
        return from_sample(read_sample(sample, rows=rows), specs, sample.name, max_rows=rows)
    return synthetic(specs)


def model_inputs(batch):
    return batch.inputs[0] if len(batch.inputs) == 1 else list(batch.inputs)
