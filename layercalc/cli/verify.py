"""`layercalc verify`: a real NumPy forward pass that checks every calculated number."""

from __future__ import annotations

import sys
import time

import click

from .common import Digits, click_option, echo_diagnostics, spec_options
from .options import DEPTH
from .run import exit_code, format_diagnostic, load_all, row_limit, table_width, use_color

PROGRESS_AFTER = 0.5  # seconds: quicker runs never show a progress bar
MAX_ROWS = 400


def _max_memory(ctx, param, value):
    from ..units import parse_bytes

    try:  # the grammar of expect's max_param_memory (layercalc.units)
        return parse_bytes(value, minimum=1)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _not_a_spec(save, st, specs) -> None:
    """Refuse a --save target that is one of the SPEC files being read (the same file,
    by device and inode, whatever the path; ``-`` is standard input)."""
    import os

    from ..outfile import OutputError

    if st is None:
        return
    for spec in specs:
        try:
            spec_st = os.fstat(0) if spec == "-" else os.stat(spec)
        except (OSError, ValueError):
            continue
        if os.path.samestat(st, spec_st):
            what = "standard input" if spec == "-" else f"the spec '{spec}'"
            raise OutputError(
                save,
                f"it is {what}, which is being verified",
                "give --save a new file name, e.g. weights.npz; the spec is never overwritten",
            )


class _Progress:
    """A rich progress bar on stderr, shown only on a terminal and only once the run has
    taken more than a moment (so quick runs and pipes stay clean): layers done, the
    elapsed time and an estimate of what is left. The estimate weighs each layer by its
    work (MACs plus the elements it writes), not by its count: a ResNet's first convs
    cost more than its last ReLUs."""

    def __init__(self, label: str, net=None):
        self.label = label
        self.start = time.perf_counter()
        self.bar = None
        self.task = None
        self.done = None  # cumulative work after each layer
        if net is not None:
            from ..arith import prod

            total, self.done = 0, []
            for layer in net.layers:
                total += layer.macs + prod(layer.output) + layer.params + 1
                self.done.append(total)
        try:  # sys.stderr is None when the process started with it closed (2>&-)
            self.enabled = sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, OSError, ValueError):
            self.enabled = False

    def __call__(self, i, n, name):
        if not self.enabled:
            return
        if self.bar is None and time.perf_counter() - self.start < PROGRESS_AFTER:
            return
        from rich.markup import escape

        from ..render import printable

        if self.bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[layer]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            total = self.done[-1] if self.done and len(self.done) == n else n
            self.task = self.bar.add_task(
                escape(printable(self.label)), total=total, layer="", count=""
            )
        work = self.done[i - 1] if self.done and len(self.done) == n and i > 0 else i
        self.bar.update(
            self.task, completed=work, count=f"{i:,}/{n:,}", layer=escape(printable(name))
        )

    def close(self):
        if self.bar is not None:
            self.bar.stop()


def _shape(s):
    return "—" if s is None else "[" + ", ".join(str(v) for v in s) + "]"


def _count(expected, actual):
    if actual is None or actual == expected:
        return f"{expected:,}"
    return f"{actual:,} ≠ {expected:,}"


def _summary(v, net) -> str:
    from ..analyses.totals import human_bytes

    n = len(v.checks)
    failed = v.failed
    outs = ", ".join(_shape(s) for s in net.outputs.values())
    totals = net.totals()
    tail = (
        f"({v.dtype}, seed {v.seed}, {v.seconds:.2f} s, estimated peak {human_bytes(v.estimate)})"
    )
    if not failed:
        return (
            f"✓ all {n} layers agree: output {outs}, {totals['params']:,} params, "
            f"{totals['buffers']:,} buffers {tail}"
        )
    return f"✗ {len(failed)} of {n} layers disagree {tail}"


def _collapsed(v, net, depth) -> list:
    """The checks a table shows at ``depth``: a collapsed group is one row, ✓ when every
    member agrees, its output the group's, its counts and time the members' sums."""
    from dataclasses import replace

    from ..analyses.totals import collapse

    if depth is None or len(v.checks) != len(net.layers):
        return list(v.checks)

    def merge(g, span, last):
        bad = next((c for c in span if not c.ok), None)
        counts = [c.params_actual for c in span], [c.buffers_actual for c in span]
        return replace(
            last,
            name=g.name,
            type=f"{g.type} ({len(span)} layers)",
            expected=tuple(g.output),
            params=sum(c.params for c in span),
            buffers=sum(c.buffers for c in span),
            params_actual=None if None in counts[0] else sum(counts[0]),
            buffers_actual=None if None in counts[1] else sum(counts[1]),
            seconds=sum(c.seconds for c in span),
            call=g.call,
            error=None if bad is None else (bad.error or f"{bad.name} disagrees"),
        )

    return collapse(net, v.checks, depth, merge)


