"""Attention and the Transformer (SPEC.md section 12): ``scaled_dot_product_attention``,
``multihead_attention`` and PyTorch's ``transformer_encoder_layer``,
``transformer_decoder_layer``, ``transformer_encoder``, ``transformer_decoder`` and
``transformer``, with their arguments, defaults, refusals and state_dict names as
torch/nn/modules/activation.py, torch/nn/modules/transformer.py and
torch/nn/functional.py (multi_head_attention_forward, scaled_dot_product_attention's
reference implementation) have them in torch 2.14.

The modules with submodules are composites: their rows are the modules PyTorch registers,
named as it names them (``self_attn`` holding ``in_proj_weight``, ``self_attn.out_proj``,
``linear1``, ``norm1``, ``dropout1``, ``layers.0...``), in the order the forward runs
them, plus the steps the forward computes functionally: the residual sums
(``residual1``, ``residual2``, ``residual3``) and, when the activation is given as a word,
``activation``. Every tensor belongs to exactly one row.

Conventions (README, "Attention"): MACs are the projections (as ``linear``) plus Q·Kᵀ and
A·V, N·L·S·E each (E = embed_dim, summed over heads); softmax, scaling and masking are not
counted. A training step keeps q, k, v and the attention probabilities (N·H·L·S: the
L² term) besides the rows' outputs (``saved``).
"""

from __future__ import annotations

import math

from ..arith import prod
from ..errors import LayerError
from .base import Arg, LayerType, Member, Tensor

MAX_STACK = 100_000  # num_layers, as recurrent layers bound theirs: each copy is rows


def _check_module(a, key, want):
    """A module-valued argument PyTorch reads attributes of (TransformerEncoder reads
    ``encoder_layer.self_attn.batch_first``; Transformer calls its custom encoder with
    ``mask=``): a registry type must be ``want``; a block of the spec is taken on trust."""
    from . import REGISTRY

    v = a.get(key)
    if v is None or isinstance(v, tuple) or not hasattr(v, "type_name"):
        return
    lt = REGISTRY.get(v.type_name)
    if lt is not None and lt.name != want:
        raise LayerError(
            f"{key} must be a {want} (PyTorch's module reads its attributes "
            f"and calls it as one), not {lt.name}",
            arg=key,
            hint=f"`{key}: {{{want}: {{...}}}}`, or a block of your own",
        )


def _is_encoder_layer(layer) -> bool:
    """Whether a stack's layer (a LayerValue, or (type, args) from nn.Transformer) is a
    transformer_encoder_layer: a block of the spec is not (TransformerEncoder's fast
    path needs the torch class)."""
    from . import REGISTRY

    if isinstance(layer, tuple):
        return layer[0].name == "transformer_encoder_layer"
    lt = REGISTRY.get(getattr(layer, "type_name", None) or "")
    return lt is not None and lt.name == "transformer_encoder_layer"


def _check_stack(a, key):
    n = a[key]
    if n < 1:
        raise LayerError(f"{key} must be at least 1, got {n}", arg=key)
    if n > MAX_STACK:
        raise LayerError(
            f"{key} {n:,} is beyond layercalc's bound of {MAX_STACK:,} stacked "
            "layers (each holds its own tensors)",
            arg=key,
            code="too-large",
        )


def _shape(s) -> str:
    return "(" + ", ".join(str(v) for v in s) + (",)" if len(s) == 1 else ")")


