"""`layercalc import torch torchvision.models:resnet50` beyond `import torch` (issue 16).

Prints the best-of-N wall time of the import command and of the bare baseline
(`python -c "import torch, torchvision"`, what any torch tool pays first), the
difference (target: < 2 s) and the ratio. Needs torch and torchvision.
Usage: python benchmarks/bench_import.py [--runs 3] [--model resnet50]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from common import PY, best_of, layercalc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default="resnet50")
    args = ap.parse_args()
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
        print(
            "skipped: torch and torchvision are needed (pip install 'layercalc[torch]' torchvision)"
        )
        return 0
    base = best_of([PY, "-c", "import torch, torchvision"], args.runs)
    cmd = layercalc(
        "import", "torch", f"torchvision.models:{args.model}", "--input", "1,3,224,224"
    )  # fmt: skip
    full = best_of(cmd, args.runs)
    extra = full - base
    print(f"import torch, torchvision        {base:7.3f} s")
    print(f"layercalc import torch {args.model:9s} {full:7.3f} s")
    print(
        f"beyond import torch              {extra:7.3f} s  (target < 2 s: "
        f"{'OK' if extra < 2.0 else 'MISSED'})"
    )
    print(f"ratio                            {full / base:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
