"""Tensor arithmetic of one input (SPEC.md section 11): element-wise ``abs neg sqrt exp
log pow`` and the reductions ``mean sum amax amin`` over ``dim`` with ``keepdim``.

None holds parameters. MACs are 0: element-wise arithmetic and reductions are not
multiply-accumulates (fvcore and thop count none for them either).
"""

from __future__ import annotations

from ..arith import prod
from ..errors import LayerError
from .base import Arg, LayerType


def _np():
    import numpy as np

    return np


class Unary(LayerType):
    """``torch.abs`` ... ``torch.pow``: the output has the input's shape; positions are
    kept (window ``()``). NaN and infinity where PyTorch makes them (``sqrt`` and ``log``
    of negatives, ``log(0)``): no refusal, verify reports them as a warning."""

    family = "math"

    def __init__(self, name: str, aliases: tuple = (), args: tuple = ()):
        self.name = name
        self.doc = f"torch.{name}"
        self.aliases = aliases
        self.args = args
        super().__init__()

    def forward(self, a, xs, w):
        np = _np()
        x = xs[0]
        if not np.issubdtype(x.dtype, np.floating) and self.name in ("sqrt", "exp", "log"):
            x = x.astype(np.float32)  # PyTorch promotes integers to the default float type
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            if self.name == "pow":
                e = a["exponent"]
                if np.issubdtype(x.dtype, np.floating) or (isinstance(e, int) and e >= 0):
                    e = x.dtype.type(e)  # float32 stays float32, as PyTorch's scalar
                else:
                    x = x.astype(np.float32)
                    e = np.float32(e)
                return np.power(x, e)
            return {
                "abs": np.abs,
                "neg": np.negative,
                "sqrt": np.sqrt,
                "exp": np.exp,
                "log": np.log,
            }[self.name](x)

    def workspace(self, a, shapes, out):
        return 0  # one ufunc call: the output only

    def summary(self, a):
        return f"exponent={a['exponent']}" if self.name == "pow" else ""


def reduced_dims(dim, rank: int) -> tuple:
    """``dim`` (None, an int or a list) as sorted non-negative dims of a ``rank``-d input,
    with PyTorch's refusals (a 0-d input takes dim 0 or -1).

    >>> reduced_dims(None, 3), reduced_dims(-1, 3), reduced_dims((2, 0), 3)
    ((0, 1, 2), (2,), (0, 2))
    """
    if dim is None:
        return tuple(range(rank))
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    span = max(rank, 1)
    out = []
    for d in dims:
        if not -span <= d < span:
            raise LayerError(
                f"dim {d} is out of range for the {rank}-d input (expected a "
                f"dim in [{-span}, {span - 1}], PyTorch rejects it)",
                arg="dim",
                hint=f"use a dim in [{-span}, {span - 1}]",
            )
        n = d % span
        if n in out:
            raise LayerError(
                f"dim {n} appears multiple times in the list of dims "
                f"{list(dims)} (PyTorch rejects it)",
                arg="dim",
            )
        out.append(n)
    return tuple(sorted(d for d in out if d < rank))


class Reduction(LayerType):
    """``torch.mean``, ``sum``, ``amax``, ``amin`` over ``dim`` (an int or a list; omitted:
    every dim), ``keepdim`` as PyTorch: reduced dims become 1 or are removed (every dim
    removed: a 0-d output, shape ``[]``)."""

    family = "reduction"
    args = (
        Arg("dim", "ints", None, nullable=True, doc="int or list, batch = 0; omitted: every dim"),
        Arg("keepdim", "bool", False),
    )

    def __init__(self, name: str):
        self.name = name
        self.doc = f"torch.{name}"
        super().__init__()

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        dims = reduced_dims(a["dim"], len(shape))
        a["_dims"] = dims
        if a["keepdim"]:
            return tuple(1 if i in dims else n for i, n in enumerate(shape))
        return tuple(n for i, n in enumerate(shape) if i not in dims)

    def window(self, a, shapes, out):
        """keepdim: per spatial dim (input dims 2...) a window over the whole axis when it
        is reduced, as ``adaptive_*_pool`` to 1 has; without keepdim the rank changes and
        no window maps positions (None)."""
        if not a["keepdim"]:
            return None
        shape = shapes[0]
        return tuple(
            (shape[i], shape[i], 0, 1) if i in a["_dims"] else (1, 1, 0, 1)
            for i in range(2, len(shape))
        )

    def forward(self, a, xs, w):
        np = _np()
        x = xs[0]
        axis = a["_dims"]
        with np.errstate(invalid="ignore", over="ignore"):
            if self.name == "mean":
                y = np.mean(x, axis=axis, keepdims=a["keepdim"])
            elif self.name == "sum":
                y = np.sum(x, axis=axis, keepdims=a["keepdim"])
            else:
                op = np.max if self.name == "amax" else np.min
                y = op(x, axis=axis, keepdims=a["keepdim"])
        return np.asarray(y)  # a 0-d result stays 0-d (NumPy gives a scalar)

    def workspace(self, a, shapes, out):
        # NumPy reduces into a fresh output (mean then divides it in place); its ufunc
        # buffers are verify's per-layer allowance. One output-sized spare on top.
        return prod(out)

    def summary(self, a):
        d = a["dim"]
        dims = "all" if d is None else list(d) if isinstance(d, tuple) else d
        return f"dim={dims}" + (" keepdim" if a["keepdim"] else "")


def mathops():
    return [
        Unary("abs", ("absolute",)),
        Unary("neg", ("negative",)),
        Unary("sqrt"),
        Unary("exp"),
        Unary("log"),
        Unary("pow", args=(Arg("exponent", "float", doc="a number"),)),
        Reduction("mean"),
        Reduction("sum"),
        Reduction("amax"),
        Reduction("amin"),
    ]
