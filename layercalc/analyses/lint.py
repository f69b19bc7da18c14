"""Lint rules: valid networks that are probably not what their author meant.

Each rule has a stable kebab-case code, a one-line summary, and a bad and a good example
spec (shown in the README and run by the tests). Rules are warnings unless promoted;
a spec configures them under a top-level ``lint:`` mapping of code -> off|warning|error,
and the command line overrides that (``--disable CODE``, ``--error CODE``).

Pure: takes a built network, returns located diagnostics. Rules dispatch on what the
layer types declare (``geometry``, ``linear_map``, ``dense``, ``cancels_channel_bias``,
``dropout_between_layers``: layercalc.layers.base), never on classes or type names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import math

from ..arith import effective_kernel, prod, taps_reaching, unread_count
from ..errors import Diagnostic, cut_short, did_you_mean
from ..yamlnodes import Mapping, Node, Scalar

LEVELS = ("off", "warning", "error")
DOMINANT_SHARE = 0.5  # a linear layer holding more than this share of all parameters...
DOMINANT_MIN = 1_000_000  # ...and at least this many is the fully-connected trap


class Finding(NamedTuple):
    """A rule's verdict on one layer, before a severity and a file are attached."""

    layer: object  # layercalc.graph.Layer
    arg: str | None  # the argument at fault (its value node is the location), or None
    message: str
    hint: str | None = None

    def node(self) -> Node:
        at = self.layer.arg_nodes.get(self.arg) if self.arg else None
        return at if at is not None else self.layer.node


class Rule(NamedTuple):
    code: str
    summary: str
    why: str
    bad: str  # a complete spec on which the rule fires
    good: str  # the same network fixed: the rule is silent
    check: Callable[[object], Iterator[Finding]]


def _spatial(shape: tuple, dims: int) -> tuple:
    return tuple(shape[-dims:])


_UNITS = {1: ("position",), 2: ("row", "column"), 3: ("slice", "row", "column")}


def _unit(dims: int, i: int, n: int) -> str:
    u = _UNITS.get(dims, ("position",) * dims)[i]
    return u if n == 1 else u + "s"


def _label(layer) -> str:
    return f"{layer.type.name} '{layer.name}'"


def _first_arg(layer, *names) -> str | None:
    for n in names:
        if n in layer.arg_nodes:
            return n
    return None


# -- stride-drops-input ------------------------------------------------------------------


def _gathering(layer):
    """The window of a conv or pool (one that gathers its inputs: not transposed)."""
    w = layer.type.geometry(layer.args)
    return w if w is not None and not w.transposed else None


def _conv(layer):
    """The window of a (not transposed) convolution: a window with weights per tap."""
    return _gathering(layer) if layer.type.linear_map else None


def _window_params(w) -> list:
    """Per spatial dim (kernel, stride, left padding, dilation) of a window."""
    return list(zip(w.kernel, w.stride, w.lefts, w.dilation))


