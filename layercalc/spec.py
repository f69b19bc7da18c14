"""Spec files -> a located, validated top level (SPEC.md sections 1-2 and 8).

``load_spec`` reads the top-level keys, evaluates ``vars`` eagerly in order (with
``--set`` overrides) and the input shape; layers and blocks stay as nodes for the
graph builder, expectations and lint settings for the checker.
"""

from __future__ import annotations

import math

from .errors import SpecError, SpecErrors, did_you_mean
from .expr import ExprError
from .values import MODE_NAMES, as_int, mode_name_error, resolve_scalar
from .yamlnodes import Mapping, Node, Scalar, Sequence, compose, decode

TOP_KEYS = (
    "name",
    "description",
    "vars",
    "input",
    "dtype",
    "blocks",
    "layers",
    "outputs",
    "expect",
    "lint",
)
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}
MAX_DIM = 2**31 - 1
BLOCK_KEYS = ("args", "layers", "description", "inputs", "outputs")
# keys every layer entry may carry beside its arguments (SPEC.md section 3)
META_KEYS = ("name", "from", "repeat", "trainable", "when", "tie", "torch_name")


# SPEC.md section 8's YAML bounds, as --max-yaml-depth and --max-alias-uses set them for
# this run (layercalc.cli.common.yaml_limit_options); Limits() starts from them
YAML_DEFAULTS = {"max_depth": 100, "max_alias_uses": 1}
YAML_LIMITS = dict(YAML_DEFAULTS)


# what people call the dtypes elsewhere (PyTorch's aliases, NumPy's and others' names)
DTYPE_NICKNAMES = {
    "fp32": "float32",
    "f32": "float32",
    "float": "float32",
    "single": "float32",
    "fp16": "float16",
    "f16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp64": "float64",
    "f64": "float64",
    "double": "float64",
    "i8": "int8",
    "qint8": "int8",
}


class Limits:
    """The bounds of SPEC.md section 8: leaf layers, YAML depth, aliases to one anchor,
    elements in one tensor."""

    __slots__ = ("max_alias_uses", "max_depth", "max_elements", "max_layers")

    def __init__(
        self,
        max_layers: int = 100_000,
        max_depth: int | None = None,
        max_elements: int = 2**48,
        max_alias_uses: int | None = None,
    ):
        self.max_layers = max_layers
        self.max_depth = YAML_LIMITS["max_depth"] if max_depth is None else max_depth
        self.max_elements = max_elements
        self.max_alias_uses = (
            YAML_LIMITS["max_alias_uses"] if max_alias_uses is None else max_alias_uses
        )

    @property
    def max_nodes(self) -> int:
        """YAML values one file may hold: ten per allowed layer, at least a million (a
        flat spec spends about five per layer; blocks and repeats far fewer)."""
        return max(1_000_000, 10 * self.max_layers)


class Spec:
    """A spec's top level, read and checked; the layers stay nodes for the builder."""

    __slots__ = (
        "file",
        "name",
        "description",
        "vars",
        "input",
        "input_node",
        "dtype",
        "blocks",
        "layers",
        "outputs",
        "expect",
        "lint",
        "root",
        "var_nodes",
        "inputs",
        "input_nodes",
        "block_inputs",
        "block_outputs",
        "pending",
    )

    def __init__(
        self,
        *,
        file: str,
        name: str,
        description: str,
        vars: dict,
        input: tuple,
        input_node: Node,
        dtype: str,
        blocks: dict,
        layers: Sequence,
        outputs: list,
        expect: Mapping | None,
        lint: Node | None,
        root: Mapping,
        var_nodes: dict | None = None,
    ):
        self.file = file
        self.name = name
        self.description = description
        self.vars = vars
        self.input = input
        self.input_node = input_node
        self.dtype = dtype
        self.blocks = blocks  # name -> (Mapping node of the block, key node)
        self.layers = layers
        self.outputs = outputs  # [(name, node)]
        self.expect = expect
        self.lint = lint
        self.root = root
        self.var_nodes = {} if var_nodes is None else var_nodes
        # independent errors of the top level (unknown keys) that did not stop the
        # reading: the builder reports them with its own (SPEC.md section 6)
        self.pending: list = []
        # a mapping `input:` (SPEC.md section 11): name -> shape, in order; else None
        self.inputs: dict | None = None
        self.input_nodes: dict = {}
        self.block_inputs: dict = {}  # block -> its `inputs:` names (["input"] when absent)
        self.block_outputs: dict = {}  # block -> [(name, node)] of its `outputs:`

    def input_refs(self) -> dict:
        """Every network input as ref -> shape, in order: "input", or "input.NAME" for
        each of a mapping `input:` (the npz keys of verify --save)."""
        if self.inputs is None:
            return {"input": self.input}
        return {f"input.{k}": v for k, v in self.inputs.items()}

    def named_inputs(self) -> dict:
        """name -> (ref, shape) for the inputs of a mapping `input:` ({} otherwise)."""
        if self.inputs is None:
            return {}
        return {k: (f"input.{k}", v) for k, v in self.inputs.items()}

    def input_json(self):
        """SPEC.md section 7's `input`: a shape, or name -> shape for several inputs."""
        if self.inputs is None:
            return list(self.input)
        return {k: list(v) for k, v in self.inputs.items()}


