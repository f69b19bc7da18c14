"""Configurations PyTorch refuses are refused here too (issue 12, item 6).

Each REFUSED case is a one-layer spec that the CLI must refuse with the expected code at
the expected line:col (the argument at fault, or the layer entry when the input is), in
the table and JSON formats; the torch cross-check builds the same layer in torch.nn and
requires torch to raise as well. Each ACCEPTED case sits at the boundary of one of those
refusals: both accept it, with the same output shape. The torch tests are skipped cleanly
where torch is absent.
"""

from __future__ import annotations

import warnings

import pytest
from test_hostile import refused

from layercalc.analyses.loading import analyse_bytes

ENTRY_COL = 5  # "  - " then the entry: where a refusal of the whole layer points


def case(id_, shape, entry, code, marker=None, torch=None):
    """``marker``: the text whose last occurrence in ``entry`` starts the value at fault
    (None: the layer entry). ``torch(nn, F)`` builds the torch counterpart."""
    col = ENTRY_COL if marker is None else ENTRY_COL + entry.rindex(marker)
    return pytest.param(shape, entry, code, col, torch, id=id_)


REFUSED = [
    # -- element-wise ---------------------------------------------------------------------
    case(
        "dropout-p-above-1",
        [2, 3],
        "dropout: {p: 1.5}",
        "invalid-layer",
        "1.5",
        lambda nn, F: nn.Dropout(1.5),
    ),
    case(
        "dropout2d-p-negative",
        [2, 3, 4, 4],
        "dropout2d: {p: -0.1}",
        "invalid-layer",
        "-0.1",
        lambda nn, F: nn.Dropout2d(-0.1),
    ),
    case(
        "dropout1d-on-4d", [2, 3, 4, 4], "dropout1d", "bad-rank", None, lambda nn, F: nn.Dropout1d()
    ),
    case(
        "hardtanh-max-below-min",
        [2, 3],
        "hardtanh: {min_val: 2, max_val: -2}",
        "invalid-layer",
        "-2",
        lambda nn, F: nn.Hardtanh(2, -2),
    ),
    case(
        "hardtanh-max-equals-min",
        [2, 3],
        "hardtanh: {min_val: 1, max_val: 1}",
        "invalid-layer",
        "1",
        lambda nn, F: nn.Hardtanh(1, 1),
    ),
    case(
        "prelu-channels-on-1d",
        [4],
        "prelu: {num_parameters: 4}",
        "shape-mismatch",
        "4",
        lambda nn, F: nn.PReLU(4),
    ),
    case(
        "prelu-channels-mismatch",
        [2, 4],
        "prelu: {num_parameters: 3}",
        "shape-mismatch",
        "3",
        lambda nn, F: nn.PReLU(3),
    ),
    case(
        "softmax-dim-out-of-range",
        [1, 6],
        "softmax: {dim: 2}",
        "invalid-layer",
        "2",
        lambda nn, F: nn.Softmax(2),
    ),
    # -- normalisation --------------------------------------------------------------------
    case(
        "batch-norm-eps-negative",
        [2, 3],
        "batch_norm1d: {eps: -1}",
        "invalid-layer",
        "-1",
        lambda nn, F: nn.BatchNorm1d(3, eps=-1),
    ),
    case(
        "batch-norm-no-stats-eps-0",
        [2, 3],
        "batch_norm1d: {eps: 0, track_running_stats: false}",
        "invalid-layer",
        "0",
        lambda nn, F: nn.BatchNorm1d(3, eps=0, track_running_stats=False),
    ),
    case(
        "batch-norm-no-stats-batch-1",
        [1, 3],
        "batch_norm1d: {track_running_stats: false}",
        "invalid-layer",
        "false",
        lambda nn, F: nn.BatchNorm1d(3, track_running_stats=False),
    ),
    case(
        "batch-norm2d-no-stats-1x1",
        [1, 3, 1, 1],
        "batch_norm2d: {track_running_stats: false}",
        "invalid-layer",
        "false",
        lambda nn, F: nn.BatchNorm2d(3, track_running_stats=False),
    ),
    case(
        "instance-norm-one-position",
        [2, 3, 1, 1],
        "instance_norm2d",
        "invalid-layer",
        None,
        lambda nn, F: nn.InstanceNorm2d(3),
    ),
    case(
        "instance-norm-unbatched-one-position",
        [3, 1],
        "instance_norm1d: {affine: true}",
        "invalid-layer",
        None,
        lambda nn, F: nn.InstanceNorm1d(3, affine=True),
    ),
    case(
        "group-norm-one-value-per-group",
        [1, 4],
        "group_norm: {num_groups: 4}",
        "invalid-layer",
        "4",
        lambda nn, F: nn.GroupNorm(4, 4),
    ),
    case(
        "group-norm-one-value-in-all",
        [1, 1, 1],
        "group_norm: {num_groups: 1}",
        "invalid-layer",
        None,
        lambda nn, F: nn.GroupNorm(1, 1),
    ),
    case(
        "group-norm-not-divisible",
        [1, 4, 2],
        "group_norm: {num_groups: 3}",
        "invalid-layer",
        "3",
        lambda nn, F: nn.GroupNorm(3, 4),
    ),
    # -- pooling --------------------------------------------------------------------------
    case(
        "avg-pool1d-divisor-override",
        [1, 1, 8],
        "avg_pool1d: {kernel_size: 2, divisor_override: 2}",
        "invalid-layer",
        "2",
        lambda nn, F: lambda x: F.avg_pool1d(x, 2, divisor_override=2),
    ),
    case(
        "avg-pool2d-divisor-override-0",
        [1, 1, 8, 8],
        "avg_pool2d: {kernel_size: 2, divisor_override: 0}",
        "invalid-layer",
        "0",
        lambda nn, F: nn.AvgPool2d(2, divisor_override=0),
    ),
    case(
        "max-pool-padding-above-half-kernel",
        [1, 1, 8],
        "max_pool1d: {kernel_size: 3, padding: 2}",
        "invalid-layer",
        "2",
        lambda nn, F: nn.MaxPool1d(3, padding=2),
    ),
    case(
        "adaptive-output-size-one-entry",
        [1, 1, 8, 8],
        "adaptive_avg_pool2d: {output_size: [2]}",
        "invalid-layer",
        "[2]",
        lambda nn, F: nn.AdaptiveAvgPool2d((2,)),
    ),
    case(
        "adaptive3d-output-size-two-entries",
        [1, 1, 4, 4, 4],
        "adaptive_max_pool3d: {output_size: [2, 2]}",
        "invalid-layer",
        "[2, 2]",
        lambda nn, F: nn.AdaptiveMaxPool3d((2, 2)),
    ),
    # -- convolution ----------------------------------------------------------------------
    case(
        "conv2d-kernel-one-entry",
        [1, 1, 5, 5],
        "conv2d: {out_channels: 1, kernel_size: [2]}",
        "invalid-layer",
        "[2]",
        lambda nn, F: nn.Conv2d(1, 1, (2,)),
    ),
    case(
        "conv-transpose3d-kernel-one-entry",
        [1, 1, 3, 3, 3],
        "conv_transpose3d: {out_channels: 1, kernel_size: [2]}",
        "invalid-layer",
        "[2]",
        lambda nn, F: nn.ConvTranspose3d(1, 1, (2,)),
    ),
    case(
        "conv2d-padding-one-entry-reflect",
        [1, 1, 5, 5],
        "conv2d: {out_channels: 1, kernel_size: 3, padding: [1], padding_mode: reflect}",
        "invalid-layer",
        "[1]",
        lambda nn, F: nn.Conv2d(1, 1, 3, padding=(1,), padding_mode="reflect"),
    ),
    case(
        "conv3d-unbatched-padding-one-entry-circular",
        [1, 5, 5, 5],
        "conv3d: {out_channels: 1, kernel_size: 1, padding: [1], padding_mode: circular}",
        "invalid-layer",
        "[1]",
        lambda nn, F: nn.Conv3d(1, 1, 1, padding=(1,), padding_mode="circular"),
    ),
    case(
        "conv-reflect-padding-equal-to-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 3, padding: 4, padding_mode: reflect}",
        "invalid-layer",
        "4",
        lambda nn, F: nn.Conv1d(1, 1, 3, padding=4, padding_mode="reflect"),
    ),
    case(
        "conv-circular-padding-above-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 3, padding: 5, padding_mode: circular}",
        "invalid-layer",
        "5",
        lambda nn, F: nn.Conv1d(1, 1, 3, padding=5, padding_mode="circular"),
    ),
    case(
        "conv-same-reflect-right-pad-equal-to-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 8, padding: same, padding_mode: reflect}",
        "invalid-layer",
        "same",
        lambda nn, F: nn.Conv1d(1, 1, 8, padding="same", padding_mode="reflect"),
    ),
    case(
        "conv2d-circular-height-above-input",
        [1, 1, 4, 8],
        "conv2d: {out_channels: 1, kernel_size: 3, padding: [5, 1], padding_mode: circular}",
        "invalid-layer",
        "[5, 1]",
        lambda nn, F: nn.Conv2d(1, 1, 3, padding=(5, 1), padding_mode="circular"),
    ),
    case(
        "conv3d-unbatched-reflect-depth",
        [1, 2, 4, 4],
        "conv3d: {out_channels: 1, kernel_size: 1, padding: 2, padding_mode: reflect}",
        "invalid-layer",
        "2",
        lambda nn, F: nn.Conv3d(1, 1, 1, padding=2, padding_mode="reflect"),
    ),
    case(
        "conv-same-with-stride",
        [1, 1, 8],
        "conv1d: {out_channels: 1, kernel_size: 3, stride: 2, padding: same}",
        "invalid-layer",
        "same",
        lambda nn, F: nn.Conv1d(1, 1, 3, stride=2, padding="same"),
    ),
    case(
        "conv-groups-not-dividing",
        [1, 3, 8],
        "conv1d: {out_channels: 4, kernel_size: 1, groups: 2}",
        "invalid-layer",
        "2",
        lambda nn, F: nn.Conv1d(3, 4, 1, groups=2),
    ),
    case(
        "conv-transpose-output-padding",
        [1, 1, 4],
        "conv_transpose1d: {out_channels: 1, kernel_size: 3, stride: 2, output_padding: 2}",
        "invalid-layer",
        "2}",
        lambda nn, F: nn.ConvTranspose1d(1, 1, 3, stride=2, output_padding=2),
    ),
    case(
        "conv-transpose-padding-mode",
        [1, 1, 4],
        "conv_transpose1d: {out_channels: 1, kernel_size: 3, padding_mode: reflect}",
        "bad-value",
        "reflect",
        lambda nn, F: nn.ConvTranspose1d(1, 1, 3, padding_mode="reflect"),
    ),
    # -- resampling and reshaping ---------------------------------------------------------
    case(
        "upsample-recompute-with-size",
        [1, 1, 2],
        "upsample: {size: 4, recompute_scale_factor: true}",
        "invalid-layer",
        "true",
        lambda nn, F: nn.Upsample(size=4, recompute_scale_factor=True),
    ),
    case(
        "upsample-size-and-scale",
        [1, 1, 2],
        "upsample: {size: 4, scale_factor: 2}",
        "invalid-layer",
        "4",
        lambda nn, F: nn.Upsample(size=4, scale_factor=2),
    ),
    case(
        "upsample-bilinear-on-3d",
        [1, 1, 2],
        "upsample: {scale_factor: 2, mode: bilinear}",
        "bad-rank",
        "bilinear",
        lambda nn, F: nn.Upsample(scale_factor=2, mode="bilinear"),
    ),
    case(
        "upsample-align-corners-with-nearest",
        [1, 1, 2],
        "upsample: {scale_factor: 2, align_corners: false}",
        "invalid-layer",
        "false",
        lambda nn, F: nn.Upsample(scale_factor=2, align_corners=False),
    ),
    case(
        "pixel-shuffle-channels",
        [1, 5, 2, 2],
        "pixel_shuffle: {upscale_factor: 2}",
        "shape-mismatch",
        "2",
        lambda nn, F: nn.PixelShuffle(2),
    ),
    case(
        "pixel-unshuffle-height",
        [1, 1, 5, 4],
        "pixel_unshuffle: {downscale_factor: 2}",
        "shape-mismatch",
        "2",
        lambda nn, F: nn.PixelUnshuffle(2),
    ),
    case(
        "flatten-start-after-end",
        [1, 2, 3],
        "flatten: {start_dim: 2, end_dim: 1}",
        "invalid-layer",
        "2",
        lambda nn, F: nn.Flatten(2, 1),
    ),
    case(
        "unflatten-product",
        [1, 6],
        "unflatten: {dim: 1, sizes: [2, 4]}",
        "shape-mismatch",
        "[2, 4]",
        lambda nn, F: nn.Unflatten(1, (2, 4)),
    ),
    case(
        "embedding-padding-idx",
        [2],
        "embedding: {num_embeddings: 5, embedding_dim: 3, padding_idx: 5}",
        "invalid-layer",
        "5",
        lambda nn, F: nn.Embedding(5, 3, padding_idx=5),
    ),
    # -- padding layers -------------------------------------------------------------------
    case(
        "constant-pad-crops-beyond-input",
        [1, 1, 4],
        "constant_pad1d: {padding: [-5, 3], value: 0}",
        "output-too-small",
        "[-5, 3]",
        lambda nn, F: nn.ConstantPad1d((-5, 3), 0.0),
    ),
    case(
        "zero-pad2d-crops-beyond-height",
        [1, 1, 4, 4],
        "zero_pad2d: {padding: [0, 0, 3, -5]}",
        "output-too-small",
        "[0, 0, 3, -5]",
        lambda nn, F: nn.ZeroPad2d((0, 0, 3, -5)),
    ),
    case(
        "circular-pad-wraps-twice",
        [1, 1, 4],
        "circular_pad1d: {padding: 5}",
        "invalid-layer",
        "5",
        lambda nn, F: nn.CircularPad1d(5),
    ),
    case(
        "circular-pad-wraps-around-left-crop",
        [1, 1, 4],
        "circular_pad1d: {padding: [-2, 3]}",
        "invalid-layer",
        "[-2, 3]",
        lambda nn, F: nn.CircularPad1d((-2, 3)),
    ),
    case(
        "circular-pad-wraps-around-right-crop",
        [1, 1, 4],
        "circular_pad1d: {padding: [3, -2]}",
        "invalid-layer",
        "[3, -2]",
        lambda nn, F: nn.CircularPad1d((3, -2)),
    ),
    case(
        "circular-pad2d-height-above-input",
        [1, 1, 2, 8],
        "circular_pad2d: {padding: [1, 1, 3, 0]}",
        "invalid-layer",
        "[1, 1, 3, 0]",
        lambda nn, F: nn.CircularPad2d((1, 1, 3, 0)),
    ),
    case(
        "reflection-pad-equal-to-input",
        [1, 1, 4],
        "reflection_pad1d: {padding: [-2, 4]}",
        "invalid-layer",
        "[-2, 4]",
        lambda nn, F: nn.ReflectionPad1d((-2, 4)),
    ),
    case(
        "reflection-pad2d-height",
        [1, 1, 2, 8],
        "reflection_pad2d: {padding: [0, 0, 2, 2]}",
        "invalid-layer",
        "[0, 0, 2, 2]",
        lambda nn, F: nn.ReflectionPad2d((0, 0, 2, 2)),
    ),
]


