"""`layercalc check`: expectations, lint rules, output formats, exit codes, locations."""

import json
import textwrap

import pytest
from conftest import cli_runner, net_of

from layercalc.analyses.expectations import check_expectations
from layercalc.analyses.lint import RULES, lint
from layercalc.cli import main
from layercalc.units import QuantityError, parse_bytes, parse_count

GOOD = """\
input: [1, 3, 32, 32]
layers:
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1, bias: false}
  - batch_norm2d
expect: {output: [1, 16, 32, 32], params: 464}
"""

BAD = """\
input: [1, 3, 32, 32]
layers:
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
  - batch_norm2d
expect:
  output: [1, 16, 32, 31]
  params: 464
"""

WARN_ONLY = """\
input: [1, 8, 7, 7]
layers:
  - max_pool2d: {kernel_size: 2}
"""


def run(*args, input=None, **env):
    env = {"NO_COLOR": "1", "GITHUB_ACTIONS": None, "COLUMNS": "120", **env}
    return cli_runner(env=env).invoke(main, ["check", *args], input=input, catch_exceptions=False)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Write specs into a temporary working directory (paths in output stay short)."""
    monkeypatch.chdir(tmp_path)

    def write(**specs):
        for name, text in specs.items():
            path = tmp_path / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))

    return write


# -- formats, exact ----------------------------------------------------------------------


def test_passing_file(files):
    files(**{"good.yaml": GOOD})
    r = run("good.yaml")
    assert r.exit_code == 0
    assert r.output == "ok   good.yaml\n1 file checked, all passed\n"


HUMAN = """\
FAIL bad.yaml
bad.yaml:3:5: warning: conv2d '0' has a bias (16 parameters) that the \
batch_norm2d '1' right after it cancels: normalising subtracts each channel's mean, bias \
included [bias-before-norm]
  3 |   - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
    |     ^
  = hint: set `bias: false`; the norm's own shift (beta) does the bias's job
bad.yaml:6:11: error: output: expected [1, 16, 32, 31], got [1, 16, 32, 32] \
[expect-output]
  6 |   output: [1, 16, 32, 31]
    |           ^
  = hint: differs at dim 3: 31 vs 32
bad.yaml:7:11: error: params: expected 464, got 480 (16 more) [expect-params]
  7 |   params: 464
    |           ^
  = hint: if the change is intended, set `params: 480`
