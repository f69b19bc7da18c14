"""SPEC section 11, part 3, from the user's side: layer-valued block arguments, block
defaults reading the use's input, bounded recursion, `share:` (another call of a module),
dotted `from`, block `inputs:`/`outputs:`, `repeat: {chain: ...}` and several network
inputs -- shapes, names and totals when right, one located error (never a traceback)
when wrong, and the limits of section 8 on every new way of making layers."""

import json
import textwrap
import time

import numpy as np
import pytest
import yaml

from conftest import assert_located, cli_runner, diag_of, net_of
from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main
from layercalc.spec import Limits


def names(net):
    return [layer.name for layer in net.layers]


def types(net):
    return [layer.type.name for layer in net.layers]


def calls(net):
    return [layer.call for layer in net.layers]


def invoke(*args):
    r = cli_runner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r


# -- layer-valued block arguments --------------------------------------------------------

CNA = """\
input: [1, 3, 8, 8]
blocks:
  cna:
    args: {out: null, act: relu, norm: batch_norm, k: 3}
    layers:
      - conv2d: {out_channels: out, kernel_size: k, padding: k // 2, bias: false}
      - norm
      - act
layers:
  - cna: {out: 16, name: stem}
  - cna: {out: 16, act: {leaky_relu: {negative_slope: 0.2}}, norm: {group_norm: {num_groups: 4}}}
  - cna: {out: 16, act: none, norm: none}
  - cna: {out: 16, act: hardswish}
"""


def test_layer_valued_arguments_become_the_entries_that_name_them():
    net = net_of(CNA)
    assert names(net) == [
        "stem.0",
        "stem.1",
        "stem.2",
        "1.0",
        "1.1",
        "1.2",
        "2.0",
        "3.0",
        "3.1",
        "3.2",
    ]
    assert types(net) == [
        "conv2d",
        "batch_norm2d",
        "relu",
        "conv2d",
        "group_norm",
        "leaky_relu",
        "conv2d",
        "conv2d",
        "batch_norm2d",
        "hardswish",
    ]
    assert net.layers[4].args["num_groups"] == 4
    assert net.layers[5].args["negative_slope"] == 0.2
    # conv 3->16 (432) + 3 convs 16->16 (2304 each) + two batch norms and a group norm
    # (32 each); the batch norms hold 2 x 33 buffers
    assert net.totals() == {
        "params": 432 + 3 * 2304 + 3 * 32,
        "trainable": 7440,
        "buffers": 66,
        "macs": net.totals()["macs"],
    }
    assert all(layer.output == (1, 16, 8, 8) for layer in net.layers)


def test_a_layer_argument_passed_on_with_no_arguments_is_itself():
    """`inner: {act: {act: {}}}` passes the layer argument on adding nothing: it was
    refused as adding arguments to a layer argument that has its own."""
    net = net_of("""\
    input: [2, 4]
    blocks:
      inner: {args: {act: null}, layers: [linear: {out_features: 4}, act]}
      outer: {args: {act: relu}, layers: [inner: {act: {act: {}}}]}
    layers:
      - outer: {act: {leaky_relu: {negative_slope: 2}}}
    """)
    assert types(net) == ["linear", "leaky_relu"]
    assert net.layers[1].args["negative_slope"] == 2


def test_the_entry_adds_its_own_arguments_and_they_win():
    net = net_of("""\
    input: [1, 4]
    blocks:
      b:
        args: {act: {leaky_relu: {negative_slope: 0.2}}}
        layers:
          - act: {inplace: true}
          - act: {negative_slope: 0.3, name: second}
    layers:
      - b
    """)
    assert names(net) == ["0.0", "0.second"]
    first, second = net.layers[0], net.layers[1]
    # functools.partial(nn.LeakyReLU, negative_slope=0.2)(inplace=True)
    assert first.type.name == "leaky_relu"
    assert first.args["negative_slope"] == 0.2 and first.args["inplace"] is True
    # the entry's own negative_slope wins over the value's
    assert second.args["negative_slope"] == 0.3 and second.args["inplace"] is False


def test_an_entry_argument_the_new_layer_lacks_is_located_in_the_block():
    # relu6 has no negative_slope: the entry inside the block is at fault
    assert_located(
        """\
    input: [1, 4]
    blocks:
      b:
        args: {act: relu}
        layers:
          - act: {negative_slope: 0.3}
    layers:
      - b: {act: elu}
    """,
        "unknown-argument",
        6,
        "negative_slope",
    )


def test_passing_a_layer_value_on_to_a_nested_block():
    net = net_of("""\
    input: [1, 4]
    blocks:
      inner:
        args: {a: relu}
        layers:
          - linear: {out_features: 3}
          - a
      outer:
        args: {act: relu}
        layers:
          - inner: {a: act}
    layers:
      - outer: {act: none}
      - outer: {act: {leaky_relu: {negative_slope: 0.1}}}
      - outer
    """)
    assert names(net) == ["0.0.0", "1.0.0", "1.0.1", "2.0.0", "2.0.1"]
    assert types(net) == ["linear", "linear", "leaky_relu", "linear", "relu"]
    assert net.layers[2].args["negative_slope"] == 0.1


def test_a_block_name_with_arguments_as_a_layer_value():
    net = net_of("""\
    input: [1, 4]
    blocks:
      mlp:
        args: {f: 4}
        layers:
          - linear: {out_features: f}
      wrap:
        args: {body: mlp}
        layers:
          - body: {name: inner}
    layers:
      - wrap
      - wrap: {body: {mlp: {f: 7}}}
    """)
    assert names(net) == ["0.inner.0", "1.inner.0"]
    assert [layer.output for layer in net.layers] == [(1, 4), (1, 7)]
    assert net.totals()["params"] == 20 + 35


def test_an_argument_shadows_a_layer_type_of_its_name():
    net = net_of("""\
    input: [1, 4]
    blocks:
      b:
        args: {relu: tanh}
        layers:
          - relu
    layers: [b, {b: {relu: none}}, linear: {out_features: 2}]
    """)
    # inside b, `relu` is the argument: tanh, or nothing at all (b is then empty)
    assert names(net) == ["0.0", "2"] and types(net) == ["tanh", "linear"]


