"""YAML value nodes -> argument values, by the argument's kind (layers.base.KINDS).

Numbers may be literals or expressions (layercalc.expr) over vars and block
arguments; words that name a mode (``same``, ``nearest``) are literals.
"""

from __future__ import annotations

import math

from .errors import SpecError
from .expr import ExprError, evaluate
from .yamlnodes import Mapping, Scalar, Sequence

MAX_LIST = 1000  # entries in one list value (shapes, per-dim sizes)
# SPEC.md section 2: words that name a mode are literals, never var names. These are the
# padding and interpolation modes (`padding: same`, `padding_mode: zeros`, `mode:
# bilinear`); words of other choices (`batch`, `linear`, `relu`, `floor`...) are common
# var, layer and function names, so they stay literal only where their argument takes them.
MODE_NAMES = frozenset(
    ("same", "valid", "zeros", "reflect", "replicate", "circular")
    + ("nearest", "bilinear", "bicubic", "trilinear", "area")
)


def mode_name_error(name: str, node, what: str) -> SpecError:
    """The error of a var or block argument named as a mode (SPEC.md section 2)."""
    return SpecError(
        "bad-vars" if what == "var" else "bad-block",
        f"'{name}' names a mode (padding='same', mode='bilinear', ...), so it is a "
        f"literal and never a {what} name",
        node=node,
        hint=f"rename the {what} (e.g. '{name}_')",
    )


def _name_error(exc: ExprError, node) -> SpecError:
    return SpecError(exc.code, exc.message, node=node, hint=exc.hint)


def resolve_scalar(node: Scalar, names: dict, words=()):
    """A scalar node's value: numbers and bools as they are, words kept, strings evaluated."""
    v = node.value
    if isinstance(v, str):
        text = v.strip()
        if text in words:
            return text
        if text.isidentifier() and text in names:
            return names[text]  # a bare name may hold a list, a bool or a mode word
        try:
            return evaluate(text, names)
        except ExprError as exc:
            raise _name_error(exc, node) from None
        except TypeError:
            raise SpecError(
                "bad-expression", f"'{text}' mixes numbers with a list or a word", node=node
            ) from None
    return v


def _kind_name(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (list, tuple)):
        return "a list"
    if v is None:
        return "null"
    if isinstance(v, str):
        return f"the word '{v}'"
    return repr(v)


def _computed(node) -> bool:
    """Whether the node's value came from a var or an expression (text), not a literal."""
    return isinstance(getattr(node, "value", None), str)


def as_int(v, node, what: str, minimum=None) -> int:
    if isinstance(v, bool) and _computed(node):
        v = int(v)  # a boolean var is 1 or 0 as a value, as it is in arithmetic
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError("bad-value", f"{what} must be an integer, got {_kind_name(v)}", node=node)
    if isinstance(v, float):
        if not v.is_integer():
            raise SpecError(
                "not-integer",
                f"{what} must be an integer, got {v}",
                node=node,
                hint="use // for integer division, or round()/floor()/ceil()"
                if _computed(node)
                else f"write a whole number ({math.floor(v)} or {math.ceil(v)})"
                if math.isfinite(v)
                else None,
            )
        v = int(v)
    if minimum is not None and v < minimum:
        raise SpecError("bad-value", f"{what} must be at least {minimum}, got {v}", node=node)
    return v


def as_float(v, node, what: str) -> float:
    if isinstance(v, bool) and _computed(node):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError("bad-value", f"{what} must be a number, got {_kind_name(v)}", node=node)
    return v


def _items(node, names, what):
    """A list node, or a bare name bound to a list, as (value, node) pairs."""
    if isinstance(node, Sequence):
        if len(node.items) > MAX_LIST:
            raise SpecError(
                "too-large", f"{what} has {len(node.items)} entries (at most {MAX_LIST})", node=node
            )
        return [
            (resolve_scalar(n, names) if isinstance(n, Scalar) else None, n) for n in node.items
        ]
    return None


