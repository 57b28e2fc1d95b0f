"""ModProp (Liu, Smith, Mihalas, Shea-Brown & Sümbül 2022) for the voltage-form leaky RNN.

ModProp keeps the local (e-prop) part of the gradient exact and approximates its non-local part,
the credit that travels through the recurrent weights, so that it could be carried by
cell-type-specific neuromodulators filtered with fixed temporal taps. Two approximations, both
only where the credit crosses a recurrent synapse:

1. the activation derivative ``phi'(v_t)`` of the *sending* unit is replaced by a constant ``mu``;
2. the recurrent weight ``W_eff`` is replaced by its cell-type-averaged blocks
   ``W_ab[i, j] = mean(W_eff[type_i, type_j])`` (the mean over every entry of the block, as the
   released code of Liu, Yang & Cueva 2025, ``learning_mode=2``, computes it from the current
   weights at every update).

With ``e_t = dE/dy_t``, the local learning signal ``L_t = e_t W_out + 2 lambda_r r_t / (B T N)``
and backwards from ``gamma_T = 0``::

    gamma_t = L_t * phi'(v_t) + (1 - a) gamma_{t+1} + mu * (a gamma_{t+1} W_ab)
    dW_eff ~= a sum_t gamma_t^T r_{t-1},  dW_in ~= a sum_t gamma_t^T x_t,  db ~= a sum_t gamma_t
    dv0    ~= (1 - a) gamma_0 + mu * (a gamma_0 W_ab)           (r_{-1} = phi(v0) is a sender too)

BPTT is the same recursion with ``mu * (.)`` replaced by ``phi'(v_t) * (.)`` and ``W_ab`` by
``W_eff``: with ``mu="exact"`` and one cell type per unit ModProp *is* BPTT (tested). The paths
that never cross a synapse (the leak ``(1 - a)``) carry the exact e-prop eligibility. The
recursion is evaluated backwards here; the online, filter-tap form of the paper computes the same
sum (the approximated Jacobian ``(1 - a) I + a mu W_ab`` does not depend on the state).

:func:`approximate_bptt` is the general recursion (feedback matrix, backward recurrent weight and
sending-unit derivative replaceable); feedback alignment uses it too.
"""

from __future__ import annotations

import numpy as np

from neurosim.metrics._validate import check_number
from neurosim.rnn.model import Batch, LeakyRNN, check_dtype, output_error, phi_prime
from neurosim.rnn.rules.bptt import direct_credit, parameter_gradients

MODPROP_MU = 0.2  # the released code's constant activation derivative (ReLU networks)


def cell_type_labels(model: LeakyRNN, spec=None, *, default_per_population: int = 8) -> np.ndarray:
    """Integer cell-type label of every recurrent unit, shape (N,).

    Parameters
    ----------
    model : LeakyRNN
    spec : None, "ei", "neuron", int, or array-like (N,) of labels
        ``None`` -> ``default_per_population`` types per population (Dale's law needed);
        ``"ei"`` -> two types, excitatory and inhibitory (Dale's law needed);
        ``int k`` -> ``k`` contiguous, near-equal types within each of the excitatory and the
        inhibitory population (capped by the population's size; Dale's law needed);
        ``"neuron"`` -> one type per unit (the exact limit); an array of ``N`` labels -> those
        (no Dale's law needed).
    default_per_population : int
        Types per population when ``spec`` is None (the released 2025 code uses 8 + 8).

    Returns
    -------
    array of int, (N,)
        Labels ``0 .. K-1``, excitatory types first.

    Examples
    --------
    >>> m = LeakyRNN(2, 10, 1, dale=True)        # 8 excitatory, 2 inhibitory units
    >>> cell_type_labels(m, "ei").tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    >>> cell_type_labels(m, 2).tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 3]
    """
    N = model.n_rec
    if isinstance(spec, str):
        if spec == "neuron":
            return np.arange(N)
        if spec != "ei":
            raise ValueError(f"cell_types must be None, 'ei', 'neuron', an int or {N} labels; got {spec!r}")
        spec = 1
    if spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool)):
        k = default_per_population if spec is None else int(spec)
        if k < 1:
            raise ValueError(f"cell_types as an int is the number of types per population (>= 1); got {k}")
        if model.dale_sign is None:
            raise ValueError("cell types come from Dale's law populations: build the model with dale=True, "
                             "or pass cell_types= as N integer labels (or 'neuron')")
        labels = np.empty(N, dtype=int)
        start = 0
        for members in (np.flatnonzero(model.dale_sign > 0), np.flatnonzero(model.dale_sign < 0)):
            groups = np.array_split(members, min(k, len(members))) if len(members) else []
            for g in groups:
                labels[g] = start
                start += 1
        return labels
    labels = np.asarray(spec)
    if labels.shape != (N,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"cell_types labels must be {N} integers (one per recurrent unit); got shape "
                         f"{labels.shape}, dtype {labels.dtype}")
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(N)


