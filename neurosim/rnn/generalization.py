"""Generalization of trained RNNs: test-minus-train gaps on conditions the training never saw.

Liu, Ghosh, Richards, Shea-Brown & Lajoie (NeurIPS 2022) define the generalization gap as test
error minus train error and find it larger, and more variable, for e-prop-like rules than for
BPTT. This module measures it along a training run, on three evaluation sets:

* ``train`` -- fresh trials from the training distribution (``task.batch``);
* ``test`` -- trials from *held-out* conditions (:func:`heldout_task`): coherences, stimulus
  angles or delays that the training distribution never produces;
* ``noisy`` -- training-distribution trials with extra Gaussian input noise.

:func:`compare_rules` runs the rule comparison of the paper on this toolkit's tasks (BPTT, e-prop,
random-feedback e-prop, truncated BPTT over seeds, at matched training accuracy), and
:func:`plot_curvature_vs_gap` draws it with the ``2 / lr`` stability line.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from neurosim.rnn.model import _did_you_mean

__all__ = [
    "HELDOUT_KINDS",
    "heldout_task",
    "generalization_gap",
    "compare_rules",
    "summarize_rules",
    "plot_curvature_vs_gap",
    "curvature_report",
    "plot_curvature_along_training",
    "curvature_trajectories",
]

HELDOUT_KINDS = ("conditions", "timing")


def _check_kind(kind: str) -> str:
    if kind not in HELDOUT_KINDS:
        raise ValueError(f"unknown held-out kind {kind!r}: " + _did_you_mean(kind, HELDOUT_KINDS))
    return kind


def _geometric_midpoints(levels) -> list[float]:
    c = np.sort(np.asarray(levels, dtype=float))
    if c.size == 1:
        return [float(c[0] / 2)]
    return [float(v) for v in np.sqrt(c[:-1] * c[1:])]


def _circular_midpoints(angles) -> list[float]:
    a = np.sort(np.mod(np.asarray(angles, dtype=float), 360.0))
    nxt = np.r_[a[1:], a[0] + 360.0]
    return [float(v) for v in np.mod((a + nxt) / 2.0, 360.0)]


def _longer(span) -> list[int]:
    lo, hi = int(span[0]), int(span[1])
    width = max(hi - lo, 10)
    return [hi + 1, hi + width]


def heldout_task(task, kind: str = "conditions"):
    """A copy of ``task`` whose trials come from conditions the training distribution never produces.

    Built only from the task's public parameters (``task.config()``), one rule per task:

    ================================  ==========================================================
    task                              ``kind="conditions"``            ``kind="timing"``
    ================================  ==========================================================
    ``PerceptualDecision``            coherences = geometric midpoints stimulus durations
                                      ``sqrt(c_i c_{i+1})`` of the     ``(hi+1, hi+w)``
                                      training levels
    ``ContextDependentIntegration``   coherences = geometric midpoints delays ``(hi+1, hi+w)``
    ``DelayedMatchToSample``          angles = circular midpoints of   delays ``(hi+1, hi+w)``
                                      the training angles (e.g. 45°,
                                      135°, 225°, 315°)
    ``CenterOutReach``                not available (a new reach       cue-to-go delays
                                      direction has no recorded        ``(hi+1, hi+w)``
                                      kinematics): ``ValueError``
    ================================  ==========================================================

    ``(lo, hi)`` is the training range in steps and ``w = max(hi - lo, 10)``: every held-out
    duration is longer than any seen in training. Input noise and everything else are kept.
    A single training coherence ``c`` gives the held-out level ``c / 2``.

    Parameters
    ----------
    task : neurosim.rnn.tasks.Task
    kind : {"conditions", "timing"}

    Returns
    -------
    Task
        A new task of the same class.

    Examples
    --------
    >>> from neurosim.rnn.tasks import DelayedMatchToSample, PerceptualDecision
    >>> heldout_task(DelayedMatchToSample()).angles
    (45.0, 135.0, 225.0, 315.0)
    >>> [round(c, 4) for c in heldout_task(PerceptualDecision(coherences=(0.1, 0.4))).coherences]
    [0.2]
    >>> heldout_task(DelayedMatchToSample(), "timing").delay
    (51, 80)
    """
    from neurosim.rnn.tasks import Task, from_config

    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task, got {type(task).__name__}")
    kind = _check_kind(kind)
    cfg = task.config()
    name = cfg["name"]
    if kind == "conditions":
        if name in ("perceptual-decision", "context-dependent-integration"):
            cfg["coherences"] = _geometric_midpoints(cfg["coherences"])
        elif name == "delayed-match-to-sample":
            cfg["angles"] = _circular_midpoints(cfg["angles"])
        elif name == "center-out":
            raise ValueError(
                "center-out has no held-out condition set: a reach direction outside the recording "
                "has no kinematics to train or test on. Use kind='timing' (longer delays) or pass "
                "test_task= yourself"
            )
        else:
            raise ValueError(f"no held-out condition rule for task {name!r}; pass test_task= yourself")
    else:
        key = {"perceptual-decision": "stimulus"}.get(name, "delay")
        if key not in cfg:
            raise ValueError(f"no held-out timing rule for task {name!r}; pass test_task= yourself")
        cfg[key] = _longer(cfg[key])
    return from_config(cfg)


def _evaluate(model, batch, task) -> tuple[float, float]:
    from neurosim.rnn import loss

    y = model(batch.inputs)
    return float(loss(model, batch)), float(task.accuracy(y, batch))


def _noisy(batch, sigma: float, rng: np.random.Generator):
    from dataclasses import replace

    return replace(batch, inputs=batch.inputs + rng.normal(0.0, sigma, size=batch.inputs.shape),
                   info=dict(batch.info))


def generalization_gap(
    run,
    task=None,
    *,
    heldout: str = "conditions",
    test_task=None,
    input_noise: float = 0.5,
    n_trials: int = 256,
    seed: int = 0,
    steps=None,
) -> pd.DataFrame:
    """Test minus train loss and accuracy at each checkpoint of a run.

    At every checkpoint ``run.model(step)`` is evaluated on three fixed sets of ``n_trials``
    trials (the same trials for every checkpoint):

    * ``train``: ``task.batch(n_trials, rng)`` -- the training distribution (new trials of the
      conditions the rule trained on);
    * ``test``: ``test_task.batch(n_trials, rng)`` with ``test_task = heldout_task(task,
      heldout)`` by default -- conditions the training never produced;
    * ``noisy``: the ``train`` trials with ``N(0, input_noise²)`` added to every input at every
      step.

    Gaps are signed so that positive = worse off the training set:
    ``gap_loss = test_loss − train_loss`` and ``gap_accuracy = train_accuracy − test_accuracy``
    (``noisy_gap_loss``, ``noisy_gap_accuracy`` likewise). Loss is ``neurosim.rnn.loss``
    (task loss + activity penalty), accuracy ``task.accuracy``.

    Parameters
    ----------
    run : neurosim.rnn.Run
    task : Task, optional
        The training task (default ``run.task``).
    heldout : {"conditions", "timing"}
        Which held-out set :func:`heldout_task` builds (ignored if ``test_task`` is given).
    test_task : Task, optional
        Your own held-out task (same inputs/outputs as ``task``).
    input_noise : float, default 0.5
        Standard deviation of the extra input noise of the ``noisy`` set (0 disables the
        noisy columns).
    n_trials : int, default 256
        Trials per evaluation set.
    seed : int, default 0
        Seed of the evaluation trials.
    steps : sequence of int, optional
        Evaluate only these checkpoints (others get NaN).

    Returns
    -------
    pandas.DataFrame
        A copy of ``run.checkpoints`` plus ``train_loss``, ``train_accuracy``, ``test_loss``,
        ``test_accuracy``, ``gap_loss``, ``gap_accuracy`` and the ``noisy_*`` columns; the
        settings are in ``.attrs["generalization"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN, train
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> task = PerceptualDecision()
    >>> run = train(LeakyRNN(task.n_in, 8, task.n_out, seed=0), task, rule="bptt", steps=3,
    ...             lr=1e-3, batch_size=4, checkpoints=[0, 3], progress=False)
    >>> table = generalization_gap(run, n_trials=16)
    >>> bool(np.allclose(table.gap_loss, table.test_loss - table.train_loss))
    True
    """
    from neurosim.rnn.tasks import Task

    checkpoints = getattr(run, "checkpoints", None)
    if not isinstance(checkpoints, pd.DataFrame) or "step" not in checkpoints.columns:
        raise TypeError("run must be a neurosim.rnn.Run with a .checkpoints DataFrame holding 'step'; "
                        f"got {type(run).__name__}")
    task = getattr(run, "task", None) if task is None else task
    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task (default run.task); got {type(task).__name__}")
    if test_task is None:
        test_task = heldout_task(task, heldout)
    elif not isinstance(test_task, Task):
        raise TypeError(f"test_task must be a neurosim.rnn.tasks.Task; got {type(test_task).__name__}")
    if (test_task.n_in, test_task.n_out) != (task.n_in, task.n_out):
        raise ValueError(f"test_task has n_in={test_task.n_in}, n_out={test_task.n_out}; the training task "
                         f"has n_in={task.n_in}, n_out={task.n_out}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive int; got {n_trials!r}")
    input_noise = float(input_noise)
    if not math.isfinite(input_noise) or input_noise < 0:
        raise ValueError(f"input_noise must be a finite standard deviation >= 0; got {input_noise}")

    rng = np.random.default_rng(seed)
    train_batch = task.batch(int(n_trials), rng)
    test_batch = test_task.batch(int(n_trials), rng)
    noisy_batch = _noisy(train_batch, input_noise, rng) if input_noise > 0 else None

    out = checkpoints.copy()
    all_steps = [int(s) for s in out["step"]]
    wanted = set(all_steps) if steps is None else {int(s) for s in np.atleast_1d(steps)}
    unknown = sorted(wanted - set(all_steps))
    if unknown:
        raise ValueError(f"steps {unknown} are not checkpoints of this run; it has {all_steps}")
    sets = [("train", train_batch, task), ("test", test_batch, test_task)]
    if noisy_batch is not None:
        sets.append(("noisy", noisy_batch, task))
    cols = {f"{name}_{m}": np.full(len(out), np.nan) for name, _, _ in sets for m in ("loss", "accuracy")}
    for i, step in enumerate(all_steps):
        if step not in wanted:
            continue
        model = run.model(step)
        for name, batch, t in sets:
            cols[f"{name}_loss"][i], cols[f"{name}_accuracy"][i] = _evaluate(model, batch, t)
    for c, v in cols.items():
        out[c] = v
    out["gap_loss"] = out["test_loss"] - out["train_loss"]
    out["gap_accuracy"] = out["train_accuracy"] - out["test_accuracy"]
    if noisy_batch is not None:
        out["noisy_gap_loss"] = out["noisy_loss"] - out["train_loss"]
        out["noisy_gap_accuracy"] = out["train_accuracy"] - out["noisy_accuracy"]
    out.attrs = dict(getattr(checkpoints, "attrs", {}))
    out.attrs["generalization"] = {
        "heldout": heldout, "test_task": test_task.config() if test_task.name != "center-out" else "center-out",
        "input_noise": input_noise, "n_trials": int(n_trials), "seed": seed,
    }
    return out


# --------------------------------------------------------------------------- the rule comparison
DEFAULT_RULES = ("bptt", "eprop", "eprop-random", "tbptt")


def _one_run(job: dict) -> dict:
    """Train one (rule, seed), pick the matched-accuracy checkpoint, measure curvature and gaps."""
    from neurosim.rnn import LeakyRNN, train
    from neurosim.rnn.analysis.curvature import hessian_top_eigenvalues, hessian_trace

    from neurosim._threads import blas_threads

    with blas_threads(1):
        task, rule, seed = job["task"], job["rule"], job["seed"]
        options = {"window": job["tbptt_window"]} if rule == "tbptt" else {}
        if rule == "eprop-random":
            options["feedback_seed"] = seed
        model = LeakyRNN(task.n_in, job["n_rec"], task.n_out, seed=seed, **job["model_options"])
        run = train(model, task, rule=rule, steps=job["steps"], lr=job["lr"], batch_size=job["batch_size"],
                    seed=seed, checkpoints=job["checkpoints"], rule_options=options, progress=False)
        ck = run.checkpoints
        hit = ck.index[ck["accuracy"] >= job["target_accuracy"]]
        reached = len(hit) > 0
        row_at = hit[0] if reached else ck.index[-1]
        step = int(ck.loc[row_at, "step"])
        final = int(ck["step"].iloc[-1])
        curv_batch = task.batch(job["curvature_batch"], np.random.default_rng(10_000 + job["eval_seed"]))
        out = {"rule": rule, "seed": seed, "step": step, "reached": reached,
               "accuracy": float(ck.loc[row_at, "accuracy"]), "train_batch_loss": float(ck.loc[row_at, "loss"])}
        for label, s in (("", step), ("_final", final)):
            m = run.model(s)
            out[f"lambda_max{label}"] = float(hessian_top_eigenvalues(m, curv_batch, tol=job["tol"],
                                                                      max_iter=job["max_iter"])[0])
            if job["trace_samples"] and not label:
                out["hessian_trace"] = hessian_trace(m, curv_batch, n_samples=job["trace_samples"]).value
        for kind in job["heldout"]:
            g = generalization_gap(run, heldout=kind, input_noise=job["input_noise"] if kind == job["heldout"][0] else 0.0,
                                   n_trials=job["n_trials"], seed=job["eval_seed"], steps=[step])
            r = g.set_index("step").loc[step]
            out[f"train_loss"] = float(r["train_loss"])
            out[f"train_accuracy"] = float(r["train_accuracy"])
            out[f"gap_loss_{kind}"] = float(r["gap_loss"])
            out[f"gap_accuracy_{kind}"] = float(r["gap_accuracy"])
            if "noisy_gap_loss" in r:
                out["gap_loss_noisy"] = float(r["noisy_gap_loss"])
                out["gap_accuracy_noisy"] = float(r["noisy_gap_accuracy"])
        return out


def compare_rules(
    task,
    rules=DEFAULT_RULES,
    seeds=(0, 1, 2),
    *,
    n_rec: int = 32,
    steps: int = 600,
    lr: float = 3e-3,
    batch_size: int = 32,
    target_accuracy: float = 0.9,
    tbptt_window: int = 20,
    checkpoints: int = 40,
    heldout=("timing", "conditions"),
    input_noise: float = 0.5,
    n_trials: int = 512,
    curvature_batch: int = 64,
    tol: float = 1e-6,
    max_iter: int = 500,
    trace_samples: int = 0,
    model_options: dict | None = None,
    n_jobs: int = 1,
    eval_seed: int = 12345,
) -> pd.DataFrame:
    """Curvature and generalization of several learning rules over seeds, at matched accuracy.

    For each ``(rule, seed)``: a ``LeakyRNN(task.n_in, n_rec, task.n_out, seed=seed)`` is trained
    with ``neurosim.rnn.train`` (Adam, ``lr``), and its *matched* checkpoint is the first whose
    accuracy on the task's noise-free condition set reaches ``target_accuracy`` (the last one,
    with ``reached=False``, if none does). There we measure

    * ``lambda_max``: the top eigenvalue of the true loss Hessian w.r.t. ``W_rec``
      (:func:`neurosim.rnn.analysis.hessian_top_eigenvalues`) on one fixed batch of
      ``curvature_batch`` training trials -- the same batch for all runs; ``lambda_max_final``
      is the same at the end of training;
    * ``gap_loss_<kind>`` / ``gap_accuracy_<kind>``: test − train loss and train − test accuracy
      on each held-out set of :func:`heldout_task` (``heldout`` kinds), and ``*_noisy`` with
      extra input noise (:func:`generalization_gap`), on ``n_trials`` fixed trials.

    Rules: ``"bptt"``, ``"eprop"``, ``"eprop-random"`` (feedback seed = run seed) and
    ``"tbptt"`` (window ``tbptt_window`` steps).

    Parameters
    ----------
    task : Task
    rules : sequence of str
    seeds : sequence of int
        Seeds of initialization and training batches (one run per rule and seed).
    n_rec, steps, lr, batch_size
        Network size and training settings (Adam learning rate ``lr``).
    target_accuracy : float
        Accuracy at which rules are compared.
    tbptt_window : int
    checkpoints : int
        Number of log-spaced checkpoints (the matching resolution).
    heldout : sequence of {"conditions", "timing"}
    input_noise, n_trials
        As in :func:`generalization_gap`.
    curvature_batch, tol, max_iter, trace_samples
        Curvature settings (``trace_samples > 0`` adds a Hutchinson ``hessian_trace``).
    model_options : dict, optional
        Extra ``LeakyRNN`` arguments (``activation``, ``g0``, ...).
    n_jobs : int, default 1
        Worker processes (each uses one BLAS thread).
    eval_seed : int
        Seed of the evaluation trials (shared by all runs).

    Returns
    -------
    pandas.DataFrame
        One row per run; settings in ``.attrs["settings"]``.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> t = compare_rules(PerceptualDecision(), rules=("bptt", "eprop"), seeds=(0,), n_rec=6,
    ...                   steps=3, batch_size=4, checkpoints=3, n_trials=8, curvature_batch=4)
    >>> t[["rule", "seed"]].values.tolist(), bool((t.lambda_max.notna()).all())
    ([['bptt', 0], ['eprop', 0]], True)
    """
    from neurosim.rnn.rules import check_rule
    from neurosim.rnn.tasks import Task

    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    if isinstance(rules, str):
        rules = (rules,)
    rules = tuple(check_rule(r, {"window": tbptt_window} if r == "tbptt" else {}) for r in rules)
    if not rules:
        raise ValueError("rules is empty; give at least one learning rule, e.g. ('bptt', 'eprop')")
    seeds = tuple(int(s) for s in np.atleast_1d(seeds))
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    if isinstance(heldout, str):
        heldout = (heldout,)
    heldout = tuple(_check_kind(k) for k in heldout)
    if not heldout:
        raise ValueError("heldout is empty; give 'timing' and/or 'conditions'")
    if not 0.0 < float(target_accuracy) <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1]; got {target_accuracy}")
    for k in heldout:  # fail early, before any training, if a held-out set cannot be built
        heldout_task(task, k)
    jobs = [dict(task=task, rule=r, seed=s, n_rec=int(n_rec), steps=int(steps), lr=float(lr),
                 batch_size=int(batch_size), target_accuracy=float(target_accuracy),
                 tbptt_window=int(tbptt_window), checkpoints=int(checkpoints), heldout=heldout,
                 input_noise=float(input_noise), n_trials=int(n_trials), curvature_batch=int(curvature_batch),
                 tol=float(tol), max_iter=int(max_iter), trace_samples=int(trace_samples),
                 model_options=dict(model_options or {}), eval_seed=int(eval_seed))
            for r in rules for s in seeds]
    if int(n_jobs) > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=int(n_jobs)) as pool:
            rows = list(pool.map(_one_run, jobs))
    else:
        rows = [_one_run(j) for j in jobs]
    table = pd.DataFrame(rows)
    table.attrs["settings"] = {
        "task": task.name, "rules": list(rules), "seeds": list(seeds), "n_rec": int(n_rec), "steps": int(steps),
        "lr": float(lr), "batch_size": int(batch_size), "target_accuracy": float(target_accuracy),
        "tbptt_window": int(tbptt_window), "heldout": list(heldout), "input_noise": float(input_noise),
        "n_trials": int(n_trials), "curvature_batch": int(curvature_batch), "optimizer": "Adam",
    }
    return table


def _direction(diff: float, up: str, down: str) -> str:
    return up if diff > 0 else down if diff < 0 else "equal"


def curvature_trajectories(
    task,
    rules=DEFAULT_RULES,
    *,
    seed: int = 0,
    n_rec: int = 32,
    steps: int = 600,
    lr: float = 3e-3,
    batch_size: int = 32,
    tbptt_window: int = 20,
    checkpoints: int = 40,
    n_points: int = 10,
    curvature_batch: int = 64,
    eval_seed: int = 12345,
    model_options: dict | None = None,
) -> dict:
    """``lambda_max`` along training for one seed of each rule (the drift towards sharp regions).

    Trains each rule as :func:`compare_rules` does (same settings, so seed ``seed`` gives the same
    run) and evaluates :func:`neurosim.rnn.analysis.curvature_along_training` at ``n_points``
    evenly spaced checkpoints (always including the last), on the same fixed batch as
    :func:`compare_rules` uses.

    Returns
    -------
    dict
        Rule -> table (``step``, ``loss``, ``accuracy``, ``eval_loss``, ``lambda_max``) for
        :func:`plot_curvature_along_training`.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> out = curvature_trajectories(PerceptualDecision(), rules=("bptt",), n_rec=4, steps=2, batch_size=4,
    ...                              checkpoints=3, n_points=2, curvature_batch=4)
    >>> list(out), list(out["bptt"]["step"])
    (['bptt'], [0, 2])
    """
    from neurosim.rnn import LeakyRNN, train
    from neurosim.rnn.analysis.curvature import curvature_along_training
    from neurosim.rnn.rules import check_rule
    from neurosim.rnn.tasks import Task

    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    if isinstance(rules, str):
        rules = (rules,)
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be a positive int; got {n_points!r}")
    out = {}
    batch = task.batch(int(curvature_batch), np.random.default_rng(10_000 + int(eval_seed)))
    for rule in rules:
        rule = check_rule(rule, {"window": tbptt_window} if rule == "tbptt" else {})
        options = {"window": int(tbptt_window)} if rule == "tbptt" else {}
        if rule == "eprop-random":
            options["feedback_seed"] = int(seed)
        model = LeakyRNN(task.n_in, int(n_rec), task.n_out, seed=int(seed), **dict(model_options or {}))
        run = train(model, task, rule=rule, steps=int(steps), lr=float(lr), batch_size=int(batch_size),
                    seed=int(seed), checkpoints=int(checkpoints), rule_options=options, progress=False)
        idx = np.unique(np.round(np.linspace(0, len(run.steps) - 1, min(int(n_points), len(run.steps)))).astype(int))
        chosen = [run.steps[i] for i in idx]
        table = curvature_along_training(run, batch, steps=chosen)
        out[rule] = table.dropna(subset=["lambda_max"]).reset_index(drop=True)
    return out


def summarize_rules(table: pd.DataFrame, *, reference: str = "bptt", gap: str | None = None) -> dict:
    """Per-rule mean ± SD over seeds, each rule vs ``reference``, and the curvature–gap correlation.

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    reference : str
        The rule others are compared with.
    gap : str, optional
        The gap column used for comparisons and the correlation (default: the first
        ``gap_loss_*`` column).

    Returns
    -------
    dict
        ``"per_rule"`` (DataFrame: mean and SD per rule of ``lambda_max`` and every gap column),
        ``"versus"`` (rule -> dict with mean and median differences from the reference, and
        two-sided Mann-Whitney U p-values over seeds, for ``lambda_max``, ``gap`` and, if present,
        ``lambda_max_final``), ``"correlation"`` (Spearman rank
        correlation, and Pearson correlation of ``log10(lambda_max)`` -- curvature is
        heavy-tailed over seeds -- with ``gap``, over all runs; Pearson on ``lambda_max`` itself
        if some eigenvalue is <= 0), ``"gap"`` (the column used), and ``"text"`` (a printable
        summary).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rule": ["bptt"] * 3 + ["eprop"] * 3, "seed": [0, 1, 2] * 2,
    ...                   "lambda_max": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "reached": [True] * 6,
    ...                   "gap_loss_timing": [0.1, 0.2, 0.3, 0.3, 0.5, 0.4]})
    >>> s = summarize_rules(t)
    >>> s["versus"]["eprop"]["lambda_max_diff"], round(s["correlation"]["spearman_r"], 3)
    (3.0, 0.928)
    """
    from scipy import stats

    if not isinstance(table, pd.DataFrame) or not {"rule", "lambda_max"} <= set(table.columns):
        raise TypeError("table must be the DataFrame of compare_rules (columns 'rule', 'lambda_max', gaps)")
    gap_cols = [c for c in table.columns if c.startswith("gap_")]
    if gap is None:
        loss_gaps = [c for c in gap_cols if c.startswith("gap_loss_")]
        if not loss_gaps:
            raise ValueError("table has no gap_loss_* column; run compare_rules with a held-out set")
        gap = loss_gaps[0]
    elif gap not in table.columns:
        raise ValueError(f"gap column {gap!r} not in table; it has {gap_cols}")
    if reference not in set(table["rule"]):
        raise ValueError(f"reference rule {reference!r} not in table; rules: {sorted(set(table['rule']))}")
    cols = ["lambda_max"] + (["lambda_max_final"] if "lambda_max_final" in table else []) + gap_cols
    order = list(dict.fromkeys(table["rule"]))
    per_rule = table.groupby("rule", sort=False)[cols].agg(["mean", "std", "median"]).loc[order]
    ref = table[table["rule"] == reference]
    versus = {}
    for rule in order:
        if rule == reference:
            continue
        sub = table[table["rule"] == rule]
        entry = {}
        for c in ("lambda_max", gap) + (("lambda_max_final",) if "lambda_max_final" in table else ()):
            entry[f"{c}_diff"] = float(sub[c].mean() - ref[c].mean())
            entry[f"{c}_median_diff"] = float(sub[c].median() - ref[c].median())
            if len(sub) > 1 and len(ref) > 1:
                entry[f"{c}_p"] = float(stats.mannwhitneyu(sub[c], ref[c], alternative="two-sided").pvalue)
            else:
                entry[f"{c}_p"] = float("nan")
        versus[rule] = entry
    x, y = table["lambda_max"].to_numpy(float), table[gap].to_numpy(float)
    log = bool(np.all(x > 0))
    xp = np.log10(x) if log else x
    if len(x) >= 3 and np.std(xp) > 0 and np.std(y) > 0:
        pr, pp = stats.pearsonr(xp, y)
        sr, sp = stats.spearmanr(x, y)
        corr = {"pearson_r": float(pr), "pearson_p": float(pp), "spearman_r": float(sr), "spearman_p": float(sp),
                "n": int(len(x)), "pearson_of": "log10(lambda_max)" if log else "lambda_max"}
    else:
        corr = {"pearson_r": float("nan"), "pearson_p": float("nan"), "spearman_r": float("nan"),
                "spearman_p": float("nan"), "n": int(len(x)), "pearson_of": "log10(lambda_max)" if log else "lambda_max"}
    lines = []
    settings = table.attrs.get("settings", {})
    if settings:
        lines.append(f"task {settings.get('task')}, N={settings.get('n_rec')}, Adam lr={settings.get('lr')}, "
                     f"matched accuracy {settings.get('target_accuracy')}, seeds {settings.get('seeds')}")
    if "reached" in table:
        miss = table[~table["reached"].astype(bool)]
        if len(miss):
            lines.append("runs that never reached the target (compared at their last step): "
                         + ", ".join(f"{r}/seed{s}" for r, s in zip(miss["rule"], miss["seed"])))
    lines.append("mean ± SD over seeds [median]")
    lines.append(f"{'rule':14s} " + " ".join(f"{c:>30s}" for c in cols))
    for rule in order:
        cells = [f"{per_rule.loc[rule, (c, 'mean')]:.4g} ± {per_rule.loc[rule, (c, 'std')]:.3g} "
                 f"[{per_rule.loc[rule, (c, 'median')]:.4g}]" for c in cols]
        lines.append(f"{rule:14s} " + " ".join(f"{s:>30s}" for s in cells))
    for rule, e in versus.items():
        higher_l = _direction(e["lambda_max_median_diff"], "higher", "lower")
        larger_g = _direction(e[f"{gap}_median_diff"], "larger", "smaller")
        lines.append(f"{rule} vs {reference}: {higher_l} median curvature (Δmedian λ_max = "
                     f"{e['lambda_max_median_diff']:+.4g}, Δmean = {e['lambda_max_diff']:+.4g}, Mann-Whitney "
                     f"p = {e['lambda_max_p']:.3g}); {larger_g} median {gap} (Δmedian = "
                     f"{e[f'{gap}_median_diff']:+.4g}, Δmean = {e[f'{gap}_diff']:+.4g}, p = {e[f'{gap}_p']:.3g})")
        if "lambda_max_final_p" in e:
            lines.append(f"    at the last training step: {_direction(e['lambda_max_final_median_diff'], 'higher', 'lower')} "
                         f"median curvature (Δmedian = {e['lambda_max_final_median_diff']:+.4g}, "
                         f"p = {e['lambda_max_final_p']:.3g})")
    lines.append(f"correlation of λ_max with {gap} over {corr['n']} runs: Spearman ρ = {corr['spearman_r']:.3f} "
                 f"(p = {corr['spearman_p']:.3g}); Pearson r of {corr['pearson_of']} = {corr['pearson_r']:.3f} "
                 f"(p = {corr['pearson_p']:.3g})")
    return {"per_rule": per_rule, "versus": versus, "correlation": corr, "gap": gap, "text": "\n".join(lines)}


def plot_curvature_vs_gap(table: pd.DataFrame, path, *, lr: float | None = None, gaps=None) -> Path:
    """Figure: ``lambda_max`` per rule, and ``lambda_max`` against each generalization gap.

    The first panel shows every run (dots) and the median with the interquartile range (black)
    per rule; the others plot ``lambda_max`` against each gap (default: every ``gap_loss_*``
    column). The ``lambda_max`` axis is logarithmic when all values are positive (curvature is
    heavy-tailed over seeds). Every panel draws the ``2 / lr`` line. It is the exact stability
    threshold of *plain* gradient descent with step ``lr`` (GD cannot settle where
    ``lambda_max > 2 / lr``); the trainer uses Adam, whose threshold applies to the
    preconditioned Hessian, so for Adam runs the line is a reference scale, not a stability
    boundary (the figure's caption says so).

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    path : str or Path
        PNG file, written atomically (temporary file in the same folder, then ``os.replace``).
    lr : float, optional
        Learning rate (default: ``table.attrs["settings"]["lr"]``).
    gaps : sequence of str, optional
        Gap columns to plot against (default: every ``gap_loss_*``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> t = pd.DataFrame({"rule": ["bptt", "eprop"], "seed": [0, 0], "lambda_max": [1.0, 2.0],
    ...                   "gap_loss_timing": [0.1, 0.2]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = plot_curvature_vs_gap(t, os.path.join(d, "f.png"), lr=1e-3)
    ...     p.stat().st_size > 0
    True
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is an optional extra
        raise ImportError("plotting needs matplotlib: pip install 'neurosim[plots]'") from err
    if gaps is None:
        gaps = [c for c in table.columns if c.startswith("gap_loss_")]
    gaps = [gaps] if isinstance(gaps, str) else list(gaps)
    missing = [g for g in gaps if g not in table.columns]
    if missing or not gaps:
        raise ValueError(f"gap columns {missing or gaps} not in table; it has "
                         f"{[c for c in table.columns if c.startswith('gap_')]}")
    lr = table.attrs.get("settings", {}).get("lr") if lr is None else lr
    path = Path(path)
    lam = table["lambda_max"].to_numpy(float)
    log = bool(np.all(lam > 0))
    rules = list(dict.fromkeys(table["rule"]))
    colors = dict(zip(rules, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, 1 + len(gaps), figsize=(4.2 * (1 + len(gaps)), 4.2))
    ax0, rest = axes[0], axes[1:]
    for i, rule in enumerate(rules):
        sub = table[table["rule"] == rule]
        jitter = np.linspace(-0.12, 0.12, len(sub)) if len(sub) > 1 else np.zeros(1)
        ax0.scatter(i + jitter, sub["lambda_max"], color=colors[rule], zorder=3)
        q1, med, q3 = np.percentile(sub["lambda_max"], [25, 50, 75])
        ax0.errorbar(i + 0.25, med, yerr=[[med - q1], [q3 - med]], fmt="s", color="k", capsize=3)
        for ax, gap in zip(rest, gaps):
            ax.scatter(sub["lambda_max"], sub[gap], color=colors[rule], label=rule, zorder=3)
    ax0.set_xticks(range(len(rules)), rules)
    ax0.set_ylabel("top Hessian eigenvalue λ_max (W_rec)")
    ax0.set_title("curvature at matched accuracy\n(dots: seeds; black: median, IQR)", fontsize=10)
    for ax, gap in zip(rest, gaps):
        ax.set_xlabel("λ_max")
        ax.set_ylabel(gap.replace("_", " ") + " (test − train)")
        ax.axhline(0.0, color="lightgrey", lw=0.8, zorder=0)
        ax.set_title(f"curvature vs {gap.replace('gap_loss_', '')} gap", fontsize=10)
        if log:
            ax.set_xscale("log")
    if rest.size:
        rest[0].legend(frameon=False, fontsize=8)
    if log:
        ax0.set_yscale("log")
    if lr:
        line = 2.0 / float(lr)
        ax0.axhline(line, color="grey", ls="--", lw=1)
        for ax in rest:
            ax.axvline(line, color="grey", ls="--", lw=1)
        ax0.text(0.02, 0.97, f"2/lr = {line:.3g}", transform=ax0.transAxes, va="top", color="grey")
    fig.text(0.01, 0.005, "Dashed: 2/lr, the exact stability limit of plain gradient descent with step lr. "
             "Training used Adam, for which it is only a reference scale.", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save_figure(fig, path)


def _save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    from neurosim.io import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def plot_curvature_along_training(tables: dict, path, *, lr: float | None = None) -> Path:
    """Figure: ``lambda_max`` against training step, one line per run, with the ``2 / lr`` line.

    Parameters
    ----------
    tables : dict
        Label (e.g. the rule) -> table of
        :func:`neurosim.rnn.analysis.curvature_along_training` (columns ``step``, ``lambda_max``,
        ``accuracy``).
    path : str or Path
        PNG file, written atomically.
    lr : float, optional
        Learning rate for the ``2 / lr`` reference line (exact for plain gradient descent only;
        a reference scale for Adam).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> t = pd.DataFrame({"step": [0, 10, 100], "lambda_max": [1.0, 5.0, 20.0], "accuracy": [0.5, 0.7, 0.9]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     plot_curvature_along_training({"bptt": t}, os.path.join(d, "f.png"), lr=1e-2).stat().st_size > 0
    True
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is an optional extra
        raise ImportError("plotting needs matplotlib: pip install 'neurosim[plots]'") from err
    if not isinstance(tables, dict) or not tables:
        raise ValueError("tables must be a non-empty dict label -> curvature_along_training table")
    for label, t in tables.items():
        if not isinstance(t, pd.DataFrame) or not {"step", "lambda_max"} <= set(t.columns):
            raise ValueError(f"tables[{label!r}] needs the columns 'step' and 'lambda_max' "
                             "(from neurosim.rnn.analysis.curvature_along_training)")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 4))
    positive = True
    for label, t in tables.items():
        t = t.dropna(subset=["lambda_max"])
        positive &= bool(np.all(t["lambda_max"] > 0))
        ax0.plot(t["step"], t["lambda_max"], marker="o", ms=3, label=str(label))
        if "accuracy" in t:
            ax1.plot(t["accuracy"], t["lambda_max"], marker="o", ms=3, label=str(label))
    if positive:
        ax0.set_yscale("log")
        ax1.set_yscale("log")
    ax0.set_xscale("symlog", linthresh=10)
    ax0.set_xlim(left=0)
    ax0.set_xlabel("training step")
    ax1.set_xlabel("accuracy (noise-free conditions)")
    for ax in (ax0, ax1):
        ax.set_ylabel("λ_max (W_rec)")
        if lr:
            ax.axhline(2.0 / float(lr), color="grey", ls="--", lw=1)
    ax0.legend(frameon=False, fontsize=8)
    ax0.set_title("curvature along training", fontsize=10)
    ax1.set_title("curvature against accuracy", fontsize=10)
    fig.text(0.01, 0.005, "Dashed: 2/lr (exact stability limit of plain gradient descent; a reference scale "
             "for Adam).", fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save_figure(fig, Path(path))


def curvature_report(table: pd.DataFrame, out, *, reference: str = "bptt") -> str:
    """Write the rule comparison to a folder and return its printable summary.

    Writes (each atomically) ``runs.csv`` (the table), ``summary.txt`` (the text returned) and
    ``curvature_vs_gap.png`` (:func:`plot_curvature_vs_gap`, every ``gap_loss_*`` column).
    The summary holds :func:`summarize_rules` for the first gap column in full, then the
    rule-vs-reference lines and the correlation for every other gap column, and a closing
    verdict line per non-reference rule.

    Parameters
    ----------
    table : DataFrame
        From :func:`compare_rules`.
    out : str or Path
        Output folder (created if needed).
    reference : str
        Rule the others are compared with.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> t = pd.DataFrame({"rule": ["bptt"] * 2 + ["eprop"] * 2, "seed": [0, 1, 0, 1],
    ...                   "lambda_max": [1.0, 2.0, 3.0, 5.0], "gap_loss_timing": [0.1, 0.2, 0.3, 0.2]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = curvature_report(t, d)
    ...     sorted(p.name for p in Path(d).iterdir())
    ['curvature_vs_gap.png', 'runs.csv', 'summary.txt']
    >>> "eprop vs bptt: higher median curvature" in text
    True
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gaps = [c for c in table.columns if c.startswith("gap_")]
    if not gaps:
        raise ValueError("table has no gap_* column; run compare_rules with a held-out set")
    first = [c for c in gaps if c.startswith("gap_loss_")][:1] or gaps[:1]
    parts = [summarize_rules(table, reference=reference, gap=first[0])["text"]]
    for gap in gaps:
        if gap == first[0]:
            continue
        text = summarize_rules(table, reference=reference, gap=gap)["text"]
        parts.append("\n".join(line for line in text.splitlines() if " vs " in line or "correlation" in line))
    verdict = []
    for rule in dict.fromkeys(table["rule"]):
        if rule == reference:
            continue
        d_lam = summarize_rules(table, reference=reference, gap=first[0])["versus"][rule]
        bigger = [g for g in gaps if summarize_rules(table, reference=reference, gap=g)["versus"][rule][f"{g}_median_diff"] > 0]
        final = ""
        if "lambda_max_final_p" in d_lam:
            final = (f", {_direction(d_lam['lambda_max_final_median_diff'], 'higher', 'lower')} at the last step "
                     f"(p = {d_lam['lambda_max_final_p']:.3g})")
        verdict.append(
            f"VERDICT {rule} vs {reference}: median λ_max {_direction(d_lam['lambda_max_median_diff'], 'higher', 'lower')} "
            f"at matched accuracy (p = {d_lam['lambda_max_p']:.3g}){final}; median gap larger on "
            f"{len(bigger)}/{len(gaps)} gap measures ({', '.join(bigger) or 'none'})")
    parts.append("\n".join(verdict))
    text = "\n\n".join(parts) + "\n"
    from neurosim.io import atomic_path

    with atomic_path(out / "runs.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot_curvature_vs_gap(table, out / "curvature_vs_gap.png")
    return text
