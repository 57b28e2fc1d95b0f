"""Golden values from the similarity repository (Cloos, Yang & Cueva): neurosim against the field.

Source: ``figures/metric_vs_repo.csv`` of https://github.com/nacloos/similarity-repository at commit
``bf84563e62606420eab7de3c007cd932457d22ad`` (the last commit that changed the file; read at
``035b3be``). Every cell is one measure (column, a shared measure id) computed by one
repository's code (row) on the same data, written by ``similarity/plotting.py::plot_scores``:
``np.random.seed(0)`` then ``X, Y = np.random.uniform(size=(30, 25)), np.random.uniform(size=(30, 25))``.
Values are copied with all the digits the csv holds.

Tolerance: the csv stores 16-17 significant digits; neurosim and the other implementations
compute the same closed forms by different exact-arithmetic-equivalent routes (singular values of
XcᵀYc vs Gram matrices, QR vs eigendecompositions), which differ by rounding, ~1e-15 here. 1e-12
absolute fails on any difference of convention while leaving a wide margin for rounding.

Where implementations disagree, the tests below pin which convention neurosim follows and explain
the other values (see the table "Conventions that differ between implementations" in docs/metrics.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import neurosim
from neurosim.metrics import canonical_correlations, cca_similarity, cka

TOL = 1e-12


@pytest.fixture(scope="module")
def XY():
    np.random.seed(0)  # the repository's own data recipe (plotting.py); legacy global generator on purpose
    X, Y = np.random.uniform(size=(30, 25)), np.random.uniform(size=(30, 25))
    np.random.seed(None)
    return X, Y


# (measure id in neurosim, the csv column, {repository row: value}); every repository that agrees
AGREED = [
    ("cka-kernel=linear-hsic=gretton-score", "cka-kernel=linear-hsic=gretton-score",
     {"netrep": 0.48934273910441545, "rsatoolbox": 0.4893427391044152, "sim_metric": 0.48934273910441517}),
    ("cka-kernel=linear-hsic=gretton-distance=angular", "cka-kernel=linear-hsic=gretton-distance=angular",
     {"netrep": 1.0594603937845422, "rsatoolbox": 1.0594603937845424}),
    ("nbs", "nbs-score", {"netrep": 0.7227787175993361, "sim_metric": 0.7227787175993364}),
    ("procrustes-distance=angular", "procrustes-distance=angular",
     {"netrep": 0.7629815799340973, "sim_metric": 0.7629815799340969}),
    ("procrustes-distance=euclidean", "procrustes-distance=euclidean", {"netrep": 5.851126077853428}),
    ("cca-score", "cca-score", {"svcca": 0.8901049738157812, "netrep": 0.8901049738157807}),
    ("cca-squared_score", "cca-squared_score", {"svcca": 0.8583001426315537, "sim_metric": 0.8583001426315523}),
    ("cca-distance=angular", "cca-distance=angular", {"netrep": 0.47322087985030586, "svcca": 0.47322087985030464}),
    ("svcca-var=0.99-score", "svcca-var=0.99-score", {"svcca": 0.7831814122650432, "netrep": 0.7831814122650432}),
    ("svcca-var=0.95-score", "svcca-var=0.95-score", {"svcca": 0.728160558683519, "sim_metric": 0.728160558683519}),
    ("cka-kernel=linear-hsic=song-score", "cka-kernel=linear-hsic=song-score",
     {"representation_similarity": 0.023598698580556743, "thingsvision": 0.023598698580556885}),
    ("rsa-rdm=correlation-compare=spearman", "rsa-rdm=correlation-compare=spearman",
     {"rsatoolbox": -0.004092795694065199}),
    ("rsa-rdm=correlation-compare=corr", "rsa-rdm=correlation-compare=pearson", {"rsatoolbox": 0.0035062460192807096}),
    ("rsa-rdm=euclidean-compare=spearman", "rsa-rdm=euclidean-compare=spearman", {"thingsvision": 0.026652156101799433}),
]


@pytest.mark.parametrize("measure, column, published", AGREED, ids=[a[0] for a in AGREED])
def test_neurosim_equals_the_published_value(XY, measure, column, published):
    value = float(neurosim.make(measure)(*XY))
    for repo, ref in published.items():
        assert abs(value - ref) < TOL, f"{measure}: neurosim {value!r}, {repo} ({column}) {ref!r}"


def test_procrustes_angle_is_arccos_of_nbs(XY):
    """The two published columns are one measure: 0.7629816 rad = arccos(0.7227787)."""
    assert abs(np.arccos(0.7227787175993361) - 0.7629815799340973) < TOL
    assert abs(neurosim.procrustes_distance(*XY) - np.arccos(neurosim.make("nbs")(*XY))) < TOL


# ------------------------------------------------------------------- conventions that differ
def _double_centred(X):
    Xc = X - X.mean(0)
    return Xc @ Xc.T


def test_debiased_cka_follows_song_not_lange(XY):
    """Debiased linear CKA: neurosim uses the unbiased HSIC of Song et al. (2012) (Kornblith's U-centering).

    csv: ``cka-kernel=linear-hsic=song-score`` 0.023598698580556743 (representation_similarity,
    thingsvision, contrasim, correcting_cka_alignment); ``...hsic=lange-score`` 0.05333644334093057
    (netrep, rsatoolbox, repsim) — the cosine of the double-centred Gram matrices with their diagonal
    set to zero, which removes the diagonal's bias but is not an unbiased HSIC.
    """
    X, Y = XY
    song, lange = 0.023598698580556743, 0.05333644334093057
    assert abs(cka(X, Y, debiased=True) - song) < TOL
    K, L = _double_centred(X), _double_centred(Y)
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    assert abs(np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L)) - lange) < TOL  # what "lange" computes
    assert abs(cka(X, Y, debiased=True) - lange) > 0.02


def _pc_scores(A, k):
    U, s, _ = np.linalg.svd(A - A.mean(0), full_matrices=False)
    return U[:, :k] * s[:k]


def test_svcca_threshold_rule(XY):
    """SVCCA keeping 95 % of the variance: three rules in the field, neurosim follows Raghu et al.'s code.

    Each side keeps the fewest principal components whose cumulative variance reaches the threshold
    (here 16 for X, 17 for Y), then the mean canonical correlation: 0.728160558683519 (svcca,
    sim_metric, contrasim). netrep reports 0.7064195049084505 = Σρ / sqrt(16·17), the cosine of its
    angular CCA distance with unequal ranks; repsim 0.6861596785613798 keeps the same number (16) on
    both sides.
    """
    X, Y = XY

    def k95(A):
        s2 = np.linalg.svd(A - A.mean(0), compute_uv=False) ** 2
        return int(np.argmax(np.cumsum(s2) / s2.sum() >= 0.95)) + 1

    assert (k95(X), k95(Y)) == (16, 17)
    rho = canonical_correlations(_pc_scores(X, 16), _pc_scores(Y, 17))
    ours = cca_similarity(X, Y, "svcca", keep=0.95)
    assert abs(ours - 0.728160558683519) < TOL and abs(rho.mean() - ours) < TOL
    assert abs(rho.sum() / np.sqrt(16 * 17) - 0.7064195049084505) < TOL  # netrep's value
    assert abs(cca_similarity(X, Y, "svcca", keep=16) - 0.6861596785613798) < TOL  # repsim's value


def test_pwcca_is_not_determined_on_this_data(XY):
    """The csv's PWCCA values disagree (svcca 0.9588540570969645, sim_metric 0.8933410211502996;
    neurosim 0.8929) because on this data PWCCA has no unique value: rank X + rank Y = 50 exceeds the
    29 dimensions of centred 30-sample data, so 21 of the 25 canonical correlations equal 1 and the
    canonical variates inside that 21-dimensional space, hence the projection weights, are whatever
    basis an SVD returns. Only the weights' convention can be compared (next test)."""
    X, Y = XY
    rho = canonical_correlations(X, Y)
    assert np.sum(rho > 1 - 1e-9) == 21
    assert 0.85 < cca_similarity(X, Y, "pwcca") < 0.96


def test_pwcca_convention():
    """neurosim's PWCCA: the side with fewer independent features carries the weights (X on ties),
    from its centred features. Morcos et al.'s code weights raw activations against directions with
    the neuron means added back, so it changes when a constant is added to a feature; neurosim does not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    Y = np.c_[X @ rng.normal(size=(4, 3)), rng.normal(size=(120, 3))] + 0.3 * rng.normal(size=(120, 6))
    value = cca_similarity(X, Y, "pwcca")
    assert abs(cca_similarity(Y, X, "pwcca") - value) < TOL  # the 4-feature side weighs, whatever the order
    assert abs(cca_similarity(X + 100.0, Y - 7.0, "pwcca") - value) < TOL  # centred features
    Z = rng.normal(size=(120, 4))
    assert abs(cca_similarity(X, Z, "pwcca") - cca_similarity(Z, X, "pwcca")) > 1e-3  # ties: the first argument
