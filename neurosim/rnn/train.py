"""Training loop: Adam on a learning rule's gradients, checkpoints in netCDF, resume, progress.

One training step ``s`` (``s = 0 .. steps``) with parameters ``theta_s`` (after ``s`` updates)::

    batch_s  = task.batch(batch_size, rng)            (and noise_s if model.noise_std > 0)
    E_s, g_s = value_and_gradients(model, batch_s, rule)   at theta_s
    if s is a checkpoint: record step, loss = E_s, accuracy and eval_loss on task.conditions(),
                          activity_l2 = lambda_s, theta_s
    theta_{s+1} = Adam(theta_s, g_s)                  (or SGD; not done at s = steps)
    lambda_{s+1} = lambda_s, or (2/3) lambda_s if the schedule is "adaptive" and
                   lambda_s mean(r^2) >= task_loss_s / 2       (Liu, Yang & Cueva 2025)

All randomness after the model's initialization comes from ``np.random.default_rng(seed)``, so the
same arguments give a bit-identical run. With ``out=path`` the file is rewritten atomically at
every checkpoint together with the optimizer state and the RNG state *before* drawing batch ``s``;
running ``train`` again with the same arguments resumes from the last checkpoint and yields the
run an uninterrupted call would have produced.
"""

from __future__ import annotations

import functools
import json
import numbers
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from neurosim._progress import show_progress
from neurosim._threads import blas_threads as blas_threads_limit
from neurosim._threads import check_threads
from neurosim.io import check_output_file, load, save, sweep_stale
from neurosim.io import lock as writer_lock
from neurosim.metrics._validate import check_flag, check_number
from neurosim.rnn.model import PARAM_NAMES, LeakyRNN, forward_loss, loss as _loss
from neurosim.rnn.optim import OPTIMIZERS, check_weight_decay, make_optimizer, weight_decay_penalty
from neurosim.rnn.rules import check_rule, check_rule_dtype, random_feedback, value_and_gradients
from neurosim.rnn.tasks import Task, from_config
from neurosim.trajectories import trajectories

_PARAM_DIMS = {
    "W_in": ("post", "input"), "W_rec": ("post", "pre"), "b": ("post",),
    "W_out": ("output", "pre"), "b_out": ("output",), "v0": ("post",),
}
FORMAT = "neurosim-rnn-run-1"
_COLUMNS = ("loss", "accuracy", "eval_loss")  # recorded at every checkpoint, besides ``record=``
L2_SCHEDULES = ("constant", "adaptive")


class TrainingDiverged(FloatingPointError):
    """Raised when the loss or a gradient becomes NaN/inf; ``.run`` holds the checkpoints so far."""

    def __init__(self, message: str, run: "Run"):
        super().__init__(message)
        self.run = run


class ResumeConflict(ValueError):
    """``out=`` holds something training cannot resume from (another run's settings, or no run).

    ``reason`` says what was found; the message adds the fix for Python callers
    (``resume=False``); the command line offers ``--force`` instead.
    """

    def __init__(self, reason: str):
        super().__init__(f"{reason}; pass resume=False to overwrite it, or choose another out=")
        self.reason = reason


