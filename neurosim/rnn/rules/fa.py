"""Feedback alignment through time (the 2025 paper's ``learning_mode=-2``).

Exact BPTT through the recurrence, except that the readout error reaches the units through a
fixed random matrix ``B_fb`` instead of ``W_out`` (Lillicrap et al. 2016)::

    rho_t   = e_t B_fb + 2 lambda_r r_t / (B T N) + a gamma_{t+1} W_eff
    gamma_t = rho_t * phi'(v_t) + (1 - a) gamma_{t+1}
    dW_eff ~= a sum_t gamma_t^T r_{t-1}   (and W_in, b, v0 as in BPTT);  dW_out, db_out exact

``B_fb = W_out`` is BPTT exactly (tested). The default ``B_fb`` is
:func:`~neurosim.rnn.rules.eprop.random_feedback` (entries ``N(0, 1/N)``, the same matrix
``"eprop-random"`` uses for the same seed); the released 2025 code draws it uniform on
``[-1/sqrt(N), 1/sqrt(N)]``, a scale difference that Adam's per-parameter normalization
largely removes.
"""

from __future__ import annotations

from neurosim.rnn.model import Batch, LeakyRNN
from neurosim.rnn.rules.eprop import random_feedback
from neurosim.rnn.rules.modprop import approximate_bptt


def feedback_alignment(model: LeakyRNN, batch: Batch, *, params=None, noise=None, feedback=None,
                       feedback_seed: int = 0, parts: bool = False, dtype="float64"):
    """Loss and feedback-alignment gradient (BPTT with the readout error sent back through ``B_fb``).

    Parameters
    ----------
    model, batch, params, noise
        As in :func:`neurosim.rnn.rules.bptt.bptt`.
    feedback : array (O, N), optional
        The fixed feedback matrix; default ``random_feedback(O, N, feedback_seed)``.
    feedback_seed : int
        Seed of the default feedback matrix.
    parts, dtype
        As in :func:`~neurosim.rnn.rules.modprop.approximate_bptt`.

    Returns
    -------
    (loss, grads) or (loss, grads, parts)

    Examples
    --------
    >>> import numpy as np
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = feedback_alignment(m, b, feedback=m.params["W_out"])
    >>> from neurosim.rnn.rules.bptt import bptt
    >>> bool(np.allclose(g["W_rec"], bptt(m, b)[1]["W_rec"], rtol=0, atol=1e-14))
    True
    """
    if feedback is None:
        feedback = random_feedback(model.n_out, model.n_rec, feedback_seed)
    return approximate_bptt(model, batch, params=params, noise=noise, feedback=feedback, parts=parts, dtype=dtype)
