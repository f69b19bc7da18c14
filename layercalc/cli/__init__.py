"""The command line. ``layercalc.cli.entry.main`` is the executable; ``main`` here is the
click group (layercalc.cli.app), loaded on first use so that importing this package
does not import click."""


def __getattr__(name):
    if name == "main":
        from .app import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
