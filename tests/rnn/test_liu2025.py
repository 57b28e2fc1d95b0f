"""Liu, Yang & Cueva (2025): the paper's centre-out design, its trainer settings (adaptive activity
penalty, PyTorch readout), its checkpoints opened without torch, and parity with its analysis."""

from __future__ import annotations

import importlib
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

import neurosim.rnn as R
from neurosim.experiments import distance_to_data
from neurosim.experiments.alignment import alignment_lag
from neurosim.rnn.model import Batch, load_torch_checkpoint, phi, read_torch_state_dict
from neurosim.rnn.rules import bptt, eprop
from neurosim.rnn.tasks import CenterOutReach, from_config

REPO = Path(__file__).resolve().parents[2]
BUMP = np.array([0.05, 0.1, 0.2, 0.35, 0.65, 0.8, 0.9, 0.95, 1, 1, 1, 1, 1, 1, 1,
                 0.95, 0.9, 0.8, 0.65, 0.35, 0.2, 0.1, 0.05])


def _checkpoints() -> Path:
    env = os.environ.get("NEUROSIM_DATA")
    for root in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        folder = root / "liu2025_hatsopoulos_checkpoints"
        if folder.is_dir():
            return folder
    pytest.skip("liu2025_hatsopoulos_checkpoints not found (set NEUROSIM_DATA or put shared/data beside the repo)")


def _synthetic(design="liu2025", **kw):
    t = np.arange(-800.0, 401.0, 10.0)
    ramp = np.clip(t + 100, 0, None) / 500.0
    kin = np.stack([np.stack([ramp * (1 + c), -ramp * (2 - c) + 0.1 * c], -1) for c in range(4)])
    return CenterOutReach(kin, t, [0.0, 90.0, 180.0, 270.0], design=design, **kw), kin, t


# ---------------------------------------------------------------- the paper's trial design
def test_liu2025_trials_follow_the_papers_generator():
    task, kin, t = _synthetic()
    rng = np.random.default_rng(3)
    b = task.batch(40, rng)
    assert b.inputs.shape == (40, 300, 3) and task.T == 300
    cond, cue, go = b.info["condition_index"], b.info["cue"], b.info["go"]
    np.testing.assert_array_equal(cond[:4], np.arange(4))        # first trials = each condition once
    assert cue.min() >= 0 and cue.max() <= 49 and len(np.unique(cue)) > 10
    delay = go - cue - 23
    assert delay.min() >= 0 and delay.max() <= 149 and len(np.unique(delay)) > 10
    first = np.searchsorted(t, -100.0)
    for i in range(40):
        rad = np.deg2rad(task.directions[cond[i]])
        x = b.inputs[i]
        # direction: the 23-step bump on steps cue .. cue+22, zero elsewhere
        np.testing.assert_allclose(x[cue[i]:cue[i] + 23, 0], np.sin(rad) * BUMP, atol=1e-15)
        np.testing.assert_allclose(x[cue[i]:cue[i] + 23, 1], np.cos(rad) * BUMP, atol=1e-15)
        assert not np.any(x[:cue[i], :2]) and not np.any(x[cue[i] + 23:, :2])
        # hold: 1 from step 0, ramps down over its last 8 steps, 0 from go (= movement onset) on
        assert np.all(x[:go[i] - 8, 2] == 1.0)
        np.testing.assert_array_equal(x[go[i] - 8:go[i], 2], BUMP[-8:])
        assert not np.any(x[go[i]:, 2])
        # targets: the 51 samples -100..+400 ms from go - 10 on; 0 before; mask 0 after
        y, m = b.targets[i], b.mask[i]
        np.testing.assert_array_equal(y[go[i] - 10:go[i] + 41], kin[cond[i], first:first + 51])
        assert not np.any(y[:go[i] - 10]) and not np.any(y[go[i] + 41:])
        assert np.all(m[:go[i] + 41] == 1) and not np.any(m[go[i] + 41:])
        assert b.info["onset"][i] == go[i]


def test_liu2025_evaluation_set():
    task, kin, t = _synthetic()
    b = task.conditions()
    assert b.inputs.shape == (4, 250, 3) and task.eval_onset == 153
    assert np.all(b.inputs[:, 25:48, 1] == np.cos(np.deg2rad(task.directions))[:, None] * BUMP)
    assert np.all(b.inputs[:, 152, 2] == 0.05) and not np.any(b.inputs[:, 153:, 2])
    assert b.time[153] == 0.0 and b.time[0] == -1530.0 and b.time[-1] == 960.0
    np.testing.assert_array_equal(b.targets[:, 143:194], kin[:, np.searchsorted(t, -100.0):])
    # round trip through the config (what saved runs store)
    again = from_config(task.config())
    assert again.design == "liu2025"
    np.testing.assert_array_equal(again.conditions().inputs, b.inputs)


