"""RTRL, ModProp, MDGL and feedback alignment against BPTT, e-prop and independent references."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim.rnn.model import Batch, phi
from neurosim.rnn.rules import RULES, bptt, eprop, value_and_gradients
from neurosim.rnn.rules.modprop import approximate_bptt, cell_type_labels, type_averaged

from test_gradients import CASES, _fd, _relerr, _tiny


def _maxdiff(g, ref, keys=None):
    return max(float(np.abs(g[k] - ref[k]).max()) for k in (keys or ref))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_rtrl_equals_bptt(case):
    m, batch, noise = _tiny(**case)
    E0, g0 = bptt(m, batch, noise=noise)
    E, g = value_and_gradients(m, batch, "rtrl", noise=noise)
    assert abs(E - E0) <= 1e-12
    assert _maxdiff(g, g0) <= 1e-10


def test_rtrl_refuses_huge_influence_tensors():
    m = R.LeakyRNN(2, 200, 1)
    b = Batch(np.ones((64, 3, 2)), np.zeros((64, 3, 1)), np.ones((64, 3)))
    with pytest.raises(ValueError, match="influence tensor"):
        value_and_gradients(m, b, "rtrl")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_modprop_with_exact_derivative_and_one_type_per_unit_is_bptt(case):
    m, batch, noise = _tiny(**case)
    _, g0 = bptt(m, batch, noise=noise)
    _, g = value_and_gradients(m, batch, "modprop", noise=noise, mu="exact", cell_types="neuron")
    assert _maxdiff(g, g0) <= 1e-12
    # each approximation on its own changes the recurrent gradient
    _, g_mu = value_and_gradients(m, batch, "modprop", noise=noise, mu=0.2, cell_types="neuron")
    _, g_ab = value_and_gradients(m, batch, "modprop", noise=noise, mu="exact", cell_types=[0] * 7)
    assert _relerr(g_mu["W_rec"], g0["W_rec"]) > 1e-3
    assert _relerr(g_ab["W_rec"], g0["W_rec"]) > 1e-3


def _modprop_surrogate(model, batch, params, v_bar, r_bar, W_ab, mu):
    """Loss of a network whose recurrent input is ``W r_bar_{t-1} + W_ab (s(v_{t-1}) - s(v_bar_{t-1}))``
    with ``s = mu v`` (or ``phi`` for mu=None) and bars frozen at the operating point: its value is
    the loss, its exact gradient is ModProp's (written per sample, per step, from the equations)."""
    a = model.alpha
    W = model.effective_recurrent(params["W_rec"])
    B, T, _ = batch.inputs.shape
    s = (lambda v: mu * v) if mu is not None else (lambda v: phi(v, model.activation))
    total = 0.0
    for bi in range(B):
        v = params["v0"].copy()
        for t in range(T):
            u = W @ r_bar[bi, t] + W_ab @ (s(v) - s(v_bar[bi, t]))
            v = (1 - a) * v + a * (u + params["W_in"] @ batch.inputs[bi, t] + params["b"])
            r = phi(v, model.activation)
            y = params["W_out"] @ r + params["b_out"]
            m = batch.mask_full[bi, t]
            total += np.sum(m * (y - batch.targets[bi, t]) ** 2)
    return total / batch.mask_full.sum()


@pytest.mark.parametrize("mu", [0.3, None])
def test_modprop_is_the_gradient_of_its_surrogate(mu):
    m, batch, _ = _tiny(activation="tanh", l2=0.0, dale=True)
    fw = m.run(batch.inputs)
    v_bar = np.concatenate([fw.v_init[:, None], fw.v[:, :-1]], axis=1)   # v_{t-1}, (B, T, N)
    r_bar = np.concatenate([fw.r_init[:, None], fw.r[:, :-1]], axis=1)
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    W_ab = type_averaged(m.effective_recurrent(m.params["W_rec"]), labels)
    fd = _fd(lambda p: _modprop_surrogate(m, batch, p, v_bar, r_bar, W_ab, mu), m.params)
    _, g = value_and_gradients(m, batch, "modprop", mu="exact" if mu is None else mu, cell_types=labels)
    for k in m.params:
        assert _relerr(g[k], fd[k]) <= 1e-6, k


