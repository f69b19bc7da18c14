"""`layercalc cost`, `layercalc rf`, `layercalc explain` and `layercalc solve`.

Each command parses its options and runs its analysis; layercalc.views makes the table
and layercalc.render the text, in every format of layercalc.render.RENDERERS."""

from __future__ import annotations

import click

from ..render import FORMATS
from .common import Digits, click_option, emit, spec_options
from .options import DEPTH, WIDTH
from .run import Outcome, execute, finish, load_all

MAX_CONTEXT = 2**31 - 1  # tokens, as the largest input dim: beyond, click refuses (exit 2)
MAX_GROUP = 2**20


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@click.option(
    "--batch",
    type=Digits(1),
    default=None,
    help="batch size N: scales MACs and activations by N / (the spec's batch: dim 0, "
    "or dim 1 of a sequence-first network)",
)
@click.option(
    "--optimizer",
    type=click.Choice(["sgd", "momentum", "adam", "adamw"]),
    default="sgd",
    show_default=True,
    help="optimizer state in the training step: none, 1x or 2x the trainable parameters",
)
@click.option(
    "--context",
    type=Digits(1, MAX_CONTEXT),
    default=None,
    metavar="N",
    help="generation: N tokens in the KV cache; adds weights memory per format, KV "
    "cache, prefill and per-token FLOPs (the table is then the prefill's)",
)
@click.option(
    "--new-tokens",
    type=Digits(1, MAX_CONTEXT),
    default=None,
    metavar="T",
    help="with --context: tokens generated after the prompt  [default: 1]",
)
@click.option(
    "--group-size",
    type=Digits(1, MAX_GROUP),
    default=None,
    metavar="G",
    help="with --context: int4 weights share a scale and zero per G inputs  [default: 128]",
)
@click.option(
    "--window",
    type=Digits(0, MAX_CONTEXT),
    default=None,
    metavar="W",
    help="with --context: a sliding window of W keys (the spec's var sliding_window "
    "otherwise); 0: no window",
)
@click_option(DEPTH)
def cost(specs, **values):
    """Compute (MACs, FLOPs) and memory per layer, with totals.

    Per layer: MACs (multiply-accumulates; transposed conv counted on input
    positions), FLOPs = 2 x MACs, and the output activation size at the spec dtype.
    Totals: parameters, buffers, input, all activations, the inference peak (tensors
    live from creation to their last consumer) and a training step (parameters,
    buffers, parameter gradients, every activation kept for backward, and the peak of
    activation gradients, and the optimizer state of --optimizer). No views or in-place ops are
    assumed, so these are upper bounds.

    \b
    With --context N (a decoder; `layercalc help cost`):
      layercalc cost llama.yaml --context 8192 --batch 1 --new-tokens 256
    the network is rebuilt at --batch and N tokens (the prefill), and a
    second table gives the weights at the spec dtype, int8, fp8, int4 and
    nf4, the KV cache (2 x layers x kv_heads x head_dim x tokens x batch x
    bytes), prefill FLOPs, FLOPs per new token and training FLOPs per token
    (6N + attention, PaLM's convention). A spec var sliding_window W (an
    imported Mistral's) keeps W - 1 tokens per windowed layer and attends
    min(p + 1, W) keys, as transformers' cache does (--window W sets it,
    --window 0 removes it); a learned position table shorter than the
    context is an error.
    """
    for opt in ("new_tokens", "group_size", "window"):
        if values.get(opt) is not None and values.get("context") is None:
            raise click.UsageError(
                f"--{opt.replace('_', '-')} needs --context N (the tokens in the KV cache)"
            )
    if values.get("window") == 1:  # transformers keeps W - 1 = 0 tokens: no attention
        raise click.BadParameter(
            "1 leaves no token to attend besides the new one: 0 (no window) or at least 2",
            param_hint="--window",
        )
    return emit(execute("cost", specs, values))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@spec_options()
