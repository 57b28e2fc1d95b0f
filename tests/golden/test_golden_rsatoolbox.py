"""Golden values from rsatoolbox: its Bures RDM comparison is neurosim's Procrustes score.

rsatoolbox (installed with the test extra) compares RDMs with ``method="bures"``: it turns each RDM
into the double-centred kernel ``G = −½ H D H`` and returns the normalized Bures similarity
``tr((G₁^½ G₂ G₁^½)^½) / sqrt(tr G₁ tr G₂)``. For squared-Euclidean RDMs ``G = XcXcᵀ`` (up to the
factor 1/p rsatoolbox puts into its "euclidean" RDM, which the normalization removes), so the value
is neurosim's ``nbs`` = cos(procrustes_distance).

Published value: ``figures/metric_vs_repo.csv`` of nacloos/similarity-repository at commit
``bf84563e62606420eab7de3c007cd932457d22ad``, column ``rsa-rdm=squared_euclidean-compare=bures``,
row ``rsatoolbox``: 0.7227787181998796 (data: ``np.random.seed(0)``, two ``uniform(size=(30, 25))``).

Tolerance 1e-8: rsatoolbox takes square roots of eigenvalues of the rank-deficient 30 × 30 kernels
(rank 25, and rank ≤ 25 for the product), and the square root of a rounding-level eigenvalue
(~1e-16 relative) contributes ~1e-8; its published value and the installed version's differ from
neurosim (which agrees with netrep to 3e-16) by 6e-10 and 2e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

import neurosim

TOL_RSATOOLBOX = 1e-8


@pytest.fixture(scope="module")
def XY():
    np.random.seed(0)  # the similarity repository's data recipe
    X, Y = np.random.uniform(size=(30, 25)), np.random.uniform(size=(30, 25))
    np.random.seed(None)
    return X, Y


def test_published_rsatoolbox_bures_is_the_procrustes_score(XY):
    published = 0.7227787181998796
    assert abs(neurosim.make("nbs")(*XY) - published) < TOL_RSATOOLBOX
    assert abs(np.cos(neurosim.procrustes_distance(*XY)) - published) < TOL_RSATOOLBOX


def test_installed_rsatoolbox_bures_is_the_procrustes_score(XY):
    rsd = pytest.importorskip("rsatoolbox.data")
    rsr = pytest.importorskip("rsatoolbox.rdm")
    X, Y = XY
    rx = rsr.calc_rdm(rsd.Dataset(X), method="euclidean")  # squared distances / p
    ry = rsr.calc_rdm(rsd.Dataset(Y), method="euclidean")
    bures = float(rsr.compare(rx, ry, method="bures")[0, 0])
    assert abs(bures - neurosim.make("nbs")(X, Y)) < TOL_RSATOOLBOX
    # and on data with different feature counts and a nonlinear relation (few zero eigenvalues in
    # the 40 × 40 kernels, so rsatoolbox's rounding stays ~5e-9; with rank 6 of 40 it reaches 3e-8)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(40, 30))
    B = np.tanh(A @ rng.normal(size=(30, 35)) / 5) + 0.1 * rng.normal(size=(40, 35))
    ra, rb = (rsr.calc_rdm(rsd.Dataset(M), method="euclidean") for M in (A, B))
    bures = float(rsr.compare(ra, rb, method="bures")[0, 0])
    assert abs(bures - np.cos(neurosim.procrustes_distance(A, B))) < TOL_RSATOOLBOX
