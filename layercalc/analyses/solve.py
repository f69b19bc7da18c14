"""Find conv / transposed-conv / pool hyper-parameters mapping an input size to a target
size, ranked by simplicity, each re-checked with layercalc.arith and given as the
PyTorch line to paste. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from ..arith import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel,
    pool_output_size,
    transposed_unwritten_outputs,
    unread_count,
)

KINDS = ("conv", "conv_transpose", "max_pool", "avg_pool")
MAX_KERNEL, MAX_STRIDE, MAX_DILATION = 11, 4, 3
TORCH = {
    "conv": "Conv{d}d",
    "conv_transpose": "ConvTranspose{d}d",
    "max_pool": "MaxPool{d}d",
    "avg_pool": "AvgPool{d}d",
}


@dataclass(frozen=True)
class Solution:
    type: str
    kernel: int
    stride: int
    padding: int
    dilation: int = 1
    output_padding: int = 0
    ceil_mode: bool = False
    out: int = 0
    unread: int = 0  # input positions no window reads (conv, pool)
    uncovered: int = 0  # output positions no input reaches (transposed conv)
    notes: tuple = ()

    def torch(self, dims: int = 2) -> str:
        name = "nn." + TORCH[self.type].format(d=dims)
        args = []
        if self.type in ("conv", "conv_transpose"):
            args += ["in_channels", "out_channels"]
        args.append(f"kernel_size={self.kernel}")
        args.append(f"stride={self.stride}")
        if self.padding or self.type in ("conv", "conv_transpose"):
            args.append(f"padding={self.padding}")
        if self.output_padding:
            args.append(f"output_padding={self.output_padding}")
        if self.dilation != 1:
            args.append(f"dilation={self.dilation}")
        if self.ceil_mode:
            args.append("ceil_mode=True")
        return f"{name}({', '.join(args)})"

    def formula(self, n: int) -> str:
        k, s, p, d = self.kernel, self.stride, self.padding, self.dilation
        if self.type == "conv_transpose":
            return f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {self.output_padding} + 1 = {self.out}"
        kern = f"{d}·({k} − 1) − 1" if d != 1 else f"{k}"
        rnd = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
        return f"{rnd[0]}({n} + 2·{p} − {kern}) / {s}{rnd[1]} + 1 = {self.out}"

    @property
    def key(self) -> tuple:
        """Simplicity: fewer wasted positions, no dilation, no output_padding or ceil_mode,
        padding within k//2 and centred, then smaller stride, kernel and padding."""
        big_k = effective_kernel(self.kernel, self.dilation)
        # one output position (a global reduction): no padding is the plain answer, so
        # it counts as centred (k = n, stride 1 first: DCGAN's last 4x4 conv on 4)
        centred = self.padding == (big_k - 1) // 2 or (self.out == 1 and self.padding == 0)
        uneven = self.type == "conv_transpose" and self.kernel % self.stride != 0
        return (
            self.unread + self.uncovered,
            self.dilation != 1,
            self.output_padding != 0,
            self.ceil_mode,
            self.padding > big_k // 2,
            uneven,
            not centred,
            self.stride,
            self.kernel,
            self.padding,
            self.dilation,
        )


def output_size(sol: Solution, n: int) -> int:
    """The output size by layercalc.arith (the check every answer passes)."""
    if sol.type == "conv":
        return conv_output_size(n, sol.kernel, sol.stride, sol.padding, sol.dilation)
    if sol.type == "conv_transpose":
        return conv_transpose_output_size(
            n, sol.kernel, sol.stride, sol.padding, sol.dilation, sol.output_padding
        )
    return pool_output_size(n, sol.kernel, sol.stride, sol.padding, sol.dilation, sol.ceil_mode)


PADDINGS = 64  # paddings listed per (kernel, stride, dilation) when more of them fit


