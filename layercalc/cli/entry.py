"""The `layercalc` executable.

`shape`, `params` and `check` runs whose arguments are plain (spec files and the
options of layercalc.cli.options with well-formed values) are answered here without
importing click, which costs about as much as everything else such a run does (issue 8: `shape
--format json` within 0.7x of importing yaml, click and rich). Everything else (help,
other commands, any argument this parser is unsure of) goes to the click group, which
also produces every usage error. Both paths run the same code once the arguments are
parsed (layercalc.cli.run), and tests/test_entry.py holds them to the same output.
"""

from __future__ import annotations

import os
import sys

from .options import CHECK_OPTIONS, CONVERT, DEPTH, FORMATS, SPEC_OPTIONS

_VIEW_OPTIONS = {o.flag: o for o in (*SPEC_OPTIONS, DEPTH)}
# the commands answered here, with the options each takes on this path (shape and
# params are also the names of their views; check runs layercalc.cli.checking)
FAST_COMMANDS = {
    "shape": _VIEW_OPTIONS,
    "params": _VIEW_OPTIONS,
    "check": {o.flag: o for o in CHECK_OPTIONS},
}
# the commands that build networks (the executable freezes what their builds allocate)
BUILDING = frozenset(
    ("shape", "params", "check", "cost", "rf", "explain", "draw", "verify", "diff", "export")
)
_GLOB = frozenset("*?[")  # click expands wildcards itself on Windows; leave those to it
_DECLINE = object()


def fast_args(argv: list[str]):
    """argv (without the program name) -> (view, specs, values by dest), or None when
    click should handle it. Declines rather than guesses: a value it would have to
    interpret differently from click makes it step aside."""
    if not argv or argv[0] not in FAST_COMMANDS:
        return None
    options = FAST_COMMANDS[argv[0]]
    raw = {o.dest: [] for o in options.values()}
    specs = []
    rest = iter(argv[1:])
    for token in rest:
        if token == "-" or not token.startswith("-"):
            if _GLOB & set(token):
                return None
            specs.append(token)
            continue
        flag, eq, value = token.partition("=")
        option = options.get(flag)
        if option is None:  # --help, --, unknown options: click's to answer
            return None
        if option.kind == "flag":
            if eq:  # --strict=...: click's usage error
                return None
            raw[option.dest].append(True)
            continue
        if not eq:
            value = next(rest, None)
            if value is None or (value.startswith("-") and value != "-"):
                return None
        raw[option.dest].append(value)
    if not specs:
        return None
    values = {}
    for option in options.values():
        given = raw[option.dest]
        if option.multiple:
            values[option.dest] = _convert(option, given)
        else:  # the last one wins; the default is converted as click converts it
            values[option.dest] = _convert(option, given[-1] if given else option.default)
        if values[option.dest] is _DECLINE:
            return None
    if values["fmt"] in ("table", "human", None) and os.name != "posix" and sys.stdout.isatty():
        return None  # colour on a Windows console: click's echo knows how to write it
    return argv[0], specs, values


def _convert(option, value):
    """click's conversion (layercalc.cli.options.CONVERT), or _DECLINE for any value it
    refuses: click then gives the usage error."""
    if option.kind == "format":
        return value if value in FORMATS else _DECLINE
    if option.kind == "check-format":
        from .checking import FORMATS as CHECK_FORMATS

        return value if value is None or value in CHECK_FORMATS else _DECLINE
    if option.kind == "flag":
        return bool(value)
    try:
        return CONVERT[option.kind](value)
    except ValueError:
        return _DECLINE


# characters of the tables and formulas, for a stream whose encoding lacks them
ASCII_FALLBACK = {
    "⌊": "floor(",
    "⌋": ")",
    "⌈": "ceil(",
    "⌉": ")",
    "×": "x",
    "·": "*",
    "−": "-",
    "–": "-",
    "—": "--",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "→": "->",
    "✓": "+",
    "✗": "X",
    "…": "...",
    "²": "^2",
    "•": "*",
}


