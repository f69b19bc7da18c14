"""The NumPy forward of every layer type against PyTorch, on randomized configurations.

Each layer is built through the real pipeline (YAML -> analyse -> graph), so the shape
rule, the tensors and the forward are checked together: the NumPy output must have the
calculated shape and match torch to float32 tolerance.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from layercalc.analyses.loading import analyse_bytes

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning"),
]
CASES = 24


@pytest.fixture(params=["tap by tap", "one reduction"])
def kernel_path(request, monkeypatch):
    """Pools and depthwise convs loop over kernel offsets up to LOOP_TAPS taps and use
    one strided reduction (im2col for convs) beyond; both paths meet torch here."""
    from layercalc.layers import conv, npops

    if request.param == "one reduction":
        monkeypatch.setattr(conv, "LOOP_TAPS", 0)
        monkeypatch.setattr(npops, "LOOP_TAPS", 0)
    return request.param


def build(type_name, args, input_shape):
    """The one-layer network's layer, or None when layercalc refuses the config."""
    text = json.dumps({"input": list(input_shape), "layers": [dict(type=type_name, **args)]})
    r = analyse_bytes(text.encode(), "t.yaml")
    if not r.ok:
        return None
    return r.net.layers[0]


def weights(layer, rng):
    w = {}
    for t in layer.tensors:
        if t.dtype == "int64":
            w[t.key] = np.asarray(3, dtype=np.int64).reshape(t.shape)
        elif t.key == "running_var":
            w[t.key] = rng.uniform(0.5, 1.5, t.shape).astype(np.float32)
        else:
            w[t.key] = rng.standard_normal(t.shape).astype(np.float32)
    return w


def check(layer, y, expected):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    assert y.shape == tuple(layer.output), "NumPy shape differs from the calculated shape"
    assert expected.shape == tuple(layer.output), "torch shape differs from the calculated shape"
    assert y.dtype == expected.dtype
    scale = max(1.0, float(np.abs(expected).max()) if expected.size else 1.0)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=2e-5 * scale)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def run(layer, xs, w):
    return np.asarray(layer.type.forward(layer.args, xs, w))


def configs(maker, n=CASES, seed=0):
    """n accepted configurations from maker(rng), a config being (type, args, shape,
    extra); refused ones (invalid for PyTorch too) are redrawn."""
    rnd = random.Random(seed)
    out = []
    tries = 0
    while len(out) < n and tries < 100 * n:
        tries += 1
        cfg = maker(rnd)
        layer = build(cfg[0], cfg[1], cfg[2])
        if layer is not None:
            out.append(pytest.param(layer, cfg, id=f"{cfg[0]}-{len(out)}"))
    return out


# -- convolutions ------------------------------------------------------------------------


def _conv_cfg(rnd):
    dims = rnd.choice((1, 2, 2, 3))
    g = rnd.choice((1, 1, 2, 3))
    if rnd.random() < 0.2:
        g = 4  # depthwise below
    cin = g * rnd.randint(1, 3)
    if g == 4 and rnd.random() < 0.5:
        cin = 4
    cout = g * rnd.randint(1, 3)
    k = [rnd.randint(1, 4) for _ in range(dims)]
    d = [rnd.choice((1, 1, 2)) for _ in range(dims)]
    mode = rnd.choice(("zeros", "zeros", "reflect", "replicate", "circular"))
    r = rnd.random()
    if r < 0.2:
        s, pad = 1, "same"
    elif r < 0.3:
        s, pad = rnd.randint(1, 3), "valid"
    else:
        s = [rnd.randint(1, 3) for _ in range(dims)]
        pad = [rnd.randint(0, 2) for _ in range(dims)]
    size = [rnd.randint(4, 11 if dims < 3 else 7) for _ in range(dims)]
    shape = ([rnd.randint(1, 2)] if rnd.random() < 0.8 else []) + [cin] + size
    args = {
        "out_channels": cout,
        "kernel_size": k,
        "stride": s,
        "padding": pad,
        "dilation": d,
        "groups": g,
        "bias": rnd.random() < 0.7,
        "padding_mode": mode,
    }
    return f"conv{dims}d", args, shape


