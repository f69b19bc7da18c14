"""Hostile and broken specs (issue 7, point 1): every one is refused with exit code 1 and a
located diagnostic ``FILE:LINE:COL: error: message``, in the table and JSON formats.

No test asserts on wall-clock time: the bounds are structural (depth, alias, length,
magnitude and layer-count limits that stop the work before it grows). The bombs also run
in a child process whose peak memory is read with :mod:`resource`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import cli_runner

from layercalc.cli import main

REPO = Path(__file__).resolve().parents[1]
DIAG = re.compile(  # SPEC.md section 6: FILE:LINE:COL: error: MESSAGE, the [code] last
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: "
    r"(?P<message>.*) \[(?P<code>[a-z0-9-]+)\]$",
    re.M,
)
MEMORY_BOUND_MB = 200
VALUES_BOUND_MB = 300


def _write(tmp_path: Path, content, name="spec.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = textwrap.dedent(content).encode("utf-8")
    path.write_bytes(content)
    return path


def _stderr(result) -> str:
    # click >= 8.2 keeps stderr apart (result.stderr); older versions mix it into output
    try:
        return result.stderr
    except ValueError:  # pragma: no cover - click < 8.2 without mix_stderr=False
        return result.output


def refused(tmp_path, content, code, line, col=None, command="shape", extra=()):
    """Run ``command`` on the spec in the table and JSON formats; both must exit 1 with
    exactly one error ``code`` at ``line`` (and ``col``). ``line`` may be a set of
    acceptable lines. Returns the message."""
    path = _write(tmp_path, content)
    runner = cli_runner()
    lines = line if isinstance(line, (set, frozenset)) else {line}
    # table format: the diagnostic goes to stderr
    result = runner.invoke(main, [command, str(path), *extra], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    found = DIAG.findall(_stderr(result))
    assert len(found) == 1, _stderr(result)
    file, got_line, got_col, message, got_code = found[0]
    assert file == str(path)
    assert got_code == code, _stderr(result)
    assert int(got_line) in lines, _stderr(result)
    if col is not None:
        assert int(got_col) == col, _stderr(result)
    assert "Traceback" not in result.output
    # JSON format: an object with an `errors` list on stdout
    result = runner.invoke(
        main, [command, str(path), "--format", "json", *extra], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert payload["file"] == str(path)
    (err,) = payload["errors"]
    assert err["code"] == code
    assert err["line"] == int(got_line) and err["column"] == int(got_col)
    assert err["message"] == message
    return message


def peak_rss_mb(path: Path, timeout=20, command="shape") -> tuple[int, str, float]:
    """Run ``python -m layercalc COMMAND PATH`` in a child; (exit code, stderr, peak MB).

    An intermediate interpreter spawns the real child, so RUSAGE_CHILDREN measures that
    child alone and not every process this test session ever started."""
    probe = (
        "import resource, subprocess, sys, json\n"
        "p = subprocess.run([sys.executable, '-m', 'layercalc', sys.argv[3], sys.argv[1]],\n"
        "                   capture_output=True, text=True, timeout=float(sys.argv[2]))\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([p.returncode, p.stderr, rss]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path), str(timeout), command],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        env=env,
        cwd=str(path.parent),
    )
    assert out.returncode == 0, out.stderr
    rc, stderr, rss = json.loads(out.stdout)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return rc, stderr, rss * scale / 2**20


# -- expressions reaching beyond arithmetic -------------------------------------------

LINEAR = """\
    vars:
      c: 4
    input: [1, 3]
    layers:
      - linear: {{out_features: "{expr}"}}
    """


@pytest.mark.parametrize(
    "expr, code",
    [
        ("foo * 2", "unknown-name"),
        ("__builtins__", "unknown-name"),
    ],
)
def test_name_outside_vars(tmp_path, expr, code):
    msg = refused(tmp_path, LINEAR.format(expr=expr), code, 5, 28)
    assert "unknown name" in msg


def test_block_argument_is_not_visible_outside_its_block(tmp_path):
    spec = """\
        blocks:
          b:
            args: {width: 8}
            layers: [linear: {out_features: width}]
        input: [1, 3]
        layers:
          - b
          - linear: {out_features: width * 2}
        """
    refused(tmp_path, spec, "unknown-name", 8, 28)


@pytest.mark.parametrize("expr", ["().__class__", "c.real", "(1).__class__.__bases__"])
def test_attribute_access(tmp_path, expr):
    msg = refused(tmp_path, LINEAR.format(expr=expr), "bad-expression", 5, 28)
    assert "attribute" in msg


def test_subscript(tmp_path):
    spec = """\
        vars:
          sizes: [1, 2]
        input: [1, 3]
        layers:
          - linear: {out_features: "sizes[0]"}
        """
    assert "subscripts" in refused(tmp_path, spec, "bad-expression", 5, 28)


@pytest.mark.parametrize(
    "expr",
    ["__import__('os')", "eval('1')", "open('x')", "getattr(c, 'real')", "max(c, key=abs)", "c()"],
)
def test_calls_of_other_names(tmp_path, expr):
    refused(tmp_path, LINEAR.format(expr=expr.replace("'", "''")), "bad-expression", 5, 28)


def test_lambda(tmp_path):
    refused(tmp_path, LINEAR.format(expr="(lambda: 1)()"), "bad-expression", 5, 28)
    assert "lambdas" in refused(tmp_path, LINEAR.format(expr="lambda: 1"), "bad-expression", 5, 28)


@pytest.mark.parametrize(
    "expr", ["[x for x in (1, 2)]", "sum(x for x in (1, 2))", "{x: 1 for x in (1,)}"]
)
def test_comprehensions(tmp_path, expr):
    refused(tmp_path, LINEAR.format(expr=expr), "bad-expression", 5, 28)


@pytest.mark.parametrize("expr", ["''abc'' * 3", "f''{c}''", "b''x''"])
def test_strings(tmp_path, expr):
    refused(tmp_path, LINEAR.format(expr=expr), "bad-expression", 5, 28)


def test_list_var_is_not_repeated_by_arithmetic(tmp_path):
    # `sizes * 10**9` must not build a list of 2e9 entries before failing
    spec = """\
        vars:
          sizes: [1, 2]
          big: sizes * 10**9
        input: [1, 3]
        layers: [relu]
        """
    assert "not a number" in refused(tmp_path, spec, "bad-expression", 3, 8)


def test_mode_word_block_argument_is_not_repeated(tmp_path):
    spec = """\
        blocks:
          b:
            args: {p: same}
            layers: [linear: {out_features: p * 1000000000}]
        input: [1, 3]
        layers: [b]
        """
    assert "not a number" in refused(tmp_path, spec, "bad-expression", 4, 37)


# -- absurd arithmetic ----------------------------------------------------------------

VAR = """\
    vars:
      x: {expr}
    input: [1, 3]
    layers: [relu]
    """


@pytest.mark.parametrize(
    "expr",
    [
        "9 ** 9 ** 9",
        "9 ** 9 ** 9 ** 9",
        "2 ** 10000",
        "10 ** 18 * 10 ** 18",
        "(2 ** 62) * 4",
        "-(2 ** 63) - 2",
        "max(1, 10 ** 30)",
        "1.5 ** 1e300",
        "99999999999999999999999999",
    ],
)
def test_absurd_arithmetic_is_too_large(tmp_path, expr):
    refused(tmp_path, VAR.format(expr=expr), "too-large", 2, 6)


@pytest.mark.parametrize("expr", ["1 << 100000", "2 ^ 3", "~1", "1 is 1", "1 in 2"])
def test_shifts_and_other_operators(tmp_path, expr):
    refused(tmp_path, VAR.format(expr=expr), "bad-expression", 2, 6)


@pytest.mark.parametrize(
    "expr",
    [
        "1e308 * 10",
        ".inf",
        "-.inf",
        ".nan",
        "1" * 600,
        "(" * 300 + "1" + ")" * 300,
        "-" * 490 + "1",
    ],
)
def test_non_finite_long_and_deep_expressions(tmp_path, expr):
    code = "too-large" if expr.startswith("1e308") else "bad-expression"
    if expr.startswith("-" * 10):
        # 490 unary minus signs evaluate fine (to 1); they must not overflow the stack
        path = _write(tmp_path, VAR.format(expr=f"'{expr}'"))
        result = cli_runner().invoke(main, ["shape", str(path)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return
    refused(tmp_path, VAR.format(expr=f"'{expr}'"), code, 2, 6)


def test_integer_literal_beyond_python_digit_limit(tmp_path):
    # int() refuses strings above 4300 digits with ValueError; that must not escape
    spec = f"input: [1, {'1' * 5000}]\nlayers: [relu]\n"
    refused(tmp_path, spec, "bad-expression", 1, 12)


def test_integer_literal_beyond_2_63(tmp_path):
    spec = "input: [1, 3]\nlayers:\n  - linear: {out_features: 100000000000000000000000}\n"
    refused(tmp_path, spec, "too-large", 3, 28)


# -- YAML alias bombs and deep nesting ------------------------------------------------


def billion_laughs_vars() -> str:
    lines = ["vars:", "  a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines + ["input: [1, 3]", "layers: [relu]"]) + "\n"


def billion_laughs_layers() -> str:
    lines = ["input: [1, 3]", "layers:", "  - &l0 relu"]
    for i in range(1, 10):
        lines.append(
            f"  - &l{i} {{sequential: {{layers: [" + ", ".join([f"*l{i - 1}"] * 10) + "]}}"
        )
    return "\n".join(lines) + "\n"


def test_billion_laughs_under_vars(tmp_path):
    msg = refused(tmp_path, billion_laughs_vars(), "alias-limit", 3, 17)
    assert "*a0" in msg


def test_billion_laughs_under_layers(tmp_path):
    msg = refused(tmp_path, billion_laughs_layers(), "alias-limit", 4, 37)
    assert "*l0" in msg


def test_alias_used_once_is_fine(tmp_path):
    spec = "vars:\n  k: &k 3\n  j: *k\ninput: [1, 3]\nlayers: [linear: {out_features: j}]\n"
    result = cli_runner().invoke(main, ["shape", str(_write(tmp_path, spec))])
    assert result.exit_code == 0, result.output


def test_alias_cycle(tmp_path):
    spec = "input: [1, 3]\nlayers: &a [relu, {sequential: {layers: *a}}]\n"
    assert "cycle" in refused(tmp_path, spec, "yaml-syntax", 2, 41)


def deep_lists(n: int) -> str:
    return "input: [1, 3]\nlayers: " + "[" * n + "]" * n + "\n"


@pytest.mark.parametrize("n", [101, 10_000, 100_000])
def test_deep_nesting_lists(tmp_path, n):
    refused(tmp_path, deep_lists(n), "too-deep", 2, 9 + 99)


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
@pytest.mark.parametrize("n", [101, 999, 1000, 1001, 5000])
def test_deep_nesting_whichever_parser_stops_first(monkeypatch, loader, n):
    # libyaml >= 0.2.6 stops flow nesting at 1,000 levels with its own scanner error,
    # before layercalc's events see the 101st level; either way the refusal is
    # layercalc's too-deep at the 101st level
    from layercalc import yamlnodes
    from layercalc.errors import SpecError

    if loader == "pure-python":
        monkeypatch.setattr(yamlnodes, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):  # pragma: no cover
        pytest.skip("PyYAML built without libyaml")
    for text, col in (
        (deep_lists(n), 9 + 99),
        ("input: [1, 3]\nlayers: " + "{a: " * n + "1" + "}" * n, 9 + 4 * 99),
        ("a:\n  b: " + "[" * n, 6 + 98),
    ):
        with pytest.raises(SpecError) as err:
            yamlnodes.compose(text)
        assert (err.value.code, err.value.line, err.value.column) == ("too-deep", 2, col)


def test_deep_nesting_mappings(tmp_path):
    spec = "input: [1, 3]\nlayers: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n"
    refused(tmp_path, spec, "too-deep", 2, 9 + 4 * 99)


def test_deep_nesting_block_style(tmp_path):
    spec = "input: [1, 3]\nlayers:\n" + "".join(" " * i + "-\n" for i in range(2, 200))
    refused(tmp_path, spec, "too-deep", 102, 102)


def test_nesting_limit_is_exact(tmp_path):
    # 100 levels are allowed (the root mapping + 99 lists); the 101st is refused
    spec = "input: [1, 3]\nlayers: " + "[" * 99 + "]" * 99 + "\n"
    result = cli_runner().invoke(main, ["shape", str(_write(tmp_path, spec))])
    assert "too-deep" not in result.output


def test_aliases_count_toward_the_depth_limit(tmp_path):
    # each alias nests the previous anchor one level deeper than the file shows
    lines = ["input: [1, 3]", "layers:", "  - &l0 relu"]
    for i in range(1, 400):
        lines.append(f"  - &l{i} {{sequential: {{layers: [*l{i - 1}]}}}}")
    msg = refused(tmp_path, "\n".join(lines) + "\n", "too-deep", 36)
    assert "*l32" in msg


def values_bomb(section: str, n: int = 1_000_001) -> str:
    """A section holding n small values: a million-value budget is passed at the last."""
    head = "input: [1, 3]\nlayers: [relu]\n"
    if section == "vars":
        return head + "vars:\n" + "".join(f"  v{i}: {i}\n" for i in range(n // 2 + 1))
    return head + f"{section}:\n" + "  - 1\n" * n


@pytest.mark.parametrize(
    "name, build, line, code",
    [
        # 10 values before the first item; the 1,000,001st value is refused where it stands
        ("lint-values", lambda: values_bomb("lint"), 3 + 1_000_001 - 10, "too-large"),
        ("var-values", lambda: values_bomb("vars"), 4 + (1_000_001 - 11) // 2, "too-large"),
        ("vars", billion_laughs_vars, 3, "alias-limit"),
        ("layers", billion_laughs_layers, 4, "alias-limit"),
        ("lists", lambda: deep_lists(100_000), 2, "too-deep"),
        (
            "repeat",
            lambda: "input: [1, 3]\nlayers:\n  - relu: {repeat: 10**12}\n",
            3,
            "too-many-layers",
        ),
    ],
)
def test_bombs_stay_within_memory(tmp_path, name, build, line, code):
    path = _write(tmp_path, build(), f"bomb_{name}.yaml")
    rc, stderr, mb = peak_rss_mb(path, timeout=90)  # a bound on memory here, not on time
    assert rc == 1, stderr
    assert f"{path.name}:{line}:" in stderr and "error: " in stderr and f"[{code}]" in stderr, (
        stderr
    )
    assert "Traceback" not in stderr
    # a file refused at the value budget has composed a million values (~200 bytes each)
    bound = VALUES_BOUND_MB if name.endswith("-values") else MEMORY_BOUND_MB
    assert mb < bound, f"peak RSS {mb:.0f} MB"


# -- repeat counts and block expansions -----------------------------------------------


def test_block_repeated_inside_repeated_block(tmp_path):
    spec = """\
        input: [1, 3]
        blocks:
          inner:
            layers:
              - relu: {repeat: 1000}
          outer:
            layers:
              - inner: {repeat: 1000}
        layers:
          - outer
        """
    refused(tmp_path, spec, "too-many-layers", 8, 25)


def test_repeat_ten_to_the_twelve(tmp_path):
    spec = "input: [1, 3]\nlayers:\n  - relu: {repeat: 10**12}\n"
    assert "1000000000000" in refused(tmp_path, spec, "too-many-layers", 3, 20)


def test_repeat_beyond_2_63(tmp_path):
    spec = "input: [1, 3]\nlayers:\n  - relu: {repeat: 10**30}\n"
    refused(tmp_path, spec, "too-large", 3, 20)


def test_layer_bound_is_configurable(tmp_path):
    spec = "input: [1, 3]\nlayers:\n  - relu: {repeat: 50}\n"
    refused(tmp_path, spec, "too-many-layers", 3, 20, extra=("--max-layers", "10"))
    result = cli_runner().invoke(main, ["shape", str(_write(tmp_path, spec)), "--max-layers", "50"])
    assert result.exit_code == 0, result.output


def test_too_many_plain_entries(tmp_path):
    spec = "input: [1, 3]\nlayers:\n" + "  - relu\n" * 30
    refused(tmp_path, spec, "too-many-layers", 23, 5, extra=("--max-layers", "20"))


def test_block_doubling_points_at_the_block_use(tmp_path):
    # 2**30 layers through blocks that each use the previous one twice: refused at the
    # bound, at the outermost block use (not at a relu inside b0)
    lines = ["input: [1, 3]", "blocks:", "  b0: {layers: [relu, relu]}"]
    lines += [f"  b{i}: {{layers: [b{i - 1}, b{i - 1}]}}" for i in range(1, 30)]
    lines.append("layers: [b29]")
    refused(
        tmp_path,
        "\n".join(lines) + "\n",
        "too-many-layers",
        set(range(4, 34)),
        extra=("--max-layers", "1000"),
    )


def test_long_block_chain_is_located(tmp_path):
    lines = ["input: [1, 3]", "blocks:", "  b0: {layers: [relu]}"]
    lines += [f"  b{i}: {{layers: [b{i - 1}]}}" for i in range(1, 2000)]
    lines.append("layers: [b1999]")
    refused(tmp_path, "\n".join(lines) + "\n", "too-deep", set(range(2, 2004)) - {1})


# -- element counts -------------------------------------------------------------------


def test_input_elements_overflow(tmp_path):
    spec = "input: [1, 2**31-1, 2**31-1, 2**31-1]\nlayers:\n  - relu\n"
    # at the input, or at the first layer whose output holds the elements
    refused(tmp_path, spec, "too-large", {1, 3})


def test_input_dim_beyond_int32(tmp_path):
    refused(tmp_path, "input: [1, 2**31]\nlayers: [relu]\n", "too-large", 1, 12)


def test_linear_out_features_huge(tmp_path):
    spec = "input: [1, 3]\nlayers:\n  - linear: {out_features: 2**60}\n"
    refused(tmp_path, spec, "too-large", 3)


def test_conv_channels_huge(tmp_path):
    spec = "input: [1, 3, 64, 64]\nlayers:\n  - conv2d: {out_channels: 2**40, kernel_size: 1}\n"
    refused(tmp_path, spec, "too-large", 3)


def test_linear_weight_elements_overflow(tmp_path):
    spec = "input: [1, 2**31-1]\nlayers:\n  - linear: {out_features: 2**31-1}\n"
    refused(tmp_path, spec, "too-large", 3)


# -- verify refuses work beyond its memory estimate (issue 7, point 2) ------------------


def _has_command(name: str) -> bool:
    import click

    return name in main.list_commands(click.Context(main))


VERIFY_BOMBS = {
    "activations": "input: [64, 3, 1024, 1024]\nlayers:\n"
    "  - conv2d: {out_channels: 64, kernel_size: 3, padding: 1}\n  - relu\n",
    "weights": "input: [1, 2**20]\nlayers:\n  - linear: {out_features: 2**20}\n",
    "embedding": "input: [1, 3]\nlayers:\n"
    "  - embedding: {num_embeddings: 2**30, embedding_dim: 64}\n",
}


@pytest.mark.skipif(not _has_command("verify"), reason="no verify command yet")
@pytest.mark.parametrize("case", sorted(VERIFY_BOMBS))
def test_verify_refuses_beyond_memory_limit(tmp_path, case):
    msg = refused(tmp_path, VERIFY_BOMBS[case], "memory-limit", 1, 8, command="verify")
    assert "GiB" in msg
    rc, stderr, mb = peak_rss_mb(tmp_path / "spec.yaml", command="verify")
    assert rc == 1 and "error: " in stderr and "[memory-limit]" in stderr, stderr
    assert mb < MEMORY_BOUND_MB, f"peak RSS {mb:.0f} MB"


# -- files that are not YAML specs ----------------------------------------------------


def test_binary_file(tmp_path):
    data = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4
    assert "binary" in refused(tmp_path, data, "not-text", 1, 8)


def test_nul_byte_in_text(tmp_path):
    refused(tmp_path, b"input: [1, 3]\nlayers: [relu]\nname: a\x00b\n", "not-text", 3, 8)


def test_not_utf8(tmp_path):
    data = "input: [1, 3]\nname: caf\u00e9\nlayers: [relu]\n".encode("latin-1")
    assert "0xe9" in refused(tmp_path, data, "not-utf8", 2, 10)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path, codec):
    """YAML allows them (PowerShell's `>` writes UTF-16); they were refused as binary. A
    diagnostic shows the decoded line."""
    text = "input: [1, 3]\nlayers:\n  - linear: {out_features: 3, bais: true}\n"
    bom = {"utf-16-be": b"\xfe\xff", "utf-32-be": b"\x00\x00\xfe\xff"}.get(codec, b"")
    path = _write(tmp_path, bom + text.encode(codec))
    result = cli_runner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:31: error: " in result.output and "[unknown-argument]" in result.output
    assert "3 |   - linear: {out_features: 3, bais: true}" in result.output
    path.write_bytes(bom + text.replace("bais", "bias").encode(codec))
    assert cli_runner().invoke(main, ["shape", str(path)]).exit_code == 0


def test_utf16_without_a_byte_order_mark_or_broken_is_refused(tmp_path):
    data = "input: [1, 3]\nlayers: [relu]\n".encode("utf-16-le")
    refused(tmp_path, data, "not-text", 1)  # NUL bytes: binary
    assert "UTF-16-LE" in refused(tmp_path, b"\xff\xfei\x00\x00\xd8", "not-utf8", 1)


@pytest.mark.parametrize("data", [b"", b"   \n\n\t\n"])
def test_empty_file(tmp_path, data):
    refused(tmp_path, data, "empty-spec", 1, 1)


@pytest.mark.parametrize("data", [b"# just a comment\n", b"~\n", b"---\n...\n"])
def test_file_without_document(tmp_path, data):
    refused(tmp_path, data, "empty-spec", 1, 1)


def test_utf8_bom_is_fine(tmp_path):
    path = _write(tmp_path, b"\xef\xbb\xbfinput: [1, 3]\nlayers: [relu]\n")
    assert cli_runner().invoke(main, ["shape", str(path)]).exit_code == 0


# -- top level not a mapping ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [("- input\n- layers\n", 1), ("just a string\n", 1), ("\n\n42\n", 3), ("[1, 2]\n", 1)],
)
def test_top_level_not_a_mapping(tmp_path, text, line):
    refused(tmp_path, text, "not-a-mapping", line, 1)


# -- YAML syntax errors at PyYAML's line and column -----------------------------------


def pyyaml_mark(text: str) -> tuple[int, int]:
    """Where the pure-Python PyYAML loader puts the error, 1-based: its problem, or,
    when that is the end of the text, the start of what is never closed (a bracket or
    quote: its context), not a line past the file's last."""
    try:
        yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and not text[mark.index :].strip():
            mark = exc.context_mark
        return mark.line + 1, mark.column + 1
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        return line, exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    raise AssertionError("PyYAML accepted the text")


SYNTAX_ERRORS = {
    "tab-indent": "input: [1, 3]\nlayers:\n\t- relu\n",
    "tab-after-dash": "input: [1, 3]\nlayers:\n  - relu\n  -\tlinear: {out_features: 3}\n",
    "tab-before-key": "input: [1, 3]\n\tlayers: [relu]\n",
    "unclosed-bracket": "input: [1, 3\nlayers: [relu]\n",
    "wrong-bracket": "input: [1, 3]\nlayers: [relu}\n",
    "bad-indent": "input: [1, 3]\nlayers:\n  - relu\n - sigmoid\n",
    "colon-in-value": "input: [1, 3]\nlayers: [relu]\nname: a: b\n",
    "unclosed-quote": 'input: [1, 3]\nname: "abc\nlayers: [relu]\n',
    "control-char": "input: [1, 3]\nname: a\x07b\nlayers: [relu]\n",
    "control-after-utf8": "input: [1, 3]\nname: \u00e9\u00e9\u00e9\u00e9\x07\nlayers: [relu]\n",
    "control-after-emoji": "input: [1, 3]\nname: \U0001f600\U0001f600\x07\nlayers: [relu]\n",
    "unknown-alias": "input: [1, 3]\nlayers: [*nothing]\n",
    "stray-document-end": "input: [1, 3]\nlayers: [relu]\n...\nfoo\n",
}


@pytest.mark.parametrize("case", sorted(SYNTAX_ERRORS))
def test_yaml_syntax_errors_at_pyyaml_position(tmp_path, case):
    text = SYNTAX_ERRORS[case]
    line, col = pyyaml_mark(text)
    msg = refused(tmp_path, text, "yaml-syntax", line, col)
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text, line, col",
    [
        ("name: x\ninput: [1, 4]\nlayers:\n  - linear: {out_features: 4\n  - relu\n", 4, 13),
        ('name: x\ninput: "[1, 4]\nlayers:\n  - relu\n', 2, 8),
        ("input: [1, 4]\nlayers: [relu\n\n\n", 2, 9),
    ],
)
def test_what_is_never_closed_is_shown_where_it_opens(tmp_path, text, line, col):
    """An unclosed bracket or quote was reported past the file's last line."""
    msg = refused(tmp_path, text, "yaml-syntax", line, col)
    assert "never closed" in msg
    result = cli_runner().invoke(main, ["check", str(_write(tmp_path, text))])
    assert "close the bracket or quote that starts here" in result.output