def test_none_omits_the_entry_and_it_takes_no_index():
    net = net_of("""\
    input: [1, 4]
    blocks:
      b:
        args: {act: none}
        layers:
          - linear: {out_features: 4}
          - act
          - linear: {out_features: 2}
    layers: [b]
    """)
    assert names(net) == ["0.0", "0.1"]


def test_a_recursion_may_pass_a_layer_value():
    net = net_of("""\
    input: [1, 4]
    blocks:
      r:
        args: {d: null, act: none}
        layers:
          - linear: {out_features: 4, name: l}
          - act
          - r: {d: d - 1, when: d > 0, act: tanh}
    layers:
      - r: {d: 2}
    """)
    assert names(net) == ["0.l", "0.1.l", "0.1.1", "0.1.2.l", "0.1.2.1"]
    assert types(net) == ["linear", "linear", "tanh", "linear", "tanh"]


# -- block defaults reading the use's input ------------------------------------------------


def test_a_default_reads_the_uses_input():
    net = net_of("""\
    input: [1, 6, 8, 8]
    blocks:
      b:
        args: {c: in_shape(1)}
        layers:
          - conv2d: {out_channels: c, kernel_size: 1}
    layers:
      - b
      - conv2d: {out_channels: 3, kernel_size: 1}
      - b
      - b: {c: 5}
    """)
    assert [layer.output[1] for layer in net.layers] == [6, 3, 3, 5]
    assert net.totals()["params"] == 42 + 21 + 12 + 20


def test_a_default_reads_any_input_and_earlier_defaults():
    net = net_of("""\
    input: {a: [1, 4], m: [1, 6]}
    blocks:
      b:
        inputs: [x, y]
        args: {c: "in_shape(1, 1)", d: c * 2}
        layers:
          - linear: {out_features: d}
    layers:
      - b: {from: [a, m]}
    """)
    assert net.layers[0].output == (1, 12)


def test_a_default_reading_out_of_range_is_located_at_the_default():
    assert_located(
        """\
    input: [1, 4]
    blocks:
      b:
        args: {c: in_shape(5)}
        layers:
          - linear: {out_features: c}
    layers: [b]
    """,
        "bad-index",
        4,
        "in_shape",
    )


# -- bounded recursion ----------------------------------------------------------------------

UNET = """\
input: [1, 16, 32, 32]
blocks:
  unet:
    args: {level: null, ch: 8}
    layers:
      - conv2d: {out_channels: ch, kernel_size: 3, padding: 1}
      - unet: {level: level - 1, ch: ch * 2, when: level > 0}
      - conv2d: {out_channels: in_shape(1), kernel_size: 1}
layers:
  - unet: {level: 2}
"""


def test_a_block_may_use_itself_under_when():
    net = net_of(UNET)
    assert names(net) == ["0.0", "0.1.0", "0.1.1.0", "0.1.1.1", "0.1.2", "0.2"]
    assert [layer.output[1] for layer in net.layers] == [8, 16, 32, 32, 32, 32]
    assert net.outputs == {"0.2": (1, 32, 32, 32)}


def test_a_recursion_that_does_not_stop_is_too_deep_at_the_recursive_use():
    assert_located(
        """\
    input: [1, 4]
    blocks:
      b:
        layers:
          - relu
          - b
    layers:
      - b
    """,
        "too-deep",
        6,
        "b",
    )


def test_a_recursion_as_deep_as_the_nesting_bound_is_refused_quickly():
    start = time.perf_counter()
    assert_located(
        """\
    input: [1, 4]
    blocks:
      chain:
        args: {d: null}
        layers:
          - relu
          - chain: {d: d - 1, when: d > 0}
    layers:
      - chain: {d: 2000}
    """,
        "too-deep",
        7,
        "chain:",
    )
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target


TREE = """\
input: [1, 4]
blocks:
  tree:
    args: {d: null}
    layers:
      - relu
      - tree: {d: d - 1, when: d > 0}
      - tree: {d: d - 1, when: d > 0}
layers:
"""


@pytest.mark.parametrize(
    "uses", [["  - tree: {d: 40}"], ["  - relu", "  - tree: {d: 40, name: t}"]]
)
def test_an_exploding_recursion_is_refused_up_front_at_the_recursive_use(uses):
    start = time.perf_counter()
    d = assert_located(TREE + "\n".join(uses) + "\n", "too-many-layers", 7, "tree:")
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target
    assert "uses itself" in d.message


def test_a_second_recursion_is_also_refused_up_front():
    text = TREE + "  - tree: {d: 1}\n  - tree: {d: 40}\n"
    r = analyse_bytes(text.encode(), "t.yaml", limits=Limits(max_layers=3000))
    (d,) = r.diagnostics
    assert (d.code, d.line, d.column) == ("too-many-layers", 7, 9), d
    assert "uses itself" in d.message


def test_a_recursion_with_an_in_shape_default_is_refused_up_front():
    text = """\
input: [1, 4]
blocks:
  tree:
    args: {d: null, c: in_shape(1)}
    layers:
      - linear: {out_features: c}
      - tree: {d: d - 1, when: d > 0}
      - tree: {d: d - 1, when: d > 0}
layers:
  - tree: {d: 40}
"""
    r = analyse_bytes(text.encode(), "t.yaml", limits=Limits(max_layers=3000))
    (d,) = r.diagnostics
    assert (d.code, d.line, d.column) == ("too-many-layers", 7, 9), d
    assert "uses itself" in d.message


def test_a_recursion_through_a_repeat_count_is_bounded_too():
    start = time.perf_counter()
    assert_located(
        """\
    input: [1, 4]
    blocks:
      tree:
        args: {d: null}
        layers:
          - relu
          - tree: {d: d - 1, repeat: "2 if d > 0 else 0"}
    layers:
      - tree: {d: 40}
    """,
        "too-many-layers",
        7,
        "tree:",
    )
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target


# -- share: another call of a module ---------------------------------------------------------


def test_a_shared_leaf_is_called_again_and_takes_no_index():
    net = net_of("""\
    input: [1, 4]
    layers:
      - relu: {name: act}
      - linear: {out_features: 4}
      - share: act
      - linear: {out_features: 4}
      - {share: act, name: again}
      - linear: {out_features: 2, from: again}
    """)
    # the unnamed share takes no index: the next linear is 2, as in torchvision's
    # `out = self.relu(out)` called three times on one module
    assert names(net) == ["act", "1", "act", "2", "act", "3"]
    assert calls(net) == [1, 1, 2, 1, 3, 1]
    assert [layer.params for layer in net.layers] == [0, 20, 0, 20, 0, 10]
    assert net.totals()["params"] == 50


