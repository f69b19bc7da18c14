"""A layered (Sugiyama-style) layout of a diagram, written here rather than taken from a
package: runtime dependencies stay click, rich, pyyaml and numpy, no Graphviz is needed,
and a few hundred lines of plain Python are deterministic (same graph, same floats, same
bytes) and fast enough (ResNet-50 at --depth 1 in about 15 ms, ResNet-152 in full,
515 nodes, in about 0.3 s with the SVG). grandalf (a pure-Python Sugiyama) was the
alternative; it adds a dependency for the same four steps and its layering and ordering
are harder to keep stable across versions.

The four steps:

1. ranks: longest path from the inputs, nodes being in execution order (a topological
   order); a node with no producer (a free tensor) sits just above its first consumer;
2. every edge spanning several ranks gets one dummy point per rank it crosses, so long
   edges (skip connections) become chains the ordering can route around nodes;
3. order within each rank: barycenter sweeps down and up (ties keep real nodes before
   dummies, so a skip connection runs beside the main path, not through it), the members
   of each cluster kept side by side, keeping the order with the fewest crossings;
4. coordinates across the ranks: each sweep moves every node towards the weighted mean of
   its neighbours (edges between real nodes weigh 8, to a dummy 2, between dummies 1, as
   Graphviz weighs them, so the main path stays straight) by isotonic regression under the
   order and minimum separations, which also leaves room for the clusters' frames.

A cluster's frame is its bounding rectangle, or, when another node would fall inside
that, a staircase outline following its members rank by rank.

Sizes are in pixels, along (the rank axis) and across; the caller maps them to x and y
for top-to-bottom or left-to-right drawing.
"""

from __future__ import annotations

import bisect
from array import array

NODE_GAP = 24.0  # across, between neighbours
RANK_GAP = 36.0  # along, between ranks
DUMMY_SIZE = 8.0  # across size of a dummy point
SWEEPS = 8


class Layout:
    __slots__ = ("along", "across", "ranks", "edge_points", "size", "bands", "frames", "labels")

    def __init__(self):
        self.along: list[float] = []  # per node: centre on the rank axis
        self.across: list[float] = []  # per node: centre across
        self.ranks: list[int] = []
        self.edge_points: list[list[tuple[float, float]]] = []  # per edge: dummies' (along, across)
        self.size = (0.0, 0.0)  # (along, across) extent
        self.bands: list[tuple[float, float]] = []  # per rank: (start, end) along
        # per cluster: its outline, (along, across) corners of a staircase polygon that
        # follows its members rank by rank (so a node beside it stays outside), or []
        self.frames: list[list[tuple[float, float]]] = []
        self.labels: list[tuple[float, float]] = []  # per cluster: its label's corner


