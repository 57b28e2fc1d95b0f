"""Generalized shape metrics: closed forms, invariances, axioms, estimator, real data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_validate

from neurosim.metrics import (
    ShapeMetric,
    canonical_correlations,
    cca_distance,
    neg_shape_distance,
    prepare,
    prepared_distance,
    procrustes_distance,
    shape_distance,
)

TOL = 1e-10


def closed_form_procrustes(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    nuc = np.linalg.svd(Xc.T @ Yc, compute_uv=False).sum()
    nx, ny = np.linalg.norm(Xc), np.linalg.norm(Yc)
    return np.arccos(np.clip(nuc / (nx * ny), -1, 1)), np.sqrt(max(nx**2 + ny**2 - 2 * nuc, 0.0))


def netrep_whiten(Xc, alpha):
    """netrep's trace-preserving partial whitening, written out from its definition (full rank)."""
    lam, V = np.linalg.eigh(Xc.T @ Xc)
    # a reference only for well-conditioned data (κ(XcᵀXc) < 1e4: rounding ~κ·eps ≪ the tolerance)
    assert lam.min() > 1e-4 * lam.max(), "ill-conditioned reference: use an SVD of Xc instead"
    d = alpha + (1 - alpha) * lam ** (-0.5)
    Z = V @ np.diag(d) @ V.T
    W = Xc @ Z
    return W * np.sqrt(np.sum(lam) / np.sum(W**2))


def closed_form_shape(X, Y, alpha):
    A, B = netrep_whiten(X - X.mean(0), alpha), netrep_whiten(Y - Y.mean(0), alpha)
    p = max(A.shape[1], B.shape[1])
    A = np.pad(A, ((0, 0), (0, p - A.shape[1])))
    B = np.pad(B, ((0, 0), (0, p - B.shape[1])))
    # explicit optimal rotation (orthogonal Procrustes), then the distances
    U, _, Vt = np.linalg.svd(A.T @ B)
    Bq = B @ (U @ Vt).T
    cos = np.sum(A * Bq) / (np.linalg.norm(A) * np.linalg.norm(Bq))
    return np.arccos(np.clip(cos, -1, 1)), np.linalg.norm(A - Bq)


@pytest.fixture
def XY(rng):
    X = rng.normal(size=(60, 7))
    Y = X @ rng.normal(size=(7, 5)) + 0.8 * rng.normal(size=(60, 5)) + 3.0
    return X, Y


def test_procrustes_matches_closed_form(XY):
    X, Y = XY
    ang, euc = closed_form_procrustes(X, Y)
    assert abs(procrustes_distance(X, Y) - ang) < TOL
    assert abs(procrustes_distance(X, Y, kind="euclidean") - euc) < TOL * max(1.0, euc)
    assert abs(procrustes_distance(X, Y, normalize=True) - ang / (np.pi / 2)) < TOL


@pytest.mark.parametrize("offset", [0.0, 0.3, 3.0, 1e6])
def test_procrustes_exact_with_and_without_large_feature_means(rng, offset):
    # small means: centring is folded into the cross-product (rank-1 correction);
    # large means (offset 3, 1e6): the explicit centring path. Both equal the closed form.
    X = rng.normal(size=(80, 6)) + offset
    Y = X[:, :5] @ rng.normal(size=(5, 5)) + 0.7 * rng.normal(size=(80, 5)) - offset
    ang, euc = closed_form_procrustes(X, Y)
    assert abs(procrustes_distance(X, Y) - ang) < TOL
    assert abs(procrustes_distance(X, Y, kind="euclidean") - euc) < TOL * max(1.0, euc)
    # wider Y than X takes the transposed product
    Yw = np.hstack([Y, rng.normal(size=(80, 3))])
    assert abs(procrustes_distance(X, Yw) - closed_form_procrustes(X, Yw)[0]) < TOL


def test_finite_values_whose_sum_overflows_are_accepted():
    X = np.full((4, 3), 1e308)
    X[:, 0] = [1e308, -1e308, 5e307, 0.0]
    Y = np.arange(12.0).reshape(4, 3) ** 2
    assert np.isfinite(procrustes_distance(X / 1e300, Y))
    from neurosim.metrics._validate import check_matrix

    assert check_matrix(X) is X


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_shape_distance_matches_netrep_convention(XY, alpha):
    X, Y = XY
    ang, euc = closed_form_shape(X, Y, alpha)
    assert abs(shape_distance(X, Y, alpha=alpha) - ang) < TOL
    assert abs(shape_distance(X, Y, alpha=alpha, kind="euclidean") - euc) < 1e-9 * max(1.0, euc)


