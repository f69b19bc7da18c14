"""PyTorch modules and functions -> layercalc layer types and arguments.

:func:`module_entry` maps a module instance to ``(type, args, further outputs)`` (None:
no layercalc type); :data:`FUNCTIONS` and :data:`METHODS` map an fx ``call_function``
target or ``call_method`` name to a converter ``(node, args, kwargs, result, val)`` ->
``(type, args, input Values[, further outputs])``, None for an identity, or raises
``_Unsupported``. Arguments equal to PyTorch's defaults are left out."""

from __future__ import annotations

import operator
import re

import torch
import torch.nn.functional as F
from torch import nn

from .views import view_entry


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def _tuple1(v):
    """A per-dimension value: one int when every entry is equal."""
    if isinstance(v, (tuple, list)):
        v = [int(x) if not isinstance(x, bool) else x for x in v]
        return v[0] if len(set(v)) == 1 else list(v)
    return v


def _put(args, key, value, default):
    if isinstance(value, tuple):
        value = list(value)
    if value != default:
        args[key] = value


def _conv(m):
    a = {"out_channels": m.out_channels, "kernel_size": _tuple1(m.kernel_size)}
    _put(a, "stride", _tuple1(m.stride), 1)
    pad = m.padding if isinstance(m.padding, str) else _tuple1(m.padding)
    _put(a, "padding", pad, 0)
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        _put(a, "output_padding", _tuple1(m.output_padding), 0)
    _put(a, "dilation", _tuple1(m.dilation), 1)
    _put(a, "groups", m.groups, 1)
    _put(a, "bias", m.bias is not None, True)
    _put(a, "padding_mode", m.padding_mode, "zeros")
    return a


def _bn(m):
    a = {}
    _put(a, "eps", m.eps, 1e-5)
    _put(a, "momentum", m.momentum, 0.1)
    _put(a, "affine", m.affine, True)
    _put(a, "track_running_stats", m.track_running_stats, True)
    return a


def _inorm(m):
    a = {}
    _put(a, "eps", m.eps, 1e-5)
    _put(a, "momentum", m.momentum, 0.1)
    _put(a, "affine", m.affine, False)
    _put(a, "track_running_stats", m.track_running_stats, False)
    return a


def _ln(m):
    a = {"normalized_shape": list(m.normalized_shape)}
    _put(a, "eps", m.eps, 1e-5)
    _put(a, "elementwise_affine", m.elementwise_affine, True)
    if m.elementwise_affine:
        _put(a, "bias", m.bias is not None, True)
    return a


def _gn(m):
    a = {"num_groups": m.num_groups}
    _put(a, "eps", m.eps, 1e-5)
    _put(a, "affine", m.affine, True)
    return a


def _inplace(m):
    return {"inplace": True} if getattr(m, "inplace", False) else {}


def _pool(m, avg):
    a = {"kernel_size": _tuple1(m.kernel_size)}
    stride = _tuple1(m.stride) if m.stride is not None else None
    if stride is not None and stride != a["kernel_size"]:
        a["stride"] = stride
    _put(a, "padding", _tuple1(m.padding), 0)
    if not avg:
        _put(a, "dilation", _tuple1(m.dilation), 1)
    _put(a, "ceil_mode", bool(m.ceil_mode), False)
    if avg:
        _put(a, "count_include_pad", bool(m.count_include_pad), True)
        if getattr(m, "divisor_override", None) is not None:
            a["divisor_override"] = m.divisor_override
    return a


def _osize(v):
    if isinstance(v, (tuple, list)):
        if any(x is None for x in v):
            return None
        return _tuple1(v)
    return v


