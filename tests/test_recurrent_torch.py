"""rnn, lstm, gru and their cells against torch.nn on seeded random configurations over
every constructor option (num_layers 1-3, bidirectional, batch_first, proj_size, bias,
nonlinearity, unbatched input, given initial states): state_dict keys and shapes and the
parameter count equal torch's; `verify --save` loads into the torch module with
load_state_dict(strict=True) and torch, in eval mode on the saved input, gives every
output (output, h_n, c_n; a cell's h and c) to float32 tolerance. Invalid random
configurations are refused by both."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

MODES = ("rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell")
TORCH = {
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "rnn_cell": "RNNCell",
    "lstm_cell": "LSTMCell",
    "gru_cell": "GRUCell",
}
SEEDS = 60


def _config(rnd: random.Random, mode: str) -> dict:
    c = {
        "mode": mode,
        "hidden_size": rnd.randint(1, 9),
        "bias": rnd.random() < 0.7,
        "I": rnd.randint(1, 7),
        "N": rnd.randint(1, 4),
        "T": rnd.randint(1, 6),
        "unbatched": rnd.random() < 0.25,
        "states": rnd.random() < 0.3,
    }
    if mode.endswith("_cell"):
        if mode == "rnn_cell":
            c["nonlinearity"] = rnd.choice(["tanh", "relu"])
        return c
    c.update(
        num_layers=rnd.randint(1, 3),
        bidirectional=rnd.random() < 0.5,
        batch_first=rnd.random() < 0.5,
        dropout=rnd.choice([0.0, 0.0, 0.3]),
    )
    if mode == "rnn":
        c["nonlinearity"] = rnd.choice(["tanh", "relu"])
    if mode == "lstm" and c["hidden_size"] > 1 and rnd.random() < 0.5:
        c["proj_size"] = rnd.randint(1, c["hidden_size"] - 1)
    return c


def _torch_kwargs(c: dict) -> dict:
    keys = (
        "hidden_size",
        "bias",
        "num_layers",
        "bidirectional",
        "batch_first",
        "dropout",
        "nonlinearity",
        "proj_size",
    )
    return {k: c[k] for k in keys if k in c}


def _module(c: dict, input_size: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer: torch's warning
        return getattr(torch.nn, TORCH[c["mode"]])(input_size, **_torch_kwargs(c))


def _shapes(c: dict) -> dict:
    """The network inputs: x, and the initial states when given."""
    cell = c["mode"].endswith("_cell")
    In, N, T, H = c["I"], c["N"], c["T"], c["hidden_size"]
    if cell:
        x = [In] if c["unbatched"] else [N, In]
        h = [H] if c["unbatched"] else [N, H]
        states = {"h": h, "c": h} if c["mode"] == "lstm_cell" else {"h": h}
    else:
        x = [T, In] if c["unbatched"] else ([N, T, In] if c["batch_first"] else [T, N, In])
        DL = (2 if c["bidirectional"] else 1) * c["num_layers"]
        lead = [DL] if c["unbatched"] else [DL, N]
        h = lead + [c.get("proj_size") or H]
        states = {"h": h, "c": lead + [H]} if c["mode"] == "lstm" else {"h": h}
    return {"x": x, **(states if c["states"] else {})}


def _spec(c: dict) -> str:
    args = {k: v for k, v in _torch_kwargs(c).items()}
    text = ", ".join(
        f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items()
    )
    ins = _shapes(c)
    src = list(ins)
    outs = {
        "lstm": ["m", "m.h_n", "m.c_n"],
        "gru": ["m", "m.h_n"],
        "rnn": ["m", "m.h_n"],
        "lstm_cell": ["m", "m.c"],
    }.get(c["mode"], ["m"])
    return (
        "input: {" + ", ".join(f"{k}: {v}" for k, v in ins.items()) + "}\nlayers:\n"
        f"  - {c['mode']}: {{name: m, {text}, from: [{', '.join(src)}]}}\n"
        f"outputs: [{', '.join(outs)}]\n"
    )


def _torch_outputs(c: dict, m, z: dict) -> list:
    x = torch.from_numpy(z["input.x"])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "LSTM with projections is not supported with oneDNN"
        if c["states"]:
            h = torch.from_numpy(z["input.h"])
            hx = (h, torch.from_numpy(z["input.c"])) if "lstm" in c["mode"] else h
            y = m(x, hx)
        else:
            y = m(x)
    if c["mode"] == "lstm":
        return [y[0], y[1][0], y[1][1]]
    if c["mode"] in ("rnn", "gru"):
        return [y[0], y[1]]
    if c["mode"] == "lstm_cell":
        return [y[0], y[1]]
    return [y]


def _run(c: dict, tmp_path, seed: int):
    text = _spec(c)
    res = analyse_bytes(text.encode(), "t.yaml")
    assert res.ok, (text, res.diagnostics)
    (layer,) = res.net.layers
    m = _module(c, c["I"]).eval()
    # state_dict keys, shapes and the parameter count are torch's
    want = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert {t.key: tuple(t.shape) for t in layer.tensors} == want, text
    assert [t.key for t in layer.tensors] == list(want), text  # torch's order too
    assert layer.params == sum(p.numel() for p in m.parameters())
    spec = tmp_path / f"s{seed}.yaml"
    spec.write_text(text)
    out = tmp_path / f"o{seed}.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(out), "--seed", str(seed)])
    assert r.exit_code == 0, (text, r.output)
    with np.load(out) as npz:
        z = dict(npz)
    state = {k[2:]: torch.from_numpy(v) for k, v in z.items() if k.startswith("m.")}
    m.load_state_dict(state, strict=True)
    got = _torch_outputs(c, m, z)
    names = [k for k in z if k == "output" or k.startswith("output.")]
    ours = (
        [z["output"]]
        if names == ["output"]
        else [z[k] for k in sorted(names, key=lambda k: (k.count("."), k))]
    )
    if c["mode"] == "lstm":  # output.m, output.m.c_n, output.m.h_n -> torch's order
        ours = [z["output.m"], z["output.m.h_n"], z["output.m.c_n"]]
    assert len(ours) == len(got)
    for a, b in zip(ours, got):
        assert a.shape == tuple(b.shape), text
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5, err_msg=text)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_configurations_match_torch(seed, tmp_path):
    rnd = random.Random(seed)
    for mode in MODES:
        _run(_config(rnd, mode), tmp_path, seed)


def test_a_long_deep_bidirectional_lstm_with_projection(tmp_path):
    c = {
        "mode": "lstm",
        "hidden_size": 32,
        "bias": True,
        "I": 16,
        "N": 3,
        "T": 60,
        "unbatched": False,
        "states": True,
        "num_layers": 3,
        "bidirectional": True,
        "batch_first": True,
        "dropout": 0.5,
        "proj_size": 12,
    }
    _run(c, tmp_path, 0)
    c.update(mode="gru", proj_size=0, batch_first=False)
    del c["proj_size"]
    _run(c, tmp_path, 1)


# -- refusals: random invalid configurations are refused by torch and layercalc alike --


def _breaks(rnd: random.Random, c: dict) -> str:
    """Make one thing wrong; returns what."""
    seq = not c["mode"].endswith("_cell")
    choices = ["hidden", "rank"] + (["layers", "dropout", "input_size"] if seq else ["input_size"])
    if c["mode"] == "lstm":
        choices.append("proj")
    if c["mode"] == "rnn":
        choices.append("nonlinearity")
    if c["states"]:
        choices += ["state_shape", "state_shape"]
    what = rnd.choice(choices)
    if what != "state_shape":
        c["states"] = False  # one thing wrong at a time
    if what == "hidden":
        c["hidden_size"] = rnd.choice([-3, -1] + ([0] if seq else []))
        c.pop("proj_size", None)
    elif what == "layers":
        c["num_layers"] = rnd.choice([0, -1])
    elif what == "dropout":
        c["dropout"] = rnd.choice([-0.5, 1.5, 7])
    elif what == "proj":
        c["proj_size"] = rnd.choice([-1, c["hidden_size"], c["hidden_size"] + 2])
    elif what == "nonlinearity":
        c["nonlinearity"] = rnd.choice(["sigmoid", "gelu", "TANH"])
    elif what == "input_size":
        c["input_size"] = c["I"] + rnd.randint(1, 3)
    elif what == "rank":
        c["x_shape"] = rnd.choice(
            [[c["I"]], [2, 2, 2, c["I"]]] if seq else [[2, 2, c["I"]], [2, 2, 2, c["I"]]]
        )
    else:
        c["bad_state"] = True
    return what


def _bad_shapes(c: dict) -> dict:
    ins = _shapes(c)
    if "x_shape" in c:
        ins["x"] = c["x_shape"]
    if c.get("bad_state"):
        ins["h"] = list(ins["h"])
        ins["h"][-1] += 1
    return ins


def _torch_refuses(c: dict) -> bool:
    kw = _torch_kwargs(c)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = getattr(torch.nn, TORCH[c["mode"]])(c.get("input_size", c["I"]), **kw)
            ins = {k: torch.zeros(*v) for k, v in _bad_shapes(c).items()}
            if "h" in ins:
                hx = (ins["h"], ins["c"]) if "lstm" in c["mode"] else ins["h"]
                m.eval()(ins["x"], hx)
            else:
                m.eval()(ins["x"])
    except (ValueError, RuntimeError, TypeError, IndexError):
        return True
    return False


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_invalid_configurations_are_refused_by_both(seed):
    rnd = random.Random(1000 + seed)
    for mode in MODES:
        c = _config(rnd, mode)
        what = _breaks(rnd, c)
        ins = _bad_shapes(c)
        args = _torch_kwargs(c)
        if "input_size" in c:
            args["input_size"] = c["input_size"]
        text = ", ".join(
            f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items()
        )
        spec = (
            "input: {" + ", ".join(f"{k}: {v}" for k, v in ins.items()) + "}\nlayers:\n"
            f"  - {mode}: {{name: m, {text}, from: [{', '.join(ins)}]}}\n"
        )
        assert _torch_refuses(c), (what, spec)
        res = analyse_bytes(spec.encode(), "t.yaml")
        assert not res.ok, (what, spec)
        (d,) = res.diagnostics
        assert d.line == 3, d
