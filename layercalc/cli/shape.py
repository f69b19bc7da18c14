"""`layercalc shape`, `layercalc params` and `layercalc layers`."""

from __future__ import annotations

import click

from .common import click_option, emit, spec_options
from .options import DEPTH, WIDTH
from ..render import FORMATS, render
from .run import execute, output_options

_DEPTH = click_option(DEPTH)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@_DEPTH
def shape(specs, **values):
    """Every layer's output shape, PyTorch-exact.

    One row per layer: name (dotted, as named_modules()), type, the arguments that
    matter, the inputs of merge layers, input and output shapes; the network's output
    and totals under the table. SPEC may be `-` for standard input.
    """
    return emit(execute("shape", specs, values))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@_DEPTH
def params(specs, **values):
    """Parameters (weights and bias), trainable, buffers and share per layer.

    Totals and parameter memory (parameters x dtype size, in binary units: MiB = 2**20
    bytes) under the table. Buffers (batch-norm running statistics) are not parameters,
    as in PyTorch.
    """
    return emit(execute("params", specs, values))


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
)
@click.option(
    "--keys",
    "keys_only",
    is_flag=True,
    help="only the spec keys (name, from, repeat, when, share, ...) with examples",
)
@click_option(WIDTH)
@click.argument("names", nargs=-1, metavar="[TYPE|KEY...]")
def layers(fmt, keys_only, width, names):
    """Every supported layer type with its arguments and PyTorch defaults, and the spec
    keys (name, from, repeat, when, share, block args/inputs/outputs...) with examples."""
    from ..catalog import catalog, key_entries
    from ..views import catalog_tables

    entries = [] if keys_only and not names else catalog(names)
    if isinstance(entries, str):
        from ..text import printable

        raise click.BadParameter(printable(entries), param_hint="TYPE")
    keys = key_entries(names)
    if fmt in ("json", "csv") and not names and not keys_only:
        keys = []  # machine formats of `layers` are the types, one table; --keys the keys
    opts = output_options({"fmt": fmt, "full": fmt != "table", "width": width})
    click.echo(render(catalog_tables(entries, keys), fmt, opts), nl=False)


COMMANDS = (shape, params, layers)