@click_option(DEPTH)
def rf(specs, **values):
    """Receptive field per layer and spatial dim: size, jump (effective stride), start.

    Follows Araujo, Norris & Sim (Distill 2019) through dilation, pooling and merges of
    aligned branches; transposed convolutions divide the jump by their stride, and the
    size is the largest span over output positions (computed exactly). Undefined after
    flatten, linear, reshape or upsample.
    """
    return emit(execute("rf", specs, values))


@click.command()
@click.argument("spec", metavar="SPEC")
@click.argument("layer", required=False, metavar="[LAYER]")
@spec_options()
def explain(spec, layer, **values):
    """Why each layer (or LAYER, a leaf or group name) has its shape and parameters.

    The output-size formula with the numbers plugged in (floor or ceil shown when it
    drops a remainder, and the input rows that leaves unread), the parameter
    arithmetic, and the comparison with a fully-connected layer of the same input and
    output sizes: its weights, the connections this layer really has, and how many
    times each weight is shared.
    """
    from ..analyses.explain import explain as build_all
    from ..errors import did_you_mean
    from ..graph import gc_paused
    from ..text import printable
    from ..views import explain_table

    results = load_all([spec], values["sets"], values["input_shape"], values["max_layers"])
    r = results[0]
    if r.net is None:
        return emit(finish(results, [None], values))
    try:
        with gc_paused():  # a record per layer: see gc_paused
            items = build_all(r.net, layer)
            table = explain_table(r.net, r.file, items)
    except KeyError:
        hint = did_you_mean(layer, list(r.net.by_name))
        raise click.BadParameter(
            printable(
                f"no layer or group named {layer!r} in {r.file}" + (f" ({hint})" if hint else "")
            ),
            param_hint="LAYER",
        ) from None
    return emit(finish(results, [table], values))


@click.command()
@click.option("--in", "n_in", type=Digits(1), required=True, help="input size")
@click.option("--out", "n_out", type=Digits(1), required=True, help="target size")
@click.option("--kernel", type=Digits(1), default=None, help="fix the kernel size")
@click.option("--stride", type=Digits(1), default=None, help="fix the stride")
@click.option(
    "--type",
    "kind",
    type=click.Choice(("conv", "conv_transpose", "max_pool", "avg_pool")),
    default=None,
    help="layer type (default: conv when shrinking or keeping the "
    "size, conv_transpose when growing)",
)
@click.option(
    "--dims",
    type=Digits(1, 3),
    default=2,
    show_default=True,
    help="spatial dims of the PyTorch line",
)
@click.option(
    "--limit", type=Digits(1), default=10, show_default=True, help="show at most N answers"
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click_option(WIDTH)
def solve(n_in, n_out, kernel, stride, kind, dims, limit, fmt, width):
    """Hyper-parameters mapping an input size to a target size, simplest first.

    \b
      layercalc solve --in 64 --out 32 --kernel 4        -> stride 2, padding 1
      layercalc solve --in 32 --out 64 --type conv_transpose

    Searches kernel <= 11, stride <= 4, padding <= kernel (pools: PyTorch's limit of
    half the kernel), dilation <= 3, output_padding < stride, ceil_mode. Ranked: no
    input rows left unread (no output left unreached), no dilation, no output_padding
    or ceil_mode, padding within k//2 and centred, then the smallest stride and kernel.
    Every answer is recomputed with the shape formulas. When more than 64 paddings fit
    one kernel, stride and dilation (a large fixed --kernel or --stride), the smallest,
    the centred and the largest are listed.
    """
    from ..analyses.solve import output_size
    from ..analyses.solve import solve as search
    from ..render import render
    from ..views import solve_table
    from .run import output_options

    if kind is None:
        kind = "conv_transpose" if n_out > n_in else "conv"
    found = search(n_in, n_out, kind, kernel, stride)
    for s in found:
        assert output_size(s, n_in) == n_out  # recomputed by layercalc.arith
    table = solve_table(n_in, n_out, kind, dims, found, limit)
    text = render([table], fmt, output_options({"fmt": fmt, "width": width}))
    return emit(Outcome(text, [], 0 if found else 1))


COMMANDS = (cost, rf, explain, solve)
