"""Expansions that make little or nothing are bounded before they are built: repeats of
empty groups, nested repeats, recursions through layer-valued arguments (found by a
user trial; each took 9-44 s to refuse). And a loop variable in the same entry's
`when`, trainable as an expression of 0 or 1."""

import time

import pytest

from layercalc.analyses.loading import analyse_bytes


def refused(text: str, line: int, marker: str):
    start = time.perf_counter()
    r = analyse_bytes(text.encode(), "t.yaml")
    took = time.perf_counter() - start
    (d,) = r.diagnostics
    col = text.splitlines()[line - 1].index(marker) + 1
    assert (d.code, d.line, d.column) == ("too-many-layers", line, col), d
    return d, took


@pytest.mark.parametrize(
    "text,line,marker",
    [
        # five repeats of 100,000 uses of a block whose only entry is omitted
        (
            "input: [1, 4]\nblocks:\n  e:\n    layers: [relu: {when: 0}]\nlayers:\n"
            + "".join(f"  - e: {{repeat: 100000, name: {n}}}\n" for n in "abcdf"),
            6,
            "100000",
        ),
        # nested repeats of groups that make nothing
        (
            "input: [1, 4]\nlayers:\n  - sequential: {repeat: 100000, layers: [sequential: "
            "{repeat: 100000, layers: [relu: {when: 0}]}]}\n",
            3,
            "100000",
        ),
        # a recursion through a block passed as a layer-valued argument
        (
            "input: [1, 4]\nblocks:\n  b:\n    args: {a: relu, n: 40}\n    layers:\n      - a\n"
            "      - b: {a: b, n: n - 1, when: n > 0}\n      - b: {a: b, n: n - 1, when: n > 0}\n"
            "layers:\n  - b\n",
            7,
            "b:",
        ),
    ],
)
def test_empty_or_exploding_expansions_are_refused_up_front(text, line, marker):
    _, took = refused(text, line, marker)
    assert took < 5  # generous on a loaded machine; each took 9-44 s before


def test_an_unstoppable_recursion_through_a_layer_argument_is_too_deep():
    text = (
        "input: [1, 4]\nblocks:\n  b:\n    args: {a: relu}\n    layers:\n      - a\n"
        "      - b: {a: b}\nlayers:\n  - b\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    (d,) = r.diagnostics
    assert (d.code, d.line) == ("too-deep", 7)


def test_a_loop_variable_is_visible_to_the_same_entrys_when():
    text = (
        'input: [1, 4]\nlayers:\n  - linear: {name: "l{j}", out_features: 4, '
        'repeat: {times: 6, as: j}, when: "j % 2 == 0"}\n  - relu\n'
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    assert r.ok, r.diagnostics
    assert [layer.name for layer in r.net.layers] == ["l0", "l2", "l4", "3"]  # indexes close up


def test_a_when_false_for_every_copy_omits_the_entry():
    text = (
        "input: [1, 4]\nlayers:\n  - relu: {name: r, repeat: {times: 3, as: j}, "
        "when: j > 5}\n  - linear: {out_features: 2, from: r}\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    (d,) = r.diagnostics
    assert d.code == "omitted-entry" and "every copy" in d.message


@pytest.mark.parametrize(
    "value,trainable", [("1 == 1", 4 * 4 + 4), ("not frz", 0), ("frz", 4 * 4 + 4)]
)
def test_trainable_takes_an_expression_of_0_or_1(value, trainable):
    text = (
        f"vars: {{frz: 1}}\ninput: [1, 4]\nlayers:\n  - linear: {{out_features: 4, "
        f'trainable: "{value}"}}\n'
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    assert r.ok, r.diagnostics
    assert r.net.totals()["trainable"] == trainable


def test_trainable_refuses_other_numbers():
    text = 'input: [1, 4]\nlayers:\n  - linear: {out_features: 4, trainable: "2"}\n'
    (d,) = analyse_bytes(text.encode(), "t.yaml").diagnostics
    assert d.code == "bad-value" and "0 or 1" in d.message
