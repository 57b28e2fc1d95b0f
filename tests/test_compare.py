"""compare(): label matching, time window / lag / resampling, CV, bootstrap, NaN policy, Score."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim import compare
from neurosim.compare import Score, align
from neurosim.metrics import ShapeMetric, procrustes_distance
from neurosim.trajectories import flatten, trajectories

T = np.arange(0.0, 500.0, 10.0)  # ms


def _signal(t, n_units=6, n_cond=4, seed=0):
    """Smooth condition-dependent trajectories evaluated at arbitrary times t (ms)."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.5, 3.0, size=n_units) / 500.0
    phases = rng.uniform(0, 2 * np.pi, size=(n_cond, n_units))
    amp = rng.uniform(0.5, 2.0, size=(n_cond, n_units))
    return amp[:, None, :] * np.sin(2 * np.pi * freqs * t[None, :, None] + phases[:, None, :])


def _data(n_units=6, n_cond=4, seed=0, t=T):
    return trajectories(_signal(t, n_units, n_cond, seed), conditions=[0, 90, 180, 270][:n_cond], time=t)


def test_identity_rotation_and_reordering():
    data = _data()
    Q = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))[0]
    model = data.copy(data=data.values @ Q + 3.0).isel(condition=[2, 0, 3, 1])
    assert compare(model, data).value < 1e-6
    # reordering is by label: scrambling the values but keeping labels gives a real distance
    scrambled = model.copy(data=model.values[[1, 0, 2, 3]])
    assert compare(scrambled, data).value > 0.1


def test_value_equals_metric_on_flattened_arrays_and_options_pass_through(rng):
    data = _data()
    model = trajectories(rng.normal(size=(4, T.size, 9)), conditions=[270, 180, 90, 0], time=T)
    X = flatten(model.sel(condition=[0, 90, 180, 270]))
    Y = flatten(data)
    s = compare(model, data)
    assert s.value == pytest.approx(procrustes_distance(X, Y), abs=1e-12)
    sn = compare(model, data, normalize=True)
    assert sn.value == pytest.approx(s.value / (np.pi / 2), abs=1e-12)
    assert sn.settings["metric.normalize"] is True
    assert s.settings["n_units_model"] == 9 and s.settings["n_units_data"] == 6
    # callable metric with options
    calls = []

    def my_metric(X, Y, *, scale=1.0):
        calls.append((X.shape, Y.shape))
        return scale * float(np.linalg.norm(X.mean(0)))

    v = compare(model, data, metric=my_metric, scale=2.0)
    assert calls == [((4 * T.size, 9), (4 * T.size, 6))]
    assert v.value == pytest.approx(2 * np.linalg.norm(X.mean(0)))


def test_mismatched_condition_labels_list_the_difference():
    data = _data()
    model = data.assign_coords(condition=[0, 90, 180, 45])
    with pytest.raises(ValueError, match=r"in data but not in model: \[270\]; in model but not in data: \[45\]"):
        compare(model, data)
    with pytest.raises(ValueError, match="condition labels do not match"):
        compare(data.isel(condition=[0, 1, 2]), data)


def test_multiindex_labels_matched_across_level_order():
    vals = _signal(T, 5, 4)
    data = trajectories(vals, conditions={"ctx": ["m", "m", "c", "c"], "coh": [1, -1, 1, -1]}, time=T)
    model = trajectories(vals[[3, 2, 1, 0]], conditions={"coh": [-1, 1, -1, 1], "ctx": ["c", "c", "m", "m"]}, time=T)
    assert compare(model, data).value < 1e-6


def test_window_selects_inclusive_data_bins():
    data = _data()
    model = _data(n_units=5, seed=3)
    s = compare(model, data, window=(100, 300))
    assert s.settings["time_range"] == (100.0, 300.0) and s.settings["n_time"] == 21
    ref = procrustes_distance(flatten(model.sel(time=slice(100, 300))), flatten(data.sel(time=slice(100, 300))))
    assert s.value == pytest.approx(ref, abs=1e-12)
    with pytest.raises(ValueError, match="not covered by the data"):
        compare(model, data, window=(-100, 300))
    with pytest.raises(ValueError, match="not covered by the data"):
        compare(model, data, window=(600, 700))  # no overlap at all
    with pytest.raises(ValueError, match="start <= stop"):
        compare(model, data, window=(300, 100))


