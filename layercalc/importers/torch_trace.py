"""Trace an ``nn.Module`` into layercalc's terms: a list of :class:`Op` (one per leaf
module call, functional operation or free parameter, in execution order) with their
producers, output shapes and owning module path. torch.fx first; forward hooks on the
leaf modules when fx cannot trace the model (then only a network whose leaf modules
feed each other directly can be written). What has no layercalc type is collected in
``Trace.unsupported`` as (module path, reason)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .torch_layers import FUNCTIONS, METHODS, Unsupported, module_entry


@dataclass(eq=False)
class Op:
    """One entry: ``path`` is its full dotted name (the module path for a module, a
    label in its scope for anything else), ``scope`` the path of the module whose list
    holds it, ``local`` its name in that list."""

    path: str
    scope: str
    local: str
    type: str | None
    args: dict
    inputs: list  # of Value
    shape: tuple
    share: bool = False  # another call of the module ``path``
    named: bool = True  # a module name (False: a label for a functional op)
    outputs: tuple = ()  # names of further outputs (lstm's h_n, mha's attn_weights)
    from_map: dict | None = None  # keyword inputs (mha's key_padding_mask)


@dataclass(frozen=True, eq=False)
class Value:
    """A tensor: output ``out`` (None: the first) of ``op``, or the network input."""

    op: Op | None
    out: str | None = None


INPUT = Value(None)
FAILED = Value(None, "<failed>")  # what an unsupported operation yields: not reported again


@dataclass
class Trace:
    ops: list = field(default_factory=list)
    output: Value | None = None
    unsupported: list = field(default_factory=list)  # (module path, reason)
    method: str = "fx"
    children: dict = field(default_factory=dict)  # module path -> names of its children
    classes: dict = field(default_factory=dict)  # module path -> module
    leaves: set = field(default_factory=set)
    result: object = None  # what the module returned
    # the spec's path of a module the language's reserved names renamed -> its PyTorch
    # name (`attention.output_` -> output: specwriter._rename_reserved, once)
    torch_names: dict | None = None


def no_type(m) -> str:
    """Why module ``m`` is refused: no layercalc type, or (a torch.nn class layercalc
    does have a type for, in a configuration the importer does not read, e.g. a custom
    activation) which entry to write by hand."""
    from ..layers import REGISTRY

    cls = type(m)
    what = f"{cls.__module__}.{cls.__qualname__}"
    lt = REGISTRY.get(cls.__name__) if cls.__module__.startswith("torch.nn") else None
    if lt is None:
        return f"{what} has no layercalc type"
    return (
        f"{what}: the importer does not read this module (in this configuration); "
        f"write it as a `{lt.name}` entry by hand (`layercalc layers {lt.name}`)"
    )


class _Tracer(fx.Tracer):
    """Leaves: every module layercalc has a type for, and every module without
    submodules (decided before tracing: fx records attribute reads while it traces)."""

    def __init__(self, model):
        super().__init__()
        self.leaf_ids = {
            id(m) for m in model.modules() if module_entry(m) is not None or not list(m.children())
        }

    def is_leaf_module(self, m, qualname):
        return id(m) in self.leaf_ids or super().is_leaf_module(m, qualname)


def _shape(x):
    if isinstance(x, torch.Tensor):
        return tuple(int(d) for d in x.shape)
    return None


def trace(model: nn.Module, example: torch.Tensor) -> Trace:
    out = Trace()
    for path, m in model.named_modules():
        out.classes[path] = m
        out.children[path] = {n for n, _ in m.named_children()}
    try:
        graph = _Tracer(model).trace(model)
    except Exception as exc:  # noqa: BLE001 - any failure of fx means: fall back
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return _hooks(model, example, out, reason)
    # the graph is walked node by node (no fx.GraphModule: its generated code would go
    # unused)
    _from_fx(graph, model, example, out)
    return out


# -- fx --------------------------------------------------------------------------------


class _Labels:
    """Unique labels per scope, never one of the scope module's child names."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.used: dict = {}

    def take(self, scope: str, want: str) -> str:
        used = self.used.setdefault(scope, set(self.trace.children.get(scope, ())))
        name, k = want, 0
        while name in used or name in ("input", "output"):
            k += 1
            name = f"{want}_{k}"
        used.add(name)
        return name


