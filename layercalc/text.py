"""Text from a spec or a file, made safe to print: escapes for terminals, Markdown and
JSON. Pure functions of strings; every renderer applies them to text it did not write."""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

# Characters drawn as nothing that Python calls printable, so "c\u034f", "c\u3164" and "c"
# would look alike: Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt,
# Unicode 15.1; the Cf and Cn ones are not printable anyway, listed for completeness)
# and the blank-looking U+2800 BRAILLE PATTERN BLANK, which it does not list.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def _shown(text: str) -> bool:
    """``text`` prints as written: printable, and nothing in it is invisible."""
    return text.isprintable() and (text.isascii() or not _INVISIBLE.search(text))


def _raw(c: str) -> bool:
    return c.isprintable() and not _INVISIBLE.match(c)


def printable(text) -> str:
    r"""``text`` (from a spec or a file name) safe to print: every character Python does not
    call printable (C0/C1 controls and DEL, line and paragraph separators, bidi and other
    format characters, surrogates, non-ASCII spaces) is written as Python's repr writes it,
    ``\n``, ``\x1b``, ``\u2028``, so no text can move the cursor, retitle the terminal,
    forge an extra diagnostic line or reorder what follows it. Characters drawn as
    nothing (Unicode's default-ignorables, Hangul fillers, U+2800) are escaped too, so
    two different names never look alike. Backslashes stay as they are. Renderers apply
    it to every text they did not write themselves; JSON keeps the exact value (its
    encoder escapes by itself).

    >>> print(printable("conv\x1b[2J\nfake.yaml:1:1: error\r"))
    conv\x1b[2J\nfake.yaml:1:1: error\r
    >>> print(printable("a\u2028b\u202ec\x85\x00"), printable("[bold]café[/] ×"))
    a\u2028b\u202ec\x85\x00 [bold]café[/] ×
    >>> print(printable("c\u034f c\u3164 c\U000e0100"))
    c\u034f c\u3164 c\U000e0100
    """
    if type(text) is not str:
        text = str(text)
    if _shown(text):
        return text
    return "".join(c if _raw(c) else char_escape(c) for c in text)


# What markdown_text escapes: the ASCII punctuation that can start CommonMark or GitHub
# markup anywhere (\ ` * [ ] < > ( ) { } ! | ~ &, and : @ of GitHub's bare-URL and e-mail
# autolinks), and _ - . + # unless both neighbours are letters or digits: inside a word
# they start nothing (conv_1, layer1.0.conv1 stay as they are), but for the dot of www.
_MARKDOWN = re.compile(
    r"[\\`*\[\]<>(){}!|~&:@]|(?<![^\W_])[-_.+#]|[-_.+#](?![^\W_])"
    r"|(?<=www)\.",
    re.IGNORECASE,
)


def markdown_text(text) -> str:
    r"""``text`` (from a spec or a file name) for Markdown output: printable(), then every
    character that could start markup backslash-escaped, so GitHub shows it as written,
    no link, image, raw HTML, emphasis or table cell break.

    >>> print(markdown_text("![px](https://evil.example/t.png) <img/src=x> a_b *c* |"))
    \!\[px\]\(https\://evil.example/t.png\) \<img/src=x\> a_b \*c\* \|
    >>> print(markdown_text("layer1.0.conv_1 www.x.org a@b -x_ \x1b"))
    layer1.0.conv_1 www\.x.org a\@b \-x\_ \\x1b
    """
    return _MARKDOWN.sub(r"\\\g<0>", printable(text))


def char_escape(c: str) -> str:
    """One character as Python's repr escapes it: \\n, \\x1b, \\u2028, \\U000e0041."""
    n = ord(c)
    return _ESCAPES.get(c) or (
        f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
    )


def yaml_quoted(text: str) -> str:
    r"""``text`` as a YAML double-quoted scalar (what the importers write for names from
    a model): it reads back as exactly ``text``, and every character printable() would
    escape is written as the YAML escape of the same spelling, so a spec file holds no
    raw control, bidi or invisible character.

    >>> print(yaml_quoted('a"b\\c'), yaml_quoted("x\x1b[31m\u202e\tcafé"))
    "a\"b\\c" "x\x1b[31m\u202e\tcafé"
    >>> import yaml
    >>> yaml.safe_load(yaml_quoted("q\u2028\U000e0041\x85é")) == "q\u2028\U000e0041\x85é"
    True
    """
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    if not _shown(body):
        body = "".join(c if _raw(c) else char_escape(c) for c in body)
    return f'"{body}"'


def printable_json(text: str) -> str:
    r"""JSON text written with ``ensure_ascii=False`` (which leaves DEL, C1 controls, U+2028,
    format and invisible characters raw inside strings) with those written as ``\uXXXX``
    escapes: the same values, nothing raw on the terminal. The layout's own newlines stay.

    >>> print(printable_json('{"name": "a\x9b\u2028b ×"}'))
    {"name": "a\u009b\u2028b ×"}
    >>> import json; json.loads(printable_json(json.dumps("\U000e0041", ensure_ascii=False)))
    '\U000e0041'
    """
    lines = text.split("\n")
    if all(map(_shown, lines)):
        return text
    return "\n".join(
        line if _shown(line) else "".join(c if _raw(c) else _json_escape(ord(c)) for c in line)
        for line in lines
    )


def _json_escape(n: int) -> str:
    if n > 0xFFFF:  # JSON spells these as a surrogate pair
        n -= 0x10000
        return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
    return f"\\u{n:04x}"


def shape_text(shape) -> str:
    return "[" + ", ".join(str(v) for v in shape) + "]"


def cells(text: str) -> int:
    """Character cells ``text`` takes in a monospace font: East Asian wide and full-width
    characters take two, combining marks none (printable() has already escaped controls
    and invisible characters, which are then plain ASCII)."""
    if text.isascii():
        return len(text)
    n = 0
    for c in text:
        if c.isascii():
            n += 1
        elif unicodedata.combining(c):
            continue
        else:
            n += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return n
