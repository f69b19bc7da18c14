"""YAML text -> located nodes, safely: no code, no alias expansion, bounded depth.

Composes from the libyaml event stream (fast) with our own loop (no recursion, so
deep nesting cannot crash the process) or, for the plain block and one-line flow YAML
that big specs are written in, straight from the lines (four times faster; anything
else goes to the event loop: see ``_compose_lines``). Keeps 1-based line:col on every
node, rejects duplicate keys, and lets each anchor be used by at most one alias
(``max_alias_uses``, --max-alias-uses, allows more, each alias counting the values it
stands for against the value budget), so a "billion laughs" file is refused at its
second alias, or at the budget, instead of being expanded.
Aliases count toward the depth limit where they are inserted, and an alias to a
collection that contains it (a cycle) is refused. Integer literals beyond 2**63 and
non-finite floats (``.inf``, ``.nan``, ``1.0e999``) stay text, so a number context
reports them as a located error instead of computing with them.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re

import yaml

from .errors import SpecError

MAX_DEPTH = 100
INDEX_FROM = 8  # keys of a mapping searched in order; more get a dict (Mapping)
MAX_NODES = 1_000_000  # values in one file (spec.Limits scales it with --max-layers)
_MAX_ABS = 2**63  # as layercalc.expr.MAX_ABS: larger integer literals stay text
_INF = float("inf")

try:  # libyaml is far faster; the pure-Python parser is a correct fallback
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_resolver = yaml.resolver.Resolver()
_RESOLVER_FIRST = frozenset(k for k in _resolver.yaml_implicit_resolvers if k is not None)
_constructor = yaml.constructor.SafeConstructor()
_STD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "!",
}


class Node:
    __slots__ = ("line", "col")

    def __init__(self, line: int, col: int):
        self.line = line
        self.col = col


class Scalar(Node):
    """A scalar; ``value`` is int, float, bool, None or str (YAML 1.1 core resolution)."""

    __slots__ = ("value", "plain")

    def __init__(self, value, line, col, plain=True):
        self.line = line  # not super().__init__: a spec may hold a million scalars
        self.col = col
        self.value = value
        self.plain = plain

    def __repr__(self):
        return f"Scalar({self.value!r} @{self.line}:{self.col})"


class Mapping(Node):
    """A mapping; ``items`` are its (key Scalar, value node) pairs in order. A mapping of
    at most INDEX_FROM keys (a layer's arguments, nearly all of them) is searched in
    order; a larger one keeps a dict as well: 100,000 layers' dicts held 10 MB."""

    __slots__ = ("items", "_index")

    def __init__(self, line, col):
        self.line = line
        self.col = col
        self.items: list[tuple[Scalar, Node]] = []
        self._index: dict | None = None

    def _pair(self, key):
        if self._index is not None:
            return self._index.get(key)
        for pair in self.items:
            if pair[0].value == key:
                return pair
        return None

    def _add(self, pair) -> None:
        self.items.append(pair)
        if self._index is not None:
            self._index[pair[0].value] = pair
        elif len(self.items) > INDEX_FROM:
            self._index = {p[0].value: p for p in self.items}

    def get(self, key, default=None):
        pair = self._pair(key)
        return pair[1] if pair else default

    def key_node(self, key):
        pair = self._pair(key)
        return pair[0] if pair else None

    def __contains__(self, key):
        return self._pair(key) is not None

    def keys(self):
        return [k.value for k, _ in self.items]

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return f"Mapping({self.keys()} @{self.line}:{self.col})"


class Sequence(Node):
    __slots__ = ("items",)

    def __init__(self, line, col):
        super().__init__(line, col)
        self.items: list[Node] = []

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return f"Sequence({len(self.items)} @{self.line}:{self.col})"


def plain_value(node: Node):
    """The node as plain Python data (for vars mappings, expect values, JSON)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [plain_value(n) for n in node.items]
    return {k.value: plain_value(v) for k, v in node.items}


# the byte-order marks of UTF-32 first: UTF-32-LE's starts with UTF-16-LE's
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def as_utf8(data: bytes) -> bytes:
    """``data`` as UTF-8 where it is UTF-16 or UTF-32 text with a byte-order mark (what
    cannot be decoded replaced), else as it is: the lines decode() reads, for showing a
    diagnostic's source line."""
    for bom, codec in _WIDE_BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, "replace").encode("utf-8")
    return data


def decode(data: bytes) -> str:
    """Bytes -> text, refusing binary and non-UTF-8 files with a located error."""
    if not data.strip():
        raise SpecError(
            "empty-spec", "the file is empty", hint="a spec needs at least `input:` and `layers:`"
        )
    for bom, codec in _WIDE_BOMS:  # UTF-16/32 with a byte-order mark: YAML allows them
        if data.startswith(bom):  # (PowerShell's `>` writes UTF-16)
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise SpecError(
                    "not-utf8",
                    f"the file starts as {codec.upper()} text but is not valid {codec.upper()} "
                    f"(at byte {exc.start + len(bom)})",
                    hint="save the spec as UTF-8",
                ) from None
            if "\x00" in text:
                break  # a NUL character: binary, reported below
            return decode(text.encode("utf-8"))
    nul = data.find(b"\x00", 0, 8192)
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        col = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise SpecError(
            "not-text",
            "this is a binary file, not a YAML spec (it holds a NUL byte)",
            line=line,
            column=col,
            hint="pass a .yaml file",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            "not-utf8",
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
            line=line,
            column=col,
            hint="save the spec as UTF-8",
        ) from None


