"""Hostile text (issue 12, item 3): terminal escapes, line breaks, bidi controls and rich
markup in any text a spec or a file name brings reach the output escaped, never raw.

The matrix runs every text field through every command that prints spec text, in every
format that command offers (read from the click commands, so a new format joins by
itself), through the real executable's entry (layercalc.cli.entry.main: the click-free
path for shape/params, the click group for the rest). Every run must print no character
Python does not call printable (the layout's own newlines apart), give each diagnostic
exactly one line, and keep JSON values exact.
"""

from __future__ import annotations

import json
import re

import click
import pytest

from layercalc.cli.app import main as group
from layercalc.cli.entry import main as entry
from layercalc.text import printable, printable_json

ESC = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"  # retitle the terminal, clear it, go red
CONTROLS = "\x08\x00\x7f\x85\x9b\u2028\u2029\u202e\u2066\u200f\ufeff\t"
INVISIBLE = "\u034f\u115f\u3164\uffa0\u17b4\u2800\ufe0f\u180b\u2061\U000e0100"  # drawn as nothing
MARKUP = "[bold red]x[/]"
# Markdown that would be a remote image, a live link, raw HTML, emphasis, code, an entity
MARKDOWN = "![px](https://evil/t)[click](https://evil)<img/src=x>*em*`c`&amp;~~s~~"
FORGED = "\r\nfake.yaml:1:1: error: x\n::error file=a.yaml,line=1::pwned"
HOSTILE = f"h{ESC}{CONTROLS}{INVISIBLE}{MARKUP}{MARKDOWN}{FORGED}"
# no spaces or dots: a valid layer name (MARKUP's space made it a bad-name error)
WORD = f"w{ESC}\x08\x00\x7f\x9b\u202e\u2066\u200f{INVISIBLE}[bold]x[/]{MARKDOWN}"
FILE = "f" + HOSTILE.replace("\x00", "").replace("/", "") + ".yaml"


def q(text: str) -> str:
    """A YAML double-quoted scalar of ``text`` (JSON's escapes are YAML's, but for the
    surrogate pairs of characters past U+FFFF, which YAML spells \\UXXXXXXXX)."""

    def astral(m):
        return "\\U%08x" % ord(json.loads('"' + m.group() + '"'))

    return re.sub(r"\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}", astral, json.dumps(text))


BASE = "input: [1, 3, 8, 8]\n"
LAYERS = "layers:\n  - conv2d: {out_channels: 2, kernel_size: 3}\n  - relu\n"

# field -> (file name, spec text): a valid spec (tables) or an invalid one (diagnostics)
FIELDS = {
    "spec-name": ("s.yaml", f"name: {q(HOSTILE)}\n{BASE}{LAYERS}"),
    "description": ("s.yaml", f"description: {q(HOSTILE)}\n{BASE}{LAYERS}"),
    "layer-name": (
        "s.yaml",
        BASE
        + f"""\
layers:
  - sequential:
      name: {q(WORD + "g")}
      layers:
        - conv2d: {{name: {q(WORD)}, out_channels: 2, kernel_size: 3}}
        - relu
  - {{type: relu, name: {q(WORD + "o")}}}
outputs: [{q(WORD + "o")}]
expect: {{params: 1}}
""",
    ),
    "layer-name-shown": (
        "s.yaml",
        BASE
        + f"""\
layers:
  - sequential:
      name: {q(WORD + "g")}
      layers:
        - conv2d: {{name: {q(WORD)}, out_channels: 2, kernel_size: 3}}
        - relu
  - {{type: relu, name: {q(WORD + "o")}}}
""",
    ),
    "layer-name-line": ("s.yaml", BASE + f"layers:\n  - relu: {{name: {q(HOSTILE)}}}\n"),
    "type": ("s.yaml", BASE + f"layers:\n  - {q(HOSTILE)}\n"),
    "argument-name": (
        "s.yaml",
        BASE + f"layers:\n  - conv2d: {{out_channels: 2, kernel_size: 3, {q(HOSTILE)}: 1}}\n",
    ),
    "from": ("s.yaml", BASE + f"layers:\n  - relu\n  - {{type: relu, from: {q(HOSTILE)}}}\n"),
    "block-name": ("s.yaml", BASE + f"blocks:\n  {q(HOSTILE)}: {{layers: [relu]}}\n{LAYERS}"),
    "var-name": ("s.yaml", f"vars: {{{q(HOSTILE)}: 1}}\n{BASE}{LAYERS}"),
    "file-name": (FILE, BASE + LAYERS + "expect: {params: 1}\n"),
}

SPEC_COMMANDS = (
    "shape",
    "params",
    "cost",
    "rf",
    "explain",
    "verify",
    "check",
    "diff",
    "draw",
    "export",
)
# text from the command line: type names, topics, import sources
TYPE_COMMANDS = ("layers", "help", "import")
NO_TEXT = {"schema": "prints the registry's schema", "solve": "takes and prints numbers"}


