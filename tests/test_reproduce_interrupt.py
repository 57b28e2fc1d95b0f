"""An interrupted `reproduce` leaves the previous results folder exactly as it was (it still passes
`check_manifest`), leaves no temporary files, and the next run reuses the runs it finished."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import neurosim.experiments.sweep as sweep_module
from neurosim.experiments.liu2025 import ReproduceConfig, reproduce, run_cache
from neurosim.experiments.sweep import grid, sweep
from neurosim.io import atomic_directory, check_manifest
from neurosim.rnn.tasks import CenterOutReach
from _signals import default_sigint  # noqa: E402 (tests/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]
#: 4 small runs (seconds in all); the interrupted jobs use another learning rate, so they must retrain
PREVIOUS = dataclasses.replace(ReproduceConfig.tiny(), rules=("bptt", "eprop"), seeds=(0,), label="previous")
NEW = dataclasses.replace(PREVIOUS, lr=2e-2, label="new")


def _specs(cfg: ReproduceConfig):
    return grid(cfg.rules, cfg.seeds, cfg.g0s, n_rec=cfg.n_rec, steps=cfg.steps, lr=cfg.lr,
                batch_size=cfg.batch_size, checkpoints=cfg.checkpoint_steps(), activity_l2=cfg.activity_l2,
                activity_l2_schedule=cfg.activity_l2_schedule, readout_init=cfg.readout_init, dtype=cfg.dtype)


def _previous_folder(out: Path) -> None:
    """A complete results folder of the previous configuration, with its runs in runs/."""
    from neurosim.datasets import load

    task = CenterOutReach.from_dataset(load("hatsopoulos2007"), design=PREVIOUS.design)
    with atomic_directory(out, run_id="previous") as stage:
        sweep(_specs(PREVIOUS), task, out=stage / "runs", progress=False)
        (stage / "report.md").write_text("# the previous complete result\n")


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns,
                                               hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.endswith(".tmp") or ".staging-" in p.name
            or ".old-" in p.name or p.name.startswith(".staging")]


def test_interrupts_during_training_leave_the_previous_folder_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "res"
    _previous_folder(out)
    before = _snapshot(out)
    check_manifest(out)
    real_train = sweep_module.train
    started: list[int] = []

    def train_then_interrupt(limit):
        def train(*args, **kwargs):
            if len(started) >= limit:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the next run
            started.append(1)
            return real_train(*args, **kwargs)
        return train

    n = len(_specs(NEW))
    for limit in (0, 1, 3):  # interrupted before the first run, after one, after three (cumulative)
        monkeypatch.setattr(sweep_module, "train", train_then_interrupt(limit))
        with pytest.raises(KeyboardInterrupt):
            reproduce(out, config=NEW, progress=False)
        assert _snapshot(out) == before  # not one byte or time stamp changed
        assert check_manifest(out)["run_id"] == "previous"
        assert not _leftovers(tmp_path), _leftovers(tmp_path)
        cached = sorted(p.name for p in run_cache(out).glob("*.nc")) if run_cache(out).exists() else []
        assert len(cached) == limit  # finished runs are kept for the next job ...
        assert len(started) == limit  # ... and not trained twice: each job resumed the previous one's runs
    assert limit < n
    # the previous configuration again: all its runs come from the published folder (read only) and
    # none is trained; an interrupt in the analysis still leaves the folder as it was
    monkeypatch.setattr(sweep_module, "train", train_then_interrupt(len(started)))
    monkeypatch.setattr("neurosim.experiments.liu2025.training_curves",
                        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        reproduce(out, config=PREVIOUS, progress=False)
    assert _snapshot(out) == before and not _leftovers(tmp_path)


def test_sigint_to_the_main_process_alone_stops_a_pooled_reproduce(tmp_path):
    """`kill -INT <pid>` (not the process group) during training on two pool processes: the job stops
    within seconds, its pool processes are gone, the previous folder is intact, no temporary files."""
    if shutil.which("pgrep") is None:
        pytest.skip("needs pgrep (procps) to see the pool processes")
    out = tmp_path / "res"
    _previous_folder(out)
    before = _snapshot(out)
    slow = dataclasses.replace(NEW, n_rec=32, steps=4000, label="slow")
    script = (
        "import sys\n"
        "from neurosim.experiments.liu2025 import ReproduceConfig, reproduce\n"
        "if __name__ == '__main__':\n"
        f"    cfg = ReproduceConfig(**{dataclasses.asdict(slow)!r})\n"
        "    print('start', flush=True)\n"
        "    reproduce(sys.argv[1], config=cfg, workers=2, progress=False)\n"
    )
    (tmp_path / "job.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, str(tmp_path / "job.py"), str(out)], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=default_sigint)
    try:
        assert p.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_group(p.pid)) < 3:
            time.sleep(0.2)  # the job and its two pool processes
        time.sleep(1.0)  # training now
        assert p.poll() is None and len(_group(p.pid)) >= 3
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGINT)  # the main process only
        p.wait(timeout=30)
        stopped = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode != 0 and "KeyboardInterrupt" in p.stderr.read()
    assert stopped < 10, f"took {stopped:.1f} s to stop"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group(p.pid):
        time.sleep(0.1)
    assert not _group(p.pid), "pool processes outlived the job"
    assert _snapshot(out) == before and check_manifest(out)["run_id"] == "previous"
    assert not _leftovers(tmp_path), _leftovers(tmp_path)


def _group(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


def test_float32_run_storage_gives_the_same_runs_fresh_and_reloaded(tmp_path):
    """`store_dtype="float32"` (what reproduce uses) halves the run files, and the runs a sweep returns
    are those a later sweep loads from them, bit for bit; the rounding is float32's (<= 2**-24)."""
    import numpy as np

    from neurosim.rnn.tasks import PerceptualDecision

    specs = grid(["bptt"], seeds=[0], n_rec=48, steps=3, batch_size=4, lr=1e-2)
    task = PerceptualDecision()
    fresh = sweep(specs, task, out=tmp_path / "f32", store_dtype="float32", progress=False)[specs[0].name]
    again = sweep(specs, task, out=tmp_path / "f32", store_dtype="float32", progress=False)[specs[0].name]
    double = sweep(specs, task, out=tmp_path / "f64", progress=False)[specs[0].name]
    for step in fresh.steps:
        for k, v in fresh.params(step).items():
            np.testing.assert_array_equal(again.params(step)[k], v)
            assert v.dtype == np.float64 and np.array_equal(v.astype(np.float32), v)
            np.testing.assert_allclose(v, double.params(step)[k], rtol=2.0**-24, atol=0)
    assert fresh.checkpoints.equals(double.checkpoints)  # training itself is unchanged
    size = {d: (tmp_path / d / f"{specs[0].name}.nc").stat().st_size for d in ("f32", "f64")}
    assert size["f32"] < 0.75 * size["f64"], size  # the fixed netCDF overhead is ~40 kB
    with pytest.raises(ValueError, match="store_dtype must be one of"):
        sweep(specs, task, store_dtype="float16", progress=False)
