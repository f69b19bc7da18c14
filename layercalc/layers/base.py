"""The layer registry's building blocks: argument schemas and the LayerType base.

A LayerType holds everything about one PyTorch layer: its arguments with PyTorch's
defaults, its shape rule, the parameter and buffer tensors it creates (state_dict
names and shapes), its multiply-accumulate count, its sampling window (for receptive
fields) and its NumPy forward pass. Rules raise :class:`LayerError` naming the
argument at fault; the graph builder attaches the YAML position.
"""

from __future__ import annotations

from collections import namedtuple

from ..arith import prod
from ..errors import LayerError

REQUIRED = object()  # sentinel: the argument has no default

# How the NumPy forward passes (npops) trade memory for speed; the workspace estimates
# read the same numbers, so verify's memory estimate stays an upper bound:
IM2COL_ELEMENTS = 16 * 2**20  # the largest im2col copy a conv makes at once (64 MiB f32)
LOOP_TAPS = 64  # pools and depthwise convs with at most this many taps loop over the
#                 kernel offsets; larger kernels take one strided reduction or im2col
NORM_BLOCK = 2**18  # layer_norm scales and shifts a block of this many elements at a time
INDEX_ELEMENTS = 32  # scratch per position of a resized axis (adaptive pools, upsample):
#                      its int64/float64 index and weight arrays, in float32 elements

# Argument kinds (values are evaluated by layercalc.values):
#   int      an integer (whole floats accepted), bounded below by Arg.min
#   float    a number
#   bool     true/false
#   size     an int, or a list with one int per spatial dim
#   padding  a size, or one of Arg.words ("same", "valid")
#   choice   one of Arg.words
#   ints     a list of ints (or a single int)
#   opt_ints an int, null, or a list of ints/nulls (adaptive output_size)
#   scale    a number or a list of numbers (upsample scale_factor)
#   shape    a list of ints, -1 allowed once (reshape)
#   layer    a module-valued argument (SPEC.md 11-12: encoder_layer, norm, activation)
KINDS = (
    "int",
    "float",
    "bool",
    "size",
    "padding",
    "choice",
    "ints",
    "opt_ints",
    "scale",
    "shape",
    "layer",
)


class Arg(
    namedtuple(
        "Arg", "name kind default min words doc nullable", defaults=(REQUIRED, None, (), "", False)
    )
):
    """One argument: its kind (above), PyTorch's default (REQUIRED: none), lower bound,
    accepted words, doc, and whether None is accepted besides the default."""

    __slots__ = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class Tensor(
    namedtuple("Tensor", "key shape buffer dtype is_bias", defaults=(False, "float", False))
):
    """A parameter or buffer as PyTorch creates it: state_dict suffix and shape; dtype
    "float" follows the spec's dtype, "int64" is for counters. ``is_bias``: the layer
    type declares it a bias (an additive offset: bias, bias_ih_l0, in_proj_bias,
    bias_k, ...), which the weight/bias split of the totals counts; nothing guesses
    it from the key."""

    __slots__ = ()

    @property
    def numel(self) -> int:
        return prod(self.shape)


class Window(
    namedtuple(
        "Window",
        "kernel stride padding dilation output_padding ceil_mode transposed",
        defaults=(False, False),
    )
):
    """A sliding window's geometry (conv, transposed conv, pool), one entry per spatial
    dim, as PyTorch applies it: ``kernel``, ``stride``, ``padding`` as (left, right)
    pairs (unequal only for a conv's padding='same' with an even span), ``dilation``,
    ``output_padding`` (a transposed conv's; zeros otherwise), ``ceil_mode`` (a pool's
    rounding) and ``transposed`` (a transposed conv: the window maps an input position
    to ``kernel`` output positions rather than gathering them)."""

    __slots__ = ()

    @property
    def dims(self) -> int:
        """The number of spatial dims the window slides over."""
        return len(self.kernel)

    @property
    def lefts(self) -> tuple:
        """The padding before each spatial dim."""
        return tuple(p[0] for p in self.padding)

    @property
    def rights(self) -> tuple:
        """The padding after each spatial dim."""
        return tuple(p[1] for p in self.padding)


class Member(namedtuple("Member", "name type args inputs blame", defaults=(None,))):
    """One row of a composite module (SPEC.md section 12): ``name`` relative to the module
    ("" for the module's own row, e.g. MultiheadAttention's in-projection), ``type`` a
    registry name, a LayerType or a module-valued argument (a LayerValue), ``args`` its
    evaluated arguments, ``inputs`` the module's inputs by position (ints) or earlier
    members by name ("out_proj", "self_attn.attn_weights"); ``blame`` the module
    argument an error of this row is located at."""

    __slots__ = ()