def _scope_of(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    return list(stack.values())[-1][0]


def _non_persistent(model, owner: str, local: str) -> bool:
    """Whether buffer ``local`` of module ``owner`` was registered persistent=False."""
    try:
        m = model.get_submodule(owner) if owner else model
    except AttributeError:
        return False
    return local in getattr(m, "_non_persistent_buffers_set", ())


def _split(path: str) -> tuple[str, str]:
    return tuple(path.rsplit(".", 1)) if "." in path else ("", path)


def _from_fx(graph, model, example, out: Trace) -> None:
    env: dict = {}  # fx node -> real value (tensor, int, tuple, ...)
    values: dict = {}  # fx node -> Value (or tuple of Values, or None for non-tensors)
    labels = _Labels(out)
    called: set = set()
    placeholder_done = False
    modules = dict(model.named_modules())

    def real(a):
        return fx.node.map_arg(a, lambda n: env[n])

    def val(a):
        if isinstance(a, fx.Node):
            return values.get(a)
        return None

    for node in graph.nodes:
        if node.op == "placeholder":
            if placeholder_done:
                # optional forward arguments beyond the first keep their defaults
                env[node] = node.args[0] if node.args else None
                values[node] = None
                continue
            placeholder_done = True
            env[node] = example
            values[node] = INPUT
            continue
        if node.op == "output":
            res = node.args[0]
            out.result = real(res)
            v = val(res) if isinstance(res, fx.Node) else None
            if v is None or not isinstance(v, Value):
                out.unsupported.append(("(output)", "the network's output is not one tensor"))
            out.output = v
            continue
        args, kwargs = real(node.args), real(node.kwargs)
        if node.op == "get_attr":
            t = _attr(model, node.target)
            if not node.users:
                env[node] = t
                values[node] = None
                continue
            env[node] = t
            if isinstance(t, torch.Tensor):
                owner, local = _split(node.target)
                if owner in out.leaves or (
                    owner in modules and module_entry(modules[owner]) is not None
                ):
                    out.unsupported.append((node.target, "a tensor of a leaf module used directly"))
                    values[node] = None
                    continue
                buffer = not isinstance(t, nn.Parameter)
                if buffer and _non_persistent(model, owner, local):
                    out.unsupported.append(
                        (
                            node.target,
                            "a non-persistent buffer (register_buffer(..., persistent=False)): "
                            "not in the state_dict, where a spec's buffers are, so it has no "
                            "spec equivalent",
                        )
                    )
                    values[node] = None
                    continue
                a = {"shape": list(t.shape)}
                if buffer:
                    a["buffer"] = True
                elif not t.requires_grad:  # a frozen parameter
                    a["trainable"] = False
                op = Op(node.target, owner, local, "parameter", a, [], tuple(t.shape))
                out.ops.append(op)
                values[node] = Value(op)
            else:
                values[node] = None
            continue
        if node.op == "call_module":
            m = modules[node.target]
            res = _call(m, args, kwargs)
            env[node] = res
            scope, local = _split(node.target)
            entry = module_entry(m)
            if entry is None:
                out.unsupported.append((node.target, no_type(m)))
                values[node] = FAILED
                continue
            type_, margs, outs = entry
            ins = [val(a) for a in node.args if isinstance(a, fx.Node)]
            share = node.target in called
            called.add(node.target)
            out.leaves.add(node.target)
            fm = None
            if type_ == "multihead_attention":
                type_, margs, ins, fm = _mha(node, m, margs, val, kwargs)
            if _failed(ins, out, node.target) or not ins:
                if not ins:
                    out.unsupported.append((node.target, "it takes no tensor input"))
                values[node] = FAILED
                continue
            op = Op(node.target, scope, local, type_, margs, ins, _first_shape(res), share=share)
            op.outputs = outs
            op.from_map = fm
            if share:
                op.local = labels.take(scope, local)
            out.ops.append(op)
            values[node] = Value(op)
            continue
        # call_function / call_method
        fn = node.target
        if node.op == "call_method":
            self_obj = args[0]
            res = getattr(self_obj, fn)(*args[1:], **kwargs)
        else:
            res = fn(*args, **kwargs)
        env[node] = res
        if (
            fn is torch._assert
            or fn == "size"
            or fn is getattr
            or not isinstance(res, (torch.Tensor, tuple, list))
        ):
            values[node] = None
            continue
        if fn is operator.getitem:
            values[node] = _getitem(node, args, val, res, out, labels)
            continue
        scope = _scope_of(node)
        spec = (METHODS if node.op == "call_method" else FUNCTIONS).get(fn)
        where = f"{scope + '.' if scope else ''}{node.name}"
        if spec is None:
            what = fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))
            out.unsupported.append((where, f"the operation {what!r} has no layercalc type"))
            values[node] = FAILED
            continue
        try:
            conv = spec(node, args, kwargs, res, val)
        except Unsupported as exc:
            out.unsupported.append((where, str(exc)))
            values[node] = FAILED
            continue
        if conv is None:  # an identity (contiguous, clone, ...)
            values[node] = val(node.args[0])
            continue
        if isinstance(conv, Value):
            values[node] = conv
            continue
        type_, fargs, ins = conv[:3]
        outs = conv[3] if len(conv) > 3 else ()
        if _failed(ins, out, where):
            values[node] = FAILED
            continue
        local = labels.take(scope, type_)
        full = f"{scope}.{local}" if scope else local
        op = Op(full, scope, local, type_, fargs, ins, _first_shape(res), named=False)
        op.outputs = outs
        out.ops.append(op)
        if isinstance(res, (tuple, list)):
            values[node] = tuple(Value(op, None if i == 0 else str(i)) for i in range(len(res)))
        else:
            values[node] = Value(op)


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _call(m, args, kwargs):
    """``m(*args, **kwargs)``, except that on the meta device an eval-mode batch norm
    gives its output directly, an empty tensor like its input: PyTorch's meta
    batch_norm is a Python decomposition (~1 ms a call, most of ResNet-50's trace). The
    checks a real call makes first are made here: input rank, and every per-channel
    tensor of the input's channel count."""
    if type(m) in _BATCH_NORMS and not m.training and len(args) == 1 and not kwargs:
        x = args[0]
        if isinstance(x, torch.Tensor) and x.is_meta and x.dim() >= 2:
            per_channel = (m.running_mean, m.running_var, m.weight, m.bias)
            stats = m.running_mean is not None and m.running_var is not None
            if (
                stats
                and all(t is None or tuple(t.shape) == (x.shape[1],) for t in per_channel)
                and not (m._forward_hooks or m._forward_pre_hooks)
            ):
                m._check_input_dim(x)
                return torch.empty_like(x)
    return m(*args, **kwargs)


