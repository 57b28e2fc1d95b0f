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
attributed to one factor (``SS_total - SS_residual - sum_j SS_j``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["variance_decomposition"]


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
