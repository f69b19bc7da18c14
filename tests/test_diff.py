"""`layercalc diff` (issue 20): layers matched by name, renames, added and removed
blocks, repeat counts, var sweeps, invalid sides, git revisions, --fail-on gates."""

import csv
import io
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.analyses.diff import diff, parse_rule
from layercalc.cli import main

SPECS = Path(__file__).resolve().parent.parent / "specs"

BASE = """\
name: small
vars: {width: 16, blocks: 2}
input: [1, 3, 32, 32]
blocks:
  unit:
    args: {c: null}
    layers:
      - conv2d: {name: conv, out_channels: c, kernel_size: 3, padding: 1, bias: false}
      - batch_norm2d: {name: bn}
      - relu
layers:
  - conv2d: {name: stem, out_channels: width, kernel_size: 3, padding: 1}
  - unit: {name: stage, c: width, repeat: blocks}
  - adaptive_avg_pool2d: {output_size: 1}
  - flatten
  - linear: {name: head, out_features: 10}
"""


def write(tmp_path, text, name="net.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def run(*args, **env):
    return cli_runner(env={"NO_COLOR": "1", "COLUMNS": "120", **env}).invoke(
        main, [str(a) for a in args], catch_exceptions=False
    )


def data(*args):
    r = run(*args, "--format", "json")
    return r.exit_code, json.loads(r.stdout)


def test_the_same_spec_has_no_change(tmp_path):
    p = write(tmp_path, BASE)
    code, d = data("diff", p, p)
    assert code == 0 and d["changes"] == [] and d["unchanged"] == 10
    assert d["totals"]["params"]["delta"] == 0 and not d["output"]["changed"]
    assert "no layer differs" in d["summary"]
    # the run of unchanged layers is one line across the table, never folded into the
    # Layer column ("(10 layers unchanged" and ")" on the next line at 80 columns)
    for width in ("80", "60"):
        r = run("diff", p, p, "--width", width)
        row = next(line for line in r.stdout.splitlines() if "unchanged)" in line)
        assert "(10 layers unchanged)" in row and len(row) <= int(width), r.stdout


def test_a_var_sweep_on_one_side(tmp_path):
    p = write(tmp_path, BASE)
    code, d = data("diff", p, p, "--new-set", "width=32")
    assert code == 0
    changed = {c["new"]["name"]: c for c in d["changes"]}
    # stem: 3*3*3*32 + 32 vs 3*3*3*16 + 16
    assert changed["stem"]["old"]["params"] == 448 and changed["stem"]["new"]["params"] == 896
    assert changed["head"]["what"] == ["args", "params", "macs"]
    assert (
        d["totals"]["params"]["old"] + d["totals"]["params"]["delta"]
        == d["totals"]["params"]["new"]
    )
    # --set applies to both sides: nothing differs
    assert data("diff", p, p, "--set", "width=32")[1]["changes"] == []


def test_a_repeat_count_adds_and_removes_a_block(tmp_path):
    p = write(tmp_path, BASE)
    _, more = data("diff", p, p, "--new-set", "blocks=3")
    added = [c["new"]["name"] for c in more["changes"] if c["status"] == "added"]
    assert added == ["stage.2.conv", "stage.2.bn", "stage.2.2"]
    _, fewer = data("diff", p, p, "--new-set", "blocks=1")
    removed = [c["old"]["name"] for c in fewer["changes"] if c["status"] == "removed"]
    assert removed == ["stage.1.conv", "stage.1.bn", "stage.1.2"]
    assert fewer["totals"]["layers"]["delta"] == -3
    # at depth 1 a block is one row
    _, deep = data("diff", p, p, "--new-set", "blocks=3", "--depth", "1")
    assert [(c["status"], c["new"]["name"]) for c in deep["changes"]] == [("added", "stage.2")]


def test_a_renamed_layer_is_a_rename_not_a_removal_and_an_addition(tmp_path):
    old = write(tmp_path, BASE)
    new = write(tmp_path, BASE.replace("name: head", "name: classifier"), "new.yaml")
    code, d = data("diff", old, new)
    assert code == 0
    assert [(c["status"], c["old"]["name"], c["new"]["name"]) for c in d["changes"]] == [
        ("renamed", "head", "classifier")
    ]
    table = run("diff", old, new).stdout
    assert "head -> classifier" in table


def test_an_invalid_side_is_located_and_fails(tmp_path):
    old = write(tmp_path, BASE)
    new = write(tmp_path, BASE.replace("out_features: 10", "out_feature: 10"), "bad.yaml")
    r = run("diff", old, new)
    assert r.exit_code == 1
    assert "bad.yaml:16:26:" in r.stderr and "out_feature" in r.stderr
    code, d = data("diff", old, new)
    assert code == 1 and d["errors"][0]["line"] == 16


@pytest.mark.parametrize(
    "rule,fires",
    [
        ("params>+5%", True),
        ("params>+500%", False),
        ("macs>+1%", True),
        ("params<-1%", False),
        ("output-changed", False),
        ("peak_memory>+1MiB", False),
        ("params>+1K", True),
    ],
)
def test_fail_on_rules_gate_the_exit_code(tmp_path, rule, fires):
    p = write(tmp_path, BASE)
    r = run("diff", p, p, "--new-set", "width=32", "--fail-on", rule)
    assert r.exit_code == (1 if fires else 0), r.output
    assert (f"--fail-on {rule} fired: " in r.stdout) == fires


def test_a_fired_rule_names_the_values_in_every_format(tmp_path):
    """The gate says what it measured against the limit: in the table's notes, as a
    workflow error in github format, on stderr beside csv's rows."""
    p = write(tmp_path, BASE)
    args = ("diff", p, p, "--new-set", "width=32", "--fail-on", "params>+5%")
    r = run(*args)
    line = next(x for x in r.stdout.splitlines() if " fired: " in x)
    assert line.startswith("--fail-on params>+5% fired: Parameters ") and "%)" in line
    old, new = [
        int(v.replace(",", "")) for v in line.split(": Parameters ")[1].split(" (")[0].split(" -> ")
    ]
    assert new > old * 1.05
    r = run(*args, "--format", "github")
    assert r.exit_code == 1
    assert any(
        x.startswith("::error file=") and "params>+5%25 fired" in x for x in r.stdout.splitlines()
    )
    r = run(*args, "--format", "csv")
    assert r.exit_code == 1 and "--fail-on params>+5% fired: Parameters" in r.stderr
    assert " fired: " not in r.stdout  # the csv stays rows of changes


@pytest.mark.parametrize("bad", ["params>+x%", "weights>+5%", "params>-5%", "outputchanged"])
def test_bad_rules_are_usage_errors(tmp_path, bad):
    p = write(tmp_path, BASE)
    r = run("diff", p, p, "--fail-on", bad)
    assert r.exit_code == 2 and "--fail-on" in r.output
    with pytest.raises(ValueError):
        parse_rule(bad)


def test_markdown_is_a_pull_request_comment_and_github_annotates_new(tmp_path):
    p = write(tmp_path, BASE)
    md = run("diff", p, p, "--new-set", "width=32", "--format", "markdown").stdout
    lines = md.splitlines()
    assert lines[0].startswith("### ") and lines[2].startswith("params +")
    assert "<details><summary>" in md and "</details>" in md
    gh = run("diff", p, p, "--new-set", "width=32", "--format", "github").stdout
    first = gh.splitlines()[0]
    assert first.startswith("::notice file=") and ",line=12::stem changed" in first
    rows = list(
        csv.DictReader(
            io.StringIO(run("diff", p, p, "--new-set", "width=32", "--format", "csv").stdout)
        )
    )
    assert {r["status"] for r in rows} == {"changed"} and rows[0]["new_params"] == "896"


def test_github_annotates_an_invalid_spec_at_its_line(tmp_path):
    """It printed nothing on standard output (the error went to stderr in the human
    format only), so a workflow showed no annotation for a broken file."""
    good = write(tmp_path, BASE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path(good).read_text().replace("\nlayers:\n", "\nlayers:\n  - relu: {inplac: true}\n", 1)
    )
    r = run("diff", good, bad, "--format", "github")
    assert r.exit_code == 1
    line = next(n for n, t in enumerate(bad.read_text().splitlines(), 1) if "inplac" in t)
    assert r.stdout.startswith(f"::error file={bad},line={line}::relu has no argument 'inplac'")
    assert "[unknown-argument]%0Ahint: did you mean 'inplace'?" in r.stdout


def test_two_resnets_differ_as_torchvision_says():
    old, new = SPECS / "resnet18.yaml", SPECS / "resnet50.yaml"
    code, d = data("diff", old, new)
    assert code == 0
    assert d["totals"]["params"]["old"] == 11_689_512
    assert d["totals"]["params"]["new"] == 25_557_032
    assert d["totals"]["params"]["delta"] == 25_557_032 - 11_689_512


def test_the_analysis_is_pure():
    from layercalc.analyses.loading import analyse

    a = analyse(str(SPECS / "lenet5.yaml")).net
    d = diff(a, a)
    assert d.count("same") == len(a.layers) and not d.failed and not d.output_changed
    assert diff(None, a).count("added") == len(a.layers)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_revisions_in_a_repository(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    (repo / "net.yaml").write_text(BASE)
    (repo / "other.yaml").write_text(BASE)
    (repo / "notes.txt").write_text("x")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "init"], cwd=repo, check=True)
    (repo / "net.yaml").write_text(BASE.replace("width: 16", "width: 24"))
    (repo / "added.yaml").write_text(BASE)
    subprocess.run(git + ["add", "added.yaml"], cwd=repo, check=True)
    (repo / "other.yaml").unlink()
    monkeypatch.chdir(repo)
    code, d = data("diff", "HEAD:net.yaml", "net.yaml")
    assert code == 0 and d["old"] == "HEAD:net.yaml" and d["totals"]["params"]["delta"] > 0
    r = run("diff", "--git", "HEAD", "--format", "json")
    assert r.exit_code == 0, r.output
    files = {x["new"]: x for x in json.loads(r.stdout)}
    assert set(files) == {"added.yaml", "net.yaml", "other.yaml"}
    assert files["added.yaml"]["totals"]["params"]["old"] == 0
    assert files["other.yaml"]["totals"]["params"]["new"] == 0
    bad = run("diff", "HEAD:missing.yaml", "net.yaml")
    assert bad.exit_code == 1 and "HEAD:missing.yaml" in bad.stderr
    assert (
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
        ).stdout.count("\n")
        == 3
    )  # nothing written or checked out


