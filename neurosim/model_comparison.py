"""``compare_models(models, data, ...)`` — many models against one data set, with paired inference.

Which of several models is closer to the recordings, and is the gap between two of them larger
than the resampling noise of the conditions, or smaller than a margin that does not matter?
Every model is aligned to the data exactly as :func:`neurosim.compare` aligns one (conditions by
label, ``window``, ``lag``, flattening), and then:

* **paired bootstrap over conditions** — each replicate draws ``C`` conditions with replacement
  *once* and scores every model on that same draw, so the difference of two models' replicates
  is a replicate of their difference (the condition-to-condition noise that both share cancels);
  intervals are *expanded* percentile intervals (Hesterberg 2015; :func:`expanded_level`), which
  correct the plain percentile interval's small-sample narrowness (few conditions);
* **paired permutation test** — under "the two models are exchangeable", swapping the two
  models' activity for any set of conditions leaves the distribution unchanged; each shuffle
  swaps them on a random half of the conditions (a fair coin per condition) and recomputes both
  distances; the two-sided p-value is ``(1 + #{|null| >= |observed|}) / (N + 1)``;
* **equivalence (TOST)** when ``margin=δ`` is given — two one-sided bootstrap tests of
  ``H0: difference <= -δ`` and ``H0: difference >= +δ`` (:func:`tost_p_value`); it is below α
  exactly when the expanded interval of level ``1 − 2α`` lies inside ``(−δ, δ)``.

Metrics with a sufficient-statistics fast path (shape family, mean CCA, linear CKA;
:mod:`neurosim.metrics.blocks`) resample per-condition blocks instead of samples, for the
bootstrap and for the permutations (a shuffle is a 0/1 weighting of the two models' stacked
condition blocks). The resampling machinery is the same as :func:`neurosim.compare`'s.
See ``docs/compare.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from neurosim._progress import progress_bar
from neurosim._threads import blas_threads
from neurosim.compare import Aligned, metric_inputs, prepare, resample_count, resolve_metric
from neurosim.metrics import blocks as B

__all__ = ["ModelComparison", "compare_models", "percentile_ci", "expanded_level", "tost_p_value", "bootstrap_p_value",
           "two_sided_p_value"]


# --------------------------------------------------------------------------- small statistics
def _expansion(n: int | None) -> float:
    """``sqrt(n / (n − 1))``, the small-sample widening of the expanded percentile interval (1 for ``n=None``)."""
    return 1.0 if n is None else float(np.sqrt(n / (n - 1.0)))


def expanded_level(ci: float, n: int | None) -> float:
    """Lower quantile level ``α'/2`` of the expanded percentile interval (Hesterberg 2015).

    ``α'/2 = Φ(−sqrt(n / (n − 1)) · t_{n−1, 1−(1−ci)/2})``: the bootstrap percentile interval
    is too narrow in small samples (its spread misses the factor ``sqrt(n/(n−1))`` and the
    t-distribution's heavier tails); reading the replicates at ``α'/2`` and ``1 − α'/2`` instead
    of ``(1 − ci)/2`` corrects both to first order. ``n`` is the number of independent
    resampling units (conditions; networks); ``n=None`` gives the plain percentile level.

    >>> round(expanded_level(0.95, None), 4), round(expanded_level(0.95, 30), 4)
    (0.025, 0.0188)
    """
    a = (1.0 - ci) / 2.0
    if n is None:
        return a
    if n < 2:
        raise ValueError(f"an expanded percentile interval needs at least 2 resampling units; got n={n}")
    from scipy import stats  # imported where used: scipy.stats costs ~0.3 s of `import neurosim`

    return float(stats.norm.cdf(-_expansion(n) * stats.t.ppf(1.0 - a, n - 1)))


def _expanded_tail(f: float, n: int | None) -> float:
    """A one-sided bootstrap tail fraction ``f`` as the level at which the expanded bound reaches it."""
    if n is None:
        return float(f)
    from scipy import stats  # imported where used: scipy.stats costs ~0.3 s of `import neurosim`

    return float(stats.t.sf(-stats.norm.ppf(f) / _expansion(n), n - 1))


def percentile_ci(replicates: np.ndarray, ci: float = 0.95, n: int | None = None) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates, expanded for ``n`` resampling units.

    ``(q_{α'/2}, q_{1−α'/2})`` with ``α'/2`` from :func:`expanded_level` (``n=None``: the plain
    percentile interval, ``α'/2 = (1 − ci)/2``).

    >>> percentile_ci(np.arange(101.0), 0.9)
    (5.0, 95.0)
    """
    a = expanded_level(ci, n)
    lo, hi = np.quantile(np.asarray(replicates, dtype=float), [a, 1.0 - a])
    return float(lo), float(hi)


def tost_p_value(replicates: np.ndarray, margin: float, n: int | None = None) -> float:
    """Two one-sided tests of equivalence within ``±margin`` from bootstrap replicates of a difference.

    With the tail fractions ``f_− = (1 + #{Δ* <= −δ}) / (B + 1)`` and ``f_+ = (1 + #{Δ* >= δ}) / (B + 1)``,
    ``p = max(g(f_−), g(f_+))`` where ``g`` maps a tail fraction to the level at which the
    expanded percentile bound (:func:`expanded_level`, ``n`` units) reaches it
    (``g(f) = 1 − T_{n−1}(−Φ⁻¹(f) · sqrt((n − 1)/n))``; ``g(f) = f`` for ``n=None``). So
    ``p <= α`` exactly when the expanded interval of level ``1 − 2α`` lies inside ``(−δ, δ)``.
    Small = equivalent within the margin.

    >>> tost_p_value(np.linspace(-0.01, 0.01, 99), 0.05)
    0.01
    >>> tost_p_value(np.linspace(0.0, 0.1, 99), 0.05)
    0.51
    """
    d = np.asarray(replicates, dtype=float)
    m = float(margin)
    lower = (1 + int(np.sum(d <= -m))) / (d.size + 1)
    upper = (1 + int(np.sum(d >= m))) / (d.size + 1)
    return float(max(_expanded_tail(lower, n), _expanded_tail(upper, n)))


def bootstrap_p_value(replicates: np.ndarray, n: int | None = None) -> float:
    """Two-sided bootstrap p-value of "difference = 0": twice the smaller tail beyond 0 (capped at 1).

    Tails are ``(1 + #{Δ* <= 0}) / (B + 1)`` and ``(1 + #{Δ* >= 0}) / (B + 1)``, mapped like
    :func:`tost_p_value` for ``n`` units, so ``p <= 1 − ci`` exactly when the expanded interval
    excludes 0.

    >>> bootstrap_p_value(np.linspace(0.1, 1.0, 99))
    0.02
    """
    d = np.asarray(replicates, dtype=float)
    lower = (1 + int(np.sum(d <= 0))) / (d.size + 1)
    upper = (1 + int(np.sum(d >= 0))) / (d.size + 1)
    return float(min(1.0, 2 * min(_expanded_tail(lower, n), _expanded_tail(upper, n))))


def two_sided_p_value(observed: float, null: np.ndarray) -> float:
    """``(1 + #{|null| >= |observed|}) / (N + 1)`` (a relative tolerance of 1e-12 counts ties).

    >>> two_sided_p_value(0.3, np.array([0.1, -0.4, 0.2]))
    0.5
    """
    null = np.asarray(null, dtype=float)
    obs = abs(float(observed))
    hits = int(np.sum(np.abs(null) >= obs * (1 - 1e-12) - 1e-300))
    return (1 + hits) / (null.size + 1)


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False, eq=False)
class ModelComparison:
    """The result of :func:`compare_models`.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model: ``model``, ``distance`` (the metric on all conditions; a similarity
        for similarity metrics, see ``settings["direction"]``), ``ci_low``, ``ci_high`` (paired
        bootstrap expanded percentile interval, C conditions as the units; NaN without bootstrap).
    differences : pandas.DataFrame
        One row per ordered pair ``(model_a, model_b)``: ``difference`` = value of a − value of b,
        ``ci_low``, ``ci_high`` (expanded percentile interval of the paired bootstrap differences),
        ``p_value`` (paired permutation, two-sided; NaN without permutations), ``p_equivalence``
        (TOST against ``margin``; NaN without a margin or bootstrap), ``margin``.
    replicates : pandas.DataFrame
        Bootstrap replicates, one column per model, one row per condition draw (the same draw
        for every model).
    draws : numpy.ndarray (B, C) of int
        How often each condition enters each bootstrap draw.
    settings : dict
        Metric and options, window, lag, sizes, bootstrap / permutation counts, ci, seed.
    """

    scores: pd.DataFrame
    differences: pd.DataFrame
    replicates: pd.DataFrame
    draws: np.ndarray
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ModelComparison(models={self.scores['model'].tolist()}, metric={self.settings.get('metric')!r}, "
                f"bootstrap={self.settings.get('bootstrap')}, permutations={self.settings.get('permutations')})")


