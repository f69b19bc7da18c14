"""`layercalc export --to torch`: one class per block of the spec.

Without torch: the classes written (resnet50's bottlenecks, efficientnet_b0's `when:`
and `repeat ... as: j`), their call sites, the fallback comment of a block that does
not compile, and the guard (`export.trace`) that keeps a class only when it builds the
same model as the flat export. With torch (skipped without it): the models built from
the classes have layercalc's state_dict keys and shapes and reproduce verify's output.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layercalc.analyses.loading import analyse
from layercalc.export import blocks, to_source, trace
from layercalc.export import torch as export_torch

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _source(path, overrides=None):
    r = analyse(str(path), overrides)
    assert r.ok, r.diagnostics
    return r.net, to_source(r.net, "torch", r.file)


def _class(source, name):
    """The text of class ``name`` in ``source``."""
    start = source.index(f"\nclass {name}(")
    end = source.find("\n\n\nclass ", start + 1)
    return source[start : end if end > 0 else len(source)]


def test_resnet50_has_a_class_per_block_used_through_its_arguments():
    net, src = _source(SPECS / "resnet50.yaml")
    down = _class(src, "BottleneckDown")
    plain = _class(src, "Bottleneck")
    assert "class BottleneckDown(Group):" in down
    assert "def __init__(self, *, width, stride=2, in_channels=None):" in down
    assert "stride=stride" in down and "out_channels=width * VARS['expansion']" in down
    # bn3 takes the channels of conv3's expression; the first conv's are passed in
    assert "self.bn3 = nn.BatchNorm2d(num_features=width * VARS['expansion'])" in plain
    assert "def __init__(self, *, width, in_channels=None):" in plain
    assert "x8 = bn3 + input" in plain  # the residual add of the forward
    # one call per instance, with the instance's arguments
    instances = [g for g in net.groups if g.kind == "block"]
    assert len(instances) == 16
    calls = [
        line.strip() for line in src.splitlines() if "add_module(" in line and "Bottle" in line
    ]
    assert len(calls) == 16
    assert 'self.layer1.add_module("0", BottleneckDown(width=64, stride=1, in_channels=64))' in src
    assert 'self.layer2.add_module("0", BottleneckDown(width=128, in_channels=256))' in src
    assert 'self.layer3.add_module("5", Bottleneck(width=256, in_channels=1024))' in src
    # no leaf of a block is built outside its class
    assert "self.layer1[" not in src.split("def forward(self, input):\n        conv1")[0]
    assert "# block" not in src  # nothing fell back


def test_set_reaches_the_classes_through_vars():
    _, src = _source(SPECS / "resnet50.yaml", {"expansion": "2"})
    assert 'VARS = {"num_classes": 1000, "expansion": 2}' in src
    assert "Bottleneck(width=64, in_channels=128)" in src  # 64 * 2 channels in


def test_when_becomes_if_and_repeat_a_loop():
    net, src = _source(SPECS / "efficientnet_b0.yaml")
    mb = _class(src, "Mbconv")
    assert "def __init__(self, *, ratio, k, s=1, out, p=0, cin):" in mb
    assert (
        "        if ratio != 1:\n            block.append(Cna(out=cin * ratio, in_channels=cin))"
        in mb
    )
    assert "self.use_stochastic_depth = bool(s == 1 and cin == out)" in mb
    assert (
        "if self.use_stochastic_depth:\n            self.stochastic_depth = StochasticDepth(p" in mb
    )
    assert "block.append(Se(sq=max(1, cin // 4), c=cin * ratio))" in mb
    assert "block.append(Cna(out=out, act=None, in_channels=cin * ratio))" in mb
    # forward: the residual path only when kept, else the block's output
    assert (
        "        if self.use_stochastic_depth:\n"
        "            stochastic_depth = self.stochastic_depth(block)\n"
        "            x2 = stochastic_depth + input\n"
        "        else:\n"
        "            x2 = block\n"
        "        return x2"
    ) in mb
    stage = _class(src, "Stage")
    assert "class Stage(nn.Sequential):" in stage
    assert "        for j in range(n):\n            self.append(Mbconv(" in stage
    assert "s=s if j == 0 else 1" in stage
    assert "p=VARS['sd'] * (first + j) / VARS['total_blocks']" in stage
    assert "cin=cin if j == 0 else out" in stage  # the channels follow the data flow
    cna = _class(src, "Cna")
    assert "act=nn.SiLU" in cna and "if act is not None:\n            self.append(act())" in cna
    assert (
        'self.features.add_module("2", Stage(ratio=6, k=3, s=2, out=24, n=2, first=1, cin=16))'
        in src
    )
    stages = [g for g in net.groups if g.kind == "block" and g.type == "stage"]
    assert src.count("Stage(ratio=") == len(stages) == 7


def test_a_block_that_does_not_compile_is_written_flat_and_says_why():
    _, src = _source(SPECS / "pix2pix_unet.yaml")
    assert "# block 'unet_block' is written as the flat export writes it (a recursive block)" in src
    assert "class UnetBlock" not in src
    assert "self.model = Group()" in src or "Group()" in src


def test_every_spec_exports_and_compiles():
    classes = {}
    for spec in sorted(SPECS.glob("*.yaml")):
        _, src = _source(spec)
        compile(src, spec.name, "exec")
        classes[spec.stem] = [
            line.split("(")[0][6:] for line in src.splitlines() if line.startswith("class ")
        ]
    assert {"Basic", "BasicDown"} <= set(classes["resnet18"])
    assert {"Cna", "Se", "Mbconv", "Stage"} <= set(classes["efficientnet_b0"])
    assert {"Bottleneck", "BottleneckDown"} <= set(classes["resnet50"])
    assert {"Bottleneck", "Stage"} <= set(classes["resnet152"])
    assert {"CausalSelfAttention", "Mlp", "Block"} <= set(classes["gpt2_small"])
    assert {"LlamaAttention", "LlamaMlp", "LlamaDecoderLayer"} <= set(classes["llama_tiny"])
    assert {"Cnblock", "Stage", "Downsample"} <= set(classes["convnext_tiny"])
    assert {"Branch2", "InvertedResidual", "Stage"} <= set(classes["shufflenet_v2_x1_0"])
    assert {"Cna", "Se", "InvertedResidual"} <= set(classes["mobilenet_v3_large"])
    assert "Transition" in classes["densenet121"]


def test_forward_reads_the_arguments_it_needs():
    """A parameter-free step written with a block argument reads it as an attribute:
    GPT-2's split by n_embd is the class's, not the exported value."""
    _, src = _source(SPECS / "gpt2_small.yaml")
    attn = _class(src, "CausalSelfAttention")
    assert "def __init__(self, *, n_head, n_embd):" in attn
    assert "        self.n_embd = n_embd\n" in attn
    assert "qkv, qkv_1, qkv_2 = torch.split(c_attn, self.n_embd, dim=2)" in attn
    assert "self.q_heads = nn.Unflatten(2, (n_head, n_embd // n_head))" in attn
    assert "768" not in attn


def test_a_list_that_is_no_chain_and_a_free_parameter_compile():
    """ConvNeXt's block: an inner sequential with permutes is a Group whose steps the
    block's forward writes out; its layer_scale a Parameter of the argument's shape."""
    _, src = _source(SPECS / "convnext_tiny.yaml")
    block = _class(src, "Cnblock")
    assert "self.block = Group()" in block
    assert 'self.block.add_module("0", nn.Conv2d(in_channels=dim, out_channels=dim,' in block
    assert "x1 = x0.permute(0, 2, 3, 1)" in block
    assert "self.layer_scale = nn.Parameter(torch.zeros((dim, 1, 1)))" in block
    assert "stochastic_depth + input" in block
    stage = _class(src, "Stage")
    assert "p=VARS['sd'] * (first + j) / (VARS['total_blocks'] - 1.0)" in stage


def test_alternatives_under_opposite_conditions_share_a_name():
    """ShuffleNet's inverted residual builds `branch2` one way or the other."""
    _, src = _source(SPECS / "shufflenet_v2_x1_0.yaml")
    ir = _class(src, "InvertedResidual")
    assert "self.use_halves = bool(s == 1)" in ir and "self.use_branch1 = bool(s > 1)" in ir
    assert "        if self.use_halves:\n            self.branch2 = Branch2(" in ir
    assert (
        "        if self.use_branch1:\n            self.branch2 = Branch2(out=oup // 2, s=s," in ir
    )
    assert "halves, halves_1 = torch.chunk(input, 2, dim=1)" in ir


