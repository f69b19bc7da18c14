"""rms_norm, layer_norm2d and gelu's approximate against torch.nn.RMSNorm, torchvision's
LayerNorm2d and nn.GELU on seeded random configurations: output shapes, state_dict keys
and shapes, the forward with identical weights (verify --save loaded with
load_state_dict(strict=True)), and refusals (both refuse or both accept)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

nn = torch.nn
F = torch.nn.functional

try:
    from torchvision.models.convnext import LayerNorm2d
except ImportError:  # torchvision's class (torchvision/models/convnext.py), line for line

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            x = x.permute(0, 2, 3, 1)
            x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)


# -- random configurations ---------------------------------------------------------------


def _rms_case(rnd: random.Random):
    """(layercalc entry, input shape, torch module factory) for a valid rms_norm."""
    rank = rnd.randint(1, 4)
    shape = [rnd.randint(1, 6) for _ in range(rank)]
    entry = {"type": rnd.choice(["rms_norm", "RMSNorm"]), "name": "norm"}
    if rank >= 2 and rnd.random() < 0.25:
        ns = shape[1:]  # the default: every dim but the batch
    else:
        ns = shape[rank - rnd.randint(1, rank) :]
        entry["normalized_shape"] = ns if len(ns) > 1 or rnd.random() < 0.5 else ns[0]
    eps = rnd.choice([None, None, 1e-6, 1e-5, 0.1])
    if eps is not None or rnd.random() < 0.3:
        entry["eps"] = eps
    affine = rnd.random() < 0.8
    if not affine or rnd.random() < 0.3:
        entry["elementwise_affine"] = affine
    return entry, shape, lambda: nn.RMSNorm(ns, eps=eps, elementwise_affine=affine)


def _ln2d_case(rnd: random.Random):
    shape = [rnd.randint(1, 3), rnd.randint(1, 8), rnd.randint(1, 6), rnd.randint(1, 6)]
    nhwc = [shape[0], shape[2], shape[3], shape[1]]
    entry = {"type": rnd.choice(["layer_norm2d", "LayerNorm2d"]), "name": "norm"}
    k = rnd.choice([1, 1, 1, 2, 3, 4])
    ns = nhwc[4 - k :]
    if k > 1 or rnd.random() < 0.5:
        entry["normalized_shape"] = ns
    kw = {}
    for key, values in (
        ("eps", [1e-6, 1e-5, 0.5]),
        ("elementwise_affine", [True, False]),
        ("bias", [True, False]),
    ):
        if rnd.random() < 0.5:
            kw[key] = entry[key] = rnd.choice(values)
    return entry, shape, lambda: LayerNorm2d(ns, **kw)


def _gelu_case(rnd: random.Random):
    shape = [rnd.randint(1, 5) for _ in range(rnd.randint(1, 4))]
    approximate = rnd.choice(["none", "tanh", None])
    entry = {"type": rnd.choice(["gelu", "GELU"]), "name": "norm"}
    if approximate is not None:
        entry["approximate"] = approximate
    return entry, shape, lambda: nn.GELU(approximate=approximate or "none")


CASES = {"rms_norm": _rms_case, "layer_norm2d": _ln2d_case, "gelu": _gelu_case}


def _spec(entry: dict, shape) -> str:
    return json.dumps({"input": list(shape), "layers": [entry]})  # JSON is YAML


def _verify_save(tmp_path, text: str, dtype: str) -> dict:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    out = tmp_path / "out.npz"
    seed = str(random.Random(text).randint(0, 1000))
    r = cli_runner().invoke(
        main,
        ["verify", str(path), "--seed", seed, "--dtype", dtype, "--save", str(out)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


class _Net(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.norm = module

    def forward(self, x):
        return self.norm(x)


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("kind", list(CASES))
def test_random_configurations_match_torch(tmp_path, kind, seed):
    rnd = random.Random(f"{kind}-{seed}")
    entry, shape, make = CASES[kind](rnd)
    text = _spec(entry, shape)
    res = analyse_bytes(text.encode(), "t.yaml")
    assert res.ok, (text, [str(d) for d in res.diagnostics])
    (layer,) = res.net.layers
    net = _Net(make())
    # shapes and state_dict tensors
    sd = net.state_dict()
    assert {f"norm.{t.key}": tuple(t.shape) for t in layer.tensors} == {
        k: tuple(v.shape) for k, v in sd.items()
    }, text
    assert layer.params == sum(p.numel() for p in net.parameters())
    assert layer.buffers == 0 and layer.macs == 0
    # the forward, with verify's own weights and input
    dtype = rnd.choice(["float32", "float64"])
    arrays = _verify_save(tmp_path, text, dtype)
    if dtype == "float64":
        net = net.double()
    net.load_state_dict({k: torch.from_numpy(arrays[k]) for k in sd}, strict=True)
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(arrays["input"])).numpy()
    assert tuple(layer.output) == expected.shape == arrays["output"].shape
    assert arrays["output"].dtype == expected.dtype
    tol = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}[dtype]
    if kind == "gelu" and layer.args["approximate"] == "none":
        tol = (max(tol[0], 1e-5), max(tol[1], 5e-7))  # npops.erf: float32-grade everywhere
    np.testing.assert_allclose(arrays["output"], expected, rtol=tol[0], atol=tol[1], err_msg=text)


# -- refusals: layercalc refuses exactly what torch refuses ------------------------------


def _torch_refuses(make, shape) -> bool:
    try:
        module = make()
        with torch.no_grad():
            module(torch.randn(*shape))
    except (RuntimeError, ValueError, TypeError, IndexError):
        return True
    return False


def _rms_any(rnd):
    rank = rnd.randint(1, 4)
    shape = [rnd.randint(1, 4) for _ in range(rank)]
    k = rnd.choice([0, *[rnd.randint(1, rank)] * 6, rank + 1])  # [] and too long: rarely
    ns = [
        rnd.randint(0, 4) if rnd.random() < 0.15 else d
        for d in (shape[rank - k :] if k <= rank else [1] * (k - rank) + shape)
    ]
    entry = {"rms_norm": {"normalized_shape": ns, "eps": rnd.choice([None, 1e-5, -1.0])}}
    return entry, shape, lambda: nn.RMSNorm(ns, eps=entry["rms_norm"]["eps"])


def _ln2d_any(rnd):
    rank = rnd.choice([2, 3, 4, 4, 4, 4, 4, 5])
    shape = [rnd.randint(1, 4) for _ in range(rank)]
    channels_last = [shape[0], *shape[2:], shape[1]] if rank >= 2 else shape
    k = rnd.randint(1, 5)
    ns = channels_last[max(0, len(channels_last) - k) :]
    if rnd.random() < 0.4:
        ns = ns[::-1] if rnd.random() < 0.5 else [rnd.randint(1, 4) for _ in ns]
    entry = {"layer_norm2d": {"normalized_shape": ns, "eps": rnd.choice([1e-5, -1.0])}}
    return entry, shape, lambda: LayerNorm2d(ns, eps=entry["layer_norm2d"]["eps"])


def _gelu_any(rnd):
    shape = [rnd.randint(1, 4) for _ in range(rnd.randint(1, 3))]
    word = rnd.choice(["none", "tanh", "none", "tanh", "Tanh", "NONE", "erf", "None"])
    return {"gelu": {"approximate": word}}, shape, lambda: nn.GELU(approximate=word)


ANY = {"rms_norm": _rms_any, "layer_norm2d": _ln2d_any, "gelu": _gelu_any}


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("kind", list(ANY))
def test_refuses_what_torch_refuses(kind, seed):
    rnd = random.Random(f"any-{kind}-{seed}")
    entry, shape, make = ANY[kind](rnd)
    text = _spec(entry, shape)
    res = analyse_bytes(text.encode(), "t.yaml")
    refused = _torch_refuses(make, shape)
    assert res.ok != refused, (text, refused, [str(d) for d in res.diagnostics])
    if not res.ok:
        (d,) = res.diagnostics
        assert d.line == 1 and d.column > 1  # located at the entry or its argument


@pytest.mark.parametrize("shape", [[96, 7, 7], [2, 96], [1, 96, 2, 7, 7]])
def test_layer_norm2d_off_4d_fails_in_torchvision_as_said(shape):
    with pytest.raises(
        RuntimeError, match=f"input.dim\\(\\) = {len(shape)} is not equal to len\\(dims\\) = 4"
    ):
        LayerNorm2d(96)(torch.randn(*shape))
    res = analyse_bytes(_spec({"layer_norm2d": None}, shape).encode(), "t.yaml")
    (d,) = res.diagnostics
    assert d.code == "bad-rank"
    assert f"input.dim() = {len(shape)} is not equal to len(dims) = 4" in d.message


def test_torchs_own_words_are_quoted():
    cases = [
        (
            lambda: nn.RMSNorm([5])(torch.randn(2, 3, 4)),
            {"rms_norm": {"normalized_shape": [5]}},
            [2, 3, 4],
        ),
        (
            lambda: nn.RMSNorm([2, 3, 4])(torch.randn(3, 4)),
            {"rms_norm": {"normalized_shape": [2, 3, 4]}},
            [3, 4],
        ),
        (
            lambda: LayerNorm2d(3)(torch.randn(1, 4, 5, 6)),
            {"layer_norm2d": {"normalized_shape": 3}},
            [1, 4, 5, 6],
        ),
        (lambda: nn.GELU(approximate="erf")(torch.randn(2)), {"gelu": {"approximate": "erf"}}, [2]),
    ]
    for run, entry, shape in cases:
        with pytest.raises((RuntimeError, ValueError)) as info:
            run()
        words = str(info.value).splitlines()[0]
        (d,) = analyse_bytes(_spec(entry, shape).encode(), "t.yaml").diagnostics
        assert f"(PyTorch: {words})" in d.message, (words, d.message)


# -- a ConvNeXt block and a pre-norm MLP, end to end ------------------------------------------

CONVNEXT = """\
input: [2, 3, 32, 32]
layers:
  - sequential:
      name: stem
      layers:
        - conv2d: {out_channels: 16, kernel_size: 4, stride: 4}
        - layer_norm2d: {eps: 1e-6}
  - conv2d: {name: dw, out_channels: 16, kernel_size: 7, padding: 3, groups: 16}
  - layer_norm2d: {name: norm, eps: 1e-6}
  - conv2d: {name: pw1, out_channels: 64, kernel_size: 1}
  - gelu
  - conv2d: {name: pw2, out_channels: 16, kernel_size: 1}
  - rms_norm: {name: rms, normalized_shape: [in_shape(-1)]}
  - gelu: {name: act, approximate: tanh}