def _commands() -> dict:
    ctx = click.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}


def _formats(command) -> list[str]:
    for p in command.params:
        if p.name == "fmt":
            return list(p.type.choices)
    return [None]


def test_every_command_is_in_the_matrix():
    """A new command must say whether it prints spec text (and join the matrix) or not."""
    assert set(_commands()) == set(SPEC_COMMANDS) | set(TYPE_COMMANDS) | set(NO_TEXT)


CASES = [
    pytest.param(field, name, fmt, id=f"{field}-{name}-{fmt}")
    for name, command in _commands().items()
    if name in SPEC_COMMANDS
    for fmt in _formats(command)
    for field in FIELDS
]
CASES += [
    pytest.param("type", name, fmt, id=f"argv-type-{name}-{fmt}")
    for name, command in _commands().items()
    if name in TYPE_COMMANDS
    for fmt in _formats(command)
]

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (error|warning): .* \[[a-z0-9-]+\]$")
AFTER_FILE = re.compile(r"^:\d+:\d+: (error|warning): .* \[[a-z0-9-]+\]$")  # FILE may hold ":1:1: "


def is_diagnostic(line: str, shown: str) -> bool:
    """``line`` is one diagnostic of the file displayed as ``shown``."""
    return line.startswith(shown) and bool(AFTER_FILE.match(line[len(shown) :]))


GITHUB = re.compile(r"^::(error|warning) file=[^,:\n]*,line=\d+,col=\d+::[^\n]*$")


def run(argv, capsys) -> tuple[int, str, str]:
    """The executable's entry in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        entry(argv)
    out, err = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else code), out, err


def raw_characters(text: str) -> set[str]:
    return {c for c in text if (not c.isprintable() or c in INVISIBLE) and c != "\n"}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("field, command, fmt", CASES)
def test_hostile_text_is_printed_escaped(tmp_path, capsys, field, command, fmt):
    file, text = FIELDS[field]
    path = tmp_path / file
    path.write_text(text, encoding="utf-8")
    if command in TYPE_COMMANDS:
        argv = [command, HOSTILE]
    elif command == "explain" and field == "from":
        argv = [command, str(path), HOSTILE]  # an unknown LAYER argument too
    elif command == "diff":  # every layer of the spec added to a one-layer spec
        old = tmp_path / "old.yaml"
        old.write_text("input: [1, 3, 8, 8]\nlayers: [relu]\n")
        argv = [command, str(old), str(path)]
    else:
        argv = [command, str(path)]
    if fmt is not None:
        argv += ["--format", fmt]
    code, out, err = run(argv, capsys)

    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    assert not raw_characters(out), sorted(map(repr, raw_characters(out)))
    assert not raw_characters(err), sorted(map(repr, raw_characters(err)))
    assert "fake.yaml" not in out.split("\n")[0][:9]
    shown = printable(str(path))

    if code == 2:  # a usage error (an unknown TYPE or LAYER): click's message
        assert [line for line in err.splitlines() if line.startswith("Error:")]
        return
    if fmt == "markdown" and command != "check":  # check's table holds diagnostics
        texts = markdown_texts(out)
        if field == "spec-name":
            assert printable(HOSTILE) in texts
        elif field == "layer-name-shown":
            assert [t for t in texts if printable(WORD) in t]
    if fmt == "json":
        data = json.loads(out)
        if field in ("spec-name", "file-name"):  # the exact value, not its escaped form
            exact = HOSTILE if field == "spec-name" else str(path)
            assert exact in set(_strings(data))
    if command == "check":
        _check_output(fmt, out, shown, tmp_path, capsys, argv)
        return
    trail = False  # a refused build's trail of shapes: its line and continuations
    for line in err.splitlines():  # every other command: diagnostics on stderr
        if line.startswith("    hint: "):
            trail = False
            continue
        if line.startswith("  built before it: ") or (trail and line.startswith("    ")):
            trail = True
            assert "\x1b" not in line and "\r" not in line, line
            continue
        trail = False
        assert is_diagnostic(line, shown), line


# what layercalc's own Markdown is made of: headings, tables, lists, bold group rows,
# explain's code blocks, <br> between the shapes of a multi-input layer
OWN_MARKDOWN = {
    "heading_open",
    "heading_close",
    "paragraph_open",
    "paragraph_close",
    "table_open",
    "table_close",
    "thead_open",
    "thead_close",
    "tbody_open",
    "tbody_close",
    "tr_open",
    "tr_close",
    "th_open",
    "th_close",
    "td_open",
    "td_close",
    "bullet_list_open",
    "bullet_list_close",
    "list_item_open",
    "list_item_close",
    "fence",
    "inline",
    "text",
    "strong_open",
    "strong_close",
}


# diff's pull-request comment folds its table: <details><summary>N of M layers
# differ</summary> (numbers only) and </details>
OWN_HTML_BLOCK = re.compile(
    r"(<details><summary>[0-9,]+ of [0-9,]+ layers? differs?</summary>|</details>)\n"
)


def markdown_texts(out: str) -> list[str]:
    """The text of each inline run (heading, cell, list item) as GitHub would show it,
    after asserting that the Markdown holds nothing but layercalc's own constructs: no
    link, image, raw HTML, emphasis, code span or strikethrough from a spec's text."""
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    texts = []
    for token in md.parse(out):
        children = token.children or []
        for t in [token, *children]:
            assert (
                t.type in OWN_MARKDOWN
                or (t.type == "html_inline" and t.content == "<br>")
                or (t.type == "html_block" and OWN_HTML_BLOCK.fullmatch(t.content))
            ), (
                t.type,
                t.content,
                token.content,
            )
        if token.type == "inline":
            texts.append("".join(t.content for t in children if t.type == "text"))
    return texts


