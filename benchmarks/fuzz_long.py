"""A long fuzz run: the strategies and the property of tests/test_fuzz.py, with fresh
randomness and as many examples as asked for.

    python benchmarks/fuzz_long.py --examples 50000            # random + mutated specs
    python benchmarks/fuzz_long.py --examples 5000 --only mutated --seed 7

Exits 1 and prints the (shrunk) failing spec when any example breaks the property: an
exit code other than 0 or 1, an exception escaping the command, or an error diagnostic
without a line.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

import test_fuzz as fuzz  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=50_000, help="examples in total")
    ap.add_argument("--only", choices=("random", "mutated"), help="one strategy only")
    ap.add_argument("--seed", type=int, default=None, help="reproducible run")
    args = ap.parse_args(argv)

    strategies = {"random": fuzz.random_spec(), "mutated": fuzz.mutated_spec()}
    if args.only:
        strategies = {args.only: strategies[args.only]}
    per = max(1, args.examples // len(strategies))
    counts: collections.Counter = collections.Counter()
    failed = False
    for name, strategy in strategies.items():

        @settings(
            max_examples=per,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(spec=strategy, which=fuzz.command_and_format())
        def run(spec, which):
            result = fuzz.run_spec(spec, *which)
            counts[(name, result.exit_code)] += 1

        if args.seed is not None:
            run = seed(args.seed)(run)
        start = time.perf_counter()
        try:
            run()
        except Exception as exc:  # the property broke: hypothesis printed the example
            failed = True
            print(f"{name}: FAILED\n{exc}", file=sys.stderr)
        took = time.perf_counter() - start
        print(f"{name}: {counts[(name, 0)]} valid, {counts[(name, 1)]} refused in {took:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
