"""The main job's verdicts: one row per claim of Liu, Yang & Cueva (2025), with its statistic and interval.

Claims, each tested per clock alignment:

1. **distance falls with accuracy** — statistic: the mean over networks of the paired fall
   ``distance at initialisation − distance at the last checkpoint`` (positive = closer to M1 after
   training), 95 % interval by bootstrap over networks (expanded percentile). Holds when the
   interval lies above 0, does not hold when it lies below 0.
2. **e-prop ≈ BPTT at matched accuracy** — statistic: e-prop − BPTT at the highest level both
   rules reach with at least 2 networks, from :func:`neurosim.experiments.rule_difference`
   (networks and conditions resampled, paired by initialisation). Holds when the equivalence
   test against the margin passes (TOST ``p < 0.05``: the 90 % interval inside ``±margin``);
   does not hold when the 95 % interval lies entirely outside ``±margin``; else inconclusive.
3. **initialisation matters as much as or more than the rule** — statistic: η²(init) − η²(rule)
   of the matched distance (init = the gain ``g0`` when several were trained, else the
   initialisation seed, :func:`init_column`), 95 % interval by bootstrap over initialisations.
   Holds when the interval lies above 0, does not hold when below 0; inconclusive otherwise, and
   always when the design is confounded (a gain reached by one rule only).
4. **similar dynamics** — statistic: e-prop − BPTT in DSA to M1 (radians) with its interval over
   networks; compared with the data's own resolution, the SD of M1's split-half DSA
   (:func:`neurosim.experiments.similar_dynamics.scaled_verdict`).

The verdict is always one of ``holds``, ``does not hold``, ``inconclusive``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from neurosim.experiments.decomposition import confounded_levels, eta_sq_intervals, variance_decomposition
from neurosim.experiments.hierarchical import rule_difference
from neurosim.experiments.similar_dynamics import scaled_verdict
from neurosim.model_comparison import compare_models, percentile_ci

__all__ = ["matched_inference", "rule_differences", "effect_intervals", "claims_table", "claims_markdown",
           "pair_columns", "VERDICTS", "CLAIMS"]

VERDICTS = ("holds", "does not hold", "inconclusive")
CLAIMS = ("distance falls with accuracy", "e-prop ≈ BPTT at matched accuracy",
          "initialisation matters as much as or more than the rule", "similar dynamics at matched accuracy")


def init_column(table: pd.DataFrame) -> str:
    """The column that tells initialisations apart: ``"init_seed"`` when runs of one initialisation
    were trained on several batch orders (``init_seed`` differs from the batch-order ``seed``
    somewhere), else ``"seed"`` (one seed drew both).

    >>> init_column(pd.DataFrame({"seed": [0, 1], "init_seed": [0, 1]}))
    'seed'
    >>> init_column(pd.DataFrame({"seed": [0, 1], "init_seed": [0, 0]}))
    'init_seed'
    """
    if "init_seed" in table and "seed" in table and (table["init_seed"] != table["seed"]).any():
        return "init_seed"
    return "seed"


def cluster_columns(table: pd.DataFrame) -> list[str] | None:
    """The columns of an initialisation when several batch orders share one (the bootstrap then
    resamples initialisations with all their pairs), else None."""
    if init_column(table) != "init_seed":
        return None
    return [c for c in ("g0", "init_seed", "n_rec", "activation") if c in table.columns]


def pair_columns(table: pd.DataFrame) -> list[str]:
    """The columns that identify an initialisation (and data order) in a results table."""
    return [c for c in ("g0", "init_seed", "seed", "n_rec", "activation") if c in table.columns]


def matched_inference(runs: dict, matched: pd.DataFrame, rates, *, window, lag: float, bootstrap: int,
                      seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Paired condition-bootstrap intervals of every matched distance, and the replicates per level.

    For each level, every run that reached it is scored with :func:`neurosim.compare_models` on
    the same condition draws; ``ci_low``/``ci_high`` of ``matched`` are filled from its scores.
    Returns ``(matched, {level: replicates DataFrame (draw × run)})``.
    """
    matched = matched.copy()
    matched["ci_low"] = np.nan
    matched["ci_high"] = np.nan
    reps = {}
    ok = matched[matched["reached"].astype(bool)]
    for level, g in ok.groupby("level"):
        models = {r.run: runs[r.run].activity(int(r.step)) for r in g.itertuples(index=False)}
        res = compare_models(models, rates, metric="procrustes", normalize=True, window=window, lag=lag,
                             bootstrap=bootstrap, permutations=None, seed=seed)
        sc = res.scores.set_index("model")
        for col in ("ci_low", "ci_high"):
            matched.loc[g.index, col] = sc.loc[g["run"], col].to_numpy()
        reps[float(level)] = res.replicates
        matched.loc[g.index, "n_conditions"] = res.settings["n_conditions"]
    return matched, reps