def test_alpha_zero_is_arccos_mean_canonical_correlation(rng):
    X = rng.normal(size=(80, 6))
    Y = X @ rng.normal(size=(6, 6)) + rng.normal(size=(80, 6))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    rho = np.cos(scipy.linalg.subspace_angles(Xc, Yc))  # independent: principal angles
    assert abs(cca_distance(X, Y) - np.arccos(rho.mean())) < TOL
    assert np.allclose(np.sort(canonical_correlations(X, Y)), np.sort(rho), atol=TOL)


def test_different_feature_counts_equal_zero_padding(rng):
    X, Y = rng.normal(size=(40, 8)), rng.normal(size=(40, 3))
    Yp = np.pad(Y, ((0, 0), (0, 5)))
    for kind in ("angular", "euclidean"):
        assert abs(procrustes_distance(X, Y, kind=kind) - procrustes_distance(X, Yp, kind=kind)) < TOL
        assert abs(procrustes_distance(X, Y, kind=kind) - procrustes_distance(Y, X, kind=kind)) < TOL


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_invariance_rotation_translation_scale(rng, rotation, alpha):
    X, Y = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    base = shape_distance(X, Y, alpha=alpha)
    Q = rotation(rng, 6)
    shift = rng.normal(size=6) * 10
    assert abs(shape_distance(X, Y @ Q + shift, alpha=alpha) - base) < 1e-9
    scaled = shape_distance(X, 2.5 * Y @ Q + shift, alpha=alpha)
    if alpha in (0.0, 1.0):
        assert abs(scaled - base) < 1e-9
    else:
        # netrep's partial whitening s -> alpha*s + (1-alpha) mixes units: intermediate alphas
        # are NOT scale invariant (documented in docs/metrics.md); this pins that convention
        assert abs(scaled - base) > 1e-6
    # euclidean: rotation and translation only (it carries the data's units)
    eb = shape_distance(X, Y, alpha=alpha, kind="euclidean")
    assert abs(shape_distance(X, Y @ Q - 4.0, alpha=alpha, kind="euclidean") - eb) < 1e-9


def test_alpha0_invariant_to_invertible_maps_alpha1_is_not(rng):
    X, Y = rng.normal(size=(50, 5)), rng.normal(size=(50, 5))
    M = rng.normal(size=(5, 5)) + 3 * np.eye(5)
    assert abs(cca_distance(X, Y @ M) - cca_distance(X, Y)) < 1e-9
    assert abs(procrustes_distance(X, X @ M)) > 1e-3  # a test that can fail: Procrustes sees the map


def test_identity_gives_zero_not_nan(rng):
    X = rng.normal(size=(30, 4)) * 1e3
    for alpha in (0.0, 0.5, 1.0):
        d = shape_distance(X, X, alpha=alpha)
        assert np.isfinite(d) and d < 1e-6
    assert procrustes_distance(X, X, kind="euclidean") < 1e-6 * np.linalg.norm(X)


def test_cos_procrustes_is_normalized_bures_similarity(rng):
    """cos θ = NBS = tr((Kx^½ Ky Kx^½)^½) / sqrt(tr Kx tr Ky), K = XcXcᵀ (n × n Gram matrices).

    The n × n form is rank-deficient (rank 5 of 25 here), and a matrix square root near a zero
    eigenvalue is ill-conditioned (sqrt has an unbounded derivative at 0), so ``sqrtm`` of it is
    only ~1e-8 accurate — worse than the code under test. The reference therefore uses the
    equal, well-conditioned p × p form: the non-zero spectrum of Kx^½ Ky Kx^½ is that of
    Ky Kx = Ky Xc Xcᵀ, i.e. of the full-rank 6 × 6 matrix M = Xcᵀ Ky Xc, so the fidelity is
    tr(M^½). It shares no step with the code (which takes the singular values of XcᵀYc).
    """
    X, Y = rng.normal(size=(25, 6)), rng.normal(size=(25, 9))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Kx, Ky = Xc @ Xc.T, Yc @ Yc.T
    M = Xc.T @ Ky @ Xc
    assert np.linalg.cond(M) < 1e3  # full rank and well conditioned: the premise of the tolerance
    fidelity = np.trace(scipy.linalg.sqrtm(M)).real
    nbs = fidelity / np.sqrt(np.trace(Kx) * np.trace(Ky))
    # sqrtm of a symmetric positive definite 6 × 6 matrix with condition number < 1e3 is accurate
    # to ~cond · eps ≈ 1e-13 relative; 1e-12 leaves a margin of 10 and still fails on any error
    # larger than rounding
    assert abs(np.cos(procrustes_distance(X, Y)) - nbs) < 1e-12
    # the rank-deficient n × n form agrees to its own (lower) accuracy
    root = scipy.linalg.sqrtm(Kx)
    assert abs(np.trace(scipy.linalg.sqrtm(root @ Ky @ root)).real - fidelity) < 1e-6 * fidelity


