"""`layercalc import torch` (issue 16, part 2): specs from traced nn.Modules.

Each imported torchvision network is built by layercalc from the written YAML and
compared with torch: every state_dict key and shape, every leaf module's output shape
(forward hooks, first call) and parameter count, the output shape and the totals."""

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from layercalc.analyses.loading import analyse_bytes  # noqa: E402
from layercalc.cli import main  # noqa: E402
from layercalc.importers.torch import ImportFailure, import_torch  # noqa: E402


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def hooked(model, shape):
    """Leaf module path -> (output shape of its first call, own parameter count)."""
    seen = {}
    handles = []
    for path, m in model.named_modules():
        if path and not list(m.children()) or isinstance(m, nn.MultiheadAttention):

            def hook(mod, inp, out, path=path):
                t = out if isinstance(out, torch.Tensor) else out[0]
                if path not in seen:
                    seen[path] = (tuple(t.shape), sum(p.numel() for p in mod.parameters()))

            handles.append(m.register_forward_hook(hook))
    with torch.no_grad():
        out = model(torch.randn(*shape))
    for h in handles:
        h.remove()
    return seen, tuple(out.shape)


def assert_same(text, model, shape):
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    net = res.net
    keys = {}
    rows = {}
    for layer in net.layers:
        if layer.shares is None:
            for t in layer.tensors:
                keys[layer.state_key(t.key)] = tuple(t.shape)
            rows.setdefault(net.torch_path(layer.name), (tuple(layer.output), layer.params))
    assert keys == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    seen, out = hooked(model, shape)
    for path, (oshape, params) in seen.items():
        if isinstance(model.get_submodule(path), nn.MultiheadAttention):
            # layercalc's row holds in_proj_*; out_proj is its own row
            params -= sum(p.numel() for p in model.get_submodule(path).out_proj.parameters())
        assert path in rows, path
        assert rows[path] == (oshape, params), path
    assert list(net.outputs.values()) == [out]
    assert net.totals()["params"] == sum(p.numel() for p in model.parameters())


def reproduces(net, model, strip: str = "") -> None:
    """verify's seeded arrays, keyed as torch's state_dict (``strip`` removed from every
    key), load strictly into ``model`` and give verify's output."""
    import numpy as np

    from layercalc.analyses import verify

    v = verify.run(net, save=True)
    assert v.ok
    keys = [k for k in v.arrays if k not in ("input", "output")]
    assert all(k.startswith(strip) for k in keys)
    model.load_state_dict(
        {k.removeprefix(strip): torch.from_numpy(np.asarray(v.arrays[k])) for k in keys},
        strict=True,
    )
    with torch.no_grad():
        y = model(torch.from_numpy(v.arrays["input"]))
    torch.testing.assert_close(y, torch.from_numpy(v.arrays["output"]), rtol=1e-4, atol=1e-5)


tv = pytest.importorskip("torchvision")

