r"""Fixed and slow points of a :class:`~neurosim.rnn.model.LeakyRNN` under a constant input.

Sussillo & Barak (2013), "Opening the black box: low-dimensional dynamics in
high-dimensional recurrent neural networks", Neural Computation 25(3).

For a constant input ``x`` the network's noise-free one-step map in voltage form is

.. math:: F(v) = (1 - a)\,v + a\,(W φ(v) + u), \qquad u = W_{in} x + b,

with ``W`` the effective recurrent weight (Dale's law / sparsity applied) and ``a = dt/τ``.
Fixed points ``F(v*) = v*`` are found as minima of the *speed*

.. math:: q(v) = \tfrac12 ‖F(v) − v‖² = \tfrac{a^2}{2} ‖W φ(v) + u − v‖²,

minimised by L-BFGS (:func:`scipy.optimize.minimize`) from many initial states with the
analytic gradient ``∇q = J_gᵀ g``, ``g = F(v) − v``, ``J_g = a (W diag φ'(v) − I)``.  Each
point comes with the eigenvalues of the Jacobian of the one-step map,
``J_F = (1 − a) I + a W diag φ'(v*)``; it is (linearly) stable when every eigenvalue lies
inside the unit circle.  ``φ' `` is the model's: for ``retanh`` it is ``1 − tanh² v`` for
``v > 0`` and 0 otherwise (the kink at 0 gets derivative 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.metrics._validate import check_seed
from neurosim.rnn.model import LeakyRNN, phi, phi_prime

__all__ = ["FixedPoints", "find_fixed_points", "fixed_point_speed"]


@dataclass(frozen=True)
class FixedPoints:
    """Distinct fixed (or slow) points found by :func:`find_fixed_points`, fastest last.

    Attributes
    ----------
    points : ndarray (K, N)
        Voltages ``v*``.
    rates : ndarray (K, N)
        ``φ(v*)``.
    speed : ndarray (K,)
        ``q(v*) = ½‖F(v*) − v*‖²`` (voltage units squared per step²), ascending.
    eigenvalues : ndarray (K, N), complex
        Eigenvalues of the one-step Jacobian ``J_F`` at each point, by decreasing modulus.
    stable : ndarray (K,), bool
        Every eigenvalue strictly inside the unit circle.
    input : ndarray (I,)
        The constant input ``x``.
    n_starts : int
        Number of minimisations run.
    """

    points: np.ndarray
    rates: np.ndarray
    speed: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    input: np.ndarray
    n_starts: int

    def __len__(self) -> int:
        return len(self.points)

    @property
    def n_stable(self) -> int:
        """Number of stable points."""
        return int(self.stable.sum())

    def __repr__(self) -> str:
        return f"FixedPoints({len(self)} points, {self.n_stable} stable, from {self.n_starts} starts)"


def _parts(model: LeakyRNN, x, params):
    if not isinstance(model, LeakyRNN):
        raise TypeError(f"model must be a LeakyRNN, got {type(model).__name__}")
    p = model.check_params(params)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.shape[0] != model.n_in:
        raise ValueError(f"input must be a constant input vector of shape ({model.n_in},), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("input contains NaN or inf")
    W = model.effective_recurrent(p["W_rec"])
    u = p["W_in"] @ x + p["b"]
    return p, x, W, u


def fixed_point_speed(model: LeakyRNN, v, input, *, params=None) -> np.ndarray:
    """Speed ``q(v) = ½‖F(v) − v‖²`` of the one-step map at voltages ``v`` (..., N).

    Examples
    --------
    >>> m = LeakyRNN(1, 3, 1, seed=0)
    >>> m.params["b"][:] = -1.0           # every unit silent: the fixed point is v* = b
    >>> float(fixed_point_speed(m, -np.ones(3), np.zeros(1)))
    0.0
    """
    _, _, W, u = _parts(model, input, params)
    v = np.asarray(v, dtype=np.float64)
    g = model.alpha * (phi(v, model.activation) @ W.T + u - v)
    return 0.5 * np.sum(g * g, axis=-1)


def _sample_starts(model, p, W, u, initial_states, n_starts, n_steps, jitter, rng):
    N = model.n_rec
    if initial_states is None:
        # the network's own noise-free trajectories under the constant input (the map F,
        # i.e. the equations of LeakyRNN.run), from perturbed initial voltages
        B = max(1, int(np.ceil(n_starts / 4)))
        v = p["v0"] + rng.normal(size=(B, N))
        a = model.alpha
        states = np.empty((n_steps, B, N))
        for t in range(n_steps):
            v = (1 - a) * v + a * (phi(v, model.activation) @ W.T + u)
            states[t] = v
        pool = states.reshape(-1, N)
    else:
        pool = np.asarray(initial_states, dtype=np.float64)
        if pool.shape[-1] != N:
            raise ValueError(
                f"initial_states must be voltages (..., {N}) (e.g. a forward pass's v), got shape {pool.shape}"
            )
        pool = pool.reshape(-1, N)
        if not np.isfinite(pool).all():
            raise ValueError("initial_states contain NaN or inf")
        if len(pool) == 0:
            raise ValueError("initial_states is empty")
    idx = rng.choice(len(pool), size=n_starts, replace=len(pool) < n_starts)
    starts = pool[idx]
    if jitter > 0:
        starts = starts + jitter * rng.normal(size=starts.shape)
    return starts


def find_fixed_points(
    model: LeakyRNN,
    input,
    *,
    initial_states=None,
    n_starts: int = 64,
    n_steps: int = 100,
    jitter: float = 0.0,
    seed: int = 0,
    max_speed: float = 1e-10,
    dedup_tol: float = 1e-3,
    tol: float = 1e-12,
    maxiter: int = 2000,
    params=None,
) -> FixedPoints:
    """Fixed points of ``model`` under the constant input ``input`` (Sussillo & Barak 2013).

    Parameters
    ----------
    model : LeakyRNN
    input : array (I,)
        The constant input ``x`` (e.g. the task's delay-period input).
    initial_states : array (..., N), optional
        Voltages to start from, e.g. ``model.run(batch.inputs).v`` of task trials; ``n_starts``
        of them are drawn at random.  By default the network is run under ``input`` for
        ``n_steps`` steps from ``ceil(n_starts/4)`` initial voltages ``v0 + N(0, 1)`` and the
        starts are drawn from those trajectories.
    n_starts : int, default 64
        Number of minimisations.
    n_steps : int, default 100
        Length of the sampled trajectories (default ``initial_states`` only).
    jitter : float, default 0
        Standard deviation of Gaussian noise added to every start (voltage units).
    seed : int
        Seed of the sampling (results are deterministic for a seed).
    max_speed : float, default 1e-10
        Keep minima with ``q ≤ max_speed`` (raise it to keep slow points too).
    dedup_tol : float, default 1e-3
        Two minima closer than this (Euclidean distance of voltages) are one point; the slower
        one is kept.
    tol : float, default 1e-12
        L-BFGS gradient tolerance.
    maxiter : int, default 2000
        L-BFGS iterations per start.
    params : dict, optional
        Parameters to use instead of ``model.params``.

    Returns
    -------
    FixedPoints
        Distinct points by increasing speed, with the one-step Jacobian's eigenvalues and a
        stability flag.

    Examples
    --------
    >>> m = LeakyRNN(1, 4, 1, seed=0)
    >>> m.params["b"][:] = -2.0            # silent units: one stable fixed point at v* = b
    >>> fp = find_fixed_points(m, np.zeros(1), n_starts=8)
    >>> len(fp), bool(fp.stable[0]), np.allclose(fp.points[0], -2.0)
    (1, True, True)
    """
    p, x, W, u = _parts(model, input, params)
    for name, val in (("n_starts", n_starts), ("n_steps", n_steps), ("maxiter", maxiter)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    for name, val in (("max_speed", max_speed), ("dedup_tol", dedup_tol), ("tol", tol)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a positive number, got {val!r}")
    if not (np.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter must be a non-negative number, got {jitter!r}")
    rng = np.random.default_rng(check_seed(seed))
    act, a, N = model.activation, model.alpha, model.n_rec
    starts = _sample_starts(model, p, W, u, initial_states, int(n_starts), int(n_steps), float(jitter), rng)

    def q_and_grad(v):
        r = phi(v, act)
        g = a * (W @ r + u - v)
        d = phi_prime(v, r, act)
        grad = a * (d * (W.T @ g) - g)  # J_gᵀ g with J_g = a (W diag(d) − I)
        return 0.5 * float(g @ g), grad

    from scipy.optimize import minimize  # imported on first use: measured import cost (~0.25 s of import neurosim)

    found, speeds = [], []
    for v_start in starts:
        res = minimize(q_and_grad, v_start, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(maxiter), "gtol": tol, "ftol": 0.0})
        q = q_and_grad(res.x)[0]
        if q <= max_speed:
            found.append(res.x)
            speeds.append(q)
    order = np.argsort(speeds, kind="stable")
    kept: list[np.ndarray] = []
    kept_q: list[float] = []
    for k in order:
        v = found[k]
        if all(np.linalg.norm(v - w) > dedup_tol for w in kept):
            kept.append(v)
            kept_q.append(speeds[k])
    points = np.array(kept).reshape(-1, N)
    rates = phi(points, act)
    eig = np.empty((len(points), N), dtype=complex)
    for i, v in enumerate(points):
        J = (1 - a) * np.eye(N) + a * W * phi_prime(v, rates[i], act)[None, :]
        ev = np.linalg.eigvals(J).astype(complex)
        eig[i] = ev[np.lexsort((ev.imag, ev.real, -np.abs(ev)))]
    stable = np.abs(eig).max(axis=1) < 1.0 if len(points) else np.zeros(0, dtype=bool)
    return FixedPoints(points, rates, np.array(kept_q), eig, stable, x, int(n_starts))
