r"""Centered kernel alignment (Kornblith, Norouzi, Lee & Hinton, ICML 2019).

``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` for kernel (Gram) matrices of
the same samples.  The biased estimator uses ``HSIC = tr(HKH HLH)`` (Gretton et al. 2005);
the debiased one uses the unbiased estimator of Song et al. (2012, eq. 5), which makes
CKA an unbiased-in-HSIC ratio that no longer drifts upward with the number of features.

For the linear kernel everything is computed in feature space when that is cheaper
(``‖XcᵀYc‖_F²`` instead of two n×n Grams), including the debiased estimator, whose
diagonal and row-sum corrections only need the row norms and column sums.
"""

from __future__ import annotations

import numpy as np

from neurosim.metrics._validate import (
    check_choice,
    check_flag,
    check_memory,
    check_number,
    check_nonzero,
    check_not_constant,
    check_pair,
    rescale,
)

__all__ = ["cka"]

_KERNELS = ("linear", "rbf")


def _unbiased_hsic_from_parts(tr_kl: float, k: np.ndarray, l: np.ndarray, sum_k: float, sum_l: float,
                              k1: np.ndarray, l1: np.ndarray, n: int) -> float:
    """Song et al. (2012) eq. 5, with ``K̃ = K - diag(K)``; inputs describe K and L (not K̃, L̃).

    tr_kl = tr(KL), k/l = diagonals, sum_k = 1ᵀK1, k1 = K1.
    """
    tr_tilde = tr_kl - float(np.dot(k, l))
    sum_kt = sum_k - float(k.sum())
    sum_lt = sum_l - float(l.sum())
    kt1 = k1 - k
    lt1 = l1 - l
    value = tr_tilde + sum_kt * sum_lt / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(np.dot(kt1, lt1))
    return value / (n * (n - 3))


