"""`layercalc verify`: exit codes, failures, the memory refusal, and --save round trips
into PyTorch models that load the arrays with load_state_dict(strict=True)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.units import parse_bytes as parse_size

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

SMALL_RESNET = """\
name: small ResNet-18
vars: {w: 8, num_classes: 10}
input: [2, 3, 32, 32]
blocks:
  basic:
    args: {channels: null}
    layers:
      - conv2d: {name: conv1, out_channels: channels, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn1}
      - relu
      - conv2d: {name: conv2, out_channels: channels, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn2}
      - add: {from: [bn2, input]}
      - relu
  basic_down:
    args: {channels: null, stride: 2}
    layers:
      - conv2d: {name: conv1, out_channels: channels, kernel_size: 3, stride: stride,
                 padding: 1, bias: false}
      - batch_norm2d: {name: bn1}
      - relu
      - conv2d: {name: conv2, out_channels: channels, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn2}
      - sequential:
          name: downsample
          from: input
          layers:
            - conv2d: {out_channels: channels, kernel_size: 1, stride: stride, bias: false}
            - batch_norm2d
      - add: {from: [bn2, downsample]}
      - relu
layers:
  - conv2d: {name: conv1, out_channels: w, kernel_size: 7, stride: 2, padding: 3, bias: false}
  - batch_norm2d: {name: bn1}
  - relu: {name: relu}
  - max_pool2d: {name: maxpool, kernel_size: 3, stride: 2, padding: 1}
  - basic: {name: layer1, channels: w, repeat: 2}
  - sequential:
      name: layer2
      layers: [basic_down: {channels: w * 2}, basic: {channels: w * 2}]
  - sequential:
      name: layer3
      layers: [basic_down: {channels: w * 4}, basic: {channels: w * 4}]
  - sequential:
      name: layer4
      layers: [basic_down: {channels: w * 8}, basic: {channels: w * 8}]
  - adaptive_avg_pool2d: {name: avgpool, output_size: [1, 1]}
  - flatten: {name: flatten}
  - linear: {name: fc, out_features: num_classes}
