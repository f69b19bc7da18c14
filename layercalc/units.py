"""Counts and byte sizes: one grammar to read them (``expect:`` bounds, ``--max-memory``)
and one way to write them (tables, notes, diagnostics).

Reading: ASCII digits (thousands may be grouped by commas, 1,000,000, or underscores,
1_000_000), an optional fraction (1.5, .5), an optional unit. Counts take K, M, G, T
(powers of 1000); sizes take B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers
of 1024), and refuse a bare K, M, G or T, which could mean either. Values are exact (no
float) and rounded down to a whole number; no sign, exponent, NaN or infinity. Long
inputs are refused before any arithmetic, so reading is bounded in time.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_VALUE = 2**63 - 1  # as every count layercalc computes (expr.MAX_ABS)
COUNT_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_QUANTITY = re.compile(
    r"\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+(?:_[0-9]+)*)(?:\.[0-9]*)?|\.[0-9]+)"
    r"\s*([A-Za-z]*)\s*",
    flags=re.ASCII,
)
MAX_DIGITS = 20  # whole digits: more is beyond MAX_VALUE in any unit
MAX_DECIMALS = 30  # exact to the byte even in TiB; more would only slow Fraction down


class QuantityError(ValueError):
    """A count or size that cannot be read; the message says what was expected."""


def is_quantity(text: str) -> bool:
    """``text`` is written as a quantity (a number with an optional unit, known or not),
    not as an expression.

    >>> is_quantity("3M"), is_quantity("1.5 GiB"), is_quantity("nc * 2")
    (True, True, False)
    """
    return _QUANTITY.fullmatch(text) is not None


def parse_count(text: str, minimum: int = 0) -> int:
    """A count with an optional K/M/G/T suffix (powers of 1000), rounded down.

    >>> parse_count("3M"), parse_count("2.5k"), parse_count("1,000"), parse_count("1_000")
    (3000000, 2500, 1000, 1000)
    """
    return _parse(text, COUNT_UNITS, "a count such as 3M, 200K or 1.5G", minimum)


def parse_bytes(text: str, minimum: int = 0) -> int:
    """Bytes from a size: KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024.

    >>> parse_bytes("12MiB"), parse_bytes("1.5 KB"), parse_bytes("512"), parse_bytes(".5KiB")
    (12582912, 1500, 512, 512)
    >>> parse_bytes("1M")
    Traceback (most recent call last):
    ...
    layercalc.units.QuantityError: 'M' is not a memory unit in '1M'; write MB (powers of 1000) or MiB (powers of 1024)
    """
    return _parse(text, BYTE_UNITS, "a size such as 512MiB, 50MB or 2GiB", minimum)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _parse(text, units: dict, what: str, minimum: int) -> int:
    text = str(text)
    m = _QUANTITY.fullmatch(text)
    if m is None:
        raise QuantityError(f"expected {what}, got {_shown(text)}")
    digits, unit = m.groups()
    key = unit.lower()
    if key not in units:
        if units is BYTE_UNITS and key in COUNT_UNITS:
            raise QuantityError(
                f"'{unit}' is not a memory unit in {_shown(text)}; write {key.upper()}B "
                f"(powers of 1000) or {key.upper()}iB (powers of 1024)"
            )
        raise QuantityError(f"unknown unit '{unit}' in {_shown(text)}: expected {what}")
    whole, _, frac = digits.replace(",", "").replace("_", "").partition(".")
    if len(whole.lstrip("0")) > MAX_DIGITS:
        raise QuantityError(f"{_shown(text)} is beyond {MAX_VALUE:,}")
    value = int(Fraction(f"{whole or 0}.{frac[:MAX_DECIMALS] or 0}") * units[key])
    if value > MAX_VALUE:
        raise QuantityError(f"{_shown(text)} is beyond {MAX_VALUE:,}")
    if value < minimum:
        raise QuantityError(f"expected at least {minimum:,}, got {_shown(text)}")
    return value


def num(n: int) -> str:
    """A count with thousands separators: 1234567 -> '1,234,567'."""
    return f"{n:,}"


def counted(n: int, word: str) -> str:
    """A count and its noun, plural unless one: '1 attention call', '32 attention calls'."""
    return f"{num(n)} {word}" + ("" if n == 1 else "s")


def human_bytes(n: int) -> str:
    """Bytes in binary units, stated as such: 10,543,872 -> '10.06 MiB'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,} B"