def check_stride(net) -> Iterator[Finding]:
    for layer in net.layers:
        w = _gathering(layer)
        if w is None:
            continue
        dims = w.dims
        sizes = _spatial(layer.input_shapes[0], dims)
        outs = _spatial(layer.output, dims)
        parts = []
        holes = []
        for i, ((k, s, pl, d), n, o) in enumerate(zip(_window_params(w), sizes, outs)):
            span = effective_kernel(k, d)
            g = math.gcd(s, d)
            if g > 1 and k > 1:  # every tap lands on one residue mod g: the others unread
                missing = unread_count(n, k, s, pl, d, o)
                if missing:
                    holes.append((i, n, k, s, d, g, missing))
                continue
            if span < s:
                continue  # windows skip inputs between them by design (e.g. 1x1, stride 2)
            end = (o - 1) * s - pl + span  # one past the last input index a window reaches
            unused = n - end
            if unused > 0:
                parts.append((i, n, k, s, pl, unused, end))
        if holes:
            i, n, k, s, d, g, missing = holes[0]
            yield Finding(
                layer,
                _first_arg(layer, "dilation", "stride"),
                f"{_label(layer)}: stride {s} and dilation {d} share the factor {g}, so "
                f"the windows read only every {_ordinal(g)} input "
                f"{_unit(dims, i, 1)}: {missing:,} of {n:,} are never read",
                "use a dilation with no factor in common with the stride (dilation 1, "
                f"or an odd one with stride {s})"
                if s % 2 == 0
                else "use a dilation with no factor in common with the stride (dilation 1)",
            )
            continue
        if not parts:
            continue
        i, n, k, s, pl, unused, end = parts[0]
        dropped = " and ".join(
            f"the last {_unit(dims, j, 1)} ({_unit(dims, j, 1)} {nn - 1})"
            if u == 1
            else f"the last {u} {_unit(dims, j, u)} ({_unit(dims, j, u)} {ee}..{nn - 1})"
            for j, nn, _, _, _, u, ee in parts
        )
        pad = f", padding {pl}" if pl else ""
        size = "x".join(map(str, sizes)) if dims > 1 else f"length-{sizes[0]}"
        yield Finding(
            layer,
            _first_arg(layer, "stride", "kernel_size"),
            f"{_label(layer)}: kernel {k}, stride {s}{pad} never reads {dropped} "
            f"of its {size} input: (size + padding - kernel) is not a multiple of "
            "the stride, and the output size floors",
            f"use an input size of {n - unused} or {n - unused + s}, or padding "
            "(or ceil_mode for a pool) that lets the last window reach the edge",
        )


# -- bias-before-norm --------------------------------------------------------------------


def _consumers(net) -> dict:
    out: dict = {}
    for layer in net.layers:
        for src in layer.inputs:
            out.setdefault(src, []).append(layer)
    return out


def check_bias_before_norm(net) -> Iterator[Finding]:
    consumers = _consumers(net)
    for layer in net.layers:
        t = layer.type
        if not t.linear_map or not layer.args.get("bias"):
            continue
        # the bias must lie along the channel axis the norm normalises (dim 1, batched):
        # (N, C) for a linear, (N, C, *spatial) for a conv
        w = t.geometry(layer.args)
        if len(layer.output) != (w.dims if w is not None else 0) + 2:
            continue
        users = consumers.get(layer.ref, [])
        if (
            not users
            or layer.name in net.outputs
            or not all(u.type.cancels_channel_bias for u in users)
        ):
            continue
        c = layer.output[1]
        norm = users[0]
        yield Finding(
            layer,
            "bias" if "bias" in layer.arg_nodes else None,
            f"{_label(layer)} has a bias ({c:,} parameters) that the "
            f"{norm.type.name} '{norm.name}' right after it cancels: normalising "
            "subtracts each channel's mean, bias included",
            "set `bias: false`; the norm's own shift (beta) does the bias's job",
        )


# -- transpose-checkerboard --------------------------------------------------------------


def _ordinal(n: int) -> str:
    return {2: "second", 3: "third"}.get(n, f"{n}th")