ok   good.yaml
1 of 2 files failed: 2 errors, 1 warning
"""


def test_human_several_files_one_bad(files):
    files(**{"bad.yaml": BAD, "good.yaml": GOOD})
    r = run("bad.yaml", "good.yaml")
    assert r.exit_code == 1
    assert r.output == HUMAN


PARSABLE = """\
bad.yaml:3:5: warning: conv2d '0' has a bias (16 parameters) that the \
batch_norm2d '1' right after it cancels: normalising subtracts each channel's mean, bias \
included (hint: set `bias: false`; the norm's own shift (beta) does the bias's job) \
[bias-before-norm]
bad.yaml:6:11: error: output: expected [1, 16, 32, 31], got [1, 16, 32, 32] \
(hint: differs at dim 3: 31 vs 32) [expect-output]
bad.yaml:7:11: error: params: expected 464, got 480 (16 more) (hint: if the \
change is intended, set `params: 480`) [expect-params]
"""


def test_parsable(files):
    files(**{"bad.yaml": BAD, "good.yaml": GOOD})
    r = run("bad.yaml", "good.yaml", "--format", "parsable")
    assert r.exit_code == 1
    assert r.output == PARSABLE


GITHUB = """\
::warning file=bad.yaml,line=3,col=5::conv2d '0' has a bias (16 parameters) that the \
batch_norm2d '1' right after it cancels: normalising subtracts each channel's mean, bias \
included [bias-before-norm]%0Ahint: set `bias: false`; the norm's own shift (beta) does the \
bias's job
::error file=bad.yaml,line=6,col=11::output: expected [1, 16, 32, 31], got [1, 16, 32, 32] \
[expect-output]%0Ahint: differs at dim 3: 31 vs 32
::error file=bad.yaml,line=7,col=11::params: expected 464, got 480 (16 more) \
[expect-params]%0Ahint: if the change is intended, set `params: 480`
"""


def test_github(files):
    files(**{"bad.yaml": BAD, "good.yaml": GOOD})
    r = run("bad.yaml", "good.yaml", "--format", "github")
    assert r.exit_code == 1
    assert r.output == GITHUB


def test_github_is_the_default_under_github_actions(files):
    files(**{"bad.yaml": BAD, "good.yaml": GOOD})
    r = run("bad.yaml", "good.yaml", GITHUB_ACTIONS="true")
    assert r.exit_code == 1
    assert r.output == GITHUB
    # an explicit --format still wins
    assert run("bad.yaml", "--format", "parsable", GITHUB_ACTIONS="true").output.startswith(
        "bad.yaml:3:5: warning: "
    )


def test_github_escapes_property_and_message_data(files):
    files(
        **{
            "a,b:c.yaml": "input: [1, 4]\nlayers: [linear: {out_features: 2}]\n"
            "expect: {params: 100%}\n"
        }
    )
    r = run("a,b:c.yaml", "--format", "github")
    assert r.output.startswith("::error file=a%2Cb%3Ac.yaml,line=3,col=18::")
    assert "100%25" in r.output


def test_json_several_files(files):
    files(**{"bad.yaml": BAD, "good.yaml": GOOD, "broken.yaml": "input: [1, 3]\nlayers: []\n"})
    r = run("bad.yaml", "good.yaml", "broken.yaml", "--format", "json")
    assert r.exit_code == 1
    bad, good, broken = json.loads(r.output)
    assert bad["file"] == "bad.yaml" and bad["output"] == [1, 16, 32, 32]
    assert bad["totals"]["params"] == 480 and bad["passed"] is False
    assert [(e["line"], e["column"], e["code"]) for e in bad["errors"]] == [
        (6, 11, "expect-output"),
        (7, 11, "expect-params"),
    ]
    assert bad["errors"][1]["message"] == "params: expected 464, got 480 (16 more)"
    assert [(w["line"], w["column"], w["code"]) for w in bad["warnings"]] == [
        (3, 5, "bias-before-norm")
    ]
    assert good["errors"] == [] and good["warnings"] == [] and good["passed"] is True
    assert len(good["layers"]) == 2
    assert broken["passed"] is False and "layers" not in broken
    assert [(e["line"], e["code"]) for e in broken["errors"]] == [(2, "bad-layers")]
    # every diagnostic has the same keys, hint null where there is none (help json)
    keys = {"file", "line", "column", "code", "severity", "message", "hint"}
    diags = [d for f in (bad, broken) for d in f["errors"] + f["warnings"]]
    assert all(set(d) == keys for d in diags), diags
    assert any(d["hint"] is None for d in diags) and any(d["hint"] for d in diags)


def test_json_one_file_is_an_object(files):
    files(**{"good.yaml": GOOD})
    r = run("good.yaml", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.output)
    assert data["file"] == "good.yaml" and data["totals"]["params"] == 464


# -- exit codes, several files, unreadable, directories, stdin ---------------------------


def test_unreadable_file_is_an_error_of_that_file_only(files):
    files(**{"good.yaml": GOOD})
    r = run("missing.yaml", "good.yaml", "--format", "parsable")
    assert r.exit_code == 1
    assert r.output == (
        "missing.yaml:1:1: error: cannot read the file: No such "
        "file or directory (hint: check the path) [unreadable]\n"
    )
    r = run("missing.yaml", "good.yaml")
    assert "ok   good.yaml" in r.output and "FAIL missing.yaml" in r.output


def test_invalid_spec_does_not_stop_the_others(files):
    files(**{"a.yaml": "input: [1, 3\n", "b.yaml": BAD, "c.yaml": GOOD})
    r = run("a.yaml", "b.yaml", "c.yaml", "--format", "parsable")
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert lines[0].startswith("a.yaml:") and "error: " in lines[0] and "[yaml-syntax]" in lines[0]
    assert [ln.split(": ")[0] + ":" + ln.rsplit("[", 1)[1].rstrip("]") for ln in lines[1:]] == [
        "b.yaml:3:5:bias-before-norm",
        "b.yaml:6:11:expect-output",
        "b.yaml:7:11:expect-params",
    ]


def test_directories_recurse_into_yaml_files(files):
    files(
        **{
            "specs__a.yaml": GOOD,
            "specs__deep__b.yml": BAD,
            "specs__notes.txt": "x",
            "specs__.hidden__c.yaml": "not: a spec\n",
        }
    )
    r = run("specs", "--format", "parsable")
    assert r.exit_code == 1
    assert {ln.split(":")[0] for ln in r.output.splitlines()} == {"specs/deep/b.yml"}
    r = run("specs")
    assert r.output.splitlines()[0] == "ok   specs/a.yaml"
    assert r.output.splitlines()[1] == "FAIL specs/deep/b.yml"
    assert json.loads(run("specs", "--format", "json").output)[0]["file"] == "specs/a.yaml"


def test_empty_directory_and_unmatched_glob_are_errors(files, tmp_path):
    (tmp_path / "empty").mkdir()
    files(**{"good.yaml": GOOD})
    r = run("empty", "nothing/*.yaml", "good.yaml", "--format", "parsable")
    assert r.exit_code == 1
    assert r.output == (
        "empty:1:1: error: no *.yaml or *.yml files under the directory 'empty' [no-specs]\n"
        "nothing/*.yaml:1:1: error: no file matches 'nothing/*.yaml' [no-specs]\n"
    )


def test_quoted_glob_is_expanded(files):
    files(**{"s__a.yaml": GOOD, "s__b.yaml": GOOD})
    r = run("s/*.yaml")
    assert r.exit_code == 0
    assert r.output.splitlines()[:2] == ["ok   s/a.yaml", "ok   s/b.yaml"]


def test_stdin(files):
    r = run("-", "--format", "parsable", input=BAD)
    assert r.exit_code == 1
    line = r.output.splitlines()[1]
    assert line.startswith("<stdin>:6:11: error: ") and line.endswith("[expect-output]")


def test_usage_errors_exit_2(files):
    assert run().exit_code == 2
    files(**{"good.yaml": GOOD})
    assert run("good.yaml", "--format", "xml").exit_code == 2
    r = run("good.yaml", "--disable", "bias-befor-norm")
    assert r.exit_code == 2 and "did you mean 'bias-before-norm'?" in r.output
    assert (
        run("good.yaml", "--disable", "dominant-linear", "--error", "dominant-linear").exit_code
        == 2
    )
    assert run("good.yaml", "--set", "nonsense").exit_code == 2


def test_set_and_input_overrides_apply(files):
    files(
        **{
            "v.yaml": "vars: {n: 10}\ninput: [1, 4]\nlayers: [linear: {out_features: n}]\n"
            "expect: {output: [1, n], params: 50}\n"
        }
    )
    assert run("v.yaml").exit_code == 0
    r = run("v.yaml", "--set", "n=20", "--format", "parsable")
    assert r.output == (
        "v.yaml:4:34: error: params: expected 50, got 100 "
        "(50 more) (hint: if the change is intended, set `params: 100`) [expect-params]\n"
    )
    assert run("v.yaml", "--input", "2,4", "--format", "parsable").output.startswith(
        "v.yaml:4:18: error: output: expected [1, 10], got [2, 10]"
    )


# -- expectations ------------------------------------------------------------------------

NET = """\
vars: {classes: 10}
input: [2, 8]
layers:
  - linear: {out_features: 100}
  - batch_norm1d
  - linear: {out_features: classes, name: head, trainable: false}
