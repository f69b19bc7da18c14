"""The hand-written twins of tests/torch_models.py against the networks they copy.

For torchvision's resnet152, densenet121, mobilenet_v3_large and efficientnet_b0 the twin
must be the same network: the same module names in the same order, the same leaf modules
(their repr carries eps, momentum, inplace, padding, dropout p), the same state_dict, and,
with torchvision's weights loaded into it (strict), the same output. pix2pix's U-Net
generator is not importable (its repository is not a package), so its twin is checked
against the parameter count computed from the repository's networks.py.
Skipped without torch; the torchvision comparisons are skipped without torchvision.
"""

from functools import lru_cache

import pytest

torch = pytest.importorskip("torch")
from torch_models import MODELS  # noqa: E402 - only once torch is known to be there

pytestmark = pytest.mark.torch

TORCHVISION = ["resnet152", "densenet121", "mobilenet_v3_large", "efficientnet_b0"]

# torchvision's documented num_params (the weights' meta in torchvision/models/*.py)
PUBLISHED = {
    "resnet152": 60_192_808,
    "densenet121": 7_978_856,
    "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
}


def _pair(name):
    pytest.importorskip("torchvision")
    return _built(name)


@lru_cache(maxsize=None)
def _built(name):
    import torchvision as tv

    torch.manual_seed(0)
    ref = getattr(tv.models, name)(weights=None).eval()
    torch.manual_seed(1)
    return ref, MODELS[name]().eval()


def _leaves(m):
    return [(n, mod) for n, mod in m.named_modules() if n and next(mod.children(), None) is None]


@pytest.mark.parametrize("name", TORCHVISION)
def test_module_names_and_leaves(name):
    ref, twin = _pair(name)
    assert [n for n, _ in twin.named_modules()] == [n for n, _ in ref.named_modules()]
    # same leaf classes and settings (BatchNorm eps/momentum, ReLU inplace, Dropout p, ...)
    assert [(n, repr(mod)) for n, mod in _leaves(twin)] == [
        (n, repr(mod)) for n, mod in _leaves(ref)
    ]


@pytest.mark.parametrize("name", TORCHVISION)
def test_state_dict_and_totals(name):
    ref, twin = _pair(name)
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in ref.state_dict().items()}
    assert list(twin.state_dict()) == list(shapes)
    assert {k: (tuple(v.shape), v.dtype) for k, v in twin.state_dict().items()} == shapes
    for count in (
        lambda m: sum(p.numel() for p in m.parameters()),
        lambda m: sum(b.numel() for b in m.buffers()),
    ):
        assert count(twin) == count(ref)
    assert sum(p.numel() for p in twin.parameters()) == PUBLISHED[name]


@pytest.mark.parametrize("name", TORCHVISION)
def test_same_output_with_the_same_weights(name):
    ref, twin = _pair(name)
    # torchvision's init leaves batch norm at weight 1, bias 0, mean 0, var 1: perturb the
    # norms and biases (seeded) so that every tensor takes part in the comparison
    g = torch.Generator().manual_seed(2)
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    for k, v in state.items():
        if not v.is_floating_point():
            continue
        if k.endswith("running_var") or (k.endswith("weight") and v.ndim == 1):
            v.copy_(torch.rand(v.shape, generator=g) + 0.5)
        elif k.endswith(("running_mean", "bias")):
            v.copy_(torch.randn(v.shape, generator=g) * 0.1)
    ref.load_state_dict(state, strict=True)
    twin.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want, got = ref(x.clone()), twin(x.clone())
    assert got.shape == want.shape == (1, 1000)
    assert torch.isfinite(want).all()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_stochastic_depth_twin(mode, p):
    tv = pytest.importorskip("torchvision")
    from torch_models import StochasticDepth

    ref, twin = tv.ops.StochasticDepth(p, mode), StochasticDepth(p, mode)
    assert repr(twin) == repr(ref)
    x = torch.randn(8, 3, 4, 4)
    for training in (True, False):
        ref.train(training)
        twin.train(training)
        torch.manual_seed(5)
        want = ref(x)
        torch.manual_seed(5)
        torch.testing.assert_close(twin(x), want, rtol=0, atol=0)
        if not training:
            assert torch.equal(want, x)  # the identity at inference


