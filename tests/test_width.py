"""Tables fit the width (issue 15): --width N, else $COLUMNS, else the terminal's, else 80;
text columns wrap, shapes go compact, names fold, then columns are left out (and named)
in each view's order. At 80 columns no command prints a wider line for any spec."""

from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.boxtable import BoxTable, compact_shapes
from layercalc.cli import main
from layercalc.cli.entry import main as entry_main

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))
SMALL = ["lenet5", "dcgan_generator", "resnet18", "lstm_text_classifier", "gru_encoder"]


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def run(*args, **env):
    r = cli_runner(env={"NO_COLOR": "1", **env}).invoke(main, list(args), catch_exceptions=False)
    return r


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "explain"])
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_no_line_wider_than_80(command, spec):
    r = run(command, str(spec), COLUMNS="80")
    assert r.exit_code == 0, r.output
    assert widest(r.stdout) <= 80, [ln for ln in r.stdout.splitlines() if len(ln) > 80][:2]


@pytest.mark.parametrize("name", SMALL)
def test_verify_fits_80(name):
    r = run("verify", str(SPECS[0].parent / f"{name}.yaml"), COLUMNS="80")
    assert r.exit_code == 0, r.output
    assert widest(r.stdout) <= 80


def test_what_gives_way_first_and_the_note_that_says_so():
    spec = str(SPECS[0].parent / "resnet18.yaml")
    wide = run("shape", spec, "--width", "200").stdout
    assert "[1, 64, 56, 56]" in wide and "Arguments" in wide and "not shown" not in wide
    narrow = run("shape", spec, "--width", "80").stdout
    assert "1x64x56x56" in narrow and "[1, 64, 56, 56]" not in narrow.split("Input")[0]
    assert "(not shown at 80 columns: Input, From; --width N or $COLUMNS shows more)" in narrow
    assert "Arguments" in narrow  # kept: only Input and From had to go
    tight = run("shape", spec, "--width", "50").stdout
    assert widest(tight) <= 50 and "Arguments" not in tight.split("\n")[2]


def test_width_option_environment_and_default(monkeypatch):
    spec = str(SPECS[0].parent / "resnet50.yaml")
    assert widest(run("params", spec, COLUMNS="100").stdout) <= 100
    assert widest(run("params", spec, "--width", "60", COLUMNS="200").stdout) <= 60
    # piped, no $COLUMNS: 80
    monkeypatch.delenv("COLUMNS", raising=False)
    r = cli_runner(env={"NO_COLOR": "1", "COLUMNS": None}).invoke(
        main, ["cost", spec], catch_exceptions=False
    )
    assert 70 < widest(r.stdout) <= 80
    assert run("shape", spec, "--width", "39").exit_code == 2


def test_the_fast_path_takes_width_too(capsys):
    spec = str(SPECS[0].parent / "resnet18.yaml")
    with pytest.raises(SystemExit) as e:
        entry_main(["shape", spec, "--width", "64"])
    assert e.value.code == 0
    assert widest(capsys.readouterr().out) <= 64


def test_compact_shapes_and_folding():
    assert compact_shapes("[1, 64, 56, 56]") == "1x64x56x56"
    assert compact_shapes("output: [10, -1]\nh_n: []") == "output: 10x-1\nh_n: []"
    t = BoxTable("t")
    t.add_column("Layer", fold=True)
    t.add_column("Output", shape=True)
    t.add_column("Extra", priority=1)
    t.add_row(
        ["encoder.layers.encoder_layer_11.self_attention.out_proj", "[1, 197, 768]", "x" * 30]
    )
    lines = ["".join(text for text, _ in seg) for seg in t.segments(44)]
    assert max(len(x) for x in lines) <= 44
    assert t.hidden == ["Extra"] and t.compact
    body = [x for x in lines if x.startswith("│")]
    assert body[0].startswith("│ encoder.") and "1x197x768" in body[0]
    assert len(body) > 1  # the name folded at its dots


def _in_terminal(args, env) -> bytes:
    """stdout of `python -m layercalc ARGS` on a pseudo-terminal."""
    import os
    import subprocess
    import sys

    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "layercalc", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    ) as proc:
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        proc.wait()
    os.close(leader)
    return out


def test_colour_on_a_terminal_unless_no_color():
    spec = str(SPECS[0].parent / "lenet5.yaml")
    assert b"\x1b[" in _in_terminal(["shape", spec], {"NO_COLOR": "", "COLUMNS": "100"})
    plain = _in_terminal(["shape", spec], {"NO_COLOR": "1", "COLUMNS": "100"})
    assert b"LeNet" in plain and b"\x1b[" not in plain


