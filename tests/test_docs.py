"""`layercalc help [TOPIC]` (issue 15): the language reference ships inside the package,
read through importlib.resources, and cannot silently fall behind the spec reader."""

import re
from importlib.resources import files

import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.cli.docs import TOPICS
from layercalc.spec import BLOCK_KEYS, META_KEYS, TOP_KEYS


def run(*args):
    return cli_runner(env={"NO_COLOR": "1", "COLUMNS": "80"}).invoke(
        main, list(args), catch_exceptions=False
    )


def test_without_a_topic_every_topic_is_listed_with_its_summary():
    r = run("help")
    assert r.exit_code == 0
    for name, summary in TOPICS.items():
        assert re.search(rf"^  {name} +{re.escape(summary)}$", r.stdout, re.M), name
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_topic_prints_its_file_within_80_columns(topic):
    r = run("help", topic)
    assert r.exit_code == 0, r.output
    text = (files("layercalc") / "docs" / f"{topic}.md").read_text(encoding="utf-8")
    assert r.stdout == text and len(text.splitlines()) > 10
    assert text.startswith("# ") and text.endswith("\n")
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, wide[:3]
    assert text.isascii()  # any terminal encoding shows it as written


def test_the_docs_directory_holds_exactly_the_topics():
    shipped = {p.name for p in (files("layercalc") / "docs").iterdir() if p.name.endswith(".md")}
    assert shipped == {f"{t}.md" for t in TOPICS}


def test_an_unknown_topic_is_a_usage_error_with_a_suggestion():
    r = run("help", "specs")
    assert r.exit_code == 2
    assert "no help topic 'specs'" in r.stderr and "did you mean 'spec'?" in r.stderr
    r = run("help", "zzzz")
    assert r.exit_code == 2 and "topics: spec, layers" in r.stderr


def test_the_docs_are_package_data():
    """pyproject.toml ships layercalc/docs/*.md (setuptools' package-data), so a wheel
    install has the help, not just the source tree."""
    from fnmatch import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]["layercalc"]
    for topic in TOPICS:
        assert any(fnmatch(f"docs/{topic}.md", g) for g in globs), topic
    assert any(fnmatch("layercalc", p) for p in config["packages"]["find"]["include"])


def test_the_spec_topic_mentions_every_key_the_reader_accepts():
    text = (files("layercalc") / "docs" / "spec.md").read_text(encoding="utf-8")
    missing = [
        key
        for key in (*TOP_KEYS, *META_KEYS, *BLOCK_KEYS, "share", "type")
        if f"`{key}`" not in text and f"`{key}:" not in text
    ]
    assert not missing, f"layercalc help spec does not mention {missing}"
    # the top-level keys are each documented as an item of their own section
    section = text.split("## Top-level keys", 1)[1].split("\n## ", 1)[0]
    assert [k for k in TOP_KEYS if not re.search(rf"^- `{k}`", section, re.M)] == []
    section = text.split("## Meta keys", 1)[1].split("\n## ", 1)[0]
    assert [k for k in (*META_KEYS, "share") if not re.search(rf"^- `{k}`", section, re.M)] == []


def test_the_main_help_points_at_the_shipped_reference():
    out = run("--help").stdout
    assert "layercalc help spec" in out and "README" not in out