def _failed(ins, out, where) -> bool:
    """Whether an input is missing; reported unless an earlier failure explains it."""
    if all(isinstance(v, Value) and v is not FAILED for v in ins):
        return False
    if not any(v is FAILED for v in ins):
        out.unsupported.append((where, "its inputs are not tensors layercalc can follow"))
    return True


def _first_shape(res):
    if isinstance(res, torch.Tensor):
        return tuple(res.shape)
    if isinstance(res, (tuple, list)) and res and isinstance(res[0], torch.Tensor):
        return tuple(res[0].shape)
    return ()


def _attr(model, target):
    obj = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _mha(node, m, margs, val, kwargs):
    names = ["query", "key", "value"]
    ins = {}
    for i, a in enumerate(node.args[:3]):
        ins[names[i]] = a
    for k in ("query", "key", "value", "key_padding_mask", "attn_mask"):
        if k in node.kwargs and isinstance(node.kwargs[k], fx.Node):
            ins[k] = node.kwargs[k]
    margs = dict(margs)
    nw = kwargs.get("need_weights", node.args[4] if len(node.args) > 4 else True)
    if nw is False:
        margs["need_weights"] = False
    if kwargs.get("average_attn_weights") is False:
        margs["average_attn_weights"] = False
    if kwargs.get("is_causal"):
        margs["is_causal"] = True
    q, k, v = (ins.get(n) for n in names)
    extra = [n for n in ins if n not in names]
    if q is k is v and not extra:
        return "multihead_attention", margs, [val(q)], None
    if extra:
        fm = {n: val(a) for n, a in ins.items()}
        return "multihead_attention", margs, list(fm.values()), fm
    return "multihead_attention", margs, [val(q), val(k), val(v)], None


def _getitem(node, args, val, res, out, labels):
    src = node.args[0]
    idx = node.args[1]
    v = val(src) if isinstance(src, fx.Node) else None
    if isinstance(v, tuple):  # a tuple of Values: chunk, split, cat inputs
        return v[idx] if isinstance(idx, int) and -len(v) <= idx < len(v) else None
    if isinstance(v, Value) and isinstance(args[0], (tuple, list)):  # a module's tuple
        if v.op is None:  # what an unsupported operation gave: reported already
            return FAILED
        if not isinstance(idx, int):
            return None
        if idx == 0:
            return v
        if v.op.type == "lstm" and idx == 1:  # (output, (h_n, c_n))
            return (Value(v.op, "h_n"), Value(v.op, "c_n"))
        outs = v.op.outputs
        if 0 < idx <= len(outs):
            return Value(v.op, outs[idx - 1])
        return None
    if isinstance(v, Value) and isinstance(args[0], torch.Tensor):
        return _index(node, args, v, res, out, labels)
    return None