def test_tab_gets_the_tab_hint(tmp_path):
    path = _write(tmp_path, SYNTAX_ERRORS["tab-indent"])
    result = cli_runner().invoke(main, ["shape", str(path)])
    assert "replace the tab" in _stderr(result)


def test_second_document(tmp_path):
    refused(tmp_path, "input: [1, 3]\nlayers: [relu]\n---\ninput: [1]\n", "yaml-syntax", 3, 1)


@pytest.mark.parametrize(
    "text, col",
    [
        ("input: !!python/object/apply:os.system ['true']\nlayers: [relu]\n", 8),
        ("input: !!python/name:os.system\nlayers: [relu]\n", 8),
        ("input: !custom [1, 3]\nlayers: [relu]\n", 8),
        ("input: !!binary aGVsbG8=\nlayers: [relu]\n", 8),
    ],
)
def test_yaml_tags_refused(tmp_path, text, col):
    refused(tmp_path, text, "yaml-tag", 1, col)


def test_duplicate_key(tmp_path):
    refused(tmp_path, "input: [1, 3]\nlayers: [relu]\ninput: [1, 4]\n", "duplicate-key", 3, 1)


def test_complex_key(tmp_path):
    refused(tmp_path, "input: [1, 3]\nlayers: [relu]\n? [a]\n: 1\n", "yaml-syntax", 3, 3)


