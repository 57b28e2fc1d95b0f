"""Training sweeps: many (rule, seed, gain, architecture) runs, locally or on dask.

A sweep is a list of :class:`RunSpec`. Each spec builds a fresh
``neurosim.rnn.LeakyRNN`` and trains it with :func:`neurosim.rnn.train` — the
one training loop; nothing here re-implements it. With ``out=`` every finished
run is saved (atomically, by ``Run.save``) to ``out/<spec.name>.nc`` and a later
sweep into the same folder loads it instead of training again, so an interrupted
sweep resumes where it stopped.

Runs execute one after another in this process, on ``workers`` local processes
(the standard library's process pool; each run is one task), or with ``client=``
(a :class:`dask.distributed.Client`) on a dask cluster. BLAS is limited to one
thread per run (``train(..., blas_threads=1)``), so ``n`` single-threaded workers
keep ``n`` cores busy without oversubscription. On one machine the process pool is
the faster choice: measured on 2 cores, 4 runs of the default reproduce settings
took 41 s on two pool processes against 60–72 s on a two-worker dask
``LocalCluster`` (whose workers' event loop and profiler share the GIL with the
training loop).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

import numpy as np

from neurosim.datasets.checkpoints import find_checkpoint
from neurosim.io import save
from neurosim.rnn import LeakyRNN, load_run, load_torch_checkpoint, train
from neurosim.rnn.model import PARAM_NAMES
from neurosim.rnn.rules import DALE_RULES

__all__ = ["RunSpec", "grid", "sweep", "train_spec", "initial_model", "INITS"]

#: sources of a run's initial weights (:attr:`RunSpec.init`)
INITS = ("seed", "paper")


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one training run.

    The model's initialization seed, the training seed (batches, noise) and, for
    ``"eprop-random"``, the feedback matrix's seed are all ``seed``, unless ``init_seed``
    (initial weights) or ``data_seed`` (batches and noise) say otherwise. ``levels``: accuracy
    levels whose first crossing step is stored as a checkpoint (``train(..., levels=)``);
    ``stop_accuracy``: end the run at the first update reaching it (``train(..., stop_accuracy=)``).

    ``init`` is where the initial weights come from: ``"seed"`` (drawn by :class:`LeakyRNN` from
    ``init_seed``) or ``"paper"`` (Liu, Yang & Cueva 2025's released update-0 network, found by
    :func:`neurosim.datasets.find_checkpoint` under ``init_path`` or the usual search order, and
    verified by sha256; N = 200, g0 = 1, no Dale's law). ``label`` is a free tag appended to the
    name, to tell apart groups of runs whose settings the name does not show (e.g. a control
    without the activity penalty).

    Examples
    --------
    >>> RunSpec("eprop", seed=2, g0=0.5, n_rec=50).name
    'eprop_g0.5_n50_retanh_s2'
    >>> RunSpec("eprop", seed=2, data_seed=7).name
    'eprop_g1_n200_retanh_s2_d7'
    >>> RunSpec("bptt", data_seed=1, init="paper", label="nopenalty").name
    'bptt_g1_n200_retanh_paperinit_d1_nopenalty'
    """

    rule: str
    seed: int = 0
    g0: float = 1.0
    n_rec: int = 200
    activation: str = "retanh"
    dale: bool = False
    steps: int = 1000
    lr: float = 3e-4
    batch_size: int = 32
    checkpoints: tuple[int, ...] | None = None
    activity_l2: float = 0.0
    activity_l2_schedule: str = "constant"
    readout_init: str = "normal"
    dtype: str = "float64"
    rule_options: dict = field(default_factory=dict, hash=False, compare=False)
    levels: tuple[float, ...] | None = None
    init_seed: int | None = None
    data_seed: int | None = None
    stop_accuracy: float | None = None
    init: str = "seed"
    init_path: str | None = field(default=None, hash=False, compare=False)
    label: str = ""

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS} (where the initial weights come from); got {self.init!r}")
        if not isinstance(self.label, str) or not all(c.isalnum() or c in "-." for c in self.label):
            raise ValueError(f"label must be letters, digits, '-' or '.' (it becomes part of file names); "
                             f"got {self.label!r}")
        if self.init == "paper":
            if (self.n_rec, self.g0, self.dale, self.activation) != (200, 1.0, False, "retanh"):
                raise ValueError("init='paper' starts from the paper's released network: it needs n_rec=200, g0=1, "
                                 f"dale=False, activation='retanh'; got n_rec={self.n_rec}, g0={self.g0}, "
                                 f"dale={self.dale}, activation={self.activation!r}")

    @property
    def name(self) -> str:
        dale = "_dale" if self.dale else ""
        if self.init == "paper":  # one initialisation: only the data seed varies
            seeds = f"_paperinit_d{self.batches_seed}"
        else:
            seeds = f"_s{self.seed}" + ("" if self.init_seed in (None, self.seed) else f"_i{self.init_seed}") + \
                ("" if self.data_seed in (None, self.seed) else f"_d{self.data_seed}")
        tag = f"_{self.label}" if self.label else ""
        return f"{self.rule}_g{self.g0:g}_n{self.n_rec}_{self.activation}{dale}{seeds}{tag}"

    @property
    def weights_seed(self) -> int:
        """Seed of the initial weights (``init_seed``, else ``seed``)."""
        return self.seed if self.init_seed is None else int(self.init_seed)

    @property
    def batches_seed(self) -> int:
        """Seed of the batches and noise (``data_seed``, else ``seed``)."""
        return self.seed if self.data_seed is None else int(self.data_seed)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checkpoints"] = None if self.checkpoints is None else list(self.checkpoints)
        d["levels"] = None if self.levels is None else list(self.levels)
        return d


