"""`layercalc import onnx`: a spec from an ONNX graph.

The graph's input shapes are fixed (from the file, or ``--input``), ONNX shape inference
gives every tensor's shape, shape arithmetic the exporter left in the graph (Shape,
Gather, Concat of constants...) is folded, and every remaining node becomes one spec
entry (layercalc.importers.onnx_ops). Layers are named after their weights where the
exporter kept the state_dict keys (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``), else
after the module scopes torch.onnx records in node names or metadata, and grouped into
``sequential`` entries (a ``block`` when a group reads several tensors) so the dotted
names are PyTorch's. A node whose input is not the previous entry's output gets
``from:``. Nodes with no spec equivalent are refused together, each with its reason.

Needs the ``onnx`` package (``pip install 'layercalc[onnx]'``), imported only here.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass

import numpy as np

from ..text import yaml_quoted
from .onnx_ops import MAPPERS, Leaf, Refused

INSTALL_HINT = "install it with: pip install 'layercalc[onnx]'"
# shape inference and constant folding alternate until nothing more folds: one round per
# stage of shapes computed from shapes (x.view(x.size(0), ...) after such a view), at
# most this many (each a whole shape inference, so time stays bounded on any graph)
MAX_FOLD_ROUNDS = 256


class ImportFailed(Exception):
    """The graph cannot be written as a spec: ``problems`` lists (node, op type, reason)
    for refused nodes; the message says what went wrong as a whole."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def require_onnx():
    """The onnx module, or ImportFailed saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportFailed(f"the onnx package is not installed; {INSTALL_HINT}") from None
    return onnx


# ---------------------------------------------------------------- constant folding


def _fold(op, a, ins, shapes_in, types_in=()):
    """numpy evaluation of a shape-arithmetic node whose inputs are all constants
    (Shape needs only a known shape); None when not foldable."""
    if op == "Shape":
        s = shapes_in[0]
        if s is None:
            return None
        start, end = a.get("start", 0), a.get("end", None)
        return [np.array(s[start:end], dtype=np.int64)]
    if op == "CastLike" and ins and ins[0] is not None:
        from onnx import helper

        like = ins[1].dtype if ins[1] is not None else types_in[1]
        if like is None:
            return None
        if not isinstance(like, np.dtype):
            like = helper.tensor_dtype_to_np_dtype(like)
        return [ins[0].astype(like)]
    if any(v is None for v in ins):
        return None
    if op == "Identity":
        return [ins[0]]
    if op == "Cast":
        from onnx import helper

        return [ins[0].astype(helper.tensor_dtype_to_np_dtype(a["to"]))]
    if op == "Gather":
        return [np.take(ins[0], ins[1], axis=a.get("axis", 0))]
    if op == "Unsqueeze":
        axes = a.get("axes", None if len(ins) < 2 else [int(x) for x in ins[1].reshape(-1)])
        out = ins[0]
        rank = out.ndim + len(axes)
        for ax in sorted(x % rank for x in axes):
            out = np.expand_dims(out, ax)
        return [out]
    if op == "Squeeze":
        axes = a.get("axes", None if len(ins) < 2 else [int(x) for x in ins[1].reshape(-1)])
        return [np.squeeze(ins[0], axis=None if axes is None else tuple(axes))]
    if op == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if op in ("Add", "Sub", "Mul", "Div"):
        x, y = ins
        if op == "Div" and np.issubdtype(x.dtype, np.integer):
            return [np.floor_divide(x, y).astype(x.dtype)]
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return [f(x, y).astype(np.result_type(x, y))]
    if op == "Reshape":
        shape = [int(v) for v in ins[1].reshape(-1)]
        shape = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return [ins[0].reshape(shape)]
    if op == "Transpose":
        return [np.transpose(ins[0], a.get("perm"))]
    if op == "ConstantOfShape":
        from onnx import numpy_helper

        value = a.get("value")
        fill = numpy_helper.to_array(value).reshape(-1) if value is not None else np.zeros(1)
        return [np.full([int(v) for v in ins[0].reshape(-1)], fill[0], dtype=fill.dtype)]
    if op == "Slice" and len(ins) >= 3:
        starts, ends = ins[1].reshape(-1), ins[2].reshape(-1)
        axes = ins[3].reshape(-1) if len(ins) > 3 else range(len(starts))
        steps = ins[4].reshape(-1) if len(ins) > 4 else [1] * len(starts)
        idx = [slice(None)] * ins[0].ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[int(ax)] = slice(int(s), int(e), int(st))
        return [ins[0][tuple(idx)]]
    if op == "Range":
        return [np.arange(ins[0], ins[1], ins[2])]
    if op == "Equal":
        return [np.equal(ins[0], ins[1])]
    if op == "Where":
        return [np.where(ins[0], ins[1], ins[2])]
    if op == "Mod":
        f = np.fmod if a.get("fmod", 0) else np.mod
        return [f(ins[0], ins[1])]
    if op in _COMPARE:
        return [_COMPARE[op](*ins)]
    if op == "Not":
        return [np.logical_not(ins[0])]
    if op == "Expand":
        shape = [int(v) for v in ins[1].reshape(-1)]
        return [ins[0] * np.ones(shape, dtype=ins[0].dtype)]
    return None


_COMPARE = {
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Max": np.maximum,
    "Min": np.minimum,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Sqrt": np.sqrt,
    "Abs": np.abs,
    "Neg": np.negative,
}
# folded whatever their inputs' type: moving a constant's data around
_MOVES = {"Identity", "Cast", "Reshape", "Transpose", "Unsqueeze", "Squeeze"}

_FOLDABLE = {
    "Mod", "Not", "CastLike", *_COMPARE,
    "Shape", "Identity", "Cast", "Gather", "Unsqueeze", "Squeeze", "Concat", "Add", "Sub",
    "Mul", "Div", "Reshape", "Transpose", "ConstantOfShape", "Slice", "Range", "Equal",
    "Where", "Expand",
}  # fmt: skip


# ---------------------------------------------------------------- the graph


@dataclass
class _Node:
    """A node with its inputs seen through Identity aliases, attributes as a dict."""

    name: str
    op_type: str
    input: list
    output: list
    attrs: dict
    proto: object
    index: int


class Graph:
    """The converter's view of one ONNX graph: constants, shapes, consumers."""

    def __init__(self, model, path: str, input_override=None):
        import onnx
        from onnx import helper, numpy_helper, shape_inference

        self.path = path
        g = model.graph
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13
        )
        self.consts: dict = {}
        for init in g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        self.initializers = set(self.consts)
        self.inputs = [i for i in g.input if i.name not in self.consts]
        if not self.inputs:
            raise ImportFailed("the graph has no input (every input is an initializer)")
        self.input_shapes = self._input_shapes(input_override)
        # fix the inputs' shapes, then let ONNX infer every tensor's shape
        fixed = onnx.ModelProto()
        fixed.CopyFrom(model)
        for vi in fixed.graph.input:
            if vi.name in self.input_shapes:
                dims = vi.type.tensor_type.shape.dim
                del dims[:]
                for d in self.input_shapes[vi.name]:
                    dims.add().dim_value = d
        for vi in fixed.graph.output:  # exporters' symbolic output dims would win
            vi.type.tensor_type.ClearField("shape")
        self.outputs = [o.name for o in g.output]
        self.alias: dict = {}
        self.nodes = []
        for i, n in enumerate(g.node):
            attrs = {a.name: _attr(helper, a) for a in n.attribute}
            node = _Node(n.name, n.op_type, list(n.input), list(n.output), attrs, n, i)
            node.folded = node.aliased = False
            self.nodes.append(node)
        # shapes and folded constants feed each other (a Split whose sizes come from
        # Shape arithmetic): infer, fold, put the folded values in, infer again
        self.shapes: dict = {}
        self.dtypes: dict = {}
        for _ in range(MAX_FOLD_ROUNDS):  # a round per dependent stage (ShuffleNet: 16)
            self.shapes.update(self._infer(shape_inference, fixed))
            for name, arr in self.consts.items():
                self.shapes[name] = list(arr.shape)
            if not self._fold_constants(numpy_helper):
                break
            fixed = self._with_folded(onnx, numpy_helper, fixed)
        self.consumers: dict = {}
        for n in self.live():
            for v in n.input:
                self.consumers.setdefault(v, []).append(n)

    def _input_shapes(self, override) -> dict:
        out = {}
        names = [i.name for i in self.inputs]
        if isinstance(override, dict):
            unknown = [k for k in override if k is not None and k not in names]
            if unknown:
                raise ImportFailed(
                    f"--input names '{unknown[0]}', but the graph's inputs are " + ", ".join(names)
                )
        for k, vi in enumerate(self.inputs):
            given = None
            if isinstance(override, dict):
                given = override.get(vi.name, override.get(None) if k == 0 else None)
            elif override is not None and k == 0:
                given = override
            t = vi.type.tensor_type
            dims = [
                d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in t.shape.dim
            ]
            if given is not None:
                if t.HasField("shape") and len(given) != len(dims):
                    raise ImportFailed(
                        f"--input gives {len(given)} sizes for '{vi.name}', "
                        f"whose shape has {len(dims)} dims {dims}"
                    )
                out[vi.name] = [int(d) for d in given]
                continue
            if not t.HasField("shape"):
                raise ImportFailed(
                    f"the input '{vi.name}' has no shape in the file; give --input SIZES"
                )
            fixed = []
            for i, d in enumerate(dims):
                if isinstance(d, int) and d > 0:
                    fixed.append(d)
                elif i == 0:
                    fixed.append(1)  # a dynamic batch: one sample, as --input would say
                else:
                    raise ImportFailed(
                        f"the input '{vi.name}' has the dynamic dim '{d}' (dims {dims}); "
                        "give --input SIZES"
                        + (f" (or --input {vi.name}=SIZES)" if len(self.inputs) > 1 else "")
                    )
            out[vi.name] = fixed
        return out

    def _infer(self, shape_inference, model) -> dict:
        try:
            inferred = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        except Exception as exc:  # onnx raises its own InferenceError and others
            raise ImportFailed(
                f"ONNX shape inference failed for these input shapes: {_first_line(exc)}"
            ) from None
        shapes = {}
        g = inferred.graph
        for vi in list(g.value_info) + list(g.output) + list(g.input):
            t = vi.type.tensor_type
            if t.elem_type:
                self.dtypes[vi.name] = t.elem_type
            if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
                shapes[vi.name] = [int(d.dim_value) for d in t.shape.dim]
        return shapes

    def _with_folded(self, onnx, numpy_helper, model):
        """``model`` with the folded nodes replaced by initializers of their values."""
        out = onnx.ModelProto()
        out.CopyFrom(model)
        g = out.graph
        keep = [n.proto for n in self.nodes if not n.folded or n.aliased]
        del g.node[:]
        g.node.extend(keep)
        needed = {v for p in keep for v in p.input} | set(self.outputs)
        have = {i.name for i in g.initializer}
        for name in sorted(needed - have):
            if name in self.consts:
                g.initializer.append(numpy_helper.from_array(self.consts[name], name))
        return out

    def _fold_constants(self, numpy_helper) -> int:
        """Fold what can be folded now; returns how many nodes were."""
        count = 0
        for n in self.nodes:
            if n.folded:
                continue
            n.input = [self.resolve(v) for v in n.input]
            if n.op_type == "Constant" and n.proto.domain in ("", "ai.onnx"):
                value = self._constant_value(n, numpy_helper)
                if value is not None:
                    self.consts[n.output[0]] = value
                    n.folded = True
                    count += 1
                continue
            if n.op_type == "Identity" and n.input[0] not in self.consts:
                self.alias[n.output[0]] = n.input[0]
                n.folded = n.aliased = True
                continue
            if n.op_type in _FOLDABLE and n.proto.domain in ("", "ai.onnx"):
                ins = [v for v in n.input if v]
                if (
                    n.op_type not in _MOVES | {"Shape", "CastLike"}
                    and not all(
                        self.consts.get(v) is None or _integral(self.consts[v]) for v in ins
                    )
                    and not all(v in self.consts and v not in self.initializers for v in ins)
                ):
                    # arithmetic on float data, or on a weight: a layer of the network (a
                    # Concat of Constant nodes, Resize's scales, is folded)
                    continue
                try:
                    outs = _fold(
                        n.op_type,
                        n.attrs,
                        [self.consts.get(v) if v else None for v in n.input],
                        [self.shapes.get(v) for v in n.input],
                        [self.dtypes.get(v) for v in n.input],
                    )
                except Exception:
                    outs = None
                if outs is not None:
                    if n.op_type == "Identity" and n.input[0] in self.initializers:
                        self.initializers.add(n.output[0])  # an exporter's de-duplication
                    for name, value in zip(n.output, outs):
                        self.consts[name] = np.asarray(value)
                        self.shapes[name] = list(np.shape(value))
                    n.folded = True
                    count += 1
        return count

    def _constant_value(self, n, numpy_helper):
        a = n.attrs
        if "value" in a:
            return np.asarray(numpy_helper.to_array(a["value"]))
        for key, dtype in (("value_float", np.float32), ("value_int", np.int64)):
            if key in a:
                return np.asarray(a[key], dtype=dtype)
        for key, dtype in (("value_floats", np.float32), ("value_ints", np.int64)):
            if key in a:
                return np.asarray(list(a[key]), dtype=dtype)
        return None

    def resolve(self, v: str) -> str:
        while v in self.alias:
            v = self.alias[v]
        return v

    def live(self):
        return [n for n in self.nodes if not n.folded]


