"""`transformers_conv1d`: Hugging Face's transformers.pytorch_utils.Conv1D (GPT-2's c_attn,
c_proj, c_fc), a linear layer whose weight is stored (nx, nf). Its numbers, its refusals
at the YAML position, verify, and (where torch and transformers are installed) its
NumPy forward, state_dict, export and import against transformers' own class."""

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_located, cli_runner, diag_of, net_of, one_layer

from layercalc.analyses import verify
from layercalc.cli import main
from layercalc.layers import REGISTRY

GPT2_SMALL = 768  # n_embd


def run(*args):
    return cli_runner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# -- numbers a user checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "nf, nx, params",
    [
        (3 * GPT2_SMALL, GPT2_SMALL, 1_771_776),  # attn.c_attn: 768*2304 + 2304
        (GPT2_SMALL, GPT2_SMALL, 590_592),  # attn.c_proj: 768*768 + 768
        (4 * GPT2_SMALL, GPT2_SMALL, 2_362_368),  # mlp.c_fc: 768*3072 + 3072
        (GPT2_SMALL, 4 * GPT2_SMALL, 2_360_064),  # mlp.c_proj: 3072*768 + 768
    ],
    ids=["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"],
)
def test_gpt2_small_projections(nf, nx, params):
    layer = one_layer(f"transformers_conv1d: {{nf: {nf}}}", [1, 1024, nx])
    assert layer.output == (1, 1024, nf)
    assert layer.params == params == nx * nf + nf
    assert {t.key: tuple(t.shape) for t in layer.tensors} == {"weight": (nx, nf), "bias": (nf,)}
    assert [t.key for t in layer.tensors if t.is_bias] == ["bias"]
    assert layer.macs == 1024 * nx * nf  # as nn.Linear: rows x in x out
    assert layer.args["nx"] == nx


@pytest.mark.parametrize(
    "shape, out, macs",
    [
        ([768], (2304,), 768 * 2304),  # x.view(-1, nx): one row
        ([4, 768], (4, 2304), 4 * 768 * 2304),
        ([2, 3, 5, 768], (2, 3, 5, 2304), 30 * 768 * 2304),
    ],
)
def test_leading_dims_stay(shape, out, macs):
    layer = one_layer("transformers_conv1d: {nf: 2304}", shape)
    assert (layer.output, layer.macs) == (out, macs)


def test_the_same_numbers_as_linear_but_the_weight_transposed():
    net = net_of(
        """
        input: [2, 16, 64]
        layers:
          - transformers_conv1d: {name: a, nf: 96}
          - linear: {name: b, from: input, out_features: 96}
        """
    )
    a, b = net.layers
    assert (a.output, a.params, a.macs) == (b.output, b.params, b.macs)
    assert a.tensors[0].shape == tuple(reversed(b.tensors[0].shape))


def test_cli_tables_and_explain(tmp_path):
    spec = _write(
        tmp_path,
        """\
        input: [1, 1024, 768]
        layers:
          - transformers_conv1d: {name: c_attn, nf: 2304}
        """,
    )
    r = run("params", spec)
    assert r.exit_code == 0, r.output
    assert "1,771,776" in r.stdout
    r = run("shape", spec)
    assert r.exit_code == 0 and "768->2304" in r.stdout
    r = run("explain", spec)
    assert r.exit_code == 0, r.output
    assert "last dim: nx 768 -> nf 2304; the other dims [1, 1024] stay" in r.stdout
    assert "total 1,771,776" in r.stdout


def test_declared_like_linear():
    lt = REGISTRY.get("transformers_conv1d")
    assert lt is REGISTRY.get("TransformersConv1D")
    assert lt is not REGISTRY.get("conv1d")  # torch.nn.Conv1d stays the convolution
    assert lt.linear_map and lt.dense and lt.family == "linear"
    assert "transformers.pytorch_utils.Conv1D" in lt.doc
    layer = one_layer("transformers_conv1d: {nf: 8}", [2, 4])
    assert lt.window(layer.args, layer.input_shapes, layer.output) is None
    assert lt.geometry(layer.args) is None
    assert lt.summary(layer.args) == "4->8"


