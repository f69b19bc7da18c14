"""What to tell the user about a layer type name layercalc does not know.

A name of a PyTorch module or tensor operation that layercalc does not support gets a
plain message saying so (and what to write instead, where there is an honest
alternative) rather than a fuzzy match to an unrelated type: ``transpose`` is not
``conv_transpose``, ``channel_shuffle`` is not ``pixel_shuffle``. Any other name keeps
the "did you mean" over the registry, the spec's blocks and ``sequential``.
Names match as the registry's do: case- and underscore-insensitively.
"""

from __future__ import annotations

from collections import namedtuple

from .errors import closest
from .layers import REGISTRY

NOT_YET = "which layercalc does not support yet"
DEFAULT_HINT = "`layercalc layers` lists every type"


class Unsupported(namedtuple("Unsupported", "spelling what status hint uses")):
    """A name layercalc knows of but does not support: its PyTorch spelling, what it is
    ("PyTorch's nn.EmbeddingBag"), the rest of the message, a hint (None: the default) and the
    layercalc types the hint names (kept honest by the tests)."""

    __slots__ = ()


# torch.nn module classes (torch/nn/modules/__init__.py's __all__, PyTorch 2.14) that
# layercalc does not support, with a hint where another type computes the same at
# inference. The functional spellings (lp_pool2d, embedding_bag, ...) normalise
# to the same keys.
_MODULES = {
    "AdaptiveLogSoftmaxWithLoss": None,
    "Bilinear": None,
    "CELU": None,
    "ChannelShuffle": None,  # hint built by _channel_shuffle_hint()
    "CosineSimilarity": None,
    "CrossMapLRN2d": None,
    "EmbeddingBag": None,
    "Fold": None,
    "FractionalMaxPool2d": None,
    "FractionalMaxPool3d": None,
    "GLU": None,
    "Hardshrink": None,
    "LPPool1d": None,
    "LPPool2d": None,
    "LPPool3d": None,
    "LocalResponseNorm": None,
    "LogSigmoid": None,
    "MaxUnpool1d": None,
    "MaxUnpool2d": None,
    "MaxUnpool3d": None,
    "PairwiseDistance": None,
    "SELU": None,
    "Softshrink": None,
    "Softsign": None,
    "Tanhshrink": None,
    "Threshold": None,
    "Unfold": None,
    # the same as a supported type at inference
    "AlphaDropout": (
        "at inference it is the identity, as dropout is: write dropout (no parameters either)",
        ("dropout",),
    ),
    "FeatureAlphaDropout": (
        "at inference it is the identity, as dropout is: write dropout (no parameters either)",
        ("dropout",),
    ),
    "RReLU": (
        "at inference RReLU is leaky_relu with negative_slope (lower + upper) / 2 "
        "(11/48 for the defaults)",
        ("leaky_relu",),
    ),
    "Softmax2d": ("Softmax2d is softmax over the channels: softmax: {dim: -3}", ("softmax",)),
    "Softmin": ("softmin(x) is softmax(-x): neg, then softmax: {dim: ...}", ("neg", "softmax")),
    "SyncBatchNorm": (
        "at inference it is batch_norm, with the same parameters and buffers",
        ("batch_norm",),
    ),
    "UpsamplingNearest2d": ("write upsample: {mode: nearest, scale_factor: ...}", ("upsample",)),
    "UpsamplingBilinear2d": (
        "write upsample: {mode: bilinear, align_corners: true, scale_factor: ...}",
        ("upsample",),
    ),
}

# Lazy modules: every layercalc layer infers its input size, so the plain type is lazy.
_LAZY = {
    "LazyLinear": "linear",
    **{f"LazyConv{d}d": f"conv{d}d" for d in (1, 2, 3)},
    **{f"LazyConvTranspose{d}d": f"conv_transpose{d}d" for d in (1, 2, 3)},
    **{f"LazyBatchNorm{d}d": f"batch_norm{d}d" for d in (1, 2, 3)},
    **{f"LazyInstanceNorm{d}d": f"instance_norm{d}d" for d in (1, 2, 3)},
}

_LOSSES = (
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "MSELoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "NLLLoss2d",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
)

