"""Measure ids, aliases, direction metadata, and the one validation layer."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.metrics import (
    ShapeMetric,
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    make,
    measures,
    procrustes_distance,
    rdm,
    rsa,
    shape_distance,
)


@pytest.fixture
def XY(rng):
    X = rng.normal(size=(20, 5))
    return X, X @ rng.normal(size=(5, 4)) + rng.normal(size=(20, 4))


def _inputs(m, X, Y):
    """Trajectory measures (DSA) take (trajectories, time, units) arrays, trial measures
    (condition, trial, unit) arrays, not (samples, features)."""
    if m.input == "trials":
        rng = np.random.default_rng(4)
        means = rng.normal(size=(10, 1, X.shape[1]))
        return (means + 0.3 * rng.normal(size=(10, 5, X.shape[1])),
                means[..., : Y.shape[1]] + 0.3 * rng.normal(size=(10, 5, Y.shape[1])))
    if m.input != "trajectories":
        return X, Y
    rng = np.random.default_rng(3)
    T = rng.normal(size=(3, 40, X.shape[1])).cumsum(axis=1)
    return T, T @ rng.normal(size=(X.shape[1], Y.shape[1])) + rng.normal(size=(3, 40, Y.shape[1]))


def test_ids_give_the_right_values(XY):
    X, Y = XY
    assert make("procrustes-distance=angular")(X, Y) == procrustes_distance(X, Y)
    assert make("procrustes-distance=euclidean")(X, Y) == procrustes_distance(X, Y, kind="euclidean")
    assert make("cca-distance=angular")(X, Y) == cca_distance(X, Y)
    assert make("cca-score")(X, Y) == cca_similarity(X, Y)
    assert make("cka-kernel=linear-hsic=gretton-score")(X, Y) == cka(X, Y)
    assert make("cka-kernel=linear-hsic=song-score")(X, Y) == cka(X, Y, debiased=True)
    assert make("rsa-rdm=correlation-compare=spearman")(X, Y) == rsa(X, Y)
    assert make("rsa-rdm=squared_euclidean-compare=rho_a")(X, Y) == rsa(
        X, Y, rdm_method="sqeuclidean", compare="spearman_rho_a")
    assert abs(make("nbs")(X, Y) - np.cos(procrustes_distance(X, Y))) < 1e-15
    assert abs(make("procrustes-angular_score")(X, Y) - (1 - procrustes_distance(X, Y) / (np.pi / 2))) < 1e-15
    assert make("shape_metric-alpha=0.3-distance=euclidean")(X, Y) == shape_distance(
        X, Y, alpha=0.3, kind="euclidean")
    assert make("measure/neurosim/cca-score")(X, Y) == cca_similarity(X, Y)
    # top-level re-exports are the same objects
    assert neurosim.make is make and neurosim.measures is measures


def test_every_listed_measure_runs_and_declares_direction(XY):
    X, _ = XY
    names = measures(aliases=True)
    assert len(names) == len(set(names)) > 40
    for name in names:
        m = make(name)
        assert m.direction in ("distance", "similarity"), name
        same = m(*_inputs(m, X, X)[:1] * 2)
        assert np.isfinite(same), name
        if m.direction == "distance":
            assert abs(same) < 1e-6, name
        else:
            assert abs(same - 1.0) < 1e-6, name


def test_aliases_pass_options_through(XY):
    X, Y = XY
    assert make("procrustes")(X, Y, normalize=True) == procrustes_distance(X, Y, normalize=True)
    assert make("shape")(X, Y, alpha=0.5) == shape_distance(X, Y, alpha=0.5)
    assert make("cka")(X, Y, kernel="rbf") == cka(X, Y, kernel="rbf")
    assert make("rsa")(X, Y, compare="pearson") == rsa(X, Y, compare="pearson")
    assert make("cca").direction == "distance" and make("cka").direction == "similarity"
    with pytest.raises(TypeError, match="fixes"):
        make("procrustes-distance=angular")(X, Y, kind="euclidean")


def test_function_direction_attributes():
    for f in (shape_distance, procrustes_distance, cca_distance, rdm):
        assert f.direction == "distance"
    for f in (cka, rsa, cca_similarity, canonical_correlations):
        assert f.direction == "similarity"
    assert ShapeMetric.direction == "distance"


def test_unknown_names_suggest():
    with pytest.raises(ValueError, match="did you mean 'procrustes-distance=angular'"):
        make("procrustes-distance=angualr")
    with pytest.raises(ValueError, match="did you mean 'procrustes'"):
        make("procrustse")
    with pytest.raises(ValueError, match="alpha must lie"):
        make("shape_metric-alpha=1.5-distance=angular")
    with pytest.raises(TypeError):
        make(3)


# ------------------------------------------------------------------ validation
PAIR_FUNCS = {
    "procrustes": procrustes_distance,
    "cca_distance": cca_distance,
    "shape_half": lambda X, Y: shape_distance(X, Y, alpha=0.5),
    "canonical_correlations": canonical_correlations,
    "cca_similarity": cca_similarity,
    "cka": cka,
    "cka_debiased": lambda X, Y: cka(X, Y, debiased=True),
    "cka_rbf": lambda X, Y: cka(X, Y, kernel="rbf"),
    "rsa": rsa,
    "estimator": lambda X, Y: ShapeMetric().fit_score(X, Y),
}


@pytest.mark.parametrize("name", sorted(PAIR_FUNCS))
def test_bad_inputs_raise_clear_errors(name):
    f = PAIR_FUNCS[name]
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 4))
    Xnan = X.copy()
    Xnan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        f(Xnan, Y)
    Xinf = X.copy()
    Xinf[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        f(X, Xinf)
    with pytest.raises(ValueError, match="at least"):
        f(X[:1], Y[:1])
    with pytest.raises(ValueError, match="same number of samples|same conditions"):
        f(X, Y[:7])
    with pytest.raises(ValueError, match="2-D"):
        f(X.reshape(2, 5, 3), Y)
    with pytest.raises(ValueError, match="2-D"):
        f(X[:, 0], Y)
    with pytest.raises(ValueError, match="zero norm|constant"):
        f(np.ones((10, 3)), Y)
    with pytest.raises(TypeError):
        f("not an array", Y)
    with pytest.raises(TypeError, match="real numbers"):
        f(X.astype(complex), Y)


def test_constant_rows_and_rdm_errors(rng):
    with pytest.raises(ValueError, match="at least 3"):
        rdm(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match="apply to method='crossnobis'"):
        rdm(rng.normal(size=(4, 4)), trials=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="normalize"):
        procrustes_distance(rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), kind="euclidean", normalize=True)


def test_every_measure_accepts_float32(XY):
    X, Y = XY
    for name in measures():
        m = make(name)
        Xm, Ym = _inputs(m, X, Y)
        v64 = m(Xm, Ym)
        v32 = m(Xm.astype(np.float32), Ym.astype(np.float32))
        assert isinstance(v32, float), name
        assert abs(v32 - v64) < 1e-4 * max(1.0, abs(v64)), name
