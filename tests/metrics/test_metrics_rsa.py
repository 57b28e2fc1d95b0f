"""RDMs and comparators against rsatoolbox 0.3 and scipy, plus the 92-image real-data RDMs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.distance import pdist, squareform

from neurosim.metrics import compare_rdms, rdm, rsa

rsatoolbox = pytest.importorskip("rsatoolbox")  # a declared test dependency; present in CI
from rsatoolbox.data import Dataset  # noqa: E402
from rsatoolbox.rdm import RDMs, calc_rdm  # noqa: E402
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402

RSA_TOL = 1e-8


def rsa_rdms(vectors):
    return RDMs(np.atleast_2d(vectors))


@pytest.fixture
def patterns(rng):
    return rng.normal(size=(12, 9)) + rng.normal(size=(1, 9))


def test_rdms_match_scipy(patterns):
    X = patterns
    assert np.allclose(rdm(X, method="correlation"), pdist(X, "correlation"), atol=1e-12)
    assert np.allclose(rdm(X, method="euclidean"), pdist(X, "euclidean"), atol=1e-10)
    assert np.allclose(rdm(X, method="sqeuclidean"), pdist(X, "sqeuclidean"), atol=1e-10)
    assert np.allclose(rdm(X, method="cosine"), pdist(X, "cosine"), atol=1e-12)


def test_rdms_match_rsatoolbox(patterns):
    X = patterns
    p = X.shape[1]
    ds = Dataset(X)
    ref_corr = calc_rdm(ds, method="correlation").get_vectors()[0]
    ref_euc = calc_rdm(ds, method="euclidean").get_vectors()[0]
    assert np.allclose(rdm(X, method="correlation"), ref_corr, atol=RSA_TOL, rtol=0)
    # rsatoolbox "euclidean" = squared euclidean / n_channel
    assert np.allclose(rdm(X, method="sqeuclidean") / p, ref_euc, atol=RSA_TOL, rtol=0)
    assert np.allclose(rdm(X, method="euclidean") ** 2 / p, ref_euc, atol=RSA_TOL, rtol=0)


def _trial_data(rng, T=4, K=6, p=5):
    signal = rng.normal(size=(1, K, p))
    return signal + 0.7 * rng.normal(size=(T, K, p))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # inside rsatoolbox
@pytest.mark.parametrize("with_noise", [False, True])
def test_crossnobis_matches_rsatoolbox(rng, with_noise):
    data = _trial_data(rng)
    T, K, p = data.shape
    noise = None
    if with_noise:
        A = rng.normal(size=(p, p))
        noise = np.linalg.inv(A @ A.T / p + np.eye(p))
    flat = data.reshape(T * K, p)
    conds = np.tile(np.arange(K), T)
    trials = np.repeat(np.arange(T), K)
    ds = Dataset(flat, obs_descriptors={"conds": conds, "trials": trials})
    ref = calc_rdm(ds, method="crossnobis", descriptor="conds", cv_descriptor="trials", noise=noise)
    ref = ref.get_vectors()[0]
    ours = rdm(data, method="crossnobis", noise=noise)
    assert np.allclose(ours, ref, atol=RSA_TOL, rtol=0)
    # the same through labels, rows shuffled
    perm = rng.permutation(T * K)
    ours2 = rdm(flat[perm], method="crossnobis", conditions=conds[perm], trials=trials[perm], noise=noise)
    assert np.allclose(ours2, ref, atol=RSA_TOL, rtol=0)


def test_crossnobis_is_unbiased_for_identical_conditions(rng):
    """Pure noise: true distances are 0; crossnobis averages to ~0 (euclidean on means is biased > 0)."""
    data = rng.normal(size=(10, 8, 100))
    d = rdm(data, method="crossnobis")
    biased = rdm(data.mean(0), method="sqeuclidean") / 100
    assert abs(biased.mean() - 2 / 10) < 0.03  # E‖x̄_i − x̄_j‖²/p = 2σ²/T
    assert abs(d.mean()) < 0.1 * biased.mean()
    assert np.any(d < 0)


def test_crossnobis_errors(rng):
    with pytest.raises(ValueError, match="repeated measurements"):
        rdm(rng.normal(size=(5, 3)), method="crossnobis")
    with pytest.raises(ValueError, match="at least 2"):
        rdm(rng.normal(size=(1, 5, 3)), method="crossnobis")
    with pytest.raises(ValueError, match="no observation"):
        rdm(rng.normal(size=(5, 2)), method="crossnobis", conditions=[0, 1, 2, 0, 1], trials=[0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="precision"):
        rdm(rng.normal(size=(3, 4, 2)), method="crossnobis", noise=np.eye(3))


RSATOOLBOX_NAMES = {
    "spearman": "spearman",
    "pearson": "corr",
    "cosine": "cosine",
    "kendall_tau_a": "tau-a",
    "spearman_rho_a": "rho-a",
    "whitened_cosine": "cosine_cov",
}


@pytest.mark.parametrize("method", sorted(RSATOOLBOX_NAMES))
def test_comparators_match_rsatoolbox_all_pairs(rng, method):
    K = 10
    m = K * (K - 1) // 2
    A = rng.random(size=(3, m))
    B = np.vstack([rng.random(size=m), np.round(rng.random(size=m) * 3)])  # second one has many ties
    ref = rsa_compare(rsa_rdms(A), rsa_rdms(B), method=RSATOOLBOX_NAMES[method])
    ours = compare_rdms(A, B, method=method)
    assert ours.shape == (3, 2)
    assert np.allclose(ours, ref, atol=RSA_TOL, rtol=0)
    single = compare_rdms(A[0], B[1], method=method)
    assert isinstance(single, float) and abs(single - ref[0, 1]) < RSA_TOL


def test_compare_within_stack_and_square_input(rng):
    V = rng.random(size=(4, 15))
    M = compare_rdms(V, method="pearson")
    assert M.shape == (4, 4) and np.allclose(M, M.T) and np.allclose(np.diag(M), 1)
    squares = np.stack([squareform(v) for v in V])
    assert np.allclose(compare_rdms(squares, method="pearson"), M)
    assert abs(compare_rdms(squares[0], V[1], method="spearman") - scipy.stats.spearmanr(V[0], V[1])[0]) < 1e-12


def test_rsa_invariances_and_value(rng, patterns):
    X = patterns
    Y = np.tanh(X @ rng.normal(size=(9, 7)))
    expected = scipy.stats.spearmanr(pdist(X, "correlation"), pdist(Y, "correlation"))[0]
    assert abs(rsa(X, Y) - expected) < 1e-12
    # correlation RDMs ignore per-condition offset and gain
    gain = rng.uniform(0.5, 2, size=(12, 1))
    assert abs(rsa(X, Y * gain + gain) - rsa(X, Y)) < 1e-12
    assert abs(rsa(X, Y, rdm_method="euclidean", compare="pearson")
               - np.corrcoef(pdist(X), pdist(Y))[0, 1]) < 1e-12


def test_rsa_errors(rng):
    X = rng.normal(size=(6, 3))
    with pytest.raises(ValueError, match="did you mean 'spearman'"):
        compare_rdms(pdist(X), pdist(X), method="spearmn")
    with pytest.raises(ValueError, match="did you mean 'correlation'"):
        rdm(X, method="corelation")
    with pytest.raises(ValueError, match="constant"):
        compare_rdms(np.ones(15), pdist(X))
    with pytest.raises(ValueError, match="same conditions"):
        compare_rdms(pdist(X), pdist(X[:5]))
    with pytest.raises(ValueError, match="condensed RDM length"):
        compare_rdms(np.arange(7.0), np.arange(7.0))
    with pytest.raises(ValueError, match="zero norm"):
        rdm(np.r_[X, np.full((1, 3), 2.0)], method="correlation")
    with pytest.raises(ValueError, match="same conditions"):
        rsa(X, X[:5])


# ------------------------------------------------------------------ real data
@pytest.mark.data
def test_92_images_monkey_vs_human_IT(kriegeskorte):
    mit, hit = kriegeskorte["mIT"], kriegeskorte["hIT"]
    assert mit.shape == (4186,)
    rho = compare_rdms(mit, hit, method="spearman")
    assert round(rho, 3) == 0.439  # folder README
    assert abs(rho - scipy.stats.spearmanr(mit, hit)[0]) < 1e-12
    for method, name in RSATOOLBOX_NAMES.items():
        if method == "kendall_tau_a":
            continue  # O(m²) in rsatoolbox; covered on small RDMs above
        ref = rsa_compare(rsa_rdms(mit), rsa_rdms(hit), method=name)[0, 0]
        assert abs(compare_rdms(mit, hit, method=method) - ref) < RSA_TOL


@pytest.mark.data
def test_92_images_subject_rdms_all_pairs(kriegeskorte):
    subj = kriegeskorte["subjects"]  # (8, 92, 92) float32 squares
    assert subj.shape == (8, 92, 92)
    M = compare_rdms(subj, method="spearman")
    vecs = np.stack([squareform(s.astype(float), checks=False) for s in subj])
    ref = rsa_compare(rsa_rdms(vecs), rsa_rdms(vecs), method="spearman")
    assert np.allclose(M, ref, atol=RSA_TOL)
    # the subject-average RDM is rank-identical to the supplemental human-IT RDM (folder README)
    assert abs(compare_rdms(vecs.mean(0), kriegeskorte["hIT"]) - 1.0) < 1e-12
