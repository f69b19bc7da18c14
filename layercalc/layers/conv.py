"""Convolutions and transposed convolutions, 1-d to 3-d."""

from __future__ import annotations

from ..arith import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel,
    prod,
    same_padding,
)
from ..errors import LayerError
from .base import (
    IM2COL_ELEMENTS,
    LOOP_TAPS,
    Arg,
    LayerType,
    Tensor,
    Window,
    check_inferred,
    fmt_dims,
    per_dim,
    rebuild,
    spatial_input,
)

_COMMON = (
    Arg("out_channels", "int", min=1, doc="output channels"),
    Arg("kernel_size", "size", min=1, doc="kernel size, int or one per spatial dim"),
    Arg("stride", "size", 1, min=1),
)


def _groups_hint(c_in: int, c_out: int) -> str:
    """Which groups fit: the divisors of both channel counts."""
    import math

    common = math.gcd(c_in, c_out)
    fits = [v for v in range(1, min(common, 10**6) + 1) if common % v == 0][:8]
    listed = ", ".join(map(str, fits)) + (", ..." if len(fits) == 8 else "")
    return f"groups must divide both in_channels {c_in} and out_channels {c_out}: {listed}"


def _check_groups(c_in: int, c_out: int, g: int):
    if c_in % g:
        raise LayerError(
            f"in_channels {c_in} is not divisible by groups {g}",
            arg="groups",
            hint=_groups_hint(c_in, c_out),
        )
    if c_out % g:
        raise LayerError(
            f"out_channels {c_out} is not divisible by groups {g}",
            arg="groups",
            hint=_groups_hint(c_in, c_out),
        )


def _check_kernel_entries(name: str, a: dict, dims: int):
    """A one-entry kernel_size list: per_dim would repeat it, but PyTorch makes a 1-d
    weight of it that the 2-d/3-d convolution rejects (stride, padding, dilation and
    output_padding lists of one entry are repeated by ATen, as per_dim does)."""
    k = a["kernel_size"]
    if dims > 1 and isinstance(k, (list, tuple)) and len(k) == 1:
        raise LayerError(
            f"kernel_size {list(k)} has 1 entry but {name} has {dims} spatial "
            f"dims: PyTorch builds a 1-d kernel of it, which {name} rejects",
            arg="kernel_size",
            hint=f"use kernel_size: {k[0]} (every dim) or {dims} entries",
        )


_NPOPS = None


def _npops():
    """layers.npops, imported at the first forward (it loads NumPy, which shapes never
    need) and then kept: ``from . import npops`` in every call costs about as much as a
    small conv's padding."""
    global _NPOPS
    if _NPOPS is None:
        from . import npops

        _NPOPS = npops
    return _NPOPS


