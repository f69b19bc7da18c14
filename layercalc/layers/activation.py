"""Element-wise layers: activations, softmax, PReLU, dropout, identity."""
from __future__ import annotations

from ..errors import LayerError
from .base import Arg, LayerType, Tensor

_INPLACE = Arg("inplace", "bool", False, doc="no effect on shapes")


class Elementwise(LayerType):
    """A layer whose output has its input's shape and which holds no tensors."""

    family = "activation"

    def __init__(self, name: str, torch_name: str, args: tuple = (), aliases: tuple = (),
                 family: str = "activation"):
        self.name = name
        self.doc = f"torch.nn.{torch_name}"
        self.args = args
        self.aliases = aliases
        self.family = family
        super().__init__()

    def summary(self, a):
        shown = [f"{k}={a[k]}" for k in ("negative_slope", "alpha", "p", "approximate",
                                          "min_val", "max_val") if k in a]
        return " ".join(shown)


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
            raise LayerError(f"dim {a['dim']} is out of range for the {r}-d input {list(shape)}",
                             arg="dim", hint=f"use a dim in [{-r}, {r - 1}]")
        return shape

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
            c = shape[1] if len(shape) >= 2 else shape[0] if shape else 1
            if c != n:
                raise LayerError(f"num_parameters is {n} but the input has {c} channels",
                                 arg="num_parameters", code="shape-mismatch",
                                 hint=f"use 1 or {c}")
        return shape

    def tensors(self, a, shapes, out):
        return [Tensor("weight", (a["num_parameters"],))]


def activations():
    """The parameter-free element-wise layers of SPEC.md section 4, with PyTorch's args."""
    A = Arg
    return [
        Elementwise("relu", "ReLU", (_INPLACE,)),
        Elementwise("relu6", "ReLU6", (_INPLACE,)),
        Elementwise("leaky_relu", "LeakyReLU", (A("negative_slope", "float", 0.01), _INPLACE)),
        Elementwise("elu", "ELU", (A("alpha", "float", 1.0), _INPLACE)),
        Elementwise("gelu", "GELU", (A("approximate", "choice", "none", words=("none", "tanh")),)),
        Elementwise("silu", "SiLU", (_INPLACE,), aliases=("swish",)),
        Elementwise("mish", "Mish", (_INPLACE,)),
        Elementwise("sigmoid", "Sigmoid"),
        Elementwise("tanh", "Tanh"),
        Elementwise("hardswish", "Hardswish", (_INPLACE,)),
        Elementwise("hardsigmoid", "Hardsigmoid", (_INPLACE,)),
        Elementwise("hardtanh", "Hardtanh", (A("min_val", "float", -1.0), A("max_val", "float", 1.0),
                                              _INPLACE)),
        Elementwise("softplus", "Softplus", (A("beta", "float", 1.0), A("threshold", "float", 20.0))),
        Elementwise("identity", "Identity"),
        Elementwise("dropout", "Dropout", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout1d", "Dropout1d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout2d", "Dropout2d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Elementwise("dropout3d", "Dropout3d", (A("p", "float", 0.5), _INPLACE), family="dropout"),
        Softmax("softmax", "Softmax"),
        Softmax("log_softmax", "LogSoftmax"),
        PReLU(),
    ]