class LayerType:
    """Base of every layer type. Subclasses set ``name`` and ``args`` and override rules."""

    name: str = ""
    aliases: tuple = ()
    args: tuple = ()
    family: str = "other"
    doc: str = ""
    merge: bool = False  # takes several inputs through `from`
    takes_input: bool = True  # False: an entry with no input (a free parameter)
    index_input: bool = False  # True: its input holds integer indices (a network input)
    inferred: tuple = ()  # arguments the input fixes (in_channels, ...), checked when given
    # inputs by keyword (`from: {query: q, key_padding_mask: m}`): the names in forward's
    # order, "NAME?" for those only a mapping names; the builder stores ``a["_roles"]``
    input_roles: tuple = ()
    composite: bool = False  # a module with submodules: rows from ``members``
    # What the analyses (explain, lint, receptive fields, verify) may know of a type,
    # declared here so none of them tests for a class; every flag is False by default:
    #   linear_map   its output is a learned linear map of its input (``weight``) plus
    #                an optional bias along the channel/feature dim (``bias`` argument):
    #                conv, transposed conv, linear. explain compares it with a dense
    #                layer; lint looks at its bias. Convolutions also have a ``geometry``
    #   dense        every input feature reaches every output feature along the last
    #                dim (``in_features`` -> ``out_features``): linear
    #   cancels_channel_bias  it subtracts each channel's mean (batch and instance
    #                norms), so a per-channel bias right before it has no effect
    #   dropout_between_layers  its ``dropout`` argument acts only between its
    #                ``num_layers`` stacked layers (RNN, LSTM, GRU; not the cells)
    #   mask_attend  (True by default) a boolean mask input is True where a position
    #                takes part (scaled_dot_product_attention); False: True masks it out
    #                (MultiheadAttention)
    linear_map: bool = False
    dense: bool = False
    cancels_channel_bias: bool = False
    dropout_between_layers: bool = False
    mask_attend: bool = True

    def __init__(self):
        self.arg_map = {a.name: a for a in self.args}
        self.defaults = {a.name: a.default for a in self.args if not a.required}
        self.required_args = tuple(a for a in self.args if a.required)

    # -- shape ---------------------------------------------------------------------
    def pick(self, shapes: list[tuple]) -> "LayerType":
        """The concrete type for these inputs (rank-picked generic names override)."""
        return self

    def infer(self, a: dict, shapes: list[tuple]) -> tuple:
        """Output shape for input ``shapes``; may add normalised values to ``a``."""
        return shapes[0]

    def outputs(self, a: dict, shapes: list[tuple], out: tuple) -> tuple | None:
        """A type with several outputs (SPEC.md sections 11-12: ``chunk.1``, ``lstm.h_n``):
        ((name, shape), ...) with the first the entry's own output ``out``, in the order
        ``forward`` returns them; None (the default) for one output."""
        return None

    def integer(self, a: dict) -> bool:
        """Its output holds integers (arange, an arange-filled buffer): an embedding may
        read it."""
        return False

    def int_range(self, a: dict) -> tuple | None:
        """(least, greatest) of the integers its output holds where the spec fixes them
        (an arange's), else None."""
        return None

    def index_bound(self, a: dict) -> int | None:
        """For a type reading indices (``index_input``): the indices it accepts are
        0 ... this - 1 (an embedding's num_embeddings); None: unbounded."""
        return None

    def members(self, a: dict, shapes: list[tuple]) -> list:
        """A composite's rows in forward order (:class:`Member`), after ``infer`` checked
        and completed ``a``."""
        return []

    def results(self, a: dict) -> list:
        """A composite's outputs: [(name, member ref), ...], the first its own value."""
        return []

    def saved(self, a: dict, shapes: list[tuple], out: tuple) -> int:
        """Elements a training step keeps for the backward pass beyond the outputs (the
        attention probabilities, every time step's gates); 0 by default."""
        return 0

    # -- cost ----------------------------------------------------------------------
    def tensors(self, a: dict, shapes: list[tuple], out: tuple) -> list[Tensor]:
        return []

    def macs(self, a: dict, shapes: list[tuple], out: tuple) -> int:
        return 0

    def roles(self, a: dict) -> tuple:
        """The roles of its inputs by position (``input_roles`` as the builder matched
        them to ``from``: "query", "key_padding_mask", ...); () for a type without."""
        return a.get("_roles", ())

    # -- insight -------------------------------------------------------------------
    def attention_call(self, a: dict, shapes: list, macs: int) -> tuple | None:
        """An attention core's figures for generation cost (analyses/generation.Call,
        after its name): (keys attended, key rows of K and V, queries, K + V elements per
        key row, Q·Kᵀ + A·V MACs, K/V projection MACs, causal, K + V per token as text);
        None (the default) for a type that attends nothing."""
        return None

    def geometry(self, a: dict) -> Window | None:
        """The sliding window (:class:`Window`) of a conv, transposed conv or pool, from
        the arguments ``infer`` normalised; None (the default) for every other type."""
        return None

    # an integer (int64) input makes an integer output, as PyTorch keeps the dtype: data
    # movement (permute, reshape, slice, chunk...), concatenation and padding
    keeps_integers = False
    # whether window() tells the channels (dim 1) from the spatial dims (2...) by the dim
    # it acts on, as in a batched (N, C, *spatial) input: receptive fields of an
    # unbatched network leave such a layer undefined
    batched_window = False

    def window(self, a: dict, shapes: list[tuple], out: tuple):
        """Per spatial dim (kernel, stride, left padding, dilation) for receptive fields,
        () for layers that keep positions (activations, norms), None when undefined."""
        return ()

    def summary(self, a: dict) -> str:
        """The arguments worth a table column, as text."""
        return ""

    def explain_shape(self, a: dict, shapes: list[tuple], out: tuple) -> list[str] | None:
        """Lines saying how the output shape follows from the inputs, for ``layercalc
        explain``; None: explain's generic wording (merged, rearranged, unchanged)."""
        return None

    def explain_params(self, a: dict, shapes: list[tuple], out: tuple) -> list[str] | None:
        """Lines giving the parameter arithmetic, for ``layercalc explain``, in place of
        its generic tensor-by-tensor sum; None (the default): that sum."""
        return None

    def workspace(self, a: dict, shapes: list[tuple], out: tuple) -> int:
        """Elements of scratch arrays the NumPy forward allocates beside its output (an
        upper estimate, used to refuse verify runs that would not fit in memory)."""
        return prod(out)

    def python_steps(self, a: dict) -> int:
        """Iterations of a Python loop the NumPy forward makes (verify's --max-steps
        bounds their sum, since they cost time that MACs do not show): 0, vectorised."""
        return 0

    def fan_in(self, a: dict, key: str, shape: tuple) -> int:
        """The inputs each output of tensor ``key`` (of ``shape``) sums over, which scales
        verify's seeded weights to variance 1/fan_in: PyTorch's convention, every dim
        after the first (a weight stored in by out says otherwise)."""
        return prod(shape[1:]) or 1

    def forward(self, a: dict, xs: list, w: dict):  # pragma: no cover - overridden
        """The layer's inference forward pass in NumPy: ``a`` the evaluated arguments
        (with the normalised values ``infer`` stored), ``xs`` the input arrays, ``w``
        the parameter and buffer arrays by state_dict suffix. NumPy is imported inside."""
        raise NotImplementedError(f"{self.name} has no NumPy forward yet")


