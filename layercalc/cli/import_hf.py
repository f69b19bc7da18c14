"""`layercalc import hf CONFIG.json [-o SPEC.yaml]`: a spec from a Hugging Face config."""

from __future__ import annotations

import os

import click

from .imports import SPEC_OUTPUT

from ..text import printable


@click.command("hf")
@click.argument("config", metavar="CONFIG.json|DIR")
@SPEC_OUTPUT
def COMMAND(config, output):
    """Write a spec from a Hugging Face config.json (no weights, no transformers).

    \b
    llama, mistral, qwen2 -> *ForCausalLM (model.layers.N..., lm_head)
    gpt2                  -> GPT2LMHeadModel (transformer.h.N..., lm_head)
    bert                  -> BertModel (embeddings, encoder.layer.N, pooler)

    The spec is written with blocks and repeat (never unrolled), its module names are
    the checkpoint's keys and the config's values are its vars (--set works on it).
    Other model types are refused, naming what is missing. A directory (a downloaded
    model's) is read through its config.json.
    """
    from ..importers.hf import ImportFailed, convert, load_config
    from .imports import check_output, fail, write_spec

    if os.path.isdir(config):  # a downloaded model's directory: its config.json
        config = os.path.join(config, "config.json")
    if check_output(output, config, "config") is not None:  # a bad -o costs no conversion
        return 1
    try:
        text, warnings = convert(load_config(config), os.path.basename(config))
    except ImportFailed as exc:
        return fail(str(exc))
    for w in warnings:
        click.echo(f"warning: {printable(w)}", err=True)
    # proved before it is written, as import torch does: a config whose numbers PyTorch
    # would refuse (heads not a multiple of the key/value heads, ...) writes nothing
    from ..analyses.loading import analyse_bytes
    from .run import format_diagnostic

    proof = analyse_bytes(text.encode("utf-8"), output if output not in (None, "-") else "<spec>")
    if not proof.ok:
        for d in proof.diagnostics:
            click.echo(format_diagnostic(d), err=True)
        return fail(f"the spec made from {config} does not hold (above); nothing was written")
    return write_spec(output, text)