def test_accuracy_is_the_mean_of_per_channel_normalized_errors():
    task, _, _ = _synthetic()
    b = task.conditions()
    rng = np.random.default_rng(0)
    y = b.targets + rng.normal(0, 0.1, b.targets.shape) * np.array([1.0, 3.0])
    m = b.mask.astype(bool)
    ne = []
    for o in range(2):
        tgt, out = b.targets[..., o][m], y[..., o][m]
        ne.append(np.sum((out - tgt) ** 2) / np.sum((tgt - tgt.mean()) ** 2))
    assert task.accuracy(y, b) == pytest.approx(1 - np.mean(ne), rel=1e-12)
    # not the pooled ratio (which weighs the high-variance channel more)
    pooled = 1 - np.sum(m[..., None] * (y - b.targets) ** 2) / np.sum(
        m[..., None] * (b.targets - (m[..., None] * b.targets).sum((0, 1)) / m.sum()) ** 2)
    assert abs(task.accuracy(y, b) - pooled) > 1e-3


def test_design_validation():
    with pytest.raises(ValueError, match="design must be one of"):
        _synthetic(design="bump")
    with pytest.raises(ValueError, match="reaction and after belong"):
        _synthetic(reaction=5)
    with pytest.raises(ValueError, match="cuts the target"):
        _synthetic(T=200)


@pytest.mark.data
def test_from_dataset_defaults_to_the_papers_design(hatsopoulos):
    task = CenterOutReach.from_dataset(hatsopoulos)
    assert task.design == "liu2025"
    b = task.conditions()
    np.testing.assert_array_equal(b.targets[:, 153, 0], hatsopoulos["shoulder_angle"].sel(time=0.0).values)
    assert CenterOutReach.from_dataset(hatsopoulos, design="sustained").design == "sustained"


# ---------------------------------------------------------------- readout initialisation
def test_torch_readout_init():
    m = R.LeakyRNN(3, 400, 2, seed=5, readout_init="torch")
    n = R.LeakyRNN(3, 400, 2, seed=5)
    bound = 1 / np.sqrt(400)
    assert np.abs(m.params["W_out"]).max() <= bound and np.abs(m.params["W_out"]).max() > 0.95 * bound
    assert m.params["W_out"].var() == pytest.approx(bound ** 2 / 3, rel=0.1)
    assert not np.any(m.params["b_out"])
    np.testing.assert_array_equal(m.params["W_rec"], n.params["W_rec"])   # only the readout differs
    assert m.config["readout_init"] == "torch"
    with pytest.raises(ValueError, match="readout_init"):
        R.LeakyRNN(3, 4, 2, readout_init="xavier")


# ---------------------------------------------------------------- activity penalty gradients
def _penalty_reference(model, x, params, detach=None):
    """lambda * mean(r^2) by a plain loop from the equations; ``detach`` freezes r_{t-1}."""
    a = model.alpha
    B, T, _ = x.shape
    total = 0.0
    rates = np.zeros((B, T + 1, model.n_rec))
    for b in range(B):
        v = params["v0"].copy()
        r = phi(v, model.activation)
        rates[b, 0] = r
        for t in range(T):
            r_in = r if detach is None else detach[b, t]
            v = (1 - a) * v + a * (params["W_rec"] @ r_in + params["W_in"] @ x[b, t] + params["b"])
            r = phi(v, model.activation)
            rates[b, t + 1] = r
            total += np.sum(r * r)
    return model.activity_l2 * total / (B * T * model.n_rec), rates


def _fd(fun, params, keys, eps=1e-6):
    out = {}
    for k in keys:
        g = np.zeros_like(params[k])
        for idx in np.ndindex(g.shape):
            pp = {kk: vv.copy() for kk, vv in params.items()}
            pp[k][idx] += eps
            fp = fun(pp)
            pp[k][idx] -= 2 * eps
            g[idx] = (fp - fun(pp)) / (2 * eps)
        out[k] = g
    return out


