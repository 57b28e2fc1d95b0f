"""Stochastic shape metrics: netrep's values (pinned), closed forms, an independent re-derivation.

Golden numbers: netrep (github.com/ahwillia/netrep) at commit
0186b8a77ec1ebaf541cc8f7173cb2556df8a8f0, its own source run on the inputs of its own tests
(tests/test_stochastic.py), which are regenerated here with the same random calls
(``RandomState(seed)``, ``scipy.stats.ortho_group``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import minimize_scalar
from scipy.stats import ortho_group

from neurosim import energy_shape_distance, gaussian_shape_distance, make, procrustes_distance
from neurosim.metrics.stochastic import TRIAL_INPUT, sq_bures_distance, trial_moments

ALPHAS = (0.0, 0.5, 1.0, 1.5, 2.0)

# netrep GaussianStochasticMetric(alpha).fit_score with its defaults (init="means", niter=1000,
# tol=1e-8), inputs of netrep's test_gaussian_lower_bound (m=10 conditions, n=4 units)
NETREP_LOWER_BOUND = {
    1: (11.095034909622406, 9.770105906995953, 8.216101420092222, 6.320341420412123, 2.6015689445049963),
    2: (11.209866294748693, 9.854902156003478, 8.276110185317002, 6.366850338053811, 2.845695090046713),
    3: (11.35492311247648, 10.02159992066676, 8.466013820474968, 6.584419858984044, 3.152820653385792),
}
# the same at alpha=1 run to convergence (niter=20000, tol=1e-15): seeds 1 and 2 reach the
# minimum neurosim finds; seed 3 stays in a local minimum 0.22 above it
NETREP_ALPHA1_CONVERGED = {1: 8.21610141356007, 2: 8.276110180161353, 3: 8.466013800961843}
# netrep EnergyStochasticMetric().fit_score (defaults niter=100, tol=1e-6) and run to convergence
# (niter=5000, tol=1e-15) on netrep's test_energy_distance construction with m=4, n=4, 30 trials,
# noise 0.1 on X and 0.4 on Y (netrep's own noise levels give 0 after the clip)
NETREP_ENERGY = {
    1: (0.326737640707103, 0.3267375929806194),
    2: (0.3085215364632582, 0.3085214646694867),
    3: (0.3279150887602278, 0.3279150732502655),
}


def _rand_orth(n, rs):
    return ortho_group.rvs(n, random_state=rs)  # netrep.utils.rand_orth(n, n, rs)


def _lower_bound_inputs(seed, m=10, n=4):
    rs = np.random.RandomState(seed)
    Us = [_rand_orth(n, rs) for _ in range(m)]
    Vs = [_rand_orth(n, rs) for _ in range(m)]
    mean_X, mean_Y = rs.randn(m, n), rs.randn(m, n)
    covs_X = np.array([u @ np.diag(np.logspace(-2, 2, n)) @ u.T for u in Us])
    covs_Y = np.array([v @ np.diag(np.logspace(0, 1, n)) @ v.T for v in Vs])
    return (mean_X, covs_X), (mean_Y, covs_Y)


def _energy_inputs(seed, m=4, n=4, p=30):
    rs = np.random.RandomState(seed)
    Q = _rand_orth(n, rs)
    xm = rs.randn(m, n)
    X = xm[:, None, :] + 0.1 * rs.randn(m, p, n)
    Y = (xm @ Q)[:, None, :] + 0.4 * rs.randn(m, p, n)
    return X, Y


# --------------------------------------------------------------------------- independent reference
def _ref_bures2(A, B):
    """Bures² from its definition with scipy's matrix square root."""
    rA = scipy.linalg.sqrtm(A).real
    return float(np.trace(A) + np.trace(B) - 2.0 * np.trace(scipy.linalg.sqrtm(rA @ B @ rA).real))


def _ref_gaussian_at(T, X, Y, alpha):
    (mx, cx), (my, cy) = X, Y
    terms = [alpha * np.sum((a - b @ T) ** 2) + (2 - alpha) * _ref_bures2(A, T.T @ B @ T)
             for a, A, b, B in zip(mx, cx, my, cy)]
    return float(np.mean(terms))


def _o2(theta, reflect):
    c, s = np.cos(theta), np.sin(theta)
    R = np.array([[c, -s], [s, c]])
    return R @ np.diag([1.0, -1.0]) if reflect else R


