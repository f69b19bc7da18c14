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

from collections.abc import Sequence
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


class LazyRows(Sequence):
    """Rows made one at a time as a renderer reads them, from per-layer ``items`` by
    ``make`` (none of them ``keep``): a terminal shows 400 rows of 100,000 layers
    (layercalc.render.cut), and only those are made. Each read makes its row again."""

    __slots__ = ("items", "make")

    def __init__(self, items: list, make):
        self.items = items
        self.make = make

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.make(x) for x in self.items[i]]
        return self.make(self.items[i])


class Table:
    """A view's table. (A plain slotted class, not a dataclass: ``dataclasses`` imports
    ``inspect`` and ``ast``, ~20 ms of every start-up.)

    title, caption (the file a table is about), columns and rows (each may be a function
    making it: called only when a renderer reads it; rows may be LazyRows), footer (the
    totals row),
    notes (lines under the table), status ("passed" or "failed": the notes' colour),
    payload (the JSON value, SPEC.md section 7 for shape and params, or a function
    making it: computed only when the JSON renderer asks), records (CSV: header, rows of
    plain values, or a function making them: called only when the CSV renderer asks),
    sections (a document instead of rows: (heading, first line, body) triples, the
    body a tuple of lines that sections may share, drawn once), tree
    (name cells are indented by their row's level), limit (rows a terminal shows before
    it cuts), error (an invalid spec: only its JSON payload is rendered), lead (lines
    above the table, a summary), details (Markdown: the table folded under <details>,
    this its summary), annotations ((file, line or None, message[, level]), level
    "error" or, by default, a notice)."""

    FIELDS = (
        "title",
        "caption",
        "columns",
        "rows",
        "footer",
        "notes",
        "status",
        "payload",
        "records",
        "sections",
        "tree",
        "limit",
        "error",
        "lead",
        "details",
        "annotations",
    )
    # rows and columns may be functions (see the properties below): stored under _NAME
    __slots__ = tuple(f"_{f}" if f in ("columns", "rows") else f for f in FIELDS)

    def __init__(
        self,
        title: object = None,
        caption: object = None,
        columns: list | None = None,
        rows: list | None = None,
        footer: tuple | None = None,
        notes: list | None = None,
        status: str = "",
        payload: object = None,
        records: tuple | None = None,
        sections: list | None = None,
        tree: bool = False,
        limit: int | None = MAX_ROWS,
        error: bool = False,
        lead: list | None = None,
        details: object = None,
        annotations: list | None = None,
    ):
        self.title = title
        self.caption = caption
        self._columns = [] if columns is None else columns
        self._rows = [] if rows is None else rows
        self.footer = footer
        self.notes = [] if notes is None else notes
        self.status = status
        self.payload = payload
        self.records = records
        self.sections = sections
        self.tree = tree
        self.limit = limit
        self.error = error
        self.lead = [] if lead is None else lead
        self.details = details
        self.annotations = [] if annotations is None else annotations

    @property
    def columns(self) -> list:
        """The columns; given as a function, made when a renderer first asks."""
        if callable(self._columns):
            self._columns = self._columns()
        return self._columns

    @columns.setter
    def columns(self, value) -> None:
        self._columns = value

    @property
    def rows(self) -> list:
        """The rows; given as a function, made when a renderer first asks (JSON never
        does: 100,000 layers' rows were 73 MB that `shape --format json` threw away)."""
        if callable(self._rows):
            self._rows = self._rows()
        return self._rows

    @rows.setter
    def rows(self, value) -> None:
        self._rows = value

    def _fields(self) -> tuple:
        return tuple(getattr(self, k) for k in self.FIELDS)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None

    def __repr__(self):
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS)
        return f"Table({inner})"
