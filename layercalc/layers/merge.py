"""Merge layers: element-wise add/mul (broadcasting) and concatenation."""
from __future__ import annotations

from ..arith import broadcast_shapes
from ..errors import LayerError
from .base import Arg, LayerType


def _need_two(name, shapes):
    if len(shapes) < 2:
        raise LayerError(f"{name} merges two or more inputs; give them with `from: [a, b]`",
                         arg="from", code="bad-merge")


class Elementwise(LayerType):
    family = "merge"
    merge = True

    def __init__(self, name: str, doc: str):
        self.name = name
        self.doc = doc
        super().__init__()

    def infer(self, a, shapes):
        _need_two(self.name, shapes)
        out = broadcast_shapes(*shapes)
        if out is None:
            got = " and ".join(str(list(s)) for s in shapes)
            raise LayerError(f"{self.name} needs shapes that broadcast, got {got}",
                             arg="from", code="shape-mismatch")
        return out

    def forward(self, a, xs, w):
        import numpy as np

        op = np.add if self.name == "add" else np.multiply
        y = op(xs[0], xs[1])
        for x in xs[2:]:
            y = op(y, x, out=y) if np.broadcast_shapes(y.shape, x.shape) == y.shape else op(y, x)
        return y


class Concat(LayerType):
    name = "concat"
    aliases = ("cat",)
    family = "merge"
    merge = True
    doc = "torch.cat"
    args = (Arg("dim", "int", 1, doc="PyTorch dim, batch = 0"),)

    def infer(self, a, shapes):
        _need_two(self.name, shapes)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            got = " and ".join(str(list(s)) for s in shapes)
            raise LayerError(f"concat needs inputs of one rank, got {got}", arg="from",
                             code="shape-mismatch")
        if not -rank <= a["dim"] < rank:
            raise LayerError(f"dim {a['dim']} is out of range for {rank}-d inputs", arg="dim")
        d = a["dim"] % rank
        for s in shapes[1:]:
            for i in range(rank):
                if i != d and s[i] != shapes[0][i]:
                    got = " and ".join(str(list(x)) for x in shapes)
                    raise LayerError(f"concat along dim {a['dim']} needs every other dim equal, "
                                     f"but dim {i} differs: {got}", arg="from",
                                     code="shape-mismatch")
        out = list(shapes[0])
        out[d] = sum(s[d] for s in shapes)
        return tuple(out)

    def forward(self, a, xs, w):
        import numpy as np

        return np.concatenate(xs, axis=a["dim"] % xs[0].ndim)

    def window(self, a, shapes, out):
        return ()

    def summary(self, a):
        return f"dim={a['dim']}"


def merges():
    return [Elementwise("add", "torch.add (a + b, broadcasting)"),
            Elementwise("mul", "torch.mul (a * b, broadcasting)"),
            Concat()]
