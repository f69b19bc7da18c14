"""What changed between two networks (`layercalc diff`): layers matched by name (the
state_dict identity), renames detected, every change with its old and new output,
parameters, MACs and activation memory, and the totals' deltas. Pure: networks in,
numbers out.

Matching: a layer (or a group collapsed at ``depth``) of NEW is the layer of OLD with
the same name and call. Of those left on both sides, an OLD and a NEW layer with the
same type, arguments, output shape and parameter count are a rename (paired in order).
The rest are removed (OLD only) or added (NEW only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..arith import prod
from .totals import network_totals, output_json
from .totals import rows as table_rows


class Item(NamedTuple):
    """One compared row of a network: a leaf layer, or a group collapsed at the depth."""

    ref: str  # name, with @CALL for another call of a shared module
    name: str
    type: str
    args: str
    output: tuple
    params: int
    macs: int
    activation_bytes: int
    line: int | None  # its line in the spec


class Change(NamedTuple):
    status: str  # "added", "removed", "changed", "renamed" or "same"
    old: Item | None
    new: Item | None
    what: tuple = ()  # what differs: "type", "args", "output", "params", "macs"


# the totals compared, in the order they are shown, with how they are written
METRICS = {
    "params": "count",
    "trainable": "count",
    "buffers": "count",
    "macs": "count",
    "param_memory": "bytes",
    "peak_memory": "bytes",
    "layers": "count",
}


@dataclass
class Diff:
    changes: list
    totals: dict  # metric -> (old, new)
    output: tuple  # (old, new) network outputs as JSON values
    failed: list = field(default_factory=list)  # the --fail-on rules that fired (text)
    fired: list = field(default_factory=list)  # the same, as Rule

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.changes)

    @property
    def output_changed(self) -> bool:
        return self.output[0] != self.output[1]


def items(net, depth: int | None = None) -> list[Item]:
    """The rows compared: leaf layers, and groups nested ``depth`` deep or more as one."""
    if net is None:
        return []
    size = net.dtype_bytes
    out = []
    for r in table_rows(net, depth):
        if r.kind == "group":
            continue
        hit = net.by_name.get(r.name)
        node = None
        if hit is not None:
            kind, i = hit
            node = (net.layers if kind == "layer" else net.groups)[i].node
        out.append(
            Item(
                r.ref,
                r.name,
                r.type,
                r.args,
                tuple(r.output),
                r.params,
                r.macs,
                prod(r.output) * size,
                getattr(node, "line", None),
            )
        )
    return out


def _what(a: Item, b: Item) -> tuple:
    return tuple(
        k for k in ("type", "args", "output", "params", "macs") if getattr(a, k) != getattr(b, k)
    )


def _rename_key(x: Item) -> tuple:
    return (x.type, x.args, x.output, x.params)


def match(old: list[Item], new: list[Item]) -> list[Change]:
    """Changes in NEW's order, each removed layer where it stood in OLD."""
    by_ref = {x.ref: i for i, x in enumerate(old)}
    pair: dict[int, int] = {}  # new index -> old index
    for j, x in enumerate(new):
        i = by_ref.get(x.ref)
        if i is not None:
            pair[j] = i
    used = set(pair.values())
    spare: dict[tuple, list[int]] = {}
    for i, x in enumerate(old):
        if i not in used:
            spare.setdefault(_rename_key(x), []).append(i)
    renamed = set()
    for j, x in enumerate(new):
        if j not in pair and spare.get(_rename_key(x)):
            pair[j] = spare[_rename_key(x)].pop(0)
            renamed.add(j)
    used = set(pair.values())
    out: list[Change] = []
    next_old = 0

    def removed_until(stop: int):
        nonlocal next_old
        while next_old < stop:
            if next_old not in used:
                out.append(Change("removed", old[next_old], None))
            next_old += 1

    for j, x in enumerate(new):
        i = pair.get(j)
        if i is None:
            out.append(Change("added", None, x))
            continue
        removed_until(i)
        next_old = max(next_old, i + 1)
        a = old[i]
        what = _what(a, x)
        if j in renamed:
            out.append(Change("renamed", a, x, what))
        else:
            out.append(Change("changed" if what else "same", a, x, what))
    removed_until(len(old))
    return out


