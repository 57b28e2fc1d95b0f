"""Backpropagation through time for the voltage-form leaky RNN (exact gradient of ``loss``).

With ``e_t = dE/dy_t`` (B, O), ``phi'_t = phi'(v_t)`` and ``a = dt/tau``, going backwards from
``gamma_T = 0``::

    rho_t   = e_t W_out + (2 lambda_r / (B T N)) r_t + a gamma_{t+1} W_eff      (= dE/dr_t)
    gamma_t = rho_t * phi'_t + (1 - a) gamma_{t+1}                              (= dE/dv_t)
    dE/dW_eff = a sum_t gamma_t^T r_{t-1},  dE/dW_in = a sum_t gamma_t^T x_t,  dE/db = a sum_t gamma_t
    dE/dW_out = sum_t e_t^T r_t,            dE/db_out = sum_t e_t
    rho_{-1} = a gamma_0 W_eff,  dE/dv0 = sum_batch (rho_{-1} * phi'(v0) + (1 - a) gamma_0)

``W_eff`` is the effective recurrent weight (Dale / sparsity), mapped back to ``params["W_rec"]`` by
:meth:`~neurosim.rnn.model.LeakyRNN.recurrent_grad_to_param`. Truncation (``window=K``) cuts the
paths ``v_{t-1} -> v_t`` and ``r_{t-1} -> v_t`` at every ``t`` that is a positive multiple of ``K``
(non-overlapping windows; the state entering a window is a constant); ``K >= T`` is exact BPTT.
Cost O(T B N^2) time, O(T B N) memory; the weight gradients are single large BLAS products.
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import Batch, LeakyRNN, check_dtype, output_error, phi_prime


def live_steps(e_tm: np.ndarray, activity_l2: float = 0.0) -> np.ndarray:
    """Increasing indices of the steps whose direct credit ``e_t W_out + 2 lambda_r r_t / (B T N)`` can
    be non-zero: every step with an activity penalty, else the steps with a non-zero output error
    ``e_tm`` (T, B, O) (a loss masked to the last step has one). The other steps' products are
    exactly zero and are skipped.

    Examples
    --------
    >>> e = np.zeros((4, 2, 3)); e[3, 0, 1] = 0.5
    >>> live_steps(e).tolist(), live_steps(e, 0.1).tolist()
    ([3], [0, 1, 2, 3])
    """
    if activity_l2 > 0:
        return np.arange(e_tm.shape[0])
    return np.flatnonzero(np.any(e_tm != 0, axis=(1, 2)))


def direct_credit(e_tm: np.ndarray, W_out: np.ndarray, r: np.ndarray, activity_l2: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, live)``: the direct credit ``rho_t = e_t W_out + 2 lambda_r r_t / (B T N)`` (T, B, N)
    of every step, in ``r``'s type, and :func:`live_steps` (the steps where it can be non-zero;
    the others are exact zeros without a product). ``W_out`` is the readout (BPTT) or any fixed
    feedback matrix (O, N) that carries the output error to the units (ModProp, MDGL).

    Examples
    --------
    >>> e = np.zeros((3, 1, 2)); e[2, 0] = [1.0, -1.0]
    >>> rho, live = direct_credit(e, np.array([[1.0, 2.0], [0.5, 0.0]]), np.zeros((3, 1, 2)))
    >>> live.tolist(), rho[2].tolist(), float(abs(rho[:2]).sum())
    ([2], [[0.5, 2.0]], 0.0)
    """
    T, B, N = r.shape
    live = live_steps(e_tm, activity_l2)
    if live.size == T:
        rho = np.matmul(e_tm, W_out)
    else:                                                          # the other steps' are exactly zero
        rho = np.zeros((T, B, N), r.dtype)
        rho[live] = np.matmul(e_tm[live], W_out)
    if activity_l2 > 0:
        rho += (2.0 * activity_l2 / r.size) * r
    return rho, live


