r"""Dynamical Similarity Analysis (Ostrow, Eisen, Kozachkov & Fiete, NeurIPS 2023).

DSA compares *how* two systems evolve, not where their states lie.  Each system is given as
trajectories ``(trajectories, time, units)`` (conditions or trials are trajectories); its
dynamics are summarised by a linear operator fitted in a delay-embedded space, and two
operators are compared up to an orthogonal change of coordinates.

Per system (:func:`dsa_prepare`, done once per system, returns a :class:`DMDFit`):

1. **Delay (Hankel) embedding** with ``d = n_delays`` and interval ``τ = delay_interval``:
   for each trajectory ``x_0 … x_{T-1}`` the embedded state at row ``t`` is
   ``h_t = [x_{t+(d-1)τ}, x_{t+(d-2)τ}, …, x_t]`` (newest block first), ``t = 0 … T-(d-1)τ-1``;
   ``h_t`` has ``d·units`` entries.  Rows of every trajectory are stacked into ``H``.
2. **Reduced rank**: the thin SVD ``H = P Σ Qᵀ``; the first ``r = rank`` columns of ``P``
   are the (whitened, "eigen-time-delay") coordinates ``z_t`` of each embedded state.
3. **DMD** (principal-component regression, HAVOK-style): the least-squares operator
   ``A = argmin Σ ‖z_{t+1} − A z_t‖²`` over transitions inside each trajectory (never across
   two).  ``A`` is ``r × r``; its eigenvalues are the one-step multipliers of the fitted
   linear dynamics (they equal those of the same fit in unwhitened principal coordinates,
   ``Σ_r A Σ_r⁻¹``).  ``H`` is not centred, as in DSA: a constant offset is a mode with
   eigenvalue 1.

Per pair (:func:`dsa_compare`):

* ``score="angular"`` (DSA's Procrustes analysis over vector fields): with ``Â = A/‖A‖_F``,
  ``B̂ = B/‖B‖_F`` (zero-padded to equal size when the ranks differ),

  .. math:: θ(A, B) = \min_{C ∈ O(r)} \arccos \operatorname{tr}(Âᵀ C B̂ Cᵀ)
            = 2 \arcsin\bigl(\tfrac12 \min_{C ∈ O(r)} ‖Â − C B̂ Cᵀ‖_F\bigr),

  in **radians**, in ``[0, π]``; 0 = the same dynamics up to an orthogonal change of
  coordinates (and a positive rescaling of the operator).  ``O(r)`` includes reflections:
  each system's reduced basis is only defined up to the sign of every column.
* ``score="euclidean"``: ``min_C ‖A − C B Cᵀ‖_F`` on the unnormalised operators (same
  optimal ``C``), in operator units (dimensionless one-step multipliers).
* ``score="wasserstein"`` (DSA v2's default): the 2-Wasserstein distance between the two
  eigenvalue spectra, uniform mass on each of the ``r`` eigenvalues as points of the complex
  plane (the smaller spectrum zero-padded):
  ``W₂ = sqrt( min_π (1/r) Σ_i |λ_i − μ_π(i)|² )``, exact by assignment
  (:func:`scipy.optimize.linear_sum_assignment`; for equal uniform masses an optimal plan is
  a permutation).  Units: eigenvalue (one-step multiplier) units, dimensionless; 0 = same
  spectrum.  It is invariant to any invertible change of coordinates, not only orthogonal
  ones.  ``dsa-metric`` v2 reports the squared value (``ot.emd2`` on squared distances),
  i.e. ``W₂²``.

No closed form exists for the angular minimum (it contains graph matching).  It is found by
local optimisation from several starts, half of them in each component of ``O(r)``: two
*informed* starts (eigenbases of the symmetric parts ``(A+Aᵀ)/2``, ``(B+Bᵀ)/2`` matched in
sorted order, column signs chosen by a greedy ±1 search, one start per determinant) and
``n_restarts`` Haar-random orthogonal starts drawn with ``seed`` (alternating determinant).
Each start ``C₀`` is refined by L-BFGS (:func:`scipy.optimize.minimize`) in the Cayley chart
``C = C₀ (I − S)⁻¹ (I + S)``, ``S`` skew-symmetric (``r(r−1)/2`` free parameters, analytic
gradient), re-centred at the optimum until the objective gains less than ``tol``.  A chart
never leaves the component of its start, so both components are searched.  Convergence:
the projected gradient of ``tr(ÂᵀCB̂Cᵀ)`` is below ``tol`` (default ``1e-8``), or an
iteration's relative gain below ``tol·1e-4``, or ``maxiter`` (default 500) L-BFGS iterations
per chart; the angle is computed from the residual
``‖Â − CB̂Cᵀ‖_F`` so that it is accurate near 0 (two systems related by an exactly
orthogonal change of coordinates give ``θ < 1e-6`` rad).  The result is an upper bound on
the true minimum; more restarts usually lower it.  All starts get a loose first pass
(gradient ``1e-4``, 60 iterations); the best three are refined to ``tol``.  The fit and the
search run on one BLAS thread: the search's products are tiny, and the fit's partial
eigendecomposition of an M1-sized Gram matrix took 0.08 s on one thread against 4–6 s on
two threads of a busy 2-core machine.

Input flag: the metrics in this module take ``(trajectories, time, units)`` arrays, not
``(samples, features)`` matrices.  Every public comparison callable here carries
``.input = "trajectories"`` (``TRAJECTORY_INPUT``) and the registry's :class:`Measure`
exposes the same ``.input``; callers that flatten ``(condition, time)`` into samples for the
other metrics (``compare``, ``pairwise``) must dispatch on it and pass trajectories instead.

Defaults (``n_delays=10``, ``rank=10``): for 10-ms bins ten delays span 100 ms, one
membrane time constant of the paper's RNN (τ = 10 steps) and the time scale of M1's
rotational dynamics; ten dimensions hold the dominant low-dimensional dynamics of
condition-averaged reaching data (jPCA uses 6) while keeping the Procrustes search small
(45 free parameters).  On the M1 data (8 × 121 × 141) a fit took 0.1–0.25 s and a
comparison 0.05–0.15 s (busy 2-core machine).  ``rank=None`` keeps every numerically
non-zero direction (DSA's default), which is slow and overfits noisy data.

Reference: M. Ostrow, A. Eisen, L. Kozachkov, I. Fiete, "Beyond geometry: comparing the
temporal structure of computation in neural circuits with dynamical similarity analysis",
NeurIPS 2023.  Wasserstein score: DSA v2 (``dsa-metric``), after Redman et al. 2023.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from neurosim.metrics._validate import (
    check_choice,
    check_memory,
    check_number,
    check_seed,
    refuse_masked,
    rescale,
)

__all__ = [
    "TRAJECTORY_INPUT",
    "DMDFit",
    "hankel_embedding",
    "dsa_prepare",
    "dsa_compare",
    "dsa_distance",
]

#: value of the ``.input`` flag of metrics that need ``(trajectories, time, units)`` arrays
TRAJECTORY_INPUT = "trajectories"

_SCORES = ("angular", "euclidean", "wasserstein")
_RAGGED = ("error", "separate", "truncate")
# singular values below this fraction of the largest are numerically zero (the Gram route
# resolves singular values down to about sqrt(machine epsilon) of the largest)
_RANK_RTOL = 1e-7
# the Procrustes search is thousands of tiny products: one BLAS thread is several times faster
# (a multi-threaded BLAS on a busy machine is ten times slower); made on first use
_BLAS: list = []


def _one_blas_thread():
    if not _BLAS:
        from threadpoolctl import ThreadpoolController  # imported on first use: measured import cost (inspects every loaded library)

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------- validation
def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_float(arr, name: str) -> np.ndarray:
    a = np.asarray(refuse_masked(arr, name))
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {a.dtype}; convert it with np.asarray({name}, dtype=float)"
        )
    return np.asarray(a, dtype=np.float64)


def _check_trajectories(X, name: str, ragged: str) -> list[np.ndarray]:
    """Return ``X`` as a list of finite float64 ``(time, units)`` arrays or raise."""
    ragged = check_choice(ragged, _RAGGED, "ragged")
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(
            f"{name} must be a (trajectories, time, units) array or a list of (time, units) arrays, "
            f"got {type(X).__name__}"
        )
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is an empty list; pass at least one (time, units) trajectory")
        trajs = [_as_float(x, f"{name}[{k}]") for k, x in enumerate(X)]
        for k, x in enumerate(trajs):
            if x.ndim != 2:
                raise ValueError(
                    f"{name}[{k}] must be 2-D (time, units), got {x.ndim}-D with shape {x.shape}"
                )
        units = {x.shape[1] for x in trajs}
        if len(units) > 1:
            raise ValueError(f"every trajectory of {name} must have the same units; got unit counts {sorted(units)}")
        lengths = [x.shape[0] for x in trajs]
        if len(set(lengths)) > 1:
            if ragged == "error":
                raise ValueError(
                    f"trajectories of {name} have unequal lengths (time steps {sorted(set(lengths))}); choose a "
                    "policy: ragged='separate' embeds each trajectory on its own (transitions never cross "
                    f"trajectories) or ragged='truncate' cuts every trajectory to the shortest ({min(lengths)})"
                )
            if ragged == "truncate":
                trajs = [x[: min(lengths)] for x in trajs]
    else:
        arr = _as_float(X, name)
        if arr.ndim != 3:
            hint = (
                f" (a single trajectory of shape (time, units) is {name}[None]; a flattened "
                "(condition*time, unit) matrix must be reshaped back, because DSA needs to know where "
                "one trajectory ends)"
                if arr.ndim == 2
                else ""
            )
            raise ValueError(
                f"{name} must be 3-D (trajectories, time, units), got {arr.ndim}-D with shape {arr.shape}{hint}"
            )
        if 0 in arr.shape:
            raise ValueError(f"{name} is empty (shape {arr.shape})")
        trajs = list(arr)
    for k, x in enumerate(trajs):
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise ValueError(
                f"{name} contains {int((~np.isfinite(x)).sum())} non-finite value(s) in trajectory {k} "
                f"(first at time {bad[0]}, unit {bad[1]}); drop or impute them before comparing"
            )
    return trajs


# --------------------------------------------------------------------------- embedding
def hankel_embedding(X, n_delays: int = 10, delay_interval: int = 1) -> np.ndarray:
    """Delay (Hankel) embedding of trajectories.

    Parameters
    ----------
    X : array (trajectories, time, units)
    n_delays : int
        Number ``d`` of delayed copies (1 = no embedding).
    delay_interval : int
        Steps ``τ`` between two copies.

    Returns
    -------
    ndarray (trajectories, time − (d−1)τ, d·units)
        Row ``t`` of trajectory ``k`` is ``[x_{t+(d−1)τ}, x_{t+(d−2)τ}, …, x_t]`` (newest block
        first, the layout of DSA).

    Examples
    --------
    >>> X = np.arange(5.0).reshape(1, 5, 1)
    >>> hankel_embedding(X, n_delays=2)[0].tolist()
    [[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [4.0, 3.0]]
    """
    trajs = _check_trajectories(X, "X", "error")
    d = _check_int(n_delays, "n_delays", 1)
    tau = _check_int(delay_interval, "delay_interval", 1)
    _check_length(trajs, d, tau, "X", need=1)
    return np.stack([_embed(x, d, tau) for x in trajs])


def _embed(x: np.ndarray, d: int, tau: int) -> np.ndarray:
    T, n = x.shape
    L = T - (d - 1) * tau
    out = np.empty((L, d * n))
    for j in range(d):
        start = (d - 1 - j) * tau
        out[:, j * n:(j + 1) * n] = x[start:start + L]
    return out


def _check_length(trajs, d: int, tau: int, name: str, need: int = 2) -> None:
    shortest = min(x.shape[0] for x in trajs)
    minimum = (d - 1) * tau + need
    if shortest < minimum:
        raise ValueError(
            f"{name} has too few time steps for the delays: its shortest trajectory has {shortest}, but "
            f"n_delays={d} with delay_interval={tau} needs at least (n_delays-1)*delay_interval+{need} = "
            f"{minimum}; reduce n_delays or delay_interval"
        )


# --------------------------------------------------------------------------- per system
@dataclass(frozen=True)
class DMDFit:
    """A system's fitted linear dynamics in delay-embedded, reduced coordinates.

    Made by :func:`dsa_prepare`; compared by :func:`dsa_compare`.

    Attributes
    ----------
    operator : ndarray (rank, rank)
        ``A`` with ``z_{t+1} ≈ A z_t`` in the whitened SVD coordinates of the Hankel matrix.
    eigenvalues : ndarray (rank,), complex
        Eigenvalues of ``A`` (one-step multipliers), sorted by decreasing modulus.
    singular_values : ndarray (rank,)
        The leading singular values of the Hankel matrix (data units).
    rank, n_delays, delay_interval, n_units, n_trajectories, n_transitions : int
    r2 : float
        One-step prediction R² of the fit in the reduced coordinates (1 = perfect).
    """

    operator: np.ndarray
    eigenvalues: np.ndarray
    singular_values: np.ndarray
    rank: int
    n_delays: int
    delay_interval: int
    n_units: int
    n_trajectories: int
    n_transitions: int
    r2: float

    def __repr__(self) -> str:
        return (
            f"DMDFit(rank={self.rank}, n_delays={self.n_delays}, delay_interval={self.delay_interval}, "
            f"n_units={self.n_units}, n_trajectories={self.n_trajectories}, r2={self.r2:.4f})"
        )


def _leading_left_singular(H: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``r`` left singular vectors and singular values of ``H`` (M, D), via a Gram matrix.

    The Gram matrix of the smaller side is eigendecomposed for its top ``r`` pairs only, far
    cheaper than a full SVD for M1-sized Hankel matrices (896 × 1410).
    """
    import scipy.linalg  # imported on first use: measured import cost (~0.2 s of import neurosim)

    M, D = H.shape
    if M <= D:
        G = H @ H.T
        w, P = scipy.linalg.eigh(G, subset_by_index=[M - r, M - 1], check_finite=False)
        w, P = w[::-1], P[:, ::-1]
        s = np.sqrt(np.clip(w, 0.0, None))
    else:
        G = H.T @ H
        w, Q = scipy.linalg.eigh(G, subset_by_index=[D - r, D - 1], check_finite=False)
        w, Q = w[::-1], Q[:, ::-1]
        s = np.sqrt(np.clip(w, 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            P = (H @ Q) / np.where(s > 0, s, 1.0)
    return P, s


def dsa_prepare(
    X,
    *,
    n_delays: int = 10,
    delay_interval: int = 1,
    rank: int | None = 10,
    ragged: str = "error",
    name: str = "X",
) -> DMDFit:
    """Fit one system's DSA operator: delay embedding, rank reduction, DMD.

    Parameters
    ----------
    X : array (trajectories, time, units) or list of (time, units) arrays
        Trajectories of one system (conditions or trials).  Float64 is used internally.
    n_delays : int, default 10
        Delayed copies in the embedding (see the module notes for the choice of default).
    delay_interval : int, default 1
        Steps between copies.
    rank : int or None, default 10
        Dimension ``r`` of the reduced coordinates; must not exceed the embedding dimension
        ``n_delays · units`` or the number of embedded states.  ``None`` keeps every
        numerically non-zero direction.  A rank above the numerical rank of the Hankel matrix
        is lowered to it with a ``UserWarning`` (directions of pure round-off carry no dynamics).
    ragged : {"error", "separate", "truncate"}, default "error"
        Policy for a list of trajectories of unequal length: raise, embed each on its own, or
        cut all to the shortest.
    name : str
        Name used in error messages.

    Returns
    -------
    DMDFit

    Raises
    ------
    ValueError
        Wrong ndim, NaN/inf, too few time steps for the delays, rank larger than the embedding,
        unequal lengths without a policy, all-zero data.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4, 50, 3)).cumsum(axis=1)
    >>> fit = dsa_prepare(X, n_delays=2, rank=4)
    >>> fit.operator.shape, fit.eigenvalues.shape
    ((4, 4), (4,))
    """
    trajs = _check_trajectories(X, name, ragged)
    d = _check_int(n_delays, "n_delays", 1)
    tau = _check_int(delay_interval, "delay_interval", 1)
    _check_length(trajs, d, tau, name)
    n_units = trajs[0].shape[1]
    # the Hankel matrix's shape, known before it is built (so its memory is estimated first)
    M, D = sum(x.shape[0] - (d - 1) * tau for x in trajs), d * n_units
    n_transitions = M - len(trajs)
    max_rank = min(M, D)
    if rank is None:
        r = max_rank
    else:
        r = _check_int(rank, "rank", 1)
        if r > D:
            raise ValueError(
                f"rank={r} is larger than the embedding dimension n_delays*units = {d}*{n_units} = {D} of {name}; "
                "lower rank or raise n_delays"
            )
        if r > M:
            raise ValueError(
                f"rank={r} is larger than the number of embedded states ({M}) of {name}; lower rank or "
                "provide longer/more trajectories"
            )
    if r > n_transitions:
        raise ValueError(
            f"rank={r} exceeds the {n_transitions} transitions available in {name}: the operator would be "
            "under-determined; lower rank or provide longer/more trajectories"
        )
    # the Hankel matrix (built in blocks, then joined), the Gram matrix of its smaller side, the
    # eigenvectors and the basis P: estimated before anything is allocated
    k = min(M, D)
    check_memory(8.0 * (2.0 * M * D + 3.0 * k * k + (M + D) * r),
                 f"DSA's rank reduction of {name} (Hankel matrix {M}x{D}, rank {r})",
                 "pass a smaller rank= (e.g. rank=10) or fewer n_delays, or subsample the trajectories")
    blocks = [_embed(x, d, tau) for x in trajs]
    H = np.concatenate(blocks, axis=0)
    # the operator does not change under a scale of the data: compute on H * 2**-e (exact), so
    # the Gram matrix neither overflows (data near 1e300) nor underflows (near 1e-300)
    H, _ = rescale(H)
    with _one_blas_thread():
        P, s = _leading_left_singular(H, r)
    if not (np.all(np.isfinite(s)) and s[0] > 0):
        raise ValueError(f"{name} is all zeros after embedding: there are no dynamics to fit")
    numerical = int(np.sum(s > _RANK_RTOL * s[0]))
    if numerical < r:
        if rank is not None:
            warnings.warn(
                f"{name}: the Hankel matrix has numerical rank {numerical} < rank={r}; using rank {numerical}",
                UserWarning,
                stacklevel=2,
            )
        r = numerical
        P, s = P[:, :r], s[:r]
    # fix each basis vector's sign from the data (sum, else third moment, over embedded
    # states): the fit then does not depend on the trajectories' order or on an orthogonal
    # map of the units through the eigensolver's arbitrary signs
    first = P.sum(axis=0)
    third = (P**3).sum(axis=0)
    sign = np.where(np.abs(first) > 1e-8 * np.sqrt(M), np.sign(first), np.sign(third))
    P = P * np.where(sign == 0, 1.0, sign)
    # transitions inside each trajectory only
    starts = np.cumsum([0] + [b.shape[0] for b in blocks])
    prev = np.concatenate([np.arange(a, b - 1) for a, b in zip(starts[:-1], starts[1:])])
    Z0, Z1 = P[prev], P[prev + 1]
    At, *_ = np.linalg.lstsq(Z0, Z1, rcond=None)
    A = np.ascontiguousarray(At.T)
    resid = Z1 - Z0 @ At
    ss_tot = float(np.sum((Z1 - Z1.mean(axis=0)) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return DMDFit(A, _sorted_eigenvalues(A), s, r, d, tau, n_units, len(blocks), n_transitions, r2)


def _sorted_eigenvalues(A: np.ndarray) -> np.ndarray:
    """Eigenvalues by decreasing modulus (ties: real part, then imaginary part)."""
    ev = np.linalg.eigvals(A).astype(complex)
    return ev[np.lexsort((ev.imag, ev.real, -np.abs(ev)))]


# --------------------------------------------------------------------------- per pair
def _as_operator(F, name: str) -> np.ndarray:
    if isinstance(F, DMDFit):
        return F.operator
    A = _as_float(F, name)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a DMDFit (from dsa_prepare) or a square operator matrix, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or inf entries")
    return A


def _pad(A: np.ndarray, n: int) -> np.ndarray:
    if A.shape[0] == n:
        return A
    out = np.zeros((n, n))
    out[: A.shape[0], : A.shape[1]] = A
    return out


def _haar(rng: np.random.Generator, n: int, det: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(n, n)))
    Q = Q * np.sign(np.diag(R))
    if np.linalg.det(Q) * det < 0:
        Q[:, 0] = -Q[:, 0]
    return Q


def _informed_starts(A: np.ndarray, B: np.ndarray) -> list[np.ndarray]:
    """Eigenbases of the symmetric parts matched in sorted order, signs by greedy ±1 search.

    If ``A = C B Cᵀ`` then ``sym(A) = C sym(B) Cᵀ``, so ``C = E_A D E_Bᵀ`` with ``D`` a
    diagonal of signs (distinct eigenvalues); ``tr(Aᵀ C B Cᵀ) = dᵀ (Ã ∘ B̃) d`` with
    ``Ã = E_Aᵀ A E_A``, ``B̃ = E_Bᵀ B E_B``, maximised over ``d ∈ {±1}ⁿ`` by coordinate flips.
    """
    n = A.shape[0]
    _, Ea = np.linalg.eigh(0.5 * (A + A.T))
    _, Eb = np.linalg.eigh(0.5 * (B + B.T))
    Mq = (Ea.T @ A @ Ea) * (Eb.T @ B @ Eb)
    Mq = 0.5 * (Mq + Mq.T)
    off = Mq - np.diag(np.diag(Mq))
    # spectral relaxation for the starting signs, then single flips while they help
    _, vecs = np.linalg.eigh(off)
    dvec = np.where(vecs[:, -1] >= 0, 1.0, -1.0)
    for _ in range(2 * n):
        gains = -4.0 * dvec * (off @ dvec)  # change of dᵀ off d when flipping each sign
        k = int(np.argmax(gains))
        if gains[k] <= 1e-14:
            break
        dvec[k] = -dvec[k]
    C = (Ea * dvec) @ Eb.T
    starts = [C]
    # the other component of O(n): flip the sign that costs least
    gains = -4.0 * dvec * (off @ dvec)
    k = int(np.argmax(gains))
    d2 = dvec.copy()
    d2[k] = -d2[k]
    starts.append((Ea * d2) @ Eb.T)
    return starts


def _skew_from(params: np.ndarray, n: int, iu) -> np.ndarray:
    S = np.zeros((n, n))
    S[iu] = params
    return S - S.T


def _refine(A: np.ndarray, B: np.ndarray, C0: np.ndarray, tol: float, maxiter: int,
            rounds: int = 20) -> tuple[np.ndarray, float]:
    """Maximise ``tr(Aᵀ C B Cᵀ)`` from ``C0`` in re-centred Cayley charts; return ``(C, value)``.

    In the chart ``C = C₀ K``, ``K = (I − S)⁻¹ (I + S) = 2W − I`` with ``W = (I − S)⁻¹``, so
    ``dC = 2 C₀ W dS W`` and the gradient in ``S`` is ``2 Wᵀ C₀ᵀ G Wᵀ`` with
    ``G = A C Bᵀ + Aᵀ C B``, projected onto the skew-symmetric parameters.
    """
    n = A.shape[0]
    iu = np.triu_indices(n, k=1)
    eye = np.eye(n)
    C = C0
    best = float(np.sum(A * (C @ B @ C.T)))
    if n == 1:
        return C, best
    for _ in range(rounds):
        base = C

        def objective(params, base=base):
            S = _skew_from(params, n, iu)
            W = np.linalg.inv(eye - S)
            Cc = 2.0 * (base @ W) - base
            CB = Cc @ B
            f = float(np.sum(A * (CB @ Cc.T)))
            G = A @ Cc @ B.T + A.T @ CB
            Mg = 2.0 * (W.T @ (base.T @ G) @ W.T)
            return -f, -(Mg[iu] - Mg.T[iu])

        from scipy.optimize import minimize  # imported on first use: measured import cost (~0.25 s of import neurosim)

        res = minimize(objective, np.zeros(len(iu[0])), jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": tol, "ftol": tol * 1e-4})
        S = _skew_from(res.x, n, iu)
        Cn = 2.0 * (base @ np.linalg.inv(eye - S)) - base
        value = float(np.sum(A * (Cn @ B @ Cn.T)))
        if value <= best + tol:
            if value > best:
                C, best = Cn, value
            break
        C, best = Cn, value
    return C, best


# loose first pass over every start; only the best few are refined to the full tolerance
_SCREEN_TOL, _SCREEN_ITER, _N_FINALISTS = 1e-4, 60, 3


def _best_rotation(A: np.ndarray, B: np.ndarray, n_restarts: int, seed, tol: float, maxiter: int) -> np.ndarray:
    n = A.shape[0]
    rng = np.random.default_rng(seed)
    starts = _informed_starts(A, B) + [_haar(rng, n, 1 if k % 2 == 0 else -1) for k in range(n_restarts)]
    screened = [_refine(A, B, C0, max(tol, _SCREEN_TOL), min(maxiter, _SCREEN_ITER), rounds=1) for C0 in starts]
    order = np.argsort([-v for _, v in screened], kind="stable")[:_N_FINALISTS]
    best_C, best_r = None, np.inf
    for k in order:
        C, _ = _refine(A, B, screened[k][0], tol, maxiter)
        resid = float(np.linalg.norm(A - C @ B @ C.T))  # accurate near 0, unlike 1 - f
        if resid < best_r:
            best_C, best_r = C, resid
    return best_C


def _wasserstein(ea: np.ndarray, eb: np.ndarray) -> float:
    n = max(len(ea), len(eb))
    a = np.concatenate([ea, np.zeros(n - len(ea))])
    b = np.concatenate([eb, np.zeros(n - len(eb))])
    from scipy.optimize import linear_sum_assignment  # imported on first use: measured import cost (~0.25 s of import neurosim)

    cost = np.abs(a[:, None] - b[None, :]) ** 2
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def _pair_key(A: np.ndarray):
    return (A.shape[0], A.tobytes())


def dsa_compare(
    F,
    G,
    *,
    score: str = "angular",
    seed=0,
    n_restarts: int = 16,
    tol: float = 1e-8,
    maxiter: int = 500,
) -> float:
    """DSA score between two fitted systems (per-pair work only).

    Parameters
    ----------
    F, G : DMDFit or ndarray (r, r)
        Fits from :func:`dsa_prepare`, or operators themselves.  Operators of different sizes
        are zero-padded to the larger one.
    score : {"angular", "euclidean", "wasserstein"}, default "angular"
        See the module notes.  ``"angular"``: radians in ``[0, π]``; ``"euclidean"``: operator
        units; ``"wasserstein"``: eigenvalue units.  All are distances: 0 = same dynamics (up to
        an orthogonal change of coordinates for angular/euclidean; same spectrum for
        wasserstein), larger = more different.
    seed : int or numpy Generator, default 0
        Seed of the random orthogonal starts (angular/euclidean); the result is deterministic
        for a given seed.
    n_restarts : int, default 16
        Random starts in addition to the two informed ones (angular/euclidean).
    tol : float, default 1e-8
        Convergence tolerance: L-BFGS stops when the projected gradient is below ``tol`` or the
        relative gain of an iteration below ``tol · 1e-4``; a chart is re-centred while the
        objective still gains more than ``tol``.
    maxiter : int, default 500
        L-BFGS iterations per Cayley chart.

    Returns
    -------
    float
        The score; symmetric in ``F, G`` (the pair is put in a canonical order first).

    Examples
    --------
    >>> A = np.array([[0.9, -0.2], [0.2, 0.9]])
    >>> Q = np.array([[0.0, 1.0], [1.0, 0.0]])  # a reflection
    >>> round(dsa_compare(A, Q @ A @ Q.T), 6)
    0.0
    >>> round(dsa_compare(A, np.diag([0.5, 0.1]), score="wasserstein"), 4)
    0.6633
    """
    score = check_choice(score, _SCORES, "score")
    A = _as_operator(F, "F")
    B = _as_operator(G, "G")
    if score == "wasserstein":
        ea = F.eigenvalues if isinstance(F, DMDFit) else _sorted_eigenvalues(A)
        eb = G.eigenvalues if isinstance(G, DMDFit) else _sorted_eigenvalues(B)
        if (len(ea), ea.tobytes()) > (len(eb), eb.tobytes()):
            ea, eb = eb, ea
        return _wasserstein(ea, eb)
    if _pair_key(A) > _pair_key(B):
        A, B = B, A
    n_restarts = _check_int(n_restarts, "n_restarts", 0)
    maxiter = _check_int(maxiter, "maxiter", 1)
    tol = check_number(tol, "tol", minimum=0.0, low_open=True)
    seed = check_seed(seed, "seed")
    n = max(A.shape[0], B.shape[0])
    A, B = _pad(A, n), _pad(B, n)
    na, nb = np.linalg.norm(A), np.linalg.norm(B)
    if not (na > 0 and nb > 0):
        raise ValueError("an operator is all zeros: its dynamics have no direction to compare")
    Ah, Bh = A / na, B / nb
    with _one_blas_thread():
        C = _best_rotation(Ah, Bh, n_restarts, seed, tol, maxiter)
    if score == "euclidean":
        return float(np.linalg.norm(A - C @ B @ C.T))
    resid = float(np.linalg.norm(Ah - C @ Bh @ C.T))
    return float(2.0 * np.arcsin(min(1.0, 0.5 * resid)))


def dsa_distance(
    X,
    Y,
    *,
    n_delays: int = 10,
    delay_interval: int = 1,
    rank: int | None = 10,
    score: str = "angular",
    seed=0,
    n_restarts: int = 16,
    tol: float = 1e-8,
    maxiter: int = 500,
    ragged: str = "error",
) -> float:
    r"""Dynamical Similarity Analysis distance between two systems' trajectories.

    ``dsa_compare(dsa_prepare(X, …), dsa_prepare(Y, …), score=…)``; for many systems call
    :func:`dsa_prepare` once per system and :func:`dsa_compare` per pair.

    Parameters
    ----------
    X, Y : array (trajectories, time, units) or list of (time, units) arrays
        The two systems.  They may differ in numbers of units and trajectories.
    n_delays, delay_interval, rank, ragged
        Per-system fit, see :func:`dsa_prepare` (defaults 10, 1, 10, "error").
    score, seed, n_restarts, tol, maxiter
        Comparison, see :func:`dsa_compare`.

    Returns
    -------
    float
        Distance (0 = same dynamics up to an orthogonal change of coordinates; lower is
        closer).  ``score="angular"``: radians in ``[0, π]``; ``"wasserstein"``: eigenvalue
        units; ``"euclidean"``: operator units.

    Notes
    -----
    ``θ = min_{C∈O(r)} arccos tr(Âᵀ C B̂ Cᵀ)`` between the normalised DMD operators of the
    delay-embedded trajectories (Ostrow et al. 2023); see :mod:`neurosim.metrics.dynamics`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3, 60, 4)).cumsum(axis=1)
    >>> Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    >>> dsa_distance(X, X @ Q, n_delays=2, rank=5) < 1e-6
    True
    """
    fx = dsa_prepare(X, n_delays=n_delays, delay_interval=delay_interval, rank=rank, ragged=ragged, name="X")
    fy = dsa_prepare(Y, n_delays=n_delays, delay_interval=delay_interval, rank=rank, ragged=ragged, name="Y")
    return dsa_compare(fx, fy, score=score, seed=seed, n_restarts=n_restarts, tol=tol, maxiter=maxiter)


for _f in (dsa_distance, dsa_compare):
    _f.direction = "distance"
    _f.input = TRAJECTORY_INPUT
