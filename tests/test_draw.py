"""`layercalc draw` (issue 17): every spec drawn as SVG, dot and mermaid, checked from
the output alone: nodes and edges counted against `shape --depth N`, node boxes that
never overlap, labels inside their boxes, escaping of hostile names, same bytes twice,
and the pictures under specs/pictures/ kept current.

Mermaid has no offline parser here (mermaid is JavaScript, rendered by GitHub), so its
output is checked against the flowchart grammar subset we emit with regular expressions
(`check_mermaid`)."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from layercalc.analyses.loading import analyse
from layercalc.analyses.totals import rows
from layercalc.draw import draw
from layercalc.draw.model import cells

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(glob.glob(str(ROOT / "specs" / "*.yaml")))
NS = "{http://www.w3.org/2000/svg}"
CHAR = 7.2  # px per character cell at 12 px: the contract of the SVG's font stack
ASCENT, DESCENT = 11.0, 4.0
BIG = 60  # specs with more leaf layers are checked at --depth 1
PICTURES = {
    "dcgan_graph.svg": ("dcgan_discriminator", {}),
    "dcgan_blocks.svg": ("dcgan_discriminator", {"style": "blocks"}),
    "resnet50_depth1.svg": ("resnet50", {"depth": 1}),
}
HOSTILE = """\
name: "<svg onload=alert(1)> & \\"quoted\\" \\u001b[31m\\nx"
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: "</text><script>alert(1)</script>", out_channels: 4, kernel_size: 3}
  - relu: {name: "a\\"b\\\\c]d-->e#quot;`x`\\u001b[2J&amp;'<br/>"}
  - relu: {name: "end"}
  - relu: {name: "名前名前名前名前名前名前名前名前名前名前名前名前名前名前名前名前名前名前\\u0301"}
  - relu: {name: "x\\\\nfoo\\\\l\\"];n1-->n2;subgraph", from: "</text><script>alert(1)</script>"}
  - add: {name: "q'\\"&lt;", from: [end, "x\\\\nfoo\\\\l\\"];n1-->n2;subgraph"]}
