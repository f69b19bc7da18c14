"""What the spec commands do once their arguments are parsed. No click here, so that the
start-up path (layercalc.cli.entry) can answer `shape` and `params` without it."""

from __future__ import annotations

import os
import sys


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
_width_option = None  # --width N, set by the command that parsed it


_full = False  # --full: every row, no head-and-tail cut


def set_width(n):
    global _width_option
    _width_option = n


def set_full(on: bool):
    global _full
    _full = bool(on)


def row_limit(limit: int) -> int | None:
    """The rows a table shows before it cuts to its head and tail (None: --full)."""
    return None if _full else limit


def use_color() -> bool:
    """Colour and bold only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def table_width() -> int:
    """The width tables fit: --width N, else $COLUMNS, else the terminal's, else 80."""
    if _width_option is not None:
        return max(WIDTH_MIN, _width_option)
    env = os.environ.get("COLUMNS", "")
    if env.isascii() and env.isdigit():
        return max(WIDTH_MIN, int(env))
    if sys.stdout.isatty():
        try:
            return max(WIDTH_MIN, os.get_terminal_size(sys.stdout.fileno()).columns)
        except OSError:
            pass
    return WIDTH_DEFAULT


SNIPPET_WIDTH = 76  # characters of a source line shown around the column


def source_snippet(d, cache: dict) -> list[str]:
    """The offending source line of diagnostic ``d`` with a caret under its column, as
    rustc and ruff show it (escaped: the line comes from the user's file), or [] when the
    file cannot be read again (standard input, a file gone) or has no such line. A long
    line is shown as a window around the column. ``cache``: file -> its lines, for the
    last file only (diagnostics come file by file)."""
    from ..analyses.loading import read_source
    from ..render import printable

    if d.file is None or d.file == "<stdin>" or not d.line:
        return []
    if d.file not in cache:
        cache.clear()  # one file's lines at a time: check may read thousands of files
        try:
            cache[d.file] = read_source(d.file).split(b"\n")
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
    caret = len(lead) + len(printable(piece[: max(0, col - start)]))
    return [f"{number} | {lead}{shown}{tail}", f"{' ' * len(number)} | {' ' * caret}^"]


def format_diagnostic(d) -> str:
    """``FILE:LINE:COL: severity[code]: message`` and an indented hint line; the file name,
    message and hint escaped (layercalc.render.printable), so a diagnostic stays one line."""
    from ..render import printable

    line = f"{printable(d.location())}: {d.severity}[{d.code}]: {printable(d.message)}"
    if d.hint:
        line += f"\n    hint: {printable(d.hint)}"
    return line


def report(view: str, results, fmt: str, depth) -> tuple[str, list[str]]:
    """`shape`/`params` output: (standard output text, lines for standard error).

    json reports invalid specs as error objects in the output itself; the other formats
    send their diagnostics to standard error and render the valid networks.
    """
    from ..graph import gc_paused

    with gc_paused():  # rows and cells of 100,000 layers: see gc_paused
        return _report(view, results, fmt, depth)


def _report(view, results, fmt, depth):
    from .. import render

    if fmt == "json":
        from ..analyses.totals import error_json, network_json

        return render.render_json(
            [
                network_json(r.net) if r.net is not None else error_json(r.file, r.diagnostics)
                for r in results
            ]
        ), []
    errors = [format_diagnostic(d) for r in results for d in r.diagnostics]
    good = [r.net for r in results if r.net is not None]
    if not good:
        return "", errors
    if fmt == "table":
        return render.render_table(
            good, view, depth, table_width(), use_color(), row_limit(render.MAX_TABLE_ROWS)
        ), errors
    if fmt == "markdown":
        return render.render_markdown(good, view, depth), errors
    return render.render_csv(good, view, depth), errors
