"""`layercalc diff OLD NEW` and `layercalc diff --git REV [PATHS...]`: what changed between
two versions of an architecture, for review in a pull request."""

from __future__ import annotations

import os
import subprocess

import click

from ..render import ANNOTATED
from .common import click_option, emit, yaml_limit_options
from .options import DEPTH, INPUT, MAX_LAYERS, SETS, WIDTH, Option
from .run import Outcome, format_diagnostic

YAML_SUFFIXES = (".yaml", ".yml")
GIT_TIMEOUT = 60  # seconds for one git command


def _side_sets(flag: str, which: str) -> Option:
    return SETS._replace(
        flag=flag, dest=f"{which}_sets", help=f"override a var of {which.upper()} only (repeatable)"
    )


def _git(args: list[str]) -> bytes:
    """Run git read-only in the current directory; OSError with git's own first line."""
    from ..analyses.loading import MAX_FILE_BYTES

    try:
        proc = subprocess.run(["git", *args], capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise OSError("git is not installed (needed to read a revision)") from None
    except subprocess.TimeoutExpired:
        raise OSError(f"git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OSError(why[0] if why else f"git {args[0]} failed")
    if len(proc.stdout) > MAX_FILE_BYTES:
        raise OSError("the file is larger than 16 MiB")
    return proc.stdout


def _revision(rev: str) -> str:
    """``rev`` as git may be given it: never an option (`--output=FILE` would make git
    write a file), never empty; OSError otherwise."""
    if not rev or rev.startswith("-"):
        raise OSError(f"'{rev}' is no revision (a revision may not be empty or start with '-')")
    return rev


def _is_revision(arg: str) -> bool:
    return ":" in arg and not os.path.exists(arg) and not arg.startswith(":")


def _load(arg: str, sets: dict, input_shape, max_layers: int, missing_ok: bool = False):
    """A spec path, or REV:PATH read with `git show` (nothing checked out): its Result, or
    None when ``missing_ok`` and the file does not exist on that side."""
    from ..analyses.loading import Result, analyse, analyse_bytes
    from ..errors import Diagnostic
    from ..spec import Limits

    limits = Limits(max_layers=max_layers)
    if not _is_revision(arg):
        if missing_ok and not os.path.exists(arg):
            return None
        return analyse(arg, sets, input_shape, limits)
    rev, path = arg.split(":", 1)
    try:
        _revision(rev)
        if missing_ok:
            try:
                _git(["cat-file", "-e", f"{rev}:{path}"])
            except OSError:
                return None
        data = _git(["show", f"{rev}:{path}"])
    except OSError as exc:
        return Result(
            arg,
            None,
            [
                Diagnostic(
                    "unreadable",
                    f"cannot read {arg}: {exc}",
                    file=arg,
                    hint="give a file, or REV:PATH of a git revision",
                )
            ],
        )
    return analyse_bytes(data, arg, sets, input_shape, limits)


def _changed(rev: str, paths) -> list[str]:
    out = _git(["diff", "--name-only", "--no-renames", "--relative", _revision(rev), "--", *paths])
    return [
        p for p in out.decode("utf-8", "replace").splitlines() if p.lower().endswith(YAML_SUFFIXES)
    ]


def _rules(ctx, param, values):
    from ..analyses.diff import parse_rule

    try:
        return [parse_rule(v) for item in values for v in item.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("specs", nargs=-1, metavar="OLD NEW | --git REV [PATHS...]")
@click.option(
    "--git",
    "git_rev",
    metavar="REV",
    default=None,
    help="compare every spec that changed between REV and the work tree (SPECS: paths to limit it to)",
)
@click_option(SETS)
@click_option(_side_sets("--old-set", "old"))
@click_option(_side_sets("--new-set", "new"))
@click_option(INPUT)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(tuple(ANNOTATED)),
    default="table",
    show_default=True,
    help="output format (github: workflow annotations at NEW's lines)",
)
@click_option(MAX_LAYERS)
@yaml_limit_options
@click_option(WIDTH)
@click_option(DEPTH)
@click.option(
    "--fail-on",
    "rules",
    multiple=True,
    callback=_rules,
    metavar="RULE",
    help="exit 1 when a rule fires: params>+5%, macs>+10%, peak_memory>+40MiB, params<-1M (a drop), output-changed (repeatable, or comma-separated)",
)
def diff(
    specs, git_rev, sets, old_sets, new_sets, input_shape, fmt, max_layers, width, depth, rules
):
    """What changed between two versions of a network, layer by layer.

    \b
      layercalc diff old.yaml new.yaml
      layercalc diff main:specs/unet.yaml specs/unet.yaml
      layercalc diff --git main specs/
      layercalc diff a.yaml a.yaml --new-set width=128

    OLD and NEW are spec files or REV:PATH (read with `git show`; nothing is checked out
    or written). Layers are matched by name (the state_dict identity); a layer whose
    type, arguments, output and parameters reappear under another name is a rename.
    Rows: added (+), removed (-), changed (~) and renamed (>) layers with old -> new
    output, parameters, MACs and activation memory; unchanged runs collapse. Under the
    table: the totals' deltas. Exit 1 when a spec is invalid or a --fail-on rule fires.
    """
    from ..analyses.diff import diff as compare
    from ..render import render
    from ..views import diff_table, error_table
    from .run import output_options

    if git_rev is not None:
        try:
            paths = _changed(git_rev, specs)
        except OSError as exc:
            raise click.UsageError(f"--git {git_rev}: {exc}") from None
        pairs = [(f"{git_rev}:{p}", p) for p in paths]
        if not pairs:
            return emit(Outcome(f"no spec (*.yaml, *.yml) changed since {git_rev}\n", [], 0))
    elif len(specs) != 2:
        raise click.UsageError("give OLD and NEW (two specs, or REV:PATH), or --git REV")
    else:
        pairs = [tuple(specs)]
    tables, err, failed = [], [], False
    for old_arg, new_arg in pairs:
        git = git_rev is not None
        old = _load(old_arg, {**sets, **old_sets}, input_shape, max_layers, missing_ok=git)
        new = _load(new_arg, {**sets, **new_sets}, input_shape, max_layers, missing_ok=git)
        bad = [r for r in (old, new) if r is not None and r.net is None]
        for r in (old, new):
            if r is not None and fmt != "json":
                err += [format_diagnostic(d) for d in r.diagnostics]
        if bad:
            failed = True
            tables += [error_table(r.file, r.diagnostics) for r in bad]
            continue
        d = compare(old and old.net, new and new.net, depth, rules)
        failed |= bool(d.failed)
        if fmt == "csv":  # csv has rows of changes only: a fired rule is said on stderr
            from ..views import fired_text

            err += [fired_text(d, rule) for rule in d.fired]
        names = [None if r is None else r.net.name for r in (old, new)]
        tables.append(diff_table(d, old_arg, new_arg, *names))
    opts = output_options({"fmt": fmt, "width": width, "full": True}, as_list=git_rev is not None)
    shown = fmt in ("json", "github") or any(not t.error for t in tables)
    text = render(tables, fmt, opts) if shown else ""
    return emit(Outcome(text, err, 1 if failed else 0))


COMMANDS = (diff,)
