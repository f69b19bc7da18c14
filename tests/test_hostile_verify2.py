"""Hostile cases of `layercalc verify`, second round: --max-memory sizes, a closed
stderr, --save path syntax, signals mid-save, and the memory estimate against the run
(input lifetimes, integer index inputs, np.savez's write buffer)."""
from __future__ import annotations

import subprocess
import sys
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
