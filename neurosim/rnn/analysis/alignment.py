"""How well a learning rule's gradient aligns with the exact (BPTT) gradient.

For each parameter ``p`` with rule gradient ``g`` and exact gradient ``g*``::

    cosine     = <g, g*> / (||g|| ||g*||)
    norm_ratio = ||g|| / ||g*||

(Liu et al. 2022 / Liu, Yang & Cueva 2025 track these along training; e-prop's cosine for W_rec is
typically 0.7-0.95 at initialization and falls as training proceeds.)
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import Batch, LeakyRNN
from neurosim.rnn.rules import value_and_gradients


def gradient_alignment(model: LeakyRNN, batch: Batch, rule: str = "eprop", *, params=None, noise=None,
                       reference: str = "bptt", **rule_options) -> dict:
    """Cosine and norm ratio of ``rule``'s gradient against the exact gradient, per parameter.

    Parameters
    ----------
    model : LeakyRNN
    batch : Batch
    rule : str
        The rule to assess (``"eprop"``, ``"eprop-random"``, ``"tbptt"``, ...).
    params : dict, optional
        Evaluate at these parameters instead of ``model.params``.
    noise : array (B, T, N), optional
        Voltage-noise samples shared by both gradients.
    reference : str
        The rule to compare with (default exact ``"bptt"``).
    **rule_options
        Options of ``rule`` (e.g. ``window=10`` for tbptt).

    Returns
    -------
    dict
        ``{param: {"cosine": float, "norm_ratio": float}}`` for every parameter. A zero reference
        gradient gives ``nan`` (undefined) for that parameter.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision(); m = LeakyRNN(task.n_in, 20, task.n_out, seed=0)
    >>> al = gradient_alignment(m, task.batch(8, np.random.default_rng(0)), "eprop")
    >>> round(al["W_out"]["cosine"], 12), round(al["W_out"]["norm_ratio"], 12)
    (1.0, 1.0)
    >>> 0 < al["W_rec"]["cosine"] < 1
    True
    """
    _, g = value_and_gradients(model, batch, rule, params=params, noise=noise, **rule_options)
    _, ref = value_and_gradients(model, batch, reference, params=params, noise=noise)
    out = {}
    for k in ref:
        a, b = g[k].ravel(), ref[k].ravel()
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if nb == 0.0:
            out[k] = {"cosine": float("nan"), "norm_ratio": float("nan")}
            continue
        cos = float(a @ b) / (na * nb) if na > 0 else 0.0
        out[k] = {"cosine": cos, "norm_ratio": na / nb}
    return out