def accepted(id_, shape, entry, torch):
    return pytest.param(shape, entry, torch, id=id_)


ACCEPTED = [
    accepted("dropout-p-1", [2, 3], "dropout: {p: 1}", lambda nn, F: nn.Dropout(1.0)),
    accepted(
        "dropout3d-p-0", [2, 3, 2, 2, 2], "dropout3d: {p: 0}", lambda nn, F: nn.Dropout3d(0.0)
    ),
    accepted("dropout1d-on-2d", [3, 4], "dropout1d", lambda nn, F: nn.Dropout1d()),
    accepted("dropout1d-on-3d", [2, 3, 4], "dropout1d", lambda nn, F: nn.Dropout1d()),
    accepted(
        "hardtanh-narrow",
        [2, 3],
        "hardtanh: {min_val: -1, max_val: -0.5}",
        lambda nn, F: nn.Hardtanh(-1, -0.5),
    ),
    accepted("prelu-1-on-1d", [4], "prelu", lambda nn, F: nn.PReLU()),
    accepted(
        "prelu-channels-on-2d", [3, 5], "prelu: {num_parameters: 5}", lambda nn, F: nn.PReLU(5)
    ),
    accepted(
        "batch-norm-eps-0-tracking",
        [1, 3],
        "batch_norm1d: {eps: 0}",
        lambda nn, F: nn.BatchNorm1d(3, eps=0),
    ),
    accepted(
        "batch-norm-no-stats-two-values",
        [1, 3, 2],
        "batch_norm1d: {track_running_stats: false}",
        lambda nn, F: nn.BatchNorm1d(3, track_running_stats=False),
    ),
    accepted(
        "instance-norm-two-positions",
        [2, 3, 1, 2],
        "instance_norm2d",
        lambda nn, F: nn.InstanceNorm2d(3),
    ),
    accepted(
        "instance-norm-one-position-tracking",
        [2, 3, 1, 1],
        "instance_norm2d: {track_running_stats: true}",
        lambda nn, F: nn.InstanceNorm2d(3, track_running_stats=True),
    ),
    accepted(
        "group-norm-two-values-per-group",
        [1, 4],
        "group_norm: {num_groups: 2}",
        lambda nn, F: nn.GroupNorm(2, 4),
    ),
    accepted(
        "group-norm-batch-of-two",
        [2, 2],
        "group_norm: {num_groups: 2}",
        lambda nn, F: nn.GroupNorm(2, 2),
    ),
    accepted(
        "avg-pool2d-divisor-override-negative",
        [1, 1, 8, 8],
        "avg_pool2d: {kernel_size: 2, divisor_override: -1}",
        lambda nn, F: nn.AvgPool2d(2, divisor_override=-1),
    ),
    accepted(
        "avg-pool3d-divisor-override",
        [1, 1, 4, 4, 4],
        "avg_pool3d: {kernel_size: 2, divisor_override: 3}",
        lambda nn, F: nn.AvgPool3d(2, divisor_override=3),
    ),
    accepted(
        "max-pool2d-kernel-one-entry",
        [1, 1, 5, 5],
        "max_pool2d: {kernel_size: [2]}",
        lambda nn, F: nn.MaxPool2d((2,)),
    ),
    accepted(
        "adaptive1d-output-size-one-entry",
        [1, 1, 8],
        "adaptive_avg_pool1d: {output_size: [2]}",
        lambda nn, F: nn.AdaptiveAvgPool1d((2,)),
    ),
    accepted(
        "adaptive2d-output-size-null",
        [1, 1, 8, 8],
        "adaptive_max_pool2d: {output_size: [2, null]}",
        lambda nn, F: nn.AdaptiveMaxPool2d((2, None)),
    ),
    accepted(
        "conv1d-kernel-one-entry",
        [1, 1, 5],
        "conv1d: {out_channels: 1, kernel_size: [2]}",
        lambda nn, F: nn.Conv1d(1, 1, (2,)),
    ),
    accepted(
        "conv2d-stride-padding-dilation-one-entry",
        [1, 1, 9, 9],
        "conv2d: {out_channels: 1, kernel_size: 3, stride: [2], padding: [1], dilation: [2]}",
        lambda nn, F: nn.Conv2d(1, 1, 3, stride=(2,), padding=(1,), dilation=(2,)),
    ),
    accepted(
        "conv-transpose2d-output-padding-one-entry",
        [1, 1, 5, 5],
        "conv_transpose2d: {out_channels: 1, kernel_size: 1, stride: 2, output_padding: [1]}",
        lambda nn, F: nn.ConvTranspose2d(1, 1, 1, stride=2, output_padding=(1,)),
    ),
    accepted(
        "conv2d-unbatched-padding-one-entry-reflect-pads-width",
        [1, 5, 5],
        "conv2d: {out_channels: 1, kernel_size: 1, padding: [1], padding_mode: reflect}",
        lambda nn, F: nn.Conv2d(1, 1, 1, padding=(1,), padding_mode="reflect"),
    ),
    accepted(
        "conv-reflect-padding-below-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 3, padding: 3, padding_mode: reflect}",
        lambda nn, F: nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect"),
    ),
    accepted(
        "conv-circular-padding-equal-to-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 3, padding: 4, padding_mode: circular}",
        lambda nn, F: nn.Conv1d(1, 1, 3, padding=4, padding_mode="circular"),
    ),
    accepted(
        "conv-replicate-padding-beyond-input",
        [1, 1, 1, 1, 1],
        "conv3d: {out_channels: 1, kernel_size: 1, padding: 9, padding_mode: replicate}",
        lambda nn, F: nn.Conv3d(1, 1, 1, padding=9, padding_mode="replicate"),
    ),
    accepted(
        "conv-same-reflect-below-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 7, padding: same, padding_mode: reflect}",
        lambda nn, F: nn.Conv1d(1, 1, 7, padding="same", padding_mode="reflect"),
    ),
    accepted(
        "conv-same-circular-equal-to-input",
        [1, 1, 4],
        "conv1d: {out_channels: 1, kernel_size: 9, padding: same, padding_mode: circular}",
        lambda nn, F: nn.Conv1d(1, 1, 9, padding="same", padding_mode="circular"),
    ),
    accepted(
        "upsample-size-recompute-false",
        [1, 1, 2],
        "upsample: {size: 4, recompute_scale_factor: false}",
        lambda nn, F: nn.Upsample(size=4, recompute_scale_factor=False),
    ),
    accepted(
        "upsample-scale-recompute-true",
        [1, 1, 2],
        "upsample: {scale_factor: 2, recompute_scale_factor: true}",
        lambda nn, F: nn.Upsample(scale_factor=2, recompute_scale_factor=True),
    ),
    accepted(
        "constant-pad-crops-whole-input-then-pads",
        [1, 1, 4],
        "constant_pad1d: {padding: [-4, 3], value: 1}",
        lambda nn, F: nn.ConstantPad1d((-4, 3), 1.0),
    ),
    accepted(
        "zero-pad-crops-and-pads",
        [1, 1, 4, 4],
        "zero_pad2d: {padding: [1, 1, 2, -3]}",
        lambda nn, F: nn.ZeroPad2d((1, 1, 2, -3)),
    ),
    accepted(
        "circular-pad-equal-to-input",
        [1, 1, 4],
        "circular_pad1d: {padding: 4}",
        lambda nn, F: nn.CircularPad1d(4),
    ),
    accepted(
        "circular-pad-wraps-what-the-crop-leaves",
        [1, 1, 4],
        "circular_pad1d: {padding: [-1, 3]}",
        lambda nn, F: nn.CircularPad1d((-1, 3)),
    ),
    accepted(
        "circular-pad2d-crop-both-sides",
        [1, 1, 4, 4],
        "circular_pad2d: {padding: [3, -1, -2, 2]}",
        lambda nn, F: nn.CircularPad2d((3, -1, -2, 2)),
    ),
    accepted(
        "reflection-pad-below-input",
        [1, 1, 4],
        "reflection_pad1d: {padding: [-2, 3]}",
        lambda nn, F: nn.ReflectionPad1d((-2, 3)),
    ),
    accepted(
        "replication-pad-beyond-input",
        [1, 1, 1],
        "replication_pad1d: {padding: 5}",
        lambda nn, F: nn.ReplicationPad1d(5),
    ),
]


