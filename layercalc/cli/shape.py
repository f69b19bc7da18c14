"""`layercalc shape`, `layercalc params` and `layercalc layers`."""

from __future__ import annotations

import sys

import click

from .common import click_option, spec_options
from .options import DEPTH
from .run import exit_code, load_all, report, table_width

_DEPTH = click_option(DEPTH)


def _report(view, specs, sets, input_shape, fmt, max_layers, depth):
    results = load_all(specs, sets, input_shape, max_layers)
    out, errors = report(view, results, fmt, depth)
    for line in errors:
        click.echo(line, err=True)
    if out:
        click.echo(out, nl=False)
    sys.exit(exit_code(results))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@_DEPTH
def shape(specs, sets, input_shape, fmt, max_layers, depth):
    """Every layer's output shape, PyTorch-exact.

    One row per layer: name (dotted, as named_modules()), type, the arguments that
    matter, the inputs of merge layers, input and output shapes; the network's output
    and totals under the table. SPEC may be `-` for standard input.
    """
    _report("shape", specs, sets, input_shape, fmt, max_layers, depth)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@_DEPTH
def params(specs, sets, input_shape, fmt, max_layers, depth):
    """Parameters (weights and bias), trainable, buffers and share per layer.

    Totals and parameter memory (parameters x dtype size, in binary units: MiB = 2**20
    bytes) under the table. Buffers (batch-norm running statistics) are not parameters,
    as in PyTorch.
    """
    _report("params", specs, sets, input_shape, fmt, max_layers, depth)


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.option(
    "--keys",
    "keys_only",
    is_flag=True,
    help="only the spec keys (name, from, repeat, when, share, ...) with examples",
)
@click.argument("names", nargs=-1, metavar="[TYPE|KEY...]")
def layers(fmt, keys_only, names):
    """Every supported layer type with its arguments and PyTorch defaults, and the spec
    keys (name, from, repeat, when, share, block args/inputs/outputs...) with examples."""
    from ..catalog import catalog, key_entries, render_catalog

    entries = [] if keys_only and not names else catalog(names)
    if isinstance(entries, str):
        from ..render import printable

        raise click.BadParameter(printable(entries), param_hint="TYPE")
    keys = key_entries(names)
    if fmt == "json" and not names and not keys_only:
        keys = []  # `layers --format json` stays the list of types; --keys gives the keys
    click.echo(render_catalog(entries, fmt, table_width(), keys), nl=False)


COMMANDS = (shape, params, layers)
