"""What the benchmark scripts share: how a command is timed, and the environment it runs in.

Every command runs as a fresh process with bytecode caching on, after one untimed
warm-up run, because that is how an installed tool runs: `pip install` compiles every
module to bytecode, and Python caches the imports of a source checkout on first use.
(With PYTHONDONTWRITEBYTECODE set, each run would recompile layercalc from source while
the baseline's site-packages stay compiled: an unfair comparison.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def bench_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        check=False,
        cwd=ROOT,
        env=bench_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kw,
    )


def run_in_terminal(cmd) -> subprocess.CompletedProcess:
    """Run ``cmd`` with its standard output on a pseudo-terminal (as at a prompt: colour,
    rich) and read everything it prints; POSIX only."""
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        cmd, cwd=ROOT, env=bench_env(), stdout=follower, stderr=subprocess.PIPE
    ) as proc:
        os.close(follower)
        while True:
            try:
                if not os.read(leader, 65536):
                    break
            except OSError:  # EIO: the child closed the terminal
                break
        err = proc.stderr.read()
    os.close(leader)
    return subprocess.CompletedProcess(cmd, proc.returncode, None, err)


def best_of(cmd, runs: int, warm_up: bool = True, terminal: bool = False, code: int = 0) -> float:
    """The least wall time of ``runs`` runs of ``cmd``, in seconds, after one untimed
    warm-up run unless ``warm_up`` is false; a run exiting other than ``code`` stops the
    benchmark. ``terminal``: standard output is a pseudo-terminal instead of /dev/null."""
    best = float("inf")
    for i in range(runs + warm_up):
        t = time.perf_counter()
        out = run_in_terminal(cmd) if terminal else run(cmd)
        dt = time.perf_counter() - t
        if out.returncode != code:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{out.stderr.decode()[:800]}")
        if i >= warm_up:
            best = min(best, dt)
    return best


def layercalc(*args) -> list:
    """The command line of `python -m layercalc ARGS` from this checkout."""
    return [PY, "-m", "layercalc", *map(str, args)]
