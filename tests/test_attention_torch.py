"""Attention and the Transformer layers (SPEC.md section 12) against torch.nn, on
randomized configurations covering every constructor option: the spec's state_dict
(every key and shape, from `verify --save`) loads into the torch module with
load_state_dict(strict=True), the parameter totals agree, and the torch forward on the
saved input reproduces every output layercalc's NumPy forward saved (attn_output and
attn_weights; masks included). Skipped when torch is not installed."""

import random

import numpy as np
import pytest
import yaml
from conftest import cli_runner

from layercalc.analyses.loading import analyse
from layercalc.cli import main

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = [
    pytest.mark.torch,
    # torch's fast-path notice (enable_nested_tensor without batch_first)
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]


def _run(tmp_path, spec: dict):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "s.npz"
    r = cli_runner().invoke(main, ["verify", str(path), "--save", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        data = {k: z[k] for k in z.files}
    res = analyse(str(path))
    assert res.ok, res.diagnostics
    return data, res.net


def _state(data, prefix):
    return {
        k[len(prefix) :]: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in data.items()
        if k.startswith(prefix)
    }


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _causal(n):
    """The causal mask PyTorch's is_causal hint stands for, boolean (True: masked) so it
    matches boolean padding masks' type."""
    return torch.triu(torch.ones(n, n, dtype=torch.bool), 1)


def _close(a, b, what=""):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    assert a.shape == b.shape, (what, a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5, err_msg=what)


def _mha_case(seed):
    rng = random.Random(seed)
    heads = rng.choice([1, 2, 4])
    E = heads * rng.choice([2, 4, 8])
    kw = {
        "num_heads": heads,
        "bias": rng.random() < 0.7,
        "add_bias_kv": rng.random() < 0.3,
        "add_zero_attn": rng.random() < 0.3,
        "batch_first": rng.random() < 0.5,
    }
    cross = rng.random() < 0.5
    if cross and rng.random() < 0.5:
        kw["kdim"], kw["vdim"] = rng.choice([3, 5, E]), rng.choice([6, E])
    batched = rng.random() < 0.8
    L, S, N = rng.randint(1, 6), rng.randint(2, 7), rng.randint(1, 3)
    if not cross:
        S = L
    call = {"need_weights": rng.random() < 0.7, "average_attn_weights": rng.random() < 0.5}
    kpm = rng.random() < 0.4
    mask = rng.choice([None, "2d", "3d"]) if not kw["add_bias_kv"] else rng.choice([None, "2d"])
    causal = (not cross) and mask is None and rng.random() < 0.4
    return kw, cross, batched, (L, S, N), call, kpm, mask, causal


@pytest.mark.parametrize("seed", range(24))
def test_multihead_attention_matches_torch(tmp_path, seed):
    kw, cross, batched, (L, S, N), call, kpm, mask, causal = _mha_case(seed)
    heads = kw["num_heads"]
    rng = random.Random(1000 + seed)
    E = heads * rng.choice([2, 4])
    kdim, vdim = kw.get("kdim", E), kw.get("vdim", E)

    def shape(n_seq, feat):
        if not batched:
            return [n_seq, feat]
        return [N, n_seq, feat] if kw["batch_first"] else [n_seq, N, feat]

    inputs = {"q": shape(L, E)}
    keyword = {"query": "q"}
    if cross:
        inputs["k"], inputs["v"] = shape(S, kdim), shape(S, vdim)
        keyword.update(key="k", value="v")
    if kpm:
        inputs["kpm"] = [N, S] if batched else [S]
        keyword["key_padding_mask"] = "kpm"
    if mask == "2d":
        inputs["am"] = [L, S]
        keyword["attn_mask"] = "am"
    elif mask == "3d":
        inputs["am"] = [(N if batched else 1) * heads, L, S]
        keyword["attn_mask"] = "am"
    args = {"name": "attn", **kw, **call, "is_causal": causal, "from": keyword}
    spec = {
        "name": "mha",
        "input": inputs,
        "layers": [{"multihead_attention": args}],
        "outputs": ["attn.attn_output"] + (["attn.attn_weights"] if call["need_weights"] else []),
    }
    data, net = _run(tmp_path, spec)
    m = nn.MultiheadAttention(
        E,
        heads,
        bias=kw["bias"],
        add_bias_kv=kw["add_bias_kv"],
        add_zero_attn=kw["add_zero_attn"],
        kdim=kdim,
        vdim=vdim,
        batch_first=kw["batch_first"],
    ).eval()
    m.load_state_dict(_state(data, "attn."), strict=True)
    assert net.totals()["params"] == sum(p.numel() for p in m.parameters())
    q = _t(data["input.q"])
    k = _t(data["input.k"]) if cross else q
    v = _t(data["input.v"]) if cross else q
    extra = {}
    if kpm:
        extra["key_padding_mask"] = _t(data["input.kpm"])
    if mask:
        extra["attn_mask"] = _t(data["input.am"])
    if causal:
        extra["attn_mask"] = _causal(L)
        extra["is_causal"] = True
    with torch.no_grad():
        out, w = m(
            q,
            k,
            v,
            need_weights=call["need_weights"],
            average_attn_weights=call["average_attn_weights"],
            **extra,
        )
    _close(
        out, data["output.attn.attn_output" if call["need_weights"] else "output"], "attn_output"
    )
    if call["need_weights"]:
        _close(w, data["output.attn.attn_weights"], "attn_weights")


@pytest.mark.parametrize("seed", range(12))
def test_scaled_dot_product_attention_matches_torch(tmp_path, seed):
    rng = random.Random(seed)
    gqa = rng.random() < 0.3
    hk = rng.choice([1, 2])
    hq = hk * (rng.choice([2, 3]) if gqa else 1)
    B, L, S, E, Ev = (
        rng.randint(1, 2),
        rng.randint(1, 5),
        rng.randint(1, 6),
        rng.choice([4, 8]),
        rng.choice([3, 8]),
    )
    causal = rng.random() < 0.4
    mask = (not causal) and rng.random() < 0.5
    scale = rng.choice([None, 0.5])
    inputs = {"q": [B, hq, L, E], "k": [B, hk, S, E], "v": [B, hk, S, Ev]}
    keyword = {"query": "q", "key": "k", "value": "v"}
    if mask:
        inputs["m"] = [L, S]
        keyword["attn_mask"] = "m"
    args = {"name": "sdpa", "is_causal": causal, "enable_gqa": gqa, "from": keyword}
    if scale is not None:
        args["scale"] = scale
    spec = {"name": "sdpa", "input": inputs, "layers": [{"scaled_dot_product_attention": args}]}
    data, _ = _run(tmp_path, spec)
    F = torch.nn.functional
    extra = {"attn_mask": _t(data["input.m"])} if mask else {}
    with torch.no_grad():
        y = F.scaled_dot_product_attention(
            _t(data["input.q"]),
            _t(data["input.k"]),
            _t(data["input.v"]),
            is_causal=causal,
            scale=scale,
            enable_gqa=gqa,
            **extra,
        )
    _close(y, data["output"])


def _layer_kw(rng):
    heads = rng.choice([1, 2, 4])
    return {
        "nhead": heads,
        "dim_feedforward": rng.choice([8, 24]),
        "activation": rng.choice(["relu", "gelu"]),
        "batch_first": rng.random() < 0.5,
        "norm_first": rng.random() < 0.5,
        "bias": rng.random() < 0.8,
        "layer_norm_eps": rng.choice([1e-5, 1e-6]),
    }, heads * rng.choice([2, 4])


def _torch_layer_kw(kw, d):
    return dict(
        d_model=d,
        nhead=kw["nhead"],
        dim_feedforward=kw["dim_feedforward"],
        activation=kw["activation"],
        batch_first=kw["batch_first"],
        norm_first=kw["norm_first"],
        bias=kw["bias"],
        layer_norm_eps=kw["layer_norm_eps"],
    )


@pytest.mark.parametrize("seed", range(8))
def test_transformer_encoder_matches_torch(tmp_path, seed):
    rng = random.Random(seed)
    kw, d = _layer_kw(rng)
    L, N = rng.randint(2, 6), rng.randint(1, 3)
    x = [N, L, d] if kw["batch_first"] else [L, N, d]
    layers = rng.randint(1, 3)
    kpm = rng.random() < 0.5
    causal = rng.random() < 0.4
    inputs = {"x": x}
    src = {"src": "x"}
    if kpm:
        inputs["m"] = [N, L]
        src["src_key_padding_mask"] = "m"
    norm = rng.random() < 0.5
    enc = {
        "name": "enc",
        "encoder_layer": {"transformer_encoder_layer": kw},
        "num_layers": layers,
        "is_causal": causal,
        "from": src,
    }
    if norm:
        enc["norm"] = {"layer_norm": {"normalized_shape": [d]}}
    data, net = _run(
        tmp_path, {"name": "enc", "input": inputs, "layers": [{"transformer_encoder": enc}]}
    )
    m = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(**_torch_layer_kw(kw, d)),
        layers,
        norm=nn.LayerNorm(d) if norm else None,
    ).eval()
    m.load_state_dict(_state(data, "enc."), strict=True)
    assert net.totals()["params"] == sum(p.numel() for p in m.parameters())
    extra = {"src_key_padding_mask": _t(data["input.m"])} if kpm else {}
    if causal:
        extra["mask"] = _causal(L)
        extra["is_causal"] = True
    with torch.no_grad():
        y = m(_t(data["input.x"]), **extra)
    _close(y, data["output"])


def _nested_case(tmp_path, pad, layer=None, **stack):
    """A batch-first encoder (2 layers, a final norm) run by `verify` on a given key
    padding mask, and torch's nn.TransformerEncoder of the same settings, under
    no_grad (where torch takes its nested-tensor fast path): the outputs."""
    N, L, d = pad.shape[0], pad.shape[1], 8
    kw = {"nhead": 2, "dim_feedforward": 16, "batch_first": True, **(layer or {})}
    spec = {
        "name": "nested",
        "input": {"x": [N, L, d], "m": [N, L]},
        "layers": [
            {
                "transformer_encoder": {
                    "name": "enc",
                    "encoder_layer": {"transformer_encoder_layer": kw},
                    "num_layers": 2,
                    "norm": {"layer_norm": {"normalized_shape": [d]}},
                    "from": {"src": "x", "src_key_padding_mask": "m"},
                    **stack,
                }
            }
        ],
    }
    path, given, out = tmp_path / "s.yaml", tmp_path / "in.npz", tmp_path / "s.npz"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    x = np.random.default_rng(0).standard_normal((N, L, d)).astype(np.float32)
    np.savez(given, **{"input.x": x, "input.m": pad})
    r = cli_runner().invoke(
        main, ["verify", str(path), "--input-file", str(given), "--save", str(out)]
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        data = {k: z[k] for k in z.files}
    tkw = {k: v for k, v in kw.items() if k != "nhead"}
    if isinstance(kw.get("activation"), dict):  # a module: nn.GELU(), nn.SiLU()
        name, margs = next(iter(kw["activation"].items()))
        tkw["activation"] = {"gelu": nn.GELU, "silu": nn.SiLU}[name](**margs)
    m = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d, kw["nhead"], **tkw), 2, norm=nn.LayerNorm(d), **stack
    ).eval()
    m.load_state_dict(_state(data, "enc."), strict=True)
    with torch.no_grad():
        y = m(_t(x), src_key_padding_mask=_t(pad))
    return data["output"], y.numpy()


