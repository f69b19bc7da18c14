"""Layers that move elements around: flatten, unflatten, reshape, upsample, pixel
(un)shuffle and padding."""

from __future__ import annotations

from ..arith import prod, upsample_size
from ..errors import LayerError
from .base import Arg, LayerType, fmt_dims, resize_order, resize_workspace


def _norm_dim(dim: int, rank: int, arg: str) -> int:
    r = max(rank, 1)
    if not -r <= dim < r:
        raise LayerError(
            f"{arg} {dim} is out of range for a {rank}-d input (expected a dim in [{-r}, {r - 1}])",
            arg=arg,
        )
    return dim % r


def _fill_minus_one(sizes, total: int, arg: str, where: str) -> tuple:
    sizes = list(sizes)
    holes = [i for i, v in enumerate(sizes) if v == -1]
    if len(holes) > 1:
        raise LayerError(f"{arg} may hold only one -1", arg=arg)
    if any(v < -1 or v == 0 for v in sizes):
        raise LayerError(f"{arg} {sizes} holds a size below 1", arg=arg)
    known = prod(v for v in sizes if v != -1)
    if holes:
        if total % known:
            raise LayerError(
                f"{arg} {sizes}: {total} elements of {where} do not divide by {known}",
                arg=arg,
                code="shape-mismatch",
            )
        sizes[holes[0]] = total // known
    elif known != total:
        raise LayerError(
            f"{arg} {sizes} holds {known} elements but {where} has {total}",
            arg=arg,
            code="shape-mismatch",
        )
    return tuple(sizes)


class Flatten(LayerType):
    keeps_integers = True
    name = "flatten"
    family = "reshape"
    doc = "torch.nn.Flatten"
    args = (Arg("start_dim", "int", 1), Arg("end_dim", "int", -1))

    def infer(self, a, shapes):
        shape = shapes[0]
        s = _norm_dim(a["start_dim"], len(shape), "start_dim")
        e = _norm_dim(a["end_dim"], len(shape), "end_dim")
        if s > e:
            raise LayerError(
                f"start_dim {a['start_dim']} comes after end_dim {a['end_dim']} "
                f"for the {len(shape)}-d input",
                arg="start_dim",
            )
        return tuple(shape[:s]) + (prod(shape[s : e + 1]),) + tuple(shape[e + 1 :])

    def forward(self, a, xs, w):
        x = xs[0]
        return x.reshape(self.infer(dict(a), [x.shape]))

    def workspace(self, a, shapes, out):
        return prod(out)  # a copy when the input is a non-contiguous view

    def window(self, a, shapes, out):
        return None

    def explain_shape(self, a, shapes, out):
        shape = shapes[0]
        r = len(shape)
        s0, e0 = a["start_dim"] % r, a["end_dim"] % r
        part = shape[s0 : e0 + 1]
        return [f"flatten dims {s0}..{e0}: {'·'.join(map(str, part))} = {prod(part):,}"]

    def summary(self, a):
        return (
            ""
            if (a["start_dim"], a["end_dim"]) == (1, -1)
            else f"dims {a['start_dim']}..{a['end_dim']}"
        )


