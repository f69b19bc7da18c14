"""Element-wise layers: activations, softmax, PReLU, dropout, identity."""

from __future__ import annotations

from ..arith import prod
from ..errors import LayerError
from .base import Arg, LayerType, Tensor

_INPLACE = Arg("inplace", "bool", False, doc="no effect on shapes")


class _Approximate(Arg):
    """gelu's approximate: nn.GELU takes any string, and its forward (F.gelu) refuses
    all but these two with the words below, so a spec refuses them at the value."""

    __slots__ = ()
    torch_refusal = "approximate argument must be either none or tanh."


def _gelu(x, a):
    import numpy as np

    from . import npops

    # in place, in the order of 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)))
    # and 0.5 * x * (1.0 + erf(x / sqrt(2))): the same arithmetic, fewer temporaries
    if a["approximate"] == "tanh":
        t = 0.044715 * x
        t *= x
        t *= x
        t += x
        t *= float(np.sqrt(2.0 / np.pi))
        np.tanh(t, out=t)
    else:
        t = npops.erf(x * float(1.0 / np.sqrt(2.0)))
    t += 1.0
    y = 0.5 * x
    y *= t
    return y


def _elu(x, a):
    import numpy as np

    with np.errstate(over="ignore"):
        return np.where(x > 0, x, a["alpha"] * np.expm1(np.minimum(x, 0)))


def _mish(x, a):
    import numpy as np

    from . import npops

    y = npops.softplus(x)
    np.tanh(y, out=y)
    y *= x  # x * tanh(softplus(x))
    return y


def _silu(x, a):
    from . import npops

    y = npops.sigmoid(x)
    y *= x  # x * sigmoid(x), in place
    return y


def _np():
    import numpy as np

    return np


def _ops():
    """name -> f(x, args): the element-wise forwards, built on first use."""
    from . import npops

    np = _np()
    return {
        "relu": lambda x, a: np.maximum(x, 0),
        "relu6": lambda x, a: np.clip(x, 0, 6),
        "leaky_relu": lambda x, a: np.where(x >= 0, x, x * a["negative_slope"]),
        "elu": _elu,
        "gelu": _gelu,
        "silu": _silu,
        "mish": _mish,
        "sigmoid": lambda x, a: npops.sigmoid(x),
        "tanh": lambda x, a: np.tanh(x),
        "hardswish": lambda x, a: x * (np.clip(x + 3, 0, 6) / 6),
        "hardsigmoid": lambda x, a: np.clip(x + 3, 0, 6) / 6,
        "hardtanh": lambda x, a: np.clip(x, a["min_val"], a["max_val"]),
        "softplus": lambda x, a: npops.softplus(x, a["beta"], a["threshold"]),
        "identity": lambda x, a: x,
        # dropout is the identity at inference
        "dropout": lambda x, a: x,
        "dropout1d": lambda x, a: x,
        "dropout2d": lambda x, a: x,
        "dropout3d": lambda x, a: x,
        "stochastic_depth": lambda x, a: x,
    }


_OPS = None


class Elementwise(LayerType):
    """A layer whose output has its input's shape and which holds no tensors."""

    family = "activation"

    def __init__(
        self,
        name: str,
        torch_name: str,
        args: tuple = (),
        aliases: tuple = (),
        family: str = "activation",
    ):
        self.name = name
        self.doc = f"torch.nn.{torch_name}"
        self.args = args
        self.aliases = aliases
        self.family = family
        super().__init__()

    def infer(self, a, shapes):
        # PyTorch's own refusals: _DropoutNd.__init__, F.dropout1d, Hardtanh.__init__
        if "p" in a and not 0 <= a["p"] <= 1:
            raise LayerError(
                f"dropout probability has to be between 0 and 1, but got "
                f"{a['p']} (PyTorch rejects it)",
                arg="p",
                hint="use a p in [0, 1]",
            )
        shape = shapes[0]
        if self.name == "dropout1d" and len(shape) not in (2, 3):
            raise LayerError(
                f"dropout1d needs a 2-d or 3-d input (N, C, L) or (C, L), got "
                f"{len(shape)}-d {list(shape)} (PyTorch rejects it)",
                code="bad-rank",
                hint="dropout2d/dropout3d drop whole channels "
                "of 2-d/3-d maps; dropout drops single elements",
            )
        if self.name == "hardtanh" and a["max_val"] <= a["min_val"]:
            raise LayerError(
                f"max_val ({a['max_val']}) must be greater than min_val "
                f"({a['min_val']}) (PyTorch rejects it)",
                arg="max_val",
            )
        return shape

    def forward(self, a, xs, w):
        global _OPS
        if _OPS is None:
            _OPS = _ops()
        return _OPS[self.name](xs[0], a)

    def workspace(self, a, shapes, out):
        return 0 if self.family == "dropout" or self.name == "identity" else 3 * prod(out)

    def summary(self, a):
        shown = [
            f"{k}={a[k]}"
            for k in ("negative_slope", "alpha", "p", "mode", "approximate", "min_val", "max_val")
            if k in a
        ]
        return " ".join(shown)


