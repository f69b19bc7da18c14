"""Networks -> plain data: the JSON object of SPEC.md section 7 and the table views.

Numbers stay numbers here; renderers (layercalc.render) turn them into text.
"""

from __future__ import annotations

from ..graph import Network, gc_paused

INT64_BYTES = 8


def tensor_bytes(net: Network, tensors, buffers: bool) -> int:
    size = net.dtype_bytes
    return sum(
        t.numel * (INT64_BYTES if t.dtype == "int64" else size)
        for t in tensors
        if t.buffer == buffers
    )


# id(a tensor list) -> (the list, its bias elements): 100,000 layers share a few dozen
# lists (graph.Builder); holding the list keeps its id from being reused
_BIAS: dict = {}
MAX_BIAS = 4096


def split_params(layer) -> tuple[int, int]:
    """(weights, bias) parameter counts of a layer; every non-bias parameter is a weight."""
    tensors = layer.tensors
    hit = _BIAS.get(id(tensors))
    if hit is None or hit[0] is not tensors:
        if len(_BIAS) >= MAX_BIAS:
            _BIAS.clear()
        hit = _BIAS[id(tensors)] = (
            tensors,
            sum(t.numel for t in tensors if not t.buffer and t.is_bias),
        )
    return layer.params - hit[1], hit[1]


def output_json(net: Network):
    """SPEC.md section 7: a list of ints, a mapping name -> shape with several outputs
    (one name in `outputs:` is still one output)."""
    if len(net.outputs) == 1:
        return list(next(iter(net.outputs.values())))
    return {k: list(v) for k, v in net.outputs.items()}


def network_json(net: Network, stream: bool = False) -> dict:
    """SPEC.md section 7's network object. ``stream``: its ``layers`` an iterator making
    each layer's object as the renderer writes it (render.render_json takes either), so
    100,000 layers' objects are never held at once."""
    with gc_paused():
        out = _network_json(net)
    if not stream:
        out["layers"] = list(out["layers"])
    return out


def network_totals(net: Network) -> dict:
    """SPEC.md's totals (params, trainable, buffers, macs) plus weights, bias, flops,
    parameter and buffer bytes, and the number of layers."""
    totals = net.totals()
    weights = bias = param_bytes = buffer_bytes = 0
    sizes: dict = {}  # id(a tensor list) -> its bytes: equal lists are one (net holds them)
    for layer in net.layers:
        w, b = split_params(layer)
        weights += w
        bias += b
        tensors = layer.tensors
        size = sizes.get(id(tensors))
        if size is None:
            size = sizes[id(tensors)] = (
                tensor_bytes(net, tensors, False),
                tensor_bytes(net, tensors, True),
            )
        param_bytes += size[0]
        buffer_bytes += size[1]
    totals.update(
        {
            "weights": weights,
            "bias": bias,
            "flops": 2 * totals["macs"],
            "param_bytes": param_bytes,
            "buffer_bytes": buffer_bytes,
            "layers": len(net.layers),
        }
    )
    return totals


def _network_json(net: Network) -> dict:
    return {
        "file": net.spec.file,
        "name": net.spec.name,
        "dtype": net.spec.dtype,
        "input": net.spec.input_json(),
        "output": output_json(net),
        "layers": _layer_objects(net),
        "totals": network_totals(net),
    }


def _layer_objects(net: Network):
    """Each layer's JSON object, in order."""
    # equal shapes and arguments are one object each in the payload, as in the layers
    # (graph.Builder shares them): 100,000 layers' own copies held 30 MB
    shapes: dict = {}
    summaries: dict = {}
    for layer in net.layers:
        w, b = split_params(layer)
        ins = layer.input_shapes
        key = tuple(ins)
        input_json = shapes.get(key)
        if input_json is None:
            input_json = shapes[key] = [list(s) for s in ins]
        out_json = shapes.get(layer.output)
        if out_json is None:
            out_json = shapes[layer.output] = list(layer.output)
        hit = summaries.get(id(layer.args))
        if hit is None or hit[0] is not layer.args or hit[1] is not layer.type:
            hit = summaries[id(layer.args)] = (
                layer.args,
                layer.type,
                layer.type.summary(layer.args),
            )
        obj = {
            "name": layer.name,
            "type": layer.type.name,
            "input": input_json,
            "output": out_json,
            "params": layer.params,
            "trainable": layer.trainable_params,
            "buffers": layer.buffers,
            "macs": layer.macs,
            "from": list(layer.inputs),
            "weights": w,
            "bias": b,
            "args": hit[2],
        }
        if layer.call != 1:  # another call of a shared module (SPEC.md section 11)
            obj["call"] = layer.call
        if layer.key_name is not None:  # renamed by `torch_name`: its path in PyTorch
            obj["torch_path"] = layer.key_name
        if layer.ties:  # tied tensors: this layer's key -> the tensor it is (counted there)
            obj["tied"] = {k: target for k, target, _ in layer.ties}
        if layer.named_outputs is not None:  # a type with several outputs: each by name
            obj["outputs"] = {n: list(s) for n, s in layer.named_outputs}
        yield obj