@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("kind", ["angular", "euclidean"])
def test_prepare_split_equals_shape_distance(rng, alpha, kind):
    X, Y = rng.normal(size=(30, 8)), rng.normal(size=(30, 5))
    direct = shape_distance(X, Y, alpha=alpha, kind=kind)
    split = prepared_distance(prepare(X, alpha=alpha), prepare(Y, alpha=alpha), kind=kind)
    assert abs(direct - split) < 1e-10 * max(1.0, direct)


def test_wide_data_path_matches_closed_form(rng):
    X, Y = rng.normal(size=(12, 40)), rng.normal(size=(12, 55))  # features > samples: compressed by QR
    ang, euc = closed_form_procrustes(X, Y)
    assert abs(procrustes_distance(X, Y) - ang) < TOL
    assert abs(procrustes_distance(X, Y, kind="euclidean") - euc) < 1e-9
    assert prepare(X).shape == (12, 12)
    assert abs(prepared_distance(prepare(X), prepare(Y)) - ang) < TOL


def test_rank_deficient_whitening_is_finite(rng):
    X = rng.normal(size=(40, 3)) @ rng.normal(size=(3, 8))  # rank 3 in 8 features
    Y = rng.normal(size=(40, 8))
    for alpha in (0.0, 0.5):
        d = shape_distance(X, Y, alpha=alpha)
        assert np.isfinite(d) and 0 <= d <= np.pi / 2
    # rank-deficient alpha=0: cos = sum(rho) / sqrt(r_x r_y)
    rho = canonical_correlations(X, Y)
    assert abs(cca_distance(X, Y) - np.arccos(rho.sum() / np.sqrt(3 * 8))) < 1e-9


def test_float32_input(rng):
    X, Y = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    d64 = procrustes_distance(X, Y)
    d32 = procrustes_distance(X.astype(np.float32), Y.astype(np.float32))
    assert isinstance(d32, float)
    assert abs(d64 - d32) < 1e-6


# -------------------------------------------------------------- metric axioms (hypothesis)
@st.composite
def triples(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(5, 12))
    ps = [draw(st.integers(1, 5)) for _ in range(3)]
    r = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    return [scale * r.normal(size=(n, p)) for p in ps]


@settings(max_examples=40, deadline=None)
@given(triples(), st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from(["angular", "euclidean"]))
def test_metric_axioms(data, alpha, kind):
    X, Y, Z = data
    d = lambda a, b: shape_distance(a, b, alpha=alpha, kind=kind)  # noqa: E731
    dxy, dyz, dxz = d(X, Y), d(Y, Z), d(X, Z)
    scale = 1.0 if kind == "angular" else max(np.linalg.norm(X), np.linalg.norm(Y), np.linalg.norm(Z))
    tol = 1e-7 * scale
    assert dxy >= 0 and d(X, X) <= 1e-6 * scale
    assert abs(dxy - d(Y, X)) <= tol
    assert dxz <= dxy + dyz + tol
    if kind == "angular":
        assert dxy <= np.pi / 2 + 1e-12


# -------------------------------------------------------------- estimator
def test_estimator_fit_score_equals_function(XY):
    X, Y = XY
    for alpha in (0.0, 0.5, 1.0):
        for kind in ("angular", "euclidean"):
            est = ShapeMetric(alpha=alpha, kind=kind)
            assert abs(est.fit_score(X, Y) - shape_distance(X, Y, alpha=alpha, kind=kind)) < 1e-9
            assert abs(est.score(X, Y) - est.distance_) < 1e-9


