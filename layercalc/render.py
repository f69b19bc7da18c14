"""Renderers: table (rich), markdown, csv and json for the `shape` and `params` views.

Each view is a list of columns over report rows (the format names are
layercalc.cli.options.FORMATS). rich is imported only by the table renderer.
"""

from __future__ import annotations

import io
import json
import re
from collections import namedtuple

from .analyses.totals import Row, human_bytes, network_totals, output_json, rows

MAX_TABLE_ROWS = 400  # beyond this a table shows the head and tail (csv/json show all)

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

# Characters drawn as nothing that Python calls printable, so "c\u034f", "c\u3164" and "c"
# would look alike: Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt,
# Unicode 15.1; the Cf and Cn ones are not printable anyway, listed for completeness)
# and the blank-looking U+2800 BRAILLE PATTERN BLANK, which it does not list.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def _shown(text: str) -> bool:
    """``text`` prints as written: printable, and nothing in it is invisible."""
    return text.isprintable() and (text.isascii() or not _INVISIBLE.search(text))


def _raw(c: str) -> bool:
    return c.isprintable() and not _INVISIBLE.match(c)


def printable(text) -> str:
    r"""``text`` (from a spec or a file name) safe to print: every character Python does not
    call printable (C0/C1 controls and DEL, line and paragraph separators, bidi and other
    format characters, surrogates, non-ASCII spaces) is written as Python's repr writes it,
    ``\n``, ``\x1b``, ``\u2028``, so no text can move the cursor, retitle the terminal,
    forge an extra diagnostic line or reorder what follows it. Characters drawn as
    nothing (Unicode's default-ignorables, Hangul fillers, U+2800) are escaped too, so
    two different names never look alike. Backslashes stay as they are. Renderers apply
    it to every text they did not write themselves; JSON keeps the exact value (its
    encoder escapes by itself).

    >>> print(printable("conv\x1b[2J\nfake.yaml:1:1: error\r"))
    conv\x1b[2J\nfake.yaml:1:1: error\r
    >>> print(printable("a\u2028b\u202ec\x85\x00"), printable("[bold]café[/] ×"))
    a\u2028b\u202ec\x85\x00 [bold]café[/] ×
    >>> print(printable("c\u034f c\u3164 c\U000e0100"))
    c\u034f c\u3164 c\U000e0100
    """
    if type(text) is not str:
        text = str(text)
    if _shown(text):
        return text
    return "".join(c if _raw(c) else char_escape(c) for c in text)


# What markdown_text escapes: the ASCII punctuation that can start CommonMark or GitHub
# markup anywhere (\ ` * [ ] < > ( ) { } ! | ~ &, and : @ of GitHub's bare-URL and e-mail
# autolinks), and _ - . + # unless both neighbours are letters or digits: inside a word
# they start nothing (conv_1, layer1.0.conv1 stay as they are), but for the dot of www.
_MARKDOWN = re.compile(
    r"[\\`*\[\]<>(){}!|~&:@]|(?<![^\W_])[-_.+#]|[-_.+#](?![^\W_])"
    r"|(?<=www)\.",
    re.IGNORECASE,
)


def markdown_text(text) -> str:
    r"""``text`` (from a spec or a file name) for Markdown output: printable(), then every
    character that could start markup backslash-escaped, so GitHub shows it as written,
    no link, image, raw HTML, emphasis or table cell break.

    >>> print(markdown_text("![px](https://evil.example/t.png) <img/src=x> a_b *c* |"))
    \!\[px\]\(https\://evil.example/t.png\) \<img/src=x\> a_b \*c\* \|
    >>> print(markdown_text("layer1.0.conv_1 www.x.org a@b -x_ \x1b"))
    layer1.0.conv_1 www\.x.org a\@b \-x\_ \\x1b
    """
    return _MARKDOWN.sub(r"\\\g<0>", printable(text))


def char_escape(c: str) -> str:
    """One character as Python's repr escapes it: \\n, \\x1b, \\u2028, \\U000e0041."""
    n = ord(c)
    return _ESCAPES.get(c) or (
        f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
    )


def printable_json(text: str) -> str:
    r"""JSON text written with ``ensure_ascii=False`` (which leaves DEL, C1 controls, U+2028,
    format and invisible characters raw inside strings) with those written as ``\uXXXX``
    escapes: the same values, nothing raw on the terminal. The layout's own newlines stay.

    >>> print(printable_json('{"name": "a\x9b\u2028b ×"}'))
    {"name": "a\u009b\u2028b ×"}
    >>> import json; json.loads(printable_json(json.dumps("\U000e0041", ensure_ascii=False)))
    '\U000e0041'
    """
    lines = text.split("\n")
    if all(map(_shown, lines)):
        return text
    return "\n".join(
        line if _shown(line) else "".join(c if _raw(c) else _json_escape(ord(c)) for c in line)
        for line in lines
    )


