"""Loss-landscape curvature: Hessian-vector products, leading eigenvalues, trace.

The measures of Liu, Ghosh, Richards, Shea-Brown & Lajoie (NeurIPS 2022), "Beyond accuracy:
generalization properties of bio-plausible temporal credit assignment rules":

* the leading eigenvalue ``lambda_max`` of the Hessian of the task loss with respect to the
  recurrent weights ``W_rec`` of the *untruncated* network -- whatever rule trained it, the
  Hessian is always that of the true loss ``neurosim.rnn.loss(model, batch)``;
* the Hessian trace (Hutchinson's estimator), the sum of all curvatures.

With L2 weight decay in the loss (``train(..., weight_decay=lambda)``, the paper's recipe) the
loss is ``E + (lambda / 2) sum_W ||W||^2`` and its Hessian ``H_E + lambda I`` on the decayed
parameters: every function here takes ``weight_decay`` / ``weight_decay_params`` and adds the
term (``curvature_along_training`` reads them from the run).

Two layers:

* model-agnostic linear algebra on a Hessian-vector-product callable ``hvp(v) -> H v``:
  :func:`top_eigenvalues` (Lanczos via :func:`scipy.sparse.linalg.eigsh`, or power
  iteration as in the paper) and :func:`hutchinson_trace`;
* the RNN layer: :func:`hessian_vector_product`, :func:`hessian_top_eigenvalues`,
  :func:`hessian_trace`, :func:`dense_hessian` and :func:`curvature_along_training`, whose
  products are exact forward-over-reverse derivatives of the BPTT backward pass of
  ``neurosim.rnn.loss`` (or, with ``hvp="fd"``, central differences of exact BPTT gradients).

See ``docs/curvature.md`` for the edge-of-stability argument (``lambda_max < 2 / lr``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurosim._threads import blas_threads as _blas_threads
from neurosim.metrics._validate import check_seed
from neurosim.rnn.model import _did_you_mean, mask_total, output_error, phi_prime
from neurosim.rnn.optim import check_weight_decay
from neurosim.rnn.rules import gradients

__all__ = [
    "CurvatureConvergenceError",
    "TraceEstimate",
    "top_eigenvalues",
    "hutchinson_trace",
    "hessian_vector_product",
    "hessian_top_eigenvalues",
    "hessian_trace",
    "dense_hessian",
    "curvature_along_training",
    "curvature_recorder",
    "rule_curvature",
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
        raise ValueError(f"unknown {name} {value!r}: " + _did_you_mean(value, choices))
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
    rng = np.random.default_rng(check_seed(seed))

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
        # imported on first use: measured import cost
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

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
    rng = np.random.default_rng(check_seed(seed))
    samples = np.empty(n_samples)
    for i in range(n_samples):
        if distribution == "rademacher":
            z = rng.integers(0, 2, size=dim) * 2.0 - 1.0
        else:
            z = rng.standard_normal(dim)
        samples[i] = z @ matvec(z)
    stderr = float(np.std(samples, ddof=1) / np.sqrt(n_samples)) if n_samples > 1 else float("nan")
    return TraceEstimate(float(samples.mean()), stderr, n_samples, samples)


# --------------------------------------------------------------------------- RNN layer
DEFAULT_EPS = 1e-5
"""Default relative finite-difference step of :func:`hessian_vector_product` (see its Notes)."""


def _resolve_params(model, params) -> tuple[str, ...]:
    available = getattr(model, "params", None)
    if not isinstance(available, Mapping):
        raise TypeError(
            f"model must have a .params dict of weight arrays (a neurosim.rnn.LeakyRNN), "
            f"got {type(model).__name__}"
        )
    if isinstance(params, str):
        params = (params,)
    if not isinstance(params, Iterable):
        raise TypeError(f"params must be a parameter name or a tuple of names, got {type(params).__name__}")
    names = tuple(params)
    if not names:
        raise ValueError("params is empty: name at least one parameter, e.g. params=('W_rec',)")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"params must hold parameter names (str), got {name!r}")
        if name not in available:
            raise ValueError(f"unknown parameter {name!r}; the model's parameters: " + _did_you_mean(name, available))
    if len(set(names)) != len(names):
        raise ValueError(f"params lists a parameter twice: {names}")
    return names


def _flatten(arrays: Mapping[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([np.asarray(arrays[n], dtype=float).ravel() for n in names])


def _unflatten(flat: np.ndarray, like: Mapping[str, np.ndarray], names: tuple[str, ...]) -> dict:
    out, start = {}, 0
    for n in names:
        shape = np.shape(like[n])
        size = int(np.prod(shape))
        out[n] = flat[start : start + size].reshape(shape).copy()
        start += size
    return out


def _check_eps(eps) -> float:
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"eps must be a positive float (relative finite-difference step), got {eps!r}") from None
    if not np.isfinite(eps) or not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1) (relative finite-difference step, e.g. 1e-5), got {eps}")
    return eps



def _phi_second(v: np.ndarray, r: np.ndarray, activation: str) -> np.ndarray:
    """``phi''(v)`` of the model's activations (0 at and across the kinks: the local smooth piece)."""
    if activation == "tanh":
        return -2.0 * r * (1.0 - r * r)
    if activation == "retanh":
        return -2.0 * r * (1.0 - r * r) * (v > 0)
    if activation == "relu":
        return np.zeros_like(v)
    raise ValueError(f"exact Hessian-vector products do not know activation {activation!r}; use hvp='fd'")


