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


@pytest.mark.parametrize(
    "scaling",
    [
        {},
        {"scale_attn_weights": False},
        {"scale_attn_by_inverse_layer_idx": True},
        {"scale_attn_weights": False, "scale_attn_by_inverse_layer_idx": True},
    ],
)
def test_imported_gpt2_matches_transformers(tmp_path, scaling):
    """Also GPT2Attention's two scaling switches: no / sqrt(head_dim), and / (layer
    index + 1) (the spec's repeat passes each block its index)."""
    tr = pytest.importorskip("transformers")
    cfg = {
        "model_type": "gpt2",
        "vocab_size": 100,
        "n_positions": 32,
        "n_embd": 48,
        "n_layer": 3,
        "n_head": 4,
        **scaling,
    }
    spec, arrays = _imported_arrays(tmp_path, cfg)
    model = tr.GPT2LMHeadModel(tr.GPT2Config(**cfg)).eval()
    # c_attn, c_fc and c_proj are transformers_conv1d: (in, out), loaded as they are
    state = {k: v for k, v in arrays.items() if k not in ("input", "output")}
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
    spec, arrays = _imported_arrays(tmp_path, cfg, "--set", "tokens=8")  # BertModel
    model = tr.BertModel(tr.BertConfig(**cfg)).eval()
    # BertAttention.output and BertLayer.output: `output_` with torch_name: output
    state = {k: v for k, v in arrays.items() if not k.startswith(("input", "output"))}
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


# -- every architecture `import hf` writes, against transformers on the meta device ----------

_ARCH_CONFIGS = {
    "llama": {k: v for k, v in _decoder_config("llama").items() if k != "model_type"},
    "mistral": {k: v for k, v in _decoder_config("mistral").items() if k != "model_type"},
    "qwen2": {k: v for k, v in _decoder_config("qwen2").items() if k != "model_type"},
    "gpt2": {"vocab_size": 100, "n_positions": 32, "n_embd": 48, "n_layer": 2, "n_head": 4},
    "bert": {
        "vocab_size": 100,
        "hidden_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 96,
        "max_position_embeddings": 32,
    },
}


def _spec_state(text: str) -> tuple[dict, int]:
    from layercalc.analyses.loading import analyse_bytes
    from layercalc.weights import expected

    net = analyse_bytes(text.encode(), "a.yaml").net
    assert net is not None
    return {k: v[0] for k, v in expected(net).items()}, net.totals()["params"]


def _meta_state(tr, mt: str, arch: str, cfg: dict) -> tuple[dict, int]:
    hf = tr.AutoConfig.for_model(mt, **cfg)
    with torch.device("meta"):
        model = getattr(tr, arch)(hf)
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return state, sum(p.numel() for p in model.parameters())


def _all_architectures():
    from layercalc.importers.hf import ARCHITECTURES

    return [(mt, arch) for mt, archs in ARCHITECTURES.items() for arch in archs]


@pytest.mark.parametrize("mt, arch", _all_architectures())
def test_every_architecture_has_transformers_keys_shapes_and_count(mt, arch):
    tr = pytest.importorskip("transformers")
    from layercalc.importers.hf import convert

    labels = {"id2label": {"0": "a", "1": "b"}} if arch.endswith("QuestionAnswering") else {}
    labels = labels or {"id2label": {"0": "a", "1": "b", "2": "c"}}
    cfg = {**_ARCH_CONFIGS[mt], **labels, "architectures": [arch]}
    spec_state, spec_params = _spec_state(convert({"model_type": mt, **cfg})[0])
    state, params = _meta_state(tr, mt, arch, cfg)
    assert spec_state == state  # every key, with its shape
    assert spec_params == params


@pytest.mark.parametrize(
    "mt, arch, tie",
    [
        ("bert", "BertForMaskedLM", False),  # transformers 5 then ties neither tensor
        ("gpt2", "GPT2LMHeadModel", False),
        ("llama", "LlamaForCausalLM", True),
    ],
)
def test_tie_word_embeddings_either_way(mt, arch, tie):
    tr = pytest.importorskip("transformers")
    from layercalc.importers.hf import convert

    cfg = {**_ARCH_CONFIGS[mt], "tie_word_embeddings": tie}
    spec_state, spec_params = _spec_state(convert({"model_type": mt, **cfg}, arch=arch)[0])
    state, params = _meta_state(tr, mt, arch, cfg)
    assert spec_state == state
    assert spec_params == params


def test_the_shipped_configs_have_transformers_keys_and_counts():
    tr = pytest.importorskip("transformers")
    import json

    from layercalc.importers.hf import convert

    for path in sorted((SPEC.parent / "configs").glob("*.json")):
        cfg = json.loads(path.read_text())
        spec_state, spec_params = _spec_state(convert(cfg)[0])
        rest = {k: v for k, v in cfg.items() if k != "model_type"}
        state, params = _meta_state(tr, cfg["model_type"], cfg["architectures"][0], rest)
        assert spec_state == state, path.name
        assert spec_params == params, path.name