def test_mdgl_without_modulation_is_eprop():
    for case in CASES:
        m, batch, noise = _tiny(**case)
        _, g0 = eprop(m, batch, noise=noise)
        _, g = value_and_gradients(m, batch, "mdgl", noise=noise, cell_types="neuron", modulatory=False)
        assert _maxdiff(g, g0) == 0.0


@pytest.mark.parametrize("activation", ["tanh", "retanh"])
def test_mdgl_one_type_per_unit_is_bptt_when_every_path_has_at_most_one_hop(activation):
    """a = 1 (no leak) and T = 2: a weight at step 0 reaches the loss at step 1 through exactly
    one synapse, so the one-hop term is the whole non-local credit (v0 has a two-hop path)."""
    m = R.LeakyRNN(3, 7, 2, tau=1.0, activation=activation, seed=1, activity_l2=0.01)
    rng = np.random.default_rng(0)
    m.params["v0"] = rng.normal(0, 0.5, 7) + 0.3
    m.params["b"] = rng.normal(0, 0.3, 7) + 0.3
    b = Batch(rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 2, 2)), np.ones((3, 2)))
    _, g0 = bptt(m, b)
    _, ge = eprop(m, b)
    _, g = value_and_gradients(m, b, "mdgl", cell_types="neuron")
    keys = ["W_in", "W_rec", "b", "W_out", "b_out"]
    assert _maxdiff(g, g0, keys) <= 1e-12
    assert _relerr(ge["W_rec"], g0["W_rec"]) > 1e-3  # e-prop misses that hop


def test_fa_with_readout_as_feedback_is_bptt():
    for case in CASES:
        m, batch, noise = _tiny(**case)
        _, g0 = bptt(m, batch, noise=noise)
        _, g = value_and_gradients(m, batch, "fa", noise=noise, feedback=m.params["W_out"])
        assert _maxdiff(g, g0) <= 1e-12
        _, gr = value_and_gradients(m, batch, "fa", noise=noise, feedback_seed=3)
        assert _maxdiff(gr, g0, ["W_out", "b_out"]) <= 1e-12  # readout stays exact
        assert _relerr(gr["W_rec"], g0["W_rec"]) > 1e-2


def test_approximate_bptt_defaults_are_bptt():
    m, batch, noise = _tiny(activation="retanh", loss="ce", dale=True, connectivity=0.6)
    assert _maxdiff(approximate_bptt(m, batch)[1], bptt(m, batch)[1]) <= 1e-12


@pytest.mark.parametrize("rule,opts", [("modprop", {}), ("mdgl", {}), ("fa", {}), ("eprop", {}),
                                       ("eprop-random", {})])
def test_approximate_rules_align_partially_with_bptt_at_init(rule, opts):
    task = R.tasks.PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 40, task.n_out, seed=0, dale=True)
    al = R.gradient_alignment(m, task.batch(16, np.random.default_rng(0)), rule, **opts)
    cos = al["W_rec"]["cosine"]
    assert -1.0 < cos < 1.0 and abs(cos) < 1 - 1e-6
    assert al["W_out"]["cosine"] == pytest.approx(1.0, abs=1e-12)


def test_cell_types_and_type_averages():
    m = R.LeakyRNN(2, 20, 1, dale=True)                 # 16 E, 4 I
    lab = cell_type_labels(m)                           # default 8 + 8, capped at 4 inhibitory types
    assert lab.max() + 1 == 12 and np.bincount(lab[:16]).tolist() == [2] * 8
    assert cell_type_labels(m, "ei").tolist() == [0] * 16 + [1] * 4
    assert cell_type_labels(m, [5] * 10 + [7] * 10).tolist() == [0] * 10 + [1] * 10
    W = m.effective_recurrent(m.params["W_rec"])
    Wab = type_averaged(W, lab)
    assert np.allclose(type_averaged(W, np.arange(20)), W)
    assert np.isclose(Wab[:2, :2].std(), 0) and np.isclose(Wab[0, 0], W[:2, :2].mean())
    # Dale's signs survive the averaging
    assert np.all(Wab[:, :16] >= 0) and np.all(Wab[:, 16:] <= 0)


