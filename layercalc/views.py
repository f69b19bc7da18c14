"""Views: an analysis' numbers -> neutral tables (layercalc.table), one function per view.

Views decide what is shown (columns, rows, totals, notes, the JSON payload, the CSV
records) and nothing about how: layercalc.render draws any view in any format. Text
from a spec or a file name is wrapped in :class:`~layercalc.table.Spec`, so each format
escapes it as it needs.
"""

from __future__ import annotations


from .analyses.totals import collapse, error_json, network_json, network_totals, output_json
from .analyses.totals import rows as layer_rows
from .table import Column, LazyRows, Row, Spec, Table
from .units import counted, human_bytes, num


def replace(record, **changes):
    """dataclasses.replace, imported when a collapsed row needs it: dataclasses (and
    inspect, ast) stay off the start-up path of `shape` (README, Performance)."""
    from dataclasses import replace as dc_replace

    return dc_replace(record, **changes)


def shape_text(shape) -> str:
    return "—" if shape is None else "[" + ", ".join(str(v) for v in shape) + "]"


def _called(type_name: str, call: int) -> str:
    """A type as a table shows it: another call of a shared module says which call."""
    return type_name if call == 1 else f"{type_name} (call {call})"


def error_table(file: str, diagnostics) -> Table:
    """An invalid spec: rendered as JSON, and as workflow annotations at its lines (diff
    --format github); elsewhere its diagnostics go to standard error only."""
    notes = [
        (
            d.file or file,
            d.line,
            f"{d.message} [{d.code}]" + (f"\nhint: {d.hint}" if d.hint else ""),
            d.severity,
        )
        for d in diagnostics
    ]
    return Table(payload=error_json(file, diagnostics), error=True, annotations=notes)


# -- shape and params -------------------------------------------------------------------


def _sources(r, previous) -> str:
    """The From cell: a layer's producers, unless it reads the row before."""
    if r.kind != "layer" or r.sources == previous.get(r.ref):
        return ""
    return ", ".join(r.sources)


def _flat(cell) -> str:
    """A cell as one line of a CSV record: the tool's own line breaks (several inputs)
    become spaces; spec text keeps its own, escaped (printable) by the renderer."""
    if isinstance(cell, tuple):
        return Spec("".join(_flat(p) for p in cell))
    return cell if isinstance(cell, Spec) else cell.replace("\n", " ")


def _output_cell(r):
    if r.outputs is None:
        return shape_text(r.output)
    parts = []
    for i, (n, s) in enumerate(r.outputs):
        parts += (["\n"] if i else []) + [Spec(n), f": {shape_text(s)}"]
    return tuple(parts)


def summary(net, view: str) -> list:
    """The lines under a shape or params table: output, totals, memory."""
    t = network_totals(net)
    if net.spec.outputs:  # named outputs keep their names here, even one
        out_text = _joined([(Spec(k), f" {shape_text(v)}") for k, v in net.outputs.items()])
    else:
        out_text = (shape_text(output_json(net)),)
    if net.spec.inputs is None:
        first = (f"Input {shape_text(net.input)} -> output ", *out_text)
    else:
        ins = _joined([(Spec(k), f" {shape_text(v)}") for k, v in net.spec.inputs.items()])
        first = ("Inputs ", *ins, " -> output ", *out_text)
    nontrain = t["params"] - t["trainable"]
    lines = [
        first,
        f"Parameters: {num(t['params'])} (weights {num(t['weights'])}, bias "
        f"{num(t['bias'])}; trainable {num(t['trainable'])}, non-trainable "
        f"{num(nontrain)}); buffers: {num(t['buffers'])}",
    ]
    if view == "params":
        lines.append(
            f"Parameter memory: {human_bytes(t['param_bytes'])} "
            f"({num(t['param_bytes'])} bytes as {net.spec.dtype}); buffers "
            f"{human_bytes(t['buffer_bytes'])}"
        )
    lines.append(f"MACs: {num(t['macs'])} (FLOPs = 2 x MACs = {num(t['flops'])})")
    return lines


def _joined(items) -> tuple:
    out: list = []
    for i, parts in enumerate(items):
        out += (["; "] if i else []) + list(parts)
    return tuple(out)


SHAPE_COLUMNS = (
    Column("Layer", name=True),
    Column("Type", priority=1),
    Column("Arguments", priority=2, wrap=True),
    Column("From", priority=3, wrap=True),
    Column("Input", priority=4, shape=True),  # the row above's output, mostly
    Column("Output", shape=True),
)
PARAMS_COLUMNS = (
    Column("Layer", name=True),
    Column("Type", priority=2),
    Column("Weights", True, 4),
    Column("Bias", True, 5),
    Column("Params", True),
    Column("Trainable", True, 6),
    Column("Buffers", True, 3),
    Column("Share", True, 7),
)


def network_table(net, view: str, depth: int | None = None) -> Table:
    """`shape` or `params` (``view``): one row per layer, group headers, collapsed groups
    at ``depth``; the JSON payload is SPEC.md section 7's network object. Columns, rows
    and records are made when a renderer asks (JSON reads none of them)."""
    made: list = []

    def part(i: int):
        if not made:
            made.extend(_network_rows(net, view, depth))
        return made[i]

    footer = None
    if view == "params":
        t = network_totals(net)
        footer = (
            "Total",
            "",
            num(t["weights"]),
            num(t["bias"]),
            num(t["params"]),
            num(t["trainable"]),
            num(t["buffers"]),
            "100%",
        )
    file = Spec(net.spec.file)
    return Table(
        title=Spec(net.name),
        caption=file,
        columns=lambda: part(0),
        rows=lambda: part(1),
        footer=footer,
        notes=summary(net, view),
        payload=lambda: network_json(net, stream=True),
        records=lambda: part(2),
        tree=True,
    )


