"""rnn, lstm, gru and their cells (SPEC.md section 12), without torch: every output's
shape over the constructor options, state_dict keys and shapes, parameters, MACs by the
formula, located refusals in PyTorch's words, addressing lstm.h_n / lstm.c_n, the
dropout-single-layer lint, explain's parameter arithmetic and verify through the CLI."""

import itertools
import json

import pytest
from conftest import assert_located, cli_runner, net_of

from layercalc.cli import main
from layercalc.analyses.explain import explain
from layercalc.layers import REGISTRY
from layercalc.analyses.lint import RULES, lint

G = {"rnn": 1, "lstm": 4, "gru": 3}


def expected(mode, shape, H, L=1, bidir=False, bf=False, proj=0, bias=True):
    """PyTorch's shapes and tensors, written from torch/nn/modules/rnn.py independently:
    (outputs by name, [(state_dict key, shape)], MACs)."""
    D = 2 if bidir else 1
    h_out = proj or H
    batched = len(shape) == 3
    T = shape[1] if (bf and batched) else shape[0]
    N = (shape[0] if bf else shape[1]) if batched else None
    lead = (N,) if batched else ()
    outs = {"output": tuple(shape[:-1]) + (D * h_out,), "h_n": (D * L,) + lead + (h_out,)}
    if mode == "lstm":
        outs["c_n"] = (D * L,) + lead + (H,)
    keys, macs = [], 0
    g = G[mode]
    for k in range(L):
        i_k = shape[-1] if k == 0 else D * h_out
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            keys += [("weight_ih" + sfx, (g * H, i_k)), ("weight_hh" + sfx, (g * H, h_out))]
            if bias:
                keys += [("bias_ih" + sfx, (g * H,)), ("bias_hh" + sfx, (g * H,))]
            if proj:
                keys.append(("weight_hr" + sfx, (proj, H)))
            macs += T * (N or 1) * (g * H * i_k + g * H * h_out + proj * H)
    return outs, keys, macs


def _entry(mode, H, L, bidir, bf, proj, bias, extra=""):
    args = [
        f"hidden_size: {H}",
        f"num_layers: {L}",
        f"bidirectional: {str(bidir).lower()}",
        f"batch_first: {str(bf).lower()}",
        f"bias: {str(bias).lower()}",
    ]
    if proj:
        args.append(f"proj_size: {proj}")
    return f"{mode}: {{name: m, {', '.join(args)}{extra}}}"


CONFIGS = [
    (mode, shape, L, bidir, bf, proj, bias)
    for mode, shape, L, bidir, bf, proj, bias in itertools.product(
        ("rnn", "lstm", "gru"),
        ([5, 3, 7], [5, 7], [1, 2, 3]),
        (1, 3),
        (False, True),
        (False, True),
        (0, 4),
        (True, False),
    )
    if not (proj and mode != "lstm")
]


@pytest.mark.parametrize("mode,shape,L,bidir,bf,proj,bias", CONFIGS)
def test_outputs_tensors_params_and_macs(mode, shape, L, bidir, bf, proj, bias):
    H = 6
    net = net_of(f"input: {shape}\nlayers:\n  - {_entry(mode, H, L, bidir, bf, proj, bias)}\n")
    (layer,) = net.layers
    outs, keys, macs = expected(mode, shape, H, L, bidir, bf, proj, bias)
    assert dict(layer.named_outputs) == outs
    assert [n for n, _ in layer.named_outputs] == list(outs)  # output first, torch's order
    assert layer.output == outs["output"]
    assert [(t.key, tuple(t.shape)) for t in layer.tensors] == keys
    assert layer.params == sum(_numel(s) for _, s in keys)
    assert layer.macs == macs
    assert layer.buffers == 0


def _numel(shape):
    n = 1
    for v in shape:
        n *= v
    return n


