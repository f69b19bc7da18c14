"""`layercalc draw`: a network as a picture (SVG, HTML) or as graph text (dot, mermaid).

- model: the diagram at a depth (nodes = the non-group rows of `shape --depth N` plus the
  inputs, edges = distinct producer -> consumer pairs, clusters = the open groups);
- layout: a layered DAG layout of our own (longest-path ranks, dummy points for long
  edges, barycenter ordering, isotonic coordinate sweeps): see its docstring for why no
  package;
- svg / blocks / html / textual: the renderers.

Text widths are estimated, not measured: a monospace font stack (DejaVu Sans Mono,
Menlo, Consolas, monospace) at 12 px is 7.2 px per character cell (two for East Asian
wide characters), so boxes fit their labels without a font file or a browser. Output is
a pure function of the network: the same spec gives the same bytes.
"""

from __future__ import annotations

FORMATS = ("svg", "html", "dot", "mermaid")
STYLES = ("graph", "blocks")
DIRECTIONS = ("TB", "LR")
SUFFIXES = {
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}


def draw(
    net, fmt: str = "svg", depth: int | None = None, direction: str = "TB", style: str = "graph"
) -> str:
    """The drawing of ``net`` as text in ``fmt``; raises ValueError for blocks as dot or
    mermaid (they are pictures only)."""
    from ..graph import gc_paused

    if style == "blocks" and fmt not in ("svg", "html"):
        raise ValueError("--style blocks is a picture: use --format svg or html")
    with gc_paused():  # the nodes, boxes and strings of 100,000 layers: see gc_paused
        return _draw(net, fmt, depth, direction, style)


def _draw(net, fmt: str, depth: int | None, direction: str, style: str) -> str:
    from .model import diagram

    d = diagram(net, depth)
    if style == "blocks":
        from .blocks import render_blocks

        svg = render_blocks(net, d, depth)
    elif fmt == "dot":
        from .textual import render_dot

        return render_dot(d, direction)
    elif fmt == "mermaid":
        from .textual import render_mermaid

        return render_mermaid(d, direction)
    else:
        from .svg import render_svg

        svg = render_svg(d, direction)
    if fmt == "svg":
        return svg
    from .html import render_html

    return render_html(svg, d.table, d.title, d.caption)
