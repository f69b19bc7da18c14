"""A resolved network as a standalone PyTorch module file (`layercalc export --to torch`).

What the file holds, and why:

- One class per block of the spec (blocks.py compiles the YAML definition: arguments
  as ``__init__`` parameters, ``when`` as ``if``, ``repeat`` as a loop), one class for the
  network, and ``build()``. A block that does not compile, or whose class would not
  build the same model as the flat form (trace.py runs both against a stand-in for
  torch), is written flat, with a comment in the file saying why.
- The flat form: containers mirror layercalc's group tree (blocks, sequentials,
  repeats and composite modules), each a small ``Group`` module, so ``named_modules()``
  and ``state_dict()`` names are exactly layercalc's (``layer1.0.conv1.weight``); the
  leaves are built with their evaluated arguments, and the spec's vars are those this
  file was exported with (listed in ``VARS``; export again with ``--set`` to change
  them). Block classes keep the same names, so the keys are the same either way.
- Leaves whose type is a torch.nn class (the type's ``doc`` names it) are modules,
  built with their non-default arguments (``inplace`` always off: the forward keeps
  tensors that later rows read again); parameter-free tensor operations (add, concat,
  reshape, permute, chunk, the residual rows of composites, ...) are steps of forward.
  nn.MultiheadAttention is one module (its own row and ``out_proj``), called whole.
- ``forward`` follows the graph's data flow row by row: each row reads its inputs by
  ref, another call of a shared module (``share:``) calls the same module again, and
  tied tensors (``tie:``) are one Parameter under both names.

A layer type with no mapping here is an error naming it at its YAML position, never a
silently different model.
"""

from __future__ import annotations

import keyword
import re

from ..errors import Diagnostic
from . import ExportError

# attributes every nn.Module has (torch 2.x): a child of such a name could not be set or
# read as an attribute, so export refuses it (names starting with "_" likewise)
MODULE_ATTRIBUTES = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children compile
    cpu cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train
    training type xpu zero_grad""".split()
)

# the classes HELPERS define (by layer type), written into a file that uses the type
HELPER_CLASSES = ("LayerNorm2d", "StochasticDepth", "RotaryEmbedding", "Conv1D", "NestedPadding")

# python names the generated file uses itself
_TAKEN = frozenset(
    {
        "self",
        "torch",
        "nn",
        "F",
        "Group",
        "build",
        "VARS",
        "INPUTS",
        "_",
        "float",
        "getattr",
        "_fast_mask",
    }
)

GROUP_CLASS = '''\
class Group(nn.Module):
    """A container named as layercalc names the block, sequential or repeat it holds;
    ``group["0"]`` reaches a child (or tensor) whose name is no Python identifier."""

    def __getitem__(self, name):
        return getattr(self, name)
'''

HELPERS = {
    "layer_norm2d": '''\
class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d: nn.LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
    "stochastic_depth": '''\
class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: drops whole rows (or the batch) while training
    with probability p, scaling the kept ones; the identity at inference."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        keep = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)
''',
    "transformers_conv1d": '''\
class Conv1D(nn.Module):
    """Hugging Face's transformers.pytorch_utils.Conv1D (GPT-2's c_attn, c_proj, c_fc),
    so this file needs no transformers: a linear layer whose weight is stored (nx, nf),
    in by out; the same parameters, state_dict keys and forward (reshape where
    transformers views: the same values, for any input layout)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(torch.empty(nx, nf).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.reshape(-1, x.size(-1)), self.weight)
        return x.view(size_out)
''',
    "to_padded_tensor": '''\
class NestedPadding(nn.Module):
    """nn.TransformerEncoder's nested-tensor fast path (eval mode without autograd,
    batch_first, a src_key_padding_mask and no mask): its layers attend within each
    sequence's first n unpadded tokens, and the output is padded back with zeros; all
    unchanged where torch keeps the padded tensor (mask_check, and a mask with padding
    before a token). Written out so that this file gives those numbers as it is."""

    def __init__(self, mask_check=True):
        super().__init__()
        self.mask_check = mask_check

    @staticmethod
    def lengths(pad, mask_check):
        valid = ~pad if pad.dtype == torch.bool else pad == 0
        counts = valid.sum(-1)
        left = torch.arange(valid.shape[-1], device=pad.device) < counts[:, None]
        if mask_check and not torch.equal(valid, left):
            return None
        return counts

    @staticmethod
    def mask(pad, mask_check):
        counts = NestedPadding.lengths(pad, mask_check)
        if counts is None:
            return pad
        mask = torch.arange(pad.shape[-1], device=pad.device)[None, :] >= counts[:, None]
        mask[counts == 0] = False  # no token: attends all (zeroed after the last layer)
        return mask

    def forward(self, x, pad):
        counts = self.lengths(pad, self.mask_check)
        if counts is None:
            return x
        past = torch.arange(x.shape[1], device=x.device)[None, :] >= counts[:, None]
        return x.masked_fill(past[..., None], 0.0)
''',
    "fast_mask": '''\
def _fast_mask(mask):
    """A mask as nn.TransformerEncoderLayer's fast path (eval mode without autograd)
    reads it: a boolean, True wherever a float mask is not 0 (-2.0 masks a key out, as
    -inf does), so this file gives the numbers nn.TransformerEncoder gives."""
    return mask != 0 if mask.is_floating_point() else mask
