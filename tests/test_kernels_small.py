"""The shortcuts of small layers' forwards give exactly what the general ways give:
npops.conv's im2col copy gathered through a memoised index (small maps) against the
windows' view reshaped, and pad_spatial's memoised +0 padding against np.pad."""

import numpy as np
import pytest

from layercalc.layers import npops

CONV_CASES = [  # x shape, out channels, kernel, stride, dilation, groups
    ((1, 4, 6, 6), 4, (3, 3), (1, 1), (1, 1), 1),
    ((2, 4, 6, 6), 8, (3, 3), (1, 1), (1, 1), 2),
    ((1, 3, 9, 7), 5, (3, 2), (2, 1), (1, 2), 1),
    ((3, 6, 11), 4, (3,), (2,), (2,), 2),
    ((1, 2, 5, 6, 4), 3, (2, 3, 2), (1, 2, 1), (2, 1, 1), 1),
    ((1, 4, 4, 4), 4, (4, 4), (1, 1), (1, 1), 4),  # one window: the whole map
]


def _reference(x, w, s, d, groups):
    """npops.conv's im2col way, the copy made by reshaping the windows' view."""
    n, c = x.shape[:2]
    o, k = w.shape[0], w.shape[2:]
    dims = len(k)
    out = tuple((x.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(dims))
    kk, p = int(np.prod(k)), int(np.prod(out))
    cols = npops.windows(x, k, s, d, out).reshape(n, groups, c // groups * kk, p)
    wm = w.reshape(groups, o // groups, c // groups * kk)
    return npops._matmul(wm, cols).reshape((n, o) + out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,o,k,s,d,g", CONV_CASES)
def test_gathered_im2col_is_bytewise_the_view_copy(shape, o, k, s, d, g, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((o, shape[1] // g) + k).astype(dtype)
    want = _reference(x, w, s, d, g)
    npops._SMALL_CONVS.clear()
    for xin in (x, np.asfortranarray(x), x[..., ::1]):  # twice: the memoised index too
        got = npops.conv(xin, w, s, d, g, 2**20, 0)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    assert len(npops._SMALL_CONVS) == 1  # gathered, and planned


def test_gather_memo_stays_small():
    for c in range(1, 1 + 2 * npops.MAX_GATHERS):  # 16 c elements each: gathered
        x = np.ones((1, c, 3, 3), np.float32)
        npops.conv(x, np.ones((1, c, 2, 2), np.float32), (1, 1), (1, 1), 1, 2**20, 0)
    assert len(npops._SMALL_CONVS) <= npops.MAX_GATHERS


PAD_CASES = [
    ((1, 4, 4, 4), ((1, 1), (1, 1))),
    ((2, 3, 5), ((0, 2),)),
    ((4, 5, 6), ((2, 0), (0, 3))),  # unbatched
    ((1, 2, 3, 4, 5), ((1, 0), (0, 0), (2, 1))),
    ((1, 2, 3, 3), ((0, 0), (0, 0))),  # nothing to pad: x itself
    ((1, 2, 5, 5), ((-1, 2), (1, -2))),  # a crop: the general way
    ((1, 2, 4, 4), ([1, 0], [2, 1])),  # pairs as lists: unhashable, the general way
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape,pads", PAD_CASES)
def test_zero_padding_is_np_pad(shape, pads, dtype):
    x = (np.arange(int(np.prod(shape))) - 7).reshape(shape).astype(dtype)
    lead = x.ndim - len(pads)
    crop = tuple(
        slice(max(-left, 0), x.shape[lead + i] - max(-r, 0)) for i, (left, r) in enumerate(pads)
    )
    width = [(0, 0)] * lead + [(max(left, 0), max(r, 0)) for left, r in pads]
    for xin in (x, np.asfortranarray(x), x.copy()):  # again: the memoised plan
        want = np.pad(xin[(slice(None),) * lead + crop], width)
        for value in (0, 0.0):
            got = npops.pad_spatial(xin, pads, "zeros", value)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want)
            assert got.flags.c_contiguous == want.flags.c_contiguous
            assert got.flags.f_contiguous == want.flags.f_contiguous
    neg = npops.pad_spatial(x.astype(np.float64), pads, "constant", -0.0)  # -0.0 keeps its sign
    if any(left > 0 or r > 0 for left, r in pads):
        assert np.signbit(neg).any()


FORWARD_CASES = [  # x shape, out channels, kernel, stride, dilation, groups, pads, mode
    ((1, 4, 4, 4), 4, (3, 3), (1, 1), (1, 1), 1, ((1, 1), (1, 1)), "zeros"),
    ((4, 4, 4), 4, (3, 3), (1, 1), (1, 1), 1, ((1, 1), (1, 1)), "zeros"),  # unbatched
    ((3, 4, 5, 6), 6, (3, 3), (2, 1), (1, 1), 2, ((1, 1), (2, 0)), "zeros"),
    ((1, 3, 5, 5), 2, (3, 3), (1, 1), (1, 1), 1, ((2, 2), (1, 1)), "reflect"),
    ((2, 3, 5, 5), 2, (3, 2), (1, 2), (1, 1), 1, ((1, 1), (1, 1)), "replicate"),
    ((3, 7), 2, (3,), (1,), (2,), 1, ((3, 1),), "circular"),  # unbatched, 1-d
    ((1, 2, 2, 3, 2), 3, (2, 2, 2), (1, 1, 1), (1, 1, 1), 1, ((1, 1),) * 3, "zeros"),
    ((1, 4, 5, 5), 4, (3, 3), (1, 1), (1, 1), 1, ((0, 0), (0, 0)), "zeros"),  # no padding
    ((1, 6, 4, 4), 6, (3, 3), (1, 1), (1, 1), 6, ((1, 1), (1, 1)), "zeros"),  # depthwise
]


def _general_forward(x, w, b, pads, mode, s, d, g, dims):
    """Conv's forward the general way: pad, npops.conv, the bias, unbatch."""
    xb, added = npops.batched(x, dims)
    y = npops.conv(npops.pad_spatial(xb, pads, mode), w, s, d, g, 2**20, 9)
    if b is not None:
        y += b.reshape((-1,) + (1,) * dims)
    return npops.unbatch(y, added)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,o,k,s,d,g,pads,mode", FORWARD_CASES)
def test_small_conv_forward_is_bytewise_the_general_way(
    shape, o, k, s, d, g, pads, mode, dtype, bias
):
    rng = np.random.default_rng(2)
    dims = len(k)
    c = shape[-dims - 1]
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::5] = -0.0  # signed zeros survive the gather
    w = rng.standard_normal((o, c // g) + k).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    want = _general_forward(x, w, b, pads, mode, s, d, g, dims)
    npops._SMALL_FORWARDS.clear()
    for xin in (x, np.asfortranarray(x)):  # twice: the memoised plan too
        got = npops.small_conv(xin, w, b, pads, mode, s, d, g, dims, (2**20, 9))
        assert got is not None
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    assert len(npops._SMALL_FORWARDS) == 1


def test_small_conv_leaves_other_ways_to_conv():
    rng = np.random.default_rng(3)
    f32 = np.float32
    cases = [  # each one conv takes another way for
        ((1, 64, 4, 4), (64, 1, 3, 3), 64),  # depthwise, many channels: channels-last taps
        ((1, 4, 40, 40), (4, 4, 3, 3), 1),  # a large map: the windows' copy
        ((1, 4, 4, 4), (4, 4, 1, 1), 1),  # pointwise: the input is the columns
    ]
    for shape, w_shape, g in cases:
        x = rng.standard_normal(shape).astype(f32)
        w = rng.standard_normal(w_shape).astype(f32)
        pads = ((1, 1), (1, 1))
        assert npops.small_conv(x, w, None, pads, "zeros", (1, 1), (1, 1), g, 2, (2**20, 9)) is None
    x = np.ones((1, 2, 3, 3), f32)  # pads given as lists: unhashable, the general way
    w = np.ones((2, 2, 3, 3), f32)
    assert (
        npops.small_conv(x, w, None, [[1, 1], [1, 1]], "zeros", (1, 1), (1, 1), 1, 2, (9, 9))
        is None
    )