def grid(
    rules: Sequence[str],
    seeds: Iterable[int],
    g0s: Sequence[float] = (1.0,),
    *,
    n_recs: Sequence[int] | None = None,
    activations: Sequence[str] | None = None,
    **common: Any,
) -> list[RunSpec]:
    """The full factorial design ``rules × g0s × n_recs × activations × seeds``.

    Examples
    --------
    >>> specs = grid(["bptt", "eprop"], seeds=range(2), g0s=(0.5, 1.5), n_rec=20, steps=10)
    >>> len(specs), specs[0].name, specs[-1].name
    (8, 'bptt_g0.5_n20_retanh_s0', 'eprop_g1.5_n20_retanh_s1')
    >>> grid(["modprop"], seeds=[0], n_rec=20)[0].name
    'modprop_g1_n20_retanh_dale_s0'
    """
    if not rules:
        raise ValueError("rules is empty: name at least one learning rule, e.g. ['bptt', 'eprop']")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    n_list = list(n_recs) if n_recs is not None else [common.pop("n_rec", 200)]
    a_list = list(activations) if activations is not None else [common.pop("activation", "retanh")]
    # the cell-type rules (ModProp, MDGL) need Dale's law: their runs get it
    dale = bool(common.pop("dale", False))
    specs = [
        RunSpec(rule=r, seed=int(s), g0=float(g), n_rec=int(n), activation=a, dale=dale or r in DALE_RULES, **common)
        for r, g, n, a, s in itertools.product(rules, g0s, n_list, a_list, seeds)
    ]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("the grid has duplicate runs (repeated rules, seeds or gains?)")
    return specs


def _matches(run: Any, spec: RunSpec, task: Any) -> bool:
    cfg = run.config
    try:
        if run.task.config() != task.config():  # same task, same kinematics
            return False
    except AttributeError:
        return False
    want = {"rule": spec.rule, "seed": spec.batches_seed, "g0": spec.g0, "n_rec": spec.n_rec,
            "activation": spec.activation, "steps": spec.steps, "lr": spec.lr, "batch_size": spec.batch_size}
    if spec.init == "seed":  # the paper's network carries no seed of its own
        want["init_seed"] = spec.weights_seed
    if spec.checkpoints is not None:
        wanted = sorted(set(int(c) for c in spec.checkpoints) | {0, spec.steps})
        if [int(c) for c in cfg.get("checkpoints", [])] != wanted:
            return False
    for key, value in (("dale", spec.dale), ("activity_l2", spec.activity_l2)):
        if key in cfg and cfg[key] != value:
            return False
    if cfg.get("readout_init", "normal") != spec.readout_init:
        return False
    if cfg.get("activity_l2_schedule", "constant") != spec.activity_l2_schedule:
        return False
    if cfg.get("dtype", "float64") != spec.dtype:
        return False
    if cfg.get("levels") != (None if spec.levels is None else sorted(set(float(v) for v in spec.levels))):
        return False
    if cfg.get("stop_accuracy") != spec.stop_accuracy or cfg.get("init", "seed") != spec.init:
        return False
    return all(cfg.get(k) == v for k, v in want.items()) and bool(getattr(run, "complete", True))


