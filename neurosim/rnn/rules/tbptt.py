"""Truncated BPTT: gradients flow back at most to the start of the current K-step window.

The forward pass runs over the whole trial; at every step ``t`` that is a positive multiple of
``K`` the state entering the window (``v_{t-1}``, ``r_{t-1}``) is treated as a constant, so the
adjoint ``gamma`` is reset to zero there (see :mod:`neurosim.rnn.rules.bptt` for the recursion).
``K >= T`` gives exact BPTT (tested). Inside each window the gradient is exact.
"""

from __future__ import annotations

from neurosim.rnn.model import Batch, LeakyRNN
from neurosim.rnn.rules.bptt import bptt


def tbptt(model: LeakyRNN, batch: Batch, *, window: int, params=None, noise=None, parts: bool = False,
          dtype="float64"):
    """Loss and truncated-BPTT gradient with non-overlapping windows of ``window`` steps.

    ``dtype`` is the floating-point type of the computation, as in :func:`bptt`.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn.model import LeakyRNN, Batch
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 5, 2)), np.zeros((2, 5, 1)), np.ones((2, 5)))
    >>> E1, g1 = tbptt(m, b, window=5); E2, g2 = bptt(m, b)
    >>> bool(np.array_equal(g1["W_rec"], g2["W_rec"]))
    True
    """
    if window is None:
        raise ValueError("tbptt needs window=K (steps per truncation window)")
    return bptt(model, batch, params=params, noise=noise, window=window, parts=parts, dtype=dtype)