def _attr(helper, a):
    value = helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8", "replace") for v in value]
    return value


def _integral(arr) -> bool:
    return arr.dtype.kind in "iub" or arr.size <= 1


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------- mapping


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def _named(value: str) -> bool:
    """Whether a tensor name looks like a state_dict key (kept by the exporter)."""
    return bool(_KEY.fullmatch(value)) and not value.startswith("onnx")


class Context:
    """What a mapper sees (layercalc.importers.onnx_ops)."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.opset = graph.opset
        self.absorbed: set = set()
        self.extra: list = []
        self.made_params: dict = {}

    def const(self, v):
        return self.g.consts.get(v) if v else None

    def shape(self, v):
        return self.g.shapes.get(v)

    def need_shape(self, v):
        s = self.g.shapes.get(v)
        if s is None:
            raise Refused(f"the shape of '{v}' is unknown after shape inference")
        return s

    def weight(self, node, i):
        if len(node.input) <= i or not node.input[i]:
            raise Refused(f"input {i} is missing")
        w = self.const(node.input[i])
        if w is None:
            raise Refused(f"input {i} ('{node.input[i]}') is not a constant weight")
        return w

    def has_bias(self, node, i) -> bool:
        """Whether input i is a real bias: present, and not zeros the exporter made up
        (an unoptimized torch.onnx export adds them to bias-free convs)."""
        if len(node.input) <= i or not node.input[i]:
            return False
        v = node.input[i]
        b = self.const(v)
        return b is None or v in self.g.initializers or bool(np.any(b))

    def used(self, v) -> bool:
        return bool(self.g.consumers.get(v)) or v in self.g.outputs

    def sole_consumer(self, v, op):
        users = self.g.consumers.get(v, [])
        if len(users) == 1 and users[0].op_type == op and v not in self.g.outputs:
            return users[0]
        return None

    def absorb(self, node):
        self.absorbed.add(node.index)

    def named(self, v) -> bool:
        return v in self.g.initializers and _named(v)

    def constant_operand(self, node, kind, x, y):
        """x OP C with a constant tensor C (made a `parameter` entry by map_nodes)."""
        return [Leaf(kind, {}, [x, y], [node.output[0]], base=kind, node=node)]

    def parameter_for(self, c, node):
        """A constant tensor read as a layer's input becomes a `parameter` entry (a
        buffer unless the exporter kept a state_dict name for it), made once."""
        if c not in self.made_params:
            # an initializer is a parameter (named by it when the exporter kept its
            # state_dict key); a value computed in the graph is a buffer
            named = self.named(c)
            param = c in self.g.initializers
            args = {"shape": [int(d) for d in self.const(c).shape]}
            if not param:
                args["buffer"] = True
            leaf = Leaf(
                "parameter",
                args,
                [],
                [c],
                [c] if param else [],
                [] if param else [c],
                weight=c if named else None,
                base="const",
                node=node,
            )
            leaf.full_name = named
            self.made_params[c] = leaf
            self.extra.append(leaf)


def _bare_attention(g, ctx, path, nodes, reads) -> bool:
    """Attention whose exporter renamed its weights (bias=False: in_proj_weight and
    out_proj.weight folded into transposed copies): every node right in the scope, one
    Softmax, and exactly MHA's 4·E² weights."""
    if any(_scope(n) != path for n in nodes):
        return False
    if sum(n.op_type == "Softmax" for n in nodes) != 1:
        return False
    weights = [ctx.const(v) for v in reads if v in g.initializers]
    dims = {w.shape[0] for w in weights if w.ndim == 2} | {
        w.shape[1] for w in weights if w.ndim == 2
    }
    total = sum(w.size for w in weights if w.size > 1)
    return any(total == 4 * e * e for e in dims)