def test_catalogue_row_within_80_columns():
    r = cli_runner(env={"COLUMNS": "80"}).invoke(main, ["layers"], catch_exceptions=False)
    assert r.exit_code == 0
    rows = [line for line in r.stdout.splitlines() if "transformers_conv1d" in line]
    assert rows and "nf, nx=inferred" in rows[0]
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_dominant_linear_lint_reads_its_features(tmp_path):
    spec = _write(
        tmp_path,
        """\
        input: [1, 4096]
        layers:
          - transformers_conv1d: {name: big, nf: 4096}
          - linear: {name: head, out_features: 2}
        """,
    )
    r = run("check", spec)
    assert "4,096 inputs x 4,096 outputs" in r.output


# -- refusals -------------------------------------------------------------------------------


def test_a_wrong_nx_is_refused_at_its_line(tmp_path):
    text = """\
    input: [1, 16, 768]
    layers:
      - transformers_conv1d: {name: c_attn, nf: 2304, nx: 700}
    """
    d = assert_located(text, "shape-mismatch", 3, "700")
    assert "nx is 700 but the input has 768 features in its last dim" in d.message
    assert d.hint == "set nx: 768, or remove it (layercalc infers it)"
    spec = _write(tmp_path, text)
    r = run("shape", spec)
    assert r.exit_code == 1
    assert f"{spec}:3:" in r.output and "error: " in r.output and "[shape-mismatch]" in r.output


def test_a_given_nx_that_agrees_is_kept():
    layer = one_layer("transformers_conv1d: {nf: 6, nx: 4}", [3, 4])
    assert layer.output == (3, 6)


@pytest.mark.parametrize(
    "text, code, marker",
    [
        ("input: [2, 3]\nlayers:\n  - transformers_conv1d: {nx: 3}\n", None, "transformers"),
        ("input: [2, 3]\nlayers:\n  - transformers_conv1d: {nf: 0}\n", "bad-value", "0}"),
        ("input: [3]\nlayers:\n  - transformers_conv1d: {nf: 4, nx: 2.5}\n", None, "2.5"),
    ],
    ids=["nf-missing", "nf-zero", "nx-not-int"],
)
def test_refusals_are_located(text, code, marker):
    d = diag_of(text)
    assert d.line == 3
    if code:
        assert d.code == code
    if marker:
        assert d.column == text.splitlines()[2].index(marker) + 1


# -- verify -------------------------------------------------------------------------------

GPT2_MLP = """\
name: gpt2 mlp
input: [2, 8, 64]
layers:
  - transformers_conv1d: {name: c_fc, nf: 256}
  - gelu: {name: act, approximate: tanh}
  - transformers_conv1d: {name: c_proj, nf: 64}
  - dropout: {name: dropout, p: 0.1}
"""


def test_verify_passes(tmp_path):
    spec = _write(tmp_path, GPT2_MLP)
    r = run("verify", spec)
    assert r.exit_code == 0, r.output
    assert "all 4 layers agree" in r.output


def test_numpy_forward_is_x_at_weight_plus_bias():
    layer = one_layer("transformers_conv1d: {nf: 5}", [2, 3, 4])
    rng = np.random.default_rng(1)
    w = {"weight": rng.standard_normal((4, 5)), "bias": rng.standard_normal(5)}
    for x in (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((3, 2, 4)).transpose(1, 0, 2),  # not contiguous
        rng.standard_normal((4,)),
        rng.standard_normal((6, 4)),
    ):
        y = layer.type.forward(layer.args, [x], w)
        np.testing.assert_allclose(y, x @ w["weight"] + w["bias"], rtol=1e-12)


# -- against transformers ---------------------------------------------------------------------


def _hf():
    torch = pytest.importorskip("torch")
    pytorch_utils = pytest.importorskip("transformers.pytorch_utils")
    return torch, pytorch_utils.Conv1D