def test_a_shared_module_counts_its_parameters_once_and_its_macs_per_call():
    net = net_of("""\
    input: [1, 8]
    layers:
      - linear: {name: fc, out_features: 8}
      - share: fc
      - share: fc
    """)
    assert names(net) == ["fc", "fc", "fc"] and calls(net) == [1, 2, 3]
    assert [layer.params for layer in net.layers] == [72, 0, 0]
    assert net.totals() == {"params": 72, "trainable": 72, "buffers": 0, "macs": 3 * 64}


SIAMESE = """\
input: {a: [2, 3, 8, 8], b: [2, 3, 8, 8]}
blocks:
  enc:
    layers:
      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
      - batch_norm2d
      - relu
      - adaptive_avg_pool2d: {output_size: 1}
      - flatten
      - linear: {out_features: 5}
layers:
  - enc: {name: encoder}
  - {share: encoder, from: b, name: eb}
  - sub: {from: [encoder, eb]}
  - abs
"""


def test_a_shared_group_is_called_again_with_its_own_names():
    net = net_of(SIAMESE)
    enc = ["encoder.0", "encoder.1", "encoder.2", "encoder.3", "encoder.4", "encoder.5"]
    assert names(net) == enc + enc + ["1", "2"]
    assert calls(net) == [1] * 6 + [2] * 6 + [1, 1]
    # conv 3*4*9+4, bn 8 (+9 buffers), linear 4*5+5: held once
    assert net.totals()["params"] == 112 + 8 + 25
    assert net.totals()["buffers"] == 9
    assert net.totals()["macs"] == 2 * (2 * 4 * 64 * 27 + 2 * 20)
    second = net.layers[6]
    assert second.inputs == ["input.b"] and second.tensors == []
    assert net.layers[12].input_shapes == [(2, 5), (2, 5)]
    assert [g.name for g in net.groups] == ["encoder", "encoder"]
    assert [g.call for g in net.groups] == [1, 2]