def _loss_output_hvp(y: np.ndarray, dy: np.ndarray, batch) -> np.ndarray:
    """``(d^2 task_loss / dy^2) dy`` (B, T, O) for the masked MSE or cross-entropy of ``batch``."""
    msum = mask_total(batch)
    if batch.loss == "mse":
        return (2.0 / msum) * batch.mask_full * dy
    m = batch.mask if batch.mask.ndim == 2 else batch.mask[..., 0]
    z = y - y.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    s = batch.targets.sum(-1, keepdims=True)
    return s * (p * dy - p * np.sum(p * dy, axis=-1, keepdims=True)) * (m[..., None] / msum)


def _hvp_base(model, batch, params: dict) -> dict:
    """The tangent-independent half of :func:`_exact_hvp`: the forward pass, the BPTT backward pass
    (``gamma``) and the activation derivatives at ``params``. An eigen-solver takes many products
    at one point, so :class:`_Hessian` computes this once and reuses it."""
    a = model.alpha
    act = model.activation
    fw = model.run(batch.inputs, params=params)
    v, r = fw.v_tm, fw.r_tm
    T, B, N = r.shape
    x = np.ascontiguousarray(batch.inputs.transpose(1, 0, 2))
    W = model.effective_recurrent(params["W_rec"])
    dphi = phi_prime(v, r, act)
    ddphi = _phi_second(v, r, act)
    dphi0 = phi_prime(fw.v_init, fw.r_init, act)
    ddphi0 = _phi_second(fw.v_init, fw.r_init, act)
    r_prev = np.concatenate([fw.r_init[None], r[:-1]])              # r_{t-1}, (T, B, N)
    _, e = output_error(fw.y, batch)                                # (B, T, O)
    e = e.transpose(1, 0, 2)                                        # (T, B, O)
    # backward pass (gamma)
    c = 2.0 * model.activity_l2 / r.size
    aW = np.ascontiguousarray(a * W)
    tmp = np.empty((B, N))
    rho = e @ params["W_out"]
    if c:
        rho += c * r
    gamma = rho  # overwritten in place: gamma_t = rho_t phi'_t + (1 - a) gamma_{t+1}, rho_t += a gamma_{t+1} W
    g = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        rt = gamma[t]
        np.matmul(g, aW, out=tmp)
        rt += tmp                                                    # rt = rho_t
        ddphi[t] *= rt                                               # rho_t phi''_t, for dgamma
        rt *= dphi[t]
        rt += (1.0 - a) * g
        g = rt
    return {"fw": fw, "x": x, "W": W, "aW": aW, "aWT": np.ascontiguousarray(a * W.T), "dphi": dphi,
            "rho_ddphi": ddphi, "dphi0": dphi0, "ddphi0": ddphi0, "r_prev": r_prev, "e": e, "c": c,
            "gamma": gamma, "rho_init": g @ aW}


def _exact_hvp(model, batch, params: dict, tangent: dict, base: dict | None = None) -> dict:
    """Forward-over-reverse Hessian-vector product of ``neurosim.rnn.loss`` (noise-free).

    Forward-mode derivative, along ``tangent``, of the BPTT backward pass of
    ``neurosim/rnn/rules/bptt.py``: a tangent forward pass (``dv_t``, ``dr_t``, ``dy_t``), then
    the directional derivatives of ``e_t``, ``rho_t``, ``gamma_t`` and of every weight gradient.
    ``phi'`` is differentiated piecewise (``phi''`` of the local smooth piece), as autograd's double
    backward does. ``base`` is :func:`_hvp_base` at ``params`` (computed if omitted).
    """
    if base is None:
        base = _hvp_base(model, batch, params)
    a = model.alpha
    fw, x, dphi, dphi0, r_prev = base["fw"], base["x"], base["dphi"], base["dphi0"], base["r_prev"]
    r = fw.r_tm
    T, B, N = r.shape
    dW = model.recurrent_grad_to_param(tangent["W_rec"], params["W_rec"])  # = d W_eff (elementwise map)
    W_out, dW_out = params["W_out"], tangent["W_out"]

    # tangent forward pass; the terms that do not depend on the recursion are one BLAS call each
    dv0 = np.broadcast_to(tangent["v0"], (B, N))
    drive = x @ (a * tangent["W_in"].T)
    drive += a * tangent["b"]
    drive += r_prev @ (a * dW.T)
    aWT = base["aWT"]
    dv = drive  # overwritten in place, step by step
    dr = np.empty((T, B, N))
    tmp = np.empty((B, N))
    dv_prev, dr_prev = dv0, dphi0 * dv0
    for t in range(T):
        dvt = dv[t]
        np.matmul(dr_prev, aWT, out=tmp)
        dvt += tmp
        dvt += (1.0 - a) * dv_prev
        np.multiply(dphi[t], dvt, out=dr[t])
        dv_prev, dr_prev = dvt, dr[t]
    dy = dr @ W_out.T + r @ dW_out.T + tangent["b_out"]            # (T, B, O)

    # derivatives of the output errors
    e = base["e"]                                                   # (T, B, O)
    de = _loss_output_hvp(fw.y, dy.transpose(1, 0, 2), batch).transpose(1, 0, 2)

    # derivative of the backward pass (dgamma), the gamma-only terms batched
    c, aW, gamma = base["c"], base["aW"], base["gamma"]
    # d rho_t = de_t W_out + e_t dW_out + c dr_t + a dgamma_{t+1} W + a gamma_{t+1} dW
    drho = de @ W_out + e @ dW_out
    if c:
        drho += c * dr
    drho[:-1] += gamma[1:] @ (a * dW)
    src = base["rho_ddphi"] * dv                                    # rho_t phi''_t dv_t
    dgamma = drho  # overwritten in place
    dg = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        dt = dgamma[t]
        np.matmul(dg, aW, out=tmp)
        dt += tmp
        dt *= dphi[t]
        dt += src[t]
        dt += (1.0 - a) * dg
        dg = dt
    drho_init = dg @ aW + gamma[0] @ (a * dW)

    dr_prev = np.concatenate([(dphi0 * dv0)[None], dr[:-1]])
    flat = (T * B, N)
    H_W_eff = a * (dgamma.reshape(flat).T @ r_prev.reshape(flat) + gamma.reshape(flat).T @ dr_prev.reshape(flat))
    return {
        "W_in": a * (dgamma.reshape(flat).T @ x.reshape(T * B, -1)),
        "W_rec": model.recurrent_grad_to_param(H_W_eff, params["W_rec"]),
        "b": a * dgamma.reshape(flat).sum(0),
        "W_out": de.reshape(T * B, -1).T @ r.reshape(flat) + e.reshape(T * B, -1).T @ dr.reshape(flat),
        "b_out": de.reshape(T * B, -1).sum(0),
        "v0": (drho_init * dphi0 + base["rho_init"] * base["ddphi0"] * dv0 + (1.0 - a) * dgamma[0]).sum(0),
    }


