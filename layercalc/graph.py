"""Spec -> resolved graph: every leaf layer with its full dotted name, its inputs,
shapes, tensors and MACs, plus the groups (blocks, sequentials, repeats) around them.

Each list of layers is its own scope, like a PyTorch module: ``input`` is the list's
input, ``from`` names that list's earlier entries, and the list's output is its last
entry's. Names follow ``named_modules()`` (``layer1.0.conv1``).
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

from .arith import prod
from .errors import LayerError, SpecError, did_you_mean
from .layers import REGISTRY, LayerType
from .spec import DTYPE_BYTES, META_KEYS, Limits, Spec, var_value
from .values import as_int, convert, resolve_scalar
from .yamlnodes import Mapping, Node, Scalar, Sequence

@contextmanager
def gc_paused():
    """Run a block with Python's cyclic garbage collector off (and restore it after).

    Composing, building and reporting a large network allocate millions of long-lived,
    acyclic objects; the collector's repeated passes over them made the work superlinear
    (composing 100,000 layers took 17 times as long as 10,000). Nothing freed here is
    part of a cycle.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


MAX_BLOCK_DEPTH = 64  # blocks using blocks; keeps the builder's recursion bounded
RESERVED_NAMES = ("input", "output")


def _all_words() -> frozenset:
    words = set()
    for lt in REGISTRY.canonical.values():
        for a in lt.args:
            words.update(a.words)
    return frozenset(words)


MODE_WORDS = _all_words()


class Layer:
    """One resolved leaf layer. ``inputs`` names its producers (leaf layer names or
    "input"), ``group`` is the index of its innermost enclosing group, ``params`` and
    ``buffers`` count the elements of its tensors."""

    __slots__ = ("name", "type", "args", "inputs", "input_shapes", "output", "tensors",
                 "macs", "trainable", "node", "arg_nodes", "group", "depth", "params",
                 "buffers")

    def __init__(self, name: str, type: LayerType, args: dict, inputs: list,
                 input_shapes: list, output: tuple, tensors: list, macs: int, trainable: bool,
                 node: Node, arg_nodes: dict, group: int | None, depth: int):
        self.name = name
        self.type = type
        self.args = args
        self.inputs = inputs
        self.input_shapes = input_shapes
        self.output = output
        self.tensors = tensors
        self.macs = macs
        self.trainable = trainable
        self.node = node
        self.arg_nodes = arg_nodes
        self.group = group
        self.depth = depth
        self.params = sum(t.numel for t in tensors if not t.buffer)
        self.buffers = sum(t.numel for t in tensors if t.buffer)

    @property
    def trainable_params(self) -> int:
        return self.params if self.trainable else 0


class Group:
    """A block instance, a sequential, or the container of a repeated entry: ``kind`` is
    "block", "sequential" or "repeat", ``type`` the block name, "sequential" or the
    repeated entry's type; its leaves are ``net.layers[first:last]``."""

    __slots__ = ("name", "kind", "type", "parent", "depth", "first", "last", "node", "output")

    def __init__(self, name: str, kind: str, type: str, parent: int | None, depth: int,
                 first: int = 0, last: int = 0, node: Node | None = None, output: tuple = ()):
        self.name = name
        self.kind = kind
        self.type = type
        self.parent = parent
        self.depth = depth
        self.first = first
        self.last = last
        self.node = node
        self.output = output


class Network:
    __slots__ = ("spec", "layers", "groups", "outputs", "by_name")

    def __init__(self, spec: Spec):
        self.spec = spec
        self.layers: list[Layer] = []
        self.groups: list[Group] = []
        self.outputs: dict = {}  # name -> shape
        self.by_name: dict = {}  # full name -> ("layer"|"group", index)

    @property
    def name(self):
        return self.spec.name

    @property
    def input(self):
        return self.spec.input

    @property
    def dtype_bytes(self):
        return DTYPE_BYTES[self.spec.dtype]

    def totals(self) -> dict:
        return {
            "params": sum(l.params for l in self.layers),
            "trainable": sum(l.trainable_params for l in self.layers),
            "buffers": sum(l.buffers for l in self.layers),
            "macs": sum(l.macs for l in self.layers),
        }