def _ascii_fallback(exc):
    """The codec error handler "layercalc": ASCII stand-ins (box drawing as + - = |, ⌊x⌋ as
    floor(x), ...), anything else as a backslash escape (layercalc.render.printable's)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for c in exc.object[exc.start : exc.end]:
        if c in ASCII_FALLBACK:
            out.append(ASCII_FALLBACK[c])
            continue
        import unicodedata

        name = unicodedata.name(c, "")
        if name.startswith("BOX DRAWINGS"):
            if " AND " in name:
                out.append("+")
            elif "VERTICAL" in name:
                out.append("|")
            else:
                out.append("=" if "HEAVY" in name or "DOUBLE" in name else "-")
        else:
            from ..text import char_escape

            out.append(char_escape(c))
    return "".join(out), exc.end


def prepare_streams():
    """Make standard output and error safe to write whatever their encoding: characters a
    latin-1 or cp1252 stream cannot encode degrade to ASCII stand-ins instead of raising.
    A stream that claims ASCII is left alone: click's echo and _write give it UTF-8."""
    import codecs

    try:
        codecs.lookup_error("layercalc")
    except LookupError:
        codecs.register_error("layercalc", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        try:
            if codecs.lookup(stream.encoding).name != "ascii":
                stream.reconfigure(errors="layercalc")
        except (AttributeError, LookupError, TypeError, ValueError):
            pass  # not a TextIOWrapper (a test's capture, None): nothing to adjust


def _closed(what: str):
    if sys.stderr is not None:
        sys.stderr.write(f"layercalc: error: {what}\n")
        sys.stderr.flush()
    sys.exit(1)


def _write(stream, text: str):
    """Write and flush; a stream that cannot encode the text (PYTHONIOENCODING=ascii, a C
    locale) gets UTF-8 bytes, as click's echo gives it. A closed standard error (None)
    takes nothing."""
    if stream is None:
        return
    try:
        stream.write(text)
    except UnicodeEncodeError:  # raised before anything of ``text`` is written
        stream.flush()
        stream.buffer.write(text.encode("utf-8", "replace"))
    stream.flush()


def main(argv=None):
    """The executable: every run, fast or through click, gets the same streams, and a
    failure to write its output is a one-line error with exit status 1, not a traceback."""
    if sys.stdout is None:  # `layercalc ... >&-`: nowhere to answer
        _closed("standard output is closed")
    prepare_streams()
    try:
        code = _main(argv)
    except BrokenPipeError:  # `layercalc shape big.yaml | head`: as click does, quietly
        _silence_stdout()
        sys.exit(1)
    except OSError as exc:  # the output could not be written: /dev/full, a lost terminal
        _silence_stdout()
        _closed(f"cannot write the output: {exc.strerror or exc}")
    sys.exit(code)


def _silence_stdout():
    """Point standard output at the null device, so the interpreter's last flush of what
    could not be written cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _main(argv) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None and args and args[0] in BUILDING:
        from ..graph import freeze_after_pauses

        freeze_after_pauses()
    fast = fast_args(args)
    if fast is None:
        from .app import main as cli

        # click exits by itself: the group turns a command's status into its exit
        return cli.main() if argv is None else cli.main(args=args)
    command, specs, values = fast
    values["full"] = False  # --full makes the fast path decline: click answers it
    loaded = sys.modules.get("layercalc.spec")
    if loaded is not None:  # an earlier run in this process set its own YAML bounds
        loaded.YAML_LIMITS.update(loaded.YAML_DEFAULTS)
    try:
        if command == "check":
            from .checking import execute_check

            outcome = execute_check(specs, values)
        else:
            from .run import execute

            outcome = execute(command, specs, values)
    except KeyboardInterrupt:
        _write(sys.stderr, "Aborted!\n")
        return 1
    for line in outcome.err:
        _write(sys.stderr, line + "\n")
    _write(sys.stdout, outcome.out)
    return outcome.code
