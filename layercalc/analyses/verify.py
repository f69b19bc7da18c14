"""`layercalc verify` core: run the network for real in NumPy and check every number.

Pure apart from ``save_npz``: seeded parameters and buffers shaped exactly as PyTorch
shapes them, a seeded input, an inference forward pass in layer order, and per layer a
comparison of the array produced with the calculated shape and of the arrays held with
the calculated parameter and buffer counts. The peak memory is estimated from the
shapes alone, before NumPy is imported, so an oversized run is refused, not killed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..arith import prod
from ..errors import Diagnostic
from ..machine import usable_cpus

DTYPES = {"float32": 4, "float64": 8}
DEFAULT_MAX_STEPS = 200_000  # Python-level steps (recurrent time steps): 4-12 s here
INDEX_BYTES = 8  # int64 indices for embedding inputs
NUMPY_SCRATCH = 256 * 2**10  # NumPy's own buffers during one layer (ufunc and reduction
#                              buffers of 8192 elements per operand), beside workspace()
# Outputs of at most SMALL_OUTPUT elements are checked for NaN and infinity together, a
# batch of at most BATCH_ELEMENTS elements and BATCH_ARRAYS outputs at a time (see
# _Finiteness: one reduction costs more than a small layer's forward); a batch is held
# past its outputs' last uses and copied into one array to be summed: FINITE_BATCH bytes
# per element size, and the batch list's objects
SMALL_OUTPUT = 4096
BATCH_ELEMENTS = 8192
BATCH_ARRAYS = 256
FINITE_BATCH = 2 * BATCH_ELEMENTS  # times the element size
BATCH_OBJECTS = 256 * BATCH_ARRAYS
# Python objects beside the array data, measured with tracemalloc and rounded up: each
# layer's check record (LayerCheck, its shape tuples: 16 bytes a dimension), each array
# kept for --save (ndarray object, state_dict key, dict slot; 4 bytes a key character),
# and each entry np.savez adds to its zipfile (ZipInfo, kept until the archive closes).
LAYER_OVERHEAD = 384
ARRAY_OVERHEAD = 384
ZIP_ENTRY = 512
# numpy.lib.format.write_array (NumPy 1.24 to 2.x) writes to a zipfile member, which is
# not a real file, in chunks of max(16 MiB // itemsize, 1) elements, each copied by
# chunk.tobytes(); nditer may also buffer a chunk of an array that is neither C- nor
# F-contiguous. So saving needs up to twice the smaller of 16 MiB and the largest array.
SAVE_CHUNK = 16 * 2**20


@dataclass(slots=True)
class LayerCheck:
    """The outcome of one layer: calculated numbers beside the ones the arrays hold."""

    name: str
    type: str
    expected: tuple
    actual: tuple | None = None
    params: int = 0
    params_actual: int | None = None
    buffers: int = 0
    buffers_actual: int | None = None
    error: str | None = None
    seconds: float = 0.0
    call: int = 1  # another call of a shared module: 2, 3, ... (SPEC.md section 11)

    @property
    def shown_type(self) -> str:
        """The type as tables show it: another call of a module says which."""
        return self.type if self.call == 1 else f"{self.type} (call {self.call})"

    @property
    def ran(self) -> bool:
        return self.actual is not None

    @property
    def shape_ok(self) -> bool:
        return self.actual is not None and tuple(self.actual) == tuple(self.expected)

    @property
    def counts_ok(self) -> bool:
        return self.params_actual == self.params and self.buffers_actual == self.buffers

    @property
    def ok(self) -> bool:  # shape_ok and counts_ok, inlined: tables ask it per row often
        return (
            self.error is None
            and self.actual is not None
            and tuple(self.actual) == tuple(self.expected)
            and self.params_actual == self.params
            and self.buffers_actual == self.buffers
        )

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "ok": self.ok,
            "expected": list(self.expected),
            "actual": None if self.actual is None else list(self.actual),
            "params": self.params,
            "params_actual": self.params_actual,
            "buffers": self.buffers,
            "buffers_actual": self.buffers_actual,
            "error": self.error,
            "seconds": round(self.seconds, 6),
            **({"call": self.call} if self.call != 1 else {}),
        }


@dataclass
class Verification:
    file: str
    name: str
    dtype: str
    seed: int
    estimate: int  # bytes, the peak-memory estimate
    checks: list = field(default_factory=list)
    seconds: float = 0.0
    arrays: dict | None = None  # state_dict-keyed arrays, input and output(s) when saving
    nonfinite: tuple | None = None  # (layer index, what) of the first NaN/inf output
    given_weights: bool = False  # --weights: the checkpoint's tensors, not seeded ones
    given_input: bool = False  # --input-file: a real input, not a seeded one

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list:
        return [c for c in self.checks if not c.ok]

    def as_json(self) -> dict:
        return {
            "file": self.file,
            "name": self.name,
            "ok": self.ok,
            "dtype": self.dtype,
            "seed": self.seed,
            "weights": "given" if self.given_weights else "random",
            "input": "given" if self.given_input else "random",
            "memory_estimate": self.estimate,
            "seconds": round(self.seconds, 6),
            "layers": [c.as_json() for c in self.checks],
            "failed": len(self.failed),
        }


def _at(net, node, file, code: str, message: str, **kw) -> Diagnostic:
    """A diagnostic at ``node``'s line and column (line 1 without one), in ``file`` or
    the spec's own."""
    return Diagnostic(
        code,
        message,
        line=getattr(node, "line", 1),
        column=getattr(node, "col", 1),
        file=file or net.spec.file,
        **kw,
    )


