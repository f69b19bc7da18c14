"""The spec language as a JSON Schema (draft-07), generated from the layer registry.

One source of truth: every layer type's arguments, defaults and docs come from
``layercalc.layers.REGISTRY``, the expectations from ``layercalc.analyses.expectations``, the lint codes
from ``layercalc.analyses.lint``. Editors (the YAML language server) use it to complete and
validate specs; layercalc itself never needs it.

Type names match as layercalc matches them, ignoring case and underscores: each type's
spellings become one pattern, and its canonical, alias and torch.nn class names are
listed as properties so that editors can complete them.

Blocks: block names are chosen by the spec, which a static schema cannot know. So a
spec *without* ``blocks:`` accepts known layer types only (an unknown type is
rejected), while in a spec *with* ``blocks:`` an entry may also be any other identifier
(a block's name, taking any arguments); ``layercalc check`` still reports a type that
is neither a layer type nor one of the spec's blocks.
"""

from __future__ import annotations

import re

from .analyses.expectations import EXPECT_KEYS
from .layers import REGISTRY
from .layers.base import REQUIRED
from .analyses.lint import LEVELS, RULES
from .spec import DTYPE_BYTES, TOP_KEYS

DRAFT = "http://json-schema.org/draft-07/schema#"
IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"
META = {
    "name": {
        "type": ["string", "integer"],
        "description": "the layer's name (default: its index in its list)",
    },
    "from": {
        "anyOf": [
            {"type": ["string", "integer"]},
            {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}},
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": ["string", "integer"]},
            },
        ],
        "description": "the sibling entries (or `input`) feeding this one; a mapping "
        "names them by keyword (query, key, value, key_padding_mask)",
    },
    "repeat": {
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string"},
            {
                "type": "object",
                "required": ["times"],
                "additionalProperties": False,
                "properties": {
                    "times": {"type": ["integer", "string"]},
                    "as": {"type": "string", "pattern": IDENTIFIER},
                    "chain": {"type": ["string", "integer"]},
                },
            },
        ],
        "description": "apply the entry N times in sequence (0: none); unnamed copies are "
        "spliced into the list's numbering; {times: N, as: j} makes j "
        "visible to each copy; chain: OUTPUT feeds each copy that output of "
        "the one before",
    },
    "when": {
        "type": ["boolean", "integer", "number", "string"],
        "description": "keep the entry when this expression is non-zero",
    },
    "trainable": {"type": ["boolean", "string"], "description": "false: its parameters are frozen"},
    "torch_name": {
        "type": ["string", "integer"],
        "description": "this module's name in PyTorch where the language reserves its "
        "own (BERT's attention.output, written output_): state_dict keys below it use it",
    },
    "tie": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "this layer's tensor -> an earlier tensor's state_dict key: one "
        "tensor, counted once (weight tying)",
    },
}
_EXPR = {"type": "string", "description": "an expression over vars and block arguments"}
NAMES = {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}}
SHARE = {
    "type": "object",
    "required": ["share"],
    "additionalProperties": False,
    "properties": {
        "share": {
            "type": ["string", "integer"],
            "description": "an earlier module or group of this list "
            "(dotted paths allowed), called again",
        },
        "from": META["from"],
        "name": META["name"],
        "when": META["when"],
    },
    "description": "another call of an earlier module: its names, no new parameters",
}


def name_pattern(keys) -> str:
    """A regex matching every spelling that normalises to one of ``keys``: case and
    underscores are ignored, as in :meth:`Registry.normalize`.

    >>> bool(re.match(name_pattern(["conv2d"]), "Conv_2D"))
    True
    """

    def one(key):
        return "_*".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in key)

    return "^_*(?:" + "|".join(one(k) for k in sorted(keys)) + ")_*$"


def _int(minimum=None) -> dict:
    s: dict = {"type": "integer"}
    if minimum is not None:
        s["minimum"] = minimum
    return {"anyOf": [s, _EXPR]}


