"""SPEC section 11, part 2: `when`, `repeat: 0`, splicing repeats, loop variables and
name templates, and expressions reading shapes (in_shape, input_shape)."""

import textwrap
import time

import pytest

from conftest import assert_located, cli_runner, diag_of, net_of
from layercalc.cli import main


def names(net):
    return [layer.name for layer in net.layers]


# -- when ------------------------------------------------------------------------------

WHEN = """\
input: [1, 8, 16, 16]
vars: {use_se: 0, pool: 1}
layers:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu: {when: use_se}
  - batch_norm2d: {when: true}
  - relu: {name: act, when: use_se}
  - sigmoid: {name: act, when: not use_se}
  - max_pool2d: {kernel_size: 2, when: pool}
  - flatten
  - linear: {from: act, out_features: 3, when: "not pool"}
"""


def test_an_omitted_entry_takes_no_index():
    net = net_of(WHEN)
    # as `if use_se: layers.append(...)`: the indexes close up
    assert names(net) == ["0", "1", "act", "3", "4"]
    assert net.layers[2].type.name == "sigmoid"
    assert net.outputs == {"4": (1, 512)}


def test_when_follows_set():
    net = net_of(WHEN, overrides={"use_se": 1, "pool": 0})
    assert names(net) == ["0", "1", "2", "act", "4", "5"]
    assert [layer.type.name for layer in net.layers] == [
        "conv2d",
        "relu",
        "batch_norm2d",
        "relu",
        "flatten",
        "linear",
    ]
    # from: act is the kept alternative, not the previous entry
    assert net.layers[-1].inputs == ["act"] and net.layers[-1].output == (1, 8, 16, 3)


def test_an_empty_block_or_sequential_is_the_identity():
    net = net_of("""\
    input: [1, 4]
    vars: {extra: 0}
    blocks:
      maybe:
        layers:
          - relu: {when: extra}
          - tanh: {when: extra}
    layers:
      - linear: {out_features: 6}
      - maybe: {name: opt}
      - sequential: {name: seq, layers: [{relu: {when: extra}}]}
      - linear: {out_features: 2}
    """)
    # an empty nn.Sequential passes its input through and holds no module
    assert names(net) == ["0", "3"]
    assert net.layers[1].inputs == ["0"] and net.layers[1].input_shapes == [(1, 6)]
    assert [g.name for g in net.groups] == []


def test_a_network_left_empty_is_its_input():
    net = net_of("input: [1, 4]\nlayers:\n  - relu: {when: 0}\n")
    assert net.layers == [] and net.outputs == {"input": (1, 4)}


def test_when_may_read_shapes_and_omits_before_from_is_needed():
    net = net_of("""\
    input: [1, 8, 16, 16]
    layers:
      - conv2d: {name: a, out_channels: 16, kernel_size: 1, when: 0}
      - relu: {from: a, when: 0}
      - identity: {when: in_shape(1) == 8}
      - conv2d: {out_channels: 4, kernel_size: 1, when: "in_shape(1) != 8"}
    """)
    # the relu naming the omitted `a` is omitted too: its `from` is never needed
    assert names(net) == ["0"]


# -- repeat: 0 and splicing ------------------------------------------------------------

BASIC = """\
input: [1, 3, 16, 16]
blocks:
  basic:
    args: {channels: null}
    layers:
      - conv2d: {name: conv1, out_channels: channels, kernel_size: 3, padding: 1}
      - relu
layers:
  - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
  - basic: {channels: 64, repeat: 3}
  - basic: {name: tail, channels: 32, repeat: 2}
  - relu: {repeat: 0}
  - basic: {name: gone, channels: 8, repeat: 0}
  - flatten
"""


def test_unnamed_repeat_splices_into_the_numbering():
    net = net_of(BASIC)
    assert names(net) == [
        "0",
        "1.conv1",
        "1.1",
        "2.conv1",
        "2.1",
        "3.conv1",
        "3.1",  # nn.Sequential(first, *[block] * 3)
        "tail.0.conv1",
        "tail.0.1",
        "tail.1.conv1",
        "tail.1.1",  # a plain name groups
        "5",
    ]  # tail took index 4; the repeats of 0 took none
    assert [(g.name, g.kind) for g in net.groups] == [
        ("1", "block"),
        ("2", "block"),
        ("3", "block"),
        ("tail", "repeat"),
        ("tail.0", "block"),
        ("tail.1", "block"),
    ]
    assert net.layers[2].inputs == ["1.conv1"] and net.layers[3].inputs == ["1.1"]
    assert net.outputs == {"5": (1, 32 * 16 * 16)}


