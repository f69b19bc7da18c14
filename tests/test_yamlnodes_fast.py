"""The fast composer (``yamlnodes._compose_lines``) gives the very tree the libyaml
event loop gives, or gives up: on every spec, every YAML in the tests and the docs,
generated big specs, tricky snippets and a seeded fuzz of small documents."""

from __future__ import annotations

import ast
import random
import re
import textwrap
from pathlib import Path

import pytest

from layercalc import yamlnodes
from layercalc.errors import SpecError
from layercalc.yamlnodes import MAX_DEPTH, MAX_NODES, Mapping, Scalar

ROOT = Path(__file__).resolve().parent.parent


def spec_text(n: int, channels: int = 16, size: int = 32) -> str:
    """A flat spec of n layers, as benchmarks/bench_commands.py generates them."""
    lines = [f"name: generated {n}", f"input: [1, {channels}, {size}, {size}]", "layers:"]
    for _ in range(n // 2):
        lines.append(f"  - conv2d: {{out_channels: {channels}, kernel_size: 3, padding: 1}}")
        lines.append("  - relu")
    return "\n".join(lines) + "\n"


def fields(node) -> list:
    """Every field of every node in document order, values with their types."""
    out = []
    todo = [node]
    while todo:
        n = todo.pop()
        if type(n) is Scalar:
            out.append(("scalar", n.line, n.col, type(n.value), n.value, n.plain))
        elif type(n) is Mapping:
            out.append(("mapping", n.line, n.col, len(n.items), n._index is None))
            if n._index is not None:
                assert len(n._index) == len(n.items)
                assert all(n._index[p[0].value] is p for p in n.items)
            for k, v in reversed(n.items):
                todo += [v, k]
        else:
            out.append((type(n).__name__, n.line, n.col, len(n.items)))
            todo += reversed(n.items)
    return out


def error_fields(err: SpecError) -> tuple:
    return (err.code, str(err), err.line, err.column, err.hint)


def compare(text: str, max_depth=MAX_DEPTH, max_nodes=MAX_NODES, scalar_keys=()) -> bool:
    """Assert that both composers agree on ``text``; True if the fast one composed it."""
    limits = (max_depth, max_nodes, scalar_keys)
    try:
        fast = yamlnodes._compose_lines(text, *limits)
    except yamlnodes._GiveUp:
        fast = None
    except SpecError as err:  # the value budget, refused where the event loop would
        fast = err
        assert err.code == "too-large", err
    try:
        slow = yamlnodes._compose_events(text, *limits)
    except SpecError as err:
        if isinstance(fast, SpecError):
            assert error_fields(fast) == error_fields(err), text
            fast = None
        assert fast is None, f"fast path composed what the event loop refuses: {err}"
        with pytest.raises(SpecError) as got:  # compose reports exactly that error
            yamlnodes.compose(text, *limits)
        assert error_fields(got.value) == error_fields(err)
        return False
    assert not isinstance(fast, SpecError), f"fast path refused what composes: {fast}"
    if fast is not None:
        assert fields(fast) == fields(slow), text
    assert fields(yamlnodes.compose(text, *limits)) == fields(slow)
    return fast is not None


def yaml_files() -> list:
    found = {*ROOT.glob("*.yaml"), *ROOT.glob(".*.yaml")}
    for folder in ("specs", "tests", "layercalc", "benchmarks", "docs"):
        found.update((ROOT / folder).rglob("*.yaml"))
    return sorted(found)


def doc_snippets() -> list:
    """The ```yaml blocks of the README and the bundled docs."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "layercalc" / "docs").glob("*.md"))]:
        out += re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)
    return out


def strings_in_tests() -> list:
    """The multi-line string constants of the tests (most are specs, some broken)."""
    out = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "\n" in node.value and ":" in node.value and len(node.value) < 20_000:
                    out.append(textwrap.dedent(node.value))
    return out


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file(path):
    compare(path.read_text(encoding="utf-8-sig"))


def test_specs_take_the_fast_path():
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    fast = [compare(p.read_text(encoding="utf-8-sig")) for p in specs]
    assert sum(fast) >= 5  # the comparison is not vacuous (multi-line flows give up)


def test_docs_and_test_strings():
    texts = doc_snippets() + strings_in_tests()
    assert len(texts) > 100
    assert sum(compare(t) for t in texts) > 20


@pytest.mark.parametrize("n", [10, 1_000, 10_000])
def test_generated_specs(n):
    assert compare(spec_text(n))
    assert compare(spec_text(n, 4, 4))
    text = spec_text(n)
    assert compare(text.replace("\n", "\r\n"))
    assert compare(text.rstrip("\n"))


TRICKY = [
    # YAML 1.1 resolution of plain scalars, as keys and as values
    "a: [yes, no, on, off, y, n, Yes, NO, true, False, ~, null, Null, NULL]\n",
    "a: [1e3, 1.0e3, 1.5e+3, 0x10, 0o7, 017, 0b101, 1_000, .5, +1, -1, +.5, -0, 00]\n",
    "a: [-.inf, .inf, .nan, .NaN, 1e999, 1:20, 190:20:30, -1:20, 2001-12-14, 3.]\n",
    "a: [9223372036854775807, 9223372036854775808, -9223372036854775809, 123456789012]\n",
    "yes: 1\nno: 2\n1: a\n1.5: b\n~: c\n0x10: d\n",
    "a: key:value\nb: 1:20\nc: http://x.y/z\nd: a:b:c\n",
    "- -1\n- - 1\n",
    "- -1\n- -.5\n- -x\n",
    "a: {a, b}\n",
    "a: [a, b,]\nb: 1\n",
    "a: {a: 1,}\n",
    "a: {a: }\n",
    "a: {a:1}\n",
    "a: [a: 1]\n",
    "a: {a: [1, {b: 2, c: [3, []]}], d: {}}\n",
    "a: {}\nb: []\nc: [ ]\nd: { }\n",
    "a: [1,2 , 3 ,4]\nb: {x: 1 ,y: 2}\n",
    "a: {a : 1, b  :  2 , c d: e f }\nb: [ x y , z ]\n",
    "a: {a: 1, b: [2]}\nb: [1, {c: d}]\nc: {a: 1, a : 2}\n",
    "a: b#c\n",
    "a: b #c\n",
    "a: b # c\nb: [1, 2] # c\n# c\n   # c\nc: 3\n",
    "a: 'b'\n",
    'a: "b"\n',
    "a: b c  d   \n",
    "a: it's\nb: x\"y\n",
    "a: b[0]\nc: d{e}\nf: g]\nh: i,j\n",
    "a[0]: 1\nb{c: 2\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  x\n",
    "a: >\n  x\n",
    "? a\n: b\n",
    "a:\n  - x\n  - y\nb: 1\n",
    "a:\n- x\n- y\nb: 1\n",
    "a:\n- x\n - y\n",
    "a:\n  - x\n - y\n",
    "a:\nb: 1\n",
    "a:\n",
    "a: 1\n  b: 2\n",
    "a: foo\n  bar\n",
    "- foo\n  bar\n",
    "- a: 1\n  b: 2\n- c: 3\n",
    "- a: 1\n b: 2\n",
    "-   a: 1\n    b:\n    - x\n",
    "- a:\n  - x\n- b:\n    c: 1\n",
    "-\n  a: 1\n",
    "- \n- a\n",
    "a: 1\na: 2\n",
    "a: {x: 1, x: 2}\n",
    "1: a\n1.0: b\n",
    "true: a\n1: b\n",
    "---\na: 1\n",
    "a: 1\n...\n",
    "a: 1\n---\nb: 2\n",
    "...: 1\n",
    "%YAML 1.1\n---\na: 1\n",
    "\ufeffa: 1\n",
    "a: 1\r\nb: [1, 2]\r\n",
    "a: 1\rb: 2\r",
    "a: 1",
    "a:\tb\n",
    "a: b\t\n",
    "a: caf\u00e9\nb: 1\n",
    "a: 1\u2028b: 2\n",
    "a: 1\x85b: 2\n",
    "  a: 1\n  b: 2\n",
    "  a: 1\nb: 2\n",
    "a: - b\n",
    "a: -\n",
    "a: ?\n",
    "a: :b\n",
    "a : 1\n",
    "a  b: 1\n",
    "a: b: c\n",
    "a: b:\n",
    "relu\n",
    "[1, 2]\n",
    "",
    "\n\n# only a comment\n",
    "a: 1\n\n\n   \nb: 2\n",
    "a: <<\n<<: 1\n=: 2\n",
    "a: [1, [2, [3, [4, [5]]]]]\n",
    "a: " + "[" * 20 + "]" * 20 + "\n",
    "a: x" + "y" * 1100 + "\n",
    "k" * 1100 + ": 1\n",
    "input: [1, 3]\nname: {a: 1}\n",
    "input: [1, 3]\nname:\n  a: 1\n",
    "input: [1, 3]\ndescription: [a]\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky(text):
    compare(text)
    compare(text, scalar_keys=("name", "description", "a"))


def test_pure_python_loader(monkeypatch):
    # PyYAML's own parser reports plain scalars differently (style None, not ''): the
    # fast path follows whichever loader the event loop uses
    import yaml

    monkeypatch.setattr(yamlnodes, "_Loader", yaml.SafeLoader)
    assert compare(spec_text(100))
    for text in TRICKY:
        compare(text)


def test_limits_are_left_to_the_event_loop():
    text = "a: [" + ", ".join(["1"] * 10) + "]\nb:\n" + "  - 2\n" * 20
    assert compare(text, max_nodes=15 + 20)
    assert not compare(text, max_nodes=15 + 19)
    deep = "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 30)) + " " * 30 + "x: 1\n"
    assert compare(deep, max_depth=31)  # the root, a's mapping and 29 more
    assert not compare(deep, max_depth=30)
    flow = "a:\n  b: [[[1]]]\n"
    assert compare(flow, max_depth=5)
    assert not compare(flow, max_depth=4)
    for depth in range(1, 8):
        compare("- a: {b: [c]}\n- d:\n    - e: [f]\n", max_depth=depth)


def test_the_value_budget_is_refused_where_the_event_loop_refuses_it():
    """Past the value budget the fast path refuses the file itself (composing it again
    through the events took seconds for a 13 MB file), at the value the event loop
    would name: every budget through a document of every line kind, and a flow list
    too long for a line of the fast path's own (a hostile one-line million values)."""
    long_list = "[" + ", ".join(f"v{i}" for i in range(400)) + "]"
    text = (
        "a: [1, 2, {x: 3}]\nb:\n  - c\n  - {d: 4, e: 5}\n  - f: 6\n    g: [7, 8]\n"
        "  - h: {i: 9}\nj:\n  k: l\n  m:\n    - n\n"
        f"long: {long_list}\nitems:\n  - {long_list}\n  - -x\n"
    )
    assert len(text.splitlines()[-4]) > yamlnodes._MAX_LINE  # the long lines' path
    decided = 0
    for budget in range(1, 900):
        compare(text, max_nodes=budget)
        try:
            yamlnodes._compose_lines(text, MAX_DEPTH, budget, ())
        except SpecError:
            decided += 1  # refused by the fast path itself (compare: at the same value)
        except yamlnodes._GiveUp:
            pass
    # every budget the first long line overflows, but those ending on a nested flow
    # collection (past it, a long line within the budget is the event loop's to compose)
    assert decided > 420
    items = f"items:\n  - x\n  - {long_list}\n"  # a long list as a list's item
    for budget in range(1, 405):  # 405 values in all
        compare(items, max_nodes=budget)
        with pytest.raises(SpecError):  # each refused by the fast path itself
            yamlnodes._compose_lines(items, MAX_DEPTH, budget, ())
    odd = "a: [" + ", ".join(["b"] * 300) + ", 'c', " + ", ".join(["d"] * 300) + "]\n"
    for budget in (100, 301, 302, 303, 400):  # a quote in the list: the event loop's
        compare(odd, max_nodes=budget)


# -- fuzz ---------------------------------------------------------------------------------

SCALARS = (
    "a b relu conv2d x_1 x.y -x _x ~x +x $x (x) /x a-b yes no on off y n true False ~ null "
    "Null 1e3 1.0e3 1.5e+3 0x10 0o7 017 0b101 1_000 .5 +1 -1 +.5 -0 0 00 3.14 -.inf .inf "
    ".nan 1e999 1:20 1:2:3 a:b 2001-12-14 12345678901234567890 9223372036854775808 <<"
).split() + ["a b", "it's", 'x"y', "a[0]", "b]", "c}", "d,e", "x!y", "x&y", "x*y", "x|y", "x%y"]
FLOW_SCALARS = [s for s in SCALARS if not set(s) & set(",[]{}:")]
MUTATIONS = list(":- #\t'\"[]{},\r\n&*!?|>%@`") + [": ", "- ", " #", "\n  ", "  ", "\ufeff"]


def flow(rng: random.Random, depth: int) -> str:
    sp = rng.choice(["", " ", "  "])
    if depth > 2 or rng.random() < 0.5:
        return rng.choice(FLOW_SCALARS)
    n = rng.choice([0, 1, 2, 3, 9])
    if rng.random() < 0.5:
        items = [flow(rng, depth + 1) for _ in range(n)]
        return "[" + sp + ("," + sp).join(items) + sp + "]"
    keys = rng.sample(FLOW_SCALARS, n)
    colon = rng.choice([": ", ":  ", " : "])
    items = [f"{k}{colon}{flow(rng, depth + 1)}" for k in keys]
    return "{" + sp + ("," + sp).join(items) + sp + "}"


def value(rng: random.Random) -> str:
    return flow(rng, 0) if rng.random() < 0.4 else rng.choice(SCALARS)


def block(rng: random.Random, indent: int, depth: int, out: list, as_list: bool) -> None:
    step = rng.choice([1, 2, 2, 3, 4])
    keys = rng.sample(SCALARS, rng.randint(1, 4) if rng.random() < 0.9 else 10)
    for key in keys:
        if rng.random() < 0.1:
            out.append(" " * rng.randint(0, 6) + rng.choice(["# c", "", "#", "  "]))
        pad = " " * indent
        nested = depth < 4 and rng.random() < 0.3
        comment = rng.choice(["", "", "", " # c", "  #c", "   "])
        if as_list:
            dash = pad + "-" + " " * rng.randint(1, 3)
            if rng.random() < 0.4:  # `- key: value` (or a nested block)
                col = len(dash)
                if nested:
                    out.append(f"{dash}{key}:{comment}")
                    inner = col + rng.choice([0, step]) if rng.random() < 0.5 else col + step
                    block(rng, inner, depth + 1, out, inner == col or rng.random() < 0.5)
                else:
                    out.append(f"{dash}{key}: {value(rng)}{comment}")
                if rng.random() < 0.5:
                    out.append(" " * col + f"{rng.choice(SCALARS)}: {value(rng)}")
            else:
                out.append(f"{dash}{value(rng)}{comment}")
        elif nested:
            out.append(f"{pad}{key}:{comment}")
            same = rng.random() < 0.3
            block(
                rng, indent if same else indent + step, depth + 1, out, same or rng.random() < 0.5
            )
        else:
            out.append(f"{pad}{key}:{' ' * rng.randint(1, 3)}{value(rng)}{comment}")


def document(rng: random.Random) -> str:
    out: list = []
    block(rng, rng.choice([0, 0, 0, 2]), 0, out, rng.random() < 0.3)
    text = "\n".join(out) + rng.choice(["\n", "", "\n\n", "\n# end\n"])
    for _ in range(rng.choice([0, 0, 1, 2])):  # near-misses
        i = rng.randrange(len(text) + 1)
        kind = rng.random()
        if kind < 0.4:
            text = text[:i] + rng.choice(MUTATIONS) + text[i:]
        elif kind < 0.6:
            text = text[:i] + text[i + 1 :]
        elif kind < 0.75:  # a line twice: duplicate keys, mostly
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            lines.insert(j, lines[j])
            text = "\n".join(lines)
        else:
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            lines[j] = rng.choice(["", " ", "  "]) + lines[j][rng.choice([0, 0, 1, 2]) :]
            text = "\n".join(lines)
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n")
    return text


def test_fuzz():
    rng = random.Random(18)
    fast = 0
    for _ in range(3_000):
        text = document(rng)
        limits = {}
        if rng.random() < 0.2:
            limits = {"max_depth": rng.randint(1, 6), "max_nodes": rng.randint(1, 40)}
        if rng.random() < 0.2:
            limits["scalar_keys"] = tuple(rng.sample(SCALARS, 5))
        fast += compare(text, **limits)
    assert fast > 1_000  # most documents are in the subset; the rest are near-misses


def test_compose_reads_big_specs_from_the_lines(monkeypatch):
    def events(*args):
        raise AssertionError("composed from libyaml's events")

    monkeypatch.setattr(yamlnodes, "_compose_events", events)
    root = yamlnodes.compose(spec_text(10_000))
    assert len(root.get("layers")) == 10_000
