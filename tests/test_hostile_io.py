"""Hostile streams and files (issue 12, item 5): no traceback and no hang, whatever the
executable is given to read from or write to.

Each case runs the real executable (``python -m layercalc``, the console script's entry)
in a child process with a timeout: a stdout that cannot encode the tables (latin-1,
cp1252), a closed stdout or stdin, a full disk, an absurd ``schema --indent``, and named
pipes, devices and sockets where a spec file is expected. Where the click-free path and
the click group could differ, both are run: a spec name holding ``[`` sends `shape` to
click (layercalc.cli.entry leaves wildcards to it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "specs" / "lenet5.yaml")
TIMEOUT = 60
BAD = "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n"
posix = pytest.mark.skipif(os.name != "posix", reason="POSIX file descriptors and FIFOs")


def layercalc(
    *args, env=None, close=(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT
):
    """Run the executable; ``close`` names standard descriptors (0, 1, 2) to close first."""

    def preexec():
        for fd in close:
            os.close(fd)

    return subprocess.run(
        [sys.executable, "-m", "layercalc", *map(str, args)],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=stdin,
        env={**os.environ, **(env or {})},
        timeout=TIMEOUT,
        check=False,
        preexec_fn=preexec if close else None,
    )


@pytest.fixture
def click_spec(tmp_path) -> str:
    """The LeNet spec under a name that sends `shape` and `params` to the click group."""
    path = tmp_path / "lenet[5].yaml"
    shutil.copy(SPEC, path)
    return str(path)


def no_traceback(p):
    assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")


# -- an output encoding without the table characters -------------------------------------

COMMANDS = [
    ("shape", SPEC),
    ("params", SPEC),
    ("verify", SPEC),
    ("layers",),
    ("explain", SPEC),
    ("cost", SPEC),
    ("rf", SPEC),
    ("solve", "--in", "64", "--out", "32"),
    ("check", SPEC),
    ("schema",),
    ("--help",),
    ("explain", "--help"),
]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
@pytest.mark.parametrize(
    "argv", COMMANDS, ids=lambda a: " ".join(a[:1]) + ("-help" if "--help" in a else "")
)
def test_a_narrow_output_encoding_degrades_to_ascii(argv, encoding):
    p = layercalc(*argv, env={"PYTHONIOENCODING": encoding})
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode(encoding)  # the stream's own encoding, every byte of it
    assert "\ufffd" not in text
    if argv[0] in ("shape", "params", "verify", "cost", "rf", "layers", "solve"):
        assert "+=" in text and "|" in text  # box drawing in ASCII


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_both_entry_paths_degrade_alike(click_spec, encoding):
    fast = layercalc("shape", SPEC, env={"PYTHONIOENCODING": encoding, "COLUMNS": "100"})
    slow = layercalc("shape", click_spec, env={"PYTHONIOENCODING": encoding, "COLUMNS": "100"})
    assert fast.returncode == slow.returncode == 0, slow.stderr
    assert fast.stdout.replace(SPEC.encode(), b"F") == slow.stdout.replace(
        click_spec.encode(), b"F"
    )


def test_formulas_degrade_to_words():
    p = layercalc("explain", SPEC, "c1", env={"PYTHONIOENCODING": "ascii:strict", "LC_ALL": "C"})
    no_traceback(p)
    assert p.returncode == 0
    p = layercalc("solve", "--in", "64", "--out", "32", env={"PYTHONIOENCODING": "cp1252"})
    assert "floor((64 + 2" in p.stdout.decode("cp1252")


def test_unencodable_spec_text_is_escaped(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        'name: "\u7f51\u7edc \u2192 \U0001f600"\ninput: [1, 3]\nlayers: [relu]\n', encoding="utf-8"
    )
    for command in ("shape", "cost", "verify", "explain"):
        p = layercalc(command, path, env={"PYTHONIOENCODING": "latin-1"})
        no_traceback(p)
        assert p.returncode == 0
        assert "\\u7f51\\u7edc -> \\U0001f600" in p.stdout.decode("latin-1")
    path.write_text('input: [1, 3]\nlayers: ["\u7f51\u2192"]\n', encoding="utf-8")
    for command in ("shape", "cost"):  # a diagnostic on stderr, on both entry paths
        p = layercalc(command, path, env={"PYTHONIOENCODING": "latin-1"})
        no_traceback(p)
        assert p.returncode == 1
        assert "unknown layer type '\\u7f51->'" in p.stderr.decode("latin-1")


# -- closed and failing streams -----------------------------------------------------------


@posix
@pytest.mark.parametrize(
    "argv",
    [
        ("shape", SPEC),
        ("shape", SPEC, "--format", "json"),
        ("params", SPEC),
        ("cost", SPEC),
        ("check", SPEC),
        ("verify", SPEC),
        ("layers",),
        ("schema",),
        ("--help",),
        ("solve", "--in", "8", "--out", "4"),
    ],
    ids=lambda a: "-".join(x for x in a if x != SPEC),
)
def test_closed_stdout_is_a_clear_error(argv):
    p = layercalc(*argv, close=(1,))
    no_traceback(p)
    assert p.returncode == 1
    assert p.stderr.decode() == "layercalc: error: standard output is closed\n"


@posix
def test_closed_stdout_on_the_click_path(click_spec):
    p = layercalc("shape", click_spec, close=(1,))
    assert (p.returncode, p.stderr) == (1, b"layercalc: error: standard output is closed\n")


STDIN_ERROR = "<stdin>:1:1: error: cannot read the file: standard input is closed [unreadable]"


@posix
@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "explain", "verify"])
def test_closed_stdin_is_an_error_of_that_spec(command):
    p = layercalc(command, "-", close=(0,), stdin=None)
    no_traceback(p)
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == [STDIN_ERROR]


@posix
def test_closed_stdin_on_the_click_path_and_in_check(click_spec):
    p = layercalc("shape", "-", click_spec, close=(0,), stdin=None)
    no_traceback(p)
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == [STDIN_ERROR]
    assert b"LeNet-5" in p.stdout  # the other spec is still answered
    p = layercalc("check", "--format", "parsable", "-", SPEC, close=(0,), stdin=None)
    assert p.returncode == 1
    assert p.stdout.decode().splitlines() == [STDIN_ERROR]


@posix
@pytest.mark.parametrize("close", [(2,), (0, 2)])
def test_closed_stderr_still_answers(tmp_path, close):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    p = layercalc("shape", bad, SPEC, close=close, stdin=None)
    assert p.returncode == 1
    assert b"LeNet-5" in p.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(
    "argv",
    [("shape", SPEC), ("cost", SPEC), ("verify", SPEC), ("check", SPEC), ("layers",)],
    ids=lambda a: a[0],
)
def test_a_full_disk_is_a_clear_error(argv):
    with open("/dev/full", "wb") as full:
        p = layercalc(*argv, stdout=full)
    no_traceback(p)
    assert p.returncode == 1
    assert p.stderr.decode().endswith(
        "layercalc: error: cannot write the output: No space left on device\n"
    )


# -- schema --indent ----------------------------------------------------------------------


@pytest.mark.parametrize("indent", ["100000", "17", "-1", "10**9"])
def test_schema_indent_is_bounded(indent):
    p = layercalc("schema", "--indent", indent)
    no_traceback(p)
    assert p.returncode == 2  # a usage error, as every out-of-range option
    assert b"--indent" in p.stderr and not p.stdout


def test_schema_indent_within_bounds():
    for indent in ("0", "16"):
        p = layercalc("schema", "--indent", indent)
        assert p.returncode == 0 and p.stdout.startswith(b"{")


# -- files that are not regular files -----------------------------------------------------


def special_files(tmp_path) -> dict:
    out = {}
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.yaml")
        out["fifo.yaml"] = "a named pipe (FIFO)"
    if hasattr(socket, "AF_UNIX"):
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(str(tmp_path / "sock.yaml"))
            out["sock.yaml"] = "a socket"
        except OSError:  # a path too long for AF_UNIX
            pass
        finally:
            sock.close()
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", tmp_path / "zero.yaml")
        out["zero.yaml"] = "a character device"
    return out


@posix
@pytest.mark.parametrize("command", ["shape", "cost", "explain"])  # fast path, click
def test_a_special_file_is_refused_without_waiting(tmp_path, command):
    for name, kind in special_files(tmp_path).items():
        p = layercalc(command, tmp_path / name)
        no_traceback(p)
        assert p.returncode == 1
        lines = p.stderr.decode().splitlines()
        assert lines[0] == (
            f"{tmp_path / name}:1:1: error: cannot read the file: it is {kind}, not a regular "
            "file [unreadable]"
        )
        assert lines[1].startswith("    hint: ")


@posix
def test_a_special_file_on_the_click_path(tmp_path, click_spec):
    os.mkfifo(tmp_path / "fifo.yaml")
    p = layercalc("shape", tmp_path / "fifo.yaml", click_spec)
    assert p.returncode == 1
    assert "it is a named pipe (FIFO), not a regular file" in p.stderr.decode()
    assert b"LeNet-5" in p.stdout


@posix
@pytest.mark.parametrize("fmt", ["human", "parsable", "github", "json"])
def test_check_reports_special_files_and_checks_the_rest(tmp_path, fmt):
    kinds = special_files(tmp_path)
    shutil.copy(SPEC, tmp_path / "lenet5.yaml")
    p = layercalc("check", "--format", fmt, tmp_path)
    no_traceback(p)
    assert p.returncode == 1
    out = p.stdout.decode()
    for name, kind in kinds.items():
        assert out.count(f"it is {kind}, not a regular file") == 1, out
    if fmt == "human":
        assert f"ok   {tmp_path / 'lenet5.yaml'}" in out
        assert f"{len(kinds)} of {len(kinds) + 1} files failed" in out
    if fmt == "parsable":
        assert len(out.splitlines()) == len(kinds)


@posix
def test_devices_given_directly(tmp_path):
    for device in ("/dev/null", "/dev/zero", "/dev/urandom"):
        if not os.path.exists(device):
            continue
        p = layercalc("check", "--format", "parsable", device, SPEC)
        assert p.returncode == 1
        assert p.stdout.decode().splitlines() == [
            f"{device}:1:1: error: cannot read the file: it is a character "
            "device, not a regular file (hint: to read a stream, give `-` and pipe it to "
            "standard input) [unreadable]"
        ]


def test_standard_input_is_still_read(tmp_path):
    with open(SPEC, "rb") as fh:
        p = layercalc("shape", "-", stdin=fh)
    assert p.returncode == 0 and b"LeNet-5" in p.stdout
