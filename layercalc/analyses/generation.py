"""Generation costs of a decoder (``cost --context N``): pure, data in and data out.

Everything is derived from the network's own layers, never from a config:

- **Attention calls** are the rows of ``scaled_dot_product_attention`` and of
  ``multihead_attention`` (its own row: the in-projection and the attention; PyTorch's
  transformer layers hold such rows). Attention written by hand with ``matmul`` and
  ``softmax`` is not recognised.
- **The token dimension** is found in the spec's input: a dim whose size is the key
  length of an attention call (dims after the batch first, dim 0 last). The network
  is rebuilt with that dim set to the context (through the var the input names there,
  so every other use of the var follows, else through the input shape itself) and the
  batch (dim 0, or its var) set to ``--batch``. A call whose key length follows the
  tokens one for one is **self-attention**; one whose key length stays fixed (a memory
  of another input) is **cross-attention**.
- **KV cache**: every self-attention call keeps its K and V, as the attention layer
  reads them (after rotary embedding; grouped-query K/V before they are shared: HF's
  DynamicCache), for each token: elements per token = (K + V elements) / key length;
  ``multihead_attention`` keeps the projected K and V, 2·E per token. Bytes = those
  elements x tokens (the context; ``final``: context + new tokens - 1, the last token
  is never fed back) x the spec dtype. For Llama-3-8B this is
  2 · 32 layers · 8 kv heads · 128 · tokens · batch · bytes. Cross-attention calls keep
  their K and V at their own (fixed) length, once, as HF's EncoderDecoderCache does.
- **Prefill** = the network at batch B and N tokens: its own MACs (SPEC.md section 7:
  dense attention, the causal mask does not halve Q·Kᵀ and A·V; the output head runs
  on every position), FLOPs = 2 x MACs.
- **A decode step** feeds one token at position p (p tokens cached) and attends p + 1
  keys: MACs = linear part per token + Σ over self-attention calls of
  (heads x (head_dim_k + head_dim_v)) x (p + 1), i.e. 2·h·(p+1)·hd for Q·Kᵀ and as much
  for A·V per layer, in FLOPs. The linear part per token is the prefill's MACs minus
  its attention terms, divided by N (exact for token-wise networks). Generating T new
  tokens = the prefill (which yields the first) + T - 1 steps at p = N ... N + T - 2.
- **Training FLOPs per token** = 3 x forward (backward = 2 x forward) at the context:
  6 x (linear MACs per token) + 6 x (attention MACs per token), which is PaLM's
  (Chowdhery et al. 2022, appendix B) 6N + 12·L·H·Q·T with N the weights a token
  meets in a matmul (embedding lookups excluded, the output head included). Shown
  beside 6N of all parameters and Kaplan et al. (2020)'s 6N_non-embedding +
  6·n_layer·n_ctx·d_attn (their attention term is half the dense one: the causal mask).
- **Weights memory** at the spec dtype and quantized: only the weights of ``linear``
  layers (and GPT-2's ``transformers_conv1d``) are quantized, except the layers that
  produce a network output (transformers' get_keys_to_not_convert keeps lm_head);
  embeddings, norms, biases, buffers and everything else stay at the spec dtype (int64
  counters at 8 bytes). Per weight of shape (out, in), n = out·in (see
  FORMAT_CONVENTIONS).
- **Sliding windows**: the spec's var ``sliding_window`` W (``--window`` overrides it,
  0 removes it) applies to the causal self-attention calls from the
  ``max_window_layers``-th on. As transformers' DynamicSlidingWindowLayer, such a call
  caches min(tokens, W - 1) keys, a decode step attends min(p + 1, W) keys, and its
  prefill counts the (query, key) pairs with key > query - W (band_pairs).
- **Positions**: an ``embedding`` fed by an ``arange`` that follows the tokens is a
  learned position table: N + T - 1 positions beyond its num_embeddings are an error
  (torch indexes out of range). A spec with ``rotary_embedding`` layers and a var
  ``max_position_embeddings`` gets a warning beyond it (transformers still runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


INT64_BYTES = 8
NF4_BLOCK = 64  # bitsandbytes' default blocksize for 4-bit weights
NF4_NESTED_BLOCK = 256  # double quantization: absmax quantized in blocks of 256
NF4_TENSOR_CONSTANTS = 16 * 4 + 256 * 4 + 4  # quant_map, nested_quant_map, offset (fp32)
MAX_CANDIDATES = 4  # token-dim guesses tried (each one rebuilds the network)

FORMATS = ("int8", "fp8", "int4", "nf4")
# the layers whose weights are quantized: linear (out, in) and transformers' Conv1D of
# GPT-2 (in, out), which bitsandbytes and AWQ quantize as the linear layer it is
QUANTIZED_TYPES = ("linear", "transformers_conv1d")
FORMAT_CONVENTIONS = {
    "int8": "1 byte per weight + a float32 scale per output row (LLM.int8(), "
    "bitsandbytes Int8Params: CB and SCB)",
    "fp8": "1 byte per weight (float8_e4m3fn) + one float32 scale per tensor "
    "(per-tensor weight_scale, as vLLM's and compressed-tensors' FP8)",
    "int4": "4 bits per weight + per group of G inputs of a row a float16 scale and a "
    "4-bit zero point (AWQ/GPTQ: qweight, scales, qzeros)",
    "nf4": "4 bits per weight + a uint8 absmax per block of 64, a float32 absmax per "
    "256 blocks and 1,092 bytes of tables per tensor (bitsandbytes NF4 with double "
    "quantization, QLoRA: 4.127 bits per weight)",
}


class GenerationError(Exception):
    """``cost --context`` cannot be answered for this spec; ``code``, ``hint`` and an
    optional located diagnostic (``where``) say why."""

    def __init__(self, code: str, message: str, hint: str | None = None, where=None):
        super().__init__(message)
        self.code, self.message, self.hint, self.where = code, message, hint, where


@dataclass
class Call:
    """One attention call at the shapes it was built with (batch included)."""

    name: str
    keys: int  # keys attended (multihead_attention: + add_bias_kv / add_zero_attn keys)
    cached: int  # key rows of its K and V (what a cache holds)
    queries: int
    kv_per_key: int  # K + V elements per key row
    core: int  # Q·Kᵀ + A·V MACs
    proj_kv: int  # MACs projecting K and V (multihead_attention only)
    causal: bool
    per_token: str  # K + V per token and sequence, as a product ("2 · 8 · 128")
    kind: str = "self"


def attention_calls(net) -> list[Call]:
    calls = []
    for layer in net.layers:
        info = layer.type.attention_call(layer.args, layer.input_shapes, layer.macs)
        if info is not None:
            calls.append(Call(layer.name, *info))
    return calls


# -- the token dimension and the rebuilt network ------------------------------------------


def _input_items(spec) -> list:
    """[(name or None, shape, [the YAML node of each dim or None])] of the inputs."""
    from ..yamlnodes import Mapping, Sequence

    node = spec.root.get("input") if spec.root is not None else None
    refs = spec.input_refs()
    out = []
    if spec.inputs is None:
        items = node.items if isinstance(node, Sequence) else []
        out.append((None, tuple(refs["input"]), items))
    else:
        for name, shape in spec.inputs.items():
            v = node.get(name) if isinstance(node, Mapping) else None
            out.append((name, tuple(shape), v.items if isinstance(v, Sequence) else []))
    return out


def _var_at(spec, nodes, d: int, size: int):
    """The var that dim ``d`` of an input is written as (``[batch, tokens]``), if it
    still has that size (not replaced by --input)."""
    from ..yamlnodes import Scalar

    if d >= len(nodes) or not isinstance(nodes[d], Scalar):
        return None
    name = nodes[d].value
    if isinstance(name, str) and spec.vars.get(name) == size and not isinstance(size, bool):
        return name
    return None


def _candidates(spec, keys: set, use_vars: bool = True) -> list:
    """(var or None, dim, size, inputs) guesses of the token dim, most likely first: a
    var the input names there (every use of it follows), else that dim of that input
    alone, then of every input with that size there (token ids and their type ids).
    ``use_vars`` false (--input replaced the shapes): the dims themselves."""
    out, seen = [], set()
    for name, shape, nodes in _input_items(spec):
        for d in [*range(1, len(shape)), 0]:
            if shape[d] not in keys:
                continue
            var = _var_at(spec, nodes, d, shape[d]) if use_vars else None
            for cand in (
                [(var, d, shape[d], None)]
                if var
                else [
                    (None, d, shape[d], (name,)),
                    (None, d, shape[d], "*"),
                ]
            ):
                key = cand[0] or cand[1:]
                if key not in seen:
                    seen.add(key)
                    out.append(cand)
    return out[:MAX_CANDIDATES]


def _rebuild(net, cand, context: int, batch, sets: dict, input_override, limits):
    """The network at ``context`` tokens and batch ``batch`` (None: the spec's), and the
    batch it has."""
    from ..errors import SpecError, SpecErrors
    from ..graph import build
    from ..spec import Limits, respec

    limits = limits or Limits()
    spec = net.spec
    var, d, size, which = cand
    bdim = 0 if d != 0 else 1  # the batch: dim 0, or dim 1 of a sequence-first input
    items = _input_items(spec)
    over = dict(sets or {})
    shapes = None
    bvar = None
    for _, shape, nodes in items:
        if len(shape) >= 2:
            found = _var_at(spec, nodes, 0, shape[0])
            if found and found != var:
                bvar = found
                break
    spec_batch = spec.vars.get(bvar) if bvar else None
    try:
        if var is not None:
            over[var] = context
            if bvar and batch is not None:
                over[bvar] = batch
            spec2 = respec(spec, over, input_override, limits)
            if batch is not None and bvar is None:
                shapes = {
                    name: tuple(batch if i == bdim else v for i, v in enumerate(shape))
                    if len(shape) >= 2
                    else shape
                    for name, shape, _ in _input_items(spec2)
                }
        else:
            shapes = {}
            for name, shape, _ in items:
                mine = which == "*" or name in which
                new = [context if mine and i == d and s == size else s for i, s in enumerate(shape)]
                if batch is not None and len(new) >= 2:
                    new[bdim] = batch
                shapes[name] = tuple(new)
        if shapes is not None:
            override = shapes[None] if None in shapes else shapes
            spec2 = respec(spec, over, override, limits)
        net2 = build(spec2, limits)
    except (SpecError, SpecErrors) as exc:
        first = (
            exc.diagnostics(spec.file)[0]
            if isinstance(exc, SpecErrors)
            else exc.diagnostic(spec.file)
        )
        if first.code == "index-range":  # a learned position table too short (_positions)
            raise GenerationError(
                "context-too-long",
                f"at {context:,} tokens: {first.message}",
                hint=POSITIONS_HINT,
                where=first,
            ) from None
        raise GenerationError(
            "context-fails",
            f"at {context:,} tokens"
            + (f" and batch {batch:,}" if batch is not None else "")
            + f" the network cannot be built: {first.message}",
            hint="a smaller --context or --batch, or the spec's limits (e.g. its "
            "position embeddings)",
            where=first,
        ) from None
    first_shape = next(iter(net2.spec.input_refs().values()))
    if bvar:
        used = net2.spec.vars.get(bvar)
    elif len(first_shape) >= 2:
        used = first_shape[bdim]
    else:
        used = 1
    return net2, (used if isinstance(used, int) else spec_batch or 1)


def _finish(net, calls, N, T, B, group_size, window, where):
    """The figures of the network at the context, its position and window checks."""
    _positions(net, N, T)
    windows, window_from = _windows(net, calls, window)
    g = _figures(net, calls, N, T, B, group_size, where, windows)
    g.window = next((w for w in windows if w), None)
    g.window_from = window_from if g.window else ""
    g.warnings = _rotary_warnings(net, N, T)
    return g, net


def load_at_context(path: str, sets, input_override, limits, context: int, batch):
    """Build the network once, at the context: (Result, (var, batch)) when the spec's one
    input is written ``[batch_var, tokens_var, ...]`` and, with the token var set to
    ``context`` (and the batch var to ``batch``), every attention call's key length is
    the context (each one follows the tokens: there is no other source of keys); None
    when that cannot be told from one build (several inputs, free parameters, a key
    length that differs, --input): `cost` then builds at the spec's shapes first and
    finds the token dim by comparing the two builds."""
    from ..errors import SpecError, SpecErrors
    from ..graph import build, gc_paused
    from ..spec import Limits, load_spec, respec
    from .loading import MAX_FILE_BYTES, Result, read_source

    if path == "-" or input_override:
        return None
    limits = limits or Limits()
    try:
        data = read_source(path)
        if len(data) > MAX_FILE_BYTES:
            return None
        with gc_paused():
            spec = load_spec(data, path, sets, None, limits)
            items = _input_items(spec)
            if len(items) != 1 or len(items[0][1]) < 2 or spec.pending:
                return None
            _, shape, nodes = items[0]
            var = _var_at(spec, nodes, 1, shape[1])
            bvar = _var_at(spec, nodes, 0, shape[0])
            if var is None or bvar == var:
                return None
            over = {**(sets or {}), var: context}
            if bvar and batch is not None:
                over[bvar] = batch
            elif batch is not None:
                return None  # a batch without a var: the usual path sets the shape
            net = build(respec(spec, over, None, limits), limits)
    except (OSError, SpecError, SpecErrors, RecursionError):
        return None  # the usual path reports it
    calls = attention_calls(net)
    if (
        not calls
        or any(c.cached != context for c in calls)
        or any(layer.type.name == "parameter" for layer in net.layers)
    ):
        return None
    used = net.spec.vars.get(bvar) if bvar else next(iter(net.spec.input_refs().values()))[0]
    return Result(path, net, []), (var, used if isinstance(used, int) else 1)


@dataclass
class Generation:
    context: int
    new_tokens: int
    batch: int
    group_size: int
    dtype: str
    dtype_bytes: int
    token_dim: str  # how the context was set: "var tokens" or "dim 1 of input"
    calls: list
    weights: list = field(default_factory=list)  # one dict per format
    figures: dict = field(default_factory=dict)
    window: int | None = None  # the sliding window of the windowed calls (None: none)
    window_from: str = ""  # where the window came from: "var sliding_window", "--window"
    warnings: list = field(default_factory=list)  # (message, layer node or None)


def _exact(x: Fraction):
    """An exact figure as an int when it is one, else rounded (and said so)."""
    return int(x) if x.denominator == 1 else round(x)


def weight_memory(net, group_size: int) -> list:
    """Bytes of the weights at the spec dtype and in every FORMATS, with the convention."""
    size = net.dtype_bytes
    outs = set(net.output_refs().values())
    total = sum(
        t.numel * (INT64_BYTES if t.dtype == "int64" else size)
        for layer in net.layers
        for t in layer.tensors
    )
    mats = [
        t.shape if layer.type.name == "linear" else t.shape[::-1]
        for layer in net.layers
        if layer.type.name in QUANTIZED_TYPES and layer.ref not in outs
        for t in layer.tensors
        if t.key == "weight" and not t.buffer and len(t.shape) == 2
    ]
    n_q = sum(o * i for o, i in mats)
    kept = total - n_q * size

    def fmt_bytes(kind: str) -> int:
        b = 0
        for out, inp in mats:
            n = out * inp
            if kind == "int8":
                b += n + 4 * out
            elif kind == "fp8":
                b += n + 4
            elif kind == "int4":
                groups = -(-inp // group_size)
                b += -(-n // 2) + 2 * out * groups + -(-(out * groups) // 2)
            else:  # nf4
                blocks = -(-n // NF4_BLOCK)
                b += -(-n // 2) + blocks + 4 * -(-blocks // NF4_NESTED_BLOCK) + NF4_TENSOR_CONSTANTS
        return b

    rows = [
        {
            "format": net.spec.dtype,
            "quantized_bytes": n_q * size,
            "other_bytes": kept,
            "bytes": total,
            "convention": f"every tensor at the spec dtype ({size} bytes; int64 counters 8)",
        }
    ]
    for kind in FORMATS:
        q = fmt_bytes(kind)
        conv = FORMAT_CONVENTIONS[kind].replace("group of G", f"group of {group_size}")
        rows.append(
            {
                "format": f"int4-g{group_size}" if kind == "int4" else kind,
                "quantized_bytes": q,
                "other_bytes": kept,
                "bytes": q + kept,
                "convention": conv,
            }
        )
    for r in rows:
        r["quantized_weights"] = n_q
        r["quantized_tensors"] = len(mats)
    return rows


def generation(
    net,
    context: int,
    new_tokens: int = 1,
    batch: int | None = None,
    group_size: int = 128,
    sets: dict | None = None,
    input_override=None,
    limits=None,
    window: int | None = None,
    prebuilt: tuple | None = None,
):
    """(Generation, the network at the prefill's shapes) for ``net`` (``prebuilt``: (var,
    batch) when load_at_context built ``net`` at the context already); GenerationError
    when the spec has no attention or no token dim, or when the context runs past a
    learned position table. ``window``: --window (None: the spec's var sliding_window;
    0: no window)."""
    if prebuilt is not None:  # built at the context already (load_at_context)
        var, used_batch = prebuilt
        calls2 = attention_calls(net)
        where = f"var {var}"
        return _finish(net, calls2, context, new_tokens, used_batch, group_size, window, where)
    calls = attention_calls(net)
    if not calls:
        raise GenerationError(
            "no-attention",
            "--context needs attention layers (scaled_dot_product_attention or "
            "multihead_attention): this network has none, so it keeps no KV cache",
            hint="drop --context for the plain compute and memory figures",
        )
    keys = {c.cached for c in calls}
    cands = _candidates(net.spec, keys, input_override is None)
    if not cands:
        raise GenerationError(
            "no-token-dim",
            "--context: no dim of the input is the attention's key length ("
            + ", ".join(f"{k:,}" for k in sorted(keys))
            + "), so layercalc cannot tell which dim holds the tokens (e.g. image "
            "patches made inside the network)",
            hint="write the input as [batch, tokens] token ids or (batch, tokens, features)",
        )
    last_error = None
    for cand in cands:
        try:
            net2, used_batch = _rebuild(net, cand, context, batch, sets, input_override, limits)
        except GenerationError as exc:
            last_error = exc
            continue
        calls2 = attention_calls(net2)
        if len(calls2) != len(calls):
            continue
        size = cand[2]
        for c, c2 in zip(calls, calls2):
            follows = (
                c2.cached - c.cached == context - size if context != size else c2.cached >= context
            )
            c2.kind = "self" if follows and c2.cached >= context else "cross"
        if any(c.kind == "self" for c in calls2):
            var, d, _, which = cand
            if var:
                where = f"var {var}"
            elif which == "*" or which == (None,):
                where = f"dim {d} of the input" + ("s" if net.spec.inputs else "")
            else:
                where = f"dim {d} of input {which[0]}"
            return _finish(net2, calls2, context, new_tokens, used_batch, group_size, window, where)
    if last_error is not None:
        raise last_error
    raise GenerationError(
        "no-token-dim",
        "--context: changing the input dims of the attention's key length did not "
        "change the key length of any attention call",
        hint="write the input as [batch, tokens] token ids or (batch, tokens, features)",
    )


# -- sliding windows and position tables ----------------------------------------------------

WINDOW_VAR = "sliding_window"  # the spec var a sliding window is read from
WINDOW_FIRST_VAR = "max_window_layers"  # self-attention calls before it stay full
POSITIONS_VAR = "max_position_embeddings"  # a rotary model's trained positions


def _var_int(net, name: str, least: int):
    value = net.spec.vars.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise GenerationError(
            "bad-window",
            f"var {name} must be an integer >= {least} for --context, got {value!r}",
            hint=f"set it with --set {name}=N",
        )
    return value


def _windows(net, calls, override) -> tuple[list, str]:
    """The window of each call (0: none) and where it came from. The spec's var
    sliding_window applies to its causal self-attention calls from the
    max_window_layers-th on (0 when unset), in network order; --window W (``override``)
    replaces the window (every causal self-attention call when the spec has none) and
    --window 0 removes it."""
    spec_w = _var_int(net, WINDOW_VAR, 2)  # 1 would keep W - 1 = 0 tokens
    first = _var_int(net, WINDOW_FIRST_VAR, 0) or 0
    if override is not None:
        if override == 0:
            return [0] * len(calls), ""
        w, source = override, "--window"
        if spec_w is None:
            first = 0
    elif spec_w is None:
        return [0] * len(calls), ""
    else:
        w, source = spec_w, f"var {WINDOW_VAR}"
    out, k = [], 0
    for c in calls:
        if c.kind == "self" and c.causal:
            out.append(w if k >= first else 0)
            k += 1
        else:
            out.append(0)
    return out, source


def _producer(net, ref: str):
    found = net.by_name.get(ref)
    if isinstance(found, tuple) and found[0] == "layer":
        return net.layers[found[1]]
    return None


POSITIONS_HINT = "a learned position table cannot be extended"


def _positions(net, N: int, T: int) -> None:
    """A learned position table (an `embedding` fed by an `arange` that follows the
    tokens) must hold every position: N + T - 1 (the prompt and the fed-back new
    tokens); torch would index out of range, so that is an error at the table."""
    from ..errors import SpecError

    for layer in net.layers:
        if layer.type.name != "embedding":
            continue
        for ref in layer.inputs:
            src = _producer(net, ref)
            if src is None or src.type.name != "arange" or len(src.output) != 1:
                continue
            a, n = src.args, src.output[0]
            if n == 0:
                continue
            last = max(a["start"], a["start"] + a["step"] * (n - 1))
            if n == N:  # the positions follow the tokens: decoding goes on from there
                last += T - 1
            size = layer.args["num_embeddings"]
            if last >= size:
                need = f"{N:,} tokens" + (f" + {T - 1:,} new" if T > 1 and n == N else "")
                raise GenerationError(
                    "context-too-long",
                    f"{need} need position {last:,}, but {layer.name} holds "
                    f"{size:,} positions (num_embeddings): torch would index out of "
                    "range",
                    hint=f"--context and --new-tokens within {size:,} positions; " + POSITIONS_HINT,
                    where=SpecError("context-too-long", "", node=layer.node).diagnostic(
                        net.spec.file
                    ),
                )


def _rotary_warnings(net, N: int, T: int) -> list:
    """A rotary model past the positions it was trained on (its var
    max_position_embeddings): transformers runs it, quality is not promised."""
    limit = net.spec.vars.get(POSITIONS_VAR)
    if isinstance(limit, bool) or not isinstance(limit, int):
        return []
    rotary = [layer for layer in net.layers if layer.type.name == "rotary_embedding"]
    if not rotary or N + T - 1 <= limit:
        return []
    return [
        (
            f"{N + T - 1:,} positions ({N:,} tokens"
            + (f" + {T - 1:,} new" if T > 1 else "")
            + f") exceed max_position_embeddings {limit:,}: the rotary embedding "
            "still runs, but the model was not trained that far",
            rotary[0].node,
        )
    ]


def _sum_min(a: int, b: int, w: int) -> int:
    """Σ min(x, w) for x = a..b (0 when b < a)."""
    if b < a:
        return 0
    lo = min(b, w - 1)  # x below w count themselves
    head = (a + lo) * (lo - a + 1) // 2 if lo >= a else 0
    return head + w * (b - max(a, w) + 1 if b >= max(a, w) else 0)


def band_pairs(n: int, w: int) -> int:
    """(query, key) pairs of an n-token prefill that a window of w keeps, counted dense
    as the rest of layercalc counts attention (the causal mask does not halve it): the
    pairs with key > query - w, n² less the keys the window drops.

    >>> band_pairs(4, 2), band_pairs(4, 4), band_pairs(3, 8)
    (13, 16, 9)
    """
    if not w or n <= w:
        return n * n
    return n * n - (n - w) * (n - w + 1) // 2


def _figures(
    net, calls, N: int, T: int, B: int, group_size: int, where: str, windows=None
) -> Generation:
    size = net.dtype_bytes
    windows = windows or [0] * len(calls)
    selfs = [(c, w) for c, w in zip(calls, windows) if c.kind == "self"]
    cross = [c for c in calls if c.kind == "cross"]
    macs = net.totals()["macs"]
    core_self = sum(c.core for c, _ in selfs)
    core_cross = sum(c.core for c in cross)
    linear = macs - core_self - core_cross  # batch B, N tokens
    # a windowed call's prefill: the band of (query, key) pairs the window keeps
    band_self = sum(
        Fraction(c.core * band_pairs(c.queries, w), c.queries * c.keys) if w else c.core
        for c, w in selfs
    )
    prefill = linear + core_cross + band_self
    # per new token (batch B): the linear part, cross-attention over its memory (its K
    # and V projected once), self-attention over p + 1 keys (a window: min(p + 1, W))
    # plus the keys it appends (add_bias_kv, add_zero_attn)
    step_fixed = Fraction(linear - sum(c.proj_kv for c in cross), N) + sum(
        Fraction(c.core, c.queries) for c in cross
    )
    coef = [(Fraction(c.core, c.queries * c.keys), c.keys - c.cached, w) for c, w in selfs]

    def keys(p: int, w: int) -> int:
        return min(p + 1, w) if w else p + 1

    def step(p: int) -> Fraction:
        return step_fixed + sum(k * (keys(p, w) + off) for k, off, w in coef)

    steps = T - 1
    # Σ over p = N .. N+T-2 of keys(p) + off
    decode = steps * step_fixed + sum(
        k
        * (
            (_sum_min(N + 1, N + T - 1, w) if w else _sum_min(N + 1, N + T - 1, N + T))
            + steps * off
        )
        for k, off, w in coef
    )

    def held(n: int, w: int) -> int:  # DynamicSlidingWindowLayer keeps the last W - 1
        return min(n, w - 1) if w else n

    def kv(n: int) -> int:
        return sum(c.kv_per_key * (held(n, w) + c.cached - N) for c, w in selfs)

    kv_per_token = sum(c.kv_per_key for c, _ in selfs)  # batch included
    cross_kv = sum(c.kv_per_key * c.cached for c in cross)
    cache = kv(N) + cross_kv
    final = kv(N + T - 1) + cross_kv
    tokens = B * N
    params = net.totals()["params"]
    embedding = sum(
        layer.params for layer in net.layers if layer.type.name in ("embedding", "parameter")
    )
    attn_token = Fraction(band_self, tokens)
    lin_token = Fraction(linear + core_cross, tokens)
    g = Generation(N, T, B, group_size, net.spec.dtype, size, where, calls)
    g.weights = weight_memory(net, group_size)
    uniform = len({c.per_token for c, _ in selfs}) == 1
    windowed = [w for _, w in selfs if w]
    g.figures = {
        "attention_calls": len(selfs),
        "windowed_attention_calls": len(windowed),
        "sliding_window": windowed[0] if windowed else None,
        "cross_attention_calls": len(cross),
        "causal": any(c.causal for c, _ in selfs),
        "kv_elements_per_token": kv_per_token // B if kv_per_token % B == 0 else kv_per_token,
        "kv_per_token_text": selfs[0][0].per_token if uniform else "",
        "kv_cache_bytes": cache * size,
        "kv_cache_tokens": N,
        "kv_cache_window_tokens": held(N, windowed[0]) if windowed else N,
        "kv_cache_final_tokens": N + T - 1,
        "kv_cache_final_bytes": final * size,
        "cross_kv_cache_bytes": cross_kv * size,
        "prefill_macs": _exact(prefill),
        "prefill_flops": _exact(2 * prefill),
        "prefill_dense_macs": macs,
        "decode_linear_flops": _exact(2 * step_fixed),
        "decode_attention_flops_per_key": _exact(2 * sum(k for k, _, _ in coef)),
        "flops_per_token_at_context": _exact(2 * step(N)),
        "decode_steps": steps,
        "decode_flops": _exact(2 * decode),
        "generation_flops": _exact(2 * (prefill + decode)),
        "training_flops_per_token": _exact(6 * (lin_token + attn_token)),
        "training_linear_flops_per_token": _exact(6 * lin_token),
        "training_attention_flops_per_token": _exact(6 * attn_token),
        "params": params,
        "embedding_params": embedding,
        "six_n": 6 * params,
        "kaplan_flops_per_token": _exact(6 * (params - embedding) + 3 * attn_token),
    }
    return g


def window_diagnostic(net, file: str | None = None):
    """A warning for `verify` when a windowed attention call (the spec's var
    sliding_window, as `cost --context` reads it) attends more keys than its window:
    the spec computes full causal attention there, while transformers masks the keys
    beyond the window, so their outputs part. None when no call goes past its window."""
    from ..errors import Diagnostic

    try:
        calls = attention_calls(net)
        windows, _ = _windows(net, calls, None)
    except GenerationError:
        return None
    past = [(c, w) for c, w in zip(calls, windows) if w and c.keys > w]
    if not past:
        return None
    call, w = past[0]
    layer = net.layers[net.by_name[call.name][1]]
    node = layer.node
    return Diagnostic(
        "window-exceeded",
        f"'{call.name}' attends {call.keys:,} keys, beyond the sliding window of {w:,} "
        f"(var {WINDOW_VAR}; {len(past)} call{'s' if len(past) != 1 else ''} past it): "
        "the spec computes full causal attention, transformers masks the keys beyond the "
        "window, so the outputs differ from here on",
        line=getattr(node, "line", 1),
        column=getattr(node, "col", 1),
        severity="warning",
        hint=f"verify with at most {w:,} tokens to compare with transformers "
        "(shapes and counts hold either way)",
        file=file or net.spec.file,
    )
