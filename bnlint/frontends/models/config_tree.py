"""Walk a Keras model config: every layer with its `/`-joined path, its entry, its container and its call nodes.

One walker for everything that reads or edits a config (the lowering, the confirm screen, the
model fixer; `layer_at` and `set_call_training` are what the worker's Keras 2 remedy needs), so
they agree on what a layer path means:

- a path joins layer names from the top model down: `encoder/backbone`; a wrapped layer's path
  goes through its wrapper: `per_frame/backbone` for `TimeDistributed(backbone)`;
- a name repeated among the layers of one model (only hand-edited files do that) becomes
  `name#2`, `name#3`, ... in order of appearance;
- a layer is called by the `inbound_nodes` of its *caller*: its own entry, or for a wrapped
  layer the outermost wrapper's entry; an element of a Sequential has no nodes at all.

Call nodes come in two dialects, read per node (tf_keras also writes `.keras` archives):

- Keras 3: `{"args": [...], "kwargs": {"training": false}}`
- Keras 2: `[[layer_name, node_index, tensor_index, {kwargs}], ...]`, one entry per input

The walk is iterative and budgeted: a config with more than MAX_LAYERS layers or nested more
than MAX_DEPTH levels is refused with one line instead of exhausting time or the stack.
"""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.frontends import FrontendError

MAX_LAYERS = 100_000  # NASNetLarge, among the largest real configs, has about 1,000
MAX_DEPTH = 100  # levels of models and wrappers inside each other

# The value a node gives when it passes no `training` at all.
ABSENT = object()
_MODEL_CONTAINERS = ("Functional", "Model")
_WRAPPED_KEYS = ("layer", "backward_layer")  # TimeDistributed/Bidirectional/...: the layers inside
_NONE: list = []  # shared by every layer that wraps nothing (most of them); never mutated


class Layer:
    """One layer of a config, and where it sits. Built once per layer of every walk: what the
    readers ask about it is computed here, once."""

    __slots__ = ("path", "name", "entry", "class_name", "config", "container", "owner", "caller", "depth", "wrapped",
                 "layers", "wrapped_entries", "_sequential")

    def __init__(self, path: str, name: str, entry: dict, container: Layer | None, caller: dict, depth: int, wrapped: bool) -> None:
        self.path = path  # "/"-joined and deduplicated: the layer_path findings report
        self.name = name  # the layer's own name, as stored
        self.entry = entry  # its config entry: {"class_name", "config", "inbound_nodes", ...}
        self.class_name: str = entry["class_name"]
        config = entry.get("config")
        self.config: dict = config if isinstance(config, dict) else {}
        self.container = container  # the model or wrapper whose config holds it; None for the top model
        # The model it is composed into: its container, or the model around its wrappers.
        self.owner: Layer | None = container if container is None or container.layers is not None else container.owner
        self.caller = caller  # the entry whose inbound_nodes call it
        self.depth = depth
        self.wrapped = wrapped  # held by a wrapper (TimeDistributed, Bidirectional, ...) rather than a model
        # The layers of a model config (a graph bnlint can read), else None.
        self.layers: list | None = layer_list(self.class_name, config)
        # The layer entries a wrapper holds (`layer`, and Bidirectional's `backward_layer`).
        self.wrapped_entries: list[dict] = _NONE
        if self.layers is None and ("layer" in self.config or "backward_layer" in self.config):
            self.wrapped_entries = [w for key in _WRAPPED_KEYS
                                    if isinstance(w := self.config.get(key), dict) and isinstance(w.get("class_name"), str)]
        self._sequential: bool | None = None

    def __repr__(self) -> str:
        return f"Layer({self.path!r}, {self.class_name})"

    @property
    def sequential(self) -> bool:
        """Whether it holds its layers as a Sequential does: composed in order, without call nodes."""
        if self._sequential is None:  # asked once per layer inside it: computed once
            self._sequential = self.layers is not None and is_sequential(self.class_name, self.layers)
        return self._sequential

    @property
    def nodes(self) -> list | None:
        """The nodes that call it (its caller's `inbound_nodes`); None for an element of a Sequential."""
        owner = self.owner
        if owner is None or owner.sequential:
            return None
        nodes = self.caller.get("inbound_nodes")
        if not nodes:
            return []
        if not isinstance(nodes, list):
            raise FrontendError(f"malformed model config: inbound_nodes of layer {self.name!r} is not a list")
        return nodes


def layer_list(class_name: str, config: object) -> list | None:
    """The layers of a model config, or None when it is not a graph bnlint can read."""
    if isinstance(config, list) and class_name == "Sequential":
        return config  # Keras <= 2.2.4 stored a Sequential's config as the bare list of layers
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    return None


def is_sequential(class_name: str, layers: list) -> bool:
    if class_name in _MODEL_CONTAINERS:
        return False
    # A subclass of Sequential has its own class name; its layers without call nodes give it away.
    return class_name == "Sequential" or not any(isinstance(e, dict) and "inbound_nodes" in e for e in layers)


