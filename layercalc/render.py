"""Renderers: tables (layercalc.table) -> text, one per format name.

RENDERERS is the only list of format names: click's choices and the start-up path read
it, so a format is added here or nowhere. Each renderer takes the tables of one run and
an :class:`Options` (width, colour, whether long tables are cut). rich is imported only
to colour a terminal table; the JSON path needs nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from typing import NamedTuple

from .table import LazyRows, Spec, Table, plain
from .text import markdown_text, printable

CUT_NOTE = "more rows (--full, --depth, or --format csv)"
# how a row kind is drawn on a terminal: (the name and type cells, the other cells)
KIND_STYLES = {
    "layer": ("", ""),
    "group": ("bold cyan", "bold cyan"),
    "collapsed": ("cyan", ""),
    "passed": ("green", ""),
    "failed": ("bold red", "red"),
    "cut": ("dim", "dim"),
}


class Options(NamedTuple):
    width: int = 80
    color: bool = False
    full: bool = False  # every row: no head-and-tail cut
    as_list: bool = False  # JSON: a list even for one table


def text_of(text, escape=printable) -> str:
    """A cell, title or note as text: Spec parts escaped by ``escape``, the tool's own
    text by printable line by line (its line breaks are the cell's lines)."""
    if type(text) is str and text.isascii() and text.isprintable():
        return text  # the tool's own plain text, by far the most: printable(text) is text
    if isinstance(text, tuple):
        return "".join(_own(p, escape) for p in text)
    return _own(text, escape)


def _own(text, escape) -> str:
    if text is None:
        return ""
    if isinstance(text, Spec):
        return escape(text)
    text = str(text)
    return "\n".join(map(printable, text.split("\n"))) if "\n" in text else printable(text)


def cut(rows: list, limit: int | None) -> list:
    """The rows a terminal shows: all of them within ``limit``, else the first and last
    limit/2 and every ``keep`` row, each run of the others replaced by one "cut" row
    saying how many it stands for."""
    if limit is None or len(rows) <= limit:
        return list(rows)
    half = limit // 2
    if isinstance(rows, LazyRows):  # no keep rows: the head, the gap, the tail
        return [*rows[:half], len(rows) - 2 * half, *rows[len(rows) - half :]]
    out, gap = [], 0
    for i, row in enumerate(rows):
        if i < half or i >= len(rows) - half or row.keep:
            if gap:
                out.append(gap)
                gap = 0
            out.append(row)
        else:
            gap += 1
    return out


def render_table(tables: list[Table], opts: Options) -> str:
    """Box tables fitted to ``opts.width`` (layercalc.boxtable), notes wrapped under them."""
    from .boxtable import render_lines

    lines: list = []
    for t in tables:
        if t.error:
            continue
        if t.sections is not None:
            lines += _document_lines(t, opts.width, None if opts.full else t.limit)
        else:
            lines += _box_lines(t, opts)
    return render_lines(lines, opts.color)


def _box_lines(t: Table, opts: Options) -> list:
    from .boxtable import BoxTable, fit_lines

    table = BoxTable(text_of(t.title) or None, text_of(t.caption) or None)
    lead = [[(line, "bold")] for line in fit_lines([text_of(x) for x in t.lead], opts.width)]
    for c in t.columns:
        table.add_column(c.header, c.numeric, c.wrap, c.priority, c.shape, c.name)
    n = len(t.columns)
    for row in cut(t.rows, None if opts.full else t.limit):
        if isinstance(row, int):
            table.add_note(f"... {row:,} {CUT_NOTE}")
            continue
        texts = [text_of(c) for c in row.cells]
        if row.kind == "cut":  # a run of rows said in one line (diff's unchanged layers)
            table.add_note(" ".join(x for x in texts if x))
            continue
        head, rest = KIND_STYLES[row.kind]
        styles = []
        for i, c in enumerate(t.columns):
            if c.name and t.tree:
                texts[i] = "  " * row.level + texts[i]
            styles.append(head if i < 2 or row.kind == "group" else rest)
        if row.kind == "failed":  # the mark, then the cells that disagree
            styles = ["bold red"] + ["red" if c.wrap else "" for c in t.columns[1:]]
        elif row.kind == "passed":
            styles = ["green"] + [""] * (n - 1)
        table.add_row(texts, styles=styles)
    if t.footer is not None:
        table.add_section()
        table.add_row([text_of(c) for c in t.footer], style="bold")
    lines = lead + (table.segments(opts.width) if t.columns and t.rows else [])
    style = {"passed": "bold green", "failed": "bold red"}.get(t.status, "")
    for note in fit_lines([text_of(x) for x in t.notes], opts.width):
        lines.append([(note, style)] if style else note)
    lines.append("")
    return lines


def _document_lines(t: Table, width: int, limit: int | None = None) -> list[str]:
    """A document (explain): its title and file, then each section's lines, wrapped
    with continuation lines indented two more than their line, as one string (without
    its last line break, which render_lines adds): a body shared by sections (layers
    of one explanation record) is fitted and joined once. Past ``limit`` sections, the
    first and last limit/2 are drawn and a line says how many it hid, as tables do."""
    head = _fit_indented([f"{text_of(t.title)} ({text_of(t.caption)})"], width)
    out = head + [""]
    wrapped: dict = {}  # layers repeat their formulas: each long line is wrapped once
    drawn: dict = {}  # a body -> its fitted lines, each after a line break
    sections = t.sections
    hidden = 0
    if limit is not None and len(sections) > limit:
        half = limit // 2
        hidden = len(sections) - 2 * half
        sections = [*sections[:half], None, *sections[len(sections) - half :]]
    for i, section in enumerate(sections):
        if section is None:  # the cut: how many sections it stands for
            out.append(f"\n... {hidden:,} more layers (--full, a LAYER argument, or --format csv)")
            continue
        _, first, body = section
        text = drawn.get(body)
        if text is None:
            fitted = _fit_indented([text_of(x) for x in body], width, wrapped)
            text = drawn[body] = "".join("\n" + line for line in fitted)
        # a first line names its layer: unique, mostly plain ASCII (its own printable form)
        if not (first.isascii() and first.isprintable()):
            first = text_of(first)
        if len(first) > width:
            first = "\n".join(_fit_indented([first], width))
        out.append(("\n" if i else "") + first + text)  # a blank line between sections
    return ["\n".join(out)]


def _fit_indented(text_lines, width: int, wrapped: dict | None = None) -> list[str]:
    """``text_lines`` fitted to ``width``: a longer line wrapped at spaces, its
    continuation lines indented two more than it (``wrapped``: line -> its lines, a
    cache over the calls of one width)."""
    import textwrap

    if wrapped is None:
        wrapped = {}
    out = []
    for line in text_lines:
        if len(line) <= width:
            out.append(line)
            continue
        lines = wrapped.get(line)
        if lines is None:
            pad = " " * (len(line) - len(line.lstrip(" ")))
            lines = wrapped[line] = textwrap.wrap(
                line, width, subsequent_indent=pad + "  ", break_on_hyphens=False
            ) or [line]
        out += lines
    return out


def _md_cell(text) -> str:
    """A Markdown table cell: spec text escaped by markdown_text, the tool's own text
    (shapes, numbers, formulas) kept readable with its pipes escaped; the own text's
    line breaks (a cell of several lines) as <br>."""
    parts = text if isinstance(text, tuple) else (text,)
    out = []
    for p in parts:
        if isinstance(p, Spec):
            out.append(markdown_text(p))
        else:
            lines = plain(p).split("\n")
            out.append("<br>".join(printable(x).replace("|", "\\|") for x in lines))
    return "".join(out)


def render_markdown(tables: list[Table], opts: Options) -> str:
    out: list[str] = []
    for t in tables:
        if t.error:
            continue
        if t.title is not None:
            out.append(f"### {text_of(t.title, markdown_text)}\n")
        if t.sections is not None:
            out += _document_markdown(t) + [""]
            continue
        out += [text_of(x, markdown_text) for x in t.lead] + ([""] if t.lead else [])
        if t.details:
            out += [f"<details><summary>{text_of(t.details, markdown_text)}</summary>", ""]
        if not t.rows:
            out += [f"- {text_of(x, markdown_text)}" for x in t.notes] + [""]
            continue
        out.append("| " + " | ".join(c.header for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if c.numeric else "---" for c in t.columns) + "|")
        for row in t.rows:
            vals = [_md_cell(c) for c in row.cells]
            if row.kind == "group" and vals:
                vals[0] = f"**{vals[0]}**"
            out.append("| " + " | ".join(vals) + " |")
        if t.footer is not None:
            out.append("| " + " | ".join(_md_cell(c) for c in t.footer) + " |")
        out.append("")
        if t.details:
            out += ["</details>", ""]
        out += [f"- {text_of(x, markdown_text)}" for x in t.notes]
        out.append("")
    return "\n".join(out)


def _document_markdown(t: Table) -> list[str]:
    """Each section: its heading, then its body in a fenced block (made once per body
    that sections share)."""
    import re

    out = []
    blocks: dict = {}
    for heading, _, body in t.sections:
        out.append(f"#### {text_of(heading, markdown_text)}\n")
        block = blocks.get(body)
        if block is None:
            lines = [text_of(x) for x in body]
            longest = max((len(run) for run in re.findall("`+", "\n".join(lines))), default=0)
            fence = "`" * max(3, longest + 1)  # no line in the body can close it
            block = blocks[body] = "\n".join([fence, *lines, fence + "\n"])
        out.append(block)
    return out


def _csv_value(v, shown):
    """A CSV field: text escaped, a boolean as JSON writes it (true, false)."""
    if isinstance(v, str):
        return shown(v)
    if v is True or v is False:
        return "true" if v else "false"
    return v


def render_csv(tables: list[Table], opts: Options) -> str:
    """The tables' records (plain values: integers without separators, every dim of a
    receptive field on its own row), the header of the first; spec text escaped."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    escaped: dict = {}  # a file name, a type, a formula: the same texts recur per layer

    def shown(text: str) -> str:
        out = escaped.get(text)
        if out is None:
            if len(escaped) >= 4096:  # unique names would fill it: keep it small
                escaped.clear()
            out = escaped[text] = printable(text)
        return out

    header = None
    for t in tables:
        if t.error or t.records is None:
            continue
        # made only when CSV is asked for, as the JSON payload (its rows may be an
        # iterator, each record made as it is written: explain's 500,000 lines)
        head, rows = t.records() if callable(t.records) else t.records
        if header != head:  # another kind of table (layers --keys): its own block
            if header is not None:
                buf.write("\n")
            header = head
            w.writerow(header)
        w.writerows([_csv_value(v, shown) for v in r] for r in rows)
    return buf.getvalue()


_ENCODE: list = []  # json's C encoder, made on first use (json is not imported before)


def _encoder():
    """Compact lines come from json's C encoder."""
    if not _ENCODE:
        import json

        _ENCODE.append(json.JSONEncoder().encode)
    return _ENCODE[0]


def render_json_tables(tables: list[Table], opts: Options) -> str:
    """The tables' JSON payloads (a table without one, a part of a larger view, adds
    nothing)."""
    payloads = [t.payload() if callable(t.payload) else t.payload for t in tables]
    return render_json([p for p in payloads if p is not None], opts.as_list)


def render_json(payloads: list, as_list: bool = False) -> str:
    """One JSON value per table (a list of them when there are several, or ``as_list``).

    Laid out for people and diff tools as well as parsers: a key per line, and one line
    per layer (per error, per group) in the lists of objects, as SPEC.md shows it. Each
    line comes from json's C encoder, so 100,000 layers take a fraction of a second
    where ``indent=2`` (pure Python) took seconds. Non-ASCII is written as escapes, so
    nothing raw reaches a terminal.
    """
    enc = _encoder()
    # the pieces of the whole text, joined once: 100,000 layers make a text of 20 MB,
    # and every concatenation of it would copy it again
    out: list = []
    if len(payloads) == 1 and not as_list:
        _value(payloads[0], "", enc, out)
        out.append("\n")
    else:
        out.append("[\n")
        for i, p in enumerate(payloads):
            out.append(",\n  " if i else "  ")
            _value(p, "  ", enc, out)
        out.append("\n]\n")
    return "".join(out)


def _value(obj, pad: str, _encode, out: list) -> None:
    """Append the pieces of ``obj``'s text to ``out``. An iterator (a streamed list of
    objects, totals.network_json's ``layers``) is written as such a list, one object
    made and written at a time."""
    if type(obj) is list and obj and all(type(v) is dict for v in obj):
        _rows(obj, pad, _encode, out)
        return
    if type(obj) is not dict:
        out.append(_encode(obj))
        return
    inner = pad + "  "
    out.append("{\n")
    for i, (key, value) in enumerate(obj.items()):
        out.append(f",\n{inner}{_encode(key)}: " if i else f"{inner}{_encode(key)}: ")
        if isinstance(value, Iterator):
            first = next(value, None)
            if first is None:
                out.append("[]")
            else:
                _rows(chain((first,), value), inner, _encode, out)
        elif isinstance(value, list) and value and all(type(v) is dict for v in value):
            _rows(value, inner, _encode, out)
        else:
            out.append(_encode(value))
    out.append("\n" + pad + "}")


def _rows(rows, pad: str, _encode, out: list) -> None:
    """A list of objects: one object per line. Lines are joined 1,024 at a time, so a
    list of 100,000 holds a hundred strings till the end rather than 200,000."""
    item = ",\n" + pad + "  "
    buf = ["[\n" + pad + "  "]
    for i, v in enumerate(rows):
        if i:
            buf.append(item)
        buf.append(_encode(v))
        if len(buf) >= 2048:
            out.append("".join(buf))
            buf.clear()
    buf.append("\n" + pad + "]")
    out.append("".join(buf))


def _gh(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render_github(tables: list[Table], opts: Options) -> str:
    """GitHub Actions workflow commands: a notice per annotation (an error where the
    annotation says so: a --fail-on rule that fired), at its file and line (spec text
    escaped by printable before the command's own %-encoding)."""
    out = []
    for t in tables:
        for file, line, message, *level in t.annotations:
            where = f"file={_gh(text_of(file), True)}" + (f",line={line}" if line else "")
            out.append(f"::{level[0] if level else 'notice'} {where}::{_gh(text_of(message))}")
    return "".join(line + "\n" for line in out)


# the format names, in the order --help lists them; the only such list
RENDERERS = {
    "table": render_table,
    "json": render_json_tables,
    "markdown": render_markdown,
    "csv": render_csv,
}
FORMATS = tuple(RENDERERS)
# views that annotate lines of a file (diff) may also be rendered as workflow commands
ANNOTATED = {**RENDERERS, "github": render_github}


def render(tables: list[Table], fmt: str, opts: Options | None = None) -> str:
    return ANNOTATED[fmt](tables, opts or Options())