def test_max_memory_takes_the_units_expect_takes():
    spec = str(SPECS[0].parent / "lenet5.yaml")
    r = run("verify", spec, "--max-memory", "1M")
    assert r.exit_code == 2 and "write MB (powers of 1000) or MiB" in r.output
    assert run("verify", spec, "--max-memory", "64MiB").exit_code == 0


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "verify"])
def test_every_per_layer_command_takes_depth(command):
    spec = str(SPECS[0].parent / "resnet18.yaml")
    full = run(command, spec, "--width", "200")
    one = run(command, spec, "--depth", "1", "--width", "200")
    assert full.exit_code == one.exit_code == 0, one.output
    assert "layer1.0.conv1" in full.stdout and "layer1.0.conv1" not in one.stdout
    assert "layer1.0 " in one.stdout


def test_a_collapsed_cost_row_sums_its_members():
    from layercalc.analyses.loading import analyse
    from layercalc.analyses.cost import cost

    spec = str(SPECS[0].parent / "resnet18.yaml")
    import csv

    r = run("cost", spec, "--depth", "1", "--format", "csv")
    rows = {row[1]: row for row in list(csv.reader(r.stdout.splitlines()))[1:]}
    net = analyse(spec).net
    members = [x for x in cost(net).layers if x.name.startswith("layer1.0.")]
    assert int(rows["layer1.0"][4]) == sum(x.macs for x in members)
    assert sum(int(v[4]) for v in rows.values()) == net.totals()["macs"]


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "verify"])
def test_full_shows_every_row(tmp_path, command):
    p = tmp_path / "long.yaml"
    p.write_text("input: [1, 4]\nlayers:\n  - relu: {repeat: 450}\n")
    cut = run(command, str(p)).stdout
    full = run(command, str(p), "--full").stdout
    assert "more rows" in cut or "not shown" in cut
    assert "more rows" not in full and "rows not shown" not in full
    assert full.count("relu") >= 450 > cut.count("relu")


def _commands_with_formats():
    """(command, format) for every command reading specs, every --format it lists."""
    import click

    ctx = click.Context(main)
    out = []
    for name in main.list_commands(ctx):
        cmd = main.get_command(ctx, name)
        names = {p.name for p in cmd.params}
        fmt = next((p for p in cmd.params if p.name == "fmt"), None)
        if fmt is not None and names & {"spec", "specs", "files"}:
            out += [(name, choice) for choice in fmt.type.choices]
    return out


@pytest.mark.parametrize("command, fmt", _commands_with_formats())
def test_every_command_takes_every_format_it_lists(command, fmt):
    spec = str(SPECS[0].parent / "lenet5.yaml")
    extra = [spec, "--new-set", "classes=12"] if command == "diff" else []
    r = run(command, spec, *extra, "--format", fmt)
    assert r.exit_code == 0, r.output
    # check's one-line formats print only diagnostics, and this spec has none
    assert r.stdout.strip() or (command == "check" and fmt in ("parsable", "github"))


def test_every_help_fits_80_columns():
    import click

    ctx = click.Context(main)
    commands = [[name] for name in main.list_commands(ctx)]
    for name in main.list_commands(ctx):  # a group's subcommands too (import torch, ...)
        group = main.get_command(ctx, name)
        if isinstance(group, click.Group):
            commands += [[name, sub] for sub in group.list_commands(ctx)]
    for args in [["--help"]] + [[*c, "--help"] for c in commands]:
        r = run(*args, COLUMNS="80")
        assert r.exit_code == 0, r.output
        assert widest(r.stdout) <= 80, (args, [x for x in r.stdout.splitlines() if len(x) > 80])


def test_the_layer_catalogue_fits_80_columns():
    # `layers` wraps its type and argument columns (the longest choice list breaks at
    # its separators) and lets the PyTorch column give way, as every table does
    r = run("layers", COLUMNS="80")
    assert r.exit_code == 0 and widest(r.output) <= 80
    assert "upsample" in r.output and "nearest |" in r.output


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "verify"])
def test_the_cut_note_spans_the_table_and_widens_no_column(tmp_path, command):
    """The "... N more rows" line of a long table is a note across the table: the
    columns (verify's mark column first of all) keep the widths and the set they have
    without it, and no column is left out for it."""
    p = tmp_path / "long.yaml"
    p.write_text(
        "input: [1, 4, 4, 4]\nlayers:\n"
        + "  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n  - relu\n" * 250
    )
    cut = run(command, str(p), "--width", "80").stdout
    full = run(command, str(p), "--width", "80", "--full").stdout
    header = next(line for line in cut.splitlines() if line.startswith("┃"))
    assert header == next(line for line in full.splitlines() if line.startswith("┃"))
    assert "not shown at 80" not in cut
    notes = [line for line in cut.splitlines() if "more rows" in line]
    assert len(notes) == 1 and notes[0].startswith("│ ... 100 more rows (--full")
    assert notes[0].endswith(" │") and len(notes[0]) == len(header)
    assert widest(cut) <= 80