def softmax_(np, x):
    """Softmax over the last axis in place, numerically stable (the row maximum is
    subtracted first); a row that is all -inf gives NaN, as in PyTorch."""
    m = np.max(x, axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    x -= m
    np.exp(x, out=x)
    x /= np.sum(x, axis=-1, keepdims=True)
    return x


def _additive(np, mask, dtype, attend_when_true: bool):
    """A boolean or float mask as an additive float mask (0 or -inf for booleans)."""
    if mask.dtype == np.bool_:
        blocked = mask if not attend_when_true else ~mask
        out = np.zeros(mask.shape, dtype=dtype)
        out[blocked] = -np.inf
        return out
    return mask.astype(dtype, copy=False)


# -- scaled_dot_product_attention -----------------------------------------------------------


class ScaledDotProductAttention(LayerType):
    """torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p,
    is_causal, scale, enable_gqa): softmax(Q·Kᵀ·scale + mask)·V over the last two dims,
    leading dims broadcast. A boolean attn_mask is True where a query may attend."""

    name = "scaled_dot_product_attention"
    aliases = ("sdpa",)
    family = "attention"
    doc = "torch.nn.functional.scaled_dot_product_attention: softmax(QKᵀ·scale + mask)V"
    merge = True
    input_roles = ("query", "key", "value", "attn_mask?")
    mask_attend = True  # a boolean attn_mask is True where a query may attend
    args = (
        Arg("dropout_p", "float", 0.0, doc="dropout on the weights in training"),
        Arg("is_causal", "bool", False, doc="a causal (lower-triangular) mask"),
        Arg("scale", "float", None, nullable=True, doc="default 1/sqrt(E)"),
        Arg("enable_gqa", "bool", False, doc="key/value heads shared by groups of query heads"),
    )

    def attention_call(self, a: dict, shapes: list, macs: int) -> tuple:
        roles = a["_roles"]
        k = shapes[roles.index("key")]
        v = shapes[roles.index("value")]
        S = a["_S"]
        if len(k) >= 3 and k[:-2] == v[:-2] and k[-1] == v[-1]:
            text = f"2 · {k[-3]} · {k[-1]}"
        else:
            text = f"{(prod(k[1:]) + prod(v[1:])) // S:,}"
        causal = bool(a["is_causal"]) or "attn_mask" in roles
        return (S, S, a["_L"], (prod(k) + prod(v)) // S, macs, 0, causal, text)

    def infer(self, a, shapes):
        roles = a["_roles"]
        if len(roles) < 3 or roles[:3] != ("query", "key", "value"):
            raise LayerError(
                "scaled_dot_product_attention takes query, key and value "
                f"(`from: [q, k, v]`), got {', '.join(roles)}",
                arg="from",
                code="bad-from",
            )
        q, k, v = (tuple(shapes[roles.index(r)]) for r in ("query", "key", "value"))
        for what, s in (("query", q), ("key", k), ("value", v)):
            if len(s) < 2:
                raise LayerError(
                    f"scaled_dot_product_attention: {what} must be at least "
                    f"2-d (..., L, E), got {list(s)}",
                    code="bad-rank",
                )
        if not 0 <= a["dropout_p"] <= 1:
            raise LayerError(f"dropout_p must be in [0, 1], got {a['dropout_p']}", arg="dropout_p")
        if q[-1] != k[-1]:
            raise LayerError(
                f"query's last dim {q[-1]} and key's {k[-1]} must be equal "
                f"(Q·Kᵀ; PyTorch refuses it: query {list(q)}, key {list(k)})",
                arg="from",
                code="shape-mismatch",
            )
        if k[-2] != v[-2]:
            raise LayerError(
                f"key and value must have the same sequence length, got key "
                f"{list(k)} and value {list(v)} (PyTorch refuses it)",
                arg="from",
                code="shape-mismatch",
            )
        kb, vb = k[:-2], v[:-2]
        if a["enable_gqa"]:
            if len(q) < 3 or len(k) < 3 or len(v) < 3:
                raise LayerError(
                    "enable_gqa needs a heads dim: query, key and value of shape (..., H, L, E)",
                    arg="enable_gqa",
                    code="bad-rank",
                )
            hq, hk, hv = q[-3], k[-3], v[-3]
            if hk != hv or hk == 0 or hq % hk:
                raise LayerError(
                    f"with enable_gqa the query heads ({hq}) must be a multiple "
                    f"of the key and value heads ({hk}, {hv}), which must be "
                    "equal (PyTorch refuses it)",
                    arg="enable_gqa",
                    code="shape-mismatch",
                )
            kb = kb[:-1] + (hq,)
            vb = vb[:-1] + (hq,)
        batch = _broadcast([q[:-2], kb, vb], "query, key and value's leading dims")
        L, S, Ev = q[-2], k[-2], v[-1]
        if len(roles) > 3:
            m = tuple(shapes[roles.index("attn_mask")])
            if a["is_causal"]:
                raise LayerError(
                    "_scaled_dot_product_attention: Explicit attn_mask should "
                    "not be set when is_causal=True (PyTorch refuses it)",
                    arg="is_causal",
                )
            try:
                _broadcast([m, batch + (L, S)], "attn_mask")
            except LayerError:
                raise LayerError(
                    f"attn_mask {list(m)} does not broadcast to the attention "
                    f"weights {list(batch + (L, S))} (PyTorch refuses it)",
                    arg="from",
                    code="shape-mismatch",
                ) from None
        a["_batch"], a["_L"], a["_S"], a["_E"], a["_Ev"] = batch, L, S, q[-1], Ev
        return batch + (L, Ev)

    def macs(self, a, shapes, out):
        b = prod(a["_batch"])
        return b * a["_L"] * a["_S"] * (a["_E"] + a["_Ev"])

    def saved(self, a, shapes, out):
        return prod(a["_batch"]) * a["_L"] * a["_S"]  # the attention probabilities

    def workspace(self, a, shapes, out):
        return prod(out) + 3 * prod(a["_batch"]) * a["_L"] * a["_S"] + sum(prod(s) for s in shapes)

    def window(self, a, shapes, out):
        return None  # every position may depend on every other

    def summary(self, a):
        parts = []
        if a["is_causal"]:
            parts.append("causal")
        if a["scale"] is not None:
            parts.append(f"scale={a['scale']}")
        if a["enable_gqa"]:
            parts.append("gqa")
        return " ".join(parts)

    def explain_shape(self, a, shapes, out):
        return [
            f"softmax(Q·Kᵀ·scale{' + causal mask' if a['is_causal'] else ''})·V: query "
            f"{_shape(shapes[0])} and key {_shape(shapes[1])} give weights "
            f"{_shape(a['_batch'] + (a['_L'], a['_S']))}; times value "
            f"{_shape(shapes[2])} gives {_shape(out)}"
        ]

    def forward(self, a, xs, w):
        import numpy as np

        roles = a["_roles"]
        q, k, v = (xs[roles.index(r)] for r in ("query", "key", "value"))
        if a["enable_gqa"]:
            rep = q.shape[-3] // k.shape[-3]
            if rep != 1:
                k = np.repeat(k, rep, axis=-3)
                v = np.repeat(v, rep, axis=-3)
        L, S = q.shape[-2], k.shape[-2]
        scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(q.shape[-1])
        scores = np.matmul(q * q.dtype.type(scale), np.swapaxes(k, -1, -2))
        if a["is_causal"]:
            scores = scores + np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(
                scores.dtype
            )
        if "attn_mask" in roles:
            scores = scores + _additive(np, xs[roles.index("attn_mask")], scores.dtype, True)
        softmax_(np, scores)
        return np.matmul(scores, v)


def _broadcast(shapes, what):
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(dims) > 1:
            raise LayerError(
                f"{what} do not broadcast: " + ", ".join(str(list(s)) for s in shapes),
                arg="from",
                code="shape-mismatch",
            )
        out.append(dims.pop() if dims else 1)
    return tuple(out)


# -- multihead_attention --------------------------------------------------------------------

MHA_ARGS = (
    Arg("num_heads", "int", doc="heads; embed_dim must be divisible by it"),
    Arg("dropout", "float", 0.0, doc="dropout on the attention weights in training"),
    Arg("bias", "bool", True, doc="in_proj_bias and out_proj.bias"),
    Arg("add_bias_kv", "bool", False, doc="bias_k and bias_v appended to key and value"),
    Arg("add_zero_attn", "bool", False, doc="a zero key and value appended"),
    Arg("kdim", "int", None, nullable=True, doc="key features (default embed_dim)"),
    Arg("vdim", "int", None, nullable=True, doc="value features (default embed_dim)"),
    Arg("batch_first", "bool", False, doc="(N, L, E) instead of (L, N, E)"),
    Arg(
        "is_causal",
        "bool",
        False,
        doc="a causal mask (PyTorch: attn_mask = "
        "generate_square_subsequent_mask(L) with is_causal=True)",
    ),
    Arg("need_weights", "bool", True, doc="the attn_weights output"),
    Arg("average_attn_weights", "bool", True, doc="weights averaged over the heads"),
    Arg("embed_dim", "int", None, nullable=True, doc="inferred from the query's last dim"),
)


def _mha_check(a: dict, shapes: list) -> tuple:
    """nn.MultiheadAttention's constructor checks and F.multi_head_attention_forward's
    shape checks; stores the sizes in ``a`` and returns the output shape (the query's)."""
    roles = a["_roles"]
    by = {r: tuple(shapes[i]) for i, r in enumerate(roles)}
    q = by["query"]
    if ("key" in by) != ("value" in by):
        raise LayerError(
            "multihead_attention takes the query alone (self-attention) or query, key and value",
            arg="from",
            code="bad-from",
            hint="`from: [q, k, v]` or `from: {query: q, key: k, value: v}`",
        )
    k = by.get("key", q)
    v = by.get("value", q)
    rank = len(q)
    if rank not in (2, 3):
        raise LayerError(
            f"query should be unbatched 2D or batched 3D tensor but received "
            f"{rank}-D query tensor (PyTorch refuses it; query {list(q)})",
            code="bad-rank",
        )
    if len(k) != rank or len(v) != rank:
        kind = "batched (3-D)" if rank == 3 else "unbatched (2-D)"
        raise LayerError(
            f"For {kind} `query`, expected `key` and `value` to be {rank}-D but "
            f"found {len(k)}-D and {len(v)}-D tensors respectively (PyTorch "
            "refuses it)",
            arg="from",
            code="bad-rank",
        )
    E = q[-1]
    given = a.get("embed_dim")
    if given is None:
        a["embed_dim"] = E
    elif given != E:
        raise LayerError(
            f"was expecting embedding dimension of {given}, but got {E} "
            f"(PyTorch refuses it; query {list(q)})",
            arg="embed_dim",
            code="shape-mismatch",
            hint=f"set embed_dim: {E}, or remove it (layercalc infers it)",
        )
    H = a["num_heads"]
    if E <= 0 or H <= 0:
        raise LayerError(
            f"embed_dim and num_heads must be greater than 0, got embed_dim={E} "
            f"and num_heads={H} instead (PyTorch refuses it)",
            arg="num_heads",
        )
    if E % H:
        raise LayerError(
            f"embed_dim must be divisible by num_heads (PyTorch refuses "
            f"embed_dim {E} with num_heads {H})",
            arg="num_heads",
            hint="num_heads dividing "
            + str(E)
            + ": "
            + ", ".join(str(d) for d in range(1, min(E, 64) + 1) if E % d == 0),
        )
    if not 0 <= a["dropout"] <= 1:
        raise LayerError(f"dropout must be in [0, 1], got {a['dropout']}", arg="dropout")
    kdim = a["kdim"] if a["kdim"] is not None else E
    vdim = a["vdim"] if a["vdim"] is not None else E
    for what, n in (("kdim", kdim), ("vdim", vdim)):
        if n <= 0:
            raise LayerError(f"{what} must be greater than 0, got {n}", arg=what)
    same = kdim == E and vdim == E
    if same and k != v:
        raise LayerError(
            f"key shape {_shape(k)} does not match value shape {_shape(v)} (PyTorch refuses it)",
            arg="from",
            code="shape-mismatch",
        )
    if k[-1] != kdim:
        raise LayerError(
            f"the key has {k[-1]} features but kdim is {kdim} (PyTorch refuses "
            f"it: expecting key weights shape of ({E}, {k[-1]}))",
            arg="kdim" if a["kdim"] is not None else "from",
            code="shape-mismatch",
            hint=f"set kdim: {k[-1]}",
        )
    if v[-1] != vdim:
        raise LayerError(
            f"the value has {v[-1]} features but vdim is {vdim} (PyTorch "
            f"refuses it: expecting value weights shape of ({E}, {v[-1]}))",
            arg="vdim" if a["vdim"] is not None else "from",
            code="shape-mismatch",
            hint=f"set vdim: {v[-1]}",
        )
    batched = rank == 3
    bf = a["batch_first"] and batched
    L = q[1] if bf else q[0]
    S = k[1] if bf else k[0]
    N = (q[0] if bf else q[1]) if batched else None
    if batched:
        kn = k[0] if bf else k[1]
        vn = v[0] if bf else v[1]
        if kn != N or vn != N:
            raise LayerError(
                f"query, key and value must have the same batch size, got "
                f"{N}, {kn} and {vn} (PyTorch refuses it)",
                arg="from",
                code="shape-mismatch",
            )
    if (v[1] if bf else v[0]) != S:
        raise LayerError(
            f"key and value must have the same sequence length, got key "
            f"{list(k)} and value {list(v)} (PyTorch refuses it)",
            arg="from",
            code="shape-mismatch",
        )
    S2 = S + int(a["add_bias_kv"]) + int(a["add_zero_attn"])
    if "key_padding_mask" in by:
        m = by["key_padding_mask"]
        want = (N, S) if batched else (S,)
        if m != want:
            raise LayerError(
                f"key_padding_mask is {list(m)}, but this attention needs "
                f"{list(want)} ((N, S) batched, (S,) unbatched; PyTorch "
                "refuses it)",
                arg="from",
                code="shape-mismatch",
            )
    if "attn_mask" in by:
        m = by["attn_mask"]
        if a["is_causal"]:
            raise LayerError(
                "is_causal makes the causal mask: give it or an attn_mask, not both",
                arg="is_causal",
            )
        ok = m == (L, S) or (len(m) == 3 and m == ((N or 1) * H, L, S))
        if not ok:
            raise LayerError(
                f"attn_mask is {list(m)}, but should be {list((L, S))} or "
                f"{list(((N or 1) * H, L, S))} (PyTorch refuses it: The shape "
                "of the attn_mask is not correct)",
                arg="from",
                code="shape-mismatch",
            )
    if a["is_causal"] and L != S:
        raise LayerError(
            f"is_causal needs as many queries as keys (a square causal mask), got {L} and {S}",
            arg="is_causal",
            code="shape-mismatch",
        )
    a["_kdim"], a["_vdim"], a["_same"] = kdim, vdim, same
    a["_L"], a["_S"], a["_S2"], a["_N"] = L, S, S2, N
    return q


class MHAProjection(LayerType):
    """The row of nn.MultiheadAttention itself (named as the module, e.g. ``self_attn``):
    its in_proj_weight (q_proj_weight, k_proj_weight, v_proj_weight with kdim/vdim),
    in_proj_bias, bias_k and bias_v, the projections and the attention over the heads; its
    output is the heads concatenated, which the member row ``out_proj`` projects."""

    name = "multihead_attention"
    family = "attention"
    doc = "torch.nn.MultiheadAttention's own tensors and attention (before out_proj)"
    merge = True
    input_roles = ("query", "key", "value", "key_padding_mask?", "attn_mask?")
    mask_attend = False  # boolean masks are True where a key is ignored
    inferred = ("embed_dim",)
    args = MHA_ARGS

    def attention_call(self, a: dict, shapes: list, macs: int) -> tuple:
        E, n, S = a["embed_dim"], a["_N"] or 1, a["_S"]
        core = 2 * n * a["_L"] * a["_S2"] * E
        proj = n * S * E * (a["_kdim"] + a["_vdim"])
        causal = bool(a["is_causal"]) or "attn_mask" in a["_roles"]
        return (a["_S2"], S, a["_L"], 2 * n * E, core, proj, causal, f"2 · {E}")

    def infer(self, a, shapes):
        return _mha_check(a, shapes)

    def outputs(self, a, shapes, out):
        if not a["need_weights"]:
            return None
        L, S2, N, H = a["_L"], a["_S2"], a["_N"], a["num_heads"]
        lead = () if N is None else (N,)
        heads = () if a["average_attn_weights"] else (H,)
        return (("output", tuple(out)), ("attn_weights", lead + heads + (L, S2)))

    def tensors(self, a, shapes, out):
        E = a["embed_dim"]
        if a["_same"]:
            ts = [Tensor("in_proj_weight", (3 * E, E))]
        else:
            ts = [
                Tensor("q_proj_weight", (E, E)),
                Tensor("k_proj_weight", (E, a["_kdim"])),
                Tensor("v_proj_weight", (E, a["_vdim"])),
            ]
        if a["bias"]:
            ts.append(Tensor("in_proj_bias", (3 * E,), is_bias=True))
        if a["add_bias_kv"]:
            ts += [
                Tensor("bias_k", (1, 1, E), is_bias=True),
                Tensor("bias_v", (1, 1, E), is_bias=True),
            ]
        return ts

    def macs(self, a, shapes, out):
        E, L, S, S2 = a["embed_dim"], a["_L"], a["_S"], a["_S2"]
        n = a["_N"] or 1
        proj = n * (L * E * E + S * E * a["_kdim"] + S * E * a["_vdim"])
        return proj + 2 * n * L * S2 * E

    def saved(self, a, shapes, out):
        E, L, S2 = a["embed_dim"], a["_L"], a["_S2"]
        n = a["_N"] or 1
        return n * (L * E + 2 * S2 * E) + n * a["num_heads"] * L * S2

    def workspace(self, a, shapes, out):
        E, L, S2 = a["embed_dim"], a["_L"], a["_S2"]
        n = a["_N"] or 1
        return 4 * n * (L * E + 2 * S2 * E) + 3 * n * a["num_heads"] * L * S2 + prod(out)

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        parts = [f"E={a['embed_dim']} heads={a['num_heads']}"]
        if not a["_same"]:
            parts.append(f"kdim={a['_kdim']} vdim={a['_vdim']}")
        if a["is_causal"]:
            parts.append("causal")
        if a["batch_first"]:
            parts.append("batch_first")
        if not a["bias"]:
            parts.append("bias=False")
        if a["add_bias_kv"]:
            parts.append("bias_kv")
        if a["add_zero_attn"]:
            parts.append("zero_attn")
        return " ".join(parts)

    def explain_shape(self, a, shapes, out):
        E, H = a["embed_dim"], a["num_heads"]
        return [
            f"{H} heads of {E}/{H} = {E // H} features; queries L = {a['_L']}, keys "
            f"S = {a['_S']}"
            + (f" (+{a['_S2'] - a['_S']} appended)" if a["_S2"] != a["_S"] else "")
            + f"; each head: softmax(QKᵀ/√{E // H})V, heads concatenated: {_shape(out)}"
        ]

    def explain_params(self, a, shapes, out):
        E = a["embed_dim"]
        if a["_same"]:
            lines = [
                f"in_proj_weight: the Q, K and V projections stacked, 3·E·E = "
                f"3·{E}·{E} = {3 * E * E:,}"
            ]
        else:
            k, v = a["_kdim"], a["_vdim"]
            lines = [
                f"q_proj_weight E·E + k_proj_weight E·kdim + v_proj_weight E·vdim = "
                f"{E}·{E} + {E}·{k} + {E}·{v} = {E * (E + k + v):,}"
            ]
        if a["bias"]:
            lines.append(f"in_proj_bias: 3·E = {3 * E:,}")
        if a["add_bias_kv"]:
            lines.append(f"bias_k + bias_v: 2·E = {2 * E:,}")
        lines.append(
            f"out_proj (its own row): E·E + E = {E * E + E * a['bias']:,}"
            if a["bias"]
            else f"out_proj (its own row): E·E = {E * E:,}"
        )
        if a["_same"] and a["bias"] and not a["add_bias_kv"]:
            total = 4 * E * E + 4 * E
            lines.append(
                f"the module: 3·E² + 3E + E² + E = 4·{E}² + 4·{E} = {total:,}; a "
                f"linear of the same inputs and outputs ({E} -> {E}) has "
                f"{E * E + E:,}: attention's Q, K and V add 3·E² + 3E"
            )
        return lines

    def forward(self, a, xs, w):
        import numpy as np

        roles = a["_roles"]
        get = {r: xs[i] for i, r in enumerate(roles)}
        q_in = get["query"]
        k_in = get.get("key", q_in)
        v_in = get.get("value", q_in)
        batched = q_in.ndim == 3
        if batched and a["batch_first"]:
            q_in, k_in, v_in = (x.transpose(1, 0, 2) for x in (q_in, k_in, v_in))
        if not batched:
            q_in, k_in, v_in = (x[:, None, :] for x in (q_in, k_in, v_in))
        E, H = a["embed_dim"], a["num_heads"]
        hd = E // H
        L, N = q_in.shape[0], q_in.shape[1]
        dt = q_in.dtype
        if a["_same"]:
            W = w["in_proj_weight"]
            wq, wk, wv = W[:E], W[E : 2 * E], W[2 * E :]
        else:
            wq, wk, wv = w["q_proj_weight"], w["k_proj_weight"], w["v_proj_weight"]
        b = w.get("in_proj_bias")
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])

        def proj(x, wt, bias):
            y = np.dot(x.reshape(-1, x.shape[-1]), wt.T).reshape(x.shape[:-1] + (E,))
            if bias is not None:
                y += bias
            return y

        q = proj(q_in, wq, bq)
        k = proj(k_in, wk, bk)
        v = proj(v_in, wv, bv)
        S = k.shape[0]
        mask = None  # additive, broadcast to (N*H or 1, L, S)
        if "attn_mask" in get:
            m = _additive(np, get["attn_mask"], dt, False)
            mask = m[None] if m.ndim == 2 else m
        elif a["is_causal"]:
            mask = np.where(np.triu(np.ones((L, S), dtype=bool), 1), -np.inf, 0.0).astype(dt)[None]
        kpm = get.get("key_padding_mask")
        if a.get("_nested") is not None and kpm is not None and batched:
            counts = nested_lengths(np, kpm, a["_nested"])  # TransformerEncoder's fast path
            if counts is not None:
                kpm = nested_mask(np, counts, kpm.shape[-1])
        # PyTorch's own path: with is_causal, no key_padding_mask and need_weights false it
        # drops the mask and lets scaled_dot_product_attention make the causal one over
        # every key, appended ones (bias_k, zero attention) included, which it then hides
        sdpa_causal = (
            a["is_causal"] and "attn_mask" not in get and kpm is None and not a["need_weights"]
        )
        if kpm is not None:
            kpm = _additive(np, kpm if batched else kpm[None], dt, False)  # (N, S)
        if a.get("_fast") and batched and (mask is not None or kpm is not None):
            # TransformerEncoderLayer's fast path (eval, no autograd) merges the masks and
            # reads them as booleans: a key is out wherever their sum is not 0
            merged = np.zeros((N, 1, L, S), dtype=dt)
            if mask is not None:
                merged = merged + mask.reshape((-1, 1, L, S) if mask.shape[0] > 1 else (1, 1, L, S))
            if kpm is not None:
                merged = merged + kpm[:, None, None, :]
            merged = np.where(merged != 0, -np.inf, 0.0).astype(dt)
            mask = np.broadcast_to(merged, (N, H, L, S)).reshape(N * H, L, S)
            kpm = None
        if a["add_bias_kv"]:
            k = np.concatenate([k, np.broadcast_to(w["bias_k"], (1, N, E))], axis=0)
            v = np.concatenate([v, np.broadcast_to(w["bias_v"], (1, N, E))], axis=0)
            if mask is not None:
                mask = np.pad(mask, ((0, 0), (0, 0), (0, 1)))
            if kpm is not None:
                kpm = np.pad(kpm, ((0, 0), (0, 1)))
        q = q.reshape(L, N * H, hd).transpose(1, 0, 2)
        k = k.reshape(k.shape[0], N * H, hd).transpose(1, 0, 2)
        v = v.reshape(v.shape[0], N * H, hd).transpose(1, 0, 2)
        if a["add_zero_attn"]:
            k = np.concatenate([k, np.zeros((N * H, 1, hd), dtype=dt)], axis=1)
            v = np.concatenate([v, np.zeros((N * H, 1, hd), dtype=dt)], axis=1)
            if mask is not None:
                mask = np.pad(mask, ((0, 0), (0, 0), (0, 1)))
            if kpm is not None:
                kpm = np.pad(kpm, ((0, 0), (0, 1)))
        if sdpa_causal:
            S2 = k.shape[1]
            mask = np.where(np.tril(np.ones((L, S2), dtype=bool)), 0.0, -np.inf).astype(dt)[None]
        q *= dt.type(math.sqrt(1.0 / hd))
        scores = np.matmul(q, k.transpose(0, 2, 1))  # (N*H, L, S2)
        if mask is not None:
            scores += mask
        if kpm is not None:
            scores = scores.reshape(N, H, L, -1)
            scores += kpm[:, None, None, :]
            scores = scores.reshape(N * H, L, -1)
        softmax_(np, scores)
        out = np.matmul(scores, v)  # (N*H, L, hd)
        out = out.transpose(1, 0, 2).reshape(L, N, E)
        if not batched:
            out = out[:, 0]
        elif a["batch_first"]:
            out = out.transpose(1, 0, 2)
        out = np.ascontiguousarray(out)
        if not a["need_weights"]:
            return out
        weights = scores.reshape(N, H, L, -1)
        if a["average_attn_weights"]:
            weights = weights.mean(axis=1)
        if not batched:
            weights = weights[0]
        return out, np.ascontiguousarray(weights)