"""

_NETS: dict = {}


def net_of(path):
    if path not in _NETS:
        r = analyse(path)
        assert r.net is not None, r.diagnostics
        _NETS[path] = r.net
    return _NETS[path]


def depth_for(net):
    return 1 if len(net.layers) > BIG else None


def expected(net, depth):
    """(number of drawn layer nodes, the set of connections as (producer, consumer) node
    positions), computed from the groups directly rather than by layercalc.draw: a leaf
    belongs to the outermost group nested ``depth`` deep or more that holds it, or is a
    node itself; inputs come first."""
    inputs = list(net.spec.input_refs())
    owner = list(range(len(net.layers)))
    if depth is not None:
        for k in range(len(net.layers)):
            holders = [g for g in net.groups if g.depth >= depth and g.first <= k < g.last]
            if holders:
                g = min(holders, key=lambda g: (g.depth, g.first))
                owner[k] = ("g", g.first, g.last)
    keys = []
    for o in owner:
        if not keys or keys[-1] != o:
            keys.append(o)
    pos = {key: len(inputs) + i for i, key in enumerate(keys)}
    producer = {ref: (i, "") for i, ref in enumerate(inputs)}
    for k, layer in enumerate(net.layers):
        names = [n for n, _ in layer.named_outputs or ()] or [""]
        for name, (ref, _) in zip(names, layer.produced()):
            producer[ref] = (pos[owner[k]], str(name))  # several outputs: which one
    pairs = set()
    for k, layer in enumerate(net.layers):
        c = pos[owner[k]]
        for ref in layer.inputs:
            p, output = producer[ref]
            if p != c:
                pairs.add((p, c, output))
    return len(keys), pairs


def svg_nodes(root):
    out = []
    for g in root.iter(f"{NS}g"):
        if g.get("class") != "node":
            continue
        rect = g.find(f"{NS}rect")
        box = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
        lines = [
            (float(t.get("x")), float(t.get("y")), t.text or "") for t in g.findall(f"{NS}text")
        ]
        out.append((g.get("id"), g.get("data-kind"), box, lines))
    return out


def check_geometry(nodes):
    boxes = sorted(n[2] for n in nodes)
    for i, (x, y, w, h) in enumerate(boxes):  # no two boxes overlap (sweep on x)
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            if x2 >= x + w:
                break
            assert y2 >= y + h or y >= y2 + h2, f"boxes overlap: {(x, y, w, h)} {(x2, y2, w2, h2)}"
    for node_id, _, (x, y, w, h), lines in nodes:
        assert lines, node_id
        for tx, ty, text in lines:
            width = cells(text) * CHAR
            if text.isascii():
                assert width == len(text) * CHAR
            assert tx >= x + 1 and tx + width <= x + w - 1 + 1e-6, (node_id, text, w)
            assert ty - ASCENT >= y and ty + DESCENT <= y + h + 1e-6, (node_id, text)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).stem)
def test_svg_every_spec(path):
    net = net_of(path)
    depth = depth_for(net)
    svg = draw(net, "svg", depth)
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    nodes = svg_nodes(root)
    table = [r for r in rows(net, depth) if r.kind != "group"]
    drawn = [n for n in nodes if n[1] != "input"]
    assert len(drawn) == len(table)
    assert len(nodes) - len(drawn) == len(net.spec.input_refs())
    count, pairs = expected(net, depth)
    assert count == len(table)
    index = {n[0]: i for i, n in enumerate(nodes)}
    edges = [
        (index[p.get("data-from")], index[p.get("data-to")], p.get("data-output", ""))
        for p in root.iter(f"{NS}path")
        if p.get("class") == "edge"
    ]
    assert len(edges) == len(set(edges)) == len(pairs)
    assert set(edges) == pairs
    check_geometry(nodes)
    # the labels say the rows: name first, output shape on a line of its own
    for (_, _, _, lines), row in zip(nodes[len(nodes) - len(drawn) :], table):
        texts = [t for _, _, t in lines]
        assert texts[0] == row.name[: len(texts[0])]
        assert "→ [" + ", ".join(map(str, row.output)) + "]" in " ".join(texts)
    assert draw(net, "svg", depth) == svg  # deterministic


@pytest.mark.parametrize("path", SPECS, ids=lambda p: Path(p).stem)
def test_dot_and_mermaid_every_spec(path):
    net = net_of(path)
    depth = depth_for(net)
    _, pairs = expected(net, depth)
    dot = draw(net, "dot", depth)
    check_dot(dot, len(pairs))
    mmd = draw(net, "mermaid", depth)
    nodes, edges = check_mermaid(mmd)
    assert len(edges) == len(pairs)
    assert len(nodes) == len([r for r in rows(net, depth) if r.kind != "group"]) + len(
        net.spec.input_refs()
    )


def test_lr_direction_geometry():
    for name in ("resnet18", "unet", "transformer_classifier"):
        net = net_of(str(ROOT / "specs" / f"{name}.yaml"))
        root = ET.fromstring(draw(net, "svg", None, "LR"))
        check_geometry(svg_nodes(root))


_QUOTED = r'"(?:[^"\\\n]|\\.)*"'


def check_dot(text: str, n_edges: int):
    """Balanced braces outside quoted strings, every statement on its line, and one
    `a -> b;` line per connection."""
    depth = 0
    for line in text.splitlines():
        bare = re.sub(_QUOTED, "S", line)
        assert '"' not in bare, line  # every quote opens and closes on its line
        depth += bare.count("{") - bare.count("}")
        assert depth >= 0
    assert depth == 0
    lines = text.splitlines()
    assert re.fullmatch(r"digraph " + _QUOTED + r" \{", lines[0])
    assert lines[-1] == "}"
    edge = re.compile(r"  ([A-Za-z_]\w*) -> ([A-Za-z_]\w*)( \[label=" + _QUOTED + r"\])?;")
    assert sum(1 for line in lines if edge.fullmatch(line)) == n_edges
    node = re.compile(r"\s*[a-z]\d+ \[label=" + _QUOTED + r"(, \w+=" + _QUOTED + r")*\];")
    stmt = re.compile(
        r"\s*(\w+=(\w+|" + _QUOTED + r")(; \w+=(\w+|" + _QUOTED + r"))*;"
        r"|(node|edge) \[.*\];|subgraph cluster_\d+ \{|\})"
    )
    for line in lines[1:-1]:
        assert node.fullmatch(line) or edge.fullmatch(line) or stmt.fullmatch(line), line


_LABEL = r'"(?:[^"<>#]|#\d+;|<br/>)*"'


def check_mermaid(text: str):
    """The flowchart grammar we emit: a header, `id["label"]` nodes, `subgraph
    id["label"]` ... `end`, `a --> b` edges, classDef and class lines. Labels are in
    double quotes holding no quote, no `<` or `>` but our `<br/>`, no `#` but entity
    codes `#N;` (so no markup and no early end). Returns (node ids, edges)."""
    lines = text.splitlines()
    assert re.fullmatch(r"flowchart (TB|LR)", lines[0])
    nodes, edges, depth = [], [], 0
    ident = r"[a-z]\d+"
    for line in lines[1:]:
        if m := re.fullmatch(rf"\s*({ident})\[({_LABEL})\]", line):
            nodes.append(m.group(1))
        elif re.fullmatch(rf"\s*subgraph c\d+\[{_LABEL}\]", line):
            depth += 1
        elif re.fullmatch(r"\s*end", line):
            depth -= 1
            assert depth >= 0
        elif m := re.fullmatch(rf'    ({ident}) -->(?:\|"{_LABEL[1:-1]}"\|)? ({ident})', line):
            edges.append((m.group(1), m.group(2)))
        elif re.fullmatch(
            r"    classDef f_\w+ fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6},color:#[0-9a-f]{6}", line
        ):
            pass
        elif re.fullmatch(rf"    class {ident}(,{ident})* f_\w+", line):
            pass
        else:
            raise AssertionError(f"not flowchart grammar: {line!r}")
    assert depth == 0
    assert len(nodes) == len(set(nodes))
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges


def test_hostile_names_are_escaped(tmp_path):
    spec = tmp_path / "hostile.yaml"
    spec.write_text(HOSTILE, encoding="utf-8")
    r = analyse(str(spec))
    assert r.net is not None, r.diagnostics
    net = r.net
    svg = draw(net, "svg")
    root = ET.fromstring(svg)  # well-formed: nothing closed a text element early
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script" not in svg and "\x1b" not in svg
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "</text><script>alert(1)</script>" in texts
    assert root.find(f"{NS}title").text == '<svg onload=alert(1)> & "quoted" \\x1b[31m\\nx'
    check_geometry(svg_nodes(root))
    html = draw(net, "html")
    assert "<script>alert" not in html and "<svg onload" not in html
    assert html.count("<script>") == 1
    _, pairs = expected(net, None)
    check_dot(draw(net, "dot"), len(pairs))
    nodes, edges = check_mermaid(draw(net, "mermaid"))
    assert len(edges) == len(pairs)
    assert "#60;/text#62;#60;script#62;" in draw(net, "mermaid")
    blocks = draw(net, "svg", style="blocks")
    ET.fromstring(blocks)
    assert "<script" not in blocks


def test_html_is_self_contained():
    net = net_of(str(ROOT / "specs" / "resnet50.yaml"))
    html = draw(net, "html", 1)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 1 and html.count("<tr") == len(rows(net, 1)) + 1
    for ref in ("src=", "href=", "@import", "http:", "https:"):
        assert ref not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    svg = draw(net, "svg", 1)
    assert "url(" not in svg.replace("url(#arrow)", "")
    assert "xlink" not in svg and "<image" not in svg and "<script" not in svg


def test_readable_at_full_size():
    """Drawn at 1:1 (width and height are the viewBox's), 12 px text."""
    for name, depth in (("resnet50", 1), ("dcgan_discriminator", None)):
        root = ET.fromstring(draw(net_of(str(ROOT / "specs" / f"{name}.yaml")), "svg", depth))
        vb = [float(v) for v in root.get("viewBox").split()]
        assert [float(root.get("width")), float(root.get("height"))] == vb[2:]
        assert root.get("font-size") == "12"


@pytest.mark.parametrize("name", ["dcgan_discriminator", "lenet5"])
def test_blocks(name):
    net = net_of(str(ROOT / "specs" / f"{name}.yaml"))
    svg = draw(net, "svg", style="blocks")
    root = ET.fromstring(svg)
    blocks = [g for g in root.iter(f"{NS}g") if g.get("class") == "block"]
    shapes = [tuple(net.spec.input)]
    for r in rows(net):
        if r.kind == "layer" and tuple(r.output) != shapes[-1]:
            shapes.append(tuple(r.output))
    assert [tuple(int(v) for v in b.get("data-shape").split(",")) for b in blocks] == shapes
    spans = sorted((float(b.get("data-x")), float(b.get("data-width"))) for b in blocks)
    for (x1, w1), (x2, _) in zip(spans, spans[1:]):
        assert x1 + w1 < x2  # boxes side by side, never overlapping
    # labels of neighbouring boxes do not run into each other
    labels: dict = {}
    for t in root.iter(f"{NS}text"):
        if "line" in (t.get("class") or "").split():
            labels.setdefault(float(t.get("y")), []).append((float(t.get("x")), t.text))
    for row in labels.values():
        row.sort()
        for (x1, t1), (x2, _) in zip(row, row[1:]):
            assert x1 + cells(t1) * CHAR < x2, (t1, x1, x2)
    assert draw(net, "svg", style="blocks") == svg


def test_blocks_vgg_fits():
    net = net_of(str(ROOT / "specs" / "vgg16.yaml"))
    root = ET.fromstring(draw(net, "svg", style="blocks"))
    assert float(root.get("height")) < 600  # log-scaled: 224-pixel maps stay small


def _cli(*args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    env.update(kw.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "layercalc", "draw", *map(str, args)],
        capture_output=True,
        cwd=ROOT,
        env=env,
        check=False,
        **kw,
    )


def test_cli_outputs(tmp_path):
    spec = ROOT / "specs" / "dcgan_discriminator.yaml"
    out = _cli(spec)
    assert out.returncode == 0, out.stderr
    ET.fromstring(out.stdout)
    for suffix, start in (
        (".html", b"<!DOCTYPE html>"),
        (".dot", b"digraph"),
        (".mmd", b"flowchart TB"),
        (".svg", b"<svg"),
    ):
        target = tmp_path / f"d{suffix}"
        r = _cli(spec, "-o", target)
        assert r.returncode == 0 and r.stdout == b"", r.stderr
        assert target.read_bytes().startswith(start)
    r = _cli(spec, "--format", "mermaid", "--direction", "LR")
    assert r.stdout.startswith(b"flowchart LR")
    # a different hash seed, another process: the same bytes
    a = _cli(ROOT / "specs" / "resnet50.yaml", "--depth", "1", env={"PYTHONHASHSEED": "1"})
    b = _cli(ROOT / "specs" / "resnet50.yaml", "--depth", "1", env={"PYTHONHASHSEED": "2"})
    assert a.returncode == 0 and a.stdout == b.stdout


def test_cli_refusals(tmp_path):
    spec = ROOT / "specs" / "lenet5.yaml"
    r = _cli(spec, "--style", "blocks", "--format", "dot")
    assert r.returncode == 2 and b"--style blocks" in r.stderr
    r = _cli(tmp_path / "missing.yaml")
    assert r.returncode == 1 and b"error: " in r.stderr and b"[unreadable]" in r.stderr
    r = _cli(spec, "-o", tmp_path)
    assert r.returncode == 1 and b"cannot write" in r.stderr
    assert sorted(os.listdir(tmp_path)) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 3, 4, 4]\nlayers:\n  - conv2d: {out_channels: 2, kernel_size: 5}\n")
    r = _cli(bad, "-o", tmp_path / "x.svg")
    assert r.returncode == 1 and b"output-too-small" in r.stderr
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("picture", sorted(PICTURES))
def test_pictures_are_current(picture):
    """specs/pictures/ are this tool's output; regenerate with
    `layercalc draw SPEC [--depth N] [--style blocks] -o specs/pictures/NAME.svg`."""
    name, kw = PICTURES[picture]
    net = net_of(str(ROOT / "specs" / f"{name}.yaml"))
    fresh = draw(net, "svg", kw.get("depth"), style=kw.get("style", "graph"))
    assert (ROOT / "specs" / "pictures" / picture).read_text(encoding="utf-8") == fresh


