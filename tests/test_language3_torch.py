"""SPEC section 11 against hand-written PyTorch twins: a Siamese net (one encoder called
twice with `share`), a two-input model (`input:` mapping), a block with several
`outputs:` and `inputs:` reached as USE.OUTPUT, and blocks taking layer-valued
activations and norms. For each, parameter totals and state_dict keys and shapes equal
torch's, and `layercalc verify --save` arrays load with load_state_dict(strict=True) and
give the output layercalc's NumPy forward saved."""

import json
import textwrap

import numpy as np
import pytest

from conftest import cli_runner, net_of
from layercalc.cli import main

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _verify_save(text: str, tmp_path, *options) -> dict:
    p = tmp_path / "spec.yaml"
    p.write_text(textwrap.dedent(text))
    out = tmp_path / "out.npz"
    r = cli_runner().invoke(main, ["verify", str(p), "--save", str(out), *options])
    assert r.exit_code == 0, r.output
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def _state(data: dict) -> dict:
    state = {}
    for k, v in data.items():
        if k == "input" or k.startswith(("input.", "output")):
            continue
        t = _t(v)
        state[k] = t.to(torch.int64) if k.endswith("num_batches_tracked") else t
    return state


def _same_modules(text: str, model):
    """The spec's totals and state_dict (keys, shapes) are the torch model's."""
    net = net_of(text)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    totals = net.totals()
    assert (totals["params"], totals["buffers"]) == (params, buffers)
    ours = {f"{layer.name}.{t.key}": tuple(t.shape) for layer in net.layers for t in layer.tensors}
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == theirs
    return net


def _close(y, ref):
    y = y.detach().numpy() if isinstance(y, torch.Tensor) else y
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-3, atol=1e-4)


# -- (a) a Siamese net: one encoder, two calls -----------------------------------------------

