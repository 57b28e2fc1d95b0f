"""Bias-corrected (finite-trial) Procrustes distance and CKA: simulations with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim import bias_corrected_cka, bias_corrected_estimate, bias_corrected_procrustes_distance, make
from neurosim.metrics import cka, procrustes_distance
from neurosim.metrics.bias_corrected import _Side
from neurosim.metrics.stochastic import TRIAL_INPUT


def _truth(seed, C=20, p=10, q=10, slope=0.5, w=0.5):
    """True condition means: X with a power-law spectrum, Y a linear map of it plus its own part."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(C, p)))[0]
    V = np.linalg.qr(rng.normal(size=(p, p)))[0]
    Mx = (U * (np.arange(1, p + 1.0) ** -slope * 2 * np.sqrt(C))) @ V
    My = Mx @ rng.normal(size=(p, q)) / np.sqrt(p) + w * rng.normal(size=(C, q))
    return Mx, My


def _draw(rng, M, r, noise=1.0):
    return M[:, None, :] + noise * rng.normal(size=(M.shape[0], r, M.shape[1]))


def _errors(Mx, My, r, draws, seed, fns):
    rng = np.random.default_rng(seed)
    out = {k: [] for k in fns}
    for _ in range(draws):
        X, Y = _draw(rng, Mx, r), _draw(rng, My, r)
        for k, f in fns.items():
            out[k].append(f(X, Y))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("kind", ["angular", "euclidean"])
def test_mean_error_is_at_most_a_third_of_the_plugin_at_5_trials(kind):
    Mx, My = _truth(0)
    truth = procrustes_distance(Mx, My, kind=kind)
    res = _errors(Mx, My, 5, 200, 1, {
        "plugin": lambda X, Y: procrustes_distance(X.mean(1), Y.mean(1), kind=kind),
        "corrected": lambda X, Y: bias_corrected_procrustes_distance(X, Y, kind=kind),
    })
    plug_err = abs(res["plugin"].mean() - truth)
    corr_err = abs(res["corrected"].mean() - truth)
    assert plug_err > 0.1 * truth  # the plug-in is visibly biased here
    assert corr_err <= plug_err / 3


def test_cka_mean_error_is_at_most_a_third_of_the_plugin_at_5_trials():
    Mx, My = _truth(2, C=30, p=8, q=6)
    truth = cka(Mx, My)
    res = _errors(Mx, My, 5, 200, 3, {
        "plugin": lambda X, Y: cka(X.mean(1), Y.mean(1)),
        "corrected": lambda X, Y: bias_corrected_cka(X, Y, n_splits=4),
    })
    plug_err = abs(res["plugin"].mean() - truth)
    assert plug_err > 0.02
    assert abs(res["corrected"].mean() - truth) <= plug_err / 3


def test_unbiased_moments():
    # E‖H X̄‖² - Σ H_cc d_c = ‖H M‖²: mean over draws within 4 standard errors; plug-in far off
    Mx, _ = _truth(4, C=6, p=3, q=3)
    rng = np.random.default_rng(5)
    target = float(np.sum((Mx - Mx.mean(0)) ** 2))
    est, plug = [], []
    for _ in range(2000):
        side = _Side(_draw(rng, Mx, 3), True)
        est.append(side.sq_norm())
        plug.append(float(np.sum(side.A**2)))
    est = np.asarray(est)
    se = est.std() / np.sqrt(est.size)
    assert abs(est.mean() - target) < 4 * se
    assert np.mean(plug) - target > 20 * se


def test_noise_free_trials_give_the_plugin_exactly():
    Mx, My = _truth(6, C=12, p=4, q=3)
    X = np.repeat(Mx[:, None], 3, axis=1)
    Y = np.repeat(My[:, None], 4, axis=1)
    for kind in ("angular", "euclidean"):
        assert bias_corrected_procrustes_distance(X, Y, kind=kind) == pytest.approx(
            procrustes_distance(Mx, My, kind=kind), rel=1e-12)
    assert bias_corrected_cka(np.repeat(X, 2, axis=1), np.repeat(Y, 2, axis=1)) == pytest.approx(
        cka(Mx, My), rel=1e-12)


