r"""Generalized shape metrics (Williams, Kunz, Kornblith & Linderman, NeurIPS 2021).

Two representations ``X`` (samples, p) and ``Y`` (samples, q) of the same samples are
compared after removing the nuisance transformations a metric should not see:
translation (``center=True``), rotation/reflection, and -- as ``alpha`` goes from 1 to 0 --
more and more of the linear map (partial whitening).  With ``A``, ``B`` the centred,
partially whitened matrices (zero-padded to equal width when ``p != q``), the optimal
rotation gives ``max_Q tr(Aᵀ B Q) = ‖AᵀB‖_*`` (nuclear norm), so

* angular:   ``θ = arccos( ‖AᵀB‖_* / (‖A‖_F ‖B‖_F) )``  (radians, in [0, π/2])
* euclidean: ``d = sqrt( ‖A‖_F² + ‖B‖_F² − 2 ‖AᵀB‖_* ) = min_Q ‖A − BQ‖_F``

Both are metrics (symmetric, triangle inequality) on equivalence classes of
representations.  ``alpha=1`` is Procrustes (rotation only); ``alpha=0`` is CCA (any
invertible linear map), where the angle is ``arccos`` of the mean canonical correlation.

The per-network / per-pair split (:func:`prepare`, :func:`prepared_distance`) lets a
K×K distance matrix cost K preprocessing steps and K² cross products.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from neurosim.metrics._validate import (
    DroppedDirectionsWarning,
    caller_stacklevel,
    check_alpha,
    check_choice,
    check_finite,
    check_flag,
    check_matrix,
    check_memory,
    check_nonzero,
    check_not_constant,
    check_pair,
    clip_unit,
    rescale,
)

__all__ = [
    "shape_distance",
    "procrustes_distance",
    "cca_distance",
    "prepare",
    "prepared_distance",
    "ShapeMetric",
]

_KINDS = ("angular", "euclidean")
_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- helpers
def _side_bytes(n: int, p: int, alpha: float) -> float:
    """Float64 bytes of one side's preparation: the centred copy, and for ``alpha < 1`` the Gram
    matrix of its smaller side, its eigenvectors and the whitened basis (n x min(n, p))."""
    k = min(n, p)
    return 8.0 * (n * p + (0 if alpha == 1.0 else 2.0 * k * k + n * k))


def shape_memory(n: int, p: int, q: int, alpha: float = 1.0) -> float:
    """Bytes a shape distance between (n, p) and (n, q) arrays allocates at its peak (an estimate).

    Both sides' preparation (:func:`_side_bytes`), the cross product (``p x q``, or ``n x n`` once
    both sides are compressed) and the SVD's workspace (about twice the smaller square).
    """
    kp, kq = (min(n, p), min(n, q)) if alpha != 1.0 or (p > n and q > n) else (p, q)
    return _side_bytes(n, p, alpha) + _side_bytes(n, q, alpha) + 8.0 * (kp * kq + 2.0 * min(kp, kq) ** 2)


def check_shape_memory(n: int, p: int, q: int, alpha: float, what: str) -> None:
    """Refuse (MemoryError) a shape-metric computation whose estimate exceeds the memory limit."""
    check_memory(shape_memory(n, p, q, alpha), f"{what} of ({n}, {p}) and ({n}, {q}) arrays (alpha={alpha:g})",
                 "reduce the features first (e.g. PCA to a few hundred components) or subsample the samples")


def _center(X: np.ndarray, center: bool) -> np.ndarray:
    return X - X.mean(axis=0) if center else X


def _svd(M: np.ndarray, full_matrices: bool = False, compute_uv: bool = True):
    """SVD (LAPACK gesdd via numpy) that falls back to the slower, more robust gesvd driver."""
    try:
        return np.linalg.svd(M, full_matrices=full_matrices, compute_uv=compute_uv)
    except np.linalg.LinAlgError:
        # scipy.linalg is imported here only: it costs ~0.1-1 s at import and is needed only
        # when gesdd fails to converge
        import scipy.linalg

        try:
            return scipy.linalg.svd(
                M, full_matrices=full_matrices, compute_uv=compute_uv, check_finite=False, lapack_driver="gesvd"
            )
        except np.linalg.LinAlgError as exc:  # pragma: no cover - pathological input
            raise ValueError(f"the SVD did not converge on this input ({exc}); rescale or regularise the data") from exc


def _nuclear_norm(M: np.ndarray) -> float:
    """Sum of singular values, from the singular values only (no vectors)."""
    return float(np.sum(_svd(M, compute_uv=False)))


def _compress(Xc: np.ndarray) -> np.ndarray:
    """A (samples, samples) matrix equal to ``Xc`` up to a right rotation (used when p > n).

    ``Xcᵀ = Q R`` so ``Xc = Rᵀ Qᵀ``; every shape distance is invariant to the
    orthogonal factor, so ``Rᵀ`` can stand in for ``Xc`` at n×n cost per pair.
    """
    n = Xc.shape[0]
    R = np.linalg.qr(Xc.T, mode="r")
    return np.ascontiguousarray(R[:n].T)


def rank_tolerance(shape: tuple[int, int]) -> float:
    """Relative singular-value threshold below which a direction is numerically zero.

    ``max(n, p) · eps`` (float64): the size of the rounding error of any backward-stable
    factorisation of an n×p matrix, relative to its largest singular value -- numpy's
    ``matrix_rank`` default.  Directions below it cannot be told apart from rounding.
    """
    return max(shape) * _EPS


# Gram-eigendecomposition fast path (2x cheaper) only while it loses nothing measurable: for a
# condition number κ below ~3e3 (κ² < 1e7) CCA distances from it agree with exact references to
# ~2e-11 (measured; the error grows like eps·κ²); beyond, a direct SVD of the data (error ~ eps·κ).
_GRAM_MAX_COND2 = 1e7


def _thin_svd(Xc: np.ndarray, need_u: bool = True, need_v: bool = True, *, name: str | None = None,
              centered: bool = True):
    """Rank-truncated thin SVD ``Xc = U diag(s) Vt``.

    Well-conditioned data take the cheap route (one Gram product and a small symmetric
    eigenproblem); otherwise the SVD of ``Xc`` itself, whose accuracy does not square the
    condition number.  Directions with ``s <= max(n, p) · eps · s_max`` (see
    :func:`rank_tolerance`) are dropped; when that drops more than the structural
    deficiency (one direction lost to centering, or ``p > n``) and ``name`` is given, a
    :class:`DroppedDirectionsWarning` says so.
    """
    n, p = Xc.shape
    tall = n >= p
    G = Xc.T @ Xc if tall else Xc @ Xc.T
    w, E = np.linalg.eigh(G)
    w, E = w[::-1], E[:, ::-1]
    if w[-1] > w[0] / _GRAM_MAX_COND2:
        s = np.sqrt(w)
        if tall:
            Vt = E.T
            U = (Xc @ E) / s if need_u else None
        else:
            U = E
            Vt = (E.T @ Xc) / s[:, None] if need_v else None
        return U, s, Vt
    U, s, Vt = _svd(Xc)
    keep = s > s[0] * rank_tolerance(Xc.shape)
    r = int(keep.sum())
    structural = min(n - 1 if centered else n, p)
    if name is not None and r < structural:
        warnings.warn(
            f"{name}: {structural - r} of {structural} directions have singular values below "
            f"{rank_tolerance(Xc.shape):.1e} x the largest (zero at float64 precision) and were dropped; the "
            f"whitening/CCA uses the remaining {r}. If they carry signal, standardise the features first "
            "(e.g. divide each column by its standard deviation); otherwise this is expected for "
            "rank-deficient data",
            DroppedDirectionsWarning,
            stacklevel=caller_stacklevel(),
        )
    return U[:, :r], s[:r], Vt[:r]


def _whitening_factors(Xc: np.ndarray, alpha: float, need_u: bool = True, need_v: bool = True, *,
                       exponent: int = 0, name: str | None = None, centered: bool = True):
    """Thin SVD of ``Xc`` and the new (partially whitened, variance-preserving) singular values.

    netrep's partial whitening ``Z = V diag(alpha + (1-alpha) λ^{-1/2}) Vᵀ`` with
    ``λ`` the eigenvalues of ``XcᵀXc`` (not divided by n) maps singular values
    ``s -> alpha·s + (1-alpha)``; the result is rescaled so ``‖Xc Z‖_F = ‖Xc‖_F``.
    ``Xc`` may be the data times ``2**-exponent`` (see :func:`~neurosim.metrics._validate.rescale`):
    the constant term is then ``(1-alpha)·2**-exponent``, so the result is that of the
    unscaled data exactly.  Directions below the rank tolerance of :func:`_thin_svd` are
    dropped (netrep clips their eigenvalue to 1e-7 instead; the two agree for full-rank data).
    """
    U, s, Vt = _thin_svd(Xc, need_u=need_u, need_v=need_v, name=name, centered=centered)
    t = alpha * s + (1.0 - alpha) * np.ldexp(1.0, -exponent)
    t = t / np.max(t)
    t *= np.linalg.norm(s) / np.linalg.norm(t)
    return U, s, Vt, t


def _prepare_validated(X: np.ndarray, alpha: float, center: bool, name: str = "X", compress: bool = True,
                       exponent: int | None = None):
    """Centred, partially whitened ``X · 2**-e`` and ``e`` (``exponent=None``: chosen for safety)."""
    if center:
        check_not_constant(X, name)
    Xs, e = rescale(X, exponent)
    Xc = _center(Xs, center)
    check_nonzero(float(np.linalg.norm(Xc)), name, "after centering" if center else "")
    if alpha == 1.0:
        if compress and Xc.shape[1] > Xc.shape[0]:
            return _compress(Xc), e
        return Xc, e
    U, _, _, t = _whitening_factors(Xc, alpha, need_v=False, exponent=e, name=name, centered=center)
    return U * t, e


# sums of squares inside [2**-200, 2**200] need no rescaling: entries are then at most 2**100
# (products and their sums over < 2**40 terms stay finite) and the largest is at least
# 2**-120 (products stay normal numbers)
_SAFE_SS = (2.0**-200, 2.0**200)


def _side_moments(A: np.ndarray, name: str):
    """``(A·2**-e, e, column means, ‖A·2**-e‖²)`` for one side of the Procrustes fast path.

    One pass (``vdot``) gives the sum of squares, which is finite exactly when ``A`` is finite
    and does not overflow; only otherwise is ``A`` searched for NaN/inf (named error) or
    rescaled by a power of two (exact) so no square over- or underflows.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ss = float(np.vdot(A, A))
    e = 0
    if not _SAFE_SS[0] <= ss <= _SAFE_SS[1]:
        if not np.isfinite(ss):
            check_finite(A, name)  # raises if A holds NaN/inf; otherwise the squares overflowed
        A, e = rescale(A)
        with np.errstate(under="ignore"):
            ss = float(np.vdot(A, A))
    return A, e, A.mean(axis=0), ss