class MultiheadAttention(LayerType):
    """torch.nn.MultiheadAttention: the module's row (its in-projection and attention) and
    its member ``out_proj`` (a Linear E -> E). Outputs ``attn_output`` and, with
    need_weights, ``attn_weights`` ((N, L, S) averaged over the heads, else (N, H, L, S))."""

    name = "multihead_attention"
    aliases = ("mha",)
    family = "attention"
    doc = "torch.nn.MultiheadAttention: 3·E² + 3E + E² + E parameters"
    merge = True
    composite = True
    input_roles = MHAProjection.input_roles
    inferred = ("embed_dim",)
    args = MHA_ARGS

    def __init__(self):
        super().__init__()
        self.core = MHAProjection()

    def infer(self, a, shapes):
        return _mha_check(a, shapes)

    def members(self, a, shapes):
        E = a["embed_dim"]
        core = {k: v for k, v in a.items()}
        return [
            Member("", self.core, core, list(range(len(shapes)))),
            Member(
                "out_proj", "linear", {"in_features": E, "out_features": E, "bias": a["bias"]}, [""]
            ),
        ]

    def results(self, a):
        out = [("attn_output", "out_proj")]
        if a["need_weights"]:
            out.append(("attn_weights", ".attn_weights"))
        return out


# -- TransformerEncoder's nested-tensor fast path -------------------------------------------
# In eval mode without autograd (torch.no_grad, inference_mode: verify's semantics),
# nn.TransformerEncoder turns src into a nested tensor of each sequence's unpadded
# tokens when its layers allow it (enable_nested_tensor, TransformerEncoderLayer with
# norm_first false, batch_first, bias, relu or gelu, an even nhead), src is batched, a
# src_key_padding_mask is given and no mask, and (mask_check) every row of the mask is
# left-aligned: padding only at the end. Each layer then attends within a sequence's
# first n tokens (n: its unpadded count; with mask_check false, the first n whatever the
# mask says), and the output is padded back with zeros before the final norm. The
# layers' rows are computed with that mask and the zeros are a row of their own
# (`to_padded`, after the last layer's norm2), so the numbers are torch's.