SIAMESE = """\
input: {left: [2, 3, 12, 12], right: [2, 3, 12, 12]}
blocks:
  enc:
    layers:
      - conv2d: {name: conv, out_channels: 6, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn}
      - relu: {name: act}
      - conv2d: {name: conv2, out_channels: 6, kernel_size: 3, stride: 2}
      - share: act
      - adaptive_avg_pool2d: {name: pool, output_size: 1}
      - flatten
      - linear: {name: fc, out_features: 5}
layers:
  - enc: {name: encoder}
  - {share: encoder, from: right, name: other}
  - sub: {from: [encoder, other]}
  - abs
  - concat: {from: [encoder, other, 2]}
  - linear: {name: head, out_features: 1}
"""


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 6, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = self.act(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(15, 1)

    def forward(self, left, right):
        a, b = self.encoder(left), self.encoder(right)
        return self.head(torch.cat([a, b, (a - b).abs()], 1))


def test_siamese_totals_and_state_dict():
    net = _same_modules(SIAMESE, Siamese())
    # every encoder module ran twice, the relu four times
    assert [layer.call for layer in net.layers if layer.name == "encoder.act"] == [1, 2, 3, 4]
    assert [layer.call for layer in net.layers if layer.name == "encoder.fc"] == [1, 2]


def test_siamese_verify_save_round_trip(tmp_path):
    data = _verify_save(SIAMESE, tmp_path)
    assert {"input.left", "input.right", "output"} <= set(data)
    m = Siamese().eval()
    m.load_state_dict(_state(data), strict=True)
    with torch.no_grad():
        y = m(_t(data["input.left"]), _t(data["input.right"]))
    _close(y, data["output"])


def test_siamese_each_call_has_torchs_shapes(tmp_path):
    """Every call's input and output shapes are what torch's hooks see, in order."""
    p = tmp_path / "s.yaml"
    p.write_text(SIAMESE)
    r = cli_runner().invoke(main, ["shape", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [(row["name"], row["input"], row["output"]) for row in json.loads(r.stdout)["layers"]]
    m = Siamese().eval()
    seen = []
    for name, mod in m.named_modules():
        if name and not list(mod.children()):
            mod.register_forward_hook(
                lambda mod, args, out, name=name: seen.append(
                    (name, [list(a.shape) for a in args], list(out.shape))
                )
            )
    with torch.no_grad():
        m(torch.zeros(2, 3, 12, 12), torch.zeros(2, 3, 12, 12))
    # the rows of modules (not the functional flatten/sub/abs/concat) in call order
    modules = {n for n, _ in m.named_modules()}
    assert [row for row in rows if row[0] in modules] == seen


# -- (b) two inputs: an image branch and a metadata branch -----------------------------------

TWO_INPUTS = """\
input: {image: [2, 3, 16, 16], meta: [2, 7]}
layers:
  - sequential:
      name: cnn
      layers:
        - conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
        - batch_norm2d
        - relu
        - adaptive_avg_pool2d: {output_size: 1}
        - flatten
  - sequential:
      name: mlp
      from: meta
      layers:
        - linear: {out_features: 12}
        - tanh
  - concat: {name: cat, from: [cnn, mlp]}
  - linear: {name: classifier, out_features: 3}
"""


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.mlp = nn.Sequential(nn.Linear(7, 12), nn.Tanh())
        self.classifier = nn.Linear(20, 3)

    def forward(self, image, meta):
        return self.classifier(torch.cat([self.cnn(image), self.mlp(meta)], 1))


def test_two_inputs_totals_and_state_dict():
    net = _same_modules(TWO_INPUTS, TwoInputs())
    assert net.layers[0].inputs == ["input.image"]
    assert net.layers[5].inputs == ["input.meta"]


@pytest.mark.parametrize("options", [(), ("--input", "meta=5,7", "--input", "image=5,3,9,9")])
def test_two_inputs_verify_save_round_trip(tmp_path, options):
    data = _verify_save(TWO_INPUTS, tmp_path, *options)
    assert "input" not in data
    if options:
        assert data["input.image"].shape == (5, 3, 9, 9)
        assert data["input.meta"].shape == (5, 7)
    m = TwoInputs().eval()
    m.load_state_dict(_state(data), strict=True)
    with torch.no_grad():
        y = m(_t(data["input.image"]), _t(data["input.meta"]))
    _close(y, data["output"])


# -- (c) a block with several inputs and outputs, called again ----------------------------------

OUTPUTS = """\
input: {a: [1, 4, 6, 6], b: [1, 4, 6, 6]}
outputs: [final, t.prod]
blocks:
  res:
    layers:
      - conv2d: {name: conv, out_channels: 4, kernel_size: 3, padding: 1}
      - relu: {name: act}
      - {share: act, name: act2}
      - add: {from: [input, act2]}
  two:
    inputs: [x, skip]
    outputs: [sum, prod]
    layers:
      - conv2d: {name: c, out_channels: 4, kernel_size: 1}
      - add: {name: sum, from: [c, skip]}
      - mul: {name: prod, from: [sum, x]}
layers:
  - res: {name: r}
  - {share: r, from: b, name: rb}
  - two: {name: t, from: [r, rb]}
  - {share: t, from: [rb, r], name: t2}
  - {share: r, from: t2, name: last}
  - add: {name: final, from: [t.prod, t2, last, t.sum]}
"""


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return x + self.act(self.act(self.conv(x)))


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 4, 1)

    def forward(self, x, skip):
        s = self.c(x) + skip
        return s, s * x  # outputs: [sum, prod]


class WithOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.r = Res()
        self.t = Two()

    def forward(self, a, b):
        r, rb = self.r(a), self.r(b)
        t_sum, t_prod = self.t(r, rb)
        t2_sum, _ = self.t(rb, r)
        last = self.r(t2_sum)
        return {"final": t_prod + t2_sum + last + t_sum, "t.prod": t_prod}


def test_outputs_totals_and_state_dict():
    net = _same_modules(OUTPUTS, WithOutputs())
    assert net.outputs == {"final": (1, 4, 6, 6), "t.prod": (1, 4, 6, 6)}


def test_outputs_verify_save_round_trip(tmp_path):
    data = _verify_save(OUTPUTS, tmp_path)
    assert {"output.final", "output.t.prod"} <= set(data) and "output" not in data
    m = WithOutputs().eval()
    m.load_state_dict(_state(data), strict=True)
    with torch.no_grad():
        y = m(_t(data["input.a"]), _t(data["input.b"]))
    _close(y["final"], data["output.final"])
    _close(y["t.prod"], data["output.t.prod"])


# -- (d) layer-valued activations and norms -----------------------------------------------------

LAYER_VALUES = """\
input: [2, 3, 16, 16]
blocks:
  cna:
    args: {out: null, stride: 1, act: relu, norm: batch_norm2d}
    layers:
      - conv2d: {out_channels: out, kernel_size: 3, stride: stride, padding: 1, bias: false}
      - norm
      - act: {inplace: true}
  stage:
    args: {out: null, act: relu, norm: batch_norm2d}
    layers:
      - cna: {name: down, out: out, stride: 2, act: act, norm: norm}
      - cna: {name: body, out: out, act: act, norm: norm}
layers:
  - cna: {name: stem, out: 8}
  - stage: {name: s1, out: 16, norm: {group_norm: {num_groups: 4}}, act: hardswish}
  - stage: {name: s2, out: 16, act: {leaky_relu: {negative_slope: 0.2}}, norm: none}
  - stage: {name: s3, out: 32, act: none, norm: {group_norm: {num_groups: 8, eps: 0.001}}}
  - adaptive_avg_pool2d: {output_size: 1}
  - flatten
  - linear: {name: fc, out_features: 10}
"""


def cna(cin, out, stride=1, act=nn.ReLU, norm=nn.BatchNorm2d):
    layers = [nn.Conv2d(cin, out, 3, stride, 1, bias=False)]
    if norm is not None:
        layers.append(norm(out))
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


def stage(cin, out, act=nn.ReLU, norm=nn.BatchNorm2d):
    m = nn.Module()
    m.down = cna(cin, out, 2, act, norm)
    m.body = cna(out, out, 1, act, norm)
    m.forward = lambda x: m.body(m.down(x))
    return m


class LayerValues(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = cna(3, 8)
        self.s1 = stage(8, 16, nn.Hardswish, lambda c: nn.GroupNorm(4, c))
        self.s2 = stage(16, 16, lambda inplace: nn.LeakyReLU(0.2, inplace), None)
        self.s3 = stage(16, 32, None, lambda c: nn.GroupNorm(8, c, eps=0.001))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.s3(self.s2(self.s1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def test_layer_values_totals_and_state_dict():
    net = _same_modules(LAYER_VALUES, LayerValues())
    kinds = {layer.name: layer.type.name for layer in net.layers}
    assert kinds["s1.down.1"] == "group_norm" and kinds["s1.down.2"] == "hardswish"
    assert kinds["s2.body.1"] == "leaky_relu" and "s2.body.2" not in kinds
    assert kinds["s3.body.1"] == "group_norm" and "s3.body.2" not in kinds
    assert {
        layer.args["eps"]
        for layer in net.layers
        if layer.name.startswith("s3.") and layer.type.name == "group_norm"
    } == {0.001}


def test_layer_values_verify_save_round_trip(tmp_path):
    data = _verify_save(LAYER_VALUES, tmp_path)
    m = LayerValues().eval()
    m.load_state_dict(_state(data), strict=True)
    with torch.no_grad():
        y = m(_t(data["input"]))
    _close(y, data["output"])


# -- (e) the outputs of another call of an attention module ----------------------------------

SHARED_ATTENTION = """\
input: [5, 2, 12]
outputs: [second.attn_weights, last]
layers:
  - multihead_attention: {name: attn, num_heads: 3}
  - {share: attn, name: second}
  - relu: {name: last, from: second.attn_output}
"""


class SharedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(12, 3)

    def forward(self, x):
        y, _ = self.attn(x, x, x)
        y2, w2 = self.attn(y, y, y)
        return w2, torch.relu(y2)


def test_a_shared_attentions_outputs_are_its_own_calls(tmp_path):
    """`second.attn_weights` and `second.attn_output` name the second call's outputs
    (they were unknown names), with torch's values."""
    net = _same_modules(SHARED_ATTENTION, SharedAttention())
    assert net.outputs == {"second.attn_weights": (2, 5, 5), "last": (5, 2, 12)}
    data = _verify_save(SHARED_ATTENTION, tmp_path)
    m = SharedAttention().eval()
    m.load_state_dict(_state(data), strict=True)
    with torch.no_grad():
        y = m(_t(data["input"]))
    _close(y[0], data["output.second.attn_weights"])
    _close(y[1], data["output.last"])
