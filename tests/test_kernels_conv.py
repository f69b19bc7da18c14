"""npops.conv's depthwise ways (issue 18: tap by tap over flat maps or in channels-last,
or grouped im2col products) all give the grouped im2col result, in every rank, at any
stride and dilation, batched or not."""

import numpy as np
import pytest

from layercalc.layers import npops

CASES = [
    ((2, 5, 40), 4, 3, 2),
    ((1, 7, 33), 3, 1, 1),
    ((1, 96, 30, 30), 3, 2, 1),
    ((2, 16, 31, 33), 3, 1, 2),
    ((1, 80, 9, 7), 5, 1, 1),
    ((2, 16, 31, 33), 3, 3, 2),
    ((1, 8, 12, 13, 14), 3, 2, 1),
    ((1, 4, 9, 10, 11), 3, 1, 1),
]


def _case(shape, k, s, d):
    rng = np.random.default_rng(0)
    dims = len(shape) - 2
    x = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal((shape[1], 1) + (k,) * dims, dtype=np.float32)
    out = tuple((shape[2 + i] - d * (k - 1) - 1) // s + 1 for i in range(dims))
    want = npops.conv(x, w, (s,) * dims, (d,) * dims, shape[1], 16 * 2**20, 0)
    return x, w, (s,) * dims, (d,) * dims, out, want


@pytest.mark.parametrize("shape,k,s,d", CASES)
@pytest.mark.parametrize("way", ["_depthwise_flat", "_depthwise_channels_last"])
def test_depthwise_ways_agree(shape, k, s, d, way):
    x, w, s, d, out, want = _case(shape, k, s, d)
    got = getattr(npops, way)(x, w, s, d, out)
    assert got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,k,s,d", CASES)
def test_depthwise_dispatch_agrees(shape, k, s, d):
    x, w, s, d, out, want = _case(shape, k, s, d)
    got = npops.conv(x, w, s, d, shape[1], 16 * 2**20, 64)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_depthwise_on_a_non_contiguous_input():
    x, w, s, d, out, want = _case((1, 8, 40, 40), 3, 1, 1)
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values
    np.testing.assert_allclose(npops._depthwise_flat(xt, w, s, d, out), want, atol=1e-5)