@pytest.mark.parametrize("rule", ["bptt", "eprop"])
def test_activity_penalty_gradient_is_exact(rule):
    """The penalty's gradient alone (lambda = 10, the paper's lambda_0): BPTT through the
    recursion, e-prop exactly for its definition (r_{t-1} detached, leak kept), by FD."""
    rng = np.random.default_rng(1)
    m = R.LeakyRNN(2, 6, 2, tau=4.0, seed=2, activity_l2=10.0)
    m.params["b"] = rng.normal(0.4, 0.3, 6)
    m.params["v0"] = rng.normal(0.4, 0.5, 6)
    x = rng.normal(size=(2, 7, 2))
    batch = Batch(x, np.zeros((2, 7, 2)), np.ones((2, 7)))
    off = m.copy()
    off.activity_l2 = 0.0
    fn = bptt if rule == "bptt" else eprop
    E, g, parts = fn(m, batch, parts=True)
    _, g0 = fn(off, batch)
    _, rates = _penalty_reference(m, x, m.params)
    detach = None if rule == "bptt" else rates
    pen = lambda p: _penalty_reference(m, x, p, detach=detach)[0]
    assert parts["activity"] == pytest.approx(pen(m.params), rel=1e-12)
    assert E == pytest.approx(parts["task"] + parts["activity"], rel=1e-14)
    keys = ("W_in", "W_rec", "b", "v0")
    fd = _fd(pen, m.params, keys)
    for k in keys:
        diff = g[k] - g0[k]
        assert np.linalg.norm(diff - fd[k]) <= 1e-6 * np.linalg.norm(fd[k]), k
    for k in ("W_out", "b_out"):       # the penalty does not depend on the readout
        np.testing.assert_allclose(g[k], g0[k], atol=1e-14)


# ---------------------------------------------------------------- adaptive schedule and resume
def _small_run(tmp_path=None, steps=12, **kw):
    task, _, _ = _synthetic(T=260, T_eval=250, cue=(0, 10), delay=(0, 30))
    m = R.LeakyRNN(3, 12, 2, seed=0, activity_l2=10.0, readout_init="torch")
    args = dict(steps=steps, lr=1e-2, batch_size=6, seed=4, progress=False, checkpoints=[0, 3, 5, 8, steps],
                activity_l2_schedule="adaptive")
    args.update(kw)
    return m, task, args


def test_adaptive_activity_penalty_follows_the_papers_rule():
    m, task, args = _small_run()
    run = R.train(m, task, "bptt", **args)
    ck = run.checkpoints
    assert ck["activity_l2"].iloc[0] == 10.0
    # replay the schedule: lambda_{s+1} = 2/3 lambda_s whenever the penalty >= task loss / 2
    model = m.copy()
    rng = np.random.default_rng(args["seed"])
    opt = R.Adam(lr=args["lr"])
    lam = [10.0]
    for s in range(args["steps"] + 1):
        model.activity_l2 = lam[-1]
        batch = task.batch(args["batch_size"], rng)
        E, g, parts = R.value_and_gradients(model, batch, "bptt", parts=True)
        lam.append(lam[-1] * (2 / 3 if parts["activity"] >= parts["task"] / 2 else 1.0))
        if s < args["steps"]:
            opt.step(model.params, g)
    np.testing.assert_allclose(ck["activity_l2"].values, [lam[s] for s in ck["step"]], rtol=0)
    assert ck["activity_l2"].iloc[-1] < 10.0           # it did adapt
    np.testing.assert_array_equal(run.params(args["steps"])["W_rec"], model.params["W_rec"])
    assert run.model(5).activity_l2 == lam[5]
    assert run.config["activity_l2_schedule"] == "adaptive"
    with pytest.raises(ValueError, match="activity_l2_schedule"):
        R.train(m, task, "bptt", **{**args, "activity_l2_schedule": "decay"})


def _interrupted_train(monkeypatch, model, task, rule, out, after=7, **kw):
    """Train into ``out`` and press Ctrl-C (KeyboardInterrupt) in the gradient call number ``after + 1``."""
    train_mod = importlib.import_module("neurosim.rnn.train")
    real = train_mod.value_and_gradients
    calls = {"n": 0}

    def stop(*a, **k):
        calls["n"] += 1
        if calls["n"] > after:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "value_and_gradients", stop)
    with pytest.raises(KeyboardInterrupt):
        R.train(model, task, rule, out=out, **kw)
    monkeypatch.setattr(train_mod, "value_and_gradients", real)


