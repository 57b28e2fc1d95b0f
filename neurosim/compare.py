"""``compare(model, data, metric=...)`` — the one alignment API.

Everything that decides the absolute number of a model-vs-data comparison is an
explicit, recorded argument here:

1. **conditions** are matched by label (the model is reordered to the data's
   order; any label present on one side only is an error that lists the difference);
2. **time** is aligned explicitly: ``window`` selects data bins (in the data's
   time units, inclusive), ``lag`` maps clocks — *model time t corresponds to data
   time t + lag* — and the model is linearly interpolated onto the data's time grid
   (``resample=True``) when the grids differ; a window the model does not cover is
   an error;
3. **NaN** handling is the user's choice (``nan_policy``), never silent;
4. the aligned arrays are **flattened** — ``(condition, time)`` → samples,
   ``unit`` → features (unit counts may differ) — and handed to a metric from
   :mod:`neurosim.metrics` (by name or callable) with its options;
5. optional **cross-validation** fits the alignment (a :class:`neurosim.metrics.ShapeMetric`)
   on training folds and scores held-out ones; optional **bootstrap** resamples
   conditions (or trials) for a confidence interval; optional **permutations** re-pair the
   model's conditions with the data's for a null distribution and a p-value. Metrics with
   sufficient statistics (shape family, mean CCA, linear CKA) resample per-condition blocks
   (:mod:`neurosim.metrics.blocks`) instead of the samples.

The result is a :class:`Score`. See ``docs/compare.md``.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurosim import metrics as M
from neurosim._progress import progress_bar
from neurosim._progress import show_progress
from neurosim._threads import blas_threads, check_threads
from neurosim.metrics import blocks as B
from neurosim.metrics._validate import (
    check_alpha,
    check_count,
    check_flag,
    check_metric_value,
    check_number,
    check_seed,
    refuse_masked,
)
from neurosim.metrics.stochastic import TRIAL_INPUT  # the input kind of single-trial metrics
from neurosim.trajectories import (
    DIMS,
    _trial_presence,
    as_dense,
    condition_index,
    flatten,
    trajectories,
    trial_samples,
    validate_trajectories,
)

__all__ = ["Score", "compare", "align", "prepare", "Aligned", "resolve_metric", "cross_validated_values",
           "resample_trials", "TRIAL_INPUT",
           "bootstrap_values", "permutation_values", "permutation_p_value", "NAN_POLICIES"]

NAN_POLICIES = ("raise", "drop-units", "drop-conditions")

# short names → alpha of the generalized shape metric (Williams et al. 2021)
_SHAPE_ALIASES: dict[str, float | None] = {
    "procrustes": 1.0,
    "procrustes-distance": 1.0,
    "cca": 0.0,
    "cca-distance": 0.0,
    "shape": None,
    "shape-distance": None,
}


# --------------------------------------------------------------------------- Score
@dataclass(frozen=True, repr=False, eq=False)
class Score:
    """The result of :func:`compare` or a baseline.

    Attributes
    ----------
    value : float
        The point estimate: the metric on all data, or the mean over CV folds /
        split-half draws.
    ci : tuple of float or None
        Bootstrap percentile confidence interval ``(low, high)`` (None without bootstrap).
    values : numpy.ndarray
        Per-fold (CV), per-draw (split-half) values, or ``[value]``.
    settings : dict
        Everything that determined the number: metric and options, window, lag,
        resampling, sizes, CV folds, bootstrap spec, seed, NaN handling.
    samples : numpy.ndarray or None
        Bootstrap replicates.
    null : numpy.ndarray or None
        Values under the permutation null (``permutations=``): the model's condition
        labels shuffled against the data's.
    p_value : float or None
        Permutation p-value with the +1 correction, ``(1 + #{null at least as close as
        value}) / (N + 1)``: "at least as close" is ``null <= value`` for a distance and
        ``null >= value`` for a similarity. Small = the model is closer to the data than
        chance pairings of conditions.

    Examples
    --------
    >>> s = Score(0.25, ci=(0.2, 0.3), values=np.array([0.25]), settings={"metric": "procrustes"})
    >>> float(s), s.to_dict()["ci_high"]
    (0.25, 0.3)
    """

    value: float
    ci: tuple[float, float] | None = None
    values: np.ndarray = field(default_factory=lambda: np.array([]))
    settings: dict = field(default_factory=dict)
    samples: np.ndarray | None = None
    null: np.ndarray | None = None
    p_value: float | None = None

    def __float__(self) -> float:
        return float(self.value)

    @property
    def std(self) -> float:
        """Spread of the estimate: the standard deviation (ddof=1) of the bootstrap replicates
        when there are any, else of :attr:`values` (fold / draw spread; NaN for one value)."""
        v = np.asarray(self.samples if self.samples is not None else self.values, dtype=float)
        return float(v.std(ddof=1)) if v.size > 1 else float("nan")

    def __repr__(self) -> str:
        parts = [f"value={self.value:.4g}"]
        if self.ci is not None:
            parts.append(f"ci=({self.ci[0]:.4g}, {self.ci[1]:.4g})")
        if len(self.values) > 1:
            parts.append(f"n_values={len(self.values)}")
        if self.p_value is not None:
            parts.append(f"p={self.p_value:.3g}")
        if self.settings.get("ceiled"):  # a ceiled score (neurosim.baselines.ceiled_score)
            parts.append(f"raw={self.settings['score_raw']:.4g}, ceiling={self.settings['ceiling']:.4g}")
            if self.settings.get("clipped"):
                parts.append(f"clipped from {self.settings['ceiled_unclipped']:.4g}")
        parts.append(f"metric={self.settings.get('metric')!r}")
        return f"Score({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """A flat dict for tables (``pandas.DataFrame([s.to_dict() for s in scores])``).

        Scalar settings are copied; non-scalar ones (fold lists, options) are
        rendered as strings.
        """
        out: dict[str, Any] = {
            "value": float(self.value),
            "ci_low": None if self.ci is None else float(self.ci[0]),
            "ci_high": None if self.ci is None else float(self.ci[1]),
            "std": self.std,
            "n_values": int(len(self.values)),
            "p_value": None if self.p_value is None else float(self.p_value),
        }
        for key, val in self.settings.items():
            if isinstance(val, (str, int, float, bool, type(None), np.number)):
                out[key] = val.item() if isinstance(val, np.generic) else val
            else:
                out[key] = str(val)
        return out


# --------------------------------------------------------------------------- metrics
@dataclass
class _Metric:
    name: str
    options: dict
    fn: Callable[[np.ndarray, np.ndarray], float]
    estimator: Callable[[], Any] | None  # factory of a fit/score object, for CV
    direction: str | None = "distance"
    # "samples": fn takes flattened (conditions × time, units) arrays; "trajectories": fn takes
    # (conditions, time, units) arrays (dynamics metrics such as DSA); "conditions": the same
    # (conditions, time, units) arrays for a metric whose conditions are exchangeable units
    # (cross-validated predictivity: permutations are valid); "trials": fn takes
    # (conditions × time, trials, units) single-trial samples (stochastic metrics)
    input: str = "samples"
    # sufficient-statistics fast paths (neurosim.metrics.blocks); None = general path only
    moments_fn: Callable[[B.Moments], float] | None = None  # the metric from centred moments
    fitted_fn: Callable[[B.Moments, B.Moments], float] | None = None  # held-out score of the estimator
    fitted_full: bool = False  # fitted_fn needs the full moments (not only traces)


def _fitted_shape(alpha: float, options: dict) -> Callable[[B.Moments, B.Moments], float] | None:
    """``ShapeMetric(alpha, **options)``'s fit-on-train / score-on-test from moments, when it has one."""
    opts = {"kind": "angular", "center": True, "normalize": False, **options}
    if set(opts) - {"kind", "center", "normalize"} or opts.pop("center") is not True:
        return None

    def fitted(train: B.Moments, test: B.Moments) -> float:
        return B.fitted_shape_score(train, test, alpha=alpha, **opts)

    return fitted


