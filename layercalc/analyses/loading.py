"""One spec file in, one result out: the network, or the located diagnostics.

Pure apart from reading the named file; never raises for a bad spec.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from ..errors import Diagnostic, SpecError, SpecErrors
from ..graph import Network, build, gc_paused
from ..spec import Limits, load_spec

MAX_FILE_BYTES = 16 * 2**20


class Result:
    """One file's outcome: the network (None when it is invalid) and its diagnostics;
    ``spec``, the spec read when the network could not be built from it (None else)."""

    __slots__ = ("file", "net", "diagnostics", "spec", "trail")

    def __init__(
        self, file: str, net: Network | None = None, diagnostics: list | None = None, spec=None
    ):
        self.file = file
        self.net = net
        self.diagnostics = [] if diagnostics is None else diagnostics
        self.spec = spec
        self.trail = ()  # a failed build's layers: (name, type, output, line) each

    @property
    def ok(self) -> bool:
        return self.net is not None and not any(d.severity == "error" for d in self.diagnostics)


_STDIN: list = [None, None]  # standard input's bytes and the stream they came from


def read_source(path: str) -> bytes:
    """The first MAX_FILE_BYTES + 1 bytes of a spec file (``-``: standard input). Anything
    but a regular file (a named pipe, a device, a socket) is refused before it is opened:
    reading one could wait forever. OSError says why a file cannot be read."""
    if path == "-":
        if sys.stdin is None:  # `layercalc shape - <&-`
            raise OSError(errno.EBADF, "standard input is closed")
        if _STDIN[0] is None or _STDIN[1] is not sys.stdin:  # read once: `check - -`
            _STDIN[:] = [sys.stdin.buffer.read(MAX_FILE_BYTES + 1), sys.stdin]
        return _STDIN[0]
    _refuse_special(os.stat(path).st_mode)
    # non-blocking: a file swapped for a named pipe after the stat cannot hang the open
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        _refuse_special(os.fstat(fd).st_mode)
        return fh.read(MAX_FILE_BYTES + 1)


def _refuse_special(mode: int):
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a directory fails as it did
        from ..outfile import _kind

        exc = OSError(errno.EINVAL, f"it is {_kind(mode)}, not a regular file")
        exc.hint = "to read a stream, give `-` and pipe it to standard input"
        raise exc


def analyse(
    path: str,
    overrides: dict | None = None,
    input_override=None,
    limits: Limits | None = None,
    display: str | None = None,
) -> Result:
    file = display or ("<stdin>" if path == "-" else path)
    try:
        data = read_source(path)
    except OSError as exc:
        why = exc.strerror or str(exc)
        return Result(
            file,
            None,
            [
                Diagnostic(
                    "unreadable",
                    f"cannot read the file: {why}",
                    file=file,
                    hint=None if path == "-" else getattr(exc, "hint", "check the path"),
                )
            ],
        )
    if len(data) > MAX_FILE_BYTES:
        return Result(
            file, None, [Diagnostic("too-large", "the file is larger than 16 MiB", file=file)]
        )
    return analyse_bytes(data, file, overrides, input_override, limits)


def analyse_bytes(
    data: bytes, file: str, overrides=None, input_override=None, limits=None
) -> Result:
    spec = None
    try:
        with gc_paused():
            spec = load_spec(data, file, overrides, input_override, limits)
            net = build(spec, limits)
    except SpecErrors as exc:  # every independent error of the file
        r = Result(file, None, exc.diagnostics(file), spec)
        r.trail = getattr(exc, "trail", ())
        return r
    except SpecError as exc:
        r = Result(file, None, [exc.diagnostic(file)], spec)
        r.trail = getattr(exc, "trail", ())
        return r
    except RecursionError:
        return Result(file, None, [Diagnostic("too-deep", "the spec nests too deeply", file=file)])
    return Result(file, net, [])
