"""Tensor operations with one output (SPEC.md section 12): ``permute``, ``transpose``
(``swapdims``), ``squeeze``, ``unsqueeze``, ``expand``, ``roll``, ``select``, ``slice``,
``flip`` move or pick elements; ``matmul`` multiplies two inputs with PyTorch's
broadcasting.

None holds parameters. MACs are 0 except matmul's, ∏batch · n · k · m (a 1-d operand
counts n or m as 1). Every refusal is one PyTorch makes, with PyTorch's reason quoted;
dims are PyTorch's (batch = 0, negative from the end, a 0-d input takes 0 and -1).
The one difference: an empty result (a slice that selects nothing, ``expand`` to 0) is
refused, as layercalc models no empty tensors (PyTorch returns one). The receptive field
is undefined after each of them (window None): they move dims or positions.
"""

from __future__ import annotations

from ..arith import broadcast_shapes, prod
from ..errors import LayerError
from .base import Arg, LayerType


def _listed(v, arg: str | None = None) -> tuple:
    """An int-or-list argument as a tuple; with ``arg``, a null entry is refused (a
    nullable argument's list may hold one: `dim: [1, null]`)."""
    out = tuple(v) if isinstance(v, (list, tuple)) else (v,)
    if arg is not None and None in out:
        shown = ", ".join("null" if v is None else str(v) for v in out)
        raise LayerError(
            f"{arg} [{shown}] holds null; each entry must be an integer", arg=arg, code="bad-value"
        )
    return out


def wrap_dim(dim: int, rank: int, arg: str, shape=None, extra: int = 0, what=None) -> int:
    """PyTorch's maybe_wrap_dim: ``dim`` of a ``rank``-d input (``extra`` more for a dim
    that is being inserted, as unsqueeze's) as a non-negative dim; a 0-d input takes 0
    and -1. A refusal blames argument ``arg`` and calls the value ``what`` (default: arg).

    >>> wrap_dim(-1, 3, "dim"), wrap_dim(0, 0, "dim"), wrap_dim(-1, 0, "dim"), \
wrap_dim(3, 3, "dim", extra=1)
    (2, 0, 0, 3)
    """
    span = max(rank + extra, 1)
    if not -span <= dim < span:
        seen = f" {list(shape)}" if shape is not None else ""
        raise LayerError(
            f"{what or arg} {dim} is out of range for the {rank}-d input{seen} "
            f"(PyTorch: Dimension out of range (expected to be in range of "
            f"[{-span}, {span - 1}], but got {dim}))",
            arg=arg,
            hint=f"use a dim in [{-span}, {span - 1}]",
        )
    return dim % span


def _distinct(dims: tuple, given, arg: str):
    seen = set()
    for d in dims:
        if d in seen:
            raise LayerError(
                f"{arg} {list(_listed(given))} names dim {d} twice (PyTorch: dim "
                f"{d} appears multiple times in the list of dims)",
                arg=arg,
            )
        seen.add(d)


def _owned(y, x):
    """``y`` (a view of ``x``) as a C-contiguous array that keeps no larger buffer alive,
    copied only when it must be (the next layer's reshapes stay views; verify frees
    inputs after their last use). Never ``np.ascontiguousarray``: it turns 0-d arrays
    into 1-d ones on NumPy 1.x."""
    if not y.flags.c_contiguous or (y.base is not None and y.size < x.size):
        return y.copy()
    return y


class _DataMovement(LayerType):
    """Base of the parameter-free ops that move elements: 0 MACs, positions undefined."""

    family = "tensor"
    keeps_integers = True

    def window(self, a, shapes, out):
        return None

    def workspace(self, a, shapes, out):
        return 0  # at most one output-sized copy, which verify counts as the output