def _attention(g: Graph, ctx: Context) -> dict:
    """nn.MultiheadAttention self-attention, as torch.onnx decomposes it: the nodes of a
    module scope S that reads S.out_proj.weight (or looks like bias-free attention) and
    holds one Softmax become one multihead_attention leaf (first node's index -> leaf); the others are
    absorbed. A scope with masks, several inputs or several outputs stays decomposed."""
    scopes: dict = {}
    for n in g.live():
        s = _scope(n)
        for k in range(1, len(s or ()) + 1):
            scopes.setdefault(s[:k], []).append(n)
    found = {}
    for path, nodes in scopes.items():
        key = ".".join(path)
        reads = {v for n in nodes for v in n.input}
        out_w = key + ".out_proj.weight"
        if path[-1] == "out_proj":
            continue
        if out_w not in reads and not _bare_attention(g, ctx, path, nodes, reads):
            continue
        if any(n.index in ctx.absorbed for n in nodes):
            continue
        made = {v for n in nodes for v in n.output}
        ext = []
        for n in nodes:
            for v in n.input:
                if v and v not in made and ctx.const(v) is None and v not in ext:
                    ext.append(v)
        members = {n.index for n in nodes}
        outs = [
            v
            for v in made
            if v in g.outputs or any(u.index not in members for u in g.consumers.get(v, []))
        ]
        softmax = [n for n in nodes if n.op_type == "Softmax"]
        shape = g.shapes.get(ext[0]) if len(ext) == 1 else None
        if len(ext) != 1 or len(outs) != 1 or len(softmax) != 1 or not shape or len(shape) != 3:
            continue
        embed = int(shape[-1])
        first = next(u for u in g.consumers.get(ext[0], []) if u.index in members)
        batch_first = first.op_type == "Transpose" and list(first.attrs.get("perm", [])) == [
            1,
            0,
            2,
        ]
        batch = shape[0] if batch_first else shape[1]
        scores = g.shapes.get(softmax[0].input[0])
        if not scores:
            continue
        heads = scores[1] if len(scores) == 4 else scores[0] // batch
        if heads < 1 or embed % heads or g.shapes.get(outs[0]) != shape:
            continue
        # its weights: the float initializers it reads, not the scale and not the
        # integer shapes of its reshapes (a dynamo export keeps them as initializers)
        params = sorted(
            v
            for v in {v for n in nodes for v in n.input if v in g.initializers and v not in ext}
            if ctx.const(v) is None or (ctx.const(v).dtype.kind == "f" and ctx.const(v).size > 1)
        )
        args = {"num_heads": int(heads)}
        if key + ".in_proj_bias" not in reads:
            args["bias"] = False
        if batch_first:
            args["batch_first"] = True
        leaf = Leaf("multihead_attention", args, [ext[0]], [outs[0]], params, base="mha")
        # in_proj and out_proj, weights and (with bias) biases, whatever the exporter kept
        leaf.count = 4 * embed * embed + (4 * embed if args.get("bias", True) else 0)
        leaf.node = nodes[0]
        leaf.fixed = path
        for n in nodes:
            ctx.absorb(n)
        found[nodes[0].index] = leaf
    return found