def _rnn(m, kind):
    a = {"hidden_size": m.hidden_size}
    _put(a, "num_layers", m.num_layers, 1)
    _put(a, "bias", m.bias, True)
    _put(a, "batch_first", m.batch_first, False)
    _put(a, "dropout", float(m.dropout), 0.0)
    _put(a, "bidirectional", m.bidirectional, False)
    if kind == "lstm":
        _put(a, "proj_size", m.proj_size, 0)
    if kind == "rnn":
        _put(a, "nonlinearity", m.nonlinearity, "tanh")
    return a


def _mha(m):
    a = {"num_heads": m.num_heads}
    _put(a, "dropout", float(m.dropout), 0.0)
    _put(a, "bias", m.in_proj_bias is not None, True)
    _put(a, "add_bias_kv", m.bias_k is not None, False)
    _put(a, "add_zero_attn", m.add_zero_attn, False)
    if m.kdim != m.embed_dim:
        a["kdim"] = m.kdim
    if m.vdim != m.embed_dim:
        a["vdim"] = m.vdim
    _put(a, "batch_first", m.batch_first, False)
    return a


def _encoder_layer(m):
    """nn.TransformerEncoderLayer's constructor arguments, read off its submodules."""
    a = {"nhead": m.self_attn.num_heads}
    _put(a, "dim_feedforward", m.linear1.out_features, 2048)
    _put(a, "dropout", float(m.dropout.p), 0.1)
    act = m.activation
    if isinstance(act, nn.GELU) and act.approximate != "none":
        return None  # the tanh GELU: transformer_encoder_layer takes relu or gelu
    name = getattr(act, "__name__", None) or type(act).__name__.lower()
    if name not in ("relu", "gelu"):
        return None  # a custom activation callable: no layercalc form
    _put(a, "activation", name, "relu")
    _put(a, "layer_norm_eps", float(m.norm1.eps), 1e-5)
    _put(a, "batch_first", bool(m.self_attn.batch_first), False)
    _put(a, "norm_first", bool(m.norm_first), False)
    _put(a, "bias", m.linear1.bias is not None, True)
    return a


def _encoder(m):
    """nn.TransformerEncoder: its (deep-copied, equal) layers as one encoder_layer."""
    if not len(m.layers) or any(type(x) is not nn.TransformerEncoderLayer for x in m.layers):
        return None
    layer = _encoder_layer(m.layers[0])
    if layer is None or any(_encoder_layer(x) != layer for x in m.layers):
        return None
    a = {"encoder_layer": {"transformer_encoder_layer": layer}, "num_layers": len(m.layers)}
    if m.norm is not None:
        if type(m.norm) is not nn.LayerNorm:
            return None
        a["norm"] = {"layer_norm": _ln(m.norm)}
    _put(a, "enable_nested_tensor", bool(m.enable_nested_tensor), True)
    _put(a, "mask_check", bool(m.mask_check), True)
    return a


def _simple(type_, **attrs):
    """An activation or other module whose arguments are its attributes."""

    def conv(m):
        a = {}
        for key, default in attrs.items():
            v = getattr(m, key)
            _put(a, key, v, default)
        return a

    return conv