# --------------------------------------------------------------------------- the scoring engine
class _Scorer:
    """Scores one model (aligned to the data) on weighted resamples of the conditions."""

    def __init__(self, m, al: Aligned):
        self.m, self.al = m, al
        self.C = al.n_conditions
        self.blocks = None
        if m.moments_fn is not None and m.input != "trajectories":
            try:
                self.blocks = B.ConditionBlocks(al.X, al.Y, self.C)
            except ValueError:  # too large to hold: the general path
                self.blocks = None
        self.full = getattr(m.moments_fn, "full", True)
        X, Y = metric_inputs(m, al)
        if m.input != "trajectories":  # (conditions, time bins, units) for the general path
            X, Y = X.reshape(self.C, -1, X.shape[1]), Y.reshape(self.C, -1, Y.shape[1])
        self.Xc, self.Yc = X, Y

    def value(self) -> float:
        return float(self.m.fn(*metric_inputs(self.m, self.al)))

    def resample(self, counts: np.ndarray) -> float:
        if self.blocks is not None:
            return float(self.m.moments_fn(self.blocks.moments(weights=counts, full=self.full)))
        idx = np.repeat(np.arange(self.C), counts)
        X, Y = self.Xc[idx], self.Yc[idx]
        if self.m.input != "trajectories":
            X, Y = X.reshape(-1, X.shape[-1]), Y.reshape(-1, Y.shape[-1])
        return float(self.m.fn(X, Y))


