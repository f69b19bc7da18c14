"""draw's layout shortcuts give the very floats of the general code they skip."""

from __future__ import annotations

import random

from layercalc.draw.layout import _isotonic, _isotonic2


def test_isotonic2_equals_isotonic_bit_for_bit():
    rnd = random.Random(18)
    cases = 0
    for _ in range(20_000):
        want = [rnd.uniform(-500, 500), rnd.uniform(-500, 500)]
        if rnd.random() < 0.3:  # equal wishes and exact merges
            want[1] = want[0] + rnd.choice([0.0, 1.0, -1.0, 0.5])
        weight = [rnd.choice([1.0, 2.0, 0.5, 3.0, rnd.uniform(0.1, 4)]) for _ in range(2)]
        seps = [rnd.choice([0.0, 10.0, rnd.uniform(0, 200)]) for _ in range(2)]
        got = _isotonic2(want, weight, seps)
        ref = tuple(_isotonic(want, weight, seps))
        assert [repr(v) for v in got] == [repr(v) for v in ref], (want, weight, seps)
        cases += want[0] - seps[0] > want[1] - seps[0] - seps[1]
    assert cases > 1000  # the merging branch was exercised
