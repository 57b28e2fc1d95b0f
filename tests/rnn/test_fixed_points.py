"""Fixed points of LeakyRNN (Sussillo & Barak 2013) on networks whose fixed points are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from neurosim.rnn.analysis import FixedPoints, find_fixed_points, fixed_point_speed
from neurosim.rnn.model import LeakyRNN


def _two_unit(w=2.0, activation="tanh"):
    m = LeakyRNN(1, 2, 1, activation=activation, seed=0)
    m.params["W_rec"][:] = np.diag([w, w])
    m.params["W_in"][:] = 0.0
    m.params["b"][:] = 0.0
    return m


def test_silent_retanh_network_has_the_linear_fixed_point():
    # u = W_in x + b < 0 everywhere: phi(v*) = 0, so v* = u, and J_F = (1 - a) I
    m = LeakyRNN(2, 6, 1, seed=3)
    m.params["b"][:] = -3.0
    x = np.array([0.4, -0.2])
    fp = find_fixed_points(m, x, n_starts=16, seed=1)
    u = m.params["W_in"] @ x + m.params["b"]
    assert len(fp) == 1 and fp.n_stable == 1
    np.testing.assert_allclose(fp.points[0], u, atol=1e-8)
    np.testing.assert_allclose(fp.eigenvalues[0], 1 - m.alpha, atol=1e-12)
    assert fp.speed[0] < 1e-20


def test_two_bistable_units_have_nine_fixed_points_with_known_stability():
    # decoupled v = 2 tanh(v): roots {-v_w, 0, v_w} per unit, so 3 x 3 = 9 fixed points;
    # slope at +-v_w is 2(1 - tanh^2 v_w) < 1 (stable), at 0 it is 2 (unstable)
    m = _two_unit()
    vw = brentq(lambda v: 2 * np.tanh(v) - v, 0.5, 3.0)
    fp = find_fixed_points(m, np.zeros(1), initial_states=np.random.default_rng(0).uniform(-3, 3, (400, 2)),
                           n_starts=200, seed=0)
    assert len(fp) == 9
    expected = {(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    got = {tuple(np.round(v / vw).astype(int)) for v in fp.points}
    assert got == expected
    np.testing.assert_allclose(np.sort(np.abs(fp.points).ravel()), np.sort(np.abs(
        [[i * vw, j * vw] for i, j in expected]).ravel()), atol=1e-6)
    a = m.alpha
    for v, ev, st in zip(fp.points, fp.eigenvalues, fp.stable):
        slopes = 2 * (1 - np.tanh(v) ** 2)
        np.testing.assert_allclose(np.sort(ev.real), np.sort((1 - a) + a * slopes), atol=1e-10)
        assert st == bool(np.all(np.abs(v) > 0.5))
    assert fp.n_stable == 4


def test_points_are_fixed_under_the_models_own_forward_pass():
    m = LeakyRNN(3, 20, 2, seed=5, g0=1.5)
    x = np.array([0.5, -0.3, 1.0])
    fp = find_fixed_points(m, x, n_starts=16, seed=0)
    assert isinstance(fp, FixedPoints) and len(fp) >= 1
    assert np.all(fp.speed <= 1e-10) and np.all(np.diff(fp.speed) >= 0)
    for v in fp.points:
        run = m.copy()
        run.params["v0"] = v.copy()
        v1 = run.run(np.broadcast_to(x, (1, 5, 3))).v[0]
        np.testing.assert_allclose(v1, np.broadcast_to(v, v1.shape), atol=1e-5)
    # the Jacobian's eigenvalues agree with a finite-difference Jacobian of the one-step map
    v = fp.points[0]
    W, u, a = m.params["W_rec"], m.params["W_in"] @ x + m.params["b"], m.alpha

    def F(z):
        return (1 - a) * z + a * (W @ np.maximum(np.tanh(z), 0) + u)

    eps = 1e-6
    J = np.stack([(F(v + eps * e) - F(v - eps * e)) / (2 * eps) for e in np.eye(20)], axis=1)
    ev = np.linalg.eigvals(J)
    np.testing.assert_allclose(np.sort(np.abs(ev)), np.sort(np.abs(fp.eigenvalues[0])), atol=1e-6)


def test_speed_and_gradient():
    m = _two_unit()
    v = np.array([0.3, -1.2])
    g = m.alpha * (2 * np.tanh(v) - v)
    assert fixed_point_speed(m, v, np.zeros(1)) == pytest.approx(0.5 * g @ g, rel=1e-14)
    assert fixed_point_speed(m, np.zeros((4, 2)), np.zeros(1)).shape == (4,)


def test_deterministic_and_sampled_from_given_states():
    m = LeakyRNN(3, 12, 2, seed=2, g0=1.4)
    x = np.ones(3)
    states = m.run(np.ones((4, 30, 3))).v
    a = find_fixed_points(m, x, initial_states=states, n_starts=8, seed=3)
    b = find_fixed_points(m, x, initial_states=states, n_starts=8, seed=3)
    np.testing.assert_array_equal(a.points, b.points)


def test_bad_input():
    m = _two_unit()
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        find_fixed_points(m, np.zeros(2))
    with pytest.raises(ValueError, match="initial_states must be voltages"):
        find_fixed_points(m, np.zeros(1), initial_states=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="n_starts"):
        find_fixed_points(m, np.zeros(1), n_starts=0)
    with pytest.raises(TypeError, match="LeakyRNN"):
        find_fixed_points(object(), np.zeros(1))
