"""Diagnostics: the one error type that carries a spec location, and its plain twin.

Pure code (formulas, layer rules) raises :class:`LayerError` without positions; the
code that holds the YAML node turns it into a located :class:`SpecError`.
"""

from __future__ import annotations

from collections import namedtuple

# Records on the start-up path are namedtuples and slotted classes rather than
# dataclasses: `dataclasses` imports `inspect` and compiles each class's methods at
# import, together ~12 ms of a 50 ms `shape --format json` (issue 8).


class Diagnostic(
    namedtuple(
        "Diagnostic",
        "code message line column severity hint file",
        defaults=(1, 1, "error", None, None),
    )
):
    """One finding about a spec file, 1-based line and column; severity is "error" or
    "warning". Immutable: ``d._replace(hint=None)`` gives a changed copy."""

    __slots__ = ()

    def location(self) -> str:
        return f"{self.file or '<spec>'}:{self.line}:{self.column}"

    def as_json(self) -> dict:
        out = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint or None,  # always present: null when there is none
        }
        return out


MAX_PROBLEMS = 100  # diagnostics of one section (expect, lint) before the rest are cut


def cut_short(found: list, node, file, what: str) -> bool:
    """Whether ``found`` holds MAX_PROBLEMS diagnostics; if so, adds one that says the
    rest of ``what`` (at ``node``) was not checked, so a file of 400,000 bad keys is
    answered at once instead of listing them all."""
    if len(found) < MAX_PROBLEMS:
        return False
    found.append(
        Diagnostic(
            "too-many-problems",
            f"more than {MAX_PROBLEMS} problems in {what}; the rest of it was not checked",
            node.line,
            node.col,
            "error",
            "fix these first",
            file,
        )
    )
    return True


class SpecError(Exception):
    """A located problem in a spec; stops the analysis of that file."""

    def __init__(
        self,
        code: str,
        message: str,
        node=None,
        hint: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        if node is not None and line is None:
            line, column = node.line, node.col
        self.line = line or 1
        self.column = column or 1

    def diagnostic(self, file: str | None = None) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.line, self.column, "error", self.hint, file)


class LayerError(ValueError):
    """A layer rule refused its arguments or input; ``arg`` names the argument to blame."""

    def __init__(
        self,
        message: str,
        arg: str | None = None,
        code: str = "invalid-layer",
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.code = code
        self.hint = hint


def closest(word: str, choices, normalize=None) -> str | None:
    """The closest of ``choices`` to ``word`` (for "did you mean"), or None."""
    import difflib

    choices = list(choices)
    if normalize is not None:
        table = {}
        for c in choices:
            table.setdefault(normalize(c), c)
        key = normalize(word)
        hits = difflib.get_close_matches(key, _same_start(key, table), n=1, cutoff=0.6)
        return table[hits[0]] if hits else None
    hits = difflib.get_close_matches(word, _same_start(word, choices), n=1, cutoff=0.6)
    return hits[0] if hits else None


def _same_start(word: str, choices) -> list:
    """The choices that begin as ``word`` does (its first letter, ignoring case and
    underscores), or that hold it or are held in it (a dropped first letter,
    `ut_channels`; a prefix, `deconv2d`): a typo rarely changes the first letter, and
    an unrelated word of similar letters (`activation` -> `dilation`, `stride` ->
    `tie`) misleads more than no suggestion."""
    w = word.lstrip("_").lower()
    if not w:
        return list(choices)
    out = []
    for c in choices:
        t = str(c).lstrip("_").lower()
        if t[:1] == w[:1] or (len(w) >= 3 and w in t) or (len(t) >= 4 and t in w):
            out.append(c)
    return out


def did_you_mean(word: str, choices, normalize=None) -> str | None:
    best = closest(word, choices, normalize)
    return f"did you mean '{best}'?" if best else None


class SpecErrors(SpecError):
    """Several independent located problems of one spec (the builder goes on after an
    error, SPEC.md section 6: every independent error in one run); it reads as the first
    of them where one SpecError is expected. ``unchecked``: the builder stopped at its
    cap, the rest of the file was not checked."""

    def __init__(self, errors: list, unchecked: bool = False):
        first = errors[0]
        super().__init__(
            first.code, first.message, hint=first.hint, line=first.line, column=first.column
        )
        self.errors = errors
        self.unchecked = unchecked

    def diagnostics(self, file: str | None = None) -> list:
        out = [e.diagnostic(file) for e in self.errors]
        if self.unchecked:
            last = self.errors[-1]
            out.append(
                Diagnostic(
                    "too-many-problems",
                    f"{len(self.errors)} errors; the rest of the file was not checked",
                    last.line,
                    last.column,
                    "error",
                    "fix these first",
                    file,
                )
            )
        return out
