"""MDGL, multidigraph learning (Liu, Smith, Mihalas, Shea-Brown & Sümbül, PNAS 2021).

e-prop plus the credit that reaches a unit from the units it projects to, one synapse away,
carried by cell-type-specific modulatory signals. In e-prop the learning signal of unit ``p`` at
step ``t`` is its direct error ``L_t = e_t W_out + 2 lambda_r r_t / (B T N)``. MDGL adds the
direct error of every unit ``j`` that ``p`` connects to, one step later, through the
cell-type-averaged weight from ``p``'s type to ``j``'s type::

    delta_t  = L_t * phi'(v_t)
    Lm_t     = L_t + a delta_{t+1} W_mod          (t = -1 .. T-2;  Lm_{T-1} = L_{T-1}, L_{-1} = 0)
    W_mod    = A * Wbar,   Wbar[j, p] = mean of the non-zero W_eff[type_j, type_p] entries,
               A = (W_eff != 0)                   (a unit is modulated only by its targets)
    dW_eff  ~= sum_t (Lm_t * phi'(v_t))^T eps_t   (e-prop's presynaptic traces eps_t; likewise
                                                  W_in, b; v0 also gets Lm_{-1} * phi'(v0))

which is the MDGL code's default ("EI_approx": average over non-zero entries, adjacency kept).
``a`` is the input scaling of the voltage update (``1 - alpha`` of the LIF code). Switching the
modulatory term off (``modulatory=False``) is e-prop exactly; with one cell type per unit and no
leak (``a = 1``) every credit path of a two-step trial has at most one synaptic hop, and MDGL
equals BPTT (both tested).

Computed here in two passes (a forward pass for the learning signals, then the e-prop pass with
``Lm`` as its learning signal): memory O(T B N) as BPTT; an online implementation only needs the
signals of one step ahead (a one-step delay).
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import Batch, LeakyRNN, output_error, phi_prime
from neurosim.rnn.rules.eprop import eprop
from neurosim.rnn.rules.modprop import cell_type_labels, type_averaged


def mdgl(model: LeakyRNN, batch: Batch, *, params=None, noise=None, cell_types="ei", modulatory: bool = True,
         chunk: int = 32):
    """Loss and MDGL gradient.

    Parameters
    ----------
    model : LeakyRNN
        Needs Dale's law for the default cell types (or pass ``cell_types`` labels).
    batch : Batch
    params, noise
        As in :func:`neurosim.rnn.rules.bptt.bptt`.
    cell_types : see :func:`~neurosim.rnn.rules.modprop.cell_type_labels`
        Default ``"ei"``: two types, excitatory and inhibitory (as in the PNAS paper).
    modulatory : bool
        ``False`` drops the modulatory term (= e-prop).
    chunk : int
        e-prop's accumulation chunk (does not change the result beyond rounding).

    Returns
    -------
    (loss, grads)

    Examples
    --------
    >>> m = LeakyRNN(2, 10, 1, seed=0, dale=True)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = mdgl(m, b); g["W_rec"].shape
    (10, 10)
    """
    p = model.check_params(params)
    if not modulatory:
        return eprop(model, batch, params=p, noise=noise, chunk=chunk)
    labels = cell_type_labels(model, cell_types)
    W_mod = model.alpha * type_averaged(model.effective_recurrent(p["W_rec"]), labels, nonzero=True)
    fw = model.run(batch.inputs, params=p, noise=noise)
    _, e = output_error(fw.y, batch)
    r, v = fw.r, fw.v                                        # (B, T, N)
    L = np.matmul(e, p["W_out"])
    if model.activity_l2 > 0:
        L += (2.0 * model.activity_l2 / r.size) * r
    delta = L * phi_prime(v, r, model.activation)
    Lm = L.copy()
    Lm[:, :-1] += np.matmul(delta[:, 1:], W_mod)
    L_init = delta[:, 0] @ W_mod
    return eprop(model, batch, params=p, noise=noise, learning_signal=Lm, learning_signal_init=L_init,
                 chunk=chunk)