@pytest.mark.parametrize("layer,cfg", configs(_conv_cfg, 40))
def test_conv(layer, cfg, kernel_path):
    rng = np.random.default_rng(1)
    a = cfg[1]
    dims = int(cfg[0][4])
    x = rng.standard_normal(cfg[2]).astype(np.float32)
    w = weights(layer, rng)
    cls = getattr(torch.nn, f"Conv{dims}d")
    m = cls(
        layer.args["in_channels"],
        a["out_channels"],
        a["kernel_size"],
        a["stride"],
        a["padding"],
        a["dilation"],
        a["groups"],
        a["bias"],
        a["padding_mode"],
    )
    m.load_state_dict({k: t(v) for k, v in w.items()}, strict=True)
    with torch.no_grad():
        check(layer, run(layer, [x], w), m(t(x)))


def _conv_t_cfg(rnd):
    dims = rnd.choice((1, 2, 3))
    g = rnd.choice((1, 1, 2, 3))
    cin, cout = g * rnd.randint(1, 3), g * rnd.randint(1, 3)
    k = [rnd.randint(1, 4) for _ in range(dims)]
    s = [rnd.randint(1, 3) for _ in range(dims)]
    d = [rnd.choice((1, 1, 2)) for _ in range(dims)]
    p = [rnd.randint(0, 2) for _ in range(dims)]
    op = [rnd.randint(0, max(si, di) - 1) for si, di in zip(s, d)]
    size = [rnd.randint(1, 6) for _ in range(dims)]
    shape = ([rnd.randint(1, 2)] if rnd.random() < 0.8 else []) + [cin] + size
    args = {
        "out_channels": cout,
        "kernel_size": k,
        "stride": s,
        "padding": p,
        "output_padding": op,
        "dilation": d,
        "groups": g,
        "bias": rnd.random() < 0.7,
    }
    return f"conv_transpose{dims}d", args, shape


@pytest.mark.parametrize("layer,cfg", configs(_conv_t_cfg, 30))
def test_conv_transpose(layer, cfg):
    rng = np.random.default_rng(2)
    a = cfg[1]
    dims = int(cfg[0][-2])
    x = rng.standard_normal(cfg[2]).astype(np.float32)
    w = weights(layer, rng)
    fn = getattr(F, f"conv_transpose{dims}d")
    with torch.no_grad():
        ref = fn(
            t(x),
            t(w["weight"]),
            t(w["bias"]) if "bias" in w else None,
            a["stride"],
            a["padding"],
            a["output_padding"],
            a["groups"],
            a["dilation"],
        )
    check(layer, run(layer, [x], w), ref)


# -- pooling -------------------------------------------------------------------------------


def _pool_cfg(rnd):
    dims = rnd.choice((1, 2, 2, 3))
    kind = rnd.choice(("max", "avg"))
    k = [rnd.randint(1, 4) for _ in range(dims)]
    s = [rnd.randint(1, 3) for _ in range(dims)] if rnd.random() < 0.8 else None
    p = [rnd.randint(0, 2) for _ in range(dims)]
    args = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": rnd.random() < 0.5}
    if kind == "max":
        args["dilation"] = [rnd.choice((1, 1, 2)) for _ in range(dims)]
    else:
        args["count_include_pad"] = rnd.random() < 0.5
        if dims > 1 and rnd.random() < 0.25:
            args["divisor_override"] = rnd.randint(1, 5)
    size = [rnd.randint(3, 10 if dims < 3 else 7) for _ in range(dims)]
    shape = ([rnd.randint(1, 2)] if rnd.random() < 0.8 else []) + [rnd.randint(1, 3)] + size
    return f"{kind}_pool{dims}d", args, shape