def _min_over_o2(f):
    """Global minimum of f(T) over O(2): a 180-point grid on both components, then refined."""
    best = np.inf
    grid = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    for reflect in (False, True):
        vals = [f(_o2(t, reflect)) for t in grid]
        t0 = grid[int(np.argmin(vals))]
        step = grid[1] - grid[0]
        res = minimize_scalar(lambda t: f(_o2(t, reflect)), bounds=(t0 - step, t0 + step), method="bounded",
                              options={"xatol": 1e-12})
        best = min(best, res.fun, min(vals))
    return best


def _ref_energy_at(T, X, Y):
    """netrep's estimator with plain loops over trial pairs."""
    C, r, _ = X.shape
    d_xy = d_xx = d_yy = 0.0
    for c in range(C):
        d_xy += np.mean([np.linalg.norm(X[c, j] - Y[c, k] @ T) for j in range(r) for k in range(Y.shape[1])])
        d_xx += np.mean([np.linalg.norm(X[c, j] - X[c, k]) for j in range(r) for k in range(j + 1, r)])
        d_yy += np.mean([np.linalg.norm(Y[c, j] - Y[c, k]) for j in range(Y.shape[1]) for k in range(j + 1, Y.shape[1])])
    return d_xy / C - 0.5 * (d_xx / C + d_yy / C)


# --------------------------------------------------------------------------- netrep agreement
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gaussian_never_above_netrep_and_equal_where_it_converges(seed):
    X, Y = _lower_bound_inputs(seed)
    ours = [gaussian_shape_distance(X, Y, a) for a in ALPHAS]
    for a, d, ref in zip(ALPHAS, ours, NETREP_LOWER_BOUND[seed]):
        assert d <= ref + 1e-12, (a, d, ref)
    assert ours[-1] == pytest.approx(NETREP_LOWER_BOUND[seed][-1], abs=1e-12)  # alpha=2: closed form both
    if seed in (1, 2):
        assert abs(ours[2] - NETREP_ALPHA1_CONVERGED[seed]) <= 1e-8
    else:
        assert ours[2] < NETREP_ALPHA1_CONVERGED[seed] - 0.2
    # netrep's lower-bound test: d(α)² >= (1 - α/2) d(0)² + (α/2) d(2)²
    d = np.array(ours)
    bound = (1 - np.array(ALPHAS) / 2) * d[0] ** 2 + np.array(ALPHAS) / 2 * d[-1] ** 2
    assert np.all(d**2 >= bound - 1e-10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gaussian_netrep_zero_cases(seed):
    # netrep's test_gaussian_identity_covs and test_gaussian_zero_means: distance 0
    rs = np.random.RandomState(seed)
    m, n = 10, 4
    Q = _rand_orth(n, rs)
    mean_X = rs.randn(m, n)
    eye = np.array([np.eye(n)] * m)
    assert gaussian_shape_distance((mean_X, eye), (mean_X @ Q, eye)) <= 1e-8
    rs = np.random.RandomState(seed)
    Q = _rand_orth(n, rs)
    Us = [_rand_orth(n, np.random.RandomState(2)) for _ in range(m)]
    Ps = np.array([u @ np.diag(np.logspace(-1, 1, n)) @ u.T for u in Us])
    zeros = np.zeros((m, n))
    assert gaussian_shape_distance((zeros, Ps), (zeros, np.array([Q.T @ p @ Q for p in Ps]))) <= 1e-8


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_energy_never_above_netrep_and_equal_at_convergence(seed):
    X, Y = _energy_inputs(seed)
    d = energy_shape_distance(X, Y)
    default, converged = NETREP_ENERGY[seed]
    assert d <= default + 1e-12
    assert abs(d - converged) <= 1e-8


# --------------------------------------------------------------------------- re-derivation
@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0, 1.6])
def test_gaussian_equals_global_minimum_of_the_definition(alpha):
    rng = np.random.default_rng(11)
    C = 4
    mx, my = rng.normal(size=(C, 2)), rng.normal(size=(C, 2))
    A = rng.normal(size=(C, 2, 2))
    B = rng.normal(size=(C, 2, 2))
    cx = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(2)
    cy = B @ B.transpose(0, 2, 1) + 0.1 * np.eye(2)
    ref = _min_over_o2(lambda T: _ref_gaussian_at(T, (mx, cx), (my, cy), alpha))
    assert gaussian_shape_distance((mx, cx), (my, cy), alpha) == pytest.approx(np.sqrt(ref), abs=1e-8)