def convert(arg, node, names: dict):
    """Evaluate ``node`` as a value of ``arg`` (an layers.base.Arg)."""
    if node.__class__ is Scalar and node.value.__class__ in _LITERALS and arg.kind != "shape":
        return _checked(arg, node.value, node, arg.name, False)  # a literal: no names
    what = arg.name
    kind = arg.kind
    if isinstance(node, Mapping):
        raise SpecError("bad-value", f"{what} must be a value, not a mapping", node=node)
    if isinstance(node, Sequence):
        if kind not in ("size", "padding", "ints", "opt_ints", "scale", "shape"):
            raise SpecError("bad-value", f"{what} must be a single value, not a list", node=node)
        pairs = _items(node, names, what)
        if not pairs:
            raise SpecError("bad-value", f"{what} must not be an empty list", node=node)
        if kind != "opt_ints":  # only a per-dim size list may hold null entries
            for v, n in pairs:
                if v is None:
                    raise SpecError(
                        "bad-value", f"{what} entries must be numbers, not null", node=n
                    )
        return tuple(_one(arg, v, n, f"{what} entry") for v, n in pairs)
    raw = node.value
    if isinstance(raw, str) and raw.strip() in MODE_NAMES and raw.strip() not in arg.words:
        text = raw.strip()
        takes = f": it takes {arg.doc}" if arg.doc else ""
        raise SpecError(
            "bad-value",
            f"{what} does not take the mode '{text}'{takes} (PyTorch refuses it)",
            node=node,
            hint=f"'{text}' is a literal mode word here, never a var",
        )
    if (
        arg.words
        and isinstance(raw, str)
        and raw.strip().isidentifier()
        and raw.strip() not in names
        and raw.strip() not in arg.words
    ):
        return _one(arg, raw.strip(), node, what)  # a misspelt mode word, not a var
    v = resolve_scalar(node, names, arg.words)
    if isinstance(v, (list, tuple)):
        if kind not in ("size", "padding", "ints", "opt_ints", "scale", "shape"):
            raise SpecError("bad-value", f"{what} must be a single value, not a list", node=node)
        return tuple(_one(arg, x, node, f"{what} entry") for x in v)
    if kind == "shape" and v is not None:
        raise SpecError("bad-value", f"{what} must be a list", node=node)
    if v.__class__ in _REMEMBERED:
        return _checked(arg, v, node, what, raw.__class__ is str)
    return _one(arg, v, node, what)


_LITERALS = frozenset({int, bool, type(None)})  # literal values convert() remembers
_REMEMBERED = _LITERALS | {str}  # and evaluated ones
_CHECKED: dict = {}  # (arg, type, value, computed) -> _one's result
MAX_CHECKED = 4096


def _checked(arg, v, node, what, computed: bool):
    """_one's result for a value of ``arg``, remembered: 100,000 layers check a few
    dozen values. It depends on the argument, the value and whether the value was
    computed (see _one), so those are the key; floats are left out, as 0.0 == -0.0."""
    key = (arg, v.__class__, v, computed)
    try:
        return _CHECKED[key]
    except KeyError:
        pass
    except TypeError:  # an argument with an unhashable default: checked each time
        return _one(arg, v, node, what)
    out = _one(arg, v, node, what)
    if len(_CHECKED) < MAX_CHECKED:
        _CHECKED[key] = out
    return out


def _one(arg, v, node, what):
    kind = arg.kind
    if isinstance(node, (Mapping, Sequence)):
        raise SpecError("bad-value", f"{what} must be a plain value", node=node)
    if v is None:
        if arg.nullable or kind == "opt_ints":
            return None
        raise SpecError("bad-value", f"{what} needs a value", node=node)
    if kind == "bool":
        if (
            not isinstance(v, bool)
            and isinstance(v, (int, float))
            and v in (0, 1)
            and _computed(node)
        ):
            v = bool(v)  # an expression that is exactly 0 or 1 (SPEC.md section 11)
        if not isinstance(v, bool):
            raise SpecError(
                "bad-value", f"{what} must be true or false, got {_kind_name(v)}", node=node
            )
        return v
    if kind == "choice" or (kind == "padding" and isinstance(v, str)):
        if v not in arg.words:
            from .errors import did_you_mean

            why = getattr(arg, "torch_refusal", "")  # PyTorch's own words, where declared
            raise SpecError(
                "bad-value",
                f"{what} must be one of {', '.join(arg.words)}"
                + ("" if kind == "choice" else " or a number")
                + f", got {v!r}"
                + (f" (PyTorch: {why})" if why else ""),
                node=node,
                hint=did_you_mean(str(v), arg.words),
            )
        return v
    if isinstance(v, str):
        raise SpecError("bad-value", f"{what} must be a number, got the word '{v}'", node=node)
    if kind in ("float", "scale"):
        return as_float(v, node, what)
    if kind == "shape":
        return as_int(v, node, what, -1)
    return as_int(v, node, what, arg.min)