def rule_differences(matched: pd.DataFrame, reps: dict, *, reference: str = "bptt", margin: float | None = None,
                     n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Every rule − ``reference`` at every level (one alignment), with :func:`rule_difference`.

    Adds the matched accuracies of both rules (mean and range), so a difference is read at the
    accuracies it was measured at. Levels where a rule has fewer than 2 networks are skipped.
    """
    rows = []
    ok = matched[matched["reached"].astype(bool)]
    for level, lv in ok.groupby("level"):
        for rule in lv["rule"].unique():
            if rule == reference:
                continue
            sub = lv[lv["rule"].isin([rule, reference])]
            try:
                r = rule_difference(sub, reps.get(float(level)), rules=(rule, reference), pair_by=pair_columns(sub),
                                    cluster_by=cluster_columns(sub), margin=margin, n_boot=n_boot, seed=seed)
            except ValueError:
                continue
            acc = sub.groupby("rule")["accuracy"]
            rows.append({"level": float(level), "rule": rule, "reference": reference,
                         **{k: v for k, v in r.items() if k != "samples"},
                         "accuracy_mean": float(acc.mean()[rule]), "accuracy_reference_mean": float(acc.mean()[reference]),
                         "accuracy_gap_max": float((sub["accuracy"] - sub["level"]).max())})
    return pd.DataFrame(rows)


def effect_intervals(matched: pd.DataFrame, factors=("rule", "g0", "seed"), *, n_boot: int = 200,
                     seed: int = 0, unit: str | None = None) -> pd.DataFrame:
    """Per level: η² of every source (factors, shared, residual; they add to 1) with bootstrap
    intervals over initialisations (``unit``; default :func:`init_column`), and the confounded factor
    levels (present with one rule only).

    >>> t = pd.DataFrame({"rule": ["bptt"] * 4 + ["eprop"] * 2, "g0": [0.5, 0.5, 1, 1, 1, 1],
    ...                   "seed": [0, 1, 0, 1, 0, 1], "level": 0.6, "reached": True,
    ...                   "distance": [0.50, 0.52, 0.44, 0.45, 0.47, 0.49]})
    >>> row = effect_intervals(t, n_boot=20).iloc[0]
    >>> row["confounded"], round(float(row["eta_sq_sum"]), 6), bool(row["eta_sq_shared"] < 0)
    ('g0=0.5 only with bptt', 1.0, True)
    """
    out = []
    ok = matched[matched["reached"].astype(bool)]
    for level, lv in ok.groupby("level"):
        use = [f for f in factors if lv[f].nunique() > 1]
        row = {"level": float(level), "n": int(len(lv))}
        by = unit or init_column(lv)  # the bootstrap unit: initialisations
        flags = [c for f in factors if f not in ("rule", "seed", "init_seed") for c in confounded_levels(lv, f)]
        row["confounded"] = "; ".join(flags)
        if use and len(lv) >= 3 and lv["distance"].var() > 0:
            try:
                dec = variance_decomposition(lv, "distance", use)
                iv = eta_sq_intervals(lv, "distance", use, unit=by, n_boot=n_boot, seed=seed) \
                    if by in lv and lv[by].nunique() > 1 else None
            except ValueError:
                dec, iv = None, None
            if dec is not None:
                for src in [*use, "shared", "residual"]:
                    row[f"eta_sq_{src}"] = float(dec.loc[src, "eta_sq"])
                    if iv is not None:
                        row[f"eta_sq_{src}_ci_low"] = float(iv.loc[src, "ci_low"])
                        row[f"eta_sq_{src}_ci_high"] = float(iv.loc[src, "ci_high"])
                row["eta_sq_sum"] = float(sum(row[f"eta_sq_{s}"] for s in [*use, "shared", "residual"]))
        out.append(row)
    return pd.DataFrame(out)


def _falls(training: pd.DataFrame) -> np.ndarray:
    g = training.sort_values("step").groupby("run")["distance"]
    return (g.first() - g.last()).to_numpy(dtype=float)


def _bootstrap_mean(x: np.ndarray, n_boot: int = 4000, seed: int = 0) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    return percentile_ci(x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1), 0.95, x.size)


def _eta_gap(matched: pd.DataFrame, level: float, init: str, n_boot: int = 200, seed: int = 0):
    """η²(init) − η²(rule) at one level, with a bootstrap interval over initialisation seeds."""
    lv = matched[matched["reached"].astype(bool) & (matched["level"] == level)]
    unit = init_column(lv)
    factors = [f for f in ("rule", "g0", unit) if f in lv and lv[f].nunique() > 1]
    if "rule" not in factors or init not in factors:
        return np.nan, (np.nan, np.nan)
    dec = variance_decomposition(lv, "distance", factors)
    point = float(dec.loc[init, "eta_sq"] - dec.loc["rule", "eta_sq"])
    seeds = lv[unit].unique()
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        draw = rng.choice(seeds, size=len(seeds), replace=True)
        boot = pd.concat([lv[lv[unit] == s].assign(**{unit: f"{s}#{k}"}) for k, s in enumerate(draw)],
                         ignore_index=True)
        use = [f for f in factors if boot[f].nunique() > 1]
        if "rule" not in use or init not in use:
            continue
        try:
            d = variance_decomposition(boot, "distance", use)
        except ValueError:
            continue
        reps.append(float(d.loc[init, "eta_sq"] - d.loc["rule", "eta_sq"]))
    ci = percentile_ci(np.asarray(reps), 0.95) if len(reps) >= 10 else (np.nan, np.nan)
    return point, ci


def _interval_verdict(lo: float, hi: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    return "holds" if lo > 0 else "does not hold" if hi < 0 else "inconclusive"


def claims_table(training: pd.DataFrame, matched: pd.DataFrame, differences: pd.DataFrame,
                 dynamics: pd.DataFrame | None = None, scale: dict | None = None, *,
                 dynamics_alignment: str | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per claim and alignment: ``alignment, claim, statistic, value, ci_low, ci_high,
    n_networks, n_conditions, criterion, verdict, note``.

    ``training``, ``matched`` and ``differences`` hold every alignment (column ``alignment``;
    ``differences`` from :func:`rule_differences`); ``dynamics`` is the per-network DSA table of
    :func:`neurosim.experiments.similar_dynamics.similar_dynamics` (``rule``, ``dsa_to_data``),
    computed on the clock ``dynamics_alignment``; ``scale`` is
    :func:`neurosim.experiments.similar_dynamics.data_scale` of M1.
    """
    rows = []
    n_cond = int(matched["n_conditions"].dropna().iloc[0]) if "n_conditions" in matched and \
        matched["n_conditions"].notna().any() else np.nan
    for label in dict.fromkeys(training["alignment"]):
        tr = training[training["alignment"] == label]
        mt = matched[matched["alignment"] == label]
        base = {"alignment": label, "n_conditions": n_cond}
        # 1. distance falls with accuracy
        falls = _falls(tr)
        lo, hi = _bootstrap_mean(falls, seed=seed)
        rows.append({**base, "claim": CLAIMS[0], "statistic": "mean fall of distance, initialisation → last checkpoint",
                     "value": float(np.mean(falls)), "ci_low": lo, "ci_high": hi, "n_networks": int(falls.size),
                     "criterion": "95 % CI above 0 holds; below 0 does not hold", "verdict": _interval_verdict(lo, hi),
                     "note": ""})
        # 2. e-prop ≈ BPTT
        d = differences[(differences["alignment"] == label) & (differences["rule"] == "eprop")] \
            if len(differences) else differences
        if len(d):
            r = d.sort_values("level").iloc[-1]
            if r["p_equivalence"] < 0.05:
                v = "holds"
            elif r["ci_low"] > r["margin"] or r["ci_high"] < -r["margin"]:
                v = "does not hold"
            else:
                v = "inconclusive"
            rows.append({**base, "claim": CLAIMS[1],
                         "statistic": f"e-prop − BPTT distance at accuracy {r['level']:g} (matched accuracy "
                                      f"{r['accuracy_mean']:.3f} vs {r['accuracy_reference_mean']:.3f})",
                         "value": float(r["difference"]), "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
                         "n_networks": int(r["n_a"] + r["n_b"]),
                         "criterion": f"TOST p < 0.05 against ±{r['margin']:.4f} holds (p = {r['p_equivalence']:.3f}); "
                                      "95 % CI outside the margin does not hold",
                         "verdict": v, "note": ("paired by initialisation" if r["paired"] else "unpaired")
                         + f"; margin = {r['margin_source']}"})
        else:
            rows.append({**base, "claim": CLAIMS[1], "statistic": "e-prop − BPTT at matched accuracy", "value": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "n_networks": 0, "criterion": "",
                         "verdict": "inconclusive", "note": "no level reached by ≥ 2 networks of both rules"})
        # 3. initialisation vs rule
        ok = mt[mt["reached"].astype(bool)]
        init = "g0" if ok["g0"].nunique() > 1 else init_column(ok)
        levels = [lv for lv, g in ok.groupby("level") if g["rule"].nunique() > 1 and g[init].nunique() > 1]
        if levels:
            level = max(levels)
            point, (lo, hi) = _eta_gap(mt, level, init, seed=seed)
            lv = ok[ok["level"] == level]
            flags = confounded_levels(lv, "g0") if init == "g0" else []
            v = "inconclusive" if flags else _interval_verdict(lo, hi)
            rows.append({**base, "claim": CLAIMS[2], "statistic": f"η²({init}) − η²(rule) at accuracy {level:g}",
                         "value": point, "ci_low": lo, "ci_high": hi, "n_networks": int(len(lv)),
                         "criterion": "95 % CI (bootstrap over initialisations) above 0 holds; below 0 does not hold",
                         "verdict": v, "note": ("confounded: " + "; ".join(flags)) if flags else ""})
        else:
            rows.append({**base, "claim": CLAIMS[2], "statistic": "η²(init) − η²(rule)", "value": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "n_networks": 0, "criterion": "", "verdict": "inconclusive",
                         "note": "no level with both rules and several initialisations"})
        # 4. similar dynamics
        if dynamics is not None and len(dynamics) and scale is not None and label == dynamics_alignment:
            t = dynamics.assign(g0=dynamics.get("g0", 1.0))
            try:
                r = rule_difference(t, None, rules=("eprop", "bptt"), pair_by=pair_columns(t),
                                    cluster_by=cluster_columns(t), value="dsa_to_data",
                                    margin=max(float(scale["floor_sd"]), 1e-12), seed=seed)
                v, why = scaled_verdict(r["difference"], (r["ci_low"], r["ci_high"]), scale)
                rows.append({**base, "claim": CLAIMS[3], "statistic": "e-prop − BPTT DSA to M1 (rad)",
                             "value": r["difference"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                             "n_networks": int(r["n_a"] + r["n_b"]),
                             "criterion": f"95 % CI inside ±{scale['floor_sd']:.4f} rad (SD of M1's split-half DSA, "
                                          f"floor {scale['floor']:.4f}, time-shuffled null {scale['null']:.3f}) holds",
                             "verdict": v, "note": why})
                continue
            except ValueError as err:
                note = str(err)
        else:
            note = (f"DSA computed on the {dynamics_alignment} clock only" if dynamics_alignment
                    else "no level where both rules can be compared")
        rows.append({**base, "claim": CLAIMS[3], "statistic": "e-prop − BPTT DSA to M1 (rad)", "value": np.nan,
                     "ci_low": np.nan, "ci_high": np.nan, "n_networks": 0, "criterion": "", "verdict": "inconclusive",
                     "note": note})
    cols = ["alignment", "claim", "statistic", "value", "ci_low", "ci_high", "n_networks", "n_conditions", "criterion",
            "verdict", "note"]
    return pd.DataFrame(rows, columns=cols)


def claims_markdown(claims: pd.DataFrame) -> list[str]:
    """The claims table as markdown lines (for the top of report.md).

    >>> c = pd.DataFrame([{"alignment": "onset", "claim": CLAIMS[0], "statistic": "mean fall", "value": 0.06,
    ...                    "ci_low": 0.03, "ci_high": 0.1, "n_networks": 18, "n_conditions": 8,
    ...                    "criterion": "CI > 0", "verdict": "holds", "note": ""}])
    >>> claims_markdown(c)[-1]
    '| distance falls with accuracy | onset | mean fall | +0.0600 | +0.0300 … +0.1000 | 18, 8 | CI > 0 | **holds** |'
    """
    lines = ["| claim | alignment | statistic | value | 95 % CI | n (networks, conditions) | criterion | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in claims.itertuples(index=False):
        ci = f"{r.ci_low:+.4f} … {r.ci_high:+.4f}" if np.isfinite(r.ci_low) else "n/a"
        val = f"{r.value:+.4f}" if np.isfinite(r.value) else "n/a"
        nc = "n/a" if not np.isfinite(r.n_conditions) else int(r.n_conditions)
        note = f" ({r.note})" if r.note else ""
        lines.append(f"| {r.claim} | {r.alignment} | {r.statistic} | {val} | {ci} | {r.n_networks}, {nc} | "
                     f"{r.criterion} | **{r.verdict}**{note} |")
    return lines