expect:
  {expect}
"""
# params 900 + 200 + 1010 = 2110; trainable 1100; buffers 201; macs 2*800 + 2*1000 = 3600
# param memory 2110 * 4 = 8440 bytes


def expect_diags(expect: str):
    return check_expectations(net_of(NET.replace("{expect}", expect)))


PASSING = [
    "output: [2, 10]",
    "output: [2, classes]",
    "params: 2110",
    "params: 2 * 1055",
    "trainable: 1100",
    "buffers: 201",
    "macs: 3600",
    "max_params: 2110",
    "max_params: 2.2K",
    "max_params: 3M",
    "max_macs: 3600",
    "max_macs: 0.0036M",
    "max_param_memory: 8440",
    "max_param_memory: 8.44KB",
    "max_param_memory: 9KiB",
    "max_param_memory: 1 MiB",
]


@pytest.mark.parametrize("expect", PASSING)
def test_expectation_holds(expect):
    assert expect_diags(expect) == []


FAILING = [
    ("output: [2, 11]", "expect-output", 8, 11, "output: expected [2, 11], got [2, 10]"),
    ("params: 2000", "expect-params", 8, 11, "params: expected 2,000, got 2,110 (110 more)"),
    ("params: 3000", "expect-params", 8, 11, "params: expected 3,000, got 2,110 (890 fewer)"),
    (
        "trainable: 2110",
        "expect-trainable",
        8,
        14,
        "trainable: expected 2,110, got 1,100 (1,010 fewer)",
    ),
    ("buffers: 200", "expect-buffers", 8, 12, "buffers: expected 200, got 201 (1 more)"),
    ("macs: 3599", "expect-macs", 8, 9, "macs: expected 3,599, got 3,600 (1 more)"),
    (
        "max_params: 2K",
        "expect-max-params",
        8,
        15,
        "max_params: at most 2,000 (2K) allowed, got 2,110 (110 over)",
    ),
    (
        "max_params: 2109",
        "expect-max-params",
        8,
        15,
        "max_params: at most 2,109 allowed, got 2,110 (1 over)",
    ),
    (
        "max_macs: 3.5K",
        "expect-max-macs",
        8,
        13,
        "max_macs: at most 3,500 (3.5K) allowed, got 3,600 (100 over)",
    ),
    (
        "max_param_memory: 8KiB",
        "expect-max-param-memory",
        8,
        21,
        (
            "max_param_memory: at most 8,192 bytes (8KiB) allowed, got 8,440 bytes = 8.24 KiB "
            "(248 bytes over)"
        ),
    ),
    (
        "max_param_memory: 8KB",
        "expect-max-param-memory",
        8,
        21,
        (
            "max_param_memory: at most 8,000 bytes (8KB) allowed, got 8,440 bytes = 8.24 KiB "
            "(440 bytes over)"
        ),
    ),
    ("parms: 2110", "unknown-expect", 8, 3, "unknown expectation 'parms'"),
    (
        "max_params: 2MiB",
        "bad-expect",
        8,
        15,
        (
            "expect.max_params: unknown unit 'MiB' in "
            "'2MiB': expected a count such as 3M, 200K or 1.5G"
        ),
    ),
    (
        "max_param_memory: 2M",
        "bad-expect",
        8,
        21,
        (
            "expect.max_param_memory: 'M' is not a "
            "memory unit in '2M'; write MB (powers of 1000) or MiB (powers of 1024)"
        ),
    ),
    ("params: [1]", "bad-expect", 8, 11, "expect.params must be a number"),
    ("output: [2, x]", "unknown-name", 8, 15, None),
]


@pytest.mark.parametrize("expect,code,line,col,message", FAILING, ids=[f[0] for f in FAILING])
def test_expectation_fails(expect, code, line, col, message):
    (d,) = expect_diags(expect)
    assert (d.code, d.line, d.column, d.severity) == (code, line, col, "error")
    if message is not None:
        assert d.message == message


def test_unknown_expectation_suggests_the_closest():
    (d,) = expect_diags("max_param: 3M")
    assert d.hint == "did you mean 'max_params'?"


def test_every_failure_of_one_file_is_reported():
    diags = check_expectations(
        net_of(NET.replace("{expect}", "params: 1\n  macs: 1\n  max_params: 1"))
    )
    assert [(d.code, d.line) for d in diags] == [
        ("expect-params", 8),
        ("expect-macs", 9),
        ("expect-max-params", 10),
    ]


SEVERAL = """\
input: [1, 8]
layers:
  - linear: {name: a, out_features: 4}
  - linear: {name: b, out_features: 2}
