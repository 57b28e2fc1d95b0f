"""Inference in compare() and the ceiling: the blocks fast path equals the general path,
permutation p-values behave, BLAS threads and progress bars are as documented."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from neurosim import compare
from neurosim._progress import show_progress
from neurosim.baselines import split_half_ceiling
from neurosim.compare import permutation_p_value
from neurosim.trajectories import trajectories

TOL = 1e-10
T = np.arange(0.0, 300.0, 10.0)
CONDS = [0, 45, 90, 135, 180, 225, 270, 315]


def _pair(n_model=12, n_data=9, seed=0, related=True, offset=5.0):
    rng = np.random.default_rng(seed)
    latent = np.cumsum(rng.normal(size=(8, T.size, 3)), axis=1)
    data = latent @ rng.normal(size=(3, n_data)) + 0.5 * rng.normal(size=(8, T.size, n_data)) + offset
    if related:
        model = latent @ rng.normal(size=(3, n_model)) + 0.5 * rng.normal(size=(8, T.size, n_model))
    else:
        model = np.cumsum(rng.normal(size=(8, T.size, n_model)), axis=1)
    return (trajectories(model, conditions=CONDS, time=T), trajectories(data, conditions=CONDS, time=T))


METRICS = [
    ("procrustes", {"normalize": True}),
    ("procrustes", {"kind": "euclidean"}),
    ("shape", {"alpha": 0.5}),
    ("cca", {}),
    ("cca-score", {}),
    ("cka-kernel=linear-hsic=gretton-score", {}),
    ("nbs", {}),
    ("procrustes-distance=angular-normalized", {}),
]


@pytest.mark.parametrize("metric,opts", METRICS, ids=[m for m, _ in METRICS])
def test_bootstrap_and_permutations_fast_equal_general(metric, opts):
    model, data = _pair()
    kw = dict(metric=metric, bootstrap=40, permutations=30, seed=3, **opts)
    fast, slow = compare(model, data, **kw), compare(model, data, fast=False, **kw)
    assert fast.value == slow.value
    assert np.max(np.abs(fast.samples - slow.samples)) <= TOL
    assert np.max(np.abs(fast.null - slow.null)) <= TOL
    assert fast.ci == pytest.approx(slow.ci, abs=TOL) and fast.p_value == slow.p_value
    assert np.isfinite(fast.std) and fast.std == pytest.approx(np.std(fast.samples, ddof=1))
    row = fast.to_dict()
    assert row["ci_low"] is not None and row["ci_high"] is not None and row["p_value"] == fast.p_value


@pytest.mark.parametrize("metric,opts", [("procrustes", {"normalize": True}), ("shape", {"alpha": 0.3}),
                                         ("cca", {"kind": "euclidean"}),
                                         ("shape_metric-alpha=0.5-distance=angular", {})])
@pytest.mark.parametrize("cv", ["loo", 3, {"folds": 4, "shuffle": True, "seed": 1}])
def test_condition_cv_fast_equals_general(metric, opts, cv):
    model, data = _pair()
    fast = compare(model, data, metric=metric, cv=cv, **opts)
    slow = compare(model, data, metric=metric, cv=cv, fast=False, **opts)
    assert np.max(np.abs(fast.values - slow.values)) <= TOL
    assert fast.settings["cv_test_sets"] == slow.settings["cv_test_sets"]


@pytest.mark.parametrize("metric,opts", [("procrustes", {"normalize": True}), ("cka", {}), ("cca-score", {})])
def test_split_half_ceiling_fast_equals_general(metric, opts):
    _, data = _pair(n_data=21)
    fast = split_half_ceiling(data, metric=metric, n_splits=15, seed=2, **opts)
    slow = split_half_ceiling(data, metric=metric, n_splits=15, seed=2, fast=False, **opts)
    assert np.max(np.abs(fast.values - slow.values)) <= TOL


def test_m1_fast_equals_general_through_compare(m1_rates):
    data = m1_rates
    rng = np.random.default_rng(0)
    model = data.copy(data=data.values @ rng.normal(size=(141, 141)) + 5.0 * rng.normal(size=data.shape))
    kw = dict(normalize=True, bootstrap=20, permutations=20, seed=0)
    fast, slow = compare(model, data, **kw), compare(model, data, fast=False, **kw)
    assert np.max(np.abs(fast.samples - slow.samples)) <= TOL
    assert np.max(np.abs(fast.null - slow.null)) <= TOL
    f, s = compare(model, data, cv="loo", normalize=True), compare(model, data, cv="loo", normalize=True, fast=False)
    assert np.max(np.abs(f.values - s.values)) <= TOL


def test_p_value_small_when_the_model_is_the_data():
    model, data = _pair(related=True)
    Q = np.linalg.qr(np.random.default_rng(9).normal(size=(9, 9)))[0]
    same = data.copy(data=data.values @ Q)
    s = compare(same, data, permutations=199, seed=0, normalize=True)
    assert s.value < 1e-6 and s.p_value <= 2 / 200
    assert s.null.shape == (199,) and s.settings["permutations"] == 199
    sim = compare(same, data, metric="cka", permutations=99, seed=0)  # similarity: null >= value counts
    assert sim.p_value <= 2 / 100


def test_p_value_roughly_uniform_when_the_model_is_unrelated():
    ps = []
    for seed in range(60):
        model, data = _pair(seed=seed, related=False)
        # unrelated: an independent model whose condition means are exchangeable with the data's
        ps.append(compare(model, data, permutations=39, seed=seed, normalize=True).p_value)
    ps = np.asarray(ps)
    assert 0.35 < ps.mean() < 0.65
    assert np.mean(ps <= 0.05) < 0.2 and np.mean(ps >= 0.5) > 0.3


def test_p_value_formula_and_direction():
    assert permutation_p_value(0.2, np.array([0.1, 0.3, 0.2, 0.5]), "distance") == 3 / 5
    assert permutation_p_value(0.2, np.array([0.1, 0.3, 0.2, 0.5]), "similarity") == 4 / 5
    with pytest.raises(ValueError, match="direction"):
        permutation_p_value(0.2, np.array([0.1]), None)


def test_bad_permutation_arguments():
    model, data = _pair()
    with pytest.raises(ValueError, match="permutations must be a positive int"):
        compare(model, data, permutations=0)
    with pytest.raises(ValueError, match="cv and permutations"):
        compare(model, data, cv="loo", permutations=10)
    with pytest.raises(ValueError, match="every permutation gives the same value"):
        compare(model, data, metric="dsa", permutations=10)


def test_progress_is_off_when_stderr_is_not_a_terminal(capfd):
    model, data = _pair()
    assert show_progress("auto") is False  # pytest captures stderr: not a TTY
    compare(model, data, bootstrap=30, permutations=10, seed=0)
    compare(model, data, cv="loo")
    split_half_ceiling(data, n_splits=10)
    assert capfd.readouterr().err == ""
    compare(model, data, bootstrap=30, seed=0, progress=True)
    assert "bootstrap" in capfd.readouterr().err
    with pytest.raises(ValueError, match="progress"):
        show_progress("sometimes")


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


@pytest.mark.parametrize("threads", [1, 2])
def test_loops_run_with_the_requested_blas_threads(threads):
    seen = []

    def metric(X, Y):
        seen.append(_blas_threads())
        return float(np.linalg.norm(X.mean(0) - Y.mean(0)))

    model, data = _pair(n_model=9)
    compare(model, data, metric=metric, bootstrap=3, seed=0, threads=threads)
    assert set(seen) == {threads}


def test_parallel_replicates_give_the_same_values():
    model, data = _pair()
    one = compare(model, data, bootstrap=30, permutations=20, seed=1)
    two = compare(model, data, bootstrap=30, permutations=20, seed=1, jobs=2)
    assert np.array_equal(one.samples, two.samples) and np.array_equal(one.null, two.null)
    with pytest.raises(ValueError, match="jobs"):
        compare(model, data, bootstrap=5, jobs=0)
