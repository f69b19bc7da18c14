"""A fast box table in rich's look (heavy head, light body), drawn by rich on terminals.

rich's Table measures every cell through its renderables, about 1 ms a row, which is
most of the run time on a ResNet-50. The rows here are plain strings, so the layout is
computed directly; colour, when wanted, is applied by printing a styled rich Text.
"""

from __future__ import annotations

import io
import re
import textwrap

from .text import cells


# Fitting a table to the width (issue 15): first wrap the wrapping columns (Arguments,
# From, notes) down to their longest word, then write shapes compactly ("1x64x56x56" for
# "[1, 64, 56, 56]"), then drop columns by priority (the highest first: Input before
# Arguments before Type) and say which, then fold layer names at their dots. A column of
# priority 0 is never dropped.
_SHAPE = re.compile(r"\[(-?\d+(?:, -?\d+)*)?\]")


def compact_shapes(text: str) -> str:
    """'[1, 64, 56, 56]' -> '1x64x56x56' ('[]', a 0-d shape, stays), in any cell text.

    >>> compact_shapes("output: [10, 2, 16]")
    'output: 10x2x16'
    """
    return _SHAPE.sub(lambda m: m.group(1).replace(", ", "x") if m.group(1) else "[]", text)


# Widths are character cells, as a terminal draws them (text.cells: East Asian wide
# characters take two, combining marks none), so a border stays in its column whatever
# the script of a name; ASCII text, nearly all of it, is measured by len().


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cells(text)