def test_pix2pix_unet_parameter_count():
    # unet_256 as pix2pix builds it (--netG unet_256 --ngf 64 --norm batch, dropout on).
    # Computed from models/networks.py, block by block (outer_nc, inner_nc):
    #   outermost (3, 64): down conv 3*64*16, up convT 128*3*16 + 3 (its bias) =      9,219
    #   (64, 128):   conv 64*128*16 + BN 2*128 + convT 256*64*16 + BN 2*64 =          393,600
    #   (128, 256):  524,288 + 512 + 1,048,576 + 256 =                              1,573,632
    #   (256, 512):  2,097,152 + 1,024 + 4,194,304 + 512 =                          6,292,992
    #   3 x (512, 512) with Dropout(0.5): 3 * (4,194,304 + 1,024 + 8,388,608 + 1,024) = 37,754,880
    #   innermost (512, 512): conv 4,194,304 + convT 4,194,304 + BN 1,024 =         8,389,632
    # total 54,413,955, which the repository prints as "Total number of parameters : 54.414 M"
    # (%.3f M, base_model.print_networks). 54,414,776, the figure we were given, matches
    # no variant (instance norm gives 54,409,603, batch norm with conv biases 54,419,459).
    m = MODELS["pix2pix_unet"]()
    assert sum(p.numel() for p in m.parameters()) == 54_413_955
    # running_mean, running_var and num_batches_tracked of the 13 batch norms in the
    # network (4,928 channels); the outermost and innermost blocks build norms they never
    # register (norm_layer(...) is called for downnorm and upnorm in every block)
    assert sum(b.numel() for b in m.buffers()) == 2 * 4_928 + 13
    with torch.no_grad():
        y = m.eval()(torch.randn(1, 3, 256, 256))
    assert y.shape == (1, 3, 256, 256)
    assert (y.abs() <= 1).all()  # tanh


def test_pix2pix_unet_names():
    m = MODELS["pix2pix_unet"]()
    names = [n for n, _ in m.named_modules()]
    assert names[:6] == [
        "",
        "model",
        "model.model",
        "model.model.0",
        "model.model.1",
        "model.model.1.model",
    ]
    sd = m.state_dict()
    assert tuple(sd["model.model.0.weight"].shape) == (64, 3, 4, 4)
    assert "model.model.0.bias" not in sd
    assert tuple(sd["model.model.3.weight"].shape) == (128, 3, 4, 4)  # the outermost convT
    assert tuple(sd["model.model.3.bias"].shape) == (3,)
    inner = "model.model.1" + ".model.3" * 6  # the innermost block, 7 levels down
    assert [n for n, _ in getattr_path(m, inner).named_children()] == ["model"]
    assert [type(c).__name__ for c in getattr_path(m, inner + ".model").children()] == [
        "LeakyReLU",
        "Conv2d",
        "ReLU",
        "ConvTranspose2d",
        "BatchNorm2d",
    ]
    # the dropout blocks: levels 4-6 (model.model.1.model.3.model.3.model.3, ...)
    drops = [n for n, mod in m.named_modules() if isinstance(mod, torch.nn.Dropout)]
    assert len(drops) == 3 and all(n.endswith(".model.7") for n in drops)
    assert all(
        isinstance(mod, torch.nn.LeakyReLU) and mod.inplace
        for n, mod in m.named_modules()
        if n.endswith(".model.0") and n != "model.model.0"
    )


def getattr_path(m, path):
    for part in path.split("."):
        m = getattr(m, part)
    return m