def layout(sizes, edges, paths, inputs=(), pads=None) -> Layout:
    """``sizes``: (along, across) per node; ``edges``: (u, v) with u < v; ``paths``:
    per node the cluster indices containing it, outermost first; ``pads``: per cluster
    (before along, after along, before across, after across) frame margins."""
    n = len(sizes)
    pads = pads or []
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        preds[v].append(u)
        succs[u].append(v)
    rank = [0] * n
    for v in range(n):
        p = preds[v]
        if len(p) == 1:
            rank[v] = rank[p[0]] + 1
        elif p:
            rank[v] = max(rank[u] for u in p) + 1
    inputs = set(inputs)
    for v in range(n - 1, -1, -1):  # free tensors: just above their first consumer
        if not preds[v] and v not in inputs and succs[v]:
            rank[v] = max(0, min(rank[s] for s in succs[v]) - 1)
    # dummies
    total = n
    dpath: list[tuple] = []
    chains: list[list[int]] = []
    g_preds = [list(p) for p in preds]
    g_succs = [list(s) for s in succs]
    for u, v in edges:
        if rank[v] == rank[u] + 1:  # no rank between: no dummy
            chains.append([])
            continue
        chain = [u]
        common = _common(paths[u], paths[v])
        for r in range(rank[u] + 1, rank[v]):
            rank.append(r)
            dpath.append(common)
            g_preds.append([])
            g_succs.append([])
            chain.append(total)
            total += 1
        chain.append(v)
        if len(chain) > 2:
            g_succs[u].remove(v)
            g_preds[v].remove(u)
            for a, b in zip(chain, chain[1:]):
                g_succs[a].append(b)
                g_preds[b].append(a)
        chains.append(chain[1:-1])
    allpaths = list(paths) + dpath
    nranks = max(rank, default=-1) + 1
    layers: list[list[int]] = [[] for _ in range(nranks)]
    for v in range(total):  # real nodes in execution order, then dummies by edge
        layers[rank[v]].append(v)
    layers = _order(layers, g_preds, g_succs, n, allpaths)
    # along: rank positions, with room for frames that open or close between ranks
    thick = []
    for layer in layers:
        if len(layer) == 1:
            v = layer[0]
            thick.append(sizes[v][0] if v < n else 0.0)
        else:
            thick.append(max((sizes[v][0] for v in layer if v < n), default=0.0))
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for v in range(n):
        if paths[v]:
            r = rank[v]
            for c in paths[v]:
                first[c] = min(first.get(c, r), r)
                last[c] = max(last.get(c, r), r)
    before = [0.0] * (nranks + 1)
    after = [0.0] * (nranks + 1)
    for c, r in first.items():
        before[r] = max(before[r], pads[c][0])
    for c, r in last.items():
        after[r] = max(after[r], pads[c][1])
    pos = []
    at = before[0] if nranks else 0.0
    for r in range(nranks):
        pos.append(at + thick[r] / 2)
        at += thick[r] + after[r] + RANK_GAP + (before[r + 1] if r + 1 < nranks else 0.0)
    at = at - RANK_GAP if nranks else at
    # across
    width = [sizes[v][1] if v < n else DUMMY_SIZE for v in range(total)]
    x = [0.0] * total
    seps = []
    for layer in layers:
        if len(layer) == 1:  # a chain's ranks: nothing to separate, the node at 0.0
            seps.append([0.0])
            continue
        sep = [0.0] + [
            _sep(layer[j - 1], layer[j], width, allpaths, pads) for j in range(1, len(layer))
        ]
        seps.append(sep)
        cur = 0.0
        for j, v in enumerate(layer):
            if j:
                cur += sep[j]
            x[v] = cur
    # per direction and rank: (v, u) for a rank of one node v whose one neighbour is u
    # (its weighted mean is x[u] exactly: the weights are powers of two), (v, -1) for one
    # node without neighbours (it stays), (a, u, b, w) for two nodes of one neighbour
    # each, None for the rest, done in full
    plans = ([], [])
    for plan, nbrs in zip(plans, (g_preds, g_succs)):  # a direction at a time: fewer tuples
        for layer in layers:
            if len(layer) == 1 and len(nbrs[layer[0]]) < 2:
                nb = nbrs[layer[0]]
                plan.append((layer[0], nb[0] if nb else -1))
            elif len(layer) == 2 and len(nbrs[layer[0]]) == len(nbrs[layer[1]]) == 1:
                plan.append((layer[0], nbrs[layer[0]][0], layer[1], nbrs[layer[1]][0]))
            else:
                plan.append(None)
    # edges between real nodes weigh 8, a real node to a dummy 2, between dummies 1
    down_nb: list = [None] * total
    up_nb: list = [None] * total
    weights: list = [None] * nranks
    for plan, nbrs, nb in zip(plans, (g_preds, g_succs), (down_nb, up_nb)):
        for r, layer in enumerate(layers):
            if plan[r] is None:
                for v in layer:
                    nb[v] = [
                        (u, 8.0 if u < n and v < n else 2.0 if u < n or v < n else 1.0)
                        for u in nbrs[v]
                    ]
    for r, layer in enumerate(layers):
        if len(layer) > 1:
            weights[r] = [4.0 if v < n else 1.0 for v in layer]
    # a sweep is a pure function of the positions and its direction, so once the
    # positions after a sweep equal (bit for bit) those two sweeps before, the rest of
    # the sweeps repeat the last two: a chain of layers settles after two, not eight
    states = [array("d", x).tobytes()]
    kept = [list(x)]
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        nbrs = down_nb if down else up_nb
        plan = plans[0] if down else plans[1]
        for r in range(nranks) if down else range(nranks - 1, -1, -1):
            one = plan[r]
            if one is not None:  # + 0.0: as the mean would, -0.0 becomes 0.0
                if len(one) == 2:
                    v, u = one
                    x[v] = round(x[u if u >= 0 else v] + 0.0, 3)
                else:
                    a, u, b, w = one
                    x[a], x[b] = _isotonic2((x[u] + 0.0, x[w] + 0.0), weights[r], seps[r])
                continue
            layer = layers[r]
            if len(layer) == 1:  # a rank of one node (a chain of layers): as _isotonic
                v = layer[0]
                s = t = 0.0
                for u, w in nbrs[v]:
                    s += w
                    t += w * x[u]
                o = 0.0 + seps[r][0]
                x[v] = round(t / s - o + o, 3)
                continue
            want = []
            for v in layer:
                nb = nbrs[v]
                if len(nb) == 1:  # the mean of one: exact, as above
                    want.append(x[nb[0][0]] + 0.0)
                    continue
                s = t = 0.0
                for u, w in nb:
                    s += w
                    t += w * x[u]
                want.append(t / s if s else x[v])
            if len(layer) == 2:  # a node beside a skip connection
                x[layer[0]], x[layer[1]] = _isotonic2(want, weights[r], seps[r])
                continue
            for v, val in zip(layer, _isotonic(want, weights[r], seps[r])):
                x[v] = val
        states.append(array("d", x).tobytes())
        kept.append(list(x))
        if len(states) >= 3 and states[-1] == states[-3]:
            # states repeat with period two from here: the last sweep's state is the one
            # of the same parity
            left = SWEEPS - 1 - sweep
            x = kept[-1] if left % 2 == 0 else kept[-2]
            break
        del kept[:-2], states[:-2]
    margins = {path: (_margin(path, pads, 2), _margin(path, pads, 3)) for path in set(allpaths)}
    lo = min((x[v] - width[v] / 2 - margins[allpaths[v]][0] for v in range(total)), default=0.0)
    hi = max((x[v] + width[v] / 2 + margins[allpaths[v]][1] for v in range(total)), default=0.0)
    out = Layout()
    out.ranks = rank[:n]
    out.along = [pos[rank[v]] for v in range(n)]
    out.across = [x[v] - lo for v in range(n)]
    out.edge_points = [[(pos[rank[d]], x[d] - lo) for d in chain] for chain in chains]
    out.size = (at, hi - lo)
    out.bands = [(pos[r] - thick[r] / 2, pos[r] + thick[r] / 2) for r in range(nranks)]
    out.frames, out.labels = _frames(n, paths, rank, out, sizes, pads)
    return out