_BLOCK_HINT = (
    "a module of your own is a block: define its layers under `blocks:` and "
    "use the block's name as a type"
)
_LIST_HINT = (
    "write its modules as entries of `layers` (`sequential` groups them, `repeat` copies one)"
)
_CONTAINERS = {
    "Module": _BLOCK_HINT,
    "Container": _LIST_HINT,
    "ModuleList": _LIST_HINT,
    "ModuleDict": _LIST_HINT,
    "ParameterList": None,
    "ParameterDict": None,
    "RNNBase": None,
    "RNNCellBase": None,
}

# torch.nn.functional names with no module of the same (normalised) name
_FUNCTIONAL = {
    "pad": (
        "write the padding layer of the mode: constant_pad2d (value: 0 for F.pad's "
        "default), reflection_pad2d, replication_pad2d or circular_pad2d (1d/3d "
        "likewise)",
        ("constant_pad2d", "reflection_pad2d", "replication_pad2d", "circular_pad2d"),
    ),
    "one_hot": None,
    "normalize": None,
    "grid_sample": None,
    "affine_grid": None,
    "gumbel_softmax": None,
    "upsample_nearest": ("write upsample: {mode: nearest, ...}", ("upsample",)),
    "upsample_bilinear": (
        "write upsample: {mode: bilinear, align_corners: true, ...}",
        ("upsample",),
    ),
}

# Tensor operations (torch.X or Tensor.X) that are not layer types (yet)
_OPS = {
    "swapaxes": (
        "write transpose: {dim0: AXIS0, dim1: AXIS1} (swapaxes is transpose "
        "with other keyword names)",
        ("transpose",),
    ),
    "movedim": ("write permute: {dims: [...]} with every dim in its new place", ("permute",)),
    "tile": None,
    "tensor_split": None,
    "unbind": None,
    "stack": ("unsqueeze each input at the new dim, then concat along it", ("unsqueeze", "concat")),
    "narrow": (
        "narrow(dim, start, length) with start >= 0 is slice: {dim: DIM, start: "
        "START, end: START + LENGTH}",
        ("slice",),
    ),
    "gather": None,
    "index_select": None,
    "masked_fill": None,
    "where": None,
    "mm": ("write matmul (from: [a, b]): it computes the same for 2-d inputs", ("matmul",)),
    "bmm": ("write matmul (from: [a, b]): it computes the same for 3-d inputs", ("matmul",)),
    "einsum": None,
    "outer": None,
    "zeros": None,
    "ones": None,
    "full": None,
    "cumsum": None,
    "sort": None,
    "topk": None,
    "argmax": None,
    "argmin": None,
    "max": ("amax: {dim: ...} gives torch.max's values (no dim: over the whole tensor)", ("amax",)),
    "min": ("amin: {dim: ...} gives torch.min's values (no dim: over the whole tensor)", ("amin",)),
    "clamp": ("hardtanh: {min_val: LO, max_val: HI} computes clamp(x, LO, HI)", ("hardtanh",)),
    "clip": ("hardtanh: {min_val: LO, max_val: HI} computes clip(x, LO, HI)", ("hardtanh",)),
    "tril": None,
    "triu": None,
    "prod": None,
    "std": None,
    "var": None,
    "logsumexp": None,
}
_TENSOR_METHODS = {"masked_fill"}  # Tensor.X only, no torch.X


def _channel_shuffle_hint():
    if REGISTRY.get("transpose") is not None:
        return (
            "pixel_shuffle is a different operation (it moves channels into space); "
            "a channel shuffle of g groups is reshape to [N, g, C / g, H, W], "
            "transpose: {dim0: 1, dim1: 2}, reshape back to [N, C, H, W]",
            ("pixel_shuffle", "reshape", "transpose"),
        )
    return (
        "pixel_shuffle is a different operation (it moves channels into space, "
        "ChannelShuffle reorders them)",
        ("pixel_shuffle",),
    )