def test_known_lag_is_recovered_and_sign_is_documented():
    data = _data()
    true_lag = 30.0
    # model time t corresponds to data time t + lag: model(t) = data(t + 30)
    model = trajectories(_signal(T + true_lag), conditions=[0, 90, 180, 270], time=T)
    lags = np.arange(-60.0, 61.0, 10.0)
    d = [compare(model, data, lag=lag, window=(100, 400)).value for lag in lags]
    assert lags[int(np.argmin(d))] == true_lag
    assert min(d) < 1e-6
    assert compare(model, data, lag=-true_lag, window=(100, 400)).value > 0.05


def test_resampling_onto_data_grid():
    data = _data()
    fine = np.arange(0.0, 500.0, 1.0)
    model = trajectories(_signal(fine + 5.0), conditions=[0, 90, 180, 270], time=fine)
    # fractional lag on a 1 ms grid: interpolation needed, linear on a smooth signal is accurate
    s = compare(model, data, lag=5.0, window=(50, 450))
    assert s.settings["interpolated"] is False  # 1 ms grid + 5 ms lag hits every data bin exactly
    coarse = np.arange(0.0, 500.0, 3.0)  # data bins fall between model bins: interpolate
    model3 = trajectories(_signal(coarse + 5.0), conditions=[0, 90, 180, 270], time=coarse)
    s2 = compare(model3, data, lag=5.0, window=(50, 450))
    assert s2.settings["interpolated"] is True and s2.value < 1e-3
    assert compare(model3, data, lag=-5.0, window=(50, 450)).value > 10 * s2.value
    # linear interpolation is exact on a signal linear in time
    lin = trajectories(np.einsum("t,cu->ctu", fine, np.arange(1.0, 9.0).reshape(4, 2)), time=fine)
    lin_data = trajectories(np.einsum("t,cu->ctu", T + 0.5, np.arange(1.0, 9.0).reshape(4, 2)), time=T)
    am, ad, info = align(lin, lin_data, lag=-0.5, window=(0, 400))
    np.testing.assert_allclose(am.values, ad.values, rtol=1e-12)
    with pytest.raises(ValueError, match="resample=False"):
        compare(model3, data, lag=5.0, window=(50, 450), resample=False)
    with pytest.raises(ValueError, match="does not cover"):
        compare(model, data, lag=100.0)


def test_time_units_must_agree():
    data = _data()
    model = trajectories(_signal(T), conditions=[0, 90, 180, 270])  # time in "steps"
    with pytest.raises(ValueError, match="time units differ"):
        compare(model, data)


def test_cv_never_scores_a_condition_it_fitted():
    data = _data(n_cond=4)
    model = _data(n_units=5, seed=4)
    log = []

    class Spy(ShapeMetric):
        def fit(self, X, Y):
            self.fitted_ = {tuple(r) for r in np.round(Y, 12)}
            return super().fit(X, Y)

        def score(self, X, Y):
            scored = {tuple(r) for r in np.round(Y, 12)}
            log.append((self.fitted_, scored))
            return super().score(X, Y)

    s = compare(model, data, metric=Spy(), cv="loo")
    assert len(log) == 4 and len(s.values) == 4
    for fitted, scored in log:
        assert fitted.isdisjoint(scored)
    assert s.settings["cv_test_sets"] == [[0], [90], [180], [270]]
    # value = mean of per-fold held-out scores, computed independently
    X, Y = flatten(model), flatten(data)
    per = []
    for k in range(4):
        test = np.arange(k * T.size, (k + 1) * T.size)
        train = np.setdiff1d(np.arange(4 * T.size), test)
        per.append(ShapeMetric().fit(X[train], Y[train]).score(X[test], Y[test]))
    np.testing.assert_allclose(s.values, per, atol=1e-12)
    assert s.value == pytest.approx(np.mean(per))
    # k-fold and dict spec over conditions and over time
    s2 = compare(model, data, cv=2)
    assert s2.settings["cv_test_sets"] == [[0, 90], [180, 270]]
    s3 = compare(model, data, cv={"dim": "time", "folds": 5})
    tests = s3.settings["cv_test_sets"]
    assert len(tests) == 5 and sorted(sum(tests, [])) == T.tolist()
    s4 = compare(model, data, cv={"dim": "condition", "folds": 2, "shuffle": True}, seed=3)
    assert sorted(sum(s4.settings["cv_test_sets"], [])) == [0, 90, 180, 270]


