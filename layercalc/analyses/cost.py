"""Compute and memory of a resolved network (pure: data in, data out).

Cost (``cost``): per layer MACs (SPEC.md section 7), FLOPs = 2 x MACs and the size of
the output activation; totals for parameters, buffers, the input, the activations a
training step keeps, and the inference peak. Memory accounting, exactly:

- every layer output is a new tensor of ``elements x dtype bytes`` (no views, no
  in-place operations: flatten, reshape, dropout and in-place ReLU are counted as copies,
  so the figures are upper bounds of what PyTorch allocates);
- parameters and buffers at the spec dtype (``num_batches_tracked`` is int64, 8 bytes);
- inference peak activations: layers run in order; a tensor (the input or a layer
  output) lives from its creation until its last consumer has run, the network outputs
  until the end; the peak is the largest sum of live tensors, taken while a layer's
  output is allocated and its inputs are still alive;
- a layer's intermediates (``saved``: attention's q, k and v and its probabilities,
  N·H·L·S, the L² term; a recurrent layer's gates and states at every time step) are
  alive while it runs, and a training step keeps them for the backward pass;
- a training step keeps, for the backward pass, the outputs of every layer autograd
  differentiates (one with trainable parameters, or reading a tensor that needs a
  gradient: ``requires_grad``) and the tensors trainable layers read (the input among
  them), so a frozen backbone keeps nothing before its first trainable layer;
  the backward pass adds the activation gradients, whose peak follows the same liveness
  rule in reverse (the gradient of a layer's output is created by its last consumer's
  backward and freed after its own; the input needs no gradient), and one gradient per
  trainable parameter. ``training_bytes`` = parameters + buffers + parameter gradients
  + kept activations + activation-gradient peak (of the differentiated tensors only)
  + optimizer state (``optimizer``: SGD none, momentum 1x, Adam and AdamW 2x the
  trainable parameter memory);
- ``batch``: MACs and every activation figure are linear in the batch (attention's
  L² term too: it grows with the length, not the batch), so they scale by N / B, B the
  batch of the spec input (:func:`batch_dim`: dim 0, or dim 1 of a sequence-first
  network); parameters, buffers and parameter gradients do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from math import prod  # C: shapes of ints, as arith.prod multiplies them, per layer

INT64_BYTES = 8
LEGEND = "MACs = multiply-accumulates; FLOPs = 2 × MACs; transposed conv counted on input positions"


# -- cost and memory ----------------------------------------------------------------------


@dataclass
class LayerCost:
    name: str
    type: str
    output: tuple
    macs: int
    flops: int
    activation_elements: int
    activation_bytes: int
    params: int
    call: int = 1  # another call of a shared module: 2, 3, ... (SPEC.md section 11)

    @property
    def shown_type(self) -> str:
        """The type as tables show it: another call of a module says which."""
        return self.type if self.call == 1 else f"{self.type} (call {self.call})"


@dataclass
class Cost:
    dtype: str
    dtype_bytes: int
    batch: int  # the batch the figures are for
    spec_batch: int  # the batch of the spec input (its dim batch_dim)
    layers: list
    totals: dict = field(default_factory=dict)
    batch_dim: int | None = 0  # None: the input is unbatched


def _batched(layer) -> bool | None:
    """Whether ``layer`` reads its input batched; None for a type that cannot tell (a
    linear or an activation takes any leading dims). Convs and pools take rank dims + 2
    batched, dims + 1 unbatched; recurrent, attention and transformer layers 3-D
    batched, 2-D unbatched."""
    if not layer.input_shapes:
        return None
    rank = len(layer.input_shapes[0])
    if "batch_first" in layer.args:
        return rank == 3
    w = layer.type.geometry(layer.args)
    return None if w is None else rank == w.dims + 2


def batch_dim(net) -> int | None:
    """The dim of the network input that holds the batch: 0, or 1 when the network is
    sequence-first, (L, N, ...) as PyTorch's recurrent, attention and transformer
    layers take by default; None when the input is unbatched. The first layer that
    tells batched from unbatched (:func:`_batched`) decides: unbatched, there is no
    batch; a sequence layer with batch_first false whose 3-D input begins with the
    network input's first two dims holds it at dim 1 (a CNN front that permutes its
    features into (W, N, C) keeps dim 0); a batched conv or pool tells nothing of
    where the network input's batch is (a sequence-first input permuted into one)."""
    first = net.input
    if not first:
        return 0
    for layer in net.layers:
        batched = _batched(layer)
        if batched is None:
            continue
        if not batched:
            return None
        if "batch_first" not in layer.args:
            continue  # a batched conv or pool: its dim 0 may be a permuted input's any dim
        if layer.args["batch_first"]:
            return 0
        return 1 if len(first) >= 2 and tuple(layer.input_shapes[0][:2]) == tuple(first[:2]) else 0
    return 0