def nested_lengths(np, pad, mask_check: bool):
    """Each sequence's unpadded count from a key padding mask (N, S) (bool: True is
    padding; float: non-zero is), or None where TransformerEncoder keeps the padded
    tensor (mask_check and a row that is not left-aligned)."""
    valid = ~pad if pad.dtype == bool else pad == 0
    counts = valid.sum(axis=-1)
    if mask_check and not (valid == (np.arange(valid.shape[-1]) < counts[:, None])).all():
        return None
    return counts


def nested_mask(np, counts, length: int):
    """The key padding mask (bool) equivalent to the nested tensor: every key past a
    sequence's count. A sequence of none holds no token in torch; here it attends all of
    them (finite values, zeroed by to_padded) rather than none (NaN)."""
    mask = np.arange(length)[None, :] >= counts[:, None]
    mask[counts == 0] = False
    return mask


class ToPaddedTensor(LayerType):
    """TransformerEncoder's ``output.to_padded_tensor(0.0, src.size())``: the positions
    past each sequence's unpadded count become zeros (the nested-tensor fast path; the
    input unchanged where torch does not take it). Inputs: the last layer's output and
    the src_key_padding_mask. A member of transformer_encoder, not a spec type."""

    name = "to_padded_tensor"
    family = "tensor"
    doc = "TransformerEncoder's nested tensor padded back with zeros"
    merge = True
    args = (Arg("mask_check", "bool", True, doc="torch's check that the mask is left-aligned"),)

    def infer(self, a, shapes):
        return tuple(shapes[0])

    def explain_shape(self, a, shapes, out):
        when = (
            "when every row of the mask is left-aligned (padding only at the end; "
            "mask_check), else unchanged"
            if a["mask_check"]
            else "(mask_check false: each sequence is its first n tokens, n unpadded)"
        )
        return [
            f"TransformerEncoder's nested-tensor fast path (eval, no autograd): {list(out)} "
            "unchanged in shape, the positions past each sequence's unpadded count "
            f"(src_key_padding_mask {list(shapes[1])}) zeros, {when}"
        ]

    def forward(self, a, xs, w):
        import numpy as np

        x, pad = xs
        counts = nested_lengths(np, pad, a["mask_check"])
        if counts is None:
            return x
        y = x.copy()
        y[np.arange(x.shape[1])[None, :] >= counts[:, None]] = 0
        return y


