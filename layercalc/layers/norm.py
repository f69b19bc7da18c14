"""Normalisation layers: batch, layer, group, instance and RMS norm, and the
channels-first LayerNorm2d of torchvision and timm."""

from __future__ import annotations

from ..arith import prod
from ..errors import LayerError
from .base import NORM_BLOCK, Arg, LayerType, Tensor, check_inferred


def _normalise(x, mean, var, eps, weight, bias, cshape):
    """(x - mean) / sqrt(var + eps) * weight + bias, folded into one scale and shift.
    In place where the shapes allow (the same arithmetic): besides the result it holds
    the scale, the shift and one temporary of the statistics' broadcast shape."""
    import numpy as np

    scale = var + eps
    np.sqrt(scale, out=scale)
    np.divide(1.0, scale, out=scale)
    if weight is not None:
        scale = scale * weight.reshape(cshape)
    shift = np.negative(mean)
    shift = np.multiply(shift, scale, out=shift if shift.shape == scale.shape else None)
    if bias is not None:
        b = bias.reshape(cshape)
        shift = np.add(
            shift,
            b,
            out=shift if np.broadcast_shapes(shift.shape, b.shape) == shift.shape else None,
        )
    y = x * scale
    y += shift
    return y


def _stats_workspace(stats: int) -> int:
    """Scratch elements, beyond the output, of a normalisation with ``stats`` elements of
    mean and variance: while np.var runs, a centred copy of the input (as large as the
    output, not yet made) and three statistics arrays; afterwards the mean, variance,
    scale, shift and one temporary of _normalise."""
    return 5 * stats


def _stats_tensors(c, affine, track):
    ts = []
    if affine:
        ts += [Tensor("weight", (c,)), Tensor("bias", (c,), is_bias=True)]
    if track:
        ts += [
            Tensor("running_mean", (c,), buffer=True),
            Tensor("running_var", (c,), buffer=True),
            Tensor("num_batches_tracked", (), buffer=True, dtype="int64"),
        ]
    return ts