# -- planning (no NumPy) -----------------------------------------------------------------


def _input_readers(net) -> list:
    """The layers that read a network input, in order (one cheap test a layer: 100,000
    layers may read one input)."""
    refs = set(net.spec.input_refs())
    return [layer for layer in net.layers if not refs.isdisjoint(layer.inputs)]


def _index_inputs(net) -> set:
    """The network inputs (refs) that hold integer indices: those feeding an embedding."""
    refs = net.spec.input_refs()
    return {
        r
        for layer in _input_readers(net)
        if layer.type.index_input
        for r in layer.inputs
        if r in refs
    }


def _last_uses(net, save: bool = False) -> dict:
    """Network.last_uses: the input kept to the end too when ``save`` keeps it for the
    file. :func:`run` drops each array right after its step (at once when it is absent)
    and :func:`estimate_memory` counts it live until then."""
    return net.last_uses(net.spec.input_refs() if save else ())


def integer_input_diagnostic(net, file: str | None = None) -> Diagnostic | None:
    """A located error at the first layer other than an embedding that reads the network
    input when that input holds integer indices (it feeds an embedding): PyTorch's
    layers (conv, linear, pools, softmax, norms, upsample, ...) refuse a Long tensor, and
    NumPy would silently promote it to int64 or float64, beyond the memory estimate."""
    index = _index_inputs(net)
    if not index:
        return None
    for layer in net.layers:
        if layer.type.index_input or not index.intersection(layer.inputs):
            continue
        ref = next(r for r in layer.inputs if r in index)
        feeds = next(
            layer for layer in net.layers if layer.type.index_input and ref in layer.inputs
        )
        node = layer.node
        return _at(
            net,
            node,
            file,
            "integer-input",
            f"layer '{layer.name}' ({layer.type.name}) reads the network "
            f"input, which holds integer indices (it feeds embedding '{feeds.name}'); "
            f"PyTorch's {layer.type.name} needs a floating-point tensor",
            hint=f"only embeddings take integer indices: feed '{layer.name}' from the "
            f"embedding's output (from: {feeds.name}) or from another layer; shape and "
            "params still answer",
        )
    return None


