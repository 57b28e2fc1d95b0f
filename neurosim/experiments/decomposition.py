"""How much of the variance in distance-to-data is due to rule, initialization, architecture?

An ANOVA-style decomposition with a linear model on categorical factors
(main effects only, treatment/dummy coding), fitted by least squares with numpy.

For a response ``y`` (n,) and factors ``F_1 .. F_k`` the full model is

    y = mu + sum_j beta_{F_j}[level of F_j] + eps.

Type II sums of squares: ``SS_j = RSS(full without F_j) - RSS(full)``, the
variance explained by ``F_j`` over and above all other factors. ``SS_total =
sum (y - mean(y))^2`` and ``SS_residual = RSS(full)``. Effect sizes:
``eta2_j = SS_j / SS_total`` and ``partial_eta2_j = SS_j / (SS_j + SS_residual)``;
``F_j = (SS_j / df_j) / (SS_residual / df_residual)`` with its p-value from the
F distribution (scipy). In a balanced design (every combination of factor levels
equally often) the factors are orthogonal, ``SS_j`` equals the classical
``sum_levels n_l (mean_l - grand mean)^2`` and the parts add up to ``SS_total``;
in unbalanced designs a ``shared`` row carries the variance that cannot be
attributed to one factor (``SS_total - SS_residual - sum_j SS_j``). It can be negative (when
factors suppress each other's apparent effect), and only with it do the shares add up:
``eta2_1 + ... + eta2_k + eta2_shared + eta2_residual = 1``. A factor level present with one
rule only (:func:`confounded_levels`) makes that factor and the rule inseparable there.
:func:`eta_sq_intervals` gives bootstrap intervals over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["variance_decomposition", "eta_sq_intervals", "confounded_levels"]


def _design(table: pd.DataFrame, factors: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Intercept column + one block of dummy columns (first level dropped) per factor."""
    blocks = []
    for f in factors:
        codes, uniques = pd.factorize(table[f], sort=True)
        onehot = np.zeros((len(table), len(uniques)), dtype=float)
        onehot[np.arange(len(table)), codes] = 1.0
        blocks.append(onehot[:, 1:])
    return np.ones((len(table), 1)), blocks


def _rss(y: np.ndarray, X: np.ndarray) -> tuple[float, int]:
    coef, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return float(resid @ resid), int(rank)