def test_a_very_large_network_is_written_flat(tmp_path, monkeypatch):
    monkeypatch.setattr(export_torch, "MAX_COMPILED_ROWS", 100)
    net, src = _source(SPECS / "resnet50.yaml")
    assert len(net.layers) > 100
    assert "class Bottleneck(" not in src
    assert "block classes are proved" in src


def test_the_guard_refuses_a_class_that_builds_another_model(monkeypatch):
    """A compiler slip (simulated: every translated expression reads 1) never reaches
    the file: the traced class model differs from the flat one, so every block falls
    back to the flat export."""
    net, good = _source(SPECS / "resnet18.yaml")
    monkeypatch.setattr(blocks.Compiler, "expression", lambda self, text, local: "1")
    src = to_source(net)
    assert "class Basic(" not in src and "class BasicDown(" not in src
    assert "would not build the same model" in src
    flat = export_torch._render(net, None, notes=[])
    assert src.split("class ResNet18(")[1] == flat.split("class ResNet18(")[1]
    assert good != src


def test_trace_tells_models_apart():
    net = analyse(str(SPECS / "resnet18.yaml")).net
    trace.set_defaults(export_torch._torch_defaults())
    flat = export_torch._render(net)
    assert trace.same(flat, flat, 1)
    assert trace.same(flat, to_source(net), 1)  # the class form builds the same model
    # another kernel size, another wiring, a missing module: each is told apart
    assert not trace.same(flat, flat.replace("kernel_size=7", "kernel_size=5", 1), 1)
    wired = flat.replace('bn2 = self.layer1["0"].bn2(conv2)', 'bn2 = self.layer1["0"].bn2(x2)')
    assert wired != flat and not trace.same(flat, wired, 1)
    line = "        self.fc = nn.Linear(in_features=512, out_features=1000)\n"
    assert line in flat
    assert not trace.same(flat, flat.replace(line, ""), 1)


