"""`layercalc import hf CONFIG.json [-o SPEC.yaml]`: a spec from a Hugging Face config."""

from __future__ import annotations

import os

import click


@click.command("hf")
@click.argument("config", metavar="CONFIG.json")
@click.option(
    "-o",
    "--output",
    "output",
    metavar="SPEC.yaml",
    default=None,
    help="write the spec to this file (atomically) instead of standard output",
)
def COMMAND(config, output):
    """Write a spec from a Hugging Face config.json (no weights, no transformers).

    \b
    llama, mistral, qwen2 -> *ForCausalLM (model.layers.N..., lm_head)
    gpt2                  -> GPT2LMHeadModel (transformer.h.N..., lm_head)
    bert                  -> BertModel (embeddings, encoder.layer.N, pooler)

    The spec is written with blocks and repeat (never unrolled), its module names are
    the checkpoint's keys and the config's values are its vars (--set works on it).
    Other model types are refused, naming what is missing.
    """
    from ..importers.hf import ImportFailed, convert, load_config
    from ..outfile import OutputError, check_target

    if output is not None and output != "-":
        try:
            real, _ = check_target(output)  # a bad -o costs no conversion
        except OutputError as exc:
            click.echo(f"error: {exc} ({exc.hint})", err=True)
            return 1
        if os.path.exists(real) and os.path.exists(config) and os.path.samefile(real, config):
            click.echo(
                f"error: -o {output} is the config file itself; choose another name", err=True
            )
            return 1
    try:
        text, warnings = convert(load_config(config), os.path.basename(config))
    except ImportFailed as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    # proved before it is written, as import torch does: a config whose numbers PyTorch
    # would refuse (heads not a multiple of the key/value heads, ...) writes nothing
    from ..analyses.loading import analyse_bytes
    from .run import format_diagnostic

    proof = analyse_bytes(text.encode("utf-8"), output if output not in (None, "-") else "<spec>")
    if not proof.ok:
        for d in proof.diagnostics:
            click.echo(format_diagnostic(d), err=True)
        click.echo(
            f"error: the spec made from {config} does not hold (above); nothing was written",
            err=True,
        )
        return 1
    from .imports import write_spec

    return write_spec(output, text)
