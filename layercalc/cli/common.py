"""What the click commands share: their options (built from layercalc.cli.options), the
language summary of --help, and diagnostics to stderr."""

from __future__ import annotations

import os

import click

from ..render import FORMATS
from .options import CONVERT, SPEC_OPTIONS, Option, parse_int
from .run import format_diagnostic

LANGUAGE_HELP = """\
A spec is a YAML mapping:

\b
  name: DCGAN discriminator          # title (default: the file name)
  vars: {nc: 3, ndf: 64}             # names usable in expressions
  input: [1, nc, 64, 64]             # full input shape, batch first
  dtype: float32                     # float32 float16 bfloat16 float64 int8
  layers:                            # the network, in order
    - conv2d: {out_channels: ndf, kernel_size: 4, stride: 2,
               padding: 1, bias: false}
    - leaky_relu: {negative_slope: 0.2}
    - {type: conv2d, out_channels: ndf * 2, kernel_size: 4}
    - batch_norm2d                   # a bare name: all defaults
  blocks: {...}                      # reusable sub-networks with args
  outputs: [name, ...]               # default: the last layer
  expect: {output: [1, 1, 1, 1], params: 2765568}

Type names are PyTorch's (Conv2d, conv2d, ConvTranspose2d, batch_norm2d...), compared
ignoring case and underscores; `layercalc layers` lists them with their arguments.
Values may be expressions over vars: + - * / // % **, parentheses, min max abs floor
ceil round, comparisons, and/or/not, A if C else B. Meta keys on any entry: name, from
(name or list; `input` is the list's input; dotted paths reach into groups), repeat (N
times, or {times: N, as: j, chain: OUTPUT}; unnamed copies continue the list's
numbering, named ones are NAME.0 ...), when (keep the entry when non-zero), trainable:
false, tie: {weight: KEY} (one tensor under two state_dict keys), torch_name (the
module's PyTorch name where the language reserves it: output); names may hold
{expressions}; in_shape(i) and input_shape(i) read shapes.
`- share: NAME` calls an earlier module again. Blocks take args (layer-valued too: act:
relu, norm: none), inputs: [...], outputs: [...], and may use themselves under `when`.
input: may map names to shapes. Merges: add, mul (broadcast, or one input and other:
NUMBER), sub, div, concat/cat (dim, batch = 0). `layercalc layers --keys` explains every
key with an example; `layercalc help spec` is the full reference."""


class Digits(click.ParamType):
    """An int option written with the digits 0-9 only, within [minimum, maximum] (click's
    IntRange took "٣", "５" and "+5"); shown in help as click shows an IntRange."""

    name = "integer range"

    def __init__(self, minimum: int = 0, maximum: int = 2**63 - 1):
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        try:
            return parse_int(str(value), self.minimum, self.maximum)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)

    def __repr__(self):
        return f"Digits({self.minimum}, {self.maximum})"


