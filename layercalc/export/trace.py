"""Run an exported file against a stand-in for torch, to compare two exports of one net.

The exporter writes a network twice: flat (containers mirroring layercalc's groups,
every leaf built with its evaluated arguments: the trusted form) and with a class per
block. Both files are executed here with a fake ``torch`` that builds no tensor: every
module records its constructor call and its place in the tree, and forward records a
graph of calls (module calls by dotted path, torch functions, operators, methods).
Two files whose module leaves (path, class, arguments), tensors (path, shape) and
output graphs agree build the same model; the block classes are kept only then.

Nothing of torch is imported. The file executed is our own output (Python built from
literals and whitelisted spec expressions), with imports answered by the stand-ins.
"""

from __future__ import annotations

import builtins
import sys

from .torch import HELPER_CLASSES

# constructor keywords PyTorch accepts as an int or a tuple of that int repeated
_TUPLE_ARGS = frozenset(
    {"kernel_size", "stride", "padding", "dilation", "output_padding", "output_size"}
)
# modules whose call returns several tensors: the nesting of the result
_MULTI = {
    "LSTM": (0, (1, 2)),
    "GRU": (0, 1),
    "RNN": (0, 1),
    "LSTMCell": (0, 1),
    "MultiheadAttention": (0, 1),
}
# the classes the exporter defines in the file (torch.py HELPERS: LayerNorm2d, Conv1D,
# ...): leaves, recorded by their constructor call as torch.nn's own classes are
_HELPERS = frozenset(HELPER_CLASSES)


class TraceError(Exception):
    pass


class _Trace:
    def __init__(self):
        self.ids: dict = {}  # structural key -> small int (hash-consing)

    def intern(self, key) -> int:
        got = self.ids.get(key)
        if got is None:
            got = self.ids[key] = len(self.ids)
        return got


_T = _Trace()


def _canon(v):
    if isinstance(v, Sym):
        return ("sym", v.key)
    if isinstance(v, bool):
        return ("int", int(v))
    if isinstance(v, int):
        return ("int", v)
    if isinstance(v, float):
        return ("float", v)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_canon(x) for x in v))
    if isinstance(v, slice):
        return ("slice", _canon(v.start), _canon(v.stop), _canon(v.step))
    if isinstance(v, dict):
        return ("dict", tuple((k, _canon(x)) for k, x in v.items()))
    if v is None or isinstance(v, str):
        return ("lit", v)
    if isinstance(v, type):
        return ("class", v.__name__)
    if v is Ellipsis:
        return ("ellipsis",)
    raise TraceError(f"unexpected value {type(v).__name__}")


class Sym:
    """A traced tensor: ``key`` is the interned id of the computation making it."""

    __slots__ = ("_key", "_path")

    def __init__(self, key=None):
        self._key = key
        self._path = None

    @property
    def key(self):
        return self._key

    def _op(self, name, *args, **kw):
        return Sym(_T.intern(("op", name, _canon(args), _canon(kw))))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *a, **k: self._op(name, self, *a, **k)

    def __getitem__(self, i):
        return self._op("getitem", self, i)

    def __iter__(self):
        raise TraceError("a traced tensor is not iterable")

    def __bool__(self):
        raise TraceError("a traced tensor has no truth value")


def _binary(name, swap=False):
    def op(self, other):
        return self._op(name, other, self) if swap else self._op(name, self, other)

    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "mod"):
    setattr(Sym, f"__{_name}__", _binary(_name))
    setattr(Sym, f"__r{_name}__", _binary(_name, swap=True))
Sym.__neg__ = lambda self: self._op("neg", self)


class Tensor(Sym):
    """A parameter or buffer: named by the path it was first registered under."""

    __slots__ = ("shape", "init")

    def __init__(self, shape, init):
        super().__init__()
        self.shape = shape
        self.init = init

    @property
    def key(self):
        if self._path is None:
            raise TraceError("a tensor used before it belongs to the model")
        owner, name = self._path
        where = owner.path()
        return _T.intern(("tensor", f"{where}.{name}" if where else name))


class _Value(Sym):
    """What torch.zeros/arange/... return before they become parameters or buffers."""

    __slots__ = ("made",)

    def __init__(self, made):
        super().__init__(_T.intern(("value", _canon(made))))
        self.made = made


