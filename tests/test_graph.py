"""Graphs: from, merges, blocks, sequentials, repeat, names, outputs, and their errors."""

import pytest

from conftest import assert_located, diag_of, net_of

BLOCK = """\
input: [1, 8, 16, 16]
blocks:
  basic:
    args: {channels: null, k: 3}
    layers:
      - conv2d: {name: conv1, out_channels: channels, kernel_size: k, padding: k // 2}
      - batch_norm2d: {name: bn1}
      - add: {from: [bn1, input]}
layers:
  - basic: {name: layer1, channels: 8, repeat: 2}
  - sequential:
      name: head
      layers: [adaptive_avg_pool2d: {output_size: 1}, flatten, linear: {out_features: 3}]
"""


def test_names_follow_named_modules():
    net = net_of(BLOCK)
    assert [layer.name for layer in net.layers] == [
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.0.2",
        "layer1.1.conv1",
        "layer1.1.bn1",
        "layer1.1.2",
        "head.0",
        "head.1",
        "head.2",
    ]
    # the add of copy 1 takes copy 0's output (its block input) as its shortcut
    assert net.layers[5].inputs == ["layer1.1.bn1", "layer1.0.2"]
    # 8*8*9 + 8 conv, 16 bn, twice; linear 8*3 + 3
    assert net.totals()["params"] == 2 * (8 * 8 * 9 + 8 + 16) + 27
    assert net.outputs == {"head.2": (1, 3)}


def test_outputs_mapping_and_groups():
    net = net_of(BLOCK + "outputs: [layer1, head.0]\n")
    assert net.outputs == {"layer1": (1, 8, 16, 16), "head.0": (1, 8, 1, 1)}


def test_concat_along_channels():
    net = net_of("""\
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: a, out_channels: 4, kernel_size: 1}
  - conv2d: {name: b, from: input, out_channels: 5, kernel_size: 3, padding: 1}
  - cat: {from: [a, b, input]}
""")
    assert net.layers[-1].output == (1, 12, 8, 8)


def test_trainable_false_freezes_a_whole_block():
    net = net_of(BLOCK.replace("repeat: 2}", "repeat: 2, trainable: false}"))
    t = net.totals()
    assert t["trainable"] == 27 and t["params"] - t["trainable"] == 2 * (8 * 8 * 9 + 8 + 16)


ERRORS = {
    "unknown-from": (
        """\
input: [1, 4]
layers:
  - linear: {name: fc1, out_features: 4}
  - add: {from: [fc2, input]}
""",
        "unknown-name",
        4,
        "fc2",
        "did you mean 'fc1'?",
    ),
    "forward-reference": (
        """\
input: [1, 4]
layers:
  - add: {from: [fc1, input]}
  - linear: {name: fc1, out_features: 4}
""",
        "forward-reference",
        3,
        "fc1",
        None,
    ),
    # SPEC.md section 11: a block may use itself, but a recursion with no `when` to stop
    # it is refused at the recursive use once it passes the nesting limit
    "block-uses-itself": (
        """\
input: [1, 4]
blocks:
  a: {layers: [relu, b]}
  b: {layers: [a]}
layers: [a]
""",
        "too-deep",
        4,
        "a]",
        None,
    ),
    "missing-block-argument": (
        """\
input: [1, 4]
blocks:
  mlp: {args: {width: null}, layers: [linear: {out_features: width}]}
layers:
  - mlp: {name: m}
""",
        "missing-argument",
        5,
        "mlp",
        None,
    ),
    "unknown-block-argument": (
        """\
input: [1, 4]
blocks:
  mlp: {args: {width: null}, layers: [linear: {out_features: width}]}
layers:
  - mlp: {widht: 3}
""",
        "unknown-argument",
        5,
        "widht",
        "did you mean 'width'?",
    ),
    "duplicate-name-in-block": (
        """\
input: [1, 4]
blocks:
  mlp:
    layers:
      - linear: {name: fc, out_features: 4}
      - linear: {name: fc, out_features: 4}
layers: [mlp]
""",
        "duplicate-name",
        6,
        "fc,",
        None,
    ),
    "two-inputs-into-a-plain-layer": (
        """\
input: [1, 4]
layers:
  - linear: {name: a, out_features: 4}
  - relu: {from: [a, input]}
""",
        "bad-from",
        4,
        "[a, input]",
        None,
    ),
    "merge-needs-two": (
        """\
input: [1, 4]
layers:
  - add: {from: input}
""",
        "bad-merge",
        3,
        "input",
        None,
    ),
    "unknown-output": (
        """\
input: [1, 4]
layers: [relu]
outputs: [relu]
""",
        "unknown-name",
        3,
        "relu]",
        None,
    ),
    "repeat-over-the-bound": (
        """\
input: [1, 4]
layers:
  - relu: {repeat: 10 ** 12}
""",
        "too-many-layers",
        3,
        "10",
        None,
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_graph_error_is_located(name):
    assert_located(*ERRORS[name])


def test_add_mismatch_shows_both_shapes():
    d = diag_of("""\
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: a, out_channels: 4, kernel_size: 1}
  - add: {from: [a, input]}
""")
    assert "[1, 4, 8, 8]" in d.message and "[1, 3, 8, 8]" in d.message


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize(
    "text",
    [
        "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n",
        "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 99}\n",  # error
        "input: [1, 3\n",  # YAML error while composing
    ],
)
def test_the_collector_is_left_as_it_was_found(enabled, text):
    """Analysis pauses Python's cyclic GC (graph.gc_paused) and must hand it back in the
    state it found it, whether the spec is valid or not."""
    import gc

    from layercalc.analyses.loading import analyse_bytes
    from layercalc.analyses.totals import network_json

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        r = analyse_bytes(text.encode(), "t.yaml")
        assert gc.isenabled() is enabled
        if r.net is not None:
            network_json(r.net)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_streamed_json_layers_write_the_same_text():
    """`shape --format json` makes each layer's object as it writes it (100,000 layers'
    objects are never held at once): the text is the list form's, byte for byte."""
    from pathlib import Path

    from layercalc.analyses.loading import analyse
    from layercalc.analyses.totals import network_json
    from layercalc.render import render_json

    for spec in ("dcgan_generator.yaml", "resnet18.yaml"):
        net = analyse(str(Path(__file__).parent.parent / "specs" / spec)).net
        whole = render_json([network_json(net)])
        assert render_json([network_json(net, stream=True)]) == whole
        two = [network_json(net, stream=True), network_json(net, stream=True)]
        assert render_json(two, True) == render_json([network_json(net)] * 2, True)
