"""`verify`'s forward pass against PyTorch's on every kind of network issue 18 names.

    python benchmarks/bench_forwards.py [NAME ...] [--types] [--repeat N] [--base DIR]

(default: every network below). --types prints where the job's time went, by layer type;
--repeat N runs each side N times, interleaved, and keeps the least times (these machines
are noisy); --base DIR also times the job of another copy of layercalc (DIR holds its
package, e.g. `git archive HEAD layercalc | tar -x -C DIR`), in the same run, for a
before/after comparison.

For each network, subprocesses (so neither side's imports or memory touch the other):

  layercalc  analyse + `verify.run` (seeded weights and the checked forward: the job),
             then the NumPy forward alone with the weights in hand (best of 3)
  torch      the same network (torchvision's model, or the copy in tests/torch_models.py),
             on the same input arrays, warm forward under no_grad (best of 3), with
             torch's threads set to the machine's core count (at most 2 here)
  processes  the whole `python -m layercalc verify SPEC` process, beside a whole torch
             process that imports torch, builds the model (its init draws the
             weights) and runs one forward under no_grad (best of 2 each)

Printed, never asserted: each time and the ratio layercalc job / torch warm forward,
beside issue 18's target (weights + forward within 1.5x of torch's warm forward, and
the whole verify process faster than torch's). These machines are noisy: compare
ratios measured in the same run, not seconds across runs.

The 3-D conv net is torchvision's R3D-18 (torchvision.models.video.r3d_18), written
below as a spec with torchvision's module names, since specs/ holds no 3-D network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PY, ROOT, bench_env

# network -> (spec: a file in specs/ or the YAML text, how torch builds the model:
# ("torchvision", "module.fn") or ("twin", name) from tests/torch_models.py)
NETWORKS = {
    "resnet50": ("resnet50", ("torchvision", "resnet50")),
    "densenet121": ("densenet121", ("torchvision", "densenet121")),
    "efficientnet_b0": ("efficientnet_b0", ("torchvision", "efficientnet_b0")),
    "mobilenet_v3_large": ("mobilenet_v3_large", ("torchvision", "mobilenet_v3_large")),
    "pix2pix_unet": ("pix2pix_unet", ("twin", "pix2pix_unet")),
    "dcgan_generator": ("dcgan_generator", ("twin", "dcgan_generator")),
    "r3d_18": ("R3D_18", ("torchvision", "video.r3d_18")),
    "vit_b_16": ("vit_b_16", ("torchvision", "vit_b_16")),
    "lstm_text_classifier": ("lstm_text_classifier", ("twin", "lstm_text_classifier")),
    "transformer_classifier": ("transformer_classifier", ("twin", "transformer_classifier")),
}

R3D_18 = """\
name: R3D-18
description: torchvision.models.video.r3d_18 (Tran et al. 2018), 16 frames of 112x112
input: [1, 3, 16, 112, 112]
blocks:
  basic:                # torchvision.models.video.resnet.BasicBlock with Conv3DSimple
    args: {planes: null, stride: 1, down: false}
    layers:
      - sequential:
          name: conv1
          layers:
            - conv3d: {out_channels: planes, kernel_size: 3, stride: stride, padding: 1,
                       bias: false}
            - batch_norm3d
            - relu: {inplace: true}
      - sequential:
          name: conv2
          layers:
            - conv3d: {out_channels: planes, kernel_size: 3, padding: 1, bias: false}
            - batch_norm3d
      - sequential:
          name: downsample
          from: input
          when: down
          layers:
            - conv3d: {out_channels: planes, kernel_size: 1, stride: stride, bias: false}
            - batch_norm3d
      - add: {from: [conv2, downsample], when: down}
      - add: {from: [conv2, input], when: not down}
      - relu: {name: relu, inplace: true}