@pytest.mark.parametrize("layer,cfg", configs(_pool_cfg, 50))
def test_pool(layer, cfg, kernel_path):
    rng = np.random.default_rng(3)
    a = dict(cfg[1])
    dims = int(cfg[0][-2])
    x = rng.standard_normal(cfg[2]).astype(np.float32)
    if cfg[0].startswith("max"):
        ref = getattr(F, f"max_pool{dims}d")(
            t(x), a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"]
        )
    else:
        kw = {"divisor_override": a["divisor_override"]} if "divisor_override" in a else {}
        ref = getattr(F, f"avg_pool{dims}d")(
            t(x),
            a["kernel_size"],
            a["stride"],
            a["padding"],
            a["ceil_mode"],
            a["count_include_pad"],
            **kw,
        )
    check(layer, run(layer, [x], {}), ref)


def _adaptive_cfg(rnd):
    dims = rnd.choice((1, 2, 3))
    kind = rnd.choice(("max", "avg"))
    size = [rnd.randint(1, 9) for _ in range(dims)]
    out = [rnd.choice((rnd.randint(1, 6), None)) if rnd.random() < 0.9 else n for n in size]
    shape = ([rnd.randint(1, 2)] if rnd.random() < 0.8 else []) + [2] + size
    return f"adaptive_{kind}_pool{dims}d", {"output_size": out}, shape


@pytest.mark.parametrize("layer,cfg", configs(_adaptive_cfg, 24))
def test_adaptive_pool(layer, cfg):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(cfg[2]).astype(np.float32)
    name = cfg[0]
    dims = int(name[-2])
    kind = "Max" if "max" in name else "Avg"
    m = getattr(torch.nn, f"Adaptive{kind}Pool{dims}d")(cfg[1]["output_size"])
    check(layer, run(layer, [x], {}), m(t(x)))


# -- normalisation ---------------------------------------------------------------------------

NORM_CASES = [
    ("batch_norm1d", {}, [3, 5]),
    ("batch_norm1d", {"eps": 1e-3}, [2, 4, 7]),
    ("batch_norm2d", {}, [2, 3, 5, 4]),
    ("batch_norm2d", {"affine": False}, [2, 3, 5, 4]),
    ("batch_norm2d", {"track_running_stats": False}, [2, 3, 5, 4]),
    ("batch_norm3d", {}, [1, 2, 3, 4, 5]),
    ("instance_norm1d", {}, [2, 3, 9]),
    ("instance_norm2d", {"affine": True}, [2, 3, 5, 6]),
    ("instance_norm2d", {"affine": True}, [3, 5, 6]),
    ("instance_norm2d", {"track_running_stats": True}, [2, 3, 5, 6]),
    ("instance_norm3d", {}, [1, 2, 3, 4, 5]),
    ("layer_norm", {}, [2, 3, 4]),
    ("layer_norm", {"normalized_shape": [4]}, [2, 3, 4]),
    ("layer_norm", {"normalized_shape": [3, 4], "bias": False}, [2, 3, 4]),
    ("layer_norm", {"elementwise_affine": False}, [2, 6]),
    ("group_norm", {"num_groups": 2}, [2, 4, 5, 5]),
    ("group_norm", {"num_groups": 3, "affine": False}, [2, 6, 7]),
    ("group_norm", {"num_groups": 1}, [3, 4]),
]


def _torch_norm(layer, name, args, shape):
    a = layer.args
    if name.startswith(("batch_norm", "instance_norm")):
        kind = "BatchNorm" if name.startswith("batch") else "InstanceNorm"
        return getattr(torch.nn, f"{kind}{name[-2:].upper().replace('D', 'd')}")(
            a["num_features"],
            eps=a["eps"],
            affine=a["affine"],
            track_running_stats=a["track_running_stats"],
        )
    if name == "layer_norm":
        return torch.nn.LayerNorm(
            list(a["_ns"]), eps=a["eps"], elementwise_affine=a["elementwise_affine"], bias=a["bias"]
        )
    return torch.nn.GroupNorm(a["num_groups"], a["num_channels"], eps=a["eps"], affine=a["affine"])


@pytest.mark.parametrize("name,args,shape", NORM_CASES, ids=[c[0] for c in NORM_CASES])
def test_norm(name, args, shape):
    layer = build(name, args, shape)
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32) * 2 + 0.5
    w = weights(layer, rng)
    m = _torch_norm(layer, name, args, shape).eval()
    m.load_state_dict({k: t(v) for k, v in w.items()}, strict=True)
    with torch.no_grad():
        check(layer, run(layer, [x], w), m(t(x)))


