"""Start-up: `layercalc shape` against the bare imports it cannot avoid (issue 8, target 1).

Prints the best-of-N wall time of each command, measured in this run, and the ratios:
  table output      <= 1.5x  python -c "import yaml, click, rich.console, rich.table"
  --format json     <= 0.7x  the same baseline (rich and numpy are not imported)
  torchinfo summary >= 15x slower than layercalc (only when torch and torchinfo exist)
Usage: python benchmarks/bench_startup.py [--runs 15] [--spec specs/resnet50.yaml]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def best_of(cmd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       cwd=ROOT)
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--spec", default=os.path.join("specs", "resnet50.yaml"))
    args = ap.parse_args()
    py = sys.executable
    spec = args.spec if os.path.exists(os.path.join(ROOT, args.spec)) else \
        os.path.join("specs", "dcgan_discriminator.yaml")
    base = best_of([py, "-c", "import yaml, click, rich.console, rich.table"], args.runs)
    table = best_of([py, "-m", "layercalc", "shape", spec], args.runs)
    js = best_of([py, "-m", "layercalc", "shape", spec, "--format", "json"], args.runs)
    print(f"spec: {spec}")
    print(f"baseline imports      {base * 1000:7.1f} ms")
    print(f"shape (table)         {table * 1000:7.1f} ms   ratio {table / base:.2f}  "
          f"(target <= 1.5)  {'OK' if table / base <= 1.5 else 'MISSED'}")
    print(f"shape --format json   {js * 1000:7.1f} ms   ratio {js / base:.2f}  "
          f"(target <= 0.7)  {'OK' if js / base <= 0.7 else 'MISSED'}")
    try:
        import torch  # noqa: F401
        import torchinfo  # noqa: F401
    except ImportError:
        print("torchinfo comparison skipped: torch and torchinfo are not both installed")
        return
    code = ("import torch, torchinfo, sys; sys.path.insert(0, 'benchmarks');"
            "from torch_models import resnet50; torchinfo.summary(resnet50(), (1, 3, 224, 224),"
            " verbose=0)")
    ti = best_of([py, "-c", code], max(3, args.runs // 5))
    print(f"torchinfo summary     {ti * 1000:7.1f} ms   layercalc is {ti / table:.1f}x faster "
          f"(target >= 15)  {'OK' if ti / table >= 15 else 'MISSED'}")


if __name__ == "__main__":
    main()