def variance_decomposition(
    table: pd.DataFrame,
    response: str = "distance",
    factors: Sequence[str] = ("rule", "g0", "seed"),
) -> pd.DataFrame:
    """Split the variance of ``response`` into parts due to categorical factors.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy table, one row per observation (e.g. one run at one accuracy level).
    response : str
        Column with the quantity to explain (default ``"distance"``).
    factors : sequence of str
        Columns treated as categorical factors (e.g. ``"rule"``, ``"g0"``,
        ``"seed"``, ``"n_rec"``, ``"activation"``). Factors with a single level
        are kept in the output with zero sum of squares and ``df=0``.

    Returns
    -------
    pandas.DataFrame
        Indexed by source (each factor, ``"shared"``, ``"residual"``, ``"total"``)
        with columns ``df``, ``sum_sq``, ``eta_sq`` (``SS/SS_total``),
        ``partial_eta_sq`` (``SS/(SS+SS_residual)``), ``F`` and ``p``.
        Type II sums of squares from a main-effects linear model (see module notes).

    Raises
    ------
    ValueError
        Missing columns, non-finite responses, fewer than 3 rows, or a response
        with zero variance.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rule": ["a", "a", "b", "b"], "g0": [1, 2, 1, 2],
    ...                   "distance": [1.0, 2.0, 3.0, 4.0]})
    >>> d = variance_decomposition(t, factors=["rule", "g0"])
    >>> d.loc[["rule", "g0", "residual", "total"], "sum_sq"].round(6).tolist()
    [4.0, 1.0, 0.0, 5.0]
    >>> float(d.loc["rule", "eta_sq"])
    0.8
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    factors = [factors] if isinstance(factors, str) else list(factors)
    if not factors:
        raise ValueError("factors is empty: name at least one categorical column, e.g. ['rule', 'g0']")
    missing = [c for c in [response, *factors] if c not in table.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the table; it has {list(table.columns)}")
    if response in factors:
        raise ValueError(f"response {response!r} cannot also be a factor")
    data = table[[response, *factors]]
    if data[factors].isna().any().any():
        bad = [f for f in factors if data[f].isna().any()]
        raise ValueError(f"factor column(s) {bad} have missing values; drop those rows first")
    y = pd.to_numeric(data[response], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(
            f"response {response!r} has NaN/inf values (e.g. runs that never reached a level); "
            "drop those rows first, e.g. table.dropna(subset=[response])"
        )
    n = y.size
    if n < 3:
        raise ValueError(f"need at least 3 observations for a variance decomposition; got {n}")
    ss_total = float(((y - y.mean()) ** 2).sum())
    if ss_total <= 1e-300 or ss_total <= 1e-24 * float((y ** 2).sum()):
        raise ValueError(f"response {response!r} has zero variance: nothing to decompose")

    intercept, blocks = _design(data, factors)
    full = np.hstack([intercept, *blocks])
    rss_full, rank_full = _rss(y, full)
    df_resid = n - rank_full
    rows = {}
    for j, f in enumerate(factors):
        reduced = np.hstack([intercept, *(b for i, b in enumerate(blocks) if i != j)])
        rss_red, rank_red = _rss(y, reduced)
        df = rank_full - rank_red
        ss = max(rss_red - rss_full, 0.0) if df > 0 else 0.0
        if df > 0 and df_resid > 0 and rss_full > 1e-12 * ss_total:
            F = (ss / df) / (rss_full / df_resid)
            p = float(stats.f.sf(F, df, df_resid))
        else:
            F, p = np.nan, np.nan
        rows[f] = {"df": df, "sum_sq": ss, "F": F, "p": p}
    explained = ss_total - rss_full
    shared = explained - sum(r["sum_sq"] for r in rows.values())
    if abs(shared) < 1e-10 * ss_total:
        shared = 0.0
    rows["shared"] = {"df": np.nan, "sum_sq": shared, "F": np.nan, "p": np.nan}
    rows["residual"] = {"df": df_resid, "sum_sq": rss_full, "F": np.nan, "p": np.nan}
    rows["total"] = {"df": n - 1, "sum_sq": ss_total, "F": np.nan, "p": np.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "source"
    out["eta_sq"] = out["sum_sq"] / ss_total
    partial = out["sum_sq"] / (out["sum_sq"] + rss_full)
    partial[["shared", "residual", "total"]] = np.nan
    out["partial_eta_sq"] = partial
    return out[["df", "sum_sq", "eta_sq", "partial_eta_sq", "F", "p"]]


def confounded_levels(table: pd.DataFrame, factor: str, by: str = "rule") -> list[str]:
    """Levels of ``factor`` present with only one level of ``by`` (e.g. a gain only one rule reached).

    In such a design the factor and ``by`` are confounded at those levels: their effects cannot
    be separated there, which is what the ``shared`` sum of squares then carries.

    >>> t = pd.DataFrame({"rule": ["bptt", "bptt", "eprop"], "g0": [0.5, 1.0, 1.0]})
    >>> confounded_levels(t, "g0")
    ['g0=0.5 only with bptt']
    """
    if factor == by or factor not in table or by not in table or table[by].nunique() < 2:
        return []
    out = []
    for level, g in table.groupby(factor, sort=True):
        present = g[by].unique()
        if len(present) == 1:
            out.append(f"{factor}={level:g} only with {present[0]}" if isinstance(level, (int, float, np.number))
                       else f"{factor}={level} only with {present[0]}")
    return out


def eta_sq_intervals(
    table: pd.DataFrame,
    response: str = "distance",
    factors: Sequence[str] = ("rule", "g0", "seed"),
    *,
    unit: str = "seed",
    n_boot: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Bootstrap intervals of the η² shares of :func:`variance_decomposition` over ``unit`` (seeds).

    Each replicate draws the ``unit`` levels (e.g. seeds) with replacement and keeps all rows of
    each drawn level (a level drawn twice enters as two distinct levels, so the design keeps its
    shape), then recomputes the decomposition. Replicates that cannot be decomposed (a factor
    with one level left, zero variance) are skipped and counted.

    Returns
    -------
    pandas.DataFrame
        Indexed by source (factors, ``shared``, ``residual``) with ``eta_sq`` (all data),
        ``ci_low``, ``ci_high`` (percentile interval) and ``n_boot`` (replicates used).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.DataFrame([{"rule": r, "seed": s, "distance": (r == "b") + 0.1 * rng.normal()}
    ...                   for r in "ab" for s in range(6)])
    >>> iv = eta_sq_intervals(t, factors=["rule", "seed"], n_boot=50)
    >>> bool(iv.loc["rule", "ci_low"] > 0.8), list(iv.columns)
    (True, ['eta_sq', 'ci_low', 'ci_high', 'n_boot'])
    """
    if unit not in table.columns:
        raise ValueError(f"unit {unit!r} is not a column of the table; it has {list(table.columns)}")
    factors = [factors] if isinstance(factors, str) else list(factors)
    full = variance_decomposition(table, response, factors)
    sources = [*factors, "shared", "residual"]
    levels = table[unit].unique()
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(int(n_boot)):
        draw = rng.choice(levels, size=len(levels), replace=True)
        parts = [table[table[unit] == lv].assign(**{unit: f"{lv}#{k}"}) for k, lv in enumerate(draw)]
        boot = pd.concat(parts, ignore_index=True)
        use = [f for f in factors if boot[f].nunique() > 1]
        if not use:
            continue
        try:
            dec = variance_decomposition(boot, response, use)
        except ValueError:
            continue
        reps.append([float(dec.loc[s, "eta_sq"]) if s in dec.index else 0.0 for s in sources])
    reps = np.asarray(reps)
    a = (1 - ci) / 2
    rows = {}
    for i, s in enumerate(sources):
        lo, hi = (np.quantile(reps[:, i], [a, 1 - a]) if len(reps) else (np.nan, np.nan))
        rows[s] = {"eta_sq": float(full.loc[s, "eta_sq"]), "ci_low": float(lo), "ci_high": float(hi),
                   "n_boot": int(len(reps))}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "source"
    return out