def _one_writer(fn):
    """Check ``out=`` up front and hold its writer's lock for the whole run (one writer per file)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = kwargs.get("out")
        if out is None:
            return fn(*args, **kwargs)
        out = check_output_file(out, "out")
        with writer_lock(out):
            sweep_stale(out)  # temporary files of killed earlier runs
            return fn(*args, **{**kwargs, "out": out})

    return wrapper


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number; got {value!r} ({type(value).__name__})")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return float(value)


def default_checkpoints(steps: int, n: int = 30) -> np.ndarray:
    """Log-spaced checkpoint steps, dense early: ``0`` plus ``~n`` steps from 1 to ``steps``.

    Examples
    --------
    >>> default_checkpoints(1000, n=8).tolist()
    [0, 1, 3, 7, 19, 52, 139, 373, 1000]
    """
    steps = int(steps)
    if steps < 1:
        return np.array([0])
    pts = np.round(np.geomspace(1, steps, n)).astype(int)
    return np.unique(np.concatenate([[0], pts, [steps]]))


def activity(model: LeakyRNN, task: Task, *, params=None) -> xr.DataArray:
    """Rates of ``model`` on the task's noise-free condition set as a trajectory DataArray.

    Returns ``(condition, time, unit)`` float64 with the task's condition labels (index or
    MultiIndex) and ``time`` in ms (for :class:`~neurosim.rnn.tasks.CenterOutReach`, 0 = movement
    onset, on the recording's 10 ms grid). ``attrs["alignment"]`` names the time origin.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision(); m = LeakyRNN(task.n_in, 12, task.n_out)
    >>> da = activity(m, task); da.dims, da.sizes["condition"], da["time"].attrs["units"]
    (('condition', 'time', 'unit'), 10, 'ms')
    """

    batch = task.conditions()
    fw = model.run(batch.inputs, params=params)
    return trajectories(
        np.ascontiguousarray(fw.r), conditions=batch.conditions, time=batch.time,
        units=np.arange(model.n_rec),
        attrs={"source": "neurosim.rnn", "task": task.name, "alignment": task.time_alignment,
               "dt": float(task.dt)},
    )


def evaluate(model: LeakyRNN, task: Task, *, params=None) -> tuple[float, float]:
    """``(loss, accuracy)`` on the task's noise-free condition set (one forward pass).

    ``loss`` is :func:`neurosim.rnn.loss` (task loss + activity penalty).

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision(); m = LeakyRNN(task.n_in, 8, task.n_out)
    >>> E, acc = evaluate(m, task); bool(E == _loss(m, task.conditions())), 0.0 <= acc <= 1.0
    (True, True)
    """
    batch = task.conditions()
    fw = model.run(batch.inputs, params=params)
    return forward_loss(model, fw, batch), task.accuracy(fw.y, batch)


class Run:
    """A training run: checkpoints (step, loss, accuracy, eval_loss), parameters at each checkpoint,
    the task and everything needed to rebuild the model.

    Attributes
    ----------
    checkpoints : pandas.DataFrame
        Columns ``step``, ``loss`` (training-batch loss at that step), ``accuracy`` and
        ``eval_loss`` (on ``task.conditions()``), ``activity_l2`` (the activity-penalty weight
        used at that step; only with ``activity_l2_schedule="adaptive"``), then one column per
        ``record=`` measurement given to :func:`train` (e.g. ``lambda_max``).
    rule, seed : str, int
    config : dict
        Model architecture (``n_rec``, ``g0``, ``activation``, ...) and training settings.
    task : Task
    feedback : ndarray or None
        The fixed random feedback matrix of ``"eprop-random"`` runs.
    path : Path or None
        The netCDF file, if the run was saved.
    """

    def __init__(self, *, model_config: dict, task: Task, rule: str, seed: int, settings: dict,
                 records: list[dict], params: dict[int, dict], feedback=None, path=None, complete=False):
        self._model_config = dict(model_config)
        self.task = task
        self.rule = rule
        self.seed = int(seed)
        self.settings = dict(settings)
        self._records = list(records)
        self._params = dict(params)
        self.feedback = feedback
        self.path = None if path is None else Path(path)
        self.complete = complete

    @property
    def config(self) -> dict:
        """Architecture (``n_rec``, ``g0``, ``activation``, ..., ``init_seed`` = the model's seed) and
        training settings (``task``, ``rule``, ``seed`` = the training seed, ``lr``, ``steps``, ...)."""
        arch = {k: v for k, v in self._model_config.items() if k != "seed"}
        return {**arch, "init_seed": self._model_config["seed"], "task": self.task.name, "rule": self.rule,
                "seed": self.seed, **self.settings}

    @property
    def recorded(self) -> list[str]:
        """Names of the extra per-checkpoint measurements (``train(..., record=...)``)."""
        return list(self.settings.get("record", []))

    @property
    def _columns(self) -> list[str]:
        adaptive = self.settings.get("activity_l2_schedule", "constant") == "adaptive"
        return [*_COLUMNS, *(["activity_l2"] if adaptive else []), *self.recorded]

    @property
    def checkpoints(self) -> pd.DataFrame:
        return pd.DataFrame(self._records, columns=["step", *self._columns])

    @property
    def steps(self) -> list[int]:
        return [r["step"] for r in self._records]

    def _step(self, step) -> int:
        if not self._records:
            raise ValueError("this run has no checkpoints yet")
        if step is None:
            return self._records[-1]["step"]
        if step not in self._params:
            raise ValueError(f"no checkpoint at step {step}; available steps: {self.steps}")
        return int(step)

    def params(self, step: int | None = None) -> dict:
        """Copy of the parameters at checkpoint ``step`` (default: the last one)."""
        return {k: v.copy() for k, v in self._params[self._step(step)].items()}

    def model(self, step: int | None = None) -> LeakyRNN:
        """The :class:`LeakyRNN` at checkpoint ``step`` (default: the last one)."""
        m = LeakyRNN(**self._model_config)
        m.params = self.params(step)
        rec = next(r for r in self._records if r["step"] == self._step(step))
        m.activity_l2 = float(rec.get("activity_l2", m.activity_l2))
        return m

    def activity(self, step: int | None = None) -> xr.DataArray:
        """``(condition, time, unit)`` rates at checkpoint ``step`` on the task's condition set."""
        return activity(self.model(step), self.task)

    def __repr__(self) -> str:
        last = self._records[-1] if self._records else {}
        return (f"Run(rule={self.rule!r}, task={self.task.name!r}, n_rec={self._model_config['n_rec']}, "
                f"checkpoints={len(self._records)}, last={last})")

    # ------------------------------------------------------------------ storage
    def to_dataset(self, resume_state: dict | None = None) -> xr.Dataset:
        steps = self.steps
        ds = xr.Dataset(coords={"step": np.asarray(steps, dtype=np.int64)})
        for col in self._columns:
            ds[col] = ("step", np.array([r[col] for r in self._records], dtype=np.float64))
        for k in PARAM_NAMES:
            ds[k] = (("step",) + _PARAM_DIMS[k], np.stack([self._params[s][k] for s in steps]))
        if self.feedback is not None:
            ds["feedback"] = (("output", "pre"), self.feedback)
        attrs = {
            "format": FORMAT, "rule": self.rule, "seed": self.seed,
            "model_config": json.dumps(self._model_config), "task_config": json.dumps(self.task.config()),
            "settings": json.dumps(self.settings), "complete": bool(self.complete),
        }
        if resume_state is not None:
            for k, v in resume_state["adam"]["m"].items():
                ds[f"adam_m_{k}"] = (_PARAM_DIMS[k], v)
                ds[f"adam_s_{k}"] = (_PARAM_DIMS[k], resume_state["adam"]["s"][k])
            attrs["adam_k"] = int(resume_state["adam"]["k"])
            attrs["resume_step"] = int(resume_state["step"])
            attrs["rng_state"] = json.dumps(resume_state["rng"])
            attrs["resume_activity_l2"] = float(resume_state["activity_l2"])
        ds.attrs = attrs
        return ds

    def save(self, path, resume_state: dict | None = None) -> Path:
        """Write the run to netCDF atomically (temp file in the same folder + ``os.replace``)."""

        path = save(self.to_dataset(resume_state), path)
        self.path = Path(path)
        return self.path


def _read(path) -> tuple[Run, dict | None]:

    path = Path(path)
    ds = load(path)
    if not isinstance(ds, xr.Dataset) or ds.attrs.get("format") != FORMAT:
        raise ValueError(f"{path} is not a neurosim RNN run (format attr {ds.attrs.get('format')!r})")
    steps = [int(s) for s in ds["step"].values]
    settings = json.loads(ds.attrs["settings"])
    adaptive = settings.get("activity_l2_schedule", "constant") == "adaptive"
    columns = (*_COLUMNS, *(["activity_l2"] if adaptive else []), *settings.get("record", []))
    lam0 = float(json.loads(ds.attrs["model_config"]).get("activity_l2", 0.0))
    records = [{"step": s, **{c: float(ds[c].values[i]) for c in columns}} for i, s in enumerate(steps)]
    params = {s: {k: np.array(ds[k].values[i], dtype=np.float64) for k in PARAM_NAMES} for i, s in enumerate(steps)}
    run = Run(model_config=json.loads(ds.attrs["model_config"]), task=from_config(json.loads(ds.attrs["task_config"])),
              rule=ds.attrs["rule"], seed=int(ds.attrs["seed"]), settings=settings,
              records=records, params=params,
              feedback=np.array(ds["feedback"].values) if "feedback" in ds else None, path=path,
              complete=bool(ds.attrs.get("complete", False)))
    state = None
    if "resume_step" in ds.attrs:
        state = {"step": int(ds.attrs["resume_step"]), "rng": json.loads(ds.attrs["rng_state"]),
                 "activity_l2": float(ds.attrs.get("resume_activity_l2", lam0)),
                 "adam": {"k": int(ds.attrs["adam_k"]),
                          "m": {k: np.array(ds[f"adam_m_{k}"].values) for k in PARAM_NAMES if f"adam_m_{k}" in ds},
                          "s": {k: np.array(ds[f"adam_s_{k}"].values) for k in PARAM_NAMES if f"adam_s_{k}" in ds}}}
    return run, state


def load_run(path) -> Run:
    """Load a run written by :func:`train` (``out=``) or :meth:`Run.save`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision(); m = LeakyRNN(task.n_in, 8, task.n_out)
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.nc"
    >>> run = train(m, task, steps=3, batch_size=4, out=p, progress=False)
    >>> back = load_run(p); back.checkpoints.equals(run.checkpoints), back.rule
    (True, 'bptt')
    """
    return _read(path)[0]


def _finite(E, grads) -> bool:
    return bool(np.isfinite(E)) and all(np.all(np.isfinite(g)) for g in grads.values())


@_one_writer
def train(model: LeakyRNN, task: Task, rule: str = "bptt", *, steps: int = 1000, lr: float = 3e-4,
          batch_size: int = 64, seed: int = 0, checkpoints: Iterable[int] | int | None = None, out=None,
          rule_options: dict | None = None, clip: float | None = None, progress: bool = True,
          resume: bool = True, blas_threads: int | None = 1,
          record: Mapping[str, Callable[[LeakyRNN, Task], float]] | None = None,
          activity_l2_schedule: str = "constant", dtype: str = "float64", optimizer: str = "adam",
          weight_decay: float = 0.0, weight_decay_params=("W_in", "W_rec", "W_out"),
          lr_boost: tuple[int, float] | None = None, levels: Iterable[float] | None = None,
          stop_accuracy: float | None = None) -> Run:
    """Train a copy of ``model`` on ``task`` with a learning rule and Adam (or plain SGD).

    Parameters
    ----------
    model : LeakyRNN
        Initial network (not modified; the run holds the trained copies).
    task : Task
        E.g. ``ContextDependentIntegration()`` or ``CenterOutReach.from_dataset(ds)``.
    rule : {"bptt", "tbptt", "eprop", "eprop-random", "rtrl", "modprop", "mdgl", "fa"}
        See ``docs/trainer.md`` for each rule's equations; ``modprop`` and ``mdgl`` need a
        model with Dale's law (cell types).
    steps : int
        Number of updates.
    lr : float
        Adam learning rate (Liu, Yang & Cueva 2025: 3e-4), or the SGD step size.
    batch_size : int
    seed : int
        Seed of batches, input noise and voltage noise (bit-identical reruns).
    checkpoints : iterable of int, or int, optional
        Steps at which loss, accuracy and parameters are recorded; an int ``n`` means ``n``
        log-spaced steps; default :func:`default_checkpoints` (~30, dense early). Step 0 and
        ``steps`` are always included.
    out : path, optional
        netCDF file rewritten atomically at every checkpoint (with optimizer and RNG state).
        If it exists and ``resume`` is true, training continues from its last checkpoint
        (the arguments must match those that created it). The run holds a writer's lock on
        ``out`` (:func:`neurosim.io.lock`), so a second process training into the same file
        gets a :class:`~neurosim.io.LockError`; temporary files left by killed runs are removed.
    rule_options : dict, optional
        E.g. ``{"window": 20}`` for ``"tbptt"``, ``{"feedback_seed": 1}`` for ``"eprop-random"``.
    clip : float, optional
        Global gradient-norm clipping in Adam.
    progress : bool
        Show a tqdm progress bar.
    resume : bool
        Continue from ``out`` if it exists (else it is overwritten).
    blas_threads : int or None
        BLAS threads during training (default 1: the per-step products are small, and parallel
        runs scale better with one thread each); ``None`` leaves BLAS alone.
    record : dict of name -> callable, optional
        Extra measurements taken at every checkpoint: ``f(model, task) -> float`` is called on
        the checkpoint's network, and its value becomes column ``name`` of ``run.checkpoints``
        (saved with the run). E.g. the loss curvature along training::

            from neurosim.rnn.analysis import curvature_recorder
            train(model, task, record={"lambda_max": curvature_recorder()})

        The callables must not draw from the training random stream (they have their own), so a
        run with ``record=`` has the same parameters as one without.
    activity_l2_schedule : {"constant", "adaptive"}
        ``"constant"``: the activity penalty weight stays ``model.activity_l2``. ``"adaptive"``
        (Liu, Yang & Cueva 2025; their ``lambda_0 = 10``): after each step, if the penalty
        ``lambda mean(r^2)`` of that step's batch is at least half its task loss, ``lambda`` is
        multiplied by 2/3 for the next step (it never grows). The weight used at each checkpoint
        is column ``activity_l2`` of ``run.checkpoints``. (The paper's checkpoint files store the
        weight after that step's adjustment, i.e. the next step's.)
    dtype : {"float64", "float32"}
        Floating-point type of each step's forward pass and gradient (the rules of
        ``neurosim.rnn.rules.FLOAT32_RULES``: all but ``rtrl``). ``"float32"`` is about twice as
        fast at N = 200; the
        parameters, Adam's state, the update and every checkpoint evaluation stay float64, so only
        the gradient estimate is rounded to single precision (relative error ~1e-6, far below the
        batch-to-batch noise of the gradient). Recorded in the run's settings.
    optimizer : {"adam", "sgd"}
        ``"adam"`` (:class:`~neurosim.rnn.optim.Adam`, default) or plain stochastic gradient
        descent ``p <- p - lr g`` (:class:`~neurosim.rnn.optim.SGD`; Liu et al. 2022 use lr 1e-2,
        batch 256).
    weight_decay : float
        L2 coefficient ``lambda`` >= 0: the loss descended is ``E + (lambda / 2) sum_W ||W||_F^2``
        over ``weight_decay_params`` (:func:`~neurosim.rnn.optim.weight_decay_penalty`), so
        ``lambda W`` is added to the rule's gradient of each of them and the checkpoint column
        ``loss`` includes the term (``eval_loss`` does not). Liu et al. 2022: 1e-2 on ``W_in``,
        ``W_rec``, ``W_out``. The curvature of such a run includes the term's Hessian
        ``lambda I`` (``neurosim.rnn.analysis.curvature_along_training`` reads it from the run).
    weight_decay_params : str or tuple of str
        The decayed parameters (default ``("W_in", "W_rec", "W_out")``).
    lr_boost : (int, float), optional
        ``(step, factor)``: from update ``step`` on, the step size is ``lr * factor`` (a late
        step-size boost, the neuromodulation remedy of Liu et al. 2022).
    levels : sequence of float, optional
        Accuracy levels for exact matching: until every level is reached, the accuracy on
        ``task.conditions()`` is evaluated after every update (one noise-free forward pass), and
        a checkpoint is stored at the first step whose accuracy is ``>= level``, for each level,
        besides the regular ``checkpoints`` (so matching on the run's checkpoints finds the
        crossing step itself; its accuracy exceeds the level by at most what one update gained).
        Recorded in the run's settings.
    stop_accuracy : float, optional
        Early stop: training ends at the first update whose accuracy on ``task.conditions()`` (one
        noise-free forward pass after every update, as for ``levels``) is ``>= stop_accuracy``; that
        step is stored as the run's last checkpoint and the run is complete. ``None`` (default)
        trains all ``steps``. Recorded in the run's settings (``run.steps[-1]`` is where it stopped).

    Returns
    -------
    Run

    Raises
    ------
    TrainingDiverged
        If the loss or a gradient becomes NaN/inf; the last good checkpoint stays in ``out``
        and in the exception's ``.run``.
    ResumeConflict
        (a ValueError) if ``out`` exists with another run's settings or is not a run.
    neurosim.io.LockError
        If another process is writing ``out``.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision(); m = LeakyRNN(task.n_in, 16, task.n_out, seed=0)
    >>> run = train(m, task, rule="eprop", steps=5, lr=1e-3, batch_size=8, progress=False)
    >>> run.checkpoints["step"].tolist()
    [0, 1, 2, 3, 4, 5]
    >>> run.model(5).params["W_rec"].shape, run.activity(5).dims
    ((16, 16), ('condition', 'time', 'unit'))
    """
    if not isinstance(model, LeakyRNN):
        raise TypeError(f"model must be a neurosim.rnn.LeakyRNN; got {type(model).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    if activity_l2_schedule not in L2_SCHEDULES:
        raise ValueError(f"activity_l2_schedule must be one of {list(L2_SCHEDULES)}; got {activity_l2_schedule!r}")
    if (model.n_in, model.n_out) != (task.n_in, task.n_out):
        raise ValueError(f"model has n_in={model.n_in}, n_out={model.n_out} but the task needs "
                         f"n_in={task.n_in}, n_out={task.n_out}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    steps = int(steps)
    seed = _check_int("seed", seed, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    lr = _check_positive("lr", lr)
    clip = None if clip is None else _check_positive("clip", clip)
    if rule_options is not None and not isinstance(rule_options, Mapping):
        raise TypeError(f"rule_options must be a dict of the rule's options (e.g. {{'window': 20}}) or None; got "
                        f"{type(rule_options).__name__}")
    opts = dict(rule_options or {})
    rule = check_rule(rule, opts)
    dtype = check_rule_dtype(rule, dtype).name  # fails before any training
    resume = check_flag(resume, "resume")
    progress = show_progress(progress, "progress", allow_auto=False)
    blas_threads = check_threads(blas_threads, "blas_threads")
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {optimizer!r}")
    optimizer = optimizer.lower()
    weight_decay, weight_decay_params = check_weight_decay(weight_decay, weight_decay_params, PARAM_NAMES)
    if lr_boost is not None:
        if (not isinstance(lr_boost, (tuple, list)) or len(lr_boost) != 2
                or isinstance(lr_boost[0], bool) or not isinstance(lr_boost[0], numbers.Integral)):
            raise TypeError(f"lr_boost must be a pair (step, factor), e.g. (8000, 3.0); got {lr_boost!r}")
        lr_boost = (_check_int("lr_boost step", lr_boost[0], 0), _check_positive("lr_boost factor", lr_boost[1]))
    if checkpoints is None:
        ck = default_checkpoints(steps)
    elif isinstance(checkpoints, (int, np.integer, bool, np.bool_)):
        ck = default_checkpoints(steps, _check_int("checkpoints", checkpoints, 1))
    else:
        if isinstance(checkpoints, (str, bytes, Mapping)) or not isinstance(checkpoints, Iterable):
            raise TypeError(f"checkpoints must be an int (how many) or a list of integer steps; got "
                            f"{type(checkpoints).__name__}")
        items = list(np.asarray(checkpoints).ravel()) if isinstance(checkpoints, np.ndarray) else list(checkpoints)
        bad = [c for c in items if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Integral)]
        if bad:
            raise TypeError(f"checkpoints must be integer training steps; got {bad[0]!r} ({type(bad[0]).__name__}) "
                            "among them: round the steps yourself (e.g. [int(s) for s in steps])")
        ck = np.asarray(sorted(set(int(c) for c in items)), dtype=int)
        if ck.size and (ck[0] < 0 or ck[-1] > steps):
            raise ValueError(f"checkpoints must lie in [0, steps={steps}]; got {ck[0]}..{ck[-1]}")
    ck_set = set(int(c) for c in ck) | {0, steps}
    level_list = []
    if levels is not None:
        if isinstance(levels, (str, bytes)) or not isinstance(levels, Iterable):
            raise TypeError(f"levels must be a sequence of accuracies, e.g. (0.4, 0.6, 0.8); got {levels!r}")
        level_list = sorted(set(float(v) for v in levels))
        if not all(np.isfinite(level_list)):
            raise ValueError(f"levels must be finite accuracies; got {level_list}")
    if stop_accuracy is not None:
        check_number(stop_accuracy, "stop_accuracy")
        stop_accuracy = float(stop_accuracy)
        if not stop_accuracy <= 1.0:
            raise ValueError(f"stop_accuracy must be an accuracy <= 1 (1 = perfect); got {stop_accuracy}")
    record = dict(record or {})
    for name, fn in record.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"record names must be identifiers (they become table columns); got {name!r}")
        if name in ("step", "activity_l2", *_COLUMNS, *PARAM_NAMES):
            raise ValueError(f"record name {name!r} clashes with a built-in column or parameter; rename it")
        if not callable(fn):
            raise TypeError(f"record[{name!r}] must be a callable f(model, task) -> float; got {type(fn).__name__}")
    model.check_params()
    model = model.copy()
    feedback = None
    if rule == "eprop-random":
        feedback = opts.pop("feedback", None)
        if feedback is None:
            feedback = random_feedback(model.n_out, model.n_rec, opts.pop("feedback_seed", 0))
        opts = {**opts, "feedback": np.asarray(feedback, dtype=np.float64)}
    settings = {"steps": steps, "lr": float(lr), "batch_size": int(batch_size), "clip": clip,
                "checkpoints": sorted(ck_set),
                "rule_options": {k: v for k, v in opts.items() if k != "feedback"},
                "record": list(record)}
    if activity_l2_schedule != "constant":
        settings["activity_l2_schedule"] = activity_l2_schedule
    if dtype != "float64":
        settings["dtype"] = dtype
    if optimizer != "adam":
        settings["optimizer"] = optimizer
    if weight_decay > 0:
        settings["weight_decay"] = weight_decay
        settings["weight_decay_params"] = list(weight_decay_params)
    if lr_boost is not None:
        settings["lr_boost"] = list(lr_boost)
    if level_list:
        settings["levels"] = level_list
    if stop_accuracy is not None:
        settings["stop_accuracy"] = stop_accuracy
    adaptive = activity_l2_schedule == "adaptive"
    rng = np.random.default_rng(seed)
    opt = make_optimizer(optimizer, lr, clip)
    run = Run(model_config=model.config, task=task, rule=rule, seed=seed, settings=settings, records=[],
              params={}, feedback=None if feedback is None else np.asarray(feedback))
    start = 0
    out = None if out is None else Path(out)
    if out is not None and out.exists() and resume:
        try:
            old, state = _read(out)
        except (ValueError, KeyError) as err:
            raise ResumeConflict(f"{out} exists but is not a neurosim run to resume ({err})") from None
        mine = json.loads(json.dumps(run.config, default=str))
        theirs = json.loads(json.dumps(old.config, default=str))
        if mine != theirs or old.task.config() != json.loads(json.dumps(task.config())):
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise ResumeConflict(f"{out} holds a run with different settings ({diff or 'task'})")
        run._records, run._params = old._records, old._params
        if state is None or old.complete:
            run.complete = True
            run.path = out
            return run
        start = state["step"]
        model.params = run.params(start)
        rng.bit_generator.state = state["rng"]
        model.activity_l2 = state["activity_l2"]
        opt.load_state_dict(state["adam"])
        if feedback is not None:
            opts["feedback"] = old.feedback

    # exact matching: the levels not yet reached by a stored checkpoint (so a resumed run continues alike)
    pending = [lv for lv in level_list if not any(r["accuracy"] >= lv for r in run._records)]
    bar = None
    if progress:

        bar = tqdm(total=steps, initial=start, desc=f"{rule} on {task.name}", unit="step")
    N = model.n_rec
    try:
        with blas_threads_limit(blas_threads):
            for s in range(start, steps + 1):
                recorded = any(r["step"] == s for r in run._records)
                crossing = False
                if (pending or stop_accuracy is not None) and s not in ck_set and not recorded:
                    now = evaluate(model, task)[1]   # one noise-free forward pass
                    crossing = (bool(pending) and now >= pending[0]) or (
                        stop_accuracy is not None and now >= stop_accuracy)
                rng_state = rng.bit_generator.state if ((s in ck_set or crossing) and not recorded) else None
                batch = task.batch(batch_size, rng)
                noise = None
                if model.noise_std > 0:
                    noise = rng.standard_normal((len(batch), batch.inputs.shape[1], N))
                if adaptive:
                    E, grads, parts = value_and_gradients(model, batch, rule, noise=noise, parts=True,
                                                          dtype=dtype, **opts)
                else:
                    E, grads = value_and_gradients(model, batch, rule, noise=noise, dtype=dtype, **opts)
                if weight_decay > 0:
                    penalty, decay = weight_decay_penalty(model.params, weight_decay, weight_decay_params)
                    E += penalty
                    for k, g in decay.items():
                        grads[k] = grads[k] + g
                if not _finite(E, grads):
                    last = run._records[-1]["step"] if run._records else None
                    raise TrainingDiverged(
                        f"training diverged at step {s} (loss {E}); the last good checkpoint is step {last}"
                        + (f", kept in {out}" if out is not None else "")
                        + ". Lower lr, set clip=, or reduce g0.", run)
                if rng_state is not None:
                    ev_loss, acc = evaluate(model, task)
                    extra = {name: float(fn(model.copy(), task)) for name, fn in record.items()}
                    lam = {"activity_l2": model.activity_l2} if adaptive else {}
                    run._records.append({"step": s, "loss": float(E), "accuracy": float(acc),
                                         "eval_loss": float(ev_loss), **lam, **extra})
                    run._params[s] = {k: v.copy() for k, v in model.params.items()}
                    pending = [lv for lv in pending if acc < lv]
                    stop = stop_accuracy is not None and acc >= stop_accuracy
                    run.complete = s == steps or stop
                    if out is not None:
                        state = None if run.complete else {"step": s, "rng": rng_state, "adam": opt.state_dict(),
                                                         "activity_l2": model.activity_l2}
                        run.save(out, state)
                    if bar is not None:
                        bar.set_postfix(loss=f"{E:.4g}", acc=f"{acc:.3f}")
                if run.complete:
                    break   # the last step, or the early stop (stop_accuracy) reached
                if adaptive and parts["activity"] >= parts["task"] / 2:
                    model.activity_l2 *= 2.0 / 3.0
                if s < steps:
                    if lr_boost is not None:
                        opt.lr = lr * lr_boost[1] if s >= lr_boost[0] else lr
                    opt.step(model.params, grads)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return run
