"""The CLI end to end: golden renderings, several files, stdin, options, exit codes.

Goldens live in tests/golden/; regenerate with LAYERCALC_UPDATE_GOLDEN=1 after a
deliberate change, and review the diff.
"""

import json
import os
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.cli import main

GOLDEN = Path(__file__).parent / "golden"
D = str(GOLDEN / "dcgan_d.yaml")
R = str(GOLDEN / "mini_resnet.yaml")


def run(*args, input=None):
    env = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    return cli_runner(env=env).invoke(main, list(args), input=input, catch_exceptions=False)


GOLDENS = [
    ("shape.txt", ["shape", D]),
    ("params.txt", ["params", D]),
    ("shape.md", ["shape", D, "--format", "markdown"]),
    ("params.md", ["params", D, "--format", "markdown"]),
    ("params.csv", ["params", D, "--format", "csv"]),
    ("shape.csv", ["shape", D, "--format", "csv"]),
    ("shape.json", ["shape", D, "--format", "json"]),
    ("resnet_shape.txt", ["shape", R]),
    ("resnet_params_depth1.txt", ["params", R, "--depth", "1"]),
]


@pytest.mark.parametrize("name,args", GOLDENS, ids=[g[0] for g in GOLDENS])
def test_golden(name, args):
    result = run(*[a.replace(str(GOLDEN) + "/", "tests/golden/") for a in args])
    assert result.exit_code == 0, result.output
    path = GOLDEN / name
    if os.environ.get("LAYERCALC_UPDATE_GOLDEN"):
        path.write_text(result.stdout)
    assert result.stdout == path.read_text()


def test_json_matches_spec_section_7():
    data = json.loads(run("shape", D, "--format", "json").stdout)
    assert data["input"] == [1, 3, 64, 64] and data["output"] == [1, 1, 1, 1]
    assert data["totals"]["params"] == 2_765_568
    assert data["totals"]["buffers"] == 1_795
    assert data["totals"]["macs"] == 103_817_216
    first = data["layers"][0]
    assert {
        k: first[k]
        for k in ("name", "type", "input", "output", "params", "trainable", "buffers", "macs")
    } == {
        "name": "0",
        "type": "conv2d",
        "input": [[1, 3, 64, 64]],
        "output": [1, 64, 32, 32],
        "params": 3072,
        "trainable": 3072,
        "buffers": 0,
        "macs": 3145728,
    }
    assert [layer["output"][2] for layer in data["layers"] if layer["type"] == "conv2d"] == [
        32,
        16,
        8,
        4,
        1,
    ]
    assert sum(layer["params"] for layer in data["layers"]) == data["totals"]["params"]


def test_json_layout_is_one_line_per_layer_and_parses_to_the_same_data():
    from layercalc.render import render_json

    payload = {
        "file": "a.yaml",
        "name": "Ré",
        "input": [1, 3],
        "output": {"x": [1, 2]},
        "layers": [
            {"name": "0", "input": [[1, 3]], "args": "k=3"},
            {"name": "1", "input": [], "args": ""},
        ],
        "errors": [],
        "totals": {"params": 7},
        "mixed": [{"a": 1}, 2],
    }
    text = render_json([payload])
    assert json.loads(text) == payload
    lines = text.splitlines()
    assert '    {"name": "0", "input": [[1, 3]], "args": "k=3"},' in lines
    assert '  "errors": [],' in lines and '  "mixed": [{"a": 1}, 2]' in lines
    assert len(lines) == 2 + len(payload) + 3  # braces, a line a key, 2 layers and their ]
    assert json.loads(render_json([payload, payload])) == [payload, payload]
    assert json.loads(render_json([payload], as_list=True)) == [payload]