LEFT = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], dtype=bool)
RAGGED = np.array([[0, 1, 0, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], dtype=bool)


@pytest.mark.parametrize(
    "pad,stack,layer",
    [
        (LEFT, {}, {}),  # the fast path: padded positions are zeros before the norm
        (RAGGED, {}, {}),  # mask_check: not left-aligned, so the padded tensor as it is
        (RAGGED, {"mask_check": False}, {}),  # each sequence's first n tokens
        (LEFT, {"enable_nested_tensor": False}, {}),
        (LEFT, {}, {"norm_first": True}),  # layers that rule the fast path out
        (LEFT, {}, {"nhead": 1}),
        (LEFT, {}, {"activation": {"gelu": {"approximate": "none"}}}),
        (LEFT, {}, {"activation": {"silu": {}}}),
        (np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool), {}, {}),  # no token
        (np.where(LEFT, -np.inf, 0.0).astype(np.float32), {}, {}),  # an additive mask
        # the layers' own fast path: exact GELU for any nn.GELU, and masks read as booleans
        (LEFT, {}, {"activation": {"gelu": {"approximate": "tanh"}}}),
        (np.where(RAGGED, -2.0, 0.0).astype(np.float32), {}, {}),
        (np.where(RAGGED, -2.0, 0.0).astype(np.float32), {}, {"norm_first": True}),
    ],
)
def test_transformer_encoder_nested_fast_path_matches_torch(tmp_path, pad, stack, layer):
    """nn.TransformerEncoder under no_grad with batch_first and a padding mask runs its
    layers on a nested tensor and pads it back with zeros: verify gives its numbers."""
    ours, theirs = _nested_case(tmp_path, pad, layer, **stack)
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("seed", range(6))
def test_transformer_decoder_layer_matches_torch(tmp_path, seed):
    rng = random.Random(seed)
    kw, d = _layer_kw(rng)
    L, S, N = rng.randint(2, 5), rng.randint(2, 6), rng.randint(1, 3)
    bf = kw["batch_first"]
    inputs = {"t": [N, L, d] if bf else [L, N, d], "mem": [N, S, d] if bf else [S, N, d]}
    frm = {"tgt": "t", "memory": "mem"}
    if rng.random() < 0.5:
        inputs["mk"] = [N, S]
        frm["memory_key_padding_mask"] = "mk"
    causal = rng.random() < 0.5
    layer = {"name": "dec", **kw, "tgt_is_causal": causal, "from": frm}
    data, net = _run(
        tmp_path, {"name": "dec", "input": inputs, "layers": [{"transformer_decoder_layer": layer}]}
    )
    m = nn.TransformerDecoderLayer(**_torch_layer_kw(kw, d)).eval()
    m.load_state_dict(_state(data, "dec."), strict=True)
    assert net.totals()["params"] == sum(p.numel() for p in m.parameters())
    extra = {}
    if "mk" in inputs:
        extra["memory_key_padding_mask"] = _t(data["input.mk"])
    if causal:
        extra["tgt_mask"] = _causal(L)
        extra["tgt_is_causal"] = True
    with torch.no_grad():
        y = m(_t(data["input.t"]), _t(data["input.mem"]), **extra)
    _close(y, data["output"])


