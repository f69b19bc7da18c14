"""What the spec commands do once their arguments are parsed. No click here, so that the
start-up path (layercalc.cli.entry) can answer `shape` and `params` without it."""

from __future__ import annotations

import os
import sys
from typing import NamedTuple


def load_all(specs, overrides: dict, input_shape, max_layers: int) -> list:
    """Analyse every spec in turn (a bad one never stops the others)."""
    from ..analyses.loading import analyse
    from ..spec import Limits

    limits = Limits(max_layers=max_layers)
    return [analyse(p, overrides, input_shape, limits) for p in specs]


def exit_code(results) -> int:
    return 0 if all(r.ok for r in results) else 1


WIDTH_DEFAULT = 80  # columns when neither --width, $COLUMNS nor a terminal says
WIDTH_MIN = 40


def use_color() -> bool:
    """Colour and bold only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def table_width(option: int | None = None) -> int:
    """The width tables fit: --width N (``option``), else $COLUMNS, else the terminal's,
    else 80."""
    if option is not None:
        return max(WIDTH_MIN, option)
    env = os.environ.get("COLUMNS", "")
    if env.isascii() and env.isdigit():
        return max(WIDTH_MIN, int(env))
    if sys.stdout.isatty():
        try:
            return max(WIDTH_MIN, os.get_terminal_size(sys.stdout.fileno()).columns)
        except OSError:
            pass
    return WIDTH_DEFAULT


def output_options(values: dict, as_list: bool = False):
    """The renderer options (layercalc.render.Options) of a command's parsed values."""
    from ..render import Options

    color = values.get("fmt", "table") == "table" and use_color()
    return Options(table_width(values.get("width")), color, bool(values.get("full")), as_list)


SNIPPET_WIDTH = 76  # characters of a source line shown around the column


