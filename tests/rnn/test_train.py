"""Training runs: determinism, checkpoints, resume after interruption, divergence, storage."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim.rnn.tasks import ContextDependentIntegration, PerceptualDecision

train_mod = importlib.import_module("neurosim.rnn.train")  # the module; neurosim.rnn.train is the function


def _setup(n=16, noise_std=0.0):
    task = PerceptualDecision()
    return R.LeakyRNN(task.n_in, n, task.n_out, seed=1, noise_std=noise_std, activity_l2=1e-3), task


def _same(r1, r2):
    assert r1.checkpoints.equals(r2.checkpoints)
    for s in r1.steps:
        for k, v in r1.params(s).items():
            np.testing.assert_array_equal(v, r2.params(s)[k])


@pytest.mark.parametrize("rule", ["bptt", "eprop-random"])
def test_same_seed_bit_identical_and_model_untouched(rule):
    m, task = _setup(noise_std=0.1)
    before = {k: v.copy() for k, v in m.params.items()}
    kw = dict(steps=6, lr=1e-2, batch_size=4, checkpoints=[0, 2, 6], progress=False)
    r1 = R.train(m, task, rule, seed=3, **kw)
    r2 = R.train(m, task, rule, seed=3, **kw)
    _same(r1, r2)
    r3 = R.train(m, task, rule, seed=4, **kw)
    assert not np.array_equal(r3.params(6)["W_rec"], r1.params(6)["W_rec"])
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k])
    assert r1.checkpoints["step"].tolist() == [0, 2, 6]
    assert r1.rule == rule and r1.seed == 3 and r1.config["n_rec"] == 16 and r1.config["g0"] == 1.0
    assert r1.config["init_seed"] == 1 and r1.config["seed"] == 3 and r1.config["lr"] == 1e-2
    # the recorded loss at step 0 is the loss of the initial parameters on the first batch
    b0 = task.batch(4, np.random.default_rng(3))
    noise = np.random.default_rng(3)
    task.batch(4, noise)
    xi = noise.standard_normal((4, b0.inputs.shape[1], 16))
    assert r1.checkpoints["loss"].iloc[0] == pytest.approx(R.loss(m, b0, noise=xi), rel=1e-12)
    acc = task.accuracy(r1.model(6)(task.conditions().inputs), task.conditions())
    assert r1.checkpoints["accuracy"].iloc[-1] == acc


def test_one_training_step_is_adam_on_the_rule_gradient():
    m, task = _setup()
    run = R.train(m, task, "eprop", steps=1, lr=1e-3, batch_size=3, seed=0, progress=False)
    b = task.batch(3, np.random.default_rng(0))
    g = R.gradients(m, b, "eprop")
    for k, p in m.params.items():
        # first Adam step: p - lr * g / (|g| + eps)
        np.testing.assert_allclose(run.params(1)[k], p - 1e-3 * g[k] / (np.abs(g[k]) + 1e-8), rtol=1e-12, atol=1e-15)


class _Interrupting(PerceptualDecision):
    def __init__(self, after, **kw):
        super().__init__(**kw)
        self.calls, self.after = 0, after

    def batch(self, batch_size, rng):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return super().batch(batch_size, rng)


@pytest.mark.parametrize("rule", ["eprop-random", "bptt"])
def test_resume_after_interruption_equals_uninterrupted(tmp_path, rule):
    m, task = _setup()
    kw = dict(steps=12, lr=5e-3, batch_size=4, seed=7, checkpoints=[0, 3, 6, 9, 12], progress=False,
              rule_options={"feedback_seed": 2} if rule == "eprop-random" else None)
    full = R.train(m, task, rule, out=tmp_path / "full.nc", **kw)
    with pytest.raises(KeyboardInterrupt):
        R.train(m, _Interrupting(after=8), rule, out=tmp_path / "cut.nc", **kw)
    partial = R.load_run(tmp_path / "cut.nc")
    assert partial.steps == [0, 3, 6] and not partial.complete  # at most one interval lost
    resumed = R.train(m, task, rule, out=tmp_path / "cut.nc", **kw)
    _same(full, resumed)
    _same(full, R.load_run(tmp_path / "cut.nc"))
    # a finished file is returned as is; different settings are refused
    again = R.train(m, task, rule, out=tmp_path / "cut.nc", **kw)
    _same(full, again)
    with pytest.raises(ValueError, match="different settings"):
        R.train(m, task, rule, out=tmp_path / "cut.nc", **{**kw, "lr": 1e-2})
    if rule == "eprop-random":
        np.testing.assert_array_equal(R.load_run(tmp_path / "full.nc").feedback, R.random_feedback(3, 16, 2))


def test_divergence_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    m, task = _setup()
    real = train_mod.value_and_gradients
    calls = {"n": 0}

    def flaky(*a, **k):
        E, g = real(*a, **k)
        calls["n"] += 1
        if calls["n"] > 5:
            g["W_rec"] = g["W_rec"] * np.nan
        return E, g

    monkeypatch.setattr(train_mod, "value_and_gradients", flaky)
    with pytest.raises(R.TrainingDiverged, match="step 5.*last good checkpoint is step 4") as info:
        R.train(m, task, "bptt", steps=10, batch_size=4, checkpoints=[0, 2, 4, 8], out=tmp_path / "r.nc",
                progress=False)
    assert info.value.run.steps == [0, 2, 4]
    assert R.load_run(tmp_path / "r.nc").steps == [0, 2, 4]


def test_activity_and_load_run_round_trip(tmp_path):
    task = ContextDependentIntegration()
    m = R.LeakyRNN(task.n_in, 12, task.n_out, seed=0)
    run = R.train(m, task, "tbptt", steps=2, batch_size=4, progress=False, rule_options={"window": 20},
                  out=tmp_path / "run.nc")
    da = run.activity(2)
    assert da.dims == ("condition", "time", "unit") and da.sizes["condition"] == 72
    assert list(da.indexes["condition"].names) == ["context", "motion_coherence", "colour_coherence"]
    assert da["time"].attrs["units"] == "ms"
    fw = run.model(2).run(task.conditions().inputs)
    np.testing.assert_array_equal(da.values, fw.r)
    back = R.load_run(tmp_path / "run.nc")
    assert back.rule == "tbptt" and back.config["rule_options"] == {"window": 20}
    assert back.activity(2).identical(da)
    with pytest.raises(ValueError, match="no checkpoint at step 7"):
        run.model(7)


def test_train_argument_errors():
    m, task = _setup()
    with pytest.raises(ValueError, match="n_in"):
        R.train(R.LeakyRNN(2, 4, 3), task, steps=1, progress=False)
    with pytest.raises(ValueError, match="Did you mean"):
        R.train(m, task, "e-prop", steps=1, progress=False)
    with pytest.raises(ValueError, match="checkpoints"):
        R.train(m, task, steps=3, checkpoints=[5], progress=False)


def test_short_training_learns_perceptual_decision():
    """A reduced version of the accuracy check (benchmarks/accuracy script runs the full one)."""
    task = PerceptualDecision(coherences=(0.1, 0.25, 0.5))
    m = R.LeakyRNN(task.n_in, 32, task.n_out, seed=0)
    for rule in ("bptt", "eprop"):
        run = R.train(m, task, rule, steps=200, lr=1e-2, batch_size=32, seed=0, progress=False,
                      checkpoints=[0, 100, 150, 200])
        acc = run.checkpoints["accuracy"].tolist()
        loss = run.checkpoints["eval_loss"].tolist()
        assert acc[0] == 0.5 and min(acc[1:]) >= 0.8 and max(acc[1:]) == 1.0, (rule, acc)
        assert loss[-1] < 0.1 * loss[0], (rule, loss)


def test_gradient_alignment():
    m, task = _setup(n=24)
    b = task.batch(6, np.random.default_rng(0))
    exact = R.gradient_alignment(m, b, "tbptt", window=10_000)
    for k, v in exact.items():
        assert v["cosine"] == pytest.approx(1.0, abs=1e-12) and v["norm_ratio"] == pytest.approx(1.0, abs=1e-12)
    al = R.gradient_alignment(m, b, "eprop")
    g, ge = R.gradients(m, b), R.gradients(m, b, "eprop")
    cos = float(g["W_rec"].ravel() @ ge["W_rec"].ravel()) / (np.linalg.norm(g["W_rec"]) * np.linalg.norm(ge["W_rec"]))
    assert al["W_rec"]["cosine"] == pytest.approx(cos, rel=1e-12)
    assert al["W_rec"]["norm_ratio"] == pytest.approx(np.linalg.norm(ge["W_rec"]) / np.linalg.norm(g["W_rec"]))
    assert 0.0 < al["W_rec"]["cosine"] < 0.999
    assert al["W_out"]["cosine"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.data
def test_short_training_learns_center_out(hatsopoulos):
    """Reduced accuracy check on the real kinematics (full-size numbers: benchmarks/trainer.py).

    The sustained-input design learns in 100 tiny steps; the paper's design is checked in
    test_liu2025.py."""
    task = R.tasks.CenterOutReach.from_dataset(hatsopoulos, design="sustained")
    m = R.LeakyRNN(task.n_in, 32, task.n_out, seed=0)
    for rule in ("bptt", "eprop"):
        run = R.train(m, task, rule, steps=100, lr=1e-2, batch_size=16, seed=0, progress=False,
                      checkpoints=[0, 100])
        acc = run.checkpoints["accuracy"].tolist()
        assert acc[0] < 0 and acc[-1] >= 0.9, (rule, acc)
        # the activity of the trained network sits on the recording's time grid
        da = run.activity(100)
        assert da.sel(time=hatsopoulos["time"].values).sizes["time"] == hatsopoulos.sizes["time"]
