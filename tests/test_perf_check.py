"""`check` over many files (issue 18, target 2): several processes check them, and the
verdicts are byte for byte the ones one process gives; its start-up path imports no
dataclasses (nor inspect and ast, which they pull in)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SEQUENTIAL = (
    "import sys\n"
    "import layercalc.cli.checking as c\n"
    "c._jobs = lambda n: 1\n"
    "from layercalc.cli.entry import main\n"
    "sys.argv = ['layercalc', 'check', *sys.argv[1:]]\n"
    "main()\n"
)


def _mixed(tmp: Path) -> Path:
    """Valid specs, failed expectations, unknown arguments, bad values, lint warnings,
    YAML syntax errors: every kind of verdict, in more files than one process takes."""
    out = tmp / "specs"
    out.mkdir()
    for p in sorted((ROOT / "specs").glob("*.yaml"))[:12]:
        t = p.read_text()
        (out / f"a_{p.name}").write_text(t)
        (out / f"b_{p.name}").write_text(t.rstrip("\n") + "\nlint: {no-such-rule: off}\n")
        (out / f"c_{p.name}").write_text(t.replace("out_channels", "out_chanels", 1))
        (out / f"d_{p.name}").write_text(t[: len(t) // 2])
        (out / f"e_{p.name}").write_text(t.replace("stride: 2", "stride: 7", 1))
    return out


@pytest.mark.parametrize("fmt", ["human", "parsable", "github"])
def test_parallel_check_gives_what_one_process_gives(tmp_path, fmt):
    from layercalc.cli.checking import _jobs

    folder = _mixed(tmp_path)
    args = [str(folder), "--format", fmt, "--strict"]
    one = subprocess.run(
        [sys.executable, "-c", SEQUENTIAL, *args], capture_output=True, cwd=ROOT, check=False
    )
    many = subprocess.run(
        [sys.executable, "-m", "layercalc", "check", *args],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    assert one.returncode == many.returncode == 1
    assert one.stdout == many.stdout and one.stderr == many.stderr
    assert b"failed" in many.stdout or fmt != "human"
    assert _jobs(60) >= 1


def test_a_failing_child_has_its_files_checked_again(tmp_path, monkeypatch):
    """A child that dies (here: every child) costs time, never a verdict."""
    import os

    from layercalc.cli import checking

    folder = _mixed(tmp_path)
    files = sorted(str(p) for p in folder.iterdir())
    calls = []
    parent = os.getpid()

    def verdict(f):
        if os.getpid() != parent:
            os._exit(3)
        calls.append(f)
        return f.upper()

    assert checking._in_parallel(files, verdict, 3) == [f.upper() for f in files]
    assert sorted(calls) == files


def test_json_keeps_one_process_and_the_networks(tmp_path):
    from layercalc.cli.checking import run_checks

    folder = _mixed(tmp_path)
    checked = run_checks([str(folder)], {}, None, 100_000, {})
    assert any(c.net is not None for c in checked)


def test_check_start_up_imports_no_dataclasses():
    code = (
        "import sys; sys.argv = ['layercalc', 'check', 'specs/lenet5.yaml', 'specs/vgg16.yaml']\n"
        "from layercalc.cli.entry import main\ntry: main()\nexcept SystemExit: pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'dataclasses', 'inspect', 'ast', 'click', 'rich', 'numpy', 'json'}), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stderr.strip() == "[]"
