"""`layercalc cost`, `layercalc rf`, `layercalc explain` and `layercalc solve`."""

from __future__ import annotations

import csv
import io
import json
import re
import sys

import click

from ..render import (
    MAX_TABLE_ROWS,
    markdown_text,
    num,
    printable,
    printable_json,
    shape_text,
)
from .common import Digits, click_option, echo_diagnostics, spec_options
from .options import DEPTH, FORMATS
from .run import exit_code, load_all, row_limit, table_width

# -- generic table output -----------------------------------------------------------------

# how each column gives way in a narrow terminal (layercalc.boxtable): priority > 0 is
# left out, the highest first; shape columns are written compactly; Layer folds at dots
PRIORITY = {"Type": 2, "FLOPs": 3, "Activation": 1, "Jump": 1, "Start": 2, "Note": 3, "PyTorch": 1}
WRAPS = ("Note", "Check", "PyTorch")
SHAPES = ("Output",)


def _table(title, caption, headers, numeric, items, footer=(), notes=(), cells=tuple) -> str:
    """A box table of ``cells(item)`` for each item, fitted to the terminal width as
    every layercalc table is (layercalc.boxtable); every text is escaped (printable).
    Past MAX_TABLE_ROWS items, as `shape`'s table, only the head and the tail are given
    cells and drawn, around a row that says how many are hidden."""
    from ..boxtable import BoxTable, fit_lines, render_lines

    width = table_width()
    table = BoxTable(printable(title) if title else None, printable(caption) if caption else None)
    for h, isnum in zip(headers, numeric):
        table.add_column(
            h,
            isnum,
            wrap=h in WRAPS,
            priority=PRIORITY.get(h, 0),
            shape=h in SHAPES,
            fold=h == "Layer",
        )
    hidden = 0
    limit = row_limit(MAX_TABLE_ROWS)
    if limit is not None and len(items) > limit:
        half = limit // 2
        hidden = len(items) - 2 * half
        items = [*items[:half], None, *items[-half:]]
    for item in items:
        if item is None:
            table.add_row(
                [f"... {hidden:,} more rows (--full, --depth, or --format csv)"]
                + [""] * (len(headers) - 1),
                style="dim",
            )
            continue
        table.add_row([printable(c) for c in cells(item)])
    if footer:
        table.add_section()
        table.add_row([printable(c) for c in footer], style="bold")
    lines = table.segments(width)
    lines += fit_lines([printable(line) for line in notes], width)
    lines.append("")
    return render_lines(lines, False)


SPEC_TEXT = ("Layer", "Type")  # the columns whose cells come from a spec


def _markdown(title, headers, numeric, items, footer=(), notes=(), cells=tuple) -> str:
    """A Markdown table; ``title`` is Markdown already (markdown_text of a spec's name).
    The SPEC_TEXT columns are escaped with markdown_text, the tool's own cells (shapes,
    numbers, formulas) stay readable, their pipes escaped."""
    out = [f"### {title}\n"] if title else []
    out.append("| " + " | ".join(headers) + " |")
    out.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    escapes = [markdown_text if h in SPEC_TEXT else _own_cell for h in headers]
    for r in map(cells, items):
        out.append("| " + " | ".join(e(c) for e, c in zip(escapes, r)) + " |")
    if footer:
        out.append("| " + " | ".join(map(_own_cell, footer)) + " |")
    out.append("")
    out.extend(f"- {printable(line)}" for line in notes)
    out.append("")
    return "\n".join(out) + "\n"


def _own_cell(text: str) -> str:
    return printable(text).replace("|", "\\|")


def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([printable(c) if isinstance(c, str) else c for c in r] for r in rows)
    return buf.getvalue()


