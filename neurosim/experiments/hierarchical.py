"""Is one learning rule closer to the data than another? Inference over networks *and* conditions.

A rule's effect on similarity is a property of the population of networks it trains, not of one
network: two seeds of the same rule differ, and a different set of recorded conditions would move
every distance. :func:`rule_difference` therefore resamples both levels (a two-level bootstrap):

1. **networks** — the initialisations (``pair_by`` columns, e.g. ``g0`` and ``seed``: runs that
   share them started from the same weights). When both rules were trained from the same
   initialisations the unit is the *pair*, ``Δ_i = d_a,i − d_b,i``, and pairs are resampled with
   replacement (paired design). Otherwise each rule's networks are resampled separately;
2. **conditions** — one shared condition draw per replicate: column ``b`` of ``replicates``
   holds every network's distance on condition draw ``b`` (the same draw for all networks,
   e.g. :func:`neurosim.compare_models`' ``.replicates``).

Replicate ``k`` adds the two levels: ``Δ*_k = mean_{i drawn} Δ_i + λ ē(b_k)``, the mean over
drawn pairs of the full-data differences (unpaired: mean of a's drawn networks − mean of b's)
plus the shared effect of one condition draw ``b_k``: ``ē(b) = mean_i (e_i(b))``, with
``e_i(b) = R_i(b) − mean_b R_i(b)`` network ``i``'s deviation on draw ``b`` (of the paired
difference when paired). Each network's deviation is a shared part ``s(b)`` plus a network ×
condition part; the latter is already in the spread of the networks' full-data values, so
counting it again would make the interval too wide. ``λ = sqrt(max(0, V − σ_u²/G) / V)`` keeps only
the shared part: ``V = var_b ē(b)``, and ``σ_u² = G/(G−1) · (mean_i var_b e_i(b) − V)`` is the
method-of-moments estimate of the network × condition variance (G networks). The interval is the expanded percentile interval with the networks as
units (:func:`neurosim.model_comparison.expanded_level`), the p-value the two-sided bootstrap
p-value and ``p_equivalence`` the two one-sided tests against ``±margin``
(:func:`neurosim.model_comparison.tost_p_value`).

The margin: by default 10 % of the gap between the condition-average baseline and the
split-half ceiling on the same window (columns ``condition_average`` and ``ceiling`` of the
results table) — the data's own scale for "a difference that matters". On the embedded M1
recordings (−800…+400 ms, normalized angular Procrustes) that is
0.1 × (0.4838 − 0.4024) ≈ 0.008. It is always returned with the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from neurosim.model_comparison import bootstrap_p_value, percentile_ci, tost_p_value

__all__ = ["rule_difference", "default_margin", "MARGIN_FRACTION"]

#: the default margin as a fraction of (condition-average baseline − split-half ceiling)
MARGIN_FRACTION = 0.1


def default_margin(condition_average: float, ceiling: float, fraction: float = MARGIN_FRACTION) -> float:
    """``fraction × (condition_average − ceiling)``: the equivalence margin on the data's own scale.

    >>> round(default_margin(0.4838, 0.4024), 5)
    0.00814
    """
    gap = float(condition_average) - float(ceiling)
    if not np.isfinite(gap) or gap <= 0:
        raise ValueError(f"the default margin needs condition_average > ceiling (got {condition_average} and "
                         f"{ceiling}); pass margin= explicitly")
    return float(fraction) * gap


def _margin(table: pd.DataFrame, margin) -> tuple[float, str]:
    if margin is not None:
        if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating)) \
                or not (np.isfinite(margin) and margin > 0):
            raise ValueError(f"margin must be a positive number in the distance's units (or None for the "
                             f"default); got {margin!r}")
        return float(margin), "given"
    if {"condition_average", "ceiling"} <= set(table.columns):
        ca = float(pd.to_numeric(table["condition_average"]).iloc[0])
        ce = float(pd.to_numeric(table["ceiling"]).iloc[0])
        return default_margin(ca, ce), f"{MARGIN_FRACTION:g} × (condition average {ca:.4f} − ceiling {ce:.4f})"
    raise ValueError("no margin: pass margin= (in the distance's units), or give the table the columns "
                     "'condition_average' and 'ceiling' (as results.csv has) for the default "
                     f"{MARGIN_FRACTION:g} × (condition average − ceiling)")


def rule_difference(
    table: pd.DataFrame,
    replicates: pd.DataFrame | None = None,
    *,
    rules: Sequence[str] = ("eprop", "bptt"),
    pair_by: Sequence[str] = ("g0", "seed"),
    cluster_by: Sequence[str] | None = None,
    value: str = "distance",
    margin: float | None = None,
    n_boot: int = 4000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict:
    """Difference between two rules' mean distance, with a two-level (networks, conditions) bootstrap.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per network (e.g. the rows of ``results.csv`` at one level and alignment that
        reached it): ``run``, ``rule``, ``value`` and the ``pair_by`` columns; optionally
        ``condition_average`` and ``ceiling`` (for the default margin).
    replicates : pandas.DataFrame, optional
        One column per run (named as ``table["run"]``), one row per condition draw shared by all
        networks (:attr:`neurosim.ModelComparison.replicates`). Without it only the networks
        are resampled (the conditions are then treated as fixed; ``n_conditions`` is NaN).
    rules : (a, b)
        The difference is ``a − b`` (default e-prop − BPTT).
    pair_by : sequence of str
        Columns that identify an initialisation; pairs share all of them (default ``g0``, ``seed``).
    cluster_by : sequence of str, optional
        Columns (a subset of ``pair_by``) that group pairs into independent units, e.g. the
        initialisation when each was trained on several batch orders (``pair_by`` = init and
        batch-order seeds, ``cluster_by`` = init): the network level then resamples whole clusters,
        so pairs that share an initialisation are not counted as independent. The point estimate
        is still the mean over pairs; ``n_units`` is the number of clusters.
    value : str
        Column with the distance (default ``"distance"``).
    margin : float, optional
        Equivalence margin δ in the distance's units; default ``0.1 × (condition_average −
        ceiling)`` from the table's columns (see the module notes).
    n_boot : int
        Two-level bootstrap replicates (default 4000).
    ci : float
        Interval level (default 0.95).
    seed : int
        Seed of the network and condition draws.

    Returns
    -------
    dict
        ``difference`` (mean of a − mean of b, or mean paired difference), ``ci_low``,
        ``ci_high``, ``p_value`` (two-sided, H0: difference = 0), ``p_equivalence`` (TOST,
        H0: |difference| >= margin), ``margin``, ``margin_source``, ``paired`` (bool),
        ``n_a``, ``n_b`` (networks), ``n_pairs``, ``n_units`` (resampled network units),
        ``n_conditions``, ``n_boot``, ``samples`` (the replicates ``Δ*``).

    Raises
    ------
    ValueError
        Missing columns, fewer than 2 networks of a rule (2 pairs when paired), replicates that
        do not cover the runs, or no margin available.

    Examples
    --------
    >>> t = pd.DataFrame({"run": list("abcdef"), "rule": ["eprop"] * 3 + ["bptt"] * 3,
    ...                   "g0": [1.0] * 6, "seed": [0, 1, 2] * 2,
    ...                   "distance": [0.52, 0.55, 0.50, 0.50, 0.52, 0.49]})
    >>> r = rule_difference(t, margin=0.05, n_boot=500)
    >>> round(r["difference"], 3), r["paired"], r["n_pairs"], r["ci_low"] <= r["difference"] <= r["ci_high"]
    (0.02, True, 3, True)
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (one row per network); got {type(table).__name__}")
    rules = list(rules)
    if len(rules) != 2 or rules[0] == rules[1]:
        raise ValueError(f"rules must name two different rules (a, b) for the difference a − b; got {rules}")
    pair_by = [pair_by] if isinstance(pair_by, str) else list(pair_by)
    need = ["rule", value, *pair_by] + (["run"] if replicates is not None else [])
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; it has {list(table.columns)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise ValueError(f"n_boot must be an int >= 10; got {n_boot!r}")
    t = table[table["rule"].isin(rules)].copy()
    t[value] = pd.to_numeric(t[value], errors="coerce")
    t = t[np.isfinite(t[value])]
    mar, source = _margin(table, margin)
    counts = t["rule"].value_counts()
    for r in rules:
        if counts.get(r, 0) < 2:
            raise ValueError(f"rule {r!r} has {counts.get(r, 0)} network(s) with a finite {value!r}; "
                             "a difference over networks needs at least 2 of each")
    if replicates is not None:
        if not isinstance(replicates, pd.DataFrame):
            raise TypeError(f"replicates must be a DataFrame (one column per run); got {type(replicates).__name__}")
        absent = sorted(set(t["run"]) - set(replicates.columns))
        if absent:
            raise ValueError(f"replicates has no column for run(s) {absent[:5]}; give one column per run of the table")
        if len(replicates) < 1:
            raise ValueError("replicates has no rows (condition draws)")
    # the network units: pairs sharing an initialisation, or each rule's networks
    key = t[pair_by].astype(str).agg("|".join, axis=1) if pair_by else pd.Series(np.arange(len(t)), index=t.index)
    t = t.assign(_init=key)
    a_rows, b_rows = t[t["rule"] == rules[0]], t[t["rule"] == rules[1]]
    common = sorted(set(a_rows["_init"]) & set(b_rows["_init"]))
    unique_a = a_rows["_init"].is_unique and b_rows["_init"].is_unique
    paired = bool(pair_by) and unique_a and len(common) >= 2
    rng = np.random.default_rng(seed)
    n_draws = 0 if replicates is None else len(replicates)
    cond = rng.integers(0, n_draws, size=n_boot) if n_draws else None

    def deviations(rows: pd.DataFrame) -> np.ndarray:   # (networks, condition draws): R − its mean per network
        if replicates is None:
            return np.zeros((len(rows), 1))
        R = replicates[list(rows["run"])].to_numpy(dtype=float).T
        return R - R.mean(axis=1, keepdims=True)

    def shared(E: np.ndarray) -> tuple[np.ndarray, float]:
        """Mean deviation over networks per draw, and the variance of its interaction part."""
        G = E.shape[0]
        ebar = E.mean(axis=0)
        if E.shape[1] < 2 or G < 2:
            return ebar, 0.0
        var_bar = float(ebar.var(ddof=1))
        var_each = float(E.var(axis=1, ddof=1).mean())
        sigma_u2 = max(var_each - var_bar, 0.0) * G / (G - 1)   # network × condition part
        return ebar, sigma_u2 / G

    if paired:
        a_rows = a_rows.set_index("_init").loc[common]
        b_rows = b_rows.set_index("_init").loc[common]
        diff = a_rows[value].to_numpy(float) - b_rows[value].to_numpy(float)
        point = float(diff.mean())
        ebar, interaction = shared(deviations(a_rows) - deviations(b_rows))
        G = len(common)
        clusters = None
        if cluster_by:
            cluster_by = [cluster_by] if isinstance(cluster_by, str) else list(cluster_by)
            missing = [c for c in cluster_by if c not in pair_by]
            if missing:
                raise ValueError(f"cluster_by {missing} must be among pair_by {pair_by} (a cluster groups pairs)")
            ckey = a_rows[cluster_by].astype(str).agg("|".join, axis=1).to_numpy()
            labels, clusters = np.unique(ckey, return_inverse=True)
            if len(labels) == G:
                clusters = None  # one pair per cluster: the same as resampling pairs
        if clusters is None:
            idx = rng.integers(0, G, size=(n_boot, G))
            networks = diff[idx].mean(axis=1)
            n_units = G
        else:
            C = int(clusters.max()) + 1
            if C < 2:
                raise ValueError(f"cluster_by {cluster_by} leaves {C} cluster; resampling needs at least 2")
            sums = np.bincount(clusters, weights=diff, minlength=C)
            counts = np.bincount(clusters, minlength=C).astype(float)
            idx = rng.integers(0, C, size=(n_boot, C))
            networks = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
            n_units = C
    else:
        da, db = a_rows[value].to_numpy(float), b_rows[value].to_numpy(float)
        point = float(da.mean() - db.mean())
        ea, ia2 = shared(deviations(a_rows))
        eb, ib2 = shared(deviations(b_rows))
        ebar, interaction = ea - eb, ia2 + ib2
        networks = (da[rng.integers(0, da.size, size=(n_boot, da.size))].mean(axis=1)
                    - db[rng.integers(0, db.size, size=(n_boot, db.size))].mean(axis=1))
        n_units = min(da.size, db.size)
    # the condition level: only the part of a condition draw's effect that all networks share; the
    # network × condition part is already in the networks' spread (it would be counted twice)
    conditions = np.zeros(n_boot)
    if cond is not None and ebar.size > 1:
        var_bar = float(ebar.var(ddof=1))
        shrink = np.sqrt(max(var_bar - interaction, 0.0) / var_bar) if var_bar > 0 else 0.0
        conditions = shrink * ebar[cond]
    samples = networks + conditions
    lo, hi = percentile_ci(samples, ci, n_units)
    n_cond = np.nan
    if "n_conditions" in table.columns:
        n_cond = int(pd.to_numeric(table["n_conditions"]).iloc[0])
    return {"difference": point, "ci_low": lo, "ci_high": hi,
            "p_value": bootstrap_p_value(samples, n_units),
            "p_equivalence": tost_p_value(samples, mar, n_units),
            "margin": mar, "margin_source": source, "paired": paired,
            "n_a": int(len(a_rows)), "n_b": int(len(b_rows)), "n_pairs": int(len(common)) if paired else 0,
            "n_units": int(n_units), "n_conditions": n_cond, "n_boot": int(n_boot), "ci": float(ci),
            "resampled": "networks and conditions" if replicates is not None else "networks only",
            "samples": samples}