_ACTS = {
    nn.ReLU: ("relu", _inplace),
    nn.ReLU6: ("relu6", _inplace),
    nn.SiLU: ("silu", _inplace),
    nn.Mish: ("mish", _inplace),
    nn.Hardswish: ("hardswish", _inplace),
    nn.Hardsigmoid: ("hardsigmoid", _inplace),
    nn.Sigmoid: ("sigmoid", lambda m: {}),
    nn.Tanh: ("tanh", lambda m: {}),
    nn.Identity: ("identity", lambda m: {}),
    nn.LeakyReLU: ("leaky_relu", _simple("leaky_relu", negative_slope=0.01, inplace=False)),
    nn.ELU: ("elu", _simple("elu", alpha=1.0, inplace=False)),
    nn.GELU: ("gelu", _simple("gelu", approximate="none")),
    nn.Hardtanh: ("hardtanh", _simple("hardtanh", min_val=-1.0, max_val=1.0, inplace=False)),
    nn.Softplus: ("softplus", _simple("softplus", beta=1.0, threshold=20.0)),
    nn.Softmax: ("softmax", lambda m: {"dim": m.dim}),
    nn.LogSoftmax: ("log_softmax", lambda m: {"dim": m.dim}),
    nn.PReLU: (
        "prelu",
        lambda m: {} if m.num_parameters == 1 else {"num_parameters": m.num_parameters},
    ),
    nn.Dropout: ("dropout", _simple("dropout", p=0.5, inplace=False)),
    nn.Dropout1d: ("dropout1d", _simple("dropout", p=0.5, inplace=False)),
    nn.Dropout2d: ("dropout2d", _simple("dropout", p=0.5, inplace=False)),
    nn.Dropout3d: ("dropout3d", _simple("dropout", p=0.5, inplace=False)),
    nn.Flatten: ("flatten", _simple("flatten", start_dim=1, end_dim=-1)),
    nn.Unflatten: (
        "unflatten",
        lambda m: {"dim": m.dim, "unflattened_size": list(m.unflattened_size)},
    ),
    nn.PixelShuffle: ("pixel_shuffle", lambda m: {"upscale_factor": m.upscale_factor}),
    nn.PixelUnshuffle: ("pixel_unshuffle", lambda m: {"downscale_factor": m.downscale_factor}),
}


def _embedding(m):
    a = {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}
    if m.padding_idx is not None:
        a["padding_idx"] = m.padding_idx
    if m.max_norm is not None:
        a["max_norm"] = float(m.max_norm)
    _put(a, "norm_type", float(m.norm_type), 2.0)
    _put(a, "scale_grad_by_freq", bool(m.scale_grad_by_freq), False)
    _put(a, "sparse", bool(m.sparse), False)
    return a


def _upsample(m):
    a = {}
    if m.size is not None:
        a["size"] = _tuple1(m.size)
    if m.scale_factor is not None:
        a["scale_factor"] = (
            _tuple1(m.scale_factor) if isinstance(m.scale_factor, tuple) else m.scale_factor
        )
    _put(a, "mode", m.mode, "nearest")
    if m.align_corners is not None:
        a["align_corners"] = m.align_corners
    return a


# what a subclass may redefine and still run its torch.nn base's forward
_OWN = {"__init__", "__module__", "__qualname__", "__doc__", "__annotations__"}
_OWN |= {"__dict__", "__weakref__", "__constants__", "extra_repr"}


def _torch_class(t):
    """The torch.nn class ``t`` is, where ``t`` only subclasses it to build it its own way
    (torchvision's Conv3DSimple, a ``class MyConv(nn.Conv2d)``): no class between them
    redefines anything the torch.nn class has but __init__ (new helpers are fine), so
    forward and what it calls are torch's. Else ``t``."""
    base = next((b for b in t.__mro__ if b.__module__.startswith("torch.nn")), None)
    if base is None:
        return t
    for cls in t.__mro__[: t.__mro__.index(base)]:
        if any(hasattr(base, k) for k in vars(cls) if k not in _OWN):
            return t
    return base


def module_entry(m):
    """``(type, args, further output names)`` for a module layercalc has a type for (or
    a subclass of one that only builds it its own way, see _torch_class); a module whose
    parameters are all frozen (``requires_grad_(False)``) gets ``trainable: false``."""
    entry = _module_entry(m)
    if entry is None:
        return None
    params = list(m.parameters())
    if params and not any(p.requires_grad for p in params):
        type_, args, outs = entry
        return type_, {**args, "trainable": False}, outs
    return entry


