"""Tasks: trial structure, labels, the movement-onset time axis, accuracy definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import neurosim.rnn as R
from neurosim.rnn.tasks import (CenterOutReach, ContextDependentIntegration, DelayedMatchToSample,
                                PerceptualDecision, from_config, make)

pytestmark = []


# ---------------------------------------------------------------- centre-out
@pytest.mark.data
def test_center_out_targets_are_the_recording_on_its_time_axis(hatsopoulos):
    """The sustained design (the ablation); the paper's design is tested in test_liu2025.py."""
    ds = hatsopoulos
    task = CenterOutReach.from_dataset(ds, design="sustained")
    b = task.conditions()
    assert list(b.conditions) == list(ds["condition"].values)
    assert np.all(np.diff(b.time) == 10.0) and b.time[task.eval_onset] == 0.0
    # the target at time tau (ms from movement onset) is the recorded kinematics at tau, exactly
    common = np.intersect1d(b.time, ds["time"].values)
    assert common.size == ds.sizes["time"]  # the whole recording window is covered
    idx = np.searchsorted(b.time, common)
    for k, name in enumerate(("shoulder_angle", "elbow_angle")):
        np.testing.assert_array_equal(b.targets[:, idx, k], ds[name].sel(time=common).values)
    # cue angle = the condition's direction
    dirs = np.deg2rad(ds["direction"].values)
    np.testing.assert_allclose(b.inputs[:, -1, 0], np.sin(dirs))
    np.testing.assert_allclose(b.inputs[:, -1, 1], np.cos(dirs))


@pytest.mark.data
def test_center_out_time_axis_does_not_depend_on_trial_timing(hatsopoulos):
    """Shifting the go cue moves the onset step but not what happens at a given time in ms."""
    t1 = CenterOutReach.from_dataset(hatsopoulos, design="sustained", eval_timing=(20, 50))
    t2 = CenterOutReach.from_dataset(hatsopoulos, design="sustained", eval_timing=(30, 65))
    b1, b2 = t1.conditions(), t2.conditions()
    assert t2.eval_onset - t1.eval_onset == 25
    common = np.intersect1d(b1.time, b2.time)
    i1, i2 = np.searchsorted(b1.time, common), np.searchsorted(b2.time, common)
    np.testing.assert_array_equal(b1.targets[:, i1], b2.targets[:, i2])
    # the activity's time coordinate selects the recording's bins without any offset
    m = R.LeakyRNN(3, 10, 2, seed=0)
    da = R.activity(m, t2)
    assert da.attrs["alignment"] == "movement onset"
    sub = da.sel(time=hatsopoulos["time"].values)
    assert sub.sizes["time"] == hatsopoulos.sizes["time"]
    assert list(da["condition"].values) == list(hatsopoulos["condition"].values)


@pytest.mark.data
def test_center_out_training_batches(hatsopoulos, rng):
    task = CenterOutReach.from_dataset(hatsopoulos, output="hand", design="sustained")
    b = task.batch(50, rng)
    onset, go, cue = b.info["onset"], b.info["go"], b.info["cue"]
    assert len(np.unique(onset)) > 5  # random delays
    np.testing.assert_array_equal(onset - go, task.reaction)
    for i in range(50):
        hold = b.inputs[i, :, 2]
        assert hold[: go[i]].min() == 1 and hold[go[i]:].max() == 0
        assert np.all(b.inputs[i, : cue[i], :2] == 0) and np.any(b.inputs[i, cue[i], :2] != 0)
        c = b.info["condition_index"][i]
        # target at onset = recorded hand position at 0 ms; at onset + 20 steps = at 200 ms
        for k, name in enumerate(("hand_x", "hand_y")):
            assert b.targets[i, onset[i], k] == hatsopoulos[name].values[c, 80]
            assert b.targets[i, onset[i] + 20, k] == hatsopoulos[name].values[c, 100]
    # accuracy: perfect = 1, predicting the per-channel mean = 0
    assert task.accuracy(b.targets, b) == 1.0
    mean = b.targets.mean((0, 1))
    assert task.accuracy(np.broadcast_to(mean, b.targets.shape), b) == pytest.approx(0.0, abs=1e-12)


