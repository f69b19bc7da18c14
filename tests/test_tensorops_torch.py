"""The tensor operations (SPEC.md section 12) against torch on seeded random
configurations: negative and out-of-range dims, 0-d and 1-d inputs, 1-d matmul operands,
broadcast batch dims. For each, layercalc refuses exactly when torch raises (one
documented difference: layercalc refuses an empty result, which torch returns, with
output-too-small), the inferred shape is torch's, and the NumPy forward gives torch's
values: bit for bit for the data movement, to float32 tolerance for matmul."""

from __future__ import annotations

import json
import random
import warnings

import numpy as np
import pytest

from layercalc.analyses.loading import analyse_bytes

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

OPS = (
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "expand",
    "roll",
    "select",
    "slice",
    "flip",
    "matmul",
)
SEEDS = 40


def _shape(rnd, ranks=(0, 1, 1, 2, 2, 3, 3, 4)):
    return tuple(rnd.choice([1, 1, 2, 3, 4, 5]) for _ in range(rnd.choice(ranks)))


def _dim(rnd, rank, extra=0):
    """A dim, sometimes just out of range (a 0-d input takes 0 and -1, as in torch)."""
    span = max(rank + extra, 1)
    return rnd.randint(-span - 1, span)


def _dims(rnd, rank, most=3):
    """An int, or a list of 1..most dims (sometimes repeated or out of range)."""
    if rnd.random() < 0.3:
        return _dim(rnd, rank)
    return [_dim(rnd, rank) for _ in range(rnd.randint(1, most))]


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


def case(op: str, seed: int):
    """(layercalc arguments, input shapes, the same operation in torch)."""
    rnd = random.Random(f"{op}-{seed}")
    if op == "matmul":
        return _matmul_case(rnd)
    shape = _shape(rnd)
    rank = len(shape)
    if op == "permute":
        dims = list(range(rank)) or [0]
        rnd.shuffle(dims)
        dims = [d - rank if rnd.random() < 0.4 else d for d in dims]  # negative spellings
        r = rnd.random()
        if r < 0.1 and len(dims) > 1:
            dims[1] = dims[0]  # repeated
        elif r < 0.2:
            dims = dims[:-1] or [0, 1]  # wrong length
        elif r < 0.3:
            dims[rnd.randrange(len(dims))] = rnd.choice([rank, -rank - 1])
        args = {"dims": dims[0] if len(dims) == 1 and rnd.random() < 0.5 else dims}
        return args, [shape], lambda x: x.permute(*_listed(args["dims"]))
    if op == "transpose":
        args = {"dim0": _dim(rnd, rank), "dim1": _dim(rnd, rank)}
        return args, [shape], lambda x: torch.transpose(x, args["dim0"], args["dim1"])
    if op == "squeeze":
        r = rnd.random()
        args = {} if r < 0.25 else {"dim": _dims(rnd, rank)}
        if "dim" in args:
            return args, [shape], lambda x: torch.squeeze(x, _tuple(args["dim"]))
        return args, [shape], torch.squeeze
    if op == "unsqueeze":
        args = {"dim": _dim(rnd, rank, extra=1)}
        return args, [shape], lambda x: torch.unsqueeze(x, args["dim"])
    if op == "expand":
        sizes = []
        for n in shape:
            if n == 1:
                sizes.append(rnd.choice([1, 3, 4, -1, -1, 2]) if rnd.random() > 0.03 else 0)
            else:
                sizes.append(rnd.choice([n, n, -1]) if rnd.random() > 0.1 else n + 1)
        lead = rnd.choice([0, 0, 1, 2])
        sizes = [
            rnd.choice([2, 1, 3]) if rnd.random() > 0.1 else rnd.choice([-1, 0])
            for _ in range(lead)
        ] + sizes
        if rnd.random() < 0.1 and sizes:
            sizes = sizes[1:]  # fewer sizes than dims
        if not sizes:
            sizes = [rnd.choice([2, -1, 1])]
        key = rnd.choice(["size", "sizes"])
        value = sizes[0] if len(sizes) == 1 and rnd.random() < 0.5 else sizes
        return {key: value}, [shape], lambda x: x.expand(*_listed(value))
    if op == "roll":
        n = rnd.randint(1, 3)
        shifts = [rnd.choice([0, 1, -1, 2, 7, -13, 10**12]) for _ in range(n)]
        r = rnd.random()
        if r < 0.3:
            dims = None
            if rnd.random() < 0.8:
                shifts = shifts[:1]
        else:
            dims = [_dim(rnd, rank) for _ in range(n if rnd.random() > 0.1 else n + 1)]
        args = {"shifts": shifts[0] if len(shifts) == 1 and rnd.random() < 0.5 else shifts}
        if dims is not None:
            args["dims"] = dims[0] if len(dims) == 1 and rnd.random() < 0.5 else dims

        def roll(x):
            if dims is None:
                return torch.roll(x, _tuple(args["shifts"]))
            return torch.roll(x, _tuple(args["shifts"]), _tuple(args["dims"]))

        return args, [shape], roll
    if op == "select":
        d = _dim(rnd, rank)
        size = shape[d % rank] if rank and -rank <= d < rank else 3
        args = {"dim": d, "index": rnd.randint(-size - 1, size)}
        return args, [shape], lambda x: torch.select(x, d, args["index"])
    if op == "slice":
        d = _dim(rnd, rank) if rnd.random() < 0.8 else None
        args = {} if d is None else {"dim": d}
        for key in ("start", "end"):
            if rnd.random() < 0.6:
                args[key] = rnd.randint(-7, 7)
        step = rnd.choice([1, 1, 1, 2, 3, 5]) if rnd.random() > 0.08 else rnd.choice([0, -1])
        if step != 1 or rnd.random() < 0.2:
            args["step"] = step

        def sliced(x):
            return torch.ops.aten.slice.Tensor(
                x, args.get("dim", 0), args.get("start"), args.get("end"), args.get("step", 1)
            )

        return args, [shape], sliced
    if op == "flip":
        dims = rnd.sample(range(max(rank, 1)), rnd.randint(1, max(rank, 1)))
        dims = [d - max(rank, 1) if rnd.random() < 0.4 else d for d in dims]
        if rnd.random() < 0.25:
            dims.append(_dim(rnd, rank))  # maybe repeated or out of range
        args = {"dims": dims[0] if len(dims) == 1 and rnd.random() < 0.5 else dims}
        return args, [shape], lambda x: torch.flip(x, _listed(args["dims"]))
    raise AssertionError(op)