def _value(arg) -> dict:
    """The schema of one argument value, by its kind (layers.base.KINDS)."""
    kind = arg.kind
    number = {"anyOf": [{"type": "number"}, _EXPR]}
    if kind == "int":
        s = _int(arg.min)
    elif kind == "float":
        s = number
    elif kind == "bool":
        s = {"type": ["boolean", "string"]}
    elif kind in ("size", "padding"):
        one = _int(arg.min)
        s = {"anyOf": one["anyOf"] + [{"type": "array", "minItems": 1, "items": one}]}
        if arg.words:
            s["anyOf"].insert(0, {"enum": list(arg.words)})
    elif kind == "choice":
        s = {"anyOf": [{"enum": list(arg.words)}, _EXPR]}
    elif kind == "layer":  # a layer type or block name, or a one-key mapping to its args
        s = {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "minProperties": 1, "maxProperties": 1},
            ]
        }
    else:  # ints, opt_ints, scale, shape: a number or a list of them
        item = (
            {"anyOf": [{"type": "number"}, {"type": "null"}, _EXPR]}
            if kind == "opt_ints"
            else number
        )
        s = {"anyOf": item["anyOf"] + [{"type": "array", "minItems": 1, "items": item}]}
    if arg.nullable or kind == "opt_ints":
        s = (
            {"anyOf": s["anyOf"] + [{"type": "null"}]}
            if "anyOf" in s
            else {"type": s["type"] + ["null"]}
        )
    doc = arg.doc + "; " if arg.doc else ""
    s["description"] = doc + (
        "required" if arg.default is REQUIRED else f"default: {_show(arg.default)}"
    )
    return s


def _show(v) -> str:
    return (
        {True: "true", False: "false", None: "null"}.get(v, str(v))
        if isinstance(v, (bool, type(None)))
        else str(v)
    )


def _args(lt, long: bool) -> dict:
    props = {a.name: _value(a) for a in lt.args}
    props.update(META)
    if long:
        props["type"] = {"type": "string"}
    s = {"type": "object", "properties": props, "additionalProperties": False}
    required = [a.name for a in lt.args if a.default is REQUIRED]
    if required:
        s["required"] = required
    return s


def _torch_name(lt) -> str | None:
    first = lt.doc.split()[0] if lt.doc else ""
    if first.startswith("torch.nn.") and first.count(".") == 2:
        return first.rsplit(".", 1)[1]
    return None


def _types() -> list:
    """[(canonical name, layer type, every normalised spelling, names to list)]."""
    keys: dict = {}
    for key, lt in REGISTRY.types.items():
        keys.setdefault(id(lt), []).append(key)
    out = []
    for name, lt in REGISTRY.canonical.items():
        shown = [name, *lt.aliases]
        torch = _torch_name(lt)
        if torch and REGISTRY.get(torch) is lt:
            shown.append(torch)
        out.append((name, lt, keys[id(lt)], shown))
    return out


