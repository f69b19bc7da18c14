"""`layercalc check` (the CI gate: expectations and lint rules) and `layercalc schema`."""
from __future__ import annotations

import glob
import json
import os
import sys
from dataclasses import dataclass, field

import click

from .common import spec_options
from .run import format_diagnostic, load_all

YAML_SUFFIXES = (".yaml", ".yml")
MAX_INDENT = 16  # `schema --indent 100000` wrote a gigabyte of spaces


@dataclass
class Checked:
    """One file's verdict: its network (None when invalid) and every diagnostic."""

    file: str
    net: object = None
    diagnostics: list = field(default_factory=list)

    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]

    def failed(self, strict: bool) -> bool:
        return bool(self.errors() or (strict and self.warnings()))


def expand(paths) -> tuple[list[str], dict]:
    """Arguments -> spec paths: directories recurse into *.yaml / *.yml (hidden ones
    skipped), quoted globs are expanded; a directory or glob matching nothing is reported."""
    out: list[str] = []
    empty: dict = {}
    for p in paths:
        if p != "-" and os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files)
                          if f.lower().endswith(YAML_SUFFIXES) and not f.startswith(".")]
            if not found:
                empty[p] = f"no *.yaml or *.yml files under the directory '{p}'"
            out += found or [p]
        elif p != "-" and not os.path.exists(p) and glob.has_magic(p):
            found = sorted(glob.glob(p, recursive=True))
            if not found:
                empty[p] = f"no file matches '{p}'"
            out += found or [p]
        else:
            out.append(p)
    return out, empty


def run_checks(paths, sets, input_shape, max_layers, levels) -> list[Checked]:
    from ..check import check_network
    from ..errors import Diagnostic

    files, empty = expand(paths)
    results = load_all([f for f in files if f not in empty], sets, input_shape, max_layers)
    by_file = iter(results)
    checked = []
    for f in files:
        if f in empty:
            checked.append(Checked(f, None, [Diagnostic("no-specs", empty[f], file=f)]))
            continue
        r = next(by_file)
        diags = list(r.diagnostics)
        if r.net is not None:
            diags += check_network(r.net, r.file, levels)
        checked.append(Checked(r.file, r.net, diags))
    return checked


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


def render_human(checked, strict) -> str:
    from ..render import printable

    style = click.style
    colour = {"error": "red", "warning": "yellow"}
    lines = []
    for c in checked:
        bad = c.failed(strict)
        mark = style("FAIL", fg="red", bold=True) if bad else style("ok  ", fg="green")
        lines.append(f"{mark} {style(printable(c.file), bold=True)}")
        for d in c.diagnostics:
            where = f"{d.line}:{d.column}"
            sev = style(f"{d.severity:<7}", fg=colour.get(d.severity))
            lines.append(f"  {where:<7} {sev} {printable(d.message)}  "
                         f"{style('[' + d.code + ']', dim=True)}")
            if d.hint:
                lines.append(" " * 18 + style(f"hint: {printable(d.hint)}", dim=True))
    text, ok = _summary(checked, strict)
    lines.append(style(text, fg="green" if ok else "red", bold=True))
    return "\n".join(lines) + "\n"


def render_parsable(checked, strict) -> str:
    from ..render import printable

    lines = []
    for c in checked:
        for d in c.diagnostics:
            line = format_diagnostic(d._replace(hint=None))
            if d.hint:
                line += f" (hint: {printable(d.hint)})"
            lines.append(line)
    return "".join(line + "\n" for line in lines)


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(checked, strict) -> str:
    """Workflow commands; spec text is escaped (layercalc.render.printable) before the
    command's own %-encoding, so only the hint's line break is a real one (%0A)."""
    from ..render import printable

    lines = []
    for c in checked:
        for d in c.diagnostics:
            msg = f"{printable(d.message)} [{d.code}]" + (f"\nhint: {printable(d.hint)}"
                                                          if d.hint else "")
            lines.append(f"::{d.severity} file={_gh_prop(printable(d.file or c.file))},"
                         f"line={d.line},"
                         f"col={d.column}::{_gh_data(msg)}")
    return "".join(line + "\n" for line in lines)