def test_share_rows_in_json_and_table(spec_file):
    path = spec_file(SIAMESE)
    r = invoke("shape", path, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["input"] == {"a": [2, 3, 8, 8], "b": [2, 3, 8, 8]}
    assert data["output"] == [2, 5]
    rows = data["layers"]
    assert [row.get("call") for row in rows] == [None] * 6 + [2] * 6 + [None, None]
    assert rows[6]["name"] == "encoder.0" and rows[6]["params"] == 0
    assert rows[6]["from"] == ["input.b"] and rows[6]["macs"] == rows[0]["macs"]
    assert data["totals"]["params"] == 145
    r = invoke("params", path, "--format", "json")
    assert json.loads(r.stdout)["totals"]["params"] == 145
    r = cli_runner(env={"COLUMNS": "200"}).invoke(main, ["shape", path])
    assert r.exit_code == 0, r.output
    assert "relu (call 2)" in r.stdout and "enc (call 2)" in r.stdout
    assert "Inputs a [2, 3, 8, 8]; b [2, 3, 8, 8]" in r.stdout


def test_verify_save_holds_each_shared_tensor_once(spec_file, tmp_path):
    out = tmp_path / "s.npz"
    r = invoke("verify", spec_file(SIAMESE), "--save", out)
    assert r.exit_code == 0, r.output
    with np.load(out) as data:
        keys = sorted(data.files)
    assert keys == [
        "encoder.0.bias",
        "encoder.0.weight",
        "encoder.1.bias",
        "encoder.1.num_batches_tracked",
        "encoder.1.running_mean",
        "encoder.1.running_var",
        "encoder.1.weight",
        "encoder.5.bias",
        "encoder.5.weight",
        "input.a",
        "input.b",
        "output",
    ]


def test_verify_of_a_shared_group_uses_the_same_weights(spec_file, tmp_path):
    out = tmp_path / "g.npz"
    r = invoke(
        "verify",
        spec_file("""\
    input: [1, 4]
    layers:
      - sequential: {name: g, layers: [{linear: {out_features: 4}}, relu]}
      - share: g
    """),
        "--save",
        out,
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as d:
        w, b, x, y = d["g.0.weight"], d["g.0.bias"], d["input"], d["output"]
    f = lambda v: np.maximum(v @ w.T + b, 0)  # noqa: E731
    np.testing.assert_allclose(f(f(x)), y, rtol=1e-5, atol=1e-6)


def test_a_shared_residual_block_is_rewired_through_its_new_inputs():
    net = net_of("""\
    input: {a: [1, 4, 6, 6], b: [1, 4, 6, 6]}
    blocks:
      res:
        layers:
          - conv2d: {name: conv, out_channels: 4, kernel_size: 3, padding: 1}
          - relu: {name: act}
          - {share: act, name: act2}
          - add: {from: [input, act2]}
    layers:
      - res: {name: r}
      - {share: r, from: b, name: rb}
      - add: {from: [r, rb]}
    """)
    assert names(net) == ["r.conv", "r.act", "r.act", "r.2"] * 2 + ["1"]  # shares: no index
    assert calls(net) == [1, 1, 2, 1, 2, 3, 4, 2, 1]
    second_add = net.layers[7]
    assert second_add.inputs == ["input.b", "r.act@4"]
    assert net.layers[8].inputs == ["r.2", "r.2@2"]


def test_a_share_keeps_a_members_direct_network_input():
    net = net_of("""\
    input: {image: [1, 4], meta: [1, 4]}
    blocks:
      b:
        layers:
          - linear: {name: l, out_features: 4}
          - add: {from: [l, meta]}
    layers:
      - b: {name: u, from: meta}
      - {share: u, from: image, name: v}
    """)
    assert net.layers[2].inputs == ["input.image"]
    assert net.layers[3].inputs == ["u.l@2", "input.meta"]


def test_a_share_of_a_group_called_with_one_value_twice():
    net = net_of("""\
    input: [1, 4]
    blocks:
      two:
        inputs: [x, skip]
        layers:
          - linear: {name: l, out_features: 4}
          - sub: {from: [l, skip]}
    layers:
      - relu
      - two: {name: t, from: [0, 0]}
      - tanh: {from: input}
      - {share: t, from: [2, input], name: t2}
    """)
    assert net.layers[4].name == "t.l" and net.layers[4].call == 2
    assert net.layers[4].inputs == ["2"]
    assert net.layers[5].inputs == ["t.l@2", "input"]


def test_a_group_holding_a_share_of_a_parametrised_module_can_be_shared(spec_file):
    path = spec_file("""\
    input: [1, 4]
    layers:
      - sequential:
          name: g
          layers:
            - linear: {name: fc, out_features: 4}
            - share: fc
      - share: g
    """)
    r = cli_runner().invoke(main, ["shape", path, "--format", "json"])
    assert r.exit_code == 0, repr(r.exception)
    rows = json.loads(r.stdout)["layers"]
    assert [(row["name"], row.get("call"), row["params"]) for row in rows] == [
        ("g.fc", None, 20),
        ("g.fc", 2, 0),
        ("g.fc", 3, 0),
        ("g.fc", 4, 0),
    ]


def test_a_share_under_when_zero_is_omitted():
    net = net_of("""\
    input: [1, 4]
    layers:
      - relu: {name: r}
      - {share: r, when: 0}
      - tanh
    """)
    assert names(net) == ["r", "1"]


def test_a_share_of_a_dotted_member():
    net = net_of("""\
    input: [1, 4]
    layers:
      - sequential: {name: g, layers: [{linear: {out_features: 4}}, relu]}
      - share: g.1
      - share: g.0
      - linear: {out_features: 3, from: g.0}
    """)
    assert names(net) == ["g.0", "g.1", "g.1", "g.0", "1"]
    assert calls(net) == [1, 1, 2, 2, 1]
    assert net.layers[-1].inputs == ["g.0"]


def test_a_named_share_can_be_a_network_output():
    net = net_of("""\
    input: [1, 4]
    outputs: [a, b]
    layers:
      - linear: {name: a, out_features: 4}
      - {share: a, name: b}
    """)
    assert net.outputs == {"a": (1, 4), "b": (1, 4)}


def test_a_named_share_is_a_member_of_its_group():
    net = net_of("""\
    input: [1, 4]
    layers:
      - sequential:
          name: s
          layers:
            - linear: {name: a, out_features: 4}
            - {share: a, name: b}
            - tanh
      - relu: {from: s.b}
    """)
    assert net.layers[-1].inputs == ["s.a@2"]


def test_a_named_share_of_a_block_exposes_its_outputs():
    net = net_of("""\
    input: {a: [1, 4], b: [1, 4]}
    blocks:
      two:
        outputs: [sum, prod]
        layers:
          - linear: {name: l, out_features: 4}
          - add: {name: sum, from: [l, input]}
          - mul: {name: prod, from: [sum, input]}
    layers:
      - two: {name: t}
      - {share: t, from: b, name: t2}
      - add: {from: [t.prod, t2.prod]}
    """)
    assert net.layers[-1].inputs == ["t.prod", "t.prod@2"]


# -- dotted from, block outputs and inputs, chains ----------------------------------------


def test_dotted_from_reaches_members_of_groups():
    net = net_of("""\
    input: [1, 8, 4, 4]
    blocks:
      basic:
        layers:
          - conv2d: {name: conv1, out_channels: 8, kernel_size: 3, padding: 1}
          - batch_norm2d: {name: bn1}
          - relu
          - conv2d: {name: conv2, out_channels: 8, kernel_size: 3, padding: 1}
          - batch_norm2d: {name: bn2}
    layers:
      - basic: {name: layer1, repeat: 2}
      - add: {from: [layer1.0.bn2, layer1.1.conv1, layer1]}
      - flatten: {from: layer1.0}
    """)
    add = net.layers[-2]
    assert add.inputs == ["layer1.0.bn2", "layer1.1.conv1", "layer1.1.bn2"]
    assert net.layers[-1].inputs == ["layer1.0.bn2"]


MULTI = """\
input: {image: [1, 3, 16, 16], meta: [1, 10]}
blocks:
  head:
    inputs: [feat, extra]
    outputs: [fused, logits]
    layers:
      - linear: {name: proj, out_features: 10}
      - add: {name: fused, from: [proj, extra]}
      - linear: {name: logits, out_features: 4}
layers:
  - conv2d: {name: stem, out_channels: 8, kernel_size: 3, padding: 1}
  - adaptive_avg_pool2d: {output_size: 1}
  - flatten
  - head: {name: h, from: [2, meta]}
  - relu: {from: h.logits}
  - mul: {from: [h, h.fused]}
"""


def test_block_inputs_and_outputs():
    net = net_of(MULTI)
    assert names(net) == ["stem", "1", "2", "h.proj", "h.fused", "h.logits", "4", "5"]
    assert net.layers[0].inputs == ["input.image"]
    assert net.layers[4].inputs == ["h.proj", "input.meta"]
    # the use's value is its first output, not its last entry
    assert net.layers[6].inputs == ["h.logits"] and net.layers[6].output == (1, 4)
    assert net.layers[7].inputs == ["h.fused", "h.fused"]
    assert net.outputs == {"5": (1, 10)}
    assert net.totals()["params"] == 224 + 90 + 44


def test_the_next_entry_takes_a_blocks_first_output():
    net = net_of("""\
    input: [1, 4]
    blocks:
      b:
        outputs: [x, y]
        layers:
          - relu: {name: x}
          - linear: {name: y, out_features: 2}
    layers:
      - b
      - tanh
      - sigmoid: {from: 0.y}
    """)
    assert net.layers[2].inputs == ["0.x"] and net.layers[2].output == (1, 4)
    assert net.layers[3].inputs == ["0.y"] and net.layers[3].output == (1, 2)


def test_inside_a_block_each_input_is_visible_by_name():
    net = net_of("""\
    input: [1, 4]
    blocks:
      b:
        inputs: [x, skip]
        layers:
          - linear: {out_features: 4}
          - add: {from: [0, skip]}
          - mul: {from: [input, x]}
    layers:
      - relu
      - linear: {out_features: 4}
      - b: {from: [0, 1]}
    """)
    assert net.layers[2].inputs == ["0"]
    assert net.layers[3].inputs == ["2.0", "1"]
    assert net.layers[4].inputs == ["0", "0"]


@pytest.mark.parametrize("named", [False, True])
def test_repeat_chains_through_a_named_output(named):
    name = "name: blk, " if named else ""
    net = net_of(f"""\
    input: [1, 4]
    blocks:
      dl:
        outputs: [new, joined]
        layers:
          - linear: {{name: new, out_features: 2}}
          - concat: {{name: joined, from: [input, new]}}
    layers:
      - dl: {{{name}repeat: {{times: 3, chain: joined}}}}
      - relu
    """)
    pre = "blk." if named else ""
    assert names(net) == [f"{pre}{j}.{m}" for j in range(3) for m in ("new", "joined")] + [
        "1" if named else "3"
    ]
    # DenseNet: each copy takes the growing concatenation of the one before
    assert [layer.input_shapes[0] for layer in net.layers if layer.type.name == "linear"] == [
        (1, 4),
        (1, 6),
        (1, 8),
    ]
    assert net.layers[-1].input_shapes == [(1, 10)]
    assert net.totals()["params"] == 10 + 14 + 18


def test_a_network_input_can_be_named_anywhere():
    net = net_of("""\
    input: {image: [1, 4], meta: [1, 4]}
    blocks:
      b:
        layers:
          - add: {from: [input, meta]}
    layers:
      - b
      - relu: {from: meta}
      - mul: {from: [0, 1, image]}
    """)
    assert net.layers[0].inputs == ["input.image", "input.meta"]
    assert net.layers[2].inputs == ["0.0", "1", "input.image"]


# -- several network inputs, --input NAME= -----------------------------------------------


def test_input_option_by_name(spec_file):
    path = spec_file(MULTI)
    r = invoke(
        "shape", path, "--input", "meta=2,10", "--input", "image=2,3,8,8", "--format", "json"
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["input"] == {"image": [2, 3, 8, 8], "meta": [2, 10]}
    assert data["output"] == [2, 10]
    r = invoke("shape", path, "--input", "1,3,4,4", "--format", "json")
    assert json.loads(r.stdout)["input"] == {"image": [1, 3, 4, 4], "meta": [1, 10]}


def test_input_option_naming_no_input_is_a_located_error(spec_file):
    r = invoke("shape", spec_file(MULTI, "m.yaml"), "--input", "nope=1,2")
    assert r.exit_code == 1
    assert (
        "m.yaml:1:8: error: " in r.stderr
        and "[bad-input]" in r.stderr
        and "image, meta" in r.stderr
    )
    r = invoke("shape", spec_file("input: [1, 4]\nlayers: [relu]\n", "p.yaml"), "--input", "x=1,4")
    assert r.exit_code == 1 and "p.yaml:1:8: error: " in r.stderr and "[bad-input]" in r.stderr


@pytest.mark.parametrize("value", ["meta=", "=1,2", "meta=1,x"])
def test_bad_input_option_is_a_usage_error(spec_file, value):
    r = invoke("shape", spec_file(MULTI), "--input", value)
    assert r.exit_code == 2 and "--input" in r.output


def test_input_option_given_twice_is_a_usage_error(spec_file):
    path = spec_file(MULTI)
    for args in (["meta=1,10", "meta=2,10"], ["1,3,8,8", "2,3,8,8"]):
        r = invoke("shape", path, *[x for a in args for x in ("--input", a)])
        assert r.exit_code == 2 and "given twice" in r.output, r.output


def test_check_counts_a_shared_encoder_once(spec_file):
    ok = spec_file(
        SIAMESE + "expect:\n  output: [2, 5]\n  params: 145\n  buffers: 9\n  macs: 27728\n",
        "ok.yaml",
    )
    r = invoke("check", ok)
    assert r.exit_code == 0, r.output
    text = SIAMESE + "expect:\n  params: 290\n"
    bad = spec_file(text, "bad.yaml")
    r = invoke("check", bad, "--format", "parsable")
    assert r.exit_code == 1
    line = len(text.splitlines())
    assert (
        f"bad.yaml:{line}:11: error: " in r.stdout + r.stderr
        and "[expect-params]" in r.stdout + r.stderr
    ), r.output


def test_verify_feeds_and_saves_each_input(spec_file, tmp_path):
    out = tmp_path / "m.npz"
    r = invoke(
        "verify",
        spec_file(MULTI),
        "--save",
        out,
        "--input",
        "meta=3,10",
        "--input",
        "image=3,3,8,8",
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as d:
        assert d["input.image"].shape == (3, 3, 8, 8)
        assert d["input.meta"].shape == (3, 10)
        assert d["output"].shape == (3, 10)
        assert "input" not in d.files


# -- schema: every new form validates -------------------------------------------------

NEW_FORMS = [
    CNA,
    UNET,
    SIAMESE,
    MULTI,
    TREE + "  - tree: {d: 3}\n",
    """\
input: [1, 4]
blocks:
  dl:
    outputs: [new, joined]
    inputs: [x]
    args: {act: relu, norm: {group_norm: {num_groups: 2}}, c: in_shape(1), n: none}
    layers:
      - linear: {name: new, out_features: 2}
      - act: {inplace: true}
      - concat: {name: joined, from: [input, new]}
layers:
  - dl: {repeat: {times: 3, chain: joined, as: j}}
  - {share: 0.new, from: 0, name: again, when: 1}
  - share: 1
  - dl: {act: {leaky_relu: {negative_slope: 0.2}}, norm: none}
  - dl: {act: hardswish, n: dl}
""",
]


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    r = cli_runner().invoke(main, ["schema"])
    assert r.exit_code == 0, r.output
    return jsonschema.Draft7Validator(json.loads(r.stdout))


@pytest.mark.parametrize("i", range(len(NEW_FORMS)))
def test_new_forms_validate_against_the_schema(validator, i):
    assert [e.message for e in validator.iter_errors(yaml.safe_load(NEW_FORMS[i]))] == []


@pytest.mark.parametrize("entry", ["{share: 0, repeat: 2}", "{share: 0, bogus: 1}", "{share: [0]}"])
def test_the_schema_rejects_bad_share_entries(validator, entry):
    text = f"input: [1, 4]\nlayers:\n  - relu\n  - {entry}\n"
    assert list(validator.iter_errors(yaml.safe_load(text)))


# -- layers --keys documents the new keys ------------------------------------------------


def test_layers_keys_documents_the_new_keys():
    r = cli_runner(env={"COLUMNS": "200"}).invoke(main, ["layers", "--keys"])
    assert r.exit_code == 0, r.output
    for word in ("share", "when", "inputs", "outputs", "in_shape", "chain", "none", "recursion"):
        assert word in r.stdout, word
    r = cli_runner(env={"COLUMNS": "200"}).invoke(main, ["layers", "share", "when"])
    assert r.exit_code == 0, r.output
    assert "- share: relu" in r.stdout
    keys = [
        line.split("│")[1].strip()
        for line in r.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    ]
    assert sorted(keys) == ["share", "when"]


# -- refusals, each at its line:col with its code ----------------------------------------

REFUSED = {
    "layer-value-with-name": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: relu}
    layers: [act]
layers:
  - b: {act: {relu: {name: x}}}
""",
        "bad-value",
        7,
        "x}",
    ),
    "layer-value-long-form-with-name": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: relu}
    layers: [act]
layers:
  - b: {act: {name: x, type: relu}}
""",
        "bad-value",
        7,
        "x,",
    ),
    "layer-value-with-when-default": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: {relu: {when: 1}}}
    layers: [act]
layers: [b]
""",
        "bad-value",
        4,
        "1}",
    ),
    "layer-value-with-repeat": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: relu}
    layers: [act]
layers:
  - b: {act: {relu: {repeat: 2}}}
""",
        "bad-value",
        7,
        "2}",
    ),
    "layer-value-no-type": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: relu}
    layers: [act]
