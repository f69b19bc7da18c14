"""Hostile shapes against the verify memory estimate (issue 12, point 2).

``--max-memory`` refuses a verify run by :func:`layercalc.analyses.verify.estimate_memory`, which
counts per layer its output plus ``LayerType.workspace()`` elements of scratch. That is
only a guard if every forward pass stays within it, so every registered layer type runs
here on adversarial shapes (long thin axes, big scale factors, many channels on a tiny
map, large kernels, many groups) under :mod:`tracemalloc`, and the bytes its forward
allocates beyond the inputs and parameters it was given must not exceed what it declares.
A layer type without a case here fails the coverage test, so new types must add one.
"""

from __future__ import annotations

import tracemalloc

import pytest

from layercalc.analyses.loading import analyse_bytes
from layercalc.arith import prod
from layercalc.layers import REGISTRY
from layercalc.layers.base import RankPicked

# NumPy's own buffers in one call (ufunc and reduction buffers of 8192 elements per
# operand, ~80 KB at most here) and the interpreter's objects; verify's estimate allows
# NUMPY_SCRATCH (256 KiB) per layer for them. Index arrays are in the workspaces.
SLACK = 128 * 2**10

# (input shape, the layer under test as YAML flow mappings, the last one measured;
# earlier ones build its inputs). Each case is a few MB at most, so the file runs fast.
C = [
    # linear: wide in, narrow out; narrow in, wide out; many leading dims
    ([1, 400_000], "linear: {out_features: 1}"),
    ([1000, 1], "linear: {out_features: 1000}"),
    ([10, 100, 3, 7], "linear: {out_features: 300, bias: false}"),
    ([1, 400_000], "transformers_conv1d: {nf: 1}"),
    ([1000, 1], "transformers_conv1d: {nf: 1000}"),
    ([10, 100, 3, 7], "transformers_conv1d: {nf: 300}"),
    ([200, 1000], "embedding: {num_embeddings: 7, embedding_dim: 3}"),
    ([1, 1], "embedding: {num_embeddings: 3, embedding_dim: 500000}"),
    # convolutions: huge channels on a 1x1 map, 1x1 strided (a strided copy), big kernels,
    # depthwise (tap by tap) and grouped, dilation, every padding mode
    ([1, 2000, 1], "conv1d: {out_channels: 1, kernel_size: 1}"),
    ([1, 1000, 64], "conv1d: {out_channels: 1, kernel_size: 1, stride: 3}"),
    # few windows of a large map (a small im2col copy, gathered): no index the map's size
    ([1, 2, 200000], "conv1d: {out_channels: 2, kernel_size: 2, stride: 20000, padding: 1}"),
    ([1, 200000], "conv1d: {out_channels: 1, kernel_size: 3, stride: 9999}"),  # unbatched
    (
        [1, 1, 300, 300],
        "conv2d: {out_channels: 1, kernel_size: 2, stride: 100, padding: 1, padding_mode: reflect}",
    ),
    ([1, 1, 20000], "conv1d: {out_channels: 1, kernel_size: 500, padding: 250}"),
    ([2, 64, 3000], "conv1d: {out_channels: 64, kernel_size: 9, groups: 64, padding: 4}"),
    (
        [1, 256, 1000],
        "conv1d: {out_channels: 512, kernel_size: 3, groups: 256, dilation: 7,"
        " padding_mode: circular, padding: 7}",
    ),
    ([1, 1, 1], "conv1d: {out_channels: 300000, kernel_size: 3, padding: 1}"),
    ([1, 500, 1, 1], "conv2d: {out_channels: 500, kernel_size: 1}"),
    ([1, 600, 32, 32], "conv2d: {out_channels: 1, kernel_size: 1, stride: 2}"),
    (
        [1, 3, 200, 200],
        "conv2d: {out_channels: 2, kernel_size: 7, padding: same, padding_mode: reflect}",
    ),
    (
        [1, 1, 4, 3000],
        "conv2d: {out_channels: 4, kernel_size: [3, 101], padding: [1, 50],"
        " padding_mode: replicate}",
    ),
    ([1, 32, 100, 100], "conv2d: {out_channels: 32, kernel_size: 9, groups: 32, padding: 4}"),
    (
        [1, 32, 100, 100],
        "conv2d: {out_channels: 32, kernel_size: 3, groups: 32, padding: 1, stride: 2}",
    ),
    ([2, 4, 1, 1, 1], "conv3d: {out_channels: 8, kernel_size: 5, padding: 2}"),
    ([1, 2, 20, 20, 20], "conv3d: {out_channels: 4, kernel_size: 3, padding: 1}"),
    ([1, 16, 12, 12, 12], "conv3d: {out_channels: 16, kernel_size: 3, groups: 16, padding: 1}"),
    # transposed: a kernel larger than the input, big strides, cropping, groups
    ([1, 1, 3], "conv_transpose1d: {out_channels: 4, kernel_size: 5000, stride: 7}"),
    (
        [1, 8, 3000],
        "conv_transpose1d: {out_channels: 8, kernel_size: 4, stride: 4,"
        " groups: 8, padding: 1, output_padding: 1}",
    ),
    ([1, 2000, 1, 1], "conv_transpose2d: {out_channels: 2000, kernel_size: 1}"),
    (
        [1, 4, 40, 40],
        "conv_transpose2d: {out_channels: 3, kernel_size: 5, stride: 3, padding: 2, dilation: 2}",
    ),
    ([1, 2, 4, 4, 4], "conv_transpose3d: {out_channels: 2, kernel_size: 9, stride: 5, padding: 4}"),
    (
        [1, 1, 300, 1],
        "conv_transpose2d: {out_channels: 1, kernel_size: [9, 1], padding: [4, 0]}",
    ),  # a contiguous crop: a copy all the same
    # pools: tiny maps padded to many times their size, big kernels (one strided
    # reduction), ceil_mode's extra padding, dilation, every averaging option
    ([1, 4000, 1], "max_pool1d: {kernel_size: 9, padding: 4, stride: 1}"),
    ([1, 1, 300000], "max_pool1d: {kernel_size: 100, stride: 3, dilation: 2}"),
    ([1, 4000, 1, 1], "max_pool2d: {kernel_size: 5, padding: 2, stride: 1}"),
    ([1, 2, 300, 300], "max_pool2d: {kernel_size: 3, stride: 2, ceil_mode: true}"),
    ([1, 1, 300, 300], "max_pool2d: {kernel_size: 20, stride: 1}"),
    ([1, 2000, 1, 1, 1], "max_pool3d: {kernel_size: 5, padding: 2, stride: 1}"),
    ([1, 1, 30, 30, 30], "max_pool3d: {kernel_size: 5, stride: 1, dilation: 2}"),
    ([1, 4000, 1], "avg_pool1d: {kernel_size: 9, padding: 4, stride: 1, count_include_pad: false}"),
    ([1, 1, 300000], "avg_pool1d: {kernel_size: 100, stride: 2, ceil_mode: true}"),
    ([1, 4000, 1, 1], "avg_pool2d: {kernel_size: 5, padding: 2, stride: 1}"),
    ([1, 1, 300, 300], "avg_pool2d: {kernel_size: 20, stride: 1, divisor_override: 3}"),
    ([1, 200, 6, 6, 6], "avg_pool3d: {kernel_size: 5, padding: 2, stride: 1}"),
    ([1, 1, 30, 30, 30], "avg_pool3d: {kernel_size: 9, stride: 1}"),
    # adaptive pools: uneven windows, growing axes beside shrinking ones (one axis at a
    # time must not build the large intermediate), huge outputs from tiny inputs
    ([1, 1, 300000], "adaptive_avg_pool1d: {output_size: 299999}"),
    ([1, 1, 300000], "adaptive_avg_pool1d: {output_size: 7}"),
    ([1, 1, 3], "adaptive_avg_pool1d: {output_size: 500000}"),
    ([1, 1, 2, 1000], "adaptive_avg_pool2d: {output_size: [1000, 1]}"),
    ([1, 1, 1000, 1000], "adaptive_avg_pool2d: {output_size: [999, 3]}"),
    ([1, 1, 3, 3], "adaptive_avg_pool2d: {output_size: [700, 700]}"),
    ([1, 1, 2, 2, 2000], "adaptive_avg_pool3d: {output_size: [200, 200, 1]}"),
    ([1, 1, 60, 60, 60], "adaptive_avg_pool3d: {output_size: [59, 7, 61]}"),
    ([1, 1, 300000], "adaptive_max_pool1d: {output_size: 299999}"),
    ([1, 1, 3], "adaptive_max_pool1d: {output_size: 500000}"),
    ([1, 1, 2, 1000], "adaptive_max_pool2d: {output_size: [1000, 1]}"),
    ([1, 1, 1000, 1000], "adaptive_max_pool2d: {output_size: [999, null]}"),
    ([1, 1, 2, 2, 2000], "adaptive_max_pool3d: {output_size: [200, 200, 1]}"),
    ([1, 1, 60, 60, 60], "adaptive_max_pool3d: {output_size: [59, 7, 61]}"),
    # normalisation: statistics as large as the input (one element per group or row)
    ([400_000, 1], "batch_norm1d: {}"),
    ([2, 200_000], "batch_norm1d: {track_running_stats: false}"),
    ([2, 100_000, 1, 1], "batch_norm2d: {track_running_stats: false, affine: false}"),
    ([2, 3, 300, 300], "batch_norm2d: {}"),
    ([1, 200_000, 1, 2, 1], "batch_norm3d: {track_running_stats: false}"),
    ([1, 200_000, 2], "instance_norm1d: {affine: true}"),
    ([200_000, 2], "instance_norm1d: {affine: true}"),
    ([1, 200_000, 1, 2], "instance_norm2d: {track_running_stats: true, affine: true}"),
    ([1, 1, 300, 300], "instance_norm2d: {}"),
    ([1, 200_000, 2, 1, 1], "instance_norm3d: {affine: true}"),
    ([400_000, 1], "layer_norm: {normalized_shape: [1]}"),
    ([1, 400_000], "layer_norm: {}"),
    ([1, 1000, 400], "layer_norm: {normalized_shape: [400], bias: false}"),
    ([2, 1000, 200], "layer_norm: {elementwise_affine: false}"),
    ([400_000, 1], "rms_norm: {normalized_shape: [1]}"),
    ([1, 400_000], "rms_norm: {}"),
    ([1, 1000, 400], "rms_norm: {normalized_shape: [400], elementwise_affine: false}"),
    ([2, 100, 40, 50], "rms_norm: {normalized_shape: [40, 50], eps: 1e-6}"),
    ([1, 1, 200_000, 2], "rope"),
    ([1, 1, 2, 200_000], "rotary_embedding: {dim: 2}"),
    ([4, 8, 64, 128], "rope: {dim: 32, theta: 500000.0, position_offset: 4096}"),
    ([1, 1, 400, 1000], "layer_norm2d: {}"),  # one channel: statistics as large as the map
    ([2, 200_000, 1, 1], "layer_norm2d: {eps: 1e-6}"),
    ([1, 64, 100, 60], "layer_norm2d: {normalized_shape: [60, 64], bias: false}"),
    (
        [2, 8, 100, 100],
        "layer_norm2d: {normalized_shape: [2, 100, 100, 8], elementwise_affine: false}",
    ),
    ([2, 400_000], "group_norm: {num_groups: 200000}"),
    ([1, 400_000, 1], "group_norm: {num_groups: 1}"),
    ([2, 64, 100, 30], "group_norm: {num_groups: 8, affine: false}"),
    # element-wise: the shape does not matter, the temporaries do
    *[
        ([1, 1, 400, 1000], f"{name}: {{}}")
        for name in (
            "relu",
            "relu6",
            "leaky_relu",
            "elu",
            "gelu",
            "silu",
            "mish",
            "sigmoid",
            "tanh",
            "hardswish",
            "hardsigmoid",
            "hardtanh",
            "softplus",
            "identity",
            "dropout",
            "dropout2d",
        )
    ],
    ([1, 400, 1000], "dropout1d: {}"),
    ([1, 1, 1, 400, 1000], "dropout3d: {}"),
    ([1, 1, 400, 1000], "stochastic_depth: {p: 0.2, mode: row}"),
    ([1, 1, 400, 1000], "gelu: {approximate: tanh}"),
    ([1, 1, 400, 1000], "softplus: {beta: 3, threshold: 0.5}"),
    ([400_000, 1], "softmax: {dim: 1}"),
    ([1, 400_000], "softmax: {dim: -1}"),
    ([400, 1000], "softmax: {dim: 0}"),
    ([400_000, 1], "log_softmax: {dim: 1}"),
    ([400, 1000], "log_softmax: {dim: 0}"),
    ([1, 400_000], "prelu: {}"),
    ([1, 100_000, 4], "prelu: {num_parameters: 100000}"),
    # moving elements: non-contiguous inputs (after a transposing layer) force copies
    ([1, 4, 300, 300], "pixel_shuffle: {upscale_factor: 2}", "flatten: {}"),
    ([1, 1, 1000, 400], "flatten: {start_dim: 0, end_dim: 2}"),
    (
        [1, 4, 300, 300],
        "pixel_shuffle: {upscale_factor: 2}",
        "unflatten: {dim: 2, sizes: [2, 300]}",
    ),
    ([1, 4, 300, 300], "pixel_shuffle: {upscale_factor: 2}", "reshape: {shape: [-1]}"),
    ([1, 400, 50, 50], "pixel_shuffle: {upscale_factor: 20}"),
    ([1, 1, 1000, 1000], "pixel_unshuffle: {downscale_factor: 50}"),
    # upsample: one tiny axis grown beside a long one shrunk (issue 12's 3.35 GiB case,
    # scaled down), big scale factors, every mode
    ([1, 1, 1, 3000], "upsample: {size: [3000, 1], mode: nearest}"),
    ([1, 1, 1, 3000], "upsample: {size: [3000, 1], mode: nearest-exact}"),
    ([1, 1, 1, 3000], "upsample: {size: [3000, 1], mode: bilinear}"),
    ([1, 1, 1, 3000], "upsample: {size: [3000, 1], mode: bicubic, align_corners: true}"),
    ([1, 1, 1, 3000], "upsample: {size: [3000, 1], mode: area}"),
    ([1, 1, 1, 1, 3000], "upsample: {size: [30, 30, 1], mode: trilinear}"),
    ([1, 1, 1, 1, 3000], "upsample: {size: [30, 30, 1], mode: nearest}"),
    ([1, 1, 3], "upsample: {scale_factor: 200000, mode: linear}"),
    ([1, 1, 3], "upsample: {scale_factor: 200000, mode: nearest}"),
    ([1, 1, 2, 2], "upsample: {scale_factor: 400, mode: bilinear}"),
    ([1, 1, 2, 2], "upsample: {scale_factor: [400, 0.5], mode: bicubic}"),
    # padding: a tiny input padded to a large one, and cropping (negative padding)
    *[
        ([1, 1, 3], f"{kind}_pad1d: {{padding: [2, 400000]{value}}}")
        for kind, value in (("zero", ""), ("constant", ", value: 1.5"), ("replication", ""))
    ],
    ([1, 1, 600], "reflection_pad1d: {padding: [599, 599]}"),
    ([1, 1, 600], "circular_pad1d: {padding: [600, 600]}"),
    ([1, 1, 1000, 1000], "zero_pad2d: {padding: [-990, 0, -500, 0]}"),
    *[
        ([1, 1, 3, 3], f"{kind}_pad2d: {{padding: [2, 2, 2, 700]{value}}}")
        for kind, value in (("zero", ""), ("constant", ", value: -1"), ("replication", ""))
    ],
    ([1, 1, 10, 10], "reflection_pad2d: {padding: [9, 9, 9, 9]}"),
    ([1, 3, 10, 10], "circular_pad2d: {padding: [10, 10, 5, -5]}"),
    *[
        ([1, 1, 2, 2, 2], f"{kind}_pad3d: {{padding: [1, 1, 1, 1, 1, 900]{value}}}")
        for kind, value in (("zero", ""), ("constant", ", value: 2"), ("replication", ""))
    ],
    ([1, 1, 5, 5, 5], "reflection_pad3d: {padding: 4}"),
    ([1, 1, 5, 5, 5], "circular_pad3d: {padding: [5, 5, 5, 5, 5, 5]}"),
    # merges: broadcasting a thin input over a wide one, three inputs, concatenation
    ([1, 1000, 400], "adaptive_max_pool1d: {name: p, output_size: 1}", "add: {from: [p, input]}"),
    (
        [1, 1000, 400],
        "adaptive_max_pool1d: {name: p, output_size: 1}",
        "mul: {from: [input, p, input]}",
    ),
    ([1, 1000, 400], "concat: {from: [input, input, input], dim: 2}"),
    # arithmetic (issue 13): a number instead of a second input, two broadcast inputs
    # for sub/div, one-input element-wise math, reductions over the long axis, the thin
    # one, several non-adjacent axes, every axis, with and without keepdim
    ([1, 1, 400, 1000], "add: {other: 1.5}"),
    ([1, 1, 400, 1000], "mul: {other: -2}"),
    ([1, 1, 400, 1000], "sub: {other: 0.25}"),
    ([1, 1, 400, 1000], "div: {other: 0}"),
    ([1, 1000, 400], "adaptive_max_pool1d: {name: p, output_size: 1}", "sub: {from: [p, input]}"),
    ([1, 1000, 400], "adaptive_max_pool1d: {name: p, output_size: 1}", "div: {from: [input, p]}"),
    (
        [1, 1000, 400],
        "adaptive_max_pool1d: {name: p, output_size: 1}",
        "sub: {from: [p, input], alpha: 2}",
    ),
    (
        [1, 1000, 400],
        "adaptive_max_pool1d: {name: p, output_size: 1}",
        "add: {from: [input, p], alpha: -0.5}",
    ),
    (
        [1, 1000, 400],
        "adaptive_max_pool1d: {name: p, output_size: 1}",
        "div: {from: [input, p], rounding_mode: floor}",
    ),
    ([1, 1, 400, 1000], "div: {other: 3, rounding_mode: trunc}"),
    ([1, 1, 400, 1000], "add: {other: 3, alpha: 0.5}"),
    *[([1, 1, 400, 1000], f"{name}: {{}}") for name in ("abs", "neg", "sqrt", "exp", "log")],
    ([1, 1, 400, 1000], "pow: {exponent: 2}"),
    ([1, 1, 400, 1000], "pow: {exponent: 0.5}"),
    ([400_000, 1], "mean: {dim: 0}"),
    ([1, 400_000], "mean: {dim: -1, keepdim: true}"),
    ([4, 1000, 100], "mean: {dim: [0, 2]}"),
    ([400, 1000], "mean: {}"),
    ([400_000, 1], "sum: {dim: 1}"),
    ([4, 1000, 100], "sum: {dim: [2, 0], keepdim: true}"),
    ([400, 1000], "sum: {}"),
    ([400_000, 1], "amax: {dim: 0}"),
    ([4, 1000, 100], "amax: {dim: [0, 2], keepdim: true}"),
    ([400, 1000], "amax: {}"),
    ([400_000, 1], "amin: {dim: 0, keepdim: true}"),
    ([4, 1000, 100], "amin: {dim: [-1, 0]}"),
    ([400, 1000], "amin: {}"),
    # a free parameter: its output is its own array, nothing allocated
    ([1, 4], "parameter: {shape: [1000, 400]}"),
    ([1, 4], "parameter: {shape: [400_000], buffer: true}"),
    # several outputs (chunk, split): views of the input, many thin pieces of a long axis
    ([1, 1000, 400], "chunk: {chunks: 1000, dim: 1}"),
    ([400_000, 1], "chunk: {chunks: 3, dim: 0}"),
    ([1, 1000, 400], "split: {split_size_or_sections: 7, dim: -1}"),
    ([1, 1000, 400], "split: {split_size: [1, 999], dim: 1}"),
    # tensor operations (SPEC.md section 12): a copy at most, never a view that keeps a
    # larger input alive (a thin select or strided slice of a long axis, a flip); expand
    # materialises a thousandfold growth; matmul over broadcast batch dims and 1-d operands
    ([1, 1000, 400], "permute: {dims: [2, 0, 1]}"),
    ([1, 1000, 400], "transpose: {dim0: -1, dim1: 1}"),
    ([1, 1000, 400], "swapdims: {dim0: 0, dim1: 1}"),  # a view that is already contiguous
    ([1, 1000, 1, 400], "squeeze: {}"),
    ([1, 1, 400_000], "squeeze: {dim: [0, -2]}"),
    ([400, 1000], "unsqueeze: {dim: -1}"),
    ([1, 1, 1000], "expand: {size: [400, 1, -1]}"),
    ([1000, 1], "expand: {sizes: [3, -1, 400]}"),
    ([4, 1000, 100], "roll: {shifts: [3, -7], dims: [1, 2]}"),
    ([4, 1000, 100], "roll: {shifts: [5, 5], dims: [0, 0]}"),
    ([400, 1000], "roll: {shifts: 12345}"),
    ([1000, 400], "select: {dim: 1, index: -1}"),
    ([1000, 400], "select: {dim: 0, index: 7}"),  # contiguous, but a view of 1/1000
    ([1, 1000, 400], "slice: {dim: 2, start: 1, end: -1, step: 7}"),
    ([1000, 400], "slice: {start: 10, end: 20}"),
    ([1, 1000, 400], "slice: {dim: 1}"),  # everything: a view of the whole input
    ([4, 1000, 100], "flip: {dims: [0, 2]}"),
    ([256, 1000], "transpose: {name: t, dim0: 0, dim1: 1}", "matmul: {from: [input, t]}"),
    (
        [8, 1, 64, 64],
        "squeeze: {name: s, dim: 1}",
        "unsqueeze: {name: u, dim: 0}",
        "matmul: {from: [input, u]}",
    ),
    ([200, 1000], "select: {name: v, dim: 0, index: 0}", "matmul: {from: [input, v]}"),
    (
        [50, 1000, 8],
        "select: {name: v, dim: 2, index: 0}",
        "select: {name: r, dim: 0, index: 0}",
        "matmul: {from: [r, input]}",
    ),
    ([400_000], "matmul: {from: [input, input]}"),
    # recurrent (SPEC.md section 12): a long thin sequence (step temporaries), a wide
    # hidden state on a short one (the input products), stacked bidirectional layers (the
    # layer below's output), projections, batch_first, unbatched, given initial states
    ([20_000, 1, 2], "rnn: {hidden_size: 4}"),
    ([3, 2, 10], "rnn: {hidden_size: 3000, nonlinearity: relu, bias: false}"),
    ([50, 4, 30], "rnn: {hidden_size: 40, num_layers: 3, bidirectional: true, batch_first: true}"),
    ([2000, 16], "rnn: {hidden_size: 32, num_layers: 2}"),  # unbatched
    ([5_000, 1, 2], "lstm: {hidden_size: 4, bidirectional: true}"),
    ([3, 2, 10], "lstm: {hidden_size: 2000}"),
    (
        [40, 3, 20],
        "lstm: {hidden_size: 100, proj_size: 7, num_layers: 3, bidirectional: true, dropout: 0.5}",
    ),
    ([8, 100, 16], "lstm: {hidden_size: 64, num_layers: 2, batch_first: true, bias: false}"),
    ([300, 12], "lstm: {hidden_size: 24, proj_size: 5, bidirectional: true}"),  # unbatched
    (
        [10, 3, 8],
        "linear: {name: h, out_features: 16}",
        "select: {name: h0, dim: 0, index: 0}",
        "unsqueeze: {name: h1, dim: 0}",
        "linear: {name: c, out_features: 32}",
        "lstm: {hidden_size: 32, proj_size: 16, from: [input, h1, c]}",
    ),
    ([5_000, 1, 2], "gru: {hidden_size: 4, bidirectional: true}"),
    ([3, 2, 10], "gru: {hidden_size: 2000}"),
    ([4, 60, 30], "gru: {hidden_size: 40, num_layers: 3, bidirectional: true, batch_first: true}"),
    (
        [300, 4, 8],
        "linear: {name: h, out_features: 5}",
        "slice: {name: h0, dim: 0, end: 1}",
        "gru: {hidden_size: 5, from: [input, h0]}",
    ),
    ([4000, 3], "rnn_cell: {hidden_size: 500}"),
    ([3], "rnn_cell: {hidden_size: 50000, nonlinearity: relu}"),
    (
        [10_000, 2],
        "linear: {name: h, out_features: 7}",
        "rnn_cell: {hidden_size: 7, from: [input, h]}",
    ),
    ([4000, 3], "lstm_cell: {hidden_size: 300}"),
    ([3], "lstm_cell: {hidden_size: 20000, bias: false}"),
    (
        [4000, 3],
        "linear: {name: h, out_features: 9}",
        "lstm_cell: {hidden_size: 9, from: [input, h, h]}",
    ),
    ([4000, 3], "gru_cell: {hidden_size: 300}"),
    ([3], "gru_cell: {hidden_size: 30000}"),
    # attention (SPEC.md section 12): long sequences (the L x S weights), many heads on a
    # narrow width, cross-attention with kdim/vdim, appended keys, masks by keyword;
    # the composites measure each member row
    ([1, 2, 3000, 8], "scaled_dot_product_attention: {from: [input, input, input]}"),
    (
        [4, 8, 5, 64],
        "linear: {name: kv, out_features: 64}",
        "sdpa: {is_causal: true, enable_gqa: true, from: [input, kv, kv]}",
    ),
    ([1500, 1, 16], "multihead_attention: {num_heads: 16}"),
    (
        [2, 300, 64],
        "multihead_attention: {num_heads: 4, batch_first: true, kdim: 64, vdim: 64,"
        " add_bias_kv: true, add_zero_attn: true, average_attn_weights: false}",
    ),
    (
        [50, 3, 32],
        "linear: {name: kv, out_features: 5}",
        "mha: {num_heads: 2, kdim: 5, vdim: 5, need_weights: false, from: [input, kv, kv]}",
    ),
    ([200, 2, 32], "transformer_encoder_layer: {nhead: 4, dim_feedforward: 4000}"),
    ([100, 2, 16], "transformer_decoder_layer: {nhead: 2, norm_first: true, from: [input, input]}"),
    (
        [60, 1, 16],
        "transformer_encoder: {encoder_layer: {transformer_encoder_layer:"
        " {nhead: 2, dim_feedforward: 32}}, num_layers: 2,"
        " norm: {layer_norm: {normalized_shape: [16]}}}",
    ),
    (
        [30, 1, 16],
        "transformer_decoder: {decoder_layer: {transformer_decoder_layer:"
        " {nhead: 2, dim_feedforward: 32}}, num_layers: 2, from: [input, input]}",
    ),
    (
        [20, 1, 16],
        "linear: {name: tgt, out_features: 16}",
        "transformer: {d_model: 16, nhead: 2, num_encoder_layers: 1, num_decoder_layers: 1,"
        " dim_feedforward: 32, from: [input, tgt]}",
    ),
    ([3], "arange: {end: 300000}"),
]