# -- several files: one bad file does not stop the others -----------------------------


def test_bad_file_among_good_ones(tmp_path):
    good = _write(tmp_path, "input: [1, 3]\nlayers: [relu]\n", "good.yaml")
    bad = _write(tmp_path, billion_laughs_vars(), "bad.yaml")
    result = cli_runner().invoke(
        main, ["shape", str(bad), str(good), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == 1
    first, second = json.loads(result.stdout)
    assert first["errors"][0]["code"] == "alias-limit"
    assert second["output"] == [1, 3]


# -- writes (issue 7, point 4): nothing outside the paths the user named --------------


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    out["."] = (root.stat().st_mtime_ns, 0)
    return out


def test_commands_write_nothing(tmp_path, monkeypatch):
    work = tmp_path / "work"
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    for d in (work, home, tmp):
        d.mkdir()
    spec = work / "net.yaml"
    spec.write_text(
        "vars: {c: 8}\ninput: [1, 3, 16, 16]\nlayers:\n"
        "  - conv2d: {out_channels: c, kernel_size: 3, padding: 1}\n"
        "  - batch_norm2d\n  - relu\n  - flatten\n  - linear: {out_features: 10}\n"
        "expect: {output: [1, 10]}\n"
    )
    broken = work / "broken.yaml"
    broken.write_text("input: [1, 3]\nlayers:\n\t- relu\n")
    os.utime(spec, ns=(10**18, 10**18))
    os.utime(broken, ns=(10**18, 10**18))
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = _snapshot(tmp_path)
    runner = cli_runner()
    import click

    available = main.list_commands(click.Context(main))  # commands may load lazily
    commands = [c for c in ("shape", "params", "check", "verify") if c in available]
    assert {"shape", "params"} <= set(commands)
    ran = 0
    for command in commands:
        for fmt in ("table", "json", "markdown", "csv"):
            for target in (spec, broken):
                result = runner.invoke(main, [command, str(target.name), "--format", fmt])
                if result.exit_code == 2:  # this command has no such format
                    continue
                assert result.exit_code in (0, 1), result.output
                assert result.exception is None or isinstance(result.exception, SystemExit), (
                    result.exception
                )
                ran += 1
    assert ran >= 8
    assert _snapshot(tmp_path) == before


# -- hostile --set values (the command line is as untrusted as the file in CI) --------


def _set_result(tmp_path, spec, value):
    path = _write(tmp_path, spec)
    result = cli_runner().invoke(main, ["shape", str(path), "--set", value])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1, result.output
    assert DIAG.search(_stderr(result)), _stderr(result)
    return result


@pytest.mark.parametrize(
    "value", ["c=9**9**9", "c=(lambda:1)()", "c=__import__('os')", "c=1e999", "c=[1, 2]"]
)
def test_set_hostile_values(tmp_path, value):
    _set_result(
        tmp_path, "vars: {c: 4}\ninput: [1, 3]\nlayers:\n  - linear: {out_features: c}\n", value
    )


def test_set_integer_beyond_digit_limit(tmp_path):
    _set_result(
        tmp_path,
        "vars: {c: 4}\ninput: [1, 3]\nlayers:\n  - linear: {out_features: c}\n",
        "c=" + "1" * 5000,
    )


@pytest.mark.parametrize("value", ["s=.inf", "s=.nan"])
def test_set_non_finite_scale(tmp_path, value):
    _set_result(
        tmp_path,
        "vars: {s: 2}\ninput: [1, 3, 8, 8]\nlayers:\n  - upsample: {scale_factor: s}\n",
        value,
    )


# -- geometry that is legal but enormous ------------------------------------------------

HUGE_KERNEL = """\
    input: [1, 1, 1000000000]
    layers:
      - conv1d: {out_channels: 1, kernel_size: 999999000, padding: 1}
      - conv1d: {out_channels: 1, kernel_size: 3, stride: 2}
    """


HUGE_TRANSPOSED = """\
    input: [1, 1, 1000000]
    layers:
      - conv_transpose1d: {out_channels: 1, kernel_size: 999999, stride: 1000, padding: 5,
                           dilation: 7}
      - max_pool1d: {kernel_size: 999999, stride: 3, padding: 499999}
      - avg_pool1d: {kernel_size: 99999, stride: 99998, padding: 49999, ceil_mode: true}
    """


# 30,000 taps 30,001 apart, 30,000 apart: ~30,000 residue classes to walk per count
MANY_CLASSES = """\
    input: [1, 1, 2000000000]
    layers:
      - conv1d: {out_channels: 1, kernel_size: 30000, dilation: 30001, stride: 30000}
    """


@pytest.mark.parametrize(
    "spec", [HUGE_KERNEL, HUGE_TRANSPOSED, MANY_CLASSES], ids=["conv", "transposed", "dilated"]
)
@pytest.mark.parametrize("command", ["check", "explain", "rf", "cost"])
def test_a_million_tap_kernel_is_answered_not_walked(tmp_path, spec, command):
    """Lint and explanations count covered positions and taps in closed form, and the
    exact receptive-field trace of transposed convs stops at a step budget ("too costly
    to trace exactly"): walking 10^9 taps or positions would run for hours (the child is
    killed at the timeout, which fails the test)."""
    rc, stderr, _ = peak_rss_mb(
        _write(tmp_path, textwrap.dedent(spec)), timeout=30, command=command
    )
    assert rc == 0, stderr


# -- node budget and free text ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, col",
    [
        ("description: [a, b]\ninput: [1, 3]\nlayers: [relu]\n", 1, 14),
        ("name: {a: 1}\ninput: [1, 3]\nlayers: [relu]\n", 1, 7),
        ("input: [1, 3]\ndescription:\n" + "  - x\n" * 10 + "layers: [relu]\n", 3, 3),
        ("vars: {d: &d [1, 2]}\ninput: [1, 3]\ndescription: *d\nlayers: [relu]\n", 1, 11),
        ("input: [1, 3]\nblocks:\n  b: {description: [x], layers: [relu]}\nlayers: [b]\n", 3, 20),
    ],
)
def test_name_and_description_are_text(tmp_path, text, line, col):
    assert "must be text" in refused(tmp_path, text, "bad-value", line, col)


def test_node_budget_is_exact_and_located():
    from layercalc.errors import SpecError
    from layercalc.yamlnodes import compose

    text = "a: [" + ", ".join(["1"] * 10) + "]\nb:\n" + "  - 2\n" * 20
    # root + a + [ + 10 values + b + [ = 15 values before the list's items
    compose(text, max_nodes=15 + 20)
    with pytest.raises(SpecError) as err:
        compose(text, max_nodes=15 + 19)
    assert (err.value.code, err.value.line, err.value.column) == ("too-large", 22, 5)


def test_node_budget_follows_the_layer_limit(tmp_path):
    from layercalc.spec import Limits

    assert Limits().max_nodes == 1_000_000
    assert Limits(max_layers=500_000).max_nodes == 5_000_000


# -- smaller gaps (issue 12, point 8) ---------------------------------------------------


@pytest.mark.parametrize(
    "bound", ["'1,,,,K'", "'1,0000'", "'1__0'", "'10000000000T'", "9223372036854775808", "'2**63'"]
)
def test_expect_bounds_are_numbers_below_2_63(tmp_path, bound):
    spec = f"input: [1, 3]\nlayers: [relu]\nexpect:\n  max_params: {bound}\n"
    path = _write(tmp_path, spec)
    result = cli_runner().invoke(main, ["check", "--format", "parsable", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}:4:15: error" in result.output, result.output


@pytest.mark.parametrize(
    "bound, value",
    [("'1,000,000'", 10**6), ("'1_000K'", 10**6), ("9223372036854775807", 2**63 - 1)],
)
def test_expect_bounds_that_are_well_formed(bound, value):
    from layercalc.units import parse_count

    assert parse_count(bound.strip("'")) == value


@pytest.mark.parametrize(
    "arg", ["name", "from", "repeat", "trainable", "type", "input", "output", "'2x'"]
)
def test_block_argument_names_must_be_reachable(tmp_path, arg):
    spec = (
        f"input: [1, 3]\nblocks:\n  b:\n    args: {{{arg}: 1}}\n    layers: [relu]\n"
        "layers: [relu]\n"
    )  # refused even where the block is never used
    refused(tmp_path, spec, "bad-block", 4, 12)


def test_duplicate_outputs(tmp_path):
    spec = "input: [1, 3]\nlayers: [{name: a, type: relu}, relu]\noutputs: [a, '1', a]\n"
    assert "twice" in refused(tmp_path, spec, "bad-outputs", 3, 19)


def test_boolean_var_is_a_value_as_in_arithmetic(tmp_path):
    spec = (
        "vars: {t: true, f: false}\ninput: [1, t + 2]\nlayers:\n"
        "  - linear: {out_features: t, bias: 1 - f}\n"
        "  - linear: {out_features: 2 * t, bias: f}\n"
    )
    result = cli_runner().invoke(main, ["params", "--format", "json", str(_write(tmp_path, spec))])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["input"] == [1, 3]
    assert [(x["weights"], x["bias"]) for x in data["layers"]] == [(3, 1), (2, 0)]
    # a literal true where a number belongs stays a mistake; 2 is no boolean
    refused(tmp_path, "input: [1, 3]\nlayers: [linear: {out_features: true}]\n", "bad-value", 2, 33)
    refused(
        tmp_path,
        "vars: {f: false}\ninput: [1, 3]\nlayers: [linear: {out_features: 2, bias: 2 - f}]\n",
        "bad-value",
        3,
        42,
    )


@pytest.mark.parametrize("command", ["shape", "cost", "rf"])
def test_long_tables_are_cut_alike(tmp_path, command):
    # 1,000 layers: the table shows the first and last 200 around one row that says how
    # many are hidden (as `shape` does); csv has every layer
    spec = (
        "input: [1, 3, 8, 8]\nlayers:\n" + "  - conv2d: {out_channels: 3, kernel_size: 1}\n" * 1000
    )
    path = _write(tmp_path, spec)
    table = cli_runner().invoke(main, [command, str(path)])
    assert table.exit_code == 0, table.output
    assert "600 more rows" in table.output
    names = re.findall(r"^│ (\d+) ", table.output, re.M)
    assert names == [str(i) for i in [*range(200), *range(800, 1000)]]
    rows = cli_runner().invoke(main, [command, "--format", "csv", str(path)]).output
    assert "\n999," in rows or ",999," in rows


@pytest.mark.parametrize("before", ["", "input: [1, 3]\nlayers: [relu]\n...\n"])
def test_yaml_directives_are_bounded(tmp_path, before):
    # libyaml compares each %TAG handle with every earlier one: 60,000 took 11 s
    tags = "".join(f"%TAG !t{i}! tag:x{i}:\n" for i in range(60_000))
    spec = before + tags + "---\ninput: [1, 3]\nlayers: [relu]\n"
    refused(tmp_path, spec, "too-large", before.count("\n") + 17, 1)
    ok = (
        "".join(f"%TAG !t{i}! tag:x{i}:\n" for i in range(16)) + "---\n"
        "input: [1, 3]\nlayers: [relu]\n"
    )
    result = cli_runner().invoke(main, ["shape", str(_write(tmp_path, ok, "ok.yaml"))])
    assert result.exit_code == 0, result.output


def test_a_long_outputs_list_is_linear(tmp_path):
    # the duplicate check compared each name with every earlier one (30,000: 72 s)
    names = ", ".join(f"r{i}" for i in range(30_000))
    spec = f"input: [1, 3]\nlayers: [relu]\noutputs: [{names}, r7]\n"
    assert "listed twice" in refused(tmp_path, spec, "bad-outputs", 3, 11 + len(names) + 2)
    # in a child with a timeout, far above the fraction of a second it takes: a hang
    # detector, not a timing test
    rc, stderr, _ = peak_rss_mb(_write(tmp_path, spec, "outputs.yaml"), timeout=30)
    assert rc == 1 and "error: " in stderr and "[bad-outputs]" in stderr, stderr


@pytest.mark.parametrize("section, value", [("expect", "1"), ("lint", "off")])
def test_problems_of_one_section_are_cut_at_100(tmp_path, section, value):
    keys = "".join(f"  k{i}: {value}\n" for i in range(150))
    path = _write(tmp_path, f"input: [1, 3]\nlayers: [relu]\n{section}:\n{keys}")
    result = cli_runner().invoke(main, ["check", "--format", "parsable", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 101, result.output
    assert lines[-1].startswith(f"{path}:104:3: error: more than 100 problems in {section}")


def test_expect_output_names_are_cut_at_100(tmp_path):
    names = "".join(f"    o{i}: [1, 3]\n" for i in range(150))
    spec = (
        f"input: [1, 3]\nlayers: [relu, {{name: a, type: relu}}]\noutputs: ['0', a]\n"
        f"expect:\n  output:\n{names}"
    )
    result = cli_runner().invoke(
        main, ["check", "--format", "parsable", str(_write(tmp_path, spec))]
    )
    assert result.output.count("\n") == 101 and "too-many-problems" in result.output


@pytest.mark.parametrize(
    "expr, message",
    [
        ("max(1)", "max() takes two or more numbers"),
        ("min(4)", "min() takes two or more numbers"),
        ("floor(1, 2)", "floor() takes one argument"),
    ],
)
def test_function_arity_is_said_plainly(tmp_path, expr, message):
    # max(1) said "'int' object is not iterable"
    spec = f"input: [1, 3]\nlayers: [linear: {{out_features: '{expr}'}}]\n"
    assert message in refused(tmp_path, spec, "bad-expression", 2, 33)
