"""The (condition, time, unit[, trial]) convention: build, validate, flatten."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import neurosim
from neurosim.trajectories import condition_index, flatten, trajectories, validate_trajectories


def test_public_names_are_the_functions():
    # the package attribute is the function even though a module of that name exists
    assert neurosim.trajectories is trajectories
    assert callable(neurosim.compare) and neurosim.compare.__module__ == "neurosim.compare"
    assert neurosim.validate_trajectories is validate_trajectories
    for mod in ("io", "datasets", "baselines"):
        assert getattr(neurosim, mod).__name__ == f"neurosim.{mod}"


def test_build_from_other_axis_order_keeps_values():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(5, 7, 3))  # (unit, time, condition)
    da = trajectories(raw, dims=("unit", "time", "condition"), conditions=[0, 45, 90],
                      time=np.arange(7) * 10.0, units=list("abcde"))
    assert da.dims == ("condition", "time", "unit")
    assert da.dtype == np.float64
    assert da["time"].attrs["units"] == "ms"
    np.testing.assert_array_equal(da.sel(condition=45, unit="c").values, raw[2, :, 1])


def test_multiindex_conditions_and_trial_dim():
    raw = np.zeros((4, 2, 3, 5))  # (condition, time, unit, trial)
    da = trajectories(raw, dims=("condition", "time", "unit", "trial"),
                      conditions={"context": ["m", "m", "c", "c"], "coherence": [1, -1, 1, -1]},
                      time=[0.0, 10.0])
    idx = condition_index(da)
    assert isinstance(idx, pd.MultiIndex) and list(idx.names) == ["context", "coherence"]
    assert da.sel(context="c", coherence=-1).shape == (2, 3, 5)
    assert da.dims == ("condition", "time", "unit", "trial")


def test_flatten_is_condition_major():
    raw = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    da = trajectories(raw, time=[0.0, 1.0, 2.0])
    F = flatten(da)
    assert F.shape == (6, 4)
    for c in range(2):
        for t in range(3):
            np.testing.assert_array_equal(F[c * 3 + t], raw[c, t])


def test_errors_list_the_dims_received():
    da = xr.DataArray(np.zeros((2, 3)), dims=("condition", "time"), coords={"time": [0.0, 1.0, 2.0]})
    with pytest.raises(ValueError, match=r"got dims \('condition', 'time'\).*Missing: \['unit'\]"):
        validate_trajectories(da)
    with pytest.raises(TypeError, match="xarray.DataArray"):
        validate_trajectories(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="one name per axis"):
        trajectories(np.zeros((2, 3)))


def test_bad_time_and_labels_are_refused():
    with pytest.raises(ValueError, match="strictly increasing"):
        trajectories(np.zeros((1, 3, 1)), time=[0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="unique"):
        trajectories(np.zeros((2, 1, 1)), conditions=["a", "a"], time=[0.0])
    with pytest.raises(ValueError, match="infinite"):
        trajectories(np.full((1, 1, 1), np.inf), time=[0.0])
    with pytest.raises(ValueError, match="NaN"):
        validate_trajectories(trajectories(np.full((1, 1, 1), np.nan), time=[0.0]), allow_nan=False)
    with pytest.raises(ValueError, match="trial"):
        flatten(trajectories(np.zeros((1, 1, 1, 2)), dims=("condition", "time", "unit", "trial"), time=[0.0]))
    with pytest.raises(TypeError, match="numeric"):
        trajectories(np.array([[["a"]]]))
