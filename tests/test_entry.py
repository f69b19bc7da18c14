"""The executable's click-free path for plain `shape`/`params` runs (layercalc.cli.entry).

It must give exactly what the click group gives (output, errors, exit code) for every
argument list it accepts, and step aside for everything else.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.cli.app import main as group
from layercalc.cli.entry import fast_args
from layercalc.cli.entry import main as entry

ROOT = Path(__file__).resolve().parent.parent
D = "tests/golden/dcgan_d.yaml"
R = "tests/golden/mini_resnet.yaml"
BAD = "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n"


def via_click(argv, stdin=None):
    r = cli_runner().invoke(group, argv, input=stdin)
    return r.stdout, r.stderr, r.exit_code


def via_entry(argv, capsys, monkeypatch, stdin=None):
    assert fast_args(argv) is not None, "this case must take the fast path"
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    with pytest.raises(SystemExit) as exc:
        entry(argv)
    out, err = capsys.readouterr()
    return out, err, exc.value.code


CASES = [
    ["shape", D],
    ["shape", D, "--format", "json"],
    ["shape", "--format=json", D],
    ["params", D, "--format", "markdown"],
    ["params", R, "--format", "csv", "--depth", "1"],
    ["shape", R, "--depth", "0"],
    ["shape", R, "--depth=2", "--format", "csv"],
    ["shape", D, R, "--format", "json"],
    ["shape", D, "--format", "csv", "--format", "json"],  # the last one wins, as in click
    ["shape", D, "--input", "1,3,128,128", "--format", "json"],
    ["shape", D, "--input=2x3x64x64"],
    ["shape", D, "--set", "ndf=8", "--set", "nc=1", "--format", "markdown"],
    ["params", D, "--set", "ndf=ndf // 2", "--format", "json"],
    ["shape", D, "--max-layers", "3"],  # refused: the spec has more layers
    ["shape", D, "--max-layers", "3", "--format", "json"],
    ["shape", "no/such/file.yaml"],
    ["shape", "no/such/file.yaml", D, "--format", "json"],
    ["shape", D, "--set", "undefined_var=1", "--format", "json"],
    # check (issue 18: pre-commit runs it on every commit, so it skips click too)
    ["check", D],
    ["check", D, R, "specs/lenet5.yaml", "--format", "json"],
    ["check", "specs", "--format", "parsable"],
    ["check", D, "--format", "github", "--strict"],
    ["check", "--strict", "no/such/file.yaml", D],
    ["check", D, "--set", "ndf=3", "--format", "json"],
]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_fast_path_gives_what_click_gives(argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "120")
    assert via_entry(argv, capsys, monkeypatch) == via_click(argv)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_fast_path_reads_stdin_and_reports_errors_like_click(fmt, capsys, monkeypatch):
    argv = ["shape", "-", "--format", fmt]
    fast = via_entry(argv, capsys, monkeypatch, stdin=BAD)
    assert fast == via_click(argv, stdin=BAD)
    assert fast[2] == 1 and "output-too-small" in fast[0] + fast[1]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["--version"],
        ["shape"],
        ["shape", "--help"],
        ["shape", D, "-h"],
        ["verify", D],
        ["check", D, "--disable", "bias-before-norm"],
        ["check", D, "--weights", "w.npz"],
        ["check", D, "--list-rules"],
        ["check", D, "--strict=yes"],
        ["check", D, "--format", "xml"],
        ["check"],
        ["layers"],
        ["shape", D, "--format", "xml"],
        ["shape", D, "--format", "JSON"],
        ["shape", D, "--format"],
        ["shape", D, "--format="],
        ["shape", D, "--bogus"],
        ["shape", D, "--", "x.yaml"],
        ["shape", D, "--max-layers", "0"],
        ["shape", D, "--max-layers", "+5"],
        ["shape", D, "--max-layers", " 5"],
        ["shape", D, "--max-layers", "1_000"],
        ["shape", D, "--max-layers", "５"],
        ["shape", D, "--depth", "-1"],
        ["shape", D, "--set", "novalue"],
        ["shape", D, "--set", "1x=2"],
        ["shape", D, "--set", "--format"],
        ["shape", D, "--input", "0,3"],
        ["shape", D, "--input", "a,b"],
        ["shape", "specs/*.yaml"],
        ["shape", D, "-x"],
    ],
)
def test_fast_path_steps_aside(argv):
    assert fast_args(argv) is None


def test_declined_arguments_still_get_clicks_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        entry(["shape", D, "--max-layers", "0"])
    assert exc.value.code == 2
    assert "--max-layers" in capsys.readouterr().err


def test_the_executable_is_the_entry():
    """The console script and `python -m layercalc` both start at the fast entry."""
    assert 'layercalc = "layercalc.cli.entry:main"' in (ROOT / "pyproject.toml").read_text()
    out = subprocess.run(
        [sys.executable, "-m", "layercalc", "params", D, "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.startswith("file,")


@pytest.mark.parametrize("module", ["layercalc", "layercalc.cli.app"])
def test_a_stream_that_cannot_encode_the_table_gets_utf8(module):
    code = f"import sys; sys.argv[0] = 'layercalc'; from {module} import main; main()"
    if module == "layercalc":
        code = "import runpy; runpy.run_module('layercalc', run_name='__main__')"
    out = subprocess.run(
        [sys.executable, "-c", code, "shape", D],
        capture_output=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert out.returncode == 0, out.stderr
    assert "┏━" in out.stdout.decode("utf-8")


def _in_terminal(code: str, *args) -> bytes:
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=ROOT, stdout=follower, stderr=subprocess.DEVNULL
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks)


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_the_coloured_table_in_a_terminal_is_clicks():
    fast = "import runpy; runpy.run_module('layercalc', run_name='__main__')"
    click_path = "import sys; sys.argv[0] = 'layercalc'; from layercalc.cli.app import main; main()"
    a, b = _in_terminal(fast, "params", R), _in_terminal(click_path, "params", R)
    assert a == b and b"\x1b[" in a  # colour codes, the same bytes


def test_broken_pipe_exits_quietly():
    """`layercalc shape big.yaml | head -1`: no traceback, as with click."""
    with subprocess.Popen(
        [sys.executable, "-m", "layercalc", "shape", R, "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        proc.stdout.close()  # the reader went away before anything was written
        err = proc.stderr.read().decode()
    assert proc.returncode == 1 and "Traceback" not in err, err
