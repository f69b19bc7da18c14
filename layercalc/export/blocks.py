"""The spec's block definitions compiled into one nn.Module class each (`layercalc export`).

A block compiles from its YAML definition, checked against every instance of it in the
resolved network:

- its declared arguments become keyword-only ``__init__`` parameters with the spec's
  defaults (translated: a var reads ``VARS["name"]``; a layer-valued argument is a torch
  class or None, `none`); a default that reads shapes (``in_shape(1)``) has no Python
  form, so that parameter is required and every call site passes it;
- an entry becomes a child built with its arguments as Python expressions; a
  constructor value the spec leaves to inference (``in_channels``) is the expression of
  an earlier entry's or a parameter's when that gives it in every instance, else an
  extra keyword-only parameter the call site passes;
- ``when:`` becomes ``if``, a ``repeat`` a ``for`` loop over its count with the loop
  variable (``as:``), a ``sequential`` an nn.Sequential, a nested block its class;
- a list of modules each fed by the one before is an nn.Sequential subclass (its
  forward the chain, as torchvision's Conv2dNormActivation); any other list is an
  nn.Module whose forward follows the spec's data flow (``from:``, merges, named
  outputs, ``share:`` of a child, the omitted entries of ``when``); a sequential in it
  is an nn.Sequential, or a Group whose steps that forward writes out; a free
  ``parameter`` an nn.Parameter of the spec's shape; an argument a tensor operation
  reads (``split_size: n_embd``) is kept as an attribute for forward.

What does not compile (recursion, declared ``inputs:``/``outputs:``, composite modules
and attention, ``repeat`` with ``chain`` or a per-copy ``when``, a repeat outside a
chain, a tie or a share reaching out of the block, names reaching into other groups,
...) leaves that block written as the flat export does, with a comment saying why.
Every class kept is proved by :mod:`.trace`: the file with the classes and the flat
file build the same modules, tensors and forward graph, else the block falls back.
"""

from __future__ import annotations

import keyword
import re

from ..expr import ExprError, evaluate, parse
from ..layers import REGISTRY


class Fail(Exception):
    """This block (or this part of it) has no faithful class form."""


# resolved arguments an emitter reads -> the spec keys that may give them as written
PRIVATE_ALIASES = {"_sizes": ("sizes", "unflattened_size")}


class _Hole:
    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"\x00{self.n}\x00"

    __str__ = __repr__


class _FakeLayer:
    def __init__(self, layer, args):
        self.type = layer.type
        self.args = args
        self.name = layer.name
        self.named_outputs = layer.named_outputs
        self.inputs = layer.inputs
        self.node = layer.node
        self.shares = layer.shares


def _ident(text: str) -> str:
    base = re.sub(r"[^0-9A-Za-z_]", "_", str(text)).strip("_") or "x"
    return "x_" + base if base[0].isdigit() else base


class Info:
    """A compiled block class."""

    def __init__(self, name, cls):
        self.name = name
        self.cls = cls
        self.params: list = []  # (name, default text or None)
        self.layer_params: set = set()
        self.extras: list = []  # extra keyword-only parameters
        self.extra_values: dict = {}  # group index -> {extra: value}
        self.source = ""
        self.inputs = 1
        self.deps: set = set()  # the blocks whose classes it builds
        self.out_texts: list = []  # its entries' argument texts, last entry first
        self.calls: dict = {}  # group index -> the constructor call of that instance


