"""What `layercalc check` does once its arguments are parsed: find the files, check each
(validity, expectations, lint, a checkpoint's keys), render the verdicts. No click here,
so the start-up path (layercalc.cli.entry) answers `check FILES` as fast as `shape`:
pre-commit runs it on every commit."""

from __future__ import annotations

import fnmatch
import glob
import os

from ..machine import usable_cpus
from .run import Outcome

YAML_SUFFIXES = (".yaml", ".yml")
_ANSI = {"red": 31, "green": 32, "yellow": 33}


def _styler(color: bool):
    """click.style's ANSI codes (colour, bold, dim), or the text as it is."""

    def style(text, fg=None, bold=False, dim=False):
        if not color:
            return text
        codes = ([str(_ANSI[fg])] if fg else []) + (["1"] if bold else []) + (["2"] if dim else [])
        return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text

    return style


class Checked:
    """One file's verdict: its network (None when invalid) and every diagnostic."""

    __slots__ = ("file", "net", "diagnostics")

    def __init__(self, file: str, net: object = None, diagnostics: list | None = None):
        self.file = file
        self.net = net
        self.diagnostics = [] if diagnostics is None else diagnostics

    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]

    def failed(self, strict: bool) -> bool:
        return bool(self.errors() or (strict and self.warnings()))


def expand(paths) -> list:
    """Arguments -> what to check, in order: spec paths (str), and Diagnostics standing for
    an argument or a directory that yields none. Directories recurse into *.yaml / *.yml
    (hidden ones skipped), quoted globs are expanded (`**`: any depth). Walking never enters
    a symlinked directory (a link back up would loop forever); a symlinked file is checked,
    and each real file once, under the first name it is found by. An unreadable directory
    is an error of that directory; a directory or glob matching nothing is reported."""
    from ..errors import Diagnostic

    out: list = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            found: list = []

            def unreadable(exc, found=found):
                found.append(_unreadable_dir(exc.filename or p, exc))

            for root, dirs, files in os.walk(p, onerror=unreadable):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    os.path.join(root, f)
                    for f in sorted(files)
                    if f.lower().endswith(YAML_SUFFIXES) and not f.startswith(".")
                ]
            out += found or [
                Diagnostic(
                    "no-specs", f"no *.yaml or *.yml files under the directory '{p}'", file=p
                )
            ]
        elif p != "-" and not os.path.lexists(p) and glob.has_magic(p):
            errors: dict = {}
            found = _glob(p, errors) + [_unreadable_dir(d, exc) for d, exc in errors.items()]
            found.sort(key=lambda f: f if isinstance(f, str) else f.file)
            out += found or [Diagnostic("no-specs", f"no file matches '{p}'", file=p)]
        elif p != "-" and p.endswith(_SEPARATORS):  # meant as a directory: say why it is not
            try:
                os.stat(p)
                out.append(p)  # it is there after all (replaced since): read it as a file
            except (OSError, ValueError) as exc:
                out.append(_unreadable_dir(p, exc, hint="check the path"))
        else:
            out.append(p)
    return _once(out)


_SEPARATORS = tuple({os.sep, os.altsep or os.sep})


def _unreadable_dir(path: str, exc: OSError, hint=None):
    from ..errors import Diagnostic

    return Diagnostic(
        "unreadable",
        f"cannot read the directory: {exc.strerror or exc}",
        file=os.fspath(path),
        hint=hint,
    )


def _once(items: list) -> list:
    """Each real file once (symlinks and hard links to it, the same file given twice), under
    its first name; standard input, paths that cannot be looked up and diagnostics as they are."""
    seen, out = set(), []
    for item in items:
        if isinstance(item, str) and item != "-":
            try:
                st = os.stat(item)
                key = (st.st_dev, st.st_ino)
            except (OSError, ValueError):
                key = item
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out


def _glob(pattern: str, errors: dict) -> list[str]:
    """glob.glob(pattern, recursive=True), except that `**` enters no symlinked directory
    and that a directory it cannot list is recorded in ``errors`` (path -> OSError) instead
    of skipped in silence."""
    dirname, base = os.path.split(pattern)
    if not glob.has_magic(pattern):
        return [pattern] if _lexists(pattern, dirname, errors) else []
    if not dirname:
        return [name for name in _in_dir("", base, errors) if name]  # not "" for `**`
    dirs = _glob(dirname, errors) if dirname != pattern and glob.has_magic(dirname) else [dirname]
    return [os.path.join(d, name) for d in dirs for name in _in_dir(d, base, errors)]


_MISSING = (FileNotFoundError, NotADirectoryError)


