"""pairwise() against the direct double loop, locally and on a real dask LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosim.metrics.shape import shape_distance
from neurosim.pairwise import pairwise


def _nets(rng, k=5, n=60, units=(6, 8, 5, 7, 6)):
    base = rng.normal(size=(n, 4))
    return {f"n{i}": base @ rng.normal(size=(4, units[i])) + 0.5 * rng.normal(size=(n, units[i]))
            for i in range(k)}


def _direct(nets, **kw):
    names = list(nets)
    return np.array([[shape_distance(nets[a], nets[b], **kw) if a != b else 0.0 for b in names] for a in names])


@pytest.mark.parametrize("metric, alpha, kind", [("procrustes", 1.0, "angular"), ("cca", 0.0, "angular"),
                                                 ("shape", 0.5, "euclidean")])
def test_matches_direct_loop(rng, metric, alpha, kind):
    nets = _nets(rng)
    D = pairwise(nets, metric=metric, alpha=alpha if metric == "shape" else None, kind=kind)
    np.testing.assert_allclose(D.values, _direct(nets, alpha=alpha, kind=kind), atol=1e-10)
    assert list(D["network"].values) == list(nets) == list(D["network_b"].values)
    assert np.array_equal(D.values, D.values.T)
    assert D.attrs["alpha"] == alpha


def test_normalize_and_invariance(rng):
    nets = _nets(rng)
    Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    nets["rot"] = 3.0 * nets["n0"] @ Q + 1.0  # rotated, scaled, shifted copy of n0
    D = pairwise(nets, metric="procrustes", normalize=True)
    assert float(D.sel(network="n0", network_b="rot")) < 1e-6
    direct = shape_distance(nets["n1"], nets["n2"], alpha=1.0) / (np.pi / 2)
    assert float(D.sel(network="n1", network_b="n2")) == pytest.approx(direct, rel=1e-10)


def test_trajectory_dataarrays_and_label_checks(rng):
    t = np.arange(0.0, 100.0, 10.0)
    arrs = [rng.normal(size=(3, 10, 4)) for _ in range(3)]
    das = [xr.DataArray(a, dims=("condition", "time", "unit"), coords={"condition": [0, 1, 2], "time": t},
                        name=f"m{i}") for i, a in enumerate(arrs)]
    D = pairwise(das)
    assert list(D["network"].values) == ["m0", "m1", "m2"]
    expected = shape_distance(arrs[0].reshape(30, 4), arrs[2].reshape(30, 4))
    assert float(D.sel(network="m0", network_b="m2")) == pytest.approx(expected, rel=1e-10)
    shifted = das[1].assign_coords(time=t + 5)
    with pytest.raises(ValueError, match="sample labels"):
        pairwise([das[0], shifted])
    with pytest.raises(ValueError, match="numbers of samples"):
        pairwise({"a": rng.normal(size=(10, 3)), "b": rng.normal(size=(11, 3))})


def test_generic_metric_callable(rng):
    nets = _nets(rng, k=3)

    def corr_of_means(X, Y):
        return float(np.corrcoef(X.mean(1), Y.mean(1))[0, 1])

    D = pairwise(nets, metric=corr_of_means)
    assert D.values[0, 0] == pytest.approx(1.0)
    assert D.values[0, 2] == pytest.approx(corr_of_means(nets["n0"], nets["n2"]))


def test_bad_inputs(rng):
    with pytest.raises(ValueError, match="at least 2"):
        pairwise({"a": rng.normal(size=(5, 2))})
    with pytest.raises(ValueError, match="procrustes"):
        pairwise(_nets(rng, k=2, units=(3, 3)), metric="procrustez")
    with pytest.raises(ValueError, match="NaN|inf|finite"):
        pairwise({"a": np.full((5, 2), np.nan), "b": rng.normal(size=(5, 2))})
    with pytest.raises(ValueError, match="alpha"):
        pairwise(_nets(rng, k=2, units=(3, 3)), metric="cca", alpha=0.5)
    with pytest.raises(TypeError, match="collection"):
        pairwise("abc")


def test_dask_local_cluster_matches_local(rng):
    distributed = pytest.importorskip("dask.distributed")
    nets = _nets(rng)
    local = pairwise(nets, metric="procrustes")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        remote = pairwise(nets, metric="procrustes", client=client, block_size=3)
        generic = pairwise(nets, metric=lambda X, Y: float(np.abs(X.mean() - Y.mean())), client=client)
    np.testing.assert_allclose(remote.values, local.values, atol=1e-12)
    names = list(nets)
    assert generic.values[1, 3] == pytest.approx(abs(nets[names[1]].mean() - nets[names[3]].mean()))


def test_public_name_is_the_function():
    import importlib

    import neurosim

    importlib.import_module("neurosim.pairwise")  # importing the module must not shadow the function
    assert neurosim.pairwise is pairwise
    assert callable(neurosim.matching.match_accuracy)


@pytest.mark.parametrize("metric", ["ridge", "energy-shape-distance", "gaussian-shape-distance=alpha=2"])
def test_pairwise_of_label_metrics_equals_compare_on_every_pair(metric):
    import neurosim

    sim = neurosim.simulate_trials(n_conditions=6, n_trials=6, n_time=5, n_units=6, seed=0)["rates"]
    rng = np.random.default_rng(0)
    nets = {"a": sim, "b": sim + rng.normal(scale=0.5, size=sim.shape), "c": sim * 2.0 + 1.0}
    if metric == "ridge":
        nets = {k: v.mean("trial") for k, v in nets.items()}
    D = pairwise(nets, metric=metric)
    m = neurosim.make(metric)
    for a in nets:
        for b in nets:
            if a != b or metric == "ridge":
                assert D.sel(network=a, network_b=b) == pytest.approx(
                    neurosim.compare(nets[a], nets[b], metric=m).value, abs=1e-12)
    if metric == "ridge":  # asymmetric: every ordered pair and the diagonal (a similarity below 1)
        assert D.attrs["direction"] == "similarity" and np.all(np.diag(D.values) < 1.0)
        assert not np.allclose(D.values, D.values.T)
    else:
        assert np.allclose(D.values, D.values.T) and np.all(np.diag(D.values) == 0.0)


def test_pairwise_of_label_metrics_needs_labelled_trials():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match=r"labelled trajectories"):
        pairwise({"a": rng.normal(size=(20, 5)), "b": rng.normal(size=(20, 5))}, metric="ridge")
    import neurosim

    sim = neurosim.simulate_trials(n_conditions=3, n_trials=4, n_time=3, n_units=4, seed=0)["rates"]
    with pytest.raises(ValueError, match=r"needs a 'trial' dim"):
        pairwise({"a": sim.mean("trial"), "b": sim.mean("trial")}, metric="energy-shape-distance")