def _cases():
    out = []
    for case in C:
        shape, *layers = case
        out.append(pytest.param(shape, layers, id=layers[-1].split(":")[0] + str(shape)))
    return out


def build(shape, layers, dtype="float32"):
    text = f"input: {list(shape)}\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    res = analyse_bytes(text.encode(), "hostile.yaml")
    assert res.net is not None, [str(d) for d in res.diagnostics]
    return res.net


def measure(net, dtype="float32", seed=0, target=None):
    """Run the net's layers as verify does, up to ``target`` (default the last), that one
    under tracemalloc. Returns (layer, output, bytes its forward allocated at its peak,
    bytes it declares)."""
    import numpy as np

    from layercalc.analyses import verify
    from layercalc.layers import npops  # noqa: F401 - loaded before tracing, not counted

    np_dtype = np.dtype(dtype).type
    rng = np.random.default_rng(seed)
    values = verify._make_inputs(rng, np, np_dtype, net)
    target = len(net.layers) - 1 if target is None else target
    for i, layer in enumerate(net.layers[: target + 1]):
        w = {t.key: verify._fill(rng, np, np_dtype, t, layer) for t in layer.tensors}
        xs = [values[src] for src in layer.inputs]
        last = i == target
        if last:
            tracemalloc.start()
        try:
            with np.errstate(over="ignore", under="ignore"):
                y = layer.type.forward(layer.args, xs, w)
            ys = [np.asarray(v) for v in (y if layer.named_outputs else [y])]
            ys = [
                v.astype(np_dtype)
                if np.issubdtype(v.dtype, np.floating) and v.dtype != np_dtype
                else v
                for v in ys
            ]
            y = ys if layer.named_outputs else ys[0]
            if last:
                peak = tracemalloc.get_traced_memory()[1]
        finally:
            if last:
                tracemalloc.stop()
        for (ref, _), v in zip(layer.produced(), ys):
            values[ref] = v
    b = np.dtype(dtype).itemsize
    declared = (
        sum(prod(s) for _, s in layer.produced())
        + layer.type.workspace(layer.args, layer.input_shapes, layer.output)
    ) * b
    return layer, xs, y, peak, declared


