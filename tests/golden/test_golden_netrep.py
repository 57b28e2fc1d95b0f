"""Golden values from netrep (Williams et al. 2021): pairwise shape distances, train and test.

Source: https://github.com/ahwillia/netrep at commit ``0186b8a77ec1ebaf541cc8f7173cb2556df8a8f0``.

* ``examples/pairwise_distances.ipynb`` (stored outputs): ``rng = np.random.default_rng(0)``, 64
  networks of 1024 × 64 standard-normal "train" activations, then 64 "test" ones;
  ``LinearMetric()`` (alpha = 1: Procrustes; centred columns; angular score in radians);
  ``D_train, D_test = metric.pairwise_distances(train, test)``; printed sums
  ``D_train.sum() = 5478.173387196459`` and ``D_test.sum() = 6333.232718084371``. ``D_test`` scores
  the test data under the rotation and means fitted on the train data (cross-validated).
* The same recipe with 8 networks, run with netrep's own source at that commit
  (``LinearMetric(alpha=a).pairwise_distances(train, test, processes=1)``): the sums below.

neurosim's counterparts: ``neurosim.pairwise(..., metric="shape", alpha=a)`` for ``D_train``, and
``ShapeMetric(alpha=a).fit(train_i, train_j).score(test_i, test_j)`` for ``D_test``.
Tolerance: the sums of 4032 (or 56) distances in radians agree to rounding (observed ≤ 4e-15
relative); 1e-10 relative fails on any difference of convention (centring, whitening, padding).
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import neurosim
from neurosim.metrics import ShapeMetric


def _example_data(n_networks):
    rng = np.random.default_rng(0)
    train = [rng.standard_normal((1024, 64)) for _ in range(n_networks)]
    test = [rng.standard_normal((1024, 64)) for _ in range(n_networks)]
    return train, test


def _test_sum(train, test, alpha):
    k = len(train)
    return 2 * sum(ShapeMetric(alpha=alpha).fit(train[i], train[j]).score(test[i], test[j])
                   for i in range(k) for j in range(i + 1, k))


def test_published_pairwise_example_train_distances():
    """The notebook's 64-network D_train sum (2016 pairs through neurosim.pairwise's cached path)."""
    train, _ = _example_data(64)
    with threadpool_limits(1):  # 2016 small products: extra BLAS threads only add contention
        D = neurosim.pairwise(train, metric="procrustes")
    assert D.shape == (64, 64)
    assert float(D.values.sum()) == pytest.approx(5478.173387196459, rel=1e-10)


# (alpha, D_train.sum(), D_test.sum()) from netrep's source on the 8-network version of the example
EIGHT_NETWORKS = [
    (1.0, 76.06953198512554, 87.92333247738429),
    (0.0, 75.91883112877677, 87.91845690599826),
    (0.5, 76.06046714633106, 87.92318067453817),
]


@pytest.mark.parametrize("alpha, train_sum, test_sum", EIGHT_NETWORKS, ids=["procrustes", "cca", "alpha=0.5"])
def test_netrep_train_and_test_distances(alpha, train_sum, test_sum):
    train, test = _example_data(8)
    with threadpool_limits(1):
        D = neurosim.pairwise(train, metric="shape", alpha=alpha)
        assert float(D.values.sum()) == pytest.approx(train_sum, rel=1e-10)
        assert _test_sum(train, test, alpha) == pytest.approx(test_sum, rel=1e-10)