class Unflatten(LayerType):
    keeps_integers = True
    name = "unflatten"
    family = "reshape"
    doc = "torch.nn.Unflatten"
    args = (
        Arg("dim", "int"),
        Arg("unflattened_size", "shape", None, nullable=True),
        Arg("sizes", "shape", None, nullable=True, doc="the same as unflattened_size"),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        given = [k for k in ("unflattened_size", "sizes") if a[k] is not None]
        if len(given) != 1:
            raise LayerError(
                "unflatten needs exactly one of unflattened_size or sizes",
                arg=given[-1] if given else None,
            )
        key = given[0]
        d = _norm_dim(a["dim"], len(shape), "dim")
        sizes = _fill_minus_one(a[key], shape[d], key, f"dim {a['dim']}")
        a["_sizes"] = sizes
        return tuple(shape[:d]) + sizes + tuple(shape[d + 1 :])

    def forward(self, a, xs, w):
        x = xs[0]
        d = a["dim"] % max(x.ndim, 1)
        return x.reshape(x.shape[:d] + tuple(a["_sizes"]) + x.shape[d + 1 :])

    def workspace(self, a, shapes, out):
        return prod(out)

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        return f"dim={a['dim']} -> {list(a['_sizes'])}"


class Reshape(LayerType):
    keeps_integers = True
    name = "reshape"
    aliases = ("view",)
    family = "reshape"
    doc = "torch.reshape (the full shape, batch included)"
    args = (Arg("shape", "shape", doc="full target shape, batch first; one -1 allowed"),)

    def infer(self, a, shapes):
        total = prod(shapes[0])
        return _fill_minus_one(a["shape"], total, "shape", f"the input {list(shapes[0])}")

    def forward(self, a, xs, w):
        return xs[0].reshape(tuple(a["shape"]))

    def workspace(self, a, shapes, out):
        return prod(out)

    def window(self, a, shapes, out):
        return None


_INTERP = ("linear", "bilinear", "bicubic", "trilinear")
_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


class Upsample(LayerType):
    name = "upsample"
    aliases = ("interpolate",)
    family = "resampling"
    doc = "torch.nn.Upsample / torch.nn.functional.interpolate"
    args = (
        Arg("size", "ints", None, min=1, nullable=True, doc="output size, int or per dim"),
        Arg("scale_factor", "scale", None, nullable=True, doc="number or one per dim"),
        Arg(
            "mode",
            "choice",
            "nearest",
            words=(
                "nearest",
                "linear",
                "bilinear",
                "bicubic",
                "trilinear",
                "area",
                "nearest-exact",
            ),
        ),
        Arg("align_corners", "bool", None, nullable=True),
        Arg("recompute_scale_factor", "bool", None, nullable=True),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        if len(shape) not in (3, 4, 5):
            raise LayerError(
                f"upsample needs a 3-d, 4-d or 5-d input (N, C, *spatial), got {list(shape)}",
                code="bad-rank",
            )
        dims = len(shape) - 2
        mode = a["mode"]
        if mode in _MODE_RANK and _MODE_RANK[mode] != len(shape):
            raise LayerError(
                f"mode '{mode}' needs a {_MODE_RANK[mode]}-d input, got "
                f"{len(shape)}-d {list(shape)}",
                arg="mode",
                code="bad-rank",
            )
        if a["align_corners"] is not None and mode not in _INTERP:
            raise LayerError(
                f"align_corners can only be set with the interpolating modes "
                f"({', '.join(_INTERP)}), not '{mode}'",
                arg="align_corners",
            )
        size, scale = a["size"], a["scale_factor"]
        if (size is None) == (scale is None):
            raise LayerError(
                "upsample needs exactly one of size or scale_factor",
                arg="size" if size is not None else None,
            )
        if size is not None and a["recompute_scale_factor"]:
            raise LayerError(
                "recompute_scale_factor is not meaningful with an explicit size "
                "(PyTorch rejects it)",
                arg="recompute_scale_factor",
                hint="remove it, or give scale_factor instead of size",
            )
        if size is not None:
            out = tuple(size) if isinstance(size, (list, tuple)) else (size,) * dims
            if len(out) != dims:
                raise LayerError(
                    f"size has {len(out)} entries but the input has {dims} spatial dims", arg="size"
                )
        else:
            sc = tuple(scale) if isinstance(scale, (list, tuple)) else (scale,) * dims
            if len(sc) != dims:
                raise LayerError(
                    f"scale_factor has {len(sc)} entries but the input has {dims} spatial dims",
                    arg="scale_factor",
                )
            if any(v <= 0 for v in sc):
                raise LayerError("scale_factor must be positive", arg="scale_factor")
            out = tuple(upsample_size(n, f) for n, f in zip(shape[2:], sc))
            if min(out) < 1:
                raise LayerError(
                    f"output size {list(out)} has a dim below 1 "
                    f"(floor({list(shape[2:])} x {list(sc)}))",
                    arg="scale_factor",
                    code="output-too-small",
                )
            a["_scale"] = sc
        a["_out"] = out
        return tuple(shape[:2]) + out

    def forward(self, a, xs, w):
        import numpy as np

        from . import npops

        x = xs[0]
        out = a["_out"]
        dims = len(out)
        scales = a.get("_scale") if not a["recompute_scale_factor"] else None
        scales = scales or (None,) * dims
        mode = a["mode"]
        if mode == "area":
            return npops.adaptive_pool(x, "avg", out)
        for i in resize_order(x.shape[2:], out):  # shrinking axes first
            axis = 2 + i
            if mode in ("nearest", "nearest-exact"):
                idx = npops.nearest_index(
                    x.shape[axis],
                    out[i],
                    scales[i],
                    exact=mode == "nearest-exact",
                    shortcut=dims == 2,
                )
                x = np.take(x, idx, axis=axis)
            elif mode == "bicubic":
                x = npops.cubic_axis(x, axis, out[i], bool(a["align_corners"]), scales[i])
            else:
                x = npops.linear_axis(x, axis, out[i], bool(a["align_corners"]), scales[i])
        return x

    def workspace(self, a, shapes, out):
        # an axis at a time: the previous intermediate and the result (nearest), one
        # gathered term more (interpolation; area: AdaptivePool's overlap elements)
        nearest = a["mode"] in ("nearest", "nearest-exact")
        return resize_workspace(shapes[0], a["_out"], 1 if nearest else 2)

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        what = f"x{fmt_dims(a['_scale'])}" if a.get("_scale") else f"size={fmt_dims(a['_out'])}"
        return f"{what} {a['mode']}" + (" align_corners" if a["align_corners"] else "")


class PixelShuffle(LayerType):
    family = "resampling"

    def __init__(self, unshuffle: bool):
        self.unshuffle = unshuffle
        self.name = "pixel_unshuffle" if unshuffle else "pixel_shuffle"
        self.doc = "torch.nn.PixelUnshuffle" if unshuffle else "torch.nn.PixelShuffle"
        key = "downscale_factor" if unshuffle else "upscale_factor"
        self.key = key
        self.args = (Arg(key, "int", min=1),)
        super().__init__()

    def infer(self, a, shapes):
        shape = shapes[0]
        r = a[self.key]
        if len(shape) < 3:
            raise LayerError(
                f"{self.name} needs an input (*, C, H, W), got {list(shape)}", code="bad-rank"
            )
        *lead, c, h, w = shape
        if self.unshuffle:
            if h % r or w % r:
                raise LayerError(
                    f"height {h} and width {w} must both be divisible by downscale_factor {r}",
                    arg=self.key,
                    code="shape-mismatch",
                )
            return tuple(lead) + (c * r * r, h // r, w // r)
        if c % (r * r):
            raise LayerError(
                f"{c} channels are not divisible by upscale_factor² = {r * r}",
                arg=self.key,
                code="shape-mismatch",
            )
        return tuple(lead) + (c // (r * r), h * r, w * r)

    def forward(self, a, xs, w):
        x = xs[0]
        r = a[self.key]
        *lead, c, h, wd = x.shape
        lead = tuple(lead)
        k = len(lead)
        if self.unshuffle:
            y = x.reshape(lead + (c, h // r, r, wd // r, r))
            y = y.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
            return y.reshape(lead + (c * r * r, h // r, wd // r))
        y = x.reshape(lead + (c // (r * r), r, r, h, wd))
        y = y.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
        return y.reshape(lead + (c // (r * r), h * r, wd * r))

    def workspace(self, a, shapes, out):
        return prod(out)

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        return f"r={a[self.key]}"


def _check_circular(left: int, right: int, n: int, j: int):
    """ATen's _pad_circular: each pad at most the input size; with a crop on one side,
    the other side wraps around what is left (a larger pad makes its copy overlap
    itself; cropping the whole input leaves torch reading memory it never wrote)."""
    if left > n or right > n:
        raise LayerError(
            f"circular padding {max(left, right)} is more than the input size "
            f"{n} (dim {j}; PyTorch: Padding value causes wrapping around more "
            "than once)",
            arg="padding",
            hint=f"use padding <= {n}",
        )
    for pad, crop in ((right, -left), (left, -right)):
        if crop >= n and pad > 0:
            raise LayerError(
                f"circular padding {[left, right]} crops all {n} positions of dim "
                f"{j}, which leaves nothing to wrap {pad} around (PyTorch fails, "
                "or fills the output from memory it never wrote)",
                arg="padding",
                code="output-too-small",
            )
        if crop > 0 and pad > n - crop:
            raise LayerError(
                f"circular padding {[left, right]} crops {crop} of the {n} "
                f"positions of dim {j} and wraps {pad} around the {n - crop} left "
                "(PyTorch: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location)",
                arg="padding",
                hint=f"wrap at most {n - crop}",
            )


class Pad(LayerType):
    keeps_integers = True
    family = "padding"

    def __init__(self, kind: str, dims: int):
        self.kind = kind
        self.dims = dims
        self.name = f"{kind}_pad{dims}d"
        torch = {
            "zero": "ZeroPad",
            "constant": "ConstantPad",
            "reflection": "ReflectionPad",
            "replication": "ReplicationPad",
            "circular": "CircularPad",
        }[kind]
        self.doc = f"torch.nn.{torch}{dims}d"
        args = [
            Arg(
                "padding",
                "ints",
                doc=f"int, or {2 * dims} values: last dim first, "
                "(left, right, top, bottom, front, back); any even number pads that many "
                "trailing dims, as F.pad"
                + (" (any input rank)" if kind in ("zero", "constant") else ""),
            )
        ]
        if kind == "constant":
            args.append(Arg("value", "float"))
        self.args = tuple(args)
        super().__init__()

    def infer(self, a, shapes):
        shape = shapes[0]
        dims = self.dims
        p = a["padding"]
        p = tuple(p) if isinstance(p, (list, tuple)) else (p,) * (2 * dims)
        if self.kind in ("zero", "constant"):
            # F.pad(x, padding, "constant"): the module keeps a list as given
            # (_quadruple([1, 2]) is (1, 2)), and pads the last len // 2 dims of any rank
            if len(p) % 2:
                raise LayerError(
                    f"padding has {len(p)} values (PyTorch: Padding length must be divisible by 2)",
                    arg="padding",
                )
            if len(p) // 2 > len(shape):
                raise LayerError(
                    f"padding has {len(p)} values for the {len(shape)}-d input "
                    f"{list(shape)} (PyTorch: Padding length should be less than or equal "
                    "to two times the input dimension)",
                    arg="padding",
                    code="bad-rank",
                )
        else:
            # F.pad's other modes pad the last k = len // 2 dims of a (k+1)-d or (k+2)-d
            # input; CircularPadNd checks its own rank first
            if self.kind == "circular" and len(shape) not in (dims + 1, dims + 2):
                raise LayerError(
                    f"{self.name} needs a {dims + 2}-d input (or {dims + 1}-d "
                    f"unbatched), got {len(shape)}-d {list(shape)} (PyTorch: expected "
                    f"{dims + 1}D or {dims + 2}D input)",
                    code="bad-rank",
                )
            if len(p) % 2:
                raise LayerError(
                    f"padding has {len(p)} values (PyTorch: Padding length must be divisible by 2)",
                    arg="padding",
                )
            k = len(p) // 2
            if k > 3 or len(shape) not in (k + 1, k + 2):  # ATen pads 1 to 3 dims so
                what = (
                    f"{self.kind} padding pads 1 to 3 dims, not {k}"
                    if k > 3
                    else f"{len(p)} padding values pad {k} dim{'s' * (k != 1)} of a "
                    f"{k + 1}-d or {k + 2}-d input, got {len(shape)}-d {list(shape)}"
                )
                raise LayerError(
                    f"{what} (PyTorch: Padding size {len(p)} is not supported for "
                    f"{len(shape)}D input tensor)",
                    code="bad-rank",
                    hint=f"give {2 * dims} padding values for a {dims + 2}-d input"
                    if len(shape) == dims + 2
                    else None,
                )
        out = list(shape)
        for i in range(len(p) // 2):
            left, right = p[2 * i], p[2 * i + 1]
            j = len(shape) - 1 - i
            n = shape[j]
            if self.kind == "reflection" and max(left, right) >= n:
                raise LayerError(
                    f"reflection padding {max(left, right)} must be below the "
                    f"input size {n} (dim {j}; PyTorch: Padding size should be "
                    "less than the corresponding input dimension)",
                    arg="padding",
                )
            crop = max(-left, 0) + max(-right, 0)
            if self.kind in ("zero", "constant") and crop > n:
                # constant_pad_nd narrows the input by the negative pads first
                raise LayerError(
                    f"padding {[left, right]} crops {crop} positions from dim {j} "
                    f"of size {n} before padding (PyTorch: narrow(): length must "
                    "be non-negative)",
                    arg="padding",
                    code="output-too-small",
                )
            if self.kind == "circular":
                _check_circular(left, right, n, j)
            out[j] = n + left + right
            if out[j] < 1:
                raise LayerError(
                    f"padding {list(p)} leaves dim {j} with size {out[j]}",
                    arg="padding",
                    code="output-too-small",
                )
        a["_p"] = p
        return tuple(out)

    def forward(self, a, xs, w):
        from . import npops

        p = a["_p"]
        pads = [(p[2 * i], p[2 * i + 1]) for i in reversed(range(len(p) // 2))]
        y = npops.pad_spatial(xs[0], pads, self.kind, a.get("value", 0.0))
        if y.size < xs[0].size and y.base is not None:
            y = y.copy()  # a cropping view would keep the whole input alive
        return y

    def window(self, a, shapes, out):
        # pads of the last dims first: per spatial dim (first to last) k=1, s=1, left
        # pad; a constant pad of other dims than the layer's (any rank) is undefined
        p = a["_p"]
        if len(p) != 2 * self.dims or len(shapes[0]) not in (self.dims + 1, self.dims + 2):
            return None  # (an unbatched map's spatial dims are its last ones too)
        return tuple((1, 1, p[2 * i], 1) for i in reversed(range(self.dims)))

    def summary(self, a):
        return f"p={list(a['_p'])}"