def test_cell_type_rules_need_types_and_reject_bad_options():
    m, batch, _ = _tiny()
    for rule in ("modprop", "mdgl"):
        with pytest.raises(ValueError, match="dale=True"):
            value_and_gradients(m, batch, rule)
    with pytest.raises(ValueError, match="labels"):
        value_and_gradients(m, batch, "modprop", cell_types=[0, 1])
    with pytest.raises(ValueError, match="mu"):
        value_and_gradients(m, batch, "modprop", mu="approx", cell_types="neuron")
    with pytest.raises(TypeError, match="does not take"):
        value_and_gradients(m, batch, "rtrl", window=3)
    with pytest.raises(ValueError, match="feedback"):
        value_and_gradients(m, batch, "fa", feedback=np.ones((1, 1)))


@pytest.mark.parametrize("rule", ["rtrl", "modprop", "mdgl", "fa"])
def test_every_new_rule_trains(rule, tmp_path):
    assert rule in RULES
    task = R.tasks.PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 10, task.n_out, seed=0, dale=True)
    run = R.train(m, task, rule=rule, steps=4, lr=1e-2, batch_size=4, progress=False, out=tmp_path / "r.nc")
    assert run.rule == rule and run.checkpoints["step"].tolist()[-1] == 4
    assert not np.array_equal(run.params(0)["W_rec"], run.params(4)["W_rec"])
    back = R.load_run(tmp_path / "r.nc")
    assert np.array_equal(back.params(4)["W_rec"], run.params(4)["W_rec"])


def test_sweeps_give_the_cell_type_rules_dale_networks():
    from neurosim.experiments.sweep import grid, train_spec

    specs = grid(["bptt", "modprop", "mdgl", "fa"], seeds=[0], n_rec=10, steps=2, batch_size=4, lr=1e-2)
    assert [s.dale for s in specs] == [False, True, True, False]
    task = R.tasks.PerceptualDecision()
    for spec in specs[1:]:
        run = train_spec(spec, task)
        assert run.rule == spec.rule and run.config["dale"] == spec.dale


def _last_step_only(batch):
    """The same trials with the loss on the last step only (as a sequence classifier's readout)."""
    mask = np.zeros(batch.mask.shape)
    mask[:, -1] = 1.0
    return Batch(batch.inputs, batch.targets, mask, loss=batch.loss)


def _mdgl_online(m, batch, noise, labels):
    """MDGL from its definition through e-prop's online loop: ``Lm_t = L_t + a delta_{t+1} W_mod``
    given to :func:`eprop` as its learning signal (no code shared with the rule's offline form)."""
    W_mod = m.alpha * type_averaged(m.effective_recurrent(m.params["W_rec"]), labels, nonzero=True)
    fw = m.run(batch.inputs, noise=noise)
    _, e = R.model.output_error(fw.y, batch)
    L = e @ m.params["W_out"] + (2.0 * m.activity_l2 / fw.r.size) * fw.r
    delta = L * R.model.phi_prime(fw.v, fw.r, m.activation)
    Lm = L.copy()
    Lm[:, :-1] += delta[:, 1:] @ W_mod
    return eprop(m, batch, noise=noise, learning_signal=Lm, learning_signal_init=delta[:, 0] @ W_mod)


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_mdgl_offline_form_equals_the_online_eprop_loop(case, last_only):
    """The rule sums e-prop's presynaptic traces backwards (one forward pass); the online loop
    with MDGL's learning signal is the reference, with and without a loss on every step (the
    latter without activity penalty, so that only the last step's products are computed)."""
    m, batch, noise = _tiny(**{**case, "dale": True, **({"l2": 0.0} if last_only else {})})
    if last_only:
        batch = _last_step_only(batch)
    for spec in ("ei", "neuron"):
        E0, g0 = _mdgl_online(m, batch, noise, cell_type_labels(m, spec))
        E, g = value_and_gradients(m, batch, "mdgl", noise=noise, cell_types=spec)
        assert abs(E - E0) <= 1e-13 * abs(E0)
        for k in g0:
            assert _relerr(g[k], g0[k]) <= 1e-12, (spec, k)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_a_loss_on_the_last_step_only_skips_exact_zeros(l2):
    """Steps without output error add nothing (their products are skipped): BPTT, the approximate
    BPTT recursion and ModProp's exact limit still equal RTRL, an independent exact gradient."""
    m, batch, noise = _tiny(activation="retanh", loss="ce", dale=True, connectivity=0.6, l2=l2)
    batch = _last_step_only(batch)
    _, g_rtrl = value_and_gradients(m, batch, "rtrl", noise=noise)
    for rule, opts in (("bptt", {}), ("fa", {"feedback": m.params["W_out"]}),
                       ("modprop", {"mu": "exact", "cell_types": "neuron"})):
        _, g = value_and_gradients(m, batch, rule, noise=noise, **opts)
        assert _maxdiff(g, g_rtrl) <= 1e-10, rule


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("rule,opts", [("modprop", {}), ("modprop", {"mu": "exact"}), ("mdgl", {}),
                                       ("fa", {"feedback_seed": 1})])