_HVP_KINDS = ("exact", "fd")


class _Hessian:
    """``v -> H v`` for the loss of ``model`` on ``batch`` w.r.t. ``names`` (flat vectors).

    ``kind="exact"``: forward-over-reverse (:func:`_exact_hvp`). ``kind="fd"``: central difference
    of exact BPTT gradients through the trainer's ``params=`` override. The caller's model is
    never modified.
    """

    def __init__(self, model, batch, names, eps, kind="exact", weight_decay=0.0,
                 weight_decay_params=("W_in", "W_rec", "W_out")):
        self._gradients = gradients
        lam, decayed = check_weight_decay(weight_decay, weight_decay_params, getattr(model, "params", {}))
        self.weight_decay = lam
        self.kind = _check_choice("hvp", kind, _HVP_KINDS)
        self.names = names
        self.model = model
        self.batch = batch
        self.base = {k: np.asarray(a, dtype=float) for k, a in model.params.items()}
        self.theta = _flatten(self.base, names)
        if not np.all(np.isfinite(self.theta)):
            bad = [n for n in names if not np.all(np.isfinite(self.base[n]))]
            raise ValueError(f"model parameters {bad} contain NaN or inf; curvature is undefined there")
        if self.kind == "exact":
            if not hasattr(model, "effective_recurrent") or not hasattr(model, "run"):
                raise TypeError(f"hvp='exact' needs a neurosim.rnn.LeakyRNN, got {type(model).__name__}; "
                                "use hvp='fd'")
            _phi_second(np.zeros(1), np.zeros(1), model.activation)  # unknown activation -> clear error
            model.check_params(self.base)
        self.dim = self.theta.size
        # the L2 term's Hessian: lambda on the coordinates of the decayed parameters, 0 elsewhere
        self.decay_diag = np.concatenate([np.full(np.size(self.base[n]), lam if n in decayed else 0.0)
                                          for n in names])
        self.eps = _check_eps(eps)
        self.step = self.eps * max(1.0, float(np.linalg.norm(self.theta)))
        self.n_products = 0
        self._hvp_base = None

    def _grad_at(self, flat: np.ndarray) -> np.ndarray:
        params = dict(self.base)
        params.update(_unflatten(flat, self.base, self.names))
        grads = self._gradients(self.model, self.batch, rule="bptt", params=params)
        return _flatten(grads, self.names)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float).reshape(-1)
        out = self._loss_hvp(v)
        if self.weight_decay > 0:
            out = out + self.decay_diag * v
        return out

    def _loss_hvp(self, v: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(v))
        self.n_products += 1
        if norm == 0.0:
            return np.zeros(self.dim)
        if self.kind == "exact":
            tangent = {k: np.zeros_like(a) for k, a in self.base.items()}
            tangent.update(_unflatten(v, self.base, self.names))
            if self._hvp_base is None:  # the forward and backward passes at theta, shared by every product
                self._hvp_base = _hvp_base(self.model, self.batch, self.base)
            return _flatten(_exact_hvp(self.model, self.batch, self.base, tangent, self._hvp_base), self.names)
        u = v / norm
        h = self.step
        g_plus = self._grad_at(self.theta + h * u)
        g_minus = self._grad_at(self.theta - h * u)
        return (g_plus - g_minus) * (norm / (2.0 * h))