def _base(a):
    while a.base is not None and hasattr(a.base, "nbytes"):
        a = a.base
    return a


@pytest.mark.parametrize("shape, layers", _cases())
def test_forward_stays_within_its_declared_workspace(shape, layers):
    within_workspace(build(shape, layers))


# float64 halves the room the int64 index arrays take in workspace elements
F64 = [
    "adaptive_avg_pool1d: {output_size: 299999}",
    "upsample: {scale_factor: 200000, mode: linear}",
    "layer_norm: {normalized_shape: [1]}",
    "gelu: {}",
    "rms_norm: {normalized_shape: [1]}",
    "layer_norm2d: {}",
    "avg_pool1d: {kernel_size: 100, stride: 2, ceil_mode: true}",
]


@pytest.mark.parametrize("shape, layers", [p for p in _cases() if p.values[1][-1] in F64])
def test_float64_forward_stays_within_its_declared_workspace(shape, layers):
    within_workspace(build(shape, layers), "float64")


@pytest.mark.parametrize(
    "shape, layers",
    [
        ([1, 64, 40, 40], ["conv2d: {out_channels: 8, kernel_size: 3, padding: 1}"]),  # a row
        ([2, 16, 5000], ["conv1d: {out_channels: 16, kernel_size: 5}"]),  # rows per slice
        ([3, 4, 30, 30, 30], ["conv3d: {out_channels: 2, kernel_size: 3, stride: 2}"]),
    ],
)
def test_sliced_im2col_stays_within_its_declared_workspace(shape, layers, monkeypatch):
    """With slices of 10,000 im2col elements, even one output row of the first case
    (64 channels x 9 taps x 40 positions) is larger than a slice."""
    from layercalc.layers import conv

    monkeypatch.setattr(conv, "IM2COL_ELEMENTS", 10_000)
    within_workspace(build(shape, layers))


