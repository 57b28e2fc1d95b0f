"""Dynamical properties of trained networks, comparable across models.

* :func:`participation_ratio` — effective dimensionality of activity,
  ``PR = (sum_i lambda_i)^2 / sum_i lambda_i^2`` over the eigenvalues of the
  covariance (Gao & Ganguli 2015; Recanatesi et al. 2019).
* :func:`eigenspectrum` / :func:`spectral_radius` — eigenvalues of ``W_rec``.
* :func:`spectrum_distance` — two networks' ``W_rec`` spectra under the best matching.

Comparisons of trajectories (which can score recordings too) are metrics:
:mod:`neurosim.metrics.linear_dynamics` (re-exported here as ``fit_linear_dynamics``,
``dynamics_distance``, ``LinearDynamics``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurosim.metrics.linear_dynamics import (  # noqa: F401  (re-exported)
    LinearDynamics,
    dynamics_distance,
    fit_linear_dynamics,
    matched_eigenvalue_distance,
)
from neurosim.metrics.linear_dynamics import _sort_eigs as _sort_eigenvalues

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
    return _sort_eigenvalues(np.linalg.eigvals(_weights(W_or_model)).astype(np.complex128))


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
    return matched_eigenvalue_distance(eigenspectrum(W1), eigenspectrum(W2))
