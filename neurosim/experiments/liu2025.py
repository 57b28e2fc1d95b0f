"""The main job: e-prop vs BPTT similarity to monkey M1 at matched accuracy.

Liu, Yang & Cueva (ICML 2025), measured with neurosim's public API only:

1. train leaky RNNs on :class:`~neurosim.rnn.tasks.CenterOutReach` (built from
   the Hatsopoulos 2007 kinematics) with BPTT, e-prop and random-feedback e-prop,
   several seeds and initial gains (:mod:`neurosim.experiments.sweep`);
2. at every checkpoint compare the noise-free activity with the M1 rates,
   ``neurosim.compare(run.activity(step), rates, metric="procrustes",
   normalize=True, window=window)``, against the condition-average baseline and
   the split-half ceiling (:mod:`neurosim.baselines`);
3. match accuracy (:func:`neurosim.matching.accuracy_matched`), decompose the
   variance of the matched distances into rule / gain / seed
   (:func:`~neurosim.experiments.decomposition.variance_decomposition`),
   compute model-model distances (:func:`neurosim.pairwise`) and dynamics
   (:mod:`neurosim.rnn.analysis.dynamics`) at matched accuracy;
4. write a results folder: ``results.csv`` / ``results.nc`` (one row per run and
   level), ``training.csv`` (every checkpoint), ``effects.csv``, ``dynamics.csv``,
   ``model_distances.nc``, ``config.json``, three PNG figures and ``report.md``.

Outputs are built in a staging folder inside ``out`` and moved into place with
``os.replace`` only when everything succeeded, so a crash or Ctrl-C never
destroys a previous complete result. Trained runs are cached in ``out/runs``
(one netCDF per run, written atomically) and reused by a re-run with the same
settings.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from neurosim._threads import blas_threads as limit_blas_threads
from neurosim.baselines import condition_average, normalized_distance, split_half_ceiling
from neurosim.compare import compare
from neurosim.datasets import load
from neurosim.experiments.decomposition import variance_decomposition
from neurosim.experiments.report import fmt, table_to_netcdf, write_csv
from neurosim.experiments.sweep import grid, sweep
from neurosim.io import save
from neurosim.matching import accuracy_matched, model_distances, run_table
from neurosim.plot import (
    order_rules,
    plot_distance_along_training,
    plot_matched_distances,
    plot_model_distances,
    save_figure,
)
from neurosim.rnn import default_checkpoints
from neurosim.rnn.analysis.dynamics import fit_linear_dynamics, participation_ratio, spectral_radius, spectrum_distance
from neurosim.rnn.tasks import CenterOutReach

__all__ = ["ReproduceConfig", "reproduce", "RESULT_COLUMNS"]

#: columns every ``results.csv`` has (more follow)
RESULT_COLUMNS = ("rule", "seed", "g0", "level", "step", "accuracy", "distance", "distance_normalized")

@dataclass(frozen=True)
class ReproduceConfig:
    """Settings of a reproduce run (see :meth:`default`, :meth:`full`, :meth:`tiny`).

    ``window`` is the data time range (ms, 0 = movement onset) compared; the
    evaluation trial cues the reach direction at -600 ms, so the default window
    starts there and runs to the end of the recording.
    """

    rules: tuple[str, ...] = ("bptt", "eprop", "eprop-random")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    g0s: tuple[float, ...] = (0.5, 1.5)
    n_rec: int = 50
    steps: int = 400
    lr: float = 1e-3
    batch_size: int = 32
    levels: tuple[float, ...] = (0.8, 0.9, 0.95)
    window: tuple[float, float] = (-600.0, 400.0)
    n_checkpoints: int = 31
    n_splits: int = 100
    bootstrap: int = 500  # condition resamples per matched distance (its ci_low / ci_high)
    dynamics_components: int = 8
    activity_l2: float = 0.0
    label: str = "default"
    extra: dict = field(default_factory=dict, compare=False)

    @classmethod
    def default(cls) -> "ReproduceConfig":
        """≤ 5 min on 2 cores: N=50, 400 Adam updates (lr 1e-3), 5 seeds, gains 0.5 and 1.5."""
        return cls()

    @classmethod
    def full(cls) -> "ReproduceConfig":
        """Paper scale: N=200, 1000 updates at the paper's lr 3e-4, 5 seeds, gains 0.5 and 1.5."""
        return cls(seeds=(0, 1, 2, 3, 4), n_rec=200, steps=1000, lr=3e-4, n_checkpoints=41, label="full")

    @classmethod
    def tiny(cls) -> "ReproduceConfig":
        """Seconds: a smoke test of the whole pipeline (levels low enough to be reached)."""
        return cls(seeds=(0, 1), g0s=(0.5, 1.0), n_rec=12, steps=30, lr=1e-2, batch_size=8,
                   levels=(0.0, 0.3), n_checkpoints=7, n_splits=10, bootstrap=20, dynamics_components=3, label="tiny")

    def checkpoint_steps(self) -> tuple[int, ...]:
        """Log-spaced early steps (fast early learning) plus an even grid (for matching)."""
        even = np.linspace(0, self.steps, self.n_checkpoints).round().astype(int)
        return tuple(int(s) for s in np.union1d(default_checkpoints(self.steps, 12), even))

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        return d