def type_averaged(W: np.ndarray, labels: np.ndarray, *, nonzero: bool = False) -> np.ndarray:
    """Replace every (type_i, type_j) block of ``W`` (N, N) by its mean.

    ``nonzero=False``: mean over all entries of the block (ModProp); ``nonzero=True``: mean over
    the block's non-zero entries, and the result keeps ``W``'s zero pattern (MDGL's convention:
    a unit only receives modulation from the units it is connected to).

    Examples
    --------
    >>> W = np.array([[1.0, 3.0], [5.0, 0.0]])
    >>> type_averaged(W, np.array([0, 0])).tolist()
    [[2.25, 2.25], [2.25, 2.25]]
    >>> type_averaged(W, np.array([0, 0]), nonzero=True).tolist()
    [[3.0, 3.0], [3.0, 0.0]]
    """
    K = int(labels.max()) + 1
    S = np.zeros((W.shape[0], K))
    S[np.arange(W.shape[0]), labels] = 1.0
    sums = S.T @ W @ S
    if nonzero:
        A = (W != 0).astype(np.float64)
        counts = S.T @ A @ S
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        return (S @ means @ S.T) * A
    n = S.sum(0)
    return S @ (sums / np.outer(n, n)) @ S.T


def _check_mu(mu):
    if isinstance(mu, str):
        if mu != "exact":
            raise ValueError(f"mu must be a number or 'exact' (the true activation derivative); got {mu!r}")
        return None
    # the activation derivatives mu stands in for are non-negative (retanh, tanh, relu)
    return check_number(mu, "mu", minimum=0.0)


