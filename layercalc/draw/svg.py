"""The graph style as SVG: nodes, edges, cluster frames, a legend and a caption. Every
element a test reads has a class and its geometry in attributes: nodes
``<g class="node" id="nK">`` hold a ``<rect class="node-box">`` and one
``<text class="line">`` per label line (x at the line's left, y at its baseline);
``<path class="edge" data-from data-to>``; ``<g class="cluster">`` with a
``<path class="cluster-box">`` (its frame) and a ``<text class="cluster-label">``."""

from __future__ import annotations

from .layout import layout
from ..text import printable
from .model import CHAR_WIDTH, FONT_SIZE, LINE_HEIGHT, Diagram, text_width, wrap

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
PAD_X = 10.0
PAD_Y = 7.0
ASCENT = 11.0  # baseline below a line's top at 12 px
MARGIN = 20.0

# family -> (fill, stroke, legend text)
FAMILIES = {
    "input": ("#ffffff", "#334155", "input"),
    "convolution": ("#dbeafe", "#2563eb", "convolution"),
    "linear": ("#ede9fe", "#7c3aed", "linear"),
    "pooling": ("#dcfce7", "#16a34a", "pooling"),
    "normalization": ("#fef9c3", "#a16207", "normalization"),
    "activation": ("#ffedd5", "#ea580c", "activation"),
    "dropout": ("#f3f4f6", "#6b7280", "dropout"),
    "reshape": ("#e0f2fe", "#0369a1", "reshaping"),
    "padding": ("#f5f5f4", "#78716c", "padding"),
    "merge": ("#fce7f3", "#db2777", "merge"),
    "math": ("#fae8ff", "#a21caf", "math"),
    "reduction": ("#ccfbf1", "#0f766e", "reduction"),
    "tensor": ("#f1f5f9", "#475569", "tensor"),
    "recurrent": ("#fee2e2", "#dc2626", "recurrent"),
    "attention": ("#e0e7ff", "#4338ca", "attention"),
    "group": ("#eef2f7", "#334155", "collapsed group"),
}
OTHER = ("#ffffff", "#64748b", "other")


def colours(family: str) -> tuple:
    return FAMILIES.get(family, OTHER)


def xml(text: str) -> str:
    """Text (already printable()) for XML content or a double-quoted attribute."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def num(v: float) -> str:
    """A coordinate, the same text for the same float on every platform."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def node_size(lines) -> tuple[float, float]:
    w = max(text_width(t) for t in lines) + 2 * PAD_X
    h = len(lines) * LINE_HEIGHT + 2 * PAD_Y
    return round(w, 1), float(h)


def _heights(d: Diagram) -> list[int]:
    h = [0] * len(d.clusters)
    for ci in range(len(d.clusters) - 1, -1, -1):  # children come after their parent
        p = d.clusters[ci].parent
        if p is not None:
            h[p] = max(h[p], h[ci] + 1)
    return h


def geometry(d: Diagram, direction: str = "TB"):
    """Boxes (x, y, w, h) of the nodes, edge polylines, cluster frames, in SVG pixels
    from the top-left corner of the drawing area."""
    tb = direction == "TB"
    sizes = [node_size(n.lines) for n in d.nodes]
    heights = _heights(d)
    pads = []
    for h in heights:
        k = h + 1
        label, side = 22.0 * k, 10.0 * k
        pads.append((label, side, side, side) if tb else (side, side, label, side))
    lay = layout(
        [(h, w) if tb else (w, h) for w, h in sizes],
        d.edges,
        d.paths,
        [n.index for n in d.nodes if n.kind == "input"],
        pads,
    )
    boxes = []
    for v, (w, h) in enumerate(sizes):
        a, c = lay.along[v], lay.across[v]
        cx, cy = (c, a) if tb else (a, c)
        boxes.append((round(cx - w / 2, 1), round(cy - h / 2, 1), w, h))
    # edges: ports spread along the side they leave or enter by
    outs: dict[int, list[int]] = {}
    ins: dict[int, list[int]] = {}
    for e, (u, v) in enumerate(d.edges):
        outs.setdefault(u, []).append(e)
        ins.setdefault(v, []).append(e)
    start: dict[int, tuple] = {}
    end: dict[int, tuple] = {}

    def first_across(e, at_end):
        pts = lay.edge_points[e]
        u, v = d.edges[e]
        if pts:
            return pts[-1 if at_end else 0][1]
        return lay.across[u if at_end else v]

    for v, es in outs.items():
        es = sorted(es, key=lambda e: (first_across(e, False), e))
        for k, e in enumerate(es):
            start[e] = _port(boxes[v], k, len(es), tb, out=True)
    for v, es in ins.items():
        es = sorted(es, key=lambda e: (first_across(e, True), e))
        for k, e in enumerate(es):
            end[e] = _port(boxes[v], k, len(es), tb, out=False)
    paths = []
    for e in range(len(d.edges)):
        mids = [(c, a) if tb else (a, c) for a, c in lay.edge_points[e]]
        paths.append([start[e], *mids, end[e]])
    frames = []
    for outline, (a, c) in zip(lay.frames, lay.labels):
        pts = [(c, a) if tb else (a, c) for a, c in outline]
        frames.append((pts, (c, a) if tb else (a, c)) if pts else None)
    return boxes, paths, frames


def _port(box, k, m, tb, out):
    x, y, w, h = box
    span = w if tb else h
    step = min(12.0, span / (m + 1))
    off = (k - (m - 1) / 2) * step
    if tb:
        return (x + w / 2 + off, y + h if out else y)
    return (x + w if out else x, y + h / 2 + off)


