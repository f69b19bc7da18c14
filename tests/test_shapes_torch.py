"""Shapes and parameter counts against PyTorch on randomized configurations.

Each case builds the same layer in layercalc and in torch.nn; both must agree on the
output shape and the parameter/buffer counts, and layercalc must refuse exactly the
configurations torch refuses. Skipped cleanly when torch is not installed.
"""

import random
import warnings

import pytest

from layercalc.analyses.loading import analyse_bytes

torch = pytest.importorskip("torch")


def layercalc_layer(entry: str, shape):
    r = analyse_bytes(f"input: {list(shape)}\nlayers:\n  - {entry}\n".encode(), "t.yaml")
    return r.net.layers[0] if r.net else None


def torch_result(module, shape):
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = module(torch.zeros(shape))
    except (RuntimeError, ValueError, TypeError):
        return None
    return tuple(y.shape)


def counts(module):
    return (sum(p.numel() for p in module.parameters()), sum(b.numel() for b in module.buffers()))


def args_text(d):
    return (
        "{"
        + ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in d.items())
        + "}"
    )


def check(entry, module_factory, shape):
    try:
        module = module_factory()
    except (RuntimeError, ValueError, TypeError):
        module = None
    expected = torch_result(module, shape) if module is not None else None
    if expected is not None and 0 in expected:
        expected = None  # torch returns an empty tensor; SPEC.md makes a size below 1 an error
    layer = layercalc_layer(entry, shape)
    if expected is None:
        assert layer is None, f"torch refuses {entry} on {shape}, layercalc gives {layer.output}"
        return False
    assert layer is not None, f"layercalc refuses {entry} on {shape}; torch gives {expected}"
    assert layer.output == expected, entry
    assert (layer.params, layer.buffers) == counts(module), entry
    return True


def _conv_case(rng, dims, transpose):
    c_in = rng.choice([1, 2, 3, 4, 6, 8])
    g = rng.choice([1, 1, 2, 3])
    c_out = rng.choice([1, 2, 3, 4, 6, 8]) * (g if rng.random() < 0.8 else 1)
    k = [rng.randint(1, 5) for _ in range(dims)]
    s = [rng.randint(1, 3) for _ in range(dims)]
    p = [rng.randint(0, 3) for _ in range(dims)]
    d = [rng.randint(1, 2) for _ in range(dims)]
    size = [rng.randint(1, 12) for _ in range(dims)]
    kw = dict(
        out_channels=c_out,
        kernel_size=k,
        stride=s,
        padding=p,
        dilation=d,
        groups=g,
        bias=rng.random() < 0.5,
    )
    if transpose:
        kw["output_padding"] = [rng.randint(0, 2) for _ in range(dims)]
    elif rng.random() < 0.2:
        kw["padding"] = "same"
        if rng.random() < 0.7:
            kw["stride"] = 1
    shape = [rng.randint(1, 2), c_in] + size
    if rng.random() < 0.15:
        shape = shape[1:]  # unbatched
    return kw, c_in, shape


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("transpose", [False, True], ids=["conv", "conv_transpose"])
def test_random_convolutions(dims, transpose):
    rng = random.Random(1000 * dims + transpose)
    name = f"conv_transpose{dims}d" if transpose else f"conv{dims}d"
    cls = getattr(torch.nn, f"ConvTranspose{dims}d" if transpose else f"Conv{dims}d")
    agreed = 0
    for _ in range(120):
        kw, c_in, shape = _conv_case(rng, dims, transpose)
        entry = f"{name}: {args_text(kw)}"
        agreed += check(entry, lambda: cls(c_in, **kw), shape)
    assert agreed > 20  # the generator must exercise valid configurations too


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_random_pools(dims, kind):
    rng = random.Random(7 * dims + len(kind))
    cls = getattr(torch.nn, f"{kind.capitalize()}Pool{dims}d")
    agreed = 0
    for _ in range(150):
        k = [rng.randint(1, 5) for _ in range(dims)]
        kw = dict(
            kernel_size=k,
            stride=[rng.randint(1, 4) for _ in range(dims)],
            padding=[rng.randint(0, 2) for _ in range(dims)],
            ceil_mode=rng.random() < 0.6,
        )
        if kind == "max":
            kw["dilation"] = [rng.randint(1, 2) for _ in range(dims)]
        shape = [1, 2] + [rng.randint(1, 11) for _ in range(dims)]
        entry = f"{kind}_pool{dims}d: {args_text(kw)}"
        agreed += check(entry, lambda: cls(**kw), shape)
    assert agreed > 20