def _swap_null(m, a: Aligned, b: Aligned, flips: np.ndarray) -> np.ndarray:
    """``value(a') − value(b')`` for each row of ``flips`` (C,) bool: a' takes b's conditions where True."""
    C = a.n_conditions
    Y = a.Y
    out = np.empty(len(flips))
    blocks = None
    if m.moments_fn is not None and m.input != "trajectories":
        try:  # the two models' conditions stacked (2C blocks) against two copies of the data
            blocks = B.ConditionBlocks(np.vstack([a.X, b.X]), np.vstack([Y, Y]), 2 * C)
        except ValueError:
            blocks = None
    if blocks is not None:
        full = getattr(m.moments_fn, "full", True)
        for k, s in enumerate(flips.astype(float)):
            va = m.moments_fn(blocks.moments(weights=np.concatenate([1 - s, s]), full=full))
            vb = m.moments_fn(blocks.moments(weights=np.concatenate([s, 1 - s]), full=full))
            out[k] = va - vb
        return out
    Xa, Xb = (metric_inputs(m, al)[0] for al in (a, b))
    Yin = metric_inputs(m, a)[1]
    if m.input != "trajectories":
        Xa, Xb = Xa.reshape(C, -1, Xa.shape[1]), Xb.reshape(C, -1, Xb.shape[1])
    for k, s in enumerate(flips):
        A = np.where(s[:, None, None], Xb, Xa)
        Bm = np.where(s[:, None, None], Xa, Xb)
        if m.input != "trajectories":
            A, Bm = A.reshape(-1, A.shape[-1]), Bm.reshape(-1, Bm.shape[-1])
        out[k] = m.fn(A, Yin) - m.fn(Bm, Yin)
    return out