def _check_output(fmt, out, shown, tmp_path, capsys, argv):
    lines = out.splitlines()
    if fmt == "parsable":
        assert all(is_diagnostic(line, shown) for line in lines), lines
    elif fmt == "github":
        assert all(GITHUB.match(line) for line in lines), lines
    elif fmt == "markdown":  # a table of the diagnostics: every row at the file as shown
        texts = markdown_texts(out)
        assert shown in texts, texts
    elif fmt == "csv":
        import csv
        import io

        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0][0] == "file" and all(r[0] == shown for r in rows[1:]), rows
    elif fmt in ("human", "table"):
        _, json_out, _ = run([*argv[:-2], "--format", "json"], capsys)
        data = json.loads(json_out)
        diags = data["errors"] + data["warnings"]
        hints = sum(d["hint"] is not None for d in diags)
        # the source line and its caret under each diagnostic (escaped like the rest)
        snippet = [
            line
            for line in lines
            if re.match(r"^  [ \d]*\d? \| ", line) or re.match(r"^ +\| +\^$", line)
        ]
        assert len(snippet) % 2 == 0 and len(snippet) <= 2 * len(diags), snippet
        lines = [line for line in lines if line not in snippet]
        assert len(lines) == 1 + len(diags) + hints + 1, lines  # file, each, hints, summary
        assert lines[0].endswith(shown)


@pytest.mark.parametrize("command", ["shape", "params", "cost", "rf", "verify", "explain"])
def test_rich_markup_in_a_name_prints_as_written(tmp_path, capsys, command):
    path = tmp_path / "m[red]a[b].yaml"
    path.write_text(f"name: '[bold red]N[/] [/]'\n{BASE}{LAYERS}")
    code, out, err = run([command, str(path)], capsys)
    assert code == 0, err
    assert "[bold red]N[/] [/]" in out
    if command != "explain":
        assert "m[red]a[b].yaml" in "".join(line.strip() for line in out.splitlines())


