"""Position encodings of sequence models (issue 19): rotary position embeddings.

``rotary_embedding`` (alias ``rope``) is Hugging Face's ``apply_rotary_pos_emb`` with the
``rotate_half`` convention (LLaMA, Mistral, Qwen2, GPT-NeoX, Phi): the first ``dim``
features of each position are split in two halves ``x1, x2`` and become ``x·cos +
rotate_half(x)·sin`` with ``rotate_half(x) = cat(-x2, x1)``; features past ``dim`` pass
through (HF's partial rotary: ``q[..., :rotary_ndims]``, ``q[..., rotary_ndims:]``).
The cos/sin tables are computed as ``LlamaRotaryEmbedding`` computes them, in float32:
``inv_freq = 1 / theta ** (arange(0, dim, 2) / dim)``, ``freqs = positions ⊗ inv_freq``,
``emb = cat(freqs, freqs)``, then cast to the input's dtype. HF keeps ``inv_freq`` as a
non-persistent buffer: nothing in ``state_dict``, so no tensors here.

MACs: 2 per rotated element. Each pair (x1[i], x2[i]) is multiplied by the 2x2 rotation
[[cos, -sin], [sin, cos]], 4 multiply-accumulates per pair, counted as ``linear`` counts
a 2-in 2-out map (the negation of rotate_half and the tables are not counted); fvcore and
thop count 0 for these element-wise products.
"""

from __future__ import annotations

from ..arith import prod
from ..errors import LayerError
from .base import Arg, LayerType


def rope_tables(np, positions, dim: int, theta: float):
    """cos and sin of shape (len(positions), dim), float32, as HF's LlamaRotaryEmbedding
    (default rope_type) computes them before casting to the input's dtype."""
    f32 = np.float32
    exponents = np.arange(0, dim, 2, dtype=f32) / f32(dim)
    # torch's float32 pow is correctly rounded here, NumPy's is not on every CPU (its
    # AVX-512 kernel misses by an ulp): the float64 power rounded once to float32 is
    # torch's value
    power = np.power(np.float64(f32(theta)), exponents.astype(np.float64)).astype(f32)
    inv_freq = (f32(1.0) / power).astype(f32)
    freqs = np.asarray(positions, dtype=f32)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


class RotaryEmbedding(LayerType):
    """HF's rotary position embedding of q or k after the head split, (..., T, D): the
    positions run along dim -2 (``position_offset`` ... ``position_offset + T - 1``), the
    features along dim -1; the output has the input's shape."""

    name = "rotary_embedding"
    aliases = ("rope",)
    family = "positional"
    doc = (
        "Hugging Face's apply_rotary_pos_emb (rotate_half convention) of a (..., T, D) "
        "input; 2 MACs per rotated element"
    )
    args = (
        Arg("theta", "float", 10000.0, doc="rope_theta, the base of the frequencies"),
        Arg(
            "dim",
            "int",
            None,
            min=2,
            nullable=True,
            doc="rotary dims (even, at most D); default the whole last dim; the rest "
            "pass through (HF's partial rotary)",
        ),
        Arg(
            "position_offset",
            "int",
            0,
            min=0,
            doc="the first position (tokens already in a KV cache)",
        ),
    )

    def infer(self, a, shapes):
        shape = tuple(shapes[0])
        if len(shape) < 2:
            raise LayerError(
                f"rotary_embedding needs an input of at least 2 dims (..., T, D): "
                f"positions along dim -2, features along dim -1, got {len(shape)}-d "
                f"{list(shape)}",
                code="bad-rank",
            )
        D = shape[-1]
        d = D if a["dim"] is None else a["dim"]
        if d % 2 or d > D:
            # HF builds cos/sin with 2·ceil(dim/2) features and multiplies them with the
            # input's first `dim` (or all D) features; PyTorch's broadcast then refuses
            table = d + d % 2
            used = min(d, D)
            why = (
                f"dim {d} is odd: rotate_half pairs feature i with i + dim/2"
                if d % 2
                else f"dim {d} is larger than the input's last dim {D}"
            )
            raise LayerError(
                f"{why} (PyTorch: The size of tensor a ({used}) must match the size of "
                f"tensor b ({table}) at non-singleton dimension {len(shape) - 1})",
                arg="dim" if a["dim"] is not None else None,
                code="shape-mismatch",
                hint=f"dim must be even and at most {D}"
                + (" (the head dim)" if D % 2 == 0 else ""),
            )
        a["_dim"] = d
        return shape

    def macs(self, a, shapes, out):
        return 2 * prod(shapes[0][:-1]) * a["_dim"]

    def workspace(self, a, shapes, out):
        # cos, sin and their angles (T, dim), and three temporaries the size of the
        # rotated part: rotate_half's copy and the two products
        T = shapes[0][-2]
        return 4 * T * a["_dim"] + 3 * prod(shapes[0][:-1]) * a["_dim"]

    def window(self, a, shapes, out):
        return None  # each output feature mixes two input features of its position

    def summary(self, a):
        parts = [f"theta={a['theta']:g}", f"dim={a['_dim']}"]
        if a["position_offset"]:
            parts.append(f"offset={a['position_offset']}")
        return " ".join(parts)

    def explain_shape(self, a, shapes, out):
        shape = list(shapes[0])
        T, D, d = shape[-2], shape[-1], a["_dim"]
        off = a["position_offset"]
        lines = [
            f"positions {off}..{off + T - 1} along dim -2 ({T}), features along dim -1 "
            f"({D}): each position's first {d} features are rotated in {d // 2} pairs "
            f"(i, i + {d // 2}), x·cos + rotate_half(x)·sin; the shape {shape} stays",
            f"angle of pair i at position p: p / {a['theta']:g}^(2i/{d})",
        ]
        if d < D:
            lines.append(f"features {d}..{D - 1} pass through unchanged (partial rotary)")
        lines.append(
            f"MACs: a 2x2 rotation per pair, 2 per rotated element: 2·{prod(shape[:-1]):,}·{d} "
            f"= {self.macs(a, shapes, out):,}"
        )
        return lines

    def explain_params(self, a, shapes, out):
        return [
            "no parameters: cos and sin are computed from theta (HF's inv_freq is a "
            "non-persistent buffer, absent from state_dict)"
        ]

    def forward(self, a, xs, w):
        import numpy as np

        x = xs[0]
        T, D, d = x.shape[-2], x.shape[-1], a["_dim"]
        off = a["position_offset"]
        cos, sin = rope_tables(np, np.arange(off, off + T), d, a["theta"])
        cos = cos.astype(x.dtype, copy=False)
        sin = sin.astype(x.dtype, copy=False)
        xr = x[..., :d] if d < D else x
        half = d // 2
        rot = np.concatenate([-xr[..., half:], xr[..., :half]], axis=-1)
        y = xr * cos
        rot *= sin
        y += rot
        if d < D:
            y = np.concatenate([y, x[..., d:]], axis=-1)
        return y


def positional_types() -> list:
    return [RotaryEmbedding()]