# -- element-wise ----------------------------------------------------------------------------

ACT_CASES = [
    ("relu", {}, lambda x, a: F.relu(x)),
    ("relu6", {}, lambda x, a: F.relu6(x)),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x, a: F.leaky_relu(x, 0.2)),
    ("elu", {"alpha": 0.7}, lambda x, a: F.elu(x, 0.7)),
    ("gelu", {}, lambda x, a: F.gelu(x)),
    ("gelu", {"approximate": "tanh"}, lambda x, a: F.gelu(x, approximate="tanh")),
    ("silu", {}, lambda x, a: F.silu(x)),
    ("mish", {}, lambda x, a: F.mish(x)),
    ("sigmoid", {}, lambda x, a: torch.sigmoid(x)),
    ("tanh", {}, lambda x, a: torch.tanh(x)),
    ("hardswish", {}, lambda x, a: F.hardswish(x)),
    ("hardsigmoid", {}, lambda x, a: F.hardsigmoid(x)),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}, lambda x, a: F.hardtanh(x, -0.5, 2.0)),
    ("softplus", {"beta": 2.0, "threshold": 3.0}, lambda x, a: F.softplus(x, 2.0, 3.0)),
    ("identity", {}, lambda x, a: x),
    ("dropout", {"p": 0.3}, lambda x, a: x),
    ("dropout2d", {}, lambda x, a: x),
    ("softmax", {"dim": 1}, lambda x, a: F.softmax(x, 1)),
    ("softmax", {"dim": -1}, lambda x, a: F.softmax(x, -1)),
    ("log_softmax", {"dim": 0}, lambda x, a: F.log_softmax(x, 0)),
    ("log_softmax", {"dim": 2}, lambda x, a: F.log_softmax(x, 2)),
]


@pytest.mark.parametrize("name,args,ref", ACT_CASES, ids=[c[0] for c in ACT_CASES])
def test_activation(name, args, ref):
    layer = build(name, args, [2, 3, 4, 5])
    x = (np.random.default_rng(6).standard_normal((2, 3, 4, 5)) * 4).astype(np.float32)
    x[0, 0, 0, :3] = [30.0, -30.0, 0.0]  # the tails of sigmoid, softplus, exp
    check(layer, run(layer, [x], {}), ref(t(x), args))


@pytest.mark.parametrize("n,shape", [(1, [2, 3, 4]), (3, [2, 3, 4]), (5, [3, 5]), (1, [7])])
def test_prelu(n, shape):
    layer = build("prelu", {"num_parameters": n}, shape)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    w = weights(layer, rng)
    m = torch.nn.PReLU(n)
    m.load_state_dict({k: t(v) for k, v in w.items()})
    with torch.no_grad():
        check(layer, run(layer, [x], w), m(t(x)))


def test_gelu_erf_accuracy():
    layer = build("gelu", {}, [4000])
    x = np.linspace(-8, 8, 4000).astype(np.float64)
    y = run(layer, [x], {})
    ref = F.gelu(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() < 1e-6


# -- linear, embedding -----------------------------------------------------------------------


@pytest.mark.parametrize("shape,bias", [([4, 7], True), ([7], False), ([2, 3, 7], True)])
def test_linear(shape, bias):
    layer = build("linear", {"out_features": 5, "bias": bias}, shape)
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape).astype(np.float32)
    w = weights(layer, rng)
    m = torch.nn.Linear(7, 5, bias=bias)
    m.load_state_dict({k: t(v) for k, v in w.items()})
    with torch.no_grad():
        check(layer, run(layer, [x], w), m(t(x)))


def test_embedding():
    layer = build("embedding", {"num_embeddings": 11, "embedding_dim": 4}, [2, 5])
    rng = np.random.default_rng(9)
    idx = rng.integers(0, 11, (2, 5))
    w = weights(layer, rng)
    check(layer, run(layer, [idx], w), F.embedding(t(idx), t(w["weight"])))
    with pytest.raises(TypeError):
        run(layer, [idx.astype(np.float32)], w)