def test_invariances_and_identity():
    Mx, My = _truth(7, C=15, p=5, q=4)
    rng = np.random.default_rng(8)
    X, Y = _draw(rng, Mx, 5), _draw(rng, My, 6)
    Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    d = bias_corrected_procrustes_distance(X, Y)
    assert bias_corrected_procrustes_distance(X, Y @ Q) == pytest.approx(d, abs=1e-10)
    assert bias_corrected_procrustes_distance(X + 3.0, Y) == pytest.approx(d, abs=1e-10)
    assert bias_corrected_procrustes_distance(Y, X) == pytest.approx(d, abs=1e-10)
    assert bias_corrected_cka(X, Y @ Q) == pytest.approx(bias_corrected_cka(X, Y), abs=1e-10)
    assert bias_corrected_procrustes_distance(X, X) == 0.0
    assert bias_corrected_cka(X, X) == 1.0


def test_jackknife_variance_matches_the_spread_over_draws():
    Mx, My = _truth(9, C=15, p=4, q=4)
    rng = np.random.default_rng(10)
    values, variances = [], []
    for _ in range(60):
        est = bias_corrected_estimate(_draw(rng, Mx, 5), _draw(rng, My, 5))
        values.append(est.value)
        variances.append(est.variance)
        assert est.std_error == pytest.approx(np.sqrt(est.variance))
    ratio = np.mean(variances) / np.var(values)
    assert 0.5 < ratio < 2.0
    est = bias_corrected_estimate(_draw(rng, Mx, 5), _draw(rng, My, 5), measure="cka", n_splits=2)
    assert est.measure == "cka" and est.variance > 0 and 0.0 < est.plugin < 1.0


def test_registry_ids():
    Mx, My = _truth(11, C=12, p=4, q=3)
    rng = np.random.default_rng(12)
    X, Y = _draw(rng, Mx, 5), _draw(rng, My, 5)
    m = make("procrustes-distance=angular-estimator=bias_corrected")
    assert m.input == TRIAL_INPUT and m.direction == "distance" and m(X, Y) == bias_corrected_procrustes_distance(X, Y)
    m = make("procrustes-distance=euclidean-estimator=bias_corrected")
    assert m(X, Y) == bias_corrected_procrustes_distance(X, Y, kind="euclidean")
    m = make("cka-kernel=linear-estimator=bias_corrected-score")
    assert m.direction == "similarity" and m(X, Y) == bias_corrected_cka(X, Y)


def test_bad_input_names_the_argument():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(6, 5, 3))
    with pytest.raises(ValueError, match="X has 1 trial per condition"):
        bias_corrected_procrustes_distance(X[:, :1], X)
    with pytest.raises(ValueError, match="Y has 3 trials per condition; the bias-corrected CKA"):
        bias_corrected_cka(X, X[:, :3] + 1.0)
    with pytest.raises(ValueError, match="X has 2 trials per condition; the jackknife variance"):
        bias_corrected_estimate(X[:, :2], X[:, 2:4])
    with pytest.raises(ValueError, match="Y has 8 units but only 6 conditions"):
        bias_corrected_procrustes_distance(X, rng.normal(size=(6, 5, 8)))
    with pytest.raises(ValueError, match="X and Y must describe the same conditions"):
        bias_corrected_procrustes_distance(X, X[:4])
    bad = X.copy()
    bad[1, 2, 0] = np.inf
    with pytest.raises(ValueError, match="Y contains 1 NaN/inf .*condition 1, trial 2"):
        bias_corrected_cka(X, bad)
    with pytest.raises(ValueError, match="normalize=True applies to kind='angular'"):
        bias_corrected_procrustes_distance(X, X, kind="euclidean", normalize=True)
    with pytest.raises(ValueError, match="unknown measure 'rsa'"):
        bias_corrected_estimate(X, X, measure="rsa")
    with pytest.raises(TypeError, match="center must be True or False"):
        bias_corrected_cka(X, X, center="no")
    pure_noise = rng.normal(size=(6, 3, 3)) * 0.0 + rng.normal(size=(1, 3, 3))
    with pytest.raises(ValueError, match="cannot be told apart from trial noise"):
        bias_corrected_procrustes_distance(pure_noise, X[:, :3])
