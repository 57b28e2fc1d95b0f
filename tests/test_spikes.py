"""from_spikes and group_trials: spike times + trials table → rates, against an independent
np.histogram + scipy reference; NWB import (datasets.from_nwb) on files written here with pynwb."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
import scipy.ndimage

from neurosim.trajectories import from_spikes, group_trials

WINDOW, BIN = (-200.0, 300.0), 10.0


def _session(seed=0, n_trials=24, n_units=5, rates=None):
    """Trials every 2 s with 4 conditions; Poisson spikes over 0..(2 n_trials + 1) s."""
    rng = np.random.default_rng(seed)
    align = 1.0 + 2.0 * np.arange(n_trials) + rng.uniform(-0.1, 0.1, n_trials)
    trials = pd.DataFrame({"start_time": align - 0.5, "stop_time": align + 0.9, "go": align,
                           "direction": np.tile([0, 90, 180, 270], n_trials // 4)})
    duration = 2.0 * n_trials + 1.0
    rates = np.arange(1, n_units + 1) * 7.0 if rates is None else rates
    spikes = {f"u{k}": np.sort(rng.uniform(0, duration, rng.poisson(r * duration))) for k, r in enumerate(rates)}
    return spikes, trials


def _reference(spikes, trials, window, bin_ms, smooth_ms=0.0, causal=False):
    """Per condition (sorted), per unit: np.histogram per trial, / bin width, scipy smoothing, mean."""
    edges = np.arange(window[0], window[1] + bin_ms / 2, bin_ms)
    conds = sorted(trials["direction"].unique())
    out = np.zeros((len(conds), edges.size - 1, len(spikes)))
    for c, cond in enumerate(conds):
        rows = trials[trials["direction"] == cond]
        for u, st in enumerate(spikes.values()):
            acc = []
            for t in rows["go"]:
                r = np.histogram((st - t) * 1000.0, edges)[0] / (bin_ms / 1000.0)
                if smooth_ms and not causal:
                    r = scipy.ndimage.gaussian_filter1d(r, smooth_ms / bin_ms, mode="nearest")
                elif smooth_ms:
                    s = smooth_ms / bin_ms
                    k = np.arange(int(np.ceil(4 * s)) + 1)
                    w = np.exp(-0.5 * (k / s) ** 2)
                    w /= w.sum()
                    padded = np.concatenate([np.full(k.size - 1, r[0]), r])
                    r = np.array([np.dot(w, padded[i + k.size - 1 - k]) for i in range(r.size)])
                acc.append(r)
            out[c, :, u] = np.mean(acc, axis=0)
    return out, (edges[:-1] + edges[1:]) / 2


@pytest.mark.parametrize("smooth_ms,causal", [(0.0, False), (25.0, False), (20.0, True)])
def test_from_spikes_equals_histogram_and_scipy(smooth_ms, causal):
    spikes, trials = _session()
    da = from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms=BIN, smooth_ms=smooth_ms,
                     kernel="causal" if causal else "gaussian", condition="direction")
    ref, centres = _reference(spikes, trials, WINDOW, BIN, smooth_ms, causal)
    assert da.dims == ("condition", "time", "unit")
    assert da.condition.values.tolist() == [0, 90, 180, 270]
    assert da.unit.values.tolist() == list(spikes)
    np.testing.assert_allclose(da.time.values, centres, rtol=0, atol=1e-12)
    np.testing.assert_allclose(da.values, ref, rtol=0, atol=1e-12)
    assert da.n_trials.values.tolist() == [6, 6, 6, 6]
    assert da.attrs["units"] == "spikes/s" and da.attrs["bin_ms"] == BIN and da.attrs["smooth_ms"] == smooth_ms
    assert da.attrs["kernel"] == ("none" if not smooth_ms else "causal" if causal else "gaussian")


def test_causal_kernel_ignores_later_spikes():
    spikes, trials = _session(seed=1)
    a = from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms=BIN, smooth_ms=30.0, kernel="causal",
                    condition="direction")
    late = {u: np.concatenate([st, trials["go"].to_numpy() + 0.2501]) for u, st in spikes.items()}
    b = from_spikes(late, trials, align_to="go", window=WINDOW, bin_ms=BIN, smooth_ms=30.0, kernel="causal",
                    condition="direction")
    before = a.time.values < 250.0
    np.testing.assert_array_equal(a.values[:, before], b.values[:, before])
    assert (b.values[:, ~before] > a.values[:, ~before]).all()


def test_known_rates_recovered():
    spikes, trials = _session(seed=2, n_trials=200, n_units=2, rates=[20.0, 80.0])
    da = from_spikes(spikes, trials, align_to="go", window=(-400, 800), bin_ms=100, condition="direction")
    assert abs(float(da.sel(unit="u0").mean()) - 20.0) < 2.0
    assert abs(float(da.sel(unit="u1").mean()) - 80.0) < 4.0


def test_keep_trials_and_multiindex_conditions():
    spikes, trials = _session(seed=3, n_trials=20)
    trials = trials.iloc[:-1].assign(block=lambda t: (t.index % 2))  # unequal trial counts
    da = from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms=BIN, condition=["direction", "block"],
                     keep_trials=True)
    assert da.dims == ("condition", "time", "unit", "trial")
    assert list(da.indexes["condition"].names) == ["direction", "block"]
    mean = from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms=BIN, condition=["direction", "block"])
    np.testing.assert_allclose(da.mean("trial").values, mean.values, rtol=0, atol=1e-12)
    counts = da.n_trials.values
    assert counts.sum() == len(trials) and np.isnan(da.values).any() == (counts.min() < counts.max())


def test_group_trials_means_by_label():
    act = np.random.default_rng(0).normal(size=(6, 4, 3))
    da = group_trials(act, ["b", "a", "b", "c", "a", "b"], time=np.arange(4.0))
    np.testing.assert_allclose(da.sel(condition="b").values, act[[0, 2, 5]].mean(0), rtol=0, atol=1e-15)
    with pytest.raises(TypeError, match="keep_trials"):
        group_trials(act, list("abcabc"), keep_trials="yes")
    with pytest.raises(ValueError, match="missing"):
        group_trials(act, ["a", None, "b", "a", "b", "a"])


@pytest.mark.parametrize("kwargs,match", [
    ({"condition": "dir"}, r"condition='dir' is not a column .* columns are \['start_time'"),
    ({"align_to": "onset"}, "align_to='onset' is not a column"),
    ({"window": (-600, 300)}, r"window \(-600, 300\) ms around 'go' runs outside 24 of 24 trials"),
    ({"window": (0, 5)}, "holds no bin"),
    ({"bin_ms": 0}, "bin_ms must be a finite number > 0"),
    ({"smooth_ms": -1}, "smooth_ms"),
    ({"kernel": "boxcar"}, "kernel must be one of"),
    ({"session": (0.0, 10.0)}, r"unit 'u0' has \d+ spike times outside the session \(0..10 s\)"),
])
def test_from_spikes_errors_name_the_problem(kwargs, match):
    spikes, trials = _session()
    args = {"align_to": "go", "window": WINDOW, "bin_ms": BIN, "condition": "direction", **kwargs}
    with pytest.raises(ValueError, match=match):
        from_spikes(spikes, trials, **args)


def test_from_spikes_type_errors_and_missing_alignment():
    spikes, trials = _session()
    with pytest.raises(TypeError, match="DataFrame"):
        from_spikes(spikes, trials.to_dict(), align_to="go", window=WINDOW, bin_ms=BIN, condition="direction")
    with pytest.raises(TypeError, match="keep_trials"):
        from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms=BIN, condition="direction", keep_trials="no")
    with pytest.raises(TypeError, match="bin_ms must be a number"):
        from_spikes(spikes, trials, align_to="go", window=WINDOW, bin_ms="10", condition="direction")
    bad = trials.assign(go=trials["go"].where(trials.index != 3))
    with pytest.raises(ValueError, match=r"missing or not a number in 1 of 24 trials \(rows \[3\]"):
        from_spikes(spikes, bad, align_to="go", window=WINDOW, bin_ms=BIN, condition="direction")
    with pytest.raises(ValueError, match="NaN or infinite"):
        from_spikes({"u": np.array([1.0, np.nan])}, trials, align_to="go", window=WINDOW, bin_ms=BIN,
                    condition="direction")


# ----------------------------------------------------------------------------- NWB
def _write_nwb(path, spikes, trials, *, with_trials=True):
    pynwb = pytest.importorskip("pynwb")
    nwb = pynwb.NWBFile(session_description="synthetic", identifier="neurosim-test",
                        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    if with_trials:
        nwb.add_trial_column(name="direction", description="reach direction (degrees)")
        nwb.add_trial_column(name="go", description="go cue (s)")
        for row in trials.itertuples():
            nwb.add_trial(start_time=row.start_time, stop_time=row.stop_time, direction=row.direction, go=row.go)
    nwb.add_unit_column(name="quality", description="sorting quality")
    for k, st in enumerate(spikes.values()):
        nwb.add_unit(spike_times=st, quality="good" if k % 2 == 0 else "mua")
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def test_from_nwb_equals_from_spikes(tmp_path):
    from neurosim.datasets import from_nwb

    spikes, trials = _session(seed=4)
    path = _write_nwb(tmp_path / "session.nwb", spikes, trials)
    da = from_nwb(path, condition="direction", align_to="go", window=WINDOW, bin_ms=BIN, smooth_ms=25.0)
    ref = from_spikes(dict(enumerate(spikes.values())), trials, align_to="go", window=WINDOW, bin_ms=BIN,
                      smooth_ms=25.0, condition="direction")
    np.testing.assert_allclose(da.values, ref.values, rtol=0, atol=1e-12)
    hist, _ = _reference(spikes, trials, WINDOW, BIN, 25.0)
    np.testing.assert_allclose(da.values, hist, rtol=0, atol=1e-12)
    assert da.unit.values.tolist() == [0, 1, 2, 3, 4] and da.attrs["source_file"] == "session.nwb"
    good = from_nwb(path, condition="direction", align_to="go", window=WINDOW, bin_ms=BIN,
                    units=lambda u: u["quality"] == "good", trials=lambda t: t["direction"] != 0)
    assert good.unit.values.tolist() == [0, 2, 4] and good.condition.values.tolist() == [90, 180, 270]
    assert from_nwb(path, condition="direction", align_to="go", window=WINDOW, bin_ms=BIN,
                    units=[1, 3]).unit.values.tolist() == [1, 3]


def test_from_nwb_bad_files(tmp_path):
    from neurosim.datasets import from_nwb

    spikes, trials = _session(seed=5)
    no_trials = _write_nwb(tmp_path / "no_trials.nwb", spikes, trials, with_trials=False)
    args = {"condition": "direction", "align_to": "go", "window": WINDOW, "bin_ms": BIN}
    with pytest.raises(ValueError, match="has no trials table"):
        from_nwb(no_trials, **args)
    junk = tmp_path / "junk.nwb"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ValueError, match="could not be read as an NWB file"):
        from_nwb(junk, **args)
    with pytest.raises(FileNotFoundError):
        from_nwb(tmp_path / "missing.nwb", **args)
    before = {**spikes, "u0": np.concatenate([[-0.5], spikes["u0"]])}
    early = _write_nwb(tmp_path / "early.nwb", before, trials)
    with pytest.raises(ValueError, match="outside the session"):
        from_nwb(early, **args)
    ok = _write_nwb(tmp_path / "ok.nwb", spikes, trials)
    with pytest.raises(ValueError, match="condition='trial_type' is not a column"):
        from_nwb(ok, **{**args, "condition": "trial_type"})
