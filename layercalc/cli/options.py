"""The options shared by the spec commands, as data, and their conversions. No click here.

click builds its options from this table (layercalc.cli.common), and the start-up path
that answers `shape`/`params` before click is imported (layercalc.cli.entry) parses
with the same table, so the two cannot drift apart. Conversions raise ValueError with
the message the user sees.
"""
from __future__ import annotations

from collections import namedtuple

FORMATS = ("table", "json", "markdown", "csv")  # the renderers of layercalc.render


class Option(namedtuple("Option", "flag dest kind default metavar help multiple minimum",
                        defaults=(None, False, None))):
    """One option: ``kind`` is "sets", "input", "format" (choices per command) or "int"
    (at least ``minimum``)."""

    __slots__ = ()


SETS = Option("--set", "sets", "sets", (), "NAME=VALUE", "override a var (repeatable)",
              multiple=True)
INPUT = Option("--input", "input_shape", "input", None, "SIZES",
               "override the input shape, e.g. 1,3,128,128")
FORMAT = Option("--format", "fmt", "format", "table", None, "output format")
MAX_LAYERS = Option("--max-layers", "max_layers", "int", 100_000, None,
                    "refuse specs expanding to more leaf layers", minimum=1)
DEPTH = Option("--depth", "depth", "int", None, None,
               "collapse blocks and groups nested deeper than N into one row with their "
               "totals (0: one row per top-level entry)", minimum=0)
SPEC_OPTIONS = (SETS, INPUT, FORMAT, MAX_LAYERS)  # every spec command takes these


def parse_sets(values) -> dict:
    """--set NAME=VALUE strings -> {name: value} (later ones win)."""
    from ..spec import parse_set_value

    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        out[name] = parse_set_value(value.strip())
    return out


def parse_input(text):
    """--input text ("1,3,128,128", "1x3x128x128", "[1, 3, 128, 128]") -> a shape or None."""
    if text is None:
        return None
    try:
        dims = tuple(int(v) for v in
                     text.replace("x", ",").replace(" ", "").strip("[]()").split(","))
    except ValueError:
        raise ValueError(f"expected sizes like 1,3,128,128, got {text!r}") from None
    if not dims or any(d < 1 or d > 2**31 - 1 for d in dims):
        raise ValueError("sizes must be between 1 and 2**31 - 1")
    return dims


CONVERT = {"sets": parse_sets, "input": parse_input}  # the kinds click calls back for
