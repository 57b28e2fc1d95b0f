r"""Stochastic shape metrics: distances between *distributions* of responses per condition.

A deterministic shape metric compares condition means; a stochastic one compares, for every
condition ``c``, the whole distribution of single-trial responses, after one rotation ``T``
shared by all conditions (Duong, Zhou, Nassar, Berman, Olieslagers & Williams, "Representational
dissimilarity metric spaces for stochastic neural networks", ICLR 2023).

Two ground metrics between the per-condition distributions:

* **Gaussian** (:func:`gaussian_shape_distance`): each condition is summarised by its mean
  ``μ_c`` and covariance ``Σ_c`` and

  .. math::

     d_α(X, Y)^2 = \min_{T ∈ O(n)} \frac{1}{C}\sum_c \Big[α\,‖μ^x_c − μ^y_c T‖^2
                   + (2 − α)\,\mathcal{B}^2(Σ^x_c,\ T^⊤ Σ^y_c T)\Big]

  with the squared Bures distance
  ``B²(A, B) = tr A + tr B − 2 tr (A^{1/2} B A^{1/2})^{1/2} = tr A + tr B − 2 ‖A^{1/2} B^{1/2}‖_*``.
  ``α = 0`` uses covariances only, ``α = 1`` is the 2-Wasserstein distance between Gaussians,
  ``α = 2`` uses the means only (``sqrt(2/C)`` times the Procrustes distance of the means).
* **Energy** (:func:`energy_shape_distance`): a sample-based distance between the trial
  clouds, no Gaussian assumption,

  .. math::

     d_E(X, Y)^2 = \min_{T} \frac{1}{C}\sum_c \Big[E‖x_c − y_c T‖ − \tfrac12 E‖x_c − x'_c‖
                   − \tfrac12 E‖y_c − y'_c‖\Big]

  (half the usual energy distance ``2E‖x−y‖ − E‖x−x'‖ − E‖y−y'‖``).

Conventions (netrep's, by default): rows are responses, ``μ T`` rotates a response; no
centering and no scaling (``center=``/``normalize=`` switch them on); unequal unit counts
are zero-padded to the wider side.

The rotation search: netrep (ahwillia/netrep) fits ``T`` by one local alternating search from
one start.  Here the same search is run as one of several starts and every start is then
descended to convergence on the exact objective, so the value is never above netrep's at the
same inputs; see :func:`gaussian_shape_distance` (Notes) for the starts and the cost.

Input flag: the public functions carry ``.input = "trials"`` (``TRIAL_INPUT``) and so do
their registry entries: they take ``(condition, trial, unit)`` arrays (or, for the Gaussian
metric, a ``(means, covariances)`` pair), never ``(samples, features)`` matrices.
"""

from __future__ import annotations

import numpy as np

from neurosim.metrics._validate import check_count, check_flag, check_seed
from neurosim.metrics.dynamics import _one_blas_thread

__all__ = [
    "TRIAL_INPUT",
    "gaussian_shape_distance",
    "energy_shape_distance",
    "trial_moments",
    "sq_bures_distance",
]

#: value of the ``.input`` flag of metrics that need ``(condition, trial, unit)`` arrays
TRIAL_INPUT = "trials"

# relative tolerance for a covariance to count as symmetric / positive semi-definite
_PSD_RTOL = 1e-8
# the difference array of one block of conditions in the energy distance stays below this
_BLOCK_BYTES = 32 * 2**20


