"""Reference points for a model-vs-data distance: a floor to beat and the data's own ceiling.

* :func:`condition_average` — a "model" that knows nothing about conditions: every
  condition replaced by the mean over conditions. Any model worth its name should
  be closer to the data than this.
* :func:`split_half_ceiling` — how far the data is from *itself*: the distance
  between two random disjoint halves of the recorded units. A model at or below
  this value is as close to the data as the data's own halves are to each other.
* :func:`normalized_distance` — ``(d − d₀) / (1 − d₀)``: 0 at the ceiling, 1 at the
  largest possible (normalized) distance.
* :func:`trial_split_ceiling` — how far the data is from itself across *trials*: two
  random halves of each condition's trials, averaged and compared, corrected to the full
  trial count with Spearman–Brown; its ``model_ceiling`` is what a noise-free model can reach.
* :func:`split_half_reliability` — the same per recorded unit (Spearman–Brown-corrected
  split-half correlation over the (condition, time) samples).
* :func:`ceiled_score` — a model's score as a fraction of the ceiling, reported with the raw
  score and the ceiling, clipped at 1 with a flag (never silently above 1).

On the Hatsopoulos M1 data with ``metric="procrustes", normalize=True`` (full
121-bin window, no PCA, no CV) these give 0.4838 (condition average) and
0.403 ± 0.024 (70 + 70 units, 100 draws), the values of the e-prop paper's pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurosim import metrics as M
from neurosim._progress import progress_bar, show_progress
from neurosim._threads import blas_threads, check_threads
from neurosim.compare import _SHAPE_ALIASES, TRIAL_INPUT, Score, _align_time, _as_trajectories, resolve_metric
from neurosim.metrics._validate import check_count, check_flag, check_seed
from neurosim.metrics.blocks import UnitCovariance
from neurosim.trajectories import _trial_presence, condition_index, flatten

__all__ = ["condition_average", "split_half_ceiling", "normalized_distance", "trial_split_ceiling",
           "split_half_reliability", "spearman_brown", "ceiled_score", "reliability_curve"]


def condition_average(data: xr.DataArray) -> xr.DataArray:
    """Replace every condition by the mean over conditions (the condition-blind baseline).

    ``B[c, t, u] = (1/C) Σ_c' data[c', t, u]`` for every ``c`` — same coordinates as
    ``data``, so ``compare(condition_average(data), data)`` runs as is.

    Parameters
    ----------
    data : xarray.DataArray
        Trajectories ``(condition, time, unit[, trial])`` (a Dataset with ``rates`` is accepted).
        Single trials are averaged first (present trials only: NaN padding of ragged counts is
        ignored), so the baseline is ``(condition, time, unit)``.

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
    if "trial" in da.dims:
        da = da.mean("trial", skipna=True, keep_attrs=True)  # validated: NaN only as whole missing trials
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


# --------------------------------------------------------------------------- trial-split ceilings
def spearman_brown(r: Any, k: Any) -> Any:
    """Spearman–Brown prophecy: the reliability of a measurement ``k`` times as long.

    ``ρ_k = k r / (1 + (k − 1) r)``. With ``r`` the correlation between two half-trial
    averages and ``k = 2`` it is the reliability of the full-trial average. Elementwise
    on arrays.

    Examples
    --------
    >>> spearman_brown(0.5, 2)
    0.6666666666666666
    >>> spearman_brown(1.0, 3)
    1.0
    """
    r = np.asarray(r, dtype=float)
    out = k * r / (1.0 + (k - 1.0) * r)
    return float(out) if out.ndim == 0 else out


# maps between a metric's own scale and the correlation-like similarity scale of Spearman–Brown
_SCALES: dict[str, tuple[Any, Any]] = {
    "identity": (lambda v: v, lambda v: v),
    "cos": (np.cos, lambda s: np.arccos(np.clip(s, -1.0, 1.0))),
    "cos(pi/2 d)": (lambda d: np.cos(np.asarray(d) * np.pi / 2),
                    lambda s: np.arccos(np.clip(s, -1.0, 1.0)) / (np.pi / 2)),
    # "angular scores" 1 − d / (π/2): back to the angle, then its cosine
    "cos(pi/2 (1 - v))": (lambda v: np.cos((1.0 - np.asarray(v)) * np.pi / 2),
                          lambda s: 1.0 - np.arccos(np.clip(s, -1.0, 1.0)) / (np.pi / 2)),
}


