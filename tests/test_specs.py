"""The spec library (specs/*.yaml): totals, buffers, output and per-layer shapes.

Every expected number here is computed independently -- from the formulas written out
below (PyTorch's, as in FORMULAS.md) or quoted from a published source (torchvision's
``num_params``, the PyTorch tutorials' printed counts) -- never copied from layercalc.
"""

import json
from pathlib import Path

import pytest
import yaml
from conftest import cli_runner

from layercalc.analyses.loading import analyse
from layercalc.cli import main

SPECS = Path(__file__).resolve().parent.parent / "specs"


# -- PyTorch's arithmetic, written out ---------------------------------------------------
def conv_out(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def convT_out(n, k, s=1, p=0, op=0, d=1):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_params(cin, cout, k, bias=True, groups=1, dims=2):
    return cout * (cin // groups) * k**dims + (cout if bias else 0)


def convT_params(cin, cout, k, bias=True, dims=2):
    return cin * cout * k**dims + (cout if bias else 0)


def linear_params(i, o):
    return i * o + o


def bn_params(c):
    return 2 * c


def bn_buffers(c):
    return 2 * c + 1  # running_mean, running_var, num_batches_tracked


# -- expected totals ----------------------------------------------------------------------
def dcgan_d():
    nc, ndf = 3, 64
    chans = [nc, ndf, ndf * 2, ndf * 4, ndf * 8]
    convs = sum(conv_params(a, b, 4, bias=False) for a, b in zip(chans, chans[1:]))
    convs += conv_params(ndf * 8, 1, 4, bias=False)
    bns = chans[2:]
    return convs + sum(map(bn_params, bns)), sum(map(bn_buffers, bns))


def dcgan_g():
    nz, ngf, nc = 100, 64, 3
    chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc]
    convs = sum(convT_params(a, b, 4, bias=False) for a, b in zip(chans, chans[1:]))
    bns = chans[1:-1]
    return convs + sum(map(bn_params, bns)), sum(map(bn_buffers, bns))


def lenet5():
    return (
        conv_params(1, 6, 5)
        + conv_params(6, 16, 5)
        + linear_params(16 * 5 * 5, 120)
        + linear_params(120, 84)
        + linear_params(84, 10)
    ), 0


def mnist_mlp():
    return linear_params(784, 512) + linear_params(512, 512) + linear_params(512, 10), 0


def m5():
    convs = (
        conv_params(1, 32, 80, dims=1)
        + conv_params(32, 32, 3, dims=1)
        + conv_params(32, 64, 3, dims=1)
        + conv_params(64, 64, 3, dims=1)
    )
    bns = [32, 32, 64, 64]
    return (convs + sum(map(bn_params, bns)) + linear_params(64, 35), sum(map(bn_buffers, bns)))


def autoencoder():
    enc = conv_params(1, 16, 3) + conv_params(16, 32, 3) + conv_params(32, 64, 7)
    dec = convT_params(64, 32, 7) + convT_params(32, 16, 3) + convT_params(16, 1, 3)
    return enc + dec, 0


def unet():
    def double_conv(i, o):
        return (
            conv_params(i, o, 3, bias=False)
            + bn_params(o)
            + conv_params(o, o, 3, bias=False)
            + bn_params(o)
        )

    c = 16
    enc = (
        double_conv(3, c)
        + double_conv(c, 2 * c)
        + double_conv(2 * c, 4 * c)
        + double_conv(4 * c, 8 * c)
    )
    dec = (
        convT_params(8 * c, 4 * c, 2)
        + double_conv(8 * c, 4 * c)
        + convT_params(4 * c, 2 * c, 2)
        + double_conv(4 * c, 2 * c)
        + convT_params(2 * c, c, 2)
        + double_conv(2 * c, c)
    )
    head = conv_params(c, 2, 1)
    bn_channels = [c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c, 4 * c, 4 * c, 2 * c, 2 * c, c, c]
    return enc + dec + head, sum(map(bn_buffers, bn_channels))


def resnet18_buffers():
    bns = [64]  # stem
    for i, c in enumerate([64, 128, 256, 512]):
        bns += [c, c, c, c]  # two blocks, two batch norms each
        if i:
            bns.append(c)  # downsample.1
    return sum(map(bn_buffers, bns))


def resnet50_buffers():
    bns = [64]
    for width, n in zip([64, 128, 256, 512], [3, 4, 6, 3]):
        bns += [width, width, width * 4] * n
        bns.append(width * 4)  # every stage's first block projects
    return sum(map(bn_buffers, bns))


def mobilenet_v2_buffers():
    bns = [32]
    cin = 32
    for t, c, n, s in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]:
        for _ in range(n):
            hidden = cin * t
            bns += ([hidden] if t != 1 else []) + [hidden, c]
            cin = c
    bns.append(1280)
    return sum(map(bn_buffers, bns))


