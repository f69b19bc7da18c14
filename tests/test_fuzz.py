"""Fuzzing (issue 7, point 3): random and mutated specs through every spec command.

The property, for `shape`, `params` and `check` in each of their formats: the exit code
is 0 or 1, no exception escapes (no traceback), and every error diagnostic carries a
line and column. The normal suite runs a fixed, derandomized number of examples
(``FUZZ_EXAMPLES`` scales it); ``benchmarks/fuzz_long.py --examples 50000`` runs the same
strategies for longer with fresh randomness.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from functools import lru_cache
from pathlib import Path

import click
import yaml
from conftest import cli_runner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layercalc.cli import main
from layercalc.cli.entry import fast_args
from layercalc.cli.entry import main as entry
from layercalc.layers import REGISTRY

REPO = Path(__file__).resolve().parents[1]
SCALE = float(os.environ.get("FUZZ_EXAMPLES_SCALE", "1"))

TEXT_DIAG = re.compile(r"^\S.*?:\d+:\d+: (error|warning): .* \[[a-z0-9-]+\]$")
GITHUB_DIAG = re.compile(r"^::(error|warning) file=[^\n]*,line=\d+,col=\d+::")


# -- the commands under test ----------------------------------------------------------


@lru_cache(maxsize=None)
def commands() -> tuple:
    """(name, formats) of each spec command present: shape, params, check."""
    ctx = click.Context(main)
    out = []
    for name in ("shape", "params", "check"):
        if name not in main.list_commands(ctx):
            continue
        cmd = main.get_command(ctx, name)
        fmt = next((p for p in cmd.params if p.name == "fmt"), None)
        formats = tuple(fmt.type.choices) if fmt is not None else (None,)
        out.append((name, formats))
    return tuple(out)


def run_spec(data: bytes, command: str, fmt: str | None):
    """Run ``layercalc COMMAND - --format FMT`` on ``data`` (on stdin) and assert the
    property. Returns the click Result."""
    args = [command, "-"] + (["--format", fmt] if fmt else [])
    result = cli_runner().invoke(main, args, input=data, catch_exceptions=True)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise AssertionError(f"{command} --format {fmt} raised on:\n{data!r}\n\n{tb}")
    assert result.exit_code in (0, 1), (command, fmt, result.exit_code, result.output, data)
    assert "Traceback (most recent call last)" not in result.output
    for stream in (result.stdout, result.stderr):  # nothing from the spec reaches raw
        raw = {c for c in stream if not c.isprintable() and c != "\n"}
        assert not raw, (command, fmt, raw, stream, data)
    errors = _located_errors(result, fmt, command)
    if result.exit_code == 1:
        assert errors, (command, fmt, result.output, data)
    if fast_args(args) is not None:  # the executable answers this one without click
        assert _via_entry(args, data) == (result.stdout, result.stderr, result.exit_code)
    return result


def _via_entry(args, data: bytes):
    """What the executable's click-free path prints for ``args``, stdin ``data``."""
    runner = cli_runner()
    with runner.isolation(input=data) as (out, err, _):
        try:
            entry(args)
            code = 0
        except SystemExit as exc:
            code = exc.code
        return out.getvalue().decode(), err.getvalue().decode(), code


