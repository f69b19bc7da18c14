"""Spec -> resolved graph: every leaf layer with its full dotted name, its inputs,
shapes, tensors and MACs, plus the groups (blocks, sequentials, repeats) around them.

Each list of layers is its own scope, like a PyTorch module: ``input`` is the list's
input, ``from`` names that list's earlier entries, and the list's output is its last
entry's. Names follow ``named_modules()`` (``layer1.0.conv1``).
"""

from __future__ import annotations

import gc
from collections import ChainMap
from contextlib import contextmanager
from marshal import dumps as _marshal

from .arith import prod
from .errors import LayerError, SpecError, SpecErrors, did_you_mean
from .expr import SHAPE_FUNCTIONS, ExprError, evaluate
from .layers import REGISTRY, LayerType
from .spec import DTYPE_BYTES, META_KEYS, Limits, Spec, var_value
from .values import as_int, convert, resolve_scalar
from .yamlnodes import Mapping, Node, Scalar, Sequence


@contextmanager
def gc_paused():
    """Run a block with Python's cyclic garbage collector off (and restore it after).

    Composing, building and reporting a large network allocate millions of long-lived,
    acyclic objects; the collector's repeated passes over them made the work superlinear
    (composing 100,000 layers took 17 times as long as 10,000). Nothing freed here is
    part of a cycle.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _FREEZE:
                gc.freeze()
            gc.enable()


_FREEZE: list = []


def freeze_after_pauses() -> None:
    """For the executable (a process that ends after one command): what a paused block
    made is moved out of the collector's reach as it resumes (gc.freeze), so that its
    next passes do not walk the millions of objects of a large network again (a single
    pass over what a 10,000-layer build allocated took 7% of `cost`). A library caller
    keeps the default: everything stays collectable."""
    _FREEZE.append(True)


MAX_BLOCK_DEPTH = 64  # blocks using blocks; keeps the builder's recursion bounded
RESERVED_NAMES = ("input", "output")
MAX_PLACEHOLDERS = 16  # {expression}s in one name template, evaluated for every copy


def _all_words() -> frozenset:
    words = set()
    for lt in REGISTRY.canonical.values():
        for a in lt.args:
            words.update(a.words)
    return frozenset(words)


MODE_WORDS = _all_words()


class ArgNodes:
    """Where a layer's arguments were written: ``get(arg)`` gives the value node of
    ``arg`` (``"from"``: the `from` node), None for a default. It reads the entry's own
    (key, value) node pairs in place, so 100,000 layers hold no dict of nodes each."""

    __slots__ = ("items", "from_node")

    def __init__(self, items=(), from_node: Node | None = None):
        self.items = items  # (key Scalar, value node) pairs, as the entry wrote them
        self.from_node = from_node

    def get(self, arg, default=None):
        if arg == "from":
            return default if self.from_node is None else self.from_node
        for k, v in self.items:
            if k.value == arg:
                return v
        return default

    def __contains__(self, arg) -> bool:
        return self.get(arg) is not None

    def __repr__(self):
        keys = [k.value for k, _ in self.items] + ["from"] * (self.from_node is not None)
        return f"ArgNodes({keys})"


NO_ARG_NODES = ArgNodes()


class Layer:
    """One resolved leaf layer. ``inputs`` names its producers (leaf layer names or
    "input"), ``group`` is the index of its innermost enclosing group, ``params`` and
    ``buffers`` count the elements of its tensors."""

    __slots__ = (
        "name",
        "type",
        "args",
        "inputs",
        "input_shapes",
        "output",
        "tensors",
        "macs",
        "trainable",
        "node",
        "arg_nodes",
        "group",
        "depth",
        "params",
        "buffers",
        "ref",
        "call",
        "shares",
        "srcs",
        "named_outputs",
        "ties",
        "key_name",
    )

    def __init__(
        self,
        name: str,
        type: LayerType,
        args: dict,
        inputs: list,
        input_shapes: list,
        output: tuple,
        tensors: list,
        macs: int,
        trainable: bool,
        node: Node,
        arg_nodes: ArgNodes,
        group: int | None,
        depth: int,
        counts: tuple | None = None,
    ):
        self.name = name
        self.type = type
        self.args = args
        self.inputs = inputs
        self.input_shapes = input_shapes
        self.output = output
        self.tensors = tensors
        self.macs = macs
        self.trainable = trainable
        self.node = node
        self.arg_nodes = arg_nodes
        self.group = group
        self.depth = depth
        # (params, buffers): given by a row sharing an earlier one's tensors
        self.params, self.buffers = counts or tensor_counts(tensors)
        # another call of an earlier module (`share:`) keeps its name; ``ref`` (what
        # ``inputs`` hold) is then NAME@CALL, and ``shares`` the original's index
        self.ref = name
        self.call = 1
        self.shares = None
        self.srcs = ()  # the value objects it read (what `share` of a group rewires)
        self.named_outputs = None  # a type with several outputs: ((name, shape), ...)
        # tied tensors (`tie:`): ((key, the earlier tensor's state_dict key, shape), ...),
        # not in ``tensors``: PyTorch's parameters() holds them once
        self.ties = ()
        # its module path in PyTorch where a `torch_name:` renames it or a group above
        # it (a name the language reserves, BERT's `output`); None: ``name``
        self.key_name = None

    @property
    def torch_path(self) -> str:
        """Its dotted path in PyTorch's named_modules(): ``name`` unless renamed."""
        return self.key_name or self.name

    def state_key(self, key: str) -> str:
        """The state_dict key of its tensor ``key``: PATH.KEY, or PATH for a free
        parameter's tensor (whose key is empty)."""
        path = self.key_name or self.name
        return f"{path}.{key}" if key else path

    def produced(self) -> list:
        """(ref, shape) of every tensor it outputs: its own (``ref``), then for a type
        with several outputs the others as REF.NAME (``chunk.1``, ``lstm.h_n``)."""
        if self.named_outputs is None:
            return [(self.ref, self.output)]
        return [
            (self.ref if i == 0 else f"{self.ref}.{n}", s)
            for i, (n, s) in enumerate(self.named_outputs)
        ]

    @property
    def trainable_params(self) -> int:
        return self.params if self.trainable else 0


def tensor_counts(tensors) -> tuple:
    """(parameter elements, buffer elements) of a list of tensors."""
    params = buffers = 0
    for t in tensors:
        if t.buffer:
            buffers += t.numel
        else:
            params += t.numel
    return params, buffers


class Group:
    """A block instance, a sequential, or the container of a repeated entry: ``kind`` is
    "block", "sequential" or "repeat", ``type`` the block name, "sequential" or the
    repeated entry's type; its leaves are ``net.layers[first:last]``."""

    __slots__ = (
        "name",
        "kind",
        "type",
        "parent",
        "depth",
        "first",
        "last",
        "node",
        "output",
        "inputs",
        "ref",
        "call",
        "value",
        "named_outputs",
        "args",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        type: str,
        parent: int | None,
        depth: int,
        first: int = 0,
        last: int = 0,
        node: Node | None = None,
        output: tuple = (),
    ):
        self.inputs: list = []  # the value objects it was fed (its own: see _enter)
        self.ref = None  # the ref of its output
        self.value = None  # its output's value object
        self.named_outputs = None  # a composite module's outputs: ((name, _Value), ...)
        self.args = None  # a block instance's arguments: name -> value, as declared
        self.call = 1
        self.name = name
        self.kind = kind
        self.type = type
        self.parent = parent
        self.depth = depth
        self.first = first
        self.last = last
        self.node = node
        self.output = output


class Network:
    __slots__ = (
        "spec",
        "layers",
        "groups",
        "outputs",
        "by_name",
        "out_refs",
        "torch_names",
        "int_refs",
    )

    def __init__(self, spec: Spec):
        self.spec = spec
        # refs of the int64 tensors layers make (an arange, an arange-filled buffer, and
        # what data movement makes of them alone): the builder's
        self.int_refs: set = set()
        self.layers: list[Layer] = []
        self.groups: list[Group] = []
        self.outputs: dict = {}  # name -> shape
        self.by_name: dict = {}  # full name -> ("layer"|"group", index)
        self.out_refs: dict = {}  # output name -> the ref of its tensor
        self.torch_names: dict = {}  # full name -> its `torch_name` (PyTorch's name)

    def torch_path(self, full: str) -> str:
        """A layer's or group's dotted path in PyTorch's named_modules(): ``full`` with
        every level a `torch_name` renames put in (BERT's ``attention.output``)."""
        if not self.torch_names:
            return full
        segs = full.split(".")
        for i in range(len(segs)):
            t = self.torch_names.get(".".join(segs[: i + 1]))
            if t is not None:
                segs[i] = t
        return ".".join(segs)

    @property
    def name(self):
        return self.spec.name

    @property
    def input(self):
        return self.spec.input

    @property
    def dtype_bytes(self):
        return DTYPE_BYTES[self.spec.dtype]

    def output_refs(self) -> dict:
        """Network output name -> the ref (a network input's, or a leaf output's) whose
        tensor it is."""
        return self.out_refs

    def last_uses(self, keep=()) -> dict:
        """Ref -> index of the last layer reading it; ``len(layers)`` for tensors kept to
        the end (the network outputs and the refs in ``keep``). A ref no layer reads and
        nothing keeps is absent. The one plan of lifetimes: verify frees each array after
        this step, and the memory figures of verify and cost count it live until then."""
        last = {}
        for i, layer in enumerate(self.layers):
            for src in layer.inputs:
                last[src] = i
        end = len(self.layers)
        for ref in (*self.out_refs.values(), *keep):
            last[ref] = end
        return last

    def totals(self) -> dict:
        params = trainable = buffers = macs = 0
        for layer in self.layers:  # one pass: 100,000 layers
            params += layer.params
            if layer.trainable:
                trainable += layer.params
            buffers += layer.buffers
            macs += layer.macs
        return {
            "params": params,
            "trainable": trainable,
            "buffers": buffers,
            "macs": macs,
        }


class _Value:
    __slots__ = ("ref", "shape", "origin")

    def __init__(self, ref: str, shape: tuple, origin: "_Value | None" = None):
        self.ref = ref  # the producing leaf's ref, or a network input's
        self.shape = shape
        # a group's input is a value object of its own, wrapping (origin) the one it was
        # fed: another call of the group (`share`) tells its inputs apart by identity
        self.origin = origin


def _enter(src: list) -> list:
    return [_Value(v.ref, v.shape, v) for v in src]


MAX_SHARED = 4096  # records (args, shapes, tensors) the builder remembers to share
MAX_ERRORS = 50  # independent errors per spec; at this many the rest is not checked
# errors after which going on could cost what the bound prevents: they stop the build
FATAL = frozenset({"too-many-layers", "too-deep", "too-large"})


# the families whose layers PyTorch runs on floating-point tensors only
# the families of the parameter-free ops that move elements (permute, reshape, slice,
# chunk...) and concatenation: an integer range stays one through them (a pad adds its
# value); which types keep integers at all is LayerType.keeps_integers
MOVE_FAMILIES = frozenset({"tensor", "reshape", "merge"})
FLOAT_FAMILIES = frozenset(
    {
        "linear",
        "convolution",
        "normalization",
        "activation",
        "pooling",
        "attention",
        "recurrent",
        "dropout",
    }
)


class _Cascade(Exception):
    """An entry reads a value an earlier error left unknown: it is skipped without a
    diagnostic of its own (the earlier one says what to fix)."""


class _Keyed(list):
    """The values of a mapping `from` (``{query: x, key_padding_mask: m}``), with their
    keywords in ``roles``."""

    roles: tuple = ()


def _entry_of(v: "LayerValue") -> "_Entry":
    """The entry a module-valued argument holds (``encoder_layer``), to build it as a
    member of the composite that took it."""
    e = _blank_entry(v.node)
    e.args = list(v.args)
    e.type_name, e.type_node = v.type_name, v.type_node
    return e


def _blank_entry(node: Node) -> "_Entry":
    """An entry of ``node`` with no type, arguments or keys yet."""
    e = _Entry()
    e.node = node
    e.args = []
    e.name = e.template = e.type_name = e.type_node = None
    e.name_node = e.from_node = e.repeat_node = e.trainable_node = e.when_node = None
    e.outer = e.outer_scope = e.via = e.share_node = e.tie_node = e.extra = None
    e.torch_name_node = e.literal = e.arg_nodes = e.failed = None
    return e


def _literal_key(lt, literal: tuple, names, src) -> tuple | None:
    """The key of an entry's evaluated arguments (see _literal and
    Builder._literal_args): type, literal arguments, the number of inputs where the
    type's input roles read it, and the values of the bare names; None when a value is
    one marshal cannot write (a layer value)."""
    literal, reads = literal
    key = (lt, literal, len(src)) if lt.input_roles else (lt, literal)
    if reads:
        try:  # each name: (1, its value), or 0 when it is none (a word, or a typo)
            key += (_marshal([(1, names[t]) if t in names else 0 for t in reads]),)
        except ValueError:
            return None
    return key