def _with_transform(fn: Callable | None, transform: Callable | None) -> Callable | None:
    if fn is None or transform is None:
        return fn

    def wrapped(mo: B.Moments) -> float:
        return float(transform(fn(mo)))

    wrapped.full = getattr(fn, "full", True)
    return wrapped


def _is_estimator(obj: Any) -> bool:
    return callable(getattr(obj, "fit", None)) and callable(getattr(obj, "score", None))


def resolve_metric(metric: str | Callable | Any, **options: Any) -> _Metric:
    """Turn ``metric`` (name, callable or fit/score estimator) into something compare can run.

    * ``"procrustes"``, ``"cca"``, ``"shape"`` (and ``*-distance``): the
      generalized shape metrics of :mod:`neurosim.metrics` with ``options``
      (``kind``, ``center``, ``normalize``, ``alpha`` for ``"shape"``); CV uses
      :class:`neurosim.metrics.ShapeMetric` with the same options.
    * any other string: ``neurosim.metrics.make(name)`` (similarity-repository ids).
    * a callable ``f(X, Y, **options) -> float``.
    * an object with ``fit(X, Y)`` and ``score(X, Y)`` (or a class of one):
      copied per fold for CV; without CV ``fit(X, Y).score(X, Y)``.

    Examples
    --------
    >>> import numpy as np
    >>> m = resolve_metric("procrustes", normalize=True)
    >>> X = np.random.default_rng(0).normal(size=(30, 4))
    >>> m.name, m.fn(X, X) < 1e-6
    ('procrustes', True)
    """
    if isinstance(metric, str):
        key = metric.strip().lower()
        if key in _SHAPE_ALIASES:
            alpha = _SHAPE_ALIASES[key]
            opts = dict(options)
            if "alpha" in opts:
                opts["alpha"] = check_alpha(opts["alpha"])
            if alpha is not None:
                if "alpha" in opts and float(opts["alpha"]) != alpha:
                    raise ValueError(f"metric={metric!r} fixes alpha={alpha}; use metric='shape' with alpha=...")
                opts.pop("alpha", None)
                opts["alpha"] = alpha
            fn_opts = dict(opts)
            est_opts = dict(opts)

            def fn(X: np.ndarray, Y: np.ndarray) -> float:
                return float(M.shape_distance(X, Y, **fn_opts))

            def est() -> Any:
                return M.ShapeMetric(**est_opts)

            out = _Metric(key.removesuffix("-distance"), dict(options), fn, est)
            out.moments_fn = B.metric_from_moments(M.shape_distance, **fn_opts)
            shape_alpha = float(fn_opts.get("alpha", 1.0))
            out.fitted_fn = _fitted_shape(shape_alpha, {k: v for k, v in est_opts.items() if k != "alpha"})
            out.fitted_full = shape_alpha != 1.0
            return out
        make = getattr(M, "make", None)
        if make is None:
            raise ValueError(
                f"unknown metric {metric!r}; known here: {sorted(_SHAPE_ALIASES)} "
                "(neurosim.metrics.make is not available in this build for other ids)."
            )
        obj = make(metric)
        resolved = _from_object(obj, metric, options)
        resolved.direction = getattr(obj, "direction", None)
        if isinstance(obj, M.Measure):
            resolved.moments_fn = _with_transform(
                B.metric_from_moments(obj.func, **{**obj.options, **options}), obj.transform)
        resolved.input = getattr(obj, "input", "samples")
        # registry ids of the shape family get the ShapeMetric estimator, so cv= works
        alpha = {M.procrustes_distance: 1.0, M.cca_distance: 0.0}.get(getattr(obj, "func", None))
        if getattr(obj, "func", None) is M.shape_distance:
            alpha = {**obj.options, **options}.get("alpha", 1.0)
        if alpha is not None and getattr(obj, "transform", None) is None:
            est_opts = {k: v for k, v in {**obj.options, **options}.items() if k != "alpha"}

            def est_from_id() -> Any:
                return M.ShapeMetric(alpha=alpha, **est_opts)

            resolved.estimator = est_from_id
            resolved.fitted_fn = _fitted_shape(float(alpha), est_opts)
            resolved.fitted_full = float(alpha) != 1.0
        return resolved
    if isinstance(metric, type) and _is_estimator(metric):
        cls = metric
        return _from_object(cls(**options), cls.__name__, {})
    if _is_estimator(metric) or callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        return _from_object(metric, name, options)
    raise TypeError(
        f"metric must be a name (e.g. 'procrustes'), a callable f(X, Y) or an estimator with "
        f"fit/score; got {type(metric).__name__}."
    )


def _from_object(obj: Any, name: str, options: dict) -> _Metric:
    if _is_estimator(obj):
        proto = obj
        if options:
            if not callable(getattr(proto, "set_params", None)):
                raise TypeError(f"{name} takes no options; got {sorted(options)}")
            proto = copy.deepcopy(proto)
            proto.set_params(**options)

        def est() -> Any:
            return copy.deepcopy(proto)

        def fn(X: np.ndarray, Y: np.ndarray) -> float:
            e = est()
            if callable(getattr(e, "fit_score", None)):
                return check_metric_value(e.fit_score(X, Y), name)
            return check_metric_value(e.fit(X, Y).score(X, Y), name)

        return _Metric(name, dict(options), fn, est)
    if not callable(obj):
        raise TypeError(f"metric {name!r} resolved to a non-callable {type(obj).__name__}")

    def fn2(X: np.ndarray, Y: np.ndarray) -> float:
        return check_metric_value(obj(X, Y, **options), name)

    out = _Metric(name, dict(options), fn2, None, getattr(obj, "direction", "distance"),
                  getattr(obj, "input", "samples"))
    out.moments_fn = B.metric_from_moments(obj, **options)  # the metric functions themselves have one
    return out


# --------------------------------------------------------------------------- alignment
def _as_trajectories(obj: Any, name: str, dims: Any) -> tuple[xr.DataArray, bool]:
    """Returns (DataArray, was_plain_array)."""
    if isinstance(obj, xr.Dataset):
        if "rates" not in obj.data_vars:
            raise TypeError(
                f"{name} is a Dataset without a 'rates' variable; pass the DataArray itself "
                f"(variables: {list(obj.data_vars)})."
            )
        obj = obj["rates"]
    if isinstance(obj, xr.DataArray):
        return validate_trajectories(obj, name=name), False
    if isinstance(obj, np.ndarray) or isinstance(obj, (list, tuple)):
        if dims is None:
            raise TypeError(
                f"{name} is a plain array; say what its axes are with dims=, e.g. "
                "dims=('condition', 'time', 'unit'), or pass an xarray.DataArray "
                "(neurosim.trajectories(array, ...))."
            )
        # masked entries would be compared as the numbers beneath the mask: refuse them
        return trajectories(as_dense(refuse_masked(obj, name), name), dims=dims), True
    raise TypeError(f"{name} must be an xarray.DataArray (or a numpy array with dims=); got {type(obj).__name__}.")


def _is_plain(obj: Any) -> bool:
    return isinstance(obj, (np.ndarray, list, tuple))