def training_curves(runs: dict, rates: xr.DataArray, window, ceiling: float, *, progress: bool = False) -> pd.DataFrame:
    """Distance to data at every checkpoint of every run (one row per run and step)."""
    meta = run_table(runs).set_index("run")
    rows = []
    total = sum(len(r.checkpoints) for r in runs.values())
    with tqdm(total=total, disable=not progress, desc="distance along training", unit="ckpt") as bar:
        for name, run in runs.items():
            for rec in run.checkpoints.itertuples(index=False):
                d = float(compare(run.activity(int(rec.step)), rates, metric="procrustes", normalize=True,
                                  window=window))
                rows.append({"run": name, "rule": meta.loc[name, "rule"], "seed": meta.loc[name, "seed"],
                             "g0": meta.loc[name, "g0"], "step": int(rec.step), "loss": float(rec.loss),
                             "accuracy": float(rec.accuracy), "distance": d,
                             "distance_normalized": normalized_distance(d, ceiling)})
                bar.update()
    return pd.DataFrame(rows)


def trend(training: pd.DataFrame) -> dict:
    """Does distance fall as accuracy rises? Spearman rho per run over checkpoints with accuracy >= 0."""
    rhos = {}
    for name, g in training.groupby("run", sort=False):
        g = g[g["accuracy"] >= 0]
        if len(g) >= 3 and g["accuracy"].nunique() > 1 and g["distance"].nunique() > 1:
            rhos[name] = float(spearmanr(g["accuracy"], g["distance"]).statistic)
    first = training.sort_values("step").groupby("run").head(1)
    last = training.sort_values("step").groupby("run").tail(1)
    return {
        "rho": rhos,
        "rho_median": float(np.median(list(rhos.values()))) if rhos else float("nan"),
        "fraction_negative": float(np.mean([r < 0 for r in rhos.values()])) if rhos else float("nan"),
        "distance_init_mean": float(first["distance"].mean()),
        "distance_init_sd": float(first["distance"].std(ddof=1)) if len(first) > 1 else float("nan"),
        "distance_final_mean": float(last["distance"].mean()),
        "accuracy_final_mean": float(last["accuracy"].mean()),
    }


def rule_vs_seed(matched: pd.DataFrame, reference: str = "bptt") -> pd.DataFrame:
    """Per level and rule: mean distance, its difference to ``reference`` paired by (g0, seed),
    and the seed-to-seed spread (pooled SD over seeds within each rule × g0 cell)."""
    rows = []
    ok = matched[matched["reached"]]
    for level, lv in ok.groupby("level"):
        cells = lv.groupby(["rule", "g0"])["distance"]
        sd = cells.std(ddof=1)
        n = cells.count()
        dof = (n - 1).clip(lower=0)
        pooled = float(np.sqrt(((sd.fillna(0) ** 2) * dof).sum() / dof.sum())) if dof.sum() > 0 else np.nan
        ref = lv[lv["rule"] == reference].set_index(["g0", "seed"])["distance"]
        for rule in order_rules(lv["rule"].unique()):
            mine = lv[lv["rule"] == rule].set_index(["g0", "seed"])["distance"]
            paired = (mine - ref).dropna()
            rows.append({
                "level": level, "rule": rule, "n": int(mine.size), "distance_mean": float(mine.mean()),
                "distance_sd": float(mine.std(ddof=1)) if mine.size > 1 else np.nan,
                f"diff_vs_{reference}_mean": float(paired.mean()) if paired.size else np.nan,
                f"diff_vs_{reference}_sd": float(paired.std(ddof=1)) if paired.size > 1 else np.nan,
                "n_pairs": int(paired.size), "seed_sd_pooled": pooled,
            })
    return pd.DataFrame(rows)


