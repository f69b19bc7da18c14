"""Compute, memory and receptive fields against independent arithmetic, published values
and a brute-force autograd computation of which input pixels reach an output pixel."""

import csv as _csv
import io as _io
import json as _json
import random
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import cli_runner, net_of

import layercalc.cli

from layercalc.analyses.loading import analyse, analyse_bytes
from layercalc.analyses.cost import cost
from layercalc.analyses.receptive import input_interval, receptive_fields
from layercalc.layers.conv import ConvTranspose

SPECS = Path(__file__).resolve().parent.parent / "specs"


def spec(name):
    r = analyse(str(SPECS / name))
    assert r.net is not None, r.diagnostics
    return r.net


def fields_of(net):
    return {x.name: x for x in receptive_fields(net)}


# -- MACs --------------------------------------------------------------------------------


def test_dcgan_discriminator_macs():
    # conv MACs = C_out * H_out * W_out * C_in * k * k, batch 1
    convs = [(64, 32, 3), (128, 16, 64), (256, 8, 128), (512, 4, 256), (1, 1, 512)]
    expected = sum(co * ho * ho * ci * 16 for co, ho, ci in convs)
    assert expected == 103_817_216
    c = cost(spec("dcgan_discriminator.yaml"))
    assert c.totals["macs"] == expected
    assert c.totals["flops"] == 2 * expected
    assert [x.macs for x in c.layers if x.type == "conv2d"] == [
        co * ho * ho * ci * 16 for co, ho, ci in convs
    ]


def test_dcgan_generator_transposed_macs_on_input_positions():
    c = cost(spec("dcgan_generator.yaml"))
    tconv = [x for x in c.layers if x.type == "conv_transpose2d"]
    # C_in * H_in * W_in * C_out * k * k: the work really done, not the output-side count
    # (torchinfo/thop report 134,217,728 = 4x this for a stride-2 layer)
    ins = [(100, 1, 512), (512, 4, 256), (256, 8, 128), (128, 16, 64), (64, 32, 3)]
    expected = [ci * h * h * co * 16 for ci, h, co in ins]
    assert [x.macs for x in tconv] == expected
    assert expected[1:4] == [33_554_432] * 3


def test_resnet50_macs_by_stage_arithmetic():
    net = spec("resnet50.yaml")
    total = 64 * 112 * 112 * 3 * 49  # stem conv
    c_in = 64
    for width, blocks, size in ((64, 3, 56), (128, 4, 28), (256, 6, 14), (512, 3, 7)):
        for b in range(blocks):
            inner = size * 2 if (b == 0 and width != 64) else size  # conv1 runs before the stride
            total += width * inner * inner * c_in  # conv1 1x1
            total += width * size * size * width * 9  # conv2 3x3 (strided in block 0)
            total += 4 * width * size * size * width  # conv3 1x1
            if b == 0:
                total += 4 * width * size * size * c_in  # downsample 1x1
            c_in = 4 * width
    total += 2048 * 1000  # fc
    assert cost(net).totals["macs"] == total == 4_089_184_256


# -- memory ------------------------------------------------------------------------------

SMALL = """
    input: [2, 3, 8, 8]
    layers:
      - conv2d: {name: a, out_channels: 4, kernel_size: 3, padding: 1}     # [2, 4, 8, 8]
      - batch_norm2d: {name: bn}
      - relu: {name: r}
      - conv2d: {name: b, out_channels: 4, kernel_size: 3, padding: 1, bias: false}
      - add: {name: s, from: [b, r]}
      - flatten: {name: f}
      - linear: {name: fc, out_features: 10}
"""