def estimate_memory(net, dtype: str = "float32", save: bool = False) -> int:
    """Upper estimate of the forward pass's peak bytes from shapes alone: the arrays
    alive at each step (their lifetimes from :func:`_last_uses`, as :func:`run` frees
    them), the layer's output and scratch space (its type's workspace(), an upper bound
    tested on hostile shapes by tests/test_hostile_memory.py, plus NUMPY_SCRATCH), the
    parameters (only the current layer's, unless they are all kept for --save), the
    per-layer records, and with ``save`` np.savez's write buffers and zip entries."""
    b = DTYPES[dtype]
    last = _last_uses(net, save)
    index = _index_inputs(net)
    sizes = {
        ref: prod(shape) * (INDEX_BYTES if ref in index else b)
        for ref, shape in net.spec.input_refs().items()
    }
    in_bytes = sum(sizes.values())
    frees = {}
    for src, i in last.items():
        frees.setdefault(i, []).append(src)
    peak = in_bytes  # made before the first layer, even when no layer reads them
    live = sum(n for ref, n in sizes.items() if ref in last)
    kept = records = 0
    shared = {layer.shares for layer in net.layers if layer.shares is not None}
    tied = {target for layer in net.layers for _, target, _ in layer.ties}
    largest = in_bytes  # the largest array saved
    batch = FINITE_BATCH * b + BATCH_OBJECTS  # _Finiteness's held outputs and their copy
    keys = [len(ref) for ref in sizes]  # the lengths of the saved keys: inputs, tensors
    # layers built from one entry share their records (type, args, shape and tensor
    # lists): what depends on those alone is worked out once per distinct record
    per_record = {}
    for i, layer in enumerate(net.layers):
        rec = (
            id(layer.type),
            id(layer.args),
            id(layer.input_shapes),
            id(layer.output),
            id(layer.named_outputs),
            id(layer.tensors),
        )
        got = per_record.get(rec)
        if got is None:
            outs = [prod(shape) * b for _, shape in layer.produced()]
            own_w = [t.numel * (8 if t.dtype == "int64" else b) for t in layer.tensors]
            scratch = layer.type.workspace(layer.args, layer.input_shapes, layer.output) * b
            got = per_record[rec] = (
                outs,
                sum(outs),
                own_w,
                sum(own_w),
                scratch,
                LAYER_OVERHEAD + 16 * len(layer.output),
            )
        outs, out_b, sizes_w, weights, scratch, record = got
        records += record
        if layer.shares is not None:
            weights = sum(
                t.numel * (8 if t.dtype == "int64" else b) for t in net.layers[layer.shares].tensors
            )
        peak = max(peak, live + out_b + scratch + weights + kept + records + NUMPY_SCRATCH + batch)
        if i in shared and not save:
            kept += weights  # held until its last call
        if tied and not save:  # tensors tied to later: held to the end
            kept += sum(t.numel * b for t in layer.tensors if layer.state_key(t.key) in tied)
        # the sizes of the arrays freed later (the only ones looked up)
        if layer.named_outputs is None:
            if layer.ref in last:
                live += outs[0]
                sizes[layer.ref] = outs[0]
        else:
            for (ref, _), n in zip(layer.produced(), outs):
                if ref in last:
                    live += n
                    sizes[ref] = n
        for src in frees.get(i, ()):
            live -= sizes[src]
        if save:
            layer_keys = [len(layer.state_key(t.key)) for t in layer.tensors]
            keys += layer_keys
            kept += weights + sum(ARRAY_OVERHEAD + 4 * n for n in layer_keys)
            largest = max([largest, *sizes_w])
    end = live + kept + records
    if save:
        outs = net.output_refs()
        for name, producer in outs.items():
            keys.append(len(name) + 7 if len(outs) > 1 else 6)
            largest = max(largest, sizes[producer])
        end += 2 * min(SAVE_CHUNK, largest) + sum(ZIP_ENTRY + 4 * n for n in keys)
    return max(peak, end)


def python_steps(net) -> tuple:
    """(the Python-level steps of the forward pass, the index of the layer with the
    most, or None): each layer type's python_steps, summed; a recurrent layer runs its
    time steps one at a time, about 20-60 us each whatever its size."""
    total, most, where = 0, 0, None
    for i, layer in enumerate(net.layers):
        n = layer.type.python_steps(layer.args)
        if n:
            total += n
            if n > most:
                most, where = n, i
    return total, where


def steps_diagnostic(net, steps: int, where: int, limit: int, file=None) -> Diagnostic:
    layer = net.layers[where]
    own = layer.type.python_steps(layer.args)
    return _at(
        net,
        layer.node,
        file,
        "step-limit",
        f"the verify forward pass runs {steps:,} recurrent time steps one at a time "
        f"(about {steps * 30e-6:,.0f} s), above the limit of {limit:,}"
        + (f"; {layer.type.name} '{layer.name}' runs {own:,} of them" if own < steps else ""),
        hint="verify a shorter sequence (--input or --set), or raise --max-steps",
    )


def memory_diagnostic(net, estimate: int, limit: int, file: str | None = None) -> Diagnostic:
    from ..units import human_bytes

    node = net.spec.input_node
    return _at(
        net,
        node,
        file,
        "memory-limit",
        f"the verify forward pass needs an estimated {human_bytes(estimate)} "
        f"({estimate:,} bytes) at its peak, above the limit of {human_bytes(limit)}",
        hint="verify a smaller input (--input, e.g. batch 1), or raise --max-memory",
    )


def numpy_max_rank() -> int:
    """The most dimensions a NumPy array may have: 64 since NumPy 2.0, 32 before."""
    import numpy as np

    return 64 if int(np.__version__.split(".")[0]) >= 2 else 32