outputs: [a, b]
expect:
  output: {a: [1, 4], b: [1, 3], c: [1]}
"""


def test_output_mapping_with_several_outputs():
    diags = check_expectations(net_of(SEVERAL))
    assert [(d.code, d.line, d.column, d.message) for d in diags] == [
        ("expect-output", 7, 26, "output 'b': expected [1, 3], got [1, 2]"),
        (
            "bad-expect",
            7,
            34,
            ("expect.output names 'c', which is not an output of the network (a, b)"),
        ),
    ]
    (d,) = check_expectations(net_of(SEVERAL.replace("{a: [1, 4], b: [1, 3], c: [1]}", "[1, 2]")))
    assert d.code == "bad-expect" and "2 outputs" in d.message


@pytest.mark.parametrize(
    "text,value",
    [
        ("3M", 3_000_000),
        ("200K", 200_000),
        ("1.5G", 1_500_000_000),
        ("12k", 12_000),
        ("1_000", 1000),
        ("7", 7),
    ],
)
def test_parse_count(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize(
    "text,value",
    [
        ("12MiB", 12 * 2**20),
        ("12MB", 12_000_000),
        ("1 GiB", 2**30),
        ("1.5KB", 1500),
        ("100B", 100),
        ("3kib", 3072),
    ],
)
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["12 apples", "M", "1.2.3M"])
def test_parse_rejects(text):
    with pytest.raises(QuantityError):
        parse_bytes(text)


# -- lint rules --------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(RULES))
def test_rule_fires_on_its_bad_example(code):
    found = lint(net_of(RULES[code].bad))
    assert [d.code for d in found] == [code]
    (d,) = found
    assert d.severity == "warning" and d.hint


@pytest.mark.parametrize("code", list(RULES))
def test_good_example_is_silent(code):
    assert lint(net_of(RULES[code].good)) == []


def test_rules_are_documented():
    for code, rule in RULES.items():
        assert code == code.lower() and " " not in code
        assert rule.summary and rule.why and rule.bad != rule.good


LOCATIONS = [
    # (spec, (line, col) of the argument or entry at fault)
    (
        "stride-drops-input",
        ("input: [1, 3, 10]\nlayers:\n  - conv1d: {out_channels: 4, kernel_size: 3, stride: 2}\n"),
        (3, 55),
    ),
    (
        "stride-drops-input",
        "input: [1, 3, 7]\nlayers:\n  - max_pool1d: {kernel_size: 2}\n",
        (3, 31),
    ),
    (
        "bias-before-norm",
        ("input: [2, 8]\nlayers:\n  - linear: {out_features: 4, bias: true}\n  - batch_norm1d\n"),
        (3, 37),
    ),
    (
        "transpose-checkerboard",
        (
            "input: [1, 4, 5]\nlayers:\n  - conv_transpose1d: "
            "{out_channels: 2, kernel_size: 5, stride: 2}\n"
        ),
        (3, 54),
    ),
    (
        "kernel-exceeds-input",
        ("input: [1, 4, 3]\nlayers:\n  - conv1d: {out_channels: 2, kernel_size: 7, padding: 3}\n"),
        (3, 44),
    ),
    (
        "asymmetric-same-padding",
        (
            "input: [1, 4, 9, 9]\nlayers:\n  - conv2d: {out_channels: 2, "
            "kernel_size: [3, 2], padding: same}\n"
        ),
        (3, 44),
    ),
]


@pytest.mark.parametrize("code,spec,where", LOCATIONS, ids=[x[0] for x in LOCATIONS])
def test_rule_locations(code, spec, where):
    found = [d for d in lint(net_of(spec)) if d.code == code]
    assert [(d.line, d.column) for d in found] == [where]


def test_messages_say_the_numbers():
    (d,) = lint(net_of(RULES["stride-drops-input"].bad))
    assert d.message == (
        "max_pool2d '0': kernel 2, stride 2 never reads the last row (row 6) "
        "and the last column (column 6) of its 7x7 input: (size + padding - "
        "kernel) is not a multiple of the stride, and the output size floors"
    )
    assert d.hint.startswith("use an input size of 6 or 8")
    (d,) = lint(net_of(RULES["kernel-exceeds-input"].bad))
    assert "only its centre" in d.message and "1,048,576 of its 1,179,648 weights" in d.message
    (d,) = lint(net_of(RULES["dominant-linear"].bad))
    assert "30,000 inputs x 100 outputs" in d.message and "99.97%" in d.message  # not 100%


def test_stride_rule_ignores_padding_and_skipping_windows():
    # ResNet stem: 224 + 2*3 - 7 = 223 is odd, but only padding is dropped
    assert (
        lint(
            net_of(
                "input: [1, 3, 224, 224]\nlayers:\n  - conv2d: {out_channels: 8, "
                "kernel_size: 7, stride: 2, padding: 3}\n"
            )
        )
        == []
    )
    # 1x1 stride-2 downsampling skips every other input by design
    assert (
        lint(
            net_of(
                "input: [1, 3, 7, 7]\nlayers:\n  - conv2d: {out_channels: 8, "
                "kernel_size: 1, stride: 2}\n"
            )
        )
        == []
    )


def test_bias_rule_needs_every_consumer_to_be_a_norm():
    spec = """\
    input: [1, 3, 8, 8]
    layers:
      - conv2d: {name: c, out_channels: 4, kernel_size: 1}
      - batch_norm2d: {name: bn}
      - add: {from: [bn, c]}
    """
    assert lint(net_of(spec)) == []


def test_finding_in_a_block_is_reported_once():
    spec = """\
    input: [1, 3, 8, 8]
    blocks:
      cbr:
        layers:
          - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}
          - batch_norm2d
    layers:
      - cbr: {repeat: 3}
    """
    (d,) = lint(net_of(spec))
    assert d.code == "bias-before-norm" and (d.line, d.column) == (5, 9)
    assert d.message.endswith("(and 2 more layers built from this entry)")


# -- configuring rules: the spec's `lint:` and the command line --------------------------


def test_spec_can_turn_a_rule_off_or_into_an_error():
    off = RULES["bias-before-norm"].bad + "lint: {bias-before-norm: off}\n"
    assert lint(net_of(off)) == []
    err = RULES["bias-before-norm"].bad + "lint:\n  bias-before-norm: error\n"
    (d,) = lint(net_of(err))
    assert d.severity == "error"
    assert (
        lint(net_of(RULES["bias-before-norm"].bad + "lint: {bias-before-norm: warning}\n"))[
            0
        ].severity
        == "warning"
    )


def test_spec_lint_mistakes_are_errors():
    found = lint(net_of(GOOD + "lint: {bias-befor-norm: off, stride-drops-input: loud}\n"))
    assert [(d.code, d.line, d.column, d.severity) for d in found] == [
        ("unknown-lint-rule", 6, 8, "error"),
        ("bad-lint", 6, 50, "error"),
    ]
    assert found[0].hint == "did you mean 'bias-before-norm'?"
    (d,) = lint(net_of(GOOD + "lint: [bias-before-norm]\n"))
    assert d.code == "bad-lint"


def test_cli_disable_and_error(files):
    files(**{"w.yaml": WARN_ONLY})
    r = run("w.yaml", "--format", "parsable")
    assert r.exit_code == 0 and "warning: " in r.output and "[stride-drops-input]" in r.output
    r = run("w.yaml", "--disable", "stride-drops-input")
    assert r.exit_code == 0 and r.output == "ok   w.yaml\n1 file checked, all passed\n"
    r = run("w.yaml", "--error", "stride-drops-input", "--format", "parsable")
    assert r.exit_code == 1 and r.output.startswith("w.yaml:3:31: error: ")
    assert r.output.splitlines()[0].endswith("[stride-drops-input]")
    r = run("w.yaml", "--disable", "bias-before-norm,stride-drops-input")
    assert r.exit_code == 0 and "stride" not in r.output


def test_command_line_wins_over_the_spec(files):
    files(**{"w.yaml": WARN_ONLY + "lint: {stride-drops-input: error}\n"})
    assert run("w.yaml").exit_code == 1
    assert run("w.yaml", "--disable", "stride-drops-input").exit_code == 0


def test_strict_turns_warnings_into_failures(files):
    files(**{"w.yaml": WARN_ONLY, "good.yaml": GOOD})
    r = run("w.yaml", "good.yaml")
    assert r.exit_code == 0
    assert r.output.splitlines()[0] == "ok   w.yaml"
    assert r.output.splitlines()[-1] == "2 files checked, all passed (0 errors, 1 warning)"
    r = run("w.yaml", "good.yaml", "--strict")
    assert r.exit_code == 1
    assert r.output.splitlines()[0] == "FAIL w.yaml"
    assert r.output.splitlines()[-1] == (
        "1 of 2 files failed: 0 errors, 1 warning (--strict: warnings fail)"
    )
    data = json.loads(run("w.yaml", "--strict", "--format", "json").output)
    assert data["passed"] is False and data["errors"] == [] and len(data["warnings"]) == 1


def test_list_rules():
    r = run("--list-rules")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert [ln.split()[0] for ln in lines if not ln.startswith(" ")] == list(RULES)
    assert max(map(len, lines)) <= 120  # the tests' $COLUMNS


@pytest.mark.parametrize("columns", [80, 200])
def test_list_rules_follows_the_terminal_width(columns):
    r = cli_runner(env={"COLUMNS": str(columns)}).invoke(main, ["check", "--list-rules"])
    lines = r.output.splitlines()
    assert max(map(len, lines)) <= columns  # summaries wrap under themselves
    assert (len(lines) == len(RULES)) == (columns == 200)


def test_repository_specs_pass(monkeypatch):
    import pathlib

    monkeypatch.chdir(pathlib.Path(__file__).parent.parent)
    r = run("specs")
    assert r.exit_code == 0, r.output


def test_lint_stride_tail_agrees_with_walking_the_windows():
    """The stride rule's closed form (inputs past the last window's reach) against the
    position-by-position walk, on random 1-d configurations."""
    import random

    from layercalc.arith import conv_output_size, effective_kernel

    rng = random.Random(5)
    for _ in range(400):
        n, k, s = rng.randint(1, 30), rng.randint(1, 7), rng.randint(1, 4)
        d, p = rng.randint(1, 3), rng.randint(0, 3)
        o = conv_output_size(n, k, s, p, d)
        if o < 1:
            continue
        span = effective_kernel(k, d)
        read = {x * s - p + t * d for x in range(o) for t in range(k)}
        end = (o - 1) * s - p + span
        tail = [i for i in range(n) if i not in read and i >= end]
        assert tail == list(range(max(end, 0), n))


@pytest.mark.parametrize("command", ["check", "verify"])
def test_weights_given_twice_is_a_usage_error(tmp_path, command):
    """The last --weights used to win silently: a run meant for one checkpoint checked
    the other."""
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [1, 4]\nlayers:\n  - linear: {out_features: 2}\n")
    args = [command, str(spec), "--weights", "a.npz", "--weights", "b.npz"]
    r = cli_runner().invoke(main, args)
    assert r.exit_code == 2
    assert "'--weights': given 2 times: one checkpoint per run" in r.output


def test_the_caret_sits_under_the_column_after_full_width_characters(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [1, 4]\nlayers:\n  - linear: {name: 層層層, out_features: x}\n")
    r = cli_runner().invoke(main, ["check", str(spec)])
    source, caret = [x for x in r.output.splitlines() if x.startswith(("  3 |", "    |"))]
    # each full-width character takes two cells: the caret is under the x
    at = source.index("x}")
    assert len(caret) - 1 == at + 3 and caret.endswith("^")  # 3 cells more than chars


def test_weights_may_name_a_model_directory(tmp_path):
    """`--weights DIR`: the checkpoint save_pretrained writes there (sharded index first,
    then model.safetensors, then PyTorch's); a directory without one is a usage error."""
    st = pytest.importorskip("safetensors.numpy")
    import numpy as np

    spec = tmp_path / "s.yaml"
    spec.write_text("input: [1, 4]\nlayers:\n  - linear: {name: fc, out_features: 2}\n")
    model = tmp_path / "model"
    model.mkdir()
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(model)])
    assert r.exit_code == 2 and "holds no model.safetensors.index.json" in r.output
    arrays = {"fc.weight": np.zeros((2, 4), np.float32), "fc.bias": np.zeros(2, np.float32)}
    st.save_file(arrays, str(model / "model.safetensors"))
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(model)])
    assert r.exit_code == 0, r.output
    arrays["fc.weight"] = np.zeros((3, 4), np.float32)
    st.save_file(arrays, str(model / "model.safetensors"))
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(model)])
    assert r.exit_code == 1 and "model.safetensors" in r.output


