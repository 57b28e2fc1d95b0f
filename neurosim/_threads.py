"""One place for limiting BLAS threads.

The products inside an RNN step or a metric are small: on a 2-core machine, and in parallel
workers, one BLAS thread per task is fastest and never oversubscribes the cores.
"""

from __future__ import annotations

import contextlib

_CONTROLLER = None  # threadpoolctl.ThreadpoolController, built on first use


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Limit BLAS to ``n`` threads inside the block (``None``: leave it alone).

    Uses :mod:`threadpoolctl` (a scikit-learn dependency).

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
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
