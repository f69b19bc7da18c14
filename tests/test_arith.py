"""The shape formulas against values a person can check (FORMULAS.md)."""

import pytest

from layercalc import arith


@pytest.mark.parametrize(
    "n,k,s,p,d,out",
    [
        (64, 4, 2, 1, 1, 32),  # DCGAN discriminator: 64 -> 32
        (32, 4, 2, 1, 1, 16),
        (4, 4, 1, 0, 1, 1),  # the last 4x4 conv: 4 -> 1
        (224, 7, 2, 3, 1, 112),  # ResNet stem: floor, not round-up (113)
        (28, 5, 1, 0, 1, 24),  # LeNet
        (10, 3, 1, 0, 2, 6),  # dilation 2: effective kernel 5
        (7, 3, 2, 0, 1, 3),  # floor drops the last row
    ],
    ids=lambda v: str(v),
)
def test_conv_output_size(n, k, s, p, d, out):
    assert arith.conv_output_size(n, k, s, p, d) == out


@pytest.mark.parametrize(
    "n,k,s,p,op,out",
    [
        (1, 4, 1, 0, 0, 4),  # DCGAN generator: 1 -> 4
        (4, 4, 2, 1, 0, 8),
        (32, 4, 2, 1, 0, 64),
        (7, 3, 2, 1, 1, 14),  # autoencoder: output_padding restores 14
        (7, 3, 2, 1, 0, 13),
    ],
)
def test_conv_transpose_output_size(n, k, s, p, op, out):
    assert arith.conv_transpose_output_size(n, k, s, p, 1, op) == out


@pytest.mark.parametrize(
    "n,k,s,p,d,ceil,out",
    [
        (5, 2, 2, 1, 1, True, 3),  # the last window would start in the padding: 3, not 4
        (5, 3, 3, 1, 1, True, 2),
        (9, 4, 4, 2, 1, True, 3),
        (5, 2, 2, 0, 1, True, 3),  # ceil keeps the partial window
        (5, 2, 2, 0, 1, False, 2),
        (112, 3, 2, 1, 1, False, 56),
        (10, 3, 1, 0, 2, False, 6),
    ],
)
def test_pool_output_size(n, k, s, p, d, ceil, out):
    assert arith.pool_output_size(n, k, s, p, d, ceil) == out


def test_same_padding_puts_the_extra_on_the_right():
    assert arith.same_padding(4) == (1, 2)
    assert arith.same_padding(3, 2) == (2, 2)


def test_upsample_uses_ieee_double():
    assert arith.upsample_size(90, 0.7) == 62  # 62.999... floors
    assert arith.upsample_size(7, 1.5) == 10


def test_adaptive_windows_cover_the_input():
    wins = [arith.adaptive_window(i, 7, 3) for i in range(3)]
    assert wins == [(0, 3), (2, 5), (4, 7)]


def test_broadcast():
    assert arith.broadcast_shapes((8, 1, 6, 1), (7, 1, 5)) == (8, 7, 6, 5)
    assert arith.broadcast_shapes((3,), (4,)) is None


def _brute(size, count, k, s, d, p):
    """Every (window, tap) position inside [0, size): the definition itself."""
    return [
        w * s + t * d - p for w in range(count) for t in range(k) if 0 <= w * s + t * d - p < size
    ]


def test_coverage_counts_agree_with_walking_every_window_and_tap():
    """window_hits, taps_reaching and window_cover (closed forms and residue classes)
    against the position-by-position walk, on 6,000 random geometries, including
    windows wholly in the padding, strides beyond the input and dilations."""
    import random

    from layercalc.arith import floor_sum, taps_reaching, window_cover, window_hits

    rng = random.Random(8)
    for _ in range(6000):
        size, count = rng.randint(1, 40), rng.randint(1, 25)
        k, s, d, p = rng.randint(1, 9), rng.randint(1, 12), rng.randint(1, 6), rng.randint(0, 15)
        hits = _brute(size, count, k, s, d, p)
        taps = {t for w in range(count) for t in range(k) if 0 <= w * s + t * d - p < size}
        case = (size, count, k, s, d, p)
        assert window_hits(*case) == len(hits), case
        assert taps_reaching(*case) == len(taps), case
        assert window_cover(*case) == len(set(hits)), case
    for _ in range(2000):
        n, m, a, b = (
            rng.randint(0, 30),
            rng.randint(1, 20),
            rng.randint(-50, 50),
            rng.randint(-99, 99),
        )
        assert floor_sum(n, m, a, b) == sum((a * i + b) // m for i in range(n))


def test_unread_positions_are_found_when_few_and_counted_when_many():
    import random

    from layercalc.arith import (
        conv_output_size,
        transposed_unwritten_outputs,
        unread_count,
        unread_inputs,
    )

    rng = random.Random(9)
    for _ in range(2000):
        n, k, s = rng.randint(1, 40), rng.randint(1, 7), rng.randint(1, 6)
        d, p = rng.randint(1, 3), rng.randint(0, 4)
        o = conv_output_size(n, k, s, p, d)
        if o < 1:
            continue
        read = set(_brute(n, o, k, s, d, p))
        unread = [i for i in range(n) if i not in read]
        assert unread_count(n, k, s, p, d, o) == len(unread)
        assert unread_inputs(n, k, s, p, d, o, at_most=5) == (unread if len(unread) <= 5 else None)
        written = set(_brute(o, n, k, s, d, p))  # the transposed direction
        assert transposed_unwritten_outputs(n, k, s, p, d, o) == o - len(written)


def test_coverage_of_absurd_geometries_is_immediate():
    """A 10^9-tap kernel on 2·10^9 positions: closed forms, no loop over taps (the
    loops these replaced would run for hours)."""
    from layercalc.arith import taps_reaching, unread_count, window_cover, window_hits

    n, k = 2 * 10**9, 10**9
    out = n - k + 1
    assert window_hits(n, out, k, 1, 1, 0) == out * k
    assert taps_reaching(n, out, k, 1, 1, 0) == k
    assert window_cover(n, out, k, 1, 1, 0) == n
    assert unread_count(n, 1, 10**9, 0, 1, 2) == n - 2  # two windows of one tap