def _pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (on the left when ``right``)."""
    gap = " " * (width - _cells(text))
    return gap + text if right else text + gap


def _split_cells(text: str, width: int) -> list[str]:
    """``text`` cut into pieces of at most ``width`` cells (a wide character that does not
    fit a width of one is a piece of its own)."""
    if _cells(text) <= width:
        return [text]
    out, cur, n = [], "", 0
    for c in text:
        w = cells(c)
        if cur and n + w > width:
            out.append(cur)
            cur, n = "", 0
        cur += c
        n += w
    if cur:
        out.append(cur)
    return out


def _wrap(text: str, width: int, **kw) -> list[str]:
    """textwrap.wrap (which counts characters), each line then cut to ``width`` cells."""
    lines = textwrap.wrap(text, width, **kw)
    if text.isascii():
        return lines
    return [p for line in lines for p in _split_cells(line, width)]


def _fold_name(name: str, width: int) -> list[str]:
    """A dotted layer name split after dots into lines of at most ``width`` cells (a part
    longer than that is cut), indentation kept on the first line only."""
    if _cells(name) <= width:
        return [name]
    parts = re.findall(r"[^.]*\.|[^.]+$", name)
    lines, cur = [], ""
    for part in parts:
        if _cells(part) > width:
            if cur:
                lines.append(cur)
                cur = ""
            *whole, part = _split_cells(part, width)
            lines += whole
        if _cells(cur) + _cells(part) > width:
            lines.append(cur)
            cur = part
        else:
            cur += part
    if cur:
        lines.append(cur)
    return lines


class BoxTable:
    def __init__(self, title: str | None = None, caption: str | None = None):
        self.title = title
        self.caption = caption
        # header, numeric, wrap, priority (0: always shown; higher: dropped sooner),
        # shape (cells hold shapes, written compactly when space is short), fold (a layer
        # name, folded at its dots last)
        self.columns: list[tuple] = []
        # (cells, styles); None for a section line; a str for a note across every
        # column (what a cut stands for), which no column's width depends on
        self.rows: list = []
        self.hidden: list[str] = []  # the headers the last layout left out
        self.compact = False

    def add_column(
        self,
        header: str,
        numeric: bool = False,
        wrap: bool = False,
        priority: int = 0,
        shape: bool = False,
        fold: bool = False,
    ):
        self.columns.append((header, numeric, wrap, priority, shape, fold))

    def add_row(self, cells, style: str = "", styles=None):
        self.rows.append(
            ([str(c) for c in cells], list(styles) if styles else [style] * len(cells))
        )

    def add_section(self):
        self.rows.append(None)

    def add_note(self, text: str):
        """A row of one cell spanning the table (drawn dim), wrapped to its width."""
        self.rows.append(str(text))

    # -- layout --------------------------------------------------------------------
    def _natural(self, shown: list[int]) -> dict:
        widths = {i: _cells(self.columns[i][0]) for i in shown}
        for row in self.rows:
            if row is None or type(row) is str:
                continue
            for i in shown:
                for part in self._text(i, row[0][i]).split("\n"):
                    n = len(part) if part.isascii() else cells(part)
                    if n > widths[i]:
                        widths[i] = n
        return widths

    def _text(self, i: int, cell: str) -> str:
        return compact_shapes(cell) if self.compact and self.columns[i][4] else cell

    @staticmethod
    def _total(widths: dict) -> int:
        return sum(widths.values()) + 3 * len(widths) + 1

    def _squeeze(self, widths: dict, max_width: int, which, floor: int = 12) -> dict:
        """Narrow the columns ``which`` selects towards their floors until the table fits."""
        total = self._total(widths)
        cols = [i for i in widths if which(i)]
        floors = {}
        for i in cols:
            if self.columns[i][5]:  # a folded name: at least ``floor`` characters
                floors[i] = max(floor, _cells(self.columns[i][0]))
            else:
                floors[i] = max(
                    [10, _cells(self.columns[i][0])]
                    + [
                        _cells(w)
                        for row in self.rows
                        if row is not None and type(row) is not str
                        for w in self._text(i, row[0][i]).split()
                    ]
                )  # never split a word
        while total > max_width and cols:
            i = max(cols, key=lambda j: widths[j])
            if widths[i] <= floors[i]:
                cols.remove(i)
                continue
            cut = min(widths[i] - floors[i], total - max_width)
            widths[i] -= cut
            total -= cut
        return widths

    def _fit(self, shown: list[int], max_width: int) -> dict | None:
        """Widths of the columns ``shown`` within ``max_width`` after wrapping the text
        columns and folding names down to 20 characters, or None."""
        widths = self._squeeze(self._natural(shown), max_width, lambda i: self.columns[i][2])
        if self._total(widths) <= max_width:
            return widths
        folded = self._squeeze(dict(widths), max_width, lambda i: self.columns[i][5], floor=20)
        return folded if self._total(folded) <= max_width else None

    def _widths(self, max_width: int) -> dict:
        """Column index -> width for the columns shown, in the order of the steps above;
        a column left out that fits again once later ones are gone comes back (the
        least droppable first)."""
        self.compact = False
        shown = list(range(len(self.columns)))
        dropped: list[int] = []
        while True:
            widths = self._fit(shown, max_width)
            if widths is not None:
                break
            if not self.compact and any(self.columns[i][4] for i in shown):
                self.compact = True
                continue
            droppable = [i for i in shown if self.columns[i][3] > 0]
            if not droppable:
                widths = self._squeeze(
                    self._squeeze(self._natural(shown), max_width, lambda i: self.columns[i][2]),
                    max_width,
                    lambda i: self.columns[i][5],
                )
                break
            worst = max(droppable, key=lambda i: (self.columns[i][3], i))
            shown.remove(worst)
            dropped.append(worst)
        if self._total(widths) <= max_width:
            for i in reversed(dropped[:-1]):  # the last one left out made room: not it
                again = self._fit(sorted(shown + [i]), max_width)
                if again is not None:
                    shown = sorted(shown + [i])
                    widths = again
                    dropped.remove(i)
        self.hidden = [self.columns[i][0] or "mark" for i in dropped]
        return widths

    def segments(self, max_width: int = 120) -> list[list[tuple[str, str]]]:
        """Lines of (text, style) segments, at most ``max_width`` characters wide when
        the columns that cannot be dropped allow it; the last line names the columns
        left out."""
        widths = self._widths(max_width)
        shown = list(widths)
        total = self._total(widths)
        out: list[list[tuple[str, str]]] = []

        def rule(left, mid, right, fill):
            return [(left + mid.join(fill * (widths[i] + 2) for i in shown) + right, "")]

        if self.title:  # centred over the table, wrapped to the width when longer
            for part in fit_lines([self.title], max_width, indent=""):
                gap = max(min(total, max_width) - _cells(part), 0)
                out.append([((" " * (gap // 2) + part).rstrip(), "bold")])
        out.append(rule("┏", "┳", "┓", "━"))
        line = [("┃", "")]
        for i in shown:
            h, numeric = self.columns[i][0], self.columns[i][1]
            w = widths[i]
            line += [(" ", ""), (_pad(h, w, numeric), "bold"), (" ┃", "")]
        out.append(line)
        out.append(rule("┡", "╇", "┩", "━"))
        for row in self.rows:
            if row is None:
                out.append(rule("├", "┼", "┤", "─"))
                continue
            if type(row) is str:  # a note across the columns
                inner = max(total - 4, 1)
                for part in _wrap(row, inner, break_on_hyphens=False) or [""]:
                    out.append([("│ ", ""), (_pad(part, inner), "dim"), (" │", "")])
                continue
            texts, styles = row
            parts = {}
            for i in shown:
                lines = self._text(i, texts[i]).split("\n")
                if self.columns[i][2]:
                    lines = [
                        p
                        for part in lines
                        for p in (
                            _wrap(part, widths[i], break_on_hyphens=False, break_long_words=False)
                            or [""]
                        )
                    ]
                elif self.columns[i][5]:
                    lines = [p for part in lines for p in _fold_indented(part, widths[i])]
                parts[i] = lines
            height = max(len(p) for p in parts.values())
            for k in range(height):
                line = [("│", "")]
                for i in shown:
                    p, w = parts[i], widths[i]
                    text = p[k] if k < len(p) else ""
                    text = _pad(text, w, self.columns[i][1])
                    line += [(" ", ""), (text, styles[i] if text.strip() else ""), (" │", "")]
                out.append(line)
        out.append(rule("└", "┴", "┘", "─"))
        if self.caption:
            out += [[(line, "dim")] for line in fit_lines([self.caption], max_width, indent="")]
        if self.hidden:
            note = (
                f"(not shown at {max_width} columns: {', '.join(self.hidden)}; "
                "--width N or $COLUMNS shows more)"
            )
            out += [[(line, "dim")] for line in fit_lines([note], max_width)]
        return out


def _fold_indented(text: str, width: int) -> list[str]:
    """A tree-indented name folded at its dots, the continuation lines indented as the
    first."""
    body = text.lstrip(" ")
    pad = text[: len(text) - len(body)]
    if _cells(text) > width:  # deep nesting: keep half the width for the name itself
        pad = pad[: width // 2]
    lines = _fold_name(body, max(1, width - len(pad)))
    return [pad + line for line in lines]


def render_lines(lines, color: bool) -> str:
    """Segments (and plain strings) to text; styled through rich when ``color``."""
    if not color:
        return "".join(
            (line if isinstance(line, str) else "".join(t for t, _ in line)) + "\n"
            for line in lines
        )
    from rich.console import Console
    from rich.text import Text

    text = Text()
    for line in lines:
        if isinstance(line, str):
            text.append(line)
        else:
            for t, style in line:
                text.append(t, style=style or None)
        text.append("\n")
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, highlight=False, emoji=False).print(
        text, soft_wrap=True, end=""
    )
    return buf.getvalue()


def fit_lines(lines, width: int, indent: str = "  ") -> list[str]:
    """Text lines (the summaries under a table) wrapped to ``width`` cells, continuation
    lines indented by ``indent``; a line that fits is kept as it is."""
    out = []
    for line in lines:
        if _cells(line) <= width:
            out.append(line)
        else:
            out += _wrap(
                line, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=True
            )
    return out