def test_cv_over_trials_holds_out_trials(rng):
    base = _signal(T, 4, 4)
    trials = base[..., None] + 0.3 * rng.normal(size=base.shape + (6,))
    data = trajectories(trials, dims=("condition", "time", "unit", "trial"), conditions=[0, 90, 180, 270], time=T)
    model = trajectories(base, conditions=[0, 90, 180, 270], time=T)
    s = compare(model, data, cv={"dim": "trial", "folds": 3})
    assert len(s.values) == 3 and s.settings["cv_test_sets"] == [[0, 1], [2, 3], [4, 5]]
    Y_te = flatten(data.isel(trial=[0, 1]).mean("trial"))
    Y_tr = flatten(data.isel(trial=[2, 3, 4, 5]).mean("trial"))
    X = flatten(model)
    assert s.values[0] == pytest.approx(ShapeMetric().fit(X, Y_tr).score(X, Y_te), abs=1e-12)
    # without CV, trials are averaged
    assert compare(model, data).settings["n_trials_averaged"] == 6


def test_cv_spec_errors():
    data = _data()
    with pytest.raises(ValueError, match="folds"):
        compare(data, data, cv=1)
    with pytest.raises(ValueError, match="only 4"):
        compare(data, data, cv=5)
    with pytest.raises(ValueError, match="dim"):
        compare(data, data, cv={"dim": "unit"})
    with pytest.raises(ValueError, match="fitted alignment"):
        compare(data, data, metric=lambda X, Y: 0.0, cv="loo")
    with pytest.raises(ValueError, match="cannot be combined"):
        compare(data, data, cv="loo", bootstrap=10)


def test_bootstrap_is_deterministic_and_resamples_conditions():
    data = _data(n_cond=4)
    model = _data(n_units=5, seed=7)
    a = compare(model, data, bootstrap=50, seed=11)
    b = compare(model, data, bootstrap=50, seed=11)
    c = compare(model, data, bootstrap=50, seed=12)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.ci == b.ci and a.ci != c.ci
    assert a.value == compare(model, data).value  # point estimate is the full-data value
    assert a.ci[0] <= np.median(a.samples) <= a.ci[1]
    # first replicate equals the metric on the documented draw
    idx = np.random.default_rng(11).integers(0, 4, size=4)
    ref = procrustes_distance(model.values[idx].reshape(-1, 5), data.values[idx].reshape(-1, 6))
    assert a.samples[0] == pytest.approx(ref, abs=1e-12)
    wide = compare(model, data, bootstrap={"n": 50, "ci": 0.99}, seed=11)
    assert wide.ci[0] <= a.ci[0] and wide.ci[1] >= a.ci[1]


def test_nan_policy():
    data = _data()
    model = _data(n_units=5, seed=2)
    bad = data.copy()
    bad.values[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"data: 1 NaN in conditions \[90\], units \[2\].*nan_policy"):
        compare(model, bad)
    du = compare(model, bad, nan_policy="drop-units")
    assert du.value == pytest.approx(compare(model, data.drop_sel(unit=2)).value, abs=1e-12)
    assert du.settings["dropped_units_data"] == [2]
    dc = compare(model, bad, nan_policy="drop-conditions")
    assert dc.value == pytest.approx(compare(model.drop_sel(condition=90), data.drop_sel(condition=90)).value, abs=1e-12)
    # NaN outside the window does not matter
    assert np.isfinite(compare(model, bad, window=(100, 400)).value)
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        compare(model, data, nan_policy="ignore")


def test_plain_arrays_and_missing_dims():
    data = _data()
    arr = data.values.transpose(2, 1, 0)  # (unit, time, condition)
    s = compare(arr, data, dims=("unit", "time", "condition"))
    assert s.value < 1e-6 and "plain array" in s.settings["labels_from"]
    with pytest.raises(TypeError, match="dims="):
        compare(arr, data)
    with pytest.raises(ValueError, match=r"got dims \('condition', 'time', 'neuron'\)"):
        compare(data.rename(unit="neuron"), data)
    with pytest.raises(ValueError, match="sizes must"):
        compare(arr[:, :, :3], data, dims=("unit", "time", "condition"))


