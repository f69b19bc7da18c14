"""verify's NaN/infinity check in batches (_Finiteness) finds exactly the output the
check of every output on its own finds: the first, in layer order, whatever the sizes,
dtypes and batch boundaries, and never a batch of finite values whose sum overflows."""

import numpy as np
import pytest

from layercalc.analyses import verify
from layercalc.analyses.verify import _finite, _Finiteness, _nonfinite


def reference(outputs):
    for i, v in outputs:
        if v.dtype.kind in "fc" and not _finite(np, v):
            what = _nonfinite(np, v)
            if what is not None:
                return i, what
    return None


def batched(outputs, dtype=np.float32):
    f = _Finiteness(np, np.dtype(dtype))
    for i, v in outputs:
        f(i, v)
    f.flush()
    return f.found


def outputs_from(rng, n):
    out = []
    rate = rng.choice([0.002, 0.03, 0.3])  # of outputs with a NaN or an infinity
    for i in range(n):
        kind = rng.integers(0, 10)
        size = int(rng.choice([1, 7, 64, 4096, 4097, 9000]))
        if kind == 0:
            v = rng.integers(0, 5, size=size)  # integer: never checked
        elif kind == 1:
            v = rng.random(size)  # float64 in a float32 run: checked on its own
        else:
            v = rng.random(size, dtype=np.float32)
        if v.dtype.kind == "f" and rng.random() < rate:
            v[rng.integers(0, size)] = rng.choice([np.nan, np.inf, -np.inf])
        out.append((i, v.reshape(1, -1) if rng.random() < 0.5 else v))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_batches_find_the_first_non_finite_output(seed):
    rng = np.random.default_rng(seed)
    outputs = outputs_from(rng, int(rng.integers(1, 600)))
    with np.errstate(all="ignore"):
        assert batched(outputs) == reference(outputs)


def test_a_batch_whose_sum_overflows_is_searched_and_found_finite():
    big = np.full(64, 3e38, dtype=np.float32)  # finite; any two of them overflow
    outputs = [(i, big.copy()) for i in range(50)]
    with np.errstate(all="ignore"):
        assert batched(outputs) is None
        outputs.append((50, np.array([np.nan], dtype=np.float32)))
        assert batched(outputs) == (50, "is all NaN")


def test_held_outputs_stay_within_the_estimate():
    f = _Finiteness(np, np.dtype(np.float32))
    most = 0
    for i in range(5000):
        f(i, np.ones(int(1 + i % verify.SMALL_OUTPUT), dtype=np.float32))
        assert f.elements <= verify.BATCH_ELEMENTS and len(f.held) <= verify.BATCH_ARRAYS
        most = max(most, f.elements)
    assert most > verify.BATCH_ELEMENTS // 2  # batches do fill up
