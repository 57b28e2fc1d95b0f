"""Accuracy-matched comparison: compare models at equal task accuracy, not equal step.

BPTT reaches a given accuracy in far fewer updates than e-prop, so comparing two
learning rules at the same training step confounds "which rule" with "how well
trained". The functions here pick, for every run, the checkpoint at which it
reaches each accuracy level, and then measure distance to the recordings there.

Definitions (see ``docs/experiments.md``)
----------------------------------------
``method="first"`` (default)
    The matched checkpoint of a run for level ``L`` is the **first** checkpoint
    (smallest step) whose accuracy is ``>= L - tolerance``. A run whose accuracy
    dips again after crossing keeps its first crossing (non-monotone curves do
    not move the match later). Steps are unique, so there are no ties.
``method="nearest"``
    Among checkpoints with ``|accuracy - L| <= tolerance``, the one with the
    smallest ``|accuracy - L|``; ties go to the earliest step.

A run that never qualifies is *reported*, not dropped: its row has
``reached=False``, ``step=<NA>`` and ``accuracy=NaN``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from neurosim import baselines
from neurosim.compare import compare
from neurosim.metrics._validate import check_flag
from neurosim.pairwise import pairwise

__all__ = ["match_accuracy", "accuracy_matched", "model_distances", "run_table"]

_METHODS = ("first", "nearest")
# metadata columns pulled out of ``Run.config`` when present (architecture + init)
_CONFIG_KEYS = ("g0", "n_rec", "activation", "dale", "tau", "lr", "steps", "batch_size")


# ---------------------------------------------------------------------------
# normalising the many ways to pass runs
# ---------------------------------------------------------------------------
def _run_metadata(run: Any) -> dict:
    """rule / seed / config values of a Run-like object or an annotated DataFrame."""
    if isinstance(run, pd.DataFrame):
        meta = {k: v for k, v in run.attrs.items() if np.isscalar(v) or v is None}
        for col in ("rule", "seed") + _CONFIG_KEYS:
            if col in run.columns and col not in meta:
                values = run[col].dropna().unique()
                if len(values) == 1:
                    meta[col] = values[0]
        return meta
    meta: dict = {}
    for key in ("rule", "seed"):
        if hasattr(run, key):
            meta[key] = getattr(run, key)
    config = getattr(run, "config", None) or {}
    for key, value in dict(config).items():
        if key in ("rule", "seed") and key in meta:
            continue
        if np.isscalar(value) or value is None:
            meta[key] = value
    return meta


def _checkpoints(run: Any, name: str) -> pd.DataFrame:
    if isinstance(run, pd.DataFrame):
        table = run
    elif hasattr(run, "checkpoints"):
        table = run.checkpoints
    else:
        raise TypeError(
            f"run {name!r} is a {type(run).__name__}; expected a neurosim.rnn Run (with "
            "`.checkpoints`) or a pandas DataFrame with columns 'step' and 'accuracy'"
        )
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"run {name!r}: checkpoints must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in ("step", "accuracy") if c not in table.columns]
    if missing:
        raise ValueError(
            f"run {name!r}: checkpoint table lacks column(s) {missing}; it has {list(table.columns)}. "
            "Pass a table with one row per checkpoint and columns 'step' and 'accuracy'."
        )
    table = table[["step", "accuracy"]].copy()
    if len(table) == 0:
        raise ValueError(f"run {name!r}: checkpoint table is empty")
    steps = pd.to_numeric(table["step"], errors="coerce")
    acc = pd.to_numeric(table["accuracy"], errors="coerce").astype(float)
    if steps.isna().any():
        raise ValueError(f"run {name!r}: 'step' has missing or non-numeric values")
    if steps.duplicated().any():
        dup = sorted(steps[steps.duplicated()].unique().tolist())
        raise ValueError(f"run {name!r}: duplicate checkpoint steps {dup}; each step must appear once")
    if not np.isfinite(acc.to_numpy()).all():
        raise ValueError(
            f"run {name!r}: 'accuracy' has NaN/inf values; drop or fix those checkpoints first"
        )
    table["step"] = steps.astype(np.int64)
    table["accuracy"] = acc
    return table.sort_values("step", kind="stable").reset_index(drop=True)


def _as_named_runs(runs: Any) -> list[tuple[str, Any]]:
    """[(run id, run)] from a Run, DataFrame, mapping or sequence."""
    if isinstance(runs, pd.DataFrame) or hasattr(runs, "checkpoints"):
        runs = [runs]
    if isinstance(runs, Mapping):
        items = [(str(k), v) for k, v in runs.items()]
    elif isinstance(runs, Sequence) and not isinstance(runs, (str, bytes)):
        items = []
        for i, run in enumerate(runs):
            meta = _run_metadata(run)
            name = meta.get("name") or meta.get("run")
            if name is None and "rule" in meta:
                parts = [str(meta["rule"])]
                if "g0" in meta:
                    parts.append(f"g{meta['g0']}")
                if "seed" in meta:
                    parts.append(f"s{meta['seed']}")
                name = "-".join(parts)
            items.append((str(name) if name is not None else f"run{i}", run))
    else:
        raise TypeError(
            f"runs must be a Run, a DataFrame, a dict name -> run or a list of runs; got {type(runs).__name__}"
        )
    if not items:
        raise ValueError("runs is empty: pass at least one run")
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        # deterministic disambiguation: suffix the position of repeated names
        seen: dict[str, int] = {}
        fixed = []
        for n, r in items:
            seen[n] = seen.get(n, 0) + 1
            fixed.append((n if names.count(n) == 1 else f"{n}#{seen[n]}", r))
        items = fixed
    return items


def _check_levels(levels: Any) -> list[float]:
    arr = np.atleast_1d(np.asarray(levels, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("levels must be a non-empty sequence of accuracies, e.g. (0.8, 0.9, 0.95)")
    if not np.isfinite(arr).all():
        raise ValueError(f"levels must be finite numbers; got {arr.tolist()}")
    return [float(v) for v in arr]


def run_table(runs: Any) -> pd.DataFrame:
    """One row of metadata per run: run id, rule, seed and the scalar config entries.

    Parameters
    ----------
    runs : Run, DataFrame, dict name -> run, or list of runs

    Returns
    -------
    pandas.DataFrame
        Indexed by position with a ``run`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"step": [0, 10], "accuracy": [0.1, 0.9]})
    >>> t.attrs.update(rule="bptt", seed=1, g0=1.0)
    >>> run_table({"a": t})[["run", "rule", "seed", "g0"]].to_dict("records")
    [{'run': 'a', 'rule': 'bptt', 'seed': 1, 'g0': 1.0}]
    """
    rows = []
    for name, run in _as_named_runs(runs):
        rows.append({"run": name, **_run_metadata(run)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# match_accuracy
# ---------------------------------------------------------------------------
def _match_one(table: pd.DataFrame, level: float, method: str, tolerance: float) -> tuple[int | None, float]:
    acc = table["accuracy"].to_numpy()
    steps = table["step"].to_numpy()
    if method == "first":
        hits = np.flatnonzero(acc >= level - tolerance)
        if hits.size == 0:
            return None, float("nan")
        i = int(hits[0])
    else:
        gap = np.abs(acc - level)
        ok = np.flatnonzero(gap <= tolerance)
        if ok.size == 0:
            return None, float("nan")
        # smallest gap; ties -> earliest step (table is sorted by step, argmin takes the first)
        i = int(ok[np.argmin(gap[ok])])
    return int(steps[i]), float(acc[i])


def match_accuracy(
    runs: Any,
    levels: Sequence[float] | float = (0.8, 0.9, 0.95),
    *,
    tolerance: float | None = None,
    method: str = "first",
) -> pd.DataFrame:
    """For every run, the checkpoint that matches each accuracy level.

    Parameters
    ----------
    runs : Run, DataFrame, dict name -> (Run or DataFrame), or list of them
        A ``neurosim.rnn.Run`` (its ``.checkpoints`` table is used) or a plain
        checkpoint table with columns ``step`` and ``accuracy``. Metadata (rule,
        seed, g0, ...) come from ``Run.rule/.seed/.config`` or, for a DataFrame,
        from ``df.attrs`` or constant columns.
    levels : float or sequence of float
        Target accuracies.
    tolerance : float, optional
        ``method="first"``: the slack below the level that still counts as reaching
        it (default 0). ``method="nearest"``: the largest ``|accuracy - level|``
        accepted (default 0.02).
    method : {"first", "nearest"}
        ``"first"``: first checkpoint (smallest step) with
        ``accuracy >= level - tolerance`` — later dips do not move the match.
        ``"nearest"``: checkpoint minimising ``|accuracy - level|`` among those within
        ``tolerance``; ties go to the earliest step.

    Returns
    -------
    pandas.DataFrame
        One row per (run, level), runs in input order and levels as given: ``run``,
        the run's metadata columns, ``level``, ``reached`` (bool), ``step``
        (nullable integer, ``<NA>`` when not reached) and ``accuracy`` (NaN when not
        reached).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"step": [0, 100, 200, 300], "accuracy": [0.2, 0.85, 0.8, 0.93]})
    >>> m = match_accuracy({"r": t}, levels=(0.8, 0.9, 0.99))
    >>> print(m[["level", "reached", "step", "accuracy"]].to_string(index=False))
     level  reached  step  accuracy
      0.80     True   100      0.85
      0.90     True   300      0.93
      0.99    False  <NA>       NaN
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if tolerance is None:
        tolerance = 0.0 if method == "first" else 0.02
    tolerance = float(tolerance)
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0; got {tolerance}")
    level_list = _check_levels(levels)
    rows = []
    for name, run in _as_named_runs(runs):
        table = _checkpoints(run, name)
        meta = _run_metadata(run)
        for level in level_list:
            step, acc = _match_one(table, level, method, tolerance)
            rows.append({"run": name, **meta, "level": level, "reached": step is not None,
                         "step": step, "accuracy": acc})
    out = pd.DataFrame(rows)
    out["step"] = out["step"].astype("Int64")
    out["accuracy"] = out["accuracy"].astype(float)
    out["reached"] = out["reached"].astype(bool)
    return out


# ---------------------------------------------------------------------------
# accuracy_matched: distance to data at matched checkpoints
# ---------------------------------------------------------------------------
def _data_array(data: Any) -> xr.DataArray:
    if isinstance(data, xr.Dataset):
        if "rates" not in data:
            raise ValueError(f"data is a Dataset without a 'rates' variable (it has {list(data.data_vars)})")
        return data["rates"]
    if isinstance(data, xr.DataArray):
        return data
    raise TypeError(
        "data must be an xarray Dataset with 'rates' (e.g. neurosim.datasets.load('hatsopoulos2007')) "
        f"or a (condition, time, unit) DataArray; got {type(data).__name__}"
    )


def _score_fields(score: Any) -> tuple[float, float, float]:
    value = float(score)
    ci = getattr(score, "ci", None)
    if ci is None:
        return value, float("nan"), float("nan")
    lo, hi = (float(c) for c in ci)
    return value, lo, hi


def accuracy_matched(
    runs: Any,
    data: Any,
    *,
    metric: str = "procrustes",
    levels: Sequence[float] | float = (0.8, 0.9, 0.95),
    tolerance: float | None = None,
    method: str = "first",
    window: tuple[float, float] | None = None,
    ceiling: Any = None,
    include_unreached: bool = True,
    progress: bool = False,
    **compare_options: Any,
) -> pd.DataFrame:
    """Distance to the recordings of every run at each matched accuracy level.

    For each row of :func:`match_accuracy` that reached its level, the run's
    noise-free activity at the matched step, ``run.activity(step)``, is compared
    with the recordings by ``neurosim.compare(activity, rates, metric=metric,
    window=window, **compare_options)``. The normalized distance is
    ``neurosim.baselines.normalized_distance(distance, ceiling)`` against the
    split-half ceiling of the recordings.

    Parameters
    ----------
    runs : dict name -> Run or list of Run
        Runs must have ``.checkpoints`` and ``.activity(step)``.
    data : xarray.Dataset (with ``rates``) or DataArray (condition, time, unit)
    metric : str
        Metric name understood by ``neurosim.compare`` (default ``"procrustes"``).
    levels, tolerance, method
        See :func:`match_accuracy`.
    window : (start_ms, stop_ms), optional
        Time window (ms, movement-onset aligned) passed to ``compare``.
    ceiling : Score or float, optional
        Split-half ceiling; computed with
        ``neurosim.baselines.split_half_ceiling(data, metric=metric, window=window, ...)``
        when omitted.
    include_unreached : bool
        Keep rows of runs that never reached a level (distance NaN).
    progress : bool
        Show a tqdm progress bar.
    **compare_options
        Passed to ``compare`` (e.g. ``normalize=True``, ``bootstrap=200``).

    Returns
    -------
    pandas.DataFrame
        Columns ``run, rule, seed, g0, ... , level, reached, step, accuracy,
        distance, ci_low, ci_high, ceiling, distance_normalized``.
        ``accuracy`` is the actual accuracy at the matched step, ``level`` the target.
    """
    progress = check_flag(progress, "progress")
    rates = _data_array(data)
    named = dict(_as_named_runs(runs))
    for name, run in named.items():
        if not hasattr(run, "activity"):
            raise TypeError(
                f"run {name!r} has no .activity(step); accuracy_matched needs neurosim.rnn Run objects "
                "(checkpoint tables alone cannot be compared with data)"
            )
    matched = match_accuracy(named, levels, tolerance=tolerance, method=method)
    if ceiling is None:
        opts = {k: v for k, v in compare_options.items() if k in ("normalize",)}
        ceiling = baselines.split_half_ceiling(rates, metric=metric, window=window, **opts)
    ceiling_value = float(ceiling)

    dist, lo, hi = [], [], []
    cache: dict[tuple[str, int], tuple[float, float, float]] = {}
    rows = list(matched.itertuples(index=False))
    for row in tqdm(rows, disable=not progress, desc="distance at matched accuracy"):
        if not row.reached:
            dist.append(np.nan), lo.append(np.nan), hi.append(np.nan)
            continue
        key = (row.run, int(row.step))
        if key not in cache:
            activity = named[row.run].activity(int(row.step))
            score = compare(activity, rates, metric=metric, window=window, **compare_options)
            cache[key] = _score_fields(score)
        d, a, b = cache[key]
        dist.append(d), lo.append(a), hi.append(b)
    matched["distance"] = np.asarray(dist, dtype=float)
    matched["ci_low"] = np.asarray(lo, dtype=float)
    matched["ci_high"] = np.asarray(hi, dtype=float)
    matched["ceiling"] = ceiling_value
    matched["distance_normalized"] = [
        float(baselines.normalized_distance(d, ceiling)) if np.isfinite(d) else np.nan for d in dist
    ]
    if not include_unreached:
        matched = matched[matched["reached"]].reset_index(drop=True)
    return matched


def _window(activity: xr.DataArray, window: tuple[float, float] | None) -> xr.DataArray:
    if window is None:
        return activity
    start, stop = window
    return activity.sel(time=slice(start, stop))


def model_distances(
    runs: Any,
    level: float,
    *,
    metric: str = "procrustes",
    tolerance: float | None = None,
    method: str = "first",
    window: tuple[float, float] | None = None,
    client: Any = None,
    progress: bool = False,
    **metric_options: Any,
) -> xr.DataArray:
    """Model-to-model distance matrix at one matched accuracy level.

    Every run that reaches ``level`` (see :func:`match_accuracy`) contributes its
    activity at the matched step, cut to ``window``; the labelled K×K matrix comes
    from :func:`neurosim.pairwise.pairwise`. Runs that never reach the level are
    left out (listed in ``attrs["unreached"]``).

    Returns
    -------
    xarray.DataArray
        dims ``("network", "network_b")`` with the run ids as labels and the
        coordinates ``rule``/``seed``/``g0`` (when known) along both dims.
    """
    named = dict(_as_named_runs(runs))
    matched = match_accuracy(named, [level], tolerance=tolerance, method=method)
    reached = matched[matched["reached"]]
    if len(reached) < 2:
        raise ValueError(
            f"only {len(reached)} run(s) reach accuracy {level}; need at least 2 for a distance matrix "
            "(lower the level or train longer)"
        )
    collection = {
        row.run: _window(named[row.run].activity(int(row.step)), window)
        for row in reached.itertuples(index=False)
    }
    out = pairwise(collection, metric=metric, client=client, progress=progress, **metric_options)
    for col in ("rule", "seed", "g0"):
        if col in reached.columns:
            values = reached[col].to_numpy()
            out = out.assign_coords({f"{col}": ("network", values), f"{col}_b": ("network_b", values)})
    out.attrs["level"] = float(level)
    out.attrs["unreached"] = ",".join(matched.loc[~matched["reached"], "run"].tolist())
    return out
