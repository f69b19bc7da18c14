"""`layercalc draw` of ResNet-50 (issue 17: under 0.5 s).

Prints the best-of-N wall time of `draw specs/resnet50.yaml` as SVG at --depth 1 and in
full (175 layers, every skip connection laid out), and as HTML, against `shape --format
json` of the same spec measured in the same run as the baseline (a fresh process each,
so start-up, YAML and the network's resolution are in both).
Usage: python benchmarks/bench_draw.py [--runs 9]
"""

from __future__ import annotations

import argparse

from common import best_of, layercalc

TARGET = 0.5  # seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    spec = "specs/resnet50.yaml"
    base = best_of(layercalc("shape", spec, "--format", "json"), args.runs)
    for label, extra in (
        ("svg --depth 1", ["--depth", "1"]),
        ("svg full", []),
        ("html --depth 1", ["--depth", "1", "--format", "html"]),
    ):
        t = best_of(layercalc("draw", spec, *extra), args.runs)
        ok = "OK" if t < TARGET else "MISSED"
        print(
            f"draw resnet50 ({label:14}) {t * 1000:7.1f} ms   {t / base:.2f}x shape --format json "
            f"({base * 1000:.1f} ms)   target < {TARGET * 1000:.0f} ms  {ok}"
        )


if __name__ == "__main__":
    main()
