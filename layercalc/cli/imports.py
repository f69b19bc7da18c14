"""`layercalc import torch|onnx|hf ...`: a spec from an existing model. Each source is
a subcommand in its own module (layercalc.cli.import_torch, import_onnx, import_hf),
imported only when it runs; they share the checks of -o, the error form and the
writing of the spec here."""

from __future__ import annotations

import importlib
import importlib.util

import click

SOURCES = {"torch": "import_torch", "onnx": "import_onnx", "hf": "import_hf"}

# every source's -o
SPEC_OUTPUT = click.option(
    "-o",
    "--output",
    "output",
    metavar="SPEC.yaml",
    default=None,
    help="write the spec to this file (atomically) instead of standard output",
)


class _Sources(click.Group):
    def format_commands(self, ctx, formatter):
        from .common import format_commands

        format_commands(self, ctx, formatter)

    def list_commands(self, ctx):
        return [n for n, m in SOURCES.items() if _exists(m)]

    def get_command(self, ctx, name):
        module = SOURCES.get(name)
        if module is None or not _exists(module):
            return None
        return importlib.import_module(f"{__package__}.{module}").COMMAND

    def resolve_command(self, ctx, args):
        from .common import resolve_known

        return resolve_known(self, ctx, args)

    def invoke(self, ctx):
        status = super().invoke(ctx)
        if isinstance(status, int) and not isinstance(status, bool):
            ctx.exit(status)
        return status


def fail(message: str, hint: str | None = None, problems=()) -> int:
    """An import's error on standard error, the exit status 1. Names and messages come
    from the user's files and modules, so every line is escaped; ``problems`` (one line
    each: what could not be expressed, and why) mean nothing was written."""
    from ..text import printable

    click.echo(f"error: {printable(message)}", err=True)
    for line in problems:
        click.echo(f"  {printable(line)}", err=True)
    if hint:
        click.echo(f"    hint: {printable(hint)}", err=True)
    if problems:
        click.echo("nothing was written", err=True)
    return 1


def check_output(output, source: str | None = None, what: str = "") -> int | None:
    """``-o`` checked before any conversion: a target that cannot be written, or the
    file being imported itself, is refused (1); None when it may be written."""
    from ..outfile import OutputError, check_target, refuse_input

    if output is None or output == "-":
        return None
    try:
        _, st = check_target(output)
        if source is not None:
            refuse_input(output, st, source, "imported", "model.yaml", what)
    except OutputError as exc:
        return fail(str(exc), exc.hint)
    return None


def write_spec(output, text: str) -> int:
    """An imported spec to standard output (no -o, or -) or to ``output``, replaced
    atomically; the exit status. Every import source ends here."""
    from ..outfile import OutputError, write_atomic
    from ..text import printable

    if output is None or output == "-":
        click.echo(text, nl=False)
        return 0
    try:
        write_atomic(output, lambda fh: fh.write(text.encode("utf-8")), suffix=".yaml")
    except OutputError as exc:
        return fail(str(exc), exc.hint)
    click.echo(f"wrote {printable(output)}", err=True)
    return 0


def _exists(module: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.{module}") is not None


@click.group("import", cls=_Sources)
def import_group():
    """Write a spec from an existing model: a PyTorch module, an ONNX file or a
    Hugging Face config.json.

    \b
      layercalc import torch torchvision.models:resnet50 --input 1,3,224,224
      layercalc import onnx model.onnx -o model.yaml
      layercalc import hf config.json -o model.yaml
    """


COMMANDS = (import_group,)
