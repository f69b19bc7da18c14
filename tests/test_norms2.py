"""rms_norm, layer_norm2d and gelu's approximate (SPEC.md section 12), without torch:
shapes, state_dict tensors and counts, located refusals with PyTorch's reasons, the
catalogue, receptive fields, and verify through the CLI (tests/test_norms2_torch.py
compares the forwards with torch's)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import assert_located, cli_runner, net_of, one_layer

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main
from layercalc.hints import UNSUPPORTED
from layercalc.analyses.receptive import receptive_fields
from layercalc.layers import REGISTRY

# -- shapes, tensors, counts -----------------------------------------------------------

TENSORS = [
    # entry, input shape, {state_dict suffix: shape}
    ("rms_norm: {normalized_shape: [in_shape(-1)]}", [2, 10, 64], {"weight": (64,)}),
    ("rms_norm: {normalized_shape: 64}", [2, 10, 64], {"weight": (64,)}),
    ("RMSNorm: {normalized_shape: [10, 64], eps: 1e-6}", [2, 10, 64], {"weight": (10, 64)}),
    ("rms_norm", [2, 10, 64], {"weight": (10, 64)}),  # layer_norm's default: all but batch
    ("rms_norm: {normalized_shape: [8], elementwise_affine: false}", [3, 8], {}),
    ("rms_norm: {normalized_shape: [5]}", [5], {"weight": (5,)}),  # unbatched, as torch
    ("rms_norm: {normalized_shape: [2, 3, 4]}", [2, 3, 4], {"weight": (2, 3, 4)}),
    ("layer_norm2d", [2, 96, 56, 56], {"weight": (96,), "bias": (96,)}),
    ("LayerNorm2d: {eps: 1e-6}", [1, 3, 4, 4], {"weight": (3,), "bias": (3,)}),
    ("layer_norm2d: {normalized_shape: 96, bias: false}", [2, 96, 7, 7], {"weight": (96,)}),
    ("layer_norm2d: {elementwise_affine: false}", [2, 96, 7, 7], {}),
    # torchvision's forward normalises the last dims of the (N, H, W, C) permute
    (
        "layer_norm2d: {normalized_shape: [7, 96]}",
        [2, 96, 5, 7],
        {"weight": (7, 96), "bias": (7, 96)},
    ),
    (
        "layer_norm2d: {normalized_shape: [5, 7, 96]}",
        [2, 96, 5, 7],
        {"weight": (5, 7, 96), "bias": (5, 7, 96)},
    ),
    (
        "layer_norm2d: {normalized_shape: [2, 5, 7, 96]}",
        [2, 96, 5, 7],
        {"weight": (2, 5, 7, 96), "bias": (2, 5, 7, 96)},
    ),
    ("layer_norm2d: {normalized_shape: [1]}", [1, 1, 1, 1], {"weight": (1,), "bias": (1,)}),
    ("gelu", [2, 3], {}),
    ("gelu: {approximate: tanh}", [2, 3, 4], {}),
    ("GELU: {approximate: none}", [7], {}),
]


@pytest.mark.parametrize("entry,shape,tensors", TENSORS, ids=[t[0] for t in TENSORS])
def test_shape_tensors_and_counts(entry, shape, tensors):
    layer = one_layer(entry, shape)
    assert list(layer.output) == shape
    assert {t.key: tuple(t.shape) for t in layer.tensors} == tensors
    assert all(not t.buffer for t in layer.tensors)
    assert layer.params == sum(math.prod(s) for s in tensors.values())
    assert (layer.buffers, layer.macs) == (0, 0)  # norms count no MACs, as layer_norm


def test_names_resolve_as_pytorch_spells_them():
    for spelling in ("rms_norm", "RMSNorm", "rmsnorm", "RmsNorm"):
        assert REGISTRY.get(spelling).name == "rms_norm"
    for spelling in ("layer_norm2d", "LayerNorm2d", "layernorm2d"):
        assert REGISTRY.get(spelling).name == "layer_norm2d"
    assert REGISTRY.get("layer_norm").name == "layer_norm"  # unchanged


def test_they_are_no_longer_listed_as_unsupported():
    for spelling in ("RMSNorm", "rms_norm", "LayerNorm2d", "layer_norm2d", "GELU"):
        assert REGISTRY.normalize(spelling) not in UNSUPPORTED


def test_a_convnext_stage_and_a_llama_block_count_as_torch_does():
    # torchvision ConvNeXt-T stem + one downsample: Conv2d(3, 96, 4, 4) LayerNorm2d(96,
    # eps=1e-6), then LayerNorm2d(96) Conv2d(96, 192, 2, 2)
    net = net_of("""\
        input: [1, 3, 224, 224]
        layers:
          - conv2d: {out_channels: 96, kernel_size: 4, stride: 4}
          - layer_norm2d: {eps: 1e-6}
          - layer_norm2d: {eps: 1e-6}
          - conv2d: {out_channels: 192, kernel_size: 2, stride: 2}
        """)
    assert [list(layer.output) for layer in net.layers][-1] == [1, 192, 28, 28]
    assert sum(layer.params for layer in net.layers) == (96 * 48 + 96) + 2 * 192 + (192 * 384 + 192)
    # an RMSNorm-ed pre-norm MLP as LLaMA's (d 64, F 172): two norms of d
    net = net_of("""\
        input: [2, 16, 64]
        layers:
          - rms_norm: {name: input_layernorm, normalized_shape: [in_shape(-1)], eps: 1e-6}
          - linear: {out_features: 172, bias: false}
          - gelu: {approximate: tanh}
          - linear: {out_features: 64, bias: false}
          - rms_norm: {name: norm, normalized_shape: [64]}
        """)
    assert sum(layer.params for layer in net.layers) == 64 + 64 * 172 * 2 + 64


def test_json_shows_the_arguments_worth_a_column(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text(
        "input: [2, 8, 5, 6]\nlayers:\n"
        "  - rms_norm: {normalized_shape: [6]}\n"
        "  - rms_norm: {normalized_shape: [6], eps: 1e-5}\n"
        "  - layer_norm2d\n"
        "  - layer_norm2d: {eps: 1e-6}\n"
        "  - layer_norm2d: {normalized_shape: [6, 8]}\n"
        "  - gelu: {approximate: tanh}\n"
    )
    r = cli_runner().invoke(main, ["shape", "--format", "json", str(path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [layer["type"] for layer in data["layers"]] == ["rms_norm"] * 2 + [
        "layer_norm2d"
    ] * 3 + ["gelu"]
    assert [layer["args"] for layer in data["layers"]] == [
        "",
        "eps=1e-05",
        "",
        "eps=1e-06",
        "over [6, 8]",
        "approximate=tanh",
    ]
    totals = {k: data["totals"][k] for k in ("params", "trainable", "buffers", "macs")}
    assert totals == {"params": 6 + 6 + 16 + 16 + 96, "trainable": 140, "buffers": 0, "macs": 0}


def test_the_catalogue_documents_them():
    r = cli_runner().invoke(
        main,
        ["layers", "rms_norm", "layer_norm2d", "gelu", "--format", "json"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    entries = {e["type"]: e for e in json.loads(r.stdout)}
    args = {k: [(a["name"], a["default"]) for a in e["args"]] for k, e in entries.items()}
    assert args["rms_norm"] == [
        ("normalized_shape", "none"),
        ("eps", "none"),
        ("elementwise_affine", "true"),
    ]
    assert args["layer_norm2d"] == [
        ("normalized_shape", "inferred"),
        ("eps", "1e-05"),
        ("elementwise_affine", "true"),
        ("bias", "true"),
    ]
    assert args["gelu"] == [("approximate", "none")]
    assert entries["gelu"]["args"][0]["choices"] == ["none", "tanh"]
    assert entries["rms_norm"]["pytorch"] == "torch.nn.RMSNorm"
    assert entries["layer_norm2d"]["pytorch"] == "torchvision.models.convnext.LayerNorm2d"
    assert entries["rms_norm"]["family"] == entries["layer_norm2d"]["family"] == "normalization"


def test_receptive_fields_pass_through_as_layer_norm():
    net = net_of("""\
        input: [1, 3, 32, 32]
        layers:
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
          - layer_norm2d
          - rms_norm: {normalized_shape: [32]}
          - gelu: {approximate: tanh}
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
          - layer_norm: {normalized_shape: [32]}
        """)
    sizes = [
        None if f.fields is None else tuple(x.size for x in f.fields) for f in receptive_fields(net)
    ]
    assert sizes == [(3, 3)] * 4 + [(5, 5)] * 2


# -- refusals, located at the argument (or the entry) with PyTorch's reason ------------------

REFUSALS = {
    # name: spec, code, line, marker (column = its first character), words of the message
    "rms-last-dim-mismatch": (
        """\
        input: [2, 3, 4]
        layers:
          - rms_norm: {normalized_shape: [5]}
        """,
        "shape-mismatch",
        3,
        "[5]",
        "Given normalized_shape=[5], expected input with "
        "shape [*5], but got input of size[2, 3, 4]",
    ),
    "rms-two-dims-mismatch": (
        """\
        input: [2, 3, 4]
        layers:
          - rms_norm: {normalized_shape: [3, 5]}
        """,
        "shape-mismatch",
        3,
        "[3, 5]",
        "expected input with shape [*3, 5]",
    ),
    "rms-longer-than-input": (
        """\
        input: [3, 4]
        layers:
          - rms_norm: {normalized_shape: [2, 3, 4]}
        """,
        "shape-mismatch",
        3,
        "[2, 3, 4]",
        "Input tensor must have at least 3 dimensions, but got 2",
    ),
    "rms-default-on-1d": (
        """\
        input: [4]
        layers:
          - rms_norm
        """,
        "bad-rank",
        3,
        "rms_norm",
        "default normalized_shape is every dim but the batch",
    ),
    "rms-empty-shape": (
        """\
        input: [2, 4]
        layers:
          - rms_norm: {normalized_shape: []}
        """,
        "bad-value",
        3,
        "[]",
        "must not be an empty list",
    ),
    "rms-has-no-bias": (
        """\
        input: [2, 4]
        layers:
          - rms_norm: {normalized_shape: [4], bias: false}
        """,
        "unknown-argument",
        3,
        "bias",
        "bias",
    ),
    "rms-zero-size": (
        """\
        input: [2, 4]
        layers:
          - rms_norm: {normalized_shape: [0]}
        """,
        "bad-value",
        3,
        "0]",
        "at least 1",
    ),
    "ln2d-3d": (
        """\
        input: [96, 7, 7]
        layers:
          - layer_norm2d
        """,
        "bad-rank",
        3,
        "layer_norm2d",
        "input.dim() = 3 is not equal to len(dims) = 4",
    ),
    "ln2d-5d": (
        """\
        input: [1, 4, 5, 6, 7]
        layers:
          - layer_norm2d: {eps: 1e-6}
        """,
        "bad-rank",
        3,
        "layer_norm2d",
        "needs a 4-d input (N, C, H, W), got 5-d",
    ),
    "ln2d-2d": (
        """\
        input: [2, 4]
        layers:
          - layer_norm2d
        """,
        "bad-rank",
        3,
        "layer_norm2d",
        "input.dim() = 2 is not equal to len(dims) = 4",
    ),
    "ln2d-wrong-channels": (
        """\
        input: [1, 4, 5, 6]
        layers:
          - layer_norm2d: {normalized_shape: 3}
        """,
        "shape-mismatch",
        3,
        "3}",
        "Given normalized_shape=[3], expected input with "
        "shape [*, 3], but got input of size[1, 5, 6, 4]",
    ),
    "ln2d-channels-first-order": (
        """\
        input: [1, 4, 5, 6]
        layers:
          - layer_norm2d: {normalized_shape: [4, 5, 6]}
        """,
        "shape-mismatch",
        3,
        "[4, 5, 6]",
        "(the input [1, 4, 5, 6] permuted to (N, H, W, C))",
    ),
    "ln2d-five-entries": (
        """\
        input: [1, 4, 5, 6]
        layers:
          - layer_norm2d: {normalized_shape: [1, 1, 5, 6, 4]}
        """,
        "shape-mismatch",
        3,
        "[1, 1",
        "expected input with shape [*, 1, 1, 5, 6, 4]",
    ),
    "gelu-word": (
        """\
        input: [2, 3]
        layers:
          - gelu: {approximate: Tanh}
        """,
        "bad-value",
        3,
        "Tanh",
        "approximate argument must be either none or tanh.",
    ),
    "gelu-null": (
        """\
        input: [2, 3]
        layers:
          - gelu: {approximate: null}
        """,
        "bad-value",
        3,
        "null",
        "approximate needs a value",
    ),
    "gelu-bool": (
        """\
        input: [2, 3]
        layers:
          - gelu: {approximate: true}
        """,
        "bad-value",
        3,
        "true",
        "approximate argument must be either none or tanh.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_located(case):
    text, code, line, marker, words = REFUSALS[case]
    d = assert_located(text, code, line, marker)
    assert words in d.message, d.message


def test_refusals_hint_what_to_write():
    d = assert_located(REFUSALS["rms-last-dim-mismatch"][0], "shape-mismatch", 3, "[5]")
    assert d.hint == "normalized_shape: [4] normalises the last dim (write [in_shape(-1)])"
    d = assert_located(REFUSALS["ln2d-3d"][0], "bad-rank", 3, "layer_norm2d")
    assert d.hint == "an unbatched (C, H, W) map needs a batch dim: reshape: {shape: [1, 96, 7, 7]}"
    d = assert_located(REFUSALS["ln2d-wrong-channels"][0], "shape-mismatch", 3, "3}")
    assert d.hint.startswith("normalized_shape: [4] (the channels)")
    d = assert_located(REFUSALS["gelu-word"][0], "bad-value", 3, "Tanh")
    assert d.hint == "did you mean 'tanh'?"


def test_a_located_refusal_through_the_cli(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text(
        "input: [2, 10, 64]\nlayers:\n  - rms_norm: {normalized_shape: [10]}\n"
        "  - gelu: {approximate: erf}\n"
    )
    r = cli_runner().invoke(main, ["shape", str(path)], catch_exceptions=False)
    assert r.exit_code == 1
    assert (
        f"{path}:3:34: error: normalized_shape [10] must match the last "
        "dims of the input [2, 10, 64] (PyTorch: Given normalized_shape=[10], expected "
        "input with shape [*10], but got input of size[2, 10, 64])"
    ) in r.stderr
    path.write_text("input: [2, 10, 64]\nlayers:\n  - gelu: {approximate: erf}\n")
    r = cli_runner().invoke(main, ["shape", str(path)], catch_exceptions=False)
    assert r.exit_code == 1
    assert (
        f"{path}:3:25: error: approximate must be one of none, tanh, got "
        "'erf' (PyTorch: approximate argument must be either none or tanh.)"
    ) in r.stderr


# -- verify ------------------------------------------------------------------------------

VERIFIED = """\
input: [2, 8, 5, 6]
layers:
  - conv2d: {out_channels: 12, kernel_size: 3, padding: 1}
  - layer_norm2d: {name: norm, eps: 1e-6}
  - gelu: {approximate: tanh}
  - layer_norm2d: {name: wide, normalized_shape: [6, 12], bias: false}
  - gelu
  - rms_norm: {name: rms, normalized_shape: [in_shape(-1)]}
  - rms_norm: {name: plain, normalized_shape: [5, 6], elementwise_affine: false, eps: 1e-5}
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_verify_passes_and_saves_state_dict_keys(tmp_path, dtype):
    path = tmp_path / "n.yaml"
    path.write_text(VERIFIED)
    out = tmp_path / "n.npz"
    r = cli_runner().invoke(
        main, ["verify", str(path), "--dtype", dtype, "--save", str(out)], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        shapes = {k: z[k].shape for k in z.files}
        assert z["output"].dtype == dtype
        assert np.isfinite(z["output"]).all()
    assert shapes == {
        "input": (2, 8, 5, 6),
        "output": (2, 12, 5, 6),
        "0.weight": (12, 8, 3, 3),
        "0.bias": (12,),
        "norm.weight": (12,),
        "norm.bias": (12,),
        "wide.weight": (6, 12),
        "rms.weight": (6,),
    }


def _forward(entry, x, weights=None, **kw):
    layer = one_layer(entry, list(x.shape))
    return layer, np.asarray(layer.type.forward(layer.args, [x], weights or {}))


def test_rms_norm_forward_is_the_formula():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    w = rng.random((4, 5)).astype(np.float32) + 0.5
    _, y = _forward("rms_norm: {normalized_shape: [4, 5]}", x, {"weight": w})
    x64 = x.astype(np.float64)
    ms = (x64**2).mean(axis=(1, 2), keepdims=True)
    eps = float(np.finfo(np.float32).eps)  # eps None: the dtype's machine epsilon
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x64 / np.sqrt(ms + eps) * w, rtol=1e-5, atol=1e-6)
    # float64 input: float64's epsilon; an all-zero row stays 0 (eps keeps it finite)
    z = np.zeros((2, 3))
    _, y = _forward("rms_norm: {normalized_shape: [3], elementwise_affine: false}", z)
    assert y.dtype == np.float64 and not y.any()
    _, y = _forward(
        "rms_norm: {normalized_shape: [3], eps: 0.5, elementwise_affine: false}", np.ones((2, 3))
    )
    np.testing.assert_allclose(y, 1 / np.sqrt(1.5))


