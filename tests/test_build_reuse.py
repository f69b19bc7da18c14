"""The builder evaluates an entry's arguments once per distinct literal values and
values of the names they read (graph.Builder._literal_args, values.convert's table):
what it reuses must be what evaluating again would give."""

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