def approximate_bptt(model: LeakyRNN, batch: Batch, *, params=None, noise=None, feedback=None,
                     W_back=None, mu=None, parts: bool = False, dtype=np.float64):
    """BPTT's backward pass with its credit-carrying ingredients replaceable.

    ::

        gamma_t = (e_t B_fb + pen r_t) * phi'(v_t) + (1 - a) gamma_{t+1} + d_t * (a gamma_{t+1} W_back)
        d_t = phi'(v_t) if mu is None else mu

    ``B_fb = W_out``, ``W_back = W_eff``, ``mu = None`` is exact BPTT. The weight gradients are
    ``a sum_t gamma_t^T (r_{t-1}, x_t, 1)``; the readout gets its exact gradient.

    Parameters
    ----------
    model, batch, params, noise
        As in :func:`neurosim.rnn.rules.bptt.bptt`.
    feedback : array (O, N), optional
        Matrix the output error is sent back through (default ``W_out``).
    W_back : array (N, N), optional
        Recurrent matrix the credit is sent back through (default ``W_eff``).
    mu : float, optional
        Constant replacing the sending unit's activation derivative (default: exact).
    parts : bool
        Also return ``{"task": task loss, "activity": lambda_r * mean(r^2)}`` as a third element.
    dtype : {"float64", "float32"}
        Floating-point type of the pass (``feedback`` and ``W_back`` are rounded to it); the
        gradient agrees with float64's to about 1e-5 relative and is returned as float64.

    Returns
    -------
    (loss, grads) or (loss, grads, parts)

    Examples
    --------
    >>> from neurosim.rnn.rules.bptt import bptt
    >>> m = LeakyRNN(2, 6, 1, seed=0)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = approximate_bptt(m, b); E0, g0 = bptt(m, b)
    >>> bool(np.allclose(g["W_rec"], g0["W_rec"], rtol=0, atol=1e-14))
    True
    """
    dtype = check_dtype(dtype)
    p = model.check_params(params, dtype)
    fw = model.run(batch.inputs, params=p, noise=noise, dtype=dtype)
    E_task, e = output_error(fw.y, batch)
    r, v = fw.r_tm, fw.v_tm
    T, B, N = r.shape
    O = model.n_out
    a = model.alpha
    lam = model.activity_l2
    E_act = lam * float(np.mean(r * r)) if lam > 0 else 0.0
    fb = p["W_out"] if feedback is None else np.asarray(feedback, dtype=dtype)
    if fb.shape != (O, N):
        raise ValueError(f"feedback must have shape (n_out, n_rec) = {(O, N)}; got {fb.shape}")
    W_eff = model.effective_recurrent(p["W_rec"])
    Wb = W_eff if W_back is None else np.asarray(W_back, dtype=dtype)
    if Wb.shape != (N, N):
        raise ValueError(f"W_back must have shape (n_rec, n_rec) = {(N, N)}; got {Wb.shape}")

    e_tm = np.ascontiguousarray(e.transpose(1, 0, 2))              # (T, B, O)
    L, _ = direct_credit(e_tm, fb, r, lam)                        # local learning signal (T, B, N)
    dphi = phi_prime(v, r, model.activation)
    aW = a * Wb
    gamma = L * dphi
    g_next = np.zeros((B, N), dtype)
    tmp = np.empty((B, N), dtype)
    for t in range(T - 1, -1, -1):
        gt = gamma[t]
        if t < T - 1:
            np.matmul(g_next, aW, out=tmp)
            if mu is None:
                tmp *= dphi[t]
            else:
                tmp *= mu
            gt += tmp
            gt += (1.0 - a) * g_next
        g_next = gt
    rho_init = g_next @ aW
    d_init = phi_prime(fw.v_init, fw.r_init, model.activation) if mu is None else mu
    grad_v0 = (rho_init * d_init + (1.0 - a) * g_next).sum(0)

    grads = parameter_gradients(model, p, fw, batch, gamma, e_tm, grad_v0)
    if dtype != np.float64:
        grads = {k: g.astype(np.float64) for k, g in grads.items()}
    E = E_task + E_act
    return (E, grads, {"task": E_task, "activity": E_act}) if parts else (E, grads)


def modprop(model: LeakyRNN, batch: Batch, *, params=None, noise=None, mu=MODPROP_MU, cell_types=None,
            parts: bool = False, dtype=np.float64):
    """Loss and ModProp gradient.

    Parameters
    ----------
    model : LeakyRNN
        Needs Dale's law for the default cell types (or pass ``cell_types`` labels).
    batch : Batch
    params, noise
        As in :func:`neurosim.rnn.rules.bptt.bptt`.
    mu : float or "exact"
        Constant activation derivative of the non-local term (default 0.2, the released code's
        value); ``"exact"`` keeps ``phi'(v_t)``.
    cell_types : see :func:`cell_type_labels`
        Default: 8 excitatory + 8 inhibitory contiguous types (capped by population size), as in
        the released code of Liu, Yang & Cueva 2025.
    parts, dtype
        As in :func:`approximate_bptt` (the cell-type averages are formed in float64).

    Returns
    -------
    (loss, grads) or (loss, grads, parts)

    Examples
    --------
    >>> m = LeakyRNN(2, 10, 1, seed=0, dale=True)
    >>> b = Batch(np.ones((2, 4, 2)), np.zeros((2, 4, 1)), np.ones((2, 4)))
    >>> E, g = modprop(m, b, cell_types="ei"); g["W_rec"].shape
    (10, 10)
    """
    p = model.check_params(params)
    labels = cell_type_labels(model, cell_types)
    W_ab = type_averaged(model.effective_recurrent(p["W_rec"]), labels)
    return approximate_bptt(model, batch, params=p, noise=noise, W_back=W_ab, mu=_check_mu(mu), parts=parts,
                            dtype=dtype)
