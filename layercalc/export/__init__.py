"""`layercalc export`: a resolved network written out as source code for a framework.

``to_source(net, to="torch")`` returns the text of a standalone module file, or raises
:class:`ExportError` holding a located diagnostic (a layer type or name the target
cannot express: never a silently different model). Pure: no torch needed to export.
"""

from __future__ import annotations

from ..errors import Diagnostic

TARGETS = ("torch",)


class ExportError(Exception):
    """A network the target cannot express; ``diagnostic`` says where and why, and
    ``diagnostics`` holds it with the others found in the same pass (every reserved
    name of a spec, not one per run)."""

    def __init__(self, diagnostic: Diagnostic, more=()):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.diagnostics = [diagnostic, *more]


def to_source(net, to: str = "torch", file: str | None = None) -> str:
    """The source text of ``net`` for target ``to`` (one of TARGETS)."""
    if to == "torch":
        from .torch import export_torch

        return export_torch(net, file)
    raise ValueError(f"unknown export target {to!r}; known: {', '.join(TARGETS)}")
