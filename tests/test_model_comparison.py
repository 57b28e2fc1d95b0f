"""compare_models (paired bootstrap, permutations, TOST) and rule_difference (two-level bootstrap).

The coverage tests simulate data with a known answer (tests/_coverage.py): their 95 % intervals
must contain the truth in 90–99 % of 200 simulated draws, and the equivalence p-value must be
uniform or conservative when the true difference sits at the margin. Larger sizes:
benchmarks/coverage.py.
"""

import numpy as np
import pandas as pd
import pytest

import neurosim
from neurosim import compare, compare_models
from neurosim.experiments import rule_difference
from neurosim.trajectories import trajectories

from _coverage import simulate_linear, simulate_pair, true_distance  # noqa: E402 (tests/ is on sys.path)


def _pair(seed=0, C=10, T=4, q=5, sigmas=(0.3, 0.9)):
    return simulate_pair(np.random.default_rng(seed), sigmas, C=C, T=T, q=q)


def test_exported_and_scores_equal_compare():
    models, data = _pair()
    res = neurosim.compare_models(models, data, bootstrap=50, permutations=20, normalize=True, window=(1, 3))
    for row in res.scores.itertuples():
        ref = compare(models[row.model], data, metric="procrustes", normalize=True, window=(1, 3))
        assert row.distance == pytest.approx(float(ref), abs=1e-12)
    assert list(res.differences.columns) == ["model_a", "model_b", "difference", "ci_low", "ci_high", "p_value",
                                             "p_equivalence", "margin"]
    d = res.differences.set_index(["model_a", "model_b"])
    assert d.loc[("m0", "m1"), "difference"] == pytest.approx(-d.loc[("m1", "m0"), "difference"])
    assert d.loc[("m0", "m1"), "p_value"] == d.loc[("m1", "m0"), "p_value"]
    assert np.isnan(d["p_equivalence"]).all()   # no margin given


def test_fast_path_equals_general_path():
    """Replicates and swaps through the condition blocks equal the metric on explicit arrays."""
    models, data = _pair(seed=3)
    fast = compare_models(models, data, bootstrap=30, permutations=30, normalize=True, seed=5)

    def procrustes(X, Y):   # the same metric without the sufficient-statistics fast path
        return float(neurosim.procrustes_distance(X, Y, normalize=True))
    procrustes.direction = "distance"
    slow = compare_models(models, data, metric=procrustes, bootstrap=30, permutations=30, seed=5)
    assert fast.settings["fast_path"] and not slow.settings["fast_path"]
    np.testing.assert_allclose(fast.replicates.values, slow.replicates.values, atol=1e-10)
    np.testing.assert_allclose(fast.differences[["ci_low", "ci_high", "p_value"]].values,
                               slow.differences[["ci_low", "ci_high", "p_value"]].values, atol=1e-10)


def test_paired_interval_narrower_than_separate_ones_and_permutation_detects():
    models, data = _pair(seed=1, C=16)
    res = compare_models(models, data, bootstrap=300, permutations=300, normalize=True)
    s = res.scores.set_index("model")
    d = res.differences.iloc[0]
    assert d.ci_high < 0 and d.p_value < 0.01
    width = d.ci_high - d.ci_low
    assert width < (s.loc["m0", "ci_high"] - s.loc["m0", "ci_low"]) + (s.loc["m1", "ci_high"] - s.loc["m1", "ci_low"])
    # identical models: the difference is exactly 0 and every swap changes nothing
    same = compare_models({"x": models["m0"], "y": models["m0"]}, data, bootstrap=200, permutations=20,
                          normalize=True, margin=0.01)
    row = same.differences.iloc[0]
    assert row.difference == 0 and row.p_value == 1.0 and row.p_equivalence < 0.05


def test_bad_input_messages():
    models, data = _pair()
    with pytest.raises(TypeError, match="non-empty dict"):
        compare_models([models["m0"]], data)
    with pytest.raises(ValueError, match="margin must be a positive number"):
        compare_models(models, data, margin=-1)
    with pytest.raises(ValueError, match="bootstrap must be a positive int"):
        compare_models(models, data, bootstrap="100")
    small = models["m0"].isel(unit=[0, 1])
    with pytest.raises(ValueError, match="same number of units"):
        compare_models({"a": models["m0"], "b": small}, data)
    t, r = simulate_linear(np.random.default_rng(0), 0.0, 0.0)
    with pytest.raises(ValueError, match="no margin"):
        rule_difference(t, r, rules=("a", "b"), pair_by="seed")
    with pytest.raises(ValueError, match="at least 2 of each"):
        rule_difference(t.iloc[[0, 1, 3]], rules=("a", "b"), pair_by="seed", margin=0.1)


