"""The layer catalogue (`layercalc layers`), generated from the registry."""
from __future__ import annotations

import json

from .errors import did_you_mean
from .layers import REGISTRY, REQUIRED


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
    if names:
        for n in names:
            lt = REGISTRY.get(n)
            if lt is None:
                hint = did_you_mean(n, REGISTRY.canonical, REGISTRY.normalize)
                return f"unknown layer type {n!r}" + (f"; {hint}" if hint else "")
            types.append(lt)
    else:
        types = list(REGISTRY.canonical.values())
    out = []
    for lt in types:
        aliases = [a for a in lt.aliases]
        out.append({
            "type": lt.name,
            "family": lt.family,
            "pytorch": lt.doc,
            "aliases": aliases,
            "args": [{"name": a.name, "kind": a.kind, "default": _default(a),
                      "choices": list(a.words), "doc": a.doc} for a in lt.args],
        })
    return out


def render_catalog(entries, fmt: str, width=None) -> str:
    if fmt == "json":
        return json.dumps(entries, indent=2) + "\n"
    if fmt == "markdown":
        lines = ["| type | arguments (defaults) | PyTorch |", "|---|---|---|"]
        for e in entries:
            lines.append(f"| `{e['type']}` | {_args_text(e)} | {e['pytorch']} |")
        return "\n".join(lines) + "\n"
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells as Text: a "[N, C]" in a doc is not rich markup

    buf = io.StringIO()
    console = Console(file=buf, width=width or 120, color_system=None, highlight=False)
    table = Table(title="layercalc layer types", header_style="bold")
    table.add_column("Type")
    table.add_column("Arguments (defaults)", overflow="fold")
    table.add_column("PyTorch")
    for e in entries:
        name = e["type"] + (f" ({', '.join(e['aliases'])})" if e["aliases"] else "")
        table.add_row(Text(name), Text(_args_text(e)), Text(e["pytorch"]))
    console.print(table)
    console.print("Names match case- and underscore-insensitively; a name without a "
                  "dimension (conv, batch_norm, max_pool...) picks the variant from the "
                  "input rank.")
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