def _targets(net) -> list:
    """The rows measured: the last one, or every member row of a composite module
    (multihead_attention, the transformer layers) that ends the case."""
    g = next((g for g in reversed(net.groups) if g.parent is None), None)
    if g is not None and g.kind == "module" and g.last == len(net.layers):
        return list(range(g.first, g.last))
    return [len(net.layers) - 1]


def within_workspace(net, dtype="float32"):
    for target in _targets(net):
        _within(net, dtype, target)


def _within(net, dtype, target):
    import numpy as np

    layer, xs, y, peak, declared = measure(net, dtype, target=target)
    ys = y if layer.named_outputs else [y]  # a type with several outputs: each
    assert [tuple(v.shape) for v in ys] == [tuple(s) for _, s in layer.produced()]
    assert peak <= declared + SLACK, (
        f"{layer.type.name}: allocated {peak:,} bytes, declared {declared:,} "
        f"({peak / max(declared, 1):.2f}x)"
    )
    for y in ys:
        assert y.dtype == (np.int64 if layer.type.integer(layer.args) else dtype)
        # contiguous outputs: the next layer's reshapes are views, not copies it must
        # declare
        assert y.flags.c_contiguous, f"{layer.type.name} returns a non-contiguous array"
        # the output must not keep a larger buffer alive than itself (a cropping view of
        # the input): verify's estimate frees inputs after their last use
        owner = _base(y)
        assert owner.nbytes <= y.nbytes, (
            f"{layer.type.name}'s output {y.shape} keeps a {owner.shape} buffer alive"
        )