def parse_set_value(text: str):
    """A --set value: YAML scalar syntax (numbers, true/false) or an expression string."""
    import yaml

    try:
        v = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: ints beyond Python's digit limit
        return text
    if isinstance(v, float) and not math.isfinite(v):
        return text  # .inf / .nan: evaluated as an expression, which refuses them
    if isinstance(v, (int, float, bool, str)) or v is None:
        return v
    if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v):
        return v
    return text


def _vars(root: Mapping, overrides: dict) -> tuple[dict, dict]:
    node = root.get("vars")
    names: dict = {}
    nodes: dict = {}
    if node is None or (isinstance(node, Scalar) and node.value is None):
        items = []
    elif not isinstance(node, Mapping):
        raise SpecError("bad-vars", "vars must be a mapping of names to values", node=node)
    else:
        items = node.items
    for i, (knode, vnode) in enumerate(items):
        key = knode.value
        if not isinstance(key, str) or not key.isidentifier():
            raise SpecError(
                "bad-vars",
                f"var name {key!r} must be an identifier (letters, digits, _)",
                node=knode,
            )
        if key in ("input", "output"):
            raise SpecError("bad-vars", f"'{key}' is reserved and cannot be a var", node=knode)
        if key in MODE_NAMES:
            raise mode_name_error(key, knode, "var")
        nodes[key] = vnode
        if key in overrides:
            names[key] = overrides[key]
            continue
        try:
            names[key] = var_value(vnode, names, key)
        except SpecError as exc:
            raise _defined_later(exc, items[i + 1 :], key) from None
    for key, value in overrides.items():
        if key not in names:
            hint = did_you_mean(key, list(names)) or "add it under `vars:` in the spec"
            raise SpecError(
                "unknown-var",
                f"--set {key}: the spec has no var '{key}'",
                node=node if node is not None else root,
                hint=hint,
            )
        if isinstance(value, str):
            try:
                from .expr import evaluate

                names[key] = evaluate(value, names)
            except ExprError as exc:
                raise SpecError(
                    exc.code, f"--set {key}={value}: {exc.message}", node=nodes[key], hint=exc.hint
                ) from None
    return names, nodes


def _defined_later(exc: SpecError, later: list, key: str) -> SpecError:
    """``exc`` (from var ``key``'s value), said plainly when the unknown name it reports
    is a var defined further down: vars are read top to bottom."""
    if exc.code == "unknown-name":
        for knode, _ in later:
            if f"unknown name '{knode.value}'" in exc.message:
                return SpecError(
                    "unknown-name",
                    f"var '{key}' reads '{knode.value}', which is defined later in vars "
                    f"(line {knode.line}): vars are read top to bottom",
                    hint=f"move '{knode.value}' above '{key}'",
                    line=exc.line,
                    column=exc.column,
                )
    return exc


def var_value(vnode: Node, names: dict, what: str, words=()):
    """A var or block-argument value: a number, bool, expression, mode word or list."""
    if isinstance(vnode, Mapping):
        raise SpecError(
            "bad-vars",
            f"{what} must be a number, an expression or a list, not a mapping",
            node=vnode,
        )
    if isinstance(vnode, Sequence):
        out = []
        for item in vnode.items:
            if not isinstance(item, Scalar):
                raise SpecError("bad-vars", f"{what} may hold a flat list only", node=item)
            out.append(resolve_scalar(item, names, words))
        return out
    v = vnode.value
    if isinstance(v, str) and v.strip() in words:
        return v.strip()
    return resolve_scalar(vnode, names, words)