def _frames(n, paths, rank, out, sizes, pads):
    """Each cluster's outline: its bounding rectangle when no other node falls inside
    it, else a staircase that follows its members (and inner frames) rank by rank, so
    a node beside the cluster stays outside its frame. Inner clusters come after their
    parent (and are done first); returns (outlines, label anchors), (along, across)."""
    direct: dict[int, list[int]] = {}
    for v in range(n):
        if paths[v]:
            direct.setdefault(paths[v][-1], []).append(v)
    parent: dict[int, int | None] = {}
    for v in range(n):
        for k, c in enumerate(paths[v]):
            parent[c] = paths[v][k - 1] if k else None
    ext: dict[int, dict[int, list[float]]] = {}  # cluster -> rank -> [lo, hi] padded
    span: dict[int, tuple[int, int]] = {}
    # each cluster's nodes and children, and the nodes of each rank, found once (a pass
    # over every node and every cluster for each cluster is quadratic in blocks)
    members: dict[int, set] = {}
    by_rank: dict[int, list] = {}
    for v in range(n):
        for c in paths[v]:
            members.setdefault(c, set()).add(v)
        by_rank.setdefault(rank[v], []).append(v)
    children: dict[int, list] = {}
    rect: dict[int, tuple[float, float]] = {}  # the clear clusters' (lo, hi)
    for k, p in parent.items():
        children.setdefault(p, []).append(k)
    for c in sorted(parent, reverse=True):
        e: dict[int, list[float]] = {}
        for v in direct.get(c, ()):
            lo = out.across[v] - sizes[v][1] / 2 - pads[c][2]
            hi = out.across[v] + sizes[v][1] / 2 + pads[c][3]
            cur = e.setdefault(rank[v], [lo, hi])
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
        for k in children.get(c, ()):
            m_lo = max(6.0, pads[c][2] - pads[k][2])
            m_hi = max(6.0, pads[c][3] - pads[k][3])
            for r, (lo, hi) in ext[k].items():
                cur = e.setdefault(r, [lo - m_lo, hi + m_hi])
                cur[0], cur[1] = min(cur[0], lo - m_lo), max(cur[1], hi + m_hi)
        first, last = min(e), max(e)
        for r in range(first, last + 1):  # a rank without members: as the one before
            if r not in e:
                e[r] = list(e[r - 1])
        lo = min(v[0] for v in e.values())
        hi = max(v[1] for v in e.values())
        inside = members.get(c, set())
        clear = all(
            v in inside
            or out.across[v] + sizes[v][1] / 2 <= lo
            or out.across[v] - sizes[v][1] / 2 >= hi
            for r in range(first, last + 1)
            for v in by_rank.get(r, ())
        )
        if clear:
            e = {r: [lo, hi] for r in e}
            rect[c] = (lo, hi)
        ext[c], span[c] = e, (first, last)
    frames, labels = [], []
    bands = out.bands
    for c in range(len(pads)):
        if c not in ext:
            frames.append([])
            labels.append((0.0, 0.0))
            continue
        first, last = span[c]
        box = rect.get(c)
        if box is not None:  # the staircase of 14,285 blocks, point by point, costs
            outline = _rectangle(bands, first, last, pads[c], *box)
            if outline is not None:
                frames.append(outline)
                labels.append(outline[-1])
                continue
        steps = _steps(bands, first, last, pads[c], ext[c])
        frames.append(_outline(steps))
        labels.append((round(steps[0][0], 1), round(steps[0][2], 1)))
    return frames, labels