class _Value:
    __slots__ = ("ref", "shape")

    def __init__(self, ref: str, shape: tuple):
        self.ref = ref  # the producing leaf's full name or "input"
        self.shape = shape


class _Entry:
    __slots__ = ("node", "type_name", "type_node", "args", "name", "name_node", "from_node",
                 "repeat_node", "trainable_node")


def _parse_entry(node: Node, index: int) -> _Entry:
    e = _Entry()
    e.node = node
    e.args = []
    e.name = str(index)
    e.name_node = e.from_node = e.repeat_node = e.trainable_node = None
    if isinstance(node, Scalar):
        if not isinstance(node.value, str) or not node.value:
            raise SpecError("bad-entry", f"a layer entry must be a type name or a mapping, got "
                            f"{node.value!r}", node=node,
                            hint="write e.g. `- relu` or `- conv2d: {out_channels: 8, ...}`")
        e.type_name, e.type_node = node.value, node
        return e
    if not isinstance(node, Mapping) or not node.items:
        raise SpecError("bad-entry", "a layer entry must be a type name or a mapping", node=node,
                        hint="write e.g. `- relu` or `- conv2d: {out_channels: 8, ...}`")
    if "type" in node:
        tnode = node.get("type")
        if not isinstance(tnode, Scalar) or not isinstance(tnode.value, str):
            raise SpecError("bad-entry", "`type` must be a layer type name", node=tnode)
        e.type_name, e.type_node = tnode.value, tnode
        items = [(k, v) for k, v in node.items if k.value != "type"]
    else:
        if len(node.items) != 1:
            keys = ", ".join(str(k) for k in node.keys())
            raise SpecError("bad-entry", f"a layer entry maps one type name to its arguments, "
                            f"but this one has several keys ({keys})", node=node,
                            hint="indent the arguments under the type name, or use the long "
                            "form `{type: conv2d, ...}`")
        knode, vnode = node.items[0]
        if not isinstance(knode.value, str):
            raise SpecError("bad-entry", "a layer type must be a name", node=knode)
        e.type_name, e.type_node = knode.value, knode
        if isinstance(vnode, Scalar) and vnode.value is None:
            items = []
        elif isinstance(vnode, Mapping):
            items = vnode.items
        else:
            raise SpecError("bad-entry", f"the arguments of '{knode.value}' must be a mapping",
                            node=vnode, hint=f"write `{knode.value}: {{arg: value, ...}}`")
    for k, v in items:
        key = k.value
        if key == "name":
            if not isinstance(v, Scalar) or v.value is None or isinstance(v.value, bool) or \
                    not isinstance(v.value, (str, int)):
                raise SpecError("bad-name", "a layer name must be a plain name", node=v)
            e.name = str(v.value)
            e.name_node = v
            if not e.name or "." in e.name or e.name in RESERVED_NAMES or \
                    any(c.isspace() for c in e.name):
                why = ("is reserved" if e.name in RESERVED_NAMES else
                       "may not hold dots or spaces (dots separate levels)")
                raise SpecError("bad-name", f"layer name '{e.name}' {why}", node=v)
        elif key == "from":
            e.from_node = v
        elif key == "repeat":
            e.repeat_node = v
        elif key == "trainable":
            e.trainable_node = v
        else:
            e.args.append((k, v))
    return e