def test_memory_against_hand_computation():
    net = net_of(SMALL)
    c = cost(net)
    t = c.totals
    act = 2 * 4 * 8 * 8  # 512 elements for every 4-d activation
    # outputs: a, bn, r, b, s, f = 512 each, fc = 20
    assert [x.activation_elements for x in c.layers] == [act] * 6 + [20]
    assert [x.activation_bytes for x in c.layers] == [4 * act] * 6 + [80]
    params = (4 * 3 * 9 + 4) + 8 + (4 * 4 * 9) + (256 * 10 + 10)
    assert t["params"] == params
    assert t["param_bytes"] == 4 * params
    assert t["buffers"] == 9 and t["buffer_bytes"] == 4 * 8 + 8  # int64 counter
    assert t["input_bytes"] == 4 * 2 * 3 * 64
    assert t["training_activation_bytes"] == 4 * (384 + 6 * act + 20)
    # forward: r stays alive until s; peak when s is written: r, b, s alive
    assert t["inference_peak_activation_bytes"] == 4 * 3 * act
    # backward: grad(s) -> grads of b and r live with it, then freed in turn
    assert t["activation_gradient_peak_bytes"] == 4 * 3 * act
    assert t["gradient_bytes"] == 4 * params
    assert t["training_bytes"] == (
        t["param_bytes"]
        + t["buffer_bytes"]
        + 4 * params
        + t["training_activation_bytes"]
        + 4 * 3 * act
    )
    assert t["inference_bytes"] == t["param_bytes"] + t["buffer_bytes"] + 4 * 3 * act


def test_inference_peak_of_a_chain_is_the_largest_neighbour_pair():
    net = spec("dcgan_discriminator.yaml")
    t = cost(net).totals
    sizes = [3 * 64 * 64] + [
        layer.output[1] * layer.output[2] * layer.output[3] for layer in net.layers
    ]
    assert t["inference_peak_activation_bytes"] == 4 * max(a + b for a, b in zip(sizes, sizes[1:]))


def test_batch_scales_compute_and_activations_not_parameters():
    net = spec("dcgan_discriminator.yaml")
    one, many = cost(net).totals, cost(net, batch=8).totals
    for key in (
        "macs",
        "flops",
        "input_bytes",
        "activation_bytes",
        "training_activation_bytes",
        "inference_peak_activation_bytes",
        "activation_gradient_peak_bytes",
    ):
        assert many[key] == 8 * one[key], key
    for key in ("params", "param_bytes", "buffer_bytes", "gradient_bytes"):
        assert many[key] == one[key], key
    # the same as a spec whose input really has batch 8
    r = analyse(str(SPECS / "dcgan_discriminator.yaml"), input_override=(8, 3, 64, 64))
    assert cost(r.net).totals == many


def test_dtype_bytes_follow_the_spec():
    net = net_of("input: [1, 4]\ndtype: float16\nlayers:\n  - linear: {out_features: 2}\n")
    t = cost(net).totals
    assert t["param_bytes"] == 2 * 10 and t["input_bytes"] == 8 and t["activation_bytes"] == 4


# -- receptive fields --------------------------------------------------------------------


def test_resnet_stem():
    f = fields_of(spec("resnet50.yaml"))
    assert (f["conv1"].fields[0].size, f["conv1"].fields[0].jump) == (7, 2)
    mp = f["maxpool"].fields
    assert [(x.size, x.jump, x.start) for x in mp] == [(11, 4, -5)] * 2


RESNET50 = """
    name: ResNet-50, stride placement chosen by s_first
    vars: {s_first: 1}     # 1: torchvision v1.5 (stride on the 3x3); 2: the paper's v1
    input: [1, 3, 224, 224]
    blocks:
      bottleneck:
        args: {width: null, s1: 1, s3: 1, down: 0}
        layers:
          - conv2d: {name: conv1, out_channels: width, kernel_size: 1, stride: s1}
          - relu
          - conv2d: {name: conv2, out_channels: width, kernel_size: 3, stride: s3, padding: 1}
          - relu
          - conv2d: {name: conv3, out_channels: width * 4, kernel_size: 1}
          - conv2d: {name: downsample, from: input, out_channels: width * 4, kernel_size: 1,
                     stride: s1 * s3}
          - add: {from: [conv3, downsample]}
          - relu
      plain:
        args: {width: null}
        layers:
          - conv2d: {name: conv1, out_channels: width, kernel_size: 1}
          - relu
          - conv2d: {name: conv2, out_channels: width, kernel_size: 3, padding: 1}
          - relu
          - conv2d: {name: conv3, out_channels: width * 4, kernel_size: 1}
          - add: {from: [conv3, input]}
          - relu
    layers:
      - conv2d: {name: conv1, out_channels: 64, kernel_size: 7, stride: 2, padding: 3}
      - relu
      - max_pool2d: {name: maxpool, kernel_size: 3, stride: 2, padding: 1}
      - bottleneck: {width: 64}
      - plain: {width: 64, repeat: 2}
      - bottleneck: {width: 128, s1: s_first, s3: 2 // s_first}
      - plain: {width: 128, repeat: 3}
      - bottleneck: {width: 256, s1: s_first, s3: 2 // s_first}
      - plain: {width: 256, repeat: 5}
      - bottleneck: {width: 512, s1: s_first, s3: 2 // s_first}
      - plain: {width: 512, repeat: 2}
      - {type: relu, name: last}
"""


