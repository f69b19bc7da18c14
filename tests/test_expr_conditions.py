"""Conditions in expressions (SPEC.md section 11, issue 13): comparisons, and/or/not and
``A if CONDITION else B`` join the whitelist; everything else stays refused."""

from __future__ import annotations

import doctest
import textwrap

import pytest

from layercalc import expr
from layercalc.analyses.loading import analyse_bytes
from layercalc.expr import ExprError, evaluate

NAMES = {"j": 0, "k": 3, "c": 64, "half": 0.5, "on": True, "off": False}

VALUES = {
    # comparisons are the ints 1 and 0
    "j == 0": 1,
    "j != 0": 0,
    "k < 3": 0,
    "k <= 3": 1,
    "k > 2": 1,
    "k >= 4": 0,
    "half == 0.5": 1,
    "1 == 1.0": 1,
    "0.1 + 0.2 == 0.3": 0,  # floats compare as Python's
    # chained as Python does
    "0 <= j < k": 1,
    "0 < j < k": 0,
    "1 < 2 == 1": 0,
    "j == 0 == j": 1,
    "1 < 2 < 3 < 4": 1,
    # not is 1 or 0
    "not j": 1,
    "not k": 0,
    "not not k": 1,
    "not half": 0,
    "not 0.0": 1,
    # and / or return the operand that decides
    "k and c": 64,
    "j and c": 0,
    "k or c": 3,
    "j or c": 64,
    "j or 0.0": 0.0,
    "j and 1 or 2": 2,
    "k and 1 or 2": 1,
    "half and 7": 7,
    # a boolean var counts as 1 or 0
    "on and 5": 5,
    "off or 5": 5,
    "5 and on": 1,
    "off and 5": 0,
    "k or on": 3,
    "on if k else 2": 1,
    "on == 1": 1,
    "off == 0": 1,
    "not on": 0,
    # conditional expressions
    "2 if j == 0 else 1": 2,
    "2 if k == 0 else 1": 1,
    "c // 2 if c > 32 else c": 32,
    "1 if j else 2 if k else 3": 2,
    "(1 if j else 2) * 10": 20,
    # precedence as Python's: arithmetic binds tighter than comparisons, not than and/or
    "k + 1 > 3 and c": 64,
    "not j + 1": 0,
    "-(k > 2)": -1,
    "max(j < 1, 5 > 9)": 1,
    "2 ** (k > 2)": 2,
}


@pytest.mark.parametrize("text", list(VALUES))
def test_value(text):
    got = evaluate(text, NAMES)
    assert got == VALUES[text]
    assert type(got) is type(VALUES[text]), (text, got)  # never a bool


@pytest.mark.parametrize(
    "text, names",
    [
        ("k if j == 0 else 1 / 0", {"k": 3, "j": 0}),
        ("1 / 0 if j else k", {"k": 3, "j": 0}),
        ("0 and 1 / 0", {}),
        ("1 or 1 / 0", {}),
        ("j and unknown_name", {"j": 0}),
        ("1 if 1 else 9 ** 9 ** 9", {}),
        ("1 if 1 else 2 ** 64", {}),
        ("1 if 1 else floor(1, 2)", {}),
        ("2 < 1 < 1 / 0", {}),  # a false link stops the chain
        ("1 if 1 else sizes", {"sizes": [1, 2]}),
    ],
)
def test_only_what_is_reached_is_evaluated(text, names):
    evaluate(text, names)  # does not raise


@pytest.mark.parametrize(
    "text, code",
    [
        ("k if j else 1 / 0", "bad-expression"),
        ("1 / 0 if j == 0 else k", "bad-expression"),
        ("1 and 1 / 0", "bad-expression"),
        ("0 or 2 ** 64", "too-large"),
        ("1 < 2 < 1 / 0", "bad-expression"),
        ("nope if 1 else 2", "unknown-name"),
        ("1 if nope else 2", "unknown-name"),
        ("0 if 1 else 9 ** 9 ** 9", None),  # the taken branch is fine
    ],
)
def test_errors_in_what_is_reached_are_raised(text, code):
    names = {"k": 3, "j": 0}
    if code is None:
        assert evaluate(text, names) == 0
        return
    with pytest.raises(ExprError) as exc:
        evaluate(text, names)
    assert exc.value.code == code