layers:
  - sequential:
      name: stem
      layers:
        - conv3d: {out_channels: 64, kernel_size: [3, 7, 7], stride: [1, 2, 2],
                   padding: [1, 3, 3], bias: false}
        - batch_norm3d
        - relu: {inplace: true}
  - sequential: {name: layer1, layers: [basic: {planes: 64}, basic: {planes: 64}]}
  - sequential:
      name: layer2
      layers: [basic: {planes: 128, stride: 2, down: true}, basic: {planes: 128}]
  - sequential:
      name: layer3
      layers: [basic: {planes: 256, stride: 2, down: true}, basic: {planes: 256}]
  - sequential:
      name: layer4
      layers: [basic: {planes: 512, stride: 2, down: true}, basic: {planes: 512}]
  - adaptive_avg_pool3d: {name: avgpool, output_size: 1}
  - flatten: {name: flatten}
  - linear: {name: fc, out_features: 400}
expect: {output: [1, 400], params: 33371472}
"""

LAYERCALC_SIDE = r"""
import json, sys, time
try:  # as `layercalc verify` does before numpy loads (a --base copy may not have it)
    from layercalc.machine import let_blas_threads_sleep
    let_blas_threads_sleep()
except ImportError:
    pass
import numpy as np
from layercalc.analyses.loading import analyse
from layercalc.analyses import verify

spec, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
net = analyse(spec).net
v = verify.run(net, seed=0)
job = time.perf_counter() - t
assert v.ok, [c.as_json() for c in v.failed][:3]
by_type = {}
for c in v.checks:
    by_type[c.type] = by_type.get(c.type, 0.0) + c.seconds

rng = np.random.default_rng(0)
inputs = verify._make_inputs(rng, np, np.float32, net)
ws = [{t.key: verify._fill(rng, np, np.float32, t, lay) for t in lay.tensors}
      for lay in net.layers]
for lay, w in zip(net.layers, ws):  # tied tensors: the earlier layer's array
    for key, target, _ in lay.ties:
        w[key] = next(ws[j][t2.key] for j, l2 in enumerate(net.layers)
                      for t2 in l2.tensors if l2.state_key(t2.key) == target)
for i, lay in enumerate(net.layers):
    if lay.shares is not None:
        ws[i] = ws[lay.shares]
last = verify._last_uses(net)
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    values = dict(inputs)
    for i, (lay, w) in enumerate(zip(net.layers, ws)):
        y = lay.type.forward(lay.args, [values[s] for s in lay.inputs], w)
        ys = list(y) if lay.named_outputs is not None else [y]
        for (ref, _), arr in zip(lay.produced(), ys):
            values[ref] = arr
        for s in set(lay.inputs):
            if last.get(s) == i:
                values.pop(s, None)
    best = min(best, time.perf_counter() - t)
state = {}
for lay, w in zip(net.layers, ws):
    for k, arr in w.items():
        state[lay.state_key(k)] = arr
np.savez(out, **{"input:" + k: v for k, v in inputs.items()},
         **{"state:" + k: v for k, v in state.items()})
print(json.dumps({"job": job, "run": v.seconds, "forward": best, "layers": len(net.layers),
                  "inputs": list(inputs), "by_type": by_type}))
"""

TORCH_BUILD = r"""
def build(kind, name):
    if kind == "torchvision":
        import importlib
        mod, _, fn = ("torchvision.models." + name).rpartition(".")
        return getattr(importlib.import_module(mod), fn)(weights=None)
    sys.path.insert(0, "tests")
    from torch_models import MODELS
    return MODELS[name]()
"""

TORCH_SIDE = (
    r"""
import json, os, sys, time
import numpy as np
import torch
kind, name, data, order = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
torch.set_num_threads(min(2, os.cpu_count() or 1))
"""
    + TORCH_BUILD
    + r"""
model = build(kind, name)
model.eval()
with np.load(data) as z:
    xs = [torch.from_numpy(np.ascontiguousarray(z["input:" + r])) for r in order]
    state = {k[len("state:"):]: torch.from_numpy(np.ascontiguousarray(z[k]))
             for k in z.files if k.startswith("state:")}
own = model.state_dict()
missing = model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items() if k in own},
                                strict=False).missing_keys
assert not missing, missing[:5]
best = 1e9
with torch.no_grad():
    model(*xs)
    for _ in range(3):
        t = time.perf_counter()
        model(*xs)
        best = min(best, time.perf_counter() - t)
print(json.dumps({"forward": best, "threads": torch.get_num_threads()}))
"""
)

# the whole torch process: import, build (init draws the weights), one forward
TORCH_WHOLE = (
    r"""
