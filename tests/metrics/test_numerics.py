"""Numerical robustness of the metrics: any float64 scale, ill-conditioned data, clear refusals.

References are independent: textbook formulas evaluated on unscaled data (every similarity is
scale-invariant), analytic rescalings of the shape-metric continuum, data built with known
canonical correlations, and (when installed) a 40-digit mpmath computation on the stored data.
"""

from __future__ import annotations

import ast
import pathlib
import warnings

import numpy as np
import pytest

from neurosim.metrics import (
    DroppedDirectionsWarning,
    ShapeMetric,
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    compare_rdms,
    prepare,
    prepared_distance,
    procrustes_distance,
    rdm,
    rsa,
    shape_distance,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def XY():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    Y = X @ rng.normal(size=(6, 5)) + 0.8 * rng.normal(size=(40, 5))
    return X, Y


# --------------------------------------------------------------------------- independent references
def ref_linear_cka(X, Y, debiased=False):
    """Gram-matrix CKA (Kornblith et al.) with U-centering for the debiased estimator."""
    K, L = X @ X.T, Y @ Y.T
    n = K.shape[0]
    if not debiased:
        H = np.eye(n) - 1.0 / n
        Kc, Lc = H @ K @ H, H @ L @ H
        return float(np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc)))

    def ucenter(G):
        G = G.copy()
        np.fill_diagonal(G, 0.0)
        means = G.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        G -= means[:, None] + means[None, :]
        np.fill_diagonal(G, 0.0)
        return G

    Ku, Lu = ucenter(K), ucenter(L)
    return float(np.sum(Ku * Lu) / np.sqrt(np.sum(Ku * Ku) * np.sum(Lu * Lu)))


def ref_procrustes(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    nuc = np.linalg.svd(Xc.T @ Yc, compute_uv=False).sum()
    return float(np.arccos(min(1.0, nuc / np.linalg.norm(Xc) / np.linalg.norm(Yc))))


def ref_shape(X, Y, alpha, c):
    """Angular shape distance of (c·X, c·Y) with netrep's whitening, the scale c applied analytically."""

    def prep(Z):
        U, s, _ = np.linalg.svd(Z - Z.mean(0), full_matrices=False)
        t = alpha * c * s + (1.0 - alpha)  # singular values of c·Zc are c·s
        return U * (t / t.max())  # the angle does not see the overall scale

    A, B = prep(X), prep(Y)
    nuc = np.linalg.svd(A.T @ B, compute_uv=False).sum()
    return float(np.arccos(min(1.0, nuc / np.linalg.norm(A) / np.linalg.norm(B))))


# --------------------------------------------------------------------------- CKA at any scale
@pytest.mark.parametrize("scale", [1e40, 1e-44, 1e150, 1e-150, 1e-80, 1e300, 1e-300])
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_exact_at_any_scale(XY, scale, debiased):
    X, Y = XY
    ref = ref_linear_cka(X, Y, debiased)
    assert cka(scale * X, scale * Y, debiased=debiased) == pytest.approx(ref, abs=1e-12)
    # Gram path too (more features than samples)
    Xw = np.c_[X, X[:, :3] ** 2, np.sin(X) * 3, np.cos(X) * 2, X**3 / 5, np.tanh(X)][:8]
    Yw = np.c_[Y, Y**2, np.sin(Y) * 2, Y**3 / 4, np.cos(Y) * 3, np.tanh(Y)][:8]
    if not debiased:
        refw = ref_linear_cka(Xw, Yw)
        assert cka(scale * Xw, scale * Yw) == pytest.approx(refw, abs=1e-12)


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e-300, 1e300])
@pytest.mark.parametrize("debiased", [False, True])
def test_rbf_cka_scale_invariant_with_median_and_scaled_sigma(XY, scale, debiased):
    X, Y = XY
    assert cka(scale * X, scale * Y, kernel="rbf", debiased=debiased) == pytest.approx(
        cka(X, Y, kernel="rbf", debiased=debiased), abs=1e-12)
    assert cka(scale * X, scale * Y, kernel="rbf", sigma=2.5 * scale) == pytest.approx(
        cka(X, Y, kernel="rbf", sigma=2.5), abs=1e-12)


