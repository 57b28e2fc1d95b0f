"""Bad-input battery (io, datasets, trainer, CLI) and fault tests (kill / resume, concurrent writers).

The rule for every bad input: a clear ``ValueError`` / ``TypeError`` (or the named subclass) whose
message names the argument, or, on the command line, exactly one line on stderr, exit status 2 and
no traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurosim.rnn as R
from neurosim import datasets
from neurosim import io as nio
from neurosim.cli import main
from neurosim.rnn.tasks import PerceptualDecision
from neurosim.rnn.train import ResumeConflict
from _signals import default_sigint  # noqa: E402 (tests/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]
EMB = "hatsopoulos2007_m1_center_out.npz"
TINY = ["--task", "perceptual-decision", "--steps", "3", "--n-rec", "4", "--batch-size", "2",
        "--checkpoints", "3", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad files to feed the readers: garbage, a truncated netCDF, a real run, a plain file."""
    d = tmp_path_factory.mktemp("battery")
    (d / "garbage.nc").write_bytes(b"this is not netCDF at all\n" * 4)
    good = nio.save(xr.Dataset({"x": ("i", np.arange(50.0))}), d / "good.nc")
    (d / "truncated.nc").write_bytes(good.read_bytes()[:600])
    (d / "afile").write_text("a plain file\n")
    (d / "folder").mkdir()
    task = PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 4, task.n_out, seed=0, activity_l2=1e-4)
    R.train(m, task, "bptt", steps=3, lr=3e-4, batch_size=2, seed=0, checkpoints=3, out=d / "run.nc",
            progress=False)
    return d


def _model():
    task = PerceptualDecision()
    return R.LeakyRNN(task.n_in, 4, task.n_out, seed=0), task


def _train(**kw):
    m, task = _model()
    model, task = kw.pop("model", m), kw.pop("task", task)
    args = dict(steps=2, batch_size=2, progress=False)
    args.update(kw)
    return R.train(model, task, **args)


def _manifest_folder(d: Path, name: str) -> Path:
    out = d / name
    with nio.atomic_directory(out, run_id="r1") as stage:
        (stage / "report.md").write_text("# report\n")
        (stage / "results.csv").write_text("a\n1\n")
    return out