def _resnet(s_first):
    import textwrap

    r = analyse_bytes(textwrap.dedent(RESNET50).encode(), "r50.yaml", {"s_first": s_first})
    assert r.net is not None, r.diagnostics
    return r.net


def test_resnet50_final_receptive_field():
    # He et al.'s v1 (stride on the first 1x1, as Caffe and TF-slim resnet_v1_50 place
    # it): 483, the value Araujo et al. publish. torchvision's v1.5 moves the stride to
    # the 3x3, which runs at the finer jump: 483 - 2*(8 + 16 + 32)... = 427.
    v1 = fields_of(_resnet(2))["last"].fields
    v15 = fields_of(_resnet(1))["last"].fields
    assert [(x.size, x.jump) for x in v1] == [(483, 32)] * 2
    assert [(x.size, x.jump) for x in v15] == [(427, 32)] * 2
    # the torchvision-named spec agrees
    tv = fields_of(spec("resnet50.yaml"))["layer4.2.9"].fields
    assert [(x.size, x.jump, x.start) for x in tv] == [(427, 32, -213)] * 2


def test_resnet50_v15_by_trusted_arithmetic():
    # r = 11 after the stem (jump 4); every 3x3 adds 2 * its input jump
    r, j = 11, 4
    for blocks, stride in ((3, 1), (4, 2), (6, 2), (3, 2)):
        r += 2 * j  # first block's 3x3 sees the input jump
        j *= stride
        r += 2 * j * (blocks - 1)
    assert r == 427


def test_vgg16_published_fields():
    f = fields_of(spec("vgg16.yaml"))
    convs = [x for x in f.values() if x.type == "conv2d"]
    pools = [x for x in f.values() if x.type == "max_pool2d"]
    assert convs[-1].fields[0].size == 196  # conv5_3 (Araujo et al.: 196)
    assert pools[-1].fields[0].size == 212  # pool5 (Araujo et al.: 212)


def test_undefined_after_flatten_and_linear():
    f = receptive_fields(spec("lenet5.yaml"))
    assert f[0].fields[0].size == 5
    assert [x.fields for x in f[-5:]] == [None] * 5
    assert "flatten" in f[-1].note


def test_misaligned_branches_are_undefined():
    net = net_of("""
        input: [1, 1, 16, 16]
        layers:
          - conv2d: {name: a, out_channels: 1, kernel_size: 2, stride: 2}
          - upsample: {name: u, scale_factor: 2}
          - add: {from: [u, input]}
    """)
    assert receptive_fields(net)[-1].fields is None


def test_transposed_conv_dcgan_generator():
    f = receptive_fields(spec("dcgan_generator.yaml"))
    first = f[0].fields[0]
    assert (first.size, first.jump, first.start) == (4, 1, -3)  # k=4, s=1: like a conv
    second = f[3].fields[0]
    # k=4 s=2 p=1: every output reads 2 neighbouring inputs, outputs step half an input
    assert (second.size, second.jump, second.start) == (5, Fraction(1, 2), -4)


# -- brute force: which input positions does an output position depend on? ----------------

torch = pytest.importorskip("torch")


def _one_d_forward(net, axis, x):
    """The network reduced to one channel and one spatial axis, weights all 1."""
    import torch.nn.functional as F

    values = {"input": x}
    for layer in net.layers:
        xs = [values[n] for n in layer.inputs]
        if isinstance(layer.type, ConvTranspose):
            a = layer.args
            k, s, p, d, op = (a[key][axis] for key in ("_k", "_s", "_p", "_d", "_op"))
            y = F.conv_transpose1d(
                xs[0],
                torch.ones(1, 1, k, dtype=x.dtype),
                stride=s,
                padding=p,
                output_padding=op,
                dilation=d,
            )
        else:
            w = layer.type.window(layer.args, layer.input_shapes, layer.output)
            if w == ():
                n = min(t.shape[-1] for t in xs)
                y = sum(t[..., :n] for t in xs)
            else:
                k, s, p, d = w[axis]
                right = layer.args["_pads"][axis][1] if "_pads" in layer.args else p
                y = F.conv1d(
                    F.pad(xs[0], (p, right)),
                    torch.ones(1, 1, k, dtype=x.dtype),
                    stride=s,
                    dilation=d,
                )
        values[layer.name] = y
    return values


