"""The spec library against the same networks written in PyTorch.

The models (tests/torch_models.py) are compact hand copies of torchvision's definitions
(or of the PyTorch tutorials'), keeping their module names. For every spec: parameter
and buffer totals, the state_dict (every key, every shape), the output shape of a real
forward pass and, through forward hooks, the output shape of every module whose name is
also a layercalc layer. Skipped when torch is not installed.
"""
from functools import lru_cache
from pathlib import Path

import pytest

from layercalc.analyse import analyse

torch = pytest.importorskip("torch")
from torch_models import MODELS  # noqa: E402 - only once torch is known to be there

pytestmark = pytest.mark.torch
SPECS = Path(__file__).resolve().parent.parent / "specs"


# the numbers torchvision documents for its models (num_params)
PUBLISHED = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512,
             "resnet50": 25_557_032, "mobilenet_v2": 3_504_872,
             "dcgan_generator": 3_576_704, "dcgan_discriminator": 2_765_568,
             "lenet5": 61_706, "audio_cnn_1d": 26_915}


def test_every_spec_has_a_torch_model():
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(MODELS)


@lru_cache(maxsize=None)
def spec(name):
    r = analyse(str(SPECS / f"{name}.yaml"))
    assert r.ok, r.diagnostics
    return r.net


@lru_cache(maxsize=None)
def model(name):
    torch.manual_seed(0)
    return MODELS[name]().eval()


@lru_cache(maxsize=None)
def run(name):
    """Forward the spec's input through the torch model; record every module's output."""
    m, net = model(name), spec(name)
    seen = {}

    def recorder(name):
        def hook(module, args, out):  # must return None, else it replaces the output
            seen.setdefault(name, tuple(out.shape))  # first call (ResNet reuses `relu`)
        return hook

    hooks = [mod.register_forward_hook(recorder(n)) for n, mod in m.named_modules() if n]
    try:
        with torch.no_grad():
            y = m(torch.randn(*net.input))
    finally:
        for h in hooks:
            h.remove()
    return tuple(y.shape), seen


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_and_buffer_totals(name):
    m, t = model(name), spec(name).totals()
    params = sum(p.numel() for p in m.parameters())
    buffers = sum(b.numel() for b in m.buffers())
    assert params == t["params"]
    assert buffers == t["buffers"]
    if name in PUBLISHED:
        assert params == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_keys_and_shapes(name):
    torch_sd = {k: tuple(v.shape) for k, v in model(name).state_dict().items()}
    ours = {}
    for layer in spec(name).layers:
        for t in layer.tensors:
            key = f"{layer.name}.{t.key}"
            assert key not in ours, f"duplicate key {key}"
            ours[key] = tuple(t.shape)
    assert set(ours) == set(torch_sd), (sorted(set(ours) - set(torch_sd))[:5],
                                        sorted(set(torch_sd) - set(ours))[:5])
    assert ours == torch_sd


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_shapes(name):
    out, seen = run(name)
    net = spec(name)
    assert [tuple(s) for s in net.outputs.values()] == [out]
    ours = {l.name: tuple(l.output) for l in net.layers}
    # blocks and sequentials are modules too (layer1.0, features.3, encoder, ...)
    ours.update((g.name, tuple(g.output)) for g in net.groups)
    common = set(ours) & set(seen)
    # every layer holding parameters has a torch counterpart whose output we compare
    with_params = {l.name for l in net.layers if l.tensors}
    assert with_params <= common
    mismatched = {n: (ours[n], seen[n]) for n in common if ours[n] != seen[n]}
    assert not mismatched
    assert len(common) >= len(with_params)


def test_hooks_sample_resnet50():
    # a readable sample of what test_forward_shapes checks wholesale
    _, seen = run("resnet50")
    assert seen["conv1"] == (1, 64, 112, 112)
    assert seen["maxpool"] == (1, 64, 56, 56)
    assert seen["layer1.0.downsample.0"] == (1, 256, 56, 56)
    assert seen["layer3.5.bn3"] == (1, 1024, 14, 14)
    assert seen["layer4.2.conv2"] == (1, 512, 7, 7)
    assert seen["avgpool"] == (1, 2048, 1, 1)