def _literal(args) -> tuple | None:
    """An entry's arguments as one key when every value is a literal number, bool or
    null, or a bare name (``channels``): (the (key, value) pairs marshalled, which tells
    1, 1.0 and True apart; the bare names, whose values in the names the entry is built
    with complete the key). None otherwise. Equal keys are one object: 100,000 entries
    write a few dozen."""
    pairs = []
    reads = []
    for k, v in args:
        if not isinstance(v, Scalar):
            return None
        if isinstance(v.value, str):
            text = v.value.strip()
            if not text.isidentifier():  # an expression: evaluated each time
                return None
            reads.append(text)
        pairs.append((k.value, v.value))
    key = (_marshal(pairs), tuple(reads))
    if len(_KEYS) >= MAX_SHARED:
        _KEYS.clear()
    return _KEYS.setdefault(key, key)


_KEYS: dict = {}  # each literal key (see _literal) -> its one object
_NO_ARGS = _literal(())


class _Entry:
    __slots__ = (
        "node",
        "type_name",
        "type_node",
        "args",
        "name",
        "name_node",
        "template",
        "from_node",
        "repeat_node",
        "trainable_node",
        "when_node",
        "outer",
        "outer_scope",
        "via",
        "share_node",
        "tie_node",
        "torch_name_node",
        "extra",
        "literal",
        "arg_nodes",
        "failed",
    )

    def scope_for(self, key: Node, scope):
        """The names an argument's value is evaluated with: the entry's own, or, for
        arguments a layer-valued block argument brought, the caller's (with this
        entry's shape readers)."""
        if self.outer is not None and id(key) in self.outer:
            return (
                ChainMap(scope.maps[0], self.outer_scope)
                if isinstance(scope, ChainMap)
                else self.outer_scope
            )
        return scope


def _arg_nodes(e: _Entry) -> ArgNodes:
    """Where ``e``'s arguments were written, made once per entry (a repeat's copies and
    a block's uses share it)."""
    e.arg_nodes = (
        ArgNodes(e.args, e.from_node) if e.args or e.from_node is not None else NO_ARG_NODES
    )
    return e.arg_nodes


class LayerValue:
    """A layer-valued block argument (SPEC.md section 11): the entry a block places where
    one of its entries names the argument as its type. ``type_name`` None is `none` (no
    entry); ``args`` are (key, value) nodes evaluated with ``scope``, the names where the
    value was written."""

    __slots__ = ("type_name", "type_node", "args", "scope", "node")

    def __init__(self, type_name, type_node, args, scope, node):
        self.type_name = type_name
        self.type_node = type_node
        self.args = args
        self.scope = scope
        self.node = node

    def __repr__(self):
        return f"the layer {self.type_name or 'none'}"


class _Unknown:
    """A block argument that counting without shapes cannot know (it reads in_shape)."""

    __slots__ = ()

    def __repr__(self):
        return "<unknown>"


UNKNOWN = _Unknown()


def _fed_by(v: _Value, feeds: dict):
    """What another call of a group feeds where its first call read ``v``: the new input
    when ``v`` is (or wraps, through nested groups) one of the group's inputs, else None."""
    while v is not None:
        hit = feeds.get(id(v))
        if hit is not None:
            return hit
        v = v.origin
    return None


def _frozen(v):
    """A scope value as a dict key: lists become tuples; a layer value is its type and
    the nodes of its arguments when those are literals (a layer value written anew at
    each level of a recursion is the same key), else itself (hashed by identity)."""
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, LayerValue) and all(
        isinstance(x, Scalar) and not isinstance(x.value, str) for _, x in v.args
    ):
        return ("layer", v.type_name, tuple(id(x) for _, x in v.args))
    return v


def _template(text: str, node: Node) -> list:
    """A name holding ``{expression}`` placeholders, as [(is_expression, text), ...]."""
    parts = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            j = text.find("}", i + 1)
            if j >= 0 and "{" in text[i + 1 : j]:
                raise SpecError(
                    "bad-name",
                    f"name template '{text}' has a '{{' inside a placeholder: placeholders "
                    "do not nest, and a name holds no braces ({{ is no escape)",
                    node=node,
                    hint='one pair a placeholder: write e.g. "x{j}"',
                )
            if j < 0:
                raise SpecError(
                    "bad-name",
                    f"name template '{text}' has a '{{' without its '}}'",
                    node=node,
                    hint='write e.g. "denselayer{j + 1}"',
                )
            expr = text[i + 1 : j].strip()
            if not expr:
                raise SpecError(
                    "bad-name",
                    f"name template '{text}' has an empty placeholder {{}}",
                    node=node,
                    hint="put an expression inside, e.g. {j + 1}",
                )
            parts.append((True, expr))
            if sum(1 for is_expr, _ in parts if is_expr) > MAX_PLACEHOLDERS:
                raise SpecError(
                    "too-large",
                    f"a name template holds at most {MAX_PLACEHOLDERS} placeholders",
                    node=node,
                )
            i = j + 1
        elif c == "}":
            raise SpecError(
                "bad-name",
                f"name template '{text}' has a '}}' without its '{{'",
                node=node,
                hint='write e.g. "denselayer{j + 1}"',
            )
        else:
            j = i
            while j < len(text) and text[j] not in "{}":
                j += 1
            parts.append((False, text[i:j]))
            i = j
    return parts


def _check_name(name: str, node: Node, template: str | None = None):
    if "." in name or name in RESERVED_NAMES or name.split(None, 1) != [name]:
        why = (
            "is empty"
            if not name
            else "is reserved"
            if name in RESERVED_NAMES
            else "may not hold dots or spaces (dots separate levels)"
        )
        made = f" (made by the template '{template}')" if template is not None else ""
        raise SpecError("bad-name", f"layer name '{name}'{made} {why}", node=node)


def _unknown_argument(lt: LayerType, k: Node) -> SpecError:
    from .hints import argument_hint  # only for an error: not on the start-up path

    return SpecError(
        "unknown-argument",
        f"{lt.name} has no argument '{k.value}'",
        node=k,
        hint=argument_hint(lt, str(k.value))
        or did_you_mean(str(k.value), list(lt.arg_map) + list(META_KEYS))
        or ("it takes " + ", ".join(lt.arg_map) if lt.arg_map else f"{lt.name} takes no arguments"),
    )


def _parse_or_failed(node: Node) -> _Entry:
    """_parse_entry's entry, or for an entry it refuses (a bad name, a bad key) one that
    raises that error where it is built: the list's other entries are still built and
    their errors reported (one bad name hid every later error of the file)."""
    try:
        return _parse_entry(node)
    except SpecError as exc:
        if exc.code in FATAL or isinstance(exc, SpecErrors):
            raise
        e = _blank_entry(node)
        e.failed = exc
        return e


def _parse_entry(node: Node) -> _Entry:
    # _blank_entry's fields, set here without the call (a spec of 100,000 entries)
    e = _Entry()
    e.node = node
    e.args = []
    e.name = e.template = None  # no name: the entry's index among the kept entries
    e.name_node = e.from_node = e.repeat_node = e.trainable_node = e.when_node = None
    e.outer = e.outer_scope = e.via = e.share_node = e.tie_node = e.extra = None
    e.torch_name_node = e.literal = e.arg_nodes = e.failed = None
    if isinstance(node, Scalar):
        if not isinstance(node.value, str) or not node.value:
            raise SpecError(
                "bad-entry",
                f"a layer entry must be a type name or a mapping, got {node.value!r}",
                node=node,
                hint="write e.g. `- relu` or `- conv2d: {out_channels: 8, ...}`",
            )
        e.type_name, e.type_node = node.value, node
        e.literal = _NO_ARGS
        return e
    if not isinstance(node, Mapping) or not node.items:
        raise SpecError(
            "bad-entry",
            "a layer entry must be a type name or a mapping",
            node=node,
            hint="write e.g. `- relu` or `- conv2d: {out_channels: 8, ...}`",
        )
    # the usual form, one key naming the type: no key lookups
    usual = len(node.items) == 1 and node.items[0][0].value not in ("share", "type")
    if not usual and "share" in node:
        return _parse_share(e, node)
    if not usual and "type" in node:
        tnode = node.get("type")
        if not isinstance(tnode, Scalar) or not isinstance(tnode.value, str):
            raise SpecError("bad-entry", "`type` must be a layer type name", node=tnode)
        e.type_name, e.type_node = tnode.value, tnode
        items = [(k, v) for k, v in node.items if k.value != "type"]
    else:
        if len(node.items) != 1:
            keys = ", ".join(str(k) for k in node.keys())
            raise SpecError(
                "bad-entry",
                f"a layer entry maps one type name to its arguments, "
                f"but this one has several keys ({keys})",
                node=node,
                hint="indent the arguments under the type name, or use the long "
                "form `{type: conv2d, ...}`",
            )
        knode, vnode = node.items[0]
        if not isinstance(knode.value, str):
            raise SpecError("bad-entry", "a layer type must be a name", node=knode)
        e.type_name, e.type_node = knode.value, knode
        if isinstance(vnode, Scalar) and vnode.value is None:
            items = []
        elif isinstance(vnode, Mapping):
            items = vnode.items
        else:
            hint = f"write `{knode.value}: {{arg: value, ...}}`"
            if isinstance(vnode, Sequence):  # `add: [a, b]`: the inputs, as a list
                listed = ", ".join(str(getattr(n, "value", "...")) for n in vnode.items[:4])
                hint = f"a list names inputs, which go in `from`: `{knode.value}: {{from: [{listed}]}}`"
            raise SpecError(
                "bad-entry",
                f"the arguments of '{knode.value}' must be a mapping",
                node=vnode,
                hint=hint,
            )
    for k, _ in items:
        if k.value in META_KEYS:
            e.args = [(k, v) for k, v in items if not _set_meta(e, k.value, v)]
            break
    else:  # no meta key: the mapping's own list of pairs (layers keep it, see ArgNodes)
        e.args = items if type(items) is list else list(items)
    e.literal = _literal(e.args)
    return e


# meta keys (spec.META_KEYS) -> the _Entry slot holding their value node
_META_SLOTS = {
    "from": "from_node",
    "repeat": "repeat_node",
    "trainable": "trainable_node",
    "when": "when_node",
    "tie": "tie_node",
    "torch_name": "torch_name_node",
}


def _set_meta(e: _Entry, key, v: Node, allowed=META_KEYS) -> bool:
    """Store meta key ``key``'s value on ``e``; False when ``key`` is no meta key."""
    if key not in allowed:
        return False
    if key == "name":
        _set_name(e, v)
    else:
        setattr(e, _META_SLOTS[key], v)
    return True


def _set_name(e: _Entry, v: Node):
    if (
        not isinstance(v, Scalar)
        or v.value is None
        or isinstance(v.value, bool)
        or not isinstance(v.value, (str, int))
    ):
        raise SpecError("bad-name", "a layer name must be a plain name", node=v)
    e.name = str(v.value)
    e.name_node = v
    if "{" in e.name or "}" in e.name:
        e.template = _template(e.name, v)
    else:
        _check_name(e.name, v)


SHARE_KEYS = ("share", "from", "name", "when")


def _parse_share(e: _Entry, node: Mapping) -> _Entry:
    """``{share: NAME, from: ..., name: ..., when: ...}``: another call of module NAME."""
    e.type_name = None
    for k, v in node.items:
        key = k.value
        if key == "share":
            if (
                not isinstance(v, Scalar)
                or not isinstance(v.value, (str, int))
                or isinstance(v.value, bool)
                or not str(v.value).strip()
            ):
                raise SpecError(
                    "bad-share",
                    "`share` names an earlier module or group of this list (dotted paths allowed)",
                    node=v,
                    hint="write e.g. `- share: relu`",
                )
            if "{" in str(v.value) or "}" in str(v.value):
                raise SpecError(
                    "bad-share",
                    "`share` takes a plain name, not a name template",
                    node=v,
                    hint="share one module by its name; "
                    "a module called in every copy of a repeat is shared by "
                    "the block that holds both",
                )
            e.share_node = e.type_node = v
        elif not _set_meta(e, key, v, SHARE_KEYS[1:]):
            raise SpecError(
                "bad-share",
                f"a `share` entry calls an existing module, so it "
                f"takes only {', '.join(SHARE_KEYS[1:])}, not '{key}'",
                node=k,
                hint="the shared module keeps its own arguments and parameters"
                if key != "repeat"
                else "write the share entry several times",
            )
    return e


class _List:
    """One list being built: the values of its kept entries by name, the names its
    omitted entries would have had, and the index the next unnamed entry takes."""

    __slots__ = (
        "inp",
        "entries",
        "static",
        "done",
        "lines",
        "omitted",
        "count",
        "prev",
        "named",
        "prefix",
    )

    def __init__(self, inp: _Value, entries: list, prefix: str = ""):
        self.inp = inp
        self.prefix = prefix
        self.named: dict = {}  # a block's further inputs (`inputs:`) by name
        self.entries = entries
        self.static = {}  # plain names -> position, for forward-reference errors
        for i, e in enumerate(entries):
            if e.name is not None and e.template is None:
                self.static.setdefault(e.name, i)
        self.done: dict[str, _Value] = {}
        self.lines: dict[str, int] = {}
        self.omitted: dict[str, tuple] = {}
        self.count = 0
        self.prev = inp

    def claim(self, name: str, e: _Entry, template: str | None = None):
        """Refuse ``name`` when a kept entry of this list already has it."""
        if name in self.done:
            made = f" (made by the template '{template}')" if template is not None else ""
            raise SpecError(
                "duplicate-name",
                f"name '{name}'{made} is used twice in this list "
                f"(first at line {self.lines[name]})",
                node=e.name_node or e.node,
                hint="names must be unique among the entries a list keeps",
            )

    def keep(self, name: str, value: _Value, e: _Entry):
        self.done[name] = value
        self.lines[name] = e.node.line
        self.count += 1
        self.prev = value

    def omit(self, e: _Entry, why: str):
        if e.name is not None and e.template is None and e.name not in self.done:
            self.omitted.setdefault(e.name, (e, why))


