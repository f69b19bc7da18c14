"""Max and average pooling (with ceil_mode's last-window rule) and adaptive pooling."""

from __future__ import annotations

from ..arith import adaptive_window, effective_kernel, pool_output_size, prod
from ..errors import LayerError
from .base import (
    INDEX_ELEMENTS,
    Arg,
    LayerType,
    Window,
    dim_names,
    fmt_dims,
    per_dim,
    rebuild,
    resize_workspace,
    spatial_input,
)


class Pool(LayerType):
    family = "pooling"

    def __init__(self, kind: str, dims: int):
        self.kind = kind  # "max" or "avg"
        self.dims = dims
        self.name = f"{kind}_pool{dims}d"
        self.doc = f"torch.nn.{kind.capitalize()}Pool{dims}d"
        common = (
            Arg("kernel_size", "size", min=1),
            Arg("stride", "size", None, min=1, nullable=True, doc="default: kernel_size"),
            Arg("padding", "size", 0, min=0),
        )
        if kind == "max":
            self.args = common + (
                Arg("dilation", "size", 1, min=1),
                Arg("ceil_mode", "bool", False),
                Arg("return_indices", "bool", False, doc="must stay false in a sequential net"),
            )
        else:
            self.args = common + (
                Arg("ceil_mode", "bool", False),
                Arg("count_include_pad", "bool", True),
                Arg(
                    "divisor_override",
                    "int",
                    None,
                    nullable=True,
                    doc="not 0; avg_pool2d/3d only (PyTorch's AvgPool1d has none)",
                ),
            )
        super().__init__()

    def infer(self, a, shapes):
        dims = self.dims
        n, c, sp = spatial_input(self, shapes[0], dims)
        if a.get("return_indices"):
            raise LayerError(
                "return_indices=True makes the layer return a tuple; layercalc "
                "follows tensors only",
                arg="return_indices",
            )
        divisor = a.get("divisor_override")
        if divisor is not None and dims == 1:
            raise LayerError(
                "avg_pool1d has no divisor_override (PyTorch's AvgPool1d and "
                "F.avg_pool1d reject the argument)",
                arg="divisor_override",
                hint="remove it, or use avg_pool2d on an (N, C, 1, L) input",
            )
        if divisor == 0:
            raise LayerError(
                "divisor_override must not be 0 (PyTorch: divisor must be not zero)",
                arg="divisor_override",
                hint="remove it to divide by the window size",
            )
        k = per_dim(a, "kernel_size", dims)
        s = per_dim(a, "stride", dims) if a["stride"] is not None else k
        p = per_dim(a, "padding", dims)
        d = per_dim(a, "dilation", dims) if self.kind == "max" else (1,) * dims
        out = []
        for i in range(dims):
            big_k = effective_kernel(k[i], d[i])
            # PyTorch checks both p <= K//2 (effective kernel) and p <= k//2 (Pool.h)
            limit = min(big_k // 2, k[i] // 2)
            if p[i] > limit:
                raise LayerError(
                    f"padding {p[i]} is more than half the kernel size {k[i]} "
                    f"({limit} at most; PyTorch rejects it)",
                    arg="padding",
                    hint=f"use padding <= {limit}",
                )
            if self.kind == "avg" and dims == 3 and sp[i] < k[i]:
                raise LayerError(
                    f"avg_pool3d needs every input dim at least the kernel size: "
                    f"dim {i} is {sp[i]}, the kernel {k[i]} (PyTorch rejects it, "
                    "padding or not)",
                    arg="kernel_size",
                    code="output-too-small",
                )
            o = pool_output_size(sp[i], k[i], s[i], p[i], d[i], a["ceil_mode"])
            if o < 1:
                raise LayerError(
                    f"output size is {o}: the input ({sp[i]}, padded by {p[i]} on each side) is "
                    f"smaller than the window {big_k} (spatial dim {i})",
                    arg="kernel_size",
                    code="output-too-small",
                    hint="use a smaller kernel or a larger input",
                )
            out.append(o)
        a["_k"], a["_s"], a["_p"], a["_d"] = k, s, p, d
        return rebuild(n, c, out)

    def forward(self, a, xs, w):
        from . import npops

        x, added = npops.batched(xs[0], self.dims)
        sp = x.shape[2:]
        out = tuple(
            pool_output_size(sp[i], a["_k"][i], a["_s"][i], a["_p"][i], a["_d"][i], a["ceil_mode"])
            for i in range(self.dims)
        )
        y = npops.pool(
            x,
            self.kind,
            a["_k"],
            a["_s"],
            a["_p"],
            a["_d"],
            out,
            a["ceil_mode"],
            a.get("count_include_pad", True),
            a.get("divisor_override"),
        )
        return npops.unbatch(y, added)

    def workspace(self, a, shapes, out):
        # npops.pool pads a copy of the input (ceil_mode may pad the right further; on a
        # tiny map that copy is many times the input); averages divide by the window
        # sizes, one float per output position, built from 1-d int64 index arrays
        shape = shapes[0]
        sp, o = shape[-self.dims :], out[-self.dims :]
        padded = [
            n + p + max(p, (m - 1) * s + d * (k - 1) + 1 - n - p, 0)
            for n, m, k, s, p, d in zip(sp, o, a["_k"], a["_s"], a["_p"], a["_d"])
        ]
        scratch = 0 if tuple(padded) == tuple(sp) else prod(shape[: -self.dims]) * prod(padded)
        if self.kind == "avg" and not a.get("divisor_override"):
            scratch += prod(o) + INDEX_ELEMENTS * max(o)
        return scratch

    def geometry(self, a):
        pads = tuple((p, p) for p in a["_p"])
        return Window(a["_k"], a["_s"], pads, a["_d"], (0,) * self.dims, a["ceil_mode"])

    def window(self, a, shapes, out):
        return tuple(zip(a["_k"], a["_s"], a["_p"], a["_d"]))

    def summary(self, a):
        parts = [f"k={fmt_dims(a['_k'])}", f"s={fmt_dims(a['_s'])}"]
        if any(a["_p"]):
            parts.append(f"p={fmt_dims(a['_p'])}")
        if any(d != 1 for d in a["_d"]):
            parts.append(f"d={fmt_dims(a['_d'])}")
        if a["ceil_mode"]:
            parts.append("ceil")
        return " ".join(parts)


class AdaptivePool(LayerType):
    family = "pooling"
    args = (
        Arg(
            "output_size", "opt_ints", min=1, doc="int, or one per spatial dim; null keeps that dim"
        ),
    )

    def __init__(self, kind: str, dims: int):
        self.kind = kind
        self.dims = dims
        self.name = f"adaptive_{kind}_pool{dims}d"
        self.doc = f"torch.nn.Adaptive{kind.capitalize()}Pool{dims}d"
        if kind == "max":
            self.args = self.args + (Arg("return_indices", "bool", False),)
        super().__init__()

    def infer(self, a, shapes):
        dims = self.dims
        n, c, sp = spatial_input(self, shapes[0], dims)
        if a.get("return_indices"):
            raise LayerError(
                "return_indices=True makes the layer return a tuple", arg="return_indices"
            )
        given = a["output_size"]
        if isinstance(given, (list, tuple)) and len(given) != dims:
            # per_dim would repeat a single entry; PyTorch's adaptive pools do not
            entries = f"{len(given)} entr{'y' if len(given) == 1 else 'ies'}"
            raise LayerError(
                f"output_size {list(given)} has {entries} but {self.name} has "
                f"{dims} spatial dim{'s' if dims != 1 else ''} (PyTorch: "
                f"output_size must be {dims})",
                arg="output_size",
                hint="give an int, or one entry per dim",
            )
        size = per_dim(a, "output_size", dims)
        if dims == 1 and size[0] is None:
            raise LayerError(
                "output_size of a 1-d adaptive pool must be an int (PyTorch "
                "accepts None only in 2-d and 3-d)",
                arg="output_size",
            )
        out = tuple(sp[i] if size[i] is None else size[i] for i in range(dims))
        a["_out"] = out
        return rebuild(n, c, out)

    def forward(self, a, xs, w):
        from . import npops

        x, added = npops.batched(xs[0], self.dims)
        return npops.unbatch(npops.adaptive_pool(x, self.kind, a["_out"]), added)

    def workspace(self, a, shapes, out):
        # one axis at a time, shrinking ones first: the previous intermediate, the
        # reduceat result and the elements added where uneven windows overlap
        return resize_workspace(shapes[0], a["_out"], 2)

    def window(self, a, shapes, out):
        sp = shapes[0][-self.dims :]
        res = []
        for n, o in zip(sp, out[-self.dims :]):
            if n % o:
                return None  # uneven windows: no single kernel/stride describes it
            res.append((n // o, n // o, 0, 1))
        return tuple(res)

    def explain_shape(self, a, shapes, out):
        lines = ["out = output_size; window i covers [⌊i·n/out⌋, ⌈(i + 1)·n/out⌉)"]
        sp_in, sp_out = shapes[0][-self.dims :], out[-self.dims :]
        for dim, n, o in zip(dim_names(self.dims), sp_in, sp_out):
            sizes = {end - start for start, end in (adaptive_window(j, n, o) for j in range(o))}
            w = "/".join(str(v) for v in sorted(sizes))
            lines.append(f"  {dim}: {n} -> {o} (windows of {w})")
        return lines

    def summary(self, a):
        return "out=" + fmt_dims(a["_out"])
