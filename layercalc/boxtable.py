"""A fast box table in rich's look (heavy head, light body), drawn by rich on terminals.

rich's Table measures every cell through its renderables, about 1 ms a row, which is
most of the run time on a ResNet-50. The rows here are plain strings, so the layout is
computed directly; colour, when wanted, is applied by printing a styled rich Text.
"""
from __future__ import annotations

import io
import textwrap


class BoxTable:
    def __init__(self, title: str | None = None, caption: str | None = None):
        self.title = title
        self.caption = caption
        self.columns: list[tuple[str, bool, bool]] = []  # header, numeric, wrap
        self.rows: list = []  # (cells, styles) or None for a section line

    def add_column(self, header: str, numeric: bool = False, wrap: bool = False):
        self.columns.append((header, numeric, wrap))

    def add_row(self, cells, style: str = "", styles=None):
        self.rows.append(([str(c) for c in cells],
                          list(styles) if styles else [style] * len(cells)))

    def add_section(self):
        self.rows.append(None)

    # -- layout --------------------------------------------------------------------
    def _widths(self, max_width: int) -> list[int]:
        widths = [len(h) for h, _, _ in self.columns]
        for row in self.rows:
            if row is None:
                continue
            for i, cell in enumerate(row[0]):
                for part in cell.split("\n"):
                    if len(part) > widths[i]:
                        widths[i] = len(part)
        total = sum(widths) + 3 * len(widths) + 1
        wrap = [i for i, (_, _, w) in enumerate(self.columns) if w]
        longest_word = {i: max([len(w) for row in self.rows if row is not None
                                for w in row[0][i].split()] or [0]) for i in wrap}
        while total > max_width and wrap:
            i = max(wrap, key=lambda j: widths[j])
            floor = max(10, len(self.columns[i][0]), longest_word[i])  # never split a name
            if widths[i] <= floor:
                wrap.remove(i)
                continue
            cut = min(widths[i] - floor, total - max_width)
            widths[i] -= cut
            total -= cut
        return widths

    def segments(self, max_width: int = 120) -> list[list[tuple[str, str]]]:
        """Lines of (text, style) segments."""
        widths = self._widths(max_width)
        total = sum(widths) + 3 * len(widths) + 1
        out: list[list[tuple[str, str]]] = []

        def rule(left, mid, right, fill):
            return [(left + mid.join(fill * (w + 2) for w in widths) + right, "")]

        if self.title:
            out.append([(self.title.center(total).rstrip(), "bold")])
        out.append(rule("┏", "┳", "┓", "━"))
        line = [("┃", "")]
        for (h, numeric, _), w in zip(self.columns, widths):
            line += [(" ", ""), (h.rjust(w) if numeric else h.ljust(w), "bold"), (" ┃", "")]
        out.append(line)
        out.append(rule("┡", "╇", "┩", "━"))
        for row in self.rows:
            if row is None:
                out.append(rule("├", "┼", "┤", "─"))
                continue
            cells, styles = row
            parts = []
            for i, cell in enumerate(cells):
                lines = cell.split("\n")
                if self.columns[i][2]:
                    lines = [p for part in lines for p in
                             (textwrap.wrap(part, widths[i], break_on_hyphens=False,
                                            break_long_words=False) or [""])]
                parts.append(lines)
            height = max(len(p) for p in parts)
            for k in range(height):
                line = [("│", "")]
                for i, (p, w) in enumerate(zip(parts, widths)):
                    text = p[k] if k < len(p) else ""
                    text = text.rjust(w) if self.columns[i][1] else text.ljust(w)
                    line += [(" ", ""), (text, styles[i] if text.strip() else ""), (" │", "")]
                out.append(line)
        out.append(rule("└", "┴", "┘", "─"))
        if self.caption:
            out.append([(self.caption, "dim")])
        return out


def render_lines(lines, color: bool) -> str:
    """Segments (and plain strings) to text; styled through rich when ``color``."""
    if not color:
        return "".join((l if isinstance(l, str) else "".join(t for t, _ in l)) + "\n"
                       for l in lines)
    from rich.console import Console
    from rich.text import Text

    text = Text()
    for l in lines:
        if isinstance(l, str):
            text.append(l)
        else:
            for t, style in l:
                text.append(t, style=style or None)
        text.append("\n")
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, highlight=False, emoji=False).print(
        text, soft_wrap=True, end="")
    return buf.getvalue()
