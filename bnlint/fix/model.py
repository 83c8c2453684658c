"""Fix a saved model's config and write a corrected copy; the weights are never touched.

- BN001 (legacy, keras2): `training: false` in the kwargs of the nodes that call the frozen base.
- BN004: `trainable: false` on the BatchNormalization layers of a partially frozen base.

`.keras`: a new archive with every other member copied unchanged and config.json replaced.
`.h5`: a copy of the file with the `model_config` attribute rewritten. The legacy format stores
a nested model's weights in one list ordered trainable-first, so freezing BN layers inside one
also moves their gamma/beta in that list (`weight_names`), exactly as Keras would have saved them.
SavedModel directories are not supported.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from bnlint.findings import Finding
from bnlint.frontends.models.lowering import BATCHNORM_CLASSES

# The trainable weights of a BatchNormalization layer; the moving statistics never are.
_BN_TRAINABLE = ("gamma", "beta")
_BN_STATISTICS = ("moving_mean", "moving_variance")


class ModelFixError(Exception):
    """The corrected copy cannot be written. `str()` is one line, without the path."""


@dataclass
class _Layer:
    """A layer of the config, found by the `/`-joined path the frontend reports."""

    entry: dict  # the layer's own config entry
    caller: dict  # the entry whose inbound_nodes call it (a wrapper's, for a wrapped layer)
    group: str | None  # the top-level layer holding it: its weights group in a .h5 file


@dataclass
class ModelFix:
    """What fixing one config did: the new config, a line per change, and what it fixed."""

    config: dict
    changes: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    # .h5 only: weights group -> the BN layers in it that are no longer trainable.
    frozen_bn: dict[str, set[str]] = field(default_factory=dict)


def _children(entry: dict) -> list:
    config = entry.get("config")
    if isinstance(config, list):
        return config  # Keras <= 2.2.4 stored a Sequential's config as its bare list of layers
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    return []


def _name(entry: dict) -> str:
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    return str(name or entry.get("class_name"))


def index_layers(config: dict) -> dict[str, list[_Layer]]:
    """Every layer by path, as keras_config lowers them (input layers have none).

    A path held by more than one layer (a hand-edited file) is ambiguous: fixes skip it.
    """
    found: dict[str, list[_Layer]] = {"": [_Layer(config, config, None)]}

    def visit(entry: dict, prefix: str, caller: dict, group: str | None) -> None:
        if not isinstance(entry, dict) or entry.get("class_name") == "InputLayer":
            return
        path = f"{prefix}/{_name(entry)}" if prefix else _name(entry)
        group = group or _name(entry)
        found.setdefault(path, []).append(_Layer(entry, caller, group))
        wrapped = entry.get("config", {}).get("layer") if isinstance(entry.get("config"), dict) else None
        if isinstance(wrapped, dict):
            visit(wrapped, path, caller, group)  # TimeDistributed: its calls are the wrapper's
            return
        for child in _children(entry):
            visit(child, path, child, group)

    for child in _children(config):
        visit(child, "", child, None)
    return found


def _layer_at(layers: dict[str, list[_Layer]], path: str | None) -> _Layer | None:
    candidates = layers.get(path or "", []) if path is not None else []
    return candidates[0] if len(candidates) == 1 else None


def _set_training_false(node: object) -> bool:
    """Add `training: false` to one inbound node that has no training kwarg; True if changed."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        if "args" not in node:
            return False  # not a Keras 3 node: better left alone than guessed at
        kwargs = node.setdefault("kwargs", {})
        if not isinstance(kwargs, dict) or "training" in kwargs:
            return False
        kwargs["training"] = False
        return True
    if isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, {kwargs}], ...]
        tensors = [t for t in node if isinstance(t, list) and len(t) in (3, 4) and isinstance(t[0], str)]
        if not tensors or any(len(t) == 4 and (not isinstance(t[3], dict) or "training" in t[3]) for t in tensors):
            return False
        for tensor in tensors:  # Keras 2 reads the kwargs of the last one; keep them all the same
            if len(tensor) == 3:
                tensor.append({})
            tensor[3]["training"] = False
        return True
    return False


def _fix_training_false(fix: ModelFix, layers: dict[str, list[_Layer]], finding: Finding) -> bool:
    subject = finding.subject
    if finding.runtime.target not in ("legacy", "keras2"):
        return False  # Keras 3's fit() overrides a stored training=False: only BN004's fix protects
    if subject is None or subject.composition != "call" or subject.training != "absent":
        return False
    layer = _layer_at(layers, finding.layer_path)
    nodes = layer.caller.get("inbound_nodes") if layer else None
    if not isinstance(nodes, list) or not nodes:
        return False
    changed = sum(_set_training_false(node) for node in nodes)
    if changed:
        calls = "call" if changed == 1 else "calls"
        fix.changes.append(f"{finding.rule} {finding.layer_path}: training=False on {changed} {calls}")
    return changed > 0