def check_json(c: Checked, strict: bool) -> dict:
    from ..report import error_json, network_json

    lists = error_json(c.file, c.diagnostics)
    out = network_json(c.net) if c.net is not None else {"file": c.file}
    out.update(lists)
    out["passed"] = not c.failed(strict)
    return out


def render_json(checked, strict, as_list: bool) -> str:
    from ..render import render_json

    return render_json([check_json(c, strict) for c in checked], as_list)


RENDERERS = {"human": render_human, "parsable": render_parsable, "github": render_github,
             "json": None}
FORMATS = tuple(RENDERERS)


def _codes(values, option) -> list[str]:
    from ..errors import did_you_mean
    from ..lint import RULES

    out = []
    for v in values:
        for code in filter(None, (c.strip() for c in v.split(","))):
            if code not in RULES:
                hint = did_you_mean(code, RULES) or "see `layercalc check --list-rules`"
                raise click.BadParameter(f"unknown lint rule '{code}' ({hint})",
                                         param_hint=option)
            out.append(code)
    return out


def render_rules() -> str:
    from ..lint import RULES

    width = max(map(len, RULES))
    return "".join(f"{code:<{width}}  {rule.summary}\n" for code, rule in RULES.items())


@click.command()
@click.argument("files", nargs=-1, metavar="FILE...")
@spec_options(formats=FORMATS, default=None)
@click.option("--disable", multiple=True, metavar="CODE",
              help="turn a lint rule off (repeatable, or comma-separated)")
@click.option("--error", "promote", multiple=True, metavar="CODE",
              help="report a lint rule as an error (repeatable, or comma-separated)")
@click.option("--strict", is_flag=True, help="warnings fail the check too")
@click.option("--list-rules", is_flag=True, help="list the lint rules and exit")
def check(files, sets, input_shape, fmt, max_layers, disable, promote, strict, list_rules):
    """Check spec files for CI: validity, `expect:` assertions and lint rules.

    FILE may be a spec, a directory (searched recursively for *.yaml and *.yml) or `-`
    for standard input. Every file is checked even when an earlier one fails.

    \b
    Formats: human (default; grouped by file), parsable (FILE:LINE:COL: error[code]:
    message, one a line), github (workflow annotations; the default when
    GITHUB_ACTIONS=true), json (SPEC section 7 with `errors` and `warnings`).
    Lint rules are warnings unless promoted, here or in the spec's `lint:` mapping
    (`lint: {bias-before-norm: off, stride-drops-input: error}`); the command line wins.

    Exit codes: 0 every file passes, 1 any error (or warning, with --strict), 2 usage error.
    """
    if list_rules:
        click.echo(render_rules(), nl=False)
        return
    if not files:
        raise click.UsageError("give at least one FILE (a spec, a directory, or -)")
    off, err = _codes(disable, "--disable"), _codes(promote, "--error")
    both = sorted(set(off) & set(err))
    if both:
        raise click.BadParameter(f"'{both[0]}' is given to both --disable and --error",
                                 param_hint="--error")
    levels = {**{c: "off" for c in off}, **{c: "error" for c in err}}
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "human"
    checked = run_checks(files, sets, input_shape, max_layers, levels)
    if fmt == "json":
        several = len(files) > 1 or any(os.path.isdir(f) for f in files if f != "-")
        text = render_json(checked, strict, several)
    else:
        text = RENDERERS[fmt](checked, strict)
    colour = None if not os.environ.get("NO_COLOR") else False
    click.echo(text, nl=False, color=colour)
    sys.exit(1 if any(c.failed(strict) for c in checked) else 0)


@click.command()
@click.option("--indent", type=click.IntRange(0, MAX_INDENT), default=2, show_default=True,
              help="spaces per level (0: one line)")
def schema(indent):
    """Print the JSON Schema of the spec language, generated from the layer registry.

    \b
    Editors validate and complete specs with it; save it and add to a spec's first line:
      # yaml-language-server: $schema=layercalc.schema.json
    """
    from ..schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=indent or None))


COMMANDS = (check, schema)
