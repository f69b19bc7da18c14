"""Hostile `check` arguments, second round: directory symlink loops under `**` and
directory arguments, unreadable directories, missing directories, and numeric options
no conversion may turn into a traceback or accept in other scripts' digits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.cli import main

GOOD = "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n"
BAD = "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 9}\n"
SPEC = str(Path(__file__).resolve().parent / "golden" / "dcgan_d.yaml")
NOPERM = [
    "--bounding-set=-dac_override,-dac_read_search,-fowner",
    "--inh-caps=-dac_override,-dac_read_search,-fowner",
    "--",
]


def check(*args):
    return cli_runner(env={"NO_COLOR": "1", "GITHUB_ACTIONS": None}).invoke(
        main, ["check", "--format", "parsable", *args], catch_exceptions=False
    )


def layercalc(*args, cwd=None, timeout=60, prefix=()):
    return subprocess.run(
        [*prefix, sys.executable, "-m", "layercalc", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def loop(tmp_path, monkeypatch):
    """lp/a/x.yaml with lp/a/up -> .. (lp): a loop for anything following symlinks."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lp" / "a").mkdir(parents=True)
    (tmp_path / "lp" / "a" / "x.yaml").write_text(GOOD)
    try:
        os.symlink("..", tmp_path / "lp" / "a" / "up", target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("no symlinks here")
    return tmp_path


# -- 1. symlinks while walking --------------------------------------------------------------


@pytest.mark.parametrize("arg", ["lp/**/*.yaml", "lp", "lp/"])
def test_a_directory_symlink_loop_is_not_followed(loop, arg):
    r = check(arg)
    assert r.exit_code == 0, r.output
    assert r.output == ""
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(main, ["check", arg])
    assert r.output.splitlines() == ["ok   lp/a/x.yaml", "1 file checked, all passed"]


@pytest.mark.parametrize("arg", ["lp/**/*.yaml", "lp/"])
def test_two_crossing_loops_end_in_bounded_time(loop, arg):
    """glob.glob never finished with two links up (../.. and ..): the executable must."""
    os.symlink("../..", loop / "lp" / "a" / "up2", target_is_directory=True)
    p = layercalc("check", arg, cwd=loop)
    assert (p.returncode, p.stdout.splitlines()) == (
        0,
        ["ok   lp/a/x.yaml", "1 file checked, all passed"],
    ), p.stderr


def test_each_real_file_is_checked_once(loop):
    """A symlinked file is checked, under the first name found; a link to a file already
    found, a hard link, or the same file named twice is not checked again."""
    os.symlink("x.yaml", loop / "lp" / "a" / "y.yaml")
    (loop / "lp" / "b.yaml").write_text(BAD)
    os.symlink("../b.yaml", loop / "lp" / "a" / "link.yaml")  # sorts before x.yaml
    os.link(loop / "lp" / "a" / "x.yaml", loop / "lp" / "hard.yaml")
    for args in (["lp/**/*.yaml"], ["lp"], ["lp/a", "lp/a/x.yaml", "lp/**/*.yaml"]):
        r = cli_runner(env={"NO_COLOR": "1"}).invoke(main, ["check", *args])
        files = [ln.split()[1] for ln in r.output.splitlines() if ln.startswith(("ok ", "FAIL "))]
        assert len(files) == len({os.path.realpath(f) for f in files}) == 2, (args, files)
        assert r.exit_code == 1


def test_a_symlinked_directory_named_on_the_command_line_is_entered(loop):
    os.symlink("lp/a", loop / "named", target_is_directory=True)
    for arg in ("named", "named/", "named/*.yaml", "named/**/*.yaml"):
        r = check(arg, "--format", "json")
        assert r.exit_code == 0 and '"named/x.yaml"' in r.output, (arg, r.output)


def test_recursive_glob_still_matches_what_glob_matches(tmp_path, monkeypatch):
    import glob

    from layercalc.cli.checking import _glob

    monkeypatch.chdir(tmp_path)
    for f in (
        "t/x.yaml",
        "t/a/y.yml",
        "t/a/b/z.yaml",
        "t/a/b/c/w.yaml",
        "t/.h/d/h.yaml",
        "t/a/.e/e.yaml",
        "t/.dot.yaml",
        "t/a/b/n.txt",
    ):
        Path(f).parent.mkdir(parents=True, exist_ok=True)
        Path(f).write_text("")
    for pattern in (
        "t/**/*.yaml",
        "t/**",
        "t/**/",
        "t/*",
        "t/*/*",
        "t/.*",
        "**",
        "t/.*/**/*.yaml",
        "t/**/b/*",
        "**/*.y*ml",
        "t/a/*/c/*",
        "t/[xy].yaml",
        "t/?.yaml",
        "./t/*.yaml",
        "t//*.yaml",
        "nothing/*.yaml",
        "t/x.yaml/*",
        "t/**/.*",
        os.path.abspath("t") + "/**/*.yml",
    ):
        errors = {}
        assert sorted(_glob(pattern, errors)) == sorted(glob.glob(pattern, recursive=True))
        assert errors == {}


# -- 2. and 5. directories that cannot be read ----------------------------------------------


@pytest.fixture
def locked(tmp_path, monkeypatch):
    """g/sub/a.yaml (good) and g/locked/b.yaml (bad), g/locked refusing to be listed."""
    monkeypatch.chdir(tmp_path)
    for d, text in (("sub/a.yaml", GOOD), ("locked/b.yaml", BAD)):
        (tmp_path / "g" / d).parent.mkdir(parents=True)
        (tmp_path / "g" / d).write_text(text)
    scandir, listdir = os.scandir, os.listdir

    def refuse(real):
        def call(path="."):
            if os.path.basename(os.path.normpath(os.fspath(path))) == "locked":
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path)

        return call

    monkeypatch.setattr(os, "scandir", refuse(scandir))
    monkeypatch.setattr(os, "listdir", refuse(listdir))
    return tmp_path


