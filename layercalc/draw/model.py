"""The diagram of a network at a depth, as plain data: nodes (one per non-group row of
`layercalc shape --depth N`, plus one per network input), the edges between them (one
per distinct producer -> consumer pair of `from` references), and the groups drawn as
clusters (the group rows that stay open at that depth)."""

from __future__ import annotations

from ..analyses.totals import network_totals, rows
from ..text import cells, printable, shape_text

CHAR_WIDTH = 7.2  # px per character cell of a monospace font at 12 px
LINE_HEIGHT = 15  # px between baselines
FONT_SIZE = 12
MAX_LINE = 44  # characters per label line before wrapping


def text_width(text: str) -> float:
    return cells(text) * CHAR_WIDTH


def wrap(text: str, limit: int = MAX_LINE) -> list[str]:
    """``text`` (already printable) in lines of at most ``limit`` cells: broken at spaces
    where it can, inside a word where it must (a long hostile name)."""
    if cells(text) <= limit:
        return [text]
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        while cells(word) > limit:
            room = limit - cells(line) - (1 if line else 0)
            if room < 8:
                if line:
                    out.append(line)
                line, room = "", limit
            head, word = _cut(word, room)
            out.append(f"{line} {head}" if line else head)
            line = ""
        if not line:
            line = word
        elif cells(line) + 1 + cells(word) <= limit:
            line = f"{line} {word}"
        else:
            out.append(line)
            line = word
    if line or not out:
        out.append(line)
    return out


def _cut(word: str, room: int) -> tuple[str, str]:
    n = 0
    for i, c in enumerate(word):
        n += cells(c)
        if n > room:
            return word[:i] or word[:1], word[i:] or word[1:]
    return word, ""


def number(n: int) -> str:
    return f"{n:,}"


def si(n: int) -> str:
    """A count shortly: 23.5M, 4.1G, 9,408."""
    for div, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return number(n)


class Node:
    __slots__ = (
        "id",
        "kind",
        "name",
        "family",
        "lines",
        "output",
        "params",
        "macs",
        "index",
        "bold",
        "cells",
    )

    def __init__(
        self, id, kind, name, family, lines, output, params=0, macs=0, index=0, bold=1, widest=0
    ):
        self.id = id  # "n0", "n1", ... (inputs: "i0", ...)
        self.kind = kind  # "layer", "collapsed" or "input"
        self.name = name  # raw spec text
        self.family = family
        self.lines = lines  # label lines, printable (not yet escaped for a format)
        self.output = output
        self.params = params
        self.macs = macs
        self.index = index  # position among the drawn nodes (inputs first)
        self.bold = bold  # how many first lines hold the name (drawn bold)
        self.cells = widest  # character cells of the widest line


class Cluster:
    __slots__ = ("id", "name", "type", "parent", "members", "label")

    def __init__(self, id, name, type, parent):
        self.id = id
        self.name = name
        self.type = type
        self.parent = parent  # index of the enclosing drawn cluster, or None
        self.members: list[int] = []  # node indices, directly or nested
        self.label = printable(f"{name} ({type})")


class Diagram:
    __slots__ = (
        "title",
        "nodes",
        "edges",
        "edge_labels",
        "clusters",
        "paths",
        "rows",
        "table",
        "caption",
        "unknown",
    )

    def __init__(self):
        self.title = ""
        self.nodes: list[Node] = []
        self.edges: list[tuple[int, int]] = []
        # per edge: the producer's output it carries (chunk's "1", an LSTM's "h_n"),
        # printable, where the producer has several; else ""
        self.edge_labels: list[str] = []
        self.clusters: list[Cluster] = []
        self.paths: list[tuple] = []  # per node: cluster indices, outermost first
        self.rows: list = []  # the non-group rows, one per layer/collapsed node
        self.table: list = []  # every row, group headers too (html's table)
        self.caption: list[str] = []
        self.unknown: list[str] = []  # refs no drawn node produces (should stay empty)


class _Labels:
    """Label lines of rows: the lines after the name (type and arguments, output shape,
    parameters) made once per distinct row record, as the equal layers of a long network
    share them."""

    def __init__(self):
        self.rest: dict = {}

    def __call__(self, row) -> tuple[list[str], int, int]:
        """(lines, how many hold the name, cells of the widest)."""
        name = wrap(printable(row.name))
        out = row.output
        key = (row.kind, row.type, row.args, out if type(out) is tuple else shape_text(out))
        key += (row.params,)
        rest = self.rest.get(key)
        if rest is None:
            lines = self._rest(row)
            rest = self.rest[key] = (lines, max(map(cells, lines)))
        return name + rest[0], len(name), max(max(map(cells, name)), rest[1])

    @staticmethod
    def _rest(row) -> list[str]:
        head = row.type if not row.args else f"{row.type} {row.args}"
        if row.kind == "collapsed":
            head = f"{row.type} · {row.args}"
        lines = wrap(printable(head))
        lines += wrap("→ " + shape_text(row.output))
        if row.params:
            lines.append(f"{number(row.params)} params")
        return lines