def render_verification(v, net, width, color, depth=None) -> str:
    from ..boxtable import BoxTable, fit_lines, render_lines
    from ..render import printable

    table = BoxTable(f"{printable(net.name)} — verify", printable(net.spec.file))
    for header, numeric, wrap, priority in (
        ("", False, False, 0),
        ("Layer", False, False, 0),
        ("Type", False, False, 2),
        ("Calculated", False, False, 0),
        ("Actual", False, True, 0),
        ("Params", True, False, 3),
        ("Buffers", True, False, 4),
        ("ms", True, False, 5),
    ):
        table.add_column(
            header,
            numeric,
            wrap,
            priority,
            shape=header in ("Calculated", "Actual"),
            fold=header == "Layer",
        )
    checks = _collapsed(v, net, depth)
    hidden = 0
    limit = row_limit(MAX_ROWS)
    if limit is not None and len(checks) > limit:  # every failure, then the head and tail
        keep = set(range(limit // 2)) | set(range(len(checks) - limit // 2, len(checks)))
        keep |= {i for i, c in enumerate(checks) if not c.ok}
        hidden = len(checks) - len(keep)
        checks = [c for i, c in enumerate(checks) if i in keep]
    for c in checks:
        mark, style = ("✓", "green") if c.ok else ("✗", "bold red")
        actual = _shape(c.actual) if c.error is None else printable(c.error)
        table.add_row(
            [
                mark,
                printable(c.name),
                printable(c.shown_type),
                _shape(c.expected),
                actual,
                _count(c.params, c.params_actual),
                _count(c.buffers, c.buffers_actual),
                f"{c.seconds * 1000:.1f}" if c.ran else "",
            ],
            styles=[style, "", "", "", "" if c.ok else "red", "", "", ""],
        )
    lines = table.segments(width or 120)
    if hidden:
        lines.append(f"({hidden:,} passing rows not shown)")
    for text in fit_lines([_summary(v, net)], width or 120):
        lines.append([(text, "bold green" if v.ok else "bold red")])
    lines.append("")
    return render_lines(lines, color)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--seed",
    type=Digits(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="seed of the random parameters, buffers and input",
)
@click.option(
    "--save",
    "save",
    type=click.Path(readable=False),
    default=None,
    metavar="FILE.npz",
    help="write input, output and every parameter and buffer under its "
    "PyTorch state_dict key (one SPEC only)",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default="float32",
    show_default=True,
    help="element type of the forward pass",
)
@click.option(
    "--max-memory",
    "max_memory",
    default="2GiB",
    show_default=True,
    callback=_max_memory,
    metavar="SIZE",
    help="refuse runs whose estimated peak memory exceeds SIZE (512MiB, 2GiB)",
)
@spec_options(formats=("table", "json"))
@click_option(DEPTH)
def verify(specs, seed, save, dtype, max_memory, sets, input_shape, fmt, max_layers, depth):
    """Run the network for real in NumPy and check every calculated number.

    Every parameter and buffer gets a seeded random array of the exact shape PyTorch
    gives it; a seeded input (integer indices for embedding) goes through the network
    with inference semantics. Each layer passes when its array has the calculated
    shape and its tensors hold the calculated parameter and buffer counts. The peak
    memory is estimated first, and a run above --max-memory is refused. Exit 0 when
    everything agrees, 1 otherwise.
    """
    if save is not None and len(specs) != 1:
        raise click.UsageError("--save writes one network's arrays: give exactly one SPEC")
    from ..analyses import verify as core
    from ..errors import Diagnostic
    from ..outfile import OutputError, check_target

    def unwritable(r, exc):
        r.diagnostics.append(
            Diagnostic(
                "unwritable",
                f"cannot write --save {save}: {exc.reason}",
                file=r.file,
                hint=exc.hint,
            )
        )

    results = load_all(specs, sets, input_shape, max_layers)
    runs = []  # (result, verification or None)
    for r in results:
        if r.net is None:
            runs.append((r, None))
            continue
        refusal = core.integer_input_diagnostic(r.net, r.file) or core.rank_diagnostic(
            r.net, r.file
        )
        if refusal is not None:
            r.diagnostics.append(refusal)
            runs.append((r, None))
            continue
        if save is not None:
            try:
                _, st = check_target(save)  # before the run: a bad --save costs no forward pass
                _not_a_spec(save, st, specs)
            except OutputError as exc:
                unwritable(r, exc)
                runs.append((r, None))
                continue
        estimate = core.estimate_memory(r.net, dtype, save is not None)
        if estimate > max_memory:
            r.diagnostics.append(core.memory_diagnostic(r.net, estimate, max_memory, r.file))
            runs.append((r, None))
            continue
        progress = _Progress(f"verify {r.file}", r.net)
        try:
            v = core.run(r.net, seed, dtype, save is not None, progress, estimate, r.file)
        finally:
            progress.close()
        warning = core.nonfinite_diagnostic(r.net, v, r.file)
        if warning is not None:
            r.diagnostics.append(warning)
        if save is not None:
            if v.arrays is not None and any(k.startswith("output") for k in v.arrays):
                try:
                    core.save_npz(save, v.arrays)
                except OutputError as exc:
                    unwritable(r, exc)
            else:
                r.diagnostics.append(
                    Diagnostic(
                        "not-saved",
                        f"{save} was not written: the forward pass did not finish",
                        file=r.file,
                    )
                )
            v.arrays = None
        runs.append((r, v))

    if fmt == "json":
        from ..render import render_json
        from ..analyses.totals import error_json

        payloads = []
        for r, v in runs:
            if v is None:
                payloads.append(error_json(r.file, r.diagnostics))
            else:
                p = v.as_json()
                errors = [d.as_json() for d in r.diagnostics if d.severity == "error"]
                if errors:
                    p["errors"] = errors
                p["warnings"] = [d.as_json() for d in r.diagnostics if d.severity == "warning"]
                payloads.append(p)
        click.echo(render_json(payloads), nl=False)
    else:
        echo_diagnostics(results)
        color = use_color()
        for r, v in runs:
            if v is not None:
                click.echo(render_verification(v, r.net, table_width(), color, depth), nl=False)
    ok = exit_code(results) == 0 and all(v is not None and v.ok for _, v in runs)
    sys.exit(0 if ok else 1)


COMMANDS = (verify,)
__all__ = ["COMMANDS", "format_diagnostic"]
