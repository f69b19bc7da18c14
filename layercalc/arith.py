"""PyTorch's layer arithmetic as small pure functions (FORMULAS.md), one per rule.

Shared by the layer registry, the explanations, the solver and the tests, so every
formula is written exactly once. Integers in, integers out; no validation beyond
what the formula itself needs (the layer rules turn bad results into errors).
"""
from __future__ import annotations

import math


def effective_kernel(k: int, d: int = 1) -> int:
    """Span of a dilated kernel, d(k-1)+1.

    >>> effective_kernel(3, 2)
    5
    """
    return d * (k - 1) + 1


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """floor((n + 2p - d(k-1) - 1)/s) + 1, exactly as PyTorch (floor, never round up).

    >>> conv_output_size(64, 4, 2, 1)      # DCGAN discriminator
    32
    >>> conv_output_size(224, 7, 2, 3)     # ResNet stem: 112, not 113
    112
    >>> conv_output_size(10, 3, 1, 0, 2)   # dilation 2: effective kernel 5
    6
    """
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """PyTorch's padding='same' split: total d(k-1), the extra on the right.

    >>> same_padding(3)
    (1, 1)
    >>> same_padding(4)
    (1, 2)
    """
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_transpose_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1,
                               op: int = 0) -> int:
    """(n-1)s - 2p + d(k-1) + op + 1.

    >>> conv_transpose_output_size(4, 4, 2, 1)   # DCGAN generator 4 -> 8
    8
    >>> conv_transpose_output_size(1, 4, 1, 0)   # 1x1 latent -> 4x4
    4
    >>> conv_transpose_output_size(7, 3, 2, 1, op=1)
    14
    """
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def pool_output_size(n: int, k: int, s: int, p: int = 0, d: int = 1,
                     ceil_mode: bool = False) -> int:
    """PyTorch's pooling_output_shape, including ceil_mode's last-window rule.

    With ceil_mode a last window that would start inside the right padding is dropped
    (pytorch/pytorch#116420; the docs omit this).

    >>> pool_output_size(5, 2, 2, 1, ceil_mode=True)
    3
    >>> pool_output_size(5, 3, 3, 1, ceil_mode=True)
    2
    >>> pool_output_size(9, 4, 4, 2, ceil_mode=True)
    3
    >>> pool_output_size(112, 3, 2, 1)
    56
    """
    num = n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def adaptive_window(i: int, n: int, out: int) -> tuple[int, int]:
    """The input range [start, end) adaptive pooling reads for output index i.

    >>> [adaptive_window(i, 10, 3) for i in range(3)]
    [(0, 4), (3, 7), (6, 10)]
    """
    return (i * n) // out, -((-(i + 1) * n) // out)


def upsample_size(n: int, scale: float) -> int:
    """floor(n * scale) in IEEE double, as PyTorch computes it.

    >>> upsample_size(90, 0.7)
    62
    >>> upsample_size(16, 2)
    32
    """
    return math.floor(float(n) * float(scale))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy/PyTorch broadcasting of shapes, or None when they do not broadcast.

    >>> broadcast_shapes((1, 64, 8, 8), (1, 64, 1, 1))
    (1, 64, 8, 8)
    >>> broadcast_shapes((2, 3), (4, 3)) is None
    True
    """
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        size = 1
        for s in shapes:
            j = i - (rank - len(s))
            if j < 0:
                continue
            v = s[j]
            if v == 1:
                continue
            if size not in (1, v):
                return None
            size = v
        out.append(size)
    return tuple(out)


def prod(values) -> int:
    """Product of ints (1 for an empty sequence).

    >>> prod((3, 4, 4))
    48
    """
    r = 1
    for v in values:
        r *= v
    return r


# -- coverage: which positions a sliding window really touches (explain, solve) --------

def unread_inputs(n: int, k: int, s: int, p: int = 0, d: int = 1,
                  out: int | None = None) -> list[int]:
    """Input positions (0-based) that no window of a conv/pool reads; ``p`` is the left
    padding, ``out`` the output size (default: conv_output_size with p on both sides).

    >>> unread_inputs(66, 3, 2)           # floor drops the last row
    [65]
    >>> unread_inputs(64, 3, 2, 1)        # the dropped position is padding
    []
    >>> unread_inputs(6, 1, 2)            # stride > kernel skips rows
    [1, 3, 5]
    """
    if out is None:
        out = conv_output_size(n, k, s, p, d)
    read = bytearray(n)
    for x in range(out):
        for t in range(k):
            i = x * s - p + t * d
            if 0 <= i < n:
                read[i] = 1
    return [i for i in range(n) if not read[i]]


def taps_on_input(n: int, k: int, s: int, p: int = 0, d: int = 1,
                  out: int | None = None) -> int:
    """(output position, kernel tap) pairs of a conv/pool that read a real input
    position rather than padding.

    >>> taps_on_input(64, 4, 2, 1)        # 32 outputs x 4 taps, 2 of them on padding
    126
    """
    if out is None:
        out = conv_output_size(n, k, s, p, d)
    return sum(1 for x in range(out) for t in range(k) if 0 <= x * s - p + t * d < n)


def transposed_taps_on_output(n: int, k: int, s: int, p: int = 0, d: int = 1,
                              out: int | None = None) -> int:
    """(input position, kernel tap) pairs of a transposed conv that land inside the
    output (the others fall into the cropped padding).

    >>> transposed_taps_on_output(4, 4, 2, 1)   # 16 pairs, 2 cropped
    14
    """
    if out is None:
        out = conv_transpose_output_size(n, k, s, p, d)
    return sum(1 for i in range(n) for t in range(k) if 0 <= i * s - p + t * d < out)


def transposed_unwritten_outputs(n: int, k: int, s: int, p: int, d: int, out: int) -> int:
    """Output positions of a transposed conv that no (input, tap) pair writes (they hold
    only the bias, e.g. output_padding positions or gaps when the kernel < stride).

    >>> transposed_unwritten_outputs(4, 1, 2, 0, 1, 7)   # kernel 1, stride 2: every other
    3
    >>> transposed_unwritten_outputs(4, 4, 2, 1, 1, 8)
    0
    """
    hit = bytearray(out)
    for i in range(n):
        for t in range(k):
            o = i * s - p + t * d
            if 0 <= o < out:
                hit[o] = 1
    return out - sum(hit)