def _name(entry: dict) -> str:
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None) or entry["class_name"]
    name = name if isinstance(name, str) else str(name)
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape: not text any output can carry
            name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


def _checked(entry: object, where: str) -> dict:
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise FrontendError(f"malformed model config: a layer of {where!r} has no class_name")
    return entry


def walk(config: dict) -> Iterator[Layer]:
    """Every layer, top model first (path ""), each container before the layers it holds."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise FrontendError("not a Keras model config (no class_name)")
    top = Layer("", _name(config), config, None, config, 0, False)
    pending = [top]
    count = 0
    while pending:
        layer = pending.pop()
        yield layer
        count += 1
        if count > MAX_LAYERS:
            raise FrontendError(f"model config is too large to analyse (more than {MAX_LAYERS:,} layers)")
        if layer.layers or layer.wrapped_entries:  # most layers hold none
            if layer.depth >= MAX_DEPTH:
                raise FrontendError(f"model config is nested too deeply to analyse (more than {MAX_DEPTH} levels)")
            pending.extend(reversed(_children(layer)))


def _children(layer: Layer) -> list[Layer]:
    wrapped = layer.layers is None
    entries = layer.wrapped_entries if wrapped else layer.layers
    prefix = f"{layer.path}/" if layer.path else ""
    # Linear-time deduplication: `taken` holds every path given out, `next_suffix` where to resume.
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    children = []
    depth, caller = layer.depth + 1, layer.caller
    for entry in entries:
        if type(entry) is not dict or type(entry.get("class_name")) is not str:
            _checked(entry, layer.name)  # raises: a layer entry that is no layer
        name = entry.get("name")
        if not name or type(name) is not str or not name.isascii():  # the fast path covers what Keras writes
            name = _name(entry)
        path = prefix + name
        if path in taken:
            n = next_suffix.get(path, 2)
            while f"{path}#{n}" in taken:
                n += 1
            next_suffix[path] = n + 1
            path = f"{path}#{n}"
        taken.add(path)
        children.append(Layer(path, name, entry, layer, caller if wrapped else entry, depth, wrapped))
    return children


def layer_at(config: dict, path: str) -> Layer | None:
    """The layer at a `/`-joined path as `walk` spells it ("" is the top model), or None."""
    for layer in walk(config):
        if layer.path == path:
            return layer
    return None


# --- the `training` kwarg of one call node, in both dialects ---------------------------------------


def _keras2_inputs(node: list) -> list[list]:
    return [t for t in node if isinstance(t, list)]


def node_training(node: object, layer: str = "?") -> object:
    """The `training` value a node passes (ABSENT when it passes none): True, False, None, or a
    tensor reference. Keras 2 keeps the kwargs of the node's last input (tf_keras process_node)."""
    if isinstance(node, dict):  # Keras 3
        kwargs = node.get("kwargs")
        return kwargs.get("training", ABSENT) if isinstance(kwargs, dict) else ABSENT
    if isinstance(node, list):  # Keras 2
        inputs = _keras2_inputs(node)
        last = inputs[-1] if inputs else []
        kwargs = last[3] if len(last) > 3 and isinstance(last[3], dict) else {}
        return kwargs.get("training", ABSENT)
    raise FrontendError(f"malformed model config: inbound node of layer {layer!r} is neither a list nor a mapping")


def set_node_training(node: object, value: object, overwrite: bool = False) -> bool:
    """Store `training: value` in one node; True if it changed. Without `overwrite`, a node that
    already passes `training` is left alone, and so is anything not recognisably a call node."""
    if isinstance(node, dict):  # Keras 3
        if "args" not in node:
            return False  # not a Keras 3 node: better left alone than guessed at
        kwargs = node.setdefault("kwargs", {})
        if not isinstance(kwargs, dict) or ("training" in kwargs and not overwrite) or kwargs.get("training", ABSENT) is value:
            return False
        kwargs["training"] = value
        return True
    if isinstance(node, list):  # Keras 2
        inputs = [t for t in _keras2_inputs(node) if len(t) in (3, 4) and isinstance(t[0], str)]
        if not inputs or any(len(t) == 4 and not isinstance(t[3], dict) for t in inputs):
            return False
        if not overwrite and any(len(t) == 4 and "training" in t[3] for t in inputs):
            return False
        if all(len(t) == 4 and t[3].get("training", ABSENT) is value for t in inputs):
            return False
        for tensor in inputs:  # Keras 2 reads the last input's kwargs; keep them all the same
            if len(tensor) == 3:
                tensor.append({})
            tensor[3]["training"] = value
        return True
    return False


def set_call_training(layer: Layer, value: object = False, overwrite: bool = False) -> int:
    """Store `training: value` on every node that calls `layer`; return how many changed."""
    return sum(set_node_training(node, value, overwrite) for node in layer.nodes or ())