def _hsic_u_gram(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    k1, l1 = K.sum(axis=1), L.sum(axis=1)
    return _unbiased_hsic_from_parts(
        float(np.vdot(K, L)), np.diag(K).copy(), np.diag(L).copy(), float(k1.sum()), float(l1.sum()), k1, l1, n
    )


def _hsic_u_features(X: np.ndarray, Y: np.ndarray, XtY_fro2: float) -> float:
    """Unbiased HSIC of the linear kernels K = XXᵀ, L = YYᵀ without forming them."""
    n = X.shape[0]
    k = np.einsum("ij,ij->i", X, X)
    l = np.einsum("ij,ij->i", Y, Y)
    sx, sy = X.sum(axis=0), Y.sum(axis=0)
    k1, l1 = X @ sx, Y @ sy
    return _unbiased_hsic_from_parts(XtY_fro2, k, l, float(sx @ sx), float(sy @ sy), k1, l1, n)


def _center_gram(K: np.ndarray) -> np.ndarray:
    row = K.mean(axis=0)
    return K - row[None, :] - row[:, None] + row.mean()


def _rbf_gram(X: np.ndarray, sigma, name: str) -> np.ndarray:
    sq = np.einsum("ij,ij->i", X, X)
    D = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.maximum(D, 0.0, out=D)
    np.fill_diagonal(D, 0.0)
    if sigma is None:
        med = float(np.median(D))
        if not med > 0.0:
            raise ValueError(
                f"the median squared distance between samples of {name} is 0 (mostly duplicate rows), "
                "so the median bandwidth heuristic fails; pass sigma explicitly"
            )
        s2 = med
    else:
        s2 = float(sigma) ** 2
    return np.exp(-D / (2.0 * s2))


def _check_sigma(sigma):
    """RBF bandwidth: None (median heuristic) or a real, finite number > 0 (strings and booleans refused)."""
    return check_number(sigma, "sigma", minimum=0.0, low_open=True, allow_none=True)


def cka(X, Y, *, kernel: str = "linear", debiased: bool = False, sigma=None) -> float:
    r"""Centered kernel alignment between ``X`` (n, p) and ``Y`` (n, q); 1 = identical.

    Linear, biased (Kornblith et al. 2019, eq. for feature space)::

        CKA = ‖XcᵀYc‖_F² / (‖XcᵀXc‖_F ‖YcᵀYc‖_F)

    Debiased: the same ratio with the unbiased HSIC estimator of Song et al. (2012)
    in place of ``tr(HKH HLH)``; it equals 1 for X vs X and can be slightly negative
    for unrelated data.  Needs at least 4 samples.

    Parameters
    ----------
    X, Y : array_like, shape (samples, p), (samples, q)
    kernel : {"linear", "rbf"}
        RBF: ``k(x, x') = exp(-‖x - x'‖² / (2σ²))``.
    debiased : bool
        Use the unbiased HSIC estimator.
    sigma : float, optional
        RBF bandwidth.  Default: ``σ² =`` median of all n² squared pairwise distances
        of each representation separately (Kornblith et al.'s ``gram_rbf`` with
        threshold 1), which makes RBF CKA scale-invariant.

    Notes
    -----
    Exact at any float64 scale: each side is first multiplied by a power of two
    (exact), so nothing overflows or underflows.  The RBF kernel (and the linear one
    when ``n`` is small against the features) builds ``n×n`` matrices; if that would
    exceed the memory limit (``$NEUROSIM_MAX_MEMORY``, default 4 GB) a ``MemoryError``
    states the estimate before anything is allocated.

    Returns
    -------
    float
        Similarity (direction: higher = more similar, 1 = identical up to rotation and
        isotropic scaling for the linear kernel).  Invariant to translation.

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019) "Similarity of neural network representations
    revisited", ICML.  Song, Smola, Gretton, Bedo & Borgwardt (2012) "Feature selection via
    dependence maximization", JMLR 13, eq. (5).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 10))
    >>> round(cka(X, 2 * X + 1), 12), round(cka(X, X, debiased=True), 12)
    (1.0, 1.0)
    """
    kernel = check_choice(kernel, _KERNELS, "kernel")
    sigma = _check_sigma(sigma)
    debiased = check_flag(debiased, "debiased")
    if kernel == "linear" and sigma is not None:
        raise ValueError("sigma is an RBF bandwidth; it does not apply to kernel='linear'")
    X, Y = check_pair(X, Y, min_samples=4 if debiased else 2)
    n, p, q = X.shape[0], X.shape[1], Y.shape[1]
    # every quadratic allocation is estimated from the shapes, before any copy is made
    feature_space = kernel == "linear" and p * q + p * p + q * q <= n * (p + q + n)
    if kernel == "rbf":
        check_memory(6 * 8.0 * n * n, f"RBF CKA on {n} samples (several {n}x{n} kernel matrices)",
                     "subsample the samples (e.g. every k-th time bin), or use kernel='linear', which works "
                     "in feature space without any n x n matrix")
    elif feature_space:
        check_memory(2 * 8.0 * max(p * q, p * p, q * q),
                     f"linear CKA in feature space ({p}x{q}, {p}x{p} and {q}x{q} cross products)",
                     "reduce the features first (e.g. PCA to a few hundred components)")
    else:
        check_memory(3 * 8.0 * n * n, f"linear CKA on {n} samples (two {n}x{n} Gram matrices)",
                     "subsample the samples (e.g. every k-th time bin), or reduce the features first (PCA)")
    check_not_constant(X, "X")
    check_not_constant(Y, "Y")
    # CKA is invariant to each side's scale: compute on data rescaled by powers of two (exact),
    # so the fourth powers below neither overflow nor underflow; an explicit RBF bandwidth is
    # rescaled with its side
    X, ex = rescale(X)
    Y, ey = rescale(Y)
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    check_nonzero(float(np.linalg.norm(Xc)), "X")
    check_nonzero(float(np.linalg.norm(Yc)), "Y")

    if kernel == "linear":
        if feature_space:
            xy = float(np.sum((Xc.T @ Yc) ** 2))
            xx = float(np.sum((Xc.T @ Xc) ** 2))
            yy = float(np.sum((Yc.T @ Yc) ** 2))
            if not debiased:
                return float(xy / np.sqrt(xx * yy))
            hxy = _hsic_u_features(Xc, Yc, xy)
            hxx = _hsic_u_features(Xc, Xc, xx)
            hyy = _hsic_u_features(Yc, Yc, yy)
        else:
            K, L = Xc @ Xc.T, Yc @ Yc.T
            if not debiased:
                return float(np.vdot(K, L) / (np.linalg.norm(K) * np.linalg.norm(L)))
            hxy, hxx, hyy = _hsic_u_gram(K, L), _hsic_u_gram(K, K), _hsic_u_gram(L, L)
    else:
        sx = None if sigma is None else float(np.ldexp(sigma, -ex))
        sy = None if sigma is None else float(np.ldexp(sigma, -ey))
        K, L = _rbf_gram(Xc, sx, "X"), _rbf_gram(Yc, sy, "Y")
        if not debiased:
            Kc, Lc = _center_gram(K), _center_gram(L)
            nk, nl = float(np.linalg.norm(Kc)), float(np.linalg.norm(Lc))
            check_nonzero(nk, "X", "(its centred RBF Gram matrix); sigma may be far too large")
            check_nonzero(nl, "Y", "(its centred RBF Gram matrix); sigma may be far too large")
            return float(np.vdot(Kc, Lc) / (nk * nl))
        hxy, hxx, hyy = _hsic_u_gram(K, L), _hsic_u_gram(K, K), _hsic_u_gram(L, L)
    if not (hxx > 0.0 and hyy > 0.0):
        raise ValueError(
            "the unbiased HSIC of X with itself (or Y with itself) is not positive, so debiased CKA is "
            "undefined; use more samples or debiased=False"
        )
    return float(hxy / np.sqrt(hxx * hyy))


cka.direction = "similarity"