def diagram(net, depth: int | None = None) -> Diagram:
    """The nodes, edges and clusters of ``net`` as `shape --depth depth` shows it (None:
    every layer)."""
    d = Diagram()
    d.title = printable(net.name)
    for ref, shape in net.spec.input_refs().items():
        idx = len(d.nodes)
        name = wrap(printable(ref))
        lines = name + wrap("→ " + shape_text(shape))
        widest = max(map(cells, lines))
        d.nodes.append(
            Node(
                f"i{idx}", "input", ref, "input", lines, tuple(shape), 0, 0, idx, len(name), widest
            )
        )
        d.paths.append(())
    producer: dict[str, int] = {n.name: n.index for n in d.nodes}
    output_of: dict[str, str] = {}  # ref -> its output's name, for several outputs
    d.table = rows(net, depth)
    table = [r for r in d.table if r.kind != "group"]
    d.rows = table
    # walk the layers as rows() does: which layers each node holds, which groups stay open
    starts: dict[int, list[int]] = {}
    for gi, g in enumerate(net.groups):
        starts.setdefault(g.first, []).append(gi)
    spans: list[range] = []
    open_: list[tuple[int, int]] = []  # (group's last layer, cluster index)
    gcluster: dict[int, int] = {}
    layers = net.layers
    path: tuple = ()  # the open clusters' indices, remade only when they change
    i = 0
    while i < len(layers):
        while open_ and open_[-1][0] <= i:
            open_.pop()
            path = ()
        step = None
        for gi in starts.get(i, ()):
            g = net.groups[gi]
            if depth is not None and g.depth >= depth:
                step = range(g.first, g.last)
                break
            c = Cluster(f"c{len(d.clusters)}", g.name, g.type, open_[-1][1] if open_ else None)
            gcluster[gi] = len(d.clusters)
            d.clusters.append(c)
            open_.append((g.last, gcluster[gi]))
            while open_ and open_[-1][0] <= i:  # an empty group closes at once
                open_.pop()
            path = ()
        if step is None:
            step = range(i, i + 1)
        spans.append(step)
        if len(path) != len(open_):
            path = tuple(c for _, c in open_)
        d.paths.append(path)
        i = max(step.stop, i + 1)
    if len(spans) != len(table):  # cannot happen: the walk is rows()'s
        raise AssertionError(f"{len(spans)} spans for {len(table)} rows")
    label = _Labels()
    for span, row in zip(spans, table):
        idx = len(d.nodes)
        if row.kind == "layer":
            family = layers[span.start].type.family
        else:
            family = "group"
        lines, bold, widest = label(row)
        d.nodes.append(
            Node(
                f"n{idx}",
                row.kind,
                row.name,
                family,
                lines,
                row.output,
                row.params,
                row.macs,
                idx,
                bold,
                widest,
            )
        )
        for k in span:
            layer = layers[k]
            if layer.named_outputs is None:  # one output: produced() without its list
                producer[layer.ref] = idx
            else:
                for (name, _), (ref, _) in zip(layer.named_outputs, layer.produced()):
                    producer[ref] = idx
                    output_of[ref] = printable(str(name))
    first = len(d.nodes) - len(spans)
    for idx, span in enumerate(spans, first):
        seen = set()  # this consumer's (producer, output) pairs (consumers come in turn)
        for k in span:
            for ref in layers[k].inputs:
                p = producer.get(ref)
                if p is None:
                    d.unknown.append(ref)
                    continue
                label = output_of.get(ref, "")
                if p != idx and (p, label) not in seen:  # `from: [c, c.1]`: two edges
                    seen.add((p, label))
                    d.edges.append((p, idx))
                    d.edge_labels.append(label)
    for idx, path in enumerate(d.paths):
        for c in path:
            d.clusters[c].members.append(idx)
    t = network_totals(net)
    outs = net.outputs
    named = bool(net.spec.outputs)
    out_text = ", ".join(
        (f"{printable(n)} " if named else "") + shape_text(s) for n, s in outs.items()
    )
    d.caption = [
        d.title,
        f"{number(t['layers'])} layers · {number(t['params'])} params "
        f"({number(t['trainable'])} trainable) · {number(t['buffers'])} buffers · "
        f"{si(t['macs'])} MACs",
        "input "
        + ", ".join(shape_text(s) for s in net.spec.input_refs().values())
        + " → output "
        + out_text,
    ]
    return d
