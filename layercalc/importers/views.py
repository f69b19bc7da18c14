"""How an importer writes a reshape (torch's view/reshape, ONNX's Reshape) traced at
one input size so that the entry holds at other sizes wherever one can. Pure: shapes
in, an entry out; no framework needed."""

from __future__ import annotations


def view_entry(old: tuple, new: tuple) -> tuple | None:
    """The entry (type, arguments) reshaping ``old`` into ``new``, or None for the same
    shape (an identity). The dims before and after the ones the reshape changes are
    kept, so a split of one dim is an unflatten of it (a channel shuffle's
    view(n, g, c // g, h, w)) and a merge of several a flatten (view(n, c, h * w)):
    both follow --input, where a reshape to the traced sizes would not, and might even
    fit another input by merging samples (4 x 48 x 14 x 14 = 2 x 24 x 28 x 28).
    Otherwise a reshape to ``new``, its batch -1 where it keeps the batch."""
    old, new = tuple(old), tuple(new)
    empty = 0 in old or 0 in new
    if old and new and not empty:
        p = 0  # the dims kept in front, then behind
        while p < min(len(old), len(new)) and old[p] == new[p]:
            p += 1
        s = 0
        while s < min(len(old), len(new)) - p and old[-1 - s] == new[-1 - s]:
            s += 1
        mid_old, mid_new = old[p : len(old) - s], new[p : len(new) - s]
        if not mid_old and not mid_new:
            return None
        if not mid_old or not mid_new:  # a size-1 dim added or removed: with a neighbour
            if s:
                s -= 1
            else:
                p -= 1
            mid_old, mid_new = old[p : len(old) - s], new[p : len(new) - s]
        if len(mid_old) == 1:
            return "unflatten", {"dim": p, "sizes": list(mid_new)}
        if len(mid_new) == 1:
            return "flatten", {"start_dim": p, "end_dim": p + len(mid_old) - 1}
    shape = list(new)
    if shape and old and shape[0] == old[0] and not empty:
        shape[0] = -1  # the batch kept: the spec follows --input
    return "reshape", {"shape": shape}