def _listed(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _matmul_case(rnd):
    n, k, m = (rnd.randint(1, 4) for _ in range(3))
    batch = [rnd.choice([1, 2, 3]) for _ in range(rnd.randint(0, 3))]

    def batch_of(b):  # a suffix of the batch dims, some set to 1 (they broadcast)
        b = b[rnd.randint(0, len(b)) :] if b else []
        return [1 if rnd.random() < 0.3 else v for v in b]

    ra, rb = rnd.choice([1, 2, 2, 3]), rnd.choice([1, 2, 2, 3])
    a = [k] if ra == 1 else batch_of(batch) + [n, k]
    b = [k] if rb == 1 else batch_of(batch) + [k, m]
    r = rnd.random()
    if r < 0.1:
        b[-2 if rb > 1 else -1] = k + 1  # inner sizes differ
    elif r < 0.17 and len(a) > 2:
        a[0] = 5  # a batch dim that cannot broadcast (if b has that dim above 1)
    elif r < 0.2:
        a = []  # a 0-d operand
    return {}, [tuple(a), tuple(b)], torch.matmul


def _layercalc(op, args, shapes):
    """The layer under test (shapes: its input shapes, 0-d ones through a `sum`), or the
    diagnostic that refused it."""
    inputs, layers, refs = {}, [], []
    for name, shape in zip("ab", shapes):
        if shape == ():
            inputs[name] = [2]
            layers.append({"sum": {"name": f"{name}0", "from": name}})
            refs.append(f"{name}0")
        else:
            inputs[name] = list(shape)
            refs.append(name)
    layers.append({op: {**args, "from": refs if len(refs) > 1 else refs[0]}})
    text = f"input: {json.dumps(inputs)}\nlayers:\n" + "".join(
        f"  - {json.dumps(layer)}\n" for layer in layers
    )  # a layer per line
    r = analyse_bytes(text.encode(), "t.yaml")
    if not r.ok:
        (d,) = r.diagnostics
        assert d.line == len(layers) + 2, d  # at the layer under test, never before
        return None, d
    return r.net.layers[-1], None


def _torch(fn, arrays):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = fn(*[torch.from_numpy(x) for x in arrays])
    except (RuntimeError, IndexError, ValueError, TypeError):
        return None
    return y.contiguous().numpy()


def run_case(op, seed):
    """'accepted', 'refused' (both) or 'empty' (torch's empty result, refused here)."""
    args, shapes, fn = case(op, seed)
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(rng.standard_normal(s), dtype=np.float32) for s in shapes]
    expected = _torch(fn, arrays)
    layer, diag = _layercalc(op, args, shapes)
    where = (op, args, shapes)
    if expected is None:
        assert layer is None, f"torch refuses {where}, layercalc accepts"
        return "refused"
    if expected.size == 0:
        assert layer is None and diag.code == "output-too-small", where
        return "empty"
    assert layer is not None, f"torch accepts {where} -> {expected.shape}, layercalc says {diag}"
    assert tuple(layer.output) == expected.shape, where
    assert layer.tensors == [] and (layer.macs == 0) == (op != "matmul" or expected.size == 0)
    y = layer.type.forward(layer.args, arrays, {})
    assert isinstance(y, np.ndarray) and y.dtype == expected.dtype, where
    assert y.shape == expected.shape, where
    if op == "matmul":
        k = shapes[0][-1]
        assert layer.macs == expected.size * k, where  # ∏batch · n · k · m
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    else:
        assert np.array_equal(y, expected), where
    return "accepted"


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("op", OPS)
def test_against_torch(op, seed):
    run_case(op, seed)