def _block_arg_name(anode: Scalar, block: str) -> None:
    """A block argument is visible to expressions and given beside the meta keys of a
    use, so it must be an identifier that is neither a meta key nor reserved."""
    a = anode.value
    if not isinstance(a, str) or not a.isidentifier():
        raise SpecError(
            "bad-block",
            f"argument {a!r} of block '{block}' must be an identifier (letters, digits, _)",
            node=anode,
        )
    if a in META_KEYS or a == "type":
        raise SpecError(
            "bad-block",
            f"block '{block}' cannot take an argument named '{a}': "
            f"on a use, `{a}` is a meta key, so the argument could never be given",
            node=anode,
            hint=f"rename the argument (e.g. '{a}_')",
        )
    if a in MODE_NAMES:
        raise mode_name_error(a, anode, "block argument")
    if a in ("input", "output"):
        raise SpecError(
            "bad-block",
            f"'{a}' is reserved and cannot be a block argument",
            node=anode,
            hint=f"rename the argument (e.g. '{a}_')",
        )


def _shape(node: Node, names: dict, what: str, max_elements: int = 2**48) -> tuple:
    if not isinstance(node, Sequence) or not node.items:
        raise SpecError(
            "bad-input",
            f"{what} must be a non-empty list of sizes, batch first, such as [1, 3, 64, 64]",
            node=node,
        )
    dims = []
    for item in node.items:
        if not isinstance(item, Scalar):
            raise SpecError("bad-input", f"{what} entries must be numbers", node=item)
        v = resolve_scalar(item, names)
        dims.append(as_int(v, item, f"{what} size", 1))
        if dims[-1] > MAX_DIM:
            raise SpecError("too-large", f"{what} size {dims[-1]} is beyond 2**31 - 1", node=item)
    total = math.prod(dims)
    if total > max_elements:
        raise SpecError(
            "too-large",
            f"{what} {dims} holds {total:,} elements, beyond the bound of {max_elements:,}",
            node=node,
        )
    return tuple(dims)


def load_spec(
    data: bytes,
    file: str,
    overrides: dict | None = None,
    input_override: tuple | None = None,
    limits: Limits | None = None,
) -> Spec:
    limits = limits or Limits()
    text = decode(data)
    root = compose(
        text, limits.max_depth, limits.max_nodes, ("name", "description"), limits.max_alias_uses
    )
    if not isinstance(root, Mapping):
        raise SpecError(
            "not-a-mapping",
            "the top level of a spec must be a mapping with `input:` and `layers:`",
            node=root,
        )
    # unknown top-level keys are independent errors: reported with what follows
    pending = [
        SpecError(
            "unknown-key",
            f"unknown top-level key '{knode.value}'",
            node=knode,
            hint=did_you_mean(str(knode.value), TOP_KEYS) or "allowed: " + ", ".join(TOP_KEYS),
        )
        for knode, _ in root.items
        if knode.value not in TOP_KEYS
    ][:50]
    try:
        spec = _top_level(root, file, overrides, input_override, limits)
    except SpecError as exc:
        if pending and not isinstance(exc, SpecErrors):
            raise SpecErrors(pending + [exc]) from None
        raise
    spec.pending = pending
    return spec