def _fix_freeze_batchnorm(fix: ModelFix, layers: dict[str, list[_Layer]], finding: Finding) -> bool:
    if finding.subject is None or finding.subject.composition is not None:
        return False  # BN004 on a saved model is about a partially frozen base, not a call
    base = _layer_at(layers, finding.layer_path)
    if base is None:
        return False
    frozen = []
    for path, candidates in layers.items():
        inside = path.startswith(f"{finding.layer_path}/") if finding.layer_path else bool(path)
        for layer in candidates if inside else []:
            config = layer.entry.get("config")
            is_bn = layer.entry.get("class_name") in BATCHNORM_CLASSES and isinstance(config, dict)
            if is_bn and config.get("trainable") is not False:
                config["trainable"] = False
                frozen.append(_name(layer.entry))
                # A top-level BN layer is its own weights group, whose order does not change.
                if layer.group != _name(layer.entry):
                    fix.frozen_bn.setdefault(layer.group, set()).add(_name(layer.entry))
    if frozen:
        where = finding.layer_path or "(top model)"
        names = ", ".join(frozen)
        fix.changes.append(f"{finding.rule} {where}: trainable=False on {len(frozen)} BatchNormalization layer(s): {names}")
    return bool(frozen)


# By the names rules use in `fix: {model: NAME}` (listed in bnlint.fix.MODEL_FIXERS).
MODEL_FIXERS = {"training-false": _fix_training_false, "freeze-batchnorm": _fix_freeze_batchnorm}


def plan_model_fix(config: dict, findings: list[Finding]) -> ModelFix:
    """A corrected deep copy of `config`, and which findings the corrections fix."""
    fix = ModelFix(copy.deepcopy(config))
    layers = index_layers(fix.config)
    for finding in findings:
        fixer = MODEL_FIXERS.get(finding.fixer or "")
        if fixer and fixer(fix, layers, finding):
            fix.fixed.append(finding)
    return fix


# --- .h5: the order of a nested model's weights follows trainability --------------------------

def _owner(weight_name: str) -> tuple[str, str]:
    """`backbone/bn/gamma:0` -> ("bn", "gamma"): the layer and the variable."""
    parts = weight_name.split(":")[0].split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])


def reorder_weight_names(names: list[str], frozen_bn: set[str]) -> list[str]:
    """A group's `weight_names` once the BN layers in `frozen_bn` are not trainable.

    Keras writes a layer's weights as trainable ones then non-trainable ones, each in layer
    order; a frozen BN layer's gamma and beta go right before its moving statistics.
    """
    result = list(names)
    for bn in sorted(frozen_bn):
        owned = [n for n in result if _owner(n)[0] == bn]
        variables = [_owner(n)[1] for n in owned]
        moving = [n for n in owned if _owner(n)[1] in _BN_STATISTICS]
        trainable = [n for n in owned if _owner(n)[1] in _BN_TRAINABLE]
        if len(variables) != len(set(variables)) or not moving or len(owned) != len(moving) + len(trainable):
            raise ModelFixError(f"cannot tell which weights belong to BatchNormalization layer {bn!r}")
        result = [n for n in result if n not in trainable]
        anchor = result.index(moving[0])
        result[anchor:anchor] = trainable
    return result


def _rewrite_h5(path: Path, fix: ModelFix) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "r+") as h5:
        stored = h5.attrs["model_config"]
        text = json.dumps(fix.config)
        h5.attrs["model_config"] = text.encode("utf-8") if isinstance(stored, bytes) else text
        weights = h5.get("model_weights", h5)  # where model.save() puts the weights, next to optimizer_weights
        for group_name, frozen in fix.frozen_bn.items():
            group = weights.get(group_name)
            if group is None or "weight_names" not in group.attrs:
                # Keras splits a list over 64 KB into weight_names0, weight_names1, ...: not handled.
                raise ModelFixError(f"cannot reorder the weight list of layer {group_name!r} in the HDF5 file")
            stored_names = group.attrs["weight_names"]
            names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in stored_names]
            reordered = [n.encode("utf-8") for n in reorder_weight_names(names, frozen)]
            group.attrs["weight_names"] = np.array(reordered, dtype=stored_names.dtype)


# --- writing the copy ----------------------------------------------------------------------------

def _copy_archive(source: Path, target: Path, config: dict) -> None:
    """A new .keras zip: config.json replaced, every other member copied as it is."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            member = zipfile.ZipInfo(info.filename, info.date_time)
            member.compress_type, member.external_attr = info.compress_type, info.external_attr
            member.create_system = info.create_system
            if info.filename == "config.json":
                out.writestr(member, json.dumps(config).encode("utf-8"))
                continue
            member.file_size = info.file_size
            with archive.open(info) as reader, out.open(member, "w", force_zip64=info.file_size > 2**31) as writer:
                shutil.copyfileobj(reader, writer, 2**20)


def write_fixed_copy(source: Path, target: Path, kind: str, fix: ModelFix) -> None:
    """Write the corrected model to `target` atomically (a temporary file, then a rename)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        if not fix.changes:
            shutil.copyfile(source, temporary)  # nothing to fix: the copy is the input, byte for byte
        elif kind == "keras":
            _copy_archive(source, Path(temporary), fix.config)
        else:
            shutil.copyfile(source, temporary)
            _rewrite_h5(Path(temporary), fix)
        shutil.copymode(source, temporary)  # mkstemp's 0600 would surprise whoever loads the copy
        os.replace(temporary, target)
    except ModelFixError:
        Path(temporary).unlink(missing_ok=True)
        raise
    except (OSError, zipfile.BadZipFile, RuntimeError, KeyError, ValueError) as exc:
        Path(temporary).unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).replace(temporary, "the copy")
        raise ModelFixError(f"cannot write the fixed copy: {reason}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
