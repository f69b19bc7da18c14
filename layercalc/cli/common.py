"""Options and plumbing shared by the commands: spec loading, diagnostics, output."""
from __future__ import annotations

import os
import sys

import click

FORMATS = ("table", "json", "markdown", "csv")  # the renderers of layercalc.render

LANGUAGE_HELP = """\
A spec is a YAML mapping:

\b
  name: DCGAN discriminator          # title (default: the file name)
  vars: {nc: 3, ndf: 64}             # names usable in expressions
  input: [1, nc, 64, 64]             # full input shape, batch first
  dtype: float32                     # float32 float16 bfloat16 float64 int8
  layers:                            # the network, in order
    - conv2d: {out_channels: ndf, kernel_size: 4, stride: 2, padding: 1, bias: false}
    - leaky_relu: {negative_slope: 0.2}
    - {type: conv2d, out_channels: ndf * 2, kernel_size: 4, stride: 2, padding: 1}
    - batch_norm2d                   # a bare name: all defaults
  blocks: {...}                      # reusable sub-networks with args
  outputs: [name, ...]               # default: the last layer
  expect: {output: [1, 1, 1, 1], params: 2765568, max_macs: 200M}

\b
Type names are PyTorch's (Conv2d, conv2d, ConvTranspose2d, batch_norm2d...), compared
ignoring case and underscores; `layercalc layers` lists them with their arguments.
Values may be expressions over vars: + - * / // % **, parentheses, min max abs floor
ceil round. Meta keys on any entry: name, from (name or list; `input` is the list's
input), repeat (apply N times; copies named NAME.0 ...), trainable: false.
Merges: add, mul (broadcast), concat/cat (dim, batch = 0)."""


def parse_sets(values) -> dict:
    from ..spec import parse_set_value

    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        out[name] = parse_set_value(value.strip())
    return out


def parse_input(text):
    if text is None:
        return None
    try:
        dims = tuple(int(v) for v in text.replace("x", ",").replace(" ", "").strip("[]()").split(","))
    except ValueError:
        raise click.BadParameter(f"expected sizes like 1,3,128,128, got {text!r}",
                                 param_hint="--input") from None
    if not dims or any(d < 1 or d > 2**31 - 1 for d in dims):
        raise click.BadParameter("sizes must be between 1 and 2**31 - 1", param_hint="--input")
    return dims


def spec_options(formats=FORMATS, default="table"):
    """--set, --input, --format and --max-layers, shared by the commands."""
    def decorate(f):
        f = click.option("--max-layers", type=click.IntRange(1), default=100_000,
                         show_default=True,
                         help="refuse specs expanding to more leaf layers")(f)
        f = click.option("--format", "fmt", type=click.Choice(formats), default=default,
                         show_default=True, help="output format")(f)
        f = click.option("--input", "input_shape", metavar="SIZES",
                         help="override the input shape, e.g. 1,3,128,128")(f)
        f = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                         help="override a var (repeatable)")(f)
        return f
    return decorate


def load_all(specs, sets, input_shape, max_layers):
    from ..analyse import analyse
    from ..spec import Limits

    overrides = parse_sets(sets)
    shape = parse_input(input_shape)
    limits = Limits(max_layers=max_layers)
    return [analyse(p, overrides, shape, limits) for p in specs]


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def table_width():
    if sys.stdout.isatty():
        return None
    try:
        return max(60, int(os.environ.get("COLUMNS", "120")))
    except ValueError:
        return 120


def format_diagnostic(d) -> str:
    line = f"{d.location()}: {d.severity}[{d.code}]: {d.message}"
    if d.hint:
        line += f"\n    hint: {d.hint}"
    return line


def echo_diagnostics(results, err=True):
    for r in results:
        for d in r.diagnostics:
            click.echo(format_diagnostic(d), err=err)


def exit_code(results) -> int:
    return 0 if all(r.ok for r in results) else 1
