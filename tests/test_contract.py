"""Statements of SPEC.md held word for word: JSON `output` (section 7) and mode words as
literals (section 2)."""

import json
import textwrap

import pytest
from conftest import cli_runner

from layercalc.cli import main


def run(tmp_path, text: str, *args):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    r = cli_runner(env={"NO_COLOR": "1", "GITHUB_ACTIONS": None, "COLUMNS": "100"}).invoke(
        main, [*args, str(path)], catch_exceptions=False
    )
    return r, str(path)


TWO_LINEARS = textwrap.dedent(
    """\
    input: [2, 3]
    layers:
      - linear: {name: a, out_features: 4}
      - linear: {name: b, out_features: 5}
    """
)


@pytest.mark.parametrize("outputs", ["outputs: [b]", "outputs: b"])
@pytest.mark.parametrize("command", ["shape", "params", "check"])
def test_one_named_output_is_a_list_in_json(tmp_path, outputs, command):
    """SPEC.md section 7: "`output` is a list of ints; with several `outputs` it is a
    mapping from name to shape" - one name is not several."""
    r, _ = run(tmp_path, TWO_LINEARS + outputs + "\n", command, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["output"] == [2, 5]


def test_several_named_outputs_are_a_mapping(tmp_path):
    r, _ = run(tmp_path, TWO_LINEARS + "outputs: [a, b]\n", "shape", "--format", "json")
    assert json.loads(r.stdout)["output"] == {"a": [2, 4], "b": [2, 5]}


def test_one_named_output_keeps_its_name_in_the_table(tmp_path):
    r, _ = run(tmp_path, TWO_LINEARS + "outputs: [b]\n", "shape")
    assert "-> output b [2, 5]" in r.stdout


@pytest.mark.parametrize("want", ["[2, 5]", "{b: [2, 5]}"])
def test_one_named_output_meets_a_plain_or_named_expectation(tmp_path, want):
    r, _ = run(tmp_path, TWO_LINEARS + f"outputs: [b]\nexpect: {{output: {want}}}\n", "check")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "defines, line, col, what",
    [
        ("vars: {same: 1}", 1, 8, "var"),
        ("vars: {k: 3, bilinear: 2}", 1, 14, "var"),
        ("blocks: {b: {args: {zeros: 1}, layers: [relu]}}", 1, 21, "block argument"),
    ],
)
def test_a_mode_word_is_never_a_var_name(tmp_path, defines, line, col, what):
    """SPEC.md section 2: "Words that name a mode (`same`, `valid`, `nearest`,
    `bilinear`, `zeros`, ...) are literals, never var names"."""
    r, path = run(
        tmp_path,
        f"""\
        {defines}
        input: [1, 2, 8, 8]
        layers: [relu]
        """,
        "shape",
    )
    assert r.exit_code == 1
    assert f"{path}:{line}:{col}: error" in r.stderr, r.stderr
    assert f"never a {what} name" in r.stderr and "rename the" in r.stderr


@pytest.mark.parametrize(
    "layer",
    [
        "conv_transpose2d: {out_channels: 2, kernel_size: 3, padding: same}",
        "max_pool2d: {kernel_size: 3, padding: same}",
        "avg_pool2d: {kernel_size: 3, padding: valid}",
    ],
)
def test_a_mode_word_an_argument_does_not_take_is_refused_as_such(tmp_path, layer):
    """PyTorch refuses padding='same' on these (a TypeError: padding must be ints); the
    word is a literal, so the error is not an unknown var to define."""
    r, path = run(
        tmp_path,
        f"""\
        input: [1, 2, 8, 8]
        layers:
          - {layer}
        """,
        "shape",
    )
    assert r.exit_code == 1
    assert f"{path}:3:" in r.stderr and "padding does not take the mode" in r.stderr
    assert "vars" not in r.stderr and "unknown name" not in r.stderr