def _module_entry(m):
    t = _torch_class(type(m))
    if t in _ACTS:
        type_, conv = _ACTS[t]
        return type_, conv(m), ()
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and t.__module__.startswith("torch."):
        return f"conv{len(m.kernel_size)}d", _conv(m), ()
    if isinstance(m, nn.modules.conv._ConvTransposeNd) and t.__module__.startswith("torch."):
        return f"conv_transpose{len(m.kernel_size)}d", _conv(m), ()
    if t is nn.Linear:
        a = {"out_features": m.out_features}
        _put(a, "bias", m.bias is not None, True)
        return "linear", a, ()
    if t in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        return f"batch_norm{t.__name__[-2:]}", _bn(m), ()
    if t in (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d):
        return f"instance_norm{t.__name__[-2:]}", _inorm(m), ()
    if t is nn.LayerNorm:
        return "layer_norm", _ln(m), ()
    if t is nn.GroupNorm:
        return "group_norm", _gn(m), ()
    if t in (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d) and not m.return_indices:
        return f"max_pool{t.__name__[-2:]}", _pool(m, False), ()
    if t in (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d):
        return f"avg_pool{t.__name__[-2:]}", _pool(m, True), ()
    if t in (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d):
        size = _osize(m.output_size)
        if size is None:
            return None
        return f"adaptive_avg_pool{t.__name__[-2:]}", {"output_size": size}, ()
    if t in (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d):
        size = _osize(m.output_size)
        if size is None or m.return_indices:
            return None
        return f"adaptive_max_pool{t.__name__[-2:]}", {"output_size": size}, ()
    if t is nn.Embedding:
        return "embedding", _embedding(m), ()
    if t is nn.Upsample:
        return "upsample", _upsample(m), ()
    if t in (nn.LSTM, nn.GRU, nn.RNN):
        kind = t.__name__.lower()
        return kind, _rnn(m, kind), ("h_n", "c_n") if kind == "lstm" else ("h_n",)
    if t is nn.MultiheadAttention:
        return "multihead_attention", _mha(m), ("attn_weights",)
    if t is nn.TransformerEncoderLayer:
        a = _encoder_layer(m)
        return None if a is None else ("transformer_encoder_layer", a, ())
    if t is nn.TransformerEncoder:
        a = _encoder(m)
        return None if a is None else ("transformer_encoder", a, ())
    pads = {
        "ZeroPad": "zero_pad",
        "ConstantPad": "constant_pad",
        "ReflectionPad": "reflection_pad",
        "ReplicationPad": "replication_pad",
        "CircularPad": "circular_pad",
    }
    for prefix, type_ in pads.items():
        if t.__name__.startswith(prefix) and t.__module__.startswith("torch.nn"):
            a = {"padding": list(m.padding)}
            if type_ == "constant_pad":
                a["value"] = m.value
            return f"{type_}{t.__name__[-2:]}", a, ()
    if t.__name__ in ("QuantStub", "DeQuantStub") and t.__module__.startswith("torch.ao."):
        return "identity", {}, ()  # before torch.ao.quantization.convert: forward is x
    if t.__name__ == "Permute" and t.__module__.startswith("torchvision"):
        return "permute", {"dims": list(m.dims)}, ()
    if t.__name__ == "LayerNorm2d" and t.__module__.startswith("torchvision"):
        a = {}
        _put(a, "eps", m.eps, 1e-5)
        _put(a, "elementwise_affine", m.elementwise_affine, True)
        if m.elementwise_affine:
            _put(a, "bias", m.bias is not None, True)
        return "layer_norm2d", a, ()
    if t.__name__ == "StochasticDepth" and t.__module__.startswith("torchvision"):
        return "stochastic_depth", {"p": m.p, "mode": m.mode}, ()
    if t.__name__ == "Conv1D" and t.__module__.startswith("transformers"):
        # Hugging Face's GPT-2 c_attn / c_proj / c_fc: weight (nx, nf); nx from the input
        return "transformers_conv1d", {"nf": m.nf}, ()
    if t.__name__ == "NewGELUActivation" and t.__module__.startswith("transformers"):
        return "gelu", {"approximate": "tanh"}, ()  # GPT-2's gelu_new: the tanh form
    return None


