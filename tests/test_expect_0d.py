"""`expect.output: []` is the shape of a 0-d output (a `sum` or `mean` over every dim);
anything else that is not a list is still refused, and mismatches say which is 0-d."""

import textwrap

import pytest
from conftest import cli_runner

from layercalc.cli import main


def check(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    r = cli_runner(env={"NO_COLOR": "1", "GITHUB_ACTIONS": None}).invoke(
        main, ["check", str(path), "--format", "parsable"], catch_exceptions=False
    )
    return r, str(path)


@pytest.mark.parametrize(
    "layers",
    [
        "[sum]",
        "[mean]",
        "[amax]",
        "[{mean: {dim: [0, 1, 2]}}]",
        "[{linear: {out_features: 1}}, sum]",
    ],
)
def test_a_0d_output_meets_an_empty_shape(tmp_path, layers):
    r, _ = check(
        tmp_path,
        f"""\
        input: [2, 3, 4]
        layers: {layers}
        expect: {{output: []}}
        """,
    )
    assert r.exit_code == 0, r.output
    assert r.stdout == ""


def test_an_empty_shape_for_a_named_0d_output(tmp_path):
    r, path = check(
        tmp_path,
        """\
        input: [2, 3]
        layers:
          - linear: {out_features: 4, name: fc}
          - sum: {name: total}
        outputs: [fc, total]
        expect:
          output: {fc: [2, 4], total: []}
        """,
    )
    assert r.exit_code == 0, r.output
    r, path = check(
        tmp_path,
        """\
        input: [2, 3]
        layers:
          - linear: {out_features: 4, name: fc}
          - sum: {name: total}
        outputs: [fc, total]
        expect:
          output: {fc: [], total: []}
        """,
    )
    assert r.exit_code == 1
    assert r.stdout == (
        f"{path}:7:16: error: output 'fc': expected [], got "
        "[2, 4] (hint: the network's output 'fc' is [2, 4]) [expect-output]\n"
    )


def test_an_empty_shape_for_an_output_with_dims_fails_clearly(tmp_path):
    r, path = check(
        tmp_path,
        """\
        input: [2, 3]
        layers: [{linear: {out_features: 4}}]
        expect: {output: []}
        """,
    )
    assert r.exit_code == 1
    assert r.stdout == (
        f"{path}:3:18: error: output: expected [], got [2, 4] "
        "(hint: [] is the shape of a 0-d output; this output has 2 dims) [expect-output]\n"
    )


def test_a_shape_with_dims_for_a_0d_output_fails_clearly(tmp_path):
    r, path = check(
        tmp_path,
        """\
        input: [2, 3]
        layers: [sum]
        expect: {output: [1]}
        """,
    )
    assert r.exit_code == 1
    assert r.stdout == (
        f"{path}:3:18: error: output: expected [1], got [] "
        "(hint: this output is 0-d, shape []; the expectation has 1 dim) [expect-output]\n"
    )


@pytest.mark.parametrize("value,col", [("", 10), ("~", 11), ("3", 11), ("'[]'", 11)])
def test_what_is_not_a_list_is_still_refused(tmp_path, value, col):
    r, path = check(
        tmp_path,
        f"""\
        input: [2, 3]
        layers: [sum]
        expect:
          output: {value}
        """,
    )
    assert r.exit_code == 1
    assert r.stdout == (
        f"{path}:4:{col}: error: expect.output must be a shape "
        "such as [1, 10] ([] for a 0-d output) [bad-expect]\n"
    )


def test_the_input_may_still_not_be_empty(tmp_path):
    r, path = check(
        tmp_path,
        """\
        input: []
        layers: [sum]
        """,
    )
    assert r.exit_code == 1
    assert f"{path}:1:8: error: " in r.stdout and "[bad-input]" in r.stdout


def test_the_schema_takes_an_empty_output_but_not_an_empty_input():
    jsonschema = pytest.importorskip("jsonschema")
    from layercalc.schema import spec_schema

    validator = jsonschema.Draft7Validator(spec_schema())
    ok = {"input": [2, 3], "layers": ["sum"], "expect": {"output": []}}
    named = {"input": [2, 3], "layers": ["sum"], "expect": {"output": {"0": []}}}
    assert not list(validator.iter_errors(ok))
    assert not list(validator.iter_errors(named))
    assert list(validator.iter_errors({"input": [], "layers": ["sum"]}))