"""


def load(path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data}


def invoke(*args, **kw):
    return cli_runner().invoke(main, ["verify", *map(str, args)], catch_exceptions=False, **kw)


def write(tmp_path, text, name="t.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# -- the command --------------------------------------------------------------------------


def test_dcgan_discriminator_agrees():
    r = invoke(SPECS / "dcgan_discriminator.yaml")
    assert r.exit_code == 0, r.output
    assert "✓ all 13 layers agree" in r.output
    assert "2,765,568 params" in r.output and "1,795 buffers" in r.output


def test_json_and_several_specs(tmp_path):
    p = write(tmp_path, SMALL_RESNET)
    r = invoke(SPECS / "dcgan_discriminator.yaml", p, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [d["ok"] for d in data] == [True, True]
    assert data[0]["layers"][0] == {
        **data[0]["layers"][0],
        "name": "0",
        "type": "conv2d",
        "expected": [1, 64, 32, 32],
        "actual": [1, 64, 32, 32],
        "params": 3072,
        "params_actual": 3072,
        "ok": True,
    }
    assert data[1]["layers"][-1]["actual"] == [2, 10]


def test_spec_error_exit_1_and_other_files_still_run(tmp_path):
    bad = write(tmp_path, "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4}\n")
    r = invoke(bad, SPECS / "dcgan_discriminator.yaml")
    assert r.exit_code == 1
    assert "error: " in r.output and "[missing-argument]" in r.output
    assert "✓ all 13 layers agree" in r.output


def test_failing_layer_is_reported(monkeypatch):
    from layercalc.layers.norm import BatchNorm

    monkeypatch.setattr(BatchNorm, "forward", lambda self, a, xs, w: xs[0][:, :1])
    r = invoke(SPECS / "dcgan_discriminator.yaml")
    assert r.exit_code == 1
    # 3 and 4 have the wrong shape, the conv at 5 refuses it, 6..12 cannot run
    assert "✗ 10 of 13 layers disagree" in r.output
    assert "[1, 1, 16, 16]" in r.output and "not run: 5 failed" in r.output


def test_wrong_counts_fail(monkeypatch):
    from layercalc.analyses import verify
    from layercalc.graph import Layer

    real = verify._Fill.__call__

    def short(self, tensor, layer):
        arr = real(self, tensor, layer)
        return arr[:-1] if tensor.key == "running_mean" else arr

    monkeypatch.setattr(verify._Fill, "__call__", short)
    r = invoke(SPECS / "dcgan_discriminator.yaml", "--format", "json")
    assert r.exit_code == 1
    bad = [layer for layer in json.loads(r.output)["layers"] if not layer["ok"]]
    assert bad and bad[0]["buffers_actual"] == bad[0]["buffers"] - 1
    assert Layer  # the graph type is untouched


def test_save_needs_one_spec(tmp_path):
    r = invoke(
        SPECS / "dcgan_discriminator.yaml",
        SPECS / "dcgan_discriminator.yaml",
        "--save",
        tmp_path / "x.npz",
    )
    assert r.exit_code == 2
    assert "exactly one SPEC" in r.output
    assert not (tmp_path / "x.npz").exists()


def test_bad_max_memory():
    r = invoke(SPECS / "dcgan_discriminator.yaml", "--max-memory", "lots")
    assert r.exit_code == 2 and "512MiB" in r.output


@pytest.mark.parametrize(
    "text,value",
    [("512MiB", 2**29), ("2GiB", 2**31), ("1.5GB", 1.5e9), ("100", 100), ("64 kib", 65536)],
)
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_memory_refusal_is_located_and_fast(tmp_path):
    p = write(
        tmp_path,
        """\
        name: big
        input:
          [64, 3, 1024, 1024]
        layers:
          - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
          - relu
        """,
    )
    r = invoke(p, "--max-memory", "512MiB")
    assert r.exit_code == 1
    assert f"{p}:3:3: error: " in r.output and "[memory-limit]" in r.output
    assert "GiB" in r.output and "512.00 MiB" in r.output
    # the default limit, 2 GiB, refuses it too, and before importing numpy
    code = (
        "import sys; from layercalc.cli import main\n"
        "try:\n    main(['verify', sys.argv[1]])\n"
        "except SystemExit as e:\n    assert e.code == 1, e.code\n"
        "assert 'numpy' not in sys.modules"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(p)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "memory-limit" in out.stdout + out.stderr


@pytest.mark.parametrize(
    "shape, w_shape, s, d, groups",
    [
        ((2, 4, 9, 11), (6, 4, 3, 3), (1, 1), (1, 1), 1),
        ((3, 4, 13, 7), (8, 2, 3, 2), (2, 1), (1, 2), 2),
        ((1, 3, 17), (5, 3, 4), (3,), (2,), 1),
        ((2, 2, 6, 7, 5), (4, 2, 3, 2, 2), (1, 2, 1), (1, 1, 2), 1),
    ],
)
@pytest.mark.parametrize("max_cols", [1, 50, 400])
def test_conv_in_slices_equals_conv_at_once(shape, w_shape, s, d, groups, max_cols):
    """Large maps are convolved a slice of samples or output rows at a time (bounded
    im2col); every slicing gives the same numbers as one im2col of the whole input."""
    from layercalc.layers import npops

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(w_shape)
    whole = npops.conv(x, w, s, d, groups, max_cols=10**12, loop_taps=0)
    np.testing.assert_allclose(npops.conv(x, w, s, d, groups, max_cols, 0), whole, rtol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    "shape, k, s, p, d, ceil",
    [
        ((2, 3, 11, 9), (3, 2), (2, 1), (1, 1), (1, 2), False),
        ((1, 2, 13), (5,), (3,), (2,), (2,), True),
        ((1, 2, 7, 6, 8), (2, 3, 2), (2, 2, 3), (1, 1, 0), (1, 1, 1), True),
    ],
)
def test_pooling_by_reduction_equals_pooling_tap_by_tap(kind, shape, k, s, p, d, ceil):
    """Large kernels pool in one reduction over a strided view of the windows, small
    ones offset by offset: the same numbers, padding and ceil_mode included."""
    from layercalc.arith import pool_output_size
    from layercalc.layers import npops

    x = np.random.default_rng(1).standard_normal(shape)
    out = tuple(pool_output_size(n, *a, ceil) for n, *a in zip(shape[2:], k, s, p, d))
    for include in (True, False):
        args = (x, kind, k, s, p, d, out, ceil, include, None)
        np.testing.assert_allclose(
            npops.pool(*args, loop_taps=0), npops.pool(*args, loop_taps=10**6), rtol=1e-12
        )


@pytest.mark.parametrize("k, groups", [((3, 3), 4), ((5,), 6)])
def test_depthwise_conv_by_im2col_equals_tap_by_tap(k, groups):
    from layercalc.layers import npops

    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, groups) + (9,) * len(k))
    w = rng.standard_normal((2 * groups, 1) + k)
    s, d = (1,) * len(k), (2,) * len(k)
    np.testing.assert_allclose(
        npops.conv(x, w, s, d, groups, 10**12, 0),
        npops.conv(x, w, s, d, groups, 10**12, 10**6),
        rtol=1e-12,
    )


def test_conv_workspace_is_bounded_by_the_slice_size():
    """U-Net's last 3x3 conv on a 1024x1024 map would need a 64*9*1024*1024-element im2col
    (2.25 GiB); sliced, the estimate holds one slice and its product."""
    from layercalc.layers.base import IM2COL_ELEMENTS

    net = one_conv(64, 1024)
    layer = net.layers[0]
    out = 64 * 1024 * 1024
    assert (
        layer.type.workspace(layer.args, layer.input_shapes, layer.output)
        == 64 * 1026 * 1026 + IM2COL_ELEMENTS + out
    )  # padded input + one slice + its product


@pytest.mark.parametrize(
    "spec, shape, slice_elements",
    [
        ("unet.yaml", (1, 3, 96, 96), 400_000),  # im2col in slices of 1.6 MB
        ("unet.yaml", (2, 3, 64, 64), None),
        ("resnet18.yaml", (1, 3, 96, 96), None),
        ("dcgan_generator.yaml", None, None),
        ("mobilenet_v2.yaml", (1, 3, 64, 64), None),
    ],
)
def test_memory_estimate_bounds_the_arrays_verify_allocates(
    spec, shape, slice_elements, monkeypatch
):
    """--max-memory refuses runs by the estimate, so it must not undercount: the peak
    of the allocations traced during the run stays within it, give or take 1 MiB for
    the interpreter's own objects (per-layer records, the random generator)."""
    import tracemalloc

    from layercalc.analyses import verify
    from layercalc.analyses.loading import analyse
    from layercalc.layers import conv

    if slice_elements:
        monkeypatch.setattr(conv, "IM2COL_ELEMENTS", slice_elements)
    net = analyse(str(SPECS / spec), input_override=shape).net
    estimate = verify.estimate_memory(net)
    tracemalloc.start()
    try:
        assert verify.run(net, seed=0).ok
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= estimate + 2**20, (peak, estimate)


