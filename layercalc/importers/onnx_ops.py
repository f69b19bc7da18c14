"""The ONNX operators that `layercalc import onnx` maps to spec layers, one function each.

A mapper takes the node and the converter's context (constants, inferred shapes,
attributes) and returns the :class:`Leaf` entries that compute the node's outputs, or
raises :class:`Refused` with the reason the node has no spec equivalent. Shapes and
numbers only: no tensor data is copied into the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .views import view_entry


class Refused(Exception):
    """A node with no spec equivalent; the message says why."""


@dataclass
class Leaf:
    """One spec entry: ``type`` and ``args`` as written, ``inputs`` the dynamic values it
    reads (in order), ``outputs`` the values it makes (the first is its default output),
    ``params``/``buffers`` the ONNX tensors it holds, ``weight`` the tensor whose name
    names the layer (``conv1.weight`` -> ``conv1``), ``base`` a name from its type."""

    type: str
    args: dict
    inputs: list
    outputs: list
    params: list = field(default_factory=list)
    buffers: list = field(default_factory=list)
    weight: str | None = None
    base: str = ""
    node: object = None
    order: float = 0.0
    path: tuple = ()
    share: tuple | None = None
    pad_for: object = None
    # its parameter count where the file cannot show it whole: an exporter folds away a
    # bias that is still zero (MultiheadAttention's out_proj.bias, as initialized)
    count: int | None = None


def _dims(n: int) -> str:
    if n not in (1, 2, 3):
        raise Refused(f"{n} spatial dimensions (layercalc has 1d, 2d and 3d layers)")
    return f"{n}d"


def _one(values):
    """A per-dimension list written as one int when all are equal (PyTorch's form)."""
    values = [int(v) for v in values]
    return values[0] if values and all(v == values[0] for v in values) else values


def _sym_pads(pads, n, what="pads"):
    """ONNX pads [b1..bn, e1..en] -> per-dim padding, or None when asymmetric."""
    pads = [int(p) for p in (pads or [0] * 2 * n)]
    begin, end = pads[:n], pads[n:]
    if any(p < 0 for p in pads):
        raise Refused(f"negative {what} {pads} (cropping)")
    return begin if begin == end else None


def _auto_pads(ctx, node, a, shape_in, kernel, strides, dilations):
    """The explicit pads [b.., e..] that auto_pad asks for."""
    mode = a.get("auto_pad", "NOTSET")
    n = len(kernel)
    if mode in ("NOTSET", ""):
        return list(a.get("pads", [0] * 2 * n))
    if mode == "VALID":
        return [0] * 2 * n
    if shape_in is None:
        raise Refused(f"auto_pad {mode} with an input of unknown shape")
    begin, end = [], []
    for i in range(n):
        size = shape_in[2 + i]
        out = -(-size // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        small = total // 2
        if mode == "SAME_UPPER":
            begin.append(small)
            end.append(total - small)
        else:
            begin.append(total - small)
            end.append(small)
    return begin + end


def _pad_leaf(node, x, begin, end, rank, out):
    """A zero_padNd entry for the asymmetric pads of a conv (spatial dims only)."""
    n = len(begin)
    torch_pads = []
    for i in reversed(range(n)):
        torch_pads += [int(begin[i]), int(end[i])]
    return Leaf(f"zero_pad{_dims(n)}", {"padding": torch_pads}, [x], [out], base="pad", node=node)


def conv(ctx, node, a):
    x = node.input[0]
    w = ctx.weight(node, 1)
    n = w.ndim - 2
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    group = int(a.get("group", 1))
    pads = _auto_pads(ctx, node, a, ctx.shape(x), kernel, strides, dilations)
    leaves = []
    padding = _sym_pads(pads, n)
    if padding is None:
        mid = node.output[0] + "#pad"
        leaves.append(_pad_leaf(node, x, pads[:n], pads[n:], n + 2, mid))
        x, padding = mid, [0] * n
    bias = ctx.has_bias(node, 2)
    args = {"out_channels": int(w.shape[0]), "kernel_size": _one(kernel)}
    if any(s != 1 for s in strides):
        args["stride"] = _one(strides)
    if any(padding):
        args["padding"] = _one(padding)
    if any(d != 1 for d in dilations):
        args["dilation"] = _one(dilations)
    if group != 1:
        args["groups"] = group
    if not bias:
        args["bias"] = False
    params = [node.input[1]] + ([node.input[2]] if bias else [])
    leaves.append(
        Leaf(
            f"conv{_dims(n)}",
            args,
            [x],
            [node.output[0]],
            params,
            weight=node.input[1],
            base="conv",
            node=node,
        )
    )
    if len(leaves) == 2:
        leaves[0].pad_for = leaves[1]
    return leaves


def conv_transpose(ctx, node, a):
    x = node.input[0]
    w = ctx.weight(node, 1)
    n = w.ndim - 2
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    group = int(a.get("group", 1))
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise Refused(f"auto_pad {a['auto_pad']} (write explicit pads)")
    if "output_shape" in a:
        raise Refused("output_shape is given (PyTorch's ConvTranspose takes pads instead)")
    padding = _sym_pads(a.get("pads"), n)
    if padding is None:
        raise Refused(f"asymmetric pads {list(a['pads'])}")
    out_pad = list(a.get("output_padding", [0] * n))
    bias = ctx.has_bias(node, 2)
    args = {"out_channels": int(w.shape[1]) * group, "kernel_size": _one(kernel)}
    if any(s != 1 for s in strides):
        args["stride"] = _one(strides)
    if any(padding):
        args["padding"] = _one(padding)
    if any(out_pad):
        args["output_padding"] = _one(out_pad)
    if group != 1:
        args["groups"] = group
    if not bias:
        args["bias"] = False
    if any(d != 1 for d in dilations):
        args["dilation"] = _one(dilations)
    params = [node.input[1]] + ([node.input[2]] if bias else [])
    return [
        Leaf(
            f"conv_transpose{_dims(n)}",
            args,
            [x],
            [node.output[0]],
            params,
            weight=node.input[1],
            base="conv_transpose",
            node=node,
        )
    ]


def gemm(ctx, node, a):
    if int(a.get("transA", 0)):
        raise Refused("transA=1 (the input is transposed)")
    if float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0:
        raise Refused("alpha or beta other than 1")
    w = ctx.weight(node, 1)
    if w.ndim != 2:
        raise Refused(f"a weight of rank {w.ndim}")
    out = int(w.shape[0] if int(a.get("transB", 0)) else w.shape[1])
    bias = ctx.has_bias(node, 2)
    params = [node.input[1]]
    if bias:
        b = ctx.const(node.input[2])
        if b is None:
            raise Refused("a bias that is not a constant")
        if b.size != out:
            raise Refused(f"a bias of shape {list(b.shape)} (a linear layer's is [{out}])")
        params.append(node.input[2])
    args = {"out_features": out}
    if not bias:
        args["bias"] = False
    return [
        Leaf(
            "linear",
            args,
            [node.input[0]],
            [node.output[0]],
            params,
            weight=node.input[1],
            base="linear",
            node=node,
        )
    ]


def matmul(ctx, node, a):
    left, right = ctx.const(node.input[0]), ctx.const(node.input[1])
    if left is not None:
        raise Refused("a constant left operand (only x @ W and x @ y are layers)")
    if right is None:
        return [
            Leaf("matmul", {}, list(node.input[:2]), [node.output[0]], base="matmul", node=node)
        ]
    if right.ndim != 2:
        raise Refused(f"a constant right operand of rank {right.ndim} (a linear weight is 2-D)")
    out = int(right.shape[1])
    params, bias_name, outputs = [node.input[1]], None, [node.output[0]]
    add = ctx.sole_consumer(node.output[0], "Add")
    if add is not None:
        other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
        b = ctx.const(other)
        if b is not None and b.ndim == 1 and b.size == out:
            bias_name = other
            params.append(other)
            outputs = [add.output[0]]
            ctx.absorb(add)
    args = {"out_features": out}
    if bias_name is None:
        args["bias"] = False
    weight = node.input[1]
    if not ctx.named(weight) and bias_name is not None and ctx.named(bias_name):
        weight = bias_name
    return [
        Leaf(
            "linear",
            args,
            [node.input[0]],
            outputs,
            params,
            weight=weight,
            base="linear",
            node=node,
        )
    ]


def _pool_common(ctx, node, a, kind):
    x = node.input[0]
    shape = ctx.shape(x)
    kernel = list(a["kernel_shape"])
    n = len(kernel)
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    pads = _auto_pads(ctx, node, a, shape, kernel, strides, dilations)
    padding = _sym_pads(pads, n)
    if padding is None:
        raise Refused(f"asymmetric pads {pads} (PyTorch pools pad both sides alike)")
    args = {"kernel_size": _one(kernel), "stride": _one(strides)}
    if any(padding):
        args["padding"] = _one(padding)
    if kind == "max" and any(d != 1 for d in dilations):
        args["dilation"] = _one(dilations)
    if kind == "avg" and any(d != 1 for d in dilations):
        raise Refused("dilations on an average pool")
    if int(a.get("ceil_mode", 0)):
        args["ceil_mode"] = True
    return n, args


def max_pool(ctx, node, a):
    if len(node.output) > 1 and node.output[1] and ctx.used(node.output[1]):
        raise Refused("its indices output is used")
    if int(a.get("storage_order", 0)):
        raise Refused("storage_order=1")
    n, args = _pool_common(ctx, node, a, "max")
    return [
        Leaf(
            f"max_pool{_dims(n)}",
            args,
            [node.input[0]],
            [node.output[0]],
            base="max_pool",
            node=node,
        )
    ]


def avg_pool(ctx, node, a):
    n, args = _pool_common(ctx, node, a, "avg")
    if not int(a.get("count_include_pad", 0)) and "padding" in args:
        args["count_include_pad"] = False
    return [
        Leaf(
            f"avg_pool{_dims(n)}",
            args,
            [node.input[0]],
            [node.output[0]],
            base="avg_pool",
            node=node,
        )
    ]


def global_pool(kind):
    def mapper(ctx, node, a):
        shape = ctx.need_shape(node.input[0])
        n = len(shape) - 2
        return [
            Leaf(
                f"adaptive_{kind}_pool{_dims(n)}",
                {"output_size": 1},
                [node.input[0]],
                [node.output[0]],
                base=f"{kind}_pool",
                node=node,
            )
        ]

    return mapper


def _float(v) -> float:
    """A float attribute as PyTorch wrote it (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(v)))


def batch_norm(ctx, node, a):
    if any(o and ctx.used(o) for o in node.output[1:]):
        raise Refused("its running-statistics outputs are used")
    shape = ctx.need_shape(node.input[0])
    if len(shape) not in (2, 3, 4, 5):
        raise Refused(f"an input of rank {len(shape)}")
    for i in range(1, 5):
        if ctx.const(node.input[i]) is None:
            raise Refused(f"input {i} ({node.input[i]}) is not a constant")
    n = {2: 1, 3: 1, 4: 2, 5: 3}[len(shape)]
    args = {}
    eps = _float(a.get("epsilon", 1e-5))
    if eps != 1e-5:
        args["eps"] = eps
    momentum = round(1.0 - _float(a.get("momentum", 0.9)), 6)
    if momentum != 0.1:
        args["momentum"] = momentum
    return [
        Leaf(
            f"batch_norm{n}d",
            args,
            [node.input[0]],
            [node.output[0]],
            list(node.input[1:3]),
            list(node.input[3:5]),
            weight=node.input[1],
            base="batch_norm",
            node=node,
        )
    ]


def instance_norm(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    n = len(shape) - 2
    args = {"affine": True}
    eps = _float(a.get("epsilon", 1e-5))
    if eps != 1e-5:
        args["eps"] = eps
    return [
        Leaf(
            f"instance_norm{_dims(n)}",
            args,
            [node.input[0]],
            [node.output[0]],
            list(node.input[1:3]),
            weight=node.input[1],
            base="instance_norm",
            node=node,
        )
    ]


def layer_norm(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    axis = int(a.get("axis", -1)) % len(shape)
    if len(node.output) > 1 and any(o and ctx.used(o) for o in node.output[1:]):
        raise Refused("its mean or inverse-deviation output is used")
    args = {"normalized_shape": [int(d) for d in shape[axis:]]}
    eps = _float(a.get("epsilon", 1e-5))
    if eps != 1e-5:
        args["eps"] = eps
    bias = ctx.has_bias(node, 2)
    if not bias:
        args["bias"] = False
    params = [node.input[1]] + ([node.input[2]] if bias else [])
    return [
        Leaf(
            "layer_norm",
            args,
            [node.input[0]],
            [node.output[0]],
            params,
            weight=node.input[1],
            base="layer_norm",
            node=node,
        )
    ]


def activation(kind, **fixed):
    def mapper(ctx, node, a):
        return [Leaf(kind, dict(fixed), [node.input[0]], [node.output[0]], base=kind, node=node)]

    return mapper


def sigmoid(ctx, node, a):
    """x * sigmoid(x), as exporters write SiLU, is one silu."""
    x = node.input[0]
    mul = ctx.sole_consumer(node.output[0], "Mul")
    if mul is not None and sorted(mul.input) == sorted([x, node.output[0]]):
        ctx.absorb(mul)
        return [Leaf("silu", {}, [x], [mul.output[0]], base="silu", node=node)]
    return [Leaf("sigmoid", {}, [x], [node.output[0]], base="sigmoid", node=node)]


def leaky_relu(ctx, node, a):
    slope = _float(a.get("alpha", 0.01))
    args = {} if slope == 0.01 else {"negative_slope": slope}
    return [
        Leaf("leaky_relu", args, [node.input[0]], [node.output[0]], base="leaky_relu", node=node)
    ]


def elu(ctx, node, a):
    alpha = _float(a.get("alpha", 1.0))
    args = {} if alpha == 1.0 else {"alpha": alpha}
    return [Leaf("elu", args, [node.input[0]], [node.output[0]], base="elu", node=node)]


def gelu(ctx, node, a):
    approx = a.get("approximate", "none")
    args = {} if approx == "none" else {"approximate": approx}
    return [Leaf("gelu", args, [node.input[0]], [node.output[0]], base="gelu", node=node)]


def hard_sigmoid(ctx, node, a):
    alpha, beta = _float(a.get("alpha", 0.2)), _float(a.get("beta", 0.5))
    if not (math.isclose(alpha, 1 / 6, rel_tol=1e-5) and beta == 0.5):
        raise Refused(f"alpha={alpha}, beta={beta} (PyTorch's Hardsigmoid is 1/6, 0.5)")
    return [
        Leaf("hardsigmoid", {}, [node.input[0]], [node.output[0]], base="hardsigmoid", node=node)
    ]


def clip(ctx, node, a):
    lo = a.get("min")
    hi = a.get("max")
    if len(node.input) > 1 and node.input[1]:
        v = ctx.const(node.input[1])
        if v is None:
            raise Refused("a min that is not a constant")
        lo = float(v)
    if len(node.input) > 2 and node.input[2]:
        v = ctx.const(node.input[2])
        if v is None:
            raise Refused("a max that is not a constant")
        hi = float(v)
    if lo == 0 and hi == 6:
        kind, args = "relu6", {}
    elif lo is not None and hi is not None:
        kind, args = "hardtanh", {"min_val": _float(lo), "max_val": _float(hi)}
    elif lo == 0 and hi is None:
        kind, args = "relu", {}
    else:
        raise Refused("a one-sided clip other than min=0")
    return [Leaf(kind, args, [node.input[0]], [node.output[0]], base=kind, node=node)]


def softmax(kind):
    def mapper(ctx, node, a):
        shape = ctx.need_shape(node.input[0])
        default = -1 if ctx.opset >= 13 else 1
        axis = int(a.get("axis", default)) % len(shape)
        if ctx.opset < 13 and axis != len(shape) - 1:
            raise Refused(f"axis {axis} before opset 13 flattens the input first")
        return [Leaf(kind, {"dim": axis}, [node.input[0]], [node.output[0]], base=kind, node=node)]

    return mapper


def prelu(ctx, node, a):
    slope = ctx.weight(node, 1)
    return [
        Leaf(
            "prelu",
            {"num_parameters": int(slope.size)},
            [node.input[0]],
            [node.output[0]],
            [node.input[1]],
            weight=node.input[1],
            base="prelu",
            node=node,
        )
    ]


def binary(kind):
    def mapper(ctx, node, a):
        x, y = node.input[0], node.input[1]
        cx, cy = ctx.const(x), ctx.const(y)
        if cx is None and cy is None:
            return [Leaf(kind, {}, [x, y], [node.output[0]], base=kind, node=node)]
        if cx is not None and cy is not None:
            raise Refused("both operands are constants")
        c = cy if cy is not None else cx
        if c.size != 1:
            return ctx.constant_operand(node, kind, x, y)
        value = c.reshape(()).item()
        value = int(value) if float(value).is_integer() else _float(value)
        if cy is None and kind in ("sub", "div"):
            raise Refused(f"a constant first operand ({kind} takes `other` second)")
        return [
            Leaf(
                kind,
                {"other": value},
                [x if cy is not None else y],
                [node.output[0]],
                base=kind,
                node=node,
            )
        ]

    return mapper


def pow_(ctx, node, a):
    e = ctx.const(node.input[1])
    if e is None or e.size != 1:
        raise Refused("an exponent that is not a constant number")
    value = e.reshape(()).item()
    value = int(value) if float(value).is_integer() else _float(value)
    return [
        Leaf("pow", {"exponent": value}, [node.input[0]], [node.output[0]], base="pow", node=node)
    ]


def concat(ctx, node, a):
    shape = ctx.need_shape(node.output[0])
    inputs = [i for i in node.input if i]
    dim = int(a["axis"]) % len(shape)
    if len(inputs) == 1:
        return [Leaf("identity", {}, inputs, [node.output[0]], base="identity", node=node)]
    return [Leaf("concat", {"dim": dim}, inputs, [node.output[0]], base="concat", node=node)]


def _literal_shape(ctx, node):
    shape = ctx.need_shape(node.output[0])
    return [int(d) for d in shape]


def reshape(ctx, node, a):
    entry = view_entry(ctx.need_shape(node.input[0]), _literal_shape(ctx, node))
    kind, args = ("identity", {}) if entry is None else entry
    return [Leaf(kind, args, [node.input[0]], [node.output[0]], base=kind, node=node)]


def flatten(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    axis = int(a.get("axis", 1)) % (len(shape) + 1) if len(shape) else 0
    if axis == 1 and len(shape) >= 2:
        return [Leaf("flatten", {}, [node.input[0]], [node.output[0]], base="flatten", node=node)]
    return reshape(ctx, node, a)


def _layer_norm2d(ctx, node, perm):
    """permute(0, 2, 3, 1) -> layer_norm over C -> permute(0, 3, 1, 2): torchvision's and
    timm's channels-first LayerNorm2d, as one layer_norm2d; None when not that."""
    if perm != [0, 2, 3, 1]:
        return None
    ln = ctx.sole_consumer(node.output[0], "LayerNormalization")
    if ln is None or int(ln.attrs.get("axis", -1)) % 4 != 3 or ln.input[0] != node.output[0]:
        return None
    if any(o and ctx.used(o) for o in ln.output[1:]):
        return None
    back = ctx.sole_consumer(ln.output[0], "Transpose")
    if back is None or [int(p) for p in back.attrs.get("perm", [])] != [0, 3, 1, 2]:
        return None
    if ctx.const(ln.input[1]) is None:
        return None
    bias = len(ln.input) > 2 and ln.input[2] != ""
    if bias and ctx.const(ln.input[2]) is None:
        return None
    ctx.absorb(ln)
    ctx.absorb(back)
    args = {}
    eps = _float(ln.attrs.get("epsilon", 1e-5))
    if eps != 1e-5:
        args["eps"] = eps
    if not bias:
        args["bias"] = False
    params = [ln.input[1]] + ([ln.input[2]] if bias else [])
    return [
        Leaf(
            "layer_norm2d",
            args,
            [node.input[0]],
            [back.output[0]],
            params,
            weight=ln.input[1],
            base="layer_norm2d",
            node=ln,
        )
    ]


def transpose(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    perm = [int(p) for p in a.get("perm", list(reversed(range(len(shape)))))]
    fused = _layer_norm2d(ctx, node, perm)
    if fused is not None:
        return fused
    moved = [i for i, p in enumerate(perm) if i != p]
    if not moved:
        return [Leaf("identity", {}, [node.input[0]], [node.output[0]], base="identity", node=node)]
    if len(moved) == 2:
        return [
            Leaf(
                "transpose",
                {"dim0": moved[0], "dim1": moved[1]},
                [node.input[0]],
                [node.output[0]],
                base="transpose",
                node=node,
            )
        ]
    return [
        Leaf(
            "permute", {"dims": perm}, [node.input[0]], [node.output[0]], base="permute", node=node
        )
    ]


def _axes(ctx, node, a):
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    if len(node.input) > 1 and node.input[1]:
        v = ctx.const(node.input[1])
        if v is None:
            raise Refused("axes that are not constants")
        return [int(x) for x in v.reshape(-1)]
    return None


def squeeze(ctx, node, a):
    axes = _axes(ctx, node, a)
    shape = ctx.need_shape(node.input[0])
    if axes is not None and len(axes) == 1:
        return [
            Leaf(
                "squeeze",
                {"dim": axes[0] % len(shape)},
                [node.input[0]],
                [node.output[0]],
                base="squeeze",
                node=node,
            )
        ]
    return reshape(ctx, node, a)


def unsqueeze(ctx, node, a):
    axes = _axes(ctx, node, a)
    out = ctx.need_shape(node.output[0])
    if axes is not None and len(axes) == 1:
        return [
            Leaf(
                "unsqueeze",
                {"dim": axes[0] % len(out)},
                [node.input[0]],
                [node.output[0]],
                base="unsqueeze",
                node=node,
            )
        ]
    return reshape(ctx, node, a)


def reduce(kind):
    def mapper(ctx, node, a):
        shape = ctx.need_shape(node.input[0])
        axes = _axes(ctx, node, a)
        keep = bool(int(a.get("keepdims", 1)))
        args = {}
        if axes is None or len(axes) == 0:
            if int(a.get("noop_with_empty_axes", 0)):
                return [
                    Leaf(
                        "identity",
                        {},
                        [node.input[0]],
                        [node.output[0]],
                        base="identity",
                        node=node,
                    )
                ]
            if keep:
                axes = list(range(len(shape)))
        if axes:
            dims = sorted(x % len(shape) for x in axes)
            args["dim"] = dims[0] if len(dims) == 1 else dims
        if keep:
            args["keepdim"] = True
        return [Leaf(kind, args, [node.input[0]], [node.output[0]], base=kind, node=node)]

    return mapper


_RESIZE_MODES = {"nearest": "nearest", "cubic": "bicubic"}


def resize(ctx, node, a):
    x = node.input[0]
    shape = ctx.need_shape(x)
    n = len(shape) - 2
    if n < 1:
        raise Refused(f"an input of rank {len(shape)} (upsample needs N, C and a size)")
    mode = a.get("mode", "nearest")
    coord = a.get("coordinate_transformation_mode", "half_pixel")
    if mode == "linear":
        kind = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(n)
        if kind is None:
            raise Refused(f"linear mode over {n} dims")
    elif mode in _RESIZE_MODES:
        kind = _RESIZE_MODES[mode]
        if kind == "nearest" and coord in ("half_pixel", "pytorch_half_pixel"):
            kind = "nearest-exact"
    else:
        raise Refused(f"mode {mode!r}")
    scales = sizes = None
    if node.op_type == "Upsample":
        src = ctx.const(node.input[1]) if len(node.input) > 1 else None
        scales = src if src is not None else a.get("scales")
    else:
        names = list(node.input) + ["", "", ""]
        if names[3]:
            sizes = ctx.const(names[3])
            if sizes is None:
                raise Refused("sizes that are not constants")
        elif names[2]:
            scales = ctx.const(names[2])
            if scales is None:
                raise Refused("scales that are not constants")
        elif len(node.input) == 2:  # opset 10: X, scales
            scales = ctx.const(names[1])
    args = {}
    if sizes is not None and sizes.size:
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        if sizes[:2] != list(shape[:2]):
            raise Refused("it resizes the batch or channel dims")
        args["size"] = _one(sizes[2:])
    elif scales is not None and np.asarray(scales).size:
        scales = [float(s) for s in np.asarray(scales).reshape(-1)]
        if scales[:2] != [1.0, 1.0]:
            raise Refused("it scales the batch or channel dims")
        factor = [int(s) if s.is_integer() else s for s in scales[2:]]
        args["scale_factor"] = factor[0] if all(f == factor[0] for f in factor) else factor
    else:
        raise Refused("neither scales nor sizes are given")
    args["mode"] = kind
    if kind in ("linear", "bilinear", "trilinear", "bicubic"):
        if coord == "align_corners":
            args["align_corners"] = True
        elif coord not in ("half_pixel", "pytorch_half_pixel"):
            raise Refused(f"coordinate_transformation_mode {coord!r} with mode {mode!r}")
    return [Leaf("upsample", args, [x], [node.output[0]], base="upsample", node=node)]


_PAD_MODES = {
    "constant": "zero_pad",
    "reflect": "reflection_pad",
    "edge": "replication_pad",
    "wrap": "circular_pad",
}


def pad(ctx, node, a):
    x = node.input[0]
    shape = ctx.need_shape(x)
    rank = len(shape)
    if "pads" in a:
        pads = [int(p) for p in a["pads"]]
        value = float(a.get("value", 0.0))
    else:
        p = ctx.const(node.input[1])
        if p is None:
            raise Refused("pads that are not constants")
        pads = [int(v) for v in p.reshape(-1)]
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            v = ctx.const(node.input[2])
            if v is None:
                raise Refused("a pad value that is not a constant")
            value = float(v.reshape(-1)[0]) if v.size else 0.0
        if len(node.input) > 3 and node.input[3]:
            axes = ctx.const(node.input[3])
            if axes is None:
                raise Refused("axes that are not constants")
            full = [0] * 2 * rank
            axes = [int(v) % rank for v in axes.reshape(-1)]
            for i, ax in enumerate(axes):
                full[ax], full[rank + ax] = pads[i], pads[len(axes) + i]
            pads = full
    if any(p < 0 for p in pads):
        raise Refused(f"negative pads {pads} (cropping)")
    begin, end = pads[:rank], pads[rank:]
    touched = [i for i in range(rank) if begin[i] or end[i]]
    n = min(max(rank - 2, 1), 3)
    if touched and min(touched) < rank - n:
        raise Refused(f"it pads dim {min(touched)} (PyTorch's pad layers pad the last {n})")
    mode = a.get("mode", "constant")
    if mode not in _PAD_MODES:
        raise Refused(f"mode {mode!r}")
    torch_pads = []
    for i in reversed(range(rank - n, rank)):
        torch_pads += [begin[i], end[i]]
    kind = _PAD_MODES[mode]
    args = {"padding": torch_pads}
    if mode == "constant" and value != 0.0:
        kind = "constant_pad"
        args["value"] = _float(value)
    return [Leaf(f"{kind}{n}d", args, [x], [node.output[0]], base="pad", node=node)]


def dropout(ctx, node, a):
    if len(node.output) > 1 and node.output[1] and ctx.used(node.output[1]):
        raise Refused("its mask output is used")
    p = a.get("ratio")
    if p is None and len(node.input) > 1 and node.input[1]:
        v = ctx.const(node.input[1])
        p = None if v is None else float(v)
    args = {} if p is None or _float(p) == 0.5 else {"p": _float(p)}
    return [Leaf("dropout", args, [node.input[0]], [node.output[0]], base="dropout", node=node)]


def split(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    axis = int(a.get("axis", 0)) % len(shape)
    sizes = a.get("split")
    if sizes is None and len(node.input) > 1 and node.input[1]:
        v = ctx.const(node.input[1])
        if v is None:
            raise Refused("split sizes that are not constants")
        sizes = [int(s) for s in v.reshape(-1)]
    outs = [o for o in node.output]
    if sizes is None:
        sizes = [ctx.need_shape(o)[axis] for o in outs]
    sizes = [int(s) for s in sizes]
    if all(s == sizes[0] for s in sizes[:-1]) and sizes[-1] <= sizes[0]:
        arg = sizes[0]
    else:
        arg = sizes
    return [
        Leaf(
            "split",
            {"split_size_or_sections": arg, "dim": axis},
            [node.input[0]],
            outs,
            base="split",
            node=node,
        )
    ]


def gather(ctx, node, a):
    idx = ctx.const(node.input[1])
    shape = ctx.need_shape(node.input[0])
    if idx is None or idx.ndim != 0:
        raise Refused(
            "indices that are not one constant number (an embedding needs a "
            "constant table as its first input)"
        )
    axis = int(a.get("axis", 0)) % len(shape)
    return [
        Leaf(
            "select",
            {"dim": axis, "index": int(idx)},
            [node.input[0]],
            [node.output[0]],
            base="select",
            node=node,
        )
    ]


def slice_(ctx, node, a):
    shape = ctx.need_shape(node.input[0])
    vals = []
    for i in range(1, 5):
        if len(node.input) > i and node.input[i]:
            v = ctx.const(node.input[i])
            if v is None:
                raise Refused("starts, ends, axes or steps that are not constants")
            vals.append([int(x) for x in v.reshape(-1)])
        else:
            vals.append(None)
    starts, ends, axes, steps = vals
    if starts is None and "starts" in a:
        starts, ends, axes = list(a["starts"]), list(a["ends"]), a.get("axes")
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    if len(starts) != 1:
        raise Refused(f"it slices {len(starts)} axes at once")
    if steps[0] < 1:
        raise Refused(f"step {steps[0]} (PyTorch slices only forwards)")
    dim = axes[0] % len(shape)
    args = {"dim": dim}
    big = 2**62
    if starts[0] != 0:
        args["start"] = starts[0]
    if ends[0] < big:
        args["end"] = max(min(ends[0], shape[dim]), -shape[dim])
    if steps[0] != 1:
        args["step"] = steps[0]
    return [Leaf("slice", args, [node.input[0]], [node.output[0]], base="slice", node=node)]


def embedding(ctx, node, a):
    """Gather from a constant 2-D table by a dynamic index tensor: nn.Embedding."""
    table = ctx.const(node.input[0])
    if table is None or table.ndim != 2 or int(a.get("axis", 0)) != 0:
        raise Refused("a table that is not a constant 2-D tensor gathered along axis 0")
    return [
        Leaf(
            "embedding",
            {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
            [node.input[1]],
            [node.output[0]],
            [node.input[0]],
            weight=node.input[0],
            base="embedding",
            node=node,
        )
    ]


def gather_any(ctx, node, a):
    if ctx.const(node.input[0]) is not None:
        return embedding(ctx, node, a)
    return gather(ctx, node, a)


def expand(ctx, node, a):
    if ctx.const(node.input[1]) is None:
        raise Refused("a size that is not a constant")
    return [
        Leaf(
            "expand",
            {"size": _literal_shape(ctx, node)},
            [node.input[0]],
            [node.output[0]],
            base="expand",
            node=node,
        )
    ]


def depth_to_space(ctx, node, a):
    if a.get("mode", "DCR") != "CRD":
        raise Refused("mode DCR (PyTorch's PixelShuffle orders channels as CRD)")
    return [
        Leaf(
            "pixel_shuffle",
            {"upscale_factor": int(a["blocksize"])},
            [node.input[0]],
            [node.output[0]],
            base="pixel_shuffle",
            node=node,
        )
    ]


MAPPERS = {
    "Expand": expand,
    "DepthToSpace": depth_to_space,
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "Gemm": gemm,
    "MatMul": matmul,
    "MaxPool": max_pool,
    "AveragePool": avg_pool,
    "GlobalAveragePool": global_pool("avg"),
    "GlobalMaxPool": global_pool("max"),
    "BatchNormalization": batch_norm,
    "InstanceNormalization": instance_norm,
    "LayerNormalization": layer_norm,
    "Relu": activation("relu"),
    "LeakyRelu": leaky_relu,
    "Elu": elu,
    "Sigmoid": sigmoid,
    "Tanh": activation("tanh"),
    "Gelu": gelu,
    "HardSwish": activation("hardswish"),
    "HardSigmoid": hard_sigmoid,
    "Softplus": activation("softplus"),
    "Mish": activation("mish"),
    "Clip": clip,
    "Softmax": softmax("softmax"),
    "LogSoftmax": softmax("log_softmax"),
    "PRelu": prelu,
    "Add": binary("add"),
    "Mul": binary("mul"),
    "Sub": binary("sub"),
    "Div": binary("div"),
    "Pow": pow_,
    "Abs": activation("abs"),
    "Neg": activation("neg"),
    "Sqrt": activation("sqrt"),
    "Exp": activation("exp"),
    "Log": activation("log"),
    "Concat": concat,
    "Reshape": reshape,
    "Flatten": flatten,
    "Transpose": transpose,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "ReduceMean": reduce("mean"),
    "ReduceSum": reduce("sum"),
    "ReduceMax": reduce("amax"),
    "ReduceMin": reduce("amin"),
    "Resize": resize,
    "Upsample": resize,
    "Pad": pad,
    "Dropout": dropout,
    "Split": split,
    "Gather": gather_any,
    "Slice": slice_,
}
