"""`layercalc export` and `layercalc import torch` of ResNet-50 (issue 18, target 5:
each under 0.5 s beyond torch's own import).

export writes a PyTorch module without importing torch, so its whole run is what it
adds; import torch pays `import torch, torchvision` first, measured in the same run as
the baseline (bench_import.py's command). The import row is skipped without torch.
Usage: python benchmarks/bench_export.py [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util

from common import PY, best_of, layercalc

TARGET = 0.5  # seconds beyond torch's own import


def measure(runs: int) -> dict:
    out = {"export": best_of(layercalc("export", "specs/resnet50.yaml"), runs)}
    out["shape"] = best_of(layercalc("shape", "specs/resnet50.yaml", "--format", "json"), runs)
    if importlib.util.find_spec("torch") and importlib.util.find_spec("torchvision"):
        out["torch"] = best_of([PY, "-c", "import torch, torchvision"], runs)
        out["import"] = best_of(
            layercalc("import", "torch", "torchvision.models:resnet50", "--input", "1,3,224,224"),
            runs,
        )
    return out


def report(t: dict) -> list:
    rows = [
        (
            f"`export` ResNet-50 < {TARGET} s",
            f"{t['export']:.3f} s ({t['export'] / t['shape']:.2f}x shape --format json, "
            f"{t['shape']:.3f} s)",
            t["export"] < TARGET,
        )
    ]
    if "import" in t:
        extra = t["import"] - t["torch"]
        rows.append(
            (
                f"`import torch` ResNet-50 < {TARGET} s beyond torch",
                f"{extra:.3f} s beyond ({t['import']:.3f} s vs import torch, torchvision "
                f"{t['torch']:.3f} s: {t['import'] / t['torch']:.2f}x)",
                extra < TARGET,
            )
        )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for target, measured, met in report(measure(args.runs)):
        print(f"{target:42} {measured:60} {'OK' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