def hessian_vector_product(model, batch, v, params=("W_rec",), *, hvp: str = "exact",
                           eps: float = DEFAULT_EPS, blas_threads: int | None = 1, weight_decay: float = 0.0,
                           weight_decay_params=("W_in", "W_rec", "W_out")):
    """Product of the true loss Hessian with a vector: ``H v`` for ``neurosim.rnn.loss(model, batch)``.

    The Hessian is that of the full, untruncated network (exact BPTT gradients), whichever
    rule trained the model.

    Parameters
    ----------
    model : neurosim.rnn.LeakyRNN
        The network (not modified).
    batch : task batch
        ``.inputs``, ``.targets``, ``.mask`` (e.g. ``task.batch(64, rng)``); hold it fixed across
        products so the loss is one deterministic function of the weights.
    v : dict or ndarray
        Direction: a dict ``{name: array shaped like model.params[name]}`` for the names in
        ``params``, or a flat vector of length ``sum(model.params[n].size for n in params)``
        (the names' arrays raveled in C order and concatenated in the order of ``params``).
    params : str or tuple of str, default ("W_rec",)
        Parameters the Hessian is taken with respect to (others are held fixed).
    hvp : {"exact", "fd"}, default "exact"
        How products are computed (see Notes).
    eps : float, default 1e-5
        Relative finite-difference step of ``hvp="fd"`` (ignored by ``"exact"``).
    blas_threads : int or None, default 1
        BLAS threads while computing (``None`` leaves BLAS alone). One thread is fastest for
        these small products on a shared machine.
    weight_decay : float, default 0
        L2 coefficient ``lambda`` of a loss ``E + (lambda / 2) sum_W ||W||^2`` (as trained with
        ``train(..., weight_decay=lambda)``): adds ``lambda v`` on the decayed parameters.
    weight_decay_params : tuple of str, default ("W_in", "W_rec", "W_out")
        The decayed parameters.

    Returns
    -------
    dict or ndarray
        ``H v`` in the same form as ``v``.

    Notes
    -----
    ``hvp="exact"`` (default): forward-over-reverse (Pearlmutter's R-operator). A tangent forward
    pass gives ``dv_t, dr_t, dy_t`` along ``v``; the forward-mode derivative of the BPTT backward
    pass (``rho_t = e_t W_out + c r_t + a gamma_{t+1} W``, ``gamma_t = rho_t phi'(v_t) +
    (1 - a) gamma_{t+1}``, see ``neurosim.rnn.rules.bptt``) then gives the derivative of every
    weight gradient -- ``H v`` exactly, up to rounding, at the cost of about two gradients.
    ``phi'`` is differentiated piecewise (``phi''`` of the local smooth piece; zero for ``relu``),
    which is what autograd's double backward computes. It agrees with ``"fd"`` on smooth networks
    to ~1e-10 relative (``tests/rnn/test_curvature.py``).

    ``hvp="fd"``: central difference of exact BPTT gradients (``neurosim.rnn.gradients``) along
    ``u = v / ||v||``: ``H v ≈ ||v|| (g(θ + h u) − g(θ − h u)) / (2 h)``, ``h = eps · max(1, ||θ||)``.
    Truncation error ``(h² / 6) ||∇³L[u, u, ·]||``, rounding error ``≈ 1e-16 ||g|| / h``; with
    ``eps = 1e-5`` the measured relative error is ~1e-9 for smooth (``tanh``) networks. **Do not
    use it for retanh/relu networks beyond tiny sizes**: any voltage within ``h`` of the kink
    switches branch between the two gradients and adds a spurious ``jump / (2h)``; on a trained
    32-unit retanh network (64 trials of 150 steps) ``lambda_max`` from ``"fd"`` ranged from 1110
    to 2717 as ``eps`` went from 1e-4 to 1e-7.

    For a model with voltage noise (``noise_std > 0``) the Hessian is that of the noise-free loss
    on ``batch``, so it is deterministic.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> model = LeakyRNN(task.n_in, 8, task.n_out, activation="tanh", seed=0)
    >>> batch = task.batch(4, np.random.default_rng(0))
    >>> v = np.random.default_rng(1).normal(size=64)
    >>> u = np.random.default_rng(2).normal(size=64)
    >>> Hv = hessian_vector_product(model, batch, v)
    >>> Hu = hessian_vector_product(model, batch, u)
    >>> bool(abs(u @ Hv - v @ Hu) <= 1e-6 * abs(u @ Hv))       # symmetric
    True
    """
    names = _resolve_params(model, params)
    op = _Hessian(model, batch, names, eps, hvp, weight_decay, weight_decay_params)
    if isinstance(v, Mapping):
        missing = [n for n in names if n not in v]
        if missing:
            raise ValueError(f"v is missing {missing}; give one array per name in params={names}")
        for n in names:
            if np.shape(v[n]) != np.shape(model.params[n]):
                raise ValueError(
                    f"v[{n!r}] has shape {np.shape(v[n])}, but model.params[{n!r}] has shape "
                    f"{np.shape(model.params[n])}"
                )
        flat = _flatten(v, names)
    else:
        flat = np.asarray(v, dtype=float)
        if flat.ndim != 1 or flat.size != op.dim:
            raise ValueError(
                f"v must be a dict of arrays or a flat vector of length {op.dim} "
                f"(params={names}), got shape {flat.shape}"
            )
    if not np.all(np.isfinite(flat)):
        raise ValueError("v contains NaN or inf")
    with _blas_threads(blas_threads, "blas_threads"):
        out = op(flat)
    return _unflatten(out, model.params, names) if isinstance(v, Mapping) else out


