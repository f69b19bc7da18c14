"""The neutral table model: what every view produces and every renderer reads.

A view (layercalc.views) turns an analysis' numbers into a :class:`Table`: a title and a
caption, columns that say how they give way in a narrow terminal, rows with a depth and
a kind, a footer, notes, the JSON payload and the CSV records. A renderer
(layercalc.render.RENDERERS, the only list of format names) turns tables into text, so
no command formats anything itself.

Text in a cell, title or note is a ``str`` the tool wrote, a :class:`Spec` (text from a
spec or a file name, escaped by every renderer as its format needs) or a tuple of both
(a line that mixes them); layercalc.text has the escapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

MAX_ROWS = 400  # beyond this a terminal table shows its head and tail (--full: all)


class Spec(str):
    """Text that comes from a spec or a file name: untrusted, escaped when rendered."""

    __slots__ = ()


def plain(text) -> str:
    """A cell's text as written, its parts joined (no escaping)."""
    if isinstance(text, tuple):
        return "".join(map(str, text))
    return "" if text is None else str(text)


class Column(NamedTuple):
    """One column: its header, and how it gives way in a narrow terminal (priority 0 is
    always shown, higher priorities are left out sooner; ``wrap`` cells wrap at spaces;
    ``shape`` cells are written compactly, 1x64x56x56; ``name`` cells are layer names,
    indented by their row's level in a tree and folded at their dots)."""

    header: str
    numeric: bool = False
    priority: int = 0
    wrap: bool = False
    shape: bool = False
    name: bool = False


class Row(NamedTuple):
    """One row: its cells, its level in the tree of groups, and its kind: "layer",
    "group" (a header over its members), "collapsed" (a group shown as one row),
    "passed" or "failed" (a check). ``keep`` rows survive the cut of a long table."""

    cells: tuple
    level: int = 0
    kind: str = "layer"
    keep: bool = False


@dataclass
class Table:
    title: object = None
    caption: object = None  # the file a table is about
    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    footer: tuple | None = None  # the totals row
    notes: list = field(default_factory=list)  # lines under the table
    status: str = ""  # "passed" or "failed": the notes' colour
    # the JSON value (SPEC.md section 7 for shape and params), or a function making it:
    # computed only when the JSON renderer asks
    payload: object = None
    records: tuple | None = None  # CSV: (header, rows of plain values)
    sections: list | None = None  # a document instead of rows: (heading, lines) pairs
    tree: bool = False  # name cells are indented by their row's level
    limit: int | None = MAX_ROWS  # rows a terminal shows before it cuts
    error: bool = False  # an invalid spec: only its JSON payload is rendered
    lead: list = field(default_factory=list)  # lines above the table (a summary)
    details: object = None  # Markdown: the table folded under <details>, this its summary
    annotations: list = field(default_factory=list)  # (file, line or None, message)