def source_snippet(d, cache: dict) -> list[str]:
    """The offending source line of diagnostic ``d`` with a caret under its column, as
    rustc and ruff show it (escaped: the line comes from the user's file), or [] when the
    file cannot be read again (standard input, a file gone) or has no such line. A long
    line is shown as a window around the column. ``cache``: file -> its lines, for the
    last file only (diagnostics come file by file)."""
    from ..analyses.loading import read_source
    from ..text import cells, printable
    from ..yamlnodes import as_utf8

    if d.file is None or d.file == "<stdin>" or not d.line:
        return []
    if d.file not in cache:
        cache.clear()  # one file's lines at a time: check may read thousands of files
        try:
            cache[d.file] = as_utf8(read_source(d.file)).split(b"\n")
        except OSError:
            cache[d.file] = None
    lines = cache[d.file]
    if not lines or d.line > len(lines):
        return []
    text = lines[d.line - 1].rstrip(b"\r").decode("utf-8", "replace")
    col = max(1, d.column) - 1
    start = 0
    if len(text) > SNIPPET_WIDTH:
        start = max(0, min(col - SNIPPET_WIDTH // 3, len(text) - SNIPPET_WIDTH))
    piece = text[start : start + SNIPPET_WIDTH]
    lead = "..." if start else ""
    tail = "..." if start + SNIPPET_WIDTH < len(text) else ""
    number = str(d.line)
    shown = printable(piece).rstrip()
    # cells, not characters: a full-width character before the column takes two
    caret = len(lead) + cells(printable(piece[: max(0, col - start)]))
    return [f"{number} | {lead}{shown}{tail}", f"{' ' * len(number)} | {' ' * caret}^"]


def format_diagnostic(d) -> str:
    """``FILE:LINE:COL: severity: message [code]`` (SPEC.md section 6's form, the code
    last as compilers put a warning's flag) and an indented hint line; the file name,
    message and hint escaped (layercalc.render.printable), so a diagnostic stays one line."""
    from ..text import printable

    line = f"{printable(d.location())}: {d.severity}: {printable(d.message)} [{d.code}]"
    if d.hint:
        line += f"\n    hint: {printable(d.hint)}"
    return line


class Outcome(NamedTuple):
    """What a command prints and how it ends: standard output, the lines of standard
    error, the exit status."""

    out: str
    err: list
    code: int


class Refused(Exception):
    """A view cannot be made for a valid spec (``cost --context`` of a network without
    attention): ``diagnostic`` says why; the spec is reported as invalid (exit 1)."""

    def __init__(self, diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _cost(net, v):
    from ..analyses.cost import cost
    from ..views import cost_table

    optimizer = v.get("optimizer") or "sgd"
    if not v.get("context"):
        return cost_table(net, cost(net, v.get("batch"), optimizer), v["depth"])
    from ..analyses.generation import GenerationError, generation
    from ..errors import SpecError
    from ..spec import Limits
    from ..views import generation_table

    try:
        gen, prefill = generation(
            net,
            v["context"],
            v.get("new_tokens") or 1,
            v.get("batch"),
            v.get("group_size") or 128,
            v.get("sets"),
            v.get("input_shape"),
            Limits(max_layers=v.get("max_layers") or 100_000),
            v.get("window"),
            v.get("prebuilt", {}).get(id(net)),
        )
    except GenerationError as exc:
        d = exc.where
        if d is None:  # located at the spec's input
            d = SpecError(
                exc.code, exc.message, node=net.spec.root.get("input"), hint=exc.hint
            ).diagnostic(net.spec.file)
        else:
            d = d._replace(code=exc.code, message=exc.message, hint=exc.hint)
        raise Refused(d) from None
    table = cost_table(prefill, cost(prefill, None, optimizer), v["depth"], gen)
    warned = [
        SpecError("context-warning", message, node=node)
        .diagnostic(net.spec.file)
        ._replace(severity="warning")
        for message, node in gen.warnings
    ]
    return Viewed([table, generation_table(prefill, gen)], warned)


def _load_at_context(specs, values: dict) -> list:
    """`cost --context`: each spec built once, at the context, where one build tells the
    token dim (analyses.generation.load_at_context); the others as every command loads
    them (built at their own shapes, then again at the context)."""
    from ..analyses.generation import load_at_context
    from ..spec import Limits

    limits = Limits(max_layers=values["max_layers"])
    prebuilt = values.setdefault("prebuilt", {})
    results = []
    for path in specs:
        found = load_at_context(
            path,
            values["sets"],
            values["input_shape"],
            limits,
            values["context"],
            values.get("batch"),
        )
        if found is None:
            results.extend(
                load_all([path], values["sets"], values["input_shape"], values["max_layers"])
            )
        else:
            prebuilt[id(found[0].net)] = found[1]
            results.append(found[0])
    return results


class Viewed(NamedTuple):
    """A view's tables and the warnings it found (`cost --context` past a rotary
    model's trained positions): shown on standard error, the exit status kept."""

    tables: list
    warnings: list


def _rf(net, v):
    from ..analyses.receptive import receptive_fields
    from ..views import rf_table

    return rf_table(net, receptive_fields(net), v["depth"])


def _network(view):
    def table(net, v):
        from ..views import network_table

        return network_table(net, view, v["depth"])

    return table


# the per-layer views of a network, by command name
VIEWS = {"shape": _network("shape"), "params": _network("params"), "cost": _cost, "rf": _rf}


def execute(command: str, specs, values: dict) -> Outcome:
    """Run a spec command whose arguments are parsed (``values``: sets, input_shape, fmt,
    max_layers, width, depth, full and the command's own options), for click and for the
    start-up path alike: load every spec, turn each valid network into its view, render
    them in the chosen format. JSON reports an invalid spec as an error object in the
    output itself; the other formats send diagnostics to standard error."""
    from ..graph import gc_paused

    if command == "cost" and values.get("context"):
        results = _load_at_context(specs, values)
    else:
        results = load_all(specs, values["sets"], values["input_shape"], values["max_layers"])
    view = VIEWS[command]
    tables = []
    with gc_paused():  # rows and cells of 100,000 layers: see gc_paused
        for r in results:
            try:
                shown = view(r.net, values) if r.net is not None else None
                if isinstance(shown, Viewed):
                    r.diagnostics.extend(shown.warnings)
                    shown = shown.tables
                tables.append(shown)
            except Refused as exc:
                r.diagnostics.append(exc.diagnostic)
                tables.append(None)
    return finish(results, tables, values)


TRAIL = 8  # layers shown before a build's error


def trail_lines(r, width: int) -> list[str]:
    """For a spec refused with one error: the shapes of the last layers built before its
    line (28 -> 26 -> 13 -> ... -> 1), what a learner needs to see why; [] else."""
    from ..boxtable import fit_lines
    from ..text import printable, shape_text

    errors = [d for d in r.diagnostics if d.severity == "error"]
    trail = getattr(r, "trail", ())
    if len(errors) != 1 or not trail:
        return []
    line = errors[0].line or 0
    before = [t for t in trail if t[3] < line and t[2] is not None]
    if not before:
        return []
    steps = [f"{printable(name)} {kind} {shape_text(out)}" for name, kind, out, _ in before]
    more = len(steps) - TRAIL
    text = ("… " if more > 0 else "") + " -> ".join(steps[-TRAIL:])
    return fit_lines([f"  built before it: {text}"], width, indent="    ")


def finish(results, tables, values: dict, ok: bool = True) -> Outcome:
    """Render ``tables`` (one per result, or a list of them; None for an invalid spec or
    one a view refused) in values["fmt"]:
    JSON gets an error object for each invalid spec, the other formats print the
    diagnostics on standard error. Exit status 1 when any spec is invalid or not ``ok``."""
    from ..render import render
    from ..views import error_table

    fmt = values["fmt"]
    shown = []
    for r, t in zip(results, tables):
        if t is None:
            t = error_table(r.file, r.diagnostics)
        shown.extend(t if isinstance(t, list) else [t])
    err = []
    if fmt != "json":
        for r in results:
            err += [format_diagnostic(d) for d in r.diagnostics]
            if fmt == "table":
                err += trail_lines(r, table_width(values.get("width")))
    if fmt != "json" and all(t.error for t in shown):
        out = ""
    else:
        from ..graph import gc_paused

        with gc_paused():
            out = render(shown, fmt, output_options(values))
    return Outcome(out, err, 0 if ok and exit_code(results) == 0 else 1)