def test_cka_mixed_scales(XY):
    X, Y = XY
    assert cka(1e-200 * X, 1e200 * Y) == pytest.approx(ref_linear_cka(X, Y), abs=1e-12)


# --------------------------------------------------------------------------- shape family
@pytest.mark.parametrize("scale", [1e-160, 1e-150, 1e150, 1e-300, 1e300, 1e152, 1e155])
def test_procrustes_exact_at_any_scale(XY, scale):
    X, Y = XY
    ref = ref_procrustes(X, Y)
    assert procrustes_distance(scale * X, scale * Y) == pytest.approx(ref, abs=1e-12)
    assert cca_distance(scale * X, scale * Y) == pytest.approx(cca_distance(X, Y), abs=1e-12)
    # euclidean keeps the data's units
    e_ref = procrustes_distance(X, Y, kind="euclidean")
    assert procrustes_distance(scale * X, scale * Y, kind="euclidean") == pytest.approx(scale * e_ref, rel=1e-12)
    # the per-network / per-pair split and the estimator agree
    d = prepared_distance(prepare(scale * X), prepare(scale * Y))
    assert d == pytest.approx(ref, abs=1e-12)
    assert ShapeMetric().fit_score(scale * X, scale * Y) == pytest.approx(ref, abs=1e-12)
    est = ShapeMetric(kind="euclidean").fit(scale * X, scale * Y)
    assert est.distance_ == pytest.approx(scale * e_ref, rel=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("scale", [1e-160, 1e-3, 1.0, 1e3, 1e150])
def test_shape_continuum_exact_for_the_given_scale(XY, alpha, scale):
    """Intermediate alphas depend on scale by convention; computed exactly for the scale given."""
    X, Y = XY
    ref = ref_shape(X, Y, alpha, scale)
    assert shape_distance(scale * X, scale * Y, alpha=alpha) == pytest.approx(ref, abs=1e-10)
    assert prepared_distance(prepare(scale * X, alpha=alpha), prepare(scale * Y, alpha=alpha)) == pytest.approx(
        ref, abs=1e-10)
    assert ShapeMetric(alpha=alpha).fit_score(scale * X, scale * Y) == pytest.approx(ref, abs=1e-9)


def test_single_huge_entry_is_a_valid_input():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    X[3, 2] = 1e300
    Xr = X / 1e300  # every metric below is scale-invariant
    assert procrustes_distance(X, Y) == pytest.approx(ref_procrustes(Xr, Y), abs=1e-12)
    assert cka(X, Y) == pytest.approx(ref_linear_cka(Xr, Y), abs=1e-12)
    assert rsa(X[:10], Y[:10]) == pytest.approx(rsa(Xr[:10], Y[:10]), abs=1e-12)
    for method in ("correlation", "cosine"):
        np.testing.assert_allclose(rdm(X[:10], method), rdm(Xr[:10] * 1e300, method), atol=1e-12)
    # euclidean: the distances between ordinary rows (~1) survive beside the huge one (~1e300)
    def safe_dist(a, b):
        d = a - b
        m = np.abs(d).max()
        return m * np.linalg.norm(d / m)

    ref = [safe_dist(X[i], X[j]) for i in range(10) for j in range(i + 1, 10)]
    np.testing.assert_allclose(rdm(X[:10], "euclidean"), ref, rtol=1e-10)


# --------------------------------------------------------------------------- CCA family
@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e-300, 1e300, 1e152])
@pytest.mark.parametrize("kind", ["mean", "mean_squared", "svcca", "pwcca"])
def test_cca_family_at_extreme_scales(XY, scale, kind):
    X, Y = XY
    assert cca_similarity(scale * X, scale * Y, kind) == pytest.approx(cca_similarity(X, Y, kind), abs=1e-12)
    np.testing.assert_allclose(canonical_correlations(scale * X, scale * Y), canonical_correlations(X, Y),
                               atol=1e-12)


def test_cca_ridge_is_in_data_units(XY):
    X, Y = XY
    c = 2.0**-300
    np.testing.assert_allclose(canonical_correlations(c * X, c * Y, reg=0.3 * c * c),
                               canonical_correlations(X, Y, reg=0.3), atol=1e-12)