def test_energy_equals_global_minimum_of_the_estimator():
    rng = np.random.default_rng(5)
    C, n = 3, 2
    means = 2.0 * rng.normal(size=(C, 1, n))
    X = means + 0.3 * rng.normal(size=(C, 8, n))
    Y = (means + rng.normal(size=(C, 1, n))) @ _o2(0.7, False) + 0.6 * rng.normal(size=(C, 6, n))
    ref = _min_over_o2(lambda T: _ref_energy_at(T, X, Y))
    assert ref > 0.1
    assert energy_shape_distance(X, Y) == pytest.approx(np.sqrt(ref), abs=1e-8)


# --------------------------------------------------------------------------- closed forms
def test_alpha_two_is_procrustes_on_the_means_exactly():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 9, 3)), rng.normal(size=(7, 9, 3)) + 1.0
    mx, my = X.mean(1), Y.mean(1)
    proc = procrustes_distance(mx, my, kind="euclidean", center=False)
    assert gaussian_shape_distance(X, Y, 2.0) == pytest.approx(np.sqrt(2 / 7) * proc, rel=1e-13)
    assert gaussian_shape_distance(X, Y, 2, center=True) == pytest.approx(
        np.sqrt(2 / 7) * procrustes_distance(mx, my, kind="euclidean"), rel=1e-13)


def test_isotropic_covariances_closed_form():
    rng = np.random.default_rng(1)
    C, n = 5, 3
    mx, my = rng.normal(size=(C, n)), rng.normal(size=(C, n))
    sx, sy = rng.uniform(0.5, 2, C), rng.uniform(0.5, 2, C)
    cx, cy = sx[:, None, None] ** 2 * np.eye(n), sy[:, None, None] ** 2 * np.eye(n)
    proc2 = procrustes_distance(mx, my, kind="euclidean", center=False) ** 2
    expected = np.sqrt((0.8 * proc2 + 1.2 * n * np.sum((sx - sy) ** 2)) / C)
    assert gaussian_shape_distance((mx, cx), (my, cy), 0.8) == pytest.approx(expected, rel=1e-13)


def test_one_condition_zero_means_is_the_sorted_eigenvalue_formula():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    cx, cy = A @ A.T, B @ B.T
    lx, ly = np.linalg.eigvalsh(cx), np.linalg.eigvalsh(cy)  # both ascending
    expected = np.sqrt(1.3 * np.sum((np.sqrt(lx) - np.sqrt(ly)) ** 2))
    got = gaussian_shape_distance((np.zeros((1, 4)), cx[None]), (np.zeros((1, 4)), cy[None]), 0.7)
    assert got == pytest.approx(expected, abs=1e-8)


def test_sq_bures_distance_matches_the_definition():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    A, B = A @ A.T, B @ B.T
    assert sq_bures_distance(A, B) == pytest.approx(_ref_bures2(A, B), rel=1e-10)
    assert sq_bures_distance(A, A) == pytest.approx(0.0, abs=1e-10)


# --------------------------------------------------------------------------- properties
def test_samples_equal_their_moments_and_properties():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 12, 3)) + rng.normal(size=(6, 1, 3))
    Y = 1.5 * rng.normal(size=(6, 10, 3)) + rng.normal(size=(6, 1, 3))
    Q = _rand_orth(3, np.random.RandomState(0))
    d = gaussian_shape_distance(X, Y)
    assert d == gaussian_shape_distance(trial_moments(X), trial_moments(Y))
    assert gaussian_shape_distance(Y, X) == pytest.approx(d, abs=1e-8)
    assert gaussian_shape_distance(X, Y @ Q) == pytest.approx(d, abs=1e-8)
    # unequal widths: zero-padding the narrower side
    Y2 = Y[:, :, :2]
    padded = np.concatenate([Y2, np.zeros(Y2.shape[:2] + (1,))], axis=2)
    assert gaussian_shape_distance(X, Y2) == pytest.approx(gaussian_shape_distance(X, padded), abs=1e-10)
    assert energy_shape_distance(X, Y2) == pytest.approx(energy_shape_distance(X, padded), abs=1e-10)
    # options: centering removes translations, normalizing removes scale
    dc = gaussian_shape_distance(X, Y, center=True)
    assert gaussian_shape_distance(X + 5.0, Y - 2.0, center=True) == pytest.approx(dc, abs=1e-8)
    dn = gaussian_shape_distance(X, Y, normalize=True)
    assert gaussian_shape_distance(3.0 * X, Y, normalize=True) == pytest.approx(dn, abs=1e-8)
    en = energy_shape_distance(X, Y, center=True, normalize=True)
    assert energy_shape_distance(4.0 * X + 1.0, Y, center=True, normalize=True) == pytest.approx(en, abs=1e-8)
    assert energy_shape_distance(Y, X) == pytest.approx(energy_shape_distance(X, Y), abs=1e-8)