@pytest.mark.parametrize(
    "text, words",
    [
        ("a if b", "cannot parse"),  # incomplete conditional
        ("a if b else", "cannot parse"),
        ("if a else b", "cannot parse"),
        ("x is y", "'is'"),
        ("x is not y", "'is not'"),
        ("x in y", "'in'"),
        ("x not in y", "'not in'"),
        ("lambda: 1", "lambdas"),
        ("(lambda: 1)()", "call"),
        ("(y := 2)", "assignments"),
        ("(y := 2) if 1 else 0", "assignments"),
        ("1 if x.real else 0", "attribute"),
        ("x[0] if 1 else 0", "subscripts"),
        ("'a' if 1 else 0", "only numbers"),
        ("1 if 'a' == 'a' else 0", "only numbers"),
        ("True", "only numbers"),
        ("None or 1", "only numbers"),
        ("~1", "operator not allowed"),
        ("1 << 2 if 1 else 0", "operator not allowed"),
        ("1 & 2", "operator not allowed"),
        ("1 <> 2", "cannot parse"),
        ("[x for x in (1,)] or 1", "comprehensions"),
        ("(1, 2) == (1, 2)", "tuples"),
        ("[1] == [1]", "lists"),
        ("print(1) if 1 else 0", "call"),
        ("max(1, key=abs) or 1", "plain positional"),
        ("x if y else z if", "cannot parse"),
    ],
)
def test_refusals_still_refused(text, words):
    # refused at parse time, whatever the values (nothing is evaluated)
    with pytest.raises(ExprError) as exc:
        evaluate(text, {"x": 1, "y": 1, "a": 1, "b": 1, "z": 1})
    assert exc.value.code == "bad-expression"
    assert words in exc.value.message, exc.value.message


def test_a_refused_part_of_an_untaken_branch_is_still_refused():
    # the whitelist is checked on the whole expression before anything is evaluated
    with pytest.raises(ExprError, match="attribute"):
        evaluate("1 if 1 else (1).real", {})


def test_bounded_evaluation_still_holds():
    # every node is evaluated at most once: long chains stay linear and bounded
    chain = " < ".join(str(i) for i in range(100))
    assert len(chain) < expr.MAX_LENGTH and evaluate(chain, {}) == 1
    nested = "1 if 1 else " * 40 + "0"
    assert evaluate(nested, {}) == 1
    deep = "not " * 120 + "0"
    assert evaluate(deep, {}) == 0
    with pytest.raises(ExprError, match="longer than"):
        evaluate("1 if 1 else " * 60 + "0", {})
    with pytest.raises(ExprError) as exc:
        evaluate("9 ** 9 ** 9 if 1 else 0", {})
    assert exc.value.code == "too-large"


def test_doctests():
    failures, tried = doctest.testmod(expr)
    assert tried >= 6 and failures == 0


def _spec(text):
    res = analyse_bytes(textwrap.dedent(text).encode(), "cond.yaml")
    return res


def test_conditions_in_a_spec():
    res = _spec("""\
        vars:
          deep: 1
          width: 64 if deep else 32
          wide: width >= 64 and not (width > 128)
        input: [1, 3, 32, 32]
        layers:
          - conv2d: {out_channels: width, kernel_size: 3, stride: "2 if deep else 1",
                     bias: "width < 64"}
          - batch_norm2d: {affine: wide}
          - conv2d: {out_channels: "1 if width == 64 else 2", kernel_size: 1, bias: deep == 1}
        """)
    assert not res.diagnostics, [str(d) for d in res.diagnostics]
    conv, bn, head = res.net.layers
    assert conv.output == (1, 64, 15, 15) and conv.params == 64 * 3 * 9  # no bias
    assert bn.params == 128
    assert head.output == (1, 1, 15, 15) and head.params == 64 + 1


@pytest.mark.parametrize(
    "value, code, col",
    [
        ('"1 if c"', "bad-expression", 28),
        ('"c is 64"', "bad-expression", 28),
        ('"c in 64"', "bad-expression", 28),
        ('"(n := 3)"', "bad-expression", 28),
        ('"2 if c == 64 else nope"', None, None),  # the untaken branch is not evaluated
        ('"nope if c == 64 else 2"', "unknown-name", 28),
        ('"c > 1 and 1 / 0"', "bad-expression", 28),
    ],
)
def test_refusals_are_located_at_the_value(value, code, col):
    res = _spec(f"""\
        vars:
          c: 64
        input: [1, 3]
        layers:
          - linear: {{out_features: {value}}}
        """)
    if code is None:
        assert not res.diagnostics and res.net.layers[0].output == (1, 2)
        return
    (d,) = res.diagnostics
    assert (d.line, d.column, d.code) == (5, col, code), d


def test_a_bool_argument_takes_a_condition_that_is_exactly_0_or_1():
    res = _spec("""\
        vars:
          c: 64
        input: [1, 3]
        layers:
          - linear: {out_features: 4, bias: "c and 2"}
        """)
    (d,) = res.diagnostics
    assert (d.line, d.code) == (5, "bad-value") and "true or false" in d.message
