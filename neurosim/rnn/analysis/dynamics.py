"""Dynamical properties of trained networks, comparable across models.

* :func:`participation_ratio` — effective dimensionality of activity,
  ``PR = (sum_i lambda_i)^2 / sum_i lambda_i^2`` over the eigenvalues of the
  covariance (Gao & Ganguli 2015; Recanatesi et al. 2019).
* :func:`eigenspectrum` / :func:`spectral_radius` — eigenvalues of ``W_rec``.
* :func:`fit_linear_dynamics` — a linear dynamical system ``z_{t+1} = A z_t + b``
  fitted by least squares to the activity projected on its top principal
  components (transitions never cross condition boundaries).
* :func:`dynamics_distance` — a basis-free comparison of two models' dynamics
  ("DSA-lite"): the eigenvalues of the fitted ``A`` are invariant to any
  invertible change of basis ``z -> Q z`` (``Q A Q^{-1}`` has the same spectrum),
  so two networks whose activity differs by a rotation, scaling or any linear
  re-mixing of the latent state have the same spectrum. The distance is the mean
  ``|lambda_i - mu_pi(i)|`` under the optimal one-to-one matching ``pi``
  (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`).
  Unlike full DSA (Ostrow et al. 2023) it uses no delay embedding and compares
  spectra only, not the eigenvectors' geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import PCA

__all__ = [
    "participation_ratio",
    "eigenspectrum",
    "spectral_radius",
    "spectrum_distance",
    "LinearDynamics",
    "fit_linear_dynamics",
    "dynamics_distance",
]


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values; clean or drop them first")
    return arr


def _as_condition_time_unit(activity: Any, name: str = "activity") -> np.ndarray:
    """(condition, time, unit) float64 array from a DataArray or a 2-D/3-D ndarray."""
    if isinstance(activity, xr.DataArray):
        need = ("condition", "time", "unit")
        dims = tuple(activity.dims)
        if "trial" in dims:
            activity = activity.mean("trial")
            dims = tuple(activity.dims)
        if set(dims) == {"time", "unit"}:
            arr = activity.transpose("time", "unit").values[None]
        elif set(dims) == set(need):
            arr = activity.transpose(*need).values
        else:
            raise ValueError(f"{name} must have dims {need} (or ('time', 'unit')); got {dims}")
    else:
        arr = np.asarray(activity)
        if arr.ndim == 2:
            arr = arr[None]
        elif arr.ndim != 3:
            raise ValueError(
                f"{name} must be a (condition, time, unit) or (time, unit) array; got shape {arr.shape}"
            )
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    return _finite(arr.astype(np.float64, copy=False), name)


def participation_ratio(activity: Any) -> float:
    """Participation ratio ``(sum lambda)^2 / sum lambda^2`` of the covariance spectrum.

    Parameters
    ----------
    activity : ndarray (samples, features) or DataArray with a ``unit`` dim
        A DataArray is flattened: every dim but ``unit`` becomes a sample.

    Returns
    -------
    float
        Between 1 (one dimension carries all variance) and ``features``
        (isotropic variance).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20000, 5))
    >>> round(participation_ratio(X), 1)
    5.0
    >>> participation_ratio(np.outer(np.arange(10.0), [1.0, 2.0, 3.0]))
    1.0
    """
    if isinstance(activity, xr.DataArray):
        if "unit" not in activity.dims:
            raise ValueError(f"activity needs a 'unit' dim; got dims {tuple(activity.dims)}")
        others = [d for d in activity.dims if d != "unit"]
        X = activity.transpose(*others, "unit").values.reshape(-1, activity.sizes["unit"])
    else:
        X = np.asarray(activity, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"activity must be a (samples, features) array; got shape {X.shape}")
    X = _finite(np.asarray(X, dtype=np.float64), "activity")
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 samples for a covariance; got {X.shape[0]}")
    Xc = X - X.mean(axis=0)
    # eigenvalues of the covariance = squared singular values / (n - 1); the scale cancels
    s2 = np.linalg.svd(Xc, compute_uv=False) ** 2
    total = s2.sum()
    if total <= 0:
        raise ValueError("activity has zero variance: the participation ratio is undefined")
    return float(total**2 / (s2**2).sum())


def _weights(W_or_model: Any) -> np.ndarray:
    params = getattr(W_or_model, "params", None)
    if isinstance(params, dict):
        if "W_rec" not in params:
            raise ValueError(f"model.params has no 'W_rec' (keys: {sorted(params)})")
        W = params["W_rec"]
    else:
        W = W_or_model
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W_rec must be a square (N, N) matrix; got shape {W.shape}")
    return _finite(W, "W_rec")


def _sort_eigs(eigs: np.ndarray) -> np.ndarray:
    # descending modulus, then ascending angle: deterministic for conjugate pairs
    order = np.lexsort((np.round(np.angle(eigs), 12), -np.round(np.abs(eigs), 12)))
    return eigs[order]


def eigenspectrum(W_or_model: Any) -> np.ndarray:
    """Eigenvalues of the recurrent weights, sorted by decreasing modulus.

    Parameters
    ----------
    W_or_model : (N, N) array or LeakyRNN
        A model's ``params["W_rec"]`` is used.

    Returns
    -------
    ndarray of complex128, shape (N,)
        Ties in modulus are ordered by increasing angle.

    Examples
    --------
    >>> import numpy as np
    >>> eigenspectrum(np.diag([0.5, -2.0, 1.0])).real.tolist()
    [-2.0, 1.0, 0.5]
    """
    return _sort_eigs(np.linalg.eigvals(_weights(W_or_model)).astype(np.complex128))


def spectral_radius(W_or_model: Any) -> float:
    """Largest eigenvalue modulus of ``W_rec``.

    For ``W_rec ~ N(0, g^2/N)`` the circular law gives a radius close to ``g``.

    Examples
    --------
    >>> import numpy as np
    >>> N = 150
    >>> W = np.random.default_rng(0).normal(scale=1.5 / np.sqrt(N), size=(N, N))
    >>> abs(spectral_radius(W) - 1.5) < 0.15
    True
    """
    return float(np.abs(eigenspectrum(W_or_model)[0]))


def _matched_eig_distance(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(
            f"spectra have different sizes ({a.size} vs {b.size}); compare models of the same size "
            "or fit the same n_components"
        )
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def spectrum_distance(W1: Any, W2: Any) -> float:
    """Mean ``|lambda_i - mu_pi(i)|`` between two ``W_rec`` spectra under the best matching.

    The matching ``pi`` is the one-to-one assignment minimising the total
    distance (Hungarian algorithm). Zero iff the spectra coincide as multisets,
    so it is invariant to any similarity transform ``W -> Q W Q^{-1}``
    (in particular to relabelling the units).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).normal(size=(6, 6))
    >>> P = np.eye(6)[[3, 1, 0, 5, 2, 4]]
    >>> spectrum_distance(W, P @ W @ P.T) < 1e-10
    True
    """
    return _matched_eig_distance(eigenspectrum(W1), eigenspectrum(W2))


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
    PCs (computed over all conditions and times with scikit-learn's PCA); the
    pairs ``(z_t, z_{t+1})`` of all conditions are pooled (never across a
    condition boundary) and ``[A b]`` solves the (ridge-)least-squares problem
    ``min sum ||z_{t+1} - A z_t - b||^2 + ridge ||A||_F^2``.

    Parameters
    ----------
    activity : DataArray (condition, time, unit), or ndarray (condition, time, unit) / (time, unit)
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
    X = _as_condition_time_unit(activity)
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
    pca = PCA(n_components=int(n_components), svd_solver="full").fit(flat)
    Z = pca.transform(flat).reshape(C, T, -1)
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
        explained_variance_ratio=pca.explained_variance_ratio_,
        components=pca.components_,
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
    return _matched_eig_distance(fa.eigenvalues, fb.eigenvalues)
