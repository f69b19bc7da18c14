"""Sizing a language model from its config.json (issue 19: "sizing any of these configs
takes under 0.3 s").

For each published config of tests/test_llm.py (Llama-3-8B, Mistral-7B-v0.1,
Qwen2.5-0.5B, GPT-2, BERT-base, in bf16), measured in this run, best of N:
  import    `layercalc import hf config.json -o spec.yaml`
  cost      `layercalc cost spec.yaml --context N --batch 1 --format json` (N = 8,192, or
            the model's position limit: GPT-2 1,024, BERT 512)
  sizing    import + cost, as wall time, and beyond the baseline
            `python -c "import yaml, click, rich"` (what any such CLI pays to start), with
            the ratio to that baseline
  in-process  the analysis alone (load + build + generation figures), no interpreter
            start: the target 0.3 s is checked on this and on the cost command beyond
            the baseline.
Commands run as an installed tool runs (bytecode cached; see common.py).
Usage: python benchmarks/bench_llm.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import PY, ROOT, best_of, layercalc

TARGET = 0.3
CONTEXT = {"GPT-2": 1024, "BERT-base": 512}


def in_process(text: str, context: int, runs: int) -> float:
    from layercalc.analyses.generation import generation
    from layercalc.analyses.loading import analyse_bytes

    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        net = analyse_bytes(text.encode(), "spec.yaml").net
        generation(net, context, 1, 1)
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from test_llm import CONFIGS

    from layercalc.importers.hf import convert

    base = best_of([PY, "-c", "import yaml, click, rich"], args.runs)
    print(f"baseline python -c 'import yaml, click, rich'   {base * 1000:7.1f} ms")
    print(
        f"{'config':16s} {'context':>7s} {'import':>8s} {'cost':>8s} {'sizing':>8s} "
        f"{'beyond':>8s} {'ratio':>6s} {'in-proc':>8s}  target {TARGET} s"
    )
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (cfg, _) in CONFIGS.items():
            cfg = {**cfg, "torch_dtype": "bfloat16"}
            context = CONTEXT.get(name, 8192)
            src = Path(tmp) / f"{name}.json"
            spec = Path(tmp) / f"{name}.yaml"
            src.write_text(json.dumps(cfg))
            imp = best_of(layercalc("import", "hf", src, "-o", spec), args.runs)
            cost = best_of(
                layercalc("cost", spec, "--context", context, "--batch", 1, "--format", "json"),
                args.runs,
            )
            inner = in_process(convert(cfg)[0], context, args.runs)
            sizing = imp + cost
            ok = inner < TARGET and cost - base < TARGET
            missed += not ok
            print(
                f"{name:16s} {context:7,d} {imp * 1000:6.0f}ms {cost * 1000:6.0f}ms "
                f"{sizing * 1000:6.0f}ms {(sizing - 2 * base) * 1000:6.0f}ms "
                f"{sizing / base:5.1f}x {inner * 1000:6.0f}ms  {'OK' if ok else 'MISSED'}"
            )
    print(
        "beyond = import + cost - 2 x baseline (each command starts its own interpreter); "
        "ratio = sizing / baseline; OK = in-process < target and cost - baseline < target"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
