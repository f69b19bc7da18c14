"""The blocks style: a LeNet/AlexNet-style figure of a CNN's feature maps. Each feature
map is a box in oblique projection whose height follows its spatial height, whose
oblique depth follows its width and whose thickness follows its channels, all
log-scaled (a 224-pixel VGG map is not 224 times a 1-pixel one), from left to right in
execution order; a row that keeps the shape (an activation, a norm) joins the box
before it. Vectors ([N, F]) are flat bars. Branches are not drawn: the figure shows the
rows in order, which is the network for sequential parts. Every box is a
``<g class="block">`` with ``data-shape``; labels are ``<text class="line">`` above the
boxes, the shapes under them."""

from __future__ import annotations

import math

from ..analyses.totals import rows
from ..text import printable
from .model import LINE_HEIGHT, Diagram, text_width, wrap
from .svg import ASCENT, FONT, FONT_SIZE, MARGIN, _legend, _text, colours, num, xml

GAP = 40.0
LABEL_CELLS = 22


class Block:
    __slots__ = ("shape", "family", "lines", "name")

    def __init__(self, shape, family, lines, name):
        self.shape = tuple(shape)
        self.family = family
        self.lines = lines
        self.name = name


def _log(v: int) -> float:
    return math.log2(max(int(v), 1))


def box_size(shape) -> tuple[float, float, float]:
    """(thickness, height, oblique depth) of a feature map's box."""
    dims = list(shape[1:]) if len(shape) > 1 else list(shape)
    if len(dims) >= 3:  # C, H, W (more spatial dims: the last two)
        c, h, w = dims[0], dims[-2], dims[-1]
        return 6 + 5 * _log(c), 12 + 22 * _log(h), (12 + 22 * _log(w)) * 0.45
    if len(dims) == 2:  # C, L
        c, h = dims
        return 6 + 5 * _log(c), 12 + 22 * _log(h), 6.0
    f = math.prod(dims) if dims else 1
    return 8.0, 12 + 14 * _log(f), 4.0


def blocks(net, depth: int | None = None, table=None) -> list[Block]:
    """The feature maps of ``net`` at ``depth``; ``table``: its rows(net, depth) when
    already made."""
    out = []
    for ref, shape in net.spec.input_refs().items():
        out.append(Block(shape, "input", [printable(ref)], ref))
    for r in rows(net, depth) if table is None else table:
        if r.kind == "group":
            continue
        head = r.type if not r.args else f"{r.type} {r.args}"
        if r.kind == "collapsed":
            head = f"{r.type} · {r.args}"
        if out and tuple(r.output) == out[-1].shape:
            out[-1].lines += wrap("+ " + printable(r.type), LABEL_CELLS)
            continue
        family = "group" if r.kind == "collapsed" else _family(net, r)
        lines = wrap(printable(r.name), LABEL_CELLS) + wrap(printable(head), LABEL_CELLS)
        out.append(Block(r.output, family, lines, r.name))
    return out


def _family(net, row) -> str:
    i = net.by_name.get(row.name)
    if i and i[0] == "layer":
        return net.layers[i[1]].type.family
    return "other"


def shape_label(shape) -> str:
    return "×".join(str(v) for v in shape[1:]) if len(shape) > 1 else str(shape[0] if shape else "")


def render_blocks(net, d: Diagram, depth: int | None = None) -> str:
    bs = blocks(net, depth, d.table)
    sizes = [box_size(b.shape) for b in bs]
    reach = max((h / 2 + dz * 0.7071 for _, h, dz in sizes), default=0.0)
    below = max((h / 2 for _, h, _ in sizes), default=0.0)
    nlines = max((len(b.lines) for b in bs), default=1)
    label_top = MARGIN
    ymid = label_top + nlines * LINE_HEIGHT + 12 + reach
    shape_y = ymid + below + 10
    slots = []
    x = MARGIN
    for b, (t, h, dz) in zip(bs, sizes):
        w = t + dz * 0.7071
        lw = max(text_width(line) for line in [*b.lines, shape_label(b.shape)])
        slot = max(w, lw)
        slots.append((x, slot))
        x += slot + GAP
    gw = x - GAP - MARGIN
    cap_w = max((text_width(t) for t in d.caption), default=0.0)
    width = max(gw, cap_w, 360.0)
    legend, legend_h = _legend({b.family for b in bs}, width, shape_y + LINE_HEIGHT + 20)
    cap_top = shape_y + LINE_HEIGHT + 20 + legend_h + 12
    height = cap_top + len(d.caption) * LINE_HEIGHT + MARGIN
    total_w = width + 2 * MARGIN
    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(total_w)}" height="{num(height)}" '
        f'viewBox="0 0 {num(total_w)} {num(height)}" font-family="{FONT}" '
        f'font-size="{FONT_SIZE}" class="layercalc-draw" data-style="blocks">',
        f"<title>{xml(d.title)}</title>",
        "<style>.line{fill:#0f172a}.shape{fill:#334155}.legend-label{fill:#334155}"
        ".caption{fill:#0f172a}.flow{stroke:#475569;stroke-width:1.3}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/>'
        "</marker></defs>",
        f'<rect class="background" width="{num(total_w)}" height="{num(height)}" fill="#fff"/>',
    ]
    for k, (b, (t, h, dz), (sx, slot)) in enumerate(zip(bs, sizes, slots)):
        fill, stroke, _ = colours(b.family)
        w = t + dz * 0.7071
        x0 = sx + (slot - w) / 2
        top = ymid - h / 2
        dx = dy = dz * 0.7071
        front = f"M{num(x0)},{num(top)} h{num(t)} v{num(h)} h{num(-t)} z"
        topf = f"M{num(x0)},{num(top)} l{num(dx)},{num(-dy)} h{num(t)} l{num(-dx)},{num(dy)} z"
        side = f"M{num(x0 + t)},{num(top)} l{num(dx)},{num(-dy)} v{num(h)} l{num(-dx)},{num(dy)} z"
        shape = ",".join(str(v) for v in b.shape)
        o.append(
            f'<g class="block" data-shape="{shape}" data-x="{num(x0)}" data-width="{num(w)}">'
            f'<path d="{topf}" fill="{fill}" stroke="{stroke}" fill-opacity="0.6"/>'
            f'<path d="{side}" fill="{stroke}" stroke="{stroke}" fill-opacity="0.35"/>'
            f'<path class="block-front" d="{front}" fill="{fill}" stroke="{stroke}"/>'
            "</g>"
        )
        for j, line in enumerate(b.lines):
            o.append(_text(sx, label_top + j * LINE_HEIGHT + ASCENT, line, bold=j == 0))
        o.append(_text(sx, shape_y + ASCENT, shape_label(b.shape), cls="line shape"))
        if k + 1 < len(bs):
            ax = x0 + w + 6
            o.append(
                f'<path class="flow" d="M{num(ax)},{num(ymid)} H{num(sx + slot + GAP - 6)}" '
                'marker-end="url(#arrow)"/>'
            )
    o += legend
    for k, line in enumerate(d.caption):
        o.append(
            _text(MARGIN, cap_top + k * LINE_HEIGHT + ASCENT, line, cls="caption", bold=k == 0)
        )
    o.append("</svg>")
    return "\n".join(o) + "\n"
