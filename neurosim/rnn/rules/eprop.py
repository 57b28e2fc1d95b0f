"""e-prop (Bellec et al. 2020) for the voltage-form leaky RNN, computed online.

Definition ("detach the recurrent input"): e-prop's gradient is the exact gradient of ``loss``
when, in ``v_t = (1-a) v_{t-1} + a (W_eff r_{t-1} + W_in x_t + b)``, the presynaptic rates
``r_{t-1}`` (including ``r_{-1} = phi(v0)``) are treated as constants while the leak path
``v_{t-1} -> v_t`` is kept, and the learning signal ``dE/dr_t`` keeps only its direct terms
(readout error and the activity penalty) with the readout matrix replaced by a feedback matrix
``B_fb``::

    L_t      = e_t B_fb + (2 lambda_r / (B T N)) r_t       (B_fb = W_out: symmetric; fixed random: "eprop-random")
    delta_t  = L_t * phi'(v_t)
    eps_t    = (1 - a) eps_{t-1} + a r_{t-1}       (W_rec; x_t for W_in; 1 for b; eps_{-1} = 0)
    dW_eff  ~= sum_t delta_t^T eps_t,   dW_in ~= sum_t delta_t^T eps^x_t,   db ~= sum_t eps^b_t delta_t
    dv0     ~= sum_t (1 - a)^{t+1} delta_t      (+ L_{-1} phi'(v0), zero unless given)
    dW_out   = sum_t e_t^T r_t,   db_out = sum_t e_t                   (exact)

The traces are presynaptic (one (B, N) array for W_rec, (B, I) for W_in): the eligibility trace
of synapse ij is ``phi'(v_t^i) eps_t^j`` and never needs T x N x N storage. The loop is online:
the learning signal at step t only uses quantities up to t. For speed, the weight updates are
accumulated in chunks of ``chunk`` steps with one BLAS product per chunk (memory O(chunk B N),
independent of T). With ``learning_signal`` set to the exact ``dE/dr_t`` from BPTT (and
``learning_signal_init`` to ``dE/dr_{-1}``), the result equals BPTT to rounding: in voltage form
``gamma_t = sum_{s>=t} (1-a)^{s-t} delta_s`` exactly.
"""

from __future__ import annotations

import numpy as np

from neurosim.rnn.model import (
    Batch, LeakyRNN, _class_mask, check_dtype, error_terms, mask_total, phi, phi_into, phi_prime,
)