# ----------------------------------------------------------------------------- library battery
# (label, call(files) -> anything, expected exception, regex the message must match)
LIB_CASES = [
    # io
    ("io.load garbage", lambda d: nio.load(d / "garbage.nc"), ValueError, r"garbage\.nc is not a netCDF file"),
    ("io.load truncated", lambda d: nio.load(d / "truncated.nc"), ValueError, r"truncated\.nc .*truncated or corrupt"),
    ("io.load missing", lambda d: nio.load(d / "nope.nc"), FileNotFoundError, r"no such file: .*nope\.nc"),
    ("io.load folder", lambda d: nio.load(d / "folder"), IsADirectoryError, r"folder is a folder"),
    ("io.save ndarray", lambda d: nio.save(np.ones(3), d / "x.nc"), TypeError, r"DataArray or Dataset; got ndarray"),
    ("io.save list", lambda d: nio.save([1, 2], d / "x.nc"), TypeError, r"DataArray or Dataset; got list"),
    ("io.save dict attr", lambda d: nio.save(xr.DataArray([1.0], dims="i", attrs={"cfg": {"a": 1}}), d / "x.nc"),
     TypeError, r"attribute 'cfg'.*json\.dumps"),
    ("io.save nested list attr", lambda d: nio.save(xr.DataArray([1.0], dims="i", attrs={"m": [[1, 2]]}), d / "x.nc"),
     TypeError, r"attribute 'm'.*flat list"),
    ("io.save complex attr", lambda d: nio.save(xr.DataArray([1.0], dims="i", attrs={"z": 1j}), d / "x.nc"),
     TypeError, r"attribute 'z'"),
    ("io.save NUL attr", lambda d: nio.save(xr.DataArray([1.0], dims="i", attrs={"s": "a\x00b"}), d / "x.nc"),
     ValueError, r"attribute 's'.*NUL"),
    ("io.save int attr key", lambda d: nio.save(xr.DataArray([1.0], dims="i", attrs={3: "x"}), d / "x.nc"),
     TypeError, r"attribute names must be str"),
    ("io.save onto folder", lambda d: nio.save(xr.DataArray([1.0], dims="i"), d / "folder"),
     ValueError, r"path=.*folder' is a folder, not a file"),
    ("io.save below a file", lambda d: nio.save(xr.DataArray([1.0], dims="i"), d / "afile" / "x.nc"),
     ValueError, r"lies inside .*afile', which is a file"),
    ("io.atomic_directory onto file", lambda d: nio.atomic_directory(d / "afile").__enter__(),
     ValueError, r"path=.*afile' is a file, not a folder"),
    ("io.check_output_folder below file", lambda d: nio.check_output_folder(d / "afile" / "res", "out"),
     ValueError, r"out=.*which is a file"),
    ("io.check_output_file folder", lambda d: nio.check_output_file(d / "folder", "out"),
     ValueError, r"out=.*is a folder"),
    ("io.check_manifest no folder", lambda d: nio.check_manifest(d / "nothing"), FileNotFoundError,
     r"no such results folder"),
    ("io.check_manifest no manifest", lambda d: nio.check_manifest(d / "folder"), FileNotFoundError,
     r"has no MANIFEST\.json"),
    ("io.check_manifest mixed", lambda d: (lambda f: ((f / "extra.csv").write_text("x"), nio.check_manifest(f)))(
        _manifest_folder(d, "mixed")), ValueError, r"extra\.csv: not listed"),
    ("io.check_manifest changed", lambda d: (lambda f: ((f / "report.md").write_text("# other run\n"),
                                                        nio.check_manifest(f)))(_manifest_folder(d, "changed")),
     ValueError, r"report\.md: changed"),
    ("io.check_manifest missing file", lambda d: (lambda f: ((f / "results.csv").unlink(), nio.check_manifest(f)))(
        _manifest_folder(d, "partial")), ValueError, r"results\.csv: missing"),
    ("io.atomic_directory own manifest", lambda d: _write_own_manifest(d), ValueError,
     r"MANIFEST\.json is written by atomic_directory"),
    # datasets
    ("datasets.load typo", lambda d: datasets.load("hatsopoulos"), ValueError, r"did you mean 'hatsopoulos2007'"),
    ("datasets.load empty", lambda d: datasets.load(""), ValueError, r"unknown dataset ''"),
    ("datasets.load int", lambda d: datasets.load(7), ValueError, r"unknown dataset 7"),
    ("datasets.verify typo", lambda d: datasets.verify("kriegeskorte"), ValueError, r"did you mean 'kriegeskorte2008'"),
    ("datasets.fetch typo", lambda d: datasets.fetch("churchland"), ValueError, r"did you mean 'churchland2012_tme'"),
    ("datasets.find typo", lambda d: datasets.find("hats2007"), ValueError, r"unknown dataset 'hats2007'"),
    ("datasets.find empty path", lambda d: datasets.find("churchland2012_tme", d / "folder"), FileNotFoundError,
     r"neurosim datasets fetch churchland2012_tme"),
    ("datasets.load wrong file", lambda d: datasets.load("hatsopoulos2007", d / "afile"), ValueError,
     r"afile is not a file of dataset 'hatsopoulos2007'"),
    ("datasets.load corrupt", lambda d: datasets.load("hatsopoulos2007", _corrupt_copy(d)), ValueError,
     r"fails its checksum"),
    ("datasets.get None", lambda d: datasets.get(None), ValueError, r"unknown dataset None"),
    # trainer: train()
    ("train seed=-1", lambda d: _train(seed=-1), ValueError, r"seed must be an integer >= 0; got -1"),
    ("train seed=None", lambda d: _train(seed=None), TypeError, r"seed must be an integer >= 0; got None"),
    ("train seed=1.5", lambda d: _train(seed=1.5), TypeError, r"seed must be an integer"),
    ("train seed='0'", lambda d: _train(seed="0"), TypeError, r"seed must be an integer"),
    ("train seed=True", lambda d: _train(seed=True), TypeError, r"seed must be an integer"),
    ("train steps=-1", lambda d: _train(steps=-1), ValueError, r"steps must be a non-negative integer"),
    ("train steps=2.5", lambda d: _train(steps=2.5), ValueError, r"steps must be a non-negative integer"),
    ("train lr=0", lambda d: _train(lr=0), ValueError, r"lr must be a positive finite number; got 0"),
    ("train lr=nan", lambda d: _train(lr=float("nan")), ValueError, r"lr must be a positive finite number"),
    ("train lr='x'", lambda d: _train(lr="x"), TypeError, r"lr must be a positive number"),
    ("train batch_size=0", lambda d: _train(batch_size=0), ValueError, r"batch_size must be an integer >= 1"),
    ("train batch_size=None", lambda d: _train(batch_size=None), TypeError, r"batch_size must be an integer"),
    ("train clip=-1", lambda d: _train(clip=-1.0), ValueError, r"clip must be a positive finite number"),
    ("train rule typo", lambda d: _train(rule="bpt"), ValueError, r"bpt.*[Dd]id you mean 'bptt'"),
    ("train tbptt no window", lambda d: _train(rule="tbptt"), TypeError, r"window"),
    ("train checkpoints<0", lambda d: _train(checkpoints=[-1, 1]), ValueError, r"checkpoints must lie in"),
    ("train checkpoints>steps", lambda d: _train(checkpoints=[0, 9]), ValueError, r"checkpoints must lie in"),
    ("train out=folder", lambda d: _train(out=d / "folder"), ValueError, r"out=.*folder' is a folder, not a file"),
    ("train out below file", lambda d: _train(out=d / "afile" / "run.nc"), ValueError, r"out=.*which is a file"),
    ("train out=garbage", lambda d: _train(out=d / "garbage.nc"), ResumeConflict,
     r"garbage\.nc exists but is not a neurosim run.*resume=False"),
    ("train out=other settings", lambda d: _train(out=d / "run.nc", steps=3, checkpoints=3, seed=5), ResumeConflict,
     r"different settings \(\[.*'seed'.*\]\); pass resume=False"),
    ("train model=str", lambda d: R.train("net", PerceptualDecision(), steps=1), TypeError, r"model must be"),
    ("train task=str", lambda d: R.train(_model()[0], "task", steps=1), TypeError, r"task must be"),
    ("train n_in mismatch", lambda d: R.train(R.LeakyRNN(2, 4, 1), PerceptualDecision(), steps=1), ValueError,
     r"n_in=2"),
    ("train record name", lambda d: _train(record={"not an id": lambda m, t: 0.0}), ValueError,
     r"record names must be identifiers"),
    ("train record clash", lambda d: _train(record={"loss": lambda m, t: 0.0}), ValueError, r"record name 'loss'"),
    ("train record value", lambda d: _train(record={"x": 3}), TypeError, r"record\['x'\] must be a callable"),
    # trainer: LeakyRNN and tasks
    ("LeakyRNN n_rec=0", lambda d: R.LeakyRNN(3, 0, 1), ValueError, r"n_rec must be a positive integer"),
    ("LeakyRNN n_in=-1", lambda d: R.LeakyRNN(-1, 4, 1), ValueError, r"n_in must be a positive integer"),
    ("LeakyRNN activation", lambda d: R.LeakyRNN(3, 4, 1, activation="tanhh"), ValueError,
     r"unknown activation 'tanhh'"),
    ("LeakyRNN tau<dt", lambda d: R.LeakyRNN(3, 4, 1, tau=0.5), ValueError, r"dt <= tau"),
    ("LeakyRNN connectivity", lambda d: R.LeakyRNN(3, 4, 1, connectivity=0.0), ValueError, r"connectivity"),
    ("LeakyRNN g0<0", lambda d: R.LeakyRNN(3, 4, 1, g0=-1.0), ValueError, r"g0 must be non-negative"),
    ("tasks.make typo", lambda d: R.tasks.make("center-outt"), ValueError, r"unknown task 'center-outt'"),
    ("PerceptualDecision noise", lambda d: PerceptualDecision(noise=-1.0), ValueError, r"noise must be >= 0"),
    ("PerceptualDecision coherences", lambda d: PerceptualDecision(coherences=[-0.1]), ValueError, r"coherences"),
    ("task.batch size 0", lambda d: PerceptualDecision().batch(0, np.random.default_rng(0)), ValueError,
     r"batch_size must be a positive integer"),
    ("task.batch rng", lambda d: PerceptualDecision().batch(2, "seed"), TypeError, r"rng must be"),
    ("task.accuracy shape", lambda d: (lambda t: t.accuracy(np.zeros((1, 1, 1)), t.conditions()))(
        PerceptualDecision()), ValueError, r"outputs must have the targets' shape"),
]


