"""Linear dynamics fitted to trajectories, and a spectral comparison of two systems' dynamics.

* :func:`fit_linear_dynamics` — a linear dynamical system ``z_{t+1} = A z_t + b`` fitted by
  least squares to the activity projected on its top principal components (transitions never
  cross from one trajectory to the next).
* :func:`dynamics_distance` — a basis-free comparison of two systems' dynamics: the eigenvalues
  of the fitted ``A`` are invariant to any invertible change of basis ``z -> Q z``, so two
  systems whose activity differs by a rotation, scaling or linear re-mixing of the latent state
  have the same spectrum. The distance is the mean ``|lambda_i - mu_pi(i)|`` under the optimal
  one-to-one matching ``pi`` (Hungarian algorithm). Unlike DSA (Ostrow et al. 2023) it uses no
  delay embedding and compares spectra only, not the operators' geometry.

Arrays in, numbers out: ``(trajectories, time, units)`` numpy arrays (a ``(time, units)`` array is
one trajectory); no xarray, no training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LinearDynamics", "fit_linear_dynamics", "dynamics_distance"]


def _as_trajectories(activity: Any, name: str = "activity") -> np.ndarray:
    """(trajectories, time, units) float64 array from a 2-D or 3-D array; refuses NaN/inf."""
    arr = np.asarray(activity)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ValueError(f"{name} must be a (trajectories, time, units) or (time, units) array; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values; clean or drop them first")
    return arr


def _sort_eigs(eigs: np.ndarray) -> np.ndarray:
    # descending modulus, then ascending angle: deterministic for conjugate pairs
    order = np.lexsort((np.round(np.angle(eigs), 12), -np.round(np.abs(eigs), 12)))
    return eigs[order]


def matched_eigenvalue_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean ``|a_i - b_pi(i)|`` under the one-to-one matching ``pi`` that minimises the total.

    >>> matched_eigenvalue_distance(np.array([1.0, 2.0]), np.array([2.0, 1.5]))
    0.25
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(
            f"spectra have different sizes ({a.size} vs {b.size}); compare models of the same size "
            "or fit the same n_components"
        )
    from scipy.optimize import linear_sum_assignment  # imported on first use: measured import cost (~0.25 s of import neurosim)

    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


@dataclass(frozen=True)
class LinearDynamics:
    """Result of :func:`fit_linear_dynamics`.

    Attributes
    ----------
    A : ndarray (k, k)
        Transition matrix in PC coordinates, ``z_{t+1} = A z_t + b``.
    b : ndarray (k,)
        Offset.
    r2 : float
        Fraction of the variance of ``z_{t+1}`` explained by the fit.
    eigenvalues : ndarray (k,) complex
        Eigenvalues of ``A``, decreasing modulus.
    explained_variance_ratio : ndarray (k,)
        Variance of the activity captured by each PC.
    components : ndarray (k, units)
        The principal axes.
    """

    A: np.ndarray
    b: np.ndarray
    r2: float
    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray

    @property
    def timescales(self) -> np.ndarray:
        """``-1 / log|lambda|`` in time steps (inf for ``|lambda| >= 1``)."""
        mod = np.abs(self.eigenvalues)
        with np.errstate(divide="ignore"):
            return np.where(mod < 1, -1.0 / np.log(np.clip(mod, 1e-300, None)), np.inf)


def fit_linear_dynamics(activity: Any, n_components: int = 10, *, ridge: float = 0.0) -> LinearDynamics:
    """Fit ``z_{t+1} = A z_t + b`` to activity in its top principal components.

    The activity of every condition is projected on the ``n_components`` leading
    PCs (computed over all conditions and times by an SVD of the centred activity); the
    pairs ``(z_t, z_{t+1})`` of all conditions are pooled (never across a
    condition boundary) and ``[A b]`` solves the (ridge-)least-squares problem
    ``min sum ||z_{t+1} - A z_t - b||^2 + ridge ||A||_F^2``.

    Parameters
    ----------
    activity : ndarray (trajectories, time, units) or (time, units)
        Conditions or trials are trajectories; transitions never cross from one to the next.
    n_components : int
        Number of principal components (at most ``min(units, samples)``).
    ridge : float
        L2 penalty on ``A`` (0 = ordinary least squares).

    Returns
    -------
    LinearDynamics

    Examples
    --------
    >>> import numpy as np
    >>> th = 0.2
    >>> A = 0.95 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    >>> z = np.empty((40, 2)); z[0] = [1.0, 0.0]
    >>> for t in range(39): z[t + 1] = A @ z[t]
    >>> fit = fit_linear_dynamics(z, n_components=2)
    >>> np.allclose(np.sort(np.abs(fit.eigenvalues)), [0.95, 0.95]), round(fit.r2, 6)
    (True, 1.0)
    """
    X = _as_trajectories(activity)
    C, T, U = X.shape
    if T < 3:
        raise ValueError(f"need at least 3 time points per condition to fit dynamics; got {T}")
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer; got {n_components!r}")
    k_max = min(U, C * T)
    if n_components > k_max:
        raise ValueError(f"n_components={n_components} exceeds min(units, samples)={k_max}; lower it")
    if C * (T - 1) < n_components + 1:
        raise ValueError(
            f"{C * (T - 1)} transitions cannot determine a {n_components}-dim system; "
            "use fewer components or more time points"
        )
    if ridge < 0 or not np.isfinite(ridge):
        raise ValueError(f"ridge must be a finite number >= 0; got {ridge}")
    flat = X.reshape(C * T, U)
    if np.allclose(flat.var(axis=0).sum(), 0.0):
        raise ValueError("activity has zero variance: no dynamics to fit")
    centred = flat - flat.mean(axis=0)
    _, s, Vt = np.linalg.svd(centred, full_matrices=False)
    components = Vt[: int(n_components)]
    Z = (centred @ components.T).reshape(C, T, -1)
    Z0 = Z[:, :-1].reshape(-1, n_components)
    Z1 = Z[:, 1:].reshape(-1, n_components)
    design = np.hstack([Z0, np.ones((Z0.shape[0], 1))])
    if ridge > 0:
        penalty = np.sqrt(ridge) * np.eye(n_components + 1)[:-1]  # no penalty on b
        design_aug = np.vstack([design, penalty])
        target_aug = np.vstack([Z1, np.zeros((n_components, n_components))])
        coef = np.linalg.lstsq(design_aug, target_aug, rcond=None)[0]
    else:
        coef = np.linalg.lstsq(design, Z1, rcond=None)[0]
    A, b = coef[:-1].T, coef[-1]
    resid = Z1 - design @ coef
    ss_tot = float(((Z1 - Z1.mean(axis=0)) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return LinearDynamics(
        A=A,
        b=b,
        r2=r2,
        eigenvalues=_sort_eigs(np.linalg.eigvals(A).astype(np.complex128)),
        explained_variance_ratio=(s[: int(n_components)] ** 2) / float((s**2).sum()),
        components=components,
    )


def dynamics_distance(activity_a: Any, activity_b: Any, n_components: int = 10, *, ridge: float = 0.0) -> float:
    """Distance between two models' linear dynamics (spectra of fitted ``A``).

    Fits :func:`fit_linear_dynamics` to each activity separately (each in its own
    PC basis) and returns the mean ``|lambda_i - mu_pi(i)|`` between the two
    eigenvalue sets under the optimal one-to-one matching ``pi``.

    Invariances: any invertible linear re-mixing of the units that keeps the
    leading PC subspace (rotations, isotropic scaling, unit permutations;
    any invertible map when ``n_components`` equals the activity's rank) leaves
    the distance at 0. It does not compare the output geometry — use a shape
    metric for that.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4, 30, 3)).cumsum(axis=1)
    >>> Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    >>> dynamics_distance(X, 2.0 * X @ Q, n_components=3) < 1e-8
    True
    """
    fa = fit_linear_dynamics(activity_a, n_components, ridge=ridge)
    fb = fit_linear_dynamics(activity_b, n_components, ridge=ridge)
    return matched_eigenvalue_distance(fa.eigenvalues, fb.eigenvalues)