def convnext_tiny():
    # torchvision's convnext_tiny: stages (96, 3), (192, 3), (384, 9), (768, 3); layer norms
    # (nn.LayerNorm and LayerNorm2d) hold weight and bias, no buffers
    def ln(c):
        return 2 * c

    def cnblock(d):  # dwconv 7x7, LayerNorm, Linear 4x, Linear back, layer_scale [d, 1, 1]
        return (
            conv_params(d, d, 7, groups=d)
            + ln(d)
            + linear_params(d, 4 * d)
            + linear_params(4 * d, d)
            + d
        )

    stages = [(96, 3), (192, 3), (384, 9), (768, 3)]
    total = conv_params(3, 96, 4) + ln(96)  # stem
    for i, (d, n) in enumerate(stages):
        total += n * cnblock(d)
        if i + 1 < len(stages):  # downsampling: LayerNorm2d, conv 2x2 stride 2
            total += ln(d) + conv_params(d, stages[i + 1][0], 2)
    return total + ln(768) + linear_params(768, 1000), 0


def shufflenet_v2_x1_0():
    bns = [24]
    total = conv_params(3, 24, 3, bias=False)
    cin = 24
    for out, n in [(116, 4), (232, 8), (464, 4)]:
        b = out // 2
        for i in range(n):
            if i == 0:  # stride 2: branch1 (dw 3x3, bn, 1x1, bn) and branch2 on the whole input
                total += conv_params(cin, cin, 3, bias=False, groups=cin)
                total += conv_params(cin, b, 1, bias=False)
                bns += [cin, b]
            # branch2: 1x1, bn, dw 3x3, bn, 1x1, bn (on half the channels when stride 1)
            total += conv_params(cin if i == 0 else b, b, 1, bias=False)
            total += conv_params(b, b, 3, bias=False, groups=b) + conv_params(b, b, 1, bias=False)
            bns += [b, b, b]
        cin = out
    total += conv_params(464, 1024, 1, bias=False) + linear_params(1024, 1000)
    bns.append(1024)
    return total + sum(map(bn_params, bns)), sum(map(bn_buffers, bns))


def rnn_params(gates, inp, hidden, layers=1, directions=1):
    """nn.LSTM (4 gates) / nn.GRU (3): per layer and direction G·(H·I + H·H + 2H), I the
    input size for layer 0 and D·H above it."""
    total = 0
    for k in range(layers):
        i = inp if k == 0 else directions * hidden
        total += directions * gates * (hidden * i + hidden * hidden + 2 * hidden)
    return total


def lstm_text_classifier():
    return (
        20000 * 128 + rnn_params(4, 128, 256, layers=2, directions=2) + linear_params(2 * 256, 4)
    ), 0


def gru_encoder():
    return 4345 * 128 + rnn_params(3, 128, 128), 0


def mha_params(e):
    # nn.MultiheadAttention: in_proj 3·E² + 3E, out_proj E² + E
    return 4 * e * e + 4 * e


def encoder_layer_params(d, ff):
    # nn.TransformerEncoderLayer: self_attn, linear1, linear2, norm1, norm2
    return mha_params(d) + linear_params(d, ff) + linear_params(ff, d) + 2 * 2 * d