def _lexists(path: str, parent: str, errors: dict) -> bool:
    try:
        os.lstat(path)
        return True
    except _MISSING:
        return False
    except OSError as exc:  # a parent that cannot be searched
        errors.setdefault(parent or os.curdir, exc)
        return False
    except ValueError:  # an embedded NUL
        return False


def _names(d: str, errors: dict, hidden: bool = False) -> list[tuple[str, bool, bool]]:
    """(name, is a directory, is a symlink to a directory) of the entries of d; hidden
    ones left out unless ``hidden``."""
    try:
        with os.scandir(d or os.curdir) as it:
            entries = list(it)
    except _MISSING:
        return []
    except OSError as exc:
        errors.setdefault(d or os.curdir, exc)
        return []
    except ValueError:
        return []
    out = []
    for e in entries:
        if e.name.startswith(".") and not hidden:
            continue
        try:
            real_dir = e.is_dir(follow_symlinks=False)
            linked_dir = not real_dir and e.is_symlink() and e.is_dir()
        except OSError:
            real_dir = linked_dir = False
        out.append((e.name, real_dir, linked_dir))
    return out


def _in_dir(d: str, base: str, errors: dict) -> list[str]:
    if base == "**":  # d itself and everything under it, without entering symlinked dirs
        out, stack = [""], [""]
        while stack:
            rel = stack.pop()
            for name, real_dir, linked_dir in _names(os.path.join(d, rel), errors):
                if linked_dir:
                    continue
                path = os.path.join(rel, name)
                out.append(path)
                if real_dir:
                    stack.append(path)
        return out
    if glob.has_magic(base):
        names = [n for n, _, _ in _names(d, errors, hidden=base.startswith("."))]
        return fnmatch.filter(names, base)
    if not base:
        return [base] if os.path.isdir(d) else []
    return [base] if _lexists(os.path.join(d, base), d, errors) else []


def _weights_found(weights, strip, add):
    """The tensors of --weights (key -> shape, prefixes applied), or the Diagnostic of a
    file that cannot be read; None without --weights."""
    if weights is None:
        return None
    from .. import weights as w

    try:
        return w.rename(w.shapes(weights), strip, add)
    except w.WeightsError as exc:
        return exc.diagnostic(weights)


def run_checks(
    paths,
    sets,
    input_shape,
    max_layers,
    levels,
    weights=None,
    strip=None,
    add=None,
    keep_nets: bool = True,
) -> list[Checked]:
    """Every file's verdict; with ``weights`` (a checkpoint's path) each valid network's
    state_dict is compared with its tensors too (prefix ``strip`` removed, ``add`` put
    in front). Without ``keep_nets`` (the verdicts' networks are not needed: every
    format but JSON) many files are checked by several processes at once."""
    from ..analyses.loading import analyse
    from ..spec import Limits

    items = expand(paths)
    found = _weights_found(weights, strip, add)
    limits = Limits(max_layers=max_layers)

    def verdict(f: str) -> Checked:
        from ..analyses.expectations import check_network, unknown_expectations

        r = analyse(f, sets, input_shape, limits)
        diags = list(r.diagnostics)
        if r.spec is not None:  # not built: its expect keys are still checked
            diags += unknown_expectations(r.spec, r.file)
            diags.sort(key=lambda d: (d.line, d.column))
        if r.net is not None:
            diags += check_network(r.net, r.file, levels)
            if isinstance(found, Diagnostic):
                diags.append(found)
            elif found is not None:
                from ..weights import compare

                diags += compare(r.net, found, weights, r.file)
        return Checked(r.file, r.net if keep_nets else None, diags)

    from ..errors import Diagnostic

    files = [f for f in items if isinstance(f, str)]
    jobs = 1 if keep_nets or "-" in files else _jobs(len(files))
    verdicts = iter(_in_parallel(files, verdict, jobs) if jobs > 1 else map(verdict, files))
    checked = []
    for f in items:
        if isinstance(f, Diagnostic):  # a directory or glob that gave no file to check
            checked.append(Checked(f.file, None, [f]))
        else:
            checked.append(next(verdicts))
    return checked


MIN_FILES_PER_JOB = 8  # fewer files are checked in this process alone
MAX_JOBS = 8


