r"""Sufficient statistics for resampling: bootstrap, cross-validation, permutations, unit splits.

Resampling conditions (bootstrap), leaving conditions out (cross-validation), pairing the
model's conditions with other data conditions (permutation tests) and splitting units
(split-half ceilings) change *which* samples or features enter a metric, not the samples
themselves.  For the metrics below, everything a metric needs from ``X`` (n, p) and ``Y``
(n, q) is in the centred second moments

    ``Sxx = XcᵀXc``  (p, p),   ``Syy = YcᵀYc``  (q, q),   ``Sxy = XcᵀYc``  (p, q),   ``n``

so per-condition blocks are computed once, and a resample costs a weighted sum of ``C``
small blocks plus the one decomposition the metric needs:

* shape metrics (:func:`~neurosim.metrics.shape.shape_distance`, Procrustes ... CCA):
  the singular values of ``Sxy`` (Procrustes) or of the partially whitened
  ``diag(t_x/s_x) V_xᵀ Sxy V_y diag(t_y/s_y)`` with ``Sxx = V_x diag(s_x²) V_xᵀ``;
* canonical correlations (:func:`~neurosim.metrics.cca.cca_similarity` ``"mean"``,
  ``"mean_squared"``): the singular values of the whitened ``Sxy``;
* linear CKA (:func:`~neurosim.metrics.cka.cka`, biased HSIC):
  ``‖Sxy‖_F² / (‖Sxx‖_F ‖Syy‖_F)``.

Centring is folded in exactly by the within/between-condition decomposition: with ``Ẋ_c``
the samples of condition ``c`` centred on their own mean ``m_c``, weights ``w_c`` (the
number of times condition ``c`` is drawn) and ``g_c = w_c n_c``,

    ``Sxy = Σ_c w_c Ẋ_cᵀẎ_c + Σ_c g_c (m^x_c − m̄_x)(m^y_c − m̄_y)ᵀ``,  ``m̄ = Σ_c g_c m_c / Σ_c g_c``.

Both terms are computed from centred quantities, so nothing cancels: where
:func:`~neurosim.metrics.shape.procrustes_distance` must guard ``XᵀY − n m_x m_yᵀ`` against
cancellation (and centres explicitly when the means dominate), this form never subtracts
large numbers.  A permutation pairs model condition ``π(c)`` with data condition ``c``; it
needs the ``C × C`` cross blocks ``Ẋ_aᵀẎ_b`` (``cross=True``), computed once in one product.

When a side has more features than samples it is replaced once by an ``n × n`` matrix equal
to it up to a right rotation (``X = Rᵀ Qᵀ``), which none of these metrics sees, so blocks are
at most ``n × n``.  A replicate never touches the samples again: its cost is ``C`` block sums
of ``p × q`` plus one ``p × q`` SVD (or ``p × p`` eigendecomposition).

Values equal the metric functions on explicitly resampled, concatenated arrays to rounding
(tested to 1e-10), including repeated conditions, leave-out weights and permutations.
:func:`metric_from_moments` says which metric calls have this fast path; everything else
keeps the general path (recompute on the resampled arrays).

Examples
--------
>>> import numpy as np
>>> from neurosim.metrics import procrustes_distance
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(4 * 10, 3)), rng.normal(size=(4 * 10, 5))   # 4 conditions × 10 bins
>>> blocks = ConditionBlocks(X, Y, 4)
>>> f = metric_from_moments(procrustes_distance)
>>> draw = np.array([0, 0, 2, 3])                       # a bootstrap draw with a repeat
>>> rows = np.concatenate([np.arange(10 * c, 10 * c + 10) for c in draw])
>>> fast = f(blocks.moments(weights=np.bincount(draw, minlength=4)))
>>> bool(abs(fast - procrustes_distance(X[rows], Y[rows])) < 1e-12)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurosim.metrics._validate import check_alpha, check_choice, check_matrix, check_nonzero, clip_unit
from neurosim.metrics.cca import _check_n_components, _check_reg, cca_similarity
from neurosim.metrics.cka import cka
from neurosim.metrics.shape import (
    _check_kind,
    _compress,
    _distance_from_parts,
    _svd,
    cca_distance,
    procrustes_distance,
    shape_distance,
)

__all__ = [
    "Moments",
    "ConditionBlocks",
    "UnitCovariance",
    "metric_from_moments",
    "fitted_shape_score",
    "shape_from_moments",
    "cca_from_moments",
    "cka_from_moments",
    "condition_folds",
]

_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- folds
def condition_folds(n: int, folds: int | str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs over ``n`` conditions: ``"loo"`` or ``k`` contiguous folds.

    The same folds as ``sklearn.model_selection.KFold(k)`` (no shuffling; the first
    ``n % k`` folds hold one extra condition) and as ``compare(..., cv=k)`` and ridge predictivity's
    condition folds.

    Examples
    --------
    >>> [t.tolist() for _, t in condition_folds(5, 2)]
    [[0, 1, 2], [3, 4]]
    """
    k = n if folds == "loo" else int(folds)
    if not 2 <= k <= n:
        raise ValueError(f"{k} folds need between 2 and {n} conditions; got {n} conditions.")
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    out, start = [], 0
    for size in sizes:
        test = np.arange(start, start + size)
        out.append((np.setdiff1d(np.arange(n), test), test))
        start += size
    return out