MODELS = {
    "resnet18": (1, 3, 224, 224),
    "resnet50": (1, 3, 224, 224),
    "mobilenet_v2": (1, 3, 224, 224),
    "densenet121": (1, 3, 224, 224),
    "vit_b_16": (1, 3, 224, 224),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_torchvision_models(name):
    shape = MODELS[name]
    model = getattr(tv.models, name)().eval()
    text = import_torch(f"torchvision.models:{name}", shape, model=model)
    assert text.startswith(f"# Imported from torchvision.models:{name}()")
    assert "expect: {output: " in text
    assert_same(text, model, shape)
    if name != "vit_b_16":
        assert "\nblocks:\n" in text


def test_flat_resnet18_also_proves():
    model = tv.models.resnet18().eval()
    text = import_torch("torchvision.models:resnet18", (1, 3, 64, 64), blocks=False, model=model)
    assert "blocks:" not in text
    assert_same(text, model, (1, 3, 64, 64))


def test_resnet50_bottleneck_is_a_block():
    text = import_torch("torchvision.models:resnet50", (1, 3, 224, 224))
    assert "  bottleneck:" in text
    assert "bottleneck_2" not in text  # one block: `downsample` is kept by a flag
    assert "when: has_downsample" in text
    body = text.split("\nlayers:\n", 1)[1]
    assert "conv3" not in body  # no bottleneck written out at the top level
    uses = body.count("bottleneck")
    repeats = sum(int(x.split(",")[0].split("}")[0]) for x in body.split("repeat: ")[1:])
    assert uses + repeats - body.count("repeat: ") == 16


def test_cli_writes_and_check_passes(tmp_path):
    out = tmp_path / "r18.yaml"
    r = run(
        "import", "torch", "torchvision.models:resnet18", "--input", "1,3,64,64",
        "--kwargs", '{"num_classes": 10}', "-o", str(out),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith('# Imported from torchvision.models:resnet18(**{"num_classes": 10})')
    assert "expect: {output: [1, 10], params: 11181642}" in text
    assert run("check", str(out)).exit_code == 0


def test_cli_stdout():
    r = run("import", "torch", "torchvision.models:resnet18", "--input", "1,3,64,64")
    assert r.exit_code == 0
    assert "layers:" in r.stdout


BAD = """
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.w = nn.Parameter(torch.ones(c))

    def forward(self, x):
        return x * self.w.view(1, -1, 1, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.body = nn.Sequential(nn.ReLU(), Scale(8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = self.body(self.conv(x))
        x = torch.erf(x)
        return self.fc(x.mean((2, 3)))


class Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.spare = nn.Linear(4, 2)

    def forward(self, x):
        return self.a(x)


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True, num_layers=2)
        self.head = nn.Linear(32, 5)

    def forward(self, tokens):
        out, (h, c) = self.lstm(self.emb(tokens))
        return self.head(out) + self.head(h[-1]).unsqueeze(1)


class Pair(nn.Module):  # no layercalc type, and it returns a tuple
    def forward(self, x):
        return x, x * 2


class UsesPair(nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        a, b = self.pair(x)
        return self.fc(a) + self.fc(b)


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.ReLU()
        self.c = nn.Linear(8, 2)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent: fx cannot trace it
            return self.c(self.b(self.a(x)))
        return self.c(self.b(self.a(x)))
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "bad_models_for_import.py").write_text(textwrap.dedent(BAD))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "bad_models_for_import"


def test_unsupported_is_refused_naming_paths(user_module, tmp_path):
    out = tmp_path / "net.yaml"
    r = run("import", "torch", f"{user_module}:Net", "--input", "1,3,16,16", "-o", str(out))
    assert r.exit_code == 1
    assert "body.1: bad_models_for_import.Scale has no layercalc type" in r.output
    assert "erf" in r.output
    assert "nothing was written" in r.output
    assert not out.exists()


def test_an_unsupported_module_returning_a_tuple_is_refused_not_a_crash(user_module):
    # its items were read as if a layer had made them: AttributeError, blamed on the
    # module ("the module fails on an input ..."); MaxViT's window partitions do this
    r = run("import", "torch", f"{user_module}:UsesPair", "--input", "3,4")
    assert r.exit_code == 1
    assert "pair: bad_models_for_import.Pair has no layercalc type" in r.output
    assert "fails on an input" not in r.output and "AttributeError" not in r.output


def test_a_tracer_failure_is_not_blamed_on_the_module(user_module, monkeypatch):
    from layercalc.importers import torch as importer

    def broken(model, example):
        raise AttributeError("'NoneType' object has no attribute 'type'")

    monkeypatch.setattr(importer, "trace_module", broken)
    r = run("import", "torch", f"{user_module}:Chain", "--input", "3,4")
    assert r.exit_code == 1
    assert "importer failed on this module, which runs on an input of shape [3, 4]" in r.output
    assert "layercalc bug" in r.output
    r = run("import", "torch", f"{user_module}:Chain", "--input", "3,5")  # a wrong input
    assert r.exit_code == 1
    assert "the module fails on an input of shape [3, 5]" in r.output


def test_fx_failure_falls_back_to_hooks(user_module):
    with pytest.raises(ImportFailure):
        import_torch(f"{user_module}:Net", (1, 3, 16, 16))
    text = import_torch(f"{user_module}:Chain", (2, 4))
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok
    assert [layer.name for layer in res.net.layers] == ["a", "b", "c"]


def test_bad_target_and_kwargs():
    r = run("import", "torch", "no_such_module_xyz:f", "--input", "1,3")
    assert r.exit_code == 1 and "cannot import the module 'no_such_module_xyz'" in r.output
    r = run("import", "torch", "torchvision.models", "--input", "1,3")
    assert r.exit_code == 1 and "MODULE:CALLABLE" in r.output
    r = run("import", "torch", "torchvision.models:resnet18", "--input", "1,3", "--kwargs", "[1]")
    assert r.exit_code == 2


def test_without_torch_says_how_to_install(monkeypatch):
    import layercalc.cli.import_torch as cmd

    monkeypatch.setattr(cmd, "have_torch", lambda: False)
    r = run("import", "torch", "torchvision.models:resnet18", "--input", "1,3,224,224")
    assert r.exit_code == 1
    assert "pip install 'layercalc[torch]'" in r.output
    assert "Traceback" not in r.output


def test_module_never_called_is_refused(user_module):
    with pytest.raises(ImportFailure) as exc:
        import_torch(f"{user_module}:Unused", (2, 4))
    assert [p for p, _ in exc.value.problems] == ["spare"]
    assert "never calls it" in exc.value.problems[0][1]
    assert "--kwargs" in exc.value.hint  # an auxiliary head is a constructor's option


def test_unwritable_output_is_refused_before_importing(tmp_path):
    r = run("import", "torch", "no_such_module_xyz:f", "--input", "1,3", "-o", str(tmp_path))
    assert r.exit_code == 1
    assert "directory" in r.output and "cannot import" not in r.output


def test_vit_layers_are_one_templated_repeat():
    text = import_torch("torchvision.models:vit_b_16", (1, 3, 224, 224))
    assert 'encoder_block: {name: "encoder_layer_{i}", repeat: {times: 12, as: i}}' in text
    # x.reshape(n, hidden_dim, n_h * n_w): a merge of the map's dims, any image size
    assert "flatten: {name: flatten, end_dim: 3, start_dim: 2}" in text


def test_without_torch_in_a_real_process():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "sys.argv = ['layercalc', 'import', 'torch', 'torchvision.models:resnet18',"
        " '--input', '1,3,224,224']\n"
        "from layercalc.cli import main\nmain()\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert "pip install 'layercalc[torch]'" in p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_embedding_lstm_and_a_shared_head(user_module):
    text = import_torch(f"{user_module}:Tagger", (2, 7))
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    assert list(res.net.outputs.values()) == [(2, 7, 5)]
    assert "share: head" in text


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_import_then_export_gives_torchs_state_dict(name, tmp_path):
    """torch -> spec (import) -> torch (export): the same state_dict keys and shapes as
    the torchvision model the spec came from, and the same output on its weights."""
    model = getattr(tv.models, name)().eval()
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(import_torch(f"torchvision.models:{name}", (1, 3, 64, 64), model=model))
    code = tmp_path / f"{name}.py"
    r = run("export", str(spec), "-o", str(code))
    assert r.exit_code == 0, r.output
    namespace = {"__name__": f"roundtrip_{name}"}
    exec(compile(code.read_text(), str(code), "exec"), namespace)  # noqa: S102 - our output
    built = namespace["build"]().eval()
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in built.state_dict().items()} == theirs
    built.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), model(x), rtol=1e-4, atol=1e-5)


class _EncoderLayerModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 32)
        self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.layer(self.proj(x)))


class _EncoderModel(nn.Module):
    def __init__(self, norm_first=False):
        super().__init__()
        self.proj = nn.Linear(16, 32)
        layer = nn.TransformerEncoderLayer(
            32, 4, 64, dropout=0.2, activation="gelu", norm_first=norm_first, batch_first=True
        )
        self.enc = nn.TransformerEncoder(
            layer, 3, norm=nn.LayerNorm(32, eps=1e-6), enable_nested_tensor=False
        )
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.enc(self.proj(x)))


@pytest.mark.parametrize(
    "make", [_EncoderLayerModel, _EncoderModel, lambda: _EncoderModel(norm_first=True)]
)
def test_torch_transformer_encoders_import_as_their_layer_types(make):
    """nn.TransformerEncoderLayer and nn.TransformerEncoder become layercalc's types
    (a user trial found them refused as having none): the same state_dict, and the
    same output on verify's weights."""

    model = make().eval()
    text = import_torch("tests:model", (2, 10, 16), model=model)
    assert (
        "transformer_encoder:" if isinstance(model, _EncoderModel) else "transformer_encoder_layer:"
    ) in text
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    reproduces(res.net, model)


def test_a_torch_module_the_importer_does_not_read_names_the_entry_to_write():
    """nn.Transformer has a layercalc type the importer does not read: the refusal says
    which entry to write by hand, once, without listing its children as never called."""

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = nn.Transformer(32, 4, 1, 1, 64, batch_first=True)

        def forward(self, x):
            return self.t(x, x)

    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (2, 10, 32), model=Model().eval())
    [(path, why)] = exc.value.problems
    assert path == "t"
    assert "write it as a `transformer` entry by hand (`layercalc layers transformer`)" in why


def test_an_encoder_layer_with_the_tanh_gelu_is_refused_not_imported_as_gelu():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.l = nn.TransformerEncoderLayer(
                32, 4, 64, activation=nn.GELU(approximate="tanh"), batch_first=True
            )

        def forward(self, x):
            return self.l(x)

    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (2, 10, 32), model=Model().eval())
    [(path, why)] = exc.value.problems
    assert path == "l" and "transformer_encoder_layer" in why


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Linear(16, 4),
        lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True),
        lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2, enable_nested_tensor=False
        ),
        lambda: nn.Conv1d(5, 16, 3),
    ],
)
def test_a_module_that_is_one_layer_imports_as_a_sequential_of_it(make):
    """A callable returning nn.Linear or nn.TransformerEncoderLayer itself was refused
    (every member "never called"): it is written as nn.Sequential(module) would be, the
    header says so, and verify's arrays, '0.' stripped, load into the module itself
    and give its output."""

    model = make().eval()
    shape = (2, 5, 16)
    text = import_torch("tests:model", shape, model=model)
    assert "state_dict keys gain the prefix '0.'" in text and "--add-prefix 0." in text
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    assert [layer.name for layer in res.net.layers][0].startswith("0")
    reproduces(res.net, model, strip="0.")