# -- functions and methods ---------------------------------------------------------------


class Unsupported(Exception):
    pass


def _tensors(items, val):
    return [val(a) for a in items]


def _binary(type_):
    def conv(node, args, kwargs, res, val):
        a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
        ta, tb = (
            isinstance(args[0], torch.Tensor),
            isinstance(args[1] if len(args) > 1 else None, torch.Tensor),
        )
        alpha = kwargs.get("alpha", 1)
        extra = {} if alpha == 1 else {"alpha": alpha}
        if ta and tb:
            return type_, extra, [val(a), val(b)]
        if ta and isinstance(args[1], (int, float)):
            return type_, {"other": args[1], **extra}, [val(a)]
        if tb and isinstance(args[0], (int, float)) and type_ in ("add", "mul"):
            return type_, {"other": args[0]}, [val(b)]
        raise Unsupported(f"{type_} of these operands has no layercalc form")

    return conv


def _cat(node, args, kwargs, res, val):
    items = node.args[0] if node.args else node.kwargs["tensors"]
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if not isinstance(items, (list, tuple)):
        items = [items]  # torch.cat(torch.chunk(x, 3)): the pieces' tuple itself
    ins = []
    for it in items:
        v = val(it)
        if isinstance(v, tuple):
            ins.extend(v)
        else:
            ins.append(v)
    if any(v is None for v in ins):
        raise Unsupported("torch.cat of tensors layercalc does not follow (a slice of pieces)")
    if len(ins) == 1:
        return ins[0]
    return "concat", {"dim": dim}, ins


def _flatten(node, args, kwargs, res, val):
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    a = {"start_dim": start}
    if end != -1:
        a["end_dim"] = end
    return "flatten", a, [val(node.args[0])]


def _act(type_, keep=()):
    def conv(node, args, kwargs, res, val):
        a = {k: kwargs[k] for k in keep if k in kwargs}
        return type_, a, [val(node.args[0])]

    return conv


def _adaptive(type_):
    def conv(node, args, kwargs, res, val):
        size = args[1] if len(args) > 1 else kwargs["output_size"]
        size = _osize(size) if isinstance(size, (tuple, list)) else size
        if size is None:
            size = _tuple1(list(res.shape[2:]))
        return type_, {"output_size": size}, [val(node.args[0])]

    return conv


def _reshape(node, args, kwargs, res, val):
    entry = view_entry(tuple(args[0].shape), tuple(res.shape))
    return None if entry is None else (*entry, [val(node.args[0])])


def _dims(args, kwargs, key):
    rest = args[1:]
    if len(rest) == 1 and isinstance(rest[0], (tuple, list)):
        return list(rest[0])
    if rest:
        return list(rest)
    return list(kwargs[key])


def _permute(node, args, kwargs, res, val):
    return "permute", {"dims": _dims(args, kwargs, "dims")}, [val(node.args[0])]


def _transpose(node, args, kwargs, res, val):
    return "transpose", {"dim0": args[1], "dim1": args[2]}, [val(node.args[0])]


def _expand(node, args, kwargs, res, val):
    return "expand", {"size": list(res.shape)}, [val(node.args[0])]


def _reduce(type_):
    def conv(node, args, kwargs, res, val):
        a = {}
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        if dim is not None:
            a["dim"] = list(dim) if isinstance(dim, (tuple, list)) else dim
        keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        if keep:
            a["keepdim"] = True
        return type_, a, [val(node.args[0])]

    return conv


def _softmax(type_):
    def conv(node, args, kwargs, res, val):
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        if dim is None:
            raise Unsupported(f"{type_} without dim")
        return type_, {"dim": dim}, [val(node.args[0])]

    return conv


def _dropout(node, args, kwargs, res, val):
    p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
    return "dropout", {} if p == 0.5 else {"p": p}, [val(node.args[0])]


