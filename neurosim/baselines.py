"""Reference points for a model-vs-data distance: a floor to beat and the data's own ceiling.

* :func:`condition_average` — a "model" that knows nothing about conditions: every
  condition replaced by the mean over conditions. Any model worth its name should
  be closer to the data than this.
* :func:`split_half_ceiling` — how far the data is from *itself*: the distance
  between two random disjoint halves of the recorded units. A model at or below
  this value is as close to the data as the data's own halves are to each other.
* :func:`normalized_distance` — ``(d − d₀) / (1 − d₀)``: 0 at the ceiling, 1 at the
  largest possible (normalized) distance.

On the Hatsopoulos M1 data with ``metric="procrustes", normalize=True`` (full
121-bin window, no PCA, no CV) these give 0.4838 (condition average) and
0.403 ± 0.024 (70 + 70 units, 100 draws), the values of the e-prop paper's pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurosim._progress import progress_bar, show_progress
from neurosim._threads import blas_threads, check_threads
from neurosim.compare import Score, _align_time, _as_trajectories, resolve_metric
from neurosim.metrics._validate import check_count, check_flag, check_seed
from neurosim.metrics.blocks import UnitCovariance
from neurosim.trajectories import flatten

__all__ = ["condition_average", "split_half_ceiling", "normalized_distance"]


def condition_average(data: xr.DataArray) -> xr.DataArray:
    """Replace every condition by the mean over conditions (the condition-blind baseline).

    ``B[c, t, u] = (1/C) Σ_c' data[c', t, u]`` for every ``c`` — same coordinates as
    ``data``, so ``compare(condition_average(data), data)`` runs as is.

    Parameters
    ----------
    data : xarray.DataArray
        Trajectories ``(condition, time, unit[, trial])`` (a Dataset with ``rates`` is accepted).

    Returns
    -------
    xarray.DataArray

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> d = trajectories(np.arange(12.0).reshape(2, 3, 2), time=[0.0, 10.0, 20.0])
    >>> condition_average(d).sel(time=0.0).values.tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    """
    da, _ = _as_trajectories(data, "data", None)
    if np.isnan(da.values).any():
        raise ValueError("data holds NaN; the condition average would spread them. Clean or drop them first.")
    mean = da.mean("condition")
    out = mean.expand_dims(condition=da.sizes["condition"], axis=0).transpose(*da.dims)
    out = out.assign_coords({c: da.coords[c] for c in da.coords if "condition" in da[c].dims})
    out.attrs = dict(da.attrs, baseline="condition average")
    return out


def split_half_ceiling(
    data: Any,
    metric: Any = "procrustes",
    n_splits: int = 100,
    seed: int | None = 0,
    *,
    window: tuple[float, float] | None = None,
    threads: int | None = 1,
    progress: Any = "auto",
    fast: bool = True,
    **metric_options: Any,
) -> Score:
    """The data's distance to itself: random disjoint halves of the units, compared.

    Each draw permutes the ``N`` units (``numpy.random.default_rng(seed).permutation``)
    and compares the first ``h = N // 2`` with the next ``h`` over the same
    ``(condition, time)`` samples. For odd ``N`` one (random) unit is left out of
    each draw, so both halves have the same size — for the 141 Hatsopoulos units,
    halves of 70 as in the e-prop paper.

    Parameters
    ----------
    data : xarray.DataArray
        Trajectories ``(condition, time, unit)`` (trials are averaged).
    metric : str or callable
        As in :func:`neurosim.compare`; default Procrustes.
    n_splits : int
        Number of random draws (100 in the paper); an integer >= 1 (``True`` is refused).
    seed : int or None
        Seed of the draws (a non-negative integer); the same seed gives the same value.
    window : (start, stop), optional
        Data time range to use, as in :func:`neurosim.compare`.
    threads : int or None
        BLAS threads for the loop over draws (default 1; None leaves BLAS alone).
    progress : bool or "auto"
        tqdm bar over draws; ``"auto"`` only when stderr is an interactive terminal.
    fast : bool
        For metrics with a sufficient-statistics fast path (shape family, mean CCA,
        linear CKA) and no more units than samples, compute the centred unit covariance
        once and take every draw's blocks from it (one small SVD per draw; same values
        to rounding). ``False`` recomputes on the sliced arrays.
    **metric_options
        e.g. ``normalize=True``.

    Returns
    -------
    Score
        ``value`` = mean over draws, ``values`` = each draw, ``ci`` = central 95 %
        range of the draws, ``std`` = their standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(4, 30, 3))
    >>> d = trajectories(latent @ rng.normal(size=(3, 21)) + 0.1 * rng.normal(size=(4, 30, 21)),
    ...                  time=np.arange(30) * 10.0)
    >>> s = split_half_ceiling(d, n_splits=20, normalize=True)
    >>> len(s.values), s.settings["units_per_half"], round(s.value, 3)
    (20, 10, 0.257)
    >>> noise = trajectories(rng.normal(size=(4, 30, 21)), time=np.arange(30) * 10.0)
    >>> bool(split_half_ceiling(noise, n_splits=20, normalize=True).value > 0.8)  # no shared signal
    True
    """
    n_splits = check_count(n_splits, "n_splits")
    seed = check_seed(seed, "seed")
    threads = check_threads(threads, "threads")
    fast = check_flag(fast, "fast")
    show_progress(progress)  # refuses "yes"/"no" and numbers
    da, _ = _as_trajectories(data, "data", None)
    if "trial" in da.dims:
        da = da.mean("trial")
    if window is not None:
        da = _align_time(da, da, window, 0.0, False)[1]
    if np.isnan(da.values).any():
        raise ValueError("data holds NaN; drop those units or conditions before computing the ceiling.")
    n = da.sizes["unit"]
    h = n // 2
    if h < 1:
        raise ValueError(f"split-half needs at least 2 units; got {n}.")
    m = resolve_metric(metric, **metric_options)
    F = flatten(da)
    rng = np.random.default_rng(seed)
    vals = np.empty(int(n_splits))
    with blas_threads(threads), progress_bar(int(n_splits), progress, "split-half ceiling", "draw") as bar:
        # the unit covariance pays off when a draw's blocks are smaller than the samples
        cov = UnitCovariance(F) if fast and m.moments_fn is not None and n <= F.shape[0] else None
        full = getattr(m.moments_fn, "full", True)
        for k in range(int(n_splits)):
            perm = rng.permutation(n)
            if cov is not None:
                vals[k] = m.moments_fn(cov.moments(perm[:h], perm[h : 2 * h], full=full))
            else:
                vals[k] = m.fn(F[:, perm[:h]], F[:, perm[h : 2 * h]])
            bar.update()
    lo, hi = np.quantile(vals, [0.025, 0.975])
    settings = {
        "metric": m.name,
        **{f"metric.{k}": v for k, v in m.options.items()},
        "baseline": "split-half ceiling",
        "n_splits": int(n_splits),
        "units_per_half": int(h),
        "n_units": int(n),
        "seed": seed if seed is None or isinstance(seed, int) else repr(seed),
        "window": None if window is None else tuple(float(w) for w in window),
        "std": float(vals.std(ddof=0)),
    }
    return Score(float(vals.mean()), (float(lo), float(hi)), vals, settings)


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or a Score, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a Score, got {type(value).__name__}") from None


def normalized_distance(d: Any, ceiling: Any) -> float:
    """Rescale a distance against the data's ceiling: ``(d − d₀) / (1 − d₀)``.

    ``d₀`` is the split-half ceiling. 0 means "as close as the data is to itself",
    1 the maximal normalized distance, negative values "closer than the ceiling".
    Both arguments are floats in [0, 1] (normalized distances) or :class:`Score`.

    Examples
    --------
    >>> normalized_distance(0.6, 0.4)
    0.3333333333333333
    >>> normalized_distance(0.4, 0.4)
    0.0
    """
    d, d0 = _as_float(d, "d"), _as_float(ceiling, "ceiling")
    if not (np.isfinite(d) and np.isfinite(d0)):
        raise ValueError(f"distances must be finite; got d={d}, ceiling={d0}.")
    if d0 >= 1.0:
        raise ValueError(
            f"the ceiling must be < 1 for (d - d0) / (1 - d0); got {d0}. Use normalized distances "
            "(e.g. normalize=True for angular Procrustes)."
        )
    for name, v in (("d", d), ("ceiling", d0)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(
                f"{name} must be a normalized distance in [0, 1]; got {v}. Pass distances on the [0, 1] scale "
                "(e.g. normalize=True for angular Procrustes), not raw angles, similarities or differences."
            )
    return (d - d0) / (1.0 - d0)