def test_standard_input_twice_is_read_once():
    """`check - -`: the second `-` is the same spec, not an empty file."""
    text = "input: [1, 4]\nlayers:\n  - linear: {out_features: 2}\n"
    r = cli_runner().invoke(main, ["check", "-", "-"], input=text)
    assert r.exit_code == 0, r.output
    assert r.output.count("ok   <stdin>") == 2


def test_a_checkpoint_with_a_head_and_a_prefix_gets_the_strip_hint(tmp_path):
    """A *ForCausalLM checkpoint (`model.` + the body, and `lm_head`) against a spec of
    the body: the hint names --strip-prefix and the head the spec lacks."""
    import numpy as np

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "input: [1, 4]\nlayers:\n  - linear: {name: a, out_features: 4}\n"
        "  - linear: {name: b, out_features: 4}\n"
    )
    arrays = {
        f"model.{n}.{t}": np.zeros((4, 4) if t == "weight" else 4, np.float32)
        for n in "ab"
        for t in ("weight", "bias")
    }
    arrays["lm_head.weight"] = np.zeros((9, 4), np.float32)
    npz = tmp_path / "w.npz"
    np.savez(npz, **arrays)
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(npz)])
    assert r.exit_code == 1
    assert "give --strip-prefix model. (1 other key of the file" in r.output
    r = cli_runner().invoke(
        main, ["check", str(spec), "--weights", str(npz), "--strip-prefix", "model."]
    )
    assert r.exit_code == 1 and "tensor 'lm_head.weight' [9, 4] belongs to no layer" in r.output