layers:
  - b: {act: {relux: {}}}
""",
        "unknown-layer",
        7,
        "relux",
    ),
    "layer-value-in-an-expression": (
        """\
input: [1, 3, 8, 8]
blocks:
  b:
    args: {act: relu}
    layers:
      - conv2d: {out_channels: act, kernel_size: 1}
layers: [b]
""",
        "bad-value",
        6,
        "act,",
    ),
    "layer-value-in-when": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: relu}
    layers:
      - tanh: {when: act}
layers: [b]
""",
        "bad-value",
        6,
        "act}",
    ),
    "none-entry-named-in-from": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: none}
    layers:
      - linear: {out_features: 4}
      - act: {name: a}
      - relu: {from: a}
layers: [b]
""",
        "omitted-entry",
        8,
        "a}",
    ),
    "a-number-used-as-a-layer": (
        """\
input: [1, 4]
blocks:
  b:
    args: {act: 3}
    layers:
      - act
layers: [b]
""",
        "unknown-layer",
        6,
        "act",
    ),
    "share-of-itself": (
        """\
input: [1, 4]
layers:
  - relu: {name: a}
  - {share: b, name: b}
""",
        "unknown-name",
        4,
        "b,",
    ),
    "share-of-input": (
        """\
input: [1, 4]
layers:
  - relu
  - share: input