_last_line = (-1, 0)  # the last 0-based line seen, and its 1-based int object


def _line(line0: int) -> int:
    """The 1-based line as an int object shared by the nodes of one line (past 256 each
    int is an object of its own: 400,000 scalars held 12 MB of line numbers)."""
    global _last_line
    last = _last_line  # one tuple, replaced whole: safe if two threads compose
    if last[0] != line0:
        last = _last_line = (line0, line0 + 1)
    return last[1]


def _scalar(ev) -> Scalar:
    m = ev.start_mark
    line, col = _line(m.line), m.column + 1
    tag = ev.tag
    if tag is not None and tag not in _STD_TAGS:
        raise SpecError(
            "yaml-tag",
            f"YAML tag {tag} is not allowed in a spec",
            line=line,
            column=col,
            hint="remove the tag; specs hold plain data",
        )
    if tag is None:
        if not ev.implicit[0]:
            return Scalar(ev.value, line, col, plain=False)
        key = ev.value  # plain scalars, by far the most, keyed by their text alone
    elif tag == "!":
        return Scalar(ev.value, line, col, plain=False)
    else:
        key = (tag, ev.value)
    value = _RESOLVED.get(key, _MISSING)
    if value is _MISSING:
        value = _resolved(key, tag, ev.value)
    return Scalar(value, line, col, plain=ev.style is None)


_RESOLVED: dict = {}
_MISSING = object()


def _resolved(key, tag, text: str):
    """The value of scalar ``text`` (``tag`` None: plain), remembered under ``key``: specs
    repeat the same few scalars thousands of times."""
    value = _resolve_value(tag, text)
    if len(_RESOLVED) < 20_000:
        _RESOLVED[key] = value
    return value


def _resolve_value(tag, text: str):
    """The Python value of a plain or standard-tagged scalar (YAML 1.1 core schema)."""
    value = text
    if tag is None:
        # fast paths, exactly as the resolver decides: no implicit resolver starts with
        # this character (names, words), or a decimal integer without a leading zero
        if value and value[0] not in _RESOLVER_FIRST:
            return value
        if (
            value.isdigit()
            and value.isascii()
            and len(value) < 19
            and (value[0] != "0" or value == "0")
        ):
            return int(value)
        tag = _resolver.resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:int":
        try:
            value = _constructor.construct_yaml_int(yaml.ScalarNode(tag, text))
        except ValueError:  # beyond Python's 4300-digit conversion limit
            value = text
        if isinstance(value, int) and abs(value) > _MAX_ABS:
            value = text  # kept as text: a number context then reports it too large
    elif tag == "tag:yaml.org,2002:float":
        value = _constructor.construct_yaml_float(yaml.ScalarNode(tag, text))
        if value != value or value in (_INF, -_INF):
            value = text  # .inf, .nan, 1e999: kept as text, never a number
    elif tag == "tag:yaml.org,2002:bool":
        value = _constructor.construct_yaml_bool(yaml.ScalarNode(tag, text))
    elif tag == "tag:yaml.org,2002:null":
        value = None
    return value


