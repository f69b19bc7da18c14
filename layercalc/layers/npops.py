"""Vectorised NumPy building blocks for the layers' forward passes.

Imported only from inside ``forward`` methods, so computing shapes never loads NumPy.
Every function works on batched arrays (N, C, *spatial); no per-element Python loops
(loops run over kernel offsets or dims at most).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import LOOP_TAPS, resize_order

_NP_PAD_MODE = {
    "zeros": "constant",
    "constant": "constant",
    "zero": "constant",
    "reflect": "reflect",
    "reflection": "reflect",
    "replicate": "edge",
    "replication": "edge",
    "circular": "wrap",
}


def batched(x, dims: int):
    """(x with a batch axis, whether one was added): unbatched inputs have rank dims+1."""
    if x.ndim == dims + 1:
        return x[None], True
    return x, False


def unbatch(y, added: bool):
    return y[0] if added else y


def pad_spatial(x, pads, mode: str = "zeros", value: float = 0.0):
    """Pad the trailing len(pads) dims by (left, right) each; negative values crop.

    As ATen does: reflection and replication read the uncropped input (they pad, then
    crop: reflect [-2, 3] of 0 1 2 3 is 2 3 2 1 0), circular wraps what the crop
    leaves (crop, then pad); for constants the order does not matter."""
    np_mode = _NP_PAD_MODE[mode]
    if (
        np_mode == "constant"
        and type(pads) is tuple
        and type(value) in (int, float)
        and value == 0
        and math.copysign(1, value) > 0
        and not x.flags.fnc
    ):
        # +0 padding (the zeros of convs and pools), by far the most common: what _pad
        # makes, with its shapes and slices worked out once per input shape and pads
        # (hashable as a tuple), since a small layer's forward is mostly such overhead
        key = (x.shape, pads)
        try:
            plan = _ZERO_PLANS.get(key, False)
        except TypeError:  # pairs given as lists: unhashable, so the general way
            plan = None
        if plan is False:
            if len(_ZERO_PLANS) >= MAX_PLANS:
                _ZERO_PLANS.clear()
            plan = _ZERO_PLANS[key] = _zero_plan(x.shape, pads)
        if plan is not None:
            shape, where = plan
            y = np.zeros(shape, x.dtype)
            y[where] = x
            return y
    crop = any(left < 0 or r < 0 for left, r in pads)
    if crop and np_mode in ("reflect", "edge"):
        return _crop(_pad(x, [(max(left, 0), max(r, 0)) for left, r in pads], np_mode, value), pads)
    if crop:
        x = _crop(x, pads)
    return _pad(x, [(max(left, 0), max(r, 0)) for left, r in pads], np_mode, value)


MAX_PLANS = 256  # memoised plans of _ZERO_PLANS, at most (a network has few shapes)
_ZERO_PLANS: dict = {}  # (input shape, pads) -> _zero_plan's answer


def _zero_plan(shape: tuple, pads: tuple):
    """(padded shape, the index where the input goes) of _pad's constant padding of an
    input of ``shape`` by ``pads``, or None where pad_spatial takes its general way (a
    crop, or no padding at all)."""
    if any(left < 0 or r < 0 for left, r in pads) or not any(left or r for left, r in pads):
        return None
    lead = len(shape) - len(pads)
    width = ((0, 0),) * lead + tuple(pads)
    padded = tuple(v + left + r for v, (left, r) in zip(shape, width))
    where = tuple(slice(left, left + v) for v, (left, _) in zip(shape, width))
    return padded, where


def _crop(x, pads):
    lead = x.ndim - len(pads)
    return x[
        (slice(None),) * lead
        + tuple(
            slice(max(-left, 0), x.shape[lead + i] - max(-r, 0)) for i, (left, r) in enumerate(pads)
        )
    ]


def _pad(x, pads, np_mode: str, value: float):
    if not any(left or r for left, r in pads):
        return x
    width = [(0, 0)] * (x.ndim - len(pads)) + [tuple(p) for p in pads]
    zero = type(value) in (int, float) and value == 0 and math.copysign(1, value) > 0
    if np_mode == "constant" and (zero or x.dtype.kind in "fc"):
        # what np.pad makes (an array of x's dtype, C-ordered unless x is only
        # F-contiguous), without its per-call overhead of tens of microseconds, most of
        # a small layer's forward: zeros for +0 (-0.0 keeps its sign), else the value,
        # which a floating dtype takes as np.pad's assignment does (an integer one may
        # refuse it, as NaN: np.pad says so)
        shape = tuple(v + left + r for v, (left, r) in zip(x.shape, width))
        order = "F" if x.flags.fnc else "C"
        y = np.zeros(shape, x.dtype, order) if zero else np.full(shape, value, x.dtype, order)
        y[tuple(slice(left, left + v) for v, (left, _) in zip(x.shape, width))] = x
        return y
    if np_mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    return np.pad(x, width, mode=np_mode)


def windows(x, k, s, d, out):
    """A strided view (N, C, *k, *out) of the windows of x (N, C, *spatial)."""
    dims = len(k)
    st = x.strides
    shape = x.shape[:2] + tuple(k) + tuple(out)
    strides = (
        st[:2]
        + tuple(st[2 + i] * d[i] for i in range(dims))
        + tuple(st[2 + i] * s[i] for i in range(dims))
    )
    if x.flags.c_contiguous:  # the same view, made without as_strided's overhead
        view = np.ndarray(shape, x.dtype, buffer=x, strides=strides)
        view.flags.writeable = False
        return view
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def offset_view(x, offset, s, d, out):
    """x[:, :, off_i*d_i : ... : s_i] for one kernel offset, out_i entries per dim."""
    sl = [slice(None), slice(None)]
    for o, si, di, n in zip(offset, s, d, out):
        start = o * di
        sl.append(slice(start, start + (n - 1) * si + 1, si))
    return x[tuple(sl)]


FLAT_MAP = 1024  # depthwise convs at stride 1 with at least this many outputs a map, and
SMALL_MAP = 8  # those of maps at most this wide: tap by tap (npops.conv)


def _way(shape, w_shape, s, groups: int, out, max_cols: int, loop_taps: int) -> str:
    """How :func:`conv` cross-correlates an already padded input of ``shape`` (N, C, *sp)
    with a weight of ``w_shape`` into ``out``: "flat" or "channels_last" (depthwise, one
    filter a channel: whole-map multiply-adds tap by tap at stride 1 on a large map,
    channels-last taps on a small map of many channels), "offsets" (depthwise with
    several filters a channel), "pointwise" (1-tap kernels: the input is the columns),
    "gather" (a small map's im2col copy in one take), "windows" (the whole copy from a
    strided view) or "sliced" (the copy a slice at a time)."""
    n, c = shape[:2]
    o_ch = w_shape[0]
    p = math.prod(out)
    cg, og = c // groups, o_ch // groups
    kk = math.prod(w_shape[2:])
    if cg == 1 and groups > 1 and 1 < kk <= loop_taps:
        if og > 1:
            return "offsets"
        # else the grouped im2col products below where neither tap-by-tap way is
        # measured faster (issue 18)
        if all(v == 1 for v in s) and p >= FLAT_MAP:
            return "flat"
        if out[-1] <= SMALL_MAP and c >= 64:
            return "channels_last"
    if kk == 1:
        return "pointwise"
    per_row = c * kk * (p // out[0])  # im2col elements of one sample's first-dim output row
    if n * out[0] * per_row > max_cols:
        return "sliced"
    return "gather" if c * kk * p <= GATHER_ELEMENTS else "windows"


def conv(x, weight, s, d, groups: int, max_cols: int, loop_taps: int):
    """Cross-correlation of an already padded x (N, C, *sp) with weight (O, C/g, *k);
    the im2col copy is made in slices of at most ``max_cols`` elements. Depthwise convs
    of at most ``loop_taps`` taps go tap by tap instead on large maps at stride 1 and on
    small maps of many channels, and whenever a channel has several filters
    (:func:`_way`)."""
    key = None
    if type(s) is tuple and type(d) is tuple:  # hashable: a small map's plan may be kept
        key = (x.shape, weight.shape, s, d, groups, max_cols, loop_taps)
        small = _SMALL_CONVS.get(key)
        if small is not None:  # what the gathered im2col way below makes, planned once
            index, w_shape, cols_shape, y_shape = small
            cols = x.reshape(cols_shape[0], -1).take(index, axis=1).reshape(cols_shape)
            return _matmul(weight.reshape(w_shape), cols).reshape(y_shape)
    n, c = x.shape[:2]
    dims = x.ndim - 2
    o_ch = weight.shape[0]
    k = weight.shape[2:]
    out = tuple((x.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(dims))
    p = math.prod(out)
    cg, og = c // groups, o_ch // groups
    kk = math.prod(k)
    way = _way(x.shape, weight.shape, s, groups, out, max_cols, loop_taps)
    if way == "flat":
        return _depthwise_flat(x, weight, s, d, out)
    if way == "channels_last":
        return _depthwise_channels_last(x, weight, s, d, out)
    if way == "offsets":
        # depthwise with several filters a channel: per-offset multiply-adds
        w = weight.reshape((groups, og) + tuple(k))
        y = np.zeros((n, groups, og) + out, dtype=np.result_type(x, weight))
        for off in itertools.product(*(range(v) for v in k)):
            xv = offset_view(x, off, s, d, out)  # (N, C, *out)
            wv = w[(slice(None), slice(None)) + off].reshape((1, groups, og) + (1,) * dims)
            y += xv[:, :, None] * wv
        return y.reshape((n, o_ch) + out)
    wm = weight.reshape(groups, og, cg * kk)
    if way == "pointwise":
        cols = offset_view(x, (0,) * dims, s, d, out).reshape(n, groups, cg, p)
        return _matmul(wm, cols).reshape((n, o_ch) + out)
    if way == "gather":  # a small map: the same copy as windows', gathered
        index = _gather_index(x.shape[1:], k, s, d, out)
        if key is not None:
            if len(_SMALL_CONVS) >= MAX_GATHERS:
                _SMALL_CONVS.clear()
            _SMALL_CONVS[key] = (index, wm.shape, (n, groups, cg * kk, p), (n, o_ch) + out)
        cols = x.reshape(n, -1).take(index, axis=1).reshape(n, groups, cg * kk, p)
        return _matmul(wm, cols).reshape((n, o_ch) + out)
    if way == "windows":
        cols = windows(x, k, s, d, out).reshape(n, groups, cg * kk, p)  # the im2col copy
        return _matmul(wm, cols).reshape((n, o_ch) + out)
    per_row = c * kk * (p // out[0])  # im2col elements of one sample's first-dim output row
    # large maps: im2col a slice at a time (samples, then output rows), so the copy stays
    # within max_cols however large the input (a single row may exceed it)
    view = windows(x, k, s, d, out)  # (N, C, *k, *out)
    rows = max(1, min(out[0], max_cols // per_row))
    batch = max(1, max_cols // (per_row * out[0])) if rows == out[0] else 1
    y = np.empty((n, o_ch) + out, dtype=np.result_type(x, weight))
    for b0 in range(0, n, batch):
        b1 = min(n, b0 + batch)
        for r0 in range(0, out[0], rows):
            r1 = min(out[0], r0 + rows)
            part = view[(slice(b0, b1),) + (slice(None),) * (1 + dims) + (slice(r0, r1),)]
            # one expression: this slice's im2col copy is freed before the next is made
            y[b0:b1, :, r0:r1] = _matmul(wm, part.reshape(b1 - b0, groups, cg * kk, -1)).reshape(
                (b1 - b0, o_ch, r1 - r0) + out[1:]
            )
    return y


# Small maps' im2col copies (at most GATHER_ELEMENTS a sample) are gathered through a
# flat index: one take, where reshaping the windows' 6-d strided view costs several times
# more (measured: 1 against 7 microseconds for 4 channels of 4x4). A small conv's whole
# plan is kept, its index included, for the next conv of the same arguments (layers
# repeat): its shapes and branches otherwise cost more than its arithmetic. Few are kept,
# MAX_GATHERS plans of this table and of small_conv's each, 2 * MAX_GATHERS *
# GATHER_ELEMENTS * 8 bytes (128 KiB) of indices at most, which the estimate's
# NUMPY_SCRATCH covers beside a small layer's ufunc buffers.
GATHER_ELEMENTS = 1024
MAX_GATHERS = 8
# conv's arguments (shapes, stride, dilation, groups, limits) -> (index, the weight
# matrix's shape, the columns', the output's)
_SMALL_CONVS: dict = {}


# A small conv's whole forward (padding, gather, product, bias) is planned once per
# input shape and arguments too: the gather reads the unpadded input, whose padding
# positions point at a zero appended to a flat copy of it (zeros padding) or at the
# input position they copy (reflect, replicate, circular), so no padded copy is made.
# 10 against 19 microseconds a conv of 4 channels on 4x4 (issue 18, target 3). Few are
# kept, as above.
_SMALL_FORWARDS: dict = {}


def small_conv(x, weight, bias, pads, mode: str, s, d, groups: int, dims: int, limits: tuple):
    """The conv forward of ``x`` (batched or not): pad_spatial by ``pads`` in ``mode``,
    :func:`conv` (``limits``: its max_cols and loop_taps), then ``bias`` (or None)
    added, with the same values, where :func:`conv` would gather a small map's copy;
    None elsewhere, for the caller to take that way."""
    try:
        key = (x.shape, x.dtype, weight.shape, bias is None, pads, mode, s, d, groups, limits)
        plan = _SMALL_FORWARDS.get(key, False)
    except TypeError:  # arguments given as lists: unhashable, so the general way
        return None
    if plan is False:
        if len(_SMALL_FORWARDS) >= MAX_GATHERS:
            _SMALL_FORWARDS.clear()
        plan = _SMALL_FORWARDS[key] = _small_conv_plan(
            x.shape, x.dtype, weight.shape, pads, mode, s, d, groups, dims, limits
        )
    if plan is None:
        return None
    index, zero, w_shape, cols_shape, acc_shape, y_shape = plan
    if cols_shape[0] == 1:  # one sample: a flat take, twice as fast as one along an axis
        flat = x.reshape(-1)
        if zero is not None:
            flat = np.concatenate((flat, zero))
        cols = flat.take(index)
    else:
        flat = x.reshape(cols_shape[0], -1)
        if zero is not None:
            flat = np.concatenate((flat, np.broadcast_to(zero, (cols_shape[0], 1))), axis=1)
        cols = flat.take(index, axis=1)
    # the bias added to (O, P) or (N, O, P): fewer dims to broadcast over, the same sums
    y = _matmul(weight.reshape(w_shape), cols.reshape(cols_shape)).reshape(acc_shape)
    if bias is not None:
        y += bias.reshape(-1, 1)
    return y.reshape(y_shape)


def _small_conv_plan(shape, dtype, w_shape, pads, mode, s, d, groups, dims, limits):
    """small_conv's (index, the zero appended or None, the weight matrix's shape, the
    columns', the product's, the output's), or None where conv would not gather. Made
    from the shapes first: index arrays are made only for a small map's gather, their
    size that of its im2col copy and of its spatial dims."""
    batched = len(shape) == dims + 2
    n = shape[0] if batched else 1
    sample = tuple(shape[1:] if batched else shape)
    if max(sample[1:]) > GATHER_ELEMENTS:  # few windows of a long map: the maps below
        return None  # would outgrow the padded copy the general way declares
    padded = sample[:1] + tuple(v + left + r for v, (left, r) in zip(sample[1:], pads))
    k = w_shape[2:]
    out = tuple((padded[1 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(dims))
    if min(out, default=1) < 1:
        return None
    max_cols, loop_taps = limits
    if _way((n,) + padded, w_shape, s, groups, out, max_cols, loop_taps) != "gather":
        return None
    # per spatial dim, the input position each padded position reads (-1: a zero), as
    # pad_spatial pads an arange: every padding mode pads each dim on its own
    maps = [
        pad_spatial(np.arange(v, dtype=np.intp).reshape(1, 1, v), (pair,), mode, -1).reshape(-1)
        for v, pair in zip(sample[1:], pads)
    ]
    index = _gather_index(sample, k, s, d, out, maps)
    zero = None
    if (index == math.prod(sample)).any():
        zero = np.zeros(1, dtype)
        zero.flags.writeable = False
    o = w_shape[0]
    cg = sample[0] // groups
    cols_shape = (n, groups, cg * math.prod(k), math.prod(out))
    y_shape = ((n,) if batched else ()) + (o,) + out
    acc_shape = (o, cols_shape[3]) if n == 1 else (n, o, cols_shape[3])
    return index, zero, (groups, o // groups, cols_shape[2]), cols_shape, acc_shape, y_shape


def _gather_index(sample: tuple, k: tuple, s, d, out: tuple, maps=None):
    """The flat positions, within one sample (C, *sp), of the entries of a conv's im2col
    matrix (C, *k, *out) in C order: windows() of an arange, made dim by dim from
    aranges (its size is the copy's, not the sample's). ``maps`` (per spatial dim, the
    position each padded position reads, -1 for a zero) reads the padded input's
    windows from the unpadded one: an entry that reads a zero gets C * prod(sp), one
    past the sample."""
    c, sp = sample[0], tuple(sample[1:])
    dims = len(sp)
    index = (np.arange(c, dtype=np.intp) * math.prod(sp)).reshape((c,) + (1,) * (2 * dims))
    zeros = False  # where an entry reads a zero (maps only)
    for i in range(dims):
        at = (
            np.arange(k[i], dtype=np.intp)[:, None] * d[i] + np.arange(out[i], dtype=np.intp) * s[i]
        )
        shape = [1] * (1 + 2 * dims)
        shape[1 + i], shape[1 + dims + i] = k[i], out[i]
        if maps is not None:
            at = maps[i][at]
            zeros = zeros | (at < 0).reshape(shape)
        index = index + at.reshape(shape) * math.prod(sp[i + 1 :])
    if maps is not None:
        index = np.where(zeros, c * math.prod(sp), index)
    index = np.ascontiguousarray(index).reshape(-1)
    index.flags.writeable = False
    return index


def _depthwise_channels_last(x, weight, s, d, out):
    """A depthwise conv (one filter per channel) of many channels on a small map, tap by
    tap in channels-last layout: each tap's view then runs over (row, channels) with the
    channels innermost and contiguous, where NCHW's inner loops are the few entries of
    one map row. Besides the output: x in channels-last (x's size), the accumulator and
    one product (the output's size each); x and the product are freed before the
    accumulator is copied back to channels-first."""
    n, c = x.shape[:2]
    dims = x.ndim - 2
    k = weight.shape[2:]
    xc = np.ascontiguousarray(np.moveaxis(x, 1, -1))  # (N, *sp, C)
    wt = weight.reshape(c, -1).T  # (K, C): tap t's weights, one per channel
    y = np.empty((n,) + tuple(out) + (c,), dtype=np.result_type(x, weight))
    tmp = np.empty_like(y)
    for t, off in enumerate(itertools.product(*(range(v) for v in k))):
        sl = tuple(
            slice(off[i] * d[i], off[i] * d[i] + (out[i] - 1) * s[i] + 1, s[i]) for i in range(dims)
        )
        xv = xc[(slice(None),) + sl]
        if t == 0:
            np.multiply(xv, wt[0], out=y)
        else:
            np.multiply(xv, wt[t], out=tmp)
            y += tmp
    del tmp, xc, xv
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))


def depthwise_grid(sp, k, s, d, out):
    """The phase sizes Q (each spatial size rounded up to a multiple of the stride, over
    the stride) and the flat output grid (out[0] rows of prod(Q[1:]) entries) of
    :func:`_depthwise_flat`, for the memory estimate too."""
    q = tuple(-(-sp[i] // s[i]) for i in range(len(sp)))
    grid = out[0]
    for v in q[1:]:
        grid *= v
    return q, grid


def _depthwise_flat(x, weight, s, d, out):
    """A depthwise conv (one filter per channel) of a large map, tap by tap over flat
    maps: the stride's phases (x[..., r::s] per dim, a copy of x's size, none at stride
    1) make every tap a stride-1 shift, and on a phase flattened to one axis a shift is
    one contiguous slice, so each multiply-add runs over whole maps, not map rows. The
    outputs land on the phase's grid, whose rows are Q[-1] wide (the entries past out[-1]
    are thrown away), then are copied into place. Besides the output: the phases, the
    accumulator and one product (the grid's size each)."""
    n, c = x.shape[:2]
    dims = x.ndim - 2
    k = weight.shape[2:]
    sp = x.shape[2:]
    q, grid = depthwise_grid(sp, k, s, d, out)
    if any(v != 1 for v in s):
        parts = np.zeros((int(np.prod(s)), n, c) + q, dtype=x.dtype)
        for j, r in enumerate(itertools.product(*(range(v) for v in s))):
            src = x[
                (slice(None), slice(None)) + tuple(slice(r[i], None, s[i]) for i in range(dims))
            ]
            parts[(j, slice(None), slice(None)) + tuple(slice(0, v) for v in src.shape[2:])] = src
        flat = parts.reshape(parts.shape[0], n, c, -1)
        del parts, src
    else:
        flat = np.ascontiguousarray(x).reshape(1, n, c, -1)
    strides = [1] * dims  # of the phase grid, in entries
    for i in range(dims - 2, -1, -1):
        strides[i] = strides[i + 1] * q[i + 1]
    length = sum((out[i] - 1) * strides[i] for i in range(dims - 1)) + out[-1]
    wt = weight.reshape(c, -1)
    acc = np.empty((n, c, grid), dtype=np.result_type(x, weight))
    y = acc[:, :, :length]
    tmp = np.empty_like(y)
    for t, off in enumerate(itertools.product(*(range(v) for v in k))):
        phase, shift = 0, 0
        for i in range(dims):
            a, r = divmod(off[i] * d[i], s[i])
            phase = phase * s[i] + r
            shift += a * strides[i]
        xv = flat[phase, :, :, shift : shift + length]
        w_t = wt[:, t : t + 1]  # (C, 1)
        if t == 0:
            np.multiply(xv, w_t, out=y)
        else:
            np.multiply(xv, w_t, out=tmp)
            y += tmp
    del tmp, flat, xv, y
    view = acc.reshape((n, c, out[0]) + q[1:])
    return np.ascontiguousarray(view[(slice(None),) * 3 + tuple(slice(0, v) for v in out[1:])])


def _matmul(wm, cols):
    """(G, O/G, C/G*K) weights times (N, G, C/G*K, P) columns -> (N, G, O/G, P)."""
    if wm.shape[0] == 1:
        return np.matmul(wm[0], cols[:, 0])
    return np.matmul(wm[None], cols)


def conv_transpose(x, weight, s, d, p, op, groups: int):
    """Transposed convolution of x (N, Cin, *n) with weight (Cin, Cout/g, *k)."""
    n, c = x.shape[:2]
    dims = x.ndim - 2
    sp = x.shape[2:]
    cg = c // groups
    og = weight.shape[1]
    k = weight.shape[2:]
    kk = 1
    for v in k:
        kk *= v
    pin = 1
    for v in sp:
        pin *= v
    xm = x.reshape(n, groups, cg, pin)
    wm = weight.reshape(groups, cg, og * kk).transpose(0, 2, 1)  # (G, og*K, cg)
    cols = np.matmul(wm[None], xm)  # (N, G, og*K, Pin)
    cols = cols.reshape((n, groups * og) + tuple(k) + tuple(sp))
    full = [(sp[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 for i in range(dims)]
    out = [(sp[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(dims)]
    size = tuple(max(full[i], p[i] + out[i]) for i in range(dims))
    buf = np.zeros((n, groups * og) + size, dtype=cols.dtype)
    every = (slice(None), slice(None))
    if kk <= pin:  # scatter one kernel offset (all input positions) at a time
        for off in itertools.product(*(range(v) for v in k)):
            sl = [
                slice(off[i] * d[i], off[i] * d[i] + (sp[i] - 1) * s[i] + 1, s[i])
                for i in range(dims)
            ]
            buf[every + tuple(sl)] += cols[every + off]
    else:  # a kernel larger than the input: one input position (all offsets) at a time
        for pos in itertools.product(*(range(v) for v in sp)):
            sl = [
                slice(pos[i] * s[i], pos[i] * s[i] + (k[i] - 1) * d[i] + 1, d[i])
                for i in range(dims)
            ]
            buf[every + tuple(sl)] += cols[every + (slice(None),) * dims + pos]
    if tuple(out) == size:
        return buf
    crop = (slice(None), slice(None)) + tuple(slice(p[i], p[i] + out[i]) for i in range(dims))
    return buf[crop].copy()  # do not keep the larger buffer alive (even where contiguous)


def pool(
    x,
    kind,
    k,
    s,
    p,
    d,
    out,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    loop_taps=None,
):
    """Max or average pooling of x (N, C, *sp) per PyTorch, ceil_mode included. Kernels
    of at most ``loop_taps`` taps go offset by offset (fast for 3x3), larger ones in one
    reduction over a strided view of the windows (no Python loop over 10^6 taps)."""
    dims = len(k)
    kk = 1
    for v in k:
        kk *= v
    if loop_taps is None:
        loop_taps = LOOP_TAPS
    taps = tuple(range(2, 2 + dims))  # the kernel axes of windows()
    sp = x.shape[2:]
    pads = []
    for i in range(dims):
        need = (out[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 - sp[i] - p[i]
        pads.append((p[i], max(p[i], need, 0)))
    if kind == "max":
        fill = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
        xp = pad_spatial(x, pads, "constant", fill)
        if kk > loop_taps:
            return windows(xp, k, s, d, out).max(axis=taps)
        y = None
        for off in itertools.product(*(range(v) for v in k)):
            v = offset_view(xp, off, s, d, out)
            if y is None:
                y = v.copy()
            else:
                np.maximum(y, v, out=y)
        return y
    xp = pad_spatial(x, pads, "constant", 0)
    if kk > loop_taps:
        y = windows(xp, k, s, d, out).sum(axis=taps, dtype=x.dtype)
    else:
        y = None
        for off in itertools.product(*(range(v) for v in k)):
            v = offset_view(xp, off, s, d, out)
            if y is None:
                y = v.astype(x.dtype, copy=True)
            else:
                y += v
    if divisor_override:
        y /= x.dtype.type(divisor_override)
        return y
    div = None  # the window sizes, one factor per dim (small ints: exact in floats)
    for i in range(dims):
        start = np.arange(out[i], dtype=np.int64)
        start *= s[i]
        start -= p[i]
        end = start + k[i]
        np.minimum(end, sp[i] + p[i], out=end)
        if not count_include_pad:
            np.minimum(end, sp[i], out=end)
            np.maximum(start, 0, out=start)
        end -= start
        shape = [1] * dims
        shape[i] = out[i]
        cnt = end.astype(x.dtype).reshape(shape)
        div = cnt if div is None else div * cnt
    y /= div
    return y


def adaptive_pool(x, kind, out):
    """Adaptive max/avg pooling of x (N, C, *sp): window i covers
    [floor(i n / o), ceil((i + 1) n / o)), one dim at a time (both reductions separate),
    shrinking dims first (base.resize_order). Uneven windows reduce with ``reduceat``
    over [start[i], start[i + 1]) and add the one element where a window reaches
    start[i + 1], so no (windows x window length) copy is made."""
    for i in resize_order(x.shape[2:], out):
        axis = 2 + i
        n, o = x.shape[axis], out[i]
        if n % o == 0:
            shape = x.shape[:axis] + (o, n // o) + x.shape[axis + 1 :]
            r = x.reshape(shape)
            x = r.max(axis=axis + 1) if kind == "max" else r.mean(axis=axis + 1)
            continue
        op = np.maximum if kind == "max" else np.add
        start = np.arange(o, dtype=np.int64)
        start *= n
        start //= o
        y = op.reduceat(x, start, axis=axis)
        end = np.arange(1, o + 1, dtype=np.int64)  # ceil((j + 1) n / o)
        end *= -n
        end //= o
        np.negative(end, out=end)
        # window j also holds start[j + 1] when it ends past it (and is not a repeat)
        extra = np.flatnonzero((end[:-1] > start[1:]) & (start[1:] > start[:-1]))
        if extra.size:
            at = (slice(None),) * axis + (extra,)
            op.at(y, at, np.take(x, start[extra + 1], axis=axis))
        if kind != "max":
            end -= start
            cnt = end.astype(x.dtype).reshape((o,) + (1,) * (x.ndim - axis - 1))
            y /= cnt
        x = y
    return x


# -- activations ----------------------------------------------------------------------


def erf(x):
    """Error function (W. J. Cody's rational approximations would be exact to double;
    this Abramowitz & Stegun 7.1.26 form is good to 1.5e-7 absolute, below float32's
    tolerance on GELU)."""
    # sign(x) * (1 - poly(t) * exp(-a * a)), t = 1 / (1 + p a), a = |x|, evaluated in
    # place in that order: three arrays of x's size besides x
    a = np.abs(x)
    t = 0.3275911 * a
    t += 1.0
    np.divide(1.0, t, out=t)
    poly = t * 1.061405429
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    del t
    a *= a
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    poly *= np.sign(x, out=a)
    return poly


def sigmoid(x):
    """1 / (1 + exp(-x)) in place in one new array (the same arithmetic, no temporaries)."""
    if not np.issubdtype(x.dtype, np.floating):
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    y = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1.0
    np.divide(1.0, y, out=y)
    return y


def softplus(x, beta=1.0, threshold=20.0):
    """where(beta x > threshold, x, (log1p(exp(-|beta x|)) + max(beta x, 0)) / beta),
    in place: besides the result, beta x and one temporary."""
    bx = x * beta
    soft = np.abs(bx)
    np.negative(soft, out=soft)
    with np.errstate(over="ignore"):
        np.exp(soft, out=soft)
    np.log1p(soft, out=soft)
    soft += np.maximum(bx, 0)
    soft /= beta
    np.copyto(soft, x, where=bx > threshold)
    return soft


# -- interpolation ----------------------------------------------------------------------


def _source_scale(n, o, align_corners, scale):
    if align_corners:
        return (n - 1) / (o - 1) if o > 1 else 0.0
    if scale is not None and scale > 0:
        return 1.0 / scale
    return n / o


def nearest_index(n, o, scale, exact=False, shortcut=False):
    """PyTorch's nearest source index, computed in float32 as ATen does. ATen's 2-d
    kernel (``shortcut``) maps o == n and o == 2n exactly, whatever the scale; the 1-d
    and 3-d kernels always use floor(j * float32(1 / scale)) (checked against torch)."""
    if shortcut and o == n and not exact:
        return np.arange(o)
    if shortcut and o == 2 * n and not exact:
        return np.arange(o) >> 1
    sc = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
    j = np.arange(o, dtype=np.float32)
    if exact:
        j = j + np.float32(0.5)
    return np.minimum(np.floor(j * sc).astype(np.int64), n - 1)


def linear_axis(x, axis, o, align_corners, scale):
    n = x.shape[axis]
    sc = _source_scale(n, o, align_corners, scale)
    j = np.arange(o, dtype=np.float64)
    src = j * sc if align_corners else np.maximum((j + 0.5) * sc - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = (src - i0).astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = o
    lam = lam.reshape(shape)
    a = np.take(x, i0, axis=axis)  # a * (1 - lam) + b * lam, in place
    a *= 1 - lam
    b = np.take(x, i1, axis=axis)
    b *= lam
    a += b
    return a


def cubic_axis(x, axis, o, align_corners, scale, A=-0.75):
    n = x.shape[axis]
    sc = _source_scale(n, o, align_corners, scale)
    j = np.arange(o, dtype=np.float64)
    src = j * sc if align_corners else (j + 0.5) * sc - 0.5
    i = np.floor(src).astype(np.int64)
    t = src - i

    def near(v):  # |v| <= 1
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def far(v):  # 1 < |v| < 2
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A

    coeffs = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    shape = [1] * x.ndim
    shape[axis] = o
    y = None
    for m, c in zip(range(-1, 3), coeffs):
        idx = np.clip(i + m, 0, n - 1)
        term = np.take(x, idx, axis=axis)
        term *= c.astype(x.dtype).reshape(shape)
        if y is None:
            y = term
        else:
            y += term
        del term
    return y