class Compiler:
    def __init__(self, net, tx, reserved=()):
        self.net = net
        self.reserved = set(reserved)
        self.tx = tx  # the torch module of export (emitters, _lit, _access, _plain)
        self.vars = {k: v for k, v in net.spec.vars.items() if isinstance(k, str)}
        self.rows_of: dict = {}
        self.groups_of: dict = {}
        for i, layer in enumerate(net.layers):
            self.rows_of.setdefault(layer.group, []).append(i)
        for gi, g in enumerate(net.groups):
            self.groups_of.setdefault(g.parent, []).append(gi)
        self.done: dict = {}  # block name -> Info or None (falls back)
        self.busy: set = set()
        self.why: dict = {}  # block name -> why it falls back
        self.used_classes: set = set()

    # -- the blocks --------------------------------------------------------------------
    def block(self, name):
        if name in self.done:
            return self.done[name]
        if name in self.busy:
            raise Fail("a recursive block")
        self.busy.add(name)
        try:
            info = self._compile(name)
            for gi, g in enumerate(self.net.groups):
                if g.kind == "block" and g.type == name:
                    info.calls[gi] = self.call_text(info, gi)
        except (Fail, ExprError) as exc:
            self.why[name] = str(exc)
            info = None
        except Exception as exc:  # noqa: BLE001 - a compiler gap never fails the export
            self.why[name] = f"not compiled: {type(exc).__name__}"
            info = None
        finally:
            self.busy.discard(name)
        self.done[name] = info
        return info

    def _class_name(self, name):
        words = re.findall(r"[A-Za-z0-9]+", name)
        out = "".join(w[:1].upper() + w[1:] for w in words) or "Block"
        if not out[0].isalpha():
            out = "Block" + out
        while out in self.used_classes or out in self.reserved:
            out += "Block"
        return out

    def _compile(self, name):
        net = self.net
        defn = net.spec.blocks[name][0]
        instances = [gi for gi, g in enumerate(net.groups) if g.kind == "block" and g.type == name]
        if not instances:
            raise Fail("no instance")
        if defn.get("inputs") is not None or defn.get("outputs") is not None:
            raise Fail("declared inputs or outputs")
        info = Info(name, self._class_name(name))
        argsnode = defn.get("args")
        from ..yamlnodes import Mapping, Scalar, Sequence

        entries_node = defn.get("layers")
        if not isinstance(entries_node, Sequence):
            raise Fail("no layers")
        layer_params = set()  # names some entry (at any depth) uses as its type
        todo = list(entries_node.items)
        while todo:
            e = _entry(todo.pop())
            if e.type_name is not None:
                layer_params.add(e.type_name)
            inner = _seq_layers(e) if e.type_name == "sequential" else None
            if inner is not None:
                todo += inner.items
        from ..graph import LayerValue

        for k, v in argsnode.items if isinstance(argsnode, Mapping) else ():
            values = [(net.groups[gi].args or {}).get(k.value) for gi in instances]
            if any(isinstance(x, LayerValue) for x in values) or (
                isinstance(v, Scalar)
                and isinstance(v.value, str)
                and (v.value == "none" or REGISTRY.get(v.value) is not None)
                and all(isinstance(x, str) for x in values)
            ):
                layer_params.add(k.value)
        params = []
        if argsnode is not None:
            if not isinstance(argsnode, Mapping):
                raise Fail("args")
            for k, v in argsnode.items:
                pname = k.value
                if not isinstance(pname, str) or not self.tx._plain(pname):
                    raise Fail(f"argument name {pname!r}")
                if pname in self.tx._TAKEN or pname == "self":
                    raise Fail(f"argument name {pname!r}")
                if pname in layer_params:
                    info.layer_params.add(pname)
                    default = None
                    if isinstance(v, Scalar) and isinstance(v.value, str):
                        default = self._layer_class(v.value, set())
                    elif not (isinstance(v, Scalar) and v.value is None):
                        raise Fail("a layer-valued default with arguments")
                    params.append((pname, default))
                    continue
                if isinstance(v, Scalar) and v.value is None:
                    params.append((pname, None))
                    continue
                try:
                    default = self.translate(v, set(), strict_vars=True)
                except Fail:
                    default = None  # reads shapes: required, the call site passes it
                params.append((pname, default))
        info.params = params
        ctxs = []
        for gi in instances:
            g = net.groups[gi]
            env = dict(self.vars)
            for k, v in (g.args or {}).items():
                if k not in info.layer_params:
                    env[k] = v
            ctxs.append(_Ctx(gi, gi, env))
        state = _ClassState(self, info)
        init, fwd, chain = state.compile_top(entries_node, ctxs)
        info.source = state.render(init, fwd, chain)
        self.used_classes.add(info.cls)
        # the argument texts of its entries, last first: what its output's sizes may be
        # in terms of its parameters (a call site substitutes its own arguments)
        for node in reversed(entries_node.items):
            e = _entry(node)
            if e.type_name in self.net.spec.blocks and e.type_name in self.done:
                sub = self.done[e.type_name]
                if sub is not None:
                    info.out_texts += [
                        t for t in self.substituted(e, sub, info) if t not in info.out_texts
                    ]
            for _, v in e.args:
                if isinstance(v, Scalar) and isinstance(v.value, (int, str)):
                    if not isinstance(v.value, bool) and str(v.value) not in info.out_texts:
                        info.out_texts.append(str(v.value))
        return info

    def substituted(self, e, sub: Info, info: Info | None = None) -> list:
        """``sub``'s output texts with its parameters replaced by what use ``e`` gives
        them (its arguments, else the defaults), as texts of the using scope."""
        import ast as pyast
        import copy

        from ..yamlnodes import Scalar

        given = {}
        defn = self.net.spec.blocks[sub.name][0].get("args")
        for k, v in defn.items if defn is not None else ():
            if isinstance(v, Scalar) and isinstance(v.value, (int, float, str)):
                given[k.value] = str(v.value)
        for k, v in e.args:
            if isinstance(v, Scalar) and isinstance(v.value, (int, float, str)):
                given[k.value] = str(v.value)
        out = []
        for text in sub.out_texts:
            try:
                tree = copy.deepcopy(parse(text))
                fail = []

                class T(pyast.NodeTransformer):
                    def visit_Name(self, n):
                        if n.id in sub.layer_params:
                            fail.append(n.id)
                        if n.id in given and n.id in {p for p, _ in sub.params}:
                            return copy.deepcopy(parse(given[n.id]))
                        if n.id in {p for p, _ in sub.params}:
                            fail.append(n.id)
                        return n

                new = T().visit(tree)
                if not fail:
                    out.append(pyast.unparse(new))
            except (ExprError, Fail, RecursionError):
                continue
        return out

    def call_text(self, info, gi):
        """The constructor call of instance ``gi`` with its evaluated arguments."""
        g = self.net.groups[gi]
        parts = []
        for p, default in info.params:
            v = (g.args or {}).get(p)
            if p in info.layer_params:
                if v is None or isinstance(v, str):
                    text = self._layer_class(v or "none", set())
                elif getattr(v, "type_name", None) is None:
                    text = "None"
                elif v.args:
                    raise Fail("a layer value with arguments")
                else:
                    text = self._layer_class(v.type_name, set())
            elif isinstance(v, (bool, int, float, str)):
                text = self.tx._lit(v)
            else:
                raise Fail(f"argument {p!r}")
            if text != default:
                parts.append(f"{p}={text}")
        for x, v in info.extra_values.get(gi, {}).items():
            parts.append(f"{x}={self.tx._lit(v)}")
        return f"{info.cls}({', '.join(parts)})"

    def _layer_class(self, text, layer_params):
        """The Python value of a layer-valued argument given as ``text``."""
        if text == "none":
            return "None"
        if text in layer_params:
            return text
        lt = REGISTRY.get(text)
        if lt is None or getattr(lt, "composite", False):
            raise Fail(f"layer value {text!r}")
        cls = self.tx._torch_class(lt)
        if cls is None or self.tx.emitter(lt) is not self.tx._generic_module:
            raise Fail(f"layer value {text!r}")
        return f"nn.{cls}"

    # -- expressions -------------------------------------------------------------------
    def translate(self, node, local: set, strict_vars=False, values=None) -> str:
        """The Python text of a spec value node; ``local`` names (parameters, loop
        variables) stay names, vars read VARS. ``values`` (the evaluated value in every
        occurrence) tells a literal word (`same`, `row`) from an expression."""
        from ..yamlnodes import Scalar, Sequence

        if isinstance(node, Sequence):
            parts = [self.translate(x, local, strict_vars) for x in node.items]
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        if not isinstance(node, Scalar):
            raise Fail("a mapping value")
        v = node.value
        if isinstance(v, bool) or v is None:
            return repr(v)
        if isinstance(v, (int, float)):
            return self.tx._lit(v)
        if not isinstance(v, str):
            raise Fail("value")
        if values is not None and values and all(x == v for x in values):
            return self.tx._lit(v)
        return self.expression(v, local)

    def translate_attr(self, node, local: set, attrs: set) -> str:
        """As translate, reading ``local`` names as ``self.name``."""
        from ..yamlnodes import Scalar, Sequence

        if isinstance(node, Sequence):
            parts = [self.translate_attr(x, local, attrs) for x in node.items]
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return self.expression(node.value, local, attrs)
        return self.translate(node, local)

    def expression(self, text: str, local: set, attrs: set | None = None) -> str:
        """The Python text of spec expression ``text``; with ``attrs`` (a set to fill),
        ``local`` names are read as attributes ``self.name`` (in forward)."""
        import ast as pyast

        try:
            tree = parse(text)
        except ExprError as exc:
            raise Fail(f"expression {text!r}") from exc
        vars_ = self.vars

        class T(pyast.NodeTransformer):
            def visit_Name(self, n):
                if n.id in local and attrs is not None:
                    attrs.add(n.id)
                    return pyast.Attribute(pyast.Name("self", pyast.Load()), n.id, pyast.Load())
                if n.id in local:
                    return n
                if n.id in vars_:
                    return pyast.Subscript(
                        pyast.Name("VARS", pyast.Load()), pyast.Constant(n.id), pyast.Load()
                    )
                raise Fail(f"name {n.id!r}")

            def visit_Call(self, n):
                fn = n.func.id
                if fn in ("in_shape", "input_shape"):
                    raise Fail("a shape reader")
                args = [self.visit(a) for a in n.args]
                if fn in ("floor", "ceil"):
                    if len(args) != 1:
                        raise Fail(fn)
                    x = args[0]
                    if fn == "floor":
                        inner = pyast.BinOp(x, pyast.FloorDiv(), pyast.Constant(1))
                        return pyast.Call(pyast.Name("int", pyast.Load()), [inner], [])
                    neg = pyast.UnaryOp(pyast.USub(), x)
                    inner = pyast.BinOp(neg, pyast.FloorDiv(), pyast.Constant(1))
                    return pyast.UnaryOp(
                        pyast.USub(), pyast.Call(pyast.Name("int", pyast.Load()), [inner], [])
                    )
                n.args = args
                return n

        import copy

        body = copy.deepcopy(tree)  # parse() caches its trees
        out = T().visit(body)
        return pyast.unparse(out)