def map_nodes(g: Graph):
    """Every live node as leaves, in graph order; ImportFailed lists every refusal."""
    ctx = Context(g)
    leaves, problems = [], []
    attention = _attention(g, ctx)
    for n in g.live():
        if n.index in attention:
            attention[n.index].order = n.index
            leaves.append(attention[n.index])
            continue
        if n.index in ctx.absorbed:
            continue
        domain = n.proto.domain
        mapper = MAPPERS.get(n.op_type) if domain in ("", "ai.onnx") else None
        if mapper is None:
            reason = (
                f"operator of the domain '{domain}', which layercalc does not know"
                if domain not in ("", "ai.onnx")
                else "no layercalc layer computes it"
            )
            problems.append((n.name, n.op_type, reason))
            continue
        try:
            made = mapper(ctx, n, n.attrs)
        except Refused as exc:
            problems.append((n.name, n.op_type, str(exc)))
            continue
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            problems.append((n.name, n.op_type, f"unexpected attributes or inputs ({exc})"))
            continue
        for leaf in made:
            for v in leaf.inputs:
                if ctx.const(v) is not None:
                    ctx.parameter_for(v, n)
        for k, leaf in enumerate(ctx.extra + made):
            leaf.order = n.index + (k + 1) / (len(ctx.extra) + len(made) + 1)
        leaves += ctx.extra + made
        ctx.extra = []
    if problems:
        raise ImportFailed(
            f"{len(problems)} node{'s' if len(problems) != 1 else ''} of {g.path} "
            "cannot be written as spec layers",
            problems,
        )
    return leaves