def test_a_newline_in_a_type_forges_no_diagnostic(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(FIELDS["type"][1])
    for argv in (["shape", str(path)], ["check", "--format", "parsable", str(path)]):
        code, out, err = run(argv, capsys)
        assert code == 1
        text = out + err
        assert sum(is_diagnostic(line, str(path)) for line in text.splitlines()) == 1
        assert not [line for line in text.splitlines() if line.startswith("fake.yaml")]
        assert "\\nfake.yaml:1:1: error: x" in text
        assert "\\r" in text and "\\x1b]0;pwned\\x07" in text


def test_a_file_name_forges_no_workflow_command(tmp_path, capsys):
    path = tmp_path / FILE
    path.write_text(FIELDS["file-name"][1])
    for fmt in ("human", "github", "parsable"):
        code, out, _ = run(["check", "--format", fmt, str(path)], capsys)
        assert code == 1
        assert not [
            line for line in out.splitlines() if line.startswith("::") and not GITHUB.match(line)
        ], out
        assert sum(line.startswith("::error") for line in out.splitlines()) == (
            1 if fmt == "github" else 0
        )


@pytest.mark.parametrize("command", ["shape", "cost", "explain", "check", "verify"])
def test_json_keeps_the_exact_text(tmp_path, capsys, command):
    path = tmp_path / FILE
    path.write_text(FIELDS["spec-name"][1])
    code, out, _ = run([command, str(path), "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    data = data[0] if isinstance(data, list) else data
    assert data["name"] == HOSTILE and data["file"] == str(path)
    assert not raw_characters(out)


def test_both_entry_paths_escape_alike(tmp_path, capsys, monkeypatch):
    from conftest import cli_runner

    monkeypatch.setenv("COLUMNS", "120")  # cli_runner's width: titles wrap to it
    path = tmp_path / FILE
    for field in ("spec-name", "type"):
        path.write_text(FIELDS[field][1])
        for fmt in ("table", "csv", "markdown", "json"):
            argv = ["shape", str(path), "--format", fmt]
            fast = run(argv, capsys)
            r = cli_runner().invoke(group, argv)
            assert (r.exit_code, r.stdout, r.stderr) == fast


@pytest.mark.parametrize(
    "text, escaped",
    [
        ("plain café × ⌊x⌋ [b]", "plain café × ⌊x⌋ [b]"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[2J\x00\x7f", "\\x1b[2J\\x00\\x7f"),
        ("\x85\x9b\xa0", "\\x85\\x9b\\xa0"),
        ("\u2028\u2029\u202e\u2066\u200f\ufeff", "\\u2028\\u2029\\u202e\\u2066\\u200f\\ufeff"),
        ("\U000e0041\udc80", "\\U000e0041\\udc80"),
        ("c\u034f", "c\\u034f"),  # default-ignorable characters Python calls printable
        ("\u115f\u1160\u3164\uffa0", "\\u115f\\u1160\\u3164\\uffa0"),  # Hangul fillers
        ("\u17b4\u17b5\u2800\u00ad", "\\u17b4\\u17b5\\u2800\\xad"),
        ("\ufe00\ufe0f\U000e0100\U000e01ef", "\\ufe00\\ufe0f\\U000e0100\\U000e01ef"),
        ("\u180b\u180f\u2060\u206f", "\\u180b\\u180f\\u2060\\u206f"),
        ("é\u0301 ä ㅎ ⠁", "é\u0301 ä ㅎ ⠁"),  # visible combining marks, Hangul, braille stay
    ],
)
def test_printable(text, escaped):
    assert printable(text) == escaped
    assert printable(escaped) == escaped  # escaping twice changes nothing


def test_printable_json_keeps_values():
    value = {"n": "\x7f\x85\u2028\U000e0041 ×" + INVISIBLE, "k\x9b": ["\udc80"]}
    text = printable_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert not raw_characters(text)
    assert json.loads(text) == value
    assert "×" in text and "\\u034f" in text and "\\udb40\\udd00" in text


def test_names_differing_by_an_invisible_character_print_apart(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    names = ["c", "c\u034f", "c\u3164", "c\u2800", "c\ufe0f"]
    path.write_text(BASE + "layers:\n" + "".join(f"  - relu: {{name: {q(n)}}}\n" for n in names))
    for command in ("shape", "cost"):
        code, out, _ = run([command, str(path)], capsys)
        assert code == 0
        shown = [printable(n) for n in names]
        assert len(set(shown)) == len(names) and all(s in out for s in shown)


NASTY_MARKDOWN = [
    "*a*",
    "_a_",
    "__a__",
    "**a**",
    "`a`",
    "``a``",
    "[a](b)",
    "![a](b)",
    "[a][b]",
    "[a]",
    "<b>",
    "<!-- x -->",
    "<http://x.org>",
    "&amp;",
    "&#65;",
    "a|b",
    "\\*a\\*",
    "# h",
    "a #",
    "- x",
    "+ x",
    "1. x",
    "1) x",
    "> q",
    "~~s~~",
    "~s~",
    "a\\",
    "---",
    "***",
    "a_b_",
    "_a_b",
    "conv_1 x_y.z-w+v#u",
    "\x1b[1m\u034f",
    "{a}",
    "a&b",
    "(x)",
]


@pytest.mark.parametrize("text", NASTY_MARKDOWN)
def test_markdown_text_renders_as_written(text):
    """In a heading, a table cell and a list item, markdown_text shows ``text`` (printable)
    as plain text: no markup of any kind."""
    from layercalc.text import markdown_text

    escaped = markdown_text(text)
    doc = f"### {escaped}\n\n| a |\n|---|\n| {escaped} |\n\n- {escaped}\n"
    shown = printable(text)
    assert markdown_texts(doc) == [shown, "a", shown, shown]


def test_markdown_text_keeps_names_readable_and_breaks_autolinks():
    from layercalc.text import markdown_text

    assert markdown_text("layer1.0.conv_1-a+b#2") == "layer1.0.conv_1-a+b#2"
    assert markdown_text("café × 3") == "café × 3"
    # GitHub links bare URLs, www. hosts and e-mail addresses in text by itself
    for text in ("https://evil.example/x", "www.evil.example", "me@evil.example"):
        shown = markdown_text(text)
        assert not re.search(r"\w://|www\.|\w@", shown), shown


@pytest.mark.parametrize("argv", [[HOSTILE], ["import", HOSTILE], ["shape", "--format", HOSTILE]])
def test_an_unknown_command_or_choice_is_escaped(argv, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert not raw_characters(out + err), sorted(map(repr, raw_characters(out + err)))