def test_layer_norm2d_forward_is_layer_norm_of_the_permute():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 3, 5)).astype(np.float64)
    nhwc = x.transpose(0, 2, 3, 1)
    for ns in ([4], [5, 4], [3, 5, 4], [2, 3, 5, 4]):
        w = rng.random(ns) + 0.5
        b = rng.random(ns) - 0.5
        _, y = _forward(
            f"layer_norm2d: {{normalized_shape: {ns}, eps: 1e-6}}", x, {"weight": w, "bias": b}
        )
        axes = tuple(range(4 - len(ns), 4))
        mean = nhwc.mean(axis=axes, keepdims=True)
        var = nhwc.var(axis=axes, keepdims=True)
        expected = ((nhwc - mean) / np.sqrt(var + 1e-6) * w + b).transpose(0, 3, 1, 2)
        assert y.flags.c_contiguous
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_gelu_forwards_are_the_formulas():
    x = np.linspace(-6, 6, 97)
    _, y = _forward("gelu: {approximate: tanh}", x.copy())
    c = math.sqrt(2 / math.pi)
    np.testing.assert_allclose(
        y, 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3))), rtol=1e-12, atol=1e-15
    )
    _, y = _forward("gelu", x.copy())
    erf = np.vectorize(math.erf)
    # npops.erf is a float32-grade approximation (absolute error below 3e-7 here)
    np.testing.assert_allclose(y, 0.5 * x * (1 + erf(x / math.sqrt(2))), rtol=1e-6, atol=5e-7)


def test_verify_memory_estimate_covers_them():
    res = analyse_bytes(VERIFIED.encode(), "n.yaml")
    assert res.ok
    for layer in res.net.layers[1:]:
        assert layer.type.workspace(layer.args, layer.input_shapes, layer.output) >= 0