def _totals(net) -> dict:
    if net is None:
        return dict.fromkeys(METRICS, 0)
    from .cost import inference_peak

    t = network_totals(net)
    return {
        "params": t["params"],
        "trainable": t["trainable"],
        "buffers": t["buffers"],
        "macs": t["macs"],
        "param_memory": t["param_bytes"],
        "peak_memory": inference_peak(net),
        "layers": t["layers"],
    }


def diff(old_net, new_net, depth: int | None = None, rules=()) -> Diff:
    """OLD against NEW (either may be None: a file added or removed), at ``depth``;
    ``rules`` (parse_rule's) are checked and the ones that fire listed in ``failed``."""
    old_t, new_t = _totals(old_net), _totals(new_net)
    d = Diff(
        match(items(old_net, depth), items(new_net, depth)),
        {k: (old_t[k], new_t[k]) for k in METRICS},
        (
            None if old_net is None else output_json(old_net),
            None if new_net is None else output_json(new_net),
        ),
    )
    d.fired = [r for r in rules if r.fires(d)]
    d.failed = [r.text for r in d.fired]
    return d


def percent(old: int, new: int) -> float | None:
    """The change in percent of the old value (None when the old value is 0)."""
    return None if old == 0 else 100.0 * (new - old) / old


class Rule(NamedTuple):
    """A --fail-on condition: ``metric`` grows (``sign`` +1) or shrinks (-1) by more
    than ``limit`` (percent of the old value, or absolute), or the output changes."""

    text: str
    metric: str
    sign: int
    limit: float
    relative: bool

    def fires(self, d: Diff) -> bool:
        if self.metric == "output-changed":
            return d.output_changed
        old, new = d.totals[self.metric]
        change = new - old
        if self.relative:
            if old == 0:
                return self.sign * change > 0
            change = 100.0 * change / old
        return self.sign * change > self.limit


_RULE = re.compile(r"\s*([a-z_]+)\s*([<>])\s*([+-]?)\s*([0-9][0-9.,_]*\s*[A-Za-z]*)\s*(%?)\s*")


def parse_rule(text: str) -> Rule:
    """``params>+5%``, ``macs>+10%``, ``peak_memory>+40MiB``, ``params<-1M``,
    ``output-changed``; ValueError with the reason otherwise.

    >>> parse_rule("params>+5%")
    Rule(text='params>+5%', metric='params', sign=1, limit=5.0, relative=True)
    >>> parse_rule("peak_memory>40MiB").limit
    41943040
    """
    from ..units import parse_bytes, parse_count

    if text.strip() == "output-changed":
        return Rule("output-changed", "output-changed", 1, 0, False)
    m = _RULE.fullmatch(text)
    if m is None:
        raise ValueError(
            f"expected METRIC>+N%, METRIC>+N, METRIC<-N% or METRIC<-N (METRIC one of "
            f"{', '.join(METRICS)}), or output-changed; got {text!r}"
        )
    metric, op, sign, amount, pct = m.groups()
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} in {text!r}: one of {', '.join(METRICS)}")
    direction = 1 if op == ">" else -1
    if sign and (1 if sign == "+" else -1) != direction:
        raise ValueError(f"{text!r} can never fire: '>' takes a growth (+N), '<' a drop (-N)")
    if pct:
        try:
            limit = float(amount.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"expected a percentage such as 5% in {text!r}") from None
        return Rule(text, metric, direction, limit, True)
    parse = parse_bytes if METRICS[metric] == "bytes" else parse_count
    return Rule(text, metric, direction, parse(amount), False)