def spec_schema() -> dict:
    types = _types()
    defs: dict = {}
    known, bare = [], []
    for name, lt, keys, _ in types:
        defs[f"args.{name}"] = _args(lt, False)
        defs[f"long.{name}"] = _args(lt, True)
        known += keys
        if not any(a.default is REQUIRED for a in lt.args):
            bare += keys
    seq = "sequential"
    known_all = name_pattern(known + [seq])
    for mode in ("strict", "loose"):
        lst = f"layers.{mode}"
        seq_args = {
            "type": "object",
            "required": ["layers"],
            "additionalProperties": False,
            "properties": {**META, "layers": {"$ref": f"#/definitions/{lst}"}},
            "description": "an inline group of layers, named like nn.Sequential",
        }
        defs[f"sequential.{mode}"] = seq_args
        defs[f"sequential_long.{mode}"] = {
            **seq_args,
            "properties": {**seq_args["properties"], "type": {"type": "string"}},
        }
        props, patterns = {}, {}
        for name, lt, keys, shown in types:
            ref = {"$ref": f"#/definitions/args.{name}"}
            entry = (
                ref
                if any(a.default is REQUIRED for a in lt.args)
                else {"anyOf": [{"type": "null"}, ref]}
            )
            for n in shown:
                props[n] = {**entry, "description": lt.doc or n}
            patterns[name_pattern(keys)] = entry
        props[seq] = {"$ref": f"#/definitions/sequential.{mode}"}
        patterns[name_pattern([seq])] = props[seq]
        short = {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": props,
            "patternProperties": patterns,
        }
        long_type = {"type": "string"}
        if mode == "strict":
            short["additionalProperties"] = False
            long_type["pattern"] = known_all
            string_form = {
                "type": "string",
                "pattern": name_pattern(bare),
                "description": "a layer type with all its defaults",
            }
        else:
            short["propertyNames"] = {"pattern": IDENTIFIER}
            short["additionalProperties"] = {"$ref": "#/definitions/block_args"}
            long_type["pattern"] = IDENTIFIER
            string_form = {
                "type": "string",
                "pattern": IDENTIFIER,
                "description": "a layer type with all its defaults, or a block",
            }
        long = {
            "type": "object",
            "required": ["type"],
            "properties": {"type": long_type},
            "allOf": [
                {
                    "if": {"properties": {"type": {"pattern": name_pattern(keys)}}},
                    "then": {"$ref": f"#/definitions/long.{name}"},
                }
                for name, lt, keys, _ in types
            ]
            + [
                {
                    "if": {"properties": {"type": {"pattern": name_pattern([seq])}}},
                    "then": {"$ref": f"#/definitions/sequential_long.{mode}"},
                }
            ],
        }
        defs[f"entry.{mode}"] = {
            "if": {"type": "object", "required": ["type"]},
            "then": long,
            "else": {"anyOf": [string_form, short, SHARE]},
        }
        defs[lst] = {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": f"#/definitions/entry.{mode}"},
        }
    scalar_or_list = {"type": ["number", "string", "boolean", "array", "null"]}
    # a block argument may also hold a layer: {group_norm: {num_groups: 32}}
    arg_value = {"type": ["number", "string", "boolean", "array", "null", "object"]}
    defs["block_args"] = {
        "anyOf": [
            {"type": "null"},
            {"type": "object", "properties": META, "additionalProperties": arg_value},
        ],
        "description": "a block of this spec, with its arguments",
    }
    shape = {
        "type": "array",
        "minItems": 1,
        "items": _int(1),
        "description": "a full tensor shape, batch first",
    }
    count = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
    expect = {k: {**count, "description": doc} for k, doc in EXPECT_KEYS.items()}
    # an output may be 0-d (a sum over every dim): [] is its shape, unlike an input's
    out_shape = {
        **shape,
        "minItems": 0,
        "description": "a full tensor shape, batch first; [] for a 0-d output",
    }
    expect["output"] = {
        "anyOf": [out_shape, {"type": "object", "additionalProperties": out_shape}],
        "description": EXPECT_KEYS["output"],
    }
    properties = {
        "name": {"type": ["string", "number"], "description": "title shown above tables"},
        "description": {"type": "string"},
        "vars": {
            "type": "object",
            "propertyNames": {"pattern": IDENTIFIER},
            "additionalProperties": scalar_or_list,
            "description": "names usable in expressions; may refer to earlier vars",
        },
        "input": {
            "anyOf": [
                shape,
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": IDENTIFIER},
                    "additionalProperties": shape,
                },
            ],
            "description": "the input tensor shape, batch first; or name -> shape "
            "for several inputs",
        },
        "dtype": {"enum": list(DTYPE_BYTES), "description": "element type for memory figures"},
        "blocks": {
            "type": "object",
            "propertyNames": {"pattern": IDENTIFIER},
            "additionalProperties": {
                "type": "object",
                "required": ["layers"],
                "additionalProperties": False,
                "properties": {
                    "args": {
                        "type": ["object", "null"],
                        "additionalProperties": arg_value,
                        "description": "argument defaults (null: required)",
                    },
                    "inputs": {
                        **NAMES,
                        "description": "the block's inputs, in the "
                        "order of a use's `from` (default: one, input)",
                    },
                    "outputs": {
                        **NAMES,
                        "description": "members exposed as USE.NAME; the first is the use's output",
                    },
                    "layers": {"$ref": "#/definitions/layers.loose"},
                    "description": {"type": "string"},
                },
            },
            "description": "reusable sub-networks, used like layer types",
        },
        "layers": {"description": "the network, in order"},
        "outputs": {
            "anyOf": [
                {"type": ["string", "integer"]},
                {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}},
            ],
            "description": "the layers whose outputs are the network's outputs",
        },
        "expect": {
            "type": "object",
            "properties": expect,
            "additionalProperties": False,
            "description": "assertions checked by `layercalc check`",
        },
        "lint": {
            "type": "object",
            "properties": {
                code: {"enum": [*LEVELS, False, True], "description": rule.summary}
                for code, rule in RULES.items()
            },
            "additionalProperties": False,
            "description": "lint rule levels: off, warning (default) or error",
        },
    }
    assert set(properties) == set(TOP_KEYS), "the schema must cover every top-level key"
    return {
        "$schema": DRAFT,
        "title": "layercalc spec",
        "description": "A neural network described in YAML for layercalc "
        "(`layercalc schema` generates this from the layer registry).",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        "properties": properties,
        "if": {"required": ["blocks"]},
        "then": {"properties": {"layers": {"$ref": "#/definitions/layers.loose"}}},
        "else": {"properties": {"layers": {"$ref": "#/definitions/layers.strict"}}},
        "definitions": defs,
    }