def _known_cca(kappa, n=200, p=8, seed=0, offset=0.0):
    """X with condition number kappa, Y at principal angles theta to X's column space."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(np.c_[np.ones(n), rng.normal(size=(n, 2 * p))])
    Q = Q[:, 1:]
    theta = np.linspace(0.2, 1.4, p)
    Ux, Uy = Q[:, :p], Q[:, :p] * np.cos(theta) + Q[:, p:] * np.sin(theta)
    Rx, Ry = (np.linalg.qr(rng.normal(size=(p, p)))[0] for _ in range(2))
    X = (Ux * np.geomspace(1.0, 1.0 / kappa, p)) @ Rx + offset
    Y = (Uy * np.geomspace(1.0, 0.1, p)) @ Ry - offset
    return X, Y, float(np.arccos(np.mean(np.cos(theta))))


@pytest.mark.parametrize("kappa, tol", [(1e2, 1e-12), (3e3, 1e-10), (1e4, 1e-11), (4.5e6, 1e-9), (4.5e7, 5e-9)])
def test_cca_ill_conditioned_matches_known_canonical_correlations(kappa, tol):
    X, Y, ref = _known_cca(kappa)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DroppedDirectionsWarning)  # nothing may be dropped
        assert cca_distance(X, Y) == pytest.approx(ref, abs=tol)
        assert shape_distance(X, Y, alpha=0.0) == pytest.approx(ref, abs=tol)
        assert ShapeMetric(alpha=0.0).fit_score(X, Y) == pytest.approx(ref, abs=10 * tol)


@pytest.mark.parametrize("kappa", [4.5e6, 4.5e7])
def test_cca_ill_conditioned_against_mpmath(kappa):
    mpmath = pytest.importorskip("mpmath")
    X, Y, _ = _known_cca(kappa, n=40, p=4, offset=3.0)  # offset: the reference must centre too
    mpmath.mp.dps = 40

    def basis(A):
        M = mpmath.matrix(A.tolist())
        for j in range(M.cols):
            m = mpmath.fsum(M[i, j] for i in range(M.rows)) / M.rows
            for i in range(M.rows):
                M[i, j] -= m
        Q, _ = mpmath.qr(M)
        return Q[:, : A.shape[1]]

    s = mpmath.svd_r(basis(X).T * basis(Y), compute_uv=False)
    ref = float(mpmath.acos(mpmath.fsum(s) / len(s)))
    assert cca_distance(X, Y) == pytest.approx(ref, abs=1e-9)


def test_dropped_directions_warn_and_keep_an_honest_answer():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 3))
    Xd = np.c_[X, X[:, 0] + X[:, 1]]  # exactly rank 3
    Y = rng.normal(size=(50, 3))
    with pytest.warns(DroppedDirectionsWarning, match="1 of 4 directions") as record:
        d = cca_distance(Xd, Y)
    assert record[0].filename == __file__  # points at the caller, not at neurosim internals
    assert d == pytest.approx(cca_distance(X, Y), abs=1e-10)
    # full-rank but ill-conditioned data keep every direction, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error", DroppedDirectionsWarning)
        cca_distance(X * [1.0, 1e-9, 1.0], Y)
    assert issubclass(DroppedDirectionsWarning, UserWarning)


# --------------------------------------------------------------------------- RSA at extreme scales
# every (scale, method) whose true dissimilarities are representable in float64: squared distances
# of data at 1e±300 would be 1e±600, so those two cases are not in the grid (not skipped at run time)
_RDM_SCALES = [(s, m) for s in (1e-150, 1e150, 1e-300, 1e300)
               for m in ("correlation", "cosine", "euclidean", "sqeuclidean")
               if not (m == "sqeuclidean" and abs(np.log10(s)) > 150)]


@pytest.mark.parametrize("scale, method", _RDM_SCALES)
def test_rdm_at_extreme_scales(scale, method):
    X = np.random.default_rng(4).normal(size=(7, 5))
    power = 2 if method == "sqeuclidean" else (1 if method == "euclidean" else 0)
    expected = rdm(X, method) * scale**power
    np.testing.assert_allclose(rdm(scale * X, method), expected, rtol=1e-10, atol=1e-12 * expected.max())


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e-300, 1e300])
@pytest.mark.parametrize("compare", ["spearman", "pearson", "cosine", "kendall_tau_a", "spearman_rho_a",
                                     "whitened_cosine"])
def test_rdm_comparators_at_extreme_scales(scale, compare):
    rng = np.random.default_rng(5)
    a, b = rng.random(15), rng.random(15)
    assert compare_rdms(scale * a, scale * b, compare) == pytest.approx(compare_rdms(a, b, compare), abs=1e-12)
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    assert rsa(scale * X, scale * Y, compare=compare) == pytest.approx(rsa(X, Y, compare=compare), abs=1e-12)


# --------------------------------------------------------------------------- clear messages
def test_nonfinite_masked_constant_are_told_apart(XY):
    X, Y = XY
    bad = X.copy()
    bad[2, 1], bad[5, 0], bad[7, 3] = np.nan, np.inf, np.nan
    with pytest.raises(ValueError, match=r"2 NaN and 1 inf"):
        procrustes_distance(bad, Y)
    with pytest.raises(ValueError, match="NaN"):
        prepared_distance(bad, prepare(Y))
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked[0, 0] = np.ma.masked
    for fn in (procrustes_distance, cka, cca_distance):
        with pytest.raises(TypeError, match="masked"):
            fn(masked, Y)
    with pytest.raises(TypeError, match="masked"):
        compare_rdms(np.ma.masked_array(np.arange(6.0), mask=[1, 0, 0, 0, 0, 0]), np.arange(6.0))
    # a mask with nothing masked is plain data
    assert procrustes_distance(np.ma.masked_array(X), Y) == pytest.approx(procrustes_distance(X, Y))
    with pytest.raises(ValueError, match="zero norm"):
        procrustes_distance(np.ones_like(X), Y)
    with pytest.raises(ValueError, match="constant"):
        compare_rdms(np.ones(6), np.arange(6.0))


def test_huge_values_are_not_called_constant(XY):
    X, Y = XY
    for scale in (1e155, 1e300):
        assert np.isfinite(procrustes_distance(scale * X, Y))
        assert np.isfinite(cka(scale * X, Y))
        assert np.isfinite(rsa(scale * X[:8], Y[:8]))
        assert np.isfinite(cca_distance(scale * X, scale * Y))


def test_positional_methods_as_in_rsatoolbox():
    X = np.random.default_rng(6).normal(size=(6, 4))
    np.testing.assert_array_equal(rdm(X, "euclidean"), rdm(X, method="euclidean"))
    a, b = rdm(X), rdm(X**2)
    assert compare_rdms(a, b, "pearson") == compare_rdms(a, b, method="pearson")


@pytest.mark.parametrize("K", [3, 4, 6])
def test_non_symmetric_square_rdm_is_refused_with_explanation(K):
    rng = np.random.default_rng(K)
    D = rng.random((K, K))
    np.fill_diagonal(D, 0.0)
    with pytest.raises(ValueError, match="not symmetric"):
        compare_rdms(D, (D + D.T) / 2)
    S = (D + D.T) / 2 + np.eye(K)
    with pytest.raises(ValueError, match="non-zero diagonal"):
        compare_rdms(S, (D + D.T) / 2)
    # a proper square RDM at a tiny scale is still recognised as one
    Dsym = (D + D.T) / 2
    assert compare_rdms(1e-200 * Dsym, Dsym) == pytest.approx(1.0)


# --------------------------------------------------------------------------- memory
def test_nxn_allocations_are_estimated_first(monkeypatch):
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(600, 3)), rng.normal(size=(600, 3))
    monkeypatch.setenv("NEUROSIM_MAX_MEMORY", "1MB")
    with pytest.raises(MemoryError, match=r"(?s)RBF CKA on 600 samples.*GB.*kernel='linear'.*NEUROSIM_MAX_MEMORY"):
        cka(X, Y, kernel="rbf")
    with pytest.raises(MemoryError, match=r"(?s)600 conditions.*NEUROSIM_MAX_MEMORY"):
        rdm(X)
    with pytest.raises(MemoryError, match="600 conditions"):
        rsa(X, Y)
    assert np.isfinite(cka(X, Y))  # linear CKA works in feature space: nothing n x n
    monkeypatch.setenv("NEUROSIM_MAX_MEMORY", "0")  # disabled
    assert rdm(X).shape == (600 * 599 // 2,)
    monkeypatch.setenv("NEUROSIM_MAX_MEMORY", "lots")
    with pytest.raises(ValueError, match="NEUROSIM_MAX_MEMORY"):
        cka(X, Y, kernel="rbf")


# --------------------------------------------------------------------------- estimator without scikit-learn
def test_estimator_protocol_without_inheritance(XY):
    sklearn_base = pytest.importorskip("sklearn.base")
    from sklearn.model_selection import GridSearchCV, KFold, cross_validate

    X, Y = XY
    assert sklearn_base.BaseEstimator not in ShapeMetric.__mro__
    est = ShapeMetric(alpha=0.5, normalize=True)
    assert repr(est) == "ShapeMetric(alpha=0.5, normalize=True)"
    assert repr(ShapeMetric()) == "ShapeMetric()"
    twin = sklearn_base.clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert est.set_params(alpha=0.2) is est and est.alpha == 0.2
    with pytest.raises(ValueError, match="invalid parameter 'alhpa'.*alpha"):
        est.set_params(alhpa=0.3)
    res = cross_validate(ShapeMetric(), X, Y, cv=4)
    manual = [ShapeMetric().fit(X[tr], Y[tr]).score(X[te], Y[te]) for tr, te in KFold(4).split(X)]
    np.testing.assert_allclose(res["test_score"], manual, atol=1e-12)
    grid = GridSearchCV(ShapeMetric(), {"alpha": [0.0, 1.0]}, cv=3).fit(X, Y)
    assert grid.best_params_["alpha"] in (0.0, 1.0)


def _module_level_imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("rel", ["neurosim/metrics/shape.py", "neurosim/metrics/cca.py", "neurosim/metrics/cka.py",
                                 "neurosim/metrics/rsa.py", "neurosim/metrics/registry.py",
                                 "neurosim/metrics/_validate.py", "neurosim/pairwise.py", "neurosim/baselines.py"])
def test_no_costly_imports_at_module_level(rel):
    """scikit-learn and scipy.stats/linalg/spatial cost seconds at import; they load only where used."""
    costly = {"sklearn", "scipy.stats", "scipy.linalg", "scipy.spatial", "scipy.spatial.distance", "scipy.optimize"}
    imports = _module_level_imports(ROOT / rel)
    assert not {m for m in imports if m in costly or m.split(".")[0] == "sklearn"}


# --------------------------------------------------------------------------- registry: symmetry and options
def test_registry_symmetry_flag_is_true_to_each_measure():
    from neurosim.metrics import make, measures

    rng = np.random.default_rng(8)
    A = rng.normal(size=(60, 5))
    B = A @ rng.normal(size=(5, 5)) * [1, 1, 0.1, 0.1, 0.1] + 0.5 * rng.normal(size=(60, 5))
    asymmetric = []
    for name in measures(aliases=True):
        m = make(name)
        if getattr(m, "input", "samples") != "samples":
            continue  # trajectory measures (DSA) take (condition, time, unit) arrays
        ab, ba = m(A, B), m(B, A)
        if m.symmetric:
            assert ab == pytest.approx(ba, abs=1e-9), name
        else:
            asymmetric.append(name)
            assert abs(ab - ba) > 1e-3, name  # the flag is not set without reason
    assert asymmetric == ["pwcca-score"]


def test_registry_lists_the_options_each_measure_takes():
    from neurosim.metrics import make

    assert make("cka").accepts == ("kernel", "debiased", "sigma")
    assert "kind" not in make("procrustes-distance=angular").accepts
    with pytest.raises(TypeError, match=r"does not take option\(s\) \['alpha'\]; it takes: kernel, debiased, sigma"):
        make("cka")(np.eye(5), np.eye(5), alpha=0.5)