def hessian_top_eigenvalues(
    model,
    batch,
    params=("W_rec",),
    k: int = 1,
    tol: float = 1e-6,
    max_iter: int = 500,
    *,
    method: str = "lanczos",
    hvp: str = "exact",
    eps: float = DEFAULT_EPS,
    seed: int | None = 0,
    return_eigenvectors: bool = False,
    blas_threads: int | None = 1,
    weight_decay: float = 0.0,
    weight_decay_params=("W_in", "W_rec", "W_out"),
):
    """The ``k`` largest eigenvalues of the true loss Hessian of an RNN (the paper's curvature).

    Liu et al. (2022) measure curvature as the *leading eigenvalue* of the Hessian of the loss
    with respect to ``W_rec`` of the untruncated network, by power iteration on Hessian-vector
    products (tolerance 1e-6, at most 500 iterations). This function returns the ``k``
    *largest algebraic* eigenvalues (Lanczos, :func:`top_eigenvalues` with ``method="lanczos"``);
    ``method="power"`` reproduces the paper's power iteration, which returns the eigenvalue of
    largest magnitude (the same number near a minimum, where the Hessian is nearly positive
    semi-definite; it differs where a negative curvature dominates).

    Parameters
    ----------
    model : neurosim.rnn.LeakyRNN
        The network (not modified).
    batch : task batch
        Fixed evaluation batch; the loss is ``neurosim.rnn.loss(model, batch)``.
    params : str or tuple of str, default ("W_rec",)
        Parameters the Hessian is taken with respect to.
    k : int, default 1
        Number of eigenvalues.
    tol : float, default 1e-6
        Relative eigenvalue accuracy (ARPACK residual rule ``||H x − θ x|| <= tol |θ|``;
        for ``"power"`` the relative change of the Rayleigh quotient).
    max_iter : int, default 500
        ARPACK restarts (``"lanczos"``) or Hessian-vector products (``"power"``).
    method : {"lanczos", "power"}
        Eigen-solver (see above).
    hvp : {"exact", "fd"}, default "exact"
        How Hessian-vector products are computed (:func:`hessian_vector_product`).
    eps : float, default 1e-5
        Finite-difference step of ``hvp="fd"``.
    seed : int or None, default 0
        Seed of the solver's start vector.
    return_eigenvectors : bool, default False
        Also return the eigenvectors as a ``(dim, k)`` array (flat parameter layout as in
        :func:`hessian_vector_product`).
    blas_threads, weight_decay, weight_decay_params
        As in :func:`hessian_vector_product` (with L2 weight decay ``lambda`` every eigenvalue
        of the decayed block shifts by ``lambda``).

    Returns
    -------
    ndarray, shape (k,)
        Eigenvalues, largest first (plus eigenvectors if asked).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> model = LeakyRNN(task.n_in, 8, task.n_out, activation="tanh", seed=0)
    >>> batch = task.batch(4, np.random.default_rng(0))
    >>> lam = hessian_top_eigenvalues(model, batch, k=2)
    >>> lam.shape, bool(lam[0] >= lam[1])
    ((2,), True)
    """
    names = _resolve_params(model, params)
    op = _Hessian(model, batch, names, eps, hvp, weight_decay, weight_decay_params)
    with _blas_threads(blas_threads, "blas_threads"):
        return top_eigenvalues(
            op, op.dim, k, tol=tol, max_iter=max_iter, method=method, seed=seed,
            return_eigenvectors=return_eigenvectors,
        )


def hessian_trace(
    model,
    batch,
    params=("W_rec",),
    n_samples: int = 32,
    *,
    distribution: str = "rademacher",
    hvp: str = "exact",
    eps: float = DEFAULT_EPS,
    seed: int | None = 0,
    blas_threads: int | None = 1,
    weight_decay: float = 0.0,
    weight_decay_params=("W_in", "W_rec", "W_out"),
) -> TraceEstimate:
    """Hutchinson estimate of the trace of the true loss Hessian (see :func:`hutchinson_trace`).

    The trace is the sum of all eigenvalues: where ``lambda_max`` measures the sharpest
    direction, the trace measures total curvature (e.g. Hessian-trace flatness measures).

    Parameters
    ----------
    model, batch, params, hvp, eps, blas_threads, weight_decay, weight_decay_params
        As in :func:`hessian_vector_product`.
    n_samples : int, default 32
        Probe vectors (each costs one Hessian-vector product = two BPTT gradients).
    distribution : {"rademacher", "gaussian"}
        Probe distribution.
    seed : int or None, default 0
        Seed of the probes.

    Returns
    -------
    TraceEstimate
        ``value`` ± ``stderr``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> model = LeakyRNN(task.n_in, 6, task.n_out, activation="tanh", seed=0)
    >>> batch = task.batch(4, np.random.default_rng(0))
    >>> est = hessian_trace(model, batch, n_samples=8)
    >>> bool(np.isfinite(est.value) and est.stderr >= 0)
    True
    """
    names = _resolve_params(model, params)
    op = _Hessian(model, batch, names, eps, hvp, weight_decay, weight_decay_params)
    with _blas_threads(blas_threads, "blas_threads"):
        return hutchinson_trace(op, op.dim, n_samples, distribution=distribution, seed=seed)


def dense_hessian(model, batch, params=("W_rec",), *, hvp: str = "exact", eps: float = DEFAULT_EPS,
                  max_dim: int = 4096, blas_threads: int | None = 1, weight_decay: float = 0.0,
                  weight_decay_params=("W_in", "W_rec", "W_out")):
    """The full ``(dim, dim)`` loss Hessian, column by column.

    Column ``i`` is :func:`hessian_vector_product` with the unit vector ``e_i``; the result is
    symmetrised, ``(H + H^T) / 2``. Costs ``dim`` products (about ``2 dim`` gradients): for small
    networks and for checking the iterative solvers.

    Parameters
    ----------
    model, batch, params, hvp, eps, blas_threads, weight_decay, weight_decay_params
        As in :func:`hessian_vector_product`.
    max_dim : int, default 4096
        Refuse larger problems (use :func:`hessian_top_eigenvalues` instead).

    Returns
    -------
    ndarray, shape (dim, dim)

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> model = LeakyRNN(task.n_in, 4, task.n_out, activation="tanh", seed=0)
    >>> H = dense_hessian(model, task.batch(4, np.random.default_rng(0)))
    >>> H.shape, bool(np.allclose(H, H.T))
    ((16, 16), True)
    """
    names = _resolve_params(model, params)
    op = _Hessian(model, batch, names, eps, hvp, weight_decay, weight_decay_params)
    max_dim = _check_pos_int("max_dim", max_dim)
    if op.dim > max_dim:
        raise ValueError(
            f"dense Hessian of dim={op.dim} exceeds max_dim={max_dim} ({op.dim}**2 entries, "
            f"{2 * op.dim} gradients); use hessian_top_eigenvalues, or raise max_dim"
        )
    with _blas_threads(blas_threads, "blas_threads"):
        return _materialise(op, op.dim)


