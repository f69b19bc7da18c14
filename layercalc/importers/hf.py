"""`layercalc import hf CONFIG.json`: a spec from a Hugging Face config.json alone (no
weights, no transformers).

Each supported ``model_type`` has a template written as transformers writes the model
(modeling_llama.py, modeling_mistral.py, modeling_qwen2.py, modeling_gpt2.py,
modeling_bert.py), with blocks and ``repeat`` (never unrolled) and module names equal to
the checkpoint's keys. The class is the config's ``architectures[0]`` (or the
``--architecture`` option), one of ARCHITECTURES; without one, the model type's default
(``*ForCausalLM``, ``GPT2LMHeadModel``, ``BertModel``). A value the config leaves out
takes its transformers config class's default (DEFAULTS: ``tie_word_embeddings``,
``num_key_value_heads``, ``sliding_window``...), and what transformers refuses (or
cannot run) is refused here, naming the config key. The config's values become ``vars``,
so ``--set num_hidden_layers=4`` still works on the spec written; its ``torch_dtype``
(transformers 4) or ``dtype`` (5), when float32, float16 or bfloat16, becomes the spec's
``dtype`` (memory figures, ``cost --context``'s KV cache).

Vars that ``cost --context`` reads (docs/cost.md): ``sliding_window`` (Mistral's, and
Qwen2's with ``use_sliding_window``) with ``max_window_layers`` (the first attention
calls that stay full), and ``max_position_embeddings`` of a rotary model (beyond it
transformers still runs: a warning).
"""

from __future__ import annotations

import json

from ..text import yaml_quoted

SUPPORTED = ("llama", "mistral", "qwen2", "gpt2", "bert")

# model_type -> {class name: head}; the first is the default when `architectures` is absent
ARCHITECTURES = {
    "llama": {
        "LlamaForCausalLM": "causal_lm",
        "LlamaModel": "base",
        "LlamaForSequenceClassification": "seq_cls",
        "LlamaForTokenClassification": "token_cls",
        "LlamaForQuestionAnswering": "qa",
    },
    "mistral": {
        "MistralForCausalLM": "causal_lm",
        "MistralModel": "base",
        "MistralForSequenceClassification": "seq_cls",
        "MistralForTokenClassification": "token_cls",
        "MistralForQuestionAnswering": "qa",
    },
    "qwen2": {
        "Qwen2ForCausalLM": "causal_lm",
        "Qwen2Model": "base",
        "Qwen2ForSequenceClassification": "seq_cls",
        "Qwen2ForTokenClassification": "token_cls",
        "Qwen2ForQuestionAnswering": "qa",
    },
    "gpt2": {
        "GPT2LMHeadModel": "causal_lm",
        "GPT2Model": "base",
        "GPT2ForSequenceClassification": "seq_cls",
        "GPT2ForTokenClassification": "token_cls",
        "GPT2ForQuestionAnswering": "qa",
    },
    "bert": {
        "BertModel": "base",
        "BertForMaskedLM": "masked_lm",
        "BertForSequenceClassification": "seq_cls",
        "BertForTokenClassification": "token_cls",
        "BertForQuestionAnswering": "qa",
    },
}

# the defaults of transformers 5's config classes (LlamaConfig, MistralConfig,
# Qwen2Config, GPT2Config, BertConfig) for the keys a config.json may leave out
DEFAULTS = {
    "llama": {"tie_word_embeddings": False, "max_position_embeddings": 2048},
    "mistral": {
        "tie_word_embeddings": False,
        "num_key_value_heads": 8,
        "sliding_window": 4096,
        "max_position_embeddings": 4096 * 32,
    },
    "qwen2": {
        "tie_word_embeddings": False,
        "num_key_value_heads": 32,
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": 28,
        "max_position_embeddings": 32768,
    },
    "gpt2": {"tie_word_embeddings": True},
    "bert": {"tie_word_embeddings": True},
}

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
    """The config cannot become a spec; the message names what is missing. ``key``: the
    config key responsible, when one is."""

    def __init__(self, message: str, key: str | None = None, at: tuple | None = None):
        super().__init__(message)
        self.key = key
        self.at = at  # (line, column) in the file, where the message says it


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
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"not JSON: {exc.msg}", at=(exc.lineno, exc.colno)) from None
    except (UnicodeDecodeError, RecursionError) as exc:
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
            + " (needed to size the model)",
            missing[0],
        )
    return [cfg[k] for k in keys]


