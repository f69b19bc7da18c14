"""`layercalc draw SPEC`: the network as a picture (svg, html) or graph text (dot,
mermaid); see layercalc.draw."""

from __future__ import annotations

import os

import click

from ..text import printable

from ..draw import FORMATS, STYLES, SUFFIXES
from .common import click_option, emit, yaml_limit_options
from .options import DEPTH, INPUT, MAX_LAYERS, SETS
from .run import Outcome, format_diagnostic

CHUNK = 1 << 20  # characters written at a time (see _pieces)


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FILE",
    default=None,
    help="write to FILE (replaced atomically) instead of standard output (`-`: standard output)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="svg (default), html (svg + shape table, zoom/pan), dot (Graphviz), mermaid; "
    "with -o, taken from FILE's suffix when not given",
)
@click.option(
    "--style",
    type=click.Choice(STYLES),
    default="graph",
    show_default=True,
    help="graph: one box per layer with edges; blocks: feature maps as 3-D boxes (CNNs)",
)
@click.option(
    "--direction",
    type=click.Choice(("TB", "LR")),
    default="TB",
    show_default=True,
    help="the graph style flows top to bottom or left to right (blocks always run left to right)",
)
@click_option(DEPTH)
@click_option(SETS)
@click_option(INPUT)
@click_option(MAX_LAYERS)
@yaml_limit_options
def draw(spec, output, fmt, style, direction, depth, sets, input_shape, max_layers):
    """Draw a network: SVG, HTML, Graphviz dot or Mermaid.

    \b
      layercalc draw specs/dcgan_discriminator.yaml -o dcgan.svg
      layercalc draw specs/resnet50.yaml --depth 1 -o resnet50.html
      layercalc draw specs/lenet5.yaml --style blocks -o lenet5.svg
      layercalc draw specs/unet.yaml --format mermaid

    graph: one node per layer (per collapsed group with --depth) with its name, type,
    key arguments, output shape and parameters; an edge per `from`; groups as labelled
    frames; colours by layer family; totals in the caption. blocks: each feature map a
    box sized by its height, width and channels (log-scaled), for sequential CNNs.
    The SVG is self-contained and the same spec always gives the same bytes.
    """
    if output == "-":  # standard output, as import's -o - (and SPEC -) mean
        output = None
    from ..analyses.loading import analyse
    from ..draw import draw as render
    from ..errors import Diagnostic
    from ..outfile import OutputError, check_target, refuse_input, write_atomic
    from ..spec import Limits

    result = analyse(spec, sets, input_shape, Limits(max_layers=max_layers))
    err = [format_diagnostic(d) for d in result.diagnostics]
    if result.net is None:
        return emit(Outcome("", err, 1))
    if output is not None:
        try:
            _, st = check_target(output)  # before the drawing: a bad -o costs nothing
            refuse_input(output, st, spec, "drawn", "net.svg")
        except OutputError as exc:
            d = Diagnostic(
                "unwritable", f"cannot write {output}: {exc.reason}", file=spec, hint=exc.hint
            )
            return emit(Outcome("", [*err, format_diagnostic(d)], 1))
    if fmt is None:
        suffix = os.path.splitext(output)[1].lower() if output else ""
        if suffix and suffix not in SUFFIXES:  # x.png would get SVG text in it
            raise click.UsageError(
                printable(
                    f"-o {output}: layercalc draws no '{suffix}' file; name it "
                    f"{', '.join(sorted(SUFFIXES))}, or give --format (for a bitmap, "
                    "convert the SVG, e.g. rsvg-convert -o net.png net.svg)"
                )
            )
        fmt = SUFFIXES.get(suffix, "svg")
    if style == "blocks" and fmt not in ("svg", "html"):
        raise click.UsageError("--style blocks is a picture: use --format svg or html")
    text = render(result.net, fmt, depth, direction, style)
    if output is None:
        code = emit(Outcome("", err, 0))  # the diagnostics first, as emit() does
        for piece in _pieces(text):
            click.echo(piece, nl=False)
        return code

    def write(fh):
        for piece in _pieces(text):
            fh.write(piece.encode("utf-8"))

    try:
        write_atomic(output, write)
    except OutputError as exc:
        d = Diagnostic(
            "unwritable", f"cannot write {output}: {exc.reason}", file=spec, hint=exc.hint
        )
        return emit(Outcome("", [*err, format_diagnostic(d)], 1))
    return emit(Outcome("", err, 0))


def _pieces(text: str):
    """``text`` in pieces of about CHUNK characters, each ending a line (or the text):
    the encoded bytes of a 100,000-layer drawing are never held beside its text, and
    click.echo, which may strip terminal escapes, never gets one cut in two."""
    at, n = 0, len(text)
    while at < n:
        end = text.find("\n", at + CHUNK)
        end = n if end < 0 else end + 1
        yield text[at:end]
        at = end


COMMANDS = (draw,)
