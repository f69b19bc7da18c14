"""`layercalc import onnx FILE.onnx [-o SPEC.yaml] [--input SIZES]`."""

from __future__ import annotations

import click

from .imports import SPEC_OUTPUT

from ..text import printable

from .options import INPUT, parse_input


def _input(ctx, param, value):
    try:
        return parse_input(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("onnx")
@click.argument("file", metavar="FILE.onnx")
@SPEC_OUTPUT
@click.option(
    INPUT.flag,
    "input_shape",
    multiple=True,
    metavar=INPUT.metavar,
    callback=_input,
    help="the input shape, e.g. 1,3,224,224 (default: the file's, a dynamic batch as 1); "
    "NAME=SIZES for one of several inputs (repeatable)",
)
def COMMAND(file, output, input_shape):
    """Write a spec from an ONNX graph (needs: pip install 'layercalc[onnx]').

    Conv, ConvTranspose, Gemm and MatMul (+ bias Add), pools, BatchNormalization and
    the other normalizations, activations, Add, Mul, Sub, Div, Concat, Reshape,
    Flatten, Transpose, Resize, Pad, Split, Slice, reductions and nn.MultiheadAttention
    become spec layers; shape arithmetic is folded. Layers are named as the exporter
    named their weights or modules (torch.onnx keeps `layer1.0.conv1.weight`: the layer
    is `layer1.0.conv1`), so state_dict keys match. Nodes with no spec equivalent are
    listed with the reason, and nothing is written (exit 1). The spec ends with
    `expect:` (parameters and output shape from the graph), so `layercalc check`
    confirms the import.

    An eval-mode torch.onnx export folds batch norms into the convs; export with
    training=TrainingMode.TRAINING or do_constant_folding=False to keep them.
    """
    from ..importers.onnx import ImportFailed, convert
    from .imports import check_output, fail, write_spec

    if check_output(output, file, "ONNX file") is not None:  # a bad -o costs no conversion
        return 1
    try:
        text, warnings = convert(file, input_shape)
    except ImportFailed as exc:
        problems = [f"{name or '(unnamed)'} ({op}): {reason}" for name, op, reason in exc.problems]
        return fail(str(exc), problems=problems)
    from ..importers.onnx import self_check

    for message in warnings:  # already escaped
        click.echo(f"warning: {message}", err=True)
    for message in self_check(text, output or "<stdout>"):
        click.echo(
            f"warning: the spec written disagrees with layercalc: {printable(message)}", err=True
        )
    return write_spec(output, text)