SHARED = """\
input: [1, 3, 8, 8]
blocks:
  pair:
    layers:
      - conv2d: {name: a, out_channels: 4, kernel_size: 3, padding: 1}
      - chunk: {name: halves, chunks: 2, dim: 1}
      - mul: {from: [halves, halves.1]}
layers:
  - conv2d: {name: c, out_channels: 3, kernel_size: 3, padding: 1}
  - relu: {name: r}
  - share: c
  - share: r
  - concat: {from: [r, r], dim: 1}
  - pair: {name: p}
  - pair: {name: q, from: r}
  - add: {from: [p, q]}
"""


@pytest.mark.parametrize("depth", [None, 0, 1, 2])
@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_shared_calls_named_outputs_and_depths(tmp_path, depth, direction):
    """`share:` (refs NAME@CALL), a type with several outputs (halves.1), `from` into a
    collapsed group, every depth and both directions."""
    spec = tmp_path / "shared.yaml"
    spec.write_text(SHARED)
    r = analyse(str(spec))
    assert r.net is not None, r.diagnostics
    net = r.net
    root = ET.fromstring(draw(net, "svg", depth, direction))
    nodes = svg_nodes(root)
    count, pairs = expected(net, depth)
    assert len(nodes) == count + 1
    edges = [p for p in root.iter(f"{NS}path") if p.get("class") == "edge"]
    assert len(edges) == len(pairs)
    check_geometry(nodes)
    nodes_m, edges_m = check_mermaid(draw(net, "mermaid", depth, direction))
    assert len(nodes_m) == count + 1 and len(edges_m) == len(pairs)
    check_dot(draw(net, "dot", depth, direction), len(pairs))


