"""`neurosim train` on the command line."""

from __future__ import annotations

import numpy as np

import neurosim.rnn as R
from neurosim.cli import main


def test_cli_train_writes_a_resumable_run(tmp_path, capsys):
    out = tmp_path / "run.nc"
    argv = ["train", "--task", "perceptual-decision", "--rule", "eprop", "--steps", "4", "--n-rec", "8",
            "--batch-size", "3", "--lr", "1e-3", "--seed", "2", "--checkpoints", "4", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    run = R.load_run(out)
    assert run.rule == "eprop" and run.seed == 2 and run.config["n_rec"] == 8
    assert "saved to" in capsys.readouterr().out
    # the same run through the library is identical
    task = R.tasks.PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 8, task.n_out, seed=0, activity_l2=1e-4)
    lib = R.train(m, task, "eprop", steps=4, lr=1e-3, batch_size=3, seed=2, checkpoints=4, progress=False)
    np.testing.assert_array_equal(lib.params(4)["W_rec"], run.params(4)["W_rec"])


def test_cli_train_reports_bad_arguments(capsys):
    assert main(["train", "--task", "center-outt", "--no-progress"]) == 2
    assert "Did you mean 'center-out'" in capsys.readouterr().err
