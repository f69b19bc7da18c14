"""The spec library against the same networks written in PyTorch.

The models (tests/torch_models.py) are compact hand copies of torchvision's definitions
(or of the PyTorch tutorials'), keeping their module names. For every spec: parameter
and buffer totals, the state_dict (every key, every shape), the output shape of a real
forward pass and, through forward hooks, the output shape of every module whose name is
also a layercalc layer. Skipped when torch is not installed.

The STRICT specs are checked harder, against torchvision's own models when torchvision
is installed (the twins of torch_models.py otherwise; pix2pix's U-Net is always its twin):
their leaf layers are exactly the torch leaf modules the forward calls (plus parameter-free
functional rows: concat, add, flatten, ...; and free `parameter` rows, each one of the
model's named_parameters() or named_buffers(), as ConvNeXt's `layer_scale`), a module
called n times (ResNet's `relu`) is n rows of one name whose output shapes must match the
calls in order, and `layercalc verify --save` arrays load into the torch model (strict)
and reproduce the saved output(s). A module returning several tensors (nn.LSTM's
`output, (h_n, c_n)`) is compared, flattened in order, against its row's named outputs; a
network fed token ids (an embedding reading a network input) gets int64 ids. A STRICT spec
not written yet skips its spec checks.
"""

import importlib
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.analyses.loading import analyse
from layercalc.cli import main

torch = pytest.importorskip("torch")
from torch_models import MODELS  # noqa: E402 - only once torch is known to be there

pytestmark = pytest.mark.torch
SPECS = Path(__file__).resolve().parent.parent / "specs"

STRICT = {
    "resnet152",
    "densenet121",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "pix2pix_unet",
    "convnext_tiny",
    "shufflenet_v2_x1_0",
    "lstm_text_classifier",
    "gru_encoder",
    "vit_b_16",
    "gpt2_small",
    "transformer_classifier",
}
# the STRICT names torchvision builds (pix2pix and the sequence models are no torchvision
# models: always their twins)
FROM_TORCHVISION = {
    "resnet152",
    "densenet121",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "convnext_tiny",
    "shufflenet_v2_x1_0",
    "vit_b_16",
}


def _torchvision():
    try:
        return importlib.import_module("torchvision")
    except ImportError:
        return None


def make_model(name):
    """A fresh torch model for spec `name`: torchvision's for the STRICT names it has (when
    torchvision is installed), else the hand-written one of torch_models.MODELS."""
    tv = _torchvision() if name in FROM_TORCHVISION else None
    if tv is not None:
        return getattr(tv.models, name)(weights=None)
    return MODELS[name]()


# the numbers torchvision documents for its models (num_params)
PUBLISHED = {
    "alexnet": 61_100_840,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "dcgan_generator": 3_576_704,
    "dcgan_discriminator": 2_765_568,
    "lenet5": 61_706,
    "audio_cnn_1d": 26_915,
    "resnet152": 60_192_808,
    "densenet121": 7_978_856,
    "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
    "convnext_tiny": 28_589_128,
    "shufflenet_v2_x1_0": 2_278_604,
    "vit_b_16": 86_567_656,
    # GPT-2 small as Hugging Face and nanoGPT count it: the head tied to wte
    "gpt2_small": 124_439_808,
    # pix2pix prints "54.414 M"; the exact count of its unet_256 with ngf 64 and
    # batch norm, worked out in test_torchvision_twins.py
    "pix2pix_unet": 54_413_955,
}


def test_every_spec_has_a_torch_model():
    specs = {p.stem for p in SPECS.glob("*.yaml")}
    assert specs <= set(MODELS)
    # a model without a spec yet: only the STRICT ones, whose specs are being written
    assert set(MODELS) - specs <= STRICT


def spec_path(name):
    path = SPECS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"specs/{name}.yaml does not exist yet")
    return path


@lru_cache(maxsize=None)
def _analysed(path):
    r = analyse(str(path))
    assert r.ok, r.diagnostics
    return r.net