""",
        "unknown-name",
        4,
        "input",
    ),
    "share-of-a-later-entry": (
        """\
input: [1, 4]
layers:
  - share: a
  - relu: {name: a}
""",
        "unknown-name",
        3,
        12,
    ),
    "share-from-inside-a-block": (
        """\
input: [1, 4]
blocks:
  b:
    layers:
      - share: a
layers:
  - relu: {name: a}
  - b
""",
        "unknown-name",
        5,
        16,
    ),
    "share-of-an-omitted-entry": (
        """\
input: [1, 4]
layers:
  - relu: {name: a, when: 0}
  - share: a
""",
        "omitted-entry",
        4,
        12,
    ),
    "share-missing-member": (
        """\
input: [1, 4]
layers:
  - sequential: {name: g, layers: [relu]}
  - share: g.5
""",
        "unknown-name",
        4,
        "g.5",
    ),
    "share-member-of-a-leaf": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - share: r.x
""",
        "unknown-name",
        4,
        "r.x",
    ),
    "share-with-repeat": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - {share: r, repeat: 2}
""",
        "bad-share",
        4,
        "repeat",
    ),
    "share-with-an-argument": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - {share: r, inplace: true}
""",
        "bad-share",
        4,
        "inplace",
    ),
    "share-a-list": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - {share: [r]}
""",
        "bad-share",
        4,
        "[r]",
    ),
    "share-empty": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - {share: ""}
""",
        "bad-share",
        4,
        '""',
    ),
    "share-duplicate-name": (
        """\
input: [1, 4]
layers:
  - relu: {name: a}
  - {share: a, name: a}
""",
        "duplicate-name",
        4,
        "a}",
    ),
    "share-conv-other-channels": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: c, out_channels: 8, kernel_size: 3}
  - share: c
""",
        "bad-share",
        4,
        "c",
    ),
    "share-conv-other-rank": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: c, out_channels: 3, kernel_size: 1}
  - flatten: {start_dim: 2}
  - share: c
""",
        "bad-share",
        5,
        "c",
    ),
    "share-linear-other-features": (
        """\
input: [1, 4]
layers:
  - linear: {name: l, out_features: 6}
  - share: l
""",
        "bad-share",
        4,
        "l",
    ),
    "share-batch-norm-other-channels": (
        """\
input: [1, 4, 8, 8]
layers:
  - batch_norm2d: {name: bn}
  - conv2d: {out_channels: 6, kernel_size: 1}
  - share: bn
""",
        "bad-share",
        5,
        "bn",
    ),
    "share-group-other-channels": (
        """\
input: {a: [1, 3, 8, 8], b: [1, 5, 8, 8]}
layers:
  - sequential: {name: enc, layers: [relu, {conv2d: {out_channels: 4, kernel_size: 1}}]}
  - {share: enc, from: b}
""",
        "bad-share",
        4,
        "enc",
    ),
    "share-group-wrong-input-count": (
        """\
input: [1, 4]
blocks:
  two:
    inputs: [x, y]
    layers:
      - add: {from: [x, y]}
layers:
  - relu
  - two: {name: t, from: [0, input]}
  - {share: t, from: 0}
""",
        "bad-from",
        10,
        "0}",
    ),
    "from-member-of-a-leaf": (
        """\
input: [1, 4]
layers:
  - relu: {name: x}
  - linear: {out_features: 2, from: x.y}
""",
        "unknown-name",
        4,
        "x.y",
    ),
    "from-missing-member": (
        """\
input: [1, 4]
layers:
  - sequential: {name: g, layers: [relu]}
  - linear: {out_features: 2, from: g.nope}
""",
        "unknown-name",
        4,
        "g.nope",
    ),
    "chain-names-nothing": (
        """\
input: [1, 4]
blocks:
  b:
    outputs: [x]
    layers:
      - relu: {name: x}
layers:
  - b: {repeat: {times: 2, chain: y}}
""",
        "unknown-name",
        8,
        "y}",
    ),
    "chain-on-a-leaf": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 2, chain: x}}