def _centered_side(A: np.ndarray, m: np.ndarray, ss: float, name: str):
    """``(A - m, ‖A - m‖_F)``; an (almost) zero result is checked for all-identical rows."""
    Ac = A - m
    nc = float(np.linalg.norm(Ac))
    if not nc > 2.0**-20 * np.sqrt(ss):
        # the centred data are a millionth of the raw norm or less: either every row is the same
        # (what is left is rounding; refuse) or the signal rides on a huge offset (go on)
        check_not_constant(A, name)
    return Ac, nc


def _procrustes_parts(X: np.ndarray, Y: np.ndarray):
    """``(‖XcᵀYc‖_*, ‖Xc‖_F, ‖Yc‖_F, e_x, e_y)`` of the centred data times ``2**-e`` per side.

    Cost: a sum of squares and the column means per side, then, when the means hold at most
    half of each matrix's energy, ``XcᵀYc = XᵀY − n·m_x m_yᵀ`` and ``‖Xc‖² = ‖X‖² − n‖m_x‖²``
    (the subtraction cancels at most one bit); otherwise both sides are centred explicitly,
    the numpy floor's own work.  The product is taken on the narrower side.
    """
    n = X.shape[0]
    X, ex, mx, sx = _side_moments(X, "X")
    Y, ey, my, sy = _side_moments(Y, "Y")
    qx, qy = n * float(mx @ mx), n * float(my @ my)
    if qx <= 0.5 * sx and qy <= 0.5 * sy:
        if X.shape[1] <= Y.shape[1]:
            M = X.T @ Y - n * np.outer(mx, my)
        else:
            M = Y.T @ X - n * np.outer(my, mx)
        na, nb = float(np.sqrt(sx - qx)), float(np.sqrt(sy - qy))
    else:
        Xc, na = _centered_side(X, mx, sx, "X")
        Yc, nb = _centered_side(Y, my, sy, "Y")
        M = Xc.T @ Yc if Xc.shape[1] <= Yc.shape[1] else Yc.T @ Xc
    check_nonzero(na, "X", "after centering")
    check_nonzero(nb, "Y", "after centering")
    return _nuclear_norm(M), na, nb, ex, ey