@pytest.mark.parametrize("rule", ["bptt", "eprop"])
def test_adaptive_run_resumes_bit_identically(tmp_path, monkeypatch, rule):
    m, task, args = _small_run()
    full = R.train(m, task, rule, out=tmp_path / "full.nc", **args)
    _interrupted_train(monkeypatch, m, task, rule, tmp_path / "cut.nc", **args)
    resumed = R.train(m, task, rule, out=tmp_path / "cut.nc", **args)
    assert resumed.checkpoints.equals(full.checkpoints)
    for s in full.steps:
        for k, v in full.params(s).items():
            np.testing.assert_array_equal(resumed.params(s)[k], v)
    assert R.load_run(tmp_path / "cut.nc").checkpoints.equals(full.checkpoints)


@pytest.mark.parametrize("rule", ["bptt", "eprop"])
def test_float32_training_tracks_float64_and_resumes(tmp_path, monkeypatch, rule):
    """``dtype="float32"`` rounds each step's gradient to single precision and nothing else: the
    parameters stay float64, the run follows the float64 run closely, and it resumes bit-identically."""
    m, task, args = _small_run()
    ref = R.train(m, task, rule, **args)
    run = R.train(m, task, rule, out=tmp_path / "f32.nc", dtype="float32", **args)
    assert run.config["dtype"] == "float32" and "dtype" not in ref.config
    end = args["steps"]
    assert run.params(end)["W_rec"].dtype == np.float64
    assert not np.array_equal(run.params(end)["W_rec"], ref.params(end)["W_rec"])
    for k, v in ref.params(end).items():
        assert np.linalg.norm(run.params(end)[k] - v) <= 1e-3 * max(np.linalg.norm(v), 1e-3), k
    np.testing.assert_allclose(run.checkpoints["accuracy"], ref.checkpoints["accuracy"], atol=1e-3)
    np.testing.assert_array_equal(run.checkpoints["activity_l2"], ref.checkpoints["activity_l2"])
    # a float64 run cannot resume a float32 file, and a cut float32 run resumes exactly
    with pytest.raises(R.ResumeConflict, match="different settings"):
        R.train(m, task, rule, out=tmp_path / "f32.nc", **args)
    _interrupted_train(monkeypatch, m, task, rule, tmp_path / "cut.nc", dtype="float32", **args)
    resumed = R.train(m, task, rule, out=tmp_path / "cut.nc", dtype="float32", **args)
    for s in run.steps:
        for k, v in run.params(s).items():
            np.testing.assert_array_equal(resumed.params(s)[k], v)
    with pytest.raises(ValueError, match="float64 only"):
        R.train(m, task, "rtrl", dtype="float32", **args)


# ---------------------------------------------------------------- PyTorch checkpoints without torch
def _fake_pth(path, payload_pickle: bytes, tensors: dict[str, np.ndarray]):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ckpt/data.pkl", payload_pickle)
        for key, arr in tensors.items():
            zf.writestr(f"ckpt/data/{key}", np.asarray(arr, "<f4").tobytes())
        zf.writestr("ckpt/version", "3\n")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_torch_loader_refuses_other_globals(tmp_path):
    p = tmp_path / "evil.pth"
    _fake_pth(p, pickle.dumps({"model_state_dict": _Evil()}, protocol=2), {})
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global .*system"):
        load_torch_checkpoint(p)
    q = tmp_path / "evil2.pth"
    _fake_pth(q, pickle.dumps({"x": io.BytesIO}, protocol=2), {})
    with pytest.raises(pickle.UnpicklingError, match="refusing.*_io.BytesIO|refusing.*io.BytesIO"):
        read_torch_state_dict(q)
    r = tmp_path / "plain.pth"
    r.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip"):
        load_torch_checkpoint(r)


def test_torch_loader_reads_the_papers_checkpoints():
    folder = _checkpoints()
    m = load_torch_checkpoint(folder / "bptt_lr3e-4_update0.pth")
    assert (m.n_in, m.n_rec, m.n_out, m.alpha) == (3, 200, 2, 0.1)
    assert all(v.dtype == np.float64 for v in m.params.values())
    tensors, extras = read_torch_state_dict(folder / "bptt_lr3e-4_update0.pth")
    raw = zipfile.ZipFile(folder / "bptt_lr3e-4_update0.pth")
    name = [n for n in raw.namelist() if n.endswith("/data/3")][0]
    W = np.frombuffer(raw.read(name), "<f4").reshape(200, 200)
    np.testing.assert_array_equal(m.params["W_rec"], W.astype(np.float64))
    # the paper's initialisation: b = v0 = b_out = 0, W_out uniform in +-1/sqrt(N), W_rec ~ 1.5/sqrt(N)
    assert not np.any(m.params["b"]) and not np.any(m.params["v0"]) and not np.any(m.params["b_out"])
    assert m.params["W_out"].std() == pytest.approx(1 / np.sqrt(3 * 200), rel=0.1)   # U(+-1/sqrt(N))
    assert np.abs(m.params["W_out"]).max() <= 1.01 / np.sqrt(200)
    assert m.params["W_rec"].std() == pytest.approx(1.5 / np.sqrt(200), rel=0.02)
    assert extras["regularization_activityL2"] == pytest.approx(10 * 2 / 3)   # lambda after update 0's check