def _top_level(root: Mapping, file: str, overrides, input_override, limits) -> Spec:
    for key in ("name", "description"):  # compose refuses collections; aliases land here
        if key in root and not isinstance(root.get(key), Scalar):
            raise SpecError("bad-value", f"`{key}` must be text", node=root.get(key))
    names, var_nodes = _vars(root, overrides or {})
    name_node = root.get("name")
    name = (
        str(name_node.value)
        if isinstance(name_node, Scalar) and name_node.value is not None
        else file.rsplit("/", 1)[-1]
    )
    desc_node = root.get("description")
    description = (
        str(desc_node.value)
        if isinstance(desc_node, Scalar) and desc_node.value is not None
        else ""
    )
    if "input" not in root:
        raise SpecError(
            "missing-key",
            "the spec has no `input:` (the input tensor shape, batch first)",
            node=root,
            hint="add e.g. `input: [1, 3, 64, 64]`",
        )
    input_node = root.get("input")
    inputs, input_nodes = _inputs(input_node, names, limits, input_override)
    shape = next(iter(inputs.values()))
    dtype_node = root.get("dtype")
    dtype = "float32"
    if dtype_node is not None:
        dtype = str(dtype_node.value) if isinstance(dtype_node, Scalar) else None
        if dtype not in DTYPE_BYTES:
            short = DTYPE_NICKNAMES.get(str(dtype).lower().removeprefix("torch."))
            raise SpecError(
                "bad-value",
                f"dtype must be one of {', '.join(DTYPE_BYTES)}",
                node=dtype_node,
                hint=f"did you mean '{short}'?" if short else did_you_mean(str(dtype), DTYPE_BYTES),
            )
    layers = root.get("layers")
    if layers is None:
        raise SpecError(
            "missing-key",
            "the spec has no `layers:`",
            node=root,
            hint="add a list of layers, e.g. `layers: [linear: {out_features: 10}]`",
        )
    if not isinstance(layers, Sequence) or not layers.items:
        raise SpecError(
            "bad-layers", "layers must be a non-empty list of layer entries", node=layers
        )
    blocks: dict = {}
    block_io: tuple = ({}, {})
    bnode = root.get("blocks")
    if bnode is not None and not (isinstance(bnode, Scalar) and bnode.value is None):
        if not isinstance(bnode, Mapping):
            raise SpecError(
                "bad-block", "blocks must be a mapping of block names to definitions", node=bnode
            )
        for knode, vnode in bnode.items:
            if not isinstance(knode.value, str) or not knode.value.isidentifier():
                raise SpecError(
                    "bad-block", f"block name {knode.value!r} must be an identifier", node=knode
                )
            if not isinstance(vnode, Mapping):
                raise SpecError(
                    "bad-block",
                    f"block '{knode.value}' must be a mapping with "
                    "`layers:` (and optional `args:`)",
                    node=vnode,
                )
            for k, _ in vnode.items:
                if k.value not in BLOCK_KEYS:
                    raise SpecError(
                        "unknown-key",
                        f"unknown key '{k.value}' in block '{knode.value}'",
                        node=k,
                        hint=did_you_mean(str(k.value), BLOCK_KEYS),
                    )
            if "inputs" in vnode:
                ins = _io_names(vnode.get("inputs"), "inputs", knode.value)
                for v, item in ins:
                    if not v.isidentifier() or v == "output":
                        raise SpecError(
                            "bad-block",
                            f"input '{v}' of block '{knode.value}' "
                            "must be an identifier other than output",
                            node=item,
                        )
                if ins[0][0] != "input" and "input" in [v for v, _ in ins[1:]]:
                    raise SpecError(
                        "bad-block",
                        "`input` may only be a block's first input",
                        node=vnode.get("inputs"),
                    )
                arg_names = vnode.get("args")
                for v, item in ins:
                    if isinstance(arg_names, Mapping) and v in arg_names:
                        raise SpecError(
                            "bad-block",
                            f"'{v}' names both an input and an argument of block '{knode.value}'",
                            node=item,
                            hint="rename one of them",
                        )
                block_io[0][knode.value] = [v for v, _ in ins]
            if "outputs" in vnode:
                block_io[1][knode.value] = _io_names(vnode.get("outputs"), "outputs", knode.value)
            if "description" in vnode and not isinstance(vnode.get("description"), Scalar):
                raise SpecError(
                    "bad-value",
                    f"the description of block '{knode.value}' must be text",
                    node=vnode.get("description"),
                )
            bl = vnode.get("layers")
            if not isinstance(bl, Sequence) or not bl.items:
                raise SpecError(
                    "bad-block",
                    f"block '{knode.value}' needs a non-empty `layers:` list",
                    node=bl or vnode,
                )
            args = vnode.get("args")
            if (
                args is not None
                and not isinstance(args, Mapping)
                and not (isinstance(args, Scalar) and args.value is None)
            ):
                raise SpecError(
                    "bad-block",
                    f"args of block '{knode.value}' must be a mapping "
                    "of names to defaults (null: required)",
                    node=args,
                )
            for anode, _ in args.items if isinstance(args, Mapping) else ():
                _block_arg_name(anode, knode.value)
            blocks[knode.value] = (vnode, knode)
    outputs = []
    listed: set = set()
    onode = root.get("outputs")
    if onode is not None:
        items = onode.items if isinstance(onode, Sequence) else [onode]
        for item in items:
            if (
                not isinstance(item, Scalar)
                or not isinstance(item.value, (str, int))
                or isinstance(item.value, bool)
            ):
                raise SpecError(
                    "bad-outputs", "outputs must be layer names (dotted paths allowed)", node=item
                )
            if str(item.value) in listed:
                raise SpecError(
                    "bad-outputs",
                    f"output '{item.value}' is listed twice",
                    node=item,
                    hint="list each output once",
                )
            listed.add(str(item.value))
            outputs.append((str(item.value), item))
        if not outputs:
            raise SpecError("bad-outputs", "outputs must name at least one layer", node=onode)
    expect = root.get("expect")
    if expect is not None and not isinstance(expect, Mapping):
        raise SpecError(
            "bad-expect",
            "expect must be a mapping (output, params, trainable, "
            "buffers, macs, max_params, max_macs, max_param_memory)",
            node=expect,
        )
    spec = Spec(
        file=file,
        name=name,
        description=description,
        vars=names,
        input=shape,
        input_node=input_node,
        dtype=dtype,
        blocks=blocks,
        layers=layers,
        outputs=outputs,
        expect=expect,
        lint=root.get("lint"),
        root=root,
        var_nodes=var_nodes,
    )
    if isinstance(input_node, Mapping):
        spec.inputs, spec.input_nodes = inputs, input_nodes
    spec.block_inputs, spec.block_outputs = block_io
    return spec