def check_checkerboard(net) -> Iterator[Finding]:
    for layer in net.layers:
        w = layer.type.geometry(layer.args)
        if w is None or not w.transposed:
            continue
        gaps = [
            (k, s, d)
            for k, s, d in zip(w.kernel, w.stride, w.dilation)
            if k > 1 and math.gcd(s, d) > 1  # a 1-tap kernel: dilation does nothing
        ]
        if gaps:  # a tap lands on every g-th output position only: the others get none
            k, s, d = gaps[0]
            g = math.gcd(s, d)
            yield Finding(
                layer,
                _first_arg(layer, "dilation", "stride"),
                f"{_label(layer)}: stride {s} and dilation {d} share the factor {g}, so "
                f"only every {_ordinal(g)} output position receives kernel taps; the "
                "others hold the bias alone",
                "use dilation 1 (or one with no factor in common with the stride), or "
                "upsample followed by a stride-1 conv",
            )
            continue
        bad = [(k, s, d) for k, s, d in zip(w.kernel, w.stride, w.dilation) if s > 1 and k % s]
        if not bad:
            continue
        k, s, d = bad[0]
        taps = f" ({k // s} or {k // s + 1} kernel taps per output pixel)" if d == 1 else ""
        better = s * (k // s + 1)
        yield Finding(
            layer,
            _first_arg(layer, "kernel_size", "stride"),
            f"{_label(layer)}: kernel {k} is not divisible by stride {s}, so "
            f"neighbouring output pixels get unequal contributions{taps}: "
            "checkerboard artefacts (Odena et al. 2016)",
            f"use kernel {better} (a multiple of {s}) with matching padding, or "
            "upsample followed by a stride-1 conv",
        )


# -- kernel-exceeds-input ----------------------------------------------------------------


def check_kernel_exceeds_input(net) -> Iterator[Finding]:
    for layer in net.layers:
        w = _conv(layer)
        if w is None:
            continue
        dims = w.dims
        sizes = _spatial(layer.input_shapes[0], dims)
        outs = _spatial(layer.output, dims)
        params = _window_params(w)
        ks = tuple(p[0] for p in params)
        used = tuple(
            taps_reaching(n, o, k, s, d, pl) for (k, s, pl, d), n, o in zip(params, sizes, outs)
        )
        if used == ks:
            continue
        weights = sum(t.numel for t in layer.tensors if t.key == "weight")
        dead = weights - weights // prod(ks) * prod(used)
        kernel = "x".join(map(str, ks))
        size = "x".join(map(str, sizes))
        if all(u == 1 for u in used) and all(n == 1 for n in sizes):
            what = "only its centre ever touches the input"
        else:
            what = f"only {'x'.join(map(str, used))} of its taps ever touch the input"
        yield Finding(
            layer,
            _first_arg(layer, "kernel_size"),
            f"{_label(layer)}: kernel {kernel} on a {size} input: {what}; the rest "
            f"multiply padding, so {dead:,} of its {weights:,} weights are dead",
            f"use kernel_size {'x'.join(map(str, used)) if len(set(used)) > 1 else used[0]}"
            " (the same output, fewer parameters)",
        )


# -- asymmetric-same-padding -------------------------------------------------------------


def check_asymmetric_same(net) -> Iterator[Finding]:
    for layer in net.layers:
        w = _conv(layer)
        if w is None or layer.args.get("padding") != "same":
            continue
        for i, ((left, right), k) in enumerate(zip(w.padding, w.kernel)):
            if left != right:
                yield Finding(
                    layer,
                    _first_arg(layer, "kernel_size", "padding"),
                    f"{_label(layer)}: kernel {k} with padding 'same' cannot pad "
                    f"evenly: PyTorch pads {left} before and {right} after (spatial "
                    f"dim {i}), shifting the output half a pixel against the input",
                    f"use an odd kernel size ({k + 1} or {k - 1}) or explicit padding",
                )
                break


# -- dominant-linear ---------------------------------------------------------------------


def check_dominant_linear(net) -> Iterator[Finding]:
    holders = [layer for layer in net.layers if layer.params]
    if len(holders) < 2:
        return
    total = sum(layer.params for layer in holders)
    for layer in holders:
        if not layer.type.dense:
            continue
        p = layer.params
        if p < DOMINANT_MIN or p <= DOMINANT_SHARE * total:
            continue
        a = layer.args
        yield Finding(
            layer,
            None,
            f"{_label(layer)} holds {_share(p, total)} of the network's parameters "
            f"({p:,} of {total:,}): {a['in_features']:,} inputs x "
            f"{a['out_features']:,} outputs",
            "shrink its input first (more downsampling, fewer channels, or global "
            "average pooling before flatten), or use fewer units",
        )


def _share(part: int, total: int) -> str:
    """'73%'; within a percent of all of it, with the decimals that tell it apart from
    100% ('99.97%', never a rounded '100%' for a part)."""
    if part >= total or part / total < 0.99:
        return f"{part / total:.0%}"
    for places in range(2, 12):
        text = f"{100 * part / total:.{places}f}"
        if float(text) < 100:
            return text + "%"
    return ">99.99%"


# -- dropout-single-layer ----------------------------------------------------------------


def check_dropout_single_layer(net) -> Iterator[Finding]:
    for layer in net.layers:
        if not layer.type.dropout_between_layers:
            continue
        a = layer.args
        if a["dropout"] > 0 and a["num_layers"] == 1:
            yield Finding(
                layer,
                _first_arg(layer, "dropout"),
                f"{_label(layer)}: dropout {a['dropout']} with num_layers 1 never "
                "drops anything: PyTorch applies it between stacked layers only, and "
                "warns: dropout option adds dropout after all but last recurrent "
                "layer, so non-zero dropout expects num_layers greater than 1, but "
                f"got dropout={a['dropout']} and num_layers=1",
                "stack layers (num_layers: 2 or more), or put a dropout entry after "
                "it and remove the argument",
            )


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule(
            "stride-drops-input",
            "a conv or pool stride leaves input rows or columns unread",
            "The output size floors (size + 2p - kernel) / stride, so when that is not a "
            "multiple of the stride the input's last rows or columns never reach a window; "
            "and a stride sharing a factor with the dilation reads every g-th position only.",
            "input: [1, 8, 7, 7]\nlayers:\n  - max_pool2d: {kernel_size: 2}   # 7 -> 3: row "
            "and column 6 are never read\n",
            "input: [1, 8, 7, 7]\nlayers:\n  - max_pool2d: {kernel_size: 2, ceil_mode: true}"
            "   # 7 -> 4\n",
            check_stride,
        ),
        Rule(
            "bias-before-norm",
            "a conv or linear bias feeds straight into a batch/instance norm, which cancels it",
            "Normalising subtracts each channel's mean, so a per-channel bias right before it "
            "has no effect: wasted parameters.",
            "input: [1, 3, 32, 32]\nlayers:\n  - conv2d: {out_channels: 16, kernel_size: 3, "
            "padding: 1}\n  - batch_norm2d\n  - relu\n",
            "input: [1, 3, 32, 32]\nlayers:\n  - conv2d: {out_channels: 16, kernel_size: 3, "
            "padding: 1, bias: false}\n  - batch_norm2d\n  - relu\n",
            check_bias_before_norm,
        ),
        Rule(
            "transpose-checkerboard",
            "a transposed conv whose kernel size is not divisible by its stride",
            "Output pixels then receive unequal numbers of kernel taps, which shows as "
            "checkerboard artefacts (Odena, Dumoulin & Olah, Distill 2016); with a "
            "dilation sharing a factor with the stride, some receive none.",
            "input: [1, 64, 8, 8]\nlayers:\n  - conv_transpose2d: {out_channels: 32, "
            "kernel_size: 3, stride: 2, padding: 1, output_padding: 1}   # 8 -> 16\n",
            "input: [1, 64, 8, 8]\nlayers:\n  - conv_transpose2d: {out_channels: 32, "
            "kernel_size: 4, stride: 2, padding: 1}   # 8 -> 16\n",
            check_checkerboard,
        ),
        Rule(
            "kernel-exceeds-input",
            "a conv kernel larger than its input: some taps only ever see padding "
            "(a 3x3 kernel on a 1x1 input uses only its centre)",
            "Weights that only ever multiply padding are dead: they cost memory and never "
            "affect the output.",
            "input: [1, 512, 1, 1]\nlayers:\n  - conv2d: {out_channels: 256, kernel_size: 3, "
            "padding: 1}\n",
            "input: [1, 512, 1, 1]\nlayers:\n  - conv2d: {out_channels: 256, kernel_size: 1}\n",
            check_kernel_exceeds_input,
        ),
        Rule(
            "asymmetric-same-padding",
            "an even kernel with padding: same (PyTorch pads one more on the right/bottom)",
            "padding='same' with an even kernel (more exactly, an odd dilation * (kernel - 1)) "
            "cannot split the padding evenly, so features shift by half a pixel per layer.",
            "input: [1, 3, 32, 32]\nlayers:\n  - conv2d: {out_channels: 16, kernel_size: 4, "
            "padding: same}\n",
            "input: [1, 3, 32, 32]\nlayers:\n  - conv2d: {out_channels: 16, kernel_size: 3, "
            "padding: same}\n",
            check_asymmetric_same,
        ),
        Rule(
            "dominant-linear",
            "one linear layer holds most (> 50%, and at least 1M) of the parameters",
            "The fully-connected trap: flattening a large feature map into a dense layer "
            "(30,000 inputs x 100 units is 3 million weights) dwarfs the rest of the network.",
            "input: [1, 3, 100, 100]\nlayers:\n  - flatten                       # 30,000 "
            "features\n  - linear: {out_features: 100}   # 3,000,100 parameters\n  - relu\n"
            "  - linear: {out_features: 10}\n",
            "input: [1, 3, 100, 100]\nlayers:\n  - conv2d: {out_channels: 32, kernel_size: 3, "
            "stride: 2, padding: 1}\n  - relu\n  - adaptive_avg_pool2d: {output_size: 1}\n"
            "  - flatten                       # 32 features\n  - linear: {out_features: 100}\n"
            "  - relu\n  - linear: {out_features: 10}\n",
            check_dominant_linear,
        ),
        Rule(
            "dropout-single-layer",
            "an rnn, lstm or gru with dropout > 0 and num_layers 1 (PyTorch warns)",
            "A recurrent layer's dropout acts between its stacked layers, on every layer's "
            "output but the last: with one layer it does nothing.",
            "input: [20, 4, 32]\nlayers:\n  - lstm: {hidden_size: 64, dropout: 0.3}\n",
            "input: [20, 4, 32]\nlayers:\n  - lstm: {hidden_size: 64, num_layers: 2, "
            "dropout: 0.3}\n",
            check_dropout_single_layer,
        ),
    )
}