def _finished(spec: RunSpec, task: Any, path: Path | None) -> Any:
    """The finished run of ``spec`` stored at ``path``, or None (absent, unreadable or other settings)."""
    if path is None or not path.exists():
        return None
    try:
        run = load_run(path)
    except Exception:  # unreadable leftovers are retrained, never trusted
        return None
    return run if _matches(run, spec, task) else None


#: how :func:`sweep` may store the parameters of each checkpoint
STORE_DTYPES = ("float64", "float32")


def _store(run: Any, path: Path, store_dtype: str) -> Any:
    """Save ``run`` to ``path``; with ``"float32"`` its parameters are rounded to float32 on disk and
    the run is read back, so that what is analysed is exactly what a later job loads."""
    if store_dtype == "float64":
        run.save(path)
        return run
    ds = run.to_dataset()
    for name in PARAM_NAMES:
        ds[name] = ds[name].astype(np.float32)
    save(ds, path)
    return load_run(path)


def train_spec(spec: RunSpec, task: Any, path: str | Path | None = None, *, progress: bool = False,
               reuse: str | Path | None = None, store_dtype: str = "float64") -> Any:
    """Train one spec, or load it when ``path`` — or, read only, ``reuse`` — holds the same finished
    run; a trained run is saved to ``path`` (parameters in ``store_dtype``, see :func:`sweep`).
    Returns a ``Run``."""
    if store_dtype not in STORE_DTYPES:
        raise ValueError(f"store_dtype must be one of {STORE_DTYPES}; got {store_dtype!r}")
    path = None if path is None else Path(path)
    for where in (path, None if reuse is None else Path(reuse)):
        run = _finished(spec, task, where)
        if run is not None:
            return run
    model = initial_model(spec, task)
    options = dict(spec.rule_options)
    if spec.rule == "eprop-random":
        options.setdefault("feedback_seed", spec.seed)
    run = train(model, task, rule=spec.rule, steps=spec.steps, lr=spec.lr, batch_size=spec.batch_size,
                seed=spec.batches_seed, checkpoints=None if spec.checkpoints is None else list(spec.checkpoints),
                rule_options=options or None, progress=progress, resume=False, blas_threads=1,
                activity_l2_schedule=spec.activity_l2_schedule, dtype=spec.dtype, levels=spec.levels,
                stop_accuracy=spec.stop_accuracy)
    if spec.init != "seed":
        run.settings["init"] = spec.init
    if path is not None:
        run = _store(run, path, store_dtype)
    return run


def initial_model(spec: RunSpec, task: Any) -> LeakyRNN:
    """The untrained network of ``spec`` on ``task``: drawn from ``spec.weights_seed``
    (``init="seed"``) or the paper's released update-0 network (``init="paper"``, verified by sha256;
    its stored activity-penalty weight is replaced by ``spec.activity_l2``)."""
    if spec.init == "paper":
        model = load_torch_checkpoint(find_checkpoint("liu2025", path=spec.init_path))
        if (model.n_in, model.n_out) != (task.n_in, task.n_out):
            raise ValueError(f"init='paper' is the paper's centre-out network ({model.n_in} inputs, {model.n_out} "
                             f"outputs); task {task.name!r} needs {task.n_in} and {task.n_out}")
        model.activity_l2 = float(spec.activity_l2)
        model.readout_init = spec.readout_init
        return model
    return LeakyRNN(task.n_in, spec.n_rec, task.n_out, g0=spec.g0, seed=spec.weights_seed,
                    activation=spec.activation, dale=spec.dale, activity_l2=spec.activity_l2,
                    readout_init=spec.readout_init)


_IN_TASK = False  # in a pool process: is a run being trained right now?


def _pool_init() -> None:
    """Pool processes: Ctrl-C interrupts a run being trained (so its atomic writer removes its
    temporary file) and then ends the process; an idle process just ends (no traceback)."""
    signal.signal(signal.SIGINT, _pool_sigint)


def _pool_sigint(signum, frame) -> None:
    if _IN_TASK:
        raise KeyboardInterrupt
    os._exit(130)


def _pool_train(spec: RunSpec, task: Any, path: Path | None, reuse: Path | None, store_dtype: str) -> Any:
    """:func:`train_spec` in a pool process; an interrupt ends the process once the run cleaned up."""
    global _IN_TASK
    _IN_TASK = True
    try:
        return train_spec(spec, task, path, reuse=reuse, store_dtype=store_dtype)
    except KeyboardInterrupt:
        os._exit(130)  # the run's temporary files are gone; do not take the next queued run
    finally:
        _IN_TASK = False