def test_layer_norm_blocks_do_not_change_a_bit(monkeypatch):
    """layer_norm scales a block at a time; blocks of 7 elements give the same bits."""
    import numpy as np

    from layercalc.analyses import verify
    from layercalc.layers import norm

    for shape, ns in (([5, 3, 20], [20]), ([4, 30], [30]), ([50, 1], [1]), ([2, 9, 4], None)):
        net = build(shape, [f"layer_norm: {{normalized_shape: {ns or 'null'}}}"])
        runs = []
        for block in (2**20, 7):
            monkeypatch.setattr(norm, "NORM_BLOCK", block)
            res = verify.run(net, seed=3, save=True)
            assert res.ok
            runs.append(res.arrays["output"])
        assert np.array_equal(runs[0], runs[1])


def test_the_issue_upsample_is_estimated_and_stays_within_the_estimate():
    """Issue 12: [1, 1, 1, 30000] upsampled to [30000, 1] was estimated at 720 KB and
    built a 30000 x 30000 intermediate (3.35 GiB) by growing the first axis before
    shrinking the second; the shrinking axis now goes first, and the whole run stays
    within verify's estimate."""
    from layercalc.analyses import verify

    for mode in ("nearest", "bilinear", "area", "bicubic"):
        net = build([1, 1, 1, 30000], [f"upsample: {{size: [30000, 1], mode: {mode}}}"])
        estimate = verify.estimate_memory(net)
        assert estimate < 8 * 2**20
        tracemalloc.start()
        try:
            assert verify.run(net).ok
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= estimate, (mode, peak, estimate)


def test_every_registered_layer_type_has_a_hostile_case():
    """Adding a layer type without an adversarial memory case here fails."""
    covered = set()
    for shape, *layers in C:
        net = build(shape, layers)
        covered.add(net.layers[-1].type.name)
        covered |= {g.type for g in net.groups if g.kind == "module"}
    concrete = {name for name, lt in REGISTRY.canonical.items() if not isinstance(lt, RankPicked)}
    for name, lt in REGISTRY.canonical.items():
        if isinstance(lt, RankPicked):
            concrete |= {v.name for v in lt.variants.values()}
    missing = sorted(concrete - covered)
    assert not missing, f"layer types without a hostile memory case: {missing}"