def _located_errors(result, fmt, command=None) -> list:
    """The error diagnostics in the output; asserts that each carries a line."""
    if command == "check" and fmt == "csv":  # file,passed,line,column,severity,...
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows[0][:5] == ["file", "passed", "line", "column", "severity"], rows[0]
        errors = [r for r in rows[1:] if r[4] == "error"]
        assert all(int(r[2]) >= 1 and int(r[3]) >= 1 for r in errors), errors
        return errors
    if command == "check" and fmt == "markdown":  # | File | Passed | Line | Column | ...
        cells = [line.split(" | ") for line in result.stdout.splitlines()[2:]]
        errors = [c for c in cells if len(c) > 4 and c[4] == "error"]
        assert all(int(c[2]) >= 1 and int(c[3]) >= 1 for c in errors), errors
        return errors
    if fmt == "json":
        payload = json.loads(result.stdout)
        payloads = payload if isinstance(payload, list) else [payload]
        errors = []
        for p in payloads:
            for d in p.get("errors", []) + p.get("warnings", []):
                assert isinstance(d["line"], int) and d["line"] >= 1, d
                assert isinstance(d["column"], int) and d["column"] >= 1, d
                if d.get("severity", "error") == "error":
                    errors.append(d)
        return errors
    errors = []
    for line in result.output.splitlines():
        if fmt == "github":
            if line.startswith("::error") or line.startswith("::warning"):
                assert GITHUB_DIAG.match(line), line
                errors += [line] if line.startswith("::error") else []
        elif ": error: " in line and not line.startswith(" ") and " | " not in line[:12]:
            # every format but json and github (check's human one too): FILE:LINE:COL: ...
            # lines, then (human) the source line "N | ..." and an indented hint
            assert TEXT_DIAG.match(line), line
            errors.append(line)
    return errors


# -- random specs from a grammar of layer entries --------------------------------------

