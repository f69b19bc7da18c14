"""Hostile cases of `layercalc verify`, second round: --max-memory sizes, a closed
stderr, --save path syntax, signals mid-save, and the memory estimate against the run
(input lifetimes, integer index inputs, np.savez's write buffer)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.verify import MAX_SIZE, parse_size

ROOT = Path(__file__).resolve().parent.parent

SPEC = """\
input: [1, 4]
layers:
  - linear: {name: fc, out_features: 3}
"""


def invoke(*args):
    return cli_runner().invoke(main, ["verify", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SPEC)
    return p


# -- --max-memory sizes ------------------------------------------------------------------

ABSURD = ["9" * 400, "-1", "-1MiB", "nan", "inf", "NaN", "Infinity", "1e999", "1e3",
          "\u0661\u0660MiB", "\uff11\uff10MiB", "10\u00a0MiB\u2003x", "0", "0.1", "",
          "1" + "0" * 5000, "9223372036854775808", "8EiB",
          "0x10", "1_000", "+5"]


@pytest.mark.parametrize("text", ABSURD, ids=range(len(ABSURD)))
def test_absurd_sizes_are_usage_errors(spec, text):
    r = invoke(spec, "--max-memory", text)
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--max-memory'" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("text,value", [
    ("9223372036854775807", MAX_SIZE), ("0" * 300 + "5", 5), (".5KiB", 512),
    ("1." + "9" * 5000 + "GB", 1_999_999_999), (" 2 GiB ", 2**31)])
def test_sizes_are_exact(text, value):
    assert parse_size(text) == value


# -- a closed stderr -----------------------------------------------------------------------

def test_closed_stderr_still_verifies(spec):
    r = subprocess.run(["sh", "-c", '"$0" -m layercalc verify "$1" 2>&-', sys.executable,
                        str(spec)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "all 1 layers agree" in r.stdout


# -- --save path syntax ----------------------------------------------------------------------

@pytest.fixture
def place(tmp_path, spec, monkeypatch):
    """tmp_path as the working directory, with a precious file 'f' and a directory 'd'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("precious\n")
    (tmp_path / "d").mkdir()
    return tmp_path


def assert_unwritable(r, reason):
    assert r.exit_code == 1, r.output
    assert "error[unwritable]" in r.output and reason in r.output, r.output
    assert "s.yaml:1:1:" in r.output and "hint:" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("target,reason", [
    ("f/", "the name ends with '/', so it can only name a directory, and 'f' is not a"),
    ("f/.", "the name ends with '/.', so it can only name a directory, and 'f' is not a"),
    ("f/..", "'f' is not a directory"),
    ("new/", "and 'new' does not exist"),
    ("new/.", "and 'new' does not exist"),
    ("d/", "it is a directory"),
    ("d/.", "it is a directory"),
    ("missing/../y.npz", "the directory 'missing' does not exist"),
    ("f/../z.npz", "'f' is not a directory"),
    ("d/missing/../../z.npz", "the directory 'd/missing' does not exist"),
])
def test_paths_that_do_not_resolve_are_refused(place, target, reason):
    r = invoke("s.yaml", "--save", target)
    assert_unwritable(r, reason)
    assert (place / "f").read_text() == "precious\n"
    assert sorted(os.listdir(place)) == ["d", "f", "s.yaml"]


def test_a_symbolic_link_to_an_unresolvable_path_is_refused(place):
    os.symlink("missing/../y.npz", place / "link")
    assert_unwritable(invoke("s.yaml", "--save", "link"), "/missing' does not exist")
    assert not (place / "y.npz").exists()


@pytest.mark.parametrize("target", ["d/../ok.npz", "./ok.npz", "d/./../ok.npz"])
def test_paths_that_resolve_still_save(place, target):
    r = invoke("s.yaml", "--save", target)
    assert r.exit_code == 0, r.output
    assert zipfile.is_zipfile(place / "ok.npz")


@pytest.mark.parametrize("how", ["same", "dot", "absolute", "symlink", "hardlink"])
def test_the_spec_being_verified_is_never_the_save_target(place, how):
    target = {"same": "s.yaml", "dot": "./d/../s.yaml", "absolute": str(place / "s.yaml"),
              "symlink": "sl", "hardlink": "hl"}[how]
    if how == "symlink":
        os.symlink("s.yaml", "sl")
    if how == "hardlink":
        os.link("s.yaml", "hl")
    r = invoke("s.yaml", "--save", target)
    assert_unwritable(r, "it is the spec 's.yaml', which is being verified")
    assert (place / "s.yaml").read_text() == SPEC


def test_standard_input_is_never_the_save_target(place):
    with open("s.yaml", "rb") as fh:
        r = subprocess.run([sys.executable, "-m", "layercalc", "verify", "-", "--save",
                            "s.yaml"], stdin=fh, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1 and "it is standard input" in r.stderr + r.stdout, r
    assert (place / "s.yaml").read_text() == SPEC
