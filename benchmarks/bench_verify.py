"""Time `layercalc verify` on ResNet-50 at 224x224 against PyTorch on the same network.

    python benchmarks/bench_verify.py [SPEC]      (default: specs/resnet50.yaml)

Each side runs in its own subprocess (so peak memory is that side's alone, read with
resource.getrusage). Imports are timed apart from the work. Printed, never asserted:

  whole job     layercalc: parse + seeded weights + checked forward pass
                torch:     build the model (its init draws the weights) + forward
  forward       NumPy forward with weights in hand vs torch's warm forward (best of 3)
  peak memory   max RSS of the process

Targets (issue 4): whole job no slower than torch, forward within 2x of torch's warm
forward, peak memory under 1 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common import ROOT, bench_env

LAYERCALC_SIDE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
from layercalc.analyses.loading import analyse
from layercalc.analyses import verify
imports = time.perf_counter() - t0

t = time.perf_counter()
r = analyse(sys.argv[1])
net = r.net
v = verify.run(net, seed=0)
job = time.perf_counter() - t
assert v.ok, [c.as_json() for c in v.failed][:3]

# the forward alone, weights in hand (best of 3 warm runs)
rng = np.random.default_rng(0)
x = verify._make_inputs(rng, np, np.float32, net)["input"]
ws = [{t.key: verify._fill(rng, np, np.float32, t, l) for t in l.tensors} for l in net.layers]
last = net.last_uses()
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    values = {"input": x}
    for i, (l, w) in enumerate(zip(net.layers, ws)):
        y = l.type.forward(l.args, [values[s] for s in l.inputs], w)
        values[l.ref] = y
        for s in set(l.inputs):
            if last.get(s) == i:
                values.pop(s, None)
    best = min(best, time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"imports": imports, "job": job, "forward": best,
                  "peak": peak, "estimate": v.estimate, "layers": len(net.layers)}))
"""

# peak memory of the job alone: a separate process that only runs verify
LAYERCALC_PEAK = r"""
import json, resource, sys
from layercalc.analyses.loading import analyse
from layercalc.analyses import verify
v = verify.run(analyse(sys.argv[1]).net, seed=0)
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "ok": v.ok}))
"""

TORCH_SIDE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import torch
imports = time.perf_counter() - t0

sys.path.insert(0, 'tests')
from torch_models import MODELS  # the ResNet-50 the spec is checked against

t = time.perf_counter()
torch.manual_seed(0)
model = MODELS["resnet50"]().eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    model(x)
job = time.perf_counter() - t
params = sum(p.numel() for p in model.parameters())
best = 1e9
with torch.no_grad():
    for _ in range(3):
        t = time.perf_counter()
        model(x)
        best = min(best, time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"imports": imports, "job": job, "forward": best, "peak": peak,
                  "params": params, "threads": torch.get_num_threads()}))
"""


def side(code: str, *args) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=bench_env(),
    )
    if out.returncode:
        raise SystemExit(f"benchmark subprocess failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main(argv) -> int:
    spec = Path(argv[1]) if len(argv) > 1 else ROOT / "specs" / "resnet50.yaml"
    if not spec.exists():
        print(f"skipped: {spec} does not exist (pass a ResNet-50 spec as the argument)")
        return 0
    import importlib.util

    # never import torch here: a child's ru_maxrss starts from its parent's at fork
    if importlib.util.find_spec("torch") is None:
        print("skipped: torch is not installed (pip install torch)")
        return 0
    lc = side(LAYERCALC_SIDE, spec)
    lc_peak = side(LAYERCALC_PEAK, spec)
    th = side(TORCH_SIDE)
    print(f"ResNet-50 at 224x224, {lc['layers']} layers ({spec}); torch threads {th['threads']}")
    print(f"{'':14}{'layercalc':>12}{'torch':>12}{'ratio':>9}   target")
    rows = (
        ("imports", lc["imports"], th["imports"], ""),
        ("whole job", lc["job"], th["job"], "<= 1.00"),
        ("forward", lc["forward"], th["forward"], "<= 2.00"),
    )
    for name, a, b, target in rows:
        print(f"{name:14}{a:>11.3f}s{b:>11.3f}s{a / b:>9.2f}   {target}")
    print(
        f"{'peak memory':14}{mib(lc_peak['peak']):>12}{mib(th['peak']):>12}"
        f"{lc_peak['peak'] / th['peak']:>9.2f}   layercalc < 1024 MiB"
    )
    print(f"layercalc's own estimate of its forward-pass arrays: {mib(lc['estimate'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
