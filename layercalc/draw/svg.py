"""The graph style as SVG: nodes, edges, cluster frames, a legend and a caption. Every
element a test reads has a class and its geometry in attributes: nodes
``<g class="node" id="nK">`` hold a ``<rect class="node-box">`` and one
``<text class="line">`` per label line (x at the line's left, y at its baseline);
``<path class="edge" data-from data-to>``; ``<g class="cluster">`` with a
``<path class="cluster-box">`` (its frame) and a ``<text class="cluster-label">``."""

from __future__ import annotations

from .layout import layout
from .model import CHAR_WIDTH, FONT_SIZE, LINE_HEIGHT, Diagram, text_width

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
    return ("%.1f" % v).removesuffix(".0")


class Numbers(dict):
    """num() of each coordinate, memoised: the nodes of a long chain share their x and
    their sizes, and an edge ends on its node's box. Zero is not kept (0.0 and -0.0 are
    one key but two texts)."""

    __slots__ = ()

    def __missing__(self, v: float) -> str:
        s = num(v)
        if v:
            self[v] = s
        return s


FIRST_LINE = PAD_Y + ASCENT  # a box's first baseline below its top
assert FIRST_LINE.is_integer() and float(LINE_HEIGHT).is_integer()  # line_ys needs it


def line_ys(y: float, count: int) -> list[str]:
    """num() of the baselines of ``count`` label lines in a box whose top is ``y``.
    The top is rounded to one decimal and the lines are whole pixels apart, so for a
    top >= 0 each text is the top's with its integer part moved: integers added, not a
    float formatted per line (the label lines are most of a drawing's numbers)."""
    if y < 0:  # the sign would make the integer parts' arithmetic differ
        top = y + PAD_Y
        return [num(top + k * LINE_HEIGHT + ASCENT) for k in range(count)]
    whole, tenth = divmod(round(y * 10), 10)
    frac = f".{tenth}" if tenth else ""
    first = whole + int(FIRST_LINE)
    return [f"{first + k * LINE_HEIGHT}{frac}" for k in range(count)]


def node_size(node) -> tuple[float, float]:
    w = node.cells * CHAR_WIDTH + 2 * PAD_X  # the widest line's text_width()
    h = len(node.lines) * LINE_HEIGHT + 2 * PAD_Y
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
    # per (widest line, lines): a long network's nodes have a few sizes
    size_of: dict = {}
    sizes = []
    for n in d.nodes:
        key = (n.cells, len(n.lines))
        wh = size_of.get(key)
        if wh is None:
            wh = size_of[key] = node_size(n)
        sizes.append(wh)
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
    outs: list[list[int]] = [[] for _ in boxes]
    ins: list[list[int]] = [[] for _ in boxes]
    for e, (u, v) in enumerate(d.edges):
        outs[u].append(e)
        ins[v].append(e)
    start: list = [None] * len(d.edges)
    end: list = [None] * len(d.edges)

    def first_across(e, at_end):
        pts = lay.edge_points[e]
        u, v = d.edges[e]
        if pts:
            return pts[-1 if at_end else 0][1]
        return lay.across[u if at_end else v]

    for v, es in enumerate(outs):
        if len(es) == 1:  # _port(box, 0, 1, tb, out=True): the middle of the side
            x, y, w, h = boxes[v]
            start[es[0]] = (x + w / 2, y + h) if tb else (x + w, y + h / 2)
            continue
        es = sorted(es, key=lambda e: (first_across(e, False), e))
        for k, e in enumerate(es):
            start[e] = _port(boxes[v], k, len(es), tb, out=True)
    for v, es in enumerate(ins):
        if len(es) == 1:  # _port(box, 0, 1, tb, out=False)
            x, y, w, h = boxes[v]
            end[es[0]] = (x + w / 2, y) if tb else (x, y + h / 2)
            continue
        es = sorted(es, key=lambda e: (first_across(e, True), e))
        for k, e in enumerate(es):
            end[e] = _port(boxes[v], k, len(es), tb, out=False)
    paths = []
    for a, pts, b in zip(start, lay.edge_points, end):
        if pts:
            paths.append([a, *[(c, p) if tb else (p, c) for p, c in pts], b])
        else:
            paths.append([a, b])
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