def _scaler(batch: int | None, spec_batch: int):
    if not batch or batch == spec_batch:
        return lambda v: v
    f = Fraction(batch, spec_batch)

    def scale(v: int) -> int:
        x = v * f
        return int(x) if x.denominator == 1 else round(x)

    return scale


def _tensor_bytes(tensors, dtype_bytes: int, buffer: bool) -> int:
    return sum(
        t.numel * (INT64_BYTES if t.dtype == "int64" else dtype_bytes)
        for t in tensors
        if t.buffer == buffer
    )


def _produced(net) -> list:
    """Every layer's produced() (ref, shape) pairs, once for the passes that read them."""
    return [layer.produced() for layer in net.layers]


def _last_uses(net, produced: list) -> dict:
    """Network.last_uses, with a tensor no layer reads freed where it is made (an input
    that feeds nothing at once: -1)."""
    last = dict.fromkeys(net.spec.input_refs(), -1)
    for i, outs in enumerate(produced):
        for ref, _ in outs:
            last[ref] = i
    last.update(net.last_uses())
    return last


def integer_refs(net) -> set:
    """The tensors (refs) PyTorch holds as int64: those the builder found (an arange, an
    arange-filled buffer, what data movement makes of them alone: net.int_refs), and the
    indices an embedding reads with what data movement made them from (token ids)."""
    out: set = set(net.int_refs)
    todo = [r for layer in net.layers if layer.type.index_input for r in layer.inputs[:1]]
    producer = {}  # made only where an embedding reads something
    if todo:
        for layer in net.layers:
            for ref, _ in layer.produced():
                producer[ref] = layer
    while todo:  # back from the indices an embedding reads, through data movement
        ref = todo.pop()
        if ref in out:
            continue
        out.add(ref)
        layer = producer.get(ref)
        if layer is not None and layer.type.keeps_integers and not layer.tensors:
            todo += layer.inputs
    return out


def inference_peak(
    net, produced: list | None = None, saved: list | None = None, ints: set | None = None
) -> int:
    """Peak bytes of live activations (input included) during one forward pass
    (``produced``: _produced(net), ``saved``: each layer's type.saved(), ``ints``:
    integer_refs(net), when the caller has them); int64 tensors at 8 bytes."""
    size = net.dtype_bytes
    if ints is None:
        ints = integer_refs(net)
    if produced is None:
        produced = _produced(net)
    if saved is None:
        saved = [
            layer.type.saved(layer.args, layer.input_shapes, layer.output) for layer in net.layers
        ]
    last = _last_uses(net, produced)
    by_step: dict[int, list[str]] = {}
    for name, i in last.items():
        by_step.setdefault(i, []).append(name)
    nbytes = {
        ref: prod(shape) * (INT64_BYTES if ref in ints else size)
        for ref, shape in net.spec.input_refs().items()
    }
    live = sum(nbytes.values())
    peak = live
    for ref in nbytes:
        if last[ref] == -1:  # an input that feeds nothing
            live -= nbytes[ref]
    for i, (outs, extra) in enumerate(zip(produced, saved)):
        for ref, shape in outs:
            nbytes[ref] = prod(shape) * (INT64_BYTES if ref in ints else size)
            live += nbytes[ref]
        # attention's q, k, v and weights exist while the layer runs
        peak = max(peak, live + extra * size)
        for name in by_step.get(i, ()):
            live -= nbytes[name]
    return peak


def requires_grad(net, produced: list | None = None) -> set:
    """The refs of the tensors a training step differentiates, as autograd does: a
    layer's outputs require a gradient when it has trainable parameters or reads a
    tensor that does; the network inputs do not. Everything before the first trainable
    layer of a frozen backbone has no gradient and keeps nothing for the backward."""
    req: set = set()
    for layer, outs in zip(net.layers, produced or _produced(net)):
        if layer.trainable_params or not req.isdisjoint(layer.inputs):
            req.update([ref for ref, _ in outs])
    return req


def gradient_peak(net, req: set | None = None, produced: list | None = None) -> int:
    """Peak bytes of live activation gradients during the backward pass (of the tensors
    in ``req``, requires_grad's set, by default every layer output; ``produced``:
    _produced(net), when the caller has it)."""
    size = net.dtype_bytes
    if produced is None:
        produced = _produced(net)
    nbytes = {ref: prod(shape) * size for outs in produced for ref, shape in outs}
    inputs = net.spec.input_refs()
    if req is not None:
        inputs = {**inputs, **{r: None for r in nbytes if r not in req}}
    live_set = set(net.output_refs().values()) - set(inputs)
    live = sum(nbytes[n] for n in live_set)
    peak = live
    for layer, outs in zip(reversed(net.layers), reversed(produced)):
        for src in layer.inputs:
            if src not in inputs and src not in live_set:
                live_set.add(src)
                live += nbytes[src]
        peak = max(peak, live)
        for ref, _ in outs:
            if ref in live_set:
                live_set.discard(ref)
                live -= nbytes[ref]
    return peak


