"""The layer catalogue (`layercalc layers`), generated from the registry."""

from __future__ import annotations

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