""",
        "unknown-name",
        3,
        "x}",
    ),
    "chain-not-a-name": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: {times: 2, chain: [x]}}
""",
        "bad-repeat",
        3,
        "[x]",
    ),
    "outputs-missing-entry": (
        """\
input: [1, 4]
blocks:
  b:
    outputs: [y]
    layers:
      - relu: {name: x}
layers: [b]
""",
        "unknown-name",
        4,
        "y]",
    ),
    "outputs-listed-twice": (
        """\
input: [1, 4]
blocks:
  b:
    outputs: [x, x]
    layers:
      - relu: {name: x}
layers: [b]
""",
        "bad-block",
        4,
        "x]",
    ),
    "inputs-duplicate": (
        """\
input: [1, 4]
blocks:
  b:
    inputs: [x, x]
    layers: [relu]
layers: [b]
""",
        "bad-block",
        4,
        "x]",
    ),
    "inputs-named-output": (
        """\
input: [1, 4]
blocks:
  b:
    inputs: [x, output]
    layers: [relu]
layers: [b]
""",
        "bad-block",
        4,
        "output",
    ),
    "inputs-input-not-first": (
        """\
input: [1, 4]
blocks:
  b:
    inputs: [x, input]
    layers: [relu]
layers: [b]
""",
        "bad-block",
        4,
        "[x",
    ),
    "inputs-empty": (
        """\
input: [1, 4]
blocks:
  b:
    inputs: []
    layers: [relu]
layers: [b]
""",
        "bad-block",
        4,
        "[]",
    ),
    "inputs-count-mismatch": (
        """\
input: [1, 4]
blocks:
  b:
    inputs: [x, skip]
    layers:
      - add: {from: [x, skip]}
layers:
  - relu
  - b
""",
        "bad-from",
        9,
        "b",
    ),
    "input-named-input": (
        """\
input: {input: [1, 4]}
layers: [relu]
""",
        "bad-input",
        1,
        9,
    ),
    "input-named-output": (
        """\
input: {output: [1, 4]}
layers: [relu]
""",
        "bad-input",
        1,
        "output",
    ),
    "input-named-1x": (
        """\
input: {1x: [1, 4]}
layers: [relu]
""",
        "bad-input",
        1,
        "1x",
    ),
    "input-empty-mapping": (
        """\
input: {}
layers: [relu]
""",
        "bad-input",
        1,
        "{}",
    ),
    "input-bad-shape": (
        """\
input: {a: [1, 4], b: [1, -2]}
layers: [relu]
""",
        "bad-value",
        1,
        "-2",
    ),
    "from-unknown-network-input": (
        """\
input: {a: [1, 4], b: [1, 4]}
layers:
  - relu: {from: c}
""",
        "unknown-name",
        3,
        "c}",
    ),
    "share-in-a-repeat-over-the-bound": (
        """\
input: [1, 4]
layers:
  - relu: {name: r}
  - sequential: {repeat: 60000, layers: [{share: r}]}
""",
        "too-many-layers",
        4,
        "60000",
    ),
}
LIMITED = {"share-in-a-repeat-over-the-bound": 1000}


def _col(text: str, line: int, marker) -> int:
    """The column of ``marker`` on ``line`` (an int is the column itself)."""
    return marker if isinstance(marker, int) else text.splitlines()[line - 1].index(marker) + 1


@pytest.mark.parametrize("name", list(REFUSED))
def test_misuse_is_refused_at_its_node(name):
    text, code, line, marker = REFUSED[name]
    limits = Limits(max_layers=LIMITED[name]) if name in LIMITED else None
    col = _col(text, line, marker)
    start = time.perf_counter()
    r = analyse_bytes(text.encode(), "t.yaml", limits=limits)
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target
    assert r.net is None, "expected an error"
    (d,) = r.diagnostics
    assert (d.code, d.line, d.column) == (code, line, col), d


@pytest.mark.parametrize("name", list(REFUSED))
def test_misuse_through_the_cli_exits_1_with_a_located_error(name, tmp_path):
    text, code, line, marker = REFUSED[name]
    col = _col(text, line, marker)
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    extra = ["--max-layers", str(LIMITED[name])] if name in LIMITED else []
    r = invoke("shape", p, *extra)
    assert r.exit_code == 1, r.output
    assert f"bad.yaml:{line}:{col}: error: " in r.stderr and f"[{code}]" in r.stderr, r.stderr
    r = invoke("check", p, "--format", "json", *extra)
    assert r.exit_code == 1
    (err,) = json.loads(r.stdout)["errors"]
    assert (err["line"], err["column"]) == (line, col)


def test_every_block_output_must_name_an_entry():
    assert_located(
        """\
    input: [1, 4]
    blocks:
      b:
        outputs: [x, nope]
        layers:
          - relu: {name: x}
    layers:
      - b: {name: u}
    """,
        "unknown-name",
        4,
        "nope",
    )


def test_an_omitted_first_output_is_refused_at_the_outputs():
    d = assert_located(
        """\
    input: [1, 4]
    blocks:
      b:
        args: {k: 0}
        outputs: [x]
        layers:
          - relu: {name: x, when: k}
    layers:
      - b: {name: u}
    """,
        "omitted-entry",
        5,
        "x]",
    )
    assert "'x' is omitted" in d.message and "line 7" in d.message


def test_a_shared_modules_lint_warning_is_given_once(spec_file):
    r = invoke(
        "check",
        spec_file(
            """\
    input: [1, 3, 8, 8]
    layers:
      - sequential: {name: g, layers: [{conv2d: {out_channels: 3, kernel_size: 1}}, batch_norm2d]}
      - share: g
      - share: g
    """,
            "lint.yaml",
        ),
        "--format",
        "parsable",
    )
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stdout.splitlines() if "bias-before-norm" in line]
    assert len(warnings) == 1 and "lint.yaml:3:" in warnings[0], warnings


# -- limits on the new ways of making layers ------------------------------------------


