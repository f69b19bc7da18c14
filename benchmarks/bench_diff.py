"""`layercalc diff` of two ResNet-50 variants (issue 20: under 0.3 s).

Prints the best-of-N wall time of `diff specs/resnet50.yaml` against a copy with a
changed head (--new-set num_classes=10), and `shape --format json` of one ResNet-50
measured in the same run as the baseline (a diff loads two specs, so about 2x it is
expected). Usage: python benchmarks/bench_diff.py [--runs 9]
"""

from __future__ import annotations

import argparse

from common import best_of, layercalc

TARGET = 0.3  # seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    spec = "specs/resnet50.yaml"
    base = best_of(layercalc("shape", spec, "--format", "json"), args.runs)
    for label, extra in (("table", []), ("json", ["--format", "json"])):
        t = best_of(layercalc("diff", spec, spec, "--new-set", "num_classes=10", *extra), args.runs)
        ok = "OK" if t < TARGET else "MISSED"
        print(
            f"diff resnet50 ({label:5}) {t * 1000:7.1f} ms   {t / base:.2f}x shape --format json "
            f"({base * 1000:.1f} ms)   target < {TARGET * 1000:.0f} ms  {ok}"
        )


if __name__ == "__main__":
    main()