def one_conv(c, size):
    from layercalc.analyses.loading import analyse_bytes

    text = (
        f"input: [1, {c}, {size}, {size}]\nlayers:\n"
        f"  - conv2d: {{out_channels: {c}, kernel_size: 3, padding: 1}}\n"
    )
    return analyse_bytes(text.encode(), "c.yaml").net


def test_embedding_input_is_indices(tmp_path):
    p = write(
        tmp_path,
        """\
        input: [2, 7]
        layers:
          - embedding: {num_embeddings: 50, embedding_dim: 8}
          - flatten
          - linear: {out_features: 3}
        """,
    )
    out = tmp_path / "e.npz"
    r = invoke(p, "--save", out)
    assert r.exit_code == 0, r.output
    data = load(out)
    assert data["input"].dtype == np.int64 and data["input"].max() < 50
    assert data["output"].shape == (2, 3)


def test_seed_and_dtype(tmp_path):
    spec = SPECS / "dcgan_discriminator.yaml"
    a, b, c, d = (tmp_path / f"{n}.npz" for n in "abcd")
    for path, extra in ((a, ()), (b, ()), (c, ("--seed", 7)), (d, ("--dtype", "float64"))):
        assert invoke(spec, "--save", path, *extra).exit_code == 0
    A, B, C, D = (load(p) for p in (a, b, c, d))
    assert sorted(A) == sorted(B)
    assert all(np.array_equal(A[k], B[k]) for k in A)
    assert not np.array_equal(A["input"], C["input"])
    assert D["0.weight"].dtype == np.float64 and A["0.weight"].dtype == np.float32
    assert D["3.num_batches_tracked"].shape == () and D["3.num_batches_tracked"].dtype == np.int64
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".layercalc-")]


