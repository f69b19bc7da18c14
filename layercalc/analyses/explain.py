"""Why each layer has its shape and its parameter count: the formulas with the numbers
plugged in, and the fully-connected comparison (sparse connectivity, weight sharing).

Pure: a resolved network in, structured explanations out; ``lines`` makes the text.
The shape arithmetic is printed from the same inputs layercalc.arith computes with, and
every printed result is the layer's real output size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from ..arith import (
    conv_transpose_output_size,
    prod,
    taps_on_input,
    transposed_taps_on_output,
    unread_count,
    unread_inputs,
)
from ..layers.base import dim_names
from .cost import batch_dim

# what a conv's padding holds, by padding_mode: only "zeros" adds nothing to the sum
PADDING = {
    "zeros": "zero padding",
    "reflect": "the reflect padding (the input mirrored at its border)",
    "replicate": "the replicate padding (copies of the border values)",
    "circular": "the circular padding (the input wrapped around)",
}
UNIT = {"length": "position", "depth": "plane", "height": "row", "width": "column"}


@dataclass
class Explanation:
    name: str
    type: str
    inputs: list
    output: tuple
    shape: list = field(default_factory=list)  # text lines
    params: list = field(default_factory=list)
    compare: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # the numbers behind compare
    call: int = 1  # another call of a shared module: 2, 3, ... (SPEC.md section 11)

    @property
    def shown_type(self) -> str:
        """The type as tables show it: another call of a module says which."""
        return self.type if self.call == 1 else f"{self.type} (call {self.call})"


def num(n) -> str:
    return f"{n:,}"


def _frac(x: Fraction) -> str:
    """31.5, 21.6667, 999999998.5: every integer digit and up to 4 decimals (not 1e+09)."""
    if x.denominator == 1:
        return str(int(x))
    return f"{float(x):.{len(str(abs(int(x)))) + 4}g}"


def _ranges(values: list[int]) -> str:
    parts = []
    start = prev = None
    for v in values + [None]:
        if start is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
        start = prev = v
    return ", ".join(parts)


def _unread_note(dim: str, n: int, k: int, s: int, left: int, d: int, out: int) -> str:
    count = unread_count(n, k, s, left, d, out)
    if not count:  # none, or not countable (a padding of ~10^12)
        return ""
    unit = UNIT.get(dim, "position")
    unread = unread_inputs(n, k, s, left, d, out, at_most=4)
    if unread:
        where = f"input {unit}{'s' if len(unread) > 1 else ''} {_ranges(unread)} (0-based)"
        return f"      {where} {'are' if len(unread) > 1 else 'is'} never read"
    return f"      {count:,} of {n:,} input {unit}s are never read"


def _window_lines(dims, sp_in, sp_out, k, s, lefts, rights, d, ceil_mode=False):
    """Shape lines of a conv or pool: floor (or ceil) formula per spatial dim."""
    lines = []
    dilated = any(v != 1 for v in d)
    sym = all(a == b for a, b in zip(lefts, rights))
    pad = "2·p" if sym else "p_left + p_right"
    kern = "d·(k − 1) − 1" if dilated else "k"
    rnd = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    lines.append(f"out = {rnd[0]}(n + {pad} − {kern}) / s{rnd[1]} + 1")
    for i, dim in enumerate(dims):
        n, o = sp_in[i], sp_out[i]
        padt = f"2·{lefts[i]}" if sym else f"{lefts[i]} + {rights[i]}"
        kt = f"{d[i]}·({k[i]} − 1) − 1" if dilated else f"{k[i]}"
        num_ = n + lefts[i] + rights[i] - d[i] * (k[i] - 1) - 1
        expr = f"({n} + {padt} − {kt}) / {s[i]}"
        q = Fraction(num_, s[i])
        if q.denominator == 1:
            text = f"{expr} + 1 = {int(q) + 1}"
            raw = int(q) + 1
        else:
            raw = (num_ // s[i] if not ceil_mode else -(-num_ // s[i])) + 1
            text = f"{rnd[0]}{expr}{rnd[1]} + 1 = {rnd[0]}{_frac(q)}{rnd[1]} + 1 = {raw}"
        if raw != o:  # ceil_mode's last-window rule
            text += (
                f"; the last window would start at ({raw} − 1)·{s[i]} = {(raw - 1) * s[i]}"
                f" ≥ n + p = {n + lefts[i]}, inside the right padding, so PyTorch "
                f"drops it: {o}"
            )
        lines.append(f"  {dim}: {text}")
        if not ceil_mode:
            if q.denominator != 1:
                dropped = num_ % s[i]
                note = _unread_note(dim, n, k[i], s[i], lefts[i], d[i], o)
                lines.append(
                    f"      floor drops a remainder of {dropped}"
                    + (
                        ""
                        if note
                        else f" (only padding: every input "
                        f"{UNIT.get(dim, 'position')} is still read)"
                    )
                )
                if note:
                    lines.append(note)
            elif s[i] > d[i] * (k[i] - 1) + 1:
                note = _unread_note(dim, n, k[i], s[i], lefts[i], d[i], o)
                if note:
                    lines.append(note + f" (stride {s[i]} > kernel span {d[i] * (k[i] - 1) + 1})")
            elif k[i] > 1 and math.gcd(s[i], d[i]) > 1:
                note = _unread_note(dim, n, k[i], s[i], lefts[i], d[i], o)
                if note:
                    g = math.gcd(s[i], d[i])
                    lines.append(
                        note + f" (stride {s[i]} and dilation {d[i]} share the factor {g})"
                    )
    return lines


def _shape(layer) -> list[str]:
    lt = layer.type
    a = layer.args
    if not layer.input_shapes:
        return [f"no input: a tensor of its own, shape {list(layer.output)}"]
    shape = layer.input_shapes[0]
    own = lt.explain_shape(a, layer.input_shapes, layer.output)
    if own:
        return own
    g = lt.geometry(a)
    if g is not None and g.transposed:
        lines = ["out = (n − 1)·s − 2·p + d·(k − 1) + output_padding + 1"]
        for i, dim in enumerate(dim_names(g.dims)):
            n, k, s, p, d, op = (
                shape[-g.dims :][i],
                g.kernel[i],
                g.stride[i],
                g.lefts[i],
                g.dilation[i],
                g.output_padding[i],
            )
            o = conv_transpose_output_size(n, k, s, p, d, op)
            lines.append(f"  {dim}: ({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {o}")
        lines.append(f"channels: {a['in_channels']} -> {a['out_channels']} (out_channels)")
        return lines
    if g is not None:
        lines = _window_lines(
            dim_names(g.dims),
            shape[-g.dims :],
            layer.output[-g.dims :],
            g.kernel,
            g.stride,
            g.lefts,
            g.rights,
            g.dilation,
            g.ceil_mode,
        )
        if not lt.linear_map:  # a pool
            if a["stride"] is None:
                lines.insert(0, "stride defaults to kernel_size")
            lines.append("channels unchanged")
            return lines
        if a["padding"] == "same":
            lines.append(
                "padding='same': total d·(k − 1) split left "
                + ", ".join(f"{x}" for x in g.lefts)
                + ", right "
                + ", ".join(f"{x}" for x in g.rights)
            )
        lines.append(f"channels: {a['in_channels']} -> {a['out_channels']} (out_channels)")
        return lines
    ins = layer.input_shapes
    if len(ins) > 1:
        if len(set(map(tuple, ins))) == 1:
            return [f"{len(ins)} inputs of shape {list(ins[0])} merged element-wise"]
        return [
            "broadcast " + " and ".join(str(list(s)) for s in ins) + f" -> {list(layer.output)}"
        ]
    if tuple(shape) == tuple(layer.output):
        return ["shape unchanged"]
    if prod(shape) == prod(layer.output):
        return [
            f"same {num(prod(shape))} elements rearranged: {list(shape)} -> {list(layer.output)}"
        ]
    return [f"{list(shape)} -> {list(layer.output)}"]


def _product(shape) -> str:
    return "·".join(str(v) for v in reversed(shape))


def _params(layer) -> list[str]:
    own = layer.type.explain_params(layer.args, layer.input_shapes, layer.output)
    if own:
        return own
    params = [t for t in layer.tensors if not t.buffer]
    buffers = [t for t in layer.tensors if t.buffer]
    lines = []
    if not params:
        if not layer.ties:
            lines.append("no parameters")
    else:
        parts = []
        for t in params:
            key = t.key or "the tensor"  # a free parameter's own (state_dict key: its name)
            if len(t.shape) > 1:
                parts.append(f"{key} {_product(t.shape)} = {num(t.numel)}")
            else:
                parts.append(f"{key} {num(t.numel)}")
        text = " + ".join(parts)
        has_bias = any(t.key == "bias" for t in params)
        if layer.type.linear_map and not has_bias:
            text += ", no bias"
        if len(params) > 1:
            text += f"; total {num(layer.params)}"
        window = layer.type.geometry(layer.args) if layer.type.linear_map else None
        if window is not None and not window.transposed and layer.args["groups"] != 1:
            g = layer.args["groups"]
            text += f" (in_channels/groups = {layer.args['in_channels']}/{g})"
        if window is not None and window.transposed:
            text += " (weight is (in, out/groups, *k))"
        lines.append(text)
    for key, target, shape in layer.ties:  # `tie:` one tensor under two keys (GPT-2's head)
        lines.append(
            f"{key} {_product(shape)} = {num(prod(shape))} is {target}, tied: one "
            "tensor, counted once, there"
        )
    if buffers:
        lines.append(
            "buffers: "
            + " + ".join(f"{t.key or 'the tensor'} {num(t.numel)}" for t in buffers)
            + (f" = {num(layer.buffers)}" if len(buffers) > 1 else "")
            + " (not parameters)"
        )
    return lines


def _batch(shape, dims) -> int:
    return shape[0] if len(shape) == dims + 2 else 1


def _compare(layer, bdim: int | None = 0):
    """Dense-equivalent weights, real connections and weight sharing (per sample: the
    batch is dim ``bdim`` of a 3-D or larger input, as :func:`cost.batch_dim` finds it
    for the network; None: an unbatched network, one sample)."""
    lt = layer.type
    a = layer.args
    if not layer.input_shapes:
        return [], {}
    shape = layer.input_shapes[0]
    weights = sum(t.numel for t in layer.tensors if not t.buffer and t.key == "weight") + sum(
        prod(shape) for key, _, shape in layer.ties if key == "weight"
    )
    touch = "touch real data"
    w = lt.geometry(a) if lt.linear_map else None
    if w is not None:  # a conv or transposed conv
        n = _batch(shape, w.dims)
        sp_in, sp_out = shape[-w.dims :], layer.output[-w.dims :]
        c_in, c_out, g = a["in_channels"], a["out_channels"], a["groups"]
        inputs = c_in * prod(sp_in)
        outputs = c_out * prod(sp_out)
        macs = layer.macs // n
        if not w.transposed:
            fan_in = (c_in // g) * prod(w.kernel)
            real = (
                c_out
                * (c_in // g)
                * prod(
                    taps_on_input(
                        sp_in[i], w.kernel[i], w.stride[i], w.lefts[i], w.dilation[i], sp_out[i]
                    )
                    for i in range(w.dims)
                )
            )
            mode = a["padding_mode"]
            waste = PADDING.get(mode, f"the {mode} padding")
            if mode != "zeros":  # that padding is data too, read at a second place
                touch = "read the input itself"
        else:
            fan_in = None
            real = (
                c_in
                * (c_out // g)
                * prod(
                    transposed_taps_on_output(
                        sp_in[i], w.kernel[i], w.stride[i], w.lefts[i], w.dilation[i], sp_out[i]
                    )
                    for i in range(w.dims)
                )
            )
            waste = "the cropped border (padding)"
    elif lt.dense:
        n = 1  # a 1-D input is one sample, and so is an unbatched network's
        if len(shape) >= 2 and bdim is not None:
            n = shape[1] if bdim and len(shape) >= 3 else shape[0]
        inputs = prod(shape) // n
        outputs = prod(layer.output) // n
        macs = layer.macs // n
        fan_in = a["in_features"]
        real = macs
        waste = ""
    else:
        return [], {}
    dense = inputs * outputs
    fig = {
        "inputs": inputs,
        "outputs": outputs,
        "dense_weights": dense,
        "weights": weights,
        "connections": macs,
        "connections_on_data": real,
        "sharing": macs / weights if weights else 0.0,
    }
    lines = []
    ratio = dense / weights if weights else 0
    if dense == weights:
        lines.append(
            f"fully connected: {num(inputs)} inputs × {num(outputs)} outputs = "
            f"{num(dense)} weights; this layer is one"
        )
    else:
        lines.append(
            f"fully connected: {num(inputs)} inputs × {num(outputs)} outputs would "
            f"need {num(dense)} weights, {_ratio(ratio)} this layer's {num(weights)}"
        )
    conn = f"connections: {num(macs)} multiply-adds per sample"
    if fan_in is not None and fan_in != inputs:
        conn += (
            f"; each output reads {num(fan_in)} of the {num(inputs)} inputs "
            f"({_pct(fan_in / inputs)}, sparse connectivity)"
        )
    lines.append(conn)
    if real != macs:
        lines.append(f"  {num(real)} of them {touch}, {num(macs - real)} fall on {waste}")
    share = macs / weights if weights else 0
    if weights:
        if macs == weights:
            lines.append("weight sharing: none, every weight is used once per sample")
        else:
            lines.append(
                f"weight sharing: {num(macs)} / {num(weights)} = {_ratio(share)[:-1]}: "
                f"each weight is used {_ratio(share)[:-1]} times per sample"
            )
    return lines, fig


def _ratio(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}×"
    return f"{x:,.1f}×"


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def explain(net, name: str | None = None) -> list[Explanation]:
    """Explanations for every layer, or for one leaf layer or group (its leaves) named
    ``name``. Raises KeyError for an unknown name."""
    layers = net.layers
    if name is not None:
        hit = net.by_name.get(name)
        if hit is None:
            raise KeyError(name)
        kind, i = hit
        if kind == "layer":  # with every later call of it (`share`)
            layers = [
                layer
                for layer in net.layers[i:]
                if layer.name == name and (layer is net.layers[i] or layer.shares == i)
            ]
        else:
            g = net.groups[i]
            layers = net.layers[g.first : g.last]
    out = []
    bdim = batch_dim(net)
    # what the parts read, as a key: a network repeats a few dozen layer records (the
    # builder shares equal arguments and tensors), and each is worked out once; layers
    # of one record share its lists (nothing changes them), so a view can also render
    # each record's text once (layercalc.views.explain_table)
    memo: dict = {}
    shapes: dict = {}  # the input and output lists, shared the same way
    for layer in layers:
        ins = tuple(layer.input_shapes)
        io = shapes.get((ins, layer.output))
        if io is None:
            io = shapes[ins, layer.output] = ([list(s) for s in ins], tuple(layer.output))
        if layer.shares is not None:  # another call: the module's parameters, counted once
            first = net.layers[layer.shares]
            params = [
                f"shares the {num(first.params)} parameters"
                + (f" and {num(first.buffers)} buffers" if first.buffers else "")
                + " of its first call (counted once, as PyTorch's parameters() "
                "does)"
                if first.params or first.buffers
                else "no parameters (another call of the same module)"
            ]
            compare, fig = [], {}
            shape = _shape(layer)
        else:
            key = (
                layer.type,
                id(layer.args),
                id(io),  # the input and output shapes (io lives in shapes till the end)
                id(layer.tensors),
                layer.ties,
                layer.params,
                layer.buffers,
                layer.macs,
            )
            hit = memo.get(key)
            if hit is None or hit[0] is not layer.args or hit[1] is not layer.tensors:
                hit = memo[key] = (
                    layer.args,
                    layer.tensors,
                    _params(layer),
                    *_compare(layer, bdim),
                    _shape(layer),
                )
            _, _, params, compare, fig, shape = hit
        out.append(
            Explanation(
                layer.name,
                layer.type.name,
                io[0],
                io[1],
                shape,
                params,
                compare,
                fig,
                call=layer.call,
            )
        )
    return out


def head_line(e: Explanation) -> str:
    """An explanation's first line: the layer, its type, its input and output shapes."""
    return f"{e.name} ({e.shown_type}): {shapes_text(e)}"


def shapes_text(e: Explanation) -> str:
    """``[1, 3, 8, 8] -> [1, 6, 8, 8]``: the end of head_line."""
    # several inputs are listed, not summed (a mul, a concat, attention's q, k, v); a
    # free parameter has none
    ins = ", ".join(str(s) for s in e.inputs)
    return (f"{ins} -> " if ins else "") + f"{list(e.output)}"


def body_lines(e: Explanation) -> list[str]:
    """The lines under head_line: the same for every layer of one record."""
    out = ["  shape: " + e.shape[0]] + ["  " + x for x in e.shape[1:]]
    out += ["  params: " + e.params[0]] + ["  " + x for x in e.params[1:]]
    out += ["  " + x for x in e.compare]
    return out


def lines(e: Explanation) -> list[str]:
    """An explanation as indented text lines."""
    return [head_line(e), *body_lines(e)]