def _stop_pool(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Interrupt every pool process (SIGINT: each removes its temporary files and exits), drop the
    queued runs, and kill what is still alive after ``grace`` seconds.

    Needed when only this process got the Ctrl-C (``kill -INT <pid>``): the pool processes would
    otherwise train on, and ``shutdown(wait=True)`` wait for them.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive() and p.pid is not None:
            try:
                os.kill(p.pid, signal.SIGINT)
            except (ProcessLookupError, OSError):
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)


def sweep(
    specs: Sequence[RunSpec],
    task: Any,
    *,
    out: str | Path | None = None,
    reuse: str | Path | None = None,
    store_dtype: str = "float64",
    client: Any = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Train every spec on ``task``; returns ``{spec.name: Run}`` in the order of ``specs``.

    Parameters
    ----------
    specs : sequence of RunSpec
        E.g. from :func:`grid`.
    task : neurosim.rnn.tasks.Task
    out : folder, optional
        Save each run to ``out/<name>.nc``; finished runs already there with the same
        settings are loaded instead of retrained (resume after a crash).
    reuse : folder, optional
        Another folder of finished runs (``<name>.nc``), only read: a run found there with the
        same settings is loaded instead of trained (e.g. the run cache of a published results
        folder, which must not change while the new runs are trained into ``out``).
    store_dtype : {"float64", "float32"}
        Type of the checkpoints' parameters in the files of ``out`` (training always keeps float64
        parameters). ``"float32"`` halves the files; the returned runs are then read back from them,
        so a later sweep that loads the files gives the same runs, bit for bit.
    client : dask.distributed.Client, optional
        Train one run per task on the cluster.
    workers : int
        Without a client: ``> 1`` trains on that many local processes (started with the
        ``spawn`` method, so a script calling this needs the usual
        ``if __name__ == "__main__":`` guard); 1 (default) trains here, one run after another.
    progress : bool
        tqdm progress bar over runs.

    Returns
    -------
    dict
        name -> :class:`neurosim.rnn.Run`.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> runs = sweep(grid(["bptt", "eprop"], seeds=[0], n_rec=8, steps=3, batch_size=4),
    ...              PerceptualDecision(), progress=False)
    >>> list(runs), runs["eprop_g1_n8_retanh_s0"].checkpoints["step"].tolist()
    (['bptt_g1_n8_retanh_s0', 'eprop_g1_n8_retanh_s0'], [0, 1, 2, 3])
    """
    specs = list(specs)
    if not specs:
        raise ValueError("specs is empty: nothing to train (build a list with neurosim.experiments.sweep.grid)")
    bad = [s for s in specs if not isinstance(s, RunSpec)]
    if bad:
        raise TypeError(f"specs must be RunSpec objects; got {type(bad[0]).__name__}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError("specs contain duplicate runs (same rule, gain, size, activation and seed)")
    if store_dtype not in STORE_DTYPES:
        raise ValueError(f"store_dtype must be one of {STORE_DTYPES}; got {store_dtype!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (local training processes); got {workers!r}")
    folder = None if out is None else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    paths = {s.name: (None if folder is None else folder / f"{s.name}.nc") for s in specs}
    reused = {s.name: (None if reuse is None else Path(reuse) / f"{s.name}.nc") for s in specs}
    runs: dict[str, Any] = {}
    bar = tqdm(total=len(specs), disable=not progress, desc="training", unit="run")
    try:
        if client is None and (workers == 1 or len(specs) == 1):
            for s in specs:
                runs[s.name] = train_spec(s, task, paths[s.name], reuse=reused[s.name], store_dtype=store_dtype)
                bar.update()
        elif client is None:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context,
                                     initializer=_pool_init) as pool:
                futures = {pool.submit(_pool_train, s, task, paths[s.name], reused[s.name], store_dtype): s.name
                           for s in specs}
                try:
                    for fut in as_completed(futures):
                        runs[futures[fut]] = fut.result()
                        bar.update()
                except KeyboardInterrupt:  # Ctrl-C, to the process group or to this process alone
                    _stop_pool(pool)
                    raise
                except BaseException:  # a failed run: do not start the queued runs, let running ones finish
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        else:
            from dask.distributed import as_completed as dask_completed  # optional dependency

            futures = {client.submit(train_spec, s, task, paths[s.name], reuse=reused[s.name],
                                     store_dtype=store_dtype, pure=False): s.name
                       for s in specs}
            for fut in dask_completed(list(futures)):
                runs[futures[fut]] = fut.result()
                bar.update()
    finally:
        bar.close()
    return {n: runs[n] for n in names}