class _Shuffle(nn.Module):
    """Views whose sizes come from x.size(): a channel shuffle (a split of dim 1, then a
    merge), a flatten of the map, a size-1 dim added and removed."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.conv(x)
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        x = x.view(n, c, h * w).unsqueeze(1).view(n, 1, c, h * w).squeeze(1)
        return self.head(x.mean(2))


@pytest.mark.parametrize("other", [(4, 3, 14, 14), (3, 3, 7, 9)])
def test_views_follow_another_input_size(other):
    """A view to the traced sizes was written as a reshape of fixed dims: at another
    input it failed, or, as for ShuffleNet's channel shuffle at batch 4 and 14x14 (4 *
    8 * 14 * 14 = 2 * 4 * 28 * 28), merged the samples into one without an error. A
    split of one dim is written as an unflatten, a merge as a flatten: torch's shapes at
    any input, and verify's arrays reproduce torch's output there."""

    model = _Shuffle().eval()
    text = import_torch("tests:model", (1, 3, 28, 28), model=model)
    assert "reshape" not in text and "unflatten" in text and "flatten" in text
    res = analyse_bytes(text.encode(), "<import>", input_override=list(other))
    assert res.ok, [d.message for d in res.diagnostics]
    with torch.no_grad():
        want = model(torch.randn(*other))
    assert list(res.net.outputs.values()) == [tuple(want.shape)]
    reproduces(res.net, model)


class _Functional(nn.Module):
    """torch.nn.functional calls of layers layercalc has (Inception-v3's pools)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)

    def forward(self, x):
        x = F.max_pool2d(self.conv(x), kernel_size=3, stride=2)
        x = F.avg_pool2d(x, 3, 1, 1, False, False)
        x = F.avg_pool2d(F.leaky_relu(x, 0.2), 2, ceil_mode=True, divisor_override=3)
        x = F.elu(x, alpha=0.5) + F.softplus(x, beta=2.0, threshold=5.0)
        x = torch.flip(F.hardtanh(x, -0.5, 0.75), dims=[3]).flip(2)
        x = torch.clamp(x, -0.25, 0.5) + x.clamp(min=-1, max=2) + F.mish(x)
        x = F.max_pool1d(x.flatten(2), 2) + F.avg_pool1d(x.flatten(2), 2, 2)
        return x


def test_functional_pools_and_activations_import_as_their_layers():
    """F.max_pool2d, F.avg_pool2d, F.leaky_relu, ... were refused ("the operation has
    no layercalc type") though their modules import: each is written as its module's
    entry, and verify's arrays give torch's output."""

    model = _Functional().eval()
    text = import_torch("tests:model", (2, 3, 21, 23), model=model)
    for kind in ("max_pool2d", "avg_pool2d", "leaky_relu", "elu", "softplus", "flip", "mish"):
        assert f"- {kind}:" in text, kind
    assert "divisor_override: 3" in text and "max_val: 0.5, min_val: -0.25}" in text  # clamp
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    reproduces(res.net, model)


class _MoreFunctional(nn.Module):
    """F.pad, F.pixel_shuffle, F.adaptive_max_pool2d, F.layer_norm without weights,
    torch.log, and torch.cat of a chunk's tuple (which crashed the importer)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 1)

    def forward(self, x):
        y = F.pad(self.conv(x), (1, 1, 1, 1), mode="reflect")
        y = torch.cat(torch.chunk(F.pixel_shuffle(y, 2), 2, dim=3), 1)
        y = F.layer_norm(y, (8,), eps=1e-6)  # before the pool: no row of equal values
        y = F.adaptive_max_pool2d(y, 3)
        y = F.pad(y, (0, 1), value=0.5)
        return torch.log(y.abs() + 1) + torch.cat(torch.split(y, 2, 1), 1)


def test_more_functionals_import_as_their_layers():
    model = _MoreFunctional().eval()
    text = import_torch("tests:model", (2, 4, 6, 6), model=model)
    for kind in (
        "reflection_pad2d",
        "pixel_shuffle",
        "adaptive_max_pool2d",
        "layer_norm",
        "constant_pad2d",
        "log",
        "concat",
    ):
        assert f"- {kind}:" in text or f"- {kind}\n" in text, kind
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    reproduces(res.net, model)


def test_a_non_persistent_buffer_is_refused_with_its_reason():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.register_buffer("b", torch.ones(4), persistent=False)

        def forward(self, x):
            return self.fc(x) + self.b

    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (2, 4), model=Net().eval())
    reasons = dict(exc.value.problems)
    assert "non-persistent buffer" in reasons["b"]
    assert "(root)" not in reasons  # not "never called" too


def test_a_clamp_hardtanh_cannot_write_is_refused():
    class Half(nn.Module):
        def forward(self, x):
            return torch.clamp(x, min=0.0)

    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (2, 3), model=Half())
    assert "clamp without both bounds" in str(exc.value.problems)


class _Conv3x3(nn.Conv2d):  # builds a conv its own way: torch's forward
    def __init__(self, cin, cout):
        super().__init__(cin, cout, 3, padding=1, bias=False)


class _Standardized(nn.Conv2d):  # a forward of its own: not torch's conv
    def forward(self, x):
        w = self.weight - self.weight.mean()
        return self._conv_forward(x, w, self.bias)


class _Subclassed(nn.Module):
    def __init__(self, own_forward=False):
        super().__init__()
        self.a = _Standardized(3, 4, 1) if own_forward else _Conv3x3(3, 4)
        self.b = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.b(self.a(x))


def test_a_subclass_that_only_builds_a_torch_layer_imports_as_it():
    """torchvision's Conv3DSimple (an nn.Conv3d subclass with an __init__ of its own)
    was refused, and also said to be 'never called'."""
    model = _Subclassed().eval()
    text = import_torch("tests:model", (1, 3, 8, 8), model=model)
    assert "conv2d: {name: a, out_channels: 4, kernel_size: 3, padding: 1, bias: false}" in text
    assert_same(text, model, (1, 3, 8, 8))
    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (1, 3, 8, 8), model=_Subclassed(own_forward=True))
    reasons = [r for _, r in exc.value.problems]
    assert len(reasons) == 1 and "_Standardized has no layercalc type" in reasons[0]


def test_r3d_18_imports():
    model = tv.models.video.r3d_18().eval()
    text = import_torch("torchvision.models.video:r3d_18", (1, 3, 4, 32, 32), model=model)
    assert_same(text, model, (1, 3, 4, 32, 32))


@pytest.mark.parametrize("name", ["b\u202e", "a\x1b[31mred", 'q"uo\\te', "café", "e\U0001f600"])
def test_a_module_name_is_written_escaped_and_reads_back(name):
    """A child named with ESC was written raw inside double quotes (invalid YAML: the
    import's own proof refused it); one with U+202E was written raw into the file."""
    model = nn.Sequential()
    model.add_module(name, nn.Linear(4, 2))
    text = import_torch("tests:model", (1, 4), model=model)
    assert all(c == "\n" or c.isprintable() for c in text)
    assert "\u202e" not in text and "\x1b" not in text
    assert_same(text, model, (1, 4))  # the state_dict key, exactly


class _TiedHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)
        self.b.weight = self.a.weight

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class _TiedLM(nn.Module):  # the head registered before the embedding it reuses
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(16, 50, bias=False)
        self.emb = nn.Embedding(50, 16)
        self.body = nn.Linear(16, 16)
        self.emb.weight = self.head.weight

    def forward(self, t):
        return self.head(torch.relu(self.body(self.emb(t))))


@pytest.mark.parametrize(
    "make, shape, tie",
    [
        (_TiedHeads, (2, 8), 'b, out_features: 8, tie: {weight: "a.weight"}'),
        (_TiedLM, (2, 5), 'head, out_features: 50, bias: false, tie: {weight: "emb.weight"}'),
    ],
)
def test_a_parameter_two_modules_share_is_a_tie(make, shape, tie):
    """It was refused ("spec 144 parameters, torch 80"): the module called later ties
    to the one called first, whichever registered it, and verify's arrays, both keys,
    load into the module and give its output."""

    model = make().eval()
    text = import_torch("tests:model", shape, model=model)
    assert tie in text
    res = analyse_bytes(text.encode(), "<import>")
    assert res.ok, [d.message for d in res.diagnostics]
    assert res.net.totals()["params"] == sum(p.numel() for p in model.parameters())
    reproduces(res.net, model)  # strictly: both keys of the tied tensor


def test_a_quantization_ready_model_imports_with_its_stubs_as_identities():
    """torchvision.models.quantization's networks before convert(): QuantStub and
    DeQuantStub return their input; they were refused as having no type."""
    model = tv.models.quantization.resnet18().eval()
    text = import_torch("torchvision.models.quantization:resnet18", (1, 3, 64, 64), model=model)
    assert "identity: {name: quant}" in text and "identity: {name: dequant}" in text
    assert_same(text, model, (1, 3, 64, 64))


def test_a_module_list_called_with_work_between_imports():
    """`for m in self.layers: c = m(c) + c`: the adds between the ModuleList's modules
    join its list (it was refused: the list would open twice); keys, shapes and output
    are the module's (assert_same), and export -> import round trips the same way."""

    class C(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])

        def forward(self, c):
            for m in self.layers:
                c = m(c) + c
            return c

    model = C().eval()
    text = import_torch("tests:model", (2, 8), model=model)
    assert_same(text, model, (2, 8))
    assert "name: layers" in text and "add" in text