class BatchNorm(LayerType):
    family = "normalization"
    cancels_channel_bias = True
    inferred = ("num_features",)
    args = (
        Arg("eps", "float", 1e-5),
        Arg("momentum", "float", 0.1, nullable=True),
        Arg("affine", "bool", True),
        Arg("track_running_stats", "bool", True),
        Arg("num_features", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def __init__(self, dims: int):
        self.dims = dims
        self.name = f"batch_norm{dims}d"
        self.doc = f"torch.nn.BatchNorm{dims}d"
        super().__init__()

    def infer(self, a, shapes):
        shape = shapes[0]
        ranks = (2, 3) if self.dims == 1 else (self.dims + 2,)
        if len(shape) not in ranks:
            want = " or ".join(f"{r}-d" for r in ranks)
            raise LayerError(
                f"{self.name} needs a {want} input, got {len(shape)}-d {list(shape)}",
                code="bad-rank",
                hint="batch_norm (no dimension) picks the variant from the rank",
            )
        check_inferred(a, "num_features", shape[1], "channels")
        # F.batch_norm: without running statistics even inference normalises with the
        # batch's own (training=True), which needs more than one value per channel and
        # a positive eps; with them, eps must still be non-negative
        eps = a["eps"]
        if not a["track_running_stats"]:
            values = shape[0] * prod(shape[2:])
            if values == 1:
                raise LayerError(
                    f"track_running_stats=False normalises with the batch's own "
                    f"statistics, which needs more than 1 value per channel, "
                    f"but the input {list(shape)} has 1 (PyTorch: Expected more "
                    "than 1 value per channel when training)",
                    arg="track_running_stats",
                    hint="use a batch of 2 or more, or track_running_stats: true",
                )
            if eps <= 0:
                raise LayerError(
                    f"eps must be positive when normalising with the batch's own "
                    f"statistics (track_running_stats=False), but got {eps} "
                    "(PyTorch rejects it)",
                    arg="eps",
                )
        elif eps < 0:
            raise LayerError(
                f"eps must be non-negative, but got {eps} (PyTorch rejects it)", arg="eps"
            )
        return shape

    def forward(self, a, xs, w):
        x = xs[0]
        cshape = (1, -1) + (1,) * (x.ndim - 2)
        if "running_mean" in w:  # inference: the running statistics
            mean = w["running_mean"].reshape(cshape)
            var = w["running_var"].reshape(cshape)
        else:  # without tracked statistics PyTorch normalises with the batch's own
            axes = tuple(i for i in range(x.ndim) if i != 1)
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
        return _normalise(x, mean, var, a["eps"], w.get("weight"), w.get("bias"), cshape)

    def tensors(self, a, shapes, out):
        return _stats_tensors(a["num_features"], a["affine"], a["track_running_stats"])

    def workspace(self, a, shapes, out):
        return _stats_workspace(a["num_features"])


class InstanceNorm(LayerType):
    family = "normalization"
    cancels_channel_bias = True
    inferred = ("num_features",)
    args = (
        Arg("eps", "float", 1e-5),
        Arg("momentum", "float", 0.1, nullable=True),
        Arg("affine", "bool", False),
        Arg("track_running_stats", "bool", False),
        Arg("num_features", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def __init__(self, dims: int):
        self.dims = dims
        self.name = f"instance_norm{dims}d"
        self.doc = f"torch.nn.InstanceNorm{dims}d"
        super().__init__()

    def infer(self, a, shapes):
        shape = shapes[0]
        if len(shape) == self.dims + 2:
            c = shape[1]
        elif len(shape) == self.dims + 1:
            c = shape[0]
        else:
            raise LayerError(
                f"{self.name} needs a {self.dims + 2}-d input (or {self.dims + 1}-d "
                f"unbatched), got {len(shape)}-d {list(shape)}",
                code="bad-rank",
            )
        check_inferred(a, "num_features", c, "channels")
        # F.instance_norm: without running statistics (the default) even inference
        # normalises each channel over its own positions, and needs more than one
        spatial = shape[-self.dims :]
        if not a["track_running_stats"] and prod(spatial) == 1:
            raise LayerError(
                f"{self.name} normalises each channel over its own positions, "
                f"which needs more than 1, but the input {list(shape)} has 1 "
                "(PyTorch: Expected more than 1 spatial element when training)",
                hint="give it a larger map, or track_running_stats: true "
                "(inference then uses the running statistics)",
            )
        return shape

    def forward(self, a, xs, w):
        x = xs[0]
        caxis = x.ndim - self.dims - 1
        cshape = (-1,) + (1,) * self.dims
        if "running_mean" in w:  # track_running_stats: eval mode uses them
            mean = w["running_mean"].reshape(cshape)
            var = w["running_var"].reshape(cshape)
        else:
            axes = tuple(range(caxis + 1, x.ndim))
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
        return _normalise(x, mean, var, a["eps"], w.get("weight"), w.get("bias"), cshape)

    def tensors(self, a, shapes, out):
        return _stats_tensors(a["num_features"], a["affine"], a["track_running_stats"])

    def workspace(self, a, shapes, out):
        shape = shapes[0]  # per sample and channel (the running statistics are smaller)
        return _stats_workspace(prod(shape[: len(shape) - self.dims]))


def _normalized_shape(name, a, shape) -> tuple:
    """The normalized_shape argument as a tuple; not given, every dim but the batch (the
    SPEC.md section 4 default of layer_norm, which rms_norm shares)."""
    ns = a["normalized_shape"]
    if ns is None:
        if len(shape) < 2:
            raise LayerError(
                f"{name}'s default normalized_shape is every dim but the "
                f"batch, and the input {list(shape)} has none",
                arg="normalized_shape",
                code="bad-rank",
            )
        return tuple(shape[1:])
    return tuple(ns) if isinstance(ns, (list, tuple)) else (ns,)


class LayerNorm(LayerType):
    name = "layer_norm"
    family = "normalization"
    doc = "torch.nn.LayerNorm"
    args = (
        Arg(
            "normalized_shape",
            "ints",
            None,
            min=1,
            nullable=True,
            doc="default: every dim but the batch",
        ),
        Arg("eps", "float", 1e-5),
        Arg("elementwise_affine", "bool", True),
        Arg("bias", "bool", True),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        ns = _normalized_shape(self.name, a, shape)
        if len(ns) > len(shape) or tuple(shape[len(shape) - len(ns) :]) != ns:
            raise LayerError(
                f"normalized_shape {list(ns)} must match the last dims of the input {list(shape)}",
                arg="normalized_shape",
                code="shape-mismatch",
            )
        a["_ns"] = ns
        return shape

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        axes = tuple(range(x.ndim - len(a["_ns"]), x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        # the weight makes the scale as large as x: normalise a block of rows and
        # columns of the (rows, normalized elements) matrix at a time
        cols = prod(a["_ns"])
        x2, mean, var = x.reshape(-1, cols), mean.reshape(-1, 1), var.reshape(-1, 1)
        weight, bias = (w[k].reshape(1, cols) if k in w else None for k in ("weight", "bias"))
        y = np.empty_like(x2)
        width = min(cols, NORM_BLOCK)
        height = max(1, NORM_BLOCK // width)
        for r0 in range(0, x2.shape[0], height):
            rows = slice(r0, r0 + height)
            for c0 in range(0, cols, width):
                cs = slice(c0, c0 + width)
                y[rows, cs] = _normalise(
                    x2[rows, cs],
                    mean[rows],
                    var[rows],
                    a["eps"],
                    None if weight is None else weight[:, cs],
                    None if bias is None else bias[:, cs],
                    (1, -1),
                )
        return y.reshape(x.shape)

    def workspace(self, a, shapes, out):
        stats = prod(shapes[0]) // prod(a["_ns"])
        return 2 * stats + max(3 * stats, 5 * min(prod(out), NORM_BLOCK))

    def tensors(self, a, shapes, out):
        if not a["elementwise_affine"]:
            return []
        ts = [Tensor("weight", a["_ns"])]
        if a["bias"]:
            ts.append(Tensor("bias", a["_ns"], is_bias=True))
        return ts


class GroupNorm(LayerType):
    name = "group_norm"
    family = "normalization"
    doc = "torch.nn.GroupNorm"
    inferred = ("num_channels",)
    args = (
        Arg("num_groups", "int", min=1),
        Arg("eps", "float", 1e-5),
        Arg("affine", "bool", True),
        Arg("num_channels", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        if len(shape) < 2:
            raise LayerError(
                f"group_norm needs an input (N, C, *), got {list(shape)}", code="bad-rank"
            )
        check_inferred(a, "num_channels", shape[1], "channels")
        if shape[1] % a["num_groups"]:
            raise LayerError(
                f"{shape[1]} channels are not divisible by num_groups {a['num_groups']}",
                arg="num_groups",
                hint=f"choose num_groups dividing {shape[1]}",
            )
        # F.group_norm (inference too): every group needs more than one value
        g = a["num_groups"]
        if shape[0] * (shape[1] // g) * prod(shape[2:]) == 1:
            raise LayerError(
                f"group_norm needs more than 1 value per group, but "
                f"num_groups {g} leaves 1 in each group of the input "
                f"{list(shape)} (PyTorch: Expected more than 1 value per "
                "channel when training)",
                arg="num_groups" if g > 1 else None,
                hint="use fewer groups" if g > 1 else "use a larger input",
            )
        return shape

    def forward(self, a, xs, w):
        x = xs[0]
        n, c = x.shape[:2]
        g = a["num_groups"]
        xg = x.reshape(n, g, -1)
        mean = xg.mean(axis=2, keepdims=True)
        var = xg.var(axis=2, keepdims=True)
        y = _normalise(xg, mean, var, a["eps"], None, None, ()).reshape(x.shape)
        if "weight" in w:
            cshape = (1, c) + (1,) * (x.ndim - 2)
            y *= w["weight"].reshape(cshape)
            y += w["bias"].reshape(cshape)
        return y

    def workspace(self, a, shapes, out):
        return _stats_workspace(shapes[0][0] * a["num_groups"])

    def tensors(self, a, shapes, out):
        c = a["num_channels"]
        return [Tensor("weight", (c,)), Tensor("bias", (c,), is_bias=True)] if a["affine"] else []

    def summary(self, a):
        return f"groups={a['num_groups']}"


class RMSNorm(LayerType):
    """torch.nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True): y = x /
    sqrt(mean(x², last dims) + eps) · weight, with eps None meaning the machine epsilon
    of the computation type (float32 for float32 and narrower inputs, as torch)."""

    name = "rms_norm"
    family = "normalization"
    doc = "torch.nn.RMSNorm"
    args = (
        Arg(
            "normalized_shape",
            "ints",
            None,
            min=1,
            nullable=True,
            doc="default: every dim but the batch, as layer_norm; sequence models "
            "write [in_shape(-1)]",
        ),
        Arg(
            "eps",
            "float",
            None,
            nullable=True,
            doc="none: torch.finfo(dtype).eps of the computation type, as PyTorch",
        ),
        Arg("elementwise_affine", "bool", True, doc="a weight of normalized_shape (no bias)"),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        ns = _normalized_shape(self.name, a, shape)
        # F.rms_norm's own checks, in its order and words
        if len(ns) > len(shape):
            raise LayerError(
                f"normalized_shape {list(ns)} has {len(ns)} dims but the input "
                f"{list(shape)} has {len(shape)} (PyTorch: Input tensor must have "
                f"at least {len(ns)} dimensions, but got {len(shape)})",
                arg="normalized_shape",
                code="shape-mismatch",
                hint=_last_dim_hint(shape),
            )
        if tuple(shape[len(shape) - len(ns) :]) != ns:
            raise LayerError(
                f"normalized_shape {list(ns)} must match the last dims of the "
                f"input {list(shape)} (PyTorch: Given normalized_shape={list(ns)}, "
                f"expected input with shape [*{', '.join(map(str, ns))}], but got "
                f"input of size{list(shape)})",
                arg="normalized_shape",
                code="shape-mismatch",
                hint=_last_dim_hint(shape),
            )
        a["_ns"] = ns
        return shape

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        cols = prod(a["_ns"])
        x2 = x.reshape(-1, cols)
        eps = a["eps"]
        if eps is None:  # torch: the epsilon of the opmath type (float32 for half types)
            eps = float(np.finfo(np.promote_types(x.dtype, np.float32)).eps)
        r = np.square(x2).mean(axis=1, keepdims=True)  # the square is freed before y exists
        r += eps
        np.sqrt(r, out=r)
        np.divide(1.0, r, out=r)  # torch's rsqrt, then one multiply
        y = x2 * r
        if "weight" in w:
            y *= w["weight"].reshape(1, cols)
        return y.reshape(x.shape)

    def workspace(self, a, shapes, out):
        # the mean of squares and its reduction, a row each; the squares themselves are as
        # large as the output and freed before it is made
        return 3 * (prod(shapes[0]) // prod(a["_ns"]))

    def tensors(self, a, shapes, out):
        return [Tensor("weight", a["_ns"])] if a["elementwise_affine"] else []

    def summary(self, a):
        return "" if a["eps"] is None else f"eps={a['eps']}"


def _last_dim_hint(shape) -> str | None:
    if not shape:
        return None
    return f"normalized_shape: [{shape[-1]}] normalises the last dim (write [in_shape(-1)])"


_NHWC = (0, 2, 3, 1)  # the NCHW axis of each channels-last axis: permute(0, 2, 3, 1)


def _nchw_view(t, ns):
    """A tensor of channels-last normalized_shape ``ns`` as an NCHW-broadcastable view."""
    return t.reshape((1,) * (4 - len(ns)) + tuple(ns)).transpose(0, 3, 1, 2)


class LayerNorm2d(LayerType):
    """torchvision.models.convnext.LayerNorm2d (timm's LayerNorm2d likewise): an
    nn.LayerNorm whose forward permutes an NCHW input to (N, H, W, C), layer-normalises
    the last dims (normalized_shape, the channels in every real use) and permutes back."""

    name = "layer_norm2d"
    family = "normalization"
    doc = "torchvision.models.convnext.LayerNorm2d"
    args = (
        Arg(
            "normalized_shape",
            "ints",
            None,
            min=1,
            nullable=True,
            doc="inferred: [C]; else the last dims of the (N, H, W, C) permuted input",
        ),
        Arg("eps", "float", 1e-5, doc="nn.LayerNorm's default; ConvNeXt and timm use 1e-6"),
        Arg("elementwise_affine", "bool", True),
        Arg("bias", "bool", True),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        r = len(shape)
        if r != 4:
            hint = (
                f"an unbatched (C, H, W) map needs a batch dim: reshape: {{shape: {[1, *shape]}}}"
                if r == 3
                else "layer_norm normalises the last dims of an input of any rank"
            )
            raise LayerError(
                f"layer_norm2d needs a 4-d input (N, C, H, W), got {r}-d "
                f"{list(shape)}: it permutes the input to (N, H, W, C), which "
                f"PyTorch refuses for a {r}-d tensor (permute: input.dim() = {r} "
                "is not equal to len(dims) = 4)",
                code="bad-rank",
                hint=hint,
            )
        nhwc = tuple(shape[i] for i in _NHWC)
        ns = a["normalized_shape"]
        ns = (shape[1],) if ns is None else tuple(ns) if isinstance(ns, (list, tuple)) else (ns,)
        if len(ns) > 4 or nhwc[4 - len(ns) :] != ns:
            raise LayerError(
                f"normalized_shape {list(ns)} must match the last dims of the "
                f"channels-last input {list(nhwc)} (the input {list(shape)} "
                f"permuted to (N, H, W, C)) (PyTorch: Given normalized_shape="
                f"{list(ns)}, expected input with shape [*, "
                f"{', '.join(map(str, ns))}], but got input of size{list(nhwc)})",
                arg="normalized_shape",
                code="shape-mismatch",
                hint=f"normalized_shape: [{shape[1]}] (the channels), or remove "
                "it (layercalc infers it)",
            )
        a["_ns"] = a["normalized_shape"] = ns  # inferred, stored as layer_norm stores it
        return shape

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        ns = a["_ns"]
        # normalise in place of the permutes: the same statistics over the same elements
        axes = tuple(sorted(_NHWC[4 - len(ns) :]))
        mean = x.mean(axis=axes, keepdims=True)
        rstd = x.var(axis=axes, keepdims=True)
        rstd += a["eps"]
        np.sqrt(rstd, out=rstd)
        np.divide(1.0, rstd, out=rstd)
        y = x - mean
        y *= rstd
        if "weight" in w:
            y *= _nchw_view(w["weight"], ns)
        if "bias" in w:
            y += _nchw_view(w["bias"], ns)
        return y

    def workspace(self, a, shapes, out):
        return _stats_workspace(prod(shapes[0]) // prod(a["_ns"]))

    tensors = LayerNorm.tensors  # an nn.LayerNorm: the same weight and bias

    def summary(self, a):
        shown = [f"over {list(a['_ns'])}"] if len(a["_ns"]) > 1 else []  # else [C]
        return " ".join(shown + ([] if a["eps"] == 1e-5 else [f"eps={a['eps']}"]))