def _network_rows(net, view: str, depth: int | None) -> tuple:
    """network_table's columns, rows and CSV records (header, rows)."""
    every = layer_rows(net, depth)
    previous, last = {}, next(iter(net.spec.input_refs()))
    for layer in net.layers:
        previous[layer.ref] = [last]
        last = layer.ref
    total = net.totals()["params"]
    file = Spec(net.spec.file)
    rows, records = [], []
    if view == "shape":
        has_from = any(_sources(r, previous) for r in every)
        columns = [c for c in SHAPE_COLUMNS if c.header != "From" or has_from]
        for r in every:
            sources = Spec(_sources(r, previous))
            inputs = "\n".join(shape_text(s) for s in r.inputs) if r.kind != "group" else ""
            cells = [Spec(r.name), Spec(r.type), Spec(r.args), sources, inputs, _output_cell(r)]
            # the CSV keeps every column, so the files of one run are one table
            records.append([file, r.kind, r.level] + [_flat(c) for c in cells])
            if not has_from:
                del cells[3]
            rows.append(Row(tuple(cells), r.level, r.kind))
    else:
        columns = list(PARAMS_COLUMNS)
        for r in every:
            share = f"{100 * r.params / total:.1f}%" if r.params and total else ""
            cells = (
                Spec(r.name),
                Spec(r.type),
                num(r.weights) if r.weights else "",
                num(r.bias) if r.bias else "",
                num(r.params),
                num(r.trainable),
                num(r.buffers) if r.buffers else "",
                share,
            )
            rows.append(Row(cells, r.level, r.kind))
            records.append(
                [
                    file,
                    r.kind,
                    r.level,
                    Spec(r.name),
                    Spec(r.type),
                    r.weights,
                    r.bias,
                    r.params,
                    r.trainable,
                    r.buffers,
                    f"{r.params / max(1, total):.6f}",
                    r.macs,
                ]
            )
    every_column = SHAPE_COLUMNS if view == "shape" else columns
    header = ["file", "kind", "depth"] + [c.header.lower() for c in every_column]
    if view == "params":
        header.append("macs")
    return columns, rows, (header, records)


# -- cost -------------------------------------------------------------------------------

COST_COLUMNS = (
    Column("Layer", name=True),
    Column("Type", priority=2),
    Column("Output", shape=True),
    Column("MACs", True),
    Column("FLOPs", True, 3),
    Column("Activation", True, 1),
)


def cost_notes(c) -> list[str]:
    from .analyses.cost import LEGEND

    t = c.totals
    batch = f"batch {c.batch}" + (
        f" (spec: {c.spec_batch}, scaled by {c.batch}/{c.spec_batch})"
        if c.batch != c.spec_batch
        else ""
    )
    if c.batch_dim is None:  # one sample: --batch N counts N of them
        batch = (
            "batch 1: the input is unbatched"
            if c.batch == 1
            else f"batch {c.batch}: the unbatched input's one sample, scaled by {c.batch}"
        )
    elif c.batch_dim:
        batch += f", dim {c.batch_dim} of the input: sequence-first"
    hb = human_bytes
    return [
        f"MACs: {num(t['macs'])}; FLOPs: {num(t['flops'])} ({batch})",
        f"Memory as {c.dtype} ({c.dtype_bytes} bytes per element; KiB/MiB/GiB = 2**10/20/30 "
        "bytes):",
        f"  parameters {hb(t['param_bytes'])} ({num(t['params'])}), buffers "
        f"{hb(t['buffer_bytes'])}, input {hb(t['input_bytes'])}",
        f"  all activations {hb(t['activation_bytes'])} ({num(t['activation_elements'])} elements)",
        f"  inference: peak activations {hb(t['inference_peak_activation_bytes'])}; with "
        f"parameters and buffers {hb(t['inference_bytes'])}",
        f"  training step: kept activations {hb(t['training_activation_bytes'])} + "
        f"activation-gradient peak {hb(t['activation_gradient_peak_bytes'])} + parameter "
        f"gradients {hb(t['gradient_bytes'])} + parameters and buffers"
        + (
            f" + {t['optimizer']} state {hb(t['optimizer_state_bytes'])}"
            if t["optimizer_state_bytes"]
            else ""
        )
        + f" = {hb(t['training_bytes'])}"
        + (
            f" (no optimizer state: --optimizer adam adds {hb(2 * t['gradient_bytes'])})"
            if t["optimizer"] == "sgd"
            else ""
        ),
        LEGEND,
    ]


def cost_table(net, c, depth: int | None = None, gen=None) -> Table:
    """`cost`: MACs, FLOPs and the activation per layer (a group collapsed at ``depth``
    sums its members), the memory totals under the table; with ``gen``
    (analyses.generation.Generation, `--context`) the network is the prefill's and the
    JSON payload holds a "generation" object (generation_table shows it)."""
    from .analyses.cost import LEGEND

    def merge(g, span, last):
        return replace(
            last,
            name=g.name,
            type=f"{g.type} ({len(span)} layers)",
            output=tuple(g.output),
            macs=sum(x.macs for x in span),
            flops=sum(x.flops for x in span),
            activation_elements=sum(x.activation_elements for x in span),
            activation_bytes=sum(x.activation_bytes for x in span),
            params=sum(x.params for x in span),
            call=g.call,
        )

    shown = collapse(net, c.layers, depth, merge)
    file = Spec(net.spec.file)
    t = c.totals

    def payload():
        return {
            "file": net.spec.file,
            "name": net.name,
            "dtype": c.dtype,
            "dtype_bytes": c.dtype_bytes,
            "batch": c.batch,
            "spec_batch": c.spec_batch,
            "batch_dim": c.batch_dim,
            "legend": LEGEND,
            "layers": (  # streamed: each object made as it is written
                {
                    "name": x.name,
                    "type": x.type,
                    "output": list(x.output),
                    "macs": x.macs,
                    "flops": x.flops,
                    "activation_elements": x.activation_elements,
                    "activation_bytes": x.activation_bytes,
                    "params": x.params,
                    **({"call": x.call} if x.call != 1 else {}),
                }
                for x in c.layers
            ),
            "totals": dict(t),
            **({"generation": generation_json(gen)} if gen is not None else {}),
        }

    cells: dict = {}  # layers of one record repeat their figures: each set formatted once

    def row(x) -> Row:
        key = (x.output, x.macs, x.flops, x.activation_bytes)
        made = cells.get(key)
        if made is None:
            made = cells[key] = (
                shape_text(x.output),
                num(x.macs),
                num(x.flops),
                human_bytes(x.activation_bytes),
            )
        return Row((Spec(x.name), Spec(x.shown_type), *made))

    def records():
        shapes: dict = {}
        return (
            [
                "file",
                "layer",
                "type",
                "output",
                "macs",
                "flops",
                "activation_elements",
                "activation_bytes",
                "params",
            ],
            [
                [
                    file,
                    Spec(x.name),
                    Spec(x.shown_type),
                    shapes.get(x.output) or shapes.setdefault(x.output, shape_text(x.output)),
                    x.macs,
                    x.flops,
                    x.activation_elements,
                    x.activation_bytes,
                    x.params,
                ]
                for x in shown
            ],
        )

    # rows and records are made when a renderer reads them (JSON reads neither)
    return Table(
        title=Spec(net.name),
        caption=file,
        lead=[] if gen is None else [_prefill_line(gen)],
        columns=list(COST_COLUMNS),
        rows=LazyRows(shown, row),
        footer=(
            "Total",
            "",
            "",
            num(t["macs"]),
            num(t["flops"]),
            human_bytes(t["activation_bytes"]),
        ),
        notes=cost_notes(c),
        payload=payload,
        records=records,
    )