def rank_diagnostic(net, file: str | None = None) -> Diagnostic | None:
    """A located error when the run would need an array with more dimensions than NumPy
    allows: the input (at ``input``), else the first layer whose output or parameter
    would. NumPy is imported only when some array has more than 32 dimensions."""
    inputs = net.spec.input_refs()
    if (
        max(
            [len(s) for s in inputs.values()]
            + [len(layer.output) for layer in net.layers]
            + [len(t.shape) for layer in net.layers for t in layer.tensors]
        )
        <= 32
    ):
        return None
    limit = numpy_max_rank()
    hint = f"shape and params still answer; verify runs arrays of at most {limit} dimensions"
    big = [(r, s) for r, s in inputs.items() if len(s) > limit]
    if big:
        ref, shape = big[0]
        node = net.spec.input_nodes.get(ref[len("input.") :], net.spec.input_node)
        what = "the input" if ref == "input" else f"input '{ref[len('input.') :]}'"
        return _at(
            net,
            node,
            file,
            "rank-limit",
            f"{what} has {len(shape)} dimensions, more than the "
            f"{limit} a NumPy array can have, so verify cannot run it",
            hint=hint,
        )
    for layer in net.layers:
        what = [(len(layer.output), "output")] + [
            (len(t.shape), f"{t.key} tensor") for t in layer.tensors
        ]
        rank, role = max(what, key=lambda x: x[0])
        if rank > limit:
            node = layer.node
            return _at(
                net,
                node,
                file,
                "rank-limit",
                f"layer '{layer.name}' ({layer.type.name}): its {role} has "
                f"{rank} dimensions, more than the {limit} a NumPy array can have, so "
                "verify cannot run it",
                hint=hint,
            )
    return None


# -- values --------------------------------------------------------------------------------


def _bounds(tensor, layer) -> tuple | None:
    """The range (lo, hi) of a float tensor's seeded uniform values, in ranges that keep
    activations sane; None for an int64 tensor (see :func:`_fill`)."""
    if tensor.dtype == "int64":
        return None
    key = tensor.key
    shape = tensor.shape
    if key == "running_var":
        return 0.5, 1.5  # positive, as variances are
    if key == "running_mean":
        return -0.2, 0.2
    if len(shape) >= 2 and layer.type.name != "embedding":
        fan_in = layer.type.fan_in(layer.args, key, tuple(shape))
        bound = (3.0 / fan_in) ** 0.5  # variance 1/fan_in
        return -bound, bound
    if key == "weight" and layer.type.family == "normalization":
        return 0.5, 1.5
    if key == "weight" and layer.type.name == "prelu":
        return 0.0, 0.5
    if tensor.is_bias:
        return -0.1, 0.1
    return -1.0, 1.0


def _fill(rng, np, dtype, tensor, layer):
    """Seeded values for one parameter or buffer, drawn on their own: a float tensor the
    next values of ``rng.random``, scaled to its :func:`_bounds`; an int64 tensor one
    ``rng.integers(0, 1000)``, or 0, 1, ... for ``init: arange``. :class:`_Fill` gives a
    run's tensors the same values, drawing small ones a chunk at a time."""
    shape = tuple(tensor.shape)
    bounds = _bounds(tensor, layer)
    if bounds is None:
        if layer.args.get("init") == "arange":  # a buffer of integer positions
            return np.arange(prod(shape), dtype=np.int64).reshape(shape)
        return np.asarray(rng.integers(0, 1000), dtype=np.int64).reshape(shape)
    lo, hi = bounds
    v = np.empty(shape, dtype)
    _uniform(rng, np, dtype, v.reshape(-1), dtype(hi - lo), dtype(lo))
    return v


SPLIT_PART = 1 << 19  # values: a tensor of at least two such parts is drawn by threads
MAX_THREADS = 8