def test_spliced_copies_can_be_named_in_from():
    net = net_of("""\
    input: [1, 4]
    layers:
      - linear: {out_features: 4, repeat: 2}
      - add: {from: ["0", "1"]}
    """)
    assert names(net) == ["0", "1", "2"]
    assert net.layers[2].inputs == ["0", "1"]


def test_from_an_omitted_entry_says_it_was_omitted():
    d = assert_located(
        """\
    input: [1, 4]
    layers:
      - relu: {name: a, when: 0}
      - relu: {from: a}
    """,
        "omitted-entry",
        4,
        "a}",
    )
    assert "omitted: its `when` is 0 (line 3)" in d.message
    d = assert_located(
        """\
    input: [1, 4]
    layers:
      - relu: {name: a, repeat: 0}
      - relu: {from: [input, a]}
    """,
        "omitted-entry",
        4,
        "a]",
    )
    assert "repeat count is 0" in d.message


# -- loop variables and name templates -----------------------------------------------

DENSENET = """\
input: [1, 3, 32, 32]
vars: {growth: 12, layers_per_block: 4}
blocks:
  dense_layer:
    args: {bn_size: 4}
    layers:
      - batch_norm2d: {name: norm1}
      - relu: {name: relu1}
      - conv2d: {name: conv1, out_channels: bn_size * growth, kernel_size: 1, bias: false}
      - batch_norm2d: {name: norm2}
      - relu: {name: relu2}
      - conv2d: {name: conv2, out_channels: growth, kernel_size: 3, padding: 1, bias: false}
      - cat: {from: [input, conv2]}
  transition:
    layers:
      - batch_norm2d: {name: norm}
      - relu: {name: relu}
      - conv2d: {name: conv, out_channels: in_shape(1) // 2, kernel_size: 1, bias: false}
      - avg_pool2d: {name: pool, kernel_size: 2}
layers:
  - conv2d: {name: conv0, out_channels: 2 * growth, kernel_size: 3, padding: 1, bias: false}
  - sequential:
      name: denseblock1
      layers:
        - dense_layer: {name: "denselayer{j + 1}", repeat: {times: layers_per_block, as: j}}
  - transition: {name: transition1}
  - sequential:
      name: denseblock2
      layers:
        - dense_layer: {name: "denselayer{j + 1}", repeat: {times: layers_per_block, as: j}}
  - batch_norm2d: {name: norm5}
"""


def test_densenet_names_and_shapes():
    net = net_of(DENSENET)
    groups = [g.name for g in net.groups]
    assert groups[:5] == [
        "denseblock1",
        "denseblock1.denselayer1",
        "denseblock1.denselayer2",
        "denseblock1.denselayer3",
        "denseblock1.denselayer4",
    ]
    assert "denseblock1.denselayer1.conv2" in net.by_name
    assert "transition1.conv" in net.by_name and "denseblock2.denselayer4.conv1" in net.by_name
    out = {g.name: g.output for g in net.groups}
    # 24 channels, +12 per layer: 72; the transition halves them (in_shape) and the size
    assert out["denseblock1"] == (1, 72, 32, 32)
    assert out["transition1"] == (1, 36, 16, 16)
    assert out["denseblock2"] == (1, 84, 16, 16)
    assert net.outputs == {"norm5": (1, 84, 16, 16)}


