"""Which model step is movement onset: the clock alignment between a task-trained RNN and M1.

A network trained on :class:`~neurosim.rnn.tasks.CenterOutReach` has its own clock; comparing
its activity with a recording aligned to movement onset needs a choice of which model step is
0 ms. The choice decides the absolute distances (Liu, Yang & Cueva 2025 on their own
checkpoints, -800..+400 ms: 0.517 -> 0.328 for BPTT under their analysis's alignment, 0.681 ->
0.549 under the task's true onset), so neurosim makes it a named, reported setting:

=============  =============================================================================
``"onset"``    the task's movement onset (the evaluation set's ``eval_onset`` step, 153 for
               the paper's design) is 0 ms: ``lag = 0`` on the task's time axis
``"liu2025"``  the released analysis of the paper: model step 185 is 0 ms, i.e. 32 steps
               (320 ms) *after* the task's onset: ``lag = -32 dt``
a number       an explicit lag in ms: model time ``t`` (ms from the task's onset) is compared
               with data time ``t + lag``
=============  =============================================================================

The lag follows :func:`neurosim.compare`'s convention (model time ``t`` <-> data time
``t + lag``), so ``"liu2025"`` compares data time 0 with model time +320 ms.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.compare import Score, compare
from neurosim.rnn.model import LeakyRNN
from neurosim.rnn.tasks import Task
from neurosim.rnn.train import activity

#: Named alignments (see the module docstring).
ALIGNMENTS = ("liu2025", "onset")
#: Steps from the task's movement onset to the step the paper's released analysis calls 0 ms
#: (step 185 of its evaluation trial, whose onset is step 153).
LIU2025_STEPS_AFTER_ONSET = 32


def alignment_lag(alignment, task: Task) -> float:
    """The lag in ms (model time ``t`` <-> data time ``t + lag``) of an alignment for ``task``.

    Parameters
    ----------
    alignment : {"liu2025", "onset"} or float
        A named alignment or an explicit lag in ms.
    task : Task
        The task whose evaluation set gives the model's time axis (its ``dt``).

    Returns
    -------
    float
        ``0`` for ``"onset"``, ``-32 * task.dt`` (-320 ms) for ``"liu2025"``, the number itself
        otherwise.

    Examples
    --------
    >>> from neurosim.rnn.tasks import PerceptualDecision
    >>> alignment_lag("liu2025", PerceptualDecision()), alignment_lag("onset", PerceptualDecision())
    (-320.0, 0.0)
    >>> alignment_lag(-100, PerceptualDecision())
    -100.0
    """
    if isinstance(alignment, str):
        if alignment == "onset":
            return 0.0
        if alignment == "liu2025":
            return -LIU2025_STEPS_AFTER_ONSET * float(task.dt)
        raise ValueError(f"alignment must be one of {list(ALIGNMENTS)} or a lag in ms; got {alignment!r}")
    if isinstance(alignment, bool) or not isinstance(alignment, numbers.Real) or not np.isfinite(alignment):
        raise TypeError(f"alignment must be one of {list(ALIGNMENTS)} or a finite lag in ms; got {alignment!r}")
    return float(alignment)


def alignment_label(alignment) -> str:
    """Name of an alignment for tables and figure titles (``"liu2025"``, ``"onset"``, ``"lag-100ms"``).

    Examples
    --------
    >>> alignment_label("onset"), alignment_label(-100.0)
    ('onset', 'lag-100ms')
    """
    if isinstance(alignment, str):
        return alignment
    return f"lag{float(alignment):+g}ms"


def distance_to_data(model, task: Task, rates, *, alignment="liu2025", window=(-800.0, 400.0),
                     metric: str = "procrustes", normalize: bool = True, **options) -> Score:
    """Distance between a network's noise-free activity on ``task`` and recorded rates.

    Runs ``model`` once per condition of ``task.conditions()`` (the condition average), shifts
    its clock by the alignment's lag and compares ``window`` of the data with
    :func:`neurosim.compare` (conditions matched by label; (condition x time) samples, units as
    features).

    Parameters
    ----------
    model : LeakyRNN or xarray.DataArray
        The network, or its activity ``(condition, time, unit)`` from
        :func:`neurosim.rnn.activity` (time in ms from the task's movement onset).
    task : Task
        The task the network was trained on (gives the evaluation set and ``dt``).
    rates : xarray.DataArray or xarray.Dataset
        Recorded rates ``(condition, time, unit)`` with time in ms from movement onset, or a
        Dataset holding them as ``rates`` (e.g. ``neurosim.datasets.load("hatsopoulos2007")``).
    alignment : {"liu2025", "onset"} or float
        Which model step is 0 ms (module docstring); default the paper's released analysis.
    window : (float, float)
        Inclusive data time range in ms (default -800..+400, the paper's).
    metric : str
        Any :func:`neurosim.compare` metric (default rotation-only Procrustes).
    normalize : bool
        For Procrustes: the angle divided by pi/2, so the distance lies in [0, 1]
        (0 = identical up to rotation).
    **options
        Passed to :func:`neurosim.compare` (e.g. ``cv=``, ``bootstrap=``).

    Returns
    -------
    Score
        A distance (smaller = closer to the data). ``settings`` holds ``alignment`` (its
        label) and ``lag`` besides compare's settings.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import CenterOutReach
    >>> from neurosim.trajectories import trajectories
    >>> t = np.arange(-800.0, 401.0, 10.0)
    >>> kin = np.stack([np.tanh(np.clip(t, 0, None) / 200.0)[None, :] * np.array([[1], [-1]])] * 2, -1)
    >>> task = CenterOutReach(kin, t, [0.0, 180.0], design="liu2025")
    >>> m = LeakyRNN(3, 20, 2, seed=0)
    >>> data = trajectories(np.random.default_rng(0).random((2, 121, 5)), conditions=[0, 180], time=t)
    >>> s = distance_to_data(m, task, data, alignment="onset")
    >>> 0 <= float(s) <= 1, s.settings["alignment"], s.settings["lag"]
    (True, 'onset', 0.0)
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a neurosim.rnn.tasks.Task; got {type(task).__name__}")
    lag = alignment_lag(alignment, task)
    if isinstance(model, LeakyRNN):
        act = activity(model, task)
    elif isinstance(model, xr.DataArray):
        act = model
    else:
        raise TypeError(f"model must be a LeakyRNN or its activity DataArray; got {type(model).__name__}")
    if isinstance(rates, xr.Dataset):
        if "rates" not in rates:
            raise ValueError(f"rates is a Dataset without a 'rates' variable (has {list(rates.data_vars)})")
        rates = rates["rates"]
    if metric == "procrustes":
        options = {"normalize": normalize, **options}
    score = compare(act, rates, metric, window=window, lag=lag, **options)
    score.settings["alignment"] = alignment_label(alignment)
    score.settings["lag"] = lag
    return score


def lag_sweep(model, task: Task, rates, *, lags=tuple(range(-500, 501, 20)), window=(-800.0, 400.0),
              metric: str = "procrustes", normalize: bool = True) -> pd.DataFrame:
    """Distance to the data as a function of the clock lag: where does a model align best?

    Parameters
    ----------
    model : LeakyRNN or xarray.DataArray
        As in :func:`distance_to_data` (the activity is computed once).
    task : Task
    rates : xarray.DataArray or xarray.Dataset
    lags : sequence of float
        Lags in ms (model time ``t`` from the task's onset <-> data time ``t + lag``): 0 is the
        ``"onset"`` alignment, ``-320`` the ``"liu2025"`` one. Default -500..+500 ms by 20 ms.
    window, metric, normalize
        As in :func:`distance_to_data`.

    Returns
    -------
    pandas.DataFrame
        Columns ``lag`` (ms) and ``distance``, one row per lag.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.rnn import LeakyRNN
    >>> from neurosim.rnn.tasks import CenterOutReach
    >>> from neurosim.trajectories import trajectories
    >>> t = np.arange(-800.0, 401.0, 10.0)
    >>> kin = np.stack([np.tanh(np.clip(t, 0, None) / 200.0)[None, :] * np.array([[1], [-1]])] * 2, -1)
    >>> task = CenterOutReach(kin, t, [0.0, 180.0], design="liu2025")
    >>> data = trajectories(np.random.default_rng(0).random((2, 121, 5)), conditions=[0, 180], time=t)
    >>> lag_sweep(LeakyRNN(3, 10, 2), task, data, lags=[-320, 0]).shape
    (2, 2)
    """
    act = activity(model, task) if isinstance(model, LeakyRNN) else model
    rows = [{"lag": float(lag), "distance": float(distance_to_data(act, task, rates, alignment=float(lag),
                                                                   window=window, metric=metric,
                                                                   normalize=normalize))}
            for lag in lags]
    return pd.DataFrame(rows)


__all__ = ["ALIGNMENTS", "LIU2025_STEPS_AFTER_ONSET", "alignment_lag", "alignment_label", "distance_to_data",
           "lag_sweep"]