def _euclidean_from_parts(nuc: float, na: float, nb: float, ea: int, eb: int) -> float:
    """``sqrt(‖A‖² + ‖B‖² − 2‖AᵀB‖_*)`` for ``A = 2**ea·a``, ``B = 2**eb·b`` given the parts of
    ``a``, ``b``: each side keeps its own binary scale, so a side far smaller than the other
    contributes what it truly does (it is not rounded to an "all-constant" zero)."""
    if ea == eb:
        d = float(np.sqrt(max(na * na + nb * nb - 2.0 * nuc, 0.0)))
        return float(np.ldexp(d, ea)) if ea else d
    E = max(ea, eb)
    a, b = float(np.ldexp(na, ea - E)), float(np.ldexp(nb, eb - E))
    c = float(np.ldexp(nuc, ea + eb - 2 * E))
    with np.errstate(under="ignore"):
        d = float(np.sqrt(max(a * a + b * b - 2.0 * c, 0.0)))
    return float(np.ldexp(d, E))


def _distance_from_parts(nuc: float, na: float, nb: float, kind: str, normalize: bool) -> float:
    if kind == "angular":
        theta = float(np.arccos(clip_unit(nuc / (na * nb))))
        return theta / (np.pi / 2) if normalize else theta
    return float(np.sqrt(max(na * na + nb * nb - 2.0 * nuc, 0.0)))