class Permute(_DataMovement):
    """``torch.permute``: ``dims`` lists every input dim once, in the new order."""

    name = "permute"
    doc = "torch.permute"
    args = (Arg("dims", "ints", doc="every input dim once, in the output's order (batch = 0)"),)

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        given = _listed(a["dims"])
        if len(given) != len(shape):
            raise LayerError(
                f"dims {list(given)} has {len(given)} entries for the "
                f"{len(shape)}-d input {list(shape)} (PyTorch: number of "
                "dimensions in the tensor input does not match the length of "
                f"the desired ordering of dimensions i.e. input.dim() = "
                f"{len(shape)} is not equal to len(dims) = {len(given)})",
                arg="dims",
                code="bad-rank",
            )
        perm = tuple(wrap_dim(d, len(shape), "dims", shape, what="dims entry") for d in given)
        if len(set(perm)) != len(perm):
            twice = next(d for d in perm if perm.count(d) > 1)
            raise LayerError(
                f"dims {list(given)} names dim {twice} twice (PyTorch: "
                "permute(): duplicate dims are not allowed.)",
                arg="dims",
            )
        a["_perm"] = perm
        return tuple(shape[d] for d in perm)

    def forward(self, a, xs, w):
        x = xs[0]
        return _owned(x.transpose(a["_perm"]), x)

    def summary(self, a):
        return f"dims={list(_listed(a['dims']))}"