def test_a_cut_note_wraps_inside_a_narrow_table():
    t = BoxTable()
    t.add_column("Layer")
    t.add_column("Type")
    t.add_row(["a", "relu"])
    t.add_note("... 12,345 more rows (--full, --depth, or --format csv)")
    t.add_row(["b", "relu"])
    lines = ["".join(text for text, _ in seg) for seg in t.segments(80)]
    assert len({len(line) for line in lines}) == 1  # the note did not widen the box
    first = next(k for k, x in enumerate(lines) if x.startswith("│ a "))
    last = next(k for k, x in enumerate(lines) if x.startswith("│ b "))
    note = lines[first + 1 : last]
    assert len(note) > 1 and all(x.startswith("│ ") and x.endswith(" │") for x in note)
    assert " ".join(x[2:-2].strip() for x in note) == (
        "... 12,345 more rows (--full, --depth, or --format csv)"
    )


WIDE = """\
name: "网络 wide names 🙂 and a title long enough that it has to wrap at forty columns"
input: [1, 8]
layers:
  - linear: {out_features: 8, name: 线性层线性层线性层线性层线性层线性层线性层}
  - relu: {name: "e\\u0301"}
  - linear: {out_features: 4, name: "🙂🙂🙂"}
"""


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "verify"])
@pytest.mark.parametrize("width", [80, 60, 40])
def test_wide_and_combining_characters_keep_the_borders_in_line(tmp_path, command, width):
    """Widths are terminal cells: a CJK or emoji name takes two a character, a
    combining accent none, so every line of the box is as wide as the others and no
    line of the output passes the width (the title wraps)."""
    from layercalc.text import cells

    p = tmp_path / "wide.yaml"
    p.write_text(WIDE, encoding="utf-8")
    r = run(command, str(p), "--width", str(width))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    box = [line for line in lines if line and line[0] in "┏┃┡│└"]
    assert box and len({cells(line) for line in box}) == 1, box
    assert max(cells(line) for line in lines if line not in box) <= width
    if width >= 60:  # at 40, verify's columns that are never left out need 42
        assert cells(box[0]) <= width
    assert "🙂🙂🙂" in r.stdout and "e\u0301" in r.stdout


@pytest.mark.parametrize("width", [40, 100, 160])
def test_layers_takes_the_width_its_note_offers(width):
    """`layers` says "--width N or $COLUMNS shows more" when it leaves a column out, so
    it takes --width as the spec commands do."""
    narrow = run("layers", "--width", str(width))
    assert narrow.exit_code == 0, narrow.output
    assert widest(narrow.stdout) <= max(width, 68)  # its two kept columns need 68
    wide = run("layers", "--width", "300")
    assert "not shown at" not in wide.stdout and widest(wide.stdout) > 100


def test_verify_keeps_the_counts_it_checks_before_the_type():
    """At 80 columns verify leaves out the milliseconds first, then the type, before
    the shapes and counts it checks (ResNet-18's relu (call 2) makes Type wide): Actual
    beside Calculated is what a learner reads the run for."""
    r = run("verify", str(SPECS[0].parent / "resnet18.yaml"), "--width", "80")
    assert r.exit_code == 0, r.output
    header = next(line for line in r.stdout.splitlines() if line.startswith("┃"))
    assert "Params" in header and "Buffers" in header and "Actual" in header
    assert "Type" not in header and "┃ ms" not in header and " ms ┃" not in header
    assert "not shown at 80 columns: ms, Type;" in r.stdout


def test_a_column_left_out_comes_back_when_later_ones_make_room():
    t = BoxTable()
    t.add_column("Name")
    t.add_column("Wide", priority=1)
    t.add_column("X", priority=2)
    t.add_row(["a" * 10, "w" * 40, "x" * 5])
    lines = ["".join(text for text, _ in seg) for seg in t.segments(40)]
    header = next(line for line in lines if line.startswith("┃"))
    assert "X" in header and "Wide" not in header  # X went first, then came back
    assert t.hidden == ["Wide"] and max(map(len, lines)) <= 40


def test_explain_of_a_long_spec_is_cut_as_tables_are(tmp_path):
    """A whole spec's explanation past 400 layers shows the first and last 200 with a
    line saying how many it hid; --full shows every one."""
    p = tmp_path / "long.yaml"
    p.write_text("input: [1, 4]\nlayers:\n  - relu: {repeat: 450}\n")
    cut = run("explain", str(p)).stdout
    full = run("explain", str(p), "--full").stdout
    assert "... 50 more layers (--full, a LAYER argument, or --format csv)" in cut
    assert cut.count("(relu):") == 400 and full.count("(relu):") == 450
    assert "more layers" not in full
    assert "\n199 (relu)" in cut and "\n200 (relu)" not in cut and "\n250 (relu)" in cut


def test_rf_of_a_network_without_spatial_dims_says_so_above_the_table():
    r = run("rf", str(SPECS[0].parent / "gpt2_small.yaml"), "--width", "80")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("no receptive fields: the input has no spatial dims")
    r = run("rf", str(SPECS[0].parent / "resnet18.yaml"), "--width", "80")
    assert "no receptive fields" not in r.stdout