def test_densenet_matches_torch_names_and_params():
    from collections import OrderedDict

    torch = pytest.importorskip("torch")
    nn = torch.nn
    growth, bn = 12, 48

    def layer(c):
        return nn.Sequential(
            OrderedDict(
                norm1=nn.BatchNorm2d(c),
                relu1=nn.ReLU(),
                conv1=nn.Conv2d(c, bn, 1, bias=False),
                norm2=nn.BatchNorm2d(bn),
                relu2=nn.ReLU(),
                conv2=nn.Conv2d(bn, growth, 3, padding=1, bias=False),
            )
        )

    def block(c):
        b = nn.Module()
        for j in range(4):
            b.add_module(f"denselayer{j + 1}", layer(c + j * growth))
        return b

    m = nn.Module()
    for k, v in OrderedDict(
        conv0=nn.Conv2d(3, 24, 3, padding=1, bias=False),
        denseblock1=block(24),
        transition1=nn.Sequential(
            OrderedDict(
                norm=nn.BatchNorm2d(72),
                relu=nn.ReLU(),
                conv=nn.Conv2d(72, 36, 1, bias=False),
                pool=nn.AvgPool2d(2),
            )
        ),
        denseblock2=block(36),
        norm5=nn.BatchNorm2d(84),
    ).items():
        m.add_module(k, v)
    net = net_of(DENSENET)
    torch_params = {k: v.numel() for k, v in m.named_parameters()}
    ours = {}
    for member in net.layers:
        for t in member.tensors:
            if not t.buffer:
                ours[f"{member.name}.{t.key}"] = t.numel
    assert ours == torch_params
    torch_buffers = sum(b.numel() for b in m.buffers())
    assert net.totals()["buffers"] == torch_buffers


def test_loop_variable_drives_arguments_and_splices_with_a_template():
    net = net_of("""\
    input: [1, 8, 32, 32]
    layers:
      - conv2d: {name: "conv{j}", out_channels: 8 * 2 ** j, kernel_size: 3, padding: 1,
                 stride: 2 if j == 0 else 1, repeat: {times: 3, as: j}}
      - relu
      - linear: {out_features: 4, repeat: {times: 2, as: k}}
    """)
    assert names(net) == ["conv0", "conv1", "conv2", "3", "4", "5"]
    assert [layer.output[1] for layer in net.layers[:3]] == [8, 16, 32]
    assert net.layers[0].output == (1, 8, 16, 16) and net.layers[1].output == (1, 16, 16, 16)
    assert net.groups == []


def test_loop_variable_inside_a_named_repeat_and_a_sequential():
    net = net_of("""\
    input: [1, 4]
    layers:
      - sequential:
          name: stage
          repeat: {times: 3, as: i}
          layers:
            - linear: {out_features: 4 + i}
    """)
    assert names(net) == ["stage.0.0", "stage.1.0", "stage.2.0"]
    assert [layer.output for layer in net.layers] == [(1, 4), (1, 5), (1, 6)]


def test_a_template_without_repeat_and_a_template_in_a_block():
    net = net_of("""\
    input: [1, 4]
    vars: {n: 7}
    blocks:
      b:
        args: {k: null}
        layers:
          - relu: {name: "act{k}"}
    layers:
      - relu: {name: "layer{n}"}
      - b: {name: "blk{j}", k: j * 10, repeat: {times: 2, as: j}}
    """)
    assert names(net) == ["layer7", "blk0.act0", "blk1.act10"]


# -- reading shapes ------------------------------------------------------------------


def test_depthwise_conv_from_in_shape():
    net = net_of("""\
    input: [2, 3, 20, 24]
    layers:
      - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}
      - conv2d: {out_channels: in_shape(1), groups: in_shape(1), kernel_size: 3, padding: 1}
      - conv2d: {out_channels: in_shape(-3) * 2, kernel_size: 1}
      - cat: {from: ["1", "2"], dim: "1 if in_shape(1, 1) == 2 * in_shape(1, 0) else 0"}
      - linear: {out_features: "in_shape(-1, 0) + in_shape(2)"}
      - reshape: {shape: [input_shape(0), -1]}
      - linear: {out_features: "input_shape(-1) // input_shape(-2) * 10"}
    """)
    assert net.layers[1].args["groups"] == 32 and net.layers[1].params == 32 * 9 + 32
    assert net.layers[2].output == (2, 64, 20, 24)
    assert net.layers[3].args["dim"] == 1 and net.layers[3].output == (2, 96, 20, 24)
    assert net.layers[4].output == (2, 96, 20, 44)
    assert net.layers[5].output == (2, 96 * 20 * 44)
    assert net.layers[6].output == (2, 10)