DENIED = "g/locked:1:1: error: cannot read the directory: Permission denied [unreadable]\n"


@pytest.mark.parametrize("arg", ["g", "g/", "g/**/*.yaml", "g/*/*.yaml", "g/locked/*.yaml"])
def test_an_unreadable_directory_is_an_error_not_a_pass(locked, arg):
    r = check(arg)
    assert r.exit_code == 1
    assert r.output == DENIED


def test_an_unreadable_directory_leaves_the_others_checked(locked):
    (locked / "g" / "sub" / "c.yaml").write_text(BAD)
    r = check("g/**/*.yaml")
    assert r.exit_code == 1
    assert r.output.startswith(DENIED)
    assert r.output.count("g/sub/c.yaml:3:") == 1 and "g/sub/a.yaml" not in r.output
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(main, ["check", "g"])
    assert r.output.splitlines()[0] == "FAIL g/locked"
    assert "g/locked:1:1: error: cannot read the directory: Permission denied" in r.output
    assert "ok   g/sub/a.yaml" in r.output and "FAIL g/sub/c.yaml" in r.output


@pytest.mark.parametrize("arg", ["g/locked", "g/locked/"])
def test_an_unreadable_top_directory_says_so(locked, arg):
    r = check(arg)
    assert (r.exit_code, r.output) == (1, DENIED.replace("g/locked", arg))
    assert "no *.yaml" not in r.output