def curvature_along_training(
    run,
    batch=None,
    *,
    task=None,
    params=("W_rec",),
    k: int = 1,
    tol: float = 1e-6,
    max_iter: int = 500,
    trace_samples: int = 0,
    batch_size: int = 64,
    seed: int = 0,
    hvp: str = "exact",
    eps: float = DEFAULT_EPS,
    steps=None,
    blas_threads: int | None = 1,
    weight_decay: float | None = None,
    weight_decay_params=None,
    method: str = "lanczos",
):
    """Curvature at each checkpoint of a training run, as new columns of its checkpoint table.

    For every checkpoint ``step`` of ``run.checkpoints`` (or the subset ``steps``), the model
    ``run.model(step)`` is evaluated on the **same** fixed batch, so differences along training
    are differences of the weights, not of the data.

    Parameters
    ----------
    run : neurosim.rnn.Run
        A training run (``.checkpoints`` DataFrame with a ``step`` column, ``.model(step)``).
    batch : task batch, optional
        The evaluation batch. If omitted, ``task.batch(batch_size, np.random.default_rng(check_seed(seed)))``.
    task : task, optional
        Where to draw the batch from when ``batch`` is omitted (default ``run.task``).
    params, k, tol, max_iter, hvp, eps, blas_threads
        As in :func:`hessian_top_eigenvalues`.
    trace_samples : int, default 0
        If > 0, also estimate the Hessian trace with this many Hutchinson probes.
    batch_size, seed : int
        Size and seed of the evaluation batch drawn from ``task``; ``seed`` also seeds the
        solvers.
    steps : sequence of int, optional
        Evaluate only these checkpoint steps (rows of other steps get NaN).
    weight_decay, weight_decay_params : optional
        The L2 term of the loss (:func:`hessian_vector_product`); default: the run's own
        (``run.settings["weight_decay"]``, 0 if it was trained without).
    method : {"lanczos", "power"}
        Eigen-solver of :func:`hessian_top_eigenvalues` (``"power"``: the paper's).

    Returns
    -------
    pandas.DataFrame
        A copy of ``run.checkpoints`` with ``lambda_max`` (and ``lambda_2 … lambda_k`` if
        ``k > 1``; and ``hessian_trace``, ``hessian_trace_se`` if ``trace_samples > 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN, train
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> run = train(LeakyRNN(task.n_in, 6, task.n_out, seed=0), task, rule="bptt", steps=4,
    ...             lr=1e-3, batch_size=4, seed=0, checkpoints=[0, 4], progress=False)
    >>> table = curvature_along_training(run, batch_size=4)
    >>> list(table["step"]), bool(table["lambda_max"].notna().all())
    ([0, 4], True)
    """
    table = getattr(run, "checkpoints", None)
    if not isinstance(table, pd.DataFrame) or "step" not in table.columns:
        raise TypeError(
            "run must be a neurosim.rnn.Run with a .checkpoints DataFrame holding a 'step' column; "
            f"got {type(run).__name__}"
        )
    if batch is None:
        task = getattr(run, "task", None) if task is None else task
        if task is None or not hasattr(task, "batch"):
            raise ValueError("give the evaluation batch, or the task (task=...) to draw one from")
        batch = task.batch(_check_pos_int("batch_size", batch_size), np.random.default_rng(check_seed(seed)))
    trace_samples = _check_pos_int("trace_samples", trace_samples, minimum=0)
    k = _check_pos_int("k", k)
    out = table.copy()
    all_steps = [int(s) for s in out["step"]]
    if steps is None:
        wanted = set(all_steps)
    else:
        wanted = {int(s) for s in np.atleast_1d(steps)}
        unknown = sorted(wanted - set(all_steps))
        if unknown:
            raise ValueError(f"steps {unknown} are not checkpoints of this run; it has {all_steps}")
    settings = getattr(run, "settings", {}) or {}
    if weight_decay is None:
        weight_decay = float(settings.get("weight_decay", 0.0))
    if weight_decay_params is None:
        weight_decay_params = tuple(settings.get("weight_decay_params", ("W_in", "W_rec", "W_out")))
    wd = {"weight_decay": weight_decay, "weight_decay_params": weight_decay_params}
    cols = ["lambda_max"] + [f"lambda_{i}" for i in range(2, k + 1)]
    for c in cols + (["hessian_trace", "hessian_trace_se"] if trace_samples else []):
        out[c] = np.nan
    for row, step in enumerate(all_steps):
        if step not in wanted:
            continue
        model = run.model(step)
        lam = hessian_top_eigenvalues(model, batch, params, k, tol, max_iter, hvp=hvp, eps=eps, seed=seed,
                                      blas_threads=blas_threads, method=method, **wd)
        out.iloc[row, [out.columns.get_loc(c) for c in cols]] = lam
        if trace_samples:
            est = hessian_trace(model, batch, params, trace_samples, hvp=hvp, eps=eps, seed=seed,
                                blas_threads=blas_threads, **wd)
            out.iloc[row, out.columns.get_loc("hessian_trace")] = est.value
            out.iloc[row, out.columns.get_loc("hessian_trace_se")] = est.stderr
    out.attrs = dict(getattr(table, "attrs", {}))
    out.attrs["curvature"] = {
        "params": list(_resolve_params(model if wanted else run.model(all_steps[0]), params)),
        "k": k, "tol": tol, "max_iter": max_iter, "hvp": hvp, "eps": eps, "batch_size": len(batch.inputs),
        "seed": seed, "trace_samples": trace_samples,
        "solver": "lanczos (scipy eigsh, which='LA')" if method == "lanczos" else "power iteration",
        "weight_decay": float(weight_decay), "weight_decay_params": list(weight_decay_params),
    }
    return out


