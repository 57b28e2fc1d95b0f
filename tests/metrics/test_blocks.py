"""The sufficient-statistics fast path equals the metric functions on explicitly resampled arrays."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.metrics import ShapeMetric, cca_distance, cca_similarity, cka, procrustes_distance, shape_distance
from neurosim.metrics.blocks import (
    ConditionBlocks,
    UnitCovariance,
    fitted_shape_score,
    metric_from_moments,
)

TOL = 1e-10

# (function, options) pairs that take the fast path
FAST = [
    (procrustes_distance, {}),
    (procrustes_distance, {"normalize": True}),
    (procrustes_distance, {"kind": "euclidean"}),
    (shape_distance, {"alpha": 0.5}),
    (shape_distance, {"alpha": 0.2, "kind": "euclidean"}),
    (cca_distance, {}),
    (cca_distance, {"normalize": True}),
    (cca_similarity, {}),
    (cca_similarity, {"kind": "mean_squared"}),
    (cca_similarity, {"n_components": 2}),
    (cca_similarity, {"reg": 0.1}),
    (cka, {}),
]
IDS = [f"{f.__name__}-{o}" for f, o in FAST]

# (conditions, bins per condition, p, q, common offset): small, medium, offsets, wide (p > samples)
SCALES = [(4, 10, 3, 5, 0.0), (8, 30, 40, 25, 0.0), (6, 12, 6, 4, 1e4), (3, 6, 40, 30, 0.0)]


def _data(C, T, p, q, offset, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(C * T, 3))
    X = latent @ rng.normal(size=(3, p)) + 0.5 * rng.normal(size=(C * T, p))
    Y = latent @ rng.normal(size=(3, q)) + 0.5 * rng.normal(size=(C * T, q))
    if offset:  # a large common mean (cancellation) and condition means that differ
        shift = np.repeat(rng.normal(size=(C, 1)), T, axis=0)
        X, Y = X + offset + 3.0 * shift, Y - 2.0 * offset - shift
    return X, Y


def _rows(weights, pairing, T):
    """Rows of X and of Y of the explicit resample: slot c taken weights[c] times."""
    C = len(weights)
    pairing = np.arange(C) if pairing is None else pairing
    rx, ry = [], []
    for c in range(C):
        for _ in range(int(weights[c])):
            rx.append(np.arange(pairing[c] * T, pairing[c] * T + T))
            ry.append(np.arange(c * T, c * T + T))
    return np.concatenate(rx), np.concatenate(ry)


def _resamples(C, seed=1):
    rng = np.random.default_rng(seed)
    out = [(np.ones(C), None)]
    out += [(np.bincount(rng.integers(0, C, C), minlength=C), None) for _ in range(3)]
    out.append((np.bincount([0, 0, 0, 1], minlength=C), None))  # heavy repeats
    for k in range(C):  # leave one out
        w = np.ones(C)
        w[k] = 0
        out.append((w, None))
    out += [(np.ones(C), rng.permutation(C)) for _ in range(3)]
    out.append((np.bincount(rng.integers(0, C, C), minlength=C), rng.permutation(C)))  # both
    return out


def _usable(func, opts, X, Y):
    """CCA-type metrics are degenerate (every correlation 1) when p + q >= samples."""
    if func in (cca_similarity, cca_distance) or opts.get("alpha", 1.0) < 1.0:
        return X.shape[1] + Y.shape[1] < X.shape[0] - 1
    return True


@pytest.mark.parametrize("scale", SCALES, ids=[str(s) for s in SCALES])
def test_condition_blocks_equal_the_naive_resample(scale):
    C, T, p, q, offset = scale
    X, Y = _data(C, T, p, q, offset)
    blocks = ConditionBlocks(X, Y, C, cross=True)
    fast = [(metric_from_moments(f, **o), f, o) for f, o in FAST]
    checked = 0
    for weights, pairing in _resamples(C):
        rx, ry = _rows(weights, pairing, T)
        mo = blocks.moments(weights=weights, pairing=pairing)
        for fn, f, o in fast:
            if not _usable(f, o, X[rx], Y[ry]):
                continue
            naive = f(X[rx], Y[ry], **o)
            assert abs(fn(mo) - naive) <= TOL * max(1.0, abs(naive)), (f.__name__, o, weights, pairing)
            checked += 1
    assert checked >= 4 * len(_resamples(C))  # at least the Procrustes and CKA variants everywhere


def test_blocks_without_cross_agree_with_cross_and_refuse_pairings():
    X, Y = _data(5, 8, 4, 3, 0.0)
    a, b = ConditionBlocks(X, Y, 5), ConditionBlocks(X, Y, 5, cross=True)
    w = np.array([2, 0, 1, 1, 1])
    ma, mb = a.moments(weights=w), b.moments(weights=w)
    assert np.allclose(ma.xy, mb.xy, atol=1e-12) and np.allclose(ma.xx, mb.xx, atol=1e-12)
    with pytest.raises(ValueError, match="cross=True"):
        a.moments(pairing=[1, 0, 2, 3, 4])


def test_unequal_groups_by_label():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(23, 4)), rng.normal(size=(23, 6))
    labels = rng.integers(0, 4, 23)
    blocks = ConditionBlocks(X, Y, labels)
    w = np.array([0, 2, 1, 3])
    rows = np.concatenate([np.flatnonzero(labels == c) for c in range(4) for _ in range(w[c])])
    fn = metric_from_moments(procrustes_distance)
    assert abs(fn(blocks.moments(weights=w)) - procrustes_distance(X[rows], Y[rows])) < TOL
    with pytest.raises(ValueError, match="same number of samples"):
        ConditionBlocks(X, Y, labels, cross=True)


def test_unit_splits_equal_the_naive_split():
    rng = np.random.default_rng(4)
    F = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 21)) + 0.3 * rng.normal(size=(60, 21)) + 50.0
    cov = UnitCovariance(F)
    for _ in range(5):
        perm = rng.permutation(21)
        A, B = perm[:10], perm[10:20]
        mo = cov.moments(A, B)
        for f, o in FAST:
            naive = f(F[:, A], F[:, B], **o)
            assert abs(metric_from_moments(f, **o)(mo) - naive) <= TOL * max(1.0, abs(naive)), (f.__name__, o)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("kind,normalize", [("angular", False), ("angular", True), ("euclidean", False)])
def test_fitted_score_equals_shape_metric_on_held_out_conditions(alpha, kind, normalize):
    C, T, p, q = 6, 20, 5, 4
    X, Y = _data(C, T, p, q, 10.0, seed=5)
    blocks = ConditionBlocks(X, Y, C)
    folds = [[k] for k in range(C)] + [[0, 3], [1, 2, 5]]
    for test in folds:
        wte = np.isin(np.arange(C), test).astype(float)
        tr = blocks.moments(weights=1 - wte)
        te = blocks.moments(weights=wte, center=(tr.mean_x, tr.mean_y))
        rows_te = np.concatenate([np.arange(c * T, c * T + T) for c in test])
        rows_tr = np.setdiff1d(np.arange(C * T), rows_te)
        est = ShapeMetric(alpha=alpha, kind=kind, normalize=normalize).fit(X[rows_tr], Y[rows_tr])
        naive = est.score(X[rows_te], Y[rows_te])
        fast = fitted_shape_score(tr, te, alpha=alpha, kind=kind, normalize=normalize)
        assert abs(fast - naive) <= TOL * max(1.0, abs(naive)), (test, fast, naive)


def test_no_fast_path_for_unsupported_options():
    assert metric_from_moments(procrustes_distance, center=False) is None
    assert metric_from_moments(cka, debiased=True) is None
    assert metric_from_moments(cca_similarity, kind="pwcca") is None
    assert metric_from_moments(np.mean) is None
    assert metric_from_moments(procrustes_distance, bogus=1) is None


def test_bad_inputs_are_named():
    X, Y = _data(4, 5, 3, 3, 0.0)
    with pytest.raises(ValueError, match="divide"):
        ConditionBlocks(X, Y, 3)
    blocks = ConditionBlocks(X, Y, 4, cross=True)
    with pytest.raises(ValueError, match="weights"):
        blocks.moments(weights=[1, 1])
    with pytest.raises(ValueError, match="weights"):
        blocks.moments(weights=[0, 0, 0, 0])
    with pytest.raises(ValueError, match="pairing"):
        blocks.moments(pairing=[0, 1, 2, 9])
    with pytest.raises(ValueError, match="max_bytes"):
        ConditionBlocks(X, Y, 4, max_bytes=10)
    const = np.ones_like(X)
    fn = metric_from_moments(procrustes_distance)
    with pytest.raises(ValueError, match="zero norm"):
        fn(ConditionBlocks(const, Y, 4).moments())


def test_real_m1_bootstrap_and_permutation(hatsopoulos_rates):
    R = hatsopoulos_rates  # (8, 121, 141)
    C, T, N = R.shape
    Y = R.reshape(C * T, N)
    rng = np.random.default_rng(0)
    X = Y @ rng.normal(size=(N, 200)) + 5.0 * rng.normal(size=(C * T, 200))
    blocks = ConditionBlocks(X, Y, C, cross=True)
    for f, o in [(procrustes_distance, {"normalize": True}), (cka, {}), (cca_similarity, {})]:
        fn = metric_from_moments(f, **o)
        for weights, pairing in [(np.bincount(rng.integers(0, C, C), minlength=C), None),
                                 (np.ones(C), rng.permutation(C))]:
            rx, ry = _rows(weights, pairing, T)
            naive = f(X[rx], Y[ry], **o)
            assert abs(fn(blocks.moments(weights=weights, pairing=pairing)) - naive) <= TOL
