"""Position encodings of sequence models (issue 19): rotary position embeddings."""

from __future__ import annotations


def positional_types() -> list:
    return []