def brute_intervals(net, layer, axis, length, positions):
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = _one_d_forward(net, axis, x)[layer]
    out = {}
    for pos in positions:
        if pos >= y.shape[-1]:
            continue
        (g,) = torch.autograd.grad(y[0, 0, pos], x, retain_graph=True)
        nz = torch.nonzero(g[0, 0]).flatten().tolist()
        out[pos] = (nz[0], nz[-1]) if nz else None
    return out


def check_against_brute_force(net, length, layers=None, axis=0):
    fields = fields_of(net)
    affine = not any(isinstance(layer.type, ConvTranspose) for layer in net.layers)
    checked = 0
    for layer in net.layers:
        if layers is not None and layer.name not in layers:
            continue
        f = fields[layer.name].fields[axis]
        jump = f.jump
        # output positions whose whole field lies inside the input
        candidates = []
        for pos in range(4 * max(1, int(1 / jump)) + 400):
            iv = input_interval(net, layer.name, axis, pos)
            if iv is not None and iv[0] >= 0 and iv[1] < length:
                candidates.append(pos)
            if len(candidates) >= 40:
                break
        brute = brute_intervals(net, layer.name, axis, length, candidates)
        spans = []
        for pos, iv in brute.items():
            assert iv == input_interval(net, layer.name, axis, pos), (layer.name, pos)
            if iv is not None:
                spans.append(iv[1] - iv[0] + 1)
                if affine:  # closed form: start + pos * jump
                    assert iv[0] == f.start + pos * jump, (layer.name, pos)
        assert spans and max(spans) == f.size, (layer.name, spans, f)
        checked += 1
    return checked


def test_brute_force_resnet50_final_field():
    net = _resnet(2)
    assert check_against_brute_force(net, 1400, layers={"last", "maxpool"}) == 2
    net = _resnet(1)
    assert check_against_brute_force(net, 1400, layers={"last"}) == 1


def test_brute_force_unet_with_transposed_convs_and_skips():
    net = spec("unet.yaml")
    assert check_against_brute_force(net, 400) == len(net.layers)


def test_brute_force_dcgan_generator():
    net = net_of("""
        input: [1, 4, 40]
        layers:
          - conv_transpose1d: {out_channels: 4, kernel_size: 4, stride: 1}
          - conv_transpose1d: {out_channels: 4, kernel_size: 4, stride: 2, padding: 1}
          - relu
          - conv_transpose1d: {out_channels: 4, kernel_size: 4, stride: 2, padding: 1}
          - conv1d: {out_channels: 4, kernel_size: 3, padding: 1}
    """)
    assert check_against_brute_force(net, 40) == 5


