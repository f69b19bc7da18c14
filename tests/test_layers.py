"""Every layer type: output shape, parameters and buffers, by hand-checkable arithmetic."""

import pytest

from conftest import one_layer

CASES = [
    # layer, input, output, params, buffers
    ("linear: {out_features: 100}", [8, 784], [8, 100], 784 * 100 + 100, 0),
    ("dense: {out_features: 10, bias: false}", [2, 3, 20], [2, 3, 10], 200, 0),
    ("fc: {out_features: 5}", [7], [5], 7 * 5 + 5, 0),
    (
        "conv1d: {out_channels: 16, kernel_size: 80, stride: 4}",
        [1, 1, 16000],
        [1, 16, 3981],
        16 * 1 * 80 + 16,
        0,
    ),
    (
        "conv2d: {out_channels: 64, kernel_size: 4, stride: 2, padding: 1, bias: false}",
        [1, 3, 64, 64],
        [1, 64, 32, 32],
        4 * 4 * 3 * 64,
        0,
    ),
    (
        "conv2d: {out_channels: 8, kernel_size: [3, 5], padding: [1, 2]}",
        [1, 4, 10, 10],
        [1, 8, 10, 10],
        8 * 4 * 15 + 8,
        0,
    ),
    (
        "conv2d: {out_channels: 32, kernel_size: 3, groups: 32, padding: 1}",
        [1, 32, 7, 7],
        [1, 32, 7, 7],
        32 * 1 * 9 + 32,
        0,
    ),
    (
        "conv2d: {out_channels: 8, kernel_size: 3, dilation: 2}",
        [1, 2, 10, 10],
        [1, 8, 6, 6],
        8 * 2 * 9 + 8,
        0,
    ),
    (
        "conv2d: {out_channels: 8, kernel_size: 4, padding: same}",
        [1, 2, 9, 9],
        [1, 8, 9, 9],
        8 * 2 * 16 + 8,
        0,
    ),
    (
        "conv2d: {out_channels: 8, kernel_size: 3, padding: valid}",
        [1, 2, 9, 9],
        [1, 8, 7, 7],
        8 * 2 * 9 + 8,
        0,
    ),
    (
        "conv2d: {out_channels: 4, kernel_size: 3, padding: 1, padding_mode: reflect}",
        [1, 2, 5, 5],
        [1, 4, 5, 5],
        4 * 2 * 9 + 4,
        0,
    ),
    ("conv2d: {out_channels: 4, kernel_size: 3}", [3, 8, 8], [4, 6, 6], 4 * 3 * 9 + 4, 0),
    (
        "conv3d: {out_channels: 8, kernel_size: 3, stride: 2}",
        [1, 2, 9, 9, 9],
        [1, 8, 4, 4, 4],
        8 * 2 * 27 + 8,
        0,
    ),
    ("conv: {out_channels: 8, kernel_size: 3}", [1, 2, 9], [1, 8, 7], 8 * 2 * 3 + 8, 0),
    (
        "conv_transpose2d: {out_channels: 512, kernel_size: 4, bias: false}",
        [1, 100, 1, 1],
        [1, 512, 4, 4],
        100 * 512 * 16,
        0,
    ),
    (
        "ConvTranspose2d: {out_channels: 3, kernel_size: 4, stride: 2, padding: 1}",
        [1, 64, 32, 32],
        [1, 3, 64, 64],
        64 * 3 * 16 + 3,
        0,
    ),
    (
        "conv_transpose2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1, "
        "output_padding: 1}",
        [1, 16, 7, 7],
        [1, 8, 14, 14],
        16 * 8 * 9 + 8,
        0,
    ),
    (
        "conv_transpose1d: {out_channels: 6, kernel_size: 3, groups: 2, dilation: 2}",
        [1, 4, 5],
        [1, 6, 9],
        4 * 3 * 3 + 6,
        0,
    ),
    (
        "conv_transpose3d: {out_channels: 2, kernel_size: 2, stride: 2}",
        [1, 4, 3, 3, 3],
        [1, 2, 6, 6, 6],
        4 * 2 * 8 + 2,
        0,
    ),
    ("max_pool2d: {kernel_size: 2}", [1, 6, 28, 28], [1, 6, 14, 14], 0, 0),
    (
        "max_pool2d: {kernel_size: 3, stride: 2, padding: 1}",
        [1, 64, 112, 112],
        [1, 64, 56, 56],
        0,
        0,
    ),
    (
        "max_pool2d: {kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}",
        [1, 1, 5, 5],
        [1, 1, 3, 3],
        0,
        0,
    ),
    ("max_pool1d: {kernel_size: 3, dilation: 2}", [1, 2, 10], [1, 2, 2], 0, 0),
    (
        "avg_pool2d: {kernel_size: 4, stride: 4, padding: 2, ceil_mode: true}",
        [1, 1, 9, 9],
        [1, 1, 3, 3],
        0,
        0,
    ),
    ("avg_pool3d: {kernel_size: 2}", [1, 1, 4, 4, 4], [1, 1, 2, 2, 2], 0, 0),
    ("max_pool: {kernel_size: 2}", [1, 3, 8], [1, 3, 4], 0, 0),
    ("adaptive_avg_pool2d: {output_size: 1}", [1, 512, 7, 7], [1, 512, 1, 1], 0, 0),
    ("adaptive_avg_pool2d: {output_size: [6, null]}", [1, 8, 13, 5], [1, 8, 6, 5], 0, 0),
    ("adaptive_max_pool1d: {output_size: 4}", [1, 8, 13], [1, 8, 4], 0, 0),
    ("batch_norm2d", [1, 128, 16, 16], [1, 128, 16, 16], 256, 257),
    ("batch_norm1d", [8, 100], [8, 100], 200, 201),
    ("batch_norm: {affine: false}", [1, 4, 2, 2, 2], [1, 4, 2, 2, 2], 0, 9),
    ("batch_norm2d: {track_running_stats: false}", [1, 4, 2, 2], [1, 4, 2, 2], 8, 0),
    ("layer_norm", [2, 10, 64], [2, 10, 64], 2 * 640, 0),
    ("layer_norm: {normalized_shape: 64, bias: false}", [2, 10, 64], [2, 10, 64], 64, 0),
    ("layer_norm: {normalized_shape: [64], elementwise_affine: false}", [2, 64], [2, 64], 0, 0),
    ("group_norm: {num_groups: 8}", [1, 32, 4, 4], [1, 32, 4, 4], 64, 0),
    ("instance_norm2d", [1, 16, 8, 8], [1, 16, 8, 8], 0, 0),
    (
        "instance_norm2d: {affine: true, track_running_stats: true}",
        [1, 16, 8, 8],
        [1, 16, 8, 8],
        32,
        33,
    ),
    ("InstanceNorm1d", [16, 8], [16, 8], 0, 0),
    ("relu", [1, 3, 4, 4], [1, 3, 4, 4], 0, 0),
    ("ReLU6", [2, 3], [2, 3], 0, 0),
    ("LeakyReLU: {negative_slope: 0.2}", [2, 3], [2, 3], 0, 0),
    ("elu", [2, 3], [2, 3], 0, 0),
    ("gelu: {approximate: tanh}", [2, 3], [2, 3], 0, 0),
    ("silu", [2, 3], [2, 3], 0, 0),
    ("mish", [2, 3], [2, 3], 0, 0),
    ("sigmoid", [2, 3], [2, 3], 0, 0),
    ("tanh", [2, 3], [2, 3], 0, 0),
    ("hardswish", [2, 3], [2, 3], 0, 0),
    ("hardsigmoid", [2, 3], [2, 3], 0, 0),
    ("softmax: {dim: 1}", [2, 10], [2, 10], 0, 0),
    ("log_softmax: {dim: -1}", [2, 10], [2, 10], 0, 0),
    ("identity", [2, 3], [2, 3], 0, 0),
    ("prelu", [1, 3, 4, 4], [1, 3, 4, 4], 1, 0),
    ("prelu: {num_parameters: 3}", [1, 3, 4, 4], [1, 3, 4, 4], 3, 0),
    ("dropout: {p: 0.3}", [2, 3], [2, 3], 0, 0),
    ("dropout2d", [1, 3, 4, 4], [1, 3, 4, 4], 0, 0),
    ("flatten", [1, 512, 4, 4], [1, 8192], 0, 0),
    ("flatten: {start_dim: 0}", [2, 3, 4], [24], 0, 0),
    ("flatten: {start_dim: 2}", [2, 3, 4, 5], [2, 3, 20], 0, 0),
    ("unflatten: {dim: 1, sizes: [64, 4, 4]}", [1, 1024], [1, 64, 4, 4], 0, 0),
    ("unflatten: {dim: 1, unflattened_size: [-1, 4]}", [1, 64], [1, 16, 4], 0, 0),
    ("reshape: {shape: [1, 64, -1]}", [1, 64, 4, 4], [1, 64, 16], 0, 0),
    ("upsample: {scale_factor: 2}", [1, 3, 16, 16], [1, 3, 32, 32], 0, 0),
    ("upsample: {scale_factor: 0.7, mode: bilinear}", [1, 3, 90, 90], [1, 3, 62, 62], 0, 0),
    (
        "interpolate: {size: [10, 20], mode: bilinear, align_corners: true}",
        [1, 3, 5, 5],
        [1, 3, 10, 20],
        0,
        0,
    ),
    ("upsample: {scale_factor: 2, mode: linear}", [1, 3, 7], [1, 3, 14], 0, 0),
    ("pixel_shuffle: {upscale_factor: 2}", [1, 16, 8, 8], [1, 4, 16, 16], 0, 0),
    ("pixel_unshuffle: {downscale_factor: 2}", [1, 4, 16, 16], [1, 16, 8, 8], 0, 0),
    ("zero_pad2d: {padding: [1, 2, 3, 4]}", [1, 3, 8, 8], [1, 3, 15, 11], 0, 0),
    ("ZeroPad2d: {padding: 2}", [1, 3, 8, 8], [1, 3, 12, 12], 0, 0),
    ("constant_pad1d: {padding: 3, value: 0.5}", [1, 3, 8], [1, 3, 14], 0, 0),
    ("reflection_pad2d: {padding: 1}", [1, 3, 8, 8], [1, 3, 10, 10], 0, 0),
    ("embedding: {num_embeddings: 1000, embedding_dim: 64}", [4, 12], [4, 12, 64], 64000, 0),
]


