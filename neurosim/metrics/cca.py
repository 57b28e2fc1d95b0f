r"""Canonical correlation analysis and its summary similarities (mean, mean², SVCCA, PWCCA).

With ``Xc = U_x S_x V_xᵀ`` (thin SVD, rank-truncated) the canonical correlations are
the singular values of ``U_xᵀ U_y``: the cosines of the principal angles between the
column spaces of the centred data (Björck & Golub 1973).  Working on orthonormal
bases (never inverting a covariance) makes rank-deficient inputs safe: directions with
zero variance are simply not part of the basis.
"""

from __future__ import annotations

import warnings

import numpy as np

from neurosim.metrics._validate import (
    DroppedDirectionsWarning,
    check_choice,
    check_count,
    check_flag,
    check_number,
    check_nonzero,
    check_not_constant,
    check_pair,
    rescale,
)
from neurosim.metrics.shape import _svd, _thin_svd, check_shape_memory

__all__ = ["canonical_correlations", "cca_similarity"]

_KINDS = ("mean", "mean_squared", "svcca", "pwcca")


def _basis(Xc: np.ndarray, name: str, centered: bool = True):
    """Orthonormal basis of the column space of ``Xc`` and its (rank-truncated) singular values.

    ``Xc`` should already be rescaled (:func:`~neurosim.metrics._validate.rescale`); the
    rank decision is relative (``max(n, p)·eps`` of the largest singular value) and warns
    with a :class:`~neurosim.metrics._validate.DroppedDirectionsWarning` when it drops more
    than the structural deficiency.
    """
    check_nonzero(float(np.linalg.norm(Xc)), name, "after centering" if centered else "")
    U, s, _ = _thin_svd(Xc, need_v=False, name=name, centered=centered)
    return U, s


def _check_reg(reg) -> float:
    """Ridge regularisation: a real, finite number >= 0 (strings and booleans refused)."""
    return check_number(reg, "reg", minimum=0.0)


def _cca(X: np.ndarray, Y: np.ndarray, reg: float, center: bool):
    """Return (rho, Ux, gx, a) where the canonical variates of X are ``Ux @ (gx[:, None] * a)``."""
    n = X.shape[0]
    if center:
        check_not_constant(X, "X")
        check_not_constant(Y, "Y")
    # rescaled by powers of two (exact): canonical correlations are scale-invariant, and the
    # ridge, which is in data units, is rescaled with each side below
    X, ex = rescale(X)
    Y, ey = rescale(Y)
    Xc = X - X.mean(axis=0) if center else X
    Yc = Y - Y.mean(axis=0) if center else Y
    Ux, sx = _basis(Xc, "X", center)
    Uy, sy = _basis(Yc, "Y", center)
    # ridge on the covariance (1/(n-1)) XcᵀXc + reg·I shrinks each direction by s/sqrt(s² + (n-1)reg)
    gx = sx / np.sqrt(sx**2 + (n - 1) * np.ldexp(reg, -2 * ex)) if reg > 0 else np.ones_like(sx)
    gy = sy / np.sqrt(sy**2 + (n - 1) * np.ldexp(reg, -2 * ey)) if reg > 0 else np.ones_like(sy)
    M = (gx[:, None] * (Ux.T @ Uy)) * gy[None, :]
    A, rho, _ = _svd(M)
    return np.clip(rho, 0.0, 1.0), Ux, A


def _check_n_components(n_components, available: int) -> int:
    if n_components is None:
        return available
    n_components = check_count(n_components, "n_components")
    if not n_components <= available:
        raise ValueError(
            f"n_components={n_components} but only {available} canonical pair(s) exist "
            "(min of the ranks of the centred X and Y)"
        )
    return int(n_components)


def canonical_correlations(X, Y, *, n_components=None, reg: float = 0.0, center: bool = True) -> np.ndarray:
    r"""Canonical correlations between ``X`` (n, p) and ``Y`` (n, q), largest first.

    ``ρ_i = σ_i( (Σxx + reg·I)^{-1/2} Σxy (Σyy + reg·I)^{-1/2} )`` with
    ``Σ = XcᵀYc / (n-1)``; with ``reg = 0`` these are the cosines of the principal angles
    between the column spaces of ``Xc`` and ``Yc`` (computed from orthonormal bases, so
    rank-deficient data give the correlations of their non-degenerate directions).

    Parameters
    ----------
    X, Y : array_like, shape (samples, p), (samples, q)
    n_components : int, optional
        Keep the first ``n_components`` (default: all ``min(rank X, rank Y)``).
    reg : float
        Ridge added to each covariance (regularised CCA, Vinod 1976).
    center : bool

    Returns
    -------
    ndarray, shape (k,)
        Values in [0, 1], descending.  Note that when ``rank X + rank Y > n - 1`` some
        correlations are 1 by construction (more dimensions than samples).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> Y = np.c_[X[:, 0], rng.normal(size=(100, 2))]
    >>> canonical_correlations(X, Y).round(2).tolist()[0]
    1.0
    """
    X, Y = check_pair(X, Y)
    check_shape_memory(X.shape[0], X.shape[1], Y.shape[1], 0.0, "canonical_correlations")
    rho, _, _ = _cca(X, Y, _check_reg(reg), check_flag(center, "center"))
    return rho[: _check_n_components(n_components, rho.size)].copy()