def _similarity_scale(metric: Any, m: Any, options: dict) -> str | None:
    """Name of the map from the metric's values to a correlation-like similarity (None: there is none)."""
    if m.direction == "similarity":
        if isinstance(metric, str) and metric.strip().lower() not in _SHAPE_ALIASES:
            measure = M.make(metric)
            shape_funcs = (M.procrustes_distance, M.cca_distance, M.shape_distance)
            if measure.func in shape_funcs and measure.transform is not None and measure.options.get("normalize"):
                return "cos(pi/2 (1 - v))"  # e.g. procrustes-angular_score = 1 − d/(π/2)
        return "identity"
    if m.direction != "distance" or not isinstance(metric, str):
        return None
    key = metric.strip().lower()
    if key in _SHAPE_ALIASES:
        opts, angular_func = dict(options), True
    else:
        measure = M.make(metric)
        opts = {**measure.options, **options}
        angular_func = measure.func in (M.procrustes_distance, M.cca_distance, M.shape_distance)
        if not angular_func and measure.units == "radians" and measure.input == "samples":
            return "cos"  # e.g. arccos of CKA: the cosine gives the similarity back
    if angular_func and opts.get("kind", "angular") == "angular":
        return "cos(pi/2 d)" if opts.get("normalize", False) else "cos"
    return None