def effects(matched: pd.DataFrame, factors=("rule", "g0", "seed")) -> pd.DataFrame:
    """Variance decomposition of matched distances per level, plus rule / init ranges of means."""
    out = []
    ok = matched[matched["reached"]]
    for level, lv in ok.groupby("level"):
        use = [f for f in factors if lv[f].nunique() > 1]
        row = {"level": level, "n": len(lv)}
        for f in factors:
            means = lv.groupby(f)["distance"].mean()
            row[f"range_{f}"] = float(means.max() - means.min()) if len(means) > 1 else np.nan
        if use and len(lv) >= 3 and lv["distance"].var() > 0:
            dec = variance_decomposition(lv, "distance", use)
            for src in list(use) + ["shared", "residual"]:
                row[f"eta_sq_{src}"] = float(dec.loc[src, "eta_sq"])
                if src in use:
                    row[f"p_{src}"] = float(dec.loc[src, "p"])
        out.append(row)
    return pd.DataFrame(out)


def dynamics_table(runs: dict, matched: pd.DataFrame, window, n_components: int) -> tuple[pd.DataFrame, dict]:
    """Participation ratio, W_rec spectral radius and a linear-dynamics fit at each matched checkpoint."""
    rows, fits = [], {}
    for r in matched[matched["reached"]].itertuples(index=False):
        run = runs[r.run]
        act = run.activity(int(r.step)).sel(time=slice(*window))
        k = min(n_components, act.sizes["unit"])
        fit = fit_linear_dynamics(act.transpose("condition", "time", "unit").values, k)
        fits[(r.run, r.level)] = fit
        rows.append({"run": r.run, "rule": r.rule, "seed": r.seed, "g0": r.g0, "level": r.level, "step": int(r.step),
                     "participation_ratio": participation_ratio(act),
                     "spectral_radius_W_rec": spectral_radius(run.model(int(r.step))),
                     "lds_r2": fit.r2, "lds_max_abs_eig": float(np.abs(fit.eigenvalues[0]))})
    return pd.DataFrame(rows), fits


def _group_means(D: xr.DataArray, key: str) -> dict:
    """Mean off-diagonal distance within vs between groups of ``key``."""
    v = D.values
    labels = np.asarray(D[key].values)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    within = v[same & off]
    between = v[~same]
    return {"within": float(within.mean()) if within.size else np.nan,
            "between": float(between.mean()) if between.size else np.nan}


def dynamics_distances(fits: dict, level: float, matched: pd.DataFrame) -> xr.DataArray:
    """K×K spectral distance between the fitted linear dynamics ``A`` of runs at ``level``."""
    keys = [k for k in fits if k[1] == level]
    names = [k[0] for k in keys]
    K = len(keys)
    D = np.zeros((K, K))
    for i in range(K):
        for j in range(i + 1, K):
            D[i, j] = D[j, i] = spectrum_distance(fits[keys[i]].A, fits[keys[j]].A)
    meta = matched[(matched["level"] == level)].set_index("run")
    coords = {"network": names, "network_b": names}
    for col in ("rule", "g0"):
        vals = meta.loc[names, col].to_numpy()
        coords[col] = ("network", vals)
        coords[f"{col}_b"] = ("network_b", vals)
    return xr.DataArray(D, dims=("network", "network_b"), coords=coords, name="dynamics_distance")


# ---------------------------------------------------------------------------
# figures and report
# ---------------------------------------------------------------------------
def _figures(folder: Path, training, matched, eff, D, baselines, cfg) -> list[str]:
    """Draw the pipeline's figures into ``folder``; returns the file names written."""
    figures = {
        "distance_vs_accuracy.png": lambda: plot_distance_along_training(training, matched, baselines, cfg.levels),
        "rule_vs_init.png": lambda: plot_matched_distances(training, matched, eff, baselines, cfg.levels),
    }
    if D is not None:
        figures["model_distances.png"] = lambda: plot_model_distances(D, baselines)
    for name, draw in figures.items():
        save_figure(draw(), folder / name, dpi=120)
    return list(figures)


