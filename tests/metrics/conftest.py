"""Fixtures for the metric tests: small random data and the real recordings."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io


@pytest.fixture(scope="session")
def hatsopoulos_rates(m1_rates):
    """Condition-averaged M1 rates (the embedded copy), ndarray (condition 8, time 121, unit 141), spikes/s."""
    return np.ascontiguousarray(m1_rates.transpose("condition", "time", "unit").values)


@pytest.fixture(scope="session")
def kriegeskorte(data_root):
    folder = data_root / "kriegeskorte2008_92images_rdms"
    supp = scipy.io.loadmat(
        folder / "Kriegeskorte_Neuron2008_supplementalData.mat", squeeze_me=True, struct_as_record=False
    )
    brain = scipy.io.loadmat(folder / "92_brainRDMs.mat", squeeze_me=True, struct_as_record=False)
    fig1 = supp["RDMs_mIT_hIT_fig1"]
    return {
        "mIT": np.asarray(fig1[0].RDM, dtype=float),
        "hIT": np.asarray(fig1[1].RDM, dtype=float),
        "subjects": np.stack([np.asarray(r.RDM, dtype=float) for r in brain["RDMs"].ravel()]),
    }


@pytest.fixture
def rotation():
    """A function (rng, p) -> a random p×p orthogonal matrix."""

    def make(rng, p):
        Q, R = np.linalg.qr(rng.normal(size=(p, p)))
        return Q * np.sign(np.diag(R))

    return make
