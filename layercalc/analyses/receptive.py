"""Receptive fields (``receptive_fields``), per layer and per spatial dim, following Araujo,
Norris & Sim (Distill 2019), in input pixels and ignoring the input's borders (padding
positions count as positions): ``size`` r, the span of input positions one output
position depends on (holes of dilated kernels included); ``jump`` j, the distance in
input pixels between two neighbouring output positions; ``start``, the first input
position the output at index 0 depends on (negative: it starts in the padding).
A window (kernel k, stride s, left padding p, dilation d) maps r <- r + d(k-1)·j,
start <- start - p·j, j <- j·s. Merges (add, mul, concat on channels) take the union of
their branches, which needs equal jumps (else undefined).

Transposed convolution (not covered by the paper): output o receives input i through
tap t exactly when i·s - p + t·d = o, so o depends on the inputs
{(o + p - t·d) / s : 0 <= t < k, s divides o + p - t·d}. The jump becomes j / s (a
fraction), the per-position span is no longer the same for every output position, and
r is defined as the largest span over output positions (it repeats with a period of
the product of the transposed strides). Layers downstream of a transposed conv are
therefore computed exactly, by mapping each output position of one period back to the
input interval it depends on; without transposed convs the closed forms above are exact
and used directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from ..layers.base import Window

MAX_RF_WORK = 5_000_000  # (position, tap) steps the exact transposed-conv traces may take


class Field(NamedTuple):
    """Receptive field of one layer along one spatial dim, in input pixels. (A named
    tuple: made for every layer and dim, where a frozen dataclass costs 3x as much.)"""

    size: int
    jump: int | Fraction  # a Fraction only below a transposed conv
    start: int

    @property
    def jump_text(self) -> str:
        return str(self.jump)


@dataclass
class LayerField:
    name: str
    type: str
    output: tuple
    fields: tuple | None  # one Field per spatial dim, or None
    note: str = ""
    call: int = 1  # another call of a shared module: 2, 3, ... (SPEC.md section 11)

    @property
    def shown_type(self) -> str:
        """The type as tables show it: another call of a module says which."""
        return self.type if self.call == 1 else f"{self.type} (call {self.call})"


class _Undefined:
    def __init__(self, note: str):
        self.note = note


def _spatial_rank(net) -> int:
    """The input's spatial dims: all but (N, C), or but C when it is unbatched."""
    from .cost import batch_dim

    lead = 1 if net.input and batch_dim(net) is None else 2
    return max(0, len(net.input) - lead)


def _conv_step(f: Field, k: int, s: int, p: int, d: int) -> Field:
    return Field(f.size + d * (k - 1) * f.jump, f.jump * s, f.start - p * f.jump)


def _transposed(layer):
    """The window of a transposed conv, or None."""
    w = layer.type.geometry(layer.args)
    return w if w is not None and w.transposed else None


def _tracer_window(layer):
    """What the tracer follows through ``layer``: its transposed-conv :class:`Window`,
    else its ``window`` (per dim (kernel, stride, left padding, dilation); () keeps
    positions; None undefined)."""
    w = _transposed(layer)
    if w is not None:
        return w
    return layer.type.window(layer.args, layer.input_shapes, layer.output)


class _TooCostly(Exception):
    pass


