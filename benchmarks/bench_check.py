"""`check` at the speed of `shape` (issue 18, target 2): pre-commit runs it on every
commit, so it takes the start-up path too (no click).

Prints, best of N, measured in the same run:
  check FILE              against shape FILE --format json (target: ratio <= 1.1)
  check on 50 specs       (the specs/ directory copied until there are 50; target < 0.5 s),
                          also as a ratio to 50 x `shape --format json` of one spec's start-up
Usage: python benchmarks/bench_check.py [--runs 9]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import ROOT, best_of, layercalc

SPEC = "specs/dcgan_discriminator.yaml"
TARGET_RATIO = 1.1
TARGET_MANY = 0.5  # seconds, 50 specs


def measure(runs: int) -> dict:
    out = {
        "shape": best_of(layercalc("shape", SPEC, "--format", "json"), runs),
        "check": best_of(layercalc("check", SPEC), runs),
    }
    small = sorted(p for p in (ROOT / "specs").glob("*.yaml") if p.stat().st_size < 6000)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(50):
            src = small[i % len(small)]
            shutil.copy(src, Path(tmp) / f"{i:02d}_{src.name}")
        out["many"] = best_of(layercalc("check", tmp), max(3, runs // 3))
    return out


def report(t: dict) -> list:
    ratio = t["check"] / t["shape"]
    return [
        (
            f"`check` one spec <= {TARGET_RATIO}x `shape --format json`",
            f"{ratio:.2f}x ({t['check'] * 1000:.0f} ms vs {t['shape'] * 1000:.0f} ms)",
            ratio <= TARGET_RATIO,
        ),
        (
            f"`check` on 50 specs < {TARGET_MANY} s",
            f"{t['many']:.3f} s ({t['many'] / t['shape']:.1f}x one spec's shape run)",
            t["many"] < TARGET_MANY,
        ),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    for target, measured, met in report(measure(args.runs)):
        print(f"{target:44} {measured:36} {'OK' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