import os, sys
import numpy as np
import torch
kind, name, data, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
torch.set_num_threads(min(2, os.cpu_count() or 1))
"""
    + TORCH_BUILD
    + r"""
model = build(kind, name).eval()
with np.load(data) as z:
    xs = [torch.from_numpy(np.ascontiguousarray(z["input:" + r])) for r in order]
with torch.no_grad():
    model(*xs)
"""
)


def side(code: str, *args, path: str | None = None) -> dict:
    env = bench_env()
    if path is not None:  # another copy of layercalc first on the path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [PY, "-c", code, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=path or ROOT,
        env=env,
    )
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wall(cmd, runs: int = 1) -> float:
    """The least wall time of ``runs`` runs of ``cmd`` (after an untimed warm-up)."""
    best = float("inf")
    for i in range(runs + 1):
        t = time.perf_counter()
        out = subprocess.run(cmd, check=False, capture_output=True, cwd=ROOT, env=bench_env())
        dt = time.perf_counter() - t
        if out.returncode:
            raise RuntimeError(out.stderr.decode().strip().splitlines()[-1])
        if i:
            best = min(best, dt)
    return best


def main(argv) -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("skipped: torch is not installed (pip install torch)")
        return 0
    args = argv[1:]
    detail = "--types" in args
    repeat, base = 1, None
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i : i + 2]
    if "--base" in args:
        i = args.index("--base")
        base = str(Path(args[i + 1]).resolve())
        del args[i : i + 2]
    names = [a for a in args if not a.startswith("--")] or list(NETWORKS)
    print(
        f"{'network':24}{'layers':>7}{'job':>9}{'forward':>9}{'torch':>9}"
        f"{'job/t':>7}{'<=1.5':>6}{'fwd/t':>7}{'verify':>9}{'torch':>8}{'<1':>4}"
        + (f"{'base job':>10}{'job/t':>7}" if base else "")
    )
    print(f"{'':24}{'':7}{'(weights + forward)':>25}{'':20}{'(whole processes)':>21}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name not in NETWORKS:
                print(f"{name:24}skipped: not a network of this benchmark")
                continue
            source, model = NETWORKS[name]
            spec = ROOT / "specs" / f"{source}.yaml"
            if not spec.exists():
                spec = Path(tmp) / f"{name}.yaml"
                spec.write_text(globals()[source])
            data = Path(tmp) / f"{name}.npz"
            try:
                lc = th = old = None
                for _ in range(repeat):  # interleaved, the least of each
                    if base:
                        got = side(LAYERCALC_SIDE, spec, data, path=base)
                        old = got if old is None or got["job"] < old["job"] else old
                    got = side(LAYERCALC_SIDE, spec, data)
                    if lc is None or got["job"] < lc["job"]:
                        lc = got
                    lc["forward"] = min(lc["forward"], got["forward"])
                    got = side(TORCH_SIDE, *model, data, json.dumps(lc["inputs"]))
                    th = got if th is None or got["forward"] < th["forward"] else th
                v_proc = wall([PY, "-m", "layercalc", "verify", spec])
                t_proc = wall([PY, "-c", TORCH_WHOLE, *model, data, ",".join(lc["inputs"])])
            except RuntimeError as exc:
                print(f"{name:24}failed: {exc}")
                continue
            finally:
                if data.exists():
                    os.unlink(data)
            ratio = lc["job"] / th["forward"]
            print(
                f"{name:24}{lc['layers']:>7}{lc['job']:>8.3f}s{lc['forward']:>8.3f}s"
                f"{th['forward']:>8.3f}s{ratio:>7.2f}{'yes' if ratio <= 1.5 else 'no':>6}"
                f"{lc['forward'] / th['forward']:>7.2f}{v_proc:>8.2f}s{t_proc:>7.2f}s"
                f"{'yes' if v_proc < t_proc else 'no':>4}"
                + (f"{old['job']:>9.3f}s{old['job'] / th['forward']:>7.2f}" if base else "")
            )
            if detail:
                top = sorted(lc["by_type"].items(), key=lambda kv: -kv[1])[:6]
                print(" " * 26 + ", ".join(f"{k} {v:.3f}s" for k, v in top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
