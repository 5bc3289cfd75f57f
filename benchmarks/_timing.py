"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import time


def best_time(fn, repeats: int = 5) -> float:
    """Best wall time in seconds of ``fn()`` over ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