def test_center_out_validation():
    t = np.arange(-100.0, 101.0, 10.0)
    kin = np.zeros((2, t.size, 2))
    with pytest.raises(ValueError, match="movement onset"):
        CenterOutReach(kin, t + 500, [0, 90])
    with pytest.raises(ValueError, match="one angle per condition"):
        CenterOutReach(kin, t, [0, 90, 180])
    import xarray as xr

    with pytest.raises(ValueError, match="lacks"):
        CenterOutReach.from_dataset(xr.Dataset({"rates": ("condition", [1.0])}))


# ---------------------------------------------------------------- decision tasks
def test_context_dependent_integration_conditions_and_accuracy():
    task = ContextDependentIntegration()
    b = task.conditions()
    labels = b.conditions
    assert isinstance(labels, pd.MultiIndex) and len(labels) == 72 and labels.is_unique
    ctx = labels.get_level_values("context")
    cm = labels.get_level_values("motion_coherence").values
    cc = labels.get_level_values("colour_coherence").values
    cued = np.where(ctx == "motion", cm, cc)
    np.testing.assert_array_equal(b.info["choice"], np.where(cued > 0, 1, 2))
    # inputs: evidence equals the coherence during the stimulus, context cue matches the label
    stim = b.inputs[:, 25]
    np.testing.assert_array_equal(stim[:, 1], cm)
    np.testing.assert_array_equal(stim[:, 2], cc)
    np.testing.assert_array_equal(stim[:, 3], ctx == "motion")
    # oracle reports: right = 1; reversed = 0; reporting the other context's sign = 1/2
    def report(sign):
        y = np.zeros(b.targets.shape)
        y[..., 1] = sign
        y[..., 2] = -sign
        return y
    s = np.sign(cued)[:, None]
    other = np.sign(np.where(ctx == "motion", cc, cm))[:, None]
    assert task.accuracy(report(s), b) == 1.0
    assert task.accuracy(report(-s), b) == 0.0
    assert task.accuracy(report(other), b) == 0.5


def test_context_dependent_integration_batches(rng):
    task = ContextDependentIntegration(noise=0.5)
    b = task.batch(400, rng)
    on = np.abs(b.inputs[..., 1]) > 0
    # per-trial average evidence over the stimulus estimates the coherence (noise averages out)
    est = (b.inputs[..., 1] * on).sum(1) / on.sum(1)
    cm = b.info["labels"]["motion_coherence"]
    assert np.corrcoef(est, cm)[0, 1] > 0.8
    assert b.mask.max() == 5.0 and b.mask.min() == 0.0
    assert task.accuracy(b.targets, b) == 1.0


def test_perceptual_decision_and_dms():
    pd_task = PerceptualDecision()
    b = pd_task.conditions()
    assert len(b.conditions) == 10
    stim = b.inputs[:, 15]
    sgn = np.where(b.info["choice"] == 1, 1, -1)
    np.testing.assert_allclose(stim[:, 1] - stim[:, 2], sgn * b.conditions.get_level_values("coherence"))
    dms = DelayedMatchToSample()
    b = dms.conditions()
    lab = b.conditions
    match = lab.get_level_values("sample") == lab.get_level_values("test")
    np.testing.assert_array_equal(b.info["choice"] == 1, match)
    assert match.sum() == 4
    y = np.zeros(b.targets.shape)
    y[..., 2] = 1.0  # always "non-match": 12 of 16 right
    assert dms.accuracy(y, b) == 0.75
    tb = dms.batch(1000, np.random.default_rng(1))
    assert abs(np.mean(tb.info["choice"] == 1) - 0.5) < 0.06


@pytest.mark.parametrize("task", [ContextDependentIntegration(noise=0.2), PerceptualDecision(),
                                  DelayedMatchToSample()], ids=lambda t: t.name)
def test_tasks_are_deterministic_and_round_trip(task):
    b1 = task.batch(5, np.random.default_rng(3))
    b2 = task.batch(5, np.random.default_rng(3))
    np.testing.assert_array_equal(b1.inputs, b2.inputs)
    back = from_config(task.config())
    np.testing.assert_array_equal(back.conditions().inputs, task.conditions().inputs)
    np.testing.assert_array_equal(back.batch(5, np.random.default_rng(3)).targets, b1.targets)


def test_task_errors():
    with pytest.raises(ValueError, match="Did you mean"):
        make("context-dependant-integration")
    with pytest.raises(ValueError, match="batch_size"):
        PerceptualDecision().batch(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="outputs must have"):
        task = PerceptualDecision()
        task.accuracy(np.zeros((1, 2, 3)), task.conditions())
