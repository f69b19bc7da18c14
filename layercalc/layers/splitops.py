"""Tensor operations with several outputs (SPEC.md sections 11-12): ``chunk`` and
``split``. Their outputs are named ``0``, ``1``, ...: an entry named ``c`` gives ``c.0``
(its own output, what the next entry takes by default), ``c.1``, ...

Both are views in PyTorch: no parameters, 0 MACs. Refusals and their wording are
PyTorch's (ATen's chunk, split and split_with_sizes).
"""

from __future__ import annotations

from ..errors import LayerError
from .base import Arg, LayerType


def _dim(d: int, rank: int) -> int:
    if rank == 0:
        raise LayerError(
            "needs at least a 1-dimensional input (PyTorch rejects a 0-d tensor)", code="bad-rank"
        )
    if not -rank <= d < rank:
        raise LayerError(
            f"Dimension out of range (expected to be in range of [{-rank}, "
            f"{rank - 1}], but got {d}) (PyTorch rejects it)",
            arg="dim",
            hint=f"use a dim in [{-rank}, {rank - 1}]",
        )
    return d % rank


class Splitting(LayerType):
    """``torch.chunk`` / ``torch.split``: pieces of the input along ``dim`` (default 0, as
    PyTorch's), each an output."""

    family = "tensor"
    doc = ""
    keeps_integers = True
    batched_window = True  # pieces of dim 0 or 1 keep every position

    def sizes(self, a: dict, n: int) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        d = _dim(a["dim"], len(shape))
        sizes = self.sizes(a, shape[d])
        a["_dim"], a["_sizes"] = d, tuple(sizes)
        return shape[:d] + (sizes[0],) + shape[d + 1 :]

    def outputs(self, a, shapes, out):
        shape, d = tuple(shapes[0]), a["_dim"]
        return tuple((str(i), shape[:d] + (n,) + shape[d + 1 :]) for i, n in enumerate(a["_sizes"]))

    def window(self, a, shapes, out):
        # pieces of the batch or the channels keep every position; of a spatial dim, not
        return () if a["_dim"] < 2 else None

    def workspace(self, a, shapes, out):
        # the pieces are the outputs; beside them, NumPy's view and array objects (about
        # 340 bytes a piece, measured): 128 elements a piece covers them in any dtype
        return 128 * len(a["_sizes"])

    def forward(self, a, xs, w):
        import numpy as np

        cuts = np.cumsum(a["_sizes"][:-1]).tolist()
        # copies, not PyTorch's views: a view would keep the whole input alive after
        # its last use, beyond verify's memory estimate (and be non-contiguous)
        return [
            np.ascontiguousarray(p) if p.base is None or p.size == 0 else p.copy()
            for p in np.split(xs[0], cuts, axis=a["_dim"])
        ]


class Chunk(Splitting):
    name = "chunk"
    doc = "torch.chunk"
    args = (
        Arg("chunks", "int", doc="how many pieces at most"),
        Arg("dim", "int", 0, doc="batch = 0, as PyTorch's default"),
    )

    def sizes(self, a, n):
        c = a["chunks"]
        if c <= 0:
            raise LayerError(
                f"chunk expects `chunks` to be greater than 0, got: {c} (PyTorch rejects it)",
                arg="chunks",
            )
        if n == 0:
            return [0] * c
        step = -(-n // c)  # PyTorch: pieces of ceil(n / chunks), so maybe fewer of them
        return [min(step, n - i) for i in range(0, n, step)]

    def summary(self, a):
        return f"chunks={a['chunks']} dim={a['dim']}"


class Split(Splitting):
    name = "split"
    doc = "torch.split"
    args = (
        Arg(
            "split_size_or_sections",
            "ints",
            None,
            nullable=True,
            doc="a piece size, or the list of sizes",
        ),
        Arg("split_size", "ints", None, nullable=True, doc="the same (PyTorch's other spelling)"),
        Arg("dim", "int", 0, doc="batch = 0, as PyTorch's default"),
    )

    def sizes(self, a, n):
        s, other = a["split_size_or_sections"], a["split_size"]
        if (s is None) == (other is None):
            raise LayerError(
                "split needs `split_size_or_sections` (or `split_size`): a "
                "piece size or the list of sizes"
                if s is None
                else "give `split_size_or_sections` or `split_size`, not both",
                arg=None if s is None else "split_size",
                code="missing-argument" if s is None else "invalid-layer",
            )
        key = "split_size_or_sections" if s is not None else "split_size"
        s = s if s is not None else other
        if isinstance(s, tuple):
            sizes = list(s)
            if any(x < 0 for x in sizes):
                raise LayerError(
                    f"split_with_sizes expects split_sizes have only "
                    f"non-negative entries, but got split_sizes={sizes} "
                    "(PyTorch rejects it)",
                    arg=key,
                )
            if sum(sizes) != n:
                raise LayerError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} "
                    f"(input tensor's size at dimension {a['dim']}), but got "
                    f"split_sizes={sizes} (PyTorch rejects it)",
                    arg=key,
                )
            return sizes
        if s < 0:
            raise LayerError(
                f"split expects split_size be non-negative, but got "
                f"split_size={s} (PyTorch rejects it)",
                arg=key,
            )
        if s == 0:
            if n:
                raise LayerError(
                    f"split_size can only be 0 if dimension size is 0, but got "
                    f"dimension size of {n} (PyTorch rejects it)",
                    arg=key,
                )
            return [0]
        if n == 0:
            return [0]
        return [min(s, n - i) for i in range(0, n, s)]

    def summary(self, a):
        s = a["split_size_or_sections"]
        s = a["split_size"] if s is None else s
        return f"split={list(s) if isinstance(s, tuple) else s} dim={a['dim']}"


def splitops():
    return [Chunk(), Split()]