def _io_names(node: Node, what: str, block: str) -> list:
    """A block's `inputs:` or `outputs:`: a non-empty list of distinct plain names."""
    items = node.items if isinstance(node, Sequence) else [node]
    out, seen = [], set()
    for item in items:
        v = item.value if isinstance(item, Scalar) else None
        if not isinstance(v, (str, int)) or isinstance(v, bool) or not str(v).strip():
            raise SpecError(
                "bad-block",
                f"{what} of block '{block}' must be names",
                node=item,
                hint=f"write e.g. `{what}: [a, b]`",
            )
        v = str(v).strip()
        if v in seen:
            raise SpecError(
                "bad-block", f"'{v}' is listed twice in the {what} of block '{block}'", node=item
            )
        seen.add(v)
        out.append((v, item))
    if not out:
        raise SpecError("bad-block", f"{what} of block '{block}' must name at least one", node=node)
    return out


def _inputs(node: Node, names: dict, limits: Limits, override) -> tuple[dict, dict]:
    """The network's inputs, name -> shape ("input" for a plain list), with --input's
    overrides: a shape (the first input) or a mapping name -> shape."""
    if isinstance(node, Mapping):
        if not node.items:
            raise SpecError(
                "bad-input",
                "input must name at least one input",
                node=node,
                hint="write e.g. `input: {image: [1, 3, 224, 224]}`",
            )
        inputs, nodes = {}, {}
        for knode, vnode in node.items:
            key = knode.value
            if not isinstance(key, str) or not key.isidentifier() or key in ("input", "output"):
                raise SpecError(
                    "bad-input",
                    f"input name {key!r} must be an identifier other than input and output",
                    node=knode,
                )
            inputs[key] = _shape(vnode, names, f"input '{key}'", limits.max_elements)
            nodes[key] = knode
    else:
        inputs = {"input": _shape(node, names, "input", limits.max_elements)}
        nodes = {"input": node}
    if override is None:
        return inputs, nodes
    if not isinstance(override, dict):
        override = {None: override}
    first = next(iter(inputs))
    if None in override and first in override:
        raise SpecError(
            "bad-input",
            f"--input gives the first input, '{first}', twice: "
            "once without a name and once by name",
            node=node,
            hint=f"give it once, as --input {first}=...",
        )
    for key, shape in override.items():
        if key is None:
            key = first
        elif key not in inputs or not isinstance(node, Mapping):
            raise SpecError(
                "bad-input",
                f"--input {key}=...: the spec has no input named '{key}'",
                node=node,
                hint=("its inputs are " + ", ".join(inputs))
                if isinstance(node, Mapping)
                else "this spec has one unnamed input: give --input 1,3,64,64",
            )
        inputs[key] = tuple(shape)
    return inputs, nodes


def respec(spec: Spec, overrides: dict | None, input_override, limits: Limits | None) -> Spec:
    """``spec`` again from its parsed YAML with other var values (``--set``) and input
    shapes (``--input``), without reading or composing the file again: `cost --context`
    sets the token count this way."""
    return _top_level(spec.root, spec.file, overrides, input_override, limits or Limits())