def _random_chain(rng):
    lines = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(["conv", "conv", "tconv", "tconv", "pool"])
        k, s, d = rng.randint(1, 5), rng.randint(1, 3), rng.choice([1, 1, 2])
        if kind == "conv":
            p = rng.randint(0, k)
            lines.append(
                f"conv1d: {{out_channels: 1, kernel_size: {k}, stride: {s}, "
                f"padding: {p}, dilation: {d}}}"
            )
        elif kind == "tconv":
            p = rng.randint(0, (d * (k - 1)) // 2)
            op = rng.randint(0, max(s, d) - 1)
            lines.append(
                f"conv_transpose1d: {{out_channels: 1, kernel_size: {k}, stride: {s}, "
                f"padding: {p}, dilation: {d}, output_padding: {op}}}"
            )
        else:
            k = max(k, 2)
            p = rng.randint(0, (d * (k - 1) + 1) // 2)
            lines.append(
                f"max_pool1d: {{kernel_size: {k}, stride: {s}, padding: {p}, dilation: {d}}}"
            )
    return "input: [1, 1, 60]\nlayers:\n" + "".join(f"  - {x}\n" for x in lines)


@pytest.mark.parametrize("seed", range(40))
def test_brute_force_random_chains(seed):
    text = _random_chain(random.Random(seed))
    r = analyse_bytes(text.encode(), "chain.yaml")
    if r.net is None:
        pytest.skip("invalid random chain")
    fields = receptive_fields(r.net)
    if any(f.fields is None for f in fields):
        pytest.skip(fields[-1].note)
    fs = [x.fields[0] for x in fields]
    length = (
        60
        + 3 * max(f.size for f in fs)
        + 45 * max(f.jump for f in fs).__ceil__()
        + max(abs(f.start) for f in fs)
    )
    check_against_brute_force(r.net, length)


# -- CLI ---------------------------------------------------------------------------------


FORMATS = ("table", "json", "markdown", "csv")
DISC = str(SPECS / "dcgan_discriminator.yaml")


def run(*args):
    return cli_runner().invoke(layercalc.cli.main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_cost_every_format(fmt):
    r = run("cost", DISC, "--format", fmt)
    assert r.exit_code == 0, r.output
    if fmt == "json":
        data = _json.loads(r.output)
        assert data["totals"]["macs"] == 103_817_216
        assert data["totals"]["flops"] == 207_634_432
        assert data["legend"].startswith("MACs = multiply-accumulates")
        assert data["layers"][0]["activation_bytes"] == 64 * 32 * 32 * 4
    elif fmt == "csv":
        rows = list(_csv.DictReader(_io.StringIO(r.output)))
        assert sum(int(x["macs"]) for x in rows) == 103_817_216
    else:
        assert "103,817,216" in r.output and "207,634,432" in r.output
        assert (
            "MACs = multiply-accumulates; FLOPs = 2 × MACs; transposed conv counted on "
            "input positions" in r.output
        )
        assert "inference: peak activations 512.00 KiB" in r.output


def test_cli_cost_batch():
    data = _json.loads(run("cost", DISC, "--batch", "16", "--format", "json").output)
    assert data["batch"] == 16 and data["totals"]["macs"] == 16 * 103_817_216
    assert data["totals"]["param_bytes"] == 4 * 2_765_568


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_rf_every_format(fmt):
    r = run("rf", str(SPECS / "resnet50.yaml"), "--format", fmt)
    assert r.exit_code == 0, r.output
    if fmt == "json":
        layers = {x["name"]: x for x in _json.loads(r.output)["layers"]}
        assert layers["maxpool"]["fields"] == [{"size": 11, "jump": "4", "start": -5}] * 2
        assert layers["layer4.2.9"]["fields"][0]["size"] == 427
        assert layers["fc"]["fields"] is None
    elif fmt == "csv":
        rows = [x for x in _csv.DictReader(_io.StringIO(r.output)) if x["layer"] == "maxpool"]
        assert [(x["dim"], x["size"], x["jump"]) for x in rows] == [
            ("0", "11", "4"),
            ("1", "11", "4"),
        ]
    else:
        assert "maxpool" in r.output and "427" in r.output


def test_cli_rf_transposed_jump_is_a_fraction():
    data = _json.loads(run("rf", str(SPECS / "dcgan_generator.yaml"), "--format", "json").output)
    assert data["layers"][3]["fields"][0] == {"size": 5, "jump": "1/2", "start": -4}


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_explain_every_format(fmt):
    r = run("explain", DISC, "0", "--format", fmt)
    assert r.exit_code == 0, r.output
    if fmt == "json":
        e = _json.loads(r.output)["layers"][0]
        assert e["params"] == ["weight 4·4·3·64 = 3,072, no bias"]
        assert e["figures"]["dense_weights"] == 805_306_368
    else:
        assert "(64 + 2·1 − 4) / 2 + 1 = 32" in r.output
        assert "4·4·3·64 = 3,072" in r.output


def test_cli_explain_all_layers_and_unknown_layer():
    r = run("explain", DISC)
    assert r.exit_code == 0 and r.output.count("(conv2d)") == 5
    r = run("explain", DISC, "nope")
    assert r.exit_code == 2 and "no layer or group named 'nope'" in r.output


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_solve_every_format(fmt):
    r = run("solve", "--in", "64", "--out", "32", "--kernel", "4", "--format", fmt)
    assert r.exit_code == 0, r.output
    line = "nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)"
    if fmt == "json":
        s = _json.loads(r.output)["solutions"][0]
        assert (s["stride"], s["padding"], s["pytorch"]) == (2, 1, line)
    elif fmt == "csv":
        first = next(_csv.DictReader(_io.StringIO(r.output)))
        assert (first["stride"], first["padding"], first["pytorch"]) == ("2", "1", line)
    else:
        assert "kernel_size=4" in r.output and "padding=1" in r.output


def test_cli_solve_defaults_and_no_answer():
    r = run("solve", "--in", "32", "--out", "64", "--format", "json", "--limit", "1")
    data = _json.loads(r.output)
    assert data["type"] == "conv_transpose" and len(data["solutions"]) == 1
    r = run("solve", "--in", "4", "--out", "1000", "--type", "conv")
    assert r.exit_code == 1 and "no conv" in r.output


@pytest.mark.parametrize("cmd", ["cost", "rf", "explain"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_spec_errors_exit_1(cmd, fmt, spec_file):
    bad = spec_file("input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n")
    r = run(cmd, bad, "--format", fmt)
    assert r.exit_code == 1
    if fmt == "json":
        assert _json.loads(r.output)["errors"][0]["line"] == 3


def _autograd_field(model, x, at: int = 0):
    """(size, jump, start) along the last dim, by autograd, from outputs ``at`` and
    ``at + 1`` (away from the padding, whose positions autograd cannot see)."""
    y = model(x)
    seen = []
    for pos in (at, at + 1):
        (g,) = torch.autograd.grad(y[..., pos].sum(), x, retain_graph=True)
        nz = torch.nonzero(g.abs().reshape(-1, g.shape[-1]).sum(0)).flatten().tolist()
        seen.append((nz[0], nz[-1]))
    (a0, b0), (a1, _) = seen
    return b0 - a0 + 1, a1 - a0, a0 - at * (a1 - a0)


def test_fields_through_channel_moves_and_crops_match_autograd():
    """slice/roll/flip of the channels keep every position, a spatial slice is a crop
    (start + i·step)."""
    nn = torch.nn
    torch.manual_seed(0)
    c1, c2 = nn.Conv1d(16, 32, 5, padding=2), nn.Conv1d(28, 8, 3, stride=2)
    net = net_of("""\
        input: [1, 16, 50]
        layers:
          - conv1d: {out_channels: 32, kernel_size: 5, padding: 2}
          - slice: {dim: 1, start: 4}
          - roll: {shifts: 1, dims: 1}
          - flip: {dims: 1}
          - slice: {dim: 2, start: 3, end: 40, step: 2}
          - conv1d: {out_channels: 8, kernel_size: 3, stride: 2}
        """)
    (f,) = receptive_fields(net)[-1].fields
    x = torch.randn(1, 16, 50, requires_grad=True)
    want = _autograd_field(lambda x: c2(c1(x)[:, 4:].roll(1, 1).flip(1)[:, :, 3:40:2]), x)
    assert (f.size, f.jump, f.start) == want == (9, 4, 1)


def test_an_unbatched_input_has_one_spatial_dim_fewer_leads():
    """(C, L) is PyTorch's unbatched conv1d input: its field is L's (it said "no spatial
    dims"); a tensor move, which numbers dims as a batched input does, is left undefined."""
    nn = torch.nn
    c1, c2 = nn.Conv1d(16, 8, 5, stride=2), nn.Conv1d(8, 8, 3)
    net = net_of("""\
        input: [16, 50]
        layers:
          - conv1d: {out_channels: 8, kernel_size: 5, stride: 2}
          - conv1d: {out_channels: 8, kernel_size: 3}
          - flip: {dims: 0}
          - zero_pad1d: {padding: 2, from: 1}
          - conv1d: {out_channels: 8, kernel_size: 3}
        """)
    fields = receptive_fields(net)
    (f,) = fields[1].fields
    x = torch.randn(16, 50, requires_grad=True)
    assert (f.size, f.jump, f.start) == _autograd_field(lambda x: c2(c1(x)), x) == (9, 2, 0)
    assert fields[2].fields is None and "unbatched" in fields[2].note
    # a pad of the unbatched map's spatial dim is a window too (it was undefined)
    (f,) = fields[4].fields
    x = torch.randn(16, 50, requires_grad=True)
    c3 = nn.Conv1d(8, 8, 3)
    want = _autograd_field(lambda x: c3(torch.nn.functional.pad(c2(c1(x)), (2, 2))), x, at=5)
    assert (f.size, f.jump, f.start) == want