def vit_b_16():
    d, tokens = 768, (224 // 16) ** 2 + 1
    block = 2 * 2 * d + mha_params(d) + linear_params(d, 3072) + linear_params(3072, d)
    return (3 * d * 16 * 16 + d + d + tokens * d + 12 * block + 2 * d + linear_params(d, 1000)), 0


def gpt2_small():
    d = 768
    block = (
        2 * 2 * d
        + linear_params(d, 3 * d)
        + linear_params(d, d)
        + linear_params(d, 4 * d)
        + linear_params(4 * d, d)
    )
    # wte (the head is tied to it: counted once), wpe, 12 blocks, ln_f
    return 50257 * d + 1024 * d + 12 * block + 2 * d, 0


def transformer_classifier():
    d = 256
    return (
        20000 * d + 4 * encoder_layer_params(d, 1024) + linear_params(d, 4),
        5000 * 1 * d,
    )  # the positional encoding's `pe` buffer


def llama_tiny():
    h, i, v, kv = 64, 172, 128, 2 * 16  # kv: 2 key/value heads of head_dim 16
    layer = 2 * h + 2 * h * h + 2 * h * kv + 3 * h * i  # 2 RMSNorms, q/o, k/v, SwiGLU
    return v * h + 2 * layer + h + v * h, 0  # embed_tokens, 2 layers, norm, lm_head (untied)


# (file, input, output, params, buffers). Params of the torchvision models and of the
# tutorials are the published numbers; the rest are the arithmetic above. A network with
# several outputs gives its output as a mapping from name to shape.
CASES = [
    ("dcgan_discriminator", [1, 3, 64, 64], [1, 1, 1, 1], 2_765_568, 1_795),
    ("dcgan_generator", [1, 100, 1, 1], [1, 3, 64, 64], 3_576_704, 1_924),
    ("lenet5", [1, 1, 32, 32], [1, 10], 61_706, 0),
    ("mnist_mlp", [1, 1, 28, 28], [1, 10], mnist_mlp()[0], 0),
    ("audio_cnn_1d", [1, 1, 16000], [1, 35], 26_915, m5()[1]),  # tutorial prints 26915
    ("conv_autoencoder", [1, 1, 28, 28], [1, 1, 28, 28], autoencoder()[0], 0),
    ("alexnet", [1, 3, 224, 224], [1, 1000], 61_100_840, 0),
    ("vgg16", [1, 3, 224, 224], [1, 1000], 138_357_544, 0),
    ("resnet18", [1, 3, 224, 224], [1, 1000], 11_689_512, resnet18_buffers()),
    ("resnet50", [1, 3, 224, 224], [1, 1000], 25_557_032, resnet50_buffers()),
    ("mobilenet_v2", [1, 3, 224, 224], [1, 1000], 3_504_872, mobilenet_v2_buffers()),
    ("unet", [1, 3, 128, 128], [1, 2, 128, 128], unet()[0], unet()[1]),
    # SPEC.md section 11's networks: torchvision's published num_params; buffers as
    # torch's state_dict holds them (tests/test_architectures_torch.py builds each model)
    ("resnet152", [1, 3, 224, 224], [1, 1000], 60_192_808, 151_579),
    ("densenet121", [1, 3, 224, 224], [1, 1000], 7_978_856, 83_769),
    ("mobilenet_v3_large", [1, 3, 224, 224], [1, 1000], 5_483_032, 24_446),
    ("efficientnet_b0", [1, 3, 224, 224], [1, 1000], 5_288_548, 42_065),
    # pix2pix prints "54.414 M"; the exact count is the one tests/torch_models.py's copy
    # of networks.py gives (2 * 4,928 batch-norm channels + 13 counters = 9,869 buffers)
    ("pix2pix_unet", [1, 3, 256, 256], [1, 3, 256, 256], 54_413_955, 9_869),
    # torchvision's published num_params; LayerNorm has no buffers
    ("convnext_tiny", [1, 3, 224, 224], [1, 1000], 28_589_128, 0),
    ("shufflenet_v2_x1_0", [1, 3, 224, 224], [1, 1000], 2_278_604, shufflenet_v2_x1_0()[1]),
    # no published counts: the arithmetic above
    ("lstm_text_classifier", [8, 64], [8, 4], lstm_text_classifier()[0], 0),
    (
        "gru_encoder",
        [32, 10],
        {"gru.output": [32, 10, 128], "gru.h_n": [1, 32, 128]},
        gru_encoder()[0],
        0,
    ),
    # SPEC.md section 12's attention networks: ViT-B/16's published count, GPT-2 small's
    # (Hugging Face's meta-device count), the classifier's arithmetic above
    ("vit_b_16", [1, 3, 224, 224], [1, 1000], 86_567_656, 0),
    ("gpt2_small", [1, 64], [1, 64, 50257], 124_439_808, 0),
    # issue 19: Hugging Face's LlamaForCausalLM at 2 layers, 64 wide (107,328)
    ("llama_tiny", [2, 16], [2, 16, 128], *llama_tiny()),
    (
        "transformer_classifier",
        {"tokens": [128, 8], "padding": [8, 128]},
        [8, 4],
        *transformer_classifier(),
    ),
]
IDS = [c[0] for c in CASES]


def test_every_spec_file_is_covered():
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(IDS)


def test_independent_arithmetic_agrees_with_published_numbers():
    # the formulas above reproduce the published totals (FORMULAS.md, tutorials)
    assert dcgan_d() == (2_765_568, 1_795)
    assert dcgan_g() == (3_576_704, 1_924)
    assert lenet5() == (61_706, 0)
    assert m5()[0] == 26_915
    assert mnist_mlp()[0] == 669_706
    assert autoencoder()[0] == 210_369
    assert unet() == (482_754, 1_422)
    assert convnext_tiny() == (28_589_128, 0)  # torchvision's num_params
    assert shufflenet_v2_x1_0()[0] == 2_278_604
    # LSTM(10, 20) is 4 * (20 * 10 + 20 * 20 + 2 * 20) = 2,560 (README's worked example's
    # layer); a bidirectional 2-layer LSTM(128, 256): layer 1 reads 512 features
    assert rnn_params(4, 10, 20) == 2_560
    assert lstm_text_classifier()[0] == 4_929_540
    assert gru_encoder()[0] == 556_160 + 99_072
    assert vit_b_16() == (86_567_656, 0)  # torchvision's num_params
    assert gpt2_small() == (124_439_808, 0)  # GPT-2 small, as transformers counts it


_cache = {}


def net(name):
    if name not in _cache:
        r = analyse(str(SPECS / f"{name}.yaml"))
        assert r.ok, r.diagnostics
        _cache[name] = r.net
    return _cache[name]


def shapes(name):
    return {layer.name: list(layer.output) for layer in net(name).layers}


def outputs(n):
    """The network's output as CASES gives it: a shape, or a mapping for several."""
    if len(n.outputs) == 1:
        return [list(s) for s in n.outputs.values()][0]
    return {k: list(s) for k, s in n.outputs.items()}


def last_output(layer):
    """The last row's output(s) as CASES gives a network's: several named outputs (an
    LSTM's output, h_n, c_n) as a mapping from their refs."""
    if layer.named_outputs is None:
        return list(layer.output)
    return {ref: list(s) for ref, s in layer.produced()}


@pytest.mark.parametrize("name,inp,out,params,buffers", CASES, ids=IDS)
def test_totals_and_output(name, inp, out, params, buffers):
    n = net(name)
    t = n.totals()
    assert t["params"] == params
    assert t["trainable"] == params
    assert t["buffers"] == buffers
    if isinstance(inp, dict):  # several network inputs
        assert {k: list(v) for k, v in n.spec.inputs.items()} == inp
    else:
        assert list(n.input) == inp
    assert outputs(n) == out
    if isinstance(out, dict):  # here every output is one of the last row's
        assert set(map(tuple, out.values())) <= set(map(tuple, last_output(n.layers[-1]).values()))
    else:
        assert last_output(n.layers[-1]) == out


@pytest.mark.parametrize("name,inp,out,params,buffers", CASES, ids=IDS)
def test_expect_block_matches(name, inp, out, params, buffers):
    with open(SPECS / f"{name}.yaml") as fh:
        doc = yaml.safe_load(fh)
    assert doc["expect"]["params"] == params
    assert doc["expect"]["output"] == out
    assert outputs(net(name)) == doc["expect"]["output"]
    assert net(name).totals()["params"] == doc["expect"]["params"]


@pytest.mark.parametrize("name,inp,out,params,buffers", CASES, ids=IDS)
def test_cli_json(name, inp, out, params, buffers):
    path = str(SPECS / f"{name}.yaml")
    for cmd in ("shape", "params"):
        res = cli_runner().invoke(main, [cmd, path, "--format", "json"])
        assert res.exit_code == 0, res.output
        d = json.loads(res.output)
        assert d["input"] == inp
        assert d["output"] == out
        assert d["totals"]["params"] == params
        assert d["totals"]["buffers"] == buffers
        assert sum(layer["params"] for layer in d["layers"]) == params
        if not isinstance(out, dict):
            assert d["layers"][-1]["output"] == out


# -- per-layer shapes -----------------------------------------------------------------------
def test_dcgan_discriminator_halves_64_to_4_then_1():
    s = shapes("dcgan_discriminator")
    sizes = [64]
    for _ in range(4):
        sizes.append(conv_out(sizes[-1], 4, 2, 1))
    assert sizes == [64, 32, 16, 8, 4]
    assert conv_out(4, 4, 1, 0) == 1
    assert s["0"] == [1, 64, 32, 32]
    assert s["2"] == [1, 128, 16, 16]
    assert s["5"] == [1, 256, 8, 8]
    assert s["8"] == [1, 512, 4, 4]
    assert s["11"] == [1, 1, 1, 1]
    l0 = net("dcgan_discriminator").layers[0]
    assert l0.params == 64 * 3 * 4 * 4
    assert net("dcgan_discriminator").layers[8].params == 512 * 256 * 4 * 4 == 2_097_152


def test_dcgan_generator_grows_1_to_64():
    s = shapes("dcgan_generator")
    sizes = [convT_out(1, 4, 1, 0)]
    for _ in range(4):
        sizes.append(convT_out(sizes[-1], 4, 2, 1))
    assert sizes == [4, 8, 16, 32, 64]
    assert [s[k][1:] for k in ("0", "3", "6", "9", "12")] == [
        [512, 4, 4],
        [256, 8, 8],
        [128, 16, 16],
        [64, 32, 32],
        [3, 64, 64],
    ]
    assert net("dcgan_generator").layers[0].params == 100 * 512 * 16 == 819_200


def test_lenet5_shapes():
    s = shapes("lenet5")
    assert conv_out(32, 5) == 28 and conv_out(14, 5) == 10
    assert s["c1"] == [1, 6, 28, 28]
    assert s["s2"] == [1, 6, 14, 14]
    assert s["c3"] == [1, 16, 10, 10]
    assert s["s4"] == [1, 16, 5, 5]
    assert s["c5"] == [1, 120]
    assert s["f6"] == [1, 84]


def test_mnist_mlp_flattens_to_784():
    s = shapes("mnist_mlp")
    assert s["0"] == [1, 28 * 28]
    assert s["fc1"] == [1, 512]
    assert net("mnist_mlp").layers[1].params == 784 * 512 + 512


def test_m5_audio_shapes():
    s = shapes("audio_cnn_1d")
    n = conv_out(16000, 80, 16)
    assert n == 996
    assert s["conv1"] == [1, 32, 996]
    assert s["pool1"] == [1, 32, 996 // 4] == [1, 32, 249]
    assert s["conv2"] == [1, 32, 247]
    assert s["pool2"] == [1, 32, 61]
    assert s["conv3"] == [1, 64, 59]
    assert s["pool3"] == [1, 64, 14]
    assert s["conv4"] == [1, 64, 12]
    assert s["pool4"] == [1, 64, 3]
    assert s["fc1"] == [1, 35]


def test_autoencoder_needs_output_padding():
    s = shapes("conv_autoencoder")
    assert conv_out(28, 3, 2, 1) == 14 and conv_out(14, 3, 2, 1) == 7
    assert conv_out(13, 3, 2, 1) == 7  # why the transpose is ambiguous
    assert convT_out(7, 3, 2, 1) == 13 and convT_out(7, 3, 2, 1, op=1) == 14
    assert s["encoder.0"] == [1, 16, 14, 14]
    assert s["encoder.2"] == [1, 32, 7, 7]
    assert s["encoder.4"] == [1, 64, 1, 1]
    assert s["decoder.0"] == [1, 32, 7, 7]
    assert s["decoder.2"] == [1, 16, 14, 14]
    assert s["decoder.4"] == [1, 1, 28, 28]


def test_alexnet_shapes():
    s = shapes("alexnet")
    assert conv_out(224, 11, 4, 2) == 55
    assert s["features.0"] == [1, 64, 55, 55]
    assert s["features.2"] == [1, 64, 27, 27]
    assert s["features.5"] == [1, 192, 13, 13]
    assert s["features.12"] == [1, 256, 6, 6]
    assert s["flatten"] == [1, 9216]
    layers = {layer.name: layer for layer in net("alexnet").layers}
    assert layers["classifier.1"].params == 9216 * 4096 + 4096


def test_vgg16_shapes():
    s = shapes("vgg16")
    convs = [layer for layer in net("vgg16").layers if layer.type.name == "conv2d"]
    assert len(convs) == 13
    assert [s[f"features.{i}"][2] for i in (4, 9, 16, 23, 30)] == [112, 56, 28, 14, 7]
    assert s["features.28"] == [1, 512, 14, 14]
    assert s["flatten"] == [1, 25088]
    layers = {layer.name: layer for layer in net("vgg16").layers}
    assert layers["classifier.0"].params == 25088 * 4096 + 4096 == 102_764_544


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_stem_and_stages(name):
    s = shapes(name)
    assert conv_out(224, 7, 2, 3) == 112  # floor: not 113
    assert conv_out(112, 3, 2, 1) == 56
    assert s["conv1"] == [1, 64, 112, 112]
    assert s["maxpool"] == [1, 64, 56, 56]
    e = 1 if name == "resnet18" else 4
    assert s["layer1.0.bn2" if e == 1 else "layer1.0.bn3"] == [1, 64 * e, 56, 56]
    assert s["layer2.0.conv1" if e == 1 else "layer2.0.conv2"] == [1, 128, 28, 28]
    assert s["layer2.0.downsample.0"] == [1, 128 * e, 28, 28]
    assert s["layer3.0.downsample.1"] == [1, 256 * e, 14, 14]
    assert s["layer4.0.downsample.0"] == [1, 512 * e, 7, 7]
    assert s["avgpool"] == [1, 512 * e, 1, 1]
    assert s["fc"] == [1, 1000]
    layers = {layer.name: layer for layer in net(name).layers}
    assert layers["fc"].params == 512 * e * 1000 + 1000
    assert layers["layer2.0.downsample.0"].params == 64 * e * 128 * e


def test_resnet18_has_no_layer1_downsample_resnet50_does():
    assert not any(n.startswith("layer1.0.downsample") for n in shapes("resnet18"))
    assert shapes("resnet50")["layer1.0.downsample.0"] == [1, 256, 56, 56]
    assert "layer3.5.conv3" in shapes("resnet50")
    assert "layer3.6.conv3" not in shapes("resnet50")


def test_mobilenet_v2_shapes():
    s = shapes("mobilenet_v2")
    layers = {layer.name: layer for layer in net("mobilenet_v2").layers}
    assert s["features.0.0"] == [1, 32, 112, 112]
    assert s["features.1.conv.0.0"] == [1, 32, 112, 112]
    assert layers["features.1.conv.0.0"].params == 32 * 1 * 3 * 3  # depthwise
    assert s["features.2.conv.0.0"] == [1, 96, 112, 112]  # expand 16 * 6
    assert s["features.2.conv.1.0"] == [1, 96, 56, 56]  # depthwise, stride 2
    assert s["features.2.conv.2"] == [1, 24, 56, 56]  # project
    assert s["features.6.conv.3"] == [1, 32, 28, 28]
    assert s["features.13.conv.3"] == [1, 96, 14, 14]
    assert s["features.17.conv.2"] == [1, 320, 7, 7]
    assert s["features.18.0"] == [1, 1280, 7, 7]
    assert layers["classifier.1"].params == 1280 * 1000 + 1000


def test_unet_skips_line_up():
    s = shapes("unet")
    assert s["enc1.5"] == [1, 16, 128, 128]
    assert s["pool3"] == [1, 64, 16, 16]
    assert s["bottleneck.5"] == [1, 128, 16, 16]
    assert convT_out(16, 2, 2) == 32
    assert s["up3"] == [1, 64, 32, 32]
    assert s["cat3"] == [1, 64 + 64, 32, 32]
    assert s["cat2"] == [1, 32 + 32, 64, 64]
    assert s["cat1"] == [1, 16 + 16, 128, 128]
    assert s["head"] == [1, 2, 128, 128]


def test_convnext_tiny_shapes():
    s = shapes("convnext_tiny")
    layers = {layer.name: layer for layer in net("convnext_tiny").layers}
    assert conv_out(224, 4, 4) == 56
    assert s["features.0.0"] == [1, 96, 56, 56]  # patchify stem
    assert s["features.1.0.block.1"] == [1, 56, 56, 96]  # permuted channels-last
    assert s["features.1.0.block.3"] == [1, 56, 56, 384]  # Linear 4x
    assert s["features.1.0.block.6"] == [1, 96, 56, 56]
    assert s["features.1.0.layer_scale"] == [96, 1, 1]
    assert layers["features.1.0.layer_scale"].params == 96
    assert s["features.2.1"] == [1, 192, 28, 28]
    assert s["features.5.8.block.0"] == [1, 384, 14, 14]  # 9 blocks in stage 3
    assert s["features.7.2.block.0"] == [1, 768, 7, 7]
    assert s["classifier.1"] == [1, 768]
    # stochastic depth rises as torchvision's 0.1 * stage_block_id / (18 - 1.0)
    sd = [
        layer.args["p"]
        for layer in net("convnext_tiny").layers
        if layer.type.name == "stochastic_depth"
    ]
    assert sd == [0.1 * i / (18 - 1.0) for i in range(18)]


def test_shufflenet_v2_shapes():
    s = shapes("shufflenet_v2_x1_0")
    assert s["maxpool"] == [1, 24, 56, 56]
    assert s["stage2.0.branch1.4"] == [1, 58, 28, 28]
    assert s["stage2.0.branch2.7"] == [1, 58, 28, 28]
    assert s["stage2.0.cat"] == [1, 116, 28, 28]
    assert s["stage2.0.shuffle_view"] == [1, 2, 58, 28, 28]  # view(b, 2, c // 2, h, w)
    assert s["stage2.0.shuffle_transpose"] == [1, 58, 2, 28, 28]
    assert s["stage2.0.shuffle_flatten"] == [1, 116, 28, 28]
    assert s["stage2.1.halves"] == [1, 58, 28, 28]  # x.chunk(2, dim=1)
    assert "stage2.1.branch1.0" not in s  # empty in stride-1 blocks
    assert s["stage3.7.shuffle_flatten"] == [1, 232, 14, 14]
    assert s["stage4.3.shuffle_flatten"] == [1, 464, 7, 7]
    assert s["conv5.2"] == [1, 1024, 7, 7]
    assert s["globalpool"] == [1, 1024]  # x.mean([2, 3])


def test_recurrent_specs_shapes():
    s = shapes("lstm_text_classifier")
    layers = {layer.name: layer for layer in net("lstm_text_classifier").layers}
    assert s["embedding"] == [8, 64, 128]
    assert dict(layers["lstm"].named_outputs) == {
        "output": (8, 64, 2 * 256),
        "h_n": (2 * 2, 8, 256),
        "c_n": (2 * 2, 8, 256),
    }
    assert s["last_step"] == [8, 512]
    assert layers["lstm"].params == rnn_params(4, 128, 256, layers=2, directions=2)
    gru = {layer.name: layer for layer in net("gru_encoder").layers}["gru"]
    assert dict(gru.named_outputs) == {"output": (32, 10, 128), "h_n": (1, 32, 128)}
    assert gru.params == rnn_params(3, 128, 128) == 99_072


def test_check_passes_every_spec():
    if "check" not in main.list_commands(None):  # the command modules load lazily
        pytest.skip("`layercalc check` is not available")
    paths = sorted(str(p) for p in SPECS.glob("*.yaml"))
    res = cli_runner().invoke(main, ["check", *paths, "--format", "json"])
    assert res.exit_code == 0, res.output
