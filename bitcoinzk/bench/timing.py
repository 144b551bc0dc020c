"""CPU time of one call, for the micro-benchmarks (`benchmarks/crypto_*.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable


def per_call_us(fn: Callable[[], object], budget_s: float) -> float:
    """Best of 5 runs of a loop sized to ~budget_s/5, in CPU microseconds per call.

    CPU time (not wall time) so that other processes on a shared machine inflate the
    figures less; an SMT sibling at work still slows every figure down.
    """
    fn()
    t = time.process_time()
    fn()
    one = max(time.process_time() - t, 1e-6)
    n = max(3, int(budget_s / 5 / one))
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t) / n)
    return best * 1e6