def _check_kind(kind: str, normalize: bool) -> str:
    kind = check_choice(kind, _KINDS, "kind")
    normalize = check_flag(normalize, "normalize")
    if normalize and kind != "angular":
        raise ValueError("normalize=True rescales an angle by π/2; it applies to kind='angular' only")
    return kind


# --------------------------------------------------------------------------- public API
def prepare(X, *, alpha: float = 1.0, center: bool = True) -> np.ndarray:
    """Per-network preprocessing for shape metrics: centering and partial whitening.

    Parameters
    ----------
    X : array_like, shape (samples, features)
    alpha : float in [0, 1]
        1 = Procrustes (no whitening), 0 = CCA (full whitening).
    center : bool
        Subtract the mean of every feature.

    Returns
    -------
    ndarray, shape (samples, k)
        A matrix equal to the centred, partially whitened ``X`` up to a right rotation
        (which no shape distance sees).  ``k`` may be smaller than ``features``: when
        ``alpha < 1`` it is the rank of ``X``, and when ``alpha == 1`` and
        features > samples it is ``samples``.

    Notes
    -----
    ``shape_distance(X, Y, alpha=a, kind=k) ==
    prepared_distance(prepare(X, alpha=a), prepare(Y, alpha=a), kind=k)``
    up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(30, 5)), rng.normal(size=(30, 4))
    >>> d = prepared_distance(prepare(X), prepare(Y))
    >>> bool(np.isclose(d, shape_distance(X, Y)))
    True
    """
    X = check_matrix(X, "X")
    alpha = check_alpha(alpha)
    check_memory(_side_bytes(X.shape[0], X.shape[1], alpha) + 8.0 * min(X.shape) ** 2,
                 f"prepare of a {X.shape} array (alpha={alpha:g})",
                 "reduce the features first (e.g. PCA to a few hundred components) or subsample the samples")
    P, e = _prepare_validated(X, alpha, check_flag(center, "center"))
    return np.ldexp(P, e) if e else P


