"""Curvature: eigen-solvers and Hutchinson on explicit quadratic forms, then on real RNN losses."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.rnn.analysis.curvature import (
    CurvatureConvergenceError,
    hutchinson_trace,
    top_eigenvalues,
)


def _symmetric_with_spectrum(eigs, seed=0):
    eigs = np.asarray(eigs, dtype=float)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(eigs.size, eigs.size)))
    return (Q * eigs) @ Q.T, Q


# ---------------------------------------------------------------- top_eigenvalues on known spectra
@pytest.mark.parametrize("k", [1, 3])
def test_lanczos_recovers_known_spectrum_largest_algebraic(k):
    # a large-magnitude negative eigenvalue must NOT be returned: "LA" = largest algebraic
    eigs = np.concatenate([[-50.0], np.linspace(-3, 10, 38), [12.5]])
    H, _ = _symmetric_with_spectrum(eigs)
    got = top_eigenvalues(lambda v: H @ v, H.shape[0], k=k, tol=1e-10)
    np.testing.assert_allclose(got, np.sort(eigs)[::-1][:k], rtol=1e-9)


def test_lanczos_eigenvectors_are_eigenvectors():
    eigs = np.linspace(0.1, 5.0, 25)
    H, Q = _symmetric_with_spectrum(eigs, seed=3)
    vals, vecs = top_eigenvalues(lambda v: H @ v, 25, k=2, tol=1e-12, return_eigenvectors=True)
    np.testing.assert_allclose(H @ vecs, vecs * vals, atol=1e-9)
    # the leading one is +-Q[:, -1]
    assert abs(abs(vecs[:, 0] @ Q[:, -1]) - 1.0) < 1e-9


def test_power_iteration_matches_dominant_eigenvalue():
    eigs = np.concatenate([np.linspace(0.0, 4.0, 29), [8.0]])  # gap ratio 0.5 -> fast convergence
    H, _ = _symmetric_with_spectrum(eigs, seed=1)
    got = top_eigenvalues(lambda v: H @ v, 30, method="power", tol=1e-12, max_iter=500)
    np.testing.assert_allclose(got, [8.0], rtol=1e-9)


def test_power_iteration_finds_largest_magnitude_not_algebraic():
    # documented difference from Lanczos: power iteration locks onto |lambda| max
    H = np.diag([-9.0, 1.0, 2.0, 3.0])
    got = top_eigenvalues(lambda v: H @ v, 4, method="power", tol=1e-12, max_iter=2000)
    np.testing.assert_allclose(got, [-9.0], rtol=1e-8)
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 4, k=1), [3.0], rtol=1e-8)


def test_power_iteration_cap_raises():
    H = np.diag(np.r_[np.ones(10), 1.0 + 1e-9])  # no gap: cannot converge to 1e-15 in 5 steps
    H[0, 0] = 0.5
    with pytest.raises(CurvatureConvergenceError, match="max_iter=5"):
        top_eigenvalues(lambda v: H @ v, 11, method="power", tol=1e-15, max_iter=5)


def test_lanczos_iteration_cap_raises():
    rng = np.random.default_rng(0)
    H, _ = _symmetric_with_spectrum(rng.normal(size=300), seed=2)
    with pytest.raises(CurvatureConvergenceError, match="max_iter=1"):
        top_eigenvalues(lambda v: H @ v, 300, k=6, tol=1e-14, max_iter=1)


def test_small_operator_falls_back_to_dense():
    H = np.array([[2.0, 1.0], [1.0, 2.0]])  # eigenvalues 3, 1; ARPACK would need k < dim
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 2, k=2), [3.0, 1.0])
    np.testing.assert_allclose(top_eigenvalues(lambda v: H @ v, 2, k=1), [3.0])


def test_eigen_solver_is_deterministic_for_a_seed():
    H, _ = _symmetric_with_spectrum(np.linspace(1, 2, 40), seed=4)
    a = top_eigenvalues(lambda v: H @ v, 40, k=2, seed=7)
    b = top_eigenvalues(lambda v: H @ v, 40, k=2, seed=7)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(dim=0), ValueError, "dim must be >= 1"),
        (dict(dim=3.0), TypeError, "dim must be a positive int"),
        (dict(k=5), ValueError, "only dim=4"),
        (dict(tol=-1.0), ValueError, "tol must be a positive"),
        (dict(tol=float("nan")), ValueError, "tol must be a positive"),
        (dict(max_iter=0), ValueError, "max_iter must be >= 1"),
        (dict(method="lanczoss"), ValueError, "Did you mean 'lanczos'"),
        (dict(method="power", k=2), ValueError, "use method='lanczos'"),
    ],
)
def test_top_eigenvalues_rejects_bad_input(kwargs, exc, msg):
    H = np.eye(4)
    args = dict(dim=4) | kwargs
    with pytest.raises(exc, match=msg):
        top_eigenvalues(lambda v: H @ v, **args)


def test_hvp_returning_nan_or_wrong_size_is_named():
    with pytest.raises(ValueError, match="NaN or inf"):
        top_eigenvalues(lambda v: np.full_like(v, np.nan), 10)
    with pytest.raises(ValueError, match="length 3, expected dim=10"):
        top_eigenvalues(lambda v: v[:3], 10)


# ---------------------------------------------------------------- Hutchinson
def test_hutchinson_is_exact_for_diagonal_with_rademacher():
    d = np.random.default_rng(0).normal(size=50)
    est = hutchinson_trace(lambda v: d * v, 50, n_samples=3)
    assert est.value == pytest.approx(d.sum(), abs=1e-12)
    assert est.stderr == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
def test_hutchinson_unbiased_and_variance_matches_closed_form(distribution):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(20, 20))
    H = A + A.T
    n = 4000
    est = hutchinson_trace(lambda v: H @ v, 20, n_samples=n, distribution=distribution, seed=2)
    # unbiased: within 4 standard errors of the true trace
    assert abs(est.value - np.trace(H)) < 4 * est.stderr
    # per-sample variance: 2(||H||_F^2 - sum H_ii^2) for Rademacher, 2||H||_F^2 for Gaussian
    fro2 = np.sum(H**2)
    var = 2 * (fro2 - np.sum(np.diag(H) ** 2)) if distribution == "rademacher" else 2 * fro2
    assert np.var(est.samples, ddof=1) == pytest.approx(var, rel=0.1)
    assert est.stderr == pytest.approx(np.sqrt(var / n), rel=0.1)
    assert float(est) == est.value


def test_hutchinson_rejects_bad_input():
    with pytest.raises(ValueError, match="Did you mean 'gaussian'"):
        hutchinson_trace(lambda v: v, 3, distribution="gausian")
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        hutchinson_trace(lambda v: v, 3, n_samples=0)