def _svcca_reduce(X: np.ndarray, keep, name: str) -> np.ndarray:
    X, _ = rescale(X)
    Xc = X - X.mean(axis=0)
    U, s = _basis(Xc, name)
    if isinstance(keep, (bool, np.bool_)):
        raise TypeError(f"keep must be a variance fraction in (0, 1] or an int number of dimensions, got {keep!r}")
    if isinstance(keep, (int, np.integer)):
        if not 1 <= keep <= s.size:
            raise ValueError(f"svcca keep={keep} dimensions but {name} has rank {s.size}")
        k = int(keep)
    else:
        if not isinstance(keep, (float, np.floating)):
            raise TypeError(f"keep must be a variance fraction in (0, 1] or an int, got {keep!r} "
                            f"({type(keep).__name__})")
        frac = float(keep)
        if not 0.0 < frac <= 1.0:
            raise ValueError(f"keep as a variance fraction must lie in (0, 1], got {frac}")
        cum = np.cumsum(s**2) / np.sum(s**2)
        k = int(np.searchsorted(cum, frac - 1e-12) + 1)
    return U[:, :k] * s[:k]


def cca_similarity(
    X,
    Y,
    kind: str = "mean",
    *,
    n_components=None,
    reg: float = 0.0,
    keep=None,
    center: bool = True,
) -> float:
    r"""Summary similarity of the canonical correlations (1 = identical up to a linear map).

    * ``"mean"``: ``mean ρ_i`` (the cosine of :func:`cca_distance` for equal ranks).
    * ``"mean_squared"``: ``mean ρ_i²`` (Yanai's generalized coefficient; Kornblith et al. 2019).
    * ``"svcca"``: project each side on its top principal components keeping ``keep``
      of the variance (default 99%, or an integer number of dimensions), then mean ρ
      (Raghu et al. 2017).
    * ``"pwcca"``: ``Σ α_i ρ_i`` with ``α_i ∝ Σ_j |⟨h_i, x_j⟩|``, ``h_i`` the unit-norm
      canonical variates and ``x_j`` the centred features of the side with fewer
      independent features (X on ties) -- projection weighting of Morcos et al. 2018.
      Asymmetric by construction.

    Parameters
    ----------
    X, Y : array_like, shape (samples, p), (samples, q)
    kind : {"mean", "mean_squared", "svcca", "pwcca"}
    n_components : int, optional
        Average over the first ``n_components`` correlations only (mean, mean_squared, svcca).
    reg : float
        Ridge for the CCA (see :func:`canonical_correlations`).
    keep : float in (0, 1] or int, optional
        SVCCA: variance fraction or number of principal components kept per side
        (default 0.99).  Options that do not apply to ``kind`` (``keep`` unless svcca,
        ``n_components`` for pwcca) are refused, not ignored.
    center : bool

    Returns
    -------
    float in [0, 1], higher = more similar.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> round(cca_similarity(X, X @ rng.normal(size=(6, 6)), "pwcca"), 6)
    1.0
    """
    kind = check_choice(kind, _KINDS, "kind")
    center = check_flag(center, "center")
    X, Y = check_pair(X, Y)
    check_shape_memory(X.shape[0], X.shape[1], Y.shape[1], 0.0, "cca_similarity")
    reg = _check_reg(reg)
    if keep is not None and kind != "svcca":
        raise ValueError(f"keep applies to kind='svcca' only (got kind={kind!r}); drop keep=")
    if n_components is not None and kind == "pwcca":
        raise ValueError("n_components does not apply to kind='pwcca' (it weights every canonical pair)")
    if kind == "svcca":
        keep = 0.99 if keep is None else keep
        X = _svcca_reduce(X, keep, "X")
        Y = _svcca_reduce(Y, keep, "Y")
    if kind == "pwcca":
        # the side with fewer independent features carries the weights (as in Morcos et al.)
        # (ranks with the same relative tolerance as the CCA bases, on rescaled data)
        Xs, Ys = rescale(X)[0], rescale(Y)[0]
        with warnings.catch_warnings():  # the CCA below warns about dropped directions once
            warnings.simplefilter("ignore", DroppedDirectionsWarning)
            rx = _basis(Xs - Xs.mean(0) if center else Xs, "X", center)[1].size
            ry = _basis(Ys - Ys.mean(0) if center else Ys, "Y", center)[1].size
        S, O, Ss = (X, Y, Xs) if rx <= ry else (Y, X, Ys)
        rho, Us, A = _cca(S, O, reg, bool(center))
        H = Us @ A[:, : rho.size]  # unit-norm canonical variates of S (columns)
        Sc = Ss - Ss.mean(axis=0) if center else Ss
        weights = np.abs(H.T @ Sc).sum(axis=1)
        total = weights.sum()
        check_nonzero(float(total), "PWCCA weights", "")
        return float(np.clip(np.dot(weights / total, rho), 0.0, 1.0))
    rho, _, _ = _cca(X, Y, reg, bool(center))
    rho = rho[: _check_n_components(n_components, rho.size)]
    if kind == "mean_squared":
        return float(np.mean(rho**2))
    return float(np.mean(rho))


canonical_correlations.direction = "similarity"
cca_similarity.direction = "similarity"
