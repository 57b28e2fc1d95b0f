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

Computed here offline, from one forward pass (memory O(T B N), as BPTT): the learning signals
``Lm_t``, then e-prop's weight gradient in its equivalent backward form. The presynaptic traces
are a leaky filter of the rates, so ``sum_t d_t^T eps_t = a sum_t g_t^T r_{t-1}`` with
``d_t = Lm_t * phi'(v_t)`` and ``g_t = d_t + (1 - a) g_{t+1}`` (likewise W_in, b; v0 gets
``(1 - a) g_0``): the same sums as the online loop of :func:`~neurosim.rnn.rules.eprop.eprop` in
another order. An online implementation only needs the signals of one step ahead (a one-step
delay).
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import Batch, LeakyRNN, check_dtype, output_error, phi_prime
from neurosim.rnn.rules.bptt import direct_credit, parameter_gradients
from neurosim.rnn.rules.eprop import eprop
from neurosim.rnn.rules.modprop import cell_type_labels, type_averaged


def mdgl(model: LeakyRNN, batch: Batch, *, params=None, noise=None, cell_types="ei", modulatory: bool = True,
         chunk: int = 32, parts: bool = False, dtype=np.float64):
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
        ``False`` drops the modulatory term (= e-prop, computed by its online loop).
    chunk : int
        e-prop's accumulation chunk when ``modulatory=False`` (does not change the result beyond
        rounding).
    parts : bool
        Also return ``{"task": task loss, "activity": lambda_r * mean(r^2)}`` as a third element.
    dtype : {"float64", "float32"}
        Floating-point type of the pass (the cell-type averages are formed in float64 from the
        float64 weights); the gradient agrees with float64's to about 1e-5 relative and is
        returned as float64.

    Returns
    -------
    (loss, grads) or (loss, grads, parts)

    Examples
    --------
    >>> m = LeakyRNN(2, 10, 1, seed=0, dale=True)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = mdgl(m, b); g["W_rec"].shape
    (10, 10)
    """
    dtype = check_dtype(dtype)
    p64 = model.check_params(params)
    if not modulatory:
        return eprop(model, batch, params=p64, noise=noise, chunk=chunk, parts=parts, dtype=dtype)
    labels = cell_type_labels(model, cell_types)
    W_mod = (model.alpha * type_averaged(model.effective_recurrent(p64["W_rec"]), labels, nonzero=True)).astype(
        dtype, copy=False)
    p = model.check_params(p64, dtype)
    fw = model.run(batch.inputs, params=p, noise=noise, dtype=dtype)
    E_task, e = output_error(fw.y, batch)
    r, v = fw.r_tm, fw.v_tm                                  # (T, B, N)
    T, B, N = r.shape
    a = model.alpha
    lam = model.activity_l2
    E_act = lam * float(np.mean(r * r)) if lam > 0 else 0.0
    e_tm = np.ascontiguousarray(e.transpose(1, 0, 2))        # (T, B, O)
    L, live = direct_credit(e_tm, p["W_out"], r, lam)       # (T, B, N); zero off the live steps
    dphi = phi_prime(v, r, model.activation)
    delta = L * dphi
    # Lm_{t-1} = L_{t-1} + a delta_t W_mod (delta_t is exactly zero on the steps that are not live)
    if live.size == T:
        L[:-1] += np.matmul(delta[1:], W_mod)
    else:
        for t in live[live >= 1]:
            L[t - 1] += delta[t] @ W_mod
    L_init = delta[0] @ W_mod if live.size and live[0] == 0 else np.zeros((B, N), dtype)
    gamma = L                                                # overwritten in place
    gamma *= dphi                                            # Lm_t phi'(v_t)
    for t in range(T - 2, -1, -1):                           # the traces' leak, run backwards
        gamma[t] += (1.0 - a) * gamma[t + 1]
    grad_v0 = (1.0 - a) * gamma[0].sum(0) + (L_init * phi_prime(fw.v_init, fw.r_init, model.activation)).sum(0)
    grads = parameter_gradients(model, p, fw, batch, gamma, e_tm, grad_v0)
    if dtype != np.float64:
        grads = {k: g.astype(np.float64) for k, g in grads.items()}
    E = E_task + E_act
    return (E, grads, {"task": E_task, "activity": E_act}) if parts else (E, grads)