def prepared_distance(A, B, *, kind: str = "angular", normalize: bool = False) -> float:
    """Per-pair shape distance between two outputs of :func:`prepare`.

    One cross product ``AᵀB`` and the singular values of it:
    angular ``arccos(‖AᵀB‖_* / (‖A‖_F ‖B‖_F))``, euclidean
    ``sqrt(‖A‖² + ‖B‖² − 2‖AᵀB‖_*)``.  Inputs are assumed to come from
    :func:`prepare` (finite, non-zero); only their shapes are checked here.

    Parameters
    ----------
    A, B : ndarray, shape (samples, k_a), (samples, k_b)
    kind : {"angular", "euclidean"}
    normalize : bool
        Divide the angle by π/2 (angular only), giving a number in [0, 1].

    Returns
    -------
    float
        Distance (0 = identical up to the metric's invariances).

    Examples
    --------
    >>> import numpy as np
    >>> A = prepare(np.random.default_rng(1).normal(size=(20, 3)))
    >>> round(prepared_distance(A, 2.0 * A), 6)
    0.0
    """
    kind = _check_kind(kind, normalize)
    A = check_matrix(A, "A", min_samples=1)
    B = check_matrix(B, "B", min_samples=1)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B (prepared arrays) must share their samples, got {A.shape[0]} and {B.shape[0]} rows")
    return _pair_distance(A, B, kind, normalize)


def _pair_distance(A: np.ndarray, B: np.ndarray, kind: str, normalize: bool, exponents=None) -> float:
    """Distance between prepared arrays; rescaled first so no product over- or underflows.

    ``exponents``: the binary scales ``(e_a, e_b)`` the inputs were already divided by
    (euclidean distances are returned in the units of the unscaled data).
    """
    ea0, eb0 = exponents if exponents is not None else (0, 0)
    A, ea = rescale(A)
    B, eb = rescale(B)
    M = A.T @ B if A.shape[1] <= B.shape[1] else (B.T @ A)
    na, nb = float(np.linalg.norm(A)), float(np.linalg.norm(B))
    check_nonzero(na, "A", "")
    check_nonzero(nb, "B", "")
    nuc = _nuclear_norm(M)
    if kind == "angular":
        return _distance_from_parts(nuc, na, nb, kind, normalize)
    return _euclidean_from_parts(nuc, na, nb, ea + ea0, eb + eb0)


def shape_distance(
    X, Y, *, alpha: float = 1.0, kind: str = "angular", center: bool = True, normalize: bool = False
) -> float:
    r"""Generalized shape distance between two representations of the same samples.

    Parameters
    ----------
    X : array_like, shape (samples, p)
    Y : array_like, shape (samples, q)
        ``p != q`` is allowed (equivalent to zero-padding the narrower one).
    alpha : float in [0, 1]
        Regularisation of the partial whitening: 1 = Procrustes (rotations only),
        0 = CCA (invariant to any invertible linear map).  Values in between follow
        netrep's trace-preserving partial whitening ``s -> alpha·s + (1-alpha)`` of the
        singular values of the centred data (covariance not divided by n); this
        continuum is convention-dependent and other packages' intermediate values
        may differ.
    kind : {"angular", "euclidean"}
    center : bool
        Remove each feature's mean first (translation invariance).
    normalize : bool
        Divide the angle by π/2 so it lies in [0, 1] (the scale used by
        Liu, Yang & Cueva 2025).  Angular only.

    Returns
    -------
    float
        Distance, lower = closer.  Angular: radians in [0, π/2]
        ``arccos(‖AᵀB‖_* / (‖A‖_F ‖B‖_F))``.  Euclidean: ``min_Q ‖A − BQ‖_F`` in the
        units of the (variance-preserved) data.

    References
    ----------
    Williams, Kunz, Kornblith & Linderman (2021), "Generalized shape metrics on neural
    representations", NeurIPS.  Equations (4)-(7).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> round(shape_distance(X, 3.0 * X @ Q + 1.0), 6)
    0.0
    >>> 0.0 < shape_distance(X, rng.normal(size=(40, 6)), normalize=True) <= 1.0
    True
    """
    kind = _check_kind(kind, normalize)
    alpha = check_alpha(alpha)
    center = check_flag(center, "center")
    X, Y = check_pair(X, Y)
    check_shape_memory(X.shape[0], X.shape[1], Y.shape[1], alpha, "shape_distance")
    # compress a wide side only when both are wide (otherwise the product is already cheap)
    wide = X.shape[1] > X.shape[0] and Y.shape[1] > Y.shape[0]
    if alpha == 1.0 and center and not wide:
        nuc, na, nb, ex, ey = _procrustes_parts(X, Y)
        if kind == "angular":  # invariant to each side's scale
            return _distance_from_parts(nuc, na, nb, kind, normalize)
        return _euclidean_from_parts(nuc, na, nb, ex, ey)
    # each side on its own binary scale (exact); euclidean distances recombine the scales
    A, ea = _prepare_validated(X, alpha, bool(center), "X", compress=wide)
    B, eb = _prepare_validated(Y, alpha, bool(center), "Y", compress=wide)
    return _pair_distance(A, B, kind, normalize, (ea, eb))