class Builder:
    def __init__(self, spec: Spec, limits: Limits):
        self.spec = spec
        self.limits = limits
        self.net = Network(spec)
        self.block_stack: list[str] = []
        self.expanding: list[Node] = []  # entries of blocks/sequentials being expanded

    # -- lists ---------------------------------------------------------------------
    def build_list(self, seq: Node, inp: _Value, prefix: str, names: dict, parent, depth,
                   trainable: bool) -> _Value:
        if not isinstance(seq, Sequence) or not seq.items:
            raise SpecError("bad-layers", "layers must be a non-empty list", node=seq)
        entries = [_parse_entry(n, i) for i, n in enumerate(seq.items)]
        position = {}
        for i, e in enumerate(entries):
            if e.name in position:
                first = entries[position[e.name]]
                raise SpecError("duplicate-name", f"name '{e.name}' is used twice in this list "
                                f"(first at line {first.node.line})", node=e.name_node or e.node,
                                hint="names must be unique within one list")
            position[e.name] = i
        done: dict[str, _Value] = {}
        prev = inp
        for i, e in enumerate(entries):
            src = self._sources(e, i, done, position, entries, inp, prev)
            prev = self.build_entry(e, src, prefix, names, parent, depth, trainable)
            done[e.name] = prev
        return prev

    def _sources(self, e, i, done, position, entries, inp, prev) -> list[_Value]:
        if e.from_node is None:
            return [prev]
        node = e.from_node
        if isinstance(node, Sequence):
            items = node.items
        else:
            items = [node]
        out = []
        for item in items:
            if not isinstance(item, Scalar) or item.value is None or isinstance(item.value, bool):
                raise SpecError("bad-from", "`from` takes a name or a list of names", node=item)
            ref = str(item.value)
            if ref == "input":
                out.append(inp)
            elif ref in done:
                out.append(done[ref])
            elif ref in position:
                j = position[ref]
                if j == i:
                    raise SpecError("bad-from", f"'{ref}' cannot take its own output",
                                    node=item)
                raise SpecError("forward-reference", f"'{ref}' comes later in this list "
                                f"(line {entries[j].node.line}); `from` can only name earlier "
                                "entries", node=item, hint="reorder the entries")
            else:
                hint = did_you_mean(ref, list(position) + ["input"])
                if "." in ref:
                    hint = (hint + "; " if hint else "") + "`from` names entries of the same " \
                        "list (use the group's name for its output)"
                raise SpecError("unknown-name", f"`from` names '{ref}', which is not an "
                                "earlier entry of this list", node=item,
                                hint=hint or "`from` names entries of the same list, or input")
        if not out:
            raise SpecError("bad-from", "`from` needs at least one name", node=node)
        return out

    # -- entries -------------------------------------------------------------------
    def build_entry(self, e: _Entry, src: list, prefix: str, names: dict, parent, depth,
                    trainable: bool) -> _Value:
        full = f"{prefix}.{e.name}" if prefix else e.name
        if e.trainable_node is not None:
            v = e.trainable_node.value if isinstance(e.trainable_node, Scalar) else None
            if isinstance(e.trainable_node, Scalar) and isinstance(v, str):
                v = resolve_scalar(e.trainable_node, names)
            if not isinstance(v, bool):
                raise SpecError("bad-value", "trainable must be true or false",
                                node=e.trainable_node)
            trainable = trainable and v
        if e.repeat_node is None:
            return self.build_one(e, src, full, names, parent, depth, trainable)
        rnode = e.repeat_node
        if not isinstance(rnode, Scalar):
            raise SpecError("bad-value", "repeat must be an integer >= 1", node=rnode)
        n = as_int(resolve_scalar(rnode, names), rnode, "repeat", 1)
        if n > self.limits.max_layers:
            raise SpecError("too-many-layers", f"repeat {n} would create more than "
                            f"{self.limits.max_layers:,} layers", node=rnode,
                            hint="raise the bound with --max-layers if you mean it")
        gi = self._open_group(full, "repeat", e.type_name, parent, depth, e.node)
        before = len(self.net.layers)
        value = src
        for j in range(n):
            value = [self.build_one(e, value, f"{full}.{j}", names, gi, depth + 1, trainable)]
            if j == 0:
                per_copy = len(self.net.layers) - before
                if len(self.net.layers) + per_copy * (n - 1) > self.limits.max_layers:
                    raise SpecError("too-many-layers", f"repeat {n} of '{e.type_name}' "
                                    f"({per_copy:,} layers each) would exceed "
                                    f"{self.limits.max_layers:,} layers", node=rnode,
                                    hint="raise the bound with --max-layers if you mean it")
        self._close_group(gi, value[0])
        self.net.by_name[full] = ("group", gi)
        return value[0]

    def _open_group(self, name, kind, type_, parent, depth, node) -> int:
        g = Group(name=name, kind=kind, type=type_, parent=parent, depth=depth,
                  first=len(self.net.layers), node=node)
        self.net.groups.append(g)
        return len(self.net.groups) - 1

    def _close_group(self, gi, value: _Value):
        g = self.net.groups[gi]
        g.last = len(self.net.layers)
        g.output = value.shape
        self.net.by_name[g.name] = ("group", gi)

    def build_one(self, e: _Entry, src: list, full: str, names: dict, parent, depth,
                  trainable: bool) -> _Value:
        tname = e.type_name
        if tname in self.spec.blocks:
            return self.build_block(e, src, full, names, parent, depth, trainable)
        if REGISTRY.normalize(tname) == "sequential":
            return self.build_sequential(e, src, full, names, parent, depth, trainable)
        lt = REGISTRY.get(tname)
        if lt is None:
            choices = list(REGISTRY.canonical) + list(self.spec.blocks) + ["sequential"]
            hint = did_you_mean(tname, choices, REGISTRY.normalize) or \
                "`layercalc layers` lists every type"
            raise SpecError("unknown-layer", f"unknown layer type '{tname}'", node=e.type_node,
                            hint=hint)
        return self.build_leaf(lt, e, src, full, names, parent, depth, trainable)

    def build_block(self, e, src, full, names, parent, depth, trainable) -> _Value:
        bname = e.type_name
        bnode, _ = self.spec.blocks[bname]
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise SpecError("too-deep", f"blocks nest more than {MAX_BLOCK_DEPTH} deep here "
                            f"('{bname}' inside {' -> '.join(self.block_stack[:3])} -> ...)",
                            node=self.expanding[0] if self.expanding else e.type_node,
                            hint="flatten the block structure")
        if bname in self.block_stack:
            chain = " -> ".join(self.block_stack[self.block_stack.index(bname):] + [bname])
            raise SpecError("block-cycle", f"block '{bname}' uses itself ({chain})",
                            node=e.type_node, hint="a block cannot contain itself")
        if len(src) != 1:
            raise SpecError("bad-from", f"block '{bname}' takes one input, got {len(src)}",
                            node=e.from_node)
        declared = bnode.get("args")
        declared_items = declared.items if isinstance(declared, Mapping) else []
        declared_names = [k.value for k, _ in declared_items]
        scope = dict(self.spec.vars)
        given = {}
        for k, v in e.args:
            if k.value not in declared_names:
                raise SpecError("unknown-argument", f"block '{bname}' has no argument "
                                f"'{k.value}'", node=k,
                                hint=did_you_mean(str(k.value), declared_names + list(META_KEYS))
                                or ("it takes " + ", ".join(map(str, declared_names))
                                    if declared_names else "it takes no arguments"))
            given[k.value] = var_value(v, names, str(k.value), MODE_WORDS)
        for k, v in declared_items:
            if k.value in given:
                scope[k.value] = given[k.value]
            elif isinstance(v, Scalar) and v.value is None:
                raise SpecError("missing-argument", f"block '{bname}' needs argument "
                                f"'{k.value}'", node=e.type_node,
                                hint=f"add `{k.value}: ...` to this entry")
            else:
                scope[k.value] = var_value(v, scope, str(k.value), MODE_WORDS)
        gi = self._open_group(full, "block", bname, parent, depth, e.node)
        self.block_stack.append(bname)
        self.expanding.append(e.node)
        try:
            out = self.build_list(bnode.get("layers"), src[0], full, scope, gi, depth + 1,
                                  trainable)
        finally:
            self.block_stack.pop()
            self.expanding.pop()
        self._close_group(gi, out)
        return out

    def build_sequential(self, e, src, full, names, parent, depth, trainable) -> _Value:
        layers = None
        for k, v in e.args:
            if k.value == "layers":
                layers = v
            else:
                raise SpecError("unknown-argument", f"sequential takes `layers` (and the meta "
                                f"keys), not '{k.value}'", node=k,
                                hint=did_you_mean(str(k.value), ("layers",) + META_KEYS))
        if layers is None:
            raise SpecError("bad-entry", "sequential needs `layers:`", node=e.node)
        if len(src) != 1:
            raise SpecError("bad-from", f"sequential takes one input, got {len(src)}",
                            node=e.from_node)
        gi = self._open_group(full, "sequential", "sequential", parent, depth, e.node)
        self.expanding.append(e.node)
        try:
            out = self.build_list(layers, src[0], full, names, gi, depth + 1, trainable)
        finally:
            self.expanding.pop()
        self._close_group(gi, out)
        return out

    def build_leaf(self, lt: LayerType, e: _Entry, src, full, names, parent, depth,
                   trainable) -> _Value:
        if len(self.net.layers) >= self.limits.max_layers:
            # inside blocks, point at the outermost block use: that is what to change
            where = self.expanding[0] if self.expanding else e.node
            raise SpecError("too-many-layers", f"the network exceeds {self.limits.max_layers:,} "
                            "layers", node=where,
                            hint="raise the bound with --max-layers if you mean it")
        if len(src) > 1 and not lt.merge:
            raise SpecError("bad-from", f"{lt.name} takes one input, but `from` names "
                            f"{len(src)}", node=e.from_node,
                            hint="merge them first with add, mul or concat")
        a = {}
        arg_nodes = {}
        for k, v in e.args:
            arg = lt.arg_map.get(k.value)
            if arg is None:
                raise SpecError("unknown-argument", f"{lt.name} has no argument '{k.value}'",
                                node=k, hint=did_you_mean(str(k.value),
                                                          list(lt.arg_map) + list(META_KEYS))
                                or ("it takes " + ", ".join(lt.arg_map) if lt.arg_map else
                                    f"{lt.name} takes no arguments"))
            a[k.value] = convert(arg, v, names)
            arg_nodes[k.value] = v
        if e.from_node is not None:
            arg_nodes["from"] = e.from_node
        shapes = [v.shape for v in src]
        try:
            concrete = lt.pick(shapes)
            for arg in concrete.required_args:
                if arg.name not in a:
                    raise SpecError("missing-argument", f"{concrete.name} needs "
                                    f"'{arg.name}'", node=e.type_node,
                                    hint=f"add `{arg.name}: ...`" +
                                    (f" ({arg.doc})" if arg.doc else ""))
            a = {**concrete.defaults, **a}
            out = concrete.infer(a, shapes)
            tensors = concrete.tensors(a, shapes, out)
            macs = concrete.macs(a, shapes, out)
        except LayerError as exc:
            where = arg_nodes.get(exc.arg) if exc.arg else None
            if where is None and exc.arg is not None and exc.arg in a and exc.arg != "from":
                where = e.type_node  # a default value is at fault: point at the type
            raise SpecError(exc.code, exc.message, node=where or e.node,
                            hint=exc.hint) from None
        for t in tensors:
            if t.numel > self.limits.max_elements:
                raise SpecError("too-large", f"the {t.key} tensor {list(t.shape)} holds "
                                f"{t.numel:,} elements, beyond the bound of "
                                f"{self.limits.max_elements:,}", node=e.node)
        if prod(out) > self.limits.max_elements:
            raise SpecError("too-large", f"the output {list(out)} holds {prod(out):,} elements, "
                            f"beyond the bound of {self.limits.max_elements:,}", node=e.node)
        layer = Layer(name=full, type=concrete, args=a, inputs=[v.ref for v in src],
                      input_shapes=shapes, output=tuple(out), tensors=tensors, macs=macs,
                      trainable=trainable, node=e.node, arg_nodes=arg_nodes, group=parent,
                      depth=depth)
        self.net.by_name[full] = ("layer", len(self.net.layers))
        self.net.layers.append(layer)
        return _Value(full, layer.output)


def build(spec: Spec, limits: Limits | None = None) -> Network:
    """Resolve every layer of ``spec``: names, inputs, shapes, tensors, MACs."""
    limits = limits or Limits()
    b = Builder(spec, limits)
    try:
        with gc_paused():
            top = b.build_list(spec.layers, _Value("input", spec.input), "", spec.vars, None,
                               0, True)
    except RecursionError:
        raise SpecError("too-deep", "blocks and groups nest too deeply",
                        node=b.expanding[0] if b.expanding else spec.layers,
                        hint="flatten the structure") from None
    net = b.net
    if spec.outputs:
        for name, node in spec.outputs:
            hit = net.by_name.get(name)
            if hit is None:
                raise SpecError("unknown-name", f"outputs names '{name}', which is no layer",
                                node=node, hint=did_you_mean(name, list(net.by_name)))
            kind, i = hit
            net.outputs[name] = (net.layers[i].output if kind == "layer"
                                 else net.groups[i].output)
    else:
        net.outputs[top.ref if top.ref != "input" else "input"] = top.shape
    return net
