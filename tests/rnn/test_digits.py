"""The sequential-digits task: real images, a fixed split, the task interface, generalization."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

import neurosim.rnn as R
from neurosim.rnn.analysis.generalization import generalization_gap
from neurosim.rnn.tasks import Digits, from_config, make


def test_rows_are_presented_in_order_and_held():
    task = Digits(hold=3, response=2)
    b = task.conditions()
    img = load_digits().images / 16.0
    i = 7
    k = int(b.conditions.get_level_values("image")[i])
    assert b.inputs.shape[1] == 8 * 3 + 2 == task.T
    for row in range(8):
        for s in range(3):
            np.testing.assert_array_equal(b.inputs[i, row * 3 + s], img[k, row])
    assert np.all(b.inputs[:, 24:] == 0)
    assert np.all(b.mask[:, :24] == 0) and np.all(b.mask[:, 24:] == 1)
    assert b.conditions.get_level_values("digit")[i] == load_digits().target[k]
    assert np.all(b.targets.argmax(-1) == b.info["digit"][:, None])


def test_split_is_fixed_stratified_and_disjoint():
    tr, te = Digits(), Digits(split="test")
    a, b = set(tr.indices), set(te.indices)
    assert not a & b and len(a | b) == 1797
    assert np.array_equal(Digits().indices, tr.indices)
    assert not np.array_equal(Digits(split_seed=1).indices, tr.indices)
    counts = np.bincount(te.conditions().info["digit"], minlength=10)
    assert counts.min() >= 50  # every digit is held out in proportion
    assert np.array_equal(Digits(n_train=100).indices, tr.indices[:100])
    assert np.array_equal(tr.test_task().indices, te.indices)


def test_batches_draw_from_their_split_reproducibly():
    task = Digits(n_train=50, noise=0.1)
    b1 = task.batch(64, np.random.default_rng(3))
    b2 = task.batch(64, np.random.default_rng(3))
    np.testing.assert_array_equal(b1.inputs, b2.inputs)
    assert set(b1.info["image"]) <= set(task.indices)
    assert not np.allclose(b1.inputs[:, :40], np.repeat(load_digits().images[b1.info["image"]] / 16.0, 5, axis=1))


def test_accuracy_uses_the_response_period():
    task = Digits(split="test")
    b = task.conditions()
    assert task.accuracy(b.targets, b) == 1.0
    y = np.roll(b.targets, 1, axis=-1)
    assert task.accuracy(y, b) == 0.0
    y2 = b.targets.copy()
    y2[:, :40] = np.roll(y2[:, :40], 1, axis=-1)      # wrong before the response: ignored
    assert task.accuracy(y2, b) == 1.0


def test_config_round_trip_and_make():
    t = Digits(hold=4, n_train=300, split="test")
    back = from_config(t.config())
    assert back.config() == t.config() and np.array_equal(back.indices, t.indices)
    assert make("digits").n_in == 8


def test_bad_arguments():
    with pytest.raises(ValueError, match="hold"):
        Digits(hold=0)
    with pytest.raises(ValueError, match="split"):
        Digits(split="val")
    with pytest.raises(ValueError, match="n_train"):
        Digits(n_train=5)


def test_training_learns_and_the_gap_is_measured_on_held_out_images():
    task = Digits(n_train=100)
    m = R.LeakyRNN(task.n_in, 24, task.n_out, seed=0)
    run = R.train(m, task, rule="bptt", steps=150, lr=1e-2, batch_size=32, checkpoints=[0, 150], progress=False)
    g = generalization_gap(run, test_task=task.test_task(), n_trials=300, input_noise=0.0)
    last = g.iloc[-1]
    assert last["train_accuracy"] > 0.5 and last["accuracy"] > 0.5
    assert last["gap_loss"] == pytest.approx(last["test_loss"] - last["train_loss"])
    assert last["gap_accuracy"] > 0  # 100 training images: held-out images are harder


def test_heldout_sets_of_digits():
    from neurosim.rnn.analysis.generalization import heldout_task

    task = Digits(n_train=100)
    test = heldout_task(task, "conditions")
    assert test.split == "test" and np.array_equal(test.indices, task.test_task().indices)
    slow = heldout_task(task, "timing")
    assert slow.hold == 10 and np.array_equal(slow.indices, task.indices)


def test_curvature_experiment_runs_on_digits_with_every_rule_family():
    from neurosim.experiments.liu2022 import check_claims, compare_rules, digits_settings

    s = digits_settings(task=Digits(n_train=40), rules=("bptt", "eprop", "modprop", "mdgl"), seeds=(0, 1), n_rec=8,
                        steps=4, batch_size=8, checkpoints=3, n_trials=16, curvature_batch=8, max_iter=50, n_jobs=1,
                        model_options={})
    table = compare_rules(**s)
    assert table["rule"].tolist() == ["bptt"] * 2 + ["eprop"] * 2 + ["modprop"] * 2 + ["mdgl"] * 2
    cols = [c for c in table.columns if c.startswith("gap_loss_")]
    assert cols[0] == "gap_loss_conditions" and "gap_loss_conditions_final" in cols
    assert table[["lambda_max", "lambda_max_final"]].notna().all().all()
    claims = check_claims(table)
    assert set(claims["claim"]) == {"larger gap", "more variable gap", "higher curvature (matched)",
                                    "higher curvature (end)", "curvature predicts gap"}
    assert set(claims["holds"]) <= {"yes", "no", "direction only (not significant)"}
    assert set(claims["rule"]) == {"eprop", "modprop", "mdgl", "all approximate", "all"}
    pooled = claims[(claims["rule"] == "all approximate") & (claims["claim"] == "higher curvature (matched)")]
    apx = table[table["rule"] != "bptt"]
    assert pooled["rule_value"].item() == pytest.approx(apx["lambda_max"].median())
    with pytest.raises(TypeError, match="unknown setting"):
        digits_settings(n_units=3)
