"""Dynamics measures against closed forms and invariances."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosim.rnn.analysis import (
    dynamics_distance,
    eigenspectrum,
    fit_linear_dynamics,
    participation_ratio,
    spectral_radius,
    spectrum_distance,
)


def _simulate(A, n_cond=6, T=40, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    k = A.shape[0]
    Z = np.empty((n_cond, T, k))
    Z[:, 0] = rng.normal(size=(n_cond, k))
    for t in range(T - 1):
        Z[:, t + 1] = Z[:, t] @ A.T + noise * rng.normal(size=(n_cond, k))
    return Z


def _rotation_block(rate, angle):
    c, s = np.cos(angle), np.sin(angle)
    return rate * np.array([[c, -s], [s, c]])


def test_participation_ratio_closed_forms(rng):
    # covariance eigenvalues (4, 1, 1): PR = 36 / 18 = 2
    X = rng.normal(size=(200000, 3)) * np.sqrt([4.0, 1.0, 1.0])
    assert participation_ratio(X) == pytest.approx(2.0, rel=0.02)
    # exact: rank-1 activity has PR 1; invariant to rotation of the features
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    Y = rng.normal(size=(50, 3))
    assert participation_ratio(Y @ Q) == pytest.approx(participation_ratio(Y), rel=1e-12)
    da = xr.DataArray(Y.reshape(5, 10, 3), dims=("condition", "time", "unit"))
    assert participation_ratio(da) == pytest.approx(participation_ratio(Y), rel=1e-12)


def test_participation_ratio_errors():
    with pytest.raises(ValueError, match="zero variance"):
        participation_ratio(np.ones((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        participation_ratio(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="unit"):
        participation_ratio(xr.DataArray(np.ones((3, 4)), dims=("time", "neuron")))


def test_eigenspectrum_matches_numpy_and_model(rng):
    W = rng.normal(size=(30, 30)) / np.sqrt(30)
    eig = eigenspectrum(W)
    assert np.all(np.diff(np.abs(eig)) <= 1e-12)
    assert np.allclose(np.sort_complex(eig), np.sort_complex(np.linalg.eigvals(W)))

    class M:
        params = {"W_rec": W}

    assert np.array_equal(eigenspectrum(M()), eig)
    assert spectral_radius(W) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))))
    with pytest.raises(ValueError, match="square"):
        eigenspectrum(np.ones((3, 4)))


def test_spectrum_distance_similarity_invariance_and_value(rng):
    W = rng.normal(size=(8, 8))
    Q = rng.normal(size=(8, 8)) + 3 * np.eye(8)
    assert spectrum_distance(W, Q @ W @ np.linalg.inv(Q)) < 1e-9
    # diagonal matrices: optimal matching pairs sorted values -> mean |difference|
    a, b = np.diag([1.0, 2.0, 3.0]), np.diag([3.5, 1.0, 2.0])
    assert spectrum_distance(a, b) == pytest.approx(0.5 / 3)


def test_fit_linear_dynamics_recovers_known_system():
    A = np.zeros((4, 4))
    A[:2, :2] = _rotation_block(0.97, 0.3)
    A[2:, 2:] = _rotation_block(0.8, 0.05)
    Z = _simulate(A)
    rng = np.random.default_rng(1)
    embed = rng.normal(size=(4, 25))  # 4 latent dims linearly embedded in 25 units
    X = Z @ embed + 0.5  # offset must be absorbed by b
    fit = fit_linear_dynamics(X, n_components=4)
    assert fit.r2 == pytest.approx(1.0, abs=1e-10)
    true = np.linalg.eigvals(A)
    assert np.allclose(np.sort_complex(fit.eigenvalues), np.sort_complex(true), atol=1e-8)
    assert np.all(fit.timescales > 0)


def test_dynamics_distance_invariance_and_sensitivity():
    A = np.zeros((4, 4))
    A[:2, :2] = _rotation_block(0.97, 0.3)
    A[2:, 2:] = _rotation_block(0.8, 0.05)
    B = A.copy()
    B[:2, :2] = _rotation_block(0.9, 0.6)  # different oscillation + decay
    rng = np.random.default_rng(2)
    embed = rng.normal(size=(4, 12))
    XA = _simulate(A, seed=3) @ embed
    mix = rng.normal(size=(12, 12)) + 4 * np.eye(12)  # invertible re-mixing of units
    XA2 = _simulate(A, seed=4) @ embed @ mix  # different initial states too
    XB = _simulate(B, seed=3) @ embed
    assert dynamics_distance(XA, XA2, n_components=4) < 1e-8
    d = dynamics_distance(XA, XB, n_components=4)
    expected = np.abs(np.sort_complex(np.linalg.eigvals(A[:2, :2]))
                      - np.sort_complex(np.linalg.eigvals(B[:2, :2]))).sum() / 4
    assert d == pytest.approx(expected, rel=1e-6)


def test_fit_linear_dynamics_errors(rng):
    with pytest.raises(ValueError, match="n_components"):
        fit_linear_dynamics(rng.normal(size=(2, 10, 3)), n_components=5)
    with pytest.raises(ValueError, match="time points"):
        fit_linear_dynamics(rng.normal(size=(2, 2, 3)), n_components=2)
    with pytest.raises(ValueError, match=r"\(trajectories, time, units\)"):
        fit_linear_dynamics(rng.normal(size=(2, 3, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        fit_linear_dynamics(np.full((2, 10, 3), np.nan))