def random_feedback(n_out: int, n_rec: int, seed: int = 0) -> np.ndarray:
    """Fixed random feedback matrix ``B_fb`` (O, N), entries ``N(0, 1/N)`` like ``W_out``'s init.

    Examples
    --------
    >>> B = random_feedback(2, 50, seed=3); B.shape, bool(np.array_equal(B, random_feedback(2, 50, seed=3)))
    ((2, 50), True)
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed (feedback_seed) must be an integer >= 0; got {seed!r}")
    rng = np.random.default_rng([0xE960, int(seed)])
    return rng.normal(0.0, 1.0 / np.sqrt(n_rec), size=(n_out, n_rec))


def eprop(model: LeakyRNN, batch: Batch, *, params=None, noise=None, feedback=None,
          learning_signal=None, learning_signal_init=None, chunk: int = 32, parts: bool = False,
          dtype=np.float64):
    """Loss and e-prop gradient (online, presynaptic traces).

    Parameters
    ----------
    model : LeakyRNN
    batch : Batch
    params : dict, optional
        Parameters to use (default ``model.params``).
    noise : array (B, T, N), optional
        Voltage-noise samples.
    feedback : array (O, N), optional
        Feedback matrix ``B_fb``; default ``params["W_out"]`` (symmetric e-prop).
    learning_signal : array (B, T, N), optional
        Replace ``L_t`` by this array (e.g. the exact ``dE/dr_t``; used to verify the traces).
    learning_signal_init : array (B, N), optional
        Learning signal for ``r_{-1} = phi(v0)`` (only reaches ``v0``); default 0.
    chunk : int
        Steps per BLAS accumulation chunk (an implementation detail; does not change the result
        beyond rounding).
    parts : bool
        Also return ``{"task": task loss, "activity": lambda_r * mean(r^2)}`` as a third element.
    dtype : {"float64", "float32"}
        Floating-point type of the loop (float32 is about twice as fast; the gradient agrees with
        float64's to about 1e-5 relative and is returned as float64).

    Returns
    -------
    (loss, grads) or (loss, grads, parts)

    Examples
    --------
    >>> from neurosim.rnn.model import LeakyRNN, Batch
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = eprop(m, b); round(E, 6) == round(float(np.mean(m(b.inputs) ** 2)), 6)
    True
    """
    dtype = check_dtype(dtype)
    p = model.check_params(params, dtype)
    x = model._check_batch(batch, dtype)
    B, T, I = x.shape
    N, O = model.n_rec, model.n_out
    a = model.alpha
    act = model.activation
    lam = model.activity_l2
    kind = batch.loss
    fb = p["W_out"] if feedback is None else np.asarray(feedback, dtype=dtype)
    if fb.shape != (O, N):
        raise ValueError(f"feedback must have shape (n_out, n_rec) = {(O, N)}; got {fb.shape}")
    if learning_signal is not None:
        learning_signal = np.asarray(learning_signal, dtype=dtype)
        if learning_signal.shape != (B, T, N):
            raise ValueError(f"learning_signal must be (B, T, N) = {(B, T, N)}; got {learning_signal.shape}")
    noise = model._check_noise(noise, (B, T, N), dtype)
    chunk = max(1, min(int(chunk), T))
    msum = mask_total(batch)
    mask = (batch.mask_full if kind == "mse" else _class_mask(batch.mask)).astype(dtype, copy=False)
    targets = batch.targets.astype(dtype, copy=False)
    pen = 2.0 * lam / (B * T * N)

    W_eff = model.effective_recurrent(p["W_rec"])
    aWT = a * np.ascontiguousarray(W_eff.T)
    aWinT = a * p["W_in"].T
    W_outT = p["W_out"].T
    noise_scale = np.sqrt(2 * a) * model.noise_std

    # state and traces
    v_prev = np.broadcast_to(p["v0"], (B, N)).copy()
    r_prev = phi(v_prev, act)
    eps = np.zeros((B, N), dtype)
    eps_x = np.zeros((B, I), dtype)
    eps_b = 0.0
    leak_v0 = 1.0
    # chunk buffers (K, B, ·)
    Vb = np.empty((chunk, B, N), dtype)
    Rb = np.empty((chunk, B, N), dtype)
    Eb = np.empty((chunk, B, N), dtype)
    EXb = np.empty((chunk, B, I), dtype)
    cb = np.empty(chunk, dtype)
    lv = np.empty(chunk, dtype)
    tmp = np.empty((B, N), dtype)
    # accumulators (float64 whatever the loop's dtype: they sum T chunk products)
    gW = np.zeros((N, N))
    gWin = np.zeros((N, I))
    gb = np.zeros(N)
    gv0 = np.zeros(N)
    gWout = np.zeros((O, N))
    gbout = np.zeros(O)
    E = 0.0
    pen_E = 0.0

    if learning_signal_init is not None:
        Linit = np.asarray(learning_signal_init, dtype=dtype)
        if Linit.shape != (B, N):
            raise ValueError(f"learning_signal_init must be (B, N) = {(B, N)}; got {Linit.shape}")
        gv0 += (Linit * phi_prime(v_prev, r_prev, act)).sum(0)

    for c0 in range(0, T, chunk):
        k = min(chunk, T - c0)
        sl = slice(c0, c0 + k)
        drive = np.matmul(x[:, sl].transpose(1, 0, 2), aWinT, out=Vb[:k])
        drive += a * p["b"]
        if noise is not None and noise_scale > 0:
            drive += noise_scale * noise[:, sl].transpose(1, 0, 2)
        xc = x[:, sl]
        for j in range(k):
            # traces see the presynaptic activity entering step t
            eps *= 1.0 - a
            np.multiply(r_prev, a, out=tmp)
            eps += tmp
            Eb[j] = eps
            eps_x *= 1.0 - a
            eps_x += a * xc[:, j]
            EXb[j] = eps_x
            eps_b = (1.0 - a) * eps_b + a
            cb[j] = eps_b
            leak_v0 *= 1.0 - a
            lv[j] = leak_v0
            # dynamics
            vt = Vb[j]
            np.matmul(r_prev, aWT, out=tmp)
            vt += tmp
            np.multiply(v_prev, 1.0 - a, out=tmp)
            vt += tmp
            phi_into(vt, Rb[j], act)
            v_prev, r_prev = vt, Rb[j]
        # copy the last state out of the buffers before they are reused
        v_prev = v_prev.copy()
        r_prev = r_prev.copy()
        V, R = Vb[:k], Rb[:k]
        Y = np.matmul(R, W_outT)
        Y += p["b_out"]
        tgt = targets[:, sl].transpose(1, 0, 2)
        mk = mask[:, sl].swapaxes(0, 1)
        Ec, e = error_terms(Y, tgt, mk, kind, msum)
        E += Ec
        if learning_signal is None:
            L = np.matmul(e, fb)
            if lam > 0:
                L += pen * R
        else:
            L = learning_signal[:, sl].transpose(1, 0, 2).copy()
        if lam > 0:
            pen_E += float(np.sum(R * R))
        L *= phi_prime(V, R, act)  # delta_t
        D = L.reshape(k * B, N)
        gW += D.T @ Eb[:k].reshape(k * B, N)
        gWin += D.T @ EXb[:k].reshape(k * B, I)
        Ds = L.sum(1)  # (k, N)
        gb += cb[:k] @ Ds
        gv0 += lv[:k] @ Ds
        ef = e.reshape(k * B, O)
        gWout += ef.T @ R.reshape(k * B, N)
        gbout += ef.sum(0)

    E_task = E
    E_act = lam * pen_E / (B * T * N) if lam > 0 else 0.0
    E = E_task + E_act
    grads = {
        "W_in": gWin,
        "W_rec": model.recurrent_grad_to_param(gW, p["W_rec"]),
        "b": gb,
        "W_out": gWout,
        "b_out": gbout,
        "v0": gv0,
    }
    return (E, grads, {"task": E_task, "activity": E_act}) if parts else (E, grads)
