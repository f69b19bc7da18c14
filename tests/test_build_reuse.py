"""The builder evaluates an entry's arguments once per distinct literal values and
values of the names they read (graph.Builder._literal_args, values.convert's table):
what it reuses must be what evaluating again would give."""

import pytest
from conftest import assert_located, net_of


def test_a_bare_name_is_read_in_each_use():
    # the same entry, its argument a block argument: each use has its own value
    net = net_of(
        """\
        input: [1, 4, 8, 8]
        blocks:
          widen:
            args: {channels: null}
            layers:
              - conv2d: {out_channels: channels, kernel_size: 1}
        layers:
          - widen: {channels: 8}
          - widen: {channels: 16}
          - widen: {channels: 16.0}
          - widen: {channels: 8}
        """
    )
    assert [layer.output[1] for layer in net.layers] == [8, 16, 16, 8]
    assert [layer.params for layer in net.layers] == [40, 144, 272, 136]


def test_a_name_and_a_literal_of_equal_text_are_not_confused():
    # `k` is a var in the second block only; in the first, `k` would be an unknown name
    net = net_of(
        """\
        input: [1, 4, 8, 8]
        vars: {k: 3}
        blocks:
          b:
            args: {k: 1}
            layers:
              - conv2d: {out_channels: 4, kernel_size: k}
        layers:
          - conv2d: {out_channels: 4, kernel_size: k}
          - b: {}
          - b: {k: 3}
        """
    )
    assert [layer.output[2:] for layer in net.layers] == [(6, 6), (6, 6), (4, 4)]


def test_one_true_and_one_point_zero_stay_apart():
    # 1 and True are equal keys to a dict: a bool argument takes true, not 1
    text = """\
        input: [1, 4]
        layers:
          - linear: {out_features: 4, bias: true}
          - linear: {out_features: 4, bias: 1}
        """
    assert_located(text, "bad-value", 4, "1}")


def test_literal_entries_in_a_repeat_and_a_flat_list_agree():
    flat = net_of(
        """\
        input: [1, 3, 8, 8]
        layers:
          - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}
          - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}
          - conv2d: {out_channels: 3, kernel_size: 3, padding: 1.0}
        """
    )
    repeated = net_of(
        """\
        input: [1, 3, 8, 8]
        layers:
          - conv2d: {out_channels: 3, kernel_size: 3, padding: 1, repeat: 3}
        """
    )
    for a, b in zip(flat.layers, repeated.layers):
        assert (a.name, a.output, a.params, a.macs) == (b.name, b.output, b.params, b.macs)
        assert a.args == b.args


# -- the plain-entry shortcut (graph.Builder._plain_leaf) --------------------------------

CRAFTED = [
    # an unnamed entry's index meets a name, an unknown argument twice, a cascade after it
    """\
    input: [1, 4, 8, 8]
    layers:
      - relu
      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
      - relu: {name: "3"}
      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
      - conv2d: {out_channels: 4, kernal_size: 3}
      - relu
      - conv2d: {out_channels: 4, kernal_size: 3}
      - relu
    """,
    # bare names, a block's arguments and prefix, trainable: false, a layer past the limit
    """\
    input: [1, 4, 8, 8]
    vars: {c: 4}
    blocks:
      b:
        args: {c: 8, act: relu}
        layers:
          - conv2d: {out_channels: c, kernel_size: 1}
          - act
          - conv2d: {out_channels: c, kernel_size: 1}
          - batch_norm2d
    layers:
      - conv2d: {out_channels: c, kernel_size: 1}
      - conv2d: {out_channels: c, kernel_size: 1}
      - b: {name: one}
      - b: {name: two, c: 4, act: gelu, trainable: false}
      - b: {c: 4}
      - relu
      - relu
    """,
]


def _snapshot(text: str, **kw):
    import textwrap

    from layercalc.analyses.loading import analyse_bytes

    r = analyse_bytes(textwrap.dedent(text).encode(), "t.yaml", **kw)
    diags = [(d.code, d.line, d.column, d.message) for d in r.diagnostics]
    if r.net is None:
        return None, diags
    layers = [
        (
            layer.name,
            layer.type.name,
            repr(sorted(layer.args.items())),
            list(layer.inputs),
            [tuple(s) for s in layer.input_shapes],
            tuple(layer.output),
            [(t.key, tuple(t.shape), t.buffer) for t in layer.tensors],
            layer.params,
            layer.buffers,
            layer.macs,
            layer.trainable,
            layer.node.line,
            layer.node.col,
            layer.group,
            layer.depth,
        )
        for layer in r.net.layers
    ]
    groups = [(g.name, g.type, g.first, g.last, g.depth) for g in r.net.groups]
    return (layers, groups), diags


def _specs():
    from pathlib import Path

    specs = Path(__file__).resolve().parent.parent / "specs"
    return [p.read_text() for p in sorted(specs.glob("*.yaml"))]


@pytest.mark.parametrize("max_layers", [None, 12])
def test_the_plain_entry_shortcut_builds_what_the_general_way_builds(monkeypatch, max_layers):
    from layercalc import graph
    from layercalc.spec import Limits

    kw = {} if max_layers is None else {"limits": Limits(max_layers=max_layers)}
    taken = []
    shortcut = graph.Builder._plain_leaf

    def counted(self, *args):
        done = shortcut(self, *args)
        taken.append(done)
        return done

    texts = CRAFTED + _specs()
    monkeypatch.setattr(graph.Builder, "_plain_leaf", counted)
    fast = [_snapshot(t, **kw) for t in texts]
    assert sum(taken) > 50  # the shortcut was taken, in most specs
    monkeypatch.setattr(graph.Builder, "_plain_leaf", lambda self, *args: False)
    general = [_snapshot(t, **kw) for t in texts]
    for text, a, b in zip(texts, fast, general):
        assert a == b, text[:200]
    first, second = fast[:2]
    # an unnamed entry's index taken by a name, both typos, nothing after them
    assert [(code, line) for code, line, _, _ in first[1]] == [
        ("duplicate-name", 6),
        ("unknown-argument", 8),
        ("unknown-argument", 10),
    ]
    assert (second[0] is None) == (max_layers is not None)  # the limit, where set