# -- reshaping and resampling ------------------------------------------------------------------

RESHAPE_CASES = [
    ("flatten", {}, [2, 3, 4, 5], lambda x: torch.flatten(x, 1)),
    ("flatten", {"start_dim": 0, "end_dim": 2}, [2, 3, 4, 5], lambda x: torch.flatten(x, 0, 2)),
    ("unflatten", {"dim": 1, "sizes": [3, -1]}, [2, 12, 5], lambda x: x.unflatten(1, (3, 4))),
    ("reshape", {"shape": [5, -1, 2]}, [2, 3, 5, 2], lambda x: x.reshape(5, -1, 2)),
    ("pixel_shuffle", {"upscale_factor": 2}, [2, 8, 3, 4], lambda x: F.pixel_shuffle(x, 2)),
    ("pixel_shuffle", {"upscale_factor": 3}, [9, 2, 3], lambda x: F.pixel_shuffle(x, 3)),
    ("pixel_unshuffle", {"downscale_factor": 2}, [2, 3, 4, 6], lambda x: F.pixel_unshuffle(x, 2)),
    (
        "pixel_unshuffle",
        {"downscale_factor": 3},
        [1, 2, 2, 6, 3],
        lambda x: F.pixel_unshuffle(x, 3),
    ),
]


@pytest.mark.parametrize("name,args,shape,ref", RESHAPE_CASES, ids=[c[0] for c in RESHAPE_CASES])
def test_reshape(name, args, shape, ref):
    layer = build(name, args, shape)
    x = np.random.default_rng(10).standard_normal(shape).astype(np.float32)
    check(layer, run(layer, [x], {}), ref(t(x)))


def _upsample_cfg(rnd):
    mode = rnd.choice(
        (
            "nearest",
            "nearest",
            "linear",
            "bilinear",
            "bilinear",
            "trilinear",
            "bicubic",
            "area",
            "nearest-exact",
        )
    )
    dims = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode, rnd.randint(1, 3))
    size = [rnd.randint(1, 7) for _ in range(dims)]
    args = {"mode": mode}
    if rnd.random() < 0.5:
        args["scale_factor"] = [rnd.choice((0.5, 0.7, 1.5, 2, 2.3, 3)) for _ in range(dims)]
    else:
        args["size"] = [rnd.randint(1, 12) for _ in range(dims)]
    if mode in ("linear", "bilinear", "trilinear", "bicubic"):
        args["align_corners"] = rnd.random() < 0.5
    return "upsample", args, [rnd.randint(1, 2), 2] + size


@pytest.mark.parametrize("layer,cfg", configs(_upsample_cfg, 40))
def test_upsample(layer, cfg):
    a = cfg[1]
    x = np.random.default_rng(11).standard_normal(cfg[2]).astype(np.float32)
    ref = F.interpolate(
        t(x),
        size=a.get("size"),
        scale_factor=a.get("scale_factor"),
        mode=a["mode"],
        align_corners=a.get("align_corners"),
    )
    check(layer, run(layer, [x], {}), ref)


PAD_CASES = [
    ("zero_pad2d", {"padding": 2}, [1, 2, 3, 4], lambda d: torch.nn.ZeroPad2d(2)),
    ("zero_pad1d", {"padding": [1, 3]}, [2, 5], lambda d: torch.nn.ZeroPad1d((1, 3))),
    (
        "constant_pad2d",
        {"padding": [1, 0, 2, 3], "value": 1.5},
        [1, 2, 3, 4],
        lambda d: torch.nn.ConstantPad2d((1, 0, 2, 3), 1.5),
    ),
    (
        "constant_pad3d",
        {"padding": [1, 0, 2, 1, 0, 1], "value": -2},
        [1, 2, 3, 4, 2],
        lambda d: torch.nn.ConstantPad3d((1, 0, 2, 1, 0, 1), -2),
    ),
    (
        "reflection_pad1d",
        {"padding": [2, 1]},
        [1, 2, 5],
        lambda d: torch.nn.ReflectionPad1d((2, 1)),
    ),
    (
        "reflection_pad2d",
        {"padding": [1, 2, 0, 3]},
        [1, 2, 4, 5],
        lambda d: torch.nn.ReflectionPad2d((1, 2, 0, 3)),
    ),
    (
        "replication_pad2d",
        {"padding": [3, 1, 2, 0]},
        [2, 3, 4],
        lambda d: torch.nn.ReplicationPad2d((3, 1, 2, 0)),
    ),
    ("replication_pad3d", {"padding": 1}, [1, 1, 2, 3, 4], lambda d: torch.nn.ReplicationPad3d(1)),
    (
        "circular_pad2d",
        {"padding": [1, 2, 2, 1]},
        [1, 2, 3, 4],
        lambda d: torch.nn.CircularPad2d((1, 2, 2, 1)),
    ),
    (
        "constant_pad1d",
        {"padding": [-1, 2], "value": 0.5},
        [1, 2, 5],
        lambda d: torch.nn.ConstantPad1d((-1, 2), 0.5),
    ),
]


