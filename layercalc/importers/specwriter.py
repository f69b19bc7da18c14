"""Write a spec from a traced network (:mod:`.torch_trace`'s ops): one group per module
that holds work (``sequential`` when it takes one input, a block when it takes several),
leaf modules under their own names, functional operations under labels, repeated module
classes with the same structure as blocks whose arguments are the integers that differ.
Pure text out; it needs no torch."""

from __future__ import annotations

import inspect
import math
import re

from ..text import yaml_quoted
from .torch_trace import INPUT, Value

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
MAX_FLAGS = 2  # optional members one block may switch (ResNet: downsample; MobileNetV2: 2)


class Unexpressible(Exception):
    """What cannot be written: ``problems`` is a list of (module path, reason)."""

    def __init__(self, problems):
        super().__init__("; ".join(f"{p}: {r}" for p, r in problems))
        self.problems = problems


class Group:
    __slots__ = (
        "path",
        "local",
        "parent",
        "children",
        "inputs",
        "ops",
        "module",
        "body",
        "torch_name",
    )

    def __init__(self, path, parent, module, torch_name=None):
        self.path = path
        self.torch_name = torch_name  # PyTorch's name where the language reserves it
        self.local = path.rsplit(".", 1)[-1]
        self.parent = parent
        self.children = []  # Op or Group, in order
        self.inputs = []  # external Values, in order of first use
        self.ops = set()  # ids of the ops in its subtree
        self.module = module
        self.body = None


def _snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return re.sub(r"\W", "_", s.lower())


# -- the tree of groups ------------------------------------------------------------------


_RESERVED_LOCAL = ("input", "output")  # names the spec language keeps for itself


def _rename_reserved(trace) -> dict:
    """Module names the spec language reserves (BERT's ``attention.output``) become
    ``output_`` with ``torch_name: output`` (SPEC.md section 11), in the trace's scopes,
    local names and classes; the spec path -> PyTorch name map, made once per trace (the
    writer runs several times on it)."""
    if trace.torch_names is not None:
        return trace.torch_names
    top = sorted(
        {op.path for op in trace.ops if not op.scope and op.local in _RESERVED_LOCAL}
        | {p for p in trace.classes if p in _RESERVED_LOCAL}
    )
    if top:  # `input.weight`, `output.weight`: verify's npz keeps the network's there
        raise Unexpressible(
            [
                (
                    p,
                    f"a top-level module named '{p}': its state_dict keys ({p}.weight...) "
                    f"would clash with the npz of `verify --save`, which keeps the network's "
                    f"{p} under '{p}' (nested deeper, `{p}_` with `torch_name: {p}` is written)",
                )
                for p in top
            ]
        )

    def renamed(path: str) -> str:
        return ".".join(p + "_" if p in _RESERVED_LOCAL else p for p in path.split("."))

    names: dict = {}
    for path in list(trace.classes):
        if path and any(p in _RESERVED_LOCAL for p in path.split(".")):
            new = renamed(path)
            trace.classes[new] = trace.classes.pop(path)
            names[new] = (
                path.rsplit(".", 1)[-1] if path.rsplit(".", 1)[-1] in _RESERVED_LOCAL else None
            )
    for op in trace.ops:
        if op.scope:
            op.scope = renamed(op.scope)
        if op.local in _RESERVED_LOCAL:
            op.args = {**op.args, "torch_name": op.local}
            op.local += "_"
    trace.torch_names = {k: v for k, v in names.items() if v}
    return trace.torch_names


def _common_scope(a: str, b: str) -> str:
    pa, pb = a.split(".") if a else [], b.split(".") if b else []
    n = 0
    while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
        n += 1
    return ".".join(pa[:n])


def _gather_interleaved(trace) -> None:
    """Functional ops (an add, a relu: no module, no parameters) written by a forward
    between two modules of one container it calls by attribute (layercalc export's
    flat form: ``self.g.a``, ``+``, ``self.g["2"]``; a ModuleList looped over with work
    between its modules) join that container's list: a spec's group is a list of
    entries in order, its data flow explicit in `from`, so the state_dict keys and the
    output stay the module's; else the container would open twice."""
    ops = trace.ops
    locals_in: dict = {}  # scope -> the local names in it (kept as ops move)
    for op in ops:
        locals_in.setdefault(op.scope, set()).add(op.local)
    i = 0
    while i < len(ops):
        if ops[i].named or ops[i].share or i == 0:
            i += 1
            continue
        scope = ops[i].scope
        j = i
        while j < len(ops) and not ops[j].named and not ops[j].share and ops[j].scope == scope:
            j += 1  # ops[i:j] a run of functional ops of one scope
        if j == len(ops):
            break
        inside = _common_scope(ops[i - 1].scope, ops[j].scope)
        if inside and inside != scope and (not scope or inside.startswith(scope + ".")):
            taken = locals_in.setdefault(inside, set())
            taken |= set(trace.children.get(inside, ()))
            for op in ops[i:j]:
                name, k = op.local, 0
                while name in taken or name in _RESERVED_LOCAL:
                    k += 1
                    name = f"{op.local}_{k}"
                taken.add(name)
                locals_in.get(op.scope, set()).discard(op.local)
                op.scope, op.local, op.path = inside, name, f"{inside}.{name}"
        i = j