class RankPicked(LayerType):
    """A name without a dimension (``conv``, ``batch_norm``): picks by input rank."""

    def __init__(self, name: str, variants: dict, rank_to_dims, family: str, doc: str):
        self.name = name
        self.variants = variants  # dims -> LayerType
        self.rank_to_dims = rank_to_dims
        self.family = family
        self.doc = doc
        first = next(iter(variants.values()))
        self.args = first.args
        self.inferred = first.inferred
        super().__init__()

    def pick(self, shapes):
        rank = len(shapes[0])
        dims = self.rank_to_dims(rank)
        if dims not in self.variants:
            ok = ", ".join(f"{d + 2}-d" for d in self.variants)
            raise LayerError(
                f"{self.name} picks its variant from the input rank, and a "
                f"{rank}-d input {list(shapes[0])} fits none ({ok} inputs)",
                code="bad-rank",
            )
        return self.variants[dims]


# -- helpers shared by the layer families ----------------------------------------------


def per_dim(a: dict, key: str, dims: int) -> tuple:
    """An int-or-list argument as a tuple with one entry per spatial dim."""
    v = a[key]
    if isinstance(v, (list, tuple)):
        if len(v) == 1 and dims != 1:
            return tuple(v) * dims
        if len(v) != dims:
            raise LayerError(
                f"{key} has {len(v)} entries but this layer has {dims} spatial "
                f"dim{'s' if dims != 1 else ''}",
                arg=key,
            )
        return tuple(v)
    return (v,) * dims