"""


class _ConvNeXtish(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 4, 4), LayerNorm2d(16, eps=1e-6))
        self.dw = nn.Conv2d(16, 16, 7, padding=3, groups=16)
        self.norm = LayerNorm2d(16, eps=1e-6)
        self.pw1 = nn.Conv2d(16, 64, 1)
        self.pw2 = nn.Conv2d(64, 16, 1)
        self.rms = nn.RMSNorm([8])
        self.act = nn.GELU(approximate="tanh")

    def forward(self, x):
        x = self.norm(self.dw(self.stem(x)))
        x = self.pw2(F.gelu(self.pw1(x)))
        return self.act(self.rms(x))


def test_a_convnext_like_network_round_trips(tmp_path):
    arrays = _verify_save(tmp_path, CONVNEXT, "float32")
    net = _ConvNeXtish().eval()
    sd = net.state_dict()
    assert set(arrays) - {"input", "output"} == set(sd)
    net.load_state_dict({k: torch.from_numpy(arrays[k]) for k in sd}, strict=True)
    with torch.no_grad():
        expected = net(torch.from_numpy(arrays["input"])).numpy()
    np.testing.assert_allclose(arrays["output"], expected, rtol=1e-4, atol=1e-5)
    res = analyse_bytes(CONVNEXT.encode(), "t.yaml")
    assert sum(layer.params for layer in res.net.layers) == sum(p.numel() for p in net.parameters())