def _json(payloads) -> str:
    data = payloads[0] if len(payloads) == 1 else payloads
    return printable_json(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _human(n: int) -> str:
    from ..analyses.totals import human_bytes

    return human_bytes(n)


def _run(specs, sets, input_shape, fmt, max_layers, build, payload, table, markdown, csv_rows):
    """Load every spec, print diagnostics (or error objects in json), render the good ones."""
    from ..analyses.totals import error_json

    results = load_all(specs, sets, input_shape, max_layers)
    if fmt == "json":
        out = []
        for r in results:
            out.append(
                payload(r.net, build(r.net))
                if r.net is not None
                else error_json(r.file, r.diagnostics)
            )
        click.echo(_json(out), nl=False)
    else:
        echo_diagnostics(results)
        good = [(r.net, build(r.net)) for r in results if r.net is not None]

        def as_csv(good):
            header, rows = None, []
            for net, data in good:
                h, rs = csv_rows(net, data)
                header = header or h
                rows += rs
            return _csv(header, rows) if header else ""

        # one renderer per format name of options.FORMATS, no catch-all: a name added
        # there without a renderer here is a KeyError in the tests, not silent CSV
        renderers = {
            "table": lambda good: "".join(table(n, d) for n, d in good),
            "markdown": lambda good: "".join(markdown(n, d) for n, d in good),
            "csv": as_csv,
        }
        click.echo(renderers[fmt](good), nl=False)
    sys.exit(exit_code(results))


# -- cost ---------------------------------------------------------------------------------

COST_HEADERS = ("Layer", "Type", "Output", "MACs", "FLOPs", "Activation")
COST_NUMERIC = (False, False, False, True, True, True)


def _cost_notes(c) -> list[str]:
    from ..analyses.cost import LEGEND

    t = c.totals
    batch = f"batch {c.batch}" + (
        f" (spec: {c.spec_batch}, scaled by {c.batch}/{c.spec_batch})"
        if c.batch != c.spec_batch
        else ""
    )
    return [
        f"MACs: {num(t['macs'])}; FLOPs: {num(t['flops'])} ({batch})",
        f"Memory as {c.dtype} ({c.dtype_bytes} bytes per element; KiB/MiB/GiB = 2**10/20/30 "
        "bytes):",
        f"  parameters {_human(t['param_bytes'])} ({num(t['params'])}), buffers "
        f"{_human(t['buffer_bytes'])}, input {_human(t['input_bytes'])}",
        f"  all activations {_human(t['activation_bytes'])} "
        f"({num(t['activation_elements'])} elements)",
        f"  inference: peak activations {_human(t['inference_peak_activation_bytes'])}; with "
        f"parameters and buffers {_human(t['inference_bytes'])}",
        f"  training step: kept activations {_human(t['training_activation_bytes'])} + "
        f"activation-gradient peak {_human(t['activation_gradient_peak_bytes'])} + parameter "
        f"gradients {_human(t['gradient_bytes'])} + parameters and buffers"
        + (
            f" + {t['optimizer']} state {_human(t['optimizer_state_bytes'])}"
            if t["optimizer_state_bytes"]
            else ""
        )
        + f" = {_human(t['training_bytes'])}"
        + (
            f" (no optimizer state: --optimizer adam adds {_human(2 * t['gradient_bytes'])})"
            if t["optimizer"] == "sgd"
            else ""
        ),
        LEGEND,
    ]


def _cost_cells(x):
    return (
        x.name,
        x.shown_type,
        shape_text(x.output),
        num(x.macs),
        num(x.flops),
        _human(x.activation_bytes),
    )


def _cost_footer(c):
    t = c.totals
    return ("Total", "", "", num(t["macs"]), num(t["flops"]), _human(t["activation_bytes"]))


def _cost_payload(net, c):
    return {
        "file": net.spec.file,
        "name": net.name,
        "dtype": c.dtype,
        "dtype_bytes": c.dtype_bytes,
        "batch": c.batch,
        "spec_batch": c.spec_batch,
        "legend": _legend(),
        "layers": [
            {
                "name": x.name,
                "type": x.type,
                "output": list(x.output),
                "macs": x.macs,
                "flops": x.flops,
                "activation_elements": x.activation_elements,
                "activation_bytes": x.activation_bytes,
                "params": x.params,
                **({"call": x.call} if x.call != 1 else {}),
            }
            for x in c.layers
        ],
        "totals": dict(c.totals),
    }


def _legend():
    from ..analyses.cost import LEGEND

    return LEGEND


def _cost_rows(net, c, depth):
    """The cost rows a table shows: a group collapsed at ``depth`` sums its members."""
    from dataclasses import replace

    from ..analyses.totals import collapse

    def merge(g, span, last):
        return replace(
            last,
            name=g.name,
            type=f"{g.type} ({len(span)} layers)",
            output=tuple(g.output),
            macs=sum(x.macs for x in span),
            flops=sum(x.flops for x in span),
            activation_elements=sum(x.activation_elements for x in span),
            activation_bytes=sum(x.activation_bytes for x in span),
            params=sum(x.params for x in span),
            call=g.call,
        )

    return collapse(net, c.layers, depth, merge)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@click.option(
    "--batch",
    type=Digits(1),
    default=None,
    help="batch size N: scales MACs and activations by N / (the spec's dim 0)",
)
@click.option(
    "--optimizer",
    type=click.Choice(["sgd", "momentum", "adam", "adamw"]),
    default="sgd",
    show_default=True,
    help="optimizer state in the training step: none, 1x or 2x the trainable parameters",
)
@click_option(DEPTH)
def cost(specs, sets, input_shape, fmt, max_layers, batch, optimizer, depth):
    """Compute (MACs, FLOPs) and memory per layer, with totals.

    Per layer: MACs (multiply-accumulates; transposed conv counted on input
    positions), FLOPs = 2 x MACs, and the output activation size at the spec dtype.
    Totals: parameters, buffers, input, all activations, the inference peak (tensors
    live from creation to their last consumer) and a training step (parameters,
    buffers, parameter gradients, every activation kept for backward, and the peak of
    activation gradients; optimizer state excluded). No views or in-place ops are
    assumed, so these are upper bounds.
    """
    from ..analyses.cost import cost as compute

    def build(net):
        return compute(net, batch, optimizer)

    _run(
        specs,
        sets,
        input_shape,
        fmt,
        max_layers,
        build,
        _cost_payload,
        lambda net, c: _table(
            net.name,
            net.spec.file,
            COST_HEADERS,
            COST_NUMERIC,
            _cost_rows(net, c, depth),
            _cost_footer(c),
            _cost_notes(c),
            _cost_cells,
        ),
        lambda net, c: _markdown(
            markdown_text(net.name),
            COST_HEADERS,
            COST_NUMERIC,
            _cost_rows(net, c, depth),
            _cost_footer(c),
            _cost_notes(c),
            _cost_cells,
        ),
        lambda net, c: (
            [
                "file",
                "layer",
                "type",
                "output",
                "macs",
                "flops",
                "activation_elements",
                "activation_bytes",
                "params",
            ],
            [
                [
                    net.spec.file,
                    x.name,
                    x.shown_type,
                    shape_text(x.output),
                    x.macs,
                    x.flops,
                    x.activation_elements,
                    x.activation_bytes,
                    x.params,
                ]
                for x in _cost_rows(net, c, depth)
            ],
        ),
    )


# -- receptive fields -----------------------------------------------------------------------

RF_HEADERS = ("Layer", "Type", "Output", "RF size", "Jump", "Start", "Note")
RF_NUMERIC = (False, False, False, True, True, True, False)


def _per_dim(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "×".join(values)


def _rf_cells(f):
    if f.fields is None:
        return (f.name, f.shown_type, shape_text(f.output), "", "", "", f.note)
    return (
        f.name,
        f.shown_type,
        shape_text(f.output),
        _per_dim(x.size for x in f.fields),
        _per_dim(x.jump for x in f.fields),
        _per_dim(x.start for x in f.fields),
        f.note,
    )


RF_NOTES = (
    "RF size: input positions one output position depends on (span, per spatial "
    "dim); jump: input pixels between neighbouring outputs; start: first input "
    "position seen by output 0 (negative: in the padding). Araujo et al. 2019; "
    "transposed convs: the largest span over output positions.",
)


def _rf_payload(net, fields):
    return {
        "file": net.spec.file,
        "name": net.name,
        "layers": [
            {
                "name": f.name,
                "type": f.type,
                "output": list(f.output),
                "fields": None
                if f.fields is None
                else [{"size": x.size, "jump": str(x.jump), "start": x.start} for x in f.fields],
                "note": f.note,
                **({"call": f.call} if f.call != 1 else {}),
            }
            for f in fields
        ],
    }


def _rf_rows(net, fields, depth):
    """The rows a table shows: a group collapsed at ``depth`` has the field of its
    output (the member producing it)."""
    from dataclasses import replace

    from ..analyses.totals import collapse

    return collapse(
        net,
        fields,
        depth,
        lambda g, span, last: replace(
            last,
            name=g.name,
            type=f"{g.type} ({len(span)} layers)",
            output=tuple(g.output),
            call=g.call,
        ),
    )


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@click_option(DEPTH)
def rf(specs, sets, input_shape, fmt, max_layers, depth):
    """Receptive field per layer and spatial dim: size, jump (effective stride), start.

    Follows Araujo, Norris & Sim (Distill 2019) through dilation, pooling and merges of
    aligned branches; transposed convolutions divide the jump by their stride, and the
    size is the largest span over output positions (computed exactly). Undefined after
    flatten, linear, reshape or upsample.
    """
    from ..analyses.receptive import receptive_fields

    def csv_rows(net, fields):
        rows = []
        for f in _rf_rows(net, fields, depth):
            for axis, x in enumerate(f.fields or [None]):
                rows.append(
                    [
                        net.spec.file,
                        f.name,
                        f.shown_type,
                        shape_text(f.output),
                        "" if x is None else axis,
                        "" if x is None else x.size,
                        "" if x is None else str(x.jump),
                        "" if x is None else x.start,
                        f.note,
                    ]
                )
        return ["file", "layer", "type", "output", "dim", "size", "jump", "start", "note"], rows

    _run(
        specs,
        sets,
        input_shape,
        fmt,
        max_layers,
        receptive_fields,
        _rf_payload,
        lambda net, fs: _table(
            net.name,
            net.spec.file,
            RF_HEADERS,
            RF_NUMERIC,
            _rf_rows(net, fs, depth),
            notes=RF_NOTES,
            cells=_rf_cells,
        ),
        lambda net, fs: _markdown(
            markdown_text(net.name),
            RF_HEADERS,
            RF_NUMERIC,
            _rf_rows(net, fs, depth),
            notes=RF_NOTES,
            cells=_rf_cells,
        ),
        csv_rows,
    )


# -- explain --------------------------------------------------------------------------------


@click.command()
@click.argument("spec", metavar="SPEC")
@click.argument("layer", required=False, metavar="[LAYER]")
@spec_options()
def explain(spec, layer, sets, input_shape, fmt, max_layers):
    """Why each layer (or LAYER, a leaf or group name) has its shape and parameters.

    The output-size formula with the numbers plugged in (floor or ceil shown when it
    drops a remainder, and the input rows that leaves unread), the parameter
    arithmetic, and the comparison with a fully-connected layer of the same input and
    output sizes: its weights, the connections this layer really has, and how many
    times each weight is shared.
    """
    from ..errors import did_you_mean
    from ..analyses.explain import explain as build_all
    from ..analyses.explain import lines
    from ..analyses.totals import error_json

    results = load_all([spec], sets, input_shape, max_layers)
    r = results[0]
    if r.net is None:
        if fmt == "json":
            click.echo(_json([error_json(r.file, r.diagnostics)]), nl=False)
        else:
            echo_diagnostics(results)
        sys.exit(1)
    try:
        items = build_all(r.net, layer)
    except KeyError:
        hint = did_you_mean(layer, list(r.net.by_name))
        raise click.BadParameter(
            printable(
                f"no layer or group named {layer!r} in {r.file}" + (f" ({hint})" if hint else "")
            ),
            param_hint="LAYER",
        ) from None
    if fmt == "json":
        payload = {
            "file": r.file,
            "name": r.net.name,
            "layers": [
                {
                    "name": e.name,
                    "type": e.type,
                    "input": e.inputs,
                    "output": list(e.output),
                    "shape": e.shape,
                    "params": e.params,
                    "compare": e.compare,
                    "figures": e.figures,
                    "text": lines(e),
                    **({"call": e.call} if e.call != 1 else {}),
                }
                for e in items
            ],
        }
        click.echo(_json([payload]), nl=False)
    elif fmt == "csv":
        rows = []
        for e in items:
            for section in ("shape", "params", "compare"):
                for text in getattr(e, section):
                    rows.append([r.file, e.name, e.shown_type, section, text.strip()])  # escaped
        click.echo(_csv(["file", "layer", "type", "section", "text"], rows), nl=False)
    elif fmt == "markdown":
        out = [f"### {markdown_text(r.net.name)}\n"]
        for e in items:
            out.append(f"#### {markdown_text(e.name)} ({markdown_text(e.shown_type)})\n")
            body = [printable(line) for line in lines(e)[1:]]
            fence = "`" * max(
                3, 1 + max((len(run) for run in re.findall("`+", "\n".join(body))), default=0)
            )  # no line in the body can close it
            out += [fence, *body, fence + "\n"]
        click.echo("\n".join(out), nl=True)
    else:
        width = table_width()
        text = "\n\n".join("\n".join(_fit_indented(map(printable, lines(e)), width)) for e in items)
        head = _fit_indented([f"{printable(r.net.name)} ({printable(r.file)})"], width)
        click.echo("\n".join(head) + f"\n\n{text}")
    sys.exit(0)


def _fit_indented(text_lines, width: int) -> list[str]:
    """Lines wrapped to ``width``, each continuation indented two more than its line."""
    import textwrap

    out = []
    for line in text_lines:
        if len(line) <= width:
            out.append(line)
            continue
        pad = " " * (len(line) - len(line.lstrip(" ")))
        out += textwrap.wrap(
            line,
            width,
            initial_indent="",
            subsequent_indent=pad + "  ",
            break_on_hyphens=False,
            drop_whitespace=True,
        ) or [line]
    return out


# -- solve ----------------------------------------------------------------------------------

SOLVE_HEADERS = ("#", "k", "s", "p", "d", "op/ceil", "Check", "PyTorch", "Note")
SOLVE_NUMERIC = (True, True, True, True, True, False, False, False, False)


@click.command()
@click.option("--in", "n_in", type=Digits(1), required=True, help="input size")
@click.option("--out", "n_out", type=Digits(1), required=True, help="target size")
@click.option("--kernel", type=Digits(1), default=None, help="fix the kernel size")
@click.option("--stride", type=Digits(1), default=None, help="fix the stride")
@click.option(
    "--type",
    "kind",
    type=click.Choice(("conv", "conv_transpose", "max_pool", "avg_pool")),
    default=None,
    help="layer type (default: conv when shrinking or keeping the "
    "size, conv_transpose when growing)",
)
@click.option(
    "--dims",
    type=Digits(1, 3),
    default=2,
    show_default=True,
    help="spatial dims of the PyTorch line",
)
@click.option(
    "--limit", type=Digits(1), default=10, show_default=True, help="show at most N answers"
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def solve(n_in, n_out, kernel, stride, kind, dims, limit, fmt):
    """Hyper-parameters mapping an input size to a target size, simplest first.

    \b
      layercalc solve --in 64 --out 32 --kernel 4        -> stride 2, padding 1
      layercalc solve --in 32 --out 64 --type conv_transpose

    Searches kernel <= 11, stride <= 4, padding <= kernel (pools: PyTorch's limit of
    half the kernel), dilation <= 3, output_padding < stride, ceil_mode. Ranked: no
    input rows left unread (no output left unreached), no dilation, no output_padding
    or ceil_mode, padding within k//2 and centred, then the smallest stride and kernel.
    Every answer is recomputed with the shape formulas. When more than 64 paddings fit
    one kernel, stride and dilation (a large fixed --kernel or --stride), the smallest,
    the centred and the largest are listed.
    """
    from ..analyses.solve import output_size
    from ..analyses.solve import solve as search

    if kind is None:
        kind = "conv_transpose" if n_out > n_in else "conv"
    found = search(n_in, n_out, kind, kernel, stride)
    for s in found:
        assert output_size(s, n_in) == n_out  # recomputed by layercalc.arith
    shown = found[:limit]
    title = f"{kind}: {n_in} -> {n_out}"
    if fmt == "json":
        click.echo(
            _json(
                [
                    {
                        "in": n_in,
                        "out": n_out,
                        "type": kind,
                        "count": len(found),
                        "solutions": [
                            {
                                "kernel_size": s.kernel,
                                "stride": s.stride,
                                "padding": s.padding,
                                "dilation": s.dilation,
                                "output_padding": s.output_padding,
                                "ceil_mode": s.ceil_mode,
                                "out": s.out,
                                "check": s.formula(n_in),
                                "pytorch": s.torch(dims),
                                "notes": list(s.notes),
                            }
                            for s in shown
                        ],
                    }
                ]
            ),
            nl=False,
        )
    else:
        rows = [
            (
                str(i + 1),
                str(s.kernel),
                str(s.stride),
                str(s.padding),
                str(s.dilation),
                ("op=" + str(s.output_padding))
                if s.output_padding
                else ("ceil" if s.ceil_mode else ""),
                s.formula(n_in),
                s.torch(dims),
                "; ".join(s.notes),
            )
            for i, s in enumerate(shown)
        ]
        more = len(found) - len(shown)
        notes = [
            f"{len(found)} solutions" + (f"; {more} more with --limit" if more else "")
            if found
            else f"no {kind} with kernel <= 11, stride <= 4, dilation <= 3 maps {n_in} to {n_out}"
        ]
        if fmt == "table":
            click.echo(
                _table(title, None, SOLVE_HEADERS, SOLVE_NUMERIC, rows, notes=notes), nl=False
            )
        elif fmt == "markdown":
            click.echo(_markdown(title, SOLVE_HEADERS, SOLVE_NUMERIC, rows, notes=notes), nl=False)
        else:
            click.echo(
                _csv(
                    [
                        "rank",
                        "kernel_size",
                        "stride",
                        "padding",
                        "dilation",
                        "output_padding",
                        "ceil_mode",
                        "out",
                        "check",
                        "pytorch",
                        "notes",
                    ],
                    [
                        [
                            i + 1,
                            s.kernel,
                            s.stride,
                            s.padding,
                            s.dilation,
                            s.output_padding,
                            s.ceil_mode,
                            s.out,
                            s.formula(n_in),
                            s.torch(dims),
                            "; ".join(s.notes),
                        ]
                        for i, s in enumerate(shown)
                    ],
                ),
                nl=False,
            )
    sys.exit(0 if found else 1)


COMMANDS = (cost, rf, explain, solve)