def _fitting(f, top: int, lo: int, hi: int, centre: int) -> list[int]:
    """Paddings p in [0, top] with lo <= f(p) <= hi, for f non-decreasing in p (found by
    bisection, so a fixed kernel or stride of 10^9 costs ~60 evaluations). All of them
    when at most PADDINGS; else the smallest, those around ``centre`` and the largest."""

    def first(value):  # the first p in [0, top + 1] with f(p) >= value
        a, b = 0, top + 1
        while a < b:
            m = (a + b) // 2
            if f(m) >= value:
                b = m
            else:
                a = m + 1
        return a

    start, stop = first(lo), first(hi + 1)
    if stop - start <= PADDINGS:
        return list(range(start, stop))
    part = PADDINGS // 4
    return sorted(
        {
            *range(start, start + 2 * part),
            *range(max(start, centre - part // 2), min(stop, centre + part // 2 + 1)),
            *range(stop - part, stop),
        }
    )


def _candidates(kind, n, target, kernel, stride, max_kernel, max_stride, max_dilation):
    """Every (kernel, stride, dilation) of the search with the paddings (and the
    output_padding or ceil_mode) that reach ``target``."""
    ks = [kernel] if kernel else range(1, max_kernel + 1)
    ss = [stride] if stride else range(1, max_stride + 1)
    ds = [1] if kind == "avg_pool" else range(1, max_dilation + 1)
    for k in ks:
        for s in ss:
            for d in ds:
                if d > 1 and k == 1:
                    continue
                big_k = effective_kernel(k, d)
                centre = (big_k - 1) // 2
                if kind == "conv":
                    # padding below (big_k - n) / 2 leaves no window: out <= 0 there
                    for p in _fitting(
                        lambda p: conv_output_size(n, k, s, p, d), k, target, target, centre
                    ):
                        yield Solution(kind, k, s, p, d)
                elif kind == "conv_transpose":
                    # output_padding = target - the size without it, in [0, stride)
                    def missing(p):
                        return target - conv_transpose_output_size(n, k, s, p, d)

                    for p in _fitting(missing, k, 0, s - 1, centre):
                        yield Solution(kind, k, s, p, d, missing(p))
                else:
                    for ceil in (False, True):

                        def out(p, ceil=ceil):
                            return pool_output_size(n, k, s, p, d, ceil)

                        # PyTorch's pool check is padding <= kernel_size // 2, of
                        # the kernel as given (not its dilated span)
                        for p in _fitting(out, k // 2, target, target, min(centre, k // 2)):
                            yield Solution(kind, k, s, p, d, ceil_mode=ceil)


def solve(
    n: int,
    target: int,
    kind: str = "conv",
    kernel: int | None = None,
    stride: int | None = None,
    max_kernel: int = MAX_KERNEL,
    max_stride: int = MAX_STRIDE,
    max_dilation: int = MAX_DILATION,
) -> list[Solution]:
    """Every small (kernel, stride, padding, dilation[, output_padding | ceil_mode])
    mapping ``n`` to ``target`` for ``kind``, simplest first."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    found = []
    for c in _candidates(kind, n, target, kernel, stride, max_kernel, max_stride, max_dilation):
        if (
            c.ceil_mode
            and output_size(Solution(c.type, c.kernel, c.stride, c.padding, c.dilation), n)
            == target
        ):
            continue  # ceil_mode changes nothing here: the floor answer is listed
        o = output_size(c, n)
        if o != target or o < 1:
            continue
        notes = []
        unread = uncovered = 0
        if kind == "conv_transpose":
            uncovered = (
                transposed_unwritten_outputs(n, c.kernel, c.stride, c.padding, c.dilation, o) or 0
            )
            if uncovered:
                notes.append(f"{uncovered} output positions receive no input")
            elif c.kernel % c.stride:
                notes.append(
                    "kernel not a multiple of stride: uneven overlap (checkerboard artifacts)"
                )
        else:
            unread = unread_count(n, c.kernel, c.stride, c.padding, c.dilation, o) or 0
            if unread:
                notes.append(f"{unread} input positions never read")
        if (
            kind == "conv"
            and c.stride == 1
            and o == n
            and c.dilation * (c.kernel - 1) == 2 * c.padding
        ):
            notes.append("same as padding='same'")
        found.append(
            Solution(
                c.type,
                c.kernel,
                c.stride,
                c.padding,
                c.dilation,
                c.output_padding,
                c.ceil_mode,
                o,
                unread,
                uncovered,
                tuple(notes),
            )
        )
    found.sort(key=lambda x: x.key)
    return found