@pytest.mark.skipif(
    not shutil.which("setpriv") or os.name != "posix",
    reason="needs setpriv to drop root's permission bypass",
)
@pytest.mark.parametrize("arg", ["g/", "g/**/*.yaml", "g/*/b.yaml", "g/locked"])
def test_real_permissions(tmp_path, arg):
    for d, text in (("sub/a.yaml", GOOD), ("locked/b.yaml", BAD)):
        (tmp_path / "g" / d).parent.mkdir(parents=True)
        (tmp_path / "g" / d).write_text(text)
    (tmp_path / "g" / "locked").chmod(0)
    try:
        p = layercalc(
            "check",
            "--format",
            "parsable",
            arg,
            cwd=tmp_path,
            prefix=["setpriv", *NOPERM] if os.geteuid() == 0 else [],
        )
        if os.access(tmp_path / "g" / "locked", os.R_OK) and os.geteuid() != 0:
            pytest.skip("permissions are not enforced here")
        if "setpriv" in p.stderr:
            pytest.skip(f"setpriv cannot drop capabilities here: {p.stderr.strip()}")
        assert (p.returncode, p.stdout, p.stderr) == (1, DENIED, "")
    finally:
        (tmp_path / "g" / "locked").chmod(0o755)


@pytest.mark.parametrize("arg", ["nodir/", "nodir/sub/"])
def test_a_missing_directory_is_called_missing(tmp_path, monkeypatch, arg):
    monkeypatch.chdir(tmp_path)
    r = check(arg, "--format", "parsable")
    assert (r.exit_code, r.output) == (
        1,
        f"{arg}:1:1: error: cannot read the directory: No such file or "
        f"directory (hint: check the path) [unreadable]\n",
    )


def test_a_file_named_as_a_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(GOOD)
    r = check("s.yaml/")
    assert r.exit_code == 1
    assert r.output.startswith("s.yaml/:1:1: error: cannot read the directory: Not a directory")


# -- 3. and 4. numeric options: ASCII digits, no traceback, both paths alike ----------------

NINES = "9" * 4301  # int() refuses more than 4300 digits with a ValueError


def via_entry(argv, capsys):
    import os
    from unittest import mock

    from layercalc.cli.entry import main as entry

    # the width cli_runner gives click (tables fit $COLUMNS)
    with mock.patch.dict(os.environ, {"COLUMNS": "120"}), pytest.raises(SystemExit) as exc:
        entry(argv)
    out, err = capsys.readouterr()
    return out, err, exc.value.code


def via_click(argv):
    from layercalc.cli.app import main as group

    r = cli_runner().invoke(group, argv)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.stdout, r.stderr, r.exit_code


def error_line(err: str) -> str:
    return [ln for ln in err.splitlines() if ln.startswith("Error:")][-1]


@pytest.mark.parametrize(
    "argv, option",
    [
        (["shape", SPEC, "--max-layers", NINES], "--max-layers"),
        (["shape", SPEC, f"--max-layers={NINES}"], "--max-layers"),
        (["shape", SPEC, "--depth", NINES], "--depth"),
        (["params", SPEC, f"--depth={NINES}"], "--depth"),
        (["params", SPEC, "--max-layers", "9" * 20], "--max-layers"),
        (["shape", SPEC, "--input", f"1,{NINES},8,8"], "--input"),
        (["shape", SPEC, "--max-layers", "٣"], "--max-layers"),
        (["shape", SPEC, "--max-layers", "５"], "--max-layers"),
        (["params", SPEC, "--depth", "٣"], "--depth"),
        (["shape", SPEC, "--max-layers", "+5"], "--max-layers"),
        (["shape", SPEC, "--max-layers", "1_000"], "--max-layers"),
        (["shape", SPEC, "--max-layers", " 5"], "--max-layers"),
        (["shape", SPEC, "--max-layers", "0"], "--max-layers"),
        (["shape", SPEC, "--depth", "-1"], "--depth"),
        (["shape", SPEC, "--input", "1,٣,64,64"], "--input"),
        (["shape", SPEC, "--input", "１,3,64,64"], "--input"),
        (["params", SPEC, "--input=1,3,6_4,64"], "--input"),
        (["params", SPEC, "--input", "1,+3,64,64"], "--input"),
        (["check", SPEC, "--max-layers", "٣"], "--max-layers"),
        (["check", SPEC, "--input", "1,3,64,６４"], "--input"),
        (["verify", SPEC, "--max-layers", NINES], "--max-layers"),
        (["schema", "--indent", "２"], "--indent"),
        (["schema", "--indent", NINES], "--indent"),
        (["schema", "--indent", "17"], "--indent"),
    ],
)
def test_a_bad_number_is_the_same_usage_error_on_both_paths(argv, option, capsys):
    out, err, code = via_entry(argv, capsys)
    assert (code, out) == (2, ""), err
    assert "Traceback" not in err and option in error_line(err)
    assert len(error_line(err)) < 200  # 4301 digits are not echoed back
    c_out, c_err, c_code = via_click(argv)
    assert (c_code, c_out, error_line(c_err)) == (2, "", error_line(err))