def spec(name):
    return _analysed(spec_path(name))


@lru_cache(maxsize=None)
def model(name):
    torch.manual_seed(0)
    return make_model(name).eval()


def _flat(out) -> list:
    """The shapes of the tensors a module returns, flattened in order (None skipped)."""
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    return [shape for o in out if o is not None for shape in _flat(o)]


def _shape(out):
    """The shape of what a module returns: a tensor's shape, or for a module returning
    several tensors (nn.LSTM's `output, (h_n, c_n)`, nn.GRU's `output, h_n`) the tuple of
    their shapes, flattened in order; nn.MultiheadAttention's `(attn_output, None)` is
    its one tensor's shape."""
    flat = _flat(out)
    return flat[0] if len(flat) == 1 else tuple(flat)


def _row_shape(layer):
    """A row's output as _shape gives the module's: its shape, or the tuple of the shapes
    of its named outputs (`output`, `h_n`, `c_n`) for a type with several."""
    if layer.named_outputs is None:
        return tuple(layer.output)
    return tuple(tuple(s) for _, s in layer.named_outputs)


def _network_outputs(y):
    """What a torch model returns as the list of its output tensors."""
    if isinstance(y, torch.Tensor):
        return [y]
    return [t for o in y if o is not None for t in _network_outputs(o)]


def _index_inputs(net):
    """The network inputs (refs) that feed an embedding (token ids), each with the
    smallest num_embeddings it feeds."""
    refs = net.spec.input_refs()
    ids = {}
    for layer in net.layers:
        if layer.type.name == "embedding":
            for src in layer.inputs:
                if src in refs:
                    n = layer.args["num_embeddings"]
                    ids[src] = min(ids.get(src, n), n)
    return ids


def example_inputs(net):
    """Random inputs of the spec's shapes, in the spec's order (the model's forward
    arguments): int64 ids below num_embeddings where an input feeds an embedding, a
    boolean attention mask (never a whole row masked) where it is read as one, else
    float32 normal values."""
    from layercalc.analyses.verify import _mask_inputs

    ids, masks = _index_inputs(net), _mask_inputs(net)
    out = []
    for ref, shape in net.spec.input_refs().items():
        if ref in ids:
            out.append(torch.randint(0, ids[ref], tuple(shape), dtype=torch.int64))
        elif ref in masks:
            m = torch.rand(tuple(shape)) < 0.25
            m = ~m if masks[ref] else m
            m[..., 0] = masks[ref]
            out.append(m)
        else:
            out.append(torch.randn(*shape))
    return out


@lru_cache(maxsize=None)
def run(name):
    """Forward the spec's input through the torch model; record the output shape of
    every call of every module, in call order (ResNet's `relu` is called 3 times a block;
    a module the forward never calls, such as EfficientNet's stochastic_depth outside
    the residual blocks, gets no entry). Returns the shapes of the network's outputs (a
    list: one per tensor the model returns) and the calls."""
    m, net = model(name), spec(name)
    calls = defaultdict(list)

    def recorder(name):
        def hook(module, args, out):  # must return None, else it replaces the output
            calls[name].append(_shape(out))

        return hook

    hooks = [mod.register_forward_hook(recorder(n)) for n, mod in m.named_modules() if n]
    try:
        torch.manual_seed(1)
        with torch.no_grad():
            y = m(*example_inputs(net))
    finally:
        for h in hooks:
            h.remove()
    return [tuple(t.shape) for t in _network_outputs(y)], dict(calls)