def compare_models(
    models: Mapping[str, Any],
    data: Any,
    *,
    metric: Any = "procrustes",
    window: tuple[float, float] | None = None,
    lag: float = 0.0,
    bootstrap: int | None = 1000,
    permutations: int | None = 1000,
    margin: float | None = None,
    ci: float = 0.95,
    seed: int = 0,
    resample: bool = True,
    nan_policy: str = "raise",
    dims: Any = None,
    threads: int | None = 1,
    progress: Any = False,
    **metric_options: Any,
) -> ModelComparison:
    """Score several models against the same data with paired resampling of the conditions.

    Parameters
    ----------
    models : dict name -> activity
        Each activity as :func:`neurosim.compare` takes it (a ``(condition, time, unit)``
        DataArray, or an array with ``dims=``), with the data's condition labels. At least 1;
        pairwise differences need 2.
    data : DataArray (condition, time, unit[, trial]) or Dataset with ``rates``
        The recordings (trials are averaged).
    metric : str, callable or estimator
        As :func:`neurosim.compare` (default ``"procrustes"``: rotation-only Procrustes angle;
        with ``normalize=True`` divided by π/2 so it lies in [0, 1]; a distance).
    window, lag, resample, nan_policy, dims
        Time alignment and NaN handling, as :func:`neurosim.compare` (the same for every model).
    bootstrap : int or None
        Paired bootstrap draws (default 1000). **The resampling unit is the condition**: each draw
        takes ``C`` conditions with replacement (all their time bins), and every model is scored
        on the same draw. None: no intervals, no equivalence test.
    permutations : int or None
        Paired label swaps per pair of models (default 1000; a fair coin per condition decides
        whether the two models' activity for that condition is exchanged). Needs models with the
        same number of units. None: ``p_value`` is NaN.
    margin : float, optional
        Equivalence margin δ > 0 in the metric's units: ``p_equivalence`` tests
        ``|difference| < δ`` by two one-sided tests (TOST) on the paired bootstrap replicates.
        No default: a margin is a scientific choice (e.g. a fraction of the gap between a
        baseline and the data's own ceiling, :mod:`neurosim.baselines`); without it
        ``p_equivalence`` is NaN.
    ci : float
        Interval level (default 0.95).
    seed : int
        Seed of the bootstrap draws and of the swaps.
    threads : int or None
        BLAS threads (default 1; None = leave BLAS alone).
    progress : bool or tqdm options
        Progress bar over models and resamples.
    **metric_options
        Passed to the metric (e.g. ``normalize=True``).

    Returns
    -------
    ModelComparison
        ``.scores`` (``model, distance, ci_low, ci_high``), ``.differences`` (``model_a, model_b,
        difference, ci_low, ci_high, p_value, p_equivalence, margin``), ``.replicates``, ``.draws``,
        ``.settings``.

    Notes
    -----
    The difference of two models on bootstrap draw ``b`` is ``d_a(b) − d_b(b)``; its percentile
    interval is the interval of the difference. Because both are scored on the same conditions,
    the shared condition-to-condition variation cancels, and the interval is narrower than the
    two separate intervals suggest. The bootstrap describes the uncertainty due to *which
    conditions* were recorded; differences between trained networks of the same kind (seeds)
    are a second level (see :func:`neurosim.experiments.rule_difference`).

    Examples
    --------
    >>> import numpy as np
    >>> from neurosim.trajectories import trajectories
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(12, 5, 4))
    >>> make = lambda a: trajectories(a, conditions=range(12), time=np.arange(5.0))
    >>> res = compare_models({"close": make(Y + 0.1 * rng.normal(size=Y.shape)),
    ...                       "far": make(Y + 1.0 * rng.normal(size=Y.shape))}, make(Y),
    ...                      bootstrap=200, permutations=200, margin=0.05, normalize=True)
    >>> res.scores["model"].tolist(), bool(res.scores["distance"].iloc[0] < res.scores["distance"].iloc[1])
    (['close', 'far'], True)
    >>> row = res.differences.iloc[0]
    >>> row["model_a"], bool(row["ci_high"] < 0), bool(row["p_value"] < 0.05)
    ('close', True, True)
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict name -> activity (DataArray), e.g. "
                        "{'bptt': run_a.activity(step), 'eprop': run_b.activity(step)}; "
                        f"got {type(models).__name__}.")
    names = [str(k) for k in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique as strings; got {names}")
    n_boot = resample_count(bootstrap, "bootstrap", "number of resamples")
    n_perm = resample_count(permutations, "permutations", "number of shuffles")
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise ValueError(f"ci must be a number in (0, 1), e.g. 0.95; got {ci!r}.")
    if margin is not None:
        if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating)) \
                or not (np.isfinite(margin) and margin > 0):
            raise ValueError(f"margin must be a positive number in the metric's units (or None); got {margin!r}.")
        margin = float(margin)
    m = resolve_metric(metric, **metric_options)
    aligned = {n: prepare(models[k], data, window=window, lag=lag, resample=resample, nan_policy=nan_policy,
                          dims=dims) for n, k in zip(names, models)}
    C = next(iter(aligned.values())).n_conditions
    if C < 2 and (n_boot or n_perm):
        raise ValueError(f"resampling conditions needs at least 2 conditions; the data has {C}.")
    if n_perm is not None and len(names) > 1:
        units = {n: int(al.X.shape[1]) for n, al in aligned.items()}
        if len(set(units.values())) > 1:
            raise ValueError(f"permutations swap the models' activity condition by condition, so the models need "
                             f"the same number of units; got {units}. Pass permutations=None (intervals only), "
                             "or compare models of equal size.")
    rng = np.random.default_rng(seed)
    draws = np.zeros((0, C), dtype=int)
    if n_boot is not None:
        draws = np.stack([np.bincount(rng.integers(0, C, size=C), minlength=C) for _ in range(n_boot)])
    pairs = list(combinations(range(len(names)), 2))
    flips = rng.random((n_perm, C)) < 0.5 if n_perm is not None and pairs else None
    total = len(names) * (1 + len(draws)) + (len(pairs) * n_perm if flips is not None else 0)
    values, reps, nulls = {}, {}, {}
    with blas_threads(threads), progress_bar(total, progress, "compare_models", "resample") as bar:
        for n, al in aligned.items():
            sc = _Scorer(m, al)
            values[n] = sc.value()
            r = np.empty(len(draws))
            for b, counts in enumerate(draws):
                r[b] = sc.resample(counts)
            reps[n] = r
            bar.update(1 + len(draws))
        if flips is not None:
            for i, j in pairs:
                nulls[(i, j)] = _swap_null(m, aligned[names[i]], aligned[names[j]], flips)
                bar.update(n_perm)
    nan = float("nan")
    score_rows = []
    for n in names:
        lo, hi = percentile_ci(reps[n], ci, C) if n_boot else (nan, nan)
        score_rows.append({"model": n, "distance": values[n], "ci_low": lo, "ci_high": hi})
    diff_rows = []
    for i, j in pairs:
        for a, b, sign in ((i, j, 1.0), (j, i, -1.0)):
            na, nb = names[a], names[b]
            d = values[na] - values[nb]
            dr = reps[na] - reps[nb]
            lo, hi = percentile_ci(dr, ci, C) if n_boot else (nan, nan)
            p = two_sided_p_value(d, sign * nulls[(i, j)]) if flips is not None else nan
            p_eq = tost_p_value(dr, margin, C) if (margin is not None and n_boot) else nan
            diff_rows.append({"model_a": na, "model_b": nb, "difference": d, "ci_low": lo, "ci_high": hi,
                              "p_value": p, "p_equivalence": p_eq, "margin": nan if margin is None else margin})
    diff_cols = ["model_a", "model_b", "difference", "ci_low", "ci_high", "p_value", "p_equivalence", "margin"]
    settings = {"metric": m.name, **{f"metric.{k}": v for k, v in m.options.items()}, "direction": m.direction,
                "window": None if window is None else tuple(float(w) for w in window), "lag": float(lag),
                "n_conditions": C, "bootstrap": n_boot, "permutations": n_perm, "ci": float(ci), "seed": seed,
                "margin": margin, "resampling_unit": "condition",
                "fast_path": m.moments_fn is not None and m.input != "trajectories"}
    return ModelComparison(pd.DataFrame(score_rows, columns=["model", "distance", "ci_low", "ci_high"]),
                           pd.DataFrame(diff_rows, columns=diff_cols),
                           pd.DataFrame({n: reps[n] for n in names}), draws, settings)