class Conv(LayerType):
    family = "convolution"
    linear_map = True
    inferred = ("in_channels",)
    args = _COMMON + (
        Arg(
            "padding",
            "padding",
            0,
            min=0,
            words=("same", "valid"),
            doc="int, one per spatial dim, 'same' or 'valid'",
        ),
        Arg("dilation", "size", 1, min=1),
        Arg("groups", "int", 1, min=1),
        Arg("bias", "bool", True),
        Arg("padding_mode", "choice", "zeros", words=("zeros", "reflect", "replicate", "circular")),
        Arg("in_channels", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def __init__(self, dims: int):
        self.dims = dims
        self.name = f"conv{dims}d"
        self.doc = f"torch.nn.Conv{dims}d"
        super().__init__()

    def infer(self, a, shapes):
        dims = self.dims
        n, c, sp = spatial_input(self, shapes[0], dims)
        check_inferred(a, "in_channels", c, "channels")
        _check_groups(c, a["out_channels"], a["groups"])
        _check_kernel_entries(self.name, a, dims)
        k = per_dim(a, "kernel_size", dims)
        s = per_dim(a, "stride", dims)
        d = per_dim(a, "dilation", dims)
        pad = a["padding"]
        mode = a["padding_mode"]
        if pad == "same":
            if any(v != 1 for v in s):
                raise LayerError(
                    f"padding='same' needs stride 1 (PyTorch rejects it), stride is {fmt_dims(s)}",
                    arg="padding",
                    hint=f"use an explicit padding, e.g. padding: {(k[0] - 1) // 2}",
                )
            pads = tuple(same_padding(ki, di) for ki, di in zip(k, d))
        elif pad == "valid":
            pads = ((0, 0),) * dims
        elif mode != "zeros" and dims > 1 and isinstance(pad, (list, tuple)) and len(pad) == 1:
            # ConvNd pads by F.pad(x, (p, p), mode) itself: that 2-value pad reaches only
            # the last dim, and F.pad takes it only on a 2-d or 3-d input
            rank = len(shapes[0])
            if rank != 3:
                raise LayerError(
                    f"padding {list(pad)} has 1 entry, and with padding_mode="
                    f"'{mode}' PyTorch pads by F.pad(x, ({pad[0]}, {pad[0]})), "
                    f"which the {rank}-d input {list(shapes[0])} does not take "
                    f"(PyTorch: Padding size 2 is not supported for {rank}D input "
                    "tensor)",
                    arg="padding",
                    hint=f"use padding: {pad[0]} to pad every dim",
                )
            pads = ((0, 0), (pad[0], pad[0]))  # unbatched conv2d: the width only, as torch
        else:
            pads = tuple((p, p) for p in per_dim(a, "padding", dims))
        out = []
        for i in range(dims):
            left, right = pads[i]
            big_k = effective_kernel(k[i], d[i])
            if mode in ("reflect", "circular") and max(left, right) > (
                sp[i] - 1 if mode == "reflect" else sp[i]
            ):
                why = (
                    "Padding size should be less than the corresponding input dimension"
                    if mode == "reflect"
                    else "Padding value causes wrapping around more than once"
                )
                limit = sp[i] - 1 if mode == "reflect" else sp[i]
                raise LayerError(
                    f"padding {max(left, right)} is too large for "
                    f"padding_mode='{mode}' on an input of size {sp[i]} "
                    f"(spatial dim {i}; PyTorch: {why})",
                    arg="padding",
                    hint=f"use padding <= {limit} here, or padding_mode: replicate or zeros",
                )
            if sp[i] + left + right < big_k:
                what = f"kernel {k[i]}" + (f" dilated by {d[i]} spans {big_k}" if d[i] > 1 else "")
                raise LayerError(
                    f"{what} but the padded input is only {sp[i]} + {left + right} = "
                    f"{sp[i] + left + right} wide (spatial dim {i})",
                    arg="kernel_size",
                    code="output-too-small",
                    hint="use a smaller kernel, more padding, or a larger input",
                )
            o = (sp[i] + left + right - big_k) // s[i] + 1
            if left == right:
                assert o == conv_output_size(sp[i], k[i], s[i], left, d[i])
            out.append(o)
        a["_k"], a["_s"], a["_d"], a["_pads"] = k, s, d, pads
        return rebuild(n, a["out_channels"], out)

    def tensors(self, a, shapes, out):
        g = a["groups"]
        ts = [Tensor("weight", (a["out_channels"], a["in_channels"] // g) + a["_k"])]
        if a["bias"]:
            ts.append(Tensor("bias", (a["out_channels"],), is_bias=True))
        return ts

    def macs(self, a, shapes, out):
        n = 1 if len(out) == self.dims + 1 else out[0]
        return (
            n
            * a["out_channels"]
            * prod(out[-self.dims :])
            * (a["in_channels"] // a["groups"])
            * prod(a["_k"])
        )

    def forward(self, a, xs, w):
        npops = _npops()
        y = npops.small_conv(
            xs[0],
            w["weight"],
            w.get("bias"),
            a["_pads"],
            a["padding_mode"],
            a["_s"],
            a["_d"],
            a["groups"],
            self.dims,
            (IM2COL_ELEMENTS, LOOP_TAPS),
        )
        if y is not None:  # a small map, planned once (the same values as below)
            return y
        x, added = npops.batched(xs[0], self.dims)
        x = npops.pad_spatial(x, a["_pads"], a["padding_mode"])
        y = npops.conv(x, w["weight"], a["_s"], a["_d"], a["groups"], IM2COL_ELEMENTS, LOOP_TAPS)
        if "bias" in w:
            y += w["bias"].reshape((-1,) + (1,) * self.dims)
        return npops.unbatch(y, added)

    def workspace(self, a, shapes, out):
        # a padded copy of the input and the im2col matrix (N, C*K, P), which npops.conv
        # builds in slices of at most IM2COL_ELEMENTS (plus the slice's product)
        shape, pads = shapes[0], a["_pads"]
        padded = 0
        if any(left or r for left, r in pads):
            padded = prod(shape[: -self.dims]) * prod(
                v + left + r for v, (left, r) in zip(shape[-self.dims :], pads)
            )
        k = prod(a["_k"])
        cols = prod(out) // a["out_channels"] * a["in_channels"] * k
        if k == 1 and all(v == 1 for v in a["_s"]):
            cols = 0  # the input itself is the column matrix
        elif k > 1 and cols > IM2COL_ELEMENTS:
            # slices of whole output rows (one sample's first-dim row at least)
            per_row = prod(out[len(out) - self.dims + 1 :]) * a["in_channels"] * k
            cols = max(IM2COL_ELEMENTS, per_row) + prod(out)
        if a["in_channels"] == a["groups"] and a["groups"] > 1 and 1 < k <= LOOP_TAPS:
            # depthwise: the most of npops.conv's ways (the grouped im2col above; tap by
            # tap, an accumulator and a product, beside a channels-last or contiguous copy
            # of the padded input; or over the stride's phases and their flat grid)
            lead = prod(shape[: -self.dims])
            sp = [v + left + r for v, (left, r) in zip(shape[-self.dims :], pads)]
            q = [-(-v // st) for v, st in zip(sp, a["_s"])]
            grid = lead * out[-self.dims] * prod(q[1:])
            cols = max(
                cols,
                2 * prod(out) + lead * prod(sp),
                lead * prod(a["_s"]) * prod(q) + 2 * grid,
            )
        return padded + cols

    def geometry(self, a):
        return Window(a["_k"], a["_s"], a["_pads"], a["_d"], (0,) * self.dims)

    def window(self, a, shapes, out):
        return tuple((k, s, p[0], d) for k, s, p, d in zip(a["_k"], a["_s"], a["_pads"], a["_d"]))

    def summary(self, a):
        parts = [f"k={fmt_dims(a['_k'])}", f"s={fmt_dims(a['_s'])}"]
        if a["padding"] in ("same", "valid"):
            parts.append(f"p={a['padding']}")
        else:
            parts.append(f"p={fmt_dims(tuple(p[0] for p in a['_pads']))}")
        if any(d != 1 for d in a["_d"]):
            parts.append(f"d={fmt_dims(a['_d'])}")
        if a["groups"] != 1:
            parts.append(f"g={a['groups']}")
        if not a["bias"]:
            parts.append("bias=False")
        if a["padding_mode"] != "zeros":
            parts.append(a["padding_mode"])
        return " ".join(parts)


class ConvTranspose(LayerType):
    family = "convolution"
    linear_map = True
    inferred = ("in_channels",)
    args = _COMMON + (
        Arg("padding", "size", 0, min=0),
        Arg("output_padding", "size", 0, min=0),
        Arg("groups", "int", 1, min=1),
        Arg("bias", "bool", True),
        Arg("dilation", "size", 1, min=1),
        Arg(
            "padding_mode",
            "choice",
            "zeros",
            words=("zeros",),
            doc="PyTorch supports only zeros here",
        ),
        Arg("in_channels", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def __init__(self, dims: int):
        self.dims = dims
        self.name = f"conv_transpose{dims}d"
        self.doc = f"torch.nn.ConvTranspose{dims}d"
        super().__init__()

    def infer(self, a, shapes):
        dims = self.dims
        n, c, sp = spatial_input(self, shapes[0], dims)
        check_inferred(a, "in_channels", c, "channels")
        _check_groups(c, a["out_channels"], a["groups"])
        _check_kernel_entries(self.name, a, dims)
        k = per_dim(a, "kernel_size", dims)
        s = per_dim(a, "stride", dims)
        d = per_dim(a, "dilation", dims)
        p = per_dim(a, "padding", dims)
        op = per_dim(a, "output_padding", dims)
        out = []
        for i in range(dims):
            if not (op[i] < s[i] or op[i] < d[i]):
                raise LayerError(
                    f"output_padding {op[i]} must be smaller than either stride "
                    f"{s[i]} or dilation {d[i]} (PyTorch rejects it)",
                    arg="output_padding",
                    hint=f"use output_padding < {max(s[i], d[i])}",
                )
            o = conv_transpose_output_size(sp[i], k[i], s[i], p[i], d[i], op[i])
            if o < 1:
                raise LayerError(
                    f"output size ({sp[i]} - 1)·{s[i]} - 2·{p[i]} + {d[i]}·({k[i]} - 1) + "
                    f"{op[i]} + 1 = {o} is below 1 (spatial dim {i})",
                    arg="padding",
                    code="output-too-small",
                    hint="reduce the padding",
                )
            out.append(o)
        a["_k"], a["_s"], a["_d"], a["_p"], a["_op"] = k, s, d, p, op
        return rebuild(n, a["out_channels"], out)

    def tensors(self, a, shapes, out):
        g = a["groups"]
        ts = [Tensor("weight", (a["in_channels"], a["out_channels"] // g) + a["_k"])]
        if a["bias"]:
            ts.append(Tensor("bias", (a["out_channels"],), is_bias=True))
        return ts

    def macs(self, a, shapes, out):
        shape = shapes[0]
        n = 1 if len(shape) == self.dims + 1 else shape[0]
        return (
            n
            * a["in_channels"]
            * prod(shape[-self.dims :])
            * (a["out_channels"] // a["groups"])
            * prod(a["_k"])
        )

    def forward(self, a, xs, w):
        from . import npops

        x, added = npops.batched(xs[0], self.dims)
        y = npops.conv_transpose(x, w["weight"], a["_s"], a["_d"], a["_p"], a["_op"], a["groups"])
        if "bias" in w:
            y += w["bias"].reshape((-1,) + (1,) * self.dims)
        return npops.unbatch(y, added)

    def workspace(self, a, shapes, out):
        # the column matrix (N, Cout*K, Pin) and the uncropped output buffer
        n = 1 if len(shapes[0]) == self.dims + 1 else shapes[0][0]
        cols = n * a["out_channels"] * prod(a["_k"]) * prod(shapes[0][-self.dims :])
        full = prod(
            max((i - 1) * s + d * (k - 1) + 1, p + o)
            for i, s, d, k, p, o in zip(
                shapes[0][-self.dims :], a["_s"], a["_d"], a["_k"], a["_p"], out[-self.dims :]
            )
        )
        return cols + n * a["out_channels"] * full

    def geometry(self, a):
        pads = tuple((p, p) for p in a["_p"])
        return Window(a["_k"], a["_s"], pads, a["_d"], a["_op"], transposed=True)

    def window(self, a, shapes, out):
        return None  # see layercalc.analyses.receptive for the transposed-conv receptive-field rule

    def summary(self, a):
        parts = [f"k={fmt_dims(a['_k'])}", f"s={fmt_dims(a['_s'])}", f"p={fmt_dims(a['_p'])}"]
        if any(a["_op"]):
            parts.append(f"op={fmt_dims(a['_op'])}")
        if any(d != 1 for d in a["_d"]):
            parts.append(f"d={fmt_dims(a['_d'])}")
        if a["groups"] != 1:
            parts.append(f"g={a['groups']}")
        if not a["bias"]:
            parts.append("bias=False")
        return " ".join(parts)