@pytest.mark.parametrize(
    "argv, code",
    [
        (["shape", SPEC, "--max-layers", "100", "--depth", "0"], 0),
        (["params", SPEC, "--max-layers=0100", "--depth=1", "--format", "csv"], 0),
        (["shape", SPEC, "--input", "[2, 3, 64, 64]", "--format", "json"], 0),
        (["params", SPEC, "--input", "2x3x64x64"], 0),
        (["shape", SPEC, "--max-layers", "3"], 1),  # refused for the spec's size
    ],
)
def test_ascii_numbers_still_work_and_agree(argv, code, capsys):
    from layercalc.cli.entry import fast_args

    assert fast_args(argv) is not None
    fast = via_entry(argv, capsys)
    assert fast == via_click(argv)
    assert fast[2] == code, fast


def test_the_executable_gives_no_traceback():
    for argv in (["shape", SPEC, "--max-layers", NINES], ["params", SPEC, f"--depth={NINES}"]):
        p = layercalc(*argv)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "is beyond the largest value" in p.stderr


def test_schema_indent_in_range():
    out = via_click(["schema", "--indent", "0"])
    assert out[2] == 0 and "\n" not in out[0].rstrip("\n")
    assert via_click(["schema", "--indent", "16"])[2] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "specs/lenet5.yaml", "--seed", "+3"],
        ["verify", "specs/lenet5.yaml", "--seed", "٣"],
        ["cost", "specs/lenet5.yaml", "--batch", "５"],
        ["solve", "--in", "٣", "--out", "2"],
        ["solve", "--in", "8", "--out", "4", "--limit", "1_0"],
        ["solve", "--in", "8", "--out", "4", "--dims", "9" * 5000],
    ],
)
def test_every_int_option_takes_ascii_digits_only(argv):
    from pathlib import Path

    from layercalc.cli import main

    argv = [
        str(Path(__file__).resolve().parents[1] / a) if a.startswith("specs/") else a for a in argv
    ]
    result = cli_runner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_a_warning_repeated_in_a_file_is_summed_up_in_the_human_format(tmp_path):
    """The human format shows the first three of a warning code in full and one line
    for the rest of that file (their first lines listed); parsable lists every one."""
    from click.testing import CliRunner

    from layercalc.cli import main

    p = tmp_path / "long.yaml"
    p.write_text(
        "input: [1, 4, 16]\nlayers:\n"
        + "  - conv1d: {out_channels: 4, kernel_size: 3, padding: 1}\n  - batch_norm1d\n" * 40
    )
    r = CliRunner().invoke(main, ["check", str(p), "--format", "human"])
    assert r.exit_code == 0, r.output
    assert r.stdout.count("warning: conv1d") == 3
    assert (
        f"{p}: warning: 37 more like these (lines 9, 11, 13, 15, 17, 19, "
        "21, 23, 25, 27, ...) [bias-before-norm]; --format parsable lists each"
    ) in r.stdout
    assert "(0 errors, 40 warnings)" in r.stdout
    r = CliRunner().invoke(main, ["check", str(p), "--format", "parsable"])
    assert r.stdout.count("bias-before-norm") == 40
