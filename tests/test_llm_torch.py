"""Issue 19 against torch and Hugging Face transformers: the rotary_embedding layer and
specs/llama_tiny.yaml.

rotary_embedding is compared with a torch twin of HF's LlamaRotaryEmbedding and
apply_rotary_pos_emb (always) and with transformers' own functions (when installed);
specs/llama_tiny.yaml with transformers' LlamaForCausalLM of the same config: the arrays
of `layercalc verify --save` load with load_state_dict(strict=True) and the model's logits
reproduce verify's output. Skipped without torch; the transformers tests are skipped
without transformers (CI: pip install "transformers==5.24.0", the version tested).
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner, net_of

from layercalc.analyses import verify
from layercalc.cli import main

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch
SPEC = Path(__file__).resolve().parent.parent / "specs" / "llama_tiny.yaml"


def _twin_rope(x, theta=10000.0, dim=None, offset=0):
    """HF's LlamaRotaryEmbedding.forward + apply_rotary_pos_emb, in torch, with the
    partial-rotary split of GPT-NeoX/Phi (rotate the first dim features)."""
    D, T = x.shape[-1], x.shape[-2]
    dim = dim or D
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    pos = torch.arange(offset, offset + T)[None, :].float()
    freqs = (inv_freq[None, :, None] @ pos[:, None, :]).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)  # (1, T, dim)
    if x.dim() == 4:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    xr, xp = x[..., :dim], x[..., dim:]
    rot = torch.cat((-xr[..., dim // 2 :], xr[..., : dim // 2]), dim=-1)
    return torch.cat(((xr * cos) + (rot * sin), xp), dim=-1)


def _layer_out(layer: str, shape):
    net = net_of(f"input: {list(shape)}\nlayers:\n  - {layer}\n")
    v = verify.run(net, save=True)
    assert v.ok, [c.error for c in v.failed]
    return v.arrays["input"], v.arrays["output"]


@pytest.mark.parametrize(
    "layer, shape, kw",
    [
        ("rope", (2, 4, 16, 16), {}),
        ("rotary_embedding: {theta: 500000.0}", (1, 8, 33, 64), {"theta": 500000.0}),
        ("rotary_embedding: {dim: 8}", (2, 3, 10, 32), {"dim": 8}),
        ("rope: {position_offset: 1000}", (1, 2, 7, 128), {"offset": 1000}),
        (
            "rope: {theta: 1000000.0, position_offset: 4090}",
            (1, 1, 6, 64),
            {"theta": 1e6, "offset": 4090},
        ),
        ("rope", (3, 12, 8), {}),
    ],
)
def test_rope_matches_hf_math(layer, shape, kw):
    x, y = _layer_out(layer, shape)
    want = _twin_rope(torch.from_numpy(x), **kw).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_rope_matches_transformers_functions():
    tr = pytest.importorskip("transformers")
    from transformers.models.llama import modeling_llama as ml

    cfg = tr.LlamaConfig(
        hidden_size=256, num_attention_heads=4, rope_theta=500000.0, max_position_embeddings=64
    )
    x, y = _layer_out("rope: {theta: 500000.0}", (2, 4, 40, 64))
    rot = ml.LlamaRotaryEmbedding(cfg)
    xt = torch.from_numpy(x)
    cos, sin = rot(xt, torch.arange(40)[None, :].expand(2, -1))
    q, _ = ml.apply_rotary_pos_emb(xt, xt, cos, sin)
    np.testing.assert_allclose(y, q.numpy(), rtol=1e-5, atol=1e-5)


def _saved(tmp_path, options=()) -> dict:
    out = tmp_path / "llama_tiny.npz"
    r = cli_runner().invoke(
        main, ["verify", str(SPEC), "--save", str(out), *options], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("tied", [0, 1])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_llama_tiny_matches_transformers(tmp_path, tied, attn):
    tr = pytest.importorskip("transformers")
    cfg = tr.LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=172,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        max_position_embeddings=64,
        tie_word_embeddings=bool(tied),
        attn_implementation=attn,
    )
    model = tr.LlamaForCausalLM(cfg).eval()
    arrays = _saved(tmp_path, ["--set", f"tie_word_embeddings={tied}"])
    state = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("input", "output")}
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state, strict=True)
    n_params = sum(p.numel() for p in model.parameters())
    r = cli_runner().invoke(
        main, ["params", str(SPEC), "--format", "json", "--set", f"tie_word_embeddings={tied}"]
    )
    import json

    assert json.loads(r.stdout)["totals"]["params"] == n_params
    with torch.no_grad():
        logits = model(torch.from_numpy(arrays["input"])).logits
    np.testing.assert_allclose(arrays["output"], logits.numpy(), rtol=1e-4, atol=1e-4)


# -- `layercalc import hf` specs against transformers' models of the same tiny configs -----

TINY = {
    "llama": {
        "attention_bias": True,
        "mlp_bias": True,
        "tie_word_embeddings": False,
        "head_dim": 24,
    },  # heads * head_dim != hidden_size
    "mistral": {"tie_word_embeddings": False, "sliding_window": 64},
    "qwen2": {"tie_word_embeddings": True},
}


def _decoder_config(mt: str) -> dict:
    cfg = {
        "model_type": mt,
        "vocab_size": 96,
        "hidden_size": 64,
        "intermediate_size": 80,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-6,
        "rope_theta": 50000.0,
        "max_position_embeddings": 64,
    }
    cfg.update(TINY[mt])
    return cfg


def _imported_arrays(tmp_path, cfg: dict, *options) -> tuple[Path, dict]:
    from layercalc.importers.hf import convert

    spec = tmp_path / "imported.yaml"
    spec.write_text(convert(cfg)[0])
    out = tmp_path / "imported.npz"
    r = cli_runner().invoke(
        main, ["verify", str(spec), "--save", str(out), *options], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as data:
        return spec, {k: data[k] for k in data.files}


def _load(model, state: dict):
    state = {k: torch.from_numpy(v) for k, v in state.items()}
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state, strict=True)
    return sum(p.numel() for p in model.parameters())


def _params(spec) -> int:
    import json

    r = cli_runner().invoke(main, ["params", str(spec), "--format", "json"])
    return json.loads(r.stdout)["totals"]["params"]


@pytest.mark.parametrize("mt", sorted(TINY))
def test_imported_decoders_match_transformers(tmp_path, mt):
    tr = pytest.importorskip("transformers")
    cfg = _decoder_config(mt)
    spec, arrays = _imported_arrays(tmp_path, cfg, "--set", "batch=2")
    hf = tr.AutoConfig.for_model(**cfg)
    model = tr.AutoModelForCausalLM.from_config(hf).eval()
    state = {k: v for k, v in arrays.items() if k not in ("input", "output")}
    assert _load(model, state) == _params(spec)
    with torch.no_grad():
        logits = model(torch.from_numpy(arrays["input"])).logits
    np.testing.assert_allclose(arrays["output"], logits.numpy(), rtol=1e-4, atol=1e-4)


def test_imported_gpt2_matches_transformers(tmp_path):
    tr = pytest.importorskip("transformers")
    cfg = {
        "model_type": "gpt2",
        "vocab_size": 100,
        "n_positions": 32,
        "n_embd": 48,
        "n_layer": 2,
        "n_head": 4,
    }
    spec, arrays = _imported_arrays(tmp_path, cfg)
    model = tr.GPT2LMHeadModel(tr.GPT2Config(**cfg)).eval()
    conv1d = ("c_attn.weight", "c_fc.weight", "c_proj.weight")  # HF's Conv1D: (in, out)
    state = {
        k: (v.T.copy() if k.endswith(conv1d) else v)
        for k, v in arrays.items()
        if k not in ("input", "output")
    }
    assert _load(model, state) == _params(spec)
    with torch.no_grad():
        logits = model(torch.from_numpy(arrays["input"])).logits
    np.testing.assert_allclose(arrays["output"], logits.numpy(), rtol=1e-4, atol=1e-4)


def test_imported_bert_matches_transformers(tmp_path):
    tr = pytest.importorskip("transformers")
    cfg = {
        "model_type": "bert",
        "vocab_size": 100,
        "hidden_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 96,
        "max_position_embeddings": 32,
    }
    spec, arrays = _imported_arrays(tmp_path, cfg, "--set", "tokens=8")
    model = tr.BertModel(tr.BertConfig(**cfg)).eval()
    state = {
        k.replace(".output_.", ".output."): v  # while the language reserves `output`
        for k, v in arrays.items()
        if not k.startswith(("input", "output"))
    }
    assert _load(model, state) == _params(spec)
    with torch.no_grad():
        got = model(
            input_ids=torch.from_numpy(arrays["input.input_ids"]),
            token_type_ids=torch.from_numpy(arrays["input.token_type_ids"]),
        )
    np.testing.assert_allclose(
        arrays["output.encoder"], got.last_hidden_state.numpy(), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        arrays["output.pooler"], got.pooler_output.numpy(), rtol=1e-4, atol=1e-4
    )