def _curve(points, tb, nums=None) -> str:
    nums = Numbers() if nums is None else nums
    if len(points) == 2:  # most edges: one segment, its text made in one piece
        (x0, y0), (x1, y1) = points
        if tb:
            m = nums[(y0 + y1) / 2]
            x0, x1 = nums[x0], nums[x1]
            return f"M{x0},{nums[y0]} C{x0},{m} {x1},{m} {x1},{nums[y1]}"
        m = nums[(x0 + x1) / 2]
        y0, y1 = nums[y0], nums[y1]
        return f"M{nums[x0]},{y0} C{m},{y0} {m},{y1} {nums[x1]},{y1}"
    x0, y0 = points[0]
    parts = [f"M{nums[x0]},{nums[y0]}"]
    for x1, y1 in points[1:]:
        if tb:
            m = nums[(y0 + y1) / 2]
            parts.append(f"C{nums[x0]},{m} {nums[x1]},{m} {nums[x1]},{nums[y1]}")
        else:
            m = nums[(x0 + x1) / 2]
            parts.append(f"C{m},{nums[y0]} {m},{nums[y1]} {nums[x1]},{nums[y1]}")
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
        ".legend-label{fill:#334155}.caption{fill:#0f172a}"
        + (".edge-label{fill:#475569}" if any(d.edge_labels) else "")
        + "</style>"
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
    # shared: an edge ends where its node's box starts, frames of a row of blocks share
    # their sides
    nums = Numbers()
    o.append('<g class="clusters">')
    for c, f in zip(d.clusters, frames):
        if f is None:
            continue
        pts, (x0, y0) = f
        d_attr = "M" + " L".join([f"{nums[x]},{nums[y]}" for x, y in pts]) + " Z"
        o.append(
            f'<g class="cluster" id="{c.id}"><path class="cluster-box" d="{d_attr}"/>'
            + _text(x0 + 8, y0 + 15, c.label, cls="cluster-label")
            + "</g>"
        )
    o.append("</g>")
    o.append('<g class="edges">')
    nodes = d.nodes
    ids = [n.id for n in nodes]
    append = o.append
    for (u, v), pts, label in zip(d.edges, paths, d.edge_labels):
        if tb and len(pts) == 2:  # most edges: _curve's one segment, inlined (100,000s)
            (x0, y0), (x1, y1) = pts
            m = nums[(y0 + y1) / 2]
            x0, x1 = nums[x0], nums[x1]
            curve = f"M{x0},{nums[y0]} C{x0},{m} {x1},{m} {x1},{nums[y1]}"
        else:
            curve = _curve(pts, tb, nums)
        if label:  # which output of the producer: beside the edge's middle
            if len(pts) == 2:
                (ax, ay), (bx, by) = pts
                mx, my = (ax + bx) / 2, (ay + by) / 2
            else:
                mx, my = pts[len(pts) // 2]
            at = (mx + 4, my + 4) if tb else (mx - 4, my - 4)
            append(
                f'<path class="edge" data-from="{ids[u]}" data-to="{ids[v]}" '
                f'data-output="{xml(label)}" d="{curve}" marker-end="url(#arrow)"/>'
                + _text(*at, label, cls="edge-label", size=10)
            )
            continue
        append(
            f'<path class="edge" data-from="{ids[u]}" data-to="{ids[v]}" '
            f'd="{curve}" marker-end="url(#arrow)"/>'
        )
    o.append("</g>")
    o.append('<g class="nodes">')
    # per node kind and family, and per label line: their text, made once
    heads: dict = {}
    plain: dict = {}
    bold: dict = {}
    for n, (x, y, w, h) in zip(nodes, boxes):
        head = heads.get((n.kind, n.family))
        if head is None:
            fill, stroke, _ = colours(n.family)
            dash = ' stroke-dasharray="4 2"' if n.kind == "collapsed" else ""
            head = heads[(n.kind, n.family)] = (
                f'" data-kind="{n.kind}" data-family="{xml(n.family)}"><rect class="node-box" x="',
                f'" rx="4" fill="{fill}" stroke="{stroke}"{dash}/>',
            )
        parts = [
            f'<g class="node" id="{n.id}{head[0]}{nums[x]}" y="{nums[y]}" width="{nums[w]}" '
            f'height="{nums[h]}{head[1]}'
        ]
        tx = f'<text class="line" x="{nums[x + PAD_X]}" y="'
        nb = n.bold
        lines = n.lines
        for k, (line, ly) in enumerate(zip(lines, line_ys(y, len(lines)))):
            texts = bold if k < nb else plain
            text = texts.get(line)
            if text is None:
                extra = ' font-weight="bold"' if texts is bold else ""
                text = texts[line] = f'"{extra}>{xml(line)}</text>'
            parts.append(f"{tx}{ly}{text}")
        parts.append("</g>")
        append("".join(parts))
    o.append("</g></g>")
    o += legend
    for k, line in enumerate(d.caption):
        o.append(
            _text(MARGIN, cap_top + k * LINE_HEIGHT + ASCENT, line, cls="caption", bold=k == 0)
        )
    o.append("</svg>")
    o.append("")  # the final newline, without copying the whole text to add it
    return "\n".join(o)


__all__ = ["render_svg", "geometry", "xml", "CHAR_WIDTH"]
