"""Scale: generated 5k/10k/100k-layer specs through `shape --format json` (issue 8, target 2).

Targets: 10,000 layers in under 0.5 s (whole process), time growing linearly
(10k / 5k ratio at most 2.4), and 100,000 layers completing without error.
Commands run as an installed tool runs (bytecode cached; see common.py).
Usage: python benchmarks/bench_scale.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from common import best_of, layercalc


def spec_text(n: int) -> str:
    lines = [f"name: generated {n}", "input: [1, 16, 32, 32]", "layers:"]
    for i in range(n // 2):
        lines.append("  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}")
        lines.append("  - relu")
    return "\n".join(lines) + "\n"


BLOCK = """blocks:
  basic:
    args: {channels: null}
    layers:
      - conv2d: {name: conv1, out_channels: channels, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn1}
      - relu
      - conv2d: {name: conv2, out_channels: channels, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn2}
      - add: {from: [bn2, input]}
      - relu
"""


def block_spec_text(n: int) -> str:
    """About n layers as a ResNet basic block (7 layers) repeated: block expansion at scale."""
    return (
        f"name: generated blocks {n}\ninput: [1, 16, 32, 32]\n{BLOCK}layers:\n"
        f"  - basic: {{channels: 16, repeat: {n // 7}}}\n"
    )


RECURSION = """input: [1, 4]
blocks:
  tree:
    args: {d: null}
    layers:
      - relu
      - tree: {d: d - 1, when: d > 0}
      - tree: {d: d - 1, when: d > 0}
layers:
  - tree: {d: 40}
"""


def timed(path, runs, fmt="json", warm_up=True, code=0):
    return best_of(layercalc("shape", path, "--format", fmt), runs, warm_up, code=code)


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
        blocks = os.path.join(tmp, "blocks10k.yaml")
        with open(blocks, "w") as fh:
            fh.write(block_spec_text(10_000))
        t5 = timed(paths[5_000], args.runs)
        tb = timed(blocks, args.runs)
        t10 = timed(paths[10_000], args.runs)
        t100 = timed(paths[100_000], 1, warm_up=False)
        rec = os.path.join(tmp, "recursion.yaml")
        with open(rec, "w") as fh:
            fh.write(RECURSION)
        small = os.path.join(tmp, "small.yaml")
        with open(small, "w") as fh:
            fh.write(spec_text(12))
        trec = timed(rec, args.runs, code=1)  # the time of the refusal (exit 1)
        tsmall = timed(small, args.runs)
        table100 = timed(paths[100_000], 1, "table", warm_up=False)
    print(f" 5,000 layers  {t5:6.2f} s")
    print(f"10,000 layers  {t10:6.2f} s   (target < 0.5 s)  {'OK' if t10 < 0.5 else 'MISSED'}")
    print(f"10,000 layers  {tb:6.2f} s   as 1,428 uses of a 7-layer block")
    print(
        f"ratio 10k/5k   {t10 / t5:6.2f}     (target <= 2.4)  {'OK' if t10 / t5 <= 2.4 else 'MISSED'}"
    )
    print(f"100,000 layers {t100:6.2f} s json, {table100:.2f} s table (must complete: OK)")
    print(
        f"2**40-layer recursion refused in {trec:.2f} s, {trec / tsmall:.2f}x a 12-layer "
        f"spec's whole run (target: well under 1 s)  {'OK' if trec < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
