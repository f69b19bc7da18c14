"""Explanations as golden text: the formulas with the numbers plugged in."""

import textwrap

import pytest
from conftest import net_of

from layercalc.analyses.loading import analyse
from layercalc.arith import conv_output_size, conv_transpose_output_size, pool_output_size
from layercalc.analyses.explain import explain, lines


def text_of(layer, shape):
    net = net_of(f"input: {list(shape)}\nlayers:\n  - {layer}\n")
    return "\n".join(lines(explain(net)[0])) + "\n"


def golden(s):
    return textwrap.dedent(s).lstrip("\n")


def test_dcgan_first_conv():
    net = analyse("specs/dcgan_discriminator.yaml").net
    got = "\n".join(lines(explain(net, "0")[0])) + "\n"
    assert got == golden("""
        0 (conv2d): [1, 3, 64, 64] -> [1, 64, 32, 32]
          shape: out = ⌊(n + 2·p − k) / s⌋ + 1
            height: (64 + 2·1 − 4) / 2 + 1 = 32
            width: (64 + 2·1 − 4) / 2 + 1 = 32
          channels: 3 -> 64 (out_channels)
          params: weight 4·4·3·64 = 3,072, no bias
          fully connected: 12,288 inputs × 65,536 outputs would need 805,306,368 weights, 262,144× this layer's 3,072
          connections: 3,145,728 multiply-adds per sample; each output reads 48 of the 12,288 inputs (0.391%, sparse connectivity)
            3,048,192 of them touch real data, 97,536 fall on zero padding
          weight sharing: 3,145,728 / 3,072 = 1,024: each weight is used 1,024 times per sample
    """)
    assert conv_output_size(64, 4, 2, 1) == 32
    # 32 outputs x 4 taps per dim, minus the 2 taps on padding: 126 per dim
    assert 64 * 3 * 126 * 126 == 3_048_192


def test_dcgan_transposed_conv():
    net = analyse("specs/dcgan_generator.yaml").net
    got = "\n".join(lines(explain(net, "3")[0])) + "\n"
    assert got == golden("""
        3 (conv_transpose2d): [1, 512, 4, 4] -> [1, 256, 8, 8]
          shape: out = (n − 1)·s − 2·p + d·(k − 1) + output_padding + 1
            height: (4 − 1)·2 − 2·1 + 1·(4 − 1) + 0 + 1 = 8
            width: (4 − 1)·2 − 2·1 + 1·(4 − 1) + 0 + 1 = 8
          channels: 512 -> 256 (out_channels)
          params: weight 4·4·256·512 = 2,097,152, no bias (weight is (in, out/groups, *k))
          fully connected: 8,192 inputs × 16,384 outputs would need 134,217,728 weights, 64× this layer's 2,097,152
          connections: 33,554,432 multiply-adds per sample
            25,690,112 of them touch real data, 7,864,320 fall on the cropped border (padding)
          weight sharing: 33,554,432 / 2,097,152 = 16: each weight is used 16 times per sample
    """)
    assert conv_transpose_output_size(4, 4, 2, 1) == 8


def test_floor_shows_unread_rows():
    got = text_of("conv2d: {out_channels: 8, kernel_size: 3, stride: 2}", [1, 1, 66, 64])
    assert got == golden("""
        0 (conv2d): [1, 1, 66, 64] -> [1, 8, 32, 31]
          shape: out = ⌊(n + 2·p − k) / s⌋ + 1
            height: ⌊(66 + 2·0 − 3) / 2⌋ + 1 = ⌊31.5⌋ + 1 = 32
                floor drops a remainder of 1
                input row 65 (0-based) is never read
            width: ⌊(64 + 2·0 − 3) / 2⌋ + 1 = ⌊30.5⌋ + 1 = 31
                floor drops a remainder of 1
                input column 63 (0-based) is never read
          channels: 1 -> 8 (out_channels)
          params: weight 3·3·1·8 = 72 + bias 8; total 80
          fully connected: 4,224 inputs × 7,936 outputs would need 33,521,664 weights, 465,578.7× this layer's 72
          connections: 71,424 multiply-adds per sample; each output reads 9 of the 4,224 inputs (0.213%, sparse connectivity)
          weight sharing: 71,424 / 72 = 992: each weight is used 992 times per sample
    """)


def test_floor_remainder_in_padding_only():
    net = analyse("specs/resnet50.yaml").net
    got = "\n".join(lines(explain(net, "maxpool")[0])) + "\n"
    assert got == golden("""
        maxpool (max_pool2d): [1, 64, 112, 112] -> [1, 64, 56, 56]
          shape: out = ⌊(n + 2·p − k) / s⌋ + 1
            height: ⌊(112 + 2·1 − 3) / 2⌋ + 1 = ⌊55.5⌋ + 1 = 56
                floor drops a remainder of 1 (only padding: every input row is still read)
            width: ⌊(112 + 2·1 − 3) / 2⌋ + 1 = ⌊55.5⌋ + 1 = 56
                floor drops a remainder of 1 (only padding: every input column is still read)
          channels unchanged
          params: no parameters
    """)