GRAPH = """\
name: graph blocks
vars: {c: 8}
input: [2, 4, 8, 8]
blocks:
  unit:
    args: {out: null, gate: 1, act: relu}
    layers:
      - conv2d: {name: conv, out_channels: out, kernel_size: 3, padding: 1}
      - batch_norm2d: {name: bn}
      - act
  fused:
    args: {out: null, skip: 0}
    layers:
      - unit: {name: a, out: out}
      - unit: {name: b, out: out, act: none}
      - {type: mul, from: [b, a], name: gated, when: skip}
      - {type: add, from: [gated, input], when: skip}
      - {type: sub, from: [a, b], when: not skip}
  tower:
    args: {out: null, n: 2}
    layers:
      - fused: {out: out, skip: "1 if j > 0 else 0", repeat: {times: n, as: j}}
layers:
  - tower: {name: t1, out: c, n: 3}
  - tower: {name: t2, out: c * 2, n: 1}
  - adaptive_avg_pool2d: {output_size: 1}
  - flatten
  - linear: {out_features: 5}
"""


def test_a_spec_of_graph_blocks_compiles(tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text(GRAPH)
    net, src = _source(path)
    assert "# block" not in src, src
    fused = _class(src, "Fused")
    assert "self.use_gated = bool(skip)" in fused
    assert "self.use_sub = bool(not skip)" in fused
    assert "            x3 = gated + input\n        else:\n            x3 = b\n" in fused
    assert "self.b = Unit(out=out, act=None, in_channels=out)" in fused
    tower = _class(src, "Tower")
    assert "for j in range(n):" in tower and "skip=1 if j > 0 else 0" in tower


def _ruff():
    here = Path(sys.executable).parent / "ruff"
    return str(here) if here.exists() else shutil.which("ruff")


@pytest.mark.skipif(_ruff() is None, reason="ruff is not installed")
def test_block_classes_pass_ruff(tmp_path):
    (tmp_path / "graph.yaml").write_text(GRAPH)
    for spec in [SPECS / "resnet50.yaml", SPECS / "efficientnet_b0.yaml", tmp_path / "graph.yaml"]:
        _, src = _source(spec)
        (tmp_path / f"{spec.stem}.py").write_text(src)
    done = subprocess.run(
        [_ruff(), "check", "--isolated", "--no-cache", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]


# -- with torch ------------------------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize(
    "name, options",
    [
        ("resnet50", ["--input", "1,3,32,32"]),
        ("efficientnet_b0", ["--input", "1,3,32,32"]),
        ("resnet50", ["--input", "1,3,32,32", "--set", "expansion=2"]),
    ],
)
def test_block_models_match_layercalc_and_verify(torch, name, options, tmp_path):
    from test_export_torch import _check

    _check(SPECS / f"{name}.yaml", tmp_path, options)


@pytest.mark.torch
def test_block_modules_are_the_classes(torch, tmp_path):
    from test_export_torch import _exported, _net

    spec = SPECS / "efficientnet_b0.yaml"
    _, namespace = _exported(spec, tmp_path)
    net = _net(spec)
    with torch.device("meta"):
        model = namespace["build"]()
    mbconvs = [m for m in model.modules() if type(m).__name__ == "Mbconv"]
    groups = [g for g in net.groups if g.kind == "block" and g.type == "mbconv"]
    assert len(mbconvs) == len(groups) == 16
    # `when: s == 1 and cin == out`: the residual exactly where layercalc kept it
    kept = [g.args["s"] == 1 and g.args["cin"] == g.args["out"] for g in groups]
    assert [hasattr(m, "stochastic_depth") for m in mbconvs] == kept
    assert 0 < sum(kept) < 16
    assert isinstance(model.features.get_submodule("1"), torch.nn.Sequential)
    assert type(model.features.get_submodule("1")).__name__ == "Stage"
    assert sum(p.numel() for p in model.parameters()) == net.totals()["params"]


@pytest.mark.torch
def test_graph_blocks_match_verify(torch, tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text(GRAPH)
    from test_export_torch import _check

    _check(path, tmp_path)
