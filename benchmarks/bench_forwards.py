"""`verify`'s forward pass against PyTorch's on every kind of network in specs/.

    python benchmarks/bench_forwards.py [NAME ...]   (default: every network below)

For each spec, two subprocesses (so neither side's imports or memory touch the other):

  layercalc  analyse + `verify.run` (seeded weights and the checked forward: the job),
             then the NumPy forward alone with the weights in hand (best of 3)
  torch      the same network (torchvision's model, or the copy in tests/torch_models.py),
             on the same input arrays, warm forward under no_grad (best of 3), with
             torch's threads set to the machine's core count (at most 2 here)

Printed, never asserted: each time and the ratio layercalc / torch, beside issue 18's
target (forward within 1.5x of torch's warm forward). These machines are noisy: compare
ratios measured in the same run, not seconds across runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, bench_env

# spec name -> how the torch side builds the model: ("torchvision", fn) or ("twin", name)
NETWORKS = {
    "resnet50": ("torchvision", "resnet50"),
    "densenet121": ("torchvision", "densenet121"),
    "efficientnet_b0": ("torchvision", "efficientnet_b0"),
    "mobilenet_v3_large": ("torchvision", "mobilenet_v3_large"),
    "pix2pix_unet": ("twin", "pix2pix_unet"),
    "dcgan_generator": ("twin", "dcgan_generator"),
    "vit_b_16": ("torchvision", "vit_b_16"),
    "gpt2_small": ("twin", "gpt2_small"),
    "transformer_classifier": ("twin", "transformer_classifier"),
    "lstm_text_classifier": ("twin", "lstm_text_classifier"),
    "gru_encoder": ("twin", "gru_encoder"),
}

LAYERCALC_SIDE = r"""
import json, sys, time
import numpy as np
from layercalc.analyses.loading import analyse
from layercalc import verify

spec, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
net = analyse(spec).net
v = verify.run(net, seed=0)
job = time.perf_counter() - t
assert v.ok, [c.as_json() for c in v.failed][:3]

rng = np.random.default_rng(0)
inputs = verify._make_inputs(rng, np, np.float32, net)
ws = [{t.key: verify._fill(rng, np, np.float32, t, l) for t in l.tensors} for l in net.layers]
for l, w in zip(net.layers, ws):  # tied tensors: the earlier layer's array
    for key, target, _ in l.ties:
        w[key] = next(ws[j][t2.key] for j, l2 in enumerate(net.layers)
                      for t2 in l2.tensors if l2.state_key(t2.key) == target)
for i, l in enumerate(net.layers):
    if l.shares is not None:
        ws[i] = ws[l.shares]
last = verify._last_uses(net)
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    values = dict(inputs)
    for i, (l, w) in enumerate(zip(net.layers, ws)):
        y = l.type.forward(l.args, [values[s] for s in l.inputs], w)
        ys = list(y) if l.named_outputs is not None else [y]
        for (ref, _), arr in zip(l.produced(), ys):
            values[ref] = arr
        for s in set(l.inputs):
            if last.get(s) == i:
                values.pop(s, None)
    best = min(best, time.perf_counter() - t)
state = {}
for l, w in zip(net.layers, ws):
    for k, arr in w.items():
        state[l.state_key(k)] = arr
np.savez(out, **{"input:" + k: v for k, v in inputs.items()},
         **{"state:" + k: v for k, v in state.items()})
print(json.dumps({"job": job, "forward": best, "layers": len(net.layers),
                  "inputs": list(inputs)}))
"""

TORCH_SIDE = r"""
import json, os, sys, time
import numpy as np
import torch
kind, name, data, order = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
torch.set_num_threads(min(2, os.cpu_count() or 1))
if kind == "torchvision":
    import torchvision
    model = getattr(torchvision.models, name)(weights=None)
else:
    sys.path.insert(0, "tests")
    from torch_models import MODELS
    model = MODELS[name]()
model.eval()
with np.load(data) as z:
    xs = [torch.from_numpy(np.ascontiguousarray(z["input:" + r])) for r in order]
    state = {k[len("state:"):]: torch.from_numpy(np.ascontiguousarray(z[k]))
             for k in z.files if k.startswith("state:")}
own = model.state_dict()
model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items() if k in own},
                      strict=False)
best = 1e9
with torch.no_grad():
    model(*xs)
    for _ in range(3):
        t = time.perf_counter()
        model(*xs)
        best = min(best, time.perf_counter() - t)
print(json.dumps({"forward": best, "threads": torch.get_num_threads()}))
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
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv) -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("skipped: torch is not installed (pip install torch)")
        return 0
    names = argv[1:] or list(NETWORKS)
    print(
        f"{'network':24}{'layers':>7}{'verify job':>12}{'forward':>10}"
        f"{'torch fwd':>11}{'ratio':>8}   target <= 1.50"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            spec = ROOT / "specs" / f"{name}.yaml"
            if name not in NETWORKS or not spec.exists():
                print(f"{name:24}skipped: no spec or no torch model")
                continue
            data = Path(tmp) / f"{name}.npz"
            try:
                lc = side(LAYERCALC_SIDE, spec, data)
                th = side(TORCH_SIDE, *NETWORKS[name], data, json.dumps(lc["inputs"]))
            except RuntimeError as exc:
                print(f"{name:24}failed: {exc}")
                continue
            ratio = lc["forward"] / th["forward"]
            print(
                f"{name:24}{lc['layers']:>7}{lc['job']:>11.3f}s{lc['forward']:>9.3f}s"
                f"{th['forward']:>10.3f}s{ratio:>8.2f}"
            )
            if data.exists():
                os.unlink(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