class _Ctx:
    """One place a list is built: ``group`` its container, ``inst`` the block instance,
    ``env`` the names its expressions see (vars, arguments, loop variables)."""

    __slots__ = ("group", "inst", "env")

    def __init__(self, group, inst, env):
        self.group = group
        self.inst = inst
        self.env = env


def _entry(node):
    from ..graph import _parse_entry

    try:
        return _parse_entry(node)
    except Exception as exc:  # noqa: BLE001 - the builder accepted it; be safe
        raise Fail("entry") from exc


class _ClassState:
    def __init__(self, comp: Compiler, info: Info):
        self.c = comp
        self.info = info
        self.tx = comp.tx
        self.local = {p for p, _ in info.params}
        self.extra_vals: dict = {}  # extra name -> {inst: value}
        self.flags: dict = {}  # condition text -> flag attribute
        self.children: set = set()
        self.locals_used: set = {"self", "input", "layers"} | set(self.local)
        self.init_locals: set = set(self.locals_used)
        self.stored: set = set()  # parameters forward reads as attributes
        self.hole_n = 0

    # -- items -------------------------------------------------------------------------
    def items(self, ctx, entries):
        """{entry index: [row or ("g", group index), ...]} for one context, in order."""
        net = self.c.net
        by_node = {id(e.node): k for k, e in enumerate(entries)}
        by_node.update({id(e.share_node): k for k, e in enumerate(entries) if e.share_node})
        out = {k: [] for k in range(len(entries))}
        things = [(i, ("r", i)) for i in self.c.rows_of.get(ctx.group, [])]
        things += [(net.groups[gi].first, ("g", gi)) for gi in self.c.groups_of.get(ctx.group, [])]
        things.sort(key=lambda t: t[0])
        for _, (kind, i) in things:
            node = net.layers[i].node if kind == "r" else net.groups[i].node
            k = by_node.get(id(node))
            if k is None:
                raise Fail("a row of no entry of this list")
            out[k].append((kind, i))
        return out

    def compile_top(self, seq, ctxs):
        entries = [_entry(n) for n in seq.items]
        chain = all(self.chainable(e) for e in entries)
        if chain:
            init = self.chain_list(entries, ctxs, "self")
            return init, [], True
        init, fwd, out = self.graph_list(entries, ctxs)
        return init, fwd + [f"return {out}"], False

    def chainable(self, e) -> bool:
        if e.from_node is not None or e.share_node is not None or e.tie_node is not None:
            return False
        if e.type_name == "sequential":
            inner = _seq_layers(e)
            return inner is not None and all(self.chainable(_entry(n)) for n in inner.items)
        if e.type_name in self.info.layer_params or e.type_name in self.c.net.spec.blocks:
            return True
        lt = REGISTRY.get(e.type_name)
        if lt is None or getattr(lt, "composite", False) or lt.name == "parameter":
            return False
        emit = self.tx.emitter(lt) if lt.takes_input else None
        return emit in self.tx.MODULE_EMITTERS

    # -- children ----------------------------------------------------------------------
    def occurrences(self, entries, ctxs):
        """Per entry index: [(ctx, j, item)] over every context (j: copy index)."""
        per = {k: [] for k in range(len(entries))}
        for ctx in ctxs:
            for k, its in self.items(ctx, entries).items():
                e = entries[k]
                if e.repeat_node is not None and e.name is not None and e.template is None:
                    # grouped copies: the repeat group's own members
                    for kind, gi in its:
                        if kind != "g" or self.c.net.groups[gi].kind != "repeat":
                            raise Fail("a repeat")
                        sub = [
                            (self.c.net.groups[x].first, ("g", x))
                            for x in self.c.groups_of.get(gi, [])
                        ]
                        sub += [(i, ("r", i)) for i in self.c.rows_of.get(gi, [])]
                        sub.sort(key=lambda t: t[0])
                        for j, (_, it) in enumerate(sub):
                            per[k].append((ctx, j, it))
                else:
                    for j, it in enumerate(its):
                        per[k].append((ctx, j, it))
        return per

    def env(self, ctx, e, j):
        env = dict(ctx.env)
        var = _loop_var(e)
        if var is not None:
            env[var] = j
        return env

    def child(self, e, occ, local):
        """The constructor text of entry ``e`` (a module), given its occurrences."""
        net = self.c.net
        if not occ:
            raise Fail("an entry never built")
        if e.type_name in self.info.layer_params:
            return f"{e.type_name}()", e.type_name
        if e.type_name in net.spec.blocks and e.type_name not in self.local:
            if any(it[0] != "g" for _, _, it in occ):
                raise Fail("a block use")
            sub = self.c.block(e.type_name)
            if sub is None:
                raise Fail(f"block {e.type_name} does not compile")
            self.info.deps.add(sub.name)
            return self.call_site(e, sub, occ, local), None
        if any(it[0] != "r" for _, _, it in occ):
            raise Fail("a composite entry")
        layers = [net.layers[it[1]] for _, _, it in occ]
        lt = layers[0].type
        if any(x.type is not lt for x in layers):
            raise Fail("types differ")
        if lt.name == "parameter" or getattr(lt, "composite", False):
            raise Fail("a free parameter")
        if self.tx._is_mha_core(layers[0]):
            raise Fail("attention")
        if any(x.shares is not None or x.ties for x in layers):
            raise Fail("a share or tie")
        emit = self.tx.emitter(lt)
        if emit is None:
            raise Fail("type")
        given = {}
        for k, v in e.args:
            given[k.value] = v
        public = [a.name for a in lt.args]
        holes = {}
        varying = {}
        for name in public:
            if name not in layers[0].args or name == "inplace":
                continue
            vals = [x.args.get(name) for x in layers]
            differ = any(_lit_of(self.tx, v) != _lit_of(self.tx, vals[0]) for v in vals)
            if name in given or differ or name in lt.inferred:
                holes[name] = vals
                varying[name] = differ
        for name, aliases in PRIVATE_ALIASES.items():
            # a value the builder resolves (`_sizes`) given as written when equal
            for alias in aliases:
                if alias in given and name in layers[0].args:
                    vals = [x.args.get(name) for x in layers]
                    if all(
                        _lit_of(self.tx, x.args.get(alias)) == _lit_of(self.tx, v)
                        for x, v in zip(layers, vals)
                    ):
                        holes[name] = vals
                        varying[name] = False
                        given[name] = given[alias]
                    break
        texts = set()
        ctor0 = None
        for x in layers:
            fake = dict(x.args)
            marks = {}
            for name in holes:
                self.hole_n += 1
                marks[name] = _Hole(self.hole_n)
                fake[name] = marks[name]
            try:
                ctor, _, _ = emit(_FakeLayer(x, fake), ["x"] * len(x.inputs))
            except Exception as exc:  # noqa: BLE001 - an emitter computing on a value
                raise Fail("an argument computed on") from exc
            if ctor is None:
                raise Fail("no module")
            for name, m in marks.items():
                ctor = ctor.replace(repr(m), f"\x00{name}\x00")
            texts.add(ctor)
            ctor0 = ctor
        if len(texts) != 1:
            raise Fail("constructors differ")
        for name, vals in holes.items():
            text = None
            if name in given:
                try:
                    text = self.c.translate(given[name], local, values=vals)
                except Fail as exc:  # a shape reader: found as an inferred value is
                    if "shape reader" not in str(exc):
                        raise
            if text is None:
                envs = [self.env(ctx, e, j) for ctx, j, _ in occ]
                text = self.resolve(e, name, vals, envs, occ, local, not varying[name])
            ctor0 = ctor0.replace(f"\x00{name}\x00", text)
        return ctor0, None

    def call_site(self, e, sub: Info, occ, local):
        net = self.c.net
        given = {k.value: v for k, v in e.args}
        parts = []
        for pname, default in sub.params:
            vals = [net.groups[it[1]].args.get(pname) for _, _, it in occ]
            if pname in sub.layer_params:
                if pname in given:
                    v = given[pname]
                    from ..yamlnodes import Scalar

                    if not isinstance(v, Scalar) or not isinstance(v.value, str):
                        raise Fail("a layer value with arguments")
                    text = self.c._layer_class(v.value, self.info.layer_params)
                    parts.append(f"{pname}={text}")
                continue
            text = None
            if pname in given:
                try:
                    text = self.c.translate(given[pname], local, values=vals)
                except Fail as exc:
                    if "shape reader" not in str(exc):
                        raise
            if text is not None:
                parts.append(f"{pname}={text}")
            elif default is None or pname in given:
                envs = [self.env(ctx, e, j) for ctx, j, _ in occ]
                parts.append(f"{pname}={self.resolve(e, pname, vals, envs, occ, local)}")
        for x in sub.extras:
            occx = [o for o in occ if x in sub.extra_values.get(o[2][1], {})]
            if not occx:
                continue
            vals = [sub.extra_values[it[1]][x] for _, _, it in occx]
            envs = [self.env(ctx, e, j) for ctx, j, _ in occx]
            parts.append(f"{x}={self.resolve(e, x, vals, envs, occx, local)}")
        return f"{sub.cls}({', '.join(parts)})"

    def resolve(self, e, name, vals, envs, occ, local, constant_ok=False):
        """An expression giving ``vals`` in every occurrence: a constant, an earlier
        entry's argument, a parameter, or (first copy / later copies of a repeat) both;
        else an extra parameter of the class."""
        cands = self.candidates(e, local)
        own = [(p, t) for p, t in self._own_args(e, local)]

        def fits(cand, idx):
            py, text = cand
            for i in idx:
                try:
                    got = evaluate(text, envs[i])
                except (ExprError, TypeError, ValueError, ZeroDivisionError):
                    return False
                if isinstance(got, float) and got.is_integer() and isinstance(vals[i], int):
                    return False
                if _lit_of(self.tx, got) != _lit_of(self.tx, vals[i]):
                    return False
            return True

        every = range(len(vals))
        for cand in cands:
            if fits(cand, every):
                return cand[0]
        var = _loop_var(e)
        firsts = [i for i, o in enumerate(occ) if o[1] == 0]
        laters = [i for i, o in enumerate(occ) if o[1] != 0]
        if laters and var is not None:
            lit = self.tx._lit(vals[laters[0]])
            same = all(
                _lit_of(self.tx, vals[i]) == _lit_of(self.tx, vals[laters[0]]) for i in laters
            )
            for b in own + cands + ([(lit, lit)] if same else []):
                if fits(b, laters):
                    first = self.extra_or(
                        name,
                        [vals[i] for i in firsts],
                        [occ[i] for i in firsts],
                        cands,
                        envs,
                        firsts,
                        fits,
                    )
                    if first is not None:
                        return f"{first} if {var} == 0 else {b[0]}"
        if constant_ok and all(_lit_of(self.tx, v) == _lit_of(self.tx, vals[0]) for v in vals):
            return self.tx._lit(vals[0])
        got = self.extra_or(name, vals, occ, cands, envs, list(every), fits)
        if got is None:
            raise Fail(f"no expression for {name}")
        return got

    def extra_or(self, name, vals, occ, cands, envs, idx, fits):
        for cand in cands:
            if fits(cand, idx):
                return cand[0]
        # one value per instance: an extra parameter the call site passes
        per = {}
        for v, o in zip(vals, occ):
            inst = o[0].inst
            if inst in per and _lit_of(self.tx, per[inst]) != _lit_of(self.tx, v):
                return None
            per[inst] = v
        ename = _ident(name)
        while ename in self.locals_used and ename not in self.extra_vals:
            ename += "_"
        if ename in self.extra_vals:
            if any(
                inst in self.extra_vals[ename]
                and _lit_of(self.tx, self.extra_vals[ename][inst]) != _lit_of(self.tx, v)
                for inst, v in per.items()
            ):
                ename += "_"
                while ename in self.locals_used:
                    ename += "_"
        if ename not in self.extra_vals:
            self.extra_vals[ename] = {}
            self.info.extras.append(ename)
            self.locals_used.add(ename)
        self.extra_vals[ename].update(per)
        return ename

    def candidates(self, e, local):
        """(python, spec text) of the arguments of the entries before ``e`` in its list
        (nearest first), then the parameters."""
        out = []
        for prev in reversed(self.before.get(id(e.node), [])):
            for name, text in self._own_args(prev, local):
                out.append((name, text))
        for p, _ in self.info.params:
            if p not in self.info.layer_params:
                out.append((p, p))
        for x in self.info.extras:
            out.append((x, None))
        return [c for c in out if c[1] is not None]

    def _own_args(self, e, local):
        from ..yamlnodes import Scalar

        out = []
        sub = self.c.done.get(e.type_name) if e.type_name in self.c.net.spec.blocks else None
        if sub is not None and e.type_name not in self.local:
            for text in self.c.substituted(e, sub):
                try:
                    out.append((self.c.expression(text, local), text))
                except (Fail, ExprError):
                    continue
        for k, v in e.args:
            if (
                isinstance(v, Scalar)
                and isinstance(v.value, (int, str))
                and not isinstance(v.value, bool)
            ):
                try:
                    py = self.c.expression(str(v.value), local)
                except Fail:
                    continue
                out.append((py, str(v.value)))
        return out

    # -- names -------------------------------------------------------------------------
    def names_of(self, e, occ):
        """The child name of every occurrence (relative to its container)."""
        net = self.c.net
        out = []
        for ctx, _, it in occ:
            cpath = net.groups[ctx.group].name
            full = net.layers[it[1]].name if it[0] == "r" else net.groups[it[1]].name
            if it[0] == "g" and net.groups[it[1]].kind == "repeat":
                raise Fail("a repeat group")
            rel = full[len(cpath) + 1 :] if cpath else full
            out.append(rel)
        return out

    # -- a chain: an nn.Sequential (sub)class ------------------------------------------
    def chain_list(self, entries, ctxs, owner):
        lines = []
        self.before = {}
        occ = self.occurrences(entries, ctxs)
        for k, e in enumerate(entries):
            self.before[id(e.node)] = entries[:k]
        for k, e in enumerate(entries):
            lines += self.chain_entry(e, occ[k], owner, ctxs)
        return lines

    def chain_entry(self, e, occ, owner, ctxs):
        pad = "    "
        lines = []
        local = set(self.local)
        var = _loop_var(e)
        loop = None
        if e.repeat_node is not None:
            times = e.repeat_node
            from ..yamlnodes import Mapping

            if isinstance(times, Mapping):
                if "chain" in times:
                    raise Fail("repeat chain")
                times = times.get("times")
            if e.when_node is not None and var is not None:
                raise Fail("a per-copy when")
            n = self.c.translate(times, local)
            loop = (var or "_", n)
            if var:
                local.add(var)
        cond = None
        if e.when_node is not None:
            cond = self.c.translate(e.when_node, set(self.local))
        if e.type_name == "sequential":
            if loop is not None:
                raise Fail("a repeated sequential")
            inner = _seq_layers(e)
            subs = []
            for ctx, _, it in occ:
                if it[0] != "g" or self.c.net.groups[it[1]].kind != "sequential":
                    raise Fail("a sequential")
                subs.append(_Ctx(it[1], ctx.inst, ctx.env))
            seqvar = self.fresh(_ident(e.name or "seq"), self.init_locals)
            saved = self.before
            body = [f"{seqvar} = nn.Sequential()"]
            body += self.chain_list([_entry(n) for n in inner.items], subs, seqvar)
            self.before = saved
            made = _collapse(body, seqvar)
            body = (
                [self.add(owner, e, occ, made)]
                if made
                else body + [self.add(owner, e, occ, seqvar)]
            )
            if cond is not None:
                return [f"if {cond}:"] + [_ind(pad, b) for b in body]
            return body
        ctor, layer_param = self.child(e, occ, local)
        add = self.add(owner, e, occ, ctor, local)
        body = [add]
        if layer_param is not None:
            body = [f"if {layer_param} is not None:"] + [_ind(pad, b) for b in body]
        if loop is not None:
            body = [f"for {loop[0]} in range({loop[1]}):"] + [_ind(pad, b) for b in body]
        if cond is not None:
            body = [f"if {cond}:"] + [_ind(pad, b) for b in body]
        lines += body
        return lines

    def add(self, owner, e, occ, ctor, local=frozenset()):
        """The statement adding module ``ctor`` to chain ``owner`` under e's name."""
        if e.name is None:
            return f"{owner}.append({ctor})"
        if e.template is not None:
            parts = []
            for is_expr, text in e.template:
                if is_expr:
                    parts.append("{" + self.c.expression(text, local) + "}")
                else:
                    parts.append(text.replace("{", "{{").replace("}", "}}"))
            name = "".join(parts)
            if '"' in name or "\\" in name or not name.isascii():
                raise Fail("a name template")
            return f'{owner}.add_module(f"{name}", {ctor})'
        if e.repeat_node is not None:
            raise Fail("a grouped repeat")
        name = _torch_child(e, e.name)
        self.children.add(name)
        if owner == "self" and self.tx._plain(name):
            return f"self.{name} = {ctor}"
        return f"{owner}.add_module({self.tx._lit(name)}, {ctor})"

    def fresh(self, base, used=None):
        used = self.locals_used if used is None else used
        name = base
        n = 1
        while (
            name in used
            or name in self.tx._TAKEN
            or name in self.extra_vals
            or keyword.iskeyword(name)
            or name == "l"
        ):
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    # -- a graph: an nn.Module with its own forward ------------------------------------
    def graph_list(self, entries, ctxs, prefix="", inp="input"):
        """(init lines, forward lines, the output variable) of a list whose forward
        is written out; ``prefix`` is its container's path inside the class."""
        net = self.c.net
        occ = self.occurrences(entries, ctxs)
        self.before = {}
        init, fwd = [], []
        names = {}  # entry name -> forward variable (its first output)
        outs = {}  # entry name -> {output name: variable}
        prev = inp
        pad = "    "
        segs = []  # [flag or None, lines, its last variable, the value before it]
        for k, e in enumerate(entries):
            self.before[id(e.node)] = entries[:k]
            if e.repeat_node is not None:
                raise Fail("a repeat outside a chain")
            if e.tie_node is not None:
                raise Fail("a tie")
            its = occ[k]
            cond = flag = None
            if e.when_node is not None:
                cond = self.c.translate(e.when_node, set(self.local))
                flag = self.flag(cond, e.name or e.type_name or "x", init)
                cond = f"self.{flag}"
            if e.type_name in self.info.layer_params:
                raise Fail("a layer-valued entry outside a chain")
            # inputs
            xs = self.inputs_of(e, prev, names, outs, inp)
            # the name (index names must agree across instances)
            rel = set(self.names_of(e, its)) if its else set()
            if len(rel) > 1:
                raise Fail("names differ across instances")
            child = next(iter(rel)) if rel else (e.name or f"#{k}")
            if e.template is not None:
                raise Fail("a name template")
            base = e.name if e.name is not None else child
            var = self.fresh(_ident(base if not base[:1].isdigit() else f"x{base}"))
            path = prefix + _torch_child(e, child)
            shared = e.share_node is not None
            before = []  # forward lines before the entry's own
            if shared:
                call, pattern, nout = self.share_call(e, its, xs, prefix)
            elif e.type_name == "parameter":
                body = [self.free_tensor(e, its, path)]
                init += [f"if {cond}:"] + [_ind(pad, b) for b in body] if cond else body
                call, pattern, nout = self.tx._access(path), None, 1
            elif e.type_name == "sequential" or (
                e.type_name in net.spec.blocks and e.type_name not in self.local
            ):
                if e.type_name == "sequential":
                    inner = _seq_layers(e)
                    chain = all(self.chainable(_entry(n)) for n in inner.items)
                    subs = [
                        _Ctx(it[1], ctx.inst, ctx.env)
                        for ctx, _, it in its
                        if it[0] == "g" and net.groups[it[1]].kind == "sequential"
                    ]
                    if len(subs) != len(its) or not subs or len(xs) != 1:
                        raise Fail("a sequential")
                if e.type_name == "sequential" and not chain:
                    # a Group whose rows this forward writes out
                    saved = self.before
                    sub_init, sub_fwd, sub_out = self.graph_list(
                        [_entry(n) for n in inner.items], subs, path + ".", xs[0]
                    )
                    self.before = saved
                    body = [self.place(path, "Group()")] + sub_init
                    before = sub_fwd
                    xs = [sub_out]
                elif e.type_name == "sequential":
                    seqvar = self.fresh(_ident(e.name or "seq"), self.init_locals)
                    saved = self.before
                    body = [f"{seqvar} = nn.Sequential()"]
                    body += self.chain_list([_entry(n) for n in inner.items], subs, seqvar)
                    self.before = saved
                    made = _collapse(body, seqvar)
                    body = [self.place(path, made)] if made else body + [self.place(path, seqvar)]
                else:
                    ctor, _ = self.child(e, its, set(self.local))
                    sub = self.c.done[e.type_name]
                    if len(xs) != sub.inputs:
                        raise Fail("inputs")
                    body = [self.place(path, ctor)]
                init += [f"if {cond}:"] + [_ind(pad, b) for b in body] if cond else body
                call, pattern, nout = f"{self.tx._access(path)}({', '.join(xs)})", None, 1
                if before:
                    call = xs[0]
            else:
                call, pattern, nout, ctor = self.leaf_call(e, its, xs, prefix)
                if ctor is not None:
                    body = [self.place(path, ctor)]
                    init += [f"if {cond}:"] + [_ind(pad, b) for b in body] if cond else body
            if nout == 1:
                target = var
                if pattern == "{0},":
                    target += ","
                outs[child] = {}
            else:
                produced = self.produced_names(its)
                vs = [var] + [self.fresh(_ident(f"{var}_{n}")) for n in produced[1:]]
                target = (pattern or ", ".join(f"{{{i}}}" for i in range(nout))).format(*vs)
                outs[child] = dict(zip(produced, vs))
            lines = before + [f"{target} = {call}"]
            if segs and cond is not None and segs[-1][0] == flag:
                segs[-1][1] += lines
                segs[-1][2] = var if nout == 1 else None
            else:
                segs.append([flag, lines, var if nout == 1 else None, prev])
            if not shared or e.name is not None:
                names[e.name if e.name is not None else child] = var
            prev = var
        for flag, lines, last, before in segs:
            if flag is None:
                fwd += lines
                continue
            fwd += [f"if self.{flag}:"] + [pad + x for x in lines]
            if last is not None:
                fwd += ["else:", pad + f"{last} = {before}"]
        return init, fwd, prev

    def free_tensor(self, e, its, path):
        """``parameter: {shape: ...}``: a Parameter (or buffer) of zeros of its shape."""
        net = self.c.net
        layers = [net.layers[it[1]] for _, _, it in its]
        if any(x.type.name != "parameter" or x.shares is not None or x.ties for x in layers):
            raise Fail("a parameter")
        a = layers[0].args
        if a.get("init") == "arange" or any(
            x.args.get("buffer") != a.get("buffer") for x in layers
        ):
            raise Fail("a parameter's init")
        given = {k.value: v for k, v in e.args}
        shapes = [tuple(x.output) for x in layers]
        if "shape" in given:
            shape = self.c.translate(given["shape"], set(self.local))
        elif len(set(shapes)) == 1:
            shape = self.tx._lit(shapes[0])
        else:
            raise Fail("a parameter's shape")
        parent, _, last = path.rpartition(".")
        owner = self.tx._access(parent) if parent else "self"
        self.children.add(path)
        if a.get("buffer"):
            return f"{owner}.register_buffer({self.tx._lit(last)}, torch.zeros({shape}))"
        if self.tx._plain(last):
            return f"{owner}.{last} = nn.Parameter(torch.zeros({shape}))"
        return (
            f"{owner}.register_parameter({self.tx._lit(last)}, nn.Parameter(torch.zeros({shape})))"
        )

    def place(self, path, ctor):
        self.children.add(path)
        parent, _, last = path.rpartition(".")
        owner = self.tx._access(parent) if parent else "self"
        if self.tx._plain(last):
            return f"{owner}.{last} = {ctor}"
        return f"{owner}.add_module({self.tx._lit(last)}, {ctor})"

    def flag(self, cond, child, init):
        got = self.flags.get(cond)
        if got is None:
            got = self.fresh("use_" + _ident(child), self.init_locals)
            self.flags[cond] = got
            init.append(f"self.{got} = bool({cond})")
        return got

    def inputs_of(self, e, prev, names, outs, inp):
        from ..yamlnodes import Scalar, Sequence

        f = e.from_node
        if f is None:
            return [prev]
        refs = [f] if isinstance(f, Scalar) else f.items if isinstance(f, Sequence) else None
        if refs is None:
            raise Fail("from with roles")
        xs = []
        for r in refs:
            if not isinstance(r, Scalar):
                raise Fail("from")
            name = str(r.value)
            if name == "input":
                xs.append(inp)
            elif name in names:
                xs.append(names[name])
            elif "." in name and name.rsplit(".", 1)[0] in outs:
                head, tail = name.rsplit(".", 1)
                got = outs[head].get(tail)
                if got is None:
                    raise Fail("an output name")
                xs.append(got)
            else:
                raise Fail(f"from {name!r}")
        return xs

    def produced_names(self, its):
        layer = self.c.net.layers[its[0][2][1]]
        return [n for n, _ in layer.named_outputs] if layer.named_outputs else ["0"]

    def leaf_call(self, e, its, xs, prefix=""):
        net = self.c.net
        if not its:
            raise Fail("an entry never built")
        if any(it[0] != "r" for _, _, it in its):
            raise Fail("a composite entry")
        layers = [net.layers[it[1]] for _, _, it in its]
        emit = self.tx.emitter(layers[0].type)
        if emit is None or self.tx._is_mha_core(layers[0]):
            raise Fail("type")
        calls = set()
        for x in layers:
            if len(x.inputs) != len(xs):
                raise Fail("inputs")
            ctor, call, pattern = emit(x, xs)
            if call is None:
                raise Fail("type")
            calls.add((call, pattern, ctor is None))
        if len(calls) != 1:
            raise Fail("calls differ")
        call, pattern, free = calls.pop()
        ctor = None
        if free:
            call = self.symbolic_call(e, layers, xs, emit) or call
        if not free:
            ctor, _ = self.child(e, its, set(self.local))
            child = _torch_child(e, self.names_of(e, its)[0])
            call = call.format(m=self.tx._access(prefix + child))
        produced = layers[0].produced()
        return call, pattern, len(produced) if layers[0].named_outputs else 1, ctor

    def symbolic_call(self, e, layers, xs, emit):
        """A parameter-free operation's call with the spec's expressions for the
        arguments the spec writes as expressions (``torch.split(x, self.n_embd, ...)``,
        the parameters kept as attributes), or None where it reads the same as the
        evaluated call."""
        from ..yamlnodes import Scalar, Sequence

        def expr_node(v):
            if isinstance(v, Sequence):
                return any(expr_node(x) for x in v.items)
            return isinstance(v, Scalar) and isinstance(v.value, str)

        given = {k.value: v for k, v in e.args}
        public = {a.name for a in layers[0].type.args}
        names = [n for n, v in given.items() if n in public and expr_node(v)]
        names = [n for n in names if n in layers[0].args]
        if not names:
            return None
        attrs: set = set()
        texts = {}
        for name in names:
            vals = [x.args.get(name) for x in layers]
            try:
                text = self.c.translate(given[name], set(self.local), values=vals)
            except Fail:
                return None
            if not any(p in text for p in self.local):
                continue
            texts[name] = text
        if not texts:
            return None
        got = set()
        for x in layers:
            fake = dict(x.args)
            for name in texts:
                fake[name] = _Hole(f"{name}")
            try:
                _, call, _ = emit(_FakeLayer(x, fake), xs)
            except Exception:  # noqa: BLE001 - an emitter computing on the value
                return None
            got.add(call)
        if len(got) != 1:
            return None
        call = got.pop()
        for name, text in texts.items():
            marker = repr(_Hole(name))
            if marker not in call:
                return None
            used: set = set()
            py = self.c.translate_attr(given[name], set(self.local), used)
            call = call.replace(marker, py)
            attrs |= used
        self.stored |= attrs
        return call

    def share_call(self, e, its, xs, prefix):
        """Another call of an earlier module of this list (``share: relu``)."""
        net = self.c.net
        if not its or any(it[0] != "r" for _, _, it in its):
            raise Fail("a share of a group")
        target = prefix + str(e.share_node.value)
        if target not in self.children:
            raise Fail("a share of no child of this block")
        calls = set()
        for _, _, it in its:
            layer = net.layers[it[1]]
            if layer.shares is None:
                raise Fail("a share")
            owner = net.layers[layer.shares]
            if owner.group != layer.group or not owner.name.endswith("." + target):
                raise Fail("a share of another module")
            emit = self.tx.emitter(layer.type)
            if emit is None or self.tx._is_mha_core(layer):
                raise Fail("a share")
            ctor, call, pattern = emit(layer, xs)
            if ctor is None or call is None or layer.named_outputs:
                raise Fail("a share")
            calls.add((call, pattern))
        if len(calls) != 1:
            raise Fail("calls differ")
        call, pattern = calls.pop()
        return call.format(m=self.tx._access(target)), pattern, 1

    # -- the class text ----------------------------------------------------------------
    def render(self, init, fwd, chain):
        info = self.info
        for x in self.children:
            if x in self.flags.values():
                raise Fail("a flag named as a child")
        sig = ["self"]
        ps = [f"{p}={d}" if d is not None else p for p, d in info.params]
        ps += [f"{x}=None" for x in info.extras]
        if ps:
            sig += ["*"] + ps
        base = "nn.Sequential" if chain else "Group"
        name = self.c.net.spec.blocks[info.name]
        line = getattr(name[0], "line", 0)
        doc = f"Block `{info.name}` of the spec (line {line})"
        if chain:
            doc += ": its entries in order, as an nn.Sequential"
        out = [f"class {info.cls}({base}):", f'    """{self.tx._docline(doc)}."""', ""]
        out.append(f"    def __init__({', '.join(sig)}):")
        out.append("        super().__init__()")
        for p in sorted(self.stored):
            if p in self.children or p in self.flags.values() or p in self.tx.MODULE_ATTRIBUTES:
                raise Fail(f"parameter {p!r} named as a child")
            out.append(f"        self.{p} = {p}")
        for x in init:
            out.append(_ind("        ", x))
        if not chain:
            out += ["", "    def forward(self, input):"]
            out += ["        " + x for x in fwd]
        info.extra_values = {}
        insts = {ctx_inst for vals in self.extra_vals.values() for ctx_inst in vals}
        for inst in insts:
            info.extra_values[inst] = {
                x: self.extra_vals[x][inst] for x in info.extras if inst in self.extra_vals[x]
            }
        return "\n".join(out) + "\n"