def _whole(v, what: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ExprError(f"{what} must be an integer, got {v!r}")
    return v


def _dim(shape: tuple, i, what: str) -> int:
    i = _whole(i, f"the dim of {what}()")
    n = len(shape)
    if not -n <= i < n:
        raise ExprError(
            f"{what}() dim {i} is out of range: the input {list(shape)} has {n} dims",
            hint=f"use 0..{n - 1}, or -{n}..-1 from the end",
            code="bad-index",
        )
    return shape[i]


class Builder:
    def __init__(self, spec: Spec, limits: Limits):
        self.spec = spec
        self.limits = limits
        self.net = Network(spec)
        self.block_stack: list[str] = []
        self.block_uses: list[Node] = []  # the entries using them, innermost last
        self.calls: dict = {}  # ("layer"|"group", name) -> calls so far
        self._parsed: dict = {}  # id(list node) -> its parsed entries
        self._dry: dict = {}  # (block, arguments) -> at least this many leaves
        self.uses = 0  # entries, blocks and sequentials expanded
        # a bound on them: a network of N layers expands a few entries and groups per
        # layer, so only expansions making nothing (a recursion or repeat of empty
        # groups, entries all omitted) come near it
        self.max_uses = 4 * limits.max_layers + 1000
        self.idle = 0  # expansions that made no layer (see _idle)
        self.max_idle = max(50_000, limits.max_layers // 2)
        self._dry_work = 0
        self._mapped: dict = {}
        self.expanding: list[Node] = []  # entries of blocks/sequentials being expanded
        first = spec.input
        # a mapping `input:` names the network's inputs; `from` may name them anywhere
        self.net_inputs = {
            name: _Value(ref, shape) for name, (ref, shape) in spec.named_inputs().items()
        }
        self.input_refs = set(spec.input_refs())
        self.int_refs: set = self.net.int_refs  # refs of integer tensors layers made
        self.int_ranges: dict = {}  # ref -> (least, greatest) where the spec fixes them
        # independent errors so far (SpecError), at most MAX_ERRORS; the top level's first
        self.errors: list = list(spec.pending)
        self._seen_errors: set = set()
        # state_dict key -> shape, of the tensors of net.layers[:_stated]: filled in when
        # a `tie` asks, so that a network without one keeps no key per tensor
        self.state_shapes: dict = {}
        self.state_trainable: set = set()  # the keys of those that are trainable
        self._stated = 0
        self._shared: dict = {}  # a record (args, shapes, tensors) -> its one object
        self._literals: dict = {}  # (type, literal arguments) -> evaluated (see _literal)
        # full name -> (PyTorch's name of that level, its `torch_name` node)
        self.torch_names: dict = {}

        def input_shape(*args):
            if len(args) != 1:
                raise ExprError("input_shape() takes one argument, the dim")
            return _dim(first, args[0], "input_shape")

        self.input_shape = input_shape

    # -- lists ---------------------------------------------------------------------
    def _entries(self, seq: Node) -> list:
        """A list node's parsed entries (parsed once: a block used 1,000 times is read
        once)."""
        hit = self._parsed.get(id(seq))
        if hit is None:
            if not isinstance(seq, Sequence) or not seq.items:
                raise SpecError("bad-layers", "layers must be a non-empty list", node=seq)
            try:  # the usual case in one pass; an entry refused: parsed again, one by one
                hit = [_parse_entry(n) for n in seq.items]
            except SpecError:
                hit = [_parse_or_failed(n) for n in seq.items]
            self._parsed[id(seq)] = hit
        return hit

    def build_list(
        self,
        seq: Node,
        inp: _Value,
        prefix: str,
        names,
        parent,
        depth,
        trainable: bool,
        named: dict | None = None,
        outputs: list | None = None,
    ) -> _Value:
        """Build a list's entries; its output is its last kept entry's (its input when
        `when` keeps none: an empty nn.Sequential is the identity), or with a block's
        ``outputs`` the first of them. ``named``: a block's further inputs by name."""
        lst = _List(inp, self._entries(seq), prefix)
        if named:
            lst.named = named
            for name, i in lst.static.items():
                if name in named:
                    raise SpecError(
                        "duplicate-name",
                        f"'{name}' names both an input of this block and one of its entries",
                        node=lst.entries[i].name_node,
                        hint="rename the entry or the input",
                    )
        for i, e in enumerate(lst.entries):
            try:
                self.build_entry(lst, i, e, prefix, names, parent, depth, trainable)
            except _Cascade:
                self._unknown(lst, e)
            except SpecError as exc:
                if exc.code in FATAL or isinstance(exc, SpecErrors):
                    raise
                self._record(exc)
                self._unknown(lst, e)
        if outputs:  # each must name something; the first is the use's value
            values = [
                self._member(name, node, lst, "the block's outputs") for name, node in outputs
            ]
            return values[0]
        return lst.prev

    def _record(self, exc: SpecError):
        """Keep an independent error (once: a block used 16 times reports a mistake in
        its body once) and go on with the next entry."""
        key = (exc.line, exc.column, exc.code, exc.message)
        if key in self._seen_errors:
            return
        self._seen_errors.add(key)
        exc.built = len(self.net.layers)  # the layers before it: its trail (build)
        if self.block_uses and self.block_uses[-1].line != exc.line:
            # in a block's body: which use (of several, with other arguments) raised it
            note = f"in block '{self.block_stack[-1]}' as used at line {self.block_uses[-1].line}"
            exc.hint = f"{exc.hint} ({note})" if exc.hint else note
        self.errors.append(exc)
        if len(self.errors) >= MAX_ERRORS:  # bounded time: a file of 400,000 bad keys
            raise SpecErrors(self.errors, unchecked=True)

    @staticmethod
    def _unknown(lst: _List, e: _Entry):
        """After an error in ``e``: what it would have made is unknown, so the entries
        reading it are skipped (_Cascade) rather than reported again."""
        value = _Value(f"<unknown:{id(e)}>", None)
        if e.name is not None and e.template is None and e.name not in lst.done:
            lst.done[e.name] = value
            lst.lines[e.name] = e.node.line
        lst.count += 1
        lst.prev = value

    def _sources(self, e: _Entry, i: int, lst: _List) -> list[_Value]:
        if e.from_node is None:
            return [lst.prev]
        node = e.from_node
        roles = None
        if isinstance(node, Mapping):  # inputs by keyword (SPEC.md section 12)
            roles = tuple(str(k.value) for k, _ in node.items)
            items = [v for _, v in node.items]
        elif isinstance(node, Sequence):
            items = node.items
        else:
            items = [node]
        out = _Keyed() if roles is not None else []
        if roles is not None:
            out.roles = roles
        for item in items:
            if not isinstance(item, Scalar) or item.value is None or isinstance(item.value, bool):
                raise SpecError("bad-from", "`from` takes a name or a list of names", node=item)
            ref = str(item.value)
            head = ref.split(".", 1)[0]
            if ref == "input":
                out.append(lst.inp)
            elif ref in lst.done:
                out.append(lst.done[ref])
            elif ref in lst.named:
                out.append(lst.named[ref])
            elif head in lst.done:
                out.append(self._member(ref, item, lst, "`from`"))
            elif ref in self.net_inputs:
                out.append(self.net_inputs[ref])
            elif head in lst.omitted:
                ref = head
                other, why = lst.omitted[ref]
                hint = "give this entry the same `when`, or name an entry that is kept"
                same = (
                    e.when_node is not None
                    and other.when_node is not None
                    and getattr(e.when_node, "value", None) == other.when_node.value
                )
                if same and "shape(" in str(e.when_node.value):
                    # the same text, another value: in_shape() reads each entry's own input
                    hint = (
                        "this entry has the same `when`, but in_shape()/input_shape() read "
                        "each entry's own input, which differ here: compute the condition "
                        "once, as a block argument given at the use (`proj: in_shape(1) != "
                        "c`, read there from the block's input) and used by both"
                    )
                raise SpecError(
                    "omitted-entry",
                    f"`from` names '{ref}', which is omitted: {why} (line {other.node.line})",
                    node=item,
                    hint=hint,
                )
            elif head in lst.static and lst.static[head] >= i:
                ref = head
                j = lst.static[ref]
                if j == i:
                    raise SpecError("bad-from", f"'{ref}' cannot take its own output", node=item)
                raise SpecError(
                    "forward-reference",
                    f"'{ref}' comes later in this list "
                    f"(line {lst.entries[j].node.line}); `from` can only name "
                    "earlier entries",
                    node=item,
                    hint="reorder the entries",
                )
            else:
                hint = did_you_mean(
                    ref,
                    list(lst.done)
                    + list(lst.static)
                    + ["input"]
                    + list(lst.named)
                    + list(self.net_inputs),
                )
                raise SpecError(
                    "unknown-name",
                    f"`from` names '{ref}', which is not an earlier entry of this list",
                    node=item,
                    hint=hint
                    or "`from` names earlier entries of the same list "
                    "(dotted paths reach inside them), input, or a network input",
                )
        if not out:
            raise SpecError("bad-from", "`from` needs at least one name", node=node)
        return out

    def _member(self, ref: str, node: Node, lst: _List, what: str) -> _Value:
        """The value of ``ref`` in ``lst``: an entry's name, or a dotted path to a member
        of an entry that is a group (a block's `outputs` are its members)."""
        head, _, rest = ref.partition(".")
        if head not in lst.done and head in lst.omitted:
            other, why = lst.omitted[head]
            raise SpecError(
                "omitted-entry",
                f"{what} names '{ref}', but '{head}' is omitted: {why} (line {other.node.line})",
                node=node,
                hint="give it the same `when`, or name an entry that is kept",
            )
        if head not in lst.done:
            raise SpecError(
                "unknown-name",
                f"{what} names '{ref}', which is not an entry of this list",
                node=node,
                hint=did_you_mean(head, list(lst.done)) or f"{what} names entries of the same list",
            )
        if not rest:
            return lst.done[head]
        if lst.done[head].shape is None:  # an entry an earlier error left unknown
            raise _Cascade()
        pre = f"{lst.prefix}." if lst.prefix else ""
        value = self._path_value(pre + ref)
        if value is None:
            base, _, out = ref.rpartition(".")
            top = self.net.by_name.get(pre + base)
            if top is not None and top[0] == "layer":
                layer = self.net.layers[top[1]]
                if layer.named_outputs is None:
                    raise SpecError(
                        "unknown-name",
                        f"{what} names '{ref}', but '{base}' is "
                        "a layer with one output, not a group",
                        node=node,
                        hint=f"name '{base}' itself",
                    )
                names = [n for n, _ in layer.named_outputs]
                raise SpecError(
                    "unknown-name",
                    f"{what} names '{ref}', but {layer.type.name} "
                    f"'{base}' has the outputs {', '.join(names)}",
                    node=node,
                    hint=did_you_mean(out, names) or f"use {base}.{names[0]}",
                )
            inside = [n[len(pre) :] for n in self.net.by_name if n.startswith(f"{pre}{head}.")]
            raise SpecError(
                "unknown-name",
                f"{what} names '{ref}', which is no member of '{head}'",
                node=node,
                hint=did_you_mean(ref, inside)
                or (
                    f"its members include {', '.join(inside[:4])}"
                    if inside
                    else f"'{head}' has no named members"
                ),
            )
        return value

    def _scope(self, names, get_sources, loop=None) -> ChainMap:
        """``names`` plus an entry's shape readers (and a repeat's loop variable)."""

        def in_shape(*args):
            if len(args) not in (1, 2):
                raise ExprError(
                    "in_shape() takes a dim and optionally which input: "
                    "in_shape(i) or in_shape(i, k)"
                )
            src = get_sources()
            if not src:
                raise ExprError("this entry has no input, so in_shape() has nothing to read")
            k = 0
            if len(args) == 2:
                k = _whole(args[1], "the input number of in_shape()")
                if not 0 <= k < len(src):
                    raise ExprError(
                        f"in_shape() input {k} is out of range: the entry "
                        f"has {len(src)} input{'s' if len(src) != 1 else ''}",
                        hint=f"use 0..{len(src) - 1}",
                        code="bad-index",
                    )
            if src[k].shape is None:
                raise _Cascade()
            return _dim(src[k].shape, args[0], "in_shape")

        own = {"in_shape()": in_shape, "input_shape()": self.input_shape}
        if loop is not None:
            own[loop[0]] = loop[1]
        return ChainMap(own, names)

    def _number(self, node: Node, scope, what: str):
        if not isinstance(node, Scalar) or node.value is None:
            raise SpecError(
                "bad-value",
                f"`{what}` must be a number or an expression",
                node=node,
                hint=f"e.g. `{what}: depth > 2`",
            )
        v = resolve_scalar(node, scope)
        if isinstance(v, bool):
            return int(v)
        if not isinstance(v, (int, float)):
            got = "a list" if isinstance(v, (list, tuple)) else f"the word '{v}'"
            raise SpecError("bad-value", f"`{what}` must be a number, got {got}", node=node)
        return v

    def _repeat(self, e: _Entry, scope) -> tuple:
        """(count, count's node, loop variable or None, chain node or None) of an entry's
        `repeat`."""
        rnode = e.repeat_node
        var = chain = None
        if isinstance(rnode, Mapping):
            tnode = None
            for k, v in rnode.items:
                if k.value == "times":
                    tnode = v
                elif k.value == "as":
                    if (
                        not isinstance(v, Scalar)
                        or not isinstance(v.value, str)
                        or not v.value.isidentifier()
                        or v.value in RESERVED_NAMES
                        or v.value in SHAPE_FUNCTIONS
                    ):
                        raise SpecError(
                            "bad-repeat",
                            "`as` names the loop variable: a plain identifier such as j",
                            node=v,
                        )
                    var = v.value
                elif k.value == "chain":
                    if (
                        not isinstance(v, Scalar)
                        or not isinstance(v.value, (str, int))
                        or isinstance(v.value, bool)
                        or not str(v.value).strip()
                    ):
                        raise SpecError(
                            "bad-repeat",
                            "`chain` names the output (or member) of each copy that feeds the next",
                            node=v,
                        )
                    chain = v
                else:
                    raise SpecError(
                        "bad-repeat",
                        f"repeat has no key '{k.value}'",
                        node=k,
                        hint=did_you_mean(str(k.value), ("times", "as", "chain"))
                        or "repeat takes `times`, `as` and `chain`",
                    )
            if tnode is None:
                raise SpecError(
                    "bad-repeat",
                    "repeat needs `times:`",
                    node=rnode,
                    hint="write `repeat: {times: N, as: j}`",
                )
            rnode = tnode
        if not isinstance(rnode, Scalar):
            raise SpecError(
                "bad-value", "repeat must be an integer >= 0, or {times: N, as: j}", node=rnode
            )
        n = as_int(resolve_scalar(rnode, scope), rnode, "repeat", 0)
        if n > self.limits.max_layers:
            raise SpecError(
                "too-many-layers",
                f"repeat {n} would create more than {self.limits.max_layers:,} layers",
                node=rnode,
                hint="raise the bound with --max-layers if you mean it",
            )
        return n, rnode, var, chain

    def _name(self, e: _Entry, scope, lst: _List) -> str:
        if e.name is None:
            name = str(lst.count)
        elif e.template is None:
            name = e.name
        else:
            out = []
            for is_expr, text in e.template:
                if not is_expr:
                    out.append(text)
                    continue
                try:
                    v = evaluate(text, scope)
                except ExprError as exc:
                    raise SpecError(
                        exc.code, exc.message, node=e.name_node, hint=exc.hint
                    ) from None
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                if not isinstance(v, int):
                    raise SpecError(
                        "not-integer",
                        f"'{{{text}}}' in the name template '{e.name}' is {v}, not an integer",
                        node=e.name_node,
                        hint="use // for integer division, or round()",
                    )
                out.append(str(int(v)))
            name = "".join(out)
            _check_name(name, e.name_node, e.name)
        lst.claim(name, e, e.name if e.template is not None else None)
        return name

    # -- entries -------------------------------------------------------------------
    def build_entry(
        self, lst: _List, i: int, e: _Entry, prefix: str, names, parent, depth, trainable: bool
    ):
        if e.failed is not None:  # refused when parsed: its error, where it stands
            raise e.failed
        if (
            e.literal is not None  # literal arguments, and no key but the type's
            and e.name is None
            and e.from_node is None
            and e.repeat_node is None
            and e.when_node is None
            and e.share_node is None
            and e.trainable_node is None
            and e.tie_node is None
            and e.torch_name_node is None
            and e.extra is None
            and e.outer is None
            and e.type_name not in names
            and self._plain_leaf(lst, e, prefix, names, parent, depth, trainable)
        ):
            return
        box: list = []

        def sources():
            if not box:
                lt = REGISTRY.get(e.type_name) if e.type_name else None
                box.append(
                    []
                    if lt is not None and not lt.takes_input and e.from_node is None
                    else self._sources(e, i, lst)
                )
            return box[0]

        if e.type_name is not None and e.type_name in names:
            sub = self._substitute(e, names)
            if sub is None:
                self._omit(lst, e, f"its type is the block argument '{e.type_name}', which is none")
                return
            e = sub
        scope = self._scope(names, sources)
        if e.trainable_node is not None:
            v = e.trainable_node.value if isinstance(e.trainable_node, Scalar) else None
            if isinstance(e.trainable_node, Scalar) and isinstance(v, str):
                v = resolve_scalar(e.trainable_node, scope)
                if not isinstance(v, bool) and isinstance(v, (int, float)) and v in (0, 1):
                    v = bool(v)  # an expression that is exactly 0 or 1, as bool arguments
            if not isinstance(v, bool):
                raise SpecError(
                    "bad-value",
                    "trainable must be true or false (or an expression that is 0 or 1)",
                    node=e.trainable_node,
                )
            trainable = trainable and v
        self._use(e)
        per_copy_when = (
            e.when_node is not None
            and e.repeat_node is not None
            and isinstance(e.repeat_node, Mapping)
            and "as" in e.repeat_node
        )
        if (
            e.when_node is not None
            and not per_copy_when
            and not self._number(e.when_node, scope, "when")
        ):
            self._omit(lst, e, "its `when` is 0")
            return
        if e.share_node is not None:
            value = self.build_share(e, lst, sources(), prefix, parent, depth)
            if e.name is None:
                lst.prev = value  # another call of a module: no new module, no index
            else:
                name = self._name(e, scope, lst)
                lst.keep(name, value, e)
                lst.count -= 1
            return
        if e.repeat_node is None:
            name = self._name(e, scope, lst)
            full = f"{prefix}.{name}" if prefix else name
            if e.torch_name_node is not None:
                self._torch_name(e, full)
            lst.keep(name, self.build_one(e, sources(), full, scope, parent, depth, trainable), e)
            return
        n, rnode, var, chain = self._repeat(e, scope)
        if n == 0:
            self._omit(lst, e, "its repeat count is 0")
            return
        inputs = self.spec.block_inputs.get(e.type_name, ["input"])
        if n > 1 and len(inputs) > 1 and e.type_name in self.spec.blocks:
            raise SpecError(
                "bad-from",
                f"repeat feeds each copy after the first the previous copy's output, one "
                f"input, but block '{e.type_name}' takes {len(inputs)} ({', '.join(inputs)})",
                node=rnode,
                hint="write the uses out one by one, each with its `from`, or give the "
                "block one input",
            )
        grouped = e.name is not None and e.template is None
        if e.torch_name_node is not None and not grouped:
            raise SpecError(
                "bad-name",
                "`torch_name` renames one module: a repeat whose copies are spliced "
                "into the list would give each copy that name",
                node=e.torch_name_node,
                hint="give the entry a plain `name` (its copies become NAME.0, NAME.1, ...)",
            )
        if grouped:
            name = self._name(e, scope, lst)
            full = f"{prefix}.{name}" if prefix else name
            self._torch_name(e, full)
            gi = self._open_group(full, "repeat", e.type_name, parent, depth, e.node)
        if n > 1 and var is None and e.type_name not in self.block_stack:
            # copies alike: bound them all before building one (a recursive use is
            # bounded as such, in build_block)
            try:
                leaves, uses = self._dry_one(e, scope, 0)
            except (SpecError, ExprError, RecursionError):
                leaves = uses = 0
            if (
                len(self.net.layers) + leaves * n > self.limits.max_layers
                or self.uses + uses * n > self.max_uses
                or (not leaves and self.idle + uses * n > self.max_idle)
            ):
                raise SpecError(
                    "too-many-layers",
                    f"repeat {n} of '{e.type_name}' would "
                    "exceed "
                    + (
                        f"{self.limits.max_layers:,} layers ({leaves:,} or more each)"
                        if leaves * n > self.limits.max_layers
                        else f"{self.max_uses:,} blocks and sequentials"
                    ),
                    node=rnode,
                    hint="raise the bound with --max-layers if you mean it",
                )
        before, uses_before = len(self.net.layers), self.uses
        value = sources()
        if grouped:
            value = _enter(value)
            self.net.groups[gi].inputs = value
        made = 0  # copies kept (a `when` reading the loop variable may skip some)
        for j in range(n):
            src = value
            cscope = self._scope(names, lambda src=src: src, (var, j) if var else None)
            if per_copy_when and not self._number(e.when_node, cscope, "when"):
                continue
            made += 1
            if grouped:
                out = self.build_one(e, src, f"{full}.{made - 1}", cscope, gi, depth + 1, trainable)
            else:  # spliced: each copy is an entry of this list
                cname = self._name(e, cscope, lst)
                out = self.build_one(
                    e,
                    src,
                    f"{prefix}.{cname}" if prefix else cname,
                    cscope,
                    parent,
                    depth,
                    trainable,
                )
                lst.keep(cname, out, e)
            if chain is not None:  # the next copy takes this copy's output `chain`
                copy = (
                    f"{full}.{made - 1}" if grouped else (f"{prefix}.{cname}" if prefix else cname)
                )
                out = self._chained(copy, chain)
            value = [out]
            if made == 1:  # the first copy made: what the others will cost
                per_copy = len(self.net.layers) - before
                left = n - j - 1
                if len(self.net.layers) + per_copy * left > self.limits.max_layers:
                    raise SpecError(
                        "too-many-layers",
                        f"repeat {n} of '{e.type_name}' "
                        f"({per_copy:,} layers each) would exceed "
                        f"{self.limits.max_layers:,} layers",
                        node=rnode,
                        hint="raise the bound with --max-layers if you mean it",
                    )
                uses = self.uses - uses_before
                if self.uses + uses * left > self.max_uses:
                    raise SpecError(
                        "too-many-layers",
                        f"repeat {n} of '{e.type_name}' "
                        f"would expand more than {self.max_uses:,} entries, "
                        "blocks and sequentials",
                        node=rnode,
                        hint="a repeat of groups that make no layers?",
                    )
        if not made:
            if grouped:
                self._close_group(gi, value[0])
            self._omit(lst, e, "its `when` is 0 for every copy")
            return
        if grouped:
            self._close_group(gi, value[0])
            lst.keep(name, value[0], e)
        elif chain is not None:
            lst.prev = value[0]  # the entry after the copies takes the last one's `chain`

    def _torch_name(self, e: _Entry, full: str):
        """Record ``e``'s `torch_name` (SPEC.md section 11, layercalc's addition): the
        name PyTorch gives the module where the language reserves it (BERT's
        ``attention.output``); state_dict keys below it use it."""
        node = e.torch_name_node
        if node is None:
            return
        v = node.value if isinstance(node, Scalar) else None
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise SpecError("bad-name", "`torch_name` must be a plain name", node=node)
        v = str(v)
        if not v or "." in v or v.split(None, 1) != [v] or not v.isprintable():
            raise SpecError(
                "bad-name",
                f"`torch_name` '{v}' is one level of a module path: no dots, spaces or "
                "control characters",
                node=node,
            )
        if "." not in full and v in RESERVED_NAMES:
            raise SpecError(
                "bad-name",
                f"`torch_name` '{v}' at the top level would clash with verify's npz, which "
                f"keeps the network's {v} under that key",
                node=node,
                hint="a nested module may be called so (BERT's attention.output); a "
                "top-level one may not",
            )
        self.torch_names[full] = node
        self.net.torch_names[full] = v

    def _torch_path(self, full: str) -> str | None:
        """``full``'s path in PyTorch when a `torch_name` renames a level of it, else None."""
        if not self.torch_names:
            return None
        path = self.net.torch_path(full)
        return path if path != full else None

    def check_torch_names(self):
        """No two modules share a path in PyTorch once `torch_name` renamed some."""
        seen: dict = {}
        for full in self.net.by_name:
            path = self._torch_path(full) or full
            other = seen.setdefault(path, full)
            if other != full:
                renamed, kept = (full, other) if self._torch_path(full) else (other, full)
                raise SpecError(
                    "bad-name",
                    f"`torch_name` makes '{renamed}' the module '{path}' in PyTorch, "
                    f"as '{kept}' is",
                    node=self._renamer(renamed),
                    hint="a module's name in PyTorch must be unique among its siblings",
                )

    def _renamer(self, full: str):
        """The `torch_name` node of the innermost renamed level of ``full``."""
        segs = full.split(".")
        for i in range(len(segs), 0, -1):
            node = self.torch_names.get(".".join(segs[:i]))
            if node is not None:
                return node
        return None

    def _chained(self, copy: str, chain: Node) -> _Value:
        value = self._path_value(f"{copy}.{chain.value}")
        if value is None:
            raise SpecError(
                "unknown-name",
                f"repeat chains through '{chain.value}', but the "
                f"copy '{copy}' has no member or output of that name",
                node=chain,
                hint="name an output (or member) of the repeated block",
            )
        return value

    def _path_value(self, full: str) -> _Value | None:
        """The value a full dotted path names: a layer's or a group's output, or one of
        the outputs of a type with several (LAYER.NAME); None when it names nothing."""
        hit = self.net.by_name.get(full)
        if hit is not None:
            kind, i = hit
            if kind == "layer":
                return _Value(self.net.layers[i].ref, self.net.layers[i].output)
            return _Value(self.net.groups[i].ref, self.net.groups[i].output)
        base, _, out = full.rpartition(".")
        top = self.net.by_name.get(base)
        if top is not None and top[0] == "layer":
            layer = self.net.layers[top[1]]
            for (name, _), (r, shape) in zip(layer.named_outputs or (), layer.produced()):
                if name == out:
                    return _Value(r, shape)
        if top is not None and top[0] == "group":
            for name, value in self.net.groups[top[1]].named_outputs or ():
                if name == out:
                    return value
        return None

    # -- another call of a module (`share:`, SPEC.md section 11) ---------------------------
    def build_share(self, e: _Entry, lst: _List, src: list, prefix: str, parent, depth) -> _Value:
        node = e.share_node
        ref = str(node.value).strip()
        head = ref.split(".", 1)[0]
        hit = None
        if head in lst.done and lst.done[head].shape is None or any(v.shape is None for v in src):
            raise _Cascade()
        if head in lst.done:
            full = f"{prefix}.{ref}" if prefix else ref
            hit = self.net.by_name.get(full)
        if hit is None:
            if head in lst.omitted:
                other, why = lst.omitted[head]
                raise SpecError(
                    "omitted-entry",
                    f"`share` names '{ref}', which is omitted: {why} (line {other.node.line})",
                    node=node,
                )
            known = [n for n in lst.done if (f"{prefix}.{n}" if prefix else n) in self.net.by_name]
            raise SpecError(
                "unknown-name",
                f"`share` names '{ref}', which is no earlier module or group of this list",
                node=node,
                hint=did_you_mean(ref, known)
                or "share names an earlier entry "
                "of the same list (dotted paths reach inside groups)",
            )
        kind, i = hit
        if kind == "layer":
            first = len(self.net.layers)
            out = self._call_again([self.net.layers[i]], src, None, node, parent, depth)
            self._alias(e, prefix, None, first)
            return out
        g = self.net.groups[i]
        if len(src) != len(g.inputs):
            raise SpecError(
                "bad-from",
                f"'{ref}' takes {len(g.inputs)} input"
                f"{'s' if len(g.inputs) != 1 else ''}, got {len(src)}",
                node=e.from_node or node,
            )
        # the group again, with its nested groups, under the current parent
        gmap = {}
        first = len(self.net.layers)
        shift = first - g.first
        gj = i
        while gj < len(self.net.groups) and (gj == i or self.net.groups[gj].first < g.last):
            # groups opened while this one was open are inside it (empty ones are dropped)
            h = self.net.groups[gj]
            c = Group(
                name=h.name,
                kind=h.kind,
                type=h.type,
                parent=parent if gj == i else gmap[h.parent],
                depth=depth + h.depth - g.depth,
                first=h.first + shift,
                last=h.last + shift,
                node=h.node,
                output=h.output,
            )
            c.args = h.args
            c.call = self._next_call(("group", h.name))
            gmap[gj] = len(self.net.groups)
            self.net.groups.append(c)
            gj += 1
        # the group's inputs are its own value objects (see _enter): a member reading a
        # network input or an outer value directly keeps it, whatever its ref
        fresh = [_Value(v.ref, v.shape) for v in src]
        feeds = {id(old): new for old, new in zip(g.inputs, fresh)}
        members = self.net.layers[g.first : g.last]
        out = self._call_again(members, src, feeds, node, gmap, depth - g.depth)
        mapped = self._mapped

        def again(value, ref, shape):
            hit = _fed_by(value, feeds) if value is not None else None
            return hit or mapped.get(ref) or _Value(ref, shape)

        out = again(g.value, g.ref, g.output)
        for gj, ci in gmap.items():
            c = self.net.groups[ci]
            h = self.net.groups[gj]
            c.value = again(h.value, h.ref, h.output)
            c.ref, c.output = c.value.ref, c.value.shape
            if h.named_outputs is not None:  # a module's outputs, this call's values
                c.named_outputs = tuple((n, again(v, v.ref, v.shape)) for n, v in h.named_outputs)
            c.inputs = [feeds.get(id(v)) or self._fed.get(id(v)) or v for v in h.inputs]
        self._alias(e, prefix, g, first, gmap)
        return out

    def _alias(self, e: _Entry, prefix: str, g, first: int, gmap=None):
        """A named share (`{share: a, name: b}`) makes PREFIX.b (and, for a group, its
        members' paths under b) name this call's rows, for `from`, `outputs` and `share`."""
        if e.name is None:
            return
        label = f"{prefix}.{e.name}" if prefix else e.name
        if g is None:
            self.net.by_name[label] = ("layer", first)
            return
        cut = len(g.name)
        for gj, ci in gmap.items():
            self.net.by_name.setdefault(label + self.net.groups[gj].name[cut:], ("group", ci))
        for k in range(first, len(self.net.layers)):
            self.net.by_name.setdefault(label + self.net.layers[k].name[cut:], ("layer", k))

    def _tie(self, e: _Entry, layer: Layer, tensors: list) -> tuple:
        """`tie: {weight: wte.weight}`: each tensor named on the left is the earlier
        tensor whose state_dict key is on the right (same shape), as GPT-2's head is
        its token embedding. PyTorch's parameters() then holds it once. A key that is
        none as written is looked up within the modules holding the layer, innermost
        first, so a block's entry may tie to a tensor of the same use."""
        node = e.tie_node
        if not isinstance(node, Mapping) or not node.items:
            raise SpecError(
                "bad-tie",
                "`tie` maps this layer's tensors to earlier tensors' state_dict keys",
                node=node,
                hint="write e.g. `tie: {weight: transformer.wte.weight}`",
            )
        own = {t.key: t for t in tensors}
        for earlier in self.net.layers[self._stated :]:
            for t in earlier.tensors:
                self.state_shapes[earlier.state_key(t.key)] = tuple(t.shape)
                if earlier.trainable:
                    self.state_trainable.add(earlier.state_key(t.key))
        self._stated = len(self.net.layers)
        out = []
        for k, v in node.items:
            key = k.value
            if key not in own:
                raise SpecError(
                    "bad-tie",
                    f"{layer.type.name} has no tensor '{key}' to tie",
                    node=k,
                    hint=did_you_mean(str(key), list(own))
                    or ("its tensors: " + ", ".join(own) if own else "it holds no tensors"),
                )
            target = v.value if isinstance(v, Scalar) else None
            if isinstance(target, str) and target not in self.state_shapes:
                # as written, else within the modules holding this layer, innermost
                # first: a block ties its own tensors (`enc.weight` in each use of it)
                path = (layer.key_name or layer.name).split(".")[:-1]
                for n in range(len(path), 0, -1):
                    within = ".".join(path[:n]) + "." + target
                    if within in self.state_shapes:
                        target = within
                        break
            if not isinstance(target, str) or target not in self.state_shapes:
                raise SpecError(
                    "bad-tie",
                    f"tie names {target!r}, which is no earlier tensor's state_dict key",
                    node=v,
                    hint=did_you_mean(str(target), list(self.state_shapes))
                    or "name a tensor of an earlier layer, e.g. wte.weight",
                )
            shape = self.state_shapes[target]
            if tuple(own[key].shape) != shape:
                raise SpecError(
                    "bad-tie",
                    f"{layer.name}.{key} is {list(own[key].shape)} "
                    f"but {target} is {list(shape)}: tied tensors are one "
                    "tensor, so their shapes must be equal",
                    node=v,
                )
            if own[key].buffer:
                raise SpecError("bad-tie", f"'{key}' is a buffer; tie ties parameters", node=k)
            if not layer.trainable and target in self.state_trainable:
                raise SpecError(
                    "bad-tie",
                    f"'{layer.name}' is trainable: false, but its '{key}' is '{target}', "
                    "which is trainable: one Parameter cannot be both (in PyTorch, freezing "
                    f"this module freezes '{target}' too, and its module only in part, which "
                    "a spec cannot write)",
                    node=v,
                    hint=f"put trainable: false on the layer holding '{target}' too, or "
                    "leave this one trainable",
                )
            out.append((key, target, shape))
        return tuple(out)

    def _index_input(self, lt: LayerType, src: list, node: Node):
        """A type reading integer indices (embedding) takes a network input: every other
        tensor of a spec is floating point, and PyTorch refuses those."""
        if not lt.index_input:
            return
        for v in src:
            if v.ref not in self.input_refs and v.ref not in self.int_refs:
                raise SpecError(
                    "integer-input",
                    f"{lt.name} takes integer indices, but "
                    f"'{v.ref}' is a floating-point tensor (PyTorch refuses it: "
                    "Expected tensor for argument #1 'indices' to have one of "
                    "the following scalar types: Long, Int)",
                    node=node,
                    hint="feed it a network input, which holds the indices, or an arange",
                )

    def _index_range(self, lt: LayerType, a: dict, src: list, arg_nodes, node: Node, name: str):
        """Indices the spec fixes (an arange) outside what ``lt`` accepts (an embedding's
        rows): PyTorch's forward refuses them (GPT-2's 1,024 positions and a longer
        sequence), so the spec is refused at the bound."""
        bound = lt.index_bound(a)
        if bound is None:
            return
        for v in src:
            known = self.int_ranges.get(v.ref)
            if known is None or (known[0] >= 0 and known[1] < bound):
                continue
            lo, hi = known
            bad = lo if lo < 0 else hi
            raise SpecError(
                "index-range",
                f"'{v.ref}' holds indices {lo:,} to {hi:,}, but {name} holds "
                f"{bound:,} rows (an {lt.name}; indices 0 to {bound - 1:,}): index "
                f"{bad:,} is out of range (PyTorch refuses it: IndexError: index out of "
                "range in self)",
                node=arg_nodes.get("num_embeddings") or arg_nodes.get("from") or node,
                hint=f"give it at least {hi + 1:,} rows, or shorten the positions"
                if lo >= 0
                else "indices start at 0",
            )

    def _float_input(self, lt: LayerType, src: list, node: Node):
        """An integer tensor (arange, an arange buffer) fed to a layer that computes in
        floating point (linear, conv, norms, activations, pools, attention, recurrence):
        PyTorch refuses it (tensor operations and arithmetic take it)."""
        if lt.index_input or lt.family not in FLOAT_FAMILIES:
            return
        for v in src:
            if v.ref in self.int_refs:
                raise SpecError(
                    "integer-input",
                    f"{lt.name} computes in floating point, but "
                    f"'{v.ref}' holds integers (PyTorch refuses a Long tensor "
                    "here)",
                    node=node,
                    hint="feed it an embedding of the integers, or a float tensor",
                )

    def _next_call(self, key) -> int:
        self.calls[key] = self.calls.get(key, 1) + 1
        return self.calls[key]

    def _call_again(self, members: list, src: list, feeds, node, groups, depth):
        """Rows for another call of ``members`` (one leaf, or with ``feeds`` a group's
        leaves in order): the same types and arguments on new inputs, checked as
        PyTorch's modules would be (the parameters' shapes must not change), with no
        parameters of their own."""
        mapped = {}
        fed = {}
        self._mapped, self._fed = mapped, fed
        out = None
        for layer in members:
            if len(self.net.layers) >= self.limits.max_layers:
                raise SpecError(
                    "too-many-layers",
                    f"the network exceeds {self.limits.max_layers:,} layers",
                    node=node,
                    hint="raise the bound with --max-layers if you mean it",
                )
            if feeds is not None:  # a group: rewire through what this call made
                ins = []
                for v in layer.srcs:
                    new = _fed_by(v, feeds) or mapped.get(v.ref) or v
                    fed[id(v)] = new
                    ins.append(new)
                gparent = groups.get(layer.group)
                ldepth = layer.depth + depth
            else:
                ins = src
                gparent, ldepth = groups, depth
            shapes = [v.shape for v in ins]
            lt = layer.type
            self._index_input(lt, ins, node)
            if lt.index_input and self.int_ranges:
                self._index_range(lt, layer.args, ins, NO_ARG_NODES, node, layer.name)
            where = f"'{layer.name}' ({lt.name})"
            try:
                if len(shapes) != len(layer.input_shapes) and not lt.merge:
                    raise LayerError(f"it takes {len(layer.input_shapes)} input, got {len(shapes)}")
                # its own copy: infer stores values worked out from the input (pads,
                # pieces, windows) in the arguments, and this input may differ
                a = dict(layer.args)
                y = tuple(lt.infer(a, shapes))
                named = lt.outputs(a, shapes, y)
                tensors = lt.tensors(a, shapes, y)
                macs = lt.macs(a, shapes, y)
            except LayerError as exc:
                raise SpecError(
                    "bad-share",
                    f"another call of {where} cannot take "
                    f"{' and '.join(str(list(x)) for x in shapes)}: "
                    f"{exc.message}",
                    node=node,
                    hint="a shared module must accept the new input as it is "
                    "(a parameter-free module takes any input)",
                ) from None
            orig = layer.shares if layer.shares is not None else self._index_of(layer)
            held = self.net.layers[orig].tensors  # a call row holds none: its module's
            old = [tuple(t.shape) for t in held]
            new = [tuple(t.shape) for t in tensors]
            if old != new:
                bad = (
                    next(k for k, (a, b) in enumerate(zip(old, new)) if a != b)
                    if len(old) == len(new)
                    else 0
                )
                t = held[bad]
                raise SpecError(
                    "bad-share",
                    f"another call of {where} cannot take "
                    f"{' and '.join(str(list(x)) for x in shapes)}: its "
                    f"{t.key} is {list(t.shape)}, and this input would need "
                    f"{list(tensors[bad].shape) if bad < len(tensors) else 'none'}",
                    node=node,
                    hint="a shared module keeps its parameters: give "
                    "it the input it was built for (the same channels or "
                    "features)",
                )
            if prod(y) > self.limits.max_elements:
                raise SpecError(
                    "too-large",
                    f"the output {list(y)} holds {prod(y):,} "
                    f"elements, beyond the bound of "
                    f"{self.limits.max_elements:,}",
                    node=node,
                )
            row = Layer(
                name=layer.name,
                type=lt,
                args=a,
                inputs=[v.ref for v in ins],
                input_shapes=shapes,
                output=y,
                tensors=[],
                macs=macs,
                trainable=layer.trainable,
                node=node,
                arg_nodes=layer.arg_nodes,
                group=gparent,
                depth=ldepth,
            )
            row.call = self._next_call(("layer", layer.name))
            row.key_name = layer.key_name
            row.ref = f"{layer.name}@{row.call}"
            row.shares = orig
            row.srcs = ins
            if named is not None:
                row.named_outputs = tuple((str(n), tuple(s)) for n, s in named)
            self.net.layers.append(row)
            out = _Value(row.ref, y)
            for (old, _), (new, shape) in zip(layer.produced(), row.produced()):
                mapped[old] = _Value(new, shape)
            mapped[layer.ref] = out
        return out

    def _index_of(self, layer: Layer) -> int:
        """The row index of ``layer`` (by_name holds a group under the same name as a
        composite module's own row, e.g. multihead_attention's)."""
        hit = self.net.by_name.get(layer.name)
        if hit is not None and hit[0] == "layer" and self.net.layers[hit[1]] is layer:
            return hit[1]
        return next(
            i for i in range(len(self.net.layers) - 1, -1, -1) if self.net.layers[i] is layer
        )

    # -- layer-valued block arguments (SPEC.md section 11) ---------------------------------
    def _names_layer(self, text: str) -> bool:
        return (
            text == "none"
            or text in self.spec.blocks
            or REGISTRY.get(text) is not None
            or REGISTRY.normalize(text) == "sequential"
        )

    def _substitute(self, e: _Entry, names) -> _Entry | None:
        """The entry ``e`` becomes when its type names a layer-valued block argument: the
        argument's type and arguments, then ``e``'s own arguments (which win, as with
        functools.partial) and meta keys; None for `none`; ``e`` itself otherwise."""
        v = names[e.type_name]
        if isinstance(v, str) and self._names_layer(v.strip()):
            v = LayerValue(
                None if v.strip() == "none" else v.strip(), e.type_node, [], names, e.type_node
            )
        if not isinstance(v, LayerValue):
            if not self._names_layer(e.type_name) and not isinstance(v, _Unknown):
                raise SpecError(
                    "unknown-layer",
                    f"'{e.type_name}' is used as a layer type, but it holds {v!r}, not a layer",
                    node=e.type_node,
                    hint=f"pass a layer: `{e.type_name}: relu`, `{e.type_name}: "
                    "{group_norm: {num_groups: 8}}` or `none`",
                )
            return e
        if v.type_name is None:
            return None
        n = _Entry()
        for slot in _Entry.__slots__:
            setattr(n, slot, getattr(e, slot))
        n.type_name, n.type_node, n.via = v.type_name, v.type_node, e.type_name
        own = {k.value for k, _ in e.args}
        brought = [(k, x) for k, x in v.args if k.value not in own]
        n.args = brought + list(e.args)
        n.literal = _literal(n.args)
        n.arg_nodes = None
        if brought:
            n.outer = {id(k) for k, _ in brought}
            n.outer_scope = v.scope
        return n

    def _arg_value(self, vnode: Node, names, what: str):
        """A block argument's value (given at a use, or its default): a layer entry (a
        one-key mapping, a type or block name, `none`, or an argument holding one) as a
        LayerValue, else a number, expression, word or list as for vars."""
        if isinstance(vnode, Mapping):
            inner = _parse_entry(vnode)
            extra = [
                x
                for x in (
                    inner.name_node,
                    inner.from_node,
                    inner.repeat_node,
                    inner.trainable_node,
                    inner.when_node,
                    inner.share_node,
                )
                if x is not None
            ]
            if extra:
                raise SpecError(
                    "bad-value",
                    f"{what} holds a layer: give its type and arguments only",
                    node=extra[0],
                    hint="put `name`, `from`, `when`, ... on the entry inside "
                    "the block that uses the argument",
                )
            if inner.type_name in names and isinstance(names[inner.type_name], LayerValue):
                outer = names[inner.type_name]  # {act: {inplace: true}} where act is a layer
                if outer.type_name is None or not inner.args:  # `{act: {}}` adds nothing
                    return outer
                own = {k.value for k, _ in inner.args}
                if any(k.value not in own for k, _ in outer.args):
                    raise SpecError(
                        "bad-value",
                        f"{what} adds arguments to the layer "
                        f"argument '{inner.type_name}', which has its own",
                        node=vnode,
                        hint="write the layer out in full",
                    )
                return LayerValue(outer.type_name, outer.type_node, inner.args, names, vnode)
            if not self._names_layer(inner.type_name) or inner.type_name == "none":
                choices = list(REGISTRY.canonical) + list(self.spec.blocks) + ["sequential"]
                raise SpecError(
                    "unknown-layer",
                    f"{what} holds a mapping, so it must be a "
                    f"layer entry, but '{inner.type_name}' is no layer type or "
                    "block",
                    node=inner.type_node,
                    hint=did_you_mean(str(inner.type_name), choices, REGISTRY.normalize)
                    or "a layer-valued argument is e.g. `{group_norm: {num_groups: 32}}`",
                )
            return LayerValue(inner.type_name, inner.type_node, inner.args, names, vnode)
        if isinstance(vnode, Scalar) and isinstance(vnode.value, str):
            text = vnode.value.strip()
            if text in MODE_WORDS:
                return text
            if text.isidentifier() and text in names:
                return names[text]  # passed on (`act: act`), a layer or a value
            if self._names_layer(text):
                return LayerValue(None if text == "none" else text, vnode, [], names, vnode)
            if text.isidentifier():  # no var, argument, type or block: a typo of which?
                choices = list(REGISTRY.canonical) + list(self.spec.blocks) + ["none"]
                near = did_you_mean(text, choices, REGISTRY.normalize)
                if near and not did_you_mean(
                    text, [k for k in names if isinstance(k, str) and not k.endswith("()")]
                ):
                    raise SpecError(
                        "unknown-name",
                        f"{what}: '{text}' is no var, argument, layer type or block",
                        node=vnode,
                        hint=near,
                    )
        return var_value(vnode, names, what, MODE_WORDS)

    def _open_group(self, name, kind, type_, parent, depth, node) -> int:
        g = Group(
            name=name,
            kind=kind,
            type=type_,
            parent=parent,
            depth=depth,
            first=len(self.net.layers),
            node=node,
        )
        self.net.groups.append(g)
        return len(self.net.groups) - 1

    def _close_group(self, gi, value: _Value):
        g = self.net.groups[gi]
        g.ref = value.ref
        g.value = value
        g.last = len(self.net.layers)
        if g.last == g.first and gi == len(self.net.groups) - 1:
            # every entry omitted by `when`: the group is the identity (as an empty
            # nn.Sequential) and holds no module to report
            self.net.groups.pop()
            self._idle(self.net.groups[g.parent].node if g.parent is not None else g.node)
            return
        g.output = value.shape
        self.net.by_name[g.name] = ("group", gi)

    def build_one(
        self, e: _Entry, src: list, full: str, names, parent, depth, trainable: bool
    ) -> _Value:
        tname = e.type_name
        if e.tie_node is not None and (
            tname in self.spec.blocks or REGISTRY.normalize(tname) == "sequential"
        ):
            raise SpecError(
                "bad-tie",
                f"`tie` ties a layer's own tensors; put it on the layer inside '{tname}'",
                node=e.tie_node,
            )
        if tname in self.spec.blocks:
            return self.build_block(e, src, full, names, parent, depth, trainable)
        lt = REGISTRY.get(tname)  # "sequential" is no registry type
        if lt is None and REGISTRY.normalize(tname) == "sequential":
            return self.build_sequential(e, src, full, names, parent, depth, trainable)
        if lt is None:
            from .hints import unknown_type

            message, hint = unknown_type(tname, self.spec.blocks)
            raise SpecError("unknown-layer", message, node=e.type_node, hint=hint)
        return self.build_leaf(lt, e, src, full, names, parent, depth, trainable)

    def build_block(self, e, src, full, names, parent, depth, trainable) -> _Value:
        bname = e.type_name
        bnode, _ = self.spec.blocks[bname]
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            if bname in self.block_stack:  # a recursion that does not stop
                raise SpecError(
                    "too-deep",
                    f"block '{bname}' uses itself more than {MAX_BLOCK_DEPTH} levels deep",
                    node=e.type_node,
                    hint="a block may use itself only under a `when:` (or a "
                    "repeat count) that its arguments drive to 0, e.g. `when: "
                    "depth > 0` with `depth: depth - 1` on the use",
                )
            raise SpecError(
                "too-deep",
                f"blocks nest more than {MAX_BLOCK_DEPTH} deep here "
                f"('{bname}' inside {' -> '.join(self.block_stack[:3])} -> ...)",
                node=self.expanding[0] if self.expanding else e.type_node,
                hint="flatten the block structure",
            )
        inputs = self.spec.block_inputs.get(bname, ["input"])
        roles = getattr(src, "roles", None)
        if roles is not None:  # `from: {x: img, m: mask}`: by the block's input names
            for r in roles:
                if r not in inputs:
                    raise SpecError(
                        "bad-from",
                        f"block '{bname}' has no input '{r}' (its inputs: {', '.join(inputs)})",
                        node=e.from_node or e.node,
                        hint=did_you_mean(r, inputs) or f"name them {', '.join(inputs)}",
                    )
            missing = [n for n in inputs if n not in roles]
            if missing:
                raise SpecError(
                    "bad-from",
                    f"block '{bname}' needs its input '{missing[0]}', which `from` does not name",
                    node=e.from_node or e.node,
                    hint=f"add `{missing[0]}: NAME` to `from`",
                )
            src = [src[roles.index(n)] for n in inputs]
        if len(src) != len(inputs):
            raise SpecError(
                "bad-from",
                f"block '{bname}' takes {len(inputs)} input"
                f"{'s' if len(inputs) != 1 else ''} ({', '.join(inputs)}), got "
                f"{len(src)}",
                node=e.from_node or e.type_node,
                hint=f"name them in order: `from: [{', '.join(inputs)}]`"
                if len(inputs) > 1
                else "merge them first with add, mul or concat",
            )
        scope = self._block_scope(bname, e, names)
        self._use(e)
        if bname in self.block_stack:  # a recursive use: bound what it expands to first
            leaves, uses = self._dry_count(bname, scope, 0)
            if (
                len(self.net.layers) + leaves > self.limits.max_layers
                or self.uses + uses > self.max_uses
            ):
                what = (
                    (f"at least {leaves:,} layers, beyond the bound of {self.limits.max_layers:,}")
                    if leaves
                    else f"more than {self.max_uses:,} block uses"
                )
                raise SpecError(
                    "too-many-layers",
                    f"block '{bname}' uses itself so that it would expand to {what}",
                    node=e.type_node,
                    hint="check the argument that should shrink at each level "
                    "(or raise the bound with --max-layers if you mean it)",
                )
        gi = self._open_group(full, "block", bname, parent, depth, e.node)
        declared = bnode.get("args")
        if isinstance(declared, Mapping):
            self.net.groups[gi].args = {k.value: scope[k.value] for k, _ in declared.items}
        src = self.net.groups[gi].inputs = _enter(src)
        self.block_stack.append(bname)
        self.block_uses.append(e.node)
        self.expanding.append(e.node)
        try:
            named = {n: v for n, v in zip(inputs, src) if n != "input"}
            out = self.build_list(
                bnode.get("layers"),
                src[0],
                full,
                scope,
                gi,
                depth + 1,
                trainable,
                named,
                self.spec.block_outputs.get(bname),
            )
        finally:
            self.block_stack.pop()
            self.block_uses.pop()
            self.expanding.pop()
        self._close_group(gi, out)
        return out

    def _block_scope(self, bname: str, e: _Entry, names, tolerant: bool = False) -> dict:
        """A block use's names: the spec's vars, then its arguments, given or default.
        ``tolerant`` (counting without shapes): a value that cannot be known is UNKNOWN."""
        bnode, _ = self.spec.blocks[bname]
        declared = bnode.get("args")
        declared_items = declared.items if isinstance(declared, Mapping) else []
        declared_names = [k.value for k, _ in declared_items]
        scope = dict(self.spec.vars)
        given = {}
        for k, v in e.args:
            if k.value not in declared_names:
                raise SpecError(
                    "unknown-argument",
                    f"block '{bname}' has no argument '{k.value}'",
                    node=k,
                    hint=did_you_mean(str(k.value), declared_names + list(META_KEYS))
                    or (
                        "it takes " + ", ".join(map(str, declared_names))
                        if declared_names
                        else "it takes no arguments"
                    ),
                )
            given[k.value] = self._known(v, e.scope_for(k, names), str(k.value), tolerant)
        shape_readers = None  # made for the first default: most uses give every argument
        for k, v in declared_items:
            if k.value in given:
                scope[k.value] = given[k.value]
            elif isinstance(v, Scalar) and v.value is None:
                raise SpecError(
                    "missing-argument",
                    f"block '{bname}' needs argument '{k.value}'",
                    node=e.type_node,
                    hint=f"add `{k.value}: ...` to this entry",
                )
            else:  # a default may read the use's input, as the use's own arguments do
                if shape_readers is None:
                    shape_readers = (
                        {n: f for n, f in names.maps[0].items() if n.endswith("()")}
                        if isinstance(names, ChainMap)
                        else {}
                    )
                scope[k.value] = self._known(
                    v, ChainMap(shape_readers, scope), str(k.value), tolerant
                )
        return scope

    def _known(self, vnode: Node, names, what: str, tolerant: bool):
        if not tolerant:
            return self._arg_value(vnode, names, what)
        try:
            return self._arg_value(vnode, names, what)
        except SpecError:
            return UNKNOWN

    # -- a lower bound on a recursion's size, before building it --------------------------
    def _omit(self, lst: _List, e: _Entry, why: str):
        lst.omit(e, why)
        self._idle(e.node)

    def _idle(self, node: Node):
        """Count an expansion that made no layer (an omitted entry, an empty group):
        a network makes few, and only they can make a long build with nothing to show."""
        self.idle += 1
        if self.idle > self.max_idle:
            raise SpecError(
                "too-many-layers",
                f"the network expands more than "
                f"{self.max_idle:,} entries and groups that make no layer",
                node=self.expanding[0] if self.expanding else node,
                hint="a recursion or repeat of groups that make nothing?",
            )

    def _use(self, e: _Entry):
        self.uses += 1
        if self.uses > self.max_uses:
            raise SpecError(
                "too-many-layers",
                f"the network expands more than {self.max_uses:,} entries, blocks and sequentials",
                node=self.expanding[0] if self.expanding else (e.type_node or e.node),
                hint="a recursion or repeat of groups that make no layers?",
            )

    def _dry_count(self, bname: str, scope: dict, depth: int) -> tuple:
        """(at least how many leaves, at least how many block and sequential uses) block
        ``bname`` makes with these arguments, counted without building, memoised on the
        arguments (a doubling recursion 40 deep costs 40 steps). What cannot be known
        without shapes counts 0, so both are lower bounds."""
        try:
            key = (bname, tuple(sorted((k, _frozen(v)) for k, v in scope.items())))
            hash(key)
        except TypeError:
            return 0, 1
        if key in self._dry:
            return self._dry[key]
        if depth > MAX_BLOCK_DEPTH:
            return 0, 1  # a recursion that does not stop: too-deep when built
        self._dry_work += 1
        if self._dry_work > self.max_uses:
            return 0, self.max_uses + 1  # more distinct uses than the bound allows
        self._dry[key] = (0, 1)
        bnode, _ = self.spec.blocks[bname]
        leaves, uses = self._dry_list(bnode.get("layers"), scope, depth)
        self._dry[key] = out = (leaves, uses + 1)
        return out

    def _dry_list(self, seq: Node, scope, depth: int) -> tuple:
        leaves = uses = 0
        for e in self._entries(seq):
            uses += 1  # the entry itself, kept or not (as _use counts it)
            try:
                n, u = self._dry_entry(e, scope, depth)
            except (SpecError, ExprError, RecursionError):
                continue  # needs shapes (or is an error the build will report)
            leaves += n
            uses += u
            if leaves > self.limits.max_layers or uses > self.max_uses:
                break
        return leaves, uses

    def _dry_entry(self, e: _Entry, scope, depth: int) -> tuple:
        if e.failed is not None:
            return 0, 0
        if e.type_name is not None and e.type_name in scope:
            e = self._substitute(e, scope)
            if e is None:
                return 0, 0
        if e.share_node is not None:
            return 0, 0
        if e.when_node is not None and not self._number(e.when_node, scope, "when"):
            return 0, 0
        if e.repeat_node is None:
            return self._dry_one(e, scope, depth)
        n, _, var, _ = self._repeat(e, scope)
        if not var:
            leaves, uses = self._dry_one(e, scope, depth)
            return n * leaves, n * uses
        leaves = uses = 0
        for j in range(min(n, 1000)):
            a, b = self._dry_one(e, ChainMap({var: j}, scope), depth)
            leaves, uses = leaves + a, uses + b
        return leaves, uses

    def _dry_one(self, e: _Entry, scope, depth: int) -> tuple:
        if e.type_name in self.spec.blocks:
            inner = self._block_scope(e.type_name, e, ChainMap({}, scope), tolerant=True)
            return self._dry_count(e.type_name, inner, depth + 1)
        if REGISTRY.normalize(e.type_name) == "sequential":
            for k, v in e.args:
                if k.value == "layers" and isinstance(v, Sequence):
                    leaves, uses = self._dry_list(v, e.scope_for(k, scope), depth)
                    return leaves, uses + 1
            return 0, 0
        return 1, 0

    def build_sequential(self, e, src, full, names, parent, depth, trainable) -> _Value:
        layers = None
        for k, v in e.args:
            if k.value == "layers":
                layers = v
                names = e.scope_for(k, names)
            else:
                raise SpecError(
                    "unknown-argument",
                    f"sequential takes `layers` (and the meta keys), not '{k.value}'",
                    node=k,
                    hint=did_you_mean(str(k.value), ("layers",) + META_KEYS),
                )
        if layers is None:
            raise SpecError("bad-entry", "sequential needs `layers:`", node=e.node)
        if len(src) != 1:
            raise SpecError(
                "bad-from", f"sequential takes one input, got {len(src)}", node=e.from_node
            )
        self._use(e)
        gi = self._open_group(full, "sequential", "sequential", parent, depth, e.node)
        src = self.net.groups[gi].inputs = _enter(src)
        self.expanding.append(e.node)
        try:
            out = self.build_list(layers, src[0], full, names, gi, depth + 1, trainable)
        finally:
            self.expanding.pop()
        self._close_group(gi, out)
        return out

    def build_leaf(
        self, lt: LayerType, e: _Entry, src, full, names, parent, depth, trainable
    ) -> _Value:
        if not lt.takes_input:
            if e.from_node is not None:
                raise SpecError(
                    "bad-from",
                    f"{lt.name} takes no input: it is a tensor of its own",
                    node=e.from_node,
                    hint="remove `from`",
                )
            src = []
        elif len(src) > 1 and not lt.merge:
            raise SpecError(
                "bad-from",
                f"{lt.name} takes one input, but `from` names {len(src)}"
                if e.from_node is not None
                else f"{lt.name} takes one input, but the module holding it gives it {len(src)}",
                node=e.from_node or e.node,
                hint="merge them first with add, mul or concat",
            )
        if lt.composite:
            a, arg_nodes = self._leaf_args(lt, e, names, src)
            return self.build_composite(lt, e, a, arg_nodes, src, full, parent, depth, trainable)
        a, a_key, arg_nodes = self._literal_args(lt, e, names, src)
        return self._leaf(
            lt,
            a,
            arg_nodes,
            src,
            full,
            e.node,
            e.type_node,
            parent,
            depth,
            trainable,
            e.tie_node and e,
            a_key=a_key,
        )

    def _literal_args(self, lt: LayerType, e: _Entry, names, src) -> tuple:
        """_leaf_args's arguments and nodes, with the arguments' marshalled key (None:
        _leaf makes it). An entry whose arguments are literals and bare names (see
        _literal) has the same arguments wherever the names have the same values, so
        they are evaluated once per type, literals, values of the names (and number of
        inputs, which the input roles read): a repeat's copies, a block's uses and a
        flat list's equal entries read them from the table."""
        if (
            e.literal is None
            or e.extra is not None
            or e.outer is not None  # arguments evaluated in another scope
            or getattr(src, "roles", None) is not None
        ):
            a, arg_nodes = self._leaf_args(lt, e, names, src)
            return a, None, arg_nodes
        key = _literal_key(lt, e.literal, names, src)
        if key is None:  # a value marshal cannot write (a layer value)
            a, arg_nodes = self._leaf_args(lt, e, names, src)
            return a, None, arg_nodes
        hit = self._literals.get(key)
        if hit is None:
            a, arg_nodes = self._leaf_args(lt, e, names, src)
            try:
                hit = (a, _marshal(tuple(a.items())))
            except ValueError:  # a value marshal cannot write: evaluated each time
                return a, None, arg_nodes
            if len(self._literals) > MAX_SHARED:  # all different: keep the table small
                self._literals.clear()
            self._literals[key] = hit
        return hit[0], hit[1], e.arg_nodes or _arg_nodes(e)

    def _plain_leaf(self, lst: _List, e: _Entry, prefix, names, parent, depth, trainable):
        """build_entry's work for the most common entry, made in fewer steps: a layer
        type with arguments evaluated before (literals and bare names, an earlier
        entry's table hit, see _literal_args) and no key but its type (no name, from,
        when, repeat, ...), the next of a flat list. The same calls, checks and errors
        in the same order as the general way; False (nothing done) for anything else."""
        lt = REGISTRY.get(e.type_name)
        if lt is None or lt.composite or e.type_name in self.spec.blocks:
            return False
        src = [lst.prev] if lt.takes_input else []
        key = _literal_key(lt, e.literal, names, src)
        hit = None if key is None else self._literals.get(key)
        if hit is None:
            return False
        self._use(e)
        name = str(lst.count)
        lst.claim(name, e)
        full = f"{prefix}.{name}" if prefix else name
        arg_nodes = e.arg_nodes or _arg_nodes(e)
        value = self._leaf(
            lt,
            hit[0],
            arg_nodes,
            src,
            full,
            e.node,
            e.type_node,
            parent,
            depth,
            trainable,
            a_key=hit[1],
        )
        lst.keep(name, value, e)
        return True

    def _leaf_args(self, lt: LayerType, e: _Entry, names, src) -> tuple:
        """An entry's arguments for ``lt``, evaluated (a module-valued one, kind "layer",
        as a LayerValue), and the nodes they were written at; the `from` roles (a mapping
        form, or positional) as ``_roles`` for the types that name their inputs."""
        a = {}
        unknown = []  # each its own error, all of them in one run (after the loop)
        for k, v in e.args:
            arg = lt.arg_map.get(k.value)
            if arg is None:
                unknown.append(k)
                continue
            scope = names if e.outer is None else e.scope_for(k, names)
            if arg.kind == "layer" and isinstance(v, Scalar) and v.value is None:
                a[k.value] = None  # YAML null: PyTorch's None, as `none`
                continue
            if arg.kind == "layer":
                value = self._arg_value(v, scope, f"{lt.name}'s {k.value}")
                if isinstance(value, str) and self._names_layer(value.strip()):
                    text = value.strip()
                    value = LayerValue(None if text == "none" else text, v, [], scope, v)
                if not isinstance(value, LayerValue):
                    raise SpecError(
                        "bad-value",
                        f"{k.value} takes a layer (e.g. "
                        f"`{k.value}: layer_norm`, or `{k.value}: none`), not "
                        f"{value!r}",
                        node=v,
                    )
                a[k.value] = None if value.type_name is None else value
            else:
                a[k.value] = convert(arg, v, scope)
        if unknown:
            for k in unknown[:-1]:
                self._record(_unknown_argument(lt, k))
            raise _unknown_argument(lt, unknown[-1])
        # every pair of e.args names an argument (an unknown one was refused above)
        arg_nodes = e.arg_nodes or _arg_nodes(e)
        for k, v in (e.extra or {}).items():  # what the module that holds it passes on
            # (a private key, `_nested`, is the holding type's own note to the member)
            if k not in lt.arg_map and not k.startswith("_"):
                raise SpecError(
                    "bad-value",
                    f"{lt.name} takes no '{k}', which the module "
                    "holding it passes on (its forward's argument)",
                    node=e.type_node,
                )
            a[k] = v
        roles = getattr(src, "roles", None)
        if roles is not None and not lt.input_roles:
            raise SpecError(
                "bad-from",
                f"{lt.name} takes its inputs in order: write `from` "
                "as a list of names, not a mapping",
                node=e.from_node or e.node,
                hint="`from: [a, b]`",
            )
        if lt.input_roles and roles is not None:
            known = [r.rstrip("?") for r in lt.input_roles]
            for r in roles:
                if r not in known:
                    raise SpecError(
                        "bad-from",
                        f"{lt.name} has no input '{r}'",
                        node=e.from_node or e.node,
                        hint=did_you_mean(r, known) or "its inputs: " + ", ".join(known),
                    )
            need = [r for r in lt.input_roles if not r.endswith("?")]
            if need and need[0] not in roles:
                raise SpecError(
                    "bad-from",
                    f"{lt.name} needs its input '{need[0]}'",
                    node=e.from_node or e.node,
                    hint=f"add `{need[0]}: NAME` to `from`",
                )
            order = sorted(range(len(roles)), key=lambda i: known.index(roles[i]))
            src[:] = [src[i] for i in order]
            roles = tuple(roles[i] for i in order)
        if lt.input_roles:
            if roles is None:
                positional = [r for r in lt.input_roles if not r.endswith("?")]
                if len(src) > len(positional):
                    raise SpecError(
                        "bad-from",
                        f"{lt.name} takes at most {len(positional)} "
                        f"inputs in order ({', '.join(positional)}), but `from` "
                        f"names {len(src)}",
                        node=e.from_node or e.node,
                        hint="name the others by keyword in a mapping: `from: "
                        "{" + ", ".join(r.rstrip("?") + ": ..." for r in lt.input_roles[:4]) + "}`",
                    )
                roles = tuple(positional[: len(src)])
            a["_roles"] = tuple(roles)
        return a, arg_nodes

    def _leaf(
        self,
        lt: LayerType,
        a: dict,
        arg_nodes: ArgNodes,
        src,
        full,
        node,
        type_node,
        parent,
        depth,
        trainable,
        tie_entry=None,
        located=None,
        a_key: bytes | None = None,
    ) -> _Value:
        """Resolve one leaf row: its type's variant for these inputs, defaults, shape,
        outputs, tensors and MACs; a LayerError is located at the argument it names (or
        ``located``: the node every error of a composite's member points at)."""
        if len(self.net.layers) >= self.limits.max_layers:
            # inside blocks, point at the outermost block use: that is what to change
            where = self.expanding[0] if self.expanding else node
            raise SpecError(
                "too-many-layers",
                f"the network exceeds {self.limits.max_layers:,} layers",
                node=where,
                hint="raise the bound with --max-layers if you mean it",
            )
        if len(src) == 1:  # most layers: no comprehensions
            v = src[0]
            shapes, inputs = [v.shape], [v.ref]
        else:
            shapes, inputs = [v.shape for v in src], [v.ref for v in src]
        if None in shapes:  # an input an earlier error left unknown
            raise _Cascade()
        if lt.index_input or self.int_refs:  # else no input can be of the wrong kind
            self._index_input(lt, src, arg_nodes.get("from") or node)
            self._float_input(lt, src, arg_nodes.get("from") or node)
            if lt.index_input and self.int_ranges:
                self._index_range(lt, a, src, arg_nodes, node, full)
        shared = self._shared
        if len(shared) > MAX_SHARED:  # records all different: keep the table small
            shared.clear()
        try:  # the same type, arguments and inputs as an earlier row: its results
            # (marshal's bytes tell apart what == does not: 1, 1.0, True; 0.0, -0.0)
            memo = ("leaf", lt, a_key or _marshal(tuple(a.items())), *shapes)
        except ValueError:  # a value marshal cannot write (a layer value)
            memo = None
        hit = shared.get(memo) if memo is not None else None
        if hit is not None:
            concrete, a, out, named, tensors, macs, counts, shapes, integer = hit
        else:
            concrete, a, out, named, tensors, macs, shapes = self._resolve(
                lt, a, arg_nodes, shapes, node, type_node, located
            )
            counts = tensor_counts(tensors)
            integer = concrete.integer(a)
            if named is not None:
                named = tuple((str(n), tuple(s)) for n, s in named)
            if memo is not None:
                record = (concrete, a, out, named, tensors, macs, counts, shapes, integer)
                shared[memo] = record
        # positional: one call per layer (name, type, args, inputs, input_shapes,
        # output, tensors, macs, trainable, node, arg_nodes, group, depth, counts)
        layer = Layer(
            full,
            concrete,
            a,
            inputs,
            shapes,
            out,
            tensors,
            macs,
            trainable,
            node,
            arg_nodes,
            parent,
            depth,
            counts,
        )
        layer.srcs = src
        if self.torch_names:
            layer.key_name = self._torch_path(full)
        if tie_entry is not None:
            layer.ties = self._tie(tie_entry, layer, tensors)
            layer.tensors = [t for t in tensors if t.key not in {k for k, _, _ in layer.ties}]
            layer.params = sum(t.numel for t in layer.tensors if not t.buffer)
            layer.buffers = sum(t.numel for t in layer.tensors if t.buffer)
        layer.named_outputs = named
        if integer:
            self.int_refs.add(full)
            known = concrete.int_range(a)
            if known is not None:
                self.int_ranges[full] = known
        elif (
            self.int_refs
            and concrete.keeps_integers
            and not tensors
            and inputs
            and all(r in self.int_refs for r in inputs)
        ):  # an arange unsqueezed, sliced, concatenated: still int64 (torch.arange(t)[None])
            for ref, _ in layer.produced():
                self.int_refs.add(ref)
            known = [self.int_ranges.get(r) for r in inputs]
            if (
                None not in known
                and named is None
                and concrete.family in MOVE_FAMILIES  # a pad adds its value: no range
                and (len(inputs) > 1 or prod(out) >= prod(shapes[0]))
            ):  # every value kept (a reshape, a permute, a concat; not a slice that drops)
                self.int_ranges[full] = (min(k[0] for k in known), max(k[1] for k in known))
        self.net.by_name[full] = ("layer", len(self.net.layers))
        self.net.layers.append(layer)
        return _Value(full, layer.output)

    def _resolve(self, lt, a, arg_nodes, shapes, node, type_node, located) -> tuple:
        """A leaf's concrete type, completed arguments, output, named outputs, tensors,
        MACs and input shapes, checked against the limits; equal records are one object
        (100,000 layers repeat a few dozen)."""
        try:
            concrete = lt.pick(shapes)
            for arg in concrete.required_args:
                if arg.name not in a:
                    raise SpecError(
                        "missing-argument",
                        f"{concrete.name} needs '{arg.name}'",
                        node=type_node,
                        hint=f"add `{arg.name}: ...`" + (f" ({arg.doc})" if arg.doc else ""),
                    )
            a = {**concrete.defaults, **a}
            out = concrete.infer(a, shapes)
            named = concrete.outputs(a, shapes, out)
            tensors = concrete.tensors(a, shapes, out)
            macs = concrete.macs(a, shapes, out)
        except LayerError as exc:
            if located is not None:
                raise SpecError(exc.code, exc.message, node=located, hint=exc.hint) from None
            where = arg_nodes.get(exc.arg) if exc.arg else None
            if where is None and exc.arg is not None and exc.arg in a and exc.arg != "from":
                where = type_node  # a default value is at fault: point at the type
            raise SpecError(exc.code, exc.message, node=where or node, hint=exc.hint) from None
        for t in tensors:
            if t.numel > self.limits.max_elements:
                raise SpecError(
                    "too-large",
                    f"the {t.key} tensor {list(t.shape)} holds "
                    f"{t.numel:,} elements, beyond the bound of "
                    f"{self.limits.max_elements:,}",
                    node=located or node,
                )
        for o in [out] + [s for _, s in named or ()]:
            if prod(o) > self.limits.max_elements:
                raise SpecError(
                    "too-large",
                    f"the output {list(o)} holds {prod(o):,} "
                    f"elements, beyond the bound of "
                    f"{self.limits.max_elements:,}",
                    node=located or node,
                )
        shared = self._shared
        try:
            a = shared.setdefault((concrete, _marshal(tuple(a.items()))), a)
        except ValueError:  # a value marshal cannot write (a layer value): its own
            pass
        out = tuple(out)
        out = shared.setdefault(("out", out), out)
        tensors = shared.setdefault(("tensors", *tensors), tensors)
        shapes = shared.setdefault(("shapes", *shapes), shapes)
        return concrete, a, out, named, tensors, macs, shapes

    def build_composite(
        self,
        lt: LayerType,
        e: _Entry,
        a: dict,
        arg_nodes: ArgNodes,
        src,
        full,
        parent,
        depth,
        trainable,
    ) -> _Value:
        """A PyTorch module with submodules (SPEC.md section 12: multihead_attention and
        its out_proj, the transformer layers and stacks): its own arguments are checked
        and completed by its ``infer``, then each member (``members``) is built as a row
        named as PyTorch names it, inside a group named as the entry. Errors of a member
        point at the entry's argument they name, else at the entry."""
        shapes = [v.shape for v in src]
        if None in shapes:
            raise _Cascade()
        try:
            for arg in lt.required_args:
                if arg.name not in a:
                    raise SpecError(
                        "missing-argument",
                        f"{lt.name} needs '{arg.name}'",
                        node=e.type_node,
                        hint=f"add `{arg.name}: ...`" + (f" ({arg.doc})" if arg.doc else ""),
                    )
            a = {**lt.defaults, **a}
            lt.infer(a, shapes)
            members = lt.members(a, shapes)
        except LayerError as exc:
            where = arg_nodes.get(exc.arg) if exc.arg else None
            if where is None and exc.arg is not None and exc.arg in a and exc.arg != "from":
                where = e.type_node
            raise SpecError(exc.code, exc.message, node=where or e.node, hint=exc.hint) from None
        if e.tie_node is not None:
            raise SpecError(
                "bad-tie",
                f"`tie` ties a layer's own tensors; {lt.name} is a module of several rows",
                node=e.tie_node,
            )
        gi = self._open_group(full, "module", lt.name, parent, depth, e.node)
        src = self.net.groups[gi].inputs = _enter(src)
        made: dict = {}
        self.expanding.append(e.node)
        try:
            for m in members:
                ins = []
                for ref in m.inputs:
                    if isinstance(ref, int):
                        ins.append(src[ref])
                    else:
                        ins.append(made[ref])
                name = f"{full}.{m.name}" if m.name else full
                value = self._member_row(m, ins, name, e, arg_nodes, gi, depth + 1, trainable)
                made[m.name] = value
                layer = self.net.layers[-1] if self.net.layers else None
                if layer is not None and layer.ref == value.ref and layer.named_outputs:
                    for (oname, _), (r, s) in zip(layer.named_outputs[1:], layer.produced()[1:]):
                        made[f"{m.name}.{oname}"] = _Value(r, s)
                elif m.name:
                    hit = self.net.by_name.get(name)
                    g = self.net.groups[hit[1]] if hit and hit[0] == "group" else None
                    for oname, v in (g.named_outputs or ()) if g is not None else ():
                        made[f"{m.name}.{oname}"] = v
        finally:
            self.expanding.pop()
        results = [(n, made[r]) for n, r in lt.results(a)]
        out = results[0][1]
        self._close_group(gi, out)
        self.net.groups[gi].named_outputs = tuple(results)
        return out

    def _member_row(self, m, ins, name, e: _Entry, arg_nodes, gi, depth, trainable):
        """One member of a composite: a leaf of a registry type with evaluated
        arguments, a nested composite, or a module-valued argument (a LayerValue, built
        as the entry it holds)."""
        if isinstance(m.type, LayerValue):
            sub = _entry_of(m.type)
            sub.extra = {k: v for k, v in m.args.items() if k != "_roles"} or None
            roles = m.args.get("_roles")
            if roles is not None and len(roles) > 1:
                ins = _Keyed(ins)
                ins.roles = tuple(roles)
            return self.build_one(sub, ins, name, m.type.scope, gi, depth, trainable)
        lt = REGISTRY.get(m.type) if isinstance(m.type, str) else m.type
        a = dict(m.args)
        if lt.input_roles and "_roles" not in a:
            a["_roles"] = tuple(r for r in lt.input_roles if not r.endswith("?"))[: len(ins)]
        located = arg_nodes.get(m.blame) if m.blame else None
        if lt.composite:
            fake = _Entry()
            for slot in _Entry.__slots__:
                setattr(fake, slot, getattr(e, slot))
            fake.tie_node = None
            return self.build_composite(lt, fake, a, arg_nodes, ins, name, gi, depth, trainable)
        return self._leaf(
            lt,
            a,
            arg_nodes,
            ins,
            name,
            e.node,
            e.type_node,
            gi,
            depth,
            trainable,
            located=located or e.node,
        )


def build(spec: Spec, limits: Limits | None = None) -> Network:
    """Resolve every layer of ``spec``: names, inputs, shapes, tensors, MACs. A refusal
    carries ``trail``: (name, type, output, line) of every layer built, the shapes that
    led to it."""
    b = Builder(spec, limits or Limits())
    try:
        return _build(spec, b)
    except SpecError as exc:
        first = exc.errors[0] if isinstance(exc, SpecErrors) and exc.errors else exc
        built = getattr(first, "built", None)  # the builder went on past a recorded one
        layers = b.net.layers if built is None else b.net.layers[:built]
        exc.trail = tuple(
            (x.name, x.type.name, x.output, getattr(x.node, "line", 0)) for x in layers
        )
        raise


def _build(spec: Spec, b) -> Network:
    try:
        with gc_paused():
            refs = spec.input_refs()
            top = b.build_list(
                spec.layers, _Value(next(iter(refs)), spec.input), "", spec.vars, None, 0, True
            )
    except RecursionError:
        exc = SpecError(
            "too-deep",
            "blocks and groups nest too deeply",
            node=b.expanding[0] if b.expanding else spec.layers,
            hint="flatten the structure",
        )
        raise (SpecErrors(b.errors + [exc]) if b.errors else exc) from None
    except SpecError as exc:  # a fatal one: with the independent errors found before it
        if b.errors and not isinstance(exc, SpecErrors):
            raise SpecErrors(b.errors + [exc]) from None
        raise
    except _Cascade:  # cannot happen without an error recorded first
        raise SpecErrors(b.errors) from None
    if b.errors:
        raise SpecErrors(b.errors)
    if b.torch_names:
        b.check_torch_names()
    net = b.net
    if spec.outputs:
        for name, node in spec.outputs:
            value = b._path_value(name)
            if value is None:
                raise SpecError(
                    "unknown-name",
                    f"outputs names '{name}', which is no layer",
                    node=node,
                    hint=did_you_mean(name, list(net.by_name)),
                )
            net.outputs[name] = value.shape
            net.out_refs[name] = value.ref
    else:
        net.outputs[top.ref] = top.shape
        net.out_refs[top.ref] = top.ref
    return net
