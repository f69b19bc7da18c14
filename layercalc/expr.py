"""Safe arithmetic over vars and block arguments (SPEC section 2).

Expressions are parsed with :mod:`ast` and walked against a whitelist: numbers,
names, ``+ - * / // % **``, unary minus/plus, parentheses, and the calls ``min max
abs floor ceil round`` (and, in a layer entry, ``in_shape input_shape``); and (SPEC
11) the comparisons ``== != < <= > >=``
(chained as in Python), ``and``, ``or``, ``not`` and ``A if CONDITION else B``.
Nothing is ever passed to ``eval``. Every intermediate is bounded so ``9 ** 9 ** 9``
fails at once instead of hanging.

>>> evaluate("ndf * 8", {"ndf": 64})
512
>>> evaluate("(size - 1) // 2", {"size": 7})
3
>>> evaluate("max(8, c // 4)", {"c": 16})
8

Conditions: a comparison and ``not`` give the int 1 or 0; ``and``/``or`` return the
operand that decides, as Python does (a boolean var counts as 1 or 0); only the branch
taken (and the operands reached) are evaluated, so errors elsewhere are not raised.

>>> evaluate("2 if j == 0 else 1", {"j": 0}), evaluate("2 if j == 0 else 1", {"j": 3})
(2, 1)
>>> evaluate("0 < j <= 4", {"j": 4}), evaluate("not j", {"j": 4})
(1, 0)
>>> evaluate("c and 64 or 32", {"c": 0}), evaluate("flag or 7", {"flag": True})
(32, 1)
>>> evaluate("n if n > 0 else 1 / 0", {"n": 5}), evaluate("0 and 1 / 0", {})
(5, 0)
"""

from __future__ import annotations

# The node classes and the parser's flag straight from the C module that ast.py wraps:
# ast.py only adds helpers this module does not need, at ~2 ms of every start-up.
import _ast as ast
import math
from collections import deque
from functools import lru_cache

MAX_ABS = 2**63  # results and intermediates beyond this are refused
MAX_LENGTH = 500  # characters in one expression

FUNCTIONS = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
}
# SPEC section 11: a layer entry's expressions may read shapes. The builder puts the
# entry's readers into the names under "in_shape()" and "input_shape()" (keys no
# identifier can spell); elsewhere (vars, expectations) the calls are refused.
SHAPE_FUNCTIONS = ("in_shape", "input_shape")


class ExprError(ValueError):
    def __init__(self, message: str, hint: str | None = None, code: str = "bad-expression"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}
_OP_TEXT = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_REFUSED_COMPARE = {ast.Is: "'is'", ast.IsNot: "'is not'", ast.In: "'in'", ast.NotIn: "'not in'"}
ALLOWED = (
    "numbers, var names, + - * / // % **, parentheses, min max abs floor ceil "
    "round, in_shape input_shape (in a layer entry), comparisons (== != < <= > >=), "
    "and or not, and A if CONDITION else B"
)


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambdas",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.List: "lists",
        ast.Tuple: "tuples",
        ast.Dict: "dicts",
        ast.Set: "sets",
        ast.JoinedStr: "strings",
        ast.NamedExpr: "assignments",
        ast.Starred: "starred values",
        ast.Await: "await",
    }
    for cls, text in kinds.items():
        if isinstance(node, cls):
            return text
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    return type(node).__name__


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.AST:
    """Parse and whitelist-check an expression (cached: specs repeat them a lot)."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = compile(text.strip(), "<expression>", "eval", ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or str(exc)
        if text.strip().lstrip("+-").lower() in (".inf", ".nan"):
            raise ExprError(f"'{text.strip()}' is not a finite number") from None
        hint = "use " + ALLOWED
        if text.count("(") > text.count(")") or text.count("[") > text.count("]"):
            # `{out_features: max(a, b)}`: YAML's flow mapping ends the value at the comma
            hint = (
                "close the bracket; if the expression has a comma and sits inside `{...}`, "
                "YAML ended the value at the comma (`max(a, b)` reads as `max(a` and a "
                "key `b)`): quote it, 'max(a, b)'"
            )
            if text.strip().startswith("(") and text.strip()[1:].strip().isdigit():
                # `kernel_size: (3, 3)`, a Python tuple: YAML's is a list
                hint = "a tuple is written as a YAML list: `kernel_size: [3, 3]`, not (3, 3)"
        raise ExprError(f"cannot parse expression '{text}': {msg}", hint=hint) from None
    for node in _walk(tree):
        if isinstance(
            node,
            (ast.Expression, ast.Load, ast.Name, ast.operator, ast.unaryop, ast.boolop, ast.cmpop),
        ):
            if isinstance(node, ast.operator) and type(node) not in _OP_TEXT:
                raise ExprError(
                    f"operator not allowed in '{text}'", hint="allowed: + - * / // % **"
                )
            if isinstance(node, ast.unaryop) and not isinstance(
                node, (ast.USub, ast.UAdd, ast.Not)
            ):
                raise ExprError(
                    f"operator not allowed in '{text}'",
                    hint="allowed: + - * / // % **, unary minus and not",
                )
            if isinstance(node, ast.cmpop) and type(node) not in _COMPARE:
                raise ExprError(
                    f"the operator {_REFUSED_COMPARE.get(type(node), '?')} is not "
                    f"allowed in '{text}'",
                    hint="allowed comparisons: == != < <= > >=",
                )
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp)):
            continue
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float):
                raise ExprError(f"only numbers are allowed in expressions, not {node.value!r}")
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or (
                node.func.id not in FUNCTIONS and node.func.id not in SHAPE_FUNCTIONS
            ):
                raise ExprError(
                    f"call not allowed in '{text}'",
                    hint="allowed functions: "
                    + " ".join(FUNCTIONS)
                    + " "
                    + " ".join(SHAPE_FUNCTIONS),
                )
            if node.keywords or not node.args or any(isinstance(a, ast.Starred) for a in node.args):
                raise ExprError(f"{node.func.id}() takes plain positional arguments in '{text}'")
            continue
        inner = text.strip()
        raise ExprError(
            f"{_describe(node)} not allowed in expression '{text}'",
            hint=f"a tuple is written as a YAML list: [{inner[1:-1].strip()}]"
            if isinstance(node, ast.Tuple) and inner.startswith("(") and inner.endswith(")")
            else "expressions hold " + ALLOWED,
        )
    return tree.body


def _walk(tree):
    """Every node of ``tree``, breadth first (as ast.walk)."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, ast.AST):
                todo.append(child)
            elif isinstance(child, list):
                todo.extend(c for c in child if isinstance(c, ast.AST))
        yield node