def _interp(node, args, kwargs, res, val):
    mode = kwargs.get("mode", args[3] if len(args) > 3 else "nearest")
    a = {"size": _tuple1(list(res.shape[2:]))}
    if mode != "nearest":
        a["mode"] = mode
    ac = kwargs.get("align_corners")
    if ac is not None:
        a["align_corners"] = ac
    return "upsample", a, [val(node.args[0])]


def _unsqueeze(node, args, kwargs, res, val):
    return "unsqueeze", {"dim": args[1] if len(args) > 1 else kwargs["dim"]}, [val(node.args[0])]


def _squeeze(node, args, kwargs, res, val):
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    return (
        "squeeze",
        {} if dim is None else {"dim": list(dim) if isinstance(dim, tuple) else dim},
        [val(node.args[0])],
    )


def _chunk(node, args, kwargs, res, val):
    chunks = args[1] if len(args) > 1 else kwargs["chunks"]
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    return (
        "chunk",
        {"chunks": chunks, "dim": dim},
        [val(node.args[0])],
        tuple(str(i) for i in range(1, len(res))),
    )


def _split_fn(node, args, kwargs, res, val):
    size = (
        args[1] if len(args) > 1 else kwargs.get("split_size_or_sections", kwargs.get("split_size"))
    )
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    size = list(size) if isinstance(size, (tuple, list)) else size
    return (
        "split",
        {"split_size_or_sections": size, "dim": dim},
        [val(node.args[0])],
        tuple(str(i) for i in range(1, len(res))),
    )


def _matmul(node, args, kwargs, res, val):
    return "matmul", {}, [val(node.args[0]), val(node.args[1])]


def _sdpa(node, args, kwargs, res, val):
    if kwargs.get("attn_mask") is not None:
        raise Unsupported("scaled_dot_product_attention with attn_mask")
    a = {}
    for k in ("dropout_p", "is_causal", "scale", "enable_gqa"):
        if kwargs.get(k) not in (None, False, 0.0):
            a[k] = kwargs[k]
    return "scaled_dot_product_attention", a, [val(n) for n in node.args[:3]]


def _identity(node, args, kwargs, res, val):
    return None


def _as_module(cls, names):
    """A functional call written as the entry of the module it is the forward of
    (F.max_pool2d(x, 3, 2) as nn.MaxPool2d(3, 2)'s): the module is built from the
    call's arguments (``names``: the functional's, after the input, in order) and read
    as an imported module is, so both write the same entry."""

    def conv(node, args, kwargs, res, val):
        kw = dict(zip(names, args[1:]))
        kw.update(kwargs)
        if kw.get("stride") in ((), []):
            kw["stride"] = None  # the functional pools' stride=[]: the kernel size
        try:
            m = cls(**kw)
        except (TypeError, ValueError) as exc:
            raise Unsupported(f"{cls.__name__} from these arguments: {exc}") from None
        entry = module_entry(m)
        if entry is None:
            raise Unsupported(f"{cls.__name__} in this configuration has no layercalc type")
        type_, margs, _ = entry
        return type_, margs, [val(node.args[0])]

    return conv


_MAX_POOL = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG_POOL = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")


_PADS = {
    "constant": (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d),
    "reflect": (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d),
    "replicate": (nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d),
    "circular": (nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d),
}


def _pad(node, args, kwargs, res, val):
    """F.pad(x, pad, mode, value) as the padding module of its mode and dims (2, 4 or 6
    sizes: the last 1, 2 or 3 dims), read as that module is."""
    pad = args[1] if len(args) > 1 else kwargs["pad"]
    mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
    value = args[3] if len(args) > 3 else kwargs.get("value")
    dims = min(3, max(1, args[0].ndim - 2))  # the padding module of the input's rank
    if (
        mode not in _PADS
        or len(pad) % 2
        or not 2 <= len(pad) <= 2 * dims
        or any(p < 0 for p in pad)
    ):
        raise Unsupported(f"pad of mode {mode!r} with {len(pad)} sizes (or a crop)")
    pad = tuple(pad) + (0,) * (2 * dims - len(pad))  # F.pad pads the last dims first
    cls = _PADS[mode][dims - 1]
    m = cls(pad, value or 0.0) if mode == "constant" else cls(pad)
    entry = module_entry(m)
    if entry is None:
        raise Unsupported(f"{cls.__name__} in this configuration has no layercalc type")
    type_, margs, _ = entry
    return type_, margs, [val(node.args[0])]