# --------------------------------------------------------------------------- moments
@dataclass(frozen=True)
class Moments:
    """Centred second moments of a (resampled) pair ``X`` (n, p), ``Y`` (n, q).

    Attributes
    ----------
    n : float
        Number of samples (rows of the resampled arrays).
    mean_x, mean_y : ndarray (p,), (q,)
        Weighted means (in the possibly reduced basis of :class:`ConditionBlocks`).
    xy : ndarray (p, q)
        ``Σ (x − c_x)(y − c_y)ᵀ`` about the centres ``c`` (the means unless given).
    xx, yy : ndarray (p, p), (q, q) or None
        The same for each side (None when only traces were asked for).
    tr_xx, tr_yy : float
        Traces of ``xx`` and ``yy`` (``‖Xc‖_F²``, ``‖Yc‖_F²``).
    p, q : int
        Feature counts of the original arrays (they set the rank tolerance, as in
        the metric functions).
    """

    n: float
    mean_x: np.ndarray
    mean_y: np.ndarray
    xy: np.ndarray
    xx: np.ndarray | None
    yy: np.ndarray | None
    tr_xx: float
    tr_yy: float
    p: int
    q: int


def _check_groups(groups, n: int) -> np.ndarray:
    """Condition index of every sample: ``groups`` = C (equal contiguous blocks) or labels."""
    if isinstance(groups, (int, np.integer)) and not isinstance(groups, bool):
        C = int(groups)
        if C < 1 or n % C:
            raise ValueError(
                f"groups={C} conditions must divide the {n} samples into equal contiguous blocks "
                "(condition-major flattening); pass one label per sample for unequal groups"
            )
        return np.repeat(np.arange(C), n // C)
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size != n:
        raise ValueError(f"groups must be a number of conditions or one label per sample ({n}), got shape {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.intp)


def _reduce(X: np.ndarray) -> np.ndarray:
    """``X`` itself, or an (n, n) matrix equal to it up to a right rotation when p > n."""
    return _compress(X) if X.shape[1] > X.shape[0] else X


class ConditionBlocks:
    """Per-condition blocks of a pair ``X`` (n, p), ``Y`` (n, q), for fast resampling.

    Computes once, for every condition ``c``, the within-condition centred blocks
    ``Ẋ_cᵀẎ_c``, ``Ẋ_cᵀẊ_c``, ``Ẏ_cᵀẎ_c``, the condition means and counts (and, with
    ``cross=True``, the ``C × C`` cross blocks ``Ẋ_aᵀẎ_b`` for permutations).
    :meth:`moments` then gives the centred moments of any reweighting / re-pairing of
    the conditions without touching the samples.

    Parameters
    ----------
    X, Y : array_like, shape (samples, p), (samples, q)
        Model and data, rows in the same order.
    groups : int or array_like of labels
        ``C`` (the rows are ``C`` equal contiguous condition blocks, as
        condition-major flattening gives) or one condition label per row.
    cross : bool
        Also compute the cross-condition blocks (needed by ``pairing=``); all
        conditions must then have the same number of samples.
    max_bytes : int
        Refuse (ValueError) to store more than this many bytes of blocks; the caller
        should then use the general path.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 4))
    >>> mo = ConditionBlocks(X, Y, 3).moments()
    >>> Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    >>> bool(np.allclose(mo.xy, Xc.T @ Yc)), mo.n
    (True, 30.0)
    """

    def __init__(self, X, Y, groups, *, cross: bool = False, max_bytes: int = 2**30):
        X = check_matrix(X, "X")
        Y = check_matrix(Y, "Y")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y must have the same number of samples (rows), got {X.shape[0]} and {Y.shape[0]}")
        n = X.shape[0]
        g = _check_groups(groups, n)
        C = int(g.max()) + 1
        self.p, self.q = int(X.shape[1]), int(Y.shape[1])
        Xr, Yr = _reduce(X), _reduce(Y)
        pr, qr = Xr.shape[1], Yr.shape[1]
        nblocks = C * (pr * pr + qr * qr) + (C * C if cross else C) * pr * qr
        if 8 * nblocks > max_bytes:
            raise ValueError(
                f"the condition blocks would take {8 * nblocks / 2**20:.0f} MiB (> max_bytes={max_bytes}); "
                "use the general path (recompute on resampled arrays) or raise max_bytes"
            )
        self.n_conditions = C
        self.counts = np.bincount(g, minlength=C).astype(np.float64)
        rows = [np.flatnonzero(g == c) for c in range(C)]
        self.mean_x = np.stack([Xr[r].mean(axis=0) for r in rows])
        self.mean_y = np.stack([Yr[r].mean(axis=0) for r in rows])
        Dx = [Xr[r] - self.mean_x[c] for c, r in enumerate(rows)]
        Dy = [Yr[r] - self.mean_y[c] for c, r in enumerate(rows)]
        self._dx, self._dy = Dx, Dy  # kept for the within-side blocks, formed on first use
        self._wxx = self._wyy = None
        self.tr_wxx = np.array([float(np.vdot(d, d)) for d in Dx])
        self.tr_wyy = np.array([float(np.vdot(d, d)) for d in Dy])
        self.cross = bool(cross)
        if cross:
            if np.unique(self.counts).size != 1:
                raise ValueError(
                    "cross=True pairs conditions sample by sample, so every condition needs the same number "
                    f"of samples; got counts {self.counts.astype(int).tolist()}"
                )
            T = int(self.counts[0])
            # one product: (T, C·p)ᵀ (T, C·q) holds every Ẋ_aᵀẎ_b
            Ax = np.stack(Dx, axis=1).reshape(T, C * pr)
            Ay = np.stack(Dy, axis=1).reshape(T, C * qr)
            self.wxy_cross = np.ascontiguousarray((Ax.T @ Ay).reshape(C, pr, C, qr).transpose(0, 2, 1, 3))
            self.wxy = np.ascontiguousarray(self.wxy_cross[np.arange(C), np.arange(C)])
        else:
            self.wxy = np.stack([dx.T @ dy for dx, dy in zip(Dx, Dy)])

    @property
    def wxx(self) -> np.ndarray:
        """``Ẋ_cᵀẊ_c`` for every condition, (C, p, p) (computed on first use: Procrustes needs only traces)."""
        if self._wxx is None:
            self._wxx = np.stack([d.T @ d for d in self._dx])
        return self._wxx

    @property
    def wyy(self) -> np.ndarray:
        """``Ẏ_cᵀẎ_c`` for every condition, (C, q, q) (computed on first use)."""
        if self._wyy is None:
            self._wyy = np.stack([d.T @ d for d in self._dy])
        return self._wyy

    # -- resampling
    def _weights(self, weights) -> np.ndarray:
        C = self.n_conditions
        if weights is None:
            return np.ones(C)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (C,):
            raise ValueError(f"weights must have one entry per condition ({C}), got shape {w.shape}")
        if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
            raise ValueError("weights must be finite, >= 0 and not all zero (counts of each condition in the resample)")
        return w

    def _pairing(self, pairing) -> np.ndarray | None:
        if pairing is None:
            return None
        a = np.asarray(pairing)
        C = self.n_conditions
        if a.shape != (C,) or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= C:
            raise ValueError(f"pairing must give, for each of the {C} data conditions, a model condition index in [0, {C})")
        if not self.cross and not np.array_equal(a, np.arange(C)):
            raise ValueError("pairing other conditions needs the cross blocks; build ConditionBlocks(..., cross=True)")
        return a

    def moments(self, weights=None, pairing=None, *, center=None, full: bool = True) -> Moments:
        """Centred moments of the resample that takes data condition ``c`` ``weights[c]`` times,
        paired with model condition ``pairing[c]``.

        Parameters
        ----------
        weights : array_like (C,), optional
            How often each (data) condition enters: bootstrap counts, 0/1 for
            leave-out folds. Default: every condition once.
        pairing : array_like of int (C,), optional
            Model condition paired with each data condition (a permutation for a null
            distribution). Default: the identity. Needs ``cross=True``.
        center : (c_x, c_y), optional
            Take the moments about these centres instead of the resample's means (to
            score held-out conditions with a fit's training means).
        full : bool
            Also form ``xx`` and ``yy`` (not only their traces).

        Returns
        -------
        Moments
        """
        w = self._weights(weights)
        a = self._pairing(pairing)
        nz = np.flatnonzero(w)
        w_nz = w[nz]
        ax = nz if a is None else a[nz]          # model condition of each used slot
        g = w_nz * self.counts[nz]
        n = float(g.sum())
        mx, my = self.mean_x[ax], self.mean_y[nz]
        mean_x, mean_y = g @ mx / n, g @ my / n
        cx, cy = (mean_x, mean_y) if center is None else (np.asarray(center[0]), np.asarray(center[1]))
        Dx, Dy = mx - cx, my - cy
        gDx = Dx * g[:, None]
        if a is None:  # zero weights cost less in one product than a copy of the used blocks
            xy = np.tensordot(w, self.wxy, axes=1)
        else:
            xy = np.tensordot(w_nz, self.wxy_cross[ax, nz], axes=1)
        xy += gDx.T @ Dy
        tr_xx = float(w_nz @ self.tr_wxx[ax] + np.sum(gDx * Dx))
        tr_yy = float(w_nz @ self.tr_wyy[nz] + g @ np.einsum("ij,ij->i", Dy, Dy))
        xx = yy = None
        if full:
            xx = np.tensordot(w_nz, self.wxx[ax], axes=1) + gDx.T @ Dx
            yy = np.tensordot(w_nz, self.wyy[nz], axes=1) + (Dy * g[:, None]).T @ Dy
        return Moments(n, mean_x, mean_y, xy, xx, yy, tr_xx, tr_yy, self.p, self.q)


class UnitCovariance:
    """Centred covariance of all units of one array, for fast unit splits (split-half ceilings).

    ``G = FcᵀFc`` is computed once; comparing units ``A`` with units ``B`` of the same
    samples needs only ``G[A, B]``, ``G[A, A]`` and ``G[B, B]``.

    Parameters
    ----------
    F : array_like, shape (samples, units)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import procrustes_distance
    >>> F = np.random.default_rng(2).normal(size=(50, 8))
    >>> mo = UnitCovariance(F).moments([0, 1, 2], [5, 6, 7])
    >>> f = metric_from_moments(procrustes_distance)
    >>> bool(abs(f(mo) - procrustes_distance(F[:, :3], F[:, 5:])) < 1e-12)
    True
    """

    def __init__(self, F):
        F = check_matrix(F, "F")
        self.n = float(F.shape[0])
        self.mean = F.mean(axis=0)
        Fc = F - self.mean
        self.cov = Fc.T @ Fc
        self.n_units = F.shape[1]

    def moments(self, a_units, b_units, *, full: bool = True) -> Moments:
        """Moments of ``X = F[:, a_units]`` against ``Y = F[:, b_units]``."""
        a = np.asarray(a_units, dtype=np.intp)
        b = np.asarray(b_units, dtype=np.intp)
        if a.ndim != 1 or b.ndim != 1 or a.size == 0 or b.size == 0:
            raise ValueError("a_units and b_units must be non-empty 1-D lists of unit indices")
        G = self.cov
        xx = G[a][:, a] if full else None
        yy = G[b][:, b] if full else None
        tr_xx = float(G[a, a].sum())  # fancy indexing with (a, a) picks the diagonal
        tr_yy = float(G[b, b].sum())
        return Moments(self.n, self.mean[a], self.mean[b], G[a][:, b], xx, yy, tr_xx, tr_yy, a.size, b.size)


# --------------------------------------------------------------------------- decompositions
def _singular_values(M: np.ndarray) -> np.ndarray:
    return _svd(M, compute_uv=False)


def _eig_desc(S: np.ndarray):
    import scipy.linalg  # imported on first use: measured import cost (~0.2 s of import neurosim)

    try:
        w, V = scipy.linalg.eigh(S, check_finite=False)
    except np.linalg.LinAlgError as exc:  # pragma: no cover - pathological input
        raise ValueError(f"the eigendecomposition did not converge on this input ({exc})") from exc
    return w[::-1], V[:, ::-1]


def _kept_spectrum(S: np.ndarray, n: float, p: int):
    """Eigenvectors and singular values of ``Xc`` from ``S = XcᵀXc``, rank-truncated as in
    :func:`neurosim.metrics.shape._thin_svd` (``s² <= 10·max(n, p)·eps·s_max²`` is zero)."""
    w, V = _eig_desc(S)
    keep = w > max(w[0], 0.0) * 10.0 * max(int(round(n)), p) * _EPS
    return V[:, keep], np.sqrt(w[keep])


def _whitened_cross(mo: Moments, alpha: float):
    """``(M, ‖A‖_F, ‖B‖_F)`` whose nuclear norm is the shape metric's ``‖AᵀB‖_*``."""
    if alpha == 1.0:
        return mo.xy, float(np.sqrt(mo.tr_xx)), float(np.sqrt(mo.tr_yy))
    Vx, sx = _kept_spectrum(mo.xx, mo.n, mo.p)
    Vy, sy = _kept_spectrum(mo.yy, mo.n, mo.q)
    tx, ty = alpha * sx + (1.0 - alpha), alpha * sy + (1.0 - alpha)
    tx *= np.sqrt(np.sum(sx**2) / np.sum(tx**2))
    ty *= np.sqrt(np.sum(sy**2) / np.sum(ty**2))
    M = ((tx / sx)[:, None] * (Vx.T @ mo.xy @ Vy)) * (ty / sy)[None, :]
    return M, float(np.linalg.norm(tx)), float(np.linalg.norm(ty))


def _check_moments(mo: Moments, need_full: bool) -> None:
    check_nonzero(float(np.sqrt(max(mo.tr_xx, 0.0))), "X", "after centering")
    check_nonzero(float(np.sqrt(max(mo.tr_yy, 0.0))), "Y", "after centering")
    if need_full and (mo.xx is None or mo.yy is None):
        raise ValueError("this metric needs the full moments; compute them with full=True")


# --------------------------------------------------------------------------- metrics
def shape_from_moments(mo: Moments, *, alpha: float = 1.0, kind: str = "angular", normalize: bool = False) -> float:
    r"""Generalized shape distance from centred moments; equals :func:`~neurosim.metrics.shape_distance`.

    ``alpha = 1``: ``arccos(‖Sxy‖_* / sqrt(tr Sxx · tr Syy))`` (angular) or
    ``sqrt(tr Sxx + tr Syy − 2‖Sxy‖_*)`` (euclidean).  ``alpha < 1``: the same with
    ``Sxy`` replaced by ``diag(t_x/s_x) V_xᵀ Sxy V_y diag(t_y/s_y)`` where
    ``Sxx = V_x diag(s_x²) V_xᵀ`` and ``t = alpha·s + (1 − alpha)`` rescaled to
    ``‖t‖ = ‖s‖`` (the partial whitening of the shape metric).  Distance, lower = closer.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import shape_distance
    >>> X = np.random.default_rng(3).normal(size=(40, 3))
    >>> Y = X @ np.random.default_rng(4).normal(size=(3, 3))
    >>> mo = ConditionBlocks(X, Y, 4).moments()
    >>> bool(abs(shape_from_moments(mo, alpha=0.5) - shape_distance(X, Y, alpha=0.5)) < 1e-12)
    True
    """
    kind = _check_kind(kind, normalize)
    alpha = check_alpha(alpha)
    _check_moments(mo, alpha != 1.0)
    M, na, nb = _whitened_cross(mo, alpha)
    return _distance_from_parts(float(np.sum(_singular_values(M))), na, nb, kind, normalize)


def cca_from_moments(mo: Moments, *, kind: str = "mean", n_components=None, reg: float = 0.0) -> float:
    r"""Mean (or mean squared) canonical correlation from centred moments; equals
    :func:`~neurosim.metrics.cca_similarity` with ``kind="mean"`` / ``"mean_squared"``.

    ``ρ = σ( diag(g_x/s_x) V_xᵀ Sxy V_y diag(g_y/s_y) )`` with ``Sxx = V_x diag(s_x²) V_xᵀ``
    (rank-truncated) and ridge factors ``g = s / sqrt(s² + (n−1)·reg)`` (1 without ridge).
    Similarity, higher = closer.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import cca_similarity
    >>> rng = np.random.default_rng(5)
    >>> X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 4))
    >>> mo = ConditionBlocks(X, Y, 6).moments()
    >>> bool(abs(cca_from_moments(mo) - cca_similarity(X, Y)) < 1e-12)
    True
    """
    kind = check_choice(kind, ("mean", "mean_squared"), "kind")
    reg = _check_reg(reg)
    _check_moments(mo, True)
    Vx, sx = _kept_spectrum(mo.xx, mo.n, mo.p)
    Vy, sy = _kept_spectrum(mo.yy, mo.n, mo.q)
    gx = sx / np.sqrt(sx**2 + (mo.n - 1) * reg) if reg > 0 else np.ones_like(sx)
    gy = sy / np.sqrt(sy**2 + (mo.n - 1) * reg) if reg > 0 else np.ones_like(sy)
    M = ((gx / sx)[:, None] * (Vx.T @ mo.xy @ Vy)) * (gy / sy)[None, :]
    rho = np.clip(_singular_values(M), 0.0, 1.0)
    rho = rho[: _check_n_components(n_components, rho.size)]
    return float(np.mean(rho**2)) if kind == "mean_squared" else float(np.mean(rho))


def cka_from_moments(mo: Moments) -> float:
    r"""Linear CKA (biased HSIC) from centred moments: ``‖Sxy‖_F² / (‖Sxx‖_F ‖Syy‖_F)``.

    Equals :func:`~neurosim.metrics.cka` with the default ``kernel="linear", debiased=False``.
    Similarity, 1 = identical up to rotation and isotropic scale.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import cka
    >>> rng = np.random.default_rng(6)
    >>> X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    >>> bool(abs(cka_from_moments(ConditionBlocks(X, Y, 2).moments()) - cka(X, Y)) < 1e-12)
    True
    """
    _check_moments(mo, True)
    xy = float(np.sum(mo.xy**2))
    return float(xy / np.sqrt(float(np.sum(mo.xx**2)) * float(np.sum(mo.yy**2))))


def _options(options: dict, allowed: dict) -> dict | None:
    """The options with defaults filled in, or None when an option has no fast path."""
    out = dict(allowed)
    for key, val in options.items():
        if key not in allowed:
            return None
        out[key] = val
    return out


def metric_from_moments(func: Callable, **options) -> Callable[[Moments], float] | None:
    """The moments version of ``func(X, Y, **options)``, or None when it has no fast path.

    Fast paths: :func:`~neurosim.metrics.shape_distance`, ``procrustes_distance`` and
    ``cca_distance`` with ``center=True`` (any ``alpha``, ``kind``, ``normalize``);
    :func:`~neurosim.metrics.cca_similarity` with ``kind="mean"`` or ``"mean_squared"``
    (``n_components``, ``reg``); :func:`~neurosim.metrics.cka` with ``kernel="linear"``,
    ``debiased=False``.  Options are validated when the returned function is called.

    Examples
    --------
    >>> from neurosim.metrics import cka, procrustes_distance
    >>> metric_from_moments(procrustes_distance, normalize=True) is not None
    True
    >>> metric_from_moments(cka, kernel="rbf") is None
    True
    """
    if func in (shape_distance, procrustes_distance, cca_distance):
        fixed = {procrustes_distance: 1.0, cca_distance: 0.0}.get(func)
        allowed = {"kind": "angular", "center": True, "normalize": False}
        if fixed is None:
            allowed["alpha"] = 1.0
        opts = _options(options, allowed)
        if opts is None or opts.pop("center") is not True:
            return None
        alpha = fixed if fixed is not None else opts.pop("alpha")

        def shape_fn(mo: Moments) -> float:
            return shape_from_moments(mo, alpha=alpha, **opts)

        shape_fn.full = alpha != 1.0  # Procrustes needs only the traces of xx and yy
        return shape_fn
    if func is cca_similarity:
        opts = _options(options, {"kind": "mean", "n_components": None, "reg": 0.0, "keep": 0.99, "center": True})
        if opts is None or opts.pop("center") is not True or opts["kind"] not in ("mean", "mean_squared"):
            return None
        opts.pop("keep")

        def cca_fn(mo: Moments) -> float:
            return cca_from_moments(mo, **opts)

        cca_fn.full = True
        return cca_fn
    if func is cka:
        opts = _options(options, {"kernel": "linear", "debiased": False, "sigma": None})
        if opts is None or opts["kernel"] != "linear" or opts["debiased"] is not False or opts["sigma"] is not None:
            return None
        return cka_from_moments
    return None


cka_from_moments.full = True


# --------------------------------------------------------------------------- fitted alignment (CV)
def fitted_shape_score(
    train: Moments, test: Moments, *, alpha: float = 1.0, kind: str = "angular", normalize: bool = False
) -> float:
    r"""Held-out score of a shape alignment fitted on ``train``; equals
    ``ShapeMetric(alpha, kind, normalize=normalize).fit(X_train, Y_train).score(X_test, Y_test)``.

    ``test`` must hold the held-out moments about the *training* means
    (``ConditionBlocks.moments(weights=test, center=(train.mean_x, train.mean_y))``).
    With the whitening ``W = V diag(t/s) Vᵀ`` of each training side and the rotation
    ``O = U Vᵀ`` (polar factor of ``W_xᵀ Sxy_train W_y = U Σ Vᵀ``), the aligned held-out
    data have inner product ``⟨W_x Sxy_test W_y, O⟩`` and norms ``tr(W Sxx_test W)``;
    angular: ``arccos`` of their ratio, euclidean: ``sqrt(‖A‖² + ‖B‖² − 2⟨·,·⟩)``.
    The rotation is unique when the whitened training cross-product has full rank
    ``min(p, q)``; otherwise the estimator's choice (LAPACK's completion) is arbitrary and
    only this fast path's value is reproducible.  Distance, lower = closer.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.metrics import ShapeMetric
    >>> rng = np.random.default_rng(7)
    >>> X = rng.normal(size=(50, 3)); Y = X @ rng.normal(size=(3, 4)) + 0.3 * rng.normal(size=(50, 4))
    >>> b = ConditionBlocks(X, Y, 5)
    >>> tr = b.moments(weights=[1, 1, 1, 1, 0])
    >>> te = b.moments(weights=[0, 0, 0, 0, 1], center=(tr.mean_x, tr.mean_y))
    >>> naive = ShapeMetric().fit(X[:40], Y[:40]).score(X[40:], Y[40:])
    >>> bool(abs(fitted_shape_score(tr, te) - naive) < 1e-12)
    True
    """
    kind = _check_kind(kind, normalize)
    alpha = check_alpha(alpha)
    _check_moments(train, alpha != 1.0)
    if alpha == 1.0:
        M = train.xy
        Cxy, nx2, ny2 = test.xy, test.tr_xx, test.tr_yy
    else:
        if test.xx is None or test.yy is None:
            raise ValueError("alpha < 1 needs the full held-out moments; compute them with full=True")
        Wx = _whitening_matrix(train.xx, train.n, train.p, alpha)
        Wy = _whitening_matrix(train.yy, train.n, train.q, alpha)
        M = Wx @ train.xy @ Wy
        Cxy = Wx @ test.xy @ Wy
        nx2 = float(np.sum((Wx @ test.xx) * Wx))
        ny2 = float(np.sum((Wy @ test.yy) * Wy))
    U, _, Vt = _svd(M)
    inner = float(np.sum(Cxy * (U @ Vt)))
    na, nb = float(np.sqrt(max(nx2, 0.0))), float(np.sqrt(max(ny2, 0.0)))
    if kind == "angular":
        check_nonzero(na, "X", "after the fitted alignment")
        check_nonzero(nb, "Y", "after the fitted alignment")
        theta = float(np.arccos(clip_unit(inner / (na * nb))))
        return theta / (np.pi / 2) if normalize else theta
    return float(np.sqrt(max(nx2 + ny2 - 2.0 * inner, 0.0)))


def _whitening_matrix(S: np.ndarray, n: float, p: int, alpha: float) -> np.ndarray:
    """``V diag(t/s) Vᵀ`` over the kept directions of ``S = XcᵀXc`` (as ``ShapeMetric`` builds it)."""
    V, s = _kept_spectrum(S, n, p)
    t = alpha * s + (1.0 - alpha)
    t *= np.sqrt(np.sum(s**2) / np.sum(t**2))
    return (V * (t / s)) @ V.T
