"""`layercalc import torch ...` and `layercalc import onnx ...`: a spec from an existing
model. Each source is a subcommand in its own module (layercalc.cli.import_torch,
layercalc.cli.import_onnx), imported only when it runs."""

from __future__ import annotations

import importlib
import importlib.util

import click

SOURCES = {"torch": "import_torch", "onnx": "import_onnx", "hf": "import_hf"}


class _Sources(click.Group):
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


def write_spec(output, text: str) -> int:
    """An imported spec to standard output (no -o, or -) or to ``output``, replaced
    atomically; the exit status. Every import source ends here."""
    from ..outfile import OutputError, write_atomic

    if output is None or output == "-":
        click.echo(text, nl=False)
        return 0
    try:
        write_atomic(output, lambda fh: fh.write(text.encode("utf-8")), suffix=".yaml")
    except OutputError as exc:
        click.echo(f"error: {exc}\n    hint: {exc.hint}", err=True)
        return 1
    click.echo(f"wrote {output}", err=True)
    return 0


def _exists(module: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.{module}") is not None


@click.group("import", cls=_Sources)
def import_group():
    """Write a spec from an existing model: a PyTorch module or an ONNX file.

    \b
      layercalc import torch torchvision.models:resnet50 --input 1,3,224,224
      layercalc import onnx model.onnx -o model.yaml
    """


COMMANDS = (import_group,)