def build_tree(trace) -> Group:
    torch_names = _rename_reserved(trace)
    _gather_interleaved(trace)
    root = Group("", None, trace.classes.get(""))
    groups = {"": root}
    problems = []
    for op in trace.ops:
        g = root
        if op.scope:
            parts = op.scope.split(".")
            for k in range(1, len(parts) + 1):
                path = ".".join(parts[:k])
                child = groups.get(path)
                if child is None:
                    child = Group(path, g, trace.classes.get(path), torch_names.get(path))
                    groups[path] = child
                    g.children.append(child)
                elif not g.children or g.children[-1] is not child:
                    kind = type(child.module).__name__ if child.module is not None else ""
                    problems.append(
                        (
                            path,
                            f"the modules of this {kind} are called with other work between "
                            "them (`x = m(x) + x` in a loop), which a spec's group cannot "
                            "interleave with its parent's entries yet: make the loop's body a "
                            "module of its own (one holding the layer, whose forward adds x)"
                            if kind in ("ModuleList", "ModuleDict")
                            else "this module is called again after other work (a second call "
                            "of a module with submodules cannot be imported yet)",
                        )
                    )
                g = child
        g.children.append(op)
    if problems:
        raise Unexpressible(list(dict.fromkeys(problems)))
    _hoist(root, trace)
    _collect(root)
    root.inputs = [INPUT]
    return root


def _subtree_ops(c) -> list:
    if not isinstance(c, Group):
        return [c]
    out = []
    for x in c.children:
        out += _subtree_ops(x)
    return out


def _hoist(g: Group, trace) -> None:
    """A module whose forward starts by joining several inputs (DenseNet's
    ``torch.cat(inputs, 1)``) gets the join written just before it, in its parent's list:
    the module then takes one input, so its uses can share one block."""
    for c in list(g.children):
        if isinstance(c, Group):
            _hoist(c, trace)
    if g.parent is None or len(g.children) < 2:
        return
    first = g.children[0]
    if isinstance(first, Group) or first.named or first.share or first.from_map:
        return
    if len({_key(v) for v in first.inputs}) < 2:
        return
    inner = set()
    consumed = []
    for c in g.children[1:]:
        for op in _subtree_ops(c):
            inner.add(id(op))
            consumed += _op_inputs(op)
    ext = {_key(v) for v in consumed if v.op is None or id(v.op) not in inner}
    if ext != {_key(Value(first))}:
        return
    parent = g.parent
    g.children.pop(0)
    parent.children.insert(parent.children.index(g), first)
    taken = {x.local for x in parent.children if x is not first}
    taken |= set(trace.children.get(parent.path, ()))
    name, k = first.type, 0
    while name in taken or name in ("input", "output"):
        k += 1
        name = f"{first.type}_{k}"
    first.scope = parent.path
    first.local = name
    first.path = f"{parent.path}.{name}" if parent.path else name


def _collect(g: Group):
    for c in g.children:
        if isinstance(c, Group):
            _collect(c)
            g.ops |= c.ops
        else:
            g.ops.add(id(c))
    seen = set()
    for c in g.children:
        ins = c.inputs if isinstance(c, Group) else _op_inputs(c)
        for v in ins:
            if (v.op is None or id(v.op) not in g.ops) and _key(v) not in seen:
                seen.add(_key(v))
                g.inputs.append(v)


def _op_inputs(op):
    return list(op.from_map.values()) if op.from_map else list(op.inputs)


def _key(v: Value):
    return (id(v.op) if v.op is not None else None, v.out)


def _output(c) -> Value:
    """The value an entry's use yields: its own for a leaf, the last member's for a group."""
    while isinstance(c, Group):
        c = c.children[-1]
    return Value(c)


# -- entries -----------------------------------------------------------------------------