def _jobs(files: int) -> int:
    """Processes to check ``files`` files with: one per CPU this process may use, each
    with at least MIN_FILES_PER_JOB files; 1 where os.fork is missing (Windows)."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(usable_cpus(), MAX_JOBS, files // MIN_FILES_PER_JOB))


def _in_parallel(files: list, verdict, jobs: int) -> list:
    """``verdict`` of every file, in order: files j, j + jobs, j + 2 jobs, ... by forked
    child j (this process takes j = 0), each sending its verdicts back pickled through a
    pipe. A child that fails in any way has its files checked here again, so the
    verdicts are always the ones a single process gives."""
    import pickle

    children = []
    for j in range(1, jobs):
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            continue  # this share is checked below, in this process
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.close(read)
                data = pickle.dumps([verdict(f) for f in files[j::jobs]], pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as fh:
                    fh.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        children.append((j, pid, read))
    out: list = [None] * len(files)
    out[0::jobs] = [verdict(f) for f in files[0::jobs]]
    done = {0}
    for j, pid, read in children:
        with os.fdopen(read, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        if status == 0 and data:
            try:
                out[j::jobs] = pickle.loads(data)
                done.add(j)
            except Exception:  # noqa: BLE001 - a broken reply: checked again below
                pass
    for j in range(jobs):
        if j not in done:
            out[j::jobs] = [verdict(f) for f in files[j::jobs]]
    return out


# -- renderers: checked files -> text ----------------------------------------------------


def _summary(checked, strict) -> tuple[str, bool]:
    n = len(checked)
    failed = sum(c.failed(strict) for c in checked)
    errors = sum(len(c.errors()) for c in checked)
    warnings = sum(len(c.warnings()) for c in checked)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    files = f"{n} file{'s' * (n != 1)}"
    if failed:
        why = " (--strict: warnings fail)" if strict and warnings and not errors else ""
        return f"{failed} of {files} failed: {counts}{why}", False
    return f"{files} checked, all passed" + (f" ({counts})" if warnings else ""), True


# human format: per file, the first WARNINGS_SHOWN warnings of a code in full, the rest
# of that code one line naming their first LINES_LISTED lines (errors always in full)
WARNINGS_SHOWN = 3
LINES_LISTED = 10


def render_human(checked, strict, color: bool = False) -> str:
    """Per file an ok/FAIL line, then each diagnostic as `FILE:LINE:COL: severity[code]:
    message` (terminals and editors jump to it), the source line with a caret under the
    column, and the hint, as rustc and ruff print them; a warning repeated past
    WARNINGS_SHOWN times in a file is summed up in one line."""
    from ..text import printable
    from .run import source_snippet

    style = _styler(color)
    colour = {"error": "red", "warning": "yellow"}
    lines = []
    sources: dict = {}
    for c in checked:
        bad = c.failed(strict)
        mark = style("FAIL", fg="red", bold=True) if bad else style("ok  ", fg="green")
        lines.append(f"{mark} {style(printable(c.file), bold=True)}")
        shown: dict = {}  # warning code -> how many were shown in full
        more: dict = {}  # warning code -> the lines of the others
        for d in c.diagnostics:
            if d.severity == "warning":
                if shown.get(d.code, 0) >= WARNINGS_SHOWN:
                    more.setdefault(d.code, []).append(d.line)
                    continue
                shown[d.code] = shown.get(d.code, 0) + 1
            sev = style(d.severity, fg=colour.get(d.severity), bold=True)
            code = style(f"[{d.code}]", dim=True)
            lines.append(f"{printable(d.location())}: {sev}: {printable(d.message)} {code}")
            # a weights file's diagnostics stand at the file: no source line to show
            snippet = [] if d.file and d.file != c.file else source_snippet(d, sources)
            lines += ["  " + style(x, dim=True) for x in snippet]
            if d.hint:
                lines.append("  " + style(f"= hint: {printable(d.hint)}", dim=True))
        for code, at in more.items():  # the same warning again and again: one line
            where = [str(n) for n in at[:LINES_LISTED] if n]
            where_text = f" (lines {', '.join(where)}{', ...' * (len(at) > LINES_LISTED)})"
            sev = style("warning", fg="yellow", bold=True)
            lines.append(
                f"{printable(c.file)}: {sev}: {len(at):,} more like these"
                + (where_text if where else "")
                + f" [{code}]; --format parsable lists each"
            )
    text, ok = _summary(checked, strict)
    lines.append(style(text, fg="green" if ok else "red", bold=True))
    return "\n".join(lines) + "\n"


def render_parsable(checked, strict, color: bool = False) -> str:
    from ..text import printable

    lines = []
    for c in checked:
        for d in c.diagnostics:  # format_diagnostic's line, the hint before the code
            hint = f" (hint: {printable(d.hint)})" if d.hint else ""
            lines.append(
                f"{printable(d.location())}: {d.severity}: {printable(d.message)}{hint} [{d.code}]"
            )
    return "".join(line + "\n" for line in lines)


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(checked, strict, color: bool = False) -> str:
    """Workflow commands; spec text is escaped (layercalc.render.printable) before the
    command's own %-encoding, so only the hint's line break is a real one (%0A)."""
    from ..text import printable

    lines = []
    for c in checked:
        for d in c.diagnostics:
            msg = f"{printable(d.message)} [{d.code}]" + (
                f"\nhint: {printable(d.hint)}" if d.hint else ""
            )
            lines.append(
                f"::{d.severity} file={_gh_prop(printable(d.file or c.file))},"
                f"line={d.line},"
                f"col={d.column}::{_gh_data(msg)}"
            )
    return "".join(line + "\n" for line in lines)


def check_json(c: Checked, strict: bool) -> dict:
    from ..analyses.totals import error_json, network_json

    lists = error_json(c.file, c.diagnostics)
    out = network_json(c.net) if c.net is not None else {"file": c.file}
    out.update(lists)
    out["passed"] = not c.failed(strict)
    return out


def render_json(checked, strict, as_list: bool) -> str:
    from ..render import render_json

    return render_json([check_json(c, strict) for c in checked], as_list)


def _diagnostic_rows(checked, strict) -> list:
    """(file, passed, line, column, severity, code, message, hint) per diagnostic, and
    one row with only the file and its result for a file without any."""
    rows = []
    for c in checked:
        passed = "no" if c.failed(strict) else "yes"
        if not c.diagnostics:
            rows.append((c.file, passed, "", "", "", "", "", ""))
        for d in c.diagnostics:
            where = d.file or c.file
            rows.append(
                (where, passed, d.line, d.column, d.severity, d.code, d.message, d.hint or "")
            )
    return rows


def render_csv(checked, strict, color: bool = False) -> str:
    """One table for every file (SPEC.md section 9's csv): a row per diagnostic, a row
    for a file that has none; spec text escaped."""
    import csv
    import io

    from ..text import printable

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "passed", "line", "column", "severity", "code", "message", "hint"])
    for row in _diagnostic_rows(checked, strict):
        w.writerow([printable(v) if isinstance(v, str) else v for v in row])
    return buf.getvalue()


def render_markdown(checked, strict, color: bool = False) -> str:
    """The diagnostics as a Markdown table (a pull request comment), the summary under it."""
    from ..text import markdown_text as md_cell

    lines = ["| File | Passed | Line | Column | Severity | Code | Message |", "|" + "---|" * 7]
    for file, passed, line, col, sev, code, msg, hint in _diagnostic_rows(checked, strict):
        msg = f"{msg} (hint: {hint})" if hint else msg
        cells = [md_cell(file), passed, line, col, sev, md_cell(code), md_cell(msg)]
        lines.append("| " + " | ".join(str(x) for x in cells) + " |")
    text, _ = _summary(checked, strict)
    return "\n".join(lines) + f"\n\n{text}\n"


RENDERERS = {
    "human": render_human,
    "table": render_human,  # SPEC.md section 9: every command takes table|json|markdown|csv
    "parsable": render_parsable,
    "github": render_github,
    "json": None,
    "markdown": render_markdown,
    "csv": render_csv,
}
FORMATS = tuple(RENDERERS)


def parse_codes(values, option: str) -> list[str]:
    """--disable/--error values (repeatable, comma-separated) -> lint codes; ValueError
    naming an unknown one."""
    from ..analyses.lint import RULES
    from ..errors import did_you_mean

    out = []
    for v in values:
        for code in filter(None, (c.strip() for c in v.split(","))):
            if code not in RULES:
                hint = did_you_mean(code, RULES) or "see `layercalc check --list-rules`"
                raise ValueError(f"{option}: unknown lint rule '{code}' ({hint})")
            out.append(code)
    return out


def execute_check(files, values: dict) -> Outcome:
    """`check` with parsed values (sets, input_shape, fmt, max_layers, strict, levels,
    weights, strip_prefix, add_prefix), for click and for the start-up path alike."""
    from .run import use_color

    fmt = values.get("fmt")
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "human"
    strict = bool(values.get("strict"))
    checked = run_checks(
        files,
        values["sets"],
        values["input_shape"],
        values["max_layers"],
        values.get("levels") or {},
        values.get("weights"),
        values.get("strip_prefix"),
        values.get("add_prefix"),
        keep_nets=fmt == "json",
    )
    if fmt == "json":
        several = len(files) > 1 or any(os.path.isdir(f) for f in files if f != "-")
        text = render_json(checked, strict, several)
    else:
        text = RENDERERS[fmt](checked, strict, use_color())
    return Outcome(text, [], 1 if any(c.failed(strict) for c in checked) else 0)