def _layer_norm_fn(node, args, kwargs, res, val):
    """F.layer_norm without weight and bias: nn.LayerNorm(elementwise_affine=False);
    tensors passed in are the module's (write nn.LayerNorm) and have no entry here."""
    shape = args[1] if len(args) > 1 else kwargs["normalized_shape"]
    weight = args[2] if len(args) > 2 else kwargs.get("weight")
    bias = args[3] if len(args) > 3 else kwargs.get("bias")
    eps = args[4] if len(args) > 4 else kwargs.get("eps", 1e-5)
    if weight is not None or bias is not None:
        raise Unsupported(
            "F.layer_norm with a weight or bias tensor (nn.LayerNorm holds them: use it)"
        )
    type_, margs, _ = module_entry(nn.LayerNorm(tuple(shape), eps=eps, elementwise_affine=False))
    return type_, margs, [val(node.args[0])]


def _flip(node, args, kwargs, res, val):
    dims = args[1] if len(args) > 1 else kwargs["dims"]
    dims = [dims] if isinstance(dims, int) else list(dims)
    return "flip", {"dims": dims}, [val(node.args[0])]


def _clamp(node, args, kwargs, res, val):
    """clamp(min, max) with both, min < max: hardtanh; anything else has no type."""
    lo = args[1] if len(args) > 1 else kwargs.get("min")
    hi = args[2] if len(args) > 2 else kwargs.get("max")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
    if not numbers or not lo < hi:
        raise Unsupported("clamp without both bounds (min < max) has no layercalc type")
    return "hardtanh", {"min_val": float(lo), "max_val": float(hi)}, [val(node.args[0])]


def _pow(node, args, kwargs, res, val):
    if not isinstance(args[1], (int, float)):
        raise Unsupported("pow with a tensor exponent")
    return "pow", {"exponent": args[1]}, [val(node.args[0])]