def test_several_outputs_are_saved_by_name(tmp_path):
    p = write(
        tmp_path,
        """\
        input: [1, 4]
        outputs: [a, b]
        layers:
          - linear: {name: a, out_features: 3}
          - relu: {name: b}
        """,
    )
    out = tmp_path / "o.npz"
    assert invoke(p, "--save", out).exit_code == 0
    data = load(out)
    assert {"output.a", "output.b", "a.weight", "a.bias", "input"} == set(data)
    np.testing.assert_array_equal(np.maximum(data["output.a"], 0), data["output.b"])


# -- round trips into torch -----------------------------------------------------------------

torch_mark = pytest.mark.torch


def _torch():
    return pytest.importorskip("torch")


def roundtrip(model, path):
    torch = _torch()
    data = load(path)
    state = {
        k: torch.from_numpy(data[k]) for k in data if k != "input" and not k.startswith("output")
    }
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(data["input"])).numpy()
    ref = data["output"]
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(ref).max()))


def _save(spec, tmp_path):
    out = tmp_path / "w.npz"
    r = invoke(spec, "--save", out)
    assert r.exit_code == 0, r.output
    return out


def dcgan_discriminator(nc=3, ndf=64):
    nn = _torch().nn
    layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for m in (1, 2, 4):
        layers += [
            nn.Conv2d(ndf * m, ndf * m * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * m * 2),
            nn.LeakyReLU(0.2),
        ]
    layers += [nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*layers)


def dcgan_generator(nz=100, ngf=64, nc=3):
    nn = _torch().nn
    layers = [
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(),
    ]
    for m in (8, 4, 2):
        layers += [
            nn.ConvTranspose2d(ngf * m, ngf * m // 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * m // 2),
            nn.ReLU(),
        ]
    layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def resnet18(w=64, num_classes=1000):
    """torchvision's ResNet-18, written out (same state_dict keys)."""
    torch = _torch()
    nn = torch.nn

    class Basic(nn.Module):
        def __init__(self, cin, c, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.downsample = None
            if stride != 1 or cin != c:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c)
                )

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(w)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = nn.Sequential(Basic(w, w, 1), Basic(w, w, 1))
            self.layer2 = nn.Sequential(Basic(w, 2 * w, 2), Basic(2 * w, 2 * w, 1))
            self.layer3 = nn.Sequential(Basic(2 * w, 4 * w, 2), Basic(4 * w, 4 * w, 1))
            self.layer4 = nn.Sequential(Basic(4 * w, 8 * w, 2), Basic(8 * w, 8 * w, 1))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * w, num_classes)

        def forward(self, x):
            x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


@torch_mark
def test_roundtrip_dcgan_discriminator(tmp_path):
    roundtrip(dcgan_discriminator(), _save(SPECS / "dcgan_discriminator.yaml", tmp_path))


@torch_mark
def test_roundtrip_small_resnet18(tmp_path):
    roundtrip(resnet18(8, 10), _save(write(tmp_path, SMALL_RESNET), tmp_path))


@torch_mark
@pytest.mark.skipif(not (SPECS / "dcgan_generator.yaml").exists(), reason="no generator spec")
def test_roundtrip_dcgan_generator(tmp_path):
    roundtrip(dcgan_generator(), _save(SPECS / "dcgan_generator.yaml", tmp_path))


@torch_mark
@pytest.mark.skipif(not (SPECS / "resnet18.yaml").exists(), reason="no resnet18 spec")
def test_roundtrip_resnet18(tmp_path):
    roundtrip(resnet18(), _save(SPECS / "resnet18.yaml", tmp_path))