def _trend_verdict(tr: dict) -> str:
    change = tr["distance_final_mean"] - tr["distance_init_mean"]
    sd = tr["distance_init_sd"]
    frac = tr["fraction_negative"]
    direction = ("falls with accuracy in most runs" if frac > 0.5 else "rises with accuracy in most runs"
                 if frac < 0.5 else "falls in half of the runs and rises in the other half")
    if np.isfinite(sd) and abs(change) < sd:
        return (f"essentially flat — the mean change from untrained to trained ({change:+.3f}) is smaller than "
                f"the run-to-run SD at initialization ({sd:.3f}); by rank, distance {direction}.")
    if change < 0:
        return f"yes — distance falls by {-change:.3f} from untrained to trained (run-to-run SD {sd:.3f})."
    return f"no — distance rises by {change:.3f} from untrained to trained (run-to-run SD {sd:.3f})."


def _report(cfg, baselines, tr, training, matched, rv, eff, dyn, D, dyn_D, timings, files, reused=0) -> str:
    ok = matched[matched["reached"]]
    n_runs = matched["run"].nunique()
    lines = [f"# neurosim reproduce — e-prop vs BPTT similarity to M1 ({cfg.label} configuration)", ""]
    lines += [
        f"{n_runs} RNNs (N={cfg.n_rec}, rules {', '.join(cfg.rules)}; gains g0 = "
        f"{', '.join(f'{g:g}' for g in cfg.g0s)}; seeds {', '.join(map(str, cfg.seeds))}) trained for "
        f"{cfg.steps} Adam updates (lr {cfg.lr:g}, batch {cfg.batch_size}) on centre-out reaching with the "
        f"recorded Hatsopoulos 2007 kinematics. Distance = rotation-only Procrustes, angular, divided by π/2, "
        f"window {cfg.window[0]:g}…{cfg.window[1]:g} ms around movement onset, model vs 141 M1 units.",
        "",
        "## Baselines",
        f"- split-half ceiling (data vs itself, {cfg.n_splits} random halves): **{fmt(baselines['ceiling'])}** "
        f"(95% of draws in {fmt(baselines['ceiling_ci_low'])}–{fmt(baselines['ceiling_ci_high'])}, "
        f"SD {fmt(baselines['ceiling_sd'])})",
        f"- condition-average baseline: **{fmt(baselines['condition_average'])}**",
        "- `distance_normalized` = (d − ceiling) / (1 − ceiling): 0 = as close as the data is to itself.",
        "",
        "## 1. Does distance fall as accuracy rises?",
        f"- untrained networks (step 0): mean distance {fmt(tr['distance_init_mean'])}; after training: "
        f"{fmt(tr['distance_final_mean'])} (mean final accuracy {fmt(tr['accuracy_final_mean'])}).",
        f"- Spearman ρ(accuracy, distance) over checkpoints with accuracy ≥ 0, per run: median "
        f"**{fmt(tr['rho_median'], 2)}**; negative in {100 * tr['fraction_negative']:.0f}% of runs.",
        "- verdict: " + _trend_verdict(tr),
    ]
    bins = [-np.inf, 0.0, 0.5, 0.8, 0.9, 0.95, 1.0 + 1e-12]
    labels = ["< 0", "0–0.5", "0.5–0.8", "0.8–0.9", "0.9–0.95", "≥ 0.95"]
    binned = training.assign(acc_bin=pd.cut(training["accuracy"], bins, labels=labels, right=False))
    table = binned.groupby("acc_bin", observed=True)["distance"].agg(["mean", "std", "count"])
    lines += ["", "| accuracy (all checkpoints) | mean distance | SD | checkpoints |", "|---|---|---|---|"]
    lines += [f"| {b} | {fmt(r['mean'])} | {fmt(r['std'])} | {int(r['count'])} |" for b, r in table.iterrows()]
    lines.append("")
    lv_means = ok.groupby("level")["distance"].agg(["mean", "std", "count"])
    for lv, r in lv_means.iterrows():
        lines.append(f"- at accuracy {lv:g}: mean distance {fmt(r['mean'])} ± {fmt(r['std'])} (SD, {int(r['count'])} runs)")
    unreached = matched[~matched["reached"]]
    if len(unreached):
        lines.append(f"- not reached: " + ", ".join(f"{r.run} @ {r.level:g}" for r in unreached.itertuples()))
    else:
        lines.append("- every run reached every level.")
    ref = "bptt"
    lines += ["", "## 2. At matched accuracy: rule difference vs seed-to-seed spread", "",
              "| level | rule | runs | mean distance | SD over runs | diff vs BPTT (paired by g0, seed) | SD of diff | pooled seed SD |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rv.itertuples(index=False):
        d = getattr(r, f"diff_vs_{ref}_mean")
        s = getattr(r, f"diff_vs_{ref}_sd")
        lines.append(f"| {r.level:g} | {r.rule} | {r.n} | {fmt(r.distance_mean)} | {fmt(r.distance_sd)} | "
                     f"{fmt(d)} | {fmt(s)} | {fmt(r.seed_sd_pooled)} |")
    lines.append("")
    for lv, g in rv.groupby("level"):
        e = g[g["rule"] == "eprop"]
        if len(e) and np.isfinite(e[f"diff_vs_{ref}_mean"].iloc[0]):
            diff, sd = float(e[f"diff_vs_{ref}_mean"].iloc[0]), float(e["seed_sd_pooled"].iloc[0])
            ratio = abs(diff) / sd if sd > 0 else np.inf
            verdict = "smaller than" if ratio < 1 else "larger than"
            lines.append(f"- accuracy {lv:g}: e-prop − BPTT = {diff:+.3f}, {verdict} the seed-to-seed SD "
                         f"{sd:.3f} (|diff| / SD = {ratio:.2f}).")
    lines += ["", "## 3. Rule vs initialization, side by side", "",
              "η² = share of the variance in matched distance explained by each factor "
              "(Type II sums of squares, main-effects linear model; see docs/experiments.md). "
              "Range = max − min of the factor's level means.", "",
              "| level | runs | η² rule | η² g0 (init) | η² seed | η² residual | range rule | range g0 | p rule | p g0 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in eff.itertuples(index=False):
        g = lambda k: getattr(r, k, np.nan)  # noqa: E731
        lines.append(f"| {r.level:g} | {r.n} | {fmt(g('eta_sq_rule'))} | {fmt(g('eta_sq_g0'))} | "
                     f"{fmt(g('eta_sq_seed'))} | {fmt(g('eta_sq_residual'))} | {fmt(g('range_rule'))} | "
                     f"{fmt(g('range_g0'))} | {fmt(g('p_rule'), 3)} | {fmt(g('p_g0'), 3)} |")
    if len(eff):
        lines.append("")
        for r in eff.itertuples(index=False):
            er, eg = getattr(r, "eta_sq_rule", np.nan), getattr(r, "eta_sq_g0", np.nan)
            if np.isfinite(er) and np.isfinite(eg):
                bigger = "initial gain" if eg > er else "learning rule"
                lines.append(f"- accuracy {r.level:g}: the {bigger} explains more variance "
                             f"(η² g0 = {eg:.2f} vs η² rule = {er:.2f}).")
    if D is not None:
        gr, gg = _group_means(D, "rule"), _group_means(D, "g0")
        lines += ["", f"## 4. Model-model distances at accuracy {D.attrs['level']:g}",
                  f"- same rule {fmt(gr['within'])} vs different rules {fmt(gr['between'])}; "
                  f"same g0 {fmt(gg['within'])} vs different g0 {fmt(gg['between'])} "
                  f"(mean Procrustes distance over pairs; data ceiling {fmt(baselines['ceiling'])})."]
    if len(dyn):
        lines += ["", "## 5. Dynamics at matched accuracy",
                  f"(participation ratio of the activity in the window; spectral radius of W_rec; a linear "
                  f"system z_(t+1) = A z_t + b fitted in the top {cfg.dynamics_components} PCs)", "",
                  "| level | rule | g0 | participation ratio | spectral radius W_rec | LDS R² | max abs eig(A) |",
                  "|---|---|---|---|---|---|---|"]
        agg = dyn.groupby(["level", "rule", "g0"])[["participation_ratio", "spectral_radius_W_rec", "lds_r2",
                                                    "lds_max_abs_eig"]].mean()
        for (lv, rule, g0), r in agg.iterrows():
            lines.append(f"| {lv:g} | {rule} | {g0:g} | {r['participation_ratio']:.2f} | "
                         f"{r['spectral_radius_W_rec']:.2f} | {r['lds_r2']:.3f} | {r['lds_max_abs_eig']:.3f} |")
        if dyn_D is not None:
            dr, dg = _group_means(dyn_D, "rule"), _group_means(dyn_D, "g0")
            lines += ["", f"- linear-dynamics spectral distance at accuracy {dyn_D.attrs['level']:g}: same rule "
                      f"{fmt(dr['within'])} vs different rules {fmt(dr['between'])}; same g0 {fmt(dg['within'])} "
                      f"vs different g0 {fmt(dg['between'])}."]
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in files]
    lines += ["", "## Run time", ""] + [f"- {k}: {v:.1f} s" for k, v in timings.items()]
    if reused:
        lines.append(f"- {reused} of {n_runs} runs were loaded from `runs/` (trained by an earlier "
                     "invocation), so the training time above is mostly loading.")
    lines += ["", "Numbers are what this run measured; re-run with `neurosim reproduce` (default) or "
              "`neurosim reproduce --full` (paper scale)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------
def reproduce(
    out: str | os.PathLike = "results",
    data: str | os.PathLike | None = None,
    config: ReproduceConfig | None = None,
    *,
    client: Any = None,
    workers: int = 1,
    progress: bool = True,
    blas_threads: int | None = 1,
) -> dict:
    """Run the e-prop vs BPTT comparison and write the results folder.

    Parameters
    ----------
    out : folder
        Results folder (created). Previous complete results in it are replaced
        only when the new run has finished (staging folder + ``os.replace``).
        Trained runs are cached in ``out/runs`` and reused by a re-run.
    data : folder, optional
        Folder holding ``hatsopoulos2007_m1_center_out/`` (default: ``$NEUROSIM_DATA``,
        then the user cache; see ``neurosim datasets fetch``).
    config : ReproduceConfig, optional
        Default :meth:`ReproduceConfig.default` (≤ 5 min on 2 cores);
        :meth:`ReproduceConfig.full` is paper scale.
    client : dask.distributed.Client, optional
        Train the runs on this cluster.
    workers : int
        Without a client: ``> 1`` starts a local dask cluster of that many
        single-threaded worker processes for training (needs ``dask[distributed]``).
    progress : bool
        Progress bars.
    blas_threads : int or None
        BLAS threads for the analyses (default 1; None = leave BLAS alone).

    Returns
    -------
    dict
        ``folder`` (Path), ``files`` (names written), ``results`` (the matched table),
        ``training``, ``effects``, ``rule_vs_seed``, ``dynamics``, ``baselines``,
        ``trend``, ``timings``.
    """
    cfg = config or ReproduceConfig.default()
    folder = Path(out)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    ds = load("hatsopoulos2007", path=data)  # FileNotFoundError says how to fetch the data
    rates = ds["rates"]
    task = CenterOutReach.from_dataset(ds)
    folder.mkdir(parents=True, exist_ok=True)

    # 1. train ------------------------------------------------------------------
    t0 = time.perf_counter()
    specs = grid(cfg.rules, cfg.seeds, cfg.g0s, n_rec=cfg.n_rec, steps=cfg.steps, lr=cfg.lr,
                 batch_size=cfg.batch_size, checkpoints=cfg.checkpoint_steps(), activity_l2=cfg.activity_l2)
    own_cluster = None
    if client is None and workers > 1:
        from dask.distributed import Client, LocalCluster  # optional dependency

        own_cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=":0")
        client = Client(own_cluster)
    cache = folder / "runs"
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.nc")} if cache.is_dir() else {}
    try:
        runs = sweep(specs, task, out=cache, client=client, progress=progress)
    finally:
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    timings["training"] = time.perf_counter() - t0
    reused = sum(1 for s in specs if before.get(f"{s.name}.nc") is not None
                 and (cache / f"{s.name}.nc").stat().st_mtime_ns == before[f"{s.name}.nc"])

    # the analyses below multiply small matrices: one BLAS thread is fastest (and
    # avoids busy-waiting BLAS threads fighting over a loaded machine)
    with limit_blas_threads(blas_threads):
        return _analyse_and_write(cfg, folder, rates, runs, timings, t_all, progress, reused)


def _analyse_and_write(cfg, folder, rates, runs, timings, t_all, progress, reused=0) -> dict:
    # 2. baselines + distance along training --------------------------------------
    t0 = time.perf_counter()
    window = tuple(float(w) for w in cfg.window)
    ceiling = split_half_ceiling(rates, n_splits=cfg.n_splits, seed=0, window=window, normalize=True)
    cond = compare(condition_average(rates), rates, metric="procrustes", normalize=True, window=window)
    baselines = {"ceiling": float(ceiling), "ceiling_ci_low": float(ceiling.ci[0]),
                 "ceiling_ci_high": float(ceiling.ci[1]), "ceiling_sd": float(np.std(ceiling.values)),
                 "condition_average": float(cond)}
    training = training_curves(runs, rates, window, float(ceiling), progress=progress)
    timings["distances along training"] = time.perf_counter() - t0

    # 3. matched accuracy, effects, model-model distances, dynamics --------------------
    t0 = time.perf_counter()
    matched = accuracy_matched(runs, rates, metric="procrustes", levels=cfg.levels, window=window,
                               ceiling=ceiling, normalize=True, bootstrap=cfg.bootstrap, seed=0)
    front = ["run", "rule", "seed", "g0", "n_rec", "activation", "level", "reached", "step", "accuracy",
             "distance", "distance_normalized", "ceiling", "ci_low", "ci_high"]
    matched = matched[[c for c in front if c in matched.columns]]
    matched["condition_average"] = baselines["condition_average"]
    tr = trend(training)
    rv = rule_vs_seed(matched)
    eff = effects(matched)
    counts = matched[matched["reached"]].groupby("level")["run"].nunique()
    full_levels = [lv for lv in cfg.levels if counts.get(lv, 0) == len(runs)]
    some_levels = [lv for lv in cfg.levels if counts.get(lv, 0) >= 2]
    level_D = (full_levels or some_levels or [None])[-1]
    D = None
    if level_D is not None:
        D = model_distances(runs, level_D, metric="procrustes", window=window, normalize=True)
    dyn, fits = dynamics_table(runs, matched, window, cfg.dynamics_components)
    dyn_D = None
    if level_D is not None and len(dyn):
        dyn_D = dynamics_distances(fits, level_D, matched)
        dyn_D.attrs["level"] = float(level_D)
    timings["matching, effects, dynamics"] = time.perf_counter() - t0

    # 4. write everything into a staging folder, then move into place -----------------
    t0 = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        files = ["results.csv", "results.nc", "training.csv", "effects.csv", "rule_vs_seed.csv",
                 "dynamics.csv", "baselines.json", "config.json"]
        write_csv(matched, staging / "results.csv")
        table_to_netcdf(matched, staging / "results.nc",
                         {"description": "distance to Hatsopoulos 2007 M1 at matched accuracy",
                          "config": json.dumps(cfg.to_dict()), **{f"baseline_{k}": v for k, v in baselines.items()}})
        write_csv(training, staging / "training.csv")
        write_csv(eff, staging / "effects.csv")
        write_csv(rv, staging / "rule_vs_seed.csv")
        write_csv(dyn, staging / "dynamics.csv")
        (staging / "baselines.json").write_text(json.dumps(baselines, indent=2))
        (staging / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
        if D is not None:
            D2 = D.copy()
            D2.attrs["unreached"] = D2.attrs.get("unreached", "")
            save(D2, staging / "model_distances.nc")
            files.append("model_distances.nc")
        if dyn_D is not None:
            save(dyn_D, staging / "dynamics_distances.nc")
            files.append("dynamics_distances.nc")
        files += _figures(staging, training, matched, eff, D, baselines, cfg)
        timings["writing + figures"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        report = _report(cfg, baselines, tr, training, matched, rv, eff, dyn, D, dyn_D, timings, files + ["report.md"], reused)
        (staging / "report.md").write_text(report)
        files.append("report.md")
        # every file is complete in staging; move them in (report last)
        for name in files:
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"folder": folder, "files": files, "results": matched, "training": training, "effects": eff,
            "rule_vs_seed": rv, "dynamics": dyn, "runs_reused": reused, "baselines": baselines, "trend": tr, "timings": timings,
            "model_distances": D, "dynamics_distances": dyn_D}