def test_several_files_give_a_json_list_and_one_bad_file_does_not_stop_the_others(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 3]\nlayers:\n  - lienar: {out_features: 2}\n")
    result = run("shape", D, str(bad), R, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [d.get("name") for d in data] == ["DCGAN discriminator", None, "mini resnet"]
    err = data[1]["errors"][0]
    assert (err["line"], err["column"], err["code"]) == (3, 5, "unknown-layer")
    assert err["file"] == str(bad)


def test_table_errors_go_to_stderr_with_location(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 3]\nlayers:\n  - lienar: {out_features: 2}\n")
    result = run("shape", str(bad), D)
    assert result.exit_code == 1
    assert f"{bad}:3:5: error: unknown layer type 'lienar'" in result.stderr
    assert "hint: did you mean 'linear'?" in result.stderr
    assert "DCGAN discriminator" in result.stdout


def test_stdin():
    result = run(
        "params",
        "-",
        "--format",
        "json",
        input="input: [1, 784]\nlayers: [linear: {out_features: 10}]\n",
    )
    data = json.loads(result.stdout)
    assert data["file"] == "<stdin>" and data["totals"]["params"] == 7850


def test_set_and_input_overrides():
    data = json.loads(
        run("params", D, "--set", "ndf=32", "--input", "1,3,128,128", "--format", "json").stdout
    )
    # ndf=32: 4*4*3*32 + 4*4*32*64 + 4*4*64*128 + 4*4*128*256 + 4*4*256 + BN 2*(64+128+256)
    assert data["totals"]["params"] == 1536 + 32768 + 131072 + 524288 + 4096 + 896
    assert data["output"] == [1, 1, 5, 5]  # 128 -> 64 -> 32 -> 16 -> 8 -> 5


def test_set_expression_sees_other_vars():
    data = json.loads(run("shape", D, "--set", "ndf=nc * 10", "--format", "json").stdout)
    assert data["layers"][0]["output"][1] == 30


@pytest.mark.parametrize("args", [["--set", "ndf"], ["--input", "1,x"], ["--format", "xml"]])
def test_usage_errors_exit_2(args):
    result = cli_runner().invoke(main, ["shape", D, *args])
    assert result.exit_code == 2


def test_missing_file_is_an_error_of_that_file():
    result = run("shape", "no/such.yaml", D)
    assert result.exit_code == 1
    assert "no/such.yaml:1:1: error: " in result.stderr and "[unreadable]" in result.stderr


def test_layers_catalogue_lists_every_registered_type():
    from layercalc.layers import REGISTRY

    data = json.loads(run("layers", "--format", "json").stdout)
    assert {e["type"] for e in data} == set(REGISTRY.canonical)
    conv = next(e for e in data if e["type"] == "conv2d")
    assert {"name": "stride", "kind": "size", "default": "1", "choices": [], "doc": ""} in conv[
        "args"
    ]
    assert "out_channels" in run("layers", "conv2d").stdout


def test_help_documents_the_language():
    out = run("--help").stdout
    for word in ("vars:", "input:", "layers:", "repeat", "from", "expect"):
        assert word in out
    for cmd in ("shape", "params"):
        assert run(cmd, "--help").exit_code == 0


def test_python_dash_m_runs():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "layercalc", "shape", D, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["output"] == [1, 1, 1, 1]


def test_every_command_module_is_reachable():
    """Each COMMANDS entry of each cli module must be listed in LAZY_COMMANDS."""
    import importlib
    import pkgutil

    import layercalc.cli as cli
    from layercalc.cli.app import LAZY_COMMANDS

    for info in pkgutil.iter_modules(cli.__path__):
        mod = importlib.import_module(f"layercalc.cli.{info.name}")
        for cmd in getattr(mod, "COMMANDS", ()):
            assert LAZY_COMMANDS.get(cmd.name) == info.name, cmd.name
            assert main.get_command(None, cmd.name) is cmd


@pytest.mark.parametrize(
    "entry, absent",
    [
        ("layercalc.cli.entry", ("rich", "numpy", "click")),  # the executable's fast path
        ("layercalc.cli", ("rich", "numpy")),  # the click group, for the same command
    ],
)
def test_json_path_imports_neither_rich_nor_numpy(entry, absent):
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['layercalc', 'shape', 'tests/golden/dcgan_d.yaml', "
        f"'--format', 'json']\nfrom {entry} import main\ntry: main()\n"
        "except SystemExit: pass\nprint(sorted({m.split('.')[0] for m in sys.modules} & "
        f"set({absent!r})), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]"


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_rendering_sums_the_network_a_fixed_number_of_times(fmt, monkeypatch):
    """Totals are computed per network, not per row (the csv params view once summed all
    layers for every row: quadratic, hours for 100,000 layers)."""
    from layercalc.analyses.loading import analyse
    from layercalc.cli.run import finish
    from layercalc.graph import Network
    from layercalc.views import network_table

    results = [analyse(str(Path(__file__).parent.parent / "specs" / "resnet18.yaml"))]
    calls = []
    real = Network.totals
    monkeypatch.setattr(Network, "totals", lambda self: calls.append(1) or real(self))
    for view in ("shape", "params"):
        finish(results, [network_table(results[0].net, view)], {"fmt": fmt})
    assert len(results[0].net.layers) > 50 and len(calls) <= 8


@pytest.mark.parametrize("option", ["--set", "--new-set"])
def test_a_set_without_a_value_is_a_usage_error(option):
    spec = str(Path(__file__).resolve().parent.parent / "specs" / "lenet5.yaml")
    args = ("diff", spec, spec) if option == "--new-set" else ("shape", spec)
    r = run(*args, option, "width=")
    assert r.exit_code == 2 and "width= gives no value (e.g. width=64)" in r.output


def test_help_lists_each_command_with_its_first_sentence_whole():
    """click cut the summaries with "..." at 80 columns; they wrap instead."""
    for args in (["--help"], ["import", "--help"]):
        r = cli_runner(env={"COLUMNS": "80"}).invoke(main, args)
        assert r.exit_code == 0
        commands = r.output.split("Commands:", 1)[1].split("\n\n", 1)[0]
        assert not [x for x in commands.splitlines() if x.rstrip().endswith("...")]
        assert max(map(len, r.output.splitlines())) <= 80