TO_PADDED = ToPaddedTensor()


# -- the Transformer layers ---------------------------------------------------------------


def _activation(a, name="activation"):
    """The activation argument as (type, args): a word is PyTorch's string form (relu or
    gelu, F.relu / F.gelu), a layer (``{gelu: {approximate: tanh}}``) is a module."""
    act = a[name]
    if isinstance(act, str):
        word = act
    elif not act.args and getattr(act.node, "value", None) == act.type_name:
        word = act.type_name  # a bare word: PyTorch's string form
    else:
        return act  # a module (a LayerValue): built as the entry it holds
    if word not in ("relu", "gelu"):
        raise LayerError(
            f"activation should be relu/gelu, not {word} (PyTorch refuses the "
            "string; a module is any layer)",
            arg=name,
            hint=f"pass a module instead: `{name}: {{{word}: {{}}}}`",
        )
    return word


LAYER_ARGS = (
    Arg("nhead", "int", doc="attention heads"),
    Arg("dim_feedforward", "int", 2048, doc="the feed-forward width"),
    Arg("dropout", "float", 0.1, doc="dropout (training only)"),
    Arg("activation", "layer", "relu", doc="relu or gelu, or a layer"),
    Arg("layer_norm_eps", "float", 1e-5, doc="the norms' eps"),
    Arg("batch_first", "bool", False, doc="(N, L, E) instead of (L, N, E)"),
    Arg("norm_first", "bool", False, doc="pre-norm: norm before attention and feed-forward"),
    Arg("bias", "bool", True, doc="biases of the linears and norms"),
    Arg("d_model", "int", None, nullable=True, doc="inferred from the input's last dim"),
)