def _json_escape(n: int) -> str:
    if n > 0xFFFF:  # JSON spells these as a surrogate pair
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


def shape_text(shape) -> str:
    return "[" + ", ".join(str(v) for v in shape) + "]"


def num(n: int) -> str:
    return f"{n:,}"


class Column(
    namedtuple("Column", "header cell numeric priority shape", defaults=(False, 0, False))
):
    """A table column: its header, ``cell(row, context) -> str``, alignment, and how it
    gives way in a narrow terminal (boxtable: ``priority`` > 0 columns are left out, the
    highest first; ``shape`` cells are written compactly)."""

    __slots__ = ()


def _inputs(r: Row, ctx) -> str:
    return "\n".join(shape_text(s) for s in r.inputs) if r.kind != "group" else ""


def _output(r: Row, ctx) -> str:
    if r.outputs is None:
        return shape_text(r.output)
    return "\n".join(f"{ctx['text'](n)}: {shape_text(s)}" for n, s in r.outputs)


def _sources(r: Row, ctx) -> str:
    if r.kind != "layer" or r.sources == ctx["previous"].get(r.ref):
        return ""
    return ctx["text"](", ".join(r.sources))


def _share(r: Row, ctx) -> str:
    total = ctx["totals"]["params"]
    if not r.params or not total:
        return ""
    return f"{100 * r.params / total:.1f}%"


SHAPE_COLUMNS = (
    Column("Layer", lambda r, c: c["text"](r.name)),
    Column("Type", lambda r, c: c["text"](r.type), priority=1),
    Column("Arguments", lambda r, c: c["text"](r.args), priority=2),
    Column("From", _sources, priority=3),
    Column("Input", _inputs, priority=4, shape=True),  # the row above's output, mostly
    Column("Output", _output, shape=True),
)

PARAMS_COLUMNS = (
    Column("Layer", lambda r, c: c["text"](r.name)),
    Column("Type", lambda r, c: c["text"](r.type), priority=2),
    Column("Weights", lambda r, c: num(r.weights) if r.weights else "", True, 4),
    Column("Bias", lambda r, c: num(r.bias) if r.bias else "", True, 5),
    Column("Params", lambda r, c: num(r.params), True),
    Column("Trainable", lambda r, c: num(r.trainable), True, 6),
    Column("Buffers", lambda r, c: num(r.buffers) if r.buffers else "", True, 3),
    Column("Share", _share, True, 7),
)

VIEWS = {"shape": SHAPE_COLUMNS, "params": PARAMS_COLUMNS}


def _context(net, text) -> dict:
    previous = {}
    last = next(iter(net.spec.input_refs()))
    for layer in net.layers:
        previous[layer.ref] = [last]
        last = layer.ref
    return {"previous": previous, "totals": net.totals(), "net": net, "text": text}


def summary_lines(net, view: str, text=printable) -> list[str]:
    """The lines under a table: output, totals, memory; ``text`` escapes spec text."""
    t = network_totals(net)
    out = output_json(net)
    if isinstance(out, dict):
        out_text = "; ".join(f"{text(k)} {shape_text(v)}" for k, v in out.items())
    else:
        out_text = shape_text(out)
    if net.spec.inputs is None:
        lines = [f"Input {shape_text(net.input)} -> output {out_text}"]
    else:
        ins = "; ".join(f"{text(k)} {shape_text(v)}" for k, v in net.spec.inputs.items())
        lines = [f"Inputs {ins} -> output {out_text}"]
    nontrain = t["params"] - t["trainable"]
    lines.append(
        f"Parameters: {num(t['params'])} (weights {num(t['weights'])}, bias "
        f"{num(t['bias'])}; trainable {num(t['trainable'])}, non-trainable "
        f"{num(nontrain)}); buffers: {num(t['buffers'])}"
    )
    if view == "params":
        lines.append(
            f"Parameter memory: {human_bytes(t['param_bytes'])} "
            f"({num(t['param_bytes'])} bytes as {net.spec.dtype}); buffers "
            f"{human_bytes(t['buffer_bytes'])}"
        )
    lines.append(f"MACs: {num(t['macs'])} (FLOPs = 2 x MACs = {num(t['flops'])})")
    return lines


def _cells(net, view, depth, limit=None, text=printable):
    """Columns (From only when some layer has one) and (row, cells) pairs, spec text
    escaped by ``text``. With ``limit`` and more rows than that, only the first and last
    limit/2 rows get cells, around a None that stands for the rest; returns how many rows
    that hides too."""
    ctx = _context(net, text)
    every = rows(net, depth)
    has_from = any(_sources(r, ctx) for r in every)
    cols = [c for c in VIEWS[view] if c.header != "From" or has_from]
    hidden = 0
    if limit is not None and len(every) > limit:
        half = limit // 2
        hidden = len(every) - 2 * half
        every = every[:half] + [None] + every[-half:]
    return cols, [None if r is None else (r, [c.cell(r, ctx) for c in cols]) for r in every], hidden