def _trial_halves(values: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Means of two random disjoint halves of each condition's present trials (``⌊n_c/2⌋`` each)."""
    C = values.shape[0]
    A = np.empty(values.shape[:3])
    B = np.empty(values.shape[:3])
    for c in range(C):
        have = rng.permutation(np.flatnonzero(present[c]))
        h = have.size // 2
        A[c] = values[c][..., have[:h]].mean(axis=-1)
        B[c] = values[c][..., have[h : 2 * h]].mean(axis=-1)
    return A, B


def _trial_data(data: Any, window: Any, name: str = "data") -> tuple[xr.DataArray, np.ndarray, np.ndarray]:
    """Trial-level data (windowed), its values and the (condition, trial) presence; >= 2 trials each."""
    da, _ = _as_trajectories(data, name, None)
    if "trial" not in da.dims:
        raise ValueError(
            f"{name} has no 'trial' dim (dims {tuple(da.dims)}); a trial-split ceiling needs single trials "
            "(condition, time, unit, trial). For trial-averaged data use split_half_ceiling (halves of units)."
        )
    if window is not None:
        da = _align_time(da, da, window, 0.0, False)[1]
    values = np.asarray(da.values, dtype=float)
    present = _trial_presence(values, da, name)
    counts = present.sum(axis=1)
    if counts.min() < 2:
        label = condition_index(da)[int(counts.argmin())]
        raise ValueError(
            f"{name}: a trial split needs at least 2 trials in every condition; condition {label!r} has "
            f"{int(counts.min())}. Drop such conditions (da.drop_sel(condition=...)) first."
        )
    return da, values, present


def _split_factor(present: np.ndarray) -> float:
    """Spearman–Brown length factor from the half-trial to the full-trial averages.

    The noise variance of a condition mean scales as 1/n; over conditions with ``n_c``
    trials and halves of ``⌊n_c/2⌋``, ``k = mean_c(1/⌊n_c/2⌋) / mean_c(1/n_c)`` (2 for
    even equal counts).
    """
    n = present.sum(axis=1).astype(float)
    return float(np.mean(1.0 / np.floor(n / 2)) / np.mean(1.0 / n))


def trial_split_ceiling(
    data: Any,
    metric: Any = "procrustes",
    n_splits: int = 100,
    seed: int | None = 0,
    *,
    spearman_brown: bool = True,
    window: tuple[float, float] | None = None,
    threads: int | None = 1,
    progress: Any = "auto",
    **metric_options: Any,
) -> Score:
    """The data's similarity to itself across trials, corrected to the full trial count.

    Each draw splits every condition's present trials at random into two disjoint halves
    of ``h_c = ⌊n_c/2⌋`` trials (one trial left out when ``n_c`` is odd), averages each
    half, and compares the two half-average arrays with ``metric`` over the same
    ``(condition, time)`` samples and units.

    **Spearman–Brown on a distance.** The correction applies to a correlation-like
    similarity ``s`` between two replicate measurements (signal + independent noise). Each
    half value is mapped to that scale first, corrected, and mapped back:

    * similarities (CKA, RSA, mean CCA, ``nbs``, ...): ``s = value`` (the angular scores
      ``1 − d/(π/2)`` of the shape family: ``s = cos(π (1 − value) / 2)``);
    * angular shape distances (Procrustes, CCA, ``shape`` with ``kind="angular"``, in
      radians): ``s = cos d`` (for Procrustes, the normalized Bures similarity);
      with ``normalize=True`` (``d`` in units of π/2): ``s = cos(π d / 2)``;
    * other distances (euclidean kinds): no such scale — pass ``spearman_brown=False``.

    Then ``ρ = k s / (1 + (k − 1) s)`` (:func:`spearman_brown`) with the length factor
    ``k = mean_c(1/h_c) / mean_c(1/n_c)`` (``k = 2`` for even, equal counts): the
    similarity expected between two independent full-trial recordings. A model free of
    noise (the true condition means) is expected to reach ``√ρ`` against the full-trial
    data (correction for attenuation: a correlation with a noisy measurement is at most the
    square root of its reliability); that is the ``model_ceiling`` :func:`ceiled_score`
    divides by.

    Parameters
    ----------
    data : xarray.DataArray or Dataset
        Single trials ``(condition, time, unit, trial)``; ragged counts NaN-padded (see
        :mod:`neurosim.trajectories`); at least 2 trials in every condition.
    metric : str or callable
        As in :func:`neurosim.compare` (default angular Procrustes, radians).
    n_splits : int
        Random splits (>= 1).
    seed : int or None
        Seed of the splits.
    spearman_brown : bool
        Correct each split to the full trial count (default). ``False`` reports the raw
        half-vs-half values.
    window : (start, stop), optional
        Data time range, as in :func:`neurosim.compare`.
    threads, progress
        BLAS threads for the loop (default 1) and the tqdm bar, as in :func:`split_half_ceiling`.
    **metric_options
        e.g. ``normalize=True``.

    Returns
    -------
    Score
        On the metric's own scale and direction: ``value`` = the mapped-back mean over
        draws of ``ρ`` (without correction: of ``s``), ``values`` = each draw, ``ci`` = the
        central 95 % of the draws. ``settings`` holds ``split_half_similarity`` (mean
        ``s``), ``reliability`` (mean ``ρ``), ``model_ceiling_similarity`` (``√ρ``),
        ``model_ceiling`` (the same on the metric's scale), ``spearman_brown_factor``
        (``k``), ``similarity_scale`` and the trial counts.

    Examples
    --------
    >>> from neurosim.datasets import simulate_trials
    >>> sim = simulate_trials(n_conditions=6, n_trials=10, n_time=15, n_units=20, noise=2.0)
    >>> c = trial_split_ceiling(sim, "nbs", n_splits=20, progress=False)
    >>> s, rho = c.settings["split_half_similarity"], c.settings["reliability"]
    >>> round(s, 3), round(rho, 3), round(c.settings["model_ceiling"], 3)      # ρ ≈ 2s/(1+s), √ρ
    (0.691, 0.817, 0.904)
    >>> d = trial_split_ceiling(sim, "procrustes", n_splits=20, progress=False)   # radians
    >>> round(d.value, 3), round(float(np.arccos(rho)), 3), round(d.settings["model_ceiling"], 3)
    (0.614, 0.614, 0.442)
    """
    n_splits = check_count(n_splits, "n_splits")
    seed = check_seed(seed, "seed")
    spearman_brown = check_flag(spearman_brown, "spearman_brown")
    m = resolve_metric(metric, **metric_options)
    if m.input == TRIAL_INPUT:
        raise ValueError(
            f"trial_split_ceiling compares trial averages; {m.name!r} compares single-trial distributions. "
            "Use a metric of means (e.g. 'procrustes'), or compare the halves' trials yourself."
        )
    scale = _similarity_scale(metric, m, metric_options)
    if spearman_brown and scale is None:
        raise ValueError(
            f"Spearman–Brown needs a correlation-like similarity, and {m.name!r} (direction {m.direction!r}) "
            "has no map to one (it applies to similarities and to angular distances, through cos d). "
            "Pass spearman_brown=False for the raw split-half value, or use an angular metric."
        )
    da, values, present = _trial_data(data, window)
    k = _split_factor(present)
    rng = np.random.default_rng(seed)
    sims = np.empty(n_splits)
    raw = np.empty(n_splits)
    three_d = m.input in ("trajectories", "conditions")
    with blas_threads(threads), progress_bar(n_splits, progress, "trial-split ceiling", "split") as bar:
        for j in range(n_splits):
            A, B = _trial_halves(values, present, rng)
            raw[j] = m.fn(A, B) if three_d else m.fn(A.reshape(-1, A.shape[2]), B.reshape(-1, B.shape[2]))
            bar.update()
    to_sim, from_sim = _SCALES[scale] if scale is not None else (None, None)
    if scale is not None:
        sims = np.asarray(to_sim(raw), dtype=float)
        rel = _sb(sims, k) if spearman_brown else sims
        vals = np.asarray(from_sim(rel), dtype=float)
        rho = float(np.mean(rel))
        ceiling_sim = float(np.sqrt(max(rho, 0.0)))
        extra = {
            "split_half_similarity": float(sims.mean()),
            "reliability": rho,
            "model_ceiling_similarity": ceiling_sim,
            "model_ceiling": float(from_sim(ceiling_sim)),
        }
        value = float(from_sim(rho))
    else:
        vals, value = raw, float(raw.mean())
        extra = {"split_half_similarity": None, "reliability": None, "model_ceiling_similarity": None,
                 "model_ceiling": None}
    lo, hi = np.quantile(vals, [0.025, 0.975])
    counts = present.sum(axis=1)
    settings = {
        "metric": m.name,
        **{f"metric.{key}": v for key, v in m.options.items()},
        "direction": m.direction,
        "baseline": "trial-split ceiling",
        "n_splits": int(n_splits),
        "spearman_brown": spearman_brown,
        "spearman_brown_factor": k,
        "similarity_scale": scale,
        **extra,
        "n_trials_min": int(counts.min()),
        "n_trials_max": int(counts.max()),
        "n_conditions": int(da.sizes["condition"]),
        "n_units": int(da.sizes["unit"]),
        "seed": seed if seed is None or isinstance(seed, int) else repr(seed),
        "window": None if window is None else tuple(float(w) for w in window),
    }
    return Score(value, (float(lo), float(hi)), vals, settings)


_sb = spearman_brown  # the function, under a name the ``spearman_brown=`` flag does not shadow


def split_half_reliability(
    data: Any,
    n_splits: int = 100,
    seed: int | None = 0,
    *,
    spearman_brown: bool = True,
    window: tuple[float, float] | None = None,
) -> xr.DataArray:
    """Per-unit split-half reliability over trials, Spearman–Brown corrected.

    For each draw, every condition's present trials are split at random into two halves of
    ``⌊n_c/2⌋`` (as in :func:`trial_split_ceiling`); for unit ``u`` the Pearson correlation
    ``r_u`` between its two half-average responses over all ``(condition, time)`` samples
    is corrected to ``ρ_u = k r_u / (1 + (k − 1) r_u)`` (``k = 2`` for even, equal
    counts) and averaged over draws. ``ρ_u`` estimates the fraction of the variance of
    the unit's full-trial average that is signal: a noise-free prediction correlates with
    the unit's trial average at ``√ρ_u`` (R² at ``ρ_u``).

    Parameters
    ----------
    data : xarray.DataArray or Dataset
        Single trials ``(condition, time, unit, trial)``, NaN-padded when ragged; >= 2
        trials per condition.
    n_splits : int
        Random splits averaged.
    seed : int or None
        Seed of the splits.
    spearman_brown : bool
        Apply the correction (default); ``False`` gives the mean raw half-vs-half ``r_u``.
    window : (start, stop), optional
        Data time range.

    Returns
    -------
    xarray.DataArray
        ``reliability`` along ``unit`` (unitless, at most 1; can be negative for a unit with
        no reliable signal), attrs with the split settings.

    Raises
    ------
    ValueError
        Naming the units whose half-averages are constant (no correlation is defined).

    Examples
    --------
    >>> from neurosim.datasets import simulate_trials
    >>> sim = simulate_trials(n_conditions=8, n_trials=20, n_time=20, n_units=5)
    >>> rel = split_half_reliability(sim, n_splits=20)
    >>> np.round(rel.values, 2).tolist(), np.round(sim["reliability"].values, 2).tolist()
    ([0.9, 0.99, 0.88, 0.9, 0.97], [0.9, 0.99, 0.88, 0.91, 0.96])
    """
    n_splits = check_count(n_splits, "n_splits")
    seed = check_seed(seed, "seed")
    spearman_brown = check_flag(spearman_brown, "spearman_brown")
    da, values, present = _trial_data(data, window)
    k = _split_factor(present)
    rng = np.random.default_rng(seed)
    N = da.sizes["unit"]
    acc = np.zeros(N)
    for _ in range(n_splits):
        A, B = _trial_halves(values, present, rng)
        A = A.reshape(-1, N)
        B = B.reshape(-1, N)
        A = A - A.mean(axis=0)
        B = B - B.mean(axis=0)
        den = np.sqrt((A * A).sum(axis=0) * (B * B).sum(axis=0))
        if (den == 0).any():
            bad = da["unit"].values[den == 0].tolist()
            raise ValueError(
                f"data: units {bad[:10]} have a constant half-trial average over (condition, time) in some "
                "split; their correlation is undefined. Drop them (da.drop_sel(unit=...))."
            )
        r = (A * B).sum(axis=0) / den
        acc += _sb(r, k) if spearman_brown else r
    out = xr.DataArray(acc / n_splits, dims=("unit",), coords={"unit": da["unit"].values}, name="reliability")
    counts = present.sum(axis=1)
    out.attrs = {"n_splits": int(n_splits), "spearman_brown": int(spearman_brown), "spearman_brown_factor": k,
                 "n_trials_min": int(counts.min()), "n_trials_max": int(counts.max()),
                 "seed": -1 if seed is None else int(seed)}
    return out


def _ceiling_similarity(score: Score, ceiling: Any, name: str) -> tuple[float, str]:
    """The ceiling on the similarity scale, and the name of that scale, for ``score``."""
    if isinstance(ceiling, Score):
        st = ceiling.settings
        if st.get("baseline") != "trial-split ceiling":
            raise TypeError(f"{name} must come from trial_split_ceiling (or split_half_reliability); got a Score "
                            f"of {st.get('baseline') or st.get('metric')!r}.")
        if st.get("model_ceiling_similarity") is None:
            raise ValueError(f"{name} has no ceiling on a similarity scale (computed with spearman_brown=False or a "
                             "metric without one); recompute it with spearman_brown=True.")
        mine = {k: v for k, v in score.settings.items() if k == "metric" or k.startswith("metric.")}
        theirs = {k: v for k, v in st.items() if k == "metric" or k.startswith("metric.")}
        if mine != theirs:
            raise ValueError(f"score and {name} use different metrics ({mine} vs {theirs}); compute the ceiling "
                             "with the score's metric and options.")
        return float(st["reliability"]), st["similarity_scale"]
    if isinstance(ceiling, xr.DataArray) and ceiling.dims == ("unit",):
        metric = str(score.settings.get("metric", ""))
        if metric not in ("ridge", "predictivity"):
            raise ValueError(f"a per-unit reliability ceils a predictivity score (metric='ridge'); the score's metric "
                             f"is {metric!r}. Use trial_split_ceiling(data, metric=...) for it.")
        rel = np.clip(np.asarray(ceiling.values, dtype=float), 0.0, None)
        if score.settings.get("metric.score", "pearson") == "r2":
            return float(np.median(rel)) ** 2, "identity"  # R² of a noise-free prediction: ρ_u
        return float(np.median(np.sqrt(rel))) ** 2, "identity"  # correlation: √ρ_u
    raise TypeError(f"{name} must be a Score from trial_split_ceiling or a per-unit reliability DataArray "
                    f"(split_half_reliability); got {type(ceiling).__name__}.")


def ceiled_score(score: Score, ceiling: Any, *, model_ceiling: Any = None) -> Score:
    """A score as a fraction of what the data's trial-to-trial noise allows, never above 1.

    On the similarity scale of the ceiling (see :func:`trial_split_ceiling`: the value itself
    for similarities, ``cos d`` for angular distances), with ``ρ`` the data's
    Spearman–Brown-corrected reliability::

        ceiled = s(score) / √(ρ_data · ρ_model)

    (``ρ_model = 1`` for a noise-free model; pass ``model_ceiling`` — the model's own
    :func:`trial_split_ceiling` — for a noisy one, e.g. another data set). 1 = as close as
    a noise-free copy of the data's true means. For a predictivity score (``metric="ridge"``)
    ``ceiling`` may be the per-unit :func:`split_half_reliability`: the ceiling is then the
    median over units of ``√ρ_u`` (or of ``ρ_u`` for ``score="r2"``).

    Estimates scatter, so a good model can come out above 1: the value is then **clipped
    to 1** and ``settings["clipped"]`` is True; ``settings`` always keeps ``score_raw``
    (the score on its own scale), ``raw_similarity``, ``ceiling`` (the divisor) and
    ``ceiled_unclipped``.

    Parameters
    ----------
    score : Score
        From :func:`neurosim.compare` (any bootstrap replicates are ceiled too).
    ceiling : Score or xarray.DataArray
        :func:`trial_split_ceiling` of the data with the score's metric and options, or (for
        predictivity) :func:`split_half_reliability` of the data.
    model_ceiling : Score, optional
        The model's own trial-split ceiling, when the model is noisy as well.

    Returns
    -------
    Score
        ``value`` = ceiled score (similarity, unitless, at most 1).

    Examples
    --------
    >>> from neurosim import compare
    >>> from neurosim.datasets import simulate_trials
    >>> sim = simulate_trials(n_conditions=8, n_trials=20, n_time=20, n_units=30, noise=1.5)
    >>> raw = compare(sim["means"], sim, "cka")          # the true means: a perfect model
    >>> c = ceiled_score(raw, trial_split_ceiling(sim, "cka", n_splits=50, progress=False))
    >>> round(raw.value, 4), round(c.settings["ceiling"], 4), round(c.settings["ceiled_unclipped"], 4)
    (0.995, 0.9939, 1.0011)
    >>> c.value, c.settings["clipped"]              # within noise of 1, reported as 1 with a flag
    (1.0, True)
    """
    if not isinstance(score, Score):
        raise TypeError(f"score must be a Score (from neurosim.compare); got {type(score).__name__}.")
    rho, scale = _ceiling_similarity(score, ceiling, "ceiling")
    rho_model = 1.0
    if model_ceiling is not None:
        rho_model, _ = _ceiling_similarity(score, model_ceiling, "model_ceiling")
    if not (rho > 0 and rho_model > 0):
        raise ValueError(
            f"the ceiling's reliability is {min(rho, rho_model):.3g} <= 0: the data's halves share no reliable "
            "signal under this metric, so no ceiled score is defined. Use more trials or conditions."
        )
    divisor = float(np.sqrt(rho * rho_model))
    to_sim = _SCALES[scale][0]
    raw_sim = float(to_sim(score.value))
    ceiled = raw_sim / divisor
    samples = None
    ci = None
    if score.samples is not None:
        samples = np.minimum(np.asarray(to_sim(score.samples), dtype=float) / divisor, 1.0)
        if score.ci is not None:
            # the interval of the ceiled replicates, at the score's coverage
            cover = float(score.settings.get("bootstrap", {}).get("ci", 0.95)) if isinstance(
                score.settings.get("bootstrap"), dict) else 0.95
            a = (1 - cover) / 2
            lo, hi = np.quantile(samples, [a, 1 - a])
            ci = (float(lo), float(hi))
    settings = {
        **score.settings,
        "direction": "similarity",
        "ceiled": True,
        "score_raw": float(score.value),
        "raw_similarity": raw_sim,
        "similarity_scale": scale,
        "ceiling": divisor,
        "ceiled_unclipped": float(ceiled),
        "clipped": bool(ceiled > 1.0),
    }
    value = min(float(ceiled), 1.0)
    return Score(value, ci, np.array([value]), settings, samples)


def reliability_curve(
    data: Any,
    n_trials: Any = None,
    *,
    metric: Any = "cka",
    n_splits: int = 20,
    seed: int | None = 0,
    **metric_options: Any,
) -> pd.DataFrame:
    """Reliability against the number of trials: how many trials does a ceiling need?

    For each count ``n`` a random subset of ``n`` present trials per condition is drawn
    (``default_rng(seed)``), and on it are computed the per-unit
    :func:`split_half_reliability` (median and quartiles over units) and the population
    :func:`trial_split_ceiling` with ``metric`` (its reliability ``ρ`` and the model
    ceiling ``√ρ``, similarity scale). For a :func:`neurosim.datasets.simulate_trials`
    Dataset (with ``means`` and ``noise_cov``) the true median unit reliability at ``n``
    trials, ``median_u v_u / (v_u + Σ_uu / n)``, is added.

    Parameters
    ----------
    data : xarray.DataArray or Dataset
        Single trials ``(condition, time, unit, trial)``.
    n_trials : sequence of int, optional
        Counts to evaluate, each in ``[2, smallest count]``; default powers of two up to
        the smallest count, and the smallest count itself.
    metric, **metric_options
        The population metric (default linear CKA).
    n_splits : int
        Random splits per count.
    seed : int or None
        Seed of the subsets and the splits.

    Returns
    -------
    pandas.DataFrame
        One row per count: ``n_trials``, ``unit_median``, ``unit_q25``, ``unit_q75``,
        ``population``, ``model_ceiling`` (and ``unit_true_median`` for simulated data).

    Examples
    --------
    >>> from neurosim.datasets import simulate_trials
    >>> sim = simulate_trials(n_conditions=6, n_trials=16, n_time=10, n_units=12, noise=2.0)
    >>> t = reliability_curve(sim, n_splits=5)
    >>> t["n_trials"].tolist(), bool(t["unit_median"].is_monotonic_increasing)
    ([2, 4, 8, 16], True)
    """
    n_splits = check_count(n_splits, "n_splits")
    seed = check_seed(seed, "seed")
    truth = data if isinstance(data, xr.Dataset) and {"means", "noise_cov"} <= set(data.data_vars) else None
    da, values, present = _trial_data(data, None)
    counts = present.sum(axis=1)
    lo = int(counts.min())
    if n_trials is None:
        n_trials = sorted({2 ** k for k in range(1, int(np.log2(lo)) + 1)} | {lo})
    ns = [check_count(n, "n_trials", minimum=2) for n in np.atleast_1d(n_trials).tolist()]
    if max(ns) > lo:
        raise ValueError(f"n_trials asks for {max(ns)} trials per condition but a condition has only {lo}; "
                         f"pass counts <= {lo}.")
    rng = np.random.default_rng(seed)
    rows = []
    for n in ns:
        keep = np.stack([rng.permutation(np.flatnonzero(present[c]))[:n] for c in range(values.shape[0])])
        sub = np.take_along_axis(values, keep[:, None, None, :], axis=3)
        sub_da = da.isel(trial=slice(0, n)).copy(data=sub)
        split_seed = int(rng.integers(0, 2**31))
        rel = split_half_reliability(sub_da, n_splits, split_seed).values
        pop = trial_split_ceiling(sub_da, metric, n_splits, split_seed, progress=False, **metric_options)
        row = {"n_trials": int(n), "unit_median": float(np.median(rel)),
               "unit_q25": float(np.quantile(rel, 0.25)), "unit_q75": float(np.quantile(rel, 0.75)),
               "population": pop.settings["reliability"], "model_ceiling": pop.settings["model_ceiling_similarity"]}
        if truth is not None:
            mu = np.asarray(truth["means"].transpose("condition", "time", "unit").values)
            v = mu.reshape(-1, mu.shape[-1]).var(axis=0)
            noise = np.diag(np.asarray(truth["noise_cov"].values)) / n
            row["unit_true_median"] = float(np.median(v / (v + noise)))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs = {"metric": str(metric), "n_splits": int(n_splits)}
    return table
