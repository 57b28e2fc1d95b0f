"""Generalization gaps: held-out condition sets, test-minus-train along training, rule comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurosim.rnn import LeakyRNN, loss, train
from neurosim.experiments.liu2022 import compare_rules, curvature_trajectories, summarize_rules
from neurosim.plot import plot_curvature_along_training, plot_curvature_vs_gap
from neurosim.rnn.analysis.generalization import generalization_gap, heldout_task
from neurosim.rnn.tasks import (
    CenterOutReach,
    ContextDependentIntegration,
    DelayedMatchToSample,
    PerceptualDecision,
)


def _small_pd():
    return PerceptualDecision(fixation=(3, 5), stimulus=(6, 10), decision=6)


@pytest.fixture(scope="module")
def run():
    task = _small_pd()
    return train(LeakyRNN(task.n_in, 6, task.n_out, seed=0), task, rule="bptt", steps=4, lr=1e-2,
                 batch_size=8, seed=0, checkpoints=[0, 2, 4], progress=False)


# ---------------------------------------------------------------- held-out sets
def test_heldout_coherences_are_geometric_midpoints_never_trained():
    task = PerceptualDecision(coherences=(0.032, 0.064, 0.128, 0.256, 0.512))
    held = heldout_task(task)
    np.testing.assert_allclose(held.coherences, np.sqrt([0.032 * 0.064, 0.064 * 0.128, 0.128 * 0.256,
                                                        0.256 * 0.512]))
    assert not set(held.coherences) & set(task.coherences)
    # the evidence a held-out trial shows is never shown in training (noise-free, |ch1 - ch2| = c)
    clean = heldout_task(PerceptualDecision(noise=0.0))
    b = clean.batch(64, np.random.default_rng(0))
    on = b.inputs[..., 1] != 0
    shown = np.unique(np.round(np.abs(b.inputs[..., 1] - b.inputs[..., 2])[on], 12))
    assert not set(shown) & set(np.round(task.coherences, 12))
    cdi = ContextDependentIntegration(coherences=(0.05, 0.15, 0.5))
    np.testing.assert_allclose(heldout_task(cdi).coherences, [np.sqrt(0.05 * 0.15), np.sqrt(0.15 * 0.5)])


def test_heldout_angles_and_timing():
    dms = DelayedMatchToSample(angles=(0.0, 90.0, 180.0, 270.0), delay=(20, 50))
    assert heldout_task(dms).angles == (45.0, 135.0, 225.0, 315.0)
    held = heldout_task(dms, "timing")
    assert held.delay == (51, 80) and held.delay[0] > dms.delay[1]
    cdi = ContextDependentIntegration(delay=(0, 20))
    assert heldout_task(cdi, "timing").delay == (21, 40)
    pd_ = PerceptualDecision(stimulus=(30, 60))
    assert heldout_task(pd_, "timing").stimulus == (61, 90)
    # a zero-width range still gets a 10-step held-out window
    assert heldout_task(ContextDependentIntegration(delay=(5, 5)), "timing").delay == (6, 15)
    # everything else (noise, coherences) is kept
    assert heldout_task(cdi, "timing").coherences == cdi.coherences
    assert heldout_task(cdi, "timing").noise == cdi.noise


def test_heldout_center_out():
    t = np.arange(-100.0, 101.0, 10.0)
    kin = np.zeros((2, t.size, 2))
    task = CenterOutReach(kin, t, directions=[0.0, 180.0], delay=(30, 70))
    with pytest.raises(ValueError, match="kind='timing'"):
        heldout_task(task)
    assert heldout_task(task, "timing").delay == (71, 110)
    with pytest.raises(ValueError, match="Did you mean 'timing'"):
        heldout_task(task, "timin")
    with pytest.raises(TypeError, match="Task"):
        heldout_task("perceptual-decision")


# ---------------------------------------------------------------- the gap along training
def test_generalization_gap_values_recomputed_independently(run):
    task = run.task
    table = generalization_gap(run, n_trials=12, seed=3, input_noise=0.2)
    rng = np.random.default_rng(3)                     # the documented draw order
    tb = task.batch(12, rng)
    hb = heldout_task(task).batch(12, rng)
    for _, row in table.iterrows():
        m = run.model(int(row["step"]))
        assert row["train_loss"] == pytest.approx(loss(m, tb), rel=1e-12)
        assert row["test_loss"] == pytest.approx(loss(m, hb), rel=1e-12)
        assert row["train_accuracy"] == pytest.approx(task.accuracy(m(tb.inputs), tb))
        assert row["test_accuracy"] == pytest.approx(task.accuracy(m(hb.inputs), hb))
    np.testing.assert_allclose(table["gap_loss"], table["test_loss"] - table["train_loss"])
    np.testing.assert_allclose(table["gap_accuracy"], table["train_accuracy"] - table["test_accuracy"])
    np.testing.assert_allclose(table["noisy_gap_loss"], table["noisy_loss"] - table["train_loss"])
    # the checkpoint table is copied, not modified
    assert list(table.columns[:4]) == list(run.checkpoints.columns)
    assert "gap_loss" not in run.checkpoints


def test_noisy_variant_uses_the_training_trials(run):
    # vanishing extra noise -> the noisy set IS the training set
    table = generalization_gap(run, n_trials=10, input_noise=1e-12)
    np.testing.assert_allclose(table["noisy_loss"], table["train_loss"], rtol=1e-9)
    np.testing.assert_allclose(table["noisy_gap_loss"], 0.0, atol=1e-9)
    # more noise hurts (on average) a trained network
    none = generalization_gap(run, n_trials=10, input_noise=0.0)
    assert "noisy_loss" not in none.columns


def test_custom_test_task_equal_to_training_distribution_gives_small_gap(run):
    # with test_task = the training task, test and train are two samples of one distribution
    table = generalization_gap(run, test_task=run.task, n_trials=400, input_noise=0.0)
    assert np.all(np.abs(table["gap_loss"]) < 0.05 * table["train_loss"])


def test_generalization_gap_rejects_bad_input(run):
    with pytest.raises(TypeError, match="checkpoints"):
        generalization_gap(object())
    with pytest.raises(ValueError, match="not checkpoints"):
        generalization_gap(run, steps=[3])
    with pytest.raises(ValueError, match="input_noise"):
        generalization_gap(run, input_noise=-1.0)
    with pytest.raises(ValueError, match="n_in=5"):
        generalization_gap(run, test_task=ContextDependentIntegration())
    with pytest.raises(ValueError, match="n_trials"):
        generalization_gap(run, n_trials=0)


def test_generalization_gap_subset_of_steps(run):
    table = generalization_gap(run, n_trials=8, steps=[4])
    assert table["train_loss"].isna().tolist() == [True, True, False]


# ---------------------------------------------------------------- rule comparison
def test_compare_rules_matching_and_columns():
    task = _small_pd()
    kw = dict(seeds=(0,), n_rec=4, steps=3, batch_size=4, checkpoints=4, n_trials=8, curvature_batch=4,
              heldout=("timing",))
    first = compare_rules(task, rules=("bptt", "tbptt"), target_accuracy=1e-9, **kw)
    assert first["step"].tolist() == [0, 0] and first["reached"].all()   # any accuracy >= 1e-9 at step 0
    never = compare_rules(task, rules=("eprop-random",), target_accuracy=1.0, **kw)
    run = train(LeakyRNN(task.n_in, 4, task.n_out, seed=0), task, rule="eprop-random", steps=3, lr=3e-3,
                batch_size=4, seed=0, checkpoints=4, rule_options={"feedback_seed": 0}, progress=False)
    if run.checkpoints["accuracy"].max() < 1.0:
        assert not never["reached"].iloc[0] and never["step"].iloc[0] == 3
    for c in ("lambda_max", "lambda_max_final", "gap_loss_timing", "gap_accuracy_timing", "gap_loss_noisy"):
        assert c in first.columns and first[c].notna().all()
    assert first.attrs["settings"]["optimizer"] == "Adam"
    with pytest.raises(ValueError, match="Did you mean"):
        compare_rules(task, rules=("bpt",), **kw)
    with pytest.raises(ValueError, match="kind='timing'"):
        t = np.arange(-100.0, 101.0, 10.0)
        compare_rules(CenterOutReach(np.zeros((2, t.size, 2)), t, [0.0, 180.0]), heldout=("conditions",))


def test_summarize_rules_against_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    t = pd.DataFrame({"rule": ["bptt"] * 4 + ["eprop"] * 4, "seed": list(range(4)) * 2,
                      "lambda_max": rng.normal(5, 1, 8) + np.r_[np.zeros(4), 3 * np.ones(4)],
                      "gap_loss_timing": rng.normal(0.1, 0.05, 8), "reached": [True] * 7 + [False]})
    s = summarize_rules(t)
    assert s["gap"] == "gap_loss_timing"
    e = s["versus"]["eprop"]
    ref, ep = t[t.rule == "bptt"], t[t.rule == "eprop"]
    assert e["lambda_max_diff"] == pytest.approx(ep.lambda_max.mean() - ref.lambda_max.mean())
    assert e["lambda_max_p"] == pytest.approx(stats.mannwhitneyu(ep.lambda_max, ref.lambda_max).pvalue)
    assert s["correlation"]["spearman_r"] == pytest.approx(stats.spearmanr(t.lambda_max, t.gap_loss_timing)[0])
    assert s["per_rule"].loc["eprop", ("lambda_max", "std")] == pytest.approx(ep.lambda_max.std())
    assert e["lambda_max_median_diff"] == pytest.approx(ep.lambda_max.median() - ref.lambda_max.median())
    assert s["correlation"]["pearson_r"] == pytest.approx(
        stats.pearsonr(np.log10(t.lambda_max), t.gap_loss_timing)[0])
    assert "eprop/seed3" in s["text"] and "higher median curvature" in s["text"]
    with pytest.raises(ValueError, match="reference rule"):
        summarize_rules(t, reference="tbptt")
    with pytest.raises(ValueError, match="gap column"):
        summarize_rules(t, gap="gap_nope")


def test_plot_writes_png_atomically(tmp_path):
    t = pd.DataFrame({"rule": ["bptt", "bptt", "eprop"], "seed": [0, 1, 0], "lambda_max": [1.0, 1.5, 3.0],
                      "gap_loss_timing": [0.1, 0.15, 0.3]})
    p = plot_curvature_vs_gap(t, tmp_path / "sub" / "fig.png", lr=3e-3)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f.name for f in p.parent.iterdir()] == ["fig.png"]          # no temp file left behind


def test_cli_curvature_writes_report(tmp_path, capsys):
    from neurosim.cli import main

    code = main(["curvature", "--task", "perceptual-decision", "--rules", "bptt,eprop", "--seeds", "2",
                 "--n-rec", "4", "--steps", "2", "--batch-size", "4", "--jobs", "1", "--heldout", "timing",
                 "--along-training", "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "eprop vs bptt" in printed and "VERDICT" in printed
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert sorted(runs["rule"]) == ["bptt", "bptt", "eprop", "eprop"]
    assert (tmp_path / "summary.txt").read_text() in printed
    assert (tmp_path / "curvature_vs_gap.png").stat().st_size > 0
    assert (tmp_path / "curvature_along_training.png").stat().st_size > 0
    assert "eprop: lambda_max along training" in printed
    assert main(["curvature", "--rules", "bpt", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'bptt'" in capsys.readouterr().err


def test_plot_curvature_along_training(tmp_path):
    t = pd.DataFrame({"step": [0, 5, 50], "lambda_max": [1.0, np.nan, 30.0], "accuracy": [0.5, 0.6, 0.9]})
    p = plot_curvature_along_training({"bptt": t, "eprop": t.assign(lambda_max=t.lambda_max * 3)},
                                      tmp_path / "along.png", lr=0.01)
    assert p.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="'step' and 'lambda_max'"):
        plot_curvature_along_training({"bptt": t.drop(columns="lambda_max")}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_curvature_along_training({}, tmp_path / "x.png")


def test_curvature_trajectories_match_compare_rules():
    # the same seed and settings give the same run: the last point equals compare_rules' final value
    task = _small_pd()
    kw = dict(n_rec=4, steps=3, batch_size=4, checkpoints=4, curvature_batch=5)
    traj = curvature_trajectories(task, rules=("eprop-random",), n_points=3, **kw)
    table = compare_rules(task, rules=("eprop-random",), seeds=(0,), n_trials=8, heldout=("timing",), **kw)
    t = traj["eprop-random"]
    assert t["step"].iloc[0] == 0 and t["step"].iloc[-1] == 3 and len(t) == 3
    assert t["lambda_max"].iloc[-1] == pytest.approx(table["lambda_max_final"].iloc[0], rel=1e-9)
    with pytest.raises(ValueError, match="n_points"):
        curvature_trajectories(task, n_points=0)
