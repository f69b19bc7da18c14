"""Every independent error of a file in one run (issue 15, SPEC.md section 6): the builder
goes on after an error, skips what reads the entry it could not build (no cascade of
follow-on errors), reports a mistake inside a block used many times once, stops at
MAX_ERRORS, and still stops at the bounds. `check` prints each as FILE:LINE:COL:
severity[code]: message, the source line with a caret under the column, and the hint."""

import json
import textwrap

from conftest import cli_runner

from layercalc.analyses.loading import analyse
from layercalc.cli import main
from layercalc.graph import MAX_ERRORS


def errors(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    r = analyse(str(p))
    assert not r.ok
    return [(d.line, d.column, d.code) for d in r.diagnostics]


THREE = """\
    input: [1, 3, 32, 32]
    layers:
      - conv2d: {name: c1, out_channel: 8, kernel_size: 3}
      - relu
      - conv2d: {name: c2, out_channels: 8, kernel_size: 3, paddin: 1}
      - max_pool2d: {kernel_size: 2}
      - flatten
      - linear: {out_features: ten}
      - linear: {out_features: 10, from: c1}
      - add: {from: [c1.x, c2]}
    """


def test_three_independent_mistakes_in_one_run(tmp_path):
    # the last two entries read c1, which the first error left unknown: no cascade
    assert errors(tmp_path, THREE) == [
        (3, 24, "unknown-argument"),
        (5, 57, "unknown-argument"),
        (8, 28, "unknown-name"),
    ]


def test_a_mistake_inside_a_block_used_many_times_is_reported_once(tmp_path):
    got = errors(
        tmp_path,
        """\
        input: [1, 8, 16, 16]
        blocks:
          b:
            layers:
              - conv2d: {out_channels: 8, kernel_size: 3, paddng: 1}
              - relu
        layers:
          - b: {repeat: 5}
          - conv2d: {out_channels: 4, kernel_size: 3, stride: 0}
        """,
    )
    assert got == [(5, 51, "unknown-argument"), (9, 55, "bad-value")]


def test_the_number_kept_is_capped(tmp_path):
    n = MAX_ERRORS + 7
    lines = "".join(f"  - linear: {{out_features: 4, bad{i}: 1}}\n" for i in range(n))
    got = errors(tmp_path, "input: [1, 4]\nlayers:\n" + lines)
    # at the cap the rest is not checked (bounded time for a file of 400,000 bad keys)
    assert len(got) == MAX_ERRORS + 1
    assert got[-1][2] == "too-many-problems"
    p = tmp_path / "s.yaml"
    assert "the rest of the file was not checked" in analyse(str(p)).diagnostics[-1].message


def test_a_bound_still_stops_the_build_with_the_errors_before_it(tmp_path):
    got = errors(
        tmp_path,
        """\
        input: [1, 4]
        layers:
          - linear: {out_features: 4, typo: 1}
          - relu: {repeat: 100000000}
        """,
    )
    assert [c for _, _, c in got] == ["unknown-argument", "too-many-layers"]


def test_one_error_still_reads_as_before(tmp_path):
    # a spec with one mistake gives exactly that diagnostic
    assert errors(
        tmp_path,
        """\
        input: [1, 4]
        layers:
          - linear: {out_features: 0}
        """,
    ) == [(3, 28, "bad-value")]


def test_check_prints_every_error_located_with_the_source_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(textwrap.dedent(THREE))
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(main, ["check", "s.yaml"], catch_exceptions=False)
    assert r.exit_code == 1
    out = r.output.splitlines()
    assert out[0] == "FAIL s.yaml"
    assert out[1] == "s.yaml:3:24: error: conv2d has no argument 'out_channel' [unknown-argument]"
    assert out[2] == "  3 |   - conv2d: {name: c1, out_channel: 8, kernel_size: 3}"
    assert out[3] == "    |                        ^"
    assert out[4] == "  = hint: did you mean 'out_channels'?"
    assert sum(line.startswith("s.yaml:") for line in out) == 3
    assert out[-1] == "1 of 1 file failed: 3 errors, 0 warnings"
    r = cli_runner().invoke(main, ["check", "s.yaml", "--format", "json"], catch_exceptions=False)
    assert len(json.loads(r.output)["errors"]) == 3


def test_a_long_line_is_shown_around_the_column_and_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pad = ", ".join(f"v{i}: {i}" for i in range(40))
    (tmp_path / "s.yaml").write_text(
        f"vars: {{{pad}}}\ninput: [1, 4]\nlayers:\n"
        f'  - linear: {{out_features: 4, {"x" * 60}: 1, name: "a\\tb"}}\n'
    )
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(main, ["check", "s.yaml"], catch_exceptions=False)
    src, caret = r.output.splitlines()[2:4]
    assert src.startswith("  4 | ") and len(src) <= 90
    # the name (parsed first) is at fault; its tab is shown escaped, the caret under it
    assert caret.index("^") == src.index('"a\\tb"')


def test_the_readme_check_example_is_what_check_prints(tmp_path, monkeypatch):
    """The README's `check` example, from the FAIL line to the last hint, is the real
    output on the spec it shows (THREE, saved as broken.yaml)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("$ layercalc check specs/ broken.yaml", 1)[1].split("```", 1)[0]
    shown = block.splitlines()
    start = shown.index("FAIL broken.yaml")
    end = next(i for i, line in enumerate(shown) if line.startswith("1 of "))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text(textwrap.dedent(THREE))
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(
        main, ["check", "broken.yaml"], catch_exceptions=False
    )
    got = r.output.splitlines()
    assert got[:-1] == shown[start:end]
    specs = len(list((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml")))
    assert shown[end] == f"1 of {specs + 1} files failed: 3 errors, 0 warnings"


def test_the_readme_explain_example_is_what_explain_prints():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    head = "$ layercalc explain specs/dcgan_discriminator.yaml 2      # at 80 columns\n"
    shown = readme.split(head, 1)[1].split("```", 1)[0]
    r = cli_runner(env={"NO_COLOR": "1", "COLUMNS": "80"}).invoke(
        main,
        ["explain", str(root / "specs" / "dcgan_discriminator.yaml"), "2"],
        catch_exceptions=False,
    )
    assert r.output.split("\n\n", 1)[1] == shown


def test_unknown_top_level_keys_come_with_the_other_errors(tmp_path):
    assert errors(
        tmp_path,
        """\
        inputt: [1, 4]
        input: [1, 4]
        layers:
          - linear: {out_features: 3, biass: false}
        expects: {}
        """,
    ) == [(1, 1, "unknown-key"), (5, 1, "unknown-key"), (4, 31, "unknown-argument")]
    # a misspelt `layers:` is reported beside the missing key it leaves
    assert [c for _, _, c in errors(tmp_path, "input: [1, 4]\nlayres:\n  - relu\n")] == [
        "unknown-key",
        "missing-key",
    ]


def test_an_entry_refused_as_written_hides_no_other_error(tmp_path):
    # a bad name, a reserved name or an entry that is no entry is refused when the list
    # is read: the other entries are still built (one such entry hid them all)
    got = errors(
        tmp_path,
        """\
        input: [1, 3, 8, 8]
        blocks:
          b:
            layers:
              - relu: {name: "x y"}
              - conv2d: {out_channels: 4, kernel_size: 3, bogus: 1}
        layers:
          - conv2d: {name: "a b", out_channels: 4, kernel_size: 3}
          - relux
          - relu: {name: input}
          - 5
          - b: {repeat: 2}
          - conv2d: {name: x, out_channels: 4, kernel_size: 3, stride: 0}
        """,
    )
    assert got == [
        (8, 20, "bad-name"),
        (9, 5, "unknown-layer"),
        (10, 18, "bad-name"),
        (11, 5, "bad-entry"),
        (5, 22, "bad-name"),  # the block's body, where it is used
        (6, 51, "unknown-argument"),
        (13, 64, "bad-value"),
    ]


def test_check_reports_expect_typos_of_a_spec_that_does_not_build(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("input: [1, 3, 8, 8]\nlayers:\n  - relux\nexpect: {prams: 3, output: [1]}\n")
    r = cli_runner().invoke(main, ["check", "--format", "parsable", str(p)])
    assert r.exit_code == 1
    codes = [line.rsplit(" [", 1)[1].rstrip("]") for line in r.output.splitlines()]
    assert codes == ["unknown-layer", "unknown-expect"], r.output
    assert ":4:10: error: unknown expectation 'prams'" in r.output