def test_ceil_mode_last_window_rule():
    got = text_of(
        "max_pool2d: {kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}", [1, 2, 5, 5]
    )
    row = (
        "⌈(5 + 2·1 − 2) / 2⌉ + 1 = ⌈2.5⌉ + 1 = 4; the last window would start at "
        "(4 − 1)·2 = 6 ≥ n + p = 6, inside the right padding, so PyTorch drops it: 3"
    )
    assert got == golden(f"""
        0 (max_pool2d): [1, 2, 5, 5] -> [1, 2, 3, 3]
          shape: out = ⌈(n + 2·p − k) / s⌉ + 1
            height: {row}
            width: {row}
          channels unchanged
          params: no parameters
    """)
    assert pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3


def test_depthwise_conv():
    got = text_of(
        "conv2d: {out_channels: 32, kernel_size: 3, groups: 32, padding: 1}", [1, 32, 7, 7]
    )
    assert "params: weight 3·3·1·32 = 288 + bias 32; total 320 (in_channels/groups = 32/32)" in got
    assert "weight sharing: 14,112 / 288 = 49: each weight is used 49 times per sample" in got


def test_dilation_and_same_padding():
    got = text_of(
        "conv1d: {out_channels: 2, kernel_size: 4, dilation: 2, padding: same}", [1, 1, 9]
    )
    assert got == golden("""
        0 (conv1d): [1, 1, 9] -> [1, 2, 9]
          shape: out = ⌊(n + 2·p − d·(k − 1) − 1) / s⌋ + 1
            length: (9 + 2·3 − 2·(4 − 1) − 1) / 1 + 1 = 9
          padding='same': total d·(k − 1) split left 3, right 3
          channels: 1 -> 2 (out_channels)
          params: weight 4·1·2 = 8 + bias 2; total 10
          fully connected: 9 inputs × 18 outputs would need 162 weights, 20.2× this layer's 8
          connections: 72 multiply-adds per sample; each output reads 4 of the 9 inputs (44.4%, sparse connectivity)
            56 of them touch real data, 16 fall on zero padding
          weight sharing: 72 / 8 = 9: each weight is used 9 times per sample
    """)


def test_stride_larger_than_kernel_skips_inputs():
    got = text_of("conv1d: {out_channels: 1, kernel_size: 1, stride: 2, bias: false}", [1, 1, 6])
    assert "input positions 1, 3, 5 (0-based) are never read" in got


def test_linear_and_flatten_and_batch_norm():
    net = analyse("specs/lenet5.yaml").net
    got = {e.name: "\n".join(lines(e)) for e in explain(net)}
    assert got["6"].splitlines()[1] == "  shape: flatten dims 1..3: 16·5·5 = 400"
    assert got["c5"] == golden("""
        c5 (linear): [1, 400] -> [1, 120]
          shape: last dim: in_features 400 -> out_features 120; the other dims [1] stay
          params: weight 400·120 = 48,000 + bias 120; total 48,120
          fully connected: 400 inputs × 120 outputs = 48,000 weights; this layer is one
          connections: 48,000 multiply-adds per sample
          weight sharing: none, every weight is used once per sample
    """).rstrip("\n")
    net = analyse("specs/dcgan_discriminator.yaml").net
    bn = lines(explain(net, "3")[0])
    assert bn[2:] == [
        "  params: weight 128 + bias 128; total 256",
        "  buffers: running_mean 128 + running_var 128 + num_batches_tracked 1 "
        "= 257 (not parameters)",
    ]


def test_figures_and_groups():
    net = analyse("specs/resnet50.yaml").net
    es = explain(net, "layer1.0")
    assert [e.name for e in es][:2] == ["layer1.0.conv1", "layer1.0.bn1"]
    f = es[0].figures
    assert f["weights"] == 64 * 64 and f["connections"] == 64 * 64 * 56 * 56
    assert f["dense_weights"] == (64 * 56 * 56) ** 2
    with pytest.raises(KeyError):
        explain(net, "nope")


def test_a_two_billion_sample_signal_gets_exact_numbers():
    """No 1e+09 rounding in the fraction, and the unread sample found without walking
    two billion positions: (2,000,000,000 − 3) / 2 = 999,999,998.5 floors, so the last
    window starts at 2·999,999,998 and ends at sample 1,999,999,998."""
    got = text_of("conv1d: {out_channels: 1, kernel_size: 3, stride: 2}", (1, 1, 2_000_000_000))
    assert "⌊(2000000000 + 2·0 − 3) / 2⌋ + 1 = ⌊999999998.5⌋ + 1 = 999999999" in got
    assert "input position 1999999999 (0-based) is never read" in got
