"""Fully-connected layers (nn.Linear, Hugging Face's Conv1D) and embeddings."""

from __future__ import annotations

from ..arith import prod
from ..errors import LayerError
from .base import Arg, LayerType, Tensor, check_inferred


def _times(x, weight):
    """``x @ weight`` over x's last dim. A C-contiguous input of 3 or more dims is one
    GEMM over every leading position (np.matmul would loop a GEMM per leading index:
    (L, N, E) inputs ran twice as slow); the reshape is a view."""
    import numpy as np

    if x.ndim > 2 and x.flags.c_contiguous:
        flat = np.dot(x.reshape(-1, x.shape[-1]), weight)
        return flat.reshape(x.shape[:-1] + (weight.shape[1],))
    return np.matmul(x, weight)


class Linear(LayerType):
    name = "linear"
    aliases = ("dense", "fc")
    family = "linear"
    doc = "torch.nn.Linear"
    linear_map = True
    dense = True
    inferred = ("in_features",)
    args = (
        Arg("out_features", "int", min=1),
        Arg("bias", "bool", True),
        Arg("in_features", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        if not shape:
            raise LayerError("linear needs an input with at least one dim", code="bad-rank")
        given = a.get("in_features")
        if (
            given is not None
            and given != shape[-1]
            and len(shape) >= 3
            and given == prod(shape[1:])
        ):
            raise LayerError(  # the flattened size: the flatten was forgotten
                f"in_features is {given} but the input {list(shape)} has {shape[-1]} "
                f"features in its last dim, which is all nn.Linear reads; {given} is the "
                "size of each sample flattened",
                arg="in_features",
                code="shape-mismatch",
                hint=f"add `- flatten` before it (the input becomes {[shape[0], given]})",
            )
        check_inferred(a, "in_features", shape[-1], "features in its last dim")
        return tuple(shape[:-1]) + (a["out_features"],)

    def tensors(self, a, shapes, out):
        ts = [Tensor("weight", (a["out_features"], a["in_features"]))]
        if a["bias"]:
            ts.append(Tensor("bias", (a["out_features"],), is_bias=True))
        return ts

    def macs(self, a, shapes, out):
        rows = 1
        for v in shapes[0][:-1]:
            rows *= v
        return rows * a["in_features"] * a["out_features"]

    def forward(self, a, xs, w):
        y = _times(xs[0], w["weight"].T)
        if "bias" in w:
            y += w["bias"]
        return y

    def window(self, a, shapes, out):
        return None  # every output sees the whole input

    def explain_shape(self, a, shapes, out):
        return [
            f"last dim: in_features {a['in_features']} -> out_features "
            f"{a['out_features']}; the other dims {list(shapes[0][:-1])} stay"
        ]

    def summary(self, a):
        return f"{a['in_features']}->{a['out_features']}" + ("" if a["bias"] else " bias=False")


class TransformersConv1D(LayerType):
    """Hugging Face's ``transformers.pytorch_utils.Conv1D(nf, nx)`` (GPT-2's c_attn,
    c_proj, c_fc): a linear layer whose ``weight`` is stored (nx, nf), in by out, the
    transpose of nn.Linear's; ``bias`` (nf,) always; forward
    ``addmm(bias, x.view(-1, nx), weight).view(*x.shape[:-1], nf)``."""

    name = "transformers_conv1d"
    family = "linear"
    doc = "transformers.pytorch_utils.Conv1D (weight stored (nx, nf))"
    linear_map = True
    dense = True
    inferred = ("nx",)
    args = (
        Arg("nf", "int", min=1, doc="output features"),
        Arg("nx", "int", None, min=1, nullable=True, doc="inferred from the input"),
    )

    def infer(self, a, shapes):
        shape = shapes[0]
        if not shape:
            raise LayerError(
                "transformers_conv1d needs an input with at least one dim", code="bad-rank"
            )
        check_inferred(a, "nx", shape[-1], "features in its last dim")
        # what a dense type states (explain, lint read in_features -> out_features)
        a["in_features"], a["out_features"] = a["nx"], a["nf"]
        return tuple(shape[:-1]) + (a["nf"],)

    def tensors(self, a, shapes, out):
        return [
            Tensor("weight", (a["nx"], a["nf"])),
            Tensor("bias", (a["nf"],), is_bias=True),
        ]

    def macs(self, a, shapes, out):
        return prod(shapes[0][:-1]) * a["nx"] * a["nf"]

    def fan_in(self, a, key, shape):
        return a["nx"]  # the weight is stored (nx, nf): in by out

    def forward(self, a, xs, w):
        y = _times(xs[0], w["weight"])  # (nx, nf): x @ weight, no transpose
        y += w["bias"]
        return y

    def window(self, a, shapes, out):
        return None  # every output sees the whole input

    def explain_shape(self, a, shapes, out):
        return [
            f"last dim: nx {a['nx']} -> nf {a['nf']}; the other dims {list(shapes[0][:-1])} stay"
        ]

    def summary(self, a):
        return f"{a['nx']}->{a['nf']}"


def _renorm(np, weight, idx, max_norm: float, p: float) -> None:
    """torch.embedding_renorm_: every row ``idx`` reads whose p-norm exceeds max_norm is
    scaled by max_norm / (norm + 1e-7), in place, so a later reader of the weight (a
    tied head) sees it scaled too, as in PyTorch."""
    rows = np.unique(idx)
    picked = weight[rows]
    norms = np.linalg.norm(picked.astype(np.float64), ord=p, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
        weight[rows[over]] = picked[over] * scale[:, None]


class Embedding(LayerType):
    name = "embedding"
    family = "linear"
    doc = "torch.nn.Embedding (the input holds integer indices)"
    index_input = True  # only a network input holds integers in a spec
    args = (
        Arg("num_embeddings", "int", min=1),
        Arg("embedding_dim", "int", min=1),
        Arg("padding_idx", "int", None, nullable=True),
        Arg(
            "max_norm",
            "float",
            None,
            nullable=True,
            doc="each row looked up whose norm_type-norm exceeds it is scaled down to it, "
            "in the weight itself (as PyTorch's forward does)",
        ),
        Arg("norm_type", "float", 2.0, doc="p of max_norm's p-norm"),
        Arg("scale_grad_by_freq", "bool", False, doc="training only: gradients"),
        Arg("sparse", "bool", False, doc="training only: sparse gradients"),
    )

    def index_bound(self, a):
        return a["num_embeddings"]

    def infer(self, a, shapes):
        p = a["padding_idx"]
        n = a["num_embeddings"]
        if p is not None and not -n <= p < n:
            raise LayerError(
                f"padding_idx {p} must be within num_embeddings {n}", arg="padding_idx"
            )
        return tuple(shapes[0]) + (a["embedding_dim"],)

    def tensors(self, a, shapes, out):
        return [Tensor("weight", (a["num_embeddings"], a["embedding_dim"]))]

    def forward(self, a, xs, w):
        import numpy as np

        idx = xs[0]
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"embedding needs integer indices, got {idx.dtype} values "
                "(it must read the network input or another integer tensor)"
            )
        n = a["num_embeddings"]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"embedding indices must lie in [0, {n})")
        weight = w["weight"]
        if a["max_norm"] is not None:
            _renorm(np, weight, idx, a["max_norm"], a["norm_type"])
        return weight[idx]

    def window(self, a, shapes, out):
        return None

    def summary(self, a):
        return f"{a['num_embeddings']}x{a['embedding_dim']}"
