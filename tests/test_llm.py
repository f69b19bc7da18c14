"""Issue 19 without torch: the rotary_embedding layer, grouped-query attention as HF's
repeat_kv, specs/llama_tiny.yaml and `layercalc import hf` (exact parameter counts of the
published configs of Llama-3-8B, Mistral-7B-v0.1, Qwen2.5-0.5B, GPT-2 and BERT-base)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_located, cli_runner, net_of, one_layer

from layercalc.analyses import verify
from layercalc.analyses.loading import analyse, analyse_bytes
from layercalc.cli import main
from layercalc.importers.hf import ImportFailed, convert
from layercalc.weights import expected

SPECS = Path(__file__).resolve().parent.parent / "specs"

# -- rotary_embedding -----------------------------------------------------------------------


def test_rope_shape_params_macs_and_alias():
    layer = one_layer("rotary_embedding", [2, 4, 16, 64])
    assert layer.output == (2, 4, 16, 64)
    assert layer.tensors == [] or not layer.tensors
    assert layer.macs == 2 * 2 * 4 * 16 * 64  # 2 MACs per rotated element
    part = one_layer("rope: {dim: 32, theta: 500000.0}", [1, 2, 5, 64])
    assert part.macs == 2 * 1 * 2 * 5 * 32
    assert part.type.name == "rotary_embedding"


def _run(text: str) -> dict:
    v = verify.run(net_of(text), save=True)
    assert v.ok, [c.error for c in v.failed]
    return v.arrays


def _rope_np(x, theta=10000.0, dim=None, offset=0):
    """The rotation written independently, in float64: pair (i, i + dim/2) of position p
    turns by p / theta^(2i/dim)."""
    x = x.astype(np.float64)
    T, D = x.shape[-2:]
    dim = dim or D
    h = dim // 2
    p = np.arange(offset, offset + T, dtype=np.float64)[:, None]
    ang = p / theta ** (2 * np.arange(h) / dim)
    c, s = np.cos(ang), np.sin(ang)
    y = x.copy()
    x1, x2 = x[..., :h], x[..., h:dim]
    y[..., :h] = x1 * c - x2 * s
    y[..., h:dim] = x2 * c + x1 * s
    return y


@pytest.mark.parametrize(
    "entry, shape, kw",
    [
        ("rope", [2, 4, 9, 16], {}),
        ("rope: {theta: 500000.0, dim: 8}", [1, 3, 7, 24], {"theta": 500000.0, "dim": 8}),
        ("rope: {position_offset: 100}", [1, 2, 5, 32], {"offset": 100}),
        ("rope", [3, 6, 10], {}),
    ],
)
def test_rope_forward_is_the_rotation(entry, shape, kw):
    arrays = _run(f"input: {shape}\nlayers:\n  - {entry}\n")
    want = _rope_np(arrays["input"], **kw)
    np.testing.assert_allclose(arrays["output"], want, rtol=2e-4, atol=2e-4)


def test_rope_offset_equals_the_later_positions():
    whole = _run("input: [1, 2, 12, 16]\nlayers:\n  - rope\n")
    x = whole["input"][:, :, 7:].tolist()
    net = net_of("input: [1, 2, 5, 16]\nlayers:\n  - rope: {position_offset: 7}\n")
    v = verify.run(net, save=True, inputs={"input": np.array(x, dtype=np.float32)})
    np.testing.assert_allclose(v.arrays["output"], whole["output"][:, :, 7:], atol=1e-5)


def test_rope_odd_dim_is_refused_at_dim():
    d = assert_located(
        "input: [1, 2, 4, 16]\nlayers:\n  - rope: {dim: 7}\n", "shape-mismatch", 3, "7"
    )
    assert "odd" in d.message and "must match the size of tensor b (8)" in d.message


def test_rope_dim_larger_than_head_dim_is_refused():
    d = assert_located(
        "input: [1, 2, 4, 16]\nlayers:\n  - rope: {dim: 32}\n", "shape-mismatch", 3, "32"
    )
    assert "larger than the input's last dim 16" in d.message


def test_rope_odd_head_dim_is_refused_at_the_entry():
    d = assert_located("input: [1, 2, 4, 15]\nlayers:\n  - rope\n", "shape-mismatch", 3, "rope")
    assert "dim 15 is odd" in d.message


def test_rope_needs_two_dims():
    d = assert_located("input: [16]\nlayers:\n  - rope\n", "bad-rank", 3, "rope")
    assert "(..., T, D)" in d.message


def test_rope_explain_states_the_convention():
    r = cli_runner().invoke(
        main, ["explain", str(SPECS / "llama_tiny.yaml"), "model.layers.0.self_attn.k_rot"]
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "2 per rotated element" in text and "rotate_half" in text
    assert "non-persistent buffer" in text


# -- grouped-query attention is HF's repeat_kv ----------------------------------------------


def test_sdpa_enable_gqa_is_hf_repeat_kv():
    """HF's repeat_kv: query head h reads key/value head h // n_rep (each kv head repeated
    n_rep times in a row, expand + reshape), which enable_gqa does."""
    arrays = _run(
        """
        input: {q: [2, 6, 5, 8], k: [2, 2, 5, 8], v: [2, 2, 5, 8]}
        layers:
          - sdpa: {from: [q, k, v], is_causal: true, enable_gqa: true}
        """
    )
    q, k, v = (arrays[f"input.{n}"].astype(np.float64) for n in "qkv")
    n_rep = 3
    want = np.empty(q.shape)
    mask = np.tril(np.ones((5, 5), bool))
    for h in range(6):
        s = q[:, h] @ np.swapaxes(k[:, h // n_rep], -1, -2) / math.sqrt(8)
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        want[:, h] = p @ v[:, h // n_rep]
    np.testing.assert_allclose(arrays["output"], want, rtol=1e-4, atol=1e-5)


# -- specs/llama_tiny.yaml ------------------------------------------------------------------


def test_llama_tiny_checks_and_verifies():
    r = cli_runner().invoke(main, ["check", str(SPECS / "llama_tiny.yaml")])
    assert r.exit_code == 0, r.output
    r = cli_runner().invoke(main, ["verify", str(SPECS / "llama_tiny.yaml")])
    assert r.exit_code == 0, r.output


def test_llama_tiny_keys_are_hf_and_tying_counts_once():
    untied = analyse(str(SPECS / "llama_tiny.yaml"), None, None).net
    keys = set(expected(untied))
    for k in (
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.1.self_attn.k_proj.weight",
        "model.layers.1.self_attn.v_proj.weight",
        "model.layers.1.self_attn.o_proj.weight",
        "model.layers.0.post_attention_layernorm.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
    ):
        assert k in keys
    assert len(keys) == 2 + 2 * 9 + 1
    assert expected(untied)["model.layers.0.self_attn.k_proj.weight"][0] == (32, 64)
    tied = analyse(str(SPECS / "llama_tiny.yaml"), {"tie_word_embeddings": "1"}, None).net
    assert set(expected(tied)) == keys
    assert untied.totals()["params"] - tied.totals()["params"] == 128 * 64


# -- layercalc import hf --------------------------------------------------------------------

# the published config.json values (Hugging Face hub), trimmed of tokenizer ids
CONFIGS = {
    "Llama-3-8B": (
        {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "hidden_act": "silu",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "max_position_embeddings": 8192,
            "model_type": "llama",
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 8,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "vocab_size": 128256,
        },
        8_030_261_248,
    ),
    "Mistral-7B-v0.1": (
        {
            "architectures": ["MistralForCausalLM"],
            "hidden_act": "silu",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "max_position_embeddings": 32768,
            "model_type": "mistral",
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 8,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "sliding_window": 4096,
            "tie_word_embeddings": False,
            "vocab_size": 32000,
        },
        7_241_732_096,
    ),
    "Qwen2.5-0.5B": (
        {
            "architectures": ["Qwen2ForCausalLM"],
            "hidden_act": "silu",
            "hidden_size": 896,
            "intermediate_size": 4864,
            "max_position_embeddings": 32768,
            "max_window_layers": 24,
            "model_type": "qwen2",
            "num_attention_heads": 14,
            "num_hidden_layers": 24,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "sliding_window": 32768,
            "tie_word_embeddings": True,
            "use_sliding_window": False,
            "vocab_size": 151936,
        },
        494_032_768,
    ),
    "GPT-2": (
        {
            "activation_function": "gelu_new",
            "architectures": ["GPT2LMHeadModel"],
            "layer_norm_epsilon": 1e-05,
            "model_type": "gpt2",
            "n_ctx": 1024,
            "n_embd": 768,
            "n_head": 12,
            "n_layer": 12,
            "n_positions": 1024,
            "vocab_size": 50257,
        },
        124_439_808,
    ),
    "BERT-base": (
        {
            "architectures": ["BertForMaskedLM"],
            "hidden_act": "gelu",
            "hidden_size": 768,
            "intermediate_size": 3072,
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": 512,
            "model_type": "bert",
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "position_embedding_type": "absolute",
            "type_vocab_size": 2,
            "vocab_size": 30522,
        },
        109_514_298,  # BertForMaskedLM (its architectures): BertModel 109,482,240
    ),
}


def _import(tmp_path, cfg: dict, name="config.json", *extra):
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return cli_runner().invoke(main, ["import", "hf", str(path), *extra])


@pytest.mark.parametrize("model", sorted(CONFIGS))
def test_import_hf_exact_parameter_counts(tmp_path, model):
    cfg, params = CONFIGS[model]
    out = tmp_path / "spec.yaml"
    r = _import(tmp_path, cfg, "config.json", "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "repeat: n" in text  # written with blocks and repeat, not unrolled
    assert len(text.splitlines()) < 150
    small = ["--set", "tokens=8"]
    r = cli_runner().invoke(main, ["shape", "--format", "json", *small, str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["totals"]["params"] == params
    r = cli_runner().invoke(main, ["check", str(out)])
    assert r.exit_code == 0, r.output
    # the whole analysis of the spec, 32 decoder layers included (its time:
    # benchmarks/bench_llm.py, not a timed test)
    res = analyse(str(out), {"tokens": "8"}, None)
    assert res.ok and res.net.totals()["params"] == params


def test_import_hf_writes_stdout_and_keys(tmp_path):
    cfg, _ = CONFIGS["Qwen2.5-0.5B"]
    r = _import(tmp_path, cfg)
    assert r.exit_code == 0, r.output
    net = analyse_bytes(r.stdout.encode(), "q.yaml", {"num_hidden_layers": "2"}).net
    keys = expected(net)
    assert keys["model.layers.1.self_attn.q_proj.bias"][0] == (896,)
    assert keys["model.layers.1.self_attn.k_proj.weight"][0] == (128, 896)
    assert "model.layers.1.self_attn.o_proj.bias" not in keys
    assert "lm_head.weight" in keys and "model.norm.weight" in keys
    gpt2 = analyse_bytes(convert(CONFIGS["GPT-2"][0])[0].encode(), "g.yaml").net
    assert "transformer.h.11.attn.c_attn.weight" in expected(gpt2)
    bert = analyse_bytes(convert(CONFIGS["BERT-base"][0])[0].encode(), "b.yaml").net
    keys = expected(bert)  # BertForMaskedLM, the config's architectures[0]
    assert "bert.encoder.layer.11.attention.self.query.weight" in keys
    assert "bert.encoder.layer.11.attention.output.dense.weight" in keys  # torch_name
    assert "bert.encoder.layer.11.output.LayerNorm.bias" in keys
    assert keys["cls.predictions.decoder.weight"][0] == (30522, 768)  # tied
    assert "cls.predictions.bias" in keys and "bert.pooler.dense.weight" not in keys
    base = convert(CONFIGS["BERT-base"][0], arch="BertModel")[0]
    keys = expected(analyse_bytes(base.encode(), "b.yaml").net)
    assert "pooler.dense.weight" in keys and "encoder.layer.0.output.dense.bias" in keys


def test_import_hf_tiny_llama_matches_the_hand_written_spec(tmp_path):
    cfg = {
        "model_type": "llama",
        "vocab_size": 128,
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
    }
    text, warnings = convert(cfg)
    assert warnings == []
    imported = analyse_bytes(text.encode(), "i.yaml", {"batch": "2"}).net
    hand = analyse(str(SPECS / "llama_tiny.yaml"), None, None).net
    assert expected(imported).keys() == expected(hand).keys()
    assert imported.totals()["params"] == hand.totals()["params"]
    assert imported.totals()["macs"] == hand.totals()["macs"]


@pytest.mark.parametrize(
    "cfg, words",
    [
        ({"model_type": "falcon", "hidden_size": 8}, ["'falcon' is not supported", "llama"]),
        ({"hidden_size": 8}, ["no 'model_type'"]),
        ({"model_type": "llama", "hidden_size": 64}, ["'vocab_size'", "'intermediate_size'"]),
        (
            {
                "model_type": "gpt2",
                "vocab_size": 10,
                "n_embd": 8,
                "n_layer": 1,
                "n_head": 2,
                "activation_function": "quick_gelu",
            },
            ["'quick_gelu' has no layercalc equivalent"],
        ),
        (
            {
                "model_type": "bert",
                "vocab_size": -3,
                "hidden_size": 8,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 8,
            },
            ["vocab_size must be a positive"],
        ),
    ],
)
def test_import_hf_refusals_name_what_is_missing(tmp_path, cfg, words):
    r = _import(tmp_path, cfg, "config.json", "-o", str(tmp_path / "out.yaml"))
    assert r.exit_code == 1
    for w in words:
        assert w in r.stderr
    assert not (tmp_path / "out.yaml").exists()
    with pytest.raises(ImportFailed):
        convert(cfg)


def test_import_hf_unreadable_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli_runner().invoke(main, ["import", "hf", str(bad)])
    assert r.exit_code == 1 and f"{bad}:1:2: not JSON" in r.stderr
    r = cli_runner().invoke(main, ["import", "hf", str(tmp_path / "missing.json")])
    assert r.exit_code == 1 and "cannot read" in r.stderr
    r = _import(tmp_path, CONFIGS["GPT-2"][0], "c.json", "-o", str(tmp_path / "c.json"))
    assert r.exit_code == 1 and "it is the config" in r.stderr and "never overwritten" in r.stderr


def test_import_hf_rope_scaling_is_a_warning(tmp_path):
    cfg = dict(CONFIGS["Llama-3-8B"][0])
    cfg["rope_scaling"] = {"factor": 8.0, "rope_type": "llama3"}
    r = _import(tmp_path, cfg)
    assert r.exit_code == 0
    assert "rope_scaling" in r.stderr and "not modelled" in r.stderr


def test_import_hf_proves_the_spec_before_writing_it(tmp_path):
    """A config PyTorch would refuse (an odd head_dim of 9: rotate_half cannot pair its
    features) writes nothing and exits 1, the reason told at the config key behind it
    (never at a line of the spec that was not written)."""
    cfg = {
        "model_type": "llama",
        "vocab_size": 128,
        "hidden_size": 64,
        "intermediate_size": 172,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "head_dim": 9,
    }
    out = tmp_path / "l.yaml"
    (tmp_path / "config.json").write_text(json.dumps(cfg, indent=2))
    r = cli_runner().invoke(main, ["import", "hf", str(tmp_path / "config.json"), "-o", str(out)])
    assert r.exit_code == 1 and not out.exists()
    assert (
        "error: " in r.stderr
        and "[shape-mismatch]" in r.stderr
        and "nothing was written" in r.stderr
    )
    line = 1 + json.dumps(cfg, indent=2).splitlines().index('  "head_dim": 9')
    assert f"config.json:{line}:3: error: " in r.stderr
    assert "(config key head_dim)" in r.stderr
    assert "<spec>" not in r.stderr


# -- architectures, config defaults and what transformers refuses ---------------------------

TINY_DECODER = {
    "vocab_size": 96,
    "hidden_size": 64,
    "intermediate_size": 80,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
TINY_GPT2 = {"model_type": "gpt2", "vocab_size": 100, "n_embd": 48, "n_layer": 2, "n_head": 4}
TINY_BERT = {
    "model_type": "bert",
    "vocab_size": 100,
    "hidden_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 96,
}


def _keys(cfg: dict, arch=None) -> dict:
    net = analyse_bytes(convert(cfg, arch=arch)[0].encode(), "a.yaml").net
    return {k: v[0] for k, v in expected(net).items()}


def test_architectures_pick_the_class_and_its_keys():
    llama = {"model_type": "llama", **TINY_DECODER}
    keys = _keys({**llama, "architectures": ["LlamaModel"]})
    assert "embed_tokens.weight" in keys and "layers.1.mlp.up_proj.weight" in keys
    assert not any(k.startswith(("model.", "lm_head")) for k in keys)
    keys = _keys({**llama, "architectures": ["LlamaForSequenceClassification"]})
    assert keys["score.weight"] == (2, 64) and "model.norm.weight" in keys
    keys = _keys(
        {**llama, "id2label": {"0": "a", "1": "b", "2": "c"}}, "LlamaForTokenClassification"
    )
    assert keys["score.weight"] == (3, 64) and keys["score.bias"] == (3,)
    keys = _keys({**llama, "architectures": ["LlamaForQuestionAnswering"]})
    assert keys["qa_outputs.weight"] == (2, 64) and "transformer.norm.weight" in keys
    keys = _keys({**llama, "model_type": "mistral"}, "MistralForQuestionAnswering")
    assert "model.norm.weight" in keys  # Mistral's QA keeps `model`
    keys = _keys(TINY_GPT2, "GPT2Model")
    assert {"wte.weight", "wpe.weight", "ln_f.bias", "h.1.attn.c_attn.weight"} <= set(keys)
    keys = _keys({**TINY_GPT2, "num_labels": 5}, "GPT2ForSequenceClassification")
    assert keys["score.weight"] == (5, 48) and "score.bias" not in keys
    keys = _keys(TINY_BERT, "BertForSequenceClassification")
    assert keys["classifier.weight"] == (2, 48) and "bert.pooler.dense.weight" in keys


def test_sequence_classification_scores_every_token_then_keeps_the_last():
    cfg = {"model_type": "qwen2", **TINY_DECODER, "num_labels": 3}
    net = analyse_bytes(
        convert(cfg, arch="Qwen2ForSequenceClassification")[0].encode(), "s.yaml"
    ).net
    score = net.layers[[x.name for x in net.layers].index("score")]
    assert score.macs == 16 * 64 * 3  # all 16 tokens, as transformers' forward
    assert tuple(net.layers[-1].output) == (1, 3)


@pytest.mark.parametrize(
    "cfg, arch, words",
    [
        ({**TINY_GPT2, "architectures": ["GPT2DoubleHeadsModel"]}, None, ["GPT2Model"]),
        (TINY_GPT2, "LlamaModel", ["'LlamaModel'", "GPT2LMHeadModel"]),
        ({**TINY_GPT2, "n_embd": 50}, None, ["n_embd 50 is not divisible by n_head 4"]),
        ({**TINY_GPT2, "add_cross_attention": True}, None, ["add_cross_attention"]),
        ({**TINY_BERT, "is_decoder": True}, None, ["is_decoder is true"]),
        ({**TINY_BERT, "add_cross_attention": True}, None, ["add_cross_attention"]),
        ({**TINY_BERT, "hidden_size": 50}, None, ["hidden_size 50 is not a multiple"]),
        (
            {"model_type": "llama", **TINY_DECODER, "hidden_size": 66},
            None,
            ["hidden_size 66 is not a multiple", "LlamaConfig"],
        ),
        (
            {"model_type": "mistral", **TINY_DECODER, "num_key_value_heads": 3},
            None,
            ["num_attention_heads 4 is not a multiple of num_key_value_heads 3"],
        ),
        (  # Qwen2Config's default num_key_value_heads is 32, not num_attention_heads
            {
                "model_type": "qwen2",
                **{k: v for k, v in TINY_DECODER.items() if k != "num_key_value_heads"},
            },
            None,
            ["num_key_value_heads 32", "Qwen2Config's default"],
        ),
        ({**TINY_BERT, "num_labels": 3}, "BertForQuestionAnswering", ["num_labels 2"]),
        ({**TINY_BERT, "num_labels": 3, "id2label": {"0": "a"}}, None, ["disagrees"]),
    ],
)
def test_what_transformers_refuses_is_refused(cfg, arch, words):
    # id2label and num_labels are read by the classes with a classifier
    arch = arch or ("BertForSequenceClassification" if "id2label" in cfg else None)
    with pytest.raises(ImportFailed) as exc:
        convert(cfg, arch=arch)
    for w in words:
        assert w in str(exc.value)


def test_missing_keys_take_the_config_classes_defaults():
    decoder = {k: v for k, v in TINY_DECODER.items() if k != "num_key_value_heads"}
    # tie_word_embeddings: False for LlamaConfig, MistralConfig and Qwen2Config
    for mt in ("llama", "mistral", "qwen2"):
        cfg = {"model_type": mt, **decoder, "num_key_value_heads": 2}
        assert "tie_word_embeddings: 0" in convert(cfg)[0], mt
    # GPT2Config and BertConfig (BertForMaskedLM's decoder) tie
    assert "tie_word_embeddings: 1" in convert(TINY_GPT2)[0]
    assert "tie_word_embeddings: 1" in convert(TINY_BERT, arch="BertForMaskedLM")[0]
    # MistralConfig: 8 key/value heads and a 4096 window when the keys are absent
    text = convert({"model_type": "mistral", **decoder, "num_attention_heads": 8})[0]
    assert "num_key_value_heads: 8" in text and "sliding_window: 4096" in text
    text = convert({"model_type": "mistral", **TINY_DECODER, "sliding_window": None})[0]
    assert "sliding_window" not in text.split("vars:")[1].split("input:")[0]


def test_qwen2_sliding_window_layers_become_vars():
    cfg = {"model_type": "qwen2", **TINY_DECODER, "sliding_window": 8}
    assert "max_window_layers" not in convert(cfg)[0]  # use_sliding_window false
    cfg.update(use_sliding_window=True, max_window_layers=1)
    text = convert(cfg)[0]
    assert "sliding_window: 8" in text and "max_window_layers: 1" in text
    cfg["layer_types"] = ["sliding_attention", "full_attention"]
    with pytest.raises(ImportFailed, match="layer_types"):
        convert(cfg)


# -- what a new user's configs met (trial of issue 19) ---------------------------------------


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("rope_theta", "abc", "rope_theta must be a positive number, got 'abc'"),
        ("rope_theta", None, "rope_theta must be a positive number, got None"),
        ("rms_norm_eps", [1], "rms_norm_eps must be a positive number, got [1]"),
        ("rms_norm_eps", -1e-5, "rms_norm_eps must be a positive number"),
        ("attention_bias", "no", "attention_bias must be true or false, got 'no'"),
        ("mlp_bias", 1, "mlp_bias must be true or false, got 1"),
    ],
)
def test_bad_config_values_are_located_errors(tmp_path, key, value, message):
    cfg = dict(CONFIGS["Llama-3-8B"][0], **{key: value})
    r = _import(tmp_path, cfg)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert message in r.stderr and "config.json:1:" in r.stderr


def test_a_config_that_is_no_json_is_located_where_the_parser_stopped(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "llama",\n  bad\n}\n')
    r = cli_runner().invoke(main, ["import", "hf", str(path)])
    assert r.exit_code == 1
    assert f"{path}:3:3: not JSON: Expecting property name" in r.stderr


def test_partial_rotary_factor_is_ignored_as_transformers_ignores_it(tmp_path):
    """transformers 5's Llama rotates the whole head_dim (compute_default_rope_parameters
    never reads partial_rotary_factor): the spec does the same and says so."""
    out = tmp_path / "s.yaml"
    cfg = dict(CONFIGS["Llama-3-8B"][0], partial_rotary_factor=0.5)
    r = _import(tmp_path, cfg, "config.json", "-o", str(out))
    assert r.exit_code == 0
    assert "partial_rotary_factor 0.5 is ignored" in r.stderr
    assert "rotary_dim" not in out.read_text()  # q_rot and k_rot turn the whole head_dim


def test_an_unknown_dtype_is_a_warning_and_float32(tmp_path):
    out = tmp_path / "s.yaml"
    r = _import(
        tmp_path, dict(CONFIGS["Llama-3-8B"][0], torch_dtype="float8"), "c.json", "-o", str(out)
    )
    assert r.exit_code == 0 and "the config's dtype 'float8' is not one layercalc sizes" in r.stderr
    assert "\ndtype:" not in out.read_text()


def test_max_layers_reaches_the_proof(tmp_path):
    cfg = dict(CONFIGS["Llama-3-8B"][0], num_hidden_layers=20_000)
    r = _import(tmp_path, cfg)
    assert r.exit_code == 1 and "error: " in r.stderr and "[too-many-layers]" in r.stderr
    assert "is too large (above); nothing was written" in r.stderr
    assert "transformers would refuse" not in r.stderr
    out = tmp_path / "s.yaml"
    r = _import(tmp_path, cfg, "config.json", "--max-layers", "500000", "-o", str(out))
    assert r.exit_code == 0, r.output