# --------------------------------------------------------------------------- validation
def _real_array(X, name: str, what: str) -> np.ndarray:
    if X is None or isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array ({what}), got {type(X).__name__}")
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array; fill or drop the masked trials first ({what})")
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers ({what}), got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def _check_trial_pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as (condition, trial, unit) trials of the same conditions, or a clear error."""
    X = _check_trials(X, "X")
    Y = _check_trials(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same conditions: X has {X.shape[0]} and Y has {Y.shape[0]}; "
            "match the conditions (same order) before comparing"
        )
    return X, Y


def _check_trials(X, name: str) -> np.ndarray:
    """A finite ``(condition, trial, unit)`` array with at least 2 trials per condition."""
    what = "shape (condition, trial, unit)"
    arr = _real_array(X, name, what)
    if arr.ndim != 3:
        hint = (" (condition means (condition, unit) are not enough: a stochastic metric needs single "
                "trials, or pass a (means, covariances) pair to gaussian_shape_distance)") if arr.ndim == 2 else ""
        raise ValueError(f"{name} must be 3-D {what}, got {arr.ndim}-D with shape {arr.shape}{hint}")
    c, r, n = arr.shape
    if c < 1 or n < 1:
        raise ValueError(f"{name} needs at least one condition and one unit, got shape {arr.shape}")
    if r < 2:
        raise ValueError(
            f"{name} has {r} trial per condition; a stochastic metric needs at least 2 trials per condition "
            "to see the spread of responses (use a deterministic metric on the means instead)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        cond, trial = (int(i) for i in np.argwhere(bad)[0][:2])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN/inf value(s) (first in condition {cond}, trial {trial}); "
            "drop those trials, or for ragged trial counts pass a (means, covariances) pair computed per "
            "condition (trial_moments of each condition's trials)"
        )
    return arr


def _check_moments(pair, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A ``(means (C, n), covariances (C, n, n))`` pair; covariances symmetric PSD (to rounding)."""
    if len(pair) != 2:
        raise TypeError(f"{name} as a tuple must be a (means, covariances) pair, got {len(pair)} items")
    means = _real_array(pair[0], f"{name}[0] (means)", "shape (condition, unit)")
    covs = _real_array(pair[1], f"{name}[1] (covariances)", "shape (condition, unit, unit)")
    if means.ndim != 2:
        raise ValueError(f"{name}[0] (means) must be 2-D (condition, unit), got shape {means.shape}")
    c, n = means.shape
    if c < 1 or n < 1:
        raise ValueError(f"{name}[0] (means) needs at least one condition and one unit, got shape {means.shape}")
    if covs.shape != (c, n, n):
        raise ValueError(
            f"{name}[1] (covariances) must have shape (condition, unit, unit) = {(c, n, n)} to match the means "
            f"{means.shape}, got {covs.shape}"
        )
    for arr, label in ((means, f"{name}[0] (means)"), (covs, f"{name}[1] (covariances)")):
        if not np.isfinite(arr).all():
            raise ValueError(f"{label} contains NaN/inf values; drop those conditions or recompute them")
    scale = np.max(np.abs(covs), axis=(1, 2))
    asym = np.max(np.abs(covs - covs.transpose(0, 2, 1)), axis=(1, 2))
    bad = np.flatnonzero(asym > _PSD_RTOL * scale)
    if bad.size:
        raise ValueError(
            f"{name}[1] (covariances) must be symmetric; condition {int(bad[0])} differs from its transpose by "
            f"{asym[bad[0]]:.3g} (largest entry {scale[bad[0]]:.3g}); symmetrise it with (S + S.T) / 2"
        )
    return means, 0.5 * (covs + covs.transpose(0, 2, 1))