def test_qwen2_without_tie_word_embeddings_is_untied_as_in_transformers():
    tr = pytest.importorskip("transformers")
    from layercalc.importers.hf import convert

    cfg = {k: v for k, v in _ARCH_CONFIGS["qwen2"].items() if k != "tie_word_embeddings"}
    spec_state, spec_params = _spec_state(convert({"model_type": "qwen2", **cfg})[0])
    state, params = _meta_state(tr, "qwen2", "Qwen2ForCausalLM", cfg)
    assert spec_params == params  # lm_head counted apart: Qwen2Config ties nothing
    assert spec_state == state


@pytest.mark.parametrize("mt", ["llama", "mistral", "qwen2"])
@pytest.mark.parametrize("attention_bias, mlp_bias", [(True, False), (False, True), (True, True)])
def test_bias_keys_as_each_model_type_reads_them(mt, attention_bias, mlp_bias):
    """Llama reads attention_bias and mlp_bias; Mistral and Qwen2 build their linears
    with bias=False (Qwen2's q/k/v with bias=True) whatever the config says."""
    tr = pytest.importorskip("transformers")
    from layercalc.importers.hf import convert

    cfg = {**_ARCH_CONFIGS[mt], "attention_bias": attention_bias, "mlp_bias": mlp_bias}
    spec_state, spec_params = _spec_state(convert({"model_type": mt, **cfg})[0])
    state, params = _meta_state(tr, mt, f"{mt.capitalize()}ForCausalLM", cfg)
    assert spec_state == state
    assert spec_params == params


# -- the sliding window against transformers' DynamicCache --------------------------------------


def _cache_bytes(cache) -> list:
    return [(layer.keys.numel() + layer.values.numel()) * 4 for layer in cache.layers]


@pytest.mark.parametrize(
    "mt, extra",
    [
        ("mistral", {"sliding_window": 8}),
        ("qwen2", {"use_sliding_window": True, "sliding_window": 8, "max_window_layers": 1}),
    ],
)
def test_kv_cache_with_a_sliding_window_matches_transformers(tmp_path, mt, extra):
    tr = pytest.importorskip("transformers")
    import json

    from layercalc.importers.hf import convert

    cfg = {**_decoder_config(mt), **extra}
    spec = tmp_path / "w.yaml"
    spec.write_text(convert(cfg)[0])
    context, new = 20, 5
    r = cli_runner().invoke(
        main,
        ["cost", str(spec), "--context", str(context), "--new-tokens", str(new)]
        + ["--format", "json"],
    )
    assert r.exit_code == 0, r.output
    g = json.loads(r.stdout)["generation"]
    model = tr.AutoModelForCausalLM.from_config(tr.AutoConfig.for_model(**cfg)).eval()
    with torch.no_grad():
        cache = model(torch.zeros(1, context, dtype=torch.long), use_cache=True).cache
        assert g["kv_cache"]["bytes"] == sum(_cache_bytes(cache))
        for _ in range(new - 1):  # every new token but the last is fed back
            cache = model(torch.zeros(1, 1, dtype=torch.long), cache=cache).cache
        assert g["kv_cache"]["final_bytes"] == sum(_cache_bytes(cache))
    windowed = [getattr(layer, "sliding_window", None) for layer in cache.layers]
    assert g["kv_cache"]["windowed_attention_calls"] == sum(w is not None for w in windowed)
    assert g["kv_cache"]["sliding_window"] == 8


@pytest.mark.parametrize(
    "mt, arch",
    [
        ("gpt2", "GPT2LMHeadModel"),
        ("gpt2", "GPT2Model"),
        ("bert", "BertForMaskedLM"),
        ("bert", "BertModel"),
        ("qwen2", "Qwen2ForSequenceClassification"),
    ],
)
def test_check_weights_accepts_the_transformers_checkpoint(tmp_path, mt, arch):
    """`check --weights` on a checkpoint transformers saved (Conv1D weights (in, out),
    BERT's `output` modules): every key and shape agrees."""
    tr = pytest.importorskip("transformers")
    st = pytest.importorskip("safetensors.torch")
    from layercalc.importers.hf import convert

    cfg = {**_ARCH_CONFIGS[mt], "architectures": [arch]}
    model = getattr(tr, arch)(tr.AutoConfig.for_model(mt, **cfg))
    weights = tmp_path / "model.safetensors"
    st.save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, weights)
    spec = tmp_path / "spec.yaml"
    spec.write_text(convert({"model_type": mt, **cfg})[0])
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(weights)])
    assert r.exit_code == 0, r.output
    assert "all passed" in r.output