def render_table(nets, view: str, depth=None, width=None, color=False, limit=MAX_TABLE_ROWS) -> str:
    from .boxtable import BoxTable, fit_lines, render_lines

    lines: list = []
    for net in nets:
        cols, cells, hidden = _cells(net, view, depth, limit)
        table = BoxTable(printable(net.name), printable(net.spec.file))
        for c in cols:
            table.add_column(
                c.header,
                c.numeric,
                wrap=c.header in ("Arguments", "From"),
                priority=c.priority,
                shape=c.shape,
                fold=c.header == "Layer",
            )
        for item in cells:
            if item is None:
                table.add_row(
                    [f"... {hidden:,} more rows (--full, --depth, or --format csv)"]
                    + [""] * (len(cols) - 1),
                    style="dim",
                )
                continue
            r, cl = item
            style = {"layer": "", "group": "bold cyan", "collapsed": "cyan"}[r.kind]
            texts = ["  " * r.level + cl[0]] + cl[1:]
            table.add_row(
                texts,
                styles=[style if i < 2 or r.kind == "group" else "" for i in range(len(cols))],
            )
        if view == "params":
            totals = network_totals(net)
            table.add_section()
            foot = {
                "Layer": "Total",
                "Weights": num(totals["weights"]),
                "Bias": num(totals["bias"]),
                "Params": num(totals["params"]),
                "Trainable": num(totals["trainable"]),
                "Buffers": num(totals["buffers"]),
                "Share": "100%",
            }
            table.add_row([foot.get(c.header, "") for c in cols], style="bold")
        lines.extend(table.segments(width or 120))
        lines.extend(fit_lines(summary_lines(net, view), width or 120))
        lines.append("")
    return render_lines(lines, color)


def render_markdown(nets, view: str, depth=None) -> str:
    out = []
    for net in nets:
        cols, cells, _ = _cells(net, view, depth, text=markdown_text)
        out.append(f"### {markdown_text(net.name)}\n")
        out.append("| " + " | ".join(c.header for c in cols) + " |")
        out.append("|" + "|".join("---:" if c.numeric else "---" for c in cols) + "|")
        for r, cl in cells:
            vals = [v.replace("\n", "<br>") for v in cl]  # the Input column's own lines
            if r.kind == "group":
                vals[0] = f"**{vals[0]}**"
            out.append("| " + " | ".join(vals) + " |")
        out.append("")
        out.extend(f"- {line}" for line in summary_lines(net, view, markdown_text))
        out.append("")
    return "\n".join(out)


def render_csv(nets, view: str, depth=None) -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = None
    for net in nets:
        cols, cells, _ = _cells(net, view, depth)
        total = max(1, net.totals()["params"])
        if header is None:
            header = ["file", "kind", "depth"] + [c.header.lower() for c in cols]
            if view == "params":
                header.append("macs")
            w.writerow(header)
        for r, cl in cells:
            vals = [v.replace("\n", " ") for v in cl]
            if view == "params":
                # machine-readable: plain integers, no separators or percent signs
                vals = vals[:2] + [
                    str(r.weights),
                    str(r.bias),
                    str(r.params),
                    str(r.trainable),
                    str(r.buffers),
                    f"{r.params / total:.6f}",
                    str(r.macs),
                ]
            w.writerow([printable(net.spec.file), r.kind, r.level] + vals)
    return buf.getvalue()


_encode = json.JSONEncoder().encode  # compact lines come from the C encoder


def render_json(payloads: list, as_list: bool = False) -> str:
    """One JSON object per spec (a list of them when there are several, or ``as_list``).

    Laid out for people and diff tools as well as parsers: a key per line, and one line
    per layer (per error, per group) in the lists of objects, as SPEC.md shows it. Each
    line comes from json's C encoder, so 100,000 layers take a fraction of a second
    where ``indent=2`` (pure Python) took seconds.
    """
    if len(payloads) == 1 and not as_list:
        return _object(payloads[0], "") + "\n"
    return "[\n" + ",\n".join("  " + _object(p, "  ") for p in payloads) + "\n]\n"


def _object(obj: dict, pad: str) -> str:
    inner = pad + "  "
    lines = []
    for key, value in obj.items():
        if isinstance(value, list) and value and all(type(v) is dict for v in value):
            item = pad + "    "
            text = "[\n" + ",\n".join(item + _encode(v) for v in value) + "\n" + inner + "]"
        else:
            text = _encode(value)
        lines.append(f"{inner}{_encode(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n" + pad + "}"