def test_a_module_list_of_modules_doing_their_own_work_imports():
    """The same loop over modules whose own forward computes (`lin(x) * 2`): the
    module's mul and the loop's add were one run of functional ops across two scopes,
    and it was refused asking for the change already made."""

    class Blk(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, 8)

        def forward(self, x):
            return self.lin(x) * 2

    class C(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Blk() for _ in range(3)])

        def forward(self, x):
            for m in self.layers:
                x = m(x) + x
            return x

    model = C().eval()
    assert_same(import_torch("tests:model", (2, 8), model=model), model, (2, 8))


def test_a_file_path_for_the_module_says_to_give_a_dotted_name():
    r = run("import", "torch", "mods/net4.py:make", "--input", "2,8")
    assert r.exit_code == 1
    assert "give a dotted module name, not a file path: mods.net4:make" in r.output


def test_a_module_called_again_after_other_work_imports_as_a_share():
    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(8, 8), nn.ReLU())

        def forward(self, c):
            c = self.block(c) * 2
            return self.block(c)

    model = D().eval()
    text = import_torch("tests:model", (2, 8), model=model)
    assert "share" in text
    assert_same(text, model, (2, 8))


def test_the_flat_export_of_a_group_imports_back(tmp_path):
    """layercalc export's flat form calls a container's modules by attribute with the
    work between them in the network's forward (self.g.a, +, self.g["2"]): it was
    refused as a module called again after other work."""
    spec = tmp_path / "g.yaml"
    spec.write_text(
        "input: [1, 4]\nlayers:\n  - sequential:\n      name: g\n      layers:\n"
        "        - linear: {name: a, out_features: 4}\n        - add: {from: [a, input]}\n"
        "        - relu\n"
    )
    path = tmp_path / "gx.py"
    assert run("export", str(spec), "-o", str(path)).exit_code == 0
    namespace = {"__name__": "gx"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our output
    model = namespace["build"]().eval()
    text = import_torch("gx:build", (1, 4), model=model)
    assert_same(text, model, (1, 4))


def test_reserved_module_names_import_with_torch_name():
    """BERT's `attention.output`: the spec language reserves `output`, so the entry is
    `output_` with `torch_name: output` (it failed as an importer limitation); at the
    top level, where verify's npz keeps the network's output, it is refused saying why."""

    class Att(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(4, 4)
            self.output = nn.Sequential(nn.Linear(4, 3), nn.ReLU())

        def forward(self, x):
            return self.output(self.dense(x))

    class M(nn.Module):
        def __init__(self, top):
            super().__init__()
            self.attention = Att()
            setattr(self, "output" if top else "head", nn.Linear(3, 2))
            self.top = top

        def forward(self, x):
            return (self.output if self.top else self.head)(self.attention(x))

    model = M(False).eval()
    text = import_torch("tests:model", (1, 4), model=model)
    assert "name: output_" in text and "torch_name: output" in text
    assert_same(text, model, (1, 4))
    with pytest.raises(ImportFailure) as exc:
        import_torch("tests:model", (1, 4), model=M(True).eval())
    (reason,) = [r for p, r in exc.value.problems if p == "output"]
    assert "top-level module named 'output'" in reason