def _check(value, text):
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ExprError(f"expression '{text}' is not a finite number")
    if abs(value) > MAX_ABS:
        raise ExprError(f"expression '{text}' is too large (beyond 2**63)", code="too-large")
    return value


def _eval(node, names, text):
    t = type(node)
    if t is ast.Constant:
        return _check(node.value, text)
    if t is ast.Name:
        if node.id in names:
            value = names[node.id]
            if type(value) not in (int, float, bool):
                # a list or a mode word: refuse before an operator can repeat it
                # (`sizes * 10**9` would otherwise build a huge list)
                what = (
                    "a list"
                    if isinstance(value, (list, tuple))
                    else f"the word {value!r}"
                    if isinstance(value, str)
                    else type(value).__name__
                )
                raise ExprError(
                    f"'{node.id}' is {what}, not a number, in '{text}'",
                    hint="arithmetic works on numbers only",
                )
            return _check(value, text)
        from .errors import did_you_mean

        if node.id in FUNCTIONS or node.id in SHAPE_FUNCTIONS:
            raise ExprError(f"'{node.id}' is a function; call it as {node.id}(...)")
        raise ExprError(
            f"unknown name '{node.id}' in '{text}'",
            hint=did_you_mean(node.id, names) or "define it under `vars:`",
            code="unknown-name",
        )
    if t is ast.BinOp:
        a = _eval(node.left, names, text)
        b = _eval(node.right, names, text)
        op = type(node.op)
        if op is ast.Pow:
            if b != 0 and abs(a) > 1:
                if b < 0:
                    pass
                elif b * math.log2(abs(a)) > 64:
                    raise ExprError(f"'{text}' is too large ({a} ** {b})", code="too-large")
            if a == 0 and b < 0:
                raise ExprError(f"division by zero in '{text}'")
            try:
                r = a**b
            except (OverflowError, ZeroDivisionError) as exc:
                raise ExprError(f"'{text}': {exc}") from None
            if isinstance(r, complex):
                raise ExprError(f"'{text}' is not a real number")
            return _check(r, text)
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and b == 0:
            raise ExprError(f"division by zero in '{text}'")
        try:
            return _check(_BINOPS[op](a, b), text)
        except OverflowError:
            raise ExprError(f"'{text}' is too large", code="too-large") from None
    if t is ast.UnaryOp:
        v = _eval(node.operand, names, text)
        if isinstance(node.op, ast.Not):
            return 0 if v else 1
        return -v if isinstance(node.op, ast.USub) else v
    if t is ast.Compare:
        # chained as Python does: a < b < c is a < b and b < c, b evaluated once, and
        # the operands after the first false link are not evaluated
        a = _eval(node.left, names, text)
        for op, right in zip(node.ops, node.comparators):
            b = _eval(right, names, text)
            if not _COMPARE[type(op)](a, b):
                return 0
            a = b
        return 1
    if t is ast.BoolOp:
        # Python's semantics: the first operand that decides (falsy for and, truthy
        # for or, else the last); the ones after it are not evaluated
        is_and = isinstance(node.op, ast.And)
        for operand in node.values:
            v = _eval(operand, names, text)
            if (not v) if is_and else v:
                break
        return int(v) if type(v) is bool else v
    if t is ast.IfExp:
        branch = node.body if _eval(node.test, names, text) else node.orelse
        v = _eval(branch, names, text)
        return int(v) if type(v) is bool else v
    if t is ast.Call:
        args = [_eval(a, names, text) for a in node.args]
        name = node.func.id
        if name in SHAPE_FUNCTIONS:
            reader = names.get(name + "()")
            if reader is None:
                raise ExprError(
                    f"{name}() reads a layer entry's input shapes; it is not "
                    f"available here ('{text}')",
                    hint="use it in a layer entry's arguments, `when`, `repeat` or name",
                )
            try:
                return _check(reader(*args), text)
            except ExprError as exc:
                raise ExprError(f"'{text}': {exc.message}", exc.hint, exc.code) from None
        try:
            if name in ("floor", "ceil", "abs") and len(args) != 1:
                raise TypeError(f"{name}() takes one argument")
            if name == "round" and len(args) != 1:
                raise TypeError("round() takes one argument here")
            if name in ("min", "max") and len(args) < 2:
                raise TypeError(f"{name}() takes two or more numbers")
            return _check(FUNCTIONS[name](*args), text)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"'{text}': {exc}") from None
    raise ExprError(f"not allowed in expression '{text}'")  # pragma: no cover


def evaluate(text: str, names: dict):
    """Evaluate ``text`` with ``names`` (numbers only); returns int or float."""
    tree = parse(text)
    try:
        return _eval(tree, names, text)
    except RecursionError:
        raise ExprError(f"expression '{text}' is nested too deeply") from None