class _Tracer:
    """Maps output positions of one layer back to the network-input positions they
    depend on, exactly (as sets: dilated kernels leave holes that a following
    transposed conv would otherwise fill in). Every (position, tap) step is paid from
    ``budget``; past it, tracing raises _TooCostly (huge kernels would take hours)."""

    def __init__(self, net, windows, budget: int = MAX_RF_WORK):
        self.net = net
        self.windows = windows  # layer index -> window tuple, (), or a transposed Window
        self._index = None
        self.inputs = net.spec.input_refs()
        self.first = next(iter(self.inputs))
        self.budget = budget

    @property
    def index(self) -> dict:
        """Ref -> index of the layer producing it; made on the first trace (a network
        without transposed convs never traces)."""
        if self._index is None:
            self._index = {
                ref: i for i, layer in enumerate(self.net.layers) for ref, _ in layer.produced()
            }
        return self._index

    def _spend(self, steps: int):
        self.budget -= steps
        if self.budget < 0:
            raise _TooCostly

    def positions(self, li: int, axis: int, outputs) -> set:
        need = {li: set(outputs)}
        result: set = set()
        for i in range(li, -1, -1):
            pos = need.pop(i, None)
            if not pos:
                continue
            layer = self.net.layers[i]
            w = self.windows[i]
            if isinstance(w, Window):  # a transposed conv
                k, s, p, d = w.kernel[axis], w.stride[axis], w.lefts[axis], w.dilation[axis]
                self._spend(len(pos) * k)
                src = {
                    (o + p - t * d) // s for o in pos for t in range(k) if (o + p - t * d) % s == 0
                }
            elif w == ():
                self._spend(len(pos))
                src = pos
            else:
                k, s, p, d = w[axis]
                self._spend(len(pos) * k)
                src = {s * o - p + t * d for o in pos for t in range(k)}
            for name in layer.inputs:
                if name == self.first:
                    result |= src
                elif name in self.inputs:
                    continue  # another network input: fields are the first input's
                else:
                    need.setdefault(self.index[name], set()).update(src)
        return result

    def interval(self, li: int, axis: int, lo: int, hi: int):
        got = self.positions(li, axis, range(lo, hi + 1))
        return (min(got), max(got)) if got else None


NO_SPATIAL_DIMS = "no spatial dims"  # every layer's note when the input has none


def receptive_fields(net) -> list[LayerField]:
    """Receptive field size, jump and start per layer and spatial dim (see module doc)."""
    rank = _spatial_rank(net)
    unbatched = bool(net.input) and len(net.input) - rank == 1
    out: list[LayerField] = []
    if rank == 0:
        return [
            LayerField(
                layer.name,
                layer.type.name,
                tuple(layer.output),
                None,
                NO_SPATIAL_DIMS,
                call=layer.call,
            )
            for layer in net.layers
        ]
    # jumps stay ints (fast) until a transposed conv divides one into a Fraction
    refs = list(net.spec.input_refs())
    # a network with several inputs: fields are measured on the first
    state: dict[str, object] = dict.fromkeys(
        refs[1:], _Undefined("undefined: it reads a network input other than the first")
    )
    state[refs[0]] = tuple(Field(1, 1, 0) for _ in range(rank))
    # per axis, a period of the output-position -> input-interval map (the product of
    # the transposed strides upstream), or None while no transposed conv is upstream
    # (the closed forms are exact)
    period: dict[str, tuple | None] = dict.fromkeys(refs)
    windows: dict[int, object] = {}
    tracer = _Tracer(net, windows)
    # layers of one record (type, arguments, shapes) have one window: each found once
    found: dict = {}
    for i, layer in enumerate(net.layers):
        srcs = []
        bad = None
        pers = []
        for n in layer.inputs:
            src = state[n]
            if bad is None and isinstance(src, _Undefined):
                bad = src
            srcs.append(src)
            if period[n] is not None:
                pers.append(period[n])
        per = tuple(math.lcm(*(p[a] for p in pers)) for a in range(rank)) if pers else None
        res: object
        if bad is not None:
            res = _Undefined(bad.note)
        elif unbatched and layer.type.batched_window:
            res = _Undefined(f"undefined after {layer.type.name} of an unbatched input")
        else:
            key = (layer.type, id(layer.args), tuple(layer.input_shapes), layer.output)
            hit = found.get(key)
            if hit is None or hit[0] is not layer.args:
                tw = _transposed(layer)
                w = (
                    None
                    if tw is not None
                    else layer.type.window(layer.args, layer.input_shapes, layer.output)
                )
                hit = found[key] = (layer.args, tw, w)
            _, tw, w = hit
            if tw is not None:
                windows[i] = tw
                res = _tconv_forward(layer, tw, srcs[0], rank)
                if not isinstance(res, _Undefined):
                    per = tuple(v * s for v, s in zip(per or (1,) * rank, tw.stride))
            else:
                windows[i] = w
                res = _forward(layer, w, srcs, rank)
        if not isinstance(res, _Undefined):
            if per is None:
                res = _whole(res)
            else:
                try:
                    res = _exact(tracer, i, res, rank, per)
                except _TooCostly:
                    res = _Undefined("too costly to trace exactly")
        for ref, _ in layer.produced():  # a type with several outputs: the same field each
            state[ref] = res
            period[ref] = per
        if isinstance(res, _Undefined):
            out.append(
                LayerField(
                    layer.name,
                    layer.type.name,
                    tuple(layer.output),
                    None,
                    res.note,
                    call=layer.call,
                )
            )
        else:
            out.append(
                LayerField(layer.name, layer.type.name, tuple(layer.output), res, call=layer.call)
            )
    return out