def _collapse(body, var):
    """``nn.Sequential(a, b)`` for a body that only appends a and b to ``var``."""
    head = f"{var}.append("
    items = []
    for line in body[1:]:
        if not line.startswith(head) or not line.endswith(")"):
            return None
        items.append(line[len(head) : -1])
    if not items:
        return None
    return "nn.Sequential(\n" + "".join(f"    {x},\n" for x in items) + ")"


def _ind(pad, line):
    return pad + line.replace("\n", "\n" + pad)


def _seq_layers(e):
    from ..yamlnodes import Sequence

    for k, v in e.args:
        if k.value == "layers" and isinstance(v, Sequence):
            return v
    return None


def _loop_var(e):
    from ..yamlnodes import Mapping

    r = e.repeat_node
    if isinstance(r, Mapping) and r.get("as") is not None:
        return r.get("as").value
    return None


def _lit_of(tx, v):
    try:
        return (type(v).__name__ if not isinstance(v, bool) else "int", tx._lit(v))
    except Exception:  # noqa: BLE001
        return ("?", repr(v))


def _torch_child(e, child: str) -> str:
    """The module name PyTorch gives entry ``e`` (called ``child`` in the spec): its
    `torch_name` where it has one (BERT's `output`)."""
    node = e.torch_name_node
    return child if node is None else str(node.value)
