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


def conv_transpose_output_size(
    n: int, k: int, s: int = 1, p: int = 0, d: int = 1, op: int = 0
) -> int:
    """(n-1)s - 2p + d(k-1) + op + 1.

    >>> conv_transpose_output_size(4, 4, 2, 1)   # DCGAN generator 4 -> 8
    8
    >>> conv_transpose_output_size(1, 4, 1, 0)   # 1x1 latent -> 4x4
    4
    >>> conv_transpose_output_size(7, 3, 2, 1, op=1)
    14
    """
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def pool_output_size(
    n: int, k: int, s: int, p: int = 0, d: int = 1, ceil_mode: bool = False
) -> int:
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


# -- coverage: which positions a sliding window really touches (explain, solve, lint) --
#
# A conv or pool reads input position w·s + t·d − p with window w < out and tap t < k; a
# transposed conv writes output position i·s + t·d − p with input position i < n. Both
# are "size positions, count windows" below. Each count takes a bounded number of steps
# whatever the sizes (a hostile spec may ask about a kernel of 10^9 on 2·10^9 inputs).

COVER_STEPS = 100_000  # most residue classes window_cover examines before giving up


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Sum of floor((a·i + b) / m) for i in [0, n), m > 0, in O(log m) steps (any sign
    of a and b; the classic Euclid-like reduction).

    >>> floor_sum(4, 3, 2, 1)                  # 1//3 + 3//3 + 5//3 + 7//3
    4
    >>> floor_sum(5, 4, -3, 2)                 # 2//4 + -1//4 + -4//4 + -7//4 + -10//4
    -7
    """
    total = 0
    while n > 0:
        q, a = divmod(a, m)
        total += q * (n * (n - 1) // 2)
        q, b = divmod(b, m)
        total += q * n
        top = a * n + b
        if top < m:
            break
        n, b = divmod(top, m)
        m, a = a, m
    return total


def _tap_ranges(size: int, count: int, k: int, s: int, d: int, p: int):
    """For window_hits and taps_reaching: tap t hits windows max(0, B(t))..min(count - 1,
    A(t)) with A(t) = (size - 1 + p - t·d) // s and B(t) = ceil((p - t·d) / s). Returns
    the taps [lo, hi) whose clipped range is not empty and the splits a <= b: A is
    clipped for t < a, B for t >= b. Only taps in [a, b) can still hit no window, and
    only when size < s (a window of size positions may then hold no multiple of s)."""

    def clamp(t, lo, hi):
        return min(max(t, lo), hi)

    lo = clamp(-((-(p - (count - 1) * s)) // d), 0, k)  # first t with B(t) <= count - 1
    hi = clamp((size - 1 + p) // d + 1, 0, k)  # first t with A(t) < 0
    if lo >= hi:
        return lo, lo, lo, lo
    a = clamp((size - 1 + p - count * s) // d + 1, lo, hi)  # first t with A(t) <= count - 1
    b = clamp(-(-p // d), lo, hi)  # first t with B(t) <= 0
    return lo, hi, a, b


def _sum_a(t0, t1, size, s, d, p):
    return floor_sum(t1 - t0, s, -d, size - 1 + p - t0 * d) if t1 > t0 else 0


def _sum_b(t0, t1, s, d, p):
    return -floor_sum(t1 - t0, s, d, t0 * d - p) if t1 > t0 else 0


def window_hits(size: int, count: int, k: int, s: int, d: int, p: int) -> int:
    """(window, tap) pairs with 0 <= w·s + t·d - p < size, w < count, t < k.

    >>> window_hits(64, 32, 4, 2, 1, 1)        # conv k4 s2 p1: 32·4 taps, 2 on padding
    126
    >>> out = conv_output_size(10**9, 999_000, 1, 1)   # 999,001,003 windows x 999,000 taps,
    >>> window_hits(10**9, out, 999_000, 1, 1, 1)     # one pair on each side's padding
    998002001996998
    """
    lo, hi, a, b = _tap_ranges(size, count, k, s, d, p)
    his = (count - 1) * (a - lo) + _sum_a(a, hi, size, s, d, p)
    return his - _sum_b(lo, b, s, d, p) + (hi - lo)


def taps_reaching(size: int, count: int, k: int, s: int, d: int, p: int) -> int:
    """Taps t < k that meet a real position (0 <= w·s + t·d - p < size) for some w.

    >>> taps_reaching(1, 1, 3, 1, 1, 1)        # a 3-tap kernel on one input: the centre
    1
    """
    lo, hi, a, b = _tap_ranges(size, count, k, s, d, p)
    # taps in [lo, hi) hit at least one window, except in [a, b), where neither bound is
    # clipped and a tap hits the multiples of s in a window of `size` positions: none
    # for some taps when size < s
    empty = 0
    if size < s and a < b:
        empty = _sum_b(a, b, s, d, p) - _sum_a(a, b, size, s, d, p)
    return hi - lo - empty


def _blocks_below(x: int, m: int, step: int, width: int) -> int:
    """Integers in [0, x) inside the union of blocks [j·step, j·step + width), j < m."""
    if x <= 0:
        return 0
    if step <= width:  # the blocks touch or overlap: one run
        return min(x, (m - 1) * step + width)
    q, r = divmod(x, step)
    return m * width if q >= m else q * width + min(r, width)


def _cover_steps(count: int, k: int, s: int, d: int) -> int:
    """The residue classes window_cover walks (its cost)."""
    g = math.gcd(s, d)
    return min(min(k, s // g), min(count, d // g))


def window_cover(size: int, count: int, k: int, s: int, d: int, p: int) -> int | None:
    """Positions in [0, size) that some (window, tap) pair reaches (w·s + t·d - p); None
    when that would take more than COVER_STEPS steps (only with paddings of ~10^12).

    Taps t = u + j·(s/g) (g = gcd(s, d)) reach u·d - p + s·L for L in the union of the
    blocks [j·(d/g), j·(d/g) + count); different u give different residues mod s. The
    roles of windows and taps are symmetric, so the side with fewer classes is walked.

    >>> window_cover(66, 32, 3, 2, 1, 0)       # conv k3 s2 on 66: the last row unread
    65
    >>> window_cover(6, 6, 1, 2, 1, 0)         # k1 s2 skips every other position
    3
    >>> window_cover(2 * 10**9, 2, 10**9, 10**9, 1, 0)   # huge kernel and stride
    2000000000
    """
    g = math.gcd(s, d)
    na, sa, nb, sb = count, s, k, d  # walk classes of taps ...
    if min(k, s // g) > min(count, d // g):
        na, sa, nb, sb = k, d, count, s  # ... or of windows
    classes = min(nb, sa // g)  # = _cover_steps(count, k, s, d)
    if classes > COVER_STEPS:
        return None
    step = sb // g
    covered = 0
    for u in range(classes):
        m = (nb - u + sa // g - 1) // (sa // g)  # members of class u
        base = u * sb - p
        lo = max(0, -(base // sa))  # first L with base + sa·L >= 0
        hi = (size - 1 - base) // sa  # last L with base + sa·L < size
        if hi >= lo:
            covered += _blocks_below(hi + 1, m, step, na) - _blocks_below(lo, m, step, na)
    return covered


def unread_inputs(
    n: int, k: int, s: int, p: int = 0, d: int = 1, out: int | None = None, at_most: int = 8
) -> list[int] | None:
    """Input positions (0-based) that no window of a conv/pool reads, when there are at
    most ``at_most`` of them (None when more, or when finding them would take more than
    COVER_STEPS steps); ``p`` is the left padding, ``out`` the output size (default:
    conv_output_size with p on both sides).

    >>> unread_inputs(66, 3, 2)           # floor drops the last row
    [65]
    >>> unread_inputs(64, 3, 2, 1)        # the dropped position is padding
    []
    >>> unread_inputs(6, 1, 2)            # stride > kernel skips rows
    [1, 3, 5]
    """
    if out is None:
        out = conv_output_size(n, k, s, p, d)
    missing = unread_count(n, k, s, p, d, out)
    if missing is None or missing > at_most:
        return None
    if missing * n.bit_length() * _cover_steps(out, k, s, d) > COVER_STEPS:
        return None  # each position costs a bisection of window_cover calls
    found = []
    while len(found) < missing:  # the first x with x - cover([0, x)) > len(found), bisected
        lo, hi = (found[-1] + 1 if found else 0), n
        while lo < hi:
            mid = (lo + hi) // 2
            if mid + 1 - window_cover(mid + 1, out, k, s, d, p) > len(found):
                hi = mid
            else:
                lo = mid + 1
        found.append(lo)
    return found


def unread_count(n: int, k: int, s: int, p: int, d: int, out: int) -> int | None:
    """How many of a conv/pool's n input positions no window reads (None: not countable).

    >>> unread_count(2 * 10**9, 3, 2, 0, 1, 10**9 - 1)   # the last one
    1
    """
    covered = window_cover(n, out, k, s, d, p)
    return None if covered is None else n - covered


def taps_on_input(n: int, k: int, s: int, p: int = 0, d: int = 1, out: int | None = None) -> int:
    """(output position, kernel tap) pairs of a conv/pool that read a real input
    position rather than padding.

    >>> taps_on_input(64, 4, 2, 1)        # 32 outputs x 4 taps, 2 of them on padding
    126
    """
    if out is None:
        out = conv_output_size(n, k, s, p, d)
    return window_hits(n, out, k, s, d, p)


def transposed_taps_on_output(
    n: int, k: int, s: int, p: int = 0, d: int = 1, out: int | None = None
) -> int:
    """(input position, kernel tap) pairs of a transposed conv that land inside the
    output (the others fall into the cropped padding).

    >>> transposed_taps_on_output(4, 4, 2, 1)   # 16 pairs, 2 cropped
    14
    """
    if out is None:
        out = conv_transpose_output_size(n, k, s, p, d)
    return window_hits(out, n, k, s, d, p)


def transposed_unwritten_outputs(n: int, k: int, s: int, p: int, d: int, out: int) -> int | None:
    """Output positions of a transposed conv that no (input, tap) pair writes (they hold
    only the bias, e.g. output_padding positions or gaps when the kernel < stride); None
    when not countable.

    >>> transposed_unwritten_outputs(4, 1, 2, 0, 1, 7)   # kernel 1, stride 2: every other
    3
    >>> transposed_unwritten_outputs(4, 4, 2, 1, 1, 8)
    0
    """
    covered = window_cover(out, n, k, s, d, p)
    return None if covered is None else out - covered