def _yaml_error(exc: Exception, text: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        # str(exc) spans two lines and names "<unicode string>"; keep the reason only
        problem = (
            f"unacceptable character #x{exc.character:04x}: {exc.reason}"
            if isinstance(exc.character, int)
            else str(exc.reason)
        )
    else:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if mark is not None:
        line, col = mark.line + 1, mark.column + 1
    elif getattr(exc, "position", None) is not None:
        pos = exc.position
        if _Loader is not yaml.SafeLoader:
            # libyaml reports a byte offset into the UTF-8 encoding, not a character index
            pos = len(text.encode("utf-8")[:pos].decode("utf-8", "ignore"))
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    else:
        line, col = 1, 1
    msg = f"YAML syntax error: {problem}"
    opened = getattr(exc, "context_mark", None) if context else None
    hint = None
    if opened is not None and (opened.line + 1, opened.column + 1) < (line, col):
        if mark is not None and not text[mark.index :].strip():
            # the end of the file: what is never closed is where to look, not past it
            line, col = opened.line + 1, opened.column + 1
            msg += f" ({context} that is never closed)"
            hint = "close the bracket or quote that starts here"
        else:
            msg += f" ({context} that starts at line {opened.line + 1}, column {opened.column + 1})"
    elif context:
        msg += f" ({context})"
    at = _char_at(text, line, col)
    if "\t" in problem or "'\\t'" in problem or (at == "\t" and "token" in problem):
        hint = "YAML indents with spaces; replace the tab characters"
    elif mark is not None and hint is None:
        hint = "check the indentation and the brackets on this line and the one above"
    return SpecError("yaml-syntax", " ".join(msg.split()), line=line, column=col, hint=hint)


def _nesting_limit(exc: Exception) -> bool:
    """libyaml >= 0.2.6 (PyYAML 6.0.4's wheels) stops at 1,000 nesting levels itself."""
    return "maximum nesting depth" in str(getattr(exc, "problem", "") or "")


def _too_deep(exc: Exception, text: str, max_depth: int) -> SpecError:
    """libyaml's own nesting limit, reported as layercalc's ``too-deep`` at the level
    where layercalc's limit is passed.

    libyaml's scanner looks ahead through a whole flow collection (it might be a
    mapping key) before the parser emits its first event, so its limit of 1,000 levels
    fires before :func:`compose` sees the 101st. Composing the text up to that point
    again (the scanner then stops at the end of the text) lets the events reach our own
    check; if they do not (a limit of 1,000 or more), libyaml's position is reported."""
    mark = exc.problem_mark
    line, col = mark.line + 1, mark.column + 1
    start = 0
    for _ in range(mark.line):
        start = text.find("\n", start) + 1
    cut = start + mark.column
    if 0 < cut < len(text):
        try:
            compose(text[:cut], max_depth)
        except SpecError as err:
            if err.code == "too-deep":
                return err
    return SpecError(
        "too-deep",
        f"YAML nesting deeper than {max_depth} levels",
        line=line,
        column=col,
        hint="flatten the structure (use blocks), or raise --max-yaml-depth",
    )


def _char_at(text: str, line: int, col: int) -> str:
    """The character at 1-based line:col of ``text`` ('' when out of range)."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    i = start + col - 1
    return text[i] if i < len(text) else ""


MAX_DIRECTIVES = 16


def _check_directives(text: str) -> None:
    """At most MAX_DIRECTIVES lines starting with ``%`` (``%YAML``/``%TAG`` directives;
    anywhere else such a line is no valid YAML): libyaml checks each new tag handle
    against every earlier one, so 60,000 of them took 11 s, and a spec needs none."""
    if text.count("\n%") + text.startswith("%") <= MAX_DIRECTIVES:
        return
    pos, count = (0, 1) if text.startswith("%") else (-1, 0)
    while count <= MAX_DIRECTIVES:
        pos = text.find("\n%", pos + 1)
        count += 1
    line = text.count("\n", 0, pos + 1) + 1
    raise SpecError(
        "too-large",
        f"more than {MAX_DIRECTIVES} YAML directives (lines starting with %)",
        line=line,
        column=1,
        hint="a spec needs no %TAG directive; remove them",
    )


def _over_budget(ev, max_nodes: int) -> SpecError:
    m = ev.start_mark
    return _too_many(m.line + 1, m.column + 1, max_nodes)


def _too_many(line: int, column: int, max_nodes: int) -> SpecError:
    """The refusal of the first value past the budget, at its 1-based line and column."""
    return SpecError(
        "too-large",
        f"the file holds more than {max_nodes:,} YAML values, far "
        "beyond what a spec within the layer limit needs",
        line=line,
        column=column,
        hint="use blocks and `repeat` instead of long lists, or raise "
        "--max-layers for a larger network",
    )


# -- the fast path ---------------------------------------------------------------------
#
# Big specs are written in a small part of YAML: block mappings and sequences with plain
# keys, and one-line flow collections of plain scalars. ``_compose_lines`` composes that
# part straight from the lines, about four times faster than the libyaml event loop
# (which spends most of its time making an event object per value). It is deliberately
# narrow: on anything it is not certain about (quotes, anchors, tags, block scalars,
# multi-line values, a trailing comma, a missing value, an error of any kind, a limit
# reached) it gives up on the whole document and the event loop composes it, so the
# event loop alone decides what is refused and where. One exception: past the value
# budget it refuses the file itself, at the value the event loop would name (composing
# a 13 MB file of a million values twice took seconds); where it cannot be sure of that
# value it gives up as before. tests/test_yamlnodes_fast.py compares both on every spec,
# on generated near-misses and on every budget through a document.


class _GiveUp(Exception):
    """The text leaves the fast path's subset: compose it from libyaml's events."""


# below this many characters libyaml is as fast: the lines rarely repeat, and a spec
# that gives up would pay for the lines read before it did
_LINES_FROM = 16_384
_MAX_LINE = 1000  # libyaml refuses a simple key beyond 1,024 characters
_KINDS_KEPT = 4096  # distinct lines remembered (memory stays small if all differ)
_MAX_FLOW_DEPTH = 16  # nesting within one line's flow collection (recursion is bounded)
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"
# a plain scalar's first character: none of YAML's indicators, and `-` only as a sign
_PLAIN_START = re.compile(r"[A-Za-z0-9_.~/$+(]|-[A-Za-z0-9_.]")
# a block key: a plain scalar without `:` followed by `:` and a space or the line's end
_BLOCK_KEY = re.compile(r"((?:[A-Za-z0-9_.~/$+(]|-[A-Za-z0-9_.])[^:]*):(?: +|$)")
_FLOW_TOKEN = re.compile(r" *(?:([\[\]{},]|:(?= ))|([^ ,\[\]{}:][^,\[\]{}:]*))")
# the common flow collections, of plain scalars only, each matched whole by one pattern
_FLOW_SCALAR = r"[^ ,\[\]{}:][^,\[\]{}:]*"
_FLAT_MAP = re.compile(
    rf"{{ *(?:{_FLOW_SCALAR}: +{_FLOW_SCALAR}(?:, *{_FLOW_SCALAR}: +{_FLOW_SCALAR})*)?}}"
)
_FLAT_SEQ = re.compile(rf"\[ *(?:{_FLOW_SCALAR}(?:, *{_FLOW_SCALAR})*)?\]")
_FLAT_PAIR = re.compile(rf"({_FLOW_SCALAR}): +({_FLOW_SCALAR})")
_FLAT_ITEM = re.compile(_FLOW_SCALAR)
# template kinds: (_SCALAR, value, col), (_MAP, col, ((key template, template), ...)),
# (_SEQ, col, (template, ...)), and the same of scalars alone, flat (the common case):
# (_SCALAR_MAP, col, ((key, key col, value, col), ...)), (_SCALAR_SEQ, col, ((value,
# col), ...))
_SCALAR, _MAP, _SEQ, _SCALAR_MAP, _SCALAR_SEQ = range(5)
# a flow list of plain scalars on a line past _MAX_LINE: (_LONG_SEQ, col, line text,
# index of its `[`); never built (the event loop composes such a line), only counted,
# so that a file past the value budget is refused without composing it twice
_LONG_SEQ = 5
_BLANK, _KEY, _ITEM, _ITEM_KEY = 0, 1, 2, 3  # line kinds


@functools.cache
def _plain_flag(loader) -> bool:
    """The ``plain`` flag :func:`_scalar` gives a plain scalar read by ``loader``: PyYAML
    reports a plain scalar's style as None, libyaml as ''."""
    reader = loader("a")
    try:
        while True:
            ev = reader.get_event()
            if isinstance(ev, yaml.events.ScalarEvent):
                return _scalar(ev).plain
    finally:
        getattr(reader, "dispose", lambda: None)()


def _plain(text: str, col: int) -> tuple:
    """The template of plain scalar ``text`` at 1-based ``col`` in block context."""
    if not _PLAIN_START.match(text) or ": " in text or text.endswith(":"):
        raise _GiveUp
    value = _RESOLVED.get(text, _MISSING)
    if value is _MISSING:
        value = _resolved(text, None, text)
    return (_SCALAR, value, col)


def _flow(s: str, i: int) -> tuple:
    """The template of the flow collection from ``s[i]`` to the line's end, its number
    of values and its depth. Keys are plain scalars, each followed by `: ` and a value;
    no trailing comma."""
    stack: list = []  # open collections: [kind, col, children, expecting, key, keys]
    count = depth = 0
    while True:
        m = _FLOW_TOKEN.match(s, i)
        if m is None:
            raise _GiveUp
        i = m.end()
        tok = m.group(1)
        top = stack[-1] if stack else None
        if tok is None or tok in "[{":  # a key or a value
            if top is not None:
                expecting = top[3]
                if top[0] == _MAP and expecting in ("open", "key"):
                    if tok is not None:
                        raise _GiveUp  # a collection as a key
                    key = _plain(m.group(2).rstrip(" "), m.start(2) + 1)
                    if key[1] in top[5]:
                        raise _GiveUp  # a duplicate key: the event loop reports it
                    top[5].add(key[1])
                    top[3], top[4] = ":", key
                    count += 1
                    continue
                if expecting != "value" and not (top[0] == _SEQ and expecting == "open"):
                    raise _GiveUp
            count += 1
            if tok is not None:
                stack.append([_MAP if tok == "{" else _SEQ, i, [], "open", None, set()])
                depth = max(depth, len(stack))
                if depth > _MAX_FLOW_DEPTH:
                    raise _GiveUp
                continue
            node = _plain(m.group(2).rstrip(" "), m.start(2) + 1)
        elif tok == ":":
            if top is None or top[3] != ":":
                raise _GiveUp
            top[3] = "value"
            continue
        elif tok == ",":
            if top is None or top[3] != "next":
                raise _GiveUp
            top[3] = "key" if top[0] == _MAP else "value"
            continue
        else:  # a closing bracket
            if top is None or tok != ("}" if top[0] == _MAP else "]"):
                raise _GiveUp
            if top[3] not in ("open", "next"):
                raise _GiveUp  # a trailing comma, or a key without its value
            stack.pop()
            node = _collection(top[0], top[1], top[2])
        # a finished value: into its collection, or the end of the line
        if not stack:
            if i != len(s):
                raise _GiveUp
            return node, count, depth
        top = stack[-1]
        top[2].append((top[4], node) if top[0] == _MAP else node)
        top[3] = "next"


def _collection(kind: int, col: int, children: list) -> tuple:
    """The template of a flow collection of ``children`` templates."""
    if kind == _MAP:
        if all(v[0] == _SCALAR for _, v in children):
            return (_SCALAR_MAP, col, tuple((k[1], k[2], v[1], v[2]) for k, v in children))
    elif all(v[0] == _SCALAR for v in children):
        return (_SCALAR_SEQ, col, tuple((v[1], v[2]) for v in children))
    return (kind, col, tuple(children))


def _flat(s: str, i: int):
    """:func:`_flow` for a collection of plain scalars, or None: one pattern instead of
    a token at a time, which was most of the cost of a line that does not repeat."""
    if s[i] == "{":
        if _FLAT_MAP.fullmatch(s, i) is None:
            return None
        pairs = []
        for m in _FLAT_PAIR.finditer(s, i + 1):
            key = _plain(m.group(1).rstrip(" "), m.start(1) + 1)
            value = _plain(m.group(2).rstrip(" "), m.start(2) + 1)
            pairs.append((key[1], key[2], value[1], value[2]))
        if len({p[0] for p in pairs}) != len(pairs):
            raise _GiveUp  # a duplicate key: the event loop reports it
        return (_SCALAR_MAP, i + 1, tuple(pairs)), 1 + 2 * len(pairs), 1
    if _FLAT_SEQ.fullmatch(s, i) is None:
        return None
    items = []
    for m in _FLAT_ITEM.finditer(s, i + 1):
        value = _plain(m.group().rstrip(" "), m.start() + 1)
        items.append((value[1], value[2]))
    return (_SCALAR_SEQ, i + 1, tuple(items)), 1 + len(items), 1


def _value(s: str, i: int) -> tuple:
    """The template of the value from ``s[i]`` to the line's end, its number of values
    and its depth in collections."""
    if s[i] in "[{":
        return _flat(s, i) or _flow(s, i)
    return _plain(s[i:], i + 1), 1, 0


def _long_line(s: str) -> tuple:
    """_line_kind of a line past _MAX_LINE: only `- [a, b, ...]` or `key: [a, b, ...]` of
    plain scalars (a hostile file of millions of values on one line), its value a
    _LONG_SEQ counted from its commas; anything else gives up."""
    if "#" in s:
        raise _GiveUp
    s = s.rstrip(" ")
    at = len(s) - len(s.lstrip(" "))
    if s[at : at + 2] == "- ":
        i = len(s) - len(s[at + 1 :].lstrip(" "))
        head: tuple = (_ITEM, at)
    else:
        key = _BLOCK_KEY.match(s, at)
        if key is None or key.group(1).endswith(" ") or len(key.group(1)) > _MAX_LINE:
            raise _GiveUp
        i = key.end()
        head = (_KEY, at, at + 1, _plain(key.group(1), at + 1)[1])
    if i >= len(s) or s[i] != "[":
        raise _GiveUp
    # as many items as commas and one: exact for a flat list; _marks checks the items
    # up to the first one past the budget (what lies after it the event loop never
    # reads), and a line found to be anything else gives up there
    return head + ((_LONG_SEQ, i + 1, s, i), 2 + s.count(",", i), 1)


def _marks(tpl: tuple):
    """The 1-based columns of a one-line value's nodes in libyaml's event order (a
    collection before its items, a key before its value); gives up on nested ones."""
    kind = tpl[0]
    if kind == _SCALAR:
        yield tpl[2]
    elif kind == _SCALAR_SEQ:
        yield tpl[1]
        for _, col in tpl[2]:
            yield col
    elif kind == _SCALAR_MAP:
        yield tpl[1]
        for _, kc, _, vc in tpl[2]:
            yield kc
            yield vc
    else:
        raise _GiveUp


def _budget_error(line: int, before: int, max_nodes: int, heads: list, value) -> SpecError:
    """The event loop's refusal of the first value past ``max_nodes``, which lies on
    this line: ``before`` values came before the line, ``heads`` are the columns of the
    collections and key it opens ahead of ``value``'s nodes."""
    j = max_nodes + 1 - before  # the line's j-th node is the first too many
    if value is not None and value[0] == _LONG_SEQ and j > len(heads):
        k = j - len(heads) - 1  # 0: the list itself, at its `[`
        return _too_many(line, value[1] if k == 0 else _long_item(value, k), max_nodes)
    for col in itertools.chain(heads, () if value is None else _marks(value)):
        j -= 1
        if j == 0:
            return _too_many(line, col, max_nodes)
    raise _GiveUp  # not on this line after all: let the event loop say where


_FLOW_SPECIAL = re.compile(r"[\[\]{}:]")
# `[` or `,` not followed by a plain scalar's start
_BAD_START = re.compile(r"[\[,](?! *(?:[A-Za-z0-9_.~/$+(]|-[A-Za-z0-9_.]))")


def _long_item(tpl: tuple, k: int) -> int:
    """The 1-based column of item k (1-based) of a _LONG_SEQ, where the items up to it
    are plain scalars separated by commas (checked in a few passes of C, not per item);
    gives up where they are not, or where the list has fewer."""
    text, at = tpl[2], tpl[3]
    start = at + 1
    if k > 1:
        last = None
        for last in itertools.islice(re.finditer(",", text[at:]), k - 1):
            pass
        if last is None or text.count(",", at, at + last.end()) != k - 1:
            raise _GiveUp
        start = at + last.end()
    end = len(text)
    for stop in (text.find(",", start), text.find("]", start)):
        if stop >= 0:
            end = min(end, stop)
    if _FLOW_SPECIAL.search(text, at + 1, end) or _BAD_START.search(text, at, end):
        raise _GiveUp  # something other than plain scalars: the event loop's to say
    while start < end and text[start] == " ":
        start += 1
    if start >= end:
        raise _GiveUp
    return start + 1


def _line_kind(s: str) -> tuple:
    """What one line holds, as a tuple the composer reads (kind first)."""
    if len(s) > _MAX_LINE:
        return _long_line(s)
    hash_at = s.find("#")
    if hash_at >= 0:
        if hash_at and s[hash_at - 1] != " ":
            raise _GiveUp  # `#` inside a value
        s = s[:hash_at]
    s = s.rstrip(" ")
    if not s:
        return (_BLANK,)
    at = len(s) - len(s.lstrip(" "))
    if at == 0 and s.startswith(("---", "...")):
        raise _GiveUp  # a document marker
    kind = _KEY
    if s[at] == "-" and (len(s) == at + 1 or s[at + 1] == " "):
        i = len(s) - len(s[at + 1 :].lstrip(" "))
        if i == len(s):
            raise _GiveUp  # `-` alone: a nested block or an empty entry
        key = _BLOCK_KEY.match(s, i)
        if key is None:
            return (_ITEM, at) + _value(s, i)
        kind, start = _ITEM_KEY, i
    else:
        key = _BLOCK_KEY.match(s, at)
        if key is None:
            raise _GiveUp
        start = at
    text = key.group(1)
    if text.endswith(" "):
        raise _GiveUp
    key_tpl = _plain(text, start + 1)
    if key.end() == len(s):
        value = None, 0, 0  # its value is the nested block below
    else:
        value = _value(s, key.end())
    return (kind, at, start + 1, key_tpl[1]) + value


def _build(tpl: tuple, line: int, plain: bool):
    """A fresh node for template ``tpl`` on ``line`` (recursion bounded by
    _MAX_FLOW_DEPTH)."""
    kind = tpl[0]
    if kind == _LONG_SEQ:
        raise _GiveUp  # within the budget: the event loop composes the long line
    if kind == _SCALAR_MAP:
        node = Mapping(line, tpl[1])
        node.items = items = [
            (Scalar(k, line, kc, plain), Scalar(v, line, vc, plain)) for k, kc, v, vc in tpl[2]
        ]
    elif kind == _MAP:
        node = Mapping(line, tpl[1])
        node.items = items = [
            (Scalar(k[1], line, k[2], plain), _build(v, line, plain)) for k, v in tpl[2]
        ]
    elif kind == _SCALAR:
        return Scalar(tpl[1], line, tpl[2], plain)
    elif kind == _SCALAR_SEQ:
        node = Sequence(line, tpl[1])
        node.items = [Scalar(v, line, vc, plain) for v, vc in tpl[2]]
        return node
    else:
        node = Sequence(line, tpl[1])
        node.items = [_build(t, line, plain) for t in tpl[2]]
        return node
    if len(items) > INDEX_FROM:
        node._index = {p[0].value: p for p in items}
    return node


def _lines(text: str):
    """The lines of ``text``, split a chunk at a time: a list of a million lines takes
    60 MB."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start + 65536)
        if end < 0:
            end = size
        yield from text[start:end].split("\n")
        start = end + 1


def _compose_lines(text: str, max_depth: int, max_nodes: int, scalar_keys: tuple) -> Node:
    """Compose ``text`` if it lies within the fast path's subset, else raise _GiveUp."""
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            raise _GiveUp
        text = text.replace("\r\n", "\n")  # libyaml counts CRLF as one line break
    if not text.isascii() or text.encode("ascii").translate(None, _PRINTABLE):
        raise _GiveUp  # tabs, control characters, non-ASCII text (columns, line breaks)
    kinds: dict = {}  # line text -> what it holds: big specs repeat a few lines
    lines = enumerate(_lines(text), 1)
    for line, s in lines:  # the first line with content opens the root collection
        got = kinds[s] = _line_kind(s)
        if got[0] != _BLANK:
            break
    else:
        raise _GiveUp  # no document
    at = got[1]
    root = (Mapping if got[0] == _KEY else Sequence)(line, at + 1)
    stack: list = [root]  # open block collections
    indents: list = [at]  # the column (0-based) of each one's keys or dashes
    pending = None  # a key whose value is the block on the following lines
    nodes = 1
    plain = _plain_flag(_Loader)
    for line, s in itertools.chain(((line, s),), lines):
        got = kinds.get(s)
        if got is None:
            if len(kinds) >= _KINDS_KEPT:
                kinds.clear()
            got = kinds[s] = _line_kind(s)
        kind = got[0]
        if kind == _BLANK:
            continue
        at = got[1]
        before = nodes  # values before this line (for the budget's refusal)
        opened = ()  # the column of the block collection this line opens, if any
        if pending is None:
            if indents[-1] != at:  # the end of inner collections
                while indents[-1] > at:
                    stack.pop()
                    indents.pop()
                    if not indents:
                        raise _GiveUp
                if indents[-1] != at:
                    raise _GiveUp
            top = stack[-1]
            if kind == _KEY and type(top) is Sequence:
                # a list written at its key's indentation ends where the next key is
                stack.pop()
                indents.pop()
                if not indents or indents[-1] != at:
                    raise _GiveUp
                top = stack[-1]
        else:  # the first line of a key's value
            if not (at > indents[-1] or (at == indents[-1] and kind != _KEY)):
                raise _GiveUp  # an empty value
            if len(stack) >= max_depth or (len(stack) == 1 and pending.value in scalar_keys):
                raise _GiveUp
            top = (Mapping if kind == _KEY else Sequence)(line, at + 1)
            stack[-1]._add((pending, top))
            pending = None
            stack.append(top)
            indents.append(at)
            nodes += 1
            opened = (at + 1,)
        if kind == _ITEM:
            if type(top) is not Sequence:
                raise _GiveUp
            _, _, value, count, depth = got
            nodes += count
            if len(stack) + depth > max_depth:
                raise _GiveUp
            if nodes > max_nodes:
                raise _budget_error(line, before, max_nodes, list(opened), value)
            top.items.append(
                Scalar(value[1], line, value[2], plain)
                if value[0] == _SCALAR
                else _build(value, line, plain)
            )
            continue
        _, _, col, key, value, count, depth = got
        if kind == _KEY:
            if type(top) is not Mapping:
                raise _GiveUp
            if top._pair(key) is not None:
                raise _GiveUp  # a duplicate key: the event loop reports it
        else:  # `- key: ...`: the first key of a mapping in the list
            if type(top) is not Sequence or len(stack) >= max_depth:
                raise _GiveUp
            parent = top
            top = Mapping(line, col)
            parent.items.append(top)
            stack.append(top)
            indents.append(col - 1)
            nodes += 1
        nodes += 1 + count
        if nodes > max_nodes:
            if (
                value is not None
                and depth
                and (len(stack) + depth > max_depth or (len(stack) == 1 and key in scalar_keys))
            ):
                raise _GiveUp  # which the event loop meets first is its to say
            heads = list(opened) + ([col, col] if kind == _ITEM_KEY else [col])
            raise _budget_error(line, before, max_nodes, heads, value)
        if value is None:
            pending = Scalar(key, line, col, plain)
            continue
        if depth and (len(stack) + depth > max_depth or (len(stack) == 1 and key in scalar_keys)):
            raise _GiveUp
        pair = (Scalar(key, line, col, plain), _build(value, line, plain))
        if kind == _KEY:
            top._add(pair)
        else:  # the first of a new mapping
            top.items.append(pair)
    if pending is not None:
        raise _GiveUp
    return root


def compose(
    text: str,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    scalar_keys: tuple = (),
    max_alias_uses: int = 1,
) -> Node:
    """Compose one YAML document into located nodes.

    At most ``max_nodes`` values (scalars, collections, aliases) are composed: a file is
    refused at the first value past the budget, so its time and memory stay bounded
    whatever it holds; an alias counts the values it stands for, so an anchor used
    ``max_alias_uses`` times (1 by default) can never multiply the file past it. The
    top-level ``scalar_keys`` must hold a scalar; a collection there is refused where it
    starts, before it is read."""
    _check_directives(text)
    if len(text) >= _LINES_FROM:
        try:
            return _compose_lines(text, max_depth, max_nodes, scalar_keys)
        except _GiveUp:
            pass
    return _compose_events(text, max_depth, max_nodes, scalar_keys, max_alias_uses)


def _compose_events(
    text: str, max_depth: int, max_nodes: int, scalar_keys: tuple, max_alias_uses: int = 1
) -> Node:
    """:func:`compose` from libyaml's events: any YAML, and every refusal."""
    loader = _Loader(text)
    nodes = 0
    E = yaml.events
    scalar_event = E.ScalarEvent
    stack: list = []  # open collections; mappings carry a pending key
    pending_key: list = []
    anchors: dict[str, Node] = {}
    used: dict[str, int] = {}  # anchor -> the aliases to it so far
    # the values an anchor stands for, its aliases' expansions included (each alias
    # adds them to the budget): per open collection, the count where it started
    starts: list = []
    anchor_size: dict[str, int] = {}
    # nesting is bounded through aliases too: every finished collection knows its
    # height, an alias counts its target's height where it is inserted, and an alias to a
    # collection still open (a cycle) is refused
    heights: list = []  # per open collection: the greatest height among its children
    open_anchor: list = []  # per open collection: its anchor or None
    anchor_height: dict[str, int] = {}
    root = None
    docs = 0
    try:
        get_event = loader.get_event
        while True:
            ev = get_event()
            if ev is None:
                break
            cls = type(ev)
            if cls is scalar_event:  # the common case first
                nodes += 1
                if nodes > max_nodes:
                    raise _over_budget(ev, max_nodes)
                node = _scalar(ev)
                h = 0
                if ev.anchor:
                    anchors[ev.anchor] = node
                    anchor_height[ev.anchor] = 0
                    anchor_size[ev.anchor] = 1
            elif cls is E.AliasEvent:
                nodes += 1
                if nodes > max_nodes:
                    raise _over_budget(ev, max_nodes)
                m = ev.start_mark
                if ev.anchor not in anchors:
                    raise SpecError(
                        "yaml-syntax",
                        f"unknown alias *{ev.anchor}",
                        line=m.line + 1,
                        column=m.column + 1,
                    )
                if used.get(ev.anchor, 0) >= max_alias_uses:
                    times = "once" if max_alias_uses == 1 else f"{max_alias_uses:,} times"
                    raise SpecError(
                        "alias-limit",
                        f"alias *{ev.anchor} is used more than {times}; layercalc expands "
                        f"each anchor at most {times}",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="use a var or a block to share values or layers (or raise "
                        "--max-alias-uses)",
                    )
                h = anchor_height.get(ev.anchor)
                if h is None:
                    raise SpecError(
                        "yaml-syntax",
                        f"alias *{ev.anchor} refers to a collection that contains it (a cycle)",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="specs are trees; use a block to reuse layers",
                    )
                if len(stack) + h > max_depth:
                    raise SpecError(
                        "too-deep",
                        f"alias *{ev.anchor} nests the YAML deeper than {max_depth} levels",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="flatten the structure (use blocks), or raise --max-yaml-depth",
                    )
                used[ev.anchor] = used.get(ev.anchor, 0) + 1
                nodes += anchor_size.get(ev.anchor, 1)  # the values it stands for
                if nodes > max_nodes:
                    raise _over_budget(ev, max_nodes)
                node = anchors[ev.anchor]
            elif cls is E.MappingStartEvent or cls is E.SequenceStartEvent:
                nodes += 1
                if nodes > max_nodes:
                    raise _over_budget(ev, max_nodes)
                m = ev.start_mark
                if len(stack) >= max_depth:
                    raise SpecError(
                        "too-deep",
                        f"YAML nesting deeper than {max_depth} levels",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="flatten the structure (use blocks), or raise --max-yaml-depth",
                    )
                if ev.tag is not None and ev.tag not in _STD_TAGS:
                    raise SpecError(
                        "yaml-tag",
                        f"YAML tag {ev.tag} is not allowed in a spec",
                        line=m.line + 1,
                        column=m.column + 1,
                    )
                if (
                    len(stack) == 1
                    and pending_key[0] is not None
                    and pending_key[0].value in scalar_keys
                ):
                    key = pending_key[0].value
                    raise SpecError(
                        "bad-value",
                        f"`{key}` must be text, not a "
                        f"{'mapping' if cls is E.MappingStartEvent else 'list'}",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint=f"write {key} as one string (a YAML block scalar "
                        "`|` keeps line breaks)",
                    )
                node = (Mapping if cls is E.MappingStartEvent else Sequence)(
                    _line(m.line), m.column + 1
                )
                if ev.anchor:
                    anchors[ev.anchor] = node
                    anchor_height.pop(ev.anchor, None)  # open: an alias now is a cycle
                stack.append(node)
                pending_key.append(None)
                heights.append(0)
                open_anchor.append(ev.anchor)
                starts.append(nodes)
                continue
            elif cls is E.MappingEndEvent or cls is E.SequenceEndEvent:
                node = stack.pop()
                pending_key.pop()
                h = heights.pop() + 1
                anchor = open_anchor.pop()
                start = starts.pop()
                if anchor and anchors.get(anchor) is node:
                    anchor_height[anchor] = h
                    anchor_size[anchor] = nodes - start + 1
            elif cls is E.DocumentStartEvent:
                docs += 1
                if docs > 1:
                    m = ev.start_mark
                    raise SpecError(
                        "yaml-syntax",
                        "a spec file holds one YAML document",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="remove the second document (after ---)",
                    )
                continue
            else:
                continue
            # attach node to its parent
            if not stack:
                root = node
                continue
            parent = stack[-1]
            if h > heights[-1]:
                heights[-1] = h
            if type(parent) is Sequence:
                parent.items.append(node)
            elif pending_key[-1] is None:
                if type(node) is not Scalar:
                    raise SpecError("yaml-syntax", "a mapping key must be a plain value", node=node)
                key = node.value
                try:
                    hash(key)
                except TypeError:  # pragma: no cover
                    key = str(key)
                first = parent._pair(key)
                if first is not None:
                    first = first[0]
                    raise SpecError(
                        "duplicate-key",
                        f"duplicate key '{key}' (first at line {first.line})",
                        node=node,
                        hint="remove one of them; YAML would silently keep only the last",
                    )
                pending_key[-1] = node
            else:
                k = pending_key[-1]
                parent._add((k, node))  # one tuple for both: a million values stay small
                pending_key[-1] = None
    except yaml.YAMLError as exc:
        if _nesting_limit(exc):
            raise _too_deep(exc, text, max_depth) from None
        raise _yaml_error(exc, text) from None
    except RecursionError:  # pragma: no cover - our loop does not recurse
        raise SpecError("too-deep", "YAML nesting too deep") from None
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose:
            dispose()
    if root is None or (isinstance(root, Scalar) and root.value is None):
        raise SpecError(
            "empty-spec",
            "the file holds no YAML document",
            hint="a spec needs at least `input:` and `layers:`",
        )
    return root
