"""``layercalc import torch MODULE:CALLABLE``: a spec from a PyTorch module.

:func:`import_torch` imports MODULE, calls CALLABLE(**kwargs) for an ``nn.Module``,
traces it (:mod:`.torch_trace`), writes the spec (:mod:`.specwriter`) and proves it:
layercalc builds the written text, and every layer's tensors must be the module's
``state_dict`` (names and shapes), the output shape and the parameter total torch's.
Repeated module classes become blocks; when such a spec does not prove out, the flat
one (a group per module, no blocks) is tried before giving up.

Needs torch (the ``torch`` extra); this module imports it, so import it only when the
command runs."""

from __future__ import annotations

import importlib
import json
import sys

import torch
from torch.overrides import TorchFunctionMode

from . import specwriter
from .specwriter import Unexpressible
from .torch_trace import trace as trace_module
from .torch_layers import module_entry


class ImportFailure(Exception):
    """The command cannot go on: ``message`` says why, ``problems`` lists (path, reason)
    of every module or operation that cannot be expressed, ``hint`` what to do."""

    def __init__(self, message: str, problems=(), hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.hint = hint


def load_callable(target: str):
    if ":" not in target:
        raise ImportFailure(
            f"'{target}' is not MODULE:CALLABLE",
            hint="for example torchvision.models:resnet50",
        )
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise ImportFailure(
            f"'{target}' is not MODULE:CALLABLE", hint="for example torchvision.models:resnet50"
        )
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # a module in the current directory, as `python -m` finds it
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        hint = "check the name, and that it is installed in this Python environment"
        if "/" in mod_name or "\\" in mod_name or mod_name.endswith(".py"):  # a file path
            dotted = mod_name.removesuffix(".py").replace("\\", "/").strip("/").replace("/", ".")
            hint = (
                f"give a dotted module name, not a file path: {dotted}:{attr} (run from the "
                "directory that holds it: the current directory is on the path)"
            )
        raise ImportFailure(f"cannot import the module '{mod_name}': {exc}", hint=hint) from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed while importing
        raise ImportFailure(f"importing '{mod_name}' failed: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            from ..errors import did_you_mean

            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ImportFailure(
                f"the module '{mod_name}' has no attribute '{attr}'",
                hint=did_you_mean(part, names) or None,
            ) from None
    return obj


def build_model(target: str, kwargs: dict | None, fn=None):
    if fn is None:
        fn = load_callable(target)
    if isinstance(fn, torch.nn.Module):
        model = fn
    elif callable(fn):
        try:
            model = fn(**(kwargs or {}))
        except Exception as exc:  # noqa: BLE001 - the user's constructor failed
            raise ImportFailure(
                f"calling {target}(**{json.dumps(kwargs or {})}) failed: {type(exc).__name__}: {exc}"
            ) from None
    else:
        raise ImportFailure(f"{target} is neither callable nor an nn.Module")
    if not isinstance(model, torch.nn.Module):
        raise ImportFailure(f"{target}(...) returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def header_lines(target: str, kwargs: dict | None, input_shape) -> list:
    call = f"{target}(**{json.dumps(kwargs, sort_keys=True)})" if kwargs else f"{target}()"
    return [
        f"Imported from {call} by `layercalc import torch`",
        f"input {list(input_shape)}; names and state_dict keys are the module's own",
    ]


def _trace_failure(model, example, input_shape, exc) -> ImportFailure:
    """Why tracing failed: the module itself rejects the input (it fails on it run
    plainly too), or the importer failed on a module that runs (a layercalc bug, not
    the user's: said so, with where to report it)."""
    what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    try:
        model(example)
    except Exception:  # noqa: BLE001 - the module's own failure
        return ImportFailure(
            f"the module fails on an input of shape {list(input_shape)}: {what}",
            hint="give the input shape the module expects with --input (batch first)",
        )
    return ImportFailure(
        f"layercalc's importer failed on this module, which runs on an input of shape "
        f"{list(input_shape)}: {what}",
        hint="this is a layercalc bug: please report it with the module; "
        "`import onnx` of its ONNX export may work meanwhile",
    )


def import_torch(
    target: str,
    input_shape,
    kwargs: dict | None = None,
    blocks: bool = True,
    model=None,
) -> str:
    """The spec text for ``target`` called with ``kwargs`` and fed a tensor of
    ``input_shape``; ImportFailure when it cannot be written or does not prove out.

    The module is first built and traced on PyTorch's meta device (shapes without
    data: no weight initialisation, no arithmetic; ResNet-50's real forward and init
    took most of the command's time). Anything unusual there (a constructor or forward
    that needs real data, an error, a part that cannot be written) runs the whole import
    again on real tensors, so every message is the one a real run gives.

    Python's cyclic collector is off meanwhile (:func:`layercalc.graph.gc_paused`):
    each of its full passes walked the million objects importing torch made, 0.05-0.2 s
    apiece, and several ran while ResNet-50 was imported."""
    from ..graph import gc_paused

    with gc_paused():
        return _import_torch(target, input_shape, kwargs, blocks, model)


def _import_torch(target, input_shape, kwargs, blocks, model) -> str:
    if model is None:
        fn = load_callable(target)  # outside the meta device: module-level tensors stay real
        if not isinstance(fn, torch.nn.Module):
            text = _on_meta(fn, target, input_shape, kwargs, blocks)
            if text is not None:
                return text
        model = build_model(target, kwargs, fn)
    else:
        model = model.eval()
    return _import(model, target, input_shape, kwargs, blocks)


def _on_meta(fn, target, input_shape, kwargs, blocks) -> str | None:
    """The spec written from the module built and run on the meta device, or None when
    that does not go through cleanly (the caller then imports on real tensors)."""
    try:
        with torch.device("meta"):
            with _NoDraws():
                model = build_model(target, kwargs, fn)
            if any(t.device.type != "meta" for t in _tensors(model)):
                return None  # the constructor placed tensors itself
            return _import(model, target, input_shape, kwargs, blocks)
    except Exception:  # noqa: BLE001 - any failure: the real run decides and reports
        return None


class _NoDraws(TorchFunctionMode):
    """Filling a meta tensor with normal random numbers does nothing (it has no values),
    yet PyTorch's meta ``normal_`` is a Python decomposition (~0.5 ms a call: ResNet-50's
    kaiming_normal_ initialisation was half of its construction). Such calls return the
    tensor at once when the real call would go through; any other call runs as it is."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _NORMALS:
            t = _undrawn(func, args, kwargs)
            if t is not None:
                return t
        return func(*args, **kwargs)


_NORMALS = (torch.Tensor.normal_, torch.nn.init.normal_)


def _undrawn(func, args, kwargs):
    """The meta tensor that ``func`` (``Tensor.normal_`` or ``nn.init.normal_``) would
    fill, when the call would succeed on real tensors: floating point, numbers for mean
    and std, std >= 0, no in-place change of a leaf that requires grad; else None."""
    given = dict(zip(("tensor", "mean", "std"), args), **kwargs)
    t, mean, std = given.get("tensor"), given.get("mean", 0.0), given.get("std", 1.0)
    if not (isinstance(t, torch.Tensor) and t.is_meta and t.is_floating_point()):
        return None
    if not all(type(v) in (int, float) for v in (mean, std)) or not std >= 0:
        return None
    if func is torch.Tensor.normal_ and t.requires_grad and t.is_leaf and torch.is_grad_enabled():
        return None
    return t


def _one_input(model) -> None:
    """ImportFailure for a forward that needs more than one argument: the import feeds
    one tensor (it passed None for the rest, and the module failed on it somewhere)."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):  # a builtin or C forward: nothing to read
        return
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    needed = [p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]
    if len(needed) > 1:
        raise ImportFailure(
            f"its forward takes {len(needed)} inputs ({', '.join(needed)}); `import torch` "
            "feeds one tensor, so it imports modules of one input",
            hint="wrap the module in one whose forward takes one tensor (building the "
            "others from it), or write the spec's `input:` mapping of named inputs by hand",
        )


def _tensors(model):
    yield from model.parameters()
    yield from (b for b in model.buffers() if b is not None)


def _import(model, target, input_shape, kwargs, blocks) -> str:
    header = header_lines(target, kwargs, input_shape)
    if module_entry(model) is not None:
        # the module is itself one layer (nn.Linear, nn.TransformerEncoderLayer): a spec
        # names its layers, so it is written as nn.Sequential(module) would be
        model = torch.nn.Sequential(model)
        header[1:] = [
            f"input {list(input_shape)}; the module is one layer, written as",
            "nn.Sequential(module) would be: its state_dict keys gain the prefix '0.'",
            "(a checkpoint of the module itself: verify --weights FILE --add-prefix 0.)",
        ]
    _one_input(model)
    example = _example(model, input_shape)
    with torch.no_grad():
        try:
            tr = trace_module(model, example)
        except Exception as exc:  # noqa: BLE001 - the module rejects the input, or the tracer fails
            raise _trace_failure(model, example, input_shape, exc) from None
    result = tr.result
    if not isinstance(result, torch.Tensor):
        raise ImportFailure(
            f"the module returns {type(result).__name__}, not one tensor",
            [("(output)", "only a module returning one tensor can be imported")],
        )
    _never_called(model, tr)
    _tie(model, tr)
    params = sum(p.numel() for p in model.parameters())
    expect = {"output": list(result.shape), "params": params}
    name = target.rsplit(":", 1)[-1]
    # merged blocks, then one block per structure, then no blocks: the first that proves
    tries = ((True, True), (True, False), (False, False)) if blocks else ((False, False),)
    errors = []
    for extract, merge in tries:
        try:
            text = specwriter.write(
                tr, header, input_shape, name, expect, extract_blocks=extract, merge=merge
            )
        except Unexpressible as exc:
            never = any(reason == NEVER_CALLED for _, reason in exc.problems)
            raise ImportFailure(
                f"{len(exc.problems)} part(s) of the module cannot be written as a spec",
                exc.problems,
                hint=NEVER_CALLED_HINT if never else None,
            ) from None
        problems = prove(text, model, result)
        if not problems:
            return text
        errors = problems
    raise ImportFailure(
        "the written spec does not reproduce the module (an importer limitation)",
        errors,
        hint="please report it with the module; nothing was written",
    )


def _example(model, shape):
    """A random input: token indices when the module embeds them, else floats."""
    sizes = [m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    if sizes:
        return torch.randint(0, min(sizes), tuple(shape))
    return torch.randn(*shape)


def _tie(model, tr) -> None:
    """A tensor two leaf modules share (``head.weight = emb.weight``) becomes a `tie` of
    the module called later to the key of the one called first, as PyTorch counts it
    once (SPEC.md section 11); the proof then holds both keys to torch's state_dict."""
    first = {}  # module path -> index of its first call
    for i, op in enumerate(tr.ops):
        if op.named and op.type != "parameter":
            first.setdefault(op.path, i)
    holders: dict = {}  # id(tensor) -> its state_dict keys
    for key, t in [
        *model.named_parameters(remove_duplicate=False),
        *model.named_buffers(remove_duplicate=False),
    ]:
        holders.setdefault(id(t), []).append(key)
    ties: dict = {}
    for keys in holders.values():
        owners = sorted(
            (first[path], path, name)
            for path, _, name in (k.rpartition(".") for k in keys)
            if path in first
        )
        if len(owners) < 2 or len({path for _, path, _ in owners}) < len(owners):
            continue  # not two called modules (a free tensor, one module's two names)
        target = f"{owners[0][1]}.{owners[0][2]}"
        for _, path, name in owners[1:]:
            ties.setdefault(path, {})[name] = target
    for op in tr.ops:
        if op.path in ties and not op.share and op.named:
            op.args = {**op.args, "tie": ties[op.path]}


NEVER_CALLED = (
    "holds tensors but forward never calls it (in eval mode, at this input), "
    "so a spec has no place for them"
)
# what to do about them: auxiliary heads are a constructor's option
NEVER_CALLED_HINT = (
    "where the constructor can leave these modules out, pass that with --kwargs "
    """(GoogLeNet, Inception-v3: --kwargs '{"aux_logits": false}')"""
)


def _never_called(model, tr) -> None:
    """Modules holding tensors that forward never reached (GoogLeNet's auxiliary heads
    in eval mode): a spec has no place for them, so they are listed as unsupported."""
    used = set(tr.leaves) | {op.path for op in tr.ops if op.type == "parameter"}
    refused = list(tr.unsupported)
    for path, m in model.named_modules():
        own = [n for n, _ in m.named_parameters(recurse=False)]
        transient = getattr(m, "_non_persistent_buffers_set", ())  # not in a state_dict
        own += [
            n for n, b in m.named_buffers(recurse=False) if b is not None and n not in transient
        ]
        if not own or path in used:
            continue
        if any((f"{path}.{n}" if path else n) in used for n in own):
            continue
        if path and any(u == path or u.startswith(path + ".") for u in tr.leaves):
            continue  # a container of called modules
        if any(path.startswith(u + ".") for u in tr.leaves):
            continue  # inside a module layercalc writes as one layer (mha's out_proj)
        if any(path == p or path.startswith(p + ".") for p, _ in refused):
            continue  # a module already refused, or inside one: its reason covers it
        tr.unsupported.append((path or "(root)", NEVER_CALLED))


def prove(text: str, model, result) -> list:
    """What differs between the spec ``text`` as layercalc builds it and the module:
    [] when the state_dict keys and shapes, output shape and parameter total agree."""
    from ..analyses.loading import analyse_bytes

    res = analyse_bytes(text.encode(), "<import>")
    if not res.ok:
        return [
            (f"<spec line {d.line}>" if getattr(d, "line", None) else "<spec>", d.message)
            for d in res.diagnostics
        ]
    net = res.net
    found = {}
    for layer in net.layers:
        if layer.shares is not None:
            continue
        for t in layer.tensors:
            found[layer.state_key(t.key)] = tuple(t.shape)
        for key, _, shape in layer.ties:
            found[layer.state_key(key)] = tuple(shape)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = []
    for k in want:
        if k not in found:
            problems.append((k, "in the module's state_dict but not in the spec"))
        elif found[k] != want[k]:
            problems.append((k, f"shape {list(found[k])} in the spec, {list(want[k])} in torch"))
    for k in found:
        if k not in want:
            problems.append((k, "in the spec but not in the module's state_dict"))
    outs = list(net.outputs.values())
    if len(outs) != 1 or tuple(outs[0]) != tuple(result.shape):
        problems.append(("(output)", f"spec output {outs}, torch {list(result.shape)}"))
    total = net.totals()["params"]
    params = sum(p.numel() for p in model.parameters())
    if total != params:
        problems.append(("(params)", f"spec {total} parameters, torch {params}"))
    return problems