def spatial_input(layer: LayerType, shape: tuple, dims: int, what="(N, C, *spatial)"):
    """Split an input of rank dims+2 (batched) or dims+1 (unbatched) into
    (batch, channels, spatial); PyTorch accepts both for conv and pool layers."""
    if len(shape) == dims + 2:
        return shape[0], shape[1], tuple(shape[2:])
    if len(shape) == dims + 1:
        return None, shape[0], tuple(shape[1:])
    raise LayerError(
        f"{layer.name} needs a {dims + 2}-d input {what} (or {dims + 1}-d "
        f"unbatched), got {len(shape)}-d {list(shape)}",
        code="bad-rank",
    )


def rebuild(batch, channels, spatial) -> tuple:
    lead = () if batch is None else (batch,)
    return lead + (channels,) + tuple(spatial)


def check_inferred(a: dict, key: str, actual: int, what: str):
    """An argument the input fixes: fill it in, or check the given value agrees."""
    given = a.get(key)
    if given is None:
        a[key] = actual
    elif given != actual:
        raise LayerError(
            f"{key} is {given} but the input has {actual} {what}",
            arg=key,
            code="shape-mismatch",
            hint=f"set {key}: {actual}, or remove it (layercalc infers it)",
        )


def resize_order(sizes, out) -> list:
    """The spatial axes that change size, in the order the forwards resize them one at a
    time (adaptive pools, upsample): shrinking axes first, then growing ones, so no
    intermediate array is larger than both the input and the output.

    >>> resize_order((1, 3000), (3000, 1)), resize_order((4, 4), (8, 8))
    ([1, 0], [0, 1])
    """
    changed = [i for i, (n, o) in enumerate(zip(sizes, out)) if n != o]
    return [i for i in changed if out[i] < sizes[i]] + [i for i in changed if out[i] > sizes[i]]


def resize_workspace(shape, out, temps: int) -> int:
    """Scratch elements, beyond the output, of resizing the trailing len(out) axes of
    ``shape`` to ``out`` one at a time (:func:`resize_order`): each step holds the
    previous intermediate, its result and ``temps - 1`` result-sized temporaries, plus
    the step's index arrays (INDEX_ELEMENTS per output position)."""
    cur = list(shape)
    lead = len(shape) - len(out)
    prev, peak = 0, 0
    for i in resize_order(shape[lead:], out):
        cur[lead + i] = out[i]
        size = prod(cur)
        peak = max(peak, prev + temps * size + INDEX_ELEMENTS * out[i])
        prev = size
    return max(0, peak - prod(cur))


# the spatial dims' names, by how many there are (explanations, diagnostics)
DIM_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def dim_names(n_dims: int) -> tuple:
    """("height", "width") for 2 spatial dims; "dim i" beyond 3."""
    return DIM_NAMES.get(n_dims, tuple(f"dim {i}" for i in range(n_dims)))


def fmt_dims(values: tuple) -> str:
    """(3, 3) -> '3', (3, 1) -> '3x1' for compact summaries."""
    if len(set(values)) == 1:
        return str(values[0])
    return "x".join(str(v) for v in values)


MAX_FOUND = 4096  # spellings of type names Registry.get remembers


class Registry:
    def __init__(self):
        self.types: dict = {}  # normalised name -> LayerType
        self.canonical: dict = {}  # canonical name -> LayerType
        # a name as written -> its type: the builder looks each layer's type up a few
        # times, and 100,000 layers write a handful of spellings
        self._found: dict = {}

    @staticmethod
    def normalize(name: str) -> str:
        return str(name).lower().replace("_", "")

    def add(self, lt: LayerType, *extra_names: str):
        self.canonical[lt.name] = lt
        for n in (lt.name, *lt.aliases, *extra_names):
            key = self.normalize(n)
            if key in self.types and self.types[key] is not lt:
                raise RuntimeError(f"layer name clash: {n}")
            self.types[key] = lt
        self._found.clear()
        return lt

    def get(self, name: str):
        try:
            return self._found[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name, looked up as text
            pass
        lt = self.types.get(self.normalize(name))
        if lt is not None and isinstance(name, str) and len(self._found) < MAX_FOUND:
            self._found[name] = lt
        return lt
