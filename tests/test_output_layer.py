"""The one output layer (issue 15): every view is a neutral table (layercalc.table), one
map of renderers (layercalc.render.RENDERERS) is the only list of format names, and
every view renders in every format, the same way."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.render import FORMATS, RENDERERS, Options, cut, render
from layercalc.table import Column, Row, Spec, Table

SPECS = Path(__file__).resolve().parent.parent / "specs"
LENET = str(SPECS / "lenet5.yaml")
RESNET = str(SPECS / "resnet18.yaml")
VIEW_COMMANDS = ("shape", "params", "cost", "rf", "verify", "explain")


def run(*args, **env):
    return cli_runner(env={"NO_COLOR": "1", **env}).invoke(main, list(args), catch_exceptions=False)


def _format_choices(command) -> tuple:
    for p in command.params:
        if p.name == "fmt":
            return tuple(p.type.choices)
    return ()


def test_the_renderer_map_is_the_only_list_of_formats():
    from layercalc.cli import options

    assert FORMATS == tuple(RENDERERS) and options.FORMATS is FORMATS
    ctx = click.Context(main)
    for name in (*VIEW_COMMANDS, "solve", "layers"):
        assert _format_choices(main.get_command(ctx, name)) == FORMATS, name


@pytest.mark.parametrize("command", VIEW_COMMANDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_view_renders_in_every_format(command, fmt):
    r = run(command, LENET, "--format", fmt)
    assert r.exit_code == 0, r.output
    if fmt == "json":
        data = json.loads(r.stdout)
        assert data["name"] == "LeNet-5" or data.get("file", "").endswith("lenet5.yaml")
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(r.stdout)))
        assert len(rows) > 2 and all(len(row) == len(rows[0]) for row in rows)
    elif fmt == "markdown":
        assert r.stdout.startswith("### ")
    else:
        assert "LeNet" in r.stdout.splitlines()[0] or "LeNet" in r.stdout


@pytest.mark.parametrize("command", ["params", "cost"])
def test_markdown_keeps_the_totals_row(command):
    """A view's footer is drawn by every format that draws rows (the params Markdown
    once dropped the Total row the terminal table showed)."""
    table = run(command, LENET).stdout
    md = run(command, LENET, "--format", "markdown").stdout
    assert "Total" in table
    assert any(line.startswith("| Total |") for line in md.splitlines())


def test_verify_rows_agree_across_formats():
    rows = list(csv.DictReader(io.StringIO(run("verify", LENET, "--format", "csv").stdout)))
    data = json.loads(run("verify", LENET, "--format", "json").stdout)
    assert [r["layer"] for r in rows] == [c["name"] for c in data["layers"]]
    assert all(r["ok"] == "true" for r in rows)  # as JSON writes it


def test_layers_json_is_one_list_and_csv_two_blocks():
    data = json.loads(run("layers", "--format", "json").stdout)
    assert isinstance(data, list) and all("type" in e for e in data)
    plain = list(csv.reader(io.StringIO(run("layers", "--format", "csv").stdout)))
    assert plain[0][:2] == ["type", "family"] and all(len(row) == 5 for row in plain)
    text = run("layers", "conv2d", "from", "--format", "csv").stdout
    blocks = text.split("\n\n")
    assert blocks[0].startswith("type,family") and blocks[1].startswith("key,where")


def test_cut_keeps_the_rows_that_must_be_seen():
    rows = [Row((str(i),), keep=i == 50) for i in range(100)]
    shown = cut(rows, 10)
    assert [r.cells[0] for r in shown if isinstance(r, Row)] == [
        "0",
        "1",
        "2",
        "3",
        "4",
        "50",
        "95",
        "96",
        "97",
        "98",
        "99",
    ]
    assert [r for r in shown if isinstance(r, int)] == [45, 44]  # one cut row per gap
    assert cut(rows, None) == rows


def test_spec_text_is_escaped_by_each_format_and_own_text_is_not():
    t = Table(
        title=Spec("a|b\x1b"),
        columns=[Column("Layer", name=True), Column("Output", shape=True)],
        rows=[Row((Spec("x*y"), "[1, 2]")), Row((("[", Spec("n\n"), "]"), "[3]\n[4]"))],
        records=(["layer"], [[Spec("x\ny")]]),
        payload={"name": "a|b\x1b"},
    )
    box = render([t], "table", Options(width=60))
    assert "a|b\\x1b" in box and "n\\n" in box and "[1, 2]" in box and "[4]" in box
    md = render([t], "markdown")
    assert "### a\\|b\\\\x1b" in md and "x\\*y" in md and "[3]<br>[4]" in md and "[n\\\\n]" in md
    assert render([t], "csv") == "layer\nx\\ny\n"
    assert json.loads(render([t], "json")) == {"name": "a|b\x1b"}


def test_json_needs_neither_rich_nor_click_on_the_start_up_path():
    code = (
        "import sys; sys.modules['rich'] = None; sys.modules['click'] = None\n"
        "from layercalc.cli.entry import main\n"
        f"main(['shape', {LENET!r}, '--format', 'json'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["totals"]["params"] == 61706


@pytest.mark.parametrize("command", ["cost", "rf", "verify", "explain"])
def test_json_paths_never_import_rich(command):
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from layercalc.cli.entry import main\n"
        f"main([{command!r}, {LENET!r}, '--format', 'json'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)


def test_commands_return_their_status_and_the_group_exits_with_it():
    """No command calls sys.exit: the group (layercalc.cli.app) and layercalc.cli.entry
    are the only places a run ends."""
    import ast

    for path in (Path(__file__).resolve().parent.parent / "layercalc" / "cli").glob("*.py"):
        if path.name in ("entry.py", "app.py"):
            continue
        tree = ast.parse(path.read_text())
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and n.attr == "exit"
            and isinstance(n.value, ast.Name)
            and n.value.id == "sys"
        ]
        assert not calls, path.name
    assert run("verify", LENET).exit_code == 0
    bad = run("shape", str(SPECS / "nope.yaml"))
    assert bad.exit_code == 1


def test_depth_collapses_every_per_layer_view_alike():
    for command in ("shape", "params", "cost", "rf", "verify"):
        full = run(command, RESNET, "--format", "csv").stdout
        one = run(command, RESNET, "--format", "csv", "--depth", "1").stdout
        assert len(one.splitlines()) < len(full.splitlines()), command


@pytest.mark.parametrize("command", VIEW_COMMANDS)
def test_piped_output_has_no_trailing_spaces(command):
    for fmt in FORMATS:
        out = run(command, RESNET, "--format", fmt, COLUMNS="80").stdout
        assert not [line for line in out.splitlines() if line.endswith(" ")], (command, fmt)


def test_csv_writes_booleans_as_json_does(tmp_path):
    """verify's `ok` column (and any boolean field) is `true`/`false`, never Python's
    `True`/`False`."""
    import csv as csv_module

    from click.testing import CliRunner

    from layercalc.cli import main

    spec = Path(__file__).resolve().parent.parent / "specs" / "lenet5.yaml"
    r = CliRunner().invoke(main, ["verify", str(spec), "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv_module.DictReader(r.output.splitlines()))
    assert rows and {row["ok"] for row in rows} == {"true"}
    assert "True" not in r.output


@pytest.mark.parametrize("command", ["export", "draw"])
def test_dash_output_is_standard_output(tmp_path, monkeypatch, command):
    """`-o -` writes to standard output, as `import ... -o -` does, never a file named
    `-`."""
    monkeypatch.chdir(tmp_path)
    spec = Path(__file__).resolve().parent.parent / "specs" / "lenet5.yaml"
    dash = cli_runner().invoke(main, [command, str(spec), "-o", "-"])
    plain = cli_runner().invoke(main, [command, str(spec)])
    assert dash.exit_code == plain.exit_code == 0, dash.output
    assert dash.stdout == plain.stdout and dash.stdout
    assert not (tmp_path / "-").exists()