def _int(cfg, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImportFailed(f"config.json: {key} must be a positive integer, got {value!r}", key)
    return value


def _default(cfg: dict, key: str):
    """``cfg[key]``, or the transformers config class's default when absent or null."""
    value = cfg.get(key)
    return DEFAULTS[cfg["model_type"]].get(key) if value is None else value


def _flag(cfg: dict, key: str, default: bool = False) -> bool:
    value = cfg.get(key)
    if value is None:
        value = DEFAULTS[cfg["model_type"]].get(key, default)
    if not isinstance(value, bool):
        raise ImportFailed(f"config.json: {key} must be true or false, got {value!r}", key)
    return value


def _num(key: str, value) -> str:
    """A positive finite number as YAML the spec reads back exactly (1e-05, 500000.0);
    anything else is refused at ``key``."""
    import math

    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ImportFailed(f"config.json: {key} must be a positive number, got {value!r}", key)
    return repr(float(value))


# torch_dtype (transformers 4) or dtype (5) -> the spec's dtype, for memory figures
_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def _dtype(cfg) -> str:
    """The spec's `dtype:` line for the checkpoint's dtype (none: float32, the default,
    also for a dtype layercalc has no size for: _dtype_warning says so)."""
    short = _dtype_name(cfg)
    return f"dtype: {_DTYPES[short]}   # the checkpoint's dtype\n" if short in _DTYPES else ""


def _dtype_name(cfg):
    name = cfg.get("torch_dtype") or cfg.get("dtype")
    return name.removeprefix("torch.") if isinstance(name, str) else name


def _dtype_warning(cfg) -> list:
    short = _dtype_name(cfg)
    if short is None or short == "auto" or short in _DTYPES:
        return []
    return [
        f"the config's dtype {short!r} is not one layercalc sizes ("
        + ", ".join(_DTYPES)
        + "): the spec's memory figures are at float32 (its default); edit `dtype:` for "
        "another"
    ]


def _act(cfg, key, default):
    name = cfg.get(key) or default
    if not isinstance(name, str) or name not in _ACTS:
        raise ImportFailed(
            f"config.json: {key} {name!r} has no layercalc equivalent (known: "
            + ", ".join(sorted(_ACTS))
            + ")",
            key,
        )
    return _ACTS[name]


def _act_entry(cfg, key, default, name) -> str:
    """The activation as a named layer entry: ``silu: {name: act_fn}``."""
    act = _act(cfg, key, default)
    if ": {" in act:
        return act.replace(": {", f": {{name: {name}, ", 1)
    return f"{act}: {{name: {name}}}"


def architecture(cfg: dict, override: str | None = None) -> tuple[str, str, list]:
    """(class name, head, warnings): ``override`` (--architecture), else the config's
    ``architectures[0]``, else the model type's default; anything else is refused."""
    mt = cfg["model_type"]
    known = ARCHITECTURES[mt]
    warnings = []
    if override is not None:
        name, where = override, "--architecture"
    else:
        archs = cfg.get("architectures")
        if archs is None or archs == []:
            name = next(iter(known))
            return name, known[name], warnings
        if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
            raise ImportFailed(
                f"config.json: architectures must be a list of class names, got {archs!r}",
                "architectures",
            )
        name, where = archs[0], "config.json: architectures"
        if len(archs) > 1:
            warnings.append(
                f"architectures lists {len(archs)} classes ({', '.join(archs)}): the first, "
                f"{name}, is written (--architecture picks another)"
            )
    if name not in known:
        raise ImportFailed(
            f"{where} names {name!r}, which layercalc import hf does not write for "
            f"model_type {mt!r} (supported: {', '.join(known)})",
            "architectures" if override is None else None,
        )
    return name, known[name], warnings


def num_labels(cfg: dict) -> int:
    """The classifier's outputs as PretrainedConfig counts them: len(id2label), else
    num_labels, else 2."""
    id2label = cfg.get("id2label")
    if id2label is not None:
        if not isinstance(id2label, dict) or not id2label:
            raise ImportFailed(
                f"config.json: id2label must be a non-empty mapping, got {id2label!r}",
                "id2label",
            )
        n = cfg.get("num_labels")
        if n is not None and n != len(id2label):
            raise ImportFailed(
                f"config.json: num_labels {n!r} disagrees with id2label's {len(id2label)} "
                "labels (transformers keeps id2label's)",
                "num_labels",
            )
        return len(id2label)
    n = cfg.get("num_labels")
    return 2 if n is None else _int(cfg, "num_labels", n)


def convert(cfg: dict, source: str = "config.json", arch: str | None = None) -> tuple[str, list]:
    """The spec text for ``cfg`` and a list of warnings (what the spec does not model);
    ``arch``: the class to write (None: the config's ``architectures[0]``)."""
    from ..text import printable

    # the file name goes into the spec's first comment line: escaped, it can neither end
    # the comment (a line break) nor break the YAML (a control character)
    source = printable(source)
    mt = cfg.get("model_type")
    if mt is None:
        raise ImportFailed(
            "config.json has no 'model_type': layercalc import hf needs it to pick the "
            "architecture (one of " + ", ".join(SUPPORTED) + ")",
            "model_type",
        )
    if not isinstance(mt, str) or mt not in SUPPORTED:
        raise ImportFailed(
            f"model_type {mt!r} is not supported: layercalc import hf has templates for "
            + ", ".join(SUPPORTED)
            + f"; a {mt} template (its modeling_{mt}.py written as a spec) is missing",
            "model_type",
        )
    name, head, warnings = architecture(cfg, arch)
    build = {"gpt2": _gpt2, "bert": _bert}.get(mt, _llama)
    text, more = build(cfg, source, name, head)
    return text, warnings + more + _dtype_warning(cfg)


def _indent(lines: list, n: int) -> list:
    return [" " * n + line if line else line for line in lines]


def _group(name: str | None, lines: list) -> list:
    """Entries under a group ``name`` (a `sequential`), or as they are (None)."""
    if name is None:
        return lines
    return ["- sequential:", f"    name: {name}", "    layers:", *_indent(lines, 6)]


def _heads(head: str, hidden: str, qa_prefix: bool = True) -> list:
    """The classifier entries after the base model (its last hidden state)."""
    if head == "seq_cls":  # transformers scores every token, then keeps the last one
        return [
            "- linear: {name: score, out_features: num_labels, bias: false}",
            "- select: {name: pooled_logits, dim: 1, index: -1}   # the last token",
        ]
    if head == "qa":
        return [
            "- linear: {name: qa_outputs, out_features: 2}",
            "- split: {name: logits, split_size: 1, dim: -1}",
            "- squeeze: {name: start_logits, from: logits.0, dim: -1}",
            "- squeeze: {name: end_logits, from: logits.1, dim: -1}",
        ]
    return []


def _vars(pairs: list) -> str:
    """``vars: {a: 1, b: 2, ...}`` wrapped under 90 columns."""
    lines, line = [], "vars: {"
    items = [f"{k}: {v}" for k, v in pairs]
    for i, item in enumerate(items):
        piece = item + ("}" if i == len(items) - 1 else ",")
        if len(line) + 1 + len(piece) > 90 and not line.endswith("{"):
            lines.append(line)
            line = "       " + piece
        else:
            line += ("" if line.endswith("{") else " ") + piece
    lines.append(line)
    return "\n".join(lines)


# -- LLaMA, Mistral, Qwen2 ----------------------------------------------------------------

_CLASSES = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2"}

_HEAD_TEXT = {
    "causal_lm": "and lm_head",
    "base": "alone (no head: the output is the last hidden state)",
    "seq_cls": "and score, a linear layer applied to every token, of which the last "
    "position's logits are kept (transformers keeps the rightmost non-padding token's: "
    "the same for an input without padding, which is what verify feeds)",
    "token_cls": "and dropout and score per token",
    "qa": "and qa_outputs (start and end logits)",
}

_LLAMA = """\
{comment}{notes}
name: {name}
{dtype}{vars}
input: [batch, tokens]   # input_ids (B, T)
blocks:
  attention:   # {cls}Attention
    args: {{heads: null, kv_heads: null, head_dim: null, hidden: in_shape(-1)}}
    layers:
      - linear: {{name: q_proj, out_features: heads * head_dim, bias: qkv_bias}}
      - unflatten: {{name: q_heads, dim: 2, sizes: [heads, head_dim]}}
      - transpose: {{name: q_t, dim0: 1, dim1: 2}}
      - rotary_embedding: {{name: q_rot, dim: head_dim, theta: rope_theta}}
      - linear: {{name: k_proj, from: input, out_features: kv_heads * head_dim, bias: qkv_bias}}
      - unflatten: {{name: k_heads, dim: 2, sizes: [kv_heads, head_dim]}}
      - transpose: {{name: k_t, dim0: 1, dim1: 2}}
      - rotary_embedding: {{name: k_rot, dim: head_dim, theta: rope_theta}}
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
{layers}
"""

_LLAMA_BODY = [
    "- embedding: {name: embed_tokens, num_embeddings: vocab_size,",
    "              embedding_dim: hidden_size}",
    "- sequential:",
    "    name: layers",
    "    layers: [decoder_layer: {repeat: num_hidden_layers}]",
    "- rms_norm: {name: norm, normalized_shape: [hidden_size], eps: rms_norm_eps}",
]


def _llama_window(cfg: dict, layers: int) -> tuple[int | None, int, list]:
    """(sliding window or None, the attention calls before the first windowed one, notes):
    MistralConfig's sliding_window (default 4096) on every layer; Qwen2Config's only
    with use_sliding_window, on the layers its layer_types (default: i >= max_window_layers)
    call sliding_attention."""
    mt = cfg["model_type"]
    if mt == "llama":
        return None, 0, []
    # an explicit null is no window (Mistral-7B-v0.2 on); an absent key is the default
    window = cfg["sliding_window"] if "sliding_window" in cfg else _default(cfg, "sliding_window")
    if mt == "qwen2" and not _flag(cfg, "use_sliding_window"):
        return None, 0, []
    if window is None:
        return None, 0, []
    _int(cfg, "sliding_window", window)
    if mt == "mistral":
        return window, 0, [f"sliding_window {window}: every layer attends its last {window} tokens"]
    types = cfg.get("layer_types")
    if types is None:
        first = _default(cfg, "max_window_layers")
        if isinstance(first, bool) or not isinstance(first, int) or first < 0:
            raise ImportFailed(
                f"config.json: max_window_layers must be an integer >= 0, got {first!r}",
                "max_window_layers",
            )
        first = min(first, layers)
    else:
        if not isinstance(types, list) or len(types) != layers:
            raise ImportFailed(
                f"config.json: layer_types must list num_hidden_layers ({layers}) types",
                "layer_types",
            )
        first = next((i for i, t in enumerate(types) if t == "sliding_attention"), layers)
        if any(t != "full_attention" for t in types[:first]) or any(
            t != "sliding_attention" for t in types[first:]
        ):
            raise ImportFailed(
                "config.json: layer_types mixes full and sliding attention in an order "
                "layercalc cannot carry (it writes full layers first, then sliding ones, "
                "as max_window_layers does)",
                "layer_types",
            )
    if first >= layers:
        return None, 0, []
    return (
        window,
        first,
        [f"sliding_window {window} on layers {first}..{layers - 1} (max_window_layers {first})"],
    )


def _llama(cfg: dict, source: str, arch: str, head: str) -> tuple[str, list]:
    mt = cfg["model_type"]
    keys = (
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
    )
    vals = _need(cfg, *keys)
    for key, v in zip(keys, vals):
        _int(cfg, key, v)
    vocab, hidden, inter, layers, heads = vals
    if mt == "llama" and hidden % heads:  # LlamaConfig.validate_architecture
        raise ImportFailed(
            f"config.json: hidden_size {hidden} is not a multiple of num_attention_heads "
            f"{heads} (transformers' LlamaConfig refuses it)",
            "hidden_size",
        )
    kv = cfg.get("num_key_value_heads")
    kv = _int(cfg, "num_key_value_heads", heads if kv is None else kv)
    if mt != "llama" and "num_key_value_heads" not in cfg:
        kv = DEFAULTS[mt]["num_key_value_heads"]  # MistralConfig 8, Qwen2Config 32
    if heads % kv:
        raise ImportFailed(
            f"config.json: num_attention_heads {heads} is not a multiple of "
            f"num_key_value_heads {kv}"
            + ("" if "num_key_value_heads" in cfg else f" ({_CLASSES[mt]}Config's default)")
            + ": transformers' repeat_kv cannot share the key/value heads",
            "num_key_value_heads",
        )
    head_dim = cfg.get("head_dim") or hidden // heads
    _int(cfg, "head_dim", head_dim)
    rope = cfg.get("rope_parameters") or {}
    if not isinstance(rope, dict):
        raise ImportFailed("config.json: rope_parameters must be a mapping", "rope_parameters")
    theta = cfg.get("rope_theta", rope.get("rope_theta", 10000.0))
    factor = cfg.get("partial_rotary_factor", rope.get("partial_rotary_factor", 1.0))
    # transformers 5's Llama, Mistral and Qwen2 rotate the whole head_dim: their default
    # rope (compute_default_rope_parameters) never reads partial_rotary_factor
    npos = _int(cfg, "max_position_embeddings", _default(cfg, "max_position_embeddings"))
    warnings, notes = [], []
    if factor not in (None, 1, 1.0):
        warnings.append(
            f"partial_rotary_factor {factor!r} is ignored, as transformers 5's "
            f"{_CLASSES[mt]} ignores it: the rotary embedding turns all {head_dim} "
            "features of each head"
        )
    scaling = cfg.get("rope_scaling") or (
        rope if rope.get("rope_type", "default") != "default" else None
    )
    if scaling:
        warnings.append(
            f"rope_scaling {json.dumps(scaling)} is not modelled: the spec's rotary "
            "embedding is the default one (shapes, parameters and MACs are unaffected)"
        )
    window, first, wnotes = _llama_window(cfg, layers)
    notes += wnotes
    if window is not None:
        notes.append(
            "the spec's attention is plainly causal; `cost --context` reads the vars "
            "sliding_window and max_window_layers (KV cache and FLOPs within the window); "
            "verify and export compute full causal attention, which is transformers' "
            "while tokens <= sliding_window"
        )
    # the biases as each transformers class makes them: Llama's from attention_bias and
    # mlp_bias; Qwen2's q/k/v always and o never; Mistral's none (both hard-code
    # bias=False where Llama reads the keys, so a config's keys are ignored there)
    attention_bias = _flag(cfg, "attention_bias")
    mlp_bias = _flag(cfg, "mlp_bias") if mt == "llama" else False
    qkv_bias = True if mt == "qwen2" else attention_bias if mt == "llama" else False
    o_bias = attention_bias if mt == "llama" else False
    for key, used in (("attention_bias", mt == "llama"), ("mlp_bias", mt == "llama")):
        if not used and _flag(cfg, key):
            notes.append(
                f"{key}: true is ignored, as transformers' {mt} modules are built "
                "with bias=False whatever the config says"
            )
    tie = _flag(cfg, "tie_word_embeddings")
    pairs = [
        ("vocab_size", vocab),
        ("hidden_size", hidden),
        ("intermediate_size", inter),
        ("num_hidden_layers", layers),
        ("num_attention_heads", heads),
        ("num_key_value_heads", kv),
        ("head_dim", head_dim),
        ("rms_norm_eps", _num("rms_norm_eps", cfg.get("rms_norm_eps", 1e-6))),
        ("rope_theta", _num("rope_theta", theta)),
        ("max_position_embeddings", npos),
        ("qkv_bias", str(qkv_bias).lower()),
        ("o_bias", str(o_bias).lower()),
        ("mlp_bias", str(mlp_bias).lower()),
    ]
    if window is not None:
        pairs += [("sliding_window", window), ("max_window_layers", first)]
    body = list(_LLAMA_BODY)
    prefix = "model"
    if head == "causal_lm":
        pairs.append(("tie_word_embeddings", int(tie)))
        tail = _lm_head("model.embed_tokens.weight")
    elif head == "base":
        prefix, tail = None, []
    elif head == "token_cls":
        pairs.append(("num_labels", num_labels(cfg)))
        bias = cfg.get("token_classification_bias", True)
        tail = [
            "- dropout: {name: dropout, p: 0.0}",
            f"- linear: {{name: score, out_features: num_labels, bias: {str(bool(bias)).lower()}}}",
        ]
    else:
        if head == "seq_cls":
            pairs.append(("num_labels", num_labels(cfg)))
            if cfg.get("pad_token_id") is None:
                notes.append(
                    "no pad_token_id: transformers refuses a batch above 1 for "
                    "sequence classification"
                )
        if head == "qa" and mt != "mistral":
            prefix = "transformer"  # LlamaForQuestionAnswering's and Qwen2's, for BC
        tail = _heads(head, "hidden_size")
    pairs += [("batch", 1), ("tokens", 16)]
    lines = _group(prefix, body) + tail
    outputs = "\noutputs: [start_logits, end_logits]" if head == "qa" else ""
    note = "".join(
        "\n" + _comment(n + ".") for n in notes + [f"not modelled: {w}" for w in warnings]
    )
    cls = _CLASSES[mt]
    comment = (
        f"{arch} from {source} (layercalc import hf), written as transformers' "
        f"models/{mt}/modeling_{mt}.py writes it: {cls}Model (embed_tokens, layers, norm) "
        f"{_HEAD_TEXT[head]}. Each {cls}DecoderLayer is input_layernorm, self_attn "
        "(q/k/v/o_proj, rotary embedding of q and k, causal attention with grouped-query "
        "heads), a residual, post_attention_layernorm, mlp (SwiGLU: "
        "down_proj(act_fn(gate_proj(x)) * up_proj(x))) and a residual. Module names "
        "equal the checkpoint's keys."
    )
    text = _LLAMA.format(
        comment=_comment(comment),
        cls=cls,
        notes=note,
        name=yaml_quoted(str(cfg.get("_name_or_path") or arch)),
        dtype=_dtype(cfg),
        vars=_vars(pairs),
        act=_act_entry(cfg, "hidden_act", "silu", "act_fn"),
        layers="\n".join(_indent(lines, 2)) + outputs,
    )
    return text, warnings


# -- GPT-2 --------------------------------------------------------------------------------

_GPT2 = """\
{comment}
name: {name}
{dtype}{vars}
input: [batch, tokens]   # input_ids (B, T), T <= n_positions
blocks:
  attention:   # GPT2Attention
    layers:
      - {linear}: {{name: c_attn, {out}: 3 * n_embd}}
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
      - {linear}: {{name: c_proj, {out}: n_embd}}
      - dropout: {{name: resid_dropout, p: 0.0}}
  mlp:   # GPT2MLP
    layers:
      - {linear}: {{name: c_fc, {out}: n_inner}}
      - {act}
      - {linear}: {{name: c_proj, {out}: n_embd}}
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
{layers}
"""

_GPT2_BODY = [
    "- embedding: {name: wte, num_embeddings: vocab_size, embedding_dim: n_embd}",
    "- arange: {name: position_ids, end: input_shape(1)}",
    "- embedding: {name: wpe, from: position_ids, num_embeddings: n_positions,",
    "              embedding_dim: n_embd}",
    "- add: {name: embedded, from: [wte, wpe]}",
    "- dropout: {name: drop, p: 0.0}",
    "- sequential:",
    "    name: h",
    "    layers: [block: {repeat: n_layer}]",
    "- layer_norm: {name: ln_f, normalized_shape: [n_embd], eps: layer_norm_epsilon}",
]


def _lm_head(tied_to: str) -> list:
    """The causal-LM head: tied to the token embedding ``tied_to`` when the var
    tie_word_embeddings is set (parameters() counts it once), its own weight otherwise."""
    return [
        "- linear: {name: lm_head, out_features: vocab_size, bias: false,",
        f"           when: tie_word_embeddings, tie: {{weight: {tied_to}}}}}",
        "- linear: {name: lm_head, out_features: vocab_size, bias: false,",
        "           when: not tie_word_embeddings}",
    ]


def _comment(text: str) -> str:
    import textwrap

    return "\n".join("# " + line for line in textwrap.wrap(text, 86, break_on_hyphens=False))


def _conv1d() -> bool:
    """Whether the registry has transformers' Conv1D (weight (in, out), as HF stores it)."""
    from ..layers import REGISTRY

    return REGISTRY.get("transformers_conv1d") is not None


def _gpt2(cfg: dict, source: str, arch: str, head: str) -> tuple[str, list]:
    vals = _need(cfg, "vocab_size", "n_embd", "n_layer", "n_head")
    for key, v in zip(("vocab_size", "n_embd", "n_layer", "n_head"), vals):
        _int(cfg, key, v)
    vocab, embd, layers, heads = vals
    if embd % heads:  # GPT2Attention.__init__
        raise ImportFailed(
            f"config.json: n_embd {embd} is not divisible by n_head {heads} "
            "(transformers' GPT2Attention refuses it)",
            "n_embd",
        )
    if _flag(cfg, "add_cross_attention"):
        raise ImportFailed(
            "config.json: add_cross_attention is true: GPT-2's cross-attention "
            "(crossattention, ln_cross_attn, fed by an encoder) is not modelled",
            "add_cross_attention",
        )
    npos = _int(cfg, "n_positions", cfg.get("n_positions") or cfg.get("n_ctx") or 1024)
    inner = _int(cfg, "n_inner", cfg.get("n_inner") or 4 * embd)
    act = _act_entry(cfg, "activation_function", "gelu_new", "act")
    tie = _flag(cfg, "tie_word_embeddings")
    conv1d = _conv1d()
    pairs = [
        ("vocab_size", vocab),
        ("n_positions", npos),
        ("n_embd", embd),
        ("n_layer", layers),
        ("n_head", heads),
        ("n_inner", inner),
        ("layer_norm_epsilon", _num("layer_norm_epsilon", cfg.get("layer_norm_epsilon", 1e-5))),
    ]
    prefix = "transformer"
    what = {
        "causal_lm": "transformer (wte, wpe, h, ln_f) and lm_head"
        + (", tied to transformer.wte (parameters() counts it once)." if tie else "."),
        "base": "wte, wpe, h and ln_f (no head: the output is the last hidden state).",
        "seq_cls": "transformer and score, a linear layer applied to every token, of "
        "which the last position's logits are kept (transformers keeps the rightmost "
        "non-padding token's: the same for an input without padding).",
        "token_cls": "transformer, dropout and classifier per token.",
        "qa": "transformer and qa_outputs (start and end logits).",
    }[head]
    if head == "causal_lm":
        pairs.append(("tie_word_embeddings", int(tie)))
        tail = _lm_head("transformer.wte.weight")
    elif head == "base":
        prefix, tail = None, []
    elif head == "token_cls":
        pairs.append(("num_labels", num_labels(cfg)))
        tail = [
            "- dropout: {name: dropout, p: 0.0}",
            "- linear: {name: classifier, out_features: num_labels}",
        ]
    else:
        if head == "seq_cls":
            pairs.append(("num_labels", num_labels(cfg)))
            if cfg.get("pad_token_id") is None:
                what += (
                    " With no pad_token_id, transformers refuses a batch above 1 for "
                    "sequence classification."
                )
        tail = _heads(head, "n_embd")
    pairs += [("batch", 1), ("tokens", 16)]
    comment = (
        f"{arch} from {source} (layercalc import hf), written as transformers' "
        f"models/gpt2/modeling_gpt2.py writes it: {what} Module names equal the "
        "checkpoint's keys"
        + (
            "; c_attn, c_fc and c_proj are transformers' Conv1D (weight (in, out))."
            if conv1d
            else "; HF stores c_attn, c_fc and c_proj as Conv1D, whose weights are the "
            "transposes of these linear layers' (same counts; transpose them to load)."
        )
    )
    # GPT2Attention's scaling: / sqrt(head_dim) unless scale_attn_weights is false, and
    # / (layer_idx + 1) with scale_attn_by_inverse_layer_idx
    by_weights = _flag(cfg, "scale_attn_weights", True)
    by_layer = _flag(cfg, "scale_attn_by_inverse_layer_idx")
    body = _GPT2_BODY
    if by_layer or not by_weights:
        pairs += [
            ("scale_attn_weights", int(by_weights)),
            ("scale_attn_by_inverse_layer_idx", int(by_layer)),
        ]
        body = [
            line.replace(
                "block: {repeat: n_layer}", "block: {layer_idx: j, repeat: {times: n_layer, as: j}}"
            )
            for line in body
        ]
    lines = _group(prefix, body) + tail
    outputs = "\noutputs: [start_logits, end_logits]" if head == "qa" else ""
    text = _GPT2.format(
        comment=_comment(comment),
        name=yaml_quoted(str(cfg.get("_name_or_path") or arch)),
        dtype=_dtype(cfg),
        vars=_vars(pairs),
        act=act,
        linear="transformers_conv1d" if conv1d else "linear",
        out="nf" if conv1d else "out_features",
        layers="\n".join(_indent(lines, 2)) + outputs,
    )
    if by_layer or not by_weights:
        text = (
            text.replace(
                "  attention:   # GPT2Attention\n    layers:",
                "  attention:   # GPT2Attention\n    args: {layer_idx: 0}\n    layers:",
            )
            .replace(
                "from: [q, k, v], is_causal: true}",
                "from: [q, k, v], is_causal: true,\n"
                "                                      scale: (1 / (n_embd // n_head) ** 0.5 "
                "if scale_attn_weights else 1.0)\n"
                "                                        / (layer_idx + 1 if "
                "scale_attn_by_inverse_layer_idx else 1)}",
            )
            .replace(
                "  block:   # GPT2Block\n    layers:",
                "  block:   # GPT2Block\n    args: {layer_idx: 0}\n    layers:",
            )
            .replace(
                "      - attention: {name: attn}",
                "      - attention: {name: attn, layer_idx: layer_idx}",
            )
        )
    return text, []


# -- BERT ---------------------------------------------------------------------------------

_BERT = """\
{comment}{notes}
name: {name}
{dtype}{vars}
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
{layers}
"""

_BERT_BODY = [
    "- sequential:",
    "    name: embeddings",
    "    layers:",
    "      - embedding: {name: word_embeddings, from: input_ids, num_embeddings: vocab_size,",
    "                    embedding_dim: hidden_size}",
    "      - arange: {name: position_ids, end: input_shape(1)}",
    "      - embedding: {name: position_embeddings, from: position_ids,",
    "                    num_embeddings: max_position_embeddings, embedding_dim: hidden_size}",
    "      - embedding: {name: token_type_embeddings, from: token_type_ids,",
    "                    num_embeddings: type_vocab_size, embedding_dim: hidden_size}",
    "      - add: {name: summed, from: [word_embeddings, token_type_embeddings,",
    "                                    position_embeddings]}",
    "      - layer_norm: {name: LayerNorm, normalized_shape: [hidden_size], eps: layer_norm_eps}",
    "      - dropout: {name: dropout, p: 0.0}",
    "- sequential:",
    "    name: encoder",
    "    layers:",
    "      - sequential:",
    "          name: layer",
    "          layers: [bert_layer: {repeat: num_hidden_layers}]",
]

_BERT_POOLER = [
    "- sequential:",
    "    name: pooler",
    "    layers:",
    "      - select: {name: first_token, dim: 1, index: 0}",
    "      - linear: {name: dense, out_features: hidden_size}",
    "      - tanh: {name: activation}",
]


def _bert(cfg: dict, source: str, arch: str, head: str) -> tuple[str, list]:
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
    if hidden % heads and cfg.get("embedding_size") is None:  # BertSelfAttention.__init__
        raise ImportFailed(
            f"config.json: hidden_size {hidden} is not a multiple of num_attention_heads "
            f"{heads} (transformers' BertSelfAttention refuses it)",
            "hidden_size",
        )
    if hidden % heads:
        raise ImportFailed(
            f"config.json: hidden_size {hidden} is not a multiple of num_attention_heads "
            f"{heads}: with embedding_size set transformers runs it, layercalc cannot "
            "(the heads would not cover the hidden size)",
            "hidden_size",
        )
    for key, why in (
        ("is_decoder", "a causal BERT decoder (its mask and cache)"),
        ("add_cross_attention", "BERT's cross-attention (crossattention, fed by an encoder)"),
    ):
        if _flag(cfg, key):
            raise ImportFailed(f"config.json: {key} is true: {why} is not modelled", key)
    pet = cfg.get("position_embedding_type", "absolute")
    if pet not in (None, "absolute"):
        raise ImportFailed(
            f"config.json: position_embedding_type {pet!r} is not "
            "supported (only 'absolute': the relative key embeddings are missing)",
            "position_embedding_type",
        )
    act = _act_entry(cfg, "hidden_act", "gelu", "intermediate_act_fn")
    from ..graph import RESERVED_NAMES

    prefix = None if head == "base" else "bert"
    out, warnings, notes = "output", [], ""
    if out in RESERVED_NAMES and not _torch_name():  # the language reserves `output`
        out = "output_"
        at = "" if prefix is None else prefix + "."
        warnings.append(
            "the spec language reserves the layer name 'output': BertAttention.output and "
            f"BertLayer.output are written `output_` (state_dict keys "
            f"{at}encoder.layer.N.attention.output_.dense.weight ... differ from the "
            "checkpoint's)"
        )
        notes = "\n# NOTE: `output_` stands for HF's `output` (a name the language reserves)."
    elif out in RESERVED_NAMES:
        out = "output_, torch_name: output"
    pairs = [
        ("vocab_size", vocab),
        ("hidden_size", hidden),
        ("num_hidden_layers", layers),
        ("num_attention_heads", heads),
        ("intermediate_size", inter),
        (
            "max_position_embeddings",
            _int(cfg, "max_position_embeddings", cfg.get("max_position_embeddings", 512)),
        ),
        ("type_vocab_size", _int(cfg, "type_vocab_size", cfg.get("type_vocab_size", 2))),
        ("layer_norm_eps", _num("layer_norm_eps", cfg.get("layer_norm_eps", 1e-12))),
    ]
    body = list(_BERT_BODY)
    outputs = ""
    if head == "base":
        body += _BERT_POOLER
        outputs = "\noutputs: [encoder, pooler]"
        tail = []
        what = (
            "embeddings (word, position and token type embeddings, LayerNorm), "
            "encoder.layer (BertLayer: attention.self, attention.output, intermediate, "
            "output) and pooler (dense + tanh of the first token). The outputs are "
            "last_hidden_state (encoder) and pooler_output (pooler)."
        )
    elif head == "masked_lm":
        tie = _flag(cfg, "tie_word_embeddings")
        pairs.append(("tie_word_embeddings", int(tie)))
        act2 = _act_entry(cfg, "hidden_act", "gelu", "transform_act_fn")
        decoder = "- linear: {name: decoder, from: transform, out_features: vocab_size,"
        tail = _group(
            "cls",
            _group(
                "predictions",
                [
                    "- sequential:",
                    "    name: transform",
                    "    layers:",
                    "      - linear: {name: dense, out_features: hidden_size}",
                    f"      - {act2}",
                    "      - layer_norm: {name: LayerNorm, normalized_shape: [hidden_size],",
                    "                     eps: layer_norm_eps}",
                    "- parameter: {name: bias, shape: [vocab_size]}",
                    decoder,
                    "           when: tie_word_embeddings,",
                    "           tie: {weight: bert.embeddings.word_embeddings.weight,",
                    "                 bias: cls.predictions.bias}}",
                    decoder,  # untied, transformers 5 ties neither: the decoder's own bias
                    "           when: not tie_word_embeddings}",
                ],
            ),
        )
        what = (
            "bert (BertModel without its pooler) and cls.predictions (transform: dense, "
            "activation, LayerNorm; decoder"
            + (
                " tied to the word embeddings, its bias to cls.predictions.bias)."
                if tie
                else ", untied: cls.predictions.bias is kept but unused)."
            )
        )
    elif head == "seq_cls":
        body += _BERT_POOLER
        pairs.append(("num_labels", num_labels(cfg)))
        tail = [
            "- dropout: {name: dropout, p: 0.0}",
            "- linear: {name: classifier, out_features: num_labels}",
        ]
        what = "bert (BertModel with its pooler), dropout and classifier on the pooled output."
    elif head == "token_cls":
        pairs.append(("num_labels", num_labels(cfg)))
        tail = [
            "- dropout: {name: dropout, p: 0.0}",
            "- linear: {name: classifier, out_features: num_labels}",
        ]
        what = "bert (BertModel without its pooler), dropout and classifier per token."
    else:
        if num_labels(cfg) != 2:  # BertForQuestionAnswering: Linear(hidden, num_labels)
            raise ImportFailed(
                f"config.json: BertForQuestionAnswering with {num_labels(cfg)} labels: "
                "transformers splits its qa_outputs into start and end logits, which "
                "runs only with num_labels 2",
                "id2label" if "id2label" in cfg else "num_labels",
            )
        tail = _heads(head, "hidden_size")
        outputs = "\noutputs: [start_logits, end_logits]"
        what = "bert (BertModel without its pooler) and qa_outputs (start and end logits)."
    pairs += [("batch", 1), ("tokens", 16)]
    comment = (
        f"{arch} from {source} (layercalc import hf), written as transformers' "
        f"models/bert/modeling_bert.py writes it: {what} Module names equal the "
        "checkpoint's keys."
    )
    lines = _group(prefix, body) + tail
    text = _BERT.format(
        comment=_comment(comment),
        name=yaml_quoted(str(cfg.get("_name_or_path") or arch)),
        dtype=_dtype(cfg),
        vars=_vars(pairs),
        act=act,
        out=out,
        notes=notes,
        layers="\n".join(_indent(lines, 2)) + outputs,
    )
    return text, warnings


def _torch_name() -> bool:
    """Whether the spec language has the meta key `torch_name` (a state_dict segment that
    differs from the layer's name, for names the language reserves)."""
    from .. import spec

    return "torch_name" in getattr(spec, "META_KEYS", ()) or hasattr(spec, "TORCH_NAME")
