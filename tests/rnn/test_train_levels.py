"""Exact accuracy matching in the trainer: train(..., levels=...) stores the crossing step of each level."""

import numpy as np
import pytest

from neurosim.matching import match_accuracy
from neurosim.rnn import LeakyRNN, load_run, train
from neurosim.rnn.tasks import PerceptualDecision


def _setup():
    task = PerceptualDecision()
    return task, LeakyRNN(task.n_in, 12, task.n_out, seed=0)


def test_levels_store_the_first_crossing_step():
    task, model = _setup()
    kw = dict(steps=40, lr=1e-2, batch_size=8, seed=1, progress=False)
    dense = train(model, task, checkpoints=range(41), **kw).checkpoints   # every step: the reference
    levels = (0.6, 0.9)   # first crossings at steps 21 and 38 (neither on the grid)
    run = train(model, task, checkpoints=[0, 20, 40], levels=levels, **kw)
    ck = run.checkpoints.set_index("step")
    for lv in levels:
        hits = dense.loc[dense["accuracy"] >= lv, "step"]
        first = int(hits.iloc[0])
        assert first in ck.index   # stored although not on the grid
        assert ck.loc[first, "accuracy"] == pytest.approx(dense.set_index("step").loc[first, "accuracy"])
        m = match_accuracy({"r": run}, [lv])
        assert int(m["step"].iloc[0]) == first
    # the levels do not change training: the grid checkpoints are those of the dense run
    for step in (0, 20, 40):
        assert ck.loc[step, "accuracy"] == pytest.approx(dense.set_index("step").loc[step, "accuracy"], abs=1e-12)
    assert run.settings["levels"] == [0.6, 0.9]
    assert run.checkpoints["step"].tolist() == [0, 20, 21, 38, 40]


def test_levels_resume_gives_the_same_run(tmp_path):
    task, model = _setup()
    calls = {"n": 0, "stop_at": 3}

    def flaky(m, t):   # stops training at its third checkpoint, once
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return 0.0

    kw = dict(steps=40, lr=1e-2, batch_size=8, seed=1, progress=False, levels=(0.6, 0.9), checkpoints=[0, 20, 40],
              record={"x": flaky})
    calls["stop_at"] = -1
    whole = train(model, task, **kw)
    assert len(whole.checkpoints) > 3   # at least one crossing checkpoint besides the grid
    path = tmp_path / "r.nc"
    calls.update(n=0, stop_at=3)
    with pytest.raises(KeyboardInterrupt):
        train(model, task, out=path, **kw)
    assert load_run(path).checkpoints["step"].tolist() == [0, 20]
    again = train(model, task, out=path, **kw)
    assert again.checkpoints.equals(whole.checkpoints)


def test_levels_bad_input():
    task, model = _setup()
    with pytest.raises(TypeError, match="levels must be a sequence"):
        train(model, task, steps=2, levels="0.5", progress=False)
    with pytest.raises(ValueError, match="finite"):
        train(model, task, steps=2, levels=[np.nan], progress=False)