@pytest.mark.parametrize("name,args,shape,ref", PAD_CASES, ids=[c[0] for c in PAD_CASES])
def test_pad(name, args, shape, ref):
    layer = build(name, args, shape)
    x = np.random.default_rng(12).standard_normal(shape).astype(np.float32)
    check(layer, run(layer, [x], {}), ref(None)(t(x)))


# -- merges ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,shapes,extra",
    [
        ("add", [[2, 3, 4], [2, 3, 4]], {}),
        ("add", [[2, 3, 4], [1, 3, 1]], {}),
        ("mul", [[2, 1, 4], [2, 4, 1], [1, 1, 4]], {}),
        ("add", [[1, 1, 4], [2, 3, 4], [6, 1, 1, 1]], {}),
        ("concat", [[2, 3, 4], [2, 3, 4]], {"dim": -1}),
        ("concat", [[2, 6, 2], [2, 6, 2]], {"dim": 1}),
    ],
)
def test_merge(kind, shapes, extra):
    total = 24
    text = json.dumps(
        {
            "input": [total],
            "layers": [
                {"type": "reshape", "name": f"b{i}", "shape": s, "from": "input"}
                for i, s in enumerate(shapes)
                if np.prod(s) == total
            ]
            + [
                {
                    "type": "linear",
                    "name": f"l{i}",
                    "out_features": int(np.prod(s)),
                    "from": "input",
                }
                for i, s in enumerate(shapes)
                if np.prod(s) != total
            ]
            + [
                {"type": "reshape", "name": f"r{i}", "shape": s, "from": f"l{i}"}
                for i, s in enumerate(shapes)
                if np.prod(s) != total
            ]
            + [
                dict(
                    {
                        "type": kind,
                        "from": [
                            f"b{i}" if np.prod(s) == total else f"r{i}"
                            for i, s in enumerate(shapes)
                        ],
                    },
                    **extra,
                )
            ],
        }
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    assert r.ok, r.diagnostics
    layer = r.net.layers[-1]
    rng = np.random.default_rng(13)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    txs = [t(x) for x in xs]
    if kind == "concat":
        ref = torch.cat(txs, dim=extra["dim"])
    else:
        ref = txs[0]
        for x in txs[1:]:
            ref = ref + x if kind == "add" else ref * x
    check(layer, run(layer, xs, {}), ref)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pads_that_crop_match_torch(mode):
    """Negative pads: reflection and replication read the uncropped input (ATen pads,
    then crops), circular wraps what the crop leaves."""
    from itertools import product

    from layercalc.layers.npops import pad_spatial

    x = torch.randn(2, 3, 5, 6)
    checked = 0
    for p in product(range(-3, 4), repeat=4):
        try:
            want = F.pad(x, p, mode=mode).numpy()
        except RuntimeError:
            continue
        if mode == "circular" and min(p) < 0 < max(p):
            continue  # overlapping copies: torch's own result depends on memory layout
        got = pad_spatial(x.numpy(), [(p[2], p[3]), (p[0], p[1])], mode)
        assert got.shape == want.shape and np.array_equal(got, want), p
        checked += 1
    assert checked > 400