class Entry:
    """One spec entry: ``type`` (a layer type, a block name, "sequential" or "share"),
    ``args`` (layer arguments or block arguments), meta keys, ``layers`` for a
    sequential."""

    __slots__ = ("type", "args", "name", "from_", "layers", "group", "repeat", "when", "template")

    def __init__(self, type_, args, name, from_, layers=None, group=None):
        self.type = type_
        self.args = args
        self.name = name
        self.from_ = from_
        self.layers = layers
        self.group = group
        self.repeat = 1
        self.when = None
        self.template = None  # (prefix, first number): copies named PREFIX{i + first}


class Writer:
    def __init__(self, trace, extract_blocks=True, merge=True):
        self.trace = trace
        self.extract = extract_blocks
        self.merge = merge
        self.blocks = {}  # name -> (inputs, args (name -> None), layers)
        self.block_of = {}  # id(group) -> (block name, {arg: value})

    # references -----------------------------------------------------------------------

    def ref(self, g: Group, v: Value, in_names) -> str:
        if v.op is None or id(v.op) not in g.ops:
            for i, w in enumerate(g.inputs):
                if _key(w) == _key(v):
                    return in_names[i]
            raise AssertionError("unresolved input")
        # the child of g holding v.op
        path = []
        cur = g
        while True:
            for c in cur.children:
                if c is v.op:
                    path.append(c.local)
                    suffix = f".{v.out}" if v.out else ""
                    full = ".".join(path) + suffix
                    return full
                if isinstance(c, Group) and id(v.op) in c.ops:
                    if v.out is None and _key(_output(c)) == _key(v):
                        path.append(c.local)
                        return ".".join(path)
                    path.append(c.local)
                    cur = c
                    break
            else:
                raise AssertionError("unresolved value")

    # bodies ---------------------------------------------------------------------------

    def body(self, g: Group) -> list:
        """The entries of ``g``'s list."""
        in_names = self.input_names(g)
        entries = []
        prev = g.inputs[0] if g.inputs else None
        index = 0
        for c in g.children:
            ins = c.inputs if isinstance(c, Group) else _op_inputs(c)
            if isinstance(c, Group):
                refs = [self.ref(g, v, in_names) for v in ins]
            elif c.from_map:
                refs = {k: self.ref(g, v, in_names) for k, v in c.from_map.items()}
            else:
                refs = [self.ref(g, v, in_names) for v in ins]
            default = prev is not None and len(ins) == 1 and _key(ins[0]) == _key(prev)
            from_ = None
            if not default and ins:
                from_ = refs[0] if isinstance(refs, list) and len(refs) == 1 else refs
            if isinstance(c, Group):
                e = self.group_entry(c, from_)
            elif c.share:
                e = Entry("share", {}, c.local, from_)
                e.args = {"share": _dotted_from(g, c)}
            else:
                e = Entry(c.type, dict(c.args), c.local, from_)
            if e.type != "share" and e.name == str(index):
                e.name = None
            if e.type != "share":
                index += 1
            entries.append(e)
            prev = _output(c)
        return entries

    def input_names(self, g: Group) -> list:
        if len(g.inputs) <= 1:
            return ["input"]
        taken = {c.local for c in g.children}
        names = ["input"]
        for i in range(1, len(g.inputs)):
            n = f"x{i}"
            while n in taken:
                n = "_" + n
            names.append(n)
        return names

    def group_entry(self, g: Group, from_) -> Entry:
        layers = self.body(g)
        g.body = layers
        args = {"torch_name": g.torch_name} if g.torch_name else {}
        return Entry("sequential", args, g.local, from_, layers, g)

    # blocks ---------------------------------------------------------------------------

    def make_blocks(self, entries: list) -> None:
        """Turn groups into block uses: every group of a class (not a container) that is
        used at least twice, and every group with several inputs. With ``merge``, the
        uses of one class whose structures differ by optional members (ResNet's
        ``downsample``) share one block whose ``has_...`` flags keep those members
        (``when:``); otherwise each structure is its own block."""
        _fill_defaults(entries)
        groups = []
        _walk(entries, groups)
        pending = []
        for e in groups:
            g = e.group
            cls = type(g.module).__name__ if g.module is not None else "group"
            if len(g.inputs) <= 1 and (not self.extract or cls in CONTAINERS):
                continue
            pending.append((cls, e))
        # innermost first: a block's body then holds its members' block uses
        while pending:
            by_sig = {}
            for cls, e in pending:
                skel = _skeleton(e.layers)
                key = (cls, len(e.group.inputs)) + (() if self.merge else (skel,))
                by_sig.setdefault(key, []).append(e)
            key, uses = max(
                by_sig.items(), key=lambda kv: max(x.group.path.count(".") for x in kv[1])
            )
            pending = [(c, e) for c, e in pending if e not in uses]
            if len(uses) < 2 and len(uses[0].group.inputs) <= 1:
                continue
            if self.extract_block(key[0], uses):
                continue
            # too many optional members for one readable block: a block per structure
            variants = {}
            for e in uses:
                variants.setdefault(_skeleton(e.layers), []).append(e)
            for same in variants.values():
                if len(same) >= 2 or len(same[0].group.inputs) > 1:
                    self.extract_block(key[0], same)

    def extract_block(self, cls: str, uses: list) -> bool:
        """Make the block; False (nothing changed) when its uses differ by more optional
        members than MAX_FLAGS flags can keep readable."""
        base = _snake(cls) if cls not in CONTAINERS else "group"
        name = base
        k = 1
        while name in self.blocks or name in _RESERVED:
            k += 1
            name = f"{base}_{k}"
        skels = []
        variant = []
        for u in uses:
            sk = _skeleton(u.layers)
            if sk not in skels:
                skels.append(sk)
            variant.append(skels.index(sk))
        reps = [uses[variant.index(v)].layers for v in range(len(skels))]
        union = _merge(reps)
        # flags: one per pattern of presence (its complement is `not FLAG`)
        everyone = frozenset(range(len(skels)))
        flags = {}  # pattern -> name
        args = {}  # name -> values per use
        whens = []
        _patterns(union, everyone, whens)
        # a flag is named after a module it keeps (downsample), not an operation (add)
        whens.sort(key=lambda pl: pl[1][0])
        for pattern, (_, label) in whens:
            if pattern in flags or (everyone - pattern) in flags:
                continue
            flag = _snake(f"has_{label}")
            while flag in args or flag in _RESERVED:
                flag += "_"
            flags[pattern] = flag
            args[flag] = [variant[j] in pattern for j in range(len(uses))]
        if len(flags) > MAX_FLAGS:
            return False
        vectors = []
        for j, u in enumerate(uses):
            # this use's own entries, matched to its variant's representative ones
            same = dict(zip(map(id, _flat_entries(reps[variant[j]])), _flat_entries(u.layers)))
            nums = []
            _union_numbers(union, variant[j], nums, same)
            vectors.append(nums)
        columns = list(zip(*vectors))
        arg_of = {}
        names_for = _name_candidates(uses)
        slots = []
        _union_slots(union, slots)
        slot_names = _short_names(slots)
        for i, col in enumerate(columns):
            known = [c for c in col if c is not None]
            if all(_same(c, known[0]) for c in known):
                arg_of[i] = None
                continue
            found = None
            for a, vals in args.items():
                if all(x is None or _same(x, y) for x, y in zip(col, vals)):
                    found = a
                    break
            if found is not None:
                arg_of[i] = found
                continue
            expr = _multiple(args, col)
            if expr is not None:
                arg_of[i] = expr
                continue
            a = names_for(col) or slot_names[i]
            while a in args or a in _RESERVED:
                a = a + "_"
            args[a] = [known[0] if c is None else c for c in col]
            arg_of[i] = a
        layers = _union_layers(
            union, iter([arg_of[i] for i in range(len(columns))]), flags, everyone
        )
        inputs = ["x0", *self.input_names(uses[0].group)[1:]]
        # a flag's or a 0/1 argument's (stride) default: its most common value; sizes
        # stay required, so that every use shows them
        defaults = {}
        for a, vals in args.items():
            counts = {}
            for v in vals:
                counts[(type(v), v)] = counts.get((type(v), v), 0) + 1
            common = max(counts.items(), key=lambda kv: kv[1])[0][1]
            defaults[a] = common if isinstance(common, bool) or common in (0, 1) else None
        self.blocks[name] = (inputs if len(inputs) > 1 else None, defaults, layers)
        for j, u in enumerate(uses):
            u.type = name
            u.args = {a: vals[j] for a, vals in args.items()}  # defaults left out when written
            u.layers = None
        return True

    # text -----------------------------------------------------------------------------


