"""What the machine lets this process use (stdlib only: imported on check's start-up)."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one,
    else every CPU."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# OpenBLAS's idle threads spin 2**18 cycles (~0.1 ms), not 2**28 (~0.1 s): long enough
# to stay awake between an LSTM's time steps, short enough to sleep through a large
# tensor's draw (with 4, its least, the LSTM was slower; 18 and 22 measured alike)
BLAS_THREAD_TIMEOUT = "18"


def let_blas_threads_sleep() -> None:
    """Have OpenBLAS's threads sleep soon after a matrix product ends, unless the user
    set OPENBLAS_THREAD_TIMEOUT: by default each spins about 0.1 s on its core after
    every product, and on a 2-core machine that is the core verify's other work needs
    (seeded values drawn by a thread per CPU, NumPy's single-threaded copies).
    OpenBLAS reads the variable once, as NumPy loads it, so this acts only before the
    first ``import numpy``; an OpenBLAS built on OpenMP, or another BLAS, ignores it."""
    import sys

    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_THREAD_TIMEOUT)