def _assumed_dims(model: Any, data: Any, dims: Any) -> tuple[Any, str | None]:
    """``dims`` for two plain arrays of the same 3-D shape given without ``dims=``: the canonical
    ``("condition", "time", "unit")``, announced in a one-line warning (returned as the note)."""
    if dims is not None or not (_is_plain(model) and _is_plain(data)):
        return dims, None
    m_shape, d_shape = np.shape(model), np.shape(data)
    if m_shape != d_shape or len(m_shape) != 3:
        raise TypeError(
            f"model and data are plain arrays of shapes {m_shape} and {d_shape}; only two arrays of the same "
            "3-D shape are read as (condition, time, unit) without dims=. Say what the axes are with dims=, "
            "e.g. dims=('condition', 'time', 'unit'), or pass xarray.DataArrays (neurosim.trajectories(...))."
        )
    note = (f"model and data are plain arrays of shape {m_shape}: assuming dims {DIMS} and matching "
            "conditions and time by position (pass dims= to say otherwise)")
    warnings.warn(note, UserWarning, stacklevel=4)
    return DIMS, note


def _set_condition_coords(target: xr.DataArray, source: xr.DataArray) -> xr.DataArray:
    """Give ``target`` the condition coordinates (and index) of ``source``."""
    drop = [c for c in target.coords if "condition" in target[c].dims]
    target = target.drop_vars(drop)
    coords = {c: source.coords[c] for c in source.coords if source[c].dims == ("condition",)}
    return target.assign_coords(xr.Coordinates(coords, indexes={k: v for k, v in source.xindexes.items() if k in coords}))


def _check_labels(index: pd.Index, name: str) -> None:
    """Conditions are matched by label: a missing (NaN/None) label can match nothing."""
    missing = np.flatnonzero(np.asarray(pd.isna(index.to_frame(index=False)).any(axis=1)))
    if missing.size:
        raise ValueError(
            f"the {name}'s condition labels contain {missing.size} missing value(s) (NaN/None) at position(s) "
            f"{missing[:10].tolist()}; conditions are matched by label, so give every condition a real label "
            "(neurosim.trajectories(..., conditions=...)) or drop those conditions."
        )


def _match_conditions(model: xr.DataArray, data: xr.DataArray) -> xr.DataArray:
    mi, di = condition_index(model), condition_index(data)
    _check_labels(mi, "model")
    _check_labels(di, "data")
    if isinstance(mi, pd.MultiIndex) != isinstance(di, pd.MultiIndex):
        raise ValueError(
            f"condition labels do not match: the model's are {'a MultiIndex' if isinstance(mi, pd.MultiIndex) else 'flat'} "
            f"{list(mi)[:5]}..., the data's {'a MultiIndex' if isinstance(di, pd.MultiIndex) else 'flat'} {list(di)[:5]}.... "
            "Relabel one side (neurosim.trajectories(..., conditions=...))."
        )
    if isinstance(mi, pd.MultiIndex):
        if set(mi.names) != set(di.names):
            raise ValueError(f"condition levels differ: model {list(mi.names)}, data {list(di.names)}.")
        mi = mi.reorder_levels(list(di.names))
    missing = [lab for lab in di if lab not in set(mi)]
    extra = [lab for lab in mi if lab not in set(di)]
    if missing or extra:
        raise ValueError(
            "condition labels do not match (conditions are matched by label): "
            f"in data but not in model: {missing[:20]}{' ...' if len(missing) > 20 else ''}; "
            f"in model but not in data: {extra[:20]}{' ...' if len(extra) > 20 else ''}. "
            "Select matching conditions (e.g. model.sel(condition=...)) or relabel."
        )
    order = mi.get_indexer(di)
    model = model.isel(condition=order)
    return _set_condition_coords(model, data)


def _time_units(da: xr.DataArray) -> str | None:
    u = da["time"].attrs.get("units")
    return None if u is None else str(u)


def _align_time(
    model: xr.DataArray, data: xr.DataArray, window: Any, lag: float, resample: bool
) -> tuple[xr.DataArray, xr.DataArray, dict]:
    mu, du = _time_units(model), _time_units(data)
    if mu is not None and du is not None and mu != du:
        raise ValueError(
            f"time units differ: model time is in {mu!r}, data time in {du!r}. Convert the model's "
            "time coordinate first, e.g. model.assign_coords(time=model.time * dt_ms) with "
            "attrs {'units': 'ms'}."
        )
    td = np.asarray(data["time"].values, dtype=float)
    step = float(np.min(np.diff(td))) if td.size > 1 else 1.0
    eps = 1e-9 * max(1.0, abs(step))
    info: dict[str, Any] = {}
    if window is not None:
        try:
            lo, hi = (float(w) for w in window)
        except (TypeError, ValueError):
            raise TypeError(f"window must be a (start, stop) pair in the data's time units; got {window!r}.") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"window must be finite with start <= stop; got {window!r}.")
        if lo < td[0] - eps or hi > td[-1] + eps:
            raise ValueError(
                f"window ({lo:g}, {hi:g}) {du or ''} is not covered by the data, whose time runs "
                f"from {td[0]:g} to {td[-1]:g}; choose a window inside that range."
            )
        keep = (td >= lo - eps) & (td <= hi + eps)
        if not keep.any():
            raise ValueError(f"window ({lo:g}, {hi:g}) contains no data time bin (bins: {td[:5]}...).")
        data = data.isel(time=np.flatnonzero(keep))
        td = td[keep]
    lag = float(lag)
    if not math.isfinite(lag):
        raise ValueError(f"lag must be finite; got {lag}.")
    tm = np.asarray(model["time"].values, dtype=float) + lag  # model times on the data clock
    # exact grid match (within rounding): select, no interpolation
    pos = np.searchsorted(tm, td)
    exact = np.zeros(td.size, dtype=bool)
    idx = np.zeros(td.size, dtype=int)
    for k, (t, p) in enumerate(zip(td, pos)):
        for q in (p - 1, p):
            if 0 <= q < tm.size and abs(tm[q] - t) <= eps:
                exact[k], idx[k] = True, q
    if exact.all():
        model = model.isel(time=idx)
        info["interpolated"] = False
    else:
        covered = td[0] >= tm[0] - eps and td[-1] <= tm[-1] + eps
        if not covered:
            raise ValueError(
                f"the model does not cover the data window: with lag={lag:g} the model spans data time "
                f"{tm[0]:g} to {tm[-1]:g} but the data bins run from {td[0]:g} to {td[-1]:g}. Narrow "
                "the window, change the lag (model time t ↔ data time t + lag), or simulate longer."
            )
        if not resample:
            raise ValueError(
                "model and data time grids differ (after the lag) and resample=False; pass "
                "resample=True to interpolate the model linearly onto the data's time bins."
            )
        query = np.clip(td, tm[0], tm[-1])
        shifted = model.assign_coords(time=("time", tm))
        model = shifted.interp(time=query, method="linear", assume_sorted=True)
        info["interpolated"] = True
    model = model.assign_coords(time=data["time"])
    info["time_range"] = (float(td[0]), float(td[-1]))
    info["n_time"] = int(td.size)
    return model, data, info


