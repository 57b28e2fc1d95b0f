"""Battery of bad and extreme inputs over the metric API, pairwise and the baselines.

Every case ends in one of two ways: a ``ValueError``/``TypeError`` (or ``MemoryError``) whose
message names the offending argument (matched below), or a number equal to an independent
reference (a textbook formula on unscaled data, known canonical correlations, or the same
measure called directly).  Each case is one parametrised test.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosim import baselines, compare, pairwise
from neurosim.metrics import (
    ShapeMetric,
    canonical_correlations,
    cca_distance,
    cca_similarity,
    cka,
    compare_rdms,
    dsa_distance,
    make,
    prepare,
    prepared_distance,
    procrustes_distance,
    rdm,
    rsa,
    shape_distance,
)
from neurosim.trajectories import trajectories

RNG = np.random.default_rng(2026)
X = RNG.normal(size=(30, 5))
Y = X @ RNG.normal(size=(5, 4)) + 0.7 * RNG.normal(size=(30, 4))
Z = RNG.normal(size=(30, 5))
R6 = RNG.random(6)  # a condensed RDM of 4 conditions
R6b = RNG.random(6)


def with_value(A, index, value):
    A = np.array(A, dtype=float)
    A[index] = value
    return A


def masked(A):
    M = np.ma.masked_array(A, mask=np.zeros(np.shape(A), dtype=bool))
    M[0, 0] = np.ma.masked
    return M


def nonsym_square(K=4):
    D = np.random.default_rng(K).random((K, K))
    np.fill_diagonal(D, 0.0)
    return D


def traj(n_units=6, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(4, 12, 2))
    arr = latent @ rng.normal(size=(2, n_units)) + 0.2 * rng.normal(size=(4, 12, n_units))
    return trajectories(scale * arr, time=np.arange(12) * 10.0)


def ref_procrustes(A, B):
    Ac, Bc = A - A.mean(0), B - B.mean(0)
    nuc = np.linalg.svd(Ac.T @ Bc, compute_uv=False).sum()
    return float(np.arccos(min(1.0, nuc / np.linalg.norm(Ac) / np.linalg.norm(Bc))))


def ref_cka(A, B):
    Ac, Bc = A - A.mean(0), B - B.mean(0)
    K, L = Ac @ Ac.T, Bc @ Bc.T
    return float(np.sum(K * L) / np.linalg.norm(K) / np.linalg.norm(L))


def ref_cka_debiased(A, B):
    n = A.shape[0]

    def ucenter(G):
        G = G.copy()
        np.fill_diagonal(G, 0.0)
        m = G.sum(0) / (n - 2)
        m -= m.sum() / (2 * (n - 1))
        G -= m[:, None] + m[None, :]
        np.fill_diagonal(G, 0.0)
        return G

    K, L = ucenter(A @ A.T), ucenter(B @ B.T)
    return float(np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L)))


def known_cca(kappa, n=120, p=6):
    rng = np.random.default_rng(11)
    Q, _ = np.linalg.qr(np.c_[np.ones(n), rng.normal(size=(n, 2 * p))])
    Q = Q[:, 1:]
    theta = np.linspace(0.2, 1.4, p)
    Ux, Uy = Q[:, :p], Q[:, :p] * np.cos(theta) + Q[:, p:] * np.sin(theta)
    Rx, Ry = (np.linalg.qr(rng.normal(size=(p, p)))[0] for _ in range(2))
    A = (Ux * np.geomspace(1.0, 1.0 / kappa, p)) @ Rx
    B = (Uy * np.geomspace(1.0, 0.1, p)) @ Ry
    return A, B, float(np.arccos(np.mean(np.cos(theta))))


def asym_nets():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(60, 5))
    B = A @ rng.normal(size=(5, 5)) * [1, 1, 0.1, 0.1, 0.1] + 0.5 * rng.normal(size=(60, 5))
    return {"A": A, "B": B}


def fitted():
    return ShapeMetric().fit(X, Y)


# (id, thunk, (exception, match)) -- the match names the argument
BAD = [
    # ---- shape family
    ("procrustes-X-None", lambda: procrustes_distance(None, Y), (TypeError, "X must be a numeric")),
    ("procrustes-X-str", lambda: procrustes_distance("abc", Y), (TypeError, "X must be a numeric")),
    ("procrustes-X-complex", lambda: procrustes_distance(X + 1j, Y), (TypeError, "X must hold real")),
    ("procrustes-X-object", lambda: procrustes_distance(np.array([[object()]] * 3), Y), (TypeError, "X must hold")),
    ("procrustes-X-1d", lambda: procrustes_distance(X[:, 0], Y), (ValueError, "X must be 2-D")),
    ("procrustes-X-3d", lambda: procrustes_distance(X.reshape(3, 10, 5), Y), (ValueError, "X must be 2-D.*flatten")),
    ("procrustes-rows", lambda: procrustes_distance(X[:20], Y), (ValueError, "X and Y must have the same number")),
    ("procrustes-one-sample", lambda: procrustes_distance(X[:1], Y[:1]), (ValueError, "X needs at least 2 samples")),
    ("procrustes-no-features", lambda: procrustes_distance(X[:, :0], Y), (ValueError, "X needs at least 1 feature")),
    ("procrustes-Y-nan", lambda: procrustes_distance(X, with_value(Y, (3, 1), np.nan)), (ValueError, "Y contains 1 NaN")),
    ("procrustes-X-inf", lambda: procrustes_distance(with_value(X, (0, 0), np.inf), Y), (ValueError, "X contains 1 inf")),
    ("procrustes-X-ninf", lambda: procrustes_distance(with_value(X, (0, 0), -np.inf), Y), (ValueError, "X contains 1 inf")),
    ("procrustes-X-masked", lambda: procrustes_distance(masked(X), Y), (TypeError, "X is a masked array")),
    ("procrustes-X-constant", lambda: procrustes_distance(np.ones_like(X), Y), (ValueError, "X has zero norm")),
    ("procrustes-Y-constant", lambda: procrustes_distance(X, np.full_like(Y, 1e300)), (ValueError, "Y has zero norm")),
    ("procrustes-kind-typo", lambda: procrustes_distance(X, Y, kind="eucl"), (ValueError, "kind.*euclidean")),
    ("procrustes-kind-int", lambda: procrustes_distance(X, Y, kind=3), (TypeError, "kind must be a string")),
    ("procrustes-normalize-euclid", lambda: procrustes_distance(X, Y, kind="euclidean", normalize=True),
     (ValueError, "normalize")),
    ("procrustes-normalize-str", lambda: procrustes_distance(X, Y, normalize="no"), (TypeError, "normalize")),
    ("procrustes-center-int", lambda: procrustes_distance(X, Y, center=2), (TypeError, "center")),
    ("prepare-center-str", lambda: prepare(X, center="yes"), (TypeError, "center")),
    ("estimator-center-str", lambda: ShapeMetric(center="no").fit(X, Y), (TypeError, "center")),
    ("cc-center-str", lambda: canonical_correlations(X, Y, center="no"), (TypeError, "center")),
    ("pairwise-normalize-str", lambda: pairwise({"a": X, "b": Z}, normalize="yes"), (TypeError, "normalize")),
    ("shape-alpha-high", lambda: shape_distance(X, Y, alpha=1.5), (ValueError, "alpha must lie in")),
    ("shape-alpha-negative", lambda: shape_distance(X, Y, alpha=-0.1), (ValueError, "alpha must lie in")),
    ("shape-alpha-str", lambda: shape_distance(X, Y, alpha="half"), (TypeError, "alpha must be a number")),
    ("shape-alpha-nan", lambda: shape_distance(X, Y, alpha=np.nan), (ValueError, "alpha")),
    ("shape-alpha-None", lambda: shape_distance(X, Y, alpha=None), (TypeError, "alpha")),
    ("cca-X-masked", lambda: cca_distance(masked(X), Y), (TypeError, "X is a masked array")),
    ("cca-Y-nan", lambda: cca_distance(X, with_value(Y, (0, 0), np.nan)), (ValueError, "Y contains 1 NaN")),
    ("prepare-alpha", lambda: prepare(X, alpha=2.0), (ValueError, "alpha")),
    ("prepare-X-nan", lambda: prepare(with_value(X, (1, 1), np.nan)), (ValueError, "X contains 1 NaN")),
    ("prepared-A-nan", lambda: prepared_distance(with_value(X, (2, 2), np.nan), prepare(Y)), (ValueError, "A contains 1 NaN")),
    ("prepared-B-inf", lambda: prepared_distance(prepare(X), with_value(Y, (0, 1), np.inf)), (ValueError, "B contains 1 inf")),
    ("prepared-rows", lambda: prepared_distance(prepare(X), prepare(Y[:10])), (ValueError, "A and B")),
    ("prepared-A-zero", lambda: prepared_distance(np.zeros((30, 2)), prepare(Y)), (ValueError, "A has zero norm")),
    ("prepared-kind", lambda: prepared_distance(prepare(X), prepare(Y), kind="cosine"), (ValueError, "kind")),
    # ---- CKA
    ("cka-kernel", lambda: cka(X, Y, kernel="poly"), (ValueError, "kernel")),
    ("cka-sigma-negative", lambda: cka(X, Y, kernel="rbf", sigma=-1.0), (ValueError, "sigma")),
    ("cka-sigma-str", lambda: cka(X, Y, kernel="rbf", sigma="wide"), (TypeError, "sigma")),
    ("cka-sigma-linear", lambda: cka(X, Y, sigma=1.0), (ValueError, "sigma")),
    ("cka-debiased-few", lambda: cka(X[:3], Y[:3], debiased=True), (ValueError, "X needs at least 4 samples")),
    ("cka-debiased-str", lambda: cka(X, Y, debiased="yes"), (TypeError, "debiased")),
    ("cka-Y-masked", lambda: cka(X, masked(Y)), (TypeError, "Y is a masked array")),
    ("cka-X-nan", lambda: cka(with_value(X, (0, 0), np.nan), Y), (ValueError, "X contains 1 NaN")),
    ("cka-rbf-duplicates", lambda: cka(np.r_[np.repeat(X[:1], 28, axis=0), X[1:3]], Y, kernel="rbf"), (ValueError, "sigma")),
    # ---- CCA family
    ("cc-n_components-0", lambda: canonical_correlations(X, Y, n_components=0), (ValueError, "n_components")),
    ("cc-n_components-bool", lambda: canonical_correlations(X, Y, n_components=True), (TypeError, "n_components")),
    ("cc-n_components-float", lambda: canonical_correlations(X, Y, n_components=2.0), (TypeError, "n_components")),
    ("cc-n_components-large", lambda: canonical_correlations(X, Y, n_components=50), (ValueError, "n_components")),
    ("cc-reg-negative", lambda: canonical_correlations(X, Y, reg=-1.0), (ValueError, "reg")),
    ("cc-reg-str", lambda: canonical_correlations(X, Y, reg="a"), (TypeError, "reg")),
    ("cc-reg-inf", lambda: canonical_correlations(X, Y, reg=np.inf), (ValueError, "reg")),
    ("ccasim-kind", lambda: cca_similarity(X, Y, "pwca"), (ValueError, "kind.*pwcca")),
    ("ccasim-keep-bool", lambda: cca_similarity(X, Y, "svcca", keep=True), (TypeError, "keep")),
    ("ccasim-keep-zero", lambda: cca_similarity(X, Y, "svcca", keep=0), (ValueError, "keep")),
    ("ccasim-keep-frac", lambda: cca_similarity(X, Y, "svcca", keep=1.5), (ValueError, "keep")),
    ("ccasim-keep-large", lambda: cca_similarity(X, Y, "svcca", keep=100), (ValueError, "keep")),
    ("ccasim-keep-str", lambda: cca_similarity(X, Y, "svcca", keep="all"), (TypeError, "keep")),
    ("ccasim-keep-not-svcca", lambda: cca_similarity(X, Y, "mean", keep=0.9), (ValueError, "keep")),
    ("ccasim-n_components-pwcca", lambda: cca_similarity(X, Y, "pwcca", n_components=2), (ValueError, "n_components")),
    ("ccasim-n_components-bool", lambda: cca_similarity(X, Y, n_components=False), (TypeError, "n_components")),
    # ---- RSA
    ("rdm-method", lambda: rdm(X, "corr"), (ValueError, "method.*correlation")),
    ("rdm-method-int", lambda: rdm(X, 3), (TypeError, "method")),
    ("rdm-two-conditions", lambda: rdm(X[:2]), (ValueError, "X .*needs at least 3")),
    ("rdm-corr-one-feature", lambda: rdm(X[:, :1]), (ValueError, "X needs at least 2 features")),
    ("rdm-cosine-zero-row", lambda: rdm(with_value(X[:5], (0, slice(None)), 0.0), "cosine"),
     (ValueError, r"condition\(s\) \[0\]")),
    ("rdm-labels-not-crossnobis", lambda: rdm(X, conditions=np.arange(30)), (ValueError, "conditions=")),
    ("rdm-crossnobis-2d-no-labels", lambda: rdm(X, "crossnobis"), (ValueError, "conditions= and trials=")),
    ("rdm-crossnobis-one-fold", lambda: rdm(X[None, :6], "crossnobis"), (ValueError, "trials/folds")),
    ("rdm-crossnobis-noise-shape", lambda: rdm(X.reshape(2, 15, 5)[:, :6], "crossnobis", noise=np.eye(3)),
     (ValueError, "noise")),
    ("rdm-crossnobis-noise-asym", lambda: rdm(X.reshape(2, 15, 5)[:, :6], "crossnobis", noise=np.triu(np.ones((5, 5)))),
     (ValueError, "noise")),
    ("rdm-X-masked", lambda: rdm(masked(X)), (TypeError, "masked")),
    ("compare-method", lambda: compare_rdms(R6, R6b, "kendall"), (ValueError, "method")),
    ("compare-lengths", lambda: compare_rdms(R6, RNG.random(10)), (ValueError, "condensed lengths")),
    ("compare-bad-length", lambda: compare_rdms(RNG.random(4), RNG.random(4)), (ValueError, "a: length 4")),
    ("compare-nonsym-square", lambda: compare_rdms(nonsym_square(), R6), (ValueError, "a is a square.*not symmetric")),
    ("compare-nonsym-square-3", lambda: compare_rdms(R6[:3], nonsym_square(3)), (ValueError, "b is a square")),
    ("compare-diag-square", lambda: compare_rdms(np.eye(4) + 0.5, R6), (ValueError, "a is a square.*diagonal")),
    ("compare-a-nan", lambda: compare_rdms(with_value(R6, 2, np.nan), R6b), (ValueError, "a contains 1 NaN")),
    ("compare-b-inf", lambda: compare_rdms(R6, with_value(R6b, 0, np.inf)), (ValueError, "b contains 1 inf")),
    ("compare-constant", lambda: compare_rdms(np.ones(6), R6b), (ValueError, "RDM a.*constant")),
    ("compare-cosine-zero", lambda: compare_rdms(R6, np.zeros(6), "cosine"), (ValueError, "RDM b.*all zero")),
    ("compare-a-None", lambda: compare_rdms(None, R6), (TypeError, "a must be")),
    ("compare-a-str", lambda: compare_rdms("rdm", R6), (TypeError, "a must be")),
    ("compare-3d-nonsquare", lambda: compare_rdms(RNG.random((2, 3, 4)), R6), (ValueError, "a: a 3-D stack")),
    ("compare-masked", lambda: compare_rdms(np.ma.masked_array(R6, mask=[1, 0, 0, 0, 0, 0]), R6b),
     (TypeError, "a is a masked")),
    ("rsa-crossnobis", lambda: rsa(X, Y, rdm_method="crossnobis"), (ValueError, "crossnobis")),
    ("rsa-rdm_method", lambda: rsa(X, Y, rdm_method="foo"), (ValueError, "rdm_method")),
    ("rsa-compare", lambda: rsa(X, Y, compare="spear"), (ValueError, "compare.*spearman")),
    ("rsa-rows", lambda: rsa(X, Y[:10]), (ValueError, "X and Y must have the same conditions")),
    # ---- registry
    ("make-typo", lambda: make("procrustez"), (ValueError, "procrustes")),
    ("make-int", lambda: make(3), (TypeError, "measure name")),
    ("make-alpha", lambda: make("shape_metric-alpha=1.5-distance=angular"), (ValueError, "alpha")),
    ("measure-fixed-option", lambda: make("procrustes-distance=angular")(X, Y, kind="euclidean"),
     (TypeError, r"fixes \['kind'\]")),
    ("measure-unknown-option", lambda: make("cka")(X, Y, alpha=0.5), (TypeError, r"\['alpha'\].*kernel")),
    ("measure-unknown-option-rsa", lambda: make("rsa")(X, Y, kind="x"), (TypeError, r"\['kind'\].*rdm_method")),
    # ---- estimator
    ("estimator-alpha", lambda: ShapeMetric(alpha=2).fit(X, Y), (ValueError, "alpha")),
    ("estimator-kind", lambda: ShapeMetric(kind="x").fit(X, Y), (ValueError, "kind")),
    ("estimator-unfitted", lambda: ShapeMetric().score(X, Y), (ValueError, "not fitted")),
    ("estimator-features", lambda: fitted().score(X[:, :3], Y), (ValueError, "features")),
    ("estimator-set_params", lambda: ShapeMetric().set_params(bad=1), (ValueError, "'bad'.*alpha")),
    ("estimator-X-nan", lambda: fitted().score(with_value(X, (0, 0), np.nan), Y), (ValueError, "X contains 1 NaN")),
    # ---- pairwise
    ("pairwise-cka-alpha", lambda: pairwise({"a": X, "b": Z}, metric="cka", alpha=0.5), (TypeError, "alpha")),
    ("pairwise-cka-kind", lambda: pairwise({"a": X, "b": Z}, metric="cka", kind="euclidean"), (TypeError, "kind")),
    ("pairwise-cka-center", lambda: pairwise({"a": X, "b": Z}, metric="cka", center=False), (TypeError, "center")),
    ("pairwise-pwcca-normalize", lambda: pairwise({"a": X, "b": Z}, metric="pwcca-score", normalize=True),
     (TypeError, "normalize")),
    ("pairwise-procrustes-option", lambda: pairwise({"a": X, "b": Z}, foo=1), (TypeError, "foo")),
    ("pairwise-kind", lambda: pairwise({"a": X, "b": Z}, kind="eucl"), (ValueError, "kind")),
    ("pairwise-cca-alpha", lambda: pairwise({"a": X, "b": Z}, metric="cca", alpha=0.5), (ValueError, "alpha")),
    ("pairwise-shape-alpha", lambda: pairwise({"a": X, "b": Z}, metric="shape", alpha=2.0), (ValueError, "alpha")),
    ("pairwise-fixed-kind", lambda: pairwise({"a": X, "b": Z}, metric="procrustes-distance=euclidean", kind="angular"),
     (ValueError, "kind")),
    ("pairwise-callable-alpha", lambda: pairwise({"a": X, "b": Z}, metric=lambda a, b: 0.0, alpha=0.5),
     (TypeError, "alpha")),
    ("pairwise-block_size-bool", lambda: pairwise({"a": X, "b": Z}, block_size=True), (TypeError, "block_size")),
    ("pairwise-block_size-zero", lambda: pairwise({"a": X, "b": Z}, block_size=0), (ValueError, "block_size")),
    ("pairwise-progress", lambda: pairwise({"a": X, "b": Z}, progress="yes"), (TypeError, "progress")),
    ("pairwise-one", lambda: pairwise({"a": X}), (ValueError, "at least 2")),
    ("pairwise-samples", lambda: pairwise({"a": X, "b": Z[:10]}), (ValueError, "samples")),
    ("pairwise-metric-int", lambda: pairwise({"a": X, "b": Z}, metric=3), (TypeError, "metric")),
    ("pairwise-metric-typo", lambda: pairwise({"a": X, "b": Z}, metric="procrustez"), (ValueError, "metric")),
    ("pairwise-collection", lambda: pairwise("abc"), (TypeError, "collection")),
    ("pairwise-nan", lambda: pairwise({"a": X, "b": with_value(Z, (0, 0), np.nan)}),
     (ValueError, r"collection\['b'\] contains 1 NaN")),
    ("pairwise-masked", lambda: pairwise({"a": X, "b": masked(Z)}), (TypeError, r"collection\['b'\] is a masked")),
    ("pairwise-duplicate-names",
     lambda: pairwise([xr.DataArray(X, dims=("s", "u"), name="n"), xr.DataArray(Z, dims=("s", "u"), name="n")]),
     (ValueError, "unique")),
    # ---- baselines
    ("ceiling-n_splits-bool", lambda: baselines.split_half_ceiling(traj(), n_splits=True), (TypeError, "n_splits")),
    ("ceiling-n_splits-zero", lambda: baselines.split_half_ceiling(traj(), n_splits=0), (ValueError, "n_splits")),
    ("ceiling-n_splits-float", lambda: baselines.split_half_ceiling(traj(), n_splits=2.5), (TypeError, "n_splits")),
    ("ceiling-seed-negative", lambda: baselines.split_half_ceiling(traj(), seed=-1), (ValueError, "seed")),
    ("ceiling-seed-str", lambda: baselines.split_half_ceiling(traj(), seed="a"), (TypeError, "seed")),
    ("ceiling-seed-bool", lambda: baselines.split_half_ceiling(traj(), seed=True), (TypeError, "seed")),
    ("ceiling-one-unit", lambda: baselines.split_half_ceiling(traj(n_units=1)), (ValueError, "units")),
    ("normalized-d-str", lambda: baselines.normalized_distance("a", 0.4), (TypeError, "d must be")),
    ("normalized-ceiling-None", lambda: baselines.normalized_distance(0.5, None), (TypeError, "ceiling must be")),
    ("normalized-ceiling-one", lambda: baselines.normalized_distance(0.5, 1.0), (ValueError, "ceiling")),
    ("normalized-nan", lambda: baselines.normalized_distance(np.nan, 0.3), (ValueError, "finite")),
    ("condition-average-nan", lambda: baselines.condition_average(traj().where(traj().time > 0)), (ValueError, "NaN")),
]

AB = asym_nets()
NETS = {"a": X, "b": Z, "c": X @ RNG.normal(size=(5, 5)) + Z}
K45_6, K45_6b, K45_6ref = known_cca(4.5e6)
K45_7, K45_7b, K45_7ref = known_cca(4.5e7)
TRAJ_M, TRAJ_D = traj(seed=1), traj(seed=2)
DSA_T = np.random.default_rng(7).normal(size=(6, 40, 5)).cumsum(axis=1)
DSA_U = np.random.default_rng(8).normal(size=(6, 40, 5)).cumsum(axis=1)

# (id, thunk, reference thunk, absolute tolerance)
GOOD = [
    ("procrustes-1e-160", lambda: procrustes_distance(1e-160 * X, 1e-160 * Y), lambda: ref_procrustes(X, Y), 1e-12),
    ("procrustes-1e300", lambda: procrustes_distance(1e300 * X, 1e300 * Y), lambda: ref_procrustes(X, Y), 1e-12),
    ("procrustes-1e155", lambda: procrustes_distance(1e155 * X, Y), lambda: ref_procrustes(X, Y), 1e-12),
    ("procrustes-euclid-1e-160", lambda: procrustes_distance(1e-160 * X, 1e-160 * Y, kind="euclidean") / 1e-160,
     lambda: procrustes_distance(X, Y, kind="euclidean"), 1e-9),
    ("prepared-1e-160", lambda: prepared_distance(prepare(1e-160 * X), prepare(1e-160 * Y)),
     lambda: ref_procrustes(X, Y), 1e-12),
    ("cka-1e40", lambda: cka(1e40 * X, 1e40 * Y), lambda: ref_cka(X, Y), 1e-12),
    ("cka-1e-44", lambda: cka(1e-44 * X, 1e-44 * Y), lambda: ref_cka(X, Y), 1e-12),
    ("cka-1e150", lambda: cka(1e150 * X, 1e150 * Y), lambda: ref_cka(X, Y), 1e-12),
    ("cka-1e-150", lambda: cka(1e-150 * X, 1e-150 * Y), lambda: ref_cka(X, Y), 1e-12),
    ("cka-debiased-1e-80", lambda: cka(1e-80 * X, 1e-80 * Y, debiased=True),
     lambda: ref_cka_debiased(X - X.mean(0), Y - Y.mean(0)), 1e-12),
    ("cka-single-1e300", lambda: cka(with_value(X, (4, 1), 1e300), Y),
     lambda: ref_cka(with_value(X, (4, 1), 1e300) / 1e300, Y), 1e-12),
    ("cka-rbf-1e150", lambda: cka(1e150 * X, 1e150 * Y, kernel="rbf"), lambda: cka(X, Y, kernel="rbf"), 1e-12),
    ("cca-1e152", lambda: cca_distance(1e152 * X, 1e152 * Y), lambda: cca_distance(X, Y), 1e-12),
    ("cca-cond-4.5e6", lambda: cca_distance(K45_6, K45_6b), lambda: K45_6ref, 1e-9),
    ("cca-cond-4.5e7", lambda: cca_distance(K45_7, K45_7b), lambda: K45_7ref, 5e-9),
    ("pwcca-1e-300", lambda: cca_similarity(1e-300 * X, 1e-300 * Y, "pwcca"), lambda: cca_similarity(X, Y, "pwcca"), 1e-12),
    ("svcca-1e300", lambda: cca_similarity(1e300 * X, 1e300 * Y, "svcca"), lambda: cca_similarity(X, Y, "svcca"), 1e-12),
    ("rsa-1e155", lambda: rsa(1e155 * X[:8], Y[:8]), lambda: rsa(X[:8], Y[:8]), 1e-12),
    ("rsa-pearson-1e-300", lambda: rsa(1e-300 * X[:8], Y[:8], compare="pearson"),
     lambda: rsa(X[:8], Y[:8], compare="pearson"), 1e-12),
    ("rdm-positional", lambda: rdm(X[:6], "euclidean")[3], lambda: float(np.linalg.norm(X[0] - X[4])), 1e-10),
    ("compare-positional", lambda: compare_rdms(R6, R6b, "pearson"), lambda: float(np.corrcoef(R6, R6b)[0, 1]), 1e-12),
    ("compare-square-tiny", lambda: compare_rdms(1e-200 * nonsym_square() + 1e-200 * nonsym_square().T, R6, "pearson"),
     lambda: float(np.corrcoef((nonsym_square() + nonsym_square().T)[np.triu_indices(4, 1)], R6)[0, 1]), 1e-12),
    ("masked-nothing-masked", lambda: procrustes_distance(np.ma.masked_array(X), Y), lambda: ref_procrustes(X, Y), 1e-12),
    ("pairwise-pwcca-BA", lambda: float(pairwise(AB, metric="pwcca-score").sel(network="B", network_b="A")),
     lambda: cca_similarity(AB["B"], AB["A"], "pwcca"), 1e-12),
    ("pairwise-pwcca-AB", lambda: float(pairwise(AB, metric="pwcca-score").sel(network="A", network_b="B")),
     lambda: cca_similarity(AB["A"], AB["B"], "pwcca"), 1e-12),
    ("pairwise-callable-both-triangles",
     lambda: float(pairwise(AB, metric=lambda a, b: float(a.mean() - b.mean())).sel(network="B", network_b="A")),
     lambda: float(AB["B"].mean() - AB["A"].mean()), 1e-12),
    ("pairwise-cka-1e150", lambda: float(pairwise({k: 1e150 * v for k, v in NETS.items()}, metric="cka")[0, 2]),
     lambda: ref_cka(NETS["a"], NETS["c"]), 1e-12),
    ("pairwise-procrustes-1e-160", lambda: float(pairwise({k: 1e-160 * v for k, v in NETS.items()})[1, 2]),
     lambda: ref_procrustes(NETS["b"], NETS["c"]), 1e-12),
    ("ceiling-n_splits-3", lambda: len(baselines.split_half_ceiling(traj(), n_splits=3).values), lambda: 3, 0),
    ("ceiling-seed-np-int", lambda: baselines.split_half_ceiling(traj(), n_splits=4, seed=np.int64(3)).value,
     lambda: baselines.split_half_ceiling(traj(), n_splits=4, seed=3).value, 0),
    ("ceiling-1e150", lambda: baselines.split_half_ceiling(traj(scale=1e150), n_splits=5, normalize=True).value,
     lambda: baselines.split_half_ceiling(traj(), n_splits=5, normalize=True).value, 1e-12),
    ("compare-cka-1e150", lambda: compare(TRAJ_M * 1e150, TRAJ_D * 1e150, metric="cka").value,
     lambda: compare(TRAJ_M, TRAJ_D, metric="cka").value, 1e-12),
    # the DMD operator does not depend on the data's scale: a system against itself scaled by 1e300
    ("dsa-1e300", lambda: dsa_distance(DSA_T, DSA_T * 1e300, n_delays=2, rank=5), lambda: 0.0, 1e-6),
    ("dsa-1e300-other", lambda: dsa_distance(DSA_T, DSA_U * 1e300, n_delays=2, rank=5),
     lambda: dsa_distance(DSA_T, DSA_U, n_delays=2, rank=5), 1e-9),
    ("dsa-1e-300-other", lambda: dsa_distance(DSA_T * 1e-300, DSA_U, n_delays=2, rank=5),
     lambda: dsa_distance(DSA_T, DSA_U, n_delays=2, rank=5), 1e-9),
    # Euclidean: tiny but non-constant X is not "all-constant"; min_Q ‖Xc − YcQ‖ is then ‖Yc‖ to
    # within ‖Xc‖ ≈ 1e-299 (textbook formula on the unscaled Y)
    ("procrustes-euclid-tiny-X", lambda: procrustes_distance(1e-300 * X, Y, kind="euclidean"),
     lambda: float(np.linalg.norm(Y - Y.mean(0))), 1e-12),
    ("shape-euclid-tiny-X", lambda: shape_distance(1e-300 * X, Y, alpha=0.5, kind="euclidean"),
     lambda: float(np.linalg.norm(Y - Y.mean(0))), 1e-12),
    ("estimator-euclid-tiny-X", lambda: ShapeMetric(kind="euclidean").fit(1e-300 * X, Y).distance_,
     lambda: float(np.linalg.norm(Y - Y.mean(0))), 1e-12),
    ("procrustes-euclid-1e300-vs-1", lambda: procrustes_distance(1e300 * X, Y, kind="euclidean") / 1e300,
     lambda: float(np.linalg.norm(X - X.mean(0))), 1e-12),
    # large column means (firing rates): the centred path agrees with the textbook formula
    ("procrustes-large-mean", lambda: procrustes_distance(X + 50.0, Y - 80.0), lambda: ref_procrustes(X, Y), 1e-11),
    ("procrustes-large-mean-one-side", lambda: procrustes_distance(X + 50.0, Y), lambda: ref_procrustes(X, Y), 1e-11),
    ("procrustes-euclid-large-mean", lambda: procrustes_distance(X + 50.0, Y - 80.0, kind="euclidean"),
     lambda: procrustes_distance(X, Y, kind="euclidean"), 1e-10),
]


@pytest.mark.parametrize("thunk, expected", [pytest.param(t, e, id=i) for i, t, e in BAD])
def test_bad_input_is_refused_naming_the_argument(thunk, expected):
    exc, match = expected
    with pytest.raises(exc, match=match):
        thunk()


@pytest.mark.parametrize("thunk, reference, tol", [pytest.param(t, r, tol, id=i) for i, t, r, tol in GOOD])
def test_extreme_input_matches_an_independent_reference(thunk, reference, tol):
    value = thunk()
    assert np.isfinite(value)
    assert value == pytest.approx(reference(), abs=tol, rel=0)


def test_battery_size():
    assert len(BAD) + len(GOOD) >= 150


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-160])
@pytest.mark.parametrize("method", ["sqeuclidean", "euclidean"])
def test_rdm_distances_outside_float64_are_refused_not_inf_or_zero(scale, method):
    X = np.random.default_rng(0).normal(size=(5, 4)) * scale
    if method == "euclidean":
        # distances ~scale are normal float64 numbers: right to full precision
        assert np.allclose(rdm(X, method) / scale, rdm(X / scale, method), rtol=1e-12)
        return
    # squared distances ~1e600, 1e-600, 1e-320: not (normal) float64 numbers
    with pytest.raises(ValueError, match=r"X: its squared distances .*float64"):
        rdm(X, method)
