"""`layercalc import hf CONFIG.json`: a spec from a Hugging Face config.json alone (no
weights, no transformers).

Each supported ``model_type`` has a template written as transformers writes the model
(modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_gpt2.py,
modeling_bert.py), with blocks and ``repeat`` (never unrolled) and module names equal to
the checkpoint's keys: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM
(``model.layers.N...``, ``lm_head``), GPT2LMHeadModel (``transformer.h.N...``, ``lm_head``)
and BertModel (``embeddings...``, ``encoder.layer.N...``, ``pooler.dense``). The config's
values become ``vars``, so ``--set num_hidden_layers=4`` still works on the spec written;
its ``torch_dtype`` (transformers 4) or ``dtype`` (5), when float32, float16 or bfloat16,
becomes the spec's ``dtype`` (memory figures, ``cost --context``'s KV cache).
"""

from __future__ import annotations

import json

SUPPORTED = ("llama", "mistral", "qwen2", "gpt2", "bert")

# hidden_act / activation_function -> a spec layer entry
_ACTS = {
    "silu": "silu",
    "swish": "silu",
    "gelu": "gelu",
    "gelu_new": "gelu: {approximate: tanh}",
    "gelu_pytorch_tanh": "gelu: {approximate: tanh}",
    "gelu_fast": "gelu: {approximate: tanh}",
    "relu": "relu",
    "tanh": "tanh",
}


class ImportFailed(ValueError):
    """The config cannot become a spec; the message names what is missing."""


def load_config(path: str) -> dict:
    from ..analyses.loading import MAX_FILE_BYTES, read_source

    try:
        data = read_source(path)  # a regular file (never a pipe or device), bounded
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImportFailed(f"{path} is larger than 16 MiB: no config.json is")
    try:
        cfg = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ImportFailed(f"{path} is not a JSON file: {exc}") from None
    if not isinstance(cfg, dict):
        raise ImportFailed(f"{path} holds a JSON {type(cfg).__name__}, not a config object")
    return cfg


def _need(cfg: dict, *keys):
    missing = [k for k in keys if cfg.get(k) is None]
    if missing:
        raise ImportFailed(
            f"config.json of model_type {cfg.get('model_type')!r} has no "
            + ", ".join(repr(k) for k in missing)
            + " (needed to size the model)"
        )
    return [cfg[k] for k in keys]