class Module:
    def __new__(cls, *args, **kw):
        self = object.__new__(cls)
        object.__setattr__(self, "_ctor", (cls.__name__, args, kw))
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_tensors", {})
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_name", None)
        object.__setattr__(self, "training", True)
        return self

    def __init__(self, *args, **kw):
        pass

    # tree ----------------------------------------------------------------------------
    def path(self) -> str:
        parts, m = [], self
        while m._parent is not None:
            parts.append(m._name)
            m = m._parent
        return ".".join(reversed(parts))

    def add_module(self, name, module):
        if not isinstance(name, str):
            raise TraceError("a module name that is no string")
        if module is not None and not isinstance(module, Module):
            raise TraceError("add_module of a non-module")
        self._children[name] = module
        if module is not None and module._parent is None:
            object.__setattr__(module, "_parent", self)
            object.__setattr__(module, "_name", name)

    def register_parameter(self, name, value):
        self._own(name, value)

    def register_buffer(self, name, value):
        if not isinstance(value, Tensor):
            made = value.made if isinstance(value, _Value) else None
            value = Tensor(made, "buffer")
        self._own(name, value)

    def _own(self, name, t):
        if not isinstance(t, Tensor):
            raise TraceError("a tensor attribute that is no Parameter")
        self._tensors[name] = t
        if t._path is None:
            t._path = (self, name)

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self.add_module(name, value)
        elif isinstance(value, Tensor):
            self._own(name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = object.__getattribute__(self, "_children")
        if name in d:
            return d[name]
        t = object.__getattribute__(self, "_tensors")
        if name in t:
            return t[name]
        if not name.startswith("_") and _is_leaf(self):
            # a leaf's own tensor (``weight``), read to tie it: made on first use
            made = Tensor(("own", name), "parameter")
            self._own(name, made)
            return made
        raise AttributeError(name)

    def __len__(self):
        return len(self._children)

    # calls ---------------------------------------------------------------------------
    def __call__(self, *args, **kw):
        if _is_leaf(self):
            key = _T.intern(("call", self.path(), _canon(args), _canon(kw)))
            shape = _MULTI.get(self._ctor[0])
            if shape is None:
                return Sym(key)
            return _nest(shape, key)
        return self.forward(*args, **kw)

    def forward(self, *args, **kw):
        raise TraceError(f"{type(self).__name__} has no forward")

    def eval(self):
        return self


class Sequential(Module):
    def __init__(self, *mods):
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self._children.values():
            x = m(x)
        return x

    def append(self, m):
        self.add_module(str(len(self._children)), m)
        return self

    def __iter__(self):
        return iter(list(self._children.values()))


class ModuleList(Module):
    def __init__(self, mods=()):
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def append(self, m):
        self.add_module(str(len(self._children)), m)
        return self

    def __iter__(self):
        return iter(list(self._children.values()))

    def __getitem__(self, i):
        return list(self._children.values())[i]


def _nest(shape, key):
    if isinstance(shape, tuple):
        return tuple(_nest(s, key) for s in shape)
    return Sym(_T.intern(("out", key, shape)))


_LEAF_CLASSES: dict = {}


def _is_leaf(m) -> bool:
    cls = type(m)
    got = _LEAF_CACHE.get(cls)
    if got is None:
        got = _LEAF_CACHE[cls] = _leaf_class(cls)
    return got


_LEAF_CACHE: dict = {}


def _leaf_class(cls) -> bool:
    leaves = _LEAF_CLASSES.values()
    return any(c.__name__ in _HELPERS or c in leaves for c in cls.__mro__[:-2])


def _parameter(value=None, requires_grad=True):
    made = value.made if isinstance(value, _Value) else None
    return Tensor(made, "parameter")


class _Transformer:
    @staticmethod
    def generate_square_subsequent_mask(n, *a, **k):
        return _Value(("causal_mask", n))


class _NN:
    Module = Module
    Sequential = Sequential
    ModuleList = ModuleList
    Parameter = staticmethod(_parameter)
    Transformer = _Transformer

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = _LEAF_CLASSES.get(name)
        if cls is None:
            cls = _LEAF_CLASSES[name] = type(name, (Module,), {})
        return cls


class _Functions:
    def __init__(self, prefix):
        self.prefix = prefix

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        prefix = self.prefix

        def call(*args, **kw):
            if name in ("zeros", "ones", "empty", "arange", "tensor"):
                return _Value((name, _canon(args), _canon(kw)))
            key = _T.intern((prefix, name, _canon(args), _canon(kw)))
            if name == "chunk":
                return tuple(Sym(_T.intern(("piece", key, i))) for i in range(args[1]))
            if name == "split":
                size = args[1]
                n = len(size) if isinstance(size, (list, tuple)) else _unpacked(sys._getframe(1))
                return tuple(Sym(_T.intern(("piece", key, i))) for i in range(n))
            return Sym(key)

        return call


def _unpacked(frame) -> int:
    """How many names the statement calling split by size unpacks its pieces into
    (``q, k, v = torch.split(x, 768, dim=2)``): the number of pieces is the input's
    size, which no traced tensor knows."""
    import dis

    for ins in dis.get_instructions(frame.f_code):
        if ins.offset > frame.f_lasti:
            if ins.opname == "UNPACK_SEQUENCE":
                return ins.arg
            break
    raise TraceError("split by size: the number of pieces is not known")


class _Torch(_Functions):
    float32 = "float32"

    def __init__(self):
        super().__init__("torch")
        self.nn = _NN()
        self.nn.functional = _Functions("F")


def _import(torch):
    real = builtins.__import__

    def fake(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "torch":
            return torch
        if name == "torch.nn":
            return torch if not fromlist else torch.nn
        if name in ("torch.nn.functional",):
            return torch if not fromlist else torch.nn.functional
        raise TraceError(f"the file imports {name}")
        return real(name, globals, locals, fromlist, level)

    return fake


def run(source: str, inputs: int):
    """Execute ``source`` with the stand-ins, build() and call the model on ``inputs``
    traced tensors. Returns (leaves, tensors, outputs): {path: constructor}, {path:
    (kind, shape)}, and the interned ids of forward's result."""
    torch = _Torch()
    namespace = {
        "__name__": "layercalc_export_trace",
        "__builtins__": {**vars(builtins), "__import__": _import(torch)},
    }
    _LEAF_CLASSES.clear()
    _LEAF_CACHE.clear()
    try:
        exec(compile(source, "<export>", "exec"), namespace)  # noqa: S102 - our own output
        model = namespace["build"]()
        xs = [Sym(_T.intern(("input", i))) for i in range(inputs)]
        out = model(*xs)
    except TraceError:
        raise
    except Exception as exc:  # the file fails under the stand-ins: not kept
        raise TraceError(f"{type(exc).__name__}: {exc}") from exc
    leaves, tensors = {}, {}
    seen = set()

    def walk(m, prefix):
        if id(m) in seen:
            return
        seen.add(id(m))
        if _is_leaf(m):
            leaves[prefix] = _ctor(m)
        for name, t in m._tensors.items():
            owner, attr = t._path
            key = f"{prefix}.{name}" if prefix else name
            tensors[key] = (t.init, _canon(t.shape), owner is m and attr == name)
        for name, c in m._children.items():
            if c is not None:
                walk(c, f"{prefix}.{name}" if prefix else name)

    walk(model, "")
    outs = out if isinstance(out, tuple) else (out,)
    return leaves, tensors, tuple(_canon(o) for o in outs)


def _ctor(m):
    name, args, kw = m._ctor
    kw = {k: _norm(k, v) for k, v in kw.items()}
    kw = {k: v for k, v in kw.items() if _DEFAULTS.get(name, {}).get(k, _MISSING) != v}
    return (name, tuple(_norm("", a) for a in args), tuple(sorted(kw.items())))


_MISSING = object()


def _norm(k, v):
    if isinstance(v, bool):
        return ("int", int(v))
    if isinstance(v, (list, tuple)) and k in _TUPLE_ARGS | {"normalized_shape"}:
        if v and all(x == v[0] and type(x) is type(v[0]) for x in v):
            if k != "normalized_shape" or len(v) == 1:
                return _canon(v[0])
    return _canon(v)


_DEFAULTS: dict = {}


def set_defaults(table: dict):
    """{torch class name: {keyword: PyTorch's default}}: a keyword at its default is the
    same constructor whether given or not."""
    _DEFAULTS.clear()
    for cls, args in table.items():
        _DEFAULTS[cls] = {k: _norm(k, v) for k, v in args.items()}


def same(a: str, b: str, inputs: int) -> bool:
    """Whether the files ``a`` and ``b`` build the same model (see the module doc)."""
    _T.ids.clear()
    try:
        return run(a, inputs) == run(b, inputs)
    except (TraceError, RecursionError):
        return False