class curvature_recorder:  # noqa: N801 - used like a function: train(record={"lambda_max": curvature_recorder()})
    """A per-checkpoint curvature measurement for ``neurosim.rnn.train(..., record=...)``.

    Called as ``f(model, task)`` at each checkpoint, it returns the top eigenvalue of the loss
    Hessian (:func:`hessian_top_eigenvalues`) on one fixed evaluation batch, drawn from the task
    on the first call with its own generator (``seed``) — the training random stream is not
    touched, so recording curvature does not change the run. ``which="trace"`` records the
    Hutchinson trace estimate instead.

    Parameters
    ----------
    params, tol, max_iter, hvp, eps, blas_threads
        As in :func:`hessian_top_eigenvalues`.
    batch_size, seed : int
        Size and seed of the fixed evaluation batch.
    which : {"lambda_max", "trace"}
    trace_samples : int
        Hutchinson probes when ``which="trace"``.
    weight_decay, weight_decay_params
        The L2 term of the loss (:func:`hessian_vector_product`); pass the training run's.
    method : {"lanczos", "power"}
        Eigen-solver (``"power"``: the paper's power iteration).
    task : Task, optional
        Draw the fixed batch from this task instead of the training task (e.g. the validation
        images: ``SequentialMNIST().validation_task()``).

    Examples
    --------
    >>> from neurosim.rnn import LeakyRNN, train
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> run = train(LeakyRNN(task.n_in, 6, task.n_out, seed=0), task, steps=3, lr=1e-3, batch_size=4,
    ...             checkpoints=[0, 3], progress=False, record={"lambda_max": curvature_recorder(batch_size=4)})
    >>> list(run.checkpoints.columns)
    ['step', 'loss', 'accuracy', 'eval_loss', 'lambda_max']
    """

    def __init__(self, params=("W_rec",), *, batch_size: int = 64, seed: int = 0, tol: float = 1e-6,
                 max_iter: int = 500, hvp: str = "exact", eps: float = DEFAULT_EPS, which: str = "lambda_max",
                 trace_samples: int = 32, blas_threads: int | None = 1, weight_decay: float = 0.0,
                 weight_decay_params=("W_in", "W_rec", "W_out"), method: str = "lanczos", task=None):
        self.params = params
        self.wd = {"weight_decay": weight_decay, "weight_decay_params": weight_decay_params}
        check_weight_decay(weight_decay, weight_decay_params, ("W_in", "W_rec", "b", "W_out", "b_out", "v0"))
        self.method = _check_choice("method", method, _METHODS)
        self.task = task
        self.batch_size = _check_pos_int("batch_size", batch_size)
        self.seed = seed
        self.tol, self.max_iter, self.hvp, self.eps = tol, max_iter, hvp, eps
        self.which = _check_choice("which", which, ("lambda_max", "trace"))
        self.trace_samples = _check_pos_int("trace_samples", trace_samples)
        self.blas_threads = blas_threads
        self._batch = None

    def __call__(self, model, task) -> float:
        if self._batch is None:
            source = task if self.task is None else self.task
            self._batch = source.batch(self.batch_size, np.random.default_rng(self.seed))
        if self.which == "trace":
            return float(hessian_trace(model, self._batch, self.params, self.trace_samples, hvp=self.hvp,
                                       eps=self.eps, seed=self.seed, blas_threads=self.blas_threads, **self.wd).value)
        return float(hessian_top_eigenvalues(model, self._batch, self.params, 1, self.tol, self.max_iter,
                                             hvp=self.hvp, eps=self.eps, seed=self.seed, method=self.method,
                                             blas_threads=self.blas_threads, **self.wd)[0])


class _RuleJacobian:
    """``v -> J v`` with ``J = d g_rule / d theta`` (plus the L2 term), by central differences that
    never straddle a kink.

    ``retanh``/``relu`` rates have a kink at ``v = 0`` and Dale's law a kink at ``W_rec = 0``; a
    rule's gradient jumps there, and a difference across a jump adds ``jump / (2h)``. Each product
    therefore checks that no voltage (over the whole batch) and no Dale weight changes
    sign between ``theta - h u`` and ``theta + h u``, and if one does, retries with ``h / 10`` (up to
    ``max_halvings`` times): the result is the derivative of the smooth piece, the convention of the
    exact Hessian-vector products (``phi''`` of the local piece).
    """

    max_halvings = 6

    def __init__(self, model, batch, names, rule, options, eps, weight_decay, weight_decay_params):
        self.model, self.batch, self.names, self.rule, self.options = model, batch, names, rule, dict(options)
        lam, decayed = check_weight_decay(weight_decay, weight_decay_params, model.params)
        self.base = {k: np.asarray(a, dtype=float) for k, a in model.params.items()}
        self.theta = _flatten(self.base, names)
        self.decay_diag = np.concatenate([np.full(np.size(self.base[n]), lam if n in decayed else 0.0)
                                          for n in names])
        self.step = _check_eps(eps) * max(1.0, float(np.linalg.norm(self.theta)))
        self.dim = self.theta.size
        self.n_products = 0
        self.n_retries = 0
        self.kinked = getattr(model, "activation", "tanh") in ("retanh", "relu")
        self.dale = getattr(model, "dale_sign", None) is not None

    def _params(self, flat):
        params = dict(self.base)
        params.update(_unflatten(flat, self.base, self.names))
        return params

    def _pattern(self, params) -> np.ndarray:
        """Which side of every kink the network is on: voltage signs (and Dale weight signs)."""
        parts = []
        if self.kinked:
            fw = self.model.run(self.batch.inputs, params=params)
            parts += [(fw.v_tm > 0).ravel(), (fw.v_init > 0).ravel()]
        if self.dale:
            parts.append((params["W_rec"] > 0).ravel())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def _grad(self, params):
        return _flatten(gradients(self.model, self.batch, rule=self.rule, params=params, **self.options), self.names)

    def __call__(self, v):
        v = np.asarray(v, dtype=float).reshape(-1)
        norm = float(np.linalg.norm(v))
        self.n_products += 1
        if norm == 0.0:
            return np.zeros(self.dim)
        u = v / norm
        h = self.step
        for attempt in range(self.max_halvings + 1):
            plus, minus = self._params(self.theta + h * u), self._params(self.theta - h * u)
            if not (self.kinked or self.dale) or np.array_equal(self._pattern(plus), self._pattern(minus)):
                break
            self.n_retries += 1
            h /= 10.0
        else:
            raise CurvatureConvergenceError(
                f"a kink (voltage or Dale weight at 0) lies within {h * 10:.2g} of the parameters along a "
                "probe direction; the rule's Jacobian is not defined there")
        jv = (self._grad(plus) - self._grad(minus)) * (norm / (2.0 * h))
        if not np.all(np.isfinite(jv)):
            raise ValueError("the rule's gradient is not finite near these parameters (diverged network?)")
        return jv + self.decay_diag * v


