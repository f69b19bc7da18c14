"""Peak memory of a 100,000-layer spec (issue 18, target 4: under 200 MB).

The peak resident set (ru_maxrss of the child process, as `/usr/bin/time -f %M` shows
it) of `shape --format json` and `check` on bench_scale.py's 100,000-layer spec,
against a bare `python -c pass` measured in the same run. POSIX only.
Usage: python benchmarks/bench_memory.py [--layers 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from bench_scale import spec_text
from common import PY, ROOT, bench_env, layercalc

TARGET_MB = 200


def peak_mb(cmd) -> float:
    """The child's peak resident set, in MB (10**6 bytes)."""
    with subprocess.Popen(
        cmd, cwd=ROOT, env=bench_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {proc.returncode}")
    return usage.ru_maxrss * 1024 / 1e6  # Linux: KiB


def measure(layers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"gen{layers}.yaml")
        with open(path, "w") as fh:
            fh.write(spec_text(layers))
        return {
            "python": peak_mb([PY, "-c", "pass"]),
            "shape --format json": peak_mb(layercalc("shape", path, "--format", "json")),
            "check": peak_mb(layercalc("check", path)),
        }


def report(mb: dict, layers: int = 100_000) -> list:
    rows = []
    for name in ("shape --format json", "check"):
        rows.append(
            (
                f"`{name}` {layers:,} layers peak < {TARGET_MB} MB",
                f"{mb[name]:.0f} MB ({mb[name] / mb['python']:.1f}x bare python's "
                f"{mb['python']:.0f} MB)",
                mb[name] < TARGET_MB,
            )
        )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=100_000)
    args = ap.parse_args()
    mb = measure(args.layers)
    for target, measured, met in report(mb, args.layers):
        print(f"{target:44} {measured:40} {'OK' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