def _readout_grads(e_tm: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sum_t e_t^T r_t, sum_t e_t)`` over the steps with a non-zero error (the others add exact zeros)."""
    T, B, N = r.shape
    live = live_steps(e_tm)
    if live.size < T:
        e_tm, r = e_tm[live], r[live]
    ef = e_tm.reshape(-1, e_tm.shape[-1])
    return ef.T @ r.reshape(-1, N), ef.sum(0)


def parameter_gradients(model: LeakyRNN, p: dict, fw, batch: Batch, gamma: np.ndarray, e_tm: np.ndarray,
                        grad_v0: np.ndarray) -> dict:
    """Parameter gradients from the voltage credit ``gamma`` (T, B, N) of any BPTT-like recursion.

    ``∇W_rec = a Σ_t γ_tᵀ r_{t−1}`` (``r_{−1} = φ(v0)``), ``∇W_in = a Σ_t γ_tᵀ x_t``,
    ``∇b = a Σ_t γ_t``; the readout gets its exact gradient from the output error ``e_tm``
    (T, B, O); ``grad_v0`` is the rule's own credit of the initial voltage.
    """
    r = fw.r_tm
    T, B, N = r.shape
    a = model.alpha
    G = gamma.reshape(T * B, N)
    dW = fw.r_init.T @ gamma[0]
    if T > 1:
        dW += r[:-1].reshape(-1, N).T @ gamma[1:].reshape(-1, N)
    dW = a * dW.T
    x_tm = batch.inputs.transpose(1, 0, 2).reshape(T * B, -1).astype(G.dtype, copy=False)
    gW_out, gb_out = _readout_grads(e_tm, r)
    grads = {
        "W_in": a * (G.T @ x_tm),
        "W_rec": model.recurrent_grad_to_param(dW, p["W_rec"]),
        "b": a * G.sum(0),
        "W_out": gW_out,
        "b_out": gb_out,
        "v0": grad_v0,
    }
    return grads


def bptt(model: LeakyRNN, batch: Batch, *, params=None, noise=None, window: int | None = None,
         return_signal: bool = False, parts: bool = False, dtype=np.float64):
    """Loss and exact (or truncated) gradient by a hand-written backward pass.

    Parameters
    ----------
    model : LeakyRNN
    batch : Batch
    params : dict, optional
        Parameters to differentiate at (default ``model.params``).
    noise : array (B, T, N), optional
        Voltage-noise samples (see :meth:`LeakyRNN.run`).
    window : int, optional
        Truncation window ``K`` (truncated BPTT); ``None`` = full BPTT.
    return_signal : bool
        Also return the total derivatives ``rho_t = dE/dr_t`` as (B, T, N) and ``rho_{-1}`` (B, N)
        (the "exact learning signal" used to check e-prop).
    parts : bool
        Also return ``{"task": task loss, "activity": lambda_r * mean(r^2)}`` (their sum is the
        loss), as the last element.
    dtype : {"float64", "float32"}
        Floating-point type of the forward and backward pass. float32 is about twice as fast on
        the per-step products; its gradient agrees with float64's to about 1e-5 relative (tests
        check it) and is returned as float64, like every gradient.

    Returns
    -------
    (loss, grads) or (loss, grads, rho, rho_init), with the parts dict appended if ``parts``

    Examples
    --------
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = bptt(m, b); sorted(g) == sorted(m.params)
    True
    """
    dtype = check_dtype(dtype)
    p = model.check_params(params, dtype)
    fw = model.run(batch.inputs, params=p, noise=noise, dtype=dtype)
    E, e = output_error(fw.y, batch)
    r, v = fw.r_tm, fw.v_tm
    T, B, N = r.shape
    a = model.alpha
    lam = model.activity_l2
    E_task = E
    E_act = lam * float(np.mean(r * r)) if lam > 0 else 0.0
    E = E_task + E_act
    if window is not None:
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer number of steps; got {window!r}")
        window = int(window)

    e_tm = np.ascontiguousarray(e.transpose(1, 0, 2))              # (T, B, O)
    rho, live = direct_credit(e_tm, p["W_out"], r, lam)           # direct dE/dr_t, (T, B, N)
    dphi = phi_prime(v, r, model.activation)
    W_eff = model.effective_recurrent(p["W_rec"])
    aW = a * W_eff
    gamma = dphi  # overwritten in place: gamma[t] = dE/dv_t
    g_next = np.zeros((B, N), dtype)
    tmp = np.empty((B, N), dtype)
    for t in range(T - 1, -1, -1):
        rho_t = rho[t]
        if t < T - 1:
            np.matmul(g_next, aW, out=tmp)
            rho_t += tmp
        gt = gamma[t]
        gt *= rho_t
        np.multiply(g_next, 1.0 - a, out=tmp)
        gt += tmp
        cut = window is not None and t > 0 and t % window == 0
        g_next = np.zeros((B, N), dtype) if cut else gt
    rho_init = g_next @ aW                                         # dE/dr_{-1}
    grad_v0 = (rho_init * phi_prime(fw.v_init, fw.r_init, model.activation) + (1.0 - a) * g_next).sum(0)

    grads = parameter_gradients(model, p, fw, batch, gamma, e_tm, grad_v0)
    if dtype != np.float64:
        grads = {k: g.astype(np.float64) for k, g in grads.items()}
    if return_signal:
        out = (E, grads, rho.transpose(1, 0, 2).astype(np.float64, copy=False), rho_init.astype(np.float64, copy=False))
    else:
        out = (E, grads)
    return (*out, {"task": E_task, "activity": E_act}) if parts else out