@pytest.mark.parametrize("op", OPS)
def test_the_random_cases_reach_both_outcomes(op):
    """The generators are not so tame that nothing is refused, nor so wild that nothing
    gets through to the forward comparison."""
    outcomes = [run_case(op, seed) for seed in range(SEEDS)]
    assert outcomes.count("accepted") >= SEEDS // 3, outcomes
    assert outcomes.count("refused") + outcomes.count("empty") >= 2, outcomes


@pytest.mark.parametrize(
    "a, b",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((4,), (2, 4, 5)),
        ((5, 2, 3), (3,)),
        ((7, 1, 2, 3), (6, 3, 5)),
        ((2, 3), (5, 3, 4)),
        ((1, 1, 2, 3), (3, 1)),
    ],
)
def test_matmul_1d_operands_and_broadcast_batches(a, b):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(np.float32) for s in (a, b)]
    layer, diag = _layercalc("matmul", {}, [a, b])
    expected = torch.matmul(torch.from_numpy(xs[0]), torch.from_numpy(xs[1])).numpy()
    assert tuple(layer.output) == expected.shape
    np.testing.assert_allclose(
        layer.type.forward(layer.args, xs, {}), expected, rtol=1e-5, atol=1e-5
    )


def test_a_chain_saved_by_verify_reloads_into_torch(tmp_path):
    """verify --save's input and output agree with the same chain written in torch."""
    from layercalc.analyses import verify

    spec = {
        "input": [2, 3, 4, 5],
        "layers": [
            {"permute": {"dims": [0, 3, 1, 2]}},
            {"slice": {"dim": -1, "start": 1, "step": 2}},
            {"roll": {"shifts": [1, -2], "dims": [1, 2]}},
            {"flip": {"dims": [0, -1]}},
            {"unsqueeze": {"dim": 1}},
            {"expand": {"size": [-1, 3, -1, -1, -1]}},
            {"select": {"dim": 2, "index": -1}},
            {"transpose": {"name": "t", "dim0": -1, "dim1": -2}},
            {"matmul": {"from": [6, "t"]}},
            {"squeeze": {}},
        ],
    }
    r = analyse_bytes(json.dumps(spec).encode(), "t.yaml")
    assert r.ok, r.diagnostics
    res = verify.run(r.net, seed=4, save=True)
    assert res.ok
    x = torch.from_numpy(res.arrays["input"])
    y = x.permute(0, 3, 1, 2)[..., 1::2]
    y = torch.roll(y, (1, -2), (1, 2)).flip(0, -1).unsqueeze(1).expand(-1, 3, -1, -1, -1)
    y = y.select(2, -1)
    y = torch.matmul(y, y.transpose(-1, -2)).squeeze()
    np.testing.assert_allclose(res.arrays["output"], y.numpy(), rtol=1e-5, atol=1e-5)
