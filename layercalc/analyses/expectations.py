"""Expectations of a spec (`expect:`, SPEC.md section 6) checked against its network.

Pure: takes a built network, returns located diagnostics; never prints or exits.
Each failure says both numbers (expected and actual) and points at the expect entry's
value, so an editor or CI annotation lands on the line to change.
"""

from __future__ import annotations

from ..errors import Diagnostic, SpecError, cut_short, did_you_mean
from ..units import (
    MAX_VALUE,
    QuantityError,
    human_bytes,
    is_quantity,
    num,
    parse_bytes,
    parse_count,
)
from ..values import resolve_scalar
from ..yamlnodes import Mapping, Node, Scalar, Sequence
from .totals import output_json, tensor_bytes

# key -> what it asserts (also the schema's descriptions and the README table)
EXPECT_KEYS = {
    "output": "exact output shape ([] for a 0-d output); a mapping name -> shape with "
    "several `outputs`",
    "params": "exact total parameters",
    "trainable": "exact trainable parameters",
    "buffers": "exact total buffer elements (batch-norm running statistics, ...)",
    "macs": "exact multiply-accumulates",
    "max_params": "upper bound on the parameters; K, M, G suffixes (powers of 1000)",
    "max_macs": "upper bound on the multiply-accumulates; K, M, G suffixes",
    "max_param_memory": "upper bound on parameters x dtype size; B, KB/MB/GB (1000) or "
    "KiB/MiB/GiB (1024)",
}


def _error(code: str, message: str, node: Node, file, hint=None) -> Diagnostic:
    return Diagnostic(code, message, node.line, node.col, "error", hint, file)


def _value(node: Node, names: dict, key: str, parse=None) -> int:
    """An expect number: a literal, an expression over vars, or (bounds) a suffixed size."""
    if not isinstance(node, Scalar) or isinstance(node.value, bool) or node.value is None:
        raise SpecError("bad-expect", f"expect.{key} must be a number", node=node)
    v = node.value
    if isinstance(v, str):
        if parse is not None and is_quantity(v):
            try:
                return parse(v)
            except QuantityError as exc:
                raise SpecError("bad-expect", f"expect.{key}: {exc}", node=node) from None
        v = resolve_scalar(node, names)
        if isinstance(v, (list, tuple, str, bool)):
            raise SpecError("bad-expect", f"expect.{key} must be a number", node=node)
    if isinstance(v, float):
        if not v.is_integer():
            if parse is None:
                raise SpecError(
                    "bad-expect", f"expect.{key} must be an integer, got {v}", node=node
                )
            v = int(v)
        v = int(v)
    if v < 0:
        raise SpecError("bad-expect", f"expect.{key} must not be negative, got {v}", node=node)
    if v > MAX_VALUE:
        raise SpecError("bad-expect", f"expect.{key} is beyond 2**63 - 1", node=node)
    return v


def _shape(node: Node, names: dict, what: str) -> list:
    """An expected output shape; ``[]`` is the shape of a 0-d output (a ``sum`` or
    ``mean`` over every dim), as ``torch.Size([])``."""
    if not isinstance(node, Sequence):
        raise SpecError(
            "bad-expect", f"{what} must be a shape such as [1, 10] ([] for a 0-d output)", node=node
        )
    out = []
    for item in node.items:
        if not isinstance(item, Scalar) or isinstance(item.value, bool):
            raise SpecError("bad-expect", f"{what} entries must be sizes", node=item)
        v = resolve_scalar(item, names)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool):
            raise SpecError("bad-expect", f"{what} entries must be integer sizes", node=item)
        out.append(v)
    return out


def _check_output(net, node: Node, file) -> list[Diagnostic]:
    names = net.spec.vars
    actual = output_json(net)
    if isinstance(node, Mapping):
        outs = {k: list(v) for k, v in net.outputs.items()}
        found = []
        for knode, vnode in node.items:
            if cut_short(found, knode, file, "expect.output"):
                break
            name = str(knode.value)
            if name not in outs:
                found.append(
                    _error(
                        "bad-expect",
                        f"expect.output names '{name}', which is not "
                        f"an output of the network ({', '.join(outs)})",
                        knode,
                        file,
                        did_you_mean(name, list(outs)),
                    )
                )
                continue
            want = _shape(vnode, names, f"expect.output.{name}")
            if want != outs[name]:
                found.append(
                    _error(
                        "expect-output",
                        f"output '{name}': expected {want}, got {outs[name]}",
                        vnode,
                        file,
                        f"the network's output '{name}' is {outs[name]}",
                    )
                )
        return found
    if isinstance(actual, dict) and len(actual) != 1:
        raise SpecError(
            "bad-expect",
            f"the network has {len(actual)} outputs, so "
            "expect.output must map each name to its shape",
            node=node,
            hint="write e.g. `output: {" + ", ".join(f"{k}: [...]" for k in actual) + "}`",
        )
    got = actual if isinstance(actual, list) else next(iter(actual.values()))
    want = _shape(node, names, "expect.output")
    if want != got:
        return [
            _error(
                "expect-output",
                f"output: expected {want}, got {got}",
                node,
                file,
                _shape_hint(want, got),
            )
        ]
    return []