class StochasticDepth(Elementwise):
    """torchvision.ops.StochasticDepth(p, mode): in training it zeroes the whole input
    ("batch") or whole samples ("row") with probability p; the identity at inference."""

    def __init__(self):
        super().__init__(
            "stochastic_depth",
            "StochasticDepth",
            (
                Arg(
                    "p",
                    "float",
                    doc="the drop probability, in [0, 1]; no default, as in torchvision",
                ),
                Arg(
                    "mode",
                    "choice",
                    words=("batch", "row"),
                    doc="batch drops the whole batch, row single samples; no default",
                ),
            ),
            family="dropout",
        )
        self.doc = "torchvision.ops.StochasticDepth"

    def infer(self, a, shapes):
        # torchvision.ops.stochastic_depth checks p (and mode, here an argument choice) in
        # every forward, training or not, so the network could not run
        if not 0 <= a["p"] <= 1:
            raise LayerError(
                f"drop probability has to be between 0 and 1, but got {a['p']} "
                "(torchvision rejects it)",
                arg="p",
                hint="use a p in [0, 1]",
            )
        return shapes[0]


class Softmax(LayerType):
    family = "activation"
    args = (Arg("dim", "int", doc="required: PyTorch's implicit choice is deprecated"),)

    def __init__(self, name: str, torch_name: str):
        self.name = name
        self.doc = f"torch.nn.{torch_name}"
        super().__init__()

    def infer(self, a, shapes):
        shape = shapes[0]
        r = len(shape)
        if not -max(r, 1) <= a["dim"] < max(r, 1):
            raise LayerError(
                f"dim {a['dim']} is out of range for the {r}-d input {list(shape)}",
                arg="dim",
                hint=f"use a dim in [{-r}, {r - 1}]",
            )
        return shape

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        dim = a["dim"] % max(x.ndim, 1)
        if x.ndim == 0:
            return np.zeros_like(x) if self.name == "log_softmax" else np.ones_like(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        if self.name == "log_softmax":
            total = np.exp(shifted).sum(axis=dim, keepdims=True)
            np.log(total, out=total)
            shifted -= total
            return shifted
        e = np.exp(shifted, out=shifted)
        e /= e.sum(axis=dim, keepdims=True)
        return e

    def workspace(self, a, shapes, out):
        return 2 * prod(out)

    def summary(self, a):
        return f"dim={a['dim']}"


class PReLU(LayerType):
    name = "prelu"
    family = "activation"
    doc = "torch.nn.PReLU"
    args = (Arg("num_parameters", "int", 1, min=1), Arg("init", "float", 0.25))

    def infer(self, a, shapes):
        shape = shapes[0]
        n = a["num_parameters"]
        if n != 1:
            # ATen's prelu: the channels are dim 1; a 1-d input counts as one channel
            if len(shape) < 2:
                raise LayerError(
                    f"num_parameters is {n} but PReLU reads channels from dim 1, "
                    f"and the {len(shape)}-d input {list(shape)} has 1 channel "
                    "(PyTorch rejects it)",
                    arg="num_parameters",
                    code="shape-mismatch",
                    hint="use 1",
                )
            c = shape[1]
            if c != n:
                raise LayerError(
                    f"num_parameters is {n} but the input has {c} channels",
                    arg="num_parameters",
                    code="shape-mismatch",
                    hint=f"use 1 or {c}",
                )
        return shape

    def tensors(self, a, shapes, out):
        return [Tensor("weight", (a["num_parameters"],))]

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        weight = w["weight"]
        if weight.size > 1:
            shape = [1] * x.ndim
            shape[1 if x.ndim >= 2 else 0] = -1
            weight = weight.reshape(shape)
        else:
            weight = weight.reshape(())
        y = x * weight  # np.where(x >= 0, x, x * weight) without a third array
        np.copyto(y, x, where=x >= 0)
        return y


def activations():
    """The parameter-free element-wise layers of SPEC.md section 4, with PyTorch's args."""
    A = Arg
    return [
        Elementwise("relu", "ReLU", (_INPLACE,)),
        Elementwise("relu6", "ReLU6", (_INPLACE,)),
        Elementwise("leaky_relu", "LeakyReLU", (A("negative_slope", "float", 0.01), _INPLACE)),
        Elementwise("elu", "ELU", (A("alpha", "float", 1.0), _INPLACE)),
        Elementwise(
            "gelu",
            "GELU",
            (
                _Approximate(
                    "approximate",
                    "choice",
                    "none",
                    words=("none", "tanh"),
                    doc="none: exact, 0.5*x*(1 + erf(x/sqrt(2))); tanh: "
                    "0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))",
                ),
            ),
        ),
        Elementwise("silu", "SiLU", (_INPLACE,), aliases=("swish",)),
        Elementwise("mish", "Mish", (_INPLACE,)),
        Elementwise("sigmoid", "Sigmoid"),
        Elementwise("tanh", "Tanh"),
        Elementwise("hardswish", "Hardswish", (_INPLACE,)),
        Elementwise("hardsigmoid", "Hardsigmoid", (_INPLACE,)),
        Elementwise(
            "hardtanh",
            "Hardtanh",
            (A("min_val", "float", -1.0), A("max_val", "float", 1.0), _INPLACE),
        ),
        Elementwise(
            "softplus", "Softplus", (A("beta", "float", 1.0), A("threshold", "float", 20.0))
        ),
        Elementwise("identity", "Identity"),
        Elementwise("dropout", "Dropout", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout1d", "Dropout1d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout2d", "Dropout2d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout3d", "Dropout3d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        StochasticDepth(),
        Softmax("softmax", "Softmax"),
        Softmax("log_softmax", "LogSoftmax"),
        PReLU(),
    ]
