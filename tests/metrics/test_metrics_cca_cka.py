"""CCA family and CKA against independent closed forms, identities and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from neurosim.metrics import canonical_correlations, cca_similarity, cka, rdm

TOL = 1e-10


def inv_sqrt(C):
    """C^{-1/2} of a covariance; a reference only while C is well conditioned (checked: κ < 1e4,
    so the reference's rounding, ~κ·eps, stays far below the tolerances it is used with)."""
    w, V = np.linalg.eigh(C)
    assert w.min() > 1e-4 * w.max(), "ill-conditioned reference: use an orthonormal-basis (QR/SVD) form"
    return V @ np.diag(w**-0.5) @ V.T


def cca_by_covariances(X, Y, reg=0.0):
    """Textbook CCA: singular values of Cxx^{-1/2} Cxy Cyy^{-1/2} (covariances / (n-1))."""
    n = X.shape[0]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Cxx = Xc.T @ Xc / (n - 1) + reg * np.eye(X.shape[1])
    Cyy = Yc.T @ Yc / (n - 1) + reg * np.eye(Y.shape[1])
    Cxy = Xc.T @ Yc / (n - 1)
    return np.linalg.svd(inv_sqrt(Cxx) @ Cxy @ inv_sqrt(Cyy), compute_uv=False)


@pytest.fixture
def XY(rng):
    X = rng.normal(size=(70, 6))
    Y = X[:, :4] @ rng.normal(size=(4, 5)) + rng.normal(size=(70, 5))
    return X, Y


# ------------------------------------------------------------------ CCA
@pytest.mark.parametrize("reg", [0.0, 0.1, 2.0])
def test_canonical_correlations_closed_form(XY, reg):
    X, Y = XY
    assert np.allclose(canonical_correlations(X, Y, reg=reg), cca_by_covariances(X, Y, reg), atol=TOL, rtol=0)


def test_canonical_correlations_invariant_to_linear_maps(XY, rng):
    X, Y = XY
    A, B = rng.normal(size=(6, 6)), rng.normal(size=(5, 5))
    assert np.allclose(canonical_correlations(X @ A + 2, Y @ B - 1), canonical_correlations(X, Y), atol=1e-9)


def test_n_components_and_summaries(XY):
    X, Y = XY
    rho = cca_by_covariances(X, Y)
    assert np.allclose(canonical_correlations(X, Y, n_components=2), rho[:2], atol=TOL)
    assert abs(cca_similarity(X, Y) - rho.mean()) < TOL
    assert abs(cca_similarity(X, Y, "mean_squared") - np.mean(rho**2)) < TOL
    assert abs(cca_similarity(X, Y, n_components=3) - rho[:3].mean()) < TOL
    with pytest.raises(ValueError, match="only 5 canonical"):
        canonical_correlations(X, Y, n_components=6)


def test_rank_deficient_inputs_do_not_crash_or_nan(rng):
    X = rng.normal(size=(50, 3))
    Xdef = np.c_[X, X[:, 0] + X[:, 1], np.zeros(50), np.full(50, 7.0)]  # duplicate + constant columns
    Y = X @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(50, 4))
    rho_def = canonical_correlations(Xdef, Y)
    assert np.all(np.isfinite(rho_def)) and rho_def.size == 3
    assert np.allclose(rho_def, canonical_correlations(X, Y), atol=1e-9)
    for kind in ("mean", "mean_squared", "svcca", "pwcca"):
        v = cca_similarity(Xdef, Y, kind)
        assert np.isfinite(v) and 0 <= v <= 1


def _pca_scores(X, k):
    Xc = X - X.mean(0)
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    return U[:, :k] * s[:k]


def test_svcca_keeps_99_percent_or_given_dims(rng):
    # X: 3 strong + 5 weak directions, so 99% variance keeps exactly 3 (checked below)
    X = rng.normal(size=(200, 8)) * np.r_[10, 9, 8, 0.1, 0.1, 0.1, 0.1, 0.1]
    Y = X @ rng.normal(size=(8, 8)) + rng.normal(size=(200, 8))
    sx = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    kx = int(np.searchsorted(np.cumsum(sx) / sx.sum(), 0.99) + 1)
    sy = np.linalg.svd(Y - Y.mean(0), compute_uv=False) ** 2
    ky = int(np.searchsorted(np.cumsum(sy) / sy.sum(), 0.99) + 1)
    assert kx == 3
    expected = cca_by_covariances(_pca_scores(X, kx), _pca_scores(Y, ky)).mean()
    assert abs(cca_similarity(X, Y, "svcca") - expected) < TOL
    expected2 = cca_by_covariances(_pca_scores(X, 2), _pca_scores(Y, 2)).mean()
    assert abs(cca_similarity(X, Y, "svcca", keep=2) - expected2) < TOL


def test_pwcca_matches_explicit_weights(rng):
    X = rng.normal(size=(120, 4))
    Y = np.c_[X @ rng.normal(size=(4, 3)), rng.normal(size=(120, 3))] + 0.3 * rng.normal(size=(120, 6))
    # X has fewer features -> weights from X's canonical variates h_i = Xc Cxx^{-1/2} u_i
    n = X.shape[0]
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Cxx, Cyy, Cxy = Xc.T @ Xc / (n - 1), Yc.T @ Yc / (n - 1), Xc.T @ Yc / (n - 1)
    U, rho, _ = np.linalg.svd(inv_sqrt(Cxx) @ Cxy @ inv_sqrt(Cyy), full_matrices=False)
    H = Xc @ inv_sqrt(Cxx) @ U
    H /= np.linalg.norm(H, axis=0)
    w = np.abs(H.T @ Xc).sum(axis=1)
    expected = np.dot(w / w.sum(), rho)
    assert abs(cca_similarity(X, Y, "pwcca") - expected) < 1e-9
    assert rho.min() <= expected <= rho.max()