@pytest.mark.parametrize("name", ["resnet18", "shufflenet_v2_x1_0", "gpt2_small", "unet"])
def test_every_depth_of_nested_specs(name):
    net = net_of(str(ROOT / "specs" / f"{name}.yaml"))
    for depth in range(0, 4):
        root = ET.fromstring(draw(net, "svg", depth))
        nodes = svg_nodes(root)
        count, pairs = expected(net, depth)
        assert len(nodes) == count + len(net.spec.input_refs())
        assert len([p for p in root.iter(f"{NS}path") if p.get("class") == "edge"]) == len(pairs)
        check_geometry(nodes)


def test_the_spec_itself_is_never_the_output(tmp_path):
    from conftest import cli_runner

    from layercalc.cli import main

    spec = tmp_path / "own.yaml"
    spec.write_text((ROOT / "specs" / "lenet5.yaml").read_text())
    before = spec.read_bytes()
    r = cli_runner().invoke(main, ["draw", str(spec), "-o", str(spec)])
    assert r.exit_code == 1 and "which is being drawn" in r.stderr
    assert spec.read_bytes() == before


def test_an_output_suffix_draw_cannot_write_is_refused_before_anything_is_written(tmp_path):
    from conftest import cli_runner

    from layercalc.cli import main

    spec = str(ROOT / "specs" / "lenet5.yaml")
    png = tmp_path / "net.png"
    r = cli_runner().invoke(main, ["draw", spec, "-o", str(png)])
    assert r.exit_code == 2 and "no '.png' file" in r.stderr and "--format" in r.stderr
    assert not png.exists()
    # --format says what to write whatever the name; no suffix means svg
    r = cli_runner().invoke(main, ["draw", spec, "-o", str(png), "--format", "svg"])
    assert r.exit_code == 0 and png.read_text().startswith("<svg")
    r = cli_runner().invoke(main, ["draw", spec, "-o", str(tmp_path / "net")])
    assert r.exit_code == 0 and (tmp_path / "net").read_text().startswith("<svg")