# -- generation (cost --context) --------------------------------------------------------

GENERATION_COLUMNS = (
    Column("Quantity"),
    Column("Exact", True),
    Column("About", True, 2),
    Column("How", priority=1, wrap=True),
)


def _si(n: int, unit: str = "") -> str:
    """A large count in decimal units: 158,146,064,547,840 -> '158.15 T'."""
    for prefix, size in (("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:,.2f} {prefix}{unit}"
    return f"{n:,} {unit}".rstrip()


def _prefill_line(g) -> str:
    return (
        f"Prefill: batch {g.batch:,}, {g.context:,} tokens (the context set through "
        f"{g.token_dim}); per-layer figures below are the prefill's"
    )


def generation_json(g) -> dict:
    """The "generation" object of `cost --context --format json`: exact integers,
    stable keys (docs/cost.md)."""
    from .analyses.generation import FORMAT_CONVENTIONS

    f = g.figures
    return {
        "context": g.context,
        "new_tokens": g.new_tokens,
        "batch": g.batch,
        "group_size": g.group_size,
        "dtype": g.dtype,
        "dtype_bytes": g.dtype_bytes,
        "token_dim": g.token_dim,
        "window_from": g.window_from or None,
        "warnings": [message for message, _ in g.warnings],
        "weights": [
            {
                "format": w["format"],
                "bytes": w["bytes"],
                "quantized_bytes": w["quantized_bytes"],
                "other_bytes": w["other_bytes"],
                "quantized_weights": w["quantized_weights"],
                "quantized_tensors": w["quantized_tensors"],
                "convention": w["convention"],
            }
            for w in g.weights
        ],
        "kv_cache": {
            "bytes": f["kv_cache_bytes"],
            "tokens": f["kv_cache_tokens"],
            "final_tokens": f["kv_cache_final_tokens"],
            "final_bytes": f["kv_cache_final_bytes"],
            "elements_per_token": f["kv_elements_per_token"],
            "attention_calls": f["attention_calls"],
            "cross_attention_calls": f["cross_attention_calls"],
            "cross_attention_bytes": f["cross_kv_cache_bytes"],
            "causal": f["causal"],
            "sliding_window": f["sliding_window"],
            "windowed_attention_calls": f["windowed_attention_calls"],
            "window_tokens": f["kv_cache_window_tokens"],
        },
        "flops": {
            "prefill": f["prefill_flops"],
            "prefill_macs": f["prefill_macs"],
            "prefill_dense_macs": f["prefill_dense_macs"],
            "per_token_at_context": f["flops_per_token_at_context"],
            "per_token_linear": f["decode_linear_flops"],
            "per_token_attention_per_key": f["decode_attention_flops_per_key"],
            "decode_steps": f["decode_steps"],
            "decode": f["decode_flops"],
            "generation": f["generation_flops"],
        },
        "training_flops_per_token": {
            "total": f["training_flops_per_token"],
            "linear": f["training_linear_flops_per_token"],
            "attention": f["training_attention_flops_per_token"],
            "six_n": f["six_n"],
            "params": f["params"],
            "embedding_params": f["embedding_params"],
            "kaplan": f["kaplan_flops_per_token"],
        },
        "conventions": {
            "formats": dict(FORMAT_CONVENTIONS),
            "kv_cache": "K and V of every self-attention call as the attention reads them, "
            "per token, x tokens x batch x dtype bytes",
            "flops": "FLOPs = 2 x MACs; dense attention (the causal mask does not halve it); "
            "a decode step at position p attends p + 1 keys",
            "sliding_window": "a windowed call caches min(tokens, W - 1) keys "
            "(transformers' DynamicSlidingWindowLayer), a decode step attends "
            "min(p + 1, W) keys, the prefill counts the pairs with key > query - W",
            "training": "3 x forward at the context: 6 x linear + 6 x dense attention MACs "
            "per token (PaLM: 6N + 12LHQT); kaplan: 6 x non-embedding parameters + "
            "half the attention term (causal)",
        },
    }


def generation_table(net, g) -> Table:
    """`cost --context`: weights memory per format, KV cache, prefill and per-token FLOPs,
    training FLOPs per token (its JSON lives in the cost table's payload)."""
    f = g.figures
    file = Spec(net.spec.file)
    rows: list = []
    records: list = []

    def add(label: str, key: str, value: int, about: str, how: str):
        rows.append(Row((label, num(value), about, how)))
        records.append([file, key, value])

    size = g.dtype_bytes
    for w in g.weights:
        fmt = w["format"]
        if fmt == g.dtype:
            how = f"all {num(f['params'])} parameters (and buffers) at {size} bytes"
        else:
            how = (
                f"{num(w['quantized_weights'])} linear weights ({w['quantized_tensors']} "
                f"tensors) {num(w['quantized_bytes'])} + the rest at {g.dtype} "
                f"{num(w['other_bytes'])}"
            )
        add(f"Weights, {fmt}", f"weights_{fmt}_bytes", w["bytes"], human_bytes(w["bytes"]), how)
    calls = f["attention_calls"]
    per = f["kv_per_token_text"] or num(f["kv_elements_per_token"])
    win, wcalls = f["sliding_window"], f["windowed_attention_calls"]
    if win and wcalls == calls:
        kv_how = (
            f"{counted(calls, 'attention call')} · {per} (K+V per token) · "
            f"{num(f['kv_cache_window_tokens'])} tokens (window {num(win)}: the last "
            f"{num(win - 1)} kept) · batch {g.batch} · {size} bytes"
        )
    elif win:
        kv_how = (
            f"{counted(calls - wcalls, 'attention call')} · {per} (K+V per token) · "
            f"{num(f['kv_cache_tokens'])} tokens + {counted(wcalls, 'windowed call')} at "
            f"{num(f['kv_cache_window_tokens'])} tokens (window {num(win)}) · "
            f"batch {g.batch} · {size} bytes"
        )
    else:
        kv_how = (
            f"{counted(calls, 'attention call')} · {per} (K+V per token) · "
            f"{num(f['kv_cache_tokens'])} tokens · batch {g.batch} · {size} bytes"
        )
    if f["cross_attention_calls"]:
        kv_how += f" + cross-attention {num(f['cross_kv_cache_bytes'])}"
    add(
        f"KV cache, {num(f['kv_cache_tokens'])} tokens",
        "kv_cache_bytes",
        f["kv_cache_bytes"],
        human_bytes(f["kv_cache_bytes"]),
        kv_how,
    )
    if g.new_tokens > 1:
        add(
            f"KV cache, {num(f['kv_cache_final_tokens'])} tokens",
            "kv_cache_final_bytes",
            f["kv_cache_final_bytes"],
            human_bytes(f["kv_cache_final_bytes"]),
            f"after {g.new_tokens} new tokens (the last one is not fed back)"
            + (f"; windowed calls keep {num(win - 1)}" if win else ""),
        )
    add(
        "Prefill FLOPs",
        "prefill_flops",
        f["prefill_flops"],
        _si(f["prefill_flops"]),
        f"2 × {num(f['prefill_macs'])} MACs: the network at batch {g.batch}, "
        f"{num(g.context)} tokens"
        + (
            f" (windowed attention over its band, not the {num(f['prefill_dense_macs'])} "
            "dense MACs of the table above)"
            if f["prefill_macs"] != f["prefill_dense_macs"]
            else ""
        ),
    )
    keys_at = (
        f"({num(g.context)} + 1) keys" if not win else f"min({num(g.context)} + 1, {num(win)}) keys"
    )
    add(
        f"FLOPs/token at {num(g.context)}",
        "flops_per_token_at_context",
        f["flops_per_token_at_context"],
        _si(f["flops_per_token_at_context"]),
        f"{num(f['decode_linear_flops'])} + {num(f['decode_attention_flops_per_key'])} · "
        f"{keys_at} (batch {g.batch})",
    )
    add(
        f"FLOPs, {num(g.new_tokens)} new token{'s' if g.new_tokens != 1 else ''}",
        "generation_flops",
        f["generation_flops"],
        _si(f["generation_flops"]),
        f"prefill + {num(f['decode_steps'])} decode steps at positions "
        f"{num(g.context)}..{num(g.context + g.new_tokens - 2)}"
        if f["decode_steps"]
        else "the prefill (it yields the first new token)",
    )
    add(
        "Training FLOPs/token",
        "training_flops_per_token",
        f["training_flops_per_token"],
        _si(f["training_flops_per_token"]),
        f"3 × forward: linear {num(f['training_linear_flops_per_token'])} + attention "
        f"{num(f['training_attention_flops_per_token'])} (PaLM's 6N + 12·L·H·Q·T, "
        f"T = {num(g.context)})",
    )
    add(
        "  6N (all parameters)",
        "six_n",
        f["six_n"],
        _si(f["six_n"]),
        f"6 × {num(f['params'])} (attention ignored)",
    )
    add(
        "  Kaplan et al. 2020",
        "kaplan_flops_per_token",
        f["kaplan_flops_per_token"],
        _si(f["kaplan_flops_per_token"]),
        f"6 × {num(f['params'] - f['embedding_params'])} non-embedding + "
        "6·n_layer·n_ctx·d_attn (causal: half the dense attention)",
    )
    notes = [
        f"KV cache = {kv_how} = {num(f['kv_cache_bytes'])} bytes.",
        f"Per new token at position p (p tokens cached, p + 1 keys): "
        f"{num(f['decode_linear_flops'])} + {num(f['decode_attention_flops_per_key'])} · "
        + (
            f"(p + 1) FLOPs at batch {g.batch}."
            if not win
            else f"min(p + 1, {num(win)}) FLOPs at batch {g.batch}."
        ),
        "Weights: only linear layers' weights are quantized, not the layers that make "
        "the network's outputs (an LM head); embeddings, norms and biases stay at "
        f"{g.dtype}. int8: LLM.int8() (1 byte + float32 scale per row); fp8: e4m3 + "
        f"float32 scale per tensor; int4: AWQ/GPTQ groups of {g.group_size} inputs "
        "(float16 scale + 4-bit zero each, --group-size); nf4: bitsandbytes blocks of "
        "64 with double quantization (QLoRA, 4.127 bits per weight).",
        "KV cache: K and V as each attention call reads them (2 · layers · kv_heads · "
        "head_dim per token). FLOPs = 2 × MACs, attention dense (the causal mask does "
        "not halve it); training = 3 × forward; About: K/M/G/T/P = powers of 1000.",
    ]
    if win:
        notes.append(
            f"Sliding window {num(win)} ({g.window_from}; --window W changes it, "
            f"--window 0 removes it) on {wcalls} of {counted(calls, 'attention call')}: "
            "each keeps "
            f"its last {num(win - 1)} tokens (transformers' DynamicSlidingWindowLayer), "
            f"a new token at position p attends min(p + 1, {num(win)}) keys, and the "
            "prefill counts the (query, key) pairs with key > query - W."
        )
    # g.warnings reach standard error as located diagnostics (cli.run), not the notes
    if not f["causal"]:
        notes.append(
            "No attention call is causal (is_causal or a mask): this looks like an "
            "encoder, which keeps no KV cache; the figures are those of decoding with it."
        )
    if f["cross_attention_calls"]:
        notes.append(
            f"{counted(f['cross_attention_calls'], 'cross-attention call')} (a key length "
            "that does "
            "not follow the tokens): their K and V are cached once at their own length; "
            "per-token figures still count the layers before them (an encoder) in every "
            "step, an upper bound."
        )
    return Table(
        title=(
            "Generation: ",
            Spec(net.name),
            f" (context {num(g.context)}, batch {g.batch}, {num(g.new_tokens)} new)",
        ),
        caption=file,
        columns=list(GENERATION_COLUMNS),
        rows=rows,
        notes=notes,
        payload=None,  # in the cost table's payload
        records=(["file", "quantity", "value"], records),
    )


# -- receptive fields -------------------------------------------------------------------

RF_COLUMNS = (
    Column("Layer", name=True),
    Column("Type", priority=2),
    Column("Output", shape=True),
    Column("RF size", True),
    Column("Jump", True, 1),
    Column("Start", True, 2),
    Column("Note", priority=3, wrap=True),
)
RF_NONE = (
    "no receptive fields: the input has no spatial dims (a receptive field is measured "
    "over the H, W (or L, or D, H, W) of a convolutional input)"
)
RF_NOTES = (
    "RF size: input positions one output position depends on (span, per spatial "
    "dim); jump: input pixels between neighbouring outputs; start: first input "
    "position seen by output 0 (negative: in the padding). Araujo et al. 2019; "
    "transposed convs: the largest span over output positions.",
)


def _per_dim(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "×".join(values)


def rf_table(net, fields, depth: int | None = None) -> Table:
    """`rf`: size, jump and start per layer and spatial dim (a group collapsed at
    ``depth`` shows the field of its output)."""
    from .analyses.receptive import NO_SPATIAL_DIMS

    shown = collapse(
        net,
        fields,
        depth,
        lambda g, span, last: replace(
            last,
            name=g.name,
            type=f"{g.type} ({len(span)} layers)",
            output=tuple(g.output),
            call=g.call,
        ),
    )
    file = Spec(net.spec.file)
    shapes: dict = {}  # layers repeat their output shapes: each written once

    def head(f) -> tuple:
        text = shapes.get(f.output)
        if text is None:
            text = shapes[f.output] = shape_text(f.output)
        return (Spec(f.name), Spec(f.shown_type), text)

    def row(f) -> Row:
        if f.fields is None:
            return Row(head(f) + ("", "", "", f.note))
        return Row(
            head(f)
            + (
                _per_dim(x.size for x in f.fields),
                _per_dim(x.jump for x in f.fields),
                _per_dim(x.start for x in f.fields),
                f.note,
            )
        )

    def records():
        out = []
        for f in shown:
            cells = head(f)
            for axis, x in enumerate(f.fields or [None]):
                out.append(
                    [
                        file,
                        *cells,
                        "" if x is None else axis,
                        "" if x is None else x.size,
                        "" if x is None else str(x.jump),
                        "" if x is None else x.start,
                        f.note,
                    ]
                )
        return (
            ["file", "layer", "type", "output", "dim", "size", "jump", "start", "note"],
            out,
        )

    def payload():
        return {
            "file": net.spec.file,
            "name": net.name,
            "layers": (  # streamed: each object made as it is written
                {
                    "name": f.name,
                    "type": f.type,
                    "output": list(f.output),
                    "fields": None
                    if f.fields is None
                    else [
                        {"size": x.size, "jump": str(x.jump), "start": x.start} for x in f.fields
                    ],
                    "note": f.note,
                    **({"call": f.call} if f.call != 1 else {}),
                }
                for f in fields
            ),
        }

    return Table(
        title=Spec(net.name),
        caption=file,
        columns=list(RF_COLUMNS),
        rows=LazyRows(shown, row),  # rows and records: made when a renderer reads them
        # a network without spatial dims (a transformer over a sequence of features):
        # said once above the table, whose RF columns stay empty
        lead=[RF_NONE] if fields and all(f.note == NO_SPATIAL_DIMS for f in fields) else [],
        notes=list(RF_NOTES),
        payload=payload,
        records=records,
    )


# -- verify -----------------------------------------------------------------------------

VERIFY_COLUMNS = (
    Column(""),
    Column("Layer", name=True),
    Column("Type", priority=4),  # the counts verify checks are kept before the type
    Column("Calculated", shape=True),
    Column("Actual", wrap=True, shape=True),
    Column("Params", True, 2),
    Column("Buffers", True, 3),
    Column("ms", True, 7),  # the least of them: dropped first
)


def _count(expected, actual) -> str:
    if actual is None or actual == expected:
        return f"{expected:,}"
    return f"{actual:,} ≠ {expected:,}"


def verify_summary(v, net) -> str:
    n = len(v.checks)
    outs = ", ".join(shape_text(s) for s in net.outputs.values())
    totals = net.totals()
    given = [what for what, on in (("weights", v.given_weights), ("input", v.given_input)) if on]
    if not given:
        source = f"seed {v.seed}"
    elif len(given) == 2:
        source = "given weights and input"
    else:
        source = f"given {given[0]}, seed {v.seed}"
    tail = f"({v.dtype}, {source}, {v.seconds:.2f} s, estimated peak {human_bytes(v.estimate)})"
    if not v.failed:
        return (
            f"✓ all {n} layers agree: output {outs}, {totals['params']:,} params, "
            f"{totals['buffers']:,} buffers {tail}"
        )
    return f"✗ {len(v.failed)} of {n} layers disagree {tail}"


VERIFY_RECORD = [
    "file",
    "layer",
    "type",
    "ok",
    "calculated",
    "actual",
    "params",
    "params_actual",
    "buffers",
    "buffers_actual",
    "ms",
]


def verify_table(net, v, depth: int | None = None, diagnostics=()) -> Table:
    """`verify`: every check, ✓ or ✗, calculated against actual (a group collapsed at
    ``depth`` is ✓ when every member agrees); failures survive the cut of a long table."""
    checks = list(v.checks)
    if depth is not None and len(v.checks) == len(net.layers):

        def merge(g, span, last):
            bad = next((c for c in span if not c.ok), None)
            counts = [c.params_actual for c in span], [c.buffers_actual for c in span]
            return replace(
                last,
                name=g.name,
                type=f"{g.type} ({len(span)} layers)",
                expected=tuple(g.output),
                params=sum(c.params for c in span),
                buffers=sum(c.buffers for c in span),
                params_actual=None if None in counts[0] else sum(counts[0]),
                buffers_actual=None if None in counts[1] else sum(counts[1]),
                seconds=sum(c.seconds for c in span),
                call=g.call,
                error=None if bad is None else (bad.error or f"{bad.name} disagrees"),
            )

        checks = collapse(net, v.checks, depth, merge)
    file = Spec(net.spec.file)

    def actual(c):
        return shape_text(c.actual) if c.error is None else Spec(c.error)

    def ms(c):
        return f"{c.seconds * 1000:.1f}" if c.ran else ""

    def row(c):
        return Row(
            (
                "✓" if c.ok else "✗",
                Spec(c.name),
                Spec(c.shown_type),
                shape_text(c.expected),
                actual(c),
                _count(c.params, c.params_actual),
                _count(c.buffers, c.buffers_actual),
                ms(c),
            ),
            kind="passed" if c.ok else "failed",
            keep=not c.ok,
        )

    def records():
        return VERIFY_RECORD, (
            [
                file,
                Spec(c.name),
                Spec(c.shown_type),
                c.ok,
                shape_text(c.expected),
                str(actual(c)),
                c.params,
                c.params_actual,
                c.buffers,
                c.buffers_actual,
                ms(c),
            ]
            for c in checks
        )

    def payload():
        out = v.as_json()
        errors = [d.as_json() for d in diagnostics if d.severity == "error"]
        if errors:
            out["errors"] = errors
        out["warnings"] = [d.as_json() for d in diagnostics if d.severity == "warning"]
        return out

    # made only as a renderer reads them: a terminal shows 400 of 100,000 rows, and a
    # failed check (a `keep` row, which survives the cut) makes the rows a plain list
    agree = all(c.ok for c in checks)
    rows = LazyRows(checks, row) if agree else [row(c) for c in checks]
    columns = list(VERIFY_COLUMNS)
    if agree:  # Actual repeats Calculated on every row: the first column left out
        columns[4] = columns[4]._replace(priority=6)
    return Table(
        title=Spec(net.name),
        caption=file,
        columns=columns,
        rows=rows,
        notes=[verify_summary(v, net)],
        status="passed" if v.ok else "failed",
        payload=payload,
        records=records,
    )


# -- explain ----------------------------------------------------------------------------


def explain_table(net, file: str, items) -> Table:
    """`explain`: a document, one section per layer (its formulas with the numbers).

    A section is (heading, first line, body): the body's lines are one tuple for every
    layer of an explanation record (analyses.explain shares a record's lists among its
    layers), so 100,000 layers that repeat a few dozen records make a few dozen bodies
    and the renderers draw each once; only the first line names the layer."""
    from .analyses.explain import body_lines, shapes_text

    # keyed by the id of a record's shape list (made once per record) and checked
    # against its params and compare lists: a layer of its own misses, never collides
    bodies: dict = {}  # id(shape) -> (explanation, body)
    shapes: dict = {}  # id(inputs) -> (explanation, head_line's shapes)
    types: dict = {}  # shown type -> its heading parts
    sections = []
    for e in items:
        body = bodies.get(id(e.shape))
        if body is None or body[0].params is not e.params or body[0].compare is not e.compare:
            body = bodies[id(e.shape)] = (e, tuple(map(Spec, body_lines(e))))
        text = shapes.get(id(e.inputs))
        if text is None or text[0].output is not e.output:
            text = shapes[id(e.inputs)] = (e, shapes_text(e))
        kind = e.shown_type
        heading = types.get(kind)
        if heading is None:
            heading = types[kind] = (" (", Spec(kind), ")")
        # a section's first line sums it up; Markdown shows it as the heading
        # (its lines name layers: spec text, escaped as a whole)
        sections.append(((Spec(e.name), *heading), Spec(f"{e.name} ({kind}): {text[1]}"), body[1]))

    def records():
        """CSV: one record per line under the first, made as the renderer writes it."""
        where = Spec(file)
        parts: dict = {}  # a body's (section, text) pairs, once per body
        for e in items:
            key = (id(e.shape), id(e.params), id(e.compare))
            pairs = parts.get(key)
            if pairs is None:
                pairs = parts[key] = [
                    (section, text.strip())
                    for section in ("shape", "params", "compare")
                    for text in getattr(e, section)
                ]
            layer, kind = Spec(e.name), Spec(e.shown_type)
            for section, text in pairs:
                yield [where, layer, kind, section, text]

    def payload():
        return {
            "file": file,
            "name": net.name,
            "layers": (  # streamed: each object made as it is written
                {
                    "name": e.name,
                    "type": e.type,
                    "input": e.inputs,
                    "output": list(e.output),
                    "shape": e.shape,
                    "params": e.params,
                    "compare": e.compare,
                    "figures": e.figures,
                    "text": [first, *body],
                    **({"call": e.call} if e.call != 1 else {}),
                }
                for e, (_, first, body) in zip(items, sections)
            ),
        }

    return Table(
        title=Spec(net.name),
        caption=Spec(file),
        sections=sections,
        payload=payload,
        records=lambda: (["file", "layer", "type", "section", "text"], records()),
    )


# -- solve ------------------------------------------------------------------------------

SOLVE_COLUMNS = (
    Column("#", True),
    Column("k", True),
    Column("s", True),
    Column("p", True),
    Column("d", True),
    Column("op/ceil"),
    Column("Check", wrap=True),
    Column("PyTorch", priority=1, wrap=True),
    Column("Note", priority=3, wrap=True),
)


def solve_table(n_in, n_out, kind, dims, found, limit) -> Table:
    shown = found[:limit]
    more = len(found) - len(shown)
    notes = [
        f"{len(found)} solutions" + (f"; {more} more with --limit" if more else "")
        if found
        else f"no {kind} with kernel <= 11, stride <= 4, dilation <= 3 maps {n_in} to {n_out}"
    ]
    rows = [
        Row(
            (
                str(i + 1),
                str(s.kernel),
                str(s.stride),
                str(s.padding),
                str(s.dilation),
                ("op=" + str(s.output_padding))
                if s.output_padding
                else ("ceil" if s.ceil_mode else ""),
                s.formula(n_in),
                s.torch(dims),
                "; ".join(s.notes),
            )
        )
        for i, s in enumerate(shown)
    ]
    payload = {
        "in": n_in,
        "out": n_out,
        "type": kind,
        "count": len(found),
        "solutions": [
            {
                "kernel_size": s.kernel,
                "stride": s.stride,
                "padding": s.padding,
                "dilation": s.dilation,
                "output_padding": s.output_padding,
                "ceil_mode": s.ceil_mode,
                "out": s.out,
                "check": s.formula(n_in),
                "pytorch": s.torch(dims),
                "notes": list(s.notes),
            }
            for s in shown
        ],
    }
    records = [
        [
            i + 1,
            s.kernel,
            s.stride,
            s.padding,
            s.dilation,
            s.output_padding,
            s.ceil_mode,
            s.out,
            s.formula(n_in),
            s.torch(dims),
            "; ".join(s.notes),
        ]
        for i, s in enumerate(shown)
    ]
    return Table(
        title=f"{kind}: {n_in} -> {n_out}",
        columns=list(SOLVE_COLUMNS),
        rows=rows,
        notes=notes,
        payload=payload,
        records=(
            [
                "rank",
                "kernel_size",
                "stride",
                "padding",
                "dilation",
                "output_padding",
                "ceil_mode",
                "out",
                "check",
                "pytorch",
                "notes",
            ],
            records,
        ),
    )


# -- the layer catalogue ----------------------------------------------------------------

CATALOG_NOTE = (
    "Names match case- and underscore-insensitively; a name without a dimension (conv, "
    "batch_norm, max_pool...) picks the variant from the input rank."
)


def catalog_args(entry: dict) -> str:
    """A type's arguments as one line: required ones bare, the others name=default."""
    parts = []
    for a in entry["args"]:
        d = a["default"]
        text = a["name"] if d == "required" else f"{a['name']}={d}"
        if a["choices"] and a["kind"] == "choice":
            text += " (" + " | ".join(a["choices"]) + ")"  # breakable at 80 columns
        parts.append(text)
    return ", ".join(parts) or "-"


def catalog_tables(entries: list, keys: list) -> list[Table]:
    """`layers`: the types with their arguments and PyTorch defaults, then (``keys``) the
    spec keys with examples. JSON is one list of both, types first."""
    tables = []
    if entries:
        tables.append(
            Table(
                title="layercalc layer types",
                columns=[
                    Column("Type", wrap=True),
                    Column("Arguments (defaults)", wrap=True),
                    Column("PyTorch", priority=1, wrap=True),
                ],
                rows=[
                    Row(
                        (
                            e["type"] + (f" ({', '.join(e['aliases'])})" if e["aliases"] else ""),
                            catalog_args(e),
                            e["pytorch"],
                        )
                    )
                    for e in entries
                ],
                notes=[CATALOG_NOTE],
                records=(
                    ["type", "family", "aliases", "arguments", "pytorch"],
                    [
                        [
                            e["type"],
                            e["family"],
                            " ".join(e["aliases"]),
                            catalog_args(e),
                            e["pytorch"],
                        ]
                        for e in entries
                    ],
                ),
                limit=None,
            )
        )
    if keys:
        tables.append(
            Table(
                title="spec keys",
                columns=[
                    Column("Key"),
                    Column("Where", wrap=True),
                    Column("What", wrap=True),
                    Column("Example", wrap=True),
                ],
                rows=[Row((k["key"], k["where"], k["doc"], k["example"])) for k in keys],
                records=(
                    ["key", "where", "what", "example"],
                    [[k["key"], k["where"], k["doc"], k["example"]] for k in keys],
                ),
                limit=None,
            )
        )
    if tables:
        tables[0].payload = list(entries) + list(keys)
    return tables


# -- diff -------------------------------------------------------------------------------

DIFF_COLUMNS = (
    Column(""),
    Column("Layer", name=True),
    Column("Type", priority=2),  # a changed type is a change: kept before MACs
    # what changed in a layer's arguments (with its type, when that changed too)
    Column("Arguments", priority=1, wrap=True),
    Column("Output", shape=True, wrap=True),
    Column("Params", True),
    Column("MACs", True, 3),
    Column("Memory", True, 4),
)
DIFF_MARKS = {"added": "+", "removed": "-", "changed": "~", "renamed": ">"}
METRIC_NAMES = {
    "params": "Parameters",
    "trainable": "Trainable",
    "buffers": "Buffers",
    "macs": "MACs",
    "param_memory": "Parameter memory",
    "peak_memory": "Inference peak",
    "layers": "Layers",
}


def _signed(n: int, unit: str) -> str:
    if unit == "bytes":
        return ("+" if n > 0 else "-" if n < 0 else "±") + human_bytes(abs(n))
    return f"{n:+,}" if n else "±0"


def _percent(p: float) -> str:
    """'+4.70%'; a change too small for two decimals '+<0.01%', never '+0.00%'."""
    if p and abs(p) < 0.005:
        return ("+" if p > 0 else "-") + "<0.01%"
    return f"{p:+.2f}%"


def _delta(old: int, new: int, unit: str = "count") -> str:
    """'25,557,032 -> 26,757,032 (+1,200,000, +4.70%)'."""
    from .analyses.diff import percent

    show = human_bytes if unit == "bytes" else num
    if old == new:
        return f"{show(new)} (unchanged)"
    p = percent(old, new)
    return f"{show(old)} -> {show(new)} ({_signed(new - old, unit)}" + (
        f", {_percent(p)})" if p is not None else ")"
    )


def fired_text(d, rule) -> str:
    """'--fail-on params>+5% fired: params 224 -> 448 (+224, +100.00%)'."""
    import json

    head = f"--fail-on {rule.text} fired: "
    if rule.metric == "output-changed":
        return (
            head + "output " + " -> ".join("none" if o is None else json.dumps(o) for o in d.output)
        )
    old, new = d.totals[rule.metric]
    unit = "bytes" if dict(_units()).get(rule.metric) == "bytes" else "count"
    return head + f"{METRIC_NAMES[rule.metric]} {_delta(old, new, unit)}"


def _pair(old, new, show) -> str:
    if old == new:
        return show(new)
    return f"{show(old)} -> {show(new)}"


def diff_summary(d) -> tuple:
    """One line for a pull request: the parameter change, the MACs, the output, and how
    many layers changed."""
    from .analyses.diff import percent

    po, pn = d.totals["params"]
    mo, mn = d.totals["macs"]
    p, m = percent(po, pn), percent(mo, mn)
    parts = [
        f"params {_signed(pn - po, 'count')}"
        + (f" ({_percent(p)})" if p is not None and pn != po else ""),
        f"MACs {_signed(mn - mo, 'count')}"
        + (f" ({_percent(m)})" if m is not None and mn != mo else ""),
        ("output ", *_output_change(d)) if d.output_changed else "output unchanged",
    ]
    counts = [f"{d.count(s)} {s}" for s in ("changed", "added", "removed", "renamed") if d.count(s)]
    n = sum(d.count(s) for s in ("changed", "added", "removed", "renamed"))
    parts.append(
        (f"{n} layers differ: " if n != 1 else "1 layer differs: ") + ", ".join(counts)
        if n
        else "no layer differs"
    )
    return _joined([p if isinstance(p, tuple) else (p,) for p in parts])


def _json_shape(value) -> tuple:
    """A network output as diff shows it: a shape, or each named output's (names are
    spec text)."""
    if value is None:
        return ("none",)
    if isinstance(value, dict):
        return _joined([(Spec(k), f" {shape_text(v)}") for k, v in value.items()])
    return (shape_text(value),)


def _output_change(d) -> tuple:
    if not d.output_changed:
        return (*_json_shape(d.output[1]), " (unchanged)")
    return (*_json_shape(d.output[0]), " -> ", *_json_shape(d.output[1]))


def diff_table(d, old_file: str, new_file: str, old_name=None, new_name=None) -> Table:
    """`diff`: the changed, added, removed and renamed layers (each run of unchanged
    layers one row), the totals' deltas under the table, the JSON of every change."""
    rows, records, annotations = [], [], []
    same = 0
    for c in d.changes + [None]:
        if c is None or c.status != "same":
            if same:
                rows.append(
                    Row(
                        (
                            "",
                            f"({same:,} layer{'s' * (same != 1)} unchanged)",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                        ),
                        kind="cut",
                    )
                )
                same = 0
            if c is None:
                break
        else:
            same += 1
            continue
        a, b = c.old, c.new
        x = b or a
        name = Spec(x.name) if c.status != "renamed" else (Spec(a.name), " -> ", Spec(b.name))
        typ = (
            Spec(x.type)
            if not (a and b) or a.type == b.type
            else (Spec(a.type), " -> ", Spec(b.type))
        )
        args = _args_change(a, b) if a and b else Spec(x.args)
        output = (
            _pair(a.output if a else None, b.output if b else None, shape_text)
            if a and b
            else shape_text(x.output)
        )
        params = _pair(a.params, b.params, num) if a and b else num(x.params)
        macs = _pair(a.macs, b.macs, num) if a and b else num(x.macs)
        memory = (
            _pair(a.activation_bytes, b.activation_bytes, human_bytes)
            if a and b
            else human_bytes(x.activation_bytes)
        )
        rows.append(
            Row((DIFF_MARKS[c.status], name, typ, args, output, params, macs, memory), kind="layer")
        )
        records.append(
            [
                Spec(old_file),
                Spec(new_file),
                c.status,
                Spec(a.name) if a else "",
                Spec(b.name) if b else "",
                Spec(x.type),
                shape_text(a.output) if a else "",
                shape_text(b.output) if b else "",
                a.params if a else "",
                b.params if b else "",
                a.macs if a else "",
                b.macs if b else "",
                Spec(a.type) if a else "",
                Spec(a.args) if a else "",
                Spec(b.args) if b else "",
            ]
        )
        what = ", ".join(c.what) if c.what else ""
        if c.status == "added":
            message = (
                Spec(x.name),
                f" added: {x.type}, output {shape_text(x.output)}, {num(x.params)} params",
            )
        elif c.status == "removed":
            message = (Spec(x.name), f" removed ({num(x.params)} params)")
        elif c.status == "renamed":
            message = (Spec(a.name), " renamed to ", Spec(b.name))
        else:
            message = (
                Spec(x.name),
                f" changed ({what}): ",
                *(
                    (*_args_change(a, b, types=True), "; ")
                    if {"args", "type"} & set(c.what)
                    else ()
                ),
                f"output {output}, params {params}, MACs {macs}",
            )
        annotations.append((Spec(new_file), b.line if b else None, message))
    notes = [
        f"{METRIC_NAMES[k]}: {_delta(o, n, unit)}" for k, unit in _units() for o, n in [d.totals[k]]
    ]
    notes.append(("Output: ", *_output_change(d)))
    for rule in d.fired:  # what fired, with the values that made it fire
        why = fired_text(d, rule)
        notes.append(why)
        annotations.append((Spec(new_file), None, why, "error"))
    from .analyses.diff import percent

    payload = {
        "old": old_file,
        "new": new_file,
        "old_name": old_name,
        "new_name": new_name,
        "summary": "".join(map(str, diff_summary(d))),
        "changes": [
            {
                "status": c.status,
                "old": None if c.old is None else _item_json(c.old),
                "new": None if c.new is None else _item_json(c.new),
                "what": list(c.what),
            }
            for c in d.changes
            if c.status != "same"
        ],
        "unchanged": d.count("same"),
        "totals": {
            k: {"old": o, "new": n, "delta": n - o, "percent": percent(o, n)}
            for k, (o, n) in d.totals.items()
        },
        "output": {"old": d.output[0], "new": d.output[1], "changed": d.output_changed},
        "failed": list(d.failed),
    }
    return Table(
        title=Spec(new_name or old_name or new_file),  # the network under review
        caption=(Spec(old_file), " -> ", Spec(new_file)),
        columns=list(DIFF_COLUMNS),
        rows=rows,
        notes=notes,
        status="failed" if d.failed else "",
        payload=payload,
        records=(
            [
                "old_file",
                "new_file",
                "status",
                "old_name",
                "new_name",
                "type",
                "old_output",
                "new_output",
                "old_params",
                "new_params",
                "old_macs",
                "new_macs",
                "old_type",
                "old_args",
                "new_args",
            ],
            records,
        ),
        lead=[diff_summary(d)],
        details=f"{len(d.changes) - d.count('same'):,} of {len(d.changes):,} layers differ",
        annotations=annotations,
        limit=None,
    )


def _args_change(a, b, types: bool = False) -> tuple:
    """A changed layer's arguments: 'k=3 s=1 p=1 -> k=3 s=1 p=1 bias=False' ('(none)' for
    no arguments, a side holding an arrow in parentheses: '(512->1000) -> (512->10)'),
    with ``types`` the types too when they differ ('add -> relu'), or the arguments as
    they are."""

    def side(x, with_type: bool) -> tuple:
        text = x.args or ("" if with_type else "(none)")
        shown = (Spec(f"({text})") if "->" in text else Spec(text),) if text else ()
        if with_type:
            return (Spec(x.type), " ", *shown) if shown else (Spec(x.type),)
        return shown

    with_type = types and a.type != b.type
    if with_type or a.args != b.args:
        return (*side(a, with_type), " -> ", *side(b, with_type))
    return (Spec(b.args),)


def _units():
    from .analyses.diff import METRICS

    return list(METRICS.items())


def _item_json(x) -> dict:
    return {
        "name": x.name,
        "type": x.type,
        "args": x.args,
        "output": list(x.output),
        "params": x.params,
        "macs": x.macs,
        "activation_bytes": x.activation_bytes,
        "line": x.line,
    }