def _uniform(rng, np, dtype, out, scale, lo) -> None:
    """Fill the flat array ``out`` with ``rng.random``'s next values times ``scale``
    plus ``lo``: exactly the values of one call, and ``rng`` left where that call leaves
    it. A large array is split into up to one part per usable CPU, each drawn and scaled
    by a thread of its own from a copy of the generator advanced to the part's start
    (NumPy releases the GIL while it fills an array). PCG64 makes a float64 value from
    one 64-bit word and a float32 value from half of one (the low half first, the high
    one kept for the next call): a float32 part starts on a whole word, after the half
    word a previous call may have left. tests/test_verify_fill.py holds the parts to
    one call's values and end state."""
    n = out.size
    bg = rng.bit_generator
    parts = min(usable_cpus(), MAX_THREADS, n // SPLIT_PART)
    if parts < 2 or not hasattr(bg, "advance"):
        rng.random(out=out, dtype=dtype)
        out *= scale
        out += lo
        return
    state = bg.state
    words = np.dtype(dtype).itemsize == 8  # one word per value, else half of one
    half = 0 if words else state["has_uint32"]  # a value from the word begun before
    starts, copies = [0], [rng]
    for j in range(1, parts):
        skip = (n * j // parts) if words else (n - half) * j // parts // 2  # whole words
        copy = type(bg)(0)
        copy.state = {**state, "has_uint32": 0, "uinteger": 0}
        copy.advance(skip)
        starts.append(skip if words else half + 2 * skip)
        copies.append(type(rng)(copy))
    starts.append(n)
    failed = []

    def draw(j):
        part = out[starts[j] : starts[j + 1]]
        try:
            copies[j].random(out=part, dtype=dtype)
            part *= scale
            part += lo
        except BaseException as exc:  # re-raised by the caller
            failed.append(exc)

    threads = [threading.Thread(target=draw, args=(j,)) for j in range(1, parts)]
    for t in threads:
        t.start()
    draw(0)
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    end = copies[-1].bit_generator.state
    if words:  # float64 draws leave the half word where it was
        end = {**end, "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}
    bg.state = end


DRAW_CHUNK = 4096  # elements: small tensors' uniform values are drawn this many at a time
#                    (at most 32 KiB beside the tensors, within NUMPY_SCRATCH)


class _Fill:
    """Seeded values for every parameter and buffer, tensor by tensor in layer order:
    those :func:`_fill` gives each in turn. The values of small tensors are drawn and
    scaled a chunk of several tensors at a time, each tensor a view of its chunk: the
    same numbers, since PCG64 makes float32 values from a buffered stream of 32-bit
    words (float64 ones from 64-bit words), so one call of n1 + n2 values yields exactly
    those of a call of n1 then one of n2 (tests/test_verify_fill.py checks it).
    An integer draw reads the 64-bit stream past that buffer, so no chunk spans one, and
    a large tensor is drawn alone. Scaling a chunk by its tensors' repeated factors
    makes the same float operations, element by element, as scaling each tensor."""

    def __init__(self, rng, np, dtype, net):
        self.rng, self.np, self.dtype = rng, np, dtype
        # the plan, in fill order: per tensor its size and bounds, None (drawn alone) for
        # an int64 tensor and for one :func:`run` keeps past its layer (a module called
        # again, a tensor tied to later), whose view would keep its whole chunk alive
        shared = {layer.shares for layer in net.layers if layer.shares is not None}
        tied = {target for layer in net.layers for _, target, _ in layer.ties}
        self.plan = plan = []
        # layers built from one entry share their tensor lists and args: each distinct
        # one's sizes and bounds are worked out once
        per_record = {}
        for i, layer in enumerate(net.layers):
            rec = (id(layer.type), id(layer.args), id(layer.tensors))
            entries = per_record.get(rec)
            if entries is None:
                entries = per_record[rec] = [
                    (prod(t.shape), _bounds(t, layer)) for t in layer.tensors
                ]
            if i in shared or tied:
                entries = [
                    (size, None)
                    if i in shared or (tied and layer.state_key(t.key) in tied)
                    else (size, bounds)
                    for t, (size, bounds) in zip(layer.tensors, entries)
                ]
            plan += entries
        # per entry, as arrays: the running total of the sizes before it, the next
        # entry at or after it drawn alone, and its scale and low bound in the run's
        # dtype (as dtype(hi - lo) and dtype(lo) round them), so that a chunk's bounds
        # are slices, not a loop over its tensors
        m = len(plan)
        sizes = np.fromiter((size for size, _ in plan), np.int64, m)
        self.starts = np.zeros(m + 1, np.int64)
        np.cumsum(sizes, out=self.starts[1:])
        self.sizes = sizes
        alone = [j for j, (size, bounds) in enumerate(plan) if bounds is None or size > DRAW_CHUNK]
        self.alone = np.array([*alone, m], np.int64)  # sorted, with m past the end
        self.scales = np.array([1.0 if b is None else b[1] - b[0] for _, b in plan], dtype)
        self.los = np.array([0.0 if b is None else b[0] for _, b in plan], dtype)
        self.next = 0  # the plan's entry of the next tensor asked for
        self.chunk, self.offset, self.end = None, 0, 0  # the current chunk, its next value

    def _draw(self, j: int):
        """The chunk from the plan's entry j on: small float tensors, DRAW_CHUNK values
        at most (j's own is one such, see __call__)."""
        np, starts = self.np, self.starts
        # up to the first entry that would pass DRAW_CHUNK or is drawn alone
        end = int(np.searchsorted(starts, starts[j] + DRAW_CHUNK, side="right")) - 1
        end = min(end, int(self.alone[np.searchsorted(self.alone, j)]))
        sizes = self.sizes[j:end]
        total = int(starts[end] - starts[j])
        v = self.rng.random(total, dtype=self.dtype)
        v *= np.repeat(self.scales[j:end], sizes)
        v += np.repeat(self.los[j:end], sizes)
        self.chunk, self.offset, self.end = v, 0, total

    def __call__(self, tensor, layer):
        i = self.next
        self.next += 1
        size, bounds = self.plan[i]
        if self.offset == self.end:  # no chunk pending (none ever spans what follows)
            if bounds is None or size > DRAW_CHUNK:  # drawn alone (see __init__)
                return _fill(self.rng, self.np, self.dtype, tensor, layer)
            self._draw(i)
        start = self.offset
        self.offset += size
        return self.chunk[start : self.offset].reshape(tuple(tensor.shape))


def _mask_inputs(net) -> dict:
    """The network inputs (refs) read as attention masks (a `from` role ending in "mask":
    key_padding_mask, attn_mask, src_mask, ...) -> the boolean value that lets a
    position take part (True for scaled_dot_product_attention, False for
    MultiheadAttention, whose True masks a key out)."""
    refs = net.spec.input_refs()
    out = {}
    for layer in _input_readers(net):
        for ref, role in zip(layer.inputs, layer.type.roles(layer.args)):
            if ref in refs and role.endswith("mask"):
                out.setdefault(ref, layer.type.mask_attend)
    return out


def _make_inputs(rng, np, dtype, net) -> dict:
    """Seeded arrays for the network inputs, by ref, in order: integer indices below
    every reading embedding's num_embeddings; boolean masks for attention (about a
    quarter of the positions masked, never the first key of a row, so no row is empty);
    else standard normal values."""
    out = {}
    masks = _mask_inputs(net)
    readers = _input_readers(net)
    for ref, shape in net.spec.input_refs().items():
        highs = [
            layer.args["num_embeddings"]
            for layer in readers
            if layer.type.index_input and ref in layer.inputs
        ]
        if ref in masks:
            attend = masks[ref]
            m = rng.random(tuple(shape)) < 0.25
            if attend:
                m = ~m
            if m.ndim:
                m[..., 0] = attend
            out[ref] = m
        else:
            out[ref] = (
                rng.integers(0, min(highs), size=tuple(shape), dtype=np.int64)
                if highs
                else rng.standard_normal(tuple(shape), dtype=dtype)
            )
    return out


def _given(np, np_dtype, tensor, arr):
    """A tensor's array from a weights file: int64 for counters, else the run's dtype
    (float16 and bfloat16 widened); of the calculated shape (compare checked it)."""
    arr = np.asarray(arr)
    want = np.int64 if tensor.dtype == "int64" else np_dtype
    return arr.astype(want, copy=arr.dtype != want).reshape(tuple(tensor.shape))


def _given_inputs(np, np_dtype, net, inputs: dict) -> dict:
    """The --input-file arrays by ref, in the spec's order: integer indices for an
    embedding's input, booleans kept for masks, else the run's dtype."""
    index = _index_inputs(net)
    out = {}
    for ref in net.spec.input_refs():
        arr = np.asarray(inputs[ref])
        if ref in index:
            arr = arr.astype(np.int64)
        elif arr.dtype != np.bool_:
            arr = arr.astype(np_dtype)
        out[ref] = arr
    return out


def _finite(np, y) -> bool:
    """True when ``y`` surely holds no NaN or infinity, from one reduction (a sum of
    them is never finite); False may also be a sum of finite values that overflows, so
    :func:`_nonfinite` decides then. Called where NumPy's floating-point errors are
    ignored (the overflow warns otherwise)."""
    if y.dtype.kind not in "fc":
        return True
    total = np.add.reduce(y, axis=None)
    return bool(total - total == 0)  # NaN for NaN and inf alike; cheaper than np.isfinite


class _Finiteness:
    """The first layer whose output holds NaN or infinity, as ``(layer index, what)``
    in ``found``, whatever order the outputs are checked in: small outputs are held
    (by reference) and summed together a batch at a time, a larger one checked at once
    after the batch before it. A batch whose sum is not finite is searched output by
    output, in layer order, exactly as :func:`_finite` then :func:`_nonfinite` would
    have been called on each, so ``found`` is the one the per-output check gives."""

    __slots__ = ("np", "dtype", "found", "held", "elements")

    def __init__(self, np, dtype):
        self.np = np
        self.dtype = dtype  # the run's: only outputs of it are held (FINITE_BATCH)
        self.found = None
        self.held: list = []  # (layer index, output), in layer order
        self.elements = 0

    def __call__(self, i: int, v) -> None:
        if self.found is not None or v.dtype.kind not in "fc":
            return
        size = v.size
        if size > SMALL_OUTPUT or v.dtype != self.dtype:
            self.flush()
            if self.found is None:
                self._check(i, v)
            return
        if self.elements + size > BATCH_ELEMENTS or len(self.held) == BATCH_ARRAYS:
            self.flush()
        self.held.append((i, v))
        self.elements += size

    def flush(self) -> None:
        held, self.held, self.elements = self.held, [], 0
        if self.found is not None or not held:
            return
        np = self.np
        if len(held) > 1:
            total = np.add.reduce(np.concatenate([v.reshape(-1) for _, v in held]))
            if total - total == 0:  # NaN for NaN and inf alike: every output finite
                return
        for i, v in held:
            if self._check(i, v):
                return

    def _check(self, i: int, v) -> bool:
        """One output on its own, as run checked each before batches: True (``found``
        set) when it holds NaN or infinity."""
        if _finite(self.np, v):
            return False
        what = _nonfinite(self.np, v)
        if what is not None:
            self.found = (i, what)
        return what is not None


def _nonfinite(np, y) -> str | None:
    """What is not finite in ``y`` ("is all NaN", "contains NaN", "contains infinite
    values"), or None. Reductions only, no array allocated: a minimum and a maximum,
    then, for a non-finite array, the NaN-skipping fmin/fmax."""
    if y.size == 0 or not np.issubdtype(y.dtype, np.inexact):
        return None
    with np.errstate(all="ignore"):
        lo, hi = np.minimum.reduce(y, axis=None), np.maximum.reduce(y, axis=None)
        if np.isfinite(lo) and np.isfinite(hi):
            return None
        if np.isnan(lo) or np.isnan(hi):
            return "is all NaN" if np.isnan(np.fmax.reduce(y, axis=None)) else "contains NaN"
    return "contains infinite values"


def nonfinite_diagnostic(net, v, file: str | None = None) -> Diagnostic | None:
    """A warning at the first layer whose output held NaN or infinity, or None."""
    if v.nonfinite is None:
        return None
    i, what = v.nonfinite
    layer = net.layers[i]
    node = layer.node
    return _at(
        net,
        node,
        file,
        "non-finite",
        f"layer '{layer.name}' ({layer.type.name}) is the first whose output "
        f"is not finite: it {what}",
        severity="warning",
        hint="the shapes and counts are still checked, but the values from here on mean "
        "nothing; check the constants and scales reaching this layer, or try --dtype float64",
    )


# -- the run ---------------------------------------------------------------------------------


def run(
    net,
    seed: int = 0,
    dtype: str = "float32",
    save: bool = False,
    progress=None,
    estimate: int | None = None,
    file: str | None = None,
    weights: dict | None = None,
    inputs: dict | None = None,
) -> Verification:
    """Run ``net`` forward in NumPy and check every layer. ``progress(i, n, name)`` is
    called before layer i. With ``save`` the result keeps every array for save_npz.
    ``weights`` (state_dict key -> array, every tensor of the network, checked first
    by layercalc.weights.compare) replaces the seeded parameters and buffers, and
    ``inputs`` (ref -> array, of the spec's shapes) the seeded input; floating-point
    arrays are converted to ``dtype``."""
    import numpy as np

    t0 = time.perf_counter()
    np_dtype = np.dtype(dtype).type
    rng = np.random.default_rng(seed)
    res = Verification(
        file or net.spec.file,
        net.name,
        dtype,
        seed,
        estimate if estimate is not None else estimate_memory(net, dtype, save),
        given_weights=weights is not None,
        given_input=inputs is not None,
    )
    last = _last_uses(net, save)  # the lifetimes estimate_memory counted
    values = (
        _make_inputs(rng, np, np_dtype, net)
        if inputs is None
        else _given_inputs(np, np_dtype, net, inputs)
    )
    arrays = dict(values) if save else None  # "input", or "input.NAME" for each
    for ref in list(values):
        if ref not in last:  # no layer reads it and it is not saved
            values.pop(ref)
    n = len(net.layers)
    failed = None
    shared = {layer.shares for layer in net.layers if layer.shares is not None}
    kept_w = {}  # the arrays of modules called again later (`share:`)
    tied = {target for layer in net.layers for _, target, _ in layer.ties}
    kept_t = {}  # state_dict key -> the array of a tensor tied to later (`tie:`)
    keyed = save or bool(tied)  # arrays filed under their state_dict keys
    fill = _Fill(rng, np, np_dtype, net) if weights is None else None
    want = np.dtype(dtype)
    ndarray = np.ndarray
    finiteness = _Finiteness(np, want)  # NaN and infinity: the first layer holding them
    # NaN and inf are reported once, by _nonfinite: one context for the whole run, not
    # one per layer (entering one costs more than a small layer's forward)
    with np.errstate(all="ignore"):
        for i, layer in enumerate(net.layers):
            check = LayerCheck(
                layer.name,
                layer.type.name,
                tuple(layer.output),
                params=layer.params,
                buffers=layer.buffers,
                call=layer.call,
            )
            res.checks.append(check)
            if failed is not None:
                check.error = f"not run: {failed} failed"
                continue
            if progress is not None:
                progress(i, n, layer.name)
            t = time.perf_counter()
            w, xs, ys = {}, None, ()
            held_params = held_buffers = 0
            for tensor in layer.tensors:
                if fill is not None:
                    arr = fill(tensor, layer)
                else:
                    arr = _given(np, np_dtype, tensor, weights[layer.state_key(tensor.key)])
                w[tensor.key] = arr
                if tensor.buffer:
                    held_buffers += arr.size
                else:
                    held_params += arr.size
                if keyed:  # the state_dict key, made only where something files it
                    key = layer.state_key(tensor.key)
                    if save:
                        arrays[key] = arr
                    if key in tied:
                        kept_t[key] = arr
            for key, target, _ in layer.ties:  # the same array, under both keys
                w[key] = kept_t[target]
                if save:
                    arrays[layer.state_key(key)] = kept_t[target]
            check.params_actual, check.buffers_actual = held_params, held_buffers
            if i in shared:
                kept_w[i] = w
            if layer.shares is not None:  # the same module again: its parameters
                w = kept_w[layer.shares]
            # layer.produced(), without making the list for a layer of one output
            produced = (
                ((layer.ref, layer.output),) if layer.named_outputs is None else layer.produced()
            )
            try:
                xs = [values[src] for src in layer.inputs]
                y = layer.type.forward(layer.args, xs, w)
                ys = list(y) if layer.named_outputs is not None else [y]
                if len(ys) != len(produced):
                    raise ValueError(f"the forward made {len(ys)} outputs, not {len(produced)}")
                for k, v in enumerate(ys):
                    if type(v) is not ndarray:
                        v = np.asarray(v)
                    if v.dtype.kind == "f" and v.dtype != want:  # a floating type not the run's
                        v = v.astype(np_dtype)
                    ys[k] = v
                    if k and tuple(v.shape) != tuple(produced[k][1]):
                        check.error = (
                            f"output {layer.named_outputs[k][0]} is {list(v.shape)}, "
                            f"calculated {list(produced[k][1])}"
                        )
                    finiteness(i, v)
                y = ys[0]
                check.actual = tuple(y.shape)
            except Exception as exc:  # noqa: BLE001 - a forward that fails is a failed check
                check.error = f"{type(exc).__name__}: {exc}"
                failed = layer.name
                y = None
            check.seconds = time.perf_counter() - t
            del xs, w
            if y is not None:
                for (ref, _), v in zip(produced, ys):
                    if ref in last:
                        values[ref] = v
            del y, ys
            for src in layer.inputs:  # one read twice is popped once: pop's default
                if last.get(src) == i:
                    values.pop(src, None)
        finiteness.flush()
    res.nonfinite = finiteness.found
    if save and failed is None:
        outs = net.output_refs()
        if len(outs) == 1:
            arrays["output"] = values[next(iter(outs.values()))]
        else:
            for name, producer in outs.items():
                arrays[f"output.{name}"] = values[producer]
    res.arrays = arrays
    res.seconds = time.perf_counter() - t0
    return res


def save_npz(path: str, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` (.npz) all or nothing, through
    :func:`layercalc.outfile.write_atomic` (symbolic links followed, only regular files
    replaced, mode kept, no temporary file left); raises ``OutputError``."""
    import numpy as np

    from ..outfile import write_atomic

    write_atomic(path, lambda fh: np.savez(fh, **arrays), suffix=".npz")