def _write_own_manifest(d: Path):
    with nio.atomic_directory(d / "own") as stage:
        (stage / "MANIFEST.json").write_text("{}")


def _corrupt_copy(d: Path) -> Path:
    raw = bytearray((datasets.embedded_dir() / EMB).read_bytes())
    raw[len(raw) // 3] ^= 0x10
    (d / "corrupt").mkdir(exist_ok=True)
    (d / "corrupt" / EMB).write_bytes(bytes(raw))
    return d / "corrupt"


@pytest.mark.parametrize("label,call,exc,pattern", LIB_CASES, ids=[c[0] for c in LIB_CASES])
def test_library_bad_input_gets_a_clear_error(files, label, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(files)


def test_failed_library_calls_leave_no_files_behind(files):
    """After the battery: no temporary or staging leftovers, and no folder half-written."""
    leftovers = [p.name for p in files.rglob("*") if p.name.endswith(".tmp") or ".staging-" in p.name
                 or ".old-" in p.name]
    assert leftovers == []
    assert not (files / "own").exists()


# ----------------------------------------------------------------------------- CLI battery
def _cli_cases(d: Path) -> list[tuple[str, list[str], str]]:
    """(label, argv, regex of the one stderr line)."""
    return [
        ("train --out garbage", ["train", *TINY, "--out", str(d / "garbage.nc")],
         r"garbage\.nc exists but is not a neurosim run.*--force"),
        ("train --out folder", ["train", *TINY, "--out", str(d / "folder")], r"--out=.*is a folder, not a file"),
        ("train --out below file", ["train", *TINY, "--out", str(d / "afile" / "r.nc")], r"which is a file"),
        ("train resume other settings", ["train", *TINY, "--seed", "4", "--out", str(d / "run.nc")],
         r"different settings.*pass --force to overwrite it"),
        ("train --seed -1", ["train", *TINY, "--seed", "-1"], r"--seed must be >= 0; got -1"),
        ("train --init-seed -2", ["train", *TINY, "--init-seed", "-2"], r"--init-seed must be >= 0"),
        ("train --steps -1", ["train", *TINY, "--steps", "-1"], r"--steps must be >= 0"),
        ("train --lr 0", ["train", *TINY, "--lr", "0"], r"--lr must be > 0"),
        ("train --tau 0", ["train", *TINY, "--tau", "0"], r"--tau must be > 0"),
        ("train --batch-size 0", ["train", *TINY, "--batch-size", "0"], r"--batch-size must be >= 1"),
        ("train --n-rec 0", ["train", *TINY, "--n-rec", "0"], r"--n-rec must be >= 1"),
        ("train --checkpoints 0", ["train", *TINY, "--checkpoints", "0"], r"--checkpoints must be >= 1"),
        ("train --task typo", ["train", "--task", "center-outt", "--no-progress"], r"Did you mean 'center-out'"),
        ("train --rule typo", ["train", *TINY, "--rule", "bpt"], r"bpt.*bptt"),
        ("train --activation typo", ["train", *TINY, "--activation", "tanhh"], r"unknown activation 'tanhh'"),
        ("train tbptt no K", ["train", *TINY, "--rule", "tbptt"], r"--rule tbptt needs --truncation K"),
        ("train --window", ["train", *TINY, "--window", "5"], r"--window was renamed --truncation"),
        ("train --steps x", ["train", "--steps", "x"], r"argument --steps: invalid int value: 'x'"),
        ("train --lr abc", ["train", "--lr", "abc"], r"argument --lr: invalid float value"),
        ("train unknown flag", ["train", "--speed", "3"], r"unrecognized arguments: --speed"),
        ("unknown command", ["frobnicate"], r"invalid choice: 'frobnicate'"),
        ("datasets verify typo", ["datasets", "verify", "hatsopulos"], r"did you mean 'hatsopoulos2007'"),
        ("datasets fetch typo", ["datasets", "fetch", "kriegeskorte"], r"did you mean 'kriegeskorte2008'"),
        ("datasets bad action", ["datasets", "show"], r"invalid choice: 'show'"),
        ("reproduce --out file", ["reproduce", "--out", str(d / "afile"), "--quiet"],
         r"--out=.*afile' is a file, not a folder"),
        ("reproduce --out below file", ["reproduce", "--out", str(d / "afile" / "res"), "--quiet"],
         r"which is a file"),
        ("reproduce --workers 0", ["reproduce", "--out", str(d / "res"), "--workers", "0"], r"--workers must be >= 1"),
        ("curvature --out file", ["curvature", "--out", str(d / "afile")], r"--out=.*afile' is a file, not a folder"),
        ("curvature --seeds 0", ["curvature", "--out", str(d / "cv"), "--seeds", "0"], r"--seeds must be >= 1"),
        ("curvature --window", ["curvature", "--window", "5"], r"--window was renamed --truncation"),
        ("curvature --target-accuracy 2", ["curvature", "--out", str(d / "cv"), "--target-accuracy", "2"],
         r"--target-accuracy must be in \(0, 1\]"),
        ("curvature --rules typo", ["curvature", "--out", str(d / "cv"), "--rules", "bpt", "--seeds", "1",
                                    "--steps", "1", "--n-rec", "2", "--jobs", "1"], r"[Dd]id you mean 'bptt'"),
    ]


def _assert_one_line_error(code, err: str, pattern: str) -> None:
    """Exit 2, no traceback, the error in one line (last); before it at most a phase line."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    errors = [ln for ln in lines if ": error: " in ln]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert errors[0].startswith("neurosim"), errors[0]
    assert all(ln.startswith("neurosim ") and ":" in ln for ln in lines[:-1]) and len(lines) <= 2, lines
    assert re.search(pattern, errors[0]), (pattern, errors[0])


def _run_main(argv):
    try:
        return main(argv)
    except SystemExit as stop:  # argparse usage errors
        return stop.code


@pytest.mark.parametrize("index", range(32))
def test_cli_bad_input_is_one_line_exit_2(files, capsys, index):
    label, argv, pattern = _cli_cases(files)[index]
    code = _run_main(argv)
    _assert_one_line_error(code, capsys.readouterr().err, pattern)


def test_cli_case_count_matches():
    assert len(_cli_cases(Path("/x"))) == 32


def test_cli_errors_in_real_processes(files):
    """The same errors from `python -m neurosim`: no traceback escapes the process."""
    picked = ["train --out garbage", "curvature --out file"]
    cases = {c[0]: c for c in _cli_cases(files)}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("NEUROSIM_DEBUG", None)
    procs = [(cases[k], subprocess.Popen([sys.executable, "-m", "neurosim", *cases[k][1]], cwd=files, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
             for k in picked]
    for (label, _, pattern), p in procs:
        _, err = p.communicate(timeout=120)
        _assert_one_line_error(p.returncode, err, pattern)


@contextlib.contextmanager
def _lock_held_elsewhere(lock_file):
    """Another process holds the OS file lock ``lock_file`` for the duration of the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, filelock; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
                               "print('held', flush=True); time.sleep(60)", str(lock_file)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_second_writer_of_a_run_gets_a_clear_error(files, capsys):
    """A process holding the run's lock (as a running `neurosim train` does) blocks a second writer."""
    out = files / "locked.nc"
    with _lock_held_elsewhere(files / ".locked.nc.lock"):
        code = _run_main(["train", *TINY, "--seed", "1", "--out", str(out)])
        _assert_one_line_error(code, capsys.readouterr().err, r"locked\.nc is being written by another process")
        with pytest.raises(nio.LockError, match="another process"):
            _train(out=out)
        with pytest.raises(nio.LockError):
            with nio.atomic_directory(files / "locked.nc"):
                pass
        assert not out.exists()
    # once the holder is gone, the same command works
    assert _run_main(["train", *TINY, "--seed", "1", "--out", str(out)]) == 0
    assert R.load_run(out).seed == 1


# ----------------------------------------------------------------------------- kill / resume
def test_sigkill_mid_training_then_resume_is_bit_identical_and_leaves_no_temp_files(tmp_path):
    out = tmp_path / "run.nc"
    argv = ["train", "--task", "perceptual-decision", "--rule", "eprop", "--steps", "300", "--n-rec", "16",
            "--batch-size", "8", "--lr", "1e-3", "--seed", "3", "--checkpoints", "60", "--no-progress",
            "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-m", "neurosim", *argv], cwd=tmp_path, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        done = []
        while time.monotonic() < deadline and p.poll() is None:
            if out.exists():
                try:
                    done = R.load_run(out).steps
                except (ValueError, OSError):
                    done = []
                if len(done) >= 8:
                    break
            time.sleep(0.05)
        assert p.poll() is None, "training finished before it could be killed; make it longer"
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait()
    killed = R.load_run(out)
    assert not killed.complete and 8 <= len(killed.steps) and killed.steps[-1] < 300
    # a stale temporary file of a writer that no longer exists, as a kill during a save leaves
    (tmp_path / f".run.nc.{p.pid}.0badf00d.tmp").write_bytes(b"\0" * 1024)
    assert main(argv) == 0
    resumed = R.load_run(out)
    task = PerceptualDecision()
    m = R.LeakyRNN(task.n_in, 16, task.n_out, seed=0, activity_l2=1e-4)
    ref = R.train(m, task, "eprop", steps=300, lr=1e-3, batch_size=8, seed=3, checkpoints=60, progress=False)
    assert resumed.complete and resumed.steps == ref.steps
    for s in ref.steps:
        for k, v in ref.params(s).items():
            np.testing.assert_array_equal(resumed.params(s)[k], v)
    assert resumed.checkpoints.equals(ref.checkpoints)
    left = sorted(q.name for q in tmp_path.iterdir())
    assert left == [".run.nc.lock", "run.nc"], left


def test_reproduce_cli_holds_the_folder_lock_and_clears_dead_staging(tmp_path, monkeypatch, capsys):
    """`neurosim reproduce` is one writer per folder and removes what a killed write phase left."""
    import neurosim.cli as cli

    out = tmp_path / "res"
    (out / ".staging-k1ll3d00").mkdir(parents=True)
    (out / ".staging-k1ll3d00" / "results.csv").write_text("partial")
    (out / "report.md").write_text("# previous run\n")
    seen = {}

    def fake_reproduce(folder, **kwargs):
        seen["inside"] = sorted(p.name for p in Path(folder).iterdir())
        probe = subprocess.run([sys.executable, "-c", "import sys, filelock; filelock.FileLock(sys.argv[1], "
                                "timeout=0).acquire()", str(tmp_path / ".res.lock")], capture_output=True, text=True)
        seen["second writer blocked"] = probe.returncode != 0 and "Timeout" in probe.stderr
        return {"files": [], "folder": Path(folder), "timings": {"total": 0.0}}

    monkeypatch.setattr(cli, "reproduce", fake_reproduce)
    assert main(["reproduce", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    assert seen == {"inside": ["report.md"], "second writer blocked": True}
    assert capsys.readouterr().err.startswith("neurosim reproduce: training, scoring against M1")


def test_reproduce_library_call_holds_the_folder_lock_for_the_whole_job(tmp_path):
    """`reproduce()` itself (not only the CLI) is one writer per folder: a second process holding the
    folder's lock stops it before it trains or touches the run cache."""
    from neurosim.experiments.liu2025 import ReproduceConfig, reproduce

    out = tmp_path / "res"
    with _lock_held_elsewhere(tmp_path / ".res.lock"):
        with pytest.raises(nio.LockError, match="another process"):
            reproduce(out, config=ReproduceConfig.tiny(), progress=False)
        assert not out.exists()


def test_ctrl_c_during_a_pooled_sweep_stops_every_process_and_leaves_whole_runs(tmp_path):
    """SIGINT to the process group (what Ctrl-C sends) during `sweep(..., workers=2)`: the sweep
    stops, its pool processes exit, and `out` holds only complete run files (no temporaries)."""
    if shutil.which("pgrep") is None:
        pytest.skip("needs pgrep (procps) to see the pool processes")
    out = tmp_path / "runs"
    script = (
        "import sys\n"
        "from neurosim.experiments.sweep import grid, sweep\n"
        "from neurosim.rnn.tasks import PerceptualDecision\n"
        "if __name__ == '__main__':\n"
        "    specs = grid(['bptt', 'eprop'], seeds=range(4), n_rec=24, steps=4000, batch_size=8, lr=1e-3)\n"
        "    print('start', flush=True)\n"
        "    sweep(specs, PerceptualDecision(), out=sys.argv[1], workers=2, progress=False)\n"
    )
    (tmp_path / "pooled.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, str(tmp_path / "pooled.py"), str(out)], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=default_sigint)
    try:
        assert p.stdout.readline().strip() == "start"
        time.sleep(4.0)  # the pool processes are training by now
        assert p.poll() is None, "the sweep finished before it could be interrupted; make it longer"
        children = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 3  # the sweep and its two pool processes
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode != 0 and "KeyboardInterrupt" in p.stderr.read()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-g", str(p.pid)]).returncode == 0:
        time.sleep(0.1)
    assert subprocess.run(["pgrep", "-g", str(p.pid)]).returncode != 0, "pool processes outlived the sweep"
    left = sorted(q.name for q in out.iterdir()) if out.exists() else []
    assert not [n for n in left if not n.endswith(".nc") or n.startswith(".")], left
    for name in left:  # whatever was written is a whole, loadable run
        assert R.load_run(out / name).complete
