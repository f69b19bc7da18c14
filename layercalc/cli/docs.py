"""`layercalc help [TOPIC]`: the reference shipped with the package (layercalc/docs/*.md,
read with importlib.resources, so a wheel install has it too)."""

from __future__ import annotations

import click

from ..errors import did_you_mean
from ..text import printable

# topic -> one-line summary; the text is layercalc/docs/<topic>.md, printed as is
TOPICS = {
    "spec": "the spec language: keys, entries, expressions, blocks, expect",
    "layers": "the layer types by family (`layercalc layers` has every argument)",
    "json": "the fields of --format json, command by command",
    "check": "the CI gate: expectations, lint rules, diagnostics and their codes",
    "cost": "how MACs, FLOPs, memory and receptive fields are counted",
    "verify": "the NumPy forward pass: what it checks, --save, --max-memory",
    "formats": "table, json, markdown, csv; --width, --depth, --full, NO_COLOR",
    "limits": "the bounds on input, and how spec text is printed safely",
    "diff": "comparing two versions: matching, rows, formats, --fail-on gates",
    "draw": "pictures: the graph and blocks styles, svg, html, dot, mermaid",
    "export": "a spec as a PyTorch module file: classes, build(), what is proven",
    "import": "specs from torch modules, ONNX files and Hugging Face configs",
}


def topic_text(topic: str) -> str:
    """The text of one topic, from the package data."""
    from importlib.resources import files

    return (files("layercalc") / "docs" / f"{topic}.md").read_text(encoding="utf-8")


def topic_list() -> str:
    width = max(map(len, TOPICS))
    lines = ["layercalc help TOPIC prints one of these (shipped with the package):", ""]
    lines += [f"  {name.ljust(width)}  {summary}" for name, summary in TOPICS.items()]
    lines += ["", "Each command explains its options: layercalc COMMAND --help."]
    return "\n".join(lines)


@click.command("help")
@click.argument("topic", required=False)
@click.pass_context
def help_command(ctx, topic):
    """Show the language reference and other topics (no TOPIC: list them).

    \b
      layercalc help spec      the full spec language reference
      layercalc help check     expectations, lint rules, diagnostic codes
    """
    if topic is None:
        click.echo(topic_list())
        return 0
    if topic not in TOPICS:
        hint = did_you_mean(topic, list(TOPICS))
        message = f"no help topic '{topic}'"
        message += f"; {hint}" if hint else f" (topics: {', '.join(TOPICS)})"
        raise click.UsageError(printable(message), ctx)
    click.echo(topic_text(topic), nl=False)
    return 0


COMMANDS = (help_command,)
