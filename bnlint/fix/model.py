"""Fix a saved model's config and write a corrected copy; the weights are never touched.

- BN001 (legacy, keras2): `training: false` in the kwargs of the nodes that call the frozen base.
- BN004: `trainable: false` on the BatchNormalization layers of a partially frozen base.

`.keras`: a new archive with every other member copied unchanged and config.json replaced.
`.h5`: a copy of the file with the `model_config` attribute rewritten. The legacy format stores
a nested model's weights in one list ordered trainable-first, so freezing BN layers inside one
also moves their gamma/beta in that list (`weight_names`), exactly as Keras would have saved them.
SavedModel directories are not supported.

The input is only ever opened for reading: the copy is made from its bytes, and a soft or external
link inside the copy is refused rather than followed, so nothing outside the copy is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from bnlint import safe_io
from bnlint.findings import Finding
from bnlint.frontends.models import config_tree
from bnlint.frontends.models.config_tree import Layer
from bnlint.knowledge import layer_classes

# The trainable weights of a BatchNormalization layer; the moving statistics never are.
_BN_TRAINABLE = ("gamma", "beta")
_BN_STATISTICS = ("moving_mean", "moving_variance")
# Deflate inflates at most ~1,032x; a member claiming far more is a zip bomb, not weights.
_MAX_INFLATION, _INFLATION_SLACK = 1100, 64 * 2**20


class ModelFixError(Exception):
    """The corrected copy cannot be written. `str()` is one line, without the path."""


@dataclass
class ModelFix:
    """What fixing one config did: the new config, a line per change, and what it fixed."""

    config: dict
    changes: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    # .h5 only: weights group -> the BN layers in it that are no longer trainable.
    frozen_bn: dict[str, set[str]] = field(default_factory=dict)


def index_layers(config: dict) -> dict[str, Layer]:
    """Every layer by the path findings report ("" for the top model; input layers have none)."""
    return {layer.path: layer for layer in config_tree.walk(config) if layer.path == "" or layer.class_name != "InputLayer"}


def _weights_group(layer: Layer) -> str | None:
    """The top-level layer holding it: its weights group in a .h5 file (None for the top model)."""
    while layer.container is not None and layer.container.container is not None:
        layer = layer.container
    return layer.name if layer.container is not None else None


def _fix_training_false(fix: ModelFix, layers: dict[str, Layer], finding: Finding) -> bool:
    subject = finding.subject
    if finding.runtime.target not in ("legacy", "keras2"):
        return False  # Keras 3's fit() overrides a stored training=False: only BN004's fix protects
    if subject is None or subject.composition != "call" or subject.training != "absent":
        return False
    layer = layers.get(finding.layer_path) if finding.layer_path is not None else None
    changed = config_tree.set_call_training(layer, False) if layer is not None else 0
    if changed:
        calls = "call" if changed == 1 else "calls"
        fix.changes.append(f"{finding.rule} {finding.layer_path}: training=False on {changed} {calls}")
    return changed > 0


def _fix_freeze_batchnorm(fix: ModelFix, layers: dict[str, Layer], finding: Finding) -> bool:
    if finding.subject is None or finding.subject.composition is not None:
        return False  # BN004 on a saved model is about a partially frozen base, not a call
    if finding.layer_path is None or finding.layer_path not in layers:
        return False
    batchnorm = layer_classes().batchnorm
    prefix = f"{finding.layer_path}/" if finding.layer_path else ""
    frozen = []
    for path, layer in layers.items():
        if not path or not path.startswith(prefix) or layer.class_name not in batchnorm:
            continue
        config = layer.entry.get("config")
        if isinstance(config, dict) and config.get("trainable") is not False:
            config["trainable"] = False
            frozen.append(layer.name)
            group = _weights_group(layer)
            # A top-level BN layer is its own weights group, whose order does not change.
            if group is not None and group != layer.name:
                fix.frozen_bn.setdefault(group, set()).add(layer.name)
    if frozen:
        where = finding.layer_path or "(top model)"
        names = ", ".join(frozen)
        fix.changes.append(f"{finding.rule} {where}: trainable=False on {len(frozen)} BatchNormalization layer(s): {names}")
    return bool(frozen)


# By the names rules use in `fix: {model: NAME}` (listed in bnlint.fix.MODEL_FIXERS).
MODEL_FIXERS = {"training-false": _fix_training_false, "freeze-batchnorm": _fix_freeze_batchnorm}


def plan_model_fix(config: dict, findings: list[Finding]) -> ModelFix:
    """A corrected deep copy of `config`, and which findings the corrections fix.

    Raises FrontendError for a config the walker refuses, RecursionError for JSON nested too deeply to copy."""
    # A JSON round trip copies in C, where copy.deepcopy recurses twice per level in Python.
    fix = ModelFix(json.loads(json.dumps(config)))
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


def _member(h5py, parent, name: str):
    """`parent[name]` if it is stored in this file; None if absent. A soft or external link is
    refused: h5py follows an external link into the other file, opened for writing like this one,
    so a crafted copy could make the fix write into its own input or any other file."""
    link = parent.get(name, getlink=True)
    if link is None:
        return None
    if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
        kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise ModelFixError(f"the HDF5 file's {name!r} is {kind}, not stored in the file: not fixed (nothing is written through links)")
    return parent[name]


def _rewrite_h5(path: Path, fix: ModelFix) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "r+", locking=False) as h5:
        stored = h5.attrs["model_config"]
        text = json.dumps(fix.config)
        h5.attrs["model_config"] = text.encode("utf-8") if isinstance(stored, bytes) else text
        # Where model.save() puts the weights, next to optimizer_weights; save_weights() at the root.
        weights = _member(h5py, h5, "model_weights") if fix.frozen_bn else None
        weights = h5 if weights is None else weights
        for group_name, frozen in fix.frozen_bn.items():
            group = _member(h5py, weights, group_name)
            if not isinstance(group, h5py.Group) or "weight_names" not in group.attrs:
                # Keras splits a list over 64 KB into weight_names0, weight_names1, ...: not handled.
                raise ModelFixError(f"cannot reorder the weight list of layer {group_name!r} in the HDF5 file")
            stored_names = group.attrs["weight_names"]
            names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in stored_names]
            reordered = [n.encode("utf-8") for n in reorder_weight_names(names, frozen)]
            group.attrs["weight_names"] = np.array(reordered, dtype=stored_names.dtype)


# --- writing the copy ----------------------------------------------------------------------------

def _copy_archive(source: Path, target: Path, config: dict) -> None:
    """A new .keras zip: config.json replaced, every other member copied as it is."""
    with safe_io.open_regular(source) as handle, zipfile.ZipFile(handle) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            if info.file_size > _MAX_INFLATION * info.compress_size + _INFLATION_SLACK:
                raise ModelFixError(f"{info.filename} in the archive claims to inflate to {info.file_size} bytes: not copied")
            member = zipfile.ZipInfo(info.filename, info.date_time)
            member.compress_type, member.external_attr = info.compress_type, info.external_attr
            member.create_system = info.create_system
            if info.filename == "config.json":
                out.writestr(member, json.dumps(config).encode("utf-8"))
                continue
            member.file_size = info.file_size
            with archive.open(info) as reader, out.open(member, "w", force_zip64=info.file_size > 2**31) as writer:
                shutil.copyfileobj(reader, writer, 2**20)


def _copy_bytes(source: Path, target: str) -> None:
    """The input's bytes into the copy: the input is only ever opened for reading, as a plain file."""
    with safe_io.open_regular(source) as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer, 2**20)


def write_fixed_copy(source: Path, target: Path, kind: str, fix: ModelFix) -> None:
    """Write the corrected model to `target` atomically (a temporary file, then a rename)."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except FileNotFoundError:
        raise ModelFixError(f"cannot write the fixed copy: folder {target.parent} does not exist") from None
    except OSError as exc:
        raise ModelFixError(f"cannot write the fixed copy: {exc.strerror or exc}") from None
    os.close(handle)
    try:
        if not fix.changes:
            _copy_bytes(source, temporary)  # nothing to fix: the copy is the input, byte for byte
        elif kind == "keras":
            _copy_archive(source, Path(temporary), fix.config)
        else:
            _copy_bytes(source, temporary)
            _rewrite_h5(Path(temporary), fix)
        shutil.copymode(source, temporary)  # mkstemp's 0600 would surprise whoever loads the copy
        os.replace(temporary, target)
    except ModelFixError:
        Path(temporary).unlink(missing_ok=True)
        raise
    except (OSError, zipfile.BadZipFile, RuntimeError, KeyError, ValueError, EOFError, safe_io.UnreadableFile) as exc:
        Path(temporary).unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).replace(temporary, "the copy")
        raise ModelFixError(f"cannot write the fixed copy: {reason}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
