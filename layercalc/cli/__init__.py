"""The `layercalc` command: a click group whose commands live one module each."""
from __future__ import annotations

import click

from .. import __version__
from .common import LANGUAGE_HELP

COMMAND_MODULES = ("shape", "verify", "check", "insight")


class Group(click.Group):
    def format_epilog(self, ctx, formatter):
        with formatter.section("The spec language (full reference: README.md)"):
            formatter.write(LANGUAGE_HELP)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"],
                                          "max_content_width": 100})
@click.version_option(__version__, prog_name="layercalc")
def main():
    """PyTorch-exact shapes, parameters, compute and memory of a network described in YAML.

    \b
      layercalc shape specs/dcgan_discriminator.yaml    every layer's output shape
      layercalc params specs/dcgan_discriminator.yaml   parameters, buffers, memory
      layercalc verify specs/dcgan_generator.yaml       a real NumPy forward pass, checked
      layercalc check specs/*.yaml                      CI gate on architecture files
      layercalc layers                                  every supported layer type

    Exit codes: 0 success, 1 a spec is invalid or fails a check, 2 usage error.
    """


def _register():
    import importlib

    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        for cmd in getattr(mod, "COMMANDS", ()):
            main.add_command(cmd)


_register()