# optimizer state per trainable parameter, in parameter-sized copies (SGD with momentum
# keeps its velocity; Adam and AdamW the first and second moments)
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


def cost(net, batch: int | None = None, optimizer: str = "sgd") -> Cost:
    """Compute and memory of ``net``; ``batch`` rescales from the spec's batch (dim
    :func:`batch_dim` of its input); ``optimizer`` (OPTIMIZER_STATE) adds its state to
    the training step."""
    size = net.dtype_bytes
    bdim = batch_dim(net)
    spec_batch = net.input[bdim] if net.input and bdim is not None else 1
    scale = _scaler(batch, spec_batch)
    produced = _produced(net)
    # kept for the backward: what every differentiated layer saved (its outputs and
    # intermediates), and the input when a trainable layer reads it
    req = requires_grad(net, produced)
    refs = net.spec.input_refs()
    read = {src for layer in net.layers if layer.trainable_params for src in layer.inputs}
    # one pass for the per-layer figures and their sums (100,000 layers: each pass
    # over them costs); a layer's saved intermediates also feed inference_peak
    layers = []
    saved = []
    params = trainable = buffers = macs_sum = activation_elements = activation_bytes = kept = 0
    ints = integer_refs(net)  # int64 tensors: 8 bytes an element whatever the dtype
    param_bytes = buffer_bytes = 0
    counted: dict = {}  # layers of one record share their tensor list: counted once each
    for layer, outs in zip(net.layers, produced):
        # its outputs, and what its backward needs beyond them (attention's q, k, v and
        # probabilities: the L² term; every time step of a recurrent layer)
        extra = layer.type.saved(layer.args, layer.input_shapes, layer.output)
        saved.append(extra)
        elements = scale(sum(prod(s) for _, s in outs) + extra)
        whole = scale(sum(prod(s) for r, s in outs if r in ints)) if ints else 0
        macs = scale(layer.macs)
        x = LayerCost(
            layer.name,
            layer.type.name,
            tuple(layer.output),
            macs,
            2 * macs,
            elements,
            (elements - whole) * size + whole * INT64_BYTES,
            layer.params,
            call=layer.call,
        )
        layers.append(x)
        params += layer.params
        trainable += layer.trainable_params
        buffers += layer.buffers
        macs_sum += macs
        activation_elements += elements
        activation_bytes += x.activation_bytes
        both = counted.get(id(layer.tensors))
        if both is None:
            both = counted[id(layer.tensors)] = (
                _tensor_bytes(layer.tensors, size, False),
                _tensor_bytes(layer.tensors, size, True),
            )
        param_bytes += both[0]
        buffer_bytes += both[1]
        if outs[0][0] in req:  # its outputs and intermediates
            kept += x.activation_bytes
        else:  # a frozen layer's outputs, where a trainable layer reads them
            kept += sum(
                scale(prod(shape)) * (INT64_BYTES if ref in ints else size)
                for ref, shape in outs
                if ref in read
            )
    input_elements = scale(sum(prod(s) for s in net.spec.input_refs().values()))
    input_bytes = sum(
        scale(prod(s)) * (INT64_BYTES if r in ints else size) for r, s in refs.items()
    )
    kept += sum(
        scale(prod(shape)) * (INT64_BYTES if ref in ints else size)
        for ref, shape in refs.items()
        if ref in read
    )
    grad_peak = scale(gradient_peak(net, req, produced))
    state = OPTIMIZER_STATE[optimizer] * trainable * size
    peak = scale(inference_peak(net, produced, saved, ints))
    totals = {
        "macs": macs_sum,
        "flops": 2 * macs_sum,
        "params": params,
        "trainable": trainable,
        "buffers": buffers,
        "param_bytes": param_bytes,
        "buffer_bytes": buffer_bytes,
        "gradient_bytes": trainable * size,
        "input_elements": input_elements,
        "input_bytes": input_bytes,
        "activation_elements": activation_elements,
        "activation_bytes": activation_bytes,
        "training_activation_bytes": kept,
        "activation_gradient_peak_bytes": grad_peak,
        "optimizer": optimizer,
        "optimizer_state_bytes": state,
        "training_bytes": param_bytes + buffer_bytes + trainable * size + kept + grad_peak + state,
        "inference_peak_activation_bytes": peak,
        "inference_bytes": param_bytes + buffer_bytes + peak,
    }
    return Cost(net.spec.dtype, size, batch or spec_batch, spec_batch, layers, totals, bdim)
