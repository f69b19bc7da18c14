"""`layercalc export --to torch` against torch itself, for every spec of specs/.

For each spec: the exported file (written with -o) is executed, build() makes the model,
its state_dict has exactly layercalc's keys and shapes, the arrays of `layercalc verify
--save` (the same --set and --input; verify's core run in memory) load with load_state_dict(strict=True), and the
model's forward reproduces verify's saved output(s) from the saved input(s). The larger
networks run with a smaller input or vocabulary (the same architecture, cheaper NumPy
forward), which also exercises --set and --input. Skipped when torch is not installed.
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.analyses import verify
from layercalc.analyses.loading import analyse, analyse_bytes
from layercalc.cli import main
from layercalc.layers import REGISTRY

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch
SPECS = Path(__file__).resolve().parent.parent / "specs"
NAMES = sorted(p.stem for p in SPECS.glob("*.yaml"))

# cheaper variants of the big networks: (--set values, --input) given to both commands
SMALLER = {
    "alexnet": ((), "1,3,64,64"),
    "vgg16": ((), "1,3,32,32"),
    "densenet121": ((), "1,3,32,32"),
    "resnet152": ((), "1,3,32,32"),
    "resnet50": ((), "1,3,32,32"),
    "resnet18": ((), "1,3,32,32"),
    "convnext_tiny": ((), "1,3,32,32"),
    "efficientnet_b0": ((), "1,3,32,32"),
    "mobilenet_v2": ((), "1,3,32,32"),
    "mobilenet_v3_large": ((), "1,3,32,32"),
    "shufflenet_v2_x1_0": ((), "1,3,32,32"),
    "vit_b_16": (("image_size=32", "num_layers=3"), None),
    "gpt2_small": (("vocab_size=1000", "tokens=16", "n_layer=3"), None),
    "lstm_text_classifier": (("vocab=1000", "seq_len=16", "batch=2"), None),
    "transformer_classifier": (("ntoken=1000", "seq_len=32", "nlayers=2"), None),
    "pix2pix_unet": (("ngf=16",), None),
}


def _options(name) -> list:
    sets, size = SMALLER.get(name, ((), None))
    out = [x for s in sets for x in ("--set", s)]
    return out + (["--input", size] if size else [])


def _exported(spec: Path, tmp_path, options=()):
    path = tmp_path / f"{spec.stem}.py"
    r = cli_runner().invoke(
        main, ["export", str(spec), "-o", str(path), *options], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    source = path.read_text()
    namespace = {"__name__": f"exported_{spec.stem}"}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own output
    return source, namespace


def _net(spec: Path, options=()):
    sets = [options[i + 1] for i, o in enumerate(options) if o == "--set"]
    sizes = [options[i + 1] for i, o in enumerate(options) if o == "--input"]
    overrides = dict(s.split("=", 1) for s in sets)
    shape = tuple(int(n) for n in sizes[0].split(",")) if sizes else None
    r = analyse(str(spec), overrides or None, shape)
    assert r.ok, r.diagnostics
    return r.net


def _saved_in_memory(net) -> dict:
    """What `layercalc verify --save` writes (input, every tensor by state_dict key,
    output), from verify's core run in memory: a VGG's npz is 0.5 GB of fsync'd disk."""
    v = verify.run(net, save=True)
    assert v.ok, [c.error for c in v.failed][:3]
    return v.arrays


