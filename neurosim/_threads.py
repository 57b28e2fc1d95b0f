"""One place for limiting BLAS threads.

The products inside an RNN step or a metric are small: on a 2-core machine, and in parallel
workers, one BLAS thread per task is fastest and never oversubscribes the cores.
"""

from __future__ import annotations

import contextlib

import numpy as np

_CONTROLLER = None  # threadpoolctl.ThreadpoolController, built on first use


def check_threads(n, name: str = "threads", *, allow_none: bool = True) -> int | None:
    """A thread count: an integer >= 1, or None (leave BLAS alone) when ``allow_none``.

    Zero and negative counts are refused (threadpoolctl would silently ignore or misread them).

    Examples
    --------
    >>> check_threads(2), check_threads(None)
    (2, None)
    """
    if n is None and allow_none:
        return None
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= 1{' or None' if allow_none else ''}, got {n!r} "
                        f"({type(n).__name__})")
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1 (a number of threads){'; None leaves BLAS alone' if allow_none else ''}, "
                         f"got {n}")
    return int(n)


@contextlib.contextmanager
def blas_threads(n: int | None, name: str = "threads"):
    """Limit BLAS to ``n`` threads inside the block (``None``: leave it alone); ``n`` is checked
    with :func:`check_threads` (``name`` is the argument named in its error).

    Uses :mod:`threadpoolctl` (a scikit-learn dependency).

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    n = check_threads(n, name)
    if n is None:
        yield
        return
    global _CONTROLLER
    if _CONTROLLER is None:
        # imported and built on first use: it inspects every loaded library (~10 ms), so it is
        # built once (numpy's and scipy's BLAS are loaded by then) instead of on every call
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=int(n), user_api="blas"):
        yield