@pytest.mark.torch
@pytest.mark.parametrize(
    "shape, nf",
    [([768], 48), ([4, 32], 96), ([2, 7, 64], 192), ([2, 3, 5, 16], 8)],
)
def test_forward_and_state_dict_match_transformers(shape, nf):
    torch, Conv1D = _hf()
    layer = one_layer(f"transformers_conv1d: {{nf: {nf}}}", shape)
    nx = shape[-1]
    m = Conv1D(nf, nx).eval()
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        t.key: tuple(t.shape) for t in layer.tensors
    }
    assert layer.params == sum(p.numel() for p in m.parameters())
    rng = np.random.default_rng(0)
    w = {
        "weight": rng.standard_normal((nx, nf), dtype=np.float32),
        "bias": rng.standard_normal(nf, dtype=np.float32),
    }
    m.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()}, strict=True)
    x = rng.standard_normal(shape, dtype=np.float32)
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    got = layer.type.forward(layer.args, [x], w)
    assert got.shape == want.shape == layer.output
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.torch
def test_verify_weights_load_into_transformers_gpt2_mlp():
    """verify's seeded arrays load strict into transformers' own GPT2MLP (Conv1D c_fc and
    c_proj, gelu_new) and it reproduces verify's output."""
    torch, _ = _hf()
    gpt2 = pytest.importorskip("transformers.models.gpt2.modeling_gpt2")
    from transformers import GPT2Config

    config = GPT2Config(
        n_embd=64, n_head=4, n_layer=1, n_positions=32, vocab_size=100, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    mlp = gpt2.GPT2MLP(256, config).eval()
    v = verify.run(net_of(GPT2_MLP), save=True)
    assert v.ok
    state = {k: torch.from_numpy(a) for k, a in v.arrays.items() if k not in ("input", "output")}
    mlp.load_state_dict(state, strict=True)
    with torch.no_grad():
        y = mlp(torch.from_numpy(v.arrays["input"]))
    np.testing.assert_allclose(y.numpy(), v.arrays["output"], rtol=1e-4, atol=1e-5)


# -- export ---------------------------------------------------------------------------------


def _export(spec, out):
    r = run("export", spec, "-o", out)
    assert r.exit_code == 0, r.output
    return out.read_text()


def test_export_defines_conv1d_only_when_used(tmp_path):
    src = _export(_write(tmp_path, GPT2_MLP), tmp_path / "m.py")
    assert src.count("\nclass Conv1D(nn.Module):") == 1
    assert "self.c_fc = Conv1D(256, 64)" in src and "self.c_proj = Conv1D(64, 256)" in src
    assert "transformers" not in {
        line.split()[1].split(".")[0] for line in src.splitlines() if line.startswith("import ")
    }
    assert not any(line.startswith("from transformers") for line in src.splitlines())
    compile(src, "m.py", "exec")
    plain = _write(tmp_path, "input: [2, 4]\nlayers:\n  - linear: {out_features: 3}\n", "p.yaml")
    assert "Conv1D" not in _export(plain, tmp_path / "p.py")


def test_export_of_a_block_keeps_its_class(tmp_path):
    """A block using the type compiles to a class (trace.py proves it against the flat
    form, Conv1D a leaf of the stand-in)."""
    spec = _write(
        tmp_path,
        """\
        input: [1, 8, 32]
        blocks:
          mlp:
            args: {n_embd: in_shape(-1)}
            layers:
              - transformers_conv1d: {name: c_fc, nf: 4 * n_embd}
              - gelu: {name: act, approximate: tanh}
              - transformers_conv1d: {name: c_proj, nf: n_embd}
        layers:
          - mlp: {name: mlp0}
          - mlp: {name: mlp1}
        """,
    )
    src = _export(spec, tmp_path / "m.py")
    assert "class Mlp(" in src and "is written as the flat export" not in src
    assert "Conv1D(4 * n_embd, n_embd)" in src


@pytest.mark.torch
def test_exported_module_loads_verify_save_strict_and_reproduces_it(tmp_path):
    torch, Conv1D = _hf()
    spec = _write(tmp_path, GPT2_MLP)
    src = _export(spec, tmp_path / "m.py")
    namespace = {"__name__": "exported_gpt2_mlp"}
    exec(compile(src, "m.py", "exec"), namespace)  # noqa: S102 - our own output
    model = namespace["build"]().eval()
    # the exported class is transformers' own in parameters and keys
    theirs = Conv1D(256, 64)
    assert {k: v.shape for k, v in model.c_fc.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    npz = tmp_path / "v.npz"
    r = run("verify", spec, "--save", npz)
    assert r.exit_code == 0, r.output
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    state = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("input", "output")}
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        y = model(torch.from_numpy(arrays["input"]))
    np.testing.assert_allclose(y.numpy(), arrays["output"], rtol=1e-4, atol=1e-5)
    # and transformers' Conv1D with the same arrays computes the same first projection
    theirs.load_state_dict(
        {"weight": state["c_fc.weight"], "bias": state["c_fc.bias"]}, strict=True
    )
    x = torch.from_numpy(arrays["input"])
    with torch.no_grad():
        torch.testing.assert_close(model.c_fc(x), theirs(x))


# -- import ---------------------------------------------------------------------------------


@pytest.mark.torch
def test_import_torch_maps_transformers_conv1d():
    torch, Conv1D = _hf()
    from layercalc.importers.torch import import_torch

    model = torch.nn.Sequential(Conv1D(32, 16), torch.nn.ReLU(), Conv1D(16, 32))
    text = import_torch("m:model", (2, 5, 16), model=model)
    assert "- transformers_conv1d: {nf: 32}" in text
    assert "- transformers_conv1d: {nf: 16}" in text
    net = net_of(text)
    assert net.layers[0].params == 16 * 32 + 32


@pytest.mark.torch
def test_import_torch_of_transformers_gpt2_mlp():
    _hf()
    gpt2 = pytest.importorskip("transformers.models.gpt2.modeling_gpt2")
    from transformers import GPT2Config

    from layercalc.importers.torch import import_torch

    config = GPT2Config(
        n_embd=64, n_head=4, n_layer=1, n_positions=32, vocab_size=100, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    text = import_torch("m:mlp", (2, 8, 64), model=gpt2.GPT2MLP(256, config))
    assert "transformers_conv1d: {name: c_fc, nf: 256}" in text
    assert "gelu: {name: act, approximate: tanh}" in text  # gelu_new
    assert "transformers_conv1d: {name: c_proj, nf: 64}" in text


# -- GPT-2 with Hugging Face's layout -----------------------------------------------------

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _gpt2_hf_layout(tmp_path):
    """specs/gpt2_small.yaml with its c_attn, c_proj and c_fc as transformers_conv1d (as
    Hugging Face's GPT2 builds them)."""
    text = (SPECS / "gpt2_small.yaml").read_text()
    text = re.sub(
        r"- linear: \{name: (c_attn|c_proj|c_fc), out_features: ([^}]*)\}",
        r"- transformers_conv1d: {name: \1, nf: \2}",
        text,
    )
    text = re.sub(r"(?m)^expect:.*$", "", text)
    assert text.count("transformers_conv1d:") == 4
    return _write(tmp_path, text, "gpt2_hf.yaml")


@pytest.mark.torch
def test_gpt2_state_dict_is_transformers_gpt2lmheadmodel(tmp_path):
    torch, _ = _hf()
    from transformers import GPT2Config, GPT2LMHeadModel

    from layercalc.analyses.loading import analyse

    spec = _gpt2_hf_layout(tmp_path)
    r = analyse(str(spec), {"vocab_size": "1000", "n_layer": "3"})
    assert r.ok, r.diagnostics
    ours = {}
    for layer in r.net.layers:
        for t in layer.tensors:
            ours[layer.state_key(t.key)] = tuple(t.shape)
        for key, _, shape in layer.ties:
            ours[layer.state_key(key)] = tuple(shape)
    config = GPT2Config(vocab_size=1000, n_layer=3, bos_token_id=0, eos_token_id=0)
    with torch.device("meta"):
        model = GPT2LMHeadModel(config)
    assert ours == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours["transformer.h.0.attn.c_attn.weight"] == (768, 2304)
    assert ours["transformer.h.2.mlp.c_proj.weight"] == (3072, 768)


def test_verify_scales_the_seeded_weight_by_nx_its_fan_in(tmp_path):
    """The weight is stored (nx, nf): each output sums nx inputs, so verify draws it with
    variance 1/nx (bound sqrt(3/nx)), not 1/nf as the trailing dims of an nn.Linear say."""
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [2, 4]\nlayers:\n  - transformers_conv1d: {name: c, nf: 400}\n")
    npz = tmp_path / "w.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(npz)])
    assert r.exit_code == 0, r.output
    with np.load(npz) as data:
        w = data["c.weight"]
    assert w.shape == (4, 400)
    bound = (3.0 / 4) ** 0.5
    assert 0.9 * bound < np.abs(w).max() <= bound