@pytest.mark.parametrize(
    "text,params",
    [
        (
            "input: [5, 3, 10]\nlayers:\n  - lstm: {hidden_size: 20, num_layers: 2, bidirectional: "
            "true, proj_size: 5}\n",
            5_840,
        ),  # FORMULAS.md
        ("input: [5, 3, 10]\nlayers:\n  - gru: {hidden_size: 20}\n", 1_920),
        ("input: [5, 3, 10]\nlayers:\n  - rnn: {hidden_size: 20}\n", 10 * 20 + 20 * 20 + 40),
        ("input: [3, 10]\nlayers:\n  - lstm_cell: {hidden_size: 20}\n", 4 * (200 + 400 + 40)),
    ],
)
def test_known_parameter_counts(text, params):
    (layer,) = net_of(text).layers
    assert layer.params == params


@pytest.mark.parametrize("mode,gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("shape,bias", [([4, 7], True), ([7], False), ([1, 7], True)])
def test_cells(mode, gates, shape, bias):
    net = net_of(
        f"input: {shape}\nlayers:\n  - {mode}_cell: {{name: c, hidden_size: 5, "
        f"bias: {str(bias).lower()}}}\n"
    )
    (layer,) = net.layers
    out = tuple(shape[:-1]) + (5,)
    assert layer.output == out
    if mode == "lstm":
        assert layer.named_outputs == (("h", out), ("c", out))
    else:
        assert layer.named_outputs is None
    keys = [("weight_ih", (gates * 5, 7)), ("weight_hh", (gates * 5, 5))]
    if bias:
        keys += [("bias_ih", (gates * 5,)), ("bias_hh", (gates * 5,))]
    assert [(t.key, tuple(t.shape)) for t in layer.tensors] == keys
    n = shape[0] if len(shape) == 2 else 1
    assert layer.macs == n * (gates * 5 * 7 + gates * 5 * 5)


def test_registered_by_torch_names():
    for name, canon in (
        ("LSTM", "lstm"),
        ("GRU", "gru"),
        ("RNN", "rnn"),
        ("LSTMCell", "lstm_cell"),
        ("GRUCell", "gru_cell"),
        ("RNNCell", "rnn_cell"),
        ("lstm_cell", "lstm_cell"),
    ):
        assert REGISTRY.get(name).name == canon
    assert "proj_size" in REGISTRY.get("lstm").arg_map
    assert "proj_size" not in REGISTRY.get("gru").arg_map  # LSTM only, as in PyTorch
    assert "nonlinearity" in REGISTRY.get("rnn").arg_map
    assert "nonlinearity" not in REGISTRY.get("lstm").arg_map


def test_states_are_addressed_from_later_entries_and_as_outputs():
    net = net_of("""\
input: [6, 2, 8]
layers:
  - lstm: {name: lstm, hidden_size: 10, num_layers: 2, proj_size: 3}
  - flatten: {name: f, from: lstm.c_n, start_dim: 0}
  - add: {from: [lstm.h_n, lstm.h_n]}
  - gru: {hidden_size: 4, from: lstm}
  - relu: {from: 3.h_n}
outputs: [lstm, lstm.h_n, lstm.c_n, 4]
""")
    lstm, f, add, gru, relu = net.layers
    assert f.inputs == ["lstm.c_n"] and f.input_shapes == [(2, 2, 10)]
    assert add.input_shapes == [(2, 2, 3), (2, 2, 3)]
    assert gru.input_shapes == [(6, 2, 3)]
    assert relu.inputs == ["3.h_n"] and relu.output == (1, 2, 4)
    assert net.outputs == {
        "lstm": (6, 2, 3),
        "lstm.h_n": (2, 2, 3),
        "lstm.c_n": (2, 2, 10),
        "4": (1, 2, 4),
    }


def test_initial_states_as_further_inputs():
    net = net_of("""\
input: {x: [6, 2, 8], h: [2, 2, 3], c: [2, 2, 10]}
layers:
  - lstm: {name: a, hidden_size: 10, bidirectional: true, proj_size: 3, from: [x, h, c]}
  - gru: {name: b, hidden_size: 3, bidirectional: true, from: [x, h]}
  - rnn: {name: r, hidden_size: 3, num_layers: 2, from: [x, h]}
""")
    a, b, r = net.layers
    assert a.input_shapes == [(6, 2, 8), (2, 2, 3), (2, 2, 10)]
    assert dict(b.named_outputs)["h_n"] == (2, 2, 3)
    assert r.params == 3 * 8 + 3 * 3 + 6 + 3 * 3 + 3 * 3 + 6


FROM2 = "input: {x: [6, 2, 8], h: [1, 2, 4], c: [1, 2, 4], u: [2, 4]}\nlayers:\n"
H5 = "input: [5, 3, 10]\nlayers:\n"
REFUSED = [
    # (spec, code, line, marker, words of PyTorch's message)
    (
        H5 + "  - lstm: {hidden_size: 0}\n",
        "invalid-layer",
        3,
        "0}",
        "hidden_size must be greater than zero",
    ),
    (
        H5 + "  - gru: {hidden_size: 4, num_layers: 0}\n",
        "invalid-layer",
        3,
        "0}",
        "num_layers must be greater than zero",
    ),
    (
        H5 + "  - gru: {hidden_size: 4, num_layers: 2 ** 62}\n",
        "too-large",
        3,
        "2 **",
        "beyond layercalc's bound",
    ),
    (
        H5 + "  - lstm: {hidden_size: 4, proj_size: -1}\n",
        "invalid-layer",
        3,
        "-1",
        "proj_size should be a positive integer or zero to disable projections",
    ),
    (
        H5 + "  - lstm: {hidden_size: 4, proj_size: 4}\n",
        "invalid-layer",
        3,
        "4}",
        "proj_size has to be smaller than hidden_size",
    ),
    (
        H5 + "  - rnn: {hidden_size: 4, dropout: 1.5}\n",
        "invalid-layer",
        3,
        "1.5",
        "dropout should be a number in range [0, 1] representing the probability of an "
        "element being zeroed",
    ),
    (
        H5 + "  - rnn: {hidden_size: 4, dropout: -0.1}\n",
        "invalid-layer",
        3,
        "-0.1",
        "dropout should be a number in range [0, 1]",
    ),
    (
        H5 + "  - rnn: {hidden_size: 4, nonlinearity: sigmoid}\n",
        "bad-value",
        3,
        "sigmoid",
        "Select from 'tanh' or 'relu'",
    ),
    (
        H5 + "  - rnn_cell: {hidden_size: 4, nonlinearity: gelu}\n",
        "bad-value",
        3,
        "gelu",
        "Unknown nonlinearity",
    ),
    (
        H5 + "  - gru: {hidden_size: 4, input_size: 9}\n",
        "shape-mismatch",
        3,
        "9}",
        "input.size(-1) must be equal to input_size. Expected 9, got 10",
    ),
    (
        H5 + "  - lstm: {hidden_size: 4, input_size: 0}\n",
        "invalid-layer",
        3,
        "0}",
        "input_size must be greater than zero",
    ),
    (
        H5 + "  - gru: {hidden_size: 4, proj_size: 2}\n",
        "unknown-argument",
        3,
        "proj_size",
        "no argument",
    ),
    (
        "input: [5, 3, 2, 10]\nlayers:\n  - lstm: {hidden_size: 4}\n",
        "bad-rank",
        3,
        "lstm",
        "LSTM: Expected input to be 2D or 3D, got 4D instead",
    ),
    (
        "input: [10]\nlayers:\n  - rnn: {hidden_size: 4}\n",
        "bad-rank",
        3,
        "rnn",
        "RNN: Expected input to be 2D or 3D, got 1D tensor instead",
    ),
    (
        "input: [3, 10]\nlayers:\n  - rnn_cell: {hidden_size: -2}\n",
        "invalid-layer",
        3,
        "-2",
        "Trying to create tensor with negative dimension -2: [-2, 10]",
    ),
    (
        "input: [3, 10]\nlayers:\n  - gru_cell: {hidden_size: 0}\n",
        "output-too-small",
        3,
        "0}",
        "no empty tensors",
    ),
    (
        "input: [2, 3, 4]\nlayers:\n  - lstm_cell: {hidden_size: 4}\n",
        "bad-rank",
        3,
        "lstm_cell",
        "LSTMCell: Expected input to be 1D or 2D, got 3D instead",
    ),
    (
        "input: [2, 3]\nlayers:\n  - gru_cell: {hidden_size: 4, input_size: 5}\n",
        "shape-mismatch",
        3,
        "5}",
        "input has inconsistent input_size: got 3 expected 5",
    ),
    # initial states
    (
        FROM2 + "  - lstm: {hidden_size: 4, from: [x, h]}\n",
        "bad-from",
        3,
        "[x",
        "from: [input, h_0, c_0]",
    ),
    (
        FROM2 + "  - gru: {hidden_size: 4, from: [x, h, c]}\n",
        "bad-from",
        3,
        "[x",
        "from: [input, h_0]",
    ),
    (
        FROM2 + "  - gru: {hidden_size: 4, from: [x, u]}\n",
        "bad-rank",
        3,
        "[x",
        "For batched 3-D input, hx should also be 3-D but got 2-D tensor",
    ),
    (
        FROM2 + "  - lstm: {hidden_size: 4, from: [x, h, u]}\n",
        "bad-rank",
        3,
        "[x",
        "For batched 3-D input, hx and cx should also be 3-D but got (3-D, 2-D) tensors",
    ),
    (
        FROM2 + "  - gru: {hidden_size: 5, from: [x, h]}\n",
        "shape-mismatch",
        3,
        "[x",
        "Expected hidden size (1, 2, 5), got [1, 2, 4]",
    ),
    (
        FROM2 + "  - gru: {hidden_size: 4, bidirectional: true, from: [x, h]}\n",
        "shape-mismatch",
        3,
        "[x",
        "Expected hidden size (2, 2, 4), got [1, 2, 4]",
    ),
    (
        FROM2 + "  - lstm: {hidden_size: 5, proj_size: 4, from: [x, h, c]}\n",
        "shape-mismatch",
        3,
        "[x",
        "Expected hidden[1] size (1, 2, 5), got [1, 2, 4]",
    ),
    (
        FROM2 + "  - lstm: {hidden_size: 4, from: [x, c, h]}\n  - lstm: {hidden_size: 5, "
        "from: [x, h, c]}\n",
        "shape-mismatch",
        4,
        "[x",
        "Expected hidden[0] size (1, 2, 5), got [1, 2, 4]",
    ),
    (
        FROM2 + "  - rnn_cell: {hidden_size: 4, from: [u, h]}\n",
        "bad-rank",
        3,
        "[u",
        "RNNCell: Expected hidden to be 1D or 2D, got 3D instead",
    ),
    (
        "input: {x: [3, 5], h: [2, 4]}\nlayers:\n  - rnn_cell: {hidden_size: 4, from: [x, h]}\n",
        "shape-mismatch",
        3,
        "[x",
        "Input batch size 3 doesn't match hidden0 batch size 2",
    ),
    (
        "input: {x: [3, 5], h: [3, 6]}\nlayers:\n  - gru_cell: {hidden_size: 4, from: [x, h]}\n",
        "shape-mismatch",
        3,
        "[x",
        "hidden0 has inconsistent hidden_size: got 6, expected 4",
    ),
    (
        "input: {x: [3, 5], h: [3, 4]}\nlayers:\n  - lstm_cell: {hidden_size: 4, from: [x, h]}\n",
        "bad-from",
        3,
        "[x",
        "from: [input, h_0, c_0]",
    ),
    (
        "input: {x: [6, 2, 8]}\nlayers:\n  - lstm: {name: l, hidden_size: 4}\n"
        "  - relu: {from: l.x_n}\n",
        "unknown-name",
        4,
        "l.x_n",
        "output, h_n, c_n",
    ),
]


@pytest.mark.parametrize(
    "text,code,line,marker,words", REFUSED, ids=[f"{i}-{r[1]}" for i, r in enumerate(REFUSED)]
)
def test_refusals_are_located_in_pytorchs_words(text, code, line, marker, words):
    d = assert_located(text, code, line, marker)
    assert words in d.message, d.message


def test_unbatched_states_drop_the_batch_dim_and_are_checked_so():
    net = net_of(
        "input: {x: [6, 8], h: [2, 3], c: [2, 10]}\nlayers:\n"
        "  - lstm: {name: l, hidden_size: 10, proj_size: 3, num_layers: 2, "
        "from: [x, h, c]}\n"
    )
    assert dict(net.layers[0].named_outputs) == {"output": (6, 3), "h_n": (2, 3), "c_n": (2, 10)}
    d = assert_located(
        "input: {x: [6, 8], h: [2, 4]}\nlayers:\n  - gru: {hidden_size: 3, "
        "num_layers: 2, from: [x, h]}\n",
        "shape-mismatch",
        3,
        "[x",
    )
    assert "h_0 is [2, 4], but this gru needs [2, 3]" in d.message
    assert "Expected hidden size (2, 1, 3), got [2, 1, 4]" in d.message  # PyTorch's view
    d = assert_located(
        "input: {x: [6, 8], h: [1, 2, 3]}\nlayers:\n  - gru: {hidden_size: 3, from: [x, h]}\n",
        "bad-rank",
        3,
        "[x",
    )
    assert "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor" in d.message


def test_dropout_single_layer_lint():
    text = "input: [4, 2, 3]\nlayers:\n  - gru: {hidden_size: 4, dropout: 0.2}\n"
    (d,) = lint(net_of(text))
    col = text.splitlines()[2].index("0.2") + 1  # at the value of dropout
    assert (d.code, d.severity, d.line, d.column) == ("dropout-single-layer", "warning", 3, col)
    assert "dropout=0.2 and num_layers=1" in d.message  # PyTorch's warning, quoted
    for quiet in ("num_layers: 2, dropout: 0.2", "dropout: 0", "hidden_size: 4"):
        text = f"input: [4, 2, 3]\nlayers:\n  - lstm: {{hidden_size: 4, {quiet}}}\n"
        text = text.replace("hidden_size: 4, hidden_size: 4", "hidden_size: 4")
        assert lint(net_of(text)) == []
    assert "dropout-single-layer" in RULES


def test_explain_gives_the_parameter_arithmetic_and_the_dense_comparison():
    net = net_of(
        "input: [5, 3, 10]\nlayers:\n  - lstm: {name: l, hidden_size: 20, "
        "num_layers: 2, bidirectional: true, proj_size: 5}\n"
    )
    (e,) = explain(net, "l")
    text = "\n".join(e.params)
    assert "4·(H·I + P·H + 2H) + P·H" in text
    assert "layer 0: 4·(20·10 + 20·5 + 2·20) + 5·20 = 1,460 × 2 directions = 2,920" in text
    assert "layer 1: 4·(20·10 + 20·5 + 2·20) + 5·20 = 1,460" in text
    assert "total 5,840" in text
    # layers past the first read the same D·H_out: one line for them all (a user's
    # num_layers: 99,999 printed 100,000 lines)
    for layers, lines in ((3, 5), (99_999, 5)):
        deep = net_of(
            f"input: [5, 3, 10]\nlayers:\n  - gru: {{name: g, hidden_size: 4, "
            f"num_layers: {layers}}}\n"
        )
        (d,) = explain(deep, "g")
        assert len(d.params) == lines, d.params
        assert f"layers 1-{layers - 1}, each: 3·(4·4 + 4·4 + 2·4) = 120 (I = D·H_out = 4)" in (
            d.params
        )
        assert f"total {3 * (4 * 10 + 16 + 8) + 120 * (layers - 1):,}" in d.params
        assert deep.layers[0].params == 3 * (4 * 10 + 16 + 8) + 120 * (layers - 1)
    assert "10 inputs and 10 outputs per step would hold 10·10 + 10 = 110 parameters" in text
    assert e.shape[-1] == "c_n: (D·num_layers, N, H) = (4, 3, 20)"
    net = net_of("input: [3, 10]\nlayers:\n  - gru_cell: {name: c, hidden_size: 20, bias: false}\n")
    (e,) = explain(net, "c")
    assert e.params[0] == "G = 3 gates (r, z, n): 3·(H·I + H·H) = 3·(20·10 + 20·20) = 1,800"


def test_explain_params_hook_defaults_to_the_generic_sum():
    from layercalc.layers.base import LayerType

    assert LayerType().explain_params({}, [], ()) is None
    net = net_of("input: [2, 10]\nlayers:\n  - linear: {name: f, out_features: 3}\n")
    (e,) = explain(net, "f")
    assert e.params == ["weight 10·3 = 30 + bias 3; total 33"]


SPEC = """\
input: [7, 3, 6]
layers:
  - lstm: {name: lstm, hidden_size: 8, num_layers: 2, bidirectional: true, proj_size: 3}
  - gru: {name: gru, hidden_size: 5, batch_first: true, from: lstm}
  - rnn: {name: rnn, hidden_size: 4, nonlinearity: relu, from: input}
  - select: {name: last, dim: 0, index: -1, from: lstm}
  - lstm_cell: {name: cell, hidden_size: 6}
  - gru_cell: {name: gcell, hidden_size: 6, from: [last, cell.c]}
outputs: [lstm, lstm.h_n, lstm.c_n, gru.h_n, rnn, cell, cell.c, gcell]
"""


def test_verify_shape_json_and_save_through_the_cli(tmp_path):
    np = pytest.importorskip("numpy")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    runner = cli_runner()
    r = runner.invoke(main, ["shape", str(spec), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)["layers"]}
    assert rows["lstm"]["outputs"] == {"output": [7, 3, 6], "h_n": [4, 3, 3], "c_n": [4, 3, 8]}
    assert rows["cell"]["outputs"] == {"h": [3, 6], "c": [3, 6]}
    out = tmp_path / "o.npz"
    r = runner.invoke(main, ["verify", str(spec), "--save", str(out)])
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        keys = set(z.files)
        assert {
            "lstm.weight_ih_l0",
            "lstm.weight_hr_l1_reverse",
            "gru.bias_hh_l0",
            "rnn.weight_hh_l0",
            "cell.weight_ih",
            "gcell.bias_hh",
        } <= keys
        assert z["output.lstm.h_n"].shape == (4, 3, 3)
        assert z["output.cell.c"].shape == (3, 6)
        assert np.isfinite(z["output.gcell"]).all()
        # the last forward step's h of the top layer is h_n's forward entry for it
        assert np.allclose(z["output.lstm"][-1, :, :3], z["output.lstm.h_n"][2])
        assert np.allclose(z["output.lstm"][0, :, 3:], z["output.lstm.h_n"][3])
    for cmd in ("params", "cost", "rf", "explain"):
        r = runner.invoke(main, [cmd, str(spec)])
        assert r.exit_code == 0, (cmd, r.output)


def test_one_step_of_a_layer_is_its_cell():
    """An lstm/gru/rnn over one step from zero states is the cell with the same weights."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(1)
    for mode in ("rnn", "lstm", "gru"):
        seq = net_of(f"input: [1, 4, 5]\nlayers:\n  - {mode}: {{name: m, hidden_size: 3}}\n")
        cell = net_of(f"input: [4, 5]\nlayers:\n  - {mode}_cell: {{name: m, hidden_size: 3}}\n")
        s, c = seq.layers[0], cell.layers[0]
        w = {t.key: rng.standard_normal(t.shape).astype(np.float32) for t in s.tensors}
        x = rng.standard_normal((1, 4, 5)).astype(np.float32)
        ys = s.type.forward(s.args, [x], w)
        yc = c.type.forward(c.args, [x[0]], {k[:-3]: v for k, v in w.items()})
        yc = yc if isinstance(yc, list) else [yc]
        assert np.allclose(ys[0][0], yc[0], atol=1e-6)
        if mode == "lstm":
            assert np.allclose(ys[2][0], yc[1], atol=1e-6)
