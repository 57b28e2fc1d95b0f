"""Loss-landscape curvature: Hessian-vector products, leading eigenvalues, trace.

The measures of Liu, Ghosh, Richards, Shea-Brown & Lajoie (NeurIPS 2022), "Beyond accuracy:
generalization properties of bio-plausible temporal credit assignment rules":

* the leading eigenvalue ``lambda_max`` of the Hessian of the task loss with respect to the
  recurrent weights ``W_rec`` of the *untruncated* network -- whatever rule trained it, the
  Hessian is always that of the true loss ``neurosim.rnn.loss(model, batch)``;
* the Hessian trace (Hutchinson's estimator), the sum of all curvatures.

Two layers:

* model-agnostic linear algebra on a Hessian-vector-product callable ``hvp(v) -> H v``:
  :func:`top_eigenvalues` (Lanczos via :func:`scipy.sparse.linalg.eigsh`, or power
  iteration as in the paper) and :func:`hutchinson_trace`;
* the RNN layer: :func:`hessian_vector_product`, :func:`hessian_top_eigenvalues`,
  :func:`hessian_trace` and :func:`curvature_along_training`, which build ``hvp`` from exact
  BPTT gradients of ``neurosim.rnn.loss``.

See ``docs/curvature.md`` for the edge-of-stability argument (``lambda_max < 2 / lr``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

__all__ = [
    "CurvatureConvergenceError",
    "TraceEstimate",
    "top_eigenvalues",
    "hutchinson_trace",
]

_METHODS = ("lanczos", "power")
_DISTRIBUTIONS = ("rademacher", "gaussian")


class CurvatureConvergenceError(RuntimeError):
    """An eigen-solver did not reach its tolerance within its iteration cap."""


# --------------------------------------------------------------------------- validation
def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be a positive int (the number of parameters), got {type(dim).__name__}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1 (the number of parameters), got {dim}")
    return int(dim)


def _check_pos_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_tol(tol) -> float:
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise TypeError(f"tol must be a positive float, got {tol!r}") from None
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a positive finite float (e.g. 1e-6), got {tol}")
    return tol


def _check_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        import difflib

        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}.{hint}")
    return value


def _wrap_hvp(hvp: Callable[[np.ndarray], np.ndarray], dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """Validate what ``hvp`` returns: a finite float vector of length ``dim``."""
    if not callable(hvp):
        raise TypeError(f"hvp must be a callable v -> H v, got {type(hvp).__name__}")

    def checked(v: np.ndarray) -> np.ndarray:
        out = np.asarray(hvp(np.asarray(v, dtype=float).reshape(dim)), dtype=float).reshape(-1)
        if out.shape != (dim,):
            raise ValueError(f"hvp returned a vector of length {out.size}, expected dim={dim}")
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "hvp returned NaN or inf: the loss is not finite near these parameters "
                "(check the model for exploding activity or NaN weights)"
            )
        return out

    return checked


# --------------------------------------------------------------------------- eigen-solvers
def top_eigenvalues(
    hvp: Callable[[np.ndarray], np.ndarray],
    dim: int,
    k: int = 1,
    *,
    tol: float = 1e-6,
    max_iter: int = 500,
    method: str = "lanczos",
    seed: int | None = 0,
    return_eigenvectors: bool = False,
):
    """Largest eigenvalues of a symmetric operator given only by its products ``v -> H v``.

    Parameters
    ----------
    hvp : callable
        ``hvp(v)`` returns ``H @ v`` for a float vector ``v`` of shape ``(dim,)``; ``H`` must be
        symmetric (a Hessian).
    dim : int
        Size of the operator (number of parameters).
    k : int, default 1
        Number of eigenvalues wanted (``method="power"`` supports ``k=1`` only).
    tol : float, default 1e-6
        Relative accuracy. Lanczos: ARPACK's stopping rule ``||H x - theta x|| <= tol * |theta|``
        for every returned Ritz pair ``(theta, x)``. Power iteration: stop when the Rayleigh
        quotient changes by at most ``tol * |lambda|`` between iterations.
    max_iter : int, default 500
        Iteration cap. Lanczos: ARPACK's ``maxiter`` (implicit restarts; each restart costs at
        most ``ncv = min(dim, max(2k + 1, 20))`` products). Power: number of products.
    method : {"lanczos", "power"}
        ``"lanczos"`` (default): implicitly restarted Lanczos, :func:`scipy.sparse.linalg.eigsh`
        with ``which="LA"`` -- the ``k`` *largest algebraic* eigenvalues. ``"power"``: plain power
        iteration as in Liu et al. (2022); it converges to the eigenvalue of largest *magnitude*,
        which equals the largest algebraic one whenever the most negative eigenvalue is smaller
        in magnitude (true near a minimum, where the Hessian is close to positive semi-definite).
    seed : int or None, default 0
        Seed of the random start vector (results are deterministic for a fixed seed).
    return_eigenvectors : bool, default False
        Also return the unit eigenvectors as columns of a ``(dim, k)`` array.

    Returns
    -------
    eigenvalues : ndarray, shape (k,)
        Sorted in decreasing order (largest first).
    eigenvectors : ndarray, shape (dim, k)
        Only if ``return_eigenvectors``.

    Raises
    ------
    CurvatureConvergenceError
        If the solver did not reach ``tol`` within ``max_iter``.

    Notes
    -----
    When ``k >= dim - 1`` (ARPACK needs ``k < dim``) the operator is materialised column by
    column with ``dim`` products and diagonalised densely (``numpy.linalg.eigvalsh`` of the
    symmetrised matrix).

    Examples
    --------
    >>> import numpy as np
    >>> H = np.diag(np.arange(1.0, 31.0))          # eigenvalues 1, 2, ..., 30
    >>> top_eigenvalues(lambda v: H @ v, 30, k=2).round(6)
    array([30., 29.])
    """
    dim = _check_dim(dim)
    k = _check_pos_int("k", k)
    if k > dim:
        raise ValueError(f"k={k} eigenvalues requested but the operator has only dim={dim}")
    tol = _check_tol(tol)
    max_iter = _check_pos_int("max_iter", max_iter)
    _check_choice("method", method, _METHODS)
    matvec = _wrap_hvp(hvp, dim)
    rng = np.random.default_rng(seed)

    if method == "power":
        if k != 1:
            raise ValueError(f"method='power' finds one eigenvalue (k=1), got k={k}; use method='lanczos'")
        lam, vec = _power_iteration(matvec, dim, tol, max_iter, rng)
        vals, vecs = np.array([lam]), vec[:, None]
    elif k >= dim - 1:
        H = _materialise(matvec, dim)
        w, V = np.linalg.eigh(H)
        order = np.argsort(w)[::-1][:k]
        vals, vecs = w[order], V[:, order]
    else:
        op = LinearOperator((dim, dim), matvec=matvec, dtype=float)
        v0 = rng.standard_normal(dim)
        try:
            w, V = eigsh(op, k=k, which="LA", tol=tol, maxiter=max_iter, v0=v0)
        except ArpackNoConvergence as err:
            raise CurvatureConvergenceError(
                f"Lanczos (ARPACK) found only {len(err.eigenvalues)} of k={k} eigenvalues to "
                f"tol={tol:g} within max_iter={max_iter} restarts; raise max_iter or loosen tol"
            ) from None
        order = np.argsort(w)[::-1]
        vals, vecs = w[order], V[:, order]
    return (vals, vecs) if return_eigenvectors else vals


def _power_iteration(matvec, dim, tol, max_iter, rng):
    v = rng.standard_normal(dim)
    v /= np.linalg.norm(v)
    lam = None
    for _ in range(max_iter):
        w = matvec(v)
        lam_new = float(v @ w)
        norm = np.linalg.norm(w)
        if norm == 0.0:  # H v = 0: v is in the null space and lambda = 0
            return 0.0, v
        converged = lam is not None and abs(lam_new - lam) <= tol * abs(lam_new)
        lam, v = lam_new, w / norm
        if converged:
            return lam, v
    raise CurvatureConvergenceError(
        f"power iteration did not converge to tol={tol:g} within max_iter={max_iter} products "
        f"(last Rayleigh quotient {lam:.6g}); raise max_iter, loosen tol, or use method='lanczos' "
        "(power iteration is slow when the two largest |eigenvalues| are close)"
    )


def _materialise(matvec, dim) -> np.ndarray:
    """Dense symmetric matrix from ``dim`` products with the unit vectors."""
    H = np.empty((dim, dim))
    e = np.zeros(dim)
    for i in range(dim):
        e[i] = 1.0
        H[:, i] = matvec(e)
        e[i] = 0.0
    return 0.5 * (H + H.T)


@dataclass(frozen=True)
class TraceEstimate:
    """A Hutchinson trace estimate: ``value`` ± ``stderr`` from ``n_samples`` probe vectors.

    ``samples`` holds the individual quadratic forms ``z_i^T H z_i``; ``float(estimate)`` is
    ``value``.
    """

    value: float
    stderr: float
    n_samples: int
    samples: np.ndarray = field(repr=False)

    def __float__(self) -> float:
        return float(self.value)


def hutchinson_trace(
    hvp: Callable[[np.ndarray], np.ndarray],
    dim: int,
    n_samples: int = 64,
    *,
    distribution: str = "rademacher",
    seed: int | None = 0,
) -> TraceEstimate:
    """Hutchinson's stochastic estimate of ``trace(H)`` from products ``v -> H v``.

    ``tr(H) = E[z^T H z]`` for any random ``z`` with ``E[z z^T] = I``; the estimate is the mean of
    ``z_i^T H z_i`` over ``n_samples`` independent probes, with standard error
    ``std(samples, ddof=1) / sqrt(n_samples)``. For Rademacher probes (entries ±1) the variance
    of one sample is ``2 * (||H||_F^2 - sum_i H_ii^2)`` -- zero for a diagonal ``H`` -- which is
    never larger than the Gaussian-probe variance ``2 ||H||_F^2`` (Hutchinson 1989; Avron &
    Toledo 2011).

    Parameters
    ----------
    hvp : callable
        ``hvp(v)`` returns ``H @ v`` for ``v`` of shape ``(dim,)``.
    dim : int
        Size of the operator.
    n_samples : int, default 64
        Number of probe vectors (products with ``H``). With one probe ``stderr`` is NaN.
    distribution : {"rademacher", "gaussian"}
        Probe distribution.
    seed : int or None, default 0
        Seed of the probes.

    Returns
    -------
    TraceEstimate
        ``value`` (mean), ``stderr``, ``n_samples`` and the per-probe ``samples``.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.diag([1.0, 2.0, 3.0])               # diagonal: Rademacher probes are exact
    >>> est = hutchinson_trace(lambda v: H @ v, 3, n_samples=4)
    >>> round(est.value, 12), round(est.stderr, 12)
    (6.0, 0.0)
    """
    dim = _check_dim(dim)
    n_samples = _check_pos_int("n_samples", n_samples)
    _check_choice("distribution", distribution, _DISTRIBUTIONS)
    matvec = _wrap_hvp(hvp, dim)
    rng = np.random.default_rng(seed)
    samples = np.empty(n_samples)
    for i in range(n_samples):
        if distribution == "rademacher":
            z = rng.integers(0, 2, size=dim) * 2.0 - 1.0
        else:
            z = rng.standard_normal(dim)
        samples[i] = z @ matvec(z)
    stderr = float(np.std(samples, ddof=1) / np.sqrt(n_samples)) if n_samples > 1 else float("nan")
    return TraceEstimate(float(samples.mean()), stderr, n_samples, samples)
