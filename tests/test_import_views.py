"""importers.views.view_entry: a reshape traced at one size, written as the entry that
holds at others (unflatten a split dim, flatten merged ones), else a reshape."""

import pytest

from layercalc.importers.views import view_entry

CASES = [
    ((4, 48, 28, 28), (4, 2, 24, 28, 28), ("unflatten", {"dim": 1, "sizes": [2, 24]})),
    ((4, 2, 24, 28, 28), (4, 48, 28, 28), ("flatten", {"start_dim": 1, "end_dim": 2})),
    ((1, 768, 14, 14), (1, 768, 196), ("flatten", {"start_dim": 2, "end_dim": 3})),
    ((2, 3, 4), (24,), ("flatten", {"start_dim": 0, "end_dim": 2})),
    ((2, 5), (2, 1, 5), ("unflatten", {"dim": 1, "sizes": [1, 5]})),  # a dim added
    ((2, 1, 5), (2, 5), ("flatten", {"start_dim": 1, "end_dim": 2})),  # and removed
    ((2, 5), (1, 2, 5), ("unflatten", {"dim": 0, "sizes": [1, 2]})),  # in front
    ((2, 5), (2, 5, 1), ("unflatten", {"dim": 1, "sizes": [5, 1]})),  # behind
    ((2, 3, 4), (2, 4, 3), ("reshape", {"shape": [-1, 4, 3]})),  # no split or merge
    ((6, 4), (4, 6), ("reshape", {"shape": [4, 6]})),  # the batch not kept
    ((2, 0, 3), (2, 3, 0), ("reshape", {"shape": [2, 3, 0]})),  # empty: as traced
    ((), (1, 1), ("reshape", {"shape": [1, 1]})),
    ((1, 1), (), ("reshape", {"shape": []})),
    ((2, 3), (2, 3), None),  # the same shape: an identity
]


@pytest.mark.parametrize("old,new,want", CASES)
def test_view_entry(old, new, want):
    assert view_entry(old, new) == want
