r"""Representational similarity analysis: RDMs and RDM comparators (Kriegeskorte et al. 2008).

RDMs are returned as condensed vectors in scipy order (``scipy.spatial.distance.squareform``:
the upper triangle, row by row), the order rsatoolbox also uses.

Mapping to rsatoolbox 0.3 (tested to 1e-8 in ``tests/metrics``):

==================================  =====================================================
neurosim                            rsatoolbox
==================================  =====================================================
``rdm(X, "correlation")``           ``calc_rdm(ds, method="correlation")``
``rdm(X, "sqeuclidean") / p``       ``calc_rdm(ds, method="euclidean")`` (squared, / n_channel)
``rdm(X, "euclidean")``             sqrt of the above times ``p`` (true Euclidean distance)
``rdm(X3d, "crossnobis")``          ``calc_rdm(ds, method="crossnobis", descriptor="conds",
                                    cv_descriptor="trials")`` (already / n_channel)
``compare_rdms(.., "spearman")``    ``compare(.., method="spearman")``
``compare_rdms(.., "pearson")``     ``"corr"``
``compare_rdms(.., "cosine")``      ``"cosine"``
``compare_rdms(.., "kendall_tau_a")`` ``"tau-a"``
``compare_rdms(.., "spearman_rho_a")`` ``"rho-a"``
``compare_rdms(.., "whitened_cosine")`` ``"cosine_cov"`` (default i.i.d. pattern noise)
==================================  =====================================================
"""

from __future__ import annotations

import numpy as np

from neurosim.metrics._validate import check_choice, check_matrix, check_memory, check_rdms, rescale

# scipy.stats (rank ties, Kendall's tau) is imported inside the two functions that need it:
# it costs ~0.3-1 s at import, which every `import neurosim` would otherwise pay.

__all__ = ["rdm", "compare_rdms", "rsa"]

_RDM_METHODS = ("correlation", "euclidean", "sqeuclidean", "cosine", "crossnobis")
_COMPARE_METHODS = ("spearman", "pearson", "cosine", "kendall_tau_a", "spearman_rho_a", "whitened_cosine")


def _condense(D: np.ndarray) -> np.ndarray:
    """Upper triangle row by row (scipy's ``squareform`` order)."""
    return D[np.triu_indices(D.shape[0], k=1)]