class Transpose(_DataMovement):
    """``torch.transpose`` / ``torch.swapdims``: swaps ``dim0`` and ``dim1``."""

    name = "transpose"
    aliases = ("swapdims",)
    doc = "torch.transpose (torch.swapdims)"
    args = (
        Arg("dim0", "int", doc="a dim to swap (batch = 0)"),
        Arg("dim1", "int", doc="the dim to swap it with"),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        d0 = wrap_dim(a["dim0"], len(shape), "dim0", shape)
        d1 = wrap_dim(a["dim1"], len(shape), "dim1", shape)
        a["_dims"] = (d0, d1)
        if not shape:
            return ()
        out = list(shape)
        out[d0], out[d1] = shape[d1], shape[d0]
        return tuple(out)

    def forward(self, a, xs, w):
        x = xs[0]
        if x.ndim == 0:
            return x
        return _owned(x.swapaxes(*a["_dims"]), x)

    def summary(self, a):
        return f"{a['dim0']}<->{a['dim1']}"


class Squeeze(_DataMovement):
    """``torch.squeeze``: removes the size-1 dims among ``dim`` (an int or a list, as
    torch >= 2.0; omitted: every size-1 dim); a named dim of another size stays."""

    name = "squeeze"
    doc = "torch.squeeze"
    args = (
        Arg(
            "dim",
            "ints",
            None,
            nullable=True,
            doc="int or list (batch = 0); omitted: every size-1 dim",
        ),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        if a["dim"] is None:
            dims = {i for i, n in enumerate(shape) if n == 1}
        else:
            wrapped = tuple(wrap_dim(d, len(shape), "dim", shape) for d in _listed(a["dim"], "dim"))
            _distinct(wrapped, a["dim"], "dim")
            dims = {d for d in wrapped if d < len(shape) and shape[d] == 1}
        return tuple(n for i, n in enumerate(shape) if i not in dims)

    def forward(self, a, xs, w):
        x = xs[0]
        return _owned(x.reshape(self.infer(dict(a), [x.shape])), x)

    def summary(self, a):
        d = a["dim"]
        return "" if d is None else f"dim={list(d) if isinstance(d, tuple) else d}"


class Unsqueeze(_DataMovement):
    """``torch.unsqueeze``: a size-1 dim inserted at ``dim`` (of the output: -1 appends)."""

    name = "unsqueeze"
    doc = "torch.unsqueeze"
    args = (Arg("dim", "int", doc="where the new dim goes, in [-rank - 1, rank]"),)

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        d = wrap_dim(a["dim"], len(shape), "dim", shape, extra=1)
        return shape[:d] + (1,) + shape[d:]

    def forward(self, a, xs, w):
        x = xs[0]
        return _owned(x.reshape(self.infer(dict(a), [x.shape])), x)

    def summary(self, a):
        return f"dim={a['dim']}"


class Expand(_DataMovement):
    """``Tensor.expand``: size-1 dims repeated to ``size`` (-1 keeps a dim), new leading
    dims allowed; the NumPy forward materialises the result (PyTorch's is a view)."""

    name = "expand"
    doc = "Tensor.expand"
    args = (
        Arg(
            "size",
            "ints",
            None,
            min=-1,
            nullable=True,
            doc="the output shape; -1 keeps a dim; new leading dims allowed",
        ),
        Arg("sizes", "ints", None, min=-1, nullable=True, doc="the same as size"),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        given = [k for k in ("size", "sizes") if a[k] is not None]
        if len(given) != 1:
            raise LayerError(
                "expand needs exactly one of size or sizes", arg=given[-1] if given else None
            )
        key = given[0]
        sizes = _listed(a[key], key)
        if len(sizes) < len(shape):
            raise LayerError(
                f"{key} {list(sizes)} has {len(sizes)} entries for the "
                f"{len(shape)}-d input {list(shape)} (PyTorch: the number of "
                f"sizes provided ({len(sizes)}) must be greater or equal to the "
                f"number of dimensions in the tensor ({len(shape)}))",
                arg=key,
                code="bad-rank",
            )
        lead = len(sizes) - len(shape)
        out = []
        for i, v in enumerate(sizes):
            if i < lead:
                if v == -1:
                    raise LayerError(
                        f"{key} {list(sizes)}: -1 at {i}, a new leading dim, "
                        f"keeps nothing (PyTorch: The expanded size of the "
                        f"tensor (-1) isn't allowed in a leading, non-existing "
                        f"dimension {i})",
                        arg=key,
                    )
                out.append(v)
                continue
            n = shape[i - lead]
            if v == -1:
                v = n
            elif v != n and n != 1:
                raise LayerError(
                    f"{key} {list(sizes)} asks {v} of dim {i - lead} of size {n} "
                    f"of the input {list(shape)}; only size-1 dims expand "
                    f"(PyTorch: The expanded size of the tensor ({v}) must match "
                    f"the existing size ({n}) at non-singleton dimension {i})",
                    arg=key,
                    code="shape-mismatch",
                )
            out.append(v)
        if 0 in out:
            raise LayerError(
                f"{key} {list(sizes)} gives an empty tensor {out} (PyTorch "
                "returns one; layercalc models no empty tensors)",
                arg=key,
                code="output-too-small",
            )
        a["_out"] = tuple(out)
        return tuple(out)

    def forward(self, a, xs, w):
        import numpy as np

        return np.broadcast_to(xs[0], a["_out"]).copy()

    def explain_shape(self, a, shapes, out):
        shape = tuple(shapes[0])
        lead = len(out) - len(shape)
        grown = [f"dim {i} 1 -> {out[lead + i]}" for i, n in enumerate(shape) if n != out[lead + i]]
        lines = [f"size-1 dims repeated: {', '.join(grown)}"] if grown else []
        if lead:
            lines.append(f"new leading dims {list(out[:lead])}")
        return lines or ["shape unchanged"]

    def summary(self, a):
        return str(list(a["_out"]))


class Roll(_DataMovement):
    """``torch.roll``: ``shifts`` along ``dims`` (one shift per dim; a dim twice rolls
    twice); without ``dims``, one shift of the flattened input."""

    batched_window = True  # see window()
    name = "roll"
    doc = "torch.roll"
    args = (
        Arg("shifts", "ints", doc="int or one per dim; negative rolls back"),
        Arg(
            "dims",
            "ints",
            None,
            nullable=True,
            doc="int or list (batch = 0); omitted: roll the flattened input",
        ),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        shifts = _listed(a["shifts"])
        big = next((v for v in shifts if not -(2**63) <= v < 2**63), None)
        if big is not None:
            raise LayerError(
                f"shift {big} does not fit in 64 bits (PyTorch: Overflow when unpacking long long)",
                arg="shifts",
            )
        if a["dims"] is None:
            if len(shifts) != 1:
                raise LayerError(
                    f"shifts {list(shifts)} gives {len(shifts)} shifts but no "
                    f"dims (PyTorch: shifts and dimensions must align. shifts: "
                    f"{len(shifts)}, dims:0)",
                    arg="shifts",
                    hint="give dims, one per shift, or a single shift",
                )
            a["_dims"] = None
            return shape
        dims = _listed(a["dims"], "dims")
        if len(shifts) != len(dims):
            raise LayerError(
                f"shifts {list(shifts)} and dims {list(dims)} differ in length "
                f"(PyTorch: shifts and dimensions must align. shifts: "
                f"{len(shifts)}, dims:{len(dims)})",
                arg="dims",
            )
        if not shape:
            raise LayerError(
                f"dims {list(dims)} of a 0-d input (PyTorch: Dimension "
                f"specified as {dims[0]} but tensor has no dimensions)",
                arg="dims",
                code="bad-rank",
                hint="omit dims",
            )
        a["_dims"] = tuple(wrap_dim(d, len(shape), "dims", shape, what="dims entry") for d in dims)
        return shape

    def window(self, a, shapes, out):
        # rolling the batch or the channels keeps every position (a flattened roll does not)
        dims = a["_dims"]
        return () if dims is not None and all(d < 2 for d in dims) else None

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        shifts = _listed(a["shifts"])
        if a["_dims"] is None:
            return np.roll(x.reshape(-1), shifts[0] % max(x.size, 1)).reshape(x.shape)
        # one roll per dim, the shifts of a dim named twice added (as PyTorch rolls it
        # twice), in Python ints: NumPy would add them in int64 and could overflow
        total = {}
        for s, d in zip(shifts, a["_dims"]):
            total[d] = (total.get(d, 0) + s) % x.shape[d]
        return np.roll(x, tuple(total.values()), axis=tuple(total))

    def summary(self, a):
        s = a["shifts"]
        shown = f"shifts={list(s) if isinstance(s, tuple) else s}"
        d = a["dims"]
        return shown + ("" if d is None else f" dims={list(d) if isinstance(d, tuple) else d}")


class Select(_DataMovement):
    """``torch.select``: element ``index`` of ``dim`` (negative from the end); the dim
    goes away."""

    name = "select"
    doc = "torch.select"
    args = (
        Arg("dim", "int", doc="the dim to pick from (batch = 0)"),
        Arg("index", "int", doc="the position along dim, negative from the end"),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        if not shape:
            raise LayerError(
                "select of a 0-d input (PyTorch: select() cannot be applied to a 0-dim tensor.)",
                code="bad-rank",
            )
        d = wrap_dim(a["dim"], len(shape), "dim", shape)
        n, i = shape[d], a["index"]
        if not -n <= i < n:
            raise LayerError(
                f"index {i} is out of range for dim {a['dim']} of size {n} "
                f"(PyTorch: select(): index {i} out of range for tensor of size "
                f"{list(shape)} at dimension {d})",
                arg="index",
                code="bad-index",
                hint=f"use 0..{n - 1}, or -{n}..-1 from the end",
            )
        a["_at"] = (d, i % n)
        return shape[:d] + shape[d + 1 :]

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        d, i = a["_at"]
        return _owned(np.asarray(x[(slice(None),) * d + (i,)]), x)

    def explain_shape(self, a, shapes, out):
        d, i = a["_at"]
        return [
            f"dim {d}: position {i} of {shapes[0][d]} kept, the dim removed: "
            f"{list(shapes[0])} -> {list(out)}"
        ]

    def summary(self, a):
        return f"dim={a['dim']} index={a['index']}"


def slice_length(n: int, start, end, step: int) -> int:
    """Elements of ``x[start:end:step]`` along a dim of size ``n``: Python's slicing,
    clamped as PyTorch's (``step`` > 0).

    >>> slice_length(10, None, None, 3), slice_length(10, -3, None, 1), \
slice_length(10, 8, 2, 1), slice_length(5, -100, 100, 2)
    (4, 3, 0, 3)
    """
    return len(range(*slice(start, end, step).indices(n)))


class Slice(_DataMovement):
    """``x[..., start:end:step]`` on ``dim`` (``torch.ops.aten.slice``): Python's slicing,
    negative positions from the end, out-of-range ones clamped; ``step`` > 0."""

    batched_window = True  # see window()
    name = "slice"
    doc = "x[..., start:end:step] (torch.ops.aten.slice)"
    args = (
        Arg("dim", "int", 0, doc="the dim to slice (batch = 0)"),
        Arg("start", "int", None, nullable=True, doc="first position; none: 0"),
        Arg("end", "int", None, nullable=True, doc="position after the last; none: the end"),
        Arg("step", "int", 1, doc="> 0"),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        step = a["step"]
        if step < 1:
            why = "slice step cannot be zero" if step == 0 else "step must be greater than zero"
            raise LayerError(
                f"step {step}: PyTorch slices with positive steps only (PyTorch: {why})",
                arg="step",
                hint="slice with a positive step, then flip",
            )
        if not shape:
            raise LayerError(
                "slice of a 0-d input (PyTorch: slice() cannot be applied to a 0-dim tensor.)",
                code="bad-rank",
            )
        d = wrap_dim(a["dim"], len(shape), "dim", shape)
        n = shape[d]
        size = slice_length(n, a["start"], a["end"], step)
        if size == 0:
            text = ":".join("" if v is None else str(v) for v in (a["start"], a["end"]))
            raise LayerError(
                f"{text}:{step} selects nothing of dim {a['dim']} of size {n} "
                "(PyTorch returns an empty tensor; layercalc models no empty "
                "tensors)",
                arg="start" if a["start"] is not None else "end",
                code="output-too-small",
            )
        a["_at"] = (d, slice(a["start"], a["end"], step))
        return shape[:d] + (size,) + shape[d + 1 :]

    def forward(self, a, xs, w):
        x = xs[0]
        d, s = a["_at"]
        return _owned(x[(slice(None),) * d + (s,)], x)

    def explain_shape(self, a, shapes, out):
        d, s = a["_at"]
        first, stop, step = s.indices(shapes[0][d])
        last = first + (out[d] - 1) * step
        return [
            f"dim {d}: {self.summary(a).split(' ', 1)[1]} of {shapes[0][d]} positions keeps "
            f"{out[d]} (positions {first} to {last}"
            + ("" if step == 1 else f", every {step}")
            + ")"
        ]

    def summary(self, a):
        text = ":".join("" if v is None else str(v) for v in (a["start"], a["end"]))
        return f"dim={a['dim']} {text}" + ("" if a["step"] == 1 else f":{a['step']}")

    def window(self, a, shapes, out):
        # of the batch or the channels: every position kept; of a spatial dim, a crop:
        # output i is input start + i·step, a window of kernel 1, stride step and left
        # padding -start (spatial dims: those of a batched (N, C, *spatial) input)
        d, s = a["_at"]
        if d < 2:
            return ()
        shape = shapes[0]
        start = s.indices(shape[d])[0]
        return tuple(
            (1, s.step, -start, 1) if k == d else (1, 1, 0, 1) for k in range(2, len(shape))
        )


class Flip(_DataMovement):
    """``torch.flip``: reverses the order along each of ``dims``."""

    batched_window = True  # see window()
    name = "flip"
    doc = "torch.flip"
    args = (Arg("dims", "ints", doc="int or list (batch = 0)"),)

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        dims = tuple(
            wrap_dim(d, len(shape), "dims", shape, what="dims entry") for d in _listed(a["dims"])
        )
        _distinct(dims, a["dims"], "dims")
        a["_dims"] = dims
        return shape

    def window(self, a, shapes, out):
        # reversing the batch or the channels keeps every position
        return () if all(d < 2 for d in a["_dims"]) else None

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        if x.ndim == 0:
            return x
        return np.flip(x, axis=a["_dims"]).copy()

    def summary(self, a):
        return f"dims={list(_listed(a['dims']))}"


def matmul_shape(a: tuple, b: tuple):
    """``torch.matmul``'s output shape and inner size k, or a LayerError: 1-d operands
    become a row (first) or a column (second) that the output drops again; batch dims
    broadcast.

    >>> matmul_shape((3,), (3,)), matmul_shape((7, 1, 2, 3), (6, 3, 5))
    (((), 3), ((7, 6, 2, 5), 3))
    >>> matmul_shape((4,), (2, 4, 5)), matmul_shape((2, 3, 4), (4,))
    (((2, 5), 4), ((2, 3), 4))
    """
    if not a or not b:
        raise LayerError(
            f"matmul of {list(a)} and {list(b)}: a 0-d operand (PyTorch: both "
            f"arguments to matmul need to be at least 1D, but they are "
            f"{len(a)}D and {len(b)}D)",
            arg="from",
            code="bad-rank",
        )
    a2 = a if len(a) > 1 else (1,) + a
    b2 = b if len(b) > 1 else b + (1,)
    k = a2[-1]
    if b2[-2] != k:
        which = "size" if len(b) == 1 else "second-to-last dim"
        raise LayerError(
            f"matmul of {list(a)} and {list(b)}: the first's last dim {k} must "
            f"equal the second's {which} {b2[-2]} (PyTorch: mat1 and mat2 shapes "
            "cannot be multiplied)",
            arg="from",
            code="shape-mismatch",
        )
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    if batch is None:
        rank = max(len(a2), len(b2)) - 2
        pa, pb = (1,) * (rank - len(a2) + 2) + a2[:-2], (1,) * (rank - len(b2) + 2) + b2[:-2]
        i = max(j for j in range(rank) if 1 not in (pa[j], pb[j]) and pa[j] != pb[j])
        raise LayerError(
            f"matmul of {list(a)} and {list(b)}: the batch dims {list(a2[:-2])} "
            f"and {list(b2[:-2])} do not broadcast (PyTorch: The size of tensor a "
            f"({pa[i]}) must match the size of tensor b ({pb[i]}) at "
            f"non-singleton dimension {i})",
            arg="from",
            code="shape-mismatch",
        )
    out = batch + (a2[-2],) * (len(a) > 1) + (b2[-1],) * (len(b) > 1)
    return tuple(out), k


class Matmul(LayerType):
    """``torch.matmul`` of two inputs (``from: [a, b]``), PyTorch's rules: 1-d operands,
    matrix products over broadcast batch dims. MACs ∏batch · n · k · m."""

    name = "matmul"
    family = "tensor"
    doc = "torch.matmul (two inputs, batch broadcasting)"
    merge = True
    args = ()

    def infer(self, a, shapes):
        if len(shapes) != 2:
            raise LayerError(
                f"matmul multiplies two inputs (`from: [a, b]`), got {len(shapes)}",
                arg="from",
                code="bad-merge",
            )
        return matmul_shape(tuple(shapes[0]), tuple(shapes[1]))[0]

    def macs(self, a, shapes, out):
        return prod(out) * matmul_shape(tuple(shapes[0]), tuple(shapes[1]))[1]

    def window(self, a, shapes, out):
        return None

    def workspace(self, a, shapes, out):
        return 0

    def explain_shape(self, a, shapes, out):
        x, y = tuple(shapes[0]), tuple(shapes[1])
        k = matmul_shape(x, y)[1]
        n = x[-2] if len(x) > 1 else 1
        m = y[-1] if len(y) > 1 else 1
        batch = out[: len(out) - (len(x) > 1) - (len(y) > 1)]
        lines = [
            f"matrix product ({n}×{k})·({k}×{m}) -> {n}×{m}"
            + (f" for each of the batch {list(batch)} (broadcast)" if batch else "")
        ]
        if len(x) == 1 or len(y) == 1:
            lines.append(
                "a 1-d operand is a "
                + " and a ".join(
                    w
                    for w, one in (("row (first)", len(x) == 1), ("column (second)", len(y) == 1))
                    if one
                )
                + ", its dim dropped from the output"
            )
        return lines

    def forward(self, a, xs, w):
        import numpy as np

        return np.asarray(np.matmul(xs[0], xs[1]))


def tensorops():
    return [
        Permute(),
        Transpose(),
        Squeeze(),
        Unsqueeze(),
        Expand(),
        Roll(),
        Select(),
        Slice(),
        Flip(),
        Matmul(),
    ]
