"""The shape formulas against values a person can check (FORMULAS.md)."""
import pytest

from layercalc import arith


@pytest.mark.parametrize("n,k,s,p,d,out", [
    (64, 4, 2, 1, 1, 32),     # DCGAN discriminator: 64 -> 32
    (32, 4, 2, 1, 1, 16),
    (4, 4, 1, 0, 1, 1),       # the last 4x4 conv: 4 -> 1
    (224, 7, 2, 3, 1, 112),   # ResNet stem: floor, not round-up (113)
    (28, 5, 1, 0, 1, 24),     # LeNet
    (10, 3, 1, 0, 2, 6),      # dilation 2: effective kernel 5
    (7, 3, 2, 0, 1, 3),       # floor drops the last row
], ids=lambda v: str(v))
def test_conv_output_size(n, k, s, p, d, out):
    assert arith.conv_output_size(n, k, s, p, d) == out


@pytest.mark.parametrize("n,k,s,p,op,out", [
    (1, 4, 1, 0, 0, 4),       # DCGAN generator: 1 -> 4
    (4, 4, 2, 1, 0, 8),
    (32, 4, 2, 1, 0, 64),
    (7, 3, 2, 1, 1, 14),      # autoencoder: output_padding restores 14
    (7, 3, 2, 1, 0, 13),
])
def test_conv_transpose_output_size(n, k, s, p, op, out):
    assert arith.conv_transpose_output_size(n, k, s, p, 1, op) == out


@pytest.mark.parametrize("n,k,s,p,d,ceil,out", [
    (5, 2, 2, 1, 1, True, 3),   # the last window would start in the padding: 3, not 4
    (5, 3, 3, 1, 1, True, 2),
    (9, 4, 4, 2, 1, True, 3),
    (5, 2, 2, 0, 1, True, 3),   # ceil keeps the partial window
    (5, 2, 2, 0, 1, False, 2),
    (112, 3, 2, 1, 1, False, 56),
    (10, 3, 1, 0, 2, False, 6),
])
def test_pool_output_size(n, k, s, p, d, ceil, out):
    assert arith.pool_output_size(n, k, s, p, d, ceil) == out


def test_same_padding_puts_the_extra_on_the_right():
    assert arith.same_padding(4) == (1, 2)
    assert arith.same_padding(3, 2) == (2, 2)


def test_upsample_uses_ieee_double():
    assert arith.upsample_size(90, 0.7) == 62   # 62.999... floors
    assert arith.upsample_size(7, 1.5) == 10


def test_adaptive_windows_cover_the_input():
    wins = [arith.adaptive_window(i, 7, 3) for i in range(3)]
    assert wins == [(0, 3), (2, 5), (4, 7)]


def test_broadcast():
    assert arith.broadcast_shapes((8, 1, 6, 1), (7, 1, 5)) == (8, 7, 6, 5)
    assert arith.broadcast_shapes((3,), (4,)) is None