def _check_layer(a, shapes, roles, lead):
    x = tuple(shapes[roles.index(lead)])
    if len(x) not in (2, 3):
        raise LayerError(
            f"a transformer layer takes (L, N, E) (or (N, L, E) with "
            f"batch_first, or unbatched (L, E)), got {list(x)}",
            code="bad-rank",
        )
    given = a.get("d_model")
    if given is None:
        a["d_model"] = x[-1]
    elif given != x[-1]:
        raise LayerError(
            f"d_model is {given} but the input has {x[-1]} features (PyTorch "
            f"refuses it: was expecting embedding dimension of {given}, but got "
            f"{x[-1]})",
            arg="d_model",
            code="shape-mismatch",
            hint=f"set d_model: {x[-1]}, or remove it (layercalc infers it)",
        )
    for k in ("nhead", "dim_feedforward"):
        if a[k] <= 0:
            raise LayerError(f"{k} must be greater than 0, got {a[k]}", arg=k)
    if a["d_model"] % a["nhead"]:
        raise LayerError(
            f"embed_dim must be divisible by num_heads (PyTorch refuses d_model "
            f"{a['d_model']} with nhead {a['nhead']})",
            arg="nhead",
        )
    if not 0 <= a["dropout"] <= 1:
        raise LayerError(f"dropout must be in [0, 1], got {a['dropout']}", arg="dropout")
    _activation(a)
    return x


def _mha_args(a, causal, weights=False):
    return {
        "num_heads": a["nhead"],
        "dropout": a["dropout"],
        "bias": a["bias"],
        "batch_first": a["batch_first"],
        "is_causal": causal,
        "need_weights": weights,
        "embed_dim": a["d_model"],
    }


def _ln(a):
    return {"normalized_shape": (a["d_model"],), "eps": a["layer_norm_eps"], "bias": a["bias"]}


def _feed_forward(a, x: str, last_dropout: str, fast: bool = False) -> list:
    d, ff = a["d_model"], a["dim_feedforward"]
    act = _activation(a)
    if fast and not isinstance(act, str) and _module_word(act) == "gelu":
        act = "gelu"  # the fast path's kernel runs exact GELU for any nn.GELU (tanh too)
    return [
        Member("linear1", "linear", {"in_features": d, "out_features": ff, "bias": a["bias"]}, [x]),
        Member("activation", act if isinstance(act, str) else act, {}, ["linear1"]),
        Member("dropout", "dropout", {"p": a["dropout"]}, ["activation"]),
        Member(
            "linear2",
            "linear",
            {"in_features": ff, "out_features": d, "bias": a["bias"]},
            ["dropout"],
        ),
        Member(last_dropout, "dropout", {"p": a["dropout"]}, ["linear2"]),
    ]


def _module_word(act) -> str:
    """The registry name of a module-valued activation (nn.ReLU: relu, nn.GELU: gelu)."""
    from . import REGISTRY

    lt = REGISTRY.get(act.type_name)
    return lt.name if lt is not None else act.type_name


def _fast_settings(a) -> bool:
    """The settings of an encoder layer PyTorch's fast paths need (TransformerEncoder's
    and TransformerEncoderLayer's checks alike): batch-first, biases, an even nhead,
    relu or gelu (the string, or an nn.ReLU / nn.GELU module of any approximate)."""
    if not a["batch_first"] or not a["bias"] or a["nhead"] % 2:
        return False
    act = _activation(a)
    return (act if isinstance(act, str) else _module_word(act)) in ("relu", "gelu")


def _attend(name, a, roles, query, kv, masks, causal, nested=None, fast=False):
    """A self- or cross-attention member: ``query`` (and ``kv``) member refs or input
    indices, the composite's mask roles mapped to MultiheadAttention's; ``nested``: the
    mask_check of TransformerEncoder's fast path, when it applies (None: it does not)."""
    ins, mroles = [query], ["query"]
    if kv is not None:
        ins += [kv, kv]
        mroles += ["key", "value"]
    for ours, theirs in masks:
        if ours in roles:
            ins.append(roles.index(ours))
            mroles.append(theirs)
    args = _mha_args(a, causal)
    args["_roles"] = tuple(mroles)
    if nested is not None:
        args["_nested"] = nested
    if fast:
        args["_fast"] = True
    return Member(name, "multihead_attention", args, ins)


class TransformerEncoderLayer(LayerType):
    """torch.nn.TransformerEncoderLayer: self_attn, dropout1, norm1 (after the residual
    sum, or before attention with norm_first), then linear1, activation, dropout, linear2,
    dropout2 and norm2. Masks by keyword: ``from: {src: x, src_key_padding_mask: m}``."""

    name = "transformer_encoder_layer"
    family = "attention"
    doc = "torch.nn.TransformerEncoderLayer"
    merge = True
    composite = True
    input_roles = ("src", "src_mask?", "src_key_padding_mask?")
    inferred = ("d_model",)
    args = LAYER_ARGS + (Arg("is_causal", "bool", False, doc="a causal mask on src"),)

    def infer(self, a, shapes):
        x = _check_layer(a, shapes, a["_roles"], "src")
        return x

    @staticmethod
    def nested(a) -> bool | None:
        """The mask_check of TransformerEncoder's nested-tensor fast path where it applies
        to this layer of a stack (the stack passes ``_nested``; the layer's own settings
        must allow it, as TransformerEncoder.__init__ checks), else None. A layer with
        is_causal keeps layercalc's causal mask (torch would raise without one)."""
        check = a.get("_nested")
        roles = a["_roles"]
        if (
            check is None
            or a["norm_first"]
            or a["is_causal"]
            or "src_key_padding_mask" not in roles
            or "src_mask" in roles
            or not _fast_settings(a)
        ):
            return None
        return check

    @staticmethod
    def fast(a, shapes) -> bool:
        """Whether PyTorch runs this layer through torch._transformer_encoder_layer_fwd in
        eval mode without autograd (TransformerEncoderLayer.forward's checks): a batched
        batch-first input, biases, relu or gelu (string or module), an even nhead. That
        kernel reads the masks as booleans and runs exact GELU for any nn.GELU."""
        return len(shapes[0]) == 3 and _fast_settings(a)

    def members(self, a, shapes):
        roles = a["_roles"]
        masks = (("src_mask", "attn_mask"), ("src_key_padding_mask", "key_padding_mask"))
        nested = self.nested(a)
        fast = self.fast(a, shapes)
        if not a["norm_first"]:
            padded = []
            if nested is not None and a.get("_to_padded"):
                pad = roles.index("src_key_padding_mask")
                padded = [Member("to_padded", TO_PADDED, {"mask_check": nested}, ["norm2", pad])]
            return (
                [
                    _attend("self_attn", a, roles, 0, None, masks, a["is_causal"], nested, fast),
                    Member("dropout1", "dropout", {"p": a["dropout"]}, ["self_attn"]),
                    Member("residual1", "add", {}, [0, "dropout1"]),
                    Member("norm1", "layer_norm", _ln(a), ["residual1"]),
                ]
                + _feed_forward(a, "norm1", "dropout2", fast)
                + [
                    Member("residual2", "add", {}, ["norm1", "dropout2"]),
                    Member("norm2", "layer_norm", _ln(a), ["residual2"]),
                ]
                + padded
            )
        return (
            [
                Member("norm1", "layer_norm", _ln(a), [0]),
                _attend("self_attn", a, roles, "norm1", None, masks, a["is_causal"], fast=fast),
                Member("dropout1", "dropout", {"p": a["dropout"]}, ["self_attn"]),
                Member("residual1", "add", {}, [0, "dropout1"]),
                Member("norm2", "layer_norm", _ln(a), ["residual1"]),
            ]
            + _feed_forward(a, "norm2", "dropout2", fast)
            + [Member("residual2", "add", {}, ["residual1", "dropout2"])]
        )

    def results(self, a):
        if self.nested(a) is not None and a.get("_to_padded"):
            return [("output", "to_padded")]
        return [("output", "norm2" if not a["norm_first"] else "residual2")]


