"""The `layercalc` click group; its commands live one module each, imported lazily."""

from __future__ import annotations

import sys

import click

from .. import __version__
from .common import LANGUAGE_HELP, format_commands

# command name -> module of layercalc.cli holding it (in its COMMANDS tuple). Only the
# module of the command being run is imported, so a command never pays for numpy, rich
# or the other commands it does not use.
LAZY_COMMANDS = {
    "shape": "shape",
    "params": "shape",
    "layers": "shape",
    "verify": "verify",
    "check": "check",
    "schema": "check",
    "cost": "insight",
    "rf": "insight",
    "explain": "insight",
    "solve": "insight",
    "help": "docs",
    "export": "export",
    "import": "imports",
    "diff": "diff",
    "draw": "draw",
}


def _module_exists(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__package__}.{module}") is not None


class Group(click.Group):
    def list_commands(self, ctx):
        return [n for n, m in LAZY_COMMANDS.items() if _module_exists(m)]

    def get_command(self, ctx, name):
        module = LAZY_COMMANDS.get(name)
        if module is None or not _module_exists(module):
            return None
        import importlib

        mod = importlib.import_module(f"{__package__}.{module}")
        return next((c for c in mod.COMMANDS if c.name == name), None)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, with every usage error's text escaped before it is shown: click
        quotes a bad value with repr(), which leaves characters drawn as nothing (and
        bidi controls) raw, and the value comes from the command line."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            from ..text import printable

            exc.message = "\n".join(map(printable, str(exc.message).split("\n")))
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)

    def resolve_command(self, ctx, args):
        from .common import resolve_known

        return resolve_known(self, ctx, args)

    def invoke(self, ctx):
        """Run the command; the status it returns is the exit status (commands return it
        rather than exit, so this is the one place a click run exits from)."""
        status = super().invoke(ctx)
        if isinstance(status, int) and not isinstance(status, bool):
            ctx.exit(status)
        return status

    def format_commands(self, ctx, formatter):
        format_commands(self, ctx, formatter)

    def format_epilog(self, ctx, formatter):
        from click.formatting import wrap_text

        with formatter.section("The spec language"):
            indent = " " * formatter.current_indent
            formatter.write(
                wrap_text(
                    LANGUAGE_HELP,
                    formatter.width - formatter.current_indent,
                    initial_indent=indent,
                    subsequent_indent=indent,
                    preserve_paragraphs=True,
                )
                + "\n"
            )


@click.group(
    cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="layercalc")
def main():
    """PyTorch-exact shapes, parameters, compute and memory of a network described in YAML.

    \b
      layercalc shape SPEC      every layer's output shape
      layercalc params SPEC     parameters, buffers, memory
      layercalc verify SPEC     a real NumPy forward pass, checked
      layercalc check FILES     CI gate on architecture files
      layercalc layers          every supported layer type
      layercalc help [TOPIC]    the language reference and other topics

    Exit codes: 0 success, 1 a spec is invalid or fails a check, 2 usage error.
    """