def _curve(points, tb) -> str:
    x0, y0 = points[0]
    parts = [f"M{num(x0)},{num(y0)}"]
    for x1, y1 in points[1:]:
        if tb:
            m = (y0 + y1) / 2
            parts.append(f"C{num(x0)},{num(m)} {num(x1)},{num(m)} {num(x1)},{num(y1)}")
        else:
            m = (x0 + x1) / 2
            parts.append(f"C{num(m)},{num(y0)} {num(m)},{num(y1)} {num(x1)},{num(y1)}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _text(x, y, text, cls="line", bold=False, size=None) -> str:
    extra = ' font-weight="bold"' if bold else ""
    if size:
        extra += f' font-size="{size}"'
    return f'<text class="{cls}" x="{num(x)}" y="{num(y)}"{extra}>{xml(text)}</text>'


def _legend(present: set, width: float, top: float):
    """The legend rows (one swatch per family in ``present``) and its height."""
    items = [(f, v) for f, v in FAMILIES.items() if f in present]
    if any(f not in FAMILIES for f in present):
        items.append(("other", OTHER))
    out, x, y = [], 0.0, top
    for _, (fill, stroke, label) in items:
        w = 18 + text_width(label) + 18
        if x and x + w > width:
            x, y = 0.0, y + 20
        out.append(
            f'<g class="legend-item"><rect x="{num(MARGIN + x)}" y="{num(y)}" width="12" '
            f'height="12" rx="2" fill="{fill}" stroke="{stroke}"/>'
            + _text(MARGIN + x + 18, y + 10, label, cls="legend-label")
            + "</g>"
        )
        x += w
    return out, (y - top + 20 if items else 0.0)


def render_svg(d: Diagram, direction: str = "TB") -> str:
    tb = direction == "TB"
    boxes, paths, frames = geometry(d, direction)
    gw = max((b[0] + b[2] for b in boxes), default=0.0)
    gh = max((b[1] + b[3] for b in boxes), default=0.0)
    for c, f in zip(d.clusters, frames):
        if f:
            (pts, (lx, _)) = f
            gw = max(gw, max(x for x, _ in pts), lx + 8 + text_width(c.label))
            gh = max(gh, max(y for _, y in pts))
    cap_w = max((text_width(t) for t in d.caption), default=0.0)
    width = max(gw, cap_w, 360.0)
    legend, legend_h = _legend({n.family for n in d.nodes}, width, MARGIN + gh + 24)
    cap_top = MARGIN + gh + 24 + legend_h + 12
    height = cap_top + len(d.caption) * LINE_HEIGHT + MARGIN
    total_w = width + 2 * MARGIN
    o = []
    o.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(total_w)}" height="{num(height)}" '
        f'viewBox="0 0 {num(total_w)} {num(height)}" font-family="{FONT}" '
        f'font-size="{FONT_SIZE}" class="layercalc-draw" data-direction="{direction}">'
    )
    o.append(f"<title>{xml(d.title)}</title>")
    o.append(
        "<style>.edge{fill:none;stroke:#475569;stroke-width:1.3}"
        ".cluster-box{fill:#f8fafc;stroke:#94a3b8;stroke-dasharray:5 3}"
        ".cluster-label{fill:#334155;font-style:italic}.line{fill:#0f172a}"
        ".legend-label{fill:#334155}.caption{fill:#0f172a}</style>"
    )
    o.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/>'
        "</marker></defs>"
    )
    o.append(
        f'<rect class="background" width="{num(total_w)}" height="{num(height)}" fill="#fff"/>'
    )
    o.append(f'<g class="graph" transform="translate({num(MARGIN)},{num(MARGIN)})">')
    o.append('<g class="clusters">')
    for c, f in zip(d.clusters, frames):
        if f is None:
            continue
        pts, (x0, y0) = f
        d_attr = "M" + " L".join(f"{num(x)},{num(y)}" for x, y in pts) + " Z"
        o.append(
            f'<g class="cluster" id="{c.id}"><path class="cluster-box" d="{d_attr}"/>'
            + _text(x0 + 8, y0 + 15, c.label, cls="cluster-label")
            + "</g>"
        )
    o.append("</g>")
    o.append('<g class="edges">')
    for (u, v), pts in zip(d.edges, paths):
        o.append(
            f'<path class="edge" data-from="{d.nodes[u].id}" data-to="{d.nodes[v].id}" '
            f'd="{_curve(pts, tb)}" marker-end="url(#arrow)"/>'
        )
    o.append("</g>")
    o.append('<g class="nodes">')
    for n, (x, y, w, h) in zip(d.nodes, boxes):
        fill, stroke, _ = colours(n.family)
        dash = ' stroke-dasharray="4 2"' if n.kind == "collapsed" else ""
        parts = [
            f'<g class="node" id="{n.id}" data-kind="{n.kind}" data-family="{xml(n.family)}">',
            f'<rect class="node-box" x="{num(x)}" y="{num(y)}" width="{num(w)}" '
            f'height="{num(h)}" rx="4" fill="{fill}" stroke="{stroke}"{dash}/>',
        ]
        name_lines = _name_lines(n)
        for k, line in enumerate(n.lines):
            parts.append(
                _text(x + PAD_X, y + PAD_Y + k * LINE_HEIGHT + ASCENT, line, bold=k < name_lines)
            )
        parts.append("</g>")
        o.append("".join(parts))
    o.append("</g></g>")
    o += legend
    for k, line in enumerate(d.caption):
        o.append(
            _text(MARGIN, cap_top + k * LINE_HEIGHT + ASCENT, line, cls="caption", bold=k == 0)
        )
    o.append("</svg>")
    return "\n".join(o) + "\n"


def _name_lines(n) -> int:
    """How many of a node's first label lines hold its name (drawn bold)."""
    return len(wrap(printable(n.name)))


__all__ = ["render_svg", "geometry", "xml", "CHAR_WIDTH"]