FUNCTIONS = {
    operator.add: _binary("add"),
    operator.iadd: _binary("add"),
    torch.add: _binary("add"),
    operator.mul: _binary("mul"),
    operator.imul: _binary("mul"),
    torch.mul: _binary("mul"),
    operator.sub: _binary("sub"),
    torch.sub: _binary("sub"),
    operator.truediv: _binary("div"),
    torch.div: _binary("div"),
    operator.matmul: _matmul,
    torch.matmul: _matmul,
    torch.cat: _cat,
    torch.concat: _cat,
    torch.flatten: _flatten,
    torch.reshape: _reshape,
    torch.permute: _permute,
    torch.transpose: _transpose,
    torch.relu: _act("relu"),
    F.relu: _act("relu", ("inplace",)),
    F.relu6: _act("relu6"),
    F.gelu: _act("gelu", ("approximate",)),
    F.silu: _act("silu"),
    F.hardswish: _act("hardswish"),
    F.hardsigmoid: _act("hardsigmoid"),
    torch.sigmoid: _act("sigmoid"),
    F.sigmoid: _act("sigmoid"),
    torch.tanh: _act("tanh"),
    F.tanh: _act("tanh"),
    F.softmax: _softmax("softmax"),
    torch.softmax: _softmax("softmax"),
    F.log_softmax: _softmax("log_softmax"),
    F.dropout: _dropout,
    F.max_pool1d: _as_module(nn.MaxPool1d, _MAX_POOL),
    F.max_pool2d: _as_module(nn.MaxPool2d, _MAX_POOL),
    F.max_pool3d: _as_module(nn.MaxPool3d, _MAX_POOL),
    F.avg_pool1d: _as_module(nn.AvgPool1d, _AVG_POOL),
    F.avg_pool2d: _as_module(nn.AvgPool2d, (*_AVG_POOL, "divisor_override")),
    F.avg_pool3d: _as_module(nn.AvgPool3d, (*_AVG_POOL, "divisor_override")),
    F.leaky_relu: _as_module(nn.LeakyReLU, ("negative_slope", "inplace")),
    F.elu: _as_module(nn.ELU, ("alpha", "inplace")),
    F.softplus: _as_module(nn.Softplus, ("beta", "threshold")),
    F.hardtanh: _as_module(nn.Hardtanh, ("min_val", "max_val", "inplace")),
    F.mish: _as_module(nn.Mish, ("inplace",)),
    torch.flip: _flip,
    torch.clamp: _clamp,
    F.adaptive_avg_pool2d: _adaptive("adaptive_avg_pool2d"),
    F.adaptive_avg_pool1d: _adaptive("adaptive_avg_pool1d"),
    F.adaptive_avg_pool3d: _adaptive("adaptive_avg_pool3d"),
    F.adaptive_max_pool1d: _as_module(nn.AdaptiveMaxPool1d, ("output_size", "return_indices")),
    F.adaptive_max_pool2d: _as_module(nn.AdaptiveMaxPool2d, ("output_size", "return_indices")),
    F.adaptive_max_pool3d: _as_module(nn.AdaptiveMaxPool3d, ("output_size", "return_indices")),
    F.pixel_shuffle: _as_module(nn.PixelShuffle, ("upscale_factor",)),
    F.pixel_unshuffle: _as_module(nn.PixelUnshuffle, ("downscale_factor",)),
    torch.pixel_shuffle: _as_module(nn.PixelShuffle, ("upscale_factor",)),
    torch.pixel_unshuffle: _as_module(nn.PixelUnshuffle, ("downscale_factor",)),
    F.pad: _pad,
    F.layer_norm: _layer_norm_fn,
    F.interpolate: _interp,
    torch.mean: _reduce("mean"),
    torch.sum: _reduce("sum"),
    torch.amax: _reduce("amax"),
    torch.unsqueeze: _unsqueeze,
    torch.squeeze: _squeeze,
    torch.chunk: _chunk,
    torch.split: _split_fn,
    F.scaled_dot_product_attention: _sdpa,
    torch.exp: _act("exp"),
    torch.log: _act("log"),
    torch.sqrt: _act("sqrt"),
    torch.abs: _act("abs"),
    operator.neg: _act("neg"),
    torch.pow: _pow,
    operator.pow: _pow,
}

METHODS = {
    "add": _binary("add"),
    "add_": _binary("add"),
    "mul": _binary("mul"),
    "mul_": _binary("mul"),
    "sub": _binary("sub"),
    "div": _binary("div"),
    "matmul": _matmul,
    "flatten": _flatten,
    "view": _reshape,
    "reshape": _reshape,
    "permute": _permute,
    "transpose": _transpose,
    "expand": _expand,
    "relu": _act("relu"),
    "relu_": _act("relu"),
    "log": _act("log"),
    "sigmoid": _act("sigmoid"),
    "tanh": _act("tanh"),
    "softmax": _softmax("softmax"),
    "mean": _reduce("mean"),
    "sum": _reduce("sum"),
    "amax": _reduce("amax"),
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "chunk": _chunk,
    "split": _split_fn,
    "contiguous": _identity,
    "clone": _identity,
    "detach": _identity,
    "float": _identity,
    "exp": _act("exp"),
    "sqrt": _act("sqrt"),
    "abs": _act("abs"),
    "pow": _pow,
    "flip": _flip,
    "clamp": _clamp,
}
