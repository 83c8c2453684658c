"""Call a model with the `training` argument chosen per kind of layer (worker side: runs TF).

`bnlint explain` needs a pass where BatchNormalization trains on batch statistics while Dropout
(or augmentation) is off. No call of the whole model can ask for that, and assigning layer
attributes (`layer.rate = 0`) is not an option: read-only properties (MultiHeadAttention's
`dropout`) make it crash, and it changes the user's objects. Instead, a functional model's graph
is replayed node by node with the same layer objects, each called with the `training` value its
kind asks for, exactly as Keras' own graph runner calls it; nested functional and Sequential
models are replayed the same way. A layer that holds kinds needing different values inside its
own `call()` (a subclassed block with both BatchNormalization and Dropout) cannot be split:
`NotSeparable` says which one.
"""

from __future__ import annotations

from bnlint.confirm.layers import is_batchnorm, walk_layers
from bnlint.confirm.randomness import random_kind

KINDS = ("batchnorm", "dropout", "augmentation", "other")


class NotSeparable(Exception):
    """The modes asked for cannot be applied to this model. One line."""


def kinds_inside(layer) -> set[str]:
    """The kinds of behaviour that depend on `training` in the layer and everything inside it."""
    kinds = set()
    for item in walk_layers(layer):
        kind = "batchnorm" if is_batchnorm(item) else random_kind(item)
        if kind:
            kinds.add(kind)
    return kinds


class _Modes:
    def __init__(self, modes: dict[str, bool]) -> None:
        self.modes = modes

    def uniform(self) -> bool | None:
        values = set(self.modes.values())
        return values.pop() if len(values) == 1 else None

    def training_for(self, layer) -> bool:
        kinds = kinds_inside(layer) or {"other"}
        wanted = {self.modes[kind] for kind in kinds}
        if len(wanted) > 1:
            held = ", ".join(sorted(kinds - {"other"}))
            raise NotSeparable(
                f"layer {layer.name!r} ({type(layer).__name__}) holds {held} inside its own call(), "
                "so they cannot be switched separately"
            )
        return wanted.pop()


def call(keras_module, model, inputs, modes: dict[str, bool]):
    """`model(inputs)` with `training=modes[kind]` for every layer, by the kind it holds
    (`batchnorm`, `dropout`, `augmentation`, `other`). Raises NotSeparable."""
    chooser = _Modes({kind: modes.get(kind, modes.get("other", True)) for kind in KINDS})
    uniform = chooser.uniform()
    if uniform is not None:
        return model(inputs, training=uniform)  # one mode for everything: the model's own call
    if keras_module.__name__ == "tf_keras":
        return _single(_tf_keras(model, inputs, chooser))
    return _single(_keras3(model, inputs, chooser))


def _single(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs


def _sequential_layers(model, inputs, chooser: _Modes, call_layer):
    x = inputs
    for layer in model.layers:
        x = call_layer(layer, x)
    return x


def _keras3(model, inputs, chooser: _Modes):
    graph = model
    if getattr(model, "_functional", None) is not None:  # a Sequential built on an Input
        graph = model._functional
    if not hasattr(graph, "_run_through_graph"):
        if hasattr(model, "layers") and type(model).__name__ == "Sequential":
            return _sequential_layers(model, inputs, chooser, lambda layer, x: _keras3_layer(layer, chooser)(x))
        # A subclassed model: its call() decides how its layers are called.
        return model(inputs, training=chooser.training_for(model))
    if hasattr(graph, "_standardize_inputs"):
        inputs = graph._standardize_inputs(inputs)
    return graph._run_through_graph(inputs, operation_fn=lambda operation: _keras3_layer(operation, chooser))


def _is_container(layer) -> bool:
    return (hasattr(layer, "_run_through_graph") or getattr(layer, "_functional", None) is not None
            or getattr(layer, "_is_graph_network", False) or type(layer).__name__ == "Sequential")


def _keras3_layer(operation, chooser: _Modes):
    if _is_container(operation):
        return lambda inputs, *args, **kwargs: _keras3(operation, inputs, chooser)

    def run(*args, **kwargs):
        # As Keras' own graph runner does: every layer gets `training` (it also sets the mode of
        # the layers it calls inside); plain operations (keras.ops) take none.
        if "training" in getattr(operation, "_call_context_args", ()):
            kwargs["training"] = chooser.training_for(operation)
        return operation(*args, **kwargs)

    return run


def _tf_keras(model, inputs, chooser: _Modes):
    import tensorflow as tf

    if not getattr(model, "_is_graph_network", False):
        if type(model).__name__ == "Sequential":
            return _sequential_layers(model, inputs, chooser, lambda layer, x: _tf_keras_layer(layer, x, chooser))
        return model(inputs, training=chooser.training_for(model))
    # The loop of tf.keras' Functional._run_internal_graph, with a `training` value per layer.
    flat = model._flatten_to_reference_inputs(inputs)
    usage = model._tensor_usage_count
    tensors = {}
    for reference, value in zip(model.inputs, flat):
        key = str(id(reference))
        tensors[key] = [model._conform_to_reference_input(value, ref_input=reference)] * usage[key]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input or any(key not in tensors for key in node.flat_input_ids):
                continue
            args, kwargs = node.map_arguments(tensors)
            if _is_container(node.layer):
                outputs = _tf_keras(node.layer, args[0], chooser)
            else:
                outputs = node.layer(*args, **{**kwargs, "training": chooser.training_for(node.layer)})
            for key, value in zip(node.flat_output_ids, tf.nest.flatten(outputs)):
                tensors[key] = [value] * usage[key]
    outputs = [tensors[str(id(x))].pop() for x in model.outputs]
    return tf.nest.pack_sequence_as(model._nested_outputs, outputs)


def _tf_keras_layer(layer, x, chooser: _Modes):
    if _is_container(layer):
        return _tf_keras(layer, x, chooser)
    return layer(x, training=chooser.training_for(layer))