# ---------------------------------------------------------------- names


_BAD = re.compile(r"[^A-Za-z0-9_\-]+")
_RESERVED = ("input", "output")


def _clean(part: str, fallback: str) -> str:
    part = _BAD.sub("_", part).strip("_") or fallback
    return part + "_" if part in _RESERVED else part


def _scope(node) -> tuple | None:
    """The module path torch.onnx recorded for a node: dynamo's name_scopes metadata,
    or the legacy exporter's '/layer1/layer1.0/conv1/Conv' node name."""
    for p in node.proto.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(p.value)
            except (ValueError, SyntaxError):
                break
            if isinstance(scopes, list) and len(scopes) >= 2:
                module = scopes[-2] if len(scopes) >= 3 else ""
                return tuple(x for x in str(module).split(".") if x)
    name = node.name
    if name.startswith("/") and name.count("/") >= 1:
        path: list = []
        for seg in name.split("/")[1:-1]:
            if not seg:
                continue
            if path and seg.startswith(path[-1] + "."):
                path[-1] = seg
            else:
                path.append(seg)
        return tuple(x for p in path for x in p.split(".") if x)
    return None


def assign_paths(leaves) -> list:
    """Each leaf's dotted path (a tuple), unique, no leaf path a prefix of another;
    repeated calls of one module become `share` entries. Returns the (name, name
    written) pairs the spec language made differ: a reserved name or other characters."""
    renamed: dict = {}
    for leaf in leaves:
        leaf.scoped = False
        if getattr(leaf, "fixed", None):
            path = leaf.fixed
        elif leaf.type == "parameter" and getattr(leaf, "full_name", False):
            path = tuple(leaf.weight.split("."))
        elif leaf.weight is not None and _named(leaf.weight) and "." in leaf.weight:
            path = tuple(leaf.weight.split(".")[:-1])
        else:
            scope = _scope(leaf.node)
            if scope is not None:
                path = scope or (leaf.base,)
                leaf.scoped = bool(scope)
            elif leaf.node.name:
                path = (leaf.node.name,)
            else:
                path = (leaf.base,)
        leaf.path = tuple(_clean(p, leaf.base) for p in path)
        for p, q in zip(path, leaf.path):
            if p != q and p:
                renamed.setdefault(p, q)
        leaf.module = leaf.scoped or leaf.weight is not None
    for leaf in leaves:  # the padding a conv needed goes by the conv's name
        if leaf.pad_for is not None:
            leaf.path = leaf.pad_for.path[:-1] + (leaf.pad_for.path[-1] + "_pad",)
    # a scope that holds other layers is a container: its own ops are named by type
    for _ in range(8):
        prefixes = {leaf.path[:i] for leaf in leaves for i in range(1, len(leaf.path))}
        changed = False
        for leaf in leaves:
            if leaf.path in prefixes:
                leaf.path = leaf.path + (leaf.base,)
                leaf.scoped = False  # an op of a container, not a module of its own
                changed = True
                leaf.module = leaf.weight is not None
        if not changed:
            break
    # repeated paths: a second call of the same module shares it, anything else is renamed
    first: dict = {}
    taken = {leaf.path for leaf in leaves}
    for leaf in sorted(leaves, key=lambda x: x.order):
        original = first.get(leaf.path)
        if original is None:
            m = re.fullmatch(r"(.+)_(\d+)", leaf.path[-1]) if leaf.scoped else None
            base = first.get(leaf.path[:-1] + (m.group(1),)) if m else None
            if base is not None and base.module and not leaf.params and _same(base, leaf):
                leaf.share = base.path
            first[leaf.path] = leaf
            continue
        if leaf.module and _same(original, leaf) and leaf.params == original.params:
            leaf.share = original.path
            leaf.params, leaf.buffers = [], []
        k = 1
        while leaf.path[:-1] + (f"{leaf.path[-1]}_{k}",) in taken:
            k += 1
        leaf.path = leaf.path[:-1] + (f"{leaf.path[-1]}_{k}",)
        taken.add(leaf.path)
        first[leaf.path] = leaf
    return sorted(renamed.items())