class TransformerDecoderLayer(LayerType):
    """torch.nn.TransformerDecoderLayer: self-attention on tgt, cross-attention
    (multihead_attn) on the encoder's memory, feed-forward; norm1-3, dropout1-3.
    ``from: [tgt, memory]``, masks by keyword."""

    name = "transformer_decoder_layer"
    family = "attention"
    doc = "torch.nn.TransformerDecoderLayer"
    merge = True
    composite = True
    input_roles = (
        "tgt",
        "memory",
        "tgt_mask?",
        "memory_mask?",
        "tgt_key_padding_mask?",
        "memory_key_padding_mask?",
    )
    inferred = ("d_model",)
    args = LAYER_ARGS + (
        Arg("tgt_is_causal", "bool", False, doc="a causal mask on tgt"),
        Arg("memory_is_causal", "bool", False, doc="a causal mask on memory"),
    )

    def infer(self, a, shapes):
        roles = a["_roles"]
        if "memory" not in roles:
            raise LayerError(
                "transformer_decoder_layer takes tgt and memory (`from: [tgt, memory]`)",
                arg="from",
                code="bad-from",
            )
        x = _check_layer(a, shapes, roles, "tgt")
        m = tuple(shapes[roles.index("memory")])
        if len(m) != len(x) or m[-1] != x[-1]:
            raise LayerError(
                f"memory {list(m)} must have tgt's rank and d_model {a['d_model']} features",
                arg="from",
                code="shape-mismatch",
            )
        return x

    def members(self, a, shapes):
        roles = a["_roles"]
        sm = (("tgt_mask", "attn_mask"), ("tgt_key_padding_mask", "key_padding_mask"))
        cm = (("memory_mask", "attn_mask"), ("memory_key_padding_mask", "key_padding_mask"))
        mem = 1
        if not a["norm_first"]:
            return (
                [
                    _attend("self_attn", a, roles, 0, None, sm, a["tgt_is_causal"]),
                    Member("dropout1", "dropout", {"p": a["dropout"]}, ["self_attn"]),
                    Member("residual1", "add", {}, [0, "dropout1"]),
                    Member("norm1", "layer_norm", _ln(a), ["residual1"]),
                    _attend("multihead_attn", a, roles, "norm1", mem, cm, a["memory_is_causal"]),
                    Member("dropout2", "dropout", {"p": a["dropout"]}, ["multihead_attn"]),
                    Member("residual2", "add", {}, ["norm1", "dropout2"]),
                    Member("norm2", "layer_norm", _ln(a), ["residual2"]),
                ]
                + _feed_forward(a, "norm2", "dropout3")
                + [
                    Member("residual3", "add", {}, ["norm2", "dropout3"]),
                    Member("norm3", "layer_norm", _ln(a), ["residual3"]),
                ]
            )
        return (
            [
                Member("norm1", "layer_norm", _ln(a), [0]),
                _attend("self_attn", a, roles, "norm1", None, sm, a["tgt_is_causal"]),
                Member("dropout1", "dropout", {"p": a["dropout"]}, ["self_attn"]),
                Member("residual1", "add", {}, [0, "dropout1"]),
                Member("norm2", "layer_norm", _ln(a), ["residual1"]),
                _attend("multihead_attn", a, roles, "norm2", mem, cm, a["memory_is_causal"]),
                Member("dropout2", "dropout", {"p": a["dropout"]}, ["multihead_attn"]),
                Member("residual2", "add", {}, ["residual1", "dropout2"]),
                Member("norm3", "layer_norm", _ln(a), ["residual2"]),
            ]
            + _feed_forward(a, "norm3", "dropout3")
            + [Member("residual3", "add", {}, ["residual2", "dropout3"])]
        )

    def results(self, a):
        return [("output", "norm3" if not a["norm_first"] else "residual3")]


# -- the stacks ----------------------------------------------------------------------------


class _Stack(LayerType):
    """torch.nn.TransformerEncoder / TransformerDecoder: ``num_layers`` copies of the
    layer (``layers.0`` ...; each its own parameters, as _get_clones deep-copies) and an
    optional final ``norm``."""

    family = "attention"
    merge = True
    composite = True

    def __init__(self, kind: str):
        self.kind = kind
        enc = kind == "encoder"
        self.name = f"transformer_{kind}"
        self.doc = f"torch.nn.Transformer{kind.capitalize()}"
        self.layer_arg = f"{kind}_layer"
        self.input_roles = (
            ("src", "mask?", "src_key_padding_mask?")
            if enc
            else TransformerDecoderLayer.input_roles
        )
        args = [
            Arg(
                self.layer_arg,
                "layer",
                doc=f"the layer to stack, e.g. {{transformer_{kind}_layer: {{nhead: 8}}}}",
            ),
            Arg("num_layers", "int", doc="copies of the layer"),
            Arg("norm", "layer", None, nullable=True, doc="a final norm, or none"),
        ]
        if enc:
            args += [
                Arg(
                    "enable_nested_tensor",
                    "bool",
                    True,
                    doc="the nested-tensor fast path: zeros at padded positions (help layers)",
                ),
                Arg("mask_check", "bool", True, doc="the fast path needs a left-aligned mask"),
                Arg("is_causal", "bool", False, doc="a causal mask on src"),
            ]
        else:
            args += [
                Arg("tgt_is_causal", "bool", False, doc="a causal mask on tgt"),
                Arg("memory_is_causal", "bool", False, doc="a causal mask on memory"),
            ]
        self.args = tuple(args)
        super().__init__()

    def infer(self, a, shapes):
        _check_stack(a, "num_layers")
        _check_module(a, self.layer_arg, f"transformer_{self.kind}_layer")
        roles = a["_roles"]
        if self.kind == "decoder" and "memory" not in roles:
            raise LayerError(
                "transformer_decoder takes tgt and memory (`from: [tgt, memory]`)",
                arg="from",
                code="bad-from",
            )
        return tuple(shapes[0])

    def members(self, a, shapes):
        roles = a["_roles"]
        layer = a[self.layer_arg]
        if self.kind == "encoder":
            mapped = [
                ("src", "src"),
                ("mask", "src_mask"),
                ("src_key_padding_mask", "src_key_padding_mask"),
            ]
            flags = {"is_causal": a["is_causal"]} if a["is_causal"] else {}
            if (
                a["enable_nested_tensor"]
                and "src_key_padding_mask" in roles
                and "mask" not in roles
                and len(shapes[0]) == 3
                and _is_encoder_layer(layer)
            ):  # the fast path's conditions of the stack; the layer checks its own
                flags["_nested"] = a["mask_check"]
        else:
            mapped = [(r.rstrip("?"), r.rstrip("?")) for r in self.input_roles]
            flags = {k: a[k] for k in ("tgt_is_causal", "memory_is_causal") if a[k]}
        out = []
        prev = 0
        for i in range(a["num_layers"]):
            ins, lroles = [], []
            for ours, theirs in mapped:
                if ours in roles:
                    ins.append(prev if ours in ("src", "tgt") else roles.index(ours))
                    lroles.append(theirs)
            last = {"_to_padded": True} if "_nested" in flags and i == a["num_layers"] - 1 else {}
            if isinstance(layer, tuple):  # a layer type and its arguments (transformer)
                lt, args = layer
                args = {**args, **flags, **last, "_roles": tuple(lroles)}
                out.append(Member(f"layers.{i}", lt, args, ins))
            else:
                args = {**flags, **last, "_roles": tuple(lroles)}
                out.append(Member(f"layers.{i}", layer, args, ins))
            prev = f"layers.{i}"
        if a["norm"] is not None:
            norm = a["norm"]
            if isinstance(norm, tuple):
                out.append(Member("norm", norm[0], norm[1], [prev]))
            else:
                out.append(Member("norm", norm, {}, [prev]))
        return out

    def results(self, a):
        return [("output", "norm" if a["norm"] is not None else f"layers.{a['num_layers'] - 1}")]