def test_a_dilation_sharing_the_strides_factor_reads_or_writes_every_other_position():
    """Every tap of a window lands on one residue mod gcd(stride, dilation): a conv
    never reads the other positions, a transposed conv never writes them (the student
    who followed the checkerboard hint to kernel 4 got a 77% zero output)."""
    (d,) = lint(
        net_of(
            "input: [1, 4, 7, 7]\nlayers:\n  - conv2d: {out_channels: 4, "
            "kernel_size: 2, stride: 2, dilation: 2}\n"
        )
    )
    assert d.code == "stride-drops-input" and "3 of 7 are never read" in d.message
    (d,) = lint(
        net_of(
            "input: [1, 16, 14, 14]\nlayers:\n  - conv_transpose2d: "
            "{out_channels: 1, kernel_size: 4, stride: 2, padding: 1, dilation: 2}\n"
        )
    )
    assert d.code == "transpose-checkerboard" and "every second output" in d.message
    for good in (  # coprime: every position reached
        "input: [1, 4, 9, 9]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3, "
        "stride: 2, dilation: 3, padding: 3}\n",
        "input: [1, 4, 8, 8]\nlayers:\n  - conv_transpose2d: {out_channels: 4, "
        "kernel_size: 4, stride: 2, padding: 1, dilation: 3}\n",
    ):
        assert lint(net_of(good)) == [], good