def _apply_nan_policy(
    model: xr.DataArray, data: xr.DataArray, policy: str
) -> tuple[xr.DataArray, xr.DataArray, dict]:
    if policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}; got {policy!r}.")
    info: dict[str, Any] = {}
    bad = {n: np.isnan(da.values) for n, da in (("model", model), ("data", data))}
    if not any(b.any() for b in bad.values()):
        return model, data, info
    if policy == "raise":
        lines = []
        for n, da in (("model", model), ("data", data)):
            b = bad[n]
            if b.any():
                axes = tuple(i for i, d in enumerate(da.dims) if d != "condition")
                conds = condition_index(da)[b.any(axis=axes)].tolist()
                axes_u = tuple(i for i, d in enumerate(da.dims) if d != "unit")
                units = da["unit"].values[b.any(axis=axes_u)].tolist()
                lines.append(f"{n}: {int(b.sum())} NaN in conditions {conds[:10]}, units {units[:10]}")
        raise ValueError(
            "NaN values in the aligned arrays (" + "; ".join(lines) + "). Choose "
            "nan_policy='drop-units' (drop units with any NaN) or 'drop-conditions' (drop "
            "conditions with any NaN on either side), or clean the data."
        )
    if policy == "drop-units":
        out = []
        for n, da in (("model", model), ("data", data)):
            axes = tuple(i for i, d in enumerate(da.dims) if d != "unit")
            drop = bad[n].any(axis=axes)
            if drop.all():
                raise ValueError(f"nan_policy='drop-units' would drop every unit of the {n}.")
            info[f"dropped_units_{n}"] = da["unit"].values[drop].tolist()
            out.append(da.isel(unit=np.flatnonzero(~drop)))
        return out[0], out[1], info
    drop = np.zeros(data.sizes["condition"], dtype=bool)
    for n, da in (("model", model), ("data", data)):
        axes = tuple(i for i, d in enumerate(da.dims) if d != "condition")
        drop |= bad[n].any(axis=axes)
    if (~drop).sum() < 2:
        raise ValueError("nan_policy='drop-conditions' would leave fewer than 2 conditions.")
    info["dropped_conditions"] = condition_index(data)[drop].tolist()
    keep = np.flatnonzero(~drop)
    return model.isel(condition=keep), data.isel(condition=keep), info


def align(
    model: Any,
    data: Any,
    *,
    window: tuple[float, float] | None = None,
    lag: float = 0.0,
    resample: bool = True,
    nan_policy: str = "raise",
    dims: Any = None,
) -> tuple[xr.DataArray, xr.DataArray, dict]:
    """Match conditions and time of ``model`` to ``data`` (the first half of :func:`compare`).

    Parameters
    ----------
    model, data : xarray.DataArray (or numpy array with ``dims=``)
        Trajectory arrays. A plain array takes the other side's condition labels and
        time grid by position (sizes must agree). A Dataset with ``rates`` is accepted.
    window : (start, stop), optional
        Inclusive range of **data** time (data units) to compare; default: all data bins.
    lag : float
        Clock offset: model time ``t`` corresponds to data time ``t + lag``. E.g. a
        model whose movement onset happens at its ``t = 1530`` ms compared with data
        aligned to onset at 0 needs ``lag = -1530``.
    resample : bool
        Interpolate the model linearly onto the data's time bins when the grids differ.
    nan_policy : {"raise", "drop-units", "drop-conditions"}
        What to do with NaN in the aligned arrays.
    dims : sequence of str, optional
        Axis names for plain-array inputs.

    Returns
    -------
    model, data : xarray.DataArray
        Same conditions (data order), same time coordinate.
    info : dict
        What was done (time range, interpolation, drops).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> t = np.arange(0.0, 100.0, 10.0)
    >>> d = trajectories(np.ones((2, 10, 3)), conditions=["a", "b"], time=t)
    >>> m = trajectories(np.ones((2, 20, 5)), conditions=["b", "a"], time=np.arange(0.0, 100.0, 5.0))
    >>> am, ad, info = align(m, d, window=(20, 60))
    >>> am.condition.values.tolist(), am.sizes["time"], info["interpolated"]
    (['a', 'b'], 5, False)
    """
    dims, note = _assumed_dims(model, data, dims)
    model, m_plain = _as_trajectories(model, "model", dims)
    data, d_plain = _as_trajectories(data, "data", dims)
    am, ad, info = _align(model, data, m_plain, d_plain, window, lag, resample, nan_policy)
    if note is not None:
        info["assumed_dims"] = note
    return am, ad, info


def _align(
    model: xr.DataArray,
    data: xr.DataArray,
    m_plain: bool,
    d_plain: bool,
    window: Any,
    lag: float,
    resample: bool,
    nan_policy: str,
) -> tuple[xr.DataArray, xr.DataArray, dict]:
    lag = check_number(lag, "lag")
    resample = check_flag(resample, "resample")
    info: dict[str, Any] = {}
    for plain, this, other, name in ((m_plain, model, data, "model"), (d_plain, data, model, "data")):
        if plain and not (m_plain and d_plain):
            for d in ("condition", "time"):
                if this.sizes[d] != other.sizes[d]:
                    raise ValueError(
                        f"the {name} is a plain array with {this.sizes[d]} {d} entries but the other side "
                        f"has {other.sizes[d]}; a plain array takes labels by position, so sizes must "
                        "agree — or pass a DataArray with its own labels."
                    )
            this = _set_condition_coords(this, other).assign_coords(time=other["time"])
            info["labels_from"] = f"{name} is a plain array: condition labels and time taken from the other side by position"
            if name == "model":
                model = this
            else:
                data = this
    for name, da in (("model", model), ("data", data)):
        if "trial" in da.dims:
            raise ValueError(f"align() takes trial-averaged arrays; the {name} has a 'trial' dim (use .mean('trial')).")
    model = _match_conditions(model, data)
    model, data, tinfo = _align_time(model, data, window, lag, resample)
    info.update(tinfo)
    model, data, ninfo = _apply_nan_policy(model, data, nan_policy)
    info.update(ninfo)
    return model, data, info


# --------------------------------------------------------------------------- cv / bootstrap specs
def _parse_cv(cv: Any, seed: Any) -> dict | None:
    if cv is None or cv is False:
        return None
    if isinstance(cv, str):
        if cv.lower() in ("loo", "leave-one-out", "leave-one-condition-out"):
            return {"dim": "condition", "folds": "loo", "shuffle": False, "seed": seed}
        raise ValueError(f"cv={cv!r} is not understood; use 'loo', an int k, or {{'dim': ..., 'folds': ...}}.")
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        spec = {"dim": "condition", "folds": int(cv), "shuffle": False, "seed": seed}
    elif isinstance(cv, Mapping):
        unknown = set(cv) - {"dim", "folds", "shuffle", "seed"}
        if unknown:
            raise ValueError(f"unknown cv keys {sorted(unknown)}; allowed: dim, folds, shuffle, seed.")
        spec = {
            "dim": cv.get("dim", "condition"),
            "folds": cv.get("folds", "loo"),
            "shuffle": check_flag(cv.get("shuffle", False), "cv['shuffle']"),
            "seed": check_seed(cv.get("seed", seed), "cv['seed']" if "seed" in cv else "seed"),
        }
    else:
        raise TypeError(f"cv must be None, 'loo', an int or a dict; got {type(cv).__name__}.")
    if spec["dim"] not in ("condition", "time", "trial"):
        raise ValueError(f"cv dim must be 'condition', 'time' or 'trial'; got {spec['dim']!r}.")
    f = spec["folds"]
    if isinstance(f, str):
        if f != "loo":
            raise ValueError(f"cv folds must be an int >= 2 or 'loo'; got {f!r}.")
    elif not (isinstance(f, (int, np.integer)) and f >= 2):
        raise ValueError(f"cv folds must be an int >= 2 or 'loo'; got {f!r}.")
    return spec


