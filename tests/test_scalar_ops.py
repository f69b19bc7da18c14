"""Scalar operands, arithmetic and reductions (SPEC.md section 11, issue 13): add/mul with
several inputs or one input and `other`; sub/div; abs neg sqrt exp log pow; mean sum amax
amin with dim and keepdim. Through the CLI, with located refusals, and against torch."""

from __future__ import annotations

import json
import random
import textwrap

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.analyses.loading import analyse_bytes
from layercalc.arith import broadcast_shapes
from layercalc.cli import main
from layercalc.analyses.receptive import receptive_fields
from layercalc.layers import REGISTRY

NEW = ("sub", "div", "abs", "neg", "sqrt", "exp", "log", "pow", "mean", "sum", "amax", "amin")


def _spec(text: str) -> str:
    return textwrap.dedent(text)


def _cli(tmp_path, text, *args):
    path = tmp_path / "spec.yaml"
    path.write_text(_spec(text))
    return cli_runner().invoke(main, [*args, str(path)], catch_exceptions=False)


def _shape_json(tmp_path, text):
    result = _cli(tmp_path, text, "shape", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _net(text):
    res = analyse_bytes(_spec(text).encode(), "t.yaml")
    assert res.ok, [str(d) for d in res.diagnostics]
    return res.net


# -- what a user checks: shapes, params, MACs, verify -----------------------------------

SE_AND_NORMALISE = """\
    input: [8, 64, 56, 56]
    layers:
      - div: {other: 255}                              # images / 255
      - sub: {other: 0.5}
      - mean: {name: squeeze, dim: [2, 3], keepdim: true}   # SE: x.mean((2, 3), True)
      - mul: {name: scaled, from: [1, squeeze]}          # broadcast [8,64,56,56] * [8,64,1,1]
      - add: {other: 1.0}
      - pow: {exponent: 2}
      - sqrt
      - amax: {dim: 1}                                   # channel max: [8, 56, 56]
      - amin: {dim: [-1, -2], keepdim: true}             # [8, 1, 1]
      - neg
      - abs
      - exp
      - log
      - sum                                              # every dim: a 0-d tensor
    """


def test_one_network_through_shape_params_cost_and_verify(tmp_path):
    data = _shape_json(tmp_path, SE_AND_NORMALISE)
    shapes = {layer["name"]: layer["output"] for layer in data["layers"]}
    assert shapes["0"] == shapes["1"] == [8, 64, 56, 56]
    assert shapes["squeeze"] == [8, 64, 1, 1]
    assert shapes["scaled"] == [8, 64, 56, 56]
    assert shapes["7"] == [8, 56, 56]
    assert shapes["8"] == [8, 1, 1]
    assert shapes["13"] == [] and data["output"] == []
    assert data["totals"]["params"] == 0 and data["totals"]["macs"] == 0
    assert [layer["args"] for layer in data["layers"]][:4] == [
        "other=255",
        "other=0.5",
        "dim=[2, 3] keepdim",
        "",
    ]
    for command in ("params", "cost", "rf", "explain"):
        result = _cli(tmp_path, SE_AND_NORMALISE, command)
        assert result.exit_code == 0, (command, result.output)
    result = _cli(tmp_path, SE_AND_NORMALISE, "verify")
    assert result.exit_code == 0, result.output
    assert "all 14 layers agree" in result.stdout


@pytest.mark.parametrize(
    "entry, shape, out",
    [
        ("add: {other: 1}", [2, 3], [2, 3]),
        ("mul: {other: 0.5}", [1, 3, 4, 4], [1, 3, 4, 4]),
        ("sub: {from: [input, input]}", [2, 5], [2, 5]),
        ("div: {other: 0}", [2, 5], [2, 5]),  # inf, as torch: not a refusal
        ("pow: {exponent: -1.5}", [7], [7]),
        ("mean: {dim: 1}", [2, 3, 4], [2, 4]),
        ("mean: {dim: 1, keepdim: true}", [2, 3, 4], [2, 1, 4]),
        ("mean: {dim: -1}", [2, 3, 4], [2, 3]),
        ("sum: {dim: [0, 2]}", [2, 3, 4], [3]),
        ("amax: {dim: [2, 0], keepdim: true}", [2, 3, 4], [1, 3, 1]),
        ("amin: {keepdim: true}", [2, 3, 4], [1, 1, 1]),
        ("amin", [2, 3, 4], []),
        ("mean: {dim: 0}", [5], []),
        ("Mean: {dim: 0}", [5, 2], [2]),
        ("negative", [3], [3]),
        ("absolute", [3], [3]),
        ("subtract: {other: 2}", [3], [3]),
        ("divide: {other: 2}", [3], [3]),
        ("add: {other: 2, alpha: -1}", [3], [3]),
        ("sub: {from: [input, input], alpha: 0.5}", [3], [3]),
        ("div: {other: 2, rounding_mode: floor}", [3], [3]),
        ("multiply: {other: 2}", [3], [3]),
    ],
)
def test_shapes(tmp_path, entry, shape, out):
    data = _shape_json(tmp_path, f"input: {shape}\nlayers:\n  - {entry}\n")
    assert data["output"] == out
    assert data["totals"]["params"] == 0 and data["totals"]["macs"] == 0


def test_a_0d_output_feeds_later_layers_and_verifies(tmp_path):
    spec = """\
        input: [2, 3]
        layers:
          - mean: {name: m}
          - add: {other: 1}
          - relu
          - mul: {from: [2, input]}    # a 0-d tensor broadcasts against any shape
        """
    data = _shape_json(tmp_path, spec)
    assert [layer["output"] for layer in data["layers"]] == [[], [], [], [2, 3]]
    result = _cli(tmp_path, spec, "verify")
    assert result.exit_code == 0, result.output


def test_several_inputs_keep_their_meaning(tmp_path):
    spec = """\
        input: [1, 4, 8, 8]
        layers:
          - conv2d: {name: a, out_channels: 4, kernel_size: 1}
          - add: {name: s, from: [a, input, a]}
          - mul: {from: [s, input]}
        """
    data = _shape_json(tmp_path, spec)
    assert data["output"] == [1, 4, 8, 8] and data["layers"][1]["args"] == ""
    assert _cli(tmp_path, spec, "verify").exit_code == 0


# -- refusals, located -----------------------------------------------------------------

REFUSED = {
    "add-one-input-no-other": ("input: [2, 3]\nlayers:\n  - add\n", "bad-merge", 3, 5),
    "add-from-one-no-other": (
        "input: [2, 3]\nlayers:\n  - add: {from: input}\n",
        "bad-merge",
        3,
        17,
    ),
    "mul-other-and-two-inputs": (
        "input: [2, 3]\nlayers:\n  - mul: {from: [input, input], other: 2}\n",
        "bad-merge",
        3,
        40,
    ),
    "sub-three-inputs": (
        "input: [2, 3]\nlayers:\n  - sub: {from: [input, input, input]}\n",
        "bad-merge",
        3,
        17,
    ),
    "div-no-broadcast": (
        "input: [2, 3]\nlayers:\n  - linear: {name: f, out_features: 4}\n"
        "  - div: {from: [input, f]}\n",
        "shape-mismatch",
        4,
        17,
    ),
    "sub-one-input": ("input: [2, 3]\nlayers:\n  - sub\n", "bad-merge", 3, 5),
    "other-a-word": ("input: [2, 3]\nlayers:\n  - add: {other: same}\n", "bad-value", 3, 18),
    "other-a-list": ("input: [2, 3]\nlayers:\n  - add: {other: [1, 2]}\n", "bad-value", 3, 18),
    "pow-needs-exponent": ("input: [2, 3]\nlayers:\n  - pow\n", "missing-argument", 3, 5),
    "pow-exponent-a-word": (
        "input: [2, 3]\nlayers:\n  - pow: {exponent: two}\n",
        "unknown-name",
        3,
        21,
    ),
    "mean-two-inputs": (
        "input: [2, 3]\nlayers:\n  - mean: {from: [input, input]}\n",
        "bad-from",
        3,
        18,
    ),
    "exp-two-inputs": (
        "input: [2, 3]\nlayers:\n  - exp: {from: [input, input]}\n",
        "bad-from",
        3,
        17,
    ),
    "dim-out-of-range": ("input: [2, 3]\nlayers:\n  - mean: {dim: 2}\n", "invalid-layer", 3, 17),
    "dim-out-of-range-negative": (
        "input: [2, 3]\nlayers:\n  - sum: {dim: [0, -3]}\n",
        "invalid-layer",
        3,
        16,
    ),
    "dim-twice": ("input: [2, 3, 4]\nlayers:\n  - amax: {dim: [1, -2]}\n", "invalid-layer", 3, 17),
    "dim-empty-list": ("input: [2, 3]\nlayers:\n  - amin: {dim: []}\n", "bad-value", 3, 17),
    "keepdim-not-bool": ("input: [2, 3]\nlayers:\n  - mean: {keepdim: 2}\n", "bad-value", 3, 21),
    "unknown-argument": (
        "input: [2, 3]\nlayers:\n  - mean: {dims: 1}\n",
        "unknown-argument",
        3,
        12,
    ),
    "alpha-three-inputs": (
        "input: [2, 3]\nlayers:\n  - add: {from: [input, input, input], alpha: 2}\n",
        "bad-merge",
        3,
        47,
    ),
    "rounding-mode-word": (
        "input: [2, 3]\nlayers:\n  - div: {other: 2, rounding_mode: round}\n",
        "bad-value",
        3,
        36,
    ),
    "0d-dim-1": ("input: [2, 3]\nlayers:\n  - sum\n  - sum: {dim: 1}\n", "invalid-layer", 4, 16),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals_are_located(name):
    text, code, line, col = REFUSED[name]
    res = analyse_bytes(text.encode(), "t.yaml")
    assert not res.ok
    (d,) = res.diagnostics
    assert (d.code, d.line, d.column) == (code, line, col), d


def test_refusal_messages_say_the_numbers():
    def message(text):
        (d,) = analyse_bytes(text.encode(), "t.yaml").diagnostics
        return d.message

    assert "dim 1 appears multiple times" in message(REFUSED["dim-twice"][0])
    assert "[-2, 1]" in message(REFUSED["dim-out-of-range"][0])
    assert "other: NUMBER" in message(REFUSED["add-one-input-no-other"][0])
    assert "names 3" in message(REFUSED["sub-three-inputs"][0])
    assert "[2, 3] and [2, 4]" in message(REFUSED["div-no-broadcast"][0])


# -- the catalogue, windows, workspaces --------------------------------------------------


def test_catalogue_lists_them_with_their_arguments():
    result = cli_runner().invoke(main, ["layers", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    entries = {e["type"]: e for e in json.loads(result.stdout)}
    args = {
        name: [(a["name"], a["default"]) for a in entries[name]["args"]]
        for name in ("add", "mul", *NEW)
    }
    assert args["add"] == args["sub"] == [("other", "none"), ("alpha", "1")]
    assert args["mul"] == [("other", "none")]
    assert args["div"] == [("other", "none"), ("rounding_mode", "none")]
    assert args["pow"] == [("exponent", "required")]
    assert args["sqrt"] == []
    for name in ("mean", "sum", "amax", "amin"):
        assert args[name] == [("dim", "none"), ("keepdim", "false")]
        assert entries[name]["pytorch"] == f"torch.{name}"


def test_receptive_fields():
    net = _net("""\
        input: [1, 3, 32, 32]
        layers:
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
          - mul: {other: 2}
          - sqrt
          - mean: {dim: 1, keepdim: true}     # channels only: positions kept
          - mean: {dim: [2, 3], keepdim: true}  # as adaptive_avg_pool2d(1)
          - adaptive_avg_pool2d: {output_size: 1, from: 3}
          - amax: {dim: 1, from: 3}             # rank changes: undefined
        """)
    rf = receptive_fields(net)
    sizes = [None if f.fields is None else tuple(x.size for x in f.fields) for f in rf]
    assert sizes[:4] == [(3, 3)] * 4
    assert sizes[4] == sizes[5] == (34, 34)
    assert sizes[6] is None


def test_every_new_type_is_registered():
    for name in NEW:
        lt = REGISTRY.get(name)
        assert lt is not None and lt.name == name


# -- against torch -------------------------------------------------------------------------


def _layer(entry: dict, shape):
    text = json.dumps({"input": list(shape), "layers": [entry]})
    r = analyse_bytes(text.encode(), "t.yaml")
    return r.net.layers[0] if r.ok else None


def _compare(y, expected):
    expected = expected.detach().numpy()
    y = np.asarray(y)
    assert y.shape == expected.shape
    assert y.dtype == expected.dtype
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max()) if finite.any() else 1.0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6 * scale, equal_nan=True)


UNARY = {"abs": "abs", "neg": "neg", "sqrt": "sqrt", "exp": "exp", "log": "log"}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("name", ["abs", "neg", "sqrt", "exp", "log", "pow"])
def test_unary_against_torch(name, seed):
    torch = pytest.importorskip("torch")
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    shape = [rnd.randint(1, 4) for _ in range(rnd.randint(1, 4))]
    x = rng.standard_normal(shape).astype(np.float32) * 3
    x.flat[0] = 0.0  # log(0) = -inf, sqrt of negatives NaN: as torch
    entry = {"type": name}
    if name == "pow":
        entry["exponent"] = rnd.choice([2, 3, 0.5, -1, -2.5, 0, 1.5, 10])
    layer = _layer(entry, shape)
    assert tuple(layer.output) == tuple(shape)
    y = layer.type.forward(layer.args, [x], {})
    tx = torch.from_numpy(x)
    expected = (
        torch.pow(tx, entry["exponent"]) if name == "pow" else getattr(torch, UNARY[name])(tx)
    )
    _compare(y, expected)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_against_torch(name, seed):
    torch = pytest.importorskip("torch")
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    rank = rnd.randint(1, 4)
    shape = [rnd.randint(1, 5) for _ in range(rank)]
    x = rng.standard_normal(shape).astype(np.float32)
    kw = {}
    if name in ("add", "sub") and rnd.random() < 0.5:
        kw["alpha"] = rnd.choice([2, -1, 0.5, 0])
    if name == "div" and rnd.random() < 0.6:
        kw["rounding_mode"] = rnd.choice(["trunc", "floor"])
        x *= 10  # quotients away from 0 and 1
    op = getattr(torch, name)
    if seed % 2:  # one input and a number
        other = rnd.choice([2, -3, 0.5, 1e-3, 0, 255, 1.7])
        layer = _layer({"type": name, "other": other, **kw}, shape)
        assert tuple(layer.output) == tuple(shape)
        _compare(layer.type.forward(layer.args, [x], {}), op(torch.from_numpy(x), other, **kw))
        return
    # two inputs, the second broadcast: some dims 1, fewer dims, or not broadcastable
    shape2 = [rnd.choice([n, 1, n, n + 1]) for n in shape][rnd.randint(0, rank - 1) :]
    x2 = rng.standard_normal(shape2).astype(np.float32)
    try:
        expected = op(torch.from_numpy(x), torch.from_numpy(x2), **kw)
    except RuntimeError:
        expected = None
    out = broadcast_shapes(tuple(shape), tuple(shape2))  # the shape rule infer() uses
    assert (out is None) == (expected is None)
    if out is None:
        return
    lt = REGISTRY.get(name)
    a = {**lt.defaults, **kw}
    assert lt.infer(a, [tuple(shape), tuple(shape2)]) == tuple(expected.shape)
    _compare(lt.forward(a, [x, x2], {}), expected)


def test_three_inputs_into_add_and_mul_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(s).astype(np.float32) for s in ([2, 3, 4], [3, 1], [4])]
    for name in ("add", "mul"):
        lt = REGISTRY.get(name)
        a = {**lt.defaults}
        assert lt.infer(a, [x.shape for x in xs]) == (2, 3, 4)
        t = [torch.from_numpy(x) for x in xs]
        op = getattr(torch, name)
        _compare(lt.forward(a, xs, {}), op(op(t[0], t[1]), t[2]))


def _dims(rnd, rank):
    r = rnd.random()
    if r < 0.2:
        return None
    span = max(rank, 1)
    if r < 0.5:
        return rnd.randint(-span - 1, span)  # sometimes out of range
    return [rnd.randint(-span, span - 1) for _ in range(rnd.randint(1, 3))]  # maybe twice


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("name", ["mean", "sum", "amax", "amin"])
def test_reductions_against_torch(name, seed):
    """Shapes, values and refusals: layercalc refuses exactly what torch refuses."""
    torch = pytest.importorskip("torch")
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    shape = [rnd.randint(1, 5) for _ in range(rnd.randint(1, 4))]
    dim, keepdim = _dims(rnd, len(shape)), rnd.random() < 0.5
    x = rng.standard_normal(shape).astype(np.float32)
    entry = {"type": name, "keepdim": keepdim}
    if dim is not None:
        entry["dim"] = dim
    layer = _layer(entry, shape)
    op = getattr(torch, name)
    every = tuple(range(len(shape)))  # dim omitted: torch reduces every dim
    try:
        expected = op(torch.from_numpy(x), dim=every if dim is None else dim, keepdim=keepdim)
    except (RuntimeError, IndexError):
        expected = None
    assert (layer is None) == (expected is None), (entry, shape)
    if layer is None:
        return
    assert tuple(layer.output) == tuple(expected.shape)
    _compare(layer.type.forward(layer.args, [x], {}), expected)


@pytest.mark.parametrize(
    "entry", ["mean: {dim: [1, null]}", "sum: {dim: [null]}", "permute: {dims: [0, null, 1]}"]
)
def test_a_null_in_a_list_of_dims_is_refused_at_the_entry(entry):
    from layercalc.analyses.loading import analyse_bytes

    text = f"input: [1, 4, 4]\nlayers:\n  - {entry}\n"
    r = analyse_bytes(text.encode(), "t.yaml")
    (d,) = r.diagnostics
    assert (d.code, d.line, d.column) == ("bad-value", 3, text.splitlines()[2].index("null") + 1)