def test_transformer_matches_torch(tmp_path):
    d = 16
    spec = {
        "name": "t",
        "input": {"src": [5, 2, d], "tgt": [4, 2, d]},
        "layers": [
            {
                "transformer": {
                    "name": "model",
                    "d_model": d,
                    "nhead": 2,
                    "num_encoder_layers": 2,
                    "num_decoder_layers": 1,
                    "dim_feedforward": 32,
                    "tgt_is_causal": True,
                    "from": ["src", "tgt"],
                }
            }
        ],
    }
    data, net = _run(tmp_path, spec)
    m = nn.Transformer(
        d_model=d, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=32
    ).eval()
    m.load_state_dict(_state(data, "model."), strict=True)
    assert net.totals()["params"] == sum(p.numel() for p in m.parameters())
    with torch.no_grad():
        y = m(_t(data["input.src"]), _t(data["input.tgt"]), tgt_mask=_causal(4), tgt_is_causal=True)
    _close(y, data["output"])


def test_default_transformer_parameter_count():
    # nn.Transformer() as constructed with its defaults: d_model 512, 6 + 6 layers
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "t.yaml"
        p.write_text(
            "input: {src: [10, 1, 512], tgt: [9, 1, 512]}\n"
            "layers:\n  - transformer: {from: [src, tgt]}\n"
        )
        r = analyse(str(p))
        assert r.ok, r.diagnostics
        want = sum(p.numel() for p in nn.Transformer().parameters())
        assert r.net.totals()["params"] == want == 44_140_544


@pytest.mark.parametrize("need_weights", [False, True])
def test_causal_with_appended_keys_follows_pytorchs_paths(tmp_path, need_weights):
    """With is_causal, no key_padding_mask and need_weights false, PyTorch lets
    scaled_dot_product_attention make the causal mask over the appended keys too (which
    hides them); with need_weights it pads the explicit mask (which shows them)."""
    spec = {
        "name": "c",
        "input": [4, 3, 8],
        "layers": [
            {
                "multihead_attention": {
                    "name": "at",
                    "num_heads": 2,
                    "add_bias_kv": True,
                    "add_zero_attn": True,
                    "need_weights": need_weights,
                    "is_causal": True,
                }
            }
        ],
        "outputs": ["at.attn_output"],
    }
    data, _ = _run(tmp_path, spec)
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True).eval()
    m.load_state_dict(_state(data, "at."), strict=True)
    x = _t(data["input"])
    with torch.no_grad():
        y, _ = m(x, x, x, attn_mask=_causal(4), is_causal=True, need_weights=need_weights)
    _close(y, data["output"])
