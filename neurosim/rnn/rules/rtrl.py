"""Real-time recurrent learning (Williams & Zipser 1989): the exact gradient, computed forwards.

The influence tensor ``P_t = dv_t / dtheta`` (per trial, (N, n_theta)) is carried forward with the
state; ``theta`` = the effective recurrent weight ``W_eff`` (N x N), ``W_in`` (N x I), ``b`` and
``v0``. With ``phi'_t = phi'(v_t)`` and ``phi'_{-1} = phi'(v0)``::

    P_{-1} = dv0/dtheta           (identity on the v0 block, 0 elsewhere)
    P_t    = (1 - a) P_{t-1} + a W_eff diag(phi'_{t-1}) P_{t-1} + a F_t
    F_t[i, W_jk] = delta_ij r_{t-1,k},   F_t[i, Win_jk] = delta_ij x_{t,k},   F_t[i, b_j] = delta_ij
    c_t    = (e_t W_out + 2 lambda_r r_t / (B T N)) * phi'_t            (direct dE/dv_t)
    dE/dtheta = sum_t sum_i c_{t,i} P_t[i, :]                          (accumulated online)
    dW_out, db_out as in BPTT (direct)

The result equals BPTT to rounding (tested to 1e-10). Cost per step O(B N^2 n_theta) = O(B N^4)
time and O(B N n_theta) = O(B N^3) memory, independent of T: only for small networks (the
influence tensor of N = 64, B = 16 already holds 4 million numbers per weight block).
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import Batch, LeakyRNN, _class_mask, error_terms, mask_total, phi, phi_prime

MAX_INFLUENCE_BYTES = 2 ** 31  # refuse influence tensors beyond 2 GiB (a clear error beats swapping)


def rtrl(model: LeakyRNN, batch: Batch, *, params=None, noise=None):
    """Loss and exact gradient by real-time recurrent learning (forward-mode influence tensor).

    Parameters
    ----------
    model : LeakyRNN
        A small network (memory grows as ``B N^3``).
    batch : Batch
    params : dict, optional
        Parameters to differentiate at (default ``model.params``).
    noise : array (B, T, N), optional
        Voltage-noise samples.

    Returns
    -------
    (loss, grads)

    Examples
    --------
    >>> from neurosim.rnn.rules.bptt import bptt
    >>> m = LeakyRNN(2, 5, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = rtrl(m, b); E0, g0 = bptt(m, b)
    >>> max(float(np.abs(g[k] - g0[k]).max()) for k in g) < 1e-12
    True
    """
    p = model.check_params(params)
    x = model._check_batch(batch)
    B, T, I = x.shape
    N, O = model.n_rec, model.n_out
    n_theta = N * N + N * I + 2 * N
    if 8 * B * N * n_theta > MAX_INFLUENCE_BYTES:
        raise ValueError(f"RTRL's influence tensor would need {8 * B * N * n_theta / 2**30:.1f} GiB "
                         f"(batch {B}, N = {N}); use rule 'bptt' (same gradient) or a smaller batch/network")
    noise = model._check_noise(noise, (B, T, N))
    a = model.alpha
    act = model.activation
    lam = model.activity_l2
    kind = batch.loss
    msum = mask_total(batch)
    mask = batch.mask_full if kind == "mse" else _class_mask(batch.mask)
    pen = 2.0 * lam / (B * T * N)
    W = model.effective_recurrent(p["W_rec"])
    noise_scale = np.sqrt(2 * a) * model.noise_std

    # influence tensors, one per parameter block: (B, N, *theta_shape) flattened to (B, N, n)
    PW = np.zeros((B, N, N * N))
    PWin = np.zeros((B, N, N * I))
    Pb = np.zeros((B, N, N))
    Pv0 = np.broadcast_to(np.eye(N), (B, N, N)).copy()
    blocks = [PW, PWin, Pb, Pv0]
    grads_acc = [np.zeros(blk.shape[2]) for blk in blocks]
    diag = np.arange(N)
    PW4 = PW.reshape(B, N, N, N)       # views: [b, i, j, k] = dv_i / dW_jk
    PWin4 = PWin.reshape(B, N, N, I)

    v_prev = np.broadcast_to(p["v0"], (B, N)).copy()
    r_prev = phi(v_prev, act)
    d_prev = phi_prime(v_prev, r_prev, act)
    E = 0.0
    pen_E = 0.0
    gWout = np.zeros((O, N))
    gbout = np.zeros(O)
    for t in range(T):
        v = (1.0 - a) * v_prev + a * (r_prev @ W.T + x[:, t] @ p["W_in"].T + p["b"])
        if noise is not None and noise_scale > 0:
            v += noise_scale * noise[:, t]
        r = phi(v, act)
        # propagate every influence block: (1 - a) P + a W diag(phi'_{t-1}) P
        for blk in blocks:
            prop = np.matmul(W, d_prev[:, :, None] * blk)
            blk *= 1.0 - a
            blk += a * prop
        PW4[:, diag, diag, :] += a * r_prev[:, None, :]
        PWin4[:, diag, diag, :] += a * x[:, t][:, None, :]
        Pb[:, diag, diag] += a
        # direct error at step t
        y = r @ p["W_out"].T + p["b_out"]
        Et, e = error_terms(y, batch.targets[:, t], mask[:, t], kind, msum)
        E += Et
        L = e @ p["W_out"]
        if lam > 0:
            L += pen * r
            pen_E += float(np.sum(r * r))
        d = phi_prime(v, r, act)
        c = L * d
        c_flat = c.reshape(1, B * N)
        for acc, blk in zip(grads_acc, blocks):
            acc += (c_flat @ blk.reshape(B * N, -1))[0]
        gWout += e.T @ r
        gbout += e.sum(0)
        v_prev, r_prev, d_prev = v, r, d
    if lam > 0:
        E += lam * pen_E / (B * T * N)
    gW, gWin, gb, gv0 = grads_acc
    grads = {
        "W_in": gWin.reshape(N, I),
        "W_rec": model.recurrent_grad_to_param(gW.reshape(N, N), p["W_rec"]),
        "b": gb,
        "W_out": gWout,
        "b_out": gbout,
        "v0": gv0,
    }
    return E, grads