def trial_moments(X, *, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-condition means and covariances of single-trial responses.

    Parameters
    ----------
    X : array_like, shape (condition, trial, unit)
        At least 2 trials per condition, all finite.
    ddof : int
        Delta degrees of freedom of the covariance: 1 (default) is the unbiased sample
        covariance ``Σ_t (x_t − x̄)(x_t − x̄)ᵀ / (r − 1)``, 0 the maximum-likelihood one.

    Returns
    -------
    means : ndarray, shape (condition, unit)
    covariances : ndarray, shape (condition, unit, unit)

    Examples
    --------
    >>> import numpy as np
    >>> m, S = trial_moments(np.arange(12.0).reshape(2, 3, 2))
    >>> m.shape, S.shape, float(S[0, 0, 0])
    ((2, 2), (2, 2, 2), 4.0)
    """
    X = _check_trials(X, "X")
    ddof = check_count(ddof, "ddof", minimum=0)
    r = X.shape[1]
    if r - ddof < 1:
        raise ValueError(f"ddof={ddof} needs more than {ddof} trials per condition, got {r}")
    means = X.mean(axis=1)
    D = X - means[:, None, :]
    covs = np.einsum("ctu,ctv->cuv", D, D, optimize=True) / (r - ddof)
    return means, covs


def _psd_sqrt(covs: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Matrix square roots and traces of symmetric PSD matrices (C, n, n).

    Eigenvalues below zero by more than rounding (relative ``1e-8``) are refused; the
    rounding-level negative ones are set to 0 *before* both the square root and the trace,
    so ``B²`` stays consistent and non-negative (netrep takes the trace of the unclipped
    eigenvalues and the square root of the unclipped ones in its search, which gives NaN or a
    negative squared distance on nearly singular covariances).
    """
    lam, V = np.linalg.eigh(covs)
    top = np.max(np.abs(lam), axis=1)
    neg = np.flatnonzero(lam[:, 0] < -_PSD_RTOL * np.maximum(top, np.finfo(float).tiny))
    if neg.size:
        c = int(neg[0])
        raise ValueError(
            f"{name} (covariances) must be positive semi-definite; condition {c} has eigenvalue {lam[c, 0]:.3g} "
            f"(largest {top[c]:.3g}); pass covariance matrices (e.g. trial_moments) or add a ridge "
            "eps * identity"
        )
    lam = np.maximum(lam, 0.0)
    S = np.einsum("cij,cj,ckj->cik", V, np.sqrt(lam), V, optimize=True)
    return S, lam.sum(axis=1)


def sq_bures_distance(A, B) -> float:
    r"""Squared Bures distance between two covariance matrices.

    ``B²(A, B) = tr A + tr B − 2 tr (A^{1/2} B A^{1/2})^{1/2}``; it equals
    ``min_Q ‖A^{1/2} − B^{1/2} Q‖_F²`` over orthogonal ``Q``, and for ``A``, ``B`` that
    commute ``Σ_i (√a_i − √b_i)²``.  Units: the covariances' (data units squared).

    Parameters
    ----------
    A, B : array_like, shape (n, n)
        Symmetric positive semi-definite; eigenvalues that are negative by rounding only
        (relative ``1e-8``) are set to 0, larger negative ones raise ``ValueError``.

    Returns
    -------
    float
        ``>= 0``; 0 iff ``A == B``.

    Examples
    --------
    >>> import numpy as np
    >>> round(sq_bures_distance(np.diag([4.0, 1.0]), np.diag([1.0, 1.0])), 12)
    1.0
    """
    mA, cA = _check_moments((np.zeros((1, np.shape(A)[0])), np.asarray(A)[None]), "A")
    mB, cB = _check_moments((np.zeros((1, np.shape(B)[0])), np.asarray(B)[None]), "B")
    if cA.shape != cB.shape:
        raise ValueError(f"A and B must have the same shape, got {cA.shape[1:]} and {cB.shape[1:]}")
    SA, tA = _psd_sqrt(cA, "A")
    SB, tB = _psd_sqrt(cB, "B")
    nuc = np.linalg.svd(SA[0] @ SB[0], compute_uv=False).sum()
    return float(max(tA[0] + tB[0] - 2.0 * nuc, 0.0))


def _pad(arr: np.ndarray, n: int, axes: tuple[int, ...]) -> np.ndarray:
    """Zero-pad the unit axes of ``arr`` to width ``n``."""
    if all(arr.shape[a] == n for a in axes):
        return arr
    width = [(0, 0)] * arr.ndim
    for a in axes:
        width[a] = (0, n - arr.shape[a])
    return np.pad(arr, width)


def _procrustes_rotation(M: np.ndarray) -> np.ndarray:
    """The orthogonal ``T`` maximising ``<T, M>`` (polar factor of ``M``)."""
    U, _, Vt = np.linalg.svd(M)
    return U @ Vt


def _one_thread_with_scipy():
    """One BLAS thread for numpy's *and* scipy's BLAS (scipy.optimize loads its own OpenBLAS,
    which a thread limiter built before that import does not see; L-BFGS-B then spins threads)."""
    import scipy.optimize  # noqa: F401  imported on first use: measured import cost (~0.25 s of import neurosim)
    from threadpoolctl import threadpool_limits  # builds a controller over the libraries loaded now (~10 ms)

    return threadpool_limits(limits=1, user_api="blas")


def _skew(params: np.ndarray, n: int, iu) -> np.ndarray:
    S = np.zeros((n, n))
    S[iu] = params
    return S - S.T


def _cayley_search(fun, T0: np.ndarray, *, gtol: float, maxiter: int, rounds: int = 10):
    """Minimise ``fun(T) -> (value, euclidean gradient)`` over O(n) from ``T0`` by L-BFGS.

    Chart ``T = T_b K``, ``K = (I − S)⁻¹(I + S) = 2W − I`` with ``W = (I − S)⁻¹`` (S skew), so
    ``dT = 2 T_b W dS W`` and the gradient in ``S`` is ``2 Wᵀ T_bᵀ G Wᵀ`` projected on the
    skew parameters; the chart is re-centred at each optimum (``rounds`` at most) until a round
    no longer lowers the value.  Returns ``(T, value)``.
    """
    from scipy.optimize import minimize  # imported on first use: measured import cost (~0.25 s of import neurosim)

    n = T0.shape[0]
    T, best = T0, fun(T0)[0]
    if n == 1:
        return T, best
    iu = np.triu_indices(n, k=1)
    eye = np.eye(n)
    for _ in range(rounds):
        base = T

        def objective(params, base=base):
            W = np.linalg.inv(eye - _skew(params, n, iu))
            f, G = fun(2.0 * (base @ W) - base)
            Mg = 2.0 * (W.T @ (base.T @ G) @ W.T)
            return f, Mg[iu] - Mg.T[iu]

        res = minimize(objective, np.zeros(len(iu[0])), jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": gtol, "ftol": 1e-15})
        Tn = 2.0 * (base @ np.linalg.inv(eye - _skew(res.x, n, iu))) - base
        Tn = _procrustes_rotation(Tn)  # back onto O(n) exactly
        value = fun(Tn)[0]
        if not value < best:
            break
        improved = best - value
        T, best = Tn, value
        if improved <= 1e-12 * max(abs(best), np.finfo(float).tiny):
            break
    return T, best


# --------------------------------------------------------------------------- Gaussian metric
def _gaussian_inputs(X, name: str, ddof: int):
    if isinstance(X, (tuple, list)):
        return _check_moments(X, name)
    if isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        _check_trials(X, name)
        return trial_moments(X, ddof=ddof)
    raise TypeError(
        f"{name} must be trial samples shaped (condition, trial, unit) or a (means, covariances) pair, "
        f"got {type(X).__name__}"
    )


def _center_scale(means, covs, center: bool, normalize: bool, name: str):
    if center:
        means = means - means.mean(axis=0)
    if normalize:
        s2 = float(np.mean(np.sum(means**2, axis=1) + np.trace(covs, axis1=1, axis2=2)))
        if not s2 > 0.0:
            raise ValueError(f"{name} has zero means and zero covariances; normalize=True cannot scale it")
        means = means / np.sqrt(s2)
        covs = covs / s2
    return means, covs


class _GaussianProblem:
    """The sums behind ``f(T) = Σ_c α‖μx_c − μy_c T‖² + (2−α) B²(Σx_c, TᵀΣy_cT)`` (not yet / C)."""

    def __init__(self, mx, my, Sx, Sy, trx, tr_y, alpha):
        self.mx, self.my, self.Sx, self.Sy = mx, my, Sx, Sy
        self.a, self.b = alpha, 2.0 - alpha
        self.Cm = my.T @ mx  # <T, Cm> = Σ_c μy_c T μx_cᵀ
        self.iterations = 0
        self.const = self.a * (np.sum(mx**2) + np.sum(my**2)) + self.b * (np.sum(trx) + np.sum(tr_y))

    def polar_step(self, T):
        """Per-condition rotations ``G_c`` (optimal for this ``T``) and ``Σ_c ‖Sy_c T Sx_c‖_*``."""
        P = self.Sy @ T @ self.Sx
        U, s, Vt = np.linalg.svd(P)
        return U, Vt, float(s.sum())

    def value_grad(self, T):
        """``(f(T), ∂f/∂T)`` with ``f = const − 2(α⟨T, Cm⟩ + (2−α) Σ_c ‖Sy_c T Sx_c‖_*)`` (for the search)."""
        g = self.a * float(np.sum(T * self.Cm))
        G = self.a * self.Cm
        if self.b > 0:
            U, Vt, nuc = self.polar_step(T)
            g += self.b * nuc
            G = G + self.b * np.sum(self.Sy @ U @ Vt @ self.Sx, axis=0)
        return self.const - 2.0 * g, -2.0 * G

    def value(self, T, polar=None) -> float:
        """``f(T)`` as a sum of squares (no cancellation: exact to rounding even where ``f`` is 0)."""
        f = self.a * float(np.sum((self.mx - self.my @ T) ** 2)) if self.a > 0 else 0.0
        if self.b > 0:
            U, Vt, _ = self.polar_step(T) if polar is None else polar
            G = np.swapaxes(U @ Vt, 1, 2)  # optimal G_c = V_c U_cᵀ
            f += self.b * float(np.sum((self.Sx - G @ self.Sy @ T) ** 2))
        return f

    def descend(self, T, wa, wb, *, max_iter, tol, netrep_stop=False):
        """Alternate ``G_c``-step / ``T``-step on ``wa‖μx − μyT‖² + wb Σ‖Sx_c − G_c Sy_c T‖²``.

        Both steps are exact minimisations, so the weighted objective never increases.  With
        ``netrep_stop`` the loop stops like netrep's (loss ``sqrt`` of the weighted objective
        with the new ``T`` and the previous ``G_c``, from the third iteration on, when it fell
        by less than ``tol``); otherwise when the exact objective falls by less than ``tol``
        times its value (or rises by rounding).  Returns ``(T, f(T))``.
        """
        polar = self.polar_step(T) if wb > 0 else None
        f = self.value(T, polar)
        hist = []
        for i in range(max_iter):
            if wb > 0:
                U, Vt, _ = polar
                cov_cross = np.sum(self.Sy @ U @ Vt @ self.Sx, axis=0)  # Σ_c Sy_c G_cᵀ Sx_c
            else:
                cov_cross = 0.0
            T_new = _procrustes_rotation(wa * self.Cm + wb * cov_cross)
            if netrep_stop:
                loss = wa * np.sum((self.mx - self.my @ T_new) ** 2)
                if wb > 0:
                    G = np.swapaxes(U @ Vt, 1, 2)
                    loss += wb * np.sum((self.Sx - G @ self.Sy @ T_new) ** 2)
                hist.append(float(np.sqrt(loss)))
                T = T_new
                polar = self.polar_step(T) if wb > 0 else None
                if i >= 2 and hist[-2] - hist[-1] < tol:
                    break
            else:
                polar_new = self.polar_step(T_new) if self.b > 0 else None
                f_new = self.value(T_new, polar_new)
                self.iterations += 1
                if f_new > f:
                    break
                drop = f - f_new
                T, f, polar = T_new, f_new, polar_new
                if drop <= tol * (f + drop):
                    break
        return T, (self.value(T, polar if self.b > 0 and wb > 0 else None) if netrep_stop else f)


def gaussian_shape_distance(
    X,
    Y,
    alpha: float = 1.0,
    *,
    center: bool = False,
    normalize: bool = False,
    ddof: int = 1,
    n_restarts: int = 2,
    max_iter: int = 1000,
    tol: float = 1e-12,
    seed=0,
) -> float:
    r"""Gaussian stochastic shape distance (interpolated 2-Wasserstein), netrep's convention.

    .. math::

       d_α = \sqrt{\min_{T ∈ O(n)} \frac{1}{C}\sum_{c=1}^{C}
             α\,‖μ^x_c − μ^y_c T‖^2 + (2 − α)\,\mathcal{B}^2(Σ^x_c, T^⊤Σ^y_cT)}

    with ``B²(A, B) = tr A + tr B − 2 ‖A^{1/2} B^{1/2}‖_*`` (squared Bures distance) and
    rows as responses (``μ T`` rotates a response).  Distance: 0 = same distributions up to
    a rotation; units of the data (not radians).  Symmetric, and a metric on distributions
    modulo rotations (Duong et al. 2023).

    Parameters
    ----------
    X, Y : array_like (condition, trial, unit), or a pair ``(means, covariances)``
        Trial samples (at least 2 trials per condition, means and ``ddof`` covariances are
        taken per condition), or their moments shaped ``((C, n), (C, n, n))``; covariances
        symmetric positive semi-definite.  Same conditions in the same order (``C`` equal);
        unit counts may differ (the narrower side is zero-padded).
    alpha : float in [0, 2]
        0: covariances only; 1: 2-Wasserstein; 2: means only.
    center : bool
        Subtract the mean over conditions of the condition means first (translation
        invariance).  Default False (netrep).
    normalize : bool
        Scale each side so that ``mean_c(‖μ_c‖² + tr Σ_c) = 1`` (after centering), making the
        distance scale-invariant and at most ``sqrt(2·max(α, 2−α))``.  Default False (netrep).
    ddof : int
        Delta degrees of freedom of the covariances from trial samples (1: unbiased).
    n_restarts : int
        Random orthogonal starts in addition to the fixed ones (see Notes).
    max_iter, tol : int, float
        Per-start iteration cap and relative stopping tolerance on the objective.
    seed : int, Generator or None
        Seed of the random starts (default 0: deterministic).

    Returns
    -------
    float
        ``d_α >= 0`` in data units.

    Notes
    -----
    *Closed forms.*  ``α = 2``: ``d² = (2/C)(‖M_x‖² + ‖M_y‖² − 2‖M_xᵀM_y‖_*)`` with ``M`` the
    ``(C, n)`` means (Procrustes on the means); returned exactly.  If every covariance is a
    multiple of the identity, the Bures term does not depend on ``T`` and the same
    Procrustes solution is exact.

    *Search.*  ``min_T`` is non-convex.  Writing ``B²(Σx, TᵀΣyT) = min_G ‖Σx^{1/2} − G Σy^{1/2} T‖²``
    over orthogonal ``G``, the objective is minimised alternately in the ``G_c`` (one SVD per
    condition) and in ``T`` (one Procrustes SVD); each step is exact, so the objective never
    increases.  netrep runs this alternation from the Procrustes rotation of the means but
    weighs the terms ``α²`` and ``(2−α)²`` (equal to the objective's weights only at
    ``α = 1``), and the alternation converges slowly (linearly) on flat problems.  Here:
    netrep's run is replayed exactly (its weights, start and stopping rule) and its value kept;
    six starts -- that run's rotation, the means' Procrustes rotation, the Procrustes rotation
    of the stacked covariance square roots, the identity and ``n_restarts`` random rotations --
    get 5 exact alternating steps and a loose L-BFGS pass (gradient
    ``G = α Cm + (2−α) Σ_c Σy_c^{1/2} U_c V_cᵀ Σx_c^{1/2}``, ``Cm = M_yᵀ M_x``, in a re-centred
    Cayley chart of O(n)); the best two are refined by L-BFGS and polished by alternating
    steps, whose sum-of-squares objective is exact near 0.  The smallest value is returned,
    so the result is never above netrep's at the same inputs.  Cost: one objective
    evaluation is ``C`` SVDs of ``n × n`` matrices, ``O(C n³)``, linear in the number of
    conditions like netrep's; a call costs netrep's run plus roughly 50-150 evaluations
    (``benchmarks/stochastic.py``).  Runs on one BLAS thread.

    *Numerics.*  Covariance eigenvalues negative by rounding are clipped to 0 before both
    the square root and the trace (netrep's search takes the square root of unclipped
    eigenvalues, which is NaN on a nearly singular covariance).

    References
    ----------
    L. Duong, J. Zhou, J. Nassar, J. Berman, J. Olieslagers, A. H. Williams (2023),
    "Representational dissimilarity metric spaces for stochastic neural networks", ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(6, 20, 3))                     # 6 conditions, 20 trials, 3 units
    >>> Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> round(gaussian_shape_distance(X, X @ Q), 8)         # a rotated copy: distance 0
    0.0
    >>> gaussian_shape_distance(X, 2.0 * X) > 0.5
    True
    """
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a number in [0, 2], got {alpha!r}") from None
    if isinstance(alpha, bool) or not 0.0 <= alpha <= 2.0:
        raise ValueError(f"alpha must lie in [0, 2] (0: covariances only, 1: 2-Wasserstein, 2: means only), got {alpha}")
    center = check_flag(center, "center")
    normalize = check_flag(normalize, "normalize")
    n_restarts = check_count(n_restarts, "n_restarts", minimum=0)
    max_iter = check_count(max_iter, "max_iter", minimum=1)
    seed = check_seed(seed)
    mx, cx = _gaussian_inputs(X, "X", ddof)
    my, cy = _gaussian_inputs(Y, "Y", ddof)
    if mx.shape[0] != my.shape[0]:
        raise ValueError(
            f"X and Y must describe the same conditions: X has {mx.shape[0]} and Y has {my.shape[0]}; "
            "match the conditions (same order) before comparing"
        )
    mx, cx = _center_scale(mx, cx, center, normalize, "X")
    my, cy = _center_scale(my, cy, center, normalize, "Y")
    n = max(mx.shape[1], my.shape[1])
    mx, my = _pad(mx, n, (1,)), _pad(my, n, (1,))
    cx, cy = _pad(cx, n, (1, 2)), _pad(cy, n, (1, 2))
    C = mx.shape[0]
    Sx, trx = _psd_sqrt(cx, "X")
    Sy, tr_y = _psd_sqrt(cy, "Y")
    prob = _GaussianProblem(mx, my, Sx, Sy, trx, tr_y, alpha)

    T_means = _procrustes_rotation(prob.Cm)
    if alpha == 2.0 or (_isotropic(cx) and _isotropic(cy)):
        # the Bures term does not depend on T (absent, or Σ_c n(σx_c − σy_c)² for Σ = σ²I):
        # the Procrustes rotation of the means is exact
        proc = np.sum(mx**2) + np.sum(my**2) - 2.0 * float(np.linalg.svd(prob.Cm, compute_uv=False).sum())
        best = prob.a * proc
        if prob.b > 0:
            best += prob.b * n * float(np.sum((np.sqrt(trx / n) - np.sqrt(tr_y / n)) ** 2))
        return float(np.sqrt(max(best, 0.0) / C))

    with _one_thread_with_scipy():  # many tiny SVDs and L-BFGS steps: one BLAS thread is ~20x faster
        best = _gaussian_search(prob, T_means, Sx, Sy, n, alpha, n_restarts, max_iter, tol, seed)
    return float(np.sqrt(max(best, 0.0) / C))


def _gaussian_search(prob, T_means, Sx, Sy, n, alpha, n_restarts, max_iter, tol, seed) -> float:
    a, b = alpha, 2.0 - alpha
    # (1) netrep's run: its weights α², (2-α)², its stopping rule, then the exact objective
    T1, _ = prob.descend(T_means, a * a, b * b, max_iter=1000, tol=1e-8, netrep_stop=True)
    starts = [T1, T_means, _procrustes_rotation(np.sum(Sy @ Sx, axis=0)), np.eye(n)]
    rng = np.random.default_rng(seed)
    for _ in range(n_restarts):
        Qr, Rr = np.linalg.qr(rng.normal(size=(n, n)))
        starts.append(Qr * np.sign(np.diag(Rr)))
    gtol = 1e-10 * max(prob.const, np.finfo(float).tiny)
    # every start: a few exact alternating steps, then a loose L-BFGS pass; the best two are
    # refined, and polished by alternating steps (exact sums of squares, accurate near 0)
    screened = []
    for T0 in starts:
        T, _ = prob.descend(T0, a, b, max_iter=5, tol=tol)
        T, _ = _cayley_search(prob.value_grad, T, gtol=1e3 * gtol, maxiter=50, rounds=1)
        screened.append((prob.value(T), T))
    screened.sort(key=lambda vt: vt[0])
    best = min(prob.value(T1), screened[0][0])
    for _, T in screened[:2]:
        T, _ = _cayley_search(prob.value_grad, T, gtol=gtol, maxiter=max_iter)
        _, f = prob.descend(T, a, b, max_iter=max_iter, tol=tol)
        best = min(best, f)
    return best


def _isotropic(covs: np.ndarray) -> bool:
    """Every covariance exactly a multiple of the identity."""
    n = covs.shape[1]
    diag = np.diagonal(covs, axis1=1, axis2=2)
    off = covs - diag[:, :, None] * np.eye(n)
    return bool(np.all(off == 0.0) and np.all(diag == diag[:, :1]))


# --------------------------------------------------------------------------- energy metric
class _EnergyProblem:
    """Mean cross distance ``E‖x − yT‖`` per condition, its IRLS minimisation, within terms."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        C, rx, n = X.shape
        ry = Y.shape[1]
        per = rx * ry * n * 8
        self.block = max(1, int(_BLOCK_BYTES // max(per, 1)))

    def residuals(self, T) -> np.ndarray:
        """``‖x_cj − y_ck T‖`` for every condition and trial pair, shape (C, rx, ry)."""
        YT = self.Y @ T
        out = np.empty((self.X.shape[0], self.X.shape[1], self.Y.shape[1]))
        for s in range(0, self.X.shape[0], self.block):
            D = self.X[s:s + self.block, :, None, :] - YT[s:s + self.block, None, :, :]
            out[s:s + self.block] = np.sqrt(np.einsum("cjkn,cjkn->cjk", D, D))
        return out

    def irls_step(self, resid) -> np.ndarray:
        """One majorisation step: weighted Procrustes with weights ``1 / max(resid, 1e-12)``."""
        W = 1.0 / np.maximum(resid, 1e-12)
        cross = np.einsum("ckn,cjk,cjm->nm", self.Y, W, self.X, optimize=True)  # Σ W y_kᵀ x_j
        return _procrustes_rotation(cross)

    def descend(self, T, *, max_iter, tol, relative=True):
        loss = float(np.mean(self.residuals(T)))
        for _ in range(max_iter):
            T_new = self.irls_step(self.residuals(T))
            new = float(np.mean(self.residuals(T_new)))
            if new <= loss:
                T, drop, loss = T_new, loss - new, new
            else:
                break
            if drop <= (tol * max(loss, np.finfo(float).tiny) if relative else tol):
                break
        return T, loss

    def netrep_run(self, *, niter=100, tol=1e-6):
        """netrep's fit: unweighted Procrustes first, IRLS, stop when the loss falls by < tol."""
        hist = [float(np.mean(self.residuals(np.eye(self.X.shape[2]))))]
        W = np.ones((self.X.shape[0], self.X.shape[1], self.Y.shape[1]))
        T = np.eye(self.X.shape[2])
        for _ in range(niter):
            T = self.irls_step(1.0 / W)
            resid = self.residuals(T)
            hist.append(float(np.mean(resid)))
            W = 1.0 / np.maximum(resid, 1e-12)
            if hist[-2] - hist[-1] < tol:
                break
        return T, hist[-1]


def _within(X: np.ndarray) -> float:
    """Mean over conditions of the mean distance between distinct trials (U-statistic)."""
    C, r, _ = X.shape
    iu = np.triu_indices(r, k=1)
    total = 0.0
    for c in range(C):
        D = X[c][:, None, :] - X[c][None, :, :]
        total += float(np.mean(np.sqrt(np.einsum("jkn,jkn->jk", D, D))[iu]))
    return total / C


def energy_shape_distance(
    X,
    Y,
    *,
    center: bool = False,
    normalize: bool = False,
    n_restarts: int = 2,
    max_iter: int = 500,
    tol: float = 1e-10,
    seed=0,
) -> float:
    r"""Energy stochastic shape distance between single-trial responses, netrep's estimator.

    .. math::

       d_E = \sqrt{\max\Big(0,\ \min_{T ∈ O(n)} \frac{1}{C}\sum_c \overline{‖x_{cj} − y_{ck}T‖}_{j,k}
             − \tfrac12\,\overline{‖x_{cj} − x_{cj'}‖}_{j<j'} − \tfrac12\,\overline{‖y_{ck} − y_{ck'}‖}_{k<k'}\Big)}

    where the bars average over all trial pairs ``(j, k)`` across the two systems and over
    distinct trial pairs within one system.  This is half the energy distance
    ``2E‖x − y‖ − E‖x − x'‖ − E‖y − y'‖`` between the per-condition response distributions,
    averaged over conditions, minimised over one rotation.  Distance (0 = identical
    distributions up to a rotation); unit: square root of data units (the bracket is a mean
    Euclidean distance).

    Parameters
    ----------
    X, Y : array_like, shape (condition, trial, unit)
        Single trials; same conditions in the same order; at least 2 trials per condition;
        trial counts of X and Y may differ; unit counts may differ (zero-padded).
    center : bool
        Subtract each side's mean over all trials first.  Default False (netrep).
    normalize : bool
        Divide each side by its root-mean-square trial norm (after centering).  Default False.
    n_restarts : int
        Random orthogonal starts besides netrep's run and the identity (see Notes).
    max_iter, tol : int, float
        Per-start IRLS iteration cap and relative stopping tolerance on the mean cross distance.
    seed : int, Generator or None
        Seed of the random starts.

    Returns
    -------
    float
        ``d_E >= 0``.

    Notes
    -----
    *Estimator and its bias.*  For a fixed ``T`` the bracket is unbiased for half the energy
    distance: the cross term averages independent pairs, the within terms are U-statistics
    over distinct trials.  Two biases remain: ``T`` is fitted to the same trials (the minimum
    over ``T`` of a noisy objective is biased low), and the clip at 0 and the square root bias
    small distances up: two samples of one distribution give ``d_E > 0`` of order
    ``r^{-1/4}`` for ``r`` trials.  Compare values at equal trial counts.

    *Search.*  ``T`` minimises the mean cross distance (the within terms do not depend on it)
    by iteratively reweighted Procrustes: with weights ``1/‖x − yT_k‖`` the weighted squared
    residual majorises the mean distance, so each step does not increase it.  netrep runs this
    from the means' Procrustes rotation with tolerance ``1e-6`` on the mean distance and at
    most 100 steps; here that run is one start and is continued to ``tol``; the identity and
    ``n_restarts`` random rotations are the others, and the smallest value is returned - never
    above netrep's.  One step costs ``O(C r_x r_y n + n³)`` (netrep stacks every trial pair
    into one ``(C r_x r_y, n)`` matrix and loops in Python over conditions to score).

    References
    ----------
    L. Duong et al. (2023), ICLR (see :func:`gaussian_shape_distance`); G. Székely & M. Rizzo
    (2013), "Energy statistics", J. Stat. Plan. Inference 143:1249-1272.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4, 30, 3)) + 3.0 * rng.normal(size=(4, 1, 3))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> d_same = energy_shape_distance(X, X @ Q)
    >>> d_same < 1e-6
    True
    >>> energy_shape_distance(X, 2.0 * X) > d_same
    True
    """
    center = check_flag(center, "center")
    normalize = check_flag(normalize, "normalize")
    n_restarts = check_count(n_restarts, "n_restarts", minimum=0)
    max_iter = check_count(max_iter, "max_iter", minimum=1)
    seed = check_seed(seed)
    for arg, name in ((X, "X"), (Y, "Y")):
        if isinstance(arg, (tuple, list)):
            raise TypeError(
                f"{name}: the energy distance needs single trials shaped (condition, trial, unit), not a "
                "(means, covariances) pair (use gaussian_shape_distance for moments)"
            )
    X, Y = _check_trial_pair(X, Y)
    sides = []
    for A, name in ((X, "X"), (Y, "Y")):
        if center:
            A = A - A.mean(axis=(0, 1))
        if normalize:
            rms = float(np.sqrt(np.mean(np.sum(A**2, axis=2))))
            if not rms > 0.0:
                raise ValueError(f"{name} is all zeros; normalize=True cannot scale it")
            A = A / rms
        sides.append(A)
    n = max(X.shape[2], Y.shape[2])
    X, Y = (_pad(A, n, (2,)) for A in sides)
    prob = _EnergyProblem(X, Y)
    with _one_blas_thread():
        T1, _ = prob.netrep_run()
        starts = [T1, np.eye(n)]
        rng = np.random.default_rng(seed)
        for _ in range(n_restarts):
            Qr, Rr = np.linalg.qr(rng.normal(size=(n, n)))
            starts.append(Qr * np.sign(np.diag(Rr)))
        cross = min(prob.descend(T0, max_iter=max_iter, tol=tol)[1] for T0 in starts)
        d2 = cross - 0.5 * (_within(X) + _within(Y))
    return float(np.sqrt(max(d2, 0.0)))


for _f in (gaussian_shape_distance, energy_shape_distance):
    _f.direction = "distance"
    _f.input = TRIAL_INPUT
del _f