def _converter(kind: str):
    """A click callback running one of the conversions of layercalc.cli.options."""
    convert = CONVERT[kind]

    def callback(ctx, param, value):
        try:
            return convert(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def click_option(o: Option, formats=FORMATS, default=None):
    """The click decorator of an option of layercalc.cli.options (``formats`` and
    ``default`` for --format, whose choices differ per command)."""
    kw = {"help": o.help, "metavar": o.metavar, "multiple": o.multiple}
    if o.kind == "format":
        kw.update(type=click.Choice(formats), default=default, show_default=True)
    elif o.kind == "int":
        kw.update(
            type=click.IntRange(o.minimum), default=o.default, show_default=o.default is not None
        )
    else:
        kw.update(default=o.default, callback=_converter(o.kind))
    return click.option(o.flag, o.dest, **kw)


def yaml_limit_options(f):
    """--max-yaml-depth and --max-alias-uses (SPEC.md section 8: "each changeable by an
    option"): they set this run's layercalc.spec.YAML_LIMITS, which every Limits() starts
    from. Click only: the start-up path declines an option it does not know."""

    def setter(key):
        def store(ctx, param, value):  # called for every run: None resets the default
            from ..spec import YAML_DEFAULTS, YAML_LIMITS

            YAML_LIMITS[key] = YAML_DEFAULTS[key] if value is None else value
            # and the defaults again when the command ends: nothing later in this
            # process (a test, a library caller) reads this run's bound
            ctx.call_on_close(lambda: YAML_LIMITS.update(YAML_DEFAULTS))

        return store

    f = click.option(
        "--max-alias-uses",
        type=click.IntRange(1, 1000),
        default=None,
        expose_value=False,
        callback=setter("max_alias_uses"),
        help="let each YAML anchor be used by up to N aliases (each counts the values it "
        "stands for against the file's value budget)  [default: 1]",
    )(f)
    return click.option(
        "--max-yaml-depth",
        type=click.IntRange(1, 1000),  # libyaml stops flow nesting at 1,000 itself
        default=None,
        expose_value=False,
        callback=setter("max_depth"),
        help="refuse YAML nested deeper than N levels  [default: 100]",
    )(f)


def spec_options(formats=FORMATS, default="table", rows=True):
    """--set, --input, --format, --max-layers and --width, shared by the spec commands,
    and --full for those with per-layer ``rows``; --set and --input arrive converted (a
    dict of overrides, a shape or None)."""

    def decorate(f):
        f = yaml_limit_options(f)
        for o in reversed(SPEC_OPTIONS):
            f = click_option(o, formats, default)(f)
        if not rows:  # a command printing no table rows (check) has nothing to cut
            return f
        # click only: the start-up path declines an option it does not know
        return click.option(
            "--full",
            is_flag=True,
            help="show every row (tables of more than 400 rows show their head and tail)",
        )(f)

    return decorate


def weights_options(purpose: str):
    """--weights FILE (``purpose``: its help, what the command does with the checkpoint),
    --strip-prefix and --add-prefix: `check` and `verify` read checkpoints alike
    (layercalc.weights)."""

    def decorate(f):
        f = click.option(
            "--add-prefix", "add_prefix", default=None, metavar="P",
            help="put P in front of the checkpoint's keys",
        )(f)  # fmt: skip
        f = click.option(
            "--strip-prefix", "strip_prefix", default=None, metavar="P",
            help="remove P from the front of the checkpoint's keys (module., model.)",
        )(f)  # fmt: skip
        return click.option(
            "--weights", type=click.Path(), multiple=True, metavar="FILE|DIR",
            callback=_one_checkpoint, help=purpose,
        )(f)  # fmt: skip

    return decorate


def _one_checkpoint(ctx, param, value):
    """--weights given once or not at all: a second one is refused, not silently kept
    in place of the first."""
    if len(value) > 1:
        raise click.BadParameter(
            f"given {len(value)} times: one checkpoint per run (a sharded one through "
            "its .index.json, which names every shard)"
        )
    if value and os.path.isdir(value[0]):  # a downloaded model's directory
        return _checkpoint_in(value[0])
    return value[0] if value else None


# what a model directory's checkpoint is called, in the order it is looked for (Hugging
# Face's save_pretrained: sharded, then single; safetensors, then PyTorch's pickle)
CHECKPOINT_NAMES = (
    "model.safetensors.index.json",
    "model.safetensors",
    "pytorch_model.bin.index.json",
    "pytorch_model.bin",
)


def _checkpoint_in(directory: str) -> str:
    for name in CHECKPOINT_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    from ..text import printable

    raise click.BadParameter(
        f"the directory {printable(directory)} holds no {', '.join(CHECKPOINT_NAMES)}: "
        "give the checkpoint file"
    )


def prefixes_need_weights(weights, strip_prefix, add_prefix) -> None:
    if (strip_prefix or add_prefix) and weights is None:
        raise click.UsageError(
            "--strip-prefix and --add-prefix rename --weights keys: give --weights"
        )


def resolve_known(group, ctx, args):
    """click.Group.resolve_command, with an unknown command name escaped (it comes from
    the command line: click's own message would print it raw) and a suggestion."""
    from ..errors import did_you_mean
    from ..text import printable

    name = args[0] if args else ""
    if name and not name.startswith("-") and group.get_command(ctx, name) is None:
        known = group.list_commands(ctx)
        hint = did_you_mean(name, known) or "commands: " + ", ".join(known)
        raise click.UsageError(printable(f"no such command '{name}' ({hint})"), ctx)
    return click.Group.resolve_command(group, ctx, args)


def emit(outcome) -> int:
    """Print a command's Outcome (layercalc.cli.run): diagnostics on standard error, then
    its output; returns its exit status for the group to exit with."""
    for line in outcome.err:
        click.echo(line, err=True)
    if outcome.out:
        click.echo(outcome.out, nl=False)
    return outcome.code


def echo_diagnostics(results, err=True):
    for r in results:
        for d in r.diagnostics:
            click.echo(format_diagnostic(d), err=err)


def format_commands(group, ctx, formatter) -> None:
    """A group's commands, each with its first sentence whole and wrapped under itself
    (click cuts it with "..." to fit one line)."""
    rows = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is not None and not cmd.hidden:
            rows.append((name, cmd.get_short_help_str(limit=200)))
    if rows:
        with formatter.section("Commands"):
            formatter.write_dl(rows)