def test_nearly_singular_covariances_give_no_nan():
    # 3 trials in 6 units: rank-2 covariances whose computed eigenvalues include tiny negatives,
    # where netrep's search takes sqrt of them (NaN) and its fit fails
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3, 6)), rng.normal(size=(5, 3, 6))
    _, cx = trial_moments(X)
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.sqrt(np.linalg.eigvalsh(cx))).any()  # what netrep's search does
    for alpha in (0.0, 1.0):
        d = gaussian_shape_distance(X, Y, alpha)
        assert np.isfinite(d) and d > 0
    # an eigenvalue of -1e-18 is rounding: treated as 0
    V = _rand_orth(3, np.random.RandomState(1))
    near = V @ np.diag([-1e-18, 1.0, 2.0]) @ V.T
    exact = V @ np.diag([0.0, 1.0, 2.0]) @ V.T
    m = np.zeros((1, 3))
    ref = np.eye(3)[None]
    assert gaussian_shape_distance((m, near[None]), (m, ref)) == pytest.approx(
        gaussian_shape_distance((m, exact[None]), (m, ref)), abs=1e-12)


# --------------------------------------------------------------------------- registry and errors
def test_registry_ids():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3))
    for alpha in ALPHAS:
        m = make(f"gaussian-shape-distance=alpha={alpha:g}")
        assert m.input == TRIAL_INPUT and m.direction == "distance"
        assert m(X, Y) == gaussian_shape_distance(X, Y, alpha)
    assert make("gaussian-shape-distance=alpha=0.25")(X, Y) == gaussian_shape_distance(X, Y, 0.25)
    m = make("energy-shape-distance")
    assert m.input == TRIAL_INPUT and m(X, Y) == energy_shape_distance(X, Y)
    assert gaussian_shape_distance.input == energy_shape_distance.input == TRIAL_INPUT
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 2\]"):
        make("gaussian-shape-distance=alpha=2.5")


def test_bad_input_names_the_argument():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4, 5, 3))
    with pytest.raises(ValueError, match="Y has 1 trial per condition"):
        gaussian_shape_distance(X, X[:, :1])
    with pytest.raises(ValueError, match="X has 1 trial per condition"):
        energy_shape_distance(X[:, :1], X)
    bad = X.copy()
    bad[2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="Y contains 1 NaN/inf .*condition 2, trial 3"):
        gaussian_shape_distance(X, bad)
    with pytest.raises(ValueError, match="X and Y must describe the same conditions: X has 4 and Y has 3"):
        energy_shape_distance(X, X[:3])
    m, c = trial_moments(X)
    c_asym = c.copy()
    c_asym[1, 0, 1] += 1.0
    with pytest.raises(ValueError, match=r"Y\[1\] \(covariances\) must be symmetric; condition 1"):
        gaussian_shape_distance((m, c), (m, c_asym))
    with pytest.raises(ValueError, match=r"X \(covariances\) must be positive semi-definite; condition 0"):
        gaussian_shape_distance((m, -c), (m, c))
    with pytest.raises(ValueError, match=r"X\[1\] \(covariances\) must have shape"):
        gaussian_shape_distance((m, c[:, :2, :2]), (m, c))
    with pytest.raises(ValueError, match="alpha must lie in"):
        gaussian_shape_distance(X, X, 3.0)
    with pytest.raises(TypeError, match="center must be True or False"):
        gaussian_shape_distance(X, X, center="yes")
    with pytest.raises(TypeError, match="energy distance needs single trials"):
        energy_shape_distance((m, c), X)
    with pytest.raises(ValueError, match="must be 3-D"):
        energy_shape_distance(X.mean(1), X)