def test_random_adaptive_pools_and_upsample():
    rng = random.Random(3)
    for _ in range(60):
        dims = rng.randint(1, 3)
        out = [rng.choice([1, 2, 3, 5, None]) for _ in range(dims)]
        shape = [1, 2] + [rng.randint(1, 9) for _ in range(dims)]
        kind = rng.choice(["Avg", "Max"])
        cls = getattr(torch.nn, f"Adaptive{kind}Pool{dims}d")
        entry = (
            f"adaptive_{kind.lower()}_pool{dims}d: {{output_size: "
            f"{[('null' if v is None else v) for v in out]}}}".replace("'", "")
        )
        check(entry, lambda: cls(tuple(out)), shape)
        scale = rng.choice([0.5, 0.7, 1.5, 2, 3, 1.3])
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]
        check(
            f"upsample: {{scale_factor: {scale}, mode: {mode}}}",
            lambda: torch.nn.Upsample(scale_factor=scale, mode=mode),
            shape,
        )


def test_norms_and_reshapes_match_torch():
    cases = [
        ("batch_norm2d", torch.nn.BatchNorm2d(8), [2, 8, 3, 3]),
        ("batch_norm1d: {affine: false}", torch.nn.BatchNorm1d(8, affine=False), [2, 8]),
        ("instance_norm2d: {affine: true}", torch.nn.InstanceNorm2d(4, affine=True), [1, 4, 3, 3]),
        ("group_norm: {num_groups: 2}", torch.nn.GroupNorm(2, 8), [1, 8, 3]),
        ("layer_norm: {normalized_shape: [3, 3]}", torch.nn.LayerNorm([3, 3]), [2, 4, 3, 3]),
        ("prelu: {num_parameters: 4}", torch.nn.PReLU(4), [2, 4, 3]),
        ("pixel_shuffle: {upscale_factor: 3}", torch.nn.PixelShuffle(3), [1, 18, 2, 2]),
        ("pixel_unshuffle: {downscale_factor: 2}", torch.nn.PixelUnshuffle(2), [1, 2, 4, 6]),
        ("flatten: {start_dim: 2, end_dim: 3}", torch.nn.Flatten(2, 3), [1, 2, 3, 4, 5]),
        ("unflatten: {dim: 1, sizes: [2, -1]}", torch.nn.Unflatten(1, (2, -1)), [1, 8]),
        ("zero_pad2d: {padding: [1, 0, 2, 3]}", torch.nn.ZeroPad2d((1, 0, 2, 3)), [1, 2, 4, 4]),
        ("embedding: {num_embeddings: 10, embedding_dim: 3}", torch.nn.Embedding(10, 3), None),
    ]
    for entry, module, shape in cases:
        if shape is None:
            layer = layercalc_layer(entry, [2, 5])
            assert layer.output == tuple(module(torch.zeros(2, 5, dtype=torch.long)).shape)
            assert layer.params == counts(module)[0]
            continue
        assert check(entry, lambda: module, shape), entry


@pytest.mark.parametrize("kind", ["zero", "constant", "reflection", "replication", "circular"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_random_pads_of_any_rank_and_length(kind, dims):
    """ZeroPad/ConstantPad are F.pad(..., "constant"): any input rank, and a padding list
    of any even length pads that many trailing dims (ZeroPad2d on [5, 6], ConstantPad2d
    with [1, 2]); the other modes keep their ranks. Refused exactly where torch refuses,
    and the same values (verify's forward against the module's)."""
    from layercalc.analyses import verify

    rng = random.Random(dims * 10 + len(kind))
    cls = getattr(
        torch.nn,
        {"zero": "ZeroPad", "constant": "ConstantPad"}.get(kind, kind.title() + "Pad") + f"{dims}d",
    )
    for _ in range(40):
        rank = rng.randint(1, 5)
        shape = [rng.randint(1, 5) for _ in range(rank)]
        # circular crops that leave nothing to wrap are refused on purpose (torch reads
        # memory it never wrote): test_circular_crop_of_everything_is_refused
        low = 0 if kind == "circular" else -1
        padding = rng.choice(
            [
                rng.randint(0, 2),
                [rng.randint(low, 2) for _ in range(rng.choice([2, 4, 6, 8, 2 * dims, 3]))],
            ]
        )
        kw = {"padding": padding} | ({"value": 0.5} if kind == "constant" else {})
        entry = f"{kind}_pad{dims}d: {args_text(kw)}"
        factory = (lambda: cls(padding, 0.5)) if kind == "constant" else (lambda: cls(padding))
        if not check(entry, factory, shape):
            continue
        r = analyse_bytes(f"input: {shape}\nlayers:\n  - {entry}\n".encode(), "t.yaml")
        v = verify.run(r.net, seed=1, save=True)
        x = torch.from_numpy(v.arrays["input"])
        want = factory()(x).numpy()
        assert (v.arrays["output"] == want).all(), entry


def test_circular_crop_of_everything_is_refused():
    """CircularPad2d([-1, 0, -1, 1]) of a [.., 1, 2] map crops the one row and wraps 1
    around nothing: torch returns a map filled from memory it never wrote; layercalc
    refuses it, saying so."""
    r = analyse_bytes(
        b"input: [3, 3, 1, 2]\nlayers:\n  - circular_pad2d: {padding: [-1, 0, -1, 1]}\n", "t.yaml"
    )
    assert r.net is None
    (d,) = r.diagnostics
    assert d.code == "output-too-small" and "leaves nothing to wrap" in d.message