def _parse_bootstrap(bootstrap: Any) -> dict | None:
    if bootstrap is None or bootstrap is False:
        return None
    if isinstance(bootstrap, (int, np.integer)) and not isinstance(bootstrap, bool):
        spec = {"n": int(bootstrap), "dim": "condition", "ci": 0.95}
    elif isinstance(bootstrap, Mapping):
        unknown = set(bootstrap) - {"n", "dim", "ci"}
        if unknown:
            raise ValueError(f"unknown bootstrap keys {sorted(unknown)}; allowed: n, dim, ci.")
        spec = {"n": check_count(bootstrap.get("n", 1000), "bootstrap['n']", minimum=2),
                "dim": bootstrap.get("dim", "condition"),
                "ci": check_number(bootstrap.get("ci", 0.95), "bootstrap['ci']", minimum=0.0, maximum=1.0,
                                   low_open=True, high_open=True)}
    else:
        raise TypeError(f"bootstrap must be None, an int (number of resamples) or a dict; got {type(bootstrap).__name__}.")
    if spec["n"] < 2:
        raise ValueError(f"bootstrap needs n >= 2 resamples; got {spec['n']}.")
    if spec["dim"] not in ("condition", "trial"):
        raise ValueError(f"bootstrap dim must be 'condition' or 'trial'; got {spec['dim']!r}.")
    if not 0 < spec["ci"] < 1:
        raise ValueError(f"bootstrap ci must be in (0, 1); got {spec['ci']}.")
    return spec


