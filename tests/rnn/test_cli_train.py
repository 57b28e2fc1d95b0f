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


TINY = ["--task", "perceptual-decision", "--steps", "3", "--n-rec", "6", "--batch-size", "2", "--checkpoints", "3",
        "--no-progress"]


def test_cli_force_starts_over_where_resume_would_conflict(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main(["train", *TINY, "--seed", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", *TINY, "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different settings (['seed'])" in err and "pass --force" in err and "resume=False" not in err
    assert R.load_run(out).seed == 0  # untouched
    assert main(["train", *TINY, "--seed", "1", "--out", str(out), "--force"]) == 0
    assert R.load_run(out).seed == 1
    assert main(["train", *TINY, "--seed", "2", "--out", str(out), "--no-resume"]) == 0
    assert R.load_run(out).seed == 2
    # the same command again resumes (here: finds the run complete) and says so
    capsys.readouterr()
    assert main(["train", *TINY, "--seed", "2", "--out", str(out)]) == 0
    assert "(resuming it)" in capsys.readouterr().err


def test_cli_truncation_is_the_tbptt_window(tmp_path):
    out = tmp_path / "t.nc"
    assert main(["train", *TINY, "--rule", "tbptt", "--truncation", "4", "--out", str(out)]) == 0
    run = R.load_run(out)
    assert run.settings["rule_options"] == {"window": 4}
    task = R.tasks.PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 6, task.n_out, seed=0, activity_l2=1e-4)
    lib = R.train(m, task, "tbptt", steps=3, lr=3e-4, batch_size=2, seed=0, checkpoints=3,
                  rule_options={"window": 4}, progress=False)
    np.testing.assert_array_equal(lib.params(3)["W_rec"], run.params(3)["W_rec"])


def test_every_help_shows_defaults(capsys):
    import pytest

    for argv in (["train"], ["reproduce"], ["curvature"], ["datasets", "fetch"], ["datasets", "list"]):
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--help"])
        assert stop.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: " in text, argv
        assert "--window" not in text  # renamed --truncation (the old spelling is refused)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--steps STEPS Adam updates (default: 1000)" in text and "--truncation K" in text


def test_cli_train_says_what_it_is_doing(tmp_path, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path / "r.nc")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("neurosim train: training bptt on perceptual-decision, N=6, 3 steps -> ")
    assert err[-1].startswith("neurosim train: done in ")


def test_cli_trains_the_cell_type_rules_with_dale(tmp_path, capsys):
    # modprop and mdgl need cell types: --dale gives them; without it the error says so
    assert main(["train", "--task", "perceptual-decision", "--rule", "modprop", "--steps", "2", "--n-rec", "10",
                 "--batch-size", "4", "--checkpoints", "2", "--no-progress"]) == 2
    assert "--dale" in capsys.readouterr().err
    out = tmp_path / "m.nc"
    assert main(["train", "--task", "perceptual-decision", "--rule", "modprop", "--dale", "--mu", "0.3",
                 "--cell-types", "ei", "--steps", "2", "--n-rec", "10", "--batch-size", "4", "--checkpoints", "2",
                 "--out", str(out), "--no-progress"]) == 0
    run = R.load_run(out)
    assert run.config["rule"] == "modprop" and run.config["rule_options"] == {"mu": 0.3, "cell_types": "ei"}
    assert main(["train", "--task", "perceptual-decision", "--rule", "mdgl", "--dale", "--steps", "1",
                 "--n-rec", "10", "--batch-size", "4", "--checkpoints", "1", "--no-progress"]) == 0
    assert main(["train", "--task", "perceptual-decision", "--rule", "modprop", "--dale", "--mu", "-1",
                 "--steps", "1", "--no-progress"]) == 2
    assert "--mu must be > 0" in capsys.readouterr().err


def test_cli_curvature_on_digits_takes_the_digits_defaults(tmp_path, monkeypatch, capsys):
    # unset options take the digits experiment's defaults; options given on the command line win
    import neurosim.cli as cli

    seen = {}

    def fake(args, task, heldout, rules):
        seen.update(task=task.name, n_train=getattr(task, "n_train", None), rules=rules, n_rec=args.n_rec, truncation=args.truncation,
                    target=args.target_accuracy, dale=args.model_options.get("dale"), steps=args.steps)
        return 0

    monkeypatch.setattr(cli, "_curvature_locked", fake)
    assert main(["curvature", "--task", "digits", "--steps", "7", "--out", str(tmp_path / "c")]) == 0
    assert seen == {"task": "digits", "n_train": 300, "rules": ("bptt", "tbptt", "eprop", "eprop-random", "modprop",
                                                                  "mdgl"),
                    "n_rec": 64, "truncation": 25, "target": 0.7, "dale": True, "steps": 7}
    assert main(["curvature", "--task", "perceptual-decision", "--out", str(tmp_path / "d")]) == 0
    assert seen["n_rec"] == 32 and seen["truncation"] == 20 and seen["dale"] is None
