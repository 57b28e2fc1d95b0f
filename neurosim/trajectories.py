"""The trajectory convention: ``(condition, time, unit[, trial])`` DataArrays.

Every activity array neurosim handles — a recording loaded by
:mod:`neurosim.datasets`, a model run by :mod:`neurosim.rnn`, an array a user
brings — is an :class:`xarray.DataArray` with

* dims ``("condition", "time", "unit")``, optionally a fourth ``"trial"`` dim
  for single-trial data (canonical order ``("condition", "time", "unit", "trial")``
  is not required: dims are used by name);
* a ``condition`` coordinate holding the condition labels (unique), possibly a
  :class:`pandas.MultiIndex` (e.g. ``context`` × ``coherence``), and any number of
  extra label coordinates along ``condition`` (e.g. ``direction``);
* a numeric, strictly increasing ``time`` coordinate whose unit is in
  ``time.attrs["units"]`` (``"ms"`` for recordings and the trainer).

Single trials and ragged trial counts
-------------------------------------
A ``trial`` dim holds repeated presentations of each condition. Conditions may have
different numbers of trials: the array is as long as the largest count and the
missing trials of a condition are **NaN padding** — a *whole* ``(condition, trial)``
slab (every time bin of every unit) is NaN. A trial that is NaN in only some bins or
units is an error (it is neither a trial nor a missing one); so is a condition with
no trial at all. :func:`trial_counts` reads the counts off the padding,
:func:`trial_mean` averages the present trials, :func:`equalize_trials` keeps the
same number of trials in every condition and :func:`trial_samples` gives the
``(condition × time, trial, unit)`` array of trial-level metrics.

This module builds (:func:`trajectories`), checks (:func:`validate_trajectories`)
and flattens (:func:`flatten`) such arrays; the flatten step turns
``(condition, time)`` into samples and ``unit`` into features, the
``(samples, features)`` layout every metric kernel takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.metrics._validate import refuse_masked

__all__ = ["DIMS", "trajectories", "validate_trajectories", "flatten", "condition_index",
           "trial_counts", "trial_mean", "equalize_trials", "trial_samples"]

#: The canonical dims of a trajectory array (``"trial"`` may follow).
DIMS: tuple[str, str, str] = ("condition", "time", "unit")
_OPTIONAL = ("trial",)


def _describe(da: xr.DataArray) -> str:
    return "(" + ", ".join(f"{d}: {n}" for d, n in da.sizes.items()) + ")"


def validate_trajectories(
    da: Any,
    *,
    name: str = "data",
    allow_trial: bool = True,
    allow_nan: bool = True,
) -> xr.DataArray:
    """Check that ``da`` follows the trajectory convention and return it in canonical order.

    Parameters
    ----------
    da : xarray.DataArray
        Activity with dims ``("condition", "time", "unit")`` in any order, plus an
        optional ``"trial"`` dim.
    name : str
        What to call the array in error messages (e.g. ``"model"``).
    allow_trial : bool
        Whether a ``"trial"`` dim is acceptable.
    allow_nan : bool
        If False, NaN values are an error. Infinite values are always an error.

    Returns
    -------
    xarray.DataArray
        The same data, transposed to ``("condition", "time", "unit"[, "trial"])``,
        with default coordinates filled in for dims that had none (``condition`` and
        ``unit`` get ``0..n-1``; a missing ``time`` coordinate is an error).

    Raises
    ------
    TypeError
        If ``da`` is not a DataArray or holds non-numeric values.
    ValueError
        Listing the dims it got, if dims are missing or unexpected; if condition
        labels repeat; if time is not numeric and strictly increasing; on inf
        (or NaN when ``allow_nan=False``); on empty dims; with a ``trial`` dim, on a
        trial that is NaN in some but not all of its bins (missing trials are whole
        NaN slabs) and on a condition without any trial.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((2, 3, 4)), dims=("unit", "condition", "time"),
    ...                   coords={"time": [0.0, 10.0, 20.0, 30.0]})
    >>> validate_trajectories(da).dims
    ('condition', 'time', 'unit')
    >>> validate_trajectories(da.rename(unit="neuron"))
    Traceback (most recent call last):
    ...
    ValueError: data must have dims ('condition', 'time', 'unit') (optionally 'trial'); got dims ('neuron', 'condition', 'time') with sizes (neuron: 2, condition: 3, time: 4). Missing: ['unit']; unexpected: ['neuron']. Rename with da.rename(...) or build the array with neurosim.trajectories(array, dims=...).
    """
    if not isinstance(da, xr.DataArray):
        raise TypeError(
            f"{name} must be an xarray.DataArray with dims {DIMS}; got {type(da).__name__}. "
            "Wrap a numpy array with neurosim.trajectories(array, dims=...)."
        )
    allowed = set(DIMS) | (set(_OPTIONAL) if allow_trial else set())
    got = tuple(da.dims)
    missing = [d for d in DIMS if d not in got]
    extra = [d for d in got if d not in allowed]
    if missing or extra:
        opt = " (optionally 'trial')" if allow_trial else ""
        raise ValueError(
            f"{name} must have dims {DIMS}{opt}; got dims {got} with sizes {_describe(da)}. "
            f"Missing: {missing}; unexpected: {extra}. Rename with da.rename(...) or build the "
            "array with neurosim.trajectories(array, dims=...)."
        )
    order = DIMS + tuple(d for d in _OPTIONAL if d in got)
    da = da.transpose(*order)
    empty = [d for d in order if da.sizes[d] == 0]
    if empty:
        raise ValueError(f"{name} has empty dims {empty}; sizes {_describe(da)}.")
    if not (np.issubdtype(da.dtype, np.number) or da.dtype == bool):
        raise TypeError(f"{name} must hold numbers; got dtype {da.dtype}.")
    if np.iscomplexobj(da.values):
        raise TypeError(f"{name} must hold real numbers; got dtype {da.dtype}.")
    for d in ("condition", "unit"):
        if d not in da.coords:
            da = da.assign_coords({d: np.arange(da.sizes[d])})
    if "time" not in da.coords:
        raise ValueError(
            f"{name} has no 'time' coordinate; give one (in ms, with attrs['units']) e.g. "
            "neurosim.trajectories(array, time=np.arange(T) * 10.0)."
        )
    t = da["time"].values
    if not np.issubdtype(t.dtype, np.number):
        raise ValueError(f"{name}: the 'time' coordinate must be numeric; got dtype {t.dtype}.")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name}: the 'time' coordinate holds NaN or inf.")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(
            f"{name}: the 'time' coordinate must be strictly increasing; got {t[:6]}... "
            "Sort with da.sortby('time')."
        )
    labels = condition_index(da)
    if labels.has_duplicates:
        dup = labels[labels.duplicated()].unique().tolist()
        raise ValueError(f"{name}: condition labels must be unique; repeated: {dup[:10]}.")
    units = da.indexes["unit"]
    if units.has_duplicates:
        raise ValueError(f"{name}: unit labels must be unique; repeated: {units[units.duplicated()].tolist()[:10]}.")
    values = np.asarray(da.values, dtype=float)
    if np.isinf(values).any():
        raise ValueError(
            f"{name} holds {int(np.isinf(values).sum())} infinite values; remove or clip them."
        )
    if not allow_nan and np.isnan(values).any():
        raise ValueError(
            f"{name} holds {int(np.isnan(values).sum())} NaN values; drop or impute them."
        )
    if "trial" in da.dims:
        _trial_presence(values, da, name)
    return da


def _trial_presence(values: np.ndarray, da: xr.DataArray, name: str) -> np.ndarray:
    """``(condition, trial)`` booleans: which trials are present; refuses partial-NaN trials."""
    nan = np.isnan(values)  # canonical order (condition, time, unit, trial)
    all_nan = nan.all(axis=(1, 2))
    any_nan = nan.any(axis=(1, 2))
    partial = any_nan & ~all_nan
    if partial.any():
        c, k = np.argwhere(partial)[0]
        label = condition_index(da)[c]
        label = label.item() if isinstance(label, np.generic) else label
        raise ValueError(
            f"{name}: {int(partial.sum())} trial(s) are NaN in some but not all of their time bins and "
            f"units (first: condition {label!r}, trial position {int(k)}). With a 'trial' dim, NaN marks a "
            "missing trial and must fill the whole (condition, trial) slab; drop the units or time bins "
            "with NaN, or set the whole trial to NaN."
        )
    present = ~all_nan
    empty = ~present.any(axis=1)
    if empty.any():
        labels = condition_index(da)[empty].tolist()
        raise ValueError(
            f"{name}: conditions {labels[:10]} have no trial (every trial is NaN); drop them "
            "(da.drop_sel(condition=...)) before comparing."
        )
    return present


def trial_counts(da: xr.DataArray, *, name: str = "data") -> xr.DataArray:
    """Number of present (not NaN-padded) trials per condition.

    Parameters
    ----------
    da : xarray.DataArray
        Trajectories with a ``trial`` dim; missing trials are whole NaN
        ``(condition, trial)`` slabs.
    name : str
        Name used in error messages.

    Returns
    -------
    xarray.DataArray
        Integer counts along ``condition`` (with the condition coordinates of ``da``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((2, 3, 4, 5))                 # (condition, time, unit, trial)
    >>> x[1, :, :, 3:] = np.nan                   # condition 1 has 3 trials
    >>> da = trajectories(x, dims=("condition", "time", "unit", "trial"))
    >>> trial_counts(da).values.tolist()
    [5, 3]
    """
    da = validate_trajectories(da, name=name)
    if "trial" not in da.dims:
        raise ValueError(f"{name} has no 'trial' dim (dims {tuple(da.dims)}); trial counts need single trials.")
    present = _trial_presence(np.asarray(da.values, dtype=float), da, name)
    counts = xr.DataArray(present.sum(axis=1), dims=("condition",), name="n_trials")
    return counts.assign_coords({c: da.coords[c] for c in da.coords if da[c].dims == ("condition",)})


def trial_mean(da: xr.DataArray, *, name: str = "data") -> xr.DataArray:
    """Average over the present trials of each condition (NaN padding ignored).

    ``mean[c, t, u] = (1/n_c) Σ_{k present} da[c, t, u, k]``; an array without a
    ``trial`` dim is returned as is.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.full((1, 1, 1), v) for v in (1.0, 3.0, np.nan)], axis=-1)
    >>> da = trajectories(np.concatenate([x, x * 0 + 2.0], axis=0), dims=("condition", "time", "unit", "trial"))
    >>> trial_mean(da).values.ravel().tolist()
    [2.0, 2.0]
    """
    da = validate_trajectories(da, name=name)
    if "trial" not in da.dims:
        return da
    return da.mean("trial", skipna=True, keep_attrs=True)


def equalize_trials(da: xr.DataArray, n: int | None = None, *, name: str = "data") -> xr.DataArray:
    """Keep the first ``n`` present trials of every condition (default: the smallest count).

    Trial-level metrics need the same number of trials in every condition; this drops
    the NaN padding of ragged data by keeping, in each condition, its first ``n``
    present trials in their stored order (the ``trial`` coordinate becomes ``0..n-1``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 1, 1, 4)
    >>> x[0, ..., 1] = np.nan                      # condition 0: trials 0, 2, 3
    >>> da = trajectories(x, dims=("condition", "time", "unit", "trial"))
    >>> equalize_trials(da).values[:, 0, 0].tolist()
    [[0.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    """
    da = validate_trajectories(da, name=name)
    if "trial" not in da.dims:
        raise ValueError(f"{name} has no 'trial' dim (dims {tuple(da.dims)}); nothing to equalize.")
    values = np.asarray(da.values, dtype=float)
    present = _trial_presence(values, da, name)
    counts = present.sum(axis=1)
    if n is None:
        n = int(counts.min())
    elif isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise TypeError(f"n must be a positive int (trials to keep per condition); got {n!r}.")
    if n > counts.min():
        raise ValueError(
            f"n={n} trials per condition asked for, but condition {condition_index(da)[int(counts.argmin())]!r} "
            f"has only {int(counts.min())}; pass n <= {int(counts.min())}."
        )
    out = np.stack([values[c][..., np.flatnonzero(present[c])[:n]] for c in range(values.shape[0])])
    res = xr.DataArray(out, dims=da.dims, coords={c: da.coords[c] for c in da.coords if "trial" not in da[c].dims},
                       attrs=dict(da.attrs))
    return res.assign_coords(trial=np.arange(n))


def trial_samples(da: xr.DataArray, *, name: str = "data") -> np.ndarray:
    """The ``(condition × time, trial, unit)`` array that trial-level metrics take.

    Every ``(condition, time bin)`` pair is one "stimulus" whose trials are samples of
    the response distribution: row ``c * T + t`` holds condition ``c`` at time bin ``t``
    (the row order of :func:`flatten`), axis 1 the trials, axis 2 the units. All
    conditions must have the same number of trials (see :func:`equalize_trials`).

    Examples
    --------
    >>> import numpy as np
    >>> da = trajectories(np.zeros((2, 3, 4, 5)), dims=("condition", "time", "unit", "trial"))
    >>> trial_samples(da).shape
    (6, 5, 4)
    """
    da = validate_trajectories(da, name=name)
    if "trial" not in da.dims:
        raise ValueError(
            f"{name} has no 'trial' dim (dims {tuple(da.dims)}); a trial-level metric needs single trials "
            "(condition, time, unit, trial)."
        )
    values = np.asarray(da.values, dtype=np.float64)
    present = _trial_presence(values, da, name)
    if not present.all():
        counts = present.sum(axis=1)
        raise ValueError(
            f"{name} has unequal trial counts per condition (from {int(counts.min())} to {int(counts.max())}, "
            "NaN-padded); a trial-level metric needs the same number in every condition. Use "
            "neurosim.trajectories.equalize_trials(da) to keep the first n present trials of each."
        )
    c, t, u, k = values.shape
    return values.transpose(0, 1, 3, 2).reshape(c * t, k, u)


def condition_index(da: xr.DataArray) -> pd.Index:
    """The condition labels of ``da`` as a :class:`pandas.Index` (a MultiIndex if it is one).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = trajectories(np.zeros((2, 1, 1)), conditions=["left", "right"], time=[0.0])
    >>> list(condition_index(da))
    ['left', 'right']
    """
    if "condition" in da.indexes:
        return da.indexes["condition"]
    return pd.Index(np.arange(da.sizes["condition"]), name="condition")


def _condition_coord(conditions: Any, n: int) -> Any:
    if isinstance(conditions, pd.DataFrame):
        conditions = pd.MultiIndex.from_frame(conditions)
    elif isinstance(conditions, Mapping):
        keys = list(conditions)
        if len(keys) == 1:
            conditions = pd.Index(np.asarray(conditions[keys[0]]), name=keys[0])
        else:
            conditions = pd.MultiIndex.from_arrays(
                [np.asarray(conditions[k]) for k in keys], names=keys
            )
    if isinstance(conditions, pd.MultiIndex):
        if len(conditions) != n:
            raise ValueError(f"conditions has {len(conditions)} labels but the array has {n} conditions.")
        return conditions
    labels = np.asarray(conditions)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"conditions must be a sequence of {n} labels (one per condition); got shape {labels.shape}."
        )
    return labels


def as_dense(array: Any, name: str) -> np.ndarray:
    """``np.asarray(array)``, with a clear error for ragged nested sequences (e.g. unequal trial counts).

    Examples
    --------
    >>> as_dense([np.zeros((2, 3)), np.zeros((2, 4))], "data")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data is ragged: ... pad each condition's missing trials with NaN up to the largest count ...
    """
    try:
        return np.asarray(array)
    except ValueError as err:
        if "inhomogeneous" not in str(err):
            raise
        detail = str(err).split(". ", 1)[-1]
        raise ValueError(
            f"{name} is ragged: its nested sequences have different lengths (np.asarray says: "
            f"{detail[:1].lower() + detail[1:]}). For unequal trial counts per condition, pad each "
            "condition's missing trials with NaN up to the largest count (a missing trial is a whole NaN "
            "(condition, trial) slab) and pass one array."
        ) from None


def trajectories(
    array: Any,
    *,
    conditions: Any = None,
    time: Sequence[float] | np.ndarray | None = None,
    units: Sequence[Any] | np.ndarray | None = None,
    dims: Sequence[str] = DIMS,
    attrs: Mapping[str, Any] | None = None,
    time_units: str = "ms",
) -> xr.DataArray:
    """Build and validate a trajectory DataArray from an array.

    Parameters
    ----------
    array : array_like or xarray.DataArray
        The activity. For a plain array, ``dims`` names its axes in order. A
        DataArray keeps its own dims and coordinates unless overridden here.
    conditions : sequence, pandas.Index / MultiIndex, DataFrame or mapping, optional
        Condition labels (default ``0..C-1``). A mapping ``{"context": [...],
        "coherence": [...]}`` or a DataFrame with several columns becomes a
        MultiIndex; a mapping with one key names a single-level index.
    time : sequence of float, optional
        Time of each bin (default ``0..T-1`` in units ``"steps"``).
    units : sequence, optional
        Unit labels (default ``0..N-1``).
    dims : sequence of str
        Names of the axes of a plain ``array``, e.g. ``("unit", "time", "condition")``
        for a (neurons, time, conditions) tensor. Must contain ``condition``,
        ``time`` and ``unit`` and may contain ``trial``.
    attrs : mapping, optional
        Provenance attributes merged into ``.attrs``.
    time_units : str
        Stored in ``time.attrs["units"]`` when ``time`` is given (default ``"ms"``).

    Returns
    -------
    xarray.DataArray
        Float64 array in canonical dim order ``("condition", "time", "unit"[, "trial"])``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(24.0).reshape(4, 3, 2)            # (unit, time, condition)
    >>> da = trajectories(X, dims=("unit", "time", "condition"),
    ...                   conditions=["left", "right"], time=[0.0, 10.0, 20.0])
    >>> da.dims, da.sizes["unit"], da["time"].attrs["units"]
    (('condition', 'time', 'unit'), 4, 'ms')
    >>> float(da.sel(condition="right", time=10.0, unit=0))
    3.0
    """
    if isinstance(array, xr.DataArray):
        da = array.astype(np.float64) if array.dtype != np.float64 else array.copy()
    else:
        # masked entries would become the numbers beneath the mask: refuse them (fill or drop first)
        values = as_dense(refuse_masked(array, "array"), "array")
        if values.dtype == object or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise TypeError(f"array must be numeric; got dtype {values.dtype}.")
        dims = tuple(dims)
        if values.ndim != len(dims):
            raise ValueError(
                f"array has {values.ndim} axes with shape {values.shape} but dims={dims} names "
                f"{len(dims)}; pass one name per axis, e.g. dims=('condition', 'time', 'unit')."
            )
        da = xr.DataArray(values.astype(np.float64), dims=dims)
    if "condition" in da.dims and conditions is not None:
        coord = _condition_coord(conditions, da.sizes["condition"])
        if isinstance(coord, pd.MultiIndex):
            drop = [c for c in da.coords if "condition" in da[c].dims]
            da = da.drop_vars(drop).assign_coords(
                xr.Coordinates.from_pandas_multiindex(coord, "condition")
            )
        else:
            da = da.assign_coords(condition=coord)
    if "time" in da.dims:
        if time is not None:
            t = np.asarray(time, dtype=np.float64)
            if t.shape != (da.sizes["time"],):
                raise ValueError(f"time must have {da.sizes['time']} values; got shape {t.shape}.")
            da = da.assign_coords(time=("time", t, {"units": time_units}))
        elif "time" not in da.coords:
            da = da.assign_coords(
                time=("time", np.arange(da.sizes["time"], dtype=np.float64), {"units": "steps"})
            )
    if "unit" in da.dims and units is not None:
        u = np.asarray(units)
        if u.shape != (da.sizes["unit"],):
            raise ValueError(f"units must have {da.sizes['unit']} labels; got shape {u.shape}.")
        da = da.assign_coords(unit=u)
    if attrs:
        da.attrs.update(dict(attrs))
    return validate_trajectories(da, name="array")


def flatten(da: xr.DataArray, *, name: str = "data") -> np.ndarray:
    """Flatten ``(condition, time, unit)`` into a ``(samples, features)`` matrix.

    Row ``c * T + t`` holds condition ``c`` at time bin ``t``; columns are units.
    This is the layout every metric in :mod:`neurosim.metrics` takes.

    Parameters
    ----------
    da : xarray.DataArray
        A trajectory array without a ``trial`` dim (average trials first, e.g.
        ``da.mean("trial")``).
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape ``(C * T, N)``.

    Examples
    --------
    >>> import numpy as np
    >>> da = trajectories(np.arange(12.0).reshape(2, 3, 2), time=[0.0, 1.0, 2.0])
    >>> flatten(da).shape
    (6, 2)
    >>> flatten(da)[3].tolist()          # condition 1, time bin 0
    [6.0, 7.0]
    """
    da = validate_trajectories(da, name=name, allow_trial=False)
    c, t, n = (da.sizes[d] for d in DIMS)
    return np.asarray(da.values, dtype=np.float64).reshape(c * t, n)