# numeric arguments PyTorch defaults, filled in while blocks are sought (so that a
# stride-1 conv and a stride-2 conv have one structure) and left out again when written
_NUM_DEFAULTS = {
    "conv": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    "conv_transpose": {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1, "groups": 1},
    "batch_norm": {"eps": 1e-5, "momentum": 0.1},
    "instance_norm": {"eps": 1e-5, "momentum": 0.1},
    "layer_norm": {"eps": 1e-5},
    "group_norm": {"eps": 1e-5},
    "dropout": {"p": 0.5},
    "max_pool": {"padding": 0},
    "avg_pool": {"padding": 0},
    "leaky_relu": {"negative_slope": 0.01},
}


def _defaults_of(type_: str) -> dict:
    base = re.sub(r"[123]d$", "", type_ or "")
    return _NUM_DEFAULTS.get(base, {})


_KEY_ORDER = (
    "out_channels",
    "out_features",
    "hidden_size",
    "num_heads",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "dilation",
    "groups",
    "bias",
)


def _order(key):
    return (_KEY_ORDER.index(key), "") if key in _KEY_ORDER else (len(_KEY_ORDER), key)


def _fill_defaults(entries):
    """Numeric defaults filled in, arguments in one order: equal structures compare equal."""
    for e in entries:
        for k, v in _defaults_of(e.type).items():
            e.args.setdefault(k, v)
        e.args = {k: e.args[k] for k in sorted(e.args, key=_order)}
        if e.layers is not None:
            _fill_defaults(e.layers)


