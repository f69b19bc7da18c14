"""The solver: answers re-checked by the shape formulas, ranked by simplicity."""

import pytest

from layercalc.arith import (
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel,
    pool_output_size,
)
from layercalc.analyses.solve import solve


def recheck(s, n):
    if s.type == "conv":
        assert n + 2 * s.padding >= effective_kernel(s.kernel, s.dilation)
        return conv_output_size(n, s.kernel, s.stride, s.padding, s.dilation)
    if s.type == "conv_transpose":
        assert s.output_padding < s.stride or s.output_padding < s.dilation
        return conv_transpose_output_size(
            n, s.kernel, s.stride, s.padding, s.dilation, s.output_padding
        )
    assert s.padding <= s.kernel // 2  # PyTorch's pool rule: of the kernel, not its span
    return pool_output_size(n, s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode)


def test_dcgan_halving_with_kernel_4():
    best = solve(64, 32, "conv", kernel=4)[0]
    assert (best.kernel, best.stride, best.padding, best.dilation) == (4, 2, 1, 1)
    assert (
        best.torch() == "nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)"
    )
    assert best.formula(64) == "⌊(64 + 2·1 − 4) / 2⌋ + 1 = 32"


def test_generator_doubling():
    sols = solve(32, 64, "conv_transpose")
    assert [(s.kernel, s.stride, s.padding, s.output_padding) for s in sols[:2]] == [
        (2, 2, 0, 0),
        (4, 2, 1, 0),
    ]
    assert sols[1].torch(2) == (
        "nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)"
    )


def test_same_size_prefers_centred_odd_kernels():
    sols = solve(64, 64, "conv")
    assert [(s.kernel, s.padding) for s in sols[:3]] == [(1, 0), (3, 1), (5, 2)]
    assert "same as padding='same'" in sols[1].notes


def test_resnet_stem_pool():
    sols = solve(112, 56, "max_pool", kernel=3)
    assert (sols[0].stride, sols[0].padding, sols[0].ceil_mode) == (2, 1, False)
    assert sols[0].torch() == "nn.MaxPool2d(kernel_size=3, stride=2, padding=1)"


def test_unread_rows_rank_last():
    sols = solve(64, 32, "conv")
    assert sols[0].unread == 0
    worst = [s for s in sols if s.unread]
    assert worst and sols.index(worst[0]) > max(i for i, s in enumerate(sols) if not s.unread)


@pytest.mark.parametrize("kind", ["conv", "conv_transpose", "max_pool", "avg_pool"])
@pytest.mark.parametrize(
    "n,target", [(64, 32), (32, 64), (7, 7), (28, 14), (9, 5), (5, 3), (100, 25), (10, 21)]
)
def test_every_answer_rechecked(kind, n, target):
    sols = solve(n, target, kind)
    for s in sols:
        assert recheck(s, n) == target == s.out
    assert len(
        {(s.kernel, s.stride, s.padding, s.dilation, s.output_padding, s.ceil_mode) for s in sols}
    ) == len(sols)
    keys = [s.key for s in sols]
    assert keys == sorted(keys)


def test_ceil_mode_only_when_it_matters():
    sols = solve(5, 3, "max_pool", kernel=2, stride=2)
    plain = [(s.padding, s.ceil_mode) for s in sols if s.dilation == 1]
    assert plain == [(1, False), (0, True)]  # ceil_mode ranks after a plain padding


def test_unknown_kind():
    with pytest.raises(ValueError):
        solve(4, 2, "dense")


def _every_setting(kind, n, target):
    """The search by exhaustion: every padding (and output_padding, ceil_mode) tried."""
    out = set()
    for k in range(1, 12):
        for s in range(1, 5):
            for d in [1] if kind == "avg_pool" else range(1, 4):
                if d > 1 and k == 1:
                    continue
                big_k = effective_kernel(k, d)
                if kind == "conv":
                    out |= {
                        (k, s, p, d, 0, False)
                        for p in range(k + 1)
                        if n + 2 * p >= big_k and conv_output_size(n, k, s, p, d) == target
                    }
                elif kind == "conv_transpose":
                    out |= {
                        (k, s, p, d, op, False)
                        for p in range(k + 1)
                        for op in range(s)
                        if conv_transpose_output_size(n, k, s, p, d, op) == target
                    }
                else:
                    out |= {
                        (k, s, p, d, 0, c)
                        for p in range(k // 2 + 1)
                        for c in (False, True)
                        if pool_output_size(n, k, s, p, d, c) == target
                    }
    return out


@pytest.mark.parametrize("kind", ["conv", "conv_transpose", "max_pool", "avg_pool"])
def test_bisected_paddings_find_what_exhaustion_finds(kind):
    """Paddings come from bisecting the (monotone) output size; on 120 random queries the
    answers are exactly those of trying every padding (ceil_mode twins of a floor answer
    left out, as the solver does)."""
    import random

    rng = random.Random(kind)
    for _ in range(120):
        n = rng.randint(1, 60)
        target = rng.randint(1, 2 * n + 4)
        got = {
            (s.kernel, s.stride, s.padding, s.dilation, s.output_padding, s.ceil_mode)
            for s in solve(n, target, kind)
        }
        every = _every_setting(kind, n, target)
        want = {c for c in every if not (c[5] and (*c[:5], False) in every)}
        assert got == want, (kind, n, target)


@pytest.mark.torch
@pytest.mark.parametrize("n,target", [(7, 3), (9, 5), (12, 4), (5, 3)])
def test_every_pool_answer_is_one_torch_accepts(n, target):
    """max_pool with dilation: torch refuses padding above kernel_size // 2 (the kernel
    as given, not its dilated span), so no answer may have it."""
    torch = pytest.importorskip("torch")
    for kind in ("max_pool", "avg_pool"):
        for s in solve(n, target, kind, max_kernel=6):
            args = dict(kernel_size=s.kernel, stride=s.stride, padding=s.padding)
            args["ceil_mode"] = s.ceil_mode
            if kind == "max_pool":
                pool = torch.nn.MaxPool1d(dilation=s.dilation, **args)
            else:
                pool = torch.nn.AvgPool1d(**args)
            assert pool(torch.zeros(1, 1, n)).shape[-1] == target, (kind, s)


def test_a_fixed_kernel_of_a_billion_is_solved_by_bisection():
    """--kernel 10^9: the paddings that fit form a range of ~5·10^8; the solver lists the
    smallest, the centred and the largest (PADDINGS per setting), each rechecked."""
    from layercalc.analyses.solve import PADDINGS

    n, k = 2 * 10**9, 10**9
    sols = solve(n, n - k + 1 + 250_000_000, "conv", kernel=k, stride=1)
    assert sols and all(recheck(s, n) == s.out for s in sols)
    per_setting = {}
    for s in sols:
        per_setting.setdefault((s.stride, s.dilation), []).append(s.padding)
    assert all(len(ps) <= PADDINGS for ps in per_setting.values())
    assert min(per_setting[(1, 1)]) == 125_000_000  # (n + 2p − k) + 1 = target