def _splits(n: int, spec: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: leave-one-out, or k contiguous folds (shuffled first with
    ``spec["seed"]`` when ``spec["shuffle"]``; the first ``n % k`` folds hold one extra entry)."""
    folds = spec["folds"]
    if n < 2:
        raise ValueError(f"cv over {spec['dim']} needs at least 2 entries; got {n}.")
    if folds == "loo":
        folds = n
    elif folds > n:
        raise ValueError(f"cv asks for {folds} folds over {spec['dim']} but there are only {n}.")
    order = np.arange(n)
    if spec["shuffle"] and spec["folds"] != "loo":
        np.random.RandomState(spec["seed"]).shuffle(order)
    out = []
    for _, positions in B.condition_folds(n, int(folds)):  # contiguous folds over the (shuffled) order
        test = np.sort(order[positions])
        out.append((np.setdiff1d(order, test), test))
    return out


# --------------------------------------------------------------------------- compare
def compare(
    model: Any,
    data: Any,
    metric: str | Callable | Any = "procrustes",
    *,
    window: tuple[float, float] | None = None,
    lag: float = 0.0,
    resample: bool = True,
    cv: Any = None,
    bootstrap: Any = None,
    seed: int | None = None,
    nan_policy: str = "raise",
    dims: Any = None,
    permutations: int | None = None,
    threads: int | None = 1,
    jobs: int = 1,
    progress: Any = "auto",
    fast: bool = True,
    **metric_options: Any,
) -> Score:
    """Compare model activity with recordings: match, align, flatten, measure.

    Parameters
    ----------
    model, data : xarray.DataArray
        Trajectory arrays ``(condition, time, unit[, trial])`` (see
        :mod:`neurosim.trajectories`); a Dataset with ``rates`` is accepted for
        either. Plain numpy arrays need ``dims=`` and take the other side's labels
        by position. Unit counts may differ.
    metric : str, callable or estimator
        ``"procrustes"`` (default), ``"cca"``, ``"shape"`` (with ``alpha=``), any
        id known to ``neurosim.metrics.make``, a callable ``f(X, Y, **options)``, or
        an object with ``fit``/``score``. The metric sees ``X`` = model, ``Y`` =
        data, each ``(conditions × time bins, units)``.
    window : (start, stop), optional
        Inclusive range of data time (data units, e.g. ms) to compare.
    lag : float
        Model time ``t`` corresponds to data time ``t + lag`` (data units).
    resample : bool
        Linearly interpolate the model onto the data's time bins when grids differ.
    cv : None, "loo", int or dict
        Cross-validation of the fitted alignment: ``"loo"`` = leave one condition
        out; ``k`` = k-fold over conditions (contiguous in the data's order);
        ``{"dim": "condition" | "time" | "trial", "folds": k | "loo",
        "shuffle": bool, "seed": int}``. For each fold the metric's estimator is
        fitted on the training part and scores the held-out part; ``value`` is the
        mean over folds. With ``dim="trial"`` the data's training / held-out trials
        are averaged separately (the model is used whole). Needs a metric with a
        fitted alignment (procrustes, cca, shape, or a fit/score estimator).
    bootstrap : None, int or dict
        ``n`` resamples of conditions with replacement (the same draw for model and
        data), or ``{"n": 1000, "dim": "condition" | "trial", "ci": 0.95}``; gives
        a percentile interval in ``Score.ci`` and the replicates' standard deviation in
        ``Score.std``. ``dim="trial"`` resamples each condition's data trials within that
        condition (as many draws as it has trials; the model is used whole). Not combined
        with ``cv``.
    seed : int, optional
        Seed for bootstrap draws, permutations and shuffled folds; the same seed gives the
        same result.
    nan_policy : {"raise", "drop-units", "drop-conditions"}
        NaN handling; the default refuses NaN with a message saying where they are.
    dims : sequence of str, optional
        Axis names for plain numpy inputs.
    permutations : int, optional
        Null distribution of ``N`` random pairings of the model's conditions with the
        data's (the model's condition labels shuffled, time kept): ``Score.null`` holds
        the values, ``Score.p_value = (1 + #{null at least as close}) / (N + 1)``
        (``null <= value`` for a distance, ``>=`` for a similarity). Not combined with ``cv``.
    threads : int or None
        BLAS threads for the loops of small products (default 1, fastest for these
        sizes and never oversubscribing a shared machine); None leaves BLAS alone.
    jobs : int
        Evaluate fast-path bootstrap replicates and permutations in this many threads
        (each with ``threads`` BLAS threads; LAPACK releases the GIL). Default 1; 2 on an
        otherwise idle 2-core machine roughly halves the time. Values do not depend on it.
    progress : bool or "auto"
        tqdm bar over bootstrap replicates, folds and permutations; ``"auto"`` shows it
        only when stderr is an interactive terminal.
    fast : bool
        Use the sufficient-statistics fast path (:mod:`neurosim.metrics.blocks`) when the
        metric has one (shape family, mean CCA, linear CKA; resampling over conditions).
        ``False`` recomputes the metric on every resampled array (same values to rounding).
    **metric_options
        Passed to the metric, e.g. ``normalize=True``, ``kind="euclidean"``.

    Returns
    -------
    Score
        ``value`` (point estimate), ``ci``, ``values`` (per fold), ``settings``.

    Notes
    -----
    **Trials.** Either side may have a ``trial`` dim, ragged counts being NaN-padded (a
    missing trial is a whole NaN ``(condition, trial)`` slab; a trial with NaN in only some
    bins is an error — see :mod:`neurosim.trajectories`). Metrics of means see the average
    of each condition's present trials. A trial-level metric (``input="trials"``, e.g. a
    stochastic shape metric) gets both sides' single trials as ``(conditions × time, trials,
    units)`` arrays — each (condition, time bin) pair is one of its "conditions" — and needs
    a ``trial`` dim on both sides with equal counts across conditions
    (:func:`neurosim.trajectories.equalize_trials`); bootstrap and permutations resample
    whole conditions (all their time bins) or trials within conditions.
    For the e-prop paper's pipeline use ``metric="procrustes", normalize=True``: the
    angular Procrustes distance ``arccos(‖X̃ᵀỸ‖_* / (‖X̃‖_F ‖Ỹ‖_F)) / (π/2)`` on the
    centred, flattened arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> rng = np.random.default_rng(0)
    >>> data = trajectories(rng.normal(size=(4, 20, 6)), conditions=[0, 90, 180, 270],
    ...                     time=np.arange(20) * 10.0)
    >>> Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    >>> model = data.copy(data=data.values @ Q).isel(condition=[3, 2, 1, 0])  # rotated, reordered
    >>> float(compare(model, data, normalize=True)) < 1e-6
    True
    >>> s = compare(model, data, window=(50, 150), cv="loo")
    >>> len(s.values), s.settings["time_range"]
    (4, (50.0, 150.0))
    """
    fast = check_flag(fast, "fast")
    threads = check_threads(threads, "threads")
    jobs = check_count(jobs, "jobs", minimum=1)
    show_progress(progress)  # refuses "yes"/"no" and numbers now, not only when a bar is drawn
    seed = check_seed(seed)
    m = resolve_metric(metric, **metric_options)
    if not fast:
        m = copy.copy(m)
        m.moments_fn = m.fitted_fn = None
    cv_spec = _parse_cv(cv, seed)
    bs_spec = _parse_bootstrap(bootstrap)
    n_perm = _parse_permutations(permutations)
    if cv_spec is not None and bs_spec is not None:
        raise ValueError("cv and bootstrap cannot be combined in one call; run the bootstrap over compare(..., cv=...) yourself.")
    if n_perm is not None and m.input == "trajectories":
        raise ValueError(
            f"permutations re-pair the model's conditions with the data's, but {m.name!r} compares dynamics "
            "fitted to all conditions together, so every permutation gives the same value (p = 1); "
            "test it against other networks (neurosim.pairwise) instead."
        )
    if cv_spec is not None and n_perm is not None:
        raise ValueError("cv and permutations cannot be combined in one call; the permutation null is of the "
                         "full-data value (drop cv=, or permute yourself around compare(..., cv=...)).")
    if cv_spec is not None and m.estimator is None:
        raise ValueError(
            f"cv needs a metric with a fitted alignment (an estimator with fit/score, e.g. "
            f"'procrustes', 'cca', 'shape'); {m.name!r} has none — it has nothing to fit on training folds."
        )
    trial_input = m.input == TRIAL_INPUT
    keep_trials = (cv_spec or bs_spec or {}).get("dim") == "trial" or trial_input
    al = prepare(model, data, window=window, lag=lag, resample=resample, nan_policy=nan_policy, dims=dims,
                 keep_trials=keep_trials, keep_model_trials=trial_input)
    if trial_input:
        for name, da in (("model", al.model_trials), ("data", al.data_trials)):
            fewest = int((~np.isnan(da.values).all(axis=(1, 2))).sum(axis=1).min())
            if fewest < 2:
                raise ValueError(f"metric {m.name!r} compares trial distributions and needs at least 2 trials; the "
                                 f"{name} has {fewest} (in its condition with the fewest). Pass more trials, or "
                                 "use a metric of means.")
    if keep_trials and al.n_trials < 2:
        raise ValueError(f"cv/bootstrap over 'trial' needs at least 2 trials; the data has {al.n_trials} (in its "
                         "condition with the fewest) (a resample of one trial is that trial: the interval would "
                         "have zero width). Resample conditions instead (bootstrap=n), or pass trial-level data.")
    if cv_spec is not None and cv_spec["dim"] == "trial" and al.trials_ragged:
        raise ValueError("cv over 'trial' needs the same number of trials in every condition of data (folds are "
                         "trial positions); use neurosim.trajectories.equalize_trials(data) first.")
    settings = _settings(m, al, window=window, lag=lag, resample=resample, nan_policy=nan_policy, seed=seed)
    if trial_input:
        settings["n_trials_model"] = int(al.model_trials.sizes["trial"])
        settings["n_trials_data"] = int(al.data_trials.sizes["trial"])
    with blas_threads(threads):
        if cv_spec is not None:
            settings["cv"] = dict(cv_spec)
            values, tests = cross_validated_values(m, al, cv_spec, progress=progress)
            settings["cv_test_sets"] = tests
            return Score(float(values.mean()), None, values, settings)
        if m.input != "samples":
            settings["metric_input"] = m.input
        value = m.fn(*metric_inputs(m, al))
        rng = np.random.default_rng(seed)
        ci, reps, null, p_value = None, None, None, None
        if bs_spec is not None:
            settings["bootstrap"] = dict(bs_spec)
            reps = bootstrap_values(m, al, bs_spec, rng, progress=progress, jobs=jobs)
            a = (1 - bs_spec["ci"]) / 2
            lo, hi = np.quantile(reps, [a, 1 - a])
            ci = (float(lo), float(hi))
        if n_perm is not None:
            settings["permutations"] = n_perm
            null = permutation_values(m, al, n_perm, rng, progress=progress, jobs=jobs)
            p_value = permutation_p_value(value, null, m.direction)
    return Score(float(value), ci, np.array([value]), settings, reps, null, p_value)


# --------------------------------------------------------------------------- the steps of compare
@dataclass(frozen=True)
class Aligned:
    """Model and data after condition matching, time alignment and NaN handling (:func:`prepare`).

    Attributes
    ----------
    model, data : xarray.DataArray (condition, time, unit)
        Trial-averaged, same conditions (data order) and time coordinate.
    X, Y : ndarray (conditions × time bins, units)
        ``model`` and ``data`` flattened, condition-major (the arrays a metric sees).
    info : dict
        What alignment did (time range, interpolation, drops, where labels came from).
    n_trials : int or None
        Trials the data was averaged over, in its condition with the fewest (None: it had
        no ``trial`` dim).
    data_trials : xarray.DataArray (condition, time, unit, trial) or None
        The trial-level data restricted to what alignment kept (only with ``keep_trials=True``).
    model_trials : xarray.DataArray (condition, time, unit, trial) or None
        The model's trials, matched and time-aligned like ``model`` (only with
        ``keep_model_trials=True``).
    trials_ragged : bool
        Whether the data's conditions have different trial counts (NaN-padded).
    """

    model: xr.DataArray
    data: xr.DataArray
    X: np.ndarray
    Y: np.ndarray
    info: dict
    n_trials: int | None = None
    data_trials: xr.DataArray | None = None
    model_trials: xr.DataArray | None = None
    trials_ragged: bool = False

    @property
    def n_conditions(self) -> int:
        return int(self.data.sizes["condition"])


def prepare(
    model: Any,
    data: Any,
    *,
    window: tuple[float, float] | None = None,
    lag: float = 0.0,
    resample: bool = True,
    nan_policy: str = "raise",
    dims: Any = None,
    keep_trials: bool = False,
    keep_model_trials: bool = False,
) -> Aligned:
    """Everything :func:`compare` does before scoring: average trials, match, align, flatten.

    Parameters
    ----------
    model, data, window, lag, resample, nan_policy, dims
        As :func:`compare`.
    keep_trials : bool
        Also keep the data's trial-level array (for cross-validation or bootstrap over trials);
        the data must then have a ``trial`` dim.
    keep_model_trials : bool
        Also keep the model's trial-level array (for trial-level metrics); the model must
        then have a ``trial`` dim.

    Notes
    -----
    Trials are averaged over the present trials of each condition: NaN padding marks
    missing trials of ragged data (see :mod:`neurosim.trajectories`).

    Returns
    -------
    Aligned

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> d = trajectories(np.ones((2, 10, 3)), conditions=["a", "b"], time=np.arange(10.0))
    >>> al = prepare(d.isel(condition=[1, 0]), d, window=(2, 5))
    >>> al.X.shape, al.model.condition.values.tolist()
    ((8, 3), ['a', 'b'])
    """
    dims, note = _assumed_dims(model, data, dims)
    keep_trials = check_flag(keep_trials, "keep_trials")
    model_da, m_plain = _as_trajectories(model, "model", dims)
    data_da, d_plain = _as_trajectories(data, "data", dims)
    if keep_trials and "trial" not in data_da.dims:
        raise ValueError("cv/bootstrap over 'trial' and trial-level metrics need data with a 'trial' dim; got "
                         f"dims {tuple(data_da.dims)}.")
    if keep_model_trials and "trial" not in model_da.dims:
        raise ValueError("a trial-level metric needs single trials of the model too: model must have a 'trial' "
                         f"dim (condition, time, unit, trial); got dims {tuple(model_da.dims)}.")
    data_trials = data_da if keep_trials else None
    model_trials = model_da if keep_model_trials else None
    if "trial" in model_da.dims:
        model_da = model_da.mean("trial", skipna=True)
    n_trials, ragged = None, False
    if "trial" in data_da.dims:
        counts = _trial_presence(np.asarray(data_da.values, dtype=float), data_da, "data").sum(axis=1)
        n_trials, ragged = int(counts.min()), bool(counts.min() != counts.max())
        data_da = data_da.mean("trial", skipna=True)
    am, ad, info = _align(model_da, data_da, m_plain, d_plain, window, lag, resample, nan_policy)
    if ragged:
        info["n_trials_range"] = (int(counts.min()), int(counts.max()))
    if note is not None:
        info["assumed_dims"] = note
    if data_trials is not None:
        # the trial-level data, restricted to what alignment kept (conditions, window, units)
        dt = data_trials.sel(condition=ad.indexes["condition"], unit=ad["unit"].values)
        data_trials = dt.sel(time=ad["time"].values).assign_coords(time=ad["time"])
    if model_trials is not None:
        # the model's trials through the same steps: labels from the data, matched, time-aligned
        if m_plain and not d_plain:
            model_trials = _set_condition_coords(model_trials, data_da).assign_coords(time=data_da["time"])
        mt = _match_conditions(model_trials, data_da).sel(condition=ad.indexes["condition"])
        mt = _align_time(mt, ad, None, lag, resample)[0]
        model_trials = mt.sel(unit=am["unit"].values)
    return Aligned(am, ad, flatten(am, name="model"), flatten(ad, name="data"), info, n_trials, data_trials,
                   model_trials, ragged)


def _settings(m: _Metric, al: Aligned, *, window, lag, resample, nan_policy, seed) -> dict[str, Any]:
    """The record of every setting that decides the number (goes into ``Score.settings``)."""
    settings: dict[str, Any] = {
        "metric": m.name,
        **{f"metric.{k}": v for k, v in m.options.items()},
        "direction": m.direction,
        "window": None if window is None else tuple(float(w) for w in window),
        "lag": float(lag),
        "resample": bool(resample),
        "time_units": _time_units(al.data),
        "n_conditions": al.n_conditions,
        "n_units_model": int(al.model.sizes["unit"]),
        "n_units_data": int(al.data.sizes["unit"]),
        "nan_policy": nan_policy,
        "seed": seed,
        **al.info,
    }
    if al.n_trials is not None:
        settings["n_trials_averaged"] = al.n_trials
    return settings


def _condition_blocks(al: Aligned, cross: bool = False) -> B.ConditionBlocks | None:
    """Per-condition blocks of the aligned pair, or None when they would not fit in memory."""
    try:
        return B.ConditionBlocks(al.X, al.Y, al.n_conditions, cross=cross)
    except ValueError:
        return None


def cross_validated_values(m: _Metric, al: Aligned, cv_spec: dict, *, progress: Any = False) -> tuple[np.ndarray, list]:
    """Held-out scores of ``m``'s fitted alignment, one per fold, and each fold's test labels.

    ``cv_spec`` is a parsed ``cv=`` argument of :func:`compare` (``dim``, ``folds``, ``shuffle``,
    ``seed``); the estimator is fitted on the training part and scores the held-out part.
    Folds over conditions of a shape metric use per-condition blocks (one pass over the
    samples, then one small SVD per fold); other folds refit on the sliced arrays.
    """
    am, ad = al.model, al.data
    dim = cv_spec["dim"]
    n = {"condition": ad.sizes["condition"], "time": ad.sizes["time"], "trial": al.n_trials or 0}[dim]
    splits = _splits(n, cv_spec)
    blocks = _condition_blocks(al) if dim == "condition" and m.fitted_fn is not None else None
    if blocks is not None:
        labels = condition_index(ad)
        values = np.empty(len(splits))
        with progress_bar(len(splits), progress, "cross-validation", "fold") as bar:
            for k, (train, test) in enumerate(splits):
                w_test = np.zeros(n)
                w_test[test] = 1.0
                tr = blocks.moments(weights=1.0 - w_test, full=m.fitted_full)
                te = blocks.moments(weights=w_test, center=(tr.mean_x, tr.mean_y), full=m.fitted_full)
                values[k] = m.fitted_fn(tr, te)
                bar.update()
        return values, [labels[test].tolist() for _, test in splits]
    values, tests = [], []
    bar = progress_bar(len(splits), progress, "cross-validation", "fold")
    for train, test in splits:
        if dim == "trial":
            Xtr = Xte = al.X
            Ytr = flatten(al.data_trials.isel(trial=train).mean("trial"))
            Yte = flatten(al.data_trials.isel(trial=test).mean("trial"))
            tests.append(test.tolist())
        else:
            Xtr, Xte = flatten(am.isel({dim: train})), flatten(am.isel({dim: test}))
            Ytr, Yte = flatten(ad.isel({dim: train})), flatten(ad.isel({dim: test}))
            labels = condition_index(ad)[test].tolist() if dim == "condition" else ad["time"].values[test].tolist()
            tests.append(labels)
        est = m.estimator()
        est.fit(Xtr, Ytr)
        values.append(check_metric_value(est.score(Xte, Yte), m.name))
        bar.update()
    bar.close()
    return np.asarray(values), tests


# metrics that take (conditions, time, units) arrays instead of flattened samples
_CONDITION_ARRAYS = ("trajectories", "conditions")


def metric_inputs(m: _Metric, al: Aligned) -> tuple[np.ndarray, np.ndarray]:
    """The arrays ``m`` takes, by its ``input`` kind.

    * ``"samples"``: flattened ``(conditions × time, units)`` trial averages (``al.X``, ``al.Y``);
    * ``"trajectories"`` / ``"conditions"``: ``(conditions, time, units)`` trial averages;
    * ``"trials"``: single trials ``(conditions × time, trials, units)`` — every ``(condition,
      time bin)`` pair is one "condition" of the trial-level metric (row ``c * T + t``, the
      row order of the flattened samples) and its trials are samples of the response
      distribution there. Model and data may have different trial counts, but each needs the
      same count in all its conditions (:func:`neurosim.trajectories.equalize_trials`).
    """
    if m.input in _CONDITION_ARRAYS:
        order = ("condition", "time", "unit")
        return al.model.transpose(*order).values, al.data.transpose(*order).values
    if m.input == TRIAL_INPUT:
        return trial_samples(al.model_trials, name="model"), trial_samples(al.data_trials, name="data")
    return al.X, al.Y


def resample_trials(trials: xr.DataArray, rng: np.random.Generator) -> xr.DataArray:
    """One bootstrap resample of trials *within* each condition (with replacement).

    Condition ``c`` with ``n_c`` present trials gets ``n_c`` draws from them, stored in its
    first ``n_c`` trial slots (the NaN padding of ragged data stays where it was), so each
    condition's resampled mean averages as many trials as the original.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> x = np.arange(6.0).reshape(2, 1, 1, 3)
    >>> x[1, ..., 2] = np.nan
    >>> r = resample_trials(trajectories(x, dims=("condition", "time", "unit", "trial")), np.random.default_rng(0))
    >>> bool(np.isin(r.values[0], [0, 1, 2]).all()), bool(np.isnan(r.values[1, ..., 2]).all())
    (True, True)
    """
    values = np.asarray(trials.transpose("condition", "time", "unit", "trial").values)
    present = ~np.isnan(values).all(axis=(1, 2))
    out = np.full_like(values, np.nan)
    for c in range(values.shape[0]):
        have = np.flatnonzero(present[c])
        out[c, ..., : have.size] = values[c][..., have[rng.integers(0, have.size, size=have.size)]]
    return trials.transpose("condition", "time", "unit", "trial").copy(data=out)


def _evaluate(fn: Callable[[Any], float], items: list, jobs: int, bar: Any) -> np.ndarray:
    """``[fn(item) for item in items]`` as an array, in ``jobs`` threads, advancing ``bar``."""
    out = np.empty(len(items))
    if not (isinstance(jobs, (int, np.integer)) and jobs >= 1):
        raise ValueError(f"jobs must be a positive int (threads evaluating replicates); got {jobs!r}.")
    if jobs == 1:
        for k, item in enumerate(items):
            out[k] = fn(item)
            bar.update()
        return out
    with ThreadPoolExecutor(int(jobs)) as pool:
        for k, value in enumerate(pool.map(fn, items)):
            out[k] = value
            bar.update()
    return out


def bootstrap_values(m: _Metric, al: Aligned, bs_spec: dict, rng: np.random.Generator, *,
                     progress: Any = False, jobs: int = 1) -> np.ndarray:
    """``bs_spec["n"]`` values of ``m`` on resamples (with replacement) of conditions or trials.

    Over conditions the same draw is applied to model and data; over trials each condition's
    data trials are resampled within that condition (:func:`resample_trials`) and averaged —
    or passed as trials to a trial-level metric — and the model is used whole. A metric with a
    sufficient-statistics fast path (``m.moments_fn``) resamples conditions as integer weights
    on per-condition blocks; the draws, and so the values, are those of the general path.
    """
    X, Y = al.X, al.Y
    trajectories_in = m.input in _CONDITION_ARRAYS
    trials_in = m.input == TRIAL_INPUT
    n = bs_spec["n"]
    reps = np.empty(n)
    with progress_bar(n, progress, "bootstrap", "resample") as bar:
        if bs_spec["dim"] == "condition":
            C = al.n_conditions
            if C < 2:
                raise ValueError("bootstrap over conditions needs at least 2 conditions.")
            blocks = (_condition_blocks(al) if m.moments_fn is not None and m.input == "samples" else None)
            if blocks is not None:
                full = getattr(m.moments_fn, "full", True)
                draws = [np.bincount(rng.integers(0, C, size=C), minlength=C) for _ in range(n)]
                return _evaluate(lambda w: m.moments_fn(blocks.moments(weights=w, full=full)), draws, jobs, bar)
            Xc = X.reshape(C, -1, X.shape[1])
            Yc = Y.reshape(C, -1, Y.shape[1])
            if trials_in:  # (condition × time, trial, unit) → (condition, time, trial, unit)
                Xs, Ys = metric_inputs(m, al)
                Xc, Yc = Xs.reshape((C, -1) + Xs.shape[1:]), Ys.reshape((C, -1) + Ys.shape[1:])
            for b in range(n):
                idx = rng.integers(0, C, size=C)
                if trials_in:
                    reps[b] = m.fn(Xc[idx].reshape((-1,) + Xc.shape[2:]), Yc[idx].reshape((-1,) + Yc.shape[2:]))
                elif trajectories_in:
                    reps[b] = m.fn(Xc[idx], Yc[idx])
                else:
                    reps[b] = m.fn(Xc[idx].reshape(-1, X.shape[1]), Yc[idx].reshape(-1, Y.shape[1]))
                bar.update()
        else:
            Xm = metric_inputs(m, al)[0]
            for b in range(n):
                resampled = resample_trials(al.data_trials, rng)
                if trials_in:
                    Yb = trial_samples(resampled, name="data")
                else:
                    mean = resampled.mean("trial", skipna=True)
                    Yb = mean.transpose("condition", "time", "unit").values if trajectories_in else flatten(mean)
                reps[b] = m.fn(Xm, Yb)
                bar.update()
    return reps


def permutation_values(m: _Metric, al: Aligned, n: int, rng: np.random.Generator, *,
                       progress: Any = False, jobs: int = 1) -> np.ndarray:
    """``n`` values of ``m`` with the model's conditions randomly re-paired with the data's.

    Draw ``k`` pairs data condition ``c`` with model condition ``π_k(c)``,
    ``π_k = rng.permutation(C)`` (time bins stay matched). With a fast path the ``C × C``
    cross-condition blocks are computed once and a draw costs one decomposition.
    """
    C = al.n_conditions
    if C < 2:
        raise ValueError("permutations need at least 2 conditions to shuffle.")
    fast = m.moments_fn is not None and m.input == "samples"
    blocks = _condition_blocks(al, cross=True) if fast else None
    Xc = al.X.reshape(C, -1, al.X.shape[1])
    perms = [rng.permutation(C) for _ in range(n)]
    with progress_bar(n, progress, "permutations", "perm") as bar:
        if blocks is not None:
            full = getattr(m.moments_fn, "full", True)
            return _evaluate(lambda perm: m.moments_fn(blocks.moments(pairing=perm, full=full)), perms, jobs, bar)
        if m.input in _CONDITION_ARRAYS:
            Yc = al.Y.reshape(C, -1, al.Y.shape[1])
            return _evaluate(lambda perm: m.fn(Xc[perm], Yc), perms, 1, bar)
        if m.input == TRIAL_INPUT:
            Xs, Ys = metric_inputs(m, al)
            Xt = Xs.reshape((C, -1) + Xs.shape[1:])
            return _evaluate(lambda perm: m.fn(Xt[perm].reshape(Xs.shape), Ys), perms, 1, bar)
        return _evaluate(lambda perm: m.fn(Xc[perm].reshape(-1, al.X.shape[1]), al.Y), perms, 1, bar)


def permutation_p_value(value: float, null: np.ndarray, direction: str | None) -> float:
    """``(1 + #{null at least as close as value}) / (N + 1)``: ``<=`` for distances, ``>=`` for similarities.

    Examples
    --------
    >>> permutation_p_value(0.1, np.array([0.5, 0.4, 0.05]), "distance")
    0.5
    >>> permutation_p_value(0.9, np.array([0.5, 0.4, 0.95]), "similarity")
    0.5
    """
    null = np.asarray(null, dtype=float)
    if direction == "distance":
        hits = int(np.sum(null <= value))
    elif direction == "similarity":
        hits = int(np.sum(null >= value))
    else:
        raise ValueError(
            f"a permutation p-value needs the metric's direction ('distance' or 'similarity'), got {direction!r}; "
            "give the callable a .direction attribute"
        )
    return (1 + hits) / (null.size + 1)


def resample_count(value: Any, name: str, what: str) -> int | None:
    """A number of resamples (``bootstrap=``, ``permutations=``): a positive int, or None / False for none."""
    if value is None or value is False:
        return None
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} must be a positive int ({what}) or None; got {value!r}.")
    return int(value)


def _parse_permutations(permutations: Any) -> int | None:
    return resample_count(permutations, "permutations", "number of shuffles")