def _dims(n: int) -> str:
    return f"{n} dim{'s' if n != 1 else ''}"


def _shape_hint(want: list, got: list) -> str:
    if not want:
        return f"[] is the shape of a 0-d output; this output has {_dims(len(got))}"
    if not got:
        return f"this output is 0-d, shape []; the expectation has {_dims(len(want))}"
    if len(want) != len(got):
        return f"the output has {len(got)} dims, the expectation {len(want)}"
    diffs = [f"dim {i}: {w} vs {g}" for i, (w, g) in enumerate(zip(want, got)) if w != g]
    return "differs at " + ", ".join(diffs)


def _exact(key: str, want: int, got: int, node, file, unit: str = "") -> list[Diagnostic]:
    if want == got:
        return []
    diff = got - want
    more = f"{num(abs(diff))} {'more' if diff > 0 else 'fewer'}"
    return [
        _error(
            f"expect-{key.replace('_', '-')}",
            f"{key}: expected {num(want)}{unit}, got {num(got)}{unit} ({more})",
            node,
            file,
            f"if the change is intended, set `{key}: {got}`",
        )
    ]


def _bound(
    key: str, limit: int, got: int, node, file, unit: str = "", show=None
) -> list[Diagnostic]:
    if got <= limit:
        return []
    written = f" ({node.value})" if isinstance(node.value, str) else ""
    extra = f" = {show(got)}" if show else ""
    return [
        _error(
            f"expect-{key.replace('_', '-')}",
            f"{key}: at most {num(limit)}{unit}{written} allowed, got {num(got)}{unit}"
            f"{extra} ({num(got - limit)}{unit} over)",
            node,
            file,
            "shrink the network or raise the bound",
        )
    ]


def check_expectations(net, file: str | None = None) -> list[Diagnostic]:
    """Every `expect` entry of ``net``'s spec that does not hold, as error diagnostics."""

    node = net.spec.expect
    if node is None:
        return []
    file = file if file is not None else net.spec.file
    names = net.spec.vars
    totals = net.totals()
    found: list[Diagnostic] = []
    for knode, vnode in node.items:
        if cut_short(found, knode, file, "expect"):
            break
        key = knode.value
        try:
            if key == "output":
                found += _check_output(net, vnode, file)
            elif key in ("params", "trainable", "buffers", "macs"):
                found += _exact(key, _value(vnode, names, key), totals[key], vnode, file)
            elif key == "max_params":
                found += _bound(
                    key, _value(vnode, names, key, parse_count), totals["params"], vnode, file
                )
            elif key == "max_macs":
                found += _bound(
                    key, _value(vnode, names, key, parse_count), totals["macs"], vnode, file
                )
            elif key == "max_param_memory":
                got = tensor_bytes(net, [t for layer in net.layers for t in layer.tensors], False)
                found += _bound(
                    key,
                    _value(vnode, names, key, parse_bytes),
                    got,
                    vnode,
                    file,
                    " bytes",
                    human_bytes,
                )
            else:
                found.append(_unknown_key(knode, file))
        except SpecError as exc:
            found.append(exc.diagnostic(file))
    return found


def _unknown_key(knode: Node, file) -> Diagnostic:
    key = str(knode.value)
    return _error(
        "unknown-expect",
        f"unknown expectation '{key}'",
        knode,
        file,
        did_you_mean(key, EXPECT_KEYS) or "expect takes " + ", ".join(EXPECT_KEYS),
    )


def unknown_expectations(spec, file: str | None = None) -> list[Diagnostic]:
    """The `expect` keys of ``spec`` that name no expectation: what check reports of
    them when the network cannot be built (their values need the network)."""
    node = spec.expect
    if not isinstance(node, Mapping):
        return []
    found: list[Diagnostic] = []
    for knode, _ in node.items:
        if cut_short(found, knode, file, "expect"):
            break
        if knode.value not in EXPECT_KEYS:
            found.append(_unknown_key(knode, file))
    return found


def check_network(
    net, file: str | None = None, lint_levels: dict | None = None
) -> list[Diagnostic]:
    """Failed expectations and lint findings of one network, in file order."""
    from .lint import lint

    found = check_expectations(net, file) + lint(net, file, lint_levels)
    found.sort(key=lambda d: (d.line, d.column))
    return found