def test_float32_pass_of_the_nonlocal_rules_agrees_with_float64(rule, opts, last_only):
    """float32 rounds the pass only: loss, parts and gradients within single-precision rounding
    (1e-5 relative for the loss, 1e-4 for each gradient: the tolerance of BPTT's and e-prop's
    float32 pass), returned as float64, and really computed in single precision."""
    for case in CASES:
        m, batch, noise = _tiny(**{**case, "dale": True, **({"l2": 0.0} if last_only else {})})
        if last_only:
            batch = _last_step_only(batch)
        E64, g64, p64 = value_and_gradients(m, batch, rule, noise=noise, parts=True, **opts)
        E32, g32, p32 = value_and_gradients(m, batch, rule, noise=noise, parts=True, dtype="float32", **opts)
        assert isinstance(E32, float) and abs(E32 - E64) <= 1e-5 * abs(E64)
        assert abs(p32["activity"] - p64["activity"]) <= 1e-5 * abs(p64["activity"]) + 1e-12
        assert abs(p64["task"] + p64["activity"] - E64) <= 1e-14 * abs(E64)
        for k in g64:
            assert g32[k].dtype == np.float64
            assert _relerr(g32[k], g64[k]) < 1e-4, (case, k)
        assert any(not np.array_equal(g32[k], g64[k]) for k in g64)


def test_a_float32_pass_keeps_dale_weights_in_float32():
    """Dale's signs and the connectivity mask must not promote a float32 pass to float64."""
    m = R.LeakyRNN(3, 10, 2, seed=0, dale=True, connectivity=0.5)
    W32 = m.params["W_rec"].astype(np.float32)
    assert m.effective_recurrent(W32).dtype == np.float32
    assert np.array_equal(m.effective_recurrent(W32), m.effective_recurrent(W32.astype(np.float64)).astype(np.float32))
    assert m.effective_recurrent(m.params["W_rec"]).dtype == np.float64


def test_eprop_chunks_without_any_loss_add_nothing():
    """e-prop's online loop evaluates the loss chunk by chunk; chunks whose steps are all masked out
    (a last-step readout) add exactly zero, so the chunk size changes nothing beyond rounding."""
    m, batch, noise = _tiny(activation="retanh", loss="ce", l2=0.0)
    batch = _last_step_only(batch)
    E0, g0 = eprop(m, batch, noise=noise, chunk=32)
    E, g = eprop(m, batch, noise=noise, chunk=2)
    assert abs(E - E0) <= 1e-14 * abs(E0) and E0 > 0
    for k in g0:
        assert _relerr(g[k], g0[k]) <= 1e-13, k
    E_all0, _ = R.model.error_terms(np.ones((2, 3, 4)), np.eye(4)[[0, 1, 2]][None].repeat(2, 0), np.zeros((2, 3)),
                                    "ce", 1.0)
    assert E_all0 == 0.0