def _square(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_condense`: the symmetric K×K matrix with a zero diagonal."""
    K = int(round((1 + np.sqrt(1 + 8 * v.size)) / 2))
    D = np.zeros((K, K))
    iu = np.triu_indices(K, k=1)
    D[iu] = v
    D.T[iu] = v
    return D


def _check_rdm_memory(K: int, copies: float, what: str) -> None:
    check_memory(copies * 8.0 * K * K, f"{what} for {K} conditions ({K}x{K} matrices)",
                 "compute RDMs over fewer conditions (average or subsample conditions), or use a "
                 "shape metric such as procrustes_distance, which needs no conditions x conditions matrix")


def _check_compare_memory(a, b, method: str) -> None:
    """Estimate :func:`compare_rdms`'s allocations from the input shapes, before any copy is made:
    about four float64 copies of each stack (validation, rescaling, ranks, centring), the
    ``N_a x N_b`` result, and for ``whitened_cosine`` a ``K x K`` matrix per RDM."""
    def rows_and_size(x) -> tuple[int, int]:
        shape = np.shape(x) if isinstance(x, np.ndarray) or hasattr(x, "shape") else ()
        if not shape:
            return 1, 0  # lists and scalars are checked (and sized) by check_rdms
        size = int(np.prod(shape, dtype=float))
        return (1 if len(shape) == 1 else int(shape[0])), size

    na, sa = rows_and_size(a)
    nb, sb = (na, 0) if b is None else rows_and_size(b)
    copies = 8.0 if method == "whitened_cosine" else 4.0
    check_memory(8.0 * (copies * (sa + sb) + na * nb),
                 f"compare_rdms({method!r}) of {na} x {nb} RDMs ({sa + sb} dissimilarities in all)",
                 "compare fewer RDMs per call (e.g. in blocks of rows of a) or over fewer conditions")


def _distances(M: np.ndarray, squared: bool) -> np.ndarray:
    """(Squared) Euclidean distances between rows via one Gram matrix (features centred for accuracy).

    ``M`` is rescaled (largest entry ~1).  If some rows are so much smaller than the largest
    that their squared distances would underflow (dynamic range beyond 2**450), the
    distances are computed row by row from rescaled differences instead.
    """
    row_peak = np.max(np.abs(M), axis=1)
    nonzero = row_peak[row_peak > 0]
    if nonzero.size and np.frexp(nonzero.max())[1] - np.frexp(nonzero.min())[1] > 450:
        D = _distances_by_row(M)
        return D * D if squared else D
    M = M - M.mean(axis=0)
    sq = np.einsum("ij,ij->i", M, M)
    G = M @ M.T
    D = sq[:, None] + sq[None, :] - 2.0 * G
    np.maximum(D, 0.0, out=D)
    return D if squared else np.sqrt(D)


def _distances_by_row(M: np.ndarray) -> np.ndarray:
    """Euclidean distances with each difference rescaled before squaring (any dynamic range)."""
    K = M.shape[0]
    D = np.zeros((K, K))
    for i in range(K - 1):
        diff = M[i + 1:] - M[i]
        peak = np.max(np.abs(diff), axis=1)
        e = np.frexp(np.where(peak > 0, peak, 1.0))[1]
        scaled = np.ldexp(diff, -e[:, None])
        D[i, i + 1:] = np.ldexp(np.sqrt(np.einsum("ij,ij->i", scaled, scaled)), e)
    return D + D.T


def _unit_rows(M: np.ndarray, what: str) -> np.ndarray:
    # each row rescaled by a power of two first (exact), so squares neither overflow nor underflow
    peak = np.max(np.abs(M), axis=1)
    M = np.ldexp(M, -np.frexp(np.where(peak > 0, peak, 1.0))[1][:, None])
    norms = np.sqrt(np.einsum("ij,ij->i", M, M))
    bad = np.flatnonzero(~(norms > 0))
    if bad.size:
        raise ValueError(
            f"condition(s) {bad[:5].tolist()} have a {what} pattern of zero norm, so the {what} distance is "
            "undefined; drop those conditions or use method='euclidean'"
        )
    return M / norms[:, None]


def _check_noise(noise, p: int):
    if noise is None:
        return None
    P = np.asarray(noise, dtype=np.float64)
    if P.shape != (p, p):
        raise ValueError(f"noise must be a ({p}, {p}) precision matrix (features × features), got shape {P.shape}")
    if not np.isfinite(P).all():
        raise ValueError("noise precision contains NaN or inf")
    if not np.allclose(P, P.T, rtol=1e-8, atol=1e-12 * np.abs(P).max()):
        raise ValueError("noise precision must be symmetric")
    return P


def _crossnobis_folds(X, conditions, trials):
    """Return fold-wise condition means (F, K, p) and per-(fold, condition) counts (F, K)."""
    if conditions is None and trials is None:
        arr = np.asarray(X)
        if arr.ndim != 3:
            raise ValueError(
                "crossnobis needs repeated measurements: pass X as (trials, conditions, features), or a 2-D X "
                f"(observations, features) with conditions= and trials= label vectors; got shape {arr.shape}"
            )
        T, K, p = arr.shape
        flat = check_matrix(arr.reshape(T * K, p), "X (trials*conditions, features)")
        means = flat.reshape(T, K, p)
        return means, np.ones((T, K))
    if conditions is None or trials is None:
        raise ValueError("crossnobis with a 2-D X needs both conditions= and trials= label vectors")
    X = check_matrix(X, "X")
    conditions = np.asarray(conditions)
    trials = np.asarray(trials)
    if conditions.shape != (X.shape[0],) or trials.shape != (X.shape[0],):
        raise ValueError(
            f"conditions and trials must be 1-D with one label per row of X ({X.shape[0]}), "
            f"got shapes {conditions.shape} and {trials.shape}"
        )
    cond_vals, ci = np.unique(conditions, return_inverse=True)
    fold_vals, fi = np.unique(trials, return_inverse=True)
    F, K, p = fold_vals.size, cond_vals.size, X.shape[1]
    sums = np.zeros((F, K, p))
    counts = np.zeros((F, K))
    np.add.at(sums, (fi, ci), X)
    np.add.at(counts, (fi, ci), 1.0)
    missing = np.argwhere(counts == 0)
    if missing.size:
        f, k = missing[0]
        raise ValueError(
            f"condition {cond_vals[k]!r} has no observation in trial/fold {fold_vals[f]!r}; crossnobis needs every "
            "condition measured in every fold"
        )
    return sums / counts[..., None], counts


def _crossnobis(X, conditions, trials, noise) -> np.ndarray:
    means, counts = _crossnobis_folds(X, conditions, trials)
    means, e = rescale(means)
    F, K, p = means.shape
    _check_rdm_memory(K, 4, "a crossnobis RDM")
    if F < 2:
        raise ValueError(f"crossnobis cross-validates over trials/folds and needs at least 2, got {F}")
    if K < 3:
        raise ValueError(f"an RDM needs at least 3 conditions, got {K}")
    P = _check_noise(noise, p)
    total_sums = (means * counts[..., None]).sum(axis=0)
    total_counts = counts.sum(axis=0)
    acc = np.zeros((K, K))
    for f in range(F):
        test = means[f]
        # leave-one-fold-out: mean of all other observations per condition
        train = (total_sums - means[f] * counts[f][:, None]) / (total_counts - counts[f])[:, None]
        G = train @ (test.T if P is None else P @ test.T)
        d = np.diag(G)
        acc += d[:, None] + d[None, :] - G - G.T
    return np.ldexp(_condense(acc / F) / p, 2 * e)


def rdm(X, method: str = "correlation", *, conditions=None, trials=None, noise=None) -> np.ndarray:
    r"""Representational dissimilarity matrix of ``X`` (conditions, features), condensed.

    Methods (``x_i`` = pattern of condition i, ``p`` = number of features):

    * ``"correlation"``: ``1 − r(x_i, x_j)`` (Pearson r across features).
    * ``"euclidean"``: ``‖x_i − x_j‖`` (true Euclidean distance, like scipy's ``pdist``).
      Computed, like ``"sqeuclidean"``, from one Gram matrix of the feature-centred
      patterns (fast for many conditions); near-duplicate conditions therefore carry an
      absolute error of order ``1e-8·‖x‖`` (use ``scipy.spatial.distance.pdist`` if
      that matters).
    * ``"sqeuclidean"``: ``‖x_i − x_j‖²``.  rsatoolbox's ``"euclidean"`` is this divided by ``p``.
    * ``"cosine"``: ``1 − cos(x_i, x_j)``.
    * ``"crossnobis"``: cross-validated squared Mahalanobis distance (Walther et al. 2016),
      ``d_ij = mean_f (x̄_i^{−f} − x̄_j^{−f}) Λ (x_i^{f} − x_j^{f})ᵀ / p`` over folds ``f``
      (leave-one-fold-out, as rsatoolbox), with noise precision ``Λ`` (identity by
      default).  Unbiased, so it can be negative.  Needs repeated measurements:
      ``X`` of shape (trials, conditions, features), or 2-D ``X`` (observations,
      features) with ``conditions`` and ``trials`` label vectors (trials = folds,
      e.g. runs).  Conditions are ordered by ``np.unique(conditions)``.

    Parameters
    ----------
    X : array_like
        (conditions, features); for crossnobis see above.
    method : str
        Positional or keyword (``rdm(X, "euclidean")`` as in rsatoolbox).
    conditions, trials : array_like, optional
        Labels per row of a 2-D ``X`` (crossnobis only).
    noise : array_like, shape (p, p), optional
        Noise precision matrix (crossnobis only).

    Returns
    -------
    ndarray, shape (K(K-1)/2,)
        Condensed RDM in scipy order (``squareform`` turns it into K×K).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist
    >>> X = np.random.default_rng(0).normal(size=(6, 4))
    >>> bool(np.allclose(rdm(X, "correlation"), pdist(X, "correlation")))
    True

    Notes
    -----
    Exact at any float64 scale (the data are rescaled by a power of two first and
    distances scaled back).  K×K temporaries larger than the memory limit
    (``$NEUROSIM_MAX_MEMORY``, default 4 GB) raise ``MemoryError`` before allocating.
    """
    method = check_choice(method, _RDM_METHODS, "rdm method")
    if method == "crossnobis":
        return _crossnobis(X, conditions, trials, noise)
    if conditions is not None or trials is not None or noise is not None:
        raise ValueError("conditions=, trials= and noise= apply to method='crossnobis' only")
    X = check_matrix(X, "X (conditions, features)", min_samples=3)
    _check_rdm_memory(X.shape[0], 4, "an RDM")
    X, e = rescale(X)
    if method == "correlation":
        if X.shape[1] < 2:
            raise ValueError(
                f"X needs at least 2 features (columns) for method='correlation', got {X.shape[1]}; "
                "use method='euclidean' for a single feature"
            )
        M = _unit_rows(X - X.mean(axis=1, keepdims=True), "mean-centred")
        return 1.0 - _condense(M @ M.T)
    if method == "cosine":
        M = _unit_rows(X, "cosine")
        return 1.0 - _condense(M @ M.T)
    if method == "euclidean":
        return _unscaled(_condense(_distances(X, squared=False)), e, method)
    return _unscaled(_condense(_distances(X, squared=True)), 2 * e, method)


def _unscaled(D: np.ndarray, e: int, method: str) -> np.ndarray:
    """``D · 2**e`` (the distances of the rescaled data back in the data's units), refusing results
    that float64 cannot hold instead of returning inf or 0."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(D, e)
    what = "squared distances" if method == "sqeuclidean" else "distances"
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"X: its {what} exceed float64's range (~1.8e308) at this scale; divide X by a constant "
            "(distances scale with it) or use a scale-free method ('correlation', 'cosine')")
    if np.any((out < np.finfo(np.float64).tiny) & (D != 0)):
        raise ValueError(
            f"X: its {what} fall below float64's normal range (~2.2e-308) at this scale, where they lose "
            "digits or read as 0; multiply X by a constant (distances scale with it) or use a scale-free "
            "method ('correlation', 'cosine')")
    return out


def _rank_rows(V: np.ndarray) -> np.ndarray:
    """Average-tie ranks of each row (as ``scipy.stats.rankdata``).

    Rows without ties -- the usual case for measured RDMs -- are ranked by one argsort
    and a scatter, several times faster than rankdata; rows with ties go to rankdata.
    """
    out = np.empty_like(V)
    ramp = np.arange(1, V.shape[1] + 1, dtype=np.float64)
    for i, v in enumerate(V):
        order = np.argsort(v)
        sv = v[order]
        if np.any(sv[1:] == sv[:-1]):
            import scipy.stats  # import cost, see the top of the module

            out[i] = scipy.stats.rankdata(v)
        else:
            out[i, order] = ramp
    return out


def _cos_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    na = np.sqrt(np.einsum("ij,ij->i", A, A))
    nb = np.sqrt(np.einsum("ij,ij->i", B, B))
    return (A @ B.T) / na[:, None] / nb[None, :]


def _double_centered(V: np.ndarray) -> np.ndarray:
    """-1/2 H D H for each condensed RDM row, flattened (N, K*K)."""
    out = []
    for v in V:
        D = _square(v)
        r = D.mean(axis=0)
        G = -0.5 * (D - r[None, :] - r[:, None] + r.mean())
        out.append(G.ravel())
    return np.asarray(out)


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a from scipy's tau-b and the tie counts: (C − D) / (m(m−1)/2)."""
    m = a.size
    n0 = m * (m - 1) / 2.0

    def ties(v):
        _, c = np.unique(v, return_counts=True)
        return float(np.sum(c * (c - 1) / 2.0))

    import scipy.stats  # import cost, see the top of the module

    n1, n2 = ties(a), ties(b)
    tau_b = scipy.stats.kendalltau(a, b, variant="b").statistic
    return float(np.clip(tau_b * np.sqrt((n0 - n1) * (n0 - n2)) / n0, -1.0, 1.0))


def _rescale_rows(V: np.ndarray) -> np.ndarray:
    out = np.empty_like(V)
    for i, v in enumerate(V):
        out[i] = rescale(v)[0]
    return out


def compare_rdms(a, b=None, method: str = "spearman"):
    r"""Similarity between RDMs (higher = more similar, 1 = identical up to the method's invariance).

    * ``"spearman"``: Pearson correlation of the (average-tie) ranks.
    * ``"pearson"``: Pearson correlation of the dissimilarities.
    * ``"cosine"``: cosine of the dissimilarity vectors (no centring; for ratio-scale
      RDMs such as crossnobis).
    * ``"kendall_tau_a"``: ``(concordant − discordant) / (m(m−1)/2)``, ties not
      adjusted -- Nili et al. (2014)'s choice for models that predict ties.
    * ``"spearman_rho_a"``: ``12 Σ (r_a − r̄)(r_b − r̄) / (m³ − m)``, the expected
      Spearman ρ under random tie breaking (rsatoolbox's ``rho-a``).
    * ``"whitened_cosine"``: cosine after whitening by the covariance of distance
      estimates under i.i.d. pattern noise (Diedrichsen et al. 2021); equal to the
      Frobenius cosine of the double-centred matrices ``−½ H D H`` (rsatoolbox's
      ``cosine_cov`` with its default ``sigma_k``).

    Parameters
    ----------
    a, b : array_like
        A condensed RDM ``(m,)``, a square RDM ``(K, K)``, a stack of condensed RDMs
        ``(N, m)`` or a stack of square RDMs ``(N, K, K)``.  If ``b`` is omitted, all
        pairs within ``a`` are compared.
    method : str

    Returns
    -------
    float
        If both ``a`` and ``b`` are single RDMs.
    ndarray, shape (N_a, N_b)
        Otherwise (all pairs at once, like rsatoolbox).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> compare_rdms(d, d ** 2)
    1.0
    >>> round(compare_rdms(d, d ** 2, "pearson"), 4)
    0.9789
    >>> compare_rdms(np.stack([d, d[::-1]])).round(3).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    method = check_choice(method, _COMPARE_METHODS, "compare method")
    _check_compare_memory(a, b, method)
    A, single_a = check_rdms(a, "a")
    if b is None:
        B, single_b = A, single_a
    else:
        B, single_b = check_rdms(b, "b")
        if B.shape[1] != A.shape[1]:
            raise ValueError(
                f"RDMs must describe the same conditions: got condensed lengths {A.shape[1]} and {B.shape[1]}"
            )
    # every comparator is invariant to each RDM's scale: rescale rows by powers of two (exact)
    A = _rescale_rows(A)
    B = A if b is None else _rescale_rows(B)
    for name, V in (("a", A), ("b", B)):
        flat = np.ptp(V, axis=1) == 0
        if method == "cosine":
            flat = ~(np.abs(V).max(axis=1) > 0)
        if flat.any():
            what = "all zero" if method == "cosine" else "constant (all dissimilarities equal)"
            raise ValueError(
                f"RDM {name}[{int(np.flatnonzero(flat)[0])}] is {what}, so its {method} similarity is undefined"
            )

    if method == "cosine":
        out = _cos_matrix(A, B)
    elif method == "pearson":
        out = _cos_matrix(A - A.mean(1, keepdims=True), B - B.mean(1, keepdims=True))
    elif method in ("spearman", "spearman_rho_a"):
        RA = _rank_rows(A)
        RB = RA if b is None else _rank_rows(B)
        RA = RA - RA.mean(1, keepdims=True)
        RB = RB - RB.mean(1, keepdims=True)
        if method == "spearman":
            out = _cos_matrix(RA, RB)
        else:
            m = A.shape[1]
            out = 12.0 * (RA @ RB.T) / (m**3 - m)
    elif method == "whitened_cosine":
        GA = _double_centered(A)
        GB = GA if b is None else _double_centered(B)
        out = _cos_matrix(GA, GB)
    else:  # kendall_tau_a
        out = np.array([[_tau_a(x, y) for y in B] for x in A])
    out = np.clip(out, -1.0, 1.0)
    if single_a and single_b:
        return float(out[0, 0])
    return out


def rsa(X, Y, *, rdm_method: str = "correlation", compare: str = "spearman") -> float:
    r"""RSA score: compare the RDMs of two representations of the same conditions.

    ``compare_rdms(rdm(X, method=rdm_method), rdm(Y, method=rdm_method), method=compare)``.

    Parameters
    ----------
    X, Y : array_like, shape (conditions, p), (conditions, q)
    rdm_method : str
        See :func:`rdm` (crossnobis needs trial data; call :func:`rdm` directly).
    compare : str
        See :func:`compare_rdms`.

    Returns
    -------
    float
        Similarity, higher = more similar (1 = identical RDM ranks for Spearman).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(10, 5))
    >>> rsa(X, 3 * X + 1)
    1.0
    """
    rdm_method = check_choice(rdm_method, _RDM_METHODS, "rdm_method")
    compare = check_choice(compare, _COMPARE_METHODS, "compare")
    if rdm_method == "crossnobis":
        raise ValueError("rsa() takes (conditions, features) data; for crossnobis call rdm(..., method='crossnobis')")
    X = check_matrix(X, "X (conditions, features)", min_samples=3)
    Y = check_matrix(Y, "Y (conditions, features)", min_samples=3)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same conditions (rows), got {X.shape[0]} and {Y.shape[0]}")
    return compare_rdms(rdm(X, method=rdm_method), rdm(Y, method=rdm_method), method=compare)


rdm.direction = "distance"
compare_rdms.direction = "similarity"
rsa.direction = "similarity"
