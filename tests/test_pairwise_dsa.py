"""pairwise() with a trajectory metric (DSA): per-network fits once, pairs after."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import xarray as xr

from neurosim.metrics import dsa_distance
from neurosim.pairwise import pairwise

pw = importlib.import_module("neurosim.pairwise")  # the package re-exports a function of that name

OPTS = dict(n_delays=2, rank=4)


def _network(seed, rho):
    rng = np.random.default_rng(seed)
    c, s = np.cos(rho), np.sin(rho)
    A = 0.95 * np.array([[c, -s], [s, c]])
    z = np.zeros((4, 40, 2))
    z[:, 0] = rng.normal(size=(4, 2))
    for t in range(1, 40):
        z[:, t] = z[:, t - 1] @ A.T + 0.1 * rng.normal(size=(4, 2))
    x = z @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(4, 40, 6))
    return xr.DataArray(x, dims=("condition", "time", "unit"),
                        coords={"condition": list("abcd"), "time": np.arange(40) * 10.0})


@pytest.fixture(scope="module")
def nets():
    return {"slow": _network(0, 0.1), "slow2": _network(1, 0.1), "fast": _network(2, 0.6)}


def test_dsa_matrix_equals_per_pair_distances_and_fits_once(nets, monkeypatch):
    calls = []
    real = pw.dsa_prepare
    monkeypatch.setattr(pw, "dsa_prepare", lambda X, **kw: calls.append(1) or real(X, **kw))
    D = pairwise(nets, metric="dsa-score=angular", **OPTS)
    assert len(calls) == 3  # K fits, not K(K-1)
    assert D.dims == ("network", "network_b") and D.attrs["input"] == "trajectories"
    for a in nets:
        for b in nets:
            want = 0.0 if a == b else dsa_distance(nets[a].values, nets[b].values, **OPTS)
            assert float(D.sel(network=a, network_b=b)) == pytest.approx(want, abs=1e-12)
    # same dynamics closer than different dynamics
    assert D.sel(network="slow", network_b="slow2") < D.sel(network="slow", network_b="fast")


def test_dsa_ids_aliases_and_callables(nets):
    arrays = {k: v.values for k, v in nets.items()}
    W = pairwise(arrays, metric="dsa-score=wasserstein", **OPTS)
    assert float(W[0, 2]) == pytest.approx(dsa_distance(arrays["slow"], arrays["fast"], score="wasserstein", **OPTS))
    alias = pairwise(nets, metric="dsa", score="wasserstein", **OPTS)
    np.testing.assert_allclose(alias.values, W.values, atol=1e-14)
    by_callable = pairwise(list(arrays.values()), metric=dsa_distance, **OPTS)
    np.testing.assert_allclose(by_callable.values, pairwise(nets, metric="dsa", **OPTS).values, atol=1e-12)
    with pytest.raises(TypeError, match="fixes"):
        pairwise(nets, metric="dsa-score=angular", score="wasserstein")
    with pytest.raises(ValueError, match="run locally"):
        pairwise(nets, metric="dsa", client=object())
    with pytest.raises(ValueError, match="condition', 'time', 'unit"):
        pairwise({"a": nets["slow"].isel(time=0), "b": nets["fast"].isel(time=0)}, metric="dsa")