def _index(node, args, v, res, out, labels):
    """x[...] as slice / select / unsqueeze entries."""
    idx = args[1]
    if not isinstance(idx, tuple):
        idx = (idx,)
    scope = _scope_of(node)
    where = f"{scope + '.' if scope else ''}{node.name}"
    if sum(1 for i in idx if i is Ellipsis) > 1:
        out.unsupported.append((where, "indexing with several '...'"))
        return None
    rank = args[0].dim()
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    steps = []
    dim = 0
    for i in idx:
        if i is Ellipsis:
            dim += rank - used
        elif i is None:
            steps.append(("unsqueeze", {"dim": dim}))
            dim += 1
            rank += 1
        elif isinstance(i, int):
            steps.append(("select", {"dim": dim, "index": i}))
            rank -= 1
        elif isinstance(i, slice):
            if i != slice(None):
                a = {"dim": dim}
                if i.start is not None:
                    a["start"] = i.start
                if i.stop is not None:
                    a["end"] = i.stop
                if i.step not in (None, 1):
                    a["step"] = i.step
                steps.append(("slice", a))
            dim += 1
        else:
            out.unsupported.append((where, "indexing with a tensor or a non-constant index"))
            return None
    cur = v
    x = args[0]
    for k, (t, a) in enumerate(steps):
        if t == "select":
            x = x.select(a["dim"], a["index"])
        elif t == "unsqueeze":
            x = x.unsqueeze(a["dim"])
        else:
            x = x[(slice(None),) * a["dim"] + (slice(a.get("start"), a.get("end"), a.get("step")),)]
        local = labels.take(scope, t)
        full = f"{scope}.{local}" if scope else local
        op = Op(full, scope, local, t, a, [cur], tuple(x.shape), named=False)
        out.ops.append(op)
        cur = Value(op)
    return cur


# -- forward hooks -----------------------------------------------------------------------


def _hooks(model, example, out: Trace, reason: str) -> Trace:
    """Record every leaf module call with forward hooks. Each call's input must be the
    network input or an earlier call's output (the very tensor object): anything
    computed between modules (an add, a cat) is invisible here and refused."""
    out.method = "hooks"
    produced: dict = {id(example): INPUT}
    keep = [example]
    called: set = set()
    labels = _Labels(out)
    handles = []

    def hook(path, m):
        def run(mod, inputs, result):
            scope, local = _split(path)
            entry = module_entry(mod)
            if entry is None:
                out.unsupported.append((path, no_type(mod)))
                return
            tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
            ins = [produced.get(id(t)) for t in tensors]
            if not ins or any(i is None for i in ins):
                out.unsupported.append(
                    (
                        path,
                        "torch.fx could not trace the model "
                        f"({reason}) and this module's input is computed outside any "
                        "module, which forward hooks cannot see",
                    )
                )
                return
            type_, margs, outs = entry
            share = path in called
            called.add(path)
            out.leaves.add(path)
            op = Op(
                path,
                scope,
                local,
                type_,
                margs,
                ins[:1] if type_ != "multihead_attention" else ins,
                _first_shape(result),
                share=share,
            )
            op.outputs = outs
            if share:
                op.local = labels.take(scope, local)
            out.ops.append(op)
            first = result if isinstance(result, torch.Tensor) else result[0]
            produced[id(first)] = Value(op)
            keep.append(first)

        return run

    for path, m in model.named_modules():
        if path and (module_entry(m) is not None or not list(m.children())):
            handles.append(m.register_forward_hook(hook(path, m)))
    try:
        with torch.no_grad():
            res = model(example)
        out.result = res
    finally:
        for h in handles:
            h.remove()
    first = res if isinstance(res, torch.Tensor) else None
    out.output = produced.get(id(first)) if first is not None else None
    if out.output is None and not out.unsupported:
        out.unsupported.append(
            (
                "(output)",
                f"torch.fx could not trace the model ({reason}) and its output "
                "is not the output of a module",
            )
        )
    return out


__all__ = ["Op", "Value", "INPUT", "Trace", "trace", "F"]