def strip_defaults(entries, blocks):
    for e in entries:
        d = blocks[e.type][1] if e.type in blocks else _defaults_of(e.type)
        for k in [k for k, v in e.args.items() if k in d and not isinstance(v, Expr)]:
            if _same(e.args[k], d[k]):
                del e.args[k]
        if e.layers is not None:
            strip_defaults(e.layers, blocks)


_RESERVED = {
    "input",
    "output",
    "name",
    "from",
    "repeat",
    "when",
    "trainable",
    "share",
    "tie",
    "torch_name",
}


# -- merging the structures of one class ------------------------------------------------


def _entry_key(e):
    if e.layers is not None:
        return ("seq", e.name, _skel_from(e.from_))
    return _skeleton([e])[0]


def _skel_from(f):
    return tuple(f) if isinstance(f, list) else (tuple(f.items()) if isinstance(f, dict) else f)


class _Item:
    """One entry of merged bodies: the entry of each variant holding it."""

    __slots__ = ("key", "entries", "children")

    def __init__(self, key, entries):
        self.key = key
        self.entries = entries  # variant -> Entry
        self.children = None


def _merge(lists):
    union = [_Item(_entry_key(e), {0: e}) for e in lists[0]]
    for v, lst in enumerate(lists[1:], 1):
        keys = [_entry_key(e) for e in lst]
        ukeys = [it.key for it in union]
        n, m = len(ukeys), len(keys)
        table = [[0] * (m + 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            for j in range(m - 1, -1, -1):
                table[i][j] = (
                    table[i + 1][j + 1] + 1
                    if ukeys[i] == keys[j]
                    else max(table[i + 1][j], table[i][j + 1])
                )
        out, i, j = [], 0, 0
        while i < n or j < m:
            if i < n and j < m and ukeys[i] == keys[j]:
                union[i].entries[v] = lst[j]
                out.append(union[i])
                i, j = i + 1, j + 1
            elif j < m and (i == n or table[i][j + 1] >= table[i + 1][j]):
                out.append(_Item(keys[j], {v: lst[j]}))
                j += 1
            else:
                out.append(union[i])
                i += 1
        union = out
    for it in union:
        first = next(iter(it.entries.values()))
        if first.layers is not None:
            vs = sorted(it.entries)
            sub = _merge([it.entries[v].layers for v in vs])
            for s in sub:
                _renumber(s, vs)
            it.children = sub
    return union


def _renumber(item, vs):
    """Sub-merges number their variants 0..; map them back."""
    item.entries = {vs[k]: e for k, e in item.entries.items()}
    for c in item.children or ():
        _renumber(c, vs)


def _patterns(union, everyone, out, prefix=""):
    index = 0
    for it in union:
        pattern = frozenset(it.entries)
        first = next(iter(it.entries.values()))
        base = first.name if first.name is not None else str(index)
        if first.type != "share":
            index += 1
        if pattern != everyone:
            rank = 1 if first.type in _OPERATIONS else 0
            out.append((pattern, (rank, f"{prefix}{base}")))
        if it.children is not None:
            _patterns(it.children, pattern, out, f"{prefix}{base}_")


_OPERATIONS = {
    "add", "mul", "sub", "div", "concat", "share", "reshape", "flatten", "permute",
    "transpose", "select", "slice", "expand", "unsqueeze", "squeeze", "mean", "sum",
}  # fmt: skip


def _flat_entries(entries) -> list:
    out = []
    for e in entries:
        out.append(e)
        if e.layers is not None:
            out += _flat_entries(e.layers)
    return out


def _union_numbers(union, v, out, same):
    for it in union:
        rep = next(iter(it.entries.values()))
        e = it.entries.get(v)
        e = None if e is None else same[id(e)]
        for key, val in rep.args.items():
            if e is None:
                out += [None] * len(_flat_nums(val))
            else:
                _nums_of(e.args[key], out)
        if it.children is not None:
            _union_numbers(it.children, v, out, same)


def _union_slots(union, out, prefix=""):
    index = 0
    for it in union:
        e = next(iter(it.entries.values()))
        base = e.name if e.name is not None else (str(index) if e.type != "share" else e.type)
        if e.type != "share":
            index += 1
        for k, v in e.args.items():
            out += [(k, _snake(f"{prefix}{base}_{k}"))] * len(_flat_nums(v))
        if it.children is not None:
            _union_slots(it.children, out, f"{prefix}{base}_")


def _union_layers(union, it_slots, flags, scope):
    out = []
    for it in union:
        rep = next(iter(it.entries.values()))
        n = Entry(
            rep.type,
            {k: _subst_value(v, it_slots) for k, v in rep.args.items()},
            rep.name,
            rep.from_,
        )
        n.repeat = rep.repeat
        pattern = frozenset(it.entries)
        if pattern != scope:
            if pattern in flags:
                n.when = flags[pattern]
            elif (scope - pattern) in flags:
                n.when = f"not {flags[scope - pattern]}"
            else:
                n.when = " or ".join(flags[p] for p in flags if p <= pattern) or None
        if it.children is not None:
            n.layers = _union_layers(it.children, it_slots, flags, pattern)
        out.append(n)
    return out


def _walk(entries, out):
    for e in entries:
        if e.layers is not None:
            _walk(e.layers, out)
            if e.group is not None:
                out.append(e)


def _dotted_from(g, op):
    return op.path[len(g.path) + 1 :] if g.path else op.path


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _skel_value(v):
    if _is_num(v):
        return "#"
    if isinstance(v, list):
        return tuple(_skel_value(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _skel_value(x)) for k, x in v.items())
    return v


def _skeleton(entries):
    out = []
    for e in entries:
        f = e.from_
        f = tuple(f) if isinstance(f, list) else (tuple(f.items()) if isinstance(f, dict) else f)
        out.append(
            (
                e.type,
                e.name,
                f,
                e.repeat,
                tuple((k, _skel_value(v)) for k, v in e.args.items()),
                _skeleton(e.layers) if e.layers is not None else None,
            )
        )
    return tuple(out)


def _numbers(entries, out):
    for e in entries:
        for v in e.args.values():
            _nums_of(v, out)
        if e.layers is not None:
            _numbers(e.layers, out)


def _nums_of(v, out):
    if _is_num(v):
        out.append(v)
    elif isinstance(v, list):
        for x in v:
            _nums_of(x, out)


def _slot_names(entries, out, prefix=""):
    """A name for every number of a body, in order: ENTRY_KEY by the entry's module path
    (``conv1_out_channels``, ``conv_0_stride``)."""
    index = 0
    for e in entries:
        base = e.name if e.name is not None else (str(index) if e.type != "share" else e.type)
        if e.type != "share":
            index += 1
        for k, v in e.args.items():
            count = len(_flat_nums(v))
            out += [(k, _snake(f"{prefix}{base}_{k}"))] * count
        if e.layers is not None:
            _slot_names(e.layers, out, f"{prefix}{base}_")


def _flat_nums(v):
    out = []
    _nums_of(v, out)
    return out


def _short_names(slots):
    """A bare key where it is the only number under that key (``kernel_size``)."""
    keys = [k for k, _ in slots]
    return [k if keys.count(k) == 1 else full for k, full in slots]


def _same(a, b):
    return type(a) is type(b) and a == b


def _multiple(args, col):
    """``name * k`` or ``name // k`` when the column is a fixed multiple of an argument
    (positions where the column is None, an omitted member, match anything)."""
    pairs = [(c, None) for c in col if c is not None]
    if not pairs or not all(isinstance(c, int) and not isinstance(c, bool) and c for c, _ in pairs):
        return None
    for a, vals in args.items():
        pairs = [(c, v) for c, v in zip(col, vals) if c is not None]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v for _, v in pairs):
            continue
        if all(c % v == 0 for c, v in pairs):
            ks = {c // v for c, v in pairs}
            if len(ks) == 1 and (k := ks.pop()) > 1:
                return f"{a} * {k}"
        if all(v % c == 0 for c, v in pairs):
            ks = {v // c for c, v in pairs}
            if len(ks) == 1 and (k := ks.pop()) > 1:
                return f"{a} // {k}"
    return None


def _name_candidates(uses):
    """A function naming a column after an integer attribute of the modules (one of
    their constructor's parameters first) that holds exactly those values."""
    mods = [u.group.module for u in uses]
    if any(m is None for m in mods):
        return lambda col: None
    try:
        params = list(inspect.signature(type(mods[0]).__init__).parameters)[1:]
    except (TypeError, ValueError):
        params = []
    attrs = [p for p in params if all(hasattr(m, p) for m in mods)]
    attrs += sorted(
        k
        for k in vars(mods[0])
        if not k.startswith("_") and k not in attrs and all(hasattr(m, k) for m in mods)
    )

    def find(col):
        for a in attrs:
            vals = [getattr(m, a, None) for m in mods]
            if all(c is None or _same(v, c) for v, c in zip(vals, col)):
                return a
        return None

    return find


def _substitute(entries, slots):
    it = iter(slots)
    return _subst(entries, it)


def _subst(entries, it):
    out = []
    for e in entries:
        n = Entry(e.type, {k: _subst_value(v, it) for k, v in e.args.items()}, e.name, e.from_)
        n.repeat = e.repeat
        if e.layers is not None:
            n.layers = _subst(e.layers, it)
        out.append(n)
    return out


def _subst_value(v, it):
    if _is_num(v):
        a = next(it)
        return v if a is None else Expr(a)
    if isinstance(v, list):
        return [_subst_value(x, it) for x in v]
    return v


class Expr(str):
    """An expression: written as is (quoted when YAML needs it)."""


def compress_repeats(entries: list) -> list:
    """Consecutive equal unnamed uses of one block, fed each by the one before, become
    one entry with ``repeat`` (the copies splice into the list's numbering)."""
    out = []
    for e in entries:
        if e.layers is not None:
            e.layers = compress_repeats(e.layers)
        last = out[-1] if out else None
        if (
            last is not None
            and e.name is None
            and last.name is None
            and e.from_ is None
            and e.layers is None
            and last.layers is None
            and e.type == last.type
            and e.type not in ("share", "sequential")
            and e.type in _BLOCK_NAMES
            and e.args == last.args
        ):
            last.repeat += 1
            continue
        if (
            last is not None
            and e.type in _BLOCK_NAMES
            and e.type == last.type
            and e.from_ is None
            and e.layers is None
            and last.layers is None
            and e.args == last.args
            and e.when is None
            and last.when is None
            and _numbered(e.name) is not None
        ):
            prefix, n = _numbered(e.name)
            if last.template is not None:
                lp, first = last.template
                if lp == prefix and first + last.repeat == n:
                    last.repeat += 1
                    continue
            elif last.repeat == 1 and _numbered(last.name) == (prefix, n - 1):
                last.template = (prefix, n - 1)
                last.repeat = 2
                continue
        out.append(e)
    return out


def _numbered(name):
    m = re.fullmatch(r"(.*?)(\d+)", name or "")
    if m is None or (len(m.group(2)) > 1 and m.group(2).startswith("0")):
        return None
    return m.group(1), int(m.group(2))


_BLOCK_NAMES: set = set()


def _referenced(entries, used: set) -> None:
    for e in entries:
        f = e.from_
        refs = f if isinstance(f, list) else (list(f.values()) if isinstance(f, dict) else [f])
        for r in refs:
            if r is not None:
                used.update(r.split("."))
        if e.layers is not None:
            _referenced(e.layers, used)


def _unlabel(entries, used: set) -> None:
    """Another call's label is written only when a later `from` needs it."""
    for e in entries:
        if e.type == "share" and e.name not in used:
            e.name = None
        if e.layers is not None:
            _unlabel(e.layers, used)


# -- YAML --------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            return {math.inf: ".inf", -math.inf: "-.inf"}.get(v, ".nan")
        r = repr(v)
        if "e" in r and "." not in r.split("e")[0]:
            m, e = r.split("e")
            r = f"{m}.0e{e}"
        return r
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {scalar(x)}" for k, x in v.items()) + "}"
    s = str(v)
    if isinstance(v, Expr):
        if (
            re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*( [*/]+ [0-9]+)?", s)
            and s.lower() not in _YAML_WORDS
        ):
            return s
        return '"' + s + '"'
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return yaml_quoted(s)


def _flow(e: Entry) -> str:
    items = []
    if e.template is not None:
        prefix, first = e.template
        var = "i" if "i" not in e.args else "copy_index"
        expr = var if first == 0 else f"{var} + {first}"
        items.append(f'name: "{prefix}{{{expr}}}"')
        items.append(f"repeat: {{times: {e.repeat}, as: {var}}}")
    elif e.name is not None:
        items.append(f"name: {scalar(e.name)}")
    if e.from_ is not None:
        items.append(f"from: {scalar(e.from_)}")
    if e.repeat > 1 and e.template is None:
        items.append(f"repeat: {e.repeat}")
    if e.when is not None:
        items.append(f"when: {scalar(Expr(e.when))}")
    items += [f"{k}: {scalar(v)}" for k, v in e.args.items()]
    return "{" + ", ".join(items) + "}"


def entry_lines(e: Entry, indent: int) -> list:
    pad = " " * indent
    if e.type == "share":
        items = [f"share: {scalar(e.args['share'])}"]
        if e.name is not None:
            items.append(f"name: {scalar(e.name)}")
        if e.from_ is not None:
            items.append(f"from: {scalar(e.from_)}")
        if e.when is not None:
            items.append(f"when: {scalar(Expr(e.when))}")
        return [f"{pad}- {{{', '.join(items)}}}"]
    if e.layers is not None:
        lines = [f"{pad}- sequential:"]
        if e.name is not None:
            lines.append(f"{pad}    name: {scalar(e.name)}")
        if e.from_ is not None:
            lines.append(f"{pad}    from: {scalar(e.from_)}")
        if e.when is not None:
            lines.append(f"{pad}    when: {scalar(Expr(e.when))}")
        if e.args.get("torch_name"):
            lines.append(f"{pad}    torch_name: {scalar(e.args['torch_name'])}")
        lines.append(f"{pad}    layers:")
        for c in e.layers:
            lines += entry_lines(c, indent + 6)
        return lines
    if e.name is None and e.from_ is None and e.repeat == 1 and not e.args and e.when is None:
        return [f"{pad}- {e.type}"]
    return wrap(f"{pad}- {e.type}: {_flow(e)}", indent + 4)


def wrap(line: str, cont: int, width: int = 96) -> list:
    """Break a long flow mapping after commas (outside brackets and quotes)."""
    if len(line) <= width:
        return [line]
    out, cur, depth, quoted = [], "", 0, False
    parts = []
    for ch in line:
        cur += ch
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[{":
            depth += 1
        elif not quoted and ch in "]}":
            depth -= 1
        elif not quoted and ch == "," and depth == 1:
            parts.append(cur)
            cur = ""
    parts.append(cur)
    line_ = parts[0]
    for p in parts[1:]:
        if len(line_) + len(p) > width:
            out.append(line_)
            line_ = " " * cont + p.lstrip()
        else:
            line_ += p
    out.append(line_)
    return out


def write(
    trace, header: list, input_shape, name: str, expect: dict, extract_blocks=True, merge=True
) -> str:
    if trace.unsupported:
        raise Unexpressible(list(dict.fromkeys(trace.unsupported)))
    root = build_tree(trace)
    w = Writer(trace, extract_blocks, merge)
    entries = w.body(root)
    w.make_blocks(entries)
    _BLOCK_NAMES.clear()
    _BLOCK_NAMES.update(w.blocks)
    strip_defaults(entries, w.blocks)
    for _, _, layers in w.blocks.values():
        strip_defaults(layers, w.blocks)
    out_ref = w.ref(root, trace.output, ["input"]) if trace.output is not None else None
    used = set(out_ref.split(".")) if out_ref else set()
    _referenced(entries, used)
    for _, _, layers in w.blocks.values():
        _referenced(layers, used)
    _unlabel(entries, used)
    for _, _, layers in w.blocks.values():
        _unlabel(layers, used)
    entries = compress_repeats(entries)
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(f"name: {scalar(name)}")
    lines.append(f"input: {scalar(list(input_shape))}")
    if w.blocks:
        lines.append("blocks:")
        for bname, (inputs, args, layers) in w.blocks.items():
            lines.append(f"  {bname}:")
            if inputs:
                lines.append(f"    inputs: {scalar(inputs)}")
            if args:
                lines += wrap(
                    "    args: {" + ", ".join(f"{a}: {scalar(v)}" for a, v in args.items()) + "}",
                    10,
                )
            lines.append("    layers:")
            for e in compress_repeats(layers):
                lines += entry_lines(e, 6)
    lines.append("layers:")
    for e in entries:
        lines += entry_lines(e, 2)
    last = _output(root.children[-1]) if root.children else None
    if out_ref is not None and (last is None or _key(last) != _key(trace.output)):
        lines.append(f"outputs: [{scalar(out_ref)}]")
    lines.append("expect: {" + ", ".join(f"{k}: {scalar(v)}" for k, v in expect.items()) + "}")
    return "\n".join(lines) + "\n"