def test_cca_bad_input():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="did you mean 'svcca'"):
        cca_similarity(X, X, "svcaa")
    with pytest.raises(ValueError, match="reg"):
        canonical_correlations(X, X, reg=-1)
    with pytest.raises(ValueError, match="zero norm"):
        canonical_correlations(X, np.ones((20, 2)))


# ------------------------------------------------------------------ CKA
def hsic_gram_cka(K, L):
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc))


def u_centered(K):
    """Székely-Rizzo U-centering (Kornblith et al.'s unbiased center_gram), independent of Song's formula."""
    n = K.shape[0]
    K = K.copy()
    np.fill_diagonal(K, 0)
    means = K.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    K -= means[:, None] + means[None, :]
    np.fill_diagonal(K, 0)
    return K


def debiased_cka_reference(K, L):
    Ku, Lu = u_centered(K), u_centered(L)
    return np.sum(Ku * Lu) / np.sqrt(np.sum(Ku * Ku) * np.sum(Lu * Lu))


@pytest.mark.parametrize("shape", [(40, 5, 7), (10, 30, 25)])  # feature-space and Gram-space paths
def test_linear_cka_closed_forms(rng, shape):
    n, p, q = shape
    X = rng.normal(size=(n, p)) + 5
    Y = X[:, :1] * rng.normal(size=(1, q)) + rng.normal(size=(n, q))
    K, L = X @ X.T, Y @ Y.T
    assert abs(cka(X, Y) - hsic_gram_cka(K, L)) < TOL
    assert abs(cka(X, Y, debiased=True) - debiased_cka_reference(K, L)) < TOL
    assert abs(cka(X, X, debiased=True) - 1.0) < 1e-12


def test_rbf_cka_closed_form(rng):
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 6))
    Dx, Dy = squareform(pdist(X, "sqeuclidean")), squareform(pdist(Y, "sqeuclidean"))
    K = np.exp(-Dx / (2 * np.median(Dx)))  # Kornblith's gram_rbf, threshold 1
    L = np.exp(-Dy / (2 * np.median(Dy)))
    assert abs(cka(X, Y, kernel="rbf") - hsic_gram_cka(K, L)) < TOL
    assert abs(cka(X, Y, kernel="rbf", debiased=True) - debiased_cka_reference(K, L)) < TOL
    K2, L2 = np.exp(-Dx / 2 / 1.5**2), np.exp(-Dy / 2 / 1.5**2)
    assert abs(cka(X, Y, kernel="rbf", sigma=1.5) - hsic_gram_cka(K2, L2)) < TOL


def test_cka_equals_cosine_of_centred_sqeuclidean_rdms(rng):
    X, Y = rng.normal(size=(15, 4)), rng.normal(size=(15, 7))
    Dx, Dy = squareform(rdm(X, method="sqeuclidean")), squareform(rdm(Y, method="sqeuclidean"))
    H = np.eye(15) - 1 / 15
    Cx, Cy = H @ Dx @ H, H @ Dy @ H
    cos = np.sum(Cx * Cy) / (np.linalg.norm(Cx) * np.linalg.norm(Cy))
    assert abs(cka(X, Y) - cos) < TOL


def test_cka_invariances(rng, rotation):
    X, Y = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    Q = rotation(rng, 5)
    for kw in ({}, {"debiased": True}, {"kernel": "rbf"}):
        base = cka(X, Y, **kw)
        assert abs(cka(X, Y @ Q + 3.0, **kw) - base) < 1e-9
        assert abs(cka(X, 4.0 * Y, **kw) - base) < 1e-9
    # anisotropic scaling changes linear CKA (a test that can fail)
    assert abs(cka(X, Y * np.r_[10, 1, 1, 1, 1]) - cka(X, Y)) > 1e-3


def test_cka_float32_and_errors(rng):
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    assert abs(cka(X.astype(np.float32), Y.astype(np.float32)) - cka(X, Y)) < 1e-6
    with pytest.raises(ValueError, match="at least 4 samples"):
        cka(X[:3], Y[:3], debiased=True)
    with pytest.raises(ValueError, match="did you mean 'rbf'"):
        cka(X, Y, kernel="rbff")
    with pytest.raises(ValueError, match="sigma"):
        cka(X, Y, sigma=1.0)
    with pytest.raises(ValueError, match="pass sigma"):
        cka(np.r_[np.zeros((15, 3)), X[:5]], Y, kernel="rbf")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(6, 15), st.integers(1, 6), st.integers(1, 6))
def test_similarity_properties(seed, n, p, q):
    r = np.random.default_rng(seed)
    X, Y = r.normal(size=(n, p)), r.normal(size=(n, q))
    for kw in ({}, {"debiased": True}, {"kernel": "rbf"}):
        v = cka(X, Y, **kw)
        assert abs(v - cka(Y, X, **kw)) < 1e-12
        assert v <= 1 + 1e-12 and (kw.get("debiased") or v >= -1e-12)
        assert abs(cka(X, X, **kw) - 1) < 1e-9
    rho = canonical_correlations(X, Y)
    assert np.all((rho >= 0) & (rho <= 1)) and np.all(np.diff(rho) <= 1e-12)
    assert np.allclose(rho, canonical_correlations(Y, X), atol=1e-9)
