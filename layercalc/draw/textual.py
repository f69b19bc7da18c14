"""The graph as text for other tools: Graphviz dot and Mermaid flowcharts.

Spec text (names, types, arguments) is printable() first, then quoted for the format:
dot labels are double-quoted with backslashes and quotes backslash-escaped (so a name
cannot close the string, and ``\\n``/``\\l`` in a name stay literal text); mermaid
labels are double-quoted with every character outside a small safe set written as a
numeric entity code (``#34;`` for a quote, ``#60;`` for ``<``, ``#35;`` for ``#``), so a
name can neither end the label nor become HTML or Markdown inside it.
"""

from __future__ import annotations

import re

from .model import Diagram
from .svg import colours


def dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(d: Diagram, direction: str = "TB") -> str:
    o = [f"digraph {dot_quote(d.title)} {{"]
    o.append(f"  rankdir={direction};")
    o.append(
        '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans Mono", fontsize=10];'
    )
    o.append('  edge [color="#475569"];')
    o.append("  label=" + dot_quote("\n".join(d.caption)).replace("\n", "\\n") + ";")
    children: dict = {}
    for ci, c in enumerate(d.clusters):
        children.setdefault(c.parent, []).append(ci)
    direct: dict = {}
    for n in d.nodes:
        path = d.paths[n.index]
        direct.setdefault(path[-1] if path else None, []).append(n)

    def emit(ci, indent):
        pad = "  " * indent
        for n in direct.get(ci, ()):
            fill, stroke, _ = colours(n.family)
            style = ', style="rounded,filled,dashed"' if n.kind == "collapsed" else ""
            label = dot_quote("\n".join(n.lines)).replace("\n", "\\n")
            o.append(f'{pad}{n.id} [label={label}, fillcolor="{fill}", color="{stroke}"{style}];')
        for k in children.get(ci, ()):
            c = d.clusters[k]
            o.append(f"{pad}subgraph cluster_{k} {{")
            o.append(f"{pad}  label={dot_quote(c.label)};")
            o.append(f'{pad}  style="dashed,rounded"; color="#94a3b8";')
            emit(k, indent + 1)
            o.append(f"{pad}}}")

    emit(None, 1)
    for (u, v), label in zip(d.edges, d.edge_labels):
        extra = f" [label={dot_quote(label)}]" if label else ""
        o.append(f"  {d.nodes[u].id} -> {d.nodes[v].id}{extra};")
    o.append("}")
    return "\n".join(o) + "\n"


_SAFE = re.compile(r"[A-Za-z0-9 _.,:=/()\[\]+*×→·-]")
_ALL_SAFE = re.compile(r"[A-Za-z0-9 _.,:=/()\[\]+*×→·-]*")


def mermaid_text(text: str) -> str:
    """printable() text for inside a double-quoted mermaid label: every character but
    letters, digits, space and ``_.,:=/()[]+*-×→·`` as a decimal entity code ``#N;``."""
    if _ALL_SAFE.fullmatch(text):  # most labels: nothing to write as a code
        return text
    return "".join(c if _SAFE.fullmatch(c) else f"#{ord(c)};" for c in text)


def render_mermaid(d: Diagram, direction: str = "TB") -> str:
    o = [f"flowchart {direction}"]
    children: dict = {}
    for ci, c in enumerate(d.clusters):
        children.setdefault(c.parent, []).append(ci)
    direct: dict = {}
    for n in d.nodes:
        path = d.paths[n.index]
        direct.setdefault(path[-1] if path else None, []).append(n)

    def emit(ci, indent):
        pad = "    " * indent
        for n in direct.get(ci, ()):
            label = "<br/>".join(mermaid_text(t) for t in n.lines)
            o.append(f'{pad}{n.id}["{label}"]')
        for k in children.get(ci, ()):
            c = d.clusters[k]
            o.append(f'{pad}subgraph {c.id}["{mermaid_text(c.label)}"]')
            emit(k, indent + 1)
            o.append(f"{pad}end")

    emit(None, 1)
    for (u, v), label in zip(d.edges, d.edge_labels):
        extra = f'|"{mermaid_text(label)}"|' if label else ""
        o.append(f"    {d.nodes[u].id} -->{extra} {d.nodes[v].id}")
    used: dict = {}
    for n in d.nodes:
        used.setdefault(n.family, []).append(n.id)
    for fam, ids in used.items():
        fill, stroke, _ = colours(fam)
        cls = "f_" + re.sub(r"[^a-z0-9]", "_", fam.lower())
        o.append(f"    classDef {cls} fill:{fill},stroke:{stroke},color:#0f172a")
        o.append(f"    class {','.join(ids)} {cls}")
    return "\n".join(o) + "\n"