def _level(value) -> str | None:
    if value is False:  # YAML 1.1 reads a bare `off` as false
        return "off"
    if value is True:
        return "warning"
    return value if value in LEVELS else None


def spec_levels(node: Node | None, file: str | None = None) -> tuple[dict, list]:
    """The spec's ``lint:`` mapping as {code: level}, and diagnostics for bad entries."""
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return {}, []
    if not isinstance(node, Mapping):
        return {}, [
            Diagnostic(
                "bad-lint",
                "lint must be a mapping of rule codes to off, warning or error",
                node.line,
                node.col,
                "error",
                "e.g. `lint: {bias-before-norm: off}`",
                file,
            )
        ]
    levels: dict = {}
    problems = []
    for knode, vnode in node.items:
        if cut_short(problems, knode, file, "lint"):
            break
        code = knode.value
        if code not in RULES:
            problems.append(
                Diagnostic(
                    "unknown-lint-rule",
                    f"unknown lint rule '{code}'",
                    knode.line,
                    knode.col,
                    "error",
                    did_you_mean(str(code), RULES) or "rules: " + ", ".join(RULES),
                    file,
                )
            )
            continue
        level = _level(vnode.value) if isinstance(vnode, Scalar) else None
        if level is None:
            problems.append(
                Diagnostic(
                    "bad-lint",
                    f"lint level of '{code}' must be off, warning or error",
                    vnode.line,
                    vnode.col,
                    "error",
                    None,
                    file,
                )
            )
            continue
        levels[code] = level
    return levels, problems


def lint(net, file: str | None = None, overrides: dict | None = None) -> list[Diagnostic]:
    """Run every enabled rule on ``net``.

    Levels: a rule's default is warning; the spec's ``lint:`` mapping changes it, and
    ``overrides`` (the command line) change that. A finding at an entry used several times
    (a block, a repeat) is reported once, saying how many layers it affects.
    """
    file = file if file is not None else net.spec.file
    levels, found = spec_levels(net.spec.lint, file)
    levels.update(overrides or {})
    for code, rule in RULES.items():
        level = levels.get(code, "warning")
        if level == "off":
            continue
        seen: dict = {}
        for f in rule.check(net):
            if f.layer.shares is not None:
                continue  # another call of a module: its own row says it once
            node = f.node()
            key = (node.line, node.col)
            if key in seen:
                seen[key][1] += 1
                continue
            seen[key] = [f, 1]
        for (line, col), (f, count) in seen.items():
            message = f.message
            if count > 1:
                message += (
                    f" (and {count - 1} more layer{'s' if count > 2 else ''} built from this entry)"
                )
            found.append(Diagnostic(code, message, line, col, level, f.hint, file))
    found.sort(key=lambda d: (d.line, d.column))
    return found
