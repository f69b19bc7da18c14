"""The layer catalogue (`layercalc layers`), generated from the registry."""

from __future__ import annotations

import json

from .errors import did_you_mean
from .layers import REGISTRY, REQUIRED


# The spec language's keys beside the layer types (SPEC.md sections 3, 5 and 11): where
# each goes, what it does, and an example, for `layercalc layers` and `layers KEY`.
KEYS = (
    (
        "name",
        "entry",
        "the entry's name (default: its index among the kept entries); may "
        "hold {expressions}, so a repeat names each copy",
        'name: "denselayer{j + 1}"',
    ),
    (
        "from",
        "entry",
        "the entries feeding this one: earlier names of the same list, input, "
        "a network input, or a dotted path into a group (USE.OUTPUT for a block's outputs)",
        "from: [bn3, downsample]  /  from: layer1.0.bn2",
    ),
    (
        "repeat",
        "entry",
        "N copies in sequence; unnamed copies continue the list's "
        "numbering, named ones are NAME.0 ...; {times, as} makes the copy number visible; "
        "chain feeds each copy that output of the one before",
        "repeat: {times: 6, as: j, chain: joined}",
    ),
    (
        "when",
        "entry",
        "keep the entry only when the expression is non-zero; an omitted entry takes no index",
        "when: stride != 1 or in_shape(1) != planes * 4",
    ),
    ("trainable", "entry", "false freezes the entry's parameters", "trainable: false"),
    (
        "share",
        "entry",
        "another call of an earlier module or group (dotted paths allowed): "
        "rows under its own names, no new parameters; takes from, name and when",
        "- share: relu",
    ),
    (
        "in_shape",
        "expression",
        "in_shape(i): dim i of the entry's first input (negative from "
        "the end); in_shape(i, k): of its k-th input; input_shape(i): of the network's input",
        "groups: in_shape(1)",
    ),
    (
        "args",
        "block",
        "the block's arguments with defaults (null: required); a default may "
        "read the use's in_shape(); an argument may hold a layer (a type, a one-key mapping, "
        "none) that entries of the block use as their type",
        "args: {planes: null, stride: 1, act: relu}",
    ),
    (
        "layer argument",
        "block use",
        "a layer-valued argument: a type or block name, "
        "{type: {arguments}}, or none (the entry is left out); inside the block an entry whose "
        "type is the argument's name becomes that layer",
        "- cna: {out: 64, act: {leaky_relu: {negative_slope: 0.2}}}",
    ),
    (
        "inputs",
        "block",
        "several inputs: a use's from names one per input; inside, input is "
        "the first and each is visible by name",
        "inputs: [x, skip]",
    ),
    (
        "outputs",
        "block",
        "members exposed as USE.NAME; the first is the use's output",
        "outputs: [conv2, joined]",
    ),
    (
        "recursion",
        "block",
        "a block may use itself under a when (or repeat count) its "
        "arguments drive to 0; deeper than 64 levels is an error",
        "- unet_block: {level: level + 1, when: level < 7}",
    ),
    (
        "input",
        "top level",
        "the input shape, batch first; or name -> shape for several "
        "inputs (--input NAME=SIZES, npz keys input.NAME)",
        "input: {image: [1, 3, 224, 224], meta: [1, 10]}",
    ),
)


def key_entries(names=()) -> list[dict]:
    """The language keys (all, or those named) as catalogue entries."""
    return [
        {"key": k, "where": w, "doc": d, "example": x}
        for k, w, d, x in KEYS
        if not names or k in names
    ]


def _default(arg) -> str:
    if arg.default is REQUIRED:
        return "required"
    if arg.default is None:
        return "inferred" if "inferred" in arg.doc else "none"
    if isinstance(arg.default, bool):
        return "true" if arg.default else "false"
    return str(arg.default)


def catalog(names=()) -> list[dict] | str:
    """Entries for the given type names (all when empty), or an error message."""
    types = []
    keys = [k for k, *_ in KEYS]
    if names:
        for n in names:
            if n in keys:
                continue  # a language key: key_entries() documents it
            lt = REGISTRY.get(n)
            if lt is None:
                hint = did_you_mean(n, list(REGISTRY.canonical) + keys, REGISTRY.normalize)
                return f"unknown layer type or key {n!r}" + (f"; {hint}" if hint else "")
            types.append(lt)
        if not types:
            return []
    else:
        types = list(REGISTRY.canonical.values())
    out = []
    for lt in types:
        aliases = [a for a in lt.aliases]
        out.append(
            {
                "type": lt.name,
                "family": lt.family,
                "pytorch": lt.doc,
                "aliases": aliases,
                "args": [
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "default": _default(a),
                        "choices": list(a.words),
                        "doc": a.doc,
                    }
                    for a in lt.args
                ],
            }
        )
    return out


def render_catalog(entries, fmt: str, width=None, keys=()) -> str:
    """The types table, then (``keys``: key_entries) the language keys with examples."""
    if fmt == "json":
        return json.dumps(entries + list(keys), indent=2) + "\n"
    if fmt == "markdown":
        lines = []
        if entries:
            lines += ["| type | arguments (defaults) | PyTorch |", "|---|---|---|"]
            for e in entries:
                lines.append(f"| `{e['type']}` | {_args_text(e)} | {e['pytorch']} |")
        if keys:
            lines += ([""] if lines else []) + [
                "| key | where | what | example |",
                "|---|---|---|---|",
            ]
            for k in keys:
                lines.append(f"| `{k['key']}` | {k['where']} | {k['doc']} | `{k['example']}` |")
        return "\n".join(lines) + "\n"
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells as Text: a "[N, C]" in a doc is not rich markup

    buf = io.StringIO()
    console = Console(file=buf, width=width or 120, color_system=None, highlight=False)
    if keys:
        ktable = Table(title="spec keys", header_style="bold")
        ktable.add_column("Key")
        ktable.add_column("Where")
        ktable.add_column("What", overflow="fold")
        ktable.add_column("Example", overflow="fold")
        for k in keys:
            ktable.add_row(Text(k["key"]), Text(k["where"]), Text(k["doc"]), Text(k["example"]))
    if not entries:
        console.print(ktable)
        return buf.getvalue()
    table = Table(title="layercalc layer types", header_style="bold")
    table.add_column("Type")
    table.add_column("Arguments (defaults)", overflow="fold")
    table.add_column("PyTorch")
    for e in entries:
        name = e["type"] + (f" ({', '.join(e['aliases'])})" if e["aliases"] else "")
        table.add_row(Text(name), Text(_args_text(e)), Text(e["pytorch"]))
    console.print(table)
    console.print(
        "Names match case- and underscore-insensitively; a name without a "
        "dimension (conv, batch_norm, max_pool...) picks the variant from the "
        "input rank."
    )
    if keys:
        console.print(ktable)
    return buf.getvalue()


def _args_text(e) -> str:
    parts = []
    for a in e["args"]:
        d = a["default"]
        text = a["name"] if d == "required" else f"{a['name']}={d}"
        if a["choices"] and a["kind"] == "choice":
            text += " (" + "|".join(a["choices"]) + ")"
        parts.append(text)
    return ", ".join(parts) or "-"