def test_input_shape_follows_the_input_option():
    spec = """\
    input: [1, 3, 8, 8]
    layers:
      - flatten
      - linear: {out_features: input_shape(2) * input_shape(3)}
    """
    assert net_of(spec).layers[-1].output == (1, 64)
    assert net_of(spec, input_override=(4, 3, 10, 10)).layers[-1].output == (4, 100)


def test_repeat_and_name_read_shapes():
    net = net_of("""\
    input: [1, 3]
    layers:
      - linear: {name: "fc{in_shape(1)}", out_features: in_shape(1) + 1,
                 repeat: {times: in_shape(1)}}
    """)
    assert names(net) == ["fc3", "fc4", "fc5"]
    assert net.layers[-1].output == (1, 6)


# -- refusals, each at its line:col with its code ----------------------------------------

REFUSED = {
    "when-not-a-number": (
        """\
input: [1, 4]
layers:
  - relu: {when: [1]}
""",
        "bad-value",
        3,
        "[1]",
    ),
    "when-a-list-var": (
        """\
input: [1, 4]
vars: {sizes: [1, 2]}
layers:
  - relu: {when: sizes}
""",
        "bad-value",
        4,
        "sizes}",
    ),
    "when-null": (
        """\
input: [1, 4]
layers:
  - relu: {when: null}
""",
        "bad-value",
        3,
        "null",
    ),
    "when-unknown-name": (
        """\
input: [1, 4]
layers:
  - relu: {when: use_se}
""",
        "unknown-name",
        3,
        "use_se",
    ),
    "duplicate-kept": (
        """\
input: [1, 4]
layers:
  - relu: {name: act, when: 1}
  - tanh: {name: act, when: 1}
""",
        "duplicate-name",
        4,
        "act,",
    ),
    "repeat-negative": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: -1}
""",
        "bad-value",
        3,
        "-1",
    ),
    "repeat-unknown-key": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 2, as: j, start: 1}}
""",
        "bad-repeat",
        3,
        "start",
    ),
    "repeat-no-times": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {as: j}}
""",
        "bad-repeat",
        3,
        "{as",
    ),
    "repeat-bad-as": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 2, as: 2j}}
""",
        "bad-repeat",
        3,
        "2j",
    ),
    "repeat-a-list": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: [2]}
""",
        "bad-value",
        3,
        "[2]",
    ),
    "loop-variable-outside-its-entry": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 2, as: j}}
  - linear: {out_features: j}
""",
        "unknown-name",
        4,
        "j}",
    ),
    "template-duplicate": (
        """\
input: [1, 4]
layers:
  - relu: {name: "act{j // 2}", repeat: {times: 3, as: j}}
""",
        "duplicate-name",
        3,
        '"act',
    ),
    "template-dot": (
        """\
input: [1, 4]
layers:
  - relu: {name: "a{j}.b", repeat: {times: 2, as: j}}
""",
        "bad-name",
        3,
        '"a{',
    ),
    "template-empty": (
        """\
input: [1, 4]
vars: {n: 0}
layers:
  - relu: {name: "{n}"}
  - relu: {name: "{}"}
""",
        "bad-name",
        5,
        '"{}"',
    ),
    "template-unbalanced": (
        """\
input: [1, 4]
layers:
  - relu: {name: "a{j", repeat: {times: 2, as: j}}
""",
        "bad-name",
        3,
        '"a{',
    ),
    "template-not-integer": (
        """\
input: [1, 4]
layers:
  - relu: {name: "a{j / 2}", repeat: {times: 2, as: j}}
""",
        "not-integer",
        3,
        '"a{',
    ),
    "template-unknown-name": (
        """\
input: [1, 4]
layers:
  - relu: {name: "a{i}", repeat: {times: 2, as: j}}
""",
        "unknown-name",
        3,
        '"a{',
    ),
    "template-reserved": (
        """\
input: [1, 4]
vars: {x: 1}
layers:
  - relu: {name: "{x}"}
  - relu: {name: "input{''}"}
""",
        "bad-expression",
        5,
        '"input',
    ),
    "template-too-many-placeholders": (
        """\
input: [1, 4]
layers:
  - relu: {name: "a{j}b{j}c{j}d{j}e{j}f{j}g{j}h{j}i{j}j{j}k{j}l{j}m{j}n{j}o{j}p{j}q{j}", \
repeat: {times: 2, as: j}}
""",
        "too-large",
        3,
        '"a{',
    ),
    "in-shape-out-of-range": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: in_shape(2)}