def first_calls(name):
    """run(name) with the first call of each module only."""
    out, calls = run(name)
    return out, {n: shapes[0] for n, shapes in calls.items()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_and_buffer_totals(name):
    m = model(name)
    params = sum(p.numel() for p in m.parameters())
    buffers = sum(b.numel() for b in m.buffers())
    if name in PUBLISHED:  # checked before the spec, which may not exist yet
        assert params == PUBLISHED[name]
    t = spec(name).totals()
    assert params == t["params"]
    assert buffers == t["buffers"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_keys_and_shapes(name):
    torch_sd = {k: tuple(v.shape) for k, v in model(name).state_dict().items()}
    ours = {}
    for layer in spec(name).layers:
        for t in layer.tensors:
            key = layer.state_key(t.key)  # NAME.weight; a free parameter's is NAME itself
            assert key not in ours, f"duplicate key {key}"
            ours[key] = tuple(t.shape)
        for key, _, shape in layer.ties:  # a tied tensor: a second state_dict key
            key = layer.state_key(key)
            assert key not in ours, f"duplicate key {key}"
            ours[key] = tuple(shape)
    assert set(ours) == set(torch_sd), (
        sorted(set(ours) - set(torch_sd))[:5],
        sorted(set(torch_sd) - set(ours))[:5],
    )
    assert ours == torch_sd


@pytest.mark.parametrize("name", sorted(set(MODELS) - STRICT))
def test_forward_shapes(name):
    out, seen = first_calls(name)  # STRICT specs: test_strict_forward_shapes, every call
    net = spec(name)
    assert [tuple(s) for s in net.outputs.values()] == out
    ours = {layer.name: _row_shape(layer) for layer in net.layers}
    # blocks and sequentials are modules too (layer1.0, features.3, encoder, ...)
    ours.update((g.name, tuple(g.output)) for g in net.groups)
    common = set(ours) & set(seen)
    # every layer holding parameters has a torch counterpart whose output we compare
    with_params = {layer.name for layer in net.layers if layer.tensors}
    assert with_params <= common
    mismatched = {n: (ours[n], seen[n]) for n in common if ours[n] != seen[n]}
    assert not mismatched
    assert len(common) >= len(with_params)


def test_hooks_sample_resnet50():
    # a readable sample of what test_forward_shapes checks wholesale
    _, seen = first_calls("resnet50")
    assert seen["conv1"] == (1, 64, 112, 112)
    assert seen["maxpool"] == (1, 64, 56, 56)
    assert seen["layer1.0.downsample.0"] == (1, 256, 56, 56)
    assert seen["layer3.5.bn3"] == (1, 1024, 14, 14)
    assert seen["layer4.2.conv2"] == (1, 512, 7, 7)
    assert seen["avgpool"] == (1, 2048, 1, 1)


# -- the STRICT specs ----------------------------------------------------------------------


def _is_leaf(module):
    return next(module.children(), None) is None


def _holds(module) -> bool:
    return next(module.parameters(), None) is not None or next(module.buffers(), None) is not None


def _through_parent(modules, calls) -> set:
    """Leaf modules the forward never calls whose parent it calls and which hold tensors:
    the parent's forward reads them directly (nn.MultiheadAttention passes
    out_proj.weight to F.multi_head_attention_forward; out_proj is never called)."""
    return {
        n
        for n, mod in modules.items()
        if n and n not in calls and _is_leaf(mod) and _holds(mod) and n.rpartition(".")[0] in calls
    }


def _own_tensor_modules(modules) -> set:
    """Modules with submodules that also hold tensors of their own (nn.MultiheadAttention's
    in_proj_weight beside its out_proj): a spec row of that name holds those."""
    return {
        n
        for n, mod in modules.items()
        if n
        and not _is_leaf(mod)
        and (mod._parameters or mod._buffers)
        and any(v is not None for v in [*mod._parameters.values(), *mod._buffers.values()])
    }


def _free_tensor_rows(net):
    """The spec's free `parameter` rows (no module: the tensor is an attribute of the
    enclosing module, ConvNeXt's CNBlock.layer_scale), by name."""
    return {layer.name: layer for layer in net.layers if layer.type.name == "parameter"}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_free_parameters(name):
    """Each free `parameter` row is one of the torch model's own tensors: a
    named_parameters() entry (named_buffers() with `buffer: true`) of its name, its
    shape, and its output is that tensor; and it is no module."""
    m, net = model(name), spec(name)
    modules = dict(m.named_modules())
    params, buffers = dict(m.named_parameters()), dict(m.named_buffers())
    wrong = {}
    for n, layer in _free_tensor_rows(net).items():
        (t,) = layer.tensors
        held = (buffers if t.buffer else params).get(n)
        if n in modules or held is None:
            wrong[n] = "a module" if n in modules else "no such tensor"
        elif not (tuple(held.shape) == tuple(t.shape) == tuple(layer.output)):
            wrong[n] = (tuple(t.shape), tuple(layer.output), tuple(held.shape))
    assert not wrong, dict(list(wrong.items())[:10])


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_forward_shapes(name):
    """Every call of every module against the spec's rows of that name, in order: a module
    called n times is n rows of one name, a module never called is no row."""
    out, calls = run(name)
    m, net = model(name), spec(name)
    assert [tuple(s) for s in net.outputs.values()] == out
    modules = dict(m.named_modules())
    rows = defaultdict(list)
    through = _through_parent(modules, calls)
    for layer in net.layers:
        if layer.name in modules and layer.name not in through:
            rows[layer.name].append(_row_shape(layer))
    # every tensor-holding row is a module, or a free parameter (test_strict_free_parameters)
    assert {layer.name for layer in net.layers if layer.tensors} <= set(rows) | through | set(
        _free_tensor_rows(net)
    )
    mismatched = {
        n: (shapes, calls.get(n, []))
        for n, shapes in sorted(rows.items())
        if shapes != calls.get(n, [])
    }
    assert not mismatched, dict(list(mismatched.items())[:5])


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_group_outputs(name):
    """A block or sequential named as a torch module (layer1.0, features.3.block,
    features.denseblock1.denselayer1, model.model.1) gives what that module's forward
    returns, call by call."""
    _, calls = run(name)
    m, net = model(name), spec(name)
    modules = dict(m.named_modules())
    groups = defaultdict(list)
    for g in net.groups:
        # a ModuleDict or ModuleList (nanoGPT's transformer and h) has no forward: its
        # group holds its members, but there is no call to compare
        if g.name in modules and not isinstance(
            modules[g.name], (torch.nn.ModuleDict, torch.nn.ModuleList)
        ):
            groups[g.name].append(tuple(g.output))
    mismatched = {
        n: (shapes, calls.get(n, []))
        for n, shapes in sorted(groups.items())
        if shapes != calls.get(n, [])
    }
    assert not mismatched, dict(list(mismatched.items())[:5])


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_leaf_names(name):
    """The spec's rows named as torch modules are exactly the torch leaf modules the
    forward calls; the other rows are the forward's functional ops (concat, add, flatten,
    F.relu, ...) and hold no tensors."""
    m, net = model(name), spec(name)
    _, calls = run(name)
    modules = dict(m.named_modules())
    leaves = {n for n, mod in modules.items() if n and _is_leaf(mod)}
    # a leaf the forward never calls (EfficientNet's stochastic_depth in the blocks without a
    # residual) has no row: it must hold nothing, or the state_dict would miss it
    uncalled = leaves - set(calls)
    through = _through_parent(modules, calls)  # used by their parent: rows, not calls
    holding = {n for n in uncalled if _holds(modules[n])} - through
    assert not holding
    names = {layer.name for layer in net.layers}
    as_modules = {n for n in names if n in modules} - _own_tensor_modules(modules)
    called = (leaves - uncalled) | through
    assert as_modules == called, {
        "rows named as a torch container": sorted(as_modules - leaves)[:10],
        "rows of a module the forward never calls": sorted(as_modules & uncalled)[:10],
        "called leaf modules without a row": sorted(called - as_modules)[:10],
    }
    functional = {layer.name for layer in net.layers if layer.name not in modules and layer.tensors}
    assert functional <= set(_free_tensor_rows(net))  # checked by test_strict_free_parameters


def _load(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_verify_save_round_trip(name, tmp_path):
    """`layercalc verify SPEC --save` arrays, loaded into the torch model with
    load_state_dict(strict=True), give the output layercalc's NumPy forward saved."""
    path = spec_path(name)
    out = tmp_path / f"{name}.npz"
    r = cli_runner().invoke(main, ["verify", str(path), "--save", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = _load(out)
    state = {}
    for k, v in data.items():
        if k in ("input", "output") or k.startswith(("input.", "output.")):
            continue
        t = torch.from_numpy(np.ascontiguousarray(v))
        state[k] = t.to(torch.int64) if k.endswith("num_batches_tracked") else t
    m = make_model(name).eval()
    m.load_state_dict(state, strict=True)
    net = spec(name)
    ids = _index_inputs(net)
    xs = []
    for ref in net.spec.input_refs():
        x = np.ascontiguousarray(data[ref])
        if ref in ids:  # token ids: torch's nn.Embedding wants int64 (or int32)
            assert np.issubdtype(x.dtype, np.integer), x.dtype
            x = x.astype(np.int64)
        xs.append(torch.from_numpy(x))
    with torch.no_grad():
        ys = [t.numpy() for t in _network_outputs(m(*xs))]
    # several outputs are saved as output.NAME, in the spec's `outputs:` order
    refs = [data["output"]] if len(net.outputs) == 1 else [data[f"output.{n}"] for n in net.outputs]
    assert len(ys) == len(refs)
    for y, ref in zip(ys, refs):
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=1e-3, atol=1e-4)


# the hyper-parameters a spec row and its torch module must agree on, where both have them
# (in_channels, out_features, bias, normalized_shape, hidden_size, proj_size... are covered by
# the state_dict; `inplace` is left out: it changes neither shapes nor, in these networks,
# values)
SETTINGS = (
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
    "output_padding",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "ceil_mode",
    "count_include_pad",
    "divisor_override",
    "output_size",
    "negative_slope",
    "p",
    "mode",
    "start_dim",
    "end_dim",
    "min_val",
    "max_val",
    "alpha",
    "beta",
    "threshold",
    "approximate",
    "dim",
    "scale_factor",
    "align_corners",
    "elementwise_affine",
    "padding_idx",
    "max_norm",
    "num_layers",
    "batch_first",
    "dropout",
    "bidirectional",
    "nonlinearity",
)


def _setting(value, like):
    """A spec or torch setting in one form: lists as tuples, an int where the other side
    has a tuple repeated to its length (kernel_size 3 is (3, 3)), floats as floats."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(like, list):
        like = tuple(like)
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(like, tuple):
        value = (value,) * len(like)
    if isinstance(value, float) or (isinstance(value, int) and isinstance(like, float)):
        value = round(float(value), 12)
    return value


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_module_types_and_settings(name):
    """Each row named as a torch module is that module: the same type (conv2d is Conv2d,
    stochastic_depth is StochasticDepth) and the same eps, momentum, stride, padding,
    negative_slope, dropout p, ... (BatchNorm's eps changes the output only by ~0.1%)."""
    m, net = model(name), spec(name)
    modules = dict(m.named_modules())
    wrong = {}
    for layer in net.layers:
        mod = modules.get(layer.name)
        if mod is None:
            continue
        ours = layer.type.name.replace("_", "")
        # a subclass is that module (out_proj's NonDynamicallyQuantizableLinear is a Linear)
        theirs = [c.__name__.lower() for c in type(mod).__mro__]
        if ours not in theirs:
            wrong[layer.name] = ("type", layer.type.name, type(mod).__name__)
            continue
        for key in SETTINGS:
            if key not in layer.args or not hasattr(mod, key):
                continue
            a, b = layer.args[key], getattr(mod, key)
            if _setting(a, b) != _setting(b, a):
                wrong[f"{layer.name} {key}"] = (a, b)
    assert not wrong, dict(list(wrong.items())[:10])