def _saved_by_cli(spec: Path, tmp_path, options=()) -> dict:
    out = tmp_path / f"{spec.stem}.npz"
    r = cli_runner().invoke(
        main, ["verify", str(spec), "--save", str(out), *options], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def _check(spec: Path, tmp_path, options=(), by_cli=False):
    """Export ``spec``, build the model, compare its state_dict with layercalc's tensors,
    load verify's arrays (strict) and reproduce verify's output(s)."""
    source, namespace = _exported(spec, tmp_path, options)
    assert f"exported by layercalc from {spec}" in source.splitlines()[0]
    net = _net(spec, options)
    # built on the meta device: no time spent filling weights the arrays replace
    with torch.device("meta"):
        model = namespace["build"]()
    ours = {}
    for layer in net.layers:
        for t in layer.tensors:
            ours[layer.state_key(t.key)] = tuple(t.shape)
        for key, target, shape in layer.ties:
            ours[layer.state_key(key)] = tuple(shape)
            # a tied tensor is one Parameter under two names
            assert model.get_parameter(layer.state_key(key)) is model.get_parameter(target)
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert theirs == ours
    data = _saved_by_cli(spec, tmp_path, options) if by_cli else _saved_in_memory(net)
    state = {}
    for k, v in data.items():
        if k in ("input", "output") or k.startswith(("input.", "output.")):
            continue
        state[k] = torch.from_numpy(np.ascontiguousarray(v))
    model.load_state_dict(state, strict=True, assign=True)
    model.eval()
    xs = [torch.from_numpy(np.ascontiguousarray(data[ref])) for ref in net.spec.input_refs()]
    with torch.no_grad():
        y = model(*xs)
    ys = [y] if isinstance(y, torch.Tensor) else list(y)
    refs = [data["output"]] if len(net.outputs) == 1 else [data[f"output.{n}"] for n in net.outputs]
    assert len(ys) == len(refs)
    for got, want in zip(ys, refs):
        assert tuple(got.shape) == want.shape
        assert np.isfinite(want).all()
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_exported_model_matches_verify(name, tmp_path):
    _check(SPECS / f"{name}.yaml", tmp_path, _options(name))


@pytest.mark.parametrize("name", ["dcgan_discriminator", "gru_encoder"])
def test_verify_save_npz_loads_strictly(name, tmp_path):
    """The same, through the file `layercalc verify --save` writes."""
    _check(SPECS / f"{name}.yaml", tmp_path, by_cli=True)


# layer types and forms the specs of specs/ do not use
MIXED = {
    "mix_elementwise": """\
name: mix one
input: [2, 4, 8, 8]
layers:
  - conv2d: {name: c, out_channels: 8, kernel_size: 3, padding: same, padding_mode: reflect}
  - group_norm: {name: gn, num_groups: 2}
  - elu: {alpha: 0.5}
  - instance_norm2d: {affine: true}
  - mish
  - {type: avg_pool2d, kernel_size: 3, stride: 1, padding: 1, count_include_pad: false}
  - adaptive_max_pool2d: {output_size: [4, null]}
  - pixel_unshuffle: {downscale_factor: 2}
  - pixel_shuffle: {upscale_factor: 2}
  - upsample: {scale_factor: 2, mode: bilinear, align_corners: false}
  - reflection_pad2d: {padding: [1, 2, 0, 1]}
  - constant_pad2d: {padding: 1, value: 0.5}
  - prelu: {num_parameters: 8}
  - hardtanh: {min_val: -0.5, max_val: 0.5}
  - softplus: {beta: 2}
  - dropout2d
  - {name: s0, type: sub, from: input, other: 0.5}
  - {name: s, type: sub, from: [input, s0], alpha: 0.5}
  - {name: skip, type: sum, from: s, dim: [2, 3], keepdim: true}
  - {name: mx, type: amax, from: s, dim: 1}
  - {type: unsqueeze, dim: 1, name: us}
  - {type: div, from: [us, skip]}
  - {type: abs}
  - {type: sqrt}
  - {type: exp}
  - {type: log}
  - {type: pow, exponent: 2}
  - {type: neg}
  - {type: mul, other: 3}
  - {type: add, other: 1, alpha: 2}
  - {type: roll, shifts: 1, dims: 2}
  - {type: flip, dims: [3]}
  - {type: split, split_size: [3, 'in_shape(2) - 3'], dim: 2, name: sp}
  - {type: concat, from: [sp.1, sp], dim: 2}
  - {type: flatten, start_dim: 2}
  - {type: softmax, dim: -1}
  - {type: log_softmax, dim: 1}
  - {type: reshape, shape: [2, -1]}
  - {type: unflatten, dim: 1, sizes: [8, -1]}
  - {type: transpose, dim0: 1, dim1: 2}
  - {type: squeeze, name: sq}
  - {type: permute, dims: [0, 2, 1], name: sqt}
  - {type: matmul, from: [sq, sqt]}
""",
    "mix_sequence": """\
name: mix two
input: {x: [2, 5, 6], mem: [2, 3, 6]}
outputs: [dec, cell.c, rnn.h_n, att.attn_weights]
layers:
  - conv1d: {from: x, out_channels: 6, kernel_size: 1}
  - conv_transpose1d: {out_channels: 5, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
  - avg_pool1d: {kernel_size: 2}
  - conv1d: {out_channels: 6, kernel_size: 1, bias: false}
  - {type: transpose, dim0: 1, dim1: 2, name: seq}
  - rms_norm: {normalized_shape: [6], eps: 1e-5}
  - rnn: {name: rnn, hidden_size: 6, nonlinearity: relu, batch_first: true, bidirectional: true}
  - linear: {out_features: 6}
  - {type: select, dim: 1, index: 0, name: first}
  - lstm_cell: {name: cell, hidden_size: 6}
  - gru_cell: {hidden_size: 6, from: first}
  - rnn_cell: {hidden_size: 6}
  - multihead_attention: {name: att, num_heads: 2, from: [seq, mem, mem], batch_first: true, need_weights: true, average_attn_weights: false, kdim: 6, vdim: 6}
  - transformer_decoder_layer: {name: dec0, nhead: 2, dim_feedforward: 8, dropout: 0.0, batch_first: true, norm_first: true, from: [att, mem], tgt_is_causal: true}
  - transformer: {name: dec, d_model: 6, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 1, dim_feedforward: 8, batch_first: true, from: [mem, dec0]}
""",
    "mix_volumes": """\
input: [1, 2, 6, 6, 6]
layers:
  - conv3d: {out_channels: 4, kernel_size: 3, padding: 1, groups: 2, dilation: 1}
  - batch_norm3d
  - instance_norm3d
  - max_pool3d: {kernel_size: 2, ceil_mode: true}
  - conv_transpose3d: {out_channels: 2, kernel_size: 2, stride: 2}
  - avg_pool3d: {kernel_size: 3, stride: 2, padding: 1}
  - adaptive_avg_pool3d: {output_size: 2}
  - replication_pad3d: {padding: 1}
  - circular_pad3d: {padding: 1}
  - zero_pad3d: {padding: [1, 0, 0, 1, 1, 0]}
  - constant_pad3d: {padding: 1, value: -1.0}
  - dropout3d
  - relu6
  - silu
  - hardswish
  - hardsigmoid
  - identity
  - {type: flatten, start_dim: 2}
  - max_pool1d: {kernel_size: 3, stride: 2, padding: 1, dilation: 1}
  - instance_norm1d
  - dropout1d
  - replication_pad1d: {padding: [2, 1]}
  - circular_pad1d: {padding: 1}
  - {type: unsqueeze, dim: 1, name: u}
  - {type: expand, size: [-1, 3, -1, -1]}
  - {type: slice, dim: -1, start: 1, end: -1, step: 2}
  - {type: squeeze, dim: 0}
  - {type: select, dim: 0, index: -1}
  - sigmoid
  - tanh
  - gelu: {approximate: tanh}
  - leaky_relu: {negative_slope: 0.1}
""",
    # tied tensors, free parameters (one named "0"), a shared group, a shared attention
    "mix_sharing": """\
input: {x: [1, 4], img1: [2, 3, 8, 8], img2: [2, 3, 8, 8], q: [2, 5, 8]}
outputs: [out, diff, att2]
layers:
  - parameter: {name: w, shape: [4, 4]}
  - linear: {name: a, from: x, out_features: 4, bias: false}
  - linear: {name: b, out_features: 4, bias: false, tie: {weight: a.weight}}
  - sequential: {name: s, layers: [{parameter: {name: "0", shape: [4, 4]}}]}
  - {type: matmul, from: [b, w], name: mm}
  - {type: add, from: [mm, s], name: out}
  - sequential:
      name: encoder
      from: img1
      layers:
        - conv2d: {out_channels: 4, kernel_size: 3}
        - batch_norm2d
        - relu
  - {share: encoder, from: img2, name: enc_b}
  - {type: sub, from: [encoder, enc_b], name: diff}
  - multihead_attention: {name: att, from: q, num_heads: 2, batch_first: true, is_causal: true, need_weights: false}
  - {share: att, name: att2}
""",
}


# names that are no Python identifiers, quotes, NFKC-folding and bidi characters
MIXED["mix_hostile_names"] = r"""
name: "evil \"\"\" name \\ \u202e \x1b end"
input: {"t\u00f6k\u00e9ns": [1, 4]}
layers:
  - linear: {name: "a\"b'c", out_features: 4}
  - relu: {name: "\ufb01"}
  - linear: {name: "fi", out_features: 4}
  - sequential: {name: "\u202egrp", layers: [{linear: {name: "\u03bb", out_features: 3}}]}
"""


# rotary position embeddings (HF's rotate_half), whole and partial
MIXED["mix_rotary"] = """\
input: [2, 3, 5, 8]
layers:
  - rotary_embedding: {name: r1}
  - rotary_embedding: {name: r2, dim: 4, theta: 500.0, position_offset: 7}
"""


# TransformerEncoder's nested-tensor fast path (batch_first and a padding mask): the
# exported layers attend with the mask it stands for and pad back with zeros
MIXED["mix_fast_layer"] = """\
input: {x: [3, 5, 8], m: [3, 5]}
layers:
  - transformer_encoder_layer:
      from: {src: x, src_key_padding_mask: m}
      nhead: 2
      dim_feedforward: 16
      batch_first: true
      activation: {gelu: {approximate: tanh}}
      is_causal: true
"""

MIXED["mix_nested_encoder"] = """\
input: {x: [3, 5, 8], m: [3, 5]}
layers:
  - transformer_encoder:
      from: {src: x, src_key_padding_mask: m}
      encoder_layer: {transformer_encoder_layer: {nhead: 2, dim_feedforward: 16, batch_first: true}}
      num_layers: 2
      mask_check: false
  - transformer:
      from: {src: x, tgt: x, src_key_padding_mask: m}
      d_model: 8
      nhead: 2
      num_encoder_layers: 1
      num_decoder_layers: 1
      dim_feedforward: 16
      batch_first: true
"""

# norms whose normalized_shape is left to its default (every dim but the batch): torch
# needs it written out
MIXED["mix_default_norms"] = """\
input: [2, 3, 4]
layers:
  - layer_norm
  - rms_norm: {eps: 1e-6}
  - layer_norm: {elementwise_affine: false}
  - linear: {out_features: 5}
  - rms_norm
"""


@pytest.mark.parametrize("name", sorted(MIXED))
def test_more_layer_types_match_verify(name, tmp_path):
    if name == "mix_rotary" and REGISTRY.get("rotary_embedding") is None:
        pytest.skip("no rotary_embedding type in this tree")
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(MIXED[name])
    _check(spec, tmp_path)


def test_shared_module_is_one_module(tmp_path):
    """A module called again (`share:`, ResNet-152's relu three times a block) is one
    module: named_modules() holds each name once and the parameters are counted once,
    as layercalc counts them."""
    spec = SPECS / "resnet152.yaml"
    _, namespace = _exported(spec, tmp_path)
    net = _net(spec)
    with torch.device("meta"):
        model = namespace["build"]()
    assert sum(p.numel() for p in model.parameters()) == net.totals()["params"]
    assert sum(b.numel() for b in model.buffers()) == net.totals()["buffers"]
    names = [n for n, _ in model.named_modules()]
    assert len(names) == len(set(names))
    assert "layer1.0.relu" in names
    assert any(layer.shares is not None for layer in net.layers)


def test_built_model_runs(tmp_path):
    """build() makes a real model (default initialisation) whose forward runs on the
    input shape of INPUTS and gives the spec's output shape."""
    spec = SPECS / "resnet18.yaml"
    _, namespace = _exported(spec, tmp_path)
    model = namespace["build"]().eval()
    with torch.no_grad():
        y = model(torch.randn(*namespace["INPUTS"]["input"]))
    assert tuple(y.shape) == tuple(next(iter(_net(spec).outputs.values())))


def test_trainable_false_is_frozen_in_the_export_and_read_back_by_import(tmp_path):
    """`trainable: false` (a layer, a free parameter, a group) was lost: the exported
    module trained every parameter (18 of 18 where the spec says 0 of 18)."""
    spec = tmp_path / "frozen.yaml"
    spec.write_text(
        "input: [1, 4]\n"
        "layers:\n"
        "  - linear: {out_features: 3, trainable: false}\n"
        "  - parameter: {name: p, shape: [1, 3], trainable: false}\n"
        "  - add: {from: [0, p]}\n"
        "  - sequential:\n"
        "      name: g\n"
        "      trainable: false\n"
        "      layers: [{linear: {name: a, out_features: 3}}, batch_norm1d]\n"
        "  - linear: {name: head, out_features: 2}\n"
    )
    net = _net(spec)
    totals = net.totals()
    _, namespace = _exported(spec, tmp_path)
    model = namespace["build"]()
    params = list(model.named_parameters())
    assert sum(p.numel() for _, p in params) == totals["params"] == 44
    trainable = {n for n, p in params if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"} and totals["trainable"] == 8
    from layercalc.importers.torch import import_torch

    text = import_torch("exported:build", (1, 4), model=model)
    back = analyse_bytes(text.encode(), "<import>")
    assert back.ok, back.diagnostics
    assert back.net.totals()["trainable"] == 8
