"""Single trials end to end: NaN-padded ragged counts, trial-level metric dispatch in compare,
bootstrap within conditions, trial-split ceilings with Spearman–Brown, ceiled scores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosim import compare
from neurosim.baselines import (
    ceiled_score,
    spearman_brown,
    split_half_reliability,
    trial_split_ceiling,
)
from neurosim.compare import Score, resample_trials
from neurosim.datasets import simulate_trials
from neurosim.metrics import procrustes_distance
from neurosim.trajectories import (
    equalize_trials,
    flatten,
    trajectories,
    trial_counts,
    trial_mean,
    trial_samples,
)

TRIAL_DIMS = ("condition", "time", "unit", "trial")


@pytest.fixture(scope="module")
def sim():
    return simulate_trials(n_conditions=8, n_trials=20, n_time=20, n_units=30, noise=1.0, seed=1)


@pytest.fixture(scope="module")
def ragged():
    return simulate_trials(n_conditions=6, n_trials=[6, 9, 7, 10, 8, 5], n_time=12, n_units=10, seed=2)


# ------------------------------------------------------------------ the convention
def test_simulator_ground_truth(sim, ragged):
    rates = sim["rates"]
    assert rates.dims == TRIAL_DIMS and rates.sizes["trial"] == 20
    # the trial average converges on the stored means: its error is the noise of a 20-trial mean
    err = (trial_mean(rates) - sim["means"]).values
    assert abs(err.var() - 1.0 / 20) < 0.01
    # ragged: counts read off the padding equal the requested ones
    assert trial_counts(ragged["rates"]).values.tolist() == [6, 9, 7, 10, 8, 5]
    assert ragged["n_trials"].values.tolist() == [6, 9, 7, 10, 8, 5]
    # the noise covariance is what the trials show (residuals about the true means)
    res = (rates - sim["means"]).transpose("condition", "time", "trial", "unit").values.reshape(-1, 30)
    assert np.abs(np.cov(res.T) - sim["noise_cov"].values).max() < 0.12


def _raw(x):
    return xr.DataArray(x, dims=TRIAL_DIMS, coords={"time": np.arange(4.0)})


def test_partial_nan_trial_and_empty_condition_are_refused():
    x = np.ones((3, 4, 2, 5))
    x[1, 2, 0, 3] = np.nan  # one bin of one unit of one trial
    mean = trajectories(np.ones((3, 4, 2)), time=np.arange(4.0))
    with pytest.raises(ValueError, match=r"data: 1 trial\(s\) are NaN in some but not all.*condition 1, trial position 3"):
        compare(mean, _raw(x))
    with pytest.raises(ValueError, match=r"array: 1 trial\(s\) are NaN"):
        trajectories(x, dims=TRIAL_DIMS)
    x = np.ones((3, 4, 2, 5))
    x[1, ..., 3] = np.nan  # a missing trial: fine
    x[0] = np.nan  # a condition without any trial: not fine
    with pytest.raises(ValueError, match=r"model: conditions \[0\] have no trial"):
        compare(_raw(x), mean)


def test_unequal_trial_counts_without_padding_are_refused(sim):
    # one (time, unit, trial) array per condition, with different trial counts: not an array
    per_condition = [sim["rates"].values[c, ..., : 5 + c] for c in range(8)]
    with pytest.raises(ValueError, match="data is ragged.*pad each condition's missing trials with NaN"):
        compare(sim["means"], per_condition, dims=("condition", "time", "unit", "trial"))
    with pytest.raises(ValueError, match="array is ragged"):
        trajectories(per_condition, dims=TRIAL_DIMS)


def test_trial_helpers_on_ragged_data(ragged):
    rates = ragged["rates"]
    m = trial_mean(rates)
    for c in range(6):
        n = int(ragged["n_trials"][c])
        np.testing.assert_allclose(m.values[c], rates.values[c, ..., :n].mean(axis=-1), rtol=1e-13)
    eq = equalize_trials(rates)
    assert eq.sizes["trial"] == 5 and not np.isnan(eq.values).any()
    np.testing.assert_array_equal(eq.values[3], rates.values[3, ..., :5])
    S = trial_samples(eq)
    assert S.shape == (6 * 12, 5, 10)
    np.testing.assert_array_equal(S[2 * 12 + 7], eq.values[2, 7].T)  # row c*T + t: (trial, unit)
    with pytest.raises(ValueError, match="unequal trial counts.*equalize_trials"):
        trial_samples(rates)
    with pytest.raises(ValueError, match="n=7 trials per condition.*only 5"):
        equalize_trials(rates, 7)


def test_condition_average_of_ragged_trials(ragged):
    from neurosim.baselines import condition_average

    b = condition_average(ragged["rates"])
    assert b.dims == ("condition", "time", "unit")
    np.testing.assert_allclose(b.values[2], trial_mean(ragged["rates"]).values.mean(axis=0), rtol=1e-13)


def test_compare_averages_present_trials_of_ragged_data(ragged):
    rates = ragged["rates"]
    model = ragged["means"].isel(condition=[5, 4, 3, 2, 1, 0])
    s = compare(model, rates, normalize=True)
    manual = procrustes_distance(flatten(ragged["means"]), flatten(trial_mean(rates)), normalize=True)
    assert s.value == pytest.approx(manual, abs=1e-12)
    assert s.settings["n_trials_averaged"] == 5 and s.settings["n_trials_range"] == (5, 10)


# ------------------------------------------------------------------ trial-level metric dispatch
def _moment_distance(X, Y):
    """A stand-in trial-level metric on (conditions, trials, units) samples: mean over conditions of
    ‖μx − μy‖² + ‖Σx − Σy‖_F² (means and covariances over trials)."""
    assert X.ndim == 3 and Y.ndim == 3 and X.shape[0] == Y.shape[0]
    mx, my = X.mean(axis=1), Y.mean(axis=1)
    Xc, Yc = X - mx[:, None], Y - my[:, None]
    cx = np.einsum("cki,ckj->cij", Xc, Xc) / (X.shape[1] - 1)
    cy = np.einsum("cki,ckj->cij", Yc, Yc) / (Y.shape[1] - 1)
    return float(np.mean(((mx - my) ** 2).sum(axis=1) + ((cx - cy) ** 2).sum(axis=(1, 2))))


_moment_distance.input = "trials"
_moment_distance.direction = "distance"


def test_trials_input_gets_condition_time_samples(sim):
    data = equalize_trials(sim["rates"].isel(trial=slice(0, 12)))
    model_sim = simulate_trials(n_conditions=8, n_trials=7, n_time=20, n_units=30, noise=1.3, seed=5)
    model = model_sim["rates"].isel(condition=[7, 6, 5, 4, 3, 2, 1, 0])  # reordered: matched by label
    s = compare(model, data, _moment_distance, window=(50.0, 150.0))
    keep = slice(5, 16)
    ref = _moment_distance(trial_samples(model_sim["rates"].isel(time=keep)), trial_samples(data.isel(time=keep)))
    assert s.value == pytest.approx(ref, rel=1e-12)
    assert s.settings["metric_input"] == "trials"
    assert (s.settings["n_trials_model"], s.settings["n_trials_data"]) == (7, 12)


def test_a_registered_measure_with_trials_input_dispatches_the_same(sim):
    from neurosim.metrics import Measure

    measure = Measure("stand-in", _moment_distance, "distance", "data units", "stand-in trial metric",
                      input="trials")
    data = sim["rates"].isel(trial=slice(0, 6))
    model = sim["rates"].isel(trial=slice(6, 10))
    assert compare(model, data, measure).value == pytest.approx(
        _moment_distance(trial_samples(model), trial_samples(data)), rel=1e-12)


def test_trials_input_bootstrap_and_permutations_resample_conditions(sim):
    data = sim["rates"].isel(trial=slice(0, 6), time=slice(0, 5))
    model = simulate_trials(n_conditions=8, n_trials=4, n_time=20, n_units=30, seed=6)["rates"].isel(time=slice(0, 5))
    s = compare(model, data, _moment_distance, bootstrap=4, permutations=3, seed=3)
    X, Y = trial_samples(model), trial_samples(data)
    Xc, Yc = X.reshape(8, 5, 4, 30), Y.reshape(8, 5, 6, 30)
    rng = np.random.default_rng(3)
    boot = []
    for _ in range(4):
        idx = rng.integers(0, 8, size=8)
        boot.append(_moment_distance(Xc[idx].reshape(-1, 4, 30), Yc[idx].reshape(-1, 6, 30)))
    np.testing.assert_allclose(s.samples, boot, rtol=1e-12)
    perms = [rng.permutation(8) for _ in range(3)]
    np.testing.assert_allclose(s.null, [_moment_distance(Xc[p].reshape(X.shape), Y) for p in perms], rtol=1e-12)


def test_trials_input_refuses_ragged_one_trial_and_averaged_model(sim, ragged):
    with pytest.raises(ValueError, match="data has unequal trial counts.*equalize_trials"):
        compare(equalize_trials(ragged["rates"]), ragged["rates"], _moment_distance)
    with pytest.raises(ValueError, match="model must have a 'trial' dim"):
        compare(sim["means"], sim["rates"], _moment_distance)
    with pytest.raises(ValueError, match="compares trial distributions and needs at least 2 trials; the data has 1"):
        compare(sim["rates"], sim["rates"].isel(trial=[0]), _moment_distance)
    with pytest.raises(ValueError, match="needs at least 2 trials; the model has 1"):
        compare(sim["rates"].isel(trial=[3]), sim["rates"], _moment_distance)


# ------------------------------------------------------------------ bootstrap over trials
def test_resample_trials_stays_within_conditions(ragged):
    rates = ragged["rates"]
    r = resample_trials(rates, np.random.default_rng(0))
    for c, n in enumerate(ragged["n_trials"].values):
        # every resampled trial of condition c is one of condition c's own trials, padding kept
        own = {rates.values[c, 0, 0, k] for k in range(n)}
        assert {r.values[c, 0, 0, k] for k in range(n)} <= own
        assert np.isnan(r.values[c, ..., n:]).all() and not np.isnan(r.values[c, ..., :n]).any()


def test_bootstrap_over_trials_on_ragged_data(ragged):
    s = compare(ragged["means"], ragged["rates"], bootstrap={"n": 20, "dim": "trial"}, seed=0, progress=False)
    assert np.isfinite(s.samples).all() and s.samples.std() > 0
    rng = np.random.default_rng(0)
    first = trial_mean(resample_trials(ragged["rates"], rng))
    assert s.samples[0] == pytest.approx(procrustes_distance(flatten(ragged["means"]), flatten(first)), abs=1e-12)
    with pytest.raises(ValueError, match="cv over 'trial' needs the same number of trials.*equalize_trials"):
        compare(ragged["means"], ragged["rates"], cv={"dim": "trial", "folds": 2})


# ------------------------------------------------------------------ trial-split ceilings
def test_spearman_brown_formula():
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3)
    # a reliability halves in length and back again
    r = np.array([0.1, 0.4, 0.9])
    np.testing.assert_allclose(spearman_brown(spearman_brown(r, 0.5), 2.0), r, rtol=1e-14)


def test_trial_split_ceiling_one_split_by_hand(ragged):
    rates = ragged["rates"]
    c = trial_split_ceiling(rates, "procrustes", n_splits=1, seed=4, progress=False)
    raw = trial_split_ceiling(rates, "procrustes", n_splits=1, seed=4, spearman_brown=False, progress=False)
    rng = np.random.default_rng(4)
    A, B = [], []
    for ci, n in enumerate(ragged["n_trials"].values):
        perm = rng.permutation(n)
        h = n // 2
        A.append(rates.values[ci][..., perm[:h]].mean(-1))
        B.append(rates.values[ci][..., perm[h:2 * h]].mean(-1))
    A, B = np.reshape(A, (-1, 10)), np.reshape(B, (-1, 10))
    d = procrustes_distance(A, B)
    assert raw.value == pytest.approx(d, abs=1e-12)
    n = ragged["n_trials"].values.astype(float)
    k = np.mean(1 / np.floor(n / 2)) / np.mean(1 / n)
    assert c.settings["spearman_brown_factor"] == pytest.approx(k, rel=1e-14)
    rho = k * np.cos(d) / (1 + (k - 1) * np.cos(d))
    assert c.value == pytest.approx(np.arccos(rho), abs=1e-12)
    assert c.settings["model_ceiling"] == pytest.approx(np.arccos(np.sqrt(rho)), abs=1e-12)


@pytest.fixture(scope="module")
def noisy():
    # mean unit reliability 0.55: the population similarity of two recordings is about 0.88
    return simulate_trials(n_conditions=8, n_trials=10, n_time=20, n_units=30, noise=2.0, seed=1)


@pytest.mark.parametrize("metric", ["cka", "rsa"])
def test_perfect_model_is_ceiled_to_one(noisy, metric):
    # the true condition means against the data: ceiled by √ρ, a perfect model scores 1 ± 0.05
    raw = compare(noisy["means"], noisy, metric)
    ceiling = trial_split_ceiling(noisy, metric, n_splits=30, progress=False)
    c = ceiled_score(raw, ceiling)
    assert c.settings["ceiled_unclipped"] == pytest.approx(1.0, abs=0.05)
    assert c.value <= 1.0 and c.settings["score_raw"] == raw.value
    # dividing by the reliability itself (not its square root) would overshoot: the test can tell
    assert raw.value / ceiling.settings["reliability"] > 1.05


@pytest.mark.parametrize("options", [{}, {"normalize": True}, {"metric": "nbs"}])
def test_perfect_model_is_ceiled_to_one_procrustes(sim, options):
    # the angular Procrustes family through s = cos d (or cos(πd/2)); at mean unit reliability
    # 0.86 (20 trials); at lower reliability the split-half similarity is inflated by fitting the
    # rotation to noise and the ceiled score of a perfect model drops (docs/compare.md)
    options = dict(options)
    metric = options.pop("metric", "procrustes")
    raw = compare(sim["means"], sim, metric, **options)
    ceiling = trial_split_ceiling(sim, metric, n_splits=30, progress=False, **options)
    assert ceiled_score(raw, ceiling).settings["ceiled_unclipped"] == pytest.approx(1.0, abs=0.05)


def test_every_angular_form_gives_the_same_reliability(sim):
    # NBS = cos d, the angular score 1 − d/(π/2), d in radians and normalized: one similarity scale
    rel = [trial_split_ceiling(sim, metric, n_splits=3, seed=1, progress=False, **opts).settings["reliability"]
           for metric, opts in (("nbs", {}), ("procrustes-angular_score", {}), ("procrustes", {}),
                                ("procrustes", {"normalize": True}), ("procrustes-distance=angular", {}))]
    np.testing.assert_allclose(rel, rel[0], rtol=1e-12)


def test_a_noisier_model_scores_below_one(sim):
    # a model that is the data's own half-trial average is as noisy as half the data: ceiled < 1
    half = trial_mean(sim["rates"].isel(trial=slice(0, 4)))
    rest = sim["rates"].isel(trial=slice(4, None))
    c = ceiled_score(compare(half, rest, "cka"), trial_split_ceiling(rest, "cka", n_splits=20, progress=False))
    assert 0.6 < c.value < 0.97 and not c.settings["clipped"]


def test_split_half_reliability_recovers_known_reliability(sim):
    rel = split_half_reliability(sim, n_splits=40)
    assert rel.dims == ("unit",) and rel.sizes["unit"] == 30
    assert np.abs(rel.values - sim["reliability"].values).mean() < 0.02
    raw = split_half_reliability(sim, n_splits=40, spearman_brown=False)
    np.testing.assert_array_less(raw.values, rel.values)


def test_ceiled_score_clips_with_a_flag_and_ceils_replicates(sim):
    ceiling = trial_split_ceiling(sim, "cka", n_splits=10, progress=False)
    rho = ceiling.settings["reliability"]
    over = Score(0.999, (0.99, 1.0), np.array([0.999]), {"metric": "cka", "bootstrap": {"ci": 0.9}},
                 samples=np.array([0.95, 0.97, 0.999, 0.99]))
    c = ceiled_score(over, ceiling)
    assert c.settings["ceiled_unclipped"] == pytest.approx(0.999 / np.sqrt(rho))
    assert c.value == 1.0 and c.settings["clipped"] is True and c.settings["direction"] == "similarity"
    np.testing.assert_allclose(c.samples, np.minimum(over.samples / np.sqrt(rho), 1.0))
    # the model's own reliability enters as √(ρ_data ρ_model)
    c2 = ceiled_score(Score(0.5, settings={"metric": "cka"}), ceiling, model_ceiling=ceiling)
    assert c2.value == pytest.approx(0.5 / rho)


def test_ceiling_bad_input(sim):
    one = sim["rates"].isel(trial=[0])
    with pytest.raises(ValueError, match="data: a trial split needs at least 2 trials.*has 1"):
        trial_split_ceiling(one)
    with pytest.raises(ValueError, match="no 'trial' dim.*split_half_ceiling"):
        trial_split_ceiling(sim["means"])
    with pytest.raises(ValueError, match="Spearman–Brown needs a correlation-like similarity.*spearman_brown=False"):
        trial_split_ceiling(sim, "procrustes", kind="euclidean")
    eu = trial_split_ceiling(sim, "procrustes", n_splits=2, kind="euclidean", spearman_brown=False, progress=False)
    assert eu.settings["model_ceiling"] is None and eu.value > 0
    with pytest.raises(TypeError, match="spearman_brown must be True or False"):
        trial_split_ceiling(sim, spearman_brown="yes")
    with pytest.raises(ValueError, match="different metrics"):
        ceiled_score(compare(sim["means"], sim, "rsa"), trial_split_ceiling(sim, "cka", n_splits=2, progress=False))
    noise = trial_split_ceiling(sim, "rsa", n_splits=2, progress=False)
    noise = Score(noise.value, settings={**noise.settings, "reliability": -0.05, "model_ceiling_similarity": 0.0})
    with pytest.raises(ValueError, match="reliability is -0.05 <= 0: the data's halves share no reliable signal"):
        ceiled_score(Score(0.1, settings={"metric": "rsa"}), noise)
    with pytest.raises(TypeError, match="ceiling must be a Score from trial_split_ceiling"):
        ceiled_score(Score(0.1, settings={"metric": "cka"}), 0.9)



def test_reliability_curve_tracks_the_truth_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from neurosim.baselines import reliability_curve
    from neurosim.plot import reliability_vs_trials, save_figure

    sim = simulate_trials(n_conditions=8, n_trials=16, n_time=20, n_units=30, noise=2.0, seed=0)
    t = reliability_curve(sim, [4, 8, 16], n_splits=10)
    assert t["n_trials"].tolist() == [4, 8, 16]
    np.testing.assert_allclose(t["unit_median"], t["unit_true_median"], atol=0.06)
    np.testing.assert_allclose(t["model_ceiling"], np.sqrt(t["population"]), rtol=1e-12)
    path = save_figure(reliability_vs_trials(t), tmp_path / "rel.png")
    assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="asks for 32 trials per condition but a condition has only 16"):
        reliability_curve(sim, [32])