def spec(shape, entry) -> str:
    return f"input: {list(shape)}\nlayers:\n  - {entry}\n"


def torch_output(build, shape):
    """The output shape torch gives, or the exception it raises."""
    import torch

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dropout2d's deprecation notes are not refusals
            layer = build(torch.nn, torch.nn.functional)
            if isinstance(layer, torch.nn.Module):
                layer.eval()  # layercalc's inference semantics
            return tuple(layer(torch.zeros(shape)).shape)
    except Exception as exc:  # noqa: BLE001 - any refusal counts (ValueError, Assertion...)
        return exc


@pytest.mark.parametrize("shape,entry,code,col,build", REFUSED)
def test_refused_at_the_argument(tmp_path, shape, entry, code, col, build):
    message = refused(tmp_path, spec(shape, entry), code, 3, col)
    assert "Traceback" not in message


@pytest.mark.torch
@pytest.mark.parametrize("shape,entry,code,col,build", REFUSED)
def test_torch_refuses_too(shape, entry, code, col, build):
    pytest.importorskip("torch")
    got = torch_output(build, shape)
    assert isinstance(got, Exception), f"torch accepts {entry} on {shape}: {got}"


@pytest.mark.parametrize("shape,entry,build", ACCEPTED)
def test_boundary_accepted(shape, entry, build):
    r = analyse_bytes(spec(shape, entry).encode(), "t.yaml")
    assert r.net is not None, r.diagnostics


@pytest.mark.torch
@pytest.mark.parametrize("shape,entry,build", ACCEPTED)
def test_torch_accepts_the_boundary_alike(shape, entry, build):
    pytest.importorskip("torch")
    got = torch_output(build, shape)
    assert not isinstance(got, Exception), f"torch refuses {entry} on {shape}: {got!r}"
    r = analyse_bytes(spec(shape, entry).encode(), "t.yaml")
    assert r.net is not None, r.diagnostics
    assert r.net.layers[0].output == got, entry