def _steps(bands, first, last, pad, ext) -> list:
    """A frame's staircase: per rank first..last, (start, end) along and (lo, hi) across."""
    steps = []
    for r in range(first, last + 1):
        start = bands[r][0] - pad[0] if r == first else (bands[r - 1][1] + bands[r][0]) / 2
        end = bands[r][1] + pad[1] if r == last else (bands[r][1] + bands[r + 1][0]) / 2
        steps.append((start, end, *ext[r]))
    return steps


def _rectangle(bands, first, last, pad, lo, hi) -> list | None:
    """_outline(_steps(...)) of a staircase whose every step spans lo..hi: of its top
    run and its bottom run the clean-up keeps the ends, so four corners, the last the
    label's anchor; None for a flat frame (the clean-up merges its corners)."""
    start = bands[first][0] - pad[0]
    end = bands[last][1] + pad[1]
    if lo == hi or start == end:
        return None
    start, end, lo, hi = round(start, 1), round(end, 1), round(lo, 1), round(hi, 1)
    return [(start, hi), (end, hi), (end, lo), (start, lo)]


def _outline(steps) -> list:
    """The outline of a staircase: its corners, rounded."""
    pts = []
    for start, end, _, hi in steps:
        pts += [(start, hi), (end, hi)]
    for start, end, lo, _ in reversed(steps):
        pts += [(end, lo), (start, lo)]
    clean: list = []
    for p in pts:  # drop repeated corners and the middle of straight runs
        if clean and clean[-1] == p:
            continue
        if len(clean) >= 2 and (
            clean[-2][0] == clean[-1][0] == p[0] or clean[-2][1] == clean[-1][1] == p[1]
        ):
            clean[-1] = p
            continue
        clean.append(p)
    return [(round(a, 1), round(b, 1)) for a, b in clean]


def _common(a: tuple, b: tuple) -> tuple:
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    return a[:k]


