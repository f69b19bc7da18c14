"""Scale: generated 5k/10k/100k-layer specs through `shape --format json` (issue 8, target 2).

Targets: 10,000 layers in under 0.5 s (whole process), time growing linearly
(10k / 5k ratio at most 2.4), and 100,000 layers completing without error.
Usage: python benchmarks/bench_scale.py [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def spec_text(n: int) -> str:
    lines = [f"name: generated {n}", "input: [1, 16, 32, 32]", "layers:"]
    for i in range(n // 2):
        lines.append("  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}")
        lines.append("  - relu")
    return "\n".join(lines) + "\n"


def best_of(path, runs, fmt="json"):
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "layercalc", "shape", path, "--format", fmt],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(f"layercalc failed on {path}: {r.stderr.decode()[:500]}")
        best = dt if best is None else min(best, dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for n in (5_000, 10_000, 100_000):
            paths[n] = os.path.join(tmp, f"gen{n}.yaml")
            with open(paths[n], "w") as fh:
                fh.write(spec_text(n))
        t5 = best_of(paths[5_000], args.runs)
        t10 = best_of(paths[10_000], args.runs)
        t100 = best_of(paths[100_000], 1)
        table100 = best_of(paths[100_000], 1, "table")
    print(f" 5,000 layers  {t5:6.2f} s")
    print(f"10,000 layers  {t10:6.2f} s   (target < 0.5 s)  {'OK' if t10 < 0.5 else 'MISSED'}")
    print(f"ratio 10k/5k   {t10 / t5:6.2f}     (target <= 2.4)  {'OK' if t10 / t5 <= 2.4 else 'MISSED'}")
    print(f"100,000 layers {t100:6.2f} s json, {table100:.2f} s table (must complete: OK)")


if __name__ == "__main__":
    main()