def _same(a: Leaf, b: Leaf) -> bool:
    return a.type == b.type and a.args == b.args and a.type != "parameter"


# ---------------------------------------------------------------- groups and order


class _Group:
    def __init__(self, path):
        self.path = path
        self.children: dict = {}  # name -> _Group or Leaf

    def leaves(self):
        for c in self.children.values():
            if isinstance(c, _Group):
                yield from c.leaves()
            else:
                yield c


def _tree(leaves):
    root = _Group(())
    for leaf in leaves:
        g = root
        for i, part in enumerate(leaf.path[:-1]):
            child = g.children.get(part)
            if not isinstance(child, _Group):
                child = g.children[part] = _Group(leaf.path[: i + 1])
            g = child
        g.children[leaf.path[-1]] = leaf
    return root


class Writer:
    """Orders the tree, resolves `from` references, and writes the YAML."""

    def __init__(self, g: Graph, leaves):
        self.g = g
        self.leaves = leaves
        self.producer = {}
        for leaf in leaves:
            for k, v in enumerate(leaf.outputs):
                self.producer[v] = (leaf, k)
        self.multi = len(g.inputs) > 1
        self.input_names = {vi.name: _clean(vi.name, "x") for vi in g.inputs}
        self.blocks: list = []

    # which values a group reads from outside
    def _external(self, group):
        inside = {id(leaf) for leaf in group.leaves()}
        seen, out = set(), []
        for leaf in sorted(group.leaves(), key=lambda x: x.order):
            for v in leaf.inputs:
                if v in seen:
                    continue
                p = self.producer.get(v)
                if p is None and v in self.input_names and self.multi:
                    continue  # a named network input is visible in every scope
                if p is None or id(p[0]) not in inside:
                    seen.add(v)
                    out.append(v)
        return out

    def _order(self, group):
        """Children in an order where each one's inputs come first (graph order
        otherwise); None when the groups depend on each other both ways."""
        items = list(group.children.items())
        owner = {}
        for name, item in items:
            for leaf in item.leaves() if isinstance(item, _Group) else [item]:
                owner[id(leaf)] = name
        deps, first = {}, {}
        for name, item in items:
            members = list(item.leaves()) if isinstance(item, _Group) else [item]
            first[name] = min(m.order for m in members)
            d = set()
            for m in members:
                for v in m.inputs:
                    p = self.producer.get(v)
                    if p is not None and id(p[0]) in owner and owner[id(p[0])] != name:
                        d.add(owner[id(p[0])])
                if m.share is not None and m.share[: len(group.path)] == group.path:
                    target = m.share[len(group.path)]
                    if target != name:
                        d.add(target)
            deps[name] = d
        done, order = set(), []
        pending = sorted(first, key=first.get)
        while pending:
            ready = next((n for n in pending if deps[n] <= done), None)
            if ready is None:
                return None, pending
            pending.remove(ready)
            done.add(ready)
            order.append(ready)
        return order, []

    def _flatten(self, group, names):
        """Dissolve the child groups in ``names`` into ``group`` (their members renamed
        'group_member'), when no order of them can work."""
        depth = len(group.path)
        for leaf in self.leaves:
            if leaf.path[:depth] == group.path and len(leaf.path) > depth + 1:
                if leaf.path[depth] in names and isinstance(
                    group.children[leaf.path[depth]], _Group
                ):
                    head = leaf.path[depth] + "_" + leaf.path[depth + 1]
                    leaf.path = group.path + (head,) + leaf.path[depth + 2 :]

    def arrange(self):
        for _ in range(64):
            root = _tree(self.leaves)
            stuck = self._check(root)
            if stuck is None:
                self.root = root
                return
            group, names = stuck
            self._flatten(group, set(names))
        raise ImportFailed("the graph's module scopes could not be put in an order")

    def _check(self, group):
        order, pending = self._order(group)
        if order is None:
            groups = [n for n in pending if isinstance(group.children[n], _Group)]
            if not groups:
                across = sorted(
                    ".".join(leaf.path)
                    for leaf in self.leaves
                    if leaf.share is not None and leaf.share[:-1] != leaf.path[:-1]
                )
                if across:  # one initializer read in several module scopes
                    raise ImportFailed(
                        "the graph's modules cannot be put in an order: some share one "
                        f"initializer across module scopes ({', '.join(across[:3])}"
                        + (", ..." if len(across) > 3 else "")
                        + "); an exporter merges equal weights (an nn.TransformerEncoder's "
                        "layers before training are copies): export the model with distinct "
                        "weights, or use `layercalc import torch`"
                    )
                raise ImportFailed("the graph has a cycle")
            return group, groups
        group.order = order
        for name in order:
            child = group.children[name]
            if isinstance(child, _Group):
                stuck = self._check(child)
                if stuck is not None:
                    return stuck
        return None

    # references
    def _ref(self, v, scope, ext):
        if v in ext:
            names = ext[v]
            return names
        if v in self.input_names and v not in self.producer:
            return self.input_names[v] if self.multi else "input"
        leaf, k = self.producer[v]
        rel = leaf.path[len(scope) :]
        if k == 0:  # a group whose output this is goes by the group's name
            group = self._group(scope)
            for i in range(1, len(rel)):
                group = group.children[rel[i - 1]]
                if self._default_output(group) == v:
                    rel = rel[:i]
                    break
        text = ".".join(rel)
        return text if k == 0 else f"{text}.{k}"

    def _group(self, path):
        group = self.root
        for part in path:
            group = group.children[part]
        return group

    def _default_output(self, item):
        if isinstance(item, _Group):
            return self._default_output(item.children[item.order[-1]])
        return item.outputs[0]

    def _entries(self, group, ext, indent, first_input):
        """YAML lines of a list's entries; ``ext`` maps outside values to their names in
        this scope, ``first_input`` is what an entry without `from` would read first."""
        lines = []
        previous = first_input
        pad = " " * indent
        for name in group.order:
            item = group.children[name]
            if isinstance(item, _Group):
                outer = self._external(item)
                refs = [self._ref(v, group.path, ext) for v in outer]
                if len(outer) <= 1:
                    head = {"name": name}
                    if outer and outer[0] != previous:
                        head["from"] = refs[0]
                    inner_ext = {outer[0]: "input"} if outer else {}
                    lines.append(f"{pad}- sequential:")
                    for k, v in head.items():
                        lines.append(f"{pad}    {k}: {_scalar(v)}")
                    lines.append(f"{pad}    layers:")
                    lines += self._entries(item, inner_ext, indent + 6, outer[0] if outer else None)
                else:
                    block = self._block(item, outer)
                    lines.append(f"{pad}- {block}: {_flow({'name': name, 'from': refs})}")
                previous = self._default_output(item)
                continue
            leaf = item
            args = {"name": name}
            if leaf.inputs and (len(leaf.inputs) > 1 or leaf.inputs[0] != previous):
                refs = [self._ref(v, group.path, ext) for v in leaf.inputs]
                args["from"] = refs[0] if len(refs) == 1 else refs
            if leaf.share is not None:
                target = ".".join(leaf.share[len(group.path) :])
                lines.append(f"{pad}- {_flow({'share': target, **args})}")
            else:
                args.update(leaf.args)
                lines.append(f"{pad}- {leaf.type}: {_flow(args)}")
            previous = leaf.outputs[0]
        return lines

    def _block(self, group, outer):
        name = "block_" + "_".join(group.path)
        names = [f"in{k}" for k in range(len(outer))]
        ext = dict(zip(outer, names))
        body = [f"  {name}:", f"    inputs: {_flow_list(names)}", "    layers:"]
        body += self._entries(group, ext, 6, outer[0])
        self.blocks.append(body)
        return name

    def text(self, expect_params, source):
        self.arrange()
        layers = self._entries(self.root, {}, 2, self._first_input())
        shown = source if source.isprintable() else json.dumps(source)
        out = [f"# Imported from {shown} by `layercalc import onnx`."]
        out.append(
            "# Layer names follow the exporter's tensor and module names; check it with "
            "`layercalc check`."
        )
        title = self.g.name or os.path.splitext(os.path.basename(source))[0]
        out.append(f"name: {_scalar(title)}")
        if self.multi:
            shapes = {self.input_names[k]: v for k, v in self.g.input_shapes.items()}
            out.append("input:")
            for k, v in shapes.items():
                out.append(f"  {_scalar(k)}: {_flow_list(v)}")
        else:
            out.append(f"input: {_flow_list(next(iter(self.g.input_shapes.values())))}")
        if self.blocks:
            out.append("blocks:")
            for b in self.blocks:
                out += b
        out.append("layers:")
        out += layers
        outputs = self._outputs()
        last = self._default_output(self.root)
        if len(outputs) > 1 or outputs[0][0] != last:
            out.append(f"outputs: {_flow_list([r for _, r in outputs])}")
        out.append("expect:")
        if len(outputs) == 1:
            out.append(f"  output: {_flow_list(self.g.shapes[outputs[0][0]])}")
        else:
            out.append("  output:")
            for v, r in outputs:
                out.append(f"    {_scalar(r)}: {_flow_list(self.g.shapes[v])}")
        out.append(f"  params: {expect_params}")
        return "\n".join(out) + "\n"

    def _first_input(self):
        return self.g.inputs[0].name

    def _outputs(self):
        found = []
        for o in self.g.outputs:
            v = self.g.resolve(o)
            if v not in self.producer:
                raise ImportFailed(
                    f"the graph output '{o}' is an input or a constant, not a layer's output"
                )
            if v not in self.g.shapes:
                raise ImportFailed(f"the shape of the graph output '{o}' is unknown")
            found.append((v, self._ref(v, (), {})))
        return found