def procrustes_distance(X, Y, *, kind: str = "angular", center: bool = True, normalize: bool = False) -> float:
    r"""Rotation-invariant (orthogonal Procrustes) shape distance; ``shape_distance`` with alpha=1.

    Angular: ``arccos(‖XcᵀYc‖_* / (‖Xc‖_F ‖Yc‖_F))`` radians (the cosine is the
    normalized Bures similarity of the two linear kernels).  Invariant to
    translation, rotation/reflection and isotropic scaling.  Lower = closer.

    See :func:`shape_distance` for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    >>> d = procrustes_distance(X, Y)
    >>> Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    >>> nuc = np.linalg.svd(Xc.T @ Yc, compute_uv=False).sum()
    >>> bool(np.isclose(d, np.arccos(nuc / np.linalg.norm(Xc) / np.linalg.norm(Yc))))
    True
    """
    return shape_distance(X, Y, alpha=1.0, kind=kind, center=center, normalize=normalize)


def cca_distance(X, Y, *, kind: str = "angular", center: bool = True, normalize: bool = False) -> float:
    r"""Shape distance invariant to any invertible linear map; ``shape_distance`` with alpha=0.

    Angular: ``arccos(Σ ρ_i / sqrt(r_x r_y))`` with ``ρ_i`` the canonical
    correlations and ``r_x, r_y`` the ranks of the centred data -- i.e. ``arccos`` of
    the mean canonical correlation when the ranks are equal.  Lower = closer.

    See :func:`shape_distance` for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> round(cca_distance(X, X @ rng.normal(size=(4, 4))), 6)
    0.0
    """
    return shape_distance(X, Y, alpha=0.0, kind=kind, center=center, normalize=normalize)


for _f in (shape_distance, procrustes_distance, cca_distance, prepared_distance):
    _f.direction = "distance"