def _margin(path: tuple, pads, side: int) -> float:
    return max((pads[c][side] for c in path), default=0.0)


def _sep(a: int, b: int, width, paths, pads) -> float:
    """Least distance between the centres of neighbours ``a`` then ``b`` across: half of
    each, the gap, and the frames of the clusters holding one but not the other."""
    pa, pb = paths[a], paths[b]
    k = len(_common(pa, pb))
    extra = (pads[pa[k]][3] if len(pa) > k else 0.0) + (pads[pb[k]][2] if len(pb) > k else 0.0)
    return (width[a] + width[b]) / 2 + NODE_GAP + extra


def _isotonic(want, weight, seps):
    """Positions closest (weighted least squares) to ``want`` keeping their order with
    x[j] - x[j-1] >= seps[j]: pool-adjacent-violators on the offsets removed."""
    off = []
    acc = 0.0
    for s in seps:
        acc += s
        off.append(acc)
    blocks: list[list[float]] = []  # [value, weight, count]
    for w, wt, o in zip(want, weight, off):
        blocks.append([w - o, wt, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks[-1]
            blocks[-1] = [(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2]
    out = []
    for v, _, c in blocks:
        out += [v] * c
    return [round(v + o, 3) for v, o in zip(out, off)]


def _isotonic2(want, weight, seps) -> tuple[float, float]:
    """_isotonic of two positions, the same floats without its blocks and lists."""
    o1 = 0.0 + seps[0]
    o2 = o1 + seps[1]
    v1, v2 = want[0] - o1, want[1] - o2
    if v1 > v2:
        v1 = v2 = (v1 * weight[0] + v2 * weight[1]) / (weight[0] + weight[1])
    return round(v1 + o1, 3), round(v2 + o2, 3)


def _crossings(layers, succs) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        if len(upper) < 2 or len(lower) < 2:  # edges from one node or to one never cross
            continue
        at = {v: i for i, v in enumerate(lower)}
        ends = sorted((i, at[s]) for i, v in enumerate(upper) for s in succs[v] if s in at)
        seen: list[int] = []
        for _, b in ends:
            total += len(seen) - bisect.bisect_right(seen, b)
            bisect.insort(seen, b)
    return total


def _contiguous(layer: list, paths, level: int = 0) -> list:
    """``layer`` reordered so that the members of each cluster sit side by side, each
    cluster (and each node outside one) where its members are on average, recursively."""
    if len(layer) < 3:  # two nodes keep their order: parts in order, or one part of both
        return list(layer)
    parts: dict = {}
    for i, v in enumerate(layer):
        key = paths[v][level] if len(paths[v]) > level else ("node", v)
        parts.setdefault(key, []).append((i, v))
    ranked = sorted(parts.values(), key=lambda p: (sum(i for i, _ in p) / len(p), p[0][0]))
    out = []
    for part in ranked:
        vs = [v for _, v in part]
        out += _contiguous(vs, paths, level + 1) if len(vs) > 1 else vs
    return out


def _order(layers, preds, succs, n, paths):
    best = [_contiguous(layer, paths) for layer in layers]
    best_c = _crossings(best, succs)
    if best_c == 0:  # the sweeps keep an order only when it has fewer crossings
        return best
    cur = [list(layer) for layer in best]
    for it in range(SWEEPS):
        down = it % 2 == 0
        seq = range(1, len(cur)) if down else range(len(cur) - 2, -1, -1)
        for r in seq:
            if len(cur[r]) < 2:  # one node: its order cannot change
                continue
            ref = cur[r - 1] if down else cur[r + 1]
            at = {v: i for i, v in enumerate(ref)}
            nb = preds if down else succs
            keyed = []
            for i, v in enumerate(cur[r]):
                ps = [at[u] for u in nb[v] if u in at]
                bary = sum(ps) / len(ps) if ps else float(i)
                keyed.append((bary, v >= n, i, v))
            keyed.sort()
            cur[r] = _contiguous([v for *_, v in keyed], paths)
        c = _crossings(cur, succs)
        if c < best_c:
            best, best_c = [list(layer) for layer in cur], c
        if best_c == 0:
            break
    return best