@pytest.mark.parametrize(
    "text, limit",
    [
        (
            """\
input: [1, 4]
blocks:
  b:
    layers:
      - relu: {name: r}
      - share: r
layers:
  - b: {repeat: 60000}
""",
            None,
        ),
        (
            """\
input: [1, 4]
blocks:
  b:
    layers:
      - relu: {name: r}
      - share: r
layers:
  - b: {repeat: 600}
""",
            1000,
        ),
        (
            """\
input: [1, 4]
layers:
  - sequential: {name: g, layers: [{relu: {repeat: 900}}]}
  - share: g
""",
            1000,
        ),
    ],
)
def test_shares_count_towards_the_layer_bound(text, limit):
    start = time.perf_counter()
    r = analyse_bytes(text.encode(), "t.yaml", limits=Limits(max_layers=limit) if limit else None)
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target
    assert r.net is None and [d.code for d in r.diagnostics] == ["too-many-layers"]


def test_a_share_inside_a_block_repeated_60000_times_is_refused_fast(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text(
        textwrap.dedent("""\
    input: [1, 4]
    blocks:
      b:
        layers:
          - relu: {name: r}
          - share: r
    layers:
      - b: {repeat: 60000}
    """)
    )
    start = time.perf_counter()
    r = invoke("shape", p, "--max-layers", "1000")
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target
    assert (
        r.exit_code == 1
        and "big.yaml:8:17: error: " in r.stderr
        and "[too-many-layers]" in r.stderr
    )


def test_the_recursion_example_is_refused_through_the_cli(tmp_path):
    p = tmp_path / "rec.yaml"
    p.write_text(TREE + "  - tree: {d: 40}\n")
    start = time.perf_counter()
    r = invoke("shape", p)
    assert time.perf_counter() - start < 5  # unbounded work never ends; not a speed target
    assert (
        r.exit_code == 1 and "rec.yaml:7:9: error: " in r.stderr and "[too-many-layers]" in r.stderr
    )


def test_a_layer_value_is_no_var():
    # a layer-valued argument does not leak out of its block
    d = diag_of("""\
    input: [1, 4]
    blocks:
      b:
        args: {act: relu}
        layers: [act]
    layers:
      - b
      - act
    """)
    assert (d.code, d.line, d.column) == ("unknown-layer", 8, 5)


@pytest.mark.parametrize(
    "text,code,line,marker",
    [
        # a loop variable may not shadow a shape reader
        (
            "input: [1, 4]\nlayers:\n  - relu: {repeat: {times: 2, as: in_shape}}\n",
            "bad-repeat",
            3,
            "in_shape",
        ),
        # a block input and a block argument of the same name
        (
            "input: [1, 4]\nblocks:\n  b:\n    args: {x: 1}\n    inputs: [input, x]\n"
            "    layers: [add: {from: [input, x]}]\nlayers:\n  - b: {from: [input, input]}\n",
            "bad-block",
            5,
            "x]",
        ),
        # share takes a plain name, not a template
        (
            'input: [1, 4]\nlayers:\n  - relu: {name: l0}\n  - share: "l{0}"\n',
            "bad-share",
            4,
            '"l{0}"',
        ),
    ],
)
def test_more_misuses_are_located(text, code, line, marker):
    from layercalc.analyses.loading import analyse_bytes as _analyse

    (d,) = _analyse(text.encode(), "t.yaml").diagnostics
    col = text.splitlines()[line - 1].index(marker) + 1
    assert (d.code, d.line, d.column) == (code, line, col), d


BLOCK_BY_KEY = """\
input: {x: [2, 3], y: [2, 3]}
blocks:
  minus:
    inputs: [a, b]
    layers:
      - sub: {from: [a, b]}
layers:
  - minus: {name: m, from: FROM}
"""


def test_a_block_use_binds_a_from_mapping_by_the_block_input_names():
    """`from: {b: y, a: x}` was bound in the mapping's order (a = y, b = x), keys
    ignored: a network wired otherwise than written, with no error where shapes fit."""
    from layercalc.analyses import verify

    for written in ("{b: y, a: x}", "{a: x, b: y}", "[x, y]"):
        net = net_of(BLOCK_BY_KEY.replace("FROM", written))
        v = verify.run(net, save=True)
        want = v.arrays["input.x"] - v.arrays["input.y"]
        assert np.array_equal(v.arrays["output"], want), written


@pytest.mark.parametrize(
    "written, message",
    [
        ("{a: x, c: y}", "block 'minus' has no input 'c' (its inputs: a, b)"),
        ("{a: x}", "block 'minus' needs its input 'b', which `from` does not name"),
    ],
)
def test_a_block_from_mapping_names_only_the_block_inputs(written, message):
    d = diag_of(BLOCK_BY_KEY.replace("FROM", written))
    assert (d.code, d.line, d.message) == ("bad-from", 8, message)


def test_an_error_in_a_block_body_says_which_use_raised_it():
    """Located in the body (the argument to blame there), it did not say which of four
    uses with different arguments it came from."""
    text = """\
    input: [1, 6, 8, 8]
    blocks:
      b:
        args: {g: 1}
        layers: [conv2d: {out_channels: 6, kernel_size: 1, groups: g}]
    layers:
      - b: {g: 2}
      - b: {g: 3}
      - b: {g: 4}
      - b: {g: 6}
    """
    d = diag_of(text)
    assert (d.code, d.line) == ("invalid-layer", 5)
    assert d.hint.endswith("(in block 'b' as used at line 9)")


def test_a_repeat_of_a_block_of_several_inputs_says_why_it_cannot_chain():
    """It said "block 'b' takes 2 inputs (p, q), got 1" at a `from` naming two."""
    d = diag_of(
        """\
        input: {x: [1, 4], y: [1, 4]}
        blocks: {b: {inputs: [p, q], layers: [add: {from: [p, q]}, linear: {out_features: 4}]}}
        layers: [b: {name: g, from: [x, y], repeat: 3}]
        """
    )
    assert (d.code, d.line, d.column) == ("bad-from", 3, 45)
    assert "each copy after the first the previous copy's output" in d.message


def test_a_doubled_brace_in_a_name_template_is_said_to_be_no_escape():
    """It was reported as "has a '{' without its '}'" though both are there."""
    d = diag_of(
        """\
        input: [1, 4]
        layers:
          - relu: {name: "x{{j}}", repeat: {times: 2, as: j}}
        """
    )
    assert (d.code, d.line) == ("bad-name", 3)
    assert "placeholders do not nest" in d.message and "({{ is no escape)" in d.message
