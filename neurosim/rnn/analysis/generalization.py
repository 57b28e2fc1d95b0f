"""Generalization of one trained RNN: test-minus-train gaps on conditions the training never saw.

Liu, Ghosh, Richards, Shea-Brown & Lajoie (NeurIPS 2022) define the generalization gap as test
error minus train error and find it larger, and more variable, for e-prop-like rules than for
BPTT. This module measures it along a training run, on three evaluation sets:

* ``train`` -- fresh trials from the training distribution (``task.batch``);
* ``test`` -- trials from *held-out* conditions (:func:`heldout_task`): coherences, stimulus
  angles or delays that the training distribution never produces;
* ``noisy`` -- training-distribution trials with extra Gaussian input noise.

The rule comparison of the paper (many runs, curvature at matched accuracy, its report) is an
experiment: :mod:`neurosim.experiments.liu2022`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from neurosim.metrics._validate import check_seed
from neurosim.rnn.model import _did_you_mean, loss
from neurosim.rnn.tasks import Task, from_config

__all__ = ["HELDOUT_KINDS", "heldout_task", "generalization_gap"]

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
    ``Digits``                        the held-out images of the       the training images with
                                      fixed split (``split="test"``)   every row held twice as long
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
        elif name == "digits":
            cfg["split"] = "test"
        elif name == "center-out":
            raise ValueError(
                "center-out has no held-out condition set: a reach direction outside the recording "
                "has no kinematics to train or test on. Use kind='timing' (longer delays) or pass "
                "test_task= yourself"
            )
        else:
            raise ValueError(f"no held-out condition rule for task {name!r}; pass test_task= yourself")
    elif name == "digits":
        cfg["hold"] = 2 * int(cfg["hold"])
    else:
        key = {"perceptual-decision": "stimulus"}.get(name, "delay")
        if key not in cfg:
            raise ValueError(f"no held-out timing rule for task {name!r}; pass test_task= yourself")
        cfg[key] = _longer(cfg[key])
    return from_config(cfg)


def _evaluate(model, batch, task) -> tuple[float, float]:
    y = model(batch.inputs)
    return float(loss(model, batch)), float(task.accuracy(y, batch))


def _noisy(batch, sigma: float, rng: np.random.Generator):
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

    rng = np.random.default_rng(check_seed(seed))
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