''',
    "rotary_embedding": '''\
class RotaryEmbedding(nn.Module):
    """Hugging Face's apply_rotary_pos_emb (rotate_half) of a (..., T, D) input: the
    first ``dim`` features of position p turn in pairs (i, i + dim/2) by the angle
    p / theta ** (2i / dim), as LlamaRotaryEmbedding computes it; the rest pass through."""

    def __init__(self, dim, theta=10000.0, position_offset=0):
        super().__init__()
        self.dim, self.theta, self.position_offset = dim, theta, position_offset

    def forward(self, x):
        d, start = self.dim, self.position_offset
        inv_freq = 1.0 / self.theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
        positions = torch.arange(start, start + x.shape[-2], dtype=torch.float32)
        emb = torch.cat([torch.outer(positions, inv_freq)] * 2, dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        xr, rest = x[..., :d], x[..., d:]
        rotated = torch.cat([-xr[..., d // 2 :], xr[..., : d // 2]], dim=-1)
        return torch.cat([xr * cos + rotated * sin, rest], dim=-1)
''',
}


def _refuse(layer, message: str, hint: str | None = None, file=None) -> ExportError:
    node = layer.node
    return ExportError(
        Diagnostic(
            "export-unsupported",
            message,
            line=getattr(node, "line", 1),
            column=getattr(node, "col", 1),
            hint=hint,
            file=file,
        )
    )


def _lit(v) -> str:
    """A Python literal for an evaluated argument value."""
    if isinstance(v, tuple) and len(v) == 1:
        return f"({_lit(v[0])},)"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_lit(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner})"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return f'float("{v}")'
        return repr(v)
    if isinstance(v, str):
        # ascii(): a valid literal whatever the text holds (quotes, control and
        # non-ASCII characters escaped); double quotes when it holds no quote
        text = ascii(v)
        plain = text[0] == "'" and '"' not in v and "'" not in v
        return f'"{text[1:-1]}"' if plain else text
    if isinstance(v, slice):
        return f"slice({_lit(v.start)}, {_lit(v.stop)}, {_lit(v.step)})"
    return repr(v)


def _torch_class(lt) -> str | None:
    """The torch.nn class a layer type's doc names (``torch.nn.Conv2d``), or None."""
    m = re.match(r"torch\.nn\.([A-Z][A-Za-z0-9]*)\b(?!\.)", lt.doc or "")
    return m.group(1) if m else None


def _kwargs(layer, skip=(), rename=None) -> str:
    """The type's declared arguments with their evaluated values, as keywords, those at
    PyTorch's default left out (``inplace`` never passed)."""
    a = layer.args
    parts = []
    first = [x for x in layer.type.args if x.name in layer.type.inferred]
    for arg in first + [x for x in layer.type.args if x.name not in layer.type.inferred]:
        name = arg.name
        if name in skip or name == "inplace" or name not in a:
            continue
        v = a[name]
        if not arg.required and v == arg.default and type(v) is type(arg.default):
            continue
        if v is None and arg.required:
            continue
        parts.append(f"{(rename or {}).get(name, name)}={_lit(v)}")
    return ", ".join(parts)


def _module(cls: str, layer, skip=(), rename=None) -> str:
    return f"nn.{cls}({_kwargs(layer, skip, rename)})"


# -- per-type emitters -----------------------------------------------------------------
# Each takes (layer, xs: input expressions) and returns (constructor or None, call
# expression with {m} for the module, output pattern or None); the pattern binds several
# outputs ("{0}, ({1}, {2})" for nn.LSTM). One entry per layer type (or family).


def _merge_op(symbol: str, fn: str):
    def emit(layer, xs):
        a = layer.args
        alpha = a.get("alpha", 1)
        rounding = a.get("rounding_mode")
        if a.get("other") is not None:
            other = _lit(a["other"])
            if alpha != 1:
                return None, f"torch.{fn}({xs[0]}, {other}, alpha={_lit(alpha)})", None
            if rounding:
                return None, f"torch.div({xs[0]}, {other}, rounding_mode={_lit(rounding)})", None
            return None, f"{xs[0]} {symbol} {other}", None
        if rounding:
            return None, f"torch.div({xs[0]}, {xs[1]}, rounding_mode={_lit(rounding)})", None
        if alpha != 1:
            head = f"torch.{fn}({xs[0]}, {xs[1]}, alpha={_lit(alpha)})"
            return None, " ".join([head] + [f"{symbol} {x}" for x in xs[2:]]), None
        return None, f" {symbol} ".join(xs), None

    return emit


def _unary(fn: str):
    def emit(layer, xs):
        if fn == "pow":
            return None, f"torch.pow({xs[0]}, {_lit(layer.args['exponent'])})", None
        return None, f"torch.{fn}({xs[0]})", None

    return emit


def _reduce(fn: str):
    def emit(layer, xs):
        a = layer.args
        keep = ", keepdim=True" if a.get("keepdim") else ""
        if a.get("dim") is None and not keep:
            return None, f"torch.{fn}({xs[0]})", None
        dims = tuple(a["_dims"])
        dim = _lit(dims[0]) if len(dims) == 1 else _lit(dims)
        return None, f"torch.{fn}({xs[0]}, dim={dim}{keep})", None

    return emit


def _pieces(fn: str):
    def emit(layer, xs):
        a = layer.args
        n = len(layer.named_outputs or ())
        pattern = ", ".join(f"{{{i}}}" for i in range(n)) if n > 1 else "{0},"
        if fn == "chunk":
            return None, f"torch.chunk({xs[0]}, {a['chunks']}, dim={a['_dim']})", pattern
        size = a.get("split_size_or_sections")
        if size is None:
            size = a.get("split_size")
        return None, f"torch.split({xs[0]}, {_lit(size)}, dim={a['_dim']})", pattern

    return emit


def _slice(layer, xs):
    d, s = layer.args["_at"]
    part = "" if s.start is None else str(s.start)
    part += ":" + ("" if s.stop is None else str(s.stop))
    if s.step not in (None, 1):
        part += f":{s.step}"
    return None, f"{xs[0]}[{':, ' * d}{part}]", None


def _squeeze(layer, xs):
    d = layer.args.get("dim")
    return None, f"{xs[0]}.squeeze({'' if d is None else _lit(d)})", None


def _expand(layer, xs):
    a = layer.args
    size = a.get("size") if a.get("size") is not None else a.get("sizes")
    return None, f"{xs[0]}.expand({_lit(tuple(size))})", None


def _roll(layer, xs):
    a = layer.args
    dims = "" if a.get("dims") is None else f", dims={_lit(a['dims'])}"
    return None, f"torch.roll({xs[0]}, {_lit(a['shifts'])}{dims})", None


def _arange(layer, xs):
    a = layer.args
    return None, f"torch.arange({a['start']}, {a['end']}, {a['step']})", None


def _sdpa(layer, xs):
    a = layer.args
    roles = dict(zip(a["_roles"], xs))
    args = [roles["query"], roles["key"], roles["value"]]
    if "attn_mask" in roles:
        args.append(f"attn_mask={roles['attn_mask']}")
    if a["is_causal"]:
        args.append("is_causal=True")
    if a.get("scale") is not None:
        args.append(f"scale={_lit(a['scale'])}")
    if a.get("enable_gqa"):
        args.append("enable_gqa=True")
    return None, f"F.scaled_dot_product_attention({', '.join(args)})", None


def _recurrent(layer, xs):
    cls = _torch_class(layer.type)
    ctor = _module(cls, layer)
    lstm = cls.startswith("LSTM")
    if cls.endswith("Cell"):
        state = ""
        if len(xs) > 1:
            state = f", ({xs[1]}, {xs[2]})" if lstm else f", {xs[1]}"
        return ctor, f"{{m}}({xs[0]}{state})", "{0}, {1}" if lstm else None
    state = ""
    if len(xs) > 1:
        state = f", ({xs[1]}, {xs[2]})" if lstm else f", {xs[1]}"
    return ctor, f"{{m}}({xs[0]}{state})", "{0}, ({1}, {2})" if lstm else "{0}, {1}"


def _generic_module(layer, xs):
    cls = _torch_class(layer.type)
    return _module(cls, layer), f"{{m}}({xs[0]})", None


def _unflatten(layer, xs):
    a = layer.args
    sizes = a["_sizes"]
    sizes = tuple(sizes) if isinstance(sizes, list) else sizes
    return f"nn.Unflatten({a['dim']}, {_lit(sizes)})", f"{{m}}({xs[0]})", None


def _normalized(layer, xs):
    """nn.LayerNorm / nn.RMSNorm: a normalized_shape left out of the spec (every dim
    but the batch, SPEC.md section 4) is the one the input gave, which torch needs."""
    a = layer.args
    ctor = _module(_torch_class(layer.type), layer)
    if a.get("normalized_shape") is None:
        rest = _kwargs(layer)
        shape = f"normalized_shape={_lit(tuple(a['_ns']))}"
        ctor = f"nn.{_torch_class(layer.type)}({shape}{', ' + rest if rest else ''})"
    return ctor, f"{{m}}({xs[0]})", None


def _layer_norm2d(layer, xs):
    return f"LayerNorm2d({_kwargs(layer)})", f"{{m}}({xs[0]})", None


def _stochastic_depth(layer, xs):
    a = layer.args
    return f"StochasticDepth({_lit(a['p'])}, {_lit(a['mode'])})", f"{{m}}({xs[0]})", None


def _rotary(layer, xs):
    a = layer.args
    kw = [str(a["_dim"])]
    if a["theta"] != 10000.0:
        kw.append(f"theta={_lit(a['theta'])}")
    if a["position_offset"]:
        kw.append(f"position_offset={a['position_offset']}")
    return f"RotaryEmbedding({', '.join(kw)})", f"{{m}}({xs[0]})", None


def _transformers_conv1d(layer, xs):
    a = layer.args
    return f"Conv1D({_lit(a['nf'])}, {_lit(a['nx'])})", f"{{m}}({xs[0]})", None


def _to_padded(layer, xs):
    return f"NestedPadding({_lit(layer.args['mask_check'])})", f"{{m}}({xs[0]}, {xs[1]})", None


def _pool(layer, xs):
    if layer.args.get("return_indices"):
        return None, None, None  # refused: the indices output has no row of its own
    return _generic_module(layer, xs)


EMITTERS = {
    "add": _merge_op("+", "add"),
    "sub": _merge_op("-", "sub"),
    "mul": _merge_op("*", "mul"),
    "div": _merge_op("/", "div"),
    "concat": lambda layer, xs: (
        None,
        f"torch.cat([{', '.join(xs)}], dim={layer.args['dim']})",
        None,
    ),
    **{fn: _unary(fn) for fn in ("abs", "neg", "sqrt", "exp", "log", "pow")},
    **{fn: _reduce(fn) for fn in ("mean", "sum", "amax", "amin")},
    "chunk": _pieces("chunk"),
    "split": _pieces("split"),
    "arange": _arange,
    "permute": lambda layer, xs: (None, f"{xs[0]}.permute{_lit(tuple(layer.args['_perm']))}", None),
    "transpose": lambda layer, xs: (
        None,
        f"{xs[0]}.transpose({layer.args['dim0']}, {layer.args['dim1']})",
        None,
    ),
    "squeeze": _squeeze,
    "unsqueeze": lambda layer, xs: (None, f"{xs[0]}.unsqueeze({layer.args['dim']})", None),
    "expand": _expand,
    "roll": _roll,
    "select": lambda layer, xs: (
        None,
        f"{xs[0]}.select({layer.args['dim']}, {layer.args['index']})",
        None,
    ),
    "slice": _slice,
    "flip": lambda layer, xs: (
        None,
        f"torch.flip({xs[0]}, {_lit(tuple(layer.args['_dims']))})",
        None,
    ),
    "matmul": lambda layer, xs: (None, f"torch.matmul({xs[0]}, {xs[1]})", None),
    "reshape": lambda layer, xs: (
        None,
        f"{xs[0]}.reshape({_lit(tuple(layer.args['shape']))})",
        None,
    ),
    "scaled_dot_product_attention": _sdpa,
    "unflatten": _unflatten,
    "layer_norm2d": _layer_norm2d,
    "layer_norm": _normalized,
    "rms_norm": _normalized,
    "stochastic_depth": _stochastic_depth,
    "rotary_embedding": _rotary,
    "to_padded_tensor": _to_padded,
    "transformers_conv1d": _transformers_conv1d,
    **{n: _recurrent for n in ("rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell")},
}
for _d in (1, 2, 3):
    EMITTERS[f"max_pool{_d}d"] = _pool
    EMITTERS[f"adaptive_max_pool{_d}d"] = _pool


def emitter(lt):
    """How a layer type exports: its entry in EMITTERS, else a module of the torch.nn
    class its doc names (one input, its declared arguments as keywords), else None."""
    hit = EMITTERS.get(lt.name)
    if hit is not None:
        return hit
    if lt.composite or not lt.takes_input or lt.merge:
        return None
    if _torch_class(lt) is not None:
        return _generic_module
    return None


# emitters whose rows are one module called on one input (what a chain may hold)
MODULE_EMITTERS = (
    _generic_module,
    _unflatten,
    _normalized,
    _layer_norm2d,
    _stochastic_depth,
    _rotary,
    _transformers_conv1d,
    _pool,
)


def supported(lt) -> bool:
    """Whether rows of layer type ``lt`` export (composites: through their rows)."""
    return lt.composite or lt.name in ("parameter",) or emitter(lt) is not None


# -- the file ----------------------------------------------------------------------------


def _is_mha_core(layer) -> bool:
    return layer.type.name == "multihead_attention" and not layer.type.composite


def _plain(name: str) -> bool:
    """An ASCII identifier: usable as an attribute (Python folds other identifiers by
    NFKC, so an attribute spelled with a ligature would name another child)."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def _access(path: str) -> str:
    """``self.layer1["0"].conv1`` for the module at dotted ``path`` ("" is self)."""
    out = "self"
    for part in path.split(".") if path else ():
        out += f".{part}" if _plain(part) else f"[{_lit(part)}]"
    return out


class _Writer:
    def __init__(self, net, file, opaque=None):
        self.net = net
        # first row index -> (group index, constructor): a block instance built by its
        # class, called whole
        self.opaque = opaque or {}
        self.file = file or net.spec.file
        self.init: list[str] = []
        self.fwd: list[str] = []
        self.made: set = set()  # module paths created so far (containers and leaves)
        self.vars: dict = {}  # ref -> python variable
        self.used: set = set(_TAKEN)
        self.helpers: set = set()
        self.read = {r for layer in net.layers for r in layer.inputs}
        self.read.update(net.out_refs.values())
        self.last = net.last_uses()  # ref -> index of the last row reading it
        self.bound: dict = {}  # variable -> the ref it holds
        self.suffix: dict = {}  # base name -> a suffix above every one given to it
        self.row = -1  # the index of the row being written

    # names ---------------------------------------------------------------------------
    def check_name(self, layer, path: str):
        refused = _reserved_name(layer, path, self.file)
        if refused is not None:
            raise refused

    def var(self, ref: str, like: str | None = None) -> str:
        """A short variable for ``ref``: its last name component ("norm2", "h_n"), with
        the components before a numeric one ("features_3"); a name whose value is still
        to be read later gets a suffix, a name whose value is dead is reused."""
        if ref not in self.read:
            return "_"
        parts = (like or ref).split("@", 1)[0].split(".")
        k = len(parts) - 1
        while k > 0 and not parts[k][:1].isalpha():
            k -= 1
        base = re.sub(r"[^0-9A-Za-z_]", "_", "_".join(parts[k:])).strip("_") or "x"
        if base[0].isdigit():
            base = "x_" + base
        name, n = base, 1
        while keyword.iskeyword(name) or name in _TAKEN or not self.free(name):
            # the lowest free suffix among the first few, then past every one given
            # (bounded work per row however many values of one name are alive)
            n = n + 1 if n < 32 else max(n + 1, self.suffix.get(base, 0))
            name = f"{base}_{n}"
        self.suffix[base] = max(self.suffix.get(base, 0), n + 1)
        self.bound[name] = ref
        self.vars[ref] = name
        return name

    def free(self, name: str) -> bool:
        """No value still to be read (after the current row) is bound to ``name``."""
        ref = self.bound.get(name)
        return ref is None or self.last.get(ref, -1) <= self.row

    def value(self, layer, ref: str) -> str:
        v = self.vars.get(ref)
        if v is None:
            raise _refuse(
                layer,
                f"'{layer.name}' ({layer.type.name}) reads '{ref}', which the export has "
                "no value for",
                file=self.file,
            )
        return v

    # modules -------------------------------------------------------------------------
    def container(self, path: str):
        if path in self.made or not path:
            return
        parent, _, last = path.rpartition(".")
        self.container(parent)
        self.made.add(path)
        self.place(path, "Group()")

    def place(self, path: str, ctor: str):
        parent, _, last = path.rpartition(".")
        owner = _access(parent) if parent else "self"
        if _plain(last):
            self.init.append(f"{owner}.{last} = {ctor}")
        else:
            self.init.append(f"{owner}.add_module({_lit(last)}, {ctor})")

    def module(self, layer, path: str, ctor: str):
        path = self.net.torch_path(path)  # PyTorch's name where a `torch_name` gives one
        self.check_name(layer, path)
        parent = path.rpartition(".")[0]
        self.container(parent)
        if path in self.made:
            raise _refuse(
                layer,
                f"'{path}' would be both a container and a module",
                file=self.file,
            )
        self.made.add(path)
        self.place(path, ctor)

    def tensor(self, layer):
        """A free `parameter` row: a Parameter (or buffer) of its container."""
        a = layer.args
        path = self.net.torch_path(layer.name)
        self.check_name(layer, path)
        parent, _, last = path.rpartition(".")
        self.container(parent)
        self.made.add(path)
        owner = _access(parent) if parent else "self"
        shape = _lit(tuple(layer.output))
        if a.get("init") == "arange":
            n = 1
            for s in layer.output:
                n *= s
            value = f"torch.arange({n}).reshape({shape})"
        elif a.get("buffer"):
            value = f"torch.zeros({shape})"
        else:  # zeros, as torchvision's ViT class_token starts; a state_dict fills it
            value = f"nn.Parameter(torch.zeros({shape}))"
        if a.get("buffer"):
            self.init.append(f"{owner}.register_buffer({_lit(last)}, {value})")
        elif _plain(last):
            self.init.append(f"{owner}.{last} = {value}")
        else:
            self.init.append(f"{owner}.register_parameter({_lit(last)}, {value})")

    # rows ----------------------------------------------------------------------------
    def emit_mha(self, i: int, layer) -> int:
        """nn.MultiheadAttention at its core row: the module whole (its out_proj row is
        skipped; the out_proj row's ref is the module's attn_output). Returns the index of
        the out_proj row."""
        a = layer.args
        j = next(
            (
                k
                for k in range(i + 1, len(self.net.layers))
                if self.net.layers[k].name == f"{layer.name}.out_proj"
                and self.net.layers[k].inputs == [layer.ref]
            ),
            None,
        )
        if j is None or layer.ref in [
            r for k, lr in enumerate(self.net.layers) if k != j for r in lr.inputs
        ]:
            raise _refuse(
                layer,
                f"'{layer.name}': its attention output is read other than by its out_proj",
                file=self.file,
            )
        out_proj = self.net.layers[j]
        if layer.shares is None:
            kw = [str(a["embed_dim"]), str(a["num_heads"])]
            for key, default in (
                ("dropout", 0.0),
                ("bias", True),
                ("add_bias_kv", False),
                ("add_zero_attn", False),
                ("batch_first", False),
            ):
                if a[key] != default:
                    kw.append(f"{key}={_lit(a[key])}")
            if not a["_same"]:
                kw += [f"kdim={a['_kdim']}", f"vdim={a['_vdim']}"]
            self.module(layer, layer.name, f"nn.MultiheadAttention({', '.join(kw)})")
            self.made.add(self.net.torch_path(f"{layer.name}.out_proj"))
        roles = dict(zip(a["_roles"], (self.value(layer, r) for r in layer.inputs)))
        q = roles["query"]
        k = roles.get("key", q)
        v = roles.get("value", q)
        args = [q, k, v]
        for key in ("key_padding_mask", "attn_mask"):
            if key in roles:
                value = roles[key]
                if key == "key_padding_mask" and a.get("_nested") is not None:
                    # TransformerEncoder's fast path: the mask its nested tensor stands for
                    self.helpers.add("to_padded_tensor")
                    value = f"NestedPadding.mask({value}, {_lit(a['_nested'])})"
                if a.get("_fast"):  # TransformerEncoderLayer's fast path reads masks as booleans
                    value = f"_fast_mask({value})"
                    self.helpers.add("fast_mask")
                args.append(f"{key}={value}")
        if a["is_causal"]:
            if "attn_mask" not in roles:
                L, S = a["_L"], a["_S"]
                causal = f"nn.Transformer.generate_square_subsequent_mask({L})"
                if a.get("_fast"):
                    causal = f"_fast_mask({causal})"
                    self.helpers.add("fast_mask")
                args.append(f"attn_mask={causal}")
                if L != S:  # cannot happen: layercalc refuses a non-square causal mask
                    raise _refuse(
                        layer, "a causal mask needs as many queries as keys", file=self.file
                    )
            args.append("is_causal=True")
        args.append(f"need_weights={a['need_weights']}")
        if a["need_weights"] and not a["average_attn_weights"]:
            args.append("average_attn_weights=False")
        out = self.var(out_proj.ref, like=layer.ref)  # named as the module
        weights = self.var(f"{layer.ref}.attn_weights") if a["need_weights"] else "_"
        self.fwd.append(
            f"{out}, {weights} = {_access(self.net.torch_path(layer.name))}({', '.join(args)})"
        )
        return j

    def emit_row(self, layer):
        lt = layer.type
        xs = [self.value(layer, r) for r in layer.inputs]
        if lt.name == "parameter":
            if layer.shares is None:
                self.tensor(layer)
            call = _access(self.net.torch_path(layer.name))
            pattern = None
            ctor = None
        else:
            emit = emitter(lt)
            ctor = call = None
            if emit is not None:
                ctor, call, pattern = emit(layer, xs)
            if call is None:
                raise _refuse(
                    layer,
                    f"layer type '{lt.name}' of '{layer.name}' has no PyTorch export yet"
                    + (" (return_indices)" if layer.args.get("return_indices") else ""),
                    hint="`layercalc layers` lists the types; export knows those of "
                    "layercalc/export/torch.py EMITTERS and the torch.nn classes",
                    file=self.file,
                )
            if ctor is not None:
                if layer.shares is None:
                    self.module(layer, layer.name, ctor)
                call = call.format(m=_access(self.net.torch_path(layer.name)))
        produced = layer.produced()
        if layer.named_outputs is None or len(produced) == 1:
            target = self.var(produced[0][0])
            if pattern == "{0},":
                target += ","
        else:
            names = [self.var(ref) for ref, _ in produced]
            target = (pattern or ", ".join(f"{{{i}}}" for i in range(len(names)))).format(*names)
        self.fwd.append(f"{target} = {call}")

    def emit_instance(self, gi: int, ctor: str) -> int:
        """A block instance whose class builds it: one child, one call. Returns the index
        of the row after it."""
        g = self.net.groups[gi]
        first = self.net.layers[g.first]
        self.module(first, g.name, ctor)
        for k in range(g.first, g.last):
            self.made.add(self.net.torch_path(self.net.layers[k].name))
            if self.net.layers[k].type.name in HELPERS:
                self.helpers.add(self.net.layers[k].type.name)
        xs = [self.value(first, v.ref) for v in g.inputs]
        self.row = g.last - 1
        out = self.var(g.ref, like=g.name)
        self.fwd.append(f"{out} = {_access(self.net.torch_path(g.name))}({', '.join(xs)})")
        return g.last

    def run(self):
        net = self.net
        skip = set()
        until = 0
        for i, layer in enumerate(net.layers):
            if i in skip or i < until:
                continue
            self.row = i
            if i in self.opaque:
                until = self.emit_instance(*self.opaque[i])
                continue
            if _is_mha_core(layer):
                skip.add(self.emit_mha(i, layer))
                continue
            if layer.type.name in HELPERS:
                self.helpers.add(layer.type.name)
            self.emit_row(layer)
        for layer in net.layers:
            for key, target, _ in layer.ties:
                owner, _, attr = layer.state_key(key).rpartition(".")
                towner, _, tattr = target.rpartition(".")
                src = _access(towner) if towner else "self"
                src = f"{src}.{tattr}" if _plain(tattr) else f"getattr({src}, {_lit(tattr)})"
                dst = _access(owner) if owner else "self"
                if _plain(attr):
                    line = f"{dst}.{attr} = {src}"
                else:
                    line = f"setattr({dst}, {_lit(attr)}, {src})"
                self.init.append(line + "  # tied: one Parameter, two state_dict keys")
        for layer in net.layers:  # `trainable: false`: its parameters frozen
            if layer.trainable or layer.shares is not None:
                continue
            for t in layer.tensors:
                if t.buffer:
                    continue
                owner, _, attr = layer.state_key(t.key).rpartition(".")
                dst = _access(owner) if owner else "self"
                dst = f"{dst}.{attr}" if _plain(attr) else f"getattr({dst}, {_lit(attr)})"
                self.init.append(f"{dst}.requires_grad_(False)  # trainable: false")


def _class_name(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name or "")
    out = "".join(w[:1].upper() + w[1:] for w in words)
    if not out or not out[0].isalpha():
        out = "Network" + out
    taken = out in _TAKEN or out in HELPERS or out in HELPER_CLASSES
    return out + "Network" if taken else out


def _docline(text: str) -> str:
    """``text`` on one line for a docstring: no backslash or triple quote, and every
    character but printable ASCII as <U+XXXX> (no control, bidi override or invisible
    character reaches the file: it is pure ASCII)."""
    text = " ".join(str(text).replace('"' * 3, "'" * 3).replace(chr(92), "/").split())
    return "".join(c if c.isascii() and c.isprintable() else f"<U+{ord(c):04X}>" for c in text)


def _reserved_part(parts: list) -> int | None:
    """The index of the first component nn.Module keeps for itself, or None."""
    for i, part in enumerate(parts):
        if part.startswith("_") or part in MODULE_ATTRIBUTES:
            return i
    return None


def _reserved_name(layer, path: str, file) -> ExportError | None:
    """The refusal of a PyTorch path holding a name nn.Module keeps for itself."""
    parts = path.split(".")
    i = _reserved_part(parts)
    if i is None:
        return None
    return _refuse(
        layer,
        f"the name '{path}' holds '{parts[i]}', which nn.Module keeps for itself "
        "(a method or attribute; export refuses every name starting with _), "
        "so no PyTorch module can have a child of that name",
        hint="rename the entry (export keeps layercalc's names as state_dict keys)",
        file=file,
    )


def _reserved_names(net, file) -> list:
    """Every reserved name of the network at once, each at the first entry holding it
    (a user renames that entry once, however many copies a repeat makes of it)."""
    found: dict = {}
    for layer in net.layers:
        path = net.torch_path(layer.name)
        refused = _reserved_name(layer, path, file)
        if refused is not None:
            # one error per reserved component, wherever it repeats: the members of a
            # group of that name, the copies of a repeat (its numbers left out)
            parts = path.split(".")
            key = tuple(p for p in parts[: _reserved_part(parts) + 1] if not p.isdigit())
            found.setdefault(key, refused.diagnostic)
    return list(found.values())


def export_torch(net, file: str | None = None) -> str:
    """The source of a standalone PyTorch module file for ``net``: a class per block
    where the block compiles and the compiled file provably builds the same model as
    the flat one (see blocks.py), the flat form elsewhere."""
    reserved = _reserved_names(net, file)
    if reserved:
        raise ExportError(reserved[0], reserved[1:])
    flat = _render(net, file)
    if not getattr(net.spec, "blocks", None):
        return flat
    if len(net.layers) > MAX_COMPILED_ROWS:
        note = (
            f"the blocks are written as the flat export writes them: {len(net.layers):,} "
            f"rows, above the {MAX_COMPILED_ROWS:,} up to which block classes are proved"
        )
        return _render(net, file, notes=[note])
    from . import blocks, trace

    cls = _class_name(net.name)
    comp = blocks.Compiler(net, _module_self(), {cls, "Group", *HELPER_CLASSES})
    for name in net.spec.blocks:
        comp.block(name)
    infos = {n: i for n, i in comp.done.items() if i is not None}
    if not infos:
        return _render(net, file, notes=_notes(comp, {}))
    trace.set_defaults(_torch_defaults())
    inputs = len(net.spec.input_refs())

    failed = {}

    def attempt(kept):
        failed["why"] = "its class would not build the same model"
        try:
            opaque = _opaque(net, comp, kept)
            text = _render(net, file, [comp.done[n] for n in kept], opaque, _notes(comp, kept))
        except blocks.Fail as exc:
            failed["why"] = f"{exc}: its instances are reached from outside"
            return None
        except Exception:  # noqa: BLE001 - any doubt: the flat form
            return None
        return text if trace.same(flat, text, inputs) else None

    order = list(infos)  # children before the blocks using them
    text = attempt(order)
    if text is not None:
        return text
    kept: list = []
    for name in order:
        if not infos[name].deps <= set(kept):
            comp.why.setdefault(name, "a block it uses is written flat")
            continue
        if attempt(kept + [name]) is not None:
            kept.append(name)
        else:
            comp.why.setdefault(name, failed["why"])
    final = attempt(kept) if kept else None
    return final if final is not None else _render(net, file, notes=_notes(comp, {}))


# block classes are kept only once traced against the flat form (trace.py), which costs
# a few times the export itself: above this many rows the flat form is written
MAX_COMPILED_ROWS = 20_000


def _module_self():
    import sys

    return sys.modules[__name__]


def _notes(comp, kept) -> list:
    out = []
    for name in comp.net.spec.blocks:
        if name not in kept:
            why = comp.why.get(name, "its class would not build the same model")
            out.append(f"block {name!r} is written as the flat export writes it ({why})")
    return out


def _opaque(net, comp, kept) -> dict:
    """first row -> (group, constructor) of the outermost instances of blocks ``kept``;
    refuses (Fail) an instance whose insides other rows read or reach. Linear in the
    rows: each row's inputs, shared module and tied tensors are looked up once."""
    from .blocks import Fail

    kept = set(kept)
    outer = []
    for gi, g in enumerate(net.groups):
        if g.kind != "block" or g.type not in kept:
            continue
        p = g.parent
        while p is not None and not (net.groups[p].kind == "block" and net.groups[p].type in kept):
            p = net.groups[p].parent
        if p is not None:
            continue
        if g.last <= g.first or len(g.inputs) != 1:
            raise Fail("an instance")
        outer.append(gi)
    owner = [-1] * len(net.layers)  # row -> the outermost kept instance holding it
    for gi in outer:
        g = net.groups[gi]
        for k in range(g.first, g.last):
            owner[k] = gi
    made_by = {}  # ref -> producing row
    row_of = {}  # layer name -> its (first) row
    for k, layer in enumerate(net.layers):
        for r, _ in layer.produced():
            made_by[r] = k
        row_of.setdefault(layer.name, k)

    def reached(k, p):
        return p is not None and owner[p] != -1 and owner[p] != owner[k]

    for k, layer in enumerate(net.layers):
        for r in layer.inputs:
            p = made_by.get(r)
            if reached(k, p) and r != net.groups[owner[p]].ref:
                raise Fail("a row reads inside an instance")
        if layer.shares is not None and reached(k, layer.shares):
            raise Fail("a module of an instance called again")
        for _, target, _ in layer.ties:
            p = row_of.get(target.rpartition(".")[0], row_of.get(target))
            if p is not None and owner[p] != -1:
                raise Fail("a tie into an instance")
    for r in net.out_refs.values():
        p = made_by.get(r)
        if p is not None and owner[p] != -1 and r != net.groups[owner[p]].ref:
            raise Fail("an output inside an instance")
    return {net.groups[gi].first: (gi, comp.done[net.groups[gi].type].calls[gi]) for gi in outer}


def _torch_defaults() -> dict:
    from ..layers import REGISTRY

    table: dict = {}
    helpers = {"layer_norm2d": "LayerNorm2d", "rotary_embedding": "RotaryEmbedding"}
    for lt in REGISTRY.canonical.values():
        cls = helpers.get(lt.name) or (_torch_class(lt) if hasattr(lt, "doc") else None)
        if cls is None:
            continue
        d = table.setdefault(cls, {})
        for a in getattr(lt, "args", ()):
            if not a.required and isinstance(a.default, (int, float, str, bool, tuple)):
                d.setdefault(a.name, a.default)
    return table


def _render(net, file=None, classes=(), opaque=None, notes=()) -> str:
    """The file: the flat export, with the instances of ``opaque`` built by
    ``classes``."""
    w = _Writer(net, file, opaque)
    refs = net.spec.input_refs()
    params = []
    for ref in refs:
        name = "input" if ref == "input" else ref[len("input.") :]
        name = re.sub(r"[^0-9A-Za-z_]", "_", name) or "x"
        if not _plain(name) or name in w.used:
            name = f"input_{len(params)}"
        w.used.add(name)
        w.vars[ref] = name
        w.bound[name] = ref
        params.append(name)
    w.run()
    outs = [w.vars[r] for r in net.out_refs.values()]
    cls = _class_name(net.name)
    spec_file = _docline(w.file or "<spec>")
    lines = [
        f'"""{_docline(net.name)}: a PyTorch module exported by layercalc from {spec_file}.',
        "",
        "Each block of the spec is a class (its arguments the __init__ parameters, `when`",
        "an if, a repeat a loop) unless a comment above the network's class says why not;",
        "other containers mirror layercalc's groups, so state_dict() keys are layercalc's",
        "names. forward follows the spec's data flow (inference semantics equal `layercalc",
        "verify`). Values are those of the vars in VARS; export again (`layercalc export",
        "--set NAME=VALUE`) to change them. Needs only torch.",
        '"""',
        "",
    ]
    blocks = "".join("\n\n" + c.source for c in classes)
    body = "\n".join(w.init + w.fwd) + blocks
    helpers = "".join(HELPERS[h] for h in sorted(w.helpers))
    if "torch." in body or "torch." in helpers:
        lines.append("import torch")
    lines.append("from torch import nn")
    if "F." in body or "F." in helpers:
        lines.append("from torch.nn import functional as F")
    lines += [""]
    vars_ = {
        k: v
        for k, v in net.spec.vars.items()
        if isinstance(k, str) and isinstance(v, (int, float, str, bool)) and v is not None
    }
    lines.append("# the spec's vars this file was exported with (--set applied)")
    lines.append("VARS = {" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in vars_.items()) + "}")
    lines.append("# the input shapes, batch first, by forward argument")
    lines.append(
        "INPUTS = {"
        + ", ".join(f"{_lit(p)}: {_lit(list(refs[r]))}" for p, r in zip(params, refs))
        + "}"
    )
    lines += ["", ""]
    lines.append(GROUP_CLASS)
    for h in sorted(w.helpers):
        lines += ["", HELPERS[h]]
    for c in classes:
        lines += ["", c.source]
    if notes:
        lines += [""] + [f"# {_docline(n)}" for n in notes]
    lines += ["", f"class {cls}(Group):"]
    lines.append(f'    """{_docline(net.name)} (layercalc export of {spec_file})."""')
    lines += ["", "    def __init__(self):", "        super().__init__()"]
    lines += [f"        {line}" for line in w.init]
    lines += ["", f"    def forward(self, {', '.join(params)}):"]
    lines += [f"        {line}" for line in w.fwd]
    ret = outs[0] if len(outs) == 1 else ", ".join(outs)
    lines.append(f"        return {ret}")
    lines += [
        "",
        "",
        "def build():",
        f'    """{cls} with the vars of VARS (the spec\'s, with --set applied)."""',
        f"    return {cls}()",
        "",
    ]
    return "\n".join(lines)