# ---------------------------------------------------------------- YAML scalars

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "none", "y", "n", "~"}


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        text = repr(float(v))
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp}"
        return text
    if isinstance(v, (list, tuple)):
        return _flow_list(v)
    if isinstance(v, dict):
        return _flow(v)
    s = str(v)
    if _PLAIN.fullmatch(s) and s.lower() not in _WORDS:
        return s
    return yaml_quoted(s)


def _flow_list(values) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def _flow(d: dict) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in d.items()) + "}"


# ---------------------------------------------------------------- entry point


def self_check(text: str, source: str) -> list[str]:
    """What layercalc itself finds wrong with the spec written (its own expectations
    included): nothing, unless the importer and layercalc disagree."""
    from ..analyses.expectations import check_expectations
    from ..analyses.loading import analyse_bytes

    r = analyse_bytes(text.encode("utf-8"), source)
    found = list(r.diagnostics)
    if r.net is not None:
        found += check_expectations(r.net, source)
    return [d.message for d in found]


def convert(path: str, input_override=None, source: str | None = None) -> tuple[str, list]:
    """The spec text for the ONNX file at ``path`` and its warnings (names the spec
    language made differ); ImportFailed when it cannot be."""
    onnx = require_onnx()
    try:
        import stat

        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe or device never ends
            raise ImportFailed(f"cannot read {path}: not a regular file")
        model = onnx.load(path)
    except ImportFailed:
        raise
    except Exception as exc:
        raise ImportFailed(f"cannot read {path} as an ONNX model: {_first_line(exc)}") from None
    if not model.graph.node and not model.graph.input and not model.graph.output:
        # protobuf reads an empty file (or other bytes) as an empty model
        raise ImportFailed(f"{path} holds no ONNX graph: is it an ONNX model? (an empty file?)")
    g = Graph(model, path, input_override)
    g.name = model.graph.name if _PLAIN.fullmatch(model.graph.name or "") else ""
    if g.name in ("main_graph", "torch_jit", "torch-jit-export", "main"):
        g.name = ""
    leaves = map_nodes(g)
    if not leaves:
        raise ImportFailed("the graph computes nothing layercalc can show (no nodes)")
    renamed = assign_paths(leaves)
    params, counted = set(), 0
    for leaf in leaves:
        if leaf.count is not None:
            counted += leaf.count
        else:
            params.update(leaf.params)
    total = counted + int(sum(int(np.prod(g.shapes[p])) if g.shapes.get(p) else 1 for p in params))
    warnings = [
        f"the module name {_shown(a)} is written {_shown(b)}"
        + (" (the spec language reserves it)" if a in _RESERVED else "")
        + ": state_dict keys under it differ from the file's"
        for a, b in renamed
    ]
    return Writer(g, leaves).text(total, source or path), warnings


def _shown(name: str) -> str:
    from ..text import printable

    return f"'{printable(name)}'"