def error_json(file: str, diagnostics) -> dict:
    return {
        "file": file,
        "errors": [d.as_json() for d in diagnostics if d.severity == "error"],
        "warnings": [d.as_json() for d in diagnostics if d.severity == "warning"],
    }


class Row:
    """One table row: a leaf layer, a group header, or a collapsed group (``kind``
    "layer", "group" or "collapsed"), with its input shapes and producer names."""

    __slots__ = (
        "kind",
        "level",
        "name",
        "type",
        "args",
        "inputs",
        "sources",
        "output",
        "weights",
        "bias",
        "params",
        "trainable",
        "buffers",
        "macs",
        "ref",
        "outputs",
    )

    def __init__(
        self,
        kind: str,
        level: int,
        name: str,
        type: str,
        args: str,
        inputs: list,
        sources: list,
        output: tuple,
        weights=0,
        bias=0,
        params=0,
        trainable=0,
        buffers=0,
        macs=0,
    ):
        self.kind = kind
        self.level = level
        self.name = name
        self.ref = name  # a layer's ref (NAME@CALL for another call of a module)
        self.outputs = None  # a type with several outputs: ((name, shape), ...)
        self.type = type
        self.args = args
        self.inputs = inputs
        self.sources = sources
        self.output = output
        self.weights = weights
        self.bias = bias
        self.params = params
        self.trainable = trainable
        self.buffers = buffers
        self.macs = macs


def rows(net: Network, depth: int | None = None) -> list[Row]:
    """Rows in execution order, with group headers; groups at ``depth`` or deeper are
    collapsed into one row with their totals (as torchinfo's depth does)."""
    out: list[Row] = []
    starts: dict[int, list[int]] = {}
    for gi, g in enumerate(net.groups):
        starts.setdefault(g.first, []).append(gi)
    layers = net.layers
    # id(an args dict) -> (its layer type, the summary): the builder shares one dict
    # among the equal layers of a long network, and summaries (a convolution's most of
    # all) cost more than the rest of a row; the layers hold the dicts, so ids stay put
    summaries: dict = {}
    i = 0
    n = len(layers)
    while i < n:
        collapsed = False
        for gi in starts.get(i, ()):
            g = net.groups[gi]
            members = layers[g.first : g.last]
            sums = _sums(members)
            if depth is not None and g.depth >= depth:
                src = members[0].input_shapes if members else []
                out.append(
                    Row(
                        "collapsed",
                        g.depth,
                        g.name,
                        _called(g.type, g.call),
                        f"{len(members)} layers",
                        list(src),
                        list(members[0].inputs) if members else [],
                        g.output,
                        **sums,
                    )
                )
                i = g.last
                collapsed = True
                break
            out.append(
                Row("group", g.depth, g.name, _called(g.type, g.call), "", [], [], g.output, **sums)
            )
        if collapsed:
            continue
        layer = layers[i]
        w, b = split_params(layer)
        lt, args = layer.type, layer.args
        hit = summaries.get(id(args))
        if hit is None or hit[0] is not lt:
            hit = summaries[id(args)] = (lt, lt.summary(args))
        row = Row(
            "layer",
            layer.depth,
            layer.name,
            _called(lt.name, layer.call),
            hit[1],
            list(layer.input_shapes),
            list(layer.inputs),
            layer.output,
            w,
            b,
            layer.params,
            layer.trainable_params,
            layer.buffers,
            layer.macs,
        )
        row.ref = layer.ref
        row.outputs = layer.named_outputs
        out.append(row)
        i += 1
    return out


def collapse(net: Network, items: list, depth: int | None, merge) -> list:
    """Per-layer ``items`` (one per net.layers row: costs, fields, checks) as a table
    shows them at ``depth``: a group nested ``depth`` deep or more becomes one item,
    ``merge(group, its items, the item of the row producing its output)``, the others
    stay; None keeps every row (the same rule as :func:`rows`)."""
    if depth is None:
        return list(items)
    starts: dict[int, list[int]] = {}
    for gi, g in enumerate(net.groups):
        if g.depth >= depth:
            starts.setdefault(g.first, []).append(gi)
    out = []
    i, n = 0, len(net.layers)
    while i < n:
        gi = min(starts.get(i, ()), default=None)  # the outermost group starting here
        if gi is None:
            out.append(items[i])
            i += 1
            continue
        g = net.groups[gi]
        span = items[g.first : g.last]
        last = next(
            (
                items[k]
                for k in range(g.last - 1, g.first - 1, -1)
                if any(ref == g.ref for ref, _ in net.layers[k].produced())
            ),
            span[-1],
        )
        out.append(merge(g, span, last))
        i = max(g.last, i + 1)
    return out


def _called(type_name: str, call: int) -> str:
    """A type as a table shows it: another call of a shared module says which call."""
    return type_name if call == 1 else f"{type_name} (call {call})"


def _sums(members) -> dict:
    w = b = 0
    for layer in members:
        lw, lb = split_params(layer)
        w += lw
        b += lb
    return {
        "weights": w,
        "bias": b,
        "params": sum(layer.params for layer in members),
        "trainable": sum(layer.trainable_params for layer in members),
        "buffers": sum(layer.buffers for layer in members),
        "macs": sum(layer.macs for layer in members),
    }
