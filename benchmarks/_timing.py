"""The timer every benchmark script uses: the median wall time of repeated calls."""

from __future__ import annotations

import time

import numpy as np


def timed(fn, repeats: int, *, warmup: bool = False):
    """``(result of the last call, median seconds over repeats calls)``; ``warmup`` makes one
    untimed call first (caches, lazy imports)."""
    if warmup:
        fn()
    out, times = None, []
    for _ in range(max(1, int(repeats))):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def median_seconds(fn, repeats: int, *, warmup: bool = False) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` (see :func:`timed`)."""
    return timed(fn, repeats, warmup=warmup)[1]
