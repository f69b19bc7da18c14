"""`check` at the speed of `shape` (issue 18, target 2): pre-commit runs it on every
commit, so it takes the start-up path too (no click).

Prints, best of N, measured in the same run:
  check FILE              against shape FILE --format json (target: ratio <= 1.1)
  check on 50 specs       (the specs/ directory copied until there are 50; target < 0.5 s)
Usage: python benchmarks/bench_check.py [--runs 9]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import ROOT, best_of, layercalc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    spec = "specs/dcgan_discriminator.yaml"
    shape = best_of(layercalc("shape", spec, "--format", "json"), args.runs)
    check = best_of(layercalc("check", spec), args.runs)
    print(f"shape --format json {shape * 1000:7.1f} ms")
    ok = "OK" if check / shape <= 1.1 else "MISSED"
    print(f"check               {check * 1000:7.1f} ms   ratio {check / shape:.2f}  (<= 1.1) {ok}")
    small = sorted(p for p in (ROOT / "specs").glob("*.yaml") if p.stat().st_size < 6000)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(50):
            src = small[i % len(small)]
            shutil.copy(src, Path(tmp) / f"{i:02d}_{src.name}")
        many = best_of(layercalc("check", tmp), max(3, args.runs // 3))
    ok = "OK" if many < 0.5 else "MISSED"
    print(f"check on 50 specs   {many * 1000:7.1f} ms   (target < 500 ms) {ok}")


if __name__ == "__main__":
    main()
