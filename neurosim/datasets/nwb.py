"""NWB (Neurodata Without Borders) files → firing-rate trajectories.

NWB is the format in which the field publishes recordings (the DANDI archive). A file keeps the
sorted spikes of every unit in its ``units`` table (``spike_times`` in seconds on the session
clock) and one row per trial in its ``trials`` table (``start_time``, ``stop_time`` and any
columns the experimenters added: condition labels, event times). :func:`from_nwb` reads both
and hands them to :func:`neurosim.trajectories.from_spikes`, so a downloaded file becomes the
same ``(condition, time, unit)`` DataArray as every other recording in neurosim.

Reading NWB needs ``pynwb`` (``pip install 'neurosim[nwb]'``), imported only when a file is read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurosim.trajectories import from_spikes

__all__ = ["from_nwb", "read_nwb"]


def _pynwb():
    try:
        import pynwb  # optional dependency: the [nwb] extra
    except ImportError:
        raise ImportError("reading NWB files needs pynwb: pip install 'neurosim[nwb]' (or pip install pynwb).") from None
    return pynwb


def _mask(table: pd.DataFrame, select: Any, argument: str) -> pd.DataFrame:
    """Rows of ``table`` kept by ``select``: None (all), a callable(table) -> booleans, or a list of ids."""
    if select is None:
        return table
    if callable(select):
        keep = np.asarray(select(table))
        if keep.dtype != bool or keep.shape != (len(table),):
            raise ValueError(f"{argument}(table) must return one True/False per row ({len(table)}); got "
                             f"dtype {keep.dtype}, shape {keep.shape}.")
        out = table[keep]
    elif isinstance(select, (str, bytes)) or not isinstance(select, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"{argument} must be None, a callable(table) -> boolean mask, or a list of ids; "
                        f"got {select!r}.")
    else:
        wanted = list(select)
        unknown = [i for i in wanted if i not in table.index]
        if unknown:
            raise ValueError(f"{argument}: ids {unknown[:10]} are not in the table (ids {table.index[:10].tolist()}...).")
        out = table.loc[wanted]
    if len(out) == 0:
        raise ValueError(f"{argument} selects no rows.")
    return out


def read_nwb(path: str | os.PathLike) -> tuple[dict[Any, np.ndarray], pd.DataFrame, tuple[float, float]]:
    """The spike times, trials table and session span of an NWB file.

    Parameters
    ----------
    path : path-like
        An NWB file (HDF5).

    Returns
    -------
    spike_times : dict
        Unit id (the ``units`` table's ``id``) → spike times in s.
    trials : pandas.DataFrame
        The ``trials`` table (index: trial ``id``).
    session : (float, float)
        ``(0, end)`` in s: NWB times count from the session start; ``end`` is the last
        ``obs_intervals`` stop of the units table, or infinity when it has none.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not readable NWB, or has no ``units`` or no ``trials`` table.

    Examples
    --------
    >>> try:
    ...     read_nwb("no-such-session.nwb")
    ... except FileNotFoundError as err:
    ...     print(err)
    no such NWB file: no-such-session.nwb
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such NWB file: {path}")
    pynwb = _pynwb()
    try:
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwb = io.read()
            units, trials = nwb.units, nwb.trials
            if units is None or len(units) == 0:
                raise LookupError(f"{path} has no units table (nwb.units is empty): it holds no sorted spikes "
                                  "to turn into rates.")
            if trials is None or len(trials) == 0:
                raise LookupError(f"{path} has no trials table (nwb.trials is empty): from_nwb needs one row per "
                                  "trial with the condition and the alignment event.")
            if "spike_times" not in units.colnames:
                raise LookupError(f"{path}: the units table has no spike_times column (columns {list(units.colnames)}).")
            ids = list(units.id[:])
            spikes = {uid: np.asarray(units["spike_times"][i], dtype=np.float64) for i, uid in enumerate(ids)}
            end = math.inf
            if "obs_intervals" in units.colnames:
                stops = [np.asarray(units["obs_intervals"][i], dtype=np.float64).reshape(-1, 2)[:, 1]
                         for i in range(len(ids))]
                stops = [s for s in stops if s.size]
                if stops:
                    end = float(np.max(np.concatenate(stops)))
            table = trials.to_dataframe()
    except LookupError as err:
        raise ValueError(str(err)) from None
    except Exception as err:  # pynwb / h5py raise many kinds for a file that is not NWB
        raise ValueError(f"{path} could not be read as an NWB file ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:200]}); is it an NWB 2 (HDF5) file?") from None
    return spikes, table, (0.0, end)


def from_nwb(
    path: str | os.PathLike,
    *,
    condition: str | Sequence[str],
    align_to: str,
    window: tuple[float, float],
    bin_ms: float,
    smooth_ms: float = 0.0,
    kernel: str = "gaussian",
    units: Callable[[pd.DataFrame], Any] | Sequence[Any] | None = None,
    trials: Callable[[pd.DataFrame], Any] | Sequence[Any] | None = None,
    keep_trials: bool = False,
) -> xr.DataArray:
    """Firing rates ``(condition, time, unit)`` of an NWB file's units around a trial event.

    Reads the ``units`` and ``trials`` tables (:func:`read_nwb`) and returns exactly what
    :func:`neurosim.trajectories.from_spikes` returns for the same spikes and trials (see it for
    binning and smoothing), with ``attrs["source_file"]`` added.

    Parameters
    ----------
    path : path-like
        The NWB file.
    condition : str or list of str
        Column(s) of the trials table with the condition labels (e.g. ``["trial_type",
        "trial_version"]`` for the Neural Latents Benchmark's MC_Maze).
    align_to : str
        Column of the trials table with the event time in s (e.g. ``"move_onset_time"``).
    window : (float, float)
        First and last bin edge in ms around the event; must lie inside every kept trial's
        ``start_time..stop_time``.
    bin_ms, smooth_ms, kernel, keep_trials
        As in :func:`~neurosim.trajectories.from_spikes`.
    units : callable, list of ids, or None
        Which units to keep: a function of the units table returning a boolean mask (e.g.
        ``lambda u: u["quality"] == "good"``), or unit ids; None keeps all.
    trials : callable, list of ids, or None
        Which trials to keep, likewise on the trials table (e.g. ``lambda t: t["success"]``).

    Returns
    -------
    xarray.DataArray
        Rates in spikes/s; units labelled by the units table's ids.

    Raises
    ------
    ValueError
        For a file that is not NWB, a missing units or trials table, an unknown column, a
        window outside a trial or a spike time outside the session (before 0 or after the
        units' observation intervals).
    ImportError
        When pynwb is not installed.

    Examples
    --------
    A file from the Neural Latents Benchmark's MC_Maze (DANDI 000128) would be read with
    ``from_nwb(path, condition=["trial_type", "trial_version"], align_to="move_onset_time",
    window=(-250, 450), bin_ms=10)``; ``docs/score.md`` writes and reads a small file. A missing
    file is named:

    >>> try:
    ...     from_nwb("no-such-session.nwb", condition="trial_type", align_to="move_onset_time",
    ...              window=(-250, 450), bin_ms=10)
    ... except FileNotFoundError as err:
    ...     print(err)
    no such NWB file: no-such-session.nwb
    """
    spikes, table, session = read_nwb(path)
    if units is not None:
        ids = list(spikes)
        if callable(units):
            pynwb = _pynwb()
            with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
                unit_table = io.read().units.to_dataframe()
            keep = _mask(unit_table, units, "units").index.tolist()
        else:
            keep = _mask(pd.DataFrame(index=pd.Index(ids)), units, "units").index.tolist()
        spikes = {uid: spikes[uid] for uid in keep}
    table = _mask(table, trials, "trials")
    da = from_spikes(spikes, table, align_to=align_to, window=window, bin_ms=bin_ms, smooth_ms=smooth_ms,
                     kernel=kernel, condition=condition, keep_trials=keep_trials, session=session)
    da.attrs["source_file"] = Path(path).name
    return da
