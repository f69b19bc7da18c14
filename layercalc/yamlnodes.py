"""YAML text -> located nodes, safely: no code, no alias expansion, bounded depth.

Composes from the libyaml event stream (fast) with our own loop (no recursion, so
deep nesting cannot crash the process), keeps 1-based line:col on every node,
rejects duplicate keys, and lets each anchor be used by at most one alias, so a
"billion laughs" file is refused at its second alias instead of being expanded.
Aliases count toward the depth limit where they are inserted, and an alias to a
collection that contains it (a cycle) is refused. Integer literals beyond 2**63 and
non-finite floats (``.inf``, ``.nan``, ``1.0e999``) stay text, so a number context
reports them as a located error instead of computing with them.
"""

from __future__ import annotations

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


def decode(data: bytes) -> str:
    """Bytes -> text, refusing binary and non-UTF-8 files with a located error."""
    if not data.strip():
        raise SpecError(
            "empty-spec", "the file is empty", hint="a spec needs at least `input:` and `layers:`"
        )
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
    if value is _MISSING:  # specs repeat the same few scalars thousands of times
        value = _resolve_value(tag, ev)
        if len(_RESOLVED) < 20_000:
            _RESOLVED[key] = value
    return Scalar(value, line, col, plain=ev.style is None)


_RESOLVED: dict = {}
_MISSING = object()


def _resolve_value(tag, ev):
    """The Python value of a plain or standard-tagged scalar (YAML 1.1 core schema)."""
    value = ev.value
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
            value = _constructor.construct_yaml_int(yaml.ScalarNode(tag, ev.value))
        except ValueError:  # beyond Python's 4300-digit conversion limit
            value = ev.value
        if isinstance(value, int) and abs(value) > _MAX_ABS:
            value = ev.value  # kept as text: a number context then reports it too large
    elif tag == "tag:yaml.org,2002:float":
        value = _constructor.construct_yaml_float(yaml.ScalarNode(tag, ev.value))
        if value != value or value in (_INF, -_INF):
            value = ev.value  # .inf, .nan, 1e999: kept as text, never a number
    elif tag == "tag:yaml.org,2002:bool":
        value = _constructor.construct_yaml_bool(yaml.ScalarNode(tag, ev.value))
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
    if context:
        msg += f" ({context})"
    hint = None
    at = _char_at(text, line, col)
    if "\t" in problem or "'\\t'" in problem or (at == "\t" and "token" in problem):
        hint = "YAML indents with spaces; replace the tab characters"
    elif mark is not None:
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
        hint="flatten the structure (use blocks)",
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
    return SpecError(
        "too-large",
        f"the file holds more than {max_nodes:,} YAML values, far "
        "beyond what a spec within the layer limit needs",
        line=m.line + 1,
        column=m.column + 1,
        hint="use blocks and `repeat` instead of long lists, or raise "
        "--max-layers for a larger network",
    )


def compose(
    text: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES, scalar_keys: tuple = ()
) -> Node:
    """Compose one YAML document into located nodes.

    At most ``max_nodes`` values (scalars, collections, aliases) are composed: a file is
    refused at the first value past the budget, so its time and memory stay bounded
    whatever it holds. The top-level ``scalar_keys`` must hold a scalar; a collection
    there is refused where it starts, before it is read."""
    _check_directives(text)
    loader = _Loader(text)
    nodes = 0
    E = yaml.events
    scalar_event = E.ScalarEvent
    stack: list = []  # open collections; mappings carry a pending key
    pending_key: list = []
    anchors: dict[str, Node] = {}
    used: set[str] = set()
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
                if ev.anchor in used:
                    raise SpecError(
                        "alias-limit",
                        f"alias *{ev.anchor} is used more than once; layercalc expands "
                        "each anchor at most once",
                        line=m.line + 1,
                        column=m.column + 1,
                        hint="use a var or a block to share values or layers",
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
                        hint="flatten the structure (use blocks)",
                    )
                used.add(ev.anchor)
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
                        hint="flatten the structure (use blocks)",
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
                continue
            elif cls is E.MappingEndEvent or cls is E.SequenceEndEvent:
                node = stack.pop()
                pending_key.pop()
                h = heights.pop() + 1
                anchor = open_anchor.pop()
                if anchor and anchors.get(anchor) is node:
                    anchor_height[anchor] = h
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