def test_words_of_other_choices_stay_var_names(tmp_path):
    """`batch` is a mode of stochastic_depth, `linear` of upsample: both are common var
    and layer names, literal only where their argument takes them."""
    r, _ = run(
        tmp_path,
        """\
        vars: {batch: 4, linear: 8}
        input: [batch, 3]
        layers:
          - linear: {out_features: linear}
          - stochastic_depth: {p: 0.1, mode: batch}
          - unflatten: {dim: 1, sizes: [1, linear]}
          - upsample: {scale_factor: 2, mode: linear}
        """,
        "shape",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["output"] == [4, 1, 16]


def test_conv2d_same_padding_still_reads_the_word(tmp_path):
    r, _ = run(
        tmp_path,
        """\
        input: [1, 2, 8, 8]
        layers:
          - conv2d: {out_channels: 2, kernel_size: 3, padding: same}
        """,
        "shape",
        "--format",
        "json",
    )
    assert json.loads(r.stdout)["output"] == [1, 2, 8, 8]


TRANSFORMER = """\
input: {{s: [7, 2, 16], t: [5, 2, {t}]}}
layers:
  - transformer: {{nhead: 4, num_encoder_layers: 1, num_decoder_layers: 1,
                  dim_feedforward: 32, from: [s, t]{extra}}}
"""


def test_transformer_infers_d_model_from_its_input(tmp_path):
    """SPEC.md section 12: "Arguments the input fixes are inferred as in section 3
    (`input_size`, `embed_dim`, `d_model`, ...)" - nn.Transformer's too."""
    r, _ = run(tmp_path, TRANSFORMER.format(t=16, extra=""), "params", "--format", "json")
    assert r.exit_code == 0, r.output
    inferred = json.loads(r.stdout)
    r, _ = run(
        tmp_path, TRANSFORMER.format(t=16, extra=", d_model: 16"), "params", "--format", "json"
    )
    given = json.loads(r.stdout)
    assert inferred["totals"] == given["totals"] and inferred["layers"] == given["layers"]
    torch = pytest.importorskip("torch")
    model = torch.nn.Transformer(16, 4, 1, 1, 32, batch_first=True)  # (no warning)
    assert inferred["totals"]["params"] == sum(p.numel() for p in model.parameters())


def test_transformer_refuses_tgt_features_unlike_src(tmp_path):
    r, path = run(tmp_path, TRANSFORMER.format(t=8, extra=""), "shape")
    assert r.exit_code == 1
    assert f"{path}:3:5: error" in r.stderr
    assert "src [7, 2, 16] and tgt [5, 2, 8] with d_model 16" in r.stderr


def test_csv_of_several_files_is_one_table(tmp_path):
    """README: "CSV is one table for all files (a `file` column first)": a file whose
    layers name `from` and one whose do not share one header (the `from` column was
    dropped for the second, which then started a second table)."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(
        "input: [2, 4]\nlayers:\n  - linear: {name: x, out_features: 3}\n"
        "  - linear: {from: input, out_features: 3}\n"
    )
    b.write_text("input: [2, 4]\nlayers: [{linear: {out_features: 3}}]\n")
    for files in ((a, b), (b, a)):
        r = cli_runner().invoke(main, ["shape", *map(str, files), "--format", "csv"])
        lines = r.stdout.splitlines()
        assert lines[0] == "file,kind,depth,layer,type,arguments,from,input,output"
        assert len(lines) == 4 and "" not in lines, r.stdout


CHECKED = {
    "ok.yaml": "input: [1, 4]\nlayers: [{linear: {out_features: 2}}]\n",
    "bad.yaml": "input: [1, 4]\nlayers:\n  - linear: {out_featurs: 2}\n",
}


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_check_takes_every_format_of_section_9(tmp_path, fmt):
    """SPEC.md section 9: "Options shared by all: ... `--format table|json|markdown|csv`"
    - `check` refused all but json."""
    for name, text in CHECKED.items():
        (tmp_path / name).write_text(text)
    files = [str(tmp_path / n) for n in CHECKED]
    r = cli_runner(env={"NO_COLOR": "1", "GITHUB_ACTIONS": None}).invoke(
        main, ["check", *files, "--format", fmt]
    )
    assert r.exit_code == 1, r.output
    bad = f"{tmp_path / 'bad.yaml'}"
    if fmt == "table":
        assert (
            f"{bad}:3:14: error: linear has no argument 'out_featurs' [unknown-argument]"
            in r.stdout
        )
    elif fmt == "csv":
        lines = r.stdout.splitlines()
        assert lines[0] == "file,passed,line,column,severity,code,message,hint"
        assert lines[1] == f"{tmp_path / 'ok.yaml'},yes,,,,,,"
        assert lines[2].startswith(f"{bad},no,3,14,error,unknown-argument,linear has no")
    else:
        assert r.stdout.startswith("| File | Passed | Line | Column | Severity | Code |")
        assert "| no | 3 | 14 | error | unknown-argument |" in r.stdout
        assert r.stdout.rstrip().endswith("1 of 2 files failed: 1 error, 0 warnings")


def test_the_yaml_bounds_are_changeable_by_an_option(tmp_path):
    """SPEC.md section 8: "Defaults, each changeable by an option: ... YAML nesting at
    most 100 deep, no alias expanded more than once into the spec"."""
    deep = tmp_path / "deep.yaml"
    deep.write_text("input: [1, 4]\nlayers: [relu]\nexpect: " + "[" * 120 + "]" * 120 + "\n")
    alias = tmp_path / "alias.yaml"
    alias.write_text("vars: {a: &k 3}\ninput: [1, *k]\nlayers:\n  - linear: {out_features: *k}\n")
    runner = cli_runner(env={"NO_COLOR": "1"})
    r = runner.invoke(main, ["shape", str(deep)])
    assert r.exit_code == 1 and "[too-deep]" in r.stderr
    r = runner.invoke(main, ["shape", str(deep), "--max-yaml-depth", "200"])
    assert "[too-deep]" not in r.output  # past the YAML: expect's own check speaks
    r = runner.invoke(main, ["shape", str(alias)])
    assert r.exit_code == 1 and "[alias-limit]" in r.stderr and "--max-alias-uses" in r.stderr
    for command in ("shape", "check", "draw"):
        r = runner.invoke(main, [command, str(alias), "--max-alias-uses", "2"])
        assert r.exit_code == 0, r.output
    # the bound is this run's: the next run without the option has the default again
    r = runner.invoke(main, ["shape", str(alias)])
    assert r.exit_code == 1 and "[alias-limit]" in r.stderr


def test_more_alias_uses_stay_within_the_value_budget(tmp_path):
    """Each alias counts the values it stands for: 30 levels of ten aliases to the level
    below (10**30 values expanded) are refused at the budget, in bounded time."""
    lines = ["vars:", "  l0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 30):
        lines.append(f"  l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    laugh = tmp_path / "laugh.yaml"
    laugh.write_text("\n".join(lines + ["input: [1, 4]", "layers: [relu]"]) + "\n")
    r = cli_runner(env={"NO_COLOR": "1"}).invoke(
        main, ["shape", str(laugh), "--max-alias-uses", "1000"]
    )
    assert r.exit_code == 1 and "[too-large]" in r.stderr, r.output