def _whole(fields: tuple) -> tuple:
    """``fields`` with int sizes and starts (``fields`` itself when they are, as they
    are without a transposed conv upstream: no new tuple per layer)."""
    for f in fields:
        if type(f.size) is not int or type(f.start) is not int:
            return tuple(Field(int(f.size), f.jump, int(f.start)) for f in fields)
    return fields


def _forward(layer, w, srcs, rank):
    if w is None:
        return _Undefined(f"undefined after {layer.type.name}")
    shapes = layer.input_shapes
    n = len(layer.output)
    if n < rank or not all(len(s) == n for s in shapes):
        return _Undefined(f"undefined after {layer.type.name}")
    if w == ():
        out_sp = tuple(layer.output[-rank:])
        for s in shapes:
            if tuple(s[-rank:]) != out_sp:
                return _Undefined(
                    f"undefined: {layer.type.name} of inputs with different "
                    "spatial sizes (broadcast or spatial concat)"
                )
        if len(srcs) == 1:
            return srcs[0]
        fields = []
        for axis in range(rank):
            fs = [s[axis] for s in srcs]
            if len({f.jump for f in fs}) != 1:
                return _Undefined(f"undefined: {layer.type.name} of branches with different jumps")
            start = min(f.start for f in fs)
            end = max(f.start + f.size - 1 for f in fs)
            fields.append(Field(end - start + 1, fs[0].jump, start))
        return tuple(fields)
    if len(w) != rank:
        return _Undefined(f"undefined after {layer.type.name}")
    return tuple([_conv_step(f, *step) for f, step in zip(srcs[0], w)])


def _tconv_forward(layer, w, src, rank):
    """Jump and a provisional field; size and start are replaced by the exact trace."""
    k, s = w.kernel, w.stride
    if len(k) != rank or len(layer.output) != len(layer.input_shapes[0]):
        return _Undefined(f"undefined after {layer.type.name}")
    return tuple(Field(f.size, Fraction(f.jump) / s[a], f.start) for a, f in enumerate(src))


def _exact(tracer, li, res, rank, per):
    fields = []
    for axis in range(rank):
        size = 0
        start = None
        for x in range(per[axis]):
            iv = tracer.interval(li, axis, x, x)
            if iv is None:
                continue
            size = max(size, iv[1] - iv[0] + 1)
            if x == 0:
                start = iv[0]
        if start is None:
            return _Undefined("undefined: output 0 depends on no input position")
        fields.append(Field(size, res[axis].jump, start))
    return tuple(fields)


def input_interval(net, layer: str, axis: int, lo: int, hi: int | None = None):
    """The span (first, last) of network-input positions that the outputs ``lo..hi`` of
    ``layer`` depend on along spatial ``axis`` (borders ignored), or None.

    This is the exact rule the receptive fields follow; tests compare it with autograd.
    """
    windows = {i: _tracer_window(member) for i, member in enumerate(net.layers)}
    index = {member.name: i for i, member in enumerate(net.layers)}
    return _Tracer(net, windows).interval(index[layer], axis, lo, lo if hi is None else hi)
