"""Every performance target in one run, as one table (issue 18: "keep the first round's
targets; the benchmark scripts print all of them in one run").

The scripts of this directory run one after the other; each measures its own baseline
in the same run (ratios, not absolute times, are what compare across machines). This
project's own scripts give their rows directly; the others (bench_scale, bench_startup,
bench_draw, bench_diff, bench_import, bench_verify, bench_forwards, bench_llm, where
present) run as they are, their output is shown, and every line of theirs that ends in
a verdict (OK / MISSED, met / not met, yes / no) becomes a row.
Usage: python benchmarks/bench_all.py [--quick]   (--quick: fewer runs, no 100k-layer runs)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import bench_check
import bench_commands
import bench_export
import bench_memory
from common import PY, bench_env

HERE = Path(__file__).resolve().parent
# (script, arguments, arguments with --quick); run when the script exists
SCRIPTS = (
    ("bench_startup.py", [], ["--runs", "5"]),
    ("bench_scale.py", [], ["--runs", "1"]),
    ("bench_draw.py", [], ["--runs", "3"]),
    ("bench_diff.py", [], []),
    ("bench_import.py", [], ["--runs", "1"]),
    ("bench_verify.py", [], []),
    ("bench_forwards.py", [], []),
    ("bench_llm.py", [], ["--runs", "2"]),
)
VERDICT = re.compile(r"\b(OK|MISSED|not met|met|yes|no)\b\)?\s*$")


def run_script(name: str, args: list) -> list:
    """Run one script, echo its output, and give its verdict lines as rows."""
    print(f"\n== {name} {' '.join(args)}", flush=True)
    t = time.perf_counter()
    out = subprocess.run(
        [PY, str(HERE / name), *args],
        cwd=HERE.parent,
        env=bench_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    print(out.stdout, end="")
    if out.returncode != 0:
        print(out.stderr[-800:], end="")
        return [(f"{name}", f"failed (exit {out.returncode})", False)]
    print(f"   ({time.perf_counter() - t:.0f} s)")
    rows = []
    for line in out.stdout.splitlines():
        m = VERDICT.search(line)
        if m:
            text = line[: m.start()].rstrip(" (:").strip()
            rows.append(
                (f"{name[6:-3]}: {' '.join(text.split())}", "", m.group(1) in ("OK", "met", "yes"))
            )
    return rows


def own(name: str, fn) -> list:
    print(f"\n== {name}", flush=True)
    t = time.perf_counter()
    rows = fn()
    for target, measured, met in rows:
        print(f"{target:50} {measured:50} {'OK' if met else 'MISSED'}")
    print(f"   ({time.perf_counter() - t:.0f} s)")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs, no 100k-layer runs")
    args = ap.parse_args()
    q = args.quick
    runs = 3 if q else 9
    rows = []
    rows += own("bench_check", lambda: bench_check.report(bench_check.measure(runs)))
    names = [c for c in bench_commands.COMMANDS if c != "shape"]
    rows += own(
        "bench_commands",
        lambda: bench_commands.report(
            bench_commands.measure(names, 1 if q else 2, not q), names, not q
        ),
    )
    if not q:
        rows += own("bench_memory", lambda: bench_memory.report(bench_memory.measure(100_000)))
    rows += own("bench_export", lambda: bench_export.report(bench_export.measure(2 if q else 5)))
    for name, full, quick in SCRIPTS:
        if (HERE / name).exists():
            rows += run_script(name, quick if q else full)
    width = max(len(r[0]) for r in rows)
    print("\n== every target")
    for target, measured, met in rows:
        print(f"{'met    ' if met else 'NOT MET'}  {target:{width}}  {measured}")
    missed = sum(not r[2] for r in rows)
    print(f"{len(rows) - missed} of {len(rows)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