def rule_curvature(model, batch, rule: str = "eprop", params=("W_rec",), *, rule_options: Mapping | None = None,
                   weight_decay: float = 0.0, weight_decay_params=("W_in", "W_rec", "W_out"), eps: float = 1e-6,
                   tol: float = 1e-4, max_iter: int = 300, seed: int | None = 0,
                   blas_threads: int | None = 1) -> complex:
    """A learning rule's own curvature: the leading eigenvalue of the Jacobian of its update direction.

    A rule updates ``theta <- theta - lr * g_rule(theta)`` (plus ``lambda theta`` with L2 weight
    decay). Near a fixed point the update is linear with Jacobian ``I - lr * J``, ``J = d g_rule /
    d theta``; it is stable only if every eigenvalue ``mu`` of ``J`` has ``|1 - lr mu| < 1``, i.e.
    ``0 < Re mu < 2 / lr`` for real ``mu``. For BPTT ``J`` is the loss Hessian and the leading
    eigenvalue is ``lambda_max`` (:func:`hessian_top_eigenvalues`); for a truncated rule
    (e-prop, ...) ``J`` is not symmetric and can be much flatter than the true Hessian — the
    mechanism by which, in Liu et al. (2022)'s argument, approximate rules settle where the true
    ``lambda_max`` exceeds ``2 / lr``.

    Returns the eigenvalue of ``J`` (w.r.t. ``params``) with the largest real part, by the
    implicitly restarted Arnoldi method (ARPACK, :func:`scipy.sparse.linalg.eigs`, a Krylov
    refinement of power iteration) on Jacobian-vector products by central differences of the
    rule's gradient: ``J v ≈ ||v|| (g(θ + h u) − g(θ − h u)) / (2 h)``, ``u = v / ||v||``,
    ``h = eps · max(1, ||θ||)``, reduced where a kink lies within ``h`` (see ``eps``): two rule
    gradients and, on kinked networks, two forward passes per product.

    Parameters
    ----------
    model : neurosim.rnn.LeakyRNN
    batch : Batch
        Fixed batch (e.g. 256 validation images).
    rule : str
        Any rule of :func:`neurosim.rnn.gradients`; ``rule_options`` its options.
    params : str or tuple of str, default ("W_rec",)
    weight_decay, weight_decay_params
        The L2 term of the loss the rule descends (adds ``lambda`` on the decayed block).
    eps : float, default 1e-6
        Relative finite-difference step. On ``retanh``/``relu`` networks (and with Dale's law) a
        voltage (weight) that crosses its kink within the step adds a spurious ``jump / (2h)``;
        every product checks the sign pattern of all voltages and Dale weights at both ends and,
        if any changed, retries with a ten times smaller step (up to 6 times), so the result is
        the Jacobian of the smooth piece — the convention of the exact Hessian-vector products.
        Without the check, on a 128-unit retanh network and 256 sequences of 28 steps, BPTT's
        finite-difference "curvature" came out 100× its exact ``lambda_max``.
    tol, max_iter : float, int
        ARPACK's relative tolerance and restart cap.
    seed : int or None
        Seed of the start vector.
    blas_threads : int or None

    Returns
    -------
    complex
        The leading eigenvalue (imaginary part 0 for BPTT up to rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> model = LeakyRNN(task.n_in, 6, task.n_out, activation="tanh", seed=0)
    >>> batch = task.batch(8, np.random.default_rng(0))
    >>> mu = rule_curvature(model, batch, "bptt", tol=1e-8)
    >>> lam = hessian_top_eigenvalues(model, batch, tol=1e-8)[0]
    >>> bool(abs(mu.real - lam) < 1e-5 * abs(lam))
    True
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs  # measured import cost

    names = _resolve_params(model, params)
    op = _RuleJacobian(model, batch, names, rule, rule_options or {}, eps, weight_decay, weight_decay_params)
    tol = _check_tol(tol)
    max_iter = _check_pos_int("max_iter", max_iter)
    v0 = np.random.default_rng(seed).standard_normal(op.dim)
    with _blas_threads(blas_threads, "blas_threads"):
        if op.dim <= 3:
            J = np.column_stack([op(e) for e in np.eye(op.dim)])
            w = np.linalg.eigvals(J)
            return complex(w[np.argmax(w.real)])
        linop = LinearOperator((op.dim, op.dim), matvec=op, dtype=float)
        try:
            w = eigs(linop, k=1, which="LR", tol=tol, maxiter=max_iter, v0=v0, return_eigenvectors=False)
        except ArpackNoConvergence:
            raise CurvatureConvergenceError(
                f"Arnoldi (ARPACK) did not converge to tol={tol:g} within max_iter={max_iter} restarts; "
                "raise max_iter or loosen tol") from None
    return complex(w[0])