# --------------------------------------------------------------------------- estimator
class ShapeMetric:
    """Shape metric as a scikit-learn-compatible estimator: fit the alignment on one split, score another.

    ``fit(X, Y)`` learns the feature means, the partial whitening of each side and the
    optimal rotation between them; ``score(X, Y)`` returns the **distance** of new
    data under that fitted alignment -- **lower is closer** (note: scikit-learn's
    model-selection tools maximise scores, so pass ``scoring=neg_shape_distance``
    or negate when tuning hyper-parameters).  Test data are centred with the
    *training* means.  On the training data ``fit_score`` equals
    :func:`shape_distance`.

    Works directly with ``sklearn.model_selection.cross_validate(metric, X, Y, cv=...)``,
    ``sklearn.base.clone`` and ``GridSearchCV``: the samples (rows) are split, ``Y``
    travels as the target.  It implements the estimator protocol (``get_params`` /
    ``set_params``, parameters stored unchanged by ``__init__``) without inheriting
    from scikit-learn, so importing neurosim does not import scikit-learn.

    Parameters
    ----------
    alpha : float in [0, 1]
        1 = Procrustes, 0 = CCA (see :func:`shape_distance`).
    kind : {"angular", "euclidean"}
    center : bool
    normalize : bool
        Divide the angle by π/2 (angular only).

    Attributes
    ----------
    mean_x_, mean_y_ : ndarray
        Training means (zeros when ``center=False``).
    whitening_x_, whitening_y_ : ndarray, shape (p, p), (q, q)
        Partial whitening matrices (variance-preserving).
    rotation_x_, rotation_y_ : ndarray, shape (p, m), (q, m)
        Orthogonal maps into the shared space of width ``m = max(p, q)``.
    distance_ : float
        Distance on the training data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_validate, KFold
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 5))
    >>> Y = X @ np.linalg.qr(rng.normal(size=(5, 5)))[0] + 0.1 * rng.normal(size=(80, 5))
    >>> res = cross_validate(ShapeMetric(), X, Y, cv=KFold(4))
    >>> bool(np.all(res["test_score"] < 0.3))
    True
    """

    direction = "distance"

    def __init__(self, alpha: float = 1.0, kind: str = "angular", center: bool = True, normalize: bool = False):
        self.alpha = alpha
        self.kind = kind
        self.center = center
        self.normalize = normalize

    # -- estimator protocol (the parts scikit-learn's clone / cross_validate / GridSearchCV use)
    @classmethod
    def _get_param_names(cls) -> list[str]:
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters as a dict (``deep`` is accepted for scikit-learn; nothing is nested)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params) -> "ShapeMetric":
        """Set constructor parameters; unknown names raise ``ValueError`` listing the valid ones."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for ShapeMetric; valid parameters: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items() if k != "self"}
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k])
        return f"{type(self).__name__}({shown})"

    def __sklearn_tags__(self):
        # called by scikit-learn only, so scikit-learn is already imported at this point
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=True))

    # -- fitting
    def _whitening(self, Xc: np.ndarray, alpha: float, exponent: int, name: str) -> np.ndarray:
        p = Xc.shape[1]
        if alpha == 1.0:
            return np.eye(p)
        _, s, Vt, t = _whitening_factors(Xc, alpha, need_u=False, exponent=exponent, name=name,
                                         centered=bool(self.center))
        return (Vt.T * (t / s)) @ Vt

    def fit(self, X, Y):
        """Learn means, whitening and rotation from paired data ``X`` (n, p), ``Y`` (n, q)."""
        kind = _check_kind(self.kind, self.normalize)
        alpha = check_alpha(self.alpha)
        check_flag(self.center, "center")
        X, Y = check_pair(X, Y)
        m = max(X.shape[1], Y.shape[1])
        # whitening matrices (p x p, q x q) and the full SVD of the padded m x m cross product
        check_memory(shape_memory(X.shape[0], X.shape[1], Y.shape[1], alpha) + 8.0 * (X.shape[1] ** 2 + Y.shape[1] ** 2 + 4.0 * m * m),
                     f"ShapeMetric.fit of ({X.shape[0]}, {X.shape[1]}) and ({Y.shape[0]}, {Y.shape[1]}) arrays",
                     "reduce the features first (e.g. PCA to a few hundred components)")
        if self.center:
            check_not_constant(X, "X")
            check_not_constant(Y, "Y")
        # compute on data rescaled by powers of two (exact), each side on its own scale (euclidean
        # scores recombine the scales, see _score_aligned)
        Xs, ex = rescale(X)
        Ys, ey = rescale(Y)
        self._exponents = (ex, ey)
        mx = Xs.mean(axis=0) if self.center else np.zeros(X.shape[1])
        my = Ys.mean(axis=0) if self.center else np.zeros(Y.shape[1])
        self.mean_x_, self.mean_y_ = np.ldexp(mx, ex), np.ldexp(my, ey)
        Xc, Yc = Xs - mx, Ys - my
        check_nonzero(float(np.linalg.norm(Xc)), "X")
        check_nonzero(float(np.linalg.norm(Yc)), "Y")
        self.whitening_x_ = self._whitening(Xc, alpha, ex, "X")
        self.whitening_y_ = self._whitening(Yc, alpha, ey, "Y")
        p, q = X.shape[1], Y.shape[1]
        m = max(p, q)
        M = np.zeros((m, m))
        M[:p, :q] = (Xc @ self.whitening_x_).T @ (Yc @ self.whitening_y_)
        U, _, Vt = _svd(M, full_matrices=True)
        self.rotation_x_ = U[:p]
        self.rotation_y_ = Vt.T[:q]
        self.n_features_x_, self.n_features_y_ = p, q
        self.distance_ = self._score_aligned(*self._transform_scaled(X, Y))
        return self

    # -- using the fitted state
    def _check_fitted(self):
        if not hasattr(self, "rotation_x_"):
            raise ValueError("this ShapeMetric is not fitted yet; call fit(X, Y) first")

    def _transform_scaled(self, X: np.ndarray, Y: np.ndarray):
        """Aligned ``X``, ``Y`` in the units of the rescaled training data (see ``fit``)."""
        ex, ey = self._exponents
        return (
            (np.ldexp(X, -ex) - np.ldexp(self.mean_x_, -ex)) @ (self.whitening_x_ @ self.rotation_x_),
            (np.ldexp(Y, -ey) - np.ldexp(self.mean_y_, -ey)) @ (self.whitening_y_ @ self.rotation_y_),
        )

    def _validate_new(self, X, Y):
        self._check_fitted()
        X, Y = check_pair(X, Y, min_samples=1)
        if X.shape[1] != self.n_features_x_ or Y.shape[1] != self.n_features_y_:
            raise ValueError(
                f"fitted on X with {self.n_features_x_} and Y with {self.n_features_y_} features, "
                f"got {X.shape[1]} and {Y.shape[1]}"
            )
        return X, Y

    def transform(self, X, Y):
        """Map ``X`` and ``Y`` into the shared aligned space; returns ``(X_aligned, Y_aligned)``."""
        Xa, Ya = self._transform_scaled(*self._validate_new(X, Y))
        ex, ey = self._exponents
        return np.ldexp(Xa, ex), np.ldexp(Ya, ey)

    def _score_aligned(self, Xa: np.ndarray, Ya: np.ndarray) -> float:
        kind = _check_kind(self.kind, self.normalize)
        if kind == "angular":
            Xa, _ = rescale(Xa)
            Ya, _ = rescale(Ya)
            na, nb = float(np.linalg.norm(Xa)), float(np.linalg.norm(Ya))
            check_nonzero(na, "X", "after the fitted alignment")
            check_nonzero(nb, "Y", "after the fitted alignment")
            theta = float(np.arccos(clip_unit(np.vdot(Xa, Ya) / (na * nb))))
            return theta / (np.pi / 2) if self.normalize else theta
        ex, ey = self._exponents
        if ex == ey:
            return float(np.ldexp(np.linalg.norm(Xa - Ya), ex))
        E = max(ex, ey)
        with np.errstate(under="ignore"):
            diff = np.ldexp(Xa, ex - E) - np.ldexp(Ya, ey - E)
        return float(np.ldexp(np.linalg.norm(diff), E))

    def score(self, X, Y) -> float:
        """Distance between ``X`` and ``Y`` under the fitted alignment (lower = closer)."""
        return self._score_aligned(*self._transform_scaled(*self._validate_new(X, Y)))

    def fit_score(self, X, Y) -> float:
        """``fit(X, Y).score(X, Y)``: equals :func:`shape_distance` on the same data."""
        return self.fit(X, Y).distance_


def neg_shape_distance(estimator: ShapeMetric, X, Y) -> float:
    """Scorer for scikit-learn model selection (greater is better): ``-estimator.score(X, Y)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> neg_shape_distance(ShapeMetric().fit(X, X), X, X) > -1e-6
    True
    """
    return -estimator.score(X, Y)
