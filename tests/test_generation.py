"""Issue 19, part 3: `layercalc cost --context N --batch B [--new-tokens T]` (the KV cache,
weights memory per format, prefill, per-token and training FLOPs), every figure checked
against arithmetic written here from the published config, not from layercalc."""

import importlib.util
import json
from pathlib import Path

import pytest
from conftest import cli_runner
from test_llm import CONFIGS

from layercalc.analyses.generation import GenerationError, generation
from layercalc.analyses.loading import analyse, analyse_bytes
from layercalc.cli import main
from layercalc.importers.hf import convert

SPECS = Path(__file__).resolve().parent.parent / "specs"
LLAMA3 = {**CONFIGS["Llama-3-8B"][0], "torch_dtype": "bfloat16"}


def _spec(tmp_path, cfg: dict, name="spec.yaml") -> str:
    out = tmp_path / name
    out.write_text(convert(cfg)[0])
    return str(out)


def _gen(path: str, *args) -> dict:
    r = cli_runner().invoke(main, ["cost", path, "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# -- the KV cache ---------------------------------------------------------------------------


def test_llama3_8b_kv_cache_at_8k_is_one_gib(tmp_path):
    out = _gen(_spec(tmp_path, LLAMA3), "--context", "8192", "--batch", "1")
    g = out["generation"]
    assert g["dtype"] == "bfloat16" and g["dtype_bytes"] == 2  # from torch_dtype
    kv = g["kv_cache"]
    assert kv["bytes"] == 2 * 32 * 8 * 128 * 8192 * 1 * 2 == 1_073_741_824
    assert kv["attention_calls"] == 32 and kv["cross_attention_calls"] == 0
    assert kv["elements_per_token"] == 2 * 32 * 8 * 128 and kv["causal"] is True
    # the per-layer table is the prefill's: batch 1, 8,192 tokens
    assert out["layers"][0]["output"] == [1, 8192, 4096]


def test_kv_cache_scales_with_batch_tokens_and_new_tokens(tmp_path):
    g = _gen(_spec(tmp_path, LLAMA3), "--context", "1000", "--batch", "3", "--new-tokens", "25")[
        "generation"
    ]
    per = 2 * 32 * 8 * 128 * 2  # bytes per token and sequence
    assert g["batch"] == 3 and g["kv_cache"]["bytes"] == per * 1000 * 3
    assert g["kv_cache"]["final_tokens"] == 1024
    assert g["kv_cache"]["final_bytes"] == per * 1024 * 3


def test_gqa_against_mha(tmp_path):
    """Grouped-query attention (8 kv heads) keeps a quarter of the cache of multi-head
    attention (32), and saves exactly the k_proj and v_proj weights' MACs."""
    gqa = _gen(_spec(tmp_path, LLAMA3, "g.yaml"), "--context", "4096", "--batch", "2")
    mha = _gen(
        _spec(tmp_path, {**LLAMA3, "num_key_value_heads": 32}, "m.yaml"),
        "--context",
        "4096",
        "--batch",
        "2",
    )
    assert mha["generation"]["kv_cache"]["bytes"] == 4 * gqa["generation"]["kv_cache"]["bytes"]
    assert mha["generation"]["kv_cache"]["bytes"] == 2 * 32 * 32 * 128 * 4096 * 2 * 2
    # per layer and token: k_proj and v_proj, d x (d - kv·hd), and rotary's 2 MACs per
    # element of the extra keys; 32 layers, B·N = 2 · 4096 tokens
    saved = 32 * (2 * 4096 * (4096 - 1024) + 2 * (4096 - 1024)) * 4096 * 2
    assert mha["totals"]["macs"] - gqa["totals"]["macs"] == saved
    # the attention terms (Q·Kᵀ and A·V over the query heads) are the same
    fg, fm = gqa["generation"]["flops"], mha["generation"]["flops"]
    assert fg["per_token_attention_per_key"] == fm["per_token_attention_per_key"]


def test_input_override_and_standard_input():
    """--input replaces the spec's [batch, tokens]: its dims are set, not the vars; a spec
    read from standard input is rebuilt from its parsed nodes."""
    tiny = str(SPECS / "llama_tiny.yaml")
    per = 2 * 2 * 2 * 16 * 4  # layers, K and V, kv heads, head_dim, float32
    g = _gen(tiny, "--input", "4,16", "--context", "64")["generation"]
    assert (g["token_dim"], g["batch"], g["kv_cache"]["bytes"]) == (
        "dim 1 of the input",
        4,
        per * 64 * 4,
    )
    r = cli_runner().invoke(
        main,
        ["cost", "-", "--context", "64", "--format", "json"],
        input=Path(tiny).read_text(),
    )
    assert r.exit_code == 0, r.output
    g = json.loads(r.stdout)["generation"]
    assert (g["token_dim"], g["batch"], g["kv_cache"]["bytes"]) == ("var tokens", 2, per * 64 * 2)


def test_multihead_attention_and_a_sequence_first_encoder():
    """specs/transformer_classifier.yaml: nn.TransformerEncoder over (L, N) token ids, no
    causal mask. Its vars seq_len and batch are set; each layer caches the projected K
    and V, 2·E per token; the note says it looks like an encoder."""
    net = analyse(str(SPECS / "transformer_classifier.yaml")).net
    g, prefill = generation(net, 300, 1, 5)
    assert prefill.spec.input_refs() == {"input.tokens": (300, 5), "input.padding": (5, 300)}
    assert g.token_dim == "var seq_len" and g.batch == 5
    assert g.figures["kv_cache_bytes"] == 4 * 2 * 256 * 300 * 5 * 4
    assert g.figures["causal"] is False
    r = cli_runner().invoke(
        main, ["cost", str(SPECS / "transformer_classifier.yaml"), "--context", "300"]
    )
    assert r.exit_code == 0 and "looks like an encoder" in r.stdout


def test_cross_attention_is_cached_once_at_its_own_length(tmp_path):
    """nn.TransformerDecoderLayer over a memory of 10 positions: the token dim is dim 1 of
    tgt alone (memory has the same size there, but its length stays); self-attention
    caches 2·E per token, cross-attention 2·E per memory position, once."""
    spec = tmp_path / "x.yaml"
    spec.write_text(
        "input: {tgt: [2, 10, 32], memory: [2, 10, 32]}\n"
        "layers:\n"
        "  - transformer_decoder_layer: {from: {tgt: tgt, memory: memory}, d_model: 32,\n"
        "      nhead: 4, dim_feedforward: 64, batch_first: true}\n"
    )
    g = _gen(str(spec), "--context", "100", "--batch", "3")["generation"]
    assert g["token_dim"] == "dim 1 of input tgt"
    kv = g["kv_cache"]
    assert (kv["attention_calls"], kv["cross_attention_calls"]) == (1, 1)
    assert kv["cross_attention_bytes"] == 2 * 32 * 10 * 3 * 4
    assert kv["bytes"] == 2 * 32 * 100 * 3 * 4 + 2 * 32 * 10 * 3 * 4


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="transformers")
def test_kv_cache_equals_transformers_dynamic_cache(tmp_path):
    """A 2-layer tiny Llama run by transformers: the bytes of its DynamicCache after a
    prompt of 37 tokens (batch 3) equal layercalc's figure for the imported config."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=16,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(0, 128, (3, 37))
    with torch.no_grad():
        cache = model(ids, use_cache=True).past_key_values
    tensors = []
    if hasattr(cache, "layers"):
        for layer in cache.layers:
            tensors += [layer.keys, layer.values]
    else:  # transformers 4
        tensors = list(cache.key_cache) + list(cache.value_cache)
    torch_bytes = sum(t.numel() * t.element_size() for t in tensors)
    spec = _spec(tmp_path, {**cfg.to_dict(), "model_type": "llama", "torch_dtype": "float32"})
    g = _gen(spec, "--context", "37", "--batch", "3")["generation"]
    assert g["kv_cache"]["bytes"] == torch_bytes == 2 * 2 * 2 * 16 * 37 * 3 * 4


# -- weights memory ---------------------------------------------------------------------------


def _llama3_matrices():
    """(out, in) of every linear weight of Llama-3-8B but lm_head, from the config."""
    d, f, kv = 4096, 14336, 8 * 128
    per_layer = [(d, d), (kv, d), (kv, d), (d, d), (f, d), (f, d), (d, f)]
    return per_layer * 32


def test_weights_memory_of_every_format(tmp_path):
    g = _gen(_spec(tmp_path, LLAMA3), "--context", "16", "--group-size", "64")["generation"]
    mats = _llama3_matrices()
    n = sum(o * i for o, i in mats)
    params = 8_030_261_248
    other = (params - n) * 2  # embeddings, norms and lm_head at bf16
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    want = {
        "bfloat16": params * 2,
        "int8": sum(o * i + 4 * o for o, i in mats) + other,
        "fp8": sum(o * i + 4 for o, i in mats) + other,
        "int4-g64": sum(
            ceil(o * i, 2) + 2 * o * ceil(i, 64) + ceil(o * ceil(i, 64), 2) for o, i in mats
        )
        + other,
        "nf4": sum(
            ceil(o * i, 2) + ceil(o * i, 64) + 4 * ceil(ceil(o * i, 64), 256) + 64 + 1024 + 4
            for o, i in mats
        )
        + other,
    }
    got = {w["format"]: w["bytes"] for w in g["weights"]}
    assert got == want
    assert all(w["quantized_weights"] == n == 6_979_321_856 for w in g["weights"])
    assert all(w["quantized_tensors"] == 224 for w in g["weights"])
    # QLoRA's figure: nf4 with double quantization is 4 + 8/64 + 32/(64·256) = 4.127
    # bits a weight; the per-tensor tables (1,092 bytes x 224) add 0.00028
    nf4 = next(w for w in g["weights"] if w["format"] == "nf4")
    extra = 8 * 1092 * 224 / n
    assert abs(nf4["quantized_bytes"] * 8 / n - (4 + 8 / 64 + 32 / (64 * 256)) - extra) < 1e-6


def test_tied_output_head_stays_at_the_spec_dtype(tmp_path):
    """GPT-2: lm_head is tied to wte (no weight of its own): nothing of it is quantized."""
    g = _gen(_spec(tmp_path, CONFIGS["GPT-2"][0]), "--context", "64")["generation"]
    per_layer = [(2304, 768), (768, 768), (3072, 768), (768, 3072)]
    n = sum(o * i for o, i in per_layer) * 12
    assert g["weights"][1]["quantized_weights"] == n
    assert g["weights"][0]["bytes"] == 124_439_808 * 4


# -- FLOPs ------------------------------------------------------------------------------------


def test_prefill_is_twice_the_macs_of_the_network_at_that_context(tmp_path):
    path = _spec(tmp_path, LLAMA3)
    g = _gen(path, "--context", "2048", "--batch", "4")["generation"]
    plain = _gen(path, "--set", "tokens=2048", "--set", "batch=4")
    assert g["flops"]["prefill_macs"] == plain["totals"]["macs"]
    assert g["flops"]["prefill"] == 2 * plain["totals"]["macs"]


def test_per_token_flops_of_llama_tiny_by_hand():
    """specs/llama_tiny.yaml: d 64, 4 heads of 16, 2 kv heads, F 172, vocab 128, 2 layers.
    Per token: q 64·64, k and v 64·32, o 64·64, gate/up/down 3·64·172, rotary 2 MACs per
    q and k element; lm_head 64·128. Attention per key: 4 heads x (16 + 16) per layer."""
    linear = 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172 + 2 * (64 + 32)) + 64 * 128
    per_key = 2 * 4 * (16 + 16)
    net = analyse(str(SPECS / "llama_tiny.yaml")).net
    N, T, B = 40, 6, 3
    g, prefill = generation(net, N, T, B)
    f = g.figures
    assert f["decode_linear_flops"] == 2 * B * linear
    assert f["decode_attention_flops_per_key"] == 2 * B * per_key
    assert f["flops_per_token_at_context"] == 2 * B * (linear + per_key * (N + 1))
    # the prefill: every token's linear work and the dense N x N attention
    assert f["prefill_macs"] == B * (N * linear + per_key * N * N)
    steps = [2 * B * (linear + per_key * (p + 1)) for p in range(N, N + T - 1)]
    assert f["decode_steps"] == T - 1 and f["decode_flops"] == sum(steps)
    assert f["generation_flops"] == 2 * f["prefill_macs"] + sum(steps)
    # training: 3 x forward per token at the context (PaLM's 6N + 12·L·H·Q·T)
    assert f["training_flops_per_token"] == 6 * (linear + per_key * N)
    assert f["training_attention_flops_per_token"] == 12 * 2 * 4 * 16 * N
    assert f["kv_cache_bytes"] == 2 * 2 * 2 * 16 * N * B * 4


def test_training_flops_against_published_figures(tmp_path):
    """Llama 3 405B was pre-trained with 3.8e25 FLOPs on 15.6T tokens (Llama 3 paper,
    2024): 6N per token. Llama-3-8B's 6N, and the attention term at 8,192 tokens."""
    cfg = {
        **LLAMA3,
        "hidden_size": 16384,
        "intermediate_size": 53248,
        "num_attention_heads": 128,
        "num_hidden_layers": 126,
    }
    net = analyse_bytes(convert(cfg)[0].encode(), "405b.yaml").net
    g, _ = generation(net, 16, 1, 1)
    six_n = g.figures["six_n"]
    assert abs(six_n * 15.6e12 / 3.8e25 - 1) < 0.01
    t = _gen(_spec(tmp_path, LLAMA3), "--context", "8192")["generation"]
    t = t["training_flops_per_token"]
    assert t["six_n"] == 6 * 8_030_261_248
    assert t["attention"] == 6 * 32 * 32 * (128 + 128) * 8192  # 12·L·H·Q·T
    assert t["total"] == t["linear"] + t["attention"]
    assert t["kaplan"] == 6 * (8_030_261_248 - 128256 * 4096) + t["attention"] // 2


# -- output -----------------------------------------------------------------------------------

KEYS = {
    "context",
    "new_tokens",
    "batch",
    "group_size",
    "dtype",
    "dtype_bytes",
    "token_dim",
    "window_from",
    "warnings",
    "weights",
    "kv_cache",
    "flops",
    "training_flops_per_token",
    "conventions",
}


def test_json_keys_are_stable_and_exact_integers(tmp_path):
    out = _gen(str(SPECS / "llama_tiny.yaml"), "--context", "32", "--new-tokens", "4")
    g = out["generation"]
    assert set(g) == KEYS
    assert [w["format"] for w in g["weights"]] == ["float32", "int8", "fp8", "int4-g128", "nf4"]
    assert set(g["kv_cache"]) == {
        "bytes",
        "tokens",
        "final_tokens",
        "final_bytes",
        "elements_per_token",
        "attention_calls",
        "cross_attention_calls",
        "cross_attention_bytes",
        "causal",
        "sliding_window",
        "windowed_attention_calls",
        "window_tokens",
    }
    assert set(g["flops"]) == {
        "prefill",
        "prefill_macs",
        "prefill_dense_macs",
        "per_token_at_context",
        "per_token_linear",
        "per_token_attention_per_key",
        "decode_steps",
        "decode",
        "generation",
    }
    for block in ("flops", "training_flops_per_token"):
        assert all(type(v) is int for v in g[block].values())
    # without --context the object is unchanged
    assert "generation" not in _gen(str(SPECS / "llama_tiny.yaml"))


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_every_format_and_80_columns(tmp_path, fmt):
    path = _spec(tmp_path, LLAMA3)
    r = cli_runner(env={"COLUMNS": "80"}).invoke(
        main, ["cost", path, "--context", "8192", "--batch", "1", "--format", fmt, "--depth", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "1,073,741,824" in r.stdout or "1073741824" in r.stdout
    if fmt == "table":
        assert max(len(line) for line in r.stdout.splitlines()) <= 80
        assert "Generation: " in r.stdout and "KV cache, 8,192 tokens" in r.stdout
    if fmt == "csv":
        assert "file,quantity,value" in r.stdout
        assert ",kv_cache_bytes,1073741824" in r.stdout


# -- refusals ---------------------------------------------------------------------------------


def test_a_network_without_attention_is_refused_cleanly():
    r = cli_runner().invoke(main, ["cost", str(SPECS / "resnet18.yaml"), "--context", "128"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "error: " in r.stderr and "[no-attention]" in r.stderr and "no KV cache" in r.stderr
    r = cli_runner().invoke(
        main, ["cost", str(SPECS / "resnet18.yaml"), "--context", "128", "--format", "json"]
    )
    assert r.exit_code == 1
    assert json.loads(r.stdout)["errors"][0]["code"] == "no-attention"
    # the other specs of the run are still reported
    r = cli_runner().invoke(
        main,
        ["cost", str(SPECS / "resnet18.yaml"), str(SPECS / "llama_tiny.yaml"), "--context", "8"],
    )
    assert r.exit_code == 1 and "KV cache, 8 tokens" in r.stdout


def test_no_token_dim_is_refused():
    """ViT: the tokens are image patches made inside the network."""
    net = analyse(str(SPECS / "vit_b_16.yaml")).net
    with pytest.raises(GenerationError, match="key length"):
        generation(net, 100)
    r = cli_runner().invoke(main, ["cost", str(SPECS / "vit_b_16.yaml"), "--context", "100"])
    assert r.exit_code == 1 and "error: " in r.stderr and "[no-token-dim]" in r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--context", "0"], "0 is not in the range"),
        (["--context", "-5"], "digits 0-9"),
        (["--context", "99999999999"], "beyond the largest value"),
        (["--context", "8", "--new-tokens", "0"], "0 is not in the range"),
        (["--context", "8", "--group-size", "0"], "0 is not in the range"),
        (["--new-tokens", "5"], "--new-tokens needs --context"),
        (["--group-size", "32"], "--group-size needs --context"),
    ],
)
def test_bad_values_are_usage_errors(args, words):
    r = cli_runner().invoke(main, ["cost", str(SPECS / "llama_tiny.yaml"), *args])
    assert r.exit_code == 2 and words in r.stderr


def test_a_context_the_network_cannot_hold_is_refused_fast(tmp_path):
    """Refused from the shapes, before anything of that size is made (no timing here:
    the benchmarks measure time, benchmarks/bench_llm.py)."""
    path = _spec(tmp_path, LLAMA3)
    r = cli_runner().invoke(
        main, ["cost", path, "--context", "8192", "--batch", "999999999999", "--format", "json"]
    )
    assert r.exit_code == 1
    err = json.loads(r.stdout)["errors"][0]
    assert err["code"] == "context-fails" and "999,999,999,999" in err["message"]


def test_sizing_llama3_8b_is_answered_from_shapes():
    """Llama-3-8B at 8,192 tokens is sized from its shapes (a rebuilt network, no tensor
    made: benchmarks/bench_llm.py times it): its KV cache is 2 (K, V) x 32 layers x 8
    KV heads x 128 x 8,192 tokens x 2 bytes (bfloat16), 1 GiB."""
    net = analyse_bytes(convert(LLAMA3)[0].encode(), "l.yaml").net
    g, prefill = generation(net, 8192, 128, 1)
    assert g.figures["kv_cache_bytes"] == 2 * 32 * 8 * 128 * 8192 * 2 == 2**30
    assert next(iter(prefill.spec.input_refs().values()))[-1] == 8192


# -- sliding windows (Mistral-7B-v0.1: 4096) -----------------------------------------------------

MISTRAL = CONFIGS["Mistral-7B-v0.1"][0]


def test_mistral_kv_cache_keeps_the_window(tmp_path):
    """transformers' DynamicSlidingWindowLayer keeps the last W - 1 tokens of each layer
    (tests/test_llm_torch.py checks a tiny Mistral against its cache)."""
    path = _spec(tmp_path, MISTRAL)
    g = _gen(path, "--context", "8192", "--new-tokens", "10")["generation"]
    kv = 2 * 32 * 8 * 128 * g["dtype_bytes"]  # bytes per token
    assert g["kv_cache"]["sliding_window"] == 4096 and g["window_from"] == "var sliding_window"
    assert g["kv_cache"]["windowed_attention_calls"] == 32
    assert g["kv_cache"]["bytes"] == kv * 4095
    assert g["kv_cache"]["final_bytes"] == kv * 4095
    short = _gen(path, "--context", "1000", "--new-tokens", "10")["generation"]
    assert short["kv_cache"]["bytes"] == kv * 1000  # within the window: every token
    assert short["kv_cache"]["final_bytes"] == kv * 1009
    full = _gen(path, "--context", "8192", "--window", "0")["generation"]
    assert full["kv_cache"]["bytes"] == kv * 8192 and full["window_from"] is None
    assert full["kv_cache"]["sliding_window"] is None
    other = _gen(path, "--context", "8192", "--window", "1024")["generation"]
    assert other["kv_cache"]["bytes"] == kv * 1023 and other["window_from"] == "--window"


def test_mistral_flops_within_the_window(tmp_path):
    path = _spec(tmp_path, MISTRAL)
    N, T, W = 8192, 5, 4096
    g = _gen(path, "--context", str(N), "--new-tokens", str(T))["generation"]["flops"]
    full = _gen(path, "--context", str(N), "--new-tokens", str(T), "--window", "0")
    f = full["generation"]["flops"]
    per_key = g["per_token_attention_per_key"]
    assert per_key == 2 * 32 * 32 * (128 + 128)  # Q·Kᵀ and A·V of 32 layers x 32 heads
    assert g["per_token_at_context"] == g["per_token_linear"] + per_key * W
    assert f["per_token_at_context"] == g["per_token_linear"] + per_key * (N + 1)
    # decode: positions N..N+T-2 attend min(p + 1, W) = W keys each
    assert g["decode"] == (T - 1) * (g["per_token_linear"] + per_key * W)
    # prefill: the dense count less the (query, key) pairs with key <= query - W
    dropped = (N - W) * (N - W + 1) // 2
    assert f["prefill"] - g["prefill"] == per_key * dropped
    assert g["prefill_dense_macs"] == f["prefill_macs"] == f["prefill_dense_macs"]
    assert g["generation"] == g["prefill"] + g["decode"]


def test_qwen2_window_from_max_window_layers(tmp_path):
    cfg = {**CONFIGS["Qwen2.5-0.5B"][0], "use_sliding_window": True, "sliding_window": 1024}
    cfg["max_window_layers"] = 21  # layers 21..23 windowed
    out = _gen(_spec(tmp_path, cfg), "--context", "4096")["generation"]
    g = out["kv_cache"]
    per = 2 * 2 * 64 * out["dtype_bytes"]  # K + V, 2 kv heads, head_dim 64
    assert g["windowed_attention_calls"] == 3
    assert g["bytes"] == per * (21 * 4096 + 3 * 1023)


def test_window_table_fits_80_columns(tmp_path):
    path = _spec(tmp_path, MISTRAL)
    r = cli_runner(env={"COLUMNS": "80"}).invoke(
        main, ["cost", path, "--context", "8192", "--new-tokens", "3", "--depth", "1"]
    )
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "Sliding window 4,096" in r.stdout and "min(p + 1, 4,096)" in r.stdout


def test_window_needs_context():
    r = cli_runner().invoke(main, ["cost", str(SPECS / "llama_tiny.yaml"), "--window", "8"])
    assert r.exit_code == 2 and "--window needs --context" in r.stderr


# -- positions beyond the model's ---------------------------------------------------------------


@pytest.mark.parametrize(
    "model, args, table",
    [
        ("GPT-2", ["--context", "1025"], "transformer.wpe holds 1,024"),
        ("GPT-2", ["--context", "1000", "--new-tokens", "26"], "need position 1,024"),
        ("BERT-base", ["--context", "513"], "bert.embeddings.position_embeddings holds 512"),
    ],
)
def test_a_learned_position_table_bounds_the_context(tmp_path, model, args, table):
    path = _spec(tmp_path, CONFIGS[model][0])
    r = cli_runner().invoke(main, ["cost", path, *args])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "error: " in r.stderr and "[context-too-long]" in r.stderr and table in r.stderr
    assert "out of range" in r.stderr
    # the error is located at the table's entry in the spec (its num_embeddings where
    # the build refuses the positions, the entry where only decoding would reach them)
    lines = Path(path).read_text().splitlines()
    line = next(
        i + 1
        for i, text in enumerate(lines)
        if "name: wpe" in text or "name: position_embeddings" in text
    )
    at = line + (0 if "num_embeddings" in lines[line - 1] else 1)
    assert f"{path}:{line}:" in r.stderr or f"{path}:{at}:" in r.stderr
    ok = [
        a if a not in ("1025", "513", "26") else {"1025": "1024", "513": "512"}.get(a, "25")
        for a in args
    ]
    assert cli_runner().invoke(main, ["cost", path, *ok]).exit_code == 0


def test_rotary_models_past_their_positions_warn(tmp_path):
    cfg = {**CONFIGS["Qwen2.5-0.5B"][0]}  # max_position_embeddings 32768
    path = _spec(tmp_path, cfg)
    r = cli_runner().invoke(main, ["cost", path, "--context", "32768", "--new-tokens", "2"])
    assert r.exit_code == 0 and "warning: " in r.stderr and "[context-warning]" in r.stderr
    assert "32,769 positions" in r.stderr and "max_position_embeddings 32,768" in r.stderr
    r = cli_runner().invoke(main, ["cost", path, "--context", "32768", "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["generation"]["warnings"] == []


def test_context_builds_the_network_once_more_at_most(tmp_path, monkeypatch):
    """The spec is parsed once; the network is built at the spec's shapes and at the
    context (respec, the public way to set vars again)."""
    import layercalc.graph as graph

    calls = []
    real = graph.build
    monkeypatch.setattr(graph, "build", lambda *a, **k: calls.append(1) or real(*a, **k))
    _gen(_spec(tmp_path, LLAMA3), "--context", "8192")
    assert len(calls) == 1


def test_verify_warns_when_a_window_is_exceeded(tmp_path):
    """The spec computes full causal attention; past the var sliding_window transformers
    masks keys, so verify says the outputs part there (a warning: shapes still hold)."""
    from layercalc.importers.hf import convert

    cfg = {
        "model_type": "mistral",
        "vocab_size": 100,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "sliding_window": 8,
    }
    spec = tmp_path / "m.yaml"
    spec.write_text(convert(cfg)[0])
    r = cli_runner().invoke(main, ["verify", str(spec), "--set", "tokens=20"])
    assert r.exit_code == 0, r.output
    assert "warning: " in r.stderr and "[window-exceeded]" in r.stderr
    assert "attends 20 keys, beyond the sliding window of 8" in r.stderr
    r = cli_runner().invoke(main, ["verify", str(spec), "--set", "tokens=8"])
    assert r.exit_code == 0 and "window-exceeded" not in r.output


def test_a_window_of_one_is_refused_and_counts_are_worded():
    spec = str(Path(__file__).parent.parent / "specs" / "llama_tiny.yaml")
    r = cli_runner().invoke(main, ["cost", spec, "--context", "64", "--window", "1"])
    assert r.exit_code == 2 and "0 (no window) or at least 2" in r.output
    r = cli_runner(env={"COLUMNS": "200"}).invoke(
        main, ["cost", spec, "--context", "64", "--set", "num_hidden_layers=1"]
    )
    assert r.exit_code == 0, r.output
    assert "1 attention call ·" in r.output and "1 attention calls" not in r.output