def test_fits_80_columns():
    r = run("diff", SPECS / "resnet18.yaml", SPECS / "resnet50.yaml", "--depth", "1", COLUMNS="80")
    assert r.exit_code == 0
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_a_revision_that_is_a_git_option_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    # `git diff --output=FILE` and `git show --output=FILE` write files: a REV from the
    # command line must never reach git as an option
    monkeypatch.chdir(SPECS.parent)
    target = tmp_path / "written"
    r = run("diff", "--git", f"--output={target}")
    assert r.exit_code == 2 and "is no revision" in r.stderr
    side = f"--output={target}:specs/lenet5.yaml"
    r = run("diff", "--", side, str(SPECS / "lenet5.yaml"))
    assert r.exit_code == 1 and "is no revision" in r.output
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_a_changed_argument_is_shown_old_to_new_in_every_format(tmp_path):
    """A change of arguments alone (a dropout's p) says what changed: the table's
    Arguments column, the CSV's old_args/new_args, the github notice."""
    import csv as csv_module
    import io

    from click.testing import CliRunner

    from layercalc.cli import main

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    body = "input: [1, 8]\nlayers:\n  - linear: {out_features: 8}\n  - dropout: {p: %s}\n"
    old.write_text(body % "0.1")
    new.write_text(body % "0.2")
    run = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"}).invoke
    r = run(main, ["diff", str(old), str(new)])
    assert r.exit_code == 0, r.output
    assert "p=0.1 -> p=0.2" in r.stdout and "Arguments" in r.stdout
    r = run(main, ["diff", str(old), str(new), "--format", "csv"])
    [row] = list(csv_module.DictReader(io.StringIO(r.stdout)))
    assert (row["status"], row["old_args"], row["new_args"]) == ("changed", "p=0.1", "p=0.2")
    assert row["old_type"] == row["type"] == "dropout"
    r = run(main, ["diff", str(old), str(new), "--format", "github"])
    assert "changed (args): p=0.1 -> p=0.2; output" in r.stdout


def test_a_changed_type_is_shown_with_its_arguments(tmp_path):
    from click.testing import CliRunner

    from layercalc.cli import main

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("input: [1, 8]\nlayers:\n  - relu\n")
    new.write_text("input: [1, 8]\nlayers:\n  - leaky_relu: {negative_slope: 0.2}\n")
    r = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"}).invoke(
        main, ["diff", str(old), str(new)]
    )
    assert r.exit_code == 0, r.output
    assert "│ relu -> leaky_relu │ (none) -> negative_slope=0.2 │" in r.stdout
    r = CliRunner().invoke(main, ["diff", str(old), str(new), "--format", "github"])
    assert "changed (type, args): relu -> leaky_relu negative_slope=0.2; output" in r.stdout


def test_a_change_too_small_for_two_decimals_is_not_shown_as_zero(tmp_path):
    """+513 parameters of 14 million read '+0.00%'."""
    big = BASE.replace("width: 16, blocks: 2", "width: 512, blocks: 6")
    old = write(tmp_path, big)
    new = write(tmp_path, big.replace("out_features: 10", "out_features: 11"), "new.yaml")
    out = run("diff", old, new).stdout
    assert "params +513 (+<0.01%)" in out and "+0.00%" not in out