# ---------------------------------------------------------------- parity with the paper's analysis
README = {  # file: (accuracy, distance liu2025, distance onset) from the checkpoint README
    "bptt_lr3e-4_update0.pth": (-1.049, 0.5173, 0.6811),
    "bptt_lr3e-4_update1000.pth": (0.9996, 0.3283, 0.5492),
    "eprop_lr3e-4_update1000.pth": (0.9671, 0.4136, 0.6031),
    "bptt_lr1e-3_update1000.pth": (0.9994, 0.3509, 0.5403),
}


@pytest.mark.data
def test_parity_with_the_papers_checkpoints(hatsopoulos):
    folder = _checkpoints()
    task = CenterOutReach.from_dataset(hatsopoulos)
    assert alignment_lag("liu2025", task) == -320.0      # step 185 <-> 0 ms; onset is step 153
    for name, (acc, d_paper, d_onset) in README.items():
        model = load_torch_checkpoint(folder / name)
        b = task.conditions()
        assert task.accuracy(model(b.inputs), b) == pytest.approx(acc, abs=1e-3), name
        s1 = distance_to_data(model, task, hatsopoulos, alignment="liu2025")
        s2 = distance_to_data(model, task, hatsopoulos["rates"], alignment="onset")
        assert float(s1) == pytest.approx(d_paper, abs=1e-3), name
        assert float(s2) == pytest.approx(d_onset, abs=1e-3), name
        assert s1.settings["alignment"] == "liu2025" and s2.settings["lag"] == 0.0
        # an explicit lag equals the named alignment
        assert float(distance_to_data(model, task, hatsopoulos, alignment=-320.0)) == float(s1)


def _meta(folder: Path, run: str, name: str):
    from neurosim.datasets._safe_npy import load_npy

    return load_npy(folder / "meta" / run / name)


@pytest.mark.data
def test_papers_stored_test_error_is_consistent_with_accuracy(hatsopoulos):
    """errornormalized_store (1000 random test trials) vs 1 - our accuracy: on the 8 evaluation
    trials close but not equal (different trials); on 1000 random trials of the same distribution
    within sampling error (measured: 1.867 vs 1.855 at init; 0.0008/0.0008, 0.051/0.045,
    0.0005/0.0005 at update 1000)."""
    folder = _checkpoints()
    task = CenterOutReach.from_dataset(hatsopoulos)
    for run, name in (("lm0_lr0.0003", "bptt_lr3e-4_update1000.pth"), ("lm1_lr0.0003", "eprop_lr3e-4_update1000.pth"),
                      ("lm0_lr0.001", "bptt_lr1e-3_update1000.pth")):
        pset = np.asarray(_meta(folder, run, "pset.npy")).ravel()
        err = np.asarray(_meta(folder, run, "errornormalized_store.npy")).ravel()
        stored = float(err[np.flatnonzero(pset == 1000)[0]])
        model = load_torch_checkpoint(folder / name)
        b = task.conditions()
        ours = 1 - task.accuracy(model(b.inputs), b)
        assert ours == pytest.approx(stored, abs=0.02), (run, ours, stored)
        # on 1000 random trials of the training distribution, as the paper measured it
        test = task.batch(1000, np.random.default_rng(0))
        assert 1 - task.accuracy(model(test.inputs), test) == pytest.approx(stored, abs=0.01), run
    pset = np.asarray(_meta(folder, "lm0_lr0.0003", "pset.npy")).ravel()
    err = np.asarray(_meta(folder, "lm0_lr0.0003", "errornormalized_store.npy")).ravel()
    m0 = load_torch_checkpoint(folder / "bptt_lr3e-4_update0.pth")
    b = task.conditions()
    assert 1 - task.accuracy(m0(b.inputs), b) == pytest.approx(float(err[pset == 0][0]), rel=0.15)
    test = task.batch(1000, np.random.default_rng(0))
    assert 1 - task.accuracy(m0(test.inputs), test) == pytest.approx(float(err[pset == 0][0]), rel=0.02)