def _int(cfg, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImportFailed(f"config.json: {key} must be a positive integer, got {value!r}")
    return value


def _num(value) -> str:
    """A float as YAML the spec reads back exactly (1e-05, 500000.0)."""
    return repr(float(value))


# torch_dtype (transformers 4) or dtype (5) -> the spec's dtype, for memory figures
_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _dtype(cfg) -> str:
    """The spec's `dtype:` line for the checkpoint's dtype (none: float32, the default)."""
    name = cfg.get("torch_dtype") or cfg.get("dtype")
    if not isinstance(name, str):
        return ""
    name = name.removeprefix("torch.")
    return f"dtype: {_DTYPES[name]}   # the checkpoint's dtype\n" if name in _DTYPES else ""


def _act(cfg, key, default):
    name = cfg.get(key) or default
    if name not in _ACTS:
        raise ImportFailed(
            f"config.json: {key} {name!r} has no layercalc equivalent (known: "
            + ", ".join(sorted(_ACTS))
            + ")"
        )
    return _ACTS[name]


def _act_entry(cfg, key, default, name) -> str:
    """The activation as a named layer entry: ``silu: {name: act_fn}``."""
    act = _act(cfg, key, default)
    if ": {" in act:
        return act.replace(": {", f": {{name: {name}, ", 1)
    return f"{act}: {{name: {name}}}"


def convert(cfg: dict, source: str = "config.json") -> tuple[str, list]:
    """The spec text for ``cfg`` and a list of warnings (what the spec does not model)."""
    from ..text import printable

    # the file name goes into the spec's first comment line: escaped, it can neither end
    # the comment (a line break) nor break the YAML (a control character)
    source = printable(source)
    mt = cfg.get("model_type")
    if mt is None:
        raise ImportFailed(
            "config.json has no 'model_type': layercalc import hf needs it to pick the "
            "architecture (one of " + ", ".join(SUPPORTED) + ")"
        )
    if mt not in SUPPORTED:
        raise ImportFailed(
            f"model_type {mt!r} is not supported: layercalc import hf has templates for "
            + ", ".join(SUPPORTED)
            + f"; a {mt} template (its modeling_{mt}.py written as a spec) is missing"
        )
    if mt == "gpt2":
        return _gpt2(cfg, source)
    if mt == "bert":
        return _bert(cfg, source)
    return _llama(cfg, source)


# -- LLaMA, Mistral, Qwen2 ----------------------------------------------------------------

_CLASSES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2"}

_LLAMA = """\
# {cls}ForCausalLM from {source} (layercalc import hf), written as transformers'
# models/{mt}/modeling_{mt}.py writes it: {cls}Model (embed_tokens, layers, norm) and
# lm_head; each {cls}DecoderLayer is input_layernorm, self_attn (q/k/v/o_proj, rotary
# embedding of q and k, causal attention with grouped-query heads), a residual,
# post_attention_layernorm, mlp (SwiGLU: down_proj(act_fn(gate_proj(x)) * up_proj(x))) and
# a residual. Module names equal the checkpoint's keys.{notes}
name: {name}
{dtype}vars: {{vocab_size: {vocab}, hidden_size: {hidden}, intermediate_size: {inter},
       num_hidden_layers: {layers}, num_attention_heads: {heads},
       num_key_value_heads: {kv}, head_dim: {head_dim}, rotary_dim: {rot_dim},
       rms_norm_eps: {eps}, rope_theta: {theta}, qkv_bias: {qkv_bias}, o_bias: {o_bias},
       mlp_bias: {mlp_bias}, tie_word_embeddings: {tie}, batch: 1, tokens: 16}}
input: [batch, tokens]   # input_ids (B, T)
blocks:
  attention:   # {cls}Attention
    args: {{heads: null, kv_heads: null, head_dim: null, hidden: in_shape(-1)}}
    layers:
      - linear: {{name: q_proj, out_features: heads * head_dim, bias: qkv_bias}}
      - unflatten: {{name: q_heads, dim: 2, sizes: [heads, head_dim]}}
      - transpose: {{name: q_t, dim0: 1, dim1: 2}}
      - rotary_embedding: {{name: q_rot, theta: rope_theta, dim: rotary_dim}}
      - linear: {{name: k_proj, from: input, out_features: kv_heads * head_dim, bias: qkv_bias}}
      - unflatten: {{name: k_heads, dim: 2, sizes: [kv_heads, head_dim]}}
      - transpose: {{name: k_t, dim0: 1, dim1: 2}}
      - rotary_embedding: {{name: k_rot, theta: rope_theta, dim: rotary_dim}}
      - linear: {{name: v_proj, from: input, out_features: kv_heads * head_dim, bias: qkv_bias}}
      - unflatten: {{name: v_heads, dim: 2, sizes: [kv_heads, head_dim]}}
      - transpose: {{name: v_t, dim0: 1, dim1: 2}}
      - scaled_dot_product_attention: {{name: attention, from: [q_rot, k_rot, v_t],
                                       is_causal: true, enable_gqa: true}}
      - transpose: {{name: heads_t, dim0: 1, dim1: 2}}
      - flatten: {{name: merged, start_dim: 2}}
      - linear: {{name: o_proj, out_features: hidden, bias: o_bias}}
  mlp:   # {cls}MLP
    args: {{hidden: in_shape(-1)}}
    layers:
      - linear: {{name: gate_proj, out_features: intermediate_size, bias: mlp_bias}}
      - {act}
      - linear: {{name: up_proj, from: input, out_features: intermediate_size, bias: mlp_bias}}
      - mul: {{name: gated, from: [act_fn, up_proj]}}
      - linear: {{name: down_proj, out_features: hidden, bias: mlp_bias}}
  decoder_layer:   # {cls}DecoderLayer
    layers:
      - rms_norm: {{name: input_layernorm, normalized_shape: [hidden_size], eps: rms_norm_eps}}
      - attention: {{name: self_attn, heads: num_attention_heads,
                    kv_heads: num_key_value_heads, head_dim: head_dim}}
      - add: {{name: attn_residual, from: [input, self_attn]}}
      - rms_norm: {{name: post_attention_layernorm, normalized_shape: [hidden_size],
                   eps: rms_norm_eps}}
      - mlp: {{name: mlp}}
      - add: {{name: mlp_residual, from: [attn_residual, mlp]}}
layers:
  - sequential:
      name: model
      layers:
        - embedding: {{name: embed_tokens, num_embeddings: vocab_size,
                      embedding_dim: hidden_size}}
        - sequential:
            name: layers
            layers: [decoder_layer: {{repeat: num_hidden_layers}}]
        - rms_norm: {{name: norm, normalized_shape: [hidden_size], eps: rms_norm_eps}}
  - linear: {{name: lm_head, out_features: vocab_size, bias: false,
             when: tie_word_embeddings, tie: {{weight: model.embed_tokens.weight}}}}
  - linear: {{name: lm_head, out_features: vocab_size, bias: false,
             when: not tie_word_embeddings}}
"""


def _llama(cfg: dict, source: str) -> tuple[str, list]:
    mt = cfg["model_type"]
    vocab, hidden, inter, layers, heads = _need(
        cfg,
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
    )
    for key, v in (
        ("vocab_size", vocab),
        ("hidden_size", hidden),
        ("intermediate_size", inter),
        ("num_hidden_layers", layers),
        ("num_attention_heads", heads),
    ):
        _int(cfg, key, v)
    kv = _int(cfg, "num_key_value_heads", cfg.get("num_key_value_heads") or heads)
    head_dim = cfg.get("head_dim") or hidden // heads
    _int(cfg, "head_dim", head_dim)
    rope = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta", rope.get("rope_theta", 10000.0))
    factor = cfg.get("partial_rotary_factor", rope.get("partial_rotary_factor", 1.0)) or 1.0
    rot_dim = int(head_dim * factor)
    warnings, notes = [], []
    scaling = cfg.get("rope_scaling") or (
        rope if rope.get("rope_type", "default") != "default" else None
    )
    if scaling:
        warnings.append(
            f"rope_scaling {json.dumps(scaling)} is not modelled: the spec's rotary "
            "embedding is the default one (shapes, parameters and MACs are unaffected)"
        )
    if mt == "mistral" and cfg.get("sliding_window"):
        notes.append(
            f"sliding_window {cfg['sliding_window']}: the causal mask equals Mistral's for "
            f"sequences up to {cfg['sliding_window']} tokens"
        )
    if mt == "qwen2" and cfg.get("use_sliding_window"):
        warnings.append("use_sliding_window is not modelled: attention is plainly causal")
    attention_bias = bool(cfg.get("attention_bias", False))
    qkv_bias = True if mt == "qwen2" else attention_bias
    o_bias = False if mt == "qwen2" else attention_bias
    note = "".join(f"\n# {n}." for n in notes + [f"not modelled: {w}" for w in warnings])
    text = _LLAMA.format(
        cls=_CLASSES[mt],
        mt=mt,
        source=source,
        notes=note,
        name=json.dumps(cfg.get("_name_or_path") or f"{_CLASSES[mt]}ForCausalLM"),
        dtype=_dtype(cfg),
        vocab=vocab,
        hidden=hidden,
        inter=inter,
        layers=layers,
        heads=heads,
        kv=kv,
        head_dim=head_dim,
        rot_dim=rot_dim,
        eps=_num(cfg.get("rms_norm_eps", 1e-6)),
        theta=_num(theta),
        qkv_bias=str(qkv_bias).lower(),
        o_bias=str(o_bias).lower(),
        mlp_bias=str(bool(cfg.get("mlp_bias", False))).lower(),
        tie=int(bool(cfg.get("tie_word_embeddings", mt != "llama" and mt != "mistral"))),
        act=_act_entry(cfg, "hidden_act", "silu", "act_fn"),
    )
    return text, warnings


# -- GPT-2 --------------------------------------------------------------------------------

_GPT2 = """\
# GPT2LMHeadModel from {source} (layercalc import hf), written as transformers'
# models/gpt2/modeling_gpt2.py writes it: transformer (wte, wpe, h, ln_f) and lm_head,
# tied to transformer.wte (parameters() counts it once). Module names equal the
# checkpoint's keys; HF stores c_attn, c_fc and c_proj as Conv1D, whose weights are the
# transposes of these linear layers' (same counts; transpose them to load).
name: {name}
{dtype}vars: {{vocab_size: {vocab}, n_positions: {npos}, n_embd: {embd}, n_layer: {layers},
       n_head: {heads}, n_inner: {inner}, layer_norm_epsilon: {eps},
       tie_word_embeddings: {tie}, batch: 1, tokens: 16}}
input: [batch, tokens]   # input_ids (B, T), T <= n_positions
blocks:
  attention:   # GPT2Attention
    layers:
      - linear: {{name: c_attn, out_features: 3 * n_embd}}
      - split: {{name: qkv, split_size: n_embd, dim: 2}}
      - unflatten: {{name: q_heads, from: qkv.0, dim: 2, sizes: [n_head, n_embd // n_head]}}
      - transpose: {{name: q, dim0: 1, dim1: 2}}
      - unflatten: {{name: k_heads, from: qkv.1, dim: 2, sizes: [n_head, n_embd // n_head]}}
      - transpose: {{name: k, dim0: 1, dim1: 2}}
      - unflatten: {{name: v_heads, from: qkv.2, dim: 2, sizes: [n_head, n_embd // n_head]}}
      - transpose: {{name: v, dim0: 1, dim1: 2}}
      - scaled_dot_product_attention: {{name: attention, from: [q, k, v], is_causal: true}}
      - transpose: {{name: heads, dim0: 1, dim1: 2}}
      - flatten: {{name: merged, start_dim: 2}}
      - linear: {{name: c_proj, out_features: n_embd}}
      - dropout: {{name: resid_dropout, p: 0.0}}
  mlp:   # GPT2MLP
    layers:
      - linear: {{name: c_fc, out_features: n_inner}}
      - {act}
      - linear: {{name: c_proj, out_features: n_embd}}
      - dropout: {{name: dropout, p: 0.0}}
  block:   # GPT2Block
    layers:
      - layer_norm: {{name: ln_1, normalized_shape: [n_embd], eps: layer_norm_epsilon}}
      - attention: {{name: attn}}
      - add: {{name: attn_residual, from: [input, attn]}}
      - layer_norm: {{name: ln_2, normalized_shape: [n_embd], eps: layer_norm_epsilon}}
      - mlp: {{name: mlp}}
      - add: {{name: mlp_residual, from: [attn_residual, mlp]}}
layers:
  - sequential:
      name: transformer
      layers:
        - embedding: {{name: wte, num_embeddings: vocab_size, embedding_dim: n_embd}}
        - arange: {{name: position_ids, end: input_shape(1)}}
        - embedding: {{name: wpe, from: position_ids, num_embeddings: n_positions,
                      embedding_dim: n_embd}}
        - add: {{name: embedded, from: [wte, wpe]}}
        - dropout: {{name: drop, p: 0.0}}
        - sequential:
            name: h
            layers: [block: {{repeat: n_layer}}]
        - layer_norm: {{name: ln_f, normalized_shape: [n_embd], eps: layer_norm_epsilon}}
  - linear: {{name: lm_head, out_features: vocab_size, bias: false,
             when: tie_word_embeddings, tie: {{weight: transformer.wte.weight}}}}
  - linear: {{name: lm_head, out_features: vocab_size, bias: false,
             when: not tie_word_embeddings}}
"""


def _gpt2(cfg: dict, source: str) -> tuple[str, list]:
    vals = _need(cfg, "vocab_size", "n_embd", "n_layer", "n_head")
    for key, v in zip(("vocab_size", "n_embd", "n_layer", "n_head"), vals):
        _int(cfg, key, v)
    vocab, embd, layers, heads = vals
    npos = _int(cfg, "n_positions", cfg.get("n_positions") or cfg.get("n_ctx") or 1024)
    inner = cfg.get("n_inner") or 4 * embd
    act = _act_entry(cfg, "activation_function", "gelu_new", "act")
    text = _GPT2.format(
        source=source,
        name=json.dumps(cfg.get("_name_or_path") or "GPT2LMHeadModel"),
        dtype=_dtype(cfg),
        vocab=vocab,
        npos=npos,
        embd=embd,
        layers=layers,
        heads=heads,
        inner=inner,
        eps=_num(cfg.get("layer_norm_epsilon", 1e-5)),
        tie=int(bool(cfg.get("tie_word_embeddings", True))),
        act=act,
    )
    return text, []


# -- BERT ---------------------------------------------------------------------------------

_BERT = """\
# BertModel from {source} (layercalc import hf), written as transformers'
# models/bert/modeling_bert.py writes it: embeddings (word, position and token type
# embeddings, LayerNorm), encoder.layer (BertLayer: attention.self, attention.output,
# intermediate, output) and pooler (dense + tanh of the first token). Module names equal
# the BertModel checkpoint's keys (BertForPreTraining's add the prefix `bert.` and the
# `cls.` heads). The outputs are last_hidden_state (encoder) and pooler_output (pooler).{notes}
name: {name}
{dtype}vars: {{vocab_size: {vocab}, hidden_size: {hidden}, num_hidden_layers: {layers},
       num_attention_heads: {heads}, intermediate_size: {inter},
       max_position_embeddings: {npos}, type_vocab_size: {types}, layer_norm_eps: {eps},
       batch: 1, tokens: 16}}
input: {{input_ids: [batch, tokens], token_type_ids: [batch, tokens]}}
blocks:
  self_attention:   # BertSelfAttention
    layers:
      - linear: {{name: query, out_features: hidden_size}}
      - unflatten: {{name: q_heads, dim: 2, sizes: [num_attention_heads,
                                                  hidden_size // num_attention_heads]}}
      - transpose: {{name: q, dim0: 1, dim1: 2}}
      - linear: {{name: key, from: input, out_features: hidden_size}}
      - unflatten: {{name: k_heads, dim: 2, sizes: [num_attention_heads,
                                                  hidden_size // num_attention_heads]}}
      - transpose: {{name: k, dim0: 1, dim1: 2}}
      - linear: {{name: value, from: input, out_features: hidden_size}}
      - unflatten: {{name: v_heads, dim: 2, sizes: [num_attention_heads,
                                                  hidden_size // num_attention_heads]}}
      - transpose: {{name: v, dim0: 1, dim1: 2}}
      - scaled_dot_product_attention: {{name: attention, from: [q, k, v]}}
      - transpose: {{name: heads, dim0: 1, dim1: 2}}
      - flatten: {{name: context, start_dim: 2}}
  dense_add_norm:   # BertSelfOutput and BertOutput: LayerNorm(dropout(dense(h)) + residual)
    inputs: [hidden_states, residual]
    layers:
      - linear: {{name: dense, out_features: hidden_size}}
      - dropout: {{name: dropout, p: 0.0}}
      - add: {{name: residual_add, from: [dropout, residual]}}
      - layer_norm: {{name: LayerNorm, normalized_shape: [hidden_size], eps: layer_norm_eps}}
  bert_attention:   # BertAttention
    layers:
      - self_attention: {{name: self}}
      - dense_add_norm: {{name: {out}, from: [self, input]}}
  bert_layer:   # BertLayer
    layers:
      - bert_attention: {{name: attention}}
      - sequential:
          name: intermediate
          layers:
            - linear: {{name: dense, out_features: intermediate_size}}
            - {act}
      - dense_add_norm: {{name: {out}, from: [intermediate, attention]}}
layers:
  - sequential:
      name: embeddings
      layers:
        - embedding: {{name: word_embeddings, from: input_ids, num_embeddings: vocab_size,
                      embedding_dim: hidden_size}}
        - arange: {{name: position_ids, end: input_shape(1)}}
        - embedding: {{name: position_embeddings, from: position_ids,
                      num_embeddings: max_position_embeddings, embedding_dim: hidden_size}}
        - embedding: {{name: token_type_embeddings, from: token_type_ids,
                      num_embeddings: type_vocab_size, embedding_dim: hidden_size}}
        - add: {{name: summed, from: [word_embeddings, token_type_embeddings,
                                      position_embeddings]}}
        - layer_norm: {{name: LayerNorm, normalized_shape: [hidden_size], eps: layer_norm_eps}}
        - dropout: {{name: dropout, p: 0.0}}
  - sequential:
      name: encoder
      layers:
        - sequential:
            name: layer
            layers: [bert_layer: {{repeat: num_hidden_layers}}]
  - sequential:
      name: pooler
      layers:
        - select: {{name: first_token, dim: 1, index: 0}}
        - linear: {{name: dense, out_features: hidden_size}}
        - tanh: {{name: activation}}
outputs: [encoder, pooler]
"""


def _bert(cfg: dict, source: str) -> tuple[str, list]:
    keys = (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
    )
    vals = _need(cfg, *keys)
    for key, v in zip(keys, vals):
        _int(cfg, key, v)
    vocab, hidden, layers, heads, inter = vals
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ImportFailed(
            f"config.json: position_embedding_type {cfg['position_embedding_type']!r} is not "
            "supported (only 'absolute': the relative key embeddings are missing)"
        )
    act = _act_entry(cfg, "hidden_act", "gelu", "intermediate_act_fn")
    from ..graph import RESERVED_NAMES

    out, warnings, notes = "output", [], ""
    if out in RESERVED_NAMES:  # the language reserves `output` at every level
        out = "output_"
        warnings.append(
            "the spec language reserves the layer name 'output': BertAttention.output and "
            "BertLayer.output are written `output_` (state_dict keys "
            "encoder.layer.N.attention.output_.dense.weight ... differ from the checkpoint's)"
        )
        notes = "\n# NOTE: `output_` stands for HF's `output` (a name the language reserves)."
    text = _BERT.format(
        source=source,
        name=json.dumps(cfg.get("_name_or_path") or "BertModel"),
        dtype=_dtype(cfg),
        vocab=vocab,
        hidden=hidden,
        layers=layers,
        heads=heads,
        inter=inter,
        npos=_int(cfg, "max_position_embeddings", cfg.get("max_position_embeddings", 512)),
        types=_int(cfg, "type_vocab_size", cfg.get("type_vocab_size", 2)),
        eps=_num(cfg.get("layer_norm_eps", 1e-12)),
        act=act,
        out=out,
        notes=notes,
    )
    return text, warnings