def test_estimator_generalizes_fixed_rotation(rng, rotation):
    Q = rotation(rng, 6)
    X = rng.normal(size=(100, 6))
    Y = X @ Q + 5.0
    est = ShapeMetric().fit(X[:60], Y[:60])
    assert est.score(X[60:], Y[60:]) < 1e-7  # the learned rotation transfers exactly
    Xa, Ya = est.transform(X[60:], Y[60:])
    assert np.allclose(Xa, Ya, atol=1e-8)
    # a different rotation on test data is NOT undone by the fitted alignment (CV can fail)
    Q2 = rotation(np.random.default_rng(5), 6)
    assert est.score(X[60:], X[60:] @ Q2 + 5.0) > 0.1


def test_estimator_heldout_worse_than_insample_on_noise(rng):
    X, Y = rng.normal(size=(40, 10)), rng.normal(size=(40, 10))
    est = ShapeMetric(alpha=0.0).fit(X[:20], Y[:20])
    assert est.score(X[20:], Y[20:]) > est.distance_


def test_cross_validate_works(rng, rotation):
    X = rng.normal(size=(90, 5))
    Y = X @ rotation(rng, 5) + 0.3 * rng.normal(size=(90, 5))
    res = cross_validate(ShapeMetric(), X, Y, cv=KFold(3), return_train_score=True)
    manual = []
    for tr, te in KFold(3).split(X):
        manual.append(ShapeMetric().fit(X[tr], Y[tr]).score(X[te], Y[te]))
    assert np.allclose(res["test_score"], manual)
    assert np.all(np.isfinite(res["train_score"]))
    res2 = cross_validate(ShapeMetric(), X, Y, cv=KFold(3), scoring=neg_shape_distance)
    assert np.allclose(res2["test_score"], -np.asarray(manual))
    assert clone(ShapeMetric(alpha=0.2)).get_params()["alpha"] == 0.2


def test_estimator_unequal_and_wide_features(rng):
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 20))
    for alpha in (0.0, 1.0):
        est = ShapeMetric(alpha=alpha)
        assert abs(est.fit_score(X, Y) - shape_distance(X, Y, alpha=alpha)) < 1e-9
        Xa, Ya = est.transform(X, Y)
        assert Xa.shape == Ya.shape == (15, 20)


def test_prepared_distance_checks_shapes(rng):
    A, B = prepare(rng.normal(size=(10, 3))), prepare(rng.normal(size=(9, 3)))
    with pytest.raises(ValueError, match="share their samples"):
        prepared_distance(A, B)
    with pytest.raises(ValueError, match="2-D"):
        prepared_distance(A[:, 0], A)
    with pytest.raises(ValueError, match="zero norm"):
        prepare(np.ones((10, 3)))


def test_estimator_errors(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="not fitted"):
        ShapeMetric().score(X, X)
    est = ShapeMetric().fit(X, X)
    with pytest.raises(ValueError, match="features"):
        est.score(X[:, :2], X)
    with pytest.raises(ValueError, match="alpha"):
        ShapeMetric(alpha=2).fit(X, X)
    with pytest.raises(ValueError, match="did you mean 'angular'"):
        ShapeMetric(kind="angualr").fit(X, X)


# -------------------------------------------------------------- real data
@pytest.mark.data
def test_hatsopoulos_condition_average_baseline(hatsopoulos_rates):
    """SCIENCE.md: data vs its condition-average copy = 0.4838 (normalized angular Procrustes)."""
    R = hatsopoulos_rates
    assert R.shape == (8, 121, 141)
    X = R.reshape(-1, 141)
    Y = np.broadcast_to(R.mean(axis=0, keepdims=True), R.shape).reshape(-1, 141)
    d = procrustes_distance(X, Y, normalize=True)
    ang, _ = closed_form_procrustes(X, Y)
    assert abs(d - ang / (np.pi / 2)) < TOL
    assert round(d, 4) == 0.4838


@pytest.mark.data
def test_hatsopoulos_split_half_units(hatsopoulos_rates):
    R = hatsopoulos_rates.reshape(-1, 141)
    perm = np.random.default_rng(0).permutation(141)
    A, B = R[:, perm[:70]], R[:, perm[70:140]]
    d = procrustes_distance(A, B, normalize=True)
    ang, _ = closed_form_procrustes(A, B)
    assert abs(d - ang / (np.pi / 2)) < TOL
    assert 0.3 < d < 0.5  # SCIENCE.md: split-half ceiling 0.403 ± 0.024 over draws