def test_compare_models_coverage():
    """Three models: m0 vs m1 differ by a known amount, m1 vs m2 are exchangeable (known zero).

    The margin of the equivalence test is set at the true m0 − m1 difference, where its p-value
    must be uniform or conservative."""
    sigmas = (0.8, 1.2, 1.2)
    truth = true_distance(sigmas[0]) - true_distance(sigmas[1])
    rng = np.random.default_rng(11)
    cover = {("m0", "m1"): [], ("m1", "m2"): []}
    p_eq = []
    for k in range(200):
        models, data = simulate_pair(rng, sigmas, C=20, T=3, q=3)
        d = compare_models(models, data, bootstrap=100, permutations=None, margin=abs(truth), normalize=True,
                           seed=k).differences.set_index(["model_a", "model_b"])
        for pair, true in ((("m0", "m1"), truth), (("m1", "m2"), 0.0)):
            cover[pair].append(d.loc[pair, "ci_low"] <= true <= d.loc[pair, "ci_high"])
        p_eq.append(d.loc[("m0", "m1"), "p_equivalence"])
    for pair, c in cover.items():
        assert 0.90 <= np.mean(c) <= 0.99, (pair, np.mean(c))
    p_eq = np.asarray(p_eq)
    assert np.mean(p_eq <= 0.05) <= 0.05 + 0.03
    assert np.mean(p_eq <= 0.2) <= 0.2 + 0.05


@pytest.mark.parametrize("mus", [(0.3, 0.0), (0.0, 0.0)], ids=["known difference", "known zero"])
def test_rule_difference_coverage(mus):
    truth = mus[0] - mus[1]
    margin = abs(truth) if truth else 0.2
    rng = np.random.default_rng(7)
    cover, p_eq = [], []
    for k in range(200):
        t, reps = simulate_linear(rng, *mus)
        r = rule_difference(t, reps, rules=("a", "b"), pair_by="seed", margin=margin, n_boot=1000, seed=k)
        cover.append(r["ci_low"] <= truth <= r["ci_high"])
        p_eq.append(r["p_equivalence"])
    cover, p_eq = np.mean(cover), np.asarray(p_eq)
    assert 0.90 <= cover <= 0.99, cover
    if truth:
        assert np.mean(p_eq <= 0.05) <= 0.05 + 0.03
        assert np.mean(p_eq <= 0.2) <= 0.2 + 0.05


def test_rule_difference_condition_level_matters_when_shared():
    """With a large shared condition effect, ignoring the condition level undercovers; the two levels do not."""
    rng = np.random.default_rng(3)
    both, nets = [], []
    for k in range(100):
        t, reps = simulate_linear(rng, 0.0, 0.0, sd_int=0.2, sd_cond=0.0)
        # the rules differ in how a condition draw moves them: a shared, rule-specific condition effect
        shift = 0.5 * rng.normal(size=20)
        draws = rng.integers(0, 20, size=(len(reps), 20))
        extra = shift[draws].mean(axis=1)
        a = t["rule"] == "a"
        t.loc[a, "distance"] += shift.mean()
        for run in t.loc[a, "run"]:
            reps[run] = reps[run] + extra
        truth = 0.0   # the population mean of the shift is 0
        r2 = rule_difference(t, reps, rules=("a", "b"), pair_by="seed", margin=0.1, n_boot=400, seed=k)
        r1 = rule_difference(t, None, rules=("a", "b"), pair_by="seed", margin=0.1, n_boot=400, seed=k)
        both.append(r2["ci_low"] <= truth <= r2["ci_high"])
        nets.append(r1["ci_low"] <= truth <= r1["ci_high"])
    assert np.mean(both) >= 0.9 > np.mean(nets)


def test_rule_difference_unpaired_and_default_margin():
    t, reps = simulate_linear(np.random.default_rng(0), 0.5, 0.0)
    t = t.assign(condition_average=0.4838, ceiling=0.4024)
    r = rule_difference(t, reps, rules=("a", "b"), pair_by=(), n_boot=500)
    assert not r["paired"] and r["n_a"] == r["n_b"] == 6
    assert r["margin"] == pytest.approx(0.1 * (0.4838 - 0.4024))
    assert "condition average" in r["margin_source"]
    assert r["ci_low"] <= r["difference"] <= r["ci_high"]
