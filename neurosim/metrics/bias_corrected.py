r"""Finite-trial bias correction of mean-based similarity (Procrustes distance, linear CKA).

Mean-based metrics compare the condition means ``M_x`` (C × p) and ``M_y`` (C × q).  From
``r`` noisy trials per condition one only has the trial averages ``X̄ = M_x + U`` (row ``c`` of
``U`` has covariance ``Σ_c / r``), and the *plug-in* value -- the metric on ``X̄, Ȳ`` -- is
biased: noise adds ``Σ_c tr Σ_c / r`` to every squared norm and the rotation fitted to noisy
means over-fits, so two noisy copies of one representation look far apart.

The estimators here correct the moments the metrics are made of (after Pospisil, Larsen,
Harvey & Williams, "Estimating shape distances on neural representations with limited
samples", ICLR 2024).  With ``H`` the centring matrix (``I`` with ``center=False``),
``A = H M_x``, ``B = H M_y``, ``Z = AᵀB``, ``Ẑ = X̄ᵀHȲ`` (unbiased for ``Z`` when the noise
of X and Y is independent), ``Σ̂_c`` the unbiased within-condition covariance and
``d_c = tr Σ̂^x_c / r_x``:

* ``‖A‖_F²`` by ``‖H X̄‖_F² − Σ_c H_cc d_c`` (unbiased; same for ``‖B‖_F²``).
* ``tr ZᵀZ`` by ``tr[ẐᵀẐ − (HȲ)ᵀ D (HȲ) − Σ_c ((HX̄X̄ᵀH)_cc − (HDH)_cc) Σ̂^y_c / r_y]`` with
  ``D = diag(d)`` (unbiased), averaged with the same expression with X and Y swapped.
* ``‖AᵀA‖_F²`` by ``⟨Ŵ₁, Ŵ₂⟩_F``, ``Ŵ_h = X̄_hᵀHX̄_h − Σ_c H_cc Σ̂_{h,c}/r_h`` from two
  disjoint halves of the trials (unbiased), averaged over ``n_splits`` splits.
* the nuclear norm ``‖Z‖_* = max_Q tr(ZQ)`` by ``‖Ẑ‖_*`` minus its optimism (the gain of
  fitting ``Q`` to noise).  To second order in the noise, with ``Ẑ = U S Vᵀ`` and
  ``W = Uᵀ(Ẑ − Z)V``, ``E‖Ẑ‖_* − ‖Z‖_* = Σ_{i<j} E(W_ij − W_ji)² / (2(s_i + s_j))``; the
  variances come from a grouped delete-one-trial jackknife of ``Ẑ`` (separately over the
  trials of X and of Y, summed), ``s`` from ``Ẑ``.

Then Procrustes, euclidean ``d̂ = sqrt(max(0, ‖A‖² + ‖B‖² − 2‖Z‖_*))``, angular
``θ̂ = arccos(‖Z‖_* / (‖A‖ ‖B‖))``; linear CKA ``tr ZᵀZ / (‖AᵀA‖_F ‖BᵀB‖_F)``.  The squared
norms and ``tr ZᵀZ`` are unbiased; the nuclear norm is corrected to second order; the square
root, the arccos, the ratio and the clips leave a smaller bias (``docs/metrics.md`` gives its
size on simulations).

Relation to Pospisil et al.: they treat stimuli as random samples and estimate the
eigen-moments ``tr (ZᵀZ)^k``, ``k = 1..K``, without bias by U-statistics over distinct
stimuli, then approximate the square root by a polynomial chosen for a bias/variance
trade-off.  Here the conditions are fixed and the trials are few: an unbiased ``k``-th moment
would need ``2k`` trials per condition, and the square root of the unbiased second moment
alone under-estimates ``‖Z‖_*`` (eigenvalue spread), so the nuclear norm is corrected by the
second-order expansion above instead.  Where it applies: at least as many conditions
(``C − 1`` after centring) as units on each side; with more units than conditions the
expansion over-corrects and a ``ValueError`` says so.

Variance: a grouped delete-one-trial jackknife of the whole estimator, separately over the
trials of X and of Y (removing trial ``g`` from every condition), summed (X and Y are
independent).

Assumption: the trial-to-trial noise of X is independent of that of Y (a model against
recordings, two animals, two sessions).  Simultaneously recorded populations share trial
noise; compare them on disjoint trials.  Identical inputs (``X`` equal to ``Y``) are the
one shared-noise case handled: their true means are identical, so the value is exactly the
identity (distance 0, CKA 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.metrics._validate import check_choice, check_count, check_flag, check_seed
from neurosim.metrics.shape import procrustes_distance
from neurosim.metrics.cka import cka
from neurosim.metrics.dynamics import _one_blas_thread
from neurosim.metrics.stochastic import TRIAL_INPUT, _check_trial_pair

__all__ = [
    "BiasCorrectedEstimate",
    "bias_corrected_procrustes_distance",
    "bias_corrected_cka",
    "bias_corrected_estimate",
]

_MEASURES = ("procrustes", "cka")
_KINDS = ("angular", "euclidean")


# --------------------------------------------------------------------------- moments
class _Side:
    """Trial means, the centred means and the per-condition noise of one system."""

    def __init__(self, X: np.ndarray, center: bool):
        C, r, _ = X.shape
        self.r = r
        self.mean = X.mean(axis=1)
        self.resid = X - self.mean[:, None, :]
        self.A = self.mean - self.mean.mean(axis=0) if center else self.mean  # H X̄
        # d_c = tr Σ̂_c / r  (noise variance of the trial mean, summed over units)
        self.d = np.einsum("ctu,ctu->c", self.resid, self.resid) / ((r - 1) * r)
        self.h_diag = np.full(C, 1.0 - 1.0 / C) if center else np.ones(C)  # H_cc
        # diag(H D H) = (1 - 2/C) d + Σd / C²  (centred), d otherwise
        self.hdh_diag = (1.0 - 2.0 / C) * self.d + self.d.sum() / C**2 if center else self.d

    def sq_norm(self) -> float:
        """Unbiased ``‖H M‖_F²``."""
        return float(np.sum(self.A**2) - np.sum(self.h_diag * self.d))

    def weighted_cov(self, w: np.ndarray) -> np.ndarray:
        """``Σ_c w_c Σ̂_c / r`` (unit × unit)."""
        scale = w / ((self.r - 1) * self.r)
        return np.einsum("ctu,c,ctv->uv", self.resid, scale, self.resid, optimize=True)


def _cross_second_moment(sx: _Side, sy: _Side) -> np.ndarray:
    """Unbiased estimate of ``ZᵀZ`` (q × q), ``Z = (H M_x)ᵀ (H M_y)``."""
    Z = sx.A.T @ sy.A
    w = np.sum(sx.A**2, axis=1) - sx.hdh_diag  # unbiased (H M_x M_xᵀ H)_cc
    return Z.T @ Z - (sy.A.T * sx.d) @ sy.A - sy.weighted_cov(w)


def _gram_square(X: np.ndarray, center: bool, n_splits: int, seed) -> float:
    """Unbiased ``‖(HM)ᵀ(HM)‖_F²`` from two disjoint halves of the trials, averaged over splits."""
    r = X.shape[1]
    rng = np.random.default_rng(seed)
    total = 0.0
    for s in range(n_splits):
        order = np.arange(r) if s == 0 else rng.permutation(r)
        halves = (order[: r // 2], order[r // 2:])
        W = []
        for idx in halves:
            side = _Side(X[:, idx], center)
            W.append(side.A.T @ side.A - side.weighted_cov(side.h_diag))
        total += float(np.sum(W[0] * W[1]))
    return total / n_splits


def _cross(X: np.ndarray, Y: np.ndarray, center: bool, n: int) -> np.ndarray:
    """``Ẑ = (H X̄)ᵀ (H Ȳ)``, zero-padded to ``n × n`` (unbiased for ``Z`` under independent noise)."""
    a, b = X.mean(axis=1), Y.mean(axis=1)
    if center:
        a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    Z = np.zeros((n, n))
    Z[: a.shape[1], : b.shape[1]] = a.T @ b
    return Z


def _nuclear_norm_corrected(X: np.ndarray, Y: np.ndarray, center: bool) -> float:
    """``‖Ẑ‖_*`` minus its second-order optimism (module docstring)."""
    n = max(X.shape[2], Y.shape[2])
    Z = _cross(X, Y, center, n)
    U, s, Vt = np.linalg.svd(Z)
    var = np.zeros((n, n))
    for side in (0, 1):
        A = (X, Y)[side]
        r = A.shape[1]
        K = np.empty((r, n, n))
        for g in range(r):
            keep = np.delete(A, g, axis=1)
            D = U.T @ (_cross(keep, Y, center, n) if side == 0 else _cross(X, keep, center, n)) @ Vt.T
            K[g] = D - D.T
        var += (r - 1) / r * np.sum((K - K.mean(axis=0)) ** 2, axis=0)
    den = s[:, None] + s[None, :]
    iu = np.triu_indices(n, k=1)
    ok = den[iu] > 1e-12 * max(float(s[0]), np.finfo(float).tiny)
    optimism = float(np.sum(var[iu][ok] / (2.0 * den[iu][ok])))
    return float(s.sum()) - optimism


def _no_signal(name: str, value: float) -> ValueError:
    return ValueError(
        f"{name}: the noise-corrected variance of the condition means is {value:.3g} <= 0, i.e. the means "
        "cannot be told apart from trial noise at this trial count; record more trials or compare more "
        "distinct conditions"
    )


def _same(X: np.ndarray, Y: np.ndarray) -> bool:
    """Identical trials: the true means are identical (and the noise is shared, not independent)."""
    return X.shape == Y.shape and bool(np.array_equal(X, Y))


def _procrustes_value(X, Y, kind, center, normalize) -> float:
    if _same(X, Y):
        return 0.0
    na2, nb2 = _Side(X, center).sq_norm(), _Side(Y, center).sq_norm()
    nuc = _nuclear_norm_corrected(X, Y, center)
    if kind == "euclidean":
        return float(np.sqrt(max(na2 + nb2 - 2.0 * nuc, 0.0)))
    for v, name in ((na2, "X"), (nb2, "Y")):
        if not v > 0.0:
            raise _no_signal(name, v)
    theta = float(np.arccos(np.clip(nuc / np.sqrt(na2 * nb2), -1.0, 1.0)))
    return theta / (np.pi / 2) if normalize else theta


def _cka_value(X, Y, center, n_splits, seed) -> float:
    if _same(X, Y):
        return 1.0
    sx, sy = _Side(X, center), _Side(Y, center)
    num = 0.5 * (np.trace(_cross_second_moment(sx, sy)) + np.trace(_cross_second_moment(sy, sx)))
    gx = _gram_square(X, center, n_splits, seed)
    gy = _gram_square(Y, center, n_splits, seed)
    for v, name in ((gx, "X"), (gy, "Y")):
        if not v > 0.0:
            raise _no_signal(name, v)
    return float(num / np.sqrt(gx * gy))


# --------------------------------------------------------------------------- public API
def _validate(X, Y, min_trials: int, why: str):
    X, Y = _check_trial_pair(X, Y)
    if X.shape[0] < 2:
        raise ValueError(f"X and Y need at least 2 conditions, got {X.shape[0]}")
    for A, name in ((X, "X"), (Y, "Y")):
        if A.shape[1] < min_trials:
            raise ValueError(f"{name} has {A.shape[1]} trials per condition; {why} needs at least {min_trials}")
    return X, Y


def _check_units(X: np.ndarray, Y: np.ndarray, center: bool) -> None:
    limit = X.shape[0] - int(center)
    for A, name in ((X, "X"), (Y, "Y")):
        if A.shape[2] > limit:
            raise ValueError(
                f"{name} has {A.shape[2]} units but only {X.shape[0]} conditions: the corrected Procrustes "
                f"distance needs at most {limit} units per side (conditions{' - 1 after centring' if center else ''}); "
                "with more units than conditions its second-order correction over-corrects. Reduce the units "
                "(e.g. principal components fitted on other trials), add conditions or time points, or use "
                "bias_corrected_cka"
            )


def bias_corrected_procrustes_distance(X, Y, *, kind: str = "angular", center: bool = True,
                                       normalize: bool = False) -> float:
    r"""Procrustes distance between condition means, corrected for the noise of finite trials.

    Estimates the distance :func:`~neurosim.metrics.procrustes_distance` would give on the
    *true* condition means, from single trials (module docstring): unbiased ``‖A‖²``,
    ``‖B‖²`` and the nuclear norm ``‖AᵀB‖_*`` corrected for the over-fitted rotation to
    second order, then ``θ̂ = arccos(‖AᵀB‖_* / (‖A‖ ‖B‖))`` or
    ``d̂ = sqrt(‖A‖² + ‖B‖² − 2‖AᵀB‖_*)``.

    Parameters
    ----------
    X, Y : array_like, shape (condition, trial, unit)
        Single trials (at least 2 per condition; trial counts of X and Y may differ; unit
        counts may differ but not exceed the number of conditions, minus 1 when centring),
        same conditions in the same order; trial noise of X independent of that of Y.
    kind : {"angular", "euclidean"}
        Angular: radians in [0, π/2]; euclidean: data units.
    center : bool
        Centre the condition means (translation invariance), as ``procrustes_distance``.
    normalize : bool
        Angular only: divide by π/2 (values in [0, 1]).

    Returns
    -------
    float
        Distance (lower = closer).  Not exactly unbiased (see Notes) and, unlike the
        plug-in, not a metric on the data: two noisy copies of one representation give
        about 0, sometimes exactly 0 (clipped).

    Notes
    -----
    Compared with the plug-in ``procrustes_distance(X.mean(1), Y.mean(1))``, the
    correction removes the noise bias of the norms exactly and that of the nuclear norm to
    second order; what remains comes from higher orders, the arccos / square root and the
    clips.  Its standard deviation is about 1.5-2 times the plug-in's (see
    :func:`bias_corrected_estimate` for a jackknife variance).  Cost: ``r_x + r_y + 1``
    cross-products and SVDs of ``max(p, q)``-square matrices.  Raises ``ValueError`` when
    the corrected variance of the means is not positive (angular only: the means are not
    distinguishable from noise).

    References
    ----------
    D. Pospisil, M. Larsen, S. Harvey, A. H. Williams (2024), "Estimating shape distances on
    neural representations with limited samples", ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = rng.normal(size=(20, 5))                             # true condition means
    >>> X = M[:, None] + rng.normal(size=(20, 5, 5))            # 5 noisy trials each
    >>> Y = M[:, None] + rng.normal(size=(20, 5, 5))            # the same means, new noise
    >>> from neurosim.metrics import procrustes_distance
    >>> plug_in = procrustes_distance(X.mean(1), Y.mean(1))
    >>> corrected = bias_corrected_procrustes_distance(X, Y)
    >>> bool(corrected < plug_in / 3)                            # truth is 0
    True
    """
    kind = check_choice(kind, _KINDS, "kind")
    center = check_flag(center, "center")
    normalize = check_flag(normalize, "normalize")
    if normalize and kind != "angular":
        raise ValueError("normalize=True applies to kind='angular' only (it divides the angle by π/2)")
    X, Y = _validate(X, Y, 2, "the noise correction")
    _check_units(X, Y, center)
    with _one_blas_thread():  # r_x + r_y + 1 small products and SVDs
        return _procrustes_value(X, Y, kind, center, normalize)


def bias_corrected_cka(X, Y, *, center: bool = True, n_splits: int = 10, seed=0) -> float:
    r"""Linear CKA between condition means, corrected for the noise of finite trials.

    ``CKA = tr(ZᵀZ) / (‖AᵀA‖_F ‖BᵀB‖_F)`` with ``A``, ``B`` the (centred) true condition
    means and ``Z = AᵀB``; numerator and both denominator terms are estimated without bias
    from single trials (module docstring), the ratio is not clipped.

    Parameters
    ----------
    X, Y : array_like, shape (condition, trial, unit)
        At least 4 trials per condition (the denominators need two halves of 2 trials).
    center : bool
        Centre the condition means (the usual CKA).
    n_splits : int
        Random half-splits of the trials averaged for the denominators (the first is
        first half / second half); more splits, lower variance.
    seed : int, Generator or None
        Seed of the splits (default 0: deterministic).

    Returns
    -------
    float
        Similarity (1 = identical up to rotation and scale), unitless.  Can fall slightly
        outside [0, 1] by estimation noise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> M = rng.normal(size=(20, 5))
    >>> X = M[:, None] + rng.normal(size=(20, 6, 5))
    >>> Y = M[:, None] @ np.linalg.qr(rng.normal(size=(5, 5)))[0] + rng.normal(size=(20, 6, 5))
    >>> from neurosim.metrics import cka
    >>> bool(abs(bias_corrected_cka(X, Y) - 1) < 1 - cka(X.mean(1), Y.mean(1)))
    True
    """
    center = check_flag(center, "center")
    n_splits = check_count(n_splits, "n_splits", minimum=1)
    seed = check_seed(seed)
    X, Y = _validate(X, Y, 4, "the bias-corrected CKA (two halves of 2 trials)")
    with _one_blas_thread():
        return _cka_value(X, Y, center, n_splits, seed)


@dataclass(frozen=True)
class BiasCorrectedEstimate:
    """A bias-corrected estimate with its jackknife variance and the plug-in value.

    Attributes
    ----------
    value : float
        The bias-corrected estimate.
    variance : float
        Grouped delete-one-trial jackknife variance (X's and Y's trials, summed).
    std_error : float
        ``sqrt(variance)``.
    plugin : float
        The same metric on the trial averages (biased by trial noise).
    measure : str
        ``"procrustes-angular"``, ``"procrustes-euclidean"`` or ``"cka"``.
    """

    value: float
    variance: float
    std_error: float
    plugin: float
    measure: str


def _jackknife(fn, X: np.ndarray, Y: np.ndarray) -> float:
    var = 0.0
    for which in (0, 1):
        A = (X, Y)[which]
        r = A.shape[1]
        reps = []
        for g in range(r):
            keep = np.delete(A, g, axis=1)
            reps.append(fn(keep, Y) if which == 0 else fn(X, keep))
        reps = np.asarray(reps)
        var += (r - 1) / r * float(np.sum((reps - reps.mean()) ** 2))
    return var


def bias_corrected_estimate(X, Y, *, measure: str = "procrustes", kind: str = "angular", center: bool = True,
                            normalize: bool = False, n_splits: int = 10, seed=0) -> BiasCorrectedEstimate:
    r"""Bias-corrected value, its jackknife variance and the plug-in value, in one call.

    Parameters
    ----------
    X, Y : array_like, shape (condition, trial, unit)
        Single trials; the jackknife removes one trial at a time, so at least 3 trials per
        condition for ``"procrustes"`` and 5 for ``"cka"``.
    measure : {"procrustes", "cka"}
        :func:`bias_corrected_procrustes_distance` (with ``kind``, ``normalize``) or
        :func:`bias_corrected_cka` (with ``n_splits``, ``seed``).
    kind, center, normalize, n_splits, seed
        As in those functions.

    Returns
    -------
    BiasCorrectedEstimate
        ``value``, ``variance`` (grouped jackknife: for each side, the estimate without trial
        ``g`` of every condition, ``g = 1..r``; ``(r − 1)/r Σ_g (θ_g − θ̄)²``; X's and Y's
        parts summed), ``std_error``, ``plugin``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> Mx = rng.normal(size=(15, 4))
    >>> My = Mx + 0.5 * rng.normal(size=(15, 4))              # true distance 0.47 rad
    >>> est = bias_corrected_estimate(Mx[:, None] + rng.normal(size=(15, 6, 4)),
    ...                               My[:, None] + rng.normal(size=(15, 6, 4)))
    >>> round(est.value, 2), round(est.std_error, 2), round(est.plugin, 2)
    (0.43, 0.09, 0.67)
    """
    measure = check_choice(measure, _MEASURES, "measure")
    center = check_flag(center, "center")
    if measure == "procrustes":
        kind = check_choice(kind, _KINDS, "kind")
        normalize = check_flag(normalize, "normalize")
        if normalize and kind != "angular":
            raise ValueError("normalize=True applies to kind='angular' only (it divides the angle by π/2)")
        X, Y = _validate(X, Y, 3, "the jackknife variance of the corrected Procrustes distance")
        _check_units(X, Y, center)

        def fn(A, B):
            return _procrustes_value(A, B, kind, center, normalize)

        plugin = procrustes_distance(X.mean(1), Y.mean(1), kind=kind, center=center, normalize=normalize)
        label = f"procrustes-{kind}"
    else:
        n_splits = check_count(n_splits, "n_splits", minimum=1)
        seed = check_seed(seed)
        X, Y = _validate(X, Y, 5, "the jackknife variance of the corrected CKA")

        def fn(A, B):
            return _cka_value(A, B, center, n_splits, seed)

        plugin = cka(X.mean(1), Y.mean(1)) if center else float(
            np.sum((X.mean(1).T @ Y.mean(1)) ** 2)
            / np.sqrt(np.sum((X.mean(1).T @ X.mean(1)) ** 2) * np.sum((Y.mean(1).T @ Y.mean(1)) ** 2)))
        label = "cka"
    with _one_blas_thread():
        value = fn(X, Y)
        var = _jackknife(fn, X, Y)
    return BiasCorrectedEstimate(float(value), float(var), float(np.sqrt(var)), float(plugin), label)


for _f in (bias_corrected_procrustes_distance,):
    _f.direction = "distance"
    _f.input = TRIAL_INPUT
bias_corrected_cka.direction = "similarity"
bias_corrected_cka.input = TRIAL_INPUT
del _f
