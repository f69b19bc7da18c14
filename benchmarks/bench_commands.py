"""Every per-layer command linear in layers (issue 18, target 3).

`cost`, `rf`, `verify` (its table), `explain` of a whole spec and `draw`, on generated
specs of 5,000, 10,000 and 100,000 layers (bench_scale.py's conv/relu pairs), against
`shape --format json` of the same file measured in the same run as the baseline.
Targets: 100,000 layers in under 3 s each; 10k / 5k at most 2.2.

verify runs a real NumPy forward, so its specs carry small tensors (4 channels, 4x4):
the table, not the arithmetic, is what grows with the layers.
Usage: python benchmarks/bench_commands.py [--runs 2] [--only cost,rf] [--no-100k]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from common import best_of, layercalc

TARGET_100K = 3.0  # seconds
TARGET_RATIO = 2.2  # 10k / 5k

COMMANDS = {
    "shape": ["shape", "{spec}", "--format", "json"],  # the baseline
    "cost": ["cost", "{spec}"],
    "rf": ["rf", "{spec}"],
    "verify": ["verify", "{small}"],
    "explain": ["explain", "{spec}"],
    "draw": ["draw", "{spec}"],
}


def spec_text(n: int, channels: int = 16, size: int = 32) -> str:
    lines = [f"name: generated {n}", f"input: [1, {channels}, {size}, {size}]", "layers:"]
    for _ in range(n // 2):
        lines.append(f"  - conv2d: {{out_channels: {channels}, kernel_size: 3, padding: 1}}")
        lines.append("  - relu")
    return "\n".join(lines) + "\n"


def command(name: str, paths: dict, n: int) -> list:
    return layercalc(*(a.format(spec=paths[n], small=paths["small", n]) for a in COMMANDS[name]))


def measure(names, runs: int, big: bool) -> dict:
    """{(command, layers): seconds}, all measured in this run."""
    out = {}
    sizes = (5_000, 10_000, 100_000) if big else (5_000, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        paths: dict = {}
        for n in sizes:
            paths[n] = os.path.join(tmp, f"gen{n}.yaml")
            with open(paths[n], "w") as fh:
                fh.write(spec_text(n))
            paths["small", n] = os.path.join(tmp, f"small{n}.yaml")
            with open(paths["small", n], "w") as fh:
                fh.write(spec_text(n, 4, 4))
        for name in ["shape", *names]:
            for n in sizes:
                r, warm = (runs, True) if n < 100_000 else (1, False)
                out[name, n] = best_of(command(name, paths, n), r, warm)
    return out


def report(times: dict, names, big: bool) -> list:
    """Rows (target, measured, met) for bench_all.py, printed here too."""
    rows = []
    for name in names:
        ratio = times[name, 10_000] / times[name, 5_000]
        rows.append(
            (
                f"`{name}` 10k / 5k layers <= {TARGET_RATIO}",
                f"{ratio:.2f} ({times[name, 10_000]:.2f} s / {times[name, 5_000]:.2f} s)",
                ratio <= TARGET_RATIO,
            )
        )
        if big:
            t = times[name, 100_000]
            base = times["shape", 100_000]
            rows.append(
                (
                    f"`{name}` 100,000 layers < {TARGET_100K:.0f} s",
                    f"{t:.2f} s ({t / base:.2f}x shape --format json, {base:.2f} s)",
                    t < TARGET_100K,
                )
            )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", default=",".join(c for c in COMMANDS if c != "shape"))
    ap.add_argument("--no-100k", action="store_true", help="skip the 100,000-layer runs")
    args = ap.parse_args()
    names = [c for c in args.only.split(",") if c in COMMANDS and c != "shape"]
    times = measure(names, args.runs, not args.no_100k)
    base = times["shape", 10_000]
    print(f"baseline: shape --format json, 10k layers {base:.2f} s")
    for target, measured, met in report(times, names, not args.no_100k):
        print(f"{target:34} {measured:48} {'OK' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
