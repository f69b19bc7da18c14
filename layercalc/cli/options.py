"""The options shared by the spec commands, as data, and their conversions. No click here.

click builds its options from this table (layercalc.cli.common), and the start-up path
that answers `shape`/`params` before click is imported (layercalc.cli.entry) parses
with the same table, so the two cannot drift apart. Conversions raise ValueError with
the message the user sees.
"""

from __future__ import annotations

from collections import namedtuple

from ..render import FORMATS  # noqa: F401  (the format names: layercalc.render.RENDERERS)


class Option(
    namedtuple(
        "Option",
        "flag dest kind default metavar help multiple minimum",
        defaults=(None, False, None),
    )
):
    """One option: ``kind`` is "sets", "input", "format" (choices per command) or "int>=N"
    (an int of at least N, ``minimum``). Every kind but "format" is converted by its
    CONVERT entry, on both paths alike: an int is written in the ASCII digits 0-9 and
    nothing else (click's IntRange took "５", "٣", "+5" or "1_000", and Python's int()
    raises beyond 4300 digits)."""

    __slots__ = ()


SETS = Option(
    "--set", "sets", "sets", (), "NAME=VALUE", "override a var (repeatable)", multiple=True
)
INPUT = Option(
    "--input",
    "input_shape",
    "input",
    (),
    "[NAME=]SIZES",
    "override the input shape, e.g. 1,3,128,128; NAME=1,10 for a named input (repeatable)",
    multiple=True,
)
FORMAT = Option("--format", "fmt", "format", "table", None, "output format")
# the int options' help ends as click's IntRange had it; their default is text, as given
# on the command line (an int would make click convert with its own INT first)
MAX_LAYERS = Option(
    "--max-layers",
    "max_layers",
    "int>=1",
    "100000",
    "INTEGER RANGE",
    "refuse specs expanding to more leaf layers  [default: 100000; x>=1]",
    minimum=1,
)
DEPTH = Option(
    "--depth",
    "depth",
    "int>=0",
    None,
    "INTEGER RANGE",
    "show N levels of blocks and groups: a group nested N deep is one row with "
    "its totals (0: one row per top-level entry)  [x>=0]",
    minimum=0,
)
WIDTH = Option(
    "--width",
    "width",
    "int>=40",
    None,
    "INTEGER RANGE",
    "fit tables to N columns (default: $COLUMNS, else the terminal's width, else 80)  [x>=40]",
    minimum=40,
)
SPEC_OPTIONS = (SETS, INPUT, FORMAT, MAX_LAYERS, WIDTH)  # every spec command takes these
# `check` on the start-up path: its own formats (human by default, github under GitHub
# Actions) and --strict; its other options (--disable, --weights, ...) go to click
STRICT = Option("--strict", "strict", "flag", False, None, "warnings fail the check too")
CHECK_OPTIONS = (
    SETS,
    INPUT,
    FORMAT._replace(kind="check-format", default=None),
    MAX_LAYERS,
    WIDTH,
    STRICT,
)


def parse_sets(values) -> dict:
    """--set NAME=VALUE strings -> {name: value} (later ones win)."""
    from ..spec import parse_set_value

    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        if not value.strip():
            raise ValueError(f"{name}= gives no value (e.g. {name}=64)")
        out[name] = parse_set_value(value.strip())
    return out


def is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9, at least one (str.isdigit also takes "５", "٣", "²")."""
    return text.isascii() and text.isdigit()


def parse_int(text, minimum: int = 0, maximum: int = 2**63 - 1):
    """An int option's text -> int: ASCII digits only, within [minimum, maximum]; None
    (no default) passes as it is."""
    if text is None:
        return None
    if not is_digits(text):
        raise ValueError(f"expected a whole number written with the digits 0-9, got {text!r}")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        raise ValueError(f"{_shown(text)} is beyond the largest value, {maximum}")
    if int(digits) < minimum:
        raise ValueError(f"{int(digits)} is not in the range x>={minimum}")
    return int(digits)


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]}...({len(text)} digits)"


def parse_input(values):
    """--input texts ("1,3,128,128", "1x3x128x128", "[1, 3, 128, 128]", "NAME=1,10") -> None
    (none given), a shape (one unnamed: the first input), or {name or None: shape}."""
    if values is None or isinstance(values, str):
        values = () if values is None else (values,)
    out: dict = {}
    for text in values:
        name, sep, sizes = text.rpartition("=")
        name = name.strip() if sep else None
        if sep and not name.isidentifier():
            raise ValueError(f"expected NAME=SIZES with NAME an identifier, got {text!r}")
        if name in out:
            raise ValueError(
                f"--input {name}=... is given twice"
                if name
                else "--input without a name is given twice"
            )
        out[name] = _shape(sizes)
    if not out:
        return None
    if list(out) == [None]:
        return out[None]
    return out


def _shape(text: str) -> tuple:
    parts = text.replace("x", ",").replace(" ", "").strip("[]()").split(",")
    if not all(map(is_digits, parts)):
        raise ValueError(f"expected sizes like 1,3,128,128 (digits 0-9), got {text!r}")
    try:
        dims = tuple(parse_int(v, 1, 2**31 - 1) for v in parts)
    except ValueError:
        raise ValueError("sizes must be between 1 and 2**31 - 1") from None
    return dims


def _int_kind(minimum: int):
    def convert(text):
        return parse_int(text, minimum)

    return convert


# the conversions by Option.kind: click calls them back, the fast path runs them
CONVERT = {
    "sets": parse_sets,
    "input": parse_input,
    **{o.kind: _int_kind(o.minimum) for o in (MAX_LAYERS, DEPTH, WIDTH)},
}