""",
        "bad-index",
        3,
        "in_shape",
    ),
    "in-shape-negative-out-of-range": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: in_shape(-3)}
""",
        "bad-index",
        3,
        "in_shape",
    ),
    "in-shape-input-out-of-range": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: "in_shape(1, 1)"}
""",
        "bad-index",
        3,
        '"in_shape',
    ),
    "in-shape-not-integer": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: in_shape(0.5)}
""",
        "bad-expression",
        3,
        "in_shape",
    ),
    "in-shape-no-arguments": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: in_shape()}
""",
        "bad-expression",
        3,
        "in_shape",
    ),
    "input-shape-out-of-range": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: input_shape(5)}
""",
        "bad-index",
        3,
        "input_shape",
    ),
    "in-shape-in-a-var": (
        """\
input: [1, 4]
vars: {c: in_shape(1)}
layers: [relu]
""",
        "bad-expression",
        2,
        "in_shape",
    ),
    "in-shape-in-when": (
        """\
input: [1, 4]
layers:
  - relu: {when: in_shape(4)}
""",
        "bad-index",
        3,
        "in_shape",
    ),
    "in-shape-in-repeat": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: in_shape(9)}}
""",
        "bad-index",
        3,
        "in_shape",
    ),
    "in-shape-in-a-template": (
        """\
input: [1, 4]
layers:
  - relu: {name: "r{in_shape(7)}"}
""",
        "bad-index",
        3,
        '"r{',
    ),
    "in-shape-as-a-name": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: in_shape + 1}
""",
        "bad-expression",
        3,
        "in_shape",
    ),
    "unknown-function": (
        """\
input: [1, 4]
layers:
  - linear: {out_features: out_shape(1)}
""",
        "bad-expression",
        3,
        "out_shape",
    ),
    "repeat-times-over-the-bound": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 10**12, as: j}}
""",
        "too-many-layers",
        3,
        "10**12",
    ),
    "spliced-copies-over-the-bound": (
        """\
input: [1, 4]
blocks:
  b:
    layers:
      - relu: {repeat: 1000}
layers:
  - b: {repeat: 101}
""",
        "too-many-layers",
        7,
        "101",
    ),
    "a-block-argument-named-when": (
        """\
input: [1, 4]
blocks:
  b:
    args: {when: 1}
    layers: [relu]
layers: [b]
""",
        "bad-block",
        4,
        "when",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_misuse_is_refused_at_its_node(name):
    assert_located(*REFUSED[name])


def test_refusals_of_the_layer_bound_are_fast():
    for text in (
        REFUSED["repeat-times-over-the-bound"][0],
        REFUSED["spliced-copies-over-the-bound"][0],
        'input: [1, 4]\nlayers:\n  - relu: {name: "r{j}", repeat: {times: 100001, as: j}}\n',
        'input: [1, 4]\nlayers:\n  - relu: {name: "r{j}", repeat: {times: 10 ** 30, as: j}}\n',
    ):
        start = time.perf_counter()
        d = diag_of(text)
        # refused before expanding (10**30 copies would never end); a loose bound, not
        # a speed target (those are benchmarks/), so a loaded machine does not fail it
        assert time.perf_counter() - start < 5, text
        assert d.code in ("too-many-layers", "too-large"), d


def test_cli_reports_located_errors_without_traceback(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(
        textwrap.dedent("""\
    input: [1, 4]
    layers:
      - relu: {name: a, when: 0}
      - relu: {from: a}
    """)
    )
    r = cli_runner().invoke(main, ["shape", str(p)])
    assert r.exit_code == 1
    assert "bad.yaml:4:18: error: " in r.stderr and "[omitted-entry]" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    ok = tmp_path / "ok.yaml"
    ok.write_text(BASIC)
    r = cli_runner().invoke(main, ["shape", str(ok), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    assert '"name": "3.conv1"' in r.stdout