TYPE_NAMES = sorted(REGISTRY.canonical)
SMALL = st.integers(1, 8)
INTS = st.one_of(
    SMALL,
    SMALL,
    st.integers(-3, 70),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**48, 2**62, 2**63, 2**64, 10**30]),
)
EXPRS = st.sampled_from(
    [
        "c",
        "c * 2",
        "c // 2",
        "c / 2",
        "c / 3",
        "2 ** c",
        "2 ** 70",
        "max(1, c - 9)",
        "min(c, 3)",
        "floor(c / 3)",
        "ceil(c / 3)",
        "round(2.5)",
        "abs(-c)",
        "c / 0",
        "c % 0",
        "foo",
        "c +",
        "().__class__",
        "__import__('os')",
        "[c for c in (1,)]",
        "lambda: 1",
        "'a' * 3",
        "9 ** 9 ** 9",
        "-1",
        "c - c",
        "same",
        "valid",
        "nearest",
        "bilinear",
        "zeros",
        "reflect",
        "sizes",
        "sizes * 3",
        "flag",
        "w",
        "w * 2",
        ".inf",
        "-.nan",
        "1e400",
        "(" * 120 + "1" + ")" * 120,
    ]
)
FLOATS = st.one_of(
    st.sampled_from([0.0, 0.5, 1.5, 2.0, -0.5, 1e-5, 1e300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(INTS, INTS, EXPRS, FLOATS, st.booleans(), st.none(), st.text(max_size=6))
VALUES = st.one_of(
    SCALARS,
    SCALARS,
    SCALARS,
    st.lists(st.one_of(SMALL, INTS, EXPRS, st.none()), max_size=5),
    st.dictionaries(st.sampled_from(["a", "b", "type"]), SCALARS, max_size=2),
)
# texts that must never reach a terminal raw: escapes, line breaks, C1, separators, bidi
HOSTILE_TEXT = [
    "\x1b]0;title\x07",
    "\x1b[2J",
    "a\bb",
    "\x00",
    "\x7f",
    "a\nb.yaml:1:1: error: forged",
    "\r::error::x",
    "\x85",
    "\x9b31m",
    "a\u2028b",
    "\u202eevil",
    "[bold red]x[/]",
]
NAMES = st.one_of(
    st.sampled_from(
        [
            "a",
            "b",
            "c1",
            "x",
            "input",
            "output",
            "a.b",
            "",
            "0",
            "1",
            "blk",
            "with space",
            *HOSTILE_TEXT,
        ]
    ),
    st.integers(0, 3),
)


def _arg_values(arg, bad: bool):
    """Plausible values for ``arg``; with ``bad``, sometimes anything."""
    kind = arg.kind
    if kind == "bool":
        good = st.booleans()
    elif kind == "choice":
        good = st.sampled_from(list(arg.words) or ["zeros"])
    elif kind in ("float", "scale"):
        good = st.sampled_from([0.1, 0.5, 1e-5, 1.0, 2, 2.0])
    elif kind in ("size", "padding", "ints", "opt_ints", "shape"):
        good = st.one_of(SMALL, st.lists(st.one_of(SMALL, st.just(-1)), min_size=1, max_size=4))
        if arg.words:
            good = st.one_of(good, st.sampled_from(list(arg.words)))
    elif arg.name in ("p", "dim", "start_dim", "end_dim"):
        good = st.integers(-2, 3)
    else:
        good = st.one_of(SMALL, st.sampled_from(["c", "c * 2", "c // 2", "max(1, c // 4)"]))
    if kind in ("int", "size") and arg.name.endswith(
        ("channels", "features", "groups", "parameters", "embeddings")
    ):
        good = st.one_of(good, st.sampled_from([3, 6, 12, 16]))
    return st.one_of(good, good, good, VALUES) if bad else good


@st.composite
def layer_entry(draw, depth=0, bad=True):
    choice = draw(st.integers(0, 19))
    if choice == 0:
        type_name = draw(
            st.sampled_from(
                [
                    "blk",
                    "sequential",
                    "nosuchlayer",
                    "Conv2D",
                    "batch_norm",
                    "conv",
                    "max_pool",
                    "dense",
                    "cat",
                ]
                + HOSTILE_TEXT
                if bad
                else ["blk", "sequential", "Conv2D", "conv", "batch_norm", "dense"]
            )
        )
    else:
        type_name = draw(st.sampled_from(TYPE_NAMES))
    lt = REGISTRY.get(type_name)
    args = {}
    if type_name == "sequential":
        if depth < 2:
            args["layers"] = draw(
                st.lists(layer_entry(depth + 1, bad), min_size=0 if bad else 1, max_size=3)
            )
    elif type_name == "blk":
        if draw(st.booleans()):
            args["w"] = draw(VALUES if bad else SMALL)
    elif lt is not None:
        for arg in lt.args:
            if arg.name.startswith("in_") or arg.name == "num_features":
                if not (bad and draw(st.integers(0, 3)) == 0):
                    continue  # inferred from the input
            if arg.required or draw(st.integers(0, 3)) == 0:
                if not bad or draw(st.integers(0, 15)) > 0:  # sometimes a required one is missing
                    args[arg.name] = draw(_arg_values(arg, bad))
    if bad and draw(st.integers(0, 9)) == 0:
        args[draw(st.sampled_from(["bogus", "out_chanels", "kernel", "p", *HOSTILE_TEXT]))] = draw(
            VALUES
        )
    meta = draw(st.integers(0, 12))
    if meta == 1:
        args["name"] = draw(NAMES if bad else st.sampled_from(["a", "b", "c1", "x", "y"]))
    elif meta == 2 and bad:
        args["from"] = draw(st.one_of(NAMES, st.lists(NAMES, max_size=3)))
    elif meta == 2:
        args["from"] = "input"
    elif meta == 3:
        args["repeat"] = draw(
            st.one_of(
                st.integers(1, 3), st.sampled_from([0, 10**6, "c", "2**70"] if bad else [2, "c"])
            )
        )
    elif meta == 4:
        args["trainable"] = draw(st.one_of(st.booleans(), VALUES) if bad else st.booleans())
    style = draw(st.integers(0, 5))
    if not args and style < 2:
        return type_name
    if style == 5:
        return {"type": type_name, **args}
    return {type_name: args or None}


GOOD_SHAPES = st.one_of(
    st.lists(st.integers(1, 12), min_size=2, max_size=4),
    st.lists(st.sampled_from([1, 2, 3, 8, 16, 32]), min_size=2, max_size=5),
)
SHAPES = st.one_of(
    GOOD_SHAPES,
    GOOD_SHAPES,
    GOOD_SHAPES,
    st.lists(st.one_of(INTS, EXPRS), min_size=0, max_size=6),
    SCALARS,
)


@st.composite
def random_spec(draw) -> bytes:
    """A spec from the grammar; half of them use plausible values only, so that many get
    through to the layer rules and the renderers."""
    bad = draw(st.booleans())
    doc = {}
    if draw(st.integers(0, 9)) > 0:
        doc["vars"] = {
            "c": draw(st.one_of(SMALL, SMALL, VALUES) if bad else SMALL),
            "flag": draw(st.booleans()),
            "sizes": draw(st.lists(SMALL, min_size=1, max_size=3)),
        }
    if draw(st.integers(0, 3)) == 0:  # spec texts shown in titles, captions, check output
        doc["name"] = draw(st.sampled_from(HOSTILE_TEXT))
        doc["description"] = draw(st.sampled_from(HOSTILE_TEXT))
    doc["input"] = draw(SHAPES if bad else GOOD_SHAPES)
    if draw(st.integers(0, 3)) == 0:
        doc["blocks"] = {
            "blk": {
                "args": {"w": draw(st.one_of(st.none(), SMALL))},
                "layers": draw(st.lists(layer_entry(1, bad), min_size=1, max_size=3)),
            }
        }
    if draw(st.integers(0, 5)) == 0:
        doc["dtype"] = draw(
            st.sampled_from(
                ["float32", "float16", "int8", "float128", 3]
                if bad
                else ["float16", "bfloat16", "float64"]
            )
        )
    doc["layers"] = draw(st.lists(layer_entry(0, bad), min_size=1, max_size=6))
    if bad and draw(st.integers(0, 5)) == 0:
        doc["outputs"] = draw(st.lists(NAMES, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        optional = {
            "output": SHAPES if bad else GOOD_SHAPES,
            "params": st.one_of(INTS, st.text(max_size=4)) if bad else SMALL,
            "max_params": st.sampled_from(["3M", "1K", "0", "x", 10] if bad else ["3M"]),
            "max_macs": st.sampled_from(["200M", "1G", "-1", 5] if bad else ["1G"]),
            "max_param_memory": st.sampled_from(
                ["12MiB", "1KB", "lots", 7] if bad else ["12MiB", "1 GB"]
            ),
        }
        if bad:
            optional["bogus"] = SCALARS
        doc["expect"] = draw(st.fixed_dictionaries({}, optional=optional))
    if bad and draw(st.integers(0, 15)) == 0:
        doc[draw(st.sampled_from(["layer", "inputs", "nmae", "lint"]))] = draw(VALUES)
    order = draw(st.permutations(list(doc)))
    doc = {k: doc[k] for k in order}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True).encode(
        "utf-8"
    )


# -- mutated specs ---------------------------------------------------------------------

HOSTILE_SEEDS = [
    b"input: [1, 3]\nlayers:\n  - relu\n",
    b"vars:\n  a: &a [1, 2]\n  b: *a\ninput: [1, 3]\nlayers: [relu]\n",
    b"input: [1, 3, 8, 8]\nlayers:\n  - &l {conv2d: {out_channels: 4, kernel_size: 3}}\n"
    b"  - {sequential: {layers: [*l]}}\n",
    b"input: [1, 3]\nblocks:\n  b:\n    args: {n: null}\n    layers:\n      - linear: "
    b"{out_features: n}\nlayers:\n  - b: {n: 4, repeat: 3}\n",
    b"input: [1, 3]\nlayers:\n  - relu: {repeat: 99}\n",
]


@lru_cache(maxsize=None)
def seed_specs() -> tuple:
    """The bytes of every spec in specs/ and the tests' YAML cases, and a few small
    hostile seeds."""
    paths = sorted(REPO.glob("specs/*.yaml")) + sorted(REPO.glob("tests/**/*.yaml"))
    seeds = []
    for p in paths:
        try:
            seeds.append(p.read_bytes())
        except OSError:  # pragma: no cover - a file removed while the suite runs
            pass
    return tuple(seeds + HOSTILE_SEEDS)


NUMBERS = [
    b"0",
    b"-1",
    b"1",
    b"2",
    b"3",
    b"7",
    b"64",
    b"2147483648",
    b"99999999999999999999999",
    b"1.5",
    b"1e400",
    b"-0",
    b"x",
    b"2**64",
    b"9 ** 9 ** 9",
    b".nan",
    b"''",
]
SNIPPETS = [
    b"\t",
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&a ",
    b"*a",
    b"!!python/none ",
    b"#",
    b"'",
    b'"',
    b"\n",
    b"  ",
    b"---\n",
    b"? ",
    b"|\n",
    b",",
    b"\x00",
    b"\xff",
    b"\xe9",
    b"\x07",
    b"<<: ",
    b"%YAML 1.1\n",
    b"*",
    b"&",
    b'"\\e]0;t\\a"',
    b'"\\r\\n::error::x"',
    b'"\\x9b\\u2028\\u202e"',
    b"\x1b[2J",
    b"\xc2\x85",
    b"\r",
]
MUTATIONS = (
    "delete_line",
    "duplicate_line",
    "swap_chars",
    "change_number",
    "insert_tab",
    "truncate",
    "insert_snippet",
    "replace_byte",
    "indent_line",
    "dedent_line",
    "swap_lines",
)


def mutate(data: bytes, op: str, i: int, j: int, payload: bytes) -> bytes:
    if not data:
        return payload
    lines = data.split(b"\n")
    li = i % len(lines)
    pos = i % (len(data) + 1)
    if op == "delete_line":
        del lines[li]
    elif op == "duplicate_line":
        lines.insert(li, lines[li])
    elif op == "swap_lines":
        lj = j % len(lines)
        lines[li], lines[lj] = lines[lj], lines[li]
    elif op == "indent_line":
        lines[li] = b"  " + lines[li]
    elif op == "dedent_line":
        lines[li] = lines[li][2:] if lines[li].startswith(b"  ") else lines[li][1:]
    elif op == "swap_chars":
        if len(data) >= 2:
            p = min(pos, len(data) - 2)
            return data[:p] + data[p + 1 : p + 2] + data[p : p + 1] + data[p + 2 :]
        return data
    elif op == "change_number":
        spans = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?", data)]
        if not spans:
            return data
        a, b = spans[j % len(spans)]
        return data[:a] + NUMBERS[i % len(NUMBERS)] + data[b:]
    elif op == "insert_tab":
        return data[:pos] + b"\t" + data[pos:]
    elif op == "truncate":
        return data[:pos]
    elif op == "insert_snippet":
        return data[:pos] + payload + data[pos:]
    elif op == "replace_byte":
        if pos < len(data):
            return data[:pos] + payload[:1] + data[pos + 1 :]
        return data + payload
    return b"\n".join(lines)


@st.composite
def mutated_spec(draw) -> bytes:
    data = draw(st.sampled_from(seed_specs()))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(MUTATIONS))
        i = draw(st.integers(0, 2**20))
        j = draw(st.integers(0, 2**20))
        payload = draw(st.one_of(st.sampled_from(SNIPPETS), st.binary(min_size=1, max_size=4)))
        data = mutate(data, op, i, j, payload)
    return data


@st.composite
def command_and_format(draw):
    name, formats = draw(st.sampled_from(commands()))
    return name, draw(st.sampled_from(formats))


# -- the suite -------------------------------------------------------------------------


def _settings(n: int):
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


@_settings(900)
@given(spec=random_spec(), which=command_and_format())
def test_fuzz_random_specs(spec, which):
    run_spec(spec, *which)


@_settings(1100)
@given(spec=mutated_spec(), which=command_and_format())
def test_fuzz_mutated_specs(spec, which):
    run_spec(spec, *which)


@_settings(150)
@given(spec=random_spec())
def test_fuzz_every_command_agrees(spec):
    """The same spec through every command: valid for all or for none (check may also
    fail on expectations and lint)."""
    codes = {name: run_spec(spec, name, formats[0]).exit_code for name, formats in commands()}
    assert codes["shape"] == codes["params"], codes
    if "check" in codes and codes["shape"] == 1:
        assert codes["check"] == 1, codes


def test_mutations_are_deterministic():
    data = b"a: 1\nb: [2, 3]\n"
    for op in MUTATIONS:
        assert mutate(data, op, 5, 1, b"!") == mutate(data, op, 5, 1, b"!")
    assert mutate(data, "change_number", 0, 1, b"") == b"a: 1\nb: [0, 3]\n"
    assert mutate(data, "delete_line", 0, 0, b"") == b"b: [2, 3]\n"
