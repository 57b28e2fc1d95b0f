"""Learning rules against independent references: finite differences, the detach definition,
the exact learning signal, and truncation."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim.rnn.model import Batch, phi
from neurosim.rnn.rules import bptt, eprop


def _tiny(activation="tanh", loss="mse", seed=0, l2=0.01, dale=False, connectivity=1.0, T=9, B=3,
          noise_std=0.0):
    I, N, O = 3, 7, 2 if loss == "mse" else 3
    m = R.LeakyRNN(I, N, O, tau=4.0, activation=activation, seed=seed, activity_l2=l2, dale=dale,
                   connectivity=connectivity, noise_std=noise_std)
    rng = np.random.default_rng(seed + 100)
    # non-trivial biases / initial state / readout bias so that every parameter matters
    m.params["b"] = rng.normal(0, 0.3, N) + (0.4 if activation != "tanh" else 0.0)
    m.params["v0"] = rng.normal(0, 0.5, N) + (0.4 if activation != "tanh" else 0.0)
    m.params["b_out"] = rng.normal(0, 0.3, O)
    x = rng.normal(size=(B, T, I))
    if loss == "mse":
        y = rng.normal(size=(B, T, O))
        mask = (rng.random((B, T, O)) < 0.8) * rng.uniform(0.5, 2.0, (B, T, O))
    else:
        y = np.eye(O)[rng.integers(0, O, size=(B, T))]
        mask = (rng.random((B, T)) < 0.8) * 1.0
    mask[0, 0] = 1.0
    noise = rng.normal(size=(B, T, N)) if noise_std > 0 else None
    return m, Batch(x, y, mask, loss=loss), noise


def _reference_loss(model, batch, params, *, noise=None, detach=None, r_shift=None):
    """Plain per-sample, per-step loop written from the equations (no shared code with the rules).

    detach: rates (B, T+1, N) used in place of r_{t-1} in the recurrent input (index 0 = r_{-1}).
    r_shift: (B, T, N) added to r_t (to differentiate with respect to r_t).
    """
    a = model.dt / model.tau
    W = model.effective_recurrent(params["W_rec"])
    B, T, _ = batch.inputs.shape
    N = model.n_rec
    total, msum, pen = 0.0, 0.0, 0.0
    rates = np.zeros((B, T + 1, N))
    for bi in range(B):
        v = params["v0"].copy()
        r = phi(v, model.activation)
        rates[bi, 0] = r
        for t in range(T):
            r_in = detach[bi, t] if detach is not None else r
            v = (1 - a) * v + a * (W @ r_in + params["W_in"] @ batch.inputs[bi, t] + params["b"])
            if noise is not None:
                v = v + np.sqrt(2 * a) * model.noise_std * noise[bi, t]
            r = phi(v, model.activation)
            if r_shift is not None:
                r = r + r_shift[bi, t]
            rates[bi, t + 1] = r
            y = params["W_out"] @ r + params["b_out"]
            pen += np.sum(r * r)
            if batch.loss == "mse":
                m = batch.mask_full[bi, t]
                total += np.sum(m * (y - batch.targets[bi, t]) ** 2)
                msum += m.sum()
            else:
                m = batch.mask[bi, t]
                logp = y - np.log(np.sum(np.exp(y)))
                total += -m * np.sum(batch.targets[bi, t] * logp)
                msum += m
    return total / msum + model.activity_l2 * pen / (B * T * N), rates


def _fd(fun, params, eps=1e-6):
    out = {}
    for k, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            pp = {kk: vv.copy() for kk, vv in params.items()}
            pp[k][idx] += eps
            fp = fun(pp)
            pp[k][idx] -= 2 * eps
            fm = fun(pp)
            g[idx] = (fp - fm) / (2 * eps)
        out[k] = g
    return out


def _relerr(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


CASES = [
    dict(activation="tanh", loss="mse"),
    dict(activation="retanh", loss="mse"),
    dict(activation="relu", loss="ce"),
    dict(activation="retanh", loss="ce", dale=True, connectivity=0.6),
    dict(activation="tanh", loss="mse", noise_std=0.3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_bptt_matches_central_finite_differences(case):
    m, batch, noise = _tiny(**case)
    E, g = bptt(m, batch, noise=noise)
    ref = lambda p: _reference_loss(m, batch, p, noise=noise)[0]
    assert E == pytest.approx(ref(m.params), rel=1e-12)
    assert R.loss(m, batch, noise=noise) == pytest.approx(E, rel=1e-13)
    fd = _fd(ref, m.params)
    for k in m.params:
        assert _relerr(g[k], fd[k]) <= 1e-6, (k, _relerr(g[k], fd[k]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_eprop_equals_detach_definition(case):
    """e-prop == exact gradient of the loss with r_{t-1} frozen in the recurrent input (by FD)."""
    m, batch, noise = _tiny(**case)
    _, rates = _reference_loss(m, batch, m.params, noise=noise)
    ref = lambda p: _reference_loss(m, batch, p, noise=noise, detach=rates)[0]
    fd = _fd(ref, m.params)
    E, g = eprop(m, batch, noise=noise, chunk=4)
    assert E == pytest.approx(R.loss(m, batch, noise=noise), rel=1e-12)
    for k in m.params:
        assert _relerr(g[k], fd[k]) <= 1e-6, (k, _relerr(g[k], fd[k]))
    # the detached function really differs from the loss for the recurrent weights
    _, gb = bptt(m, batch, noise=noise)
    assert _relerr(g["W_rec"], gb["W_rec"]) > 1e-3


def test_exact_learning_signal_is_total_derivative_and_eprop_then_equals_bptt():
    m, batch, _ = _tiny(activation="retanh", l2=0.05)
    E, g, rho, rho_init = bptt(m, batch, return_signal=True)
    # rho really is dE/dr_t: finite differences of the reference loss wrt an additive shift of r_t
    B, T, N = rho.shape
    fd = np.zeros_like(rho)
    eps = 1e-6
    for idx in np.ndindex(rho.shape):
        s = np.zeros_like(rho)
        s[idx] = eps
        fd[idx] = (_reference_loss(m, batch, m.params, r_shift=s)[0]
                   - _reference_loss(m, batch, m.params, r_shift=-s)[0]) / (2 * eps)
    assert _relerr(rho, fd) < 1e-7
    # e-prop's traces fed with the exact learning signal reproduce BPTT to rounding
    for chunk in (1, 4, 32):
        _, ge = eprop(m, batch, learning_signal=rho, learning_signal_init=rho_init, chunk=chunk)
        for k in g:
            assert _relerr(ge[k], g[k]) <= 1e-10, (k, chunk)


def test_exact_signal_equals_bptt_at_realistic_size(rng):
    m = R.LeakyRNN(4, 60, 3, seed=1, activity_l2=1e-3)
    batch = Batch(rng.normal(size=(8, 80, 4)), rng.normal(size=(8, 80, 3)), np.ones((8, 80)))
    E, g, rho, rho_init = bptt(m, batch, return_signal=True)
    _, ge = eprop(m, batch, learning_signal=rho, learning_signal_init=rho_init)
    for k in g:
        assert _relerr(ge[k], g[k]) <= 1e-10


def test_truncated_bptt():
    m, batch, _ = _tiny(T=12)
    _, g = bptt(m, batch)
    for K in (12, 13, 100):
        _, gt = bptt(m, batch, window=K)
        for k in g:
            np.testing.assert_array_equal(gt[k], g[k])
    # K < T: equals the exact gradient of a loss whose state is detached at window starts
    K = 5
    _, gK = R.value_and_gradients(m, batch, "tbptt", window=K)
    _, rates = _reference_loss(m, batch, m.params)

    def trunc_loss(p):
        # state entering t = 5, 10 is a constant: rerun the reference with v, r frozen there
        a = m.dt / m.tau
        W = m.effective_recurrent(p["W_rec"])
        Bn, T, _ = batch.inputs.shape
        tot, msum, pen = 0.0, 0.0, 0.0
        ref_v = m.run(batch.inputs).v
        for bi in range(Bn):
            v = p["v0"].copy()
            r = phi(v, m.activation)
            for t in range(T):
                if t > 0 and t % K == 0:
                    v, r = ref_v[bi, t - 1].copy(), rates[bi, t].copy()
                v = (1 - a) * v + a * (W @ r + p["W_in"] @ batch.inputs[bi, t] + p["b"])
                r = phi(v, m.activation)
                y = p["W_out"] @ r + p["b_out"]
                mm = batch.mask_full[bi, t]
                tot += np.sum(mm * (y - batch.targets[bi, t]) ** 2)
                msum += mm.sum()
                pen += np.sum(r * r)
        return tot / msum + m.activity_l2 * pen / (Bn * T * m.n_rec)

    fd = _fd(trunc_loss, m.params)
    for k in m.params:
        assert _relerr(gK[k], fd[k]) <= 1e-6, k
    assert _relerr(gK["W_rec"], g["W_rec"]) > 1e-4


def test_random_feedback_rule_uses_its_matrix():
    m, batch, _ = _tiny()
    fb = R.random_feedback(m.n_out, m.n_rec, seed=5)
    g1 = R.gradients(m, batch, "eprop-random", feedback_seed=5)
    g2 = R.gradients(m, batch, "eprop", chunk=32) if False else eprop(m, batch, feedback=fb)[1]
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])
    g3 = R.gradients(m, batch, "eprop")
    assert _relerr(g1["W_rec"], g3["W_rec"]) > 1e-3
    np.testing.assert_array_equal(g1["W_out"], g3["W_out"])  # readout exact in both


def test_params_override_and_copy():
    m, batch, _ = _tiny()
    m2 = m.copy()
    m2.params["W_rec"] *= 1.1
    p = {k: v.copy() for k, v in m2.params.items()}
    for rule in ("bptt", "eprop"):
        a = R.gradients(m, batch, rule, params=p)
        b = R.gradients(m2, batch, rule)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert R.loss(m, batch, params=p) == R.loss(m2, batch)
    assert not np.array_equal(m.params["W_rec"], m2.params["W_rec"])


def test_bad_inputs_raise_clear_errors():
    m, batch, _ = _tiny()
    with pytest.raises(ValueError, match="Did you mean 'eprop'"):
        R.gradients(m, batch, rule="eprob")
    with pytest.raises(TypeError, match="window"):
        R.gradients(m, batch, rule="tbptt")
    with pytest.raises(TypeError, match="does not take"):
        R.gradients(m, batch, rule="bptt", window=3)
    bad = {k: v.copy() for k, v in m.params.items()}
    bad["W_rec"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        R.loss(m, batch, params=bad)
    with pytest.raises(ValueError, match="shape"):
        R.loss(m, batch, params={**m.params, "W_in": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"inputs must be \(batch, time, 3\)"):
        m.run(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        Batch(np.full((1, 2, 3), np.nan), np.zeros((1, 2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="activation"):
        R.LeakyRNN(2, 3, 1, activation="sigmoid")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
@pytest.mark.parametrize("rule,opts", [("bptt", {}), ("tbptt", {"window": 4}), ("eprop", {}),
                                       ("eprop-random", {"feedback_seed": 2})])
def test_float32_pass_agrees_with_float64(case, rule, opts):
    """float32 is an option of the pass only: same loss and gradients to single-precision rounding,
    returned as float64 (the float64 results above are the ones checked against references)."""
    m, batch, noise = _tiny(**case)
    E64, g64, parts64 = R.value_and_gradients(m, batch, rule, noise=noise, parts=True, **opts)
    E32, g32, parts32 = R.value_and_gradients(m, batch, rule, noise=noise, parts=True, dtype="float32", **opts)
    assert isinstance(E32, float) and abs(E32 - E64) <= 1e-5 * abs(E64)
    assert abs(parts32["activity"] - parts64["activity"]) <= 1e-5 * abs(parts64["activity"]) + 1e-12
    for k in g64:
        assert g32[k].dtype == np.float64
        assert _relerr(g32[k], g64[k]) < 1e-4, k
    # and it is really computed in single precision (not a silent float64 pass)
    assert any(not np.array_equal(g32[k], g64[k]) for k in g64)


def test_float32_at_training_size_and_its_limits(rng):
    task = R.tasks.PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 60, task.n_out, seed=1, activity_l2=0.5)
    batch = task.batch(16, rng)
    for rule in ("bptt", "eprop"):
        g64 = R.gradients(m, batch, rule)
        g32 = R.gradients(m, batch, rule, dtype=np.float32)
        assert max(_relerr(g32[k], g64[k]) for k in g64) < 1e-4
    fw = m.run(batch.inputs, dtype="float32")
    assert fw.r.dtype == np.float32 and fw.y.dtype == np.float32
    with pytest.raises(ValueError, match="dtype must be one of"):
        R.gradients(m, batch, "bptt", dtype="float16")
    with pytest.raises(ValueError, match="computes in float64 only"):
        R.gradients(m, batch, "rtrl", dtype="float32")
