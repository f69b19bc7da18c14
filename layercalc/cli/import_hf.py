"""`layercalc import hf CONFIG.json [-o SPEC.yaml]`: a spec from a Hugging Face config."""

from __future__ import annotations

import os
import re

import click

from .common import click_option
from .imports import SPEC_OUTPUT
from .options import MAX_LAYERS

from ..text import printable

# the spec's vars and block arguments -> the config keys they come from
_KEY_OF = {
    "heads": "num_attention_heads",
    "kv_heads": "num_key_value_heads",
    "hidden": "hidden_size",
    "qkv_bias": "attention_bias",
    "o_bias": "attention_bias",
}


@click.command("hf")
@click.argument("config", metavar="CONFIG.json|DIR")
@click.option(
    "--architecture",
    "arch",
    default=None,
    metavar="CLASS",
    help="the transformers class to write, instead of the config's architectures[0] "
    "(e.g. LlamaModel, BertForSequenceClassification)",
)
@click_option(MAX_LAYERS)
@SPEC_OUTPUT
def COMMAND(config, arch, max_layers, output):
    """Write a spec from a Hugging Face config.json (no weights, no transformers).

    \b
    llama, mistral, qwen2: *ForCausalLM (default), *Model,
      *ForSequenceClassification, *ForTokenClassification,
      *ForQuestionAnswering
    gpt2: GPT2LMHeadModel (default), GPT2Model, GPT2ForSequenceClassification,
      GPT2ForTokenClassification, GPT2ForQuestionAnswering
    bert: BertModel (default), BertForMaskedLM, BertForSequenceClassification,
      BertForTokenClassification, BertForQuestionAnswering

    The class is the config's architectures[0] (the first, with a warning, when it
    lists several) or --architecture; any other class is refused. Keys the config
    leaves out take transformers' config defaults; what transformers refuses
    (heads that do not divide the hidden size, add_cross_attention, ...) is
    refused naming the key. The spec is written with blocks and repeat (never
    unrolled), its module names are the checkpoint's keys (check --weights
    validates a checkpoint) and the config's values are its vars (--set works on
    it; cost --context reads sliding_window and max_position_embeddings). A
    directory (a downloaded model's) is read through its config.json.
    """
    from ..importers.hf import ImportFailed, convert, load_config
    from ..spec import Limits
    from .imports import check_output, fail, write_spec

    if os.path.isdir(config):  # a downloaded model's directory: its config.json
        config = os.path.join(config, "config.json")
    if check_output(output, config, "config") is not None:  # a bad -o costs no conversion
        return 1
    try:
        cfg = load_config(config)
        text, warnings = convert(cfg, os.path.basename(config), arch)
    except ImportFailed as exc:
        if exc.at is not None:  # a position the file itself gives (JSON syntax)
            return fail(f"{config}:{exc.at[0]}:{exc.at[1]}: {exc}")
        return fail(_at_key(config, getattr(exc, "key", None), str(exc)))
    for w in warnings:
        click.echo(f"warning: {printable(w)}", err=True)
    # proved before it is written, as import torch does: a config whose numbers PyTorch
    # would refuse writes nothing, and each problem is told at the config's key
    from ..analyses.loading import analyse_bytes

    proof = analyse_bytes(
        text.encode("utf-8"), "<spec>", limits=Limits(max_layers=max_layers or 100_000)
    )
    if not proof.ok:
        lines, shown = text.split("\n"), set()
        for d in proof.diagnostics:
            keys = _keys_on(lines[d.line - 1] if 0 < d.line <= len(lines) else "", cfg)
            where = f" (config key{'s' if len(keys) > 1 else ''} {', '.join(keys)})"
            said = _at_key(
                config,
                keys[0] if keys else None,
                f"error: {d.message}" + (where if keys else "") + f" [{d.code}]",
            )
            if said in shown:  # one value behind several layers (q_rot and k_rot)
                continue
            shown.add(said)
            click.echo(printable(said), err=True)
            if d.hint:
                click.echo(f"    hint: {printable(d.hint)}", err=True)
        if all(d.code == "too-many-layers" for d in proof.diagnostics):
            return fail(f"the spec made from {config} is too large (above); nothing was written")
        return fail(
            f"the spec made from {config} does not hold (above): transformers would refuse "
            "or fail on these values too; nothing was written"
        )
    return write_spec(output, text)


def _keys_on(line: str, cfg: dict) -> list:
    """The config keys behind the vars a line of the spec uses."""
    keys = []
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line.split("#", 1)[0]):
        key = _KEY_OF.get(word, word)
        if key in cfg and key not in keys and key != "name":
            keys.append(key)
    return keys


def _at_key(path: str, key: str | None, message: str) -> str:
    """``message`` located at ``key`` in the config file (``PATH:LINE:COL: ...``), or at
    the file when the key is not written there; a leading "config.json: " is replaced."""
    message = message.removeprefix("config.json: ")
    where = path
    if key is not None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(16 << 20)
        except OSError:
            text = ""
        m = re.search(r'"' + re.escape(key) + r'"\s*:', text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            where = f"{path}:{line}:{col}"
    return f"{where}: {message}"