class Transformer(LayerType):
    """torch.nn.Transformer: ``encoder`` (TransformerEncoder of num_encoder_layers layers
    and a LayerNorm) and ``decoder`` (TransformerDecoder likewise); ``from: [src, tgt]``."""

    name = "transformer"
    family = "attention"
    doc = "torch.nn.Transformer: encoder and decoder stacks"
    merge = True
    composite = True
    inferred = ("d_model",)
    input_roles = (
        "src",
        "tgt",
        "src_mask?",
        "tgt_mask?",
        "memory_mask?",
        "src_key_padding_mask?",
        "tgt_key_padding_mask?",
        "memory_key_padding_mask?",
    )
    args = (
        Arg("d_model", "int", None, nullable=True, doc="inferred from src's last dim"),
        Arg("nhead", "int", 8, doc="attention heads"),
        Arg("num_encoder_layers", "int", 6, doc="encoder layers"),
        Arg("num_decoder_layers", "int", 6, doc="decoder layers"),
        Arg("dim_feedforward", "int", 2048, doc="the feed-forward width"),
        Arg("dropout", "float", 0.1, doc="dropout (training only)"),
        Arg("activation", "layer", "relu", doc="relu or gelu, or a layer"),
        Arg("custom_encoder", "layer", None, nullable=True, doc="replaces the encoder"),
        Arg("custom_decoder", "layer", None, nullable=True, doc="replaces the decoder"),
        Arg("layer_norm_eps", "float", 1e-5, doc="the norms' eps"),
        Arg("batch_first", "bool", False, doc="(N, L, E) instead of (L, N, E)"),
        Arg("norm_first", "bool", False, doc="pre-norm layers"),
        Arg("bias", "bool", True, doc="biases of the linears and norms"),
        Arg("src_is_causal", "bool", False, doc="a causal mask on src"),
        Arg("tgt_is_causal", "bool", False, doc="a causal mask on tgt"),
        Arg("memory_is_causal", "bool", False, doc="a causal mask on memory"),
    )

    def __init__(self):
        super().__init__()
        self.enc_layer = TransformerEncoderLayer()
        self.dec_layer = TransformerDecoderLayer()
        self.encoder = _Stack("encoder")
        self.decoder = _Stack("decoder")

    def infer(self, a, shapes):
        roles = a["_roles"]
        if "tgt" not in roles:
            raise LayerError(
                "transformer takes src and tgt (`from: [src, tgt]`)", arg="from", code="bad-from"
            )
        src, tgt = (tuple(shapes[roles.index(r)]) for r in ("src", "tgt"))
        if len(src) != len(tgt) or len(src) not in (2, 3):
            raise LayerError(
                f"src {list(src)} and tgt {list(tgt)} must both be (L, N, E) "
                "(or (N, L, E) with batch_first, or unbatched (L, E))",
                arg="from",
                code="bad-rank",
            )
        if len(src) == 3:
            b = 0 if a["batch_first"] else 1
            if src[b] != tgt[b]:
                raise LayerError(
                    "the batch number of src and tgt must be equal (PyTorch "
                    f"refuses src {list(src)} with tgt {list(tgt)})",
                    arg="from",
                    code="shape-mismatch",
                )
        _check_stack(a, "num_encoder_layers")
        _check_stack(a, "num_decoder_layers")
        _check_module(a, "custom_encoder", "transformer_encoder")
        _check_module(a, "custom_decoder", "transformer_decoder")
        if a["d_model"] is None:
            a["d_model"] = src[-1]  # SPEC.md section 12: the input fixes it
        if src[-1] != a["d_model"] or tgt[-1] != a["d_model"]:
            raise LayerError(
                "the feature number of src and tgt must be equal to d_model "
                f"(PyTorch refuses src {list(src)} and tgt {list(tgt)} with "
                f"d_model {a['d_model']})",
                arg="d_model",
                code="shape-mismatch",
            )
        _activation(a)
        return tgt

    def _layer_args(self, a):
        keys = (
            "nhead",
            "dim_feedforward",
            "dropout",
            "activation",
            "layer_norm_eps",
            "batch_first",
            "norm_first",
            "bias",
            "d_model",
        )
        return {k: a[k] for k in keys}

    def members(self, a, shapes):
        roles = a["_roles"]
        d = a["d_model"]
        norm = (
            "layer_norm",
            {"normalized_shape": (d,), "eps": a["layer_norm_eps"], "bias": a["bias"]},
        )
        eroles, eins = ["src"], [roles.index("src")]
        for ours, theirs in (
            ("src_mask", "mask"),
            ("src_key_padding_mask", "src_key_padding_mask"),
        ):
            if ours in roles:
                eroles.append(theirs)
                eins.append(roles.index(ours))
        droles, dins = ["tgt", "memory"], [roles.index("tgt"), "encoder"]
        for r in ("tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask"):
            if r in roles:
                droles.append(r)
                dins.append(roles.index(r))
        if a["custom_encoder"] is not None:
            enc = Member("encoder", a["custom_encoder"], {}, eins[:1])
        else:
            enc = Member(
                "encoder",
                self.encoder,
                {
                    "encoder_layer": (self.enc_layer, self._layer_args(a)),
                    "num_layers": a["num_encoder_layers"],
                    "norm": norm,
                    "is_causal": a["src_is_causal"],
                    "_roles": tuple(eroles),
                },
                eins,
            )
        if a["custom_decoder"] is not None:
            dec = Member("decoder", a["custom_decoder"], {}, dins[:2])
        else:
            dec = Member(
                "decoder",
                self.decoder,
                {
                    "decoder_layer": (self.dec_layer, self._layer_args(a)),
                    "num_layers": a["num_decoder_layers"],
                    "norm": norm,
                    "tgt_is_causal": a["tgt_is_causal"],
                    "memory_is_causal": a["memory_is_causal"],
                    "_roles": tuple(droles),
                },
                dins,
            )
        return [enc, dec]

    def results(self, a):
        return [("output", "decoder")]


def attention_types():
    return [
        ScaledDotProductAttention(),
        MultiheadAttention(),
        TransformerEncoderLayer(),
        TransformerDecoderLayer(),
        _Stack("encoder"),
        _Stack("decoder"),
        Transformer(),
    ]