def test_an_edge_per_output_read_and_named_outputs_in_the_caption():
    """`mul: {from: [c, c.1]}` reads two outputs of one chunk: two edges, each saying
    which output (it was one edge, as for `from: [c, c]`); an LSTM's output and h_n
    likewise; the caption names several named outputs."""
    from conftest import net_of as net_of_text

    net = net_of_text(
        """\
        input: [1, 4, 6]
        layers:
          - chunk: {name: c, chunks: 2, dim: 1}
          - mul: {from: [c, c.1]}
          - lstm: {name: l, hidden_size: 6, batch_first: true, from: 1}
          - add: {from: [l, l.h_n]}
        outputs: [l.c_n, 3]
        """
    )
    dot = draw(net, "dot")
    assert '  n1 -> n2 [label="0"];' in dot and '  n1 -> n2 [label="1"];' in dot
    assert '  n3 -> n4 [label="output"];' in dot and '  n3 -> n4 [label="h_n"];' in dot
    assert "  i0 -> n1;" in dot  # one output: no label
    mmd = draw(net, "mermaid")
    assert '    n1 -->|"1"| n2' in mmd and '    n3 -->|"h_n"| n4' in mmd
    root = ET.fromstring(draw(net, "svg"))
    outs = [
        (p.get("data-from"), p.get("data-to"), p.get("data-output"))
        for p in root.iter(f"{NS}path")
        if p.get("class") == "edge"
    ]
    assert ("n1", "n2", "0") in outs and ("n1", "n2", "1") in outs and ("n2", "n3", None) in outs
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "edge-label"]
    assert sorted(labels) == ["0", "1", "h_n", "output"]
    caption = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "caption"]
    assert caption[-1] == "input [1, 4, 6] → output l.c_n [1, 1, 6], 3 [1, 2, 6]"
