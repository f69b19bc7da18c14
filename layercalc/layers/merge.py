"""Merge layers: element-wise add/sub/mul/div (broadcasting, or one input and a
number) and concatenation."""

from __future__ import annotations

from ..arith import broadcast_shapes
from ..errors import LayerError
from .base import Arg, LayerType


def _need_two(name, shapes):
    if len(shapes) < 2:
        raise LayerError(
            f"{name} merges two or more inputs; give them with `from: [a, b]`",
            arg="from",
            code="bad-merge",
        )


_OTHER = Arg(
    "other",
    "float",
    None,
    nullable=True,
    doc="a number in place of a second input (torch.add(x, 2.0))",
)
_ALPHA = Arg("alpha", "float", 1, doc="the second operand's multiplier (two operands)")
_ROUNDING = Arg(
    "rounding_mode",
    "choice",
    None,
    words=("trunc", "floor"),
    nullable=True,
    doc="none: true division; trunc or floor rounds the quotient",
)


class Elementwise(LayerType):
    """``torch.add``, ``torch.sub``, ``torch.mul``, ``torch.div``: two inputs (add and
    mul: two or more) broadcast as PyTorch does, or one input and ``other``, a number;
    add and sub take PyTorch's ``alpha`` (x ± alpha·y), div its ``rounding_mode``.
    No parameters; MACs 0 (element-wise arithmetic is not a multiply-accumulate, as in
    fvcore and thop); positions are kept (window ``()``)."""

    family = "merge"
    merge = True

    def __init__(
        self,
        name: str,
        doc: str,
        most: int | None = None,
        aliases: tuple = (),
        what: str = "",
        args: tuple = (_OTHER,),
    ):
        self.name = name
        self.doc = doc
        self.args = args
        self.most = most  # inputs at most (sub and div: 2), None: any number
        self.aliases = aliases
        self.what = what  # how the inputs combine, for messages
        super().__init__()

    def infer(self, a, shapes):
        if a["other"] is not None:
            if len(shapes) != 1:
                raise LayerError(
                    f"{self.name} takes one input with `other`, but `from` names {len(shapes)}",
                    arg="other",
                    code="bad-merge",
                    hint=f"drop `other` to {self.what} the inputs, or give `from` one name",
                )
            return shapes[0]
        if len(shapes) < 2:
            many = "two or more inputs" if self.most is None else "two inputs"
            raise LayerError(
                f"{self.name} needs {many} (`from: [a, b]`) or one input and "
                f"`other: NUMBER`, got one input",
                arg="from",
                code="bad-merge",
            )
        if self.most is not None and len(shapes) > self.most:
            raise LayerError(
                f"{self.name} takes two inputs ({self.what}), but `from` names {len(shapes)}",
                arg="from",
                code="bad-merge",
            )
        if a.get("alpha", 1) != 1 and len(shapes) > 2:
            raise LayerError(
                f"alpha scales the second of two operands, but `from` names {len(shapes)} inputs",
                arg="alpha",
                code="bad-merge",
                hint="add them in two steps, or drop alpha",
            )
        out = broadcast_shapes(*shapes)
        if out is None:
            got = " and ".join(str(list(s)) for s in shapes)
            raise LayerError(
                f"{self.name} needs shapes that broadcast, got {got}",
                arg="from",
                code="shape-mismatch",
            )
        return out

    def forward(self, a, xs, w):
        import numpy as np

        op = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}[
            self.name
        ]
        rounding = a.get("rounding_mode")
        if rounding == "floor":
            op = np.floor_divide  # Python's floor division, as PyTorch's div_floor
        alpha = a.get("alpha", 1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if a["other"] is not None:
                x = xs[0]
                # the number in the input's type, as PyTorch's wrapped scalar (float32 stays
                # float32); an integer input divided or added a fraction becomes float
                other = a["other"]
                if np.issubdtype(x.dtype, np.floating) or (
                    isinstance(other, int) and self.name != "div"
                ):
                    other = x.dtype.type(other)
                if alpha != 1:
                    other = other * x.dtype.type(alpha)
                y = op(x, other)
            else:
                y = op(xs[0], xs[1] if alpha == 1 else xs[1] * xs[1].dtype.type(alpha))
                for x in xs[2:]:
                    y = (
                        op(y, x, out=y)
                        if np.broadcast_shapes(y.shape, x.shape) == y.shape
                        else op(y, x)
                    )
            if rounding == "trunc":
                y = np.trunc(y, out=y) if isinstance(y, np.ndarray) else np.trunc(y)
            return y

    def workspace(self, a, shapes, out):
        return 0 if a["other"] is not None else super().workspace(a, shapes, out)

    def summary(self, a):
        shown = [] if a["other"] is None else [f"other={a['other']}"]
        if a.get("alpha", 1) != 1:
            shown.append(f"alpha={a['alpha']}")
        if a.get("rounding_mode"):
            shown.append(f"rounding_mode={a['rounding_mode']}")
        return " ".join(shown)


class Concat(LayerType):
    keeps_integers = True
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
            raise LayerError(
                f"concat needs inputs of one rank, got {got}", arg="from", code="shape-mismatch"
            )
        if not -rank <= a["dim"] < rank:
            raise LayerError(f"dim {a['dim']} is out of range for {rank}-d inputs", arg="dim")
        d = a["dim"] % rank
        for s in shapes[1:]:
            for i in range(rank):
                if i != d and s[i] != shapes[0][i]:
                    got = " and ".join(str(list(x)) for x in shapes)
                    small, big = sorted((s[i], shapes[0][i]))
                    if i >= 2 and big - small <= max(2, big // 8):
                        # a spatial size off by a little: a U-Net skip after an odd size
                        hint = (
                            f"sizes {big} and {small}: a stride-2 pool or conv floors an odd "
                            "size (65 -> 32, upsampled back to 64); use an input size "
                            "divisible by 2**k for k downsamplings, or pad or slice one "
                            "input to the other's size"
                        )
                    else:
                        hint = f"concatenate along dim {i}, or make dim {i} equal"
                    raise LayerError(
                        f"concat along dim {a['dim']} needs every other dim equal, "
                        f"but dim {i} differs: {got}",
                        arg="from",
                        code="shape-mismatch",
                        hint=hint,
                    )
        out = list(shapes[0])
        out[d] = sum(s[d] for s in shapes)
        return tuple(out)

    def forward(self, a, xs, w):
        import numpy as np

        return np.concatenate(xs, axis=a["dim"] % xs[0].ndim)

    def window(self, a, shapes, out):
        return ()

    def explain_shape(self, a, shapes, out):
        dim = a["dim"] % len(shapes[0])  # equal sizes too: a Fire module's 64 + 64
        parts = " + ".join(str(s[dim]) for s in shapes)
        return [f"concatenated along dim {a['dim']}: {parts} = {out[dim]}"]

    def summary(self, a):
        return f"dim={a['dim']}"


def merges():
    return [
        Elementwise(
            "add",
            "torch.add (a + b + ..., broadcasting; or x + other)",
            what="add",
            args=(_OTHER, _ALPHA),
        ),
        Elementwise(
            "mul",
            "torch.mul (a * b * ..., broadcasting; or x * other)",
            aliases=("multiply",),
            what="multiply",
        ),
        Elementwise(
            "sub",
            "torch.sub (a - b, broadcasting; or x - other)",
            2,
            ("subtract",),
            "first minus second",
            (_OTHER, _ALPHA),
        ),
        Elementwise(
            "div",
            "torch.div (a / b, broadcasting; or x / other)",
            2,
            ("divide",),
            "first over second",
            (_OTHER, _ROUNDING),
        ),
        Concat(),
    ]
