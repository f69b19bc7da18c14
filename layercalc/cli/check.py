"""`layercalc check` (the CI gate: expectations and lint rules) and `layercalc schema`."""

from __future__ import annotations

import json

import click

from .checking import FORMATS, execute_check, parse_codes
from .common import emit, prefixes_need_weights, spec_options, weights_options

MAX_INDENT = 16  # `schema --indent 100000` wrote a gigabyte of spaces


def _codes(values, option) -> list[str]:
    try:
        return parse_codes(values, option)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=option) from None


def render_rules() -> str:
    from ..analyses.lint import RULES

    import shutil
    import textwrap

    width = max(map(len, RULES))
    # summaries wrap under themselves to the terminal ($COLUMNS; 80 when piped)
    cols = max(shutil.get_terminal_size((80, 24)).columns, width + 32)
    return "".join(
        textwrap.fill(
            rule.summary,
            cols,
            initial_indent=f"{code:<{width}}  ",
            subsequent_indent=" " * (width + 2),
            break_on_hyphens=False,
        )
        + "\n"
        for code, rule in RULES.items()
    )


@click.command()
@click.argument("files", nargs=-1, metavar="FILE...")
@spec_options(formats=FORMATS, default=None, rows=False)
@click.option(
    "--disable",
    multiple=True,
    metavar="CODE",
    help="turn a lint rule off (repeatable, or comma-separated)",
)
@click.option(
    "--error",
    "promote",
    multiple=True,
    metavar="CODE",
    help="report a lint rule as an error (repeatable, or comma-separated)",
)
@click.option("--strict", is_flag=True, help="warnings fail the check too")
@click.option("--list-rules", is_flag=True, help="list the lint rules and exit")
@weights_options(
    "compare every state_dict key and shape with a checkpoint "
    "(.safetensors, .npz; .pt/.pth/.bin with torch)"
)
def check(
    files,
    sets,
    input_shape,
    fmt,
    max_layers,
    width,
    disable,
    promote,
    strict,
    list_rules,
    weights,
    strip_prefix,
    add_prefix,
):
    """Check spec files for CI: validity, `expect:` assertions and lint rules.

    FILE may be a spec, a directory (searched recursively for *.yaml and *.yml) or `-`
    for standard input. Every file is checked even when an earlier one fails.

    Formats: human (default, or table: each diagnostic as FILE:LINE:COL: severity:
    message [code] with its source line and hint), parsable (one a line), github
    (workflow annotations; the default when GITHUB_ACTIONS=true), json (SPEC section 7
    with `errors` and `warnings`), markdown (a table of the diagnostics, for a pull
    request comment), csv (a row per diagnostic, a row per file without any). Lint rules are warnings unless promoted, here or in the spec's `lint:`
    mapping (`lint: {bias-before-norm: off, stride-drops-input: error}`); the command
    line wins.

    --weights FILE compares the checkpoint's keys and shapes with each network's
    state_dict: weights-missing and weights-shape at the layer's line,
    weights-unexpected at the file.

    Exit codes: 0 every file passes, 1 any error (or warning, with --strict), 2 usage error.
    """
    if list_rules:
        click.echo(render_rules(), nl=False)
        return 0
    if not files:
        raise click.UsageError("give at least one FILE (a spec, a directory, or -)")
    off, err = _codes(disable, "--disable"), _codes(promote, "--error")
    both = sorted(set(off) & set(err))
    if both:
        raise click.BadParameter(
            f"'{both[0]}' is given to both --disable and --error", param_hint="--error"
        )
    levels = {**{c: "off" for c in off}, **{c: "error" for c in err}}
    prefixes_need_weights(weights, strip_prefix, add_prefix)
    values = {
        "sets": sets,
        "input_shape": input_shape,
        "fmt": fmt,
        "max_layers": max_layers,
        "strict": strict,
        "levels": levels,
        "weights": weights,
        "strip_prefix": strip_prefix,
        "add_prefix": add_prefix,
    }
    return emit(execute_check(files, values))


def _indent(ctx, param, value):
    from .options import parse_int

    try:  # the digits 0-9 only: click's IntRange took "２" and "+2"
        return parse_int(value, 0, MAX_INDENT)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--indent",
    default="2",
    callback=_indent,
    metavar="INTEGER RANGE",
    help=f"spaces per level (0: one line)  [default: 2; 0<=x<={MAX_INDENT}]",
)
def schema(indent):
    """Print the JSON Schema of the spec language, generated from the layer registry.

    Editors validate and complete specs with it; save it and add to a spec's first
    line:

    \b
      # yaml-language-server: $schema=layercalc.schema.json
    """
    from ..schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=indent or None))


COMMANDS = (check, schema)
