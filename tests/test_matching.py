"""Accuracy matching: first crossing, nearest within tolerance, unreached levels, ties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurosim.matching import match_accuracy, run_table


def _table(steps, acc, **attrs):
    t = pd.DataFrame({"step": steps, "accuracy": acc, "loss": np.linspace(1, 0, len(steps))})
    t.attrs.update(attrs)
    return t


class FakeRun:
    """Duck-typed neurosim.rnn.Run: checkpoints, rule, seed, config."""

    def __init__(self, table, rule, seed, g0):
        self.checkpoints = table
        self.rule, self.seed = rule, seed
        self.config = {"g0": g0, "n_rec": 20, "activation": "retanh", "weights": np.zeros(3)}


def test_first_crossing_and_never_reached():
    t = _table([0, 50, 100, 150], [0.1, 0.5, 0.82, 0.97])
    m = match_accuracy({"r": t}, levels=(0.8, 0.9, 0.99))
    assert m["reached"].tolist() == [True, True, False]
    assert m["step"].tolist()[:2] == [100, 150]
    assert m["step"].isna().tolist() == [False, False, True]
    assert m["accuracy"].tolist()[:2] == [0.82, 0.97]
    assert np.isnan(m["accuracy"].iloc[2])


def test_non_monotone_keeps_first_crossing():
    # crosses 0.8 at step 20, dips, reaches 0.8 again later: first crossing wins
    t = _table([0, 10, 20, 30, 40], [0.2, 0.6, 0.85, 0.5, 0.81])
    assert match_accuracy({"r": t}, 0.8)["step"].tolist() == [20]
    # nearest: 0.81 at step 40 is closer to 0.8 than 0.85 at step 20
    near = match_accuracy({"r": t}, 0.8, method="nearest", tolerance=0.05)
    assert near["step"].tolist() == [40]
    assert near["accuracy"].tolist() == [0.81]


def test_unsorted_checkpoints_are_sorted_by_step():
    t = _table([30, 0, 20, 10], [0.95, 0.1, 0.9, 0.5])
    assert match_accuracy({"r": t}, 0.9)["step"].tolist() == [20]


def test_nearest_ties_go_to_earliest_step():
    t = _table([0, 10, 20, 30], [0.5, 0.88, 0.92, 0.88])
    m = match_accuracy({"r": t}, 0.9, method="nearest", tolerance=0.05)
    assert m["step"].tolist() == [10]  # 0.88 @10, 0.92 @20, 0.88 @30 all |gap|=0.02
    # outside tolerance -> not reached
    m = match_accuracy({"r": t}, 0.99, method="nearest", tolerance=0.05)
    assert not m["reached"].item()


def test_tolerance_for_first_is_slack_below_level():
    t = _table([0, 10, 20], [0.5, 0.79, 0.85])
    assert match_accuracy({"r": t}, 0.8)["step"].tolist() == [20]
    assert match_accuracy({"r": t}, 0.8, tolerance=0.015)["step"].tolist() == [10]


def test_run_objects_metadata_and_ids():
    runs = [
        FakeRun(_table([0, 10], [0.3, 0.9]), "bptt", 0, 1.0),
        FakeRun(_table([0, 10, 20], [0.3, 0.6, 0.85]), "eprop", 0, 1.0),
    ]
    m = match_accuracy(runs, levels=(0.8,))
    assert m["run"].tolist() == ["bptt-g1.0-s0", "eprop-g1.0-s0"]
    assert m["rule"].tolist() == ["bptt", "eprop"]
    assert m["g0"].tolist() == [1.0, 1.0]
    assert m["step"].tolist() == [10, 20]
    assert "weights" not in m.columns  # non-scalar config entries are not metadata
    assert run_table(runs)["n_rec"].tolist() == [20, 20]


def test_duplicate_ids_are_disambiguated_deterministically():
    runs = [FakeRun(_table([0], [0.9]), "bptt", 0, 1.0) for _ in range(2)]
    assert match_accuracy(runs, 0.5)["run"].tolist() == ["bptt-g1.0-s0#1", "bptt-g1.0-s0#2"]


@pytest.mark.parametrize(
    "bad, match",
    [
        (pd.DataFrame({"step": [0, 1]}), "accuracy"),
        (pd.DataFrame({"step": [0, 0], "accuracy": [0.1, 0.2]}), "duplicate"),
        (pd.DataFrame({"step": [0, 1], "accuracy": [0.1, np.nan]}), "NaN"),
        (pd.DataFrame({"step": [], "accuracy": []}), "empty"),
    ],
)
def test_bad_tables(bad, match):
    with pytest.raises(ValueError, match=match):
        match_accuracy({"r": bad}, 0.5)


def test_bad_arguments():
    t = _table([0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="method"):
        match_accuracy({"r": t}, 0.5, method="closest")
    with pytest.raises(ValueError, match="tolerance"):
        match_accuracy({"r": t}, 0.5, tolerance=-1)
    with pytest.raises(ValueError, match="levels"):
        match_accuracy({"r": t}, [])
    with pytest.raises(TypeError, match="checkpoints"):
        match_accuracy({"r": [1, 2, 3]}, 0.5)


def test_accuracy_matched_refuses_a_string_for_progress():
    from neurosim.matching import accuracy_matched

    with pytest.raises(TypeError, match="progress"):
        accuracy_matched({}, None, progress="no")