def _table() -> dict:
    """normalised name -> Unsupported."""
    norm = REGISTRY.normalize
    table = {}

    def add(spelling, what, status, hint_uses):
        hint, uses = hint_uses if hint_uses else (None, ())
        table[norm(spelling)] = Unsupported(spelling, what, status, hint, tuple(uses))

    for cls, hu in _MODULES.items():
        if cls == "ChannelShuffle":
            hu = _channel_shuffle_hint()
        add(cls, f"PyTorch's nn.{cls}", NOT_YET, hu)
    for cls, target in _LAZY.items():
        add(
            cls,
            f"PyTorch's nn.{cls}",
            "and layercalc has no lazy variants: every layer infers its input size",
            (f"write {target} (its input size is inferred from the input)", (target,)),
        )
    for cls in _LOSSES:
        add(
            cls,
            f"PyTorch's nn.{cls}",
            "a loss function, not a layer of the network",
            ("layercalc describes the network's layers: leave the loss out", ()),
        )
    for cls, hint in _CONTAINERS.items():
        add(
            cls,
            f"PyTorch's nn.{cls}",
            "a container or base class, not a layer type",
            (hint, ()) if hint else None,
        )
    for fn, hu in _FUNCTIONAL.items():
        add(fn, f"PyTorch's torch.nn.functional.{fn}", NOT_YET, hu)
    for op, hu in _OPS.items():
        owner = "Tensor" if op in _TENSOR_METHODS else "torch"
        add(op, f"the tensor operation {owner}.{op}", NOT_YET, hu)
    add(
        "contiguous",
        "the tensor method Tensor.contiguous",
        "which changes no shape or value",
        ("leave it out (or write identity)", ("identity",)),
    )
    add(
        "DropPath",
        "timm's DropPath",
        "the same operation as stochastic_depth with mode: row",
        (
            "write stochastic_depth: {p: ..., mode: row} (the identity at inference)",
            ("stochastic_depth",),
        ),
    )
    return table


UNSUPPORTED = _table()


def _message(name: str, u: Unsupported) -> str:
    return f"'{name}' is {u.what}, {u.status}"


# argument names of Keras, TensorFlow and others -> PyTorch's
_FOREIGN_ARGS = {  # those "did you mean" cannot find (kernel, strides: it does)
    "filters": "out_channels",
    "num_filters": "out_channels",
    "channels": "out_channels",
    "units": "out_features",
    "pool_size": "kernel_size",
    "use_bias": "bias",
    "rate": "p",
}


def argument_hint(lt, word: str) -> str | None:
    """What to write instead of an argument ``lt`` does not take, where the word is
    another framework's name for one it does (``filters``), or an activation, which
    PyTorch writes as a layer of its own; None: no such advice."""
    target = _FOREIGN_ARGS.get(word.lower())
    if target is not None and target in lt.arg_map:
        return f"PyTorch calls it {target}: `{target}: ...`"
    if word.lower() == "activation" and "activation" not in lt.arg_map:
        return f"{lt.name} has no activation in PyTorch: add one as the next entry (`- relu`)"
    return None


def unknown_type(name: str, blocks) -> tuple[str, str]:
    """(message, hint) for a layer type name that is not in the registry, not one of the
    spec's ``blocks`` and not ``sequential``.

    >>> unknown_type("EmbeddingBag", ())[0]
    "'EmbeddingBag' is PyTorch's nn.EmbeddingBag, which layercalc does not support yet"
    >>> unknown_type("cnov2d", ())
    ("unknown layer type 'cnov2d'", "did you mean 'conv2d'?")
    """
    name = str(name)
    known = UNSUPPORTED.get(REGISTRY.normalize(name))
    if known is not None:
        return _message(name, known), known.hint or DEFAULT_HINT
    message = f"unknown layer type '{name}'"
    spellings = {u.spelling: u for u in UNSUPPORTED.values()}
    # the unsupported names compete, so that a near miss of one (`transpos`) is not
    # matched to an unrelated supported type (`conv_transpose`)
    choices = list(REGISTRY.canonical) + list(blocks) + ["sequential"] + list(spellings)
    best = closest(name, choices, REGISTRY.normalize)
    if best is None:
        return message, DEFAULT_HINT
    if best in spellings and REGISTRY.get(best) is None and best not in blocks:
        u = spellings[best]
        return message, f"did you mean '{best}'? It is {u.what}, {u.status}"
    return message, f"did you mean '{best}'?"