@pytest.mark.parametrize("text,inp,out,params,buffers", CASES, ids=[c[0] for c in CASES])
def test_layer(text, inp, out, params, buffers):
    layer = one_layer(text, inp)
    assert list(layer.output) == out
    assert layer.params == params
    assert layer.buffers == buffers


def test_conv_macs_follow_the_spec_formula():
    # N * C_out * H_out * W_out * (C_in / g) * k * k
    layer = one_layer(
        "conv2d: {out_channels: 64, kernel_size: 4, stride: 2, padding: 1}", [2, 3, 64, 64]
    )
    assert layer.macs == 2 * 64 * 32 * 32 * 3 * 16


def test_conv_transpose_macs_count_input_positions():
    # DCGAN generator 4x4x512 -> 8x8x256: N * C_in * H_in * W_in * (C_out / g) * k * k
    layer = one_layer(
        "conv_transpose2d: {out_channels: 256, kernel_size: 4, stride: 2, padding: 1}",
        [1, 512, 4, 4],
    )
    assert layer.macs == 512 * 16 * 256 * 16 == 33_554_432


def test_linear_macs_count_rows():
    layer = one_layer("linear: {out_features: 10}", [4, 7, 20])
    assert layer.macs == 4 * 7 * 20 * 10


def test_batch_norm_buffers_are_state_dict_shaped():
    layer = one_layer("batch_norm2d", [1, 8, 2, 2])
    assert [(t.key, t.shape, t.buffer) for t in layer.tensors] == [
        ("weight", (8,), False),
        ("bias", (8,), False),
        ("running_mean", (8,), True),
        ("running_var", (8,), True),
        ("num_batches_tracked", (), True),
    ]


def test_rank_picked_names_resolve_to_the_dimensional_type():
    assert one_layer("batch_norm", [1, 4, 5, 5]).type.name == "batch_norm2d"
    assert (
        one_layer("conv: {out_channels: 2, kernel_size: 1}", [1, 3, 4, 4, 4]).type.name == "conv3d"
    )
    assert (
        one_layer("adaptive_avg_pool: {output_size: 1}", [1, 3, 4]).type.name
        == "adaptive_avg_pool1d"
    )


@pytest.mark.parametrize("spelling", ["Conv2d", "conv2d", "CONV_2D", "conv_2d"])
def test_type_names_ignore_case_and_underscores(spelling):
    assert (
        one_layer(f"{spelling}: {{out_channels: 2, kernel_size: 1}}", [1, 3, 4, 4]).type.name
        == "conv2d"
    )


def test_inferred_arguments_are_checked_when_given():
    layer = one_layer("conv2d: {in_channels: 3, out_channels: 2, kernel_size: 1}", [1, 3, 4, 4])
    assert layer.args["in_channels"] == 3