def test_score_object():
    data = _data()
    s = compare(_data(seed=5), data, bootstrap=20, seed=0)
    assert isinstance(s, Score) and float(s) == s.value
    d = s.to_dict()
    assert d["value"] == s.value and d["ci_low"] == s.ci[0] and d["metric"] == "procrustes"
    assert d["lag"] == 0.0 and isinstance(d["bootstrap"], str)
    assert "value=" in repr(s)
    assert neurosim.Score is Score


def test_registry_ids_resolve_through_metrics_make():
    data = _data()
    model = _data(n_units=5, seed=9)
    by_alias = compare(model, data, normalize=True)
    by_id = compare(model, data, metric="procrustes-distance=angular-normalized")
    assert by_id.value == pytest.approx(by_alias.value, abs=1e-12)
    assert compare(model, data, metric="cka").settings["direction"] == "similarity"
    # the shape-family ids get the fitted estimator, so CV works and agrees with the alias
    cv_id = compare(model, data, metric="procrustes-distance=angular", cv="loo")
    np.testing.assert_allclose(cv_id.values, compare(model, data, cv="loo").values, atol=1e-12)
    with pytest.raises(ValueError, match="fitted alignment"):
        compare(model, data, metric="cka", cv="loo")
    with pytest.raises(ValueError, match="unknown"):
        compare(model, data, metric="procrustez")


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=20, deadline=None, derandomize=True)
@given(perm=st.permutations(range(4)), seed=st.integers(0, 1000))
def test_condition_order_of_the_model_never_matters(perm, seed):
    data = _data()
    model = _data(n_units=5, seed=seed)
    ref = compare(model, data, window=(100, 300)).value
    assert compare(model.isel(condition=list(perm)), data, window=(100, 300)).value == pytest.approx(ref, abs=1e-12)


def test_compare_dsa_takes_trajectories_with_matching_window_and_bootstrap():
    # a metric that declares input="trajectories" gets (condition, time, unit) arrays after
    # compare's condition matching and time window; the value equals the kernel on those arrays
    from neurosim.metrics import dsa_distance
    from neurosim.trajectories import trajectories

    rng = np.random.default_rng(3)
    C, T, U = 4, 60, 5
    A = 0.95 * np.linalg.qr(rng.normal(size=(U, U)))[0]
    x = np.empty((C, T, U))
    x[:, 0] = rng.normal(size=(C, U))
    for t in range(T - 1):
        x[:, t + 1] = x[:, t] @ A.T + 0.05 * rng.normal(size=(C, U))
    conds = [0, 90, 180, 270]
    data = trajectories(x, conditions=conds, time=np.arange(T) * 10.0)
    other = trajectories(rng.normal(size=(C, T, U)).cumsum(axis=1), conditions=conds, time=np.arange(T) * 10.0)
    model = other.isel(condition=[2, 0, 3, 1])  # labels out of order: compare reorders them
    s = compare(model, data, metric="dsa", window=(50, 500), n_delays=3, rank=6)
    kept = dict(time=slice(50, 500))
    expected = dsa_distance(other.sel(**kept).values, data.sel(**kept).values, n_delays=3, rank=6)
    assert float(s) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert s.settings["metric_input"] == "trajectories" and s.settings["time_range"] == (50.0, 500.0)
    Q = np.linalg.qr(rng.normal(size=(U, U)))[0]
    assert float(compare(data.copy(data=data.values @ Q), data, metric="dsa", n_delays=3, rank=6)) < 1e-6
    b = compare(model, data, metric="dsa-score=wasserstein", bootstrap=5, seed=0, n_delays=3, rank=6)
    assert b.samples.shape == (5,) and np.all(np.isfinite(b.samples))
    with pytest.raises(ValueError, match="cv needs a metric with a fitted alignment"):
        compare(model, data, metric="dsa", cv="loo")


def test_bootstrap_over_a_single_trial_is_refused():
    # one trial resampled is that trial: a zero-width interval would look like certainty
    from neurosim.trajectories import trajectories

    d = trajectories(np.random.default_rng(0).normal(size=(4, 10, 3, 1)), conditions=[0, 1, 2, 3],
                     time=np.arange(10.0), dims=("condition", "time", "unit", "trial"))
    with pytest.raises(ValueError, match="needs at least 2 trials; the data has 1"):
        compare(d.mean("trial"), d, bootstrap={"n": 10, "dim": "trial"})
    with pytest.raises(ValueError, match="needs at least 2 trials"):
        compare(d.mean("trial"), d, cv={"dim": "trial", "folds": 2})
