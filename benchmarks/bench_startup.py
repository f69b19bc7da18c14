"""Start-up: `layercalc shape` against the bare imports it cannot avoid (issue 8, target 1).

Prints the best-of-N wall time of each command, measured in this run, and the ratios:
  table output      <= 1.5x  python -c "import yaml, click, rich.console, rich.table"
                             (printed to a pseudo-terminal, as at a prompt; also piped)
  --format json     <= 0.7x  the same baseline (rich and numpy are not imported)
  torchinfo summary >= 15x slower than layercalc (only when torch and torchinfo exist)
Commands run as an installed tool runs (bytecode cached; see common.py).
Usage: python benchmarks/bench_startup.py [--runs 15] [--spec specs/resnet50.yaml]
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from common import PY, ROOT, best_of, layercalc

TORCHINFO = (
    "import sys, torch, torchinfo; sys.path.insert(0, 'tests');"
    "from torch_models import MODELS;"  # the ResNet-50 the spec is checked against
    "torchinfo.summary(MODELS['resnet50'](), (1, 3, 224, 224), depth=3)"
)  # printed


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--spec", default="specs/resnet50.yaml")
    args = ap.parse_args()
    spec = args.spec if (ROOT / args.spec).exists() else "specs/dcgan_discriminator.yaml"
    base = best_of([PY, "-c", "import yaml, click, rich.console, rich.table"], args.runs)
    terminal = os.name == "posix"  # the default table as a user sees it: rich, in colour
    table = best_of(layercalc("shape", spec), args.runs, terminal=terminal)
    piped = best_of(layercalc("shape", spec), args.runs)
    js = best_of(layercalc("shape", spec, "--format", "json"), args.runs)
    print(f"spec: {spec}")
    print(f"baseline imports      {base * 1000:7.1f} ms")
    where = "in a terminal" if terminal else "piped"
    print(
        f"shape (table)         {table * 1000:7.1f} ms   ratio {table / base:.2f}  "
        f"(target <= 1.5)  {verdict(table / base <= 1.5)}  {where}"
    )
    print(
        f"shape | cat (table)   {piped * 1000:7.1f} ms   ratio {piped / base:.2f}  "
        f"(plain text, no colour: rich is not imported)"
    )
    print(
        f"shape --format json   {js * 1000:7.1f} ms   ratio {js / base:.2f}  "
        f"(target <= 0.7)  {verdict(js / base <= 0.7)}"
    )
    if not (importlib.util.find_spec("torch") and importlib.util.find_spec("torchinfo")):
        print("torchinfo comparison skipped: torch and torchinfo are not both installed")
        return
    ti = best_of([PY, "-c", TORCHINFO], max(3, args.runs // 5), terminal=terminal)
    print(
        f"torchinfo summary     {ti * 1000:7.1f} ms   layercalc's table is {ti / table:.1f}x "
        f"faster (target >= 15)  {verdict(ti / table >= 15)}"
    )


if __name__ == "__main__":
    main()
