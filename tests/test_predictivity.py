"""Neural predictivity: cross-validated ridge per recorded unit, against a plain RidgeCV loop."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from neurosim import compare, make
from neurosim.baselines import ceiled_score, split_half_reliability
from neurosim.datasets import simulate_trials
from neurosim.metrics import ridge_predictivity
from neurosim.trajectories import trial_mean


@pytest.fixture(scope="module")
def sim():
    return simulate_trials(n_conditions=10, n_trials=12, n_time=15, n_units=12, noise=1.5, seed=3)


def _reference_predictions(X, Y, alphas, folds=5, inner=5):
    """A plain loop: outer KFold over conditions; per recorded unit a RidgeCV whose inner cv is a KFold
    over the training conditions; the cross-validated predictions of every sample."""
    C, T, p = X.shape
    q = Y.shape[2]
    pred = np.empty((C, T, q))
    for train_c, test_c in KFold(folds).split(np.arange(C)):
        Xtr, Ytr = X[train_c].reshape(-1, p), Y[train_c].reshape(-1, q)
        inner_cv = [(np.concatenate([np.arange(c * T, (c + 1) * T) for c in tr]),
                     np.concatenate([np.arange(c * T, (c + 1) * T) for c in te]))
                    for tr, te in KFold(min(inner, len(train_c))).split(np.arange(len(train_c)))]
        for j in range(q):
            model = RidgeCV(alphas=alphas, cv=inner_cv, scoring="neg_mean_squared_error").fit(Xtr, Ytr[:, j])
            pred[test_c, :, j] = model.predict(X[test_c].reshape(-1, p)).reshape(len(test_c), T)
    return pred.reshape(-1, q)


@pytest.fixture(scope="module")
def case(sim):
    rng = np.random.default_rng(0)
    X = sim["means"].values @ rng.normal(size=(12, 8)) + 0.8 * rng.normal(size=(10, 15, 8))  # an imperfect model
    Y = trial_mean(sim["rates"]).values[..., :4]
    alphas = np.logspace(-2, 4, 7)
    return X, Y, alphas, _reference_predictions(X, Y, alphas)


@pytest.mark.parametrize("score", ["pearson", "r2"])
def test_equals_a_ridgecv_loop(case, score):
    X, Y, alphas, P = case
    R = Y.reshape(-1, Y.shape[2])
    if score == "r2":
        per_ref = np.array([r2_score(R[:, j], P[:, j]) for j in range(R.shape[1])])
    else:
        per_ref = np.array([np.corrcoef(P[:, j], R[:, j])[0, 1] for j in range(R.shape[1])])
    assert ridge_predictivity(X, Y, alphas=alphas, score=score) == pytest.approx(np.median(per_ref), abs=1e-10)
    np.testing.assert_allclose(ridge_predictivity(X, Y, alphas=alphas, score=score, per_unit=True), per_ref,
                               atol=1e-10, rtol=0)


def test_invariant_to_rotating_and_scaling_the_model(sim):
    rng = np.random.default_rng(1)
    X = sim["means"].values[..., :9] + 0.5 * rng.normal(size=(10, 15, 9))
    Y = trial_mean(sim["rates"]).values
    Q = np.linalg.qr(rng.normal(size=(9, 9)))[0]
    base = ridge_predictivity(X, Y, per_unit=True)
    # the ridge penalty ‖w‖² is rotation-invariant and the default α grid scales with ‖X̃‖²
    np.testing.assert_allclose(ridge_predictivity(37.0 * X @ Q, Y, per_unit=True), base, atol=1e-9)


def test_through_compare_and_make(sim):
    m = make("ridge")
    assert m.direction == "similarity" and m.input == "conditions" and make("predictivity").func is m.func
    assert make("ridge-score=r2").options == {"score": "r2"}
    model = sim["means"].isel(condition=[9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    s = compare(model, sim, "ridge", window=(20.0, 120.0), permutations=9, seed=0, progress=False)
    ref = ridge_predictivity(sim["means"].sel(time=slice(20, 120)).values,
                             trial_mean(sim["rates"]).sel(time=slice(20, 120)).values)
    assert s.value == pytest.approx(ref, abs=1e-12)
    assert s.settings["direction"] == "similarity" and s.settings["metric_input"] == "conditions"
    assert s.p_value == pytest.approx(0.1) and (s.null < s.value).all()  # shuffled conditions predict worse
    assert compare(model, sim, "ridge-score=r2").value == pytest.approx(
        ridge_predictivity(sim["means"].values, trial_mean(sim["rates"]).values, score="r2"), abs=1e-12)


def test_perfect_model_ceiled_by_unit_reliability(sim):
    # the true means predict each unit's trial average with correlation √ρ_u: ceiled ≈ 1
    raw = compare(sim["means"], sim, "ridge")
    rel = split_half_reliability(sim, n_splits=40)
    c = ceiled_score(raw, rel)
    assert c.settings["ceiled_unclipped"] == pytest.approx(1.0, abs=0.05)
    assert raw.value < 0.95  # the raw score is well below 1: the ceiling matters
    r2 = ceiled_score(compare(sim["means"], sim, "ridge", score="r2"), rel)
    assert r2.settings["ceiled_unclipped"] == pytest.approx(1.0, abs=0.05)


def test_bootstrap_copies_stay_in_one_fold():
    # a noise model with many units memorises a training copy; copies must not be split
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(8, 5, 40)), rng.normal(size=(8, 5, 3))
    idx = np.repeat(np.arange(8), 2)
    assert ridge_predictivity(X[idx], Y[idx]) < 0.3
    s = compare(X, Y, "ridge", dims=("condition", "time", "unit"), bootstrap=3, seed=0, progress=False)
    assert (s.samples < 0.4).all()


def test_bad_input():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(6, 4, 3)), rng.normal(size=(6, 4, 2))
    with pytest.raises(ValueError, match="at least 3 distinct conditions"):
        ridge_predictivity(X[:2], Y[:2])
    Yc = Y.copy()
    Yc[..., 1] = 2.0
    with pytest.raises(ValueError, match=r"Y: recorded units \[1\] are constant"):
        ridge_predictivity(X, Yc)
    with pytest.raises(ValueError, match="alphas must be a 1-d grid of finite values > 0"):
        ridge_predictivity(X, Y, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="same conditions and time bins"):
        ridge_predictivity(X, Y[:, :3])
    with pytest.raises(ValueError, match="folds=7 but there are only 6"):
        ridge_predictivity(X, Y, folds=7)
    with pytest.raises(ValueError, match="score"):
        ridge_predictivity(X, Y, score="R-squared")
    with pytest.raises(TypeError, match="per_unit must be True or False"):
        ridge_predictivity(X, Y, per_unit="yes")
